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

/// A group's boards are named `NAME-1` .. `NAME-N` (a group of one, as the group), in the
/// summary's per-device rows and in `Scenario::devices`; the run's per-platform rows group
/// boards by (board, model) whatever their names.
#[test]
fn boards_are_named_by_group_and_number() {
    let mut text =
        fleet(10_001, 1.0, "random", 0.0, 5).replace("duration_s = 2000", "duration_s = 1");
    text += &inline_device("solo", 1, 0, &[10.0], 10.0, 1.0);
    let sc = scenario(&text);
    let names: Vec<String> = sc.devices().map(|(_, name)| name).collect();
    let want: Vec<String> = (1..=10_001)
        .map(|k| format!("d-{k}"))
        .chain(["solo".to_string()])
        .collect();
    assert_eq!(names, want);
    let s = edgesim::sim::run(&sc).unwrap();
    let got: Vec<&str> = s.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(got, want);
    let edge: Vec<(&str, u32)> = s
        .platforms
        .iter()
        .filter(|p| p.devices > 0 && p.name != "overall")
        .map(|p| (p.name.as_str(), p.devices))
        .collect();
    assert_eq!(edge.len(), 1, "{edge:?}");
    assert_eq!(edge[0], ("test board / qwen2.5-0.5b", 10_002));
    // A group's rows share its board and model (one allocation per group, not per board:
    // a fleet's end of run built and freed them 10,000 times); another group has its own.
    let (first, last, solo) = (&s.devices[0], &s.devices[10_000], &s.devices[10_001]);
    assert!(std::sync::Arc::ptr_eq(&first.board, &last.board));
    assert!(std::sync::Arc::ptr_eq(&first.model, &last.model));
    assert!(!std::sync::Arc::ptr_eq(&first.board, &solo.board));
    assert_eq!((&*solo.board, &*solo.model), ("test board", "qwen2.5-0.5b"));
}
