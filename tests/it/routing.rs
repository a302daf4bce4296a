//! Hand-worked small cases: exact routing, timing and energy for tiny traces.

use crate::common::*;
use edgesim::device::DeviceId;
use edgesim::metrics::{RequestRecord, Route};
use edgesim::time::SimDuration;

fn run_trace(tag: &str, rows: &[(f64, u32, u32)], body: &str) -> Vec<RequestRecord> {
    run_trace_summary(tag, rows, body).1
}

fn routes(recs: &[RequestRecord]) -> Vec<Route> {
    recs.iter().map(|r| r.route).collect()
}

fn ms(d: SimDuration) -> f64 {
    d.as_millis_f64()
}

const CLOUD: &str = "[cloud]\nrtt_ms = 100\nttft_ms = 400\ntokens_per_s = 10\nusd_per_1k_input = 1.0\nusd_per_1k_output = 2.0\n";

#[test]
fn sliding_window_sends_the_excess_to_the_cloud() {
    // limit 2 per 10 s: arrivals at 0, 1, 2 -> edge, edge, cloud; at 10.5 the first left the window.
    let body = format!(
        "[rate_limit]\nkind = \"sliding_window\"\nwindow_s = 10\nlimit = 2\n{CLOUD}{}",
        inline_device("d", 8, 0, &[100.0], 10.0, 1.0)
    );
    let recs = run_trace(
        "sw",
        &[(0.0, 10, 2), (1.0, 10, 2), (2.0, 10, 2), (10.5, 10, 2)],
        &body,
    );
    assert_eq!(
        routes(&recs),
        vec![
            Route::Edge(DeviceId(0)),
            Route::Edge(DeviceId(0)),
            Route::Cloud,
            Route::Edge(DeviceId(0))
        ]
    );
    // The cloud request: TTFT = rtt + ttft = 500 ms; e2e adds 1 token at 10 tok/s = 100 ms;
    // cost = (10 x 1 + 2 x 2) / 1000 USD.
    let c = &recs[2];
    assert_eq!((ms(c.ttft), ms(c.e2e)), (500.0, 600.0));
    assert!((c.cost_usd - 0.014).abs() < 1e-15);
}

#[test]
fn token_limits_count_prompt_plus_output() {
    // 100 tokens per 10 s: 60 + 40 fits, the next 1 + 1 does not, a later one does.
    let body = format!(
        "[rate_limit]\nkind = \"sliding_window\"\nunit = \"tokens\"\nwindow_s = 10\nlimit = 100\n{CLOUD}{}",
        inline_device("d", 8, 0, &[100.0], 10.0, 1.0)
    );
    let recs = run_trace(
        "tok",
        &[(0.0, 30, 30), (1.0, 20, 20), (2.0, 1, 1), (11.0, 99, 1)],
        &body,
    );
    assert_eq!(
        routes(&recs),
        vec![
            Route::Edge(DeviceId(0)),
            Route::Edge(DeviceId(0)),
            Route::Cloud,
            Route::Edge(DeviceId(0))
        ]
    );
}

#[test]
fn token_bucket_and_concurrency_cap() {
    // Bucket of 2, refilled at 1 per 4 s.
    let body = format!(
        "[rate_limit]\nkind = \"token_bucket\"\nlimit = 2\nrefill_per_s = 0.25\n{CLOUD}{}",
        inline_device("d", 8, 0, &[100.0], 10.0, 1.0)
    );
    let recs = run_trace(
        "tb",
        &[
            (0.0, 1, 2),
            (0.0, 1, 2),
            (1.0, 1, 2),
            (4.0, 1, 2),
            (4.5, 1, 2),
        ],
        &body,
    );
    assert_eq!(
        routes(&recs),
        vec![
            Route::Edge(DeviceId(0)),
            Route::Edge(DeviceId(0)),
            Route::Cloud,
            Route::Edge(DeviceId(0)),
            Route::Cloud
        ]
    );
    // At most 1 in service: the second arrives while the first decodes (1 s), the third after.
    let body = format!(
        "[rate_limit]\nkind = \"concurrency\"\nlimit = 1\n{CLOUD}{}",
        inline_device("d", 8, 0, &[10.0], 10.0, 1.0)
    );
    let recs = run_trace("cc", &[(0.0, 1, 11), (0.5, 1, 11), (1.0, 1, 11)], &body);
    assert_eq!(
        routes(&recs),
        vec![
            Route::Edge(DeviceId(0)),
            Route::Cloud,
            Route::Edge(DeviceId(0))
        ]
    );
}

#[test]
fn queue_then_full_then_cloud_with_exact_waits() {
    // One slot, queue of 1; service 1 s (10 decode tokens at 10 tok/s). Arrivals 0, 0.2, 0.4:
    // the first is served at once, the second waits until 1.0, the third finds the device full.
    let body = format!(
        "[routing]\nedge_rtt_ms = 10\n{CLOUD}{}",
        inline_device("d", 1, 1, &[10.0], 10.0, 1.0)
    );
    let recs = run_trace("q", &[(0.0, 1, 11), (0.2, 1, 11), (0.4, 1, 11)], &body);
    assert_eq!(
        routes(&recs),
        vec![
            Route::Edge(DeviceId(0)),
            Route::Edge(DeviceId(0)),
            Route::Cloud
        ]
    );
    // TTFT includes the 10 ms round trip; the second waited 800 ms.
    assert_eq!((ms(recs[0].ttft), ms(recs[0].e2e)), (10.0, 1010.0));
    assert_eq!((ms(recs[1].ttft), ms(recs[1].e2e)), (810.0, 1810.0));
}

#[test]
fn processor_sharing_of_decode_throughput() {
    // Two slots, D(1) = D(2) = 10 tok/s: two streams get 5 tok/s each. A decodes 10 tokens,
    // B 5: both at 5 tok/s until B ends at 1.0 s, then A alone at 10 tok/s for its last 5:
    // A ends at 1.5 s.
    let body = inline_device("d", 2, 0, &[10.0, 10.0], 10.0, 2.0);
    let recs = run_trace("ps", &[(0.0, 1, 11), (0.0, 1, 6)], &body);
    assert_eq!((ms(recs[0].e2e), ms(recs[1].e2e)), (1500.0, 1000.0));
    // Energy: 10 W busy shared by 2 for 1 s (5 J each), then A alone for 0.5 s (5 J).
    assert!(
        (recs[0].energy_j - 10.0).abs() < 1e-9,
        "{}",
        recs[0].energy_j
    );
    assert!(
        (recs[1].energy_j - 5.0).abs() < 1e-9,
        "{}",
        recs[1].energy_j
    );
}

#[test]
fn batching_gain_speeds_up_concurrent_streams() {
    // D(2) = 16: two 8-token decodes run at 8 tok/s each and end together at 1 s.
    let body = inline_device("d", 2, 0, &[10.0, 16.0], 10.0, 2.0);
    let recs = run_trace("bg", &[(0.0, 1, 9), (0.0, 1, 9)], &body);
    assert_eq!((ms(recs[0].e2e), ms(recs[1].e2e)), (1000.0, 1000.0));
}

#[test]
fn prefill_time_follows_the_profile() {
    // 200 prompt tokens at 100 tok/s + 20 ms overhead = 2.02 s TTFT; 1 output token = done.
    let text = prefill_device("ttft_overhead_ms = 20.0");
    let recs = run_trace("pf", &[(0.0, 200, 1)], &text);
    assert_eq!((ms(recs[0].ttft), ms(recs[0].e2e)), (2020.0, 2020.0));
    assert!((recs[0].energy_j - 10.1).abs() < 1e-9);
}

#[test]
fn round_robin_cycles_and_retries_skip_full_devices() {
    let mut body =
        "[selection]\nkind = \"round_robin\"\n[routing]\nmax_attempts = 3\n".to_string() + CLOUD;
    for i in 0..3 {
        body += &inline_device(&format!("d{i}"), 1, 0, &[1.0], 10.0, 1.0);
    }
    // Long services (1 token/s): the first three fill d0, d1, d2; the fourth finds all full.
    let recs = run_trace(
        "rr",
        &[(0.0, 1, 100), (0.1, 1, 100), (0.2, 1, 100), (0.3, 1, 100)],
        &body,
    );
    assert_eq!(
        routes(&recs),
        vec![
            Route::Edge(DeviceId(0)),
            Route::Edge(DeviceId(1)),
            Route::Edge(DeviceId(2)),
            Route::Cloud
        ]
    );
    assert_eq!(recs[3].attempts, 3);
}

#[test]
fn load_aware_and_power_of_two_fill_by_load() {
    // d0 has 1 slot, d1 has 2. Three long requests at once: whichever tie-break comes first,
    // loads end at d0 = 1/1 and d1 = 2/2, so d0 serves one and d1 two.
    for sel in ["load_aware", "power_of_two"] {
        let body = format!(
            "[selection]\nkind = \"{sel}\"\n[routing]\nmax_attempts = 2\n{CLOUD}{}{}",
            inline_device("d0", 1, 0, &[1.0], 10.0, 1.0),
            inline_device("d1", 2, 0, &[1.0, 2.0], 10.0, 1.0)
        );
        let recs = run_trace(
            sel,
            &[(0.0, 1, 50), (0.0, 1, 50), (0.0, 1, 50), (0.0, 1, 50)],
            &body,
        );
        let on = |d| {
            recs.iter()
                .filter(|r| r.route == Route::Edge(DeviceId(d)))
                .count()
        };
        assert_eq!((on(0), on(1)), (1, 2), "{sel}");
        assert_eq!(
            recs[3].route,
            Route::Cloud,
            "{sel}: the fourth finds both full"
        );
    }
}

#[test]
fn random_and_weighted_without_retry_redirect_when_their_pick_is_full() {
    // Two single-slot devices and two simultaneous long requests: with one attempt, a random
    // policy sends both to the same device half of the time; that second one goes to the cloud.
    for sel in ["random", "weighted"] {
        let mut cloud = 0;
        for seed in 0..200 {
            let body = format!(
                "seed = {seed}\n[selection]\nkind = \"{sel}\"\n{CLOUD}{}{}",
                inline_device("d0", 1, 0, &[1.0], 10.0, 1.0),
                inline_device("d1", 1, 0, &[1.0], 10.0, 1.0)
            );
            let recs = run_trace(
                &format!("{sel}{seed}"),
                &[(0.0, 1, 50), (0.0, 1, 50)],
                &body,
            );
            cloud += recs.iter().filter(|r| r.route == Route::Cloud).count();
        }
        assert!(
            (70..=130).contains(&cloud),
            "{sel}: {cloud} of 200 runs redirected"
        );
    }
}

#[test]
fn rejected_without_cloud_and_closed_loop_users_go_on() {
    let text = format!(
        "duration_s = 100\n[workload]\nkind = \"closed\"\nusers = 3\nthink_time_s = 1\nprompt_tokens = {{ dist = \"fixed\", value = 1 }}\noutput_tokens = {{ dist = \"fixed\", value = 21 }}\n[cloud]\nenabled = false\n{}",
        inline_device("d", 1, 0, &[10.0], 10.0, 1.0)
    );
    let (s, _) = run_collect(&scenario(&text));
    assert!(s.rejected > 0 && s.served_edge > 0);
    assert_eq!(s.requests_total, s.served_edge + s.rejected);
}

/// One device with 2 slots, prefill at 100 tokens/s, D(1) = 10 and D(2) = 20 tokens/s, and the
/// given extra `[[models]]` keys.
fn prefill_device(extra: &str) -> String {
    format!(
        r#"
[[devices]]
name = "d"
model = "qwen2.5-0.5b"
slots = 2
[devices.inline.device]
name = "b"
memory_gb = 8.0
idle_w = 1.0
[[devices.inline.models]]
model = "qwen2.5-0.5b"
prefill_tps = 100.0
decode_tps = [10.0, 20.0]
busy_w = 5.0
{extra}
"#
    )
}

#[test]
fn serial_prefill_stalls_decoding() {
    // A: 100 prompt tokens at t = 0 (prefill 0-1 s), then 10 tokens at 10 tok/s; 5 done by
    // 1.5 s. B arrives at 1.5 s: its prefill batch holds its 100 tokens and A's next one (101
    // tokens, 1.01 s: 1.5-2.51 s) and stops A's decoding. From 2.51 s two streams share
    // D(2) = 20: A's last 5 tokens take 0.5 s (done at 3.01 s); B decoded 5 by then and its
    // last 5 run alone at 10 tok/s (done at 3.51 s).
    let rows = [(0.0, 100, 11), (1.5, 100, 11)];
    let serial = run_trace("serial", &rows, &prefill_device(""));
    let got: Vec<(f64, f64)> = serial.iter().map(|r| (ms(r.ttft), ms(r.e2e))).collect();
    assert_eq!(got, vec![(1000.0, 3010.0), (1010.0, 2010.0)]);
    // B arrives mid-step instead (1.55 s: A is half-way through its 6th token, 0.1 s a step):
    // its batch (99 prompt tokens + A's next one, 1 s) starts when that step ends, at 1.6 s,
    // so B's first token comes at 2.6 s (TTFT 1.05 s). A then has 4 tokens left at 10 tok/s
    // each beside B (done at 3.0 s); B's last 6 run alone (done at 3.6 s, e2e 2.05 s).
    let mid = run_trace(
        "mid-step",
        &[(0.0, 100, 11), (1.55, 99, 11)],
        &prefill_device(""),
    );
    let got: Vec<(f64, f64)> = mid.iter().map(|r| (ms(r.ttft), ms(r.e2e))).collect();
    let want = [(1000.0, 3000.0), (1050.0, 2050.0)];
    // Events are rounded up to whole microseconds: allow 1 µs.
    let close = |a: f64, b: f64| (a - b).abs() <= 0.001 + 1e-9;
    assert!(
        got.iter()
            .zip(want)
            .all(|(g, w)| close(g.0, w.0) && close(g.1, w.1)),
        "{got:?}"
    );
    // Parallel prefill (the idealised server): A keeps decoding alone at 10 tok/s and is done
    // at 2.0 s; B's decode (2.5-3.5 s) runs alone too.
    let parallel = run_trace(
        "parallel",
        &rows,
        &prefill_device("prefill_mode = \"parallel\""),
    );
    let got: Vec<(f64, f64)> = parallel.iter().map(|r| (ms(r.ttft), ms(r.e2e))).collect();
    assert_eq!(got, vec![(1000.0, 2000.0), (1000.0, 2000.0)]);
}

#[test]
fn serial_prefill_batches_prompts_admitted_together() {
    // Two 100-token prompts at t = 0 on two free slots: one batch of 200 tokens ends both at
    // 2 s (llama.cpp evaluates them in one llama_decode); parallel prefill ends both at 1 s.
    let rows = [(0.0, 100, 1), (0.0, 100, 1)];
    let serial = run_trace("serial2", &rows, &prefill_device(""));
    assert_eq!(
        serial.iter().map(|r| ms(r.ttft)).collect::<Vec<_>>(),
        vec![2000.0, 2000.0]
    );
    let parallel = run_trace(
        "parallel2",
        &rows,
        &prefill_device("prefill_mode = \"parallel\""),
    );
    assert_eq!(
        parallel.iter().map(|r| ms(r.ttft)).collect::<Vec<_>>(),
        vec![1000.0, 1000.0]
    );
    // A prompt that gets its slot while a batch runs waits for the next one: A (0-1 s), then
    // B (arrived at 0.5 s) and C (0.7 s) together, 1-2.5 s (150 tokens): TTFTs 1.0, 2.0, 1.8 s.
    let rows = [(0.0, 100, 1), (0.5, 100, 1), (0.7, 50, 1)];
    let mut three = prefill_device("");
    three = three.replace("slots = 2", "slots = 3");
    let recs = run_trace("serial3", &rows, &three);
    assert_eq!(
        recs.iter().map(|r| ms(r.ttft)).collect::<Vec<_>>(),
        vec![1000.0, 2000.0, 1800.0]
    );
}

#[test]
fn decode_slows_with_context() {
    // γ = 10 ms per 1,000 context tokens. One request of 1,000 prompt tokens (prefill 10 s)
    // decodes 10 tokens starting from 1,001 tokens of context: a step at context c takes
    // 0.1 s + 1e-5 s · c, so the decode takes ∫₀¹⁰ (0.1 + 1e-5 (1001 + v)) dv
    // = 1 + 1e-5 · (10,010 + 50) = 1.1006 s.
    let recs = run_trace(
        "ctx",
        &[(0.0, 1000, 11)],
        &prefill_device("decode_ms_per_1k_context = 10.0"),
    );
    assert_eq!((ms(recs[0].ttft), ms(recs[0].e2e)), (10_000.0, 11_100.6));
    // Two such requests at t = 0 share one prefill batch (2,000 tokens: 20 s) and then decode
    // together, each from 1,001 tokens: a step of both takes 2/20 + 1e-5 (2002 + 2v), so they
    // end together after ∫₀¹⁰ (0.1 + 1e-5 (2002 + 2v)) dv = 1 + 1e-5 (20,020 + 100) = 1.2012 s.
    let recs = run_trace(
        "ctx2",
        &[(0.0, 1000, 11), (0.0, 1000, 11)],
        &prefill_device("decode_ms_per_1k_context = 10.0"),
    );
    assert_eq!(
        recs.iter().map(|r| ms(r.e2e)).collect::<Vec<_>>(),
        vec![21_201.2, 21_201.2]
    );
}

/// One slot serving 11-token requests in 1 s (10 tokens decoded at 10 tokens/s, prefill
/// instant), a queue of 4, and a queue timeout.
fn timeout_body(timeout_ms: f64, extra: &str) -> String {
    format!(
        "[routing]\nqueue_timeout_ms = {timeout_ms}\n{extra}\n{CLOUD}{}",
        inline_device("d", 1, 4, &[10.0], 10.0, 1.0)
    )
}

#[test]
fn a_queue_timeout_sends_a_request_still_waiting_to_the_cloud() {
    // Three requests at 0 on one slot. With a 1.5 s timeout: the first is served 0-1 s, the
    // second waits 1 s (under the timeout) and is served 1-2 s, the third is still queued at
    // 1.5 s and goes to the cloud then: TTFT 1.5 s + rtt 100 ms + ttft 400 ms, e2e 1 s more
    // (10 tokens at 10 tokens/s).
    let rows = [(0.0, 10, 11), (0.0, 10, 11), (0.0, 10, 11)];
    let (s, recs) = run_trace_summary("qt", &rows, &timeout_body(1500.0, ""));
    let edge = Route::Edge(DeviceId(0));
    assert_eq!(routes(&recs), vec![edge, edge, Route::Cloud]);
    let times = |recs: &[RequestRecord]| -> Vec<(f64, f64)> {
        recs.iter().map(|r| (ms(r.ttft), ms(r.e2e))).collect()
    };
    assert_eq!(
        times(&recs),
        vec![(0.0, 1000.0), (1000.0, 2000.0), (2000.0, 3000.0)]
    );
    assert_eq!(s.queue_timeouts, Some(1));
    assert_eq!(s.devices[0].queue_timeouts, Some(1));
    assert_eq!(s.rejected_by, None);
    // Little's law with the timed-out request's 1.5 s in the queue: L·T = 1 + 2 + 1.5 s.
    let l_t = s.devices[0].mean_in_system * s.end_s;
    assert!((l_t - 4.5).abs() < 1e-9, "{l_t}");

    // A timeout of exactly 1 s: the slot freed at 1 s goes to the second request, whose wait
    // reaches the timeout at that instant (completions come first); the third leaves then.
    let (s, recs) = run_trace_summary("qt1", &rows, &timeout_body(1000.0, ""));
    assert_eq!(routes(&recs), vec![edge, edge, Route::Cloud]);
    assert_eq!(
        times(&recs),
        vec![(0.0, 1000.0), (1000.0, 2000.0), (1500.0, 2500.0)]
    );
    assert_eq!(s.queue_timeouts, Some(1));

    // Under "reject" it is lost instead, and counted as such.
    let (s, recs) = run_trace_summary(
        "qtr",
        &rows,
        &timeout_body(1500.0, "on_queue_timeout = \"reject\""),
    );
    assert_eq!(routes(&recs), vec![edge, edge, Route::Rejected]);
    assert_eq!(s.rejected_by.and_then(|r| r.queue_timeout), Some(1));
    assert_eq!(s.rejected_by.map(|r| r.total()), Some(1));

    // Without a timeout the third waits its turn (served 2-3 s), and nothing is counted.
    let body = format!("{CLOUD}{}", inline_device("d", 1, 4, &[10.0], 10.0, 1.0));
    let (s, recs) = run_trace_summary("qt0", &rows, &body);
    assert_eq!(routes(&recs), vec![edge, edge, edge]);
    assert_eq!(
        (s.queue_timeouts, s.devices[0].queue_timeouts),
        (None, None)
    );
}

#[test]
fn a_timed_out_request_leaves_the_devices_rate_limit() {
    // A concurrency limit of 2 counts queued requests too. At 0 the first takes the slot and
    // the second the queue; at 0.1 s a third finds the limit full (cloud); the second times
    // out at 0.5 s and gives its place back, so a fourth at 0.6 s is admitted, queued, and
    // served from 1 s (it waited 0.4 s).
    let rows = [(0.0, 10, 11), (0.0, 10, 11), (0.1, 10, 11), (0.6, 10, 11)];
    let body = timeout_body(500.0, "") + "[rate_limit]\nkind = \"concurrency\"\nlimit = 2\n";
    let (s, recs) = run_trace_summary("qtl", &rows, &body);
    let edge = Route::Edge(DeviceId(0));
    assert_eq!(routes(&recs), vec![edge, Route::Cloud, Route::Cloud, edge]);
    assert_eq!(ms(recs[3].ttft), 400.0);
    assert_eq!(s.throttled_attempts, 1);
    assert_eq!(s.queue_timeouts, Some(1));
}

#[test]
fn a_class_waits_as_long_as_its_own_queue_timeout_says() {
    // Eight requests at 0 on one slot (1 s each) with room for all in its queue, of two
    // classes drawn by share: "chat" waits at most 0.5 s in the queue, "batch" (0: no limit,
    // whatever the routing's 2 s says) as long as it takes. So after the first, every chat request leaves the queue at
    // 0.5 s for the cloud (TTFT 0.5 s + 500 ms), wherever it stands, even behind a batch
    // request that waits on, and the k-th queued batch request is served from k s.
    let rows = [(0.0, 10, 11); 8];
    let p = temp_file("qt-class", "t.csv", &trace_text(&rows));
    let text = format!(
        "seed = 3\n[routing]\nqueue_timeout_ms = 2000\n{CLOUD}{}\n\
         [workload]\nkind = \"trace\"\npath = \"{}\"\n\
         [[workload.classes]]\nname = \"chat\"\nqueue_timeout_ms = 500\n\
         [[workload.classes]]\nname = \"batch\"\nqueue_timeout_ms = 0\n",
        inline_device("d", 1, 8, &[10.0], 10.0, 1.0),
        p.display()
    );
    let (s, recs) = run_collect(&scenario(&text));
    let chat = |r: &RequestRecord| r.class == 0;
    let mut batch_ahead = 0;
    let mut behind_batch = false;
    for r in &recs[1..] {
        if chat(r) {
            assert_eq!(r.route, Route::Cloud, "{r:?}");
            assert_eq!(ms(r.ttft), 1000.0, "{r:?}");
            behind_batch |= batch_ahead > 0;
        } else {
            batch_ahead += 1;
            assert_eq!(r.route, Route::Edge(DeviceId(0)), "{r:?}");
            assert_eq!(ms(r.ttft), 1000.0 * f64::from(batch_ahead), "{r:?}");
        }
    }
    // The seed gives both classes, and a chat request queued behind a batch one (the case
    // where the timed-out request is not at the head of the queue).
    assert!(behind_batch && batch_ahead > 0, "{recs:?}");
    let chats = recs[1..].iter().filter(|r| chat(r)).count() as u64;
    assert_eq!(s.queue_timeouts, Some(chats));
    // The summary by class: the chat requests' TTFT is 1 s but for the first one's, if it
    // was a chat request (0 s); the batch requests' worst is that of the last of them.
    let classes = s.classes.expect("two classes");
    let (c, b) = (&classes[0], &classes[1]);
    assert_eq!((c.name.as_str(), b.name.as_str()), ("chat", "batch"));
    assert_eq!(c.requests + b.requests, 8);
    assert_eq!(c.served_cloud, chats);
    assert_eq!(b.served_edge, b.requests);
    assert_eq!((c.queue_timeouts, b.queue_timeouts), (Some(chats), Some(0)));
    // The cloud's fees are the chat requests' alone.
    assert_eq!(b.cloud_cost_usd, 0.0);
    assert!(c.cloud_cost_usd > 0.0 && c.cloud_cost_usd == s.cloud_cost_usd);
    assert_eq!(c.ttft_ms.p99, Some(1000.0));
    assert_eq!(b.ttft_ms.p99, Some(1000.0 * f64::from(batch_ahead)));
}

#[test]
fn a_free_slot_goes_to_the_queued_request_of_the_highest_priority() {
    // Eight requests at 0 on one slot (1 s each), room for all in the queue, of two classes
    // drawn by share: "batch" (written first, priority 0) and "urgent" (priority 1). After the
    // first, which took the slot, the urgent requests are served in their order of arrival,
    // then the batch ones: the k-th urgent from k s, the j-th batch from (urgents + j) s.
    let rows = [(0.0, 10, 11); 8];
    let p = temp_file("prio", "t.csv", &trace_text(&rows));
    let text = |batch_extra: &str| {
        format!(
            "seed = 3\n{CLOUD}{}\n[workload]\nkind = \"trace\"\npath = \"{}\"\n\
             [[workload.classes]]\nname = \"batch\"\n{batch_extra}\n\
             [[workload.classes]]\nname = \"urgent\"\npriority = 1\n",
            inline_device("d", 1, 8, &[10.0], 10.0, 1.0),
            p.display()
        )
    };
    let (_, recs) = run_collect(&scenario(&text("")));
    let urgent = |r: &RequestRecord| r.class == 1;
    let urgents = recs[1..].iter().filter(|r| urgent(r)).count();
    // The seed gives both classes, and an urgent request arriving behind a batch one.
    let first_batch = recs[1..].iter().position(|r| !urgent(r)).unwrap();
    assert!(recs[1..].iter().skip(first_batch).any(urgent), "{recs:?}");
    let (mut u, mut b) = (0, 0);
    for r in &recs[1..] {
        assert_eq!(r.route, Route::Edge(DeviceId(0)), "{r:?}");
        let starts = if urgent(r) {
            u += 1;
            u
        } else {
            b += 1;
            urgents + b
        };
        assert_eq!(ms(r.ttft), 1000.0 * starts as f64, "{r:?}");
    }
    // A batch request waits at most 2.5 s: those not started by then leave for the cloud
    // (TTFT 2.5 s + 500 ms), though queued behind urgent ones (not at the queue's head).
    let (s, recs) = run_collect(&scenario(&text("queue_timeout_ms = 2500")));
    let mut b = 0;
    let mut clouded = 0;
    for r in recs[1..].iter().filter(|r| !urgent(r)) {
        b += 1;
        if urgents + b <= 2 {
            assert_eq!(ms(r.ttft), 1000.0 * (urgents + b) as f64, "{r:?}");
        } else {
            clouded += 1;
            assert_eq!((r.route, ms(r.ttft)), (Route::Cloud, 3000.0), "{r:?}");
        }
    }
    assert!(clouded > 0);
    assert_eq!(s.queue_timeouts, Some(clouded));
    let classes = s.classes.unwrap();
    let by_class: Vec<Option<u64>> = classes.iter().map(|c| c.queue_timeouts).collect();
    assert_eq!(by_class, [Some(clouded), Some(0)]);
    // The urgent requests are served as before: the batch ones that left do not count.
    let mut u = 0;
    for r in recs[1..].iter().filter(|r| urgent(r)) {
        u += 1;
        assert_eq!(ms(r.ttft), 1000.0 * u as f64, "{r:?}");
    }
}

#[test]
fn class_routes_keep_a_class_at_the_edge_or_in_the_cloud() {
    // Eight requests at 0 on one slot (1 s each) with one queue place, of three classes
    // drawn by share: "hard" goes to the cloud at once (TTFT 500 ms), never to the board;
    // of the others in arrival order the first takes the slot and the second the queue
    // place (served from 1 s); after them the board is full, and a "chat" request goes to
    // the cloud while a "private" one (edge only) is rejected.
    let rows = [(0.0, 10, 11); 8];
    let p = temp_file("class-route", "t.csv", &trace_text(&rows));
    let text = |private_extra: &str| {
        format!(
            "seed = 5\n{CLOUD}{}\n[workload]\nkind = \"trace\"\npath = \"{}\"\n\
             [[workload.classes]]\nname = \"hard\"\nroute = \"cloud\"\n\
             [[workload.classes]]\nname = \"private\"\nroute = \"edge_only\"\n{private_extra}\n\
             [[workload.classes]]\nname = \"chat\"\n",
            inline_device("d", 1, 1, &[10.0], 10.0, 1.0),
            p.display()
        )
    };
    let (s, recs) = run_collect(&scenario(&text("")));
    let mut edge = 0;
    let mut rejected = 0;
    for r in &recs {
        match r.class {
            0 => assert_eq!((r.route, ms(r.ttft)), (Route::Cloud, 500.0), "{r:?}"),
            c => {
                edge += 1;
                if edge <= 2 {
                    assert_eq!(r.route, Route::Edge(DeviceId(0)), "{r:?}");
                    assert_eq!(ms(r.ttft), 1000.0 * f64::from(edge - 1), "{r:?}");
                } else if c == 1 {
                    rejected += 1;
                    assert_eq!(r.route, Route::Rejected, "{r:?}");
                } else {
                    assert_eq!((r.route, ms(r.ttft)), (Route::Cloud, 500.0), "{r:?}");
                }
            }
        }
    }
    // The seed gives every class, and a rejected private request.
    let classes = s.classes.as_ref().unwrap();
    assert!(classes.iter().all(|c| c.requests > 0), "{recs:?}");
    assert!(rejected > 0, "{recs:?}");
    let why = s.rejected_by.unwrap();
    assert_eq!((why.edge_only, why.total()), (Some(rejected), rejected));
    // A private request that leaves the queue at its timeout, where the rule sends it to the
    // cloud, is rejected too: the first private request after the slot's, if it queued.
    let (s, recs) = run_collect(&scenario(&text("queue_timeout_ms = 300")));
    let queued = recs.iter().filter(|r| r.class != 0).nth(1).unwrap();
    // The seed queues a private request.
    assert_eq!(
        (queued.class, queued.route),
        (1, Route::Rejected),
        "{recs:?}"
    );
    let timed_out = 1;
    assert_eq!(s.queue_timeouts, Some(timed_out));
    let why = s.rejected_by.unwrap();
    assert_eq!(why.edge_only, Some(rejected + timed_out));
    // Without an edge-only class the summary has no such count.
    let plain = text("").replace("route = \"edge_only\"\n", "");
    let s = run_collect(&scenario(&plain)).0;
    assert!(s.rejected_by.is_none_or(|w| w.edge_only.is_none()));
}

#[test]
fn a_class_is_served_by_its_device_groups_only() {
    // Requests of 111 tokens every 10 s (each served alone, 1 s), in two classes drawn by
    // share: "docs" on the "big" board only (32,768 tokens of context), "chat" on the "small"
    // one only (64): every docs request is served by the big board, and no chat request fits
    // its board, so each skips the edge (oversized, no attempt) for the cloud, although the
    // big board is idle.
    let rows: Vec<(f64, u32, u32)> = (0..12).map(|k| (10.0 * f64::from(k), 100, 11)).collect();
    let p = temp_file("class-devices", "t.csv", &trace_text(&rows));
    let text = |chat: &str| {
        let small = inline_device("small", 1, 0, &[10.0], 10.0, 1.0)
            .replace("ctx_tokens = 32768", "ctx_tokens = 64");
        format!(
            "seed = 3\n{CLOUD}{small}{}\n[workload]\nkind = \"trace\"\npath = \"{}\"\n\
             [[workload.classes]]\nname = \"docs\"\ndevices = [\"big\"]\n\
             [[workload.classes]]\nname = \"chat\"\n{chat}\n",
            inline_device("big", 1, 0, &[10.0], 10.0, 1.0),
            p.display()
        )
    };
    let (s, recs) = run_collect(&scenario(&text("devices = [\"small\"]")));
    let chats = recs.iter().filter(|r| r.class == 1).count() as u64;
    assert!(chats > 0 && chats < 12, "{recs:?}");
    for r in &recs {
        match r.class {
            0 => assert_eq!(
                (r.route, r.attempts),
                (Route::Edge(DeviceId(1)), 1),
                "{r:?}"
            ),
            _ => assert_eq!((r.route, r.attempts), (Route::Cloud, 0), "{r:?}"),
        }
    }
    assert_eq!(s.oversized, chats);
    // Unrestricted, a chat request fits the big board, which load-aware selection finds or
    // not (a tie with the idle small board, which refuses it as too long).
    let (s, recs) = run_collect(&scenario(&text("")));
    assert_eq!(s.oversized, 0);
    assert!(
        recs.iter()
            .any(|r| r.class == 1 && r.route == Route::Edge(DeviceId(1))),
        "{recs:?}"
    );
    // With no group, no board may serve it: to the cloud without an attempt, not counted as
    // oversized; at the edge only, rejected by that rule.
    let (s, recs) = run_collect(&scenario(&text("devices = []")));
    assert_eq!(s.oversized, 0);
    for r in recs.iter().filter(|r| r.class == 1) {
        assert_eq!((r.route, r.attempts), (Route::Cloud, 0), "{r:?}");
    }
    let s = run_collect(&scenario(&text("devices = []\nroute = \"edge_only\""))).0;
    assert_eq!(s.rejected_by.unwrap().edge_only, Some(chats));
}

/// `scenarios/documents.toml` as README "Request classes" says: the summaries only on the AGX
/// boards (`reader`) wait longer for them than when any board may take them, and the questions
/// start sooner; kept off the slow 14B boards, the questions end sooner.
#[test]
fn the_documents_scenario_trades_as_the_readme_says() {
    let run = |sets: &[&str]| {
        let opts = edgesim::scenario::LoadOptions {
            sets: sets.iter().map(|s| s.to_string()).collect(),
            seed: None,
        };
        let sc = edgesim::scenario::Scenario::load(&shipped("documents.toml"), &opts).unwrap();
        edgesim::sim::run(&sc).unwrap()
    };
    let p95 = |s: &edgesim::metrics::Summary, c: usize, e2e: bool| {
        let c = &s.classes.as_ref().unwrap()[c];
        if e2e { c.e2e_ms.p95 } else { c.ttft_ms.p95 }.unwrap()
    };
    let shipped = run(&[]);
    let summaries = &shipped.classes.as_ref().unwrap()[1];
    let on_reader: u64 = shipped
        .devices
        .iter()
        .filter(|d| d.name.starts_with("reader-"))
        .map(|d| d.served)
        .sum();
    assert!(summaries.served_edge > 0 && on_reader > summaries.served_edge);
    let any = run(&["workload.classes.1.devices=[\"office\",\"reader\"]"]);
    assert!(p95(&shipped, 1, false) > 2.0 * p95(&any, 1, false));
    assert!(p95(&shipped, 0, false) < p95(&any, 0, false));
    let office = run(&["workload.classes.0.devices=[\"office\"]"]);
    assert!(p95(&office, 0, true) < p95(&shipped, 0, true));
    assert!(office.served_cloud > shipped.served_cloud);
}
