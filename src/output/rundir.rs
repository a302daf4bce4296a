//! All-or-nothing output folders.
//!
//! A run writes every file into a temporary sibling folder `.NAME.tmp-PID`, writes
//! `manifest.json` (the run and every file, with its size) last, and only then puts the folder
//! in place of `NAME`: a folder under the final name always holds one complete run, never files
//! of two runs, never tables without their summary. After a kill, `NAME` holds the previous
//! complete run (or nothing, if it never had one) and the partial files are in the temporary
//! folder, which the next run into the same parent folder removes. An existing `NAME` is
//! replaced only if it is empty or an output folder of the same edgesim command (it has a
//! `manifest.json` that edgesim wrote) holding nothing its manifest does not name, so `--out`
//! never deletes a folder or a file of the user's.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// The manifest's name in every output folder.
pub const MANIFEST: &str = "manifest.json";

/// Marks a manifest written by edgesim.
const TOOL: &str = "edgesim";

/// One file of a run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FileEntry {
    /// File name in the folder.
    pub name: String,
    /// Size \[bytes\].
    pub bytes: u64,
}

/// `manifest.json`: what made the folder and what it holds. No clock time: the same run
/// gives the same bytes.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Manifest {
    /// Always `edgesim`.
    pub tool: String,
    /// edgesim's version.
    pub version: String,
    /// The command (`run`, `compare`, `fidelity`).
    pub command: String,
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Every other file of the folder, by name.
    pub files: Vec<FileEntry>,
}

/// An output folder being written.
#[derive(Debug)]
pub struct RunDir {
    target: PathBuf,
    tmp: PathBuf,
    command: &'static str,
    done: bool,
    /// Files left in the temporary folder when it is dropped uncommitted (an error), for a
    /// later command to read as it reads a killed one's ([`RunDir::keep_on_error`]).
    keep: &'static [&'static str],
}

/// Whether process `pid` is alive (Linux: `/proc/PID`; elsewhere every process is assumed
/// alive, and nothing is removed).
fn alive(pid: u32) -> bool {
    let proc_dir = Path::new("/proc");
    !proc_dir.is_dir() || proc_dir.join(pid.to_string()).exists()
}

/// The leftovers of killed writers of `name` in `dir` whose process is gone: entries
/// `.NAME.KIND-PID` for each of `kinds` (`.tmp-`, `.old-`), in name order.
fn stale(dir: &Path, name: &str, kinds: &[&str]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let file = e.file_name();
            let file = file.to_string_lossy();
            kinds.iter().any(|kind| {
                file.strip_prefix(&format!(".{name}{kind}"))
                    .is_some_and(|pid| {
                        pid.parse::<u32>()
                            .is_ok_and(|p| p != std::process::id() && !alive(p))
                    })
            })
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Removes the leftovers of killed runs in `dir`: entries `.NAME.tmp-PID` and `.NAME.old-PID`
/// whose process is gone.
pub fn clean_stale(dir: &Path, name: &str) {
    for p in stale(dir, name, &[".tmp-", ".old-"]) {
        let _ = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
    }
}

/// The temporary folders of killed commands that were writing the output folder `target`
/// (`.NAME.tmp-PID` beside it, their process gone), which [`RunDir::begin`] removes: what they
/// hold is read first by a command that resumes from it (`edgesim capacity`).
pub fn killed_temporaries(target: &Path) -> Vec<PathBuf> {
    let Some(name) = target.file_name() else {
        return Vec::new();
    };
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    stale(parent, &name.to_string_lossy(), &[".tmp-"])
        .into_iter()
        .filter(|p| p.is_dir())
        .collect()
}

/// An edgesim output folder found on disk.
struct Found {
    /// The command that wrote it (`run`, `compare`, `fidelity`).
    command: String,
    /// The files its manifest names, the manifest included (`None`: a folder from before
    /// manifests, whose files are not listed).
    files: Option<Vec<String>>,
}

/// The edgesim output folder `dir`: its manifest's `command` and files, or for an output
/// folder of an edgesim from before manifests (it holds `scenario.resolved.toml`, which only
/// edgesim writes), `fidelity` beside `fidelity.json` and `run` beside `summary.json`. `None`:
/// not an edgesim output folder.
fn found(dir: &Path) -> Option<Found> {
    let manifest = crate::check::read_text(&dir.join(MANIFEST), "manifest", 1 << 20)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .filter(|v| v["tool"] == TOOL);
    if let Some(m) = manifest {
        let mut files: Vec<String> = m["files"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        files.push(MANIFEST.into());
        return Some(Found {
            command: m["command"].as_str().unwrap_or("run").to_string(),
            files: Some(files),
        });
    }
    if !dir.join("scenario.resolved.toml").is_file() {
        return None;
    }
    let command = if dir.join("fidelity.json").is_file() {
        "fidelity"
    } else if dir.join("summary.json").is_file() {
        "run"
    } else {
        return None;
    };
    Some(Found {
        command: command.into(),
        files: None,
    })
}

/// The names in an existing output folder `dir` (`None`: it does not exist yet); a file there
/// is refused (`flag` names the option).
fn folder_entries(dir: &Path, flag: &str) -> Result<Option<Vec<String>>> {
    if !dir.exists() {
        // Made when the command writes, which may be long after it starts (a fidelity
        // check serves its requests first): a file in the way is refused now.
        crate::report::check_creatable(dir)?;
        return Ok(None);
    }
    if !dir.is_dir() {
        return Err(Error::Output {
            path: dir.into(),
            problem: format!("{flag}: is a file, not a folder; give a folder for the outputs"),
        });
    }
    let names = std::fs::read_dir(dir)
        .map_err(Error::io(dir, "cannot read"))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    Ok(Some(names))
}

/// The kinds of edgesim output folder that a later command writes into again: a sweep's and
/// a plan's (resumed from their journal `runs.jsonl`, merged from shards).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `edgesim sweep` and `sweep merge`.
    Sweep,
    /// `edgesim plan` and `plan merge`.
    Plan,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Sweep => "sweep",
            Kind::Plan => "plan",
        }
    }

    /// Whether `dir` holds this kind's outputs: a journal led by its header (`{"sweep": ..}`
    /// or `{"plan": ..}`), or the file a merge writes without a journal (a sweep's
    /// `plan.json`, a plan's `answer.json`).
    fn holds(self, dir: &Path) -> bool {
        let first_line_key = || {
            use std::io::{BufRead as _, Read as _};
            let file = std::fs::File::open(dir.join("runs.jsonl")).ok()?;
            let mut line = String::new();
            // A header is a short line: read no more of a large journal.
            std::io::BufReader::new(file.take(1 << 16))
                .read_line(&mut line)
                .ok()?;
            let v: serde_json::Value = serde_json::from_str(&line).ok()?;
            v.as_object()?.contains_key(self.name()).then_some(())
        };
        let merged = match self {
            Kind::Sweep => "plan.json",
            Kind::Plan => "answer.json",
        };
        first_line_key().is_some() || dir.join(merged).is_file()
    }
}

/// Checks the output folder of a sweep or a plan before anything is written to it (`flag`
/// names the option in errors): it may be new, empty, or this kind's own output folder,
/// which is resumed or rewritten. A folder of the user's, a run's output folder or the other
/// kind's is refused: the tables written there would replace files of the same name, and the
/// other kind's journal (hours of runs) would be lost.
pub fn check_reusable(dir: &Path, kind: Kind, flag: &str) -> Result<()> {
    let bad = |problem: String| Error::Output {
        path: dir.into(),
        problem: format!("{flag}: {problem}"),
    };
    // Temporaries of killed writers (`.NAME.tmp-PID`) do not count: they are removed.
    let Some(names) = folder_entries(dir, flag)? else {
        return Ok(());
    };
    if names
        .iter()
        .all(|n| n == LOCK || (n.starts_with('.') && n.contains(".tmp-")))
    {
        return Ok(());
    }
    let other = match kind {
        Kind::Sweep => Kind::Plan,
        Kind::Plan => Kind::Sweep,
    };
    let name = kind.name();
    let found = if other.holds(dir) {
        Some(format!("a {}'s outputs", other.name()))
    } else {
        found(dir).map(|f| format!("a {}'s outputs", f.command))
    };
    match found {
        Some(what) => Err(bad(format!(
            "holds {what}, not a {name}'s: use another folder for the {name}"
        ))),
        None if kind.holds(dir) => Ok(()),
        None => Err(bad(format!(
            "exists and is not an edgesim {name} output folder (it has no {name} journal \
             runs.jsonl or merged results); edgesim writes only into its own output folders: \
             choose another folder or remove this one"
        ))),
    }
}

/// The lock file of a sweep's or a plan's output folder ([`lock_folder`]).
pub const LOCK: &str = ".edgesim.lock";

/// Holds a sweep's or a plan's output folder for one command: until it is dropped (or the
/// process ends, however it ends), another command that asks for the folder is refused.
#[derive(Debug)]
pub struct FolderLock {
    /// The locked file (`None`: the file system does not lock files, and nothing is held).
    _file: Option<std::fs::File>,
}

/// Checks the output folder `dir` as [`check_reusable`] does, creates it, and locks it for
/// this command, which writes into it for a long time (a journal, then the tables): two
/// sweeps or plans into one folder at once (the same command started twice, or two shards
/// given one `--out`) would each rewrite the journal and the tables the other wrote. The
/// lock is the operating system's advisory lock on `dir/.edgesim.lock`, released when the
/// process ends, even when it is killed, so it never goes stale; the file is left in place.
/// On a file system that cannot lock files the command goes on without a lock.
pub fn lock_folder(dir: &Path, kind: Kind, flag: &str) -> Result<FolderLock> {
    check_reusable(dir, kind, flag)?;
    crate::report::create_folder(dir, dir, "cannot create")?;
    let path = dir.join(LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(Error::io(&path, "cannot create the folder's lock file"))?;
    match file.try_lock() {
        Ok(()) => Ok(FolderLock { _file: Some(file) }),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Output {
            path: dir.into(),
            problem: format!(
                "{flag}: another edgesim sweep or plan is writing to this folder now (it \
                 holds {LOCK}); wait for it to end, or give this {} another folder (shards \
                 each need their own)",
                kind.name()
            ),
        }),
        Err(std::fs::TryLockError::Error(_)) => Ok(FolderLock { _file: None }),
    }
}

/// Checks that `command` (`run`, `compare`, `fidelity`) may write its output folder `target`
/// (`flag` names the option in errors): it may be new, empty, or an output folder of the same
/// command holding only the files its manifest names, which is replaced. A folder of the
/// user's is refused, and so is another command's, and one holding files put there since:
/// a run never replaces a comparison's figures, nor a fidelity check's measurements (minutes
/// of llama.cpp). Commands that work long before writing call this first.
pub fn check_replaceable(target: &Path, flag: &str, command: &str) -> Result<()> {
    let bad = |problem: String| Error::Output {
        path: target.into(),
        problem: format!("{flag}: {problem}"),
    };
    let Some(names) = folder_entries(target, flag)? else {
        return Ok(());
    };
    if names.is_empty() {
        return Ok(());
    }
    let Some(found) = found(target) else {
        return Err(bad(format!(
            "exists and is not an edgesim output folder (it has no {MANIFEST} written by \
             edgesim); edgesim replaces only its own output folders: choose another folder or \
             remove this one"
        )));
    };
    if found.command != command {
        return Err(bad(format!(
            "holds the outputs of `edgesim {}` (its {MANIFEST} says so), not of `edgesim \
             {command}`: edgesim replaces an output folder only with the same command's; \
             choose another folder for the {command} or remove this one",
            found.command
        )));
    }
    // The folder is replaced whole: a file put there since (notes, a notebook, another
    // command's outputs in a subfolder) would go with it.
    if let Some(files) = found.files {
        // What file browsers leave behind (macOS Finder, Windows Explorer) is not the user's.
        let os_litter =
            |n: &str| matches!(n, ".DS_Store" | "Thumbs.db" | "desktop.ini") || n.starts_with("._");
        let foreign: Vec<&String> = names
            .iter()
            .filter(|n| !files.contains(n) && !os_litter(n))
            .collect();
        if !foreign.is_empty() {
            return Err(bad(format!(
                "holds {} that edgesim did not write there (its {MANIFEST} does not name \
                 them); the folder is replaced whole, so move them out or choose another folder",
                some_names(&foreign)
            )));
        }
    }
    Ok(())
}

/// File names for an error: the first three in order, quoted, and how many more
/// (`` `a`, `b`, `c` and 2 more ``).
pub fn some_names<S: AsRef<str>>(names: &[S]) -> String {
    let mut sorted: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    let shown: Vec<String> = sorted.iter().take(3).map(|n| format!("`{n}`")).collect();
    match sorted.len().saturating_sub(3) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

impl RunDir {
    /// Starts writing the output folder `target` of `command` (`run`, `compare`, `fidelity`;
    /// `flag` names the option in errors), after [`check_replaceable`].
    pub fn begin(target: &Path, flag: &str, command: &'static str) -> Result<RunDir> {
        let bad = |problem: String| Error::Output {
            path: target.into(),
            problem: format!("{flag}: {problem}"),
        };
        check_replaceable(target, flag, command)?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                bad(
                    "names no folder of its own (as `.`, `..` or `/`): an output folder is \
                     written beside its place and then put in it whole, so name a folder, \
                     e.g. `out`"
                        .into(),
                )
            })?;
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        crate::report::create_folder(parent, parent, "cannot create the folder")?;
        clean_stale(parent, &name);
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(Error::io(&tmp, "cannot clear"))?;
        }
        // Named by the folder asked for: the temporary one beside it is an implementation detail.
        std::fs::create_dir(&tmp).map_err(Error::io(target, "cannot create the output folder"))?;
        Ok(RunDir {
            target: target.to_path_buf(),
            tmp,
            command,
            done: false,
            keep: &[],
        })
    }

    /// Leaves the files `names` (and only those) in the temporary folder if it is dropped
    /// without [`RunDir::commit`] (an error ends the command), as a kill would leave them:
    /// the next command into the same folder reads them through [`killed_temporaries`]
    /// (`edgesim capacity`'s journal). Nothing is left where none of them was written.
    pub fn keep_on_error(&mut self, names: &'static [&'static str]) {
        self.keep = names;
    }

    /// The folder to write the files into (temporary until [`RunDir::commit`]).
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// The folder the files will be in.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes the manifest (naming every file written) and puts the folder in place. Returns
    /// the final paths of the files, the manifest last.
    pub fn commit(mut self, scenario: &str, seed: u64, files: &[PathBuf]) -> Result<Vec<PathBuf>> {
        let mut entries = Vec::new();
        for f in files {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = std::fs::metadata(self.tmp.join(&name))
                .map_err(Error::io(f, "cannot read back"))?
                .len();
            entries.push(FileEntry { name, bytes });
        }
        let manifest = Manifest {
            tool: TOOL.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            command: self.command.into(),
            scenario: scenario.into(),
            seed,
            files: entries,
        };
        let json = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
        crate::report::write_atomic(&self.tmp.join(MANIFEST), json.as_bytes())?;
        // Swap: the old folder aside, the new one in, the old one removed.
        let parent = self.tmp.parent().unwrap_or(Path::new("."));
        let name = self
            .target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        let had_old = self.target.exists();
        if had_old {
            std::fs::rename(&self.target, &old).map_err(Error::io(
                &self.target,
                "cannot move the previous outputs aside",
            ))?;
        }
        if let Err(e) = std::fs::rename(&self.tmp, &self.target) {
            if had_old {
                let _ = std::fs::rename(&old, &self.target);
            }
            return Err(Error::io(&self.target, "cannot put the outputs in place")(
                e,
            ));
        }
        self.done = true;
        if had_old {
            let _ = std::fs::remove_dir_all(&old);
        }
        let mut out: Vec<PathBuf> = files
            .iter()
            .filter_map(|f| f.file_name().map(|n| self.target.join(n)))
            .collect();
        out.push(self.target.join(MANIFEST));
        Ok(out)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        // Not committed (an error): no partial folder is left behind, only the files to
        // keep (they are not outputs: the next command reads them and removes the folder).
        if self.done {
            return;
        }
        let kept = self.keep.iter().any(|n| self.tmp.join(n).is_file());
        if !kept {
            let _ = std::fs::remove_dir_all(&self.tmp);
            return;
        }
        for e in std::fs::read_dir(&self.tmp).into_iter().flatten().flatten() {
            if !self.keep.iter().any(|n| e.file_name() == **n) {
                let p = e.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("edgesim-rundir-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write(r: &RunDir, name: &str, text: &str) -> PathBuf {
        let p = r.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The lock is held until dropped, a second holder is refused (even in one process: each
    /// open file is locked on its own), and a folder holding only the lock file is a new one.
    #[test]
    fn a_folder_has_one_holder_at_a_time() {
        let d = dir("lock");
        let out = d.join("sweep");
        let held = lock_folder(&out, Kind::Sweep, "--out").unwrap();
        assert!(held._file.is_some(), "this file system locks files");
        for kind in [Kind::Sweep, Kind::Plan] {
            let e = lock_folder(&out, kind, "--out").unwrap_err().to_string();
            assert!(
                e.contains("another edgesim sweep or plan is writing"),
                "{e}"
            );
        }
        drop(held);
        drop(lock_folder(&out, Kind::Plan, "--out").unwrap());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_rerun_replaces_the_whole_folder() {
        let d = dir("rerun");
        let out = d.join("out");
        let r = RunDir::begin(&out, "--out", "run").unwrap();
        let files = vec![write(&r, "a.csv", "1"), write(&r, "b.csv", "22")];
        r.commit("s", 1, &files).unwrap();
        let r = RunDir::begin(&out, "--out", "run").unwrap();
        let files = vec![write(&r, "a.csv", "333")];
        r.commit("s", 2, &files).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["a.csv", "manifest.json"],
            "b.csv of the first run is gone"
        );
        let m = std::fs::read_to_string(out.join(MANIFEST)).unwrap();
        assert!(
            m.contains("\"bytes\": 3") && m.contains("\"seed\": 2"),
            "{m}"
        );
        // Nothing else in the parent.
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_error_leaves_the_previous_run_and_no_temporary_folder() {
        let d = dir("error");
        let out = d.join("out");
        let r = RunDir::begin(&out, "--out", "run").unwrap();
        let files = vec![write(&r, "a.csv", "1")];
        r.commit("s", 1, &files).unwrap();
        let r = RunDir::begin(&out, "--out", "run").unwrap();
        write(&r, "a.csv", "partial");
        drop(r);
        assert_eq!(std::fs::read_to_string(out.join("a.csv")).unwrap(), "1");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// An error keeps the files asked for in the temporary folder (and nothing else), where a
    /// later command finds them once this process is gone; with none of them written, nothing.
    #[test]
    fn an_error_keeps_only_the_files_asked_for() {
        let d = dir("keep");
        let out = d.join("out");
        let mut r = RunDir::begin(&out, "--out", "capacity").unwrap();
        r.keep_on_error(&["runs.jsonl"]);
        write(&r, "runs.jsonl", "{}\n");
        write(&r, "loads.csv", "partial");
        std::fs::create_dir(r.path().join("sub")).unwrap();
        let tmp = r.path().to_path_buf();
        drop(r);
        let names: Vec<_> = std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["runs.jsonl"]);
        assert!(!out.exists(), "nothing under the folder's own name");
        std::fs::remove_dir_all(&tmp).unwrap();
        let mut r = RunDir::begin(&out, "--out", "capacity").unwrap();
        r.keep_on_error(&["runs.jsonl"]);
        write(&r, "loads.csv", "partial");
        drop(r);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
        // Committed, the files are outputs as any other.
        let mut r = RunDir::begin(&out, "--out", "capacity").unwrap();
        r.keep_on_error(&["runs.jsonl"]);
        let files = vec![write(&r, "runs.jsonl", "{}\n")];
        r.commit("s", 1, &files).unwrap();
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A command replaces only its own kind of output folder: a run never replaces a
    /// comparison's figures or a fidelity check's measurements, and the reverse; an output
    /// folder of an edgesim from before manifests counts by its files.
    #[test]
    fn a_command_replaces_only_its_own_output_folders() {
        let d = dir("kinds");
        let out = d.join("out");
        let r = RunDir::begin(&out, "--out", "compare").unwrap();
        let files = vec![write(&r, "fig4a.csv", "1")];
        r.commit("s", 1, &files).unwrap();
        for other in ["run", "fidelity"] {
            let e = RunDir::begin(&out, "--out", other).unwrap_err().to_string();
            assert!(
                e.contains("`edgesim compare`") && e.contains(&format!("for the {other}")),
                "{e}"
            );
        }
        assert!(out.join("fig4a.csv").exists());
        let r = RunDir::begin(&out, "--out", "compare").unwrap();
        let files = vec![write(&r, "fig4b.csv", "2")];
        r.commit("s", 1, &files).unwrap();
        assert!(out.join("fig4b.csv").exists() && !out.join("fig4a.csv").exists());
        // Before manifests: a fidelity folder by its fidelity.json, a run's by summary.json.
        let legacy = d.join("legacy");
        std::fs::create_dir(&legacy).unwrap();
        std::fs::write(legacy.join("scenario.resolved.toml"), "").unwrap();
        std::fs::write(legacy.join("fidelity.json"), "{}").unwrap();
        assert!(check_replaceable(&legacy, "--out", "run").is_err());
        check_replaceable(&legacy, "--out", "fidelity").unwrap();
        std::fs::remove_file(legacy.join("fidelity.json")).unwrap();
        std::fs::write(legacy.join("summary.json"), "{}").unwrap();
        check_replaceable(&legacy, "--out", "run").unwrap();
        assert!(check_replaceable(&legacy, "--out", "compare").is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refuses_files_and_foreign_folders_and_cleans_dead_temporaries() {
        let d = dir("refuse");
        let file = d.join("f");
        std::fs::write(&file, "x").unwrap();
        let e = RunDir::begin(&file, "--out", "run")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--out") && e.contains("is a file"), "{e}");
        let mine = d.join("mine");
        std::fs::create_dir(&mine).unwrap();
        std::fs::write(mine.join("thesis.tex"), "x").unwrap();
        let e = RunDir::begin(&mine, "--out", "run")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an edgesim output folder"), "{e}");
        assert!(mine.join("thesis.tex").exists());
        // A killed run's temporary folder (a process id that cannot be alive) is removed.
        let stale = d.join(".out.tmp-4294967294");
        std::fs::create_dir(&stale).unwrap();
        // Listed for a command that reads it first (a live process's is not: this one's).
        let live = d.join(format!(".out.tmp-{}", std::process::id()));
        std::fs::create_dir(&live).unwrap();
        assert_eq!(
            killed_temporaries(&d.join("out")),
            std::slice::from_ref(&stale)
        );
        std::fs::remove_dir(&live).unwrap();
        let r = RunDir::begin(&d.join("out"), "--out", "run").unwrap();
        assert!(!stale.exists());
        drop(r);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
