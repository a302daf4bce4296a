//! Fixed-window rate limiting: a counter per window of `window_s`, reset at each window start
//! (the "requests per minute" quota of many API gateways).

use super::{Admission, RateLimiter};
use crate::time::SimTime;

/// `kind = "fixed_window"`: the keys it shares with the other window limiter.
pub use super::window::{File, Spec};

/// The limiter for `keys` scope keys.
pub(super) fn build(spec: &Spec, keys: usize) -> FixedWindow {
    FixedWindow {
        window_us: spec.window.0,
        limit: spec.limit,
        state: vec![(0, 0.0); keys],
        window: 0,
        used_keys: None,
    }
}

/// Admits while the amount admitted in the current window `[k·W, (k+1)·W)` plus the new
/// amount stays within `limit`. A burst may take `limit` at the end of one window and `limit`
/// again at the start of the next.
#[derive(Clone, Debug)]
pub struct FixedWindow {
    window_us: u64,
    limit: f64,
    /// Per key: (window index, amount admitted in it).
    state: Vec<(u64, f64)>,
    /// The window `advance` last saw, and the keys admitted in it (their usage falls to 0 when
    /// it ends); kept once `advance` is used.
    window: u64,
    used_keys: Option<Vec<usize>>,
}

impl FixedWindow {
    /// The amount admitted so far in the window of `now`.
    fn used(&mut self, now: SimTime, key: usize) -> f64 {
        let k = now.0 / self.window_us;
        let (window, used) = &mut self.state[key];
        if *window != k {
            (*window, *used) = (k, 0.0);
        }
        *used
    }
}

impl RateLimiter for FixedWindow {
    fn check(&mut self, now: SimTime, key: usize, amount: f64) -> Admission {
        if self.used(now, key) + amount <= self.limit {
            Admission::Admit
        } else {
            Admission::Throttle
        }
    }
    fn record(&mut self, now: SimTime, key: usize, amount: f64) {
        if self.used(now, key) == 0.0
            && let Some(keys) = &mut self.used_keys
        {
            keys.push(key);
        }
        self.state[key].1 += amount;
    }
    fn usage(&mut self, now: SimTime, key: usize) -> f64 {
        self.used(now, key) / self.limit
    }
    fn advance(&mut self, now: SimTime, changed: &mut Vec<usize>) {
        let k = now.0 / self.window_us;
        let keys = self.used_keys.get_or_insert_with(Vec::new);
        if k != self.window {
            self.window = k;
            changed.append(keys);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;

    #[test]
    fn resets_at_each_window_start() {
        let spec = Spec {
            window_s: 10.0,
            window: SimDuration(10_000_000),
            limit: 2.0,
        };
        let mut w = build(&spec, 1);
        let mut admit = |s: f64| {
            let t = SimTime::from_secs_f64(s);
            let ok = w.check(t, 0, 1.0) == Admission::Admit;
            if ok {
                w.record(t, 0, 1.0);
            }
            ok
        };
        assert!(admit(8.0));
        assert!(admit(9.9));
        assert!(!admit(9.99), "two in [0, 10)");
        assert!(
            admit(10.0),
            "a new window at 10 s (a sliding window would refuse)"
        );
        assert!(admit(10.1));
        assert!(!admit(19.9));
        assert!(admit(20.0));
    }
}
