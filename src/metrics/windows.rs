//! Metrics per window of time (`[metrics] window_s`): each request counted in the window of
//! its arrival, `[k·w, (k+1)·w)` from the start of the run. A service goal is often a promise
//! for every hour ("TTFT p95 under a second in each hour"), which the run's percentiles hide
//! when the load changes over the day: the summary gives the worst window of each quantity,
//! and `run` writes every window's row (the `windows` table). With two request classes or
//! more each class has its windows too (its requests only: the summary's `classes[].windows`
//! and the `class_windows` table), so that a promise made to one class can be held every hour.

use serde::Serialize;

use super::histogram::SparseHistogram;
use super::summary::{Percentiles, RouteCounts};
use super::{RequestRecord, Route};
use crate::check::Checker;
use crate::error::Result;
use crate::time::SimDuration;

/// The most windows one run may have: each keeps two latency histograms (2 KiB to 116 KiB).
pub const MAX_WINDOWS: f64 = 1000.0;

/// The most windows of all request classes together (windows × classes, with two classes or
/// more): each class has windows of its own, as the run has.
pub const MAX_CLASS_WINDOWS: f64 = 10_000.0;

/// The windows of `window_s` seconds over an arrival span of `span_s` seconds (one at least).
fn count(span_s: f64, window_s: f64) -> f64 {
    if window_s > 0.0 {
        (span_s / window_s).ceil().max(1.0)
    } else {
        1.0
    }
}

/// Checks that `sc`'s windows, if it has some, are at most [`MAX_WINDOWS`] over its arrivals,
/// and with request classes at most [`MAX_CLASS_WINDOWS`] over all classes; the error names
/// `metrics.window_s`, the span, and the narrowest width allowed.
pub fn check_count(cx: &Checker, sc: &crate::scenario::Scenario) -> Result<()> {
    let Some(window_s) = sc.metrics.window_s else {
        return Ok(());
    };
    let span_s = sc.arrival_span_s();
    let n = count(span_s, window_s);
    let classes = sc.classes().len() as f64;
    if n <= MAX_WINDOWS && (classes < 2.0 || n * classes <= MAX_CLASS_WINDOWS) {
        return Ok(());
    }
    if n <= MAX_WINDOWS {
        return Err(cx.bad(
            "metrics.window_s",
            crate::check::num(window_s),
            format!(
                "arrivals span {} s, so {n:.0} windows for each of the {classes:.0} request \
                 classes, {:.0} in all, more than the {MAX_CLASS_WINDOWS} allowed (each class \
                 has windows of its own); give {} s or more",
                crate::check::num(span_s),
                n * classes,
                // At most ⌊MAX_CLASS_WINDOWS / classes⌋ windows each.
                crate::check::num(crate::check::ceil_two_digits(
                    span_s / (MAX_CLASS_WINDOWS / classes).floor()
                ))
            ),
        ));
    }
    Err(cx.bad(
        "metrics.window_s",
        crate::check::num(window_s),
        format!(
            "arrivals span {} s, so {n:.0} windows, more than the {MAX_WINDOWS} allowed (each \
             keeps its own latency histograms); give {} s or more",
            crate::check::num(span_s),
            crate::check::num(crate::check::ceil_two_digits(span_s / MAX_WINDOWS))
        ),
    ))
}

/// One window's requests, as they ended, and their latencies \[µs\].
#[derive(Clone, Debug, Default)]
pub struct WindowAcc {
    /// Requests by how they ended.
    pub ended: RouteCounts,
    /// Cloud fees of its requests \[USD\].
    pub cloud_cost_usd: f64,
    /// Time to first token of the served ones.
    pub ttft: SparseHistogram,
    /// End to end of the served ones.
    pub e2e: SparseHistogram,
}

impl WindowAcc {
    /// Its requests.
    pub fn requests(&self) -> u64 {
        self.ended.edge + self.ended.cloud + self.ended.rejected
    }
}

/// The windows of a run, as its requests end.
#[derive(Clone, Debug)]
pub struct Windows {
    /// Width \[µs\].
    width_us: u64,
    /// Per window, in time order (as far as the last arrival counted).
    pub windows: Vec<WindowAcc>,
    /// With two request classes or more, each class's windows (its requests only), in the
    /// workload's class order; empty with one class (the run's windows are its).
    pub classes: Vec<Vec<WindowAcc>>,
}

/// Counts request `r` in window `k` of `windows`.
#[inline(always)]
fn add(windows: &mut Vec<WindowAcc>, k: usize, r: &RequestRecord) {
    if k >= windows.len() {
        windows.resize(k + 1, WindowAcc::default());
    }
    let w = &mut windows[k];
    match r.route {
        Route::Edge(_) => w.ended.edge += 1,
        Route::Cloud => {
            w.ended.cloud += 1;
            w.cloud_cost_usd += r.cost_usd;
        }
        Route::Rejected => {
            w.ended.rejected += 1;
            return;
        }
    }
    w.ttft.record(r.ttft.0);
    w.e2e.record(r.e2e.0);
}

impl Windows {
    /// The windows of `sc`, when it has some (`[metrics] window_s`).
    pub fn for_scenario(sc: &crate::scenario::Scenario) -> Option<Windows> {
        let window_s = sc.metrics.window_s?;
        let n = count(sc.arrival_span_s(), window_s) as usize;
        let classes = match sc.classes().len() {
            0 | 1 => 0,
            k => k,
        };
        Some(Windows {
            width_us: SimDuration::from_secs_f64(window_s).0.max(1),
            windows: Vec::with_capacity(n),
            classes: vec![Vec::with_capacity(n); classes],
        })
    }

    /// Counts a request that ended, in the window of its arrival (and in its class's). Not
    /// inlined: a run without windows keeps a test per request, not this code, in the event
    /// loop.
    #[inline(never)]
    pub fn record(&mut self, r: &RequestRecord) {
        let k = usize::try_from(r.arrival.0 / self.width_us).unwrap_or(usize::MAX);
        add(&mut self.windows, k, r);
        if let Some(c) = self.classes.get_mut(usize::from(r.class)) {
            add(c, k, r);
        }
    }

    /// The windows' rows and the worst of each quantity, for `sc`: the windows of its
    /// arrival span at least (the last ones may have had no arrival).
    pub fn summary(&self, sc: &crate::scenario::Scenario) -> WindowsSummary {
        self.summarize(&self.windows, sc)
    }

    /// Class `k`'s windows, as [`Windows::summary`] gives the run's (`None` with one class:
    /// the run's are its).
    pub fn class_summary(
        &self,
        k: usize,
        sc: &crate::scenario::Scenario,
    ) -> Option<WindowsSummary> {
        self.classes.get(k).map(|w| self.summarize(w, sc))
    }

    /// The rows and the worst of `windows` (the run's or a class's).
    fn summarize(&self, windows: &[WindowAcc], sc: &crate::scenario::Scenario) -> WindowsSummary {
        let window_s = sc.metrics.window_s.unwrap_or(0.0);
        // Every class's windows reach as far as the run's: a class without a request in the
        // last ones has empty rows there.
        let n = (count(sc.arrival_span_s(), window_s) as usize).max(self.windows.len());
        let at_s = |k: usize| (k as u64).saturating_mul(self.width_us) as f64 / 1e6;
        let rows: Vec<WindowRow> = (0..n)
            .map(|k| {
                let empty = WindowAcc::default();
                let w = windows.get(k).unwrap_or(&empty);
                let requests = w.requests();
                let share = |n: u64| (requests > 0).then(|| n as f64 / requests as f64);
                WindowRow {
                    start_s: at_s(k),
                    end_s: at_s(k + 1),
                    requests,
                    served_edge: w.ended.edge,
                    served_cloud: w.ended.cloud,
                    rejected: w.ended.rejected,
                    reject_rate: share(w.ended.rejected),
                    redirect_rate: share(w.ended.cloud),
                    ttft_ms: Percentiles::from_micros(&w.ttft),
                    e2e_ms: Percentiles::from_micros(&w.e2e),
                    cloud_cost_usd: w.cloud_cost_usd,
                }
            })
            .collect();
        let min_requests = sc.metrics.window_min_requests;
        let judged = || rows.iter().filter(|r| r.requests >= min_requests);
        let worst = |get: fn(&WindowRow) -> Option<f64>| {
            let mut best: Option<Worst> = None;
            for r in judged() {
                if let Some(v) = get(r)
                    && best.is_none_or(|b| v > b.value)
                {
                    best = Some(Worst {
                        value: v,
                        start_s: r.start_s,
                    });
                }
            }
            best
        };
        let busiest = rows
            .iter()
            .fold(None::<&WindowRow>, |b, r| match b {
                Some(b) if b.requests >= r.requests => Some(b),
                _ => Some(r),
            })
            .map(|r| Busiest {
                start_s: r.start_s,
                requests: r.requests,
            });
        WindowsSummary {
            window_s,
            count: rows.len(),
            min_requests,
            judged: judged().count(),
            busiest,
            worst: WorstWindows {
                ttft_p95_ms: worst(|r| r.ttft_ms.p95),
                ttft_p99_ms: worst(|r| r.ttft_ms.p99),
                e2e_p95_ms: worst(|r| r.e2e_ms.p95),
                e2e_p99_ms: worst(|r| r.e2e_ms.p99),
                reject_rate: worst(|r| r.reject_rate),
                redirect_rate: worst(|r| r.redirect_rate),
            },
            rows,
        }
    }
}

/// One window's results (a row of the `windows` table).
#[derive(Clone, Debug, PartialEq)]
pub struct WindowRow {
    /// Start \[s\] from the start of the run.
    pub start_s: f64,
    /// End \[s\].
    pub end_s: f64,
    /// Requests that arrived in it (each ended once: the next three add up to it).
    pub requests: u64,
    /// Served at the edge.
    pub served_edge: u64,
    /// Served by the cloud.
    pub served_cloud: u64,
    /// Rejected.
    pub rejected: u64,
    /// Share rejected (`None`: no request).
    pub reject_rate: Option<f64>,
    /// Share served by the cloud.
    pub redirect_rate: Option<f64>,
    /// Time to first token of its served requests \[ms\].
    pub ttft_ms: Percentiles,
    /// End to end \[ms\].
    pub e2e_ms: Percentiles,
    /// Cloud fees of its requests \[USD\].
    pub cloud_cost_usd: f64,
}

/// The worst value of a quantity over the windows, and the window's start.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Worst {
    /// The value.
    pub value: f64,
    /// The start of the (first) window with it \[s\].
    pub start_s: f64,
}

/// The window with the most requests.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Busiest {
    /// Its start \[s\].
    pub start_s: f64,
    /// Its requests.
    pub requests: u64,
}

/// The worst window of each quantity among the windows judged (`null`: no judged window had it
/// defined: no request served, or none arrived).
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct WorstWindows {
    /// Highest TTFT p95 of a window's served requests \[ms\].
    pub ttft_p95_ms: Option<Worst>,
    /// Highest TTFT p99 \[ms\].
    pub ttft_p99_ms: Option<Worst>,
    /// Highest end-to-end p95 \[ms\].
    pub e2e_p95_ms: Option<Worst>,
    /// Highest end-to-end p99 \[ms\].
    pub e2e_p99_ms: Option<Worst>,
    /// Highest share of a window's requests rejected.
    pub reject_rate: Option<Worst>,
    /// Highest share served by the cloud.
    pub redirect_rate: Option<Worst>,
}

/// The summary's `windows`: present when `[metrics] window_s` is set.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WindowsSummary {
    /// Width \[s\].
    pub window_s: f64,
    /// Windows: those of the arrival span, and any a late arrival reached.
    pub count: usize,
    /// The fewest requests a window needs to be judged for `worst`
    /// (`[metrics] window_min_requests`, 1 by default).
    pub min_requests: u64,
    /// The windows judged: those with `min_requests` requests or more.
    pub judged: usize,
    /// The window with the most requests (the first of them).
    pub busiest: Option<Busiest>,
    /// The worst window of each quantity.
    pub worst: WorstWindows,
    /// Every window (the `windows` table; not in the JSON summary).
    #[serde(skip)]
    pub rows: Vec<WindowRow>,
}
