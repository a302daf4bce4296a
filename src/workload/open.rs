//! What the open-loop arrival processes share: each draws the time of its next arrival from
//! the stream `arrivals` ([`Gaps`]); [`OpenLoop`] stops at the horizon and gives each arrival
//! its class and token counts from the demand's streams.

use super::demand::DemandStreams;
use super::{Arrival, Demand, NO_USER, Workload};
use crate::rng::{RngStreams, SimRng};
use crate::time::SimTime;

/// The times of an open-loop arrival process.
pub trait Gaps: Send {
    /// The first arrival after `t`, drawn from `rng` (`None`, or a time past `horizon`, when
    /// there is none before it).
    fn next_time(&mut self, rng: &mut SimRng, t: SimTime, horizon: SimTime) -> Option<SimTime>;
}

/// An open-loop workload: arrival times from `G` up to the horizon, each request's class and
/// tokens from the demand.
pub struct OpenLoop<G> {
    gaps: G,
    horizon: SimTime,
    demand: Demand,
    arrivals: SimRng,
    streams: DemandStreams,
}

impl<G: Gaps> OpenLoop<G> {
    /// Arrivals at the times of `gaps` up to `horizon`, with the streams of `streams`.
    pub fn new(gaps: G, horizon: SimTime, demand: Demand, streams: &RngStreams) -> OpenLoop<G> {
        OpenLoop {
            gaps,
            horizon,
            demand,
            arrivals: streams.stream("arrivals"),
            streams: DemandStreams::new(streams),
        }
    }

    fn next_after(&mut self, t: SimTime) -> Option<Arrival> {
        let at = self.gaps.next_time(&mut self.arrivals, t, self.horizon)?;
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

impl<G: Gaps> Workload for OpenLoop<G> {
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
