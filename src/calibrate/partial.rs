//! The journal of a calibration in progress, so that an interrupted `calibrate --model`
//! (Ctrl-C, a lost SSH session, a board that rebooted) goes on where it stopped with
//! `--resume` instead of measuring everything again.
//!
//! `calibrate --model --out NAME.toml` writes `NAME.partial.toml` after each point of its
//! grid (idle power, a prompt length, a stream count, a context), atomically, and removes it
//! once the profile is written or the measurements are kept ([`mod@super::kept`]). With
//! `--resume`, each point of the new grid that the journal holds is taken as measured, if the
//! settings every point depends on ([`Settings`]) are the same; the others are measured. The
//! grid itself may differ: points the journal holds that the new grid lacks are not used.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::kept::{self, KeptPhase};
use super::{DecodePoint, PrefillPoint};
use crate::error::{Error, Result};

/// What every measured point depends on: a resumed calibration must measure with the same.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// SHA-256 of the GGUF file.
    pub model_sha256: String,
    /// llama.cpp's context \[tokens\].
    pub n_ctx: u32,
    /// CPU threads (`--threads`).
    pub threads: u32,
    /// Layers offloaded to a GPU (`--gpu-layers`).
    pub gpu_layers: u32,
    /// Tokens generated per sequence (`--decode-tokens`).
    pub decode_tokens: u32,
    /// Repetitions of each measurement (`--repetitions`).
    pub repetitions: u32,
    /// Whether a power meter was read during the measurements.
    pub metered: bool,
}

impl Settings {
    /// Each setting: its key in the file, the flag that sets it, and its value as shown.
    fn shown(&self) -> [(&'static str, &'static str, String); 7] {
        [
            ("model_sha256", "--model", self.model_sha256.clone()),
            (
                "n_ctx",
                "--ctx, or what the grid needs",
                self.n_ctx.to_string(),
            ),
            ("threads", "--threads", self.threads.to_string()),
            ("gpu_layers", "--gpu-layers", self.gpu_layers.to_string()),
            (
                "decode_tokens",
                "--decode-tokens",
                self.decode_tokens.to_string(),
            ),
            ("repetitions", "--repetitions", self.repetitions.to_string()),
            ("metered", "a power meter", self.metered.to_string()),
        ]
    }
}

/// Single-stream decoding after a longer context (`--contexts`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContextPoint {
    /// Tokens in the cache when decoding started.
    pub context_tokens: u32,
    /// Mean context over the measured steps \[tokens\].
    pub mean_context_tokens: f64,
    /// Tokens per second, per repetition.
    pub tokens_per_s: Vec<f64>,
}

impl ContextPoint {
    /// As a point of the decode curve (one stream, no power).
    pub fn to_decode(&self) -> DecodePoint {
        DecodePoint {
            streams: 1,
            mean_context_tokens: self.mean_context_tokens,
            tokens_per_s: self.tokens_per_s.clone(),
            power_w: None,
        }
    }
}

/// The journal's contents: the settings, then every point measured so far.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Partial {
    /// What the points depend on.
    pub settings: Settings,
    /// Whether the idle phase is done.
    #[serde(default)]
    pub idle_done: bool,
    /// Idle power, if metered \[W\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_w: Option<f64>,
    /// Prompt lengths measured.
    #[serde(default)]
    pub prefill: Vec<PrefillPoint>,
    /// Stream counts measured (the decode curve from the grid's base context).
    #[serde(default)]
    pub streams: Vec<DecodePoint>,
    /// Contexts measured.
    #[serde(default)]
    pub contexts: Vec<ContextPoint>,
    /// The phases a meter's CSV gives power for, with their Unix times.
    #[serde(default)]
    pub phases: Vec<KeptPhase>,
}

/// Where `calibrate --out OUT` journals its measurements: `OUT` with the extension
/// `partial.toml` (`my-board.toml` → `my-board.partial.toml`).
pub fn path_for(out: &Path) -> PathBuf {
    out.with_extension("partial.toml")
}

impl Partial {
    /// Nothing measured yet.
    pub fn new(settings: Settings) -> Partial {
        Partial {
            settings,
            idle_done: false,
            idle_w: None,
            prefill: Vec::new(),
            streams: Vec::new(),
            contexts: Vec::new(),
            phases: Vec::new(),
        }
    }

    /// The prefill point of `prompt_tokens`, if measured.
    pub fn prefill(&self, prompt_tokens: u32) -> Option<&PrefillPoint> {
        self.prefill
            .iter()
            .find(|p| p.prompt_tokens == prompt_tokens)
    }

    /// The decode point of `streams` streams, if measured.
    pub fn streams(&self, streams: u32) -> Option<&DecodePoint> {
        self.streams.iter().find(|d| d.streams == streams)
    }

    /// The point after `context_tokens` tokens, if measured.
    pub fn context(&self, context_tokens: u32) -> Option<&ContextPoint> {
        self.contexts
            .iter()
            .find(|c| c.context_tokens == context_tokens)
    }

    /// Points measured (the idle phase counts as one).
    pub fn points(&self) -> usize {
        usize::from(self.idle_done) + self.prefill.len() + self.streams.len() + self.contexts.len()
    }

    /// Whether this journal, read from `path`, can go on with `now`'s settings; if not, the
    /// error names the first setting that differs, both values, and the way out.
    pub fn check_settings(&self, path: &Path, now: &Settings) -> Result<()> {
        for ((key, flag, was), (_, _, is)) in self.settings.shown().into_iter().zip(now.shown()) {
            if was != is {
                return Err(Error::Invalid {
                    path: path.into(),
                    key: format!("settings.{key}"),
                    value: was,
                    problem: format!(
                        "differs from this run's ({flag}: {is}), and every point measured \
                         depends on it: resume with the settings of the interrupted run, or \
                         remove the file to measure from the start"
                    ),
                });
            }
        }
        Ok(())
    }

    /// Writes the journal to `path`, atomically (a kill leaves the last complete one).
    pub fn write(&self, path: &Path) -> Result<()> {
        let body = crate::strict::to_toml(self).map_err(|e| Error::Output {
            path: path.into(),
            problem: format!("cannot serialise the measurements so far: {e}"),
        })?;
        let text = format!(
            "# Measurements of an `edgesim calibrate --model` in progress, updated after each \
             point.\n# If it was interrupted, run the same command again with --resume: the \
             points below are kept.\n{body}"
        );
        // Makes `--out`'s folders if they do not exist yet (they were checked to be creatable).
        crate::report::write_atomic(path, text.as_bytes())
    }
}

/// Reads and checks a journal: every key known, every point one a profile could come from,
/// no point twice. Errors name the file and the key.
pub fn read(path: &Path) -> Result<Partial> {
    let text =
        crate::check::read_text(path, "calibration journal", crate::check::MAX_CONFIG_BYTES)?;
    let p: Partial = crate::strict::from_str(&text)
        .map_err(|e| crate::check::not_read_as(path, &text, "the journal of a calibration", &e))?;
    kept::check_prefill(path, "prefill", &p.prefill)?;
    kept::check_decode(path, "streams", &p.streams)?;
    let contexts: Vec<DecodePoint> = p.contexts.iter().map(ContextPoint::to_decode).collect();
    kept::check_decode(path, "contexts", &contexts)?;
    kept::check_watts(path, "idle_w", p.idle_w)?;
    kept::check_phases(path, &p.phases, "streams", &p.streams)?;
    let twice = |key: &str, values: Vec<u32>| -> Result<()> {
        match crate::check::first_repeat(&values) {
            Some(i) => Err(Error::Invalid {
                path: path.into(),
                key: format!("{key}[{i}]"),
                value: values[i].to_string(),
                problem: "is measured twice; each point once".into(),
            }),
            None => Ok(()),
        }
    };
    twice(
        "prefill",
        p.prefill.iter().map(|x| x.prompt_tokens).collect(),
    )?;
    twice("streams", p.streams.iter().map(|x| x.streams).collect())?;
    twice(
        "contexts",
        p.contexts.iter().map(|x| x.context_tokens).collect(),
    )?;
    Ok(p)
}

/// Removes the journal beside `out`, if there is one (best effort: a journal left behind is
/// named by the next calibration into `out`, which refuses to start over it).
pub fn remove(out: &Path) {
    let _ = std::fs::remove_file(path_for(out));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            model_sha256: "ab".repeat(32),
            n_ctx: 512,
            threads: 2,
            gpu_layers: 0,
            decode_tokens: 24,
            repetitions: 2,
            metered: false,
        }
    }

    fn partial() -> Partial {
        let mut p = Partial::new(settings());
        p.idle_done = true;
        p.phases.push(KeptPhase {
            name: "idle".into(),
            from_unix_s: 10.0,
            to_unix_s: 10.5,
        });
        p.prefill.push(PrefillPoint {
            prompt_tokens: 32,
            ttft_s: vec![0.1 + 0.2, 0.125],
        });
        p.streams.push(DecodePoint {
            streams: 2,
            mean_context_tokens: 20.5,
            tokens_per_s: vec![1.0 / 3.0, 7.25],
            power_w: None,
        });
        p.contexts.push(ContextPoint {
            context_tokens: 512,
            mean_context_tokens: 524.5,
            tokens_per_s: vec![99.5, 100.0],
        });
        p
    }

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("edgesim-partial-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A journal reads back bit for bit beside the profile's path, and answers which points
    /// it holds.
    #[test]
    fn a_journal_reads_back_and_names_its_points() {
        let d = dir("back");
        // In a folder that does not exist yet, as `--out`'s may not.
        let out = d.join("sub/board.toml");
        let path = path_for(&out);
        assert_eq!(path, d.join("sub/board.partial.toml"));
        let p = partial();
        p.write(&path).unwrap();
        let q = read(&path).unwrap();
        assert_eq!(q, p);
        assert_eq!(q.points(), 4);
        assert_eq!(q.prefill(32).unwrap().ttft_s, vec![0.1 + 0.2, 0.125]);
        assert!(q.prefill(64).is_none());
        assert_eq!(q.streams(2).unwrap().tokens_per_s[0], 1.0 / 3.0);
        assert!(q.streams(1).is_none());
        assert_eq!(q.context(512).unwrap().to_decode().streams, 1);
        assert!(q.context(8).is_none());
        remove(&out);
        assert!(!path.exists());
        remove(&out); // nothing there: no error
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Resuming with any setting changed is refused, naming the key, the journal's value and
    /// this run's, and the way out.
    #[test]
    fn changed_settings_are_refused_by_name() {
        let p = partial();
        let path = Path::new("runs/board.partial.toml");
        p.check_settings(path, &settings()).unwrap();
        /// A change of the settings, the key it changes, the flag and the value shown.
        type Case = (fn(&mut Settings), &'static str, &'static str, &'static str);
        let cases: [Case; 7] = [
            (
                |s| s.model_sha256 = "cd".repeat(32),
                "model_sha256",
                "--model",
                "cdcd",
            ),
            (
                |s| s.n_ctx = 1024,
                "n_ctx",
                "--ctx, or what the grid needs",
                "1024",
            ),
            (|s| s.threads = 4, "threads", "--threads", "4"),
            (|s| s.gpu_layers = 99, "gpu_layers", "--gpu-layers", "99"),
            (
                |s| s.decode_tokens = 64,
                "decode_tokens",
                "--decode-tokens",
                "64",
            ),
            (|s| s.repetitions = 3, "repetitions", "--repetitions", "3"),
            (|s| s.metered = true, "metered", "a power meter", "true"),
        ];
        for (change, key, flag, shown) in cases {
            let mut now = settings();
            change(&mut now);
            let e = p.check_settings(path, &now).unwrap_err().to_string();
            assert!(
                e.contains("runs/board.partial.toml")
                    && e.contains(&format!("settings.{key}"))
                    && e.contains(&format!("({flag}: {shown}"))
                    && e.contains("remove the file"),
                "{key}: {e}"
            );
        }
    }

    /// A journal that no calibration wrote (a bad value, an unknown key, a point twice) is
    /// refused by key.
    #[test]
    fn bad_journals_are_refused_by_key() {
        let d = dir("bad");
        let path = d.join("board.partial.toml");
        let good = toml::to_string(&partial()).unwrap();
        for (from, to, needle) in [
            ("0.125", "-0.125", "prefill[0].ttft_s[1]"),
            ("7.25", "nan", "streams[0].tokens_per_s[1]"),
            ("99.5", "0.0", "contexts[0].tokens_per_s[0]"),
            ("idle_done", "idle_finished", "idle_finished"),
            ("name = \"idle\"", "name = \"decode-4\"", "phases[0].name"),
        ] {
            assert!(good.contains(from), "{from}");
            std::fs::write(&path, good.replacen(from, to, 1)).unwrap();
            let e = read(&path).unwrap_err().to_string();
            assert!(
                e.contains("board.partial.toml") && e.contains(needle),
                "{needle}: {e}"
            );
        }
        let mut twice = partial();
        twice.contexts.push(twice.contexts[0].clone());
        twice.write(&path).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(
            e.contains("contexts[1]") && e.contains("measured twice"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
