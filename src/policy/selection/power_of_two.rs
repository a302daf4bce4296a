//! Power-of-two-choices selection.

use super::{SelectionPolicy, nth_untried};
use crate::device::DeviceView;
use crate::rng::SimRng;
use rand::RngExt;

/// Samples two distinct untried devices uniformly and picks the less loaded (the first drawn on
/// a tie). Nearly as good as least-loaded with large clusters, while probing only two devices.
#[derive(Clone, Copy, Debug, Default)]
pub struct PowerOfTwo;

impl SelectionPolicy for PowerOfTwo {
    fn name(&self) -> &'static str {
        "power_of_two"
    }
    fn select(
        &mut self,
        devices: &[DeviceView],
        tried: &[bool],
        rng: &mut SimRng,
    ) -> Option<usize> {
        let left = tried.iter().filter(|t| !**t).count();
        match left {
            0 => None,
            1 => nth_untried(tried, 0),
            _ => {
                let a = rng.random_range(0..left);
                let mut b = rng.random_range(0..left - 1);
                if b >= a {
                    b += 1;
                }
                let (a, b) = (nth_untried(tried, a)?, nth_untried(tried, b)?);
                Some(if devices[b].load() < devices[a].load() {
                    b
                } else {
                    a
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn never_picks_the_most_loaded_of_three() {
        // With 3 devices, the busiest is only picked if both draws hit it, which cannot happen.
        let views = vec![view(0, 0, 1, 1.0), view(4, 4, 1, 1.0), view(1, 0, 1, 1.0)];
        let c = histogram(&mut PowerOfTwo, &views, 30_000);
        assert_eq!(c[1], 0, "{c:?}");
        // Device 0 wins every pair it is in (2 of 3 pairs): about 2/3.
        let share = c[0] as f64 / 30_000.0;
        assert!((share - 2.0 / 3.0).abs() < 0.015, "{c:?}");
        let mut r = rng();
        assert_eq!(
            PowerOfTwo.select(&views, &[true, false, true], &mut r),
            Some(1)
        );
    }
}
