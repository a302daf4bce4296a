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
            if cloud.call(SimTime::from_secs_f64(t), p, o) == CloudAnswer::Accepted {
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
