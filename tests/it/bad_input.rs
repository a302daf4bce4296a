//! Bad input: a clear error naming the file, the key (or line), the value and what is allowed;
//! never a panic; exit code 2.

use std::process::Command;

use crate::common::*;

const GOOD_DEVICE: &str = r#"
[[devices]]
name = "n"
profile = "PROFILE"
model = "qwen2.5-1.5b"
"#;

fn good_device() -> String {
    GOOD_DEVICE.replace(
        "PROFILE",
        &root()
            .join("calibration/jetson-orin-nano.toml")
            .display()
            .to_string(),
    )
}

const WORKLOAD: &str = "duration_s = 10\n[workload]\nkind = \"poisson\"\nrate_rps = 1.0\nprompt_tokens = { dist = \"fixed\", value = 10 }\noutput_tokens = { dist = \"fixed\", value = 10 }\n";

/// Runs `edgesim check` on `text`, which must pass.
fn passes(tag: &str, text: &str) {
    let path = temp_file(tag, &format!("{tag}.toml"), text);
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `edgesim check` on `text` and returns stderr, asserting exit code 2 and no panic.
fn fails(tag: &str, text: &str, needles: &[&str]) -> String {
    let path = temp_file(tag, &format!("{tag}.toml"), text);
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{tag}: {err}");
    assert!(!err.contains("panicked"), "{tag}: {err}");
    assert!(
        err.contains(&format!("{tag}.toml")),
        "{tag}: error does not name the file: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "{tag}: error lacks `{n}`: {err}");
    }
    // `run` fails the same way and writes nothing.
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .arg("run")
        .arg(&path)
        .arg("--no-out")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{tag} (run)");
    err.into_owned()
}

#[test]
fn unknown_key() {
    let text = WORKLOAD.replace("rate_rps = 1.0", "rate_rps = 1.0\nrate_rpz = 2") + &good_device();
    fails(
        "unknown_key",
        &text,
        &[
            "rate_rpz",
            "unknown field",
            "rate_rps",
            "line 2",
            "[workload]",
        ],
    );
}

#[test]
fn wrong_type() {
    let text = WORKLOAD.replace("rate_rps = 1.0", "rate_rps = \"fast\"") + &good_device();
    fails(
        "wrong_type",
        &text,
        &[
            "`rate_rps`: invalid type",
            "\"fast\"",
            "invalid type",
            "expected a number",
            "[workload]",
        ],
    );
}

/// A tagged section given as a bare value names its tag and the choices (it said "invalid
/// type: integer `10`, expected a map" until 2026-12-06); a bare count where a token
/// distribution goes is shown as the constant it likely meant.
#[test]
fn a_bare_value_where_a_tagged_table_goes() {
    let count = WORKLOAD.replace(
        "output_tokens = { dist = \"fixed\", value = 10 }",
        "output_tokens = 12",
    ) + &good_device();
    fails(
        "bare_count",
        &count,
        &[
            "`output_tokens`: expected a table naming `dist` (one of fixed, uniform, lognormal, \
             exponential, empirical), got `12` (a constant is { dist = \"fixed\", value = 12 })",
        ],
    );
    let list = WORKLOAD.replace(
        "prompt_tokens = { dist = \"fixed\", value = 10 }",
        "prompt_tokens = [10, 20]",
    ) + &good_device();
    fails(
        "bare_list",
        &list,
        &[
            "`prompt_tokens`: expected a table naming `dist`",
            "got `[10, 20]`",
        ],
    );
    let text = WORKLOAD.replacen("duration_s = 10\n", "duration_s = 10\nrate_limit = 5\n", 1)
        + &good_device();
    fails(
        "bare_kind",
        &text,
        &["expected a table naming `kind`", "got `5`"],
    );
}

/// A kind's name alone where its table goes (the shorthand a plan's `search.policies` and
/// `search.rate_limits` read) is refused, showing the table it is written as.
#[test]
fn a_kind_alone_where_its_table_goes() {
    for (key, value, want) in [
        (
            "selection",
            "\"random\"",
            "invalid type: string \"random\", expected a table (written as a table: { kind = \"random\" })",
        ),
        (
            "rate_limit",
            "\"none\"",
            "got `\"none\"` (written as a table: { kind = \"none\" })",
        ),
    ] {
        let text = WORKLOAD.replacen(
            "duration_s = 10\n",
            &format!("duration_s = 10\n{key} = {value}\n"),
            1,
        ) + &good_device();
        fails(&format!("alone_{key}"), &text, &[want]);
    }
    // A section chosen by no `kind` gets no such hint; a name that is no kind gets none either.
    let text = WORKLOAD.replacen("duration_s = 10\n", "duration_s = 10\nrouting = \"x\"\n", 1)
        + &good_device();
    let e = fails(
        "alone_routing",
        &text,
        &["invalid type: string \"x\", expected a table"],
    );
    assert!(!e.contains("written as"), "{e}");
    let text = WORKLOAD.replacen(
        "duration_s = 10\n",
        "duration_s = 10\nrate_limit = \"leaky\"\n",
        1,
    ) + &good_device();
    let e = fails("alone_leaky", &text, &["got `\"leaky\"`"]);
    assert!(!e.contains("written as"), "{e}");
}

#[test]
fn negative_and_zero_rate() {
    for (tag, v) in [("negative_rate", "-2.5"), ("zero_rate", "0")] {
        let text = WORKLOAD.replace("rate_rps = 1.0", &format!("rate_rps = {v}")) + &good_device();
        fails(
            tag,
            &text,
            &["workload.rate_rps", v.trim_end_matches(".0"), "> 0"],
        );
    }
}

/// A periodic workload's shape and period, each refused with its key, value and what is
/// allowed; a good one passes.
#[test]
fn a_periodic_workloads_shape_and_period() {
    let periodic = |keys: &str| {
        WORKLOAD.replace(
            "kind = \"poisson\"\nrate_rps = 1.0\n",
            &format!("kind = \"periodic\"\nrate_rps = 1.0\n{keys}"),
        ) + &good_device()
    };
    for (tag, keys, needles) in [
        (
            "periodic_empty",
            "shape = []\n",
            &["workload.shape", "(0 values)", "1 to 100000"][..],
        ),
        (
            "periodic_negative",
            "shape = [1, -2, 3]\n",
            &["workload.shape[1]", "-2", ">= 0"][..],
        ),
        (
            "periodic_nan",
            "shape = [1, nan]\n",
            &["workload.shape[1]", "NaN", "finite"][..],
        ),
        (
            "periodic_zeros",
            "shape = [0, 0]\n",
            &["workload.shape", "summing to 0", "> 0"][..],
        ),
        (
            "periodic_start",
            "shape = [1, 2]\nperiod_s = 3600\nstart_s = 3600\n",
            &["workload.start_s", "3600", "[0, 3600)"][..],
        ),
        (
            "periodic_period",
            "shape = [1, 2]\nperiod_s = 0\n",
            &["workload.period_s", "> 0"][..],
        ),
        (
            "periodic_slices",
            "shape = [1, 2, 3, 4]\nperiod_s = 0.002\n",
            &["workload.period_s", "4 slices", "at least 1 ms"][..],
        ),
        ("periodic_missing_shape", "", &["shape", "periodic"][..]),
    ] {
        fails(tag, &periodic(keys), needles);
    }
    passes("periodic_ok", &periodic("shape = [1, 2]\n"));
}

/// `[metrics] window_s`: a span the clock can count, and at most 1,000 windows over the
/// arrivals (the error gives the narrowest width allowed).
#[test]
fn metric_windows() {
    let with = |w: &str| format!("{WORKLOAD}{}\n[metrics]\nwindow_s = {w}\n", good_device());
    for (tag, w, needles) in [
        ("window_zero", "0", &["metrics.window_s", "> 0"][..]),
        ("window_negative", "-5", &["metrics.window_s", "-5"][..]),
        ("window_nan", "nan", &["metrics.window_s", "NaN"][..]),
        ("window_tick", "1e-9", &["metrics.window_s", "1e-6"][..]),
        ("window_huge", "1e13", &["metrics.window_s", "1e12"][..]),
        (
            "window_many",
            "0.001",
            &[
                "metrics.window_s",
                "10000 windows",
                "1000 allowed",
                "0.01 s or more",
            ][..],
        ),
        ("window_text", "\"1h\"", &["window_s", "1h"][..]),
        (
            "window_min_zero",
            "60\nwindow_min_requests = 0",
            &["metrics.window_min_requests", "0", ">= 1"][..],
        ),
        (
            "window_min_negative",
            "60\nwindow_min_requests = -3",
            &["window_min_requests", "-3"][..],
        ),
        (
            "window_min_fraction",
            "60\nwindow_min_requests = 2.5",
            &["window_min_requests", "2.5"][..],
        ),
    ] {
        fails(tag, &with(w), needles);
    }
    passes("window_ok", &with("0.01"));
    // With request classes each has its windows: 11 classes x 910 windows of 0.011 s (10 s of
    // arrivals) is more than 10,000; 909 windows each is not (the width the error gives).
    let classes: String = (0..11)
        .map(|k| format!("[[workload.classes]]\nname = \"c{k}\"\n"))
        .collect();
    let with_classes = |w: &str| {
        format!(
            "{WORKLOAD}{classes}{}\n[metrics]\nwindow_s = {w}\n",
            good_device()
        )
    };
    fails(
        "window_many_classes",
        &with_classes("0.011"),
        &[
            "metrics.window_s",
            "910 windows for each of the 11 request classes, 10010 in all",
            "10000 allowed",
            "0.012 s or more",
        ],
    );
    passes("window_classes_ok", &with_classes("0.012"));
    passes("window_min_ok", &with("0.01\nwindow_min_requests = 30"));
    fails(
        "window_min_alone",
        &format!(
            "{WORKLOAD}{}\n[metrics]\nwindow_min_requests = 30\n",
            good_device()
        ),
        &[
            "metrics.window_min_requests",
            "30",
            "needs metrics.window_s",
        ],
    );
}

#[test]
fn empty_cluster() {
    // Without devices the cloud takes everything; without the cloud too, nothing would serve.
    fails(
        "empty_cluster",
        &format!("{WORKLOAD}[cloud]\nenabled = false\n"),
        &["devices", "empty", "cloud is disabled", "[[devices]]"],
    );
}

#[test]
fn unknown_policy() {
    let text = format!(
        "{WORKLOAD}{}\n[selection]\nkind = \"fastest\"\n",
        good_device()
    );
    fails(
        "unknown_policy",
        &text,
        &["fastest", "unknown variant", "load_aware", "power_of_two"],
    );
}

#[test]
fn missing_profile_file() {
    let text = WORKLOAD.to_string() + &GOOD_DEVICE.replace("PROFILE", "no/such/profile.toml");
    fails(
        "missing_profile",
        &text,
        &[
            "devices[0].profile",
            "no/such/profile.toml",
            "cannot read device profile",
        ],
    );
}

#[test]
fn model_too_big_for_the_device() {
    let text = WORKLOAD.to_string() + &good_device().replace("qwen2.5-1.5b", "qwen2.5-14b");
    fails(
        "too_big",
        &text,
        &[
            "devices[0].model",
            "qwen2.5-14b",
            "does not fit",
            "Jetson Orin Nano",
        ],
    );
}

#[test]
fn model_unknown_or_uncalibrated() {
    let text = WORKLOAD.to_string() + &good_device().replace("qwen2.5-1.5b", "llama-9000");
    fails(
        "unknown_model",
        &text,
        &["devices[0].model", "llama-9000", "qwen2.5-3b"],
    );
}

#[test]
fn malformed_trace_line() {
    let trace = temp_file(
        "malformed_trace",
        "bad.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,374,44\n2023-11-16 18:15:47.00,37x,44\n",
    );
    let text = format!(
        "[workload]\nkind = \"trace\"\npath = \"{}\"\n{}",
        trace.display(),
        good_device()
    );
    let path = temp_file("malformed_trace", "malformed_trace.toml", &text);
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.csv:3") && err.contains("ContextTokens") && err.contains("`37x`"),
        "{err}"
    );
}

#[test]
fn keys_of_another_kind_and_missing_keys() {
    let text = WORKLOAD.replace("rate_rps = 1.0", "rate_rps = 1.0\nusers = 3") + &good_device();
    fails(
        "misplaced_key",
        &text,
        &[
            "unknown field `users`",
            "[workload]",
            "for kind = \"poisson\"",
            "rate_rps",
        ],
    );
    let text = format!(
        "{WORKLOAD}{}\n[rate_limit]\nkind = \"sliding_window\"\nlimit = 5\n",
        good_device()
    );
    fails(
        "missing_window",
        &text,
        &["missing field `window_s`", "[rate_limit]", "sliding_window"],
    );
    let text = WORKLOAD.replace("duration_s = 10\n", "") + &good_device();
    fails("no_duration", &text, &["duration_s", "required"]);
}

#[test]
fn bad_set_override_is_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args(["check", "--set", "devices.9.count=2"])
        .arg(shipped("bursty.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("devices.9.count=2") && err.contains("out of range"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args(["check", "--set", "workload.burst_rate_rps=-1"])
        .arg(shipped("bursty.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bursty.toml")
            && err.contains("workload.burst_rate_rps")
            && err.contains("-1"),
        "{err}"
    );
}

/// `edgesim check --set SET` on the shipped scenario `scenario`: must exit with code 2; its
/// standard error.
fn set_refused(scenario: &str, set: &str) -> String {
    set_refused_with(scenario, &[set])
}

/// [`set_refused`] with several `--set` overrides.
fn set_refused_with(scenario: &str, sets: &[&str]) -> String {
    let path = shipped(scenario);
    let mut args = vec!["check"];
    for s in sets {
        args.extend(["--set", s]);
    }
    args.push(path.to_str().unwrap());
    let out = edgesim(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{sets:?}: {err}");
    err
}

/// A type error or an unknown key that a `--set` put in an array entry names the entry's index,
/// as validation errors do (`devices[1].slots`), the value, and what is allowed.
#[test]
fn set_override_type_errors_name_the_array_entry() {
    for (set, needles) in [
        (
            "devices.1.slots=\"x\"",
            &[
                "`devices[1].slots`",
                "string \"x\"",
                "expected a whole number from 0 to 4294967295",
            ][..],
        ),
        (
            "devices.0.slots=-3",
            &[
                "`devices[0].slots`",
                "invalid value: integer `-3`, expected a whole number from 0 to 4294967295",
            ],
        ),
        (
            "devices.1.slotz=3",
            &[
                "`devices[1].slotz`",
                "unknown field `slotz`",
                "`queue_capacity`",
            ],
        ),
        (
            "cloud.rtt=1",
            &["`cloud.rtt`", "unknown field `rtt`", "`rtt_ms`"],
        ),
        // Inside tagged sections (`kind`, `dist`), nested: one path to the key.
        (
            "workload.prompt_tokens.sigma=\"x\"",
            &[
                "`workload.prompt_tokens.sigma`: invalid type: string \"x\", expected a number",
                "for dist = \"lognormal\", for kind = \"bursty\"",
            ],
        ),
        (
            "rate_limit.windw_s=60",
            &[
                "`rate_limit.windw_s`: unknown field `windw_s`",
                "`window_s`",
            ],
        ),
    ] {
        let err = set_refused("bursty.toml", set);
        assert!(
            err.contains("bursty.toml") && err.contains(set),
            "{set}: {err}"
        );
        for n in needles {
            assert!(err.contains(n), "{set}: no {n:?} in {err}");
        }
        // One path, with its index: not the index-less one the document's parser appends.
        assert!(!err.contains("(in `"), "{set}: {err}");
    }
    // An entry of an array the scenario does not have (it was a table named "0", refused as
    // "`cloud.limits`: invalid type: map, expected a sequence").
    let err = set_refused("bursty.toml", "cloud.limits.0.limit=5");
    assert!(
        err.contains("`cloud.limits` is not in the scenario, so it has no entry 0"),
        "{err}"
    );
}

/// `--bucket-s` outside [0.001 s, 1e12 s] is refused with the value as written short (not a
/// 301-digit expansion of 1e300) and the range, before anything runs. A negative value after a
/// space reaches the same check, in exponent form too (clap took `-1` and then `-1e-3` for an
/// unknown flag); a flag given where the value belongs is named as the bad value.
#[test]
fn bucket_width_out_of_range_is_refused() {
    for (value, shown) in [
        ("0", "--bucket-s 0:"),
        ("-1", "--bucket-s -1:"),
        ("-1e-3", "--bucket-s -0.001:"),
        ("nan", "--bucket-s NaN:"),
        ("1e300", "--bucket-s 1e300:"),
    ] {
        let steady = shipped("steady.toml");
        // Given with an output folder (`--no-out` refuses table flags), which stays unmade.
        let dir = scratch("bucket-bad");
        let _ = std::fs::remove_dir_all(&dir);
        let out = edgesim(&[
            "run",
            "--out",
            dir.to_str().unwrap(),
            "--bucket-s",
            value,
            steady.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value}: {err}");
        assert!(
            err.contains(shown) && err.contains("[0.001, 1e12]") && err.len() < 200,
            "{value}: {err}"
        );
        assert!(!dir.exists(), "{value}: nothing written");
    }
}

/// Buckets too narrow for the run's span (or a span too long for the default width) are
/// refused before anything runs or is written, naming the narrowest width; that width passes.
#[test]
fn too_many_time_series_buckets_are_refused_before_the_run() {
    let bursty = shipped("bursty.toml");
    let dir = scratch("buckets");
    let _ = std::fs::remove_dir_all(&dir);
    let slow = [
        "--set",
        "workload.base_rate_rps=0.001",
        "--set",
        "workload.burst_rate_rps=0.001",
    ];
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "run",
            &["--bucket-s", "0.001", "--set", "duration_s=1e6"],
            "1.000e9 buckets",
        ),
        (
            "run",
            &["--set", "duration_s=1e9"],
            "--bucket-s 10: arrivals span 1000000000 s",
        ),
        (
            "compare",
            &["--bucket-s", "0.001", "--set", "duration_s=1e5"],
            // compare keeps 2e6 points per policy: over five devices, the rows bind first,
            // and the message names them, not the 1e6 buckets.
            "1.000e8 buckets, x 5 devices = 5.000e8 rows, more than the 2e6 allowed; give --bucket-s 0.26 or more",
        ),
    ];
    for (cmd, args, shown) in cases {
        let out_dir = dir.join(cmd);
        let mut all = vec![
            cmd,
            "--out",
            out_dir.to_str().unwrap(),
            bursty.to_str().unwrap(),
        ];
        all.extend_from_slice(&slow);
        all.extend_from_slice(args);
        let out = edgesim(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(shown) && err.contains("or more"),
            "{args:?}: {err}"
        );
        assert!(
            !out_dir.exists(),
            "{args:?}: {} was created",
            out_dir.display()
        );
    }
    // The width the message names passes the check; a narrower one does not. The series
    // covers the 3 s of retry waits after the arrivals too (1 + 2 s, the default cloud's), so
    // 1,000 s buckets, enough for the arrivals alone, are too narrow by a bucket.
    let sc = load(&bursty, &["duration_s=1e9", "workload.base_rate_rps=0.001"]);
    let rows = edgesim::output::MAX_SERIES_ROWS;
    let err = edgesim::output::check_bucket_count("--bucket-s", 10.0, &sc, rows).unwrap_err();
    assert!(
        err.to_string().contains("give --bucket-s 1100 or more"),
        "{err}"
    );
    assert!(edgesim::output::check_bucket_count("--bucket-s", 1100.0, &sc, rows).is_ok());
    assert!(edgesim::output::check_bucket_count("--bucket-s", 1000.0, &sc, rows).is_err());
    let no_retries = load(&bursty, &["duration_s=1e9", "cloud.max_retries=0"]);
    assert!(edgesim::output::check_bucket_count("--bucket-s", 1000.0, &no_retries, rows).is_ok());
    assert!(edgesim::output::check_bucket_count("--bucket-s", 999.0, &no_retries, rows).is_err());
    // Many devices: the rows bound, not the buckets bound, sets the width.
    let fleet = load(
        &shipped("fleet.toml"),
        &[
            "duration_s=1e6",
            "workload.rate_rps=1",
            "cloud.max_retries=0",
        ],
    );
    let err = edgesim::output::check_bucket_count("--bucket-s", 10.0, &fleet, rows).unwrap_err();
    assert!(
        err.to_string().contains("10000 devices")
            && err.to_string().contains("give --bucket-s 100 or more"),
        "{err}"
    );
    assert!(edgesim::output::check_bucket_count("--bucket-s", 100.0, &fleet, rows).is_ok());
}

/// A run whose edge queues drain long after the arrivals outgrows the time series the check
/// before it allowed: 1,000 requests of 1 s each arrive in 10 s at one board with room to
/// queue them all, so the run lasts some 950 s. Buckets of 2 s make 5 over the arrivals but
/// some 475 over the run; with 100 points allowed (200 with the margin for the drain) the
/// series stops there and the run ends with an error naming the width that fits; that width
/// passes, and so does one within the margin. The CLI writes nothing: at 0.001 s buckets the drain passes twice the
/// 1e6 buckets allowed (2,700 s of arrivals and drain at 3 requests/s and a 3 s service).
#[test]
fn a_run_draining_past_its_time_series_stops_with_an_error() {
    let body = |duration_s: u32, rate_rps: u32, output: u32| {
        format!(
            "seed = 1\nduration_s = {duration_s}\n[workload]\nkind = \"poisson\"\n\
             rate_rps = {rate_rps}\nprompt_tokens = {{ dist = \"fixed\", value = 10 }}\n\
             output_tokens = {{ dist = \"fixed\", value = {output} }}\n{}",
            inline_device("a", 1, 100_000, &[10.0], 10.0, 2.0)
        )
    };
    let sc = scenario(&body(10, 100, 10));
    let run = |bucket_s: f64| {
        let mut series = edgesim::output::tables::Timeseries::new(&sc, bucket_s, 100.0);
        let s = edgesim::sim::run_with(&sc, &mut series).unwrap();
        let end = edgesim::time::SimTime::from_secs_f64(s.end_s);
        (
            s.end_s,
            series.finish_data(end, vec!["a".into()], "--bucket-s"),
        )
    };
    let (end_s, data) = run(2.0);
    assert!(end_s > 900.0, "{end_s}");
    let e = data.unwrap_err().to_string();
    assert!(
        e.contains("--bucket-s 2: the run lasted") && e.contains("past its 10 s of arrivals"),
        "{e}"
    );
    let width: f64 = e
        .split("give --bucket-s ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{e}"));
    // 100 buckets of it hold the run, rounded up to two significant digits.
    assert!(
        width >= end_s / 100.0 && width <= 1.1 * end_s / 100.0,
        "{width} {e}"
    );
    assert_eq!(
        run(width).1.unwrap().spans.len(),
        (end_s / width).ceil() as usize
    );
    // Within the margin (at most 200 buckets): kept.
    assert!(run(end_s / 150.0).1.is_ok());

    let dir = scratch("drain");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.toml");
    std::fs::write(&file, body(300, 3, 30)).unwrap();
    let out_dir = dir.join("out");
    let o = edgesim(&[
        "run",
        file.to_str().unwrap(),
        "--bucket-s",
        "0.001",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(!out_dir.exists());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "a temporary folder was left"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_scenario_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args(["run", "nope.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("nope.toml") && err.contains("cannot read scenario"),
        "{err}"
    );
}

#[test]
fn unknown_task_and_unpriced_cloud_model() {
    let text = WORKLOAD.to_string()
        + "[[workload.classes]]\nname = \"maths\"\nshare = 1\ntask = \"gsm9k\"\n"
        + &good_device();
    fails(
        "unknown_task",
        &text,
        &[
            "workload.classes[0].task",
            "\"gsm9k\"",
            "known tasks: gsm8k",
        ],
    );
    let text = WORKLOAD.to_string() + "[metrics]\ntask = \"mmlu\"\n" + &good_device();
    fails("unknown_metrics_task", &text, &["metrics.task", "\"mmlu\""]);
    let text = WORKLOAD.to_string() + "[cloud]\nmodel = \"claude-x\"\n" + &good_device();
    fails(
        "unpriced_cloud",
        &text,
        &["cloud.usd_per_1k_input", "claude-x", "gpt-4, gpt-4o-mini"],
    );
}

/// Periodic intervals where 0 means "none" must be 0 or at least one clock tick, for load
/// reports, health checks and queue timeouts alike (a health-check interval of 1e-6 ms was
/// taken as 1 µs).
#[test]
fn intervals_below_a_clock_tick_are_refused() {
    let failures = shipped("failures.toml");
    for (set, needle) in [
        (
            "routing.health_check_interval_ms=1e-6",
            "`routing.health_check_interval_ms` = 1e-6: must be 0 (failures and repairs known \
             at once) or at least 0.001 ms",
        ),
        (
            "selection.load_report_interval_ms=0.0004",
            "`selection.load_report_interval_ms` = 0.0004: must be 0 (exact load) or at least \
             0.001 ms",
        ),
        (
            "routing.queue_timeout_ms=1e-7",
            "`routing.queue_timeout_ms` = 1e-7: must be 0 (no limit: a request waits for a slot \
             as long as it takes) or at least 0.001 ms",
        ),
        (
            "workload.classes=[{name=\"a\", queue_timeout_ms=1e-7}]",
            "`workload.classes[0].queue_timeout_ms` = 1e-7: must be 0 (no limit for this class, \
             whatever routing.queue_timeout_ms says) or at least 0.001 ms",
        ),
        (
            "routing.queue_timeout_ms=-5",
            "`routing.queue_timeout_ms` = -5: must be a finite number >= 0",
        ),
        (
            "routing.queue_timeout_ms=1e16",
            "`routing.queue_timeout_ms` = 1e16: is beyond the simulated clock: at most 1e15 ms",
        ),
    ] {
        let err = set_refused("failures.toml", set);
        assert!(err.contains(needle), "{set}: {err}");
    }
    // One tick is allowed.
    let o = edgesim(&[
        "check",
        "--set",
        "routing.health_check_interval_ms=0.001",
        failures.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
}

/// A class's queue priority is a whole number in [0, 255].
#[test]
fn class_priorities_are_whole_numbers_up_to_255() {
    for (set, needle) in [
        (
            "workload.classes=[{name=\"a\", priority=256}]",
            "`workload.classes[0].priority` = 256: must be a whole number in [0, 255] (higher is \
             served first; 0, the default, last)",
        ),
        (
            "workload.classes=[{name=\"a\"}, {name=\"b\", priority=-1}]",
            "`workload.classes[1].priority` = -1: must be a whole number in [0, 255]",
        ),
        (
            "workload.classes=[{name=\"a\", priority=1.5}]",
            "`workload.classes[0].priority` = 1.5: must be a whole number in [0, 255]",
        ),
        (
            "workload.classes=[{name=\"a\", priority=\"high\"}]",
            "`workload.classes[0].priority`: invalid type: string \"high\", expected a number",
        ),
    ] {
        let err = set_refused("failures.toml", set);
        assert!(err.contains(needle), "{set}: {err}");
        assert!(err.contains("failures.toml"), "{set}: {err}");
    }
}

/// A class's route is one of three names.
#[test]
fn a_class_route_names_the_choices() {
    for (set, needle) in [
        (
            "workload.classes=[{name=\"a\", route=\"sky\"}]",
            "`workload.classes[0].route`: unknown variant `sky`, expected one of `edge_first`, \
             `cloud`, `edge_only`",
        ),
        (
            "workload.classes=[{name=\"a\", route=1}]",
            "`workload.classes[0].route`: invalid type: integer `1`, expected a string, one of \
             edge_first, cloud, edge_only",
        ),
    ] {
        let err = set_refused("failures.toml", set);
        assert!(err.contains(needle), "{set}: {err}");
    }
}

/// A class's quota is a limit in the rate limit's unit: a whole number of requests, at least
/// one, or at least one token.
#[test]
fn a_class_quota_is_a_limit_in_the_rate_limits_unit() {
    for (set, needle) in [
        (
            "workload.classes=[{name=\"a\", quota=1.5}]",
            "`workload.classes[0].quota` = 1.5",
        ),
        (
            "workload.classes=[{name=\"a\"}, {name=\"b\", quota=0}]",
            "`workload.classes[1].quota` = 0",
        ),
        (
            "workload.classes=[{name=\"a\", quota=\"many\"}]",
            "`workload.classes[0].quota`: invalid type: string \"many\", expected a number",
        ),
        (
            "workload.classes=[{name=\"a\", quota=1e16}]",
            "`workload.classes[0].quota` = 1e16: must be a whole number of requests, at least 1 \
             and at most 1e15",
        ),
    ] {
        let err = set_refused("failures.toml", set);
        assert!(err.contains(needle), "{set}: {err}");
    }
}

/// A class's quota scales a token bucket's refill: it must stay finite.
#[test]
fn a_class_quota_keeps_a_buckets_refill_finite() {
    let err = set_refused_with(
        "failures.toml",
        &[
            "rate_limit={kind=\"token_bucket\", unit=\"tokens\", scope=\"class\", limit=1, \
             refill_per_s=1e12}",
            "workload.classes=[{name=\"a\", quota=1e300}]",
        ],
    );
    assert!(
        err.contains(
            "`workload.classes[0].quota` = 1e300: too large for the bucket: its refill \
             (the limit's refill_per_s × quota / limit) must be finite"
        ),
        "{err}"
    );
}

/// Predictive admission's longest predicted wait is a time in [0, a day].
#[test]
fn a_predicted_wait_is_a_time_up_to_a_day() {
    for (set, needle) in [
        (
            "routing.max_predicted_wait_ms=-1",
            "`routing.max_predicted_wait_ms` = -1: must be a finite number >= 0",
        ),
        (
            "routing.max_predicted_wait_ms=nan",
            "`routing.max_predicted_wait_ms` = NaN: must be a finite number >= 0",
        ),
        (
            "routing.max_predicted_wait_ms=1e9",
            "`routing.max_predicted_wait_ms` = 1000000000: must lie in [0, 8.64e7] ms (a day)",
        ),
        (
            "routing.max_predicted_wait_ms=\"x\"",
            "`routing.max_predicted_wait_ms`: invalid type: string \"x\", expected a number",
        ),
        (
            "workload.classes=[{name=\"a\"}, {name=\"b\", max_predicted_wait_ms=-5}]",
            "`workload.classes[1].max_predicted_wait_ms` = -5: must be a finite number >= 0",
        ),
        (
            "workload.classes=[{name=\"a\", max_predicted_wait_ms=1e8}]",
            "`workload.classes[0].max_predicted_wait_ms` = 100000000: must lie in [0, 8.64e7] ms",
        ),
    ] {
        let err = set_refused("bursty.toml", set);
        assert!(err.contains(needle), "{set}: {err}");
    }
}

/// A cloud limit's `quotas` (the classes' own limits under `scope = "class"`) name request
/// classes, each a limit in the limit's unit, and only on a limit per class; a fallback's are
/// named under `cloud.fallbacks[j]`.
#[test]
fn a_cloud_limits_quotas_name_classes_with_limits_of_its_unit() {
    let limit = |rest: &str| {
        format!("cloud.limits=[{{kind=\"sliding_window\", window_s=60, limit=3, {rest}}}]")
    };
    for (set, needle) in [
        (
            limit("scope=\"class\", quotas={question=5}"),
            "`cloud.limits[0].quotas.question` = \"question\": must be the `name` of a request \
             class; the classes are \"notes\", \"questions\", \"research\"",
        ),
        (
            limit("scope=\"class\", quotas={questions=1.5}"),
            "`cloud.limits[0].quotas.questions` = 1.5: must be a whole number of requests, at \
             least 1",
        ),
        (
            limit("scope=\"class\", quotas={questions=0}"),
            "`cloud.limits[0].quotas.questions` = 0",
        ),
        (
            limit("scope=\"class\", quotas={questions=\"x\"}"),
            "`cloud.limits[0].quotas.questions`: invalid type: string \"x\", expected a number",
        ),
        (
            limit("scope=\"class\", quotas=3"),
            "`cloud.limits[0].quotas`: invalid type: integer `3`, expected a map",
        ),
        (
            limit("scope=\"cluster\", quotas={questions=5, research=1}"),
            "`cloud.limits[0].quotas` = { questions = 5, research = 1 }: only a limit per \
             request class (`scope = \"class\"`) has quotas: this one has scope = \"cluster\"",
        ),
        (
            limit("quotas={questions=5}"),
            "this one has scope = \"device\", one key for the API",
        ),
        (
            "cloud.fallbacks=[{model=\"gpt-4o-mini\", limits=[{kind=\"concurrency\", limit=2, \
             scope=\"class\", quotas={notes=1, ward=1}}]}]"
                .to_string(),
            "`cloud.fallbacks[0].limits[0].quotas.ward` = \"ward\": must be the `name` of a \
             request class",
        ),
        (
            "cloud.limits=[{kind=\"token_bucket\", unit=\"tokens\", scope=\"class\", limit=1, \
             refill_per_s=1e12, quotas={notes=1e300}}]"
                .to_string(),
            "`cloud.limits[0].quotas.notes` = 1e300: too large for the bucket",
        ),
    ] {
        let err = set_refused("clinic.toml", &set);
        assert!(err.contains(needle), "{set}: {err}");
    }
    // Without classes, no name is a class's.
    let err = set_refused(
        "bursty.toml",
        &limit("scope=\"class\", quotas={questions=5}"),
    );
    assert!(
        err.contains(
            "`cloud.limits[0].quotas.questions` = \"questions\": must be the `name` of a \
             request class; the scenario has no [[workload.classes]]"
        ),
        "{err}"
    );
}

/// A latency written as quantiles refuses a key it does not know (`p999` was dropped, and the
/// run went on without it), and a wrong type or a missing quantile says what a latency is (it
/// said "data did not match any variant of untagged enum LatencyFile").
#[test]
fn latency_quantile_tables_are_read_strictly() {
    let outage = shipped("outage.toml");
    for (set, needles) in [
        (
            "cloud.ttft_ms={p50=536, p95=844, p999=4461}",
            &["`cloud.ttft_ms.p999`: unknown field `p999`", "`p99`"][..],
        ),
        (
            "cloud.ttft_ms={p50=536, p95=844}",
            &[
                "`cloud.ttft_ms`: missing field `p99`",
                "latency quantiles in ms",
            ][..],
        ),
        (
            "cloud.rtt_ms=\"fast\"",
            &[
                "`cloud.rtt_ms`: invalid type: string \"fast\"",
                "a latency in ms (a number) or measured quantiles",
            ][..],
        ),
    ] {
        let err = set_refused("outage.toml", set);
        assert!(!err.contains("untagged"), "{set}: {err}");
        for n in needles {
            assert!(err.contains(n), "{set}: `{n}` not in {err}");
        }
    }
    // In a file too (the scenario's own parser, with the line).
    let text = std::fs::read_to_string(&outage).unwrap();
    assert!(
        text.contains("\n[cloud]\n"),
        "outage.toml has a [cloud] section"
    );
    let bad = temp_file(
        "latency",
        "outage.toml",
        &text
            .replace(
                "\n[cloud]\n",
                "\n[cloud]\nttft_ms = { p50 = 536, p95 = 844, p999 = 4461 }\n",
            )
            .replace(
                "../calibration",
                &root().join("calibration").display().to_string(),
            ),
    );
    let o = edgesim(&["check", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("unknown field `p999`"), "{err}");
}

/// A file given to the wrong command (a plan to `run`, a scenario to `sweep`, a profile to
/// `plan`) is refused with the parser's message and a line that names the kind of file it looks
/// like and how to use it (it said only "unknown field `costs`").
#[test]
fn a_file_given_to_the_wrong_command_says_which_command_it_needs() {
    let plan = shipped("plans/retail.toml");
    let bursty = shipped("bursty.toml");
    let profile = root().join("calibration/jetson-agx-orin.toml");
    let sweep = shipped("sweeps/ci.toml");
    for (args, needle) in [
        (
            vec!["run", plan.to_str().unwrap()],
            format!(
                "(this looks like a plan file, not a scenario: run it with `edgesim plan {}`)",
                plan.display()
            ),
        ),
        (
            vec!["sweep", bursty.to_str().unwrap()],
            format!(
                "(this looks like a scenario, not a sweep file: run it with `edgesim run {}`)",
                bursty.display()
            ),
        ),
        (
            vec!["plan", profile.to_str().unwrap()],
            "(this looks like a device profile, not a plan file".to_string(),
        ),
        (
            vec!["check", sweep.to_str().unwrap()],
            "(this looks like a sweep file, not a scenario".to_string(),
        ),
    ] {
        let o = edgesim(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("unknown field"), "{args:?}: {err}");
        assert!(err.contains(&needle), "{args:?}: {err}");
    }
}

/// A trace is read line by line: CRLF line endings read as LF ones, and a byte that is not
/// UTF-8 is named by its offset in the file, as when the file was read whole.
#[test]
fn trace_files_read_line_by_line_as_text() {
    let dir = scratch("trace-lines");
    std::fs::create_dir_all(&dir).unwrap();
    let lf = "TIMESTAMP,ContextTokens,GeneratedTokens\n0,10,5\n\n1.5,20,6\n2,30,7";
    let (a, b, c) = (
        dir.join("lf.csv"),
        dir.join("crlf.csv"),
        dir.join("bad.csv"),
    );
    std::fs::write(&a, lf).unwrap();
    std::fs::write(&b, lf.replace('\n', "\r\n")).unwrap();
    let read = edgesim::workload::trace::read_trace;
    let rows = read(&a).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].offset_us, 2_000_000);
    assert_eq!(read(&b).unwrap(), rows);
    let mut bytes = b"TIMESTAMP,ContextTokens,GeneratedTokens\n0,10,5\n".to_vec();
    bytes.extend(b"1,\xff0,5\n");
    std::fs::write(&c, &bytes).unwrap();
    let at = std::str::from_utf8(&bytes).unwrap_err().valid_up_to();
    assert_eq!(at, 49);
    let e = read(&c).unwrap_err().to_string();
    assert!(
        e.contains(&format!("not UTF-8 text (invalid byte at offset {at})")),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A board's power is bounded (`MAX_WATTS`, 100 kW): `idle_w = 1e9` was accepted and made
/// every energy figure absurd, and 1e308 made them infinite (`null` in summary.json).
#[test]
fn profile_watts_are_bounded() {
    for (tag, busy, idle, needles) in [
        (
            "idle_w_huge",
            10.0,
            1e9,
            &[
                "`devices[0].inline.device.idle_w` = 1000000000",
                "from 0 to 100000",
            ][..],
        ),
        (
            "busy_w_huge",
            1e308,
            5.0,
            &["`devices[0].inline.models[0].busy_w` = 1e308", "watts"][..],
        ),
    ] {
        let text = WORKLOAD.to_string() + &inline_device("d", 1, 0, &[10.0], busy, idle);
        fails(tag, &text, needles);
    }
    // The same bound on what calibrate writes: tests/it/calibrate.rs,
    // `watt_flags_are_bounded`.
}

/// A profile's prefill curve gives each prompt length once (two speeds at one length made the
/// curve jump there, silently), and its times in ms fit the simulated clock (a
/// `ttft_overhead_ms` of 1e300 was taken, and the run failed only after running, when its
/// clock overflowed).
#[test]
fn profile_curves_and_times_are_checked() {
    let base = WORKLOAD.to_string() + &inline_device("d", 1, 0, &[10.0], 10.0, 5.0);
    for (tag, line, needles) in [
        (
            "curve_twice",
            "prefill_curve = [[512, 300.0], [64, 100.0], [512, 350.0]]",
            &[
                "`devices[0].inline.models[0].prefill_curve[2][0]` = 512",
                "prompt length of prefill_curve[0] too",
            ][..],
        ),
        (
            "overhead_huge",
            "ttft_overhead_ms = 1e300",
            &[
                "`devices[0].inline.models[0].ttft_overhead_ms` = 1e300",
                "from 0 to 1e15",
            ][..],
        ),
        (
            "context_negative",
            "decode_ms_per_1k_context = -1",
            &["`devices[0].inline.models[0].decode_ms_per_1k_context` = -1"][..],
        ),
    ] {
        fails(tag, &format!("{base}{line}\n"), needles);
    }
    // An unsorted curve, and the bounds themselves, are allowed.
    for line in [
        "prefill_curve = [[512, 300.0], [64, 100.0]]",
        "ttft_overhead_ms = 1e15",
    ] {
        let path = temp_file("curve_ok", "ok.toml", &format!("{base}{line}\n"));
        let out = edgesim(&["check", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Prices are bounded (`check::MAX_USD_PER_1K_TOKENS`, `MAX_CENTS_PER_KWH`): a cloud price of
/// 1e307 USD per 1,000 tokens made the cloud cost infinite (`$inf` in the report, `null` in
/// summary.json).
#[test]
fn prices_are_bounded() {
    let steady = root().join("scenarios/steady.toml");
    for (set, needle) in [
        (
            "cloud.usd_per_1k_output=1e307",
            "`cloud.usd_per_1k_output` = 1e307: must be a price from 0 to 1000 USD per 1,000 tokens",
        ),
        (
            "cloud.usd_per_1k_cached=1001",
            "`cloud.usd_per_1k_cached` = 1001",
        ),
        (
            "metrics.electricity_cents_per_kwh=1e300",
            "`metrics.electricity_cents_per_kwh` = 1e300: must be a price from 0 to 100000 US cents per kWh",
        ),
    ] {
        let o = edgesim(&["check", steady.to_str().unwrap(), "--set", set]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{set}: {err}");
        assert!(err.contains(needle), "{set}: {err}");
    }
    // The bounds themselves are allowed.
    let o = edgesim(&[
        "check",
        steady.to_str().unwrap(),
        "--set",
        "cloud.usd_per_1k_output=1000",
        "--set",
        "metrics.electricity_cents_per_kwh=1e5",
    ]);
    assert_ok(&o);
}

/// serde reads a struct from an array, by position: `routing = [3]` was a valid scenario, read
/// as `max_attempts = 3`, `selection = ["random"]` one with random selection, and a plan's
/// `goals = [...]` of seven numbers a set of goals. An array where a table belongs is refused in
/// every kind of file, with the line or the key path; a scalar there says "a table", not the
/// name of a Rust type (`expected struct DeviceFile`).
#[test]
fn an_array_where_a_table_belongs_is_refused() {
    let array = "invalid type: array, expected a table";
    // Scenario files: from the text, with the line.
    let text = format!("routing = [3]\n{WORKLOAD}{}", good_device());
    fails("array_routing", &text, &["line 1", "routing = [3]", array]);
    let text = format!("selection = [\"random\"]\n{WORKLOAD}{}", good_device());
    fails("array_selection", &text, &["line 1", array]);
    // After --set, with the key path, in array entries too.
    for (set, key) in [
        ("routing=[3]", "`routing`"),
        ("devices.0=[\"x\", 2]", "`devices[0]`"),
        (
            "cloud.fallbacks=[[\"gpt-4o-mini\"]]",
            "`cloud.fallbacks[0]`",
        ),
    ] {
        let err = set_refused("outage.toml", set);
        assert!(err.contains(&format!("{key}: {array}")), "{set}: {err}");
    }
    let err = set_refused("bursty.toml", "devices.0=1");
    assert!(
        err.contains("`devices[0]`: invalid type: integer `1`, expected a table"),
        "{err}"
    );
    // A device profile, named by the scenario that reads it.
    let profile = std::fs::read_to_string(root().join("calibration/jetson-orin-nano.toml"))
        .unwrap()
        .replace("[device]\nname = \"Jetson Orin Nano 8GB\"", "[devicex]");
    let profile = temp_file(
        "array_profile",
        "profile.toml",
        &format!("device = [\"Jetson\", \"15W\", 8.0]\n{profile}"),
    );
    let text = format!("{WORKLOAD}{}", good_device()).replace(
        &root()
            .join("calibration/jetson-orin-nano.toml")
            .display()
            .to_string(),
        &profile.display().to_string(),
    );
    fails(
        "array_in_profile",
        &text,
        &["profile.toml", "line 1", array],
    );
    // A plan's goals and a sweep's expectation.
    let plan = retail_plan_text();
    let plan = &plan[..plan.find("[goals]").unwrap()];
    let plan = temp_file(
        "array_plan",
        "plan.toml",
        &format!("goals = [2500, 0.01, 60, 1, 1, 1, 1]\n{plan}"),
    );
    let dir = scratch("array_plan_out");
    let o = edgesim(&[
        "plan",
        plan.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("plan.toml") && err.contains("line 1") && err.contains(array),
        "{err}"
    );
    assert!(!dir.join("out").exists(), "{err}");
    let sweep = std::fs::read_to_string(shipped("sweeps/ci.toml"))
        .unwrap()
        .replace("../bursty.toml", &shipped("bursty.toml").display().to_string())
        .replacen(
            "left = { metric = \"redirected_tokens\", where = { \"selection.kind\" = \"load_aware\" } }",
            "left = [\"redirected_tokens\"]",
            1,
        );
    assert!(sweep.contains("left = [\"redirected_tokens\"]"));
    let sweep = temp_file("array_sweep", "sweep.toml", &sweep);
    let o = edgesim(&[
        "sweep",
        sweep.to_str().unwrap(),
        "--out",
        dir.join("sweep").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("sweep.toml") && err.contains(array), "{err}");
    assert!(!dir.join("sweep").exists(), "{err}");
}

/// Every section of every shipped scenario, at every depth (`[routing]`, `devices[1]`, an
/// inline `prompt_tokens = { ... }`, `cloud.fallbacks[0]`), written instead as the array of its
/// values, as serde's derive alone read by position, is refused.
#[test]
fn every_section_written_as_an_array_is_refused() {
    use edgesim::scenario::{LoadOptions, Scenario};
    #[derive(Clone, Debug)]
    enum Seg {
        Key(String),
        Index(usize),
    }
    fn tables(v: &toml::Value, at: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
        match v {
            toml::Value::Table(t) => {
                if !at.is_empty() {
                    out.push(at.clone());
                }
                for (k, x) in t {
                    at.push(Seg::Key(k.clone()));
                    tables(x, at, out);
                    at.pop();
                }
            }
            toml::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    at.push(Seg::Index(i));
                    tables(x, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    fn at<'a>(v: &'a mut toml::Value, path: &[Seg]) -> &'a mut toml::Value {
        path.iter().fold(v, |v, s| match s {
            Seg::Key(k) => v.get_mut(k.as_str()).unwrap(),
            Seg::Index(i) => v.get_mut(*i).unwrap(),
        })
    }
    let mut checked = 0;
    for name in [
        "bursty.toml",
        "steady.toml",
        "fleet.toml",
        "failures.toml",
        "outage.toml",
        "fidelity.toml",
        "azure-trace.toml",
        "plans/retail-traffic.toml",
    ] {
        let path = shipped(name);
        let text = std::fs::read_to_string(&path).unwrap();
        Scenario::from_str_at(&text, &path, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{name} must load: {e}"));
        let doc = toml::Value::Table(toml::from_str(&text).unwrap());
        let mut paths = Vec::new();
        tables(&doc, &mut Vec::new(), &mut paths);
        assert!(paths.len() >= 4, "{name}: {paths:?}");
        for p in paths {
            let mut edited = doc.clone();
            let section = at(&mut edited, &p);
            let values: Vec<toml::Value> = section.as_table().unwrap().values().cloned().collect();
            *section = toml::Value::Array(values);
            let edited = toml::to_string(&edited).unwrap();
            match Scenario::from_str_at(&edited, &path, &LoadOptions::default()) {
                Ok(_) => panic!("{name}: {p:?} as an array was read:\n{edited}"),
                Err(e) => {
                    let e = e.to_string();
                    assert!(e.contains(name.rsplit('/').next().unwrap()), "{name}: {e}");
                    assert!(!e.contains("struct "), "{name}: {p:?}: {e}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked} sections");
}

/// A choice (`selection.kind`, `rate_limit.unit`, `routing.on_device_failure`, ...) is a string
/// that names it. toml alone also read the table form `{ random = {} }`, and refused a number
/// as "wanted string or table" (or after `--set`, "invalid type: unit variant, expected string
/// only"), naming no choice.
#[test]
fn a_choice_is_a_string_and_errors_name_the_choices() {
    for (set, want) in [
        (
            "selection.kind={random={}}",
            "`selection.kind`: invalid type: table, expected a string, one of random, weighted, \
             load_aware, round_robin, power_of_two",
        ),
        (
            "routing.on_device_failure=0",
            "`routing.on_device_failure`: invalid type: integer `0`, expected a string, one of \
             reroute, cloud, reject",
        ),
        (
            "routing.on_queue_timeout=0",
            "`routing.on_queue_timeout`: invalid type: integer `0`, expected a string, one of \
             cloud, reject",
        ),
        (
            "rate_limit.unit=true",
            "`rate_limit.unit`: invalid type: boolean `true`, expected a string, one of requests, \
             tokens, input_tokens, output_tokens",
        ),
    ] {
        let err = set_refused("bursty.toml", set);
        assert!(err.contains(want), "{set}: {err}");
    }
    let text = format!("{WORKLOAD}{}[selection]\nkind = 0\n", good_device());
    fails(
        "choice_number",
        &text,
        &[
            "kind = 0",
            "integer `0`, expected a string, one of random, weighted",
        ],
    );
}

/// Boards are named after their group (`NAME` for one board, `NAME-1` .. `NAME-N` for more), and
/// two boards may not share a name. The error named the board's name as the group's value
/// (`devices[1].name` = "nano-1" where the file says "nano") and not the group it clashed with.
#[test]
fn a_board_name_clash_names_both_groups() {
    for (sets, want) in [
        (
            &["devices.1.name=nano"][..],
            "`devices[1].name` = \"nano\": its board \"nano-1\" (2 boards, nano-1 .. nano-2) has \
             the name of a board of devices[0] (\"nano\": 3 boards, nano-1 .. nano-3); device \
             names must be unique",
        ),
        (
            &["devices.1.name=nano-2", "devices.1.count=1"],
            "`devices[1].name` = \"nano-2\": its board \"nano-2\" (1 board, named as it) has the \
             name of a board of devices[0]",
        ),
    ] {
        let mut args = vec!["check".to_string()];
        for s in sets {
            args.extend(["--set".to_string(), s.to_string()]);
        }
        args.push(shipped("bursty.toml").display().to_string());
        let o = edgesim(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{sets:?}: {err}");
        assert!(err.contains(want), "{sets:?}: {err}");
    }
    // Names that only look alike are fine: "nano-2" beside a group of one "nano".
    assert_ok(&edgesim(&[
        "check",
        "--set",
        "devices.0.count=1",
        "--set",
        "devices.1.name=nano-2",
        shipped("bursty.toml").to_str().unwrap(),
    ]));
}

/// `--set workload.kind=closed` on a Poisson workload keeps its `rate_rps`, which closed loops
/// do not have: the error said only "unknown field `rate_rps`". It now says why, and how to set
/// the whole section, for a `kind` or a `dist` (also inside an array entry); an unknown key
/// with no tag changed gets no such hint. The whole-section form it suggests runs.
#[test]
fn switching_a_sections_kind_by_set_says_to_set_the_whole_section() {
    for (scenario, set, want) in [
        (
            "steady.toml",
            "workload.kind=closed",
            "`--set workload.kind=closed` keeps the other keys of `workload`, and this one is not \
             a key of that kind: set the whole section instead, e.g. --set 'workload={ kind = \
             \"closed\", ... }'",
        ),
        (
            "bursty.toml",
            "workload.prompt_tokens.dist=\"fixed\"",
            "e.g. --set 'workload.prompt_tokens={ dist = \"fixed\", ... }'",
        ),
        (
            "outage.toml",
            "cloud.limits.0.kind=concurrency",
            "keeps the other keys of `cloud.limits[0]`",
        ),
    ] {
        let err = set_refused(scenario, set);
        assert!(
            err.contains("unknown field") && err.contains(want),
            "{set}: {err}"
        );
    }
    let err = set_refused("bursty.toml", "workload.rate_rpz=1");
    assert!(!err.contains("whole section"), "{err}");
    assert_ok(&edgesim(&[
        "check",
        "--set",
        "workload={ kind = \"closed\", users = 5, think_time_s = 2, prompt_tokens = { dist = \
         \"fixed\", value = 10 }, output_tokens = { dist = \"fixed\", value = 10 } }",
        shipped("steady.toml").to_str().unwrap(),
    ]));
}

/// A class's `devices` names groups of `[[devices]]`, each once; the error lists the groups.
#[test]
fn a_class_devices_name_the_fleets_groups() {
    for (set, needle) in [
        (
            "workload.classes=[{name=\"a\", devices=[\"orin\"]}]",
            "`workload.classes[0].devices[0]` = \"orin\": must be the `name` of a [[devices]] \
             group whose boards may serve the class; the groups are \"nano\", \"agx\"",
        ),
        (
            "workload.classes=[{name=\"a\"}, {name=\"b\", devices=[\"agx\", \"nano\", \"agx\"]}]",
            "`workload.classes[1].devices[2]` = \"agx\": names a device group listed before it",
        ),
        (
            "workload.classes=[{name=\"a\", devices=[3]}]",
            "`workload.classes[0].devices[0]`: invalid type: integer `3`, expected a string",
        ),
    ] {
        let err = set_refused("bursty.toml", set);
        assert!(err.contains(needle), "{set}: {err}");
    }
}
