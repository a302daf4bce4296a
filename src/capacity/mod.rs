//! `edgesim capacity`: the most traffic a scenario's fleet serves within service goals.
//!
//! The scenario's load is scaled by a factor `s` ([`scaled`]): a Poisson workload's
//! `rate_rps` and a bursty one's `base_rate_rps` and `burst_rate_rps` are multiplied by `s`
//! (the bursts keep their timing), a trace's `time_scale` is divided by it (its gaps shrink),
//! and a closed loop's `users` are multiplied by it (rounded, at least one). Everything else
//! (fleet, policy, limiter, cloud, demand) stays.
//!
//! The search ([`search`]) assumes that a fleet which meets the goals at a load meets them at
//! every lower one: it runs `s = 1` first, doubles `s` while the goals hold (up to
//! `max_scale`) or halves it while they are missed (down to `min_scale`), then bisects the
//! bracket geometrically until the highest load met and the lowest missed are within
//! `precision` of each other (for a closed loop, until they are one user apart). Every load is
//! judged like a plan of `edgesim plan`: `replications` runs with seeds `seed + r` (common
//! random numbers: a Poisson workload's arrivals at load `s` are those at load 1 with their
//! times divided by `s`), a goal holding on the 95 % confidence bound of its mean.
//!
//! Every run is kept in a journal ([`journal`]): a search started again (after a kill, or with
//! other goals) runs nothing the journal holds.

pub mod journal;
pub mod output;

use std::sync::Arc;

use rayon::prelude::*;

use crate::capacity::journal::{Journal, Source};
use crate::check::InputCache;
use crate::error::{Error, Result};
use crate::plan::cost::{Costs, RunValues};
use crate::plan::{Goal, HOURS_PER_MONTH, Point};
use crate::scenario::Scenario;
use crate::scenario::file::ScenarioFile;
use crate::workload::WorkloadFile;

/// Most replications per load.
pub const MAX_REPLICATIONS: u32 = 1000;

/// The search's settings, checked ([`Settings::check`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The goals every load is judged by (at least one).
    pub goals: Vec<Goal>,
    /// Runs per load, 1 to [`MAX_REPLICATIONS`].
    pub replications: u32,
    /// The search ends when the highest load met and the lowest missed differ by at most
    /// this share of the former, in [0.001, 1].
    pub precision: f64,
    /// The least scale tried, in [1e-6, 1].
    pub min_scale: f64,
    /// The most scale tried, in [1, 1e6].
    pub max_scale: f64,
    /// Hours a month with traffic like the scenario's, in (0, 730]: cloud fees per month are
    /// a run's fees times this over its arrival window (a plan's `costs.traffic_hours_per_month`).
    pub traffic_hours_per_month: f64,
}

impl Settings {
    /// Checks the numbers (`goals` are checked where they are read); an error names the
    /// command-line option.
    pub fn check(&self) -> Result<()> {
        let bad = |flag: &str, v: f64, allowed: &str| -> Result<()> {
            Err(Error::invalid(
                std::path::Path::new("edgesim capacity"),
                flag,
                crate::check::num(v),
                format!("must lie in {allowed}"),
            ))
        };
        if !(1..=MAX_REPLICATIONS).contains(&self.replications) {
            bad(
                "--replications",
                f64::from(self.replications),
                &format!("[1, {MAX_REPLICATIONS}]"),
            )?;
        }
        if !(0.001..=1.0).contains(&self.precision) {
            bad("--precision", self.precision, "[0.001, 1]")?;
        }
        if !(1e-6..=1.0).contains(&self.min_scale) {
            bad("--min-scale", self.min_scale, "[1e-6, 1]")?;
        }
        if !(1.0..=1e6).contains(&self.max_scale) {
            bad("--max-scale", self.max_scale, "[1, 1e6]")?;
        }
        let h = self.traffic_hours_per_month;
        if !(h > 0.0 && h <= HOURS_PER_MONTH) {
            bad("--traffic-hours-per-month", h, "(0, 730]")?;
        }
        if self.goals.is_empty() {
            return Err(Error::invalid(
                std::path::Path::new("edgesim capacity"),
                "--goal",
                "(none)",
                format!(
                    "give at least one goal, KEY=VALUE with KEY one of {}",
                    crate::plan::GOAL_KEYS.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// `v` to `digits` significant digits, as the shortest number that prints so (`0.2973`).
pub fn significant(v: f64, digits: usize) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    format!("{:.*e}", digits.saturating_sub(1), v)
        .parse()
        .unwrap_or(v)
}

/// The workload keys a load sets, with their values at that load (e.g. `rate_rps`).
pub type LoadKeys = Vec<(&'static str, f64)>;

/// `file` with its load scaled by `s` (see the module's documentation), and the workload keys
/// that changed with their new values.
pub fn scaled(file: &ScenarioFile, s: f64) -> (ScenarioFile, LoadKeys) {
    let mut f = file.clone();
    let keys = match &mut f.workload {
        WorkloadFile::Poisson(p) => {
            p.rate_rps *= s;
            vec![("rate_rps", p.rate_rps)]
        }
        WorkloadFile::Bursty(b) => {
            b.base_rate_rps *= s;
            b.burst_rate_rps *= s;
            vec![
                ("base_rate_rps", b.base_rate_rps),
                ("burst_rate_rps", b.burst_rate_rps),
            ]
        }
        WorkloadFile::Periodic(p) => {
            p.rate_rps *= s;
            vec![("rate_rps", p.rate_rps)]
        }
        WorkloadFile::Trace(t) => {
            let ts = t.time_scale.unwrap_or(1.0) / s;
            t.time_scale = Some(ts);
            vec![("time_scale", ts)]
        }
        WorkloadFile::Closed(c) => {
            // At least one user; past u32 the validation refuses it (at most 10,000,000).
            let users = (f64::from(c.users) * s)
                .round()
                .clamp(1.0, f64::from(u32::MAX));
            c.users = users as u32;
            vec![("users", f64::from(c.users))]
        }
    };
    (f, keys)
}

/// One load, run and judged.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The scale of the scenario's load.
    pub scale: f64,
    /// The workload keys at this load.
    pub load: LoadKeys,
    /// Each replication's values, in replication order.
    pub runs: Vec<RunValues>,
    /// Each replication's requests per second of arrivals (requests over the arrival window).
    pub offered_rps: Vec<Option<f64>>,
    /// The goals missed (indices into the settings' goals).
    pub failed: Vec<usize>,
    /// The replications read from the journal of an earlier search rather than simulated.
    pub from_journal: usize,
}

impl Probe {
    /// Every goal holds.
    pub fn feasible(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Why the search stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum End {
    /// The highest load met and the lowest missed are within the precision (or one user).
    Bracketed,
    /// The goals hold at the largest scale allowed.
    MetAtMax,
    /// The goals are missed at the least scale allowed (or at one user).
    MissedAtMin,
    /// The scenario at `scale` is refused (e.g. more requests than a run may generate) or a run
    /// of it fails (one that outgrows the clock): going up, the capacity is at least the
    /// highest load met.
    Refused {
        /// The scale refused.
        scale: f64,
        /// Why, as the scenario's validation says.
        problem: String,
    },
}

/// What the search found.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Every load run, in the order run.
    pub probes: Vec<Probe>,
    /// The highest load that meets the goals (an index into `probes`).
    pub capacity: Option<usize>,
    /// The lowest load above it that misses them.
    pub above: Option<usize>,
    /// Why the search stopped.
    pub end: End,
}

/// A warning when the load at `--max-scale` would have its replications simulate more than
/// [`crate::plan::LARGE_PLAN_REQUESTS`] requests together: while the goals hold, the search
/// doubles the load up to that scale, each load taking about twice as long as the one before.
/// `None` below, or when the scenario at that scale is refused (the search reports it if it
/// gets there).
pub fn size_warning(sc: &Scenario, st: &Settings) -> Option<String> {
    let (file, _) = scaled(&sc.to_file(), st.max_scale);
    let at = Scenario::from_file_with(file, &sc.source, Arc::new(InputCache::default())).ok()?;
    let run = crate::scenario::budget::estimate(&at).requests;
    let together = run * f64::from(st.replications);
    (together > crate::plan::LARGE_PLAN_REQUESTS).then(|| {
        let runs = if st.replications == 1 {
            format!("a load's run would simulate about {run:.2e} requests")
        } else {
            format!(
                "a load's {} replications would simulate about {together:.2e} requests \
                 together ({run:.2e} a run)",
                st.replications
            )
        };
        format!(
            "at --max-scale {}x {runs}, more than {:.0e}; while the goals hold the search \
             doubles the load up to that scale, each load taking about twice as long as the \
             one before: give a lower --max-scale if the capacity is surely below it",
            crate::check::num(st.max_scale),
            crate::plan::LARGE_PLAN_REQUESTS
        )
    })
}

/// Runs and judges the scenario at scale `s` with the scenario's seed (each run read from
/// `journal` where it holds it); `Err(problem)` when the scaled scenario is refused or one of
/// its runs fails.
fn probe(
    base: &ScenarioFile,
    sc: &Scenario,
    cache: &Arc<InputCache>,
    st: &Settings,
    journal: &Journal,
    s: f64,
) -> std::result::Result<Probe, String> {
    let (file, load) = scaled(base, s);
    let at = match Scenario::from_file_with(file, &sc.source, Arc::clone(cache)) {
        Ok(at) => at,
        Err(e) => return Err(e.to_string()),
    };
    // A plan's per-run values with no boards to price: the goals read latencies, shares and
    // cloud fees; energy and board costs are not part of a capacity search.
    let costs = Costs {
        cents_per_kwh: 0.0,
        traffic_hours_per_month: st.traffic_hours_per_month,
    };
    let none = Point::default();
    let requests = crate::sweep::metrics::index("requests_total");
    let window = crate::sweep::metrics::index("arrival_window_s");
    let runs: Result<Vec<(RunValues, Option<f64>, Source)>> = (0..st.replications)
        .into_par_iter()
        .map(|r| {
            let (m, source) = journal.run(s, r, || {
                let mut run = at.clone();
                run.seed = sc.seed.wrapping_add(u64::from(r));
                crate::sim::run(&run)
            })?;
            let get = |i: Option<usize>| i.and_then(|i| m.metrics.get(i));
            let offered = match (get(requests), get(window)) {
                (Some(n), Some(w)) if w > 0.0 => Some(n / w),
                _ => None,
            };
            let values = RunValues::of(&costs, &[], &none, &m.metrics, &m.classes);
            Ok((values, offered, source))
        })
        .collect();
    // A run that fails at this load (one that outgrows the clock) ends the search as a refusal.
    let runs = runs.map_err(|e| e.to_string())?;
    let from_journal = runs
        .iter()
        .filter(|(_, _, source)| *source == Source::Journal)
        .count();
    let (runs, offered_rps): (Vec<RunValues>, Vec<Option<f64>>) =
        runs.into_iter().map(|(v, o, _)| (v, o)).unzip();
    let failed = crate::plan::search::missed(&st.goals, &runs);
    Ok(Probe {
        scale: s,
        load,
        runs,
        offered_rps,
        failed,
        from_journal,
    })
}

/// Searches the highest load of `sc` that meets the goals (see the module's documentation),
/// on `threads` worker threads (default: every core; the answer does not depend on it).
/// `progress` sees each load as it is judged. Nothing is recorded: [`search_with`] keeps a
/// journal.
pub fn search(
    sc: &Scenario,
    st: &Settings,
    threads: Option<usize>,
    progress: &(dyn Fn(&Probe) + Sync),
) -> Result<Outcome> {
    search_with(sc, st, threads, &Journal::none(sc), progress)
}

/// [`search`], each run read from `journal` where it holds it and recorded there otherwise.
pub fn search_with(
    sc: &Scenario,
    st: &Settings,
    threads: Option<usize>,
    journal: &Journal,
    progress: &(dyn Fn(&Probe) + Sync),
) -> Result<Outcome> {
    st.check()?;
    let pool = crate::sweep::exec::thread_pool(threads, &sc.source)?;
    let base = sc.to_file();
    let cache = Arc::new(InputCache::default());
    pool.install(|| {
        let mut probes: Vec<Probe> = Vec::new();
        // `Some(met)`, or `None` when the scenario at `s` is refused (`refused` says why).
        let mut refused: Option<(f64, String)> = None;
        let mut judge = |s: f64, probes: &mut Vec<Probe>| -> Option<bool> {
            match probe(&base, sc, &cache, st, journal, s) {
                Ok(p) => {
                    progress(&p);
                    let met = p.feasible();
                    probes.push(p);
                    Some(met)
                }
                Err(problem) => {
                    refused = Some((s, problem));
                    None
                }
            }
        };
        let same_load = |a: f64, b: f64| scaled(&base, a).1 == scaled(&base, b).1;
        let (mut lo, mut hi) = (None::<f64>, None::<f64>);
        let mut end = End::Bracketed;
        match judge(1.0, &mut probes) {
            Some(true) => {
                let mut s = 1.0;
                lo = Some(s);
                loop {
                    if s >= st.max_scale {
                        end = End::MetAtMax;
                        break;
                    }
                    s = (s * 2.0).min(st.max_scale);
                    match judge(s, &mut probes) {
                        Some(true) => lo = Some(s),
                        Some(false) => {
                            hi = Some(s);
                            break;
                        }
                        None => break,
                    }
                }
            }
            Some(false) => {
                let mut s = 1.0;
                hi = Some(s);
                loop {
                    let next = (s / 2.0).max(st.min_scale);
                    if s <= st.min_scale || same_load(next, s) {
                        end = End::MissedAtMin;
                        break;
                    }
                    s = next;
                    match judge(s, &mut probes) {
                        Some(true) => {
                            lo = Some(s);
                            break;
                        }
                        Some(false) => hi = Some(s),
                        None => break,
                    }
                }
            }
            // The scenario as given fails (a run that outgrows the clock): there is no load to
            // search from.
            None => {
                let problem = refused.take().map_or_else(String::new, |(_, p)| p);
                return Err(Error::Input {
                    path: sc.source.clone(),
                    problem: format!("cannot search its capacity: at its own load, {problem}"),
                });
            }
        }
        if let (Some(mut l), Some(mut h)) = (lo, hi) {
            while h / l > 1.0 + st.precision {
                // The geometric midpoint, to three significant digits where that stays
                // strictly inside the bracket (scales that read well: 0.297, not 0.29730177).
                let mid = (l * h).sqrt();
                let m = [3, 4, 6]
                    .into_iter()
                    .map(|d| significant(mid, d))
                    .find(|&m| l < m && m < h)
                    .unwrap_or(mid);
                if same_load(m, l) || same_load(m, h) {
                    break;
                }
                match judge(m, &mut probes) {
                    Some(true) => l = m,
                    Some(false) => h = m,
                    // Refused inside the bracket (not expected: a higher load was accepted).
                    None => break,
                }
            }
            (lo, hi) = (Some(l), Some(h));
        }
        if let Some((scale, problem)) = refused {
            end = End::Refused { scale, problem };
        }
        let at = |s: Option<f64>| s.and_then(|s| probes.iter().position(|p| p.scale == s));
        Ok(Outcome {
            capacity: at(lo),
            above: at(hi),
            end,
            probes,
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_goal_key_has_its_entry() {
        let mut g = crate::plan::GoalsFile::default();
        for k in crate::plan::GOAL_KEYS {
            *g.entry(k).expect(k) = Some(1.0);
        }
        assert!(g.entry("ttft_p50_ms").is_none());
        let cx = crate::check::Checker::new(std::path::Path::new("x"));
        let classes = ["a".to_string(), "b".to_string()];
        // The window goals need windows.
        let e = crate::plan::goals(&cx, "", &g, &classes, None).unwrap_err();
        assert!(e.to_string().contains("worst_window_ttft_p95_ms"), "{e}");
        // A class's goals are the run's, its windows' among them (which need windows too).
        let mut c = crate::plan::GoalsFile::default();
        for k in crate::plan::GOAL_KEYS {
            *c.entry(k).expect(k) = Some(1.0);
        }
        assert!(c.entry("ttft_p50_ms").is_none());
        g.classes.insert("b".into(), c);
        let mut runs = g.clone();
        for k in &crate::plan::GOAL_KEYS[7..] {
            *runs.entry(k).unwrap() = None;
        }
        let e = crate::plan::goals(&cx, "", &runs, &classes, None).unwrap_err();
        assert!(e.to_string().contains("b.worst_window_ttft_p95_ms"), "{e}");
        let goals = crate::plan::goals(&cx, "", &g, &classes, Some(60.0)).unwrap();
        assert_eq!(goals.len(), 24);
        // Each key names its own quantity: a goal's name is its key, a column its quantity's.
        let names: Vec<String> = goals.iter().map(crate::plan::Goal::name).collect();
        assert_eq!(names[17], "b.min_edge_share");
        assert_eq!(goals[17].column(), "b.edge_share");
        assert_eq!(goals[17].class.as_ref().map(|c| c.index), Some(1));
        assert!(!goals[17].at_most);
        assert_eq!(goals[18].column(), "b.cloud_usd_month");
        assert_eq!(goals[6].column(), "cloud_usd_month");
        assert_eq!(names[11], "max_window_reject_share");
        assert_eq!(goals[11].column(), "worst_window_reject_share");
        assert_eq!(names[23], "b.max_window_reject_share");
        assert_eq!(goals[23].column(), "b.worst_window_reject_share");
        assert_eq!(goals[19].column(), "b.worst_window_ttft_p95_ms");
        assert!(goals[19..].iter().all(|g| g.needs_column() && g.at_most));
        assert!(goals[7..12].iter().all(|g| g.needs_column() && g.at_most));
    }
}
