//! The library's error type. Every user-facing error names the file, the key (or line), the
//! bad value and what is allowed.

use std::path::PathBuf;

/// Errors from loading scenarios, profiles and traces, and from writing outputs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {action}: {os}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done ("cannot read", "cannot write", ...).
        action: &'static str,
        /// The OS error (part of the message, not a separate cause, so that it is printed
        /// once).
        os: std::io::Error,
    },
    /// An input file that edgesim refuses to read: not a regular file, too large, not text.
    #[error("{}: {problem}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong and what is allowed.
        problem: String,
    },
    /// TOML that does not parse or does not match the schema (unknown key, wrong type). The
    /// message is the `toml` crate's, with line, column and the offending text.
    #[error("{}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A key whose value is out of range or inconsistent with others.
    #[error("{}: `{key}` = {value}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Dotted key path, e.g. `workload.rate_rps` or `devices\[1\].model`.
        key: String,
        /// The bad value as written.
        value: String,
        /// What is wrong and what is allowed.
        problem: String,
    },
    /// A malformed line in a trace or data file.
    #[error("{}:{line}: {problem}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong, naming the column, value and the expected form.
        problem: String,
    },
    /// What failed after `calibrate --model` had measured, and whether the measurements were
    /// kept for a second fit (`calibrate --from-measurements`).
    #[error("{cause}\n{kept}")]
    AfterMeasuring {
        /// What failed.
        cause: Box<Error>,
        /// Where the measurements are kept and how to fit them again, or why they could not
        /// be kept.
        kept: String,
    },
    /// An output table or figure could not be written (encoder error, feature not built).
    #[error("{}: {problem}", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// A run whose simulated time outgrew the clock: the inputs are each within bounds, but
    /// together (e.g. long queues of very slow requests) they push events past
    /// [`crate::time::CLOCK_LIMIT_S`].
    #[error(
        "{}: the simulated time reached {at_s:.3e} s, beyond the {limit_s:e} s the clock can count \
         exactly; the results would be wrong, so none are written (shorten the run, raise the \
         device or cloud speeds, or bound the queues)",
        path.display()
    )]
    Clock {
        /// The scenario.
        path: PathBuf,
        /// The time reached \[s\].
        at_s: f64,
        /// The limit \[s\].
        limit_s: f64,
    },
    /// A command-line override (`--set key=value`, `--seed N`) or an environment variable
    /// (`EDGESIM_MEMORY_LIMIT_GB`, `EDGESIM_PROGRESS_S`; [`crate::check::env_number`]) that
    /// cannot be applied.
    #[error("{arg}: {problem}")]
    Override {
        /// The flag and its argument as given, e.g. `--set workload.rate_rps=x`, or the
        /// variable and its value.
        arg: String,
        /// What is wrong.
        problem: String,
    },
}

/// Shorthand for results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A closure turning an OS error into [`Error::Io`] on `path` (for `map_err`).
    pub fn io<'a>(
        path: &'a std::path::Path,
        action: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Error + 'a {
        move |os| Error::Io {
            path: path.into(),
            action,
            os,
        }
    }

    /// Builds an [`Error::Invalid`].
    pub fn invalid(
        path: impl Into<PathBuf>,
        key: impl Into<String>,
        value: impl std::fmt::Display,
        problem: impl Into<String>,
    ) -> Error {
        Error::Invalid {
            path: path.into(),
            key: crate::check::excerpt(&key.into(), crate::check::EXCERPT_CHARS),
            value: crate::check::excerpt(
                &short_number(value.to_string()),
                crate::check::EXCERPT_CHARS,
            ),
            problem: problem.into(),
        }
    }
}

/// A value that is a long plain number (`f64`'s `Display` writes 1e300 as 301 digits) in the
/// exponent form of [`crate::check::num`]; anything else as it is.
fn short_number(v: String) -> String {
    const LONG: usize = 20;
    match v.parse::<f64>() {
        Ok(x) if v.len() > LONG && x.is_finite() => crate::check::num(x),
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_numbers_are_shown_short_and_other_values_as_they_are() {
        let e = Error::invalid("s.toml", "workload.time_scale", 1e300, "too large");
        assert!(
            e.to_string().contains("`workload.time_scale` = 1e300:"),
            "{e}"
        );
        let e = Error::invalid("s.toml", "k", 0.5, "p");
        assert!(e.to_string().contains("`k` = 0.5:"), "{e}");
        let e = Error::invalid("s.toml", "k", u64::MAX, "p");
        assert!(e.to_string().contains("`k` = 18446744073709551615:"), "{e}");
        let e = Error::invalid("s.toml", "k", "\"a name\"", "p");
        assert!(e.to_string().contains("`k` = \"a name\":"), "{e}");
    }
}
