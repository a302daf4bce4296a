//! Capability-weighted random selection (the paper's "Weighted").

use super::{Fleet, Needs, SelectionPolicy};
use crate::device::DeviceId;
use crate::rng::SimRng;

/// Picks an untried device with probability proportional to its weight (by default its
/// single-stream decode speed). Matches long-run shares to capability, but is blind to the
/// momentary load, so bursts still pile up on unlucky devices.
#[derive(Clone, Copy, Debug, Default)]
pub struct Weighted;

impl SelectionPolicy for Weighted {
    fn needs(&self) -> Needs {
        Needs {
            weights: true,
            ..Needs::default()
        }
    }
    fn select(&mut self, fleet: &mut dyn Fleet, rng: &mut SimRng) -> Option<DeviceId> {
        fleet.weighted(rng)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn proportional_to_weight() {
        let mut f = VecFleet::new(vec![(0.0, 1.0), (0.0, 3.0)]);
        let c = histogram(&mut Weighted, &mut f, 40_000);
        let share = c[1] as f64 / 40_000.0;
        assert!((share - 0.75).abs() < 0.01, "{c:?}");
        let mut r = rng();
        f.tried = vec![false, true];
        assert_eq!(Weighted.select(&mut f, &mut r), Some(DeviceId(0)));
    }
}
