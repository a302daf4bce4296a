//! On/off modulated Poisson arrivals: a base rate, and a burst rate during periodic bursts.

use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use super::demand::DemandFiles;
use super::open::Gaps;
use super::{ClassFile, TokenDistFile};
use crate::check::Checker;
use crate::error::Result;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

/// `kind = "bursty"` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Rate outside bursts \[requests/s\].
    pub base_rate_rps: f64,
    /// Rate during bursts \[requests/s\].
    pub burst_rate_rps: f64,
    /// Length of each burst \[s\].
    pub burst_length_s: f64,
    /// Time from one burst start to the next \[s\].
    pub burst_period_s: f64,
    /// Start of the first burst \[s\] (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_start_s: Option<f64>,
    /// Prompt tokens per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<TokenDistFile>,
    /// Output tokens per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<TokenDistFile>,
    /// Request classes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassFile>,
}

impl File {
    pub(super) fn validate(&self, cx: &Checker) -> Result<BurstSchedule> {
        let base = cx.non_negative("workload.base_rate_rps", self.base_rate_rps)?;
        let burst = cx.positive("workload.burst_rate_rps", self.burst_rate_rps)?;
        let len = cx.span_s("workload.burst_length_s", self.burst_length_s)?;
        let period = cx.span_s("workload.burst_period_s", self.burst_period_s)?;
        if len > period {
            return Err(cx.bad(
                "workload.burst_length_s",
                len,
                format!("must be <= workload.burst_period_s ({period})"),
            ));
        }
        let start = cx.time_s("workload.burst_start_s", self.burst_start_s.unwrap_or(0.0))?;
        Ok(BurstSchedule {
            base_rate_rps: base,
            burst_rate_rps: burst,
            burst_length_s: len,
            burst_period_s: period,
            burst_start_s: start,
        })
    }
    pub(super) fn demand(&self) -> DemandFiles<'_> {
        DemandFiles {
            prompt_tokens: self.prompt_tokens.as_ref(),
            output_tokens: self.output_tokens.as_ref(),
            classes: &self.classes,
        }
    }
}

/// The section of a validated schedule, as written in a resolved scenario.
pub(super) fn to_file(
    s: &BurstSchedule,
    prompt_tokens: Option<TokenDistFile>,
    output_tokens: Option<TokenDistFile>,
    classes: Vec<ClassFile>,
) -> File {
    File {
        base_rate_rps: s.base_rate_rps,
        burst_rate_rps: s.burst_rate_rps,
        burst_length_s: s.burst_length_s,
        burst_period_s: s.burst_period_s,
        burst_start_s: Some(s.burst_start_s),
        prompt_tokens,
        output_tokens,
        classes,
    }
}

/// Rate schedule of a bursty workload \[requests/s and s\].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurstSchedule {
    /// Rate outside bursts.
    pub base_rate_rps: f64,
    /// Rate during bursts.
    pub burst_rate_rps: f64,
    /// Burst length.
    pub burst_length_s: f64,
    /// Burst period (start to start).
    pub burst_period_s: f64,
    /// Start of the first burst.
    pub burst_start_s: f64,
}

impl BurstSchedule {
    /// The rate at time `t` \[s\] and the time at which it next changes.
    pub fn segment(&self, t: f64) -> (f64, f64) {
        if t < self.burst_start_s {
            return (self.base_rate_rps, self.burst_start_s);
        }
        let k = crate::fmath::floor((t - self.burst_start_s) / self.burst_period_s);
        let mut start = self.burst_start_s + k * self.burst_period_s;
        if start + self.burst_period_s <= t {
            // Rounding (t far from the first burst, a short period) put t past period k.
            start += self.burst_period_s;
        }
        let burst_end = start + self.burst_length_s;
        if t < burst_end {
            (self.burst_rate_rps, burst_end)
        } else {
            (self.base_rate_rps, start + self.burst_period_s)
        }
    }

    /// Mean rate over a whole period (after the first burst start).
    pub fn mean_rate_rps(&self) -> f64 {
        let f = self.burst_length_s / self.burst_period_s;
        f * self.burst_rate_rps + (1.0 - f) * self.base_rate_rps
    }
}

/// The next arrival after `t` (up to `horizon`) of a Poisson process whose rate is piecewise
/// constant, `segment(s)` giving the rate at time s \[s\] and the time its segment ends:
/// exactly, by inverting the integrated rate (one unit exponential drawn from `arrivals`, no
/// thinning). From `cycle.0` on the rate repeats every `cycle.1` seconds with an integral of
/// `cycle.2` (> 0) per period: a draw that outlasts whole periods skips them at once, so that a
/// rate far below one arrival per period does not walk its segments one by one.
#[inline(always)]
fn next_piecewise(
    arrivals: &mut SimRng,
    unit: &Exp<f64>,
    t: SimTime,
    horizon: SimTime,
    cycle: (f64, f64, f64),
    segment: impl Fn(f64) -> (f64, f64),
) -> Option<SimTime> {
    let mut work = unit.sample(arrivals);
    let mut now = t.as_secs_f64();
    let end_s = horizon.as_secs_f64();
    let (from, period, per_period) = cycle;
    let at = loop {
        if now > end_s {
            return None;
        }
        let (rate, end) = segment(now);
        debug_assert!(end > now, "a segment ends after it starts: {now} -> {end}");
        let span = end - now;
        if rate > 0.0 && rate * span >= work {
            break now + work / rate;
        }
        work -= rate * span;
        now = end;
        // Checked only past the first segment, where most draws end.
        if work > per_period && now >= from {
            let periods = crate::fmath::floor(work / per_period);
            now += periods * period;
            work -= periods * per_period;
        }
    };
    let at = t + SimDuration::from_secs_f64(at - t.as_secs_f64());
    (at <= horizon).then_some(at)
}

/// Arrival times of a bursty workload: a Poisson process with a piecewise-constant rate,
/// generated exactly by inverting the integrated rate (no thinning; the workload is
/// [`super::OpenLoop`]`<Bursty>`).
pub struct Bursty {
    schedule: BurstSchedule,
    /// From the first burst: the period and the rate's integral over one period.
    cycle: (f64, f64, f64),
    unit: Exp<f64>,
}

impl Bursty {
    /// The arrival times of `schedule` (burst rate > 0, 0 < length <= period).
    pub fn new(schedule: BurstSchedule) -> Bursty {
        Bursty {
            schedule,
            cycle: (
                schedule.burst_start_s,
                schedule.burst_period_s,
                schedule.mean_rate_rps() * schedule.burst_period_s,
            ),
            #[allow(clippy::expect_used)]
            unit: Exp::new(1.0).expect("rate 1 is valid"),
        }
    }
}

impl Gaps for Bursty {
    #[inline]
    fn next_time(&mut self, rng: &mut SimRng, t: SimTime, horizon: SimTime) -> Option<SimTime> {
        next_piecewise(rng, &self.unit, t, horizon, self.cycle, |now| {
            self.schedule.segment(now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched() -> BurstSchedule {
        BurstSchedule {
            base_rate_rps: 1.0,
            burst_rate_rps: 10.0,
            burst_length_s: 5.0,
            burst_period_s: 20.0,
            burst_start_s: 10.0,
        }
    }

    #[test]
    fn segments_follow_the_schedule() {
        let s = sched();
        assert_eq!(s.segment(0.0), (1.0, 10.0));
        assert_eq!(s.segment(10.0), (10.0, 15.0));
        assert_eq!(s.segment(14.9), (10.0, 15.0));
        assert_eq!(s.segment(15.0), (1.0, 30.0));
        assert_eq!(s.segment(31.0), (10.0, 35.0));
        assert!((s.mean_rate_rps() - 3.25).abs() < 1e-12);
    }
}
