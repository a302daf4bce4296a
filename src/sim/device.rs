//! One edge device: slots, a waiting queue, prefill (serial batches or parallel) and
//! processor-shared decoding. All state is private: the [`crate::sim::World`] admits requests
//! and hands the device its own events; the device answers through an [`Outbox`] (requests
//! that got their first token, requests that finished with their energy, events to schedule)
//! in the order things happen.
//!
//! Decoding streams share the aggregate throughput D(n) equally, so every stream advances at
//! D(n)/n tokens/s. Instead of updating each stream, the device keeps a virtual clock `v`: the
//! tokens any one stream has decoded since the device started. A stream that starts decoding
//! `r` tokens at virtual time `v0` finishes when `v` reaches `v0 + r`; the next finish is the
//! smallest target, kept up to date as streams start and end. Energy per request uses the
//! same trick with `e_acc`, the energy one in-service request has been charged so far.
//!
//! Context length: with γ = `decode_s_per_context_token` > 0 one decode step of the n streams
//! takes τ = n/D(n) + γ·C, where C is the context all of them hold. A stream that started
//! decoding at virtual time v0 with c0 context tokens holds c0 + (v − v0), so C = K + n·v with
//! K = Σ (c0 − v0) kept as a running sum, and dv/dt = 1/(a + b·v) with a = n/D(n) + γ·K and
//! b = γ·n: time and virtual clock are related by a quadratic, solved exactly both ways.
//!
//! Serial prefill (llama.cpp's unified batch): the prompts that get slots at the same instant
//! are prefilled together in one batch; prompts that get a slot while a batch runs hold it and
//! wait for the next batch; the virtual clock stands still while a batch runs. Decode steps
//! run in lockstep, one token per stream, so they end where the virtual clock crosses
//! `origin + k`, where the origin is the clock when decoding last resumed (at the end of the
//! last batch): a batch opened while streams decode starts when the current step ends.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::device::{DeviceGroup, DeviceModel, PrefillMode};
use crate::time::{SimDuration, SimTime};

/// An event of one device, scheduled through the [`Outbox`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceEvent {
    /// Request `0` finished parallel prefill (first token).
    PrefillDone(u32),
    /// The serial-prefill batch of generation `0` finished (ignored if superseded: requests
    /// joined the batch after it was scheduled).
    BatchDone(u32),
    /// The earliest decoding stream finishes (ignored if generation `0` is stale).
    DecodeDone(u32),
    /// Request `0`, queued its queue timeout ago, leaves the queue if it is still there
    /// (ignored if it got a slot or the device failed since).
    QueueTimeout(u32),
}

/// What a device operation produced, in the order it happened.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Out {
    /// The request got its first token now.
    FirstToken(u32),
    /// The request finished now, having been charged `energy_j` \[J\].
    Finished {
        /// Request slot.
        req: u32,
        /// Energy attributed to it.
        energy_j: f64,
    },
    /// An event of this device to schedule.
    Schedule(SimTime, DeviceEvent),
    /// The request left the queue now, having waited its queue timeout for a slot.
    TimedOut(u32),
}

/// The answers of one device operation.
pub type Outbox = Vec<Out>;

/// A request on the device.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    /// Request slot (the simulator's arena index).
    pub req: u32,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Output tokens.
    pub output_tokens: u32,
    /// Request class (its queue timeout and priority).
    pub class: u16,
    /// When the device admitted it (to a slot or its queue).
    pub admitted: SimTime,
}

/// Where a request holding a slot stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Parallel prefill, ending at `Stream::at` \[µs\].
    Prefill,
    /// Serial prefill: in the batch in progress (or about to start).
    Batch,
    /// Serial prefill: waiting for the next batch.
    Waiting,
    /// Decoding since the virtual clock stood at `f64::from_bits(Stream::at)`.
    Decoding,
    /// Done: it leaves at [`Device::finish`], in the same operation.
    Done,
}

/// A request holding a slot. One list of these replaces separate lists of requests in
/// service, in the batch, waiting for it and decoding: at fleet scale every cache line a
/// device event touches costs a miss (docs/model.md, "Cost at fleet scale"). The [`Job`]'s
/// fields are inlined so that the phase fills their padding: 48 bytes, not 56.
#[derive(Clone, Copy, Debug)]
struct Stream {
    req: u32,
    prompt_tokens: u32,
    output_tokens: u32,
    phase: Phase,
    /// The device's count of slot grants when it got its slot: serial batches take their
    /// requests in this order.
    seq: u64,
    /// When the device admitted it.
    admitted: SimTime,
    /// `e_acc` when it got the slot.
    e_start: f64,
    /// `Prefill`: when it ends \[µs\]; `Decoding`: the bits of the virtual clock when it
    /// started. Its end and its context offset follow exactly (`target`, `offset`).
    at: u64,
}

impl Stream {
    /// Decoding: the virtual time at which its last token is out (v0 + output − 1).
    fn target(&self) -> f64 {
        f64::from_bits(self.at) + f64::from(self.output_tokens.saturating_sub(1))
    }

    /// Decoding: its share of K, c0 − v0 (the prompt and the first token are in the
    /// context when it starts).
    fn offset(&self) -> f64 {
        f64::from(self.prompt_tokens.saturating_add(1)) - f64::from_bits(self.at)
    }
}

/// A few stream indices, on the stack unless there are more than 8 (a device
/// operation usually handles one or two).
enum Few {
    Inline([u32; 8], usize),
    Heap(Vec<u32>),
}

impl Few {
    #[inline]
    fn new() -> Few {
        Few::Inline([0; 8], 0)
    }

    #[inline]
    fn push(&mut self, i: u32) {
        match self {
            Few::Inline(a, n) if *n < a.len() => {
                a[*n] = i;
                *n += 1;
            }
            _ => self.push_spilled(i),
        }
    }

    #[cold]
    fn push_spilled(&mut self, i: u32) {
        match self {
            Few::Inline(a, n) => {
                let mut v = a[..*n].to_vec();
                v.push(i);
                *self = Few::Heap(v);
            }
            Few::Heap(v) => v.push(i),
        }
    }

    #[inline]
    fn as_slice(&self) -> &[u32] {
        match self {
            Few::Inline(a, n) => &a[..*n],
            Few::Heap(v) => v,
        }
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [u32] {
        match self {
            Few::Inline(a, n) => &mut a[..*n],
            Few::Heap(v) => v,
        }
    }
}

/// `secs` rounded up to whole microseconds (so that the virtual clock has reached a target
/// when an event scheduled for it fires).
fn ceil_us(secs: f64) -> SimDuration {
    let us = crate::fmath::ceil(secs * 1e6);
    SimDuration(if us >= u64::MAX as f64 {
        u64::MAX
    } else {
        us as u64
    })
}

/// What a device measured over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DeviceStats {
    /// Requests served to completion.
    pub completed: u64,
    /// Output tokens of those requests.
    pub output_tokens: u64,
    /// Time with at least one request in service \[µs\].
    pub busy_us: u64,
    /// Energy, idle included \[J\].
    pub energy_j: f64,
    /// Energy drawn while idle \[J\].
    pub idle_energy_j: f64,
    /// ∫ requests in service dt \[request·s\].
    pub area_active: f64,
    /// ∫ (in service + queued) dt \[request·s\].
    pub area_system: f64,
    /// Σ residence (admission to completion) \[s\].
    pub residence_s: f64,
    /// Time down (failed) \[µs\].
    pub down_us: u64,
    /// Failures.
    pub failures: u64,
    /// Requests it held (in service or queued) when it failed.
    pub interrupted: u64,
    /// Requests that left its queue at their queue timeout.
    pub queue_timeouts: u64,
}

/// What every device of a group shares: one copy per group, so that it stays in the cache.
#[derive(Debug)]
pub struct DeviceKind {
    model: Arc<dyn DeviceModel>,
    slots: u32,
    queue_capacity: u32,
    /// Context per slot \[tokens\]: a request needs prompt + output within it.
    ctx_tokens: u32,
    /// Serial prefill: prompts in batches, and decoding waits while a batch runs.
    serial: bool,
    /// γ \[s per decode step per context token\].
    context_s: f64,
    /// D(n) for n = 1..=slots, and the busy power with 1..=slots requests in service: the
    /// model's answers, asked once (its methods are pure), so that an event reads a table
    /// instead of calling through `dyn` (docs/performance.md, "The hot path inlined").
    decode_tps: Box<[f64]>,
    busy_w: Box<[f64]>,
    idle_w: f64,
    /// The longest a request of each class waits in the queue (`None` for all when no class
    /// has a limit: [`crate::scenario::Scenario::queue_timeouts`]).
    queue_timeouts: Option<Arc<[Option<SimDuration>]>>,
    /// Every class has the same queue timeout and priority: a request still queued at its
    /// timeout is at the head of the queue.
    uniform_timeouts: bool,
    /// Each class's queue priority (`None` when all are equal: first come, first served).
    priorities: Option<Arc<[u8]>>,
}

impl DeviceKind {
    /// The devices of `group`, whose queued requests of class `c` wait at most
    /// `queue_timeouts[c]` (`None`: no class has a limit) and are served in order of
    /// `priorities[c]`, highest first (`None`: first come, first served). Both lists are
    /// shared by every group (one entry per class: many classes on many groups would
    /// otherwise hold classes × groups).
    pub fn new(
        group: &DeviceGroup,
        queue_timeouts: Option<&Arc<[Option<SimDuration>]>>,
        priorities: Option<&Arc<[u8]>>,
    ) -> Arc<DeviceKind> {
        let model = group.perf.clone();
        Arc::new(DeviceKind {
            slots: group.slots,
            queue_capacity: group.queue_capacity,
            ctx_tokens: group.ctx_tokens,
            serial: model.prefill_mode() == PrefillMode::Serial,
            context_s: model.decode_s_per_context_token(),
            decode_tps: (1..=group.slots).map(|n| model.decode_tps(n)).collect(),
            busy_w: (1..=group.slots).map(|n| model.busy_w(n)).collect(),
            idle_w: model.idle_w(),
            // With priorities, a request may be queued ahead of older ones, which then time
            // out behind the head.
            uniform_timeouts: priorities.is_none()
                && queue_timeouts.is_none_or(|t| t.windows(2).all(|w| w[0] == w[1])),
            queue_timeouts: queue_timeouts.cloned(),
            priorities: priorities.cloned(),
            model,
        })
    }

    /// The longest a request of `class` waits in the queue (`None`: no limit).
    #[inline(always)]
    fn queue_timeout(&self, class: u16) -> Option<SimDuration> {
        self.queue_timeouts
            .as_ref()
            .and_then(|t| t.get(usize::from(class)).copied().flatten())
    }

    /// The queue priority of `class` (0 without priorities).
    #[inline(always)]
    fn priority(&self, class: u16) -> u8 {
        self.priorities
            .as_ref()
            .and_then(|p| p.get(usize::from(class)).copied())
            .unwrap_or(0)
    }

    /// D(`n`) \[tokens/s\] (the model's `decode_tps`).
    #[inline(always)]
    fn decode_tps(&self, n: u32) -> f64 {
        kept(&self.decode_tps, n).unwrap_or_else(|| self.model.decode_tps(n))
    }

    /// Power with `active` requests in service \[W\] (the model's `busy_w`).
    #[inline(always)]
    fn busy_w(&self, active: u32) -> f64 {
        kept(&self.busy_w, active).unwrap_or_else(|| self.model.busy_w(active))
    }
}

/// The answer kept for `n` = 1..=len in `table`, if any.
#[inline(always)]
fn kept(table: &[f64], n: u32) -> Option<f64> {
    (n as usize)
        .checked_sub(1)
        .and_then(|i| table.get(i))
        .copied()
}

// Per-device counts of streams are `u16`.
const _: () = assert!(crate::device::fleet::MAX_SLOTS <= u16::MAX as u32);

/// One device's state, laid out by hand in four cache lines: the integrals every event
/// updates, what every event reads, the request lists, and what changes once per request or
/// at failures. At fleet scale a device is out of the cache at each of its events, and each
/// line an event touches is a miss (docs/model.md, "Cost at fleet scale").
#[repr(C, align(64))]
pub struct Device {
    // Line 0: the integrals (`advance`).
    /// Time up to which the integrals are done.
    last: SimTime,
    /// Energy charged to each in-service request so far \[J\].
    e_acc: f64,
    /// Virtual decode clock \[tokens per stream\].
    v: f64,
    /// Time with at least one request in service \[µs\].
    busy_us: u64,
    /// Energy, idle included \[J\].
    energy_j: f64,
    /// ∫ requests in service dt \[request·s\].
    area_active: f64,
    /// ∫ (in service + queued) dt \[request·s\].
    area_system: f64,
    /// Energy drawn while idle \[J\].
    idle_energy_j: f64,
    // Line 1: read at every event.
    kind: Arc<DeviceKind>,
    /// K = Σ (c0 − v0) over decoding streams \[tokens\].
    context_k: f64,
    /// Serial prefill: when the batch in progress started (or, opened during a decode step,
    /// will start: at the end of that step).
    batch_start: SimTime,
    /// Serial prefill: while a batch is in progress, the virtual clock at which decoding stops
    /// for it (a step end); after it, the clock at which decoding resumed, so steps end at
    /// +1, +2, ... from it. That is the clock at the batch's end, not the stop: a stream's end
    /// at the instant decoding stopped can round the clock an ulp past it.
    stall_v: f64,
    /// The earliest end of a decoding stream on the virtual clock (∞: none decodes).
    next_end: f64,
    /// Generation of the pending decode-completion event (wrapping, as `batch_generation`).
    generation: u32,
    /// Serial prefill: generation of the pending batch-completion event (wrapping: an event
    /// is stale when its generation differs, and 2^32 reschedules never pass while one waits).
    batch_generation: u32,
    /// Serial prefill: tokens of the batch in progress (its prompts and one per decoding
    /// stream).
    batch_tokens: u32,
    /// Streams before their first token (prefilling or waiting to).
    prefilling: u16,
    /// Streams decoding.
    decoding: u16,
    /// Serial prefill: streams in the batch in progress (0: none).
    in_batch: u16,
    /// Serial prefill: streams waiting for the next batch.
    waiting: u16,
    /// Failed: takes nothing, draws no power.
    down: bool,
    // Line 2: the requests.
    /// Requests holding a slot.
    streams: Vec<Stream>,
    /// Admitted requests waiting for a slot, the next to get one first (in order of arrival,
    /// by priority first when classes have priorities).
    queue: VecDeque<Job>,
    /// Slot grants so far (`Stream::seq`).
    granted: u64,
    // Line 3: once per request, or at failures.
    /// The request of the earliest decoding stream, as last found (a hint:
    /// [`Device::next_to_finish`]).
    next_req: u32,
    /// Requests served to completion.
    completed: u64,
    /// Output tokens of those requests.
    output_tokens: u64,
    /// Σ residence (admission to completion) \[s\].
    residence_s: f64,
    /// Time down (failed) \[µs\].
    down_us: u64,
    /// Failures.
    failures: u64,
    /// Requests it held (in service or queued) when it failed.
    interrupted: u64,
    /// Requests that left the queue at the queue timeout.
    queue_timeouts: u64,
}

impl Device {
    /// Asks the CPU to start fetching the device's four lines (a hint; see
    /// [`crate::engine::Model::prefetch`]). Naming a field computes its address without
    /// reading it.
    #[inline(always)]
    pub fn prefetch(&self) {
        use prefetch_index::prefetch_index;
        use std::slice::from_ref;
        prefetch_index(from_ref(&self.last), 0);
        prefetch_index(from_ref(&self.kind), 0);
        prefetch_index(from_ref(&self.streams), 0);
        prefetch_index(from_ref(&self.completed), 0);
    }

    /// The request that a valid decode completion ends first: that of the earliest decoding
    /// stream when the device last looked (a hint for prefetching its state; it may name a
    /// request that has left, and names any when none decodes).
    #[inline(always)]
    pub fn next_to_finish(&self) -> u32 {
        self.next_req
    }

    /// An idle device of `kind`.
    pub fn new(kind: Arc<DeviceKind>) -> Device {
        Device {
            last: SimTime::ZERO,
            e_acc: 0.0,
            v: 0.0,
            busy_us: 0,
            energy_j: 0.0,
            area_active: 0.0,
            area_system: 0.0,
            idle_energy_j: 0.0,
            context_k: 0.0,
            batch_start: SimTime::ZERO,
            stall_v: 0.0,
            next_end: f64::INFINITY,
            generation: 0,
            batch_generation: 0,
            batch_tokens: 0,
            next_req: 0,
            prefilling: 0,
            decoding: 0,
            in_batch: 0,
            waiting: 0,
            down: false,
            streams: Vec::with_capacity(kind.slots as usize),
            queue: VecDeque::new(),
            granted: 0,
            completed: 0,
            output_tokens: 0,
            residence_s: 0.0,
            down_us: 0,
            failures: 0,
            interrupted: 0,
            queue_timeouts: 0,
            kind,
        }
    }

    /// Parallel slots.
    pub fn slots(&self) -> u32 {
        self.kind.slots
    }

    /// Requests in service (prefill or decode).
    pub fn active(&self) -> u32 {
        u32::from(self.prefilling) + u32::from(self.decoding)
    }

    /// Requests waiting for a slot.
    pub fn queued(&self) -> u32 {
        self.queue.len() as u32
    }

    /// The wait for a slot that a request admitted now is predicted \[s\] (predictive
    /// admission, docs/model.md): none while a slot is free; else `(queued + 1) / slots`
    /// mean service times, the mean service time measured as the device's ∫ requests in
    /// service dt over the requests it completed (Little's law for its slots), both up to its
    /// last event. Before its first completion, over the requests in service: the time they
    /// have been served so far, a lower bound of their service times; and the wait is more
    /// than 0 (every service takes time), so that a bound of 0 admits only to a free slot
    /// from the start (it admitted to the queue until the first completion). Reads the
    /// device only.
    pub fn predicted_wait_s(&self) -> f64 {
        let slots = self.kind.slots;
        if self.active() < slots {
            return 0.0;
        }
        let service_s = if self.completed > 0 {
            self.area_active / self.completed as f64
        } else {
            self.area_active / f64::from(self.active())
        };
        (f64::from(self.queued() + 1) / f64::from(slots) * service_s).max(f64::MIN_POSITIVE)
    }

    /// Waiting-queue capacity.
    pub fn queue_capacity(&self) -> u32 {
        self.kind.queue_capacity
    }

    /// Whether a request of `prompt` + `output` tokens fits a slot's context: llama-server
    /// refuses a longer prompt, and stops generating at the context's end.
    pub fn fits(&self, prompt_tokens: u32, output_tokens: u32) -> bool {
        u64::from(prompt_tokens) + u64::from(output_tokens) <= u64::from(self.kind.ctx_tokens)
    }

    /// Whether the device can take one more request now (up, with a free slot or queue
    /// room).
    pub fn has_room(&self) -> bool {
        !self.down && (self.active() < self.kind.slots || self.queued() < self.kind.queue_capacity)
    }

    /// Whether the device is down (failed).
    pub fn is_down(&self) -> bool {
        self.down
    }

    /// The device fails at `now`: every request it holds (in service, then queued, each in
    /// order) is appended to `dropped`, and it takes nothing and draws no power until
    /// [`Device::recover`]. Pending events become stale. Returns the busy energy the requests
    /// in service had been charged \[J\]: spent, and lost with their work.
    pub fn fail(&mut self, now: SimTime, dropped: &mut Vec<u32>) -> f64 {
        self.advance(now);
        self.down = true;
        self.failures += 1;
        let held = self.streams.len() + self.queue.len();
        self.interrupted += held as u64;
        // What the requests in service had been charged: spent, and lost with their work.
        let wasted_j: f64 = self.streams.iter().map(|s| self.e_acc - s.e_start).sum();
        dropped.extend(self.streams.drain(..).map(|s| s.req));
        dropped.extend(self.queue.drain(..).map(|j| j.req));
        self.prefilling = 0;
        self.in_batch = 0;
        self.batch_tokens = 0;
        self.waiting = 0;
        self.decoding = 0;
        self.context_k = 0.0;
        self.next_end = f64::INFINITY;
        self.generation = self.generation.wrapping_add(1);
        self.batch_generation = self.batch_generation.wrapping_add(1);
        wasted_j
    }

    /// The device is repaired at `now`: up, idle and empty.
    pub fn recover(&mut self, now: SimTime) {
        self.advance(now);
        self.down = false;
    }

    /// Power drawn in the current state \[W\].
    pub fn power_w(&self) -> f64 {
        if self.down {
            return 0.0;
        }
        let active = self.active();
        if active > 0 {
            self.kind.busy_w(active)
        } else {
            self.kind.idle_w
        }
    }

    /// Admits `job` at `now` (the caller checked [`Device::has_room`]): it starts at once if a
    /// slot is free, else waits in the queue.
    #[inline(always)]
    pub fn admit(&mut self, now: SimTime, job: Job, out: &mut Outbox) {
        self.advance(now);
        if self.active() < self.kind.slots {
            if self.start(now, job, out) {
                // Decoding now waits for this prefill: replace its pending completion.
                self.reschedule(now, out);
            }
        } else {
            if self.kind.priorities.is_some() {
                // Behind every queued request of its priority or higher, ahead of the lower:
                // the queue's head is the next to get a slot.
                let p = self.kind.priority(job.class);
                let mut at = self.queue.len();
                while at > 0 && self.kind.priority(self.queue[at - 1].class) < p {
                    at -= 1;
                }
                self.queue.insert(at, job);
            } else {
                self.queue.push_back(job);
            }
            if let Some(w) = self.kind.queue_timeout(job.class) {
                out.push(Out::Schedule(now + w, DeviceEvent::QueueTimeout(job.req)));
            }
        }
    }

    /// Handles one of this device's events. Returns `false` if it was stale (superseded) and
    /// changed nothing.
    #[inline(always)]
    pub fn handle(&mut self, now: SimTime, ev: DeviceEvent, out: &mut Outbox) -> bool {
        match ev {
            DeviceEvent::PrefillDone(req) => {
                let Some(i) = self
                    .streams
                    .iter()
                    .position(|s| s.req == req && s.phase == Phase::Prefill && s.at == now.0)
                else {
                    return false; // scheduled before a failure
                };
                self.advance(now);
                self.prefilling -= 1;
                if !self.start_decoding(i, out) {
                    self.streams[i].phase = Phase::Done;
                    self.finish(now, i, out);
                }
                self.reschedule(now, out);
                true
            }
            DeviceEvent::BatchDone(generation) => self.on_batch_done(now, generation, out),
            DeviceEvent::DecodeDone(generation) => {
                if self.generation != generation {
                    return false; // superseded by a later reschedule
                }
                self.advance(now);
                let mut ended = self.finished();
                self.finish_all(now, ended.as_mut_slice(), out);
                self.reschedule(now, out);
                true
            }
            DeviceEvent::QueueTimeout(req) => self.time_out(now, req, out),
        }
    }

    /// Request `req`'s queue wait reaches its timeout at `now`: it leaves the queue if it is
    /// still there. When every class waits the same time, the queue being first in, first
    /// out, a request still queued at its timeout is at the head (those queued before it at
    /// the same instant timed out first: their events were scheduled first); with timeouts or
    /// priorities by class it may be behind requests of a class that waits longer or was
    /// queued ahead of it, and is looked for.
    fn time_out(&mut self, now: SimTime, req: u32, out: &mut Outbox) -> bool {
        let kind = &self.kind;
        // The request in the slot `req` names, queued exactly its timeout ago (the slot may
        // serve another request now, queued later: its timeout is later).
        let expired = |j: &Job| {
            j.req == req
                && kind
                    .queue_timeout(j.class)
                    .is_some_and(|w| j.admitted + w == now)
        };
        let at = if self.queue.front().is_some_and(expired) {
            0
        } else if kind.uniform_timeouts {
            // It got a slot, or the device failed, since.
            debug_assert!(
                !self.queue.iter().any(expired),
                "a timed-out request behind the head"
            );
            return false;
        } else {
            match self.queue.iter().position(expired) {
                Some(i) => i,
                None => return false,
            }
        };
        self.advance(now);
        self.queue.remove(at);
        self.queue_timeouts += 1;
        out.push(Out::TimedOut(req));
        true
    }

    /// Integrates up to `end` and returns what the device measured.
    pub fn stats(&mut self, end: SimTime) -> DeviceStats {
        self.advance(end);
        DeviceStats {
            completed: self.completed,
            output_tokens: self.output_tokens,
            busy_us: self.busy_us,
            energy_j: self.energy_j,
            idle_energy_j: self.idle_energy_j,
            area_active: self.area_active,
            area_system: self.area_system,
            residence_s: self.residence_s,
            down_us: self.down_us,
            failures: self.failures,
            interrupted: self.interrupted,
            queue_timeouts: self.queue_timeouts,
        }
    }

    /// Gives `job` a slot (one is free; `advance` done) and starts its prefill. With serial
    /// prefill it joins the batch that starts at this instant, or starts one, or waits for the
    /// next batch if one is running. Returns whether decoding has just stopped for a new batch.
    #[inline(always)]
    fn start(&mut self, now: SimTime, job: Job, out: &mut Outbox) -> bool {
        self.prefilling += 1;
        self.granted += 1;
        let mut stream = Stream {
            req: job.req,
            prompt_tokens: job.prompt_tokens,
            output_tokens: job.output_tokens,
            phase: Phase::Prefill,
            seq: self.granted,
            admitted: job.admitted,
            e_start: self.e_acc,
            at: 0,
        };
        if !self.kind.serial {
            let t = SimDuration::from_secs_f64(self.kind.model.prefill_s(job.prompt_tokens));
            stream.at = (now + t).0;
            self.streams.push(stream);
            out.push(Out::Schedule(now + t, DeviceEvent::PrefillDone(job.req)));
            return false;
        }
        let busy = self.batch_busy();
        if busy && self.batch_start < now {
            // The batch has started: wait for the next one.
            stream.phase = Phase::Waiting;
            self.streams.push(stream);
            self.waiting += 1;
            return false;
        }
        if !busy {
            self.open_batch(now);
        }
        stream.phase = Phase::Batch;
        self.streams.push(stream);
        self.join_batch(job.prompt_tokens);
        self.schedule_batch(now, out);
        !busy && self.decoding > 0
    }

    #[inline(always)]
    fn on_batch_done(&mut self, now: SimTime, generation: u32, out: &mut Outbox) -> bool {
        if self.batch_generation != generation {
            return false; // superseded: requests joined the batch
        }
        self.advance(now);
        let batch = self.batch_in_join_order();
        self.prefilling -= self.in_batch;
        self.in_batch = 0;
        // Decoding resumes from the step end where it stopped: the origin of the next steps.
        self.stall_v = self.v;
        // Those with more tokens start decoding, in the order they joined; single-token ones
        // are done.
        let mut singles = Few::new();
        for &i in batch.as_slice() {
            if !self.start_decoding(i as usize, out) {
                self.streams[i as usize].phase = Phase::Done;
                singles.push(i);
            }
        }
        // The waiting prompts form the next batch, with the streams that decode from now on;
        // requests that get a slot at this instant (freed below) join it.
        if self.waiting > 0 {
            self.open_batch(now);
            for i in 0..self.streams.len() {
                if self.streams[i].phase == Phase::Waiting {
                    self.streams[i].phase = Phase::Batch;
                    self.join_batch(self.streams[i].prompt_tokens);
                }
            }
            self.waiting = 0;
            self.schedule_batch(now, out);
        }
        // Single-token requests complete now, freeing slots for queued requests.
        self.finish_all(now, singles.as_mut_slice(), out);
        self.reschedule(now, out);
        true
    }

    /// The indices of the streams in the batch, in the order they joined it (got their slots).
    #[inline(always)]
    fn batch_in_join_order(&self) -> Few {
        let mut f = Few::new();
        for (i, s) in self.streams.iter().enumerate() {
            if s.phase == Phase::Batch {
                f.push(i as u32);
            }
        }
        f.as_mut_slice()
            .sort_unstable_by_key(|&i| self.streams[i as usize].seq);
        f
    }

    /// (Re)schedules the end of the prefill batch, superseding an earlier event.
    #[inline(always)]
    fn schedule_batch(&mut self, now: SimTime, out: &mut Outbox) {
        self.batch_generation = self.batch_generation.wrapping_add(1);
        let t = SimDuration::from_secs_f64(self.kind.model.prefill_s(self.batch_tokens));
        out.push(Out::Schedule(
            self.batch_start.max(now) + t,
            DeviceEvent::BatchDone(self.batch_generation),
        ));
    }

    /// Stream `i` has its first token (`advance` done): reports it and starts decoding the
    /// rest; false if that was its only token.
    #[inline(always)]
    fn start_decoding(&mut self, i: usize, out: &mut Outbox) -> bool {
        let v = self.v;
        let s = &mut self.streams[i];
        out.push(Out::FirstToken(s.req));
        if s.output_tokens <= 1 {
            return false;
        }
        s.phase = Phase::Decoding;
        s.at = v.to_bits();
        self.context_k += s.offset();
        let t = s.target();
        self.next_req = std::hint::select_unpredictable(t < self.next_end, s.req, self.next_req);
        self.next_end = self.next_end.min(t);
        self.decoding += 1;
        true
    }

    /// The streams at `ended` complete, in that order (see `finish`). Removing one moves the
    /// last stream into its place, so a later index that named the last is renamed.
    #[inline(always)]
    fn finish_all(&mut self, now: SimTime, ended: &mut [u32], out: &mut Outbox) {
        for k in 0..ended.len() {
            let i = ended[k];
            let last = (self.streams.len() - 1) as u32;
            self.finish(now, i as usize, out);
            for j in &mut ended[k + 1..] {
                if *j == last {
                    *j = i;
                }
            }
        }
    }

    /// The stream at index `i` completes (`advance` done, and it no longer counts as active):
    /// report it with its energy, then start waiting requests on the freed slot. The last
    /// stream takes index `i`; new streams are added at the end.
    #[inline(always)]
    fn finish(&mut self, now: SimTime, i: usize, out: &mut Outbox) {
        let s = self.streams.swap_remove(i);
        let req = s.req;
        self.completed += 1;
        self.output_tokens += u64::from(s.output_tokens);
        self.residence_s += now.since(s.admitted).as_secs_f64();
        out.push(Out::Finished {
            req,
            energy_j: self.e_acc - s.e_start,
        });
        while self.active() < self.kind.slots {
            let Some(next) = self.queue.pop_front() else {
                break;
            };
            self.start(now, next, out);
        }
    }

    /// Schedules the next decode completion, superseding the pending one.
    #[inline(always)]
    fn reschedule(&mut self, now: SimTime, out: &mut Outbox) {
        if let Some((dt, generation)) = self.next_decode() {
            out.push(Out::Schedule(now + dt, DeviceEvent::DecodeDone(generation)));
        }
    }

    /// Serial prefill: whether a batch is in progress or about to start (decoding stops).
    fn batch_busy(&self) -> bool {
        self.in_batch > 0
    }

    /// Serial prefill: opens a batch (call `advance` first). It starts at `now`, or, if
    /// streams are in the middle of a decode step, when that step ends; it holds one token of
    /// every decoding stream. Requests join it with `join_batch`.
    #[inline(always)]
    fn open_batch(&mut self, now: SimTime) {
        let origin = self.stall_v;
        self.batch_start = now;
        self.stall_v = self.v;
        self.batch_tokens = u32::from(self.decoding);
        if self.decoding == 0 {
            return;
        }
        let into_step = self.v - origin;
        let boundary = origin + crate::fmath::ceil(into_step - 1e-9).max(0.0);
        if boundary - self.v > 1e-9 {
            self.stall_v = boundary;
            self.batch_start = now + ceil_us(self.secs_to(boundary));
        }
    }

    /// Serial prefill: a stream with `prompt` tokens has joined the batch in progress.
    fn join_batch(&mut self, prompt: u32) {
        self.in_batch += 1;
        self.batch_tokens = self.batch_tokens.saturating_add(prompt);
    }

    /// Integrates time-weighted quantities up to `now`.
    #[inline(always)]
    fn advance(&mut self, now: SimTime) {
        let dt_us = now.since(self.last).0;
        if dt_us == 0 {
            return;
        }
        let dt = dt_us as f64 / 1e6;
        let active = self.active();
        if active > 0 {
            let p = self.kind.busy_w(active);
            self.busy_us += dt_us;
            self.energy_j += p * dt;
            self.e_acc += p / f64::from(active) * dt;
            if self.decoding > 0 {
                if !self.batch_busy() {
                    self.decode_for(dt);
                } else if self.batch_start > self.last {
                    // Decoding runs until the step end where the batch starts, then stops.
                    let run = self.batch_start.min(now).since(self.last).as_secs_f64();
                    self.decode_for(run);
                    if now >= self.batch_start {
                        self.v = self.stall_v;
                    }
                }
            }
        } else if self.down {
            self.down_us += dt_us;
        } else {
            let e = self.kind.idle_w * dt;
            self.energy_j += e;
            self.idle_energy_j += e;
        }
        self.area_active += f64::from(active) * dt;
        self.area_system += f64::from(active + self.queue.len() as u32) * dt;
        self.last = now;
    }

    /// Advances the virtual clock over `dt` seconds of decoding.
    #[inline(always)]
    fn decode_for(&mut self, dt: f64) {
        let (a, b) = self.step_coefficients();
        // dt = a·Δv + b·Δv²/2, solved for Δv in a form without cancellation.
        self.v += 2.0 * dt / (a + (a * a + 2.0 * b * dt).sqrt());
    }

    /// Seconds of decoding until the virtual clock reaches `target` (decoding non-empty).
    #[inline(always)]
    fn secs_to(&self, target: f64) -> f64 {
        let (a, b) = self.step_coefficients();
        let dv = (target - self.v).max(0.0);
        a * dv + 0.5 * b * dv * dv
    }

    /// The step time of each stream at the current virtual clock, a = n/D(n) + γ·C \[s per
    /// token\], and its growth per unit of virtual time, b = γ·n (decoding non-empty).
    #[inline(always)]
    fn step_coefficients(&self) -> (f64, f64) {
        let n = f64::from(self.decoding);
        let base = n / self.kind.decode_tps(u32::from(self.decoding));
        let context_s = self.kind.context_s;
        if context_s == 0.0 {
            return (base, 0.0);
        }
        let context = (self.context_k + n * self.v).max(0.0);
        (base + context_s * context, context_s * n)
    }

    /// Time until the next decode completion, bumping the generation; `None` if none decodes
    /// (or decoding waits for a prefill).
    #[inline(always)]
    fn next_decode(&mut self) -> Option<(SimDuration, u32)> {
        self.generation = self.generation.wrapping_add(1);
        if self.decoding == 0 {
            return None;
        }
        let target = self.next_end;
        if self.batch_busy()
            && (self.batch_start <= self.last
                || target > self.stall_v + 1e-9 * self.stall_v.max(1.0))
        {
            // Stopped for a batch, or the next end lies beyond the step where it starts.
            return None;
        }
        Some((ceil_us(self.secs_to(target)), self.generation))
    }

    /// Takes the streams that have finished decoding out of the decoding set and returns
    /// their indices in the order of their ends (ties: the lower request): the earliest one
    /// always (its event fired), and any other within a rounding margin of the virtual clock.
    #[inline(always)]
    fn finished(&mut self) -> Few {
        let mut ended = Few::new();
        if self.decoding == 0 {
            return ended;
        }
        self.v = self.v.max(self.next_end);
        let margin = self.v + 1e-9 * self.v.max(1.0);
        let mut rest = f64::INFINITY;
        let mut rest_req = self.next_req;
        for (i, s) in self.streams.iter().enumerate() {
            if s.phase == Phase::Decoding {
                let t = s.target();
                if t <= margin {
                    ended.push(i as u32);
                } else {
                    // A select, not a branch: which stream ends first is unpredictable.
                    rest_req = std::hint::select_unpredictable(t < rest, s.req, rest_req);
                    rest = rest.min(t);
                }
            }
        }
        self.next_end = rest;
        self.next_req = rest_req;
        // By end, then request.
        let streams = &self.streams;
        ended.as_mut_slice().sort_unstable_by(|&a, &b| {
            let (a, b) = (&streams[a as usize], &streams[b as usize]);
            a.target().total_cmp(&b.target()).then(a.req.cmp(&b.req))
        });
        for &k in ended.as_slice() {
            let s = &mut self.streams[k as usize];
            s.phase = Phase::Done;
            self.context_k -= s.offset();
            self.decoding -= 1;
        }
        if self.decoding == 0 {
            self.context_k = 0.0; // no drift from the running sum
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Checker;
    use crate::device::profile::{DeviceInfo, DeviceProfile, ModelPerf};

    /// A device with `slots` slots and `queue` places: prefill at `prefill_tps`, decode curve
    /// `decode`, 10 W busy, 1 W idle.
    fn device(
        slots: u32,
        queue: u32,
        prefill_tps: f64,
        decode: &[f64],
        mode: PrefillMode,
    ) -> Device {
        let profile = DeviceProfile {
            device: DeviceInfo {
                name: "b".into(),
                power_mode: String::new(),
                memory_gb: 1000.0,
                usable_memory_gb: None,
                idle_w: 1.0,
                source: String::new(),
            },
            models: vec![ModelPerf {
                model: "qwen2.5-0.5b".into(),
                quant: String::new(),
                prefill_tps,
                prefill_curve: vec![],
                ttft_overhead_ms: 0.0,
                prefill_mode: mode,
                decode_tps: decode.to_vec(),
                decode_ms_per_1k_context: 0.0,
                busy_w: 10.0,
                busy_w_by_streams: vec![],
                source: String::new(),
            }],
            provenance: None,
        };
        let cx = Checker::new(std::path::Path::new("t.toml"));
        let g = DeviceGroup::new(
            &cx,
            "devices[0]",
            "d".into(),
            1,
            Arc::new(profile),
            "qwen2.5-0.5b".into(),
            slots,
            queue,
            512,
            None,
            &crate::catalogue::ModelCatalogue::builtin(),
        )
        .unwrap();
        Device::new(DeviceKind::new(&g, None, None))
    }

    fn job(req: u32, prompt: u32, output: u32, at: SimTime) -> Job {
        Job {
            req,
            prompt_tokens: prompt,
            output_tokens: output,
            class: 0,
            admitted: at,
        }
    }

    /// Runs the device's own events in time order (a tiny event loop) and returns every
    /// outbox entry with the time it happened.
    fn run(dev: &mut Device, mut pending: Vec<(SimTime, DeviceEvent)>) -> Vec<(SimTime, Out)> {
        let mut log = Vec::new();
        while !pending.is_empty() {
            let i = (0..pending.len())
                .min_by_key(|&i| (pending[i].0, i))
                .unwrap();
            let (t, ev) = pending.remove(i);
            let mut out = Outbox::new();
            dev.handle(t, ev, &mut out);
            for o in out {
                if let Out::Schedule(at, e) = o {
                    pending.push((at, e));
                }
                log.push((t, o));
            }
        }
        log
    }

    fn schedules(out: &Outbox) -> Vec<(SimTime, DeviceEvent)> {
        out.iter()
            .filter_map(|o| match o {
                Out::Schedule(t, e) => Some((*t, *e)),
                _ => None,
            })
            .collect()
    }

    fn finished(log: &[(SimTime, Out)]) -> Vec<(SimTime, u32)> {
        log.iter()
            .filter_map(|(t, o)| match o {
                Out::Finished { req, .. } => Some((*t, *req)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn queue_is_fifo_and_room_counts_slots_and_queue() {
        // One slot, one queue place; 10 tokens at 10 tok/s = 1 s each after an instant prefill.
        let mut d = device(1, 1, 1e12, &[10.0], PrefillMode::Parallel);
        let t0 = SimTime::ZERO;
        let mut out = Outbox::new();
        d.admit(t0, job(1, 1, 11, t0), &mut out);
        assert!(d.has_room());
        d.admit(t0, job(2, 1, 11, t0), &mut out);
        assert!(!d.has_room(), "slot and queue full");
        assert_eq!((d.active(), d.queued()), (1, 1));
        let log = run(&mut d, schedules(&out));
        let f = finished(&log);
        assert_eq!(f, vec![(SimTime(1_000_000), 1), (SimTime(2_000_000), 2)]);
        let s = d.stats(SimTime(2_000_000));
        assert_eq!(s.completed, 2);
        // Residence: 1 s and 2 s.
        assert!((s.residence_s - 3.0).abs() < 1e-12);
    }

    #[test]
    fn decode_throughput_is_shared_and_energy_attributed() {
        // D(1) = D(2) = 10: two streams at 5 tok/s each; B (5 tokens) ends at 1 s, A (10) at
        // 1.5 s. Energy: 10 W shared by two for 1 s, then A alone for 0.5 s.
        let mut d = device(2, 0, 1e12, &[10.0, 10.0], PrefillMode::Parallel);
        let t0 = SimTime::ZERO;
        let mut out = Outbox::new();
        d.admit(t0, job(1, 1, 11, t0), &mut out);
        d.admit(t0, job(2, 1, 6, t0), &mut out);
        let log = run(&mut d, schedules(&out));
        let energy: Vec<(u32, f64)> = log
            .iter()
            .filter_map(|(_, o)| match o {
                Out::Finished { req, energy_j } => Some((*req, *energy_j)),
                _ => None,
            })
            .collect();
        assert_eq!(
            finished(&log),
            vec![(SimTime(1_000_000), 2), (SimTime(1_500_000), 1)]
        );
        assert!((energy[0].1 - 5.0).abs() < 1e-9 && (energy[1].1 - 10.0).abs() < 1e-9);
    }

    #[test]
    fn serial_prefill_batches_prompts_and_stalls_decoding() {
        // Prefill 100 tok/s, D(1) = 10, D(2) = 20. A (100-token prompt, 11 tokens) prefills
        // alone: first token at 1 s, then decodes. B arrives at 1.5 s, mid-step: its batch
        // waits for the step end (1.5 s is a step end: 5 tokens at 10 tok/s), holds B's 100
        // tokens and A's token, so takes 1.01 s; A is stalled meanwhile.
        let mut d = device(2, 0, 100.0, &[10.0, 20.0], PrefillMode::Serial);
        let t0 = SimTime::ZERO;
        let mut out = Outbox::new();
        d.admit(t0, job(1, 100, 11, t0), &mut out);
        assert_eq!(
            schedules(&out),
            vec![(SimTime(1_000_000), DeviceEvent::BatchDone(1))]
        );
        let mut pending = schedules(&out);
        // Run A's batch, then admit B at 1.5 s.
        let (t, ev) = pending.remove(0);
        let mut o = Outbox::new();
        assert!(d.handle(t, ev, &mut o));
        assert_eq!(o[0], Out::FirstToken(1));
        let t_b = SimTime(1_500_000);
        let mut o2 = Outbox::new();
        d.admit(t_b, job(2, 100, 2, t_b), &mut o2);
        // The batch (100 + 1 tokens at 100 tok/s) ends at 2.51 s.
        assert!(schedules(&o2).contains(&(SimTime(2_510_000), DeviceEvent::BatchDone(2))));
        let mut rest = schedules(&o);
        rest.extend(schedules(&o2));
        let log = run(&mut d, rest);
        let firsts: Vec<_> = log
            .iter()
            .filter(|(_, o)| matches!(o, Out::FirstToken(2)))
            .collect();
        assert_eq!(firsts[0].0, SimTime(2_510_000));
        // A decoded 5 tokens by 1.5 s, stalled 1.01 s, then shares D(2) = 20 with B's one
        // token (10 tok/s each): B ends at 2.61 s; A's last 4 at 10 tok/s alone end 3.01 s.
        assert_eq!(
            finished(&log),
            vec![(SimTime(2_610_000), 2), (SimTime(3_010_000), 1)]
        );
    }

    #[test]
    fn a_batch_finishes_its_requests_in_the_order_they_joined() {
        // Prefill 100 tok/s, D(1) = 10. A (10-token prompt, 3 tokens) prefills alone until
        // 0.1 s, then decodes 2 tokens: steps end at 0.2 s and 0.3 s. B and C (10-token
        // prompts, 1 token each) arrive at 0.25 s, mid-step: their batch waits for the step
        // end at 0.3 s, where A ends, and holds 10 + 10 prompt tokens and A's one: 0.21 s.
        // A's end at 0.3 s leaves the device's list of requests as [C, B]; the batch still
        // finishes B, then C, at 0.51 s, the order in which they joined. (Event times are
        // rounded up to whole microseconds.)
        let mut d = device(3, 0, 100.0, &[10.0, 20.0, 30.0], PrefillMode::Serial);
        let t0 = SimTime::ZERO;
        let mut out = Outbox::new();
        d.admit(t0, job(1, 10, 3, t0), &mut out);
        let mut pending = schedules(&out);
        let (t, ev) = pending.remove(0);
        assert_eq!(t, SimTime(100_000));
        let mut o = Outbox::new();
        assert!(d.handle(t, ev, &mut o));
        let t_bc = SimTime(250_000);
        d.admit(t_bc, job(2, 10, 1, t_bc), &mut o);
        d.admit(t_bc, job(3, 10, 1, t_bc), &mut o);
        let log = run(&mut d, schedules(&o));
        assert_eq!(
            finished(&log),
            vec![
                (SimTime(300_001), 1),
                (SimTime(510_001), 2),
                (SimTime(510_001), 3)
            ]
        );
        assert_eq!(d.active(), 0);
    }

    #[test]
    fn device_state_is_four_cache_lines() {
        // docs/model.md, "Cost at fleet scale": each line a device event touches is a miss.
        assert_eq!(std::mem::align_of::<Device>(), 64);
        assert_eq!(std::mem::size_of::<Device>(), 256);
    }

    #[test]
    fn many_streams_ending_together_finish_in_order() {
        // 12 slots, D(n) = 10 tok/s shared: 12 identical requests each decode 10 tokens at
        // 10/12 tok/s and all end at 12 s (more than the 8 handled without allocating), in
        // request order, each charged 10 W / 12 for 12 s = 10 J.
        let mut d = device(12, 0, 1e12, &[10.0; 12], PrefillMode::Parallel);
        let t0 = SimTime::ZERO;
        let mut out = Outbox::new();
        for r in 0..12 {
            d.admit(t0, job(r, 1, 11, t0), &mut out);
        }
        let log = run(&mut d, schedules(&out));
        let want: Vec<_> = (0..12).map(|r| (SimTime(12_000_000), r)).collect();
        assert_eq!(finished(&log), want);
        for (_, o) in &log {
            if let Out::Finished { energy_j, .. } = o {
                assert!((energy_j - 10.0).abs() < 1e-9, "{energy_j}");
            }
        }
        assert_eq!(d.active(), 0);
    }

    #[test]
    fn the_hint_names_the_request_a_decode_completion_ends() {
        // Four slots, arrivals spread over time, outputs of different lengths, both prefill
        // modes: before each valid decode completion, the device's hint is the request that
        // the completion ends first.
        for mode in [PrefillMode::Parallel, PrefillMode::Serial] {
            let mut d = device(4, 8, 100.0, &[10.0, 16.0, 21.0, 24.0], mode);
            let outputs = [9, 4, 17, 6, 12, 3, 25, 8, 5, 14];
            let mut arrivals: Vec<(SimTime, Job)> = outputs
                .iter()
                .enumerate()
                .map(|(k, &o)| {
                    let at = SimTime(k as u64 * 350_000);
                    (at, job(k as u32 + 1, 10 + 7 * k as u32, o, at))
                })
                .rev()
                .collect();
            let mut pending: Vec<(SimTime, DeviceEvent)> = Vec::new();
            let mut checked = 0;
            loop {
                let next = (0..pending.len()).min_by_key(|&i| (pending[i].0, i));
                let mut out = Outbox::new();
                match (next, arrivals.last()) {
                    // An arrival before the next event (at equal times the device's events
                    // first, as in the simulator).
                    (n, Some(&(at, j))) if n.is_none_or(|i| at < pending[i].0) => {
                        arrivals.pop();
                        d.admit(at, j, &mut out);
                    }
                    (Some(i), _) => {
                        let (t, ev) = pending.remove(i);
                        let hint = d.next_to_finish();
                        if d.handle(t, ev, &mut out) && matches!(ev, DeviceEvent::DecodeDone(_)) {
                            let first = out.iter().find_map(|o| match o {
                                Out::Finished { req, .. } => Some(*req),
                                _ => None,
                            });
                            assert_eq!(first, Some(hint), "{mode:?} at {} µs", t.0);
                            checked += 1;
                        }
                    }
                    (None, _) => break,
                }
                pending.extend(schedules(&out));
            }
            assert!(checked >= 5, "{mode:?}: {checked} completions checked");
        }
    }

    #[test]
    fn stale_events_change_nothing() {
        let mut d = device(1, 0, 1e12, &[10.0], PrefillMode::Parallel);
        let mut out = Outbox::new();
        assert!(!d.handle(SimTime(5), DeviceEvent::DecodeDone(99), &mut out));
        assert!(!d.handle(SimTime(5), DeviceEvent::BatchDone(99), &mut out));
        assert!(out.is_empty());
    }
}
