//! Properties that must hold for every scenario, checked on randomly generated ones.

use rand::{RngExt, SeedableRng};

use crate::common::*;
use edgesim::metrics::{RequestRecord, Route, Summary};
use edgesim::scenario::Scenario;
use edgesim::sim::{OnDeviceFailure, OnQueueTimeout};
use edgesim::workload::ClassRoute;

fn pick<'a>(r: &mut rand_pcg::Pcg64Mcg, xs: &[&'a str]) -> &'a str {
    xs[r.random_range(0..xs.len())]
}

fn tokens(r: &mut rand_pcg::Pcg64Mcg) -> String {
    match r.random_range(0..4) {
        0 => format!("{{ dist = \"fixed\", value = {} }}", r.random_range(1..400)),
        1 => format!(
            "{{ dist = \"uniform\", min = 1, max = {} }}",
            r.random_range(1..400)
        ),
        2 => format!(
            "{{ dist = \"lognormal\", median = {}, sigma = 0.7, max = 2000 }}",
            r.random_range(5..300)
        ),
        _ => format!(
            "{{ dist = \"exponential\", mean = {} }}",
            r.random_range(5..300)
        ),
    }
}

/// A random but valid scenario (`tag` names its temporary files).
fn random_scenario(tag: &str, case: u64) -> String {
    let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(case);
    let duration = r.random_range(20..200);
    let mut s = format!("seed = {case}\nduration_s = {duration}\n[workload]\n");
    match r.random_range(0..4) {
        0 => {
            let rate = r.random_range(0.05..3.0);
            // Half of them periodic, the rate their mean, on a stream of their own (the other
            // draws stay as they were): 1 to 6 slices of relative rates 0 to 4 (one at least
            // 1) over a period of 2 to 60 s, starting anywhere in it.
            let mut p = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0x9e71_0d1c);
            if p.random_bool(0.5) {
                let n = p.random_range(1..7);
                let mut shape: Vec<String> = (0..n)
                    .map(|_| format!("{:.2}", p.random_range(0.0..4.0)))
                    .collect();
                shape[p.random_range(0..n)] = "1".into();
                let period = p.random_range(2.0..60.0);
                s += &format!(
                    "kind = \"periodic\"\nrate_rps = {rate:.3}\nshape = [{}]\n\
                     period_s = {period:.2}\nstart_s = {:.2}\n",
                    shape.join(", "),
                    p.random_range(0.0..period - 0.01)
                )
            } else {
                s += &format!("kind = \"poisson\"\nrate_rps = {rate:.3}\n")
            }
        }
        1 => {
            s += &format!(
                "kind = \"closed\"\nusers = {}\nthink_time_s = {:.2}\n",
                r.random_range(1..12),
                r.random_range(0.5..20.0)
            )
        }
        2 => {
            s += &format!(
                "kind = \"bursty\"\nbase_rate_rps = {:.2}\nburst_rate_rps = {:.2}\nburst_length_s = 5\nburst_period_s = {}\n",
                r.random_range(0.0..1.0),
                r.random_range(0.5..6.0),
                r.random_range(5..40)
            )
        }
        _ => {
            let n = r.random_range(1..300);
            let mut t = 0.0;
            let rows: Vec<(f64, u32, u32)> = (0..n)
                .map(|_| {
                    t += r.random_range(0.0..2.0);
                    (t, r.random_range(0..500), r.random_range(0..300))
                })
                .collect();
            // Each test its own file: tests run at once, and a trace being rewritten by one
            // must not be read by another.
            let p = temp_file(&format!("{tag}{case}"), "trace.csv", &trace_text(&rows));
            s += &format!(
                "kind = \"trace\"\npath = \"{}\"\ntime_scale = {:.2}\n",
                p.display(),
                r.random_range(0.2..2.0)
            );
        }
    }
    if !s.contains("\"trace\"") {
        s += &format!(
            "prompt_tokens = {}\noutput_tokens = {}\n",
            tokens(&mut r),
            tokens(&mut r)
        );
    }
    s += &format!(
        "[selection]\nkind = \"{}\"\n[routing]\nmax_attempts = {}\nedge_rtt_ms = {}\n[cloud]\nenabled = {}\n",
        pick(
            &mut r,
            &[
                "random",
                "weighted",
                "load_aware",
                "round_robin",
                "power_of_two"
            ]
        ),
        r.random_range(1..4),
        r.random_range(0..20),
        r.random_bool(0.6)
    );
    let unit = pick(&mut r, &["requests", "tokens"]);
    let scope = pick(&mut r, &["device", "cluster"]);
    // A quota per request class in half of the cluster's cases (its own stream: the rest of
    // the scenario is as without it).
    let by_class = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0xc1a5_5c0e).random_bool(0.5);
    let scope = if scope == "cluster" && by_class {
        "class"
    } else {
        scope
    };
    let per = if unit == "tokens" { 400.0 } else { 1.0 };
    s += &match r.random_range(0..5) {
        0 => "[rate_limit]\nkind = \"none\"\n".to_string(),
        4 => format!(
            "[rate_limit]\nkind = \"fixed_window\"\nunit = \"{unit}\"\nscope = \"{scope}\"\nwindow_s = {}\nlimit = {}\n",
            r.random_range(1..30),
            per * f64::from(r.random_range(1..10))
        ),
        1 => format!(
            "[rate_limit]\nkind = \"sliding_window\"\nunit = \"{unit}\"\nscope = \"{scope}\"\nwindow_s = {}\nlimit = {}\n",
            r.random_range(1..30),
            per * f64::from(r.random_range(1..10))
        ),
        2 => format!(
            "[rate_limit]\nkind = \"token_bucket\"\nunit = \"{unit}\"\nscope = \"{scope}\"\nlimit = {}\nrefill_per_s = {:.2}\n",
            per * f64::from(r.random_range(1..10)),
            per * r.random_range(0.1..2.0)
        ),
        _ => format!(
            "[rate_limit]\nkind = \"concurrency\"\nunit = \"{unit}\"\nscope = \"{scope}\"\nlimit = {}\n",
            per * f64::from(r.random_range(1..6))
        ),
    };
    for i in 0..r.random_range(1..4) {
        if r.random_bool(0.3) {
            // An inline profile exercising both prefill modes and the context effect.
            s += &format!(
                "[[devices]]\nname = \"inl{i}\"\nmodel = \"qwen2.5-0.5b\"\nslots = {}\nqueue_capacity = {}\n\
                 [devices.inline.device]\nname = \"b\"\nmemory_gb = 64.0\nidle_w = 2.0\n\
                 [[devices.inline.models]]\nmodel = \"qwen2.5-0.5b\"\nprefill_tps = {:.1}\n\
                 prefill_mode = \"{}\"\ndecode_tps = [{:.1}, {:.1}]\ndecode_ms_per_1k_context = {:.2}\nbusy_w = 9.0\n",
                r.random_range(1..5),
                r.random_range(0..4),
                r.random_range(50.0..2000.0),
                pick(&mut r, &["serial", "parallel"]),
                r.random_range(5.0..40.0),
                r.random_range(40.0..80.0),
                r.random_range(0.0..20.0)
            );
            continue;
        }
        let profile = pick(&mut r, &["jetson-orin-nano", "jetson-agx-orin"]);
        s += &format!(
            "[[devices]]\nname = \"dev{i}\"\ncount = {}\nprofile = \"../calibration/{profile}.toml\"\nmodel = \"{}\"\nslots = {}\nqueue_capacity = {}\n",
            r.random_range(1..3),
            pick(&mut r, &["qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b"]),
            r.random_range(1..5),
            r.random_range(0..4)
        );
    }
    s
}

/// `text` with metric windows (`[metrics] window_s`, 0.5 to 50 s) in about a third of the
/// cases, on a random stream of its own.
fn with_windows(case: u64, text: &str) -> String {
    let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0x3d1d_0905);
    if r.random_range(0..3) > 0 {
        return text.to_string();
    }
    let window_s = r.random_range(0.5..50.0);
    // In half of them, the windows judged need 2 to 30 requests.
    let min = if r.random_bool(0.5) {
        format!("window_min_requests = {}\n", r.random_range(2..=30))
    } else {
        String::new()
    };
    format!("{text}\n[metrics]\nwindow_s = {window_s}\n{min}")
}

/// With metric windows, each window's requests are those that arrived in it, by how they
/// ended; the windows add up to the run; the worst window of each quantity is the highest. With
/// request classes, each class's windows likewise over the class's requests (so that, over the
/// classes, they add up to the run's).
fn check_windows(ctx: &dyn Fn() -> String, s: &Summary, records: &[RequestRecord]) {
    let Some(w) = &s.windows else {
        return;
    };
    let share = |rejected: u64, requests: u64| rejected as f64 / requests as f64;
    check_window_set(
        ctx,
        w,
        &records.iter().collect::<Vec<_>>(),
        share(s.rejected, s.requests_total),
        [s.ttft_ms.p95, s.ttft_ms.p99, s.e2e_ms.p95, s.e2e_ms.p99],
    );
    for (k, c) in s.classes.iter().flatten().enumerate() {
        let cw = c
            .windows
            .as_ref()
            .expect("a class has windows when the run has");
        assert_eq!(cw.rows.len(), w.rows.len(), "{}; {}", c.name, ctx());
        let ctx = || format!("class {}; {}", c.name, ctx());
        check_window_set(
            &ctx,
            cw,
            &records
                .iter()
                .filter(|r| usize::from(r.class) == k)
                .collect::<Vec<_>>(),
            share(c.rejected, c.requests),
            [c.ttft_ms.p95, c.ttft_ms.p99, c.e2e_ms.p95, c.e2e_ms.p99],
        );
    }
}

/// One set of windows (the run's or a class's) against `records` (its requests): each row's
/// ends and fees, the windows judged, the worst of each quantity; and, every window judged,
/// the worst at least the whole's (`reject_share`, and TTFT p95, p99, end-to-end p95, p99).
fn check_window_set(
    ctx: &dyn Fn() -> String,
    w: &edgesim::metrics::windows::WindowsSummary,
    records: &[&RequestRecord],
    reject_share: f64,
    percentiles: [Option<f64>; 4],
) {
    let width = edgesim::time::SimDuration::from_secs_f64(w.window_s).0;
    let mut ended = vec![[0u64; 3]; w.rows.len()];
    let mut fees = vec![0.0; w.rows.len()];
    for r in records {
        let k = (r.arrival.0 / width) as usize;
        assert!(
            k < w.rows.len(),
            "arrival {:?} past the windows; {}",
            r.arrival,
            ctx()
        );
        let route = match r.route {
            Route::Edge(_) => 0,
            Route::Cloud => 1,
            Route::Rejected => 2,
        };
        ended[k][route] += 1;
        fees[k] += r.cost_usd;
    }
    for ((row, e), f) in w.rows.iter().zip(&ended).zip(&fees) {
        assert_eq!(
            [row.served_edge, row.served_cloud, row.rejected],
            *e,
            "window from {} s; {}",
            row.start_s,
            ctx()
        );
        assert_eq!(row.requests, e.iter().sum::<u64>(), "{}", ctx());
        assert!(
            (row.cloud_cost_usd - f).abs() <= 1e-9 * f.max(1.0),
            "{}",
            ctx()
        );
    }
    let judged = || w.rows.iter().filter(|r| r.requests >= w.min_requests);
    assert_eq!(judged().count(), w.judged, "{}", ctx());
    let highest = |get: fn(&edgesim::metrics::windows::WindowRow) -> Option<f64>| {
        judged().filter_map(get).reduce(f64::max)
    };
    let worst = &w.worst;
    for (got, want) in [
        (worst.ttft_p95_ms, highest(|r| r.ttft_ms.p95)),
        (worst.e2e_p99_ms, highest(|r| r.e2e_ms.p99)),
        (worst.reject_rate, highest(|r| r.reject_rate)),
        (worst.redirect_rate, highest(|r| r.redirect_rate)),
    ] {
        assert_eq!(got.map(|x| x.value), want, "{}", ctx());
    }
    // The whole is the mixture of its windows: its share rejected is their weighted mean, and
    // if every window has 95 % of its latencies at most x, so has the whole: the worst
    // window's percentile is at least the whole's (to within the histogram's bucket, where
    // each clamps to its own extremes), when every window is judged.
    if w.min_requests > 1 {
        return;
    }
    if let Some(w) = worst.reject_rate {
        assert!(
            w.value >= reject_share - 1e-12,
            "{} < {reject_share}; {}",
            w.value,
            ctx()
        );
    }
    for (window, whole) in [
        worst.ttft_p95_ms,
        worst.ttft_p99_ms,
        worst.e2e_p95_ms,
        worst.e2e_p99_ms,
    ]
    .into_iter()
    .zip(percentiles)
    {
        if let (Some(w), Some(r)) = (window, whole) {
            assert!(
                w.value >= r * (1.0 - 1.0 / 128.0) - 0.001,
                "{} < {r}; {}",
                w.value,
                ctx()
            );
        }
    }
}

/// `text` with a queue timeout in its `[routing]` in about two cases of five, and in about
/// half of those two classes, one with a timeout of its own and maybe a queue priority; in
/// about three of ten of the others, two classes of different priorities. The first of two
/// classes is routed to the cloud only or the edge only in about half of the cases. Its own
/// random streams: the rest of the scenario is as without them.
fn with_queue_timeout(case: u64, text: &str) -> String {
    let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0x0917_7e0f);
    let mut pr = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0x9710_0317);
    // The first class's route: in about half of the cases with classes, the cloud only or the
    // edge only.
    let mut ro = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0x7007_e5c1);
    let route = pick(
        &mut ro,
        &["", "", "route = \"cloud\"\n", "route = \"edge_only\"\n"],
    );
    // And in about half of them a quota of its own (read under a limit per class).
    let mut qr = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0x0907_a5e1);
    let route = if qr.random_bool(0.5) {
        format!(
            "{route}quota = {}\n",
            pick(&mut qr, &["1", "2", "400", "1200"])
        )
    } else {
        route.to_string()
    };
    // And in about half of them the first device group's boards only (`devices`), or in one
    // case of eight none.
    let mut dr = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0xde71_ce55);
    let first = if text.contains("name = \"inl0\"") {
        "inl0"
    } else {
        "dev0"
    };
    let route = match dr.random_range(0..8) {
        0..=3 => format!("{route}devices = [\"{first}\"]\n"),
        4 => format!("{route}devices = []\n"),
        _ => route,
    };
    if !r.random_bool(0.4) {
        if pr.random_bool(0.3) {
            return format!(
                "{text}[[workload.classes]]\nname = \"urgent\"\npriority = {}\n{route}\
                 [[workload.classes]]\nname = \"batch\"\n",
                pick(&mut pr, &["1", "255"])
            );
        }
        return text.to_string();
    }
    let timeouts = ["0", "1", "500", "3000", "20000"];
    let keys = format!(
        "[routing]\nqueue_timeout_ms = {}\non_queue_timeout = \"{}\"\n",
        pick(&mut r, &timeouts[1..]),
        pick(&mut r, &["cloud", "reject"])
    );
    let mut text = text.replacen("[routing]\n", &keys, 1);
    if r.random_bool(0.5) {
        text += &format!(
            "[[workload.classes]]\nname = \"own\"\nqueue_timeout_ms = {}\npriority = {}\n{route}\
             [[workload.classes]]\nname = \"routing's\"\n",
            pick(&mut r, &timeouts),
            pick(&mut pr, &["0", "1"])
        );
    }
    text
}

/// The least and the most that the requests which left device `d`'s queue at a queue
/// timeout spent in the system \[s\]: each waited exactly its class's timeout.
fn timed_out_s(sc: &Scenario, d: &edgesim::metrics::DeviceSummary) -> (f64, f64) {
    let n = d.queue_timeouts.unwrap_or(0) as f64;
    let ws: Vec<f64> = sc
        .queue_timeouts()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .map(|w| w.as_secs_f64())
        .collect();
    let least = ws.iter().copied().fold(f64::INFINITY, f64::min);
    let most = ws.iter().copied().fold(0.0, f64::max);
    if n == 0.0 {
        (0.0, 0.0)
    } else {
        (n * least, n * most)
    }
}

/// What every run must satisfy, with or without failures and cloud faults: the resolved
/// scenario is a fixed point; every request ends exactly once and the counts agree with the
/// records; no attempt (in a run without reroutes or retries) or latency is out of bounds; the
/// edge's busy energy is what served requests were charged plus what dropped ones wasted;
/// Little's ΣW of served and timed-out requests is at most L·T (dropped requests were in the
/// system too);
/// percentiles are ordered.
fn check_run(ctx: &dyn Fn() -> String, sc: &Scenario, s: &Summary, records: &[RequestRecord]) {
    // The resolved form is a fixed point: validating it gives the same scenario.
    let resolved = sc.resolved_toml();
    let again = edgesim::scenario::Scenario::from_str_at(
        &resolved,
        &root().join("tests/resolved.toml"),
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{resolved}"));
    assert_eq!(again.resolved_toml(), resolved, "{}", ctx());

    // Every request ends exactly once.
    assert_eq!(
        s.requests_total,
        s.served_edge + s.served_cloud + s.rejected,
        "{}",
        ctx()
    );
    assert_eq!(records.len() as u64, s.requests_total, "{}", ctx());
    assert!(
        records.iter().enumerate().all(|(i, r)| r.id == i as u64),
        "ids 0..n once each; {}",
        ctx()
    );
    let by_route =
        |want: fn(&Route) -> bool| records.iter().filter(|r| want(&r.route)).count() as u64;
    assert_eq!(
        by_route(|r| matches!(r, Route::Edge(_))),
        s.served_edge,
        "{}",
        ctx()
    );
    assert_eq!(
        by_route(|r| *r == Route::Cloud),
        s.served_cloud,
        "{}",
        ctx()
    );
    assert_eq!(
        s.devices.iter().map(|d| d.served).sum::<u64>(),
        s.served_edge,
        "{}",
        ctx()
    );
    if !sc.cloud.enabled {
        assert_eq!(s.served_cloud, 0, "{}", ctx());
    }
    let cloud_tokens: u64 = records
        .iter()
        .filter(|r| r.route == Route::Cloud)
        .map(|r| u64::from(r.prompt_tokens) + u64::from(r.output_tokens))
        .sum();
    assert_eq!(cloud_tokens, s.redirected_tokens, "{}", ctx());
    check_windows(ctx, s, records);
    // `attempts` counts edge devices tried over every routing pass (a cloud retry and a
    // reroute after a failure route again), so only the first pass is bounded: without
    // either, attempts <= max_attempts.
    let failures: u64 = s.devices.iter().map(|d| d.failures.unwrap_or(0)).sum();
    let retries = s.cloud_faults.as_ref().map_or(0, |f| f.retries);
    for r in records {
        assert!(r.ttft <= r.e2e, "{r:?}; {}", ctx());
        if failures == 0 && retries == 0 {
            assert!(r.attempts <= sc.routing.max_attempts, "{r:?}; {}", ctx());
        }
        if let Route::Edge(_) = r.route {
            assert!(r.ttft >= sc.routing.edge_rtt(), "{r:?}; {}", ctx());
        }
    }
    if let Some(f) = &s.cloud_faults {
        assert!((0.0..=1.0).contains(&f.availability), "{f:?}; {}", ctx());
    }
    // By class (with two classes or more): each class's requests end once, and the classes
    // add up to the whole.
    assert_eq!(s.classes.is_some(), sc.classes().len() >= 2, "{}", ctx());
    if let Some(classes) = &s.classes {
        for c in classes {
            assert_eq!(
                c.requests,
                c.served_edge + c.served_cloud + c.rejected,
                "{c:?}; {}",
                ctx()
            );
            let n = records
                .iter()
                .filter(|r| sc.classes()[usize::from(r.class)].name == c.name);
            assert_eq!(n.count() as u64, c.requests, "{c:?}; {}", ctx());
        }
        let sum =
            |f: fn(&edgesim::metrics::ClassSummary) -> u64| classes.iter().map(f).sum::<u64>();
        assert_eq!(sum(|c| c.requests), s.requests_total, "{}", ctx());
        assert_eq!(sum(|c| c.served_edge), s.served_edge, "{}", ctx());
        assert_eq!(sum(|c| c.served_cloud), s.served_cloud, "{}", ctx());
        assert_eq!(sum(|c| c.rejected), s.rejected, "{}", ctx());
        // Each class's queue timeouts, counted where a request leaves a queue, add up to the
        // devices' (counted where it was queued); none are counted without a timeout. (A
        // request may time out more than once: routed again after a cloud refusal, edge
        // first.)
        let timeouts: Option<u64> = classes.iter().map(|c| c.queue_timeouts).sum();
        assert_eq!(timeouts, s.queue_timeouts, "{}", ctx());
        // The classes' cloud fees and attributed edge energy add up to the run's (summed in
        // another order: to rounding).
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-12);
        let fees: f64 = classes.iter().map(|c| c.cloud_cost_usd).sum();
        assert!(close(fees, s.cloud_cost_usd), "{fees} {}", ctx());
        let energy: f64 = classes.iter().map(|c| c.edge_request_energy_j).sum();
        assert!(close(energy, s.edge_request_energy_j), "{energy} {}", ctx());
    }
    check_rejections(ctx, sc, s, records);
    if failures == 0 && retries == 0 {
        check_limit(ctx, sc, records);
    }

    // Busy energy is what the served requests were charged plus what the dropped ones had
    // been (lost with their work).
    let idle: f64 = s.devices.iter().map(|d| d.idle_energy_j).sum();
    let busy = s.edge_energy_j - idle;
    let wasted = s.device_faults.as_ref().map_or(0.0, |f| f.wasted_energy_j);
    assert!(wasted >= 0.0, "{}", ctx());
    // Passive health checking: each ejection takes `max_fails` failed attempts of its own.
    if let Some(f) = &s.device_faults {
        assert_eq!(f.ejections.is_some(), sc.routing.max_fails > 0, "{}", ctx());
        let ejections = f.ejections.unwrap_or(0);
        assert!(
            ejections * u64::from(sc.routing.max_fails) <= f.attempts_on_down.unwrap_or(0),
            "{f:?}; {}",
            ctx()
        );
    }
    assert!(
        (s.edge_request_energy_j + wasted - busy).abs() <= 1e-6 * busy.max(1.0),
        "attributed {} + wasted {wasted} vs busy {busy}; {}",
        s.edge_request_energy_j,
        ctx()
    );
    for d in &s.devices {
        assert!((0.0..=1.0).contains(&d.utilisation), "{}", ctx());
        assert!(
            (0.0..=1.0 + 1e-12).contains(&d.slot_utilisation),
            "{}",
            ctx()
        );
        assert!(d.slot_utilisation <= d.utilisation + 1e-12, "{}", ctx());
        assert!(
            d.idle_energy_j >= 0.0 && d.energy_j >= d.idle_energy_j,
            "{}",
            ctx()
        );
        let l_t = d.mean_in_system * s.end_s;
        let sum_w =
            d.served as f64 * d.mean_residence_ms.unwrap_or(0.0) / 1000.0 + timed_out_s(sc, d).0;
        assert!(
            sum_w <= l_t + 1e-6 * l_t.max(1.0),
            "{}: ΣW {sum_w} > L·T {l_t}; {}",
            d.name,
            ctx()
        );
    }
    for p in [&s.ttft_ms, &s.e2e_ms, &s.edge.ttft_ms, &s.cloud.e2e_ms] {
        if let (Some(a), Some(b), Some(c)) = (p.p50, p.p90, p.p99) {
            assert!(a <= b && b <= c, "{}", ctx());
        }
    }
    // Predictive admission's refusals: counted only when it is on, device by device.
    let predicted: Option<u64> = s.devices.iter().map(|d| d.predicted_wait).sum();
    if sc.has_predicted_waits() {
        assert_eq!(s.predicted_wait_attempts, predicted, "{}", ctx());
    } else {
        assert!(
            s.predicted_wait_attempts.is_none()
                && s.devices.iter().all(|d| d.predicted_wait.is_none()),
            "{}",
            ctx()
        );
    }
}

/// `text` with predictive admission (`routing.max_predicted_wait_ms`, 0 to 3 s) in about one
/// case of four, and with classes, the first class's own bound in about one case of three.
/// Their own random streams: the rest of the scenario is as without them.
fn with_predictive_admission(case: u64, text: &str) -> String {
    let bound = |r: &mut rand_pcg::Pcg64Mcg| {
        if r.random_bool(0.2) {
            0
        } else {
            r.random_range(1..3000)
        }
    };
    let mut text = text.to_string();
    let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0x09ed_1c7e);
    if r.random_bool(0.25) {
        let ms = bound(&mut r);
        text = text.replacen(
            "[routing]\n",
            &format!("[routing]\nmax_predicted_wait_ms = {ms}\n"),
            1,
        );
    }
    let mut k = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0x0c1a_55ed);
    let first = "[[workload.classes]]\nname = ";
    if let Some(at) = text.find(first)
        && k.random_bool(1.0 / 3.0)
    {
        let end = at + text[at..].find('\n').unwrap() + 1;
        let end = end + text[end..].find('\n').unwrap() + 1;
        let ms = bound(&mut k);
        text.insert_str(end, &format!("max_predicted_wait_ms = {ms}\n"));
    }
    text
}

/// Every rejected request has one reason, and each reason agrees with what is counted apart:
/// the cloud's refusals, the failures, and the records' lengths against the providers'
/// context windows.
fn check_rejections(
    ctx: &dyn Fn() -> String,
    sc: &Scenario,
    s: &Summary,
    records: &[RequestRecord],
) {
    // Class routes: a class served at the cloud only never reaches a board, one at the edge
    // only never the cloud; a class served by some groups only, only by their boards.
    let groups: Vec<&str> = sc.devices().map(|(g, _)| g.name.as_str()).collect();
    for r in records {
        let class = &sc.classes()[usize::from(r.class)];
        if let (Some(names), Route::Edge(d)) = (&class.devices, r.route) {
            assert!(
                names.iter().any(|n| n == groups[d.index()]),
                "{r:?} on a board of group {}; {}",
                groups[d.index()],
                ctx()
            );
        }
        match class.route() {
            ClassRoute::Cloud => assert!(
                !matches!(r.route, Route::Edge(_)) && r.attempts == 0,
                "{r:?}; {}",
                ctx()
            ),
            ClassRoute::EdgeOnly => assert_ne!(r.route, Route::Cloud, "{r:?}; {}", ctx()),
            ClassRoute::EdgeFirst => {}
        }
    }
    let Some(r) = s.rejected_by else {
        assert_eq!(s.rejected, 0, "{}", ctx());
        return;
    };
    // Rejections of an edge-only class's rule: counted when the scenario has such a class,
    // never more than its requests rejected, none with the cloud disabled (`no_cloud` then).
    assert_eq!(
        r.edge_only.is_some(),
        sc.has_edge_only_classes(),
        "{r:?}; {}",
        ctx()
    );
    let edge_only_rejected = records
        .iter()
        .filter(|x| {
            x.route == Route::Rejected
                && sc.classes()[usize::from(x.class)].route() == ClassRoute::EdgeOnly
        })
        .count() as u64;
    assert!(
        r.edge_only.unwrap_or(0) <= edge_only_rejected,
        "{r:?}; {}",
        ctx()
    );
    if !sc.cloud.enabled {
        assert_eq!(r.edge_only.unwrap_or(0), 0, "{r:?}; {}", ctx());
    }
    assert!(s.rejected > 0, "{}", ctx());
    assert_eq!(r.total(), s.rejected, "{r:?}; {}", ctx());
    let refused = s.cloud_faults.as_ref().map_or(0, |f| f.rejected_refused);
    assert_eq!(r.cloud_refused, refused, "{r:?}; {}", ctx());
    // Each request rejected with 400 had at least one call answered 400.
    let bad = s.cloud_faults.as_ref().map_or(0, |f| f.bad_request);
    assert!(r.bad_request <= bad, "{r:?}; {}", ctx());
    // Queue timeouts: counted when the scenario sets one; under "reject" each ends its
    // request at once, so every one is a rejection, and under "cloud" none is.
    assert_eq!(
        r.queue_timeout.is_some(),
        sc.queue_timeouts().is_some(),
        "{}",
        ctx()
    );
    let rejected_at_timeout = match sc.routing.on_queue_timeout {
        OnQueueTimeout::Reject => s.queue_timeouts,
        OnQueueTimeout::Cloud => s.queue_timeouts.map(|_| 0),
    };
    assert_eq!(r.queue_timeout, rejected_at_timeout, "{r:?}; {}", ctx());
    let reject_on_failure = sc.routing.on_device_failure == OnDeviceFailure::Reject;
    match &s.device_faults {
        // Under "reject" every interrupted request ends at its first interruption.
        Some(f) if reject_on_failure => {
            assert_eq!(r.device_failure, f.interrupted, "{r:?}; {}", ctx());
            assert_eq!(f.interrupted, f.interrupted_then_rejected, "{}", ctx());
        }
        _ => assert_eq!(r.device_failure, 0, "{r:?}; {}", ctx()),
    }
    if !sc.cloud.enabled {
        assert_eq!(
            r.no_cloud + r.device_failure + r.queue_timeout.unwrap_or(0),
            s.rejected,
            "{r:?}; {}",
            ctx()
        );
        return;
    }
    assert_eq!(r.no_cloud, 0, "{r:?}; {}", ctx());
    // Too long for the cloud: the rejected records longer than every provider's window (of
    // those, the ones a failure or a queue timeout rejected first are theirs), but for an
    // edge-only class's (which never reach the cloud: `edge_only`).
    let window = sc
        .cloud
        .providers()
        .map(|p| p.context_tokens.map_or(u64::MAX, u64::from))
        .max()
        .unwrap_or(u64::MAX);
    let too_long = records
        .iter()
        .filter(|x| x.route == Route::Rejected)
        .filter(|x| sc.classes()[usize::from(x.class)].route() != ClassRoute::EdgeOnly)
        .filter(|x| u64::from(x.prompt_tokens) + u64::from(x.output_tokens) > window)
        .count() as u64;
    if r.device_failure == 0 && r.queue_timeout.unwrap_or(0) == 0 {
        assert_eq!(r.too_long_for_cloud, too_long, "{r:?}; {}", ctx());
    } else {
        assert!(r.too_long_for_cloud <= too_long, "{r:?}; {}", ctx());
    }
}

/// The edge's rate limit was never exceeded. Without failures or cloud retries every request
/// is routed once, at its arrival, so the edge-served requests are the admissions, made at
/// their arrival times; per scope key (a device, the cluster, a class: its quota), their
/// amounts must keep:
/// a sliding window, at most `limit` in any (t − W, t]; a fixed window, at most `limit` in
/// each [kW, (k + 1)W); a token bucket, at most `capacity + refill·(t_j − t_i)` from any
/// admission i through j (the bucket starts full).
fn check_limit(ctx: &dyn Fn() -> String, sc: &Scenario, records: &[RequestRecord]) {
    use edgesim::policy::rate_limit::{LimitKind, LimitScope};
    let spec = sc.rate_limit;
    let mut by_key: std::collections::BTreeMap<usize, Vec<(u64, f64)>> = Default::default();
    for r in records {
        if let Route::Edge(d) = r.route {
            by_key
                .entry(spec.key(d.index(), r.class))
                .or_default()
                .push((
                    r.arrival.0,
                    spec.unit.amount(r.prompt_tokens, r.output_tokens),
                ));
        }
    }
    let over = |sum: f64, limit: f64| sum > limit * (1.0 + 1e-9);
    for (key, mut adm) in by_key {
        adm.sort_by_key(|a| a.0);
        // Under a limit per class, a class's own quota.
        let quota = match spec.scope {
            LimitScope::Class => sc.classes()[key].quota,
            _ => None,
        };
        let spec = quota.map_or(spec, |q| spec.with_limit(q));
        match spec.kind {
            LimitKind::SlidingWindow(w) => {
                let (mut from, mut sum) = (0, 0.0);
                for j in 0..adm.len() {
                    sum += adm[j].1;
                    while adm[j].0 - adm[from].0 >= w.window.0 {
                        sum -= adm[from].1;
                        from += 1;
                    }
                    assert!(
                        !over(sum, w.limit),
                        "key {key}: {sum} admitted in the window ending at {} µs; {}",
                        adm[j].0,
                        ctx()
                    );
                }
            }
            LimitKind::FixedWindow(w) => {
                let mut per: std::collections::BTreeMap<u64, f64> = Default::default();
                for (t, a) in &adm {
                    *per.entry(t / w.window.0).or_default() += a;
                }
                for (k, sum) in per {
                    assert!(
                        !over(sum, w.limit),
                        "key {key}: {sum} in window {k}; {}",
                        ctx()
                    );
                }
            }
            LimitKind::TokenBucket(b) => {
                // max over i <= j of (P_j − P_(i−1)) − r·(t_j − t_i) <= capacity.
                let rate_us = b.refill_per_s / 1e6;
                let (mut prefix, mut least) = (0.0, f64::INFINITY);
                for &(t, a) in &adm {
                    least = least.min(prefix - rate_us * t as f64);
                    prefix += a;
                    let worst = prefix - rate_us * t as f64 - least;
                    assert!(
                        worst <= b.limit * (1.0 + 1e-9) + 1e-6,
                        "key {key}: {worst} admitted beyond the refill at {t} µs; {}",
                        ctx()
                    );
                }
            }
            LimitKind::None | LimitKind::Concurrency(_) => {}
        }
    }
}

#[test]
fn conservation_littles_law_and_bounds_on_random_scenarios() {
    for case in 0..120u64 {
        let text = with_predictive_admission(
            case,
            &with_queue_timeout(case, &random_scenario("inv", case)),
        );
        let sc = scenario(&text);
        let (s, records) = run_collect(&sc);
        let ctx = || format!("case {case}:\n{text}");
        check_run(&ctx, &sc, &s, &records);
        // Without faults: the cloud takes all the edge does not (but what a queue timeout
        // rejects), and Little's law holds exactly, L = λW: time-average in system x T = Σ
        // residence times, a timed-out request's being its timeout (when the classes' differ,
        // between the least and the most of them).
        if sc.cloud.enabled {
            let at_timeout = s.rejected_by.and_then(|r| r.queue_timeout).unwrap_or(0);
            let edge_only = s.rejected_by.and_then(|r| r.edge_only).unwrap_or(0);
            assert_eq!(s.rejected, at_timeout + edge_only, "{}", ctx());
        }
        for d in &s.devices {
            let l_t = d.mean_in_system * s.end_s;
            let served_w = d.served as f64 * d.mean_residence_ms.unwrap_or(0.0) / 1000.0;
            let (least, most) = timed_out_s(&sc, d);
            let tol = 1e-6 * (served_w + most).max(1.0);
            assert!(
                served_w + least - tol <= l_t && l_t <= served_w + most + tol,
                "{}: L·T {l_t} vs ΣW {served_w} + timed out in [{least}, {most}]; {}",
                d.name,
                ctx()
            );
        }
        // The toolkit's platforms partition the served responses, and overall CPR is every
        // cent spent (attributed edge energy at the electricity price, cloud fees) per response.
        let (overall, parts) = s.platforms.split_last().expect("an overall row");
        assert_eq!(overall.name, "overall", "{}", ctx());
        let served: u64 = parts.iter().map(|p| p.served).sum();
        assert_eq!(served, s.served_edge + s.served_cloud, "{}", ctx());
        assert_eq!(overall.served, served, "{}", ctx());
        let devices: u32 = parts.iter().map(|p| p.devices).sum();
        assert_eq!(devices as usize, s.devices.len(), "{}", ctx());
        if served > 0 {
            let cents = s.edge_request_energy_j / 3.6e6 * sc.metrics.electricity_cents_per_kwh
                + s.cloud_cost_usd * 100.0;
            let cpr = overall.cpr_cents.expect("served > 0");
            assert!(
                (cpr * served as f64 - cents).abs() <= 1e-9 * cents.max(1e-9),
                "{}",
                ctx()
            );
            let r = overall.responsiveness.unwrap();
            assert!(r > 0.0 && r <= 1.0, "{}", ctx());
        }
    }
}

/// An `outages` key of one window starting in the first 100 s and lasting up to `longest` s.
fn outage_window(r: &mut rand_pcg::Pcg64Mcg, longest: u32) -> String {
    format!(
        "outages = [{{ start_s = {}, duration_s = {} }}]\n",
        r.random_range(0..100),
        r.random_range(1..longest)
    )
}

/// The failure and cloud-fault keys, drawn at random into a scenario of
/// [`random_scenario`] (its own generator, so that test's cases stay as they are): device
/// outages and their handling, health checks and their thresholds, passive health checking
/// (`max_fails`), connect timeouts, stale
/// load reports, and at the cloud limits of every kind, unit and scope, `max_tokens` with refunds, retries or rejection, outages, degraded
/// periods and a fallback provider.
fn with_random_faults(case: u64, text: &str) -> String {
    let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0x5eed_fa17);
    let mut s = text.to_string();
    // Every [[devices]] entry: scheduled and random outages, sometimes.
    let mut out = String::new();
    for line in s.lines() {
        out += line;
        out += "\n";
        if line.starts_with("queue_capacity = ") {
            if r.random_bool(0.5) {
                out += &format!(
                    "random_outages = {{ mtbf_s = {}, mttr_s = {}, sigma = {:.1} }}\n",
                    r.random_range(5..200),
                    r.random_range(1..60),
                    r.random_range(0.0..1.5)
                );
            }
            if r.random_bool(0.3) {
                out += &outage_window(&mut r, 80);
            }
        }
    }
    s = out;
    let interval = pick(&mut r, &["0", "500", "7000", "30000"]);
    let mut routing = format!(
        "[routing]\non_device_failure = \"{}\"\nhealth_check_interval_ms = {interval}\nconnect_timeout_ms = {}\n",
        pick(&mut r, &["reroute", "cloud", "reject"]),
        pick(&mut r, &["0", "0", "300", "3000"])
    );
    if interval != "0" {
        routing += &format!(
            "unhealthy_threshold = {}\nhealthy_threshold = {}\n",
            r.random_range(1..4),
            r.random_range(1..3)
        );
        if r.random_bool(0.5) {
            routing += &format!(
                "max_fails = {}\nfail_timeout_ms = {}\n",
                r.random_range(1..4),
                pick(&mut r, &["1", "2000", "10000", "60000"])
            );
        }
    }
    s = s.replacen("[routing]\n", &routing, 1);
    if s.contains("\"load_aware\"") || s.contains("\"power_of_two\"") {
        let report = pick(&mut r, &["0", "100", "2000"]);
        s = s.replacen(
            "[routing]\n",
            &format!("load_report_interval_ms = {report}\n[routing]\n"),
            1,
        );
    }
    if s.contains("[cloud]\nenabled = true\n") {
        let max_tokens = r.random_range(1..600u32);
        let refund = r.random_bool(0.5);
        let mut cloud = format!(
            "[cloud]\nenabled = true\nmodel = \"{}\"\non_refused = \"{}\"\nmax_retries = {}\nretry_after_ms = {}\n",
            pick(&mut r, &["gpt-4", "gpt-4o-mini", "claude-haiku-4.5"]),
            pick(&mut r, &["retry", "reject"]),
            r.random_range(0..4),
            r.random_range(1..3000)
        );
        if r.random_bool(0.6) {
            cloud += &format!("max_tokens = {max_tokens}\n");
            if refund {
                cloud += "refund_unused_output = true\n";
            }
        }
        if r.random_bool(0.3) {
            cloud += &format!("max_retry_wait_ms = {}\n", r.random_range(0..2000));
        }
        if r.random_bool(0.3) {
            cloud += &format!("retry_jitter = {:.2}\n", r.random_range(0.0..1.0));
        }
        if r.random_bool(0.4) {
            cloud += &outage_window(&mut r, 60);
        }
        if r.random_bool(0.3) {
            cloud += &format!(
                "random_outages = {{ mtbf_s = {}, mttr_s = {} }}\n",
                r.random_range(10..200),
                r.random_range(1..30)
            );
        }
        if r.random_bool(0.3) {
            cloud += &format!(
                "degraded = {{ windows = [{{ start_s = {}, duration_s = {} }}], latency_factor = {:.1}, error_rate = {:.2} }}\n",
                r.random_range(0..100),
                r.random_range(1..100),
                r.random_range(1.0..5.0),
                r.random_range(0.0..0.8)
            );
        }
        let refunding = cloud.contains("refund_unused_output");
        // Each limit's scope on a stream of its own (the other draws stay as they were): the
        // API's one key, or one per request class in one of three.
        let mut scopes = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0x5c0e_c1a5);
        for _ in 0..r.random_range(0..3) {
            let unit = pick(
                &mut r,
                &["requests", "tokens", "input_tokens", "output_tokens"],
            );
            let limit = if unit == "requests" {
                f64::from(r.random_range(1..20))
            } else {
                f64::from(r.random_range(50..5000))
            };
            let refunded = refunding && (unit == "tokens" || unit == "output_tokens");
            let kind = if refunded {
                "token_bucket"
            } else {
                pick(
                    &mut r,
                    &[
                        "sliding_window",
                        "fixed_window",
                        "token_bucket",
                        "concurrency",
                    ],
                )
            };
            cloud += &format!(
                "[[cloud.limits]]\nkind = \"{kind}\"\nunit = \"{unit}\"\nlimit = {limit}\n"
            );
            if scopes.random_bool(1.0 / 3.0) {
                cloud += "scope = \"class\"\n";
            }
            cloud += &match kind {
                "sliding_window" | "fixed_window" => {
                    format!("window_s = {}\n", r.random_range(1..60))
                }
                "token_bucket" => {
                    format!("refill_per_s = {:.2}\n", limit * r.random_range(0.01..1.0))
                }
                _ => String::new(),
            };
        }
        if r.random_bool(0.4) {
            cloud += &format!(
                "[[cloud.fallbacks]]\nmodel = \"{}\"\n",
                pick(&mut r, &["gpt-4o-mini", "claude-haiku-4.5"])
            );
            if r.random_bool(0.5) {
                cloud += &outage_window(&mut r, 60);
            }
        }
        // Context windows short enough to refuse some requests (drawn last, so that the
        // draws above, and the cases they made, are as before).
        if r.random_bool(0.3) {
            let window = format!("context_tokens = {}\n", r.random_range(50..1500));
            cloud = cloud.replacen("enabled = true\n", &format!("enabled = true\n{window}"), 1);
        }
        if cloud.contains("[[cloud.fallbacks]]") && r.random_bool(0.5) {
            // The fallback's table is the last one.
            cloud += &format!("context_tokens = {}\n", r.random_range(50..1500));
        }
        // The [cloud] table is the last one random_scenario writes before [[devices]]: move it
        // after them, where its sub-tables ([[cloud.limits]], ...) may follow.
        let (head, rest) = s.split_once("[cloud]\nenabled = true\n").unwrap();
        s = format!("{head}{rest}{cloud}");
    }
    s
}

/// `text` with, in about half of its cloud limits per class (`scope = "class"`), one class's
/// own limit (`quotas`): 1 to 19 requests, or 1 to 4,999 tokens (below a call's size: every
/// call of the class is then a bad request). Its own random stream.
fn with_cloud_quotas(case: u64, text: &str) -> String {
    let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(case ^ 0x0c1a_5505);
    let classes: Vec<&str> = text
        .split("[[workload.classes]]\nname = ")
        .skip(1)
        .filter_map(|t| t.lines().next())
        .collect();
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("scope = \"class\"\n") {
        let (head, tail) = rest.split_at(at + "scope = \"class\"\n".len());
        out += head;
        rest = tail;
        // A cloud limit's (the edge's `[rate_limit]` may be per class too).
        let table = out.lines().rev().find(|l| l.starts_with('['));
        let cloud = table == Some("[[cloud.limits]]");
        if !(cloud && !classes.is_empty() && r.random_bool(0.5)) {
            continue;
        }
        let requests = out
            .rsplit("unit = ")
            .next()
            .is_some_and(|u| u.starts_with("\"requests\""));
        let quota = if requests {
            r.random_range(1..20)
        } else {
            r.random_range(1..5000)
        };
        let class = classes[r.random_range(0..classes.len())];
        out += &format!("quotas = {{ {class} = {quota} }}\n");
    }
    out + rest
}

/// Under random device failures, health checks, connect timeouts, stale load reports and
/// cloud faults (rate limits, refunds, retries, outages, degraded periods, a fallback): what
/// [`check_run`] asks of every run holds.
#[test]
fn conservation_under_random_failures_and_cloud_faults() {
    let mut faulted = 0;
    let mut with_quotas = 0;
    let mut predicted = 0;
    let mut reasons = [0u32; 7];
    let cases: u64 = std::env::var("EDGESIM_FAULT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    // EDGESIM_FAULT_FIRST starts the cases elsewhere, for a longer campaign than CI's.
    let first: u64 = std::env::var("EDGESIM_FAULT_FIRST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for case in first..first + cases {
        let text = with_windows(
            case,
            &with_cloud_quotas(
                case,
                &with_predictive_admission(
                    case,
                    &with_queue_timeout(
                        case,
                        &with_random_faults(case, &random_scenario("fault", case)),
                    ),
                ),
            ),
        );
        let sc = scenario(&text);
        let (s, records) = run_collect(&sc);
        let ctx = || format!("case {case}:\n{text}");
        check_run(&ctx, &sc, &s, &records);
        faulted += u32::from(s.cloud_faults.is_some());
        with_quotas += u32::from(text.contains("\nquotas = {"));
        predicted += u32::from(s.predicted_wait_attempts > Some(0));
        if let Some(r) = s.rejected_by {
            for (n, k) in reasons.iter_mut().zip([
                r.no_cloud,
                r.too_long_for_cloud,
                r.bad_request,
                r.cloud_refused,
                r.device_failure,
                r.queue_timeout.unwrap_or(0),
                r.edge_only.unwrap_or(0),
            ]) {
                *n += u32::from(k > 0);
            }
        }
    }
    assert!(faulted > 30, "only {faulted} cases had cloud faults");
    // Classes' own cloud limits came up (in 2 of the first 300 cases; in 689 of 20,000 from case 2,320,000).
    assert!(
        first != 0 || cases < 300 || with_quotas > 0,
        "no case had a class's own cloud limit"
    );
    // Predictive admission refused attempts (in 51 of the first 300 cases).
    assert!(
        first != 0 || cases < 300 || predicted > 0,
        "no case refused an attempt by predictive admission"
    );
    // Every reason for a rejection came up in CI's cases (the first 300: 106, 18, 9, 66, 44 and
    // 29 of them), so each check of check_rejections ran.
    assert!(
        first != 0 || cases < 300 || reasons.iter().all(|&n| n > 0),
        "cases with each reason: {reasons:?}"
    );
}

/// A fleet's results do not depend on how its boards are grouped in the file: each shipped
/// scenario with a group of several boards, run again with that group written as two groups
/// (the same boards, in the same order, under other names), gives the same summary under
/// every selection policy, board by board, names aside. Nothing of a board (its random
/// streams, its failures, its place in the load index) may hang on its group.
#[test]
fn splitting_a_device_group_in_two_changes_nothing_but_names() {
    let policies = [
        "random",
        "weighted",
        "round_robin",
        "power_of_two",
        "load_aware",
    ];
    let summary = |path: &std::path::Path, sets: &[String]| -> serde_json::Value {
        let mut args = vec![
            "run".to_string(),
            path.display().to_string(),
            "--no-out".into(),
            "--json".into(),
        ];
        for s in sets {
            args.extend(["--set".to_string(), s.clone()]);
        }
        let o = edgesim(&args);
        assert_ok(&o);
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for d in v["devices"].as_array_mut().unwrap() {
            d.as_object_mut().unwrap().remove("name");
        }
        v
    };
    let mut checked = 0;
    for name in ["bursty.toml", "failures.toml", "outage.toml", "fleet.toml"] {
        let path = shipped(name);
        let resolved = edgesim(&["check", path.to_str().unwrap()]);
        assert_ok(&resolved);
        let doc: toml::Value = toml::from_str(&String::from_utf8_lossy(&resolved.stdout)).unwrap();
        let groups = doc["devices"].as_array().unwrap();
        let i = groups
            .iter()
            .position(|g| g["count"].as_integer().unwrap() >= 2)
            .unwrap();
        let n = groups[i]["count"].as_integer().unwrap();
        let mut split = groups[..i].to_vec();
        for (suffix, count) in [("x", n - 1), ("y", 1)] {
            let mut g = groups[i].as_table().unwrap().clone();
            let name = format!("{}{suffix}", g["name"].as_str().unwrap());
            g.insert("name".into(), toml::Value::String(name));
            g.insert("count".into(), toml::Value::Integer(count));
            split.push(toml::Value::Table(g));
        }
        split.extend_from_slice(&groups[i + 1..]);
        let devices = format!("devices={}", toml::Value::Array(split));
        for policy in policies {
            let mut sets = vec![format!("selection.kind=\"{policy}\"")];
            if name == "fleet.toml" {
                // 10,000 boards: a quarter of its two minutes is enough.
                sets.push("duration_s=30".into());
            }
            let whole = summary(&path, &sets);
            sets.push(devices.clone());
            assert_eq!(whole, summary(&path, &sets), "{name}, {policy}");
            checked += 1;
        }
    }
    assert_eq!(checked, 20);
}

/// A rate limit that never binds changes nothing where the policy does not read loads: each
/// limiter kind, in requests and in tokens, per device and for the cluster, with room for
/// far more than the run admits, gives the summary of no limit under random, weighted and
/// round-robin selection (load-aware and power-of-two rank devices by their limit usage too,
/// so a tiny usage can break their ties otherwise).
#[test]
fn a_limit_that_never_binds_changes_nothing() {
    let big = "limit = 1000000000";
    let mut limits = vec!["kind = \"concurrency\", limit = 1000000".to_string()];
    for unit in ["requests", "tokens"] {
        for scope in ["device", "cluster", "class"] {
            for kind in [
                format!("kind = \"sliding_window\", window_s = 60, {big}"),
                format!("kind = \"fixed_window\", window_s = 60, {big}"),
                format!("kind = \"token_bucket\", {big}, refill_per_s = 1000000000"),
            ] {
                limits.push(format!("{kind}, unit = \"{unit}\", scope = \"{scope}\""));
            }
        }
    }
    let summary = |path: &std::path::Path, policy: &str, limit: &str| -> serde_json::Value {
        let o = edgesim(&[
            "run",
            path.to_str().unwrap(),
            "--no-out",
            "--json",
            "--set",
            &format!("selection.kind=\"{policy}\""),
            "--set",
            &format!("rate_limit={{ {limit} }}"),
        ]);
        assert_ok(&o);
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v.as_object_mut().unwrap().remove("rate_limit");
        v
    };
    for name in ["bursty.toml", "failures.toml"] {
        let path = shipped(name);
        for policy in ["random", "weighted", "round_robin"] {
            let free = summary(&path, policy, "kind = \"none\"");
            assert!(free["served_edge"].as_u64().unwrap() > 0);
            for limit in &limits {
                assert_eq!(
                    free,
                    summary(&path, policy, limit),
                    "{name}, {policy}, {limit}"
                );
            }
        }
    }
}
