//! The loads the gateway decides on, kept up to date at O(log n) per change so that choosing a
//! device costs the same with ten devices or ten thousand.
//!
//! A device's load is max(occupancy, limit usage): occupancy = (in service + queued) / slots,
//! usage the fraction of its rate limit in use (docs/model.md). Occupancy changes only at the
//! device's own events. Usage changes at admissions and releases, and also with time: a
//! sliding window's oldest admission expires, a fixed window restarts (step changes, reported
//! by [`RateLimiter::advance`]), a token bucket refills (a straight line down to 0,
//! [`RateLimiter::decay`]). Nothing is ever refreshed for all devices: a device is re-keyed
//! when something of its own changes, at the time it changes.
//!
//! With `load_report_interval` > 0 the occupancy the gateway sees is the one each device last
//! reported, at the last multiple of the interval (stale signals, docs/model.md); the limit
//! usage is the gateway's own and always current.
//!
//! [`LoadIndex`] orders the devices by load for least-loaded selection: a map from load to the
//! devices at that load (for ties), plus, for token buckets, a map of the devices whose load is
//! their refilling bucket, keyed by the time the bucket is full (their order does not change as
//! time passes: all buckets refill at the same rate).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use crate::policy::rate_limit::RateLimiter;
use crate::time::{SimDuration, SimTime};

/// An `f64` with a total order, for map keys.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Key(f64);
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Where a device sits in the index.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Place {
    /// Not in the index (tried for the current request).
    Out,
    /// Constant load `0` until something of the device changes.
    Flat(f64),
    /// Load `slope · (full_s − t)` (a refilling bucket), keyed by `full_s`.
    Decaying(f64),
}

/// Devices ordered by load, ties kept together.
#[derive(Clone, Debug, Default)]
pub struct LoadIndex {
    flat: BTreeMap<Key, Vec<u32>>,
    decaying: BTreeMap<Key, Vec<u32>>,
    /// Decaying loads fall at this rate \[1/s\] (the token bucket's refill / capacity).
    slope: f64,
    /// Per device: where it is, and its position in its bag.
    place: Vec<(Place, u32)>,
    spare: Vec<Vec<u32>>,
}

impl LoadIndex {
    /// An index of `n` devices, none in it yet.
    pub fn new(n: usize) -> LoadIndex {
        LoadIndex {
            place: vec![(Place::Out, 0); n],
            ..Default::default()
        }
    }

    fn bag(&mut self, p: Place) -> Option<&mut Vec<u32>> {
        match p {
            Place::Out => None,
            Place::Flat(k) => self.flat.get_mut(&Key(k)),
            Place::Decaying(k) => self.decaying.get_mut(&Key(k)),
        }
    }

    /// Takes `d` out of the index.
    #[inline(always)]
    pub fn remove(&mut self, d: u32) {
        let (p, i) = self.place[d as usize];
        let i = i as usize;
        let Some(bag) = self.bag(p) else { return };
        bag.swap_remove(i);
        let (moved, empty) = (bag.get(i).copied(), bag.is_empty());
        if let Some(m) = moved {
            self.place[m as usize].1 = i as u32;
        }
        if empty {
            let bag = match p {
                Place::Flat(k) => self.flat.remove(&Key(k)),
                Place::Decaying(k) => self.decaying.remove(&Key(k)),
                Place::Out => None,
            };
            self.spare.extend(bag);
        }
        self.place[d as usize].0 = Place::Out;
    }

    #[inline(always)]
    fn insert(&mut self, d: u32, p: Place) {
        self.remove(d);
        let spare = &mut self.spare;
        let bag = match p {
            Place::Out => return,
            Place::Flat(k) => self
                .flat
                .entry(Key(k))
                .or_insert_with(|| spare.pop().unwrap_or_default()),
            Place::Decaying(k) => self
                .decaying
                .entry(Key(k))
                .or_insert_with(|| spare.pop().unwrap_or_default()),
        };
        let at = bag.len() as u32;
        bag.push(d);
        self.place[d as usize] = (p, at);
    }

    /// Puts `d` in at `place` (`slope`: a decaying place's).
    #[inline(always)]
    fn put(&mut self, d: u32, place: Place, slope: f64) {
        match place {
            Place::Flat(l) => self.set_flat(d, l),
            Place::Decaying(full_s) => self.set_decaying(d, full_s, slope),
            Place::Out => {}
        }
    }

    /// Puts `d` in at constant load `load`.
    #[inline(always)]
    pub fn set_flat(&mut self, d: u32, load: f64) {
        if self.place[d as usize].0 != Place::Flat(load) {
            self.insert(d, Place::Flat(load));
        }
    }

    /// Puts `d` in with load `slope · (full_s − t)`.
    #[inline(always)]
    pub fn set_decaying(&mut self, d: u32, full_s: f64, slope: f64) {
        self.slope = slope;
        if self.place[d as usize].0 != Place::Decaying(full_s) {
            self.insert(d, Place::Decaying(full_s));
        }
    }

    /// The devices of least load at time `t_s` \[s\]: one or two bags (two when a constant and
    /// a decaying load are equal). Empty if the index is.
    #[inline(always)]
    pub fn least(&self, t_s: f64) -> (&[u32], &[u32]) {
        let flat = self.flat.first_key_value();
        let dec = self.decaying.first_key_value();
        match (flat, dec) {
            (None, None) => (&[], &[]),
            (Some((_, b)), None) | (None, Some((_, b))) => (b, &[]),
            (Some((kf, bf)), Some((kd, bd))) => {
                let ld = self.slope * (kd.0 - t_s);
                match kf.0.total_cmp(&ld) {
                    std::cmp::Ordering::Less => (bf, &[]),
                    std::cmp::Ordering::Greater => (bd, &[]),
                    std::cmp::Ordering::Equal => (bf, bd),
                }
            }
        }
    }
}

/// The device pools each device is in. Classes served by some groups only
/// (`workload.classes[].devices`) are served by a pool of the fleet, the union of their
/// groups (pools 1, 2, ...; pool 0 is every device); each pool has its own least-loaded index,
/// and a device's load is keyed in each index it is in.
#[derive(Clone, Debug)]
pub struct PoolMembers {
    /// Per group, one past its last device (fleet order).
    group_end: Vec<u32>,
    /// Per group, the pools its devices are in, each with the shift from a device's fleet
    /// index to its index in the pool (fleet index − shift; set by [`PoolMembers::locate`]).
    of_group: Vec<Vec<(u16, u32)>>,
}

impl PoolMembers {
    /// Groups of `counts[g]` devices, group `g` in the pools `of_group[g]` (pool 0 left out:
    /// every device is in it).
    pub fn new(counts: &[u32], of_group: Vec<Vec<u16>>) -> PoolMembers {
        let group_end = counts
            .iter()
            .scan(0u32, |end, &c| {
                *end += c;
                Some(*end)
            })
            .collect();
        PoolMembers {
            group_end,
            of_group: of_group
                .into_iter()
                .map(|pools| pools.into_iter().map(|k| (k, 0)).collect())
                .collect(),
        }
    }

    /// Notes, for each group in each of its pools `parts[k - 1]`, the shift from its devices'
    /// fleet indexes to their indexes in the pool: a group is whole in a pool, its devices in
    /// fleet order, so one shift serves them all.
    fn locate(&mut self, parts: &[PoolPart]) {
        for (g, pools) in self.of_group.iter_mut().enumerate() {
            let first = if g == 0 { 0 } else { self.group_end[g - 1] };
            if first == self.group_end[g] {
                continue;
            }
            for (k, shift) in pools.iter_mut() {
                let local = parts[usize::from(*k) - 1]
                    .local(first)
                    .expect("a group of a pool is in its part");
                *shift = first - local;
            }
        }
    }

    /// The pools device `d` is in, pool 0 left out, each with the shift to `d`'s index in it.
    #[inline(always)]
    fn of(&self, d: u32) -> &[(u16, u32)] {
        &self.of_group[self.group_end.partition_point(|&e| e <= d)]
    }
}

/// A device pool's devices: whole groups of the fleet, numbered in fleet order from 0, so that
/// its state is sized by the pool, not the fleet.
#[derive(Clone, Debug)]
pub struct PoolPart {
    /// Its groups in fleet order: (fleet index of the first device, devices, pool index of the
    /// first device).
    groups: Box<[(u32, u32, u32)]>,
    n: u32,
}

impl PoolPart {
    /// The pool of the groups `(first device, devices)`, in fleet order.
    pub fn new(groups: &[(u32, u32)]) -> PoolPart {
        let mut n = 0;
        let groups = groups
            .iter()
            .map(|&(first, count)| {
                n += count;
                (first, count, n - count)
            })
            .collect();
        PoolPart { groups, n }
    }

    /// Devices in the pool.
    pub fn devices(&self) -> u32 {
        self.n
    }

    /// Fleet device `d`'s index in the pool, if it is in it.
    #[inline]
    pub fn local(&self, d: u32) -> Option<u32> {
        let i = self.groups.partition_point(|g| g.0 <= d).checked_sub(1)?;
        let (first, count, at) = self.groups[i];
        (d - first < count).then(|| at + (d - first))
    }

    /// The fleet index of the pool's device `k` (`k` < [`PoolPart::devices`]).
    #[inline]
    pub fn global(&self, k: u32) -> u32 {
        let i = self.groups.partition_point(|g| g.2 <= k) - 1;
        let (first, _, at) = self.groups[i];
        first + (k - at)
    }
}

/// With device pools, their indexes and which pools each device is in; pool 0, every device,
/// is [`Loads`]'s own index. Apart from it, so that a run without pools reads nothing of it.
#[derive(Clone, Debug)]
struct PoolIndexes {
    members: PoolMembers,
    /// Pool `k`'s index, of its devices in its numbering, is `more[k - 1]`.
    more: Vec<LoadIndex>,
    /// Whether pool 0 (every device) serves a class: else its index is left empty.
    whole: bool,
}

impl PoolIndexes {
    /// Puts `d` in at `place` in each of its pools' indexes, `whole` being pool 0's.
    fn put(&mut self, whole: &mut LoadIndex, d: u32, place: Place, slope: f64) {
        if self.whole {
            whole.put(d, place, slope);
        }
        for &(k, shift) in self.members.of(d) {
            self.more[usize::from(k) - 1].put(d - shift, place, slope);
        }
    }

    /// Takes `d` out of each of its pools' indexes, `whole` being pool 0's.
    fn remove(&mut self, whole: &mut LoadIndex, d: u32) {
        if self.whole {
            whole.remove(d);
        }
        for &(k, shift) in self.members.of(d) {
            self.more[usize::from(k) - 1].remove(d - shift);
        }
    }
}

/// A device's occupancy now and its slots: all that exact loads read, eight bytes a device
/// apart from the rest, so that at fleet scale the array (80 KB at 10,000 devices) stays in
/// the L2 cache between a device's events and a policy's reads (docs/performance.md).
#[derive(Clone, Copy, Debug, Default)]
struct Occupancy {
    /// In service + queued, now.
    occ: u32,
    slots: u32,
}

/// What else the gateway knows of one device's load (stale signals, the index).
#[derive(Clone, Copy, Debug, Default)]
struct DevLoad {
    /// Stale signals: the period of its first change in it and its occupancy just before
    /// (the occupancy it reported at the start of that period).
    snap_period: u64,
    snap_occ: u32,
    /// Stale signals: the occupancy it is keyed with in the index.
    keyed: u32,
    /// Version of its pending wake-up.
    version: u32,
    /// Stale signals: its occupancy changed since it was keyed.
    dirty: bool,
    /// Held out of the index (tried for the current request).
    held: bool,
    /// Down (failed): out of the index until it is up again.
    down: bool,
}

/// The gateway's knowledge of every device's load.
pub struct Loads {
    occ: Vec<Occupancy>,
    /// Per device, for the index and stale signals only; empty for the other policies (240 KB
    /// at 10,000 devices that nothing would read).
    dev: Vec<DevLoad>,
    /// Stale signals: the report interval \[µs\] (0: exact).
    interval_us: u64,
    /// Stale signals: devices whose occupancy changed since they were keyed.
    dirty: Vec<u32>,
    /// Stale signals: the last report period processed.
    period: u64,
    /// Whether the limit usage is part of the load (a per-device limit).
    usage: bool,
    /// Whether the limit's usage can decay continuously ([`RateLimiter::decays`], asked at
    /// [`Loads::start`]).
    decays: bool,
    /// Whether the occupancy is kept (a policy reads loads): when nothing reads it, the
    /// gateway writes nothing at a device's events.
    occupancy: bool,
    /// Every device ordered by load (least-loaded selection).
    index: Option<LoadIndex>,
    /// With device pools ([`PoolMembers`]), theirs (`None`: none).
    pools: Option<Box<PoolIndexes>>,
    /// Re-key `d` at time t (if its version still matches): a bucket refills past the
    /// occupancy.
    wakes: BinaryHeap<Reverse<(SimTime, u32, u32)>>,
    /// Scratch: devices whose limit usage fell.
    changed: Vec<usize>,
}

impl Loads {
    /// Loads of devices with `slots`; stale occupancy if `interval` > 0; `usage`: the limit
    /// usage counts (per-device limit); `occupancy`: keep each device's occupancy (a policy
    /// reads loads); `index`: keep devices ordered (least-loaded selection; needs
    /// `occupancy`).
    pub fn new(
        slots: Vec<u32>,
        interval: SimDuration,
        usage: bool,
        occupancy: bool,
        index: bool,
    ) -> Loads {
        debug_assert!(occupancy || !index, "the index orders devices by occupancy");
        let n = slots.len();
        Loads {
            occ: slots
                .into_iter()
                .map(|slots| Occupancy { occ: 0, slots })
                .collect(),
            dev: if index || (occupancy && interval.0 > 0) {
                vec![DevLoad::default(); n]
            } else {
                Vec::new()
            },
            interval_us: interval.0,
            dirty: Vec::new(),
            period: 0,
            usage,
            decays: false,
            occupancy,
            index: index.then(|| LoadIndex::new(n)),
            pools: None,
            wakes: BinaryHeap::new(),
            changed: Vec::new(),
        }
    }

    /// An index of each device pool's devices besides that of every device (with an index;
    /// the pools of classes served by some groups only: pool `k`'s devices `parts[k - 1]`);
    /// `whole`: whether a class is served by every device (else the index of every device
    /// stays empty).
    pub fn with_pools(mut self, mut pools: PoolMembers, parts: &[PoolPart], whole: bool) -> Loads {
        if self.index.is_some() {
            pools.locate(parts);
            self.pools = Some(Box::new(PoolIndexes {
                more: parts
                    .iter()
                    .map(|p| LoadIndex::new(p.devices() as usize))
                    .collect(),
                members: pools,
                whole,
            }));
        }
        self
    }

    /// Asks the CPU to start fetching what a change of `d`'s occupancy reads (a hint): its
    /// occupancy, and with an index its other entry and its place in the index.
    #[inline(always)]
    pub fn prefetch(&self, d: u32) {
        if self.occupancy {
            prefetch_index::prefetch_index(&self.occ, d as usize);
            if let Some(index) = &self.index {
                prefetch_index::prefetch_index(&self.dev, d as usize);
                prefetch_index::prefetch_index(&index.place, d as usize);
            }
        }
    }

    /// Puts every device in the index (at time 0, all idle).
    pub fn start(&mut self, limiter: &mut dyn RateLimiter) {
        self.decays = limiter.decays();
        if self.index.is_some() {
            for d in 0..self.dev.len() as u32 {
                self.rekey(SimTime::ZERO, d, limiter);
            }
        }
    }

    /// The occupancy the gateway sees for `d` at `now`.
    #[inline(always)]
    fn seen_occ(&self, now: SimTime, d: u32) -> u32 {
        let occ = self.occ[d as usize].occ;
        if self.interval_us == 0 {
            return occ;
        }
        let x = &self.dev[d as usize];
        if x.snap_period != now.0 / self.interval_us {
            occ
        } else {
            x.snap_occ
        }
    }

    #[inline(always)]
    fn occ_load(&self, occ: u32, d: u32) -> f64 {
        f64::from(occ) / f64::from(self.occ[d as usize].slots.max(1))
    }

    /// The load of `d` at `now` as the gateway sees it.
    #[inline(always)]
    pub fn load(&self, now: SimTime, d: u32, limiter: &mut dyn RateLimiter) -> f64 {
        debug_assert!(self.occupancy, "a policy reads loads without Needs::loads");
        let occ = self.occ_load(self.seen_occ(now, d), d);
        if self.usage {
            occ.max(limiter.usage(now, d as usize))
        } else {
            occ
        }
    }

    /// Device `d` now holds `occ` requests (in service + queued).
    #[inline(always)]
    pub fn set_occupancy(&mut self, now: SimTime, d: u32, occ: u32, limiter: &mut dyn RateLimiter) {
        if !self.occupancy {
            return;
        }
        let i = d as usize;
        let before = std::mem::replace(&mut self.occ[i].occ, occ);
        if self.interval_us == 0 {
            self.rekey(now, d, limiter);
            return;
        }
        let p = now.0 / self.interval_us;
        let x = &mut self.dev[i];
        if x.snap_period < p {
            // The first change in this period: what it reported at the period's start.
            (x.snap_period, x.snap_occ) = (p, before);
        }
        if self.index.is_some() && !x.dirty {
            x.dirty = true;
            self.dirty.push(d);
        }
        if self.usage {
            // The occupancy it is keyed with waits for the next report, but a release may
            // have changed its limit usage, which the gateway knows at once.
            self.rekey(now, d, limiter);
        }
    }

    /// Brings the index up to `now`: new report periods, expired windows, refilled buckets.
    #[inline(always)]
    pub fn sync(&mut self, now: SimTime, limiter: &mut dyn RateLimiter) {
        if self.index.is_none() {
            return;
        }
        if self.interval_us > 0 && now.0 / self.interval_us > self.period {
            self.period = now.0 / self.interval_us;
            let dirty = std::mem::take(&mut self.dirty);
            for &d in &dirty {
                self.dev[d as usize].dirty = false;
                self.rekey(now, d, limiter);
            }
            for d in dirty {
                // Changed during this period: its next report will differ again.
                let occ = self.occ[d as usize].occ;
                let x = &mut self.dev[d as usize];
                if x.keyed != occ && !x.dirty {
                    x.dirty = true;
                    self.dirty.push(d);
                }
            }
        }
        if self.usage {
            let mut changed = std::mem::take(&mut self.changed);
            limiter.advance(now, &mut changed);
            for d in changed.drain(..) {
                self.rekey(now, d as u32, limiter);
            }
            self.changed = changed;
        }
        while let Some(&Reverse((t, d, v))) = self.wakes.peek() {
            if t > now {
                break;
            }
            self.wakes.pop();
            if self.dev[d as usize].version == v {
                self.rekey(now, d, limiter);
            }
        }
    }

    /// Recomputes `d`'s place in the index at `now`.
    #[inline(always)]
    fn rekey(&mut self, now: SimTime, d: u32, limiter: &mut dyn RateLimiter) {
        if self.index.is_none() || self.dev[d as usize].held || self.dev[d as usize].down {
            return;
        }
        let i = d as usize;
        let seen = self.seen_occ(now, d);
        let x = &mut self.dev[i];
        x.version = x.version.wrapping_add(1);
        x.keyed = seen;
        let occ = self.occ_load(seen, d);
        let mut place = Place::Flat(occ);
        let mut wake = None;
        let mut decay_slope = 0.0;
        if self.usage {
            if let Some((full_s, slope)) = self.decays.then(|| limiter.decay(now, i)).flatten() {
                // A refilling bucket: its usage falls to the occupancy at `switch`.
                let t = now.as_secs_f64();
                if slope * (full_s - t) > occ {
                    place = Place::Decaying(full_s);
                    decay_slope = slope;
                    let switch = full_s - occ / slope;
                    wake = Some(SimTime::from_secs_f64(switch).max(now + SimDuration(1)));
                }
            } else {
                let u = limiter.usage(now, i);
                if u > occ {
                    place = Place::Flat(u);
                }
            }
        }
        if let Some(index) = &mut self.index {
            match &mut self.pools {
                None => index.put(d, place, decay_slope),
                Some(p) => p.put(index, d, place, decay_slope),
            }
        }
        if let Some(t) = wake {
            self.wakes.push(Reverse((t, d, self.dev[i].version)));
        }
    }

    /// `d` went down (out of the index) or came back up (ranked again) at `now`.
    pub fn set_down(&mut self, now: SimTime, d: u32, down: bool, limiter: &mut dyn RateLimiter) {
        if self.index.is_none() {
            return; // only the index reads whether a device is down
        }
        self.dev[d as usize].down = down;
        if down {
            self.remove(d);
        } else {
            self.rekey(now, d, limiter);
        }
    }

    /// Holds `d` out of the index (tried for the current request).
    #[inline(always)]
    pub fn hold(&mut self, d: u32) {
        if self.index.is_some() {
            self.remove(d);
            self.dev[d as usize].held = true;
        }
    }

    /// Puts the held devices back, keyed at `now`.
    #[inline(always)]
    pub fn release_held(&mut self, now: SimTime, held: &[u32], limiter: &mut dyn RateLimiter) {
        if self.index.is_none() {
            return;
        }
        for &d in held {
            self.dev[d as usize].held = false;
            self.rekey(now, d, limiter);
        }
    }

    /// Takes `d` out of each index it is in.
    #[inline(always)]
    fn remove(&mut self, d: u32) {
        if let Some(index) = &mut self.index {
            match &mut self.pools {
                None => index.remove(d),
                Some(p) => p.remove(index, d),
            }
        }
    }

    /// The least-loaded untried devices of pool `pool` (0 without pools) at `now` (one or
    /// two bags of the pool's indices, for pool 0 the fleet's; see [`LoadIndex::least`]).
    #[inline(always)]
    pub fn least(&self, now: SimTime, pool: usize) -> (&[u32], &[u32]) {
        let index = match (pool, &self.pools) {
            (0, _) => self.index.as_ref(),
            (k, Some(p)) => p.more.get(k - 1),
            (_, None) => None,
        };
        match index {
            Some(i) => i.least(now.as_secs_f64()),
            None => (&[], &[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rate_limit::Unlimited;
    use rand::{RngExt, SeedableRng};

    fn least_set(l: &Loads, now: SimTime) -> Vec<u32> {
        let (a, b) = l.least(now, 0);
        let mut v: Vec<u32> = a.iter().chain(b).copied().collect();
        v.sort_unstable();
        v
    }

    /// Random occupancy changes: the index's least-loaded set is always the brute-force argmin.
    #[test]
    fn index_matches_brute_force_argmin() {
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(11);
        let n = 50;
        let slots: Vec<u32> = (0..n).map(|_| r.random_range(1..5)).collect();
        let mut lim = Unlimited;
        let mut l = Loads::new(slots.clone(), SimDuration::ZERO, false, true, true);
        l.start(&mut lim);
        let mut occ = vec![0u32; n];
        for step in 0..5000u64 {
            let d = r.random_range(0..n);
            occ[d] = r.random_range(0..6);
            l.set_occupancy(SimTime(step), d as u32, occ[d], &mut lim);
            let load = |i: usize| f64::from(occ[i]) / f64::from(slots[i]);
            let min = (0..n).map(load).fold(f64::INFINITY, f64::min);
            let want: Vec<u32> = (0..n)
                .filter(|&i| load(i) == min)
                .map(|i| i as u32)
                .collect();
            assert_eq!(least_set(&l, SimTime(step)), want, "step {step}");
        }
    }

    /// A pool's numbering is its devices in fleet order: `local` and `global` invert each
    /// other, and a device of no group of the pool has no index.
    #[test]
    fn pool_part_numbers_its_groups_devices_in_fleet_order() {
        // Fleet groups at 0 (3 devices), 3 (4), 7 (5), 12 (1); the pool holds the first, third
        // and fourth.
        let p = PoolPart::new(&[(0, 3), (7, 5), (12, 1)]);
        let members: Vec<u32> = (0..3).chain(7..12).chain(12..13).collect();
        assert_eq!(p.devices(), members.len() as u32);
        for (k, &d) in members.iter().enumerate() {
            assert_eq!(p.global(k as u32), d);
            assert_eq!(p.local(d), Some(k as u32));
        }
        for d in 3..7 {
            assert_eq!(p.local(d), None);
        }
        assert_eq!(p.local(13), None);
        assert_eq!(PoolPart::new(&[(5, 2)]).local(4), None);
    }

    /// With device pools, each pool's index holds its devices and its least-loaded set is the
    /// brute-force argmin over them; the index of every device stays empty when no class uses
    /// it.
    #[test]
    fn pool_indexes_match_brute_force_argmin() {
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(12);
        // Groups of 3, 4 and 5 devices; pool 1 = groups 0 and 2, pool 2 = group 1, pool 3 =
        // group 2.
        let counts = [3u32, 4, 5];
        let of_group = vec![vec![1], vec![2], vec![1, 3]];
        let pools: [&[usize]; 4] = [&[0, 1, 2], &[0, 2], &[1], &[2]];
        let group = |d: usize| match d {
            0..3 => 0,
            3..7 => 1,
            _ => 2,
        };
        let n = 12;
        for whole in [true, false] {
            let slots: Vec<u32> = (0..n).map(|_| r.random_range(1..4)).collect();
            let mut lim = Unlimited;
            let members = PoolMembers::new(&counts, of_group.clone());
            let parts = [
                PoolPart::new(&[(0, 3), (7, 5)]),
                PoolPart::new(&[(3, 4)]),
                PoolPart::new(&[(7, 5)]),
            ];
            let mut l = Loads::new(slots.clone(), SimDuration::ZERO, false, true, true)
                .with_pools(members, &parts, whole);
            l.start(&mut lim);
            let mut occ = vec![0u32; n];
            for step in 0..3000u64 {
                let d = r.random_range(0..n);
                occ[d] = r.random_range(0..6);
                l.set_occupancy(SimTime(step), d as u32, occ[d], &mut lim);
                if r.random_bool(0.05) {
                    // A device tried and put back.
                    let t = r.random_range(0..n) as u32;
                    l.hold(t);
                    l.release_held(SimTime(step), &[t], &mut lim);
                }
                let load = |i: usize| f64::from(occ[i]) / f64::from(slots[i]);
                for (k, gs) in pools.iter().enumerate() {
                    let devs: Vec<usize> = (0..n).filter(|&i| gs.contains(&group(i))).collect();
                    let want: Vec<u32> = if k == 0 && !whole {
                        Vec::new()
                    } else {
                        let min = devs.iter().map(|&i| load(i)).fold(f64::INFINITY, f64::min);
                        devs.iter()
                            .filter(|&&i| load(i) == min)
                            .map(|&i| i as u32)
                            .collect()
                    };
                    // Pool k's indices are its own: its devices in fleet order.
                    let (a, b) = l.least(SimTime(step), k);
                    let global = |i: u32| if k == 0 { i } else { parts[k - 1].global(i) };
                    let mut got: Vec<u32> = a.iter().chain(b).map(|&i| global(i)).collect();
                    got.sort_unstable();
                    assert_eq!(got, want, "whole {whole}, step {step}, pool {k}");
                }
            }
        }
    }

    /// Exact loads without an index (power of two): the occupancy last set over the slots,
    /// and a limit's usage where it is larger; the index's bookkeeping is not needed for it.
    #[test]
    fn exact_loads_are_occupancy_over_slots_or_usage() {
        use crate::policy::rate_limit::{RateLimiter, SlidingWindow};
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        let n = 40;
        let slots: Vec<u32> = (0..n).map(|_| r.random_range(1..9)).collect();
        let mut lim = SlidingWindow::new(SimDuration(1_000_000), 4.0, n);
        let mut l = Loads::new(slots.clone(), SimDuration::ZERO, true, true, false);
        l.start(&mut lim);
        let mut occ = vec![0u32; n];
        for step in 0..5000u64 {
            let now = SimTime(step * 1_000);
            let d = r.random_range(0..n);
            if r.random_bool(0.3) {
                lim.record(now, d, 1.0);
            }
            occ[d] = r.random_range(0..12);
            l.set_occupancy(now, d as u32, occ[d], &mut lim);
            let k = r.random_range(0..n);
            let want = (f64::from(occ[k]) / f64::from(slots[k])).max(lim.usage(now, k));
            assert_eq!(
                l.load(now, k as u32, &mut lim),
                want,
                "step {step}, device {k}"
            );
        }
    }

    #[test]
    fn held_devices_are_out_until_released() {
        let mut lim = Unlimited;
        let mut l = Loads::new(vec![1, 1, 1], SimDuration::ZERO, false, true, true);
        l.start(&mut lim);
        l.set_occupancy(SimTime(1), 1, 1, &mut lim);
        assert_eq!(least_set(&l, SimTime(1)), vec![0, 2]);
        l.hold(0);
        l.hold(2);
        assert_eq!(least_set(&l, SimTime(1)), vec![1]);
        l.release_held(SimTime(1), &[0, 2], &mut lim);
        assert_eq!(least_set(&l, SimTime(1)), vec![0, 2]);
    }

    #[test]
    fn stale_loads_change_only_at_report_boundaries() {
        // Reports every 1 s: a device that fills at 0.5 s still looks idle until 1 s.
        let mut lim = Unlimited;
        let mut l = Loads::new(vec![1, 1], SimDuration(1_000_000), false, true, true);
        l.start(&mut lim);
        let t = SimTime(500_000);
        l.set_occupancy(t, 0, 1, &mut lim);
        l.sync(t, &mut lim);
        assert_eq!(least_set(&l, t), vec![0, 1], "both still look idle");
        assert_eq!(l.load(t, 0, &mut lim), 0.0);
        let t = SimTime(1_000_000);
        l.sync(t, &mut lim);
        assert_eq!(least_set(&l, t), vec![1], "device 0 reported at 1 s");
        assert_eq!(l.load(t, 0, &mut lim), 1.0);
        // A change at exactly a boundary is seen at the next one.
        l.set_occupancy(t, 1, 1, &mut lim);
        l.sync(t, &mut lim);
        assert_eq!(l.load(t, 1, &mut lim), 0.0);
        let t = SimTime(2_000_000);
        l.sync(t, &mut lim);
        assert_eq!(least_set(&l, t), vec![0, 1]);
    }
}
