//! The paper's platform comparison (Table I): for each (device, model) of the shipped profiles
//! and each cloud model, one response of a stated length, without a workload.

use std::path::Path;

use serde::Serialize;

use crate::catalogue::ModelCatalogue;
use crate::device::profile::DeviceProfile;
use crate::device::source::{ProfileSource, SHIPPED};
use crate::device::{CalibratedDevice, DeviceModel};
use crate::error::{Error, Result};
use crate::metrics::settings::{
    DEFAULT_ALPHA, DEFAULT_CENTS_PER_KWH, DEFAULT_TASK, DEFAULT_TTFT_REF_MS,
};
use crate::metrics::toolkit;

/// The response the comparison prices, and the metric settings.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformParams {
    /// Prompt tokens of the response.
    pub prompt_tokens: u32,
    /// Output tokens of the response.
    pub output_tokens: u32,
    /// Weight of quality in U.
    pub alpha: f64,
    /// Task whose quality is Q.
    pub task: String,
    /// Electricity price \[cents/kWh\].
    pub cents_per_kwh: f64,
    /// TTFT at which R = 1/2 \[ms\].
    pub ttft_ref_ms: f64,
}

impl Default for PlatformParams {
    /// The Table I workload derived in `docs/metrics.md`: 50 prompt + 250 output tokens.
    fn default() -> Self {
        PlatformParams {
            prompt_tokens: 50,
            output_tokens: 250,
            alpha: DEFAULT_ALPHA,
            task: DEFAULT_TASK.into(),
            cents_per_kwh: DEFAULT_CENTS_PER_KWH,
            ttft_ref_ms: DEFAULT_TTFT_REF_MS,
        }
    }
}

/// One platform's figures for one response.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PlatformRow {
    /// `device / model` or `cloud / model`.
    pub name: String,
    /// The profile as a scenario's `devices[].profile` names it: a shipped profile's name
    /// (`jetson-orin-nano`) or, with `--calibration DIR`, the file's path; `None` for a cloud.
    pub profile: Option<String>,
    /// Single-stream generation speed \[tokens/s\].
    pub tokens_per_s: f64,
    /// Time to first token \[ms\].
    pub ttft_ms: f64,
    /// Busy power \[W\] (edge only).
    pub power_w: Option<f64>,
    /// Energy per response \[J\] (edge only).
    pub energy_per_query_j: Option<f64>,
    /// Cost per response \[US cents\].
    pub cpr_cents: f64,
    /// Quality on the task (Q), if the catalogue has it.
    pub quality: Option<f64>,
    /// Responsiveness R.
    pub responsiveness: f64,
    /// Utility U = a*Q + (1-a)*R.
    pub utility: Option<f64>,
    /// PCR = U / CPR \[per cent\].
    pub pcr: Option<f64>,
    /// The model's context window \[tokens\], if the catalogue has it: a response longer than
    /// it (prompt + output) cannot be served there.
    pub context_tokens: Option<u32>,
}

/// Fills R, U and PCR of a row whose speed, TTFT, cost and quality are set.
fn finish(p: &PlatformParams, mut row: PlatformRow) -> PlatformRow {
    row.responsiveness = toolkit::responsiveness(row.ttft_ms, p.ttft_ref_ms);
    row.utility = row
        .quality
        .map(|q| toolkit::utility(p.alpha, q, row.responsiveness));
    row.pcr = row.utility.and_then(|u| toolkit::pcr(u, row.cpr_cents));
    row
}

/// The profiles in `dir` (all `*.toml` but `models.toml`, by file name), or the shipped ones,
/// each with the name a scenario's `devices[].profile` gives it (a shipped profile's name, or
/// the file's path).
pub fn profiles(dir: Option<&Path>) -> Result<Vec<(String, DeviceProfile)>> {
    let Some(dir) = dir else {
        return SHIPPED
            .iter()
            .map(|(name, _)| Ok((name.to_string(), ProfileSource::Shipped(name).load()?)))
            .collect();
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(Error::io(dir, "cannot list this folder of profiles"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| {
            f.extension().is_some_and(|e| e == "toml")
                && f.file_name().is_some_and(|n| n != "models.toml")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Input {
            path: dir.into(),
            problem: "holds no device profile (*.toml)".into(),
        });
    }
    files
        .iter()
        .map(|f| Ok((f.display().to_string(), crate::device::load_profile(f)?)))
        .collect()
}

/// Compares every model of every profile (those in `dir`, or the shipped ones) and every cloud
/// model of the catalogue. A cloud model's latency and speed are what a scenario's `[cloud]`
/// naming only that model uses: the default round trip plus the model's preset TTFT (its
/// median, for measured quantiles), else the defaults.
pub fn compare(
    dir: Option<&Path>,
    catalogue: &ModelCatalogue,
    p: &PlatformParams,
) -> Result<Vec<PlatformRow>> {
    let mut rows = Vec::new();
    for (profile_name, profile) in profiles(dir)? {
        for m in &profile.models {
            let dev = CalibratedDevice::new(&profile.device, m);
            let ttft_s = dev.prefill_s(p.prompt_tokens);
            let secs = ttft_s
                + dev.decode_alone_s(
                    p.prompt_tokens.saturating_add(1),
                    p.output_tokens.saturating_sub(1),
                );
            let power = dev.busy_w(1);
            let energy = power * secs;
            let entry = catalogue.model(&m.model);
            let q = entry.and_then(|e| e.quality.get(&p.task).copied());
            let cpr = toolkit::edge_cpr_cents(energy, p.cents_per_kwh);
            rows.push(finish(
                p,
                PlatformRow {
                    name: format!("{} / {}", profile.device.name, m.model),
                    profile: Some(profile_name.clone()),
                    tokens_per_s: dev.decode_tps(1),
                    ttft_ms: ttft_s * 1000.0,
                    power_w: Some(power),
                    energy_per_query_j: Some(energy),
                    cpr_cents: cpr,
                    quality: q,
                    responsiveness: 0.0,
                    utility: None,
                    pcr: None,
                    context_tokens: entry.and_then(|e| e.context_tokens),
                },
            ));
        }
    }
    let cx = crate::check::Checker::new(&catalogue.source);
    for c in &catalogue.cloud_models {
        let cloud = crate::cloud::CloudSpec::from_file(
            &cx,
            &crate::cloud::CloudFile {
                model: c.name.clone(),
                ..crate::cloud::CloudFile::default()
            },
            catalogue,
        )?;
        let cpr = toolkit::cloud_cpr_cents(
            p.prompt_tokens,
            p.output_tokens,
            c.usd_per_1k_input,
            c.usd_per_1k_output,
        );
        let q = c.quality.get(&p.task).copied();
        rows.push(finish(
            p,
            PlatformRow {
                name: format!("cloud / {}", c.name),
                profile: None,
                tokens_per_s: cloud.tokens_per_s,
                ttft_ms: cloud.rtt_ms + cloud.ttft_ms,
                power_w: None,
                energy_per_query_j: None,
                cpr_cents: cpr,
                quality: q,
                responsiveness: 0.0,
                utility: None,
                pcr: None,
                context_tokens: c.context_tokens,
            },
        ));
    }
    Ok(rows)
}

/// The rows as a text table.
pub fn to_table(rows: &[PlatformRow], p: &PlatformParams) -> String {
    let opt = |v: Option<f64>, prec: usize| {
        v.map_or_else(|| "-".to_string(), |x| crate::report::fixed(x, prec))
    };
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(8) + 2;
    let mut o = format!(
        "one response: {} prompt + {} output tokens; Q = {} pass@1; a = {}; R = 1/(1 + TTFT/{} ms); electricity {} cents/kWh\n\n",
        p.prompt_tokens,
        p.output_tokens,
        p.task,
        crate::check::num(p.alpha),
        crate::check::num(p.ttft_ref_ms),
        crate::check::num(p.cents_per_kwh)
    );
    o += &format!(
        "{:<w$}{:>9}{:>10}{:>9}{:>11}{:>13}{:>7}{:>7}{:>7}{:>11}\n",
        "platform",
        "tok/s",
        "TTFT ms",
        "power W",
        "energy J",
        "CPR cents",
        "Q",
        "R",
        "U",
        "PCR /cent"
    );
    for r in rows {
        o += &format!(
            "{:<w$}{:>9.1}{:>10.0}{:>9}{:>11}{:>13.6}{:>7}{:>7.3}{:>7}{:>11}\n",
            r.name,
            r.tokens_per_s,
            r.ttft_ms,
            opt(r.power_w, 1),
            opt(r.energy_per_query_j, 0),
            r.cpr_cents,
            opt(r.quality, 3),
            r.responsiveness,
            opt(r.utility, 3),
            opt(r.pcr, 1)
        );
    }
    let tokens = u64::from(p.prompt_tokens) + u64::from(p.output_tokens);
    let short: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let c = r.context_tokens?;
            (u64::from(c) < tokens).then(|| format!("{} ({c} tokens)", r.name))
        })
        .collect();
    if !short.is_empty() {
        o += &format!(
            "\nlonger than the context window of: {}; a scenario would not serve the response \
             there\n",
            short.join(", ")
        );
    }
    // The names a scenario gives these boards, once each in the table's order.
    let mut named: Vec<(&str, &str)> = Vec::new();
    for r in rows {
        if let Some(profile) = &r.profile {
            let board = r
                .name
                .rsplit_once(" / ")
                .map_or(r.name.as_str(), |(b, _)| b);
            if !named.iter().any(|(p, _)| p == profile) {
                named.push((profile, board));
            }
        }
    }
    if !named.is_empty() {
        let w = named.iter().map(|(p, _)| p.len()).max().unwrap_or(0) + 2;
        o += "\nprofiles, as a scenario's devices[].profile names them:\n";
        for (profile, board) in named {
            o += &format!("  {profile:<w$}{board}\n");
        }
    }
    o
}
