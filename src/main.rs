//! The `edgesim` command line. It parses arguments, calls the library and prints; all logic
//! lives in the library. Exit codes: 0 success, 1 a check failed, 2 an error.

#![forbid(unsafe_code)]

/// `eprintln!` that ignores a closed standard error (`edgesim ... 2>&1 | head` would panic at
/// its next message): messages are for a person, and the exit code still tells the outcome.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use edgesim::policy::selection::SelectionKind;
use edgesim::report;
use edgesim::scenario::{LoadOptions, Scenario};

#[derive(Parser)]
#[command(
    name = "edgesim",
    version,
    about = "Simulate edge-first LLM inference: edge devices running llama.cpp with cloud fallback"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ScenarioArgs {
    /// Scenario file (TOML), e.g. scenarios/bursty.toml.
    scenario: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override a scenario key before validation: key.path=value (TOML value; repeatable;
    /// array entries as devices.1.count or devices[1].count), e.g. --set selection.kind=random
    /// --set workload.rate_rps=3.5
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

impl ScenarioArgs {
    fn options(&self) -> LoadOptions {
        LoadOptions {
            sets: self.sets.clone(),
            seed: self.seed,
        }
    }
    /// Loads the scenario, warning of overrides that change less than they seem to.
    fn load(&self) -> edgesim::Result<Scenario> {
        let opts = self.options();
        let sc = Scenario::load(&self.scenario, &opts)?;
        for w in Scenario::override_warnings(&self.scenario, &opts) {
            note!("warning: {}: {w}", self.scenario.display());
        }
        Ok(sc)
    }
}

/// The default output folder `output/NAME`.
fn default_out(name: &str) -> PathBuf {
    PathBuf::from("output").join(name)
}

fn available_threads() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// The most worker threads `--threads` may ask for: beyond it, starting them alone takes
/// minutes (a typo such as 100000 looked like a hang) and no machine has the cores to use them.
const MAX_THREADS: usize = 1024;

/// Checks `--threads` (a sweep's or plan's workers, llama.cpp's threads): 1 ..= MAX_THREADS.
fn check_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = threads {
        anyhow::ensure!(
            (1..=MAX_THREADS).contains(&n),
            "--threads {n}: give 1 to {MAX_THREADS} (this machine has {})",
            available_threads()
        );
    }
    Ok(())
}

#[derive(clap::Args)]
struct TableArgs {
    /// Also write the tables as CSV (beside Parquet).
    #[arg(long)]
    csv: bool,
    /// Skip the per-request table (one row per request).
    #[arg(long)]
    no_requests: bool,
    /// Width of the time-series buckets in seconds.
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "SECONDS",
        allow_hyphen_values = true
    )]
    bucket_s: f64,
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct SweepCmd {
    #[command(subcommand)]
    sub: Option<SweepSub>,
    #[command(flatten)]
    run: SweepRunArgs,
}

#[derive(Subcommand)]
enum SweepSub {
    /// Combine the output folders of `--shard i/n` runs into the tables of the whole sweep.
    Merge {
        /// Shard output folders.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Output folder for the merged tables.
        #[arg(long)]
        out: PathBuf,
        /// Also write the tables as CSV.
        #[arg(long)]
        csv: bool,
        /// Check the sweep's expectations; exit 1 if any fails.
        #[arg(long)]
        check: bool,
    },
}

#[derive(clap::Args)]
struct SweepRunArgs {
    /// Sweep file (TOML), e.g. scenarios/sweeps/policies.toml.
    #[arg(required = true)]
    sweep: Option<PathBuf>,
    /// Output folder (default: output/sweep-NAME). Running again resumes.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads, 1 to 1024 (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Run only shard i of n (0-based), e.g. --shard 0/4; combine with `sweep merge`.
    #[arg(long)]
    shard: Option<edgesim::sweep::exec::Shard>,
    /// Also write the tables as CSV.
    #[arg(long)]
    csv: bool,
    /// Check the sweep's expectations; exit 1 naming each one that fails (not with --shard:
    /// check the merged sweep).
    #[arg(long)]
    check: bool,
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct PlanCmd {
    #[command(subcommand)]
    sub: Option<PlanSub>,
    #[command(flatten)]
    run: PlanRunArgs,
}

#[derive(Subcommand)]
enum PlanSub {
    /// Search again on the union of the journals of `--shard i/n` runs (no simulation) and
    /// write the answer of the whole search (of the whole grid, for shards run with --grid).
    Merge {
        /// The plan file the shards ran.
        plan: PathBuf,
        /// Shard output folders.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Output folder for the answer.
        #[arg(long)]
        out: PathBuf,
        /// Also write the tables as CSV.
        #[arg(long)]
        csv: bool,
        /// Print `answer.json` instead of the report.
        #[arg(long)]
        json: bool,
        /// The load scale the shards ran with (`--load-scale`), if any.
        #[arg(long, value_name = "X")]
        load_scale: Option<f64>,
    },
}

#[derive(clap::Args)]
struct PlanRunArgs {
    /// Plan file (TOML), e.g. scenarios/plans/retail.toml.
    #[arg(required = true)]
    plan: Option<PathBuf>,
    /// Output folder (default: output/plan-NAME). Running again resumes.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads, 1 to 1024 (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Search only shard i of n (0-based), e.g. --shard 0/4; combine with `plan merge`.
    #[arg(long)]
    shard: Option<edgesim::sweep::exec::Shard>,
    /// Evaluate the full grid instead of searching (to check the search on small plans).
    #[arg(long)]
    grid: bool,
    /// Search at the traffic scenario's load times X (instead of the plan file's
    /// `load_scale`): rates times X, a trace's gaps divided by it, a closed loop's users times
    /// it, as `edgesim capacity` scales; e.g. --load-scale 1.5 for next year's traffic. Several,
    /// comma-separated (--load-scale 1,1.5,2): the plan at each load, each into OUT/load-Xx
    /// (default OUT: output/plan-NAME-growth), then the cheapest plans side by side.
    #[arg(long, value_name = "X[,Y...]", value_delimiter = ',')]
    load_scale: Vec<f64>,
    /// Also write the tables as CSV.
    #[arg(long)]
    csv: bool,
    /// Print `answer.json` instead of the report.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Clone)]
struct CapacityArgs {
    #[command(flatten)]
    args: ScenarioArgs,
    /// A service goal, KEY=VALUE (repeatable, at least one): ttft_p95_ms, ttft_p99_ms,
    /// e2e_p95_ms, e2e_p99_ms (most ms), max_reject_share, min_edge_share (in [0, 1]),
    /// max_cloud_usd_per_month (fees if the traffic lasted the month), e.g. --goal
    /// ttft_p95_ms=2000 --goal max_reject_share=0.01. A request class's goal is CLASS.KEY=VALUE
    /// (the keys above), e.g. --goal question.ttft_p95_ms=1500. With metric windows ([metrics]
    /// window_s), goals on the worst window: worst_window_ttft_p95_ms, worst_window_ttft_p99_ms,
    /// worst_window_e2e_p95_ms, worst_window_e2e_p99_ms (most ms), max_window_reject_share
    /// (on a class too: question.worst_window_ttft_p95_ms=2000).
    #[arg(long = "goal", value_name = "KEY=VALUE")]
    goals: Vec<String>,
    /// Runs per load (seeds SEED to SEED + N - 1), 1 to 1000; a goal holds on the 95 %
    /// confidence bound of its mean over them.
    #[arg(long, default_value_t = 3)]
    replications: u32,
    /// Stop when the highest load met and the lowest missed are within this share of each
    /// other, 0.001 to 1.
    #[arg(long, default_value_t = 0.02, allow_hyphen_values = true)]
    precision: f64,
    /// The least scale of the scenario's load tried, 1e-6 to 1.
    #[arg(long, default_value_t = 0.001, allow_hyphen_values = true)]
    min_scale: f64,
    /// The most scale of the scenario's load tried, 1 to 1e6.
    #[arg(long, default_value_t = 1000.0, allow_hyphen_values = true)]
    max_scale: f64,
    /// Hours a month with traffic like the scenario's, in (0, 730]: max_cloud_usd_per_month
    /// counts a run's cloud fees times this over its arrival window (a plan's
    /// costs.traffic_hours_per_month).
    #[arg(
        long,
        default_value_t = 730.0,
        allow_hyphen_values = true,
        value_name = "HOURS"
    )]
    traffic_hours_per_month: f64,
    /// Output folder for capacity.json, the table of loads, the curves and at-capacity.toml
    /// (default: output/SCENARIO-capacity).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write no output files.
    #[arg(long, conflicts_with_all = ["out", "csv"])]
    no_out: bool,
    /// Also write the table of loads as CSV.
    #[arg(long)]
    csv: bool,
    /// Worker threads, 1 to 1024 (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Print capacity.json instead of the report.
    #[arg(long)]
    json: bool,
    /// Find the capacity under each of these selection policies (comma-separated, e.g.
    /// random,load_aware; default: the scenario's own): one search each, written to
    /// OUT/POLICY (OUT new, empty, or an earlier such search's), and a table of the
    /// capacities; --json prints an array of {"policy", "capacity": capacity.json}.
    #[arg(long, value_delimiter = ',')]
    policies: Vec<String>,
}

/// `--goal KEY=VALUE` arguments, read: each key known and given once, each value a number
/// (checked against the scenario by [`edgesim::plan::goals`]). A class's goal is
/// `CLASS.KEY=VALUE`.
fn capacity_goals(given: &[String]) -> anyhow::Result<edgesim::plan::GoalsFile> {
    let mut file = edgesim::plan::GoalsFile::default();
    for g in given {
        let Some((key, value)) = g.split_once('=') else {
            anyhow::bail!("--goal {g}: write KEY=VALUE, e.g. --goal ttft_p95_ms=2000");
        };
        let key = key.trim();
        let entry = match key.rsplit_once('.') {
            None => file.entry(key).ok_or_else(|| {
                anyhow::anyhow!(
                    "--goal {g}: no goal `{key}`; the goals are {} (a request class's: \
                     CLASS.KEY with KEY one of them)",
                    edgesim::plan::GOAL_KEYS.join(", ")
                )
            })?,
            Some((class, k)) => file
                .classes
                .entry(class.to_string())
                .or_default()
                .entry(k)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--goal {g}: no goal `{k}` for a request class; the goals are {}",
                        edgesim::plan::GOAL_KEYS.join(", ")
                    )
                })?,
        };
        anyhow::ensure!(
            entry.is_none(),
            "--goal {g}: `{key}` is given twice; give each goal once"
        );
        let v: f64 = value
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("--goal {g}: `{}` is not a number", value.trim()))?;
        *entry = Some(v);
    }
    anyhow::ensure!(
        !given.is_empty(),
        "give at least one --goal KEY=VALUE, KEY one of {}",
        edgesim::plan::GOAL_KEYS.join(", ")
    );
    Ok(file)
}

/// Notes `head`, then the first ten of `items` indented, and how many more.
fn note_listed(head: &str, items: &[String]) {
    note!("{head}");
    for item in items.iter().take(10) {
        note!("  {item}");
    }
    if items.len() > 10 {
        note!("  ... and {} more", items.len() - 10);
    }
}

/// Notes the lines of a sweep's or a plan's journal that are not runs (none: nothing).
fn note_dropped(lines: &[String]) {
    let head = match lines.len() {
        0 => return,
        1 => "1 invalid entry dropped; its run is done again:".to_string(),
        n => format!("{n} invalid entries dropped; their runs are done again:"),
    };
    note_listed(&format!("warning: runs.jsonl: {head}"), lines);
}

/// `edgesim capacity`.
fn cmd_capacity(a: &CapacityArgs) -> anyhow::Result<()> {
    check_threads(a.threads)?;
    if !a.policies.is_empty() {
        return capacity_by_policy(a);
    }
    let answer = capacity_answer(a)?;
    if a.json {
        out(&(serde_json::to_string_pretty(&answer)? + "\n"))
    } else {
        out(&edgesim::capacity::output::to_text(&answer))
    }
}

/// The capacity search of `a` (its scenario as it is): progress on stderr, the files in its
/// output folder, and the answer.
fn capacity_answer(a: &CapacityArgs) -> anyhow::Result<edgesim::capacity::output::Answer> {
    let goals = capacity_goals(&a.goals)?;
    let sc = a.args.load()?;
    let classes: Vec<String> = sc.classes().iter().map(|c| c.name.clone()).collect();
    let cx = edgesim::check::Checker::new(std::path::Path::new("--goal"));
    let settings = edgesim::capacity::Settings {
        goals: edgesim::plan::goals(&cx, "", &goals, &classes, sc.metrics.window_s)?,
        replications: a.replications,
        precision: a.precision,
        min_scale: a.min_scale,
        max_scale: a.max_scale,
        traffic_hours_per_month: a.traffic_hours_per_month,
    };
    settings.check()?;
    warn_unread(&sc);
    if let Some(w) = edgesim::capacity::size_warning(&sc, &settings) {
        note!("warning: capacity {}: {w}", sc.name);
    }
    let dir = (!a.no_out).then(|| {
        a.out
            .clone()
            .unwrap_or_else(|| default_out(&format!("{}-capacity", sc.name)))
    });
    // The folder and the journal before the search: each run is recorded as it ends.
    let mut folder = None;
    if let Some(d) = &dir {
        let (f, warnings) = edgesim::capacity::output::begin(d, &sc)?;
        if !warnings.is_empty() {
            let head = match warnings.len() {
                1 => "1 entry of earlier searches' journals is left; its run is simulated again \
                      if needed:"
                    .to_string(),
                n => format!(
                    "{n} entries of earlier searches' journals are left; their runs are simulated \
                     again if needed:"
                ),
            };
            note_listed(&format!("warning: capacity {}: {head}", sc.name), &warnings);
        }
        if f.journal.earlier_runs() > 0 {
            note!(
                "capacity {}: {} runs of earlier searches into {} read from their journals",
                sc.name,
                f.journal.earlier_runs(),
                d.display()
            );
        }
        folder = Some(f);
    }
    let name = sc.name.clone();
    // Each load's runs take about its scale times the scenario's: the time shows it.
    let last = std::sync::Mutex::new(std::time::Instant::now());
    let progress = |p: &edgesim::capacity::Probe| {
        let secs = {
            let mut t = last.lock().unwrap_or_else(|e| e.into_inner());
            let s = t.elapsed().as_secs_f64();
            *t = std::time::Instant::now();
            s
        };
        let keys: Vec<String> = p
            .load
            .iter()
            .map(|(k, v)| format!("{k} = {}", edgesim::capacity::output::short(*v)))
            .collect();
        let missed: Vec<String> = p.failed.iter().map(|&g| settings.goals[g].name()).collect();
        let runs = match p.from_journal {
            0 => format!("{} runs", p.runs.len()),
            n => format!("{} runs, {n} from the journal", p.runs.len()),
        };
        note!(
            "capacity {name}: {}x ({}): {} ({runs}, {secs:.1} s)",
            edgesim::capacity::output::short(p.scale),
            keys.join(", "),
            if missed.is_empty() {
                "meets the goals".to_string()
            } else {
                format!("misses {}", missed.join(", "))
            },
        );
    };
    let kept = folder
        .as_ref()
        .map(edgesim::capacity::output::Folder::journal_path);
    let searched = || -> anyhow::Result<_> {
        let none = edgesim::capacity::journal::Journal::none(&sc);
        let journal = folder.as_ref().map_or(&none, |f| &f.journal);
        let outcome =
            edgesim::capacity::search_with(&sc, &settings, a.threads, journal, &progress)?;
        let answer = edgesim::capacity::output::answer(&sc, &settings, &outcome);
        if let (Some(d), Some(f)) = (&dir, folder) {
            let files = edgesim::capacity::output::write(
                f,
                &sc,
                &settings,
                &outcome,
                &edgesim::output::formats(a.csv),
            )?;
            note!("wrote {} files to {}", files.len(), d.display());
        }
        Ok((answer, outcome))
    };
    let (answer, outcome) = searched().inspect_err(|_| {
        // The runs done are kept as a killed search's are (`RunDir::keep_on_error`).
        if let (Some(j), Some(d)) = (&kept, &dir)
            && j.is_file()
        {
            note!(
                "capacity {}: the runs done are kept in {}; a search into {} reads them",
                sc.name,
                j.display(),
                d.display()
            );
        }
    })?;
    if let (Some(d), Some(_)) = (&dir, outcome.capacity) {
        note!(
            "the highest load met as a scenario: edgesim run {}",
            d.join(edgesim::capacity::output::AT_CAPACITY).display()
        );
    }
    Ok(answer)
}

/// `edgesim capacity --policies`: the search under each policy (the scenario with
/// `selection.kind` set), each written to OUT/POLICY, then the capacities side by side.
fn capacity_by_policy(a: &CapacityArgs) -> anyhow::Result<()> {
    let kinds = parse_policies(&a.policies)?;
    let out_root = match (&a.out, a.no_out) {
        (_, true) => None,
        (Some(d), false) => Some(d.clone()),
        // The scenario's name (each search warns of its overrides as it loads it).
        (None, false) => {
            let sc = Scenario::load(&a.args.scenario, &a.args.options())?;
            Some(default_out(&format!("{}-capacity", sc.name)))
        }
    };
    if let Some(d) = &out_root {
        check_policies_folder(d)?;
    }
    let mut answers = Vec::new();
    let mut text = String::new();
    for kind in &kinds {
        let mut one = a.clone();
        one.policies.clear();
        one.args
            .sets
            .push(format!("selection.kind=\"{}\"", kind.name()));
        one.out = out_root.as_ref().map(|d| d.join(kind.name()));
        // The search and its files as without `--policies`.
        let answer = capacity_answer(&one)?;
        text += &format!("== selection {}\n", kind.name());
        text += &edgesim::capacity::output::to_text(&answer);
        text += "\n";
        answers.push((kind.name(), answer));
    }
    if a.json {
        let all: Vec<serde_json::Value> = answers
            .iter()
            .map(|(p, a)| serde_json::json!({ "policy": p, "capacity": a }))
            .collect();
        out(&(serde_json::to_string_pretty(&all)? + "\n"))
    } else {
        let rows: Vec<(&str, &edgesim::capacity::output::Answer)> =
            answers.iter().map(|(p, a)| (*p, a)).collect();
        text += &edgesim::capacity::output::policies_table(&rows);
        out(&text)
    }
}

/// `capacity --policies --out D` writes D/POLICY for each policy: D must be new, empty, or hold
/// only the policies' folders of an earlier such search (each of which is then replaced only
/// if it is a capacity search's, as a single search's folder is) and the temporary folders of
/// such searches that were killed.
fn check_policies_folder(d: &std::path::Path) -> anyhow::Result<()> {
    check_subfolders(
        d,
        |name| {
            // A policy's folder, or the temporary one of a search into it that was killed
            // (`.POLICY.tmp-PID`: its journal is read by the next search).
            let policy = match name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp-")) {
                Some((policy, pid)) if pid.parse::<u32>().is_ok() => policy,
                _ => name,
            };
            SelectionKind::ALL.iter().any(|k| k.name() == policy)
        },
        "the policies' folders of an earlier `capacity --policies` (one folder per policy, e.g. \
         load_aware/)",
    )
}

/// Refuses an output folder `d` of several commands' folders that holds anything but folders
/// whose name is `ours` (`what` names them in the error); absent, it is new.
fn check_subfolders(
    d: &std::path::Path,
    ours: impl Fn(&str) -> bool,
    what: &str,
) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(d) else {
        // Absent; anything else is reported when the commands write there.
        return Ok(());
    };
    let foreign: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (!(e.path().is_dir() && ours(&name))).then_some(name)
        })
        .collect();
    anyhow::ensure!(
        foreign.is_empty(),
        "--out {}: holds {} besides {what}: choose a new or empty folder",
        d.display(),
        edgesim::output::rundir::some_names(&foreign)
    );
    Ok(())
}

/// A progress bar with `template` when stderr is a terminal (`None` otherwise: callers print
/// plain lines).
fn terminal_bar(template: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b
    })
}

/// Shows sweep progress: a bar on a terminal, plain lines (every 10 %) otherwise.
fn progress_reporter(label: String) -> impl Fn(edgesim::sweep::exec::Progress) + Sync {
    use std::sync::Mutex;
    let bar = terminal_bar("{msg} [{bar:30}] {pos}/{len} runs, {per_sec}, ETA {eta}");
    if let Some(b) = &bar {
        b.set_message(label.clone());
    }
    let last_decile = Mutex::new(None::<usize>);
    let start = std::time::Instant::now();
    move |p: edgesim::sweep::exec::Progress| {
        note_dropped(&p.redone);
        if let Some(b) = &bar {
            b.set_length(p.total as u64);
            b.set_position(p.done as u64);
            if p.done == p.total {
                b.finish();
            }
            return;
        }
        let decile = (p.done * 10).checked_div(p.total).unwrap_or(10);
        let mut last = last_decile.lock().unwrap_or_else(|e| e.into_inner());
        if *last != Some(decile) {
            *last = Some(decile);
            let secs = start.elapsed().as_secs_f64();
            let fresh = p.done - p.resumed;
            let rate = if secs > 0.0 { fresh as f64 / secs } else { 0.0 };
            note!(
                "{label}: {}/{} runs ({} resumed), {rate:.1} runs/s",
                p.done,
                p.total,
                p.resumed
            );
        }
    }
}

/// Prints the checks of a sweep; true if all passed.
fn report_checks(plan: &edgesim::sweep::Plan, runs: &[edgesim::sweep::exec::RunResult]) -> bool {
    let report = edgesim::sweep::check(plan, runs);
    note!("{report}");
    report.passed()
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["model", "from_llama_bench", "from_batched_bench", "from_measurements"])))]
struct CalibrateArgs {
    /// GGUF model to load and measure (needs a build with `--features llm`).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Build the profile from `llama-bench -o json` (or `-o jsonl`) output instead.
    #[arg(long, value_name = "RESULTS.json")]
    from_llama_bench: Option<PathBuf>,
    /// Build the profile from `llama-batched-bench` output (its Markdown table or
    /// `--output-format jsonl`): prefill, the batching curve D(n) and the context effect.
    #[arg(long, value_name = "RESULTS.md")]
    from_batched_bench: Option<PathBuf>,
    /// Fit again the measurements that a failed `--model` calibration kept (it names the
    /// file: PROFILE.measurements.toml beside --out), without measuring; power from
    /// --power-csv over the kept phases, or from --idle-watts and --busy-watts, else as metered.
    #[arg(long, value_name = "KEPT.toml")]
    from_measurements: Option<PathBuf>,
    /// Device name in the profile, e.g. orin-nano-qwen3b (with --from-measurements, default:
    /// the kept one).
    #[arg(long, required_unless_present = "from_measurements")]
    name: Option<String>,
    /// Catalogue key of the model (calibration/models.toml) (default: the model file's name
    /// without extension, lower case: --model's, or the one llama-bench names; for
    /// --from-batched-bench, the results file's; for --from-measurements, the kept one).
    #[arg(long)]
    model_name: Option<String>,
    /// Quantisation label (default: from the file).
    #[arg(long)]
    quant: Option<String>,
    /// Where to write the profile (TOML).
    #[arg(long)]
    out: PathBuf,
    /// llama.cpp threads, 1 to 1024 (default: all cores); with --from-llama-bench, picks those
    /// results.
    #[arg(long)]
    threads: Option<u32>,
    /// Layers offloaded to the GPU (default: 0); with --from-llama-bench, picks those results.
    #[arg(long)]
    gpu_layers: Option<u32>,
    /// Context size (default: just enough for the grid).
    #[arg(long)]
    ctx: Option<u32>,
    /// Prompt lengths for prefill and TTFT.
    #[arg(long, value_delimiter = ',', default_value = "64,256,1024")]
    prompts: Vec<u32>,
    /// Concurrent sequences for the decode curve D(n).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    streams: Vec<u32>,
    /// Tokens generated per sequence in each decode measurement.
    #[arg(long, default_value_t = 64)]
    decode_tokens: u32,
    /// Contexts for single-stream decode (tokens already in the cache), for the context effect
    /// on decode speed; the D(n) grid itself starts from 8 tokens.
    #[arg(long, value_delimiter = ',', default_value = "512")]
    contexts: Vec<u32>,
    /// Repetitions of each measurement.
    #[arg(long, default_value_t = 3)]
    repetitions: u32,
    /// Idle power in W (with --busy-watts, instead of a meter).
    #[arg(long, allow_hyphen_values = true)]
    idle_watts: Option<f64>,
    /// Busy power in W (with --idle-watts, instead of a meter).
    #[arg(long, allow_hyphen_values = true)]
    busy_watts: Option<f64>,
    /// An external power meter's CSV, logged during the run: a header naming the columns
    /// unix_time_s and watts (any order, others ignored), then the readings.
    #[arg(long)]
    power_csv: Option<PathBuf>,
    /// Seconds of idle power measurement.
    #[arg(long, default_value_t = 2.0, allow_hyphen_values = true)]
    idle_seconds: f64,
    /// Go on with a --model calibration that was interrupted: the points it measured (journalled
    /// in PROFILE.partial.toml beside --out) are kept, the rest measured. Needs the same model
    /// file, --threads, --gpu-layers, --ctx, --decode-tokens, --repetitions and power meter.
    #[arg(long)]
    resume: bool,
}

fn calibrate(a: &CalibrateArgs) -> anyhow::Result<()> {
    use edgesim::calibrate::{self as cal, ProfileMeta};
    for (flag, v) in [
        ("--idle-watts", a.idle_watts),
        ("--busy-watts", a.busy_watts),
    ] {
        if let Some(w) = v {
            let max = edgesim::device::profile::MAX_WATTS;
            anyhow::ensure!(
                w.is_finite() && (0.0..=max).contains(&w),
                "{flag} {}: must be a power in watts from 0 to {max}",
                edgesim::check::num(w)
            );
        }
    }
    anyhow::ensure!(
        a.idle_watts.is_some() == a.busy_watts.is_some(),
        "give both --idle-watts and --busy-watts, or neither"
    );
    let (max_tokens, max_streams) = (
        edgesim::workload::tokens::MAX_TOKENS,
        edgesim::device::fleet::MAX_SLOTS,
    );
    anyhow::ensure!(
        a.prompts.iter().all(|&p| (1..=max_tokens).contains(&p)) && !a.prompts.is_empty(),
        "--prompts: lengths must lie in [1, {max_tokens}]"
    );
    if let Some(i) = edgesim::check::first_repeat(&a.prompts) {
        anyhow::bail!(
            "--prompts: {} is given twice (again as number {} in the list); give each length \
             once (the prefill curve holds one speed per length)",
            a.prompts[i],
            i + 1
        );
    }
    anyhow::ensure!(
        a.contexts.iter().all(|&c| c <= max_tokens),
        "--contexts: contexts must be at most {max_tokens} tokens"
    );
    anyhow::ensure!(
        a.streams.contains(&1) && a.streams.iter().all(|&n| (1..=max_streams).contains(&n)),
        "--streams must include 1 (and lie in [1, {max_streams}], a device's most slots)"
    );
    // Before any measurement: a profile needs a board name and a model key.
    if let Some(name) = &a.name {
        anyhow::ensure!(
            !name.trim().is_empty(),
            "--name \"{name}\": must be non-empty (the board's name in the profile)"
        );
    }
    if let Some(m) = &a.model_name {
        anyhow::ensure!(
            !m.trim().is_empty(),
            "--model-name \"{m}\": must be non-empty (a key of the model catalogue)"
        );
    }
    anyhow::ensure!(
        (2..=max_tokens).contains(&a.decode_tokens),
        "--decode-tokens must lie in [2, {max_tokens}]"
    );
    anyhow::ensure!(
        (1..=1000).contains(&a.repetitions),
        "--repetitions must lie in [1, 1000]"
    );
    // Before any measurement: where the profile goes.
    cal::check_out(&a.out)?;
    let input = a
        .model
        .as_ref()
        .or(a.from_llama_bench.as_ref())
        .or(a.from_batched_bench.as_ref())
        .or(a.from_measurements.as_ref())
        .context("no input")?;
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let meta = ProfileMeta {
        device_name: a.name.clone().unwrap_or_default(),
        model_name: a.model_name.clone().unwrap_or(stem),
        model_name_defaulted: a.model_name.is_none(),
        quant: a.quant.clone().unwrap_or_default(),
        memory_gb: cal::mem_total_gb().unwrap_or(0.0),
        idle_watts: a.idle_watts,
        busy_watts: a.busy_watts,
        ..Default::default()
    };
    let profile = if let Some(bench) = &a.from_llama_bench {
        anyhow::ensure!(
            a.idle_watts.is_some(),
            "--from-llama-bench: llama-bench records no power; give --idle-watts and --busy-watts"
        );
        let p = cal::from_llama_bench(
            bench,
            a.threads.map(i64::from),
            a.gpu_layers.map(i64::from),
            &meta,
        )?;
        cal::write_profile(&p, &a.out)?;
        p
    } else if let Some(bench) = &a.from_batched_bench {
        anyhow::ensure!(
            a.idle_watts.is_some(),
            "--from-batched-bench: llama-batched-bench records no power; give --idle-watts and \
             --busy-watts"
        );
        let p = cal::from_batched_bench(bench, &meta)?;
        cal::write_profile(&p, &a.out)?;
        p
    } else if let Some(kept) = &a.from_measurements {
        cal::from_measurements(
            kept,
            &power_options(a),
            &meta,
            (a.name.is_some(), a.model_name.is_some()),
            &a.out,
        )?
    } else {
        // Writes the profile itself: if that fails, the measurements are kept.
        calibrate_model(a, &meta)?
    };
    let m = &profile.models[0];
    let model_name = &m.model;
    note!(
        "wrote {}: TTFT overhead {:.1} ms, prefill {:.0} tokens/s, D(n) = {:?} tokens/s, \
         +{:.3} ms per step per 1,000 context tokens, busy {:.1} W, idle {:.1} W",
        a.out.display(),
        m.ttft_overhead_ms,
        m.prefill_tps,
        m.decode_tps
            .iter()
            // Tenths, but a speed so large that ten times it overflows is shown whole.
            .map(|&d| {
                let tenths = (d * 10.0).round() / 10.0;
                if tenths.is_finite() { tenths } else { d }
            })
            .collect::<Vec<_>>(),
        m.decode_ms_per_1k_context,
        m.busy_w,
        profile.device.idle_w
    );
    let unread = profile.provenance.as_ref().and_then(|p| {
        p.get(edgesim::calibrate::POWER_CSV_UNREAD_LINE)
            .and_then(toml::Value::as_integer)
    });
    if let (Some(line), Some(csv)) = (unread, &a.power_csv) {
        note!(
            "note: {}:{line}: the meter's last row has no line break and was not read (it may \
             have been cut while the meter wrote it); the other rows gave the power",
            csv.display()
        );
    }
    if edgesim::catalogue::ModelCatalogue::builtin()
        .model(model_name)
        .is_none()
    {
        note!(
            "note: `{model_name}` is not in the built-in model catalogue; add it to a catalogue \
             (size, memory, quality: calibration/models.toml, or a copy that a scenario's \
             `model_catalogue` and `platforms --model-catalogue` name) or pass --model-name with \
             a catalogue key to use this profile in scenarios"
        );
    }
    Ok(())
}

/// The power options of a calibration.
fn power_options(a: &CalibrateArgs) -> edgesim::calibrate::PowerOptions {
    edgesim::calibrate::PowerOptions {
        idle_watts: a.idle_watts,
        busy_watts: a.busy_watts,
        csv: a.power_csv.clone(),
    }
}

#[cfg(feature = "llm")]
fn calibrate_model(
    a: &CalibrateArgs,
    meta: &edgesim::calibrate::ProfileMeta,
) -> anyhow::Result<edgesim::device::profile::DeviceProfile> {
    let model = a.model.clone().context("no model")?;
    check_threads(a.threads.map(|t| t as usize))?;
    let o = edgesim::calibrate::llama::Options {
        model,
        threads: a.threads.unwrap_or_else(available_threads),
        gpu_layers: a.gpu_layers.unwrap_or(0),
        ctx: a.ctx,
        prompts: a.prompts.clone(),
        streams: a.streams.clone(),
        decode_tokens: a.decode_tokens,
        contexts: a.contexts.clone(),
        repetitions: a.repetitions,
        idle_seconds: a.idle_seconds,
        resume: a.resume,
    };
    let power = power_options(a);
    let bar = terminal_bar("calibrate [{bar:30}] {pos}/{len} {msg} ({elapsed})");
    let progress = |done: usize, total: usize, what: &str| match &bar {
        Some(b) => {
            b.set_length(total as u64);
            b.set_position(done as u64);
            b.set_message(what.to_string());
        }
        None => note!("calibrate: {done}/{total} {what}"),
    };
    let p = edgesim::calibrate::from_model(&o, &power, meta, &a.out, &progress);
    // Cleared on an error too, so that the error is not printed under a stale bar.
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(p?)
}

#[cfg(not(feature = "llm"))]
fn calibrate_model(
    _: &CalibrateArgs,
    _: &edgesim::calibrate::ProfileMeta,
) -> anyhow::Result<edgesim::device::profile::DeviceProfile> {
    anyhow::bail!(
        "this edgesim was built without llama.cpp: rebuild with `cargo build --release --features llm` \
         (needs `apt-get install cmake libclang-dev`; about 5.5 minutes more on 2 cores), or use \
         --from-llama-bench with llama.cpp's llama-bench output"
    )
}

#[derive(clap::Args)]
struct FidelityArgs {
    /// GGUF model to serve.
    #[arg(long)]
    model: PathBuf,
    /// Device profile to simulate with (ideally calibrated on this machine): a file, or the
    /// name of a shipped profile (jetson-orin-nano, ...).
    #[arg(long)]
    profile: PathBuf,
    /// Scenario whose workload gives the requests (open loop: poisson, bursty or trace).
    #[arg(long)]
    scenario: PathBuf,
    /// Override scenario keys (as for `run`), e.g. --set workload.rate_rps=0.5.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Requests to serve (the first N arrivals).
    #[arg(long, default_value_t = 50)]
    requests: usize,
    /// Parallel sequences (slots).
    #[arg(long, default_value_t = 2)]
    parallel: u32,
    /// Catalogue model key in the profile (default: the profile's first model).
    #[arg(long)]
    model_name: Option<String>,
    /// llama.cpp threads, 1 to 1024 (default: all cores).
    #[arg(long)]
    threads: Option<u32>,
    /// Layers offloaded to the GPU.
    #[arg(long, default_value_t = 0)]
    gpu_layers: u32,
    /// Cap on prompt tokens per request.
    #[arg(long, default_value_t = 512)]
    max_prompt: u32,
    /// Cap on output tokens per request.
    #[arg(long, default_value_t = 128)]
    max_output: u32,
    /// Output folder (default: output/fidelity-SCENARIO).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the comparison as JSON.
    #[arg(long)]
    json: bool,
}

fn fidelity(a: &FidelityArgs) -> anyhow::Result<()> {
    use edgesim::fidelity as f;
    let sc = Scenario::load(
        &a.scenario,
        &LoadOptions {
            sets: a.sets.clone(),
            seed: a.seed,
        },
    )?;
    check_threads(a.threads.map(|t| t as usize))?;
    let o = f::Options {
        model: a.model.clone(),
        profile: a.profile.clone(),
        model_name: a.model_name.clone(),
        requests: a.requests,
        parallel: a.parallel,
        threads: a.threads.unwrap_or_else(available_threads),
        gpu_layers: a.gpu_layers,
        max_prompt: a.max_prompt,
        max_output: a.max_output,
    };
    o.check(&sc)?;
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| default_out(&format!("fidelity-{}", sc.name)));
    edgesim::output::rundir::check_replaceable(&dir, "output folder", "fidelity")?;
    note!(
        "serving {} requests of {} for real (open loop, {} parallel)...",
        a.requests,
        a.scenario.display(),
        a.parallel
    );
    let progress = |done: usize, total: usize| {
        if done.is_multiple_of(10) || done == total {
            note!("fidelity: {done}/{total} served");
        }
    };
    let run = f::run(&sc, &o, &dir, &progress)?;
    if a.json {
        out(&(serde_json::to_string_pretty(&run.report)? + "\n"))?;
    } else {
        out(&f::to_table(&run.report))?;
        note!("wrote {}", dir.display());
    }
    Ok(())
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario and print its summary.
    Run {
        #[command(flatten)]
        args: ScenarioArgs,
        /// Print the summary as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Output folder for summary.json, scenario.resolved.toml and the tables (requests,
        /// devices, timeseries, gateway) (default: output/SCENARIO).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write no output files (so no table flag applies).
        #[arg(long, conflicts_with_all = ["out", "csv", "no_requests", "bucket_s"])]
        no_out: bool,
        #[command(flatten)]
        tables: TableArgs,
        /// Threads, 1 to 1024 (default: all cores). A run uses at most three: the event loop,
        /// the arrivals drawn ahead and the tables written behind it; 1 keeps everything on
        /// one. Results do not depend on it.
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
    },
    /// Run one scenario and seed under several selection policies and write the paper's
    /// Figure 4 panels, latency CDFs and arrivals vs redirections (PNG, SVG and the data as CSV).
    Compare {
        #[command(flatten)]
        args: ScenarioArgs,
        /// Selection policies, comma-separated.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "random,weighted,load_aware"
        )]
        policies: Vec<String>,
        /// Output folder (default: output/SCENARIO-compare).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write no output files: print the summaries only.
        #[arg(long, conflicts_with_all = ["out", "bucket_s"])]
        no_out: bool,
        /// Width of the time-series buckets in seconds.
        #[arg(
            long,
            default_value_t = 60.0,
            value_name = "SECONDS",
            allow_hyphen_values = true
        )]
        bucket_s: f64,
        /// Print the summaries as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run a parameter sweep (axes over scenario keys x replications) in parallel, resumably;
    /// `sweep merge` combines shard folders.
    Sweep(SweepCmd),
    /// Find the cheapest fleet (device types and counts, slots, queue, policy, rate limit,
    /// cloud) that meets service goals; `plan merge` combines shard folders.
    Plan(PlanCmd),
    /// Find the most traffic a scenario's fleet serves within service goals: the scenario's
    /// load scaled up or down (arrival rates, a trace's pace, a closed loop's users) and
    /// bisected, each load judged over replications.
    Capacity(Box<CapacityArgs>),
    /// Measure a device profile: a GGUF model on this machine through llama.cpp (`--model`,
    /// needs the `llm` feature), or llama.cpp's own `llama-bench -o json` output.
    Calibrate(Box<CalibrateArgs>),
    /// Serve a scenario's requests for real on llama.cpp (one local device) and compare with the
    /// simulation of the same requests under a profile (needs the `llm` feature).
    Fidelity(Box<FidelityArgs>),
    /// Renamed: the llama.cpp comparison is `edgesim fidelity`; scenarios are checked by
    /// `edgesim check`.
    #[command(hide = true)]
    Validate {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        rest: Vec<String>,
    },
    /// Validate a scenario and print its resolved form without running it.
    Check {
        #[command(flatten)]
        args: ScenarioArgs,
    },
    /// Compare platforms (each device/model profile and cloud model) for one response: the
    /// paper's Table I (tokens/s, TTFT, power, energy, CPR, Q, R, U, PCR).
    Platforms {
        /// Folder of device profiles (default: the profiles shipped in calibration/, built in;
        /// a scenario names one by its file name without .toml, e.g. jetson-orin-nano).
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Prompt tokens of the response.
        #[arg(long, default_value_t = 50)]
        prompt_tokens: u32,
        /// Output tokens of the response.
        #[arg(long, default_value_t = 250)]
        output_tokens: u32,
        /// Weight of quality in U = a*Q + (1-a)*R, in [0, 1].
        #[arg(
            long,
            default_value_t = edgesim::metrics::settings::DEFAULT_ALPHA,
            allow_hyphen_values = true
        )]
        alpha: f64,
        /// Task whose quality is Q.
        #[arg(long, default_value = edgesim::metrics::settings::DEFAULT_TASK)]
        task: String,
        /// Model catalogue (sizes, quality, cloud prices and presets), as a scenario's
        /// `model_catalogue` (default: the built-in calibration/models.toml).
        #[arg(long)]
        model_catalogue: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Writes `text` to standard output. A closed pipe (`| head`) ends the program quietly; any
/// other failure (a full disk) is an error.
fn out(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(anyhow::anyhow!("cannot write to standard output: {e}")),
    }
}

/// `edgesim run`.
fn cmd_run(
    args: &ScenarioArgs,
    json: bool,
    dir: Option<PathBuf>,
    no_out: bool,
    tables: &TableArgs,
) -> anyhow::Result<()> {
    let opts = edgesim::output::OutputOptions {
        formats: edgesim::output::formats(tables.csv),
        requests: !tables.no_requests,
        bucket_s: edgesim::output::check_bucket_s("--bucket-s", tables.bucket_s)?,
    };
    let sc = args.load()?;
    warn_unread(&sc);
    let summary = if no_out {
        edgesim::sim::run(&sc)?
    } else {
        let dir = dir.unwrap_or_else(|| default_out(&sc.name));
        let (summary, files) = edgesim::output::run_to_dir(&sc, &dir, &opts)?;
        if !json {
            let names: Vec<String> = files
                .iter()
                .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            note!("wrote {}: {}", dir.display(), names.join(", "));
        }
        summary
    };
    if summary.requests_total == 0 {
        note!(
            "warning: no request arrived during the run; check duration_s and the workload's rate"
        );
    }
    if json {
        out(&report::to_json(&summary))
    } else {
        out(&report::to_table(&summary))
    }
}

/// `--policies`: selection policies by name, each once.
fn parse_policies(policies: &[String]) -> anyhow::Result<Vec<SelectionKind>> {
    let kinds = policies
        .iter()
        .map(|p| p.trim().parse::<SelectionKind>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--policies: {e}"))?;
    anyhow::ensure!(!kinds.is_empty(), "--policies: name at least one policy");
    if let Some(i) = edgesim::check::first_repeat(&kinds) {
        anyhow::bail!(
            "--policies: {} is given twice (again as number {} in the list); name each policy once",
            policies[i].trim(),
            i + 1
        );
    }
    Ok(kinds)
}

/// `edgesim compare`.
/// `edgesim compare`: into `dir` (its `--out`, `None` for the default folder), or writing
/// nothing with `dir` `None` (`--no-out`).
fn cmd_compare(
    args: &ScenarioArgs,
    policies: &[String],
    dir: Option<Option<PathBuf>>,
    bucket_s: f64,
    json: bool,
) -> anyhow::Result<()> {
    let bucket_s = edgesim::output::check_bucket_s("--bucket-s", bucket_s)?;
    let kinds = parse_policies(policies)?;
    let sc = args.load()?;
    let dir = dir.map(|d| d.unwrap_or_else(|| default_out(&format!("{}-compare", sc.name))));
    if let Some(d) = &dir {
        edgesim::output::rundir::check_replaceable(d, "output folder", "compare")?;
    }
    let runs = edgesim::compare::run(&sc, &kinds, bucket_s)?;
    let files = match &dir {
        Some(d) => Some(edgesim::compare::write(d, &sc.name, &runs)?),
        None => None,
    };
    if json {
        let all: Vec<_> = runs.iter().map(|r| &r.summary).collect();
        out(&(serde_json::to_string_pretty(&all)? + "\n"))
    } else {
        out(&edgesim::compare::to_table(&runs))?;
        if let (Some(files), Some(d)) = (files, &dir) {
            note!("wrote {} files to {}", files.len(), d.display());
        }
        Ok(())
    }
}

/// `edgesim sweep` and `edgesim sweep merge`; `Ok(false)` if a check failed.
fn cmd_sweep(cmd: SweepCmd) -> anyhow::Result<bool> {
    let SweepCmd { sub, run } = cmd;
    let (plan, runs, check) = match sub {
        Some(SweepSub::Merge {
            shards,
            out: dir,
            csv,
            check,
        }) => {
            let (plan, runs, files) =
                edgesim::sweep::merge(&shards, &dir, &edgesim::output::formats(csv))?;
            note!(
                "merged {} runs into {} ({} files)",
                runs.len(),
                dir.display(),
                files.len()
            );
            (plan, runs, check)
        }
        None => {
            let path = run.sweep.context("give a sweep file")?;
            check_threads(run.threads)?;
            if let (Some(shard), true) = (run.shard, run.check) {
                anyhow::bail!(
                    "--check with --shard {shard}: expectations compare means over all of a \
                     point's replications, and a shard runs only some of them, so its checks \
                     would fail or pass by chance; check the whole sweep once the shards are \
                     done: edgesim sweep merge SHARD_DIR... --out DIR --check"
                );
            }
            let plan = edgesim::sweep::Plan::load(&path)?;
            for w in plan.warnings() {
                note!("warning: {w}");
            }
            let dir = run
                .out
                .unwrap_or_else(|| default_out(&format!("sweep-{}", plan.name)));
            note!(
                "sweep {}: {} points x {} replications = {} runs{}",
                plan.name,
                plan.points.len(),
                plan.replications,
                plan.runs(),
                run.shard.map_or(String::new(), |s| format!(", shard {s}"))
            );
            let progress = progress_reporter(format!("sweep {}", plan.name));
            let (runs, files) = edgesim::sweep::run(
                &plan,
                &dir,
                run.shard,
                run.threads,
                &edgesim::output::formats(run.csv),
                &progress,
            )?;
            note!("wrote {} ({} files)", dir.display(), files.len());
            (plan, runs, run.check)
        }
    };
    Ok(!check || report_checks(&plan, &runs))
}

/// Seconds between two progress lines of `edgesim plan` when stderr is not a terminal:
/// `EDGESIM_PROGRESS_S` (a number >= 0), else 30.
fn progress_interval_s() -> anyhow::Result<f64> {
    let every_s = edgesim::check::env_number(
        "EDGESIM_PROGRESS_S",
        |v| v >= 0.0,
        "must be a number of seconds >= 0 between progress lines (0: a line per run; unset: 30)",
    )?;
    Ok(every_s.unwrap_or(30.0))
}

/// `edgesim plan` and `edgesim plan merge`.
fn cmd_plan(cmd: PlanCmd) -> anyhow::Result<()> {
    let PlanCmd { sub, run } = cmd;
    let started = std::time::Instant::now();
    match sub {
        Some(PlanSub::Merge {
            plan,
            shards,
            out: dir,
            csv,
            json,
            load_scale,
        }) => {
            let planner = edgesim::plan::Planner::load_scaled(&plan, load_scale)?;
            edgesim::sweep::exec::check_shards(&shards, &dir)?;
            edgesim::output::rundir::check_reusable(
                &dir,
                edgesim::output::rundir::Kind::Plan,
                "--out",
            )?;
            let outcome = edgesim::plan::search::merge(&planner, &shards, None)?;
            let _lock = edgesim::output::rundir::lock_folder(
                &dir,
                edgesim::output::rundir::Kind::Plan,
                "--out",
            )?;
            // The shards' runs, as the folder's journal: a search into it reads them.
            edgesim::plan::search::write_merged_journal(&planner, &shards, &dir)?;
            let answer = plan_written(&planner, &outcome, &dir, csv, started)?;
            print_plan(&planner, &answer, json)
        }
        None if run.load_scale.len() > 1 => plan_growth(&run, &run.load_scale, false),
        None => {
            let path = run.plan.as_deref().context("give a plan file")?;
            if run.load_scale.is_empty() {
                let listed = edgesim::plan::Planner::file_load_scales(path)?;
                if listed.len() > 1 {
                    return plan_growth(&run, &listed, true);
                }
            }
            check_threads(run.threads)?;
            let mut planner =
                edgesim::plan::Planner::load_scaled(path, run.load_scale.first().copied())?;
            if run.grid {
                planner.method = edgesim::plan::Method::Grid;
            }
            let dir = run
                .out
                .clone()
                .unwrap_or_else(|| default_out(&format!("plan-{}", planner.name)));
            let (answer, _) = plan_searched(&run, &planner, &dir, true)?;
            print_plan(&planner, &answer, run.json)
        }
    }
}

/// Prints a plan's answer: the report, or `answer.json`'s text with `json`.
fn print_plan(
    planner: &edgesim::plan::Planner,
    answer: &edgesim::plan::output::Answer,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        out(&(serde_json::to_string_pretty(answer)? + "\n"))
    } else {
        out(&edgesim::plan::output::to_text(planner, answer))
    }
}

/// Warns on stderr of a plan whose runs are many (`Planner::size_warning`), before its search.
fn plan_size_warning(planner: &edgesim::plan::Planner) {
    if let Some(w) = planner.size_warning() {
        note!("warning: plan {}: {w}", planner.name);
    }
}

/// Searches `planner` as `run` asks into `dir` (resuming from its journal), with progress on
/// stderr (and its size's warning with `warn_size`), and writes its files: the answer, and the
/// cheapest plan meeting every goal.
fn plan_searched(
    run: &PlanRunArgs,
    planner: &edgesim::plan::Planner,
    dir: &std::path::Path,
    warn_size: bool,
) -> anyhow::Result<(edgesim::plan::output::Answer, Option<edgesim::plan::Point>)> {
    let started = std::time::Instant::now();
    let every_s = progress_interval_s()?;
    note!(
        "plan {}: {} device types, a grid of {} plans x {} replications of about {} \
         requests each{}{}",
        planner.name,
        planner.types.len(),
        planner.grid_size(),
        planner.replications,
        planner.requests_per_run.round(),
        if planner.load_scale == 1.0 {
            String::new()
        } else {
            format!(
                ", at {}x the scenario's load",
                edgesim::check::num(planner.load_scale)
            )
        },
        run.shard.map_or(String::new(), |s| format!(", shard {s}"))
    );
    if warn_size {
        plan_size_warning(planner);
    }
    let bar = terminal_bar("{msg} {pos} runs, {per_sec}");
    if let Some(b) = &bar {
        b.set_message(format!("plan {}", planner.name));
    }
    // Off a terminal (a log, CI), a line at most every `progress_interval_s()`: the
    // number of runs is not known in advance (the bound skips branches), so no
    // percentage.
    let last_line = std::sync::Mutex::new(started);
    let progress = |n: usize| {
        if let Some(b) = &bar {
            b.set_position(n as u64);
            return;
        }
        let mut last = last_line.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed().as_secs_f64() >= every_s {
            *last = std::time::Instant::now();
            let secs = started.elapsed().as_secs_f64();
            note!(
                "plan {}: {n} runs simulated in {secs:.1} s, {:.1} runs/s",
                planner.name,
                n as f64 / secs
            );
        }
    };
    // Held until the answer is written: the search's journal, then the tables.
    edgesim::plan::search::check_before_writing(planner, run.shard)?;
    let _lock =
        edgesim::output::rundir::lock_folder(dir, edgesim::output::rundir::Kind::Plan, "--out")?;
    let (outcome, warnings) =
        edgesim::plan::search::search(planner, dir, run.shard, run.threads, &progress)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    note_dropped(&warnings);
    note!(
        "simulated {} runs, {} from the journal",
        outcome.simulated,
        outcome.runs.saturating_sub(outcome.simulated)
    );
    let answer = plan_written(planner, &outcome, dir, run.csv, started)?;
    let best = outcome.best.map(|i| outcome.evaluations[i].point.clone());
    Ok((answer, best))
}

/// Writes a plan's files into `dir` (locked by the caller) and says where: the answer.
fn plan_written(
    planner: &edgesim::plan::Planner,
    outcome: &edgesim::plan::search::Outcome,
    dir: &std::path::Path,
    csv: bool,
    started: std::time::Instant,
) -> anyhow::Result<edgesim::plan::output::Answer> {
    let files =
        edgesim::plan::output::write(dir, planner, outcome, &edgesim::output::formats(csv))?;
    let answer = edgesim::plan::output::answer(planner, outcome);
    note!(
        "wrote {} ({} files) in {:.1} s",
        dir.display(),
        files.len() + 1,
        started.elapsed().as_secs_f64()
    );
    use edgesim::plan::output::Answered;
    for which in [Answered::Cheapest, Answered::EdgeOnly] {
        let p = dir.join(which.file());
        if files.contains(&p) {
            note!(
                "{} as a scenario: edgesim run {}",
                which.describe(),
                p.display()
            );
        }
    }
    if let n @ 1.. = answer.pareto.len() {
        note!(
            "the Pareto front's {n} plan{} as scenarios: {}{}",
            if n == 1 { "" } else { "s" },
            dir.join(Answered::Pareto(1).file()).display(),
            if n == 1 {
                String::new()
            } else {
                format!(" to {}", Answered::Pareto(n).file())
            }
        );
    }
    Ok(answer)
}

/// `edgesim plan --load-scale X,Y,...` (or a plan file's `load_scale = [X, Y, ...]`,
/// `from_file`): the plan searched at each of `loads`, each into its folder `OUT/load-Xx`
/// (resumable as a plan's), each report under its load, then the cheapest plan at each load
/// side by side.
fn plan_growth(run: &PlanRunArgs, loads: &[f64], from_file: bool) -> anyhow::Result<()> {
    let path = run.plan.as_deref().context("give a plan file")?;
    check_threads(run.threads)?;
    anyhow::ensure!(
        run.shard.is_none(),
        "--shard searches one load: give one --load-scale with --shard, the same to `plan merge` \
         with --out OUT/load-Xx for each load, then this command with --out OUT reads the merged \
         runs"
    );
    for (i, x) in loads.iter().enumerate() {
        anyhow::ensure!(
            !loads[..i].contains(x),
            "--load-scale {}: given twice; give each load once",
            edgesim::check::num(*x)
        );
    }
    // Every load checked before any is searched.
    let planners = loads
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let mut p = if from_file {
                edgesim::plan::Planner::load_at(path, i)?
            } else {
                edgesim::plan::Planner::load_scaled(path, Some(x))?
            };
            if run.grid {
                p.method = edgesim::plan::Method::Grid;
            }
            Ok(p)
        })
        .collect::<edgesim::Result<Vec<_>>>()?;
    let root = run
        .out
        .clone()
        .unwrap_or_else(|| default_out(&format!("plan-{}-growth", planners[0].name)));
    check_growth_folder(&root)?;
    // Every load's size told before the first search, not when that load's search starts.
    for pl in &planners {
        plan_size_warning(pl);
    }
    let mut text = String::new();
    let mut answers = Vec::new();
    let mut cheapest = Vec::new();
    for pl in &planners {
        let dir = root.join(growth_folder(pl.load_scale));
        let (answer, best) = plan_searched(run, pl, &dir, false)?;
        text += &format!("== load {}x\n", edgesim::check::num(pl.load_scale));
        text += &edgesim::plan::output::to_text(pl, &answer);
        text += "\n";
        answers.push((pl.load_scale, answer));
        cheapest.push(best);
    }
    // Each load's cheapest plan at every other load, from that load's journal where it holds
    // the runs (nothing is recorded: each load's folder stays its search's).
    let mut across: Vec<Vec<Option<edgesim::plan::output::PlanReport>>> =
        vec![vec![None; planners.len()]; planners.len()];
    for (j, pl) in planners.iter().enumerate() {
        let dir = root.join(growth_folder(pl.load_scale));
        let others: Vec<(usize, edgesim::plan::Point)> = cheapest
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((i, p.clone()?)))
            .filter(|&(i, _)| i != j)
            .collect();
        across[j][j].clone_from(&answers[j].1.cheapest);
        if others.is_empty() {
            continue;
        }
        let points: Vec<edgesim::plan::Point> = others.iter().map(|(_, p)| p.clone()).collect();
        let evaluated = edgesim::plan::search::evaluate_points(pl, &dir, &points, run.threads)?;
        for ((i, _), e) in others.iter().zip(&evaluated) {
            across[*i][j] = Some(edgesim::plan::output::report(pl, e));
        }
    }
    let rows: Vec<(f64, Vec<edgesim::plan::output::PlanReport>)> = planners
        .iter()
        .zip(&across)
        .filter_map(|(pl, r)| Some((pl.load_scale, r.iter().cloned().collect::<Option<_>>()?)))
        .collect();
    if run.json {
        let all: Vec<serde_json::Value> = answers
            .iter()
            .zip(&across)
            .map(|((x, a), r)| {
                let at: Vec<serde_json::Value> = planners
                    .iter()
                    .zip(r)
                    .filter_map(|(pl, rep)| {
                        Some(serde_json::json!({ "load_scale": pl.load_scale, "plan": rep.as_ref()? }))
                    })
                    .collect();
                serde_json::json!({ "load_scale": x, "plan": a, "cheapest_at_each_load": at })
            })
            .collect();
        out(&(serde_json::to_string_pretty(&all)? + "\n"))
    } else {
        let table: Vec<(f64, &edgesim::plan::output::Answer)> =
            answers.iter().map(|(x, a)| (*x, a)).collect();
        text += &edgesim::plan::output::growth_table(&table);
        if rows.len() > 1 {
            text += "\n";
            let loads: Vec<f64> = planners.iter().map(|p| p.load_scale).collect();
            text += &edgesim::plan::output::growth_cross_table(&loads, &rows);
        }
        out(&text)
    }
}

/// The folder of load `x` in a growth plan's output folder.
fn growth_folder(x: f64) -> String {
    format!("load-{}x", edgesim::check::num(x))
}

/// Refuses a growth plan's output folder that holds anything but the loads' folders of
/// earlier growth plans (`load-Xx`).
fn check_growth_folder(d: &std::path::Path) -> anyhow::Result<()> {
    check_subfolders(
        d,
        |name| {
            name.strip_prefix("load-")
                .and_then(|n| n.strip_suffix('x'))
                .and_then(|n| n.parse::<f64>().ok())
                .is_some_and(|x| x.is_finite() && x > 0.0 && growth_folder(x) == name)
        },
        "the loads' folders of an earlier `plan --load-scale X,Y,...` (one folder per load, e.g. \
         load-1.5x/)",
    )
}

/// Warns of the settings the scenario's selection policy does not read.
fn warn_unread(sc: &edgesim::scenario::Scenario) {
    for w in sc.unread_settings() {
        note!("warning: {}: {w}", sc.source.display());
    }
}

/// `edgesim check`.
fn cmd_check(args: &ScenarioArgs) -> anyhow::Result<()> {
    let sc = args.load()?;
    warn_unread(&sc);
    out(&sc.resolved_toml())?;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    note!(
        "{}: ok ({}, {})",
        args.scenario.display(),
        plural(sc.device_count(), "device", "devices"),
        plural(sc.classes().len(), "class", "classes")
    );
    Ok(())
}

/// `edgesim platforms`.
fn cmd_platforms(
    calibration: Option<PathBuf>,
    model_catalogue: Option<PathBuf>,
    p: edgesim::platforms::PlatformParams,
    json: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&p.alpha),
        "--alpha {}: must lie in [0, 1]",
        p.alpha
    );
    let max = edgesim::workload::tokens::MAX_TOKENS;
    for (flag, n) in [
        ("--prompt-tokens", p.prompt_tokens),
        ("--output-tokens", p.output_tokens),
    ] {
        // As a scenario's token distributions: at least 1, at most MAX_TOKENS.
        anyhow::ensure!(
            (1..=max).contains(&n),
            "{flag} {n}: must lie in [1, {max}] (tokens of one response)"
        );
    }
    let catalogue = match &model_catalogue {
        Some(path) => edgesim::catalogue::ModelCatalogue::load(path)?,
        None => edgesim::catalogue::ModelCatalogue::builtin(),
    };
    catalogue.check_task(&p.task).map_err(|problem| {
        let task = edgesim::check::excerpt(&p.task, edgesim::check::EXCERPT_CHARS);
        anyhow::anyhow!("--task \"{task}\": {problem}")
    })?;
    let rows = edgesim::platforms::compare(calibration.as_deref(), &catalogue, &p)?;
    if json {
        out(&(serde_json::to_string_pretty(&serde_json::json!({ "platforms": rows }))? + "\n"))
    } else {
        out(&edgesim::platforms::to_table(&rows, &p))
    }
}

/// Runs the command; `Ok(false)` means it ran but a check failed (exit code 1).
fn run(cli: Cli) -> anyhow::Result<bool> {
    // A malformed limit is refused before anything runs, not replaced by the default.
    edgesim::scenario::budget::memory_limit_from_env()?;
    match cli.command {
        Command::Run {
            args,
            json,
            out: dir,
            no_out,
            tables,
            threads,
        } => {
            check_threads(threads)?;
            edgesim::engine::set_helper_threads(threads.is_none_or(|n| n > 1));
            cmd_run(&args, json, dir, no_out, &tables)?
        }
        Command::Compare {
            args,
            policies,
            out: dir,
            no_out,
            bucket_s,
            json,
        } => cmd_compare(&args, &policies, (!no_out).then_some(dir), bucket_s, json)?,
        Command::Sweep(cmd) => return cmd_sweep(cmd),
        Command::Plan(cmd) => cmd_plan(cmd)?,
        Command::Capacity(a) => cmd_capacity(&a)?,
        Command::Calibrate(a) => calibrate(&a)?,
        Command::Fidelity(a) => fidelity(&a)?,
        Command::Validate { .. } => anyhow::bail!(
            "`edgesim validate` is now `edgesim fidelity` (serve a scenario for real on llama.cpp \
             and compare with the simulation); to check a scenario file, use `edgesim check`"
        ),
        Command::Check { args } => cmd_check(&args)?,
        Command::Platforms {
            calibration,
            prompt_tokens,
            output_tokens,
            alpha,
            task,
            model_catalogue,
            json,
        } => {
            let p = edgesim::platforms::PlatformParams {
                prompt_tokens,
                output_tokens,
                alpha,
                task,
                ..Default::default()
            };
            cmd_platforms(calibration, model_catalogue, p, json)?;
        }
    }
    Ok(true)
}

/// Warnings for `calibrate` flags that the chosen input does not read (they set how `--model`
/// measures, or pick llama-bench results), given on the command line: they would be dropped
/// without a word.
fn unread_calibrate_flags(matches: &clap::ArgMatches) -> Vec<String> {
    let Some(("calibrate", c)) = matches.subcommand() else {
        return Vec::new();
    };
    let given = |id: &str| c.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    let measuring = [
        "resume",
        "ctx",
        "prompts",
        "streams",
        "decode_tokens",
        "contexts",
        "repetitions",
        "idle_seconds",
    ];
    let (input, also): (&str, &[&str]) = if given("model") {
        return Vec::new();
    } else if given("from_llama_bench") {
        ("--from-llama-bench", &["power_csv"])
    } else if given("from_batched_bench") {
        (
            "--from-batched-bench",
            &["threads", "gpu_layers", "power_csv"],
        )
    } else {
        ("--from-measurements", &["threads", "gpu_layers"])
    };
    measuring
        .iter()
        .chain(also)
        .filter(|id| given(id))
        .map(|id| {
            let why = match *id {
                "power_csv" => {
                    "its results hold no phase times to read a meter's log against; \
                                the watts come from --idle-watts and --busy-watts"
                }
                "threads" | "gpu_layers" if input == "--from-measurements" => {
                    "it sets how --model measures; the kept file records what was used"
                }
                "threads" | "gpu_layers" => "it picks --from-llama-bench results",
                "resume" => "it goes on with an interrupted --model calibration",
                _ => "it sets how --model measures",
            };
            format!(
                "warning: --{} is not read with {input}: {why}",
                id.replace('_', "-")
            )
        })
        .collect()
}

fn main() -> ExitCode {
    use clap::{CommandFactory as _, FromArgMatches as _};
    // Sweeps and plans run many simulations: each reuses the memory the one before it freed
    // (a no-op off glibc; docs/performance.md, "Memory kept between runs").
    edgesim::keep_freed_memory();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    for w in unread_calibrate_flags(&matches) {
        note!("{w}");
    }
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            note!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
