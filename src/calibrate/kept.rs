//! Measurements kept when `calibrate --model` cannot fit them, so that a second fit does not
//! measure again (`calibrate --from-measurements`).
//!
//! Measuring takes minutes of llama.cpp; what can fail after it (a power meter's CSV with no
//! readings in a phase or a bad row, a fit out of a profile's bounds, a profile that cannot be
//! written) used to lose them. The file, beside `--out` (`NAME.measurements.toml` for
//! `--out NAME.toml`), holds what was measured, each phase's Unix times (to read a mended meter
//! log again), the names the profile was to have, and the provenance.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{DecodePoint, Measurements, PrefillPoint, ProfileMeta};
use crate::check::num;
use crate::error::{Error, Result};

/// A phase of the measurement with a power reading (`idle`, `decode-N`), in Unix seconds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeptPhase {
    /// `idle` or `decode-N` (N streams).
    pub name: String,
    /// Start \[Unix s\].
    pub from_unix_s: f64,
    /// End \[Unix s\].
    pub to_unix_s: f64,
}

/// The file's contents.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Kept {
    /// The device name the profile was to have (`--name`).
    pub device_name: String,
    /// The model's catalogue key (`--model-name`).
    pub model_name: String,
    /// Quantisation label (`--quant`).
    #[serde(default)]
    pub quant: String,
    /// The machine's memory \[GB\].
    pub memory_gb: f64,
    /// Where the measurement's power came from: `ina3221`, `rapl`, `csv` or `flags`.
    pub power_source: String,
    /// The phases whose power a meter's CSV gives.
    #[serde(default)]
    pub phases: Vec<KeptPhase>,
    /// What was measured; power only from a meter read during the run.
    pub measurements: Measurements,
    /// The profile's provenance as the measurement recorded it.
    #[serde(default)]
    pub provenance: toml::Table,
}

/// Where `calibrate --out OUT` keeps its measurements: `OUT` with the extension
/// `measurements.toml` (`my-board.toml` → `my-board.measurements.toml`).
pub fn path_for(out: &Path) -> PathBuf {
    out.with_extension("measurements.toml")
}

impl Kept {
    /// Writes the file at [`path_for`]`(out)` (atomically). A file there that is not kept
    /// measurements is left alone (an error).
    pub fn write(&self, out: &Path) -> Result<PathBuf> {
        let path = path_for(out);
        if path.exists() && read(&path).is_err() {
            return Err(Error::Output {
                path,
                problem: "exists and is not measurements kept by calibrate; it is left alone"
                    .into(),
            });
        }
        let body = crate::strict::to_toml(self).map_err(|e| Error::Output {
            path: path.clone(),
            problem: format!("cannot serialise the measurements: {e}"),
        })?;
        // No path in the comment: a line break in it would end the comment.
        let text = format!(
            "# Measurements of `edgesim calibrate --model`, kept on {} because no profile could \
             be made from them.\n# Fit them again, without measuring: edgesim calibrate \
             --from-measurements THIS-FILE --out PROFILE.toml\n# (with --power-csv METER.csv, \
             or --idle-watts W --busy-watts W, where power was missing).\n{body}",
            super::utc_now()
        );
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::report::create_folder(dir, dir, "cannot create")?;
        }
        crate::report::write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    /// The profile's names and provenance, from the file, then the flags given now.
    pub fn meta(&self, flags: &ProfileMeta, name_given: bool, model_given: bool) -> ProfileMeta {
        let mut meta = flags.clone();
        if !name_given {
            meta.device_name = self.device_name.clone();
        }
        if !model_given {
            meta.model_name = self.model_name.clone();
        }
        if meta.quant.is_empty() {
            meta.quant = self.quant.clone();
        }
        meta.memory_gb = self.memory_gb;
        meta.model_name_defaulted = false;
        let mut provenance = self.provenance.clone();
        provenance.extend(std::mem::take(&mut meta.provenance));
        meta.provenance = provenance;
        meta
    }
}

/// Reads and checks a kept-measurements file: every key known, every measurement one a profile
/// could come from. Errors name the file and the key.
pub fn read(path: &Path) -> Result<Kept> {
    let text = crate::check::read_text(path, "kept measurements", crate::check::MAX_CONFIG_BYTES)?;
    let k: Kept = crate::strict::from_str(&text).map_err(|e| {
        crate::check::not_read_as(path, &text, "measurements kept by calibrate", &e)
    })?;
    check(path, &k)?;
    Ok(k)
}

/// The checks of [`read`].
fn check(path: &Path, k: &Kept) -> Result<()> {
    let bad = |key: String, value: String, allowed: &str| invalid(path, key, value, allowed);
    for (key, name) in [
        ("device_name", &k.device_name),
        ("model_name", &k.model_name),
    ] {
        if name.trim().is_empty() {
            return Err(bad(key.into(), format!("\"{name}\""), "a non-empty name"));
        }
    }
    if !(k.memory_gb.is_finite() && k.memory_gb >= 0.0) {
        return Err(bad(
            "memory_gb".into(),
            num(k.memory_gb),
            "a finite memory size in GB, at least 0",
        ));
    }
    let m = &k.measurements;
    if m.prefill.is_empty() {
        return Err(bad(
            "measurements.prefill".into(),
            "none".into(),
            "at least one prompt length with its TTFTs",
        ));
    }
    check_prefill(path, "measurements.prefill", &m.prefill)?;
    if !m.decode.iter().any(|d| d.streams == 1) {
        return Err(bad(
            "measurements.decode".into(),
            format!("{} points, none of 1 stream", m.decode.len()),
            "points of the decode curve D(n), one of them of 1 stream",
        ));
    }
    check_decode(path, "measurements.decode", &m.decode)?;
    check_watts(path, "measurements.idle_w", m.idle_w)?;
    check_phases(path, &k.phases, "measurements.decode", &m.decode)
}

/// An invalid value of `key` in the file at `path`, which must be `allowed`.
fn invalid(path: &Path, key: String, value: String, allowed: &str) -> Error {
    Error::Invalid {
        path: path.into(),
        key,
        value,
        problem: format!("must be {allowed}"),
    }
}

/// A power read by a meter, if any, at `key`: from 0 to a profile's largest.
pub(super) fn check_watts(path: &Path, key: &str, w: Option<f64>) -> Result<()> {
    let max_watts = crate::device::profile::MAX_WATTS;
    match w {
        Some(w) if !(w.is_finite() && (0.0..=max_watts).contains(&w)) => Err(invalid(
            path,
            key.into(),
            num(w),
            &format!("a power in watts from 0 to {max_watts}"),
        )),
        _ => Ok(()),
    }
}

/// Prefill points (the array at `key`): prompt lengths and TTFTs a profile could come from.
pub(super) fn check_prefill(path: &Path, key: &str, points: &[PrefillPoint]) -> Result<()> {
    let max_tokens = crate::workload::tokens::MAX_TOKENS;
    for (i, p) in points.iter().enumerate() {
        if !(1..=max_tokens).contains(&p.prompt_tokens) {
            return Err(invalid(
                path,
                format!("{key}[{i}].prompt_tokens"),
                p.prompt_tokens.to_string(),
                &format!("a prompt length from 1 to {max_tokens} tokens"),
            ));
        }
        if p.ttft_s.is_empty() {
            return Err(invalid(
                path,
                format!("{key}[{i}].ttft_s"),
                "[]".into(),
                "at least one TTFT",
            ));
        }
        for (j, &t) in p.ttft_s.iter().enumerate() {
            if !(t.is_finite() && t > 0.0 && t <= crate::time::MAX_INPUT_S) {
                return Err(invalid(
                    path,
                    format!("{key}[{i}].ttft_s[{j}]"),
                    num(t),
                    &format!(
                        "a time in seconds above 0, at most {}",
                        crate::time::MAX_INPUT_S
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Decode points (the array at `key`): stream counts, contexts, speeds and powers a profile
/// could come from.
pub(super) fn check_decode(path: &Path, key: &str, points: &[DecodePoint]) -> Result<()> {
    let max_tokens = crate::workload::tokens::MAX_TOKENS;
    let min_speed = crate::check::MIN_TOKENS_PER_S;
    for (i, d) in points.iter().enumerate() {
        let max_streams = crate::device::fleet::MAX_SLOTS;
        if !(1..=max_streams).contains(&d.streams) {
            return Err(invalid(
                path,
                format!("{key}[{i}].streams"),
                d.streams.to_string(),
                &format!("from 1 to {max_streams} streams"),
            ));
        }
        let c = d.mean_context_tokens;
        if !(c.is_finite() && (0.0..=f64::from(max_tokens)).contains(&c)) {
            return Err(invalid(
                path,
                format!("{key}[{i}].mean_context_tokens"),
                num(c),
                &format!("a context from 0 to {max_tokens} tokens"),
            ));
        }
        if d.tokens_per_s.is_empty() {
            return Err(invalid(
                path,
                format!("{key}[{i}].tokens_per_s"),
                "[]".into(),
                "at least one speed",
            ));
        }
        for (j, &s) in d.tokens_per_s.iter().enumerate() {
            if !(s.is_finite() && s >= min_speed) {
                return Err(invalid(
                    path,
                    format!("{key}[{i}].tokens_per_s[{j}]"),
                    num(s),
                    &format!("a speed of at least {min_speed} tokens/s"),
                ));
            }
        }
        check_watts(path, &format!("{key}[{i}].power_w"), d.power_w)?;
    }
    Ok(())
}

/// Phases: `idle` or `decode-N` for a stream count that `decode` (at `decode_key`) holds, with finite Unix
/// times in order.
pub(super) fn check_phases(
    path: &Path,
    phases: &[KeptPhase],
    decode_key: &str,
    decode: &[DecodePoint],
) -> Result<()> {
    for (i, ph) in phases.iter().enumerate() {
        let known = ph.name == "idle"
            || ph
                .name
                .strip_prefix("decode-")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| decode.iter().any(|d| d.streams == n));
        if !known {
            return Err(invalid(
                path,
                format!("phases[{i}].name"),
                format!("\"{}\"", ph.name),
                &format!("`idle`, or `decode-N` for a number of streams N that {decode_key} holds"),
            ));
        }
        let (a, b) = (ph.from_unix_s, ph.to_unix_s);
        if !(a.is_finite() && b.is_finite() && a <= b) {
            return Err(invalid(
                path,
                format!("phases[{i}]"),
                format!("from_unix_s = {}, to_unix_s = {}", num(a), num(b)),
                "finite Unix times, from_unix_s <= to_unix_s",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept() -> Kept {
        Kept {
            device_name: "box".into(),
            model_name: "smollm2-135m".into(),
            quant: String::new(),
            memory_gb: 4.0,
            power_source: "csv".into(),
            phases: vec![KeptPhase {
                name: "idle".into(),
                from_unix_s: 1.5,
                to_unix_s: 2.25,
            }],
            measurements: Measurements {
                prefill: vec![PrefillPoint {
                    prompt_tokens: 32,
                    ttft_s: vec![0.125, 0.1 + 0.2],
                }],
                decode: vec![DecodePoint {
                    streams: 1,
                    mean_context_tokens: 20.5,
                    tokens_per_s: vec![1.0 / 3.0],
                    power_w: None,
                }],
                idle_w: None,
                memory_bytes: Some(123),
            },
            provenance: toml::Table::from_iter([("cpu".to_string(), "x".into())]),
        }
    }

    /// What is kept reads back bit for bit, beside the profile's path; a file there that is
    /// not kept measurements is not replaced.
    #[test]
    fn kept_measurements_read_back_and_leave_other_files_alone() {
        let dir = std::env::temp_dir().join(format!("edgesim-kept-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // A line break in the name must not break the file.
        let out = dir.join("sub/bo\nard.toml");
        let k = kept();
        let path = k.write(&out).unwrap();
        assert_eq!(path, dir.join("sub/bo\nard.measurements.toml"));
        assert_eq!(read(&path).unwrap(), k);
        // Written again over its own kind.
        k.write(&out).unwrap();
        std::fs::write(&path, "notes\n").unwrap();
        let e = k.write(&out).unwrap_err().to_string();
        assert!(e.contains("is not measurements kept by calibrate"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "notes\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
