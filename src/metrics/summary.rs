//! The run summary: the numbers printed as a table and as `--json`.

use std::sync::Arc;

use serde::Serialize;

use super::{Histogram, Recorder, Refusal, RequestRecord, Route};
use crate::device::DeviceId;
use crate::time::SimTime;

/// p50/p90/p95/p99 and mean of a latency \[ms\]; `null` in JSON when nothing was measured.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
}

impl Percentiles {
    /// From a histogram of microseconds, in milliseconds rounded to the microsecond.
    pub fn from_micros<const SPARSE: bool>(h: &super::histogram::Hist<SPARSE>) -> Percentiles {
        let ms = |v: Option<f64>| v.map(|us| us.round() / 1000.0);
        // One pass over the counters for the four (a run of many metric windows takes
        // thousands of them at its end).
        let [p50, p90, p95, p99] = h.quantiles([0.50, 0.90, 0.95, 0.99]).map(ms);
        Percentiles {
            p50,
            p90,
            p95,
            p99,
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

/// One request class's results (only when the scenario has two classes or more).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ClassSummary {
    /// Class name.
    pub name: String,
    /// Its requests (each ended exactly once: the next three add up to it).
    pub requests: u64,
    /// Served at the edge.
    pub served_edge: u64,
    /// Served by the cloud.
    pub served_cloud: u64,
    /// Rejected.
    pub rejected: u64,
    /// Time to first token of its served requests \[ms\].
    pub ttft_ms: Percentiles,
    /// End-to-end latency of its served requests \[ms\].
    pub e2e_ms: Percentiles,
    /// Cloud fees of its requests served by the cloud \[USD\] (over the classes, the run's
    /// `cloud_cost_usd`).
    pub cloud_cost_usd: f64,
    /// Edge energy attributed to its requests served at the edge \[J\] (over the classes, the
    /// run's `edge_request_energy_j`).
    pub edge_request_energy_j: f64,
    /// The times its requests left an edge queue at their queue timeout (only when a class
    /// has a timeout; a request routed again after a cloud refusal may time out again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_timeouts: Option<u64>,
    /// Its requests per window of time (by arrival), as the run's `windows`: present only
    /// when the scenario sets `[metrics] window_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<super::windows::WindowsSummary>,
}

/// Per-device results.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DeviceSummary {
    /// Device name.
    pub name: String,
    /// Profile's board name (shared by the devices of a group: a fleet of 10,000 would
    /// otherwise allocate and free it 10,000 times per run).
    pub board: Arc<str>,
    /// Model served (shared, as `board`).
    pub model: Arc<str>,
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
    /// Attempts refused because the request did not fit the device's context.
    pub too_long: u64,
    /// Attempts refused because its predicted queue wait exceeded
    /// `routing.max_predicted_wait_ms` or its class's (only when the scenario sets one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_wait: Option<u64>,
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
    /// Failures (only when its group has outages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<u64>,
    /// Time down \[s\] (only when its group has outages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_s: Option<f64>,
    /// Requests that left its queue at their queue timeout (only when the scenario sets one:
    /// `routing.queue_timeout_ms`, or a class's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_timeouts: Option<u64>,
}

/// The paper's metric toolkit for one platform of a run: a (board, model) pair of the edge,
/// the cloud model, or `overall` (every served response). Definitions in `docs/metrics.md`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PlatformSummary {
    /// `board / model`, `cloud / model` or `overall`.
    pub name: String,
    /// Devices of this platform (0 for the cloud; all devices for `overall`).
    pub devices: u32,
    /// Responses served.
    pub served: u64,
    /// Energy attributed per response \[J\] (busy power shared among the requests in service).
    /// `null` for the cloud, whose energy is not metered; for `overall`, per edge-served
    /// response.
    pub energy_per_query_j: Option<f64>,
    /// Edge energy per response with the devices' idle energy spread over their responses \[J\].
    pub energy_per_query_with_idle_j: Option<f64>,
    /// Cost per response \[US cents\]: attributed energy at the electricity price (edge), API
    /// fees (cloud), both (overall).
    pub cpr_cents: Option<f64>,
    /// Mean quality Q of the served responses (each request's class task on this model).
    pub quality: Option<f64>,
    /// Mean responsiveness R = 1 / (1 + TTFT / ttft_ref) of the served responses.
    pub responsiveness: Option<f64>,
    /// Utility U = a*Q + (1-a)*R.
    pub utility: Option<f64>,
    /// PCR = U / CPR \[per US cent\].
    pub pcr: Option<f64>,
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
    /// Why the rejected requests were rejected: present only when some were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_by: Option<Rejections>,
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
    /// Edge attempts refused because the request did not fit the device's context.
    pub too_long_attempts: u64,
    /// Edge attempts refused because the device's predicted queue wait exceeded
    /// `routing.max_predicted_wait_ms` or its class's: present only when the scenario sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_wait_attempts: Option<u64>,
    /// Requests longer (prompt + output) than every edge device's context: they went
    /// straight to the cloud, or were rejected.
    pub oversized: u64,
    /// Requests that waited their queue timeout in an edge queue without a slot and left it
    /// (for the cloud, or rejected): present only when the scenario sets a timeout
    /// (`routing.queue_timeout_ms`, or a class's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_timeouts: Option<u64>,
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
    /// Per request class: present only when the scenario has two classes or more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<ClassSummary>>,
    /// Per window of time (by arrival): present only when the scenario sets
    /// `[metrics] window_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<super::windows::WindowsSummary>,
    /// Per device.
    pub devices: Vec<DeviceSummary>,
    /// The metric toolkit per platform (each board + model pair, the cloud) and overall.
    pub platforms: Vec<PlatformSummary>,
    /// Cloud rate limits and outages: present only when the scenario has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_faults: Option<crate::cloud::CloudFaults>,
    /// Device failures: present only when a device group has outages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_faults: Option<crate::sim::faults::DeviceFaults>,
    /// Each cloud provider (the primary, then its fallbacks): present only when the cloud
    /// has fallbacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_providers: Option<Vec<ProviderSummary>>,
    /// Events the engine handled.
    pub events: u64,
}

/// Why requests ended with no service, each rejected request counted once, under the last
/// reason that applied: the parts add up to `rejected`.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Rejections {
    /// No device took it and the cloud is disabled.
    pub no_cloud: u64,
    /// No device took it, and it is longer (prompt + output) than every cloud provider's
    /// `context_tokens`.
    pub too_long_for_cloud: u64,
    /// Every provider whose context holds it answered HTTP 400 (the call charges more than a
    /// limit can ever admit).
    pub bad_request: u64,
    /// The cloud refused it (429, 5xx, outage) and it was not retried, or its retries were
    /// spent: `cloud_faults.rejected_refused`.
    pub cloud_refused: u64,
    /// A failing device dropped it and `routing.on_device_failure = "reject"`.
    pub device_failure: u64,
    /// It waited its queue timeout in an edge queue and `routing.on_queue_timeout = "reject"`
    /// (present only when the scenario sets a timeout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_timeout: Option<u64>,
    /// Its class is served at the edge only (`workload.classes[].route = "edge_only"`) and it
    /// would have gone to the cloud, an enabled one (present only when some class is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge_only: Option<u64>,
}

impl Rejections {
    /// The sum of the parts.
    pub fn total(&self) -> u64 {
        self.no_cloud
            + self.too_long_for_cloud
            + self.bad_request
            + self.cloud_refused
            + self.device_failure
            + self.queue_timeout.unwrap_or(0)
            + self.edge_only.unwrap_or(0)
    }
}

/// One cloud provider of a chain: what it served, what it cost, how it refused.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ProviderSummary {
    /// Model (and so provider and prices).
    pub model: String,
    /// Responses it served.
    pub served: u64,
    /// Its fees \[USD\]: the spend on this provider.
    pub cost_usd: f64,
    /// Its limits, outages and degraded periods (request-level counts such as retries and
    /// rejections are the chain's, in `cloud_faults`).
    pub faults: crate::cloud::CloudFaults,
}

/// Requests by how they ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouteCounts {
    /// Served at the edge.
    pub edge: u64,
    /// Served by the cloud.
    pub cloud: u64,
    /// Rejected.
    pub rejected: u64,
}

/// Prompt and output tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// Prompt tokens.
    pub prompt: u64,
    /// Output tokens.
    pub output: u64,
}

impl TokenCounts {
    /// Prompt + output.
    pub fn total(&self) -> u64 {
        self.prompt + self.output
    }
}

/// Refused edge attempts by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    /// By the rate limiter.
    pub throttled: u64,
    /// Because slots and queue were full.
    pub full: u64,
    /// Because the request does not fit the device's context.
    pub too_long: u64,
    /// Because its predicted queue wait was too long (predictive admission).
    pub predicted_wait: u64,
}

impl Refusals {
    fn count(&mut self, why: Refusal) {
        match why {
            Refusal::Throttled => self.throttled += 1,
            Refusal::Full => self.full += 1,
            Refusal::TooLong => self.too_long += 1,
            Refusal::PredictedWait => self.predicted_wait += 1,
        }
    }
}

/// Counters of one device (what it served, the device counts itself: an edge request's end
/// then touches no per-device line of the recorder).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceCounts {
    /// Attempts refused on it.
    pub refused: Refusals,
}

/// Latency histograms \[µs\] of all served requests and of each route.
#[derive(Clone, Debug, Default)]
pub struct LatencyByRoute {
    /// Every served request.
    pub all: Histogram,
    /// Edge-served.
    pub edge: Histogram,
    /// Cloud-served.
    pub cloud: Histogram,
}

/// Folds request records into summary counters and histograms (constant memory).
#[derive(Clone, Debug, Default)]
pub struct SummaryRecorder {
    /// Arrivals.
    pub arrivals: u64,
    /// Ended requests by route.
    pub ended: RouteCounts,
    /// Tokens redirected to the cloud.
    pub redirected: TokenCounts,
    /// Prompt + output tokens served at the edge.
    pub edge_tokens: u64,
    /// Refused edge attempts.
    pub refused: Refusals,
    /// Requests too long for every edge device's context.
    pub oversized: u64,
    /// Per device: its refusals.
    pub per_device: Vec<DeviceCounts>,
    /// Cloud cost \[USD\].
    pub cloud_cost_usd: f64,
    /// Attributed edge energy \[J\].
    pub edge_request_energy_j: f64,
    /// Per place of service (devices in order, then the cloud) and class: served, energy,
    /// cost and sum of responsiveness, at `place * classes + class`.
    pub per_class: Vec<ClassAcc>,
    /// Request classes.
    pub classes: usize,
    /// TTFT at which R = 1/2 \[ms\].
    pub ttft_ref_ms: f64,
    /// Per class, when there are two or more: how its requests ended and their latencies.
    pub by_class: Vec<ClassLatency>,
    /// Per window of time, when the scenario has them (`[metrics] window_s`).
    pub windows: Option<super::windows::Windows>,
    /// Time to first token \[µs\].
    pub ttft: LatencyByRoute,
    /// End to end \[µs\].
    pub e2e: LatencyByRoute,
}

/// How one class's requests ended, and their latency histograms \[µs\].
#[derive(Clone, Debug, Default)]
pub struct ClassLatency {
    /// Requests by how they ended.
    pub ended: RouteCounts,
    /// Time to first token of the served ones.
    pub ttft: Histogram,
    /// End to end of the served ones.
    pub e2e: Histogram,
}

/// Totals of one (place of service, class) pair.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClassAcc {
    /// Responses served.
    pub served: u64,
    /// Attributed edge energy \[J\].
    pub energy_j: f64,
    /// Cloud fees \[USD\].
    pub cost_usd: f64,
    /// Sum of responsiveness R.
    pub r_sum: f64,
}

impl ClassAcc {
    fn add(&mut self, o: &ClassAcc) {
        self.served += o.served;
        self.energy_j += o.energy_j;
        self.cost_usd += o.cost_usd;
        self.r_sum += o.r_sum;
    }
}

impl SummaryRecorder {
    /// Class `k`'s total of `f` over the places of service (devices, then cloud providers)
    /// that `at` selects (`+ 0.0`: an empty sum is −0.0).
    fn class_total(
        &self,
        k: usize,
        at: impl Fn(usize) -> bool,
        f: impl Fn(&ClassAcc) -> f64,
    ) -> f64 {
        self.per_class
            .chunks(self.classes.max(1))
            .enumerate()
            .filter(|(place, _)| at(*place))
            .filter_map(|(_, accs)| accs.get(k))
            .map(f)
            .sum::<f64>()
            + 0.0
    }

    /// A recorder for `devices` devices, `providers` cloud providers (at least 1),
    /// `classes` request classes and the responsiveness reference `ttft_ref_ms`.
    pub fn new(
        devices: usize,
        providers: usize,
        classes: usize,
        ttft_ref_ms: f64,
    ) -> SummaryRecorder {
        SummaryRecorder {
            per_device: vec![DeviceCounts::default(); devices],
            per_class: vec![ClassAcc::default(); (devices + providers.max(1)) * classes.max(1)],
            classes: classes.max(1),
            ttft_ref_ms,
            by_class: if classes >= 2 {
                vec![ClassLatency::default(); classes]
            } else {
                Vec::new()
            },
            ..Default::default()
        }
    }

    /// A recorder for a scenario.
    pub fn for_scenario(sc: &crate::scenario::Scenario) -> SummaryRecorder {
        let mut rec = SummaryRecorder::new(
            sc.device_count(),
            1 + sc.cloud.fallbacks.len(),
            sc.classes().len(),
            sc.metrics.ttft_ref_ms,
        );
        rec.windows = super::windows::Windows::for_scenario(sc);
        rec
    }

    fn route_latency(ttft: &Histogram, e2e: &Histogram, served: u64) -> RouteLatency {
        RouteLatency {
            served,
            ttft_ms: Percentiles::from_micros(ttft),
            e2e_ms: Percentiles::from_micros(e2e),
        }
    }
}

impl SummaryRecorder {
    /// Counts `r` in its metric window (out of the event loop's code: most runs have none).
    #[cold]
    #[inline(never)]
    fn record_window(&mut self, r: &RequestRecord) {
        if let Some(w) = &mut self.windows {
            w.record(r);
        }
    }
}

impl Recorder for SummaryRecorder {
    fn on_arrival(&mut self, _: SimTime, _: u64) {
        self.arrivals += 1;
    }
    #[inline(always)]
    fn prefetch_end(&self, device: DeviceId) {
        // The device's totals, one entry per class (a hint: past the end it does nothing).
        let first = device.index() * self.classes;
        prefetch_index::prefetch_index(&self.per_class, first);
        prefetch_index::prefetch_index(&self.per_class, first + self.classes.saturating_sub(1));
    }
    #[inline(always)]
    fn on_end(&mut self, _: SimTime, r: &RequestRecord) {
        if self.windows.is_some() {
            self.record_window(r);
        }
        let tokens = u64::from(r.prompt_tokens) + u64::from(r.output_tokens);
        let place = match r.route {
            Route::Edge(d) => Some(d.index()),
            Route::Cloud => Some(self.per_device.len() + usize::from(r.cloud_provider)),
            Route::Rejected => None,
        };
        if let Some(c) = self.by_class.get_mut(usize::from(r.class)) {
            match r.route {
                Route::Edge(_) => c.ended.edge += 1,
                Route::Cloud => c.ended.cloud += 1,
                Route::Rejected => c.ended.rejected += 1,
            }
            if place.is_some() {
                c.ttft.record(r.ttft.0);
                c.e2e.record(r.e2e.0);
            }
        }
        if let Some(place) = place {
            let acc = &mut self.per_class[place * self.classes + usize::from(r.class)];
            acc.served += 1;
            acc.energy_j += r.energy_j;
            acc.cost_usd += r.cost_usd;
            acc.r_sum += super::toolkit::responsiveness(r.ttft.0 as f64 / 1000.0, self.ttft_ref_ms);
        }
        let (ttft, e2e) = match r.route {
            Route::Edge(_) => {
                self.edge_tokens += tokens;
                self.edge_request_energy_j += r.energy_j;
                self.ended.edge += 1;
                (&mut self.ttft.edge, &mut self.e2e.edge)
            }
            Route::Cloud => {
                self.redirected.prompt += u64::from(r.prompt_tokens);
                self.redirected.output += u64::from(r.output_tokens);
                self.cloud_cost_usd += r.cost_usd;
                self.ended.cloud += 1;
                (&mut self.ttft.cloud, &mut self.e2e.cloud)
            }
            Route::Rejected => {
                self.ended.rejected += 1;
                return;
            }
        };
        ttft.record(r.ttft.0);
        e2e.record(r.e2e.0);
        self.ttft.all.record(r.ttft.0);
        self.e2e.all.record(r.e2e.0);
    }
    fn on_refused(&mut self, _: SimTime, device: DeviceId, why: Refusal) {
        self.per_device[device.index()].refused.count(why);
        self.refused.count(why);
    }
    fn on_oversized(&mut self, _: SimTime, _: u64) {
        self.oversized += 1;
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
            d.throttled = c.refused.throttled;
            d.full = c.refused.full;
            d.too_long = c.refused.too_long;
            if sc.has_predicted_waits() {
                d.predicted_wait = Some(c.refused.predicted_wait);
            }
        }
        let horizon = sc.horizon();
        let duration_s = if horizon == SimTime::MAX {
            out.end.as_secs_f64()
        } else {
            horizon.as_secs_f64()
        };
        Summary {
            scenario: sc.name.clone(),
            seed: sc.seed,
            selection: sc.selection.kind.name().to_string(),
            rate_limit: sc.rate_limit_description(),
            duration_s,
            end_s: out.end.as_secs_f64(),
            requests_total: rec.arrivals,
            served_edge: rec.ended.edge,
            served_cloud: rec.ended.cloud,
            rejected: rec.ended.rejected,
            rejected_by: (rec.ended.rejected > 0).then_some(out.rejected_by),
            redirected_tokens: rec.redirected.total(),
            redirected_prompt_tokens: rec.redirected.prompt,
            redirected_output_tokens: rec.redirected.output,
            edge_tokens: rec.edge_tokens,
            throttled_attempts: rec.refused.throttled,
            full_attempts: rec.refused.full,
            too_long_attempts: rec.refused.too_long,
            predicted_wait_attempts: sc
                .has_predicted_waits()
                .then_some(rec.refused.predicted_wait),
            oversized: rec.oversized,
            queue_timeouts: sc
                .has_queue_timeouts()
                .then(|| devices.iter().filter_map(|d| d.queue_timeouts).sum()),
            cloud_cost_usd: rec.cloud_cost_usd,
            // `+ 0.0`: an empty sum is −0.0 (a cloud-only run).
            edge_energy_j: devices.iter().map(|d| d.energy_j).sum::<f64>() + 0.0,
            edge_request_energy_j: rec.edge_request_energy_j,
            ttft_ms: Percentiles::from_micros(&rec.ttft.all),
            e2e_ms: Percentiles::from_micros(&rec.e2e.all),
            edge: SummaryRecorder::route_latency(&rec.ttft.edge, &rec.e2e.edge, rec.ended.edge),
            cloud: SummaryRecorder::route_latency(&rec.ttft.cloud, &rec.e2e.cloud, rec.ended.cloud),
            classes: (!rec.by_class.is_empty()).then(|| {
                sc.classes()
                    .iter()
                    .zip(&rec.by_class)
                    .enumerate()
                    .map(|(k, (spec, c))| ClassSummary {
                        name: spec.name.clone(),
                        requests: c.ended.edge + c.ended.cloud + c.ended.rejected,
                        served_edge: c.ended.edge,
                        served_cloud: c.ended.cloud,
                        rejected: c.ended.rejected,
                        ttft_ms: Percentiles::from_micros(&c.ttft),
                        e2e_ms: Percentiles::from_micros(&c.e2e),
                        cloud_cost_usd: rec.class_total(
                            k,
                            |place| place >= devices.len(),
                            |a| a.cost_usd,
                        ),
                        edge_request_energy_j: rec.class_total(
                            k,
                            |place| place < devices.len(),
                            |a| a.energy_j,
                        ),
                        queue_timeouts: out.class_timeouts.get(k).copied(),
                        windows: rec.windows.as_ref().and_then(|w| w.class_summary(k, sc)),
                    })
                    .collect()
            }),
            windows: rec.windows.as_ref().map(|w| w.summary(sc)),
            platforms: platforms(sc, rec, &devices),
            devices,
            cloud_faults: out.cloud_faults.clone(),
            device_faults: out.device_faults.clone(),
            cloud_providers: out.cloud_providers.as_ref().map(|list| {
                let k = rec.classes;
                list.iter()
                    .enumerate()
                    .map(|(p, (model, faults))| {
                        let at = (rec.per_device.len() + p) * k;
                        let mut t = ClassAcc::default();
                        for acc in &rec.per_class[at..at + k] {
                            t.add(acc);
                        }
                        ProviderSummary {
                            model: model.clone(),
                            served: t.served,
                            cost_usd: t.cost_usd,
                            faults: faults.clone(),
                        }
                    })
                    .collect()
            }),
            events: out.stats.events,
        }
    }
}

/// Groups devices by (board, model), adds the cloud and the overall row, and applies the
/// toolkit. Platforms appear in order of their first device.
fn platforms(
    sc: &crate::scenario::Scenario,
    rec: &SummaryRecorder,
    devices: &[DeviceSummary],
) -> Vec<PlatformSummary> {
    let m = &sc.metrics;
    let k = rec.classes;
    let task = |c: usize| {
        sc.classes()
            .get(c)
            .and_then(|c| c.task.as_deref())
            .unwrap_or(&m.task)
    };
    // One platform: its devices (or the cloud) and its per-class totals.
    struct Group<'a> {
        name: String,
        /// Its devices' board ("cloud" for a provider): with `model`, what a device is matched
        /// on, without formatting a name per device (at 10,000 devices that was a quarter of a
        /// 100-request run).
        board: &'a str,
        devices: u32,
        device_energy_j: f64,
        model: String,
        per_class: Vec<ClassAcc>,
    }
    let mut groups: Vec<Group> = Vec::new();
    for (i, d) in devices.iter().enumerate() {
        let found = groups
            .iter()
            .rposition(|g| g.board == &*d.board && *g.model == *d.model);
        let gi = match found {
            Some(g) => g,
            None => {
                groups.push(Group {
                    name: format!("{} / {}", d.board, d.model),
                    board: &d.board,
                    devices: 0,
                    device_energy_j: 0.0,
                    model: d.model.to_string(),
                    per_class: vec![ClassAcc::default(); k],
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[gi];
        g.devices += 1;
        g.device_energy_j += d.energy_j;
        for c in 0..k {
            g.per_class[c].add(&rec.per_class[i * k + c]);
        }
    }
    let edge_groups = groups.len();
    if sc.cloud.enabled {
        for (p, spec) in sc.cloud.providers().enumerate() {
            let at = (devices.len() + p) * k;
            groups.push(Group {
                name: format!("cloud / {}", spec.model),
                board: "cloud",
                devices: 0,
                device_energy_j: 0.0,
                model: spec.model.clone(),
                per_class: rec.per_class[at..at + k].to_vec(),
            });
        }
    }

    // Quality of a platform's model on class c's task.
    let quality_of = |g: usize, c: usize| -> Option<f64> {
        let model = &groups[g].model;
        let quality = if g < edge_groups {
            &sc.catalogue.model(model)?.quality
        } else {
            &sc.catalogue.cloud_model(model)?.quality
        };
        quality.get(task(c)).copied()
    };

    let mut rows = Vec::new();
    // Overall accumulators: served, energy, cost, r_sum, quality sum (None once unknown).
    let mut all = ClassAcc::default();
    let mut all_q = Some(0.0);
    let mut all_energy_with_idle = 0.0;
    let mut edge_all = ClassAcc::default();
    for (gi, g) in groups.iter().enumerate() {
        let mut tot = ClassAcc::default();
        let mut q_sum = Some(0.0);
        for (c, acc) in g.per_class.iter().enumerate() {
            tot.add(acc);
            if acc.served > 0 {
                q_sum = match (q_sum, quality_of(gi, c)) {
                    (Some(s), Some(q)) => Some(s + q * acc.served as f64),
                    _ => None,
                };
            }
        }
        all.add(&tot);
        all_q = match (all_q, q_sum) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        let edge = gi < edge_groups;
        // Device energy (idle included) is `idle_j` for edge groups: total energy of the
        // devices, spread over their responses.
        if edge {
            all_energy_with_idle += g.device_energy_j;
            edge_all.add(&tot);
        }
        rows.push(platform_row(
            g.name.clone(),
            g.devices,
            &tot,
            q_sum,
            edge.then_some(g.device_energy_j),
            m,
        ));
    }
    let mut overall = platform_row("overall".into(), devices.len() as u32, &all, all_q, None, m);
    // Energy is metered at the edge only: overall, it is per edge-served response.
    let edge_per = |x: f64| (edge_all.served > 0).then(|| x / edge_all.served as f64);
    overall.energy_per_query_j = edge_per(edge_all.energy_j);
    overall.energy_per_query_with_idle_j = edge_per(all_energy_with_idle);
    rows.push(overall);
    rows
}

/// Applies the toolkit to the totals of one platform. `q_sum` is the sum of Q over the served
/// responses; `device_energy_j` the devices' total energy, idle included (`None`: energy not
/// metered on this platform).
fn platform_row(
    name: String,
    devices: u32,
    t: &ClassAcc,
    q_sum: Option<f64>,
    device_energy_j: Option<f64>,
    m: &crate::metrics::settings::MetricsSpec,
) -> PlatformSummary {
    use super::toolkit;
    let n = t.served as f64;
    let per = |x: f64| (t.served > 0).then(|| x / n);
    let energy = device_energy_j.and(per(t.energy_j));
    let cpr_cents =
        per(toolkit::edge_cpr_cents(t.energy_j, m.electricity_cents_per_kwh) + t.cost_usd * 100.0);
    let quality = q_sum.and_then(per);
    let responsiveness = per(t.r_sum);
    let utility = match (quality, responsiveness) {
        (Some(q), Some(r)) => Some(toolkit::utility(m.alpha, q, r)),
        _ => None,
    };
    PlatformSummary {
        name,
        devices,
        served: t.served,
        energy_per_query_j: energy,
        energy_per_query_with_idle_j: device_energy_j.and_then(per),
        cpr_cents,
        quality,
        responsiveness,
        utility,
        pcr: utility.zip(cpr_cents).and_then(|(u, c)| toolkit::pcr(u, c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_hint_changes_nothing_even_past_the_last_device() {
        // Three devices, two classes: the hint for a device beyond them (or with a default,
        // classless recorder) neither panics nor changes a counter.
        let r = SummaryRecorder::new(3, 1, 2, 1000.0);
        let before = format!("{r:?}");
        for d in [0, 2, 3, 1000, u32::MAX] {
            r.prefetch_end(DeviceId(d));
        }
        assert_eq!(format!("{r:?}"), before);
        SummaryRecorder::default().prefetch_end(DeviceId(7));
    }
}
