//! Trace replay from CSV, in the Azure LLM inference trace format as published:
//! `TIMESTAMP,ContextTokens,GeneratedTokens` with timestamps like `2023-11-16 18:15:46.6805900`
//! (plain numbers are read as seconds).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::tokens::MAX_TOKENS;
use super::{Arrival, ClassFile, Demand, NO_USER, Workload};
use crate::check::{Checker, EXCERPT_CHARS, excerpt};
use crate::error::{Error, Result};
use crate::rng::{RngStreams, SimRng};
use crate::time::MAX_INPUT_S;
use crate::time::{SimDuration, SimTime};

/// `kind = "trace"` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// CSV file (relative to the scenario file) with `TIMESTAMP,ContextTokens,GeneratedTokens`.
    pub path: String,
    /// Multiply every inter-arrival gap by this factor (0.5 = twice the rate; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    /// Replay at most this many requests (default: the whole trace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<u64>,
    /// Request classes (drawn by share; token counts come from the trace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassFile>,
}

/// A validated trace replay.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The trace file (absolute).
    pub path: PathBuf,
    /// Its rows.
    pub rows: Arc<Vec<TraceRow>>,
    /// Inter-arrival scale factor.
    pub time_scale: f64,
    /// Row limit.
    pub max_requests: Option<u64>,
}

/// `x` (finite, > 0) rounded down to four significant digits, so that the value shown is
/// allowed: plain from 0.001 to 10^6, else in exponent form (`3.972`, `1.000e10`).
fn floor_4_digits(x: f64) -> String {
    let e = x.log10().floor() as i32;
    let unit = 10f64.powi(e - 3);
    let r = (x / unit).floor() * unit;
    if (-3..6).contains(&e) {
        format!("{r:.*}", (3 - e).max(0) as usize)
    } else {
        format!("{r:.3e}")
    }
}

impl File {
    pub(super) fn validate(&self, cx: &Checker) -> Result<Spec> {
        let path = cx.resolve(&self.path);
        let trace = cx
            .trace(&path)
            .map_err(|e| cx.referenced("workload.path", &self.path, e))?;
        let time_scale = cx.positive("workload.time_scale", self.time_scale.unwrap_or(1.0))?;
        let last_s = trace.last_offset_us as f64 / 1e6;
        if last_s * time_scale > MAX_INPUT_S {
            return Err(cx.bad(
                "workload.time_scale",
                time_scale,
                format!(
                    "puts the trace's last row at {:.3e} s, beyond the simulated clock's {MAX_INPUT_S:e} s; \
                     the largest time_scale for this trace is about {}",
                    last_s * time_scale,
                    floor_4_digits(MAX_INPUT_S / last_s)
                ),
            ));
        }
        if self.max_requests == Some(0) {
            return Err(cx.bad(
                "workload.max_requests",
                0,
                "must be >= 1 (leave it out to replay the whole trace)",
            ));
        }
        let kept = trace.rows.len() as u64;
        if trace.truncated() && self.max_requests.is_none_or(|m| m > kept) {
            let why = format!(
                "the trace has {} rows, more than the {kept} a run may replay within its memory \
                 limit of {} GB ({} bytes per request in flight; {} sets the \
                 limit)",
                trace.in_file,
                crate::check::num(crate::scenario::budget::memory_limit_gb()),
                crate::scenario::budget::BYTES_PER_REQUEST,
                crate::scenario::budget::MEMORY_LIMIT_VAR
            );
            return Err(match self.max_requests {
                Some(m) => cx.bad(
                    "workload.max_requests",
                    m,
                    format!("{why}; replay at most {kept} of its rows"),
                ),
                None => cx.bad(
                    "workload.path",
                    format!("\"{}\"", self.path),
                    format!("{why}; set workload.max_requests to at most {kept} to replay its first rows"),
                ),
            });
        }
        Ok(Spec {
            path,
            rows: trace.rows,
            time_scale,
            max_requests: self.max_requests,
        })
    }
}

impl Spec {
    pub(super) fn to_file(&self, classes: Vec<ClassFile>) -> File {
        File {
            path: self.path.to_string_lossy().into_owned(),
            time_scale: Some(self.time_scale),
            max_requests: self.max_requests,
            classes,
        }
    }

    /// Arrival time of the last row replayed, before the horizon cut \[s\].
    pub fn last_arrival_s(&self) -> f64 {
        let n = self
            .max_requests
            .map_or(self.rows.len(), |m| self.rows.len().min(m as usize));
        self.rows
            .get(n.saturating_sub(1))
            .map_or(0.0, |r| r.offset_us as f64 / 1e6 * self.time_scale)
    }
}

/// One trace row, with its time relative to the trace's first row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRow {
    /// Offset from the first row \[µs\].
    pub offset_us: u64,
    /// Prompt tokens (`ContextTokens`).
    pub prompt_tokens: u32,
    /// Output tokens (`GeneratedTokens`).
    pub output_tokens: u32,
}

const COLUMNS: [&str; 3] = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"];

/// A trace as read: its first rows, and how many rows the whole file holds.
#[derive(Clone, Debug)]
pub struct TraceRows {
    /// The first rows of the file, at most as many as were asked to be kept.
    pub rows: Arc<Vec<TraceRow>>,
    /// Rows in the whole file (every one checked).
    pub in_file: u64,
    /// Offset of the file's last row from its first \[µs\].
    pub last_offset_us: u64,
}

impl TraceRows {
    /// Whether rows of the file were not kept.
    pub fn truncated(&self) -> bool {
        self.in_file > self.rows.len() as u64
    }
}

/// Reads a whole trace. Rows must be in time order; blank lines are skipped. The file is read
/// line by line: its text is never held whole (a trace may be up to
/// [`crate::check::MAX_DATA_BYTES`]), only its rows.
pub fn read_trace(path: &Path) -> Result<Vec<TraceRow>> {
    let t = read_trace_kept(path, usize::MAX)?;
    Ok(Arc::unwrap_or_clone(t.rows))
}

/// Reads a trace as [`read_trace`] does, every row checked, but keeps only its first `keep`
/// rows in memory: a run can replay no more than its memory budget allows
/// ([`crate::scenario::budget::max_trace_rows`]), and a trace of short rows at the input limit
/// holds some 180 million.
pub fn read_trace_kept(path: &Path, keep: usize) -> Result<TraceRows> {
    use std::io::{BufRead as _, Read as _};
    let limit = crate::check::MAX_DATA_BYTES;
    let file = crate::check::open_input(path, "trace", limit)?;
    let mut reader = std::io::BufReader::new(file.take(limit + 1));
    let mut parser = Parser::new(path, keep);
    let mut line = Vec::new();
    let (mut offset, mut n) = (0u64, 0usize);
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(Error::io(path, "cannot read trace"))?;
        if read == 0 {
            break;
        }
        if offset + read as u64 > limit {
            return Err(Error::Input {
                path: path.into(),
                problem: format!(
                    "cannot read trace: it grew beyond the {limit} bytes allowed while being read"
                ),
            });
        }
        let text = std::str::from_utf8(&line).map_err(|e| Error::Input {
            path: path.into(),
            problem: format!(
                "cannot read trace: not UTF-8 text (invalid byte at offset {})",
                offset + e.valid_up_to() as u64
            ),
        })?;
        offset += read as u64;
        n += 1;
        // As `str::lines`: the line ending (`\n` or `\r\n`) is not part of the line.
        let text = text.strip_suffix('\n').unwrap_or(text);
        parser.line(n, text.strip_suffix('\r').unwrap_or(text))?;
    }
    parser.finish()
}

/// Parses trace text; `path` names it in errors.
pub fn parse_trace(text: &str, path: &Path) -> Result<Vec<TraceRow>> {
    let mut parser = Parser::new(path, usize::MAX);
    for (i, line) in text.lines().enumerate() {
        parser.line(i + 1, line)?;
    }
    Ok(Arc::unwrap_or_clone(parser.finish()?.rows))
}

/// A trace read line by line: the header, then the rows.
struct Parser<'a> {
    path: &'a Path,
    /// Columns in the header, and where each of [`COLUMNS`] is (`None` before the header).
    header: Option<(usize, [usize; 3])>,
    rows: Vec<TraceRow>,
    /// Rows kept at most; the rest are checked and counted.
    keep: usize,
    in_file: u64,
    first: Option<i128>,
    last: i128,
}

impl<'a> Parser<'a> {
    fn new(path: &'a Path, keep: usize) -> Parser<'a> {
        Parser {
            path,
            header: None,
            rows: Vec::new(),
            keep,
            in_file: 0,
            first: None,
            last: i128::MIN,
        }
    }

    fn err(&self, line: usize, problem: String) -> Error {
        Error::Line {
            path: self.path.into(),
            line,
            problem,
        }
    }

    /// Line `n` (1-based, blank lines counted), without its line ending.
    fn line(&mut self, n: usize, line: &str) -> Result<()> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let Some((width, idx)) = self.header else {
            self.header = Some(csv_header(line, COLUMNS).map_err(|p| self.err(n, p))?);
            return Ok(());
        };
        let cells = csv_fields(line).map_err(|problem| self.err(n, problem))?;
        if cells.len() != width {
            return Err(self.err(
                n,
                format!(
                    "expected {} comma-separated fields, found {}: `{}`",
                    width,
                    cells.len(),
                    excerpt(line, EXCERPT_CHARS)
                ),
            ));
        }
        let ts = &*cells[idx[0]];
        let t = parse_timestamp_us(ts).ok_or_else(|| {
            self.err(n, format!("column TIMESTAMP: `{}` is not a timestamp (expected `YYYY-MM-DD HH:MM:SS[.fraction]` or seconds)", excerpt(ts, EXCERPT_CHARS)))
        })?;
        let count = |col: usize| -> Result<u32> {
            let v = &*cells[idx[col]];
            match v.parse::<u64>() {
                Ok(c) if c <= u64::from(MAX_TOKENS) => Ok(c as u32),
                Ok(_) => Err(self.err(
                    n,
                    format!(
                        "column {}: {v} tokens is more than the {MAX_TOKENS} allowed for one \
                         request (the limit token distributions share)",
                        COLUMNS[col]
                    ),
                )),
                Err(_) => Err(self.err(
                    n,
                    format!(
                        "column {}: `{}` is not a token count (expected a whole number >= 0)",
                        COLUMNS[col],
                        excerpt(v, EXCERPT_CHARS)
                    ),
                )),
            }
        };
        let prompt_tokens = count(1)?;
        let output_tokens = count(2)?;
        if t < self.last {
            return Err(self.err(
                n,
                format!(
                    "column TIMESTAMP: `{}` is earlier than the previous row; rows must be in time order",
                    excerpt(ts, EXCERPT_CHARS)
                ),
            ));
        }
        self.last = t;
        let base = *self.first.get_or_insert(t);
        if (t - base) as f64 > MAX_INPUT_S * 1e6 {
            return Err(self.err(
                n,
                format!(
                    "column TIMESTAMP: `{}` lies {:.3e} s after the first row; the simulated clock \
                     takes at most {MAX_INPUT_S:e} s",
                    excerpt(ts, EXCERPT_CHARS),
                    (t - base) as f64 / 1e6
                ),
            ));
        }
        self.in_file += 1;
        if self.rows.len() < self.keep {
            if self.rows.len() == self.rows.capacity() {
                // Doubling, but never past `keep`: the last step does not overshoot it.
                let more = self.rows.len().max(1024).min(self.keep - self.rows.len());
                self.rows.reserve_exact(more);
            }
            self.rows.push(TraceRow {
                offset_us: (t - base) as u64,
                prompt_tokens,
                output_tokens,
            });
        }
        Ok(())
    }

    fn finish(mut self) -> Result<TraceRows> {
        if self.header.is_none() {
            return Err(self.err(
                1,
                format!("empty trace; expected a header {}", COLUMNS.join(",")),
            ));
        }
        let Some(first) = self.first else {
            return Err(self.err(2, "trace has a header but no rows".into()));
        };
        self.rows.shrink_to_fit();
        Ok(TraceRows {
            rows: Arc::new(self.rows),
            in_file: self.in_file,
            last_offset_us: (self.last - first) as u64,
        })
    }
}

/// A CSV header `line` (a byte-order mark may open it): its number of columns, and where each
/// of the columns `want` is (any order, other columns allowed), or the problem: a column
/// missing, or named twice (which of the two holds the values would be anybody's guess).
pub(crate) fn csv_header<const N: usize>(
    line: &str,
    want: [&str; N],
) -> std::result::Result<(usize, [usize; N]), String> {
    let cells = csv_fields(line.trim_start_matches('\u{feff}'))?;
    let names: Vec<&str> = cells.iter().map(|s| &**s).collect();
    let mut idx = [0usize; N];
    for (slot, w) in idx.iter_mut().zip(want) {
        let mut at = names.iter().enumerate().filter(|(_, c)| **c == w);
        *slot = at.next().map(|(i, _)| i).ok_or_else(|| {
            format!(
                "header has no column `{w}` (found: {}; required: {})",
                excerpt(&names.join(","), EXCERPT_CHARS),
                want.join(",")
            )
        })?;
        if let Some((again, _)) = at.next() {
            return Err(format!(
                "header names column `{w}` twice (columns {} and {}); name it once",
                *slot + 1,
                again + 1
            ));
        }
    }
    Ok((names.len(), idx))
}

/// The fields of one CSV line (RFC 4180): separated by commas; a field in double quotes may
/// hold commas, and `""` inside it is one quote. Every field is trimmed of surrounding spaces,
/// inside the quotes too (`" 5 "` is a count). A quoted field must close on its line (fields
/// that span lines are not read).
pub(crate) fn csv_fields(
    line: &str,
) -> std::result::Result<Vec<std::borrow::Cow<'_, str>>, String> {
    use std::borrow::Cow;
    if !line.contains('"') {
        return Ok(line.split(',').map(|f| Cow::Borrowed(f.trim())).collect());
    }
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        let field = rest.trim_start();
        if let Some(quoted) = field.strip_prefix('"') {
            let mut text = String::new();
            let mut inside = quoted;
            let after = loop {
                let Some(q) = inside.find('"') else {
                    return Err(format!(
                        "a quoted field is not closed on its line (fields that span lines are \
                         not read): `{}`",
                        excerpt(line, EXCERPT_CHARS)
                    ));
                };
                text.push_str(&inside[..q]);
                match inside[q + 1..].strip_prefix('"') {
                    Some(more) => {
                        text.push('"');
                        inside = more;
                    }
                    None => break &inside[q + 1..],
                }
            };
            let after = after.trim_start();
            fields.push(Cow::Owned(text.trim().to_owned()));
            match after.strip_prefix(',') {
                Some(next) => rest = next,
                None if after.is_empty() => return Ok(fields),
                None => {
                    return Err(format!(
                        "text after a quoted field's closing quote: `{}`",
                        excerpt(line, EXCERPT_CHARS)
                    ));
                }
            }
        } else {
            match field.split_once(',') {
                Some((f, next)) => {
                    fields.push(Cow::Borrowed(f.trim()));
                    rest = next;
                }
                None => {
                    fields.push(Cow::Borrowed(field.trim()));
                    return Ok(fields);
                }
            }
        }
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS\[.fraction\]` (or `T` as separator) to microseconds since the Unix
/// epoch, or a plain number of seconds.
pub fn parse_timestamp_us(s: &str) -> Option<i128> {
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| (secs * 1e6).round() as i128);
    }
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=days_in_month(y, m)).contains(&day) {
        return None;
    }
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':');
    let h: u32 = t.next()?.parse().ok()?;
    let mi: u32 = t.next()?.parse().ok()?;
    let sec: u32 = t.next()?.parse().ok()?;
    if t.next().is_some() || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // Fraction to microseconds, rounding on the 7th digit.
    let mut digits: Vec<u32> = frac.chars().filter_map(|c| c.to_digit(10)).collect();
    digits.resize(7, 0);
    let mut us = digits[..6]
        .iter()
        .fold(0i128, |a, d| a * 10 + i128::from(*d));
    if digits[6] >= 5 {
        us += 1;
    }
    let days = days_from_civil(y, m, day);
    let secs = i128::from(days) * 86_400 + i128::from(h * 3600 + mi * 60 + sec);
    Some(secs * 1_000_000 + us)
}

/// Days in month `m` (1-12) of year `y`, proleptic Gregorian (2023-02-29 is no date).
fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Replays trace rows as arrivals: times scaled by `time_scale`, tokens as recorded, classes
/// drawn by share.
pub struct TraceReplay {
    rows: Arc<Vec<TraceRow>>,
    next: usize,
    limit: usize,
    time_scale: f64,
    horizon: SimTime,
    demand: Demand,
    class: SimRng,
}

impl TraceReplay {
    /// Replays the rows of `spec` (at most `max_requests`, only those up to `horizon`).
    pub fn new(spec: &Spec, horizon: SimTime, demand: Demand, streams: &RngStreams) -> TraceReplay {
        let rows = Arc::clone(&spec.rows);
        let limit = spec
            .max_requests
            .map_or(rows.len(), |m| rows.len().min(m as usize));
        TraceReplay {
            rows,
            next: 0,
            limit,
            time_scale: spec.time_scale,
            horizon,
            demand,
            class: streams.stream("class"),
        }
    }

    fn pull(&mut self) -> Option<Arrival> {
        if self.next >= self.limit {
            return None;
        }
        let row = self.rows[self.next];
        self.next += 1;
        let at = SimTime::ZERO
            + SimDuration::from_secs_f64(row.offset_us as f64 / 1e6 * self.time_scale);
        if at > self.horizon {
            return None;
        }
        let class = self.demand.class(&mut self.class);
        Some(Arrival {
            at,
            user: NO_USER,
            class,
            prompt_tokens: row.prompt_tokens.max(1),
            output_tokens: row.output_tokens.max(1),
        })
    }
}

impl Workload for TraceReplay {
    fn start(&mut self) -> Vec<Arrival> {
        self.pull().into_iter().collect()
    }
    fn after_arrival(&mut self, _: &Arrival) -> Option<Arrival> {
        self.pull()
    }
    fn after_done(&mut self, _: SimTime, _: u32) -> Option<Arrival> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_shown_rounded_down() {
        assert_eq!(floor_4_digits(3.972949896459552), "3.972");
        assert_eq!(floor_4_digits(1e10), "1.000e10");
        assert_eq!(floor_4_digits(397294.9), "397200");
        assert_eq!(floor_4_digits(0.0012349), "0.001234");
        assert_eq!(floor_4_digits(1.23456e-7), "1.234e-7");
    }

    #[test]
    fn keeps_the_first_rows_and_counts_the_rest() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n5,1,1\n6.5,2,2\n\n7,3,3\n9.25,4,4\n";
        let all = parse_trace(text, Path::new("t.csv")).unwrap();
        for keep in [0, 1, 2, 4, 5, usize::MAX] {
            let mut p = Parser::new(Path::new("t.csv"), keep);
            for (i, line) in text.lines().enumerate() {
                p.line(i + 1, line).unwrap();
            }
            let t = p.finish().unwrap();
            assert_eq!(t.rows[..], all[..keep.min(4)], "keep {keep}");
            assert_eq!((t.in_file, t.last_offset_us), (4, 4_250_000));
            assert_eq!(t.truncated(), keep < 4);
        }
    }

    #[test]
    fn splits_csv_fields_with_quotes() {
        let f = |line: &str| {
            csv_fields(line).map(|v| v.iter().map(|c| c.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(f("1, 2 ,3").unwrap(), ["1", "2", "3"]);
        assert_eq!(f("a,,b,").unwrap(), ["a", "", "b", ""]);
        assert_eq!(
            f(r#""0", "a, b" ,"say ""hi""",x"#).unwrap(),
            ["0", "a, b", r#"say "hi""#, "x"]
        );
        assert_eq!(f(r#""""#).unwrap(), [""]);
        assert_eq!(f(r#"1,"""#).unwrap(), ["1", ""]);
        assert!(f(r#"1,"open"#).unwrap_err().contains("not closed"));
        assert!(f(r#""a"b,1"#).unwrap_err().contains("after a quoted field"));
        // A quote inside an unquoted field is taken as written.
        assert_eq!(f(r#"a"b,1"#).unwrap(), [r#"a"b"#, "1"]);
    }

    /// A trace written with every field quoted (as some exporters do), with a free-text column
    /// holding commas, a byte-order mark and CRLF line ends, reads as the plain one.
    #[test]
    fn reads_quoted_fields() {
        let plain = "TIMESTAMP,ContextTokens,GeneratedTokens\n1.5,10,20\n2,30,40\n";
        let quoted = "\u{feff}\"TIMESTAMP\",\"prompt\",\"ContextTokens\",\"GeneratedTokens\"\r\n\
                      \"1.5\",\"hello, world\",\"10\",\"20\"\r\n\
                      \" 2 \",\"a \"\"quote\"\"\",30,\"40 \"\r\n";
        let p = Path::new("t.csv");
        let rows = |t: &str| parse_trace(t, p).unwrap();
        assert_eq!(rows(quoted), rows(plain));
    }

    #[test]
    fn parses_azure_timestamps() {
        let a = parse_timestamp_us("2023-11-16 18:15:46.6805900").unwrap();
        let b = parse_timestamp_us("2023-11-16 18:15:50.9951690").unwrap();
        assert_eq!(b - a, 4_314_579);
        // 1970-01-02 00:00:01.5 is 86401.5 s after the epoch.
        assert_eq!(
            parse_timestamp_us("1970-01-02 00:00:01.5"),
            Some(86_401_500_000)
        );
        assert_eq!(parse_timestamp_us("12.25"), Some(12_250_000));
        assert_eq!(parse_timestamp_us("2023-13-01 00:00:00"), None);
        assert_eq!(parse_timestamp_us("yesterday"), None);
        assert_eq!(parse_timestamp_us("2023-11-16 18:15:46.68x"), None);
        // Days that no month has: 2023 is not a leap year, 2024 is, 1900 is not, 2000 is.
        assert_eq!(parse_timestamp_us("2023-02-29 00:00:00"), None);
        assert_eq!(parse_timestamp_us("2023-11-31 00:00:00"), None);
        assert_eq!(parse_timestamp_us("1900-02-29 00:00:00"), None);
        // 2024-02-29 and the day after are one day apart; 2000-02-29 exists.
        let leap = parse_timestamp_us("2024-02-29 00:00:00").unwrap();
        let next = parse_timestamp_us("2024-03-01 00:00:00").unwrap();
        assert_eq!(next - leap, 86_400_000_000);
        assert!(parse_timestamp_us("2000-02-29 12:00:00").is_some());
    }

    #[test]
    fn reads_rows_relative_to_the_first() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                    2023-11-16 18:15:46.0,374,44\n\n2023-11-16 18:15:47.5,10,2\n";
        let rows = parse_trace(text, Path::new("t.csv")).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[1],
            TraceRow {
                offset_us: 1_500_000,
                prompt_tokens: 10,
                output_tokens: 2
            }
        );
    }

    /// A header naming a column twice was read with the first, in silence; a header after
    /// blank lines was said to be on line 1.
    #[test]
    fn header_errors_name_the_headers_line_and_a_repeated_column() {
        let text = "\nTIMESTAMP,ContextTokens,GeneratedTokens,ContextTokens\n0,10,10,20\n";
        let err = parse_trace(text, Path::new("t.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.csv:2")
                && err.contains("names column `ContextTokens` twice (columns 2 and 4)"),
            "{err}"
        );
        let err = parse_trace("\n\nTIMESTAMP,Context\n0,1\n", Path::new("t.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.csv:3") && err.contains("no column `ContextTokens`"),
            "{err}"
        );
    }

    #[test]
    fn malformed_lines_name_line_column_and_value() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n1.0,5,5\n2.0,five,5\n";
        let err = parse_trace(text, Path::new("t.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.csv:3") && err.contains("ContextTokens") && err.contains("`five`"),
            "{err}"
        );
        let err = parse_trace("a,b\n", Path::new("t.csv"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("TIMESTAMP"), "{err}");
        let err = parse_trace(
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2,1,1\n1,1,1\n",
            Path::new("t.csv"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("t.csv:3") && err.contains("time order"),
            "{err}"
        );
    }
}
