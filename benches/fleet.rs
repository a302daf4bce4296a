//! Fleet scale: the cost of a request as the number of devices grows, for every selection
//! policy. A Poisson workload at 50 % of the fleet's capacity (AGX Orin profile, 4 slots,
//! sliding window, moderate load), the same number of requests at every size.
//!
//! `cargo bench --no-default-features --bench fleet` prints one line per (policy, devices)
//! with requests per second, then criterion's own timing of each. `EDGESIM_FLEET_REQUESTS`
//! sets the requests per run (default 200,000); `EDGESIM_FLEET_SIZES` the sizes
//! (default 10,100,1000,10000).

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edgesim::policy::selection::SelectionKind;
use edgesim::scenario::{LoadOptions, Scenario};

/// One AGX Orin serving Qwen2.5-3B with 4 slots completes about this many requests per second
/// at the benchmark's lengths (measured by the first run at 10 devices; only the load level
/// depends on it).
const PER_DEVICE_RPS: f64 = 0.35;

fn requests() -> f64 {
    std::env::var("EDGESIM_FLEET_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000.0)
}

fn sizes() -> Vec<u32> {
    std::env::var("EDGESIM_FLEET_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1000, 10_000])
}

/// The fleet scenario: `devices` AGX Orins, Poisson arrivals at half their capacity for as
/// long as `requests()` arrivals take.
pub fn scenario(devices: u32, policy: SelectionKind) -> Scenario {
    let rate = PER_DEVICE_RPS * f64::from(devices) * 0.5;
    let text = format!(
        r#"
name = "fleet"
seed = 3
duration_s = {duration}
[workload]
kind = "poisson"
rate_rps = {rate}
prompt_tokens = {{ dist = "lognormal", median = 120, sigma = 0.5, max = 2048 }}
output_tokens = {{ dist = "lognormal", median = 200, sigma = 0.5, max = 1024 }}
[[devices]]
name = "agx"
count = {devices}
profile = "calibration/jetson-agx-orin.toml"
model = "qwen2.5-3b"
slots = 4
queue_capacity = 4
[selection]
kind = "{policy}"
[rate_limit]
kind = "sliding_window"
window_s = 60
limit = 30
"#,
        duration = requests() / rate,
        policy = policy.name(),
    );
    Scenario::from_str_at(
        &text,
        std::path::Path::new("fleet.toml"),
        &LoadOptions::default(),
    )
    .expect("the fleet scenario is valid")
}

fn bench(c: &mut Criterion) {
    // As the command line does: an iteration reuses the memory the one before it freed
    // (docs/performance.md, "Memory kept between runs").
    edgesim::keep_freed_memory();
    let mut g = c.benchmark_group("fleet");
    for devices in sizes() {
        for policy in SelectionKind::ALL {
            let sc = scenario(devices, policy);
            let start = std::time::Instant::now();
            let s = edgesim::sim::run(&sc).unwrap();
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "fleet {policy:>12} {devices:>6} devices: {} requests, {} events in {secs:.3} s: {:.3} M requests/s, {:.2} M events/s (edge {:.1} %)",
                s.requests_total,
                s.events,
                s.requests_total as f64 / secs / 1e6,
                s.events as f64 / secs / 1e6,
                100.0 * s.served_edge as f64 / s.requests_total.max(1) as f64,
                policy = policy.name(),
            );
            g.throughput(Throughput::Elements(s.requests_total));
            g.bench_function(format!("{}/{devices}", policy.name()), |b| {
                b.iter(|| edgesim::sim::run(&sc).unwrap().requests_total)
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_millis(200)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
