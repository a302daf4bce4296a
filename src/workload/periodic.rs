//! Poisson arrivals whose rate follows a shape repeated every period: a day's traffic (busy
//! afternoons, quiet nights) or a week's.

use rand_distr::Exp;
use serde::{Deserialize, Serialize};

use super::bursty::next_piecewise;
use super::demand::{DemandFiles, DemandStreams};
use super::{Arrival, ClassFile, Demand, NO_USER, TokenDistFile, Workload};
use crate::check::Checker;
use crate::error::Result;
use crate::rng::{RngStreams, SimRng};
use crate::time::SimTime;

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
        Ok(Spec {
            rate_rps,
            shape: self.shape.clone(),
            period_s,
            start_s,
            rates: self.shape.iter().map(|&v| rate_rps * v / mean).collect(),
            slice_s,
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

impl Spec {
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

    /// The expected arrivals in the run's first `duration_s` seconds: the integral of the
    /// rate, F(start + d) − F(start), F(y) counting ⌊y / period⌋ whole periods (rate_rps ·
    /// period each) and the slices of the last one up to y.
    pub fn mean_arrivals(&self, duration_s: f64) -> f64 {
        let f = |y: f64| {
            let periods = crate::fmath::floor(y / self.period_s);
            let mut z = y - periods * self.period_s;
            let mut sum = periods * self.rate_rps * self.period_s;
            for &r in &self.rates {
                let part = z.min(self.slice_s);
                if part <= 0.0 {
                    break;
                }
                sum += r * part;
                z -= part;
            }
            sum
        };
        f(self.start_s + duration_s) - f(self.start_s)
    }

    /// The rate at time `t` \[s\] of the run and the time its slice ends.
    pub fn segment(&self, t: f64) -> (f64, f64) {
        // Slice g counted from the period's start before the run's; its end, past t.
        let mut g = crate::fmath::floor((t + self.start_s) / self.slice_s);
        let mut end = (g + 1.0) * self.slice_s - self.start_s;
        if end <= t {
            // Rounding put t at the very end of slice g: it is in the next.
            g += 1.0;
            end = (g + 1.0) * self.slice_s - self.start_s;
        }
        let n = self.rates.len() as f64;
        let i = (g - n * crate::fmath::floor(g / n)) as usize;
        (self.rates[i.min(self.rates.len() - 1)], end)
    }
}

/// Poisson arrivals at the rate of the shape's slice, generated exactly (see
/// [`super::bursty::next_piecewise`]).
pub struct Periodic {
    spec: Spec,
    unit: Exp<f64>,
    horizon: SimTime,
    demand: Demand,
    arrivals: SimRng,
    streams: DemandStreams,
}

impl Periodic {
    /// A periodic workload (validated) up to `horizon`.
    pub fn new(spec: Spec, horizon: SimTime, demand: Demand, streams: &RngStreams) -> Periodic {
        Periodic {
            spec,
            #[allow(clippy::expect_used)]
            unit: Exp::new(1.0).expect("rate 1 is valid"),
            horizon,
            demand,
            arrivals: streams.stream("arrivals"),
            streams: DemandStreams::new(streams),
        }
    }

    fn next_after(&mut self, t: SimTime) -> Option<Arrival> {
        let at = next_piecewise(&mut self.arrivals, &self.unit, t, self.horizon, |now| {
            self.spec.segment(now)
        })?;
        let (class, prompt_tokens, output_tokens) = self.streams.draw(&self.demand);
        Some(Arrival {
            at,
            user: NO_USER,
            class,
            prompt_tokens,
            output_tokens,
        })
    }
}

impl Workload for Periodic {
    fn start(&mut self) -> Vec<Arrival> {
        self.next_after(SimTime::ZERO).into_iter().collect()
    }
    fn after_arrival(&mut self, arrival: &Arrival) -> Option<Arrival> {
        self.next_after(arrival.at)
    }
    fn after_done(&mut self, _: SimTime, _: u32) -> Option<Arrival> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(shape: &[f64], period_s: f64, start_s: f64) -> Spec {
        let mean = shape.iter().sum::<f64>() / shape.len() as f64;
        Spec {
            rate_rps: 2.0,
            shape: shape.to_vec(),
            period_s,
            start_s,
            rates: shape.iter().map(|v| 2.0 * v / mean).collect(),
            slice_s: period_s / shape.len() as f64,
        }
    }

    /// Worked by hand: a shape of 1, 3, 0, 4 over 40 s (slices of 10 s, mean 2, so rates
    /// 1, 3, 0 and 4 at a mean rate of 2), the run starting 15 s into the period.
    #[test]
    fn segments_follow_the_shape_from_the_start_offset() {
        let s = spec(&[1.0, 3.0, 0.0, 4.0], 40.0, 15.0);
        assert_eq!(s.segment(0.0), (3.0, 5.0));
        assert_eq!(s.segment(4.9), (3.0, 5.0));
        assert_eq!(s.segment(5.0), (0.0, 15.0));
        assert_eq!(s.segment(15.0), (4.0, 25.0));
        assert_eq!(s.segment(25.0), (1.0, 35.0));
        assert_eq!(s.segment(35.0), (3.0, 45.0));
        assert_eq!(s.segment(1e6 + 5.0), (0.0, 1e6 + 15.0));
        assert_eq!(s.peak_rate_rps(), 4.0);
        // From 15 s: 5 s at 3, 10 s at 0, 10 s at 4, then a whole period (40 s at mean 2).
        assert_eq!(s.mean_arrivals(5.0), 15.0);
        assert_eq!(s.mean_arrivals(25.0), 55.0);
        assert_eq!(s.mean_arrivals(65.0), 135.0);
        let s = spec(&[5.0], 7.0, 0.0);
        assert_eq!(s.segment(100.0), (2.0, 105.0));
    }

    /// Over many periods the arrivals in each slice are Poisson with mean rate × length ×
    /// periods: each count within 4.5 standard deviations (a zero-rate slice gets none).
    #[test]
    fn arrivals_per_slice_are_poisson_with_the_slices_rate() {
        let shape = [0.5, 2.0, 0.0, 1.5, 1.0];
        let (period, periods) = (50.0, 4000.0);
        let s = spec(&shape, period, 20.0);
        let demand = Demand::new(&crate::workload::DemandSpec {
            prompt_tokens: None,
            output_tokens: None,
            classes: vec![crate::workload::ClassSpec {
                name: "default".into(),
                share: 1.0,
                task: None,
                prompt_tokens: None,
                output_tokens: None,
                queue_timeout_ms: None,
                priority: None,
                route: None,
                quota: None,
                devices: None,
            }],
            implicit_class: true,
        });
        let horizon = SimTime::from_secs_f64(period * periods);
        let mut w = Periodic::new(s.clone(), horizon, demand, &RngStreams::new(9));
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
