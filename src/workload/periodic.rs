//! Poisson arrivals whose rate follows a shape repeated every period: a day's traffic (busy
//! afternoons, quiet nights) or a week's.

use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use super::demand::DemandFiles;
use super::open::Gaps;
use super::{ClassFile, TokenDistFile};
use crate::check::Checker;
use crate::error::Result;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

/// The most slices a shape may have (a week in minutes is 10,080).
pub const MAX_SHAPE: usize = 100_000;

/// The default period: a day \[s\].
pub const DAY_S: f64 = 86_400.0;

/// `kind = "periodic"` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Mean arrival rate over a period \[requests/s\].
    pub rate_rps: f64,
    /// Relative rates of the period's equal slices, in order (scaled so that their mean is
    /// `rate_rps`).
    pub shape: Vec<f64>,
    /// Length of the period \[s\] (default a day, 86,400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_s: Option<f64>,
    /// Where in the period the run starts \[s\] (default 0: at its first slice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_s: Option<f64>,
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

/// Validated settings: the rate of each slice.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// Mean rate over a period \[requests/s\].
    pub rate_rps: f64,
    /// The shape as written.
    pub shape: Vec<f64>,
    /// Period \[s\].
    pub period_s: f64,
    /// Where in the period the run starts \[s\], in `[0, period_s)`.
    pub start_s: f64,
    /// Each slice's rate \[requests/s\]: `rate_rps · shape[i] / mean(shape)`.
    rates: Vec<f64>,
    /// The integral of the rate over the first i slices of a period (n + 1 values, from 0 to
    /// `rate_rps · period_s`).
    cum: Vec<f64>,
    /// Slice length \[s\]: `period_s / shape.len()`.
    slice_s: f64,
}

impl File {
    pub(super) fn validate(&self, cx: &Checker) -> Result<Spec> {
        let rate_rps = cx.positive("workload.rate_rps", self.rate_rps)?;
        let n = self.shape.len();
        if n == 0 || n > MAX_SHAPE {
            return Err(cx.bad(
                "workload.shape",
                format!("({n} values)"),
                format!(
                    "must hold 1 to {MAX_SHAPE} relative rates, one per equal slice of \
                     workload.period_s (e.g. 24 for the hours of a day)"
                ),
            ));
        }
        for (i, &v) in self.shape.iter().enumerate() {
            if !(v.is_finite() && v >= 0.0) {
                return Err(cx.bad(
                    format!("workload.shape[{i}]"),
                    crate::check::num(v),
                    "must be a finite relative rate >= 0",
                ));
            }
        }
        let mean = self.shape.iter().sum::<f64>() / n as f64;
        if !(mean > 0.0 && mean.is_finite()) {
            return Err(cx.bad(
                "workload.shape",
                format!("({n} values summing to {})", self.shape.iter().sum::<f64>()),
                "must have a relative rate > 0, and a finite sum",
            ));
        }
        let period_s = cx.span_s("workload.period_s", self.period_s.unwrap_or(DAY_S))?;
        let slice_s = period_s / n as f64;
        if slice_s < 1e-3 {
            return Err(cx.bad(
                "workload.period_s",
                crate::check::num(period_s),
                format!(
                    "cut into {n} slices (workload.shape) gives slices of {slice_s:e} s: they \
                     must be at least 1 ms"
                ),
            ));
        }
        let start_s = cx.time_s("workload.start_s", self.start_s.unwrap_or(0.0))?;
        if start_s >= period_s {
            return Err(cx.bad(
                "workload.start_s",
                crate::check::num(start_s),
                format!("must lie in [0, workload.period_s) = [0, {period_s})"),
            ));
        }
        Ok(Spec::new(rate_rps, self.shape.clone(), period_s, start_s))
    }

    pub(super) fn demand(&self) -> DemandFiles<'_> {
        DemandFiles {
            prompt_tokens: self.prompt_tokens.as_ref(),
            output_tokens: self.output_tokens.as_ref(),
            classes: &self.classes,
        }
    }
}

impl Spec {
    /// The slices' rates and their running integral, from settings validated above.
    fn new(rate_rps: f64, shape: Vec<f64>, period_s: f64, start_s: f64) -> Spec {
        let n = shape.len();
        let mean = shape.iter().sum::<f64>() / n as f64;
        let slice_s = period_s / n as f64;
        let rates: Vec<f64> = shape.iter().map(|&v| rate_rps * v / mean).collect();
        let mut cum = Vec::with_capacity(n + 1);
        cum.push(0.0);
        for (i, r) in rates.iter().enumerate() {
            cum.push(cum[i] + r * slice_s);
        }
        Spec {
            rate_rps,
            shape,
            period_s,
            start_s,
            rates,
            cum,
            slice_s,
        }
    }

    pub(super) fn to_file(
        &self,
        prompt_tokens: Option<TokenDistFile>,
        output_tokens: Option<TokenDistFile>,
        classes: Vec<ClassFile>,
    ) -> File {
        File {
            rate_rps: self.rate_rps,
            shape: self.shape.clone(),
            period_s: Some(self.period_s),
            start_s: Some(self.start_s),
            prompt_tokens,
            output_tokens,
            classes,
        }
    }

    /// The highest slice's rate \[requests/s\].
    pub fn peak_rate_rps(&self) -> f64 {
        self.rates.iter().copied().fold(0.0, f64::max)
    }

    /// The integral of the rate from the start of the period before the run's to period
    /// coordinate `y` >= 0 (the run's time t is y = t + start_s): ⌊y / period⌋ whole periods of
    /// `cum[n]` each, the whole slices of the last one (`cum[i]`) and a part of slice i.
    fn integral(&self, y: f64) -> f64 {
        let n = self.rates.len();
        let periods = crate::fmath::floor(y / self.period_s);
        let z = (y - periods * self.period_s).max(0.0);
        let i = ((z / self.slice_s) as usize).min(n - 1);
        periods * self.cum[n] + self.cum[i] + self.rates[i] * (z - i as f64 * self.slice_s)
    }

    /// The period coordinate y at which [`Spec::integral`] reaches `target` >= 0 (the first,
    /// where slices of rate 0 leave it flat): whole periods, then the slice whose integral
    /// crosses it (a binary search over `cum`, so that a shape of many slices costs log n),
    /// then the point inside it.
    fn inverse(&self, target: f64) -> f64 {
        let n = self.rates.len();
        let mut periods = crate::fmath::floor(target / self.cum[n]);
        let mut rest = target - periods * self.cum[n];
        if rest <= 0.0 {
            if periods <= 0.0 {
                return 0.0;
            }
            // A whole number of periods' integral: reached where the last period's rate ends
            // (before its flat slices, if any).
            periods -= 1.0;
            rest += self.cum[n];
        }
        // Rounding may leave a hair past the period's integral: clamped, the search below ends
        // on the last slice with a rate, never on a flat one (a division by its zero rate).
        let rest = rest.min(self.cum[n]);
        let base = periods * self.period_s;
        // The first slice i whose end integral cum[i + 1] reaches `rest`: cum[i] < rest, so its
        // rate is > 0.
        let i = self.cum[1..].partition_point(|&c| c < rest).min(n - 1);
        base + i as f64 * self.slice_s + (rest - self.cum[i]) / self.rates[i]
    }

    /// The expected arrivals in the run's first `duration_s` seconds: the integral of the
    /// rate, F(start + d) − F(start).
    pub fn mean_arrivals(&self, duration_s: f64) -> f64 {
        self.integral(self.start_s + duration_s) - self.integral(self.start_s)
    }

    /// The time of the first arrival after `t` \[s\] given one Exp(1) draw `work`: where the
    /// integrated rate has grown by `work` (never before `t`, whatever the rounding).
    fn next_time(&self, t: f64, work: f64) -> f64 {
        let y = self.inverse(self.integral(t + self.start_s) + work) - self.start_s;
        y.max(t)
    }
}

/// Arrival times at the rate of the shape's slice, generated exactly by inverting the
/// integrated rate (one Exp(1) draw per arrival, O(log n) for a shape of n slices however long
/// the gap: no walk over slices or periods; the workload is [`super::OpenLoop`]`<Periodic>`).
pub struct Periodic {
    spec: Spec,
    unit: Exp<f64>,
}

impl Periodic {
    /// The arrival times of a validated periodic workload.
    pub fn new(spec: Spec) -> Periodic {
        Periodic {
            spec,
            #[allow(clippy::expect_used)]
            unit: Exp::new(1.0).expect("rate 1 is valid"),
        }
    }
}

impl Gaps for Periodic {
    fn next_time(&mut self, rng: &mut SimRng, t: SimTime, _: SimTime) -> Option<SimTime> {
        let from = t.as_secs_f64();
        let at = self.spec.next_time(from, self.unit.sample(rng));
        Some(t + SimDuration::from_secs_f64(at - from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    fn spec(shape: &[f64], period_s: f64, start_s: f64) -> Spec {
        Spec::new(2.0, shape.to_vec(), period_s, start_s)
    }

    /// Worked by hand: a shape of 1, 3, 0, 4 over 40 s (slices of 10 s, mean 2, so rates
    /// 1, 3, 0 and 4 at a mean rate of 2), the run starting 15 s into the period.
    #[test]
    fn the_integrated_rate_and_its_inverse_follow_the_shape() {
        let s = spec(&[1.0, 3.0, 0.0, 4.0], 40.0, 15.0);
        assert_eq!(s.peak_rate_rps(), 4.0);
        // In period coordinates: 10 at 10 s, 40 at 20 s, flat to 30 s, 80 at 40 s.
        for (y, f) in [
            (0.0, 0.0),
            (5.0, 5.0),
            (10.0, 10.0),
            (15.0, 25.0),
            (20.0, 40.0),
        ] {
            assert_eq!(s.integral(y), f, "F({y})");
        }
        assert_eq!(s.integral(25.0), 40.0);
        assert_eq!(s.integral(35.0), 60.0);
        assert_eq!(s.integral(40.0), 80.0);
        assert_eq!(s.integral(1e6 + 15.0), 25_000.0 * 80.0 + 25.0);
        // The inverse: the first y reaching each value (40 is reached at 20 s, not 30 s).
        for (f, y) in [
            (5.0, 5.0),
            (25.0, 15.0),
            (40.0, 20.0),
            (60.0, 35.0),
            (80.0, 40.0),
        ] {
            assert_eq!(s.inverse(f), y, "F^-1({f})");
        }
        assert_eq!(s.inverse(80.0 * 1000.0 + 25.0), 40.0 * 1000.0 + 15.0);
        // From 15 s: 5 s at 3, 10 s at 0, 10 s at 4, then a whole period (40 s at mean 2).
        assert_eq!(s.mean_arrivals(5.0), 15.0);
        assert_eq!(s.mean_arrivals(25.0), 55.0);
        assert_eq!(s.mean_arrivals(65.0), 135.0);
        // The run's time 5 s is 20 s into the period: 3 more of the integral are reached only
        // after the flat slice, 30.75 s into the period (3 / 4 into the slice of rate 4).
        assert_eq!(s.next_time(5.0, 3.0), 15.75);
        // A gap of many periods costs no walk: 800 periods' integral from the run's start.
        assert_eq!(s.next_time(0.0, 800.0 * 80.0), 800.0 * 40.0);
        // A whole period's integral is reached where its rate ends: with a shape of 1, 0 over
        // 10 s, at 5 s of the period, not 10.
        let flat_end = spec(&[1.0, 0.0], 10.0, 0.0);
        assert_eq!(flat_end.inverse(20.0), 5.0);
        assert_eq!(flat_end.inverse(40.0), 15.0);
        let s = spec(&[5.0], 7.0, 0.0);
        assert_eq!(s.next_time(100.0, 4.0), 102.0);
    }

    /// The inverse undoes the integral at any value, with flat slices at both ends of the
    /// period and values up to a million periods' worth: y is finite and F(y) is the value.
    #[test]
    fn the_inverse_undoes_the_integral() {
        use rand::{RngExt, SeedableRng};
        let s = spec(&[0.0, 2.0, 0.0, 0.5, 0.0], 0.7, 0.3);
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        for _ in 0..20_000 {
            let target = r.random::<f64>() * 1e6 * s.cum[5];
            let y = s.inverse(target);
            assert!(y.is_finite() && y >= 0.0, "{target} -> {y}");
            let f = s.integral(y);
            assert!(
                (f - target).abs() <= 1e-9 * target.max(1.0),
                "{target} -> {y} -> {f}"
            );
        }
    }

    /// Over many periods the arrivals in each slice are Poisson with mean rate × length ×
    /// periods: each count within 4.5 standard deviations (a zero-rate slice gets none).
    #[test]
    fn arrivals_per_slice_are_poisson_with_the_slices_rate() {
        let shape = [0.5, 2.0, 0.0, 1.5, 1.0];
        let (period, periods) = (50.0, 4000.0);
        let s = spec(&shape, period, 20.0);
        let demand = crate::workload::Demand::new(&crate::workload::DemandSpec {
            prompt_tokens: None,
            output_tokens: None,
            classes: vec![crate::workload::ClassSpec {
                name: "default".into(),
                share: 1.0,
                task: None,
                prompt_tokens: None,
                output_tokens: None,
                queue_timeout_ms: None,
                max_predicted_wait_ms: None,
                priority: None,
                route: None,
                quota: None,
                devices: None,
            }],
            implicit_class: true,
        });
        let horizon = SimTime::from_secs_f64(period * periods);
        let mut w = crate::workload::OpenLoop::new(
            Periodic::new(s.clone()),
            horizon,
            demand,
            &crate::rng::RngStreams::new(9),
        );
        let mut counts = [0u64; 5];
        let mut next = w.start();
        while let Some(a) = next.pop() {
            let t = a.at.as_secs_f64();
            let slice = (((t + 20.0) % period) / 10.0) as usize;
            counts[slice.min(4)] += 1;
            next.extend(w.after_arrival(&a));
        }
        for (i, &n) in counts.iter().enumerate() {
            let want = s.rates[i] * 10.0 * periods;
            let sd = want.sqrt();
            assert!(
                (n as f64 - want).abs() <= 4.5 * sd.max(1e-9),
                "slice {i}: {n} arrivals against {want}"
            );
        }
        assert_eq!(counts[2], 0);
    }
}
