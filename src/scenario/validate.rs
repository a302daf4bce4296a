//! Raw scenario → validated [`Scenario`]: ranges, cross-key rules, profiles, catalogue, traces.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand_distr::{Exp, LogNormal};

use super::file::*;
use super::{CloudSpec, DeviceSpec, MetricsSpec, RateLimitSpec, Scenario, WorkloadSpec};
use crate::catalogue::ModelCatalogue;
use crate::device::profile::DeviceProfile;
use crate::device::{CalibratedDevice, DeviceModel};
use crate::error::{Error, Result};
use crate::time::{SimDuration, SimTime};
use crate::workload::bursty::BurstSchedule;
use crate::workload::trace::read_trace;
use crate::workload::{ClassSpec, TokenDist};

/// Largest token count a distribution may produce.
const MAX_TOKENS: u32 = 10_000_000;

struct Ctx<'a> {
    path: &'a Path,
    dir: PathBuf,
}

impl Ctx<'_> {
    fn bad(
        &self,
        key: impl Into<String>,
        value: impl std::fmt::Display,
        problem: impl Into<String>,
    ) -> Error {
        Error::invalid(self.path, key, value, problem)
    }
    fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
    fn positive(&self, key: &str, v: f64) -> Result<f64> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.bad(key, v, "must be a finite number > 0"))
        }
    }
    fn non_negative(&self, key: &str, v: f64) -> Result<f64> {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(self.bad(key, v, "must be a finite number >= 0"))
        }
    }
    fn required<T: Copy>(&self, key: &str, v: Option<T>, kind: &str) -> Result<T> {
        v.ok_or_else(|| self.bad(key, "(missing)", format!("is required for {kind}")))
    }
    /// Rejects keys that are set but not used by `kind`.
    fn only(
        &self,
        section: &str,
        kind: &str,
        set: &[(&str, bool)],
        allowed: &[&str],
    ) -> Result<()> {
        for (name, present) in set {
            if *present && !allowed.contains(name) {
                return Err(self.bad(
                    format!("{section}.{name}"),
                    "(set)",
                    format!(
                        "is not used by {section}.kind = \"{kind}\"; keys of this kind: kind, {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Validates a raw scenario read from `path`.
pub fn validate(mut file: ScenarioFile, path: &Path) -> Result<Scenario> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let cx = Ctx { path, dir };
    if file.name.trim().is_empty() {
        file.name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into());
    }
    if file.name.contains(['/', '\\']) || file.name == "." || file.name == ".." {
        return Err(cx.bad(
            "name",
            format!("\"{}\"", file.name),
            "must not contain path separators",
        ));
    }

    // Catalogue.
    let catalogue = match &file.model_catalogue {
        Some(p) => {
            let full = cx.resolve(p);
            let c = ModelCatalogue::load(&full)?;
            file.model_catalogue = Some(full.to_string_lossy().into_owned());
            c
        }
        None => ModelCatalogue::builtin(),
    };

    // Duration.
    let is_trace = file.workload.kind == WorkloadKind::Trace;
    let horizon = match file.duration_s {
        Some(d) => SimTime::from_secs_f64(cx.positive("duration_s", d)?),
        None if is_trace => SimTime::MAX,
        None => {
            return Err(cx.bad(
                "duration_s",
                "(missing)",
                "is required (seconds of arrivals, > 0) unless workload.kind = \"trace\"",
            ));
        }
    };

    let (workload, classes) = workload(&cx, &mut file.workload)?;
    let devices = devices(&cx, &mut file.devices, &catalogue)?;
    let rate_limit = rate_limit(&cx, &file.rate_limit)?;

    if file.routing.max_attempts == 0 {
        return Err(cx.bad(
            "routing.max_attempts",
            0,
            "must be >= 1 (1 = no retry on another device)",
        ));
    }
    let edge_rtt = SimDuration::from_millis_f64(
        cx.non_negative("routing.edge_rtt_ms", file.routing.edge_rtt_ms)?,
    );

    let cloud = cloud(&cx, &mut file.cloud, &catalogue)?;

    let m = &file.metrics;
    if !(0.0..=1.0).contains(&m.alpha) {
        return Err(cx.bad("metrics.alpha", m.alpha, "must lie in [0, 1]"));
    }
    if m.task.trim().is_empty() {
        return Err(cx.bad("metrics.task", "\"\"", "must name a task (e.g. \"gsm8k\")"));
    }
    let tasks = catalogue.tasks();
    let check_task = |key: String, t: &str| {
        if tasks.contains(t) {
            return Ok(());
        }
        let list = tasks.iter().copied().collect::<Vec<_>>().join(", ");
        Err(cx.bad(
            key,
            format!("\"{t}\""),
            format!("no model in the catalogue has a quality figure for it; known tasks: {list}"),
        ))
    };
    check_task("metrics.task".into(), &m.task)?;
    for (i, c) in classes.iter().enumerate() {
        if let Some(t) = c.task.as_deref() {
            check_task(format!("workload.classes[{i}].task"), t)?;
        }
    }
    let metrics = MetricsSpec {
        task: m.task.clone(),
        alpha: m.alpha,
        electricity_cents_per_kwh: cx.non_negative(
            "metrics.electricity_cents_per_kwh",
            m.electricity_cents_per_kwh,
        )?,
        ttft_ref_ms: cx.positive("metrics.ttft_ref_ms", m.ttft_ref_ms)?,
    };

    Ok(Scenario {
        name: file.name.clone(),
        seed: file.seed,
        source: path.to_path_buf(),
        horizon,
        workload,
        classes,
        devices,
        selection: file.selection.kind,
        rate_limit,
        max_attempts: file.routing.max_attempts,
        edge_rtt,
        cloud,
        metrics,
        catalogue: Arc::new(catalogue),
        resolved: file,
    })
}

/// Validates `[cloud]` and fills its prices from the catalogue entry of `cloud.model` where the
/// file gives none (so the resolved scenario shows the prices used).
fn cloud(cx: &Ctx, c: &mut CloudFile, catalogue: &ModelCatalogue) -> Result<CloudSpec> {
    cx.non_negative("cloud.rtt_ms", c.rtt_ms)?;
    cx.non_negative("cloud.ttft_ms", c.ttft_ms)?;
    cx.positive("cloud.tokens_per_s", c.tokens_per_s)?;
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
    let input = price(
        "usd_per_1k_input",
        c.usd_per_1k_input,
        entry.map(|e| e.usd_per_1k_input),
    )?;
    let output = price(
        "usd_per_1k_output",
        c.usd_per_1k_output,
        entry.map(|e| e.usd_per_1k_output),
    )?;
    let date = c
        .price_date
        .clone()
        .or_else(|| entry.map(|e| e.price_date.clone()))
        .unwrap_or_else(|| "unknown".into());
    c.usd_per_1k_input = Some(input);
    c.usd_per_1k_output = Some(output);
    c.price_date = Some(date.clone());
    Ok(CloudSpec {
        enabled: c.enabled,
        model: c.model.clone(),
        rtt_ms: c.rtt_ms,
        ttft_ms: c.ttft_ms,
        tokens_per_s: c.tokens_per_s,
        usd_per_1k_input: input,
        usd_per_1k_output: output,
        price_date: date,
    })
}

fn workload(cx: &Ctx, w: &mut WorkloadFile) -> Result<(WorkloadSpec, Vec<ClassSpec>)> {
    let set = [
        ("rate_rps", w.rate_rps.is_some()),
        ("users", w.users.is_some()),
        ("think_time_s", w.think_time_s.is_some()),
        ("base_rate_rps", w.base_rate_rps.is_some()),
        ("burst_rate_rps", w.burst_rate_rps.is_some()),
        ("burst_length_s", w.burst_length_s.is_some()),
        ("burst_period_s", w.burst_period_s.is_some()),
        ("burst_start_s", w.burst_start_s.is_some()),
        ("path", w.path.is_some()),
        ("time_scale", w.time_scale.is_some()),
        ("max_requests", w.max_requests.is_some()),
        ("prompt_tokens", w.prompt_tokens.is_some()),
        ("output_tokens", w.output_tokens.is_some()),
    ];
    const TOKENS: [&str; 3] = ["prompt_tokens", "output_tokens", "classes"];
    let kind = w.kind;
    let spec = match kind {
        WorkloadKind::Poisson => {
            cx.only(
                "workload",
                "poisson",
                &set,
                &[&["rate_rps"][..], &TOKENS].concat(),
            )?;
            let r = cx.required(
                "workload.rate_rps",
                w.rate_rps,
                "workload.kind = \"poisson\"",
            )?;
            WorkloadSpec::Poisson {
                rate_rps: cx.positive("workload.rate_rps", r)?,
            }
        }
        WorkloadKind::Closed => {
            cx.only(
                "workload",
                "closed",
                &set,
                &[&["users", "think_time_s"][..], &TOKENS].concat(),
            )?;
            let users = cx.required("workload.users", w.users, "workload.kind = \"closed\"")?;
            if users == 0 {
                return Err(cx.bad("workload.users", 0, "must be >= 1"));
            }
            let think = cx.required(
                "workload.think_time_s",
                w.think_time_s,
                "workload.kind = \"closed\"",
            )?;
            WorkloadSpec::Closed {
                users,
                think_time_s: cx.positive("workload.think_time_s", think)?,
            }
        }
        WorkloadKind::Bursty => {
            let keys = [
                "base_rate_rps",
                "burst_rate_rps",
                "burst_length_s",
                "burst_period_s",
                "burst_start_s",
            ];
            cx.only("workload", "bursty", &set, &[&keys[..], &TOKENS].concat())?;
            let k = "workload.kind = \"bursty\"";
            let base = cx.non_negative(
                "workload.base_rate_rps",
                cx.required("workload.base_rate_rps", w.base_rate_rps, k)?,
            )?;
            let burst = cx.positive(
                "workload.burst_rate_rps",
                cx.required("workload.burst_rate_rps", w.burst_rate_rps, k)?,
            )?;
            let len = cx.positive(
                "workload.burst_length_s",
                cx.required("workload.burst_length_s", w.burst_length_s, k)?,
            )?;
            let period = cx.positive(
                "workload.burst_period_s",
                cx.required("workload.burst_period_s", w.burst_period_s, k)?,
            )?;
            if len > period {
                return Err(cx.bad(
                    "workload.burst_length_s",
                    len,
                    format!("must be <= workload.burst_period_s ({period})"),
                ));
            }
            let start =
                cx.non_negative("workload.burst_start_s", w.burst_start_s.unwrap_or(0.0))?;
            w.burst_start_s = Some(start);
            WorkloadSpec::Bursty(BurstSchedule {
                base_rate_rps: base,
                burst_rate_rps: burst,
                burst_length_s: len,
                burst_period_s: period,
                burst_start_s: start,
            })
        }
        WorkloadKind::Trace => {
            cx.only(
                "workload",
                "trace",
                &set,
                &["path", "time_scale", "max_requests", "classes"],
            )?;
            let p = w.path.clone().ok_or_else(|| cx.bad("workload.path", "(missing)", "is required for workload.kind = \"trace\" (a CSV with TIMESTAMP,ContextTokens,GeneratedTokens)"))?;
            let full = cx.resolve(&p);
            let rows = read_trace(&full)?;
            w.path = Some(full.to_string_lossy().into_owned());
            let time_scale = cx.positive("workload.time_scale", w.time_scale.unwrap_or(1.0))?;
            w.time_scale = Some(time_scale);
            if w.max_requests == Some(0) {
                return Err(cx.bad(
                    "workload.max_requests",
                    0,
                    "must be >= 1 (leave it out to replay the whole trace)",
                ));
            }
            WorkloadSpec::Trace {
                rows: Arc::new(rows),
                time_scale,
                max_requests: w.max_requests,
            }
        }
    };

    // Classes.
    let default_prompt = w
        .prompt_tokens
        .as_ref()
        .map(|d| token_dist(cx, "workload.prompt_tokens", d))
        .transpose()?;
    let default_output = w
        .output_tokens
        .as_ref()
        .map(|d| token_dist(cx, "workload.output_tokens", d))
        .transpose()?;
    let mut names = BTreeSet::new();
    let mut classes = Vec::new();
    let raw = if w.classes.is_empty() {
        vec![ClassFile {
            name: "default".into(),
            share: 1.0,
            task: None,
            prompt_tokens: None,
            output_tokens: None,
        }]
    } else {
        w.classes.clone()
    };
    for (i, c) in raw.iter().enumerate() {
        let key = |k: &str| format!("workload.classes[{i}].{k}");
        if c.name.trim().is_empty() || !names.insert(c.name.clone()) {
            return Err(cx.bad(
                key("name"),
                format!("\"{}\"", c.name),
                "class names must be non-empty and unique",
            ));
        }
        let share = cx.positive(&key("share"), c.share)?;
        let tokens = |which: &str,
                      own: &Option<TokenDistFile>,
                      default: &Option<TokenDist>|
         -> Result<TokenDist> {
            if kind == WorkloadKind::Trace {
                if own.is_some() {
                    return Err(cx.bad(
                        key(which),
                        "(set)",
                        "trace workloads take token counts from the trace",
                    ));
                }
                return Ok(TokenDist::Fixed(1)); // unused: the trace carries the counts
            }
            match (own, default) {
                (Some(d), _) => token_dist(cx, &key(which), d),
                (None, Some(d)) => Ok(d.clone()),
                (None, None) => Err(cx.bad(
                    format!("workload.{which}"),
                    "(missing)",
                    format!("give workload.{which} (e.g. {{ dist = \"fixed\", value = 128 }}) or set it in every class"),
                )),
            }
        };
        classes.push(ClassSpec {
            name: c.name.clone(),
            share,
            task: c.task.clone(),
            prompt_tokens: tokens("prompt_tokens", &c.prompt_tokens, &default_prompt)?,
            output_tokens: tokens("output_tokens", &c.output_tokens, &default_output)?,
        });
    }
    Ok((spec, classes))
}

fn token_dist(cx: &Ctx, key: &str, d: &TokenDistFile) -> Result<TokenDist> {
    let set = [
        ("value", d.value.is_some()),
        ("min", d.min.is_some()),
        ("max", d.max.is_some()),
        ("median", d.median.is_some()),
        ("sigma", d.sigma.is_some()),
        ("mean", d.mean.is_some()),
        ("values", d.values.is_some()),
        ("weights", d.weights.is_some()),
        ("trace", d.trace.is_some()),
        ("column", d.column.is_some()),
    ];
    let only = |name: &str, allowed: &[&str]| -> Result<()> {
        for (k, present) in set {
            if present && !allowed.contains(&k) {
                return Err(cx.bad(
                    format!("{key}.{k}"),
                    "(set)",
                    format!(
                        "is not used by dist = \"{name}\"; keys of this dist: dist, {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    };
    let need = |k: &str, v: Option<f64>, name: &str| -> Result<f64> {
        v.ok_or_else(|| {
            cx.bad(
                format!("{key}.{k}"),
                "(missing)",
                format!("is required for dist = \"{name}\""),
            )
        })
    };
    let bounds = |lo_default: u32| -> Result<(u32, u32)> {
        let lo = d.min.unwrap_or(lo_default).max(1);
        let hi = d.max.unwrap_or(MAX_TOKENS);
        if hi < lo || hi > MAX_TOKENS {
            return Err(cx.bad(
                format!("{key}.max"),
                hi,
                format!("must lie in [min = {lo}, {MAX_TOKENS}]"),
            ));
        }
        Ok((lo, hi))
    };
    Ok(match d.dist {
        DistKind::Fixed => {
            only("fixed", &["value"])?;
            let v = need("value", d.value.map(f64::from), "fixed")? as u32;
            if v == 0 || v > MAX_TOKENS {
                return Err(cx.bad(
                    format!("{key}.value"),
                    v,
                    format!("must lie in [1, {MAX_TOKENS}] tokens"),
                ));
            }
            TokenDist::Fixed(v)
        }
        DistKind::Uniform => {
            only("uniform", &["min", "max"])?;
            need("min", d.min.map(f64::from), "uniform")?;
            need("max", d.max.map(f64::from), "uniform")?;
            let (min, max) = bounds(1)?;
            TokenDist::Uniform { min, max }
        }
        DistKind::Lognormal => {
            only("lognormal", &["median", "sigma", "min", "max"])?;
            let median = cx.positive(
                &format!("{key}.median"),
                need("median", d.median, "lognormal")?,
            )?;
            let sigma = cx.non_negative(
                &format!("{key}.sigma"),
                need("sigma", d.sigma, "lognormal")?,
            )?;
            let (min, max) = bounds(1)?;
            let mu = median.ln();
            let dist = LogNormal::new(mu, sigma)
                .map_err(|e| cx.bad(format!("{key}.sigma"), sigma, e.to_string()))?;
            TokenDist::LogNormal {
                dist,
                mu,
                sigma,
                min,
                max,
            }
        }
        DistKind::Exponential => {
            only("exponential", &["mean", "min", "max"])?;
            let mean = cx.positive(&format!("{key}.mean"), need("mean", d.mean, "exponential")?)?;
            let (min, max) = bounds(1)?;
            let dist = Exp::new(1.0 / mean)
                .map_err(|e| cx.bad(format!("{key}.mean"), mean, e.to_string()))?;
            TokenDist::Exponential {
                dist,
                mean,
                min,
                max,
            }
        }
        DistKind::Empirical => {
            if let Some(trace) = &d.trace {
                only("empirical", &["trace", "column"])?;
                let column = d.column.clone().unwrap_or_default();
                let rows = read_trace(&cx.resolve(trace))?;
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
                TokenDist::Empirical {
                    values: Arc::new(values),
                    cumulative: Arc::new(Vec::new()),
                }
            } else {
                only("empirical", &["values", "weights"])?;
                let values = d.values.clone().unwrap_or_default();
                if values.is_empty() {
                    return Err(cx.bad(
                        format!("{key}.values"),
                        "[]",
                        "give a non-empty list of token counts, or `trace` and `column`",
                    ));
                }
                let mut cumulative = Vec::new();
                if let Some(w) = &d.weights {
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
                    if acc <= 0.0 {
                        return Err(cx.bad(
                            format!("{key}.weights"),
                            "all zero",
                            "at least one weight must be > 0",
                        ));
                    }
                }
                TokenDist::Empirical {
                    values: Arc::new(values),
                    cumulative: Arc::new(cumulative),
                }
            }
        }
    })
}

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
    let nonneg = |k: String, v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(bad(k, &v, "must be a finite number >= 0"))
        }
    };
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
    nonneg("device.idle_w".into(), p.device.idle_w)?;
    if p.models.is_empty() {
        return Err(bad(
            "models".into(),
            &"[]",
            "a profile needs at least one [[models]] entry",
        ));
    }
    for (i, m) in p.models.iter().enumerate() {
        let k = |s: &str| format!("models[{i}].{s}");
        pos(k("prefill_tps"), m.prefill_tps)?;
        for (j, (x, y)) in m.prefill_curve.iter().enumerate() {
            pos(k(&format!("prefill_curve[{j}][0]")), *x)?;
            pos(k(&format!("prefill_curve[{j}][1]")), *y)?;
        }
        nonneg(k("ttft_overhead_ms"), m.ttft_overhead_ms)?;
        if m.decode_tps.is_empty() {
            return Err(bad(
                k("decode_tps"),
                &"[]",
                "give D(1), D(2), ... in tokens/s (at least D(1))",
            ));
        }
        for (j, d) in m.decode_tps.iter().enumerate() {
            pos(k(&format!("decode_tps[{j}]")), *d)?;
        }
        nonneg(k("decode_ms_per_1k_context"), m.decode_ms_per_1k_context)?;
        nonneg(k("busy_w"), m.busy_w)?;
        for (j, w) in m.busy_w_by_streams.iter().enumerate() {
            nonneg(k(&format!("busy_w_by_streams[{j}]")), *w)?;
        }
    }
    Ok(())
}

/// Reads and checks a profile file.
pub fn load_profile(path: &Path) -> Result<DeviceProfile> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.into(),
        action: "cannot read device profile",
        source,
    })?;
    let p: DeviceProfile = toml::from_str(&text).map_err(|e| Error::Syntax {
        path: path.into(),
        message: e.to_string(),
    })?;
    check_profile(path, "", &p)?;
    Ok(p)
}

fn devices(
    cx: &Ctx,
    list: &mut [DeviceFile],
    catalogue: &ModelCatalogue,
) -> Result<Vec<DeviceSpec>> {
    if list.is_empty() {
        return Err(cx.bad(
            "devices",
            "[]",
            "the edge cluster is empty; add at least one [[devices]] entry",
        ));
    }
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for (i, d) in list.iter_mut().enumerate() {
        let key = |k: &str| format!("devices[{i}].{k}");
        if d.name.trim().is_empty() {
            return Err(cx.bad(key("name"), "\"\"", "must be non-empty"));
        }
        if d.count == 0 {
            return Err(cx.bad(key("count"), 0, "must be >= 1"));
        }
        if d.slots == 0 {
            return Err(cx.bad(key("slots"), 0, "must be >= 1 (llama-server --parallel)"));
        }
        let profile = match (&d.profile, &d.inline) {
            (Some(p), None) => load_profile(&cx.resolve(p))?,
            (None, Some(p)) => {
                check_profile(cx.path, &key("inline."), p)?;
                p.clone()
            }
            _ => {
                return Err(cx.bad(
                    key("profile"),
                    d.profile.as_deref().unwrap_or("(missing)"),
                    "give exactly one of `profile` (a file under calibration/) or `inline` (a profile table)",
                ));
            }
        };
        let entry = catalogue.model(&d.model).ok_or_else(|| {
            cx.bad(
                key("model"),
                format!("\"{}\"", d.model),
                format!(
                    "is not in the model catalogue; known models: {}",
                    catalogue.model_names()
                ),
            )
        })?;
        let usable = profile
            .device
            .usable_memory_gb
            .unwrap_or(profile.device.memory_gb);
        let kv_gb = f64::from(d.slots) * f64::from(d.ctx_tokens) / 1000.0
            * entry.kv_mb_per_1k_tokens
            / 1000.0;
        let need = entry.memory_gb + kv_gb;
        if need > usable {
            return Err(cx.bad(
                key("model"),
                format!("\"{}\"", d.model),
                format!(
                    "does not fit on {}: needs {need:.2} GB ({:.2} GB model + {kv_gb:.2} GB KV cache for {} slots x {} tokens) but {usable:.2} GB is usable; choose a smaller model or fewer slots / a smaller ctx_tokens",
                    profile.device.name, entry.memory_gb, d.slots, d.ctx_tokens
                ),
            ));
        }
        let perf = profile
            .models
            .iter()
            .find(|m| m.model == d.model)
            .ok_or_else(|| {
                let have: Vec<&str> = profile.models.iter().map(|m| m.model.as_str()).collect();
                cx.bad(
                    key("model"),
                    format!("\"{}\"", d.model),
                    format!(
                        "the profile of {} has no calibration for it; calibrated models: {}",
                        profile.device.name,
                        have.join(", ")
                    ),
                )
            })?;
        let model = CalibratedDevice::new(&profile.device, perf);
        let weight = match d.weight {
            Some(w) => cx.positive(&key("weight"), w)?,
            None => model.decode_tps(1),
        };
        let perf: Arc<dyn DeviceModel> = Arc::new(model);
        for k in 0..d.count {
            let name = if d.count == 1 {
                d.name.clone()
            } else {
                format!("{}-{}", d.name, k + 1)
            };
            if !names.insert(name.clone()) {
                return Err(cx.bad(
                    key("name"),
                    format!("\"{name}\""),
                    "device names must be unique",
                ));
            }
            out.push(DeviceSpec {
                name,
                board: profile.device.name.clone(),
                model: d.model.clone(),
                perf: perf.clone(),
                slots: d.slots,
                queue_capacity: d.queue_capacity,
                weight,
            });
        }
        // The resolved scenario carries the profile inline, so it runs anywhere.
        d.profile = None;
        d.inline = Some(profile);
    }
    Ok(out)
}

fn rate_limit(cx: &Ctx, r: &RateLimitFile) -> Result<RateLimitSpec> {
    let set = [
        ("window_s", r.window_s.is_some()),
        ("limit", r.limit.is_some()),
        ("refill_per_s", r.refill_per_s.is_some()),
    ];
    let mut spec = RateLimitSpec {
        kind: r.kind,
        unit: r.unit,
        scope: r.scope,
        window: SimDuration::ZERO,
        limit: f64::INFINITY,
        refill_per_s: 0.0,
    };
    let limit = |kind: &str| -> Result<f64> {
        let v = cx.required(
            "rate_limit.limit",
            r.limit,
            &format!("rate_limit.kind = \"{kind}\""),
        )?;
        cx.positive("rate_limit.limit", v)
    };
    match r.kind {
        RateLimitKind::None => cx.only("rate_limit", "none", &set, &["unit", "scope"])?,
        RateLimitKind::SlidingWindow => {
            cx.only(
                "rate_limit",
                "sliding_window",
                &set,
                &["window_s", "limit", "unit", "scope"],
            )?;
            let w = cx.required(
                "rate_limit.window_s",
                r.window_s,
                "rate_limit.kind = \"sliding_window\"",
            )?;
            spec.window = SimDuration::from_secs_f64(cx.positive("rate_limit.window_s", w)?);
            if spec.window == SimDuration::ZERO {
                return Err(cx.bad("rate_limit.window_s", w, "must be at least 1 µs"));
            }
            spec.limit = limit("sliding_window")?;
        }
        RateLimitKind::TokenBucket => {
            cx.only(
                "rate_limit",
                "token_bucket",
                &set,
                &["limit", "refill_per_s", "unit", "scope"],
            )?;
            spec.limit = limit("token_bucket")?;
            let f = cx.required(
                "rate_limit.refill_per_s",
                r.refill_per_s,
                "rate_limit.kind = \"token_bucket\"",
            )?;
            spec.refill_per_s = cx.positive("rate_limit.refill_per_s", f)?;
        }
        RateLimitKind::Concurrency => {
            cx.only(
                "rate_limit",
                "concurrency",
                &set,
                &["limit", "unit", "scope"],
            )?;
            spec.limit = limit("concurrency")?;
        }
    }
    Ok(spec)
}
