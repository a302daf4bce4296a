//! The cloud fallback: an LLM API that takes what the edge cannot, at a price.
//!
//! [`CloudFile`] is `[cloud]` as written; [`CloudSpec`] the validated settings, with the prices
//! filled in from the model catalogue. Defaults live here and nowhere else.

pub mod latency;
pub use crate::outages;
pub mod state;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalogue::ModelCatalogue;
use crate::check::Checker;
use crate::error::{Error, Result};
use crate::policy::rate_limit::{LimitKind, LimitScope, LimitUnit, RateLimitFile, RateLimitSpec};
use latency::{Latency, LatencyFile};
use outages::{OutageSpec, RandomFile, WindowFile};
pub use state::{CloudAnswer, CloudCounters, CloudFaults, CloudState};

/// Default retries of a refused cloud call (the Anthropic SDK's default).
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Default wait before the first retry \[ms\] (doubled at each retry).
pub const DEFAULT_RETRY_AFTER_MS: f64 = 1000.0;
/// The longest `cloud.max_retry_wait_ms` \[ms\]: an hour.
pub const MAX_RETRY_WAIT_MS: f64 = 3.6e6;
/// The most time one request may spend waiting for its retries, all waits together \[ms\]: a
/// day. The run goes on until its last request ends, so a longer chain would stretch the run,
/// its time series and its failing boards' episodes far past the arrivals (`retry_after_ms =
/// 1e11` ran for 48 s and wrote 2.5 GB of time series for 7,200 s of arrivals).
pub const MAX_RETRY_CHAIN_MS: f64 = 8.64e7;

/// What the gateway does with a cloud call refused by a rate limit (HTTP 429) or an outage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnRefused {
    /// Wait `min(retry_after_ms · 2^k, max_retry_wait_ms)` and route the request again (edge
    /// first, then the cloud), at most `max_retries` times; then reject it.
    #[default]
    Retry,
    /// Reject it at once.
    Reject,
}

fn default_max_retries() -> u32 {
    DEFAULT_MAX_RETRIES
}
fn is_default_max_retries(v: &u32) -> bool {
    *v == DEFAULT_MAX_RETRIES
}
fn default_retry_after_ms() -> f64 {
    DEFAULT_RETRY_AFTER_MS
}
fn is_default_retry_after_ms(v: &f64) -> bool {
    *v == DEFAULT_RETRY_AFTER_MS
}

/// The wait before retry `k` (0: the first) \[ms\]: `min(first_ms · 2^k, cap_ms)`.
pub fn retry_wait_ms(first_ms: f64, cap_ms: f64, k: u32) -> f64 {
    (first_ms * 2f64.powi(k as i32)).min(cap_ms)
}

/// The longest a request may wait for `retries` retries, all waits together \[ms\].
pub fn retry_chain_ms(first_ms: f64, cap_ms: f64, retries: u32) -> f64 {
    (0..retries)
        .map(|k| retry_wait_ms(first_ms, cap_ms, k))
        .sum()
}

/// The most fallback providers a cloud may list.
pub const MAX_FALLBACKS: usize = 16;

/// Default cloud model: the paper's reference.
pub const DEFAULT_MODEL: &str = "gpt-4";
/// Default gateway-to-API round trip \[ms\].
pub const DEFAULT_RTT_MS: f64 = 150.0;
/// Default server-side time to first token \[ms\].
pub const DEFAULT_TTFT_MS: f64 = 600.0;
/// Default streaming speed \[tokens/s\].
pub const DEFAULT_TOKENS_PER_S: f64 = 40.0;

fn default_true() -> bool {
    true
}
fn default_model() -> String {
    DEFAULT_MODEL.into()
}
fn default_rtt_ms() -> LatencyFile {
    LatencyFile::Fixed(DEFAULT_RTT_MS)
}

/// The `[cloud]` keys only the primary provider may have, in the order
/// [`CloudSpec::check_fallback_keys`] reports them.
pub const PRIMARY_ONLY: [&str; 7] = [
    "fallbacks",
    "enabled",
    "on_refused",
    "max_retries",
    "retry_after_ms",
    "max_retry_wait_ms",
    "retry_jitter",
];

/// The `[cloud]` keys whose default is the catalogue's entry for the cloud's `model`: a key
/// given keeps its value whatever the model.
pub const FROM_CATALOGUE: [&str; 7] = [
    "ttft_ms",
    "tokens_per_s",
    "usd_per_1k_input",
    "usd_per_1k_output",
    "usd_per_1k_cached",
    "price_date",
    "context_tokens",
];

/// Each of [`PRIMARY_ONLY`] (in its order), and whether the typed table `f` sets it to other
/// than its value in `defaults`.
fn primary_only_set(f: &CloudFile, defaults: &CloudFile) -> [(&'static str, bool); 7] {
    [
        ("fallbacks", !f.fallbacks.is_empty()),
        ("enabled", f.enabled != defaults.enabled),
        ("on_refused", f.on_refused != defaults.on_refused),
        ("max_retries", f.max_retries != defaults.max_retries),
        (
            "retry_after_ms",
            f.retry_after_ms != defaults.retry_after_ms,
        ),
        ("max_retry_wait_ms", f.max_retry_wait_ms.is_some()),
        ("retry_jitter", f.retry_jitter != defaults.retry_jitter),
    ]
}

/// The error for key `k` of `cloud.fallbacks[i]`, one of [`PRIMARY_ONLY`].
fn primary_only(cx: &Checker, i: usize, k: &str) -> Error {
    cx.bad(
        format!("cloud.fallbacks[{i}].{k}"),
        "(given)",
        "is the primary cloud's setting only: a fallback is tried at once when the provider \
         before it refuses, and the retry policy applies to the whole chain",
    )
}

/// `[cloud]` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudFile {
    /// Whether requests the edge cannot take go to the cloud (else they are rejected).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Cloud model name (reported; also a key for quality in the catalogue).
    #[serde(default = "default_model")]
    pub model: String,
    /// Round trip from the gateway to the API \[ms\]: a number or `{ p50, p95, p99 }`.
    #[serde(default = "default_rtt_ms")]
    pub rtt_ms: LatencyFile,
    /// Server-side time to first token \[ms\]: a number or `{ p50, p95, p99 }` (default: the
    /// catalogue's preset for `model`, else 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<LatencyFile>,
    /// Median streaming speed after the first token \[tokens/s\] (default: the catalogue's
    /// preset, else 40).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_s: Option<f64>,
    /// Price of input (prompt) tokens \[USD per 1000 tokens\] (default: the catalogue's price
    /// for `model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd_per_1k_input: Option<f64>,
    /// Price of output tokens \[USD per 1000 tokens\] (default: the catalogue's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd_per_1k_output: Option<f64>,
    /// When the prices were read (default: the catalogue's date for `model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_date: Option<String>,
    /// Context window \[tokens\]: longer requests (prompt + output) are rejected (default: the
    /// catalogue's for `model`; none if unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u32>,
    /// Per-request spread of the speed: `tokens_per_s · exp(σ Z)`, Z standard normal (0: none).
    #[serde(default, skip_serializing_if = "crate::check::is_default")]
    pub tokens_per_s_sigma: f64,
    /// Price of cached prompt tokens \[USD per 1000 tokens\] (default: the catalogue's, else
    /// the input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd_per_1k_cached: Option<f64>,
    /// Share of prompt tokens billed at the cached price, in \[0, 1\].
    #[serde(default, skip_serializing_if = "crate::check::is_default")]
    pub cached_prompt_share: f64,
    /// The API's rate limits (all apply; the first exhausted refuses with HTTP 429): rate
    /// limiter tables as in `[rate_limit]`, each on the API's one key (`scope` `device`, the
    /// default, or `cluster`) or on one key per request class (`scope = "class"`, with the
    /// classes' own limits in `quotas`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<CloudLimitFile>,
    /// What to do with a refused call.
    #[serde(default, skip_serializing_if = "crate::check::is_default")]
    pub on_refused: OnRefused,
    /// Retries of a refused call before the request is rejected.
    #[serde(
        default = "default_max_retries",
        skip_serializing_if = "is_default_max_retries"
    )]
    pub max_retries: u32,
    /// Wait before the first retry \[ms\], doubled at each further retry (`retry-after`).
    #[serde(
        default = "default_retry_after_ms",
        skip_serializing_if = "is_default_retry_after_ms"
    )]
    pub retry_after_ms: f64,
    /// The longest one wait may be \[ms\]: the doubling stops there (as client SDKs cap their
    /// backoff). None: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_wait_ms: Option<f64>,
    /// Share of each retry wait taken off at random (0: none): a wait w becomes
    /// w · (1 − retry_jitter · U), U uniform in [0, 1) (the OpenAI and Anthropic SDKs: 0.25).
    #[serde(default, skip_serializing_if = "crate::check::is_default")]
    pub retry_jitter: f64,
    /// Fixed outage windows (also a WAN partition: the gateway cannot reach the cloud).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outages: Vec<WindowFile>,
    /// Random outages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_outages: Option<RandomFile>,
    /// The `max_tokens` the gateway sends with each call: token limits charge the output at
    /// admission as max(max_tokens, output) (OpenAI's TPM, Anthropic's OTPM estimate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Give back, when a call ends, what `max_tokens` charged beyond its actual output, to its
    /// `token_bucket` limits on `tokens` or `output_tokens` (Anthropic corrects its OTPM
    /// estimate so; default false: the charge stands, as OpenAI's TPM).
    #[serde(default, skip_serializing_if = "crate::check::is_default")]
    pub refund_unused_output: bool,
    /// Degraded periods: the API is up but slower and failing part of the calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<DegradedFile>,
    /// Other providers, tried in order at once when this one refuses a call (each a cloud
    /// table; `enabled`, the retry keys and `fallbacks` are the primary's only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<CloudFile>,
}

/// A `[[cloud.limits]]` table as written: a rate limiter as in `[rate_limit]` (`kind` and its
/// keys) and, under `scope = "class"`, `quotas`: a class's own limit by the class's name (as a
/// class's `quota` is under the edge's `[rate_limit]`), each class not named having `limit`.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct CloudLimitFile {
    /// The limiter.
    #[serde(flatten)]
    pub limit: RateLimitFile,
    /// Under `scope = "class"`: a class's own limit, by its `name` (default: `limit`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quotas: BTreeMap<String, f64>,
}

impl<'de> Deserialize<'de> for CloudLimitFile {
    /// Takes `quotas` out of the table and reads the rest as `[rate_limit]` reads its own, so
    /// that its errors name their keys as they do there.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut v = <toml::Value as Deserialize>::deserialize(d)?;
        let quotas = match v.as_table_mut().and_then(|t| t.remove("quotas")) {
            None => BTreeMap::new(),
            Some(q) => crate::strict::from_value(q).map_err(|e| {
                let msg = crate::check::tagged::path_message(e);
                D::Error::custom(crate::check::tagged::with_key("quotas", &msg))
            })?,
        };
        let limit = RateLimitFile::deserialize(v).map_err(|e| D::Error::custom(e.message()))?;
        Ok(CloudLimitFile { limit, quotas })
    }
}

/// A validated cloud limit: the limiter, and the classes' own limits by name.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudLimit {
    /// The limiter and its settings (`limit` for every class `quotas` does not name).
    pub spec: RateLimitSpec,
    /// Under `scope = "class"`: a class's own limit, by its name.
    pub quotas: BTreeMap<String, f64>,
}

impl CloudLimit {
    /// Each class's own limit, in the order of `classes` (the names of the scenario's request
    /// classes): its quota, or `None` for the limit's own.
    pub fn class_quotas(&self, classes: &[&str]) -> Vec<Option<f64>> {
        classes
            .iter()
            .map(|c| self.quotas.get(*c).copied())
            .collect()
    }
}

/// `[cloud.degraded]` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DegradedFile {
    /// Fixed degraded windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowFile>,
    /// Random degraded episodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random: Option<RandomFile>,
    /// Server-side TTFT and per-token time are multiplied by this while degraded (>= 1).
    #[serde(default = "default_factor")]
    pub latency_factor: f64,
    /// Share of calls failing with HTTP 5xx while degraded, in \[0, 1\] (retried like an
    /// outage's).
    #[serde(default)]
    pub error_rate: f64,
}

fn default_factor() -> f64 {
    1.0
}

/// Validated degraded periods.
#[derive(Clone, Debug, PartialEq)]
pub struct DegradedSpec {
    /// When.
    pub when: OutageSpec,
    /// Latency multiplier (>= 1).
    pub latency_factor: f64,
    /// Share of calls failing.
    pub error_rate: f64,
}

impl DegradedSpec {
    fn from_file(cx: &Checker, f: &DegradedFile) -> Result<DegradedSpec> {
        let when = OutageSpec::from_keys(
            cx,
            "cloud.degraded.windows",
            "cloud.degraded.random",
            &f.windows,
            f.random,
        )?;
        if !when.any() {
            return Err(cx.bad(
                "cloud.degraded",
                "(no windows, no random)",
                "give `windows = [{ start_s, duration_s }, ...]` or `random = { mtbf_s, mttr_s }`",
            ));
        }
        if !(f.latency_factor.is_finite() && (1.0..=1000.0).contains(&f.latency_factor)) {
            return Err(cx.bad(
                "cloud.degraded.latency_factor",
                f.latency_factor,
                "must lie in [1, 1000] (1: latency unchanged)",
            ));
        }
        let error_rate = cx.fraction("cloud.degraded.error_rate", f.error_rate)?;
        Ok(DegradedSpec {
            when,
            latency_factor: f.latency_factor,
            error_rate,
        })
    }

    fn to_file(&self) -> DegradedFile {
        DegradedFile {
            windows: self.when.windows_file.clone(),
            random: self.when.random,
            latency_factor: self.latency_factor,
            error_rate: self.error_rate,
        }
    }
}

impl Default for CloudFile {
    fn default() -> Self {
        CloudFile {
            enabled: true,
            model: default_model(),
            rtt_ms: default_rtt_ms(),
            ttft_ms: None,
            tokens_per_s: None,
            usd_per_1k_input: None,
            usd_per_1k_output: None,
            price_date: None,
            context_tokens: None,
            tokens_per_s_sigma: 0.0,
            usd_per_1k_cached: None,
            cached_prompt_share: 0.0,
            limits: Vec::new(),
            on_refused: OnRefused::Retry,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_after_ms: DEFAULT_RETRY_AFTER_MS,
            max_retry_wait_ms: None,
            retry_jitter: 0.0,
            outages: Vec::new(),
            random_outages: None,
            max_tokens: None,
            refund_unused_output: false,
            degraded: None,
            fallbacks: Vec::new(),
        }
    }
}

/// The validated cloud fallback.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudSpec {
    /// Whether it takes what the edge cannot.
    pub enabled: bool,
    /// Model name.
    pub model: String,
    /// Median round trip \[ms\] (the constant, when fixed).
    pub rtt_ms: f64,
    /// Median server-side TTFT \[ms\].
    pub ttft_ms: f64,
    /// Median streaming speed \[tokens/s\].
    pub tokens_per_s: f64,
    /// Round-trip distribution.
    pub rtt: Latency,
    /// TTFT distribution.
    pub ttft: Latency,
    /// Speed spread σ (0: constant speed).
    pub tokens_per_s_sigma: f64,
    /// USD per 1000 cached prompt tokens.
    pub usd_per_1k_cached: f64,
    /// Share of prompt tokens billed as cached.
    pub cached_prompt_share: f64,
    /// The API's rate limits.
    pub limits: Vec<CloudLimit>,
    /// What a refused call leads to.
    pub on_refused: OnRefused,
    /// Retries before rejecting.
    pub max_retries: u32,
    /// First retry wait \[ms\].
    pub retry_after_ms: f64,
    /// The longest one retry wait may be \[ms\] (infinite: no cap).
    pub max_retry_wait_ms: f64,
    /// Share of each retry wait taken off at random (0: none).
    pub retry_jitter: f64,
    /// Outages.
    pub outages: OutageSpec,
    /// USD per 1000 input tokens.
    pub usd_per_1k_input: f64,
    /// USD per 1000 output tokens.
    pub usd_per_1k_output: f64,
    /// Date the prices were read.
    pub price_date: String,
    /// Context window \[tokens\] (`None`: no limit).
    pub context_tokens: Option<u32>,
    /// `max_tokens` sent with each call (`None`: the output length is charged).
    pub max_tokens: Option<u32>,
    /// Whether what `max_tokens` charged beyond the output is given back when a call ends.
    pub refund_unused_output: bool,
    /// Degraded periods.
    pub degraded: Option<DegradedSpec>,
    /// Fallback providers, in order.
    pub fallbacks: Vec<CloudSpec>,
}

impl CloudSpec {
    /// Validates `[cloud]`, filling prices and their date from the catalogue entry of
    /// `cloud.model` where the file gives none.
    pub fn from_file(cx: &Checker, c: &CloudFile, catalogue: &ModelCatalogue) -> Result<CloudSpec> {
        let entry = catalogue.cloud_model(&c.model);
        let rtt = c.rtt_ms.validate(cx, "cloud.rtt_ms")?;
        let ttft = c
            .ttft_ms
            .or_else(|| entry.and_then(|e| e.ttft_ms))
            .unwrap_or(LatencyFile::Fixed(DEFAULT_TTFT_MS))
            .validate(cx, "cloud.ttft_ms")?;
        let tokens_per_s = cx.speed(
            "cloud.tokens_per_s",
            c.tokens_per_s
                .or_else(|| entry.and_then(|e| e.tokens_per_s))
                .unwrap_or(DEFAULT_TOKENS_PER_S),
        )?;
        if !(c.tokens_per_s_sigma.is_finite() && (0.0..=3.0).contains(&c.tokens_per_s_sigma)) {
            return Err(cx.bad(
                "cloud.tokens_per_s_sigma",
                c.tokens_per_s_sigma,
                "must lie in [0, 3]",
            ));
        }
        let cached_prompt_share =
            cx.fraction("cloud.cached_prompt_share", c.cached_prompt_share)?;
        let mut limits = Vec::with_capacity(c.limits.len());
        for (i, l) in c.limits.iter().enumerate() {
            let spec = RateLimitSpec::from_file(cx, &l.limit).map_err(|e| match e {
                Error::Invalid {
                    path,
                    key,
                    value,
                    problem,
                } => Error::Invalid {
                    path,
                    key: crate::check::rebase_key(
                        &key,
                        "rate_limit",
                        &format!("cloud.limits[{i}]"),
                    ),
                    value,
                    problem,
                },
                e => e,
            })?;
            if !l.quotas.is_empty() && spec.scope != LimitScope::Class {
                return Err(cx.bad(
                    format!("cloud.limits[{i}].quotas"),
                    format!(
                        "{{ {} }}",
                        l.quotas
                            .iter()
                            .map(|(k, v)| format!("{k} = {}", crate::check::num(*v)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    format!(
                        "only a limit per request class (`scope = \"class\"`) has quotas: \
                         this one has scope = \"{}\", one key for the API",
                        spec.scope.name()
                    ),
                ));
            }
            for (class, &q) in &l.quotas {
                spec.check_quota(cx, &format!("cloud.limits[{i}].quotas.{class}"), q)?;
            }
            limits.push(CloudLimit {
                spec,
                quotas: l.quotas.clone(),
            });
        }
        let retry_after_ms = cx.time_ms("cloud.retry_after_ms", c.retry_after_ms)?;
        if c.max_retries > 100 {
            return Err(cx.bad("cloud.max_retries", c.max_retries, "must lie in [0, 100]"));
        }
        let max_retry_wait_ms = match c.max_retry_wait_ms {
            None => f64::INFINITY,
            Some(v) => {
                let ms = cx.time_ms("cloud.max_retry_wait_ms", v)?;
                if ms > MAX_RETRY_WAIT_MS {
                    return Err(cx.bad(
                        "cloud.max_retry_wait_ms",
                        crate::check::num(ms),
                        format!("must lie in [0, {MAX_RETRY_WAIT_MS:e}] ms (an hour)"),
                    ));
                }
                ms
            }
        };
        if !(0.0..=1.0).contains(&c.retry_jitter) {
            return Err(cx.bad(
                "cloud.retry_jitter",
                crate::check::num(c.retry_jitter),
                "must lie in [0, 1]: the share of each retry wait taken off at random (the \
                 OpenAI and Anthropic SDKs: 0.25)",
            ));
        }
        let chain_ms = retry_chain_ms(retry_after_ms, max_retry_wait_ms, c.max_retries);
        if c.enabled && c.on_refused == OnRefused::Retry && chain_ms > MAX_RETRY_CHAIN_MS {
            let first = retry_wait_ms(retry_after_ms, max_retry_wait_ms, 0);
            let (key, value) = if first > MAX_RETRY_CHAIN_MS || c.max_retries <= 1 {
                ("cloud.retry_after_ms", crate::check::num(retry_after_ms))
            } else {
                ("cloud.max_retries", c.max_retries.to_string())
            };
            let cap = c.max_retry_wait_ms.map_or(String::new(), |v| {
                format!(", max_retry_wait_ms = {}", crate::check::num(v))
            });
            return Err(cx.bad(
                key,
                value,
                format!(
                    "with retry_after_ms = {}, max_retries = {}{cap} a request may wait {:.3e} ms \
                     for its retries (each wait doubles the one before), more than the \
                     {MAX_RETRY_CHAIN_MS:e} ms (a day) allowed: the run lasts until its last \
                     request ends; cap one wait with cloud.max_retry_wait_ms (the OpenAI and \
                     Anthropic SDKs cap it at 8,000 ms), or lower max_retries or retry_after_ms",
                    crate::check::num(retry_after_ms),
                    c.max_retries,
                    chain_ms
                ),
            ));
        }
        let outages = OutageSpec::from_file(cx, "cloud", &c.outages, c.random_outages)?;
        let price = |key: &str, given: Option<f64>, listed: Option<f64>| -> Result<f64> {
            match (given, listed) {
                (Some(v), _) => cx.price(
                    &format!("cloud.{key}"),
                    v,
                    crate::check::MAX_USD_PER_1K_TOKENS,
                    "USD per 1,000 tokens",
                ),
                (None, Some(v)) => Ok(v),
                (None, None) => Err(cx.bad(
                    format!("cloud.{key}"),
                    "(missing)",
                    format!(
                        "cloud model \"{}\" is not in the catalogue ({}); give its prices \
                         (usd_per_1k_input, usd_per_1k_output) or use a listed model",
                        c.model,
                        catalogue.cloud_model_names()
                    ),
                )),
            }
        };
        let usd_per_1k_input = price(
            "usd_per_1k_input",
            c.usd_per_1k_input,
            entry.map(|e| e.usd_per_1k_input),
        )?;
        let usd_per_1k_output = price(
            "usd_per_1k_output",
            c.usd_per_1k_output,
            entry.map(|e| e.usd_per_1k_output),
        )?;
        let price_date = c
            .price_date
            .clone()
            .or_else(|| entry.map(|e| e.price_date.clone()))
            .unwrap_or_else(|| "unknown".into());
        let context_tokens = c
            .context_tokens
            .or_else(|| entry.and_then(|e| e.context_tokens));
        if context_tokens == Some(0) {
            return Err(cx.bad("cloud.context_tokens", 0, "must be >= 1"));
        }
        if c.max_tokens == Some(0) {
            return Err(cx.bad(
                "cloud.max_tokens",
                0,
                "must be >= 1 (the max_tokens parameter of each call; leave it out to charge the output length)",
            ));
        }
        if c.refund_unused_output {
            if c.max_tokens.is_none() {
                return Err(cx.bad(
                    "cloud.refund_unused_output",
                    true,
                    "has no effect without cloud.max_tokens: each call is then charged its \
                     actual output, with nothing to give back",
                ));
            }
            // A window cannot take back part of a past admission; a bucket can.
            for (i, l) in limits.iter().map(|l| &l.spec).enumerate() {
                let refunded = matches!(l.unit, LimitUnit::Tokens | LimitUnit::OutputTokens);
                if refunded && !matches!(l.kind, LimitKind::TokenBucket(_)) {
                    return Err(cx.bad(
                        format!("cloud.limits[{i}].kind"),
                        format!("\"{}\"", l.kind.name()),
                        format!(
                            "with cloud.refund_unused_output, limits on {} must be \
                             \"token_bucket\": the refund goes back into a bucket (Anthropic's \
                             OTPM); a window cannot take back part of a past charge",
                            l.unit.name()
                        ),
                    ));
                }
            }
        }
        let usd_per_1k_cached = match c.usd_per_1k_cached {
            Some(v) => cx.price(
                "cloud.usd_per_1k_cached",
                v,
                crate::check::MAX_USD_PER_1K_TOKENS,
                "USD per 1,000 tokens",
            )?,
            None => entry
                .and_then(|e| e.usd_per_1k_cached)
                .unwrap_or(usd_per_1k_input),
        };
        Ok(CloudSpec {
            context_tokens,
            enabled: c.enabled,
            model: c.model.clone(),
            rtt_ms: rtt.median_ms(),
            ttft_ms: ttft.median_ms(),
            tokens_per_s,
            rtt,
            ttft,
            tokens_per_s_sigma: c.tokens_per_s_sigma,
            usd_per_1k_cached,
            cached_prompt_share,
            limits,
            on_refused: c.on_refused,
            max_retries: c.max_retries,
            retry_after_ms,
            max_retry_wait_ms,
            retry_jitter: c.retry_jitter,
            outages,
            usd_per_1k_input,
            usd_per_1k_output,
            price_date,
            max_tokens: c.max_tokens,
            refund_unused_output: c.refund_unused_output,
            degraded: c
                .degraded
                .as_ref()
                .map(|d| DegradedSpec::from_file(cx, d))
                .transpose()?,
            fallbacks: Self::fallbacks_from_file(cx, c, catalogue)?,
        })
    }

    /// Refuses a table of `cloud.fallbacks` as written (`fallbacks`, before it is typed) that
    /// has one of [`PRIMARY_ONLY`], even at its default value: the typed file, where an
    /// absent key takes its default, cannot tell the two apart. `enabled = true` is let
    /// through: the resolved form writes it in every cloud table, fallbacks included.
    pub fn check_fallback_keys(cx: &Checker, fallbacks: &toml::Value) -> Result<()> {
        for (i, f) in fallbacks.as_array().into_iter().flatten().enumerate() {
            let Some(t) = f.as_table() else { continue };
            let given = |k: &str| match t.get(k) {
                None => false,
                Some(v) => !(k == "enabled" && v.as_bool() == Some(true)),
            };
            if let Some(k) = PRIMARY_ONLY.into_iter().find(|k| given(k)) {
                return Err(primary_only(cx, i, k));
            }
        }
        Ok(())
    }

    /// Validates `cloud.fallbacks`: cloud tables without their own fallbacks or retry
    /// policy. Errors name `cloud.fallbacks[i].<key>`.
    fn fallbacks_from_file(
        cx: &Checker,
        c: &CloudFile,
        catalogue: &ModelCatalogue,
    ) -> Result<Vec<CloudSpec>> {
        if c.fallbacks.len() > MAX_FALLBACKS {
            return Err(cx.bad(
                "cloud.fallbacks",
                format!("{} providers", c.fallbacks.len()),
                format!("at most {MAX_FALLBACKS} fallback providers"),
            ));
        }
        let defaults = CloudFile::default();
        let mut out = Vec::with_capacity(c.fallbacks.len());
        for (i, f) in c.fallbacks.iter().enumerate() {
            let key = format!("cloud.fallbacks[{i}]");
            // Typed files built in code have no document: a value other than the default is
            // then what shows that a key was given ([`CloudSpec::check_fallback_keys`] sees
            // the rest).
            if let Some((k, _)) = primary_only_set(f, &defaults).into_iter().find(|(_, g)| *g) {
                return Err(primary_only(cx, i, k));
            }
            let spec = CloudSpec::from_file(cx, f, catalogue).map_err(|e| match e {
                Error::Invalid {
                    path,
                    key: k,
                    value,
                    problem,
                } => Error::Invalid {
                    path,
                    key: crate::check::rebase_key(&k, "cloud", &key),
                    value,
                    problem,
                },
                e => e,
            })?;
            out.push(spec);
        }
        Ok(out)
    }

    /// Checks that every name in the limits' `quotas`, this cloud's and its fallbacks', is
    /// the `name` of one of `classes` (the scenario's request classes). Errors name
    /// `cloud.limits[i].quotas.NAME` (`cloud.fallbacks[j].limits[i].quotas.NAME`).
    pub fn check_quota_classes(&self, cx: &Checker, classes: &[&str]) -> Result<()> {
        for (k, p) in self.providers().enumerate() {
            let at = Self::provider_key(k);
            for (i, l) in p.limits.iter().enumerate() {
                if let Some(name) = l.quotas.keys().find(|n| !classes.contains(&n.as_str())) {
                    return Err(cx.bad(
                        format!("{at}.limits[{i}].quotas.{name}"),
                        format!("{name:?}"),
                        format!(
                            "must be the `name` of a request class; {}",
                            crate::check::known_names(
                                classes,
                                "the classes are",
                                "the scenario has no [[workload.classes]]"
                            )
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The key of provider `k` of [`CloudSpec::providers`] in a scenario: `cloud`, then
    /// `cloud.fallbacks[k - 1]`.
    pub fn provider_key(k: usize) -> String {
        match k {
            0 => "cloud".to_string(),
            k => format!("cloud.fallbacks[{}]", k - 1),
        }
    }

    /// The providers in order: this cloud, then its fallbacks.
    pub fn providers(&self) -> impl Iterator<Item = &CloudSpec> {
        std::iter::once(self).chain(&self.fallbacks)
    }

    /// Whether a refused call is retried: the cloud is used and `on_refused = "retry"`.
    pub fn retries_refused(&self) -> bool {
        self.enabled && self.on_refused == OnRefused::Retry
    }

    /// The wait before retry `k` (0: the first) \[ms\].
    pub fn retry_wait_ms(&self, k: u32) -> f64 {
        retry_wait_ms(self.retry_after_ms, self.max_retry_wait_ms, k)
    }

    /// The longest a request may wait for its retries, all waits together \[s\]: 0 when a
    /// refused call is not retried.
    pub fn retry_chain_s(&self) -> f64 {
        if !self.retries_refused() {
            return 0.0;
        }
        retry_chain_ms(
            self.retry_after_ms,
            self.max_retry_wait_ms,
            self.max_retries,
        ) / 1000.0
    }

    /// Provider `k` (0: this cloud; k >= 1: fallback k − 1).
    pub fn provider(&self, k: usize) -> &CloudSpec {
        if k == 0 { self } else { &self.fallbacks[k - 1] }
    }

    /// The section as written in a resolved scenario (prices explicit).
    pub fn to_file(&self) -> CloudFile {
        CloudFile {
            enabled: self.enabled,
            model: self.model.clone(),
            rtt_ms: self.rtt.to_file(),
            ttft_ms: Some(self.ttft.to_file()),
            tokens_per_s: Some(self.tokens_per_s),
            usd_per_1k_input: Some(self.usd_per_1k_input),
            usd_per_1k_output: Some(self.usd_per_1k_output),
            price_date: Some(self.price_date.clone()),
            context_tokens: self.context_tokens,
            tokens_per_s_sigma: self.tokens_per_s_sigma,
            // Written only where it differs from the input price (or is used).
            usd_per_1k_cached: (self.cached_prompt_share > 0.0
                || self.usd_per_1k_cached != self.usd_per_1k_input)
                .then_some(self.usd_per_1k_cached),
            cached_prompt_share: self.cached_prompt_share,
            limits: self
                .limits
                .iter()
                .map(|l| CloudLimitFile {
                    limit: l.spec.to_file(),
                    quotas: l.quotas.clone(),
                })
                .collect(),
            on_refused: self.on_refused,
            max_retries: self.max_retries,
            retry_after_ms: self.retry_after_ms,
            max_retry_wait_ms: self
                .max_retry_wait_ms
                .is_finite()
                .then_some(self.max_retry_wait_ms),
            retry_jitter: self.retry_jitter,
            outages: self.outages.windows_file.clone(),
            random_outages: self.outages.random,
            max_tokens: self.max_tokens,
            refund_unused_output: self.refund_unused_output,
            degraded: self.degraded.as_ref().map(DegradedSpec::to_file),
            fallbacks: self.fallbacks.iter().map(CloudSpec::to_file).collect(),
        }
    }

    /// Whether a request of `tokens` (prompt + output) fits the context window.
    pub fn fits(&self, tokens: u64) -> bool {
        self.context_tokens.is_none_or(|c| tokens <= u64::from(c))
    }

    /// Time to first token seen by the user \[s\]: round trip plus server TTFT.
    pub fn ttft_s(&self) -> f64 {
        (self.rtt_ms + self.ttft_ms) / 1000.0
    }
    /// End-to-end latency of a response with `output_tokens` \[s\].
    pub fn e2e_s(&self, output_tokens: u32) -> f64 {
        self.ttft_s() + f64::from(output_tokens.saturating_sub(1)) / self.tokens_per_s
    }
    /// Whether the cloud has faults: rate limits or outages that can refuse a call, or
    /// degraded periods.
    pub fn can_refuse(&self) -> bool {
        !self.limits.is_empty()
            || self.outages.any()
            || self.degraded.is_some()
            || !self.fallbacks.is_empty()
    }

    /// API cost of one request \[USD\]: the share `cached_prompt_share` of the prompt at the
    /// cached price, the rest at the input price, the output at the output price.
    pub fn cost_usd(&self, prompt_tokens: u32, output_tokens: u32) -> f64 {
        if self.cached_prompt_share > 0.0 {
            let p = f64::from(prompt_tokens);
            let cached = p * self.cached_prompt_share;
            return ((p - cached) * self.usd_per_1k_input
                + cached * self.usd_per_1k_cached
                + f64::from(output_tokens) * self.usd_per_1k_output)
                / 1000.0;
        }
        crate::metrics::toolkit::cloud_cost_usd(
            prompt_tokens,
            output_tokens,
            self.usd_per_1k_input,
            self.usd_per_1k_output,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed check and the check of the document as written name the same keys.
    #[test]
    fn both_fallback_checks_name_the_primary_only_keys() {
        let d = CloudFile::default();
        let names: Vec<&str> = primary_only_set(&d, &d).iter().map(|(k, _)| *k).collect();
        assert_eq!(names, PRIMARY_ONLY);
        assert!(primary_only_set(&d, &d).iter().all(|(_, given)| !given));
    }
}
