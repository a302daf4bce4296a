//! Open-loop Poisson arrivals.

use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use super::demand::{DemandFiles, DemandStreams};
use super::{Arrival, ClassFile, Demand, NO_USER, TokenDistFile, Workload};
use crate::check::Checker;
use crate::error::Result;
use crate::rng::{RngStreams, SimRng};
use crate::time::{SimDuration, SimTime};

/// `kind = "poisson"` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Arrival rate \[requests/s\].
    pub rate_rps: f64,
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

/// Validated settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spec {
    /// Arrival rate \[requests/s\].
    pub rate_rps: f64,
}

impl File {
    pub(super) fn validate(&self, cx: &Checker) -> Result<Spec> {
        Ok(Spec {
            rate_rps: cx.positive("workload.rate_rps", self.rate_rps)?,
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
        self,
        prompt_tokens: Option<TokenDistFile>,
        output_tokens: Option<TokenDistFile>,
        classes: Vec<ClassFile>,
    ) -> File {
        File {
            rate_rps: self.rate_rps,
            prompt_tokens,
            output_tokens,
            classes,
        }
    }
}

/// Poisson arrivals at a constant rate until the horizon.
pub struct Poisson {
    gap: Exp<f64>,
    horizon: SimTime,
    demand: Demand,
    arrivals: SimRng,
    streams: DemandStreams,
}

impl Poisson {
    /// Poisson arrivals at `rate_rps` (> 0) up to `horizon`.
    pub fn new(rate_rps: f64, horizon: SimTime, demand: Demand, streams: &RngStreams) -> Poisson {
        Poisson {
            #[allow(clippy::expect_used)]
            gap: Exp::new(rate_rps).expect("rate validated > 0"),
            horizon,
            demand,
            arrivals: streams.stream("arrivals"),
            streams: DemandStreams::new(streams),
        }
    }

    fn next_after(&mut self, t: SimTime) -> Option<Arrival> {
        let at = t + SimDuration::from_secs_f64(self.gap.sample(&mut self.arrivals));
        if at > self.horizon {
            return None;
        }
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

impl Workload for Poisson {
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
