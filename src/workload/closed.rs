//! Closed-loop users: each user sends a request, waits for it to end, thinks, sends the next.

use rand_distr::{Distribution, Exp};

use super::{Arrival, Demand, Workload};
use crate::rng::{RngStreams, SimRng};
use crate::time::{SimDuration, SimTime};

/// `users` closed-loop users with exponential think time.
///
/// Each user has its own random stream (`user` family, index = user), so the k-th request of a
/// user has the same class, tokens and think time whatever the policy does.
pub struct Closed {
    think: Exp<f64>,
    horizon: SimTime,
    demand: Demand,
    users: Vec<SimRng>,
}

impl Closed {
    /// `users` users with mean think time `think_time_s` (> 0).
    pub fn new(
        users: u32,
        think_time_s: f64,
        horizon: SimTime,
        demand: Demand,
        streams: &RngStreams,
    ) -> Closed {
        Closed {
            #[allow(clippy::expect_used)]
            think: Exp::new(1.0 / think_time_s).expect("think time validated > 0"),
            horizon,
            demand,
            users: (0..users)
                .map(|u| streams.indexed("user", u64::from(u)))
                .collect(),
        }
    }

    fn next_for(&mut self, user: u32, after: SimTime) -> Option<Arrival> {
        let rng = &mut self.users[user as usize];
        let at = after + SimDuration::from_secs_f64(self.think.sample(rng));
        if at > self.horizon {
            return None;
        }
        let class = self.demand.class(rng);
        let spec = &self.demand.classes()[class as usize];
        let prompt_tokens = spec.prompt_tokens.sample(rng);
        let output_tokens = spec.output_tokens.sample(rng);
        Some(Arrival {
            at,
            user,
            class,
            prompt_tokens,
            output_tokens,
        })
    }
}

impl Workload for Closed {
    fn start(&mut self) -> Vec<Arrival> {
        (0..self.users.len() as u32)
            .filter_map(|u| self.next_for(u, SimTime::ZERO))
            .collect()
    }
    fn after_arrival(&mut self, _: &Arrival) -> Option<Arrival> {
        None
    }
    fn after_done(&mut self, now: SimTime, user: u32) -> Option<Arrival> {
        if (user as usize) < self.users.len() {
            self.next_for(user, now)
        } else {
            None
        }
    }
}
