//! The real cloud: latency tails, rate limits (HTTP 429) with retries, outages.

use edgesim::cloud::CloudAnswer;
use edgesim::metrics::Route;
use edgesim::time::SimTime;
use rand::{RngExt, SeedableRng};

use crate::common::*;

/// A Nano serving qwen2.5-1.5b; `ctx` small sends every request to the cloud (oversized).
fn device(ctx: u32) -> String {
    format!(
        "[[devices]]\nname = \"n\"\nprofile = \"{}\"\nmodel = \"qwen2.5-1.5b\"\nslots = 2\nqueue_capacity = 2\nctx_tokens = {ctx}\n",
        root().join("calibration/jetson-orin-nano.toml").display()
    )
}

fn poisson(rate: f64, duration: f64, body: &str) -> String {
    format!(
        "seed = 11\nduration_s = {duration}\n[workload]\nkind = \"poisson\"\nrate_rps = {rate}\n\
         prompt_tokens = {{ dist = \"fixed\", value = 100 }}\noutput_tokens = {{ dist = \"fixed\", value = 50 }}\n{body}"
    )
}

#[test]
fn scenarios_without_cloud_faults_have_no_cloud_faults_section() {
    let s = edgesim::sim::run(&load(&shipped("bursty.toml"), &[])).unwrap();
    assert!(s.cloud_faults.is_none());
    let json = serde_json::to_string(&s).unwrap();
    assert!(!json.contains("cloud_faults"));
}

/// Cloud TTFT drawn from the GPT-4o mini preset: the served requests' TTFT quantiles are the
/// preset's plus the 150 ms round trip.
#[test]
fn cloud_ttft_follows_the_measured_quantiles() {
    let text = poisson(
        2.0,
        3000.0,
        &format!("{}[cloud]\nmodel = \"gpt-4o-mini\"\n", device(64)),
    );
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    assert_eq!(s.served_cloud, s.requests_total);
    let t = &s.cloud.ttft_ms;
    for (got, want) in [
        (t.p50, 536.0 + 150.0),
        (
            t.p90,
            150.0 + 536.0 * (844.0f64 / 536.0).powf(1.2816 / 1.6449),
        ),
    ] {
        let got = got.unwrap();
        assert!((got - want).abs() / want < 0.04, "{got} vs {want}");
    }
    // A tail: p99 well above p90.
    assert!(t.p99.unwrap() > 2.0 * t.p90.unwrap(), "{t:?}");
}

/// A token bucket at the cloud admits at most capacity + rate · t over any window of length t
/// (property test over random call times and sizes).
#[test]
fn cloud_token_bucket_admits_at_most_capacity_plus_rate_times_t() {
    let text = poisson(
        1.0,
        10.0,
        &format!(
            "{}[cloud]\n[[cloud.limits]]\nkind = \"token_bucket\"\nunit = \"tokens\"\nlimit = 5000\nrefill_per_s = 300\n",
            device(64)
        ),
    );
    let sc = scenario(&text);
    for seed in 0..5u64 {
        let mut cloud =
            edgesim::cloud::CloudState::new(&sc.cloud, &edgesim::rng::RngStreams::new(seed));
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut t = 0.0f64;
        let mut admitted: Vec<(f64, f64)> = Vec::new();
        for _ in 0..3000 {
            t += rng.random_range(0.0..0.5);
            let (p, o) = (rng.random_range(1..800u32), rng.random_range(1..400u32));
            if cloud.call(&sc.cloud, SimTime::from_secs_f64(t), 0, p, o) == CloudAnswer::Accepted {
                admitted.push((SimTime::from_secs_f64(t).as_secs_f64(), f64::from(p + o)));
            }
        }
        assert!(admitted.len() > 100);
        for i in 0..admitted.len() {
            let mut sum = 0.0;
            for j in i..admitted.len() {
                sum += admitted[j].1;
                let span = admitted[j].0 - admitted[i].0;
                assert!(
                    sum <= 5000.0 + 300.0 * span + 1e-6,
                    "seed {seed}: {sum} tokens in {span} s"
                );
            }
        }
    }
}

/// A requests-per-minute limit: in any 60 s the cloud serves at most the limit; the rest is
/// refused with 429 and, with `on_refused = "reject"`, rejected.
#[test]
fn cloud_requests_per_minute_limit_refuses_the_excess() {
    let text = poisson(
        1.0,
        600.0,
        &format!(
            "{}[cloud]\non_refused = \"reject\"\n[[cloud.limits]]\nkind = \"sliding_window\"\nunit = \"requests\"\nwindow_s = 60\nlimit = 20\n",
            device(64)
        ),
    );
    let (s, recs) = run_collect(&scenario(&text));
    let f = s.cloud_faults.clone().unwrap();
    assert!(f.rate_limited > 0);
    assert_eq!(f.rejected_refused, s.rejected);
    assert_eq!(f.rate_limited, s.rejected);
    let mut times: Vec<f64> = recs
        .iter()
        .filter(|r| r.route == Route::Cloud)
        .map(|r| r.arrival.as_secs_f64())
        .collect();
    times.sort_by(f64::total_cmp);
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..].iter().take_while(|u| **u < t + 60.0).count();
        assert!(
            in_window <= 20,
            "{in_window} cloud calls in the minute after {t}"
        );
    }
}

/// During an outage nothing reaches the cloud: what the edge cannot take is refused; with
/// retries, each request waits 1 + 2 + 4 s and is then rejected.
#[test]
fn during_an_outage_the_edge_carries_what_it_can_and_the_cloud_nothing() {
    let text = poisson(
        0.5,
        600.0,
        &format!(
            "{}[cloud]\nmax_retries = 3\nretry_after_ms = 1000\n[[cloud.outages]]\nstart_s = 200\nduration_s = 100\n",
            device(4096)
        ),
    );
    let (s, recs) = run_collect(&scenario(&text));
    let f = s.cloud_faults.clone().unwrap();
    assert!((f.downtime_s - 100.0).abs() < 1e-6, "{f:?}");
    assert!((f.availability - (1.0 - 100.0 / s.end_s)).abs() < 1e-9);
    // No cloud response started inside the window.
    // (A cloud response's first token comes 150 + 600 ms after the call.)
    for r in recs.iter().filter(|r| r.route == Route::Cloud) {
        let sent = r.arrival.as_secs_f64() + r.ttft.as_secs_f64() - 0.75;
        assert!(
            !(200.000_01..299.999_99).contains(&sent),
            "request {} reached the cloud at {sent} s, during the outage",
            r.id
        );
    }
    assert!(f.arrivals_during_outages > 0);
    let edge = f.edge_share_during_outages.unwrap();
    assert!(edge > 0.3, "{f:?}");
    assert_eq!(f.retries, f.unavailable - f.rejected_refused);
    assert_eq!(
        s.requests_total,
        s.served_edge + s.served_cloud + s.rejected
    );
}

/// The shipped outage scenario: the edge carries most of the traffic while the cloud is down.
#[test]
fn shipped_outage_scenario_shows_the_edge_carrying_the_outage() {
    let s = edgesim::sim::run(&load(&shipped("outage.toml"), &[])).unwrap();
    let f = s.cloud_faults.clone().unwrap();
    assert!((f.downtime_s - 600.0).abs() < 1e-6);
    assert!(f.arrivals_during_outages > 100, "{f:?}");
    assert!(f.edge_share_during_outages.unwrap() > 0.5, "{f:?}");
    assert!(f.unavailable > 0 && f.retries > 0, "{f:?}");
}

/// Output-token limits charge max(max_tokens, output) at admission (OpenAI's TPM, Anthropic's
/// OTPM estimate): with `max_tokens = 1000` a 10,000-output-token-per-minute limit admits at
/// most 10 calls in any 60 s window, however short the answers (50 tokens); without
/// `max_tokens` it admits 200.
#[test]
fn output_token_limits_charge_max_tokens_at_admission() {
    let run = |max_tokens: &str| {
        let text = poisson(
            2.0,
            600.0,
            &format!(
                "{}[cloud]\nmodel = \"gpt-4o-mini\"\non_refused = \"reject\"\n{max_tokens}\n\
                 [[cloud.limits]]\nkind = \"sliding_window\"\nunit = \"output_tokens\"\nwindow_s = 60\nlimit = 10000\n",
                device(64)
            ),
        );
        run_collect(&scenario(&text))
    };
    let (s, recs) = run("max_tokens = 1000");
    let mut sent: Vec<f64> = recs
        .iter()
        .filter(|r| r.route == Route::Cloud)
        .map(|r| r.arrival.as_secs_f64())
        .collect();
    sent.sort_by(f64::total_cmp);
    for (i, t) in sent.iter().enumerate() {
        let in_window = sent[i..].iter().take_while(|&&u| u < t + 60.0).count();
        assert!(in_window <= 10, "{in_window} calls in the 60 s after {t}");
    }
    assert!(sent.len() >= 90, "{}", sent.len());
    let f = s.cloud_faults.clone().unwrap();
    assert!(f.rate_limited > 0 && f.bad_request == 0, "{f:?}");
    let (s2, _) = run("");
    assert!(
        s2.served_cloud > 5 * s.served_cloud,
        "{} vs {}",
        s2.served_cloud,
        s.served_cloud
    );
}

/// `refund_unused_output`: what `max_tokens` charged beyond the output goes back into the
/// bucket when the call ends (Anthropic's OTPM correction). Hand-worked, an OTPM bucket of
/// 1,000 tokens refilled at 1/s and max_tokens = 1,000: a call at 0 s empties it; at 1 s
/// (level 1) the next is refused; the first ends at 2 s with 100 output tokens, so 900 come
/// back: level 2 + 900 = 902, still short of 1,000 at 2 s; at 100 s it holds 902 + 98 =
/// 1,000 and admits. Without the refund it holds only 100 at 100 s.
#[test]
fn unused_max_tokens_are_refunded_to_the_bucket_when_a_call_ends() {
    let text = |refund: &str| {
        poisson(
            1.0,
            10.0,
            &format!(
                "{}[cloud]\nmax_tokens = 1000\n{refund}\n[[cloud.limits]]\nkind = \"token_bucket\"\n\
                 unit = \"output_tokens\"\nlimit = 1000\nrefill_per_s = 1\n\
                 [[cloud.limits]]\nkind = \"sliding_window\"\nunit = \"requests\"\nwindow_s = 60\nlimit = 100\n",
                device(64)
            ),
        )
    };
    let at = SimTime::from_secs_f64;
    for (refund, last) in [
        ("refund_unused_output = true", CloudAnswer::Accepted),
        ("", CloudAnswer::RateLimited),
    ] {
        let sc = scenario(&text(refund));
        assert_eq!(sc.cloud.refund_unused_output, !refund.is_empty());
        let mut cloud =
            edgesim::cloud::CloudState::new(&sc.cloud, &edgesim::rng::RngStreams::new(1));
        let c = &sc.cloud;
        assert_eq!(cloud.call(c, at(0.0), 0, 10, 100), CloudAnswer::Accepted);
        assert_eq!(cloud.call(c, at(1.0), 0, 10, 100), CloudAnswer::RateLimited);
        cloud.done(at(2.0), 0, 10, 100);
        assert_eq!(cloud.call(c, at(2.0), 0, 10, 100), CloudAnswer::RateLimited);
        assert_eq!(
            cloud.call(c, at(99.9), 0, 10, 100),
            CloudAnswer::RateLimited
        );
        assert_eq!(cloud.call(c, at(100.0), 0, 10, 100), last, "{refund}");
    }

    // Over a run: calls of ~50 output tokens each charged 1,000 at admission. An OTPM of
    // 10,000 refilled at 10,000 / 60 s per second admits some 10 calls a minute without the
    // refund; with it, each call holds its 1,000 only while it runs (a few seconds), so
    // nearly every call of 1 per second is admitted.
    let run = |refund: &str| {
        let text = poisson(
            1.0,
            600.0,
            &format!(
                "{}[cloud]\nmodel = \"gpt-4o-mini\"\non_refused = \"reject\"\nmax_tokens = 1000\n{refund}\n\
                 [[cloud.limits]]\nkind = \"token_bucket\"\nunit = \"output_tokens\"\nlimit = 10000\nrefill_per_s = 166.67\n",
                device(64)
            ),
        );
        edgesim::sim::run(&scenario(&text)).unwrap()
    };
    let (without, with) = (run(""), run("refund_unused_output = true"));
    assert_eq!(without.requests_total, with.requests_total);
    let minutes = 10.0;
    assert!(
        (without.served_cloud as f64) < (10.0 + 10.0 * minutes) * 1.05,
        "{}",
        without.served_cloud
    );
    assert!(
        with.served_cloud as f64 > 0.95 * with.requests_total as f64,
        "{} of {}",
        with.served_cloud,
        with.requests_total
    );
}

/// `refund_unused_output` needs `max_tokens`, and a bucket on every token limit it refunds.
#[test]
fn refunds_need_max_tokens_and_token_buckets() {
    for (body, needles) in [
        (
            "refund_unused_output = true\n",
            &[
                "`cloud.refund_unused_output` = true",
                "no effect without cloud.max_tokens",
            ][..],
        ),
        (
            "refund_unused_output = true\nmax_tokens = 100\n[[cloud.limits]]\nkind = \"sliding_window\"\n\
             unit = \"requests\"\nwindow_s = 60\nlimit = 10\n[[cloud.limits]]\nkind = \"fixed_window\"\n\
             unit = \"tokens\"\nwindow_s = 60\nlimit = 1000\n",
            &[
                "`cloud.limits[1].kind` = \"fixed_window\"",
                "limits on tokens must be \"token_bucket\"",
            ][..],
        ),
    ] {
        let text = poisson(1.0, 10.0, &format!("{}[cloud]\n{body}", device(64)));
        let err = scenario_error(&text);
        for n in needles {
            assert!(err.contains(n), "{n}: {err}");
        }
    }
}

/// A call that charges more than a limit can ever admit (max_tokens 1000 against an OTPM of
/// 500) gets HTTP 400: rejected at once, never retried.
#[test]
fn a_call_above_a_limits_capacity_is_a_non_retryable_400() {
    let text = poisson(
        0.5,
        200.0,
        &format!(
            "{}[cloud]\nmodel = \"gpt-4o-mini\"\nmax_tokens = 1000\nmax_retries = 3\n\
             [[cloud.limits]]\nkind = \"token_bucket\"\nunit = \"output_tokens\"\nlimit = 500\nrefill_per_s = 100\n",
            device(64)
        ),
    );
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    let f = s.cloud_faults.clone().unwrap();
    assert_eq!(s.rejected, s.requests_total);
    assert_eq!(f.bad_request, s.requests_total);
    assert_eq!((f.retries, f.rate_limited), (0, 0));
}

/// Degraded periods: inside the window the server-side TTFT and per-token time are 3x (the
/// round trip is not), outside nothing changes; a share of calls fails with 5xx and is
/// retried like an outage's refusals.
#[test]
fn degraded_periods_slow_the_cloud_and_fail_a_share_of_calls() {
    let text = poisson(
        1.0,
        600.0,
        &format!(
            "{}[cloud]\nttft_ms = 600\ntokens_per_s = 40\n\
             [cloud.degraded]\nwindows = [{{ start_s = 200, duration_s = 100 }}]\nlatency_factor = 3.0\n",
            device(64)
        ),
    );
    let (s, recs) = run_collect(&scenario(&text));
    let normal_ttft = 0.150 + 0.600;
    let normal_e2e = normal_ttft + 49.0 / 40.0;
    let (mut inside, mut outside) = (0, 0);
    for r in &recs {
        let a = r.arrival.as_secs_f64();
        let (ttft, e2e) = (r.ttft.as_secs_f64(), r.e2e.as_secs_f64());
        if (200.0..300.0).contains(&a) {
            inside += 1;
            assert!((ttft - (0.150 + 3.0 * 0.600)).abs() < 1e-5, "{r:?}");
            assert!((e2e - ttft - 3.0 * 49.0 / 40.0).abs() < 1e-5, "{r:?}");
        } else {
            outside += 1;
            assert!((ttft - normal_ttft).abs() < 1e-5 && (e2e - normal_e2e).abs() < 1e-5);
        }
    }
    assert!(inside > 50 && outside > 400, "{inside} {outside}");
    let f = s.cloud_faults.clone().unwrap();
    assert!((f.degraded_s - 100.0).abs() < 1e-9, "{f:?}");
    assert_eq!(f.server_errors, 0);

    // A 30 % error rate while degraded (always, here): about 30 % of calls fail, each failure
    // is retried once more, and the rest are served.
    let text = poisson(
        1.0,
        2000.0,
        &format!(
            "{}[cloud]\nmax_retries = 5\nretry_after_ms = 100\n\
             [cloud.degraded]\nwindows = [{{ start_s = 0, duration_s = 1e6 }}]\nerror_rate = 0.3\n",
            device(64)
        ),
    );
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    let f = s.cloud_faults.clone().unwrap();
    let calls = s.served_cloud + f.server_errors;
    let share = f.server_errors as f64 / calls as f64;
    assert!((share - 0.3).abs() < 0.03, "{share} {f:?}");
    assert_eq!(f.server_errors, f.retries + f.rejected_refused);
    assert!(s.served_cloud + s.rejected == s.requests_total);
}

/// Bad degraded periods and max_tokens name their key.
#[test]
fn bad_degraded_periods_and_max_tokens_name_the_key() {
    for (body, key) in [
        ("[cloud.degraded]\nerror_rate = 0.1\n", "cloud.degraded"),
        (
            "[cloud.degraded]\nwindows = [{ start_s = 1, duration_s = 2 }]\nlatency_factor = 0.5\n",
            "cloud.degraded.latency_factor",
        ),
        (
            "[cloud.degraded]\nwindows = [{ start_s = 1, duration_s = 2 }]\nerror_rate = 2\n",
            "cloud.degraded.error_rate",
        ),
        (
            "[cloud.degraded]\nwindows = [{ start_s = 1, duration_s = -2 }]\n",
            "cloud.degraded.windows[0].duration_s",
        ),
        (
            "[cloud.degraded]\nrandom = { mtbf_s = 0, mttr_s = 1 }\n",
            "cloud.degraded.random.mtbf_s",
        ),
        ("max_tokens = 0\n", "cloud.max_tokens"),
    ] {
        let body = format!("[cloud]\n{body}");
        let text = poisson(1.0, 10.0, &format!("{}{body}", device(64)));
        let err = scenario_error(&text);
        assert!(err.contains(key), "{key}: {err}");
    }
}

/// A chain of providers: while GPT-4o mini is down, Claude Haiku 4.5 takes the calls at once
/// (no retry wait), at its own price; when the primary's per-minute limit is exhausted the
/// overflow goes to the fallback. Spend per provider adds up to the cloud bill, and each
/// provider has its platform row.
#[test]
fn fallback_providers_take_what_the_primary_refuses() {
    let text = poisson(
        1.0,
        1200.0,
        &format!(
            "{}[cloud]\nmodel = \"gpt-4o-mini\"\n\
             [[cloud.outages]]\nstart_s = 300\nduration_s = 300\n\
             [[cloud.limits]]\nkind = \"sliding_window\"\nunit = \"requests\"\nwindow_s = 60\nlimit = 40\n\
             [[cloud.fallbacks]]\nmodel = \"claude-haiku-4.5\"\n",
            device(64)
        ),
    );
    let (s, recs) = run_collect(&scenario(&text));
    assert_eq!(
        s.served_cloud, s.requests_total,
        "nothing rejected, nothing at the edge"
    );
    let p = s.cloud_providers.clone().unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(
        (p[0].model.as_str(), p[1].model.as_str()),
        ("gpt-4o-mini", "claude-haiku-4.5")
    );
    assert_eq!(p[0].served + p[1].served, s.served_cloud);
    assert!((p[0].cost_usd + p[1].cost_usd - s.cloud_cost_usd).abs() < 1e-9);
    // Every request arriving during the outage went to the fallback, without waiting.
    for r in recs
        .iter()
        .filter(|r| (300.0..600.0).contains(&r.arrival.as_secs_f64()))
    {
        assert_eq!(r.cloud_provider, 1, "{r:?}");
        assert_eq!(r.cloud_retries, 0);
    }
    // Outside it, the primary took at most 40 per minute and the fallback the rest.
    let outside = recs
        .iter()
        .filter(|r| !(300.0..600.0).contains(&r.arrival.as_secs_f64()))
        .count() as u64;
    assert!(p[0].served <= 40 * 15 + 40 && p[0].served > 300, "{p:?}");
    assert!(p[1].served > outside - p[0].served, "{p:?}");
    // Haiku costs more per token than GPT-4o mini: its responses cost more each.
    assert!(p[1].cost_usd / p[1].served as f64 > p[0].cost_usd / p[0].served as f64);
    assert!(p[0].faults.unavailable > 0 && p[0].faults.rate_limited > 0);
    let names: Vec<&str> = s.platforms.iter().map(|r| r.name.as_str()).collect();
    assert!(names.contains(&"cloud / gpt-4o-mini") && names.contains(&"cloud / claude-haiku-4.5"));
    // Without fallbacks there is no `cloud_providers` section.
    let plain = edgesim::sim::run(&scenario(&poisson(
        1.0,
        60.0,
        &format!("{}[cloud]\n", device(64)),
    )))
    .unwrap();
    assert!(plain.cloud_providers.is_none());
}

/// A fallback is a cloud table without the primary's own keys; its errors name it.
#[test]
fn bad_fallbacks_name_the_key() {
    for (body, key) in [
        (
            "model = \"gpt-4o\"\nmax_retries = 5\n",
            "cloud.fallbacks[0].max_retries",
        ),
        (
            "model = \"gpt-4o\"\nttft_ms = -1\n",
            "cloud.fallbacks[0].ttft_ms",
        ),
        (
            "model = \"nobody\"\n",
            "cloud.fallbacks[0].usd_per_1k_input",
        ),
        (
            &"model = \"gpt-4o\"\n[[cloud.fallbacks]]\n".repeat(17),
            "at most 16 fallback providers",
        ),
    ] {
        let body = body.trim_end_matches("[[cloud.fallbacks]]\n");
        let text = poisson(
            1.0,
            10.0,
            &format!("{}[cloud]\n[[cloud.fallbacks]]\n{body}", device(64)),
        );
        let err = scenario_error(&text);
        assert!(err.contains(key), "{key}: {err}");
    }
    // A retry key is the primary's even when written at its default value (which the typed
    // file cannot tell from absent), from the file and from `--set` alike; `enabled = true`,
    // which the resolved form writes in every cloud table, is let through.
    for (body, key) in [
        ("max_retries = 2", "max_retries"),
        ("on_refused = \"retry\"", "on_refused"),
        ("retry_jitter = 0.0", "retry_jitter"),
        ("retry_after_ms = 1000", "retry_after_ms"),
        ("enabled = false", "enabled"),
    ] {
        let text = poisson(
            1.0,
            10.0,
            &format!(
                "{}[cloud]\n[[cloud.fallbacks]]\nmodel = \"gpt-4o\"\n{body}\n",
                device(64)
            ),
        );
        let err = scenario_error(&text);
        let want = format!("`cloud.fallbacks[0].{key}` = (given): is the primary cloud's");
        assert!(err.contains(&want), "{body}: {err}");
        let base = temp_file(
            "fallback-keys",
            "base.toml",
            &poisson(1.0, 10.0, &device(64)),
        );
        let set = format!(
            "cloud.fallbacks=[{{model=\"gpt-4o\", {}}}]",
            body.replace(" = ", "=")
        );
        let opts = edgesim::scenario::LoadOptions {
            sets: vec![set.clone()],
            seed: None,
        };
        let err = edgesim::scenario::Scenario::load(&base, &opts)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&want), "{set}: {err}");
    }
    let text = poisson(
        1.0,
        10.0,
        &format!(
            "{}[cloud]\n[[cloud.fallbacks]]\nmodel = \"gpt-4o\"\nenabled = true\n",
            device(64)
        ),
    );
    let sc = scenario(&text);
    // And the resolved form, which writes it, loads again.
    let resolved = sc.resolved_toml();
    assert!(
        resolved.contains("[[cloud.fallbacks]]\nenabled = true"),
        "{resolved}"
    );
    let again = edgesim::scenario::Scenario::from_str_at(
        &resolved,
        &root().join("tests/resolved.toml"),
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.resolved_toml(), resolved);
}

/// Overlapping outage windows count once: [100, 200) and [150, 250) are 150 s down.
#[test]
fn overlapping_outage_windows_count_once() {
    let text = poisson(
        0.2,
        400.0,
        &format!(
            "{}[cloud]\noutages = [{{ start_s = 100, duration_s = 100 }}, {{ start_s = 150, duration_s = 100 }}]\n",
            device(64)
        ),
    );
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    let f = s.cloud_faults.unwrap();
    assert!((f.downtime_s - 150.0).abs() < 1e-9, "{f:?}");
}

/// `max_retry_wait_ms` caps one wait, hand-worked: a request at 0 s finds the cloud down
/// until 7.5 s. Without a cap it retries at 1, 3, 7 (down) and 15 s and reaches the cloud at
/// 15 s; with waits capped at 2.5 s it retries at 1, 3, 5.5 (down) and 8 s. Its first token
/// comes 150 + 600 ms after the call.
#[test]
fn max_retry_wait_ms_caps_each_doubled_wait() {
    let first_token_s = |cap: &str| {
        let body = format!(
            "{}[cloud]\nmax_retries = 4\nretry_after_ms = 1000\n{cap}\n\
             [[cloud.outages]]\nstart_s = 0\nduration_s = 7.5\n",
            device(64)
        );
        let (s, recs) = run_trace_summary("retry-cap", &[(0.0, 100, 50)], &body);
        assert_eq!((s.served_cloud, recs.len()), (1, 1), "{s:?}");
        (recs[0].ttft.as_secs_f64(), recs[0].cloud_retries)
    };
    let (ttft, retries) = first_token_s("");
    assert!(
        (ttft - 15.75).abs() < 1e-6 && retries == 4,
        "{ttft} {retries}"
    );
    let (ttft, retries) = first_token_s("max_retry_wait_ms = 2500");
    assert!(
        (ttft - 8.75).abs() < 1e-6 && retries == 4,
        "{ttft} {retries}"
    );
}

/// A request may wait at most a day for its retries, all waits together: a longer chain is
/// refused naming `retry_after_ms` when one wait is too long, else `max_retries` (the
/// doubling); a cap makes the chain short, and so does rejecting at once. `retry_after_ms =
/// 1e11` used to run for 48 s and write 2.5 GB of time series for 7,200 s of arrivals.
#[test]
fn a_retry_chain_longer_than_a_day_is_refused() {
    let err = |body: &str| {
        scenario_error(&poisson(
            1.0,
            10.0,
            &format!("{}[cloud]\n{body}", device(64)),
        ))
    };
    let e = err("retry_after_ms = 1e11\nmax_retries = 3\n");
    assert!(
        e.contains("`cloud.retry_after_ms`") && e.contains("a day"),
        "{e}"
    );
    // 2^60 s of doubling from one second.
    let e = err("max_retries = 60\n");
    assert!(
        e.contains("`cloud.max_retries` = 60") && e.contains("max_retry_wait_ms"),
        "{e}"
    );
    // 1 + 2 + ... + 2^16 s = 131,071 s is more than a day; 2^16 - 1 = 65,535 s is not.
    assert!(err("max_retries = 17\n").contains("`cloud.max_retries` = 17"));
    let ok = |body: &str| {
        scenario(&poisson(
            1.0,
            10.0,
            &format!("{}[cloud]\n{body}", device(64)),
        ))
    };
    assert_eq!(ok("max_retries = 16\n").cloud.retry_chain_s(), 65_535.0);
    let capped = ok("max_retries = 60\nmax_retry_wait_ms = 8000\n");
    assert_eq!(capped.cloud.retry_chain_s(), 1.0 + 2.0 + 4.0 + 57.0 * 8.0);
    assert_eq!(
        ok("retry_after_ms = 1e11\non_refused = \"reject\"\n")
            .cloud
            .retry_chain_s(),
        0.0
    );
    let e = err("max_retry_wait_ms = 4e6\n");
    assert!(
        e.contains("`cloud.max_retry_wait_ms`") && e.contains("an hour"),
        "{e}"
    );
    let e = err("max_retry_wait_ms = -1\n");
    assert!(e.contains("`cloud.max_retry_wait_ms`"), "{e}");
}

/// The budgets count the wait tail after the arrivals: a connect timeout of an hour on each of
/// 3 attempts of 3 routing passes (the first and 2 retries), and 3 s of retry waits, make the
/// horizon 9 h 3 s longer than the arrivals, and a time series of 10 s buckets that 1e6
/// buckets would hold over the arrivals alone is refused naming the tail. A queue timeout
/// counts once a pass.
#[test]
fn the_budgets_count_the_retries_and_connect_timeouts_after_the_arrivals() {
    let text = poisson(
        0.001,
        9.99e6,
        &format!(
            "{}[routing]\nmax_attempts = 3\nconnect_timeout_ms = 3.6e6\n[cloud]\n",
            device(64)
        ),
    );
    let sc = scenario(&text);
    assert_eq!(sc.wait_tail_s(), 3.0 + 9.0 * 3600.0);
    assert_eq!(sc.horizon_s(), 9.99e6 + 3.0 + 9.0 * 3600.0);
    let e = edgesim::output::check_bucket_count("--bucket-s", 10.0, &sc, 1e12)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("and up to 32403 s of retries and timeouts"),
        "{e}"
    );
    let without = scenario(&text.replace("connect_timeout_ms = 3.6e6\n", ""));
    edgesim::output::check_bucket_count("--bucket-s", 10.0, &without, 1e12).unwrap();
    // A queue timeout adds one wait of its length to each routing pass (the longest of the
    // classes' when they have their own).
    let queued = text.replace(
        "max_attempts = 3\n",
        "max_attempts = 3\nqueue_timeout_ms = 1000\n",
    );
    assert_eq!(scenario(&queued).wait_tail_s(), 3.0 + 9.0 * 3600.0 + 3.0);
    let by_class = queued.replace(
        "[routing]",
        "[[workload.classes]]\nname = \"a\"\nqueue_timeout_ms = 5000\n\
         [[workload.classes]]\nname = \"b\"\n[routing]",
    );
    assert_eq!(scenario(&by_class).wait_tail_s(), 3.0 + 9.0 * 3600.0 + 15.0);
}

/// A request's `attempts` counts the edge devices tried over all of its routing passes, as
/// docs/metrics.md says: a retry after a cloud refusal routes it again from the edge. One
/// board with one slot and no queue, held by a long request from 0 s, and a cloud down until
/// 2.5 s: the request of 0.001 s finds the board full at 0.001 s, 1.001 s and 3.001 s (waits
/// of 1 s, then 2 s) and is served by the cloud on its third pass, so 3 attempts where
/// `max_attempts` is 1.
#[test]
fn attempts_count_every_routing_pass() {
    let body = format!(
        "{}[cloud]\nretry_after_ms = 1000\n[[cloud.outages]]\nstart_s = 0\nduration_s = 2.5\n",
        device(4096).replace(
            "slots = 2\nqueue_capacity = 2",
            "slots = 1\nqueue_capacity = 0"
        )
    );
    let rows = [(0.0, 100, 1000), (0.001, 100, 50)];
    let (s, recs) = run_trace_summary("attempts-passes", &rows, &body);
    assert_eq!((s.served_edge, s.served_cloud, s.full_attempts), (1, 1, 3));
    let r = &recs[1];
    assert_eq!((r.attempts, r.cloud_retries), (3, 2), "{r:?}");
    // Its last pass at 3.001 s, then the round trip (150 ms) and the cloud's first-token
    // time (600 ms).
    assert!((r.ttft.as_secs_f64() - 3.75).abs() < 1e-6, "{r:?}");
}

/// `retry_jitter` spreads the retries of calls refused together, as client SDKs do (they take
/// up to a quarter off each wait): 200 requests at 0 s find the cloud down until 0.5 s. Without
/// jitter all retry at 1 s and get their first token at 1.75 s (150 + 600 ms after the call);
/// with `retry_jitter = 0.25` each waits 1 s · (1 − 0.25 U), so the first tokens spread over
/// [1.5, 1.75] s with a mean near 1.625 s.
#[test]
fn retry_jitter_spreads_the_retries_of_calls_refused_together() {
    let rows = vec![(0.0, 100, 50); 200];
    let first_tokens = |jitter: &str| {
        let body = format!(
            "{}[cloud]\nretry_after_ms = 1000\n{jitter}\n\
             [[cloud.outages]]\nstart_s = 0\nduration_s = 0.5\n",
            device(64)
        );
        let (s, recs) = run_trace_summary("retry-jitter", &rows, &body);
        assert_eq!(s.served_cloud, 200);
        recs.iter()
            .map(|r| r.ttft.as_secs_f64())
            .collect::<Vec<f64>>()
    };
    assert!(first_tokens("").iter().all(|t| (t - 1.75).abs() < 1e-6));
    let t = first_tokens("retry_jitter = 0.25");
    assert!(
        t.iter().all(|t| (1.5 - 1e-6..=1.75 + 1e-6).contains(t)),
        "{t:?}"
    );
    let mean = t.iter().sum::<f64>() / t.len() as f64;
    // The mean of 200 uniform draws over a 0.25 s span: sd 0.25 / sqrt(12 · 200) = 0.005 s.
    assert!((mean - 1.625).abs() < 0.02, "{mean}");
    let mut distinct = t.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    assert!(distinct.len() > 190, "{}", distinct.len());
    for (v, ok) in [("-0.1", false), ("1.5", false), ("1", true)] {
        let text = poisson(
            1.0,
            10.0,
            &format!("{}[cloud]\nretry_jitter = {v}\n", device(64)),
        );
        if ok {
            scenario(&text);
        } else {
            let e = scenario_error(&text);
            assert!(
                e.contains("`cloud.retry_jitter`") && e.contains("[0, 1]"),
                "{e}"
            );
        }
    }
}

/// A cloud-only scenario with a concurrency limit of C calls, refused calls rejected
/// (`on_refused = "reject"`) and a constant latency S is an M/D/C/C loss system: the share of
/// requests refused with HTTP 429 is Erlang's B(C, λS), insensitive to the service
/// distribution. C = 5, λ = 4 requests/s, S = 500 ms to the first token and 50 output tokens
/// at 200 tokens/s, no round trip (S is read from the run, where every call takes the same
/// time: a ≈ 3 erlangs, B ≈ 0.11).
#[test]
fn a_cloud_concurrency_limit_blocks_as_erlang_b() {
    let text = poisson(
        4.0,
        40_000.0,
        "[cloud]\nrtt_ms = 0\nttft_ms = 500\ntokens_per_s = 200\non_refused = \"reject\"\n\
         [[cloud.limits]]\nkind = \"concurrency\"\nlimit = 5\n",
    );
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    let service_s = s.cloud.e2e_ms.p50.unwrap() / 1000.0;
    assert_eq!(s.cloud.e2e_ms.p99, s.cloud.e2e_ms.p50, "a constant latency");
    let a = 4.0 * service_s;
    let want = crate::queueing::erlang_b(5, a);
    let f = s.cloud_faults.clone().unwrap();
    let blocked = s.rejected as f64 / s.requests_total as f64;
    assert_eq!(f.rate_limited, s.rejected);
    assert!(
        (blocked - want).abs() < 0.006,
        "{blocked:.4} refused against B(5, {a:.3}) = {want:.4}"
    );
}

/// The same limit with `scope = "class"`: each class calls with a key of its own, so class k
/// is a loss system of C servers fed by its share λ_k of the stream, refused B(C, λ_k·S)
/// whatever the other class does; on the API's one key (`scope` `device`, the default, or
/// `cluster`: the same runs) every call is refused B(C, λ·S). C = 3, λ = 4 requests/s in
/// classes of shares 1 : 3, S ≈ 0.745 s: B(3, 0.745) ≈ 0.030 and B(3, 2.235) ≈ 0.200 per
/// class, against B(3, 2.98) ≈ 0.347 for both on one key.
#[test]
fn a_cloud_concurrency_limit_per_class_blocks_as_each_classs_erlang_b() {
    let text = |scope: &str| {
        poisson(
            4.0,
            40_000.0,
            &format!(
                "[[workload.classes]]\nname = \"a\"\nshare = 1\n\
                 [[workload.classes]]\nname = \"b\"\nshare = 3\n\
                 [cloud]\nrtt_ms = 0\nttft_ms = 500\ntokens_per_s = 200\non_refused = \"reject\"\n\
                 [[cloud.limits]]\nkind = \"concurrency\"\nlimit = 3\n{scope}"
            ),
        )
    };
    let refused = |c: &edgesim::metrics::ClassSummary| c.rejected as f64 / c.requests as f64;
    let s = edgesim::sim::run(&scenario(&text("scope = \"class\"\n"))).unwrap();
    let service_s = s.cloud.e2e_ms.p50.unwrap() / 1000.0;
    assert_eq!(s.cloud.e2e_ms.p99, s.cloud.e2e_ms.p50, "a constant latency");
    let classes = s.classes.as_ref().unwrap();
    for (c, rate) in classes.iter().zip([1.0, 3.0]) {
        let want = crate::queueing::erlang_b(3, rate * service_s);
        assert!(
            (refused(c) - want).abs() < 0.008,
            "{}: {:.4} refused against B(3, {:.3}) = {want:.4}",
            c.name,
            refused(c),
            rate * service_s
        );
    }
    assert_eq!(s.cloud_faults.unwrap().rate_limited, s.rejected);
    // One key for the API: the default scope and `cluster` are the same run.
    let one = edgesim::sim::run(&scenario(&text(""))).unwrap();
    let cluster = edgesim::sim::run(&scenario(&text("scope = \"cluster\"\n"))).unwrap();
    assert_eq!(
        serde_json::to_string(&one).unwrap(),
        serde_json::to_string(&cluster)
            .unwrap()
            .replace("cluster", "device")
    );
    let want = crate::queueing::erlang_b(3, 4.0 * service_s);
    for c in one.classes.as_ref().unwrap() {
        assert!(
            (refused(c) - want).abs() < 0.008,
            "{}: {:.4} refused against B(3, {:.3}) = {want:.4}",
            c.name,
            refused(c),
            4.0 * service_s
        );
    }
}

/// A class's own limit on a cloud limit per class (`quotas`): class a, held to one call at
/// once, is a loss system of one server, refused B(1, λ_a·S) = λ_a·S / (1 + λ_a·S); class b
/// keeps the limit's three calls, B(3, λ_b·S), as it does without quotas (the test above).
/// λ = 4 requests/s in shares 1 : 3, S ≈ 0.745 s: B(1, 0.745) ≈ 0.427, B(3, 2.235) ≈ 0.200.
/// The resolved scenario writes the quotas back and runs the same.
#[test]
fn a_class_quota_on_a_cloud_limit_blocks_as_its_own_erlang_b() {
    let text = poisson(
        4.0,
        40_000.0,
        "[[workload.classes]]\nname = \"a\"\nshare = 1\n\
         [[workload.classes]]\nname = \"b\"\nshare = 3\n\
         [cloud]\nrtt_ms = 0\nttft_ms = 500\ntokens_per_s = 200\non_refused = \"reject\"\n\
         [[cloud.limits]]\nkind = \"concurrency\"\nlimit = 3\nscope = \"class\"\n\
         quotas = { a = 1 }\n",
    );
    let sc = scenario(&text);
    let s = edgesim::sim::run(&sc).unwrap();
    let service_s = s.cloud.e2e_ms.p50.unwrap() / 1000.0;
    assert_eq!(s.cloud.e2e_ms.p99, s.cloud.e2e_ms.p50, "a constant latency");
    let classes = s.classes.as_ref().unwrap();
    for (c, servers, rate) in [(&classes[0], 1, 1.0), (&classes[1], 3, 3.0)] {
        let want = crate::queueing::erlang_b(servers, rate * service_s);
        let refused = c.rejected as f64 / c.requests as f64;
        assert!(
            (refused - want).abs() < 0.008,
            "{}: {refused:.4} refused against B({servers}, {:.3}) = {want:.4}",
            c.name,
            rate * service_s
        );
    }
    assert_eq!(s.cloud_faults.clone().unwrap().rate_limited, s.rejected);
    let resolved = sc.resolved_toml();
    assert!(
        resolved.contains("[cloud.limits.quotas]\na = 1.0\n"),
        "{resolved}"
    );
    let again = edgesim::sim::run(&scenario(&resolved)).unwrap();
    assert_eq!(
        serde_json::to_string(&again).unwrap(),
        serde_json::to_string(&s).unwrap()
    );
}

/// A call that charges more than its class's own limit can ever admit is refused with HTTP 400
/// at once, whatever the limit's own: calls of 100 + 50 tokens against a window of 1,000
/// tokens a minute per class, class a's quota 120 tokens. Every call of a is a bad request and
/// rejected; b's are all served (a call every 6 s on average, well under 1,000 tokens a minute
/// most minutes; refused ones are retried).
#[test]
fn a_call_over_its_classs_quota_is_a_bad_request() {
    let text = poisson(
        0.02,
        20_000.0,
        "[[workload.classes]]\nname = \"a\"\nshare = 1\n\
         [[workload.classes]]\nname = \"b\"\nshare = 1\n\
         [cloud]\n[[cloud.limits]]\nkind = \"sliding_window\"\nunit = \"tokens\"\n\
         window_s = 60\nlimit = 1000\nscope = \"class\"\nquotas = { a = 120 }\n",
    );
    let s = edgesim::sim::run(&scenario(&text)).unwrap();
    let classes = s.classes.as_ref().unwrap();
    let (a, b) = (&classes[0], &classes[1]);
    assert!(
        a.requests > 100 && b.requests > 100,
        "{} {}",
        a.requests,
        b.requests
    );
    let f = s.cloud_faults.clone().unwrap();
    assert_eq!((a.rejected, a.served_cloud), (a.requests, 0));
    assert_eq!(f.bad_request, a.requests);
    assert_eq!((b.rejected, b.served_cloud), (0, b.requests));
}

/// The README's table of cloud limits on the clinic ("The cloud's own limits may be per class
/// as well"): each row's questions and research questions sent to the cloud and rejected, and
/// the calls refused.
#[test]
fn the_readme_s_clinic_cloud_limits_hold() {
    let window =
        |rest: &str| format!("cloud.limits=[{{kind=\"sliding_window\",window_s=60,{rest}}}]");
    for (set, questions, research, refused) in [
        (None, (121, 0), (384, 0), 0),
        (Some(window("limit=6")), (64, 10), (238, 146), 626),
        (
            Some(window("limit=3,scope=\"class\"")),
            (82, 5),
            (152, 232),
            831,
        ),
        (
            Some(window(
                "limit=3,scope=\"class\",quotas={questions=4,research=2}",
            )),
            (96, 1),
            (104, 280),
            925,
        ),
        (
            Some(window(
                "limit=3,scope=\"class\",quotas={questions=5,research=1}",
            )),
            (106, 0),
            (54, 330),
            1027,
        ),
    ] {
        let sets: Vec<&str> = set.as_deref().into_iter().collect();
        let s = edgesim::sim::run(&load(&shipped("clinic.toml"), &sets)).unwrap();
        let classes = s.classes.as_ref().unwrap();
        let got = |name: &str| {
            let c = classes.iter().find(|c| c.name == name).unwrap();
            (c.served_cloud, c.rejected)
        };
        let limited = s.cloud_faults.as_ref().map_or(0, |f| f.rate_limited);
        assert_eq!(
            (got("questions"), got("research"), limited),
            (questions, research, refused),
            "{set:?}"
        );
    }
}

/// Context windows, worked by hand: every request skips the board (its context is 64 tokens);
/// the primary holds at most 300 tokens and its fallback 500, so each request goes to the first
/// provider that holds it (a length equal to the window fits), and one of 600 tokens is
/// rejected as too long for the cloud; with the cloud disabled, all are rejected for that.
#[test]
fn a_request_longer_than_every_cloud_context_is_rejected_for_that() {
    let rows = [
        (0.0, 100, 100),
        (1.0, 200, 200),
        (2.0, 300, 300),
        (3.0, 250, 250),
        (4.0, 150, 150),
    ];
    let cloud = "[cloud]\nmodel = \"gpt-4\"\ncontext_tokens = 300\n\
                 [[cloud.fallbacks]]\nmodel = \"gpt-4o-mini\"\ncontext_tokens = 500\n";
    let (s, records) = run_trace_summary("ctx-cloud", &rows, &format!("{}{cloud}", device(64)));
    assert_eq!((s.oversized, s.served_cloud, s.rejected), (5, 4, 1));
    let by = s.rejected_by.expect("one rejected");
    assert_eq!(
        by,
        edgesim::metrics::Rejections {
            too_long_for_cloud: 1,
            ..Default::default()
        }
    );
    let ends: Vec<(Route, u8)> = records
        .iter()
        .map(|r| (r.route, r.cloud_provider))
        .collect();
    assert_eq!(
        ends,
        [
            (Route::Cloud, 0),
            (Route::Cloud, 1),
            (Route::Rejected, 0),
            (Route::Cloud, 1),
            (Route::Cloud, 0)
        ]
    );

    // The run table says why.
    let text = edgesim::report::to_table(&s);
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == [
                    "rejected", "because", "1", "(too", "long", "for", "the", "cloud", "1)"
                ]),
        "{text}"
    );

    let (s, _) = run_trace_summary(
        "ctx-cloud-off",
        &rows,
        &format!("{}[cloud]\nenabled = false\n", device(64)),
    );
    assert_eq!(s.rejected, 5);
    assert_eq!(
        s.rejected_by,
        Some(edgesim::metrics::Rejections {
            no_cloud: 5,
            ..Default::default()
        })
    );
}
