//! The simulator against closed-form queueing results. Service times are set through the
//! device model: prefill is instant, and a request with `k + 1` output tokens decodes `k`
//! tokens at D(n)/n tokens/s each.

use crate::common::*;
use edgesim::metrics::Route;

/// Erlang B blocking probability for `c` servers and offered load `a` (recursive form).
pub(crate) fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

/// Erlang C probability of waiting.
fn erlang_c(c: u32, a: f64) -> f64 {
    let b = erlang_b(c, a);
    let rho = a / f64::from(c);
    b / (1.0 - rho + rho * b)
}

pub(crate) fn loss_scenario(
    selection: &str,
    devices: u32,
    rate: f64,
    output: &str,
    duration: f64,
    seed: u64,
) -> String {
    let mut s = format!(
        r#"
seed = {seed}
duration_s = {duration}
[workload]
kind = "poisson"
rate_rps = {rate}
prompt_tokens = {{ dist = "fixed", value = 1 }}
output_tokens = {output}
[selection]
kind = "{selection}"
[cloud]
enabled = false
"#
    );
    for i in 0..devices {
        s += &inline_device(&format!("d{i}"), 1, 0, &[10.0], 10.0, 1.0);
    }
    s
}

#[test]
fn erlang_b_loss_with_load_aware_selection() {
    // c = 3 single-slot devices, no queue, no cloud; service 1 s (10 tokens at 10 tok/s).
    // Load-aware finds a free device whenever one exists, so this is M/D/3/3: Erlang B.
    for a in [1.0, 2.0, 4.0] {
        let sc = scenario(&loss_scenario(
            "load_aware",
            3,
            a,
            r#"{ dist = "fixed", value = 11 }"#,
            40_000.0 / a,
            7,
        ));
        let s = edgesim::sim::run(&sc).unwrap();
        let blocked = s.rejected as f64 / s.requests_total as f64;
        let expected = erlang_b(3, a);
        assert!(s.requests_total > 35_000);
        assert!(
            (blocked - expected).abs() < 0.01,
            "A={a}: blocked {blocked:.4}, Erlang B {expected:.4}"
        );
    }
}

/// A periodic load on a loss system, slice by slice: three single-slot boards (service 1 s,
/// no queue, no cloud) under load-aware selection take a rate of 1 request/s for 2,000 s, then
/// 3 for 2,000 s (`shape = [1, 3]`, a mean of 2 over `period_s = 4000`). Each slice lasts
/// some 2,000 service times, so the system is at its steady state for that rate nearly all
/// of it, and the share rejected is the arrival-weighted Erlang B of the slices,
/// (1·B(3, 1) + 3·B(3, 3)) / 4 = 0.2753, not B(3, 2) = 0.2105 of a steady rate at the mean.
#[test]
fn a_periodic_load_is_lost_as_each_slices_erlang_b() {
    let text = loss_scenario(
        "load_aware",
        3,
        2.0,
        r#"{ dist = "fixed", value = 11 }"#,
        100_000.0,
        17,
    )
    .replace(
        "kind = \"poisson\"\nrate_rps = 2\n",
        "kind = \"periodic\"\nrate_rps = 2\nshape = [1, 3]\nperiod_s = 4000\n",
    );
    assert!(text.contains("periodic"), "{text}");
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    let blocked = s.rejected as f64 / s.requests_total as f64;
    let want = (erlang_b(3, 1.0) + 3.0 * erlang_b(3, 3.0)) / 4.0;
    assert!(
        (s.requests_total as f64 - 200_000.0).abs() < 2_000.0,
        "{} requests",
        s.requests_total
    );
    assert!(
        (blocked - want).abs() < 0.01,
        "blocked {blocked:.4}, slice-weighted Erlang B {want:.4}"
    );
    assert!((blocked - erlang_b(3, 2.0)).abs() > 0.05);
}

/// `scenarios/daily.toml` as README "A day of traffic" says: a whole day has as many requests
/// as the same mean rate held steady (the arrivals invert the same integrated rate), and its
/// peaks send several times as much to the cloud; two more AGX boards take most of it back,
/// but not in the peak hour.
#[test]
fn the_daily_scenario_trades_as_the_readme_says() {
    let run = |sets: &[&str]| {
        let opts = edgesim::scenario::LoadOptions {
            sets: sets.iter().map(|s| s.to_string()).collect(),
            seed: None,
        };
        let sc = edgesim::scenario::Scenario::load(&shipped("daily.toml"), &opts).unwrap();
        edgesim::sim::run(&sc).unwrap()
    };
    let day = run(&[]);
    let steady = run(&["workload.shape=[1]"]);
    assert_eq!(day.requests_total, steady.requests_total);
    let mean = 0.55 * 86_400.0;
    assert!((day.requests_total as f64 - mean).abs() < 4.0 * mean.sqrt());
    assert!(day.served_cloud > 5 * steady.served_cloud);
    assert!(day.cloud_cost_usd > 5.0 * steady.cloud_cost_usd);
    let more = run(&["devices.1.count=4"]);
    assert!(more.served_cloud < day.served_cloud / 2);
    // By the hour: the extra boards' day looks fast, its morning peak is not; the peak hour
    // sends far more than the day's share to the cloud.
    let hourly = run(&["devices.1.count=4", "metrics.window_s=3600"]);
    let worst = hourly.windows.as_ref().unwrap().worst;
    assert!(worst.ttft_p95_ms.unwrap().value > 3.0 * hourly.ttft_ms.p95.unwrap());
    let day = run(&["metrics.window_s=3600"]);
    let peak = day.windows.as_ref().unwrap().worst.redirect_rate.unwrap();
    assert!(peak.value > 1.4 * day.served_cloud as f64 / day.requests_total as f64);
    assert!((8.0 * 3600.0..18.0 * 3600.0).contains(&peak.start_s));
}

#[test]
fn random_selection_without_retry_is_independent_mg11_systems() {
    // Random selection, one attempt: each device sees Poisson(λ/c) and is M/G/1/1, which blocks
    // with probability ρ/(1+ρ) (insensitive to the service distribution). Service is uniform:
    // 5..=15 decode tokens at 10 tok/s, mean 1 s.
    for (rate, devices) in [(1.5, 3u32), (4.0, 2)] {
        let sc = scenario(&loss_scenario(
            "random",
            devices,
            rate,
            r#"{ dist = "uniform", min = 6, max = 16 }"#,
            30_000.0 / rate,
            11,
        ));
        let s = edgesim::sim::run(&sc).unwrap();
        let rho = rate / f64::from(devices);
        let expected = rho / (1.0 + rho);
        let blocked = s.rejected as f64 / s.requests_total as f64;
        assert!(
            (blocked - expected).abs() < 0.012,
            "λ={rate}, c={devices}: {blocked:.4} vs {expected:.4}"
        );
    }
}

/// Weighted selection, one attempt: device i sees Poisson(λ·w_i / Σw) (a random split of a
/// Poisson stream) and is M/G/1/1, blocking a share a_i / (1 + a_i), whatever the service
/// distribution. Weights 1 and 3, λ = 2 requests/s, service uniform with mean 1 s: the devices
/// get 0.5 and 1.5 requests/s and block 1/3 and 3/5 of them; together 8/15 are rejected, and
/// they serve 1/3 and 3/5 requests/s.
#[test]
fn weighted_selection_without_retry_is_split_mg11_systems() {
    let dev = |name: &str, weight: f64| {
        inline_device(name, 1, 0, &[10.0], 10.0, 1.0).replacen(
            "slots = 1\n",
            &format!("slots = 1\nweight = {weight:?}\n"),
            1,
        )
    };
    let (rate, duration_s) = (2.0, 30_000.0);
    let text = format!(
        "seed = 13\nduration_s = {duration_s}\n[workload]\nkind = \"poisson\"\nrate_rps = {rate}\n\
         prompt_tokens = {{ dist = \"fixed\", value = 1 }}\n\
         output_tokens = {{ dist = \"uniform\", min = 6, max = 16 }}\n\
         [selection]\nkind = \"weighted\"\n[cloud]\nenabled = false\n{}{}",
        dev("light", 1.0),
        dev("heavy", 3.0)
    );
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    let blocked = s.rejected as f64 / s.requests_total as f64;
    assert!((blocked - 8.0 / 15.0).abs() < 0.008, "{blocked:.4}");
    for (d, want_rps) in s.devices.iter().zip([1.0 / 3.0, 3.0 / 5.0]) {
        let rps = d.served as f64 / duration_s;
        assert!(
            (rps - want_rps).abs() / want_rps < 0.02,
            "{}: {rps:.4} served/s against {want_rps:.4}",
            d.name
        );
    }
}

/// One slot and a long FIFO queue: M/G/1, whose mean wait is Pollaczek-Khinchine's
/// Wq = λ·E[S²] / (2(1 − ρ)) for any service distribution, unlike Erlang C's exponential
/// one. Each stream decodes at 10 tokens/s and prefill is instant, so k + 1 output tokens
/// take k / 10 s: a fixed 51 tokens give deterministic 5 s (M/D/1: Wq = ρ·S / (2(1 − ρ))),
/// and 11 ..= 91 uniform tokens give 1.0, 1.1, ..., 9.0 s, equally likely, whose moments are
/// summed here.
#[test]
fn mg1_mean_wait_matches_pollaczek_khinchine() {
    let cases = [
        ("{ dist = \"fixed\", value = 51 }", 51..=51u32, 3u64),
        ("{ dist = \"uniform\", min = 11, max = 91 }", 11..=91u32, 4),
    ];
    for (dist, outputs, seed) in cases {
        let n = f64::from(outputs.end() - outputs.start() + 1);
        let (m1, m2) = outputs.clone().fold((0.0, 0.0), |(a, b), o| {
            let s = f64::from(o - 1) / 10.0;
            (a + s / n, b + s * s / n)
        });
        let rho = 0.7;
        let lambda = rho / m1;
        let text = format!(
            "seed = {seed}\nduration_s = {}\n[workload]\nkind = \"poisson\"\nrate_rps = {lambda}\n\
             prompt_tokens = {{ dist = \"fixed\", value = 1 }}\noutput_tokens = {dist}\n\
             [cloud]\nenabled = false\n{}",
            250_000.0 / lambda,
            inline_device("d", 1, 100_000, &[10.0], 10.0, 1.0)
        );
        let s = edgesim::sim::run(&scenario(&text)).unwrap();
        assert_eq!(s.rejected, 0);
        let wq = lambda * m2 / (2.0 * (1.0 - rho));
        if outputs.start() == outputs.end() {
            assert!((wq - rho * m1 / (2.0 * (1.0 - rho))).abs() < 1e-9);
        }
        let measured = s.edge.ttft_ms.mean.unwrap() / 1000.0;
        assert!(
            (measured - wq).abs() / wq < 0.05,
            "{dist}: mean wait {measured:.4} s, Pollaczek-Khinchine {wq:.4} s"
        );
    }
}

/// One device with `c` slots and a long queue, no cloud, at load `rho` (about `requests`
/// requests), with `routing` added: D(n) = n x 1000 tok/s, so each stream runs at 1000 tok/s,
/// and output tokens ceil(Exp(mean 1000)): the decoded count floor(X) is geometric, a fine
/// discretisation of an exponential service time with mean q/(1-q)/1000 s. Returns the
/// scenario, λ and μ.
fn mmc_scenario(c: u32, rho: f64, seed: u64, requests: f64, routing: &str) -> (String, f64, f64) {
    let q = (-1.0f64 / 1000.0).exp();
    let mu = 1.0 / (q / (1.0 - q) / 1000.0);
    let lambda = rho * f64::from(c) * mu;
    let decode: Vec<f64> = (1..=c).map(|n| 1000.0 * f64::from(n)).collect();
    let text = format!(
        r#"
seed = {seed}
duration_s = {}
[workload]
kind = "poisson"
rate_rps = {lambda}
prompt_tokens = {{ dist = "fixed", value = 1 }}
output_tokens = {{ dist = "exponential", mean = 1000.0 }}
{routing}[cloud]
enabled = false
{}"#,
        requests / lambda,
        inline_device("d", c, 100_000, &decode, 10.0, 1.0)
    );
    (text, lambda, mu)
}

#[test]
fn mmc_mean_wait_matches_erlang_c() {
    // M/M/c (`mmc_scenario`).
    for (c, rho, seed) in [(1u32, 0.5, 3u64), (2, 0.7, 5)] {
        let (text, lambda, mu) = mmc_scenario(c, rho, seed, 250_000.0, "");
        let s = edgesim::sim::run(&scenario(&text)).unwrap();
        assert_eq!(s.rejected, 0);
        let a = lambda / mu;
        let wq = erlang_c(c, a) / (f64::from(c) * mu - lambda);
        let measured = s.edge.ttft_ms.mean.unwrap() / 1000.0;
        assert!(
            (measured - wq).abs() / wq < 0.08,
            "c={c} ρ={rho}: mean wait {measured:.4} s, Erlang C {wq:.4} s"
        );
        // M/M/1 special case: Wq = ρ/(μ-λ).
        if c == 1 {
            let mm1 = rho / (mu - lambda);
            assert!((wq - mm1).abs() < 1e-9);
        }
    }
}

/// The share of requests that abandon an M/M/c queue whose customers wait at most `tau`
/// for a server (M/M/c+D, first in, first out): the offered wait V (the time until a server
/// would be free for an arrival) has atoms p_k = p_0·a^k/k! (k < c busy servers, a = λ/μ) and,
/// once all c are busy, the density f(v) = λ·p_(c−1)·e^(−(cμ−λ)v) below tau (a served
/// arrival adds an Exp(cμ) to it; the level-crossing balance) and f(tau)·e^(−cμ(v−tau))
/// beyond (those arrivals leave and add nothing). An arrival abandons when V ≥ tau
/// (PASTA): P = f(tau)/(cμ), normalised with Σ p_k + ∫ f = 1. It holds for λ ≥ cμ too.
fn mmc_abandonment(c: u32, lambda: f64, mu: f64, tau: f64) -> f64 {
    let a = lambda / mu;
    let p: Vec<f64> = (0..c)
        .scan(1.0, |term, k| {
            let now = *term;
            *term *= a / f64::from(k + 1);
            Some(now)
        })
        .collect();
    let last = p[c as usize - 1];
    let d = f64::from(c) * mu - lambda;
    let below = if d.abs() < 1e-12 {
        tau
    } else {
        (1.0 - (-d * tau).exp()) / d
    };
    let beyond = (-d * tau).exp() / (f64::from(c) * mu);
    let norm = p.iter().sum::<f64>() + lambda * last * (below + beyond);
    lambda * last * beyond / norm
}

#[test]
fn a_queue_timeout_abandons_as_mmc_plus_d() {
    // One device, c slots, a long queue and `routing.queue_timeout_ms` = tau: the requests
    // still queued after tau leave (here: rejected, no cloud), as impatient customers of
    // M/M/c+D (`mmc_scenario`): loads below, near and above the slots' capacity.
    for (c, rho, tau, seed) in [(1u32, 0.8, 1.0, 3u64), (1, 1.5, 0.5, 4), (3, 0.85, 0.3, 5)] {
        let routing = format!(
            "[routing]\nqueue_timeout_ms = {}\non_queue_timeout = \"reject\"\n",
            tau * 1000.0
        );
        let (text, lambda, mu) = mmc_scenario(c, rho, seed, 150_000.0, &routing);
        let s = edgesim::sim::run(&scenario(&text)).unwrap();
        let timed_out = s.queue_timeouts.unwrap();
        assert_eq!(s.rejected, timed_out, "every rejection is a queue timeout");
        let measured = timed_out as f64 / s.requests_total as f64;
        let expected = mmc_abandonment(c, lambda, mu, tau);
        assert!(
            (measured - expected).abs() < 0.01,
            "c={c} ρ={rho} τ={tau}: {measured:.4} abandoned, M/M/c+D {expected:.4}"
        );
    }
}

/// The blocking probability of M/M/c/N (c servers, at most N in the system, N >= c): the
/// share of arrivals that find N, p_N = p_0·a^N / (c!·c^(N−c)), a = λ/μ.
fn mmcn_blocking(c: u32, n: u32, a: f64) -> f64 {
    // p_k / p_0 for k = 0..=N.
    let terms: Vec<f64> = (0..=n)
        .scan(1.0, |t, k| {
            let now = *t;
            *t *= a / f64::from((k + 1).min(c));
            Some(now)
        })
        .collect();
    terms[n as usize] / terms.iter().sum::<f64>()
}

#[test]
fn predictive_admission_refuses_as_an_mmc_queue_of_k_places() {
    // One device, c slots, a long queue and `routing.max_predicted_wait_ms` = T, no cloud:
    // with every slot busy and q queued, the predicted wait is (q + 1)/c mean service times,
    // so an arrival is admitted while q + 1 <= T·c·μ: at most K = floor(T·c·μ) wait, and
    // the device is M/M/c/(c + K), refusing p_(c+K) of the requests (`mmc_scenario`: the
    // device's measured mean service time converges to 1/μ; T·c·μ is taken half-way between
    // whole numbers). T = 0 admits only to a free slot: Erlang B. Loads below and above the
    // slots' capacity (the prediction keeps the queue finite).
    for (c, rho, places, seed) in [(2u32, 0.9, 3.5, 3u64), (1, 1.2, 2.5, 4), (3, 0.8, 0.0, 5)] {
        let q = (-1.0f64 / 1000.0).exp();
        let mu = 1.0 / (q / (1.0 - q) / 1000.0);
        let t_ms = places / (f64::from(c) * mu) * 1000.0;
        let routing = format!("[routing]\nmax_predicted_wait_ms = {t_ms}\n");
        let (text, lambda, mu) = mmc_scenario(c, rho, seed, 150_000.0, &routing);
        let s = edgesim::sim::run(&scenario(&text)).unwrap();
        let refused = s.predicted_wait_attempts.unwrap();
        assert_eq!(
            s.rejected, refused,
            "every rejection is a predictive refusal"
        );
        assert_eq!(s.full_attempts, 0);
        assert_eq!(s.devices[0].predicted_wait, Some(refused));
        let k = places.floor() as u32;
        let measured = refused as f64 / s.requests_total as f64;
        let expected = mmcn_blocking(c, c + k, lambda / mu);
        assert!(
            (measured - expected).abs() < 0.01,
            "c={c} ρ={rho} K={k}: {measured:.4} refused, M/M/c/(c+K) {expected:.4}"
        );
        if k == 0 {
            assert!((expected - erlang_b(c, lambda / mu)).abs() < 1e-12);
        }
    }
}

/// A bound of 0 admits only to a free slot from the first request on: run for run, a board
/// with a queue and the bound serves and refuses what the same board without a queue does (it
/// admitted to the queue until its first completion, with no service time to predict from).
/// Services of 10 s (10,000 tokens at 1,000 a second) against arrivals at about 1-3 a second,
/// so that tens of requests arrive before the first completion.
#[test]
fn a_bound_of_zero_is_a_board_without_a_queue_from_the_start() {
    let long = |text: String| {
        text.replace(
            "output_tokens = { dist = \"exponential\", mean = 1000.0 }",
            "output_tokens = { dist = \"fixed\", value = 10000 }",
        )
    };
    for (c, rho, seed) in [(1u32, 3.0, 11u64), (2, 1.5, 12), (4, 0.9, 13)] {
        let (bound, _, _) = mmc_scenario(
            c,
            rho,
            seed,
            2_000.0,
            "[routing]\nmax_predicted_wait_ms = 0\n",
        );
        let (no_queue, _, _) = mmc_scenario(c, rho, seed, 2_000.0, "");
        let no_queue = no_queue.replace("queue_capacity = 100000", "queue_capacity = 0");
        let a = edgesim::sim::run(&scenario(&long(bound))).unwrap();
        let b = edgesim::sim::run(&scenario(&long(no_queue))).unwrap();
        assert!(a.rejected > a.served_edge, "c={c}: {} refused", a.rejected);
        assert_eq!(
            (a.served_edge, a.rejected, a.edge_tokens),
            (b.served_edge, b.rejected, b.edge_tokens),
            "c={c}"
        );
        assert_eq!(a.edge.ttft_ms, b.edge.ttft_ms, "c={c}: no request waited");
        assert_eq!(a.predicted_wait_attempts, Some(b.full_attempts), "c={c}");
        assert_eq!(a.full_attempts, 0, "c={c}");
    }
}

#[test]
fn a_classs_own_predicted_wait_refuses_it_alone() {
    // One slot, exponential service μ (`mmc_scenario`), a long queue, no cloud; two classes,
    // a (λ_a) with `max_predicted_wait_ms = 0` of its own and b (λ_b) without: a is admitted
    // only to a free slot, b always queues. With n in the system, arrivals come at λ_a + λ_b
    // when n = 0 and λ_b after, so p_n = p_0·(λ/μ)·(λ_b/μ)^(n−1) for n >= 1 and a is refused
    // 1 − p_0 = 1 − 1 / (1 + (λ/μ) / (1 − λ_b/μ)) of its requests (PASTA); b never.
    let classes = "[[workload.classes]]\nname = \"a\"\nshare = 1\nmax_predicted_wait_ms = 0\n\
                   [[workload.classes]]\nname = \"b\"\nshare = 2\n";
    let (text, lambda, mu) = mmc_scenario(1, 0.8, 7, 150_000.0, classes);
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    let c = s.classes.as_ref().unwrap();
    let (a, b) = (&c[0], &c[1]);
    assert_eq!(b.rejected, 0);
    assert_eq!(s.predicted_wait_attempts, Some(a.rejected));
    let lambda_b = lambda * 2.0 / 3.0;
    let p0 = 1.0 / (1.0 + (lambda / mu) / (1.0 - lambda_b / mu));
    let measured = a.rejected as f64 / a.requests as f64;
    assert!(
        (measured - (1.0 - p0)).abs() < 0.01,
        "class a refused {measured:.4}, expected {:.4}",
        1.0 - p0
    );
    // The same bound on every class is the routing's.
    let every = "[[workload.classes]]\nname = \"a\"\nshare = 1\nmax_predicted_wait_ms = 700\n\
                 [[workload.classes]]\nname = \"b\"\nshare = 2\nmax_predicted_wait_ms = 700\n";
    let routing = "[routing]\nmax_predicted_wait_ms = 700\n[[workload.classes]]\nname = \"a\"\n\
                   share = 1\n[[workload.classes]]\nname = \"b\"\nshare = 2\n";
    let run = |extra: &str| {
        let (text, _, _) = mmc_scenario(2, 0.9, 8, 20_000.0, extra);
        serde_json::to_value(edgesim::sim::run(&scenario(&text)).unwrap()).unwrap()
    };
    let by_class = run(every);
    assert!(by_class["predicted_wait_attempts"].as_u64() > Some(0));
    assert_eq!(by_class, run(routing));
}

/// The mean wait of class `k` (0 = the highest priority) in a non-preemptive priority M/M/c
/// queue whose classes, arriving at `lambdas` (highest priority first), share one service rate
/// `mu` (Cobham's formula, as extended to c servers: Gross and Harris, *Fundamentals of
/// Queueing Theory*, priority disciplines): W_k = W0 / ((1 − σ_{k−1})(1 − σ_k)), with W0 = C(c, a)/(cμ) the
/// mean time until a server frees for an arrival, and σ_k = Σ_{i ≤ k} λ_i/(cμ).
fn priority_wait(c: u32, lambdas: &[f64], mu: f64, k: usize) -> f64 {
    let cmu = f64::from(c) * mu;
    let a = lambdas.iter().sum::<f64>() / mu;
    let w0 = erlang_c(c, a) / cmu;
    let sigma = |k: usize| lambdas[..k].iter().sum::<f64>() / cmu;
    w0 / ((1.0 - sigma(k)) * (1.0 - sigma(k + 1)))
}

#[test]
fn class_priorities_wait_as_a_non_preemptive_priority_queue() {
    // M/M/c (`mmc_scenario`) with half the requests of a class `urgent` of priority 1 and half
    // of `batch` (priority 0, written first): a free slot goes to a queued urgent request
    // first, a request in a slot is never put back.
    let one = "prompt_tokens = { dist = \"fixed\", value = 1 }\n\
               output_tokens = { dist = \"exponential\", mean = 1000.0 }\n";
    let classes = format!(
        "{one}[[workload.classes]]\nname = \"batch\"\n\
         [[workload.classes]]\nname = \"urgent\"\npriority = 1\n"
    );
    for (c, rho, seed) in [(1u32, 0.7, 3u64), (2, 0.8, 5)] {
        let (text, lambda, mu) = mmc_scenario(c, rho, seed, 300_000.0, "");
        assert!(text.contains(one));
        let s = edgesim::sim::run(&scenario(&text.replace(one, &classes))).unwrap();
        assert_eq!(s.rejected, 0);
        let classes = s.classes.unwrap();
        let wait = |name: &str| {
            let k = classes.iter().find(|k| k.name == name).unwrap();
            (k.ttft_ms.mean.unwrap() / 1000.0, k.requests as f64)
        };
        let (urgent, batch) = (wait("urgent"), wait("batch"));
        let half = [lambda / 2.0, lambda / 2.0];
        for ((measured, _), k, name) in [(urgent, 0, "urgent"), (batch, 1, "batch")] {
            let want = priority_wait(c, &half, mu, k);
            assert!(
                (measured - want).abs() / want < 0.05,
                "c={c} ρ={rho}: {name} waits {measured:.4} s on average, the formula {want:.4} s"
            );
        }
        // Work conservation: over both classes the mean wait is first come, first served's.
        let mean = (urgent.0 * urgent.1 + batch.0 * batch.1) / (urgent.1 + batch.1);
        let fcfs = erlang_c(c, lambda / mu) / (f64::from(c) * mu - lambda);
        assert!(
            (mean - fcfs).abs() / fcfs < 0.08,
            "c={c} ρ={rho}: mean wait {mean:.4} s, Erlang C {fcfs:.4} s"
        );
    }
}

#[test]
fn erlang_formulas_match_published_values() {
    // Independent check of the helpers: B(2, 1) = 0.2, B(5, 3) = 0.1101; C(2, 1) = 1/3.
    assert!((erlang_b(2, 1.0) - 0.2).abs() < 1e-12);
    assert!((erlang_b(5, 3.0) - 0.110_054).abs() < 1e-5);
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    // M/M/c+D: with no patience to spare (tau = 0) every arrival that finds all c busy
    // leaves: Erlang B. With unbounded patience and λ < cμ nobody leaves.
    assert!((mmc_abandonment(3, 2.0, 1.0, 0.0) - erlang_b(3, 2.0)).abs() < 1e-12);
    assert!(mmc_abandonment(2, 1.5, 1.0, 1e3) < 1e-12);
    // M/M/1+D at ρ = 1: p0 = 1/(2 + λτ), P = λ·p0/μ.
    assert!((mmc_abandonment(1, 1.0, 1.0, 2.0) - 0.25).abs() < 1e-12);
    // Priorities: one class is Erlang C's wait; M/M/1 at ρ = 0.8 in two equal classes:
    // W0 = 0.8, W_1 = 0.8/0.6, W_2 = 0.8/(0.6 x 0.2), their mean ρ/(μ − λ) = 4.
    let fcfs = erlang_c(2, 1.5) / (2.0 - 1.5);
    assert!((priority_wait(2, &[1.5], 1.0, 0) - fcfs).abs() < 1e-12);
    assert!((priority_wait(1, &[0.4, 0.4], 1.0, 0) - 0.8 / 0.6).abs() < 1e-12);
    assert!((priority_wait(1, &[0.4, 0.4], 1.0, 1) - 0.8 / 0.12).abs() < 1e-12);
}

/// Closed loop: N users who think for Exp(Z) between a response and their next request, one
/// slot with (nearly) exponential service and a FIFO queue: the machine-repair model
/// M/M/1//N. With r = S/Z, P(k at the device) ∝ N!/(N − k)!·r^k, the throughput is
/// X = (1 − P0)/S and the mean response time R = N/X − Z (the response-time law). Service as
/// in `mmc_mean_wait_matches_erlang_c` (geometric decode counts at 1,000 tokens/s, mean
/// 0.9995 s), 5 users thinking 2 s on average.
#[test]
fn closed_loop_users_match_the_machine_repair_model() {
    let q = (-1.0f64 / 1000.0).exp();
    let s_mean = q / (1.0 - q) / 1000.0;
    let (users, think_s) = (5u32, 2.0);
    let r = s_mean / think_s;
    let mut terms = vec![1.0];
    for k in 1..=users {
        let prev = terms[k as usize - 1];
        terms.push(prev * f64::from(users - k + 1) * r);
    }
    let p0 = 1.0 / terms.iter().sum::<f64>();
    let x = (1.0 - p0) / s_mean;
    let response_s = f64::from(users) / x - think_s;
    let duration_s = 200_000.0;
    let text = format!(
        "seed = 9\nduration_s = {duration_s}\n[workload]\nkind = \"closed\"\nusers = {users}\n\
         think_time_s = {think_s}\nprompt_tokens = {{ dist = \"fixed\", value = 1 }}\n\
         output_tokens = {{ dist = \"exponential\", mean = 1000.0 }}\n\
         [cloud]\nenabled = false\n{}",
        inline_device("d", 1, 100, &[1000.0], 10.0, 1.0)
    );
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    assert_eq!((s.rejected, s.served_cloud), (0, 0));
    let measured_x = s.requests_total as f64 / duration_s;
    let measured_r = s.edge.e2e_ms.mean.unwrap() / 1000.0;
    assert!(
        (measured_x - x).abs() / x < 0.015,
        "throughput {measured_x:.4}/s, model {x:.4}/s"
    );
    assert!(
        (measured_r - response_s).abs() / response_s < 0.02,
        "response {measured_r:.4} s, model {response_s:.4} s"
    );
}

/// Power of two choices against the supermarket model (Mitzenmacher, "The power of two
/// choices in randomized load balancing", 2001): n single-slot FIFO servers with exponential
/// service, Poisson arrivals at λn, each joining the shorter of two sampled queues. As n grows
/// the mean time in system, in units of the mean service time, tends to
/// Σ_{i ≥ 1} λ^(2^i − 2) (2.61 at λ = 0.9), against 1/(1 − λ) = 10 for one random queue.
/// 1,000 devices, service as in `mmc_mean_wait_matches_erlang_c` (mean 0.9995 s), 1,600 s
/// (1.44 M requests: over 400 s the empty start still took some 2 % off the mean). Four
/// seeds gave 2.606-2.621.
#[test]
fn power_of_two_matches_the_supermarket_model() {
    let q = (-1.0f64 / 1000.0).exp();
    let s_mean = q / (1.0 - q) / 1000.0;
    let (n, lambda) = (1000u32, 0.9f64);
    let want: f64 = (1..8).map(|i| lambda.powi((1 << i) - 2)).sum();
    assert!((want - 2.614).abs() < 1e-3, "{want}");
    let text = format!(
        "seed = 11\nduration_s = 1600\n[workload]\nkind = \"poisson\"\nrate_rps = {}\n\
         prompt_tokens = {{ dist = \"fixed\", value = 1 }}\n\
         output_tokens = {{ dist = \"exponential\", mean = 1000.0 }}\n\
         [selection]\nkind = \"power_of_two\"\n[cloud]\nenabled = false\n{}",
        lambda * f64::from(n) / s_mean,
        inline_device("d", 1, 100_000, &[1000.0], 10.0, 1.0).replacen(
            "slots = 1\n",
            &format!("slots = 1\ncount = {n}\n"),
            1
        )
    );
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    assert_eq!((s.rejected, s.served_cloud), (0, 0));
    let measured = s.edge.e2e_ms.mean.unwrap() / 1000.0 / s_mean;
    assert!(
        (measured - want).abs() / want < 0.02,
        "mean time in system {measured:.4} service times, supermarket model {want:.4}"
    );
}

/// `devices` boards that are never full (instant service, long queues), chosen at random, the
/// rate limit `limit`, no cloud: what the limiter throttles is rejected.
fn limited(
    rate: f64,
    duration: f64,
    limit: &str,
    devices: u32,
    seed: u64,
) -> edgesim::metrics::Summary {
    let boards: String = (0..devices)
        .map(|i| inline_device(&format!("d{i}"), 64, 100_000, &[1e6], 10.0, 1.0))
        .collect();
    let text = format!(
        "seed = {seed}\nduration_s = {duration}\n[workload]\nkind = \"poisson\"\nrate_rps = {rate}\n\
         prompt_tokens = {{ dist = \"fixed\", value = 1 }}\noutput_tokens = {{ dist = \"fixed\", value = 1 }}\n\
         [selection]\nkind = \"random\"\n[rate_limit]\n{limit}\n[cloud]\nenabled = false\n{boards}"
    );
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    assert_eq!(s.full_attempts, 0);
    assert_eq!(s.throttled_attempts, s.rejected);
    s
}

/// Poisson arrivals at `rate` requests/s for `duration` seconds on `devices` boards under
/// `limit`, seeds 1 and 2: the share throttled is within 0.006 of `want` (`theory` names it).
fn assert_throttled(rate: f64, duration: f64, devices: u32, limit: &str, want: f64, theory: &str) {
    for seed in [1, 2] {
        let s = limited(rate, duration, limit, devices, seed);
        let blocked = s.rejected as f64 / s.requests_total as f64;
        assert!(
            (blocked - want).abs() < 0.006,
            "seed {seed}: {blocked:.4} throttled against {theory} = {want:.4}"
        );
    }
}

/// A sliding window of `L` requests per `W` seconds is a loss system: each admission holds one
/// of `L` places for exactly `W` seconds. Under Poisson arrivals the throttled share is then
/// Erlang's B(L, λW), which does not depend on the holding time's distribution (M/D/L/L).
/// λ = 2/s, W = 10 s, L = 20: B(20, 20) = 0.159 (eight seeds over 50,000 s measured
/// 0.156-0.161).
#[test]
fn a_sliding_window_throttles_as_erlang_b() {
    let want = erlang_b(20, 20.0);
    assert_throttled(
        2.0,
        100_000.0,
        1,
        "kind = \"sliding_window\"\nwindow_s = 10\nlimit = 20",
        want,
        "B(20, 20)",
    );
}

/// The limit's scope, against the same theory: three boards chosen at random (a random split
/// of a Poisson stream is Poisson), 6 requests/s, a window of 10 s. Per device, each board's
/// window of 20 sees 2 requests/s: B(20, 20) = 0.159 again. For the cluster, one window of 60
/// sees them all: B(60, 60) = 0.096. Six seeds over 30,000 s measured 0.157-0.160 and
/// 0.094-0.097.
#[test]
fn a_sliding_windows_scope_splits_or_pools_its_places() {
    for (limit, want, theory) in [
        (
            "limit = 20\nscope = \"device\"",
            erlang_b(20, 20.0),
            "B(20, 20)",
        ),
        (
            "limit = 60\nscope = \"cluster\"",
            erlang_b(60, 60.0),
            "B(60, 60)",
        ),
    ] {
        assert_throttled(
            6.0,
            30_000.0,
            3,
            &format!("kind = \"sliding_window\"\nwindow_s = 10\n{limit}"),
            want,
            theory,
        );
    }
}

/// A fixed window of `L` per `W` seconds admits min(N, L) of the N ~ Poisson(λW) arrivals of
/// each window [kW, (k + 1)W): the throttled share is 1 − E[min(N, L)] / (λW). λW = 20, L = 18:
/// 0.146 (eight seeds over 50,000 s measured 0.142-0.148).
#[test]
fn a_fixed_window_admits_the_expected_minimum_per_window() {
    let (a, l) = (20.0f64, 18u32);
    // E[min(N, L)] = Σ_{k < L} k P(N = k) + L P(N >= L).
    let mut p = (-a).exp();
    let (mut below, mut mass) = (0.0, 0.0);
    for k in 0..l {
        below += f64::from(k) * p;
        mass += p;
        p *= a / f64::from(k + 1);
    }
    let want = 1.0 - (below + f64::from(l) * (1.0 - mass)) / a;
    assert_throttled(
        2.0,
        100_000.0,
        1,
        "kind = \"fixed_window\"\nwindow_s = 10\nlimit = 18",
        want,
        "1 − E[min(N, 18)]/20",
    );
}

/// A token bucket of capacity C refilled at r per second, offered ten times r: it is empty
/// almost always, so over T seconds it admits r·T plus at most the C it started with, and
/// never less than r·T − 1 (a token left when the last arrival came). C = 5, r = 1/s, λ = 10/s.
#[test]
fn an_overloaded_token_bucket_admits_its_refill_rate() {
    for seed in [1, 2] {
        let t = 20_000.0;
        let s = limited(
            10.0,
            t,
            "kind = \"token_bucket\"\nrefill_per_s = 1.0\nlimit = 5",
            1,
            seed,
        );
        let admitted = s.served_edge as f64;
        assert!(
            (t - 1.0..=t + 5.0).contains(&admitted),
            "seed {seed}: {admitted} admitted, against r·T = {t} (+ C = 5 at most)"
        );
    }
}

/// A sliding window counted in tokens is a multi-rate loss system: a request of b tokens holds
/// b of the limit's C units for W seconds. Two classes at Poisson rates λ_k, of b_k tokens each
/// (prompt + output): the Kaufman-Roberts recursion j·q(j) = Σ_k λ_k W b_k q(j − b_k) gives the
/// occupancy, and class k is throttled when more than C − b_k units are held. λ = 1/s per class,
/// W = 10 s, C = 60, b = 2 and 6 tokens: 0.155 and 0.419 (six seeds measured 0.155-0.158 and
/// 0.417-0.420).
#[test]
fn a_sliding_window_in_tokens_throttles_as_kaufman_roberts() {
    let (w, c) = (10.0, 60usize);
    let classes = [(1.0, 2usize), (1.0, 6usize)];
    let mut q = vec![0.0f64; c + 1];
    q[0] = 1.0;
    for j in 1..=c {
        q[j] = classes
            .iter()
            .filter(|(_, b)| *b <= j)
            .map(|(rate, b)| rate * w * *b as f64 * q[j - b])
            .sum::<f64>()
            / j as f64;
    }
    let total: f64 = q.iter().sum();
    let blocked = |b: usize| q[c + 1 - b..].iter().sum::<f64>() / total;
    let text = format!(
        "seed = 5\nduration_s = 100000\n[workload]\nkind = \"poisson\"\nrate_rps = 2.0\n\
         [[workload.classes]]\nname = \"small\"\nprompt_tokens = {{ dist = \"fixed\", value = 1 }}\n\
         output_tokens = {{ dist = \"fixed\", value = 1 }}\n\
         [[workload.classes]]\nname = \"large\"\nprompt_tokens = {{ dist = \"fixed\", value = 3 }}\n\
         output_tokens = {{ dist = \"fixed\", value = 3 }}\n\
         [rate_limit]\nkind = \"sliding_window\"\nunit = \"tokens\"\nwindow_s = {w}\nlimit = {c}\n\
         [cloud]\nenabled = false\n{}",
        inline_device("d", 64, 100_000, &[1e6], 10.0, 1.0)
    );
    let (s, records) = run_collect(&scenario(&text));
    assert_eq!(s.full_attempts, 0);
    for (class, (_, b)) in classes.iter().enumerate() {
        let mine: Vec<_> = records
            .iter()
            .filter(|r| usize::from(r.class) == class)
            .collect();
        let rejected = mine.iter().filter(|r| r.route == Route::Rejected).count();
        let got = rejected as f64 / mine.len() as f64;
        let want = blocked(*b);
        assert!(
            (got - want).abs() < 0.007,
            "class {class} ({b} tokens): {got:.4} throttled against Kaufman-Roberts {want:.4}"
        );
    }
}

/// A concurrency limit of L on a board with more slots than L, whose streams never slow each
/// other (D(n) = 10·n tokens/s), is M/D/L/L: each admission holds a place for its 1 s of
/// service (10 tokens after the first, prefill instant) and gives it back when it ends. λ = 4/s,
/// L = 5: B(5, 4) = 0.199 (six seeds over 50,000 s measured 0.198-0.200).
#[test]
fn an_edge_concurrency_limit_blocks_as_erlang_b() {
    let decode: Vec<f64> = (1..=64).map(|n| 10.0 * f64::from(n)).collect();
    let want = erlang_b(5, 4.0);
    for seed in [1, 2] {
        let text = format!(
            "seed = {seed}\nduration_s = 50000\n[workload]\nkind = \"poisson\"\nrate_rps = 4.0\n\
             prompt_tokens = {{ dist = \"fixed\", value = 1 }}\n\
             output_tokens = {{ dist = \"fixed\", value = 11 }}\n\
             [rate_limit]\nkind = \"concurrency\"\nlimit = 5\n[cloud]\nenabled = false\n{}",
            // Parallel prefill: an admission does not pause the streams decoding (serial
            // prefill would, and make the holding times depend on the load).
            inline_device("d", 64, 100_000, &decode, 10.0, 1.0).replace(
                "prefill_tps = 1e12",
                "prefill_tps = 1e12\nprefill_mode = \"parallel\""
            )
        );
        let s = edgesim::sim::run(&scenario(&text)).unwrap();
        assert_eq!(s.full_attempts, 0);
        let service_ms = s.edge.e2e_ms.p50.unwrap();
        assert!((service_ms - 1000.0).abs() < 5.0, "{service_ms} ms");
        let blocked = s.rejected as f64 / s.requests_total as f64;
        assert!(
            (blocked - want).abs() < 0.005,
            "seed {seed}: {blocked:.4} throttled against B(5, 4) = {want:.4}"
        );
    }
}

/// Class routes split one Poisson stream: a class served at the cloud only never reaches the
/// boards, so the others see Poisson traffic of their shares alone and block as Erlang B for
/// that load (PASTA: each class alike). Three single-slot boards, no queue, service 1 s, 3
/// requests/s in three equal classes: `private` (edge only) and `chat` (edge first) offer 2
/// Erlangs together and each loses B(3, 2) = 0.2105 of its requests, `private` as rejections
/// (`rejected_by.edge_only`), `chat` to the cloud; `hard` (cloud only) goes to the cloud whole.
#[test]
fn class_routes_thin_the_edges_traffic_as_erlang_b_says() {
    let mut text = String::from(
        "seed = 17\nduration_s = 12000\n[workload]\nkind = \"poisson\"\nrate_rps = 3\n\
         prompt_tokens = { dist = \"fixed\", value = 1 }\n\
         output_tokens = { dist = \"fixed\", value = 11 }\n\
         [[workload.classes]]\nname = \"private\"\nroute = \"edge_only\"\n\
         [[workload.classes]]\nname = \"hard\"\nroute = \"cloud\"\n\
         [[workload.classes]]\nname = \"chat\"\n\
         [selection]\nkind = \"load_aware\"\n\
         [cloud]\nttft_ms = 300\ntokens_per_s = 50\nusd_per_1k_input = 1\nusd_per_1k_output = 1\n",
    );
    for i in 0..3 {
        text += &inline_device(&format!("d{i}"), 1, 0, &[10.0], 10.0, 1.0);
    }
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    let classes = s.classes.as_ref().unwrap();
    let (private, hard, chat) = (&classes[0], &classes[1], &classes[2]);
    let b = erlang_b(3, 2.0);
    for (c, lost) in [(private, private.rejected), (chat, chat.served_cloud)] {
        assert!(c.requests > 10_000, "{}", c.name);
        let share = lost as f64 / c.requests as f64;
        assert!(
            (share - b).abs() < 0.012,
            "{}: lost {share:.4}, Erlang B {b:.4}",
            c.name
        );
    }
    // Edge only: never the cloud; its losses are rejections, and the only ones.
    assert_eq!(private.served_cloud, 0);
    assert_eq!(private.served_edge + private.rejected, private.requests);
    assert_eq!(chat.rejected, 0);
    let why = s.rejected_by.unwrap();
    assert_eq!(why.edge_only, Some(private.rejected));
    assert_eq!(why.total(), s.rejected);
    assert_eq!(s.rejected, private.rejected);
    // Cloud only: never a board.
    assert_eq!((hard.served_cloud, hard.served_edge), (hard.requests, 0));
    let served: u64 = s.devices.iter().map(|d| d.served).sum();
    assert_eq!(served, private.served_edge + chat.served_edge);
    assert_eq!(s.served_cloud, hard.requests + chat.served_cloud);
}

/// A rate limit per request class is each class's quota: with a concurrency cap of 2 per
/// class and boards enough for both caps at once (four single-slot boards, load-aware, four
/// attempts), each class is its own loss system of 2 servers fed by its share of the Poisson
/// stream, and goes to the cloud as Erlang B says, whatever the other class does. 3 requests/s
/// in two equal classes, service 1 s: each offers 1.5 Erlangs and overflows B(2, 1.5) =
/// 0.3103 of its requests; one cap of 4 for the cluster would overflow B(4, 3) = 0.2061 of
/// every request.
#[test]
fn a_concurrency_cap_per_class_is_each_classs_erlang_b() {
    let text = |scope: &str, limit: u32| {
        let mut text = format!(
            "seed = 23\nduration_s = 12000\n[workload]\nkind = \"poisson\"\nrate_rps = 3\n\
             prompt_tokens = {{ dist = \"fixed\", value = 1 }}\n\
             output_tokens = {{ dist = \"fixed\", value = 11 }}\n\
             [[workload.classes]]\nname = \"a\"\n[[workload.classes]]\nname = \"b\"\n\
             [selection]\nkind = \"load_aware\"\n[routing]\nmax_attempts = 4\n\
             [rate_limit]\nkind = \"concurrency\"\nscope = \"{scope}\"\nlimit = {limit}\n\
             [cloud]\nttft_ms = 300\ntokens_per_s = 50\nusd_per_1k_input = 1\nusd_per_1k_output = 1\n"
        );
        for i in 0..4 {
            text += &inline_device(&format!("d{i}"), 1, 0, &[10.0], 10.0, 1.0);
        }
        text
    };
    // Class `c` overflows to the cloud as a loss system of `servers` offered 1.5 Erlangs.
    let erlang = |c: &edgesim::metrics::ClassSummary, servers: u32| {
        let overflow = c.served_cloud as f64 / c.requests as f64;
        let b = erlang_b(servers, 1.5);
        assert!(
            (overflow - b).abs() < 0.012,
            "{}: to the cloud {overflow:.4}, Erlang B {b:.4}",
            c.name
        );
    };
    let s = edgesim::sim::run(&scenario(&text("class", 2))).unwrap();
    for c in s.classes.as_ref().unwrap() {
        assert!(c.requests > 15_000, "{}", c.name);
        erlang(c, 2);
    }
    assert!(
        s.rate_limit.contains("per request class"),
        "{}",
        s.rate_limit
    );
    // With quotas of their own, 1 and 3 (the cap, 2, is neither's): B(1, 1.5) = 0.6 and
    // B(3, 1.5) = 0.1343; the boards (four) still hold both quotas at once.
    let quotas = text("class", 2)
        .replace("name = \"a\"\n", "name = \"a\"\nquota = 1\n")
        .replace("name = \"b\"\n", "name = \"b\"\nquota = 3\n");
    let s = edgesim::sim::run(&scenario(&quotas)).unwrap();
    for (c, servers) in s.classes.as_ref().unwrap().iter().zip([1, 3]) {
        erlang(c, servers);
    }
    assert!(
        s.rate_limit.ends_with("per request class; quotas a 1, b 3"),
        "{}",
        s.rate_limit
    );
    // The same boards under one cap of 4 for the cluster: one loss system of 4.
    let s = edgesim::sim::run(&scenario(&text("cluster", 4))).unwrap();
    let overflow = s.served_cloud as f64 / s.requests_total as f64;
    let b = erlang_b(4, 3.0);
    assert!((overflow - b).abs() < 0.01, "{overflow:.4} vs {b:.4}");
}

/// Classes served by disjoint device groups are loss systems of their own: with a class on
/// group `a` (two single-slot boards) and one on group `b` (three), no queue, service 1 s and
/// attempts enough to try every board of a pool, each class is lost as Erlang B says for its
/// share of the Poisson stream and its boards alone, under every policy (each finds a free
/// board of its pool whenever one is free). 3.6 requests/s, shares 1 : 2: `docs` offers 1.2
/// Erlangs to 2 boards and loses B(2, 1.2) = 0.2466, `chat` 2.4 to 3 and loses
/// B(3, 2.4) = 0.2684; and only their own boards serve them.
#[test]
fn classes_on_disjoint_device_groups_are_each_their_own_erlang_b() {
    for policy in [
        "load_aware",
        "random",
        "round_robin",
        "power_of_two",
        "weighted",
    ] {
        let mut text = format!(
            "seed = 29\nduration_s = 10000\n[workload]\nkind = \"poisson\"\nrate_rps = 3.6\n\
             prompt_tokens = {{ dist = \"fixed\", value = 1 }}\n\
             output_tokens = {{ dist = \"fixed\", value = 11 }}\n\
             [[workload.classes]]\nname = \"docs\"\nshare = 1\ndevices = [\"a\"]\n\
             [[workload.classes]]\nname = \"chat\"\nshare = 2\ndevices = [\"b\"]\n\
             [selection]\nkind = \"{policy}\"\n[routing]\nmax_attempts = 3\n\
             [cloud]\nenabled = false\n"
        );
        for (name, count) in [("a", 2), ("b", 3)] {
            text += &inline_device(name, 1, 0, &[10.0], 10.0, 1.0).replace(
                &format!("name = \"{name}\"\n"),
                &format!("name = \"{name}\"\ncount = {count}\n"),
            );
        }
        let s = edgesim::sim::run(&scenario(&text)).unwrap();
        let classes = s.classes.as_ref().unwrap();
        for (c, boards, erlangs) in [(&classes[0], 2, 1.2), (&classes[1], 3, 2.4)] {
            assert!(c.requests > 10_000, "{policy}: {}", c.name);
            let lost = c.rejected as f64 / c.requests as f64;
            let b = erlang_b(boards, erlangs);
            assert!(
                (lost - b).abs() < 0.012,
                "{policy}, {}: lost {lost:.4}, Erlang B {b:.4}",
                c.name
            );
        }
        let served = |prefix: &str| -> u64 {
            s.devices
                .iter()
                .filter(|d| d.name.starts_with(prefix))
                .map(|d| d.served)
                .sum()
        };
        assert_eq!(served("a-"), classes[0].served_edge, "{policy}");
        assert_eq!(served("b-"), classes[1].served_edge, "{policy}");
    }
}
