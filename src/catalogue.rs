//! The model catalogue: each model's size, memory need and quality per task
//! (`calibration/models.toml`, built into the binary as the default).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// The catalogue shipped in `calibration/models.toml`.
pub const BUILTIN: &str = include_str!("../calibration/models.toml");

/// A model catalogue file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelCatalogue {
    /// Models that run on edge devices (GGUF under llama.cpp).
    #[serde(default)]
    pub models: Vec<ModelEntry>,
    /// Cloud models (API): quality, prices, context and latency presets, each the default of
    /// a scenario's `[cloud]` that names the model.
    #[serde(default)]
    pub cloud_models: Vec<CloudModelEntry>,
    /// The file it was read from (`calibration/models.toml` for the built-in one), for errors.
    #[serde(skip)]
    pub source: std::path::PathBuf,
}

/// One edge model.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Name used by scenarios and profiles, e.g. `qwen2.5-3b`.
    pub name: String,
    /// Parameters \[billions\].
    pub params_b: f64,
    /// Quantisation.
    pub quant: String,
    /// Memory for weights and runtime buffers \[GB\].
    pub memory_gb: f64,
    /// KV-cache memory per 1000 tokens of context \[MB\].
    pub kv_mb_per_1k_tokens: f64,
    /// Quality per task (e.g. `gsm8k` pass@1 in \[0, 1\]).
    #[serde(default)]
    pub quality: BTreeMap<String, f64>,
    /// Longest context the model was trained for \[tokens\] (a device's `ctx_tokens` may not
    /// exceed it); `None`: not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u32>,
    /// Sources of these figures.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// One cloud model.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudModelEntry {
    /// Name, e.g. `gpt-4`.
    pub name: String,
    /// List price of input tokens \[USD per 1000 tokens\].
    pub usd_per_1k_input: f64,
    /// List price of output tokens \[USD per 1000 tokens\].
    pub usd_per_1k_output: f64,
    /// When the prices were read, and from where.
    pub price_date: String,
    /// Context window \[tokens\]: a request whose prompt and output exceed it is refused
    /// (rejected); `None`: not recorded, no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u32>,
    /// Price of cached prompt tokens \[USD per 1000 tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd_per_1k_cached: Option<f64>,
    /// Measured server-side TTFT: a constant or `{ p50, p95, p99 }` \[ms\] (the preset a
    /// scenario's `[cloud]` uses when it gives no `ttft_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<crate::cloud::latency::LatencyFile>,
    /// Measured median output speed \[tokens/s\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_s: Option<f64>,
    /// Where and when the latency preset was measured.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub latency_source: String,
    /// Quality per task.
    #[serde(default)]
    pub quality: BTreeMap<String, f64>,
    /// Sources.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

impl ModelCatalogue {
    /// Parses catalogue text; `path` names it in errors. Every figure is checked with the
    /// rules scenarios follow: finite, in range.
    pub fn parse(text: &str, path: &Path) -> Result<ModelCatalogue> {
        let mut cat: ModelCatalogue = crate::strict::from_str(text)
            .map_err(|e| crate::check::not_read_as(path, text, "a model catalogue", &e))?;
        cat.source = path.to_path_buf();
        let cx = crate::check::Checker::new(path);
        let quality = |key: &dyn Fn(&str) -> String, q: &BTreeMap<String, f64>| -> Result<()> {
            for (task, v) in q {
                // A task is named by classes and `metrics.task`: a blank name is a mistake.
                if task.trim().is_empty() || task.chars().any(char::is_control) {
                    return Err(cx.bad(
                        key("quality"),
                        format!("\"{}\"", task.escape_debug()),
                        "task names must be non-blank, without control characters (e.g. gsm8k)",
                    ));
                }
                cx.fraction(&key(&format!("quality.{task}")), *v)?;
            }
            Ok(())
        };
        let context = |key: String, c: Option<u32>| match c {
            Some(0) => Err(cx.bad(key, 0, "must be >= 1 token (leave it out if unknown)")),
            _ => Ok(()),
        };
        let mut names = std::collections::BTreeSet::new();
        for (i, m) in cat.models.iter().enumerate() {
            let key = |k: &str| format!("models[{i}].{k}");
            if m.name.trim().is_empty() || !names.insert(m.name.clone()) {
                return Err(cx.bad(
                    key("name"),
                    format!("\"{}\"", m.name),
                    "model names must be non-empty and unique",
                ));
            }
            cx.positive(&key("params_b"), m.params_b)?;
            cx.positive(&key("memory_gb"), m.memory_gb)?;
            cx.non_negative(&key("kv_mb_per_1k_tokens"), m.kv_mb_per_1k_tokens)?;
            quality(&key, &m.quality)?;
            context(key("context_tokens"), m.context_tokens)?;
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, m) in cat.cloud_models.iter().enumerate() {
            let key = |k: &str| format!("cloud_models[{i}].{k}");
            if m.name.trim().is_empty() || !names.insert(m.name.clone()) {
                return Err(cx.bad(
                    key("name"),
                    format!("\"{}\"", m.name),
                    "cloud model names must be non-empty and unique",
                ));
            }
            cx.price(
                &key("usd_per_1k_input"),
                m.usd_per_1k_input,
                crate::check::MAX_USD_PER_1K_TOKENS,
                "USD per 1,000 tokens",
            )?;
            cx.price(
                &key("usd_per_1k_output"),
                m.usd_per_1k_output,
                crate::check::MAX_USD_PER_1K_TOKENS,
                "USD per 1,000 tokens",
            )?;
            if let Some(v) = m.usd_per_1k_cached {
                cx.price(
                    &key("usd_per_1k_cached"),
                    v,
                    crate::check::MAX_USD_PER_1K_TOKENS,
                    "USD per 1,000 tokens",
                )?;
            }
            if let Some(t) = &m.ttft_ms {
                t.validate(&cx, &key("ttft_ms"))?;
            }
            if let Some(v) = m.tokens_per_s {
                cx.speed(&key("tokens_per_s"), v)?;
            }
            quality(&key, &m.quality)?;
            context(key("context_tokens"), m.context_tokens)?;
        }
        Ok(cat)
    }

    /// Loads a catalogue file.
    pub fn load(path: &Path) -> Result<ModelCatalogue> {
        let text =
            crate::check::read_text(path, "model catalogue", crate::check::MAX_CONFIG_BYTES)?;
        Self::parse(&text, path)
    }

    /// The built-in catalogue.
    pub fn builtin() -> ModelCatalogue {
        #[allow(clippy::expect_used)]
        Self::parse(BUILTIN, Path::new("calibration/models.toml"))
            .expect("the built-in catalogue is checked by a unit test")
    }

    /// The built-in catalogue, parsed once per process (a sweep's or a plan's points each
    /// validate a scenario: parsing it for each took half of a large sweep's loading).
    pub fn builtin_shared() -> Arc<ModelCatalogue> {
        static BUILTIN_CATALOGUE: OnceLock<Arc<ModelCatalogue>> = OnceLock::new();
        Arc::clone(BUILTIN_CATALOGUE.get_or_init(|| Arc::new(Self::builtin())))
    }

    /// The edge model called `name`.
    pub fn model(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The cloud model called `name`.
    pub fn cloud_model(&self, name: &str) -> Option<&CloudModelEntry> {
        self.cloud_models.iter().find(|m| m.name == name)
    }

    /// Names of all edge models, comma-separated (for error messages).
    pub fn model_names(&self) -> String {
        let names: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
        names.join(", ")
    }

    /// Names of all cloud models, comma-separated (for error messages).
    pub fn cloud_model_names(&self) -> String {
        let names: Vec<&str> = self.cloud_models.iter().map(|m| m.name.as_str()).collect();
        names.join(", ")
    }

    /// Checks that some model has a quality figure for `task`; the error says why not and
    /// lists the known tasks (for a message that names where `task` was given).
    pub fn check_task(&self, task: &str) -> std::result::Result<(), String> {
        let tasks = self.tasks();
        if tasks.contains(task) {
            return Ok(());
        }
        let list = tasks.into_iter().collect::<Vec<_>>().join(", ");
        Err(format!(
            "no model in the catalogue has a quality figure for it; known tasks: {list}"
        ))
    }

    /// Every task that some model has a quality figure for.
    pub fn tasks(&self) -> std::collections::BTreeSet<&str> {
        self.models
            .iter()
            .flat_map(|m| m.quality.keys())
            .chain(self.cloud_models.iter().flat_map(|m| m.quality.keys()))
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_parses_and_has_the_papers_models() {
        let c = ModelCatalogue::builtin();
        for m in [
            "qwen2.5-0.5b",
            "qwen2.5-1.5b",
            "qwen2.5-3b",
            "qwen2.5-7b",
            "qwen2-math-1.5b",
        ] {
            let e = c.model(m).unwrap_or_else(|| panic!("{m} missing"));
            assert!(e.quality.contains_key("gsm8k"), "{m} has no gsm8k quality");
        }
        assert!(c.cloud_model("gpt-4").is_some());
    }
}
