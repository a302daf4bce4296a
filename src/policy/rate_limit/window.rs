//! The keys that `kind = "sliding_window"` and `kind = "fixed_window"` share: a window length
//! and a limit per window. Each limiter's own file builds its state from them.

use serde::{Deserialize, Serialize};

use super::{LimitScope, LimitUnit};
use crate::check::Checker;
use crate::error::Result;
use crate::time::SimDuration;

/// `kind = "sliding_window"` or `kind = "fixed_window"` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// What is counted.
    #[serde(default)]
    pub unit: LimitUnit,
    /// Where it applies.
    #[serde(default)]
    pub scope: LimitScope,
    /// Window length \[s\] (a fixed window's windows start at 0, `window_s`, 2 `window_s`,
    /// ...).
    pub window_s: f64,
    /// Amount admitted per window \[requests or tokens\].
    pub limit: f64,
}

/// Validated settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spec {
    /// Window length \[s\], as given.
    pub window_s: f64,
    /// The window on the clock (at least 1 µs).
    pub window: SimDuration,
    /// Amount admitted per window.
    pub limit: f64,
}

impl File {
    pub(super) fn validate(&self, cx: &Checker) -> Result<Spec> {
        let w = cx.span_s("rate_limit.window_s", self.window_s)?;
        let window = SimDuration::from_secs_f64(w);
        Ok(Spec {
            window_s: w,
            window,
            limit: super::limit(cx, self.unit, self.limit)?,
        })
    }
}

impl Spec {
    pub(super) fn to_file(self, unit: LimitUnit, scope: LimitScope) -> File {
        File {
            unit,
            scope,
            window_s: self.window_s,
            limit: self.limit,
        }
    }

    /// The one-line description, `kind` being the limiter's name.
    pub(super) fn describe(&self, kind: &str, unit: &str, scope: &str) -> String {
        format!(
            "{kind}: {} {unit} / {} s {scope}",
            self.limit,
            self.window.as_secs_f64()
        )
    }
}
