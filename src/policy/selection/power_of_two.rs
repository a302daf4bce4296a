//! Power-of-two-choices selection.

use rand::RngExt;

use super::{Fleet, Needs, SelectionPolicy};
use crate::device::DeviceId;
use crate::rng::SimRng;

/// Samples two distinct untried devices uniformly and picks the less loaded (the first drawn on
/// a tie). Nearly as good as least-loaded with large clusters, while probing only two devices.
#[derive(Clone, Copy, Debug, Default)]
pub struct PowerOfTwo;

impl SelectionPolicy for PowerOfTwo {
    fn needs(&self) -> Needs {
        Needs {
            loads: true,
            ..Needs::default()
        }
    }
    fn select(&mut self, fleet: &mut dyn Fleet, rng: &mut SimRng) -> Option<DeviceId> {
        let left = fleet.untried() as usize;
        match left {
            0 => None,
            1 => fleet.nth_untried(0),
            _ => {
                let a = rng.random_range(0..left);
                let mut b = rng.random_range(0..left - 1);
                if b >= a {
                    b += 1;
                }
                let (a, b) = (fleet.nth_untried(a as u32)?, fleet.nth_untried(b as u32)?);
                Some(if fleet.load(b) < fleet.load(a) { b } else { a })
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
        let mut f = VecFleet::new(vec![(0.0, 1.0), (8.0, 1.0), (1.0, 1.0)]);
        let c = histogram(&mut PowerOfTwo, &mut f, 30_000);
        assert_eq!(c[1], 0, "{c:?}");
        // Device 0 wins every pair it is in (2 of 3 pairs): about 2/3.
        let share = c[0] as f64 / 30_000.0;
        assert!((share - 2.0 / 3.0).abs() < 0.015, "{c:?}");
        let mut r = rng();
        f.tried = vec![true, false, true];
        assert_eq!(PowerOfTwo.select(&mut f, &mut r), Some(DeviceId(1)));
    }
}
