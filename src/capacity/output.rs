//! What `edgesim capacity` prints and writes: the answer (`capacity.json`), one row per load
//! run (`loads`), the saturation curves (`capacity_curves`: each goal's quantity against the
//! load, with its bound) and the scenario at the highest load met (`at-capacity.toml`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{End, Outcome, Probe, Settings};
use crate::output::figure::{Figure, Panel, PanelKind, Series};
use crate::output::table::{Table, Values};
use crate::plan::cost::RunValues;
use crate::plan::output::Estimate;
use crate::plan::{Goal, Quantity};
use crate::scenario::Scenario;
use crate::sweep::aggregate::Stat;

/// The file that holds the scenario at the highest load met.
pub const AT_CAPACITY: &str = "at-capacity.toml";

/// A goal at one load.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GoalValue {
    /// The goal in words (`ttft_p95_ms <= 2000`).
    pub goal: String,
    /// The goal's key (`ttft_p95_ms`).
    pub key: String,
    /// The quantity's mean and half-width over the replications.
    pub value: Estimate,
    /// Whether the goal holds (on the 95 % bound).
    pub met: bool,
}

/// One load in `capacity.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LoadReport {
    /// The scale of the scenario's load.
    pub scale: f64,
    /// The workload keys at this load, with their values.
    pub workload: std::collections::BTreeMap<String, f64>,
    /// Requests per second of arrivals (requests over the arrival window).
    pub offered_rps: Estimate,
    /// Each goal.
    pub goals: Vec<GoalValue>,
}

/// `capacity.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Answer {
    /// Scenario name.
    pub scenario: String,
    /// The workload's kind.
    pub workload: String,
    /// Seed of the first replication (replication r runs with seed + r).
    pub seed: u64,
    /// Runs per load.
    pub replications: u32,
    /// The search's precision.
    pub precision: f64,
    /// The goals.
    pub goals: Vec<String>,
    /// The highest load that meets every goal (`null`: none tried does).
    pub capacity: Option<LoadReport>,
    /// The lowest load above it that misses a goal (`null`: none tried does).
    pub above: Option<LoadReport>,
    /// Why the search stopped: `bracketed`, `met_at_max_scale`, `missed_at_min_scale` or
    /// `refused`.
    pub end: String,
    /// In words.
    pub end_note: String,
    /// The widest 95 % half-width of a goal's quantity at `capacity` and `above`, as a share
    /// of the goal's bound (`null` without two runs a load or a bound above 0): when it is
    /// wider than the precision, the noise of the runs, not the search, limits the answer.
    pub widest_ci95_share: Option<f64>,
    /// Loads run.
    pub loads: usize,
    /// Runs behind them.
    pub runs: usize,
}

fn estimate(values: impl Iterator<Item = Option<f64>>) -> Estimate {
    Stat::of(values).into()
}

/// Goal `g`'s quantity at load `p`, over the replications.
fn quantity(p: &Probe, g: &Goal) -> Estimate {
    estimate(p.runs.iter().map(|r| r.value(g)))
}

fn load_report(st: &Settings, p: &Probe) -> LoadReport {
    LoadReport {
        scale: p.scale,
        workload: p
            .load
            .iter()
            .map(|(k, v)| (format!("workload.{k}"), *v))
            .collect(),
        offered_rps: estimate(p.offered_rps.iter().copied()),
        goals: st
            .goals
            .iter()
            .enumerate()
            .map(|(i, g)| GoalValue {
                goal: g.describe(),
                key: g.name(),
                value: quantity(p, g),
                met: !p.failed.contains(&i),
            })
            .collect(),
    }
}

fn end_words(o: &Outcome, st: &Settings, closed: bool) -> (&'static str, String) {
    match &o.end {
        End::Bracketed if closed => (
            "bracketed",
            format!(
                "the highest load met and the lowest missed are within {} % of each other \
                 (--precision) or one user apart",
                crate::check::num(st.precision * 100.0)
            ),
        ),
        End::Bracketed => (
            "bracketed",
            format!(
                "the highest load met and the lowest missed are within {} % of each other \
                 (--precision)",
                crate::check::num(st.precision * 100.0)
            ),
        ),
        End::MetAtMax => (
            "met_at_max_scale",
            format!(
                "the goals hold at the largest scale tried ({}x, --max-scale): the capacity \
                 is at least that",
                crate::check::num(st.max_scale)
            ),
        ),
        End::MissedAtMin => (
            "missed_at_min_scale",
            "the goals are missed at the least load tried (--min-scale, or one user): no \
             load of this fleet meets them"
                .into(),
        ),
        End::Refused { scale, problem } => (
            "refused",
            format!(
                "the scenario at {}x is refused ({problem}); the search can go no further",
                crate::check::num(*scale)
            ),
        ),
    }
}

/// The answer of a search.
pub fn answer(sc: &Scenario, st: &Settings, o: &Outcome) -> Answer {
    let (end, end_note) = end_words(o, st, sc.workload.is_closed());
    Answer {
        scenario: sc.name.clone(),
        workload: sc.workload.to_file().kind().into(),
        seed: sc.seed,
        replications: st.replications,
        precision: st.precision,
        goals: st.goals.iter().map(Goal::describe).collect(),
        capacity: o.capacity.map(|i| load_report(st, &o.probes[i])),
        above: o.above.map(|i| load_report(st, &o.probes[i])),
        end: end.into(),
        end_note,
        widest_ci95_share: [o.capacity, o.above]
            .into_iter()
            .flatten()
            .flat_map(|i| {
                let p = &o.probes[i];
                st.goals.iter().filter_map(move |g| {
                    let h = quantity(p, g).ci95?;
                    (g.bound > 0.0).then(|| h / g.bound)
                })
            })
            .reduce(f64::max),
        loads: o.probes.len(),
        runs: o.probes.iter().map(|p| p.runs.len()).sum(),
    }
}

/// The loads run, by scale (see `docs/capacity.md` for the columns).
pub fn loads_table(st: &Settings, o: &Outcome) -> Table {
    let mut order: Vec<usize> = (0..o.probes.len()).collect();
    order.sort_by(|&a, &b| o.probes[a].scale.total_cmp(&o.probes[b].scale));
    let ps: Vec<&Probe> = order.iter().map(|&i| &o.probes[i]).collect();
    let stat = |f: &dyn Fn(&RunValues) -> Option<f64>, p: &Probe| Stat::of(p.runs.iter().map(f));
    let mean = |f: &dyn Fn(&RunValues) -> Option<f64>| {
        Values::OptF64(ps.iter().map(|p| stat(f, p).mean).collect())
    };
    let ci = |f: &dyn Fn(&RunValues) -> Option<f64>| {
        Values::OptF64(ps.iter().map(|p| stat(f, p).ci95).collect())
    };
    let mut t = Table::new()
        .with("scale", Values::F64(ps.iter().map(|p| p.scale).collect()))
        .with(
            "searched",
            Values::U64(order.iter().map(|&i| i as u64 + 1).collect()),
        );
    let keys: Vec<&'static str> = ps
        .first()
        .map(|p| p.load.iter().map(|(k, _)| *k).collect())
        .unwrap_or_default();
    for (k, key) in keys.iter().enumerate() {
        t = t.with(key, Values::F64(ps.iter().map(|p| p.load[k].1).collect()));
    }
    t = t
        .with(
            "offered_rps",
            Values::OptF64(
                ps.iter()
                    .map(|p| Stat::of(p.offered_rps.iter().copied()).mean)
                    .collect(),
            ),
        )
        .with(
            "runs",
            Values::U64(ps.iter().map(|p| p.runs.len() as u64).collect()),
        )
        .with(
            "meets_goals",
            Values::Str(ps.iter().map(|p| p.feasible().to_string()).collect()),
        )
        .with(
            "failed_goals",
            Values::Str(
                ps.iter()
                    .map(|p| {
                        p.failed
                            .iter()
                            .map(|&g| st.goals[g].name())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect(),
            ),
        )
        .with("ttft_p95_ms", mean(&|r| r.run.ttft_p95_ms))
        .with("ttft_p95_ms_ci95", ci(&|r| r.run.ttft_p95_ms))
        .with("ttft_p99_ms", mean(&|r| r.run.ttft_p99_ms))
        .with("ttft_p99_ms_ci95", ci(&|r| r.run.ttft_p99_ms))
        .with("e2e_p95_ms", mean(&|r| r.run.e2e_p95_ms))
        .with("e2e_p95_ms_ci95", ci(&|r| r.run.e2e_p95_ms))
        .with("e2e_p99_ms", mean(&|r| r.run.e2e_p99_ms))
        .with("e2e_p99_ms_ci95", ci(&|r| r.run.e2e_p99_ms))
        .with("reject_share", mean(&|r| r.run.reject_share))
        .with("reject_share_ci95", ci(&|r| r.run.reject_share))
        .with("edge_share", mean(&|r| r.run.edge_share))
        .with("edge_share_ci95", ci(&|r| r.run.edge_share))
        .with("cloud_share", mean(&|r| r.cloud_share))
        .with("cloud_usd_month", mean(&|r| Some(r.run.cloud_usd_month)))
        .with("cloud_usd_month_ci95", ci(&|r| Some(r.run.cloud_usd_month)));
    let runs: Vec<&[RunValues]> = ps.iter().map(|p| &p.runs[..]).collect();
    crate::plan::output::goal_columns(t, &st.goals, &runs)
}

/// A goal's quantity as an axis label, with its unit.
fn axis_label(q: Quantity) -> &'static str {
    match q {
        Quantity::TtftP95Ms => "TTFT p95 [ms]",
        Quantity::TtftP99Ms => "TTFT p99 [ms]",
        Quantity::E2eP95Ms => "end-to-end p95 [ms]",
        Quantity::E2eP99Ms => "end-to-end p99 [ms]",
        Quantity::RejectShare => "share of requests rejected",
        Quantity::EdgeShare => "share served at the edge",
        Quantity::CloudUsdPerMonth => "cloud fees [USD per month]",
        Quantity::WindowTtftP95Ms => "worst window's TTFT p95 [ms]",
        Quantity::WindowTtftP99Ms => "worst window's TTFT p99 [ms]",
        Quantity::WindowE2eP95Ms => "worst window's end-to-end p95 [ms]",
        Quantity::WindowE2eP99Ms => "worst window's end-to-end p99 [ms]",
        Quantity::WindowRejectShare => "worst window's share rejected",
    }
}

/// The saturation curves: one panel per goal, its quantity's mean (with the 95 % band)
/// against the scale of the load, and the goal's bound.
pub fn figure(st: &Settings, o: &Outcome) -> Figure {
    let mut ps: Vec<&Probe> = o.probes.iter().collect();
    ps.sort_by(|a, b| a.scale.total_cmp(&b.scale));
    let panels = st
        .goals
        .iter()
        .map(|g| {
            let mut points = Vec::new();
            let mut band = Vec::new();
            for p in &ps {
                let e = quantity(p, g);
                if let Some(m) = e.mean {
                    let h = e.ci95.unwrap_or(0.0);
                    points.push((p.scale, m));
                    band.push((m - h, m + h));
                }
            }
            let mut curve = Series::new("mean over the replications", points);
            curve.band = Some(band);
            let ends = [ps.first(), ps.last()]
                .into_iter()
                .flatten()
                .map(|p| (p.scale, g.bound))
                .collect();
            Panel {
                title: g.describe(),
                x_label: "load [x the scenario's]".into(),
                y_label: axis_label(g.quantity).into(),
                kind: PanelKind::Lines { log_x: true },
                series: vec![curve, Series::new("goal", ends)],
            }
        })
        .collect();
    Figure {
        name: "capacity_curves".into(),
        title: "each goal's quantity against the load".into(),
        panels,
    }
}

/// The scenario at the highest load met, to run (`edgesim run DIR/at-capacity.toml`):
/// resolved, with the seed of the first replication, named `NAME-capacity`.
pub fn at_capacity_scenario(sc: &Scenario, st: &Settings, p: &Probe) -> crate::Result<String> {
    let (file, _) = super::scaled(&sc.to_file(), p.scale);
    let mut at = Scenario::from_file(file, &sc.source)?;
    let name = format!("{}-capacity", sc.name);
    if name.len() <= crate::check::MAX_NAME_BYTES {
        at.name = name;
    }
    let keys: Vec<String> = p
        .load
        .iter()
        .map(|(k, v)| format!("workload.{k} = {}", crate::check::num(*v)))
        .collect();
    at.description = format!(
        "{} at {}x its load ({})",
        sc.name,
        crate::check::num(p.scale),
        keys.join(", ")
    );
    let line = |s: &str| s.replace(char::is_control, " ");
    let goals: Vec<String> = st.goals.iter().map(Goal::describe).collect();
    Ok(format!(
        "# capacity.json's `capacity` of `edgesim capacity {}` as a scenario: the highest\n\
         # load found that meets {}.\n\
         # Its seed is the first of the {} replications (seeds {} to {});\n\
         # `edgesim run` it with `--seed` to run the others.\n\n{}",
        line(&sc.source.display().to_string()),
        line(&goals.join(", ")),
        st.replications,
        sc.seed,
        sc.seed
            .wrapping_add(u64::from(st.replications.saturating_sub(1))),
        at.resolved_toml()
    ))
}

/// A capacity search's output folder being written, and its journal.
#[derive(Debug)]
pub struct Folder {
    rd: crate::output::rundir::RunDir,
    /// The search's runs: give it to [`super::search_with`].
    pub journal: super::journal::Journal,
}

impl Folder {
    /// The journal's path (in the temporary folder until [`write()`] puts it in place; left
    /// there when the search ends in an error).
    pub fn journal_path(&self) -> PathBuf {
        self.rd.path().join(super::journal::JOURNAL)
    }
}

/// Starts writing the output folder `target` of a capacity search of `sc` (`--out`): checks
/// that the folder may be replaced, reads the runs of the journals of an earlier search into it
/// (its own, and those of searches into it that were killed), and starts the new search's
/// journal. Gives the folder and the warnings about journal lines that are not runs.
pub fn begin(target: &Path, sc: &Scenario) -> crate::Result<(Folder, Vec<String>)> {
    use crate::output::rundir;
    rundir::check_replaceable(target, "--out", "capacity")?;
    // Read before `begin` removes the killed searches' folders.
    let mut earlier = rundir::killed_temporaries(target);
    earlier.push(target.to_path_buf());
    let earlier: Vec<PathBuf> = earlier
        .iter()
        .map(|d| d.join(super::journal::JOURNAL))
        .collect();
    let (mut journal, warnings) = super::journal::Journal::read(sc, &earlier);
    let mut rd = rundir::RunDir::begin(target, "--out", "capacity")?;
    // A search that ends in an error keeps its runs for the next (as a killed one does).
    rd.keep_on_error(&[super::journal::JOURNAL]);
    journal.record_to(&rd.path().join(super::journal::JOURNAL))?;
    Ok((Folder { rd, journal }, warnings))
}

/// Writes the table of loads in `formats`, the curves, the scenario at capacity (when a load
/// meets the goals), `capacity.json`, the journal in order and the manifest to the folder, all
/// or nothing.
pub fn write(
    folder: Folder,
    sc: &Scenario,
    st: &Settings,
    o: &Outcome,
    formats: &[crate::output::Format],
) -> crate::Result<Vec<PathBuf>> {
    let Folder { rd, journal } = folder;
    let dir = rd.path();
    let mut files = Vec::new();
    let t = loads_table(st, o);
    for f in formats {
        let p = dir.join(format!("loads.{}", f.extension()));
        crate::output::write_table(&p, *f, &t)?;
        files.push(p);
    }
    files.extend(crate::output::write_figure(&figure(st, o), dir)?);
    if let Some(i) = o.capacity {
        let p = dir.join(AT_CAPACITY);
        let text = at_capacity_scenario(sc, st, &o.probes[i])?;
        crate::report::write_atomic(&p, text.as_bytes())?;
        files.push(p);
    }
    files.extend(journal.finish()?);
    let p = dir.join("capacity.json");
    let text = serde_json::to_string_pretty(&answer(sc, st, o)).unwrap_or_default() + "\n";
    crate::report::write_atomic(&p, text.as_bytes())?;
    files.push(p);
    rd.commit(&sc.name, sc.seed, &files)
}

/// A number to four significant digits, for reading (the files keep every digit).
pub fn short(v: f64) -> String {
    crate::check::num(super::significant(v, 4))
}

fn load_lines(o: &mut String, l: &LoadReport) {
    let keys: Vec<String> = l
        .workload
        .iter()
        .map(|(k, v)| format!("{k} = {}", short(*v)))
        .collect();
    let offered = match l.offered_rps.mean {
        Some(m) => format!("; {} requests/s offered", short(m)),
        None => String::new(),
    };
    let _ = writeln!(o, "    {}{offered}", keys.join(", "));
    for g in &l.goals {
        let v = match g.value.mean {
            Some(_) => crate::plan::output::goal_value(&g.key, &g.value),
            None => "- (nothing served)".into(),
        };
        let _ = writeln!(
            o,
            "    {}: {v} ({})",
            g.goal,
            if g.met { "met" } else { "missed" }
        );
    }
}

/// The capacities of one scenario under several selection policies (`capacity --policies`),
/// one line each: the highest load met (`-`: none) and the requests per second it offers,
/// the lowest load missed, and how the search ended.
pub fn policies_table(rows: &[(&str, &Answer)]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<14}{:>12}{:>16}{:>12}  search ended",
        "policy", "capacity", "requests/s", "missed at"
    );
    let scale = |l: &Option<LoadReport>| {
        l.as_ref()
            .map_or("-".to_string(), |l| format!("{}x", short(l.scale)))
    };
    for (policy, a) in rows {
        let rps = a
            .capacity
            .as_ref()
            .and_then(|l| l.offered_rps.mean)
            .map_or("-".to_string(), short);
        let _ = writeln!(
            o,
            "{policy:<14}{:>12}{rps:>16}{:>12}  {}",
            scale(&a.capacity),
            scale(&a.above),
            a.end
        );
    }
    o
}

/// The printed report.
pub fn to_text(a: &Answer) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "capacity of {} ({} workload): goals {}; {} loads, {} runs ({} per load)",
        a.scenario,
        a.workload,
        a.goals.join(", "),
        a.loads,
        a.runs,
        a.replications
    );
    match &a.capacity {
        Some(l) => {
            let _ = writeln!(
                o,
                "meets the goals up to {}x the scenario's load:",
                short(l.scale)
            );
            load_lines(&mut o, l);
        }
        None => {
            let _ = writeln!(o, "no load tried meets the goals");
        }
    }
    if let Some(l) = &a.above {
        let _ = writeln!(o, "misses them at {}x:", short(l.scale));
        load_lines(&mut o, l);
    }
    let _ = writeln!(o, "search ended: {}", a.end_note);
    // Only between a load met and a load missed: there the noise decides the answer.
    let bracketed = a.capacity.is_some() && a.above.is_some();
    if let Some(w) = a
        .widest_ci95_share
        .filter(|&w| bracketed && w > a.precision)
    {
        let _ = writeln!(
            o,
            "note: near the answer a goal's 95 % half-width is {} % of its bound, wider than \
             the precision: more --replications or a longer duration_s narrow the answer",
            short(100.0 * w)
        );
    }
    o
}
