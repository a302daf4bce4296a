//! Sliding-window rate limiting (the paper's).

use std::collections::VecDeque;

use super::{Admission, RateLimiter};
use crate::time::{SimDuration, SimTime};

/// `kind = "sliding_window"`: the keys it shares with the other window limiter.
pub use super::window::{File, Spec};

/// Whether `sum`, just increased by `amount`, is exact given that it was before: `amount` a
/// whole number ≥ 0 and the sum below 2^53 (the exact sum of whole numbers is whole, and
/// rounding is monotone: a rounded sum below 2^53 is the exact one).
#[inline(always)]
fn still_exact(amount: f64, sum: f64) -> bool {
    // `as i64` truncates (SSE2's conversion; `trunc` would be a call without SSE4.1).
    amount >= 0.0 && (amount as i64) as f64 == amount && sum < 9_007_199_254_740_992.0
}

/// The limiter for `keys` scope keys.
pub(super) fn build(spec: &Spec, keys: usize) -> SlidingWindow {
    SlidingWindow::new(spec.window, spec.limit, keys)
}

/// Admits while the amount admitted in the last `window` (the half-open interval
/// `(now - window, now]`) plus the new amount stays within `limit`. Exact: it keeps a log of
/// admissions inside the window, so memory is bounded by what one window admits.
///
/// All keys share one window length, so admissions leave their windows in the order they were
/// made: one log for every key, in time order, expires them in O(1) each, and a key's state is
/// its running sum (contiguous across keys, however many devices there are: 8 bytes a key,
/// so that at 10,000 devices the 80 KB stay in the L2 cache between reads, docs/performance.md).
///
/// A key's sum is set back to exactly 0 when its last admission leaves, so that repeated
/// subtraction leaves no residue. While every amount is a whole number ≥ 0 and every sum below
/// 2^53 (requests and tokens always are), the float sums are exact and reach 0 by
/// themselves; a count of admissions per key is kept only from the first amount that is not
/// (built then from the log).
#[derive(Clone, Debug)]
pub struct SlidingWindow {
    window: SimDuration,
    limit: f64,
    /// Every admission still in its window: (time, key, amount), oldest first.
    log: VecDeque<(SimTime, u32, f64)>,
    /// Per key: amount admitted in the window.
    sums: Vec<f64>,
    /// Per key: admissions in the window; `None` while the sums are exact (see above).
    counts: Option<Vec<u32>>,
    /// Time up to which the log has been expired.
    now: SimTime,
    /// Keys whose usage fell since the last `advance`, kept once `advance` is used.
    fell: Option<Vec<usize>>,
}

impl SlidingWindow {
    /// A window of `window` admitting at most `limit` per window, for `keys` scope keys.
    pub fn new(window: SimDuration, limit: f64, keys: usize) -> SlidingWindow {
        SlidingWindow {
            window,
            limit,
            log: VecDeque::new(),
            sums: vec![0.0; keys],
            counts: None,
            now: SimTime::ZERO,
            fell: None,
        }
    }

    /// Expires the admissions that left their window by `now`, noting their keys. Called by
    /// every operation, mostly at a time already expired to: that test is inlined.
    #[inline(always)]
    fn expire(&mut self, now: SimTime) {
        if now > self.now {
            self.expire_to(now);
        }
    }

    /// From now on, counts admissions per key (a sum may be inexact); the log holds them all.
    #[cold]
    fn count_from_log(&mut self) {
        let mut counts = vec![0u32; self.sums.len()];
        for &(_, key, _) in &self.log {
            counts[key as usize] += 1;
        }
        self.counts = Some(counts);
    }

    /// [`SlidingWindow::expire`]'s work, `now` being later than the last time.
    fn expire_to(&mut self, now: SimTime) {
        self.now = now;
        while let Some(&(t, key, a)) = self.log.front() {
            if now.since(t) < self.window {
                break;
            }
            self.log.pop_front();
            let sum = &mut self.sums[key as usize];
            *sum -= a;
            if let Some(counts) = &mut self.counts {
                let count = &mut counts[key as usize];
                *count -= 1;
                if *count == 0 {
                    *sum = 0.0; // no drift from repeated float subtraction
                }
            }
            if let Some(fell) = &mut self.fell {
                fell.push(key as usize);
            }
        }
    }
}

impl RateLimiter for SlidingWindow {
    fn check(&mut self, now: SimTime, key: usize, amount: f64) -> Admission {
        self.expire(now);
        if self.sums[key] + amount <= self.limit {
            Admission::Admit
        } else {
            Admission::Throttle
        }
    }
    fn record(&mut self, now: SimTime, key: usize, amount: f64) {
        self.expire(now);
        self.log.push_back((now, key as u32, amount));
        let sum = &mut self.sums[key];
        *sum += amount;
        match &mut self.counts {
            Some(counts) => counts[key] += 1,
            None if !still_exact(amount, *sum) => self.count_from_log(),
            None => {}
        }
    }
    fn usage(&mut self, now: SimTime, key: usize) -> f64 {
        self.expire(now);
        self.sums[key] / self.limit
    }
    fn advance(&mut self, now: SimTime, changed: &mut Vec<usize>) {
        self.expire(now);
        changed.append(self.fell.get_or_insert_with(Vec::new));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: u64) -> SimTime {
        SimTime(x * 1_000_000)
    }

    #[test]
    fn admits_at_most_limit_per_window() {
        let mut w = SlidingWindow::new(SimDuration(10_000_000), 2.0, 2);
        let mut admit = |t, key| {
            let ok = w.check(t, key, 1.0) == Admission::Admit;
            if ok {
                w.record(t, key, 1.0);
            }
            ok
        };
        assert!(admit(s(0), 0));
        assert!(admit(s(3), 0));
        assert!(!admit(s(9), 0), "third in (−1, 9] is over the limit");
        assert!(admit(s(9), 1), "keys are independent");
        assert!(admit(s(10), 0), "the admission at 0 left the window at 10");
        assert!(!admit(s(12), 0));
        assert!(admit(s(13), 0));
    }

    /// The sums against the plain algorithm (a sum and a count per key, the sum set to 0 when
    /// the count is): bit for bit, with whole amounts only, and when a fractional or huge
    /// amount comes part-way through a run (from then on the limiter counts).
    #[test]
    fn sums_match_counting_bit_for_bit() {
        use rand::{RngExt, SeedableRng};
        // (seed, the step of the first amount that is not exact, fractions after it)
        for (seed, odd_from, fractions) in [
            (1u64, usize::MAX, false),
            (2, 0, true),
            (3, 700, true),
            (4, 1500, true),
            (5, 700, false),
        ] {
            let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
            let keys = 5;
            let window = SimDuration(10_000_000);
            let mut w = SlidingWindow::new(window, 1.0, keys);
            let mut log: VecDeque<(SimTime, usize, f64)> = VecDeque::new();
            let mut plain = vec![(0.0f64, 0u32); keys];
            let mut t = 0u64;
            for step in 0..3000 {
                t += r.random_range(0..800_000u64);
                let now = SimTime(t);
                while let Some(&(at, k, a)) = log.front() {
                    if now.since(at) < window {
                        break;
                    }
                    log.pop_front();
                    plain[k].0 -= a;
                    plain[k].1 -= 1;
                    if plain[k].1 == 0 {
                        plain[k].0 = 0.0;
                    }
                }
                let key = r.random_range(0..keys);
                let amount = match step {
                    s if s == odd_from => 1e17, // whole, but sums past 2^53 are not exact
                    s if s > odd_from && fractions && r.random_bool(0.3) => r.random::<f64>() * 7.0,
                    _ => f64::from(r.random_range(0..2000u32)),
                };
                w.record(now, key, amount);
                log.push_back((now, key, amount));
                plain[key].0 += amount;
                plain[key].1 += 1;
                for (k, &(sum, _)) in plain.iter().enumerate() {
                    assert_eq!(
                        w.usage(now, k).to_bits(),
                        sum.to_bits(),
                        "seed {seed}, step {step}, key {k}"
                    );
                }
            }
            assert_eq!(w.counts.is_some(), odd_from < 3000, "seed {seed}");
        }
    }

    #[test]
    fn check_does_not_consume() {
        let mut w = SlidingWindow::new(SimDuration(1_000_000), 1.0, 1);
        for _ in 0..5 {
            assert_eq!(w.check(s(0), 0, 1.0), Admission::Admit);
        }
        assert_eq!(
            w.check(s(0), 0, 2.0),
            Admission::Throttle,
            "a single amount over the limit"
        );
    }
}
