//! The search for the cheapest plan that meets the goals.
//!
//! - **Baselines** first: the cloud alone (no boards), for every cloud option, every
//!   replication. A feasible one bounds the answer's cost.
//! - **Branches**: every combination of policy, rate limiter, cloud, and the counts, slot and
//!   queue options of every type but one: the type with the widest count range, whose count is
//!   searched in the branch. For each of its slot and queue options, the counts are tried from
//!   the smallest up while their board cost alone stays below the cheapest feasible plan known
//!   (every cost is at least the board cost, so no cheaper plan is skipped). With
//!   `assume_monotone`, the largest count is tried first (if it misses a goal, so is taken to
//!   do every smaller count) and the smallest count meeting the goals is found by bisection
//!   before the walk up; this is exact only when every goal is monotone in the board count.
//! - **Branch and bound**: branches are taken in order of their least board cost, in waves of
//!   `wave` branches (in parallel); after each wave, the branches whose least board cost is not
//!   below the cheapest feasible plan found are skipped. Waves have a fixed size, so what is
//!   evaluated does not depend on the thread count.
//! - **Screening** (a two-rung successive halving): a plan runs one replication first; if it
//!   misses a goal by more than `screen_margin` of the goal, it is dropped without the others.
//! - **Common random numbers**: replication r runs with seed `seed + r` for every plan.
//! - **Feasible** means every goal holds on the 95 % confidence bound of its mean over the
//!   replications (the mean plus the half-width for an upper bound, minus for a lower bound).
//!
//! Every run is appended to a journal (`runs.jsonl`); a search started again reads it and
//! re-runs nothing it holds. `--shard i/n` searches branches `i, i + n, ...`;
//! `plan merge` searches again on the union of the shards' journals without simulating, and
//! writes that union as its folder's journal. A journal serves every plan of the same runs
//! ([`Planner::runs_fingerprint`]): other goals, prices or replications read what it holds.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::cost::{Kept, RunValues};
use super::{Method, Planner, Point};
use crate::error::{Error, Result};
use crate::sweep::aggregate::Stat;
use crate::sweep::exec::{Metrics, Shard};

const JOURNAL: &str = "runs.jsonl";

/// One plan evaluated: its runs and the verdict.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The plan.
    pub point: Point,
    /// What each replication run cost and achieved, in replication order.
    pub runs: Vec<RunValues>,
    /// Dropped after its first replication (it missed a goal by more than the margin).
    pub screened: bool,
    /// Every goal holds.
    pub feasible: bool,
    /// The goals it misses (indices into the planner's goals).
    pub failed: Vec<usize>,
}

impl Evaluation {
    /// Statistics of one per-run value over the replications.
    pub fn stat(&self, f: impl Fn(&RunValues) -> Option<f64>) -> Stat {
        Stat::of(self.runs.iter().map(f))
    }

    /// Mean total cost per month \[USD\].
    pub fn cost(&self) -> f64 {
        self.stat(|r| Some(r.total_usd_month))
            .mean
            .unwrap_or(f64::INFINITY)
    }
}

/// What a search found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Every plan evaluated, in point order.
    pub evaluations: Vec<Evaluation>,
    /// The cheapest feasible plan (index into `evaluations`).
    pub best: Option<usize>,
    /// The Pareto front of the feasible plans over (cost, TTFT p95, cloud share); of plans
    /// equal in all three, the first in point order.
    pub pareto: Vec<usize>,
    /// The cloud-only baselines (no boards), one per cloud option.
    pub cloud_only: Vec<usize>,
    /// The cheapest feasible plan without a cloud, if edge-only plans were searched.
    pub edge_only: Option<usize>,
    /// Whether edge-only plans were searched (`"none"` among the clouds).
    pub edge_only_searched: bool,
    /// Runs behind the evaluations.
    pub runs: usize,
    /// Runs simulated by this call (the others came from the journal).
    pub simulated: usize,
    /// Points in the full grid.
    pub grid_points: u64,
    /// Branches, and those skipped by the bound.
    pub branches: usize,
    /// Branches skipped because their least board cost could not beat the best plan.
    pub pruned: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Header {
    plan: String,
    fingerprint: String,
    /// [`Planner::runs_fingerprint`]: a journal with the same serves a plan with other goals,
    /// prices, count ranges, replications or search settings. Absent (an earlier edgesim's
    /// journal): only the same plan (`fingerprint`) reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shard: Option<String>,
    metrics: String,
    /// The whole grid was evaluated (`--grid`, or `method = "grid"`), not searched: `plan
    /// merge` evaluates the merged journals so too. Absent: a search.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    grid: bool,
}

/// One run in the journal.
#[derive(Clone, Debug, Deserialize, PartialEq)]
struct Line {
    key: String,
    replication: u32,
    seed: u64,
    metrics: Metrics,
    /// Each request class's metrics (see [`crate::sweep::metrics::CLASS_METRICS`]), with two
    /// classes or more.
    #[serde(default)]
    classes: Vec<Metrics>,
}

/// A run's journal line as it is written ([`Line`]'s fields, borrowed).
#[derive(Serialize)]
struct LineOut<'a> {
    key: &'a str,
    replication: u32,
    seed: u64,
    metrics: &'a Metrics,
    #[serde(skip_serializing_if = "<[Metrics]>::is_empty")]
    classes: &'a [Metrics],
}

impl LineOut<'_> {
    /// The line of replication `replication` of the plan of key `key`, with `seed`.
    fn of<'a>(key: &'a str, replication: u32, seed: u64, r: &'a Recorded) -> LineOut<'a> {
        LineOut {
            key,
            replication,
            seed,
            metrics: &r.metrics,
            classes: &r.classes,
        }
    }
}

/// Of a journal line, what orders it: its plan's key and its replication.
#[derive(Deserialize)]
struct LineKey {
    key: String,
    replication: u32,
}

/// What a run recorded: its metrics and its classes' (a plan's and a capacity search's
/// journals hold them so).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Recorded {
    /// The run's metrics ([`crate::sweep::metrics::METRICS`]).
    pub metrics: Metrics,
    /// Each request class's ([`crate::sweep::metrics::CLASS_METRICS`]), with two or more.
    pub classes: Vec<Metrics>,
}

impl Recorded {
    /// What a journal line holds of `summary`.
    pub fn of(summary: &crate::metrics::Summary) -> Recorded {
        Recorded::new(
            crate::sweep::metrics::extract(summary),
            crate::sweep::metrics::extract_classes(summary),
        )
    }

    /// These metrics, a value that is not a finite number none ([`Metrics`]): JSON has no such
    /// numbers, so the journal reads it back as none, and a fresh run must be judged as one
    /// read back.
    fn new(metrics: Vec<Option<f64>>, classes: Vec<Vec<Option<f64>>>) -> Recorded {
        Recorded {
            metrics: metrics.into(),
            classes: classes.into_iter().map(Metrics::from).collect(),
        }
    }

    /// Whether it holds every metric, and every class's of `classes` recorded classes.
    pub fn complete(&self, classes: usize) -> bool {
        let class = crate::sweep::metrics::CLASS_METRICS.len();
        self.metrics.len() == crate::sweep::metrics::METRICS.len()
            && self.classes.len() == classes
            && self.classes.iter().all(|c| c.len() == class)
    }
}

impl From<Line> for Recorded {
    fn from(l: Line) -> Recorded {
        Recorded {
            metrics: l.metrics,
            classes: l.classes,
        }
    }
}

/// The journal's runs, by (point key, replication): what a plan reads of each ([`Kept`]).
type Known = HashMap<(String, u32), Kept>;

/// The classes whose metrics a journal line holds: the summary has classes with two or more.
fn recorded_classes(planner: &Planner) -> usize {
    classes_recorded(planner.classes.len())
}

/// The classes whose metrics a journal line holds for a scenario of `classes` request classes.
pub(crate) fn classes_recorded(classes: usize) -> usize {
    if classes < 2 { 0 } else { classes }
}

/// The largest a journal of `planner` may be: [`crate::check::MAX_DATA_BYTES`], or as much as a
/// line for each run it may hold can take if that is more (as a sweep's journal,
/// [`crate::sweep::exec::read_journal`]): a key of at most three 20-digit numbers a board type
/// and four more, a replication and a seed with their names (under 128 bytes with the key's
/// name), and each metric, the classes' included, in at most 25 bytes.
fn journal_limit(planner: &Planner) -> u64 {
    let metrics = crate::sweep::metrics::METRICS.len()
        + recorded_classes(planner) * crate::sweep::metrics::CLASS_METRICS.len();
    let key = 64 * planner.types.len() as u64 + 96;
    crate::sweep::exec::journal_bound(planner.max_runs, 128 + key + 32 * metrics as u64)
}

fn metric_set(planner: &Planner) -> String {
    recorded_metric_set(recorded_classes(planner))
}

/// The hash of what a journal line holds with `classes` recorded classes: the run's metrics,
/// then, with two request classes or more, each class's (without classes the hash of an
/// edgesim before class goals, whose journals stay valid).
pub(crate) fn recorded_metric_set(classes: usize) -> String {
    let runs = crate::sweep::exec::metric_set();
    if classes == 0 {
        return runs;
    }
    let classes: Vec<&str> = crate::sweep::metrics::CLASS_METRICS
        .iter()
        .map(|m| m.name)
        .collect();
    format!(
        "{runs}+{:016x}",
        crate::rng::fnv1a(classes.join(",").as_bytes())
    )
}

struct Runner<'a> {
    planner: &'a Planner,
    known: Known,
    /// The journal, open for appending (`None`: a merge, which simulates nothing, or
    /// [`evaluate_points`], which simulates without recording).
    sink: Option<Mutex<File>>,
    /// With no sink: runs the journal lacks are simulated, not refused.
    unrecorded: bool,
    /// A merge's advice when no shard ran a run its search needs.
    missing: String,
    journal: PathBuf,
    evaluated: Mutex<BTreeMap<Point, Evaluation>>,
    simulated: AtomicUsize,
    progress: &'a (dyn Fn(usize) + Sync),
}

impl Runner<'_> {
    /// Replication `r` of plan `p`: from the journal read at the start, or simulated and
    /// appended to it.
    fn values(&self, p: &Point, r: u32) -> Result<RunValues> {
        let of = |m: &Recorded| {
            RunValues::of(
                &self.planner.costs,
                &self.planner.types,
                p,
                &m.metrics,
                &m.classes,
            )
        };
        let key = (self.planner.key(p), r);
        if let Some(k) = self.known.get(&key) {
            return Ok(k.values(&self.planner.costs, &self.planner.types, p));
        }
        Ok(of(&self.simulate(p, key)?))
    }

    fn simulate(&self, p: &Point, (key, r): (String, u32)) -> Result<Recorded> {
        let seed = self.planner.seed + u64::from(r);
        let held = self.known.len() as u64 + self.simulated.load(Ordering::Relaxed) as u64;
        if held >= self.planner.max_runs {
            return Err(too_many_runs(self.planner, "the search reached"));
        }
        if self.sink.is_none() && !self.unrecorded {
            return Err(Error::Output {
                path: self.journal.clone(),
                problem: format!(
                    "no shard ran {} (replication {r}); {}",
                    self.planner.describe(p),
                    self.missing
                ),
            });
        }
        let sc = self.planner.scenario_at(p, seed)?;
        let recorded = Recorded::of(&crate::sim::run(&sc)?);
        if let Some(sink) = &self.sink {
            let line = LineOut::of(&key, r, seed, &recorded);
            let text = serde_json::to_string(&line).unwrap_or_default() + "\n";
            let mut f = sink.lock().unwrap_or_else(|e| e.into_inner());
            f.write_all(text.as_bytes())
                .and_then(|()| f.flush())
                .map_err(Error::io(&self.journal, "cannot append to"))?;
        }
        let n = self.simulated.fetch_add(1, Ordering::Relaxed) + 1;
        (self.progress)(n);
        Ok(recorded)
    }

    /// Evaluates `p` (once: later calls get the stored verdict); `screen` allows dropping it
    /// after one run.
    fn evaluate(&self, p: &Point, screen: bool) -> Result<Evaluation> {
        if let Some(e) = self.lock().get(p)
            && (screen || !e.screened)
        {
            return Ok(e.clone());
        }
        let pl = self.planner;
        let first = self.values(p, 0)?;
        let hopeless = screen && pl.replications > 1 && pl.screen_margin > 0.0 && {
            pl.goals.iter().any(|g| match first.value(g) {
                None => true,
                Some(v) if g.at_most => v > g.bound * (1.0 + pl.screen_margin),
                Some(v) => v < g.bound / (1.0 + pl.screen_margin),
            })
        };
        let mut runs = vec![first];
        if !hopeless {
            let rest: Vec<RunValues> = (1..pl.replications)
                .into_par_iter()
                .map(|r| self.values(p, r))
                .collect::<Result<_>>()?;
            runs.extend(rest);
        }
        let failed = failed_goals(pl, &runs);
        let e = Evaluation {
            point: p.clone(),
            feasible: !hopeless && failed.is_empty(),
            failed,
            screened: hopeless,
            runs,
        };
        self.lock().insert(p.clone(), e.clone());
        Ok(e)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Point, Evaluation>> {
        self.evaluated.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The goals `runs` miss, judged on the 95 % confidence bound of the mean (the mean alone with
/// one run); a goal on a value some run lacks (nothing served) is missed.
pub fn failed_goals(pl: &Planner, runs: &[RunValues]) -> Vec<usize> {
    missed(&pl.goals, runs)
}

/// The indices of the `goals` that `runs` miss ([`failed_goals`]).
pub fn missed(goals: &[super::Goal], runs: &[RunValues]) -> Vec<usize> {
    goals
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            let vals: Vec<Option<f64>> = runs.iter().map(|r| r.value(g)).collect();
            if vals.iter().any(Option::is_none) {
                return true;
            }
            let s = Stat::of(vals.into_iter());
            let (Some(mean), h) = (s.mean, s.ci95.unwrap_or(0.0)) else {
                return true;
            };
            if g.at_most {
                mean + h > g.bound
            } else {
                mean - h < g.bound
            }
        })
        .map(|(i, _)| i)
        .collect()
}

/// A branch: every choice but the bisected type's count, slots and queue.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Branch {
    base: Point,
}

fn product(sizes: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for &n in sizes {
        out = out
            .into_iter()
            .flat_map(|v| {
                (0..n).map(move |i| {
                    let mut w = v.clone();
                    w.push(i);
                    w
                })
            })
            .collect();
    }
    out
}

impl Planner {
    fn zero_point(&self) -> Point {
        let n = self.types.len();
        Point {
            counts: vec![0; n],
            slots: vec![0; n],
            queue: vec![0; n],
            policy: 0,
            rate_limit: 0,
            routing: 0,
            cloud: 0,
        }
    }

    /// The type whose count is bisected: the one with the widest count range (the first of
    /// equals).
    pub fn bisected(&self) -> usize {
        let mut best = 0;
        for (t, ty) in self.types.iter().enumerate() {
            let r = |x: &super::DeviceType| x.max_count - x.min_count;
            if r(ty) > r(&self.types[best]) {
                best = t;
            }
        }
        best
    }

    /// The smallest count of the bisected type in `b` (no empty fleet without a cloud).
    fn lowest_last(&self, b: &Point) -> u32 {
        let last = self.bisected();
        let lo = self.types[last].min_count;
        let others: u64 = b
            .counts
            .iter()
            .enumerate()
            .filter(|&(t, _)| t != last)
            .map(|(_, &c)| u64::from(c))
            .sum();
        if lo == 0 && others == 0 && self.clouds[b.cloud].table.is_none() {
            1
        } else {
            lo
        }
    }

    /// Every combination of policy, limiter, routing, cloud and, for the types `varied`, count, slot
    /// and queue option (the other types without boards).
    fn combinations(&self, varied: &[usize]) -> Vec<Point> {
        let mut sizes = vec![
            self.policies.len(),
            self.rate_limits.len(),
            self.routings.len(),
            self.clouds.len(),
        ];
        for &t in varied {
            let t = &self.types[t];
            sizes.push((t.max_count - t.min_count + 1) as usize);
            sizes.push(t.slots.len());
            sizes.push(t.queue_capacity.len());
        }
        product(&sizes)
            .into_iter()
            .map(|v| {
                let mut p = self.zero_point();
                (p.policy, p.rate_limit, p.routing, p.cloud) = (v[0], v[1], v[2], v[3]);
                for (j, &t) in varied.iter().enumerate() {
                    p.counts[t] = self.types[t].min_count + v[4 + 3 * j] as u32;
                    p.slots[t] = v[5 + 3 * j];
                    p.queue[t] = v[6 + 3 * j];
                }
                p
            })
            .collect()
    }

    fn branches(&self) -> Vec<Branch> {
        let last = self.bisected();
        let others: Vec<usize> = (0..self.types.len()).filter(|&t| t != last).collect();
        let mut set = BTreeSet::new();
        for mut p in self.combinations(&others) {
            // Canonical for the fleet without the bisected type; the policy and limiter
            // matter once it has boards, so they are kept.
            for &t in &others {
                if p.counts[t] == 0 {
                    p.slots[t] = 0;
                    p.queue[t] = 0;
                }
            }
            set.insert(Branch { base: p });
        }
        set.into_iter().collect()
    }

    /// Every canonical point of the grid.
    fn grid(&self) -> Vec<Point> {
        let all: Vec<usize> = (0..self.types.len()).collect();
        let set: BTreeSet<Point> = self
            .combinations(&all)
            .into_iter()
            .filter(|p| p.boards() > 0 || self.clouds[p.cloud].table.is_some())
            .map(Point::canonical)
            .collect();
        set.into_iter().collect()
    }
}

/// Searches `planner` into `dir` (resuming from its journal) on `threads` threads, or `shard`
/// of it; `progress` gets the number of runs simulated so far.
pub fn search(
    planner: &Planner,
    dir: &Path,
    shard: Option<Shard>,
    threads: Option<usize>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(Outcome, Vec<String>)> {
    check_before_writing(planner, shard)?;
    crate::output::rundir::check_reusable(dir, crate::output::rundir::Kind::Plan, "--out")?;
    crate::report::create_folder(dir, dir, "cannot create")?;
    let journal = dir.join(JOURNAL);
    let shard_text = shard.filter(|s| s.count > 1).map(|s| s.to_string());
    // The runs read, without the lines that are not, written again as they are read (only
    // what the plan reads of each is held): appended to from here.
    let header = journal_header(planner, shard_text.as_deref());
    let (known, warnings) = read_known(planner, &journal, shard_text.as_deref(), &header)?;
    let file = OpenOptions::new()
        .append(true)
        .open(&journal)
        .map_err(Error::io(&journal, "cannot open"))?;
    let runner = Runner {
        planner,
        known,
        sink: Some(Mutex::new(file)),
        unrecorded: false,
        missing: String::new(),
        journal: journal.clone(),
        evaluated: Mutex::new(BTreeMap::new()),
        simulated: AtomicUsize::new(0),
        progress,
    };
    let outcome = run_search(&runner, shard, threads)?;
    // Rewrite the journal in key order: the folder's bytes do not depend on threads or
    // interruptions.
    drop(runner);
    sort_journal(&journal, &header)?;
    Ok((outcome, warnings))
}

/// Rewrites the journal `path` (`header`, then the lines this search wrote: those it read, in
/// order, and those it appended) with its lines in order of key and replication, a run once
/// (its last line). The lines are copied as they are, from the file: only their keys and places
/// are held, not their runs.
fn sort_journal(path: &Path, header: &str) -> Result<()> {
    use std::io::{BufRead as _, Read as _, Seek as _, SeekFrom};
    let cannot = |e: std::io::Error| Error::io(path, "cannot read back")(e);
    let mut reader = std::io::BufReader::with_capacity(1 << 16, File::open(path).map_err(cannot)?);
    // (key, replication, offset, length), in file order.
    let mut index: Vec<(String, u32, u64, usize)> = Vec::new();
    let mut line = String::new();
    let mut offset = 0u64;
    for n in 0.. {
        line.clear();
        let got = reader.read_line(&mut line).map_err(cannot)?;
        if got == 0 {
            break;
        }
        if n > 0 {
            let k: LineKey = serde_json::from_str(&line).map_err(|e| Error::Output {
                path: path.into(),
                problem: format!(
                    "line {}: changed while the search ran ({}); run the search again",
                    n + 1,
                    crate::check::excerpt(&e.to_string(), crate::check::EXCERPT_CHARS)
                ),
            })?;
            index.push((k.key, k.replication, offset, got));
        }
        offset += got as u64;
    }
    // Stable, so that of a run written twice (read twice from the journal at the start) the
    // line kept is the last, the one the search read.
    index.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut index: Vec<_> = index
        .iter()
        .enumerate()
        .filter(|(i, a)| index.get(i + 1).is_none_or(|b| (&a.0, a.1) != (&b.0, b.1)))
        .map(|(_, a)| (a.2, a.3))
        .collect();
    index.shrink_to_fit();
    let mut file = reader.into_inner();
    let mut buf = Vec::new();
    crate::report::write_atomic_with(path, |w| {
        w.write_all(header.as_bytes())?;
        for (at, len) in &index {
            buf.resize(*len, 0);
            file.seek(SeekFrom::Start(*at))?;
            file.read_exact(&mut buf)?;
            w.write_all(&buf)?;
        }
        Ok(())
    })
}

/// What [`search`] refuses before it writes anything: a grid search (or its shard) of more
/// runs than one plan may hold. Callers that create the output folder first (to lock it) call
/// this before.
pub fn check_before_writing(planner: &Planner, shard: Option<Shard>) -> Result<()> {
    if planner.method == crate::plan::Method::Grid {
        let n = shard.map_or(1, |s| s.count.max(1) as u64);
        let runs = planner
            .grid_size()
            .saturating_mul(u64::from(planner.replications))
            .div_ceil(n);
        if runs > planner.max_runs {
            return Err(too_many_runs(
                planner,
                &format!(
                    "a grid search makes {runs} runs{}, over",
                    shard.map_or(String::new(), |_| " in this shard".into())
                ),
            ));
        }
    }
    Ok(())
}

/// The error for a search that would hold more than `max_runs` runs (`what` leads it).
fn too_many_runs(planner: &Planner, what: &str) -> Error {
    Error::Invalid {
        path: planner.source.clone(),
        key: "replications".into(),
        value: planner.replications.to_string(),
        problem: format!(
            "{what} {} runs, the most one plan may hold (each run's values stay in memory); \
             lower `replications`, narrow the search space, or split it with --shard",
            planner.max_runs
        ),
    }
}

/// Searches again on the union of the shards' journals, simulating nothing; evaluates the
/// whole grid instead where the shards did (their journals say so), whatever the plan file's
/// method. Shards run both ways are refused.
pub fn merge(planner: &Planner, shards: &[PathBuf], threads: Option<usize>) -> Result<Outcome> {
    let mut known: Known = HashMap::new();
    // How the shards ran (a grid or a search), and the first shard that ran so.
    let mut method: Option<(bool, &Path)> = None;
    // A shard run with another plan file of the same runs (other goals, prices, ...).
    let mut other_plan: Option<&Path> = None;
    for d in shards {
        let path = d.join(JOURNAL);
        let read = crate::sweep::exec::read_jsonl_each::<Header, Line>(
            &path,
            "plan journal",
            journal_limit(planner),
            |h| {
                if !h.serves(planner) || h.metrics != metric_set(planner) {
                    return Err(Error::Output {
                        path: path.clone(),
                        problem: format!(
                            "from another plan or edgesim version ({})",
                            h.against(planner)
                        ),
                    });
                }
                Ok(())
            },
            |_, l| {
                known.insert((l.key, l.replication), Kept::of(&l.metrics, &l.classes));
                Ok(())
            },
        )?;
        let Some((h, bad)) = read else {
            return Err(Error::Output {
                path,
                problem: "missing: not a plan output folder".into(),
            });
        };
        if let Some(b) = bad.first() {
            return Err(Error::Output {
                path,
                problem: format!("invalid journal ({b}); run this shard again to repair it"),
            });
        }
        if h.fingerprint != planner.fingerprint {
            other_plan.get_or_insert(d);
        }
        match method {
            None => method = Some((h.grid, d)),
            Some((grid, first)) if grid != h.grid => {
                let how = |g: bool| {
                    if g {
                        "evaluated the grid (--grid)"
                    } else {
                        "searched"
                    }
                };
                return Err(Error::Output {
                    path,
                    problem: format!(
                        "this shard {} but {} {}; run every shard the same way",
                        how(h.grid),
                        first.display(),
                        how(grid)
                    ),
                });
            }
            Some(_) => {}
        }
    }
    let mut planner = planner.clone();
    if let Some((grid, _)) = method {
        planner.method = if grid {
            Method::Grid
        } else {
            Method::BranchAndBound
        };
    }
    let runner = Runner {
        planner: &planner,
        known,
        sink: None,
        unrecorded: false,
        journal: shards.first().cloned().unwrap_or_default(),
        // The shards' searches, bounded with their own goals and prices, need not have run
        // what this plan's search needs.
        missing: match other_plan {
            None => "run every shard to the end first".into(),
            Some(d) => format!(
                "{} ran a plan file with other goals, prices, count ranges, replications or \
                 search settings, whose search did not need it: merge with the plan file the \
                 shards ran, then search this one into the merged folder, whose journal \
                 holds their runs (only the runs they lack are simulated)",
                d.display()
            ),
        },
        evaluated: Mutex::new(BTreeMap::new()),
        simulated: AtomicUsize::new(0),
        progress: &|_| {},
    };
    run_search(&runner, None, threads)
}

/// Writes the journal of `dir`, a merge's output folder: the union of the shards' runs and of
/// those of the journal `dir` holds already (a search's, a shard's or an earlier merge's of
/// the same runs), a run once, in order, with a header without a shard that says `grid` as the
/// shards do. A merged folder is then a plan's output folder like a search's: a search of the
/// plan into it, or of one with other goals ([`Planner::runs_fingerprint`]), reads those runs.
/// A journal in `dir` of other runs is refused, and nothing is written.
pub fn write_merged_journal(planner: &Planner, shards: &[PathBuf], dir: &Path) -> Result<()> {
    let path = dir.join(JOURNAL);
    let mut sources: Vec<PathBuf> = Vec::new();
    if let Some(h) = crate::sweep::exec::read_header::<Header>(&path, "plan journal")? {
        if !h.serves(planner) {
            return Err(Error::Output {
                path,
                problem: format!(
                    "holds results of another plan ({}); merge into another --out folder or \
                     delete it",
                    h.against(planner)
                ),
            });
        }
        // Runs recorded with another set of metrics (another edgesim) are of no use: replaced.
        if h.metrics == metric_set(planner) {
            sources.push(path.clone());
        }
    }
    // Every shard ran the same way (`merge` checked).
    let grid = match shards.first() {
        Some(d) => crate::sweep::exec::read_header::<Header>(&d.join(JOURNAL), "plan journal")?
            .is_some_and(|h| h.grid),
        None => false,
    };
    sources.extend(shards.iter().map(|d| d.join(JOURNAL)));
    let header = {
        let mut pl = planner.clone();
        pl.method = if grid {
            Method::Grid
        } else {
            Method::BranchAndBound
        };
        journal_header(&pl, None)
    };
    // The error that ended a reading, if any (nothing is then written).
    let mut failed = None;
    let written = crate::report::write_atomic_with(&path, |w| {
        w.write_all(header.as_bytes())?;
        for source in &sources {
            let read = crate::sweep::exec::read_jsonl_each::<Header, Line>(
                source,
                "plan journal",
                journal_limit(planner),
                |_| Ok(()),
                |_, l| {
                    let recorded = Recorded {
                        metrics: l.metrics,
                        classes: l.classes,
                    };
                    serde_json::to_writer(
                        &mut *w,
                        &LineOut::of(&l.key, l.replication, l.seed, &recorded),
                    )
                    .and_then(|()| w.write_all(b"\n").map_err(serde_json::Error::io))
                    .map_err(|e| Error::io(&path, "cannot write")(std::io::Error::other(e)))
                },
            );
            if let Err(e) = read {
                failed = Some(e);
                return Err(std::io::Error::other("a journal could not be read"));
            }
        }
        Ok(())
    });
    if let Some(e) = failed {
        return Err(e);
    }
    written?;
    sort_journal(&path, &header)
}

impl Header {
    /// The journal holds runs of `planner`'s: the same runs (their hash), or, in an earlier
    /// edgesim's journal, which has no such hash, the same plan.
    fn serves(&self, planner: &Planner) -> bool {
        match &self.runs {
            Some(runs) => *runs == planner.runs_fingerprint,
            None => self.fingerprint == planner.fingerprint,
        }
    }

    /// The hash [`Header::serves`] compares, and the plan's, in words.
    fn against(&self, planner: &Planner) -> String {
        match &self.runs {
            Some(runs) => format!("runs {runs}, expected {}", planner.runs_fingerprint),
            None => format!(
                "fingerprint {}, expected {}",
                self.fingerprint, planner.fingerprint
            ),
        }
    }
}

/// The journal's header line of `planner` (its `shard`, if any), with its end of line.
fn journal_header(planner: &Planner, shard: Option<&str>) -> String {
    let h = Header {
        plan: planner.name.clone(),
        fingerprint: planner.fingerprint.clone(),
        runs: Some(planner.runs_fingerprint.clone()),
        shard: shard.map(str::to_string),
        metrics: metric_set(planner),
        grid: planner.method == Method::Grid,
    };
    serde_json::to_string(&h).unwrap_or_default() + "\n"
}

/// The runs the journal holds that are valid for this plan, and warnings for what is redone;
/// the journal is written again as it is read: `header`, then those runs' lines (a run twice,
/// both: [`sort_journal`] keeps the last, the one read).
fn read_known(
    planner: &Planner,
    journal: &Path,
    shard: Option<&str>,
    header: &str,
) -> Result<(Known, Vec<String>)> {
    // The error that ended the reading, if any (the rewrite is then left undone).
    let mut failed = None;
    let mut read = None;
    let written = crate::report::write_atomic_with(journal, |w| {
        w.write_all(header.as_bytes())?;
        let result = scan_known(planner, journal, shard, |line| {
            serde_json::to_writer(&mut *w, line)
                .and_then(|()| w.write_all(b"\n").map_err(serde_json::Error::io))
                .map_err(|e| Error::io(journal, "cannot write")(std::io::Error::other(e)))
        });
        match result {
            Ok(r) => {
                read = Some(r);
                Ok(())
            }
            Err(e) => {
                failed = Some(e);
                Err(std::io::Error::other("the journal could not be read"))
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    written?;
    Ok(read.unwrap_or_default())
}

/// The runs the journal holds that are valid for this plan (each line given to `line` as it
/// is read), and warnings for what is redone.
fn scan_known(
    planner: &Planner,
    journal: &Path,
    shard: Option<&str>,
    mut line: impl FnMut(&LineOut<'_>) -> Result<()>,
) -> Result<(Known, Vec<String>)> {
    let mut known = Known::new();
    let mut mismatched = Vec::new();
    let classes = recorded_classes(planner);
    let same_metrics = std::cell::Cell::new(true);
    let mut other_metrics = 0usize;
    let read = crate::sweep::exec::read_jsonl_each::<Header, Line>(
        journal,
        "plan journal",
        journal_limit(planner),
        |h| {
            if !h.serves(planner) || h.shard.as_deref() != shard {
                return Err(Error::Output {
                    path: journal.into(),
                    problem: format!(
                        "holds results of another plan or shard ({}; shard {}): its boards, \
                         options, traffic, seed or load differ; use another --out folder or \
                         delete it",
                        h.against(planner),
                        h.shard.as_deref().unwrap_or("none")
                    ),
                });
            }
            same_metrics.set(h.metrics == metric_set(planner));
            Ok(())
        },
        |n, l: Line| {
            if !same_metrics.get() {
                other_metrics += 1;
                return Ok(());
            }
            let recorded = Recorded {
                metrics: l.metrics,
                classes: l.classes,
            };
            if l.seed != planner.seed + u64::from(l.replication) || !recorded.complete(classes) {
                mismatched.push(format!(
                    "line {n}: replication {}, seed {}, {} metrics and {} classes do not match \
                     the plan",
                    l.replication,
                    l.seed,
                    recorded.metrics.len(),
                    recorded.classes.len()
                ));
                return Ok(());
            }
            // A replication past this plan's (a plan of more replications ran it) stays in the
            // journal, unread.
            line(&LineOut::of(&l.key, l.replication, l.seed, &recorded))?;
            if l.replication < planner.replications {
                known.insert(
                    (l.key, l.replication),
                    Kept::of(&recorded.metrics, &recorded.classes),
                );
            }
            Ok(())
        },
    )?;
    let mut warnings = Vec::new();
    if let Some((_, bad)) = read {
        warnings.extend(bad);
        if other_metrics > 0 {
            warnings.push(format!(
                "all {other_metrics} runs: recorded with another set of metrics (another \
                 edgesim version)"
            ));
        }
    }
    warnings.extend(mismatched);
    Ok((known, warnings))
}

/// The plans `points` of `planner` evaluated on every replication (none dropped after one
/// run), each run read from the journal of the plan's output folder `dir` where it holds it
/// and simulated otherwise (on `threads` threads), recording nothing: the folder is left as it
/// is. `edgesim plan --load-scale X,Y,...` judges each load's cheapest plan at the other loads
/// so.
pub fn evaluate_points(
    planner: &Planner,
    dir: &Path,
    points: &[Point],
    threads: Option<usize>,
) -> Result<Vec<Evaluation>> {
    let journal = dir.join(JOURNAL);
    let (known, _) = scan_known(planner, &journal, None, |_| Ok(()))?;
    let runner = Runner {
        planner,
        known,
        sink: None,
        unrecorded: true,
        missing: String::new(),
        journal: journal.clone(),
        evaluated: Mutex::new(BTreeMap::new()),
        simulated: AtomicUsize::new(0),
        progress: &|_| {},
    };
    let pool = crate::sweep::exec::thread_pool(threads, &journal)?;
    pool.install(|| {
        points
            .par_iter()
            .map(|p| runner.evaluate(p, false))
            .collect()
    })
}

fn run_search(
    runner: &Runner<'_>,
    shard: Option<Shard>,
    threads: Option<usize>,
) -> Result<Outcome> {
    let pl = runner.planner;
    let pool = crate::sweep::exec::thread_pool(threads, &runner.journal)?;
    let mut branches_n = 0;
    let mut pruned = 0;
    pool.install(|| -> Result<()> {
        // The cloud-only baselines, every replication.
        let mut best = f64::INFINITY;
        if pl.types.iter().all(|t| t.min_count == 0) {
            let zero: Vec<Point> = (0..pl.clouds.len())
                .filter(|&c| pl.clouds[c].table.is_some())
                .map(|c| Point {
                    cloud: c,
                    ..pl.zero_point()
                })
                .collect();
            for e in zero
                .par_iter()
                .map(|p| runner.evaluate(p, false))
                .collect::<Result<Vec<_>>>()?
            {
                if e.feasible {
                    best = best.min(e.cost());
                }
            }
        }
        if pl.method == Method::Grid {
            let points: Vec<Point> = pl
                .grid()
                .into_iter()
                .enumerate()
                .filter(|(i, _)| shard.is_none_or(|s| s.owns(*i)))
                .map(|(_, p)| p)
                .collect();
            points
                .par_iter()
                .map(|p| runner.evaluate(p, false).map(|_| ()))
                .collect::<Result<Vec<()>>>()?;
            return Ok(());
        }
        let last = pl.bisected();
        let mut branches: Vec<(f64, Branch)> = pl
            .branches()
            .into_iter()
            .map(|b| {
                let lo = pl.lowest_last(&b.base);
                (
                    pl.capex_usd_month(&b.base) + pl.types[last].capex_usd_month(lo),
                    b,
                )
            })
            .collect();
        branches.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        branches_n = branches.len();
        let owned: Vec<(usize, &(f64, Branch))> = branches
            .iter()
            .enumerate()
            .filter(|(i, _)| shard.is_none_or(|s| s.owns(*i)))
            .collect();
        // Waves are cut from the global order, so a shard's waves are the whole search's
        // waves restricted to its branches (its bound is never below the whole search's).
        for wave in branches.chunks(pl.wave).enumerate() {
            let (w, chunk) = wave;
            let start = w * pl.wave;
            let mine: Vec<&Branch> = owned
                .iter()
                .filter(|(i, _)| (start..start + chunk.len()).contains(i))
                .filter_map(|(_, (lb, b))| {
                    if *lb < best {
                        Some(b)
                    } else {
                        pruned += 1;
                        None
                    }
                })
                .collect();
            let bound = best;
            let found = mine
                .par_iter()
                .map(|b| search_branch(runner, b, bound))
                .collect::<Result<Vec<f64>>>()?;
            for c in found {
                best = best.min(c);
            }
        }
        Ok(())
    })?;
    let evaluations: Vec<Evaluation> = runner.lock().values().cloned().collect();
    Ok(outcome(
        pl,
        evaluations,
        runner.simulated.load(Ordering::Relaxed),
        branches_n,
        pruned,
    ))
}

/// Searches one branch; returns the cheapest feasible cost found (infinity if none).
fn search_branch(runner: &Runner<'_>, b: &Branch, bound: f64) -> Result<f64> {
    let pl = runner.planner;
    let last = pl.bisected();
    let ty = &pl.types[last];
    let mut best = f64::INFINITY;
    for s in 0..ty.slots.len() {
        for q in 0..ty.queue_capacity.len() {
            let at = |n: u32| {
                let mut p = b.base.clone();
                p.counts[last] = n;
                p.slots[last] = s;
                p.queue[last] = q;
                p.canonical()
            };
            let (lo, hi) = (pl.lowest_last(&b.base), ty.max_count);
            if lo > hi {
                continue;
            }
            let mut n = lo;
            if pl.assume_monotone {
                if !runner.evaluate(&at(hi), true)?.feasible {
                    continue;
                }
                let (mut a, mut z) = (lo, hi); // z is feasible
                while a < z {
                    let m = a + (z - a) / 2;
                    if runner.evaluate(&at(m), true)?.feasible {
                        z = m;
                    } else {
                        a = m + 1;
                    }
                }
                best = best.min(runner.evaluate(&at(z), true)?.cost());
                n = z + 1;
            }
            // Every count whose board cost alone can still beat the cheapest plan known.
            while n <= hi && pl.capex_usd_month(&at(n)) < best.min(bound) {
                let e = runner.evaluate(&at(n), true)?;
                if e.feasible {
                    best = best.min(e.cost());
                }
                n += 1;
            }
        }
    }
    Ok(best)
}

fn outcome(
    pl: &Planner,
    evaluations: Vec<Evaluation>,
    simulated: usize,
    branches: usize,
    pruned: usize,
) -> Outcome {
    let cheapest = |f: &dyn Fn(&Evaluation) -> bool| {
        evaluations
            .iter()
            .enumerate()
            .filter(|(_, e)| e.feasible && f(e))
            .min_by(|a, b| a.1.cost().total_cmp(&b.1.cost()).then(a.0.cmp(&b.0)))
            .map(|(i, _)| i)
    };
    let best = cheapest(&|_| true);
    let no_cloud = |e: &Evaluation| pl.clouds[e.point.cloud].table.is_none();
    let edge_only = cheapest(&no_cloud);
    let cloud_only = evaluations
        .iter()
        .enumerate()
        .filter(|(_, e)| e.point.boards() == 0)
        .map(|(i, _)| i)
        .collect();
    // Pareto front over (cost, TTFT p95, cloud share), all minimised, of the feasible plans.
    let key = |e: &Evaluation| {
        [
            e.cost(),
            e.stat(|r| r.run.ttft_p95_ms).mean.unwrap_or(f64::INFINITY),
            e.stat(|r| r.cloud_share).mean.unwrap_or(f64::INFINITY),
        ]
    };
    let feasible: Vec<(usize, [f64; 3])> = evaluations
        .iter()
        .enumerate()
        .filter(|(_, e)| e.feasible)
        .map(|(i, e)| (i, key(e)))
        .collect();
    // Plans equal in all three are one point of the front: the first in point order stands
    // for them (a fleet without a cloud before the same fleet with one that took nothing).
    let mut pareto: Vec<usize> = feasible
        .iter()
        .filter(|(i, a)| {
            !feasible.iter().any(|(j, b)| {
                let le = b.iter().zip(a).all(|(x, y)| x <= y);
                le && (b.iter().zip(a).any(|(x, y)| x < y) || j < i)
            })
        })
        .map(|(i, _)| *i)
        .collect();
    pareto.sort_by(|&a, &b| {
        evaluations[a]
            .cost()
            .total_cmp(&evaluations[b].cost())
            .then(a.cmp(&b))
    });
    Outcome {
        runs: evaluations.iter().map(|e| e.runs.len()).sum(),
        best,
        pareto,
        cloud_only,
        edge_only,
        edge_only_searched: pl.clouds.iter().any(|c| c.table.is_none()),
        evaluations,
        simulated,
        grid_points: pl.grid_size(),
        branches,
        pruned,
    }
}

#[cfg(test)]
mod tests {
    use super::{Line, LineOut, Recorded};

    #[test]
    fn a_metric_that_is_not_a_finite_number_is_recorded_as_none() {
        let r = Recorded::new(
            vec![Some(1.5), Some(f64::INFINITY), None, Some(f64::NAN)],
            vec![vec![Some(f64::NEG_INFINITY), Some(0.0)], vec![]],
        );
        let all = |m: &super::Metrics| m.iter().collect::<Vec<_>>();
        assert_eq!(all(&r.metrics), vec![Some(1.5), None, None, None]);
        let classes: Vec<_> = r.classes.iter().map(all).collect();
        assert_eq!(classes, vec![vec![None, Some(0.0)], vec![]]);
        // As the journal reads it back: JSON has no such numbers (serde_json writes null).
        let text = serde_json::to_string(&LineOut::of("k", 2, 9, &r)).unwrap();
        assert_eq!(
            text,
            r#"{"key":"k","replication":2,"seed":9,"metrics":[1.5,null,null,null],"classes":[[null,0.0],[]]}"#
        );
        let back: Line = serde_json::from_str(&text).unwrap();
        assert_eq!(Recorded::from(back), r);
    }
}
