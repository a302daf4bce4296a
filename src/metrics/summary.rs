//! The run summary: the numbers printed as a table and as `--json`.

use serde::Serialize;

use super::{Histogram, Recorder, RequestRecord, Route};
use crate::time::SimTime;

/// p50/p90/p99 and mean of a latency \[ms\]; `null` in JSON when nothing was measured.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
}

impl Percentiles {
    /// From a histogram of microseconds, in milliseconds rounded to the microsecond.
    pub fn from_micros(h: &Histogram) -> Percentiles {
        let ms = |v: Option<f64>| v.map(|us| us.round() / 1000.0);
        Percentiles {
            p50: ms(h.quantile(0.50)),
            p90: ms(h.quantile(0.90)),
            p99: ms(h.quantile(0.99)),
            mean: ms(h.mean()),
        }
    }
}

/// Latencies of one route.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct RouteLatency {
    /// Requests served on this route.
    pub served: u64,
    /// Time to first token \[ms\].
    pub ttft_ms: Percentiles,
    /// End-to-end latency \[ms\].
    pub e2e_ms: Percentiles,
}

/// Per-device results.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DeviceSummary {
    /// Device name.
    pub name: String,
    /// Profile's board name.
    pub board: String,
    /// Model served.
    pub model: String,
    /// Parallel slots.
    pub slots: u32,
    /// Requests served to completion.
    pub served: u64,
    /// Output tokens generated.
    pub output_tokens: u64,
    /// Attempts refused by the rate limiter.
    pub throttled: u64,
    /// Attempts refused because slots and queue were full.
    pub full: u64,
    /// Fraction of the run with at least one request in service.
    pub utilisation: f64,
    /// Mean fraction of slots in service.
    pub slot_utilisation: f64,
    /// Time-average number of requests in service or queued (L in Little's law).
    pub mean_in_system: f64,
    /// Mean time from admission to the device to completion \[ms\] (W in Little's law).
    pub mean_residence_ms: Option<f64>,
    /// Time with at least one request in service \[s\].
    pub busy_s: f64,
    /// Total energy, idle included \[J\].
    pub energy_j: f64,
    /// Energy drawn while idle \[J\].
    pub idle_energy_j: f64,
}

/// The run summary. Field order is the JSON key order.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Run seed.
    pub seed: u64,
    /// Selection policy.
    pub selection: String,
    /// Rate limiter.
    pub rate_limit: String,
    /// Arrival window \[s\].
    pub duration_s: f64,
    /// Time of the last completion (arrivals stop at `duration_s`, then the system drains) \[s\].
    pub end_s: f64,
    /// Requests that arrived.
    pub requests_total: u64,
    /// Served at the edge.
    pub served_edge: u64,
    /// Redirected to and served by the cloud.
    pub served_cloud: u64,
    /// Rejected.
    pub rejected: u64,
    /// Prompt + output tokens of the requests redirected to the cloud.
    pub redirected_tokens: u64,
    /// Prompt tokens redirected.
    pub redirected_prompt_tokens: u64,
    /// Output tokens redirected.
    pub redirected_output_tokens: u64,
    /// Prompt + output tokens served at the edge.
    pub edge_tokens: u64,
    /// Edge attempts refused by the rate limiter.
    pub throttled_attempts: u64,
    /// Edge attempts refused because the device was full.
    pub full_attempts: u64,
    /// Cloud API cost \[USD\].
    pub cloud_cost_usd: f64,
    /// Energy of all edge devices over the run, idle included \[J\].
    pub edge_energy_j: f64,
    /// Edge energy attributed to served requests (busy power shared among requests in
    /// service) \[J\].
    pub edge_request_energy_j: f64,
    /// Time to first token of served requests (edge and cloud) \[ms\].
    pub ttft_ms: Percentiles,
    /// End-to-end latency of served requests \[ms\].
    pub e2e_ms: Percentiles,
    /// Edge-served requests only.
    pub edge: RouteLatency,
    /// Cloud-served requests only.
    pub cloud: RouteLatency,
    /// Per device.
    pub devices: Vec<DeviceSummary>,
    /// Events the engine handled.
    pub events: u64,
}

/// Folds request records into summary counters and histograms (constant memory).
#[derive(Clone, Debug, Default)]
pub struct SummaryRecorder {
    /// Arrivals.
    pub arrivals: u64,
    /// Ended requests by route: edge, cloud, rejected.
    pub ended: [u64; 3],
    /// Redirected prompt and output tokens.
    pub redirected: [u64; 2],
    /// Prompt + output tokens served at the edge.
    pub edge_tokens: u64,
    /// Refused attempts: throttled, full.
    pub refused: [u64; 2],
    /// Per device: served, output tokens, throttled, full.
    pub per_device: Vec<[u64; 4]>,
    /// Cloud cost \[USD\].
    pub cloud_cost_usd: f64,
    /// Attributed edge energy \[J\].
    pub edge_request_energy_j: f64,
    /// TTFT \[µs\]: all, edge, cloud.
    pub ttft: [Histogram; 3],
    /// End to end \[µs\]: all, edge, cloud.
    pub e2e: [Histogram; 3],
}

impl SummaryRecorder {
    /// A recorder for `devices` devices.
    pub fn new(devices: usize) -> SummaryRecorder {
        SummaryRecorder {
            per_device: vec![[0; 4]; devices],
            ..Default::default()
        }
    }

    /// Latencies of one route (1 = edge, 2 = cloud) or all (0).
    pub fn route_latency(&self, i: usize, served: u64) -> RouteLatency {
        RouteLatency {
            served,
            ttft_ms: Percentiles::from_micros(&self.ttft[i]),
            e2e_ms: Percentiles::from_micros(&self.e2e[i]),
        }
    }
}

impl Recorder for SummaryRecorder {
    fn on_arrival(&mut self, _: SimTime, _: u64) {
        self.arrivals += 1;
    }
    fn on_end(&mut self, _: SimTime, r: &RequestRecord) {
        let tokens = u64::from(r.prompt_tokens) + u64::from(r.output_tokens);
        let route = match r.route {
            Route::Edge(d) => {
                self.edge_tokens += tokens;
                self.edge_request_energy_j += r.energy_j;
                let dev = &mut self.per_device[d as usize];
                dev[0] += 1;
                dev[1] += u64::from(r.output_tokens);
                1
            }
            Route::Cloud => {
                self.redirected[0] += u64::from(r.prompt_tokens);
                self.redirected[1] += u64::from(r.output_tokens);
                self.cloud_cost_usd += r.cost_usd;
                2
            }
            Route::Rejected => {
                self.ended[2] += 1;
                return;
            }
        };
        self.ended[route - 1] += 1;
        for i in [0, route] {
            self.ttft[i].record(r.ttft.0);
            self.e2e[i].record(r.e2e.0);
        }
    }
    fn on_refused(&mut self, _: SimTime, device: u32, throttled: bool) {
        let k = if throttled { 0 } else { 1 };
        self.refused[k] += 1;
        self.per_device[device as usize][2 + k] += 1;
    }
}

impl Summary {
    /// Assembles the summary of a finished run.
    pub fn build(
        sc: &crate::scenario::Scenario,
        rec: &SummaryRecorder,
        out: crate::sim::RunOutput,
    ) -> Summary {
        let mut devices = out.devices;
        for (d, c) in devices.iter_mut().zip(&rec.per_device) {
            d.output_tokens = c[1];
            d.throttled = c[2];
            d.full = c[3];
        }
        let duration_s = if sc.horizon == SimTime::MAX {
            out.end.as_secs_f64()
        } else {
            sc.horizon.as_secs_f64()
        };
        Summary {
            scenario: sc.name.clone(),
            seed: sc.seed,
            selection: out.selection.to_string(),
            rate_limit: rate_limit_name(sc),
            duration_s,
            end_s: out.end.as_secs_f64(),
            requests_total: rec.arrivals,
            served_edge: rec.ended[0],
            served_cloud: rec.ended[1],
            rejected: rec.ended[2],
            redirected_tokens: rec.redirected[0] + rec.redirected[1],
            redirected_prompt_tokens: rec.redirected[0],
            redirected_output_tokens: rec.redirected[1],
            edge_tokens: rec.edge_tokens,
            throttled_attempts: rec.refused[0],
            full_attempts: rec.refused[1],
            cloud_cost_usd: rec.cloud_cost_usd,
            edge_energy_j: devices.iter().map(|d| d.energy_j).sum(),
            edge_request_energy_j: rec.edge_request_energy_j,
            ttft_ms: Percentiles::from_micros(&rec.ttft[0]),
            e2e_ms: Percentiles::from_micros(&rec.e2e[0]),
            edge: rec.route_latency(1, rec.ended[0]),
            cloud: rec.route_latency(2, rec.ended[1]),
            devices,
            events: out.stats.events,
        }
    }
}

fn rate_limit_name(sc: &crate::scenario::Scenario) -> String {
    use crate::scenario::file::{LimitScope, LimitUnit, RateLimitKind};
    let r = &sc.rate_limit;
    let unit = match r.unit {
        LimitUnit::Requests => "requests",
        LimitUnit::Tokens => "tokens",
    };
    let scope = match r.scope {
        LimitScope::Device => "per device",
        LimitScope::Cluster => "per cluster",
    };
    match r.kind {
        RateLimitKind::None => "none".into(),
        RateLimitKind::SlidingWindow => {
            format!(
                "sliding_window: {} {unit} / {} s {scope}",
                r.limit,
                r.window.as_secs_f64()
            )
        }
        RateLimitKind::TokenBucket => {
            format!(
                "token_bucket: {} {unit}, +{}/s {scope}",
                r.limit, r.refill_per_s
            )
        }
        RateLimitKind::Concurrency => format!("concurrency: {} {unit} {scope}", r.limit),
    }
}
