//! Capability-weighted random selection (the paper's "Weighted").

use rand::RngExt;

use super::SelectionPolicy;
use crate::device::DeviceView;
use crate::rng::SimRng;

/// Picks an untried device with probability proportional to its weight (by default its
/// single-stream decode speed). Matches long-run shares to capability, but is blind to the
/// momentary load, so bursts still pile up on unlucky devices.
#[derive(Clone, Copy, Debug, Default)]
pub struct Weighted;

impl SelectionPolicy for Weighted {
    fn name(&self) -> &'static str {
        "weighted"
    }
    fn reads_load(&self) -> bool {
        false
    }
    fn select(
        &mut self,
        devices: &[DeviceView],
        tried: &[bool],
        rng: &mut SimRng,
    ) -> Option<usize> {
        let total: f64 = devices
            .iter()
            .zip(tried)
            .filter(|(_, t)| !**t)
            .map(|(d, _)| d.weight)
            .sum();
        if total <= 0.0 {
            return super::random_untried(tried, rng);
        }
        let mut x = rng.random::<f64>() * total;
        let mut last = None;
        for (i, (d, t)) in devices.iter().zip(tried).enumerate() {
            if *t {
                continue;
            }
            last = Some(i);
            if x < d.weight {
                return Some(i);
            }
            x -= d.weight;
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn proportional_to_weight() {
        let views = vec![view(0, 0, 1, 1.0), view(0, 0, 1, 3.0)];
        let c = histogram(&mut Weighted, &views, 40_000);
        let share = c[1] as f64 / 40_000.0;
        assert!((share - 0.75).abs() < 0.01, "{c:?}");
        let mut r = rng();
        assert_eq!(Weighted.select(&views, &[false, true], &mut r), Some(0));
    }
}
