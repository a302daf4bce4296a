//! The command line end to end, and the golden summary.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::*;

fn edgesim(args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "edgesim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn run_prints_a_table_and_json_with_the_documented_keys() {
    let root = root();
    let out = edgesim(&["run", "scenarios/bursty.toml", "--no-out"], &root);
    let table = String::from_utf8_lossy(&out.stdout);
    for word in [
        "requests",
        "tokens to cloud",
        "cloud cost",
        "edge energy",
        "TTFT edge",
        "end-to-end cloud",
        "nano-1",
        "agx-2",
    ] {
        assert!(table.contains(word), "table lacks {word}:\n{table}");
    }
    let j = json(&edgesim(
        &["run", "scenarios/bursty.toml", "--no-out", "--json"],
        &root,
    ));
    for k in [
        "requests_total",
        "served_edge",
        "served_cloud",
        "rejected",
        "redirected_tokens",
        "cloud_cost_usd",
        "edge_energy_j",
    ] {
        assert!(j[k].is_number(), "{k}");
    }
    for k in ["ttft_ms", "e2e_ms"] {
        for p in ["p50", "p90", "p99", "mean"] {
            assert!(j[k][p].is_number(), "{k}.{p}");
        }
    }
    let devs = j["devices"].as_array().unwrap();
    assert_eq!(devs.len(), 5);
    for d in devs {
        assert!(
            d["name"].is_string()
                && d["served"].is_number()
                && d["utilisation"].is_number()
                && d["energy_j"].is_number()
        );
    }
    // Stable key order: the first keys come in the documented order.
    let text = String::from_utf8_lossy(
        &edgesim(
            &["run", "scenarios/bursty.toml", "--no-out", "--json"],
            &root,
        )
        .stdout,
    )
    .into_owned();
    let pos = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
    assert!(pos("requests_total") < pos("served_edge") && pos("served_edge") < pos("devices"));
}

/// The table names every reason the edge refused: attempts too long for one device's context
/// (steady.toml's Orin Nano boards cut to 300 tokens, which its AGX boards hold) and requests
/// longer than every device's (the Azure trace's long prompts), with the JSON's counts. Where
/// neither happens, the line reads as before: rate limit and device full only.
#[test]
fn the_table_names_too_long_attempts_and_oversized_requests() {
    let root = root();
    let cases: [(&str, &[&str]); 3] = [
        (
            "scenarios/steady.toml",
            &["--set", "devices.0.ctx_tokens=300"],
        ),
        ("scenarios/azure-trace.toml", &[]),
        ("scenarios/bursty.toml", &[]),
    ];
    for (scenario, sets) in cases {
        let args = |json: bool| {
            let mut a = vec!["run", scenario, "--no-out"];
            a.extend_from_slice(sets);
            if json {
                a.push("--json");
            }
            a
        };
        let j = json(&edgesim(&args(true), &root));
        let table = String::from_utf8_lossy(&edgesim(&args(false), &root).stdout).into_owned();
        let n = |k: &str| j[k].as_u64().unwrap();
        let line = |label: &str| {
            table
                .lines()
                .find(|l| l.starts_with(label))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        };
        let fmt = |x: u64| {
            let s = x.to_string();
            let mut o = String::new();
            for (i, c) in s.chars().enumerate() {
                if i > 0 && (s.len() - i).is_multiple_of(3) {
                    o.push(',');
                }
                o.push(c);
            }
            o
        };
        let (throttled, full, too_long) = (
            n("throttled_attempts"),
            n("full_attempts"),
            n("too_long_attempts"),
        );
        let tail = if too_long > 0 {
            format!(", too long {})", fmt(too_long))
        } else {
            ")".to_string()
        };
        assert_eq!(
            line("edge attempts refused"),
            Some(format!(
                "edge attempts refused {} (rate limit {}, device full {}{tail}",
                fmt(throttled + full + too_long),
                fmt(throttled),
                fmt(full)
            )),
            "{scenario}:\n{table}"
        );
        let oversized = line("oversized requests");
        match n("oversized") {
            0 => assert_eq!(oversized, None, "{scenario}:\n{table}"),
            k => assert!(
                oversized
                    .is_some_and(|l| l.starts_with(&format!("oversized requests {} (", fmt(k)))),
                "{scenario}:\n{table}"
            ),
        }
        match scenario {
            "scenarios/steady.toml" => {
                assert!(too_long > 0, "the case must refuse too-long attempts")
            }
            "scenarios/azure-trace.toml" => {
                assert!(n("oversized") > 0, "the case must have oversized requests")
            }
            _ => assert!(too_long == 0 && n("oversized") == 0),
        }
    }
}

#[test]
fn set_and_seed_override_the_scenario() {
    let root = root();
    let base = json(&edgesim(
        &["run", "scenarios/bursty.toml", "--no-out", "--json"],
        &root,
    ));
    let random = json(&edgesim(
        &[
            "run",
            "scenarios/bursty.toml",
            "--no-out",
            "--json",
            "--set",
            "selection.kind=\"random\"",
        ],
        &root,
    ));
    assert_eq!(random["selection"], "random");
    assert_eq!(
        random["requests_total"], base["requests_total"],
        "same arrivals"
    );
    assert_ne!(random["devices"], base["devices"]);
    let seeded = json(&edgesim(
        &[
            "run",
            "scenarios/bursty.toml",
            "--no-out",
            "--json",
            "--seed",
            "9",
        ],
        &root,
    ));
    assert_eq!(seeded["seed"], 9);
    let fewer = json(&edgesim(
        &[
            "run",
            "scenarios/steady.toml",
            "--no-out",
            "--json",
            "--set",
            "workload.rate_rps=0.05",
        ],
        &root,
    ));
    assert!(
        fewer["requests_total"].as_u64().unwrap() < base["requests_total"].as_u64().unwrap() / 4
    );
}

#[test]
fn out_writes_summary_and_a_resolved_scenario_that_reproduces_the_run() {
    let dir = scratch("cli-out");
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.display().to_string();
    let printed = edgesim(
        &[
            "run",
            "scenarios/bursty.toml",
            "--json",
            "--out",
            &d,
            "--set",
            "selection.kind=random",
            "--seed",
            "5",
        ],
        &root(),
    );
    let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    assert_eq!(summary.as_bytes(), &printed.stdout[..]);
    let resolved = dir.join("scenario.resolved.toml");
    let again_dir = dir.join("again");
    // Run the resolved file from another folder: it must be self-contained.
    let again = edgesim(
        &[
            "run",
            resolved.to_str().unwrap(),
            "--json",
            "--out",
            again_dir.to_str().unwrap(),
        ],
        &std::env::temp_dir(),
    );
    assert_eq!(again.stdout, printed.stdout);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains(".tmp")), "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A scenario named by its bare file name, run from its own folder, with a trace and a model
/// catalogue beside it: its resolved form names them by absolute paths, so it reproduces the
/// run from anywhere. Until 2026-12-06 they stayed relative (the working directory was not
/// taken for a bare name's folder), and the resolved file failed to find the catalogue.
#[test]
fn a_bare_scenario_names_resolved_paths_that_hold_from_anywhere() {
    let dir = scratch_dir("cli-bare-name");
    std::fs::copy(
        root().join("scenarios/traces/azure-conv-excerpt.csv"),
        dir.join("trace.csv"),
    )
    .unwrap();
    std::fs::copy(
        root().join("calibration/models.toml"),
        dir.join("models.toml"),
    )
    .unwrap();
    let profile = root().join("calibration/jetson-orin-nano.toml");
    std::fs::write(
        dir.join("bare.toml"),
        format!(
            "name = \"bare\"\nmodel_catalogue = \"models.toml\"\n\
             [workload]\nkind = \"trace\"\npath = \"trace.csv\"\ntime_scale = 10.0\nmax_requests = 300\n\
             [[devices]]\nname = \"nano\"\nprofile = \"{}\"\nmodel = \"qwen2.5-3b\"\n",
            profile.display()
        ),
    )
    .unwrap();
    let first = edgesim(&["run", "bare.toml", "--json", "--out", "out"], &dir);
    let resolved = std::fs::read_to_string(dir.join("out/scenario.resolved.toml")).unwrap();
    for name in ["trace.csv", "models.toml"] {
        let line = resolved
            .lines()
            .find(|l| l.ends_with(&format!("{name}\"")))
            .unwrap_or_else(|| panic!("no {name}: {resolved}"));
        let path = line.split('"').nth(1).unwrap();
        assert!(Path::new(path).is_absolute(), "{line}");
    }
    let again = edgesim(
        &[
            "run",
            dir.join("out/scenario.resolved.toml").to_str().unwrap(),
            "--json",
            "--no-out",
        ],
        &std::env::temp_dir(),
    );
    assert_eq!(again.stdout, first.stdout);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A shipped profile may be named instead of a path (`profile = "jetson-orin-nano"`): a
/// scenario and a plan written in a folder without the repository's `calibration/` run, with
/// the results of the files themselves; a file of that name beside the scenario wins; a path
/// that does not exist is refused naming the shipped profiles.
#[test]
fn shipped_profiles_are_named_without_a_path() {
    let dir = scratch_dir("cli-shipped-profiles");
    let by_name = |text: &str| {
        text.replace(
            "\"../calibration/jetson-orin-nano.toml\"",
            "\"jetson-orin-nano\"",
        )
        .replace(
            "\"../calibration/jetson-agx-orin.toml\"",
            "\"jetson-agx-orin\"",
        )
        .replace(
            "\"../../calibration/jetson-orin-nano.toml\"",
            "\"jetson-orin-nano\"",
        )
        .replace(
            "\"../../calibration/jetson-agx-orin.toml\"",
            "\"jetson-agx-orin\"",
        )
    };
    let bursty = std::fs::read_to_string(shipped("bursty.toml")).unwrap();
    let named = by_name(&bursty);
    assert_eq!(named.matches("profile = \"jetson-").count(), 2, "{named}");
    std::fs::write(dir.join("bursty.toml"), &named).unwrap();
    let root = root();
    let want = edgesim(
        &["run", "scenarios/bursty.toml", "--json", "--no-out"],
        &root,
    );
    let got = edgesim(&["run", "bursty.toml", "--json", "--no-out"], &dir);
    assert_eq!(got.stdout, want.stdout);

    // A plan and its base scenario, both naming profiles.
    for f in ["retail.toml", "retail-traffic.toml"] {
        let text = std::fs::read_to_string(shipped(&format!("plans/{f}"))).unwrap();
        std::fs::write(dir.join(f), by_name(&text)).unwrap();
    }
    edgesim(&["plan", "retail.toml", "--out", "named", "--csv"], &dir);
    let files = dir.join("files");
    edgesim(
        &[
            "plan",
            "scenarios/plans/retail.toml",
            "--out",
            files.to_str().unwrap(),
            "--csv",
        ],
        &root,
    );
    let csv = |d: &Path| std::fs::read_to_string(d.join("plans.csv")).unwrap();
    assert!(
        csv(&dir.join("named")) == csv(&files),
        "plans by name differ from plans by path"
    );
    assert!(csv(&files).lines().count() > 10, "{}", csv(&files));
    // A plan elsewhere than its traffic scenario, which sits beside a file named as a shipped
    // profile the plan names: the plan's types are the shipped profiles (the names resolve
    // against the plan file), not that file (until 2026-12-06 each fleet's scenario named the
    // profile again, and found the file).
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let plan = std::fs::read_to_string(dir.join("retail.toml")).unwrap();
    let traffic = dir.join("retail-traffic.toml");
    std::fs::write(
        elsewhere.join("retail.toml"),
        plan.replace(
            "\"retail-traffic.toml\"",
            &format!("\"{}\"", traffic.display()),
        ),
    )
    .unwrap();
    let agx = std::fs::read_to_string(root.join("calibration/jetson-agx-orin.toml")).unwrap();
    let hungry = agx.replace("\nidle_w = 9.0\n", "\nidle_w = 50.0\n");
    assert_ne!(hungry, agx);
    std::fs::write(dir.join("jetson-agx-orin"), hungry).unwrap();
    edgesim(&["plan", "retail.toml", "--out", "o", "--csv"], &elsewhere);
    assert!(
        csv(&elsewhere.join("o")) == csv(&files),
        "the plan's fleets used the file beside the traffic scenario"
    );
    std::fs::remove_file(dir.join("jetson-agx-orin")).unwrap();

    // A file of the name wins: here the Orin Nano's profile under another board name.
    let nano = std::fs::read_to_string(root.join("calibration/jetson-orin-nano.toml")).unwrap();
    let mine = nano.replace("name = \"Jetson Orin Nano 8GB\"", "name = \"my nano\"");
    assert_ne!(mine, nano);
    let resolved =
        |dir: &Path| String::from_utf8(edgesim(&["check", "bursty.toml"], dir).stdout).unwrap();
    assert!(resolved(&dir).contains("name = \"Jetson Orin Nano 8GB\""));
    std::fs::write(dir.join("jetson-orin-nano"), mine).unwrap();
    let text = resolved(&dir);
    assert!(
        text.contains("name = \"my nano\"") && !text.contains("Jetson Orin Nano 8GB"),
        "{text}"
    );
    std::fs::remove_file(dir.join("jetson-orin-nano")).unwrap();

    // A name that is no shipped profile, and no file.
    std::fs::write(
        dir.join("typo.toml"),
        named.replace("\"jetson-agx-orin\"", "\"jetson-agx-orn\""),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args(["check", "typo.toml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`devices[1].profile` = \"jetson-agx-orn\"")
            && err.contains("no such file")
            && err
                .contains("jetson-agx-orin-64gb-30w, jetson-agx-orin-64gb-maxn, jetson-agx-orin,"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--no-out` writes nothing, so a table flag given with it would be dropped without a word:
/// the pair is refused, naming both, and nothing is run or written. Alone it runs.
#[test]
fn no_out_refuses_the_table_flags() {
    let cwd = scratch_dir("cli-no-out");
    let scenario = shipped("steady.toml");
    let sc = scenario.to_str().unwrap();
    for (flag, shown) in [
        (&["--csv"][..], "--csv"),
        (&["--no-requests"][..], "--no-requests"),
        (&["--bucket-s", "5"][..], "--bucket-s"),
        (&["--out", "x"][..], "--out"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_edgesim"))
            .args(["run", sc, "--no-out"])
            .args(flag)
            .current_dir(&cwd)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{shown}: {err}");
        assert!(
            err.contains("'--no-out' cannot be used with") && err.contains(shown),
            "{shown}: {err}"
        );
    }
    assert_eq!(
        std::fs::read_dir(&cwd).unwrap().count(),
        0,
        "nothing written"
    );
    edgesim(&["run", sc, "--no-out"], &cwd); // succeeds
    std::fs::remove_dir_all(&cwd).unwrap();
}

#[test]
fn default_output_folder_is_under_output() {
    let cwd = scratch("cli-default");
    std::fs::create_dir_all(&cwd).unwrap();
    let scenario = shipped("steady.toml");
    edgesim(&["run", scenario.to_str().unwrap()], &cwd);
    assert!(cwd.join("output/steady/summary.json").is_file());
    assert!(cwd.join("output/steady/scenario.resolved.toml").is_file());
    std::fs::remove_dir_all(&cwd).unwrap();
}

#[test]
fn check_prints_the_resolved_scenario() {
    let out = edgesim(
        &[
            "check",
            "scenarios/bursty.toml",
            "--set",
            "routing.max_attempts=2",
        ],
        &root(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("max_attempts = 2"), "{text}");
    assert!(
        text.contains("[devices.inline.device]"),
        "profiles are inlined: {text}"
    );
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(parsed["seed"].as_integer(), Some(42));
}

/// Settings the chosen policy does not read are valid (sweeps over policies keep them fixed)
/// but draw a warning from `run` and `check`, naming the key; the shipped scenarios draw none,
/// and neither does a setting its policy reads.
#[test]
fn settings_the_policy_does_not_read_draw_a_warning() {
    let warnings = |cmd: &str, sets: &[&str]| -> Vec<String> {
        let mut args = vec![cmd, "scenarios/bursty.toml"];
        if cmd == "run" {
            args.push("--no-out");
        }
        for s in sets {
            args.extend(["--set", s]);
        }
        let out = edgesim(&args, &root());
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.starts_with("warning:"))
            .map(str::to_string)
            .collect()
    };
    let interval = "selection.load_report_interval_ms=500";
    let weight = "devices.1.weight=2.5";
    for cmd in ["run", "check"] {
        assert_eq!(warnings(cmd, &[]), Vec::<String>::new());
        let w = warnings(cmd, &["selection.kind=\"random\"", interval, weight]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains(
                "`selection.load_report_interval_ms` = 500 does nothing under \
                 `selection.kind` = \"random\""
            ),
            "{w:?}"
        );
        assert!(
            w[1].contains(
                "`devices[1].weight` = 2.5 does nothing under `selection.kind` = \
                 \"random\": only weighted selection reads weights"
            ),
            "{w:?}"
        );
        let w = warnings(cmd, &["selection.kind=\"weighted\"", weight]);
        assert_eq!(w, Vec::<String>::new());
        for kind in ["load_aware", "power_of_two"] {
            let w = warnings(cmd, &[&format!("selection.kind=\"{kind}\""), interval]);
            assert_eq!(w, Vec::<String>::new(), "{kind}");
        }
        // A queue timeout where no board has a queue; what to do at a timeout, without one.
        let no_queues = ["devices.0.queue_capacity=0", "devices.1.queue_capacity=0"];
        let timeout = "routing.queue_timeout_ms=800";
        let w = warnings(cmd, &[&no_queues[..], &[timeout]].concat());
        assert_eq!(
            w,
            [
                "warning: scenarios/bursty.toml: `routing.queue_timeout_ms` = 800 does nothing: \
              no device has a queue (every group's `queue_capacity` is 0)"
            ],
            "{cmd}"
        );
        assert_eq!(warnings(cmd, &[timeout]), Vec::<String>::new());
        // Predictive admission where no request waits.
        let predicted = "routing.max_predicted_wait_ms=500";
        assert_eq!(warnings(cmd, &[predicted]), Vec::<String>::new());
        let w = warnings(cmd, &[&no_queues[..], &[predicted]].concat());
        assert_eq!(
            w,
            [
                "warning: scenarios/bursty.toml: `routing.max_predicted_wait_ms` = 500 does \
                 nothing: no device has a queue (every group's `queue_capacity` is 0), so no \
                 request waits"
            ],
            "{cmd}"
        );
        // A class's own bound: likewise, and where the class never meets a board.
        let own = "workload.classes=[{name=\"chat\", max_predicted_wait_ms=300}]";
        assert_eq!(warnings(cmd, &[own]), Vec::<String>::new());
        let w = warnings(cmd, &[&no_queues[..], &[own]].concat());
        assert_eq!(
            w,
            [
                "warning: scenarios/bursty.toml: `workload.classes[0].max_predicted_wait_ms` = \
                 300 does nothing: no device has a queue (every group's `queue_capacity` is 0), \
                 so no request waits"
            ],
            "{cmd}"
        );
        let cloud_class = "workload.classes=[{name=\"hard\", route=\"cloud\", \
                           max_predicted_wait_ms=300}, {name=\"chat\"}]";
        assert_eq!(
            warnings(cmd, &[cloud_class]),
            [
                "warning: scenarios/bursty.toml: `workload.classes[0].max_predicted_wait_ms` = \
                 300 does nothing: the class (hard) is routed to the cloud (`route` = \"cloud\") \
                 and never waits in an edge queue"
            ],
            "{cmd}"
        );
        let reject = "routing.on_queue_timeout=reject";
        let w = warnings(cmd, &[reject]);
        assert_eq!(
            w,
            [
                "warning: scenarios/bursty.toml: `routing.on_queue_timeout` = \"reject\" does \
                 nothing without a queue timeout (`routing.queue_timeout_ms` > 0, or a class's \
                 `queue_timeout_ms`): requests wait for a slot as long as it takes"
            ],
            "{cmd}"
        );
        assert_eq!(warnings(cmd, &[timeout, reject]), Vec::<String>::new());
        // A class's own timeout is one too.
        let class = "workload.classes=[{name=\"chat\", queue_timeout_ms=800}]";
        assert_eq!(warnings(cmd, &[class, reject]), Vec::<String>::new());
        let w = warnings(cmd, &[&no_queues[..], &[class]].concat());
        assert_eq!(
            w,
            [
                "warning: scenarios/bursty.toml: `workload.classes[0].queue_timeout_ms` = 800 does \
              nothing: no device has a queue (every group's `queue_capacity` is 0)"
            ],
            "{cmd}"
        );
        // A class routed to a disabled cloud, or to an edge the scenario lacks.
        let cloud = "workload.classes=[{name=\"hard\", route=\"cloud\"}, {name=\"chat\"}]";
        assert_eq!(warnings(cmd, &[cloud]), Vec::<String>::new());
        let w = warnings(cmd, &[cloud, "cloud.enabled=false"]);
        assert_eq!(
            w,
            [
                "warning: scenarios/bursty.toml: `workload.classes[0].route` = \"cloud\" (hard): \
                 the cloud is disabled (`cloud.enabled` = false): its requests are all rejected"
            ],
            "{cmd}"
        );
        let waits = "workload.classes=[{name=\"hard\", route=\"cloud\", queue_timeout_ms=800, \
                     priority=2}, {name=\"chat\"}]";
        let w = warnings(cmd, &[waits]);
        assert_eq!(
            w,
            [
                "warning: scenarios/bursty.toml: `workload.classes[0].queue_timeout_ms` = 800 does \
                 nothing: the class (hard) is routed to the cloud (`route` = \"cloud\") and never \
                 waits in an edge queue",
                "warning: scenarios/bursty.toml: `workload.classes[0].priority` = 2 does nothing: \
                 the class (hard) is routed to the cloud (`route` = \"cloud\") and never waits in \
                 an edge queue"
            ],
            "{cmd}"
        );
        // A class's quota without a limit per class.
        let quota = "workload.classes=[{name=\"a\", quota=2}, {name=\"b\"}]";
        let w = warnings(cmd, &[quota]);
        assert_eq!(
            w,
            [
                "warning: scenarios/bursty.toml: `workload.classes[0].quota` = 2 does nothing: \
                 only a rate limit per class reads it (`[rate_limit]` with a `kind` and `scope` = \
                 \"class\"; here kind \"sliding_window\", scope \"device\")"
            ],
            "{cmd}"
        );
        assert_eq!(
            warnings(cmd, &[quota, "rate_limit.scope=\"class\""]),
            Vec::<String>::new()
        );
        // A cloud limit's quota of a class that never reaches the cloud (a fallback's too).
        let kept = "workload.classes=[{name=\"a\", route=\"edge_only\"}, {name=\"b\"}]";
        let limits = "cloud.limits=[{kind=\"concurrency\", limit=3, scope=\"class\", \
                      quotas={a=1, b=2}}]";
        let w = warnings(cmd, &[kept, limits]);
        assert_eq!(
            w,
            [
                "warning: scenarios/bursty.toml: `cloud.limits[0].quotas.a` = 1 does nothing: \
                 the class's requests never reach the cloud (`route` = \"edge_only\")"
            ],
            "{cmd}"
        );
        let fallback = "cloud.fallbacks=[{model=\"gpt-4o-mini\", limits=[{kind=\"concurrency\", \
                        limit=3, scope=\"class\", quotas={b=2}}]}]";
        let w = warnings(
            cmd,
            &[
                "workload.classes=[{name=\"a\"}, {name=\"b\"}]",
                fallback,
                "cloud.enabled=false",
            ],
        );
        assert_eq!(
            w,
            [
                "warning: scenarios/bursty.toml: `cloud.fallbacks[0].limits[0].quotas.b` = 2 \
                 does nothing: the class's requests never reach the cloud (`cloud.enabled` = \
                 false)"
            ],
            "{cmd}"
        );
        let private = "workload.classes=[{name=\"private\", route=\"edge_only\"}]";
        assert_eq!(warnings(cmd, &[private]), Vec::<String>::new());
        let w = warnings(cmd, &[private, "devices=[]"]);
        assert_eq!(
            w,
            [
                "warning: scenarios/bursty.toml: `workload.classes[0].route` = \"edge_only\" \
                 (private): the scenario has no edge device: its requests are all rejected"
            ],
            "{cmd}"
        );
    }
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            assert_eq!(load(&p, &[]).unread_settings(), Vec::<String>::new());
        }
    }
}

/// Changing a cloud's model alone (`--set cloud.model=...`, a sweep axis) where the scenario
/// pins keys the catalogue would fill for the model (`scenarios/bursty.toml` pins the paper's
/// 600 ms and 40 tokens/s) draws a warning naming them, from `run`, `check`, `compare` and
/// `sweep`; setting them too draws none. The runs are those of the keys as given: the warning
/// changes nothing.
#[test]
fn a_cloud_model_changed_alone_names_the_keys_that_stay() {
    let stderr = |args: &[&str]| -> String {
        String::from_utf8_lossy(&edgesim(args, &root()).stderr).into_owned()
    };
    let want = "warning: scenarios/bursty.toml: --set cloud.model: the scenario gives \
                `cloud.ttft_ms` and `cloud.tokens_per_s`: they keep their values whatever the model";
    let dir = scratch_dir("cli-cloud-model-alone");
    let out = dir.join("compare");
    let out = out.to_str().unwrap();
    for args in [
        &["run", "scenarios/bursty.toml", "--no-out"][..],
        &["check", "scenarios/bursty.toml"],
        &[
            "compare",
            "scenarios/bursty.toml",
            "--policies",
            "random",
            "--out",
            out,
        ],
    ] {
        let plain = stderr(args);
        assert!(!plain.contains("warning"), "{plain}");
        let set = [args, &["--set", "cloud.model=gpt-4o"]].concat();
        let e = stderr(&set);
        assert!(e.contains(want), "{args:?}: {e}");
        let both = [
            &set[..],
            &[
                "--set",
                "cloud.ttft_ms=500",
                "--set",
                "cloud.tokens_per_s=100",
            ],
        ]
        .concat();
        let e = stderr(&both);
        assert!(!e.contains("warning"), "{args:?}: {e}");
    }
    let sweep = dir.join("models.toml");
    std::fs::write(
        &sweep,
        format!(
            "scenario = \"{}\"\n[[axes]]\nkey = \"cloud.model\"\nvalues = [\"gpt-4\", \"gpt-4o\"]\n",
            root().join("scenarios/bursty.toml").display()
        ),
    )
    .unwrap();
    let e = stderr(&[
        "sweep",
        sweep.to_str().unwrap(),
        "--out",
        dir.join("sweep").to_str().unwrap(),
    ]);
    assert!(
        e.contains("bursty.toml: axis `cloud.model`: the scenario gives `cloud.ttft_ms` and"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_shipped_scenario_validates_and_runs() {
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            let sc = load(&p, &[]);
            let s = edgesim::sim::run(&sc).unwrap();
            assert!(s.requests_total > 0, "{}", p.display());
        }
    }
}

/// `printed` is `tests/golden/NAME` byte for byte (written instead with `UPDATE_GOLDEN=1`).
fn assert_golden(name: &str, printed: &[u8]) {
    let golden = root().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, printed).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(
        String::from_utf8_lossy(printed),
        expected,
        "output differs from {}",
        golden.display()
    );
}

/// Golden summaries of small fixed-seed scenarios (`tests/golden/NAME.toml` pinned in
/// `NAME.summary.json`). A change in the numbers must be reviewed: regenerate with
/// `UPDATE_GOLDEN=1 cargo test golden` and read the diff.
#[test]
fn golden_summary() {
    for name in ["small", "serial-slots"] {
        let scenario = format!("tests/golden/{name}.toml");
        let out = edgesim(&["run", &scenario, "--json", "--no-out"], &root());
        assert_golden(&format!("{name}.summary.json"), &out.stdout);
    }
}

/// The golden small scenario's capacity, pinned in `small.capacity.json` (regenerate as the
/// summaries are).
#[test]
fn golden_capacity() {
    let out = edgesim(
        &[
            "capacity",
            "tests/golden/small.toml",
            "--goal",
            "ttft_p95_ms=1500",
            "--goal",
            "max_reject_share=0.05",
            "--json",
            "--no-out",
        ],
        &root(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_golden("small.capacity.json", &out.stdout);
}

/// The resolved scenario keeps cloud faults and device failures: running it again gives the
/// same summary, byte for byte, and the request table has its fault columns.
#[test]
fn resolved_scenarios_with_faults_reproduce_the_run() {
    for name in ["failures.toml", "outage.toml"] {
        let dir = scratch(&format!("cli-faults-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        let scenario = format!("scenarios/{name}");
        let printed = edgesim(
            &[
                "run",
                &scenario,
                "--json",
                "--csv",
                "--out",
                dir.to_str().unwrap(),
            ],
            &root(),
        );
        let again = edgesim(
            &[
                "run",
                dir.join("scenario.resolved.toml").to_str().unwrap(),
                "--json",
                "--no-out",
            ],
            &std::env::temp_dir(),
        );
        assert_eq!(again.stdout, printed.stdout, "{name}");
        let table = std::fs::read_to_string(dir.join("requests.csv")).unwrap();
        let header = table.lines().next().unwrap();
        assert!(
            header.ends_with(",cloud_retries,interruptions,during_cloud_outage,cloud_model"),
            "{name}: {header}"
        );
        let devices = std::fs::read_to_string(dir.join("devices.csv")).unwrap();
        let has_failures = devices
            .lines()
            .next()
            .unwrap()
            .ends_with(",failures,down_s");
        assert_eq!(has_failures, name == "failures.toml", "{name}: {devices}");
        // Cloud rows name their provider; edge rows leave it empty.
        for line in table.lines().skip(1) {
            let cloud = line.contains(",cloud,");
            assert_eq!(line.ends_with(",gpt-4o-mini"), cloud, "{name}: {line}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    // Without faults the table has no fault columns (byte-identical to earlier versions).
    let dir = scratch("cli-nofaults");
    let _ = std::fs::remove_dir_all(&dir);
    edgesim(
        &[
            "run",
            "scenarios/steady.toml",
            "--csv",
            "--out",
            dir.to_str().unwrap(),
        ],
        &root(),
    );
    let header = std::fs::read_to_string(dir.join("requests.csv")).unwrap();
    assert!(
        header
            .lines()
            .next()
            .unwrap()
            .ends_with(",energy_j,cost_usd")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--threads` of a sweep or plan is 1 to 1,024: 100,000 used to start that many threads, which
/// took minutes before the first run (it looked like a hang).
#[test]
fn sweep_and_plan_threads_are_bounded() {
    let root = root();
    for (cmd, file) in [
        ("sweep", "scenarios/sweeps/ci.toml"),
        ("plan", "scenarios/plans/retail.toml"),
    ] {
        for n in ["0", "100000"] {
            let out = scratch("threads");
            let o = Command::new(env!("CARGO_BIN_EXE_edgesim"))
                .args([cmd, file, "--threads", n, "--out", out.to_str().unwrap()])
                .current_dir(&root)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{cmd} --threads {n}: {err}");
            assert!(
                err.contains(&format!("--threads {n}")) && err.contains("1 to 1024"),
                "{err}"
            );
            assert!(!out.exists(), "{cmd} --threads {n} wrote {}", out.display());
        }
    }
}
