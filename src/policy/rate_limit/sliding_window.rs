//! Sliding-window rate limiting (the paper's).

use std::collections::VecDeque;

use super::{Admission, RateLimiter};
use crate::time::{SimDuration, SimTime};

/// `kind = "sliding_window"`: the keys it shares with the other window limiter.
pub use super::window::{File, Spec};

/// The limiter for `keys` scope keys.
pub(super) fn build(spec: &Spec, keys: usize) -> SlidingWindow {
    SlidingWindow::new(spec.window, spec.limit, keys)
}

/// Admits while the amount admitted in the last `window` (the half-open interval
/// `(now - window, now]`) plus the new amount stays within `limit`. Exact: it keeps a log of
/// admissions inside the window, so memory is bounded by what one window admits.
///
/// All keys share one window length, so admissions leave their windows in the order they were
/// made: one log for every key, in time order, expires them in O(1) each, and a key's state is
/// its running sum and count (contiguous across keys, however many devices there are).
#[derive(Clone, Debug)]
pub struct SlidingWindow {
    window: SimDuration,
    limit: f64,
    /// Every admission still in its window: (time, key, amount), oldest first.
    log: VecDeque<(SimTime, u32, f64)>,
    /// Per key: amount and number of admissions in the window.
    sums: Vec<(f64, u32)>,
    /// Time up to which the log has been expired.
    now: SimTime,
    /// Keys whose usage fell since the last `advance`, kept once `advance` is used.
    fell: Option<Vec<usize>>,
}

impl SlidingWindow {
    /// A window of `window` admitting at most `limit` per window, for `keys` scope keys.
    pub fn new(window: SimDuration, limit: f64, keys: usize) -> SlidingWindow {
        SlidingWindow {
            window,
            limit,
            log: VecDeque::new(),
            sums: vec![(0.0, 0); keys],
            now: SimTime::ZERO,
            fell: None,
        }
    }

    /// Expires the admissions that left their window by `now`, noting their keys. Called by
    /// every operation, mostly at a time already expired to: that test is inlined.
    #[inline(always)]
    fn expire(&mut self, now: SimTime) {
        if now > self.now {
            self.expire_to(now);
        }
    }

    /// [`SlidingWindow::expire`]'s work, `now` being later than the last time.
    fn expire_to(&mut self, now: SimTime) {
        self.now = now;
        while let Some(&(t, key, a)) = self.log.front() {
            if now.since(t) < self.window {
                break;
            }
            self.log.pop_front();
            let (sum, count) = &mut self.sums[key as usize];
            *sum -= a;
            *count -= 1;
            if *count == 0 {
                *sum = 0.0; // no drift from repeated float subtraction
            }
            if let Some(fell) = &mut self.fell {
                fell.push(key as usize);
            }
        }
    }
}

impl RateLimiter for SlidingWindow {
    fn check(&mut self, now: SimTime, key: usize, amount: f64) -> Admission {
        self.expire(now);
        if self.sums[key].0 + amount <= self.limit {
            Admission::Admit
        } else {
            Admission::Throttle
        }
    }
    fn record(&mut self, now: SimTime, key: usize, amount: f64) {
        self.expire(now);
        self.log.push_back((now, key as u32, amount));
        let (sum, count) = &mut self.sums[key];
        *sum += amount;
        *count += 1;
    }
    fn usage(&mut self, now: SimTime, key: usize) -> f64 {
        self.expire(now);
        self.sums[key].0 / self.limit
    }
    fn advance(&mut self, now: SimTime, changed: &mut Vec<usize>) {
        self.expire(now);
        changed.append(self.fell.get_or_insert_with(Vec::new));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: u64) -> SimTime {
        SimTime(x * 1_000_000)
    }

    #[test]
    fn admits_at_most_limit_per_window() {
        let mut w = SlidingWindow::new(SimDuration(10_000_000), 2.0, 2);
        let mut admit = |t, key| {
            let ok = w.check(t, key, 1.0) == Admission::Admit;
            if ok {
                w.record(t, key, 1.0);
            }
            ok
        };
        assert!(admit(s(0), 0));
        assert!(admit(s(3), 0));
        assert!(!admit(s(9), 0), "third in (−1, 9] is over the limit");
        assert!(admit(s(9), 1), "keys are independent");
        assert!(admit(s(10), 0), "the admission at 0 left the window at 10");
        assert!(!admit(s(12), 0));
        assert!(admit(s(13), 0));
    }

    #[test]
    fn check_does_not_consume() {
        let mut w = SlidingWindow::new(SimDuration(1_000_000), 1.0, 1);
        for _ in 0..5 {
            assert_eq!(w.check(s(0), 0, 1.0), Admission::Admit);
        }
        assert_eq!(
            w.check(s(0), 0, 2.0),
            Admission::Throttle,
            "a single amount over the limit"
        );
    }
}
