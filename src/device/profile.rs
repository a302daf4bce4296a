//! Device profiles: the TOML files under `calibration/` (or inline in a scenario).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a device's prompt processing (prefill) shares it with decoding.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PrefillMode {
    /// llama.cpp's unified batch (llama-server with continuous batching): prompts admitted at
    /// the same instant are prefilled together in one batch (with one token of each decoding
    /// stream), later ones wait for the next batch, and decoding streams wait while a batch
    /// runs.
    #[default]
    Serial,
    /// Prefills run side by side, each at full speed, and do not slow decoding (an idealised
    /// server with separate prefill hardware; edgesim's model before version 0.2).
    Parallel,
}

impl PrefillMode {
    /// Whether this is the default, `serial`.
    pub fn is_serial(&self) -> bool {
        *self == PrefillMode::Serial
    }
    /// The TOML name.
    pub fn name(self) -> &'static str {
        match self {
            PrefillMode::Serial => "serial",
            PrefillMode::Parallel => "parallel",
        }
    }
}

/// A device profile: one board (in one power mode) and its calibrated speed for each model.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceProfile {
    /// The hardware.
    pub device: DeviceInfo,
    /// Calibrated performance of each model on this device.
    pub models: Vec<ModelPerf>,
    /// Where the figures come from (free-form; `edgesim calibrate` records its measurements here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<toml::Table>,
}

/// `\[device\]` of a profile.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceInfo {
    /// Human-readable board name.
    pub name: String,
    /// Power mode the figures were taken in (e.g. "25W").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub power_mode: String,
    /// Total memory \[GB\].
    pub memory_gb: f64,
    /// Memory available to the model and KV cache \[GB\] (default: `memory_gb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable_memory_gb: Option<f64>,
    /// Power with no request in service \[W\].
    pub idle_w: f64,
    /// Source of these figures.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// `[\[models\]]` of a profile: one model's calibrated speed and power on the device.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelPerf {
    /// Model name (a key of the model catalogue).
    pub model: String,
    /// Quantisation the figures were taken with.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub quant: String,
    /// Prompt processing speed \[tokens/s\].
    pub prefill_tps: f64,
    /// Optional prefill speed by prompt length: `[\[prompt_tokens, tokens_per_s\], ...]`,
    /// interpolated linearly and held flat beyond the ends. Overrides `prefill_tps`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefill_curve: Vec<(f64, f64)>,
    /// Fixed time added to every prefill (tokenisation, scheduling, first sample) \[ms\].
    #[serde(default)]
    pub ttft_overhead_ms: f64,
    /// How prompt processing shares the device with decoding (default `serial`, llama.cpp's
    /// unified batch).
    #[serde(default, skip_serializing_if = "PrefillMode::is_serial")]
    pub prefill_mode: PrefillMode,
    /// Aggregate decode throughput D(n) for n = 1, 2, ... concurrent streams \[tokens/s\];
    /// held at the last value beyond the list. With `decode_ms_per_1k_context` > 0 this is the
    /// speed at an empty context.
    pub decode_tps: Vec<f64>,
    /// Extra time of one decode step for every 1,000 tokens of context (KV cache) held by the
    /// decoding streams \[ms\] (default 0: decode speed independent of context length).
    #[serde(default, skip_serializing_if = "crate::check::is_default")]
    pub decode_ms_per_1k_context: f64,
    /// Power while at least one request is in service \[W\].
    pub busy_w: f64,
    /// Optional power by number of requests in service, n = 1, 2, ... \[W\]; overrides `busy_w`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub busy_w_by_streams: Vec<f64>,
    /// Source of these figures.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// The most power a profile may give one device \[W\]: a rack of servers draws some tens of
/// kilowatts, so more is a typo (`1e9`), not a board.
pub const MAX_WATTS: f64 = 100_000.0;

/// Validates a device profile (read from `path`, or inline at `key` of the scenario).
pub(crate) fn check_profile(path: &Path, key: &str, p: &DeviceProfile) -> Result<()> {
    let bad = |k: String, v: &dyn std::fmt::Display, why: &str| {
        Error::invalid(path, format!("{key}{k}"), v, why)
    };
    let pos = |k: String, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(bad(k, &v, "must be a finite number > 0"))
        }
    };
    // A finite value in [0, max]; `why` says what is allowed.
    let within = |k: String, v: f64, max: f64, why: &str| {
        if v.is_finite() && (0.0..=max).contains(&v) {
            Ok(())
        } else {
            Err(bad(k, &crate::check::num(v), why))
        }
    };
    let watts_why = format!("must be a power in watts from 0 to {MAX_WATTS}");
    let watts = |k: String, v: f64| within(k, v, MAX_WATTS, &watts_why);
    let speed = |k: String, v: f64| {
        if v.is_finite() && v >= crate::check::MIN_TOKENS_PER_S {
            Ok(())
        } else {
            Err(bad(
                k,
                &crate::check::num(v),
                &format!(
                    "must be a finite speed of at least {} tokens/s",
                    crate::check::MIN_TOKENS_PER_S
                ),
            ))
        }
    };
    // A time in ms that the simulated clock can hold ([`crate::time::MAX_INPUT_S`]).
    let max_ms = crate::time::MAX_INPUT_S * 1000.0;
    let ms_why = format!("must be a time in ms from 0 to {max_ms:e} (the simulated clock)");
    let ms = |k: String, v: f64| within(k, v, max_ms, &ms_why);
    if p.device.name.trim().is_empty() {
        return Err(bad("device.name".into(), &"\"\"", "must be non-empty"));
    }
    pos("device.memory_gb".into(), p.device.memory_gb)?;
    if let Some(u) = p.device.usable_memory_gb {
        pos("device.usable_memory_gb".into(), u)?;
        if u > p.device.memory_gb {
            return Err(bad(
                "device.usable_memory_gb".into(),
                &u,
                "must be <= device.memory_gb",
            ));
        }
    }
    watts("device.idle_w".into(), p.device.idle_w)?;
    if p.models.is_empty() {
        return Err(bad(
            "models".into(),
            &"[]",
            "a profile needs at least one [[models]] entry",
        ));
    }
    for (i, m) in p.models.iter().enumerate() {
        let k = |s: &str| format!("models[{i}].{s}");
        if m.model.trim().is_empty() {
            return Err(bad(
                k("model"),
                &"\"\"",
                "must be non-empty (a key of the model catalogue)",
            ));
        }
        speed(k("prefill_tps"), m.prefill_tps)?;
        for (j, (x, y)) in m.prefill_curve.iter().enumerate() {
            pos(k(&format!("prefill_curve[{j}][0]")), *x)?;
            speed(k(&format!("prefill_curve[{j}][1]")), *y)?;
            if let Some(i) = m.prefill_curve[..j].iter().position(|p| p.0 == *x) {
                return Err(bad(
                    k(&format!("prefill_curve[{j}][0]")),
                    &crate::check::num(*x),
                    &format!(
                        "is the prompt length of prefill_curve[{i}] too: give each length once \
                         (the curve is interpolated between lengths)"
                    ),
                ));
            }
        }
        ms(k("ttft_overhead_ms"), m.ttft_overhead_ms)?;
        if m.decode_tps.is_empty() {
            return Err(bad(
                k("decode_tps"),
                &"[]",
                "give D(1), D(2), ... in tokens/s (at least D(1))",
            ));
        }
        for (j, d) in m.decode_tps.iter().enumerate() {
            speed(k(&format!("decode_tps[{j}]")), *d)?;
        }
        ms(k("decode_ms_per_1k_context"), m.decode_ms_per_1k_context)?;
        watts(k("busy_w"), m.busy_w)?;
        for (j, w) in m.busy_w_by_streams.iter().enumerate() {
            watts(k(&format!("busy_w_by_streams[{j}]")), *w)?;
        }
    }
    Ok(())
}

/// Parses and checks profile text; `path` names it in errors.
pub fn parse_profile(text: &str, path: &Path) -> Result<DeviceProfile> {
    let p: DeviceProfile = crate::strict::from_str(text)
        .map_err(|e| crate::check::not_read_as(path, text, "a device profile", &e))?;
    check_profile(path, "", &p)?;
    Ok(p)
}

/// Reads and checks a profile file.
pub fn load_profile(path: &Path) -> Result<DeviceProfile> {
    let text = crate::check::read_text(path, "device profile", crate::check::MAX_CONFIG_BYTES)?;
    parse_profile(&text, path)
}
