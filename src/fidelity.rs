//! `edgesim fidelity`: the same request list served for real on llama.cpp and simulated with a
//! profile, compared side by side (percentiles, throughput, two-sample Kolmogorov-Smirnov).
//!
//! The request list comes from a scenario's open-loop workload (arrival times and lengths);
//! both sides serve it on one device with `parallel` slots and an unbounded queue, so nothing
//! is throttled, redirected or rejected: the comparison is of the device model alone.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::catalogue::ModelCatalogue;
use crate::check::Checker;
use crate::cloud::{CloudFile, CloudSpec};
use crate::device::DeviceGroup;
use crate::device::profile::DeviceProfile;
use crate::error::{Error, Result};
use crate::output::figure::{Figure, Panel, PanelKind, Series};
use crate::rng::RngStreams;
use crate::scenario::Scenario;
use crate::time::SimTime;
use crate::workload::demand::DemandFiles;
use crate::workload::{Arrivals, DemandSpec, TraceRow, WorkloadSpec};

/// One request of the list.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Request {
    /// Arrival \[s\] from the start.
    pub at_s: f64,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Output tokens.
    pub output_tokens: u32,
}

/// Latencies of one served request \[s\].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Served {
    /// Arrival to first token.
    pub ttft_s: f64,
    /// Arrival to last token.
    pub e2e_s: f64,
}

/// One side of the comparison: every request's latencies, in list order, and the time the
/// device had at least one request in service.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Per request.
    pub served: Vec<Served>,
    /// Seconds with at least one request in service \[s\].
    pub busy_s: f64,
}

/// The first `n` arrivals of the scenario's workload (open loop only), with lengths capped at
/// `max_prompt` / `max_output` tokens.
pub fn request_list(
    sc: &Scenario,
    n: usize,
    max_prompt: u32,
    max_output: u32,
) -> Result<Vec<Request>> {
    if sc.workload.is_closed() {
        return Err(Error::invalid(
            &sc.source,
            "workload.kind",
            "\"closed\"",
            "fidelity replays open-loop arrivals: use poisson, bursty or trace",
        ));
    }
    let mut w = sc.workload.build(sc.horizon(), &RngStreams::new(sc.seed));
    // Open-loop workloads chain their arrivals; take them in time order (first come first).
    let mut pending: Vec<crate::workload::Arrival> = w.start();
    let mut out = Vec::new();
    while out.len() < n && !pending.is_empty() {
        let i = (0..pending.len())
            .min_by_key(|&i| (pending[i].at, i))
            .unwrap_or(0);
        let a = pending.remove(i);
        out.push(Request {
            at_s: a.at.as_secs_f64(),
            prompt_tokens: a.prompt_tokens.clamp(1, max_prompt.max(1)),
            output_tokens: a.output_tokens.clamp(1, max_output.max(1)),
        });
        pending.extend(w.after_arrival(&a));
    }
    if out.is_empty() {
        return Err(Error::invalid(
            &sc.source,
            "workload",
            "(no arrivals)",
            "the workload produced no requests",
        ));
    }
    Ok(out)
}

/// The scenario that simulates the list: one device of `profile` serving `model` with
/// `parallel` slots and room in its queue for every request, no limit, no cloud; arrivals at
/// the list's times (from the first request's), lengths as listed.
pub fn scenario(
    requests: &[Request],
    profile: &Path,
    model: &str,
    parallel: u32,
) -> Result<Scenario> {
    let data = crate::device::load_profile(profile)?;
    let catalogue = Arc::new(ModelCatalogue::builtin());
    scenario_with(
        requests,
        &Side::new(profile, &data, model, parallel, &catalogue),
    )
}

/// The simulated side of a comparison: one device of `profile` (read from `source`, which
/// names it in errors) serving `model` with `parallel` slots, the model looked up in
/// `catalogue` (the scenario's).
#[derive(Clone, Copy)]
struct Side<'a> {
    source: &'a Path,
    profile: &'a DeviceProfile,
    model: &'a str,
    parallel: u32,
    catalogue: &'a Arc<ModelCatalogue>,
}

impl<'a> Side<'a> {
    fn new(
        source: &'a Path,
        profile: &'a DeviceProfile,
        model: &'a str,
        parallel: u32,
        catalogue: &'a Arc<ModelCatalogue>,
    ) -> Side<'a> {
        Side {
            source,
            profile,
            model,
            parallel,
            catalogue,
        }
    }
}

/// [`scenario`] for the simulated side `side`.
fn scenario_with(requests: &[Request], side: &Side) -> Result<Scenario> {
    let &Side {
        source,
        profile,
        model,
        parallel,
        catalogue,
    } = side;
    if let Some(i) = requests.windows(2).position(|w| w[1].at_s < w[0].at_s) {
        return Err(Error::invalid(
            source,
            format!("requests[{}].at_s", i + 1),
            requests[i + 1].at_s,
            "arrival times must not decrease (the list is replayed in order)",
        ));
    }
    let cx = Checker::new(source);
    let device = DeviceGroup::new(
        &cx,
        "--profile",
        "local".into(),
        1,
        Arc::new(profile.clone()),
        model.into(),
        parallel,
        u32::try_from(requests.len()).unwrap_or(u32::MAX),
        512,
        None,
        catalogue,
    )?;
    let us = |r: &Request| (r.at_s * 1e6).round() as u64;
    let first = requests.first().map_or(0, us);
    let rows = requests
        .iter()
        .map(|r| TraceRow {
            offset_us: us(r).saturating_sub(first),
            prompt_tokens: r.prompt_tokens,
            output_tokens: r.output_tokens,
        })
        .collect();
    let no_cloud = CloudFile {
        enabled: false,
        ..CloudFile::default()
    };
    Ok(Scenario {
        name: "fidelity".into(),
        description: String::new(),
        seed: 1,
        source: source.to_path_buf(),
        duration_s: None,
        workload: WorkloadSpec {
            arrivals: Arrivals::Trace(crate::workload::trace::Spec {
                path: "requests.csv".into(),
                rows: Arc::new(rows),
                time_scale: 1.0,
                max_requests: None,
            }),
            demand: DemandSpec::from_files(
                &cx,
                DemandFiles {
                    prompt_tokens: None,
                    output_tokens: None,
                    classes: &[],
                },
                true,
                catalogue,
            )?,
        },
        fleet: vec![device],
        selection: Default::default(),
        rate_limit: Default::default(),
        routing: Default::default(),
        cloud: CloudSpec::from_file(&cx, &no_cloud, catalogue)?,
        metrics: Default::default(),
        catalogue: Arc::clone(catalogue),
        catalogue_path: None,
    })
}

/// Simulates the list on one device of `profile` with `parallel` slots and no queue limit.
pub fn simulate(
    requests: &[Request],
    profile: &Path,
    model: &str,
    parallel: u32,
) -> Result<Outcome> {
    let data = crate::device::load_profile(profile)?;
    let catalogue = Arc::new(ModelCatalogue::builtin());
    simulate_with(
        requests,
        &Side::new(profile, &data, model, parallel, &catalogue),
    )
}

/// [`simulate`] for the simulated side `side`.
fn simulate_with(requests: &[Request], side: &Side) -> Result<Outcome> {
    let sc = scenario_with(requests, side)?;
    struct Collect(Vec<(u64, Served)>);
    impl crate::metrics::Recorder for Collect {
        fn on_end(&mut self, _: SimTime, r: &crate::metrics::RequestRecord) {
            self.0.push((
                r.id,
                Served {
                    ttft_s: r.ttft.as_secs_f64(),
                    e2e_s: r.e2e.as_secs_f64(),
                },
            ));
        }
    }
    let mut c = Collect(Vec::new());
    let summary = crate::sim::run_with(&sc, &mut c)?;
    c.0.sort_by_key(|x| x.0);
    Ok(Outcome {
        served: c.0.into_iter().map(|x| x.1).collect(),
        busy_s: summary.devices.first().map_or(0.0, |d| d.busy_s),
    })
}

/// `profile` with every speed of every model multiplied by `f` (prefill and decode speeds) and
/// every fixed time divided by it (TTFT overhead, the context slope of a decode step): the same
/// device running `f` times as fast.
pub fn scaled_profile(profile: &DeviceProfile, f: f64) -> DeviceProfile {
    let mut p = profile.clone();
    for m in &mut p.models {
        m.prefill_tps *= f;
        for c in &mut m.prefill_curve {
            c.1 *= f;
        }
        m.ttft_overhead_ms /= f;
        for d in &mut m.decode_tps {
            *d *= f;
        }
        m.decode_ms_per_1k_context /= f;
    }
    p
}

/// Fixed-point steps of the speed match (each one simulation of the list).
const SPEED_MATCH_STEPS: usize = 4;

/// The speed factor `f` at which the simulated busy time equals the real one, and the
/// simulation at that speed: `f ← f · busy_sim(f) / busy_real`, from `f = 1`, for
/// [`SPEED_MATCH_STEPS`] steps (busy time is close to proportional to 1/f, so the steps converge
/// in two or three).
fn speed_matched(
    requests: &[Request],
    side: &Side,
    real_busy_s: f64,
    sim: &Outcome,
) -> Result<(f64, Outcome)> {
    let (mut f, mut out) = (1.0, sim.clone());
    if !(real_busy_s > 0.0 && sim.busy_s > 0.0) {
        return Ok((f, out));
    }
    for _ in 0..SPEED_MATCH_STEPS {
        let next = f * out.busy_s / real_busy_s;
        // A degenerate factor (no busy time on one side) leaves the last good one.
        if !next.is_finite() || next <= 0.0 {
            break;
        }
        f = next;
        let scaled = scaled_profile(side.profile, f);
        out = simulate_with(
            requests,
            &Side {
                profile: &scaled,
                ..*side
            },
        )?;
    }
    Ok((f, out))
}

/// What `edgesim fidelity` compares: the model served for real, the profile simulated.
#[derive(Clone, Debug)]
pub struct Options {
    /// GGUF model to serve.
    pub model: std::path::PathBuf,
    /// Device profile to simulate with.
    pub profile: std::path::PathBuf,
    /// Catalogue model key in the profile (default: the profile's first model).
    pub model_name: Option<String>,
    /// Requests to serve: the first N arrivals (at least 2).
    pub requests: usize,
    /// Parallel sequences (slots, at least 1).
    pub parallel: u32,
    /// llama.cpp threads.
    pub threads: u32,
    /// Layers offloaded to the GPU.
    pub gpu_layers: u32,
    /// Caps on prompt and output tokens per request.
    pub max_prompt: u32,
    /// Cap on output tokens per request.
    pub max_output: u32,
}

impl Options {
    /// Checks the counts and caps (before the model is loaded or anything is printed).
    pub fn check(&self, sc: &Scenario) -> Result<()> {
        if self.requests < 2 {
            return Err(Error::invalid(
                &sc.source,
                "--requests",
                self.requests,
                "compare at least 2 requests",
            ));
        }
        if self.parallel == 0 {
            return Err(Error::invalid(&sc.source, "--parallel", 0, "must be >= 1"));
        }
        for (flag, cap) in [
            ("--max-prompt", self.max_prompt),
            ("--max-output", self.max_output),
        ] {
            if cap == 0 {
                return Err(Error::invalid(
                    &sc.source,
                    flag,
                    0,
                    "must be >= 1 (a cap on each request's tokens; a request has at least one)",
                ));
            }
        }
        Ok(())
    }
}

/// The result of a comparison and the files written.
#[derive(Clone, Debug)]
pub struct FidelityRun {
    /// The report.
    pub report: Report,
    /// `requests.csv`, `fidelity.json`, the CDF figure.
    pub files: Vec<std::path::PathBuf>,
}

/// Serves the first requests of `sc`'s workload for real on llama.cpp (feature `llm`),
/// simulates the same list with the profile, and writes `requests.csv`, `fidelity.json` and
/// `fidelity_cdf.{csv,png,svg}` to `dir`.
pub fn run(
    sc: &Scenario,
    o: &Options,
    dir: &Path,
    progress: &dyn Fn(usize, usize),
) -> Result<FidelityRun> {
    o.check(sc)?;
    // A file, or the name of a shipped profile.
    let profile =
        crate::device::ProfileSource::new(&o.profile.to_string_lossy(), o.profile.clone())
            .load()?;
    let model_name = match &o.model_name {
        Some(m) => m.clone(),
        None => profile
            .models
            .first()
            .map(|m| m.model.clone())
            .unwrap_or_default(),
    };
    let requests = request_list(sc, o.requests, o.max_prompt, o.max_output)?;
    // The simulated side first: a profile that cannot serve the list fails before the model is
    // loaded.
    let side = Side::new(&o.profile, &profile, &model_name, o.parallel, &sc.catalogue);
    let sim = simulate_with(&requests, &side)?;
    let real = serve_real(o, &requests, progress)?;
    let (f, matched) = speed_matched(&requests, &side, real.busy_s, &sim)?;
    let mut rep = report(&requests, &real, &sim);
    rep.speed_matched = Some(SpeedMatched::new(f, &real, &matched));
    let (table, fig) = outputs(&requests, &real.served, &sim.served);
    let rd = crate::output::rundir::RunDir::begin(dir, "output folder", "fidelity")?;
    let dir = rd.path();
    let mut files = Vec::new();
    let p = dir.join("requests.csv");
    crate::output::write_table(&p, crate::output::Format::Csv, &table)?;
    files.push(p);
    files.extend(crate::output::write_figure(&fig, dir)?);
    let p = dir.join("fidelity.json");
    let json = serde_json::to_string_pretty(&rep).unwrap_or_default() + "\n";
    crate::report::write_atomic(&p, json.as_bytes())?;
    files.push(p);
    let files = rd.commit(&sc.name, sc.seed, &files)?;
    Ok(FidelityRun { report: rep, files })
}

#[cfg(feature = "llm")]
fn serve_real(
    o: &Options,
    requests: &[Request],
    progress: &dyn Fn(usize, usize),
) -> Result<Outcome> {
    crate::calibrate::check_gguf(&o.model)?;
    crate::calibrate::llama::serve(
        &o.model,
        o.threads,
        o.gpu_layers,
        o.parallel,
        requests,
        progress,
    )
}

#[cfg(not(feature = "llm"))]
fn serve_real(o: &Options, _: &[Request], _: &dyn Fn(usize, usize)) -> Result<Outcome> {
    Err(Error::Output {
        path: o.model.clone(),
        problem: "this edgesim was built without llama.cpp: rebuild with `cargo build --release --features llm` \
                  (needs `apt-get install cmake libclang-dev`)"
            .into(),
    })
}

/// Quantile `q` of sorted values (linear interpolation between order statistics).
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (i, f) = (h.floor() as usize, h - h.floor());
    Some(sorted[i] + f * (sorted.get(i + 1).copied().unwrap_or(sorted[i]) - sorted[i]))
}

/// The two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs.
pub fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

/// p50, p90, p95, p99 \[ms\].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Quantiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// Real vs simulated for one latency.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// Measured on llama.cpp.
    pub real: Quantiles,
    /// Simulated.
    pub sim: Quantiles,
    /// 100 * (sim - real) / real.
    pub error_pct: Quantiles,
}

/// Real vs simulated mean throughput.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Throughput {
    /// Output tokens / (last completion - first arrival), real \[tokens/s\].
    pub real: f64,
    /// The same, simulated.
    pub sim: f64,
    /// 100 * (sim - real) / real.
    pub error_pct: f64,
}

/// Real vs simulated utilisation: the fraction of the span (first arrival to last completion)
/// with at least one request in service.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Utilisation {
    /// On llama.cpp.
    pub real: f64,
    /// Simulated.
    pub sim: f64,
}

/// KS statistics.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Ks {
    /// On TTFT.
    pub ttft: f64,
    /// On end-to-end latency.
    pub e2e: f64,
}

/// The report (`--json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Time to first token \[ms\].
    pub ttft_ms: Comparison,
    /// End-to-end latency \[ms\].
    pub e2e_ms: Comparison,
    /// Two-sample KS statistics.
    pub ks: Ks,
    /// Mean generation throughput.
    pub throughput_tps: Throughput,
    /// Device utilisation (the "moderate load" is 30-70 %).
    pub utilisation: Utilisation,
    /// Requests compared.
    pub requests: usize,
    /// The simulation again with the profile's speeds scaled to the machine's speed during the
    /// real run (absent where no real run was made).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_matched: Option<SpeedMatched>,
}

/// The comparison at matched speed: the profile's speeds times `speed_factor`, chosen so that
/// the simulated busy time equals the real one. It separates the model of queueing and batching
/// from the machine's drift since its calibration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpeedMatched {
    /// How fast the machine ran the real side relative to its profile (1 = as calibrated;
    /// 0.8 = 20 % slower).
    pub speed_factor: f64,
    /// Time to first token \[ms\] at the matched speed.
    pub ttft_ms: Comparison,
    /// End-to-end latency \[ms\] at the matched speed.
    pub e2e_ms: Comparison,
    /// KS statistics at the matched speed.
    pub ks: Ks,
}

impl SpeedMatched {
    fn new(speed_factor: f64, real: &Outcome, sim: &Outcome) -> Self {
        let (ttft_ms, e2e_ms, ks) = report_lists(real, sim);
        Self {
            speed_factor,
            ttft_ms,
            e2e_ms,
            ks,
        }
    }
}

/// TTFT and end-to-end comparisons and KS statistics of two outcomes of the same list.
fn report_lists(real: &Outcome, sim: &Outcome) -> (Comparison, Comparison, Ks) {
    let col = |v: &[Served], f: fn(&Served) -> f64| v.iter().map(f).collect::<Vec<_>>();
    let (rt, st) = (
        col(&real.served, |s| s.ttft_s),
        col(&sim.served, |s| s.ttft_s),
    );
    let (re, se) = (
        col(&real.served, |s| s.e2e_s),
        col(&sim.served, |s| s.e2e_s),
    );
    (
        compare(&rt, &st),
        compare(&re, &se),
        Ks {
            ttft: ks_statistic(&rt, &st),
            e2e: ks_statistic(&re, &se),
        },
    )
}

fn triple(xs_s: &[f64]) -> Quantiles {
    let mut v: Vec<f64> = xs_s.iter().map(|x| x * 1000.0).collect();
    v.sort_by(f64::total_cmp);
    let q = |p| quantile(&v, p).unwrap_or(0.0);
    Quantiles {
        p50: q(0.5),
        p90: q(0.9),
        p95: q(0.95),
        p99: q(0.99),
    }
}

fn err(real: f64, sim: f64) -> f64 {
    if real == 0.0 {
        0.0
    } else {
        100.0 * (sim - real) / real
    }
}

fn compare(real: &[f64], sim: &[f64]) -> Comparison {
    let (r, s) = (triple(real), triple(sim));
    Comparison {
        real: r,
        sim: s,
        error_pct: Quantiles {
            p50: err(r.p50, s.p50),
            p90: err(r.p90, s.p90),
            p95: err(r.p95, s.p95),
            p99: err(r.p99, s.p99),
        },
    }
}

/// First arrival to last completion \[s\].
fn span_s(req: &[Request], served: &[Served]) -> f64 {
    let first = req.iter().map(|r| r.at_s).fold(f64::INFINITY, f64::min);
    let last = req
        .iter()
        .zip(served)
        .map(|(r, s)| r.at_s + s.e2e_s)
        .fold(0.0, f64::max);
    (last - first).max(0.0)
}

fn per_span(x: f64, span: f64) -> f64 {
    if span > 0.0 { x / span } else { 0.0 }
}

/// Compares real and simulated latencies of the same list.
pub fn report(req: &[Request], real: &Outcome, sim: &Outcome) -> Report {
    let (ttft_ms, e2e_ms, ks) = report_lists(real, sim);
    let tokens: f64 = req.iter().map(|r| f64::from(r.output_tokens)).sum();
    let (span_r, span_s) = (span_s(req, &real.served), span_s(req, &sim.served));
    let (tr, ts) = (per_span(tokens, span_r), per_span(tokens, span_s));
    Report {
        ttft_ms,
        e2e_ms,
        ks,
        throughput_tps: Throughput {
            real: tr,
            sim: ts,
            error_pct: err(tr, ts),
        },
        utilisation: Utilisation {
            real: per_span(real.busy_s, span_r),
            sim: per_span(sim.busy_s, span_s),
        },
        requests: req.len(),
        speed_matched: None,
    }
}

/// The report as a text table.
pub fn to_table(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "{} requests, real llama.cpp vs simulated", r.requests);
    let _ = writeln!(
        o,
        "{:<16}{:>12}{:>12}{:>10}",
        "[ms]", "real", "sim", "error"
    );
    for (name, c) in [("TTFT", &r.ttft_ms), ("end-to-end", &r.e2e_ms)] {
        for (q, a, b, e) in [
            ("p50", c.real.p50, c.sim.p50, c.error_pct.p50),
            ("p90", c.real.p90, c.sim.p90, c.error_pct.p90),
            ("p95", c.real.p95, c.sim.p95, c.error_pct.p95),
            ("p99", c.real.p99, c.sim.p99, c.error_pct.p99),
        ] {
            let _ = writeln!(
                o,
                "{:<16}{a:>12.1}{b:>12.1}{:>9.1}%",
                format!("{name} {q}"),
                e
            );
        }
    }
    let t = &r.throughput_tps;
    let _ = writeln!(
        o,
        "{:<16}{:>12.1}{:>12.1}{:>9.1}%",
        "tokens/s", t.real, t.sim, t.error_pct
    );
    let _ = writeln!(
        o,
        "{:<16}{:>11.1}%{:>11.1}%",
        "utilisation",
        100.0 * r.utilisation.real,
        100.0 * r.utilisation.sim
    );
    let _ = writeln!(
        o,
        "KS statistic: TTFT {:.3}, end-to-end {:.3}",
        r.ks.ttft, r.ks.e2e
    );
    if let Some(m) = &r.speed_matched {
        let _ = writeln!(
            o,
            "at the machine's speed during the run ({:.2}x the profile's): TTFT p50 {:+.1}%, \
             p95 {:+.1}%; end-to-end p50 {:+.1}%, p95 {:+.1}%; KS {:.3}, {:.3}",
            m.speed_factor,
            m.ttft_ms.error_pct.p50,
            m.ttft_ms.error_pct.p95,
            m.e2e_ms.error_pct.p50,
            m.e2e_ms.error_pct.p95,
            m.ks.ttft,
            m.ks.e2e
        );
    }
    o
}

/// The per-request table and the CDF figure (real vs simulated).
pub fn outputs(req: &[Request], real: &[Served], sim: &[Served]) -> (crate::output::Table, Figure) {
    use crate::output::{Table, Values};
    let f = |g: &dyn Fn(usize) -> f64| Values::F64((0..req.len()).map(g).collect());
    let table = Table::new()
        .with("request_id", Values::U64((0..req.len() as u64).collect()))
        .with("arrival_s", f(&|i| req[i].at_s))
        .with(
            "prompt_tokens",
            Values::U64(req.iter().map(|r| u64::from(r.prompt_tokens)).collect()),
        )
        .with(
            "output_tokens",
            Values::U64(req.iter().map(|r| u64::from(r.output_tokens)).collect()),
        )
        .with("real_ttft_ms", f(&|i| real[i].ttft_s * 1000.0))
        .with("sim_ttft_ms", f(&|i| sim[i].ttft_s * 1000.0))
        .with("real_e2e_ms", f(&|i| real[i].e2e_s * 1000.0))
        .with("sim_e2e_ms", f(&|i| sim[i].e2e_s * 1000.0));
    let cdf = |xs: Vec<f64>| {
        let mut v = xs;
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        v.iter()
            .enumerate()
            .map(|(i, x)| (*x, (i + 1) as f64 / n))
            .collect::<Vec<_>>()
    };
    let panel = |title: &str, g: fn(&Served) -> f64| Panel {
        title: title.into(),
        x_label: "latency [s] (log scale)".into(),
        y_label: "fraction of requests".into(),
        kind: PanelKind::Lines { log_x: true },
        series: vec![
            Series::new("real (llama.cpp)", cdf(real.iter().map(g).collect())),
            Series::new("simulated", cdf(sim.iter().map(g).collect())),
        ],
    };
    let fig = Figure {
        name: "fidelity_cdf".into(),
        title: "Real vs simulated latency".into(),
        panels: vec![
            panel("Time to first token (CDF)", |s| s.ttft_s),
            panel("End-to-end latency (CDF)", |s| s.e2e_s),
        ],
    };
    (table, fig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_and_quantiles_by_hand() {
        assert_eq!(ks_statistic(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 0.0);
        assert_eq!(ks_statistic(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
        // F_a jumps to 1/2 at 1; F_b is 0 until 1.5: gap 1/2.
        assert_eq!(ks_statistic(&[1.0, 2.0], &[1.5, 2.0]), 0.5);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(quantile(&[5.0], 0.99), Some(5.0));
    }

    /// A "real" side that is the simulation on a device 0.8x as fast as the profile: the speed
    /// match finds 0.8 and, at that speed, reproduces every latency.
    #[test]
    fn speed_match_recovers_a_slower_machine() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/jetson-orin-nano.toml");
        let profile = crate::device::load_profile(&path).unwrap();
        let builtin = Arc::new(ModelCatalogue::builtin());
        let model = "qwen2.5-0.5b";
        let side = |p, parallel| Side::new(&path, p, model, parallel, &builtin);
        let requests: Vec<Request> = (0..60)
            .map(|i| Request {
                at_s: f64::from(i) * 0.7 + f64::from(i % 7) * 0.09,
                prompt_tokens: 40 + (i * 37) % 300,
                output_tokens: 20 + (i * 13) % 90,
            })
            .collect();
        let sim = simulate_with(&requests, &side(&profile, 2)).unwrap();
        let slow = scaled_profile(&profile, 0.8);
        let real = simulate_with(&requests, &side(&slow, 2)).unwrap();
        assert!(
            real.busy_s > sim.busy_s * 1.2,
            "{} vs {}",
            real.busy_s,
            sim.busy_s
        );
        let (f, matched) = speed_matched(&requests, &side(&profile, 2), real.busy_s, &sim).unwrap();
        assert!((f - 0.8).abs() < 1e-3, "speed factor {f}");
        let m = SpeedMatched::new(f, &real, &matched);
        for e in [m.ttft_ms.error_pct, m.e2e_ms.error_pct] {
            for x in [e.p50, e.p90, e.p95, e.p99] {
                assert!(x.abs() < 0.5, "{m:?}");
            }
        }
        // Without the match the same list looks 10-25 % optimistic.
        let raw = report(&requests, &real, &sim);
        assert!(raw.e2e_ms.error_pct.p50 < -10.0, "{raw:?}");
        // A list out of arrival order is an error, not a run with time going backwards.
        let mut swapped = requests.clone();
        swapped.swap(3, 4);
        let e = simulate_with(&swapped, &side(&profile, 2)).unwrap_err();
        assert!(e.to_string().contains("requests[4].at_s"), "{e}");
        // Twice as fast: every prefill and decode time halves, so an isolated request's
        // latencies do too.
        let one = [requests[0]];
        let a = simulate_with(&one, &side(&profile, 1)).unwrap();
        let fast = scaled_profile(&profile, 2.0);
        let b = simulate_with(&one, &side(&fast, 1)).unwrap();
        assert!((a.served[0].e2e_s - 2.0 * b.served[0].e2e_s).abs() < 1e-5);
        assert!((a.served[0].ttft_s - 2.0 * b.served[0].ttft_s).abs() < 1e-5);
    }
}
