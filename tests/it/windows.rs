//! Metrics per window of time (`[metrics] window_s`): each window's row against the requests
//! that arrived in it, the worst window against the rows, a window as long as the run against
//! the run, and the share lost in each window of a periodic load against its Erlang B.

use crate::common::*;
use crate::queueing::{erlang_b, loss_scenario};
use edgesim::metrics::windows::{WindowRow, WindowsSummary};
use edgesim::metrics::{RequestRecord, Route, Summary};

fn windows(s: &Summary) -> &WindowsSummary {
    s.windows.as_ref().expect("the summary has windows")
}

/// The nearest-rank quantile `q` of `values` [µs], in ms (as the summary's percentiles).
fn exact_ms(values: &mut [u64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((q * values.len() as f64).ceil() as usize).max(1);
    Some(values[rank - 1] as f64 / 1000.0)
}

/// `got` is `want` to within the histogram's bucket (1/256) and the rounding to the µs.
fn close(got: Option<f64>, want: Option<f64>, what: &str) {
    match (got, want) {
        (Some(g), Some(w)) => assert!(
            (g - w).abs() <= w / 256.0 + 0.001,
            "{what}: {g} vs exact {w}"
        ),
        (g, w) => assert_eq!(g, w, "{what}"),
    }
}

/// Each of `rows` (windows of `width_s` seconds) is exactly the requests of `by_window` (those
/// that arrived in it): counts, shares, percentiles (within the histogram's bucket of the
/// exact nearest rank) and cloud fees. `what` names the windows in messages.
fn check_rows(rows: &[WindowRow], by_window: &[Vec<RequestRecord>], width_s: f64, what: &str) {
    assert_eq!(rows.len(), by_window.len(), "{what}");
    for (k, (row, reqs)) in rows.iter().zip(by_window).enumerate() {
        assert_eq!(
            (row.start_s, row.end_s),
            (width_s * k as f64, width_s * (k + 1) as f64)
        );
        let count = |f: fn(&Route) -> bool| reqs.iter().filter(|r| f(&r.route)).count() as u64;
        assert_eq!(row.requests, reqs.len() as u64, "{what} window {k}");
        assert_eq!(row.served_edge, count(|r| matches!(r, Route::Edge(_))));
        assert_eq!(row.served_cloud, count(|r| matches!(r, Route::Cloud)));
        assert_eq!(row.rejected, count(|r| matches!(r, Route::Rejected)));
        let served: Vec<_> = reqs
            .iter()
            .filter(|r| !matches!(r.route, Route::Rejected))
            .collect();
        let mut ttft: Vec<u64> = served.iter().map(|r| r.ttft.0).collect();
        let mut e2e: Vec<u64> = served.iter().map(|r| r.e2e.0).collect();
        for (q, got_t, got_e) in [
            (0.5, row.ttft_ms.p50, row.e2e_ms.p50),
            (0.95, row.ttft_ms.p95, row.e2e_ms.p95),
            (0.99, row.ttft_ms.p99, row.e2e_ms.p99),
        ] {
            close(
                got_t,
                exact_ms(&mut ttft, q),
                &format!("{what} window {k} TTFT q{q}"),
            );
            close(
                got_e,
                exact_ms(&mut e2e, q),
                &format!("{what} window {k} e2e q{q}"),
            );
        }
        let fees: f64 = reqs.iter().map(|r| r.cost_usd).sum();
        assert!((row.cloud_cost_usd - fees).abs() <= 1e-9 * fees.max(1.0));
        assert_eq!(
            row.redirect_rate,
            Some(row.served_cloud as f64 / row.requests as f64)
        );
    }
}

/// `w`'s windows judged are those with `min_requests` requests or more, and its worst of each
/// quantity is the highest among them. `what` names the windows in messages.
fn check_worst(w: &WindowsSummary, what: &str) {
    let judged: Vec<&WindowRow> = w
        .rows
        .iter()
        .filter(|r| r.requests >= w.min_requests)
        .collect();
    assert_eq!(w.judged, judged.len(), "{what}");
    let highest =
        |get: fn(&WindowRow) -> Option<f64>| judged.iter().filter_map(|r| get(r)).reduce(f64::max);
    let worst = &w.worst;
    for (name, got, want) in [
        ("TTFT p95", worst.ttft_p95_ms, highest(|r| r.ttft_ms.p95)),
        ("TTFT p99", worst.ttft_p99_ms, highest(|r| r.ttft_ms.p99)),
        ("e2e p95", worst.e2e_p95_ms, highest(|r| r.e2e_ms.p95)),
        ("e2e p99", worst.e2e_p99_ms, highest(|r| r.e2e_ms.p99)),
        ("rejected", worst.reject_rate, highest(|r| r.reject_rate)),
        (
            "to the cloud",
            worst.redirect_rate,
            highest(|r| r.redirect_rate),
        ),
    ] {
        assert_eq!(got.map(|x| x.value), want, "{what}: {name}");
    }
}

/// The bursty Figure 4 scenario in windows of 100 s (three per burst period of 300 s, so some
/// hold a burst and some do not): each window's counts are exactly those of the requests that
/// arrived in it, its percentiles the exact ones of their latencies to within the histogram's
/// bucket, its cloud fees their sum; the windows add up to the run, and the worst and busiest
/// are those of the rows.
#[test]
fn each_windows_row_is_the_requests_that_arrived_in_it() {
    let sc = load(&shipped("bursty.toml"), &["metrics.window_s=100"]);
    let (s, records) = run_collect(&sc);
    let w = windows(&s);
    assert_eq!((w.window_s, w.count, w.rows.len()), (100.0, 36, 36));
    let mut by_window = vec![Vec::new(); 36];
    for r in &records {
        by_window[(r.arrival.0 / 100_000_000) as usize].push(*r);
    }
    check_rows(&w.rows, &by_window, 100.0, "");
    let sum = |f: fn(&WindowRow) -> u64| w.rows.iter().map(f).sum::<u64>();
    assert_eq!(sum(|r| r.requests), s.requests_total);
    assert_eq!(sum(|r| r.served_edge), s.served_edge);
    assert_eq!(sum(|r| r.served_cloud), s.served_cloud);
    assert_eq!(sum(|r| r.rejected), s.rejected);
    // The bursts send requests to the cloud, the quiet windows none: the worst window's share
    // is a burst's, well above the run's.
    let worst = w.worst.redirect_rate.unwrap();
    let max = w
        .rows
        .iter()
        .filter_map(|r| r.redirect_rate)
        .fold(0.0, f64::max);
    assert_eq!(worst.value, max);
    assert!(worst.value > 0.1 + s.served_cloud as f64 / s.requests_total as f64);
    assert!(w.rows.iter().any(|r| r.redirect_rate == Some(0.0)));
    // Bursts start at 120 s and every 300 s after: the worst window holds one.
    let t = worst.start_s % 300.0;
    assert!((0.0..180.0).contains(&t), "worst from {} s", worst.start_s);
    let worst_ttft = w.worst.ttft_p95_ms.unwrap();
    let first = w
        .rows
        .iter()
        .find(|r| r.ttft_ms.p95 == Some(worst_ttft.value))
        .unwrap();
    assert_eq!(first.start_s, worst_ttft.start_s);
    assert!(
        w.rows
            .iter()
            .all(|r| r.ttft_ms.p95 <= Some(worst_ttft.value))
    );
    assert!(worst_ttft.value > s.ttft_ms.p95.unwrap());
    let busiest = w.busiest.unwrap();
    assert_eq!(
        busiest.requests,
        w.rows.iter().map(|r| r.requests).max().unwrap()
    );
}

/// One window as long as the arrivals is the run: its percentiles and shares are the run's,
/// to the bit. And without `window_s` the summary has no windows (its JSON no `windows` key).
#[test]
fn a_window_as_long_as_the_run_is_the_run() {
    let sc = load(&shipped("bursty.toml"), &["metrics.window_s=3600"]);
    let s = edgesim::sim::run(&sc).unwrap();
    let w = windows(&s);
    assert_eq!(w.count, 1);
    let row = &w.rows[0];
    assert_eq!(row.ttft_ms, s.ttft_ms);
    assert_eq!(row.e2e_ms, s.e2e_ms);
    assert_eq!(row.requests, s.requests_total);
    assert_eq!(w.worst.ttft_p99_ms.unwrap().value, s.ttft_ms.p99.unwrap());
    assert_eq!(w.worst.e2e_p95_ms.unwrap().value, s.e2e_ms.p95.unwrap());
    assert_eq!(
        w.worst.reject_rate.unwrap().value,
        s.rejected as f64 / s.requests_total as f64
    );
    let plain = edgesim::sim::run(&load(&shipped("bursty.toml"), &[])).unwrap();
    assert!(plain.windows.is_none());
    assert!(!edgesim::report::to_json(&plain).contains("\"windows\""));
    // The windows change no other number of the run.
    let mut same = s.clone();
    same.windows = None;
    assert_eq!(same, plain);
}

/// Three single-slot servers without queues under a Poisson load whose rate is 1 then 3
/// requests/s, alternating every 2,000 s (a periodic shape [1, 3] over 4,000 s), service 1 s:
/// with windows of 2,000 s, each window is one slice, and the share it loses is that slice's
/// Erlang B, B(3, 1) = 0.0625 or B(3, 3) = 0.346, not the run's (their arrival-weighted mean,
/// 0.275); the worst window is a busy one.
#[test]
fn a_periodic_load_loses_in_each_window_its_slices_erlang_b() {
    let text = loss_scenario(
        "load_aware",
        3,
        2.0,
        r#"{ dist = "fixed", value = 11 }"#,
        100_000.0,
        23,
    )
    .replace(
        "kind = \"poisson\"\nrate_rps = 2\n",
        "kind = \"periodic\"\nrate_rps = 2\nshape = [1, 3]\nperiod_s = 4000\n",
    ) + "\n[metrics]\nwindow_s = 2000\n";
    assert!(text.contains("periodic"), "{text}");
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    let w = windows(&s);
    assert_eq!(w.count, 50);
    for (parity, a) in [(0, 1.0), (1, 3.0)] {
        let rows: Vec<_> = w.rows.iter().skip(parity).step_by(2).collect();
        let requests: u64 = rows.iter().map(|r| r.requests).sum();
        let lost: u64 = rows.iter().map(|r| r.rejected).sum();
        let share = lost as f64 / requests as f64;
        let want = erlang_b(3, a);
        assert!(
            (share - want).abs() < 0.012,
            "slices of rate {a}: lost {share:.4}, Erlang B {want:.4}"
        );
        // Each window's arrivals: Poisson with mean 2,000·rate (within 5 sigma).
        for r in &rows {
            let mean = 2000.0 * a;
            assert!(
                (r.requests as f64 - mean).abs() < 5.0 * mean.sqrt(),
                "{r:?}"
            );
        }
    }
    let worst = w.worst.reject_rate.unwrap();
    assert_eq!(worst.start_s % 4000.0, 2000.0);
    let run = s.rejected as f64 / s.requests_total as f64;
    assert!(worst.value > run + 0.04, "{} vs run {run}", worst.value);
    assert_eq!(w.busiest.unwrap().start_s % 4000.0, 2000.0);
}

/// `run` writes the `windows` table when the scenario has windows (and only then): a row per
/// window, whose largest TTFT p95 is the summary's worst; the text summary shows the worst.
#[test]
fn run_writes_the_windows_table() {
    let out = scratch_dir("windows-run");
    let o = edgesim(&[
        "run",
        shipped("bursty.toml").to_str().unwrap(),
        "--set",
        "metrics.window_s=600",
        "--csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("6 windows of 600 s"), "{text}");
    assert!(text.contains("worst window"), "{text}");
    let csv = std::fs::read_to_string(out.join("windows.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 6);
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let p95 = rows
        .iter()
        .map(|r| r[col("ttft_p95_ms")].parse::<f64>().unwrap())
        .fold(0.0, f64::max);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["windows"]["worst"]["ttft_p95_ms"]["value"], p95);
    assert_eq!(json["windows"]["count"], 6);
    let requests: u64 = rows
        .iter()
        .map(|r| r[col("requests")].parse::<u64>().unwrap())
        .sum();
    assert_eq!(json["requests_total"], requests);
    let plain = scratch_dir("windows-run-plain");
    assert_ok(&edgesim(&[
        "run",
        shipped("bursty.toml").to_str().unwrap(),
        "--csv",
        "--out",
        plain.to_str().unwrap(),
    ]));
    assert!(!plain.join("windows.csv").exists());
}

/// `window_min_requests` leaves quiet windows out of the worst: with bursty traffic in 100 s
/// windows and 60 requests at least, only the windows with a burst (some 120 requests
/// against 20-30) are judged; every window is still a row; 1 is the default, to the bit; above
/// every window's count, no window is judged and the worst is empty.
#[test]
fn windows_with_too_few_requests_are_not_judged() {
    let run = |sets: &[&str]| edgesim::sim::run(&load(&shipped("bursty.toml"), sets)).unwrap();
    let s = run(&["metrics.window_s=100", "metrics.window_min_requests=60"]);
    let w = windows(&s);
    assert_eq!((w.count, w.rows.len(), w.min_requests), (36, 36, 60));
    check_worst(w, "bursty");
    assert_eq!(w.judged, 12, "one window of three holds a burst");
    // The lowest cloud share among the bursts' windows is above every quiet window's (0):
    // the worst is a burst's, as without the floor.
    assert_eq!(w.worst.redirect_rate.unwrap().start_s % 300.0, 100.0);
    let every = run(&["metrics.window_s=100"]);
    assert_eq!(windows(&every).judged, 36);
    assert_eq!(windows(&every).min_requests, 1);
    let one = run(&["metrics.window_s=100", "metrics.window_min_requests=1"]);
    assert_eq!(one, every);
    let none = run(&[
        "metrics.window_s=100",
        "metrics.window_min_requests=1000000",
    ]);
    let w = windows(&none);
    assert_eq!((w.judged, w.rows.len()), (0, 36));
    assert!(w.worst.ttft_p95_ms.is_none() && w.worst.reject_rate.is_none());
    assert_eq!(w.busiest, windows(&every).busiest);
}

/// With request classes each class has windows of its own requests: the assistant scenario
/// (questions and summaries) in windows of 600 s. Each class's row is exactly the class's
/// requests that arrived in the window; over the classes the rows add up to the run's
/// (counts and fees); each class's worst is the highest of its judged rows (with a floor of
/// requests, counted in the class); the sweep's class metrics and the `class_windows` table
/// give the same numbers. A scenario of one class has no classes, so no class windows.
#[test]
fn each_class_has_windows_of_its_own_requests() {
    let sets = ["metrics.window_s=600", "metrics.window_min_requests=70"];
    let sc = load(&shipped("assistant.toml"), &sets);
    let (s, records) = run_collect(&sc);
    let run_rows = &windows(&s).rows;
    assert_eq!(run_rows.len(), 6);
    let classes = s.classes.as_ref().expect("two classes");
    assert_eq!(classes.len(), 2);
    for (k, c) in classes.iter().enumerate() {
        let w = c.windows.as_ref().expect("the class has windows");
        assert_eq!((w.window_s, w.count, w.min_requests), (600.0, 6, 70));
        let mut by_window = vec![Vec::new(); 6];
        for r in records.iter().filter(|r| usize::from(r.class) == k) {
            by_window[(r.arrival.0 / 600_000_000) as usize].push(*r);
        }
        check_rows(&w.rows, &by_window, 600.0, &c.name);
        check_worst(w, &c.name);
        for m in edgesim::sweep::metrics::CLASS_METRICS
            .iter()
            .filter(|m| m.name.starts_with("worst_window_"))
        {
            let want = match m.name {
                "worst_window_ttft_p95_ms" => w.worst.ttft_p95_ms,
                "worst_window_ttft_p99_ms" => w.worst.ttft_p99_ms,
                "worst_window_e2e_p95_ms" => w.worst.e2e_p95_ms,
                "worst_window_e2e_p99_ms" => w.worst.e2e_p99_ms,
                "worst_window_reject_rate" => w.worst.reject_rate,
                "worst_window_redirect_rate" => w.worst.redirect_rate,
                other => panic!("a class metric {other} this test does not know"),
            };
            assert_eq!((m.get)(c), want.map(|x| x.value), "{}", m.name);
        }
    }
    // The summaries hold fewer requests than 70 in some windows: the floor counts.
    assert!(
        classes
            .iter()
            .any(|c| c.windows.as_ref().unwrap().judged < 6)
    );
    for (i, row) in run_rows.iter().enumerate() {
        let of = |f: fn(&WindowRow) -> u64| {
            classes
                .iter()
                .map(|c| f(&c.windows.as_ref().unwrap().rows[i]))
                .sum::<u64>()
        };
        assert_eq!(of(|r| r.requests), row.requests);
        assert_eq!(of(|r| r.served_edge), row.served_edge);
        assert_eq!(of(|r| r.served_cloud), row.served_cloud);
        assert_eq!(of(|r| r.rejected), row.rejected);
        let fees: f64 = classes
            .iter()
            .map(|c| c.windows.as_ref().unwrap().rows[i].cloud_cost_usd)
            .sum();
        assert!((fees - row.cloud_cost_usd).abs() <= 1e-9 * fees.max(1.0));
    }
    // Without windows, no class has them; with one class there are no classes.
    let plain = edgesim::sim::run(&load(&shipped("assistant.toml"), &[])).unwrap();
    assert!(plain.classes.unwrap().iter().all(|c| c.windows.is_none()));
    let one = edgesim::sim::run(&load(&shipped("bursty.toml"), &sets)).unwrap();
    assert!(one.classes.is_none() && one.windows.is_some());
    // `run` writes each class's rows in the `class_windows` table, class by class.
    let out = scratch_dir("class-windows-run");
    let o = edgesim(&[
        "run",
        shipped("assistant.toml").to_str().unwrap(),
        "--set",
        sets[0],
        "--set",
        sets[1],
        "--csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("worst window by class"), "{text}");
    let csv = std::fs::read_to_string(out.join("class_windows.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..3], ["class", "window_start_s", "window_end_s"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 12);
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for (i, r) in rows.iter().enumerate() {
        let c = &classes[i / 6];
        let want = &c.windows.as_ref().unwrap().rows[i % 6];
        assert_eq!(r[col("class")], c.name);
        assert_eq!(r[col("requests")].parse::<u64>().unwrap(), want.requests);
        assert_eq!(
            r[col("ttft_p95_ms")].parse::<f64>().ok(),
            want.ttft_ms.p95,
            "row {i}"
        );
    }
}
