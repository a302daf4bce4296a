//! Rate limiters: whether a chosen device may take a request now.
//!
//! A limiter keeps one state per scope key: the device index for `scope = "device"` (the
//! paper's placement: after selection, per device), or key 0 for `scope = "cluster"`. The
//! simulator asks [`RateLimiter::check`]; only if the device also has room does it call
//! [`RateLimiter::record`], so refused attempts never consume the limit. The amount is 1 per
//! request, or the request's prompt + output tokens with `unit = "tokens"`.

mod concurrency;
mod sliding_window;
mod token_bucket;

pub use concurrency::ConcurrencyCap;
pub use sliding_window::SlidingWindow;
pub use token_bucket::TokenBucket;

use crate::time::SimTime;

/// A limiter's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Within the limit.
    Admit,
    /// Over the limit: try the next candidate, then the cloud.
    Throttle,
}

/// Limits the load a scope (device or cluster) accepts.
pub trait RateLimiter: Send {
    /// Name as used in scenarios (`sliding_window`, ...).
    fn name(&self) -> &'static str;
    /// Would `amount` be admitted for `key` at `now`? Must not change what is counted.
    fn check(&mut self, now: SimTime, key: usize, amount: f64) -> Admission;
    /// `amount` was admitted for `key` at `now`.
    fn record(&mut self, now: SimTime, key: usize, amount: f64);
    /// A request admitted with `amount` for `key` finished at `now`.
    fn release(&mut self, _now: SimTime, _key: usize, _amount: f64) {}
    /// Fraction of `key`'s limit in use at `now` (0 = unused, 1 = exhausted).
    fn usage(&mut self, now: SimTime, key: usize) -> f64;
}

/// No limit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unlimited;

impl RateLimiter for Unlimited {
    fn name(&self) -> &'static str {
        "none"
    }
    fn check(&mut self, _: SimTime, _: usize, _: f64) -> Admission {
        Admission::Admit
    }
    fn record(&mut self, _: SimTime, _: usize, _: f64) {}
    fn usage(&mut self, _: SimTime, _: usize) -> f64 {
        0.0
    }
}
