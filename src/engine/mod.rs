//! A small discrete-event engine that knows nothing of devices or requests.
//!
//! A [`Model`] owns all domain state. The engine pops the next event (total order:
//! `(time, class, seq)`, see [`EventQueue`]), advances the clock and hands the event to the
//! model, which may schedule follow-ups. That is the whole loop.

mod queue;

pub use queue::{Classify, EventQueue};

use std::sync::atomic::{AtomicBool, Ordering};

use crate::time::SimTime;

/// Whether runs may use helper threads at all ([`set_helper_threads`]).
static HELPER_THREADS: AtomicBool = AtomicBool::new(true);

/// Allows (the default) or forbids the helper threads of [`spare_core`] in this process:
/// `edgesim run --threads 1` forbids them. Results do not depend on it.
pub fn set_helper_threads(allowed: bool) {
    HELPER_THREADS.store(allowed, Ordering::Relaxed);
}

/// Whether a helper thread of a run (arrivals drawn ahead, tables written behind) has a core
/// to itself: helper threads are allowed, the machine has a second core, and the caller is not
/// a worker of a thread pool (a sweep, a plan, a comparison), whose other runs keep every core
/// busy.
pub fn spare_core() -> bool {
    HELPER_THREADS.load(Ordering::Relaxed)
        && rayon::current_thread_index().is_none()
        && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// A simulated system driven by the engine.
pub trait Model {
    /// The event type; small and `Copy`, carrying ids only.
    type Event: Copy + Classify;

    /// Schedules the initial events.
    fn start(&mut self, queue: &mut EventQueue<Self::Event>);

    /// Handles one event at time `now`; may schedule more, never before `now` (the engine
    /// panics: a model bug).
    fn handle(&mut self, now: SimTime, event: Self::Event, queue: &mut EventQueue<Self::Event>);

    /// A hint, before each [`Model::handle`]: `event` is likely the one after it (the event
    /// queue's heap holds it first). A model whose state is too large for the caches may
    /// start fetching what that event will read, while it handles the current one. Must not
    /// change any state; the default does nothing.
    #[inline(always)]
    fn prefetch(&self, event: Self::Event) {
        let _ = event;
    }

    /// Whether to call [`Model::prefetch`] at all in this run (asked once, at the start): a
    /// model whose state fits the caches says no, and its events pay nothing for the hint.
    fn wants_prefetch(&self) -> bool {
        false
    }
}

/// What a finished engine run reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunStats {
    /// Time of the last event handled.
    pub end: SimTime,
    /// Number of events handled.
    pub events: u64,
}

/// Runs `model` until no event remains or the next one lies after `horizon`.
// Inlined into its caller so that the model's `handle` can be inlined into the loop: whether
// the compiler does so by itself flips with unrelated changes, and a call per event cost up
// to 2 % of the instructions (docs/performance.md).
#[inline]
pub fn run<M: Model>(model: &mut M, horizon: SimTime) -> RunStats {
    let mut queue = EventQueue::with_capacity(1024);
    model.start(&mut queue);
    let prefetch = model.wants_prefetch();
    let mut now = SimTime::ZERO;
    let mut events = 0u64;
    while let Some((at, event)) = queue.pop() {
        if at > horizon {
            break;
        }
        // A model bug, never input (every input path is validated): stop rather than run the
        // clock backwards into silently wrong results. One predictable branch per event.
        assert!(
            at >= now,
            "event scheduled in the past: at {} µs, the clock is at {} µs",
            at.0,
            now.0
        );
        now = at;
        events += 1;
        if prefetch && let Some(next) = queue.peek_heap() {
            model.prefetch(next);
        }
        model.handle(now, event, &mut queue);
    }
    RunStats { end: now, events }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;

    /// A ping-pong model: each event schedules the next one 10 µs later until a count.
    struct Counter {
        left: u32,
        seen: Vec<SimTime>,
    }
    #[derive(Clone, Copy)]
    struct Tick;
    impl Classify for Tick {
        fn class(&self) -> u8 {
            0
        }
    }
    impl Model for Counter {
        type Event = Tick;
        fn start(&mut self, q: &mut EventQueue<Tick>) {
            q.push(SimTime::ZERO, Tick);
        }
        fn handle(&mut self, now: SimTime, _: Tick, q: &mut EventQueue<Tick>) {
            self.seen.push(now);
            if self.left > 0 {
                self.left -= 1;
                q.push(now + SimDuration(10), Tick);
            }
        }
    }

    /// A model that schedules its second event before the first.
    struct Backwards(u32);
    impl Model for Backwards {
        type Event = Tick;
        fn start(&mut self, q: &mut EventQueue<Tick>) {
            q.push(SimTime(100), Tick);
        }
        fn handle(&mut self, _: SimTime, _: Tick, q: &mut EventQueue<Tick>) {
            if self.0 == 0 {
                self.0 = 1;
                q.push(SimTime(50), Tick);
            }
        }
    }

    /// Events scheduled up front at scrambled times; records the hints and the order handled.
    struct Hinted {
        wants: bool,
        hints: std::cell::RefCell<Vec<u32>>,
        handled: Vec<u32>,
    }
    #[derive(Clone, Copy)]
    struct Id(u32);
    impl Classify for Id {
        fn class(&self) -> u8 {
            0
        }
    }
    impl Model for Hinted {
        type Event = Id;
        fn start(&mut self, q: &mut EventQueue<Id>) {
            for k in 0..3000u32 {
                q.push(SimTime(u64::from(k.wrapping_mul(7919) % 3001)), Id(k));
            }
        }
        fn handle(&mut self, _: SimTime, e: Id, _: &mut EventQueue<Id>) {
            self.handled.push(e.0);
        }
        fn prefetch(&self, e: Id) {
            self.hints.borrow_mut().push(e.0);
        }
        fn wants_prefetch(&self) -> bool {
            self.wants
        }
    }

    /// The hint before each event names the event handled after it (nothing is pushed in
    /// between here), and a model that does not want hints gets none.
    #[test]
    fn the_prefetch_hint_names_the_next_event() {
        let mut m = Hinted {
            wants: true,
            hints: Default::default(),
            handled: vec![],
        };
        let stats = run(&mut m, SimTime::MAX);
        assert_eq!(stats.events, 3000);
        assert_eq!(m.hints.borrow().as_slice(), &m.handled[1..]);
        let mut sorted = m.handled.clone();
        sorted.sort_unstable_by_key(|&k| k.wrapping_mul(7919) % 3001);
        assert_eq!(m.handled, sorted, "hints change nothing of the order");
        let mut m = Hinted {
            wants: false,
            hints: Default::default(),
            handled: vec![],
        };
        run(&mut m, SimTime::MAX);
        assert!(m.hints.borrow().is_empty());
        assert_eq!(m.handled.len(), 3000);
    }

    #[test]
    #[should_panic(expected = "event scheduled in the past: at 50 µs, the clock is at 100 µs")]
    fn refuses_to_run_the_clock_backwards() {
        run(&mut Backwards(0), SimTime::MAX);
    }

    #[test]
    fn runs_until_empty_or_horizon() {
        let mut m = Counter {
            left: 5,
            seen: vec![],
        };
        let stats = run(&mut m, SimTime::MAX);
        assert_eq!(
            stats,
            RunStats {
                end: SimTime(50),
                events: 6
            }
        );
        let mut m = Counter {
            left: 5,
            seen: vec![],
        };
        let stats = run(&mut m, SimTime(25));
        assert_eq!(stats.events, 3);
        assert_eq!(m.seen, vec![SimTime(0), SimTime(10), SimTime(20)]);
    }
}
