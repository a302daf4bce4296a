//! Presenting a run: the text table, JSON, and atomically written output files.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::error::{Error, Result};
use crate::metrics::{Percentiles, Summary};

/// The summary as pretty JSON (key order = field order, so it is stable).
pub fn to_json(summary: &Summary) -> String {
    // Serialising plain structs of numbers and strings cannot fail.
    serde_json::to_string_pretty(summary).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        + "\n"
}

/// `x` with `decimals` decimals below 1e9 in magnitude; from there, in scientific notation
/// with three decimals (a price of 1e300 made a cost of 300 digits).
pub fn fixed(x: f64, decimals: usize) -> String {
    if x.is_finite() && x.abs() >= 1e9 {
        format!("{x:.3e}")
    } else {
        format!("{x:.decimals$}")
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| fixed(x, 1))
}

fn pct(part: u64, total: u64) -> String {
    if total == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / total as f64)
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `x` with `digits` significant digits, in plain notation from 1e-6 to 1e9; outside, in
/// scientific notation with one digit fewer, to fit the same column (a price of 1e-300
/// cents/kWh made a CPR of 300 digits).
fn significant(x: f64, digits: i32) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    if !(1e-6..1e9).contains(&x.abs()) {
        let decimals = (digits - 2).max(0) as usize;
        return format!("{x:.decimals$e}");
    }
    let decimals = (digits - 1 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.decimals$}")
}

/// The summary's windows: how many, the busiest, and the worst of each quantity.
fn windows(o: &mut String, win: &crate::metrics::windows::WindowsSummary) {
    let _ = write!(
        o,
        "{} windows of {} s (by arrival)",
        thousands(win.count as u64),
        crate::check::num(win.window_s)
    );
    if let Some(b) = win.busiest {
        let _ = write!(
            o,
            "; the busiest from {} s, {} requests",
            crate::check::num(b.start_s),
            thousands(b.requests)
        );
    }
    if win.min_requests > 1 {
        let _ = write!(
            o,
            "; {} judged (at least {} requests)",
            thousands(win.judged as u64),
            thousands(win.min_requests)
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "{:<22}{:>12}{:>14}", "worst window", "value", "from [s]");
    let w = &win.worst;
    for (name, worst, percent) in [
        ("TTFT p95 [ms]", w.ttft_p95_ms, false),
        ("TTFT p99 [ms]", w.ttft_p99_ms, false),
        ("end-to-end p95 [ms]", w.e2e_p95_ms, false),
        ("end-to-end p99 [ms]", w.e2e_p99_ms, false),
        ("rejected", w.reject_rate, true),
        ("to the cloud", w.redirect_rate, true),
    ] {
        let (value, from) = match worst {
            Some(x) if percent => (
                format!("{:.1}%", 100.0 * x.value),
                crate::check::num(x.start_s),
            ),
            Some(x) => (fixed(x.value, 1), crate::check::num(x.start_s)),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(o, "{name:<22}{value:>12}{from:>14}");
    }
    let _ = writeln!(o);
}

/// Each class's worst window of each quantity (values only: the JSON summary and the
/// `class_windows` table say when), when the summary has classes with windows.
fn class_windows(o: &mut String, classes: &[crate::metrics::ClassSummary]) {
    let with: Vec<_> = classes
        .iter()
        .filter_map(|c| Some((c.name.as_str(), &c.windows.as_ref()?.worst)))
        .collect();
    if with.is_empty() {
        return;
    }
    let w = with.iter().map(|(n, _)| n.len()).max().unwrap_or(0).max(22) + 2;
    let _ = writeln!(
        o,
        "{:<w$}{:>15}{:>15}{:>14}{:>14}{:>10}{:>14}",
        "worst window by class",
        "TTFT p95 [ms]",
        "TTFT p99 [ms]",
        "e2e p95 [ms]",
        "e2e p99 [ms]",
        "rejected",
        "to the cloud"
    );
    let v = |x: Option<crate::metrics::windows::Worst>| ms(x.map(|x| x.value));
    let pc = |x: Option<crate::metrics::windows::Worst>| {
        x.map_or("-".into(), |x| format!("{:.1}%", 100.0 * x.value))
    };
    for (name, c) in with {
        let _ = writeln!(
            o,
            "{name:<w$}{:>15}{:>15}{:>14}{:>14}{:>10}{:>14}",
            v(c.ttft_p95_ms),
            v(c.ttft_p99_ms),
            v(c.e2e_p95_ms),
            v(c.e2e_p99_ms),
            pc(c.reject_rate),
            pc(c.redirect_rate)
        );
    }
    let _ = writeln!(o);
}

/// Devices listed in the text table.
pub const MAX_DEVICE_ROWS: usize = 60;

/// The summary as a human-readable table.
pub fn to_table(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "scenario {} (seed {}): selection {}, rate limit {}",
        s.scenario, s.seed, s.selection, s.rate_limit
    );
    let _ = writeln!(
        o,
        "arrivals for {:.1} s, drained at {:.1} s, {} events",
        s.duration_s,
        s.end_s,
        thousands(s.events)
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<22}{:>12}{:>12}{:>12}{:>12}",
        "requests", "total", "edge", "cloud", "rejected"
    );
    let _ = writeln!(
        o,
        "{:<22}{:>12}{:>12}{:>12}{:>12}",
        "",
        thousands(s.requests_total),
        thousands(s.served_edge),
        thousands(s.served_cloud),
        thousands(s.rejected)
    );
    let _ = writeln!(
        o,
        "{:<22}{:>12}{:>12}{:>12}{:>12}",
        "",
        pct(s.requests_total, s.requests_total),
        pct(s.served_edge, s.requests_total),
        pct(s.served_cloud, s.requests_total),
        pct(s.rejected, s.requests_total)
    );
    let _ = writeln!(
        o,
        "{:<22}{:>12}  (prompt {}, output {})",
        "tokens to cloud",
        thousands(s.redirected_tokens),
        thousands(s.redirected_prompt_tokens),
        thousands(s.redirected_output_tokens)
    );
    let _ = writeln!(
        o,
        "{:<22}{:>12}",
        "cloud cost",
        format!("${}", fixed(s.cloud_cost_usd, 4))
    );
    let wasted = s.device_faults.as_ref().map_or(String::new(), |f| {
        format!(
            ", lost with dropped requests {} kJ",
            fixed(f.wasted_energy_j / 1000.0, 1)
        )
    });
    let _ = writeln!(
        o,
        "{:<22}{:>12}  (attributed to requests {} kJ{wasted})",
        "edge energy",
        format!("{} kJ", fixed(s.edge_energy_j / 1000.0, 1)),
        fixed(s.edge_request_energy_j / 1000.0, 1)
    );
    // Too-long refusals only arise where devices' contexts differ: shown only then, so that
    // the line reads as before elsewhere.
    let too_long = match s.too_long_attempts {
        0 => String::new(),
        n => format!(", too long {}", thousands(n)),
    };
    // Predictive admission's: shown whenever the scenario sets it.
    let predicted = match s.predicted_wait_attempts {
        None => String::new(),
        Some(n) => format!(", predicted wait {}", thousands(n)),
    };
    let _ = writeln!(
        o,
        "{:<22}{:>12}  (rate limit {}, device full {}{too_long}{predicted})",
        "edge attempts refused",
        thousands(
            s.throttled_attempts
                + s.full_attempts
                + s.too_long_attempts
                + s.predicted_wait_attempts.unwrap_or(0)
        ),
        thousands(s.throttled_attempts),
        thousands(s.full_attempts)
    );
    if s.oversized > 0 {
        let _ = writeln!(
            o,
            "{:<22}{:>12}  (longer than every device's context: they skip the edge)",
            "oversized requests",
            thousands(s.oversized)
        );
    }
    if let Some(n) = s.queue_timeouts {
        let _ = writeln!(
            o,
            "{:<22}{:>12}  (left an edge queue at their queue timeout without a slot)",
            "queue timeouts",
            thousands(n)
        );
    }
    if let Some(r) = &s.rejected_by {
        let parts: Vec<String> = [
            ("no cloud", r.no_cloud),
            ("too long for the cloud", r.too_long_for_cloud),
            ("HTTP 400", r.bad_request),
            ("cloud refused", r.cloud_refused),
            ("device failure", r.device_failure),
            ("queue timeout", r.queue_timeout.unwrap_or(0)),
            ("edge-only class", r.edge_only.unwrap_or(0)),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(why, n)| format!("{why} {}", thousands(*n)))
        .collect();
        let _ = writeln!(
            o,
            "{:<22}{:>12}  ({})",
            "rejected because",
            thousands(r.total()),
            parts.join(", ")
        );
    }
    if let Some(f) = &s.cloud_faults {
        let _ = writeln!(
            o,
            "{:<22}{:>12}  (down {:.1} s, degraded {:.1} s; 429s {}, 400s {}, 5xx {}, outage refusals {}, retries {}, rejected {})",
            "cloud availability",
            format!("{:.2}%", f.availability * 100.0),
            f.downtime_s,
            f.degraded_s,
            thousands(f.rate_limited),
            thousands(f.bad_request),
            thousands(f.server_errors),
            thousands(f.unavailable),
            thousands(f.retries),
            thousands(f.rejected_refused)
        );
    }
    for p in s.cloud_providers.iter().flatten() {
        let _ = writeln!(
            o,
            "{:<22}{:>12}  (served {}, 429s {}, 5xx {}, outage refusals {})",
            format!("  {}", p.model),
            format!("${}", fixed(p.cost_usd, 4)),
            thousands(p.served),
            thousands(p.faults.rate_limited),
            thousands(p.faults.server_errors),
            thousands(p.faults.unavailable)
        );
    }
    if let Some(f) = &s.device_faults {
        let _ = writeln!(
            o,
            "{:<22}{:>12}  ({} failures; {} requests interrupted: then edge {}, cloud {}, lost {})",
            "device availability",
            format!("{:.2}%", f.availability * 100.0),
            thousands(f.failures),
            thousands(f.interrupted),
            thousands(f.interrupted_then_edge),
            thousands(f.interrupted_then_cloud),
            thousands(f.interrupted_then_rejected)
        );
        if let Some(n) = f.attempts_on_down {
            let _ = writeln!(
                o,
                "{:<22}{:>12}  (attempts on failed boards the health checks had not yet seen down{})",
                "dead-board attempts",
                thousands(n),
                f.ejections.map_or(String::new(), |e| format!(
                    "; {} times a board was left out after max_fails",
                    thousands(e)
                ))
            );
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<22}{:>12}{:>12}{:>12}{:>12}{:>12}",
        "latency [ms]", "p50", "p90", "p95", "p99", "mean"
    );
    let mut row = |name: &str, p: &Percentiles| {
        let _ = writeln!(
            o,
            "{:<22}{:>12}{:>12}{:>12}{:>12}{:>12}",
            name,
            ms(p.p50),
            ms(p.p90),
            ms(p.p95),
            ms(p.p99),
            ms(p.mean)
        );
    };
    row("TTFT all", &s.ttft_ms);
    row("TTFT edge", &s.edge.ttft_ms);
    row("TTFT cloud", &s.cloud.ttft_ms);
    row("end-to-end all", &s.e2e_ms);
    row("end-to-end edge", &s.edge.e2e_ms);
    row("end-to-end cloud", &s.cloud.e2e_ms);
    let _ = writeln!(o);
    if let Some(classes) = &s.classes {
        let w = classes
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(5)
            .max(5)
            + 2;
        // The queue timeouts' column, when a class has a timeout.
        let timeouts = s.queue_timeouts.is_some();
        let _ = write!(
            o,
            "{:<w$}{:>10}{:>10}{:>10}{:>10}{:>15}{:>15}{:>13}",
            "class",
            "requests",
            "edge",
            "cloud",
            "rejected",
            "TTFT p95 [ms]",
            "TTFT p99 [ms]",
            "cloud cost"
        );
        let _ = writeln!(o, "{}", if timeouts { "  queue timeouts" } else { "" });
        for c in classes {
            let _ = write!(
                o,
                "{:<w$}{:>10}{:>10}{:>10}{:>10}{:>15}{:>15}{:>13}",
                c.name,
                thousands(c.requests),
                thousands(c.served_edge),
                thousands(c.served_cloud),
                thousands(c.rejected),
                ms(c.ttft_ms.p95),
                ms(c.ttft_ms.p99),
                format!("${}", fixed(c.cloud_cost_usd, 4))
            );
            let _ = writeln!(
                o,
                "{}",
                match (timeouts, c.queue_timeouts) {
                    (true, Some(n)) => format!("{:>16}", thousands(n)),
                    _ => String::new(),
                }
            );
        }
        let _ = writeln!(o);
    }
    if let Some(win) = &s.windows {
        windows(&mut o, win);
        class_windows(&mut o, s.classes.as_deref().unwrap_or_default());
    }
    let w = s
        .devices
        .iter()
        .map(|d| d.name.len())
        .max()
        .unwrap_or(6)
        .max(6)
        + 2;
    let mw = s
        .devices
        .iter()
        .map(|d| d.model.len())
        .max()
        .unwrap_or(5)
        .max(5)
        + 2;
    let _ = writeln!(
        o,
        "{:<w$}{:<mw$}{:>6}{:>10}{:>10}{:>11}{:>12}{:>13}",
        "device", "model", "slots", "served", "util", "slot util", "refused", "energy [kJ]"
    );
    // A fleet of thousands would bury the rest: the table shows the first devices, the
    // summary and the devices table all of them.
    for d in s.devices.iter().take(MAX_DEVICE_ROWS) {
        let _ = writeln!(
            o,
            "{:<w$}{:<mw$}{:>6}{:>10}{:>10}{:>11}{:>12}{:>13}",
            d.name,
            d.model,
            d.slots,
            thousands(d.served),
            format!("{:.1}%", d.utilisation * 100.0),
            format!("{:.1}%", d.slot_utilisation * 100.0),
            thousands(d.throttled + d.full + d.predicted_wait.unwrap_or(0)),
            fixed(d.energy_j / 1000.0, 2)
        );
    }
    if s.devices.len() > MAX_DEVICE_ROWS {
        let _ = writeln!(
            o,
            "... and {} more devices (all of them in summary.json and the devices table)",
            thousands((s.devices.len() - MAX_DEVICE_ROWS) as u64)
        );
    }
    let _ = writeln!(o);
    let pw = s
        .platforms
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(8)
        .max(8)
        + 2;
    let _ = writeln!(
        o,
        "{:<pw$}{:>10}{:>12}{:>13}{:>8}{:>8}{:>8}{:>10}",
        "platform", "served", "J/query", "CPR [cents]", "Q", "R", "U", "PCR"
    );
    let f = |v: Option<f64>, prec: usize| v.map_or_else(|| "-".into(), |x| fixed(x, prec));
    for p in &s.platforms {
        let _ = writeln!(
            o,
            "{:<pw$}{:>10}{:>12}{:>13}{:>8}{:>8}{:>8}{:>10}",
            p.name,
            thousands(p.served),
            f(p.energy_per_query_j, 1),
            p.cpr_cents
                .map_or_else(|| "-".into(), |c| significant(c, 4)),
            f(p.quality, 3),
            f(p.responsiveness, 3),
            f(p.utility, 3),
            p.pcr.map_or_else(|| "-".into(), |c| significant(c, 4)),
        );
    }
    o
}

/// Creates folder `dir` and its missing parents. When one of them exists but is a file (or
/// anything but a folder), the error names it: the system's own words ("File exists", "Not a
/// directory") do not say which. Other failures are reported as `err_path`: `action`.
pub fn create_folder(dir: &Path, err_path: &Path, action: &'static str) -> Result<()> {
    let Err(os) = std::fs::create_dir_all(dir) else {
        return Ok(());
    };
    check_creatable(dir)?;
    Err(Error::io(err_path, action)(os))
}

/// Checks, without creating anything, that folder `dir` is one or can be made: the nearest
/// of it and its parents that exists must be a folder. The error names the file in the way,
/// as [`create_folder`]'s does. Commands that work long before they write call this first.
pub fn check_creatable(dir: &Path) -> Result<()> {
    let blocker = dir
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .find(|a| a.symlink_metadata().is_ok());
    match blocker {
        Some(b) if !b.is_dir() => Err(Error::Output {
            path: b.into(),
            problem: if b == dir {
                "is a file, not a folder".into()
            } else {
                format!(
                    "is a file, not a folder, so {} cannot be created in it",
                    dir.display()
                )
            },
        }),
        _ => Ok(()),
    }
}

/// Writes `contents` to `path` atomically: a temporary file in the same folder, synced, then
/// renamed over `path`. An interrupted write never leaves a truncated `path`.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(contents))
}

/// [`write_atomic`] with the contents written by `fill`, in pieces (a file too large to build
/// in memory first).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let io = |action: &'static str| Error::io(path, action);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_folder(dir, path, "cannot create the output folder for")?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Temporaries of killed writers of this file (their process is gone) are removed.
    crate::output::rundir::clean_stale(dir, &name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        fill(&mut w)?;
        let f = w
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io("cannot write"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(significant(0.00123156, 4), "0.001232");
        assert_eq!(significant(1.72859, 4), "1.729");
        assert_eq!(significant(543.657, 4), "543.7");
        assert_eq!(significant(123456.7, 4), "123457");
        assert_eq!(significant(0.0, 4), "0");
        assert_eq!(significant(1.44938e-301, 4), "1.45e-301");
        assert_eq!(significant(-2.5e300, 4), "-2.50e300");
        assert_eq!(significant(999_999_999.0, 4), "999999999");
        assert_eq!(fixed(123.456, 2), "123.46");
        assert_eq!(fixed(999_999_999.0, 1), "999999999.0");
        assert_eq!(fixed(1e300, 4), "1.000e300");
        assert_eq!(fixed(f64::NAN, 1), "NaN");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("edgesim-atomic-{}", std::process::id()));
        let p = dir.join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
