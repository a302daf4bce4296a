//! `edgesim sweep`: thread-count and shard invariance, resume after a kill, checks, common
//! random numbers, aggregation, and bad sweep files rejected before any run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;

fn sweep_text(extra: &str) -> String {
    format!(
        "name = \"t\"\nscenario = \"{}\"\nreplications = 2\nseed = 7\n\
         [[axes]]\nkey = \"selection.kind\"\nvalues = [\"random\", \"load_aware\"]\n\
         [[axes]]\nkey = \"workload.burst_rate_rps\"\nvalues = [1.0, 2.0]\n\
         [[axes]]\nkeys = [\"duration_s\", \"workload.base_rate_rps\"]\nvalues = [[600, 0.3]]\n\
         [[plots]]\nmetric = \"redirected_tokens\"\nx = \"workload.burst_rate_rps\"\nseries = \"selection.kind\"\n{extra}",
        shipped("bursty.toml").display()
    )
}

fn dir(tag: &str) -> PathBuf {
    let d = scratch(&format!("sweep-{tag}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn sweep(file: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--csv",
    ];
    args.extend_from_slice(extra);
    let o = edgesim(&args);
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn assert_same(a: &Path, b: &Path) {
    let (fa, fb) = (folder_files(a), folder_files(b));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(
            bytes == &fb[name],
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// A merge takes the sweep from the first shard's `plan.json`; edited, it made the merge panic
/// (a point shorter than the columns) or check what the sweep never did (an unknown
/// comparison was taken as `>=`). It is checked as the sweep file was.
#[test]
fn an_edited_plan_is_refused_by_merge() {
    let file = temp_file("sweep-edited-plan", "s.toml", &sweep_text(""));
    let shards: Vec<PathBuf> = (0..2).map(|i| dir(&format!("edited-plan-{i}"))).collect();
    for (i, d) in shards.iter().enumerate() {
        sweep(&file, d, &["--shard", &format!("{i}/2")]);
    }
    let plan_json = shards[0].join("plan.json");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_json).unwrap()).unwrap();
    let merge = || {
        let out = dir("edited-plan-out");
        let mut args = vec!["sweep", "merge", "--check", "--out", out.to_str().unwrap()];
        args.extend(shards.iter().map(|d| d.to_str().unwrap()));
        edgesim(&args)
    };
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit, &str); 6] = [
        (
            "short_point",
            |p| drop(p["points"][0].as_array_mut().unwrap().pop()),
            "`points` are not the product of the axes",
        ),
        (
            "extra_column",
            |p| p["columns"].as_array_mut().unwrap().push("x.y".into()),
            "`columns` are not the axes' keys",
        ),
        (
            "points_reordered",
            |p| p["points"].as_array_mut().unwrap().reverse(),
            "`points` are not the product of the axes",
        ),
        (
            "no_replications",
            |p| p["replications"] = 0.into(),
            "`replications` is 0",
        ),
        (
            "bad_plot",
            |p| p["plots"][0]["x"] = "selection.kind".into(),
            "`plots[0].x` = selection.kind: x must be numeric",
        ),
        (
            "bad_op",
            |p| {
                p["expect"] = serde_json::json!([{ "name": "e", "op": "==",
                    "left": { "metric": "rejected" }, "right": { "value": 1.0 } }])
            },
            "`expect[0].op` = ==: one of <, <=, >, >=",
        ),
    ];
    for (tag, edit, needle) in cases {
        let mut p = saved.clone();
        edit(&mut p);
        std::fs::write(&plan_json, serde_json::to_string(&p).unwrap()).unwrap();
        let o = merge();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{tag}: {err}");
        assert!(
            err.contains(&plan_json.display().to_string()) && err.contains(needle),
            "{tag}: {err}"
        );
    }
    // The plan as written merges.
    std::fs::write(&plan_json, serde_json::to_string(&saved).unwrap()).unwrap();
    assert_ok(&merge());
    for d in shards.iter().chain([&dir("edited-plan-out")]) {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn same_bytes_whatever_the_threads_and_shards() {
    let file = temp_file("sweep-inv", "s.toml", &sweep_text(""));
    let (one, two) = (dir("t1"), dir("t2"));
    sweep(&file, &one, &["--threads", "1"]);
    sweep(&file, &two, &["--threads", "2"]);
    assert_same(&one, &two);
    // 8 runs in 3 shards, merged.
    let shards: Vec<PathBuf> = (0..3).map(|i| dir(&format!("s{i}"))).collect();
    for (i, d) in shards.iter().enumerate() {
        sweep(&file, d, &["--shard", &format!("{i}/3")]);
    }
    let merged = dir("merged");
    let mut args = vec!["sweep", "merge", "--csv", "--out", merged.to_str().unwrap()];
    args.extend(shards.iter().map(|d| d.to_str().unwrap()));
    let o = edgesim(&args);
    assert_ok(&o);
    assert_same(&one, &merged);
    // A merge with a shard missing is refused, naming the gap.
    let o = edgesim(&[
        "sweep",
        "merge",
        "--out",
        dir("partial").to_str().unwrap(),
        shards[0].to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("runs are missing"));
    // A shard named twice (here as `s1` and `s1/.`) is refused, as is an --out that is a
    // shard; the shard is left as it was.
    let journal = std::fs::read(shards[1].join("runs.jsonl")).unwrap();
    let twice = format!("{}/.", shards[1].display());
    for (out, extra, needle) in [
        (merged.to_str().unwrap(), twice.as_str(), "named twice"),
        (shards[1].to_str().unwrap(), "", "--out is the shard folder"),
    ] {
        let mut args = vec!["sweep", "merge", "--out", out];
        args.extend(shards.iter().map(|d| d.to_str().unwrap()));
        args.extend([extra].into_iter().filter(|e| !e.is_empty()));
        let o = edgesim(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(needle), "{err}");
    }
    assert_eq!(
        std::fs::read(shards[1].join("runs.jsonl")).unwrap(),
        journal
    );
    for d in shards.iter().chain([&one, &two, &merged]) {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn resume_after_a_kill_loses_and_duplicates_nothing() {
    let file = temp_file("sweep-res", "s.toml", &sweep_text(""));
    let (full, cut) = (dir("full"), dir("cut"));
    sweep(&file, &full, &[]);
    // Simulate kill -9 mid-sweep: keep the header and three runs, then half a line.
    std::fs::create_dir_all(&cut).unwrap();
    let journal = std::fs::read_to_string(full.join("runs.jsonl")).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    assert_eq!(lines.len(), 1 + 8);
    let torn = format!(
        "{}\n{}",
        lines[..4].join("\n"),
        &lines[4][..lines[4].len() / 2]
    );
    std::fs::write(cut.join("runs.jsonl"), torn).unwrap();
    let o = sweep(&file, &cut, &["--threads", "2"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("(3 resumed)"), "{err}");
    assert_same(&full, &cut);
    // A journal of another sweep is refused.
    let other = temp_file(
        "sweep-res",
        "o.toml",
        &sweep_text("").replace("replications = 2", "replications = 3"),
    );
    let o = edgesim(&[
        "sweep",
        other.to_str().unwrap(),
        "--out",
        cut.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("another sweep"));
    let _ = std::fs::remove_dir_all(&full);
    let _ = std::fs::remove_dir_all(&cut);
}

/// A sweep's journal serves a sweep of the same runs: with another expectation, another
/// figure and its comments edited, the sweep reads every run and writes the same bytes as that
/// sweep run into a new folder; one with another axis value is refused, and so is another
/// sweep than the one that wrote a journal of an earlier edgesim (no `runs` in its header).
#[test]
fn a_journal_serves_a_sweep_with_other_expectations_or_figures() {
    let file = temp_file("sweep-same-runs", "s.toml", &sweep_text(""));
    let out = dir("same-runs");
    sweep(&file, &out, &[]);
    let edited = temp_file(
        "sweep-same-runs",
        "e.toml",
        &format!(
            "# a comment\n{}",
            sweep_text(
                "[[expect]]\nname = \"some\"\nleft = { metric = \"requests_total\" }\nop = \">\"\n\
                 right = { value = 0 }\n"
            )
            .replace("metric = \"redirected_tokens\"", "metric = \"rejected\"")
            .replace("replications = 2\n", "replications   =   2 # two\n")
        ),
    );
    let o = sweep(&edited, &out, &["--check"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("(8 resumed)") && o.status.success(), "{err}");
    let fresh = dir("same-runs-fresh");
    sweep(&edited, &fresh, &["--check"]);
    assert_same(&out, &fresh);
    // Other runs: refused.
    let other = temp_file(
        "sweep-same-runs",
        "o.toml",
        &sweep_text("").replace("values = [1.0, 2.0]", "values = [1.0, 3.0]"),
    );
    let refused = |sweep_file: &Path| {
        let o = edgesim(&[
            "sweep",
            sweep_file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            o.status.code() == Some(2) && err.contains("another sweep"),
            "{err}"
        );
    };
    refused(&other);
    // A journal without `runs`: the same sweep reads it, another of the same runs does not.
    drop_journal_runs_hash(&out.join("runs.jsonl"));
    refused(&file);
    let o = sweep(&edited, &out, &["--check"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("(8 resumed)"));
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&fresh);
}

/// What a sweep's points read counts as what its runs depend on: a trace edited since the
/// journal was written (or a profile file recalibrated) makes it another sweep's, refused; as
/// it was, the journal serves again.
#[test]
fn an_edited_trace_or_profile_makes_the_journal_another_sweep_s() {
    let d = dir("same-runs-files");
    std::fs::create_dir_all(&d).unwrap();
    let trace = d.join("t.csv");
    let rows = [
        (0.0, 100, 20),
        (1.0, 200, 30),
        (2.5, 50, 10),
        (4.0, 300, 40),
    ];
    std::fs::write(&trace, trace_text(&rows)).unwrap();
    let nano = root().join("calibration/jetson-orin-nano.toml");
    let profile = std::fs::read_to_string(&nano).unwrap();
    let board = d.join("nano.toml");
    std::fs::write(&board, &profile).unwrap();
    let scenario = d.join("s.toml");
    std::fs::write(
        &scenario,
        "name = \"t\"\nseed = 3\n[workload]\nkind = \"trace\"\npath = \"t.csv\"\n\
         [[devices]]\nname = \"nano\"\nprofile = \"nano.toml\"\nmodel = \"qwen2.5-3b\"\n\
         [cloud]\nmodel = \"gpt-4o-mini\"\n",
    )
    .unwrap();
    let file = d.join("sweep.toml");
    std::fs::write(
        &file,
        "scenario = \"s.toml\"\nreplications = 2\n[[axes]]\nkey = \"devices.0.slots\"\nvalues = [1, 2]\n",
    )
    .unwrap();
    let out = d.join("out");
    sweep(&file, &out, &[]);
    let again = |resumed: bool| {
        let o = edgesim(&[
            "sweep",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        if resumed {
            assert!(o.status.success() && err.contains("(4 resumed)"), "{err}");
        } else {
            assert!(
                o.status.code() == Some(2) && err.contains("another sweep"),
                "{err}"
            );
        }
    };
    let mut edited = rows;
    edited[1].1 = 201;
    std::fs::write(&trace, trace_text(&edited)).unwrap();
    again(false);
    std::fs::write(&trace, trace_text(&rows)).unwrap();
    std::fs::write(&board, format!("{profile}\n# recalibrated\n")).unwrap();
    again(false);
    std::fs::write(&board, &profile).unwrap();
    again(true);
}

/// Two sweeps into one folder at once (a command started twice, shards given one `--out`)
/// rewrote each other's journal and tables: while one holds the folder, another sweep or
/// merge into it is refused before it writes anything, and once the holder ends the folder
/// is used as before.
#[test]
fn a_folder_another_sweep_is_writing_is_refused() {
    let file = temp_file("sweep-lock", "s.toml", &sweep_text(""));
    let (s0, s1, out) = (dir("lock-s0"), dir("lock-s1"), dir("lock-out"));
    sweep(&file, &s0, &["--shard", "0/2"]);
    sweep(&file, &s1, &["--shard", "1/2"]);
    sweep(&file, &out, &["--shard", "0/2"]);
    let before = folder_files(&out);
    let held = hold_folder_lock(&out);
    let (f, o, a, b) = (
        file.to_str().unwrap(),
        out.to_str().unwrap(),
        s0.to_str().unwrap(),
        s1.to_str().unwrap(),
    );
    for args in [
        vec!["sweep", f, "--out", o, "--shard", "0/2"],
        vec!["sweep", f, "--out", o, "--shard", "1/2"],
        vec!["sweep", "merge", a, b, "--out", o],
    ] {
        assert_refused_as_locked(&edgesim(&args));
    }
    assert_eq!(folder_files(&out), before, "written while held");
    drop(held);
    let o = sweep(&file, &out, &["--shard", "0/2"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("(4 resumed)"));
    assert_same(&s0, &out);
    for d in [s0, s1, out] {
        let _ = std::fs::remove_dir_all(d);
    }
}

fn csv(p: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(p).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    (
        header,
        lines
            .map(|l| l.split(',').map(String::from).collect())
            .collect(),
    )
}

/// Runs sweep `file` into `out` with `--check`, which must pass, and reads its runs table:
/// the header and the rows.
fn checked_runs(file: &Path, out: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let o = sweep(file, out, &["--check"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    csv(&out.join("runs.csv"))
}

/// The position of column `name` in header `h`.
fn column(h: &[String], name: &str) -> usize {
    h.iter()
        .position(|x| x == name)
        .unwrap_or_else(|| panic!("{name}"))
}

/// The summary of `scenarios/assistant.toml` run with `seed` and `--set` `sets`.
fn assistant_summary(seed: &str, sets: &[String]) -> serde_json::Value {
    let path = shipped("assistant.toml");
    let mut args = vec![
        "run",
        path.to_str().unwrap(),
        "--no-out",
        "--json",
        "--seed",
        seed,
    ];
    for s in sets {
        args.extend(["--set", s.as_str()]);
    }
    let run = edgesim(&args);
    assert_ok(&run);
    serde_json::from_slice(&run.stdout).unwrap()
}

#[test]
fn common_random_numbers_aggregates_and_checks() {
    let extra = "[[expect]]\nname = \"nobody is rejected\"\nleft = { metric = \"rejected\" }\nop = \"<=\"\nright = { value = 0 }\n\
                 [[expect]]\nname = \"impossible: load-aware redirects twice what random does\"\n\
                 left = { metric = \"redirected_tokens\", where = { \"selection.kind\" = \"load_aware\" } }\n\
                 op = \">\"\nright = { metric = \"redirected_tokens\", where = { \"selection.kind\" = \"random\" }, factor = 2 }\n";
    let file = temp_file("sweep-crn", "s.toml", &sweep_text(extra));
    let out = dir("crn");
    let o = sweep(&file, &out, &["--check"]);
    assert_eq!(o.status.code(), Some(1), "a failed expectation exits 1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("nobody is rejected"), "{err}");
    // The impossible one fails at both burst rates, with its numbers.
    let failed: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("expectation failed: impossible"))
        .collect();
    assert_eq!(failed.len(), 2, "{err}");
    assert!(
        failed[0].contains("workload.burst_rate_rps=1.0") && failed[0].contains(" > "),
        "{err}"
    );

    let (h, rows) = csv(&out.join("runs.csv"));
    let c = |name: &str| h.iter().position(|x| x == name).unwrap();
    assert_eq!(rows.len(), 8);
    // Replication r has the same seed, hence the same arrivals, under both policies.
    let mut arrivals: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for r in &rows {
        assert_eq!(
            r[c("seed")],
            (7 + r[c("replication")].parse::<u64>().unwrap()).to_string()
        );
        arrivals
            .entry((
                r[c("workload.burst_rate_rps")].clone(),
                r[c("replication")].clone(),
            ))
            .or_default()
            .push(r[c("requests_total")].clone());
    }
    for v in arrivals.values() {
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], v[1], "same requests under both policies");
    }
    // Point means and CIs from the run rows, by hand.
    let (ph, prow) = csv(&out.join("points.csv"));
    let pc = |name: &str| ph.iter().position(|x| x == name).unwrap();
    for p in &prow {
        let xs: Vec<f64> = rows
            .iter()
            .filter(|r| r[c("point")] == p[pc("point")])
            .map(|r| r[c("redirected_tokens")].parse().unwrap())
            .collect();
        assert_eq!(xs.len(), 2);
        let mean = (xs[0] + xs[1]) / 2.0;
        let sd = ((xs[0] - mean).powi(2) + (xs[1] - mean).powi(2)).sqrt(); // n - 1 = 1
        let got = |k: &str| p[pc(k)].parse::<f64>().unwrap();
        assert!((got("redirected_tokens_mean") - mean).abs() < 1e-9);
        assert!((got("redirected_tokens_sd") - sd).abs() < 1e-9);
        assert!((got("redirected_tokens_ci95") - 12.706 * sd / 2f64.sqrt()).abs() < 1e-6);
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// A shard runs only some of each point's replications, so its means are not the sweep's and
/// its checks would fail or pass by chance (`ci.toml`'s shard 0/2 failed two comparisons that
/// the whole sweep passes): `--check` with `--shard` is refused before anything runs, pointing
/// at `sweep merge --check`, which checks the whole sweep.
#[test]
fn a_shard_is_not_checked_alone() {
    let file = temp_file("sweep-shard-check", "s.toml", &sweep_text(""));
    let out = dir("shard-check");
    let o = edgesim(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--shard",
        "0/2",
        "--check",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--check with --shard 0/2") && err.contains("sweep merge"),
        "{err}"
    );
    assert!(!out.exists(), "nothing run or written");
}

fn rejected(tag: &str, text: &str, needles: &[&str]) {
    let file = temp_file("sweep-bad", &format!("{tag}.toml"), text);
    let out = dir(tag);
    let o = edgesim(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{tag}: {err}");
    assert!(!err.contains("panicked"), "{tag}: {err}");
    for n in needles {
        assert!(err.contains(n), "{tag}: error lacks `{n}`: {err}");
    }
    assert!(!out.exists(), "{tag}: nothing may run or be written");
}

#[test]
fn bad_sweep_files_are_rejected_before_any_run() {
    let base = sweep_text("");
    rejected(
        "unknown_key",
        &base.replace("workload.burst_rate_rps", "workload.burst_rte_rps"),
        &["axes[1]", "workload.burst_rte_rps", "unknown field"],
    );
    rejected(
        "empty_axis",
        &base.replace("values = [1.0, 2.0]", "values = []"),
        &["axes[1].values", "no values"],
    );
    rejected(
        "wrong_type",
        &base.replace("values = [1.0, 2.0]", "values = [1.0, \"fast\"]"),
        &["axes[1]", "\"fast\"", "workload.burst_rate_rps"],
    );
    rejected(
        "out_of_range",
        &base.replace("values = [1.0, 2.0]", "values = [1.0, -2.0]"),
        &["axes[1]", "-2.0"],
    );
    rejected(
        "bad_metric",
        &sweep_text(
            "[[expect]]\nname = \"x\"\nleft = { metric = \"tokens\" }\nop = \"<\"\nright = { value = 1 }\n",
        ),
        &["expect[0].left.metric", "tokens", "redirected_tokens"],
    );
    rejected(
        "bad_where",
        &sweep_text(
            "[[expect]]\nname = \"x\"\nleft = { metric = \"rejected\", where = { \"selection.kind\" = \"fastest\" } }\nop = \"<\"\nright = { value = 1 }\n",
        ),
        &["expect[0].left.where.selection.kind", "fastest"],
    );
    rejected(
        "seed_axis",
        &base.replace("\"workload.base_rate_rps\"]", "\"seed\"]"),
        &["axes[2].keys[1]", "seed"],
    );
    // One key, written twice in the two forms `--set` takes.
    rejected(
        "same_key_twice",
        &sweep_text(
            "[[axes]]\nkey = \"devices[0].count\"\nvalues = [1, 2]\n[[axes]]\nkey = \"devices.0.count\"\nvalues = [3]\n",
        ),
        &["axes[4].key", "devices.0.count", "already has an axis"],
    );
    rejected(
        "bad_index",
        &sweep_text("[[axes]]\nkey = \"devices[first].count\"\nvalues = [1, 2]\n"),
        &["axes[3].key", "devices[first].count", "devices[1].count"],
    );
    // 1 and 1.0 are one value of a float key: the same scenario twice.
    rejected(
        "repeat_int_float",
        &base.replace("values = [1.0, 2.0]", "values = [1, 1.0]"),
        &["axes[1].values[1]", "1.0", "repeated value"],
    );
    // A plot whose series is its x axis draws one point per series.
    rejected(
        "series_is_x",
        &base.replace(
            "series = \"selection.kind\"",
            "series = \"workload.burst_rate_rps\"",
        ),
        &[
            "plots[0].series",
            "workload.burst_rate_rps",
            "the x axis too",
        ],
    );
    // A figure has a panel per combination of the axes other than x and series, 400 pixels
    // high each: 65 of them are refused (20,000 took gigabytes to draw).
    let counts = (1..=65)
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    rejected(
        "too_many_panels",
        &sweep_text(&format!(
            "[[axes]]\nkey = \"devices.0.count\"\nvalues = [{counts}]\n"
        )),
        &[
            "plots[0].series",
            "65 panels",
            "other axes (duration_s, workload.base_rate_rps, devices.0.count)",
            "at most 64",
        ],
    );
    rejected(
        "too_many_panels_without_series",
        &sweep_text("[[axes]]\nkey = \"devices.0.count\"\nvalues = [1, 2]\n")
            .replace("series = \"selection.kind\"\n", "")
            .replace(
                "values = [\"random\", \"load_aware\"]",
                &format!(
                    "values = [{}]",
                    ["random", "load_aware", "power_of_two", "round_robin"]
                        .iter()
                        .map(|k| format!("\"{k}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .replace(
                "values = [1, 2]",
                &format!(
                    "values = [{}]",
                    (1..=17)
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        &["plots[0].x", "68 panels", "name one of them as `series`"],
    );
    // A zipped axis takes arrays of one value per key, even with one key (it took [1, 2] as
    // the key's value).
    rejected(
        "zipped_one_key",
        &base.replace(
            "keys = [\"duration_s\", \"workload.base_rate_rps\"]\nvalues = [[600, 0.3]]",
            "keys = [\"duration_s\"]\nvalues = [[600, 700]]",
        ),
        &[
            "axes[2].values[0]",
            "[600, 700]",
            "one value per key: 1 (duration_s)",
        ],
    );
    rejected(
        "empty_key_segment",
        &base.replace("\"workload.base_rate_rps\"]", "\"workload.\"]"),
        &["axes[2].keys[1]", "\"workload.\"", "no empty segment"],
    );
    rejected(
        "unknown_sweep_key",
        &format!("replicas = 3\n{base}"),
        &["replicas"],
    );
}

/// A sweep or plan whose scenario cannot be read names its own file and its `scenario` key,
/// not only the file it could not read (found by `fuzz.rs`: `scenario = ""` named a folder).
#[test]
fn a_missing_scenario_names_the_sweep_or_plan_file_and_key() {
    for (given, needle) in [("nope.toml", "No such file"), ("", "not a regular file")] {
        let sweep = format!(
            "name = \"x\"\nscenario = \"{given}\"\n[[axes]]\nkey = \"seed\"\nvalues = [1]\n"
        );
        let p = temp_file("missing-scenario", "sweep.toml", &sweep);
        let from_sweep = edgesim::sweep::Plan::load(&p).unwrap_err().to_string();
        let plan = std::fs::read_to_string(shipped("plans/retail.toml"))
            .unwrap()
            .replace(
                "scenario = \"retail-traffic.toml\"",
                &format!("scenario = \"{given}\""),
            );
        let p = temp_file("missing-scenario", "plan.toml", &plan);
        let from_plan = edgesim::plan::Planner::load(&p).unwrap_err().to_string();
        for (e, file) in [(from_sweep, "sweep.toml"), (from_plan, "plan.toml")] {
            assert!(
                e.contains(file)
                    && e.contains("`scenario`")
                    && e.contains(&format!("\"{given}\""))
                    && e.contains(needle),
                "{e}"
            );
        }
    }
}

/// An axis whose values are tables or arrays of tables (`cloud.fallbacks`) runs, its values
/// shown inline in the tables (they were written as a `[[v]]` section and refused as "not
/// TOML"); the same table with `60` and `60.0` is one value.
#[test]
fn table_valued_axes_run_and_show_inline() {
    let text = format!(
        "scenario = \"{}\"\n[[axes]]\nkey = \"cloud.fallbacks\"\n\
         values = [[], [{{ model = \"claude-haiku-4.5\" }}]]\n\
         [[axes]]\nkey = \"duration_s\"\nvalues = [600]\n",
        shipped("outage.toml").display()
    );
    let file = temp_file("sweep-table", "fallbacks.toml", &text);
    let out = dir("fallbacks");
    let o = sweep(&file, &out, &[]);
    assert_eq!(o.status.code(), Some(0));
    let (head, rows) = csv(&out.join("points.csv"));
    let c = head.iter().position(|h| h == "cloud.fallbacks").unwrap();
    assert_eq!(rows[0][c], "[]");
    // CSV quoting: the field is quoted and its quotes doubled.
    assert_eq!(rows[1][c], "\"[{ model = \"\"claude-haiku-4.5\"\" }]\"");
    let _ = std::fs::remove_dir_all(&out);
    rejected(
        "table_repeat",
        &text
            .replace(
                "values = [[], [{ model = \"claude-haiku-4.5\" }]]",
                "values = [{ kind = \"sliding_window\", window_s = 60, limit = 5 }, \
             { limit = 5, kind = \"sliding_window\", window_s = 60.0 }]",
            )
            .replace("cloud.fallbacks", "rate_limit"),
        &["axes[0].values[1]", "window_s = 60.0", "repeated value"],
    );
}

/// A sweep's `where` filters and plot axes name its axes' keys in either form `--set` takes:
/// `devices[0].count` finds the axis written `devices.0.count` (it was "not an axis of this
/// sweep").
#[test]
fn where_and_plots_find_an_axis_in_either_form() {
    let text = format!(
        "name = \"forms\"\nscenario = \"{}\"\nreplications = 1\n\
         [[axes]]\nkey = \"devices.0.count\"\nvalues = [1, 3]\n\
         [[axes]]\nkey = \"duration_s\"\nvalues = [600]\n\
         [[expect]]\nname = \"more boards, fewer redirected tokens\"\n\
         left = {{ metric = \"redirected_tokens\", where = {{ \"devices[0].count\" = 3 }} }}\n\
         op = \"<\"\n\
         right = {{ metric = \"redirected_tokens\", where = {{ \"devices.0.count\" = 1 }} }}\n\
         [[plots]]\nmetric = \"redirected_tokens\"\nx = \"devices[0].count\"\n",
        shipped("steady.toml").display()
    );
    let file = temp_file("sweep-forms", "s.toml", &text);
    let out = dir("forms");
    let o = sweep(&file, &out, &["--check"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("1 comparisons, 0 failed"), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}

/// The columns of refusals and device failures hold the run's summary keys: a sweep of the
/// failures scenario (boards that fail) over its two groups' contexts, against `run --json`
/// of the same point and seed. 300 tokens on the store boards alone refuses the longer
/// requests there (`too_long_attempts`); on the site boards too, it makes them `oversized`.
#[test]
fn refusal_and_failure_columns_hold_the_summary() {
    let text = format!(
        "name = \"t\"\nscenario = \"{}\"\nseed = 3\n\
         [[axes]]\nkeys = [\"devices.0.ctx_tokens\", \"devices.1.ctx_tokens\"]\n\
         values = [[300, 4096], [300, 300], [4096, 4096]]\n\
         [[axes]]\nkey = \"duration_s\"\nvalues = [1800]\n",
        shipped("failures.toml").display()
    );
    let file = temp_file("sweep-faults", "s.toml", &text);
    let out = dir("faults");
    let o = sweep(&file, &out, &[]);
    assert_eq!(o.status.code(), Some(0));
    let (h, rows) = csv(&out.join("runs.csv"));
    let c = |name: &str| h.iter().position(|x| x == name).unwrap();
    assert_eq!(rows.len(), 3);
    let mut seen = (false, false);
    for r in &rows {
        let (store, site) = (&r[c("devices.0.ctx_tokens")], &r[c("devices.1.ctx_tokens")]);
        let run = edgesim(&[
            "run",
            shipped("failures.toml").to_str().unwrap(),
            "--no-out",
            "--json",
            "--seed",
            &r[c("seed")],
            "--set",
            &format!("devices.0.ctx_tokens={store}"),
            "--set",
            &format!("devices.1.ctx_tokens={site}"),
            "--set",
            "duration_s=1800",
        ]);
        assert_ok(&run);
        let j: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let f = &j["device_faults"];
        for (col, want) in [
            ("too_long_attempts", &j["too_long_attempts"]),
            ("oversized", &j["oversized"]),
            ("device_availability", &f["availability"]),
            ("device_interrupted", &f["interrupted"]),
        ] {
            let got: f64 = r[c(col)].parse().unwrap();
            assert_eq!(Some(got), want.as_f64(), "{col} at {store}, {site}");
        }
        seen.0 |= j["too_long_attempts"].as_u64() > Some(0);
        seen.1 |= j["oversized"].as_u64() > Some(0);
    }
    assert_eq!(
        seen,
        (true, true),
        "the grid must refuse too-long attempts and oversized requests"
    );
    // Without failures the failure columns are empty.
    let text = text.replace(
        shipped("failures.toml").to_str().unwrap(),
        shipped("steady.toml").to_str().unwrap(),
    );
    let text = text.replace("[[300, 4096], [300, 300], [4096, 4096]]", "[[300, 4096]]");
    let file = temp_file("sweep-faults", "steady.toml", &text);
    let out2 = dir("faults-steady");
    assert_eq!(sweep(&file, &out2, &[]).status.code(), Some(0));
    let (h, rows) = csv(&out2.join("runs.csv"));
    let c = |name: &str| h.iter().position(|x| x == name).unwrap();
    assert_eq!(
        (
            rows[0][c("device_availability")].as_str(),
            rows[0][c("device_interrupted")].as_str()
        ),
        ("", "")
    );
    // Nothing rejected: every part of `rejected` is 0, not empty.
    assert_eq!(rows[0][c("rejected")], "0");
    for part in REJECTED_BY {
        assert_eq!(rows[0][c(&format!("rejected_{part}"))], "0", "{part}");
    }
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&out2);
}

/// The parts of the summary's `rejected_by`, each a sweep column `rejected_<part>`.
const REJECTED_BY: [&str; 7] = [
    "no_cloud",
    "too_long_for_cloud",
    "bad_request",
    "cloud_refused",
    "device_failure",
    "queue_timeout",
    "edge_only",
];

/// The columns of rejections by reason hold the summary's `rejected_by`, and add up to
/// `rejected`, against `run --json`: the outage scenario with its cloud (requests refused by
/// it in its outages are rejected, `cloud_refused`) and without one (`no_cloud`); the clinic,
/// whose questions are rejected at their queue timeout (`routing.on_queue_timeout =
/// "reject"`, `queue_timeout`) and, its boards without queues, whose notes finding them busy
/// may not go to the cloud (`edge_only`).
#[test]
fn rejection_reason_columns_hold_the_summary() {
    let mut seen = Vec::new();
    for (tag, file, axes) in [
        (
            "rejections",
            "outage.toml",
            "[[axes]]\nkey = \"cloud.enabled\"\nvalues = [true, false]\n\
             [[axes]]\nkey = \"duration_s\"\nvalues = [1800]\n",
        ),
        (
            "rejections-clinic",
            "clinic.toml",
            "[[axes]]\nkey = \"routing.on_queue_timeout\"\nvalues = [\"reject\"]\n\
             [[axes]]\nkey = \"devices.0.queue_capacity\"\nvalues = [8, 0]\n\
             [[axes]]\nkey = \"duration_s\"\nvalues = [1800]\n",
        ),
    ] {
        let text = format!(
            "name = \"t\"\nscenario = \"{}\"\nseed = 5\n{axes}",
            shipped(file).display()
        );
        let sweep_file = temp_file(&format!("sweep-{tag}"), "s.toml", &text);
        let out = dir(tag);
        let o = sweep(&sweep_file, &out, &[]);
        assert_eq!(o.status.code(), Some(0));
        let (h, rows) = csv(&out.join("runs.csv"));
        let c = |name: &str| h.iter().position(|x| x == name).unwrap();
        for r in &rows {
            let mut args = vec![
                "run".to_string(),
                shipped(file).display().to_string(),
                "--no-out".into(),
                "--json".into(),
                "--seed".into(),
                r[c("seed")].clone(),
            ];
            // Each axis, set as the sweep set it.
            for key in [
                "cloud.enabled",
                "routing.on_queue_timeout",
                "devices.0.queue_capacity",
                "duration_s",
            ] {
                if let Some(i) = h.iter().position(|x| x == key) {
                    let v = &r[i];
                    let v = if v.parse::<f64>().is_ok() || v == "true" || v == "false" {
                        v.clone()
                    } else {
                        format!("\"{v}\"")
                    };
                    args.extend(["--set".into(), format!("{key}={v}")]);
                }
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = edgesim(&args);
            assert_ok(&run);
            let j: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
            let mut sum = 0;
            for part in REJECTED_BY {
                let got: u64 = r[c(&format!("rejected_{part}"))].parse().unwrap();
                // `queue_timeout` and `edge_only` are in the summary only where they apply.
                let want = j["rejected_by"][part].as_u64().unwrap_or(0);
                assert_eq!(got, want, "{file}: {part}");
                if got > 0 {
                    seen.push(part);
                }
                sum += got;
            }
            assert_eq!(r[c("rejected")], sum.to_string(), "{file}");
        }
        let _ = std::fs::remove_dir_all(&out);
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen,
        ["cloud_refused", "edge_only", "no_cloud", "queue_timeout"]
    );
}

/// A scenario with two request classes gives each class's metrics (`question.ttft_p99_ms`,
/// ...) after the run's: each run's are its summary's `classes`, the classes add up to the
/// run, expectations and plots take them, and shards merge to the same bytes.
#[test]
fn class_columns_hold_each_classs_summary() {
    let text = format!(
        "name = \"t\"\nscenario = \"{}\"\nseed = 5\nreplications = 2\n\
         [[axes]]\nkey = \"workload.classes.0.queue_timeout_ms\"\nvalues = [0, 1500]\n\
         [[axes]]\nkey = \"duration_s\"\nvalues = [1200]\n\
         [[expect]]\nname = \"the limit sends questions to the cloud\"\n\
         left = {{ metric = \"question.served_cloud\", where = {{ \"workload.classes.0.queue_timeout_ms\" = 0 }} }}\n\
         op = \"<\"\n\
         right = {{ metric = \"question.served_cloud\", where = {{ \"workload.classes.0.queue_timeout_ms\" = 1500 }} }}\n\
         [[plots]]\nmetric = \"summary.ttft_p99_ms\"\nx = \"workload.classes.0.queue_timeout_ms\"\n",
        shipped("assistant.toml").display()
    );
    let file = temp_file("sweep-classes", "s.toml", &text);
    let out = dir("classes");
    let (h, rows) = checked_runs(&file, &out);
    let c = |name: &str| column(&h, name);
    let per_class = edgesim::sweep::metrics::CLASS_METRICS;
    // The run's metrics, then each class's, in the workload's order.
    let first = c("question.requests_total");
    assert_eq!(h.len(), first + 2 * per_class.len());
    assert_eq!(h[first + per_class.len()], "summary.requests_total");
    let num = |r: &[String], name: &str| r[c(name)].parse::<f64>().ok();
    assert_eq!(rows.len(), 4);
    for r in &rows {
        let j = assistant_summary(
            &r[c("seed")],
            &[
                format!(
                    "workload.classes.0.queue_timeout_ms={}",
                    r[c("workload.classes.0.queue_timeout_ms")]
                ),
                "duration_s=1200".into(),
            ],
        );
        for (k, class) in ["question", "summary"].iter().enumerate() {
            let s = &j["classes"][k];
            assert_eq!(s["name"], *class);
            for (col, want) in [
                ("requests_total", s["requests"].as_f64()),
                ("served_cloud", s["served_cloud"].as_f64()),
                ("ttft_p99_ms", s["ttft_ms"]["p99"].as_f64()),
                ("e2e_p50_ms", s["e2e_ms"]["p50"].as_f64()),
            ] {
                assert_eq!(num(r, &format!("{class}.{col}")), want, "{class}.{col}");
            }
        }
        for m in ["requests_total", "served_edge", "served_cloud", "rejected"] {
            let sum = num(r, &format!("question.{m}")).unwrap()
                + num(r, &format!("summary.{m}")).unwrap();
            assert_eq!(Some(sum), num(r, m), "{m}");
        }
    }
    let (ph, _) = csv(&out.join("points.csv"));
    assert!(ph.contains(&"question.ttft_p99_ms_ci95".to_string()));
    assert!(out.join("plot1_summary.ttft_p99_ms.csv").exists());
    // Two shards, merged: the same bytes.
    let shards: Vec<PathBuf> = (0..2).map(|i| dir(&format!("classes-s{i}"))).collect();
    for (i, d) in shards.iter().enumerate() {
        sweep(&file, d, &["--shard", &format!("{i}/2")]);
    }
    let merged = dir("classes-merged");
    let mut args = vec![
        "sweep",
        "merge",
        "--csv",
        "--check",
        "--out",
        merged.to_str().unwrap(),
    ];
    args.extend(shards.iter().map(|d| d.to_str().unwrap()));
    assert_ok(&edgesim(&args));
    assert_same(&out, &merged);
    // A class metric the scenario does not have is refused, naming the classes' metrics.
    rejected(
        "classes-bad",
        &text.replace("summary.ttft_p99_ms", "report.ttft_p99_ms"),
        &[
            "`plots[0].metric` = report.ttft_p99_ms: unknown metric",
            "and per request class (question, summary): CLASS.requests_total, CLASS.served_edge",
        ],
    );
    for d in shards.iter().chain([&out, &merged]) {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// An axis that renames a class (or gives classes of its own) has that class's columns too,
/// after the base scenario's: until 2026-12-06 the columns were the base scenario's classes
/// only, so the renamed class's metrics were not recorded and its old name's were empty.
#[test]
fn an_axis_that_renames_a_class_records_both_names() {
    let text = format!(
        "name = \"t\"\nscenario = \"{}\"\nseed = 9\n\
         [[axes]]\nkey = \"workload.classes.1.name\"\nvalues = [\"summary\", \"report\"]\n\
         [[axes]]\nkey = \"duration_s\"\nvalues = [600]\n\
         [[expect]]\nname = \"reports are recorded\"\n\
         left = {{ metric = \"report.requests_total\", where = {{ \"workload.classes.1.name\" = \"report\" }} }}\n\
         op = \">\"\nright = {{ value = 0 }}\n",
        shipped("assistant.toml").display()
    );
    let file = temp_file("sweep-rename", "s.toml", &text);
    let out = dir("rename");
    let (h, rows) = checked_runs(&file, &out);
    let c = |name: &str| column(&h, name);
    let per_class = edgesim::sweep::metrics::CLASS_METRICS.len();
    let first = c("question.requests_total");
    assert_eq!(h.len(), first + 3 * per_class);
    assert_eq!(h[first + per_class], "summary.requests_total");
    assert_eq!(h[first + 2 * per_class], "report.requests_total");
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let name = r[c("workload.classes.1.name")].clone();
        let other = if name == "report" {
            "summary"
        } else {
            "report"
        };
        let j = assistant_summary(
            &r[c("seed")],
            &[
                format!("workload.classes.1.name=\"{name}\""),
                "duration_s=600".into(),
            ],
        );
        let s = &j["classes"][1];
        assert_eq!(s["name"], name.as_str());
        assert!(s["requests"].as_u64().unwrap() > 0);
        assert_eq!(
            r[c(&format!("{name}.requests_total"))].parse::<f64>().ok(),
            s["requests"].as_f64()
        );
        assert_eq!(
            r[c(&format!("{name}.e2e_p95_ms"))].parse::<f64>().ok(),
            s["e2e_ms"]["p95"].as_f64()
        );
        // The name the run does not have: empty.
        assert_eq!(r[c(&format!("{other}.requests_total"))], "");
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// The worst-window columns are the summary's `windows.worst` of each run (an axis sets the
/// window), empty for runs without windows; an expectation reads them.
#[test]
fn window_columns_hold_the_worst_windows() {
    let text = format!(
        "name = \"t\"\nscenario = \"{}\"\nseed = 5\n\
         [[axes]]\nkey = \"metrics.window_s\"\nvalues = [100, 600]\n\
         [[axes]]\nkey = \"duration_s\"\nvalues = [1200]\n\
         [[expect]]\nname = \"a minute-scale window sees the bursts\"\n\
         left = {{ metric = \"worst_window_ttft_p95_ms\", where = {{ \"metrics.window_s\" = 100 }} }}\n\
         op = \">\"\n\
         right = {{ metric = \"ttft_p95_ms\", where = {{ \"metrics.window_s\" = 100 }} }}\n",
        shipped("bursty.toml").display()
    );
    let file = temp_file("sweep-windows", "s.toml", &text);
    let out = dir("windows");
    let o = sweep(&file, &out, &["--check"]);
    assert_ok(&o);
    let (h, rows) = csv(&out.join("runs.csv"));
    let c = |name: &str| h.iter().position(|x| x == name).unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let run = edgesim(&[
            "run",
            shipped("bursty.toml").to_str().unwrap(),
            "--no-out",
            "--json",
            "--seed",
            &r[c("seed")],
            "--set",
            &format!("metrics.window_s={}", r[c("metrics.window_s")]),
            "--set",
            "duration_s=1200",
        ]);
        assert_ok(&run);
        let j: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        for (column, key) in [
            ("worst_window_ttft_p95_ms", "ttft_p95_ms"),
            ("worst_window_ttft_p99_ms", "ttft_p99_ms"),
            ("worst_window_e2e_p95_ms", "e2e_p95_ms"),
            ("worst_window_e2e_p99_ms", "e2e_p99_ms"),
            ("worst_window_reject_rate", "reject_rate"),
            ("worst_window_redirect_rate", "redirect_rate"),
        ] {
            let got: f64 = r[c(column)].parse().unwrap();
            assert_eq!(
                Some(got),
                j["windows"]["worst"][key]["value"].as_f64(),
                "{column}"
            );
        }
    }
    // Without windows, the columns are empty.
    let plain = dir("windows-plain");
    let text = text
        .replace(
            "key = \"metrics.window_s\"\nvalues = [100, 600]",
            "key = \"selection.kind\"\nvalues = [\"load_aware\"]",
        )
        .split("[[expect]]")
        .next()
        .unwrap()
        .to_string();
    let file = temp_file("sweep-windows-plain", "s.toml", &text);
    assert_ok(&sweep(&file, &plain, &[]));
    let (h, rows) = csv(&plain.join("runs.csv"));
    let i = h
        .iter()
        .position(|x| x == "worst_window_ttft_p95_ms")
        .unwrap();
    assert_eq!(rows[0][i], "");
}

/// With request classes, each class's worst-window columns (`CLASS.worst_window_*`) are its
/// summary's `classes[k].windows.worst`; an expectation reads them (the long summaries' worst
/// minute is slower than the questions').
#[test]
fn class_window_columns_hold_each_class_worst_windows() {
    let text = format!(
        "name = \"t\"\nscenario = \"{}\"\nseed = 5\n\
         [[axes]]\nkey = \"metrics.window_s\"\nvalues = [300]\n\
         [[axes]]\nkey = \"duration_s\"\nvalues = [1200]\n\
         [[expect]]\nname = \"summaries wait longer in their worst window\"\n\
         left = {{ metric = \"summary.worst_window_ttft_p95_ms\" }}\n\
         op = \">\"\n\
         right = {{ metric = \"question.worst_window_ttft_p95_ms\" }}\n",
        shipped("assistant.toml").display()
    );
    let file = temp_file("sweep-class-windows", "s.toml", &text);
    let out = dir("class-windows");
    assert_ok(&sweep(&file, &out, &["--check"]));
    let (h, rows) = csv(&out.join("runs.csv"));
    let c = |name: &str| h.iter().position(|x| x == name).unwrap();
    let r = &rows[0];
    let run = edgesim(&[
        "run",
        shipped("assistant.toml").to_str().unwrap(),
        "--no-out",
        "--json",
        "--seed",
        &r[c("seed")],
        "--set",
        "metrics.window_s=300",
        "--set",
        "duration_s=1200",
    ]);
    assert_ok(&run);
    let j: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    for (k, class) in ["question", "summary"].into_iter().enumerate() {
        assert_eq!(j["classes"][k]["name"], class);
        for (column, key) in [
            ("worst_window_ttft_p95_ms", "ttft_p95_ms"),
            ("worst_window_ttft_p99_ms", "ttft_p99_ms"),
            ("worst_window_e2e_p95_ms", "e2e_p95_ms"),
            ("worst_window_e2e_p99_ms", "e2e_p99_ms"),
            ("worst_window_reject_rate", "reject_rate"),
            ("worst_window_redirect_rate", "redirect_rate"),
        ] {
            let got: f64 = r[c(&format!("{class}.{column}"))].parse().unwrap();
            assert_eq!(
                Some(got),
                j["classes"][k]["windows"]["worst"][key]["value"].as_f64(),
                "{class}.{column}"
            );
        }
    }
}
