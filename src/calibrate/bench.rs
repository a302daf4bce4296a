//! Importing llama.cpp's `llama-bench -o json` (or `-o jsonl`) output.
//!
//! Prompt-processing tests (`n_prompt > 0, n_gen = 0`) become prefill points (TTFT of each
//! sample = n_prompt / samples_ts); text-generation tests (`n_prompt = 0, n_gen > 0`) give the
//! single-stream decode speed D(1), one point per (depth, n_gen) with a mean context of
//! `n_depth + (n_gen + 1) / 2` tokens; tests at several depths (`llama-bench -d 0,512`) give
//! the context effect γ. llama-bench runs one sequence, so the profile has no batching curve:
//! D(n) = D(1) for all n (use `edgesim calibrate --model` to measure D(n)).

use std::path::Path;

use serde::Deserialize;

use super::{DecodePoint, Measurements, PrefillPoint};
use crate::error::{Error, Result};

/// One llama-bench result (the fields edgesim reads; others are ignored).
#[derive(Clone, Debug, Deserialize)]
pub struct BenchEntry {
    /// llama.cpp build commit.
    #[serde(default)]
    pub build_commit: String,
    /// llama.cpp build number.
    #[serde(default)]
    pub build_number: i64,
    /// CPU description.
    #[serde(default)]
    pub cpu_info: String,
    /// GPU description.
    #[serde(default)]
    pub gpu_info: String,
    /// Backends (CPU, CUDA, ...).
    #[serde(default)]
    pub backends: String,
    /// Model file.
    pub model_filename: String,
    /// Model description, e.g. "qwen2 3B Q4_K - Medium".
    #[serde(default)]
    pub model_type: String,
    /// Model file size \[bytes\].
    #[serde(default)]
    pub model_size: u64,
    /// Threads.
    #[serde(default)]
    pub n_threads: i64,
    /// GPU layers.
    #[serde(default)]
    pub n_gpu_layers: i64,
    /// Prompt tokens of the test.
    pub n_prompt: u32,
    /// Generated tokens of the test.
    pub n_gen: u32,
    /// Context depth before the test.
    #[serde(default)]
    pub n_depth: u32,
    /// When the test ran.
    #[serde(default)]
    pub test_time: String,
    /// Mean tokens per second.
    pub avg_ts: f64,
    /// Tokens per second of each repetition.
    #[serde(default)]
    pub samples_ts: Vec<f64>,
}

/// Reads a llama-bench JSON array or JSON-lines file.
pub fn read(path: &Path) -> Result<Vec<BenchEntry>> {
    let text = crate::check::read_text(path, "llama-bench output", crate::check::MAX_DATA_BYTES)?;
    let t = text.trim_start();
    if t.starts_with('[') {
        let syntax = |message: String| Error::Syntax {
            path: path.into(),
            message: format!("not llama-bench JSON (`llama-bench -o json`): {message}"),
        };
        let entries = serde_json::from_str(t).map_err(|e| syntax(e.to_string()))?;
        // serde reads a struct from an array too, binding the values to the fields in order:
        // a record must be an object, as llama-bench writes it.
        let values: Vec<serde_json::Value> =
            serde_json::from_str(t).map_err(|e| syntax(e.to_string()))?;
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_object()) {
            return Err(syntax(format!(
                "record {} is {}, not an object of named fields",
                i + 1,
                json_kind(v)
            )));
        }
        Ok(entries)
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                let bad = |problem: String| Error::Line {
                    path: path.into(),
                    line: i + 1,
                    problem: format!(
                        "not a llama-bench JSONL record (`llama-bench -o jsonl`): {problem}"
                    ),
                };
                if !l.trim_start().starts_with('{') {
                    return Err(bad("a record is an object of named fields, `{...}`".into()));
                }
                serde_json::from_str(l).map_err(|e| bad(e.to_string()))
            })
            .collect()
    }
}

/// What a JSON value is, for an error message.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Turns entries into measurements, keeping those of one configuration: `threads` and
/// `gpu_layers` pick one when the file holds several. Returns the entries used too.
pub fn to_measurements(
    path: &Path,
    entries: &[BenchEntry],
    threads: Option<i64>,
    gpu_layers: Option<i64>,
) -> Result<(Measurements, Vec<BenchEntry>)> {
    let keep: Vec<BenchEntry> = entries
        .iter()
        .filter(|e| threads.is_none_or(|t| e.n_threads == t))
        .filter(|e| gpu_layers.is_none_or(|g| e.n_gpu_layers == g))
        // Prompt tests on an empty cache; generation tests at any depth (context effect).
        .filter(|e| e.n_depth == 0 || e.n_prompt == 0)
        .cloned()
        .collect();
    let mut configs: Vec<(String, i64, i64)> = keep
        .iter()
        .map(|e| (e.model_filename.clone(), e.n_threads, e.n_gpu_layers))
        .collect();
    configs.sort();
    configs.dedup();
    let bad = |problem: String| Error::Output {
        path: path.into(),
        problem,
    };
    match configs.len() {
        0 => return Err(bad(
            "no llama-bench result matches (with n_depth 0 and the given --threads/--gpu-layers)"
                .into(),
        )),
        1 => {}
        _ => {
            let list: Vec<String> = configs
                .iter()
                .map(|(m, t, g)| format!("{m} with {t} threads, {g} GPU layers"))
                .collect();
            return Err(bad(format!(
                "holds several configurations ({}); pick one with --threads and --gpu-layers \
                 (or split the file per model)",
                list.join("; ")
            )));
        }
    }
    let samples = |e: &BenchEntry| {
        if e.samples_ts.is_empty() {
            vec![e.avg_ts]
        } else {
            e.samples_ts.clone()
        }
    };
    let mut m = Measurements::default();
    let max = crate::workload::tokens::MAX_TOKENS;
    for e in &keep {
        let test = format!("test pp{} tg{} d{}", e.n_prompt, e.n_gen, e.n_depth);
        // A speed of 0 made a TTFT of inf, a negative one a negative TTFT, and one of 1e-300
        // a curve point no profile may hold: every speed is one a profile may hold.
        let min = crate::check::MIN_TOKENS_PER_S;
        let speed = |ts: f64| ts.is_finite() && ts >= min;
        if !speed(e.avg_ts) {
            return Err(bad(format!(
                "avg_ts = {} for {test}: must be a speed of at least {min} tokens/s",
                crate::check::num(e.avg_ts)
            )));
        }
        if let Some((i, ts)) = e.samples_ts.iter().enumerate().find(|(_, ts)| !speed(**ts)) {
            return Err(bad(format!(
                "samples_ts[{i}] = {} for {test}: every sample must be a speed of at least {min} \
                 tokens/s",
                crate::check::num(*ts)
            )));
        }
        for (key, n) in [
            ("n_prompt", e.n_prompt),
            ("n_gen", e.n_gen),
            ("n_depth", e.n_depth),
        ] {
            if n > max {
                return Err(bad(format!(
                    "{key} = {n} for {test}: more than the {max} tokens a request may hold"
                )));
            }
        }
        match (e.n_prompt, e.n_gen) {
            (p, 0) if p > 0 => {
                // Repeated tests of one prompt length are pooled into one point, as the curve
                // holds one speed per length.
                let ttft: Vec<f64> = samples(e).iter().map(|ts| f64::from(p) / ts).collect();
                match m.prefill.iter_mut().find(|x| x.prompt_tokens == p) {
                    Some(x) => x.ttft_s.extend(ttft),
                    None => m.prefill.push(PrefillPoint {
                        prompt_tokens: p,
                        ttft_s: ttft,
                    }),
                }
            }
            (0, g) if g > 0 => {
                // Repeated tests of one (depth, n_gen) are pooled into one point.
                let context = f64::from(e.n_depth) + (f64::from(g) + 1.0) / 2.0;
                match m
                    .decode
                    .iter_mut()
                    .find(|d| d.mean_context_tokens == context)
                {
                    Some(d) => d.tokens_per_s.extend(samples(e)),
                    None => m.decode.push(DecodePoint {
                        streams: 1,
                        mean_context_tokens: context,
                        tokens_per_s: samples(e),
                        power_w: None,
                    }),
                }
            }
            _ => {} // combined pp+tg tests are not used
        }
    }
    if m.prefill.is_empty() || m.decode.is_empty() {
        return Err(bad(format!(
            "needs both a prompt-processing test (-p N) and a generation test (-n N); found {} and {}",
            m.prefill.len(),
            m.decode.len()
        )));
    }
    m.decode
        .sort_by(|a, b| a.mean_context_tokens.total_cmp(&b.mean_context_tokens));
    m.prefill.sort_by_key(|p| p.prompt_tokens);
    Ok((m, keep))
}
