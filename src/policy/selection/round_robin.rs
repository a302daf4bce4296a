//! Round-robin selection.

use super::SelectionPolicy;
use crate::device::DeviceView;
use crate::rng::SimRng;

/// Cycles through the devices in order, skipping tried ones. Even request counts, blind to
/// capability and load.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundRobin {
    next: usize,
}

impl SelectionPolicy for RoundRobin {
    fn name(&self) -> &'static str {
        "round_robin"
    }
    fn reads_load(&self) -> bool {
        false
    }
    fn select(&mut self, devices: &[DeviceView], tried: &[bool], _: &mut SimRng) -> Option<usize> {
        let n = devices.len();
        let pick = (0..n).map(|k| (self.next + k) % n).find(|i| !tried[*i])?;
        self.next = (pick + 1) % n;
        Some(pick)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn cycles_and_skips_tried() {
        let views = vec![view(0, 0, 1, 1.0); 3];
        let mut p = RoundRobin::default();
        let mut r = rng();
        let picks: Vec<_> = (0..4)
            .map(|_| p.select(&views, &[false; 3], &mut r).unwrap())
            .collect();
        assert_eq!(picks, vec![0, 1, 2, 0]);
        assert_eq!(p.select(&views, &[false, true, false], &mut r), Some(2));
        assert_eq!(p.select(&views, &[false; 3], &mut r), Some(0));
        assert_eq!(p.select(&views, &[true; 3], &mut r), None);
    }
}
