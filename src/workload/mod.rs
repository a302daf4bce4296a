//! Workloads: when requests arrive and how many tokens they carry.
//!
//! A [`Workload`] is pull-based: the simulator asks for the next arrival only when the previous
//! one fires (open loop) or when a user's request ends (closed loop), so the event queue never
//! holds the whole workload. Each workload draws from its own named random streams.

pub mod bursty;
mod closed;
mod poisson;
pub mod tokens;
pub mod trace;

pub use bursty::Bursty;
pub use closed::Closed;
pub use poisson::Poisson;
pub use tokens::TokenDist;
pub use trace::{TraceReplay, TraceRow};

use rand::{Rng, RngExt};

use crate::rng::SimRng;
use crate::time::SimTime;

/// Marks an arrival that belongs to no closed-loop user.
pub const NO_USER: u32 = u32::MAX;

/// One request as the workload creates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// Arrival time at the gateway.
    pub at: SimTime,
    /// Closed-loop user, or [`NO_USER`].
    pub user: u32,
    /// Request class index (into the scenario's classes).
    pub class: u16,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Output tokens.
    pub output_tokens: u32,
}

/// An arrival process.
pub trait Workload: Send {
    /// Arrivals known at the start (open loop: the first; closed loop: one per user).
    fn start(&mut self) -> Vec<Arrival>;
    /// Called when `arrival` reaches the gateway; open-loop workloads return the next one.
    fn after_arrival(&mut self, arrival: &Arrival) -> Option<Arrival>;
    /// Called when a request of closed-loop `user` ends (served or rejected) at `now`.
    fn after_done(&mut self, now: SimTime, user: u32) -> Option<Arrival>;
}

/// A validated request class.
#[derive(Clone, Debug)]
pub struct ClassSpec {
    /// Name.
    pub name: String,
    /// Relative share of requests.
    pub share: f64,
    /// Task for quality lookups.
    pub task: Option<String>,
    /// Prompt tokens.
    pub prompt_tokens: TokenDist,
    /// Output tokens.
    pub output_tokens: TokenDist,
}

/// Draws a request's class and token counts.
#[derive(Clone, Debug)]
pub struct Demand {
    classes: Vec<ClassSpec>,
    cumulative: Vec<f64>,
}

impl Demand {
    /// Demand over `classes` (non-empty, shares > 0).
    pub fn new(classes: Vec<ClassSpec>) -> Demand {
        let mut acc = 0.0;
        let cumulative = classes
            .iter()
            .map(|c| {
                acc += c.share;
                acc
            })
            .collect();
        Demand {
            classes,
            cumulative,
        }
    }

    /// Picks a class by share. With one class no random number is used.
    pub fn class<R: Rng + ?Sized>(&self, rng: &mut R) -> u16 {
        if self.classes.len() == 1 {
            return 0;
        }
        let total = self.cumulative[self.cumulative.len() - 1];
        let x = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|c| *c <= x)
            .min(self.classes.len() - 1) as u16
    }

    /// Draws `(class, prompt, output)` from three streams.
    pub fn draw(
        &self,
        class_rng: &mut SimRng,
        prompt_rng: &mut SimRng,
        output_rng: &mut SimRng,
    ) -> (u16, u32, u32) {
        let c = self.class(class_rng);
        let spec = &self.classes[c as usize];
        (
            c,
            spec.prompt_tokens.sample(prompt_rng),
            spec.output_tokens.sample(output_rng),
        )
    }

    /// The classes.
    pub fn classes(&self) -> &[ClassSpec] {
        &self.classes
    }
}

/// The three token/class streams of an open-loop workload.
#[derive(Clone, Debug)]
pub(crate) struct DemandStreams {
    pub class: SimRng,
    pub prompt: SimRng,
    pub output: SimRng,
}

impl DemandStreams {
    pub(crate) fn new(streams: &crate::rng::RngStreams) -> Self {
        DemandStreams {
            class: streams.stream("class"),
            prompt: streams.stream("prompt_tokens"),
            output: streams.stream("output_tokens"),
        }
    }
    pub(crate) fn draw(&mut self, demand: &Demand) -> (u16, u32, u32) {
        demand.draw(&mut self.class, &mut self.prompt, &mut self.output)
    }
}
