//! Shared helpers.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use edgesim::metrics::{Recorder, RequestRecord, Summary};
use edgesim::scenario::{LoadOptions, Scenario};
use edgesim::time::SimTime;

/// Runs the `edgesim` binary with `args` (from the current folder) and returns its output.
pub fn edgesim<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args(args)
        .output()
        .unwrap()
}

/// The folder under which every file these tests write lies: `edgesim-tests-PID` in the
/// system's temporary folder, one per test process, removed when the process exits (set
/// `EDGESIM_KEEP_TEST_FILES=1` to keep it). On Linux, folders left by test processes that were
/// killed are removed when the next one starts. `.ci/run` checks that nothing is left.
pub fn scratch_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    #[allow(unsafe_code)]
    unsafe extern "C" {
        fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
    }
    extern "C" fn remove_root() {
        if let Some(root) = ROOT.get() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
    ROOT.get_or_init(|| {
        let tmp = std::env::temp_dir();
        remove_stale_roots(&tmp);
        let root = tmp.join(format!("{SCRATCH_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        if std::env::var_os("EDGESIM_KEEP_TEST_FILES").is_none() {
            // SAFETY: `atexit` is the C library's own; `remove_root` takes no arguments, does
            // not unwind, and only reads a `OnceLock` set before it is registered.
            #[allow(unsafe_code)]
            let registered = unsafe { atexit(remove_root) };
            assert_eq!(registered, 0, "atexit failed");
        }
        root
    })
}

const SCRATCH_PREFIX: &str = "edgesim-tests-";

/// Removes the scratch folders of test processes that no longer run (Linux: `/proc/PID`).
fn remove_stale_roots(tmp: &Path) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(SCRATCH_PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// `name` under this process's scratch folder ([`scratch_root`]); nothing is created.
pub fn scratch(name: &str) -> PathBuf {
    scratch_root().join(name)
}

/// A fresh empty folder `name` under this process's scratch folder.
pub fn scratch_dir(name: &str) -> PathBuf {
    let d = scratch(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parses scenario text as if it lived in `tests/` (so `../calibration/...` resolves).
pub fn scenario(text: &str) -> Scenario {
    Scenario::from_str_at(
        text,
        &root().join("tests/inline.toml"),
        &LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("bad test scenario: {e}\n{text}"))
}

/// The error for scenario text that must be refused (as if it lived in `tests/`).
pub fn scenario_error(text: &str) -> String {
    match Scenario::from_str_at(
        text,
        &root().join("tests/inline.toml"),
        &LoadOptions::default(),
    ) {
        Ok(_) => panic!("accepted a bad scenario:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// A device entry with an inline profile: `slots` slots, no queue unless given, prefill
/// effectively instant, decode curve `decode`, busy/idle power.
pub fn inline_device(
    name: &str,
    slots: u32,
    queue: u32,
    decode: &[f64],
    busy_w: f64,
    idle_w: f64,
) -> String {
    let decode: Vec<String> = decode.iter().map(|d| format!("{d:?}")).collect();
    format!(
        r#"
[[devices]]
name = "{name}"
model = "qwen2.5-0.5b"
slots = {slots}
queue_capacity = {queue}
ctx_tokens = 32768
[devices.inline.device]
name = "test board"
memory_gb = 1000.0
idle_w = {idle_w:?}
[[devices.inline.models]]
model = "qwen2.5-0.5b"
prefill_tps = 1e12
decode_tps = [{}]
busy_w = {busy_w:?}
"#,
        decode.join(", ")
    )
}

/// Writes a file under a fresh temporary folder and returns its path.
pub fn temp_file(dir_tag: &str, name: &str, text: &str) -> PathBuf {
    let dir = scratch(&format!("it-{dir_tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Makes the journal `path` (a sweep's or a plan's) one of an edgesim before journals said
/// the hash of what their runs depend on: its header's `runs` removed (it must have one).
pub fn drop_journal_runs_hash(path: &Path) {
    let t = std::fs::read_to_string(path).unwrap();
    let (head, rest) = t.split_once('\n').unwrap();
    let mut h: serde_json::Value = serde_json::from_str(head).unwrap();
    assert!(h.as_object_mut().unwrap().remove("runs").is_some());
    std::fs::write(path, format!("{h}\n{rest}")).unwrap();
}

/// A trace CSV with the given (seconds, prompt, output) rows.
pub fn trace_text(rows: &[(f64, u32, u32)]) -> String {
    let mut s = String::from("TIMESTAMP,ContextTokens,GeneratedTokens\n");
    for (t, p, o) in rows {
        s.push_str(&format!("{t},{p},{o}\n"));
    }
    s
}

/// Records every finished request.
#[derive(Default)]
pub struct Collect(pub Vec<RequestRecord>);
impl Recorder for Collect {
    fn on_end(&mut self, _: SimTime, r: &RequestRecord) {
        self.0.push(*r);
    }
}

/// Runs and returns the summary and all records sorted by id.
pub fn run_collect(sc: &Scenario) -> (Summary, Vec<RequestRecord>) {
    let mut c = Collect::default();
    let s = edgesim::sim::run_with(sc, &mut c).unwrap();
    c.0.sort_by_key(|r| r.id);
    (s, c.0)
}

/// Runs a trace `rows` of (seconds, prompt, output) against `body` (devices, policies, cloud)
/// and returns the summary and the records in arrival order.
pub fn run_trace_summary(
    tag: &str,
    rows: &[(f64, u32, u32)],
    body: &str,
) -> (Summary, Vec<RequestRecord>) {
    let p = temp_file(tag, "t.csv", &trace_text(rows));
    let text = format!(
        "{body}\n[workload]\nkind = \"trace\"\npath = \"{}\"\n",
        p.display()
    );
    run_collect(&scenario(&text))
}

/// Path of a shipped scenario.
pub fn shipped(name: &str) -> PathBuf {
    root().join("scenarios").join(name)
}

/// The shipped retail plan's text with its paths absolute (to be written anywhere).
pub fn retail_plan_text() -> String {
    std::fs::read_to_string(shipped("plans/retail.toml"))
        .unwrap()
        .replace(
            "retail-traffic.toml",
            &shipped("plans/retail-traffic.toml").display().to_string(),
        )
        .replace(
            "../../calibration",
            &root().join("calibration").display().to_string(),
        )
}

/// Loads a shipped scenario with overrides.
pub fn load(path: &Path, sets: &[&str]) -> Scenario {
    let opts = LoadOptions {
        sets: sets.iter().map(|s| s.to_string()).collect(),
        seed: None,
    };
    Scenario::load(path, &opts).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts that a command succeeded; otherwise the test fails with the command's standard error.
#[track_caller]
pub fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Holds the lock of the sweep or plan output folder `dir` (created if missing), as an
/// `edgesim sweep` or `plan` writing into it does, until the file is dropped.
pub fn hold_folder_lock(dir: &Path) -> std::fs::File {
    std::fs::create_dir_all(dir).unwrap();
    let f = std::fs::File::create(dir.join(".edgesim.lock")).unwrap();
    f.try_lock().unwrap();
    f
}

/// Asserts that `o` was refused because another command holds its output folder.
pub fn assert_refused_as_locked(o: &Output) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("another edgesim sweep or plan is writing to this folder now"),
        "{err}"
    );
}

/// Every file of a folder (name -> bytes).
pub fn folder_files(d: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(d)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}
