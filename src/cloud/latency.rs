//! Cloud latency as a distribution: a constant, or a heavy tail fitted exactly to measured
//! quantiles (p50, p95, p99), as public API monitors report them (docs/model.md, "Cloud").
//!
//! The quantile form is a piecewise lognormal: `ln x = ln p50 + s(z) z` with `z` standard
//! normal, where the slope `s` is `(ln p95 − ln p50) / z95` for `z <= z95` (below the median
//! too) and `(ln p99 − ln p95) / (z99 − z95)` above `z95`, continued past p99. It passes through
//! the three quantiles exactly, and a p99 far above p95 (p99/p50 of 2.7x to 21x in the
//! measurements) gives the tail its weight.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::check::Checker;
use crate::error::Result;

/// z of the 95th percentile of the standard normal.
pub const Z95: f64 = 1.644_853_626_951_472_2;
/// z of the 99th percentile.
pub const Z99: f64 = 2.326_347_874_040_840_8;

/// A latency as written: milliseconds, or `{ p50 = .., p95 = .., p99 = .. }`. Read by hand
/// (not `untagged`): an unknown key in the table (`p999`) is refused, not dropped, and a
/// wrong type or a missing quantile says what is expected.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum LatencyFile {
    /// Always this many ms.
    Fixed(f64),
    /// Measured quantiles \[ms\].
    Quantiles {
        /// Median.
        p50: f64,
        /// 95th percentile.
        p95: f64,
        /// 99th percentile.
        p99: f64,
    },
}

impl<'de> Deserialize<'de> for LatencyFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Quantiles {
            p50: f64,
            p95: f64,
            p99: f64,
        }
        const EXPECTED: &str = "expected a latency in ms (a number) or measured quantiles in ms \
                                { p50 = .., p95 = .., p99 = .. }";
        match toml::Value::deserialize(d)? {
            toml::Value::Float(x) => Ok(LatencyFile::Fixed(x)),
            toml::Value::Integer(i) => Ok(LatencyFile::Fixed(i as f64)),
            toml::Value::Table(t) => crate::strict::from_value(toml::Value::Table(t))
                .map(|q: Quantiles| LatencyFile::Quantiles {
                    p50: q.p50,
                    p95: q.p95,
                    p99: q.p99,
                })
                .map_err(|e| {
                    // Led by the quantile's key (`p95`), which the scenario's reader joins to
                    // the path of the table.
                    let msg = crate::check::tagged::path_message(e);
                    D::Error::custom(format!(
                        "{msg} (latency quantiles in ms: {{ p50 = .., p95 = .., p99 = .. }})"
                    ))
                }),
            other => Err(D::Error::custom(format!(
                "invalid type: {} {other}, {EXPECTED}",
                other.type_str()
            ))),
        }
    }
}

/// A validated latency distribution \[ms\].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// A constant.
    Fixed(f64),
    /// The piecewise lognormal through p50, p95, p99.
    Quantiles {
        /// Median \[ms\].
        p50: f64,
        /// 95th percentile \[ms\].
        p95: f64,
        /// 99th percentile \[ms\].
        p99: f64,
    },
}

impl LatencyFile {
    /// Validates the latency at `key` (every value a time the clock holds; quantiles > 0 and
    /// in order).
    pub fn validate(&self, cx: &Checker, key: &str) -> Result<Latency> {
        match *self {
            LatencyFile::Fixed(ms) => Ok(Latency::Fixed(cx.time_ms(key, ms)?)),
            LatencyFile::Quantiles { p50, p95, p99 } => {
                for (q, v) in [("p50", p50), ("p95", p95), ("p99", p99)] {
                    cx.positive(&format!("{key}.{q}"), v)?;
                    cx.time_ms(&format!("{key}.{q}"), v)?;
                }
                if !(p50 <= p95 && p95 <= p99) {
                    return Err(cx.bad(
                        format!("{key}.p95"),
                        p95,
                        format!("quantiles must be in order: p50 ({p50}) <= p95 <= p99 ({p99})"),
                    ));
                }
                Ok(Latency::Quantiles { p50, p95, p99 })
            }
        }
    }
}

impl Latency {
    /// The form written in a resolved scenario.
    pub fn to_file(self) -> LatencyFile {
        match self {
            Latency::Fixed(ms) => LatencyFile::Fixed(ms),
            Latency::Quantiles { p50, p95, p99 } => LatencyFile::Quantiles { p50, p95, p99 },
        }
    }

    /// Whether a draw needs randomness.
    pub fn is_random(&self) -> bool {
        matches!(self, Latency::Quantiles { .. })
    }

    /// The value at standard-normal `z` \[ms\] (the quantile function in z).
    pub fn at_z(&self, z: f64) -> f64 {
        match *self {
            Latency::Fixed(ms) => ms,
            Latency::Quantiles { p50, p95, p99 } => {
                let (l50, l95, l99) = (p50.ln(), p95.ln(), p99.ln());
                let low = (l95 - l50) / Z95;
                let ln = if z <= Z95 {
                    l50 + low * z
                } else {
                    l95 + (l99 - l95) / (Z99 - Z95) * (z - Z95)
                };
                // Bounded so that a draw from the far tail stays a time the clock holds.
                ln.exp().min(crate::time::MAX_INPUT_S * 1000.0)
            }
        }
    }

    /// One draw \[ms\] (no randomness used for a constant).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Latency::Fixed(ms) => *ms,
            Latency::Quantiles { .. } => {
                let z: f64 = StandardNormal.sample(rng);
                self.at_z(z)
            }
        }
    }

    /// The median \[ms\] (the constant for a fixed latency): `p50` itself, which `at_z(0)`
    /// gives back only to within an ulp (through its logarithm).
    pub fn median_ms(&self) -> f64 {
        match *self {
            Latency::Fixed(ms) => ms,
            Latency::Quantiles { p50, .. } => p50,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn passes_through_the_quantiles() {
        let l = Latency::Quantiles {
            p50: 536.0,
            p95: 844.0,
            p99: 4461.0,
        };
        assert!((l.at_z(0.0) - 536.0).abs() < 1e-9);
        assert!((l.at_z(Z95) - 844.0).abs() < 1e-6);
        assert!((l.at_z(Z99) - 4461.0).abs() < 1e-6);
        // Sampled quantiles converge to the given ones.
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        let mut xs: Vec<f64> = (0..200_000).map(|_| l.sample(&mut rng)).collect();
        xs.sort_by(f64::total_cmp);
        let q = |p: f64| xs[(p * xs.len() as f64) as usize];
        for (p, want) in [(0.5, 536.0), (0.95, 844.0), (0.99, 4461.0)] {
            let got = q(p);
            assert!((got - want).abs() / want < 0.03, "p{p}: {got} vs {want}");
        }
    }
}
