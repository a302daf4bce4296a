//! Token-count distributions for prompts and outputs.

use std::sync::Arc;

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp, LogNormal};

/// A validated token-count distribution. Every draw is at least 1 token.
#[derive(Clone, Debug)]
pub enum TokenDist {
    /// Always the same count.
    Fixed(u32),
    /// Uniform integers in `\[min, max\]`.
    Uniform {
        /// Lower bound.
        min: u32,
        /// Upper bound.
        max: u32,
    },
    /// Lognormal, rounded to the nearest integer and clamped to `\[min, max\]`.
    LogNormal {
        /// The distribution of the real value.
        dist: LogNormal<f64>,
        /// Mean of ln(tokens).
        mu: f64,
        /// Standard deviation of ln(tokens).
        sigma: f64,
        /// Clamp below.
        min: u32,
        /// Clamp above.
        max: u32,
    },
    /// Exponential, rounded up to the next integer and clamped to `\[min, max\]`.
    Exponential {
        /// The distribution of the real value.
        dist: Exp<f64>,
        /// Mean of the real value.
        mean: f64,
        /// Clamp below.
        min: u32,
        /// Clamp above.
        max: u32,
    },
    /// Values with cumulative weights (last = total).
    Empirical {
        /// The values.
        values: Arc<Vec<u32>>,
        /// Cumulative weights, same length as `values`; empty means equal weights.
        cumulative: Arc<Vec<f64>>,
    },
}

impl TokenDist {
    /// Draws one count.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        let v = match self {
            TokenDist::Fixed(v) => *v,
            TokenDist::Uniform { min, max } => rng.random_range(*min..=*max),
            TokenDist::LogNormal { dist, min, max, .. } => {
                clamp_f64(dist.sample(rng).round(), *min, *max)
            }
            TokenDist::Exponential { dist, min, max, .. } => {
                clamp_f64(dist.sample(rng).ceil(), *min, *max)
            }
            TokenDist::Empirical { values, cumulative } => {
                if cumulative.is_empty() {
                    values[rng.random_range(0..values.len())]
                } else {
                    let total = cumulative[cumulative.len() - 1];
                    let x = rng.random::<f64>() * total;
                    let i = cumulative.partition_point(|c| *c <= x);
                    values[i.min(values.len() - 1)]
                }
            }
        };
        v.max(1)
    }

    /// The mean of the underlying distribution (for lognormal and exponential: before rounding
    /// and clamping, so exact only when the clamps are far from the mass).
    pub fn mean(&self) -> f64 {
        match self {
            TokenDist::Fixed(v) => f64::from(*v),
            TokenDist::Uniform { min, max } => (f64::from(*min) + f64::from(*max)) / 2.0,
            TokenDist::LogNormal { mu, sigma, .. } => (mu + sigma * sigma / 2.0).exp(),
            TokenDist::Exponential { mean, .. } => *mean,
            TokenDist::Empirical { values, cumulative } => {
                if cumulative.is_empty() {
                    values.iter().map(|v| f64::from(*v)).sum::<f64>() / values.len() as f64
                } else {
                    let mut prev = 0.0;
                    let mut acc = 0.0;
                    for (v, c) in values.iter().zip(cumulative.iter()) {
                        acc += f64::from(*v) * (c - prev);
                        prev = *c;
                    }
                    acc / prev
                }
            }
        }
    }
}

fn clamp_f64(x: f64, min: u32, max: u32) -> u32 {
    if x.is_nan() || x < f64::from(min) {
        min
    } else if x > f64::from(max) {
        max
    } else {
        x as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand_pcg::Pcg64Mcg {
        rand_pcg::Pcg64Mcg::seed_from_u64(7)
    }

    #[test]
    fn fixed_uniform_and_clamps() {
        let mut r = rng();
        assert_eq!(TokenDist::Fixed(12).sample(&mut r), 12);
        assert_eq!(TokenDist::Fixed(0).sample(&mut r), 1, "at least one token");
        let u = TokenDist::Uniform { min: 3, max: 5 };
        let mut seen = [0u32; 6];
        for _ in 0..3000 {
            seen[u.sample(&mut r) as usize] += 1;
        }
        assert_eq!(seen[..3], [0, 0, 0]);
        assert!(seen[3..].iter().all(|c| *c > 900), "{seen:?}");
        let ln = TokenDist::LogNormal {
            dist: LogNormal::new(5.0, 3.0).unwrap(),
            mu: 5.0,
            sigma: 3.0,
            min: 10,
            max: 20,
        };
        for _ in 0..1000 {
            let v = ln.sample(&mut r);
            assert!((10..=20).contains(&v));
        }
    }

    #[test]
    fn empirical_respects_weights() {
        let d = TokenDist::Empirical {
            values: Arc::new(vec![10, 20]),
            cumulative: Arc::new(vec![1.0, 4.0]),
        };
        let mut r = rng();
        let n = 40_000;
        let twenties = (0..n).filter(|_| d.sample(&mut r) == 20).count();
        let frac = twenties as f64 / f64::from(n);
        assert!((frac - 0.75).abs() < 0.01, "{frac}");
        assert!((d.mean() - 17.5).abs() < 1e-12);
    }

    #[test]
    fn exponential_mean_is_close_to_parameter_plus_half() {
        // ceil() of an exponential with mean m has mean 1/(1-exp(-1/m)) ~ m + 1/2.
        let d = TokenDist::Exponential {
            dist: Exp::new(1.0 / 200.0).unwrap(),
            mean: 200.0,
            min: 1,
            max: u32::MAX,
        };
        let mut r = rng();
        let n = 200_000;
        let mean = (0..n).map(|_| f64::from(d.sample(&mut r))).sum::<f64>() / f64::from(n);
        let expected = 1.0 / (1.0 - (-1.0f64 / 200.0).exp());
        assert!(
            (mean - expected).abs() / expected < 0.01,
            "{mean} vs {expected}"
        );
    }
}
