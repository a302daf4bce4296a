//! Round-robin selection.

use super::{Fleet, SelectionPolicy};
use crate::device::DeviceId;
use crate::rng::SimRng;

/// Cycles through the devices in order, skipping tried ones. Even request counts, blind to
/// capability and load.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundRobin {
    next: u32,
}

impl SelectionPolicy for RoundRobin {
    fn select(&mut self, fleet: &mut dyn Fleet, _: &mut SimRng) -> Option<DeviceId> {
        let pick = fleet.next_untried(self.next)?;
        self.next = (pick.0 + 1) % fleet.len();
        Some(pick)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn cycles_and_skips_tried() {
        let mut f = VecFleet::new(vec![(0.0, 1.0); 3]);
        let mut p = RoundRobin::default();
        let mut r = rng();
        let picks: Vec<_> = (0..4)
            .map(|_| p.select(&mut f, &mut r).unwrap().0)
            .collect();
        assert_eq!(picks, vec![0, 1, 2, 0]);
        f.tried = vec![false, true, false];
        assert_eq!(p.select(&mut f, &mut r), Some(DeviceId(2)));
        f.tried = vec![false; 3];
        assert_eq!(p.select(&mut f, &mut r), Some(DeviceId(0)));
        f.tried = vec![true; 3];
        assert_eq!(p.select(&mut f, &mut r), None);
    }
}
