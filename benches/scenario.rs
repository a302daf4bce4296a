//! A full bursty scenario with all metrics on: the shipped bursty cluster scaled up (rates x20,
//! devices x10) for a simulated day, so one run is ~1 M requests. Criterion reports events per
//! second; requests per second are printed once before the measurement.

#![allow(missing_docs)]

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edgesim::scenario::{LoadOptions, Scenario};

fn scenario() -> Scenario {
    let sets = [
        "duration_s=86400",
        "workload.base_rate_rps=5.0",
        "workload.burst_rate_rps=40.0",
        "devices.0.count=30",
        "devices.1.count=20",
    ];
    let opts = LoadOptions {
        sets: sets.iter().map(|s| s.to_string()).collect(),
        seed: None,
    };
    Scenario::load(Path::new("scenarios/bursty.toml"), &opts).expect("shipped scenario")
}

fn bench(c: &mut Criterion) {
    // As the command line does: an iteration reuses the memory the one before it freed
    // (docs/performance.md, "Memory kept between runs").
    edgesim::keep_freed_memory();
    let sc = scenario();
    let probe = edgesim::sim::run(&sc).unwrap();
    let start = std::time::Instant::now();
    let again = edgesim::sim::run(&sc).unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(probe, again);
    eprintln!(
        "bursty x20: {} requests, {} events in {:.3} s: {:.2} M requests/s, {:.2} M events/s",
        probe.requests_total,
        probe.events,
        secs,
        probe.requests_total as f64 / secs / 1e6,
        probe.events as f64 / secs / 1e6
    );
    let mut g = c.benchmark_group("scenario");
    g.throughput(Throughput::Elements(probe.events));
    g.bench_function("bursty_x20_one_day", |b| {
        b.iter(|| edgesim::sim::run(&sc).unwrap().events)
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(10));
    targets = bench
}
criterion_main!(benches);
