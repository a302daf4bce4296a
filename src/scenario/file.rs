//! The raw scenario file: serde structs that mirror the TOML one to one.
//!
//! Every struct rejects unknown keys. Policy and distribution choices are plain `kind` strings
//! plus optional parameters, checked per kind in [`super::validate`], so that a missing or
//! misplaced key gets an error that names it. Defaults are filled in here, so serialising a
//! parsed file gives the fully explicit form written to `scenario.resolved.toml`.

use serde::{Deserialize, Serialize};

use crate::device::profile::DeviceProfile;

fn default_seed() -> u64 {
    1
}
fn default_one() -> u32 {
    1
}
fn default_queue_capacity() -> u32 {
    16
}
fn default_ctx_tokens() -> u32 {
    4096
}
fn default_true() -> bool {
    true
}

/// A whole scenario file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Scenario name (used for the default output folder); defaults to the file stem.
    #[serde(default)]
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Run seed.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Arrivals stop after this many seconds \[s\]; requests in flight then drain. Required
    /// except for trace workloads (which default to the whole trace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Path of the model catalogue; defaults to the built-in `calibration/models.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_catalogue: Option<String>,
    /// Arrival process and token demand.
    pub workload: WorkloadFile,
    /// The edge cluster.
    #[serde(default)]
    pub devices: Vec<DeviceFile>,
    /// Device selection policy.
    #[serde(default)]
    pub selection: SelectionFile,
    /// Rate limiting.
    #[serde(default)]
    pub rate_limit: RateLimitFile,
    /// What happens when a candidate device cannot take a request.
    #[serde(default)]
    pub routing: RoutingFile,
    /// The cloud fallback.
    #[serde(default)]
    pub cloud: CloudFile,
    /// Metric settings (utility weights, electricity price).
    #[serde(default)]
    pub metrics: MetricsFile,
}

/// Arrival processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadKind {
    /// Open-loop Poisson arrivals at `rate_rps`.
    Poisson,
    /// `users` closed-loop users with exponential think time.
    Closed,
    /// On/off modulated Poisson arrivals.
    Bursty,
    /// Replay of a CSV trace.
    Trace,
}

/// `\[workload\]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadFile {
    /// Arrival process.
    pub kind: WorkloadKind,
    /// Poisson rate \[requests/s\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_rps: Option<f64>,
    /// Closed loop: number of users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u32>,
    /// Closed loop: mean think time between a response and the user's next request \[s\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_time_s: Option<f64>,
    /// Bursty: rate outside bursts \[requests/s\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_rate_rps: Option<f64>,
    /// Bursty: rate during bursts \[requests/s\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_rate_rps: Option<f64>,
    /// Bursty: length of each burst \[s\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_length_s: Option<f64>,
    /// Bursty: time from one burst start to the next \[s\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_period_s: Option<f64>,
    /// Bursty: start of the first burst \[s\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_start_s: Option<f64>,
    /// Trace: CSV file (relative to the scenario file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Trace: multiply every inter-arrival gap by this factor (0.5 = twice the rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    /// Trace: replay at most this many requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<u64>,
    /// Prompt tokens per request (not for traces, which carry their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<TokenDistFile>,
    /// Output tokens per request (not for traces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<TokenDistFile>,
    /// Request classes (e.g. math vs chat); default: one class "default".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassFile>,
}

/// `[\[workload.classes\]]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassFile {
    /// Class name.
    pub name: String,
    /// Relative share of requests.
    #[serde(default = "default_share")]
    pub share: f64,
    /// Task the class measures quality on (a key of the model catalogue's `quality` tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Prompt tokens of this class (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<TokenDistFile>,
    /// Output tokens of this class (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<TokenDistFile>,
}

fn default_share() -> f64 {
    1.0
}

/// Token-count distributions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistKind {
    /// Always `value`.
    Fixed,
    /// Uniform integers in `\[min, max\]`.
    Uniform,
    /// Lognormal with `median` and `sigma` (of the log), clamped to `\[min, max\]`.
    Lognormal,
    /// Exponential with `mean`, rounded up to a whole token, clamped to `\[min, max\]`.
    Exponential,
    /// `values` with `weights`, or a column of a trace file.
    Empirical,
}

/// A token-count distribution, e.g. `{ dist = "lognormal", median = 180, sigma = 0.6 }`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenDistFile {
    /// Distribution family.
    pub dist: DistKind,
    /// Fixed: the value \[tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<u32>,
    /// Lower bound / clamp \[tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// Upper bound / clamp \[tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// Lognormal median \[tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median: Option<f64>,
    /// Lognormal sigma (standard deviation of ln tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
    /// Exponential mean \[tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Empirical values \[tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<u32>>,
    /// Empirical weights (default: equal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
    /// Empirical: a trace CSV to take the values from (relative to the scenario file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// Empirical from a trace: the column (`ContextTokens` or `GeneratedTokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

/// `[\[devices\]]`: one device, or `count` identical ones.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceFile {
    /// Name; with `count > 1` the devices are `name-1`, `name-2`, ...
    pub name: String,
    /// Number of identical devices.
    #[serde(default = "default_one")]
    pub count: u32,
    /// Device profile file (relative to the scenario file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// A device profile written inline instead of `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<DeviceProfile>,
    /// Model served (a name in the model catalogue, calibrated in the profile).
    pub model: String,
    /// Parallel slots P (llama-server `--parallel`).
    #[serde(default = "default_one")]
    pub slots: u32,
    /// Waiting-queue capacity (0: no waiting).
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: u32,
    /// Context size per slot \[tokens\] (for the KV-cache memory check).
    #[serde(default = "default_ctx_tokens")]
    pub ctx_tokens: u32,
    /// Weight for `weighted` selection (default: single-stream decode speed D(1)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

/// Selection policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SelectionKind {
    /// Uniformly random device.
    Random,
    /// Random with probability proportional to capability.
    Weighted,
    /// Least loaded device.
    #[default]
    LoadAware,
    /// Devices in turn.
    RoundRobin,
    /// Less loaded of two random devices.
    PowerOfTwo,
}

impl SelectionKind {
    /// Every policy, in documentation order.
    pub const ALL: [SelectionKind; 5] = [
        SelectionKind::Random,
        SelectionKind::Weighted,
        SelectionKind::LoadAware,
        SelectionKind::RoundRobin,
        SelectionKind::PowerOfTwo,
    ];

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            SelectionKind::Random => "random",
            SelectionKind::Weighted => "weighted",
            SelectionKind::LoadAware => "load_aware",
            SelectionKind::RoundRobin => "round_robin",
            SelectionKind::PowerOfTwo => "power_of_two",
        }
    }
}

impl std::str::FromStr for SelectionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SelectionKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = SelectionKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown selection policy \"{s}\"; known: {}",
                    names.join(", ")
                )
            })
    }
}

/// `\[selection\]`.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SelectionFile {
    /// Policy.
    #[serde(default)]
    pub kind: SelectionKind,
}

/// Rate limiters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitKind {
    /// No limit.
    #[default]
    None,
    /// At most `limit` per `window_s` (the paper's).
    SlidingWindow,
    /// Bucket of `limit` refilled at `refill_per_s`.
    TokenBucket,
    /// At most `limit` in service at once.
    Concurrency,
}

/// What a rate limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LimitUnit {
    /// Requests.
    #[default]
    Requests,
    /// Prompt plus output tokens.
    Tokens,
}

/// Where a rate limit applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    /// One limit per device (the paper's).
    #[default]
    Device,
    /// One limit shared by the whole cluster.
    Cluster,
}

/// `\[rate_limit\]`.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFile {
    /// Limiter.
    #[serde(default)]
    pub kind: RateLimitKind,
    /// What is counted.
    #[serde(default)]
    pub unit: LimitUnit,
    /// Per device or per cluster.
    #[serde(default)]
    pub scope: LimitScope,
    /// Sliding window length \[s\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_s: Option<f64>,
    /// Limit: per window, bucket size, or concurrent requests \[requests or tokens\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// Token bucket refill rate \[units/s\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill_per_s: Option<f64>,
}

/// `\[routing\]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingFile {
    /// Edge candidates tried per request before the cloud (1 = no retry).
    #[serde(default = "default_one")]
    pub max_attempts: u32,
    /// Network round trip between gateway and edge devices \[ms\].
    #[serde(default)]
    pub edge_rtt_ms: f64,
}

impl Default for RoutingFile {
    fn default() -> Self {
        RoutingFile {
            max_attempts: 1,
            edge_rtt_ms: 0.0,
        }
    }
}

/// `\[cloud\]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudFile {
    /// Whether requests the edge cannot take go to the cloud (else they are rejected).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Cloud model name (reported; also a key for quality in the catalogue).
    #[serde(default = "default_cloud_model")]
    pub model: String,
    /// Round trip from the gateway to the API \[ms\].
    #[serde(default = "default_cloud_rtt_ms")]
    pub rtt_ms: f64,
    /// Server-side time to first token \[ms\].
    #[serde(default = "default_cloud_ttft_ms")]
    pub ttft_ms: f64,
    /// Streaming speed after the first token \[tokens/s\].
    #[serde(default = "default_cloud_tps")]
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
}

fn default_cloud_model() -> String {
    "gpt-4".into()
}
fn default_cloud_rtt_ms() -> f64 {
    150.0
}
fn default_cloud_ttft_ms() -> f64 {
    600.0
}
fn default_cloud_tps() -> f64 {
    40.0
}

impl Default for CloudFile {
    fn default() -> Self {
        CloudFile {
            enabled: true,
            model: default_cloud_model(),
            rtt_ms: default_cloud_rtt_ms(),
            ttft_ms: default_cloud_ttft_ms(),
            tokens_per_s: default_cloud_tps(),
            usd_per_1k_input: None,
            usd_per_1k_output: None,
            price_date: None,
        }
    }
}

/// `\[metrics\]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// Weight of quality in utility U = a*Q + (1-a)*R.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Electricity price \[US cents per kWh\].
    #[serde(default = "default_cents_per_kwh")]
    pub electricity_cents_per_kwh: f64,
    /// TTFT at which responsiveness R falls to 1/2 \[ms\].
    #[serde(default = "default_ttft_ref_ms")]
    pub ttft_ref_ms: f64,
    /// Task whose catalogue quality is Q for classes that name none.
    #[serde(default = "default_task")]
    pub task: String,
}

fn default_task() -> String {
    "gsm8k".into()
}

fn default_alpha() -> f64 {
    0.5
}
fn default_cents_per_kwh() -> f64 {
    25.0
}
fn default_ttft_ref_ms() -> f64 {
    1000.0
}

impl Default for MetricsFile {
    fn default() -> Self {
        MetricsFile {
            alpha: default_alpha(),
            electricity_cents_per_kwh: default_cents_per_kwh(),
            ttft_ref_ms: default_ttft_ref_ms(),
            task: default_task(),
        }
    }
}
