//! Uniformly random selection (the paper's "Random").

use super::{Fleet, SelectionPolicy, random_untried};
use crate::device::DeviceId;
use crate::rng::SimRng;

/// Picks an untried device uniformly at random. Ignores load and capability, so under bursts
/// it sends work to busy devices while others idle.
#[derive(Clone, Copy, Debug, Default)]
pub struct Random;

impl SelectionPolicy for Random {
    fn select(&mut self, fleet: &mut dyn Fleet, rng: &mut SimRng) -> Option<DeviceId> {
        random_untried(fleet, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn uniform_and_skips_tried() {
        let mut f = VecFleet::new(vec![(0.0, 1.0), (5.0, 1.0), (0.0, 9.0)]);
        let c = histogram(&mut Random, &mut f, 30_000);
        assert!(c.iter().all(|n| (9_500..10_500).contains(n)), "{c:?}");
        let mut r = rng();
        f.tried = vec![true, false, true];
        assert_eq!(Random.select(&mut f, &mut r), Some(DeviceId(1)));
        f.tried = vec![true; 3];
        assert_eq!(Random.select(&mut f, &mut r), None);
    }
}
