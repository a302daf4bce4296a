//! Open-loop Poisson arrivals.

use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use super::demand::DemandFiles;
use super::open::Gaps;
use super::{ClassFile, TokenDistFile};
use crate::check::Checker;
use crate::error::Result;
use crate::rng::SimRng;
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

/// Poisson arrival times at a constant rate (the workload is [`super::OpenLoop`]`<Poisson>`).
pub struct Poisson {
    gap: Exp<f64>,
}

impl Poisson {
    /// Poisson arrivals at `rate_rps` (> 0).
    pub fn new(rate_rps: f64) -> Poisson {
        Poisson {
            #[allow(clippy::expect_used)]
            gap: Exp::new(rate_rps).expect("rate validated > 0"),
        }
    }
}

impl Gaps for Poisson {
    #[inline]
    fn next_time(&mut self, rng: &mut SimRng, t: SimTime, _: SimTime) -> Option<SimTime> {
        Some(t + SimDuration::from_secs_f64(self.gap.sample(rng)))
    }
}
