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

use crate::check::Checker;
use crate::device::DeviceId;
use crate::error::Result;
use crate::rng::SimRng;

/// Selection policies: the `kind` of `[selection]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
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
    fn from_str(s: &str) -> std::result::Result<Self, String> {
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
    /// Devices report their occupancy to the gateway every this many milliseconds; load-aware
    /// and power-of-two decide on the last report (0: the gateway sees exact, current load).
    #[serde(default, skip_serializing_if = "crate::check::is_default")]
    pub load_report_interval_ms: f64,
}

/// The validated selection settings.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct SelectionSpec {
    /// The policy.
    pub kind: SelectionKind,
    /// Occupancy report interval \[ms\] (0: exact load).
    pub load_report_interval_ms: f64,
}

impl SelectionSpec {
    /// Validates `[selection]`.
    pub fn from_file(cx: &Checker, f: &SelectionFile) -> Result<SelectionSpec> {
        let ms = cx.interval_ms(
            "selection.load_report_interval_ms",
            f.load_report_interval_ms,
            "exact load",
        )?;
        Ok(SelectionSpec {
            kind: f.kind,
            load_report_interval_ms: ms,
        })
    }

    /// The section as written in a resolved scenario.
    pub fn to_file(&self) -> SelectionFile {
        SelectionFile {
            kind: self.kind,
            load_report_interval_ms: self.load_report_interval_ms,
        }
    }

    /// The report interval on the clock (zero: exact load).
    pub fn load_report_interval(&self) -> crate::time::SimDuration {
        crate::time::SimDuration::from_millis_f64(self.load_report_interval_ms)
    }
}

/// What a policy needs the gateway to maintain. The gateway keeps only what is asked: at fleet
/// scale each device's occupancy, written at every event of the device, costs a cache miss
/// per write (docs/performance.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Each device's load: its occupancy, and its limit usage ([`Fleet::load`]).
    pub loads: bool,
    /// Devices ordered by load ([`Fleet::least_loaded`]; implies `loads`).
    pub least_loaded: bool,
    /// The weights' alias table and prefix sums ([`Fleet::weighted`]).
    pub weights: bool,
}

/// What a selection policy sees of the fleet for one decision: the devices not yet tried for
/// the current request and their loads. Every query costs O(1), except `nth_untried` (O(number
/// tried)), `least_loaded` (O(log n)) and `weighted` once devices are excluded (O(log n)), so
/// a decision costs the same with ten devices or ten thousand.
pub trait Fleet {
    /// Devices in the fleet.
    fn len(&self) -> u32;
    /// Whether the fleet is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Devices not yet tried for this request.
    fn untried(&self) -> u32;
    /// Whether `d` was tried for this request.
    fn is_tried(&self, d: DeviceId) -> bool;
    /// The `k`-th untried device in fleet order (0-based); `None` if `k >= untried()`.
    fn nth_untried(&self, k: u32) -> Option<DeviceId>;
    /// The first untried device at index `from` or after, else the first untried one (fleet
    /// order, from `from` round to the start); `None` if none is untried. The default scans;
    /// the simulator's view answers in O(tried · log n) however many devices are down.
    fn next_untried(&self, from: u32) -> Option<DeviceId> {
        let n = self.len();
        (0..n)
            .map(|k| ((u64::from(from) + u64::from(k)) % u64::from(n)) as u32)
            .find(|&i| !self.is_tried(DeviceId(i)))
            .map(DeviceId)
    }
    /// The load of `d` as the gateway sees it: max(occupancy, limit usage) (docs/model.md;
    /// needs [`Needs::loads`]).
    fn load(&mut self, d: DeviceId) -> f64;
    /// An untried device of least load, uniformly at random among ties (needs
    /// [`Needs::least_loaded`]).
    fn least_loaded(&mut self, rng: &mut SimRng) -> Option<DeviceId>;
    /// An untried device drawn with probability proportional to its weight (needs
    /// [`Needs::weights`]).
    fn weighted(&mut self, rng: &mut SimRng) -> Option<DeviceId>;
}

/// Chooses a device for a request.
pub trait SelectionPolicy: Send {
    /// What the policy reads; the gateway maintains only that.
    fn needs(&self) -> Needs {
        Needs::default()
    }
    /// Picks an untried device; `None` when none is left.
    fn select(&mut self, fleet: &mut dyn Fleet, rng: &mut SimRng) -> Option<DeviceId>;
}

/// A uniformly random untried device.
fn random_untried(fleet: &dyn Fleet, rng: &mut SimRng) -> Option<DeviceId> {
    let left = fleet.untried();
    if left == 0 {
        return None;
    }
    fleet.nth_untried(rng.random_range(0..left as usize) as u32)
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use rand::SeedableRng;

    /// A fleet answered by brute force over plain data: the reference the simulator's
    /// O(log n) view is checked against.
    pub(crate) struct VecFleet {
        /// (load, weight) per device.
        pub devices: Vec<(f64, f64)>,
        pub tried: Vec<bool>,
    }

    impl VecFleet {
        pub(crate) fn new(devices: Vec<(f64, f64)>) -> VecFleet {
            let n = devices.len();
            VecFleet {
                devices,
                tried: vec![false; n],
            }
        }
    }

    impl Fleet for VecFleet {
        fn len(&self) -> u32 {
            self.devices.len() as u32
        }
        fn untried(&self) -> u32 {
            self.tried.iter().filter(|t| !**t).count() as u32
        }
        fn is_tried(&self, d: DeviceId) -> bool {
            self.tried[d.index()]
        }
        fn nth_untried(&self, k: u32) -> Option<DeviceId> {
            (0..self.len())
                .filter(|&i| !self.tried[i as usize])
                .nth(k as usize)
                .map(DeviceId)
        }
        fn load(&mut self, d: DeviceId) -> f64 {
            self.devices[d.index()].0
        }
        fn least_loaded(&mut self, rng: &mut SimRng) -> Option<DeviceId> {
            let untried = (0..self.len()).filter(|&i| !self.tried[i as usize]);
            let min = untried
                .clone()
                .map(|i| self.devices[i as usize].0)
                .fold(f64::INFINITY, f64::min);
            let ties: Vec<u32> = untried
                .filter(|&i| self.devices[i as usize].0 == min)
                .collect();
            match ties.len() {
                0 => None,
                1 => Some(DeviceId(ties[0])),
                m => Some(DeviceId(ties[rng.random_range(0..m)])),
            }
        }
        fn weighted(&mut self, rng: &mut SimRng) -> Option<DeviceId> {
            let total: f64 = (0..self.devices.len())
                .filter(|&i| !self.tried[i])
                .map(|i| self.devices[i].1)
                .sum();
            let mut x = rng.random::<f64>() * total;
            let mut last = None;
            for (i, (_, w)) in self.devices.iter().enumerate() {
                if self.tried[i] {
                    continue;
                }
                last = Some(DeviceId(i as u32));
                if x < *w {
                    return last;
                }
                x -= w;
            }
            last
        }
    }

    pub(crate) fn rng() -> SimRng {
        SimRng::seed_from_u64(99)
    }
    /// Counts picks over `n` calls with nothing tried.
    pub(crate) fn histogram(
        p: &mut dyn SelectionPolicy,
        fleet: &mut VecFleet,
        n: usize,
    ) -> Vec<usize> {
        let mut r = rng();
        let mut counts = vec![0; fleet.devices.len()];
        for _ in 0..n {
            counts[p.select(fleet, &mut r).unwrap().index()] += 1;
        }
        counts
    }
}
