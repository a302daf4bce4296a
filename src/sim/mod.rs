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

mod device;

use std::sync::Arc;

use crate::engine::{self, Classify, EventQueue, Model};
use crate::metrics::{DeviceSummary, Recorder, RequestRecord, Route, Summary, SummaryRecorder};
use crate::policy::rate_limit::{self, Admission, RateLimiter};
use crate::policy::selection::{self, SelectionPolicy};
use crate::rng::{RngStreams, SimRng};
use crate::scenario::file::{LimitScope, LimitUnit, RateLimitKind};
use crate::scenario::{CloudSpec, Scenario, WorkloadSpec};
use crate::time::{SimDuration, SimTime};
use crate::workload::{self, Arrival, Demand, NO_USER, Workload};
use device::DeviceState;

/// Simulation events: small, `Copy`, ids only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The request in slot `0` reaches the gateway.
    Arrival(u32),
    /// A serial-prefill batch of a device finished: its requests have their first token
    /// (ignored if `generation` is stale: requests joined the batch after it was scheduled).
    PrefillBatchDone {
        /// Device index.
        dev: u32,
        /// Generation at scheduling time.
        generation: u64,
    },
    /// A request finished parallel prefill on a device (first token).
    PrefillDone {
        /// Device index.
        dev: u32,
        /// Request slot.
        req: u32,
    },
    /// The earliest decoding stream of a device finishes (ignored if `generation` is stale).
    DecodeDone {
        /// Device index.
        dev: u32,
        /// Generation at scheduling time.
        generation: u64,
    },
    /// A cloud request finished.
    CloudDone(u32),
}

impl Classify for Event {
    fn class(&self) -> u8 {
        match self {
            Event::DecodeDone { .. } | Event::CloudDone(_) => 0,
            Event::PrefillDone { .. } | Event::PrefillBatchDone { .. } => 1,
            Event::Arrival(_) => 2,
        }
    }
}

/// An in-flight request (arena entry).
#[derive(Clone, Copy, Debug)]
struct Req {
    id: u64,
    arrival: Arrival,
    attempts: u32,
    device: u32,
    admitted: SimTime,
    first_token: SimTime,
    e_start: f64,
    amount: f64,
}

/// A run's raw results, before formatting.
pub struct RunOutput {
    /// Engine statistics.
    pub stats: engine::RunStats,
    /// End of the observation window (last event, at least the arrival horizon).
    pub end: SimTime,
    /// Per-device statistics.
    pub devices: Vec<DeviceSummary>,
    /// Name of the selection policy that ran.
    pub selection: &'static str,
}

/// The simulated system.
pub struct World<'a, R: Recorder> {
    sc: &'a Scenario,
    workload: Box<dyn Workload>,
    devices: Vec<DeviceState>,
    views: Vec<crate::device::DeviceView>,
    weights: Vec<f64>,
    policy: Box<dyn SelectionPolicy>,
    selection_rng: SimRng,
    limiter: Box<dyn RateLimiter>,
    /// Refresh rate-limit usage in the views before each decision: a per-device limit and a
    /// policy that reads load.
    refresh_usage: bool,
    tried: Vec<bool>,
    cloud: Option<CloudSpec>,
    reqs: Vec<Req>,
    free: Vec<u32>,
    next_id: u64,
    in_flight: u64,
    done_buf: Vec<u32>,
    /// Scratch buffer for a finished prefill batch.
    batch_buf: Vec<u32>,
    /// The recorder receiving every request's end.
    pub recorder: &'a mut R,
}

/// Builds the workload of a scenario with streams from `seed`.
pub fn build_workload(sc: &Scenario, streams: &RngStreams) -> Box<dyn Workload> {
    let demand = Demand::new(sc.classes.clone());
    match &sc.workload {
        WorkloadSpec::Poisson { rate_rps } => Box::new(workload::Poisson::new(
            *rate_rps, sc.horizon, demand, streams,
        )),
        WorkloadSpec::Closed {
            users,
            think_time_s,
        } => Box::new(workload::Closed::new(
            *users,
            *think_time_s,
            sc.horizon,
            demand,
            streams,
        )),
        WorkloadSpec::Bursty(s) => Box::new(workload::Bursty::new(*s, sc.horizon, demand, streams)),
        WorkloadSpec::Trace {
            rows,
            time_scale,
            max_requests,
        } => Box::new(workload::TraceReplay::new(
            Arc::clone(rows),
            *time_scale,
            *max_requests,
            sc.horizon,
            demand,
            streams,
        )),
    }
}

fn build_limiter(sc: &Scenario) -> Box<dyn RateLimiter> {
    let r = &sc.rate_limit;
    let keys = match r.scope {
        LimitScope::Device => sc.devices.len(),
        LimitScope::Cluster => 1,
    };
    match r.kind {
        RateLimitKind::None => Box::new(rate_limit::Unlimited),
        RateLimitKind::SlidingWindow => {
            Box::new(rate_limit::SlidingWindow::new(r.window, r.limit, keys))
        }
        RateLimitKind::TokenBucket => {
            Box::new(rate_limit::TokenBucket::new(r.limit, r.refill_per_s, keys))
        }
        RateLimitKind::Concurrency => Box::new(rate_limit::ConcurrencyCap::new(r.limit, keys)),
    }
}

impl<'a, R: Recorder> World<'a, R> {
    /// A fresh system for `sc`, seeded with `sc.seed`.
    pub fn new(sc: &'a Scenario, recorder: &'a mut R) -> Self {
        let streams = RngStreams::new(sc.seed);
        let devices: Vec<DeviceState> = sc.devices.iter().map(DeviceState::new).collect();
        let weights: Vec<f64> = sc.devices.iter().map(|d| d.weight).collect();
        let views = devices
            .iter()
            .zip(&weights)
            .map(|(d, w)| d.view(*w))
            .collect();
        let policy = selection::build(sc.selection);
        World {
            sc,
            workload: build_workload(sc, &streams),
            tried: vec![false; devices.len()],
            devices,
            views,
            weights,
            refresh_usage: policy.reads_load()
                && sc.rate_limit.kind != RateLimitKind::None
                && sc.rate_limit.scope == LimitScope::Device,
            policy,
            selection_rng: streams.stream("selection"),
            limiter: build_limiter(sc),
            cloud: sc.cloud.enabled.then(|| sc.cloud.clone()),
            reqs: Vec::new(),
            free: Vec::new(),
            next_id: 0,
            in_flight: 0,
            done_buf: Vec::new(),
            batch_buf: Vec::new(),
            recorder,
        }
    }

    fn alloc(&mut self, arrival: Arrival) -> u32 {
        let r = Req {
            id: 0,
            arrival,
            attempts: 0,
            device: u32::MAX,
            admitted: SimTime::ZERO,
            first_token: SimTime::ZERO,
            e_start: 0.0,
            amount: 0.0,
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

    fn schedule_arrival(&mut self, a: Arrival, q: &mut EventQueue<Event>) {
        let slot = self.alloc(a);
        q.push(a.at, Event::Arrival(slot));
    }

    fn refresh_view(&mut self, now: SimTime, d: usize) {
        let usage = self.views[d].limit_usage;
        self.views[d] = self.devices[d].view(self.weights[d]);
        self.views[d].limit_usage = usage;
        if R::WANTS_DEVICE_STATE {
            let dev = &self.devices[d];
            let active = dev.active();
            let power = if active > 0 {
                dev.model.busy_w(active)
            } else {
                dev.model.idle_w()
            };
            self.recorder
                .on_device(now, d as u32, active, dev.queue.len() as u32, power);
        }
    }

    /// Ends request `slot`: records it, frees the slot, and lets a closed-loop user go on.
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
            self.sc.edge_rtt
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
        };
        self.recorder.on_end(now, &record);
        self.free.push(slot);
        self.in_flight -= 1;
        if r.arrival.user != NO_USER {
            // The user sees the response after the network round trip.
            if let Some(next) = self.workload.after_done(now + rtt, r.arrival.user) {
                self.schedule_arrival(next, q);
            }
        }
    }

    fn on_arrival(&mut self, now: SimTime, slot: u32, q: &mut EventQueue<Event>) {
        let id = self.next_id;
        self.next_id += 1;
        self.reqs[slot as usize].id = id;
        self.recorder.on_arrival(now, id);
        let arrival = self.reqs[slot as usize].arrival;
        if let Some(next) = self.workload.after_arrival(&arrival) {
            self.schedule_arrival(next, q);
        }

        let amount = match self.sc.rate_limit.unit {
            LimitUnit::Requests => 1.0,
            LimitUnit::Tokens => {
                f64::from(arrival.prompt_tokens) + f64::from(arrival.output_tokens)
            }
        };
        self.tried.fill(false);
        if self.refresh_usage {
            for (d, view) in self.views.iter_mut().enumerate() {
                view.limit_usage = self.limiter.usage(now, d);
            }
        }
        let mut attempts = 0;
        while attempts < self.sc.max_attempts {
            let Some(d) = self
                .policy
                .select(&self.views, &self.tried, &mut self.selection_rng)
            else {
                break;
            };
            self.tried[d] = true;
            attempts += 1;
            let key = match self.sc.rate_limit.scope {
                LimitScope::Device => d,
                LimitScope::Cluster => 0,
            };
            if self.limiter.check(now, key, amount) == Admission::Throttle {
                self.recorder.on_refused(now, d as u32, true);
                continue;
            }
            if !self.views[d].has_room() {
                self.recorder.on_refused(now, d as u32, false);
                continue;
            }
            self.limiter.record(now, key, amount);
            self.recorder.on_admit(now, d as u32);
            let r = &mut self.reqs[slot as usize];
            r.attempts = attempts;
            r.device = d as u32;
            r.admitted = now;
            r.amount = amount;
            self.admit(now, d, slot, q);
            return;
        }
        self.reqs[slot as usize].attempts = attempts;
        match &self.cloud {
            Some(c) => {
                let r = &mut self.reqs[slot as usize];
                r.first_token = now + SimDuration::from_secs_f64(c.ttft_s());
                let done = now + SimDuration::from_secs_f64(c.e2e_s(arrival.output_tokens));
                q.push(done, Event::CloudDone(slot));
            }
            None => self.end(now, slot, Route::Rejected, 0.0, 0.0, q),
        }
    }

    fn admit(&mut self, now: SimTime, d: usize, slot: u32, q: &mut EventQueue<Event>) {
        let dev = &mut self.devices[d];
        dev.advance(now);
        if dev.active() < dev.slots {
            if self.start(now, d, slot, q) {
                // Decoding now waits for this prefill: replace its pending completion.
                self.reschedule(now, d, q);
                return;
            }
        } else {
            dev.queue.push_back(slot);
        }
        self.refresh_view(now, d);
    }

    /// Gives `slot` a slot of device `d` (one is free; `advance` done) and starts its prefill.
    /// With serial prefill it joins the batch that starts at this instant, or starts one, or
    /// waits for the next batch if one is running. Returns whether decoding on the device has
    /// just stopped for a new batch.
    fn start(&mut self, now: SimTime, d: usize, slot: u32, q: &mut EventQueue<Event>) -> bool {
        let dev = &mut self.devices[d];
        dev.prefilling += 1;
        self.reqs[slot as usize].e_start = dev.e_acc;
        if !dev.serial_prefill {
            let prompt = self.reqs[slot as usize].arrival.prompt_tokens;
            let t = SimDuration::from_secs_f64(dev.model.prefill_s(prompt));
            q.push(
                now + t,
                Event::PrefillDone {
                    dev: d as u32,
                    req: slot,
                },
            );
            return false;
        }
        let busy = dev.prefill_busy();
        if busy && dev.prefill_started < now {
            // The batch has started: wait for the next one.
            dev.prefill_waiting.push_back(slot);
            return false;
        }
        if !busy {
            dev.open_batch(now);
        }
        dev.join_batch(slot, self.reqs[slot as usize].arrival.prompt_tokens);
        self.schedule_batch(now, d, q);
        !busy && self.devices[d].decoding_streams() > 0
    }

    /// (Re)schedules the end of device `d`'s prefill batch, superseding an earlier event.
    fn schedule_batch(&mut self, now: SimTime, d: usize, q: &mut EventQueue<Event>) {
        let dev = &mut self.devices[d];
        dev.prefill_generation += 1;
        let t = SimDuration::from_secs_f64(dev.model.prefill_s(dev.prefill_tokens));
        q.push(
            dev.prefill_started.max(now) + t,
            Event::PrefillBatchDone {
                dev: d as u32,
                generation: dev.prefill_generation,
            },
        );
    }

    /// Request `slot` has its first token on device `d` (`advance` done): it starts decoding,
    /// or completes if that was its only token.
    fn first_token(&mut self, now: SimTime, d: usize, slot: u32, q: &mut EventQueue<Event>) {
        if !self.start_decoding(now, d, slot) {
            self.finish(now, d, slot, q);
        }
    }

    /// Records `slot`'s first token and starts decoding the rest; false if it had one token.
    fn start_decoding(&mut self, now: SimTime, d: usize, slot: u32) -> bool {
        let r = &mut self.reqs[slot as usize];
        r.first_token = now;
        let remaining = r.arrival.output_tokens.saturating_sub(1);
        if remaining > 0 {
            // The prompt and the first token are in the context.
            let context = r.arrival.prompt_tokens.saturating_add(1);
            self.devices[d].start_decode(slot, remaining, context);
        }
        remaining > 0
    }

    fn on_prefill_done(&mut self, now: SimTime, d: usize, slot: u32, q: &mut EventQueue<Event>) {
        let dev = &mut self.devices[d];
        dev.advance(now);
        dev.prefilling -= 1;
        self.first_token(now, d, slot, q);
        self.reschedule(now, d, q);
    }

    fn on_prefill_batch_done(
        &mut self,
        now: SimTime,
        d: usize,
        generation: u64,
        q: &mut EventQueue<Event>,
    ) {
        let dev = &mut self.devices[d];
        if dev.prefill_generation != generation {
            return; // superseded: requests joined the batch
        }
        dev.advance(now);
        let mut batch = std::mem::take(&mut self.batch_buf);
        dev.end_batch(&mut batch);
        // Those with more tokens start decoding; single-token ones stay in `batch`.
        batch.retain(|&slot| !self.start_decoding(now, d, slot));
        // The waiting prompts form the next batch, with the streams that decode from now on;
        // requests that get a slot at this instant (freed below) join it.
        if !self.devices[d].prefill_waiting.is_empty() {
            self.devices[d].open_batch(now);
            while let Some(slot) = self.devices[d].prefill_waiting.pop_front() {
                let prompt = self.reqs[slot as usize].arrival.prompt_tokens;
                self.devices[d].join_batch(slot, prompt);
            }
            self.schedule_batch(now, d, q);
        }
        // Single-token requests complete now, freeing slots for queued requests.
        for &slot in &batch {
            self.finish(now, d, slot, q);
        }
        self.batch_buf = batch;
        self.reschedule(now, d, q);
    }

    fn on_decode_done(
        &mut self,
        now: SimTime,
        d: usize,
        generation: u64,
        q: &mut EventQueue<Event>,
    ) {
        if self.devices[d].generation != generation {
            return; // superseded by a later reschedule
        }
        let dev = &mut self.devices[d];
        dev.advance(now);
        let mut done = std::mem::take(&mut self.done_buf);
        dev.finished(&mut done);
        for slot in done.drain(..) {
            self.finish(now, d, slot, q);
        }
        self.done_buf = done;
        self.reschedule(now, d, q);
    }

    /// A request completes on device `d` (`advance` done): record it, release the limiter,
    /// and start waiting requests on the freed slot.
    fn finish(&mut self, now: SimTime, d: usize, slot: u32, q: &mut EventQueue<Event>) {
        let r = self.reqs[slot as usize];
        let dev = &mut self.devices[d];
        dev.completed += 1;
        dev.residence_s += now.since(r.admitted).as_secs_f64();
        let energy = dev.e_acc - r.e_start;
        let key = match self.sc.rate_limit.scope {
            LimitScope::Device => d,
            LimitScope::Cluster => 0,
        };
        self.limiter.release(now, key, r.amount);
        self.end(now, slot, Route::Edge(d as u32), energy, 0.0, q);
        while self.devices[d].active() < self.devices[d].slots {
            let Some(next) = self.devices[d].queue.pop_front() else {
                break;
            };
            self.start(now, d, next, q);
        }
    }

    fn reschedule(&mut self, now: SimTime, d: usize, q: &mut EventQueue<Event>) {
        if let Some((dt, generation)) = self.devices[d].next_decode() {
            q.push(
                now + dt,
                Event::DecodeDone {
                    dev: d as u32,
                    generation,
                },
            );
        }
        self.refresh_view(now, d);
    }

    fn on_cloud_done(&mut self, now: SimTime, slot: u32, q: &mut EventQueue<Event>) {
        let a = self.reqs[slot as usize].arrival;
        let cost = self
            .cloud
            .as_ref()
            .map_or(0.0, |c| c.cost_usd(a.prompt_tokens, a.output_tokens));
        self.end(now, slot, Route::Cloud, 0.0, cost, q);
    }

    /// Runs to completion: arrivals until the horizon, then until every request has ended.
    pub fn run(mut self) -> RunOutput {
        let stats = engine::run(&mut self, SimTime::MAX);
        assert_eq!(
            self.in_flight, 0,
            "conservation: every request ends exactly once"
        );
        // The observation window covers the arrival horizon and the drain after it.
        let end = if self.sc.horizon == SimTime::MAX {
            stats.end
        } else {
            stats.end.max(self.sc.horizon)
        };
        let t = end.as_secs_f64();
        let devices = self
            .devices
            .iter_mut()
            .zip(&self.sc.devices)
            .map(|(dev, spec)| {
                dev.advance(end);
                let frac = |x: f64| if t > 0.0 { x / t } else { 0.0 };
                DeviceSummary {
                    name: spec.name.clone(),
                    board: spec.board.clone(),
                    model: spec.model.clone(),
                    slots: spec.slots,
                    served: dev.completed,
                    output_tokens: 0,
                    throttled: 0,
                    full: 0,
                    utilisation: frac(dev.busy_us as f64 / 1e6),
                    slot_utilisation: frac(dev.area_active / f64::from(spec.slots)),
                    mean_in_system: frac(dev.area_system),
                    mean_residence_ms: (dev.completed > 0)
                        .then(|| dev.residence_s / dev.completed as f64 * 1000.0),
                    busy_s: dev.busy_us as f64 / 1e6,
                    energy_j: dev.energy_j,
                    idle_energy_j: dev.idle_energy_j,
                }
            })
            .collect();
        RunOutput {
            stats,
            end,
            devices,
            selection: self.policy.name(),
        }
    }
}

impl<R: Recorder> Model for World<'_, R> {
    type Event = Event;

    fn start(&mut self, q: &mut EventQueue<Event>) {
        for a in self.workload.start() {
            self.schedule_arrival(a, q);
        }
    }

    fn handle(&mut self, now: SimTime, ev: Event, q: &mut EventQueue<Event>) {
        match ev {
            Event::Arrival(slot) => self.on_arrival(now, slot, q),
            Event::PrefillDone { dev, req } => self.on_prefill_done(now, dev as usize, req, q),
            Event::PrefillBatchDone { dev, generation } => {
                self.on_prefill_batch_done(now, dev as usize, generation, q)
            }
            Event::DecodeDone { dev, generation } => {
                self.on_decode_done(now, dev as usize, generation, q)
            }
            Event::CloudDone(slot) => self.on_cloud_done(now, slot, q),
        }
    }
}

/// Runs `sc` once with `recorder` also receiving every event; returns the summary.
pub fn run_with<R: Recorder>(sc: &Scenario, extra: &mut R) -> Summary {
    let mut summary = SummaryRecorder::for_scenario(sc);
    let out = {
        let mut tee = crate::metrics::Tee(&mut summary, extra);
        World::new(sc, &mut tee).run()
    };
    Summary::build(sc, &summary, out)
}

/// Runs `sc` once and returns its summary.
pub fn run(sc: &Scenario) -> Summary {
    run_with(sc, &mut NoRecorder)
}

/// A recorder that ignores everything.
pub struct NoRecorder;
impl Recorder for NoRecorder {}
