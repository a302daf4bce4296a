//! The edge-cloud system as an engine [`Model`]: arrivals, routing, device service, cloud.
//!
//! ```text
//!  workload ──> gateway ──> selection policy ──> rate limiter ──admit──> device queue/slots ──> done (edge)
//!                                  ^                   │ over limit / device full
//!                                  └─ next candidate <─┤ (at most routing.max_attempts devices)
//!                                                      ├──> cloud (redirected: tokens + cost) ──> done (cloud)
//!                                                      └──> rejected (cloud disabled)
//! ```
//!
//! Same-time rule: at equal times, completions (decode done, cloud done) are handled first,
//! then prefill completions, then arrivals; within a class, in scheduling order. So capacity
//! freed at time t is visible to a request arriving at t.
//!
//! The [`World`] owns the gateway (routing, the limiter, the policy) and the request arena;
//! each device's slot / prefill / decode lifecycle is in [`device`], behind its own API.

mod alias;
pub mod device;
mod downset;
pub mod faults;
mod fenwick;
mod gateway;
mod loads;
mod routing;

pub use routing::{
    OnDeviceFailure, OnQueueTimeout, RoutingFile, RoutingSpec, check_predicted_wait_ms,
};

use std::sync::Arc;

use crate::cloud::{CloudAnswer, CloudState};
use crate::device::DeviceId;
use crate::engine::{self, Classify, EventQueue, Model};
use crate::error::{Error, Result};
use crate::metrics::{
    DeviceSummary, Recorder, Refusal, Rejections, RequestRecord, Route, Summary, SummaryRecorder,
};
use crate::policy::rate_limit::Admission;
use crate::rng::RngStreams;
use crate::scenario::Scenario;
use crate::time::{SimDuration, SimTime};
use crate::workload::{Arrival, ClassRoute, NO_USER, Workload};
use device::{Device, DeviceEvent, DeviceKind, Job, Out, Outbox};
use faults::{DeviceFaults, Faults};
use gateway::Gateway;

/// Simulation events: small, `Copy`, ids only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The request in slot `0` reaches the gateway.
    Arrival(u32),
    /// An event of one device.
    Device {
        /// The device.
        dev: DeviceId,
        /// What happened.
        ev: DeviceEvent,
    },
    /// A cloud request finished.
    CloudDone(u32),
    /// A request refused by the cloud is routed again (after its retry wait).
    Retry(u32),
    /// Device `0` may fail or recover now.
    Health(u32),
    /// The gateway's health check sees device `0`'s current state.
    HealthCheck(u32),
    /// The gateway learns that an attempt on device `0` failed (refused at once, or timed
    /// out): passive health checking (`routing.max_fails`) counts it.
    AttemptFailed(u32),
    /// Passive health checking's time out for device `0` ends now.
    Readmit(u32),
    /// An attempt on a failed device timed out (`routing.connect_timeout_ms`): request `slot`
    /// goes on routing with `used` of its attempts spent.
    Resume {
        /// The request.
        slot: u32,
        /// Attempts of this routing pass already spent.
        used: u32,
    },
}

impl Classify for Event {
    fn class(&self) -> u8 {
        match self {
            Event::Device {
                ev: DeviceEvent::DecodeDone(_),
                ..
            }
            | Event::CloudDone(_) => 0,
            // After every completion and first token at the same instant: a slot freed at
            // the timeout goes to the request that waited for it.
            Event::Device {
                ev: DeviceEvent::QueueTimeout(_),
                ..
            } => 2,
            Event::Device { .. }
            | Event::Health(_)
            | Event::HealthCheck(_)
            | Event::AttemptFailed(_)
            | Event::Readmit(_) => 1,
            Event::Arrival(_) | Event::Retry(_) | Event::Resume { .. } => 2,
        }
    }
}

/// An in-flight request (arena entry).
#[derive(Clone, Copy, Debug)]
struct Req {
    id: u64,
    arrival: Arrival,
    attempts: u32,
    first_token: SimTime,
    amount: f64,
    /// Cloud refusals retried so far.
    retries: u32,
    /// Arrived while the cloud was down.
    outage: bool,
    /// Times a failing device dropped it.
    interrupted: u32,
    /// The cloud provider serving it (0: the primary).
    provider: u8,
}

/// A run's raw results, before formatting.
pub struct RunOutput {
    /// Engine statistics.
    pub stats: engine::RunStats,
    /// End of the observation window (last event, at least the arrival horizon).
    pub end: SimTime,
    /// Per-device statistics.
    pub devices: Vec<DeviceSummary>,
    /// Cloud limits and outages (when the scenario has any).
    pub cloud_faults: Option<crate::cloud::CloudFaults>,
    /// Device failures (when any group has outages).
    pub device_faults: Option<faults::DeviceFaults>,
    /// Each provider's model and faults, when the cloud has fallbacks.
    pub cloud_providers: Option<Vec<(String, crate::cloud::CloudFaults)>>,
    /// Why requests were rejected.
    pub rejected_by: Rejections,
    /// Requests that left an edge queue at their timeout, by class (empty without timeouts
    /// or with one class).
    pub class_timeouts: Vec<u64>,
}

/// Fleets of at least this many devices prefetch a device event's state ([`World`]'s
/// `Model::prefetch`). Below, the devices' state (four lines and a list of streams each,
/// some 230 KiB for 512) stays in a core's L2 beside the rest.
const PREFETCH_DEVICES: usize = 512;

/// The simulated system.
pub struct World<'a, R: Recorder> {
    sc: &'a Scenario,
    workload: Box<dyn Workload>,
    devices: Vec<Device>,
    /// Whether this run prefetches ([`PREFETCH_DEVICES`]).
    prefetching: bool,
    /// Predictive admission's longest predicted queue wait per class \[s\] (`None`: off for
    /// the class; none at all: off for every class).
    max_predicted_wait_s: Option<Box<[Option<f64>]>>,
    gateway: Gateway,
    edge_rtt: SimDuration,
    /// The cloud providers: the primary, then its fallbacks.
    clouds: Vec<CloudState>,
    /// The largest context of any device \[tokens\]: longer requests skip the edge (0: no
    /// device).
    max_ctx: u64,
    /// With classes served by some groups only, the largest context of each class's boards
    /// (0: none), in place of `max_ctx`.
    class_ctx: Option<Box<[u64]>>,
    reqs: Vec<Req>,
    free: Vec<u32>,
    next_id: u64,
    in_flight: u64,
    /// What the last device operation produced.
    out: Outbox,
    /// Device failures (`None` when no device fails).
    faults: Option<Faults>,
    /// The time of the last event that did something (health events after the last request
    /// change nothing and do not extend the run).
    last_active: SimTime,
    /// Health events that changed nothing because the run was over.
    idle_events: u64,
    /// Why requests were rejected (`cloud_refused` is filled in at the end, from the cloud's
    /// counters).
    rejected_by: Rejections,
    /// Queue timeouts by class ([`RunOutput::class_timeouts`]).
    class_timeouts: Vec<u64>,
    /// Each class's route (`None`: every class is routed edge first).
    routes: Option<Box<[ClassRoute]>>,
    /// The recorder receiving every request's end.
    pub recorder: &'a mut R,
}

impl<'a, R: Recorder> World<'a, R> {
    /// A fresh system for `sc`, seeded with `sc.seed`.
    pub fn new(sc: &'a Scenario, recorder: &'a mut R) -> Self {
        let streams = RngStreams::new(sc.seed);
        // One list of each for every group (`DeviceKind::new`).
        let timeouts: Option<Arc<[_]>> = sc.queue_timeouts().map(Arc::from);
        let priorities: Option<Arc<[u8]>> = sc.class_priorities().map(Arc::from);
        let mut devices = Vec::with_capacity(sc.device_count());
        for g in &sc.fleet {
            let kind = DeviceKind::new(g, timeouts.as_ref(), priorities.as_ref());
            for _ in 0..g.count {
                devices.push(Device::new(kind.clone()));
            }
        }
        let class_names: Vec<&str> = sc.classes().iter().map(|c| c.name.as_str()).collect();
        World {
            sc,
            workload: sc.workload.build_for_run(sc.horizon(), &streams),
            max_ctx: sc
                .fleet
                .iter()
                .map(|g| u64::from(g.ctx_tokens))
                .max()
                .unwrap_or(0),
            class_ctx: sc.device_pools().map(|p| {
                p.of_class
                    .iter()
                    .map(|&k| {
                        p.groups[usize::from(k)]
                            .iter()
                            .map(|&g| u64::from(sc.fleet[g].ctx_tokens))
                            .max()
                            .unwrap_or(0)
                    })
                    .collect()
            }),
            prefetching: devices.len() >= PREFETCH_DEVICES,
            max_predicted_wait_s: sc.predicted_waits_s().map(Vec::into_boxed_slice),
            devices,
            gateway: Gateway::new(sc, streams.stream("selection")),
            edge_rtt: sc.routing.edge_rtt(),
            clouds: sc
                .cloud
                .providers()
                .enumerate()
                .map(|(k, spec)| CloudState::provider(spec, &streams, k as u64, &class_names))
                .collect(),
            reqs: Vec::new(),
            free: Vec::new(),
            next_id: 0,
            in_flight: 0,
            out: Outbox::new(),
            faults: Faults::new(sc, &streams),
            last_active: SimTime::ZERO,
            idle_events: 0,
            rejected_by: Rejections::default(),
            class_timeouts: if sc.has_queue_timeouts() && sc.classes().len() >= 2 {
                vec![0; sc.classes().len()]
            } else {
                Vec::new()
            },
            routes: sc.class_routes().map(Vec::into_boxed_slice),
            recorder,
        }
    }

    fn alloc(&mut self, arrival: Arrival) -> u32 {
        let r = Req {
            id: 0,
            arrival,
            attempts: 0,
            first_token: SimTime::ZERO,
            amount: 0.0,
            retries: 0,
            outage: false,
            interrupted: 0,
            provider: 0,
        };
        self.in_flight += 1;
        match self.free.pop() {
            Some(i) => {
                self.reqs[i as usize] = r;
                i
            }
            None => {
                self.reqs.push(r);
                (self.reqs.len() - 1) as u32
            }
        }
    }

    /// Schedules arrival `a`; `in_order`: it is an open-loop workload's next arrival, which
    /// comes no earlier than the one before it (the queue's lane takes it).
    #[inline(always)]
    fn schedule_arrival(&mut self, a: Arrival, in_order: bool, q: &mut EventQueue<Event>) {
        let slot = self.alloc(a);
        if in_order {
            q.push_in_order(a.at, Event::Arrival(slot));
        } else {
            q.push(a.at, Event::Arrival(slot));
        }
    }

    /// Device `d` changed state: tell the gateway and the recorder.
    #[inline(always)]
    fn refresh_view(&mut self, now: SimTime, d: usize) {
        let dev = &self.devices[d];
        self.gateway
            .device_changed(now, DeviceId(d as u32), dev.active() + dev.queued());
        if R::WANTS_DEVICE_STATE {
            self.recorder.on_device(
                now,
                DeviceId(d as u32),
                dev.active(),
                dev.queued(),
                dev.power_w(),
            );
        }
    }

    /// Ends request `slot`: records it, frees the slot, and lets a closed-loop user go on.
    #[inline(always)]
    fn end(
        &mut self,
        now: SimTime,
        slot: u32,
        route: Route,
        energy_j: f64,
        cost_usd: f64,
        q: &mut EventQueue<Event>,
    ) {
        let r = self.reqs[slot as usize];
        let rtt = if matches!(route, Route::Edge(_)) {
            self.edge_rtt
        } else {
            SimDuration::ZERO
        };
        let (ttft, e2e) = match route {
            Route::Rejected => (SimDuration::ZERO, SimDuration::ZERO),
            _ => (
                r.first_token.since(r.arrival.at) + rtt,
                now.since(r.arrival.at) + rtt,
            ),
        };
        let record = RequestRecord {
            id: r.id,
            class: r.arrival.class,
            arrival: r.arrival.at,
            route,
            attempts: r.attempts,
            prompt_tokens: r.arrival.prompt_tokens,
            output_tokens: r.arrival.output_tokens,
            ttft,
            e2e,
            energy_j,
            cost_usd,
            cloud_retries: r.retries,
            cloud_provider: r.provider,
            interruptions: r.interrupted,
            during_cloud_outage: r.outage,
        };
        self.recorder.on_end(now, &record);
        if r.interrupted > 0
            && let Some(f) = &mut self.faults
        {
            let c = &mut f.counters;
            match route {
                Route::Edge(_) => c.then_edge += 1,
                Route::Cloud => c.then_cloud += 1,
                Route::Rejected => c.then_rejected += 1,
            }
        }
        if r.outage {
            let c = &mut self.clouds[0].counters;
            c.arrivals_during_outages += 1;
            match route {
                Route::Edge(_) => c.edge_during_outages += 1,
                Route::Rejected => c.rejected_during_outages += 1,
                Route::Cloud => {}
            }
        }
        self.free.push(slot);
        self.in_flight -= 1;
        if r.arrival.user != NO_USER {
            // The user sees the response after the network round trip.
            if let Some(next) = self.workload.after_done(now + rtt, r.arrival.user) {
                // Users' next requests come in no particular order: into the heap.
                self.schedule_arrival(next, false, q);
            }
        }
    }

    #[inline(always)]
    fn on_arrival(&mut self, now: SimTime, slot: u32, q: &mut EventQueue<Event>) {
        let id = self.next_id;
        self.next_id += 1;
        self.reqs[slot as usize].id = id;
        self.recorder.on_arrival(now, id);
        let arrival = self.reqs[slot as usize].arrival;
        if let Some(next) = self.workload.after_arrival(&arrival) {
            self.schedule_arrival(next, true, q);
        }
        if self.sc.cloud.outages.any() {
            self.reqs[slot as usize].outage = self.clouds[0].down(now);
        }
        self.route(now, slot, q);
    }

    /// Routes request `slot`: edge devices as the policy picks them, then the cloud.
    fn route(&mut self, now: SimTime, slot: u32, q: &mut EventQueue<Event>) {
        self.route_from(now, slot, 0, q);
    }

    /// Routes request `slot` with `used` of this pass's `max_attempts` already spent (on a
    /// failed device whose connection timed out).
    #[inline(always)]
    fn route_from(&mut self, now: SimTime, slot: u32, used: u32, q: &mut EventQueue<Event>) {
        let arrival = self.reqs[slot as usize].arrival;
        let id = self.reqs[slot as usize].id;
        if self.route_of(slot) == ClassRoute::Cloud {
            self.send_to_cloud(now, slot, q);
            return;
        }

        let amount = self
            .sc
            .rate_limit
            .unit
            .amount(arrival.prompt_tokens, arrival.output_tokens);
        let tokens = u64::from(arrival.prompt_tokens) + u64::from(arrival.output_tokens);
        // With no edge device for it (a cloud-only scenario, or a class whose groups have no
        // boards) nothing is oversized: there is no edge.
        let max_ctx = match &self.class_ctx {
            None => self.max_ctx,
            Some(c) => c[usize::from(arrival.class)],
        };
        let oversized = max_ctx > 0 && tokens > max_ctx;
        if oversized && self.reqs[slot as usize].retries == 0 {
            self.recorder.on_oversized(now, id);
        }
        self.gateway.begin(now, arrival.class);
        // A pass resumed after connect timeouts does not try those devices again.
        let mut timed_out = match (used, &mut self.faults) {
            (1.., Some(f)) => f.timed_out.remove(&slot).unwrap_or_default(),
            _ => Vec::new(),
        };
        for &d in &timed_out {
            self.gateway.tried(d);
        }
        let mut attempts = used;
        while !oversized && max_ctx > 0 && attempts < self.sc.routing.max_attempts {
            let Some(dev) = self.gateway.select(now) else {
                break;
            };
            self.gateway.tried(dev);
            attempts += 1;
            let d = dev.index();
            if self.gateway.check(now, dev, arrival.class, amount) == Admission::Throttle {
                self.recorder.on_refused(now, dev, Refusal::Throttled);
                continue;
            }
            if !self.devices[d].fits(arrival.prompt_tokens, arrival.output_tokens) {
                self.recorder.on_refused(now, dev, Refusal::TooLong);
                continue;
            }
            if !self.devices[d].has_room() {
                if self.devices[d].is_down() {
                    // Failed, and the gateway's health check has not seen it yet: the
                    // connection is refused at once, or times out and the pass goes on then.
                    let timeout = self.sc.routing.connect_timeout();
                    if self.sc.routing.max_fails > 0 {
                        q.push(now + timeout, Event::AttemptFailed(dev.0));
                    }
                    if let Some(f) = &mut self.faults {
                        f.counters.attempts_on_down += 1;
                        if timeout.0 > 0 {
                            let mut skip = std::mem::take(&mut timed_out);
                            skip.push(dev);
                            f.timed_out.insert(slot, skip);
                        }
                    }
                    if timeout.0 > 0 {
                        self.gateway.end(now);
                        self.reqs[slot as usize].attempts += attempts - used;
                        q.push(
                            now + timeout,
                            Event::Resume {
                                slot,
                                used: attempts,
                            },
                        );
                        return;
                    }
                } else {
                    self.recorder.on_refused(now, dev, Refusal::Full);
                }
                continue;
            }
            if let Some(waits) = &self.max_predicted_wait_s
                && let Some(max_s) = waits[usize::from(arrival.class)]
                && self.devices[d].predicted_wait_s() > max_s
            {
                self.recorder.on_refused(now, dev, Refusal::PredictedWait);
                continue;
            }
            if self.sc.routing.max_fails > 0
                && let Some(f) = &mut self.faults
            {
                f.fails[d] = 0;
            }
            self.gateway.record(now, dev, arrival.class, amount);
            self.recorder.on_admit(now, dev);
            let r = &mut self.reqs[slot as usize];
            r.attempts += attempts - used;
            r.amount = amount;
            let job = Job {
                req: slot,
                prompt_tokens: arrival.prompt_tokens,
                output_tokens: arrival.output_tokens,
                class: arrival.class,
                admitted: now,
            };
            let mut out = std::mem::take(&mut self.out);
            self.devices[d].admit(now, job, &mut out);
            self.apply(now, d, out, q);
            self.gateway.end(now);
            return;
        }
        self.gateway.end(now);
        self.reqs[slot as usize].attempts += attempts - used;
        self.send_to_cloud(now, slot, q);
    }

    /// Request `slot`'s class's route.
    #[inline(always)]
    fn route_of(&self, slot: u32) -> ClassRoute {
        match &self.routes {
            None => ClassRoute::EdgeFirst,
            Some(r) => r[usize::from(self.reqs[slot as usize].arrival.class)],
        }
    }

    /// Sends request `slot` to the cloud: the primary, then each fallback at once while they
    /// refuse. Rejected if the cloud is disabled, its class is served at the edge only, or no
    /// provider's context holds it, or if every provider answered HTTP 400; otherwise, if all
    /// refused, retried later or rejected.
    #[inline(always)]
    fn send_to_cloud(&mut self, now: SimTime, slot: u32, q: &mut EventQueue<Event>) {
        let arrival = self.reqs[slot as usize].arrival;
        let tokens = u64::from(arrival.prompt_tokens) + u64::from(arrival.output_tokens);
        let cloud = &self.sc.cloud;
        if !cloud.enabled {
            self.rejected_by.no_cloud += 1;
            self.end(now, slot, Route::Rejected, 0.0, 0.0, q);
            return;
        }
        if self.route_of(slot) == ClassRoute::EdgeOnly {
            *self.rejected_by.edge_only.get_or_insert(0) += 1;
            self.end(now, slot, Route::Rejected, 0.0, 0.0, q);
            return;
        }
        let mut retryable = false;
        let mut fits = false;
        for (k, spec) in cloud.providers().enumerate() {
            if !spec.fits(tokens) {
                continue;
            }
            fits = true;
            let answer = if spec.can_refuse() {
                self.clouds[k].call(
                    spec,
                    now,
                    arrival.class,
                    arrival.prompt_tokens,
                    arrival.output_tokens,
                )
            } else {
                CloudAnswer::Accepted
            };
            match answer {
                CloudAnswer::Accepted => {
                    let (ttft_s, e2e_s) =
                        self.clouds[k].latency_s(spec, now, arrival.output_tokens);
                    let r = &mut self.reqs[slot as usize];
                    r.first_token = now + SimDuration::from_secs_f64(ttft_s);
                    r.provider = k as u8;
                    let done = now + SimDuration::from_secs_f64(e2e_s);
                    q.push(done, Event::CloudDone(slot));
                    return;
                }
                // HTTP 400: retrying this provider cannot help.
                CloudAnswer::BadRequest => {}
                _ => retryable = true,
            }
        }
        if !retryable {
            // Too long for every provider, or refused with 400 by all.
            if fits {
                self.rejected_by.bad_request += 1;
            } else {
                self.rejected_by.too_long_for_cloud += 1;
            }
            self.end(now, slot, Route::Rejected, 0.0, 0.0, q);
            return;
        }
        let r = &mut self.reqs[slot as usize];
        if cloud.retries_refused() && r.retries < cloud.max_retries {
            let wait_ms = self.clouds[0].jittered_ms(cloud.retry_wait_ms(r.retries));
            r.retries += 1;
            self.clouds[0].counters.retries += 1;
            q.push(
                now + SimDuration::from_millis_f64(wait_ms),
                Event::Retry(slot),
            );
        } else {
            self.clouds[0].counters.rejected_refused += 1;
            self.end(now, slot, Route::Rejected, 0.0, 0.0, q);
        }
    }

    /// Applies what device `d` produced, in order, then refreshes its view.
    #[inline(always)]
    fn apply(&mut self, now: SimTime, d: usize, mut out: Outbox, q: &mut EventQueue<Event>) {
        let dev = DeviceId(d as u32);
        for o in out.drain(..) {
            match o {
                Out::FirstToken(slot) => self.reqs[slot as usize].first_token = now,
                Out::Finished { req, energy_j } => {
                    let r = &self.reqs[req as usize];
                    let (class, amount) = (r.arrival.class, r.amount);
                    self.gateway.release(now, dev, class, amount);
                    self.end(now, req, Route::Edge(dev), energy_j, 0.0, q);
                }
                Out::Schedule(at, ev) => q.push(at, Event::Device { dev, ev }),
                Out::TimedOut(req) => self.on_queue_timeout(now, dev, req, q),
            }
        }
        self.out = out;
        self.refresh_view(now, d);
    }

    /// Request `slot` left device `dev`'s queue at its queue timeout: it leaves the device's
    /// rate limit, and goes to the cloud or is rejected (`routing.on_queue_timeout`).
    fn on_queue_timeout(
        &mut self,
        now: SimTime,
        dev: DeviceId,
        slot: u32,
        q: &mut EventQueue<Event>,
    ) {
        let r = &self.reqs[slot as usize];
        let (class, amount) = (r.arrival.class, r.amount);
        self.gateway.release(now, dev, class, amount);
        if let Some(n) = self.class_timeouts.get_mut(usize::from(class)) {
            *n += 1;
        }
        match self.sc.routing.on_queue_timeout {
            OnQueueTimeout::Cloud => self.send_to_cloud(now, slot, q),
            OnQueueTimeout::Reject => {
                *self.rejected_by.queue_timeout.get_or_insert(0) += 1;
                self.end(now, slot, Route::Rejected, 0.0, 0.0, q);
            }
        }
    }

    /// A device's event (most of a run's events): inlined into the loop like the other
    /// per-event handlers. Left to the compiler, it was a call of its own, and inlining it
    /// saved 2-5 % of the CPU time (docs/performance.md, "The device's handler inlined").
    #[inline(always)]
    fn on_device(
        &mut self,
        now: SimTime,
        dev: DeviceId,
        ev: DeviceEvent,
        q: &mut EventQueue<Event>,
    ) {
        let d = dev.index();
        if self.prefetching && matches!(ev, DeviceEvent::DecodeDone(_)) {
            // The request it likely ends: its state is read only once the device has
            // decoded, and (at fleet scale) it is out of the caches. 64 bytes, not aligned to
            // a line: the lines of its start and of the next entry's (a hint: past the end it
            // does nothing).
            let req = self.devices[d].next_to_finish() as usize;
            prefetch_index::prefetch_index(&self.reqs, req);
            prefetch_index::prefetch_index(&self.reqs, req + 1);
            self.recorder.prefetch_end(dev);
        }
        let mut out = std::mem::take(&mut self.out);
        if self.devices[d].handle(now, ev, &mut out) {
            self.last_active = now;
            self.apply(now, d, out, q);
        } else {
            self.out = out;
        }
    }

    /// Device `dev` may fail or recover at `now` (its outage schedule changes).
    fn on_health(&mut self, now: SimTime, dev: u32, q: &mut EventQueue<Event>) {
        let Some(f) = self.faults.as_mut() else {
            return;
        };
        if self.in_flight == 0 {
            // No request in the system and none to come: the run is over.
            self.idle_events += 1;
            return;
        }
        self.last_active = now;
        let d = dev as usize;
        let (down, next) = f.state(d, now);
        if let Some(t) = next {
            q.push(t, Event::Health(dev));
        }
        if down == self.devices[d].is_down() {
            return;
        }
        let id = DeviceId(dev);
        // With periodic health checks the gateway learns of the change at the next check.
        let check = self.sc.routing.next_health_check(now);
        if let Some(t) = check {
            q.push(t, Event::HealthCheck(dev));
        }
        if !down {
            self.devices[d].recover(now);
            if check.is_none() {
                f.seen_down[d] = false;
                self.gateway.set_down(now, id, false);
            }
            self.refresh_view(now, d);
            return;
        }
        let mut dropped = std::mem::take(&mut f.dropped);
        f.wasted_energy_j += self.devices[d].fail(now, &mut dropped);
        f.counters.interrupted += dropped.len() as u64;
        if check.is_none() {
            f.seen_down[d] = true;
            self.gateway.set_down(now, id, true);
        }
        // Every dropped request leaves the device's rate limit at once, before the device is
        // ranked again (a dead board the gateway has not seen yet stays on offer, at the load
        // it now has) and before any of them is routed again.
        for &slot in &dropped {
            let r = &mut self.reqs[slot as usize];
            let (class, amount) = (r.arrival.class, r.amount);
            r.interrupted += 1;
            self.gateway.release(now, id, class, amount);
        }
        self.refresh_view(now, d);
        for &slot in &dropped {
            match self.sc.routing.on_device_failure {
                OnDeviceFailure::Reroute => self.route(now, slot, q),
                OnDeviceFailure::Cloud => self.send_to_cloud(now, slot, q),
                OnDeviceFailure::Reject => {
                    self.rejected_by.device_failure += 1;
                    self.end(now, slot, Route::Rejected, 0.0, 0.0, q);
                }
            }
        }
        dropped.clear();
        if let Some(f) = &mut self.faults {
            f.dropped = dropped;
        }
    }

    /// A health check of device `dev`: once `unhealthy_threshold` consecutive checks found
    /// it down (`healthy_threshold` found it up) where the gateway holds the other state, the
    /// gateway takes it as it is; until then the next check follows one period later.
    fn on_health_check(&mut self, now: SimTime, dev: u32, q: &mut EventQueue<Event>) {
        if self.in_flight == 0 {
            self.idle_events += 1;
            return;
        }
        self.last_active = now;
        let (d, id) = (dev as usize, DeviceId(dev));
        let down = self.devices[d].is_down();
        let Some(f) = self.faults.as_mut() else {
            return;
        };
        let (streak, last) = &mut f.checks[d];
        if *last == Some(now) {
            return;
        }
        *last = Some(now);
        if f.seen_down[d] == down {
            *streak = 0;
            return;
        }
        *streak += 1;
        let routing = &self.sc.routing;
        let needed = if down {
            routing.unhealthy_threshold
        } else {
            routing.healthy_threshold
        };
        if *streak < needed {
            q.push(now + routing.health_check_period(), Event::HealthCheck(dev));
            return;
        }
        *streak = 0;
        f.seen_down[d] = down;
        // A device passive health checking left out stays out until its time out ends.
        let view = down || f.ejected[d];
        if view != self.gateway.is_down(id) {
            self.gateway.set_down(now, id, view);
        }
        self.refresh_view(now, d);
    }

    /// The gateway learns that an attempt on device `dev` failed: after `routing.max_fails`
    /// in a row it leaves the device out of selection for `routing.fail_timeout_ms`.
    fn on_attempt_failed(&mut self, now: SimTime, dev: u32, q: &mut EventQueue<Event>) {
        let Some(f) = self.faults.as_mut() else {
            return;
        };
        let (d, id) = (dev as usize, DeviceId(dev));
        if f.ejected[d] {
            return;
        }
        f.fails[d] += 1;
        if f.fails[d] < self.sc.routing.max_fails {
            return;
        }
        f.fails[d] = 0;
        let until = now + self.sc.routing.fail_timeout();
        f.ejected[d] = true;
        f.counters.ejections += 1;
        q.push(until, Event::Readmit(dev));
        if !self.gateway.is_down(id) {
            self.gateway.set_down(now, id, true);
            self.refresh_view(now, d);
        }
    }

    /// Device `dev`'s time out ends: the gateway offers it again, unless its health checks
    /// hold it as down.
    fn on_readmit(&mut self, now: SimTime, dev: u32) {
        let Some(f) = self.faults.as_mut() else {
            return;
        };
        if self.in_flight == 0 {
            // The run is over: nothing to offer the device to.
            self.idle_events += 1;
            return;
        }
        let (d, id) = (dev as usize, DeviceId(dev));
        f.ejected[d] = false;
        let view = f.seen_down[d];
        if view != self.gateway.is_down(id) {
            self.gateway.set_down(now, id, view);
            self.refresh_view(now, d);
        }
    }

    fn on_cloud_done(&mut self, now: SimTime, slot: u32, q: &mut EventQueue<Event>) {
        let r = self.reqs[slot as usize];
        let (a, k) = (r.arrival, usize::from(r.provider));
        let spec = self.sc.cloud.provider(k);
        if spec.can_refuse() {
            self.clouds[k].done(now, a.class, a.prompt_tokens, a.output_tokens);
        }
        let cost = spec.cost_usd(a.prompt_tokens, a.output_tokens);
        self.end(now, slot, Route::Cloud, 0.0, cost, q);
    }

    /// Runs to completion: arrivals until the horizon, then until every request has ended.
    pub fn run(mut self) -> Result<RunOutput> {
        let mut stats = engine::run(&mut self, SimTime::MAX);
        // Health events after the last request changed nothing.
        stats.end = self.last_active;
        stats.events -= self.idle_events;
        assert_eq!(
            self.in_flight, 0,
            "conservation: every request ends exactly once"
        );
        if stats.end.as_secs_f64() > crate::time::CLOCK_LIMIT_S {
            return Err(Error::Clock {
                path: self.sc.source.clone(),
                at_s: stats.end.as_secs_f64(),
                limit_s: crate::time::CLOCK_LIMIT_S,
            });
        }
        // The observation window covers the arrival horizon and the drain after it.
        let horizon = self.sc.horizon();
        let end = if horizon == SimTime::MAX {
            stats.end
        } else {
            stats.end.max(horizon)
        };
        let t = end.as_secs_f64();
        // Each device's board and model: one allocation per group, shared by its devices.
        let names = self.sc.fleet.iter().flat_map(|g| {
            let shared: (Arc<str>, Arc<str>) = (g.board().into(), g.model.as_str().into());
            std::iter::repeat_n(shared, g.count as usize)
        });
        let timeouts = self.sc.has_queue_timeouts();
        let dev_stats: Vec<device::DeviceStats> =
            self.devices.iter_mut().map(|dev| dev.stats(end)).collect();
        // Sized first: a flat map gives no length, and a vector of 10,000 summaries grown by
        // doubling was reallocated (and moved) fourteen times.
        let mut devices = Vec::with_capacity(dev_stats.len());
        devices.extend(dev_stats.iter().zip(self.sc.devices()).zip(names).map(
            |((s, (group, name)), (board, model))| {
                let frac = |x: f64| if t > 0.0 { x / t } else { 0.0 };
                DeviceSummary {
                    name,
                    board,
                    model,
                    slots: group.slots,
                    served: s.completed,
                    output_tokens: s.output_tokens,
                    throttled: 0,
                    full: 0,
                    too_long: 0,
                    predicted_wait: None,
                    utilisation: frac(s.busy_us as f64 / 1e6),
                    slot_utilisation: frac(s.area_active / f64::from(group.slots)),
                    mean_in_system: frac(s.area_system),
                    mean_residence_ms: (s.completed > 0)
                        .then(|| s.residence_s / s.completed as f64 * 1000.0),
                    busy_s: s.busy_us as f64 / 1e6,
                    energy_j: s.energy_j,
                    idle_energy_j: s.idle_energy_j,
                    failures: group.outages.any().then_some(s.failures),
                    down_s: group.outages.any().then(|| s.down_us as f64 / 1e6),
                    queue_timeouts: timeouts.then_some(s.queue_timeouts),
                }
            },
        ));
        let device_faults = self.faults.as_ref().map(|f| {
            let failures = dev_stats.iter().map(|s| s.failures).sum();
            let down_us: u64 = dev_stats.iter().map(|s| s.down_us).sum();
            let n = dev_stats.len() as f64;
            let c = f.counters;
            DeviceFaults {
                failures,
                downtime_s: down_us as f64 / 1e6,
                availability: if t > 0.0 {
                    1.0 - down_us as f64 / 1e6 / (n * t)
                } else {
                    1.0
                },
                interrupted: c.interrupted,
                interrupted_then_edge: c.then_edge,
                interrupted_then_cloud: c.then_cloud,
                interrupted_then_rejected: c.then_rejected,
                wasted_energy_j: f.wasted_energy_j,
                attempts_on_down: self
                    .sc
                    .routing
                    .periodic_health_checks()
                    .then_some(c.attempts_on_down),
                ejections: (self.sc.routing.max_fails > 0).then_some(c.ejections),
            }
        });
        let cloud_faults = self
            .sc
            .cloud
            .can_refuse()
            .then(|| self.clouds[0].faults(end));
        let cloud_providers = (!self.sc.cloud.fallbacks.is_empty()).then(|| {
            self.sc
                .cloud
                .providers()
                .zip(&mut self.clouds)
                .map(|(spec, state)| (spec.model.clone(), state.faults(end)))
                .collect()
        });
        Ok(RunOutput {
            stats,
            end,
            devices,
            cloud_faults,
            device_faults,
            cloud_providers,
            // The cloud's own counter holds the requests it refused for good.
            rejected_by: Rejections {
                cloud_refused: self.clouds[0].counters.rejected_refused,
                queue_timeout: timeouts.then(|| self.rejected_by.queue_timeout.unwrap_or(0)),
                edge_only: self
                    .sc
                    .has_edge_only_classes()
                    .then(|| self.rejected_by.edge_only.unwrap_or(0)),
                ..self.rejected_by
            },
            class_timeouts: std::mem::take(&mut self.class_timeouts),
        })
    }
}

impl<R: Recorder> Model for World<'_, R> {
    type Event = Event;

    fn start(&mut self, q: &mut EventQueue<Event>) {
        for a in self.workload.start() {
            self.schedule_arrival(a, false, q);
        }
        if let Some(f) = &mut self.faults {
            for d in 0..f.outages.len() {
                if let Some(t) = f.first_check(d) {
                    q.push(t, Event::Health(d as u32));
                }
            }
        }
    }

    /// At fleet scale a device event's state is out of the cache: start fetching the device's
    /// lines and its load entry while the current event is handled (only in runs of
    /// `PREFETCH_DEVICES` devices or more: `wants_prefetch`).
    #[inline(always)]
    fn prefetch(&self, ev: Event) {
        if let Event::Device { dev, .. } = ev {
            self.devices[dev.index()].prefetch();
            self.gateway.prefetch(dev);
        }
    }

    fn wants_prefetch(&self) -> bool {
        self.prefetching
    }

    #[inline(always)]
    fn handle(&mut self, now: SimTime, ev: Event, q: &mut EventQueue<Event>) {
        // Health events and stale device events (superseded, or of a device that failed since)
        // change nothing: they do not extend the run.
        if !matches!(
            ev,
            Event::Health(_) | Event::HealthCheck(_) | Event::Device { .. } | Event::Readmit(_)
        ) {
            self.last_active = now;
        }
        match ev {
            Event::Arrival(slot) => self.on_arrival(now, slot, q),
            Event::Device { dev, ev } => self.on_device(now, dev, ev, q),
            Event::CloudDone(slot) => self.on_cloud_done(now, slot, q),
            Event::Retry(slot) => self.route(now, slot, q),
            Event::Resume { slot, used } => self.route_from(now, slot, used, q),
            Event::Health(dev) => self.on_health(now, dev, q),
            Event::HealthCheck(dev) => self.on_health_check(now, dev, q),
            Event::AttemptFailed(dev) => self.on_attempt_failed(now, dev, q),
            Event::Readmit(dev) => self.on_readmit(now, dev),
        }
    }
}

/// Runs `sc` once with `recorder` also receiving every event; returns the summary.
///
/// Fails only when the run outgrows the simulated clock ([`Error::Clock`]).
pub fn run_with<R: Recorder>(sc: &Scenario, extra: &mut R) -> Result<Summary> {
    let mut summary = SummaryRecorder::for_scenario(sc);
    let out = {
        let mut tee = crate::metrics::Tee(&mut summary, extra);
        World::new(sc, &mut tee).run()?
    };
    Ok(Summary::build(sc, &summary, out))
}

/// Runs `sc` once and returns its summary (see [`run_with`] for the one error).
pub fn run(sc: &Scenario) -> Result<Summary> {
    run_with(sc, &mut NoRecorder)
}

/// A recorder that ignores everything.
pub struct NoRecorder;
impl Recorder for NoRecorder {}
