//! The scalar metrics a sweep records for every run, by name (the run table's columns).

use crate::metrics::{ClassSummary, Summary};

/// A metric: its column name and how to read it off a summary (`None` when undefined).
pub struct Metric {
    /// Column name (with unit).
    pub name: &'static str,
    /// Reads the value.
    pub get: fn(&Summary) -> Option<f64>,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// One part of `rejected_by` (0 when nothing was rejected: the summary then leaves it out).
fn rejected_by(s: &Summary, part: fn(&crate::metrics::Rejections) -> u64) -> Option<f64> {
    Some(s.rejected_by.as_ref().map_or(0, part) as f64)
}

fn overall(s: &Summary) -> Option<&crate::metrics::PlatformSummary> {
    s.platforms.iter().find(|p| p.name == "overall")
}

/// Edge CPR: attributed edge energy at the scenario's electricity price per edge response.
/// Stored in the summary's platforms; recomputed here from the edge rows.
fn edge_cpr(s: &Summary) -> Option<f64> {
    let (mut cents, mut n) = (0.0, 0u64);
    for p in s
        .platforms
        .iter()
        .filter(|p| p.devices > 0 && p.name != "overall")
    {
        cents += p.cpr_cents? * p.served as f64;
        n += p.served;
    }
    (n > 0).then(|| cents / n as f64)
}

fn cloud_cpr(s: &Summary) -> Option<f64> {
    s.platforms
        .iter()
        .find(|p| p.name.starts_with("cloud / "))
        .and_then(|p| p.cpr_cents)
}

/// Reads one quantity's worst window.
type WorstOf = fn(&crate::metrics::windows::WorstWindows) -> Option<crate::metrics::windows::Worst>;

/// The worst metric window's value of a quantity (`None` without windows): of the run's
/// windows (`w`, the summary's `windows`) or a class's.
fn worst_of(w: Option<&crate::metrics::windows::WindowsSummary>, get: WorstOf) -> Option<f64> {
    w.and_then(|w| get(&w.worst)).map(|w| w.value)
}

/// The run's worst window's value of a quantity.
fn worst(s: &Summary, get: WorstOf) -> Option<f64> {
    worst_of(s.windows.as_ref(), get)
}

/// A class's worst window's value of a quantity.
fn class_worst(c: &ClassSummary, get: WorstOf) -> Option<f64> {
    worst_of(c.windows.as_ref(), get)
}

macro_rules! m {
    ($name:literal, $f:expr) => {
        Metric {
            name: $name,
            get: $f,
        }
    };
}

/// Every metric, in column order.
pub const METRICS: &[Metric] = &[
    m!("requests_total", |s| Some(s.requests_total as f64)),
    m!("served_edge", |s| Some(s.served_edge as f64)),
    m!("served_cloud", |s| Some(s.served_cloud as f64)),
    m!("rejected", |s| Some(s.rejected as f64)),
    m!("edge_share", |s| ratio(s.served_edge, s.requests_total)),
    m!("redirect_rate", |s| ratio(s.served_cloud, s.requests_total)),
    m!("reject_rate", |s| ratio(s.rejected, s.requests_total)),
    m!("rejected_no_cloud", |s| rejected_by(s, |r| r.no_cloud)),
    m!("rejected_too_long_for_cloud", |s| rejected_by(s, |r| r
        .too_long_for_cloud)),
    m!("rejected_bad_request", |s| rejected_by(s, |r| r
        .bad_request)),
    m!("rejected_cloud_refused", |s| rejected_by(s, |r| r
        .cloud_refused)),
    m!("rejected_device_failure", |s| rejected_by(s, |r| r
        .device_failure)),
    m!("rejected_queue_timeout", |s| rejected_by(s, |r| r
        .queue_timeout
        .unwrap_or(0))),
    m!("rejected_edge_only", |s| rejected_by(s, |r| r
        .edge_only
        .unwrap_or(0))),
    m!("redirected_tokens", |s| Some(s.redirected_tokens as f64)),
    m!("edge_tokens", |s| Some(s.edge_tokens as f64)),
    m!("throttled_attempts", |s| Some(s.throttled_attempts as f64)),
    m!("full_attempts", |s| Some(s.full_attempts as f64)),
    m!("too_long_attempts", |s| Some(s.too_long_attempts as f64)),
    m!("predicted_wait_attempts", |s| s
        .predicted_wait_attempts
        .map(|n| n as f64)),
    m!("oversized", |s| Some(s.oversized as f64)),
    m!("cloud_cost_usd", |s| Some(s.cloud_cost_usd)),
    m!("edge_energy_j", |s| Some(s.edge_energy_j)),
    m!("edge_request_energy_j", |s| Some(s.edge_request_energy_j)),
    m!("ttft_p50_ms", |s| s.ttft_ms.p50),
    m!("ttft_p90_ms", |s| s.ttft_ms.p90),
    m!("ttft_p95_ms", |s| s.ttft_ms.p95),
    m!("ttft_p99_ms", |s| s.ttft_ms.p99),
    m!("ttft_mean_ms", |s| s.ttft_ms.mean),
    m!("e2e_p50_ms", |s| s.e2e_ms.p50),
    m!("e2e_p90_ms", |s| s.e2e_ms.p90),
    m!("e2e_p95_ms", |s| s.e2e_ms.p95),
    m!("e2e_p99_ms", |s| s.e2e_ms.p99),
    m!("e2e_mean_ms", |s| s.e2e_ms.mean),
    m!("edge_ttft_p90_ms", |s| s.edge.ttft_ms.p90),
    m!("edge_e2e_p90_ms", |s| s.edge.e2e_ms.p90),
    m!("edge_cpr_cents", edge_cpr),
    m!("cloud_cpr_cents", cloud_cpr),
    m!("cpr_cents", |s| overall(s).and_then(|p| p.cpr_cents)),
    m!("quality", |s| overall(s).and_then(|p| p.quality)),
    m!("responsiveness", |s| overall(s)
        .and_then(|p| p.responsiveness)),
    m!("utility", |s| overall(s).and_then(|p| p.utility)),
    m!("pcr", |s| overall(s).and_then(|p| p.pcr)),
    m!("mean_utilisation", |s| {
        (!s.devices.is_empty())
            .then(|| s.devices.iter().map(|d| d.utilisation).sum::<f64>() / s.devices.len() as f64)
    }),
    m!("end_s", |s| Some(s.end_s)),
    m!("arrival_window_s", |s| Some(s.duration_s)),
    m!("cloud_rate_limited", |s| s
        .cloud_faults
        .as_ref()
        .map(|f| f.rate_limited as f64)),
    m!("cloud_availability", |s| s
        .cloud_faults
        .as_ref()
        .map(|f| f.availability)),
    m!("device_availability", |s| s
        .device_faults
        .as_ref()
        .map(|f| f.availability)),
    m!("device_interrupted", |s| s
        .device_faults
        .as_ref()
        .map(|f| f.interrupted as f64)),
    m!("queue_timeouts", |s| s.queue_timeouts.map(|n| n as f64)),
    m!("worst_window_ttft_p95_ms", |s| worst(s, |w| w.ttft_p95_ms)),
    m!("worst_window_ttft_p99_ms", |s| worst(s, |w| w.ttft_p99_ms)),
    m!("worst_window_e2e_p95_ms", |s| worst(s, |w| w.e2e_p95_ms)),
    m!("worst_window_e2e_p99_ms", |s| worst(s, |w| w.e2e_p99_ms)),
    m!("worst_window_reject_rate", |s| worst(s, |w| w.reject_rate)),
    m!("worst_window_redirect_rate", |s| worst(s, |w| w
        .redirect_rate)),
];

/// The index of metric `name`.
pub fn index(name: &str) -> Option<usize> {
    METRICS.iter().position(|m| m.name == name)
}

/// Every metric name, comma-separated (for error messages).
pub fn names() -> String {
    METRICS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// All metrics of a summary, in column order.
pub fn extract(s: &Summary) -> Vec<Option<f64>> {
    METRICS.iter().map(|m| (m.get)(s)).collect()
}

/// A metric of one request class: its name and how to read it off the class's summary.
pub struct ClassMetric {
    /// Name (with unit), as the run-wide metric of the same meaning.
    pub name: &'static str,
    /// Reads the value.
    pub get: fn(&ClassSummary) -> Option<f64>,
}

macro_rules! c {
    ($name:literal, $f:expr) => {
        ClassMetric {
            name: $name,
            get: $f,
        }
    };
}

/// Every metric of a request class, in order (a plan's journal keeps them per class).
pub const CLASS_METRICS: &[ClassMetric] = &[
    c!("requests_total", |c| Some(c.requests as f64)),
    c!("served_edge", |c| Some(c.served_edge as f64)),
    c!("served_cloud", |c| Some(c.served_cloud as f64)),
    c!("rejected", |c| Some(c.rejected as f64)),
    c!("edge_share", |c| ratio(c.served_edge, c.requests)),
    c!("redirect_rate", |c| ratio(c.served_cloud, c.requests)),
    c!("reject_rate", |c| ratio(c.rejected, c.requests)),
    c!("ttft_p50_ms", |c| c.ttft_ms.p50),
    c!("ttft_p95_ms", |c| c.ttft_ms.p95),
    c!("ttft_p99_ms", |c| c.ttft_ms.p99),
    c!("e2e_p50_ms", |c| c.e2e_ms.p50),
    c!("e2e_p95_ms", |c| c.e2e_ms.p95),
    c!("e2e_p99_ms", |c| c.e2e_ms.p99),
    c!("queue_timeouts", |c| c.queue_timeouts.map(|n| n as f64)),
    c!("cloud_cost_usd", |c| Some(c.cloud_cost_usd)),
    c!("edge_request_energy_j", |c| Some(c.edge_request_energy_j)),
    c!("worst_window_ttft_p95_ms", |c| class_worst(c, |w| w
        .ttft_p95_ms)),
    c!("worst_window_ttft_p99_ms", |c| class_worst(c, |w| w
        .ttft_p99_ms)),
    c!("worst_window_e2e_p95_ms", |c| class_worst(c, |w| w
        .e2e_p95_ms)),
    c!("worst_window_e2e_p99_ms", |c| class_worst(c, |w| w
        .e2e_p99_ms)),
    c!("worst_window_reject_rate", |c| class_worst(c, |w| w
        .reject_rate)),
    c!("worst_window_redirect_rate", |c| class_worst(c, |w| w
        .redirect_rate)),
];

/// The index of class metric `name`.
pub fn class_index(name: &str) -> Option<usize> {
    CLASS_METRICS.iter().position(|m| m.name == name)
}

/// Every class's metrics, in the workload's class order (empty with fewer than two classes:
/// the summary then has no classes, and the run's metrics are the class's).
pub fn extract_classes(s: &Summary) -> Vec<Vec<Option<f64>>> {
    s.classes
        .iter()
        .flatten()
        .map(|c| CLASS_METRICS.iter().map(|m| (m.get)(c)).collect())
        .collect()
}
