//! Token-bucket rate limiting.

use super::{Admission, RateLimiter};
use crate::time::SimTime;

/// A bucket of capacity `limit`, full at the start, refilled continuously at `refill_per_s`;
/// a request is admitted if the bucket holds at least its amount, which is then taken out.
/// Allows bursts of up to `limit` and a long-run rate of `refill_per_s`.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    limit: f64,
    refill_per_s: f64,
    state: Vec<(f64, SimTime)>,
}

impl TokenBucket {
    /// A bucket per scope key.
    pub fn new(limit: f64, refill_per_s: f64, keys: usize) -> TokenBucket {
        TokenBucket {
            limit,
            refill_per_s,
            state: vec![(limit, SimTime::ZERO); keys],
        }
    }

    fn level(&mut self, now: SimTime, key: usize) -> f64 {
        let (level, last) = &mut self.state[key];
        *level = (*level + self.refill_per_s * now.since(*last).as_secs_f64()).min(self.limit);
        *last = now;
        *level
    }
}

impl RateLimiter for TokenBucket {
    fn name(&self) -> &'static str {
        "token_bucket"
    }
    fn check(&mut self, now: SimTime, key: usize, amount: f64) -> Admission {
        if self.level(now, key) >= amount {
            Admission::Admit
        } else {
            Admission::Throttle
        }
    }
    fn record(&mut self, now: SimTime, key: usize, amount: f64) {
        self.level(now, key);
        self.state[key].0 -= amount;
    }
    fn usage(&mut self, now: SimTime, key: usize) -> f64 {
        1.0 - self.level(now, key) / self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_rate() {
        let mut b = TokenBucket::new(2.0, 0.5, 1);
        let mut admit = |t_ms: u64| {
            let t = SimTime(t_ms * 1000);
            let ok = b.check(t, 0, 1.0) == Admission::Admit;
            if ok {
                b.record(t, 0, 1.0);
            }
            ok
        };
        assert!(admit(0));
        assert!(admit(0));
        assert!(!admit(0), "burst of 2 used up");
        assert!(!admit(1_999), "0.9995 refilled");
        assert!(admit(2_000), "one whole unit after 2 s at 0.5/s");
        assert!(!admit(2_000));
        assert!(admit(10_000), "refill is capped at the capacity");
        assert!(admit(10_000));
        assert!(!admit(10_000));
    }
}
