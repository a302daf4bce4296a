//! The cloud during a run: its rate limits, its outages and the per-request latency draws.

use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

use super::{CloudLimit, CloudSpec};
use crate::outages::Outages;
use crate::policy::rate_limit::{Admission, LimitScope, LimitUnit, RateLimiter};
use crate::rng::{RngStreams, SimRng};
use crate::time::SimTime;

/// The cloud's answer to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloudAnswer {
    /// Taken: the response will stream.
    Accepted,
    /// HTTP 429: a rate limit is exhausted.
    RateLimited,
    /// Down (outage or WAN partition).
    Unavailable,
    /// HTTP 400: the call charges more than a limit can ever admit (its `max_tokens` above
    /// the OTPM, say); not retryable.
    BadRequest,
    /// HTTP 5xx during a degraded period (retried like an outage).
    ServerError,
}

/// What happened at the cloud during a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CloudCounters {
    /// Calls refused with 429.
    pub rate_limited: u64,
    /// Calls refused by an outage.
    pub unavailable: u64,
    /// Calls refused with HTTP 400 (more than a limit can ever admit).
    pub bad_request: u64,
    /// Calls failed with HTTP 5xx while degraded.
    pub server_errors: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Requests rejected because the cloud refused them (after any retries).
    pub rejected_refused: u64,
    /// Requests that arrived while the cloud was down.
    pub arrivals_during_outages: u64,
    /// Of those, served at the edge.
    pub edge_during_outages: u64,
    /// Of those, rejected.
    pub rejected_during_outages: u64,
}

/// `cloud_faults` in the summary: present when the scenario has cloud limits or outages.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CloudFaults {
    /// Calls refused with HTTP 429 (each retry counts again).
    pub rate_limited: u64,
    /// Calls refused because the cloud was down.
    pub unavailable: u64,
    /// Calls refused with HTTP 400 because they charge more than a limit can ever admit
    /// (rejected at once, not retried).
    pub bad_request: u64,
    /// Calls failed with HTTP 5xx during degraded periods (retried like outage refusals).
    pub server_errors: u64,
    /// Time degraded in \[0, end_s) \[s\].
    pub degraded_s: f64,
    /// Retries scheduled.
    pub retries: u64,
    /// Requests rejected because the cloud refused them after the last retry.
    pub rejected_refused: u64,
    /// Time the cloud was down in \[0, end_s) \[s\].
    pub downtime_s: f64,
    /// 1 − downtime / end_s.
    pub availability: f64,
    /// Requests that arrived while the cloud was down.
    pub arrivals_during_outages: u64,
    /// Share of those served at the edge (null if none arrived).
    pub edge_share_during_outages: Option<f64>,
    /// Share of those rejected.
    pub rejected_share_during_outages: Option<f64>,
}

/// One of the API's limits during a run.
struct LimitState {
    /// What it counts.
    unit: LimitUnit,
    /// Whether it has one state per request class (`scope = "class"`: each class its own API
    /// key or project), else one for the API.
    per_class: bool,
    /// The most one call can be charged, by state key (one, or one per class: its quota,
    /// else the limit's own): a larger charge is a bad request.
    most: Vec<f64>,
    limiter: Box<dyn RateLimiter>,
}

impl LimitState {
    /// The state of `l` for requests of the classes named `classes`.
    fn new(l: &CloudLimit, classes: &[&str]) -> LimitState {
        let per_class = l.spec.scope == LimitScope::Class;
        let quotas = if per_class {
            l.class_quotas(classes)
        } else {
            vec![None]
        };
        LimitState {
            unit: l.spec.unit,
            per_class,
            most: quotas
                .iter()
                .map(|q| q.unwrap_or(l.spec.most_per_admission()))
                .collect(),
            limiter: l.spec.build(1, &quotas),
        }
    }

    /// The state key for a call of class `class`.
    #[inline(always)]
    fn key(&self, class: u16) -> usize {
        if self.per_class {
            usize::from(class)
        } else {
            0
        }
    }
}

/// The cloud's state during a run.
pub struct CloudState {
    /// The API's limits, each with its state.
    limits: Vec<LimitState>,
    /// `max_tokens` of each call (0: none).
    max_tokens: u32,
    /// Whether a call's unused `max_tokens` charge is given back when it ends.
    refund_unused_output: bool,
    /// Degraded periods, with the stream that draws which calls fail.
    degraded: Option<(Outages, SimRng)>,
    outages: Option<Outages>,
    rng: SimRng,
    /// The primary's retry jitter (`cloud.retry_jitter` > 0) and its stream.
    retry_jitter: Option<(f64, SimRng)>,
    changed: Vec<usize>,
    /// What happened.
    pub counters: CloudCounters,
}

impl CloudState {
    /// The cloud of `spec` for requests of one class, with randomness from the streams
    /// `cloud-latency` and `cloud-outages` (no other stream is touched, so other draws do not
    /// change).
    pub fn new(spec: &CloudSpec, streams: &RngStreams) -> CloudState {
        Self::provider(spec, streams, 0, &["default"])
    }

    /// Provider `k` of a chain (0: the primary, with the streams named in [`CloudState::new`];
    /// fallback k >= 1 uses the same names indexed by k), for requests of the classes named
    /// `classes` (the states of its limits per class, each with its quota).
    pub fn provider(
        spec: &CloudSpec,
        streams: &RngStreams,
        k: u64,
        classes: &[&str],
    ) -> CloudState {
        let stream = |name: &str| {
            if k == 0 {
                streams.stream(name)
            } else {
                streams.indexed(name, k)
            }
        };
        CloudState {
            limits: spec
                .limits
                .iter()
                .map(|l| LimitState::new(l, classes))
                .collect(),
            max_tokens: spec.max_tokens.unwrap_or(0),
            refund_unused_output: spec.refund_unused_output,
            degraded: spec.degraded.as_ref().map(|d| {
                (
                    Outages::new(&d.when, stream("cloud-degraded")),
                    stream("cloud-errors"),
                )
            }),
            outages: spec
                .outages
                .any()
                .then(|| Outages::new(&spec.outages, stream("cloud-outages"))),
            rng: stream("cloud-latency"),
            retry_jitter: (k == 0 && spec.retry_jitter > 0.0)
                .then(|| (spec.retry_jitter, stream("cloud-retry-jitter"))),
            changed: Vec::new(),
            counters: CloudCounters::default(),
        }
    }

    /// The wait before a retry \[ms\]: `wait_ms` less a random share of at most `jitter` of
    /// it, drawn from the stream `cloud-retry-jitter` (only with `cloud.retry_jitter` > 0).
    pub fn jittered_ms(&mut self, wait_ms: f64) -> f64 {
        match &mut self.retry_jitter {
            Some((jitter, rng)) => wait_ms * (1.0 - *jitter * rng.random::<f64>()),
            None => wait_ms,
        }
    }

    /// Whether the cloud is degraded at `now`.
    pub fn degraded(&mut self, now: SimTime) -> bool {
        self.degraded.as_mut().is_some_and(|(o, _)| o.down(now))
    }

    /// Whether the cloud is down at `now`.
    pub fn down(&mut self, now: SimTime) -> bool {
        self.outages.as_mut().is_some_and(|o| o.down(now))
    }

    /// What a call of `prompt + output` tokens is charged in `unit` at admission: the output
    /// counts as max(max_tokens, output).
    fn charge(max_tokens: u32, unit: LimitUnit, prompt: u32, output: u32) -> f64 {
        unit.amount(prompt, output.max(max_tokens))
    }

    /// A call of class `class` and `prompt + output` tokens at `now`: refused if down (5xx),
    /// if it charges more than a limit can ever admit (400), or if any limit is exhausted
    /// for its key (the API's, or the class's: 429); nothing is charged then. Else charged to
    /// every limit.
    pub fn call(
        &mut self,
        spec: &CloudSpec,
        now: SimTime,
        class: u16,
        prompt: u32,
        output: u32,
    ) -> CloudAnswer {
        if self.down(now) {
            self.counters.unavailable += 1;
            return CloudAnswer::Unavailable;
        }
        if let (Some(d), true) = (&spec.degraded, self.degraded(now))
            && d.error_rate > 0.0
        {
            let rng = &mut self.degraded.as_mut().expect("degraded state").1;
            if rng.random::<f64>() < d.error_rate {
                self.counters.server_errors += 1;
                return CloudAnswer::ServerError;
            }
        }
        let m = self.max_tokens;
        if self
            .limits
            .iter()
            .any(|l| Self::charge(m, l.unit, prompt, output) > l.most[l.key(class)])
        {
            self.counters.bad_request += 1;
            return CloudAnswer::BadRequest;
        }
        for l in &mut self.limits {
            let key = l.key(class);
            self.changed.clear();
            l.limiter.advance(now, &mut self.changed);
            let amount = Self::charge(m, l.unit, prompt, output);
            if l.limiter.check(now, key, amount) == Admission::Throttle {
                self.counters.rate_limited += 1;
                return CloudAnswer::RateLimited;
            }
        }
        for l in &mut self.limits {
            let key = l.key(class);
            l.limiter
                .record(now, key, Self::charge(m, l.unit, prompt, output));
        }
        CloudAnswer::Accepted
    }

    /// A call of class `class` admitted at the cloud finished: frees a concurrency limit, and
    /// with `refund_unused_output` gives back to the token limits what `max_tokens` charged
    /// beyond the output, max(max_tokens, output) − output.
    pub fn done(&mut self, now: SimTime, class: u16, prompt: u32, output: u32) {
        let m = self.max_tokens;
        let unused = f64::from(m.saturating_sub(output));
        for l in &mut self.limits {
            let key = l.key(class);
            l.limiter
                .release(now, key, Self::charge(m, l.unit, prompt, output));
            if self.refund_unused_output
                && unused > 0.0
                && matches!(l.unit, LimitUnit::Tokens | LimitUnit::OutputTokens)
            {
                l.limiter.refund(now, key, unused);
            }
        }
    }

    /// Time to first token and end-to-end latency of one response with `output` tokens \[s\],
    /// drawn when the spec has distributions (constants use no randomness).
    #[inline(always)]
    pub fn latency_s(&mut self, spec: &CloudSpec, now: SimTime, output: u32) -> (f64, f64) {
        let slow = match &spec.degraded {
            Some(d) if self.degraded(now) => d.latency_factor,
            _ => 1.0,
        };
        if !spec.rtt.is_random() && !spec.ttft.is_random() && spec.tokens_per_s_sigma == 0.0 {
            if slow == 1.0 {
                return (spec.ttft_s(), spec.e2e_s(output));
            }
            let first = (spec.rtt_ms + slow * spec.ttft_ms) / 1000.0;
            return (
                first,
                first + slow * f64::from(output.saturating_sub(1)) / spec.tokens_per_s,
            );
        }
        let rtt = spec.rtt.sample(&mut self.rng);
        let ttft = spec.ttft.sample(&mut self.rng);
        let speed = if spec.tokens_per_s_sigma > 0.0 {
            let z: f64 = StandardNormal.sample(&mut self.rng);
            (spec.tokens_per_s * (spec.tokens_per_s_sigma * z).exp())
                .max(crate::check::MIN_TOKENS_PER_S)
        } else {
            spec.tokens_per_s
        };
        let first = (rtt + slow * ttft) / 1000.0;
        (
            first,
            first + slow * f64::from(output.saturating_sub(1)) / speed,
        )
    }

    /// The summary's `cloud_faults` at the end of a run that lasted until `end`.
    pub fn faults(&mut self, end: SimTime) -> CloudFaults {
        let c = self.counters;
        let downtime_s = self.outages.as_mut().map_or(0.0, |o| o.downtime_s(end));
        let degraded_s = self
            .degraded
            .as_mut()
            .map_or(0.0, |(o, _)| o.downtime_s(end));
        let t = end.as_secs_f64();
        let share = |x: u64| {
            (c.arrivals_during_outages > 0).then(|| x as f64 / c.arrivals_during_outages as f64)
        };
        CloudFaults {
            rate_limited: c.rate_limited,
            unavailable: c.unavailable,
            bad_request: c.bad_request,
            server_errors: c.server_errors,
            degraded_s,
            retries: c.retries,
            rejected_refused: c.rejected_refused,
            downtime_s,
            availability: if t > 0.0 { 1.0 - downtime_s / t } else { 1.0 },
            arrivals_during_outages: c.arrivals_during_outages,
            edge_share_during_outages: share(c.edge_during_outages),
            rejected_share_during_outages: share(c.rejected_during_outages),
        }
    }
}
