//! What a plan search writes: the evaluated plans and the Pareto front as tables, a figure,
//! `answer.json` and the printed report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::search::{Evaluation, Outcome};
use super::{Goal, Planner};
use crate::output::figure::{Figure, Panel, PanelKind, Series};
use crate::output::table::{Table, Values};
use crate::report::fixed;
use crate::sweep::aggregate::Stat;

/// A number with its 95 % confidence half-width.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Estimate {
    /// Mean over the replications.
    pub mean: Option<f64>,
    /// Half-width of the 95 % confidence interval (`None` below 2 runs).
    pub ci95: Option<f64>,
}

impl From<Stat> for Estimate {
    fn from(s: Stat) -> Estimate {
        Estimate {
            mean: s.mean,
            ci95: s.ci95,
        }
    }
}

/// One plan in `answer.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PlanReport {
    /// The plan in words.
    pub plan: String,
    /// Boards per type.
    pub boards: Vec<(String, u32)>,
    /// Selection policy, rate limiter, cloud.
    pub policy: String,
    /// Rate limiter.
    pub rate_limit: String,
    /// Routing (absent unless the plan searches `search.routings`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<String>,
    /// Cloud (`none`: edge only).
    pub cloud: String,
    /// Replications run.
    pub runs: usize,
    /// Every goal holds.
    pub feasible: bool,
    /// The goals it misses.
    pub failed_goals: Vec<String>,
    /// Total cost \[USD/month\].
    pub total_usd_month: Estimate,
    /// Boards \[USD/month\].
    pub boards_usd_month: f64,
    /// Energy \[USD/month\].
    pub energy_usd_month: Estimate,
    /// Cloud fees \[USD/month\].
    pub cloud_usd_month: Estimate,
    /// Per 1,000 requests \[USD\].
    pub usd_per_1k_requests: Estimate,
    /// TTFT p95 \[ms\].
    pub ttft_p95_ms: Estimate,
    /// TTFT p99 \[ms\].
    pub ttft_p99_ms: Estimate,
    /// End-to-end p95 \[ms\].
    pub e2e_p95_ms: Estimate,
    /// Rejected share.
    pub reject_share: Estimate,
    /// Edge-served share.
    pub edge_share: Estimate,
    /// Cloud-served share.
    pub cloud_share: Estimate,
    /// The quantity of each goal on a request class, in goal order (absent: none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub class_goals: Vec<GoalEstimate>,
    /// The quantity of each goal on the run's worst metric window, in goal order (absent:
    /// none; a goal on a class's worst window is among `class_goals`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub window_goals: Vec<GoalEstimate>,
}

/// A goal's quantity in one plan.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GoalEstimate {
    /// The goal in words (`question.ttft_p95_ms <= 1500`).
    pub goal: String,
    /// The quantity's name (`question.ttft_p95_ms`, `question.reject_share`).
    pub quantity: String,
    /// Its mean and half-width over the replications.
    pub value: Estimate,
}

/// A goal and how the evaluated plans fared against it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GoalReport {
    /// The goal in words.
    pub goal: String,
    /// Plans evaluated that meet it.
    pub met_by: usize,
    /// The best mean any evaluated plan reached.
    pub best_value: Option<f64>,
}

/// The load a plan was searched at, when scaled.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LoadReport {
    /// The scale of the traffic scenario's load.
    pub scale: f64,
    /// The workload keys at that load (`workload.rate_rps`), with their values.
    pub workload: std::collections::BTreeMap<String, f64>,
}

impl LoadReport {
    /// The load of `pl`, when scaled.
    fn of(pl: &Planner) -> Option<LoadReport> {
        (pl.load_scale != 1.0).then(|| LoadReport {
            scale: pl.load_scale,
            workload: pl
                .load
                .iter()
                .map(|&(k, v)| (format!("workload.{k}"), v))
                .collect(),
        })
    }

    /// In words: `1.5x the scenario's load (workload.rate_rps = 1.2)`.
    pub fn describe(&self) -> String {
        let keys: Vec<String> = self
            .workload
            .iter()
            .map(|(k, v)| format!("{k} = {}", crate::check::num(*v)))
            .collect();
        format!(
            "{}x the scenario's load ({})",
            crate::check::num(self.scale),
            keys.join(", ")
        )
    }
}

/// `answer.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Answer {
    /// Plan name.
    pub plan: String,
    /// Hash of the plan and scenario texts.
    pub fingerprint: String,
    /// The traffic's load, when scaled (`load_scale` other than 1; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadReport>,
    /// The cheapest plan meeting every goal (`null`: none does).
    pub cheapest: Option<PlanReport>,
    /// When none does: in words, which goals bind.
    pub binding: Option<String>,
    /// Each goal.
    pub goals: Vec<GoalReport>,
    /// The cloud alone, per cloud option.
    pub cloud_only: Vec<PlanReport>,
    /// The cheapest feasible plan without a cloud (`null`: none, or not searched).
    pub edge_only: Option<PlanReport>,
    /// The Pareto front of the feasible plans (cost, TTFT p95, cloud share), cheapest first.
    pub pareto: Vec<PlanReport>,
    /// Plans evaluated.
    pub evaluated: usize,
    /// Runs behind them.
    pub runs: usize,
    /// Points in the full grid.
    pub grid_points: u64,
    /// Runs the full grid would take (points × replications).
    pub grid_runs: u64,
    /// Branches, and those skipped by the bound.
    pub branches: usize,
    /// Branches skipped by the bound.
    pub pruned_branches: usize,
    /// Plans dropped after their first run.
    pub screened: usize,
}

/// The report of plan `e` of `pl`, as `answer.json` gives its plans.
pub fn report(pl: &Planner, e: &Evaluation) -> PlanReport {
    plan_report(pl, e)
}

fn plan_report(pl: &Planner, e: &Evaluation) -> PlanReport {
    let est = |f: &dyn Fn(&super::cost::RunValues) -> Option<f64>| Estimate::from(e.stat(f));
    // The quantity of each goal `which` picks, in goal order.
    let goal_estimates = |which: &dyn Fn(&Goal) -> bool| -> Vec<GoalEstimate> {
        pl.goals
            .iter()
            .filter(|g| which(g))
            .map(|g| GoalEstimate {
                goal: g.describe(),
                quantity: g.column(),
                value: est(&|r| r.value(g)),
            })
            .collect()
    };
    PlanReport {
        plan: pl.describe(&e.point),
        boards: pl
            .types
            .iter()
            .zip(&e.point.counts)
            .map(|(t, &c)| (t.name.clone(), c))
            .collect(),
        policy: pl.policies[e.point.policy].label.clone(),
        rate_limit: pl.rate_limits[e.point.rate_limit].label.clone(),
        routing: (pl.routings.len() > 1).then(|| pl.routings[e.point.routing].label.clone()),
        cloud: pl.clouds[e.point.cloud].label.clone(),
        runs: e.runs.len(),
        feasible: e.feasible,
        failed_goals: e.failed.iter().map(|&g| pl.goals[g].describe()).collect(),
        total_usd_month: est(&|r| Some(r.total_usd_month)),
        boards_usd_month: pl.capex_usd_month(&e.point),
        energy_usd_month: est(&|r| Some(r.energy_usd_month)),
        cloud_usd_month: est(&|r| Some(r.run.cloud_usd_month)),
        usd_per_1k_requests: est(&|r| r.usd_per_1k_requests),
        ttft_p95_ms: est(&|r| r.run.ttft_p95_ms),
        ttft_p99_ms: est(&|r| r.run.ttft_p99_ms),
        e2e_p95_ms: est(&|r| r.run.e2e_p95_ms),
        reject_share: est(&|r| r.run.reject_share),
        edge_share: est(&|r| r.run.edge_share),
        cloud_share: est(&|r| r.cloud_share),
        class_goals: goal_estimates(&|g| g.class.is_some()),
        window_goals: goal_estimates(&|g| g.class.is_none() && g.quantity.of_windows()),
    }
}

fn goal_report(g: &Goal, gi: usize, o: &Outcome) -> GoalReport {
    let means = o
        .evaluations
        .iter()
        .filter_map(|e| e.stat(|r| r.value(g)).mean);
    let best_value = if g.at_most {
        means.fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.min(x))))
    } else {
        means.fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))))
    };
    GoalReport {
        goal: g.describe(),
        met_by: o
            .evaluations
            .iter()
            .filter(|e| !e.failed.contains(&gi))
            .count(),
        best_value,
    }
}

/// The answer of a search.
pub fn answer(pl: &Planner, o: &Outcome) -> Answer {
    let goals: Vec<GoalReport> = pl
        .goals
        .iter()
        .enumerate()
        .map(|(i, g)| goal_report(g, i, o))
        .collect();
    let binding = o.best.is_none().then(|| {
        let never: Vec<String> = goals
            .iter()
            .filter(|g| g.met_by == 0)
            .map(|g| {
                format!(
                    "{} (best reached: {})",
                    g.goal,
                    g.best_value
                        .map_or("nothing served".into(), crate::check::num)
                )
            })
            .collect();
        if never.is_empty() {
            "each goal is met by some plan, but no plan meets them all together".into()
        } else {
            format!("no plan evaluated meets {}", never.join("; "))
        }
    });
    Answer {
        plan: pl.name.clone(),
        fingerprint: pl.fingerprint.clone(),
        load: LoadReport::of(pl),
        cheapest: o.best.map(|i| plan_report(pl, &o.evaluations[i])),
        binding,
        goals,
        cloud_only: o
            .cloud_only
            .iter()
            .map(|&i| plan_report(pl, &o.evaluations[i]))
            .collect(),
        edge_only: o.edge_only.map(|i| plan_report(pl, &o.evaluations[i])),
        pareto: o
            .pareto
            .iter()
            .map(|&i| plan_report(pl, &o.evaluations[i]))
            .collect(),
        evaluated: o.evaluations.len(),
        runs: o.runs,
        grid_points: o.grid_points,
        grid_runs: o.grid_points.saturating_mul(u64::from(pl.replications)),
        branches: o.branches,
        pruned_branches: o.pruned,
        screened: o.evaluations.iter().filter(|e| e.screened).count(),
    }
}

/// One row per plan `rows[i]` of the evaluated plans (see `docs/plan.md` for the columns).
pub fn plans_table(pl: &Planner, o: &Outcome, rows: &[usize]) -> Table {
    let mut t = Table::new();
    let ev: Vec<&Evaluation> = rows.iter().map(|&i| &o.evaluations[i]).collect();
    for (k, ty) in pl.types.iter().enumerate() {
        t = t
            .with(
                &format!("{}_count", ty.name),
                Values::U64(ev.iter().map(|e| u64::from(e.point.counts[k])).collect()),
            )
            .with(
                &format!("{}_slots", ty.name),
                Values::OptF64(
                    ev.iter()
                        .map(|e| {
                            (e.point.counts[k] > 0).then(|| f64::from(ty.slots[e.point.slots[k]]))
                        })
                        .collect(),
                ),
            )
            .with(
                &format!("{}_queue", ty.name),
                Values::OptF64(
                    ev.iter()
                        .map(|e| {
                            (e.point.counts[k] > 0)
                                .then(|| f64::from(ty.queue_capacity[e.point.queue[k]]))
                        })
                        .collect(),
                ),
            );
    }
    let text = |f: &dyn Fn(&Evaluation) -> String| Values::Str(ev.iter().map(|e| f(e)).collect());
    let mean = |f: &dyn Fn(&super::cost::RunValues) -> Option<f64>| {
        Values::OptF64(ev.iter().map(|e| e.stat(f).mean).collect())
    };
    let ci = |f: &dyn Fn(&super::cost::RunValues) -> Option<f64>| {
        Values::OptF64(ev.iter().map(|e| e.stat(f).ci95).collect())
    };
    let pareto: Vec<bool> = rows.iter().map(|i| o.pareto.contains(i)).collect();
    t = t
        .with(
            "policy",
            text(&|e| pl.policies[e.point.policy].label.clone()),
        )
        .with(
            "rate_limit",
            text(&|e| pl.rate_limits[e.point.rate_limit].label.clone()),
        );
    // The routing only when the plan searches over it (earlier plans' tables unchanged).
    if pl.routings.len() > 1 {
        t = t.with(
            "routing",
            text(&|e| pl.routings[e.point.routing].label.clone()),
        );
    }
    t = t
        .with("cloud", text(&|e| pl.clouds[e.point.cloud].label.clone()))
        .with(
            "runs",
            Values::U64(ev.iter().map(|e| e.runs.len() as u64).collect()),
        )
        .with("screened", text(&|e| e.screened.to_string()))
        .with("feasible", text(&|e| e.feasible.to_string()))
        .with(
            "failed_goals",
            text(&|e| {
                e.failed
                    .iter()
                    .map(|&g| pl.goals[g].name())
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
        )
        .with(
            "pareto",
            Values::Str(pareto.iter().map(|p| p.to_string()).collect()),
        )
        .with("total_usd_month", mean(&|r| Some(r.total_usd_month)))
        .with("total_usd_month_ci95", ci(&|r| Some(r.total_usd_month)))
        .with("boards_usd_month", mean(&|r| Some(r.boards_usd_month)))
        .with("energy_usd_month", mean(&|r| Some(r.energy_usd_month)))
        .with("cloud_usd_month", mean(&|r| Some(r.run.cloud_usd_month)))
        .with("usd_per_1k_requests", mean(&|r| r.usd_per_1k_requests))
        .with("ttft_p95_ms", mean(&|r| r.run.ttft_p95_ms))
        .with("ttft_p95_ms_ci95", ci(&|r| r.run.ttft_p95_ms))
        .with("ttft_p99_ms", mean(&|r| r.run.ttft_p99_ms))
        .with("e2e_p95_ms", mean(&|r| r.run.e2e_p95_ms))
        .with("e2e_p99_ms", mean(&|r| r.run.e2e_p99_ms))
        .with("reject_share", mean(&|r| r.run.reject_share))
        .with("edge_share", mean(&|r| r.run.edge_share))
        .with("cloud_share", mean(&|r| r.cloud_share));
    let runs: Vec<&[super::cost::RunValues]> = ev.iter().map(|e| &e.runs[..]).collect();
    goal_columns(t, &pl.goals, &runs)
}

/// `t` with, for each goal on a request class or on the worst metric window, its quantity's
/// mean and 95 % half-width over each row's runs (`NAME.QUANTITY`, `NAME.QUANTITY_ci95`;
/// `worst_window_ttft_p95_ms`, ...), after the run's columns: the plans table's and
/// capacity's loads table's.
pub fn goal_columns(mut t: Table, goals: &[Goal], rows: &[&[super::cost::RunValues]]) -> Table {
    for g in goals.iter().filter(|g| g.needs_column()) {
        let stats: Vec<Stat> = rows
            .iter()
            .map(|runs| Stat::of(runs.iter().map(|r| r.value(g))))
            .collect();
        let c = g.column();
        t = t
            .with(&c, Values::OptF64(stats.iter().map(|s| s.mean).collect()))
            .with(
                &format!("{c}_ci95"),
                Values::OptF64(stats.iter().map(|s| s.ci95).collect()),
            );
    }
    t
}

/// The figure: cost against TTFT p95 and against the cloud share of every plan run in full:
/// those missing a goal, those meeting them, and those on the Pareto front (a front in three
/// dimensions, so not a line in either panel).
pub fn figure(pl: &Planner, o: &Outcome) -> Figure {
    let ev = &o.evaluations;
    let pts = |f: &dyn Fn(&super::cost::RunValues) -> Option<f64>, pick: &dyn Fn(usize) -> bool| {
        let mut v: Vec<(f64, f64)> = (0..ev.len())
            .filter(|&i| pick(i))
            .filter_map(|i| Some((ev[i].cost(), ev[i].stat(f).mean?)))
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        v
    };
    let panel =
        |title: &str, y_label: &str, f: &dyn Fn(&super::cost::RunValues) -> Option<f64>| Panel {
            title: title.into(),
            x_label: "total cost [USD per month]".into(),
            y_label: y_label.into(),
            kind: PanelKind::Lines { log_x: false },
            series: vec![
                Series::markers(
                    "misses a goal",
                    pts(f, &|i| !ev[i].feasible && !ev[i].screened),
                ),
                Series::markers(
                    "meets the goals",
                    pts(f, &|i| ev[i].feasible && !o.pareto.contains(&i)),
                ),
                Series::markers(
                    "on the Pareto front (cost, TTFT p95, cloud share)",
                    pts(f, &|i| o.pareto.contains(&i)),
                ),
            ],
        };
    Figure {
        name: "pareto_front".into(),
        title: format!("Plan {}: cost against latency and cloud share", pl.name),
        panels: vec![
            panel("TTFT p95", "TTFT p95 [ms]", &|r| r.run.ttft_p95_ms),
            panel(
                "Cloud share",
                "share of requests served by the cloud",
                &|r| r.cloud_share,
            ),
        ],
    }
}

/// Writes the tables (`plans`, `pareto`) in `formats`, the figure, the plans of the answer as
/// scenarios ([`Answered`]: the cheapest feasible plan, the edge-only baseline and each plan
/// of the Pareto front; those there are none of removed, an earlier answer's) and
/// `answer.json` to `dir`.
pub fn write(
    dir: &Path,
    pl: &Planner,
    o: &Outcome,
    formats: &[crate::output::Format],
) -> crate::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let every: Vec<usize> = (0..o.evaluations.len()).collect();
    let all = plans_table(pl, o, &every);
    let front = plans_table(pl, o, &o.pareto).with(
        "scenario",
        Values::Str(
            (1..=o.pareto.len())
                .map(|k| Answered::Pareto(k).file())
                .collect(),
        ),
    );
    for f in formats {
        for (name, t) in [("plans", &all), ("pareto", &front)] {
            let p = dir.join(format!("{name}.{}", f.extension()));
            crate::output::write_table(&p, *f, t)?;
            files.push(p);
        }
    }
    files.extend(crate::output::write_figure(&figure(pl, o), dir)?);
    // Before `answer.json`, which marks the folder complete.
    let mut answered = vec![
        (Answered::Cheapest, o.best),
        (Answered::EdgeOnly, o.edge_only),
    ];
    answered.extend(
        o.pareto
            .iter()
            .enumerate()
            .map(|(k, &i)| (Answered::Pareto(k + 1), Some(i))),
    );
    // An earlier answer's Pareto plans beyond this front's.
    answered.extend(
        earlier_pareto_files(dir)
            .into_iter()
            .filter(|&k| k > o.pareto.len())
            .map(|k| (Answered::Pareto(k), None)),
    );
    for (which, plan) in answered {
        let p = dir.join(which.file());
        match plan {
            Some(i) => {
                let text = plan_scenario(pl, &o.evaluations[i], which)?;
                crate::report::write_atomic(&p, text.as_bytes())?;
                files.push(p);
            }
            None => match std::fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(crate::Error::io(
                        &p,
                        "cannot remove the earlier answer's file",
                    )(e));
                }
                _ => {}
            },
        }
    }
    let a = answer(pl, o);
    let p = dir.join("answer.json");
    let text = serde_json::to_string_pretty(&a).unwrap_or_default() + "\n";
    crate::report::write_atomic(&p, text.as_bytes())?;
    files.push(p);
    Ok(files)
}

/// The numbers `K` of the files `pareto-K.toml` in `dir` (none if it cannot be read).
fn earlier_pareto_files(dir: &Path) -> Vec<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let k = name
                .to_str()?
                .strip_prefix("pareto-")?
                .strip_suffix(".toml")?;
            // `pareto-01.toml` is not one of ours.
            let n: usize = k.parse().ok()?;
            (n.to_string() == k && n > 0).then_some(n)
        })
        .collect()
}

/// The file that holds the cheapest feasible plan as a scenario.
pub const CHEAPEST: &str = "cheapest.toml";

/// The file that holds the edge-only baseline (the cheapest feasible plan without a cloud) as a
/// scenario.
pub const EDGE_ONLY: &str = "edge-only.toml";

/// A plan of the answer that is written as a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answered {
    /// The cheapest feasible plan ([`CHEAPEST`]; answer.json's `cheapest`).
    Cheapest,
    /// The edge-only baseline ([`EDGE_ONLY`]; answer.json's `edge_only`).
    EdgeOnly,
    /// Plan `K` (from 1) of the Pareto front, cheapest first (`pareto-K.toml`; answer.json's
    /// `pareto[K - 1]`, the `pareto` table's row `K`).
    Pareto(usize),
}

impl Answered {
    /// Its file's name in the plan's folder.
    pub fn file(self) -> String {
        match self {
            Answered::Cheapest => CHEAPEST.into(),
            Answered::EdgeOnly => EDGE_ONLY.into(),
            Answered::Pareto(k) => format!("pareto-{k}.toml"),
        }
    }

    /// What it is, in words.
    pub fn describe(self) -> String {
        match self {
            Answered::Cheapest => "the cheapest plan".into(),
            Answered::EdgeOnly => "the cheapest plan without a cloud".into(),
            Answered::Pareto(k) => format!("plan {k} of the Pareto front"),
        }
    }
}

/// A plan `e` of the answer as a scenario to run (`edgesim run DIR/cheapest.toml`): the
/// traffic scenario with the plan's fleet, policy, limiter and cloud, resolved (profiles
/// inlined, paths absolute) and with the seed of the first replication, so that it reproduces
/// that run (`--seed S+r` the others). It is named `PLAN-cheapest`, `PLAN-edge-only` or
/// `PLAN-pareto-K` as `which` says.
pub fn plan_scenario(pl: &Planner, e: &Evaluation, which: Answered) -> crate::Result<String> {
    let (suffix, key, what) = match which {
        Answered::Cheapest => (
            "cheapest".to_string(),
            "cheapest".to_string(),
            "the cheapest plan\n# found that meets every goal".to_string(),
        ),
        Answered::EdgeOnly => (
            "edge-only".into(),
            "edge_only".into(),
            "the cheapest plan\n# found without a cloud that meets every goal".into(),
        ),
        Answered::Pareto(k) => (
            format!("pareto-{k}"),
            format!("pareto[{}]", k - 1),
            format!(
                "plan {k} of the Pareto front\n# (cost, TTFT p95, cloud share) of the feasible plans, cheapest first"
            ),
        ),
    };
    let mut sc = pl.scenario_at(&e.point, pl.seed)?;
    let name = format!("{}-{suffix}", pl.name);
    if name.len() <= crate::check::MAX_NAME_BYTES {
        sc.name = name;
    }
    sc.description = pl.describe(&e.point);
    let r = pl.replications;
    // Comment lines: a control character (a line break in a path or a label) would end one.
    let line = |s: &str| s.replace(char::is_control, " ");
    Ok(format!(
        "# answer.json's `{key}` of `edgesim plan {}` as a scenario: {what} (of a \
         `--shard`, the shard's):\n\
         # {}\n\
         # Its seed is the first of the plan's {r} replications (seeds {} to {});\n\
         # `edgesim run` it with `--seed` to run the others.\n\n{}",
        line(&pl.source.display().to_string()),
        line(&sc.description),
        pl.seed,
        pl.seed + u64::from(r.saturating_sub(1)),
        sc.resolved_toml()
    ))
}

fn money(e: &Estimate) -> String {
    match (e.mean, e.ci95) {
        (Some(m), Some(h)) => format!("${} ± {}", fixed(m, 2), fixed(h, 2)),
        (Some(m), None) => format!("${}", fixed(m, 2)),
        _ => "-".into(),
    }
}

/// `e` as `mean ± half-width` with `unit`, times `scale` (`-` without a mean).
pub fn value(e: &Estimate, scale: f64, unit: &str, digits: usize) -> String {
    match (e.mean, e.ci95) {
        (Some(m), Some(h)) => format!(
            "{} ± {}{unit}",
            fixed(m * scale, digits),
            fixed(h * scale, digits)
        ),
        (Some(m), None) => format!("{}{unit}", fixed(m * scale, digits)),
        _ => "-".into(),
    }
}

fn plan_lines(o: &mut String, p: &PlanReport) {
    let _ = writeln!(o, "  {}", p.plan);
    let _ = writeln!(
        o,
        "    cost {} per month (boards ${}, energy {}, cloud {}); {} per 1,000 requests",
        money(&p.total_usd_month),
        fixed(p.boards_usd_month, 2),
        money(&p.energy_usd_month),
        money(&p.cloud_usd_month),
        money(&p.usd_per_1k_requests)
    );
    let _ = writeln!(
        o,
        "    TTFT p95 {}, e2e p95 {}, rejected {}, edge {}, cloud {}{}",
        value(&p.ttft_p95_ms, 1.0, " ms", 0),
        value(&p.e2e_p95_ms, 1.0, " ms", 0),
        value(&p.reject_share, 100.0, " %", 2),
        value(&p.edge_share, 100.0, " %", 1),
        value(&p.cloud_share, 100.0, " %", 1),
        if p.feasible {
            String::new()
        } else {
            format!("; misses {}", p.failed_goals.join(", "))
        }
    );
    for (what, goals) in [("by class", &p.class_goals), ("windows", &p.window_goals)] {
        if !goals.is_empty() {
            let values: Vec<String> = goals
                .iter()
                .map(|g| format!("{} {}", g.quantity, goal_value(&g.quantity, &g.value)))
                .collect();
            let _ = writeln!(o, "    {what}: {}", values.join(", "));
        }
    }
}

/// A goal quantity's value for reading: latencies in ms, shares in %, fees in USD (`-`: no
/// value, nothing served).
pub fn goal_value(quantity: &str, e: &Estimate) -> String {
    if quantity.ends_with("_ms") {
        value(e, 1.0, " ms", 0)
    } else if quantity.ends_with("_share") {
        value(e, 100.0, " %", 2)
    } else {
        value(e, 1.0, " USD", 2)
    }
}

/// The printed report.
pub fn to_text(pl: &Planner, a: &Answer) -> String {
    let mut o = String::new();
    let goals: Vec<String> = pl.goals.iter().map(Goal::describe).collect();
    let _ = writeln!(o, "plan {}: goals {}", pl.name, goals.join(", "));
    if let Some(l) = &a.load {
        let _ = writeln!(o, "traffic: {}", l.describe());
    }
    let _ = writeln!(
        o,
        "evaluated {} plans ({} runs) of the grid's {} ({} runs): {:.1}x fewer runs; \
         {} of {} branches skipped by the bound, {} plans dropped after one run",
        a.evaluated,
        a.runs,
        a.grid_points,
        a.grid_runs,
        a.grid_runs as f64 / a.runs.max(1) as f64,
        a.pruned_branches,
        a.branches,
        a.screened
    );
    let _ = writeln!(o);
    match &a.cheapest {
        Some(p) => {
            let _ = writeln!(o, "cheapest plan meeting every goal:");
            plan_lines(&mut o, p);
        }
        None => {
            let _ = writeln!(
                o,
                "no plan meets the goals: {}",
                a.binding.as_deref().unwrap_or("")
            );
        }
    }
    let _ = writeln!(o);
    for p in &a.cloud_only {
        let _ = writeln!(o, "baseline, cloud only:");
        plan_lines(&mut o, p);
    }
    match &a.edge_only {
        Some(p) => {
            let _ = writeln!(o, "baseline, edge only (cheapest without a cloud):");
            plan_lines(&mut o, p);
        }
        None => {
            let _ = writeln!(
                o,
                "baseline, edge only: {}",
                if pl.clouds.iter().any(|c| c.table.is_none()) {
                    "no plan without a cloud meets the goals"
                } else {
                    "not searched (add \"none\" to search.clouds)"
                }
            );
        }
    }
    let _ = writeln!(
        o,
        "\nPareto front (cost, TTFT p95, cloud share): {} plans{}",
        a.pareto.len(),
        if a.pareto.is_empty() {
            ""
        } else {
            ", cheapest first, each a scenario (pareto-K.toml)"
        }
    );
    for (k, p) in a.pareto.iter().enumerate().take(PARETO_LINES) {
        let _ = writeln!(
            o,
            "  {}. {} per month, TTFT p95 {}, cloud {}: {}",
            k + 1,
            money(&p.total_usd_month),
            value(&p.ttft_p95_ms, 1.0, " ms", 0),
            value(&p.cloud_share, 100.0, " %", 1),
            p.plan
        );
    }
    if a.pareto.len() > PARETO_LINES {
        let _ = writeln!(
            o,
            "  ... and {} more (the `pareto` table)",
            a.pareto.len() - PARETO_LINES
        );
    }
    o
}

/// The cheapest plan meeting every goal at each load of `rows` (`edgesim plan --load-scale
/// X,Y,...`), one line a load: its monthly cost, TTFT p95 and cloud share, and the plan (or
/// the goals that bind where none meets them).
pub fn growth_table(rows: &[(f64, &Answer)]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "the cheapest plan meeting every goal at each load:");
    let _ = writeln!(
        o,
        "{:<8}{:>20}{:>18}{:>16}  plan",
        "load", "cost per month", "TTFT p95", "cloud"
    );
    for (x, a) in rows {
        let load = format!("{}x", crate::check::num(*x));
        match &a.cheapest {
            Some(p) => {
                let _ = writeln!(
                    o,
                    "{load:<8}{:>20}{:>18}{:>16}  {}",
                    money(&p.total_usd_month),
                    value(&p.ttft_p95_ms, 1.0, " ms", 0),
                    value(&p.cloud_share, 100.0, " %", 1),
                    p.plan
                );
            }
            None => {
                let _ = writeln!(
                    o,
                    "{load:<8}{:>20}{:>18}{:>16}  none meets the goals: {}",
                    "-",
                    "-",
                    "-",
                    a.binding.as_deref().unwrap_or("")
                );
            }
        }
    }
    o
}

/// Each load's cheapest plan judged at every load: `rows` holds, for each load with a
/// cheapest plan, its scale and that plan's report at each of `loads` (in their order). A cell
/// gives the monthly cost where the plan meets every goal at that load, and the goals it
/// misses otherwise.
pub fn growth_cross_table(loads: &[f64], rows: &[(f64, Vec<PlanReport>)]) -> String {
    let x = |v: f64| format!("{}x", crate::check::num(v));
    let mut table: Vec<Vec<String>> = vec![
        std::iter::once("cheapest at".to_string())
            .chain(loads.iter().map(|&l| format!("at {}", x(l))))
            .collect(),
    ];
    for (at, reports) in rows {
        let cells = reports.iter().map(|r| {
            if r.feasible {
                money(&r.total_usd_month)
            } else {
                format!("misses {}", r.failed_goals.join(", "))
            }
        });
        table.push(std::iter::once(x(*at)).chain(cells).collect());
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| {
            table
                .iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "each load's cheapest plan at every load (its cost per month where it meets every goal):"
    );
    for r in &table {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(s, &w)| format!("{s}{}", " ".repeat(w - s.chars().count())))
            .collect();
        let _ = writeln!(o, "{}", cells.join("   ").trim_end());
    }
    o
}

/// The Pareto front's plans the printed report lists.
const PARETO_LINES: usize = 10;
