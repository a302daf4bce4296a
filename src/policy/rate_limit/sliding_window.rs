//! Sliding-window rate limiting (the paper's).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::{Admission, LimitScope, LimitUnit, RateLimiter};
use crate::check::Checker;
use crate::error::Result;
use crate::time::{SimDuration, SimTime};

/// `kind = "sliding_window"` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// What is counted.
    #[serde(default)]
    pub unit: LimitUnit,
    /// Where it applies.
    #[serde(default)]
    pub scope: LimitScope,
    /// Window length \[s\].
    pub window_s: f64,
    /// Amount admitted per window \[requests or tokens\].
    pub limit: f64,
}

/// Validated settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spec {
    /// Window length \[s\], as given.
    pub window_s: f64,
    /// The window on the clock (at least 1 µs).
    pub window: SimDuration,
    /// Amount admitted per window.
    pub limit: f64,
}

impl File {
    pub(super) fn validate(&self, cx: &Checker) -> Result<Spec> {
        let w = cx.positive("rate_limit.window_s", self.window_s)?;
        let window = SimDuration::from_secs_f64(w);
        if window == SimDuration::ZERO {
            return Err(cx.bad("rate_limit.window_s", w, "must be at least 1 µs"));
        }
        Ok(Spec {
            window_s: w,
            window,
            limit: cx.positive("rate_limit.limit", self.limit)?,
        })
    }
}

impl Spec {
    pub(super) fn to_file(self, unit: LimitUnit, scope: LimitScope) -> File {
        File {
            unit,
            scope,
            window_s: self.window_s,
            limit: self.limit,
        }
    }
    pub(super) fn describe(&self, unit: &str, scope: &str) -> String {
        format!(
            "sliding_window: {} {unit} / {} s {scope}",
            self.limit,
            self.window.as_secs_f64()
        )
    }
    pub(super) fn build(&self, keys: usize) -> SlidingWindow {
        SlidingWindow::new(self.window, self.limit, keys)
    }
}

/// Admits while the amount admitted in the last `window` (the half-open interval
/// `(now - window, now]`) plus the new amount stays within `limit`. Exact: it keeps a log of
/// admissions inside the window, so memory is bounded by what one window admits.
#[derive(Clone, Debug)]
pub struct SlidingWindow {
    window: SimDuration,
    limit: f64,
    logs: Vec<(VecDeque<(SimTime, f64)>, f64)>,
}

impl SlidingWindow {
    /// A window of `window` admitting at most `limit` per window, for `keys` scope keys.
    pub fn new(window: SimDuration, limit: f64, keys: usize) -> SlidingWindow {
        SlidingWindow {
            window,
            limit,
            logs: vec![(VecDeque::new(), 0.0); keys],
        }
    }

    fn evict(&mut self, now: SimTime, key: usize) {
        let (log, sum) = &mut self.logs[key];
        while let Some(&(t, a)) = log.front() {
            if now.since(t) >= self.window {
                log.pop_front();
                *sum -= a;
            } else {
                break;
            }
        }
        if log.is_empty() {
            *sum = 0.0; // no drift from repeated float subtraction
        }
    }
}

impl RateLimiter for SlidingWindow {
    fn check(&mut self, now: SimTime, key: usize, amount: f64) -> Admission {
        self.evict(now, key);
        if self.logs[key].1 + amount <= self.limit {
            Admission::Admit
        } else {
            Admission::Throttle
        }
    }
    fn record(&mut self, now: SimTime, key: usize, amount: f64) {
        let (log, sum) = &mut self.logs[key];
        log.push_back((now, amount));
        *sum += amount;
    }
    fn usage(&mut self, now: SimTime, key: usize) -> f64 {
        self.evict(now, key);
        self.logs[key].1 / self.limit
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
