//! Token-bucket rate limiting.

use serde::{Deserialize, Serialize};

use super::{Admission, LimitScope, LimitUnit, RateLimiter};
use crate::check::Checker;
use crate::error::Result;
use crate::time::SimTime;

/// `kind = "token_bucket"` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// What is counted.
    #[serde(default)]
    pub unit: LimitUnit,
    /// Where it applies.
    #[serde(default)]
    pub scope: LimitScope,
    /// Bucket capacity \[requests or tokens\].
    pub limit: f64,
    /// Refill rate \[units/s\].
    pub refill_per_s: f64,
}

/// Validated settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spec {
    /// Bucket capacity.
    pub limit: f64,
    /// Refill rate \[units/s\].
    pub refill_per_s: f64,
}

impl File {
    pub(super) fn validate(&self, cx: &Checker) -> Result<Spec> {
        Ok(Spec {
            limit: super::limit(cx, self.unit, self.limit)?,
            refill_per_s: cx.positive("rate_limit.refill_per_s", self.refill_per_s)?,
        })
    }
}

impl Spec {
    pub(super) fn to_file(self, unit: LimitUnit, scope: LimitScope) -> File {
        File {
            unit,
            scope,
            limit: self.limit,
            refill_per_s: self.refill_per_s,
        }
    }
    pub(super) fn describe(&self, unit: &str, scope: &str) -> String {
        format!(
            "token_bucket: {} {unit}, +{}/s {scope}",
            self.limit, self.refill_per_s
        )
    }
    pub(super) fn build(&self, keys: usize) -> TokenBucket {
        TokenBucket::new(self.limit, self.refill_per_s, keys)
    }
}

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

    /// The level at `now`, from the level after the last admission (pure: how often the level
    /// is looked at never changes it, not even by rounding).
    fn level(&self, now: SimTime, key: usize) -> f64 {
        let (level, last) = self.state[key];
        (level + self.refill_per_s * now.since(last).as_secs_f64()).min(self.limit)
    }
}

impl RateLimiter for TokenBucket {
    fn check(&mut self, now: SimTime, key: usize, amount: f64) -> Admission {
        if self.level(now, key) >= amount {
            Admission::Admit
        } else {
            Admission::Throttle
        }
    }
    fn record(&mut self, now: SimTime, key: usize, amount: f64) {
        self.state[key] = (self.level(now, key) - amount, now);
    }
    fn refund(&mut self, now: SimTime, key: usize, amount: f64) {
        self.state[key] = ((self.level(now, key) + amount).min(self.limit), now);
    }
    fn usage(&mut self, now: SimTime, key: usize) -> f64 {
        1.0 - self.level(now, key) / self.limit
    }
    fn decays(&self) -> bool {
        true
    }
    fn decay(&mut self, now: SimTime, key: usize) -> Option<(f64, f64)> {
        let level = self.level(now, key);
        (level < self.limit).then(|| {
            (
                now.as_secs_f64() + (self.limit - level) / self.refill_per_s,
                self.refill_per_s / self.limit,
            )
        })
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
