//! `[metrics]`: the settings of the paper's metric toolkit (utility weight, electricity price,
//! responsiveness reference, default task). The defaults live here and nowhere else.

use serde::{Deserialize, Serialize};

use crate::catalogue::ModelCatalogue;
use crate::check::Checker;
use crate::error::Result;

/// Default weight of quality in U = a·Q + (1 − a)·R.
pub const DEFAULT_ALPHA: f64 = 0.5;
/// Default electricity price: the paper's 25 cents per kWh.
pub const DEFAULT_CENTS_PER_KWH: f64 = 25.0;
/// Default TTFT at which responsiveness R = 1/2 \[ms\].
pub const DEFAULT_TTFT_REF_MS: f64 = 1000.0;
/// Default task whose quality is Q: the paper's GSM8K.
pub const DEFAULT_TASK: &str = "gsm8k";

fn default_task() -> String {
    DEFAULT_TASK.into()
}
fn default_alpha() -> f64 {
    DEFAULT_ALPHA
}
fn default_cents_per_kwh() -> f64 {
    DEFAULT_CENTS_PER_KWH
}
fn default_ttft_ref_ms() -> f64 {
    DEFAULT_TTFT_REF_MS
}

/// `[metrics]` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// Weight of quality in utility U = a*Q + (1-a)*R.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Electricity price \[US cents per kWh\].
    #[serde(default = "default_cents_per_kwh")]
    pub electricity_cents_per_kwh: f64,
    /// TTFT at which responsiveness R falls to 1/2 \[ms\].
    #[serde(default = "default_ttft_ref_ms")]
    pub ttft_ref_ms: f64,
    /// Task whose catalogue quality is Q for classes that name none.
    #[serde(default = "default_task")]
    pub task: String,
    /// Width of the windows of time the summary and the `windows` table report each
    /// request in, by its arrival \[s\] (none: the run's totals only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_s: Option<f64>,
    /// The fewest requests a window needs to be judged for the worst window (none: 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_min_requests: Option<u64>,
}

impl Default for MetricsFile {
    fn default() -> Self {
        MetricsSpec::default().to_file()
    }
}

/// Validated metric settings.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsSpec {
    /// Weight of quality in U.
    pub alpha: f64,
    /// Electricity price \[cents/kWh\].
    pub electricity_cents_per_kwh: f64,
    /// TTFT at which R = 1/2 \[ms\].
    pub ttft_ref_ms: f64,
    /// Default task for quality Q.
    pub task: String,
    /// Width of the metric windows \[s\] (none: no windows).
    pub window_s: Option<f64>,
    /// The fewest requests a window needs to be judged for the worst window (>= 1).
    pub window_min_requests: u64,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        MetricsSpec {
            alpha: DEFAULT_ALPHA,
            electricity_cents_per_kwh: DEFAULT_CENTS_PER_KWH,
            ttft_ref_ms: DEFAULT_TTFT_REF_MS,
            task: DEFAULT_TASK.into(),
            window_s: None,
            window_min_requests: 1,
        }
    }
}

impl MetricsSpec {
    /// Validates `[metrics]`; the task must be one some catalogue model has a quality for.
    pub fn from_file(cx: &Checker, m: &MetricsFile, catalogue: &ModelCatalogue) -> Result<Self> {
        if !(0.0..=1.0).contains(&m.alpha) {
            return Err(cx.bad("metrics.alpha", m.alpha, "must lie in [0, 1]"));
        }
        if m.task.trim().is_empty() {
            return Err(cx.bad("metrics.task", "\"\"", "must name a task (e.g. \"gsm8k\")"));
        }
        check_task(cx, catalogue, "metrics.task", &m.task)?;
        Ok(MetricsSpec {
            task: m.task.clone(),
            alpha: m.alpha,
            electricity_cents_per_kwh: cx.price(
                "metrics.electricity_cents_per_kwh",
                m.electricity_cents_per_kwh,
                crate::check::MAX_CENTS_PER_KWH,
                "US cents per kWh",
            )?,
            ttft_ref_ms: cx.positive("metrics.ttft_ref_ms", m.ttft_ref_ms)?,
            window_s: m
                .window_s
                .map(|w| cx.span_s("metrics.window_s", w))
                .transpose()?,
            window_min_requests: match (m.window_min_requests, m.window_s) {
                (None, _) => 1,
                (Some(n), Some(_)) if n >= 1 => n,
                (Some(n), Some(_)) => {
                    return Err(cx.bad(
                        "metrics.window_min_requests",
                        n,
                        "must be a whole number of requests >= 1",
                    ));
                }
                (Some(n), None) => {
                    return Err(cx.bad(
                        "metrics.window_min_requests",
                        n,
                        "needs metrics.window_s: it says which windows are judged",
                    ));
                }
            },
        })
    }

    /// The section as written in a resolved scenario.
    pub fn to_file(&self) -> MetricsFile {
        MetricsFile {
            alpha: self.alpha,
            electricity_cents_per_kwh: self.electricity_cents_per_kwh,
            ttft_ref_ms: self.ttft_ref_ms,
            task: self.task.clone(),
            window_s: self.window_s,
            window_min_requests: (self.window_min_requests > 1).then_some(self.window_min_requests),
        }
    }
}

/// Checks that some catalogue model has a quality figure for `task` (given at `key`).
pub fn check_task(cx: &Checker, catalogue: &ModelCatalogue, key: &str, task: &str) -> Result<()> {
    catalogue
        .check_task(task)
        .map_err(|problem| cx.bad(key, format!("\"{task}\""), problem))
}
