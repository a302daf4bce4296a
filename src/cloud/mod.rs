//! The cloud fallback: an LLM API that takes what the edge cannot, at a price.
//!
//! [`CloudFile`] is `[cloud]` as written; [`CloudSpec`] the validated settings, with the prices
//! filled in from the model catalogue. Defaults live here and nowhere else.

use serde::{Deserialize, Serialize};

use crate::catalogue::ModelCatalogue;
use crate::check::Checker;
use crate::error::Result;

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
fn default_rtt_ms() -> f64 {
    DEFAULT_RTT_MS
}
fn default_ttft_ms() -> f64 {
    DEFAULT_TTFT_MS
}
fn default_tps() -> f64 {
    DEFAULT_TOKENS_PER_S
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
    /// Round trip from the gateway to the API \[ms\].
    #[serde(default = "default_rtt_ms")]
    pub rtt_ms: f64,
    /// Server-side time to first token \[ms\].
    #[serde(default = "default_ttft_ms")]
    pub ttft_ms: f64,
    /// Streaming speed after the first token \[tokens/s\].
    #[serde(default = "default_tps")]
    pub tokens_per_s: f64,
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
}

impl Default for CloudFile {
    fn default() -> Self {
        CloudFile {
            enabled: true,
            model: default_model(),
            rtt_ms: DEFAULT_RTT_MS,
            ttft_ms: DEFAULT_TTFT_MS,
            tokens_per_s: DEFAULT_TOKENS_PER_S,
            usd_per_1k_input: None,
            usd_per_1k_output: None,
            price_date: None,
            context_tokens: None,
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
    /// Round trip \[ms\].
    pub rtt_ms: f64,
    /// Server-side TTFT \[ms\].
    pub ttft_ms: f64,
    /// Streaming speed \[tokens/s\].
    pub tokens_per_s: f64,
    /// USD per 1000 input tokens.
    pub usd_per_1k_input: f64,
    /// USD per 1000 output tokens.
    pub usd_per_1k_output: f64,
    /// Date the prices were read.
    pub price_date: String,
    /// Context window \[tokens\] (`None`: no limit).
    pub context_tokens: Option<u32>,
}

impl CloudSpec {
    /// Validates `[cloud]`, filling prices and their date from the catalogue entry of
    /// `cloud.model` where the file gives none.
    pub fn from_file(cx: &Checker, c: &CloudFile, catalogue: &ModelCatalogue) -> Result<CloudSpec> {
        cx.time_ms("cloud.rtt_ms", c.rtt_ms)?;
        cx.time_ms("cloud.ttft_ms", c.ttft_ms)?;
        cx.speed("cloud.tokens_per_s", c.tokens_per_s)?;
        let entry = catalogue.cloud_model(&c.model);
        let price = |key: &str, given: Option<f64>, listed: Option<f64>| -> Result<f64> {
            match (given, listed) {
                (Some(v), _) => cx.non_negative(&format!("cloud.{key}"), v),
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
        Ok(CloudSpec {
            context_tokens,
            enabled: c.enabled,
            model: c.model.clone(),
            rtt_ms: c.rtt_ms,
            ttft_ms: c.ttft_ms,
            tokens_per_s: c.tokens_per_s,
            usd_per_1k_input,
            usd_per_1k_output,
            price_date,
        })
    }

    /// The section as written in a resolved scenario (prices explicit).
    pub fn to_file(&self) -> CloudFile {
        CloudFile {
            enabled: self.enabled,
            model: self.model.clone(),
            rtt_ms: self.rtt_ms,
            ttft_ms: self.ttft_ms,
            tokens_per_s: self.tokens_per_s,
            usd_per_1k_input: Some(self.usd_per_1k_input),
            usd_per_1k_output: Some(self.usd_per_1k_output),
            price_date: Some(self.price_date.clone()),
            context_tokens: self.context_tokens,
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
    /// API cost of one request \[USD\].
    pub fn cost_usd(&self, prompt_tokens: u32, output_tokens: u32) -> f64 {
        crate::metrics::toolkit::cloud_cost_usd(
            prompt_tokens,
            output_tokens,
            self.usd_per_1k_input,
            self.usd_per_1k_output,
        )
    }
}
