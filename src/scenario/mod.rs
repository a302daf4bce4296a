//! Scenarios: a TOML file, `--set` overrides, then validation into an immutable [`Scenario`].
//!
//! Loading has two phases (raw, then validated): [`file::ScenarioFile`] mirrors the TOML and
//! rejects unknown keys; [`validate`] checks ranges and cross-key rules, loads device profiles,
//! the model catalogue and traces, and builds a [`Scenario`]. A run never sees the raw form.

pub mod file;
pub mod overrides;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalogue::ModelCatalogue;
use crate::device::DeviceModel;
use crate::error::{Error, Result};
use crate::time::{SimDuration, SimTime};
use crate::workload::bursty::BurstSchedule;
use crate::workload::{ClassSpec, TraceRow};
use file::{LimitScope, LimitUnit, RateLimitKind, ScenarioFile, SelectionKind};

pub use validate::{load_profile, validate};

/// A validated, immutable scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// Run seed.
    pub seed: u64,
    /// The file it was loaded from.
    pub source: PathBuf,
    /// Arrivals stop after this time.
    pub horizon: SimTime,
    /// Arrival process.
    pub workload: WorkloadSpec,
    /// Request classes (at least one).
    pub classes: Vec<ClassSpec>,
    /// Edge devices, one entry per device (counts expanded).
    pub devices: Vec<DeviceSpec>,
    /// Selection policy.
    pub selection: SelectionKind,
    /// Rate limiting.
    pub rate_limit: RateLimitSpec,
    /// Edge candidates tried per request.
    pub max_attempts: u32,
    /// Gateway-to-edge round trip.
    pub edge_rtt: SimDuration,
    /// Cloud fallback.
    pub cloud: CloudSpec,
    /// Metric settings.
    pub metrics: MetricsSpec,
    /// Model catalogue in use.
    pub catalogue: Arc<ModelCatalogue>,
    /// Fully explicit form of what runs (profiles inlined, paths absolute, defaults filled).
    pub resolved: ScenarioFile,
}

/// A validated arrival process.
#[derive(Clone, Debug)]
pub enum WorkloadSpec {
    /// Poisson arrivals \[requests/s\].
    Poisson {
        /// Rate.
        rate_rps: f64,
    },
    /// Closed-loop users.
    Closed {
        /// Users.
        users: u32,
        /// Mean think time \[s\].
        think_time_s: f64,
    },
    /// On/off modulated Poisson.
    Bursty(BurstSchedule),
    /// Trace replay.
    Trace {
        /// Rows.
        rows: Arc<Vec<TraceRow>>,
        /// Inter-arrival scale factor.
        time_scale: f64,
        /// Row limit.
        max_requests: Option<u64>,
    },
}

/// One edge device.
#[derive(Clone, Debug)]
pub struct DeviceSpec {
    /// Unique name.
    pub name: String,
    /// Board name from the profile.
    pub board: String,
    /// Model served.
    pub model: String,
    /// Calibrated behaviour.
    pub perf: Arc<dyn DeviceModel>,
    /// Parallel slots.
    pub slots: u32,
    /// Waiting-queue capacity.
    pub queue_capacity: u32,
    /// Weight for weighted selection.
    pub weight: f64,
}

/// A validated rate limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimitSpec {
    /// Limiter.
    pub kind: RateLimitKind,
    /// What is counted.
    pub unit: LimitUnit,
    /// Where it applies.
    pub scope: LimitScope,
    /// Sliding window length.
    pub window: SimDuration,
    /// The limit.
    pub limit: f64,
    /// Token-bucket refill \[units/s\].
    pub refill_per_s: f64,
}

/// The cloud fallback.
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
}

impl CloudSpec {
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

/// Metric settings.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsSpec {
    /// Weight of quality in U.
    pub alpha: f64,
    /// Electricity price \[cents/kWh\].
    pub electricity_cents_per_kwh: f64,
    /// TTFT at which R = 1/2 \[ms\].
    pub ttft_ref_ms: f64,
    /// Default task for quality Q.
    pub task: String,
}

/// Options applied on top of the file.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `key.path=value` overrides, in order.
    pub sets: Vec<String>,
    /// Seed override.
    pub seed: Option<u64>,
}

impl Scenario {
    /// Loads, overrides and validates a scenario file.
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.into(),
            action: "cannot read scenario",
            source,
        })?;
        Self::from_str_at(&text, path, opts)
    }

    /// Parses scenario text as if read from `path` (relative paths resolve against its folder).
    pub fn from_str_at(text: &str, path: &Path, opts: &LoadOptions) -> Result<Scenario> {
        let syntax = |message: String| Error::Syntax {
            path: path.into(),
            message,
        };
        let file: ScenarioFile = if opts.sets.is_empty() && opts.seed.is_none() {
            toml::from_str(text).map_err(|e| syntax(e.to_string()))?
        } else {
            let mut doc =
                toml::Value::Table(toml::from_str(text).map_err(|e| syntax(e.to_string()))?);
            for arg in &opts.sets {
                let (key, value) = overrides::parse_set(arg)?;
                overrides::apply(&mut doc, arg, &key, value)?;
            }
            if let Some(seed) = opts.seed {
                let seed = i64::try_from(seed).map_err(|_| Error::Override {
                    arg: format!("--seed {seed}"),
                    problem: format!("seeds must be at most {}", i64::MAX),
                })?;
                overrides::apply(
                    &mut doc,
                    "--seed",
                    &["seed".into()],
                    toml::Value::Integer(seed),
                )?;
            }
            // Re-serialise so that schema errors quote the offending line.
            let edited = toml::to_string(&doc).map_err(|e| syntax(e.to_string()))?;
            toml::from_str(&edited)
                .map_err(|e| syntax(format!("(after --set/--seed overrides) {e}")))?
        };
        validate(file, path)
    }

    /// The resolved scenario as TOML text.
    pub fn resolved_toml(&self) -> String {
        toml::to_string(&self.resolved).unwrap_or_else(|e| format!("# cannot serialise: {e}\n"))
    }
}
