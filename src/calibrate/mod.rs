//! `edgesim calibrate`: device profiles from real llama.cpp runs.
//!
//! Two sources: measuring a GGUF model on this machine through llama-cpp-2 (feature `llm`,
//! module `llama`), or importing llama.cpp's own `llama-bench` output ([`mod@bench`]). Either way the
//! raw measurements are fitted here into a [`DeviceProfile`] that `edgesim run` reads, with
//! the measurements and their provenance recorded in the profile. Measurements that no profile
//! could be made from are kept for a second fit ([`mod@kept`]).

pub mod batched;
pub mod bench;
pub mod kept;
#[cfg(feature = "llm")]
pub mod llama;
pub mod partial;
pub mod power;

use std::io::Read as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::device::calibrated::interpolate;
use crate::device::profile::{DeviceInfo, DeviceProfile, ModelPerf, PrefillMode};
use crate::error::{Error, Result};

/// Time to first token for one prompt length: one value per repetition \[s\].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PrefillPoint {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Prefill plus first-token sampling, per repetition \[s\].
    pub ttft_s: Vec<f64>,
}

/// Decoding with `streams` sequences at once: aggregate tokens/s per repetition.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DecodePoint {
    /// Concurrent sequences (continuous batching).
    pub streams: u32,
    /// Mean context (KV cache) each sequence held over the measured decode steps \[tokens\].
    #[serde(default)]
    pub mean_context_tokens: f64,
    /// Aggregate generated tokens per second, per repetition.
    pub tokens_per_s: Vec<f64>,
    /// Mean power while decoding \[W\], if metered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_w: Option<f64>,
}

/// Everything a calibration measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Measurements {
    /// TTFT by prompt length.
    pub prefill: Vec<PrefillPoint>,
    /// D(n) by number of streams.
    pub decode: Vec<DecodePoint>,
    /// Power with the model loaded and nothing running \[W\], if metered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_w: Option<f64>,
    /// Resident memory added by loading the model and its context \[bytes\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
}

impl Measurements {
    /// Drops every power reading (idle and decoding), for power from another source.
    fn clear_power(&mut self) {
        self.idle_w = None;
        for d in &mut self.decode {
            d.power_w = None;
        }
    }
}

/// What the profile is for and how it was measured (goes to `[device]` and `[provenance]`).
#[derive(Clone, Debug, Default)]
pub struct ProfileMeta {
    /// Device name, e.g. `orin-nano-qwen3b` or "Jetson Orin Nano 8GB".
    pub device_name: String,
    /// Catalogue key of the model, e.g. `qwen2.5-3b`.
    pub model_name: String,
    /// `model_name` was not given (it is the input file's name): an import that names the
    /// model file (llama-bench's `model_filename`) takes the key from that file instead.
    pub model_name_defaulted: bool,
    /// Quantisation label, e.g. `Q4_K_M`.
    pub quant: String,
    /// Machine memory \[GB\].
    pub memory_gb: f64,
    /// Power fallbacks (flags): idle and busy \[W\].
    pub idle_watts: Option<f64>,
    /// Busy power from a flag \[W\].
    pub busy_watts: Option<f64>,
    /// Where power came from: `ina3221`, `rapl`, `csv`, `flags`.
    pub power_source: String,
    /// Extra provenance entries.
    pub provenance: toml::Table,
}

fn median(xs: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Least-squares line through `xy`: (intercept, slope); `None` for fewer than two distinct x.
fn least_squares(xy: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = xy.len() as f64;
    let (sx, sy) = xy.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = xy.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let sxy: f64 = xy.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    (xy.len() >= 2 && sxx > 0.0).then(|| (my - sxy / sxx * mx, sxy / sxx))
}

/// Least-squares fit of TTFT(p) = a + p / b over the medians; returns (a \[s\], b \[tokens/s\]).
/// `a` is clamped at 0; with one point, a = 0.
pub fn fit_prefill(points: &[PrefillPoint]) -> Option<(f64, f64)> {
    let xy: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| Some((f64::from(p.prompt_tokens), median(&p.ttft_s)?)))
        .collect();
    let through_largest = || {
        let (x, y) = xy
            .iter()
            .copied()
            .fold((0.0, 0.0), |m, p| if p.0 > m.0 { p } else { m });
        (0.0, x / y)
    };
    match least_squares(&xy) {
        _ if xy.is_empty() => None,
        Some((a, slope)) if slope > 0.0 => Some((a.max(0.0), 1.0 / slope)),
        // One point, or no growth with length (noise): constant speed through the largest.
        _ => Some(through_largest()),
    }
}

/// The context effect on decoding, γ \[s per step per context token\]: the slope of the
/// single-stream step time 1/D(1) against the mean context over the 1-stream points (0 with
/// fewer than two contexts, or a negative slope from noise).
pub fn fit_context(points: &[DecodePoint]) -> f64 {
    let xy: Vec<(f64, f64)> = points
        .iter()
        .filter(|d| d.streams == 1)
        .filter_map(|d| Some((d.mean_context_tokens, 1.0 / median(&d.tokens_per_s)?)))
        .collect();
    least_squares(&xy).map_or(0.0, |(_, slope)| slope.max(0.0))
}

/// Fits measurements into a profile: the prefill overhead and curve reproduce the measured
/// median TTFTs exactly; D(n) is the median aggregate speed at each n; power from the meter
/// (per n when metered) or the flags.
pub fn fit(m: &Measurements, meta: &ProfileMeta) -> Result<DeviceProfile> {
    let bad = |what: &str| Error::Output {
        path: "calibration".into(),
        problem: what.to_string(),
    };
    let (overhead_s, speed) =
        fit_prefill(&m.prefill).ok_or_else(|| bad("no prefill measurement to fit"))?;
    let mut curve: Vec<(f64, f64)> = Vec::new();
    for p in &m.prefill {
        if let Some(t) = median(&p.ttft_s) {
            let work = (t - overhead_s).max(1e-9);
            curve.push((
                f64::from(p.prompt_tokens),
                f64::from(p.prompt_tokens) / work,
            ));
        }
    }
    curve.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut decode = m.decode.clone();
    decode.sort_by_key(|d| d.streams);
    // D(n) at an empty context: a step of n streams holding c tokens each took n/D = n/D0 + γ·n·c.
    let gamma = fit_context(&decode);
    // Several contexts at the same n: the mean of their empty-context speeds.
    let mut sums: Vec<(u32, f64, u32)> = Vec::new();
    for d in &decode {
        let Some(tps) = median(&d.tokens_per_s) else {
            continue;
        };
        let step = 1.0 / tps - gamma * d.mean_context_tokens;
        let d0 = if step > 0.0 { 1.0 / step } else { tps };
        match sums.last_mut() {
            Some(last) if last.0 == d.streams => (last.1, last.2) = (last.1 + d0, last.2 + 1),
            _ => sums.push((d.streams, d0, 1)),
        }
    }
    let pts: Vec<(f64, f64)> = sums
        .iter()
        .map(|(n, sum, k)| (f64::from(*n), sum / f64::from(*k)))
        .collect();
    let max_n = decode.last().map_or(0, |d| d.streams);
    if pts.is_empty() || pts[0].0 != 1.0 {
        return Err(bad("the decode grid must include 1 stream"));
    }
    let decode_tps: Vec<f64> = (1..=max_n)
        .map(|n| interpolate(&pts, f64::from(n)).unwrap_or(0.0))
        .collect();
    let metered: Vec<(f64, f64)> = decode
        .iter()
        .filter_map(|d| Some((f64::from(d.streams), d.power_w?)))
        .collect();
    let (busy_w, busy_by) = if !metered.is_empty() {
        let by: Vec<f64> = (1..=max_n)
            .map(|n| interpolate(&metered, f64::from(n)).unwrap_or(0.0))
            .collect();
        (by[0], by)
    } else {
        (
            meta.busy_watts
                .ok_or_else(|| bad("no busy power: give --busy-watts or a power meter"))?,
            Vec::new(),
        )
    };
    let idle_w = m
        .idle_w
        .or(meta.idle_watts)
        .ok_or_else(|| bad("no idle power: give --idle-watts or a power meter"))?;
    let mut provenance = meta.provenance.clone();
    provenance.insert("power_source".into(), meta.power_source.clone().into());
    provenance.insert(
        "fit".into(),
        toml::Value::String(format!(
            "TTFT(p) = {:.2} ms + p / prefill_tps(p); least squares over the median TTFTs gave \
             {speed:.1} tokens/s; the curve holds each measured length exactly. Decode step \
             time n/D(n) + γ·C: γ = {:.4} ms per 1,000 context tokens from the 1-stream points \
             at {} contexts; D(n) at an empty context",
            overhead_s * 1000.0,
            gamma * 1e6,
            decode.iter().filter(|d| d.streams == 1).count()
        )),
    );
    if let Some(b) = m.memory_bytes {
        provenance.insert("model_memory_gb".into(), (b as f64 / 1e9).into());
    }
    if let Ok(raw) = toml::Value::try_from(m) {
        provenance.insert("measurements".into(), raw);
    }
    let profile = DeviceProfile {
        device: DeviceInfo {
            name: meta.device_name.clone(),
            power_mode: String::new(),
            memory_gb: meta.memory_gb,
            usable_memory_gb: None,
            idle_w,
            source: format!("edgesim calibrate (power: {})", meta.power_source),
        },
        models: vec![ModelPerf {
            model: meta.model_name.clone(),
            quant: meta.quant.clone(),
            prefill_tps: curve.last().map_or(speed, |c| c.1),
            prefill_curve: curve,
            ttft_overhead_ms: overhead_s * 1000.0,
            prefill_mode: PrefillMode::Serial,
            decode_tps,
            decode_ms_per_1k_context: gamma * 1e6,
            busy_w,
            busy_w_by_streams: busy_by,
            source: "measured with llama.cpp: see [provenance]".into(),
        }],
        provenance: Some(provenance),
    };
    // What is written must load: a meter's reading or a fit out of a profile's bounds is
    // refused here, not when a scenario first uses the profile.
    crate::device::profile::check_profile(Path::new("the fitted profile"), "", &profile)?;
    Ok(profile)
}

/// The profile as TOML text, with a header comment.
pub fn to_toml(p: &DeviceProfile, header: &str) -> String {
    let body = crate::strict::to_toml(p).unwrap_or_else(|e| format!("# cannot serialise: {e}\n"));
    let mut s = String::new();
    for line in header.lines() {
        s.push_str("# ");
        s.push_str(line);
        s.push('\n');
    }
    s.push('\n');
    s + &body
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path).map_err(Error::io(path, "cannot read"))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(Error::io(path, "cannot read"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks a model file before loading it: it exists, is GGUF, and fits in available memory.
pub fn check_gguf(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(Error::io(path, "cannot open the model file"))?;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(Error::io(path, "cannot read the model file"))?;
    if &magic != b"GGUF" {
        return Err(Error::Output {
            path: path.into(),
            problem: format!(
                "not a GGUF model (the file starts with {:?}, not \"GGUF\"); llama.cpp models \
                 are .gguf files",
                String::from_utf8_lossy(&magic)
            ),
        });
    }
    if let Some(avail) = mem_available_bytes() {
        // Weights plus ~10 % for the context and compute buffers.
        let need = meta.len() + meta.len() / 10;
        if need > avail {
            return Err(Error::Output {
                path: path.into(),
                problem: format!(
                    "the model needs about {:.2} GB but only {:.2} GB of memory is available",
                    need as f64 / 1e9,
                    avail as f64 / 1e9
                ),
            });
        }
    }
    Ok(meta.len())
}

fn meminfo(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Memory available for new allocations (Linux `MemAvailable`).
pub fn mem_available_bytes() -> Option<u64> {
    meminfo("MemAvailable:")
}

/// Total memory \[GB\] (Linux `MemTotal`).
pub fn mem_total_gb() -> Option<f64> {
    meminfo("MemTotal:").map(|b| b as f64 / 1e9)
}

/// This process's resident memory \[bytes\] (Linux `VmRSS`).
pub fn rss_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The CPU model name (Linux `/proc/cpuinfo`).
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// Now as an ISO-8601 UTC timestamp (no time-zone database needed).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The llama.cpp bindings this binary was built against (from Cargo.lock at build time).
pub fn llama_cpp_version() -> String {
    let lock = include_str!("../../Cargo.lock");
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == "name = \"llama-cpp-sys-2\""
            && let Some(v) = lines.next().and_then(|v| v.strip_prefix("version = "))
        {
            return format!(
                "llama-cpp-sys-2 {} (vendored llama.cpp)",
                v.trim_matches('"')
            );
        }
    }
    "unknown".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefill_fit_recovers_overhead_and_speed() {
        // TTFT = 20 ms + p / 500 tok/s exactly.
        let pts: Vec<PrefillPoint> = [64u32, 256, 1024]
            .iter()
            .map(|&p| PrefillPoint {
                prompt_tokens: p,
                ttft_s: vec![0.02 + f64::from(p) / 500.0; 3],
            })
            .collect();
        let (a, b) = fit_prefill(&pts).unwrap();
        assert!(
            (a - 0.02).abs() < 1e-9 && (b - 500.0).abs() < 1e-6,
            "{a} {b}"
        );
    }

    /// A profile's facts with power from the flags: 5 W idle, 20 W busy.
    fn flags_meta() -> ProfileMeta {
        ProfileMeta {
            device_name: "test".into(),
            model_name: "smollm2-135m".into(),
            memory_gb: 8.0,
            idle_watts: Some(5.0),
            busy_watts: Some(20.0),
            power_source: "flags".into(),
            ..Default::default()
        }
    }

    #[test]
    fn fitted_profile_reproduces_the_measurements() {
        use crate::device::{CalibratedDevice, DeviceModel};
        let m = Measurements {
            prefill: vec![
                PrefillPoint {
                    prompt_tokens: 64,
                    ttft_s: vec![0.30, 0.32, 0.31],
                },
                PrefillPoint {
                    prompt_tokens: 256,
                    ttft_s: vec![1.05, 1.0, 1.1],
                },
            ],
            decode: vec![
                DecodePoint {
                    streams: 1,
                    mean_context_tokens: 40.5,
                    tokens_per_s: vec![90.0, 100.0, 95.0],
                    power_w: None,
                },
                DecodePoint {
                    streams: 4,
                    mean_context_tokens: 40.5,
                    tokens_per_s: vec![200.0, 210.0, 190.0],
                    power_w: None,
                },
            ],
            idle_w: None,
            memory_bytes: Some(150_000_000),
        };
        let meta = flags_meta();
        let p = fit(&m, &meta).unwrap();
        let dev = CalibratedDevice::new(&p.device, &p.models[0]);
        assert!((dev.prefill_s(64) - 0.31).abs() < 1e-9);
        assert!((dev.prefill_s(256) - 1.05).abs() < 1e-9);
        assert_eq!(p.models[0].decode_tps, vec![95.0, 130.0, 165.0, 200.0]);
        assert_eq!((dev.busy_w(1), dev.idle_w()), (20.0, 5.0));
        // The profile round-trips through TOML and loads as a profile.
        let text = to_toml(&p, "test");
        let back: DeviceProfile = toml::from_str(&text).unwrap();
        assert_eq!(back.models, p.models);
    }

    /// Measurements each within bounds can still fit a profile that is not (here a prompt of
    /// 64 tokens that took 10^300 s): an import says so as an error of the file it read.
    #[test]
    fn an_imported_fit_out_of_bounds_names_the_file_read() {
        let m = Measurements {
            prefill: vec![PrefillPoint {
                prompt_tokens: 64,
                ttft_s: vec![1e300],
            }],
            decode: vec![DecodePoint {
                streams: 1,
                mean_context_tokens: 40.5,
                tokens_per_s: vec![90.0],
                power_w: None,
            }],
            idle_w: None,
            memory_bytes: None,
        };
        let meta = flags_meta();
        let e = fit_imported(Path::new("runs/bench.json"), &m, &meta)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("runs/bench.json: its measurements fit a profile out of bounds"),
            "{e}"
        );
        assert!(e.contains("`models[0].prefill_tps` = 6.4e-299"), "{e}");
    }

    #[test]
    fn context_effect_is_the_slope_of_step_time() {
        // Hand-worked: 1 stream at a mean context of 40 tokens decodes 100 tokens/s (10 ms a
        // step), at 1,040 tokens 50 tokens/s (20 ms): γ = 10 ms / 1,000 tokens. Empty-context
        // speeds: D0(1) = 1 / (0.010 - 0.00001 * 40) = 104.1666..., and for 4 streams at 40
        // tokens each at 200 tokens/s (20 ms a step, 1.6 ms of it context):
        // D0(4) = 1 / (1/200 - 0.00001 * 40) = 217.3913...
        let point = |streams, ctx, tps| DecodePoint {
            streams,
            mean_context_tokens: ctx,
            tokens_per_s: vec![tps],
            power_w: None,
        };
        let m = Measurements {
            prefill: vec![PrefillPoint {
                prompt_tokens: 64,
                ttft_s: vec![0.1],
            }],
            decode: vec![
                point(1, 40.0, 100.0),
                point(4, 40.0, 200.0),
                point(1, 1040.0, 50.0),
            ],
            ..Default::default()
        };
        assert!((fit_context(&m.decode) - 1e-5).abs() < 1e-15);
        let meta = ProfileMeta {
            device_name: "test".into(),
            model_name: "m".into(),
            memory_gb: 8.0,
            idle_watts: Some(1.0),
            busy_watts: Some(2.0),
            ..Default::default()
        };
        let p = fit(&m, &meta).unwrap();
        let perf = &p.models[0];
        assert!((perf.decode_ms_per_1k_context - 10.0).abs() < 1e-9);
        // D0(1) from both 1-stream points: each gives 104.1666... exactly.
        assert!(
            (perf.decode_tps[0] - 1.0 / 0.0096).abs() < 1e-9,
            "{:?}",
            perf.decode_tps
        );
        assert!(
            (perf.decode_tps[3] - 1.0 / 0.0046).abs() < 1e-9,
            "{:?}",
            perf.decode_tps
        );
        // One context only (or a negative slope from noise): no context effect.
        assert_eq!(fit_context(&m.decode[..2]), 0.0);
        assert_eq!(
            fit_context(&[point(1, 40.0, 50.0), point(1, 1040.0, 100.0)]),
            0.0
        );
    }

    #[test]
    fn civil_dates() {
        let s = utc_now();
        assert_eq!(s.len(), 20, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'));
    }
}

/// Checks where a profile is to be written, before anything is measured: a new file (in
/// folders that exist or can be made), or an existing device profile (recalibrated in place).
/// A folder, or a file that does not read as a profile (a scenario, notes), is refused: it
/// would be replaced.
pub fn check_out(out: &Path) -> Result<()> {
    let bad = |problem: &str| Error::Output {
        path: out.into(),
        problem: format!("--out: {problem}"),
    };
    if out.is_dir() {
        return Err(bad(
            "is a folder; give the profile's file, e.g. calibration/my-board.toml",
        ));
    }
    if !out.exists() {
        // Its folders are made when it is written; a file where one of them belongs would
        // stop that only after the measurements.
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::report::check_creatable(dir)?;
        }
        return Ok(());
    }
    let is_profile = crate::check::read_text(out, "device profile", crate::check::MAX_CONFIG_BYTES)
        .ok()
        .is_some_and(|t| toml::from_str::<DeviceProfile>(&t).is_ok());
    if is_profile {
        Ok(())
    } else {
        Err(bad(
            "exists and is not a device profile; calibrate replaces only profiles: choose \
             another file or remove this one",
        ))
    }
}

/// Writes `profile` to `out` as TOML (atomically), once its text reads back as a valid
/// profile: `out` never holds a profile that scenarios would refuse, and a profile that does
/// not validate leaves whatever file was at `out` untouched. `out` is checked with
/// [`check_out`] (the command checks it before measuring, too).
pub fn write_profile(profile: &DeviceProfile, out: &Path) -> Result<()> {
    let header = format!(
        "Device profile written by `edgesim calibrate` on {}.\nRaw measurements, fit and provenance are under [provenance].",
        utc_now()
    );
    let text = to_toml(profile, &header);
    if let Err(e) = crate::device::profile::parse_profile(&text, out) {
        return Err(Error::Output {
            path: out.into(),
            problem: format!("the fitted profile does not validate (nothing written): {e}"),
        });
    }
    check_out(out)?;
    crate::report::write_atomic(out, text.as_bytes())
}

/// Power options of a calibration.
#[derive(Clone, Debug, Default)]
pub struct PowerOptions {
    /// Fixed idle power \[W\].
    pub idle_watts: Option<f64>,
    /// Fixed busy power \[W\].
    pub busy_watts: Option<f64>,
    /// An external meter's CSV (`unix_time_s,watts`).
    pub csv: Option<std::path::PathBuf>,
}

impl PowerOptions {
    /// Picks the power source: the CSV (its header checked now if it exists, before anything
    /// is measured), else both flags, else a meter on this machine.
    pub fn source(&self) -> Result<power::Source> {
        if let Some(p) = &self.csv {
            power::check_csv_header(p)?;
            return Ok(power::Source::Csv(p.clone()));
        }
        if self.idle_watts.is_some() && self.busy_watts.is_some() {
            return Ok(power::Source::Flags);
        }
        power::detect()
            .map(power::Source::Meter)
            .ok_or_else(|| Error::Output {
                path: "/sys".into(),
                problem:
                    "no power meter found (no INA3221 under /sys/class/hwmon, no readable RAPL \
                      counter under /sys/class/powercap): give --idle-watts and --busy-watts, \
                      or --power-csv with an external meter's readings"
                        .into(),
            })
    }
}

/// [`fit`] for measurements imported from `source`: a fit that no profile may hold is an error
/// of that file, whose measurements gave it (each measurement is within bounds, but an outlier
/// can still pull a fitted speed or overhead out of them).
fn fit_imported(source: &Path, m: &Measurements, meta: &ProfileMeta) -> Result<DeviceProfile> {
    fit(m, meta).map_err(|e| Error::Output {
        path: source.into(),
        problem: format!(
            "its measurements fit a profile out of bounds, so nothing is written ({e}); look \
             for a measurement far from the others"
        ),
    })
}

/// Builds a profile from `llama-bench` output (power from the flags).
pub fn from_llama_bench(
    path: &Path,
    threads: Option<i64>,
    gpu_layers: Option<i64>,
    meta: &ProfileMeta,
) -> Result<DeviceProfile> {
    let entries = bench::read(path)?;
    let (m, used) = bench::to_measurements(path, &entries, threads, gpu_layers)?;
    let e = &used[0];
    let mut meta = meta.clone();
    meta.power_source = "flags".into();
    if meta.model_name_defaulted {
        // The model's file, as `--model FILE.gguf` would name it, not the results file's.
        if let Some(stem) = Path::new(&e.model_filename)
            .file_stem()
            .map(|s| s.to_string_lossy().to_lowercase())
            .filter(|s| !s.trim().is_empty())
        {
            meta.model_name = stem;
        }
    }
    if meta.quant.is_empty() {
        meta.quant = e
            .model_type
            .rsplit(' ')
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" ");
    }
    let p = &mut meta.provenance;
    p.insert(
        "tool".into(),
        "llama-bench (imported by edgesim calibrate --from-llama-bench)".into(),
    );
    p.insert("imported_from".into(), path.display().to_string().into());
    p.insert("imported_at".into(), utc_now().into());
    p.insert(
        "llama_cpp_build".into(),
        format!("{} ({})", e.build_commit, e.build_number).into(),
    );
    p.insert("model_file".into(), e.model_filename.clone().into());
    p.insert("model_type".into(), e.model_type.clone().into());
    p.insert("model_size_bytes".into(), (e.model_size as i64).into());
    p.insert("cpu".into(), e.cpu_info.clone().into());
    p.insert("gpu".into(), e.gpu_info.clone().into());
    p.insert("backends".into(), e.backends.clone().into());
    p.insert("threads".into(), e.n_threads.into());
    p.insert("gpu_layers".into(), e.n_gpu_layers.into());
    p.insert("test_time".into(), e.test_time.clone().into());
    p.insert(
        "note".into(),
        "llama-bench measures one sequence: D(n) = D(1) for every n (no batching curve)".into(),
    );
    fit_imported(path, &m, &meta)
}

/// Builds a profile from `llama-batched-bench` output (power from the flags): prefill from the
/// B = 1 rows, the batching curve D(n) from S_TG at each B, γ from several prompt lengths.
pub fn from_batched_bench(path: &Path, meta: &ProfileMeta) -> Result<DeviceProfile> {
    let rows = batched::read(path)?;
    let m = batched::to_measurements(path, &rows)?;
    let mut meta = meta.clone();
    meta.power_source = "flags".into();
    let p = &mut meta.provenance;
    p.insert(
        "tool".into(),
        "llama-batched-bench (imported by edgesim calibrate --from-batched-bench)".into(),
    );
    p.insert("imported_from".into(), path.display().to_string().into());
    p.insert("imported_at".into(), utc_now().into());
    p.insert(
        "note".into(),
        "S_TG at B sequences is the aggregate decode speed D(B); T_PP at B = 1 the prefill of PP \
         tokens"
            .into(),
    );
    fit_imported(path, &m, &meta)
}

/// Power from a meter's CSV: the mean of its readings in each phase (idle, and decoding with
/// each number of streams of the grid). Every phase must have readings. The single-stream
/// points at longer contexts (`--contexts`) have no phase and no power, as with a meter.
/// Returns the line number of a last row without its line break, not read
/// ([`power::CsvMeans::unread_line`]).
fn power_from_csv(
    m: &mut Measurements,
    phases: &[kept::KeptPhase],
    csv: &Path,
) -> Result<Option<usize>> {
    m.clear_power();
    let spans: Vec<(f64, f64)> = phases
        .iter()
        .map(|ph| (ph.from_unix_s, ph.to_unix_s))
        .collect();
    let read = power::csv_means(csv, &spans)?;
    for (ph, w) in phases.iter().zip(&read.means) {
        let Some(w) = *w else {
            let readings = match (read.readings, read.span) {
                (0, _) | (_, None) => "it holds no reading".to_string(),
                (1, Some((a, _))) => format!("its one reading is at Unix time {a}"),
                (n, Some((a, b))) => {
                    format!("its {n} readings lie from Unix time {a} to {b}")
                }
            };
            let unread = match read.unread_line {
                Some(line) => format!(
                    " (line {line}, the last, has no line break and was not read: the meter \
                     may have been writing it)"
                ),
                None => String::new(),
            };
            return Err(Error::Output {
                path: csv.into(),
                problem: format!(
                    "has no readings from Unix time {} to {} (calibration phase `{}`); \
                     {readings}{unread}: check that the meter logged Unix-time stamps in \
                     seconds while calibrate ran",
                    ph.from_unix_s, ph.to_unix_s, ph.name
                ),
            });
        };
        if ph.name == "idle" {
            m.idle_w = Some(w);
        } else if let Some(d) = m
            .decode
            .iter_mut()
            .find(|d| format!("decode-{}", d.streams) == ph.name)
        {
            d.power_w = Some(w);
        }
    }
    Ok(read.unread_line)
}

/// Fits kept measurements (power from `csv` if given) and writes the profile to `out`.
fn fit_and_write(
    k: &kept::Kept,
    csv: Option<&Path>,
    meta: &ProfileMeta,
    out: &Path,
) -> Result<DeviceProfile> {
    let mut m = k.measurements.clone();
    let mut meta = meta.clone();
    if let Some(csv) = csv
        && let Some(line) = power_from_csv(&mut m, &k.phases, csv)?
    {
        meta.provenance
            .insert(POWER_CSV_UNREAD_LINE.into(), (line as i64).into());
    }
    let profile = fit(&m, &meta)?;
    write_profile(&profile, out)?;
    Ok(profile)
}

/// The provenance key that records the line of a power meter's CSV that was not read (its
/// last, without a line break: the meter may have been writing it).
pub const POWER_CSV_UNREAD_LINE: &str = "power_csv_unread_line";

/// Measures a GGUF model on this machine, builds its profile and writes it to `out`. If that
/// fails after the measurements (the meter's CSV, the fit, the writing), they are kept beside
/// `out` for `calibrate --from-measurements` ([`mod@kept`]), and the error says where.
#[cfg(feature = "llm")]
pub fn from_model(
    o: &llama::Options,
    power: &PowerOptions,
    meta: &ProfileMeta,
    out: &Path,
    progress: &dyn Fn(usize, usize, &str),
) -> Result<DeviceProfile> {
    let bytes = check_gguf(&o.model)?;
    let source = power.source()?;
    let meter = match &source {
        power::Source::Meter(m) => Some(m),
        _ => None,
    };
    // Before measuring: an interrupted calibration's journal is gone on with, or left alone.
    let path = partial::path_for(out);
    let resume = if o.resume {
        if !path.exists() {
            return Err(Error::Input {
                path,
                problem: "does not exist, so there is no interrupted calibration into this \
                          --out to resume: run without --resume"
                    .into(),
            });
        }
        Some(partial::read(&path)?)
    } else {
        if path.is_file() {
            return Err(Error::Output {
                path,
                problem: "holds the measurements of an interrupted calibration into this --out: \
                          go on with them with --resume, or remove the file to measure from \
                          the start"
                    .into(),
            });
        }
        if path.exists() {
            return Err(Error::Output {
                path,
                problem: "is not a file, and calibrate journals its measurements there: move \
                          it, or choose another --out"
                    .into(),
            });
        }
        None
    };
    let sha = sha256_file(&o.model)?;
    let journal = llama::Journal {
        path,
        resume,
        model_sha256: sha.clone(),
    };
    let (m, extra, phases) = llama::measure(o, meter, progress, journal)?;
    let mut meta = meta.clone();
    meta.power_source = source.name().into();
    let p = &mut meta.provenance;
    p.insert(
        "tool".into(),
        format!("edgesim {} calibrate", env!("CARGO_PKG_VERSION")).into(),
    );
    p.insert("date".into(), utc_now().into());
    p.insert(
        "model_file".into(),
        o.model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .into(),
    );
    p.insert("model_sha256".into(), sha.into());
    p.insert("model_file_bytes".into(), (bytes as i64).into());
    p.insert("llama_cpp".into(), llama_cpp_version().into());
    p.insert("cpu".into(), cpu_name().into());
    p.insert("threads".into(), i64::from(o.threads).into());
    p.insert("gpu_layers".into(), i64::from(o.gpu_layers).into());
    p.insert("repetitions".into(), i64::from(o.repetitions).into());
    p.insert(
        "decode_tokens_per_stream".into(),
        i64::from(o.decode_tokens).into(),
    );
    for (k, v) in extra {
        p.insert(k, v);
    }
    let k = kept::Kept {
        device_name: meta.device_name.clone(),
        model_name: meta.model_name.clone(),
        quant: meta.quant.clone(),
        memory_gb: meta.memory_gb,
        power_source: meta.power_source.clone(),
        phases,
        measurements: m,
        provenance: meta.provenance.clone(),
    };
    let csv = match &source {
        power::Source::Csv(p) => Some(p.as_path()),
        _ => None,
    };
    // The journal has served once the profile is written or the measurements are kept; if
    // they could not be kept, it still holds them.
    match fit_and_write(&k, csv, &meta, out) {
        Ok(p) => {
            partial::remove(out);
            Ok(p)
        }
        Err(cause) => {
            let (e, kept) = keep(cause, &k, out);
            if kept {
                partial::remove(out);
            }
            Err(e)
        }
    }
}

/// The error of a calibration that failed after measuring, once its measurements are kept
/// (or could not be: then the journal beside `out` still holds them), and whether they were.
#[cfg(feature = "llm")]
fn keep(cause: Error, k: &kept::Kept, out: &Path) -> (Error, bool) {
    let (kept, ok) = match k.write(out) {
        Ok(path) => (
            format!(
                "the measurements are kept in {0}: fit them again without measuring, with \
                 `edgesim calibrate --from-measurements {0} --out {1}` and what was wrong mended \
                 (a meter's CSV with --power-csv, or --idle-watts and --busy-watts)",
                path.display(),
                out.display()
            ),
            true,
        ),
        Err(e) => (
            format!(
                "the measurements could not be kept ({e}), but {} still holds them: the same \
                 command with --resume, what was wrong mended, fits them without measuring again",
                partial::path_for(out).display()
            ),
            false,
        ),
    };
    (
        Error::AfterMeasuring {
            cause: Box::new(cause),
            kept,
        },
        ok,
    )
}

/// Fits measurements kept by a failed `calibrate --model` ([`mod@kept`]) and writes the
/// profile to `out`. Power: from `power.csv` over the kept phases, else from the watt flags,
/// else what a meter read during the measurements. The names come from the file unless given
/// (`name_given`, `model_given`: the flags named them).
pub fn from_measurements(
    path: &Path,
    power: &PowerOptions,
    flags: &ProfileMeta,
    (name_given, model_given): (bool, bool),
    out: &Path,
) -> Result<DeviceProfile> {
    let mut k = kept::read(path)?;
    let mut meta = k.meta(flags, name_given, model_given);
    let csv = if let Some(csv) = &power.csv {
        power::check_csv_header(csv)?;
        if k.phases.is_empty() {
            return Err(Error::Invalid {
                path: path.into(),
                key: "phases".into(),
                value: "[]".into(),
                problem: "holds no phase times, so a meter's CSV cannot be read against them: \
                          give --idle-watts and --busy-watts"
                    .into(),
            });
        }
        meta.power_source = "csv".into();
        Some(csv.as_path())
    } else if power.idle_watts.is_some() && power.busy_watts.is_some() {
        k.measurements.clear_power();
        meta.power_source = "flags".into();
        None
    } else {
        let m = &k.measurements;
        if m.idle_w.is_none() || !m.decode.iter().any(|d| d.power_w.is_some()) {
            return Err(Error::Input {
                path: path.into(),
                problem: "holds no power read during the measurements for some phases: give \
                          --power-csv with the meter's log of that run, or --idle-watts and \
                          --busy-watts"
                    .into(),
            });
        }
        meta.power_source = k.power_source.clone();
        None
    };
    meta.provenance
        .insert("fitted_from".into(), path.display().to_string().into());
    meta.provenance.insert("fitted_at".into(), utc_now().into());
    fit_and_write(&k, csv, &meta, out)
}
