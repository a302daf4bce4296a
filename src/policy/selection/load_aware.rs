//! Least-loaded selection (the paper's "Load-Aware").

use super::{Fleet, Needs, SelectionPolicy};
use crate::device::DeviceId;
use crate::rng::SimRng;

/// Picks the untried device with the lowest load, max((in service + queued) / slots, limit
/// usage), at the moment of the decision (or as last reported, with
/// `selection.load_report_interval_ms`); ties are broken uniformly at random so idle devices
/// share work evenly. The gateway keeps the devices ordered by load, so a decision costs
/// O(log n).
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadAware;

impl SelectionPolicy for LoadAware {
    fn needs(&self) -> Needs {
        Needs {
            least_loaded: true,
            ..Needs::default()
        }
    }
    fn select(&mut self, fleet: &mut dyn Fleet, rng: &mut SimRng) -> Option<DeviceId> {
        fleet.least_loaded(rng)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn picks_least_loaded() {
        let mut f = VecFleet::new(vec![(2.0, 1.0), (0.75, 1.0), (1.0, 1.0)]);
        let mut r = rng();
        assert_eq!(LoadAware.select(&mut f, &mut r), Some(DeviceId(1)));
        f.tried = vec![false, true, false];
        assert_eq!(LoadAware.select(&mut f, &mut r), Some(DeviceId(2)));
    }

    #[test]
    fn ties_are_shared_evenly() {
        let mut f = VecFleet::new(vec![(0.0, 1.0), (1.0, 1.0), (0.0, 1.0)]);
        let c = histogram(&mut LoadAware, &mut f, 20_000);
        assert_eq!(c[1], 0);
        assert!((9_500..10_500).contains(&c[0]), "{c:?}");
    }
}
