//! Device selection policies.
//!
//! A policy picks one device among those not yet tried for the current request. The simulator
//! calls it again (with the refused device marked as tried) when the chosen device is over its
//! rate limit or full, up to `routing.max_attempts` times.

mod load_aware;
mod power_of_two;
mod random;
mod round_robin;
mod weighted;

pub use load_aware::LoadAware;
pub use power_of_two::PowerOfTwo;
pub use random::Random;
pub use round_robin::RoundRobin;
pub use weighted::Weighted;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::device::DeviceView;
use crate::rng::SimRng;

/// Selection policies: the `kind` of `[selection]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SelectionKind {
    /// Uniformly random device.
    Random,
    /// Random with probability proportional to capability.
    Weighted,
    /// Least loaded device.
    #[default]
    LoadAware,
    /// Devices in turn.
    RoundRobin,
    /// Less loaded of two random devices.
    PowerOfTwo,
}

impl SelectionKind {
    /// Every policy, in documentation order.
    pub const ALL: [SelectionKind; 5] = [
        SelectionKind::Random,
        SelectionKind::Weighted,
        SelectionKind::LoadAware,
        SelectionKind::RoundRobin,
        SelectionKind::PowerOfTwo,
    ];

    /// The name used in scenario files and outputs.
    pub fn name(self) -> &'static str {
        match self {
            SelectionKind::Random => "random",
            SelectionKind::Weighted => "weighted",
            SelectionKind::LoadAware => "load_aware",
            SelectionKind::RoundRobin => "round_robin",
            SelectionKind::PowerOfTwo => "power_of_two",
        }
    }

    /// Builds the policy.
    pub fn build(self) -> Box<dyn SelectionPolicy> {
        match self {
            SelectionKind::Random => Box::new(Random),
            SelectionKind::Weighted => Box::new(Weighted),
            SelectionKind::LoadAware => Box::new(LoadAware),
            SelectionKind::RoundRobin => Box::new(RoundRobin::default()),
            SelectionKind::PowerOfTwo => Box::new(PowerOfTwo),
        }
    }
}

impl std::str::FromStr for SelectionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SelectionKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = SelectionKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown selection policy \"{s}\"; known: {}",
                    names.join(", ")
                )
            })
    }
}

/// `[selection]` as written.
#[derive(Clone, Debug, Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SelectionFile {
    /// Policy.
    #[serde(default)]
    pub kind: SelectionKind,
}

/// The validated selection settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SelectionSpec {
    /// The policy.
    pub kind: SelectionKind,
}

impl SelectionSpec {
    /// Validates `[selection]`.
    pub fn from_file(f: &SelectionFile) -> SelectionSpec {
        SelectionSpec { kind: f.kind }
    }

    /// The section as written in a resolved scenario.
    pub fn to_file(&self) -> SelectionFile {
        SelectionFile { kind: self.kind }
    }
}

/// Chooses a device for a request.
pub trait SelectionPolicy: Send {
    /// The policy's name as used in scenarios and outputs (`load_aware`, ...).
    fn name(&self) -> &'static str;
    /// Whether the policy reads [`DeviceView::load`]; if not, the simulator skips refreshing
    /// rate-limit usage in the views before each decision.
    fn reads_load(&self) -> bool {
        true
    }
    /// Picks a device index among those with `tried\[i\] == false`; `None` when none is left.
    fn select(&mut self, devices: &[DeviceView], tried: &[bool], rng: &mut SimRng)
    -> Option<usize>;
}

/// The `k`-th (0-based) untried device.
fn nth_untried(tried: &[bool], k: usize) -> Option<usize> {
    tried
        .iter()
        .enumerate()
        .filter(|(_, t)| !**t)
        .nth(k)
        .map(|(i, _)| i)
}

/// A uniformly random untried device.
fn random_untried(tried: &[bool], rng: &mut SimRng) -> Option<usize> {
    let left = tried.iter().filter(|t| !**t).count();
    if left == 0 {
        return None;
    }
    nth_untried(tried, rng.random_range(0..left))
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use rand::SeedableRng;

    pub(crate) fn view(active: u32, queued: u32, slots: u32, weight: f64) -> DeviceView {
        DeviceView {
            slots,
            active,
            queued,
            queue_capacity: 4,
            weight,
            limit_usage: 0.0,
        }
    }
    pub(crate) fn rng() -> SimRng {
        SimRng::seed_from_u64(99)
    }
    /// Counts picks over `n` calls with nothing tried.
    pub(crate) fn histogram(
        p: &mut dyn SelectionPolicy,
        views: &[DeviceView],
        n: usize,
    ) -> Vec<usize> {
        let mut r = rng();
        let tried = vec![false; views.len()];
        let mut counts = vec![0; views.len()];
        for _ in 0..n {
            counts[p.select(views, &tried, &mut r).unwrap()] += 1;
        }
        counts
    }
}
