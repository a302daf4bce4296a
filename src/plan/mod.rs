//! `edgesim plan`: the cheapest fleet that meets the service goals.
//!
//! A plan file names a workload (a scenario), candidate device types with their price, the
//! search space (counts, slots, queue, policy, rate limit, cloud) and the goals. [`Planner`]
//! is the validated plan; [`search`] finds the cheapest plan that meets every goal, and
//! [`output`] writes the answer, the Pareto front and the baselines. The file format and the
//! search are in `docs/plan.md`, the cost model in `docs/metrics.md`.

pub mod cost;
pub mod output;
pub mod search;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::check::{Checker, InputCache};
use crate::device::ProfileSource;
use crate::error::{Error, Result};
use crate::scenario::{LoadOptions, Scenario};
use crate::sweep::value_text;

pub use cost::Costs;

/// Hours in an average month (365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Default board lifetime over which its price is amortised \[months\].
pub const DEFAULT_LIFETIME_MONTHS: f64 = 36.0;
/// Default replications per plan.
pub const DEFAULT_REPLICATIONS: u32 = 3;
/// Default screening margin: a plan whose first run misses a goal by more than this share is
/// dropped without its other replications.
pub const DEFAULT_SCREEN_MARGIN: f64 = 0.5;
/// Default number of branches searched between two updates of the best cost.
pub const DEFAULT_WAVE: usize = 16;
/// The most points a plan's search space may hold (the grid's size).
pub const MAX_POINTS: u64 = 10_000_000;

fn three() -> u32 {
    DEFAULT_REPLICATIONS
}
fn hours() -> f64 {
    HOURS_PER_MONTH
}
fn lifetime() -> f64 {
    DEFAULT_LIFETIME_MONTHS
}
fn margin() -> f64 {
    DEFAULT_SCREEN_MARGIN
}
fn wave() -> usize {
    DEFAULT_WAVE
}

/// `load_scale` as written: one load, or several (a plan for growth).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(
    untagged,
    expecting = "a number, or an array of numbers (one load scale each)"
)]
pub enum LoadScaleFile {
    /// One load.
    One(f64),
    /// Several loads, each searched on its own (`edgesim plan`).
    Several(Vec<f64>),
}

/// A plan file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// Plan name (default: the file stem).
    pub name: Option<String>,
    /// The workload: a scenario file, relative to the plan file. Its `[[devices]]` are replaced
    /// by each candidate fleet; its selection, rate limit and cloud are the defaults of the
    /// search.
    pub scenario: String,
    /// Runs per plan (replication r uses seed `seed + r` for every plan).
    #[serde(default = "three")]
    pub replications: u32,
    /// Base seed (default: the scenario's).
    pub seed: Option<u64>,
    /// The traffic scenario's load times this (`edgesim capacity`'s scaling: rates times it, a
    /// trace's gaps divided by it, a closed loop's users times it; to 12 significant digits);
    /// 1 by default. Several (`[1, 1.5, 2]`): `edgesim plan` searches the plan at each.
    pub load_scale: Option<LoadScaleFile>,
    /// Prices of energy and the month the traffic fills.
    #[serde(default)]
    pub costs: CostsFile,
    /// Candidate device types.
    pub types: Vec<TypeFile>,
    /// What else is searched, and how.
    #[serde(default)]
    pub search: SearchFile,
    /// The service goals.
    #[serde(default)]
    pub goals: GoalsFile,
}

/// `[costs]`.
#[derive(Clone, Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CostsFile {
    /// Electricity price \[US cents per kWh\] (default: the scenario's `metrics`).
    pub electricity_cents_per_kwh: Option<f64>,
    /// Hours a month that look like the scenario's traffic; the boards idle the rest of the
    /// month (default 730: all of it).
    #[serde(default = "hours")]
    pub traffic_hours_per_month: f64,
}

/// `[[types]]`: a candidate device type.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeFile {
    /// Name (also the device names in the scenario).
    pub name: String,
    /// Device profile (board and power mode): a file relative to the plan file, or the name
    /// of a shipped profile.
    pub profile: String,
    /// Model served (catalogue name, calibrated in the profile).
    pub model: String,
    /// Purchase price of one board \[USD\].
    pub price_usd: f64,
    /// Months over which the price is amortised.
    #[serde(default = "lifetime")]
    pub lifetime_months: f64,
    /// Fewest boards of this type.
    #[serde(default)]
    pub min_count: u32,
    /// Most boards of this type.
    pub max_count: u32,
    /// Slot counts searched (default: the scenario default).
    pub slots: Option<Vec<u32>>,
    /// Queue capacities searched (default: the scenario default).
    pub queue_capacity: Option<Vec<u32>>,
    /// Context per slot \[tokens\] (default: the scenario default).
    pub ctx_tokens: Option<u32>,
    /// Fixed windows in which every board of this type is down (as a device group's).
    #[serde(default)]
    pub outages: Vec<crate::outages::WindowFile>,
    /// Random failures of each board of this type (as a device group's).
    pub random_outages: Option<crate::outages::RandomFile>,
}

/// How the search runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Branch and bound on board cost with screening (and bisection on the board count when
    /// `assume_monotone`).
    #[default]
    BranchAndBound,
    /// Every point with every replication (to check the search; for small spaces).
    Grid,
}

/// `[search]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchFile {
    /// Selection policies: a kind (`"load_aware"`) or a `[selection]` table (absent: the
    /// scenario's; an empty list is refused).
    pub policies: Option<Vec<toml::Value>>,
    /// Rate limiters: `[rate_limit]` tables, or `"none"` (absent: the scenario's; an empty
    /// list is refused).
    pub rate_limits: Option<Vec<toml::Value>>,
    /// Gateway routings: tables of `[routing]` keys, each set over the scenario's `[routing]`
    /// (`{}`: the scenario's as it is; absent: that one option; an empty list is refused).
    pub routings: Option<Vec<toml::Value>>,
    /// Clouds: `"none"` (no cloud: edge-only), a catalogue model (the scenario's `[cloud]`
    /// with that model and its preset latency and prices), or a whole `[cloud]` table
    /// (absent: `"none"` and the scenario's cloud; an empty list is refused).
    pub clouds: Option<Vec<toml::Value>>,
    /// `branch_and_bound` (default) or `grid`.
    #[serde(default)]
    pub method: Method,
    /// Take every goal to be monotone in the number of boards of a type (more boards never
    /// miss a goal that fewer meet) and bisect on the count: fewer runs, but a wrong answer
    /// where the assumption fails (slow boards taking traffic from a faster cloud raise the
    /// latency percentiles).
    #[serde(default)]
    pub assume_monotone: bool,
    /// Screening margin (share of a goal; 0 disables screening).
    #[serde(default = "margin")]
    pub screen_margin: f64,
    /// Branches searched between two updates of the best cost.
    #[serde(default = "wave")]
    pub wave: usize,
}

impl Default for SearchFile {
    fn default() -> Self {
        SearchFile {
            policies: None,
            rate_limits: None,
            routings: None,
            clouds: None,
            method: Method::default(),
            assume_monotone: false,
            screen_margin: DEFAULT_SCREEN_MARGIN,
            wave: DEFAULT_WAVE,
        }
    }
}

/// `[goals]`: every goal given must hold (on its 95 % confidence bound). A class's goals,
/// `[goals.classes.NAME]`, are a table of the same keys (but `classes`) on its requests only.
#[derive(Clone, Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GoalsFile {
    /// Most TTFT p95 of the served requests \[ms\].
    pub ttft_p95_ms: Option<f64>,
    /// Most TTFT p99 \[ms\].
    pub ttft_p99_ms: Option<f64>,
    /// Most end-to-end p95 \[ms\].
    pub e2e_p95_ms: Option<f64>,
    /// Most end-to-end p99 \[ms\].
    pub e2e_p99_ms: Option<f64>,
    /// Most share of requests rejected.
    pub max_reject_share: Option<f64>,
    /// Least share of requests served at the edge.
    pub min_edge_share: Option<f64>,
    /// Most cloud fees per month \[USD\].
    pub max_cloud_usd_per_month: Option<f64>,
    /// Most TTFT p95 of any metric window's served requests \[ms\] (`[metrics] window_s`).
    pub worst_window_ttft_p95_ms: Option<f64>,
    /// Most TTFT p99 of any window \[ms\].
    pub worst_window_ttft_p99_ms: Option<f64>,
    /// Most end-to-end p95 of any window \[ms\].
    pub worst_window_e2e_p95_ms: Option<f64>,
    /// Most end-to-end p99 of any window \[ms\].
    pub worst_window_e2e_p99_ms: Option<f64>,
    /// Most share of any window's requests rejected.
    pub max_window_reject_share: Option<f64>,
    /// `[goals.classes.NAME]`: goals on the requests of one class of the scenario's
    /// `workload.classes` (the keys above; a class's table has no `classes`).
    #[serde(default)]
    pub classes: std::collections::BTreeMap<String, GoalsFile>,
}

impl GoalsFile {
    /// The goal of `key` (one of [`GOAL_KEYS`]), to read or set; `None` for another key.
    pub fn entry(&mut self, key: &str) -> Option<&mut Option<f64>> {
        Some(match key {
            "ttft_p95_ms" => &mut self.ttft_p95_ms,
            "ttft_p99_ms" => &mut self.ttft_p99_ms,
            "e2e_p95_ms" => &mut self.e2e_p95_ms,
            "e2e_p99_ms" => &mut self.e2e_p99_ms,
            "max_reject_share" => &mut self.max_reject_share,
            "min_edge_share" => &mut self.min_edge_share,
            "max_cloud_usd_per_month" => &mut self.max_cloud_usd_per_month,
            "worst_window_ttft_p95_ms" => &mut self.worst_window_ttft_p95_ms,
            "worst_window_ttft_p99_ms" => &mut self.worst_window_ttft_p99_ms,
            "worst_window_e2e_p95_ms" => &mut self.worst_window_e2e_p95_ms,
            "worst_window_e2e_p99_ms" => &mut self.worst_window_e2e_p99_ms,
            "max_window_reject_share" => &mut self.max_window_reject_share,
            _ => return None,
        })
    }

    /// The bounds, in [`GOALS`] order.
    fn given(&self) -> [Option<f64>; GOAL_COUNT] {
        [
            self.ttft_p95_ms,
            self.ttft_p99_ms,
            self.e2e_p95_ms,
            self.e2e_p99_ms,
            self.max_reject_share,
            self.min_edge_share,
            self.max_cloud_usd_per_month,
            self.worst_window_ttft_p95_ms,
            self.worst_window_ttft_p99_ms,
            self.worst_window_e2e_p95_ms,
            self.worst_window_e2e_p99_ms,
            self.max_window_reject_share,
        ]
    }
}

/// A quantity a goal bounds, per run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// TTFT p95 \[ms\].
    TtftP95Ms,
    /// TTFT p99 \[ms\].
    TtftP99Ms,
    /// End-to-end p95 \[ms\].
    E2eP95Ms,
    /// End-to-end p99 \[ms\].
    E2eP99Ms,
    /// Rejected share.
    RejectShare,
    /// Edge-served share.
    EdgeShare,
    /// Cloud fees per month \[USD\].
    CloudUsdPerMonth,
    /// The highest TTFT p95 of a metric window \[ms\].
    WindowTtftP95Ms,
    /// The highest TTFT p99 of a window \[ms\].
    WindowTtftP99Ms,
    /// The highest end-to-end p95 of a window \[ms\].
    WindowE2eP95Ms,
    /// The highest end-to-end p99 of a window \[ms\].
    WindowE2eP99Ms,
    /// The highest rejected share of a window.
    WindowRejectShare,
}

impl Quantity {
    /// Its name in tables (`ttft_p95_ms`, `reject_share`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Quantity::TtftP95Ms => "ttft_p95_ms",
            Quantity::TtftP99Ms => "ttft_p99_ms",
            Quantity::E2eP95Ms => "e2e_p95_ms",
            Quantity::E2eP99Ms => "e2e_p99_ms",
            Quantity::RejectShare => "reject_share",
            Quantity::EdgeShare => "edge_share",
            Quantity::CloudUsdPerMonth => "cloud_usd_month",
            Quantity::WindowTtftP95Ms => "worst_window_ttft_p95_ms",
            Quantity::WindowTtftP99Ms => "worst_window_ttft_p99_ms",
            Quantity::WindowE2eP95Ms => "worst_window_e2e_p95_ms",
            Quantity::WindowE2eP99Ms => "worst_window_e2e_p99_ms",
            Quantity::WindowRejectShare => "worst_window_reject_share",
        }
    }

    /// Whether it is of the worst metric window (needs `[metrics] window_s`).
    pub fn of_windows(self) -> bool {
        matches!(
            self,
            Quantity::WindowTtftP95Ms
                | Quantity::WindowTtftP99Ms
                | Quantity::WindowE2eP95Ms
                | Quantity::WindowE2eP99Ms
                | Quantity::WindowRejectShare
        )
    }
}

/// The request class a goal is on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GoalClass {
    /// Its name in `workload.classes`.
    pub name: String,
    /// Its index there.
    pub index: usize,
}

/// A goal: a quantity, of the whole run or of one request class, and its bound.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Goal {
    /// The goal's key in `[goals]` (in `[goals.classes.NAME]` for a class's).
    pub key: &'static str,
    /// The class whose requests it is on (`None`: every request).
    pub class: Option<GoalClass>,
    /// What it bounds.
    pub quantity: Quantity,
    /// The bound.
    pub bound: f64,
    /// `true`: the quantity must be at most `bound`; `false`: at least.
    pub at_most: bool,
}

impl Goal {
    /// Its name: the key, after the class's name and a dot for a class's goal
    /// (`question.ttft_p95_ms`, as `--goal` takes it).
    pub fn name(&self) -> String {
        match &self.class {
            Some(c) => format!("{}.{}", c.name, self.key),
            None => self.key.to_string(),
        }
    }

    /// The name of its quantity in tables (`ttft_p95_ms`, `question.reject_share`).
    pub fn column(&self) -> String {
        match &self.class {
            Some(c) => format!("{}.{}", c.name, self.quantity.name()),
            None => self.quantity.name().to_string(),
        }
    }

    /// Whether the plans table and capacity's loads table lack a column for its quantity: a
    /// class's goal or a window's then adds one (`NAME.QUANTITY`, `QUANTITY`).
    pub fn needs_column(&self) -> bool {
        self.class.is_some() || self.quantity.of_windows()
    }

    /// The goal in words, e.g. `ttft_p95_ms <= 2000`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            self.name(),
            if self.at_most { "<=" } else { ">=" },
            crate::check::num(self.bound)
        )
    }
}

/// The goals given in `g`, checked: a latency > 0, a share in [0, 1], fees >= 0; at least one;
/// a class's goals on one of `classes` (the scenario's request classes, by name); a window's
/// goals (of the run's windows, or of a class's) only when the scenario has metric windows
/// (`window_s`, its `[metrics] window_s`). `prefix` leads each key in errors (`goals.` in a
/// plan file, where a class's goals are `goals.classes.NAME.KEY`; empty on the command line,
/// where they are `NAME.KEY`).
pub fn goals(
    cx: &Checker,
    prefix: &str,
    g: &GoalsFile,
    classes: &[String],
    window_s: Option<f64>,
) -> Result<Vec<Goal>> {
    let needs_windows = |at: &str, kind: (&str, Quantity, bool), b: f64| -> Result<()> {
        if kind.1.of_windows() && window_s.is_none() {
            return Err(cx.bad(
                at,
                crate::check::num(b),
                "is a goal on the worst window of time, and the scenario has no windows: \
                 set its [metrics] window_s (3600 for a goal held every hour)",
            ));
        }
        Ok(())
    };
    let mut out = Vec::new();
    for (&kind, v) in GOALS.iter().zip(g.given()) {
        if let Some(b) = v {
            let at = format!("{prefix}{}", kind.0);
            needs_windows(&at, kind, b)?;
            out.push(goal(cx, &at, kind, None, b)?);
        }
    }
    let class_key = |name: &str, key: &str| {
        if prefix.is_empty() {
            format!("{name}.{key}")
        } else {
            format!("{prefix}classes.{name}.{key}")
        }
    };
    for (name, cg) in &g.classes {
        let Some(index) = classes.iter().position(|c| c == name) else {
            return Err(cx.bad(
                class_key(name, "").trim_end_matches('.'),
                name,
                format!(
                    "the scenario's workload.classes has no class of that name; its classes: {}",
                    classes.join(", ")
                ),
            ));
        };
        if !cg.classes.is_empty() {
            return Err(cx.bad(
                class_key(name, "classes"),
                "(a table)",
                "a class's goals are on its own requests: give classes' goals in goals.classes",
            ));
        }
        let before = out.len();
        for (&kind, v) in GOALS.iter().zip(cg.given()) {
            if let Some(b) = v {
                needs_windows(&class_key(name, kind.0), kind, b)?;
                let class = GoalClass {
                    name: name.clone(),
                    index,
                };
                out.push(goal(cx, &class_key(name, kind.0), kind, Some(class), b)?);
            }
        }
        if out.len() == before {
            return Err(cx.bad(
                class_key(name, "").trim_end_matches('.'),
                "{}",
                format!("give at least one goal: {}", GOAL_KEYS.join(", ")),
            ));
        }
    }
    if out.is_empty() {
        return Err(cx.bad(
            prefix.trim_end_matches('.'),
            "{}",
            format!("give at least one goal: {}", GOAL_KEYS.join(", ")),
        ));
    }
    Ok(out)
}

/// One goal, its bound checked: a latency no run can have (0 ms or less) is refused; a share
/// lies in [0, 1]; fees may be bounded at 0 (no cloud at all).
fn goal(
    cx: &Checker,
    at: &str,
    (key, quantity, at_most): (&'static str, Quantity, bool),
    class: Option<GoalClass>,
    bound: f64,
) -> Result<Goal> {
    let bound = match quantity {
        Quantity::RejectShare | Quantity::EdgeShare | Quantity::WindowRejectShare => {
            cx.fraction(at, bound)?
        }
        Quantity::CloudUsdPerMonth => cx.non_negative(at, bound)?,
        _ => cx.positive(at, bound)?,
    };
    Ok(Goal {
        key,
        class,
        quantity,
        bound,
        at_most,
    })
}

/// Every goal: its key, the quantity it bounds and whether it is an upper bound (of the run,
/// or of a class).
const GOALS: [(&str, Quantity, bool); GOAL_COUNT] = [
    ("ttft_p95_ms", Quantity::TtftP95Ms, true),
    ("ttft_p99_ms", Quantity::TtftP99Ms, true),
    ("e2e_p95_ms", Quantity::E2eP95Ms, true),
    ("e2e_p99_ms", Quantity::E2eP99Ms, true),
    ("max_reject_share", Quantity::RejectShare, true),
    ("min_edge_share", Quantity::EdgeShare, false),
    ("max_cloud_usd_per_month", Quantity::CloudUsdPerMonth, true),
    ("worst_window_ttft_p95_ms", Quantity::WindowTtftP95Ms, true),
    ("worst_window_ttft_p99_ms", Quantity::WindowTtftP99Ms, true),
    ("worst_window_e2e_p95_ms", Quantity::WindowE2eP95Ms, true),
    ("worst_window_e2e_p99_ms", Quantity::WindowE2eP99Ms, true),
    ("max_window_reject_share", Quantity::WindowRejectShare, true),
];

/// How many goal keys there are.
const GOAL_COUNT: usize = 12;

const fn keys() -> [&'static str; GOAL_COUNT] {
    let mut k = [""; GOAL_COUNT];
    let mut i = 0;
    while i < GOAL_COUNT {
        k[i] = GOALS[i].0;
        i += 1;
    }
    k
}

/// The goals' keys, as `[goals]` and `--goal` take them, and `[goals.classes.NAME]` and
/// `--goal NAME.KEY` for a class's.
pub const GOAL_KEYS: [&str; GOAL_COUNT] = keys();

/// A candidate device type, validated.
#[derive(Clone, Debug)]
pub struct DeviceType {
    /// Name.
    pub name: String,
    /// The profile as its device group's key and value: `profile`, a file's path (resolved
    /// against the plan file, absolute), or `inline`, a shipped profile's table (by its name it
    /// would be looked for again beside the traffic scenario, which may hold a file of that
    /// name).
    pub profile: (&'static str, toml::Value),
    /// Model.
    pub model: String,
    /// Board price \[USD\].
    pub price_usd: f64,
    /// Amortisation \[months\].
    pub lifetime_months: f64,
    /// Count range.
    pub min_count: u32,
    /// Count range.
    pub max_count: u32,
    /// Slot options.
    pub slots: Vec<u32>,
    /// Queue options.
    pub queue_capacity: Vec<u32>,
    /// Context per slot.
    pub ctx_tokens: Option<u32>,
    /// Outage windows of every board of the type, as written (validated).
    pub outages: Vec<crate::outages::WindowFile>,
    /// Random failures of each board, as written (validated).
    pub random_outages: Option<crate::outages::RandomFile>,
    /// Idle power of one board \[W\] (from the profile).
    pub idle_w: f64,
}

/// The keys of a plan file that do not change what a run of a plan simulates: what judges the
/// runs (goals, costs), how many replications and which plans are run (counts are absolute in
/// a run's key), and how the search orders them. [`Planner::runs_fingerprint`] leaves them out.
const RUN_FREE_KEYS: [(&str, &[&str]); 3] = [
    ("", &["goals", "costs", "replications", "load_scale"]),
    (
        "types",
        &["price_usd", "lifetime_months", "min_count", "max_count"],
    ),
    (
        "search",
        &["method", "assume_monotone", "screen_margin", "wave"],
    ),
];

/// [`Planner::runs_fingerprint`]: the plan's text without [`RUN_FREE_KEYS`] and the traffic
/// scenario's text, both in canonical form ([`crate::check::canonical_toml`]: comments and
/// spacing do not count), the scale, and `files`, the digest of the input files its runs read
/// ([`InputCache::files_digest`]: traces, profile files, model catalogues).
fn runs_fingerprint(text: &str, base_text: &str, scale: f64, files: &str) -> String {
    let kept = crate::check::canonical_toml(text, &RUN_FREE_KEYS);
    let base = crate::check::canonical_toml(base_text, &[]);
    let all = format!("runs 1\u{0}{kept}\u{0}{base}\u{0}load_scale={scale:?}\u{0}{files}");
    format!("{:016x}", crate::rng::fnv1a(all.as_bytes()))
}

impl DeviceType {
    /// Board cost per month \[USD\] of `count` boards.
    pub fn capex_usd_month(&self, count: u32) -> f64 {
        f64::from(count) * self.price_usd / self.lifetime_months
    }
}

/// One option of the search: its label in tables and the scenario table it sets (`None`: no
/// cloud).
#[derive(Clone, Debug)]
pub struct Choice {
    /// Label in tables and reports.
    pub label: String,
    /// The scenario section.
    pub table: Option<toml::Value>,
}

/// A validated plan.
#[derive(Clone, Debug)]
pub struct Planner {
    /// Name.
    pub name: String,
    /// The plan file.
    pub source: PathBuf,
    /// The workload scenario file.
    pub scenario: PathBuf,
    /// Replications per plan.
    pub replications: u32,
    /// Base seed.
    pub seed: u64,
    /// Cost settings.
    pub costs: Costs,
    /// Device types; the search bisects on the count of the one with the widest range.
    pub types: Vec<DeviceType>,
    /// Policy options.
    pub policies: Vec<Choice>,
    /// Rate-limit options.
    pub rate_limits: Vec<Choice>,
    /// Routing options (one, the scenario's `[routing]`, unless the plan file lists some).
    pub routings: Vec<Choice>,
    /// Cloud options.
    pub clouds: Vec<Choice>,
    /// Search method.
    pub method: Method,
    /// Bisect on the board count (see [`SearchFile::assume_monotone`]).
    pub assume_monotone: bool,
    /// Screening margin.
    pub screen_margin: f64,
    /// Branches per wave.
    pub wave: usize,
    /// Goals.
    pub goals: Vec<Goal>,
    /// The scenario's request classes, by name, in its order.
    pub classes: Vec<String>,
    /// The traffic scenario's load is scaled by this (1: as written).
    pub load_scale: f64,
    /// The workload keys the scale set, with their values (empty at 1).
    pub load: crate::capacity::LoadKeys,
    /// Hash of the plan and scenario texts (and of a load scale other than 1): the plan's
    /// identity in `answer.json`, and the test of a journal of an earlier edgesim, which has
    /// no [`Planner::runs_fingerprint`].
    pub fingerprint: String,
    /// Hash of what the plan's runs depend on: the plan file without the keys that only judge
    /// or order runs (`goals`, `costs`, `replications`, board prices, lifetimes and count
    /// ranges, the search's method and its settings), the traffic scenario's text, the load
    /// scale, and the input files the runs read (traces, profile files). A journal with the
    /// same hash serves this plan whatever its goals: its runs are this plan's runs.
    pub runs_fingerprint: String,
    /// The requests one run is expected to simulate (the workload's, the same in every plan;
    /// [`crate::scenario::budget::estimate`]).
    pub requests_per_run: f64,
    /// The most runs one search may hold (journal lines, simulated or read back): each run's
    /// values stay in memory until the answer. [`crate::sweep::MAX_RUNS`] unless changed.
    pub max_runs: u64,
    base: toml::Value,
    cache: Arc<InputCache>,
}

/// A point of the search space: counts and option indices per type, and the shared options.
/// Points are canonical: a type with no boards has its first slot and queue options, and a
/// plan without boards has the first policy, rate limiter and routing (they do not matter).
/// `Point::default()` has no types: a fleet of no boards with the first options (a capacity
/// search's runs, which price no boards).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Point {
    /// Boards per type.
    pub counts: Vec<u32>,
    /// Index into each type's `slots`.
    pub slots: Vec<usize>,
    /// Index into each type's `queue_capacity`.
    pub queue: Vec<usize>,
    /// Index into `policies`.
    pub policy: usize,
    /// Index into `rate_limits`.
    pub rate_limit: usize,
    /// Index into `routings`.
    #[serde(default)]
    pub routing: usize,
    /// Index into `clouds`.
    pub cloud: usize,
}

impl Point {
    /// The canonical form (see [`Point`]).
    pub fn canonical(mut self) -> Point {
        for t in 0..self.counts.len() {
            if self.counts[t] == 0 {
                self.slots[t] = 0;
                self.queue[t] = 0;
            }
        }
        if self.counts.iter().all(|&c| c == 0) {
            self.policy = 0;
            self.rate_limit = 0;
            self.routing = 0;
        }
        self
    }

    /// The index of each shared option: policy, rate limiter, routing, cloud.
    pub fn options(&self) -> [usize; 4] {
        [self.policy, self.rate_limit, self.routing, self.cloud]
    }

    /// This point with shared option `k` (in the order of [`Point::options`]) set to `i`.
    fn with_option(&self, k: usize, i: usize) -> Point {
        let mut p = self.clone();
        *[
            &mut p.policy,
            &mut p.rate_limit,
            &mut p.routing,
            &mut p.cloud,
        ][k] = i;
        p
    }

    /// Total boards.
    pub fn boards(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }
}

fn choice_label(v: &toml::Value, key: &str) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Table(t) => {
            let mut parts: Vec<String> = Vec::new();
            if let Some(k) = t.get(key) {
                parts.push(crate::sweep::label(&value_text(k)));
            }
            for (k, x) in t {
                if k != key {
                    parts.push(format!("{k}={}", crate::sweep::label(&value_text(x))));
                }
            }
            parts.join(" ")
        }
        other => value_text(other),
    }
}

/// Sets `section` of a scenario document to `table`; `None` removes it (the scenario's
/// defaults), or for the cloud disables it (an absent `[cloud]` is the default cloud).
fn set_section(root: &mut toml::Table, section: &str, table: &Option<toml::Value>) {
    match table {
        Some(t) => {
            root.insert(section.into(), t.clone());
        }
        None if section == "cloud" => {
            let mut t = toml::Table::new();
            t.insert("enabled".into(), toml::Value::Boolean(false));
            root.insert(section.into(), toml::Value::Table(t));
        }
        None => {
            root.remove(section);
        }
    }
}

/// The label of the scenario's own `[routing]` among the routing options.
pub const SCENARIO_ROUTING: &str = "the scenario's";

/// Which load a plan is loaded at.
#[derive(Clone, Copy)]
enum Scale {
    /// The plan file's (`None`: its only one, or 1; `Some(i)`: its `i`-th).
    File(Option<usize>),
    /// `--load-scale` on the command line.
    CommandLine(f64),
}

/// Where a plan's load scale was given.
#[derive(Clone, Copy)]
enum ScaleFrom {
    /// `load_scale` in the plan file (or none: 1).
    File,
    /// `--load-scale` on the command line.
    CommandLine,
}

/// Most and least `load_scale` (as `edgesim capacity`'s scales).
pub const LOAD_SCALES: (f64, f64) = (1e-6, 1e6);

/// The requests one plan's replications may simulate together before `plan` warns
/// ([`Planner::size_warning`]): 10^9, some minutes of one core for each plan the search runs.
pub const LARGE_PLAN_REQUESTS: f64 = 1e9;

impl Planner {
    /// Reads and validates a plan file: every option is tried in a scenario before any run.
    pub fn load(path: &Path) -> Result<Planner> {
        Self::load_scaled(path, None)
    }

    /// [`Planner::load`], with the traffic's load scaled by `load_scale` instead of the plan
    /// file's `load_scale` when given (`edgesim plan --load-scale`). A plan file that gives
    /// several loads is refused without `load_scale`: [`Planner::load_at`] loads each.
    pub fn load_scaled(path: &Path, load_scale: Option<f64>) -> Result<Planner> {
        Self::load_with(
            path,
            load_scale.map_or(Scale::File(None), Scale::CommandLine),
        )
    }

    /// [`Planner::load`] at the `i`-th of the loads the plan file's `load_scale` gives
    /// ([`Planner::file_load_scales`]).
    pub fn load_at(path: &Path, i: usize) -> Result<Planner> {
        Self::load_with(path, Scale::File(Some(i)))
    }

    /// The loads the plan file's `load_scale` gives, in its order (none: the key is absent);
    /// each in range and given once.
    pub fn file_load_scales(path: &Path) -> Result<Vec<f64>> {
        let (file, _) = Self::read_file(path)?;
        Self::listed_scales(&Checker::new(path), file.load_scale.as_ref())
    }

    fn read_file(path: &Path) -> Result<(PlanFile, String)> {
        let text = crate::check::read_text(path, "plan", crate::check::MAX_CONFIG_BYTES)?;
        let file: PlanFile = crate::strict::from_str(&text)
            .map_err(|e| crate::check::not_read_as(path, &text, "a plan file", &e))?;
        Ok((file, text))
    }

    /// The loads of `load_scale`, checked: at least one, each in [`LOAD_SCALES`] and given once.
    fn listed_scales(cx: &Checker, given: Option<&LoadScaleFile>) -> Result<Vec<f64>> {
        let v = match given {
            None => return Ok(Vec::new()),
            Some(LoadScaleFile::One(x)) => return Ok(vec![*x]),
            Some(LoadScaleFile::Several(v)) => v,
        };
        let list = || {
            let items: Vec<String> = v.iter().map(|x| crate::check::num(*x)).collect();
            format!("[{}]", items.join(", "))
        };
        if v.is_empty() {
            return Err(cx.bad(
                "load_scale",
                "[]",
                "give at least one load (a number, or an array of them)",
            ));
        }
        let (lo, hi) = LOAD_SCALES;
        for (i, x) in v.iter().enumerate() {
            if !(lo..=hi).contains(x) {
                return Err(cx.bad(
                    "load_scale",
                    list(),
                    format!(
                        "{} must lie in [{lo:e}, {hi:e}] (the traffic's load times this; 1: as \
                         written)",
                        crate::check::num(*x)
                    ),
                ));
            }
            if v[..i].contains(x) {
                return Err(cx.bad(
                    "load_scale",
                    list(),
                    format!(
                        "{} is given twice; give each load once",
                        crate::check::num(*x)
                    ),
                ));
            }
        }
        Ok(v.clone())
    }

    fn load_with(path: &Path, at: Scale) -> Result<Planner> {
        let (file, text) = Self::read_file(path)?;
        let cx = Checker::new(path);
        let dir = path.parent().unwrap_or(Path::new("."));
        let scenario = dir.join(&file.scenario);
        let in_scenario = |e| cx.referenced("scenario", &file.scenario, e);
        let base_text =
            crate::check::read_text(&scenario, "scenario", crate::check::MAX_CONFIG_BYTES)
                .map_err(in_scenario)?;
        let base_sc = Scenario::from_str_at(&base_text, &scenario, &LoadOptions::default())
            .map_err(in_scenario)?;
        let base = Scenario::parse_doc(&base_text, &scenario).map_err(in_scenario)?;
        let listed = Self::listed_scales(&cx, file.load_scale.as_ref())?;
        let (from, scale) = match at {
            Scale::CommandLine(s) => (ScaleFrom::CommandLine, s),
            Scale::File(None) if listed.len() > 1 => {
                return Err(cx.bad(
                    "load_scale",
                    format!("an array of {} loads", listed.len()),
                    "a plan for growth: `edgesim plan` searches each load into its own folder; \
                     give one load here (`--load-scale X`, as to its shards' `plan merge`)",
                ));
            }
            Scale::File(None) => (ScaleFrom::File, listed.first().copied().unwrap_or(1.0)),
            Scale::File(Some(i)) => match listed.get(i) {
                Some(&s) => (ScaleFrom::File, s),
                None => {
                    return Err(cx.bad(
                        "load_scale",
                        format!("{} loads", listed.len()),
                        format!("has no load {i} (0-based)"),
                    ));
                }
            },
        };
        // One cache of input files for the scaled scenario and every plan's.
        let cache = Arc::new(InputCache::default());
        let (base, base_sc, load) =
            Self::scaled(&cx, from, scale, base, base_sc, &scenario, &cache)?;
        let name = match &file.name {
            Some(n) => cx.folder_name("name", n)?.to_string(),
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "plan".into()),
        };
        if file.replications == 0 || file.replications > crate::sweep::MAX_REPLICATIONS {
            return Err(cx.bad(
                "replications",
                file.replications,
                format!("must lie in [1, {}]", crate::sweep::MAX_REPLICATIONS),
            ));
        }
        let seed = file.seed.unwrap_or(base_sc.seed);
        if seed
            .checked_add(u64::from(file.replications))
            .is_none_or(|s| s > i64::MAX as u64)
        {
            return Err(cx.bad(
                "seed",
                seed,
                format!("seed + replications must stay below {}", i64::MAX),
            ));
        }
        let costs = Costs::from_file(&cx, &file.costs, &base_sc)?;
        let types = Self::types(&cx, &file.types)?;
        // A class served by some groups only names the plan's types: its candidate fleets'.
        let type_names: HashSet<&str> = types.iter().map(|t| t.name.as_str()).collect();
        for (i, c) in base_sc.classes().iter().enumerate() {
            for (j, name) in c.devices.iter().flatten().enumerate() {
                if !type_names.contains(name.as_str()) {
                    let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
                    return Err(Checker::new(&scenario).bad(
                        format!("workload.classes[{i}].devices[{j}]"),
                        format!("\"{name}\""),
                        format!(
                            "names no type of the plan {} (its fleets replace the scenario's \
                             [[devices]]); the types are \"{}\"",
                            path.display(),
                            names.join("\", \"")
                        ),
                    ));
                }
            }
        }
        let search = &file.search;
        let policies = match &search.policies {
            None => vec![Choice {
                label: base_sc.selection.kind.name().to_string(),
                table: base.get("selection").cloned(),
            }],
            Some(v) => Self::choices(&cx, "search.policies", v, "kind")?,
        };
        let rate_limits = match &search.rate_limits {
            None => vec![Choice {
                label: base_sc.rate_limit.describe(),
                table: base.get("rate_limit").cloned(),
            }],
            Some(v) => Self::choices(&cx, "search.rate_limits", v, "kind")?,
        };
        let routings = match &search.routings {
            None => vec![Choice {
                label: SCENARIO_ROUTING.into(),
                table: base.get("routing").cloned(),
            }],
            Some(v) => Self::routings(&cx, v, &base)?,
        };
        let clouds = Self::clouds(&cx, search.clouds.as_deref(), &base, &base_sc)?;
        if !(0.0..=10.0).contains(&search.screen_margin) {
            return Err(cx.bad(
                "search.screen_margin",
                crate::check::num(search.screen_margin),
                "must lie in [0, 10] (a share of each goal; 0: no screening)",
            ));
        }
        if search.wave == 0 || search.wave > 100_000 {
            return Err(cx.bad("search.wave", search.wave, "must lie in [1, 100000]"));
        }
        let class_names: Vec<String> = base_sc.classes().iter().map(|c| c.name.clone()).collect();
        let goals = goals(
            &cx,
            "goals.",
            &file.goals,
            &class_names,
            base_sc.metrics.window_s,
        )?;
        // A scale other than 1 is part of what the journal holds (given on the command line,
        // the plan text does not say it); at 1 the hash is an earlier edgesim's.
        let scaled = if scale == 1.0 {
            String::new()
        } else {
            format!("\u{0}load_scale={scale:?}")
        };
        let fingerprint = format!(
            "{:016x}",
            crate::rng::fnv1a(format!("{text}\u{0}{base_text}{scaled}").as_bytes())
        );
        let mut planner = Planner {
            name,
            source: path.into(),
            scenario,
            replications: file.replications,
            seed,
            costs,
            types,
            policies,
            rate_limits,
            routings,
            clouds,
            method: search.method,
            assume_monotone: search.assume_monotone,
            screen_margin: search.screen_margin,
            wave: search.wave,
            goals,
            classes: class_names,
            load_scale: scale,
            load,
            fingerprint,
            // Set once every option has been tried, and so every input file read.
            runs_fingerprint: String::new(),
            requests_per_run: crate::scenario::budget::estimate(&base_sc).requests,
            max_runs: crate::sweep::MAX_RUNS,
            base,
            cache,
        };
        let grid = planner.grid_size();
        if grid > MAX_POINTS {
            // The count saturates: 100,000 types of two counts each are not 2^64 points.
            let points = if grid == u64::MAX {
                format!("more than {:.1e}", u64::MAX as f64)
            } else {
                grid.to_string()
            };
            return Err(cx.bad(
                "types",
                &points,
                format!(
                    "the search space holds {points} points; at most {MAX_POINTS} are allowed \
                     (narrow the count ranges or the options)"
                ),
            ));
        }
        planner.validate_options()?;
        planner.runs_fingerprint =
            runs_fingerprint(&text, &base_text, scale, &planner.cache.files_digest());
        Ok(planner)
    }

    /// The traffic scenario `base` (its document and the scenario it makes) with its load
    /// scaled by `scale` (given `from` the plan file, `load_scale`, or the command line,
    /// `--load-scale`, which errors name), read with `cache`, and the workload keys that
    /// changed. At 1 it is returned as it is.
    fn scaled(
        cx: &Checker,
        from: ScaleFrom,
        scale: f64,
        mut base: toml::Value,
        base_sc: Scenario,
        scenario: &Path,
        cache: &Arc<InputCache>,
    ) -> Result<(toml::Value, Scenario, crate::capacity::LoadKeys)> {
        let (lo, hi) = LOAD_SCALES;
        let bad = |problem: String| match from {
            ScaleFrom::CommandLine => Error::invalid(
                Path::new("edgesim plan"),
                "--load-scale",
                crate::check::num(scale),
                problem,
            ),
            ScaleFrom::File => cx.bad("load_scale", crate::check::num(scale), problem),
        };
        if !(lo..=hi).contains(&scale) {
            return Err(bad(format!(
                "must lie in [{lo:e}, {hi:e}] (the traffic's load times this; 1: as written)"
            )));
        }
        if scale == 1.0 {
            return Ok((base, base_sc, Vec::new()));
        }
        // To 12 significant digits: 0.8 x 1.5 is written 1.2, not 1.2000000000000002.
        let (_, mut load) = crate::capacity::scaled(&base_sc.to_file(), scale);
        for (_, v) in &mut load {
            *v = crate::capacity::significant(*v, 12);
        }
        let Some(workload) = base.get_mut("workload").and_then(toml::Value::as_table_mut) else {
            return Err(bad(
                "the traffic scenario has no [workload] table to scale".into()
            ));
        };
        for &(k, v) in &load {
            let value = if k == "users" {
                toml::Value::Integer(v as i64)
            } else {
                toml::Value::Float(v)
            };
            workload.insert(k.to_string(), value);
        }
        let sc = Scenario::from_doc(
            base.clone(),
            scenario,
            &LoadOptions::default(),
            Arc::clone(cache),
        )
        .map_err(|e| {
            bad(format!(
                "the traffic scenario {} at this load is refused: {e}",
                scenario.display()
            ))
        })?;
        Ok((base, sc, load))
    }

    fn types(cx: &Checker, files: &[TypeFile]) -> Result<Vec<DeviceType>> {
        if files.is_empty() {
            return Err(cx.bad(
                "types",
                "[]",
                "name at least one candidate device type ([[types]])",
            ));
        }
        let mut out: Vec<DeviceType> = Vec::new();
        let mut names = HashSet::new();
        for (i, t) in files.iter().enumerate() {
            let k = |s: &str| format!("types[{i}].{s}");
            if t.name.trim().is_empty() || t.name.contains(['/', '\\', ' ']) {
                return Err(cx.bad(
                    k("name"),
                    format!("\"{}\"", t.name),
                    "must be non-empty, without spaces or path separators",
                ));
            }
            if !names.insert(t.name.as_str()) {
                return Err(cx.bad(k("name"), format!("\"{}\"", t.name), "repeated name"));
            }
            let price_usd = cx.price(
                &k("price_usd"),
                t.price_usd,
                crate::check::MAX_BOARD_USD,
                "USD",
            )?;
            let lifetime_months = cx.positive(&k("lifetime_months"), t.lifetime_months)?;
            if t.max_count < t.min_count || t.max_count > 100_000 {
                return Err(cx.bad(
                    k("max_count"),
                    t.max_count,
                    format!("must lie in [min_count = {}, 100000]", t.min_count),
                ));
            }
            let list = |key: &str, v: &Option<Vec<u32>>, default: u32| -> Result<Vec<u32>> {
                let v = v.clone().unwrap_or_else(|| vec![default]);
                if v.is_empty() {
                    return Err(cx.bad(k(key), "[]", "give at least one value"));
                }
                let mut seen = HashSet::new();
                for (j, x) in v.iter().enumerate() {
                    if !seen.insert(x) {
                        return Err(cx.bad(format!("{}[{j}]", k(key)), x, "repeated value"));
                    }
                }
                Ok(v)
            };
            // Checked as a device group's, the errors naming `types[i].outages` and
            // `types[i].random_outages`.
            crate::outages::OutageSpec::from_file(
                cx,
                &format!("types[{i}]"),
                &t.outages,
                t.random_outages,
            )?;
            let (source, prof) = cx.profile(&k("profile"), &t.profile)?;
            let profile = match source {
                ProfileSource::File(p) => ("profile", p.to_string_lossy().into_owned().into()),
                ProfileSource::Shipped(_) => (
                    "inline",
                    toml::Value::try_from(&*prof).map_err(|e| {
                        cx.bad(k("profile"), &t.profile, format!("cannot inline it: {e}"))
                    })?,
                ),
            };
            out.push(DeviceType {
                name: t.name.clone(),
                profile,
                model: t.model.clone(),
                price_usd,
                lifetime_months,
                min_count: t.min_count,
                max_count: t.max_count,
                slots: list("slots", &t.slots, crate::device::fleet::DEFAULT_SLOTS)?,
                queue_capacity: list(
                    "queue_capacity",
                    &t.queue_capacity,
                    crate::device::fleet::DEFAULT_QUEUE_CAPACITY,
                )?,
                ctx_tokens: t.ctx_tokens,
                outages: t.outages.clone(),
                random_outages: t.random_outages,
                idle_w: prof.device.idle_w,
            });
        }
        // A fleet names a type's boards as the type (one board) or NAME-1 .. NAME-N: a type
        // named as one of another's boards would stop the search at the first fleet with both.
        // A board's name is its type's, '-' and a number without sign or leading zero
        // ("nano-01" and "nano-+1" are not "nano-1"): the type is what precedes the last '-'.
        let by_name: std::collections::HashMap<&str, &DeviceType> =
            out.iter().map(|o| (o.name.as_str(), o)).collect();
        for (i, t) in out.iter().enumerate() {
            let Some((prefix, k)) = t.name.rsplit_once('-') else {
                continue;
            };
            let Some(o) = by_name.get(prefix).filter(|o| o.max_count >= 2) else {
                continue;
            };
            let board = k
                .parse::<u32>()
                .is_ok_and(|n| n.to_string() == k && (1..=o.max_count).contains(&n));
            if board {
                return Err(cx.bad(
                    format!("types[{i}].name"),
                    format!("\"{}\"", t.name),
                    format!(
                        "a fleet names the boards of type \"{}\" {}-1 .. {}-{} (up to its \
                         max_count), so this type's boards would share a name with one of \
                         them; choose another name",
                        o.name, o.name, o.name, o.max_count
                    ),
                ));
            }
        }
        Ok(out)
    }

    /// An empty list searches nothing: refused, saying what leaving the key out gives.
    fn no_empty_list(cx: &Checker, key: &str, values: &[toml::Value], absent: &str) -> Result<()> {
        if values.is_empty() {
            return Err(cx.bad(
                key,
                "[]",
                format!("give at least one option, or leave the key out for {absent}"),
            ));
        }
        Ok(())
    }

    fn choices(cx: &Checker, key: &str, values: &[toml::Value], tag: &str) -> Result<Vec<Choice>> {
        Self::no_empty_list(cx, key, values, "the scenario's")?;
        let mut out: Vec<Choice> = Vec::new();
        let (mut labels, mut tables) = (HashSet::new(), HashSet::new());
        for (i, v) in values.iter().enumerate() {
            let table = match v {
                toml::Value::String(s) => {
                    let mut t = toml::Table::new();
                    t.insert(tag.into(), toml::Value::String(s.clone()));
                    toml::Value::Table(t)
                }
                toml::Value::Table(_) => v.clone(),
                other => {
                    return Err(cx.bad(
                        format!("{key}[{i}]"),
                        value_text(other),
                        "expected a kind (a string) or a table",
                    ));
                }
            };
            let label = choice_label(v, tag);
            // `"random"` and `{ kind = "random" }`, or `window_s = 60` and `60.0`: one option.
            // (Each unlike the others: `|` evaluates both.)
            if !labels.insert(label.clone()) | !tables.insert(crate::sweep::setting_key(&table)) {
                return Err(cx.bad(format!("{key}[{i}]"), value_text(v), "repeated option"));
            }
            out.push(Choice {
                label,
                table: Some(table),
            });
        }
        Ok(out)
    }

    /// `search.routings`: each a table of `[routing]` keys set over the scenario's `[routing]`
    /// (checked as a scenario's by [`Planner::validate_options`]).
    fn routings(cx: &Checker, values: &[toml::Value], base: &toml::Value) -> Result<Vec<Choice>> {
        const KEY: &str = "search.routings";
        Self::no_empty_list(cx, KEY, values, "the scenario's [routing]")?;
        let scenario = match base.get("routing") {
            Some(toml::Value::Table(t)) => t.clone(),
            _ => toml::Table::new(),
        };
        let mut out: Vec<Choice> = Vec::new();
        let mut tables = HashSet::new();
        for (i, v) in values.iter().enumerate() {
            let toml::Value::Table(keys) = v else {
                return Err(cx.bad(
                    format!("{KEY}[{i}]"),
                    value_text(v),
                    "expected a table of [routing] keys, set over the scenario's \
                     (`{}`: the scenario's [routing] as it is)",
                ));
            };
            let mut table = scenario.clone();
            for (k, x) in keys {
                table.insert(k.clone(), x.clone());
            }
            let table = toml::Value::Table(table);
            if !tables.insert(crate::sweep::setting_key(&table)) {
                return Err(cx.bad(
                    format!("{KEY}[{i}]"),
                    value_text(v),
                    "repeated option (the scenario's [routing] with these keys is an earlier \
                     option's)",
                ));
            }
            let label = if keys.is_empty() {
                SCENARIO_ROUTING.to_string()
            } else {
                choice_label(v, "")
            };
            out.push(Choice {
                label,
                table: Some(table),
            });
        }
        Ok(out)
    }

    fn clouds(
        cx: &Checker,
        values: Option<&[toml::Value]>,
        base: &toml::Value,
        base_sc: &Scenario,
    ) -> Result<Vec<Choice>> {
        let base_cloud = base
            .get("cloud")
            .cloned()
            .unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
        let Some(values) = values else {
            let mut out = vec![Choice {
                label: "none".into(),
                table: None,
            }];
            if base_sc.cloud.enabled {
                out.push(Choice {
                    label: base_sc.cloud.model.clone(),
                    table: Some(base_cloud),
                });
            }
            return Ok(out);
        };
        Self::no_empty_list(
            cx,
            "search.clouds",
            values,
            "\"none\" and the scenario's cloud",
        )?;
        let mut out: Vec<Choice> = Vec::new();
        let mut labels = HashSet::new();
        for (i, v) in values.iter().enumerate() {
            let at = format!("search.clouds[{i}]");
            let choice = match v {
                toml::Value::String(s) if s == "none" => Choice {
                    label: "none".into(),
                    table: None,
                },
                toml::Value::String(model) => {
                    // The scenario's cloud with another model: its preset latency, speed,
                    // prices and context replace the scenario's.
                    let mut t = base_cloud.as_table().cloned().unwrap_or_default();
                    for k in crate::cloud::FROM_CATALOGUE {
                        t.remove(k);
                    }
                    t.insert("model".into(), toml::Value::String(model.clone()));
                    t.insert("enabled".into(), toml::Value::Boolean(true));
                    Choice {
                        label: model.clone(),
                        table: Some(toml::Value::Table(t)),
                    }
                }
                toml::Value::Table(t) => {
                    let mut t = t.clone();
                    t.insert("enabled".into(), toml::Value::Boolean(true));
                    Choice {
                        label: choice_label(v, "model"),
                        table: Some(toml::Value::Table(t)),
                    }
                }
                other => {
                    return Err(cx.bad(
                        at,
                        value_text(other),
                        "expected \"none\", a cloud model name or a [cloud] table",
                    ));
                }
            };
            if !labels.insert(choice.label.clone()) {
                return Err(cx.bad(at, value_text(v), "repeated option"));
            }
            out.push(choice);
        }
        Ok(out)
    }

    /// Every option is tried once in a scenario (each type at its largest count with each of
    /// its slot and queue options, each policy, rate limiter, routing and cloud), so that a bad
    /// option fails before any run, naming its plan key.
    fn validate_options(&self) -> Result<()> {
        let n = self.types.len();
        let first = Point {
            counts: self.types.iter().map(|t| t.max_count.max(1)).collect(),
            slots: vec![0; n],
            queue: vec![0; n],
            policy: 0,
            rate_limit: 0,
            routing: 0,
            cloud: 0,
        };
        let wrap = |key: String, e: Error| Error::Input {
            path: self.source.clone(),
            problem: format!("{key}: this option gives an invalid scenario: {e}"),
        };
        // The types are tried with the first of each shared option: when that fails, a first
        // option that fails in the traffic scenario as written (its own devices) too is named,
        // not the type.
        let blame = |t: usize, e: Error| -> Error {
            for (section, options, key) in self.sections() {
                let mut doc = self.base.clone();
                if let Some(root) = doc.as_table_mut() {
                    set_section(root, section, &options[0].table);
                }
                if let Err(e) = self.scenario_of(doc, self.seed) {
                    return wrap(format!("{key}[0]"), e);
                }
            }
            wrap(format!("types[{t}]"), e)
        };
        // Each type alone first (every other at no boards): an error in one type's boards
        // found with every type's in the fleet would be named after the first type.
        for alone in [true, false] {
            for (t, ty) in self.types.iter().enumerate() {
                for s in 0..ty.slots.len() {
                    for q in 0..ty.queue_capacity.len() {
                        let mut p = first.clone();
                        p.slots[t] = s;
                        p.queue[t] = q;
                        if alone {
                            for (u, c) in p.counts.iter_mut().enumerate() {
                                if u != t {
                                    *c = 0;
                                }
                            }
                        }
                        self.scenario_at(&p, self.seed).map_err(|e| blame(t, e))?;
                    }
                }
            }
        }
        for (k, (section, options, key)) in self.sections().into_iter().enumerate() {
            // Options written differently can be one setting once the defaults are filled in
            // (`{ max_attempts = 1 }` and `{}` where the scenario's routing does not give the
            // key): each validated section's every field, in its `Debug` form, is its identity.
            let mut seen: HashMap<String, usize> = HashMap::new();
            for i in 0..options.len() {
                let sc = self
                    .scenario_at(&first.with_option(k, i), self.seed)
                    .map_err(|e| wrap(format!("{key}[{i}]"), e))?;
                let identity = match section {
                    "selection" => format!("{:?}", sc.selection),
                    "rate_limit" => format!("{:?}", sc.rate_limit),
                    "routing" => format!("{:?}", sc.routing),
                    _ => format!("{:?}", sc.cloud),
                };
                if let Some(j) = seen.insert(identity, i) {
                    return Err(Error::invalid(
                        &self.source,
                        format!("{key}[{i}]"),
                        &options[i].label,
                        format!(
                            "the same setting as `{key}[{j}]` ({}) once the defaults are filled \
                             in: each option is searched once; drop one",
                            options[j].label
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A warning when one plan's replications simulate more than [`LARGE_PLAN_REQUESTS`]
    /// requests together (a search runs tens of plans or more): what they simulate, and what
    /// makes it smaller. `None` below.
    pub fn size_warning(&self) -> Option<String> {
        let per_plan = self.requests_per_run * f64::from(self.replications);
        if per_plan <= LARGE_PLAN_REQUESTS {
            return None;
        }
        let scaled = if self.load_scale == 1.0 {
            String::new()
        } else {
            format!(
                ", at {}x the scenario's load",
                crate::check::num(self.load_scale)
            )
        };
        Some(format!(
            "each plan's {} replications simulate about {:.2e} requests together ({:.2e} a \
             run{scaled}), more than {LARGE_PLAN_REQUESTS:.0e}, and a search simulates tens of \
             plans or more: at a few million requests a second this takes hours; lower \
             `load_scale`, the scenario's `duration_s` or `replications` to plan faster",
            self.replications, per_plan, self.requests_per_run
        ))
    }

    /// Points in the full grid (canonical points counted once).
    pub fn grid_size(&self) -> u64 {
        // Per type: 1 (no boards) + (count choices above 0) x slot x queue options.
        let mut edge_configs: u64 = 1;
        for t in &self.types {
            // Counts min_count.max(1) ..= max_count (none when max_count is 0: validation
            // keeps min_count <= max_count).
            let nonzero =
                (u64::from(t.max_count) + 1).saturating_sub(u64::from(t.min_count.max(1)));
            let per = u64::from(t.min_count == 0)
                + nonzero * (t.slots.len() * t.queue_capacity.len()) as u64;
            edge_configs = edge_configs.saturating_mul(per);
        }
        let all_zero = u64::from(self.types.iter().all(|t| t.min_count == 0));
        let settings = (self.policies.len() * self.rate_limits.len() * self.routings.len()) as u64;
        let clouds = self.clouds.len() as u64;
        let with_cloud = self.clouds.iter().filter(|c| c.table.is_some()).count() as u64;
        // Fleets with boards take every setting; the empty fleet only one per cloud.
        (edge_configs - all_zero)
            .saturating_mul(settings)
            .saturating_mul(clouds)
            .saturating_add(all_zero * with_cloud)
    }

    /// The scenario of `point`, run with `seed`.
    pub fn scenario_at(&self, point: &Point, seed: u64) -> Result<Scenario> {
        let mut doc = self.base.clone();
        let Some(root) = doc.as_table_mut() else {
            return Err(Error::Input {
                path: self.scenario.clone(),
                problem: "not a TOML table".into(),
            });
        };
        let mut devices = Vec::new();
        for (t, ty) in self.types.iter().enumerate() {
            if point.counts[t] == 0 {
                continue;
            }
            let mut d = toml::Table::new();
            d.insert("name".into(), toml::Value::String(ty.name.clone()));
            d.insert("count".into(), toml::Value::Integer(point.counts[t].into()));
            d.insert(ty.profile.0.into(), ty.profile.1.clone());
            d.insert("model".into(), toml::Value::String(ty.model.clone()));
            d.insert(
                "slots".into(),
                toml::Value::Integer(ty.slots[point.slots[t]].into()),
            );
            d.insert(
                "queue_capacity".into(),
                toml::Value::Integer(ty.queue_capacity[point.queue[t]].into()),
            );
            if let Some(c) = ty.ctx_tokens {
                d.insert("ctx_tokens".into(), toml::Value::Integer(c.into()));
            }
            // The type's outages, as its device group's (validated when the plan was loaded).
            let value = |v: Result<toml::Value, toml::ser::Error>| {
                v.map_err(|e| Error::Input {
                    path: self.source.clone(),
                    problem: format!("types[{t}]: cannot write its outages: {e}"),
                })
            };
            if !ty.outages.is_empty() {
                d.insert("outages".into(), value(toml::Value::try_from(&ty.outages))?);
            }
            if let Some(r) = &ty.random_outages {
                d.insert("random_outages".into(), value(toml::Value::try_from(r))?);
            }
            devices.push(toml::Value::Table(d));
        }
        root.insert("devices".into(), toml::Value::Array(devices));
        // A class served by some types only: those of them the point has boards of (none: the
        // class is not served at the edge).
        let classes = root
            .get_mut("workload")
            .and_then(|w| w.get_mut("classes"))
            .and_then(|c| c.as_array_mut());
        for class in classes.into_iter().flatten() {
            if let Some(toml::Value::Array(names)) = class.get_mut("devices") {
                names.retain(|v| {
                    self.types
                        .iter()
                        .zip(&point.counts)
                        .any(|(ty, &n)| n > 0 && v.as_str() == Some(ty.name.as_str()))
                });
            }
        }
        for (k, (section, options, _)) in self.sections().into_iter().enumerate() {
            set_section(root, section, &options[point.options()[k]].table);
        }
        self.scenario_of(doc, seed)
    }

    /// The scenario sections the search sets, each with its options and the plan key that
    /// lists them, in the order of [`Point::options`].
    fn sections(&self) -> [(&'static str, &[Choice], &'static str); 4] {
        [
            ("selection", &self.policies, "search.policies"),
            ("rate_limit", &self.rate_limits, "search.rate_limits"),
            ("routing", &self.routings, "search.routings"),
            ("cloud", &self.clouds, "search.clouds"),
        ]
    }

    fn scenario_of(&self, doc: toml::Value, seed: u64) -> Result<Scenario> {
        let opts = LoadOptions {
            sets: Vec::new(),
            seed: Some(seed),
        };
        Scenario::from_doc(doc, &self.scenario, &opts, Arc::clone(&self.cache))
    }

    /// The point in words: `2 x nano (slots 2, queue 4) + 1 x agx (...), load_aware, ...`.
    pub fn describe(&self, p: &Point) -> String {
        let fleet: Vec<String> = self
            .types
            .iter()
            .enumerate()
            .filter(|(t, _)| p.counts[*t] > 0)
            .map(|(t, ty)| {
                format!(
                    "{} x {} (slots {}, queue {})",
                    p.counts[t], ty.name, ty.slots[p.slots[t]], ty.queue_capacity[p.queue[t]]
                )
            })
            .collect();
        let cloud = &self.clouds[p.cloud].label;
        if fleet.is_empty() {
            return format!("no boards, cloud {cloud}");
        }
        // The routing only when the plan searches over it (earlier plans' words unchanged).
        let routing = if self.routings.len() > 1 {
            format!("; routing {}", self.routings[p.routing].label)
        } else {
            String::new()
        };
        format!(
            "{}; {}; rate limit {}{routing}; cloud {cloud}",
            fleet.join(" + "),
            self.policies[p.policy].label,
            self.rate_limits[p.rate_limit].label
        )
    }

    /// A short stable key of the point (journal lines).
    pub fn key(&self, p: &Point) -> String {
        let mut s = String::new();
        for t in 0..self.types.len() {
            s += &format!("{}:{}:{}/", p.counts[t], p.slots[t], p.queue[t]);
        }
        s += &format!("{}/{}/{}", p.policy, p.rate_limit, p.cloud);
        // A routing other than the first is a fourth field (earlier journals' keys unchanged).
        if p.routing > 0 {
            s += &format!("/r{}", p.routing);
        }
        s
    }

    /// Board cost per month of `p` \[USD\].
    pub fn capex_usd_month(&self, p: &Point) -> f64 {
        cost::boards_usd_month(&self.types, &p.counts)
    }
}
