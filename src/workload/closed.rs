//! Closed-loop users: each user sends a request, waits for it to end, thinks, sends the next.

use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use super::demand::DemandFiles;
use super::{Arrival, ClassFile, Demand, TokenDistFile, Workload};
use crate::check::Checker;
use crate::error::Result;
use crate::rng::{RngStreams, SimRng};
use crate::time::{SimDuration, SimTime};

/// The largest closed-loop population: every user holds one request in flight.
pub const MAX_USERS: u32 = 10_000_000;

/// `kind = "closed"` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Number of users.
    pub users: u32,
    /// Mean think time between a response and the user's next request \[s\].
    pub think_time_s: f64,
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
    /// Users.
    pub users: u32,
    /// Mean think time \[s\].
    pub think_time_s: f64,
}

impl File {
    pub(super) fn validate(&self, cx: &Checker) -> Result<Spec> {
        if self.users == 0 || self.users > MAX_USERS {
            return Err(cx.bad(
                "workload.users",
                self.users,
                format!(
                    "must lie in [1, {MAX_USERS}] (each user is a request in flight; \
                     larger populations are better modelled as an open workload)"
                ),
            ));
        }
        Ok(Spec {
            users: self.users,
            think_time_s: cx.span_s("workload.think_time_s", self.think_time_s)?,
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
            users: self.users,
            think_time_s: self.think_time_s,
            prompt_tokens,
            output_tokens,
            classes,
        }
    }
}

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
        let (prompt_tokens, output_tokens) = self.demand.tokens(class, rng);
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
