//! Token-count distributions for prompts and outputs: `{ dist = "lognormal", median = 120,
//! sigma = 0.5 }` as written ([`TokenDistFile`]) and validated ([`TokenDist`]).

use std::path::PathBuf;
use std::sync::Arc;

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp, LogNormal};
use serde::{Deserialize, Serialize};

use crate::check::Checker;
use crate::error::Result;

/// Largest token count a distribution may produce, and a trace row may hold.
pub const MAX_TOKENS: u32 = 10_000_000;

/// A distribution as written; `dist` picks the family, whose keys follow.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "dist", rename_all = "snake_case")]
pub enum TokenDistFile {
    /// Always `value`.
    Fixed(FixedFile),
    /// Uniform integers in `[min, max]`.
    Uniform(UniformFile),
    /// Lognormal with `median` and `sigma` (of the log), rounded, clamped to `[min, max]`.
    Lognormal(LognormalFile),
    /// Exponential with `mean`, rounded up, clamped to `[min, max]`.
    Exponential(ExponentialFile),
    /// `values` with `weights`, or the values of a trace column.
    Empirical(EmpiricalFile),
}

impl<'de> Deserialize<'de> for TokenDistFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use crate::check::tagged::{split, variant};
        let known = ["fixed", "uniform", "lognormal", "exponential", "empirical"];
        let (dist, t) = split(d, "dist", &known, None)?;
        let v = dist.as_str();
        Ok(match v {
            "fixed" => TokenDistFile::Fixed(variant::<D, _>(t, "dist", v)?),
            "uniform" => TokenDistFile::Uniform(variant::<D, _>(t, "dist", v)?),
            "lognormal" => TokenDistFile::Lognormal(variant::<D, _>(t, "dist", v)?),
            "exponential" => TokenDistFile::Exponential(variant::<D, _>(t, "dist", v)?),
            _ => TokenDistFile::Empirical(variant::<D, _>(t, "dist", v)?),
        })
    }
}

/// `dist = "fixed"`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FixedFile {
    /// The count \[tokens\].
    pub value: u32,
}

/// `dist = "uniform"`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UniformFile {
    /// Lower bound \[tokens\].
    pub min: u32,
    /// Upper bound \[tokens\].
    pub max: u32,
}

/// `dist = "lognormal"`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LognormalFile {
    /// Clamp below (default 1) \[tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// Clamp above (default 10,000,000) \[tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// Median \[tokens\].
    pub median: f64,
    /// Standard deviation of ln(tokens).
    pub sigma: f64,
}

/// `dist = "exponential"`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExponentialFile {
    /// Clamp below (default 1) \[tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// Clamp above (default 10,000,000) \[tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// Mean \[tokens\].
    pub mean: f64,
}

/// `dist = "empirical"`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmpiricalFile {
    /// The values \[tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<u32>>,
    /// Their weights (default: equal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
    /// A trace CSV to take the values from (relative to the scenario file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// The trace column: `ContextTokens` or `GeneratedTokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

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
        /// Median \[tokens\], as given.
        median: f64,
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
        /// The trace and column the values came from, if any.
        origin: Option<(PathBuf, String)>,
    },
}

fn clamp_key(v: u32, default: u32) -> Option<u32> {
    (v != default).then_some(v)
}

impl TokenDist {
    /// Validates a distribution written at `key`.
    pub fn from_file(cx: &Checker, key: &str, d: &TokenDistFile) -> Result<TokenDist> {
        let bounds = |min: Option<u32>, max: Option<u32>| -> Result<(u32, u32)> {
            let lo = min.unwrap_or(1).max(1);
            let hi = max.unwrap_or(MAX_TOKENS);
            if hi < lo || hi > MAX_TOKENS {
                return Err(cx.bad(
                    format!("{key}.max"),
                    hi,
                    format!("must lie in [min = {lo}, {MAX_TOKENS}]"),
                ));
            }
            Ok((lo, hi))
        };
        Ok(match d {
            TokenDistFile::Fixed(FixedFile { value }) => {
                if *value == 0 || *value > MAX_TOKENS {
                    return Err(cx.bad(
                        format!("{key}.value"),
                        value,
                        format!("must lie in [1, {MAX_TOKENS}] tokens"),
                    ));
                }
                TokenDist::Fixed(*value)
            }
            TokenDistFile::Uniform(UniformFile { min, max }) => {
                let (min, max) = bounds(Some(*min), Some(*max))?;
                TokenDist::Uniform { min, max }
            }
            TokenDistFile::Lognormal(LognormalFile {
                min,
                max,
                median,
                sigma,
            }) => {
                let median = cx.positive(&format!("{key}.median"), *median)?;
                let sigma = cx.non_negative(&format!("{key}.sigma"), *sigma)?;
                let (min, max) = bounds(*min, *max)?;
                let dist = LogNormal::new(median.ln(), sigma)
                    .map_err(|e| cx.bad(format!("{key}.sigma"), sigma, e.to_string()))?;
                TokenDist::LogNormal {
                    dist,
                    median,
                    sigma,
                    min,
                    max,
                }
            }
            TokenDistFile::Exponential(ExponentialFile { min, max, mean }) => {
                let mean = cx.positive(&format!("{key}.mean"), *mean)?;
                let (min, max) = bounds(*min, *max)?;
                let dist = Exp::new(1.0 / mean)
                    .map_err(|e| cx.bad(format!("{key}.mean"), mean, e.to_string()))?;
                TokenDist::Exponential {
                    dist,
                    mean,
                    min,
                    max,
                }
            }
            TokenDistFile::Empirical(EmpiricalFile {
                values,
                weights,
                trace,
                column,
            }) => empirical(cx, key, values, weights, trace, column)?,
        })
    }

    /// The distribution as written in a resolved scenario (paths absolute).
    pub fn to_file(&self) -> TokenDistFile {
        match self {
            TokenDist::Fixed(v) => TokenDistFile::Fixed(FixedFile { value: *v }),
            TokenDist::Uniform { min, max } => TokenDistFile::Uniform(UniformFile {
                min: *min,
                max: *max,
            }),
            TokenDist::LogNormal {
                median,
                sigma,
                min,
                max,
                ..
            } => TokenDistFile::Lognormal(LognormalFile {
                min: clamp_key(*min, 1),
                max: clamp_key(*max, MAX_TOKENS),
                median: *median,
                sigma: *sigma,
            }),
            TokenDist::Exponential { mean, min, max, .. } => {
                TokenDistFile::Exponential(ExponentialFile {
                    min: clamp_key(*min, 1),
                    max: clamp_key(*max, MAX_TOKENS),
                    mean: *mean,
                })
            }
            TokenDist::Empirical {
                values,
                cumulative,
                origin,
            } => match origin {
                Some((path, column)) => TokenDistFile::Empirical(EmpiricalFile {
                    values: None,
                    weights: None,
                    trace: Some(path.to_string_lossy().into_owned()),
                    column: Some(column.clone()),
                }),
                None => {
                    let mut prev = 0.0;
                    let weights = (!cumulative.is_empty()).then(|| {
                        cumulative
                            .iter()
                            .map(|c| {
                                let w = c - prev;
                                prev = *c;
                                w
                            })
                            .collect()
                    });
                    TokenDistFile::Empirical(EmpiricalFile {
                        values: Some(values.to_vec()),
                        weights,
                        trace: None,
                        column: None,
                    })
                }
            },
        }
    }

    /// Draws one count.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        let v = match self {
            TokenDist::Fixed(v) => *v,
            TokenDist::Uniform { min, max } => rng.random_range(*min..=*max),
            TokenDist::LogNormal { dist, min, max, .. } => {
                clamp_f64(crate::fmath::round(dist.sample(rng)), *min, *max)
            }
            TokenDist::Exponential { dist, min, max, .. } => {
                clamp_f64(crate::fmath::ceil(dist.sample(rng)), *min, *max)
            }
            TokenDist::Empirical {
                values, cumulative, ..
            } => {
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

    /// The largest count a draw can give.
    pub fn max_tokens(&self) -> u32 {
        match self {
            TokenDist::Fixed(v) => *v,
            TokenDist::Uniform { max, .. }
            | TokenDist::LogNormal { max, .. }
            | TokenDist::Exponential { max, .. } => *max,
            TokenDist::Empirical { values, .. } => values.iter().copied().max().unwrap_or(1),
        }
        .max(1)
    }

    /// The mean of the underlying distribution (for lognormal and exponential: before rounding
    /// and clamping, so exact only when the clamps are far from the mass).
    pub fn mean(&self) -> f64 {
        match self {
            TokenDist::Fixed(v) => f64::from(*v),
            TokenDist::Uniform { min, max } => (f64::from(*min) + f64::from(*max)) / 2.0,
            TokenDist::LogNormal { median, sigma, .. } => (median.ln() + sigma * sigma / 2.0).exp(),
            TokenDist::Exponential { mean, .. } => *mean,
            TokenDist::Empirical {
                values, cumulative, ..
            } => {
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

fn empirical(
    cx: &Checker,
    key: &str,
    values: &Option<Vec<u32>>,
    weights: &Option<Vec<f64>>,
    trace: &Option<String>,
    column: &Option<String>,
) -> Result<TokenDist> {
    if let Some(trace) = trace {
        for (k, set) in [("values", values.is_some()), ("weights", weights.is_some())] {
            if set {
                return Err(cx.bad(
                    format!("{key}.{k}"),
                    "(set)",
                    "give either `values` (and `weights`) or `trace` and `column`, not both",
                ));
            }
        }
        let column = column.clone().unwrap_or_default();
        let path = cx.resolve(trace);
        let t = cx
            .trace(&path)
            .map_err(|e| cx.referenced(&format!("{key}.trace"), trace, e))?;
        if t.truncated() {
            return Err(cx.bad(
                format!("{key}.trace"),
                format!("\"{trace}\""),
                format!(
                    "the trace has {} rows, more than the {} an empirical distribution may hold \
                     within the memory limit of {} GB ({} sets it); use a \
                     sample of its rows",
                    t.in_file,
                    t.rows.len(),
                    crate::check::num(crate::scenario::budget::memory_limit_gb()),
                    crate::scenario::budget::MEMORY_LIMIT_VAR
                ),
            ));
        }
        let rows = t.rows;
        let values: Vec<u32> = match column.as_str() {
            "ContextTokens" => rows.iter().map(|r| r.prompt_tokens.max(1)).collect(),
            "GeneratedTokens" => rows.iter().map(|r| r.output_tokens.max(1)).collect(),
            _ => {
                return Err(cx.bad(
                    format!("{key}.column"),
                    format!("\"{column}\""),
                    "must be \"ContextTokens\" or \"GeneratedTokens\"",
                ));
            }
        };
        return Ok(TokenDist::Empirical {
            values: Arc::new(values),
            cumulative: Arc::new(Vec::new()),
            origin: Some((path, column)),
        });
    }
    if column.is_some() {
        return Err(cx.bad(
            format!("{key}.column"),
            "(set)",
            "is used only with `trace`",
        ));
    }
    let values = values.clone().unwrap_or_default();
    if values.is_empty() {
        return Err(cx.bad(
            format!("{key}.values"),
            "[]",
            "give a non-empty list of token counts, or `trace` and `column`",
        ));
    }
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| **v > MAX_TOKENS) {
        return Err(cx.bad(
            format!("{key}.values[{i}]"),
            v,
            format!("must be at most {MAX_TOKENS} tokens"),
        ));
    }
    let mut cumulative = Vec::new();
    if let Some(w) = weights {
        if w.len() != values.len() {
            return Err(cx.bad(
                format!("{key}.weights"),
                format!("{} entries", w.len()),
                format!("must have one weight per value ({})", values.len()),
            ));
        }
        let mut acc = 0.0;
        for (i, x) in w.iter().enumerate() {
            cx.non_negative(&format!("{key}.weights[{i}]"), *x)?;
            acc += x;
            cumulative.push(acc);
        }
        if !acc.is_finite() {
            return Err(cx.bad(
                format!("{key}.weights"),
                "(sum overflows)",
                "the weights must add up to a finite number",
            ));
        }
        if acc <= 0.0 {
            return Err(cx.bad(
                format!("{key}.weights"),
                "all zero",
                "at least one weight must be > 0",
            ));
        }
    }
    Ok(TokenDist::Empirical {
        values: Arc::new(values),
        cumulative: Arc::new(cumulative),
        origin: None,
    })
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
            median: 5f64.exp(),
            sigma: 3.0,
            min: 10,
            max: 20,
        };
        for _ in 0..1000 {
            let v = ln.sample(&mut r);
            assert!((10..=20).contains(&v));
        }
        assert_eq!(ln.max_tokens(), 20);
    }

    #[test]
    fn empirical_respects_weights() {
        let d = TokenDist::Empirical {
            values: Arc::new(vec![10, 20]),
            cumulative: Arc::new(vec![1.0, 4.0]),
            origin: None,
        };
        let mut r = rng();
        let n = 40_000;
        let twenties = (0..n).filter(|_| d.sample(&mut r) == 20).count();
        let frac = twenties as f64 / f64::from(n);
        assert!((frac - 0.75).abs() < 0.01, "{frac}");
        assert!((d.mean() - 17.5).abs() < 1e-12);
        // The resolved form gives the weights back.
        assert_eq!(
            d.to_file(),
            TokenDistFile::Empirical(EmpiricalFile {
                values: Some(vec![10, 20]),
                weights: Some(vec![1.0, 3.0]),
                trace: None,
                column: None
            })
        );
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
