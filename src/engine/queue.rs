//! The event queue: a 4-ary min-heap keyed by `(time, class, seq)`.
//!
//! With thousands of devices the queue holds thousands of pending events, and at every pop a
//! path from the root to a leaf misses the cache. A 4-ary heap halves the depth of a binary
//! heap; the 8-byte times are apart from the rest of each entry, so comparing a node's four
//! children reads 32 bytes, and the tie-breaker `(class, seq)` sits with the event, read only
//! where two times are equal. (Measured with `scripts/fleet-cachegrind.sh` against packed
//! 16-byte keys: fewer instructions per request from 10 to 10,000 devices, and no more cache
//! misses; docs/performance.md.) Which of four children is least is a coin toss for the branch
//! predictor, so a full node's least child is chosen by selects, not branches, and only equal
//! times take the branchy path through the tie-breakers.
//!
//! Events that come in time order (a workload's next arrival, scheduled when the one before
//! it happens) can wait in a lane beside the heap instead ([`EventQueue::push_in_order`]): a
//! pop compares the lane's first key with the heap's and takes the smaller, so the order is
//! the same, and an arrival costs no sift up or down (docs/performance.md, "An arrival lane").
//!
//! In a heap too large for the caches (thousands of devices, each with an event pending), the
//! levels of a pop are a chain of cache misses: which node to read next is known only once
//! the one before is read. So at each level of a large heap the pop asks the CPU to start
//! fetching the times of all sixteen grandchildren (two or three cache lines), one of whose
//! groups of four it reads next ([`PREFETCH_FROM`]).

use crate::time::SimTime;

/// Events tell the queue their same-time class: at equal times, lower classes pop first.
pub trait Classify {
    /// The same-time class of this event (lower pops first).
    fn class(&self) -> u8;
}

/// Bits of the insertion counter in a tie-breaker.
const SEQ_BITS: u32 = 56;

/// The queue: two arrays in heap order, and the lane. Finding the least of a node's four
/// children reads their times, 32 bytes; moving an entry moves its time and its slot
/// (tie-breaker and event), and the tie-breakers are compared only where times are equal.
pub struct EventQueue<E> {
    /// Times \[µs\].
    times: Vec<u64>,
    slots: Vec<Slot<E>>,
    /// Events pushed in order ([`EventQueue::push_in_order`]), earliest first: beside the
    /// heap, so that a stream of events that comes in time order (a workload's next arrival)
    /// costs neither a sift up nor a sift down.
    lane: std::collections::VecDeque<(u64, Slot<E>)>,
    next_seq: u64,
}

/// The rest of an entry.
#[derive(Clone, Copy)]
struct Slot<E> {
    /// class (8 bits) | seq (56 bits): with the time, the order is that of the tuple, and
    /// every key is distinct (the counter), so the pop order does not depend on the heap.
    tie: u64,
    event: E,
}

/// Children per node.
const ARITY: usize = 4;

/// Heaps of at least this many entries prefetch the next level of a pop (the module's
/// documentation). A smaller heap's times (16 KiB) stay in the caches, and the hint would be
/// instructions for nothing.
const PREFETCH_FROM: usize = 2048;

/// Whether key `(t1, x1)` comes before `(t2, x2)`.
#[inline(always)]
fn before(t1: u64, x1: u64, t2: u64, x2: u64) -> bool {
    t1 < t2 || (t1 == t2 && x1 < x2)
}

/// The least of the children `first..` with times `kids` (any number): its index and time.
#[inline(always)]
fn least_of<E>(slots: &[Slot<E>], first: usize, kids: &[u64]) -> (usize, u64) {
    let mut m = first;
    let mut mt = kids[0];
    for (c, &kt) in kids.iter().enumerate().skip(1) {
        // `before`, spelt out so that the tie-breakers are loaded only on equal times.
        if kt < mt || (kt == mt && slots[first + c].tie < slots[m].tie) {
            (m, mt) = (first + c, kt);
        }
    }
    (m, mt)
}

/// The least of four children, without a branch on their times where they differ: which child
/// is least is unpredictable, and a mispredicted branch costs more than the selects. Equal
/// times that may be the least (rare) take the tie-breakers through [`least_of`].
#[inline(always)]
fn least_of_four<E>(slots: &[Slot<E>], first: usize, t: [u64; 4]) -> (usize, u64) {
    let (a, ia) = if t[1] < t[0] { (t[1], 1) } else { (t[0], 0) };
    let (b, ib) = if t[3] < t[2] { (t[3], 3) } else { (t[2], 2) };
    let (mt, im) = if b < a { (b, ib) } else { (a, ia) };
    // The least time is held twice only if a pair holds two equal times or the pairs' least
    // are equal; the test is then sometimes true without a tie at the least, and the
    // tie-breakers decide the same.
    if (t[0] == t[1]) | (t[2] == t[3]) | (a == b) {
        return least_of(slots, first, &t);
    }
    (first + im, mt)
}

impl<E: Classify + Copy> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            times: Vec::with_capacity(n),
            slots: Vec::with_capacity(n),
            lane: std::collections::VecDeque::new(),
            next_seq: 0,
        }
    }

    /// `event` with its tie-breaker (its class and the push count), the count moved on.
    #[inline(always)]
    fn slot(&mut self, event: E) -> Slot<E> {
        // 2^56 events would take centuries at any speed this engine reaches.
        let tie = (u64::from(event.class()) << SEQ_BITS) | (self.next_seq & ((1 << SEQ_BITS) - 1));
        self.next_seq += 1;
        Slot { tie, event }
    }

    /// Schedules `event` at `time`, like [`EventQueue::push`], for a caller whose events of
    /// this kind mostly come in time order (an open-loop workload's arrivals: each is
    /// scheduled when the one before it happens). One that comes no earlier than the last
    /// such event still pending waits in a lane beside the heap, which it leaves without a
    /// sift; an earlier one goes into the heap. The pop order is the same either way.
    #[inline(always)]
    pub fn push_in_order(&mut self, time: SimTime, event: E) {
        let slot = self.slot(event);
        let t = time.0;
        match self.lane.back() {
            Some(&(bt, b)) if before(t, slot.tie, bt, b.tie) => self.sift_up(t, slot),
            _ => self.lane.push_back((t, slot)),
        }
    }

    /// Schedules `event` at `time`.
    #[inline(always)]
    pub fn push(&mut self, time: SimTime, event: E) {
        let slot = self.slot(event);
        self.sift_up(time.0, slot);
    }

    /// Adds an entry to the heap.
    #[inline(always)]
    fn sift_up(&mut self, t: u64, slot: Slot<E>) {
        // Sift up: move parents down into the hole until the key fits.
        let mut i = self.times.len();
        self.times.push(t);
        self.slots.push(slot);
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if !before(t, slot.tie, self.times[parent], self.slots[parent].tie) {
                break;
            }
            self.times[i] = self.times[parent];
            self.slots[i] = self.slots[parent];
            i = parent;
        }
        self.times[i] = t;
        self.slots[i] = slot;
    }

    /// Removes and returns the earliest event (ties: lower class, then first scheduled).
    #[inline(always)]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if let Some(&(lt, l)) = self.lane.front() {
            let lane_first = match self.times.first() {
                Some(&ht) => before(lt, l.tie, ht, self.slots[0].tie),
                None => true,
            };
            if lane_first {
                self.lane.pop_front();
                return Some((SimTime(lt), l.event));
            }
        }
        self.pop_heap()
    }

    /// Removes and returns the heap's earliest event.
    #[inline(always)]
    fn pop_heap(&mut self) -> Option<(SimTime, E)> {
        let top = (*self.times.first()?, self.slots[0].event);
        let t = self.times.pop()?;
        let slot = self.slots.pop()?;
        let n = self.times.len();
        if n > 0 {
            // Sift the last entry down from the root: the least child moves up into the hole.
            let (times, slots) = (&mut self.times[..n], &mut self.slots[..n]);
            let prefetch = n >= PREFETCH_FROM;
            let mut i = 0;
            loop {
                let first = ARITY * i + 1;
                if first >= n {
                    break;
                }
                if prefetch {
                    // The grandchildren: 16 times, indices g..g + 16, in two or three lines
                    // (a hint: past the end it does nothing).
                    let g = ARITY * first + 1;
                    prefetch_index::prefetch_index(&*times, g);
                    prefetch_index::prefetch_index(&*times, g + 8);
                    prefetch_index::prefetch_index(&*times, g + 15);
                }
                let (m, mt) = match times.get(first..first + ARITY) {
                    Some(&[t0, t1, t2, t3]) => least_of_four(slots, first, [t0, t1, t2, t3]),
                    _ => least_of(slots, first, &times[first..]),
                };
                if !before(mt, slots[m].tie, t, slot.tie) {
                    break;
                }
                times[i] = mt;
                slots[i] = slots[m];
                i = m;
            }
            times[i] = t;
            slots[i] = slot;
        }
        Some((SimTime(top.0), top.1))
    }

    /// The heap's earliest event (not the lane's): the next event unless an arrival in the
    /// lane comes first or an earlier event is pushed before the next pop.
    #[inline(always)]
    pub fn peek_heap(&self) -> Option<E> {
        self.slots.first().map(|s| s.event)
    }

    /// Time of the earliest event.
    pub fn peek_time(&self) -> Option<SimTime> {
        let lane = self.lane.front().map(|&(t, _)| t);
        self.times
            .first()
            .copied()
            .into_iter()
            .chain(lane)
            .min()
            .map(SimTime)
    }

    /// Pending events.
    pub fn len(&self) -> usize {
        self.times.len() + self.lane.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty() && self.lane.is_empty()
    }
}

impl<E: Classify + Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[derive(Debug, PartialEq, Clone, Copy)]
    struct Ev(u8, u32);
    impl Classify for Ev {
        fn class(&self) -> u8 {
            self.0
        }
    }

    #[test]
    fn orders_by_time_then_class_then_fifo() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), Ev(1, 0));
        q.push(SimTime(5), Ev(0, 1));
        q.push(SimTime(3), Ev(2, 2));
        q.push(SimTime(5), Ev(1, 3));
        q.push(SimTime(5), Ev(0, 4));
        let order: Vec<u32> = std::iter::from_fn(|| q.pop().map(|(_, e)| e.1)).collect();
        assert_eq!(order, vec![2, 1, 4, 0, 3]);
    }

    #[test]
    fn fifo_among_many_equal_keys() {
        let mut q = EventQueue::new();
        for i in 0..1000 {
            q.push(SimTime(7), Ev(0, i));
        }
        for i in 0..1000 {
            assert_eq!(q.pop().map(|(_, e)| e.1), Some(i));
        }
        assert!(q.is_empty());
    }

    /// Against a sorted reference: random pushes (never before the last pop), through the heap
    /// and the in-order lane, interleaved with pops give exactly the `(time, class, seq)` order.
    #[test]
    fn matches_a_sorted_reference_under_interleaved_pushes() {
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let mut q = EventQueue::new();
        let mut reference = std::collections::BTreeSet::<(u64, u8, u64)>::new();
        let mut seq = 0u64;
        let mut now = 0u64;
        let mut stream = 0u64;
        for _ in 0..200_000 {
            if r.random_bool(0.55) || reference.is_empty() {
                let dt = match r.random_range(0..4) {
                    0 => 0,
                    1 => r.random_range(0..10),
                    2 => r.random_range(0..1_000_000),
                    _ => r.random_range(0..(1u64 << 40)),
                };
                let class = r.random_range(0..3u8);
                q.push(SimTime(now + dt), Ev(class, seq as u32));
                reference.insert((now + dt, class, seq));
                seq += 1;
                // An in-order stream beside it: mostly later than its last event, sometimes
                // not (those go into the heap).
                if r.random_bool(0.5) {
                    let t = if r.random_bool(0.9) {
                        stream = stream.max(now) + r.random_range(0..3);
                        stream
                    } else {
                        now + r.random_range(0..20)
                    };
                    let class = r.random_range(0..3u8);
                    q.push_in_order(SimTime(t), Ev(class, seq as u32));
                    reference.insert((t, class, seq));
                }
                seq += 1;
            } else {
                let want = reference.pop_first().unwrap();
                let (t, e) = q.pop().unwrap();
                assert_eq!((t.0, e.0, u64::from(e.1)), want);
                assert_eq!(q.peek_time().map(|t| t.0), reference.first().map(|x| x.0));
                now = t.0;
            }
            assert_eq!(q.len(), reference.len());
        }
    }
}
