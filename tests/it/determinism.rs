//! Same scenario and seed: byte-identical output. Randomness is split by purpose.

use crate::common::*;
use edgesim::report::to_json;

#[test]
fn same_seed_gives_identical_json() {
    for name in ["bursty.toml", "steady.toml", "outage.toml", "failures.toml"] {
        let sc = load(&shipped(name), &[]);
        let a = to_json(&edgesim::sim::run(&sc).unwrap());
        let b = to_json(&edgesim::sim::run(&load(&shipped(name), &[])).unwrap());
        assert_eq!(a, b);
        let c = to_json(&edgesim::sim::run(&load(&shipped(name), &["seed=7"])).unwrap());
        assert_ne!(a, c, "another seed gives another run");
    }
}

#[test]
fn changing_the_policy_leaves_arrivals_unchanged() {
    let arrivals = |sets: &[&str]| {
        let (_, recs) = run_collect(&load(&shipped("bursty.toml"), sets));
        recs.iter()
            .map(|r| (r.arrival, r.class, r.prompt_tokens, r.output_tokens))
            .collect::<Vec<_>>()
    };
    let base = arrivals(&[]);
    assert!(base.len() > 1000);
    for sets in [
        &["selection.kind=random"][..],
        &["selection.kind=power_of_two"],
        &["rate_limit.limit=3"],
        &["cloud.enabled=false"],
        &["devices.0.count=1"],
    ] {
        assert_eq!(arrivals(sets), base, "{sets:?} changed the arrivals");
    }
}

#[test]
fn closed_loop_users_keep_their_own_request_sequence() {
    // With closed-loop users, arrival times depend on service, but the k-th request of each
    // user has the same tokens whatever the policy.
    let text = |sel: &str| {
        format!(
            r#"
duration_s = 300
[workload]
kind = "closed"
users = 5
think_time_s = 3
prompt_tokens = {{ dist = "uniform", min = 1, max = 500 }}
output_tokens = {{ dist = "uniform", min = 1, max = 300 }}
[selection]
kind = "{sel}"
[[devices]]
name = "n"
count = 2
profile = "../calibration/jetson-orin-nano.toml"
model = "qwen2.5-0.5b"
"#
        )
    };
    let a = run_collect(&scenario(&text("random"))).1;
    let b = run_collect(&scenario(&text("load_aware"))).1;
    let tokens = |v: &[edgesim::metrics::RequestRecord]| {
        let mut t: Vec<(u32, u32)> = v
            .iter()
            .map(|r| (r.prompt_tokens, r.output_tokens))
            .collect();
        t.sort();
        t
    };
    let (ta, tb) = (tokens(&a), tokens(&b));
    let n = ta.len().min(tb.len());
    assert!(n > 50);
    // The shorter run's requests are a prefix of each user's sequence, so the multisets overlap
    // almost entirely (differences only in each user's last few requests).
    let common = ta.iter().filter(|x| tb.binary_search(x).is_ok()).count();
    assert!(common as f64 >= 0.9 * n as f64, "{common} of {n}");
}

/// Output tables (Parquet or CSV) are byte-identical across runs of the same scenario and seed.
#[test]
fn output_tables_are_byte_identical() {
    use edgesim::output::{Format, OutputOptions, run_to_dir};
    let sc = load(&shipped("bursty.toml"), &["duration_s=900"]);
    let mut formats = vec![edgesim::output::default_format()];
    if !formats.contains(&Format::Csv) {
        formats.push(Format::Csv);
    }
    let opts = OutputOptions {
        formats,
        requests: true,
        bucket_s: 10.0,
    };
    let dirs: Vec<std::path::PathBuf> = (0..2).map(|i| scratch(&format!("det-{i}"))).collect();
    let mut contents = Vec::new();
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
        let (_, files) = run_to_dir(&sc, d, &opts).unwrap();
        let mut named: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|f| {
                (
                    f.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(f).unwrap(),
                )
            })
            .collect();
        named.sort();
        contents.push(named);
    }
    assert_eq!(contents[0].len(), contents[1].len());
    for (a, b) in contents[0].iter().zip(&contents[1]) {
        assert_eq!(a.0, b.0);
        assert!(a.1 == b.1, "{} differs between runs", a.0);
    }
    for d in &dirs {
        std::fs::remove_dir_all(d).unwrap();
    }
}

/// A run's requests written as a trace and replayed give every request the same route, the
/// same latencies, energy and cost: once the arrivals and token counts are fixed, nothing
/// downstream depends on how they were made (the generator's streams, or the trace reader).
/// The replay starts at the first arrival (trace offsets are relative to the first row), and
/// these scenarios have nothing tied to the clock's absolute time after the arrivals (no
/// outages, no report interval), so every request is only shifted in time.
#[test]
fn replaying_a_runs_requests_as_a_trace_reproduces_every_request() {
    for (name, sets) in [
        ("steady.toml", &[][..]),
        ("bursty.toml", &[][..]),
        ("bursty.toml", &["selection.kind=random"][..]),
        (
            "bursty.toml",
            &["rate_limit.unit=\"tokens\"", "rate_limit.limit=3000"][..],
        ),
    ] {
        let (_, made) = run_collect(&load(&shipped(name), sets));
        assert!(made.len() > 1000, "{name}");
        assert!(
            made.iter()
                .any(|r| r.route == edgesim::metrics::Route::Cloud)
        );
        let rows: Vec<(f64, u32, u32)> = made
            .iter()
            .map(|r| (r.arrival.0 as f64 / 1e6, r.prompt_tokens, r.output_tokens))
            .collect();
        let trace = temp_file("replay", "requests.csv", &trace_text(&rows));
        let workload = format!(
            "workload={{ kind = \"trace\", path = \"{}\" }}",
            trace.display()
        );
        let mut replay_sets = sets.to_vec();
        replay_sets.extend([workload.as_str(), "duration_s=1e9"]);
        let (_, replayed) = run_collect(&load(&shipped(name), &replay_sets));
        assert_eq!(replayed.len(), made.len(), "{name} {sets:?}");
        let shift = made[0].arrival.0 - replayed[0].arrival.0;
        assert!(shift > 0, "the generated run's first arrival is after 0");
        for (a, b) in made.iter().zip(&replayed) {
            let mut b = *b;
            b.arrival.0 += shift;
            assert_eq!(*a, b, "{name} {sets:?}");
        }
    }
}

#[test]
fn run_writes_the_same_files_on_one_thread_as_with_helper_threads() {
    // With helper threads the arrivals are drawn ahead and the tables written behind the event
    // loop (docs/performance.md); `--threads 1` keeps everything on one thread.
    for (name, sets) in [
        ("bursty.toml", &["duration_s=7200"][..]),
        ("failures.toml", &[][..]),
        ("outage.toml", &[][..]),
    ] {
        let path = shipped(name);
        let mut outs = Vec::new();
        for threads in [None, Some("1")] {
            let dir = scratch_dir(&format!("threads-{name}-{}", threads.unwrap_or("all")));
            let mut args = vec!["run".to_string(), path.display().to_string()];
            args.extend(
                sets.iter()
                    .flat_map(|s| ["--set".to_string(), s.to_string()]),
            );
            args.extend(["--csv", "--bucket-s", "10", "--out"].map(String::from));
            args.push(dir.display().to_string());
            if let Some(t) = threads {
                args.extend(["--threads".to_string(), t.to_string()]);
            }
            assert_ok(&edgesim(&args));
            outs.push(folder_files(&dir));
        }
        assert!(outs[0].contains_key("requests.csv") && outs[0].len() >= 7);
        assert_eq!(outs[0], outs[1], "{name}: the files differ");
    }
    let o = edgesim(&["run", "scenarios/bursty.toml", "--no-out", "--threads", "0"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--threads 0: give 1 to 1024"), "{err}");
}
