//! Open-loop Poisson arrivals.

use rand_distr::{Distribution, Exp};

use super::{Arrival, Demand, DemandStreams, NO_USER, Workload};
use crate::rng::{RngStreams, SimRng};
use crate::time::{SimDuration, SimTime};

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
