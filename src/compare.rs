//! `edgesim compare`: one scenario and seed under several selection policies, side by side,
//! with the paper's Figure 4 panels and latency/arrival figures built from the runs.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::Result;
use crate::metrics::{Histogram, Recorder, RequestRecord, Route, Summary};
use crate::output::figure::{Figure, Panel, PanelKind, Series};
use crate::output::tables::{SeriesData, Timeseries};
use crate::policy::selection::SelectionKind;
use crate::scenario::Scenario;
use crate::time::SimTime;

/// TTFT and end-to-end latency histograms by route (edge, cloud) \[µs\].
#[derive(Clone, Debug, Default)]
pub struct RouteLatencies {
    /// Time to first token: edge, cloud.
    pub ttft: [Histogram; 2],
    /// End to end: edge, cloud.
    pub e2e: [Histogram; 2],
}

impl Recorder for RouteLatencies {
    fn on_end(&mut self, _: SimTime, r: &RequestRecord) {
        let i = match r.route {
            Route::Edge(_) => 0,
            Route::Cloud => 1,
            Route::Rejected => return,
        };
        self.ttft[i].record(r.ttft.0);
        self.e2e[i].record(r.e2e.0);
    }
}

/// One policy's run.
#[derive(Clone, Debug)]
pub struct PolicyRun {
    /// The policy.
    pub policy: SelectionKind,
    /// Its summary.
    pub summary: Summary,
    /// Device and gateway time series.
    pub series: SeriesData,
    /// Latency histograms by route.
    pub latency: RouteLatencies,
}

/// Runs `base` once per policy (only `selection.kind` differs; every other setting, the seed
/// included, is shared) in parallel. Results are in `policies` order.
pub fn run(base: &Scenario, policies: &[SelectionKind], bucket_s: f64) -> Result<Vec<PolicyRun>> {
    let scenarios: Vec<(SelectionKind, Scenario)> = policies
        .iter()
        .map(|p| {
            let mut sc = base.clone();
            sc.selection.kind = *p;
            (*p, sc)
        })
        .collect();
    scenarios
        .par_iter()
        .map(|(policy, sc)| run_one(*policy, sc, bucket_s))
        .collect()
}

/// Runs one scenario with the recorders compare needs.
pub fn run_one(policy: SelectionKind, sc: &Scenario, bucket_s: f64) -> Result<PolicyRun> {
    crate::output::check_bucket_count(
        "--bucket-s",
        bucket_s,
        sc,
        crate::output::MAX_FIGURE_POINTS,
    )?;
    let mut series = Timeseries::new(sc, bucket_s, crate::output::MAX_FIGURE_POINTS);
    let mut latency = RouteLatencies::default();
    let summary = {
        let mut tee = crate::metrics::Tee(&mut series, &mut latency);
        crate::sim::run_with(sc, &mut tee)?
    };
    Ok(PolicyRun {
        policy,
        series: series.finish_data(
            SimTime::from_secs_f64(summary.end_s),
            sc.devices().map(|(_, name)| name).collect(),
            "--bucket-s",
        )?,
        summary,
        latency,
    })
}

/// A bar series: legend name and the summary figure it shows.
type BarSeries<'a> = (&'a str, fn(&Summary) -> f64);

fn bars(title: &str, y_label: &str, runs: &[PolicyRun], series: &[BarSeries<'_>]) -> Panel {
    Panel {
        title: title.into(),
        x_label: "selection policy".into(),
        y_label: y_label.into(),
        kind: PanelKind::Bars {
            categories: runs.iter().map(|r| r.policy.name().to_string()).collect(),
        },
        series: series
            .iter()
            .map(|(name, f)| {
                Series::new(
                    *name,
                    runs.iter()
                        .enumerate()
                        .map(|(i, r)| (i as f64, f(&r.summary)))
                        .collect(),
                )
            })
            .collect(),
    }
}

/// Quantile levels of the CDF curves: 0.5 % steps.
const CDF_STEPS: usize = 200;

fn cdf(h: &Histogram) -> Vec<(f64, f64)> {
    (1..=CDF_STEPS)
        .filter_map(|i| {
            let q = i as f64 / CDF_STEPS as f64;
            h.quantile(q).map(|us| (us / 1e6, q))
        })
        .collect()
}

fn mid(span: (f64, f64)) -> f64 {
    (span.0 + span.1) / 2.0
}

/// The most devices whose utilisation panel draws a line per device; a larger fleet's draws
/// its spread (a line per device of thousands was a tangle no one could read).
pub const DEVICE_LINES: usize = 12;

/// A utilisation panel's lines, in %: one per device up to [`DEVICE_LINES`] devices; above,
/// the devices' mean per bucket with a band from their 10th to their 90th percentile
/// (nearest rank), and the busiest device's.
fn utilisation_series(data: &SeriesData) -> Vec<Series> {
    let at = |d: &[crate::output::tables::DevicePoint]| -> Vec<(f64, f64)> {
        data.spans
            .iter()
            .zip(d)
            .map(|(s, p)| (mid(*s), p.utilisation * 100.0))
            .collect()
    };
    let n = data.devices.len();
    if n <= DEVICE_LINES {
        return data
            .names
            .iter()
            .zip(&data.devices)
            .map(|(name, points)| Series::new(name.clone(), at(points)))
            .collect();
    }
    let (mut mean, mut band, mut busiest) = (Vec::new(), Vec::new(), Vec::new());
    let mut u = Vec::with_capacity(n);
    for (b, span) in data.spans.iter().enumerate() {
        u.clear();
        u.extend(
            data.devices
                .iter()
                .filter_map(|d| d.get(b))
                .map(|p| p.utilisation * 100.0),
        );
        let m = u.len();
        if m == 0 {
            continue;
        }
        u.sort_by(f64::total_cmp);
        let rank = |q: f64| u[((q * m as f64).ceil() as usize).clamp(1, m) - 1];
        let x = mid(*span);
        mean.push((x, u.iter().sum::<f64>() / m as f64));
        band.push((rank(0.1), rank(0.9)));
        busiest.push((x, u[m - 1]));
    }
    vec![
        Series {
            name: format!("mean of {n} devices (band: 10th to 90th percentile)"),
            points: mean,
            band: Some(band),
            markers: false,
        },
        Series::new("busiest device", busiest),
    ]
}

/// The figures of a comparison: Figure 4 (a), (b), (c), latency CDFs, arrivals vs redirections.
pub fn figures(scenario: &str, runs: &[PolicyRun]) -> Vec<Figure> {
    let a = Figure {
        name: "fig4a_requests".into(),
        title: format!("{scenario}: requests processed at the edge vs redirected or rejected"),
        panels: vec![bars(
            "Requests by outcome",
            "requests",
            runs,
            &[
                ("served at the edge", |s| s.served_edge as f64),
                ("redirected to the cloud", |s| s.served_cloud as f64),
                ("rejected", |s| s.rejected as f64),
            ],
        )],
    };
    let b = Figure {
        name: "fig4b_cloud".into(),
        title: format!("{scenario}: tokens redirected to the cloud and their cost"),
        panels: vec![
            bars(
                "Tokens redirected to the cloud (prompt + output)",
                "tokens",
                runs,
                &[("tokens", |s| s.redirected_tokens as f64)],
            ),
            bars(
                "Cloud cost",
                "cost [USD]",
                runs,
                &[("cloud cost", |s| s.cloud_cost_usd)],
            ),
        ],
    };
    let c = Figure {
        name: "fig4c_utilisation".into(),
        title: format!("{scenario}: device utilisation over time"),
        panels: runs
            .iter()
            .map(|r| Panel {
                title: format!("selection: {}", r.policy.name()),
                x_label: "time [s]".into(),
                y_label: "utilisation [%]".into(),
                kind: PanelKind::Lines { log_x: false },
                series: utilisation_series(&r.series),
            })
            .collect(),
    };
    let latency_panel = |title: &str, pick: fn(&RouteLatencies) -> &[Histogram; 2]| Panel {
        title: title.into(),
        x_label: "latency [s] (log scale)".into(),
        y_label: "fraction of requests".into(),
        kind: PanelKind::Lines { log_x: true },
        series: runs
            .iter()
            .flat_map(|r| {
                ["edge", "cloud"]
                    .into_iter()
                    .enumerate()
                    .filter_map(move |(i, route)| {
                        let h = &pick(&r.latency)[i];
                        (h.count() > 0)
                            .then(|| Series::new(format!("{} / {route}", r.policy.name()), cdf(h)))
                    })
            })
            .collect(),
    };
    let d = Figure {
        name: "latency_cdf".into(),
        title: format!("{scenario}: latency distributions by policy and route"),
        panels: vec![
            latency_panel("Time to first token (CDF)", |l| &l.ttft),
            latency_panel("End-to-end latency (CDF)", |l| &l.e2e),
        ],
    };
    let e = Figure {
        name: "arrivals_redirections".into(),
        title: format!("{scenario}: arrivals vs redirections over time"),
        panels: runs
            .iter()
            .map(|r| {
                let rate = |f: fn(&crate::output::tables::GatewayBucket) -> u64| {
                    r.series
                        .spans
                        .iter()
                        .zip(&r.series.gateway)
                        .map(|(s, g)| {
                            let len = s.1 - s.0;
                            (mid(*s), if len > 0.0 { f(g) as f64 / len } else { 0.0 })
                        })
                        .collect()
                };
                Panel {
                    title: format!("selection: {}", r.policy.name()),
                    x_label: "time [s]".into(),
                    y_label: "requests per second".into(),
                    kind: PanelKind::Lines { log_x: false },
                    series: vec![
                        Series::new("arrivals", rate(|g| g.arrivals)),
                        Series::new("redirected to the cloud", rate(|g| g.cloud)),
                        Series::new("rejected", rate(|g| g.rejected)),
                    ],
                }
            })
            .collect(),
    };
    vec![a, b, c, d, e]
}

/// Writes every figure's data table (CSV) and, with the `plots` feature, its PNG and SVG; plus
/// `summaries.json` (one summary per policy) and `manifest.json`, all or nothing, to `target`.
/// Returns the files written.
pub fn write(target: &Path, scenario: &str, runs: &[PolicyRun]) -> Result<Vec<PathBuf>> {
    let rd = crate::output::rundir::RunDir::begin(target, "output folder", "compare")?;
    let dir = rd.path();
    let mut files = Vec::new();
    for fig in figures(scenario, runs) {
        files.extend(crate::output::write_figure(&fig, dir)?);
    }
    let summaries: Vec<&Summary> = runs.iter().map(|r| &r.summary).collect();
    let p = dir.join("summaries.json");
    let json = serde_json::to_string_pretty(&summaries)
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        + "\n";
    crate::report::write_atomic(&p, json.as_bytes())?;
    files.push(p);
    let seed = runs.first().map_or(0, |r| r.summary.seed);
    rd.commit(scenario, seed, &files)
}

/// The comparison as a text table, one row per policy.
pub fn to_table(runs: &[PolicyRun]) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<14}{:>10}{:>10}{:>10}{:>16}{:>14}{:>18}{:>12}",
        "selection",
        "edge",
        "cloud",
        "rejected",
        "tokens to cloud",
        "cloud [USD]",
        "edge TTFT p90 [s]",
        "PCR"
    );
    for r in runs {
        let s = &r.summary;
        let p90 = s
            .edge
            .ttft_ms
            .p90
            .map_or("-".into(), |v| format!("{:.2}", v / 1000.0));
        let pcr = s
            .platforms
            .last()
            .and_then(|p| p.pcr)
            .map_or("-".into(), |v| crate::report::fixed(v, 4));
        let _ = writeln!(
            o,
            "{:<14}{:>10}{:>10}{:>10}{:>16}{:>14}{:>18}{:>12}",
            r.policy.name(),
            s.served_edge,
            s.served_cloud,
            s.rejected,
            s.redirected_tokens,
            crate::report::fixed(s.cloud_cost_usd, 4),
            p90,
            pcr
        );
    }
    o
}
