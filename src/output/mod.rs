//! Output files beside the summary: tables of requests, devices and time series (Parquet
//! through polars, or CSV), and figures (plotters).

pub(crate) mod decimal;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod rundir;
pub mod table;

pub use table::{Format, Table, TableWriter, Values, write_table};
pub mod tables;

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::metrics::{Recorder, Refusal, RequestRecord, Summary};
use crate::scenario::Scenario;
use crate::time::SimTime;

impl<R: Recorder> Recorder for Option<R> {
    const WANTS_DEVICE_STATE: bool = R::WANTS_DEVICE_STATE;
    fn on_arrival(&mut self, now: SimTime, id: u64) {
        if let Some(r) = self {
            r.on_arrival(now, id);
        }
    }
    fn on_end(&mut self, now: SimTime, record: &RequestRecord) {
        if let Some(r) = self {
            r.on_end(now, record);
        }
    }
    #[inline(always)]
    fn prefetch_end(&self, device: crate::device::DeviceId) {
        if let Some(r) = self {
            r.prefetch_end(device);
        }
    }
    fn on_refused(&mut self, now: SimTime, device: crate::device::DeviceId, why: Refusal) {
        if let Some(r) = self {
            r.on_refused(now, device, why);
        }
    }
    fn on_oversized(&mut self, now: SimTime, id: u64) {
        if let Some(r) = self {
            r.on_oversized(now, id);
        }
    }
    fn on_admit(&mut self, now: SimTime, device: crate::device::DeviceId) {
        if let Some(r) = self {
            r.on_admit(now, device);
        }
    }
    fn on_device(
        &mut self,
        now: SimTime,
        device: crate::device::DeviceId,
        active: u32,
        queued: u32,
        power_w: f64,
    ) {
        if let Some(r) = self {
            r.on_device(now, device, active, queued, power_w);
        }
    }
}

/// What a run writes to its output folder.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputOptions {
    /// Table formats (each table is written once per format).
    pub formats: Vec<Format>,
    /// Write the per-request table.
    pub requests: bool,
    /// Width of the time-series buckets \[s\].
    pub bucket_s: f64,
}

impl Default for OutputOptions {
    /// Parquet where built in (else CSV), the request table, 10 s buckets.
    fn default() -> Self {
        OutputOptions {
            formats: vec![default_format()],
            requests: true,
            bucket_s: 10.0,
        }
    }
}

/// The default format, plus CSV if `csv` (`--csv`).
pub fn formats(csv: bool) -> Vec<Format> {
    let mut f = vec![default_format()];
    if csv && !f.contains(&Format::Csv) {
        f.push(Format::Csv);
    }
    f
}

/// Checks a time-series bucket width \[s\] given on the command line.
pub fn check_bucket_s(flag: &str, bucket_s: f64) -> Result<f64> {
    if bucket_s.is_finite() && (1e-3..=crate::time::MAX_INPUT_S).contains(&bucket_s) {
        Ok(bucket_s)
    } else {
        Err(crate::Error::Override {
            arg: format!("{flag} {}", crate::check::num(bucket_s)),
            problem: format!(
                "must be a number of seconds in [0.001, {:e}]",
                crate::time::MAX_INPUT_S
            ),
        })
    }
}

/// The most time-series buckets one run may have: the gateway table and the bucket spans are
/// kept in memory, one entry per bucket (1e6 buckets of 10 s cover 115 days).
pub const MAX_BUCKETS: f64 = 1e6;

/// The most rows (buckets x devices) of the `timeseries` table that `run` writes.
pub const MAX_SERIES_ROWS: f64 = 1e8;

/// The most points (buckets x devices) per policy that `compare` keeps in memory for its
/// figures (56 bytes each: about 110 MB per policy).
pub const MAX_FIGURE_POINTS: f64 = 2e6;

/// The most buckets of a time series over `devices` devices: [`MAX_BUCKETS`], and `max_points`
/// buckets x devices.
pub fn max_series_buckets(devices: usize, max_points: f64) -> f64 {
    MAX_BUCKETS.min((max_points / devices.max(1) as f64).floor())
}

/// The narrowest bucket width \[s\] that keeps a time series over `span_s` seconds and
/// `devices` devices within [`max_series_buckets`], rounded up to two significant digits.
fn narrowest_bucket_s(span_s: f64, devices: usize, max_points: f64) -> f64 {
    crate::check::ceil_two_digits(span_s / max_series_buckets(devices, max_points))
}

/// What a time series of `buckets` buckets over `devices` devices exceeds, for errors: the
/// bound that sets the narrowest width allowed ([`max_series_buckets`]), so that the width the
/// error gives and the limit it names agree.
fn series_excess(buckets: f64, devices: usize, max_points: f64) -> String {
    if max_series_buckets(devices, max_points) >= MAX_BUCKETS {
        format!("more than the {MAX_BUCKETS:e} allowed")
    } else {
        format!(
            "x {devices} devices = {:.3e} rows, more than the {max_points:e} allowed",
            buckets * devices as f64
        )
    }
}

/// Checks that buckets of `bucket_s` seconds over the arrivals of `sc` and the wait tail after
/// them ([`Scenario::horizon_s`]) make at most
/// [`MAX_BUCKETS`] buckets and `max_points` buckets x devices; the error names the flag, the
/// span and the narrowest width allowed, before anything runs.
pub fn check_bucket_count(flag: &str, bucket_s: f64, sc: &Scenario, max_points: f64) -> Result<()> {
    let span_s = sc.horizon_s();
    let buckets = (span_s / bucket_s).ceil().max(1.0);
    let devices = sc.device_count().max(1);
    if buckets <= max_series_buckets(devices, max_points) {
        return Ok(());
    }
    Err(crate::Error::Override {
        arg: format!("{flag} {}", crate::check::num(bucket_s)),
        problem: format!(
            "arrivals span {} s{}, so the time series would have {:.3e} buckets, {}; \
             give {flag} {} or more",
            crate::check::num(sc.arrival_span_s()),
            crate::scenario::budget::tail_words(sc),
            buckets,
            series_excess(buckets, devices, max_points),
            crate::check::num(narrowest_bucket_s(span_s, devices, max_points))
        ),
    })
}

/// The error of a run that went on past what its time series may hold (`bucket_s` wide over
/// `devices` devices): its edge queues drained long after the arrivals, which no check before
/// the run foresees. A series stops at twice the buckets [`check_bucket_count`] allows
/// ([`max_series_buckets`]), the margin left for the drain; the run ended at `end_s`.
pub fn series_overflow(
    flag: &str,
    bucket_s: f64,
    devices: usize,
    max_points: f64,
    arrivals_s: f64,
    end_s: f64,
) -> crate::Error {
    crate::Error::Override {
        arg: format!("{flag} {}", crate::check::num(bucket_s)),
        problem: format!(
            "the run lasted {} s, {} s past its {} s of arrivals (its edge queues were still \
             draining), and its time series went past twice the {:e} buckets allowed over the \
             arrivals, the margin left for draining queues; give {flag} {} or more, or lower \
             the devices' queue_capacity (nothing was written)",
            crate::check::num(end_s),
            crate::check::num(end_s - arrivals_s),
            crate::check::num(arrivals_s),
            max_series_buckets(devices, max_points),
            crate::check::num(narrowest_bucket_s(end_s, devices, max_points))
        ),
    }
}

/// Parquet if this build has it, else CSV.
pub fn default_format() -> Format {
    if Format::Parquet.available() {
        Format::Parquet
    } else {
        Format::Csv
    }
}

/// Runs `sc` and writes to `target`: `summary.json`, `scenario.resolved.toml`, the tables
/// `requests`, `devices`, `timeseries` and `gateway` in each format (and `windows` when the
/// scenario sets `[metrics] window_s`, `class_windows` when it also has two request classes or
/// more), and `manifest.json`. Returns the summary and the files written. The folder is all-or-nothing
/// ([`rundir::RunDir`]): it appears, or replaces an earlier run's, only when complete.
pub fn run_to_dir(
    sc: &Scenario,
    target: &Path,
    opts: &OutputOptions,
) -> Result<(Summary, Vec<PathBuf>)> {
    check_bucket_count("--bucket-s", opts.bucket_s, sc, MAX_SERIES_ROWS)?;
    let rd = rundir::RunDir::begin(target, "output folder", "run")?;
    let dir = rd.path();
    let mut requests = if opts.requests {
        Some(tables::RequestTable::create(dir, &opts.formats, sc)?)
    } else {
        None
    };
    let sink = tables::TableSink::create(dir, &opts.formats, sc)?;
    let mut series = tables::Timeseries::with_sink(sc, opts.bucket_s, MAX_SERIES_ROWS, sink);
    let summary = {
        let mut tee = crate::metrics::Tee(&mut requests, &mut series);
        // The tables are written on a thread of their own where a core is spare
        // (metrics::Behind): they see the same calls in the same order.
        let behind = if crate::engine::spare_core() {
            std::thread::scope(|s| {
                let mut b = crate::metrics::Behind::spawn(s, &mut tee)?;
                let summary = crate::sim::run_with(sc, &mut b);
                b.finish();
                Some(summary)
            })
        } else {
            None
        };
        match behind {
            Some(summary) => summary?,
            None => crate::sim::run_with(sc, &mut tee)?,
        }
    };
    let mut files = Vec::new();
    if let Some(r) = requests {
        r.finish()?;
        for f in &opts.formats {
            files.push(dir.join(format!("requests.{}", f.extension())));
        }
    }
    let (sink, gateway, spans) =
        series.finish(SimTime::from_secs_f64(summary.end_s), "--bucket-s")?;
    sink.finish()?;
    let gateway = tables::gateway_table(&spans, &gateway);
    let devices = tables::devices_table(&summary);
    let windows = summary.windows.as_ref().map(tables::windows_table);
    let class_windows = tables::class_windows_table(&summary);
    for f in &opts.formats {
        for (name, t) in [
            ("devices", Some(&devices)),
            ("timeseries", None),
            ("gateway", Some(&gateway)),
        ] {
            let p = dir.join(format!("{name}.{}", f.extension()));
            if let Some(t) = t {
                write_table(&p, *f, t)?;
            }
            files.push(p);
        }
        for (name, t) in [("windows", &windows), ("class_windows", &class_windows)] {
            if let Some(t) = t {
                let p = dir.join(format!("{name}.{}", f.extension()));
                write_table(&p, *f, t)?;
                files.push(p);
            }
        }
    }
    let p = dir.join("scenario.resolved.toml");
    crate::report::write_atomic(&p, sc.resolved_toml().as_bytes())?;
    files.push(p);
    let p = dir.join("summary.json");
    crate::report::write_atomic(&p, crate::report::to_json(&summary).as_bytes())?;
    files.push(p);
    let files = rd.commit(&sc.name, sc.seed, &files)?;
    Ok((summary, files))
}
pub mod figure;
#[cfg(feature = "plots")]
pub mod plot;

/// Writes a figure's data as `<name>.csv` in `dir` (every plotted number can be read back)
/// and, with the `plots` feature, the figure as PNG and SVG. Returns the files written.
pub fn write_figure(fig: &figure::Figure, dir: &Path) -> Result<Vec<PathBuf>> {
    let csv = dir.join(format!("{}.csv", fig.name));
    write_table(&csv, Format::Csv, &fig.to_table())?;
    #[allow(unused_mut)]
    let mut files = vec![csv];
    #[cfg(feature = "plots")]
    files.extend(plot::render(fig, dir)?);
    Ok(files)
}
