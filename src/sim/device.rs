//! One edge device's state: slots, waiting queue, and processor-shared decoding.
//!
//! Decoding streams share the aggregate throughput D(n) equally, so every stream advances at
//! D(n)/n tokens/s. Instead of updating each stream, the device keeps a virtual clock `v`: the
//! tokens any one stream has decoded since the device started. A stream that starts decoding
//! `r` tokens at virtual time `v0` finishes when `v` reaches `v0 + r`; the next finish is the
//! smallest target, found in a heap. Energy per request uses the same trick with `e_acc`, the
//! energy one in-service request has been charged so far.
//!
//! Context length: with γ = `decode_s_per_context_token` > 0 one decode step of the n streams
//! takes τ = n/D(n) + γ·C, where C is the context all of them hold. A stream that started
//! decoding at virtual time v0 with c0 context tokens holds c0 + (v − v0), so C = K + n·v with
//! K = Σ (c0 − v0) kept as a running sum, and dv/dt = 1/(a + b·v) with a = n/D(n) + γ·K and
//! b = γ·n: time and virtual clock are related by a quadratic, solved exactly both ways.
//!
//! Serial prefill (llama.cpp's unified batch): the prompts that get slots at the same instant
//! are prefilled together in one batch; prompts that get a slot while a batch runs hold it and
//! wait in `prefill_waiting` for the next batch; the virtual clock stands still while a batch
//! runs. Decode steps run in lockstep, one token per stream, so they end where the virtual
//! clock crosses `step_origin + k` (the clock when decoding last resumed): a batch opened
//! while streams decode starts when the current step ends.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use crate::device::{DeviceModel, DeviceView, PrefillMode};
use crate::scenario::DeviceSpec;
use crate::time::{SimDuration, SimTime};

/// `secs` rounded up to whole microseconds (so that the virtual clock has reached a target
/// when an event scheduled for it fires).
fn ceil_us(secs: f64) -> SimDuration {
    let us = (secs * 1e6).ceil();
    SimDuration(if us >= u64::MAX as f64 {
        u64::MAX
    } else {
        us as u64
    })
}

/// An `f64` with a total order (for the decode heap).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Key(f64);
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

pub(crate) struct DeviceState {
    pub(crate) model: Arc<dyn DeviceModel>,
    pub(crate) slots: u32,
    pub(crate) queue_capacity: u32,
    pub(crate) queue: VecDeque<u32>,
    /// Requests holding a slot before their first token (prefilling or waiting to).
    pub(crate) prefilling: u32,
    /// Serial prefill: prompts in batches, and decoding waits while a batch runs.
    pub(crate) serial_prefill: bool,
    /// Serial prefill: the requests of the batch in progress (empty: none).
    prefill_batch: Vec<u32>,
    /// Serial prefill: tokens of the batch in progress (its prompts and one per decoding stream).
    pub(crate) prefill_tokens: u32,
    /// Serial prefill: when the batch in progress started (or, opened during a decode step,
    /// will start: at the end of that step).
    pub(crate) prefill_started: SimTime,
    /// Serial prefill: the virtual clock at which decoding stops for the batch (a step end).
    stall_v: f64,
    /// Serial prefill: the virtual clock when decoding last resumed; steps end at +1, +2, ...
    step_origin: f64,
    /// Serial prefill: generation of the pending batch-completion event.
    pub(crate) prefill_generation: u64,
    /// Serial prefill: requests holding a slot and waiting for the next batch.
    pub(crate) prefill_waiting: VecDeque<u32>,
    /// (target virtual time, request, c0 − v0) of every decoding stream.
    decoding: BinaryHeap<Reverse<(Key, u32, Key)>>,
    /// Virtual decode clock \[tokens per stream\].
    pub(crate) v: f64,
    /// γ \[s per decode step per context token\].
    context_s: f64,
    /// K = Σ (c0 − v0) over decoding streams \[tokens\].
    context_k: f64,
    /// Energy charged to each in-service request so far \[J\].
    pub(crate) e_acc: f64,
    last: SimTime,
    /// Generation of the pending decode-completion event.
    pub(crate) generation: u64,
    // Statistics.
    pub(crate) busy_us: u64,
    pub(crate) energy_j: f64,
    pub(crate) idle_energy_j: f64,
    /// ∫ active dt \[request·s\].
    pub(crate) area_active: f64,
    /// ∫ (active + queued) dt \[request·s\].
    pub(crate) area_system: f64,
    /// Σ residence (admission to completion) \[s\].
    pub(crate) residence_s: f64,
    pub(crate) completed: u64,
}

impl DeviceState {
    pub(crate) fn new(spec: &DeviceSpec) -> DeviceState {
        DeviceState {
            model: spec.perf.clone(),
            slots: spec.slots,
            queue_capacity: spec.queue_capacity,
            queue: VecDeque::new(),
            prefilling: 0,
            serial_prefill: spec.perf.prefill_mode() == PrefillMode::Serial,
            prefill_batch: Vec::new(),
            prefill_tokens: 0,
            prefill_started: SimTime::ZERO,
            stall_v: 0.0,
            step_origin: 0.0,
            prefill_generation: 0,
            prefill_waiting: VecDeque::new(),
            decoding: BinaryHeap::new(),
            v: 0.0,
            context_s: spec.perf.decode_s_per_context_token(),
            context_k: 0.0,
            e_acc: 0.0,
            last: SimTime::ZERO,
            generation: 0,
            busy_us: 0,
            energy_j: 0.0,
            idle_energy_j: 0.0,
            area_active: 0.0,
            area_system: 0.0,
            residence_s: 0.0,
            completed: 0,
        }
    }

    /// Serial prefill: whether a batch is in progress or about to start (decoding stops).
    pub(crate) fn prefill_busy(&self) -> bool {
        !self.prefill_batch.is_empty()
    }

    /// Serial prefill: ends the batch in progress (call `advance` first): moves its requests
    /// into `out` (cleared first) and lets decoding resume from this step boundary.
    pub(crate) fn end_batch(&mut self, out: &mut Vec<u32>) {
        out.clear();
        std::mem::swap(out, &mut self.prefill_batch);
        self.prefilling -= out.len() as u32;
        self.step_origin = self.v;
    }

    /// Serial prefill: opens a batch (call `advance` first). It starts at `now`, or, if
    /// streams are in the middle of a decode step, when that step ends; it holds one token of
    /// every decoding stream. Requests join it with `join_batch`.
    pub(crate) fn open_batch(&mut self, now: SimTime) {
        self.prefill_started = now;
        self.stall_v = self.v;
        self.prefill_tokens = self.decoding_streams();
        if self.decoding.is_empty() {
            return;
        }
        let into_step = self.v - self.step_origin;
        let boundary = self.step_origin + (into_step - 1e-9).ceil().max(0.0);
        if boundary - self.v > 1e-9 {
            self.stall_v = boundary;
            self.prefill_started = now + ceil_us(self.secs_to(boundary));
        }
    }

    /// Serial prefill: adds request `req` with `prompt` tokens to the batch in progress.
    pub(crate) fn join_batch(&mut self, req: u32, prompt: u32) {
        self.prefill_batch.push(req);
        self.prefill_tokens = self.prefill_tokens.saturating_add(prompt);
    }

    /// Requests decoding.
    pub(crate) fn decoding_streams(&self) -> u32 {
        self.decoding.len() as u32
    }

    /// Requests in service (prefill or decode).
    pub(crate) fn active(&self) -> u32 {
        self.prefilling + self.decoding.len() as u32
    }

    pub(crate) fn view(&self, weight: f64) -> DeviceView {
        DeviceView {
            slots: self.slots,
            active: self.active(),
            queued: self.queue.len() as u32,
            queue_capacity: self.queue_capacity,
            weight,
            limit_usage: 0.0,
        }
    }

    /// Integrates time-weighted quantities up to `now`.
    pub(crate) fn advance(&mut self, now: SimTime) {
        let dt_us = now.since(self.last).0;
        if dt_us == 0 {
            return;
        }
        let dt = dt_us as f64 / 1e6;
        let active = self.active();
        if active > 0 {
            let p = self.model.busy_w(active);
            self.busy_us += dt_us;
            self.energy_j += p * dt;
            self.e_acc += p / f64::from(active) * dt;
            if !self.decoding.is_empty() {
                if !self.prefill_busy() {
                    self.decode_for(dt);
                } else if self.prefill_started > self.last {
                    // Decoding runs until the step end where the batch starts, then stops.
                    let run = self.prefill_started.min(now).since(self.last).as_secs_f64();
                    self.decode_for(run);
                    if now >= self.prefill_started {
                        self.v = self.stall_v;
                    }
                }
            }
        } else {
            let e = self.model.idle_w() * dt;
            self.energy_j += e;
            self.idle_energy_j += e;
        }
        self.area_active += f64::from(active) * dt;
        self.area_system += f64::from(active + self.queue.len() as u32) * dt;
        self.last = now;
    }

    /// Advances the virtual clock over `dt` seconds of decoding.
    fn decode_for(&mut self, dt: f64) {
        let (a, b) = self.step_coefficients();
        // dt = a·Δv + b·Δv²/2, solved for Δv in a form without cancellation.
        self.v += 2.0 * dt / (a + (a * a + 2.0 * b * dt).sqrt());
    }

    /// Seconds of decoding until the virtual clock reaches `target` (decoding non-empty).
    fn secs_to(&self, target: f64) -> f64 {
        let (a, b) = self.step_coefficients();
        let dv = (target - self.v).max(0.0);
        a * dv + 0.5 * b * dv * dv
    }

    /// The step time of each stream at the current virtual clock, a = n/D(n) + γ·C \[s per
    /// token\], and its growth per unit of virtual time, b = γ·n (decoding non-empty).
    fn step_coefficients(&self) -> (f64, f64) {
        let n = self.decoding.len() as f64;
        let base = n / self.model.decode_tps(self.decoding.len() as u32);
        if self.context_s == 0.0 {
            return (base, 0.0);
        }
        let context = (self.context_k + n * self.v).max(0.0);
        (base + self.context_s * context, self.context_s * n)
    }

    /// Starts decoding `tokens` more tokens for request `req`, which holds `context` tokens
    /// (call `advance` first).
    pub(crate) fn start_decode(&mut self, req: u32, tokens: u32, context: u32) {
        let offset = f64::from(context) - self.v;
        self.context_k += offset;
        self.decoding
            .push(Reverse((Key(self.v + f64::from(tokens)), req, Key(offset))));
    }

    /// Time until the next decode completion, bumping the generation; `None` if none decodes
    /// (or decoding waits for a prefill).
    pub(crate) fn next_decode(&mut self) -> Option<(SimDuration, u64)> {
        self.generation += 1;
        let Reverse((Key(target), _, _)) = *self.decoding.peek()?;
        if self.prefill_busy()
            && (self.prefill_started <= self.last
                || target > self.stall_v + 1e-9 * self.stall_v.max(1.0))
        {
            // Stopped for a batch, or the next end lies beyond the step where it starts.
            return None;
        }
        Some((ceil_us(self.secs_to(target)), self.generation))
    }

    /// Removes and returns the streams that have finished decoding: the earliest one always
    /// (its event fired), and any other within a rounding margin of the virtual clock.
    pub(crate) fn finished(&mut self, out: &mut Vec<u32>) {
        if let Some(Reverse((Key(t), r, Key(offset)))) = self.decoding.pop() {
            self.v = self.v.max(t);
            self.context_k -= offset;
            out.push(r);
        }
        while let Some(Reverse((Key(t), r, Key(offset)))) = self.decoding.peek().copied() {
            if t <= self.v + 1e-9 * self.v.max(1.0) {
                self.decoding.pop();
                self.context_k -= offset;
                out.push(r);
            } else {
                break;
            }
        }
        if self.decoding.is_empty() {
            self.context_k = 0.0; // no drift from the running sum
        }
    }
}
