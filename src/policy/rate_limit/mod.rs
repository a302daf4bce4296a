//! Rate limiters: whether a chosen device may take a request now.
//!
//! A limiter keeps one state per scope key: the device index for `scope = "device"` (the
//! paper's placement: after selection, per device), key 0 for `scope = "cluster"`, or the
//! request's class for `scope = "class"` (a quota per class over the cluster). The
//! simulator asks [`RateLimiter::check`]; only if the device also has room does it call
//! [`RateLimiter::record`], so refused attempts never consume the limit. The amount is 1 per
//! request, or the request's prompt + output tokens with `unit = "tokens"`.
//!
//! Each limiter lives in its own file with its scenario keys (`File`), its validated settings
//! (`Spec`) and its state; the two window limiters share their keys (`window.rs`). This module
//! only dispatches on `kind`.

mod concurrency;
mod fixed_window;
mod sliding_window;
mod token_bucket;
mod window;

pub use concurrency::ConcurrencyCap;
pub use fixed_window::FixedWindow;
pub use sliding_window::SlidingWindow;
pub use token_bucket::TokenBucket;

use serde::{Deserialize, Serialize};

use crate::check::Checker;
use crate::error::Result;
use crate::time::SimTime;

/// A limiter's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Within the limit.
    Admit,
    /// Over the limit: try the next candidate, then the cloud.
    Throttle,
}

/// Limits the load a scope (a device, the cluster or a request class) accepts.
pub trait RateLimiter: Send {
    /// Would `amount` be admitted for `key` at `now`? Must not change what is counted.
    fn check(&mut self, now: SimTime, key: usize, amount: f64) -> Admission;
    /// `amount` was admitted for `key` at `now`.
    fn record(&mut self, now: SimTime, key: usize, amount: f64);
    /// A request admitted with `amount` for `key` finished at `now`.
    fn release(&mut self, _now: SimTime, _key: usize, _amount: f64) {}
    /// Gives back `amount` of what an admission for `key` was charged, at `now` (a cloud's
    /// correction of its `max_tokens` estimate). Only a bucket can: the cloud's validation
    /// allows refunds on `token_bucket` limits only, and the others ignore them.
    fn refund(&mut self, _now: SimTime, _key: usize, _amount: f64) {}
    /// Fraction of `key`'s limit in use at `now` (0 = unused, 1 = exhausted).
    fn usage(&mut self, now: SimTime, key: usize) -> f64;
    /// Lets time pass up to `now`: forgets what left the limit (admissions out of their
    /// window, a window that restarted) and pushes onto `changed` the keys whose usage fell.
    /// The gateway calls it before each decision and re-ranks only those devices, instead of
    /// refreshing every device. Continuous changes are reported by [`RateLimiter::decay`].
    fn advance(&mut self, _now: SimTime, _changed: &mut Vec<usize>) {}
    /// For a limit that frees up continuously (a refilling bucket): `(full_s, slope)` such that
    /// the usage is `slope · (full_s − t)` until `full_s` \[s\], then 0; `None` when the usage
    /// is 0 or does not change continuously.
    fn decay(&mut self, _now: SimTime, _key: usize) -> Option<(f64, f64)> {
        None
    }
    /// Whether [`RateLimiter::decay`] can ever return `Some`: a limiter that overrides `decay`
    /// must say so here. Asked once per run; for every other limit the gateway then skips the
    /// call, through `dyn`, at each change of a device's load.
    fn decays(&self) -> bool {
        false
    }
}

/// One limiter of one key for each scope key, each with its own settings: the request
/// classes' quotas (`workload.classes[].quota` under `scope = "class"`).
struct PerKey {
    parts: Vec<Box<dyn RateLimiter>>,
    /// A part's changed keys (its only key, 0), for [`RateLimiter::advance`].
    changed: Vec<usize>,
}

impl RateLimiter for PerKey {
    fn check(&mut self, now: SimTime, key: usize, amount: f64) -> Admission {
        self.parts[key].check(now, 0, amount)
    }
    fn record(&mut self, now: SimTime, key: usize, amount: f64) {
        self.parts[key].record(now, 0, amount);
    }
    fn release(&mut self, now: SimTime, key: usize, amount: f64) {
        self.parts[key].release(now, 0, amount);
    }
    fn refund(&mut self, now: SimTime, key: usize, amount: f64) {
        self.parts[key].refund(now, 0, amount);
    }
    fn usage(&mut self, now: SimTime, key: usize) -> f64 {
        self.parts[key].usage(now, 0)
    }
    fn advance(&mut self, now: SimTime, changed: &mut Vec<usize>) {
        for (k, p) in self.parts.iter_mut().enumerate() {
            self.changed.clear();
            p.advance(now, &mut self.changed);
            if !self.changed.is_empty() {
                changed.push(k);
            }
        }
    }
    fn decay(&mut self, now: SimTime, key: usize) -> Option<(f64, f64)> {
        self.parts[key].decay(now, 0)
    }
    fn decays(&self) -> bool {
        self.parts.iter().any(|p| p.decays())
    }
}

/// No limit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unlimited;

impl RateLimiter for Unlimited {
    fn check(&mut self, _: SimTime, _: usize, _: f64) -> Admission {
        Admission::Admit
    }
    fn record(&mut self, _: SimTime, _: usize, _: f64) {}
    fn usage(&mut self, _: SimTime, _: usize) -> f64 {
        0.0
    }
}

/// What a rate limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LimitUnit {
    /// Requests.
    #[default]
    Requests,
    /// Prompt plus output tokens.
    Tokens,
    /// Prompt (input) tokens only (Anthropic's ITPM).
    InputTokens,
    /// Output tokens only (Anthropic's OTPM).
    OutputTokens,
}

impl LimitUnit {
    /// `requests` or `tokens`.
    pub fn name(self) -> &'static str {
        match self {
            LimitUnit::Requests => "requests",
            LimitUnit::Tokens => "tokens",
            LimitUnit::InputTokens => "input_tokens",
            LimitUnit::OutputTokens => "output_tokens",
        }
    }
    /// What one request counts: 1, its prompt + output tokens, its prompt or its output.
    pub fn amount(self, prompt_tokens: u32, output_tokens: u32) -> f64 {
        match self {
            LimitUnit::Requests => 1.0,
            LimitUnit::Tokens => f64::from(prompt_tokens) + f64::from(output_tokens),
            LimitUnit::InputTokens => f64::from(prompt_tokens),
            LimitUnit::OutputTokens => f64::from(output_tokens),
        }
    }
}

/// Where a rate limit applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    /// One limit per device (the paper's).
    #[default]
    Device,
    /// One limit shared by the whole cluster.
    Cluster,
    /// One limit per request class, over the whole cluster: each class's quota (a tenant's).
    Class,
}

impl LimitScope {
    /// Its name in a file.
    pub fn name(self) -> &'static str {
        match self {
            LimitScope::Device => "device",
            LimitScope::Cluster => "cluster",
            LimitScope::Class => "class",
        }
    }

    /// `per device`, `per cluster` or `per request class`.
    pub fn phrase(self) -> &'static str {
        match self {
            LimitScope::Device => "per device",
            LimitScope::Cluster => "per cluster",
            LimitScope::Class => "per request class",
        }
    }
}

/// `[rate_limit]` as written: `kind` picks the limiter (default `none`), whose keys follow.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RateLimitFile {
    /// No limit.
    None(NoneFile),
    /// At most `limit` per `window_s` (the paper's).
    SlidingWindow(sliding_window::File),
    /// A bucket of `limit` refilled at `refill_per_s`.
    TokenBucket(token_bucket::File),
    /// At most `limit` in service at once.
    Concurrency(concurrency::File),
    /// At most `limit` per window of `window_s`, counted from each window's start.
    FixedWindow(fixed_window::File),
}

impl<'de> Deserialize<'de> for RateLimitFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use crate::check::tagged::{split, variant};
        let known = [
            "none",
            "sliding_window",
            "token_bucket",
            "concurrency",
            "fixed_window",
        ];
        let (kind, t) = split(d, "kind", &known, Some("none"))?;
        let k = kind.as_str();
        Ok(match k {
            "sliding_window" => RateLimitFile::SlidingWindow(variant::<D, _>(t, "kind", k)?),
            "token_bucket" => RateLimitFile::TokenBucket(variant::<D, _>(t, "kind", k)?),
            "concurrency" => RateLimitFile::Concurrency(variant::<D, _>(t, "kind", k)?),
            "fixed_window" => RateLimitFile::FixedWindow(variant::<D, _>(t, "kind", k)?),
            _ => RateLimitFile::None(variant::<D, _>(t, "kind", k)?),
        })
    }
}

impl Default for RateLimitFile {
    fn default() -> Self {
        RateLimitFile::None(NoneFile::default())
    }
}

/// `kind = "none"`: only the common keys.
#[derive(Clone, Debug, Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NoneFile {
    /// What is counted (unused without a limit).
    #[serde(default)]
    pub unit: LimitUnit,
    /// Where it applies (unused without a limit).
    #[serde(default)]
    pub scope: LimitScope,
}

/// The validated limiter of a kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LimitKind {
    /// No limit.
    None,
    /// Sliding window.
    SlidingWindow(sliding_window::Spec),
    /// Token bucket.
    TokenBucket(token_bucket::Spec),
    /// Concurrency cap.
    Concurrency(concurrency::Spec),
    /// Fixed window.
    FixedWindow(fixed_window::Spec),
}

impl LimitKind {
    /// The `kind` as written.
    pub fn name(&self) -> &'static str {
        match self {
            LimitKind::None => "none",
            LimitKind::SlidingWindow(_) => "sliding_window",
            LimitKind::TokenBucket(_) => "token_bucket",
            LimitKind::Concurrency(_) => "concurrency",
            LimitKind::FixedWindow(_) => "fixed_window",
        }
    }
}

/// A validated rate limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimitSpec {
    /// What is counted.
    pub unit: LimitUnit,
    /// Where it applies.
    pub scope: LimitScope,
    /// The limiter and its settings.
    pub kind: LimitKind,
}

impl Default for RateLimitSpec {
    fn default() -> Self {
        RateLimitSpec {
            unit: LimitUnit::Requests,
            scope: LimitScope::Device,
            kind: LimitKind::None,
        }
    }
}

/// `rate_limit.limit`: a whole number of requests (at least 1) when the limiter counts
/// requests, at least one token when it counts tokens. A limit below one unit would admit
/// nothing and silently switch the edge off.
pub(super) fn limit(cx: &Checker, unit: LimitUnit, v: f64) -> Result<f64> {
    limit_at(cx, "rate_limit.limit", unit, v)
}

/// A limit of `unit` given at `key` (`rate_limit.limit`, a class's `quota`): a whole number
/// of requests, at least 1, or at least one token.
fn limit_at(cx: &Checker, key: &str, unit: LimitUnit, v: f64) -> Result<f64> {
    match unit {
        LimitUnit::Requests => cx.whole(key, v, 1.0, "requests"),
        LimitUnit::Tokens | LimitUnit::InputTokens | LimitUnit::OutputTokens => {
            if v.is_finite() && v >= 1.0 {
                Ok(v)
            } else {
                Err(cx.bad(key, v, "must be a finite number of tokens, at least 1"))
            }
        }
    }
}

impl RateLimitSpec {
    /// Validates `[rate_limit]`.
    pub fn from_file(cx: &Checker, f: &RateLimitFile) -> Result<RateLimitSpec> {
        let (unit, scope, kind) = match f {
            RateLimitFile::None(n) => (n.unit, n.scope, LimitKind::None),
            RateLimitFile::SlidingWindow(s) => {
                (s.unit, s.scope, LimitKind::SlidingWindow(s.validate(cx)?))
            }
            RateLimitFile::TokenBucket(s) => {
                (s.unit, s.scope, LimitKind::TokenBucket(s.validate(cx)?))
            }
            RateLimitFile::Concurrency(s) => {
                (s.unit, s.scope, LimitKind::Concurrency(s.validate(cx)?))
            }
            RateLimitFile::FixedWindow(s) => {
                (s.unit, s.scope, LimitKind::FixedWindow(s.validate(cx)?))
            }
        };
        Ok(RateLimitSpec { unit, scope, kind })
    }

    /// The section as written in a resolved scenario.
    pub fn to_file(&self) -> RateLimitFile {
        let (unit, scope) = (self.unit, self.scope);
        match &self.kind {
            LimitKind::None => RateLimitFile::None(NoneFile { unit, scope }),
            LimitKind::SlidingWindow(s) => RateLimitFile::SlidingWindow(s.to_file(unit, scope)),
            LimitKind::TokenBucket(s) => RateLimitFile::TokenBucket(s.to_file(unit, scope)),
            LimitKind::Concurrency(s) => RateLimitFile::Concurrency(s.to_file(unit, scope)),
            LimitKind::FixedWindow(s) => RateLimitFile::FixedWindow(s.to_file(unit, scope)),
        }
    }

    /// The most one admission can ever be charged: a larger amount is refused forever (the
    /// window's limit, the bucket's capacity, the concurrency cap; infinite without a limit).
    pub fn most_per_admission(&self) -> f64 {
        match &self.kind {
            LimitKind::None => f64::INFINITY,
            LimitKind::SlidingWindow(s) => s.limit,
            LimitKind::TokenBucket(s) => s.limit,
            LimitKind::Concurrency(s) => s.limit,
            LimitKind::FixedWindow(s) => s.limit,
        }
    }

    /// Whether there is a limit at all.
    pub fn is_none(&self) -> bool {
        self.kind == LimitKind::None
    }

    /// Checks a request class's own `quota` (at `key`): a limit in this limit's unit, and,
    /// for a bucket, one that keeps the refill rate it scales ([`RateLimitSpec::with_limit`])
    /// finite.
    pub fn check_quota(&self, cx: &Checker, key: &str, quota: f64) -> Result<f64> {
        limit_at(cx, key, self.unit, quota)?;
        if let LimitKind::TokenBucket(b) = self.with_limit(quota).kind
            && !b.refill_per_s.is_finite()
        {
            return Err(cx.bad(
                key,
                quota,
                "too large for the bucket: its refill (the limit's refill_per_s × quota / limit) \
                 must be finite",
            ));
        }
        Ok(quota)
    }

    /// The same limit with `limit` in place of its own (a window's amount, a concurrency
    /// cap, a bucket's capacity, whose refill rate scales with it); no limit stays none.
    pub fn with_limit(&self, limit: f64) -> RateLimitSpec {
        let mut spec = *self;
        match &mut spec.kind {
            LimitKind::None => {}
            LimitKind::SlidingWindow(s) | LimitKind::FixedWindow(s) => s.limit = limit,
            LimitKind::Concurrency(s) => s.limit = limit,
            LimitKind::TokenBucket(s) => {
                s.refill_per_s *= limit / s.limit;
                s.limit = limit;
            }
        }
        spec
    }

    /// The limiter for `devices` devices and the request classes' `quotas` (one per class:
    /// its own limit under `scope = "class"`, else the limit's).
    pub fn build(&self, devices: usize, quotas: &[Option<f64>]) -> Box<dyn RateLimiter> {
        if self.scope == LimitScope::Class && quotas.iter().any(Option::is_some) {
            let parts = quotas
                .iter()
                .map(|q| {
                    let spec = q.map_or(*self, |q| self.with_limit(q));
                    spec.build_keys(1)
                })
                .collect();
            return Box::new(PerKey {
                parts,
                changed: Vec::new(),
            });
        }
        let keys = match self.scope {
            LimitScope::Device => devices,
            LimitScope::Cluster => 1,
            LimitScope::Class => quotas.len(),
        };
        self.build_keys(keys)
    }

    /// The limiter for `keys` scope keys.
    fn build_keys(&self, keys: usize) -> Box<dyn RateLimiter> {
        match &self.kind {
            LimitKind::None => Box::new(Unlimited),
            LimitKind::SlidingWindow(s) => Box::new(sliding_window::build(s, keys)),
            LimitKind::TokenBucket(s) => Box::new(s.build(keys)),
            LimitKind::Concurrency(s) => Box::new(s.build(keys)),
            LimitKind::FixedWindow(s) => Box::new(fixed_window::build(s, keys)),
        }
    }

    /// The scope key of a request of class `class` on device `d`.
    #[inline(always)]
    pub fn key(&self, d: usize, class: u16) -> usize {
        match self.scope {
            LimitScope::Device => d,
            LimitScope::Cluster => 0,
            LimitScope::Class => usize::from(class),
        }
    }

    /// One line describing the limit, as the summary's `rate_limit` field.
    pub fn describe(&self) -> String {
        let (unit, scope) = (self.unit.name(), self.scope.phrase());
        match &self.kind {
            LimitKind::None => "none".into(),
            LimitKind::SlidingWindow(s) => s.describe("sliding_window", unit, scope),
            LimitKind::TokenBucket(s) => s.describe(unit, scope),
            LimitKind::Concurrency(s) => s.describe(unit, scope),
            LimitKind::FixedWindow(s) => s.describe("fixed_window", unit, scope),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;

    /// The gateway calls `decay` only for a limiter that `decays`: every limiter whose `decay`
    /// returns `Some` at some point of a busy run must say so.
    #[test]
    fn a_limiter_that_decays_says_so() {
        let window = window::Spec {
            window_s: 10.0,
            window: SimDuration(10_000_000),
            limit: 3.0,
        };
        let limiters: Vec<(&str, Box<dyn RateLimiter>)> = vec![
            ("none", Box::new(Unlimited)),
            (
                "sliding_window",
                Box::new(sliding_window::SlidingWindow::new(window.window, 3.0, 2)),
            ),
            ("fixed_window", Box::new(fixed_window::build(&window, 2))),
            (
                "token_bucket",
                Box::new(token_bucket::TokenBucket::new(3.0, 0.5, 2)),
            ),
            (
                "concurrency",
                Box::new(concurrency::ConcurrencyCap::new(3.0, 2)),
            ),
        ];
        for (name, mut l) in limiters {
            let mut decayed = false;
            for step in 0..40u64 {
                let now = SimTime(step * 700_000);
                let key = (step % 2) as usize;
                if l.check(now, key, 1.0) == Admission::Admit {
                    l.record(now, key, 1.0);
                }
                if step % 5 == 4 {
                    l.release(now, key, 1.0);
                }
                decayed |= l.decay(now, key).is_some();
            }
            assert_eq!(
                l.decays(),
                decayed,
                "{name}: decays() against what decay() did"
            );
            assert_eq!(decayed, name == "token_bucket", "{name}");
        }
    }

    /// Under a limit per class, each class's quota is a limiter of its own with that limit:
    /// a window of 3 admits 1 for a class whose quota is 1 and 3 for one without a quota; a
    /// bucket's refill scales with its capacity; each key advances apart.
    #[test]
    fn class_quotas_are_limiters_of_their_own() {
        let window = window::Spec {
            window_s: 10.0,
            window: SimDuration(10_000_000),
            limit: 3.0,
        };
        let spec = RateLimitSpec {
            unit: LimitUnit::Requests,
            scope: LimitScope::Class,
            kind: LimitKind::SlidingWindow(window),
        };
        let mut l = spec.build(4, &[Some(1.0), None]);
        // The gateway asks from the start (a window reports what fell from then on).
        let mut changed = Vec::new();
        l.advance(SimTime(0), &mut changed);
        let admitted = |l: &mut Box<dyn RateLimiter>, key: usize, now: SimTime| {
            (0..5)
                .filter(|_| {
                    let ok = l.check(now, key, 1.0) == Admission::Admit;
                    if ok {
                        l.record(now, key, 1.0);
                    }
                    ok
                })
                .count()
        };
        assert_eq!(admitted(&mut l, 0, SimTime(0)), 1);
        assert_eq!(admitted(&mut l, 1, SimTime(0)), 3);
        assert_eq!(l.usage(SimTime(0), 0), 1.0);
        // The window passes for both: each key that fell is reported once.
        l.advance(SimTime(10_000_001), &mut changed);
        assert_eq!(changed, [0, 1]);
        assert_eq!(admitted(&mut l, 0, SimTime(10_000_001)), 1);
        // Without a quota the classes share the limit's settings, one key each.
        let mut l = spec.build(4, &[None, None]);
        assert_eq!(admitted(&mut l, 0, SimTime(0)), 3);
        assert_eq!(admitted(&mut l, 1, SimTime(0)), 3);
        // A bucket's refill scales with the quota.
        let bucket = RateLimitSpec {
            kind: LimitKind::TokenBucket(token_bucket::Spec {
                limit: 4.0,
                refill_per_s: 2.0,
            }),
            ..spec
        };
        assert_eq!(
            bucket.with_limit(1.0).kind,
            LimitKind::TokenBucket(token_bucket::Spec {
                limit: 1.0,
                refill_per_s: 0.5,
            })
        );
        assert_eq!(
            RateLimitSpec::default().with_limit(2.0),
            RateLimitSpec::default()
        );
    }
}
