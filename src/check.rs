//! The validation context every spec uses: the file being validated, its folder, and the rules
//! all keys follow (finite numbers, ranges, times that fit the clock, input files that are
//! regular and bounded in size). Each extension point validates its own section with it.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::catalogue::ModelCatalogue;
use crate::device::ProfileSource;
use crate::device::profile::DeviceProfile;
use crate::error::{Error, Result};
use crate::time::MAX_INPUT_S;
use crate::workload::trace::TraceRows;

/// Whether a key holds its default value: the raw config layers leave such keys out when they
/// write a file back (`#[serde(skip_serializing_if = "crate::check::is_default")]`).
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Largest configuration file read (scenario, profile, catalogue, sweep or plan file) \[bytes\].
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;
/// Largest data file read (a trace, a llama-bench result) \[bytes\].
pub const MAX_DATA_BYTES: u64 = 1 << 30;

/// Input files already read, by path: the points of a sweep or a plan read each trace and
/// profile once.
#[derive(Debug, Default)]
pub struct InputCache {
    traces: Mutex<HashMap<PathBuf, TraceRows>>,
    profiles: Mutex<HashMap<ProfileSource, Arc<DeviceProfile>>>,
    catalogues: Mutex<HashMap<PathBuf, Arc<ModelCatalogue>>>,
}

impl InputCache {
    /// The input files this cache has read (traces, profile files, model catalogues), each
    /// by its path and the FNV-1a hash of its bytes as they are now, one a line in path order
    /// (a file that cannot be read counts by its path): with the texts of a sweep or a plan,
    /// what its runs read.
    pub fn files_digest(&self) -> String {
        let mut paths: Vec<PathBuf> = lock(&self.traces).keys().cloned().collect();
        paths.extend(lock(&self.profiles).keys().filter_map(|s| match s {
            ProfileSource::File(p) => Some(p.clone()),
            ProfileSource::Shipped(_) => None,
        }));
        paths.extend(lock(&self.catalogues).keys().cloned());
        paths.sort();
        paths.dedup();
        let mut out = String::new();
        for p in paths {
            // As the file was read: a regular file, at most `MAX_DATA_BYTES`.
            let h =
                read_bytes(&p, "input file", MAX_DATA_BYTES).map_or(0, |b| crate::rng::fnv1a(&b));
            out += &format!("{}={h:016x}\n", p.display());
        }
        out
    }
}

/// Where a section is being validated, and the shared rules.
#[derive(Clone, Debug)]
pub struct Checker {
    path: PathBuf,
    dir: PathBuf,
    cache: Arc<InputCache>,
}

impl Checker {
    /// A context for `path` (relative paths resolve against its folder, made absolute).
    pub fn new(path: &Path) -> Checker {
        Checker::with_cache(path, Arc::new(InputCache::default()))
    }

    /// A context for `path` that reads input files through `cache`.
    pub fn with_cache(path: &Path, cache: Arc<InputCache>) -> Checker {
        // Absolute, so that the paths it resolves stay right in a resolved scenario written
        // elsewhere. A bare file name's folder is the working directory (`absolute` refuses
        // the empty path its `parent` is: until 2026-12-06 such paths stayed relative).
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => {
                std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
            }
            _ => std::env::current_dir().unwrap_or_default(),
        };
        Checker {
            path: path.to_path_buf(),
            dir,
            cache,
        }
    }

    /// An error in a file the scenario refers to at `key` (as `given`), wrapped so that it names
    /// both the scenario's key and the file.
    pub fn referenced(&self, key: &str, given: &str, e: Error) -> Error {
        self.bad(key, format!("\"{given}\""), e.to_string())
    }

    /// The trace at `path` (read once per cache), with as many of its rows as a run may
    /// replay ([`crate::scenario::budget::max_trace_rows`]).
    pub fn trace(&self, path: &Path) -> Result<TraceRows> {
        if let Some(t) = lock(&self.cache.traces).get(path) {
            return Ok(t.clone());
        }
        let keep = crate::scenario::budget::max_trace_rows();
        let t = crate::workload::trace::read_trace_kept(path, keep)?;
        lock(&self.cache.traces).insert(path.to_path_buf(), t.clone());
        Ok(t)
    }

    /// The device profile this file names as `given` at `key` (a path relative to the file's
    /// folder, or a shipped profile's name: [`ProfileSource::new`]), read and checked once per
    /// cache; an error names the key and the value.
    pub fn profile(&self, key: &str, given: &str) -> Result<(ProfileSource, Arc<DeviceProfile>)> {
        let source = ProfileSource::new(given, self.resolve(given));
        if let Some(p) = lock(&self.cache.profiles).get(&source) {
            return Ok((source, Arc::clone(p)));
        }
        let p = Arc::new(source.load().map_err(|e| self.referenced(key, given, e))?);
        lock(&self.cache.profiles).insert(source.clone(), Arc::clone(&p));
        Ok((source, p))
    }

    /// The model catalogue at `key` (`given`, read from `full`; `None`: the built-in one), read
    /// and checked once per cache; an error names the key and the value.
    pub fn catalogue(
        &self,
        key: &str,
        given: Option<(&str, &Path)>,
    ) -> Result<Arc<ModelCatalogue>> {
        let Some((given, full)) = given else {
            return Ok(ModelCatalogue::builtin_shared());
        };
        if let Some(c) = lock(&self.cache.catalogues).get(full) {
            return Ok(Arc::clone(c));
        }
        let c = Arc::new(ModelCatalogue::load(full).map_err(|e| self.referenced(key, given, e))?);
        lock(&self.cache.catalogues).insert(full.to_path_buf(), Arc::clone(&c));
        Ok(c)
    }

    /// The file being validated.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An [`Error::Invalid`] for `key` in this file.
    pub fn bad(
        &self,
        key: impl Into<String>,
        value: impl std::fmt::Display,
        problem: impl Into<String>,
    ) -> Error {
        Error::invalid(&self.path, key, value, problem)
    }

    /// A name that becomes part of an output folder's name (`output/NAME`,
    /// `output/sweep-NAME`): non-blank, without path separators or control characters, not
    /// `.` or `..`, at most [`MAX_NAME_BYTES`] bytes.
    pub fn folder_name<'a>(&self, key: &str, name: &'a str) -> Result<&'a str> {
        let problem = if name.trim().is_empty() {
            "must not be blank".to_string()
        } else if name.contains(['/', '\\']) {
            "must not contain path separators (it names the output folder)".into()
        } else if name == "." || name == ".." {
            "must not be `.` or `..` (it names the output folder)".into()
        } else if name.chars().any(char::is_control) {
            "must not contain control characters (it names the output folder)".into()
        } else if name.len() > MAX_NAME_BYTES {
            format!("must be at most {MAX_NAME_BYTES} bytes long (it names the output folder)")
        } else {
            return Ok(name);
        };
        Err(self.bad(
            key,
            format!(
                "\"{}\"",
                excerpt(&name.escape_debug().to_string(), EXCERPT_CHARS)
            ),
            problem,
        ))
    }

    /// `p` resolved against the file's folder (absolute).
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    /// A finite number > 0.
    pub fn positive(&self, key: &str, v: f64) -> Result<f64> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.bad(key, num(v), "must be a finite number > 0"))
        }
    }

    /// A finite number >= 0.
    pub fn non_negative(&self, key: &str, v: f64) -> Result<f64> {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(self.bad(key, num(v), "must be a finite number >= 0"))
        }
    }

    /// A price: a finite number from 0 to `max` (`unit` names it in the error). An upper bound
    /// catches a typo (`1e30`) before it makes every cost infinite.
    pub fn price(&self, key: &str, v: f64, max: f64, unit: &str) -> Result<f64> {
        if v.is_finite() && (0.0..=max).contains(&v) {
            Ok(v)
        } else {
            Err(self.bad(
                key,
                num(v),
                format!("must be a price from 0 to {} {unit}", num(max)),
            ))
        }
    }

    /// A number in `[0, 1]`.
    pub fn fraction(&self, key: &str, v: f64) -> Result<f64> {
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(self.bad(key, num(v), "must lie in [0, 1]"))
        }
    }

    /// A whole number from `min` to [`MAX_WHOLE`] given as a float (counts written as `12` or
    /// `12.0`).
    pub fn whole(&self, key: &str, v: f64, min: f64, what: &str) -> Result<f64> {
        if v.is_finite() && v >= min && v.fract() == 0.0 && v <= MAX_WHOLE {
            Ok(v)
        } else {
            Err(self.bad(
                key,
                num(v),
                format!(
                    "must be a whole number of {what}, at least {min} and at most {}",
                    num(MAX_WHOLE)
                ),
            ))
        }
    }

    /// A speed in tokens/s: finite and at least [`MIN_TOKENS_PER_S`], so that the longest
    /// request ([`crate::workload::tokens::MAX_TOKENS`] tokens) takes at most 10^10 s.
    pub fn speed(&self, key: &str, v: f64) -> Result<f64> {
        if v.is_finite() && v >= MIN_TOKENS_PER_S {
            Ok(v)
        } else {
            Err(self.bad(
                key,
                num(v),
                format!("must be a finite speed of at least {MIN_TOKENS_PER_S} tokens/s"),
            ))
        }
    }

    /// A time in seconds that fits the simulated clock: finite, >= 0 and at most
    /// [`MAX_INPUT_S`].
    pub fn time_s(&self, key: &str, v: f64) -> Result<f64> {
        self.non_negative(key, v)?;
        if v > MAX_INPUT_S {
            return Err(self.bad(
                key,
                num(v),
                format!(
                    "is beyond the simulated clock: times must be at most {MAX_INPUT_S:e} s \
                     (the clock counts microseconds in 64 bits, with room for the drain)"
                ),
            ));
        }
        Ok(v)
    }

    /// A span in seconds the clock can represent and count: finite, at least one clock tick
    /// (1 µs) and at most [`MAX_INPUT_S`].
    pub fn span_s(&self, key: &str, v: f64) -> Result<f64> {
        self.positive(key, v)?;
        if v < 1e-6 {
            return Err(self.bad(
                key,
                num(v),
                "is shorter than the simulated clock's tick: must be at least 1e-6 s (1 µs)",
            ));
        }
        self.time_s(key, v)
    }

    /// A time in milliseconds that fits the clock (see [`Checker::time_s`]).
    pub fn time_ms(&self, key: &str, v: f64) -> Result<f64> {
        self.non_negative(key, v)?;
        if v / 1000.0 > MAX_INPUT_S {
            return Err(self.bad(
                key,
                num(v),
                format!(
                    "is beyond the simulated clock: at most {:e} ms",
                    MAX_INPUT_S * 1000.0
                ),
            ));
        }
        Ok(v)
    }

    /// An interval in milliseconds where 0 means "none" (`zero`, e.g. "exact load"): 0, or a
    /// time that fits the clock and is at least one tick (1 µs) once on it.
    pub fn interval_ms(&self, key: &str, v: f64, zero: &str) -> Result<f64> {
        let ms = self.time_ms(key, v)?;
        if ms > 0.0 && crate::time::SimDuration::from_millis_f64(ms).0 == 0 {
            return Err(self.bad(
                key,
                num(ms),
                format!("must be 0 ({zero}) or at least 0.001 ms (1 µs)"),
            ));
        }
        Ok(ms)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// TOML `text` in a canonical form, for hashing what it says rather than how: parsed, without
/// the keys `drop` names, and written again with keys sorted (comments, spacing, the order of
/// keys and number spellings such as `1e3` for `1000.0` do not count). `drop` pairs a table with
/// its keys to leave out: `""` the top level, else a top-level key holding a table or an array
/// of tables (each of them). Text that does not parse is returned as it is.
pub(crate) fn canonical_toml(text: &str, drop: &[(&str, &[&str])]) -> String {
    let Ok(mut doc) = toml::from_str::<toml::Table>(text) else {
        return text.to_string();
    };
    for (table, keys) in drop {
        let tables: Vec<&mut toml::Table> = if table.is_empty() {
            vec![&mut doc]
        } else {
            match doc.get_mut(*table) {
                Some(toml::Value::Table(t)) => vec![t],
                Some(toml::Value::Array(a)) => {
                    a.iter_mut().filter_map(toml::Value::as_table_mut).collect()
                }
                _ => Vec::new(),
            }
        };
        for t in tables {
            for k in *keys {
                t.remove(*k);
            }
        }
    }
    toml::to_string(&doc).unwrap_or_else(|_| text.to_string())
}

/// Reads a whole input file as text, refusing what is not a regular file (a device, a FIFO, a
/// folder) and files larger than `limit` bytes, so that a path to `/dev/zero` or a FIFO never
/// reads forever. `what` names the file's role in errors ("scenario", "trace", ...).
pub fn read_text(path: &Path, what: &'static str, limit: u64) -> Result<String> {
    let bytes = read_bytes(path, what, limit)?;
    String::from_utf8(bytes).map_err(|e| Error::Input {
        path: path.into(),
        problem: format!(
            "cannot read {what}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })
}

/// Opens an input file after checking that it is a regular file of at most `limit` bytes (a
/// file that never ends, such as `/dev/zero` or a FIFO, is refused before reading). The caller
/// reads at most `limit + 1` bytes of it, in case it grows.
pub fn open_input(path: &Path, what: &'static str, limit: u64) -> Result<std::fs::File> {
    let bad = |problem: String| Error::Input {
        path: path.into(),
        problem,
    };
    let meta = std::fs::metadata(path).map_err(Error::io(path, what_action(what)))?;
    if !meta.is_file() {
        return Err(bad(format!(
            "cannot read {what}: not a regular file (a folder, device or pipe); give the path of a {what} file"
        )));
    }
    if meta.len() > limit {
        return Err(bad(format!(
            "cannot read {what}: {} bytes is more than the {} bytes allowed for a {what} file",
            meta.len(),
            limit
        )));
    }
    std::fs::File::open(path).map_err(Error::io(path, what_action(what)))
}

/// [`read_text`] without the UTF-8 check.
pub fn read_bytes(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>> {
    let bad = |problem: String| Error::Input {
        path: path.into(),
        problem,
    };
    let file = open_input(path, what, limit)?;
    let len = file.metadata().map_or(0, |m| m.len());
    let mut bytes = Vec::with_capacity(len.min(limit) as usize);
    // `take` guards against a file that grows while it is read.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(Error::io(path, what_action(what)))?;
    if bytes.len() as u64 > limit {
        return Err(bad(format!(
            "cannot read {what}: it grew beyond the {limit} bytes allowed while being read"
        )));
    }
    Ok(bytes)
}

fn what_action(what: &'static str) -> &'static str {
    match what {
        "scenario" => "cannot read scenario",
        "device profile" => "cannot read device profile",
        "trace" => "cannot read trace",
        "model catalogue" => "cannot read model catalogue",
        "sweep" => "cannot read sweep",
        "plan" => "cannot read plan",
        _ => "cannot read",
    }
}

/// `text` with every line longer than `max` characters cut, saying how much was left out, so an
/// error never echoes a huge line.
pub fn cut_lines(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if line.chars().count() > max {
            let head: String = line.chars().take(max).collect();
            out.push_str(&head);
            out.push_str(&format!(
                "... ({} more bytes)",
                line.len().saturating_sub(head.len())
            ));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The index of the first entry of `xs` that repeats an earlier one, in O(n) (a journal read
/// from a file may be long).
pub fn first_repeat<T: Eq + std::hash::Hash>(xs: &[T]) -> Option<usize> {
    let mut seen = std::collections::HashSet::new();
    xs.iter().position(|x| !seen.insert(x))
}

/// `x` (> 0) rounded up to two significant digits: the least width an error suggests
/// (`0.0036` s for 0.00352).
pub fn ceil_two_digits(x: f64) -> f64 {
    let scale = 10f64.powf(x.log10().floor() - 1.0);
    (x / scale).ceil() * scale
}

/// A number as an error message shows it: plain for everyday magnitudes, in exponent form
/// for very large or very small ones (`1e30`, not thirty-one digits).
pub fn num(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// The highest cloud price per 1,000 tokens \[USD\]: list prices run from $0.00001 to about
/// $0.6 (2025).
pub const MAX_USD_PER_1K_TOKENS: f64 = 1e3;
/// The highest electricity price \[US cents / kWh\] ($1,000 a kWh).
pub const MAX_CENTS_PER_KWH: f64 = 1e5;
/// The highest price of one board \[USD\].
pub const MAX_BOARD_USD: f64 = 1e7;

/// The slowest speed a device or cloud may have \[tokens/s\] (one token in 1,000 s).
pub const MIN_TOKENS_PER_S: f64 = 1e-3;

/// The most a whole number written as a float may be ([`Checker::whole`]): counts and limits
/// stay exact in an f64 and far from any sum's overflow.
pub const MAX_WHOLE: f64 = 1e15;

/// The kinds of edgesim input file, by the top-level keys that only each has, and how each is
/// used.
const FILE_KINDS: &[(&str, &[&str], &str)] = &[
    (
        "a sweep file",
        &["axes"],
        "run it with `edgesim sweep FILE`",
    ),
    (
        "a plan file",
        &["types", "goals", "costs", "search"],
        "run it with `edgesim plan FILE`",
    ),
    (
        "a device profile",
        &["device", "provenance"],
        "name it in a scenario's `[[devices]]` as `profile = \"FILE\"`",
    ),
    (
        "a model catalogue",
        // `models` alone is in profiles too.
        &["cloud_models"],
        "name it in a scenario as `model_catalogue = \"FILE\"`",
    ),
    (
        "a scenario",
        &["workload", "devices", "duration_s"],
        "run it with `edgesim run FILE`",
    ),
];

/// When `text` fails to read as `expected` (`"a scenario"`, `"a sweep file"`, ...) but is
/// valid TOML with the top-level keys of another kind of edgesim file, a line that says so and
/// how that kind is used (`edgesim run plan.toml` said only "unknown field `costs`").
pub fn wrong_kind_hint(text: &str, expected: &str, path: &Path) -> String {
    let Ok(t) = toml::from_str::<toml::Table>(text) else {
        return String::new();
    };
    let has = |keys: &[&str]| keys.iter().any(|k| t.contains_key(*k));
    // A file with keys of the kind expected is that kind with a mistake in it.
    if FILE_KINDS
        .iter()
        .any(|(kind, keys, _)| *kind == expected && has(keys))
    {
        return String::new();
    }
    FILE_KINDS
        .iter()
        .find(|(_, keys, _)| has(keys))
        .map(|(kind, _, how)| {
            let how = how.replace("FILE", &path.display().to_string());
            format!("\n(this looks like {kind}, not {expected}: {how})")
        })
        .unwrap_or_default()
}

/// The error for `text` (read from `path`) that fails to deserialise as `expected` (`"a
/// scenario"`, ...): the parser's message, long lines cut, and [`wrong_kind_hint`].
pub fn not_read_as(path: &Path, text: &str, expected: &str, e: &toml::de::Error) -> Error {
    Error::Syntax {
        path: path.into(),
        message: cut_lines(e.to_string().trim_end(), 1000) + &wrong_kind_hint(text, expected, path),
    }
}

/// The longest name (scenario, sweep, plan) that names an output folder, in bytes: a file
/// name may hold 255, and folders add prefixes and suffixes (`sweep-`, `.tmp-...`).
pub const MAX_NAME_BYTES: usize = 100;

/// The most characters of a value or line that an error message echoes.
pub const EXCERPT_CHARS: usize = 120;

/// The number in environment variable `var`: `None` when it is not set, its value when it is a
/// finite number that `allowed` accepts, else an error naming the variable, its value and
/// `problem` (what is allowed).
pub fn env_number(var: &str, allowed: fn(f64) -> bool, problem: &str) -> Result<Option<f64>> {
    let Some(raw) = std::env::var_os(var) else {
        return Ok(None);
    };
    let text = raw.to_string_lossy();
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && allowed(v) => Ok(Some(v)),
        _ => Err(Error::Override {
            arg: format!(
                "environment variable {var}={:?}",
                excerpt(&text, EXCERPT_CHARS)
            ),
            problem: problem.into(),
        }),
    }
}

/// `s` cut to `max` characters for an error message, saying how much was left out.
pub fn excerpt(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max).collect();
        format!("{head}... ({} more bytes)", s.len() - head.len())
    }
}

/// The names an error may point to, for its message: `none` when there are none, else
/// `lead` and the first twelve names in quotes (`the groups are "a", "b"`), with how many
/// more there are.
pub fn known_names(names: &[&str], lead: &str, none: &str) -> String {
    let quoted = |n: &[&str]| {
        n.iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match names.len() {
        0 => none.to_string(),
        1..=12 => format!("{lead} {}", quoted(names)),
        n => format!("{lead} {} and {} more", quoted(&names[..12]), n - 12),
    }
}

/// An error's key moved under another table: `key` with its leading path `from` (the whole
/// key, or followed by `.` or `[`) replaced by `to`; any other key is returned as it is.
/// (`rate_limit.window_s` checked as a cloud limit is `cloud.limits[1].window_s`.)
pub fn rebase_key(key: &str, from: &str, to: &str) -> String {
    match key.strip_prefix(from) {
        Some(rest) if rest.is_empty() || rest.starts_with(['.', '[']) => format!("{to}{rest}"),
        _ => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalogue_is_read_once_per_cache() {
        let dir = std::env::temp_dir().join(format!("edgesim-catalogue-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("models.toml");
        std::fs::write(&file, crate::catalogue::BUILTIN).unwrap();
        let cx = Checker::new(&dir.join("scenario.toml"));
        let first = cx
            .catalogue("model_catalogue", Some(("models.toml", &file)))
            .unwrap();
        // Removed: a second reading would fail.
        std::fs::remove_file(&file).unwrap();
        let again = cx
            .catalogue("model_catalogue", Some(("models.toml", &file)))
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let err = Checker::new(&dir.join("scenario.toml"))
            .catalogue("model_catalogue", Some(("models.toml", &file)))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("model_catalogue") && err.contains("models.toml"),
            "{err}"
        );
        assert!(first.models == ModelCatalogue::builtin().models);
        let builtin = cx.catalogue("model_catalogue", None).unwrap();
        assert!(Arc::ptr_eq(&builtin, &ModelCatalogue::builtin_shared()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keys_are_rebased_only_at_their_start() {
        let r = |k: &str| rebase_key(k, "cloud", "cloud.fallbacks[0]");
        assert_eq!(r("cloud.model"), "cloud.fallbacks[0].model");
        assert_eq!(r("cloud"), "cloud.fallbacks[0]");
        assert_eq!(
            r("cloud.limits[1].limit"),
            "cloud.fallbacks[0].limits[1].limit"
        );
        // Not a path under `cloud`: as it is (`replacen` turned the first into
        // `cloud.fallbacks[0]_model` and the second into `model_cloud.fallbacks[0]`).
        assert_eq!(r("cloud_model"), "cloud_model");
        assert_eq!(r("model_cloud"), "model_cloud");
    }

    #[test]
    fn a_file_of_another_kind_is_named_and_a_mistake_is_not() {
        let p = Path::new("f.toml");
        let hint = |text: &str, expected: &str| wrong_kind_hint(text, expected, p);
        let sweep = "scenario = \"s.toml\"\n[[axes]]\nkey = \"seed\"\nvalues = [1]\n";
        assert_eq!(
            hint(sweep, "a scenario"),
            "\n(this looks like a sweep file, not a scenario: run it with `edgesim sweep f.toml`)"
        );
        assert_eq!(hint(sweep, "a sweep file"), "");
        // A scenario with a stray plan section is a scenario with a mistake.
        let scenario = "duration_s = 60\n[workload]\nkind = \"poisson\"\n[goals]\nx = 1\n";
        assert_eq!(hint(scenario, "a scenario"), "");
        assert!(
            hint(scenario, "a plan file").is_empty(),
            "it has plan keys too"
        );
        assert!(hint("duration_s = 60\n", "a plan file").contains("looks like a scenario"));
        // `models` alone is in profiles and catalogues: no guess.
        assert_eq!(hint("[[models]]\nmodel = \"m\"\n", "a scenario"), "");
        assert!(hint("[device]\nname = \"d\"\n", "a plan file").contains("a device profile"));
        // Not TOML, or nothing recognisable: no hint.
        assert_eq!(hint("x = [", "a scenario"), "");
        assert_eq!(hint("x = 1", "a scenario"), "");
    }

    #[test]
    fn long_lines_are_cut() {
        let long = "x".repeat(1000);
        let cut = cut_lines(&format!("a\n{long}\nb"), 10);
        assert_eq!(cut, "a\nxxxxxxxxxx... (990 more bytes)\nb");
        assert_eq!(excerpt("short", 10), "short");
    }

    #[test]
    fn non_regular_files_are_refused() {
        let err = read_text(Path::new("/dev/null"), "trace", 100).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let dir = std::env::temp_dir();
        let err = read_text(&dir, "trace", 100).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn large_files_are_refused() {
        let p = std::env::temp_dir().join(format!("edgesim-check-{}.txt", std::process::id()));
        std::fs::write(&p, "0123456789").unwrap();
        assert_eq!(read_text(&p, "trace", 10).unwrap(), "0123456789");
        let err = read_text(&p, "trace", 9).unwrap_err().to_string();
        assert!(err.contains("10 bytes") && err.contains("9 bytes"), "{err}");
        std::fs::remove_file(&p).unwrap();
    }
}

/// Deserialisation of a section tagged by a key (`kind = "sliding_window"`, `dist =
/// "lognormal"`) whose variants are structs that deny unknown keys. serde's internally tagged
/// enums buffer the section and lose the key of an error inside it; this reads the section as a
/// table, takes the tag, and deserialises the rest into the variant's struct, so that errors
/// name the key (`` `rate_rps`: invalid type: string "fast", expected a number ``).
pub mod tagged {
    use serde::de::{DeserializeOwned, Deserializer, Error as _};

    /// Reads a tagged section: the tag's value (or `default` when absent) and the other keys.
    /// `known` lists the allowed tag values, for the error message.
    pub fn split<'de, D: Deserializer<'de>>(
        d: D,
        tag: &str,
        known: &[&str],
        default: Option<&str>,
    ) -> Result<(String, toml::Table), D::Error> {
        let mut t = match <toml::Value as serde::Deserialize>::deserialize(d)? {
            toml::Value::Table(t) => t,
            other => {
                // A bare number where a distribution goes is most likely meant as a constant.
                let hint = match &other {
                    toml::Value::Integer(n) if known.contains(&"fixed") => {
                        format!(" (a constant is {{ {tag} = \"fixed\", value = {n} }})")
                    }
                    // The shorthand a plan's `search.rate_limits` reads.
                    toml::Value::String(v) if known.contains(&v.as_str()) => {
                        let v = v.escape_debug();
                        format!(" (written as a table: {{ {tag} = \"{v}\" }})")
                    }
                    _ => String::new(),
                };
                return Err(D::Error::custom(format!(
                    "expected a table naming `{tag}` (one of {}), got `{}`{hint}",
                    known.join(", "),
                    crate::check::excerpt(&other.to_string(), crate::check::EXCERPT_CHARS)
                )));
            }
        };
        let value = match t.remove(tag) {
            Some(toml::Value::String(s)) => s,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`{tag}` must be a string, one of {}; got {other}",
                    known.join(", ")
                )));
            }
            None => match default {
                Some(d) => d.to_string(),
                None => {
                    return Err(D::Error::custom(format!(
                        "missing `{tag}` (one of {})",
                        known.join(", ")
                    )));
                }
            },
        };
        if !known.contains(&value.as_str()) {
            return Err(D::Error::custom(format!(
                "unknown {tag} `{value}`, expected one of {}",
                known.join(", ")
            )));
        }
        Ok((value, t))
    }

    /// Deserialises the keys of a variant, naming the key of an error: the message starts
    /// with the key's path within the section (`` `prompt_tokens.sigma`: invalid type ... ``),
    /// joined across nested tagged sections, and ends with the tags that chose the variants.
    pub fn variant<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        t: toml::Table,
        tag: &str,
        value: &str,
    ) -> Result<T, D::Error> {
        crate::strict::from_value(toml::Value::Table(t)).map_err(|e| {
            let msg = path_message(e);
            D::Error::custom(format!("{msg}, for {tag} = \"{value}\""))
        })
    }

    /// The message of an error from deserialising a TOML value, led by the key path where it
    /// happened (`` `devices[1].slots`: invalid type ... ``), joined with the path a nested
    /// section's message already leads with.
    pub fn path_message(e: serde_path_to_error::Error<toml::de::Error>) -> String {
        let at = e.path().to_string();
        let msg = e.into_inner().to_string();
        // The value's own deserializer appends "in `key.path`" (no indices): drop it.
        let msg = msg.split("\nin `").next().unwrap_or_default().trim_end();
        with_key(&at, msg)
    }

    /// `msg` led by the key path `at` (serde_path_to_error's form, `.` for the section
    /// itself) joined with the path that a nested section's message already leads with.
    pub fn with_key(at: &str, msg: &str) -> String {
        let (inner, rest) = leading_key(msg);
        let key = match (at, inner) {
            (".", None) => return msg.to_string(),
            (".", Some(k)) => k.to_string(),
            (a, None) => a.to_string(),
            (a, Some(k)) => format!("{a}.{k}"),
        };
        format!("`{key}`: {rest}")
    }

    /// Splits the key path a message leads with (`` `a.b`: rest ``) from the rest.
    pub fn leading_key(msg: &str) -> (Option<&str>, &str) {
        msg.strip_prefix('`')
            .and_then(|m| m.split_once("`: "))
            .filter(|(k, _)| !k.is_empty() && !k.contains(char::is_whitespace))
            .map_or((None, msg), |(k, rest)| (Some(k), rest))
    }
}
