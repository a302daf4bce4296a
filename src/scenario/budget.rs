//! Bounds on what one run may ask of the machine, checked before it starts so that a scenario
//! too large for memory or for a lifetime fails with an error naming the key, not with an
//! out-of-memory abort hours later (docs/scenario.md, "Limits").
//!
//! The memory estimate is Little's law on the cloud: requests the edge does not take wait at
//! the cloud for `W_cloud = rtt + ttft + mean output / speed`, so about `peak rate x W_cloud`
//! of them are in flight at once, each costing [`BYTES_PER_REQUEST`] of simulator state; each
//! edge slot holds one more. Long edge queues under overload are not included: their memory
//! grows with the queue capacity the scenario allows. The summary's totals per place of
//! service (each device, each cloud provider) and request class count too: many classes on a
//! large fleet hold millions of them; and so do the pools of boards of classes served by
//! some groups only ([`BYTES_PER_POOL_DEVICE`] per device of each pool).

use super::Scenario;
use crate::check::Checker;
use crate::error::Result;
use crate::outages::RandomFile;
use crate::workload::Arrivals;

/// The most requests one run may generate (expected value): at 3-4 million events per second
/// this is hours of computing; split longer studies into runs.
pub const MAX_REQUESTS: f64 = 1e10;

/// The most failure-and-repair cycles (expected value, over every device and provider with
/// `random_outages`) one run may simulate: each is two events, and 1e9 of them take minutes.
pub const MAX_OUTAGE_CYCLES: f64 = 1e9;

/// Simulator state per request in flight \[bytes\]: the request record, its events in the
/// queue and its share of the free list (an upper estimate; measured 120-180 bytes).
pub const BYTES_PER_REQUEST: f64 = 256.0;

/// Simulator state per edge device \[bytes\], not counting its slots.
pub const BYTES_PER_DEVICE: f64 = 1024.0;

/// Simulator state per device of a device pool of classes served by some groups only
/// \[bytes\]: its place in the pool's least-loaded index, or its weights, and the pool's tree
/// of devices down (an upper estimate; the pool's own size, not the fleet's).
pub const BYTES_PER_POOL_DEVICE: f64 = 32.0;

/// The memory limit when `EDGESIM_MEMORY_LIMIT_GB` is not set \[GB\].
pub const DEFAULT_MEMORY_LIMIT_GB: f64 = 8.0;

/// The environment variable that sets the memory a run may use \[GB\].
pub const MEMORY_LIMIT_VAR: &str = "EDGESIM_MEMORY_LIMIT_GB";

/// The memory a run may use \[GB\]: `EDGESIM_MEMORY_LIMIT_GB`, else
/// [`DEFAULT_MEMORY_LIMIT_GB`] (also when the variable's value is not allowed: the command
/// line refuses such a value first, through [`memory_limit_from_env`]).
pub fn memory_limit_gb() -> f64 {
    memory_limit_from_env()
        .ok()
        .flatten()
        .unwrap_or(DEFAULT_MEMORY_LIMIT_GB)
}

/// `EDGESIM_MEMORY_LIMIT_GB` checked: `None` when it is not set, its value when it is a
/// finite number of gigabytes above 0, else an error naming the variable, its value and what
/// is allowed.
pub fn memory_limit_from_env() -> crate::Result<Option<f64>> {
    crate::check::env_number(
        MEMORY_LIMIT_VAR,
        |v| v > 0.0,
        &format!(
            "must be a number of gigabytes above 0, e.g. 16 (unset: {DEFAULT_MEMORY_LIMIT_GB} GB)"
        ),
    )
}

/// The most trace rows one run may replay: each is a request in flight (a trace's requests are
/// all known at the start), so more than `limit / BYTES_PER_REQUEST` of them exceed the memory
/// limit whatever else the scenario holds. A trace reader keeps no more rows than this.
pub fn max_trace_rows() -> usize {
    let rows = (memory_limit_gb() * 1e9 / BYTES_PER_REQUEST).floor();
    if rows >= usize::MAX as f64 {
        usize::MAX
    } else {
        rows as usize
    }
}

/// What a run is expected to need.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Expected number of requests.
    pub requests: f64,
    /// Expected requests in flight at the busiest time.
    pub in_flight: f64,
    /// Simulator memory \[GB\].
    pub memory_gb: f64,
    /// Of which the totals per place of service and class \[GB\].
    pub class_totals_gb: f64,
    /// Device pools of classes served by some groups only.
    pub pools: usize,
    /// Of `memory_gb`, their state \[GB\].
    pub pools_gb: f64,
}

/// The summary's totals per place of service (each device, each cloud provider, at least one)
/// and request class, and its two latency histograms per class (with two classes or more)
/// \[GB\].
fn class_totals_gb(sc: &Scenario) -> f64 {
    let places = sc.device_count() as f64 + sc.cloud.providers().count().max(1) as f64;
    let classes = sc.classes().len() as f64;
    let histograms = if classes >= 2.0 { 2.0 * classes } else { 0.0 };
    (places * classes * std::mem::size_of::<crate::metrics::ClassAcc>() as f64
        + histograms * crate::metrics::HISTOGRAM_BYTES as f64)
        / 1e9
}

/// The key that sets the arrival rate, and its value, for errors. A bursty workload names the
/// larger of its two rates: it sets both the peak and most of the mean.
fn rate_key(a: &Arrivals) -> (&'static str, String) {
    match a {
        Arrivals::Poisson(p) => ("workload.rate_rps", p.rate_rps.to_string()),
        Arrivals::Bursty(b) if b.base_rate_rps > b.burst_rate_rps => {
            ("workload.base_rate_rps", b.base_rate_rps.to_string())
        }
        Arrivals::Bursty(b) => ("workload.burst_rate_rps", b.burst_rate_rps.to_string()),
        Arrivals::Periodic(p) => ("workload.rate_rps", p.rate_rps.to_string()),
        Arrivals::Closed(c) => ("workload.users", c.users.to_string()),
        Arrivals::Trace(t) => match t.max_requests {
            Some(m) => ("workload.max_requests", m.to_string()),
            None => ("workload.path", format!("\"{}\"", t.path.display())),
        },
    }
}

/// Expected requests and memory of `sc` (see the module's equations).
pub fn estimate(sc: &Scenario) -> Estimate {
    let duration = sc.duration_s.unwrap_or(0.0);
    let (requests, peak_rps) = match &sc.workload.arrivals {
        Arrivals::Poisson(p) => (p.rate_rps * duration, p.rate_rps),
        Arrivals::Bursty(b) => (
            b.mean_rate_rps() * duration,
            b.base_rate_rps.max(b.burst_rate_rps),
        ),
        Arrivals::Periodic(p) => (p.mean_arrivals(duration), p.peak_rate_rps()),
        Arrivals::Closed(c) => {
            let users = f64::from(c.users);
            (users * duration / c.think_time_s, 0.0)
        }
        Arrivals::Trace(t) => {
            let n = t
                .max_requests
                .map_or(t.rows.len() as f64, |m| (m as f64).min(t.rows.len() as f64));
            (n, 0.0)
        }
    };
    let slots: f64 = sc
        .fleet
        .iter()
        .map(|g| f64::from(g.count) * f64::from(g.slots))
        .sum();
    let in_flight = match &sc.workload.arrivals {
        // Every user holds at most one request.
        Arrivals::Closed(c) => f64::from(c.users),
        // A trace's requests are all known: at most all of them.
        Arrivals::Trace(_) => requests,
        _ if sc.cloud.enabled => {
            let mean_output = (0..sc.classes().len())
                .map(|c| sc.workload.demand.dists(c).1.mean())
                .fold(1.0f64, f64::max);
            let w_cloud_s =
                (sc.cloud.rtt_ms + sc.cloud.ttft_ms) / 1000.0 + mean_output / sc.cloud.tokens_per_s;
            (peak_rps * w_cloud_s).min(requests) + slots
        }
        _ => slots.min(requests.max(1.0)),
    };
    let class_totals_gb = class_totals_gb(sc);
    // Pool 0, every device, is the gateway's own state, counted per device.
    let (pools, pool_devices) = sc.device_pools().map_or((0, 0.0), |p| {
        let devices = p.groups[1..]
            .iter()
            .flatten()
            .map(|&g| f64::from(sc.fleet[g].count))
            .sum();
        (p.groups.len() - 1, devices)
    });
    let pools_gb = pool_devices * BYTES_PER_POOL_DEVICE / 1e9;
    let memory_gb = (in_flight * BYTES_PER_REQUEST
        + sc.device_count() as f64 * BYTES_PER_DEVICE
        + slots * 64.0)
        / 1e9
        + class_totals_gb
        + pools_gb;
    Estimate {
        requests,
        in_flight,
        memory_gb,
        class_totals_gb,
        pools,
        pools_gb,
    }
}

/// Expected failure-and-repair cycles of `sc`'s random outages over the arrivals' span, and
/// the source with the most (its key, e.g. `devices[0].random_outages`, and its settings).
/// Degraded periods of a cloud (`degraded.random`) count like its outages.
fn outage_cycles(sc: &Scenario) -> (f64, Option<(String, RandomFile)>) {
    let span_s = sc.horizon_s();
    let groups = sc.fleet.iter().enumerate().map(|(i, g)| {
        (
            format!("devices[{i}].random_outages"),
            f64::from(g.count),
            g.outages.random,
        )
    });
    let clouds = sc.cloud.providers().enumerate().flat_map(|(i, c)| {
        let key = crate::cloud::CloudSpec::provider_key(i);
        let degraded = c
            .degraded
            .as_ref()
            .map(|d| (format!("{key}.degraded.random"), 1.0, d.when.random));
        [(format!("{key}.random_outages"), 1.0, c.outages.random)]
            .into_iter()
            .chain(degraded)
    });
    let mut total = 0.0;
    let mut worst: Option<(f64, String, RandomFile)> = None;
    for (key, count, random) in groups.chain(clouds) {
        let Some(r) = random else { continue };
        let cycles = count * span_s / (r.mtbf_s + r.mttr_s);
        total += cycles;
        if worst.as_ref().is_none_or(|w| cycles > w.0) {
            worst = Some((cycles, key, r));
        }
    }
    (total, worst.map(|(_, k, r)| (k, r)))
}

/// " and up to T s of retries and timeouts after them" when the scenario has a wait
/// tail ([`Scenario::wait_tail_s`]), else nothing: for errors that count the horizon.
pub fn tail_words(sc: &Scenario) -> String {
    let tail_s = sc.wait_tail_s();
    if tail_s > 0.0 {
        format!(
            " and up to {} s of retries and timeouts after them",
            crate::check::num(tail_s)
        )
    } else {
        String::new()
    }
}

/// Refuses a scenario whose expected requests, outage cycles or memory exceed the limits.
pub fn check(cx: &Checker, sc: &Scenario) -> Result<Estimate> {
    let (cycles, worst) = outage_cycles(sc);
    if let Some((key, r)) = worst
        && (cycles.is_nan() || cycles > MAX_OUTAGE_CYCLES)
    {
        return Err(cx.bad(
            key,
            format!(
                "{{ mtbf_s = {}, mttr_s = {} }}",
                crate::check::num(r.mtbf_s),
                crate::check::num(r.mttr_s)
            ),
            format!(
                "random episodes would begin and end about {cycles:.3e} times over the run's {} s \
                 of arrivals{}, more than the {MAX_OUTAGE_CYCLES:e} one run may simulate; lengthen \
                 mtbf_s and mttr_s (their sum is the mean cycle), or shorten the run",
                crate::check::num(sc.arrival_span_s()),
                tail_words(sc)
            ),
        ));
    }
    let e = estimate(sc);
    let (key, value) = rate_key(&sc.workload.arrivals);
    if e.requests.is_nan() || e.requests > MAX_REQUESTS {
        return Err(cx.bad(
            key,
            value,
            format!(
                "with duration_s = {} this is {:.3e} requests, more than the {MAX_REQUESTS:e} one \
                 run may generate; lower the rate or the duration, or split the study into runs",
                sc.duration_s.unwrap_or(0.0),
                e.requests
            ),
        ));
    }
    let limit = memory_limit_gb();
    // Over the limit, the error names what takes the most: the classes (their totals, and
    // the pools of boards of their `devices` lists: at most one a class, each no larger than
    // a class's totals), or the requests in flight.
    let classes_gb = e.class_totals_gb + e.pools_gb;
    if e.memory_gb > limit && classes_gb >= e.memory_gb - classes_gb {
        // Fewer classes, lists or devices help, not a lower rate.
        let pools = if e.pools > 0 {
            format!(
                ", and their `devices` lists {} pools of boards, {:.1} GB more",
                e.pools, e.pools_gb
            )
        } else {
            String::new()
        };
        return Err(cx.bad(
            "workload.classes",
            format!("({} classes)", sc.classes().len()),
            format!(
                "the run would keep totals for each of its {} devices and {} cloud providers \
                 and each class, and latencies by class, about {:.1} GB of memory{pools} (of \
                 {:.1} GB in all), more than the {limit} GB allowed (set {MEMORY_LIMIT_VAR} to \
                 allow more); merge classes{}, or simulate fewer devices",
                sc.device_count(),
                sc.cloud.providers().count(),
                e.class_totals_gb,
                e.memory_gb,
                if e.pools > 0 {
                    " or give them the same groups"
                } else {
                    ""
                }
            ),
        ));
    }
    if e.memory_gb.is_nan() || e.memory_gb > limit {
        return Err(cx.bad(
            key,
            value,
            format!(
                "the run would hold about {} requests in flight and need about {} GB of \
                 memory, more than the {limit} GB allowed (set {MEMORY_LIMIT_VAR} to allow \
                 more); {}",
                if e.in_flight < 1e5 {
                    format!("{:.0}", e.in_flight)
                } else {
                    format!("{:.3e}", e.in_flight)
                },
                // A limit set below a gigabyte must not read "need about 0.0 GB".
                if e.memory_gb < 0.1 {
                    format!("{:.2e}", e.memory_gb)
                } else {
                    format!("{:.1}", e.memory_gb)
                },
                match sc.workload.arrivals {
                    // A trace's requests all count as in flight: only fewer rows help.
                    Arrivals::Trace(_) =>
                        "replay fewer of the trace's rows (workload.max_requests)",
                    Arrivals::Closed(_) => "simulate fewer users",
                    _ => "lower the rate, or shorten the cloud's latency",
                }
            ),
        ));
    }
    Ok(e)
}
