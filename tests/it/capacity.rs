//! `edgesim capacity`: the highest load that meets the goals, against Erlang B, and the
//! command line (files, determinism, the scenario at capacity, bad input).

use crate::common::*;
use crate::queueing::{erlang_b, loss_scenario};
use edgesim::capacity::{End, Settings, search};
use edgesim::plan::{Goal, Quantity};

/// Three single-slot devices without queue or cloud, service 1 s: M/D/3/3 under load-aware
/// selection, which blocks as Erlang B(3, rate).
fn loss_system(rate: f64, duration: f64) -> String {
    loss_scenario(
        "load_aware",
        3,
        rate,
        r#"{ dist = "fixed", value = 11 }"#,
        duration,
        11,
    )
}

/// A scenario replaying a trace of two rows, at 0 s and `last_s`, with `time_scale`, on one
/// single-slot device without a cloud.
fn two_row_trace(tag: &str, last_s: f64, time_scale: f64) -> String {
    let trace = temp_file(tag, "t.csv", &trace_text(&[(0.0, 5, 5), (last_s, 5, 5)]));
    format!(
        "seed = 1\n[workload]\nkind = \"trace\"\npath = \"{}\"\ntime_scale = {time_scale:?}\n\
         [cloud]\nenabled = false\n{}",
        trace.display(),
        inline_device("d", 1, 0, &[10.0], 10.0, 1.0)
    )
}

fn reject_goal(bound: f64) -> Goal {
    Goal {
        key: "max_reject_share",
        class: None,
        quantity: Quantity::RejectShare,
        bound,
        at_most: true,
    }
}

/// The offered load at which Erlang B(3, a) = `b`, by bisection (B rises with a).
fn erlang_b_load(b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 100.0);
    for _ in 0..200 {
        let m = 0.5 * (lo + hi);
        if erlang_b(3, m) > b {
            hi = m;
        } else {
            lo = m;
        }
    }
    lo
}

/// The search of the loss-system tests (five replications, a 1 % precision), which ends with
/// the bracket.
fn erlang_search(
    sc: &edgesim::scenario::Scenario,
    goals: Vec<Goal>,
) -> (Settings, edgesim::capacity::Outcome) {
    let st = Settings {
        goals,
        replications: 5,
        precision: 0.01,
        min_scale: 0.001,
        max_scale: 1000.0,
        traffic_hours_per_month: 730.0,
    };
    let o = search(sc, &st, None, &|_| {}).unwrap();
    assert_eq!(o.end, End::Bracketed);
    (st, o)
}

#[test]
fn the_capacity_of_a_loss_system_is_erlang_bs() {
    // Blocking of 10 % and of 30 %: the arrival rates that give them are the capacities.
    for (b, rate) in [(0.1, 0.5), (0.3, 4.0)] {
        let truth = erlang_b_load(b);
        let sc = scenario(&loss_system(rate, 12_000.0 / rate));
        let (_, o) = erlang_search(&sc, vec![reject_goal(b)]);
        let cap = &o.probes[o.capacity.unwrap()];
        let above = &o.probes[o.above.unwrap()];
        assert!(cap.feasible() && !above.feasible());
        assert!(above.scale / cap.scale <= 1.01 + 1e-12);
        let (found, next) = (rate * cap.scale, rate * above.scale);
        // The goal is judged on the 95 % bound of five runs of some 12,000 requests each, so
        // the capacity's true blocking lies a little under the goal, never far from it, and
        // the load missed above it blocks about as much as the goal allows.
        let (at, over) = (erlang_b(3, found), erlang_b(3, next));
        assert!(
            at <= b + 0.005 && at >= b - 0.02,
            "B = {b}: capacity {found:.4} requests/s (Erlang B {at:.4}), truth {truth:.4}"
        );
        assert!(
            over >= b - 0.02,
            "B = {b}: missed at {next:.4} (Erlang B {over:.4})"
        );
        // Every load above the capacity run misses, every one below meets (the search's
        // bracket holds), and the workload key is the scaled rate.
        for p in &o.probes {
            assert_eq!(p.feasible(), p.scale <= cap.scale, "scale {}", p.scale);
            assert_eq!(p.load, vec![("rate_rps", rate * p.scale)]);
        }
    }
}

/// The loss system with two request classes of equal shares: `short` (service 1 s) and `long`
/// (3 s).
fn two_class_loss_system(rate: f64, duration: f64) -> String {
    let one = r#"prompt_tokens = { dist = "fixed", value = 1 }
output_tokens = { dist = "fixed", value = 11 }"#;
    let classes = r#"[[workload.classes]]
name = "short"
prompt_tokens = { dist = "fixed", value = 1 }
output_tokens = { dist = "fixed", value = 11 }
[[workload.classes]]
name = "long"
prompt_tokens = { dist = "fixed", value = 1 }
output_tokens = { dist = "fixed", value = 31 }"#;
    let s = loss_system(rate, duration);
    assert!(s.contains(one));
    // The classes' tables go after the workload's keys (before `[selection]`).
    s.replace(one, "")
        .replace("[selection]", &format!("{classes}\n[selection]"))
}

#[test]
fn a_class_goal_on_a_loss_system_is_erlang_bs() {
    // Poisson arrivals see the time averages, and Erlang's loss formula depends on the service
    // times through their mean only: each class is blocked as the whole system,
    // B(3, a) with a = rate (0.5 x 1 s + 0.5 x 3 s) = 2 rate. A 10 % goal on the short class's
    // rejections is met up to the rate whose load gives B = 0.1.
    let b = 0.1;
    let truth = erlang_b_load(b) / 2.0;
    let sc = scenario(&two_class_loss_system(truth, 24_000.0 / truth));
    let classes: Vec<String> = sc.classes().iter().map(|c| c.name.clone()).collect();
    assert_eq!(classes, ["short", "long"]);
    let mut file = edgesim::plan::GoalsFile::default();
    file.classes.insert(
        "short".into(),
        edgesim::plan::GoalsFile {
            max_reject_share: Some(b),
            ..Default::default()
        },
    );
    let cx = edgesim::check::Checker::new(std::path::Path::new("--goal"));
    let goals = edgesim::plan::goals(&cx, "", &file, &classes, None).unwrap();
    assert_eq!(goals[0].name(), "short.max_reject_share");
    let (st, o) = erlang_search(&sc, goals);
    let cap = &o.probes[o.capacity.unwrap()];
    let above = &o.probes[o.above.unwrap()];
    let (found, next) = (truth * cap.scale, truth * above.scale);
    // Judged on the 95 % bound of five runs of some 12,000 short requests each: a little under
    // the goal, never far from it (as the single-class test).
    let (at, over) = (erlang_b(3, 2.0 * found), erlang_b(3, 2.0 * next));
    assert!(
        at <= b + 0.005 && at >= b - 0.02,
        "capacity {found:.4} requests/s (Erlang B {at:.4}), truth {truth:.4}"
    );
    assert!(over >= b - 0.02, "missed at {next:.4} (Erlang B {over:.4})");
    // The goal read the short class's rejections: at capacity they are not the long class's
    // nor the run's (the same in expectation, not run by run).
    let short = cap.runs.iter().map(|r| r.classes[0].reject_share.unwrap());
    let run = cap.runs.iter().map(|r| r.run.reject_share.unwrap());
    let long = cap.runs.iter().map(|r| r.classes[1].reject_share.unwrap());
    let (short, run, long): (Vec<f64>, Vec<f64>, Vec<f64>) =
        (short.collect(), run.collect(), long.collect());
    assert!(short != run && short != long, "{short:?} {run:?} {long:?}");
    let value = |r: &edgesim::plan::cost::RunValues| r.value(&st.goals[0]);
    assert_eq!(
        cap.runs.iter().map(value).collect::<Vec<_>>(),
        short.iter().map(|&v| Some(v)).collect::<Vec<_>>()
    );
}

/// A scenario without `workload.classes` has one class, `default`: its goals are the run's.
#[test]
fn a_goal_on_the_only_class_is_the_runs() {
    let sc = scenario(&loss_system(1.0, 3000.0));
    let classes: Vec<String> = sc.classes().iter().map(|c| c.name.clone()).collect();
    let cx = edgesim::check::Checker::new(std::path::Path::new("--goal"));
    let mut of_class = edgesim::plan::GoalsFile::default();
    of_class.classes.insert(
        "default".into(),
        edgesim::plan::GoalsFile {
            max_reject_share: Some(0.1),
            ..Default::default()
        },
    );
    let of_run = edgesim::plan::GoalsFile {
        max_reject_share: Some(0.1),
        ..Default::default()
    };
    let found = [of_class, of_run].map(|g| {
        let st = Settings {
            goals: edgesim::plan::goals(&cx, "", &g, &classes, None).unwrap(),
            replications: 2,
            precision: 0.05,
            min_scale: 0.01,
            max_scale: 100.0,
            traffic_hours_per_month: 730.0,
        };
        let o = search(&sc, &st, None, &|_| {}).unwrap();
        let values: Vec<Vec<Option<f64>>> = o
            .probes
            .iter()
            .map(|p| p.runs.iter().map(|r| r.value(&st.goals[0])).collect())
            .collect();
        (o.capacity, values)
    });
    assert!(found[0].0.is_some());
    assert_eq!(found[0], found[1]);
}

#[test]
fn loads_scale_each_workload_kind() {
    let base = |workload: &str| {
        let mut s = format!(
            "seed = 1\nduration_s = 100\n[workload]\n{workload}\n[cloud]\nenabled = false\n"
        );
        s += &inline_device("d", 1, 0, &[10.0], 10.0, 1.0);
        scenario(&s).to_file()
    };
    let demand = r#"prompt_tokens = { dist = "fixed", value = 1 }
output_tokens = { dist = "fixed", value = 2 }"#;
    let f = base(&format!("kind = \"poisson\"\nrate_rps = 2\n{demand}"));
    assert_eq!(
        edgesim::capacity::scaled(&f, 1.5).1,
        vec![("rate_rps", 3.0)]
    );
    let f = base(&format!(
        "kind = \"bursty\"\nbase_rate_rps = 0\nburst_rate_rps = 4\nburst_length_s = 10\nburst_period_s = 50\n{demand}"
    ));
    let (g, keys) = edgesim::capacity::scaled(&f, 0.5);
    assert_eq!(keys, vec![("base_rate_rps", 0.0), ("burst_rate_rps", 2.0)]);
    let edgesim::workload::WorkloadFile::Bursty(b) = &g.workload else {
        panic!()
    };
    assert_eq!((b.burst_length_s, b.burst_period_s), (10.0, 50.0));
    let f = base(&format!(
        "kind = \"periodic\"\nrate_rps = 2\nshape = [1, 3]\nperiod_s = 60\nstart_s = 30\n{demand}"
    ));
    let (g, keys) = edgesim::capacity::scaled(&f, 1.5);
    assert_eq!(keys, vec![("rate_rps", 3.0)]);
    let edgesim::workload::WorkloadFile::Periodic(p) = &g.workload else {
        panic!()
    };
    assert_eq!(
        (p.shape.as_slice(), p.period_s, p.start_s),
        (&[1.0, 3.0][..], Some(60.0), Some(30.0))
    );
    let f = base(&format!(
        "kind = \"closed\"\nusers = 3\nthink_time_s = 5\n{demand}"
    ));
    assert_eq!(edgesim::capacity::scaled(&f, 1.5).1, vec![("users", 5.0)]);
    assert_eq!(edgesim::capacity::scaled(&f, 0.01).1, vec![("users", 1.0)]);
    let f = scenario(&two_row_trace("capacity", 10.0, 3.0)).to_file();
    assert_eq!(
        edgesim::capacity::scaled(&f, 2.0).1,
        vec![("time_scale", 1.5)]
    );
}

#[test]
fn a_poisson_load_scaled_is_the_same_requests_sooner() {
    // Common random numbers: at twice the load, the n-th request carries the same tokens and
    // arrives at half the time (each gap is the same draw halved, then put on the microsecond
    // clock, so the times agree to a microsecond a request).
    let text = loss_system(1.0, 600.0)
        .replace(
            r#"prompt_tokens = { dist = "fixed", value = 1 }"#,
            r#"prompt_tokens = { dist = "lognormal", median = 100, sigma = 0.5 }"#,
        )
        .replace(
            r#"output_tokens = { dist = "fixed", value = 11 }"#,
            r#"output_tokens = { dist = "uniform", min = 5, max = 50 }"#,
        );
    assert!(text.contains("lognormal") && text.contains("uniform"));
    let file = scenario(&text).to_file();
    let run = |s: f64| {
        let (f, _) = edgesim::capacity::scaled(&file, s);
        let sc =
            edgesim::scenario::Scenario::from_file(f, &root().join("tests/inline.toml")).unwrap();
        run_collect(&sc).1
    };
    let (one, two) = (run(1.0), run(2.0));
    assert!(
        one.len() > 500 && two.len() > 2 * one.len() - 100,
        "{} {}",
        one.len(),
        two.len()
    );
    for (n, (a, b)) in one.iter().zip(&two).enumerate() {
        assert_eq!(
            (a.prompt_tokens, a.output_tokens),
            (b.prompt_tokens, b.output_tokens)
        );
        let half = a.arrival.as_secs_f64() / 2.0;
        let err = (b.arrival.as_secs_f64() - half).abs();
        assert!(
            err <= 1e-6 * (n as f64 + 1.0),
            "request {n}: {} vs {half}",
            b.arrival.as_secs_f64()
        );
    }
}

#[test]
fn a_closed_loop_is_searched_by_users() {
    // Two single-slot devices, service 1 s, think time 1 s: from some number of users on, some
    // wait in the queue and the TTFT p95 passes 500 ms.
    let mut s = "seed = 3\nduration_s = 2000\n[workload]\nkind = \"closed\"\nusers = 4\n\
                 think_time_s = 1\nprompt_tokens = { dist = \"fixed\", value = 1 }\n\
                 output_tokens = { dist = \"fixed\", value = 11 }\n[selection]\n\
                 kind = \"load_aware\"\n[cloud]\nenabled = false\n"
        .to_string();
    for i in 0..2 {
        s += &inline_device(&format!("d{i}"), 1, 64, &[10.0], 10.0, 1.0);
    }
    let sc = scenario(&s);
    let st = Settings {
        goals: vec![Goal {
            key: "ttft_p95_ms",
            class: None,
            quantity: Quantity::TtftP95Ms,
            bound: 500.0,
            at_most: true,
        }],
        replications: 2,
        precision: 0.001,
        min_scale: 0.001,
        max_scale: 1000.0,
        traffic_hours_per_month: 730.0,
    };
    let o = search(&sc, &st, None, &|_| {}).unwrap();
    let users = |i: Option<usize>| o.probes[i.unwrap()].load[0].1;
    // One user never waits; the answer is a whole number of users, the next one misses.
    assert!(users(o.capacity) >= 1.0);
    assert_eq!(users(o.above), users(o.capacity) + 1.0);
    assert_eq!(o.end, End::Bracketed);
}

fn capacity_cli(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let s = root().join("scenarios/bursty.toml");
    let mut args = vec![
        "capacity".to_string(),
        s.display().to_string(),
        "--goal".into(),
        "ttft_p95_ms=3000".into(),
        "--goal".into(),
        "max_reject_share = 0.05".into(),
        "--set".into(),
        "duration_s=1200".into(),
        "--out".into(),
        dir.display().to_string(),
        "--csv".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    edgesim(&args)
}

/// A capacity journal is of the input files the scenario reads too: with its trace edited, an
/// earlier search's runs are not read; as it was, they are. A scenario that reads none keeps
/// the hash of its resolved text alone (an earlier edgesim's journals stay valid).
#[test]
fn an_edited_trace_makes_a_capacity_journal_another_scenario_s() {
    let d = scratch_dir("capacity-trace-journal");
    let trace = d.join("t.csv");
    let rows: Vec<(f64, u32, u32)> = (0..40).map(|i| (f64::from(i) * 2.0, 200, 40)).collect();
    std::fs::write(&trace, trace_text(&rows)).unwrap();
    let scenario = d.join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"t\"\nseed = 3\n[workload]\nkind = \"trace\"\npath = \"t.csv\"\n\
             [[devices]]\nname = \"agx\"\nprofile = \"{}\"\nmodel = \"qwen2.5-3b\"\nslots = 4\n",
            root().join("calibration/jetson-agx-orin.toml").display()
        ),
    )
    .unwrap();
    let out = d.join("out");
    let search = || {
        let o = edgesim(&[
            "capacity",
            scenario.to_str().unwrap(),
            "--goal",
            "ttft_p95_ms=3000",
            "--replications",
            "2",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_ok(&o);
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let first = search();
    assert!(!first.contains("read from their journals"), "{first}");
    let again = search();
    assert!(again.contains("read from their journals"), "{again}");
    let mut edited = rows.clone();
    edited[3].1 = 201;
    std::fs::write(&trace, trace_text(&edited)).unwrap();
    let changed = search();
    assert!(!changed.contains("read from their journals"), "{changed}");
    std::fs::write(&trace, trace_text(&rows)).unwrap();
    search();
    assert!(search().contains("read from their journals"));

    // Without input files: the hash of the resolved text, as before.
    let whole = scratch_dir("capacity-journal-resolved");
    assert_ok(&capacity_cli(&whole, &["--replications", "1"]));
    let journal = std::fs::read_to_string(whole.join("runs.jsonl")).unwrap();
    let header: serde_json::Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    let sc = edgesim::scenario::Scenario::load(
        &root().join("scenarios/bursty.toml"),
        &edgesim::scenario::LoadOptions {
            sets: vec!["duration_s=1200".into()],
            seed: None,
        },
    )
    .unwrap();
    assert_eq!(
        header["fingerprint"],
        format!(
            "{:016x}",
            edgesim::rng::fnv1a(sc.resolved_toml().as_bytes())
        )
    );
}

/// A search that ends in an error (a disk that fills as it writes its files, say) keeps its
/// journal in its temporary folder, and nothing else, as a kill does: the next search into the
/// folder, once the process is gone, simulates none of those runs.
#[test]
fn a_search_ended_by_an_error_keeps_its_runs() {
    let d = scratch_dir("capacity-error");
    let out = d.join("out");
    let sc = load(&root().join("scenarios/bursty.toml"), &["duration_s=1200"]);
    // `capacity_cli`'s search.
    let mut g = edgesim::plan::GoalsFile::default();
    *g.entry("ttft_p95_ms").unwrap() = Some(3000.0);
    *g.entry("max_reject_share").unwrap() = Some(0.05);
    let cx = edgesim::check::Checker::new(std::path::Path::new("--goal"));
    let st = Settings {
        goals: edgesim::plan::goals(&cx, "", &g, &[], sc.metrics.window_s).unwrap(),
        replications: 3,
        precision: 0.02,
        min_scale: 0.001,
        max_scale: 1000.0,
        traffic_hours_per_month: 730.0,
    };
    let (folder, warnings) = edgesim::capacity::output::begin(&out, &sc).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let kept = folder.journal_path();
    let o = edgesim::capacity::search_with(&sc, &st, Some(2), &folder.journal, &|_| {}).unwrap();
    let runs = 3 * o.probes.len();
    // The error: the search's files are never written.
    drop(folder);
    let tmp = kept.parent().unwrap().to_path_buf();
    let names: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["runs.jsonl"]);
    let text = std::fs::read_to_string(&kept).unwrap();
    assert_eq!(text.lines().count(), 1 + runs, "the header and every run");
    assert!(!out.exists());
    // The process gone: its folder named by a process id that cannot be alive.
    let gone = d.join(".out.tmp-4294967294");
    std::fs::rename(&tmp, &gone).unwrap();
    let b = capacity_cli(&out, &["--threads", "2"]);
    assert_ok(&b);
    let err = String::from_utf8_lossy(&b.stderr);
    assert!(
        err.contains(&format!("{runs} runs of earlier searches into")),
        "{err}"
    );
    assert_eq!(
        err.matches("(3 runs, 3 from the journal").count(),
        o.probes.len(),
        "{err}"
    );
    assert!(!gone.exists(), "the kept folder is removed once read");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn the_command_writes_its_answer_whatever_the_threads() {
    let one = scratch_dir("capacity-threads-1");
    let two = scratch_dir("capacity-threads-2");
    let a = capacity_cli(&one, &["--threads", "1"]);
    assert_ok(&a);
    assert_ok(&capacity_cli(&two, &["--threads", "2"]));
    let (fa, fb) = (folder_files(&one), folder_files(&two));
    for f in [
        "capacity.json",
        "loads.csv",
        "capacity_curves.csv",
        "at-capacity.toml",
        "manifest.json",
    ] {
        assert!(fa.contains_key(f), "{f} missing");
    }
    assert_eq!(fa, fb, "--threads changed the outputs");
    let text = String::from_utf8_lossy(&a.stdout);
    assert!(text.contains("meets the goals up to"), "{text}");
    let answer: serde_json::Value = serde_json::from_slice(&fa["capacity.json"]).unwrap();
    assert_eq!(answer["end"], "bracketed");
    // The scenario at capacity, run with the three replications' seeds, gives the answer's
    // mean TTFT p95.
    let at = one.join("at-capacity.toml");
    let seed = answer["seed"].as_u64().unwrap();
    let p95s: Vec<f64> = (0..3)
        .map(|r| {
            let run = edgesim(&[
                "run".to_string(),
                at.display().to_string(),
                "--seed".into(),
                (seed + r).to_string(),
                "--json".into(),
                "--no-out".into(),
            ]);
            assert_ok(&run);
            let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
            summary["ttft_ms"]["p95"].as_f64().unwrap()
        })
        .collect();
    let mean = p95s.iter().sum::<f64>() / 3.0;
    let want = answer["capacity"]["goals"][0]["value"]["mean"]
        .as_f64()
        .unwrap();
    assert!((mean - want).abs() <= 1e-9 * want, "{mean} != {want}");
    assert_eq!(answer["capacity"]["goals"][0]["met"], true);
    assert_eq!(answer["above"]["goals"].as_array().unwrap().len(), 2);
}

/// Every run is in the folder's journal `runs.jsonl`, as `edgesim run` gives it. A search
/// killed part way leaves its temporary folder beside `--out`: the next search into the same
/// folder reads the runs it finished (a torn last line dropped) and gives the same files and
/// report as a search run whole. A search with other goals reuses the runs it shares with the
/// folder's; one of another scenario reuses none.
#[test]
fn a_killed_or_changed_search_reuses_the_journal() {
    let whole = scratch_dir("capacity-journal-whole");
    let d = scratch_dir("capacity-journal");
    let a = capacity_cli(&whole, &["--threads", "2"]);
    assert_ok(&a);
    let files = folder_files(&whole);
    let journal = String::from_utf8(files["runs.jsonl"].clone()).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    let header: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(header["capacity"], "bursty");
    let runs: Vec<serde_json::Value> = lines[1..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let answer: serde_json::Value = serde_json::from_slice(&files["capacity.json"]).unwrap();
    let loads = answer["loads"].as_u64().unwrap() as usize;
    assert_eq!(
        runs.len(),
        3 * loads,
        "three replications a load, each once"
    );
    // In order of scale, then replication; each line the run `edgesim run` gives.
    let scale = |r: &serde_json::Value| r["scale"].as_f64().unwrap();
    assert!(runs.windows(2).all(|w| scale(&w[0]) <= scale(&w[1])));
    let at_one: Vec<&serde_json::Value> = runs.iter().filter(|r| scale(r) == 1.0).collect();
    assert_eq!(at_one.len(), 3);
    let names = [
        "requests_total",
        "served_edge",
        "rejected",
        "cloud_cost_usd",
    ];
    for r in at_one {
        let seed = r["seed"].as_u64().unwrap();
        assert_eq!(seed, 42 + r["replication"].as_u64().unwrap());
        let run = edgesim(&[
            "run",
            root().join("scenarios/bursty.toml").to_str().unwrap(),
            "--set",
            "duration_s=1200",
            "--seed",
            &seed.to_string(),
            "--json",
            "--no-out",
        ]);
        assert_ok(&run);
        let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        for name in names {
            let i = edgesim::sweep::metrics::index(name).unwrap();
            assert_eq!(
                r["metrics"][i].as_f64(),
                summary[name].as_f64(),
                "{name}: {r}"
            );
        }
    }

    // A kill: the temporary folder holds the header, a third of the runs and a torn line; and
    // a line that is not a run, which is named (the torn last line is a kill's, and is not).
    let out = d.join("out");
    let killed = d.join(".out.tmp-4294967294");
    std::fs::create_dir(&killed).unwrap();
    let keep = lines.len() / 3;
    let mut cut = lines[..keep].join("\n") + "\n";
    cut += &lines[keep][..lines[keep].len() / 2];
    cut = cut.replacen('\n', "\n[1, 2]\n", 1);
    std::fs::write(killed.join("runs.jsonl"), cut).unwrap();
    let b = capacity_cli(&out, &["--threads", "1"]);
    assert_ok(&b);
    let err = String::from_utf8_lossy(&b.stderr);
    let reused = err.matches("from the journal").count();
    assert!(reused >= 1 && reused < loads, "{err}");
    let read = format!("{} runs of earlier searches into", keep - 1);
    assert!(err.contains(&read), "{err}");
    let warned = format!(
        "warning: capacity bursty: 1 entry of earlier searches' journals is left; its run is \
         simulated again if needed:\n  {}: line 2: not a run record",
        killed.join("runs.jsonl").display()
    );
    assert!(err.contains(&warned), "{err}");
    assert_eq!(err.matches("warning").count(), 1, "{err}");
    assert_eq!(
        folder_files(&out),
        files,
        "the resumed search's files differ"
    );
    assert_eq!(b.stdout, a.stdout, "the resumed search's report differs");
    assert!(!killed.exists(), "the killed search's folder is removed");

    // Other goals: the loads both judge are read, not run; the journal keeps every run.
    let c = capacity_cli(&out, &["--goal", "e2e_p95_ms=20000"]);
    assert_ok(&c);
    let err = String::from_utf8_lossy(&c.stderr);
    assert!(err.contains("(3 runs, 3 from the journal"), "{err}");
    let after = std::fs::read_to_string(out.join("runs.jsonl")).unwrap();
    assert!(lines[1..].iter().all(|l| after.lines().any(|m| m == *l)));
    // Another scenario: nothing is read.
    let e = capacity_cli(&out, &["--set", "duration_s=600"]);
    assert_ok(&e);
    assert!(!String::from_utf8_lossy(&e.stderr).contains("from the journal"));
}

/// A search killed for real (SIGKILL, no chance to clean up) after its first runs leaves them
/// in its temporary folder's journal; the next search into the same folder reads them, runs
/// the rest, removes that folder and writes what a search run whole writes. (Longer runs are
/// tried when a search ends before it can be killed, as a release build's may.)
#[test]
fn a_search_killed_for_real_resumes_from_its_runs() {
    let d = scratch_dir("capacity-kill");
    let (out, whole) = (d.join("out"), d.join("whole"));
    for duration in [20_000, 200_000, 2_000_000] {
        let args = |to: &std::path::Path| {
            let set = format!("duration_s={duration}");
            let s = root().join("scenarios/bursty.toml");
            let mut a: Vec<String> = vec!["capacity".into(), s.display().to_string()];
            for x in [
                "--goal",
                "ttft_p95_ms=3000",
                "--threads",
                "1",
                "--set",
                &set,
            ] {
                a.push(x.into());
            }
            a.extend(["--out".into(), to.display().to_string()]);
            a
        };
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_edgesim"))
            .args(args(&out))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let tmp = d.join(format!(".out.tmp-{}", child.id()));
        let killed = loop {
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            let runs = std::fs::read_to_string(tmp.join("runs.jsonl"))
                .map(|t| t.lines().count().saturating_sub(1))
                .unwrap_or(0);
            if runs >= 2 {
                child.kill().unwrap();
                child.wait().unwrap();
                break true;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        if !killed || out.exists() {
            // It ended before the kill landed.
            std::fs::remove_dir_all(&out).unwrap();
            continue;
        }
        assert!(tmp.is_dir(), "the killed search's folder is gone");
        let again = edgesim(&args(&out));
        assert_ok(&again);
        let err = String::from_utf8_lossy(&again.stderr);
        assert!(err.contains("from the journal"), "{err}");
        assert!(!tmp.exists(), "the killed search's folder is left");
        let w = edgesim(&args(&whole));
        assert_ok(&w);
        assert_eq!(folder_files(&out), folder_files(&whole));
        assert_eq!(again.stdout, w.stdout);
        return;
    }
    panic!("every search ended before it could be killed");
}

/// A class goal on the command line reads the class's quantity: the scenario at capacity, run
/// again, gives the question class's TTFT p95 the answer reports (not the run's, which the
/// long summaries raise), and the loads table has its column.
#[test]
fn a_class_goal_reads_its_class() {
    let d = scratch_dir("capacity-class");
    let s = root().join("scenarios/assistant.toml");
    let o = edgesim(&[
        "capacity",
        s.to_str().unwrap(),
        "--goal",
        "question.ttft_p95_ms=2000",
        "--replications",
        "1",
        "--out",
        d.to_str().unwrap(),
        "--csv",
    ]);
    assert_ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("question.ttft_p95_ms <= 2000: "), "{text}");
    let answer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("capacity.json")).unwrap()).unwrap();
    let goal = &answer["capacity"]["goals"][0];
    assert_eq!(goal["key"], "question.ttft_p95_ms");
    assert_eq!(answer["goals"][0], "question.ttft_p95_ms <= 2000");
    let want = goal["value"]["mean"].as_f64().unwrap();
    let run = edgesim(&[
        "run",
        d.join("at-capacity.toml").to_str().unwrap(),
        "--json",
        "--no-out",
    ]);
    assert_ok(&run);
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let class = &summary["classes"][0];
    assert_eq!(class["name"], "question");
    assert_eq!(class["ttft_ms"]["p95"].as_f64(), Some(want));
    let all = summary["ttft_ms"]["p95"].as_f64().unwrap();
    assert!(all > 1.2 * want, "run {all} ms, questions {want} ms");
    let loads = std::fs::read_to_string(d.join("loads.csv")).unwrap();
    let header = loads.lines().next().unwrap();
    assert!(
        header.ends_with(",question.ttft_p95_ms,question.ttft_p95_ms_ci95"),
        "{header}"
    );
}

/// `edgesim capacity SCENARIO ARGS... --json` (one replication, no files): the answer.
fn capacity_json(scenario: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec![
        "capacity",
        scenario.to_str().unwrap(),
        "--replications",
        "1",
        "--json",
    ];
    all.extend_from_slice(args);
    let o = edgesim(&all);
    assert_ok(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn the_ends_of_the_search_are_reported() {
    // No load serves a TTFT of 1 ms: nothing meets, no scenario at capacity.
    let d = scratch_dir("capacity-none");
    let bursty = root().join("scenarios/bursty.toml");
    let a = capacity_json(
        &bursty,
        &[
            "--goal",
            "ttft_p95_ms=1",
            "--set",
            "duration_s=600",
            "--min-scale",
            "0.1",
            "--out",
            d.to_str().unwrap(),
        ],
    );
    assert_eq!(a["end"], "missed_at_min_scale");
    assert!(a["capacity"].is_null());
    assert!(!d.join("at-capacity.toml").exists());
    // A loose goal holds up to the largest scale allowed.
    let a = capacity_json(
        &bursty,
        &[
            "--goal",
            "max_reject_share=1",
            "--set",
            "duration_s=600",
            "--max-scale",
            "3",
            "--no-out",
        ],
    );
    assert_eq!(a["end"], "met_at_max_scale");
    assert_eq!(a["capacity"]["scale"], 3.0);
    assert!(a["above"].is_null());
}

#[test]
fn a_load_the_scenario_refuses_ends_the_search() {
    // A trace slowed to near the clock's limit: halving its load doubles its time scale,
    // and the third halving takes its last row past 1e12 s.
    let text = two_row_trace("capacity-refused", 1000.0, 2e8);
    let path = temp_file("capacity-refused", "s.toml", &text);
    let a = capacity_json(&path, &["--goal", "e2e_p95_ms=1", "--no-out"]);
    assert_eq!(a["end"], "refused", "{a}");
    let note = a["end_note"].as_str().unwrap();
    assert!(note.contains("the scenario at 0.125x is refused"), "{note}");
    assert!(note.contains("time_scale"), "{note}");
    assert!(a["capacity"].is_null());
    assert_eq!(a["loads"], 3);
}

#[test]
fn cloud_fees_per_month_count_the_traffic_hours() {
    let sc = load(&shipped("bursty.toml"), &["duration_s=600"]);
    let summary = edgesim::sim::run(&sc).unwrap();
    let fees = |hours: f64| {
        let st = Settings {
            goals: vec![Goal {
                key: "max_cloud_usd_per_month",
                class: None,
                quantity: Quantity::CloudUsdPerMonth,
                bound: 1e9,
                at_most: true,
            }],
            replications: 1,
            precision: 0.02,
            min_scale: 0.001,
            max_scale: 1.0,
            traffic_hours_per_month: hours,
        };
        let o = search(&sc, &st, None, &|_| {}).unwrap();
        assert_eq!(o.end, End::MetAtMax);
        o.probes[0].runs[0].run.cloud_usd_month
    };
    // The run's fees, as if its traffic lasted the hours given.
    let want = summary.cloud_cost_usd * 730.0 * 3600.0 / summary.duration_s;
    assert!(want > 0.0);
    assert!((fees(730.0) - want).abs() <= 1e-9 * want);
    assert!((fees(365.0) - want / 2.0).abs() <= 1e-9 * want);
}

#[test]
fn bad_capacity_arguments_are_named() {
    let s = root().join("scenarios/bursty.toml");
    let s = s.to_str().unwrap();
    for (args, want) in [
        (vec![], "give at least one --goal"),
        (
            vec!["--goal", "ttft_p50_ms=3"],
            "no goal `ttft_p50_ms`; the goals are",
        ),
        (vec!["--goal", "ttft_p95_ms"], "write KEY=VALUE"),
        (vec!["--goal", "ttft_p95_ms=fast"], "`fast` is not a number"),
        (
            vec!["--goal", "ttft_p95_ms=3", "--goal", "ttft_p95_ms=4"],
            "is given twice",
        ),
        (
            vec!["--goal", "ttft_p95_ms=-3"],
            "`ttft_p95_ms` = -3: must be a finite number > 0",
        ),
        (
            vec!["--goal", "min_edge_share=1.5"],
            "`min_edge_share` = 1.5: must lie in [0, 1]",
        ),
        (
            vec!["--goal", "ttft_p95_ms=NaN"],
            "must be a finite number > 0",
        ),
        (
            vec!["--goal", "question.ttft_p95_ms=3"],
            "`question` = question: the scenario's workload.classes has no class of that name; \
             its classes: default",
        ),
        (
            vec!["--goal", "default.ttft_p50_ms=3"],
            "no goal `ttft_p50_ms` for a request class; the goals are ttft_p95_ms,",
        ),
        (
            vec!["--goal", "default.min_edge_share=2"],
            "`default.min_edge_share` = 2: must lie in [0, 1]",
        ),
        (
            vec!["--goal", "ttft_p95_ms=3", "--precision", "0"],
            "`--precision` = 0: must lie in [0.001, 1]",
        ),
        (
            vec!["--goal", "ttft_p95_ms=3", "--max-scale", "0.5"],
            "`--max-scale` = 0.5: must lie in [1, 1e6]",
        ),
        (
            vec!["--goal", "ttft_p95_ms=3", "--min-scale", "-1"],
            "`--min-scale` = -1: must lie in [1e-6, 1]",
        ),
        (
            vec!["--goal", "ttft_p95_ms=3", "--replications", "0"],
            "`--replications` = 0: must lie in [1, 1000]",
        ),
        (
            vec![
                "--goal",
                "ttft_p95_ms=3",
                "--traffic-hours-per-month",
                "731",
            ],
            "`--traffic-hours-per-month` = 731: must lie in (0, 730]",
        ),
    ] {
        let mut all = vec!["capacity", s, "--no-out"];
        all.extend(args.iter().copied());
        let o = edgesim(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{all:?}: {err}");
        assert!(err.contains(want), "{all:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `--policies` runs the search under each policy, as `--set selection.kind=...` would: the
/// same answers (JSON) and the same files (in OUT/POLICY), and a table of the capacities. On
/// three single-slot boards without queue or cloud, load-aware selection (Erlang B) takes more
/// load within 5 % rejections than random selection without retries (three M/G/1/1 systems).
#[test]
fn capacities_under_several_policies() {
    let d = scratch_dir("capacity-policies");
    let file = temp_file("capacity-policies", "loss.toml", &loss_system(1.0, 4000.0));
    let goal = ["--goal", "max_reject_share=0.05", "--replications", "2"];
    let mut args = vec!["capacity", file.to_str().unwrap()];
    args.extend(goal);
    let both = d.join("both");
    let mut all = args.clone();
    all.extend([
        "--policies",
        "random,load_aware",
        "--out",
        both.to_str().unwrap(),
    ]);
    let o = edgesim(&all);
    assert_ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("== selection random\n"), "{text}");
    assert!(
        text.contains("policy            capacity      requests/s   missed at  search ended"),
        "{text}"
    );
    let mut json = all.clone();
    json.push("--json");
    let o = edgesim(&json);
    assert_ok(&o);
    let answers: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut capacity = Vec::new();
    for (k, policy) in ["random", "load_aware"].iter().enumerate() {
        assert_eq!(answers[k]["policy"], *policy);
        let alone = d.join(policy);
        let set = format!("selection.kind=\"{policy}\"");
        let mut one = args.clone();
        one.extend(["--set", &set, "--out", alone.to_str().unwrap(), "--json"]);
        let o = edgesim(&one);
        assert_ok(&o);
        let answer: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(answers[k]["capacity"], answer, "{policy}");
        assert_eq!(
            folder_files(&both.join(policy)),
            folder_files(&alone),
            "{policy}"
        );
        capacity.push(answer["capacity"]["scale"].as_f64().unwrap());
    }
    assert!(capacity[1] > 2.0 * capacity[0], "{capacity:?}");
    // The folder of an earlier `--policies` search is written again, also when a search into
    // one of its policies' folders was killed (its temporary folder is in the way, and its
    // journal is read); one that holds anything else (here a single search's files) is
    // refused, naming them.
    let journal = std::fs::read_to_string(both.join("random/runs.jsonl")).unwrap();
    let killed = both.join(".random.tmp-4294967294");
    std::fs::create_dir(&killed).unwrap();
    let half: Vec<&str> = journal.lines().take(journal.lines().count() / 2).collect();
    std::fs::write(killed.join("runs.jsonl"), half.join("\n") + "\n").unwrap();
    std::fs::remove_dir_all(both.join("random")).unwrap();
    let o = edgesim(&all);
    assert_ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("from the journal"));
    assert!(!killed.exists());
    assert_eq!(
        folder_files(&both.join("random")),
        folder_files(&d.join("random"))
    );
    let single = d.join("random");
    let mut into_single = args.clone();
    into_single.extend([
        "--policies",
        "random,load_aware",
        "--out",
        single.to_str().unwrap(),
    ]);
    let o = edgesim(&into_single);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    // (How many more depends on the output features: figures, Parquet tables.)
    assert!(
        err.contains("holds `at-capacity.toml`, `capacity.json`, `capacity_curves.csv` and ")
            && err.contains(
                " more besides the policies' folders of an earlier `capacity --policies`"
            ),
        "{err}"
    );
    // Each policy once, and a known one.
    for (bad, want) in [
        ("random,random", "--policies: random is given twice"),
        ("sky", "--policies: "),
    ] {
        let mut args = args.clone();
        args.extend(["--policies", bad, "--no-out"]);
        let o = edgesim(&args);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{bad}: {err}");
    }
}

/// A goal held in every window is held at the busiest: the loss system under a periodic load
/// of relative rates [1, 3] (slices of 2,000 s), in windows of one slice. Under "at most 10 %
/// rejected in any window" its capacity is where the busy slice's Erlang B, B(3, 1.5·λ), is
/// 10 % (less the bias of the worst of ten noisy windows), well below the capacity under "at
/// most 10 % rejected over the run", where the slices' arrival-weighted Erlang B is 10 %.
#[test]
fn a_window_goal_holds_the_busiest_window_to_erlang_b() {
    let rate = 2.0;
    let text = loss_system(rate, 40_000.0).replace(
        "kind = \"poisson\"\nrate_rps = 2\n",
        "kind = \"periodic\"\nrate_rps = 2\nshape = [1, 3]\nperiod_s = 4000\n",
    ) + "\n[metrics]\nwindow_s = 2000\n";
    assert!(text.contains("periodic"), "{text}");
    let sc = scenario(&text);
    let window_goal = Goal {
        key: "max_window_reject_share",
        class: None,
        quantity: Quantity::WindowRejectShare,
        bound: 0.1,
        at_most: true,
    };
    let (_, o) = erlang_search(&sc, vec![window_goal]);
    let windowed = rate * o.probes[o.capacity.unwrap()].scale;
    let busy = erlang_b(3, 1.5 * windowed);
    assert!(
        (0.06..=0.105).contains(&busy),
        "capacity {windowed:.4} requests/s: the busy slice's Erlang B {busy:.4}"
    );
    let (_, o) = erlang_search(&sc, vec![reject_goal(0.1)]);
    let whole = rate * o.probes[o.capacity.unwrap()].scale;
    let mixed = (erlang_b(3, 0.5 * whole) + 3.0 * erlang_b(3, 1.5 * whole)) / 4.0;
    assert!(
        (0.08..=0.105).contains(&mixed),
        "capacity {whole:.4} requests/s: the slices' Erlang B {mixed:.4}"
    );
    assert!(
        whole > 1.1 * windowed,
        "over the run {whole:.4}, in every window {windowed:.4}"
    );
}

/// A goal on a class's worst window is held by that class's requests in its busiest window:
/// the two-class loss system under the periodic load of relative rates [1, 3] (slices of
/// 2,000 s), in windows of one slice. Each class is blocked as the whole system, so under "at
/// most 10 % of the short requests rejected in any window" the capacity is where the busy
/// slice's Erlang B, B(3, 1.5 · 2λ), is 10 % (less the bias of the worst of ten noisy windows,
/// each of half the requests: 0.339 requests/s, B = 0.065, when written). The goal reads the
/// short class's worst window, not the run's.
#[test]
fn a_class_window_goal_holds_the_class_busiest_window_to_erlang_b() {
    let rate = 1.0;
    let text = two_class_loss_system(rate, 40_000.0).replace(
        "kind = \"poisson\"\nrate_rps = 1\n",
        "kind = \"periodic\"\nrate_rps = 1\nshape = [1, 3]\nperiod_s = 4000\n",
    ) + "\n[metrics]\nwindow_s = 2000\n";
    assert!(text.contains("periodic"), "{text}");
    let sc = scenario(&text);
    let classes: Vec<String> = sc.classes().iter().map(|c| c.name.clone()).collect();
    let mut file = edgesim::plan::GoalsFile::default();
    file.classes.insert(
        "short".into(),
        edgesim::plan::GoalsFile {
            max_window_reject_share: Some(0.1),
            ..Default::default()
        },
    );
    let cx = edgesim::check::Checker::new(std::path::Path::new("--goal"));
    let goals = edgesim::plan::goals(&cx, "", &file, &classes, Some(2000.0)).unwrap();
    assert_eq!(goals[0].name(), "short.max_window_reject_share");
    assert_eq!(goals[0].column(), "short.worst_window_reject_share");
    let (st, o) = erlang_search(&sc, goals);
    let cap = &o.probes[o.capacity.unwrap()];
    let found = rate * cap.scale;
    let busy = erlang_b(3, 1.5 * 2.0 * found);
    assert!(
        (0.05..=0.105).contains(&busy),
        "capacity {found:.4} requests/s: the busy slice's Erlang B {busy:.4}"
    );
    let value = |r: &edgesim::plan::cost::RunValues| r.value(&st.goals[0]);
    let short: Vec<_> = cap
        .runs
        .iter()
        .map(|r| r.classes[0].worst_window_reject_share)
        .collect();
    let run: Vec<_> = cap
        .runs
        .iter()
        .map(|r| r.run.worst_window_reject_share)
        .collect();
    assert_eq!(cap.runs.iter().map(value).collect::<Vec<_>>(), short);
    assert!(short != run, "{short:?} {run:?}");
    // Without windows the goal is refused, naming the key and the setting.
    let err = edgesim::plan::goals(&cx, "", &file, &classes, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("short.max_window_reject_share") && err.contains("window_s"),
        "{err}"
    );
}

/// README, "Goals by request class": the shipped assistant's capacity under the questions'
/// TTFT p95 within 2 s over the hour (0.614x) and in every ten minutes (0.494x: lower, every
/// window being held).
#[test]
fn the_readme_s_assistant_capacities_hold() {
    let scale = |tag: &str, args: &[&str]| {
        let out = scratch_dir(tag);
        let mut all = vec![
            "capacity".to_string(),
            shipped("assistant.toml").to_str().unwrap().to_string(),
            "--replications".into(),
            "10".into(),
            "--out".into(),
            out.to_str().unwrap().to_string(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        assert_ok(&edgesim(&all));
        let j: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("capacity.json")).unwrap()).unwrap();
        j["capacity"]["scale"].as_f64().unwrap()
    };
    let hour = scale(
        "readme-class-hour",
        &["--goal", "question.ttft_p95_ms=2000"],
    );
    let windows = scale(
        "readme-class-windows",
        &[
            "--set",
            "metrics.window_s=600",
            "--goal",
            "question.worst_window_ttft_p95_ms=2000",
        ],
    );
    assert_eq!((hour, windows), (0.614, 0.494));
}

/// A search whose largest load would simulate more than 10^9 requests warns before it starts
/// (it doubles the load up to `--max-scale` while the goals hold): the shipped steady scenario
/// (about 1,980 requests) at 10^6x, and at the default 1,000x not; a trace's load is the same
/// rows sooner, so no scale makes it large.
#[test]
fn a_search_up_to_very_many_requests_warns() {
    let settings = |replications: u32, max_scale: f64| Settings {
        goals: Vec::new(),
        replications,
        precision: 0.01,
        min_scale: 0.001,
        max_scale,
        traffic_hours_per_month: 730.0,
    };
    let steady =
        edgesim::scenario::Scenario::load(&shipped("steady.toml"), &Default::default()).unwrap();
    let run = edgesim::scenario::budget::estimate(&steady).requests;
    assert!((1_900.0..2_100.0).contains(&run), "{run}");
    assert_eq!(
        edgesim::capacity::size_warning(&steady, &settings(3, 1000.0)),
        None
    );
    let w = edgesim::capacity::size_warning(&steady, &settings(3, 1e6)).expect("a warning");
    for needle in [
        "at --max-scale 1000000x a load's 3 replications would simulate about".to_string(),
        format!(
            "{:.2e} requests together ({:.2e} a run)",
            run * 3e6,
            run * 1e6
        ),
        "give a lower --max-scale".to_string(),
    ] {
        assert!(w.contains(&needle), "{needle}: {w}");
    }
    let one = edgesim::capacity::size_warning(&steady, &settings(1, 1e6)).expect("a warning");
    assert!(
        one.contains(&format!(
            "a load's run would simulate about {:.2e} requests,",
            run * 1e6
        )),
        "{one}"
    );
    let trace =
        edgesim::scenario::Scenario::load(&shipped("azure-trace.toml"), &Default::default())
            .unwrap();
    assert_eq!(
        edgesim::capacity::size_warning(&trace, &settings(3, 1e6)),
        None
    );
}
