//! Least-loaded selection (the paper's "Load-Aware").

use rand::RngExt;

use super::SelectionPolicy;
use crate::device::DeviceView;
use crate::rng::SimRng;

/// Picks the untried device with the lowest load, (in service + queued) / slots, at the moment
/// of the decision; ties are broken uniformly at random so idle devices share work evenly.
/// Uses exact, current load (no reporting delay).
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadAware;

impl SelectionPolicy for LoadAware {
    fn name(&self) -> &'static str {
        "load_aware"
    }
    fn select(
        &mut self,
        devices: &[DeviceView],
        tried: &[bool],
        rng: &mut SimRng,
    ) -> Option<usize> {
        let mut best: Option<(f64, usize)> = None;
        let mut ties = 0u32;
        for (i, (d, t)) in devices.iter().zip(tried).enumerate() {
            if *t {
                continue;
            }
            let load = d.load();
            match best {
                Some((b, _)) if load > b => {}
                Some((b, _)) if load == b => {
                    // Reservoir sampling: the k-th tie replaces the choice with probability 1/k.
                    ties += 1;
                    if rng.random_range(0..ties) == 0 {
                        best = Some((load, i));
                    }
                }
                _ => {
                    best = Some((load, i));
                    ties = 1;
                }
            }
        }
        best.map(|(_, i)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn picks_least_loaded_relative_to_slots() {
        // loads: 2/1 = 2, 3/4 = 0.75, 1/1 = 1
        let views = vec![view(1, 1, 1, 1.0), view(3, 0, 4, 1.0), view(1, 0, 1, 1.0)];
        let mut r = rng();
        assert_eq!(LoadAware.select(&views, &[false; 3], &mut r), Some(1));
        assert_eq!(
            LoadAware.select(&views, &[false, true, false], &mut r),
            Some(2)
        );
    }

    #[test]
    fn ties_are_shared_evenly() {
        let views = vec![view(0, 0, 1, 1.0), view(1, 0, 1, 1.0), view(0, 0, 1, 1.0)];
        let c = histogram(&mut LoadAware, &views, 20_000);
        assert_eq!(c[1], 0);
        assert!((9_500..10_500).contains(&c[0]), "{c:?}");
    }
}
