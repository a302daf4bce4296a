//! Parameter sweeps: a base scenario, axes over any scenario key (cartesian product; zipped
//! axes move several keys together), replications with common random numbers, parallel runs,
//! resumable journals, shards, aggregated tables, figures and checkable expectations.
//!
//! The file format is in `docs/sweeps.md`.

pub mod aggregate;
pub mod exec;
pub mod metrics;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::check::InputCache;
use crate::error::{Error, Result};
use crate::scenario::{LoadOptions, Scenario};

/// The most replications per point.
pub const MAX_REPLICATIONS: u32 = 100_000;

/// The most runs (points x replications) in one sweep; shard larger studies.
pub const MAX_RUNS: u64 = 10_000_000;

/// The bytes a point may take in a sweep's `plan.json` (its values pretty-printed, about 15
/// bytes each with the layout), for the bound on reading it back.
const PLAN_BYTES_PER_POINT: u64 = 256;

/// The most panels in one figure of `[[plots]]` (one per combination of the axes other than
/// `x` and `series`).
pub const MAX_PANELS: usize = 64;

/// A sweep file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// Sweep name (default: the file stem).
    pub name: Option<String>,
    /// Base scenario, relative to the sweep file.
    pub scenario: String,
    /// Runs per point (replication r uses seed `seed + r` at every point).
    #[serde(default = "one")]
    pub replications: u32,
    /// Base seed (default: the base scenario's).
    pub seed: Option<u64>,
    /// Axes; the points are their cartesian product.
    #[serde(default)]
    pub axes: Vec<AxisFile>,
    /// Expectations checked by `--check`.
    #[serde(default)]
    pub expect: Vec<ExpectFile>,
    /// Figures of a metric against an axis.
    #[serde(default)]
    pub plots: Vec<PlotFile>,
}

fn one() -> u32 {
    1
}

/// One axis: `key` with `values`, or zipped `keys` with one array of values per step.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisFile {
    /// A scenario key, e.g. `workload.burst_rate_rps`.
    pub key: Option<String>,
    /// Several keys that move together (a zipped axis).
    pub keys: Option<Vec<String>>,
    /// The values (for `keys`: arrays, one value per key).
    pub values: Vec<toml::Value>,
}

/// One side of an expectation.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SideFile {
    /// A metric (column of the run table).
    pub metric: Option<String>,
    /// A constant instead of a metric.
    pub value: Option<f64>,
    /// Restricts the side to points with these axis values.
    #[serde(rename = "where", default)]
    pub filter: BTreeMap<String, toml::Value>,
    /// Multiplies the side.
    #[serde(default = "one_f")]
    pub factor: f64,
}

fn one_f() -> f64 {
    1.0
}

/// `left op right`, checked on the means over replications at every combination of the axes
/// that neither side's `where` names.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExpectFile {
    /// What the expectation says, in words.
    pub name: String,
    /// Left side (a metric).
    pub left: SideFile,
    /// `<`, `<=`, `>` or `>=`.
    pub op: String,
    /// Right side (a metric or a value).
    pub right: SideFile,
}

/// A figure: `metric` against axis `x`, one line per value of axis `series`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlotFile {
    /// Metric on the y axis.
    pub metric: String,
    /// Axis key on the x axis (numeric values).
    pub x: String,
    /// Axis key whose values are the lines.
    pub series: Option<String>,
}

/// A validated axis: keys and, per step, one value per key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Axis {
    /// Scenario keys.
    pub keys: Vec<String>,
    /// `values[step][key]`, as TOML text.
    pub values: Vec<Vec<String>>,
}

/// A validated sweep: what runs, and what is checked and plotted. Saved as `plan.json` in the
/// output folder (so that `sweep merge` needs only the folders).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    /// Name.
    pub name: String,
    /// Base scenario file.
    pub scenario: PathBuf,
    /// Replications per point.
    pub replications: u32,
    /// Base seed.
    pub seed: u64,
    /// Axes.
    pub axes: Vec<Axis>,
    /// Column names: every axis key, in order.
    pub columns: Vec<String>,
    /// Points: `points[p][column]` = value as TOML text.
    pub points: Vec<Vec<String>>,
    /// Expectations.
    pub expect: Vec<ExpectFile>,
    /// Figures.
    pub plots: Vec<PlotFile>,
    /// Hash of the sweep and base scenario texts: a journal from another sweep is refused.
    pub fingerprint: String,
    /// Hash of what the sweep's runs depend on: the sweep file without `expect` and `plots`,
    /// and the base scenario, both parsed and written again with keys sorted (comments and
    /// spacing do not count), and the input files its points read (traces, profile files,
    /// model catalogues: [`InputCache::files_digest`]). A journal with the same serves this sweep: its runs are this
    /// sweep's. Not saved in `plan.json` (empty when read back from it).
    #[serde(skip)]
    pub runs_fingerprint: String,
    /// The request classes of the points' scenarios with two or more, by name: the base
    /// scenario's, then those its axes give, in point order (empty when no point has two or
    /// more). Each has its metrics, `NAME.METRIC`, after the run's (see
    /// [`Plan::metric_names`]); a run without the class leaves them empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// The base scenario, parsed once; every point is built from it.
    #[serde(skip)]
    base: Option<toml::Value>,
    /// Input files (profiles, traces) read once for all points.
    #[serde(skip)]
    cache: Arc<InputCache>,
    /// Each column by its key's path, built at the first lookup ([`Plan::column`]).
    #[serde(skip)]
    column_paths: std::sync::OnceLock<std::collections::HashMap<Vec<String>, usize>>,
}

impl PartialEq for Plan {
    /// Plans are equal when they run and check the same things (the parsed base and the file
    /// cache are working state).
    fn eq(&self, o: &Plan) -> bool {
        (
            &self.name,
            &self.scenario,
            self.replications,
            self.seed,
            &self.axes,
            &self.columns,
            &self.points,
            &self.expect,
            &self.plots,
            &self.fingerprint,
            &self.classes,
        ) == (
            &o.name,
            &o.scenario,
            o.replications,
            o.seed,
            &o.axes,
            &o.columns,
            &o.points,
            &o.expect,
            &o.plots,
            &o.fingerprint,
            &o.classes,
        )
    }
}

/// The request classes whose metrics a run of `s` records, by name: its classes with two or
/// more (a scenario without classes has one, `default`, whose metrics are the run's).
fn recorded_classes(s: &Scenario) -> Vec<String> {
    match s.classes() {
        [_] => Vec::new(),
        c => c.iter().map(|c| c.name.clone()).collect(),
    }
}

/// The outcome of checking a sweep's expectations.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckReport {
    /// One line per violated expectation.
    pub violations: Vec<String>,
    /// Expectations in the sweep.
    pub expectations: usize,
    /// Comparisons made.
    pub comparisons: usize,
}

impl CheckReport {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for v in &self.violations {
            writeln!(f, "{v}")?;
        }
        write!(
            f,
            "checks: {} expectations, {} comparisons, {} failed",
            self.expectations,
            self.comparisons,
            self.violations.len()
        )
    }
}

/// Checks the expectations of `plan` on `runs`.
pub fn check(plan: &Plan, runs: &[exec::RunResult]) -> CheckReport {
    let stats = aggregate::PointStats::for_checks_and_figures(plan, runs);
    let (violations, comparisons) = aggregate::check(plan, &stats);
    CheckReport {
        violations: violations.iter().map(ToString::to_string).collect(),
        expectations: plan.expect.len(),
        comparisons,
    }
}

/// Runs (or resumes) `plan` (or `shard` of it) into `dir` on `threads` threads and writes its
/// tables in `formats` and its figures, holding the folder's lock
/// ([`crate::output::rundir::lock_folder`]) throughout. Returns the runs and the files written.
pub fn run(
    plan: &Plan,
    dir: &Path,
    shard: Option<exec::Shard>,
    threads: Option<usize>,
    formats: &[crate::output::Format],
    progress: &(dyn Fn(exec::Progress) + Sync),
) -> Result<(Vec<exec::RunResult>, Vec<PathBuf>)> {
    let _lock =
        crate::output::rundir::lock_folder(dir, crate::output::rundir::Kind::Sweep, "--out")?;
    let runs = exec::execute(plan, dir, shard, threads, progress)?;
    let mut files = aggregate::write(dir, plan, &runs, formats)?;
    files.push(dir.join("plan.json"));
    files.push(dir.join("runs.jsonl"));
    Ok((runs, files))
}

/// Combines the output folders of `--shard i/n` runs into the tables of the whole sweep in
/// `out`. Returns the plan, every run and the files written.
pub fn merge(
    shards: &[PathBuf],
    out: &Path,
    formats: &[crate::output::Format],
) -> Result<(Plan, Vec<exec::RunResult>, Vec<PathBuf>)> {
    let first = shards.first().ok_or_else(|| Error::Output {
        path: out.into(),
        problem: "name at least one shard folder".into(),
    })?;
    exec::check_shards(shards, out)?;
    crate::output::rundir::check_reusable(out, crate::output::rundir::Kind::Sweep, "--out")?;
    let mut plan = Plan::read_saved(first)?;
    // Not in `plan.json`: the shards' journals say it, and the merged journal says it again.
    plan.runs_fingerprint = exec::journal_runs_fingerprint(first)?.unwrap_or_default();
    for d in &shards[1..] {
        let other = Plan::read_saved(d)?;
        if other.fingerprint != plan.fingerprint {
            return Err(Error::Output {
                path: d.clone(),
                problem: format!("from another sweep than {}", first.display()),
            });
        }
    }
    let runs = exec::merge(shards, &plan)?;
    // Created and locked only now: a merge that fails leaves no folder behind.
    let _lock =
        crate::output::rundir::lock_folder(out, crate::output::rundir::Kind::Sweep, "--out")?;
    exec::write_journal(out, &plan, None, &runs)?;
    let mut files = aggregate::write(out, &plan, &runs, formats)?;
    files.push(out.join("plan.json"));
    files.push(out.join("runs.jsonl"));
    Ok((plan, runs, files))
}

impl Plan {
    /// Reads `plan.json` from a sweep output folder (it cannot run: no base scenario text).
    pub fn read_saved(dir: &Path) -> Result<Plan> {
        let path = dir.join("plan.json");
        if !path.exists() {
            return Err(Error::Input {
                path,
                problem: "missing: is this a sweep output folder?".into(),
            });
        }
        // Read as it is parsed, without its text: about 100 bytes a point, more with many
        // axes, so a sweep near its bound of runs may outgrow the bound of other data files.
        let limit = crate::check::MAX_DATA_BYTES.max(MAX_RUNS * PLAN_BYTES_PER_POINT);
        let file = crate::check::open_input(&path, "sweep plan", limit)?;
        let reader = std::io::BufReader::with_capacity(1 << 16, std::io::Read::take(file, limit));
        let plan: Plan = serde_json::from_reader(reader).map_err(|e| Error::Syntax {
            path: path.clone(),
            message: e.to_string(),
        })?;
        plan.check_saved(&path)?;
        Ok(plan)
    }

    /// Checks a plan read back from `plan.json` as [`Plan::load`] checked it when it wrote the
    /// file: an edited or damaged one could name columns its points lack (a panic where the
    /// tables are built) or expectations and figures that were never checked.
    fn check_saved(&self, path: &Path) -> Result<()> {
        let bad = |problem: String| Error::Input {
            path: path.into(),
            problem: format!(
                "not the plan of a sweep: {problem}; was it edited? Run the sweep (or the \
                 shard) again to rewrite it"
            ),
        };
        if !replications_allowed(self.replications) {
            return Err(bad(format!(
                "`replications` is {}, not in [1, {MAX_REPLICATIONS}]",
                self.replications
            )));
        }
        if !seeds_fit(self.seed, self.replications) {
            return Err(bad(format!(
                "`seed` + `replications` is not below {}",
                i64::MAX
            )));
        }
        let mut columns = Vec::new();
        for (i, a) in self.axes.iter().enumerate() {
            if a.keys.is_empty() || a.values.is_empty() {
                return Err(bad(format!("axis {i} has no keys or no values")));
            }
            if a.values.iter().any(|v| v.len() != a.keys.len()) {
                return Err(bad(format!(
                    "axis {i} has a step without one value per key"
                )));
            }
            columns.extend(a.keys.iter().cloned());
        }
        if columns != self.columns {
            return Err(bad("`columns` are not the axes' keys".into()));
        }
        let mut paths = HashSet::new();
        if !self
            .columns
            .iter()
            .all(|c| crate::scenario::overrides::key_path(c).is_some_and(|p| paths.insert(p)))
        {
            return Err(bad("a column is not a scenario key, or is one twice".into()));
        }
        if run_count(&self.axes, self.replications).is_none() {
            return Err(bad(format!("more than {MAX_RUNS} runs")));
        }
        if self.points != product(&self.axes) {
            return Err(bad("`points` are not the product of the axes".into()));
        }
        self.check_expectations(path)?;
        self.check_plots(path)
    }
}

/// Whether a sweep may have `replications` runs per point: 1 to [`MAX_REPLICATIONS`].
fn replications_allowed(replications: u32) -> bool {
    (1..=MAX_REPLICATIONS).contains(&replications)
}

/// Whether every replication's seed, `seed + r`, stays below 2^63 (a seed is written and read
/// as a TOML integer, which is signed).
fn seeds_fit(seed: u64, replications: u32) -> bool {
    seed.checked_add(u64::from(replications))
        .is_some_and(|s| s <= i64::MAX as u64)
}

/// The runs of `axes` at `replications` per point; `None` past [`MAX_RUNS`].
fn run_count(axes: &[Axis], replications: u32) -> Option<u64> {
    axes.iter()
        .try_fold(u64::from(replications), |n, a| {
            n.checked_mul(a.values.len() as u64)
        })
        .filter(|&n| n <= MAX_RUNS)
}

/// The points of `axes`: their cartesian product, the last axis fastest, each point the
/// values of every key in column order. Each point is built once (growing every point axis by
/// axis copied the points once per axis, minutes for 10^5 axes of one value).
fn product(axes: &[Axis]) -> Vec<Vec<String>> {
    let total: usize = axes.iter().map(|a| a.values.len()).product();
    let width: usize = axes.iter().map(|a| a.keys.len()).sum();
    let mut points: Vec<Vec<String>> = Vec::with_capacity(total);
    let mut step = vec![0; axes.len()];
    for p in 0..total {
        let mut rest = p;
        for (k, a) in axes.iter().enumerate().rev() {
            step[k] = rest % a.values.len();
            rest /= a.values.len();
        }
        let mut q = Vec::with_capacity(width);
        for (a, &j) in axes.iter().zip(&step) {
            q.extend(a.values[j].iter().cloned());
        }
        points.push(q);
    }
    points
}

/// A value for display in tables: strings without quotes.
pub fn label(toml_text: &str) -> String {
    match toml::from_str::<toml::Table>(&format!("v = {toml_text}")) {
        Ok(t) => match t.get("v") {
            Some(toml::Value::String(s)) => s.clone(),
            _ => toml_text.to_string(),
        },
        Err(_) => toml_text.to_string(),
    }
}

pub(crate) fn value_text(v: &toml::Value) -> String {
    // Inline TOML of a value (strings quoted, arrays and tables inline). A table, or an array
    // holding one, would be written as a `[v]` section: `Value`'s own display is inline.
    fn holds_table(v: &toml::Value) -> bool {
        match v {
            toml::Value::Table(_) => true,
            toml::Value::Array(xs) => xs.iter().any(holds_table),
            _ => false,
        }
    }
    if holds_table(v) {
        return v.to_string();
    }
    let mut t = toml::Table::new();
    t.insert("v".into(), v.clone());
    let s = toml::to_string(&t).unwrap_or_default();
    s.trim().trim_start_matches("v = ").to_string()
}

/// A key of a value as a setting: two values have the same key when they are the same setting,
/// equal with an integer equal to a float counting as the same (`1` and `1.0`), in arrays and
/// tables too (whose key order does not matter). Repeated options are found by these keys in a
/// set, not by comparing every pair (an axis or option list of 10^5 values took minutes).
pub(crate) fn setting_key(v: &toml::Value) -> String {
    use std::fmt::Write as _;
    fn number(f: f64, out: &mut String) {
        // -0 is 0; every NaN one.
        let f = if f == 0.0 { 0.0 } else { f };
        let _ = write!(out, "{f:?}");
    }
    fn write(v: &toml::Value, out: &mut String) {
        match v {
            // An integer that a float can hold exactly is that float's setting; a larger one
            // only its own.
            toml::Value::Integer(i) if (*i as f64) as i64 == *i && (*i as f64) < 9.2e18 => {
                number(*i as f64, out)
            }
            toml::Value::Integer(i) => {
                let _ = write!(out, "i{i}");
            }
            toml::Value::Float(f) => number(*f, out),
            toml::Value::String(s) => {
                let _ = write!(out, "{s:?}");
            }
            toml::Value::Boolean(b) => {
                let _ = write!(out, "{b}");
            }
            toml::Value::Datetime(d) => {
                let _ = write!(out, "d{d}");
            }
            toml::Value::Array(xs) => {
                out.push('[');
                for x in xs {
                    write(x, out);
                    out.push(',');
                }
                out.push(']');
            }
            toml::Value::Table(t) => {
                let mut keys: Vec<&String> = t.keys().collect();
                keys.sort();
                out.push('{');
                for k in keys {
                    let _ = write!(out, "{k:?}=");
                    write(&t[k.as_str()], out);
                    out.push(',');
                }
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

impl Plan {
    /// Reads, checks and expands a sweep file. Every point's scenario is validated here,
    /// before any run starts.
    pub fn load(path: &Path) -> Result<Plan> {
        let text = crate::check::read_text(path, "sweep", crate::check::MAX_CONFIG_BYTES)?;
        let file: SweepFile = crate::strict::from_str(&text)
            .map_err(|e| crate::check::not_read_as(path, &text, "a sweep file", &e))?;
        let bad = |key: String, value: &dyn std::fmt::Display, problem: String| {
            Error::invalid(path, key, value, problem)
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let scenario = dir.join(&file.scenario);
        // Errors in the scenario (reading it, or in it) also name this file and its key.
        let cx = crate::check::Checker::new(path);
        let in_scenario = |e| cx.referenced("scenario", &file.scenario, e);
        if let Some(n) = &file.name {
            cx.folder_name("name", n)?;
        }
        let base_text =
            crate::check::read_text(&scenario, "scenario", crate::check::MAX_CONFIG_BYTES)
                .map_err(in_scenario)?;
        let base = Scenario::from_str_at(&base_text, &scenario, &LoadOptions::default())
            .map_err(in_scenario)?;
        let base_doc = Scenario::parse_doc(&base_text, &scenario).map_err(in_scenario)?;
        if !replications_allowed(file.replications) {
            return Err(bad(
                "replications".into(),
                &file.replications,
                format!("must lie in [1, {MAX_REPLICATIONS}]"),
            ));
        }
        let seed = file.seed.unwrap_or(base.seed);
        if !seeds_fit(seed, file.replications) {
            return Err(bad(
                "seed".into(),
                &seed,
                format!("seed + replications must stay below {}", i64::MAX),
            ));
        }

        let mut axes = Vec::new();
        let mut columns: Vec<String> = Vec::new();
        let mut paths: HashSet<Vec<String>> = HashSet::new();
        for (i, a) in file.axes.iter().enumerate() {
            let at = |k: &str| format!("axes[{i}].{k}");
            // A zipped axis (`keys`) takes arrays of one value per key, even with one key.
            let zipped = a.keys.is_some();
            let keys = match (&a.key, &a.keys) {
                (Some(k), None) => vec![k.clone()],
                (None, Some(ks)) if !ks.is_empty() => ks.clone(),
                _ => {
                    return Err(bad(
                        at("key"),
                        &"(missing)",
                        "give `key` (one scenario key) or `keys` (zipped keys), not both".into(),
                    ));
                }
            };
            if a.values.is_empty() {
                return Err(bad(
                    at("values"),
                    &"[]",
                    format!("axis `{}` has no values", keys.join(", ")),
                ));
            }
            for (n, k) in keys.iter().enumerate() {
                let key = if zipped {
                    format!("keys[{n}]")
                } else {
                    "key".into()
                };
                let Some(path) = crate::scenario::overrides::key_path(k) else {
                    return Err(bad(
                        at(&key),
                        &format!("\"{k}\""),
                        "a scenario key: dotted names, arrays by index (devices.1.count or \
                         devices[1].count), no empty segment"
                            .into(),
                    ));
                };
                if path == ["seed"] {
                    return Err(bad(
                        at(&key),
                        k,
                        "replication r runs with seed = the sweep's `seed` + r at every point; \
                         set the sweep's top-level `seed` instead of an axis"
                            .into(),
                    ));
                }
                // The same key however written (`devices.0.count`, `devices[0].count`).
                if !paths.insert(path) {
                    return Err(bad(at(&key), k, "this key already has an axis".into()));
                }
                columns.push(k.clone());
            }
            let mut steps = Vec::new();
            let mut seen: HashSet<String> = HashSet::new();
            for (j, v) in a.values.iter().enumerate() {
                let step: Vec<String> = if !zipped {
                    vec![value_text(v)]
                } else {
                    match v {
                        toml::Value::Array(xs) if xs.len() == keys.len() => {
                            xs.iter().map(value_text).collect()
                        }
                        _ => {
                            return Err(bad(
                                format!("axes[{i}].values[{j}]"),
                                &value_text(v),
                                format!(
                                    "a zipped axis needs arrays of one value per key: {} ({})",
                                    keys.len(),
                                    keys.join(", ")
                                ),
                            ));
                        }
                    }
                };
                // 1 and 1.0 are one step of a float key (the same scenario twice); a zipped
                // step's array is one setting of its values.
                if !seen.insert(setting_key(v)) {
                    return Err(bad(
                        format!("axes[{i}].values[{j}]"),
                        &value_text(v),
                        "repeated value".into(),
                    ));
                }
                steps.push(step);
            }
            axes.push(Axis {
                keys,
                values: steps,
            });
        }

        if run_count(&axes, file.replications).is_none() {
            return Err(bad(
                "axes".into(),
                &format!(
                    "{} values x {} replications",
                    axes.iter()
                        .map(|a| a.values.len().to_string())
                        .collect::<Vec<_>>()
                        .join(" x "),
                    file.replications
                ),
                format!("a sweep may hold at most {MAX_RUNS} runs; split it or drop values"),
            ));
        }

        let points = product(&axes);

        let mut plan = Plan {
            name: file.name.clone().unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            }),
            scenario,
            replications: file.replications,
            seed,
            fingerprint: format!(
                "{:016x}",
                crate::rng::fnv1a(format!("{text}\u{0}{base_text}").as_bytes())
            ),
            // Set once every point is built, and so every input file read.
            runs_fingerprint: String::new(),
            axes,
            columns,
            points,
            expect: file.expect.clone(),
            plots: file.plots.clone(),
            classes: recorded_classes(&base),
            base: Some(base_doc),
            cache: Arc::new(InputCache::default()),
            column_paths: std::sync::OnceLock::new(),
        };
        // Every point must give a valid scenario; name the axis and value when not. Checked in
        // parallel; the first failing point (in point order) is reported.
        let built: Vec<Result<Vec<String>>> = {
            use rayon::prelude::*;
            (0..plan.points.len())
                .into_par_iter()
                .map(|p| plan.scenario_at(p, seed).map(|s| recorded_classes(&s)))
                .collect()
        };
        for (p, b) in built.iter().enumerate() {
            if let Err(e) = b {
                let (ai, vi) = plan.first_culprit(p);
                let a = &plan.axes[ai];
                return Err(bad(
                    format!("axes[{ai}] ({})", a.keys.join(", ")),
                    &a.values[vi].join(", "),
                    format!("this value does not give a valid scenario: {e}"),
                ));
            }
        }
        // The classes an axis gives (`workload.classes.1.name`, or classes of its own) have
        // their columns too, after the base scenario's, in the order the points name them.
        let mut known: HashSet<String> = plan.classes.iter().cloned().collect();
        for name in built.into_iter().flatten().flatten() {
            if known.insert(name.clone()) {
                plan.classes.push(name);
            }
        }
        plan.check_expectations(path)?;
        plan.check_plots(path)?;
        plan.runs_fingerprint = format!(
            "{:016x}",
            crate::rng::fnv1a(
                format!(
                    "runs 1\u{0}{}\u{0}{}\u{0}{}",
                    crate::check::canonical_toml(&text, &[("", &["expect", "plots"])]),
                    crate::check::canonical_toml(&base_text, &[]),
                    plan.cache.files_digest()
                )
                .as_bytes()
            )
        );
        Ok(plan)
    }

    /// For an invalid point, the axis (and step) most likely at fault: the first axis whose
    /// value alone, on the base scenario, fails.
    fn first_culprit(&self, p: usize) -> (usize, usize) {
        let mut col = 0;
        for (ai, a) in self.axes.iter().enumerate() {
            let step = a
                .values
                .iter()
                .position(|s| s[..] == self.points[p][col..col + a.keys.len()])
                .unwrap_or(0);
            let sets: Vec<String> = a
                .keys
                .iter()
                .zip(&a.values[step])
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let opts = LoadOptions { sets, seed: None };
            if self.build(&opts).is_err() {
                return (ai, step);
            }
            col += a.keys.len();
        }
        (self.axes.len().saturating_sub(1), 0)
    }

    /// The scenario of point `p` with `seed`.
    pub fn scenario_at(&self, p: usize, seed: u64) -> Result<Scenario> {
        let sets = self
            .columns
            .iter()
            .zip(&self.points[p])
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let opts = LoadOptions {
            sets,
            seed: Some(seed),
        };
        self.build(&opts)
    }

    /// Warnings about axes that change less than they seem to
    /// ([`crate::scenario::overrides::pinned_by_model`]), naming the scenario file.
    pub fn warnings(&self) -> Vec<String> {
        let Some(base) = &self.base else {
            return Vec::new();
        };
        let changed: Vec<Vec<String>> = self
            .columns
            .iter()
            .filter_map(|k| crate::scenario::overrides::key_path(k))
            .collect();
        crate::scenario::overrides::pinned_by_model(base, &changed)
            .into_iter()
            .map(|(key, w)| format!("{}: axis `{key}`: {w}", self.scenario.display()))
            .collect()
    }

    /// The base scenario with `opts` applied, built from the parsed base (no text is parsed
    /// again, no input file read again).
    fn build(&self, opts: &LoadOptions) -> Result<Scenario> {
        let Some(base) = &self.base else {
            return Err(Error::Output {
                path: self.scenario.clone(),
                problem: "this plan was read from a sweep output folder and cannot run".into(),
            });
        };
        Scenario::from_doc(base.clone(), &self.scenario, opts, Arc::clone(&self.cache))
    }

    /// Every metric a run records, in column order: the run's
    /// ([`metrics::METRICS`]), then each class's ([`metrics::CLASS_METRICS`]) as
    /// `NAME.METRIC`, class by class.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = metrics::METRICS.iter().map(|m| m.name.into()).collect();
        for c in &self.classes {
            names.extend(
                metrics::CLASS_METRICS
                    .iter()
                    .map(|m| format!("{c}.{}", m.name)),
            );
        }
        names
    }

    /// The column of metric `name` among [`Plan::metric_names`].
    pub fn metric_index(&self, name: &str) -> Option<usize> {
        if let Some(i) = metrics::index(name) {
            return Some(i);
        }
        let (class, m) = name.rsplit_once('.')?;
        let c = self.classes.iter().position(|n| n == class)?;
        let m = metrics::class_index(m)?;
        Some(metrics::METRICS.len() + c * metrics::CLASS_METRICS.len() + m)
    }

    /// Every metric of a run's summary, in [`Plan::metric_names`] order (a class the run does
    /// not have, its axes having changed the classes, has none).
    pub fn extract(&self, s: &crate::metrics::Summary) -> Vec<Option<f64>> {
        let mut out = metrics::extract(s);
        for c in &self.classes {
            let class = s.classes.iter().flatten().find(|k| &k.name == c);
            out.extend(
                metrics::CLASS_METRICS
                    .iter()
                    .map(|m| class.and_then(|k| (m.get)(k))),
            );
        }
        out
    }

    /// For errors: every metric name, the classes' as `NAME.METRIC`.
    fn known_metrics(&self) -> String {
        let mut s = metrics::names();
        if !self.classes.is_empty() {
            s += &format!(
                "; and per request class ({}): CLASS.{}",
                self.classes.join(", "),
                metrics::CLASS_METRICS
                    .iter()
                    .map(|m| m.name)
                    .collect::<Vec<_>>()
                    .join(", CLASS.")
            );
        }
        s
    }

    /// Number of runs: points x replications.
    pub fn runs(&self) -> usize {
        self.points.len() * self.replications as usize
    }

    /// (point, replication, seed) of run `i`.
    pub fn run(&self, i: usize) -> (usize, u32, u64) {
        let r = (i % self.replications as usize) as u32;
        (i / self.replications as usize, r, self.seed + u64::from(r))
    }

    /// The axis column of `key`, however its array entries are written (`devices.0.count`
    /// or `devices[0].count`). No two columns have the same path (the sweep refuses an axis
    /// key given twice), so the lookup is by path, in a map built once.
    pub(crate) fn column(&self, key: &str) -> Option<usize> {
        let want = crate::scenario::overrides::key_path(key)?;
        self.column_paths
            .get_or_init(|| {
                let mut m = std::collections::HashMap::with_capacity(self.columns.len());
                for (i, c) in self.columns.iter().enumerate() {
                    if let Some(path) = crate::scenario::overrides::key_path(c) {
                        m.entry(path).or_insert(i);
                    }
                }
                m
            })
            .get(&want)
            .copied()
    }

    fn check_expectations(&self, path: &Path) -> Result<()> {
        // Each column's values, gathered at the first `where` that names it.
        let mut values: Vec<Option<HashSet<&str>>> = vec![None; self.columns.len()];
        for (i, e) in self.expect.iter().enumerate() {
            let bad = |k: &str, v: &dyn std::fmt::Display, problem: String| {
                Error::invalid(path, format!("expect[{i}].{k}"), v, problem)
            };
            if !["<", "<=", ">", ">="].contains(&e.op.as_str()) {
                return Err(bad("op", &e.op, "one of <, <=, >, >=".into()));
            }
            for (side, s) in [("left", &e.left), ("right", &e.right)] {
                match (&s.metric, s.value) {
                    (Some(m), None) => {
                        if self.metric_index(m).is_none() {
                            return Err(bad(
                                &format!("{side}.metric"),
                                m,
                                format!("unknown metric; known: {}", self.known_metrics()),
                            ));
                        }
                    }
                    (None, Some(_)) if side == "right" => {}
                    _ => {
                        return Err(bad(
                            side,
                            &"",
                            if side == "left" {
                                "give `metric`".into()
                            } else {
                                "give `metric` or `value`, not both".into()
                            },
                        ));
                    }
                }
                if !(s.factor.is_finite() && s.factor > 0.0) {
                    return Err(bad(
                        &format!("{side}.factor"),
                        &s.factor,
                        "must be > 0".into(),
                    ));
                }
                for (k, v) in &s.filter {
                    let Some(c) = self.column(k) else {
                        return Err(bad(
                            &format!("{side}.where"),
                            k,
                            format!(
                                "not an axis of this sweep; axes: {}",
                                self.columns.join(", ")
                            ),
                        ));
                    };
                    let text = value_text(v);
                    let have = values[c]
                        .get_or_insert_with(|| self.points.iter().map(|p| p[c].as_str()).collect());
                    if !have.contains(text.as_str()) {
                        return Err(bad(
                            &format!("{side}.where.{k}"),
                            &text,
                            "no point of the sweep has this value".into(),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn check_plots(&self, path: &Path) -> Result<()> {
        // Each x column's first value that is not a number, found at its first plot.
        let mut not_numeric: Vec<Option<Option<&str>>> = vec![None; self.columns.len()];
        for (i, p) in self.plots.iter().enumerate() {
            let bad = |k: &str, v: &str, problem: String| {
                Error::invalid(path, format!("plots[{i}].{k}"), v, problem)
            };
            if self.metric_index(&p.metric).is_none() {
                return Err(bad(
                    "metric",
                    &p.metric,
                    format!("unknown metric; known: {}", self.known_metrics()),
                ));
            }
            let Some(c) = self.column(&p.x) else {
                return Err(bad(
                    "x",
                    &p.x,
                    format!("not an axis; axes: {}", self.columns.join(", ")),
                ));
            };
            let first_bad = *not_numeric[c].get_or_insert_with(|| {
                self.points
                    .iter()
                    .map(|pt| pt[c].as_str())
                    .find(|v| v.parse::<f64>().is_err())
            });
            if let Some(v) = first_bad {
                return Err(bad(
                    "x",
                    &p.x,
                    format!("x must be numeric; it has the value {v}"),
                ));
            }
            if let Some(s) = &p.series {
                if self.column(s).is_none() {
                    return Err(bad(
                        "series",
                        s,
                        format!("not an axis; axes: {}", self.columns.join(", ")),
                    ));
                }
                if *s == p.x {
                    return Err(bad(
                        "series",
                        s,
                        "the x axis too: each series would be one point; give another axis, \
                         or leave `series` out"
                            .into(),
                    ));
                }
            }
            // One panel per combination of the other axes, each 400 pixels high: thousands
            // would take gigabytes to draw and could not be read.
            let series = p.series.as_deref().and_then(|s| self.column(s));
            let others: Vec<usize> = (0..self.columns.len())
                .filter(|&o| o != c && Some(o) != series)
                .collect();
            let panels = self
                .points
                .iter()
                .map(|pt| others.iter().map(|&o| pt[o].as_str()).collect::<Vec<_>>())
                .collect::<HashSet<_>>()
                .len();
            if panels > MAX_PANELS {
                let names: Vec<&str> = others.iter().map(|&o| self.columns[o].as_str()).collect();
                return Err(bad(
                    if p.series.is_some() { "series" } else { "x" },
                    p.series.as_deref().unwrap_or(&p.x),
                    format!(
                        "the figure would have {panels} panels, one per combination of the \
                         other axes ({}); a figure holds at most {MAX_PANELS}: {}",
                        crate::check::excerpt(&names.join(", "), crate::check::EXCERPT_CHARS),
                        if p.series.is_some() {
                            "plot a sweep with fewer of their values"
                        } else {
                            "name one of them as `series` (one line per value), or plot a sweep \
                             with fewer of their values"
                        }
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_inline_and_ints_equal_floats() {
        let t: toml::Table = toml::from_str(
            "a = { kind = \"c\", x = [1, { y = 2 }] }\nb = 1.0\nc = \"s\"\nd = 1\n\
             e = [{ model = \"m\" }]\nf = { x = 1, kind = \"c\" }\ng = { kind = \"c\", x = 1.0 }",
        )
        .unwrap();
        let text = |k: &str| value_text(&t[k]);
        assert_eq!(text("a"), "{ kind = \"c\", x = [1, { y = 2 }] }");
        assert_eq!(text("e"), "[{ model = \"m\" }]");
        assert_eq!(
            (text("b"), text("c"), text("d")),
            ("1.0".into(), "\"s\"".into(), "1".into())
        );
        let same = |a: &str, b: &str| setting_key(&t[a]) == setting_key(&t[b]);
        assert!(same("b", "d"));
        assert!(same("f", "g"), "key order and 1 vs 1.0 do not matter");
        assert!(!same("a", "f"));
        assert!(!same("c", "b"));
        // Every pair of these is a different setting.
        let values: Vec<toml::Value> = toml::from_str::<toml::Table>(
            "v = [1, 2, 1.5, -1, \"1\", true, false, [1], [1, 1], [[1]], {}, { a = 1 }, \
             { a = 2 }, { b = 1 }, { a = 1, b = 1 }, { a = [1] }, \"a,\", \"a\", [\"a\", \"\"], \
             9007199254740993, 1979-05-27, \"{}\", \"[]\", { \"a=1,\" = 1 }]",
        )
        .unwrap()["v"]
            .as_array()
            .unwrap()
            .clone();
        let keys: std::collections::HashSet<String> = values.iter().map(setting_key).collect();
        assert_eq!(keys.len(), values.len(), "{keys:?}");
        // And these the same.
        for (a, b) in [
            ("0", "-0.0"),
            ("3", "3.0"),
            ("{ a = 1, b = [2] }", "{ b = [2.0], a = 1.0 }"),
        ] {
            let v =
                |x: &str| toml::from_str::<toml::Table>(&format!("v = {x}")).unwrap()["v"].clone();
            assert_eq!(setting_key(&v(a)), setting_key(&v(b)), "{a} and {b}");
        }
    }
}
