//! One edge device's state: slots, waiting queue, and processor-shared decoding.
//!
//! Decoding streams share the aggregate throughput D(n) equally, so every stream advances at
//! D(n)/n tokens/s. Instead of updating each stream, the device keeps a virtual clock `v`: the
//! tokens any one stream has decoded since the device started. A stream that starts decoding
//! `r` tokens at virtual time `v0` finishes when `v` reaches `v0 + r`; the next finish is the
//! smallest target, found in a heap. Energy per request uses the same trick with `e_acc`, the
//! energy one in-service request has been charged so far.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use crate::device::{DeviceModel, DeviceView};
use crate::scenario::DeviceSpec;
use crate::time::{SimDuration, SimTime};

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
    pub(crate) prefilling: u32,
    decoding: BinaryHeap<Reverse<(Key, u32)>>,
    /// Virtual decode clock \[tokens per stream\].
    pub(crate) v: f64,
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
            decoding: BinaryHeap::new(),
            v: 0.0,
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
            let n = self.decoding.len() as u32;
            if n > 0 {
                self.v += self.model.decode_tps(n) / f64::from(n) * dt;
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

    /// Starts decoding `tokens` more tokens for request `req` (call `advance` first).
    pub(crate) fn start_decode(&mut self, req: u32, tokens: u32) {
        self.decoding
            .push(Reverse((Key(self.v + f64::from(tokens)), req)));
    }

    /// Time until the next decode completion, bumping the generation; `None` if none decodes.
    pub(crate) fn next_decode(&mut self) -> Option<(SimDuration, u64)> {
        self.generation += 1;
        let Reverse((Key(target), _)) = *self.decoding.peek()?;
        let n = self.decoding.len() as u32;
        let rate = self.model.decode_tps(n) / f64::from(n);
        let secs = ((target - self.v) / rate).max(0.0);
        // Round up so that the virtual clock has reached the target when the event fires.
        let us = (secs * 1e6).ceil();
        Some((
            SimDuration(if us >= u64::MAX as f64 {
                u64::MAX
            } else {
                us as u64
            }),
            self.generation,
        ))
    }

    /// Removes and returns the streams that have finished decoding: the earliest one always
    /// (its event fired), and any other within a rounding margin of the virtual clock.
    pub(crate) fn finished(&mut self, out: &mut Vec<u32>) {
        if let Some(Reverse((Key(t), r))) = self.decoding.pop() {
            self.v = self.v.max(t);
            out.push(r);
        }
        while let Some(Reverse((Key(t), r))) = self.decoding.peek().copied() {
            if t <= self.v + 1e-9 * self.v.max(1.0) {
                self.decoding.pop();
                out.push(r);
            } else {
                break;
            }
        }
    }
}
