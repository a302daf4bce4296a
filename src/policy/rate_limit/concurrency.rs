//! Concurrency cap.

use serde::{Deserialize, Serialize};

use super::{Admission, LimitScope, LimitUnit, RateLimiter};
use crate::check::Checker;
use crate::error::Result;
use crate::time::SimTime;

/// `kind = "concurrency"` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// What is counted.
    #[serde(default)]
    pub unit: LimitUnit,
    /// Where it applies.
    #[serde(default)]
    pub scope: LimitScope,
    /// Amount in service at once \[requests or tokens\].
    pub limit: f64,
}

/// Validated settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spec {
    /// Amount in service at once.
    pub limit: f64,
}

impl File {
    pub(super) fn validate(&self, cx: &Checker) -> Result<Spec> {
        Ok(Spec {
            limit: super::limit(cx, self.unit, self.limit)?,
        })
    }
}

impl Spec {
    pub(super) fn to_file(self, unit: LimitUnit, scope: LimitScope) -> File {
        File {
            unit,
            scope,
            limit: self.limit,
        }
    }
    pub(super) fn describe(&self, unit: &str, scope: &str) -> String {
        format!("concurrency: {} {unit} {scope}", self.limit)
    }
    pub(super) fn build(&self, keys: usize) -> ConcurrencyCap {
        ConcurrencyCap::new(self.limit, keys)
    }
}

/// Admits while the amount in service (admitted and not yet finished) plus the new amount
/// stays within `limit`.
#[derive(Clone, Debug)]
pub struct ConcurrencyCap {
    limit: f64,
    in_flight: Vec<f64>,
}

impl ConcurrencyCap {
    /// A cap per scope key.
    pub fn new(limit: f64, keys: usize) -> ConcurrencyCap {
        ConcurrencyCap {
            limit,
            in_flight: vec![0.0; keys],
        }
    }
}

impl RateLimiter for ConcurrencyCap {
    fn check(&mut self, _: SimTime, key: usize, amount: f64) -> Admission {
        if self.in_flight[key] + amount <= self.limit {
            Admission::Admit
        } else {
            Admission::Throttle
        }
    }
    fn record(&mut self, _: SimTime, key: usize, amount: f64) {
        self.in_flight[key] += amount;
    }
    fn release(&mut self, _: SimTime, key: usize, amount: f64) {
        self.in_flight[key] = (self.in_flight[key] - amount).max(0.0);
    }
    fn usage(&mut self, _: SimTime, key: usize) -> f64 {
        self.in_flight[key] / self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_in_flight_and_frees_on_release() {
        let mut c = ConcurrencyCap::new(2.0, 1);
        let t = SimTime::ZERO;
        c.record(t, 0, 1.0);
        c.record(t, 0, 1.0);
        assert_eq!(c.check(t, 0, 1.0), Admission::Throttle);
        c.release(t, 0, 1.0);
        assert_eq!(c.check(t, 0, 1.0), Admission::Admit);
    }
}
