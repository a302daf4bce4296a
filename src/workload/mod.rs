//! Workloads: when requests arrive and how many tokens they carry.
//!
//! A [`Workload`] is pull-based: the simulator asks for the next arrival only when the previous
//! one fires (open loop) or when a user's request ends (closed loop), so the event queue never
//! holds the whole workload. Each workload draws from its own named random streams.
//!
//! Each arrival process lives in its own file with its scenario keys (`File`), its validated
//! settings and its generator; this module dispatches on `kind`.

mod ahead;
pub mod bursty;
mod closed;
pub mod demand;
mod open;
pub mod periodic;
mod poisson;
pub mod tokens;
pub mod trace;

pub use ahead::Ahead;
pub use bursty::{BurstSchedule, Bursty};
pub use closed::Closed;
pub use demand::{ClassFile, ClassRoute, ClassSpec, Demand, DemandSpec, PriorityFile};
pub use open::{Gaps, OpenLoop};
pub use periodic::Periodic;
pub use poisson::Poisson;
pub use tokens::{TokenDist, TokenDistFile};
pub use trace::{TraceReplay, TraceRow};

use serde::{Deserialize, Serialize};

use crate::catalogue::ModelCatalogue;
use crate::check::Checker;
use crate::error::Result;
use crate::rng::RngStreams;
use crate::time::SimTime;
use demand::DemandFiles;

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

/// `[workload]` as written: `kind` picks the arrival process, whose keys follow.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkloadFile {
    /// Open-loop Poisson arrivals at `rate_rps`.
    Poisson(poisson::File),
    /// `users` closed-loop users with exponential think time.
    Closed(closed::File),
    /// On/off modulated Poisson arrivals.
    Bursty(bursty::File),
    /// Poisson arrivals whose rate follows a shape repeated every period (a day).
    Periodic(periodic::File),
    /// Replay of a CSV trace.
    Trace(trace::File),
}

impl<'de> Deserialize<'de> for WorkloadFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use crate::check::tagged::{split, variant};
        let known = ["poisson", "closed", "bursty", "periodic", "trace"];
        let (kind, t) = split(d, "kind", &known, None)?;
        let k = kind.as_str();
        Ok(match k {
            "poisson" => WorkloadFile::Poisson(variant::<D, _>(t, "kind", k)?),
            "closed" => WorkloadFile::Closed(variant::<D, _>(t, "kind", k)?),
            "bursty" => WorkloadFile::Bursty(variant::<D, _>(t, "kind", k)?),
            "periodic" => WorkloadFile::Periodic(variant::<D, _>(t, "kind", k)?),
            _ => WorkloadFile::Trace(variant::<D, _>(t, "kind", k)?),
        })
    }
}

impl WorkloadFile {
    /// The name of the kind, as written.
    pub fn kind(&self) -> &'static str {
        match self {
            WorkloadFile::Poisson(_) => "poisson",
            WorkloadFile::Closed(_) => "closed",
            WorkloadFile::Bursty(_) => "bursty",
            WorkloadFile::Periodic(_) => "periodic",
            WorkloadFile::Trace(_) => "trace",
        }
    }

    fn demand(&self) -> DemandFiles<'_> {
        match self {
            WorkloadFile::Poisson(f) => f.demand(),
            WorkloadFile::Closed(f) => f.demand(),
            WorkloadFile::Bursty(f) => f.demand(),
            WorkloadFile::Periodic(f) => f.demand(),
            WorkloadFile::Trace(f) => DemandFiles {
                prompt_tokens: None,
                output_tokens: None,
                classes: &f.classes,
            },
        }
    }
}

/// A validated arrival process.
#[derive(Clone, Debug)]
pub enum Arrivals {
    /// Poisson arrivals.
    Poisson(poisson::Spec),
    /// Closed-loop users.
    Closed(closed::Spec),
    /// On/off modulated Poisson.
    Bursty(BurstSchedule),
    /// Poisson with a periodic rate.
    Periodic(periodic::Spec),
    /// Trace replay.
    Trace(trace::Spec),
}

/// A validated workload: the arrival process and the demand of each request.
#[derive(Clone, Debug)]
pub struct WorkloadSpec {
    /// When requests arrive.
    pub arrivals: Arrivals,
    /// What they ask for.
    pub demand: DemandSpec,
}

impl WorkloadSpec {
    /// Validates `[workload]`.
    pub fn from_file(
        cx: &Checker,
        f: &WorkloadFile,
        catalogue: &ModelCatalogue,
    ) -> Result<WorkloadSpec> {
        let arrivals = match f {
            WorkloadFile::Poisson(p) => Arrivals::Poisson(p.validate(cx)?),
            WorkloadFile::Closed(c) => Arrivals::Closed(c.validate(cx)?),
            WorkloadFile::Bursty(b) => Arrivals::Bursty(b.validate(cx)?),
            WorkloadFile::Periodic(p) => Arrivals::Periodic(p.validate(cx)?),
            WorkloadFile::Trace(t) => Arrivals::Trace(t.validate(cx)?),
        };
        let from_trace = matches!(arrivals, Arrivals::Trace(_));
        let demand = DemandSpec::from_files(cx, f.demand(), from_trace, catalogue)?;
        Ok(WorkloadSpec { arrivals, demand })
    }

    /// The section as written in a resolved scenario.
    pub fn to_file(&self) -> WorkloadFile {
        let (p, o, classes) = self.demand.to_files();
        match &self.arrivals {
            Arrivals::Poisson(s) => WorkloadFile::Poisson(s.to_file(p, o, classes)),
            Arrivals::Closed(s) => WorkloadFile::Closed(s.to_file(p, o, classes)),
            Arrivals::Bursty(s) => WorkloadFile::Bursty(bursty::to_file(s, p, o, classes)),
            Arrivals::Periodic(s) => WorkloadFile::Periodic(s.to_file(p, o, classes)),
            Arrivals::Trace(s) => WorkloadFile::Trace(s.to_file(classes)),
        }
    }

    /// Whether arrivals depend on service (closed loop).
    pub fn is_closed(&self) -> bool {
        matches!(self.arrivals, Arrivals::Closed(_))
    }

    /// The generator for a run: [`WorkloadSpec::build`]'s, drawn ahead on a second thread
    /// ([`Ahead`]) when it is open loop and a thread is worth it. The arrivals are the same.
    pub fn build_for_run(&self, horizon: SimTime, streams: &RngStreams) -> Box<dyn Workload> {
        let w = self.build(horizon, streams);
        if !self.is_closed() && crate::engine::spare_core() {
            Box::new(Ahead::new(w))
        } else {
            w
        }
    }

    /// The generator, with streams from `streams`, stopping at `horizon`.
    pub fn build(&self, horizon: SimTime, streams: &RngStreams) -> Box<dyn Workload> {
        let demand = Demand::new(&self.demand);
        match &self.arrivals {
            Arrivals::Poisson(s) => Box::new(OpenLoop::new(
                Poisson::new(s.rate_rps),
                horizon,
                demand,
                streams,
            )),
            Arrivals::Closed(s) => Box::new(Closed::new(
                s.users,
                s.think_time_s,
                horizon,
                demand,
                streams,
            )),
            Arrivals::Bursty(s) => {
                Box::new(OpenLoop::new(Bursty::new(*s), horizon, demand, streams))
            }
            Arrivals::Periodic(s) => Box::new(OpenLoop::new(
                Periodic::new(s.clone()),
                horizon,
                demand,
                streams,
            )),
            Arrivals::Trace(s) => Box::new(TraceReplay::new(s, horizon, demand, streams)),
        }
    }
}
