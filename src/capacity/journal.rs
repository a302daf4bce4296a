//! A capacity search's journal: every run it simulates, appended to `runs.jsonl` as it ends,
//! so that a search killed part way (Ctrl-C, `kill -9`, a time limit) and started again, or
//! started again with other goals, runs nothing the journal holds.
//!
//! The search writes its output folder whole at its end ([`crate::output::rundir::RunDir`]):
//! until then the journal is in the folder's temporary sibling `.NAME.tmp-PID`, and in the
//! folder itself afterwards. A search reads the runs of both: the journal of the folder it
//! replaces (an earlier search's, complete) and those of the temporary folders of killed
//! searches into the same folder (their process gone), then writes them into its own
//! journal. A search that ends in an error leaves its temporary folder holding the journal
//! alone, as a kill leaves it, for the next search to read. A journal counts only if it is of the same resolved scenario (its header holds a
//! hash of `scenario.resolved.toml`, the seed and any `--set` included, and of the input files
//! it names by path, a trace's rows) and the same metric
//! set (this edgesim's); other journals are left, and their runs simulated again. The goals,
//! replications, precision and scale bounds are not part of it: a search with other goals
//! reuses every run it shares with an earlier one.
//!
//! A line is a run: `{"scale": S, "replication": R, "seed": SEED, "metrics": [...]}` (and
//! `"classes"` with two request classes or more), as a plan's journal lines with the load's
//! scale for the plan's key. When the search ends the journal is written again in order of
//! scale and replication, so the folder's bytes do not depend on the threads.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::plan::search::{Recorded, classes_recorded, recorded_metric_set};
use crate::scenario::Scenario;
use crate::sweep::exec::Metrics;

/// The journal's file name in the output folder.
pub const JOURNAL: &str = "runs.jsonl";

/// The most runs a journal is read for (its size bound is what a line per run can take): a
/// search of the most replications at about 60 loads is 60,000 runs, and the journal keeps
/// those of every search of the scenario into the folder.
const MAX_JOURNAL_RUNS: u64 = 1_000_000;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Header {
    /// The scenario's name.
    capacity: String,
    /// The hash of its resolved text.
    fingerprint: String,
    /// The hash of the metric set a line holds.
    metrics: String,
}

/// One run in the journal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Line {
    scale: f64,
    replication: u32,
    seed: u64,
    metrics: Metrics,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    classes: Vec<Metrics>,
}

/// A run's place: its scale's bits and its replication.
type Key = (u64, u32);

/// A journal being appended to: its path, the open file, and the runs appended.
type Sink = (PathBuf, Mutex<(File, HashMap<Key, Recorded>)>);

/// The runs of a capacity search: those the journals of earlier searches hold, and those it
/// simulates, appended to its own journal (none with `--no-out`).
#[derive(Debug)]
pub struct Journal {
    header: Header,
    seed: u64,
    classes: usize,
    /// Runs of earlier searches.
    known: HashMap<Key, Recorded>,
    /// The journal appended to (`None`: nothing is recorded).
    sink: Option<Sink>,
}

/// Where a run came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Simulated now.
    Simulated,
    /// Read from an earlier search's journal.
    Journal,
}

impl Journal {
    /// The header of `sc`'s journal; `files`, the digest of the input files it reads
    /// ([`input_digest`]), is hashed with the resolved text when there are any (without, the
    /// hash is an earlier edgesim's).
    fn header(sc: &Scenario, files: &str) -> Header {
        let resolved = sc.resolved_toml();
        let text = if files.is_empty() {
            resolved
        } else {
            format!("{resolved}\u{0}{files}")
        };
        Header {
            capacity: sc.name.clone(),
            fingerprint: format!("{:016x}", crate::rng::fnv1a(text.as_bytes())),
            metrics: recorded_metric_set(classes_recorded(sc.classes().len())),
        }
    }

    /// A search of `sc` that records nothing and knows no earlier run.
    pub fn none(sc: &Scenario) -> Journal {
        Journal {
            header: Journal::header(sc, ""),
            seed: sc.seed,
            classes: classes_recorded(sc.classes().len()),
            known: HashMap::new(),
            sink: None,
        }
    }

    /// A search of `sc` that knows the runs of the journals `earlier` (those of another
    /// scenario or metric set, and lines that are not runs of it, are left: the warnings say
    /// what) and records nothing until [`Journal::record_to`].
    pub fn read(sc: &Scenario, earlier: &[PathBuf]) -> (Journal, Vec<String>) {
        let mut j = Journal::none(sc);
        j.header = Journal::header(sc, &input_digest(sc));
        let mut warnings = Vec::new();
        for p in earlier {
            j.read_one(p, &mut warnings);
        }
        (j, warnings)
    }

    /// The runs of earlier searches it holds.
    pub fn earlier_runs(&self) -> usize {
        self.known.len()
    }

    /// Records every run from now on in the journal `path`, which is created holding the runs
    /// known.
    pub fn record_to(&mut self, path: &Path) -> Result<()> {
        write(path, &self.header, self.seed, &self.known)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(Error::io(path, "cannot open"))?;
        self.sink = Some((path.to_path_buf(), Mutex::new((file, HashMap::new()))));
        Ok(())
    }

    /// Adds the runs of the journal at `path` that are runs of this search.
    fn read_one(&mut self, path: &Path, warnings: &mut Vec<String>) {
        let limit = crate::sweep::exec::journal_bound(
            MAX_JOURNAL_RUNS,
            128 + 32
                * (crate::sweep::metrics::METRICS.len()
                    + self.classes * crate::sweep::metrics::CLASS_METRICS.len())
                    as u64,
        );
        let lines =
            match crate::sweep::exec::read_jsonl::<Header, Line>(path, "capacity journal", limit) {
                Ok(Some(l)) => l,
                Ok(None) => return,
                Err(e) => {
                    warnings.push(e.to_string());
                    return;
                }
            };
        let (h, runs, bad) = lines;
        if h != self.header {
            // Another scenario's (or another edgesim's metrics): replaced, as the folder is.
            return;
        }
        let at = path.display();
        warnings.extend(bad.into_iter().map(|b| format!("{at}: {b}")));
        for (n, l) in runs {
            let recorded = Recorded {
                metrics: l.metrics,
                classes: l.classes,
            };
            // The scales and replications a search may run (`Settings::check`).
            if !(1e-6..=1e6).contains(&l.scale)
                || l.replication >= super::MAX_REPLICATIONS
                || l.seed != self.seed.wrapping_add(u64::from(l.replication))
                || !recorded.complete(self.classes)
            {
                warnings.push(format!(
                    "{at}: line {n}: scale {}, replication {}, seed {}, {} metrics and {} \
                     classes are not a run of this search",
                    crate::check::num(l.scale),
                    l.replication,
                    l.seed,
                    recorded.metrics.len(),
                    recorded.classes.len()
                ));
                continue;
            }
            self.known
                .insert((l.scale.to_bits(), l.replication), recorded);
        }
    }

    /// Replication `replication` at `scale`: from the journals, or `simulate`d and recorded.
    /// A metric that is not a finite number is recorded as none (JSON has no such numbers), so
    /// a run read back is the run simulated.
    pub(crate) fn run(
        &self,
        scale: f64,
        replication: u32,
        simulate: impl FnOnce() -> Result<crate::metrics::Summary>,
    ) -> Result<(Recorded, Source)> {
        let key = (scale.to_bits(), replication);
        if let Some(r) = self.known.get(&key) {
            return Ok((r.clone(), Source::Journal));
        }
        let r = Recorded::of(&simulate()?);
        if let Some((path, sink)) = &self.sink {
            let text = serde_json::to_string(&line(self.seed, key, &r)).unwrap_or_default() + "\n";
            let mut g = sink.lock().unwrap_or_else(|e| e.into_inner());
            g.0.write_all(text.as_bytes())
                .and_then(|()| g.0.flush())
                .map_err(Error::io(path, "cannot append to"))?;
            g.1.insert(key, r.clone());
        }
        Ok((r, Source::Simulated))
    }

    /// Writes the journal again, every run it holds in order of scale and replication, and
    /// gives its path (`None`: nothing is recorded).
    pub fn finish(self) -> Result<Option<PathBuf>> {
        let Some((path, sink)) = self.sink else {
            return Ok(None);
        };
        let (file, mut all) = sink.into_inner().unwrap_or_else(|e| e.into_inner());
        drop(file);
        all.extend(self.known);
        write(&path, &self.header, self.seed, &all)?;
        Ok(Some(path))
    }
}

/// The journal line of run `key` of a search with `seed`.
fn line(seed: u64, (scale, replication): Key, r: &Recorded) -> Line {
    Line {
        scale: f64::from_bits(scale),
        replication,
        seed: seed.wrapping_add(u64::from(replication)),
        metrics: r.metrics.clone(),
        classes: r.classes.clone(),
    }
}

/// The input files `sc` reads that its resolved text names by path only (a trace, a model
/// catalogue; profiles are inlined in it), as [`crate::check::InputCache::files_digest`]
/// gives them: the scenario built again from its resolved text through a cache of its own.
/// Empty when it reads none (or cannot be built again, which its loading would have refused).
fn input_digest(sc: &Scenario) -> String {
    let Ok(doc) = toml::from_str::<toml::Value>(&sc.resolved_toml()) else {
        return String::new();
    };
    let cache = std::sync::Arc::new(crate::check::InputCache::default());
    let opts = crate::scenario::LoadOptions::default();
    match Scenario::from_doc(doc, &sc.source, &opts, std::sync::Arc::clone(&cache)) {
        Ok(_) => cache.files_digest(),
        Err(_) => String::new(),
    }
}

/// Writes the journal `path`: `header`, then `runs` in order of scale, then replication.
fn write(path: &Path, header: &Header, seed: u64, runs: &HashMap<Key, Recorded>) -> Result<()> {
    let mut sorted: Vec<(Key, &Recorded)> = runs.iter().map(|(k, r)| (*k, r)).collect();
    sorted.sort_unstable_by(|a, b| {
        f64::from_bits(a.0.0)
            .total_cmp(&f64::from_bits(b.0.0))
            .then(a.0.1.cmp(&b.0.1))
    });
    crate::report::write_atomic_with(path, |w| {
        serde_json::to_writer(&mut *w, header).map_err(std::io::Error::other)?;
        w.write_all(b"\n")?;
        for (k, r) in sorted {
            serde_json::to_writer(&mut *w, &line(seed, k, r)).map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })
}
