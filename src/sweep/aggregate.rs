//! From run results to tables, per-point statistics, expectation checks and figures.

use std::collections::{BTreeMap, HashMap};

use super::exec::RunResult;
use super::{Plan, SideFile, label, value_text};
use crate::output::figure::{Figure, Panel, PanelKind, Series};
use crate::output::table::{Table, Values};

/// Mean, sample standard deviation and 95 % confidence half-width of one metric at one point.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stat {
    /// Runs with a value.
    pub n: u32,
    /// Mean.
    pub mean: Option<f64>,
    /// Sample standard deviation (n - 1 in the denominator); `None` below 2 runs.
    pub sd: Option<f64>,
    /// Half-width of the 95 % confidence interval of the mean, t(0.975, n-1) * sd / sqrt(n).
    pub ci95: Option<f64>,
}

/// Student's t 0.975 quantiles for 1..=30 degrees of freedom; 1.96 beyond.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// t(0.975, df).
pub fn t975(df: u32) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T975[df as usize - 1],
        31..=60 => 2.042 - (2.042 - 2.000) * f64::from(df - 30) / 30.0,
        61..=120 => 2.000 - (2.000 - 1.980) * f64::from(df - 60) / 60.0,
        _ => 1.960,
    }
}

impl Stat {
    /// Statistics of `xs` (missing values skipped).
    pub fn of(xs: impl Iterator<Item = Option<f64>>) -> Stat {
        let v: Vec<f64> = xs.flatten().collect();
        let n = v.len() as u32;
        if n == 0 {
            return Stat::default();
        }
        let mean = v.iter().sum::<f64>() / f64::from(n);
        let sd = (n >= 2)
            .then(|| (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(n - 1)).sqrt());
        Stat {
            n,
            mean: Some(mean),
            sd,
            ci95: sd.map(|sd| t975(n - 1) * sd / f64::from(n).sqrt()),
        }
    }
}

/// The statistics of `metrics` over the runs `rs` (of one point), in order.
fn stats_of<'a>(
    rs: &'a [&RunResult],
    metrics: impl Iterator<Item = usize> + 'a,
) -> impl Iterator<Item = Stat> + 'a {
    metrics.map(|m| Stat::of(rs.iter().map(|r| r.metrics.get(m))))
}

/// The runs of each point, in the order given.
fn by_point<'a>(plan: &Plan, runs: &'a [RunResult]) -> Vec<Vec<&'a RunResult>> {
    let mut by_point: Vec<Vec<&RunResult>> = vec![Vec::new(); plan.points.len()];
    for r in runs {
        if let Some(v) = by_point.get_mut(r.point) {
            v.push(r);
        }
    }
    by_point
}

/// Statistics of some metrics at every point: those the checks and the figures read. A table of
/// every metric's at every point took 168 bytes a metric a point (3 GB for a million points);
/// the points table computes the others a part at a time.
#[derive(Clone, Debug, Default)]
pub struct PointStats {
    /// Metric index → its place in a point's row, for the metrics kept.
    slot: HashMap<usize, usize>,
    /// Point-major: `slot.len()` statistics a point.
    stats: Vec<Stat>,
}

impl PointStats {
    /// The statistics of `metrics` (indices in [`Plan::metric_names`] order) at every point.
    pub fn of(plan: &Plan, runs: &[RunResult], metrics: impl IntoIterator<Item = usize>) -> Self {
        // The metrics kept, each once, in the order first asked for; a point's row holds them so.
        let mut kept: Vec<usize> = Vec::new();
        let mut slot = HashMap::new();
        for m in metrics {
            slot.entry(m).or_insert_with(|| {
                kept.push(m);
                kept.len() - 1
            });
        }
        let stats = by_point(plan, runs)
            .iter()
            .flat_map(|rs| stats_of(rs, kept.iter().copied()).collect::<Vec<_>>())
            .collect();
        PointStats { slot, stats }
    }

    /// The statistics the checks and figures of `plan` read.
    pub fn for_checks_and_figures(plan: &Plan, runs: &[RunResult]) -> Self {
        let sides = plan.expect.iter().flat_map(|e| [&e.left, &e.right]);
        let metrics = sides
            .filter_map(|s| s.metric.as_deref())
            .chain(plan.plots.iter().map(|p| p.metric.as_str()))
            .filter_map(|name| plan.metric_index(name));
        PointStats::of(plan, runs, metrics.collect::<Vec<_>>())
    }

    /// Metric `m` at point `p`; empty if it was not kept.
    pub fn get(&self, p: usize, m: usize) -> Stat {
        let Some(&s) = self.slot.get(&m) else {
            return Stat::default();
        };
        self.stats
            .get(p * self.slot.len() + s)
            .copied()
            .unwrap_or_default()
    }
}

fn axis_columns(plan: &Plan, points: impl Iterator<Item = usize> + Clone) -> Vec<(String, Values)> {
    plan.columns
        .iter()
        .enumerate()
        .map(|(c, name)| {
            (
                name.clone(),
                Values::Str(points.clone().map(|p| label(&plan.points[p][c])).collect()),
            )
        })
        .collect()
}

/// One row per run, in run order: `run`, `point`, `replication`, `seed`, the axis values, and
/// every metric.
pub fn runs_table(plan: &Plan, runs: &[RunResult]) -> Table {
    let mut t = Table::new()
        .with(
            "run",
            Values::U64(runs.iter().map(|r| r.run as u64).collect()),
        )
        .with(
            "point",
            Values::U64(runs.iter().map(|r| r.point as u64).collect()),
        )
        .with(
            "replication",
            Values::U64(runs.iter().map(|r| u64::from(r.replication)).collect()),
        )
        .with("seed", Values::U64(runs.iter().map(|r| r.seed).collect()));
    for (name, v) in axis_columns(plan, runs.iter().map(|r| r.point)) {
        t = t.with(&name, v);
    }
    for (m, name) in plan.metric_names().iter().enumerate() {
        t = t.with(
            name,
            Values::OptF64(runs.iter().map(|r| r.metrics.get(m)).collect()),
        );
    }
    t
}

/// One row per point of `points` (each with its runs, `runs[p]`): `point`, the axis values,
/// `runs`, and each metric's mean, sd and 95 % CI half-width.
fn points_table(plan: &Plan, runs: &[Vec<&RunResult>], points: std::ops::Range<usize>) -> Table {
    let metrics = plan.metric_names();
    // Point-major, as `PointStats`.
    let stats: Vec<Stat> = runs[points.clone()]
        .iter()
        .flat_map(|rs| stats_of(rs, 0..metrics.len()))
        .collect();
    let width = metrics.len();
    let rows = points.len();
    let mut t = Table::new().with(
        "point",
        Values::U64(points.clone().map(|p| p as u64).collect()),
    );
    for (name, v) in axis_columns(plan, points) {
        t = t.with(&name, v);
    }
    t = t.with(
        "runs",
        Values::U64(
            (0..rows)
                .map(|i| stats.get(i * width).map_or(0, |x| u64::from(x.n)))
                .collect(),
        ),
    );
    for (m, name) in metrics.iter().enumerate() {
        for (suffix, f) in [
            ("mean", (|s: &Stat| s.mean) as fn(&Stat) -> Option<f64>),
            ("sd", |s: &Stat| s.sd),
            ("ci95", |s: &Stat| s.ci95),
        ] {
            t = t.with(
                &format!("{name}_{suffix}"),
                Values::OptF64((0..rows).map(|i| f(&stats[i * width + m])).collect()),
            );
        }
    }
    t
}

/// A failed expectation at one combination of the free axes.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    /// The expectation's name.
    pub expectation: String,
    /// The free axes' values, `key=value, ...` (empty if none).
    pub at: String,
    /// Left side (mean x factor).
    pub left: f64,
    /// The operator.
    pub op: String,
    /// Right side.
    pub right: f64,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.at.is_empty() {
            String::new()
        } else {
            format!(" at {}", self.at)
        };
        write!(
            f,
            "expectation failed: {}{at}: {} {} {} is false",
            self.expectation,
            fmt_num(self.left),
            self.op,
            fmt_num(self.right)
        )
    }
}

fn fmt_num(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e7) {
        format!("{x:.4e}")
    } else {
        format!("{}", (x * 1e4).round() / 1e4)
    }
}

fn value_of(plan: &Plan, stats: &PointStats, side: &SideFile, points: &[usize]) -> Option<f64> {
    if let Some(v) = side.value {
        return Some(v * side.factor);
    }
    let m = plan.metric_index(side.metric.as_deref()?)?;
    // Pool the matching points' means, weighted by their runs.
    let (mut sum, mut n) = (0.0, 0u32);
    for &p in points {
        let s = stats.get(p, m);
        if let Some(mean) = s.mean {
            sum += mean * f64::from(s.n);
            n += s.n;
        }
    }
    (n > 0).then(|| sum / f64::from(n) * side.factor)
}

/// Checks every expectation on the means over replications; returns what failed, and the
/// number of comparisons made.
pub fn check(plan: &Plan, stats: &PointStats) -> (Vec<Violation>, usize) {
    let mut violations = Vec::new();
    let mut compared = 0;
    for e in &plan.expect {
        let filter = |s: &SideFile| -> Vec<(usize, String)> {
            s.filter
                .iter()
                .filter_map(|(k, v)| {
                    let c = plan.column(k)?;
                    Some((c, value_text(v)))
                })
                .collect()
        };
        let (lf, rf) = (filter(&e.left), filter(&e.right));
        let named: Vec<usize> = lf.iter().chain(&rf).map(|x| x.0).collect();
        let free: Vec<usize> = (0..plan.columns.len())
            .filter(|c| !named.contains(c))
            .collect();
        // The points of each distinct assignment of the free columns, in point order (one
        // pass, so that a sweep of many points is checked in time proportional to them).
        let mut group_of: HashMap<Vec<&str>, usize> = HashMap::new();
        let mut groups: Vec<(Vec<&str>, Vec<usize>)> = Vec::new();
        for (p, values) in plan.points.iter().enumerate() {
            let key: Vec<&str> = free.iter().map(|&c| values[c].as_str()).collect();
            let g = *group_of.entry(key.clone()).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(p);
        }
        for (key, members) in groups {
            let matching = |f: &[(usize, String)]| -> Vec<usize> {
                members
                    .iter()
                    .copied()
                    .filter(|&p| f.iter().all(|(c, v)| plan.points[p][*c] == *v))
                    .collect()
            };
            let (lp, rp) = (matching(&lf), matching(&rf));
            let (Some(l), Some(r)) = (
                value_of(plan, stats, &e.left, &lp),
                value_of(plan, stats, &e.right, &rp),
            ) else {
                continue;
            };
            compared += 1;
            let ok = match e.op.as_str() {
                "<" => l < r,
                "<=" => l <= r,
                ">" => l > r,
                _ => l >= r,
            };
            if !ok {
                violations.push(Violation {
                    expectation: e.name.clone(),
                    at: free
                        .iter()
                        .zip(&key)
                        .map(|(&c, v)| format!("{}={}", plan.columns[c], label(v)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    left: l,
                    op: e.op.clone(),
                    right: r,
                });
            }
        }
    }
    (violations, compared)
}

/// The sweep's figures: for each `[[plots]]` entry, the metric's mean against `x` with 95 %
/// confidence bands, one line per `series` value, one panel per combination of other axes.
pub fn figures(plan: &Plan, stats: &PointStats) -> Vec<Figure> {
    plan.plots
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let m = plan.metric_index(&p.metric)?;
            let xc = plan.column(&p.x)?;
            let sc = p.series.as_ref().and_then(|s| plan.column(s));
            let others: Vec<usize> = (0..plan.columns.len())
                .filter(|&c| c != xc && Some(c) != sc)
                .collect();
            // Per panel: the other axes' values, its series by name, and their first-seen order.
            type PanelAcc = (Vec<String>, BTreeMap<String, Series>, Vec<String>);
            let mut panels: Vec<PanelAcc> = Vec::new();
            let mut panel_of: HashMap<Vec<&str>, usize> = HashMap::new();
            for (pt, values) in plan.points.iter().enumerate() {
                let key: Vec<&str> = others.iter().map(|&c| values[c].as_str()).collect();
                let idx = *panel_of.entry(key).or_insert_with_key(|key| {
                    let key = key.iter().map(|v| v.to_string()).collect();
                    panels.push((key, BTreeMap::new(), Vec::new()));
                    panels.len() - 1
                });
                let name = sc.map_or_else(|| p.metric.clone(), |c| label(&values[c]));
                let entry = &mut panels[idx];
                // A series is named in the order list when it first enters the map.
                if !entry.1.contains_key(&name) {
                    entry.2.push(name.clone());
                }
                let s = entry.1.entry(name.clone()).or_insert_with(|| Series {
                    name,
                    points: Vec::new(),
                    band: Some(Vec::new()),
                    markers: false,
                });
                let st = stats.get(pt, m);
                let (Some(x), Some(y)) = (values[xc].parse::<f64>().ok(), st.mean) else {
                    continue;
                };
                let h = st.ci95.unwrap_or(0.0);
                s.points.push((x, y));
                if let Some(b) = s.band.as_mut() {
                    b.push((y - h, y + h));
                }
            }
            let panels = panels
                .into_iter()
                .map(|(key, mut series, order)| {
                    let mut list: Vec<Series> =
                        order.iter().filter_map(|n| series.remove(n)).collect();
                    for s in &mut list {
                        // Sort by x, keeping each band entry with its point.
                        let mut zipped: Vec<((f64, f64), (f64, f64))> = s
                            .points
                            .iter()
                            .copied()
                            .zip(s.band.clone().unwrap_or_default())
                            .collect();
                        zipped.sort_by(|a, b| a.0.0.total_cmp(&b.0.0));
                        s.points = zipped.iter().map(|z| z.0).collect();
                        s.band = Some(zipped.iter().map(|z| z.1).collect());
                    }
                    let title = if key.is_empty() {
                        p.metric.clone()
                    } else {
                        others
                            .iter()
                            .zip(&key)
                            .map(|(&c, v)| format!("{}={}", plan.columns[c], label(v)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    Panel {
                        title,
                        x_label: p.x.clone(),
                        y_label: format!("{} (mean, 95 % CI)", p.metric),
                        kind: PanelKind::Lines { log_x: false },
                        series: list,
                    }
                })
                .collect();
            Some(Figure {
                name: format!("plot{}_{}", i + 1, p.metric),
                title: format!("{}: {} against {}", plan.name, p.metric, p.x),
                panels,
            })
        })
        .collect()
}

/// Runs (and points) written to the runs (points) table at a time (a Parquet row group each).
pub const TABLE_PART: usize = 8_192;

/// Writes `runs` and `points` tables in each format and the figures (data as CSV; PNG and
/// SVG with the `plots` feature) to `dir`. Returns the files written.
pub fn write(
    dir: &std::path::Path,
    plan: &Plan,
    runs: &[RunResult],
    formats: &[crate::output::Format],
) -> crate::Result<Vec<std::path::PathBuf>> {
    let grouped = by_point(plan, runs);
    let mut files = Vec::new();
    for f in formats {
        // The runs table in parts: a table of every run at once took a kilobyte a run.
        let p = dir.join(format!("runs.{}", f.extension()));
        let mut w = crate::output::TableWriter::create(&p, *f)?;
        for part in runs.chunks(TABLE_PART) {
            w.write(&runs_table(plan, part))?;
        }
        w.finish(&runs_table(plan, &[]))?;
        files.push(p);
        let p = dir.join(format!("points.{}", f.extension()));
        let mut w = crate::output::TableWriter::create(&p, *f)?;
        for start in (0..grouped.len()).step_by(TABLE_PART) {
            let part = start..(start + TABLE_PART).min(grouped.len());
            w.write(&points_table(plan, &grouped, part))?;
        }
        w.finish(&points_table(plan, &grouped, 0..0))?;
        files.push(p);
    }
    for fig in figures(plan, &PointStats::for_checks_and_figures(plan, runs)) {
        files.extend(crate::output::write_figure(&fig, dir)?);
    }
    remove_other_figures(dir, &files)?;
    Ok(files)
}

/// Removes from `dir` the figures (`plotN_METRIC.csv`, `.png`, `.svg`) that are not among
/// `written`: an earlier sweep of the same runs into the folder had other `[[plots]]`.
fn remove_other_figures(
    dir: &std::path::Path,
    written: &[std::path::PathBuf],
) -> crate::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let figure = name.strip_prefix("plot").is_some_and(|rest| {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0
                && rest[digits..].starts_with('_')
                && [".csv", ".png", ".svg"].iter().any(|x| rest.ends_with(x))
        });
        let path = e.path();
        if figure && path.is_file() && !written.contains(&path) {
            std::fs::remove_file(&path).map_err(crate::Error::io(&path, "cannot remove"))?;
        }
    }
    Ok(())
}
