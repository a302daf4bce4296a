//! The raw scenario file: serde structs that mirror the TOML one to one.
//!
//! Every struct rejects unknown keys. Each section's type belongs to the extension point it
//! configures (`workload`, `policy::selection`, `policy::rate_limit`, `cloud`, `metrics`,
//! `device::fleet`); polymorphic sections are tagged by `kind`, so each kind accepts exactly
//! its own keys. Serialising a scenario's [`super::Scenario::to_file`] gives the fully explicit
//! form written to `scenario.resolved.toml`.

use serde::{Deserialize, Serialize};

use crate::cloud::CloudFile;
use crate::device::DeviceFile;
use crate::metrics::settings::MetricsFile;
use crate::policy::rate_limit::RateLimitFile;
use crate::policy::selection::SelectionFile;
use crate::sim::RoutingFile;
use crate::workload::WorkloadFile;

fn default_seed() -> u64 {
    1
}

/// A whole scenario file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
