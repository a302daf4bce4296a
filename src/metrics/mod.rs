//! What a run measures. The simulator pushes one [`RequestRecord`] per finished request into a
//! [`Recorder`]; [`SummaryRecorder`] folds them into the run summary in constant memory.

mod behind;
mod histogram;
pub mod settings;
pub mod summary;
pub mod toolkit;
pub mod windows;

pub use behind::Behind;
pub use histogram::{HISTOGRAM_BYTES, Hist, Histogram, SparseHistogram};
pub use summary::{
    ClassAcc, ClassLatency, ClassSummary, DeviceSummary, Percentiles, PlatformSummary, Rejections,
    RouteLatency, Summary, SummaryRecorder,
};

use crate::device::DeviceId;
use crate::time::{SimDuration, SimTime};

/// Why a device refused an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its rate limit was used up.
    Throttled,
    /// Its slots and queue were full.
    Full,
    /// The request's prompt and output do not fit its context (`ctx_tokens`).
    TooLong,
    /// Its predicted queue wait exceeded `routing.max_predicted_wait_ms`.
    PredictedWait,
}

/// Where a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Served by an edge device.
    Edge(DeviceId),
    /// Redirected to and served by the cloud.
    Cloud,
    /// Rejected (no cloud, nothing could take it).
    Rejected,
}

impl Route {
    /// `edge`, `cloud` or `rejected`.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Edge(_) => "edge",
            Route::Cloud => "cloud",
            Route::Rejected => "rejected",
        }
    }
}

/// One finished request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RequestRecord {
    /// Sequence number in arrival order, from 0.
    pub id: u64,
    /// Class index.
    pub class: u16,
    /// Arrival time at the gateway.
    pub arrival: SimTime,
    /// Where it ended.
    pub route: Route,
    /// Edge devices tried over all of its routing passes (0 when the cluster is empty).
    pub attempts: u32,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Output tokens.
    pub output_tokens: u32,
    /// Arrival to first token (zero when rejected).
    pub ttft: SimDuration,
    /// Arrival to last token (zero when rejected).
    pub e2e: SimDuration,
    /// Edge energy attributed to the request \[J\].
    pub energy_j: f64,
    /// Cloud API cost \[USD\].
    pub cost_usd: f64,
    /// Cloud refusals retried.
    pub cloud_retries: u32,
    /// The cloud provider that served it (0: the primary; k: fallback k − 1).
    pub cloud_provider: u8,
    /// Times a failing device dropped it.
    pub interruptions: u32,
    /// Arrived while the cloud was down.
    pub during_cloud_outage: bool,
}

/// Receives what happens during a run (push model). Default methods do nothing.
pub trait Recorder {
    /// Whether [`Recorder::on_device`] is wanted (computing device power costs a little).
    const WANTS_DEVICE_STATE: bool = false;
    /// A request arrived at the gateway.
    fn on_arrival(&mut self, _now: SimTime, _id: u64) {}
    /// A request ended: served at the edge, in the cloud, or rejected.
    fn on_end(&mut self, _now: SimTime, _record: &RequestRecord) {}
    /// An edge attempt was refused.
    fn on_refused(&mut self, _now: SimTime, _device: DeviceId, _why: Refusal) {}
    /// Request `id` is too long for every edge device's context: it skips the edge.
    fn on_oversized(&mut self, _now: SimTime, _id: u64) {}
    /// Device `device` admitted a request (to a slot or its queue).
    fn on_admit(&mut self, _now: SimTime, _device: DeviceId) {}
    /// A request served by device `device` will likely end soon (a hint: prefetch what
    /// [`Recorder::on_end`] will update; it must change nothing).
    #[inline(always)]
    fn prefetch_end(&self, _device: DeviceId) {}
    /// Device `device` changed state at `now`: `active` requests in service, `queued` waiting,
    /// drawing `power_w` from now on. Called only if `WANTS_DEVICE_STATE`.
    fn on_device(
        &mut self,
        _now: SimTime,
        _device: DeviceId,
        _active: u32,
        _queued: u32,
        _power_w: f64,
    ) {
    }
}

/// Forwards every call to two recorders.
pub struct Tee<'a, A: Recorder, B: Recorder>(pub &'a mut A, pub &'a mut B);

impl<A: Recorder, B: Recorder> Recorder for Tee<'_, A, B> {
    const WANTS_DEVICE_STATE: bool = A::WANTS_DEVICE_STATE || B::WANTS_DEVICE_STATE;
    fn on_arrival(&mut self, now: SimTime, id: u64) {
        self.0.on_arrival(now, id);
        self.1.on_arrival(now, id);
    }
    #[inline(always)]
    fn on_end(&mut self, now: SimTime, record: &RequestRecord) {
        self.0.on_end(now, record);
        self.1.on_end(now, record);
    }
    #[inline(always)]
    fn prefetch_end(&self, device: DeviceId) {
        self.0.prefetch_end(device);
        self.1.prefetch_end(device);
    }
    fn on_refused(&mut self, now: SimTime, device: DeviceId, why: Refusal) {
        self.0.on_refused(now, device, why);
        self.1.on_refused(now, device, why);
    }
    fn on_oversized(&mut self, now: SimTime, id: u64) {
        self.0.on_oversized(now, id);
        self.1.on_oversized(now, id);
    }
    fn on_admit(&mut self, now: SimTime, device: DeviceId) {
        self.0.on_admit(now, device);
        self.1.on_admit(now, device);
    }
    fn on_device(
        &mut self,
        now: SimTime,
        device: DeviceId,
        active: u32,
        queued: u32,
        power_w: f64,
    ) {
        if A::WANTS_DEVICE_STATE {
            self.0.on_device(now, device, active, queued, power_w);
        }
        if B::WANTS_DEVICE_STATE {
            self.1.on_device(now, device, active, queued, power_w);
        }
    }
}
