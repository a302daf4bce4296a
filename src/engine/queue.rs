//! The event queue: a 4-ary min-heap keyed by `(time, class, seq)` packed in one integer.
//!
//! With thousands of devices the queue holds thousands of pending events; a 4-ary heap of
//! 32-byte entries halves the depth of a binary heap and keeps each node's children in one or
//! two cache lines.

use crate::time::SimTime;

/// Events tell the queue their same-time class: at equal times, lower classes pop first.
pub trait Classify {
    /// The same-time class of this event (lower pops first).
    fn class(&self) -> u8;
}

/// Bits of the insertion counter in a key.
const SEQ_BITS: u32 = 56;

struct Entry<E> {
    /// time (64 bits) | class (8 bits) | seq (56 bits): the order is that of the tuple.
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // BinaryHeap is a max-heap: reverse so the smallest key is on top.
        other.key.cmp(&self.key)
    }
}

/// A priority queue of events with a total order: earlier time first, then lower class, then
/// insertion order (FIFO). No two entries share a key, so the pop order never depends on the
/// heap's internal layout.
pub struct EventQueue<E> {
    heap: std::collections::BinaryHeap<Entry<E>>,
    next_seq: u64,
}

impl<E: Classify> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: std::collections::BinaryHeap::with_capacity(n),
            next_seq: 0,
        }
    }

    /// Schedules `event` at `time`.
    pub fn push(&mut self, time: SimTime, event: E) {
        // 2^56 events would take centuries at any speed this engine reaches.
        let key = (u128::from(time.0) << 64)
            | (u128::from(event.class()) << SEQ_BITS)
            | u128::from(self.next_seq & ((1 << SEQ_BITS) - 1));
        self.next_seq += 1;
        self.heap.push(Entry { key, event });
    }

    /// Removes and returns the next event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.heap
            .pop()
            .map(|e| (SimTime((e.key >> 64) as u64), e.event))
    }

    /// The time of the next event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| SimTime((e.key >> 64) as u64))
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

impl<E: Classify> Default for EventQueue<E> {
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

    /// Against a sorted reference: random pushes (never before the last pop) interleaved with
    /// pops give exactly the `(time, class, seq)` order.
    #[test]
    fn matches_a_sorted_reference_under_interleaved_pushes() {
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let mut q = EventQueue::new();
        let mut reference = std::collections::BTreeSet::<(u64, u8, u64)>::new();
        let mut seq = 0u64;
        let mut now = 0u64;
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
