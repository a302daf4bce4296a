//! The event queue: a binary heap keyed by `(time, class, seq)`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::time::SimTime;

/// Events tell the queue their same-time class: at equal times, lower classes pop first.
pub trait Classify {
    /// The same-time class of this event (lower pops first).
    fn class(&self) -> u8;
}

struct Entry<E> {
    time: SimTime,
    class: u8,
    seq: u64,
    event: E,
}

impl<E> Entry<E> {
    fn key(&self) -> (SimTime, u8, u64) {
        (self.time, self.class, self.seq)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the smallest key is on top.
        other.key().cmp(&self.key())
    }
}

/// A priority queue of events with a total order: earlier time first, then lower class, then
/// insertion order (FIFO). No two entries share a key, so the pop order never depends on the
/// heap's internal layout.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
}

impl<E: Classify> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    /// An empty queue with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(n),
            next_seq: 0,
        }
    }

    /// Schedules `event` at `time`.
    pub fn push(&mut self, time: SimTime, event: E) {
        let class = event.class();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry {
            time,
            class,
            seq,
            event,
        });
    }

    /// Removes and returns the next event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.heap.pop().map(|e| (e.time, e.event))
    }

    /// The time of the next event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.time)
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
}
