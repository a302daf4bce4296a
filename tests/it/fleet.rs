//! Fleet-scale selection: the O(log n) gateway gives the policies' documented behaviour at any
//! size, and stale load signals (`selection.load_report_interval_ms`) make least-loaded
//! selection herd.

use crate::common::*;

/// `devices` single-slot devices without a queue (1 s per request), Poisson arrivals at
/// `rate` requests/s, the cloud taking what the edge refuses.
fn fleet(devices: u32, rate: f64, selection: &str, interval_ms: f64, seed: u64) -> String {
    let mut s = format!(
        r#"
seed = {seed}
duration_s = 2000
[workload]
kind = "poisson"
rate_rps = {rate}
prompt_tokens = {{ dist = "fixed", value = 1 }}
output_tokens = {{ dist = "fixed", value = 11 }}
[selection]
kind = "{selection}"
load_report_interval_ms = {interval_ms}
"#
    );
    s += &inline_device("d", 1, 0, &[10.0], 10.0, 1.0)
        .replace("name = \"d\"", &format!("name = \"d\"\ncount = {devices}"));
    s
}

fn redirected(devices: u32, rate: f64, selection: &str, interval_ms: f64) -> f64 {
    let s = edgesim::sim::run(&scenario(&fleet(devices, rate, selection, interval_ms, 5))).unwrap();
    s.served_cloud as f64 / s.requests_total as f64
}

/// With exact loads, least-loaded selection over c single-slot servers without a queue is
/// Erlang's loss system: it redirects only when all c are busy. With the load reported every
/// 5 s, every request of a report period goes to the devices that looked idle at its start,
/// which fill at once: the gateway herds, and redirects far more at the same load.
#[test]
fn stale_load_signals_make_least_loaded_selection_herd() {
    let (c, a) = (20u32, 10.0); // offered load 10 Erlang on 20 servers
    let exact = redirected(c, a, "load_aware", 0.0);
    let b = erlang_b(c, a);
    assert!(
        (exact - b).abs() < 0.01,
        "exact {exact:.4} vs Erlang B {b:.4}"
    );
    let mut last = exact;
    for interval in [100.0, 1000.0, 5000.0] {
        let r = redirected(c, a, "load_aware", interval);
        assert!(
            r > last,
            "interval {interval} ms: {r:.4} not above {last:.4}"
        );
        last = r;
    }
    assert!(
        last > 10.0 * exact,
        "5 s reports: {last:.4} vs exact {exact:.4}"
    );
    // Two random choices degrade less on the same stale signal (Mitzenmacher).
    let p2 = redirected(c, a, "power_of_two", 5000.0);
    assert!(
        p2 < last,
        "power_of_two {p2:.4} vs load_aware {last:.4} at 5 s"
    );
    // Policies that read no load do not depend on the interval at all.
    assert_eq!(
        edgesim::sim::run(&scenario(&fleet(c, a, "random", 0.0, 5))).unwrap(),
        edgesim::sim::run(&scenario(&fleet(c, a, "random", 5000.0, 5))).unwrap()
    );
}

/// Erlang B blocking probability for `c` servers and offered load `a`.
fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

/// Least-loaded selection over thousands of devices is still Erlang's loss system, and
/// random and weighted selection still split work evenly and by capability.
#[test]
fn policies_keep_their_behaviour_at_fleet_scale() {
    let (c, a) = (2000u32, 1960.0); // 98 % offered load: a small blocking probability
    let s = edgesim::sim::run(&scenario(
        &fleet(c, a, "load_aware", 0.0, 9).replace("duration_s = 2000", "duration_s = 60"),
    ))
    .unwrap();
    let blocked = s.served_cloud as f64 / s.requests_total as f64;
    let b = erlang_b(c, a);
    assert!(
        (blocked - b).abs() < 0.01,
        "{blocked:.4} vs Erlang B {b:.4}"
    );
    let served: Vec<u64> = s.devices.iter().map(|d| d.served).collect();
    let mean = served.iter().sum::<u64>() as f64 / f64::from(c);
    let max = *served.iter().max().unwrap() as f64;
    assert!(max < 1.6 * mean, "even spread: max {max} vs mean {mean:.1}");
}
