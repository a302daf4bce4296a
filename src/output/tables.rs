//! The run's tables: one row per request (streamed to disk in batches), per device, and per
//! device per time bucket. Columns are defined in `docs/metrics.md`.

use std::path::Path;
use std::sync::Arc;

use super::table::{Format, Table, TableWriter, Values};
use crate::device::DeviceId;
use crate::error::Result;
use crate::metrics::{Recorder, RequestRecord, Route, Summary};
use crate::scenario::Scenario;
use crate::time::SimTime;

/// Rows buffered before a batch is written.
pub const BATCH_ROWS: usize = 65_536;

/// Streams one row per finished request to `requests.<ext>` files, a batch at a time, so
/// memory stays bounded whatever the number of requests. Rows are in order of completion.
pub struct RequestTable {
    labels: Labels,
    writers: Vec<TableWriter>,
    rows: Rows,
    error: Option<crate::Error>,
    written: u64,
}

/// The names the text columns take, written by index.
struct Labels {
    /// The classes' names, then "" (a class index out of range).
    classes: Arc<[String]>,
    /// [`route_names`].
    routes: Arc<[String]>,
    devices: Arc<[String]>,
    /// Cloud providers' models (the primary, then the fallbacks).
    providers: Arc<[String]>,
}

/// The `route` column's names, by [`route_code`].
fn route_names() -> Arc<[String]> {
    [Route::Edge(DeviceId(0)), Route::Cloud, Route::Rejected]
        .map(|r| r.name().to_string())
        .into()
}

fn route_code(r: Route) -> u32 {
    match r {
        Route::Edge(_) => 0,
        Route::Cloud => 1,
        Route::Rejected => 2,
    }
}

#[derive(Default)]
struct Rows {
    id: Vec<u64>,
    class: Vec<u32>,
    arrival_s: Vec<f64>,
    route: Vec<u32>,
    device: Vec<Option<u32>>,
    attempts: Vec<u64>,
    prompt: Vec<u64>,
    output: Vec<u64>,
    ttft_ms: Vec<Option<f64>>,
    e2e_ms: Vec<Option<f64>>,
    energy_j: Vec<f64>,
    cost_usd: Vec<f64>,
    /// The fault columns, when the scenario models faults.
    faults: Option<FaultRows>,
}

#[derive(Default)]
struct FaultRows {
    cloud_retries: Vec<u64>,
    interruptions: Vec<u64>,
    during_cloud_outage: Vec<u64>,
    cloud_model: Vec<Option<u32>>,
}

impl Rows {
    /// Moves the buffered rows into a table, leaving the buffers empty.
    fn take(&mut self, labels: &Labels) -> Table {
        let faults = self.faults.as_ref().map(|_| FaultRows::default());
        let t = std::mem::replace(
            self,
            Rows {
                faults,
                ..Rows::default()
            },
        );
        let table = Table::new()
            .with("request_id", Values::U64(t.id))
            .with("class", Values::Label(labels.classes.clone(), t.class))
            .with("arrival_s", Values::F64(t.arrival_s))
            .with("route", Values::Label(labels.routes.clone(), t.route))
            .with("device", Values::OptLabel(labels.devices.clone(), t.device))
            .with("attempts", Values::U64(t.attempts))
            .with("prompt_tokens", Values::U64(t.prompt))
            .with("output_tokens", Values::U64(t.output))
            .with("ttft_ms", Values::OptF64(t.ttft_ms))
            .with("e2e_ms", Values::OptF64(t.e2e_ms))
            .with("energy_j", Values::F64(t.energy_j))
            .with("cost_usd", Values::F64(t.cost_usd));
        match t.faults {
            Some(f) => table
                .with("cloud_retries", Values::U64(f.cloud_retries))
                .with("interruptions", Values::U64(f.interruptions))
                .with("during_cloud_outage", Values::U64(f.during_cloud_outage))
                .with(
                    "cloud_model",
                    Values::OptLabel(labels.providers.clone(), f.cloud_model),
                ),
            None => table,
        }
    }
}

impl RequestTable {
    /// Starts `dir/requests.<ext>` in each format.
    pub fn create(dir: &Path, formats: &[Format], sc: &Scenario) -> Result<RequestTable> {
        let writers = formats
            .iter()
            .map(|f| TableWriter::create(&dir.join(format!("requests.{}", f.extension())), *f))
            .collect::<Result<Vec<_>>>()?;
        let classes = sc.classes().iter().map(|c| c.name.clone());
        Ok(RequestTable {
            labels: Labels {
                classes: classes.chain([String::new()]).collect(),
                routes: route_names(),
                devices: sc.devices().map(|(_, name)| name).collect(),
                providers: sc.cloud.providers().map(|c| c.model.clone()).collect(),
            },
            writers,
            rows: Rows {
                faults: sc.has_faults().then(FaultRows::default),
                ..Rows::default()
            },
            error: None,
            written: 0,
        })
    }

    fn flush(&mut self) {
        let t = self.rows.take(&self.labels);
        if self.error.is_some() {
            return;
        }
        for w in &mut self.writers {
            if let Err(e) = w.write(&t) {
                self.error = Some(e);
                return;
            }
        }
        self.written += t.rows() as u64;
    }

    /// Writes the last batch and puts the files in place; returns the rows written.
    pub fn finish(mut self) -> Result<u64> {
        self.flush();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let empty = self.rows.take(&self.labels);
        for w in std::mem::take(&mut self.writers) {
            w.finish(&empty)?;
        }
        Ok(self.written)
    }
}

impl Recorder for RequestTable {
    fn on_end(&mut self, _: SimTime, r: &RequestRecord) {
        let served = r.route != Route::Rejected;
        let ms = |d: crate::time::SimDuration| served.then(|| d.as_millis_f64());
        let rows = &mut self.rows;
        rows.id.push(r.id);
        let labels = &self.labels;
        // The last class label is "", for an index out of range.
        rows.class
            .push(u32::from(r.class).min(labels.classes.len() as u32 - 1));
        rows.arrival_s.push(r.arrival.as_secs_f64());
        rows.route.push(route_code(r.route));
        rows.device.push(match r.route {
            Route::Edge(d) => Some(d.0).filter(|&d| (d as usize) < labels.devices.len()),
            _ => None,
        });
        rows.attempts.push(u64::from(r.attempts));
        rows.prompt.push(u64::from(r.prompt_tokens));
        rows.output.push(u64::from(r.output_tokens));
        rows.ttft_ms.push(ms(r.ttft));
        rows.e2e_ms.push(ms(r.e2e));
        rows.energy_j.push(r.energy_j);
        rows.cost_usd.push(r.cost_usd);
        if let Some(f) = &mut rows.faults {
            f.cloud_retries.push(u64::from(r.cloud_retries));
            f.interruptions.push(u64::from(r.interruptions));
            f.during_cloud_outage.push(u64::from(r.during_cloud_outage));
            f.cloud_model.push(match r.route {
                Route::Cloud => Some(u32::from(r.cloud_provider))
                    .filter(|&k| (k as usize) < labels.providers.len()),
                _ => None,
            });
        }
        if rows.id.len() >= BATCH_ROWS {
            self.flush();
        }
    }
}

/// Receives the finished buckets of a [`Timeseries`], bucket by bucket, device by device.
pub trait SeriesSink {
    /// Bucket `bucket` spanning `span` \[s\] of device `device` is complete.
    fn row(&mut self, bucket: usize, span: (f64, f64), device: usize, point: DevicePoint);
}

/// Per-device state integrated over fixed time buckets, and gateway counts per bucket.
///
/// A bucket is finished for every device as soon as the clock passes its end, and handed to the
/// sink: memory holds one bucket per device, whatever the length of the run or the size of the
/// fleet.
pub struct Timeseries<S: SeriesSink = Collect> {
    bucket_us: u64,
    devices: Vec<DeviceSeries>,
    /// The bucket being accumulated.
    current: usize,
    gateway: Vec<GatewayBucket>,
    sink: S,
    /// The most buckets the series may hold: twice [`crate::output::max_series_buckets`],
    /// the margin for queues draining after the arrivals.
    max_buckets: usize,
    /// The points allowed (buckets x devices), for the error.
    max_points: f64,
    /// The arrivals' span \[s\], for the error.
    arrivals_s: f64,
    /// The run went past `max_buckets` buckets (its queues drained long after the arrivals):
    /// no more buckets are closed, and [`Timeseries::finish`] fails.
    overflow: bool,
}

struct DeviceSeries {
    last: SimTime,
    active: u32,
    queued: u32,
    power_w: f64,
    bucket: DeviceBucket,
}

#[derive(Clone, Copy, Default)]
struct DeviceBucket {
    active_s: f64,
    queued_s: f64,
    busy_s: f64,
    energy_j: f64,
    arrivals: u64,
    refused: u64,
}

/// Requests by the bucket of their arrival.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GatewayBucket {
    /// Requests that arrived.
    pub arrivals: u64,
    /// Of those, served at the edge.
    pub edge: u64,
    /// Redirected to the cloud.
    pub cloud: u64,
    /// Rejected.
    pub rejected: u64,
    /// Prompt + output tokens redirected to the cloud.
    pub redirected_tokens: u64,
}

fn bucket_of(buckets: &mut Vec<impl Default + Clone>, i: usize) -> usize {
    if buckets.len() <= i {
        buckets.resize(i + 1, Default::default());
    }
    i
}

/// A finished series: its sink, the gateway counts per bucket and the buckets' spans \[s\].
pub type Finished<S> = (S, Vec<GatewayBucket>, Vec<(f64, f64)>);

impl Timeseries<Collect> {
    /// Buckets of `bucket_s` seconds for the devices of `sc` (idle at time 0), kept in memory,
    /// at most `max_points` (buckets x devices).
    pub fn new(sc: &Scenario, bucket_s: f64, max_points: f64) -> Timeseries<Collect> {
        Timeseries::with_sink(sc, bucket_s, max_points, Collect::default())
    }
}

impl<S: SeriesSink> Timeseries<S> {
    /// Buckets of `bucket_s` seconds for the devices of `sc`, handed to `sink`, at most
    /// `max_points` (buckets x devices): a run that goes on longer (queues draining long after
    /// the arrivals, which [`crate::output::check_bucket_count`] cannot foresee) makes
    /// [`Timeseries::finish`] fail, not the memory or the disk.
    pub fn with_sink(sc: &Scenario, bucket_s: f64, max_points: f64, sink: S) -> Timeseries<S> {
        let bucket_us = ((bucket_s * 1e6).round() as u64).max(1);
        let max_buckets = crate::output::max_series_buckets(sc.device_count(), max_points);
        Timeseries {
            max_buckets: 2 * max_buckets as usize,
            max_points,
            arrivals_s: sc.arrival_span_s(),
            overflow: false,
            bucket_us,
            devices: sc
                .devices()
                .map(|(g, _)| DeviceSeries {
                    last: SimTime::ZERO,
                    active: 0,
                    queued: 0,
                    power_w: g.perf.idle_w(),
                    bucket: DeviceBucket::default(),
                })
                .collect(),
            current: 0,
            gateway: Vec::new(),
            sink,
        }
    }

    fn index(&self, t: SimTime) -> usize {
        (t.0 / self.bucket_us) as usize
    }

    /// Integrates device `d`'s current state from its last change up to `to` (within the
    /// current bucket).
    fn advance(&mut self, d: usize, to: SimTime) {
        let s = &mut self.devices[d];
        if to <= s.last {
            return;
        }
        let dt = (to.0 - s.last.0) as f64 / 1e6;
        let b = &mut s.bucket;
        b.active_s += f64::from(s.active) * dt;
        b.queued_s += f64::from(s.queued) * dt;
        if s.active > 0 {
            b.busy_s += dt;
        }
        b.energy_j += s.power_w * dt;
        s.last = to;
    }

    /// The span \[s\] of bucket `i`, cut at `end_s`.
    fn span(&self, i: usize, end_s: f64) -> (f64, f64) {
        let b = self.bucket_us as f64 / 1e6;
        let start = i as f64 * b;
        (start, ((i + 1) as f64 * b).min(end_s.max(start)))
    }

    /// Finishes the current bucket at `until` (its end, or the run's end) for every device.
    fn close(&mut self, until: SimTime, end_s: f64) {
        let i = self.current;
        let span = self.span(i, end_s);
        let len = span.1 - span.0;
        let per = |x: f64| if len > 0.0 { x / len } else { 0.0 };
        for d in 0..self.devices.len() {
            self.advance(d, until);
            let k = std::mem::take(&mut self.devices[d].bucket);
            let point = DevicePoint {
                active_streams: per(k.active_s),
                queued: per(k.queued_s),
                utilisation: per(k.busy_s),
                power_w: per(k.energy_j),
                energy_j: k.energy_j,
                arrivals: k.arrivals,
                redirections: k.refused,
            };
            self.sink.row(i, span, d, point);
        }
        self.current += 1;
    }

    /// Finishes every bucket that ends at or before `now`.
    fn roll(&mut self, now: SimTime) {
        while self.index(now) > self.current && !self.overflow {
            if self.current >= self.max_buckets {
                self.overflow = true;
                return;
            }
            let end = SimTime((self.current as u64 + 1).saturating_mul(self.bucket_us));
            self.close(end, f64::INFINITY);
        }
    }

    /// Closes the series at `end` (the run's end): finishes the last buckets and returns the
    /// sink, the gateway counts and the buckets' spans; an error if the run went on past the
    /// buckets allowed (`flag` names the option that sets their width).
    pub fn finish(mut self, end: SimTime, flag: &str) -> Result<Finished<S>> {
        self.roll(end);
        let n = self.index(end) + usize::from(!end.0.is_multiple_of(self.bucket_us));
        let n = n.max(self.gateway.len());
        if self.overflow || n > self.max_buckets {
            let bucket_s = self.bucket_us as f64 / 1e6;
            return Err(crate::output::series_overflow(
                flag,
                bucket_s,
                self.devices.len(),
                self.max_points,
                self.arrivals_s,
                end.as_secs_f64(),
            ));
        }
        let end_s = end.as_secs_f64();
        while self.current < n {
            self.close(end, end_s);
        }
        let spans = (0..n).map(|i| self.span(i, end_s)).collect();
        let mut gateway = self.gateway;
        gateway.resize(n, GatewayBucket::default());
        Ok((self.sink, gateway, spans))
    }
}

impl Timeseries<Collect> {
    /// Closes the series at `end` and returns it whole.
    pub fn finish_data(self, end: SimTime, names: Vec<String>, flag: &str) -> Result<SeriesData> {
        let (sink, gateway, spans) = self.finish(end, flag)?;
        Ok(SeriesData {
            spans,
            names,
            devices: sink.devices,
            gateway,
        })
    }
}

/// A sink keeping every bucket in memory (for figures).
#[derive(Clone, Debug, Default)]
pub struct Collect {
    /// `devices[d][bucket]`.
    pub devices: Vec<Vec<DevicePoint>>,
}

impl SeriesSink for Collect {
    fn row(&mut self, bucket: usize, _: (f64, f64), device: usize, point: DevicePoint) {
        if self.devices.len() <= device {
            self.devices.resize(device + 1, Vec::new());
        }
        let v = &mut self.devices[device];
        let i = bucket_of(v, bucket);
        v[i] = point;
    }
}

/// A sink streaming the `timeseries` table to files in batches.
pub struct TableSink {
    names: Vec<String>,
    writers: Vec<TableWriter>,
    rows: SeriesRows,
    error: Option<crate::Error>,
}

#[derive(Default)]
struct SeriesRows {
    start: Vec<f64>,
    stop: Vec<f64>,
    device: Vec<String>,
    values: [Vec<f64>; 5],
    counts: [Vec<u64>; 2],
}

impl SeriesRows {
    /// One row: device `device`'s point in the bucket `span` (start, stop \[s\]).
    fn push(&mut self, span: (f64, f64), device: String, p: DevicePoint) {
        self.start.push(span.0);
        self.stop.push(span.1);
        self.device.push(device);
        for (col, x) in self.values.iter_mut().zip([
            p.active_streams,
            p.queued,
            p.utilisation,
            p.power_w,
            p.energy_j,
        ]) {
            col.push(x);
        }
        self.counts[0].push(p.arrivals);
        self.counts[1].push(p.redirections);
    }

    fn take(&mut self) -> Table {
        let t = std::mem::take(self);
        let [active, queued, util, power, energy] = t.values;
        let [arrivals, refused] = t.counts;
        Table::new()
            .with("bucket_start_s", Values::F64(t.start))
            .with("bucket_end_s", Values::F64(t.stop))
            .with("device", Values::Str(t.device))
            .with("active_streams", Values::F64(active))
            .with("queued", Values::F64(queued))
            .with("utilisation", Values::F64(util))
            .with("power_w", Values::F64(power))
            .with("energy_j", Values::F64(energy))
            .with("arrivals", Values::U64(arrivals))
            .with("redirections", Values::U64(refused))
    }
}

impl TableSink {
    /// Starts `dir/timeseries.<ext>` in each format for the devices of `sc`.
    pub fn create(dir: &Path, formats: &[Format], sc: &Scenario) -> Result<TableSink> {
        let writers = formats
            .iter()
            .map(|f| TableWriter::create(&dir.join(format!("timeseries.{}", f.extension())), *f))
            .collect::<Result<Vec<_>>>()?;
        Ok(TableSink {
            names: sc.devices().map(|(_, name)| name).collect(),
            writers,
            rows: SeriesRows::default(),
            error: None,
        })
    }

    fn flush(&mut self) {
        let t = self.rows.take();
        if self.error.is_some() {
            return;
        }
        for w in &mut self.writers {
            if let Err(e) = w.write(&t) {
                self.error = Some(e);
                return;
            }
        }
    }

    /// Writes the last batch and puts the files in place.
    pub fn finish(mut self) -> Result<()> {
        self.flush();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let empty = SeriesRows::default().take();
        for w in std::mem::take(&mut self.writers) {
            w.finish(&empty)?;
        }
        Ok(())
    }
}

impl SeriesSink for TableSink {
    fn row(&mut self, _: usize, span: (f64, f64), device: usize, p: DevicePoint) {
        let name = self.names.get(device).cloned().unwrap_or_default();
        self.rows.push(span, name, p);
        if self.rows.start.len() >= BATCH_ROWS {
            self.flush();
        }
    }
}

/// One device over one bucket (time averages over the bucket).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DevicePoint {
    /// Mean requests in service.
    pub active_streams: f64,
    /// Mean requests waiting.
    pub queued: f64,
    /// Fraction of the bucket with at least one request in service.
    pub utilisation: f64,
    /// Mean power \[W\].
    pub power_w: f64,
    /// Energy \[J\].
    pub energy_j: f64,
    /// Attempts that reached the device (admitted or refused).
    pub arrivals: u64,
    /// Attempts it refused (rate limit or full).
    pub redirections: u64,
}

/// A finished time series: bucket spans, per device per bucket, and the gateway per bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesData {
    /// (start, end) of each bucket \[s\]; the last one may be shorter.
    pub spans: Vec<(f64, f64)>,
    /// Device names.
    pub names: Vec<String>,
    /// `devices[d][bucket]`.
    pub devices: Vec<Vec<DevicePoint>>,
    /// Requests by arrival bucket.
    pub gateway: Vec<GatewayBucket>,
}

impl SeriesData {
    /// The `timeseries` table: one row per bucket per device (by bucket, then device).
    pub fn device_table(&self) -> Table {
        let mut rows = SeriesRows::default();
        for (i, &(start, stop)) in self.spans.iter().enumerate() {
            for (d, name) in self.names.iter().enumerate() {
                let p = self
                    .devices
                    .get(d)
                    .and_then(|v| v.get(i))
                    .copied()
                    .unwrap_or_default();
                rows.push((start, stop), name.clone(), p);
            }
        }
        rows.take()
    }

    /// The `gateway` table: one row per bucket.
    pub fn gateway_table(&self) -> Table {
        gateway_table(&self.spans, &self.gateway)
    }
}

/// The `gateway` table: one row per bucket.
pub fn gateway_table(spans: &[(f64, f64)], gateway: &[GatewayBucket]) -> Table {
    let mut g: [Vec<u64>; 5] = Default::default();
    for k in gateway {
        for (col, x) in
            g.iter_mut()
                .zip([k.arrivals, k.edge, k.cloud, k.rejected, k.redirected_tokens])
        {
            col.push(x);
        }
    }
    let [arrivals, edge, cloud, rejected, tokens] = g;
    Table::new()
        .with(
            "bucket_start_s",
            Values::F64(spans.iter().map(|s| s.0).collect()),
        )
        .with(
            "bucket_end_s",
            Values::F64(spans.iter().map(|s| s.1).collect()),
        )
        .with("arrivals", Values::U64(arrivals))
        .with("served_edge", Values::U64(edge))
        .with("served_cloud", Values::U64(cloud))
        .with("rejected", Values::U64(rejected))
        .with("redirected_tokens", Values::U64(tokens))
}

impl<S: SeriesSink> Recorder for Timeseries<S> {
    const WANTS_DEVICE_STATE: bool = true;

    fn on_arrival(&mut self, now: SimTime, _: u64) {
        let i = self.index(now);
        let i = bucket_of(&mut self.gateway, i);
        self.gateway[i].arrivals += 1;
    }
    fn on_end(&mut self, _: SimTime, r: &RequestRecord) {
        let i = self.index(r.arrival);
        let i = bucket_of(&mut self.gateway, i);
        let g = &mut self.gateway[i];
        match r.route {
            Route::Edge(_) => g.edge += 1,
            Route::Cloud => {
                g.cloud += 1;
                g.redirected_tokens += u64::from(r.prompt_tokens) + u64::from(r.output_tokens);
            }
            Route::Rejected => g.rejected += 1,
        }
    }
    fn on_refused(
        &mut self,
        now: SimTime,
        device: crate::device::DeviceId,
        _: crate::metrics::Refusal,
    ) {
        self.roll(now);
        let b = &mut self.devices[device.index()].bucket;
        b.arrivals += 1;
        b.refused += 1;
    }
    fn on_admit(&mut self, now: SimTime, device: crate::device::DeviceId) {
        self.roll(now);
        self.devices[device.index()].bucket.arrivals += 1;
    }
    fn on_device(
        &mut self,
        now: SimTime,
        device: crate::device::DeviceId,
        active: u32,
        queued: u32,
        power_w: f64,
    ) {
        self.roll(now);
        let d = device.index();
        self.advance(d, now);
        let s = &mut self.devices[d];
        (s.active, s.queued, s.power_w) = (active, queued, power_w);
    }
}

/// One row per device, from the summary.
pub fn devices_table(s: &Summary) -> Table {
    let d = &s.devices;
    let f = |g: fn(&crate::metrics::DeviceSummary) -> f64| Values::F64(d.iter().map(g).collect());
    let u = |g: fn(&crate::metrics::DeviceSummary) -> u64| Values::U64(d.iter().map(g).collect());
    let t = |g: fn(&crate::metrics::DeviceSummary) -> &str| {
        Values::Str(d.iter().map(|x| g(x).to_string()).collect())
    };
    let table = Table::new()
        .with("device", t(|x| &x.name))
        .with("board", t(|x| &x.board))
        .with("model", t(|x| &x.model))
        .with("slots", u(|x| u64::from(x.slots)))
        .with("served", u(|x| x.served))
        .with("output_tokens", u(|x| x.output_tokens))
        .with("throttled", u(|x| x.throttled))
        .with("full", u(|x| x.full))
        .with("too_long", u(|x| x.too_long))
        .with("busy_s", f(|x| x.busy_s))
        .with("utilisation", f(|x| x.utilisation))
        .with("slot_utilisation", f(|x| x.slot_utilisation))
        .with("mean_in_system", f(|x| x.mean_in_system))
        .with(
            "mean_residence_ms",
            Values::OptF64(d.iter().map(|x| x.mean_residence_ms).collect()),
        )
        .with("energy_j", f(|x| x.energy_j))
        .with("idle_energy_j", f(|x| x.idle_energy_j));
    // Failures: only when some device can fail (the columns are 0 for the others).
    let table = if s.device_faults.is_none() {
        table
    } else {
        table
            .with("failures", u(|x| x.failures.unwrap_or(0)))
            .with("down_s", f(|x| x.down_s.unwrap_or(0.0)))
    };
    // Queue timeouts: only when the scenario sets one.
    let table = if s.queue_timeouts.is_none() {
        table
    } else {
        table.with("queue_timeouts", u(|x| x.queue_timeouts.unwrap_or(0)))
    };
    // Predictive admission's refusals: only when the scenario sets it.
    if s.predicted_wait_attempts.is_none() {
        return table;
    }
    table.with("predicted_wait", u(|x| x.predicted_wait.unwrap_or(0)))
}

/// The `windows` table: one row per window of `[metrics] window_s` (docs/metrics.md).
pub fn windows_table(w: &crate::metrics::windows::WindowsSummary) -> Table {
    window_columns(Table::new(), &w.rows.iter().collect::<Vec<_>>())
}

/// The `class_windows` table, with two request classes or more and metric windows: each
/// class's windows (its requests only), class by class in the workload's order, each row led
/// by the class's name (docs/metrics.md). `None` without classes or windows.
pub fn class_windows_table(s: &Summary) -> Option<Table> {
    let classes = s.classes.as_ref()?;
    let mut names = Vec::new();
    let mut rows = Vec::new();
    for c in classes {
        let w = c.windows.as_ref()?;
        names.extend(std::iter::repeat_n(c.name.clone(), w.rows.len()));
        rows.extend(&w.rows);
    }
    Some(window_columns(
        Table::new().with("class", Values::Str(names)),
        &rows,
    ))
}

/// The columns of window rows `r`, after those of `t`.
fn window_columns(t: Table, r: &[&crate::metrics::windows::WindowRow]) -> Table {
    use crate::metrics::windows::WindowRow;
    let f = |g: fn(&WindowRow) -> f64| Values::F64(r.iter().map(|x| g(x)).collect());
    let o = |g: fn(&WindowRow) -> Option<f64>| Values::OptF64(r.iter().map(|x| g(x)).collect());
    let u = |g: fn(&WindowRow) -> u64| Values::U64(r.iter().map(|x| g(x)).collect());
    t.with("window_start_s", f(|x| x.start_s))
        .with("window_end_s", f(|x| x.end_s))
        .with("requests", u(|x| x.requests))
        .with("served_edge", u(|x| x.served_edge))
        .with("served_cloud", u(|x| x.served_cloud))
        .with("rejected", u(|x| x.rejected))
        .with("reject_rate", o(|x| x.reject_rate))
        .with("redirect_rate", o(|x| x.redirect_rate))
        .with("ttft_p50_ms", o(|x| x.ttft_ms.p50))
        .with("ttft_p95_ms", o(|x| x.ttft_ms.p95))
        .with("ttft_p99_ms", o(|x| x.ttft_ms.p99))
        .with("e2e_p50_ms", o(|x| x.e2e_ms.p50))
        .with("e2e_p95_ms", o(|x| x.e2e_ms.p95))
        .with("e2e_p99_ms", o(|x| x.e2e_ms.p99))
        .with("cloud_cost_usd", f(|x| x.cloud_cost_usd))
}
