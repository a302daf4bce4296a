//! The event queue: a 4-ary min-heap keyed by `(time, class, seq)` packed in one integer.
//!
//! With thousands of devices the queue holds thousands of pending events; a 4-ary heap halves
//! the depth of a binary heap, and with the 16-byte keys apart from the events a node's four
//! children are 64 bytes of keys (one or two cache lines).

use crate::time::SimTime;

/// Events tell the queue their same-time class: at equal times, lower classes pop first.
pub trait Classify {
    /// The same-time class of this event (lower pops first).
    fn class(&self) -> u8;
}

/// Bits of the insertion counter in a key.
const SEQ_BITS: u32 = 56;

/// The queue. Keys and events live in two arrays, so that finding the least of a node's
/// four children reads 64 bytes of keys.
pub struct EventQueue<E> {
    /// time (64 bits) | class (8 bits) | seq (56 bits): the order is that of the tuple, and
    /// every key is distinct (the counter), so the pop order does not depend on the heap.
    keys: Vec<u128>,
    events: Vec<E>,
    next_seq: u64,
}

/// Children per node.
const ARITY: usize = 4;

impl<E: Classify + Copy> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            keys: Vec::with_capacity(n),
            events: Vec::with_capacity(n),
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
        // Sift up: move parents down into the hole until the key fits.
        let mut i = self.keys.len();
        self.keys.push(key);
        self.events.push(event);
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.keys[parent] <= key {
                break;
            }
            self.keys[i] = self.keys[parent];
            self.events[i] = self.events[parent];
            i = parent;
        }
        self.keys[i] = key;
        self.events[i] = event;
    }

    /// Removes and returns the earliest event (ties: lower class, then first scheduled).
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let n = self.keys.len();
        if n == 0 {
            return None;
        }
        let (top_key, top_event) = (self.keys[0], self.events[0]);
        let (key, event) = (self.keys[n - 1], self.events[n - 1]);
        self.keys.pop();
        self.events.pop();
        let n = n - 1;
        if n > 0 {
            // Sift the last entry down from the root: the least child moves up into the hole.
            let mut i = 0;
            loop {
                let first = ARITY * i + 1;
                if first >= n {
                    break;
                }
                let last = (first + ARITY).min(n);
                let mut m = first;
                let mut mk = self.keys[first];
                for c in first + 1..last {
                    let k = self.keys[c];
                    if k < mk {
                        (m, mk) = (c, k);
                    }
                }
                if mk >= key {
                    break;
                }
                self.keys[i] = mk;
                self.events[i] = self.events[m];
                i = m;
            }
            self.keys[i] = key;
            self.events[i] = event;
        }
        Some((SimTime((top_key >> 64) as u64), top_event))
    }

    /// Time of the earliest event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.keys.first().map(|k| SimTime((k >> 64) as u64))
    }

    /// Pending events.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
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
