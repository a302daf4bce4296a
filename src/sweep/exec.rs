//! Running a sweep: in parallel, resumable from its journal, optionally one shard of it.
//!
//! Every finished run is appended to `runs.jsonl` (one complete line, flushed). A sweep
//! started again with the same command reads the journal, drops a torn last line (kill -9),
//! checks every other line against the plan (run index, point, replication, seed, the metric
//! set), drops and redoes what is invalid, saying so, and runs only what is missing. When all runs are in, the journal is rewritten in run order,
//! so the folder's bytes do not depend on the thread count or on interruptions.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Plan;
use crate::error::{Error, Result};
use crate::scenario::Scenario;

/// Runs `index`, `index + count`, ... of the sweep (`--shard index/count`, 0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, in `0..count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let bad = || format!("--shard {s}: expected i/n with 0 <= i < n, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether run `i` belongs to this shard.
    pub fn owns(&self, i: usize) -> bool {
        i % self.count == self.index
    }
}

/// The worker threads of a sweep, a plan or a capacity search: `threads`, or one per core;
/// an error (naming `path`, the command's output) if the system cannot start them.
pub fn thread_pool(threads: Option<usize>, path: &Path) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| Error::Output {
            path: path.into(),
            problem: format!("cannot start {} threads: {e}", threads.unwrap_or(0)),
        })
}

/// One finished run: its index and every metric (see [`super::metrics::METRICS`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    /// Run index: point x replications + replication.
    pub run: usize,
    /// Point index.
    pub point: usize,
    /// Replication.
    pub replication: u32,
    /// Seed.
    pub seed: u64,
    /// Metrics, in [`Plan::metric_names`] order.
    pub metrics: Metrics,
}

/// A run's metrics, eight bytes each: a metric a run does not define is NaN in memory and
/// `null` in the journal. JSON has no NaN or infinity (`serde_json` writes them as `null`), so a
/// value that is not finite is undefined from the start, and a run read back from the journal is
/// the run that was written. A sweep keeps every run's metrics until its tables are written:
/// `Vec<Option<f64>>` took twice the memory.
#[derive(Clone, Debug, Default)]
pub struct Metrics(Box<[f64]>);

impl Metrics {
    /// How many metrics.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Metric `m`: `None` if the run does not define it (or there is no metric `m`).
    pub fn get(&self, m: usize) -> Option<f64> {
        self.0.get(m).copied().filter(|x| !x.is_nan())
    }

    /// Every metric, in order.
    pub fn iter(&self) -> impl Iterator<Item = Option<f64>> + '_ {
        self.0.iter().map(|x| Some(*x).filter(|x| !x.is_nan()))
    }
}

impl From<Vec<Option<f64>>> for Metrics {
    fn from(v: Vec<Option<f64>>) -> Metrics {
        Metrics(
            v.into_iter()
                .map(|x| x.filter(|x| x.is_finite()).unwrap_or(f64::NAN))
                .collect(),
        )
    }
}

/// Equal when every metric is, an undefined one (NaN) equal to an undefined one.
impl PartialEq for Metrics {
    fn eq(&self, other: &Metrics) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Serialize for Metrics {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Metrics {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Metrics, D::Error> {
        Vec::<Option<f64>>::deserialize(d).map(Metrics::from)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Header {
    sweep: String,
    fingerprint: String,
    /// [`Plan::runs_fingerprint`]: a journal with the same serves a sweep with other
    /// expectations or figures (or comments). Absent (an earlier edgesim's journal, or a merge's
    /// of shards read back from `plan.json`): only the same sweep (`fingerprint`) reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shard: Option<String>,
    /// Hash of the metric names, in order: a journal written by a version of edgesim with
    /// another metric set is redone, not misread.
    #[serde(default)]
    metrics: Option<String>,
}

/// The hash of the metric set that journal lines hold: the run's metrics
/// ([`super::metrics::METRICS`]), as a plan's journal records them.
pub(crate) fn metric_set() -> String {
    let names: Vec<&str> = super::metrics::METRICS.iter().map(|m| m.name).collect();
    hash_names(&names)
}

/// The hash of metric names, in order.
fn hash_names<S: AsRef<str>>(names: &[S]) -> String {
    let joined: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    format!("{:016x}", crate::rng::fnv1a(joined.join(",").as_bytes()))
}

/// The hash of the metric set that a sweep's journal lines hold ([`Plan::metric_names`]:
/// without request classes, [`metric_set`]).
fn sweep_metric_set(plan: &Plan) -> String {
    hash_names(&plan.metric_names())
}

/// Progress of a sweep, for the caller to show.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Runs finished (including those found in the journal).
    pub done: usize,
    /// Runs this invocation must have in the end.
    pub total: usize,
    /// Runs found already finished in the journal.
    pub resumed: usize,
    /// On the first call only: journal lines that were invalid and whose runs are redone.
    pub redone: Vec<String>,
}

const JOURNAL: &str = "runs.jsonl";

/// A journal read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Journal {
    /// The sweep's fingerprint.
    pub fingerprint: String,
    /// The hash of what its runs depend on ([`Plan::runs_fingerprint`]), if it says it.
    pub runs_fingerprint: Option<String>,
    /// `i/n` for a shard.
    pub shard: Option<String>,
    /// Whether its lines hold this version's metric set.
    pub same_metrics: bool,
    /// Finished runs, in file order, with their 1-based line numbers.
    pub runs: Vec<(usize, RunResult)>,
    /// Lines that are not runs: line number and what is wrong.
    pub bad: Vec<String>,
}

/// A JSON-lines journal read back: its header, every record with its 1-based line number,
/// and the lines that are not records.
pub(crate) type Lines<H, R> = (H, Vec<(usize, R)>, Vec<String>);

/// The longest journal line read: a run's line is a few kilobytes at most; a longer one is
/// listed as not a record, without holding it in memory.
const MAX_LINE_BYTES: u64 = 1 << 20;

/// Reads a JSON-lines journal (a header line, then one record per line) of at most `limit`
/// bytes, line by line. A torn last line (an interrupted append) is cut off the file; other
/// unreadable lines are listed. An unreadable header gives `None` (the journal is started
/// again). Sweeps and plans keep their runs so. Every line must be a JSON object, as edgesim
/// writes them: serde's derive would read an array by position into a record.
pub(crate) fn read_jsonl<H: serde::de::DeserializeOwned, R: serde::de::DeserializeOwned>(
    path: &Path,
    what: &'static str,
    limit: u64,
) -> Result<Option<Lines<H, R>>> {
    let mut runs = Vec::new();
    let read = read_jsonl_each(
        path,
        what,
        limit,
        |_: &H| Ok(()),
        |n, r| {
            runs.push((n, r));
            Ok(())
        },
    )?;
    Ok(read.map(|(h, bad)| (h, runs, bad)))
}

/// [`read_jsonl`], each record given to `visit` with its 1-based line number as it is read
/// rather than held, after the header is given to `header` (an error from either ends the
/// reading with it). Gives the header and the lines that are not records.
pub(crate) fn read_jsonl_each<H: serde::de::DeserializeOwned, R: serde::de::DeserializeOwned>(
    path: &Path,
    what: &'static str,
    limit: u64,
    header: impl FnOnce(&H) -> Result<()>,
    mut visit: impl FnMut(usize, R) -> Result<()>,
) -> Result<Option<(H, Vec<String>)>> {
    use std::io::{BufRead as _, Read as _};
    let mut header_check = Some(header);
    if !path.exists() {
        return Ok(None);
    }
    let file = crate::check::open_input(path, what, limit)?;
    // `take` guards against a file that grows while it is read.
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file.take(limit + 1));
    let mut complete: u64 = 0; // bytes of complete lines
    let mut total: u64 = 0; // bytes read
    let mut header: Option<H> = None;
    let mut bad = Vec::new();
    let mut line = Vec::new();
    for n in 0.. {
        line.clear();
        let got = (&mut reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut line)
            .map_err(Error::io(path, "cannot read"))?;
        if got == 0 {
            break;
        }
        total += got as u64;
        let mut long = false;
        if line.last() != Some(&b'\n') && got as u64 > MAX_LINE_BYTES {
            // Skip the rest of an over-long line.
            long = true;
            loop {
                let buf = reader.fill_buf().map_err(Error::io(path, "cannot read"))?;
                if buf.is_empty() {
                    break;
                }
                let (used, end) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (buf.len(), false),
                };
                reader.consume(used);
                total += used as u64;
                if end {
                    line.push(b'\n');
                    break;
                }
            }
        }
        if line.last() != Some(&b'\n') {
            break; // torn by an interruption
        }
        complete = total;
        let text = if long {
            Err(format!("longer than {MAX_LINE_BYTES} bytes"))
        } else {
            std::str::from_utf8(&line[..line.len() - 1])
                .map_err(|e| e.to_string())
                .and_then(|t| {
                    if t.trim_start().starts_with('{') {
                        Ok(t)
                    } else {
                        Err("a JSON object of named fields is expected".to_string())
                    }
                })
        };
        if n == 0 {
            header = text.ok().and_then(|t| serde_json::from_str::<H>(t).ok());
            match (&header, header_check.take()) {
                (None, _) => return Ok(None),
                (Some(h), Some(check)) => check(h)?,
                (Some(_), None) => {}
            }
            continue;
        }
        match text.and_then(|t| serde_json::from_str::<R>(t).map_err(|e| e.to_string())) {
            Ok(r) => visit(n + 1, r)?,
            Err(e) => bad.push(format!(
                "line {}: not a run record ({})",
                n + 1,
                crate::check::excerpt(&e, crate::check::EXCERPT_CHARS)
            )),
        }
    }
    if total > limit {
        return Err(Error::Input {
            path: path.into(),
            problem: format!(
                "cannot read {what}: it grew beyond the {limit} bytes allowed while being read"
            ),
        });
    }
    if complete < total {
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(Error::io(path, "cannot repair"))?;
        f.set_len(complete)
            .map_err(Error::io(path, "cannot repair"))?;
    }
    Ok(header.map(|h| (h, bad)))
}

/// Reads a sweep journal of `plan`: its header and every complete line (a torn last line is
/// cut off).
pub fn read_journal(path: &Path, plan: &Plan) -> Result<Option<Journal>> {
    let lines = read_jsonl::<Header, RunResult>(path, "sweep journal", journal_limit(plan))?;
    Ok(lines.map(|(h, runs, bad)| Journal {
        same_metrics: h.metrics.as_deref() == Some(sweep_metric_set(plan).as_str()),
        fingerprint: h.fingerprint,
        runs_fingerprint: h.runs,
        shard: h.shard,
        runs,
        bad,
    }))
}

/// The header line of the journal `path` (`what` names it in an error); `None` without a
/// journal. Only the first line is read.
pub(crate) fn read_header<H: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
) -> Result<Option<H>> {
    use std::io::{BufRead as _, Read as _};
    let file = match std::fs::File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        f => f.map_err(Error::io(path, "cannot read"))?,
    };
    let mut line = Vec::new();
    std::io::BufReader::new(file.take(MAX_LINE_BYTES))
        .read_until(b'\n', &mut line)
        .map_err(Error::io(path, "cannot read"))?;
    serde_json::from_slice(&line)
        .map(Some)
        .map_err(|e| Error::Output {
            path: path.into(),
            problem: format!(
                "not a {what} ({})",
                crate::check::excerpt(&e.to_string(), crate::check::EXCERPT_CHARS)
            ),
        })
}

/// The hash of what the runs of the journal in `dir` depend on ([`Plan::runs_fingerprint`]),
/// if its header says it.
pub(crate) fn journal_runs_fingerprint(dir: &Path) -> Result<Option<String>> {
    Ok(read_header::<Header>(&dir.join(JOURNAL), "sweep journal")?.and_then(|h| h.runs))
}

/// The largest a journal of `plan` may be: [`crate::check::MAX_DATA_BYTES`], or as much as a
/// line for each of its runs may take if that is more (a sweep of millions of runs). A line
/// holds four integers of at most 20 digits with their keys (under 128 bytes) and each metric
/// in at most 25 (`serde_json` writes an `f64` in at most 24 characters).
fn journal_limit(plan: &Plan) -> u64 {
    journal_bound(
        plan.runs() as u64,
        128 + 32 * plan.metric_names().len() as u64,
    )
}

/// The largest a journal of at most `runs` lines of at most `line` bytes (and a header) may be:
/// [`crate::check::MAX_DATA_BYTES`], or that much if it is more.
pub(crate) fn journal_bound(runs: u64, line: u64) -> u64 {
    crate::check::MAX_DATA_BYTES.max(runs.saturating_add(1).saturating_mul(line))
}

/// Whether `r` is a run of `plan` (and of `shard`) as this version records it: its index,
/// point, replication and seed agree with the plan and it has every metric.
fn check_run(plan: &Plan, shard: Option<Shard>, r: &RunResult) -> std::result::Result<(), String> {
    if r.run >= plan.runs() {
        return Err(format!(
            "run {} is not in this sweep (it has {} runs)",
            r.run,
            plan.runs()
        ));
    }
    if shard.is_some_and(|s| !s.owns(r.run)) {
        return Err(format!("run {} belongs to another shard", r.run));
    }
    let (point, replication, seed) = plan.run(r.run);
    if (r.point, r.replication, r.seed) != (point, replication, seed) {
        return Err(format!(
            "run {}: point {}, replication {}, seed {} do not match the plan's {point}, \
             {replication}, {seed}",
            r.run, r.point, r.replication, r.seed
        ));
    }
    let want =
        super::metrics::METRICS.len() + plan.classes.len() * super::metrics::CLASS_METRICS.len();
    if r.metrics.len() != want {
        return Err(format!(
            "run {}: {} metrics, expected {want}",
            r.run,
            r.metrics.len()
        ));
    }
    Ok(())
}

/// Writes the journal of `runs` (a header, then a line per run) to `w`.
fn journal_to<'a>(
    w: &mut impl std::io::Write,
    plan: &Plan,
    shard: Option<Shard>,
    runs: impl IntoIterator<Item = &'a RunResult>,
) -> std::io::Result<()> {
    let header = Header {
        sweep: plan.name.clone(),
        fingerprint: plan.fingerprint.clone(),
        runs: Some(plan.runs_fingerprint.clone()).filter(|r| !r.is_empty()),
        shard: shard.filter(|s| s.count > 1).map(|s| s.to_string()),
        metrics: Some(sweep_metric_set(plan)),
    };
    serde_json::to_writer(&mut *w, &header)?;
    w.write_all(b"\n")?;
    for r in runs {
        serde_json::to_writer(&mut *w, r)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes the journal of `runs` to `path` atomically, line by line (a sweep of millions of runs
/// has a journal of hundreds of megabytes).
fn write_journal_file<'a>(
    path: &Path,
    plan: &Plan,
    shard: Option<Shard>,
    runs: impl IntoIterator<Item = &'a RunResult>,
) -> Result<()> {
    crate::report::write_atomic_with(path, |w| journal_to(w, plan, shard, runs))
}

/// Writes `plan.json` and the sorted journal of `runs` to `dir` (used at the end of a sweep and
/// by `merge`).
pub fn write_journal(
    dir: &Path,
    plan: &Plan,
    shard: Option<Shard>,
    runs: &[RunResult],
) -> Result<()> {
    // Written as it is serialized: a sweep of millions of points has a plan.json of hundreds
    // of megabytes.
    crate::report::write_atomic_with(&dir.join("plan.json"), |w| {
        serde_json::to_writer_pretty(&mut *w, plan).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })?;
    write_journal_file(&dir.join(JOURNAL), plan, shard, runs)
}

/// Runs the sweep (or `shard` of it) into `dir` on `threads` threads (default: all cores),
/// resuming from the journal there. Returns this shard's results in run order. `dir` is
/// checked, created and locked by the caller ([`crate::sweep::run`], through
/// [`crate::output::rundir::lock_folder`]).
pub(crate) fn execute(
    plan: &Plan,
    dir: &Path,
    shard: Option<Shard>,
    threads: Option<usize>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<RunResult>> {
    let journal = dir.join(JOURNAL);
    let shard_text = shard.filter(|s| s.count > 1).map(|s| s.to_string());
    let mut done: BTreeMap<usize, RunResult> = BTreeMap::new();
    let mut redone = Vec::new();
    match read_journal(&journal, plan)? {
        Some(Journal {
            fingerprint,
            runs_fingerprint: same_runs,
            shard: jshard,
            same_metrics,
            runs,
            bad,
        }) => {
            // Another sweep of the same runs (other expectations, figures or comments), or,
            // in a journal without that hash, the same sweep.
            let serves = match &same_runs {
                Some(r) => *r == plan.runs_fingerprint,
                None => fingerprint == plan.fingerprint,
            };
            if !serves || jshard != shard_text {
                return Err(Error::Output {
                    path: journal,
                    problem: format!(
                        "holds results of another sweep or shard (fingerprint {fingerprint}, shard {}): \
                         its axes, replications, seed or scenario differ; use another --out \
                         folder or delete it",
                        jshard.as_deref().unwrap_or("none")
                    ),
                });
            }
            redone = bad;
            if !same_metrics && !runs.is_empty() {
                redone.push(format!(
                    "all {} runs: recorded with another set of metrics (another edgesim version)",
                    runs.len()
                ));
            } else {
                for (line, r) in runs {
                    match check_run(plan, shard, &r) {
                        Err(why) => redone.push(format!("line {line}: {why}")),
                        Ok(()) if done.contains_key(&r.run) => {
                            redone.push(format!("line {line}: run {} repeated", r.run));
                        }
                        Ok(()) => {
                            done.insert(r.run, r);
                        }
                    }
                }
            }
            if !redone.is_empty() || !same_metrics {
                // Keep only what is valid, so later appends follow good lines.
                write_journal_file(&journal, plan, shard, done.values())?;
            }
        }
        None => {
            let mut header = Vec::new();
            journal_to(&mut header, plan, shard, [])
                .map_err(Error::io(&journal, "cannot write"))?;
            std::fs::write(&journal, header).map_err(Error::io(&journal, "cannot write"))?;
        }
    }
    let mine: Vec<usize> = (0..plan.runs())
        .filter(|&i| shard.is_none_or(|s| s.owns(i)))
        .collect();
    done.retain(|i, _| shard.is_none_or(|s| s.owns(*i)));
    let pending: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|i| !done.contains_key(i))
        .collect();
    let resumed = done.len();
    let total = mine.len();
    progress(Progress {
        done: resumed,
        total,
        resumed,
        redone,
    });

    let file = OpenOptions::new()
        .append(true)
        .open(&journal)
        .map_err(Error::io(&journal, "cannot open"))?;
    // The journal and the runs finished in this call.
    let sink: Mutex<(File, Vec<RunResult>)> = Mutex::new((file, Vec::new()));
    let pool = thread_pool(threads, dir)?;
    pool.install(|| {
        // Each worker keeps the scenario of its last point: a point's replications differ in
        // their seed alone (validation does not read it), and runs come to a worker mostly in
        // run order, so building each run's scenario from the document (more than half of a
        // short run's time) is done about once a point.
        let last = || None::<(usize, Scenario)>;
        pending
            .par_iter()
            .try_for_each_init(last, |last, &i| -> Result<()> {
                let (point, replication, seed) = plan.run(i);
                let sc = match last {
                    Some((p, sc)) if *p == point => sc,
                    _ => &mut last.insert((point, plan.scenario_at(point, seed)?)).1,
                };
                sc.seed = seed;
                let summary = crate::sim::run(sc)?;
                let r = RunResult {
                    run: i,
                    point,
                    replication,
                    seed,
                    metrics: plan.extract(&summary).into(),
                };
                let line = serde_json::to_string(&r).unwrap_or_default() + "\n";
                let mut g = sink.lock().unwrap_or_else(|p| p.into_inner());
                g.0.write_all(line.as_bytes())
                    .and_then(|()| g.0.flush())
                    .map_err(Error::io(&journal, "cannot append to"))?;
                g.1.push(r);
                progress(Progress {
                    done: resumed + g.1.len(),
                    total,
                    resumed,
                    redone: Vec::new(),
                });
                Ok(())
            })
    })?;
    let (_, new) = sink.into_inner().unwrap_or_else(|p| p.into_inner());
    for r in new {
        done.insert(r.run, r);
    }
    let results: Vec<RunResult> = done.into_values().collect();
    write_journal(dir, plan, shard, &results)?;
    Ok(results)
}

/// Checks the folders of a merge before reading them: each shard named once (a folder named
/// twice is likely a typo for a shard left out), and `out` not one of them (the merged files
/// would replace that shard's own). Folders are compared as the same place on disk, so
/// `s0` and `./s0/` are one.
pub fn check_shards(shards: &[PathBuf], out: &Path) -> Result<()> {
    let place = |p: &Path| std::fs::canonicalize(p).ok();
    let mut seen: Vec<(PathBuf, &PathBuf)> = Vec::new();
    for d in shards {
        let Some(c) = place(d) else { continue };
        if let Some((_, first)) = seen.iter().find(|(p, _)| *p == c) {
            return Err(Error::Output {
                path: d.clone(),
                problem: format!(
                    "shard folder named twice (also as {}): name each shard once",
                    first.display()
                ),
            });
        }
        seen.push((c, d));
    }
    if let Some(o) = place(out)
        && let Some((_, shard)) = seen.iter().find(|(p, _)| *p == o)
    {
        return Err(Error::Output {
            path: out.into(),
            problem: format!(
                "--out is the shard folder {}: the merged files would replace that \
                     shard's; give a new folder",
                shard.display()
            ),
        });
    }
    Ok(())
}

/// Combines shard folders into complete results (every run exactly once).
pub fn merge(dirs: &[PathBuf], plan: &Plan) -> Result<Vec<RunResult>> {
    let mut all: BTreeMap<usize, RunResult> = BTreeMap::new();
    for d in dirs {
        let path = d.join(JOURNAL);
        let Some(Journal {
            fingerprint,
            runs,
            bad,
            same_metrics,
            ..
        }) = read_journal(&path, plan)?
        else {
            return Err(Error::Output {
                path,
                problem: "missing: not a sweep output folder".into(),
            });
        };
        if fingerprint != plan.fingerprint {
            return Err(Error::Output {
                path,
                problem: format!(
                    "from another sweep (fingerprint {fingerprint}, expected {})",
                    plan.fingerprint
                ),
            });
        }
        let invalid: Vec<String> = bad
            .into_iter()
            .chain(runs.iter().filter_map(|(line, r)| {
                check_run(plan, None, r)
                    .err()
                    .map(|w| format!("line {line}: {w}"))
            }))
            .collect();
        if !same_metrics || !invalid.is_empty() {
            return Err(Error::Output {
                path,
                problem: format!(
                    "invalid journal ({}); run this shard again to repair it",
                    if same_metrics {
                        invalid.join("; ")
                    } else {
                        "recorded with another set of metrics".into()
                    }
                ),
            });
        }
        for (_, r) in runs {
            if let Some(prev) = all.get(&r.run)
                && *prev != r
            {
                return Err(Error::Output {
                    path,
                    problem: format!("run {} differs from another shard's", r.run),
                });
            }
            all.insert(r.run, r);
        }
    }
    let missing: Vec<usize> = (0..plan.runs()).filter(|i| !all.contains_key(i)).collect();
    if let Some(first) = missing.first() {
        return Err(Error::Output {
            path: dirs.first().cloned().unwrap_or_default(),
            problem: format!(
                "{} of {} runs are missing from the shards (first: run {first}); run the missing shards first",
                missing.len(),
                plan.runs()
            ),
        });
    }
    Ok(all.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Value = serde_json::Value;

    /// A folder of this test's own (tests run in parallel), removed by the test.
    fn folder(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("edgesim-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn journal(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_journal_is_read_line_by_line_past_an_over_long_line_to_its_torn_end() {
        let mut text = b"{\"h\":1}\n{\"r\":1}\n".to_vec();
        text.push(b'{');
        text.extend(std::iter::repeat_n(b' ', MAX_LINE_BYTES as usize + 10));
        text.extend(b"}\n{\"r\":3}\n[1]\n{\"r\":");
        let dir = folder("jsonl-long");
        let p = journal(&dir, "long.jsonl", &text);
        let (h, runs, bad) = read_jsonl::<Value, Value>(&p, "sweep journal", 1 << 30)
            .unwrap()
            .unwrap();
        assert_eq!(h, serde_json::json!({"h": 1}));
        let lines: Vec<(usize, Value)> = vec![
            (2, serde_json::json!({"r": 1})),
            (4, serde_json::json!({"r": 3})),
        ];
        assert_eq!(runs, lines);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(
            bad[0].starts_with("line 3: ") && bad[0].contains("longer than"),
            "{bad:?}"
        );
        assert!(bad[1].starts_with("line 5: "), "{bad:?}");
        // The torn last line is cut off the file.
        let kept = std::fs::read(&p).unwrap();
        assert!(
            kept[..] == text[..text.len() - b"{\"r\":".len()],
            "{}",
            kept.len()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn metrics_read_back_from_the_journal_are_the_metrics_written() {
        let m = Metrics::from(vec![
            Some(1.5),
            None,
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(-0.0),
        ]);
        assert_eq!(m.len(), 5);
        let got: Vec<Option<f64>> = m.iter().collect();
        assert_eq!(got, [Some(1.5), None, None, None, Some(-0.0)]);
        assert_eq!((m.get(0), m.get(2), m.get(9)), (Some(1.5), None, None));
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(text, "[1.5,null,null,null,-0.0]");
        assert_eq!(serde_json::from_str::<Metrics>(&text).unwrap(), m);
        assert_ne!(Metrics::from(vec![Some(1.5)]), Metrics::from(vec![None]));
    }

    #[test]
    fn a_journal_over_its_limit_is_refused_and_a_bad_header_starts_again() {
        let dir = folder("jsonl-limit");
        let p = journal(&dir, "limit.jsonl", b"{\"h\":1}\n{\"r\":1}\n");
        let e = read_jsonl::<Value, Value>(&p, "sweep journal", 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("limit.jsonl") && e.contains("10 bytes"), "{e}");
        let p = journal(&dir, "header.jsonl", b"[1]\n{\"r\":1}\n");
        assert!(
            read_jsonl::<Value, Value>(&p, "sweep journal", 1 << 30)
                .unwrap()
                .is_none()
        );
        let p = journal(&dir, "torn-header.jsonl", b"{\"h\":");
        assert!(
            read_jsonl::<Value, Value>(&p, "sweep journal", 1 << 30)
                .unwrap()
                .is_none()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
