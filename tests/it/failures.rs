//! Device failures: outage windows and random MTBF/MTTR episodes per device, what happens to
//! the requests a failing device held, and availability.

use edgesim::metrics::Route;

use crate::common::*;

/// A one-slot device decoding 10 tokens/s (prefill instant, no queue) with `extra` keys in
/// its `[[devices]]` table.
fn dev(name: &str, queue: u32, extra: &str) -> String {
    inline_device(name, 1, queue, &[10.0], 10.0, 2.0).replacen(
        "ctx_tokens = 32768\n",
        &format!("ctx_tokens = 32768\n{extra}\n"),
        1,
    )
}

/// Short requests (10 prompt, 3 output tokens) at 0, 6, 12, 17 and 22 s, around an outage of
/// a board in [5, 15) s and health checks at 0, 10, 20, ... s.
const AROUND_AN_OUTAGE: [(f64, u32, u32); 5] = [
    (0.0, 10, 3),
    (6.0, 10, 3),
    (12.0, 10, 3),
    (17.0, 10, 3),
    (22.0, 10, 3),
];

/// The error for a small scenario with `routing` keys in its `[routing]` table and one
/// device with `extra` keys, which must be refused.
fn refused_scenario(routing: &str, extra: &str) -> String {
    scenario_error(&format!(
        "seed = 1\nduration_s = 10\n[workload]\nkind = \"poisson\"\nrate_rps = 1\n\
         prompt_tokens = {{ dist = \"fixed\", value = 5 }}\n\
         output_tokens = {{ dist = \"fixed\", value = 5 }}\n[routing]\n{routing}\n{}",
        dev("a", 0, extra)
    ))
}

/// A request of 300 output tokens admitted at 0 s on a device that fails at 5 s: it is
/// dropped there and, by default, routed again (here: to the cloud, the only other place);
/// its latency counts from its arrival. A control request at 7 s, while the device is down,
/// goes straight to the cloud. With `on_device_failure = "reject"` it is lost.
#[test]
fn a_failing_device_hands_its_requests_to_the_cloud_or_loses_them() {
    let body = |policy: &str| {
        format!(
            "seed = 1\n[routing]\non_device_failure = \"{policy}\"\n{}[cloud]\n",
            dev("a", 0, "outages = [{ start_s = 5, duration_s = 10 }]")
        )
    };
    let rows = [(0.0, 10, 300), (7.0, 10, 300), (25.0, 10, 300)];
    let (s, recs) = run_trace_summary("fail-reroute", &rows, &body("reroute"));
    assert_eq!(recs[0].route, Route::Cloud);
    assert_eq!(recs[0].interruptions, 1);
    assert_eq!(recs[1].route, Route::Cloud, "the device is down at 7 s");
    assert_eq!(recs[1].interruptions, 0);
    let cloud_e2e = recs[1].e2e.as_secs_f64();
    let got = recs[0].e2e.as_secs_f64();
    assert!(
        (got - (5.0 + cloud_e2e)).abs() < 1e-5,
        "{got} vs 5 + {cloud_e2e}"
    );
    // Up again at 15 s: the third request is served at the edge in 29.9 s.
    assert_eq!(recs[2].route, Route::Edge(edgesim::device::DeviceId(0)));
    assert!((recs[2].e2e.as_secs_f64() - 29.9).abs() < 1e-5);
    let f = s.device_faults.clone().unwrap();
    assert_eq!(
        (f.failures, f.interrupted, f.interrupted_then_cloud),
        (1, 1, 1)
    );
    assert!((f.downtime_s - 10.0).abs() < 1e-9, "{f:?}");
    assert!((f.availability - (1.0 - 10.0 / s.end_s)).abs() < 1e-12);
    // The 5 s of work lost with the dropped request: 5 s at 10 W busy. The board's busy
    // energy is that plus what the third request was charged.
    assert!((f.wasted_energy_j - 50.0).abs() < 1e-6, "{f:?}");
    let d = &s.devices[0];
    assert!(
        (d.energy_j - d.idle_energy_j - (f.wasted_energy_j + recs[2].energy_j)).abs() < 1e-6,
        "{d:?} {f:?}"
    );
    assert_eq!(s.devices[0].down_s, Some(10.0));
    // The device drew no power while down: idle at 2 W outside service and the window.
    let d = &s.devices[0];
    let idle_s = s.end_s - d.busy_s - 10.0;
    assert!((d.idle_energy_j - 2.0 * idle_s).abs() < 1e-6, "{d:?}");

    let (s, recs) = run_trace_summary("fail-reject", &rows, &body("reject"));
    assert_eq!(recs[0].route, Route::Rejected);
    assert_eq!(recs[1].route, Route::Cloud);
    assert_eq!(s.device_faults.unwrap().interrupted_then_rejected, 1);

    // Routed again with a second device up: the request restarts there.
    let text = format!(
        "seed = 1\n[selection]\nkind = \"round_robin\"\n{}{}",
        dev("a", 0, "outages = [{ start_s = 5, duration_s = 10 }]"),
        dev("b", 0, "")
    );
    let (_, recs) = run_trace_summary("fail-other", &rows[..1], &text);
    // Round robin tried a first: the request moves to b at 5 s and takes 29.9 s there.
    assert_eq!(recs[0].route, Route::Edge(edgesim::device::DeviceId(1)));
    assert!((recs[0].e2e.as_secs_f64() - (5.0 + 29.9)).abs() < 1e-5);
}

/// No policy picks a device while it is down, whatever the policy; every request ends once.
#[test]
fn no_request_is_admitted_to_a_device_while_it_is_down() {
    for kind in edgesim::policy::selection::SelectionKind::ALL {
        let policy = kind.name();
        let text = format!(
            "seed = 5\nduration_s = 2000\n[selection]\nkind = \"{policy}\"\n\
             [workload]\nkind = \"poisson\"\nrate_rps = 0.3\n\
             prompt_tokens = {{ dist = \"fixed\", value = 10 }}\n\
             output_tokens = {{ dist = \"fixed\", value = 21 }}\n{}{}[cloud]\n",
            dev(
                "a",
                2,
                "count = 3\nrandom_outages = { mtbf_s = 200, mttr_s = 50 }"
            ),
            dev("b", 2, "outages = [{ start_s = 500, duration_s = 300 }]"),
        );
        let (s, recs) = run_collect(&scenario(&text));
        assert_eq!(recs.len() as u64, s.requests_total, "{policy}");
        assert_eq!(
            s.requests_total,
            s.served_edge + s.served_cloud + s.rejected,
            "{policy}"
        );
        // Device b (index 3) is down in [500, 800): nothing it served overlaps that window.
        for r in &recs {
            if r.route == Route::Edge(edgesim::device::DeviceId(3)) {
                let (a, e) = (r.arrival.as_secs_f64(), (r.arrival + r.e2e).as_secs_f64());
                assert!(e <= 500.0 + 1e-6 || a >= 800.0, "{policy}: {r:?}");
            }
        }
        let f = s.device_faults.clone().unwrap();
        assert!(f.failures >= 4, "{policy}: {f:?}");
        assert_eq!(
            f.failures,
            s.devices.iter().map(|d| d.failures.unwrap()).sum::<u64>()
        );
        assert!(
            f.interrupted_then_edge + f.interrupted_then_cloud + f.interrupted_then_rejected
                <= f.interrupted
        );
    }
}

/// Availability of devices with exponential MTBF/MTTR converges to MTBF / (MTBF + MTTR):
/// 10 devices, MTBF 900 s, MTTR 100 s, over 10^6 s (about 10,000 failures).
#[test]
fn device_availability_converges_to_mtbf_over_mtbf_plus_mttr() {
    let text = format!(
        "seed = 3\nduration_s = 1000000\n[workload]\nkind = \"poisson\"\nrate_rps = 0.02\n\
         prompt_tokens = {{ dist = \"fixed\", value = 10 }}\n\
         output_tokens = {{ dist = \"fixed\", value = 11 }}\n{}",
        dev(
            "a",
            0,
            "count = 10\nrandom_outages = { mtbf_s = 900, mttr_s = 100 }"
        )
    );
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    let f = s.device_faults.clone().unwrap();
    assert!((f.availability - 0.9).abs() < 0.006, "{f:?}");
    assert!(f.failures > 9_000, "{f:?}");
    // Each device on its own, within a wider band.
    for d in &s.devices {
        let a = 1.0 - d.down_s.unwrap() / s.end_s;
        assert!((a - 0.9).abs() < 0.02, "{}: {a}", d.name);
    }
    // Every failure found its device in any state; the devices up took the traffic.
    assert_eq!(s.requests_total, s.served_edge + s.rejected);
    assert!(
        s.served_edge as f64 > 0.95 * s.requests_total as f64,
        "{s:?}"
    );
}

/// A failure finds its device as an arrival would (failures come at exponential up-times,
/// independent of the device's state: PASTA), so the requests it interrupts are, on average,
/// the device's mean occupancy. With random selection among the devices that are up, no queue
/// and no cloud, a device of 4 slots is an M/G/4/4 loss system whose mean occupancy is
/// a·(1 − B(4, a)) whatever the service-time distribution (Erlang's insensitivity). Its load
/// a is the 4 requests/s × 5 s shared by the devices up: 20 / (1 + U) erlangs with U of the 9
/// others up, U ~ Binomial(9, 1,000 / 1,050) (each up for 1,000 s and down for 50 s on
/// average, both long against 5 s of service, so the load is taken as constant between
/// their changes and the empty start after each repair hardly counts): 1.875 interrupted
/// requests per failure, against 1.810 for a fleet that never fails. Each interrupted request
/// is lost (`on_device_failure = "reject"`).
#[test]
fn a_failure_interrupts_the_mean_occupancy_of_its_device() {
    let text = format!(
        "seed = 5\nduration_s = 840000\n[workload]\nkind = \"poisson\"\nrate_rps = 4.0\n\
         prompt_tokens = {{ dist = \"fixed\", value = 10 }}\n\
         output_tokens = {{ dist = \"fixed\", value = 51 }}\n\
         [selection]\nkind = \"random\"\n[routing]\non_device_failure = \"reject\"\n\
         [cloud]\nenabled = false\n{}",
        inline_device("a", 4, 0, &[10.0, 20.0, 30.0, 40.0], 10.0, 2.0).replacen(
            "ctx_tokens = 32768\n",
            "ctx_tokens = 32768\ncount = 10\nrandom_outages = { mtbf_s = 1000, mttr_s = 50 }\n",
            1,
        )
    );
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    let f = s.device_faults.clone().unwrap();
    let occupancy = |a: f64| a * (1.0 - crate::queueing::erlang_b(4, a));
    let up: f64 = 1000.0 / 1050.0;
    let mut want = 0.0;
    let mut ways = 1.0; // C(9, u)
    for u in 0..=9 {
        let w = ways * up.powi(u) * (1.0 - up).powi(9 - u);
        want += w * occupancy(20.0 / f64::from(1 + u));
        ways = ways * f64::from(9 - u) / f64::from(u + 1);
    }
    assert!((want - 1.8746).abs() < 1e-3, "{want}");
    let per_failure = f.interrupted as f64 / f.failures as f64;
    // About 8,000 failures; the occupancy at a failure has a variance near its mean, so the
    // mean's standard error is about 0.015: the band is some 3 of them, and 1.810 (the load
    // of a fleet that never fails) is outside it.
    assert!(f.failures > 7_500, "{f:?}");
    assert!(
        (per_failure - want).abs() < 0.05,
        "{per_failure} against {want}: {f:?}"
    );
    assert_eq!(f.interrupted, f.interrupted_then_rejected, "{f:?}");
    assert_eq!(s.served_cloud, 0);
}

/// Failures that come after the last request change nothing: the run ends at the same time,
/// with the same results, as without them.
#[test]
fn failures_after_the_last_request_do_not_extend_the_run() {
    let rows = [(1.0, 10, 50), (3.0, 10, 50)];
    let (a, _) = run_trace_summary(
        "late-none",
        &rows,
        &format!("seed = 1\n{}", dev("a", 0, "")),
    );
    let (b, _) = run_trace_summary(
        "late-fail",
        &rows,
        &format!(
            "seed = 1\n{}",
            dev("a", 0, "outages = [{ start_s = 1000, duration_s = 10 }]")
        ),
    );
    assert_eq!(a.end_s, b.end_s);
    assert_eq!(a.events, b.events);
    assert_eq!(a.devices[0].energy_j, b.devices[0].energy_j);
    let f = b.device_faults.unwrap();
    assert_eq!((f.failures, f.downtime_s), (0, 0.0));
}

/// The completion a failed device had scheduled is stale and does not extend the run either:
/// one 300-token request (30 s on the device) dropped at 5 s and served by the cloud ends the
/// run at its cloud completion, not at 30 s (it did before this was fixed).
#[test]
fn a_failed_devices_stale_completion_does_not_extend_the_run() {
    let (s, recs) = run_trace_summary(
        "stale-end",
        &[(0.0, 10, 300)],
        &format!(
            "seed = 1\n{}[cloud]\n",
            dev("a", 0, "outages = [{ start_s = 5, duration_s = 10 }]")
        ),
    );
    assert_eq!(recs[0].route, Route::Cloud);
    let done = (recs[0].arrival + recs[0].e2e).as_secs_f64();
    assert!(done < 29.0, "{done}");
    assert!((s.end_s - done).abs() < 1e-6, "end_s {} vs {done}", s.end_s);
    // Down from 5 s to the end: availability over the run, not over 30 s.
    let f = s.device_faults.unwrap();
    assert!((f.downtime_s - (done - 5.0)).abs() < 1e-6, "{f:?}");
}

/// Outage keys are checked like the cloud's, naming the device entry.
#[test]
fn bad_device_outages_name_the_key() {
    for (extra, key) in [
        (
            "random_outages = { mtbf_s = -1, mttr_s = 5 }",
            "devices[0].random_outages.mtbf_s",
        ),
        (
            "outages = [{ start_s = 1, duration_s = -2 }]",
            "devices[0].outages[0].duration_s",
        ),
        (
            "random_outages = { mtbf_s = 10, mttr_s = 5, sigma = 9 }",
            "devices[0].random_outages.sigma",
        ),
    ] {
        let err = refused_scenario("", extra);
        assert!(err.contains(key), "{err}");
    }
}

/// Periodic health checks (every 10 s: at 0, 10, 20, ... s): one device, down in [5, 15) s.
/// A request at 6 s is sent to the dead board (not yet seen down), refused, and goes to the
/// cloud; one at 12 s goes straight to the cloud (seen down at 10 s); one at 17 s too, though
/// the board is up again (seen up at 20 s); one at 22 s is served at the edge. With ideal
/// checks (interval 0) the 17 s request is served at the edge and no attempt hits the dead
/// board.
#[test]
fn health_checks_see_failures_and_repairs_late() {
    let body = |interval_ms: u32| {
        format!(
            "seed = 1\n[routing]\nhealth_check_interval_ms = {interval_ms}\n{}[cloud]\n",
            dev("a", 0, "outages = [{ start_s = 5, duration_s = 10 }]")
        )
    };
    // (Trace times count from the first row: a control request at 0 s.)
    let rows = AROUND_AN_OUTAGE;
    let edge = Route::Edge(edgesim::device::DeviceId(0));
    let by_arrival = |mut recs: Vec<edgesim::metrics::RequestRecord>| {
        recs.sort_by_key(|r| r.arrival);
        recs.iter().map(|r| r.route).collect::<Vec<Route>>()
    };
    let (s, recs) = run_trace_summary("health-check", &rows, &body(10_000));
    let routes = by_arrival(recs);
    assert_eq!(
        routes,
        [edge, Route::Cloud, Route::Cloud, Route::Cloud, edge]
    );
    assert_eq!(s.device_faults.clone().unwrap().attempts_on_down, Some(1));
    assert_eq!(s.devices[0].served, 2);

    let (s, recs) = run_trace_summary("health-ideal", &rows, &body(0));
    let routes = by_arrival(recs);
    assert_eq!(routes, [edge, Route::Cloud, Route::Cloud, edge, edge]);
    assert_eq!(s.device_faults.unwrap().attempts_on_down, None);

    let err = refused_scenario("health_check_interval_ms = -1", "");
    assert!(err.contains("routing.health_check_interval_ms"), "{err}");
}

/// `routing.connect_timeout_ms`: an attempt on a failed board the gateway still holds as up
/// costs the timeout, then the routing pass goes on from there without that board.
/// Hand-worked, one board down in [5, 15) s and seen down at the check of 10 s: the request
/// of 6 s tries it, gives up at 8 s and, its one attempt spent, goes to the cloud at 8 s, 2 s
/// later than with the connection refused at once; the request of 12 s goes straight to the
/// cloud (the board is known down), and the others are served as before.
#[test]
fn a_connect_timeout_delays_the_request_and_skips_the_dead_board() {
    let rows = AROUND_AN_OUTAGE;
    let body = |timeout_ms: u32| {
        format!(
            "seed = 1\n[routing]\nhealth_check_interval_ms = 10000\nconnect_timeout_ms = {timeout_ms}\n{}[cloud]\n",
            dev("a", 0, "outages = [{ start_s = 5, duration_s = 10 }]")
        )
    };
    let sorted = |mut recs: Vec<edgesim::metrics::RequestRecord>| {
        recs.sort_by_key(|r| r.arrival);
        recs
    };
    let (s0, refused) = run_trace_summary("timeout-0", &rows, &body(0));
    let (s2, timed) = run_trace_summary("timeout-2000", &rows, &body(2000));
    let (refused, timed) = (sorted(refused), sorted(timed));
    for (i, (a, b)) in refused.iter().zip(&timed).enumerate() {
        assert_eq!(a.route, b.route, "request {i}");
        let late = if i == 1 { 2.0 } else { 0.0 };
        for (x, y) in [(a.ttft, b.ttft), (a.e2e, b.e2e)] {
            assert!(
                (y.as_secs_f64() - x.as_secs_f64() - late).abs() < 1e-9,
                "request {i}: {a:?} vs {b:?}"
            );
        }
    }
    assert_eq!(timed[1].route, Route::Cloud);
    for s in [&s0, &s2] {
        assert_eq!(s.device_faults.clone().unwrap().attempts_on_down, Some(1));
    }

    // Two boards, b and a; a holds at most 100 tokens of context and fails at 5 s, unseen
    // until 10 s. A long request (310 tokens) at 1 s can only go to b and holds one of its two
    // slots, so at 6 s the dead a looks less loaded and is tried first. Its connection times
    // out at 8 s, and the pass goes on without a: the second attempt is b, which admits it at
    // 8 s. Had a been offered again (it still looks least loaded), the request would have
    // spent both attempts on it and gone to the cloud.
    let rows = [(0.0, 10, 3), (1.0, 10, 300), (6.0, 10, 3)];
    let body = format!(
        "seed = 1\n[selection]\nkind = \"load_aware\"\n[routing]\nmax_attempts = 2\n\
         health_check_interval_ms = 10000\nconnect_timeout_ms = 2000\n{}{}[cloud]\n",
        inline_device("b", 2, 0, &[10.0], 10.0, 2.0),
        dev("a", 0, "outages = [{ start_s = 5, duration_s = 10 }]")
            .replace("ctx_tokens = 32768", "ctx_tokens = 100")
    );
    let (s, recs) = run_trace_summary("timeout-skip", &rows, &body);
    let recs = sorted(recs);
    let b = Route::Edge(edgesim::device::DeviceId(0));
    assert_eq!(
        (recs[1].route, recs[1].interruptions),
        (b, 0),
        "{:?}",
        recs[1]
    );
    assert_eq!((recs[2].route, recs[2].attempts), (b, 2), "{:?}", recs[2]);
    // Admitted at 8 s beside the long request: prefill is instant, so its first token comes
    // at admission.
    assert!(
        (recs[2].ttft.as_secs_f64() - 2.0).abs() < 1e-9,
        "{:?}",
        recs[2]
    );
    assert_eq!(s.device_faults.unwrap().attempts_on_down, Some(1));

    let err = refused_scenario("connect_timeout_ms = -1", "");
    assert!(err.contains("routing.connect_timeout_ms"), "{err}");
    // A wait of 1e15 ms stretched the drain so far that the failing boards' episodes in it
    // ran for hours.
    let err = refused_scenario("connect_timeout_ms = 1e15", "");
    assert!(
        err.contains("`routing.connect_timeout_ms` = 1e15: must be at most 3600000 ms"),
        "{err}"
    );
}

/// A failing board's dropped requests leave its rate limit before it is ranked again. Two
/// boards of two slots each under a per-device concurrency limit of 2; three long requests
/// at 1, 1.5 and 2 s spread over them (ties broken at random); board a fails at 5 s and is
/// seen down only at the check of 10 s, so until then it stays on offer, holding nothing: to
/// load-aware selection it is the least loaded, and the request of 6 s tries it. The board
/// was ranked with its limit still counting the dropped requests (load 1 when it held two),
/// so the request went to b instead whenever a had held two (and a debug build's check of the
/// index failed), found by the random fault test.
#[test]
fn a_failed_board_is_ranked_after_its_dropped_requests_leave_its_limit() {
    let rows = [
        (0.0, 10, 3),
        (1.0, 10, 300),
        (1.5, 10, 300),
        (2.0, 10, 300),
        (6.0, 10, 3),
    ];
    for seed in 1..=16 {
        let body = format!(
            "seed = {seed}\n[selection]\nkind = \"load_aware\"\n\
             [rate_limit]\nkind = \"concurrency\"\nlimit = 2\n\
             [routing]\non_device_failure = \"reject\"\nhealth_check_interval_ms = 10000\n{}{}[cloud]\n",
            inline_device("a", 2, 0, &[10.0], 10.0, 2.0).replacen(
                "ctx_tokens = 32768\n",
                "ctx_tokens = 32768\noutages = [{ start_s = 5, duration_s = 10 }]\n",
                1
            ),
            inline_device("b", 2, 0, &[10.0], 10.0, 2.0),
        );
        let (s, mut recs) = run_trace_summary(&format!("ranked-{seed}"), &rows, &body);
        recs.sort_by_key(|r| r.arrival);
        let f = s.device_faults.unwrap();
        assert_eq!(f.attempts_on_down, Some(1), "seed {seed}: {f:?}");
        assert_eq!(recs[4].route, Route::Cloud, "seed {seed}: {:?}", recs[4]);
    }
}

/// Health-check thresholds (`routing.unhealthy_threshold`, `healthy_threshold`): the gateway
/// changes its view of a board only after that many consecutive checks found the board in the
/// other state. Hand-worked, checks every 10 s:
/// - down in [5, 15) s with an unhealthy threshold of 2: the check of 10 s finds it down
///   (one), the check of 20 s finds it up again: never taken as down. The requests of 6 and
///   12 s both try the dead board; the one of 17 s is served by it (with one check needed it
///   was held down until 20 s and went to the cloud).
/// - down in [5, 35) s with both thresholds 2: taken as down at the check of 20 s (10 and 20
///   found it down), up again at 50 s (40 and 50 found it up): the requests of 6 and 12 s try
///   it, 25 s and 42 s go to the cloud without trying it, 52 s is served by it.
#[test]
fn health_check_thresholds_need_consecutive_checks() {
    let edge = Route::Edge(edgesim::device::DeviceId(0));
    let run = |tag: &str, outage_s: u32, thresholds: &str, rows: &[(f64, u32, u32)]| {
        let body = format!(
            "seed = 1\n[routing]\nhealth_check_interval_ms = 10000\n{thresholds}\n{}[cloud]\n",
            dev(
                "a",
                0,
                &format!("outages = [{{ start_s = 5, duration_s = {outage_s} }}]")
            )
        );
        let (s, mut recs) = run_trace_summary(tag, rows, &body);
        recs.sort_by_key(|r| r.arrival);
        let routes: Vec<Route> = recs.iter().map(|r| r.route).collect();
        (routes, s.device_faults.unwrap().attempts_on_down)
    };
    let rows = AROUND_AN_OUTAGE;
    let cloud = Route::Cloud;
    assert_eq!(
        run("thr-1", 10, "", &rows),
        (vec![edge, cloud, cloud, cloud, edge], Some(1))
    );
    assert_eq!(
        run("thr-2", 10, "unhealthy_threshold = 2", &rows),
        (vec![edge, cloud, cloud, edge, edge], Some(2))
    );
    let rows = [
        (0.0, 10, 3),
        (6.0, 10, 3),
        (12.0, 10, 3),
        (25.0, 10, 3),
        (42.0, 10, 3),
        (52.0, 10, 3),
    ];
    assert_eq!(
        run(
            "thr-22",
            30,
            "unhealthy_threshold = 2\nhealthy_threshold = 2",
            &rows
        ),
        (vec![edge, cloud, cloud, cloud, cloud, edge], Some(2))
    );
    assert_eq!(
        run("thr-21", 30, "unhealthy_threshold = 2", &rows),
        (vec![edge, cloud, cloud, cloud, edge, edge], Some(2))
    );

    for (set, needle) in [
        ("unhealthy_threshold = 0", "must lie in [1, 100]"),
        ("healthy_threshold = 101", "must lie in [1, 100]"),
        (
            "healthy_threshold = 2\nhealth_check_interval_ms = 0",
            "set routing.health_check_interval_ms > 0",
        ),
    ] {
        let err = refused_scenario(set, "");
        assert!(
            err.contains("routing.") && err.contains(needle),
            "{set}: {err}"
        );
    }
}

/// Passive health checking, hand-worked: board a serves a request at 0 s, is down in [5, 45) s,
/// and its health checks (every 60 s) never see it down, so without `max_fails` the requests of 6, 8, 12, 17 and 20 s
/// all try it (5 failed attempts) before the cloud; the request of 50 s finds it back. With
/// `max_fails = 2` and a 10 s time out, the attempts of 6 and 8 s take it out until 18 s, so
/// those of 12 and 17 s go to the cloud without trying it; the request of 20 s tries it again
/// (the count starts over). With `max_fails = 1` the attempt of 6 s takes it out until 16 s,
/// and that of 17 s until 27 s. With a 2 s connect timeout the gateway learns of a failure
/// when the attempt times out: the attempt of 6 s takes it out at 8 s, before the request
/// arriving then is routed.
#[test]
fn passive_health_checking_leaves_a_failing_board_out_after_max_fails() {
    let rows = [
        (0.0, 10, 3),
        (6.0, 10, 3),
        (8.0, 10, 3),
        (12.0, 10, 3),
        (17.0, 10, 3),
        (20.0, 10, 3),
        (50.0, 10, 3),
    ];
    let run = |tag: &str, routing: &str| {
        let body = format!(
            "seed = 1
[routing]
health_check_interval_ms = 60000
{routing}
{}[cloud]
",
            dev("a", 0, "outages = [{ start_s = 5, duration_s = 40 }]")
        );
        let (s, mut recs) = run_trace_summary(tag, &rows, &body);
        recs.sort_by_key(|r| r.arrival);
        let table = edgesim::report::to_table(&s);
        let f = s.device_faults.unwrap();
        // The run report says what the gateway's view cost.
        let line = format!(
            "{:<22}{:>12}",
            "dead-board attempts",
            f.attempts_on_down.unwrap()
        );
        let left_out = f.ejections.map_or("seen down)".into(), |e| {
            format!("seen down; {e} times a board was left out after max_fails)")
        });
        assert!(
            table.contains(&line) && table.contains(&left_out),
            "{table}"
        );
        let attempts: Vec<u32> = recs.iter().map(|r| r.attempts).collect();
        let edge = Route::Edge(edgesim::device::DeviceId(0));
        assert_eq!((recs[0].route, recs[6].route), (edge, edge), "{tag}");
        assert!(recs[1..6].iter().all(|r| r.route == Route::Cloud), "{tag}");
        // The request of 0 s shows the trace's first row (offsets count from it).
        (
            attempts[1..].to_vec(),
            f.attempts_on_down,
            f.ejections,
            recs[1..].to_vec(),
        )
    };
    let mut recs = Vec::new();
    for (tag, routing, attempts, on_down, ejections) in [
        ("passive-off", "", vec![1; 6], 5, None),
        (
            "passive-2",
            "max_fails = 2",
            vec![1, 1, 0, 0, 1, 1],
            3,
            Some(1),
        ),
        (
            "passive-1",
            "max_fails = 1\nfail_timeout_ms = 10000",
            vec![1, 0, 0, 1, 0, 1],
            2,
            Some(2),
        ),
        (
            "passive-1-timeout",
            "max_fails = 1\nconnect_timeout_ms = 2000",
            vec![1, 0, 0, 0, 1, 1],
            2,
            Some(2),
        ),
    ] {
        let got = run(tag, routing);
        assert_eq!(
            (got.0, got.1, got.2),
            (attempts, Some(on_down), ejections),
            "{tag}"
        );
        recs = got.3;
    }
    // With the connect timeout (the last case):
    // The cloud's first token comes 150 + 600 ms after the call; the timed-out requests call
    // 2 s late.
    let ttft: Vec<f64> = recs.iter().map(|r| r.ttft.as_secs_f64()).collect();
    for (i, late) in [(0, 2.0), (1, 0.0), (4, 2.0)] {
        assert!((ttft[i] - ttft[2] - late).abs() < 1e-9, "{i}: {ttft:?}");
    }

    for (set, needle) in [
        ("max_fails = 101", "must lie in [0, 100]"),
        (
            "max_fails = 1\nhealth_check_interval_ms = 0",
            "set routing.health_check_interval_ms > 0",
        ),
        (
            "max_fails = 1\nhealth_check_interval_ms = 1000\nfail_timeout_ms = 0",
            "routing.fail_timeout_ms",
        ),
        (
            "max_fails = 1\nhealth_check_interval_ms = 1000\nfail_timeout_ms = 4e6",
            "an hour",
        ),
    ] {
        let err = refused_scenario(set, "");
        assert!(
            err.contains("routing.") && err.contains(needle),
            "{set}: {err}"
        );
    }
}

/// Late detection with load-aware selection: a dead board holds nothing, so it looks the least
/// loaded, and until a health check sees it down every request tries it first. Two boards kept
/// busy (21 s requests at 0.2 requests/s), one down in [100, 400) s, checks every 200 s (seen
/// down at 200 s): every request arriving in [100, 200) s, and every request the board dropped
/// at 100 s, hits the dead board, and none after; with checks every 1 s at most those of
/// [100, 101) s and the dropped ones do.
#[test]
fn a_dead_board_looks_least_loaded_until_a_check_sees_it() {
    let text = |interval_ms: u32| {
        format!(
            "seed = 2\nduration_s = 600\n[selection]\nkind = \"load_aware\"\n\
             [routing]\nmax_attempts = 2\nhealth_check_interval_ms = {interval_ms}\n\
             [workload]\nkind = \"poisson\"\nrate_rps = 0.2\n\
             prompt_tokens = {{ dist = \"fixed\", value = 10 }}\n\
             output_tokens = {{ dist = \"fixed\", value = 210 }}\n{}{}[cloud]\n",
            dev("a", 4, "outages = [{ start_s = 100, duration_s = 300 }]"),
            dev("b", 4, ""),
        )
    };
    let (s, recs) = run_collect(&scenario(&text(200_000)));
    let in_window = recs
        .iter()
        .filter(|r| (100.0..200.0).contains(&r.arrival.as_secs_f64()))
        .count() as u64;
    // Requests routed again after being dropped at 100 s also try the dead board.
    let dropped = s.device_faults.clone().unwrap().interrupted;
    let hits = s.device_faults.unwrap().attempts_on_down.unwrap();
    assert!(in_window >= 10, "{in_window}");
    assert_eq!(
        hits,
        in_window + dropped,
        "{hits} vs {in_window} + {dropped}"
    );
    let (s, recs) = run_collect(&scenario(&text(1_000)));
    let early = recs
        .iter()
        .filter(|r| (100.0..101.0).contains(&r.arrival.as_secs_f64()))
        .count() as u64;
    let f = s.device_faults.unwrap();
    assert!(
        f.attempts_on_down.unwrap() <= early + f.interrupted,
        "{f:?}"
    );
}

/// The shipped failures scenario: boards fail, the requests they held are served again, and
/// the failures cost latency and cloud traffic against the same scenario without them.
#[test]
fn shipped_failures_scenario_shows_what_failures_cost() {
    let with = edgesim::sim::run(&load(&shipped("failures.toml"), &[])).unwrap();
    let without = edgesim::sim::run(&load(
        &shipped("failures.toml"),
        &[
            "devices.0.random_outages.mtbf_s=1e12",
            "devices.1.random_outages.mtbf_s=1e12",
            "devices.1.outages=[]",
        ],
    ))
    .unwrap();
    let f = with.device_faults.clone().unwrap();
    assert!(f.failures >= 3 && f.interrupted > 0, "{f:?}");
    assert!(f.availability < 0.95, "{f:?}");
    assert_eq!(without.device_faults.unwrap().failures, 0);
    assert!(with.served_cloud > without.served_cloud);
    assert!(with.ttft_ms.p95.unwrap() > without.ttft_ms.p95.unwrap());
    assert_eq!(with.requests_total, without.requests_total);
}
