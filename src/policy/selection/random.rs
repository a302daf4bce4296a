//! Uniformly random selection (the paper's "Random").

use super::{SelectionPolicy, random_untried};
use crate::device::DeviceView;
use crate::rng::SimRng;

/// Picks an untried device uniformly at random. Ignores load and capability, so under bursts
/// it sends work to busy devices while others idle.
#[derive(Clone, Copy, Debug, Default)]
pub struct Random;

impl SelectionPolicy for Random {
    fn name(&self) -> &'static str {
        "random"
    }
    fn reads_load(&self) -> bool {
        false
    }
    fn select(&mut self, _: &[DeviceView], tried: &[bool], rng: &mut SimRng) -> Option<usize> {
        random_untried(tried, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn uniform_and_skips_tried() {
        let views = vec![view(0, 0, 1, 1.0), view(5, 0, 1, 1.0), view(0, 0, 1, 9.0)];
        let c = histogram(&mut Random, &views, 30_000);
        assert!(c.iter().all(|n| (9_500..10_500).contains(n)), "{c:?}");
        let mut r = rng();
        assert_eq!(Random.select(&views, &[true, false, true], &mut r), Some(1));
        assert_eq!(Random.select(&views, &[true, true, true], &mut r), None);
    }
}
