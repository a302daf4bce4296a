//! `edgesim plan`: the search's answer against the full grid, the answer re-run with other
//! seeds, fewer runs than the grid on the shipped example, resume after a kill, shards, thread
//! counts, an infeasible plan naming its binding goal, bad plan files, and cloud-only runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use edgesim::plan::cost::RunValues;
use edgesim::plan::{Planner, search};

use crate::common::*;

fn dir(tag: &str) -> PathBuf {
    scratch_dir(&format!("plan-{tag}"))
}

/// A small plan: two board types (up to 4 Nanos, up to 3 AGX), two policies, edge-only or
/// GPT-4o mini, no rate limit or at most 4 in service, 15 minutes of the retail traffic (one rush).
fn small_plan(d: &Path, goals: &str, extra: &str) -> PathBuf {
    let traffic = root().join("scenarios/plans/retail-traffic.toml");
    let cal = root().join("calibration");
    let text = format!(
        r#"
name = "small"
scenario = "{traffic}"
replications = 3
seed = 11
{extra}
[costs]
traffic_hours_per_month = 360

[[types]]
name = "nano"
profile = "{cal}/jetson-orin-nano.toml"
model = "qwen2.5-3b"
price_usd = 249
max_count = 4
slots = [1, 2]
queue_capacity = [2]

[[types]]
name = "agx"
profile = "{cal}/jetson-agx-orin.toml"
model = "qwen2.5-3b"
price_usd = 1999
max_count = 3
slots = [4]
queue_capacity = [4]

[search]
policies = ["load_aware", "random"]
rate_limits = ["none", {{ kind = "concurrency", limit = 4 }}]
clouds = ["none", "gpt-4o-mini"]

[goals]
{goals}
"#,
        traffic = traffic.display(),
        cal = cal.display()
    );
    // Shorter traffic keeps the grid quick.
    let scenario = d.join("traffic.toml");
    let t = std::fs::read_to_string(&traffic)
        .unwrap()
        .replace("duration_s = 1800", "duration_s = 900")
        .replace("../../calibration", &cal.display().to_string());
    std::fs::write(&scenario, t).unwrap();
    let text = text.replace(
        &traffic.display().to_string(),
        &scenario.display().to_string(),
    );
    let p = d.join("plan.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const GOALS: &str = "ttft_p95_ms = 2500\nmax_reject_share = 0.01\nmax_cloud_usd_per_month = 80";

/// The small plan with its traffic in two request classes: `question` (4 in 5, the retail
/// traffic's tokens) and `report` (long documents: 2,000 prompt tokens, 300 out).
fn two_class_plan(d: &Path, goals: &str) -> PathBuf {
    let p = small_plan(d, goals, "");
    let traffic = d.join("traffic.toml");
    let tokens = r#"prompt_tokens = { dist = "lognormal", median = 150, sigma = 0.5, max = 2048 }
output_tokens = { dist = "lognormal", median = 120, sigma = 0.5, max = 1024 }"#;
    let classes = format!(
        r#"[[workload.classes]]
name = "question"
share = 4
{tokens}
[[workload.classes]]
name = "report"
share = 1
prompt_tokens = {{ dist = "fixed", value = 2000 }}
output_tokens = {{ dist = "fixed", value = 300 }}"#
    );
    let t = std::fs::read_to_string(&traffic).unwrap();
    assert!(t.contains(tokens));
    std::fs::write(&traffic, t.replace(tokens, &classes)).unwrap();
    p
}

fn run(pl: &Planner, out: &Path) -> search::Outcome {
    search::search(pl, out, None, None, &|_| {}).unwrap().0
}

#[test]
fn the_search_finds_the_grids_cheapest_feasible_plan() {
    let d = dir("grid");
    let path = small_plan(&d, GOALS, "");
    let pl = Planner::load(&path).unwrap();
    let found = run(&pl, &d.join("search"));
    let mut grid_pl = pl.clone();
    grid_pl.method = edgesim::plan::Method::Grid;
    let grid = run(&grid_pl, &d.join("grid"));
    assert_eq!(grid.evaluations.len() as u64, pl.grid_size());
    // The grid's cheapest feasible plan, computed here from its evaluations.
    let cheapest = grid
        .evaluations
        .iter()
        .filter(|e| e.feasible)
        .min_by(|a, b| a.cost().total_cmp(&b.cost()))
        .expect("the small plan has a feasible point");
    let best = &found.evaluations[found.best.expect("the search found a plan")];
    assert_eq!(best.point, cheapest.point, "{}", pl.describe(&best.point));
    assert_eq!(best.cost(), cheapest.cost());
    assert!(
        found.runs < grid.runs,
        "search {} runs, grid {}",
        found.runs,
        grid.runs
    );
}

/// A board type with `max_count = 0` is a valid way to leave it out. Counting the grid used to
/// subtract 1 from 0 first (a panic in debug builds, found by `fuzz.rs`).
#[test]
fn a_board_type_with_max_count_zero_is_left_out_of_the_grid() {
    let d = dir("max0");
    let path = small_plan(&d, GOALS, "");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("max_count = 3", "max_count = 0");
    std::fs::write(&path, text).unwrap();
    let pl = Planner::load(&path).unwrap();
    // Nanos: none, or 1-4 of them x 2 slot options x 1 queue option = 9 configurations; AGX
    // Orins: none only. Less the empty fleet, 8 fleets x 2 policies x 2 rate limits x 2
    // clouds, plus the empty fleet once with the cloud.
    assert_eq!(pl.grid_size(), 8 * 2 * 2 * 2 + 1);
    // The unchanged plan for comparison: AGX Orins none or 1-3 (4 configurations).
    let pl = Planner::load(&small_plan(&d, GOALS, "")).unwrap();
    assert_eq!(pl.grid_size(), (9 * 4 - 1) * 2 * 2 * 2 + 1);
}

#[test]
fn the_answer_meets_every_goal_with_other_seeds() {
    let d = dir("reseed");
    let path = small_plan(&d, GOALS, "");
    let pl = Planner::load(&path).unwrap();
    let o = run(&pl, &d.join("out"));
    let best = &o.evaluations[o.best.unwrap()];
    // Four fresh seeds, as plain scenarios.
    let runs: Vec<RunValues> = (0..4)
        .map(|k| {
            let sc = pl.scenario_at(&best.point, 1000 + k).unwrap();
            let s = edgesim::sim::run(&sc).unwrap();
            RunValues::of(
                &pl.costs,
                &pl.types,
                &best.point,
                &edgesim::sweep::metrics::extract(&s).into(),
                &edgesim::sweep::metrics::extract_classes(&s)
                    .into_iter()
                    .map(Into::into)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    for g in &pl.goals {
        let mean = runs.iter().map(|r| r.value(g).unwrap()).sum::<f64>() / 4.0;
        let ok = if g.at_most {
            mean <= g.bound
        } else {
            mean >= g.bound
        };
        assert!(ok, "{} with other seeds: mean {mean}", g.describe());
    }
}

#[test]
fn the_shipped_plan_runs_far_fewer_simulations_than_the_grid() {
    let d = dir("retail");
    let pl = Planner::load(&root().join("scenarios/plans/retail.toml")).unwrap();
    let o = run(&pl, &d);
    assert!(o.best.is_some());
    let grid_runs = pl.grid_size() * u64::from(pl.replications);
    assert!(
        (o.runs as u64) * 3 < grid_runs,
        "{} runs against the grid's {grid_runs}",
        o.runs
    );
}

/// The Pareto front of the shipped plan: no plan evaluated beats one of it on all of (cost,
/// TTFT p95, cloud share) and strictly on one, every plan off it is beaten or equalled by one
/// on it, and plans equal in all three are there once, the first in point order (the plan has
/// fleets that meet the goals with the cloud taking nothing, equal to the same fleet without
/// a cloud).
#[test]
fn the_pareto_front_holds_plans_equal_in_all_three_once() {
    let d = dir("retail-front");
    let pl = Planner::load(&root().join("scenarios/plans/retail.toml")).unwrap();
    let o = run(&pl, &d);
    let key = |i: usize| {
        let e = &o.evaluations[i];
        [
            e.cost(),
            e.stat(|r| r.run.ttft_p95_ms).mean.unwrap(),
            e.stat(|r| r.cloud_share).mean.unwrap(),
        ]
    };
    let feasible: Vec<usize> = (0..o.evaluations.len())
        .filter(|&i| o.evaluations[i].feasible)
        .collect();
    let beats = |b: [f64; 3], a: [f64; 3]| {
        b.iter().zip(&a).all(|(x, y)| x <= y) && b.iter().zip(&a).any(|(x, y)| x < y)
    };
    let mut ties = 0;
    for &i in &feasible {
        let on = o.pareto.contains(&i);
        assert_eq!(
            on,
            !feasible.iter().any(|&j| beats(key(j), key(i)))
                && !feasible.iter().any(|&j| j < i && key(j) == key(i)),
            "plan {i}"
        );
        if !on && feasible.iter().any(|&j| j < i && key(j) == key(i)) {
            ties += 1;
        }
    }
    assert!(ties > 0, "the shipped plan has equal plans");
    for (n, &a) in o.pareto.iter().enumerate() {
        for &b in &o.pareto[n + 1..] {
            assert_ne!(key(a), key(b));
        }
    }
}

fn files(d: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.extension().is_some_and(|x| x == "png" || x == "svg"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn plan_cli(plan: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "plan",
        plan.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--csv",
    ];
    args.extend_from_slice(extra);
    let o = edgesim(&args);
    assert_ok(&o);
    o
}

/// Off a terminal, `edgesim plan` prints a progress line at most every `EDGESIM_PROGRESS_S`
/// seconds (30 by default), so a long search in a log or CI shows it is alive; a short one
/// prints none.
#[test]
fn plan_progress_lines_off_a_terminal() {
    let d = dir("progress");
    let path = small_plan(&d, GOALS, "");
    let stderr = |every: Option<&str>, out: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_edgesim"));
        c.args(["plan", path.to_str().unwrap(), "--out"])
            .arg(d.join(out))
            .env_remove("EDGESIM_PROGRESS_S");
        if let Some(v) = every {
            c.env("EDGESIM_PROGRESS_S", v);
        }
        let o = c.output().unwrap();
        assert_ok(&o);
        String::from_utf8(o.stderr).unwrap()
    };
    let every_run = stderr(Some("0"), "every-run");
    let lines: Vec<&str> = every_run
        .lines()
        .filter(|l| l.contains(" runs simulated in "))
        .collect();
    let simulated = every_run
        .lines()
        .find_map(|l| l.strip_prefix("simulated "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("{every_run}"));
    assert_eq!(lines.len(), simulated, "{every_run}");
    assert!(
        lines[0].starts_with("plan small: 1 runs simulated in "),
        "{every_run}"
    );
    let default = stderr(None, "default");
    assert!(!default.contains(" runs simulated in "), "{default}");
    // The header gives the size of one run.
    let pl = Planner::load(&path).unwrap();
    assert!(
        default.starts_with(&format!(
            "plan small: 2 device types, a grid of {} plans x 3 replications of about {} \
             requests each\n",
            pl.grid_size(),
            pl.requests_per_run.round()
        )),
        "{default}"
    );
}

/// The requests per run that the plan's header gives are what its runs simulate: the mean of
/// 30 runs (different seeds, the bursty traffic of `small_plan`) within 5 % of it.
#[test]
fn a_plans_requests_per_run_are_what_its_runs_simulate() {
    let d = dir("requests");
    let pl = Planner::load(&small_plan(&d, GOALS, "")).unwrap();
    // Two Nanos and an AGX Orin with the cloud: every request ends somewhere.
    let point = edgesim::plan::Point {
        counts: vec![2, 1],
        slots: vec![1, 0],
        queue: vec![0, 0],
        policy: 0,
        rate_limit: 0,
        routing: 0,
        cloud: 1,
    }
    .canonical();
    let runs = 30;
    let total: u64 = (0..runs)
        .map(|seed| {
            let sc = pl.scenario_at(&point, seed).unwrap();
            edgesim::sim::run(&sc).unwrap().requests_total
        })
        .sum();
    let mean = total as f64 / runs as f64;
    assert!(pl.requests_per_run > 0.0);
    assert!(
        (mean / pl.requests_per_run - 1.0).abs() < 0.05,
        "simulated {mean}, expected {}",
        pl.requests_per_run
    );
}

/// `--grid` with `--shard`: each shard evaluates its part of the grid, and `plan merge` of
/// the shards writes what one `--grid` run writes (the merge reads the method from the
/// shards' journals, not from the plan file, which asks for a search).
#[test]
fn grid_shards_merge_to_the_whole_grid() {
    let d = dir("grid-shards");
    let path = small_plan(&d, GOALS, "");
    let whole = d.join("whole");
    let a = plan_cli(&path, &whole, &["--grid"]);
    let shards: Vec<PathBuf> = (0..3).map(|i| d.join(format!("s{i}"))).collect();
    for (i, s) in shards.iter().enumerate() {
        plan_cli(&path, s, &["--grid", "--shard", &format!("{i}/3")]);
    }
    let merged = d.join("merged");
    let mut args = vec!["plan", "merge", path.to_str().unwrap()];
    args.extend(shards.iter().map(|s| s.to_str().unwrap()));
    args.extend(["--out", merged.to_str().unwrap(), "--csv"]);
    let m = edgesim(&args);
    assert_ok(&m);
    assert_eq!(
        String::from_utf8_lossy(&m.stdout),
        String::from_utf8_lossy(&a.stdout),
        "the merged report differs"
    );
    let (fa, fm) = (files(&whole), files(&merged));
    for name in ["answer.json", "plans.csv", "pareto.csv"] {
        assert_eq!(
            fa[name], fm[name],
            "{name} differs after merging grid shards"
        );
    }
    let evaluated = |d: &Path| {
        std::fs::read_to_string(d.join("plans.csv"))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(
        evaluated(&whole) as u64,
        1 + Planner::load(&path).unwrap().grid_size(),
        "a grid evaluates every plan"
    );
    // A searched shard with grid shards: refused, naming both.
    let searched = d.join("searched");
    plan_cli(&path, &searched, &["--shard", "1/3"]);
    let o = edgesim(&[
        "plan",
        "merge",
        path.to_str().unwrap(),
        shards[0].to_str().unwrap(),
        searched.to_str().unwrap(),
        "--out",
        d.join("mixed").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("searched")
            && err.contains("evaluated the grid (--grid)")
            && err.contains("run every shard the same way"),
        "{err}"
    );
    assert!(!d.join("mixed").exists(), "nothing is written");
}

#[test]
fn same_bytes_whatever_the_threads_the_shards_and_a_kill() {
    let d = dir("bytes");
    let path = small_plan(&d, GOALS, "");
    let one = d.join("one");
    let two = d.join("two");
    let a = plan_cli(&path, &one, &["--threads", "1"]);
    plan_cli(&path, &two, &["--threads", "2"]);
    assert_eq!(files(&one), files(&two));

    // Shards, merged.
    let (s0, s1, merged) = (d.join("s0"), d.join("s1"), d.join("merged"));
    plan_cli(&path, &s0, &["--shard", "0/2"]);
    plan_cli(&path, &s1, &["--shard", "1/2"]);
    let m = edgesim(&[
        "plan",
        "merge",
        path.to_str().unwrap(),
        s0.to_str().unwrap(),
        s1.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
        "--csv",
    ]);
    assert_ok(&m);
    assert_eq!(m.stdout, a.stdout, "the merged report differs");
    let (fa, fm) = (files(&one), files(&merged));
    for name in ["answer.json", "plans.csv", "pareto.csv", "cheapest.toml"] {
        assert_eq!(fa[name], fm[name], "{name} differs after merging shards");
    }
    // A shard named twice, or an --out that is a shard, is refused.
    for (extra, out, needle) in [(&s0, &merged, "named twice"), (&s1, &s0, "--out is")] {
        let o = edgesim(&[
            "plan",
            "merge",
            path.to_str().unwrap(),
            s0.to_str().unwrap(),
            extra.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(needle), "{err}");
    }

    // A kill: keep the header and a third of the runs, and tear the last line.
    let journal = std::fs::read_to_string(two.join("runs.jsonl")).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    let keep = lines.len() / 3;
    // A run twice, the first line of it another value: the last is the one read and kept.
    let mut other: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    let requests = edgesim::sweep::metrics::index("requests_total").unwrap();
    other["metrics"][requests] = serde_json::json!(1e9);
    let mut cut = format!("{}\n{other}\n", lines[0]) + &lines[1..keep].join("\n") + "\n";
    cut += &lines[keep][..lines[keep].len() / 2];
    // And a line that is not a run, which is named (a torn last line is a kill's, and is not).
    cut = cut.replacen('\n', "\n[1, 2]\n", 1);
    std::fs::write(two.join("runs.jsonl"), cut).unwrap();
    std::fs::remove_file(two.join("answer.json")).unwrap();
    let again = plan_cli(&path, &two, &[]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("from the journal") && !err.contains("simulated 0 runs"),
        "{err}"
    );
    // Named under a head line, as a sweep's are.
    assert!(
        err.contains(
            "warning: runs.jsonl: 1 invalid entry dropped; its run is done again:\n  \
             line 2: not a run record"
        ),
        "{err}"
    );
    assert_eq!(files(&one), files(&two), "resumed folder differs");
}

/// A plan's journal serves a plan of the same runs: one with other goals, board prices, count
/// ranges, replications or search settings reads the runs it holds and simulates only the
/// others, and its folder is the same bytes as that plan searched afresh, but for the journal,
/// which keeps every run (fewer replications leave the others in it, unread and unnamed). A
/// plan of other runs (another slot option) is refused; a journal of an earlier edgesim (no
/// `runs` in its header) serves the same plan only. `plan merge` with such a plan file gives
/// that plan's answer where the shards ran every run its search needs, and says why otherwise.
#[test]
fn a_journal_serves_a_plan_with_other_goals_prices_or_replications() {
    let d = dir("same-runs");
    let first = small_plan(&d, GOALS, "");
    let text = std::fs::read_to_string(&first).unwrap();
    let variant = |name: &str, edits: &[(&str, &str)]| {
        let mut t = text.clone();
        for (from, to) in edits {
            assert!(t.contains(from), "{from}");
            t = t.replacen(from, to, 1);
        }
        let p = d.join(format!("{name}.toml"));
        std::fs::write(&p, t).unwrap();
        p
    };
    let other = variant(
        "other",
        &[
            (
                "max_cloud_usd_per_month = 80",
                "max_cloud_usd_per_month = 200",
            ),
            ("price_usd = 249", "price_usd = 199"),
            ("max_count = 4", "max_count = 5"),
            ("replications = 3", "replications = 4"),
            ("[search]\n", "[search]\nwave = 4\nscreen_margin = 0.3\n"),
        ],
    );
    let fewer = variant("fewer", &[("replications = 3", "replications = 2")]);
    let slots = variant("slots", &[("slots = [1, 2]", "slots = [1, 2, 3]")]);
    let journal_lines = |dir: &Path| -> BTreeSet<String> {
        let t = std::fs::read_to_string(dir.join("runs.jsonl")).unwrap();
        t.lines().skip(1).map(str::to_string).collect()
    };
    // "simulated N runs, M from the journal"
    let counts = |o: &Output| -> (usize, usize) {
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let line = err
            .lines()
            .find(|l| l.starts_with("simulated "))
            .unwrap_or_else(|| panic!("{err}"))
            .to_string();
        let n: Vec<usize> = line
            .split(' ')
            .filter_map(|w| w.replace(',', "").parse().ok())
            .collect();
        (n[0], n[1])
    };
    let without_journal = |dir: &Path| {
        let mut f = files(dir);
        f.remove("runs.jsonl");
        f
    };

    let out = d.join("out");
    let a = plan_cli(&first, &out, &[]);
    assert_eq!(counts(&a).1, 0);
    let runs_a = journal_lines(&out);
    let b = plan_cli(&other, &out, &[]);
    let fresh = plan_cli(&other, &d.join("fresh"), &[]);
    let ((simulated, read), (fresh_simulated, _)) = (counts(&b), counts(&fresh));
    assert!(
        read > 0 && simulated + read == fresh_simulated,
        "{simulated} {read} {fresh_simulated}"
    );
    assert!(!String::from_utf8_lossy(&b.stderr).contains("warning"));
    assert_eq!(b.stdout, fresh.stdout);
    assert_eq!(without_journal(&out), without_journal(&d.join("fresh")));
    let runs_b = journal_lines(&out);
    assert!(runs_b.is_superset(&runs_a) && runs_b.is_superset(&journal_lines(&d.join("fresh"))));

    // Two replications: the third and fourth stay in the journal, and nothing is named.
    let c = plan_cli(&fewer, &out, &[]);
    assert!(
        !String::from_utf8_lossy(&c.stderr).contains("warning"),
        "{}",
        String::from_utf8_lossy(&c.stderr)
    );
    assert!(journal_lines(&out).is_superset(&runs_b));
    assert_eq!(
        c.stdout,
        plan_cli(&fewer, &d.join("fresh-fewer"), &[]).stdout
    );

    // Other runs: refused, the folder untouched.
    let refused = |plan: &Path| {
        let before = files(&out);
        let o = edgesim(&[
            "plan",
            plan.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("holds results of another plan"),
            "{err}"
        );
        assert_eq!(files(&out), before);
    };
    refused(&slots);

    // An earlier edgesim's header, without `runs`: the same plan reads it, another is refused.
    drop_journal_runs_hash(&out.join("runs.jsonl"));
    assert_eq!(counts(&plan_cli(&fewer, &out, &[])).0, 0);
    drop_journal_runs_hash(&out.join("runs.jsonl"));
    refused(&other);

    // Merges of the first plan's shards.
    let (s0, s1) = (d.join("s0"), d.join("s1"));
    plan_cli(&first, &s0, &["--shard", "0/2"]);
    plan_cli(&first, &s1, &["--shard", "1/2"]);
    let merge = |plan: &Path, to: &str| {
        edgesim(&[
            "plan",
            "merge",
            plan.to_str().unwrap(),
            s0.to_str().unwrap(),
            s1.to_str().unwrap(),
            "--out",
            d.join(to).to_str().unwrap(),
        ])
    };
    let m = merge(&fewer, "merged-fewer");
    assert_ok(&m);
    assert_eq!(m.stdout, c.stdout);
    // The merged folder's journal holds the shards' runs, a run once: a search into it (of a
    // plan of the same runs) reads them.
    let merged = d.join("merged-fewer");
    let shard_runs: BTreeSet<String> = journal_lines(&s0)
        .union(&journal_lines(&s1))
        .cloned()
        .collect();
    assert_eq!(journal_lines(&merged), shard_runs);
    let lines = std::fs::read_to_string(merged.join("runs.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, shard_runs.len() + 1);
    let again = plan_cli(&other, &merged, &[]);
    let (simulated, read) = counts(&again);
    assert!(
        read > 0 && simulated + read == fresh_simulated,
        "{simulated} {read}"
    );
    assert_eq!(again.stdout, fresh.stdout);
    assert_eq!(without_journal(&merged), without_journal(&d.join("fresh")));
    let m = merge(&other, "merged-other");
    let err = String::from_utf8_lossy(&m.stderr);
    assert!(
        !m.status.success()
            && err.contains("no shard ran")
            && err.contains("ran a plan file with other goals, prices, count ranges")
            && err.contains("then search this one into the merged folder"),
        "{err}"
    );
    // A merge into a folder whose journal holds other runs is refused, the folder untouched.
    let slots_out = d.join("slots-out");
    plan_cli(&slots, &slots_out, &[]);
    let before = files(&slots_out);
    let m = edgesim(&[
        "plan",
        "merge",
        first.to_str().unwrap(),
        s0.to_str().unwrap(),
        s1.to_str().unwrap(),
        "--out",
        slots_out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&m.stderr);
    assert!(
        !m.status.success()
            && err.contains("holds results of another plan")
            && err.contains("merge into another --out folder or delete it"),
        "{err}"
    );
    assert_eq!(files(&slots_out), before);
}

/// What a plan's runs depend on, and only that, changes `Planner::runs_fingerprint`: each key
/// that only judges, counts or orders runs leaves it as it is (and changes the plan's
/// `fingerprint`); the seed, a type's name, slots, context, outages or profile file, the
/// options searched, the traffic and its load each change it.
#[test]
fn the_runs_fingerprint_follows_what_a_run_depends_on() {
    let d = dir("runs-fingerprint");
    let first = small_plan(&d, GOALS, "");
    // The Nano's profile as a file of the plan's folder, so that it can be changed.
    let nano = root().join("calibration/jetson-orin-nano.toml");
    let profile = std::fs::read_to_string(&nano).unwrap();
    std::fs::write(d.join("nano.toml"), &profile).unwrap();
    let text = std::fs::read_to_string(&first).unwrap().replacen(
        &nano.display().to_string(),
        "nano.toml",
        1,
    );
    std::fs::write(&first, &text).unwrap();
    let base = Planner::load(&first).unwrap();
    let load = |edits: &[(&str, &str)]| {
        let mut t = text.clone();
        for (from, to) in edits {
            assert!(t.contains(from), "{from}");
            t = t.replacen(from, to, 1);
        }
        let p = d.join("variant.toml");
        std::fs::write(&p, t).unwrap();
        Planner::load(&p).unwrap()
    };
    let same_runs: &[&[(&str, &str)]] = &[
        &[(
            "max_cloud_usd_per_month = 80",
            "max_cloud_usd_per_month = 90",
        )],
        &[("[goals]\n", "[goals]\ne2e_p99_ms = 60000\n")],
        &[("replications = 3", "replications = 7")],
        &[("price_usd = 249", "price_usd = 199")],
        &[(
            "max_count = 4",
            "max_count = 6\nmin_count = 1\nlifetime_months = 24",
        )],
        &[("[costs]\n", "[costs]\nelectricity_cents_per_kwh = 40\n")],
        &[(
            "[search]\n",
            "[search]\nmethod = \"grid\"\nwave = 3\nscreen_margin = 0.2\nassume_monotone = true\n",
        )],
        &[("seed = 11", "seed = 11\nload_scale = 1")],
        // The same text but for spacing, comments and the order of keys.
        &[(
            "replications = 3\nseed = 11",
            "# a comment\nseed = 11\nreplications   =   3 # three",
        )],
    ];
    for edits in same_runs {
        let v = load(edits);
        assert_eq!(v.runs_fingerprint, base.runs_fingerprint, "{edits:?}");
    }
    let other_runs: &[&[(&str, &str)]] = &[
        &[("seed = 11", "seed = 12")],
        &[("name = \"agx\"", "name = \"orin\"")],
        &[("slots = [4]", "slots = [4, 8]")],
        &[(
            "queue_capacity = [4]",
            "queue_capacity = [4]\nctx_tokens = 2048",
        )],
        &[(
            "queue_capacity = [4]",
            "queue_capacity = [4]\nrandom_outages = { mtbf_s = 3600, mttr_s = 60 }",
        )],
        &[(
            "policies = [\"load_aware\", \"random\"]",
            "policies = [\"random\", \"load_aware\"]",
        )],
        &[(
            "clouds = [\"none\", \"gpt-4o-mini\"]",
            "clouds = [\"none\", \"gpt-4o\"]",
        )],
        &[("seed = 11", "seed = 11\nload_scale = 1.5")],
    ];
    for edits in other_runs {
        let v = load(edits);
        assert_ne!(v.runs_fingerprint, base.runs_fingerprint, "{edits:?}");
    }
    assert_eq!(load(&[]).fingerprint, base.fingerprint);
    assert_ne!(load(same_runs[0]).fingerprint, base.fingerprint);
    // The traffic, and the profile file.
    let traffic = d.join("traffic.toml");
    let t = std::fs::read_to_string(&traffic).unwrap();
    std::fs::write(
        &traffic,
        t.replacen("duration_s = 900", "duration_s = 899", 1),
    )
    .unwrap();
    assert_ne!(load(&[]).runs_fingerprint, base.runs_fingerprint);
    std::fs::write(&traffic, format!("# a comment\n{t}")).unwrap();
    assert_eq!(load(&[]).runs_fingerprint, base.runs_fingerprint);
    std::fs::write(&traffic, &t).unwrap();
    std::fs::write(d.join("nano.toml"), format!("{profile}\n# recalibrated\n")).unwrap();
    assert_ne!(load(&[]).runs_fingerprint, base.runs_fingerprint);
    std::fs::write(d.join("nano.toml"), &profile).unwrap();
    assert_eq!(load(&[]).runs_fingerprint, base.runs_fingerprint);
}

/// A plan for growth searched in shards: each load's shards merged into `OUT/load-Xx` (a
/// merge's folder keeps the shards' runs in its journal), the growth command reads every
/// load's runs and prints what it prints searched whole.
#[test]
fn a_plan_for_growth_reads_each_load_s_merged_shards() {
    let d = dir("growth-shards");
    let path = small_plan(&d, GOALS, "");
    let root = d.join("root");
    for x in ["1", "2"] {
        let shards: Vec<PathBuf> = (0..2).map(|i| d.join(format!("s-{x}-{i}"))).collect();
        for (i, s) in shards.iter().enumerate() {
            plan_cli(&path, s, &["--load-scale", x, "--shard", &format!("{i}/2")]);
        }
        let m = edgesim(&[
            "plan",
            "merge",
            path.to_str().unwrap(),
            shards[0].to_str().unwrap(),
            shards[1].to_str().unwrap(),
            "--load-scale",
            x,
            "--out",
            root.join(format!("load-{x}x")).to_str().unwrap(),
        ]);
        assert_ok(&m);
    }
    let merged = plan_cli(&path, &root, &["--load-scale", "1,2"]);
    let err = String::from_utf8_lossy(&merged.stderr);
    assert_eq!(err.matches("simulated 0 runs, ").count(), 2, "{err}");
    let whole = plan_cli(&path, &d.join("whole"), &["--load-scale", "1,2"]);
    assert_eq!(merged.stdout, whole.stdout);
}

/// While another command holds a plan's output folder, `plan` and `plan merge` into it are
/// refused before they write anything (sweeps:
/// `sweeps::a_folder_another_sweep_is_writing_is_refused`).
#[test]
fn a_folder_another_plan_is_writing_is_refused() {
    let d = dir("lock");
    let path = small_plan(&d, GOALS, "");
    let (s0, s1, out) = (d.join("s0"), d.join("s1"), d.join("out"));
    plan_cli(&path, &s0, &["--shard", "0/2"]);
    plan_cli(&path, &s1, &["--shard", "1/2"]);
    plan_cli(&path, &out, &["--shard", "0/2"]);
    let before = files(&out);
    let held = hold_folder_lock(&out);
    let (p, o, a, b) = (
        path.to_str().unwrap(),
        out.to_str().unwrap(),
        s0.to_str().unwrap(),
        s1.to_str().unwrap(),
    );
    for args in [
        vec!["plan", p, "--out", o, "--shard", "0/2"],
        vec!["plan", "merge", p, a, b, "--out", o],
    ] {
        assert_refused_as_locked(&edgesim(&args));
    }
    assert_eq!(files(&out), before, "written while held");
    drop(held);
    plan_cli(&path, &out, &["--shard", "0/2"]);
    assert_eq!(files(&s0), files(&out));
}

#[test]
fn an_infeasible_plan_names_the_binding_goal() {
    let d = dir("infeasible");
    let path = small_plan(&d, "ttft_p95_ms = 1", "");
    let pl = Planner::load(&path).unwrap();
    let o = run(&pl, &d.join("out"));
    assert!(o.best.is_none());
    let a = edgesim::plan::output::answer(&pl, &o);
    let why = a.binding.unwrap();
    assert!(why.contains("ttft_p95_ms <= 1"), "{why}");
    let text = edgesim::plan::output::to_text(&pl, &edgesim::plan::output::answer(&pl, &o));
    assert!(text.contains("no plan meets the goals"), "{text}");
    // No cheapest plan to run: none is written, and an earlier answer's is removed.
    let out = d.join("out");
    let earlier = [
        out.join(edgesim::plan::output::CHEAPEST),
        out.join(edgesim::plan::output::EDGE_ONLY),
        out.join("pareto-1.toml"),
        out.join("pareto-12.toml"),
    ];
    // Files of the user's own, whose names are near ours, stay.
    let kept = [out.join("pareto-01.toml"), out.join("pareto-x.toml")];
    for f in earlier.iter().chain(&kept) {
        std::fs::write(f, "# an earlier answer's\n").unwrap();
    }
    let files =
        edgesim::plan::output::write(&out, &pl, &o, &edgesim::output::formats(false)).unwrap();
    for f in &earlier {
        assert!(!f.exists() && !files.contains(f), "{files:?}");
    }
    for f in &kept {
        assert!(f.exists() && !files.contains(f), "{files:?}");
    }
}

/// Runs a plan written as a scenario with the seeds of the small plan's three replications
/// (11, 12, 13): the mean of their TTFT p95 is the plan's (`report`, a plan of answer.json).
/// Returns the three summaries.
fn reproduces_mean_ttft_p95(scenario: &Path, report: &serde_json::Value) -> Vec<serde_json::Value> {
    let summaries: Vec<serde_json::Value> = (11..14)
        .map(|seed: u64| {
            let seed = seed.to_string();
            let o = edgesim(&[
                "run",
                scenario.to_str().unwrap(),
                "--seed",
                &seed,
                "--no-out",
                "--json",
            ]);
            assert_ok(&o);
            serde_json::from_slice(&o.stdout).unwrap()
        })
        .collect();
    let p95: Vec<f64> = summaries
        .iter()
        .map(|s| s["ttft_ms"]["p95"].as_f64().unwrap())
        .collect();
    let mean = p95.iter().sum::<f64>() / 3.0;
    let want = report["ttft_p95_ms"]["mean"].as_f64().unwrap();
    assert!(
        (mean - want).abs() <= 1e-9 * want,
        "{mean} vs the plan's {want} ({p95:?})"
    );
    summaries
}

/// A goal on a request class is judged on that class's requests: on the questions' TTFT p95, a
/// fleet that serves the long reports slowly meets it (the run's TTFT p95, the reports', is
/// over the bound), and is cheaper than the cheapest plan meeting the same bound on every
/// request. The journal keeps each class's metrics: a search again simulates nothing, and a
/// line without them (an earlier edgesim's) is redone.
#[test]
fn a_class_goal_is_judged_on_its_class() {
    let d = dir("class-goal");
    let path = two_class_plan(
        &d,
        "max_reject_share = 0.01\n[goals.classes.question]\nttft_p95_ms = 1500",
    );
    let pl = Planner::load(&path).unwrap();
    assert_eq!(pl.classes, ["question", "report"]);
    let goal = &pl.goals[1];
    assert_eq!(goal.describe(), "question.ttft_p95_ms <= 1500");
    let out = d.join("out");
    let o = run(&pl, &out);
    let best = &o.evaluations[o.best.expect("a plan meets the class goal")];
    let questions = best.stat(|r| r.value(goal)).mean.unwrap();
    let all = best.stat(|r| r.run.ttft_p95_ms).mean.unwrap();
    assert!(questions <= 1500.0 && all > 1500.0, "{questions} {all}");
    let whole_dir = dir("class-goal-whole");
    let whole = Planner::load(&two_class_plan(
        &whole_dir,
        "max_reject_share = 0.01\nttft_p95_ms = 1500",
    ))
    .unwrap();
    let w = run(&whole, &whole_dir.join("out"));
    let wbest = &w.evaluations[w.best.expect("the cloud alone meets it")];
    assert!(
        wbest.cost() > best.cost(),
        "{} {}",
        wbest.cost(),
        best.cost()
    );
    // The journal: two classes of metrics a line.
    let journal = out.join("runs.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), o.runs);
    for l in &lines {
        let classes = l["classes"].as_array().unwrap();
        assert_eq!(classes.len(), 2);
        for c in classes {
            assert_eq!(
                c.as_array().unwrap().len(),
                edgesim::sweep::metrics::CLASS_METRICS.len()
            );
        }
    }
    let again = run(&pl, &out);
    assert_eq!((again.simulated, again.best), (0, o.best));
    // An earlier edgesim's line, without the classes: redone.
    let mut edited: Vec<String> = text.lines().map(str::to_string).collect();
    let mut first: serde_json::Value = serde_json::from_str(&edited[1]).unwrap();
    first.as_object_mut().unwrap().remove("classes");
    edited[1] = first.to_string();
    std::fs::write(&journal, edited.join("\n") + "\n").unwrap();
    let (redo, warnings) = search::search(&pl, &out, None, None, &|_| {}).unwrap();
    assert_eq!(redo.simulated, 1);
    assert!(
        warnings.iter().any(|w| w.starts_with("line 2: ")
            && w.ends_with(&format!(
                "{} metrics and 0 classes do not match the plan",
                edgesim::sweep::metrics::METRICS.len()
            ))),
        "{warnings:?}"
    );
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), text);
    // A journal of an edgesim before class goals: its header's metric set has no class part,
    // and every run is redone.
    let mut header: serde_json::Value = serde_json::from_str(&edited[0]).unwrap();
    let set = header["metrics"].as_str().unwrap().to_string();
    let (runs_only, _) = set.split_once('+').unwrap();
    header["metrics"] = runs_only.into();
    edited[0] = header.to_string();
    std::fs::write(&journal, edited.join("\n") + "\n").unwrap();
    let (redo, warnings) = search::search(&pl, &out, None, None, &|_| {}).unwrap();
    assert_eq!(redo.simulated, o.runs);
    assert!(
        warnings[0].contains("recorded with another set of metrics"),
        "{warnings:?}"
    );
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), text);
}

/// The shipped assistant plan (goals on its two request classes): Orin Nano Supers with the
/// cloud as a fallback meet them for less than the cloud alone, as the README says.
#[test]
fn the_shipped_assistant_plan_finds_boards_cheaper_than_the_cloud() {
    let d = dir("assistant");
    let pl = Planner::load(&shipped("plans/assistant.toml")).unwrap();
    let names: Vec<String> = pl.goals.iter().map(|g| g.name()).collect();
    assert_eq!(
        names,
        [
            "max_reject_share",
            "question.ttft_p95_ms",
            "summary.e2e_p95_ms"
        ]
    );
    let o = run(&pl, &d.join("out"));
    let best = &o.evaluations[o.best.unwrap()];
    let cloud = &o.evaluations[o.cloud_only[0]];
    assert!(cloud.feasible);
    assert!(best.point.counts[0] > 0, "{}", pl.describe(&best.point));
    assert!(
        best.cost() < 0.75 * cloud.cost(),
        "{} {}",
        best.cost(),
        cloud.cost()
    );
}

/// The answer gives the cheapest plan's value of each class goal, which its scenario reproduces
/// (the mean of the question class's TTFT p95 over the three seeds), in the report and in a
/// column of the plans table.
#[test]
fn a_class_goals_value_is_reported_and_reproduced() {
    let d = dir("class-answer");
    let path = two_class_plan(&d, "[goals.classes.question]\nttft_p95_ms = 1500");
    let out = d.join("out");
    let o = plan_cli(&path, &out, &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("    by class: question.ttft_p95_ms "),
        "{text}"
    );
    let answer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("answer.json")).unwrap()).unwrap();
    let g = &answer["cheapest"]["class_goals"][0];
    assert_eq!(g["goal"], "question.ttft_p95_ms <= 1500");
    assert_eq!(g["quantity"], "question.ttft_p95_ms");
    let want = g["value"]["mean"].as_f64().unwrap();
    let p95: Vec<f64> = (11..14u64)
        .map(|seed| {
            let o = edgesim(&[
                "run",
                out.join("cheapest.toml").to_str().unwrap(),
                "--seed",
                &seed.to_string(),
                "--no-out",
                "--json",
            ]);
            assert_ok(&o);
            let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(s["classes"][0]["name"], "question");
            s["classes"][0]["ttft_ms"]["p95"].as_f64().unwrap()
        })
        .collect();
    let mean = p95.iter().sum::<f64>() / 3.0;
    assert!((mean - want).abs() <= 1e-9 * want, "{mean} vs {want}");
    assert!(answer["cloud_only"][0]["class_goals"].is_array());
    let plans = std::fs::read_to_string(out.join("plans.csv")).unwrap();
    let header = plans.lines().next().unwrap();
    assert!(
        header.ends_with(",question.ttft_p95_ms,question.ttft_p95_ms_ci95"),
        "{header}"
    );
}

/// `cheapest.toml` is the cheapest plan as a scenario: run with the seed of each replication,
/// it gives the runs the plan judged (the mean TTFT p95 of the answer, the plan's
/// description), with the name `PLAN-cheapest`.
#[test]
fn the_cheapest_plan_is_a_scenario_that_reproduces_its_runs() {
    let d = dir("cheapest");
    let path = small_plan(&d, GOALS, "");
    let out = d.join("out");
    let o = plan_cli(&path, &out, &[]);
    let scenario = out.join("cheapest.toml");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "the cheapest plan as a scenario: edgesim run {}",
            scenario.display()
        )),
        "{err}"
    );
    let answer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("answer.json")).unwrap()).unwrap();
    let cheapest = &answer["cheapest"];
    let text = std::fs::read_to_string(&scenario).unwrap();
    let plan = cheapest["plan"].as_str().unwrap();
    assert!(
        text.contains(&format!("description = \"{plan}\"")),
        "{text}"
    );
    assert!(text.contains("name = \"small-cheapest\"\n"), "{text}");
    assert!(text.contains("\nseed = 11\n"), "{text}");
    assert_eq!(cheapest["runs"].as_u64(), Some(3));
    let summaries = reproduces_mean_ttft_p95(&scenario, cheapest);
    assert!(summaries.iter().all(|s| s["scenario"] == "small-cheapest"));
    // The edge-only baseline likewise, in `edge-only.toml` (here the goals allow none: with
    // rejects up to half, some fleet without a cloud meets them): no request reaches a cloud.
    assert!(!out.join("edge-only.toml").exists());
    let loose = dir("cheapest-edge-only");
    let out = loose.join("out");
    let o = plan_cli(&small_plan(&loose, "max_reject_share = 0.5", ""), &out, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    let answer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("answer.json")).unwrap()).unwrap();
    let edge = &answer["edge_only"];
    assert!(edge.is_object(), "{answer}");
    let scenario = out.join("edge-only.toml");
    assert!(
        err.contains(&format!(
            "the cheapest plan without a cloud as a scenario: edgesim run {}",
            scenario.display()
        )),
        "{err}"
    );
    let text = std::fs::read_to_string(&scenario).unwrap();
    assert!(text.contains("name = \"small-edge-only\"\n"), "{text}");
    let summaries = reproduces_mean_ttft_p95(&scenario, edge);
    assert!(summaries.iter().all(|s| s["served_cloud"] == 0));
    // Each plan of the Pareto front likewise, in `pareto-K.toml` (cheapest first, answer.json's
    // `pareto[K - 1]`, the `pareto` table's row K with its `scenario` column).
    let front = answer["pareto"].as_array().unwrap();
    assert!(front.len() >= 2, "{answer}");
    let table = std::fs::read_to_string(out.join("pareto.csv")).unwrap();
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].ends_with(",scenario"), "{}", rows[0]);
    assert_eq!(rows.len(), front.len() + 1);
    for (k, p) in front.iter().enumerate() {
        let file = format!("pareto-{}.toml", k + 1);
        assert!(
            rows[k + 1].ends_with(&format!(",{file}")),
            "{}",
            rows[k + 1]
        );
        let scenario = out.join(&file);
        let text = std::fs::read_to_string(&scenario).unwrap();
        let plan = p["plan"].as_str().unwrap();
        assert!(
            text.contains(&format!("description = \"{plan}\"")),
            "{text}"
        );
        assert!(
            text.starts_with(&format!("# answer.json's `pareto[{k}]` of `edgesim plan ")),
            "{text}"
        );
        let name = format!("small-pareto-{}", k + 1);
        let summaries = reproduces_mean_ttft_p95(&scenario, p);
        assert!(summaries.iter().all(|s| s["scenario"] == name.as_str()));
    }
    assert!(
        err.contains(&format!(
            "the Pareto front's {} plans as scenarios: {} to pareto-{}.toml",
            front.len(),
            out.join("pareto-1.toml").display(),
            front.len()
        )),
        "{err}"
    );
    assert!(
        !out.join(format!("pareto-{}.toml", front.len() + 1))
            .exists()
    );
    // The printed report lists the front, numbered as the files.
    let report = String::from_utf8_lossy(&o.stdout);
    for (k, p) in front.iter().enumerate().take(10) {
        let line = report
            .lines()
            .find(|l| l.starts_with(&format!("  {}. $", k + 1)))
            .unwrap_or_else(|| panic!("{report}"));
        assert!(line.ends_with(p["plan"].as_str().unwrap()), "{line}");
    }
    // A plan file whose path holds a line break: the header's comment lines stay comments.
    let odd = d.join("line\nbreak");
    std::fs::create_dir(&odd).unwrap();
    std::fs::copy(&path, odd.join("plan.toml")).unwrap();
    plan_cli(&odd.join("plan.toml"), &odd.join("out"), &[]);
    let o = edgesim(&[
        "run",
        odd.join("out/cheapest.toml").to_str().unwrap(),
        "--no-out",
        "--json",
    ]);
    assert_ok(&o);
}

#[test]
fn with_assume_monotone_the_search_bisects() {
    let d = dir("monotone");
    // Without a cloud, more boards never raise rejections.
    let path = small_plan(&d, "max_reject_share = 0.05", "");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "clouds = [\"none\", \"gpt-4o-mini\"]",
            "clouds = [\"none\"]",
        )
        .replace("max_count = 4", "max_count = 16");
    std::fs::write(&path, &text).unwrap();
    let exact = run(&Planner::load(&path).unwrap(), &d.join("exact"));
    std::fs::write(
        &path,
        text.replace("[search]", "[search]\nassume_monotone = true"),
    )
    .unwrap();
    let pl = Planner::load(&path).unwrap();
    let bisect = run(&pl, &d.join("bisect"));
    let (a, b) = (
        &exact.evaluations[exact.best.unwrap()],
        &bisect.evaluations[bisect.best.unwrap()],
    );
    assert_eq!(a.point, b.point);
    assert!(bisect.evaluations.len() <= exact.evaluations.len());
}

/// Boards of a type can fail, as a device group's (`types[].outages`, `random_outages`): a
/// plan then judges each fleet with its failures. The AGX Orins of the small plan, the boards
/// of its cheapest answer, are down the whole run here: that fleet now misses the goals, and
/// so does every other (Nanos alone cannot meet them within 4 boards and $80 of cloud a
/// month; the search says so). Random failures reach the scenario of every point, and bad
/// outage settings are refused naming the type's key.
#[test]
fn boards_that_fail_change_the_cheapest_fleet() {
    let d = dir("failing");
    let pl = Planner::load(&small_plan(&d, GOALS, "")).unwrap();
    let healthy = run(&pl, &d.join("healthy"));
    let healthy = &healthy.evaluations[healthy.best.expect("a plan meets the goals")];
    assert!(
        healthy.point.counts[1] > 0,
        "{}",
        pl.describe(&healthy.point)
    );

    let path = small_plan(&d, GOALS, "");
    let text = std::fs::read_to_string(&path).unwrap();
    let with =
        |extra: &str| text.replacen("max_count = 3\n", &format!("max_count = 3\n{extra}\n"), 1);
    std::fs::write(&path, with("outages = [{ start_s = 0, duration_s = 1e6 }]")).unwrap();
    let dead = Planner::load(&path).unwrap();
    let failing = run(&dead, &d.join("dead"));
    assert_eq!(
        failing.best,
        None,
        "{}",
        dead.describe(&failing.evaluations[0].point)
    );
    // The healthy answer's fleet, its AGX Orins now down: it misses the goals.
    let same = failing
        .evaluations
        .iter()
        .find(|e| e.point == healthy.point)
        .expect("the search evaluated the healthy answer");
    assert!(!same.feasible);

    std::fs::write(
        &path,
        with("random_outages = { mtbf_s = 3600, mttr_s = 600 }"),
    )
    .unwrap();
    let random = Planner::load(&path).unwrap();
    let sc = random.scenario_at(&healthy.point, 1).unwrap();
    let agx = sc.fleet.iter().find(|g| g.name == "agx").unwrap();
    assert!(agx.outages.any() && sc.fleet.iter().filter(|g| g.outages.any()).count() == 1);
    assert!(sc.resolved_toml().contains("mtbf_s = 3600"));

    for (extra, key) in [
        (
            "random_outages = { mtbf_s = 0, mttr_s = 600 }",
            "types[1].random_outages.mtbf_s",
        ),
        (
            "outages = [{ start_s = 0, duration_s = -1 }]",
            "types[1].outages[0].duration_s",
        ),
        ("random_outages = { mtbf_s = 1, mttr_s = 1, x = 1 }", "x"),
    ] {
        std::fs::write(&path, with(extra)).unwrap();
        let e = Planner::load(&path).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains("plan.toml"), "{extra}: {e}");
    }
}

fn rejected(text_edit: impl Fn(String) -> String, needles: &[&str]) {
    let d = dir("bad");
    let path = small_plan(&d, GOALS, "");
    let text = text_edit(std::fs::read_to_string(&path).unwrap());
    std::fs::write(&path, &text).unwrap();
    let e = Planner::load(&path).unwrap_err().to_string();
    for n in needles {
        assert!(e.contains(n), "expected {n:?} in: {e}");
    }
    let o = edgesim(&[
        "plan",
        path.to_str().unwrap(),
        "--out",
        d.join("o").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bad_plan_files_are_rejected_before_any_run() {
    rejected(
        |t| t.replace("ttft_p95_ms = 2500", "ttft_p95_ms = -5"),
        &["plan.toml", "goals.ttft_p95_ms", "-5", "> 0"],
    );
    // A latency goal of 0 ms no run can meet: refused, where it searched every plan and
    // reported that none met it. Cloud fees bounded at 0 (no cloud) stay allowed.
    rejected(
        |t| t.replace("ttft_p95_ms = 2500", "ttft_p95_ms = 0"),
        &["goals.ttft_p95_ms", "= 0", "finite number > 0"],
    );
    rejected(
        |t| t.replace("max_reject_share = 0.01", "max_reject_share = 3"),
        &["goals.max_reject_share", "[0, 1]"],
    );
    // Goals on a request class: the scenario's (its only class is `default`), at least one,
    // the class's keys only.
    rejected(
        |t| t + "[goals.classes.question]\nttft_p95_ms = 100\n",
        &[
            "`goals.classes.question` = question",
            "workload.classes has no class of that name; its classes: default",
        ],
    );
    rejected(
        |t| t + "[goals.classes.default]\n",
        &[
            "`goals.classes.default`",
            "give at least one goal: ttft_p95_ms,",
        ],
    );
    rejected(
        |t| t + "[goals.classes.default]\nttft_p50_ms = 3\n",
        &["unknown field `ttft_p50_ms`"],
    );
    rejected(
        |t| t + "[goals.classes.default.classes.x]\nttft_p95_ms = 3\n",
        &[
            "`goals.classes.default.classes`",
            "give classes' goals in goals.classes",
        ],
    );
    rejected(
        |t| t + "[goals.classes.default]\ne2e_p99_ms = 0\n",
        &[
            "`goals.classes.default.e2e_p99_ms` = 0",
            "finite number > 0",
        ],
    );
    rejected(
        |t| t.replace("max_count = 4", "max_count = 4\nmin_count = 9"),
        &["types[0].max_count", "min_count = 9"],
    );
    // A model the second type's profile has no calibration for is named after that type
    // (it was named after the first, tried with every type's boards).
    rejected(
        |t| {
            let at = t.find("name = \"agx\"").unwrap();
            let (a, b) = t.split_at(at);
            format!(
                "{a}{}",
                b.replacen("model = \"qwen2.5-3b\"", "model = \"llama-70b\"", 1)
            )
        },
        &[
            "plan.toml: types[1]: this option gives an invalid scenario",
            "llama-70b",
        ],
    );
    rejected(
        |t| t.replace("price_usd = 249", "price_usd = -1"),
        &["types[0].price_usd"],
    );
    // A type named as a board of another ("nano-2": the boards of "nano" are nano-1 ..
    // nano-4) stopped the search at the first fleet holding both, with an error of the
    // traffic scenario's `devices[1].name`. "nano-5" (beyond its max_count) and "nano-02" are
    // fine.
    rejected(
        |t| t.replace("name = \"agx\"", "name = \"nano-2\""),
        &[
            "`types[1].name` = \"nano-2\"",
            "boards of type \"nano\" nano-1 .. nano-4",
        ],
    );
    for name in ["nano-5", "nano-02"] {
        let d = dir("board-names");
        let path = small_plan(&d, GOALS, "");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("name = \"agx\"", &format!("name = \"{name}\""));
        std::fs::write(&path, text).unwrap();
        Planner::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // Prices are bounded: 1e300 made every cost of the plan infinite.
    rejected(
        |t| t.replace("price_usd = 249", "price_usd = 1e300"),
        &["types[0].price_usd` = 1e300", "from 0 to 10000000 USD"],
    );
    // The routing options: a table each, set over the scenario's [routing], checked as it is.
    let routings = |list: &'static str| {
        move |t: String| {
            t.replace(
                "clouds = [\"none\", \"gpt-4o-mini\"]\n",
                &format!("clouds = [\"none\", \"gpt-4o-mini\"]\nroutings = {list}\n"),
            )
        }
    };
    rejected(
        routings("[]"),
        &[
            "`search.routings` = []",
            "leave the key out",
            "the scenario's [routing]",
        ],
    );
    rejected(
        routings("[\"fast\"]"),
        &[
            "search.routings[0]",
            "\"fast\"",
            "expected a table of [routing] keys",
        ],
    );
    rejected(
        routings("[{}, { max_predicted_wait_ms = -1 }]"),
        &["search.routings[1]", "max_predicted_wait_ms", "-1"],
    );
    rejected(routings("[{ hops = 2 }]"), &["search.routings[0]", "hops"]);
    // The traffic's [routing] has max_attempts = 2 already.
    rejected(
        routings("[{}, { max_attempts = 2 }]"),
        &[
            "search.routings[1]",
            "{ max_attempts = 2 }",
            "repeated option",
        ],
    );
    rejected(
        |t| {
            t.replace(
                "traffic_hours_per_month = 360",
                "traffic_hours_per_month = 360\nelectricity_cents_per_kwh = 1e300",
            )
        },
        &[
            "costs.electricity_cents_per_kwh` = 1e300",
            "US cents per kWh",
        ],
    );
    rejected(
        |t| t.replace("slots = [1, 2]", "slots = [2, 2]"),
        &["types[0].slots[1]", "repeated"],
    );
    rejected(
        |t| t.replace("\"random\"]", "\"fastest\"]"),
        &["search.policies[1]", "fastest"],
    );
    // The first option of a list is named after its list, not after the first board type
    // (with which the types are tried).
    rejected(
        |t| t.replace("[\"load_aware\", \"random\"]", "[\"fastest\", \"random\"]"),
        &["search.policies[0]", "fastest"],
    );
    rejected(
        |t| t.replace("\"gpt-4o-mini\"]", "\"gpt-17\"]"),
        &["search.clouds[1]", "gpt-17"],
    );
    // An empty list searched the default in silence: `policies = []` ran the scenario's
    // policy. Each of the three lists is refused empty, saying what leaving it out gives.
    for (line, key, default) in [
        ("policies = [", "search.policies", "the scenario's"),
        ("rate_limits = [", "search.rate_limits", "the scenario's"),
        (
            "clouds = [",
            "search.clouds",
            "\"none\" and the scenario's cloud",
        ),
    ] {
        rejected(
            |t| {
                t.lines()
                    .map(|l| {
                        if l.starts_with(line) {
                            format!("{line}]")
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            },
            &[&format!("`{key}` = []"), "leave the key out", default],
        );
    }
    rejected(
        |t| {
            t.replace(
                "traffic_hours_per_month = 360",
                "traffic_hours_per_month = 800",
            )
        },
        &["costs.traffic_hours_per_month", "800"],
    );
    rejected(
        |t| t.replace("[goals]", "[goals]\nlatency = 3"),
        &["plan.toml", "latency"],
    );
    rejected(|t| t.replace(GOALS, ""), &["goals", "at least one goal"]);
    // One option written twice: `"random"` and `{ kind = "random" }`, or a setting as 4 and
    // 4.0 (an integer equal to a float); shown inline, not as a `[v]` section.
    rejected(
        |t| t.replace("\"random\"]", "{ kind = \"load_aware\" }]"),
        &[
            "search.policies[1]",
            "{ kind = \"load_aware\" }",
            "repeated option",
        ],
    );
    rejected(
        |t| {
            t.replace(
                "{ kind = \"concurrency\", limit = 4 }]",
                "{ kind = \"sliding_window\", window_s = 60, limit = 4 }, \
                 { limit = 4, kind = \"sliding_window\", window_s = 60.0 }]",
            )
        },
        &[
            "search.rate_limits[2]",
            "window_s = 60.0 }",
            "repeated option",
        ],
    );
    // Written differently, one setting once the defaults are filled in.
    rejected(
        |t| {
            t.replace(
                "\"random\"]",
                "{ kind = \"load_aware\", load_report_interval_ms = 0 }]",
            )
        },
        &[
            "search.policies[1]",
            "the same setting as `search.policies[0]` (load_aware) once the defaults are filled in",
        ],
    );
    rejected(
        |t| {
            t.replace(
                "[search]",
                "[search]\nroutings = [{}, { queue_timeout_ms = 0 }]",
            )
        },
        &[
            "`search.routings[1]` = queue_timeout_ms=0",
            "the same setting as `search.routings[0]` (the scenario's)",
        ],
    );
}

#[test]
fn a_cloud_only_scenario_sends_everything_to_the_cloud() {
    let sc = scenario(
        r#"
name = "c"
seed = 1
duration_s = 600
[workload]
kind = "poisson"
rate_rps = 1.0
prompt_tokens = { dist = "fixed", value = 100 }
output_tokens = { dist = "fixed", value = 100 }
[cloud]
model = "gpt-4o-mini"
"#,
    );
    let s = edgesim::sim::run(&sc).unwrap();
    assert!(s.requests_total > 400);
    assert_eq!(s.served_cloud, s.requests_total);
    assert_eq!((s.served_edge, s.rejected, s.oversized), (0, 0, 0));
    assert_eq!(s.edge_energy_j.to_bits(), 0.0f64.to_bits());
    for kind in [
        "random",
        "weighted",
        "round_robin",
        "power_of_two",
        "load_aware",
    ] {
        let sc2 = scenario(&format!(
            "name = \"c\"\nseed = 1\nduration_s = 600\n[workload]\nkind = \"poisson\"\n\
             rate_rps = 1.0\nprompt_tokens = {{ dist = \"fixed\", value = 100 }}\noutput_tokens = {{ dist = \"fixed\", value = 100 }}\n[selection]\nkind = \"{kind}\"\n[cloud]\nmodel = \"gpt-4o-mini\"\n"
        ));
        assert_eq!(
            edgesim::sim::run(&sc2).unwrap().served_cloud,
            s.requests_total,
            "{kind}"
        );
    }
    // Without a cloud, an empty fleet is an error naming the key.
    let e = edgesim::scenario::Scenario::from_str_at(
        "name = \"c\"\nduration_s = 60\n[workload]\nkind = \"poisson\"\nrate_rps = 1\n\
         prompt_tokens = { dist = \"fixed\", value = 100 }\n\
         output_tokens = { dist = \"fixed\", value = 100 }\n[cloud]\nenabled = false\n",
        &root().join("tests/inline.toml"),
        &edgesim::scenario::LoadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("devices") && e.contains("cloud is disabled"),
        "{e}"
    );
}

/// A search holds each run's values in memory, so the runs one plan may hold are bounded like
/// a sweep's: a grid search over the bound is refused before any run (folder untouched), and
/// a branch-and-bound search stops with the same error when it reaches the bound.
#[test]
fn a_search_over_its_run_bound_is_refused() {
    let d = dir("bound");
    let path = small_plan(&d, GOALS, "");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("replications = 3", "replications = 100000");
    std::fs::write(&path, text).unwrap();
    let pl = Planner::load(&path).unwrap();
    let runs = pl.grid_size() * 100_000;
    assert!(runs > pl.max_runs, "{runs}");
    let out = d.join("grid");
    let o = edgesim(&[
        "plan",
        "--grid",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`replications` = 100000")
            && err.contains(&format!("a grid search makes {runs} runs"))
            && err.contains("the most one plan may hold"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written");
    // Branch and bound: stops at the bound (here 5 runs) instead of running on.
    let mut small = pl.clone();
    small.max_runs = 5;
    let e = search::search(&small, &d.join("bb"), None, Some(1), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("the search reached 5 runs"), "{e}");
    let journal = std::fs::read_to_string(d.join("bb/runs.jsonl")).unwrap();
    assert_eq!(
        journal.lines().count(),
        1 + 5,
        "header and the runs made: {journal}"
    );
}

/// A class served by some board types only (`devices` in the scenario names plan types): a
/// candidate fleet without boards of them serves it in the cloud, one with them on those
/// boards alone; a name that is no type of the plan is refused when the plan is loaded.
#[test]
fn a_class_on_some_board_types_follows_each_candidate_fleet() {
    let d = dir("class-devices");
    let path = two_class_plan(&d, GOALS);
    let traffic = d.join("traffic.toml");
    let t = std::fs::read_to_string(&traffic).unwrap();
    let restricted = t.replace(
        "name = \"report\"\n",
        "name = \"report\"\ndevices = [\"agx\"]\n",
    );
    assert_ne!(restricted, t);
    std::fs::write(&traffic, restricted).unwrap();
    let pl = Planner::load(&path).unwrap();
    let point = |nano: u32, agx: u32| edgesim::plan::Point {
        counts: vec![nano, agx],
        slots: vec![0, 0],
        queue: vec![0, 0],
        policy: 0,
        rate_limit: 0,
        routing: 0,
        cloud: 1,
    };
    let sc = pl.scenario_at(&point(2, 0), 11).unwrap();
    assert_eq!(sc.classes()[1].devices, Some(Vec::new()));
    let s = edgesim::sim::run(&sc).unwrap();
    let report = &s.classes.as_ref().unwrap()[1];
    assert!(report.requests > 0);
    assert_eq!(report.served_edge, 0);
    let sc = pl.scenario_at(&point(2, 1), 11).unwrap();
    let s = edgesim::sim::run(&sc).unwrap();
    let classes = s.classes.as_ref().unwrap();
    let on = |prefix: &str| -> u64 {
        s.devices
            .iter()
            .filter(|x| x.name.starts_with(prefix))
            .map(|x| x.served)
            .sum()
    };
    assert!(classes[1].served_edge > 0);
    assert!(on("agx") >= classes[1].served_edge);
    assert!(on("nano") <= classes[0].served_edge);
    // The plan's types renamed: the scenario's class names no type.
    let plan = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, plan.replace("name = \"agx\"", "name = \"orin\"")).unwrap();
    let err = Planner::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("`workload.classes[1].devices[0]` = \"agx\": names no type of the plan")
            && err.ends_with("the types are \"nano\", \"orin\""),
        "{err}"
    );
}

/// A goal on the worst window of time: the small plan's traffic in windows of a minute (its
/// rush is a few minutes of fifteen). "TTFT p95 within 2.5 s in every minute" is stricter than
/// over the run (a run is the mixture of its windows: its p95 is at most the worst window's),
/// so its cheapest plan costs at least as much, and meets the run's goal too; the answer and
/// the plans table give the window quantity. Without `[metrics] window_s`, or on a class, the
/// goal is refused.
#[test]
fn a_window_goal_is_judged_on_the_worst_window() {
    let with_windows = |d: &Path, goals: &str| {
        let p = small_plan(d, goals, "");
        let traffic = d.join("traffic.toml");
        let t = std::fs::read_to_string(&traffic).unwrap();
        std::fs::write(&traffic, t + "\n[metrics]\nwindow_s = 60\n").unwrap();
        p
    };
    let d = dir("window-goal");
    let pl = Planner::load(&with_windows(
        &d,
        "max_reject_share = 0.01\nworst_window_ttft_p95_ms = 2500",
    ))
    .unwrap();
    let goal = pl.goals[1].clone();
    assert_eq!(goal.describe(), "worst_window_ttft_p95_ms <= 2500");
    let out = d.join("out");
    let o = run(&pl, &out);
    let best = &o.evaluations[o.best.expect("a plan meets the window goal")];
    let worst = best.stat(|r| r.value(&goal)).mean.unwrap();
    let all = best.stat(|r| r.run.ttft_p95_ms).mean.unwrap();
    assert!(worst <= 2500.0 && all <= worst, "{worst} {all}");
    for e in &o.evaluations {
        for r in &e.runs {
            let (w, a) = (r.value(&goal).unwrap(), r.run.ttft_p95_ms.unwrap());
            assert!(w >= a * (1.0 - 1.0 / 128.0), "{w} < {a}");
        }
    }
    let whole_dir = dir("window-goal-whole");
    let whole = Planner::load(&with_windows(
        &whole_dir,
        "max_reject_share = 0.01\nttft_p95_ms = 2500",
    ))
    .unwrap();
    let w = run(&whole, &whole_dir.join("out"));
    let wbest = &w.evaluations[w.best.expect("a plan meets the run's goal")];
    // At most as much in general; here less: the cloud alone meets the run's p95, not the
    // rush minute's, and the window goal adds an AGX Orin.
    assert!(
        wbest.cost() < best.cost(),
        "{} {}",
        wbest.cost(),
        best.cost()
    );
    // The command line, on the search's journal: the answer, the report and the tables.
    let cli = plan_cli(&d.join("plan.toml"), &out, &[]);
    let text = String::from_utf8_lossy(&cli.stdout);
    assert!(
        text.contains("windows: worst_window_ttft_p95_ms "),
        "{text}"
    );
    let answer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("answer.json")).unwrap()).unwrap();
    let goals = &answer["cheapest"]["window_goals"];
    assert_eq!(goals[0]["quantity"], "worst_window_ttft_p95_ms", "{answer}");
    assert!(goals[0]["value"]["mean"].as_f64().unwrap() <= 2500.0);
    let plans = std::fs::read_to_string(out.join("plans.csv")).unwrap();
    let header = plans.lines().next().unwrap();
    assert!(
        header.contains(",worst_window_ttft_p95_ms,worst_window_ttft_p95_ms_ci95"),
        "{header}"
    );
    // Refused without windows, on the run and on a class.
    let plain = dir("window-goal-plain");
    let err = Planner::load(&small_plan(&plain, "worst_window_ttft_p95_ms = 2500", ""))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("goals.worst_window_ttft_p95_ms") && err.contains("window_s"),
        "{err}"
    );
    let class = dir("window-goal-class");
    let err = Planner::load(&two_class_plan(
        &class,
        "max_reject_share = 0.01\n[goals.classes.question]\nworst_window_ttft_p95_ms = 2500",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("goals.classes.question.worst_window_ttft_p95_ms")
            && err.contains("has no windows"),
        "{err}"
    );
}

/// A goal on a class's worst window is judged on that class's requests in each window: the
/// two-class plan in windows of a minute, "the questions' TTFT p95 within 2.5 s in every
/// minute". On every evaluated run the questions' worst window is at least their p95 over
/// the run (the run is the mixture of its windows), so the cheapest plan costs at least what
/// the same bound over the run costs. The answer reports it among the class goals, the plans
/// table gives its column, and `cheapest.toml` run with the replications' seeds gives the
/// same mean.
#[test]
fn a_class_window_goal_is_judged_on_the_class_worst_window() {
    let d = dir("class-window-goal");
    let path = two_class_plan(
        &d,
        "max_reject_share = 0.01\n[goals.classes.question]\nworst_window_ttft_p95_ms = 2500",
    );
    let traffic = d.join("traffic.toml");
    let t = std::fs::read_to_string(&traffic).unwrap();
    std::fs::write(&traffic, t + "\n[metrics]\nwindow_s = 60\n").unwrap();
    let pl = Planner::load(&path).unwrap();
    let goal = pl.goals[1].clone();
    assert_eq!(goal.describe(), "question.worst_window_ttft_p95_ms <= 2500");
    assert_eq!(goal.column(), "question.worst_window_ttft_p95_ms");
    let out = d.join("out");
    let o = run(&pl, &out);
    let best = &o.evaluations[o.best.expect("a plan meets the class's window goal")];
    assert!(best.stat(|r| r.value(&goal)).mean.unwrap() <= 2500.0);
    let mut above = 0;
    for e in &o.evaluations {
        for r in &e.runs {
            let w = r.value(&goal).unwrap();
            let a = r.classes[0].ttft_p95_ms.unwrap();
            assert!(w >= a * (1.0 - 1.0 / 128.0), "{w} < {a}");
            above += usize::from(w > a);
        }
    }
    assert!(above > 0, "some minute is slower than the run");
    // The same bound on the questions over the run: met by a plan at most as dear; here
    // cheaper (two AGX Orins with GPT-4o mini over the run, a third for every minute).
    let run_dir = dir("class-window-goal-run");
    let over_run = Planner::load(&two_class_plan(
        &run_dir,
        "max_reject_share = 0.01\n[goals.classes.question]\nttft_p95_ms = 2500",
    ))
    .unwrap();
    let r = run(&over_run, &run_dir.join("out"));
    let rbest = &r.evaluations[r.best.expect("a plan meets the class goal")];
    assert!(
        rbest.cost() < best.cost(),
        "{} {}",
        rbest.cost(),
        best.cost()
    );
    assert_eq!(
        (rbest.point.counts[1] + 1, best.point.counts[1]),
        (3, 3),
        "{} / {}",
        over_run.describe(&rbest.point),
        pl.describe(&best.point)
    );
    // The command line, on the search's journal: the answer, the report and the tables.
    let cli = plan_cli(&path, &out, &[]);
    let text = String::from_utf8_lossy(&cli.stdout);
    assert!(
        text.contains("by class: question.worst_window_ttft_p95_ms "),
        "{text}"
    );
    let answer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("answer.json")).unwrap()).unwrap();
    let cheapest = &answer["cheapest"];
    assert!(cheapest.get("window_goals").is_none(), "{answer}");
    let g = &cheapest["class_goals"][0];
    assert_eq!(
        g["quantity"], "question.worst_window_ttft_p95_ms",
        "{answer}"
    );
    let plans = std::fs::read_to_string(out.join("plans.csv")).unwrap();
    let header = plans.lines().next().unwrap();
    assert!(
        header
            .contains(",question.worst_window_ttft_p95_ms,question.worst_window_ttft_p95_ms_ci95"),
        "{header}"
    );
    let summaries = reproduces_mean_ttft_p95(&out.join("cheapest.toml"), cheapest);
    let worst: Vec<f64> = summaries
        .iter()
        .map(|s| {
            s["classes"][0]["windows"]["worst"]["ttft_p95_ms"]["value"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let mean = worst.iter().sum::<f64>() / 3.0;
    let want = g["value"]["mean"].as_f64().unwrap();
    assert!((mean - want).abs() <= 1e-9 * want, "{mean} vs {want}");
}

/// `load_scale` searches the traffic scenario at its load times the scale, as `edgesim
/// capacity` scales it: the small plan at twice its load is the small plan whose traffic file
/// says twice the rates (a bursty workload's base and burst rates), plan for plan and cost for
/// cost; `--load-scale` does what the key does; the answer and the report say the load, and
/// `cheapest.toml` holds the scaled rates. A journal of one scale is not resumed at another.
/// A plan whose replications simulate more than 10^9 requests together warns before it
/// starts, with what they simulate; the same plan at its own load does not.
#[test]
fn a_plan_of_very_many_requests_warns() {
    let d = dir("size-warning");
    let path = small_plan(&d, "ttft_p95_ms = 2500", "");
    let one = Planner::load(&path).unwrap();
    assert_eq!(one.size_warning(), None);
    let big = Planner::load_scaled(&path, Some(1e6)).unwrap();
    let per_plan = big.requests_per_run * f64::from(big.replications);
    assert!(per_plan > edgesim::plan::LARGE_PLAN_REQUESTS, "{per_plan}");
    let w = big.size_warning().expect("a warning");
    for needle in [
        format!("each plan's {} replications", big.replications),
        format!("about {per_plan:.2e} requests together"),
        format!(
            "({:.2e} a run, at 1000000x the scenario's load)",
            big.requests_per_run
        ),
        "lower `load_scale`".to_string(),
    ] {
        assert!(w.contains(&needle), "{needle}: {w}");
    }
}

/// `--load-scale 1,2`: each load's plan in its folder `OUT/load-Xx`, the same files and
/// report as that load searched alone, then a line a load with its cheapest plan; searched
/// again, every run is read from the journals, and `--json` gives each load's answer. Twice
/// the same load, a shard, and a folder holding anything else are refused.
#[test]
fn several_loads_are_each_load_s_plan() {
    let goals = "ttft_p95_ms = 2500\nmax_reject_share = 0.01\nmax_cloud_usd_per_month = 200";
    let d = dir("growth");
    let path = small_plan(&d, goals, "");
    let out = d.join("growth");
    let g = plan_cli(&path, &out, &["--load-scale", "1,2"]);
    let text = String::from_utf8_lossy(&g.stdout);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["load-1x", "load-2x"]);
    let mut answers = Vec::new();
    for x in ["1", "2"] {
        let alone = d.join(format!("alone-{x}"));
        let a = plan_cli(&path, &alone, &["--load-scale", x]);
        assert_eq!(
            folder_files(&out.join(format!("load-{x}x"))),
            folder_files(&alone),
            "load {x}"
        );
        let report = String::from_utf8_lossy(&a.stdout);
        assert!(
            text.contains(&format!("== load {x}x\n{report}\n")),
            "{text}"
        );
        let answer: serde_json::Value =
            serde_json::from_slice(&std::fs::read(alone.join("answer.json")).unwrap()).unwrap();
        let cheapest = &answer["cheapest"];
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{x}x ")))
            .unwrap_or_else(|| panic!("no line for {x}x: {text}"));
        let cost = cheapest["total_usd_month"]["mean"].as_f64().unwrap();
        assert!(line.contains(&format!("${cost:.2} ± ")), "{line}");
        assert!(line.ends_with(cheapest["plan"].as_str().unwrap()), "{line}");
        answers.push(answer);
    }
    assert!(
        text.contains("the cheapest plan meeting every goal at each load:\nload "),
        "{text}"
    );
    assert!(
        text.contains(
            "each load's cheapest plan at every load (its cost per month where it meets every \
             goal):\ncheapest at   at 1x"
        ),
        "{text}"
    );
    // Twice the traffic takes more boards or fees.
    let cost = |a: &serde_json::Value| a["cheapest"]["total_usd_month"]["mean"].as_f64().unwrap();
    assert!(cost(&answers[0]) < cost(&answers[1]));

    let again = plan_cli(&path, &out, &["--load-scale", "1,2", "--json"]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(err.matches("simulated 0 runs, ").count(), 2, "{err}");
    let all: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
    for (i, x) in [1.0, 2.0].into_iter().enumerate() {
        assert_eq!(all[i]["load_scale"], x);
        assert_eq!(all[i]["plan"], answers[i]);
        // At its own load, each load's cheapest plan is its answer's.
        let own = &all[i]["cheapest_at_each_load"][i];
        assert_eq!(own["load_scale"], x);
        assert_eq!(own["plan"], answers[i]["cheapest"]);
    }
    // Each load's cheapest plan at the other load is what the whole grid at that load finds for
    // it (every replication, none dropped).
    for (from, to) in [(0, 1), (1, 0)] {
        let (a, b) = ([1.0, 2.0][from], [1.0, 2.0][to]);
        let pa = Planner::load_scaled(&path, Some(a)).unwrap();
        let found = run(&pa, &d.join(format!("lib-{a}")));
        let best = &found.evaluations[found.best.unwrap()];
        let mut pb = Planner::load_scaled(&path, Some(b)).unwrap();
        pb.method = edgesim::plan::Method::Grid;
        let grid = run(&pb, &d.join(format!("lib-grid-{b}")));
        let there = grid
            .evaluations
            .iter()
            .find(|e| e.point == best.point)
            .unwrap();
        let cell = &all[from]["cheapest_at_each_load"][to];
        assert_eq!(cell["load_scale"], b);
        assert_eq!(cell["plan"]["feasible"], there.feasible, "{cell}");
        assert_eq!(cell["plan"]["runs"], 3);
        let cost = cell["plan"]["total_usd_month"]["mean"].as_f64().unwrap();
        assert!(
            (cost - there.cost()).abs() <= 1e-9 * cost,
            "{cost} {}",
            there.cost()
        );
        // Its row in the printed table: a cell a load, in their order.
        let cross = &text[text
            .find("each load's cheapest plan at every load")
            .unwrap()..];
        let row = cross
            .lines()
            .find(|l| l.starts_with(&format!("{a}x ")))
            .unwrap_or_else(|| panic!("no row for {a}x: {cross}"));
        let cells: Vec<&str> = row
            .split("   ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let want = if there.feasible {
            format!("${cost:.2} ± ")
        } else {
            "misses ".to_string()
        };
        assert!(cells[1 + to].starts_with(&want), "{row}");
    }
    // Judging them recorded nothing: each load's folder is its search's.
    assert_eq!(
        folder_files(&out.join("load-2x")),
        folder_files(&d.join("alone-2"))
    );

    let refused = |extra: &[&str], want: &str| {
        let mut args = vec![
            "plan",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = edgesim(&args);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && e.contains(want), "{extra:?}: {e}");
    };
    refused(&["--load-scale", "1,2,1"], "--load-scale 1: given twice");
    refused(
        &["--load-scale", "1,2", "--shard", "0/2"],
        "--shard searches one load",
    );
    refused(&["--load-scale", "1,-2"], "--load-scale");
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    refused(
        &["--load-scale", "1,2"],
        "holds `notes.txt` besides the loads' folders",
    );
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}

/// A plan for growth warns of every load's size before the first load's search: the small
/// plan at 1x runs in a blink, at 1,000,000x it would take days, and the warning naming that
/// load comes first on stderr, not after the 1x search (the process is killed once it has).
#[test]
fn a_plan_for_growth_warns_of_every_load_before_searching() {
    use std::io::BufRead;
    let d = dir("growth-warning");
    let path = small_plan(&d, GOALS, "");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args([
            "plan",
            path.to_str().unwrap(),
            "--load-scale",
            "1,1e6",
            "--out",
        ])
        .arg(d.join("out"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        first.starts_with("warning: plan small: each plan's 3 replications simulate about")
            && first.contains("at 1000000x the scenario's load"),
        "{first}"
    );
    assert!(
        second.starts_with("plan small: 2 device types") && !second.contains("load"),
        "{second}"
    );
}
/// `load_scale = [1, 2]` in the plan file is `--load-scale 1,2`: the same loads' plans and
/// table; `--load-scale` on the command line replaces the list. A list that is empty, holds a
/// load twice or one out of range is refused naming the key, and so is a list where one load
/// is meant (`plan merge` without `--load-scale`, the library's `Planner::load`).
#[test]
fn a_plan_file_gives_several_loads() {
    let goals = "ttft_p95_ms = 2500\nmax_reject_share = 0.01\nmax_cloud_usd_per_month = 200";
    let d = dir("growth-file");
    let listed = small_plan(&d, goals, "load_scale = [1, 2]");
    let by_flag = dir("growth-file-flag");
    let plain = small_plan(&by_flag, goals, "");
    let a = plan_cli(&listed, &d.join("out"), &[]);
    let b = plan_cli(&plain, &by_flag.join("out"), &["--load-scale", "1,2"]);
    let table = |o: &Output| {
        let t = String::from_utf8_lossy(&o.stdout).into_owned();
        let at = t
            .find("the cheapest plan meeting every goal at each load:")
            .unwrap();
        t[at..].to_string()
    };
    assert_eq!(table(&a), table(&b));
    // A line a load in each table (both loads have a plan), under their heads.
    assert_eq!(table(&a).lines().count(), 4 + 1 + 4, "{}", table(&a));
    for load in ["load-1x", "load-2x"] {
        let answer = |d: &Path| -> serde_json::Value {
            serde_json::from_slice(
                &std::fs::read(d.join("out").join(load).join("answer.json")).unwrap(),
            )
            .unwrap()
        };
        let (x, y) = (answer(&d), answer(&by_flag));
        assert_eq!(x["cheapest"], y["cheapest"], "{load}");
        assert_eq!(x["load"], y["load"], "{load}");
    }
    // The command line's load replaces the list: one plan, in the plan's own folder.
    let one = plan_cli(&listed, &d.join("one"), &["--load-scale", "2"]);
    let text = String::from_utf8_lossy(&one.stdout);
    assert!(text.contains("traffic: 2x the scenario's load"), "{text}");
    assert!(d.join("one").join("answer.json").exists());
    let e = Planner::load(&listed).unwrap_err().to_string();
    assert!(
        e.contains("`load_scale` = an array of 2 loads: a plan for growth"),
        "{e}"
    );
    assert_eq!(Planner::load_at(&listed, 1).unwrap().load_scale, 2.0);
    let merge = edgesim(&[
        "plan",
        "merge",
        listed.to_str().unwrap(),
        d.join("out/load-2x").to_str().unwrap(),
        "--out",
        d.join("merged").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&merge.stderr);
    assert!(
        !merge.status.success() && err.contains("give one load here (`--load-scale X`"),
        "{err}"
    );
    for (list, want) in [
        ("[]", "`load_scale` = []: give at least one load"),
        ("[1, 2, 1]", "`load_scale` = [1, 2, 1]: 1 is given twice"),
        ("[1, 0]", "`load_scale` = [1, 0]: 0 must lie in [1e-6, 1e6]"),
        ("\"x\"", "a number, or an array of numbers"),
    ] {
        let bad = dir("growth-file-bad");
        let path = small_plan(&bad, goals, &format!("load_scale = {list}"));
        let o = edgesim(&[
            "plan",
            path.to_str().unwrap(),
            "--out",
            bad.join("out").to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{list}: {err}");
        assert!(err.contains(want), "{list}: {err}");
        assert!(!bad.join("out").exists(), "{list}");
    }
}

#[test]
fn a_load_scale_searches_the_traffic_at_that_load() {
    // The small plan's goals with room for twice the cloud fees.
    let goals = "ttft_p95_ms = 2500\nmax_reject_share = 0.01\nmax_cloud_usd_per_month = 200";
    let d = dir("load-scale");
    let scaled = small_plan(&d, goals, "load_scale = 2");
    let pl = Planner::load(&scaled).unwrap();
    assert_eq!(pl.load_scale, 2.0);
    assert_eq!(
        pl.load,
        vec![("base_rate_rps", 1.6), ("burst_rate_rps", 4.8)]
    );
    let o = run(&pl, &d.join("out"));
    let by_hand = dir("load-scale-by-hand");
    let plain = small_plan(&by_hand, goals, "");
    let traffic = by_hand.join("traffic.toml");
    let t = std::fs::read_to_string(&traffic).unwrap();
    let doubled = t
        .replace("base_rate_rps = 0.8", "base_rate_rps = 1.6")
        .replace("burst_rate_rps = 2.4", "burst_rate_rps = 4.8");
    assert_ne!(doubled, t);
    std::fs::write(&traffic, doubled).unwrap();
    let hand = Planner::load(&plain).unwrap();
    assert!(hand.load.is_empty() && hand.load_scale == 1.0);
    let h = run(&hand, &by_hand.join("out"));
    assert_eq!(o.evaluations.len(), h.evaluations.len());
    for (a, b) in o.evaluations.iter().zip(&h.evaluations) {
        assert_eq!(a.point, b.point);
        assert_eq!(a.runs, b.runs, "{}", pl.describe(&a.point));
    }
    assert_eq!(o.best, h.best);
    // The same plan at its own load costs less: twice the traffic takes more boards or fees.
    let once = dir("load-scale-once");
    let one = Planner::load(&small_plan(&once, goals, "")).unwrap();
    let base = run(&one, &once.join("out"));
    let cost = |o: &search::Outcome| o.evaluations[o.best.unwrap()].cost();
    assert!(cost(&base) < cost(&o), "{} {}", cost(&base), cost(&o));
    // The command line: --load-scale on the plan without the key is the key.
    let cli_out = once.join("cli");
    let plan_path = once.join("plan.toml");
    let cli = plan_cli(&plan_path, &cli_out, &["--load-scale", "2"]);
    let text = String::from_utf8_lossy(&cli.stdout);
    assert!(
        text.contains(
            "traffic: 2x the scenario's load (workload.base_rate_rps = 1.6, \
             workload.burst_rate_rps = 4.8)"
        ),
        "{text}"
    );
    let answer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cli_out.join("answer.json")).unwrap())
            .unwrap();
    assert_eq!(answer["load"]["scale"], 2.0);
    assert_eq!(answer["load"]["workload"]["workload.burst_rate_rps"], 4.8);
    let want = &o.evaluations[o.best.unwrap()];
    let got = answer["cheapest"]["total_usd_month"]["mean"]
        .as_f64()
        .unwrap();
    assert!(
        (got - want.cost()).abs() <= 1e-9 * got,
        "{got} {}",
        want.cost()
    );
    let cheapest = std::fs::read_to_string(cli_out.join("cheapest.toml")).unwrap();
    assert!(
        cheapest.contains("base_rate_rps = 1.6") && cheapest.contains("burst_rate_rps = 4.8"),
        "{cheapest}"
    );
    // At its own load the answer has no `load`; a journal of another scale is refused.
    let own = plan_cli(&plan_path, &once.join("own"), &[]);
    assert!(!String::from_utf8_lossy(&own.stdout).contains("traffic:"));
    let own: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(once.join("own").join("answer.json")).unwrap(),
    )
    .unwrap();
    assert!(own.get("load").is_none(), "{own}");
    let o = edgesim(&[
        "plan",
        plan_path.to_str().unwrap(),
        "--out",
        cli_out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("holds results of another plan"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Refused: a traffic scenario refused at the scaled load (a trace's gaps a hundred times
    // longer, its metric windows then too many), naming the scale.
    let trace_dir = dir("load-scale-trace");
    let trace_plan = small_plan(&trace_dir, goals, "");
    let scenarios = root().join("scenarios");
    let trace = std::fs::read_to_string(scenarios.join("azure-trace.toml"))
        .unwrap()
        .replace(
            "traces/azure",
            &scenarios.join("traces/azure").display().to_string(),
        )
        .replace(
            "../calibration",
            &root().join("calibration").display().to_string(),
        )
        + "\n[metrics]\nwindow_s = 10\n";
    std::fs::write(trace_dir.join("traffic.toml"), trace).unwrap();
    assert!(Planner::load(&trace_plan).is_ok());
    let err = Planner::load_scaled(&trace_plan, Some(0.01))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`--load-scale` = 0.01: the traffic scenario")
            && err.contains("at this load is refused")
            && err.contains("`metrics.window_s` = 10"),
        "{err}"
    );
    // Refused: out of range, in the file and on the command line.
    let bad = dir("load-scale-bad");
    let err = Planner::load(&small_plan(&bad, goals, "load_scale = 0"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`load_scale` = 0: must lie in [1e-6, 1e6]"),
        "{err}"
    );
    let o = edgesim(&[
        "plan",
        plan_path.to_str().unwrap(),
        "--load-scale",
        "NaN",
        "--out",
        bad.join("out").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("`--load-scale` = NaN: must lie in"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// README, "Planning a fleet": the shipped retail plan at 1.5x its traffic takes six AGX
/// Orins with GPT-4o mini, $400.26 a month (three at its own load); at twice its traffic no
/// plan of its grid meets every goal together.
#[test]
fn the_readme_s_growth_plans_hold() {
    let d = dir("readme-growth");
    let path = shipped("plans/retail.toml");
    let grown = Planner::load_scaled(&path, Some(1.5)).unwrap();
    let o = run(&grown, &d.join("one-and-a-half"));
    let best = &o.evaluations[o.best.expect("a plan meets the goals at 1.5x")];
    assert_eq!(
        grown.describe(&best.point),
        "6 x agx (slots 4, queue 4); load_aware; rate limit concurrency limit=4; cloud gpt-4o-mini"
    );
    assert_eq!(format!("{:.2}", best.cost()), "400.26");
    let double = Planner::load_scaled(&path, Some(2.0)).unwrap();
    let o = run(&double, &d.join("double"));
    assert!(o.best.is_none());
}

/// The small plan in `dir(tag)`, its text edited by `edit` and its traffic by `traffic`.
fn edited_plan(
    tag: &str,
    edit: impl Fn(String) -> String,
    traffic: impl Fn(String) -> String,
) -> Planner {
    let d = dir(tag);
    let path = small_plan(&d, GOALS, "");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
    let t = d.join("traffic.toml");
    let text = std::fs::read_to_string(&t).unwrap();
    std::fs::write(&t, traffic(text)).unwrap();
    Planner::load(&path).unwrap()
}

/// Each evaluated plan's runs, by the point `key` makes of it (the other points left out).
fn runs_by(
    o: &search::Outcome,
    key: impl Fn(&edgesim::plan::Point) -> Option<edgesim::plan::Point>,
) -> BTreeMap<edgesim::plan::Point, Vec<RunValues>> {
    o.evaluations
        .iter()
        .filter_map(|e| Some((key(&e.point)?, e.runs.clone())))
        .collect()
}

/// The same plans with the same runs: else the number that differ and the first, in short.
fn assert_same_runs(
    a: &BTreeMap<edgesim::plan::Point, Vec<RunValues>>,
    b: &BTreeMap<edgesim::plan::Point, Vec<RunValues>>,
    what: &str,
) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}"
    );
    let differ: Vec<_> = a.iter().filter(|(p, r)| b[*p] != **r).collect();
    if let Some((p, r)) = differ.first() {
        panic!(
            "{what}: {} of {} plans differ, the first {p:?}: {:?} against {:?}",
            differ.len(),
            a.len(),
            r[0].run,
            b[*p][0].run
        );
    }
}

/// `search.routings`: each option is the scenario's `[routing]` with the option's keys set over
/// it, searched as the policies are. Checked against the same plans written another way: the
/// plan without the key (its first option, `{}`) and the scenario's own `[routing]` holding the
/// second option's key (whose other keys the option must keep: `max_attempts = 2`).
#[test]
fn a_plan_searches_the_gateways_routing() {
    const CLOUDS: &str = "clouds = [\"none\", \"gpt-4o-mini\"]\n";
    let routings = |t: String| {
        assert!(t.contains(CLOUDS));
        t.replace(
            CLOUDS,
            &format!("{CLOUDS}routings = [{{}}, {{ max_predicted_wait_ms = 0 }}]\n"),
        )
    };
    let same = |t: String| t;
    let grid = |mut pl: Planner, tag: &str| {
        pl.method = edgesim::plan::Method::Grid;
        let o = run(&pl, &dir(&format!("{tag}-grid")));
        assert_eq!(o.evaluations.len() as u64, pl.grid_size());
        (pl, o)
    };
    let (plain, plain_o) = grid(edited_plan("routing-plain", same, same), "routing-plain");
    let (both, both_o) = grid(edited_plan("routing-both", routings, same), "routing-both");
    assert_eq!(both.routings.len(), 2);
    // Twice the plans with boards; the cloud alone once.
    assert_eq!(both.grid_size(), 2 * plain.grid_size() - 1);
    // The option keeps the scenario's routing and adds its key.
    let p = both_o
        .evaluations
        .iter()
        .find(|e| e.point.routing == 1)
        .unwrap();
    let sc = both.scenario_at(&p.point, 1).unwrap();
    assert_eq!(sc.routing.max_attempts, 2);
    assert!(
        sc.resolved_toml()
            .contains("max_attempts = 2\nedge_rtt_ms = 5.0\nmax_predicted_wait_ms = 0.0\n"),
        "{}",
        sc.resolved_toml()
    );
    assert!(
        both.describe(&p.point)
            .contains("; routing max_predicted_wait_ms=0; cloud")
    );
    assert!(!plain.describe(&p.point).contains("routing"));

    // The first option is the plain plan, run for run.
    let first = runs_by(&both_o, |p| (p.routing == 0).then(|| p.clone()));
    assert_same_runs(&first, &runs_by(&plain_o, |p| Some(p.clone())), "plain");
    // The second is the scenario with the key in its own [routing], run for run.
    let second = runs_by(&both_o, |p| {
        (p.routing == 1 || p.boards() == 0).then(|| edgesim::plan::Point {
            routing: 0,
            ..p.clone()
        })
    });
    let in_scenario = edited_plan("routing-scenario", same, |t| {
        assert!(t.contains("edge_rtt_ms = 5\n"));
        t.replace(
            "edge_rtt_ms = 5\n",
            "edge_rtt_ms = 5\nmax_predicted_wait_ms = 0\n",
        )
    });
    let (_, in_scenario_o) = grid(in_scenario, "routing-scenario");
    assert_same_runs(
        &second,
        &runs_by(&in_scenario_o, |p| Some(p.clone())),
        "in the scenario",
    );
    // Somewhere the routing matters: the two options' runs differ.
    assert_ne!(first, second);

    // The search finds the grid's cheapest feasible plan.
    let found = run(
        &edited_plan("routing-search", routings, same),
        &dir("routing-search-out"),
    );
    let cheapest = both_o
        .evaluations
        .iter()
        .filter(|e| e.feasible)
        .min_by(|a, b| a.cost().total_cmp(&b.cost()))
        .unwrap();
    let best = &found.evaluations[found.best.unwrap()];
    assert_eq!(best.point, cheapest.point);
    assert_eq!(best.runs, cheapest.runs);

    // The tables, the answer and the report name the routing only when the plan searches
    // over it: earlier plans' outputs are unchanged.
    for (pl, searched) in [(&both, true), (&plain, false)] {
        let out = pl.source.with_file_name("cli");
        let o = plan_cli(&pl.source, &out, &[]);
        let report = String::from_utf8_lossy(&o.stdout);
        let plans = std::fs::read_to_string(out.join("plans.csv")).unwrap();
        let header = plans.lines().next().unwrap();
        let answer: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("answer.json")).unwrap())
                .unwrap();
        let label = answer["cheapest"].get("routing").and_then(|v| v.as_str());
        if searched {
            assert!(header.contains(",rate_limit,routing,cloud,"), "{header}");
            assert!(
                plans.contains(",the scenario's,") && plans.contains(",max_predicted_wait_ms=0,")
            );
            let want = both.routings[best.point.routing].label.as_str();
            assert_eq!(label, Some(want));
            assert!(
                report.contains(&format!("; routing {want}; cloud")),
                "{report}"
            );
        } else {
            assert!(header.contains(",rate_limit,cloud,"), "{header}");
            assert_eq!(label, None);
            assert!(!report.contains("routing"), "{report}");
        }
    }
}

/// The README's routing paragraph: the shipped retail plan with `search.routings = [{},
/// { max_predicted_wait_ms = 0 }]`, and the same plan searching boards with no queue instead.
#[test]
fn the_readme_s_routing_plans_hold() {
    let d = dir("readme-routing");
    let text = retail_plan_text();
    let plan = |name: &str, from: &str, to: &str| {
        assert!(text.contains(from));
        let p = d.join(format!("{name}.toml"));
        std::fs::write(&p, text.replace(from, to)).unwrap();
        let pl = Planner::load(&p).unwrap();
        let o = run(&pl, &d.join(name));
        let best = &o.evaluations[o.best.expect("a plan meets the goals")];
        (pl.describe(&best.point), format!("{:.2}", best.cost()))
    };
    const CLOUDS: &str = "clouds = [\"none\", \"gpt-4o-mini\"]\n";
    let (routed, cost) = plan(
        "routings",
        CLOUDS,
        &format!("{CLOUDS}routings = [{{}}, {{ max_predicted_wait_ms = 0 }}]\n"),
    );
    assert_eq!(
        routed,
        "9 x nano (slots 2, queue 2); load_aware; rate limit none; \
         routing max_predicted_wait_ms=0; cloud gpt-4o-mini"
    );
    assert_eq!(cost, "130.70");
    let (no_queue, cost) = plan(
        "no-queue",
        "queue_capacity = [2]",
        "queue_capacity = [0, 2]",
    );
    assert_eq!(
        no_queue,
        "9 x nano (slots 2, queue 0); load_aware; rate limit none; cloud gpt-4o-mini"
    );
    assert_eq!(cost, "130.70");
}
