//! Regression tests for the defects a hostile-input campaign found (issue 12), one test per
//! defect, each named after what it guards. `fuzz.rs` keeps looking for new ones.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::*;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh empty folder for one test.
fn fresh(tag: &str) -> PathBuf {
    scratch_dir(&format!("hostile-{tag}"))
}

fn profile(name: &str) -> String {
    root().join("calibration").join(name).display().to_string()
}

/// A small valid scenario (a few hundred requests) with `extra` appended.
fn small(extra: &str) -> String {
    format!(
        "name = \"small\"\nduration_s = 120\n[workload]\nkind = \"poisson\"\nrate_rps = 2.0\n\
         prompt_tokens = {{ dist = \"fixed\", value = 50 }}\noutput_tokens = {{ dist = \"fixed\", value = 20 }}\n\
         [[devices]]\nname = \"n\"\nprofile = \"{}\"\nmodel = \"qwen2.5-1.5b\"\n{extra}",
        profile("jetson-orin-nano.toml")
    )
}

/// `edgesim check` on `text` must fail with exit code 2, no panic, the file named once and
/// every needle in the message.
fn refused(tag: &str, text: &str, needles: &[&str]) -> String {
    let dir = fresh(&format!("{tag}-scenario"));
    let p = dir.join(format!("{tag}.toml"));
    std::fs::write(&p, text).unwrap();
    let o = edgesim(&["check", p.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{tag}: {err}");
    assert!(!err.contains("panicked"), "{tag}: {err}");
    assert!(err.contains(&format!("{tag}.toml")), "{tag}: {err}");
    for n in needles {
        assert!(err.contains(n), "{tag}: `{n}` not in: {err}");
    }
    err
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// 1. An output folder is all-or-nothing.

#[test]
fn rerun_into_the_same_out_leaves_no_file_of_the_previous_run() {
    let dir = fresh("rerun");
    let sc = dir.join("s.toml");
    std::fs::write(&sc, small("")).unwrap();
    let out = dir.join("out");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--csv",
        ];
        args.extend_from_slice(extra);
        let o = edgesim(&args);
        assert_ok(&o);
    };
    run(&[]);
    assert!(names(&out).contains(&"requests.csv".to_string()));
    run(&["--no-requests", "--seed", "9"]);
    let after = names(&out);
    assert!(!after.contains(&"requests.csv".to_string()), "{after:?}");
    assert!(after.contains(&"manifest.json".to_string()), "{after:?}");
    // The manifest names every file of the folder but itself, and the run's seed.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let listed: Vec<String> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap_or_default().to_string())
        .collect();
    for f in after.iter().filter(|f| *f != "manifest.json") {
        assert!(listed.contains(f), "{f} not in the manifest {m}");
    }
    assert!(m.to_string().contains('9'), "{m}");
    // Nothing temporary is left beside it.
    assert!(
        names(&dir)
            .iter()
            .all(|n| !n.contains(".tmp-") && !n.contains(".old-")),
        "{:?}",
        names(&dir)
    );
}

#[test]
fn out_that_is_a_file_or_a_foreign_folder_is_refused() {
    let dir = fresh("outfile");
    let sc = dir.join("s.toml");
    std::fs::write(&sc, small("")).unwrap();
    let file = dir.join("x");
    std::fs::write(&file, "keep").unwrap();
    let o = edgesim(&["run", sc.to_str().unwrap(), "--out", file.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("is a file, not a folder"), "{err}");
    assert!(!err.contains("File exists"), "{err}");
    // `--out .` in an empty folder: said plainly, and nothing is written there.
    let here = dir.join("here");
    std::fs::create_dir_all(&here).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args(["run", sc.to_str().unwrap(), "--out", "."])
        .current_dir(&here)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("names no folder of its own") && err.contains("e.g. `out`"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&here).unwrap().count(), 0);
    let foreign = dir.join("mine");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("thesis.tex"), "keep").unwrap();
    let o = edgesim(&[
        "run",
        sc.to_str().unwrap(),
        "--out",
        foreign.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_eq!(
        std::fs::read_to_string(foreign.join("thesis.tex")).unwrap(),
        "keep"
    );
    // An output folder of an edgesim from before manifests is replaced.
    let legacy = dir.join("legacy");
    std::fs::create_dir_all(&legacy).unwrap();
    std::fs::write(legacy.join("scenario.resolved.toml"), "").unwrap();
    std::fs::write(legacy.join("summary.json"), "{}").unwrap();
    std::fs::write(legacy.join("stale.csv"), "old").unwrap();
    let o = edgesim(&[
        "run",
        sc.to_str().unwrap(),
        "--out",
        legacy.to_str().unwrap(),
    ]);
    assert_ok(&o);
    assert!(!legacy.join("stale.csv").exists());
    assert!(legacy.join("manifest.json").exists());
}

/// A folder that cannot be created is named as given, not by the temporary folder beside it
/// (`/proc` takes no new folders, even from root).
#[cfg(target_os = "linux")]
#[test]
fn out_that_cannot_be_created_is_named_as_given() {
    let dir = fresh("outproc");
    let sc = dir.join("s.toml");
    std::fs::write(&sc, small("")).unwrap();
    let o = edgesim(&["run", sc.to_str().unwrap(), "--out", "/proc/edgesim-out"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/proc/edgesim-out: cannot create the output folder")
            && !err.contains(".tmp-"),
        "{err}"
    );
}

// 2. The catalogue is validated like [cloud].

#[test]
fn catalogue_prices_quality_and_sizes_are_validated() {
    let text = std::fs::read_to_string(root().join("calibration/models.toml")).unwrap();
    for (tag, from, to, key) in [
        (
            "negprice",
            "usd_per_1k_input = 0.03 ",
            "usd_per_1k_input = -0.03 ",
            "usd_per_1k_input",
        ),
        (
            "nanprice",
            "usd_per_1k_output = 0.06",
            "usd_per_1k_output = nan",
            "usd_per_1k_output",
        ),
        (
            "infprice",
            "usd_per_1k_output = 0.06",
            "usd_per_1k_output = inf",
            "usd_per_1k_output",
        ),
        // Finite, but it made every cloud cost infinite (`null` in summary.json).
        (
            "hugeprice",
            "usd_per_1k_output = 0.06",
            "usd_per_1k_output = 1e300",
            "usd_per_1k_output` = 1e300: must be a price from 0 to 1000 USD per 1,000 tokens",
        ),
        ("badquality", "gsm8k = 0.92", "gsm8k = 1e300", "gsm8k"),
        // A blank task name (no class or `metrics.task` can name it).
        (
            "blanktask",
            "gsm8k = 0.92",
            "\" \" = 0.5",
            "quality` = \" \": task names must be non-blank",
        ),
        (
            "zeroparams",
            "params_b = 1.54",
            "params_b = 0.0",
            "params_b",
        ),
    ] {
        assert!(text.contains(from), "{tag}: `{from}` not in models.toml");
        let dir = fresh(tag);
        let cat = dir.join("models.toml");
        std::fs::write(&cat, text.replacen(from, to, 1)).unwrap();
        let err = refused(
            tag,
            &format!("model_catalogue = \"{}\"\n{}", cat.display(), small("")),
            &[key, "models.toml"],
        );
        assert!(!err.contains("NaN cost"), "{err}");
    }
}

// 3. Every time that does not fit the clock is a validation error.

#[test]
fn times_beyond_the_clock_are_validation_errors() {
    let s = small("");
    refused(
        "dur30",
        &s.replace("duration_s = 120", "duration_s = 1e30"),
        &["duration_s", "1e12"],
    );
    refused(
        "durtiny",
        &s.replace("duration_s = 120", "duration_s = 1e-300"),
        &["duration_s", "1e-6"],
    );
    refused(
        "cloudttft",
        &format!("{s}[cloud]\nttft_ms = 1e300\n"),
        &["cloud.ttft_ms", "1e15"],
    );
    // A trace row at 1e300 s, and a time scale that moves a row beyond the clock.
    let dir = fresh("tracetime");
    let far = dir.join("far.csv");
    std::fs::write(
        &far,
        "TIMESTAMP,ContextTokens,GeneratedTokens\n0,10,10\n1e300,10,10\n",
    )
    .unwrap();
    let trace = |path: &Path, scale: f64| {
        format!(
            "[workload]\nkind = \"trace\"\npath = \"{}\"\ntime_scale = {scale:e}\n[[devices]]\nname = \"n\"\nprofile = \"{}\"\nmodel = \"qwen2.5-1.5b\"\n",
            path.display(),
            profile("jetson-orin-nano.toml")
        )
    };
    refused("tracefar", &trace(&far, 1.0), &["far.csv:3", "1e12"]);
    let near = dir.join("near.csv");
    std::fs::write(
        &near,
        "TIMESTAMP,ContextTokens,GeneratedTokens\n0,10,10\n100,10,10\n",
    )
    .unwrap();
    refused(
        "tracescale",
        &trace(&near, 1e300),
        &[
            "workload.time_scale",
            "largest time_scale for this trace is about 1.000e10",
        ],
    );
}

/// Times that are each in range but add up beyond the clock (a long queue of very slow
/// requests) end the run with an error, not with saturated zero latencies.
#[test]
fn a_run_that_outgrows_the_clock_is_an_error_not_zero_latencies() {
    let text = format!(
        "duration_s = 1e12\n[workload]\nkind = \"poisson\"\nrate_rps = 1e-10\n\
         prompt_tokens = {{ dist = \"fixed\", value = 1 }}\noutput_tokens = {{ dist = \"fixed\", value = 10000 }}\n\
         [cloud]\nenabled = true\ntokens_per_s = 1e-3\n{}",
        inline_device("d", 1, 0, &[1.0], 1.0, 1.0)
    );
    let sc = scenario(&text);
    match edgesim::sim::run(&sc) {
        Ok(s) => assert!(s.end_s <= edgesim::time::CLOCK_LIMIT_S, "{}", s.end_s),
        Err(e) => assert!(e.to_string().contains("clock"), "{e}"),
    }
}

// 4. Requests longer than the context.

#[test]
fn prompts_longer_than_the_context_are_not_served_at_the_edge() {
    // Device context 4096 (qwen2-math allows 4096); a 5000-token request goes to the cloud,
    // counted as oversized; without a cloud it is rejected.
    let body = |cloud: bool| {
        format!(
            "[[devices]]\nname = \"n\"\nprofile = \"{}\"\nmodel = \"qwen2.5-1.5b\"\nctx_tokens = 4096\n[cloud]\nenabled = {cloud}\n",
            profile("jetson-orin-nano.toml")
        )
    };
    let rows = [(0.0, 100, 50), (1.0, 4900, 100), (2.0, 100, 50)];
    let (s, recs) = run_trace_summary("ctx-cloud", &rows, &body(true));
    assert_eq!((s.served_edge, s.served_cloud, s.rejected), (2, 1, 0));
    assert_eq!(s.oversized, 1);
    assert_eq!(recs[1].route, edgesim::metrics::Route::Cloud);
    let (s, _) = run_trace_summary("ctx-none", &rows, &body(false));
    assert_eq!((s.served_edge, s.served_cloud, s.rejected), (2, 0, 1));
    assert_eq!(s.oversized, 1);
    // A trace row beyond the shared token limit is an error naming its line.
    let dir = fresh("hugetrace");
    let t = dir.join("t.csv");
    std::fs::write(
        &t,
        "TIMESTAMP,ContextTokens,GeneratedTokens\n0,4294967295,1\n",
    )
    .unwrap();
    refused(
        "hugetrace",
        &format!(
            "[workload]\nkind = \"trace\"\npath = \"{}\"\n{}",
            t.display(),
            body(true)
        ),
        &["t.csv:2", "ContextTokens", "10000000"],
    );
}

/// With two device sizes, a request too long for the small one is refused there (counted as
/// too_long) and served by the large one.
#[test]
fn a_request_too_long_for_one_device_is_served_by_a_larger_one() {
    let body = format!(
        "[selection]\nkind = \"round_robin\"\n[routing]\nmax_attempts = 2\n[[devices]]\nname = \"small\"\nprofile = \"{p}\"\nmodel = \"qwen2.5-1.5b\"\nctx_tokens = 1024\n\
         [[devices]]\nname = \"large\"\nprofile = \"{p}\"\nmodel = \"qwen2.5-1.5b\"\nctx_tokens = 8192\n",
        p = profile("jetson-orin-nano.toml")
    );
    let rows = [(0.0, 3000, 10), (10.0, 3000, 10)];
    let (s, _) = run_trace_summary("ctx-two", &rows, &body);
    assert_eq!(s.served_edge, 2);
    assert_eq!(s.oversized, 0);
    assert!(s.too_long_attempts >= 1, "{}", s.too_long_attempts);
    assert_eq!(s.devices[1].served, 2);
}

// 5. Closed pipes and full disks.

#[test]
fn a_closed_pipe_exits_quietly_and_a_full_disk_is_an_error() {
    let sc = shipped("steady.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args(["run", sc.to_str().unwrap(), "--no-out", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Read;
        let mut first = [0u8; 10];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    } // stdout closed here, like `| head -c 10`
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
    if Path::new("/dev/full").exists() {
        let o = Command::new(env!("CARGO_BIN_EXE_edgesim"))
            .args(["run", sc.to_str().unwrap(), "--no-out", "--json"])
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{err}");
        assert!(!o.status.success());
        assert!(err.to_lowercase().contains("space"), "{err}");
    }
}

/// Messages on standard error that cannot be written (`edgesim ... 2>&1 | head`, a full disk)
/// are dropped: the command still does its work and exits 0 (it panicked with exit code 101).
#[test]
fn an_unwritable_standard_error_is_not_a_panic() {
    let sc = shipped("steady.toml");
    let dir = scratch("stderr");
    let _ = std::fs::remove_dir_all(&dir);
    let args = ["run", sc.to_str().unwrap(), "--out", dir.to_str().unwrap()];
    // A pipe whose reader is gone before the first message.
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(dir.join("summary.json").exists());
    if Path::new("/dev/full").exists() {
        let status = Command::new(env!("CARGO_BIN_EXE_edgesim"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create("/dev/full").unwrap())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(0));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// 6. Memory blow-ups are refused before the run.

#[test]
fn memory_blow_ups_are_refused_before_the_run() {
    let s = small("");
    refused(
        "rate1e9",
        &s.replace("rate_rps = 2.0", "rate_rps = 1e9"),
        &["workload.rate_rps", "1e10"],
    );
    refused(
        "rate1e7",
        &s.replace("rate_rps = 2.0", "rate_rps = 1e8")
            .replace("duration_s = 120", "duration_s = 10"),
        &["workload.rate_rps", "GB", "EDGESIM_MEMORY_LIMIT_GB"],
    );
    refused(
        "count1e8",
        &s.replace(
            "model = \"qwen2.5-1.5b\"\n",
            "model = \"qwen2.5-1.5b\"\ncount = 100000000\n",
        ),
        &["devices[0].count", "1000000"],
    );
    // Two groups: the large one is named, not the small one after it that crossed the bound.
    let two = s.replace(
        "model = \"qwen2.5-1.5b\"\n",
        "model = \"qwen2.5-1.5b\"\ncount = 1000000\n",
    ) + &format!(
        "[[devices]]\nname = \"m\"\nprofile = \"{}\"\nmodel = \"qwen2.5-1.5b\"\ncount = 2\n",
        profile("jetson-orin-nano.toml")
    );
    refused(
        "count2groups",
        &two,
        &[
            "`devices[0].count` = 1000000",
            "1000002 devices over 2 [[devices]] entries",
        ],
    );
    refused(
        "users",
        &s.replace(
            "kind = \"poisson\"\nrate_rps = 2.0",
            "kind = \"closed\"\nusers = 4294967295\nthink_time_s = 1.0",
        ),
        &["workload.users", "10000000"],
    );
    // Many classes on a large fleet: the summary keeps totals per device and class (30,000 x
    // 20,000 of them, 19.2 GB, outside the estimate until now: with 10,000 boards a run
    // allocated 6.4 GB of them, and aborted under a 4 GB memory limit) and latency histograms
    // per class (2.4 GB more).
    let classes: String = (0..20_000)
        .map(|i| format!("[[workload.classes]]\nname = \"c{i}\"\n"))
        .collect();
    refused(
        "classes",
        &(s.replace(
            "model = \"qwen2.5-1.5b\"\n",
            "model = \"qwen2.5-1.5b\"\ncount = 30000\n",
        ) + &classes),
        &[
            "`workload.classes` = (20000 classes)",
            "30000 devices",
            "21.6 GB",
            "merge classes",
        ],
    );
    // Classes each on boards of its own: each distinct `devices` list is a pool of boards
    // with state for each of its boards (at most 32 bytes a board): 150 classes with as many
    // lists of nine of twelve groups of 80,000 boards would keep 3.5 GB of it beside the
    // classes' 4.6 GB of totals, which alone are allowed.
    let groups: String = (1..12)
        .map(|g| {
            format!(
                "[[devices]]\nname = \"g{g}\"\nprofile = \"{}\"\nmodel = \"qwen2.5-1.5b\"\n\
                 count = 80000\n",
                profile("jetson-orin-nano.toml")
            )
        })
        .collect();
    let fleet = s.replace(
        "model = \"qwen2.5-1.5b\"\n",
        "model = \"qwen2.5-1.5b\"\ncount = 80000\n",
    ) + &groups;
    let names = |c: usize| -> String {
        // The twelve groups (n and g1..g11) but the c-th set of three, in a fixed order.
        let all: Vec<String> = std::iter::once("n".to_string())
            .chain((1..12).map(|g| format!("g{g}")))
            .collect();
        let mut k = 0;
        for a in 0..12 {
            for b in a + 1..12 {
                for d in b + 1..12 {
                    if k == c {
                        let kept: Vec<String> = (0..12)
                            .filter(|&i| i != a && i != b && i != d)
                            .map(|i| format!("\"{}\"", all[i]))
                            .collect();
                        return kept.join(", ");
                    }
                    k += 1;
                }
            }
        }
        unreachable!()
    };
    let listed: String = (0..150)
        .map(|i| {
            format!(
                "[[workload.classes]]\nname = \"c{i}\"\ndevices = [{}]\n",
                names(i)
            )
        })
        .collect();
    refused(
        "pools",
        &(fleet.clone() + &listed),
        &[
            "`workload.classes` = (150 classes)",
            "960000 devices",
            "150 pools of boards",
            "or give them the same groups",
        ],
    );
    let unlisted: String = (0..150)
        .map(|i| format!("[[workload.classes]]\nname = \"c{i}\"\n"))
        .collect();
    let dir = fresh("pools-unlisted");
    let p = dir.join("unlisted.toml");
    std::fs::write(&p, fleet + &unlisted).unwrap();
    let o = edgesim(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // More classes than a 16-bit index holds (with a one-board fleet, within memory once the
    // limit is raised, their indices would have wrapped round to the first classes').
    let many: String = (0..65_536)
        .map(|i| format!("[[workload.classes]]\nname = \"c{i}\"\n"))
        .collect();
    refused(
        "too-many-classes",
        &(s.clone() + &many),
        &[
            "`workload.classes` = (65536 classes)",
            "at most 65535 request classes",
        ],
    );
    // Random outages so frequent that their events alone would take hours.
    let err = refused(
        "flapping",
        &s.replace("duration_s = 120", "duration_s = 100000")
            .replace(
                "model = \"qwen2.5-1.5b\"\n",
                "model = \"qwen2.5-1.5b\"\nrandom_outages = { mtbf_s = 1e-6, mttr_s = 1e-6 }\n",
            ),
        &[
            "`devices[0].random_outages` = { mtbf_s = 1e-6, mttr_s = 1e-6 }",
            "5.000e10",
            "1e9",
        ],
    );
    assert!(err.contains("lengthen mtbf_s and mttr_s"), "{err}");
    // A bursty workload names the rate that is too high, base or burst.
    let bursty = |base: &str, burst: &str| {
        s.replace(
            "kind = \"poisson\"\nrate_rps = 2.0",
            &format!(
                "kind = \"bursty\"\nbase_rate_rps = {base}\nburst_rate_rps = {burst}\n\
                 burst_length_s = 10\nburst_period_s = 60"
            ),
        )
    };
    let err = refused(
        "base1e9",
        &bursty("1e9", "2"),
        &["`workload.base_rate_rps` = 1000000000"],
    );
    assert!(!err.contains("burst_rate_rps"), "{err}");
    refused(
        "burst1e9",
        &bursty("1", "1e9"),
        &["`workload.burst_rate_rps` = 1000000000"],
    );
    let dir = fresh("reps");
    let sc = dir.join("s.toml");
    std::fs::write(&sc, &s).unwrap();
    let sweep = dir.join("w.toml");
    std::fs::write(
        &sweep,
        format!(
            "scenario = \"{}\"\nreplications = 1000000000\n[[axes]]\nkey = \"seed\"\nvalues = [1]\n",
            sc.display()
        ),
    )
    .unwrap();
    let o = edgesim(&[
        "sweep",
        sweep.to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("replications") && err.contains("100000"),
        "{err}"
    );
}

/// A trace with more rows than a run may replay within the memory limit is refused by its row
/// count (it was read whole first: 100 M short rows held 1.6 GB before the budget refused
/// them), and with `max_requests` within the limit only the rows replayed are kept, while
/// every row is still checked.
#[test]
fn trace_rows_beyond_the_memory_limit_are_refused_by_count() {
    let dir = fresh("trace-rows");
    let rows: Vec<(f64, u32, u32)> = (0..100).map(|i| (f64::from(i), 20, 10)).collect();
    std::fs::write(dir.join("t.csv"), trace_text(&rows)).unwrap();
    let mut bad = rows.clone();
    bad[90].0 = 1.0; // out of time order, past the rows kept
    std::fs::write(dir.join("bad.csv"), trace_text(&bad)).unwrap();
    let write = |name: &str, workload: &str| {
        let text = small("").replace(
            "kind = \"poisson\"\nrate_rps = 2.0\n\
             prompt_tokens = { dist = \"fixed\", value = 50 }\n\
             output_tokens = { dist = \"fixed\", value = 20 }\n",
            workload,
        );
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let scenario = |name: &str, trace: &str, extra: &str| {
        write(
            name,
            &format!("kind = \"trace\"\npath = \"{trace}\"\n{extra}"),
        )
    };
    // 1e-5 GB = 10,000 bytes: 39 rows of 256 bytes.
    let limited = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_edgesim"))
            .args(args)
            .env("EDGESIM_MEMORY_LIMIT_GB", "1e-5")
            .output()
            .unwrap()
    };
    let check = |p: &Path| limited(&["check", p.to_str().unwrap()]);
    let refusal = |p: &Path, needles: &[&str]| {
        let o = check(p);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        for n in needles {
            assert!(err.contains(n), "`{n}` not in: {err}");
        }
    };
    let whole = scenario("whole.toml", "t.csv", "");
    refusal(
        &whole,
        &[
            "`workload.path` = \"t.csv\"",
            "has 100 rows",
            "the 39 a run may replay",
            "set workload.max_requests to at most 39",
        ],
    );
    refusal(
        &scenario("fifty.toml", "t.csv", "max_requests = 50\n"),
        &["`workload.max_requests` = 50", "replay at most 39"],
    );
    refusal(
        &scenario("bad.toml", "bad.csv", "max_requests = 10\n"),
        &["bad.csv:92:", "earlier than the previous row"],
    );
    refusal(
        &write(
            "empirical.toml",
            "kind = \"poisson\"\nrate_rps = 2.0\noutput_tokens = { dist = \"fixed\", value = 20 }\n\
             prompt_tokens = { dist = \"empirical\", trace = \"t.csv\", column = \"ContextTokens\" }\n",
        ),
        &["`workload.prompt_tokens.trace`", "has 100 rows", "39"],
    );
    // The first ten rows kept under the limit replay as the whole trace does without it.
    let ten = scenario("ten.toml", "t.csv", "max_requests = 10\n");
    let run = ["run", ten.to_str().unwrap(), "--no-out", "--json"];
    let (a, b) = (limited(&run), edgesim(&run));
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(b.status.code(), Some(0), "{}", stderr(&b));
    let json = String::from_utf8(a.stdout).unwrap();
    assert_eq!(json, String::from_utf8(b.stdout).unwrap());
    assert!(json.contains("\"requests_total\": 10,"), "{json}");
    let _ = std::fs::remove_dir_all(&dir);
}

// 7. A corrupt sweep journal is repaired, not trusted.

/// The values of a JSON object, in the order its text gives them.
fn values_in_order(object: &str) -> Vec<serde_json::Value> {
    struct Values(Vec<serde_json::Value>);
    impl<'de> serde::Deserialize<'de> for Values {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Values;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Values, A::Error> {
                    let mut out = Vec::new();
                    while let Some((_, v)) = m.next_entry::<String, serde_json::Value>()? {
                        out.push(v);
                    }
                    Ok(Values(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Values>(object).unwrap().0
}

#[test]
fn corrupt_journal_lines_are_redone_and_the_results_equal_a_clean_sweep() {
    let dir = fresh("journal");
    let sc = dir.join("s.toml");
    std::fs::write(&sc, small("")).unwrap();
    let sweep = dir.join("w.toml");
    std::fs::write(
        &sweep,
        format!(
            "name = \"j\"\nscenario = \"{}\"\nreplications = 2\n[[axes]]\nkey = \"selection.kind\"\nvalues = [\"random\", \"load_aware\"]\n",
            sc.display()
        ),
    )
    .unwrap();
    let run = |out: &Path| {
        let o = edgesim(&[
            "sweep",
            sweep.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--csv",
        ]);
        assert_ok(&o);
        o
    };
    let clean = dir.join("clean");
    run(&clean);
    let journal = std::fs::read_to_string(clean.join("runs.jsonl")).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    assert_eq!(lines.len(), 5, "{journal}");
    // Header, run 0 written as an array of its values in its fields' order (serde's derive
    // would read it by position), run 1 with its metrics cut, a torn line in the middle, run 2
    // intact, a run that is not in the plan, run 3 with another seed.
    let as_array = serde_json::to_string(&values_in_order(lines[1])).unwrap();
    let no_metrics = {
        let mut v: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        v["metrics"] = serde_json::json!([1.0]);
        v.to_string()
    };
    let unknown = {
        let mut v: serde_json::Value = serde_json::from_str(lines[3]).unwrap();
        v["run"] = serde_json::json!(99);
        v.to_string()
    };
    let other_seed = {
        let mut v: serde_json::Value = serde_json::from_str(lines[4]).unwrap();
        v["seed"] = serde_json::json!(12345);
        v.to_string()
    };
    let corrupt = format!(
        "{}\n{}\n{}\n{{\"run\": 2, \"poi\n{}\n{}\n{}\n",
        lines[0], as_array, no_metrics, lines[3], unknown, other_seed
    );
    let broken = dir.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("runs.jsonl"), corrupt).unwrap();
    let o = run(&broken);
    let err = stderr(&o);
    for n in [
        "invalid entries",
        "metrics",
        "not in this sweep",
        "seed",
        "not a run record",
        "line 2: not a run record (a JSON object of named fields is expected)",
    ] {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
    for f in ["runs.jsonl", "points.csv"] {
        assert_eq!(
            std::fs::read(clean.join(f)).unwrap(),
            std::fs::read(broken.join(f)).unwrap(),
            "{f}"
        );
    }
}

// 8. Inputs that never end.

#[test]
fn devices_pipes_and_oversized_files_are_refused_as_inputs() {
    let s = small("");
    refused(
        "devzero",
        &s.replace(&profile("jetson-orin-nano.toml"), "/dev/zero"),
        &["/dev/zero", "not a regular file"],
    );
    let dir = fresh("fifo");
    let fifo = dir.join("pipe.csv");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        refused(
            "fifo",
            &format!(
                "[workload]\nkind = \"trace\"\npath = \"{}\"\n[[devices]]\nname = \"n\"\nprofile = \"{}\"\nmodel = \"qwen2.5-1.5b\"\n",
                fifo.display(),
                profile("jetson-orin-nano.toml")
            ),
            &["pipe.csv", "not a regular file"],
        );
    }
    // A scenario larger than the documented limit.
    let big = format!("{s}\n#{}\n", "x".repeat(17 << 20));
    refused("bigscenario", &big, &["bytes", "16777216"]);
}

// 9. Errors never echo a huge line.

#[test]
fn errors_cut_long_lines() {
    let long = "y".repeat(300_000);
    let err = refused(
        "longline",
        &format!("{}\nbogus = \"{long}\"\n", small("")),
        &["bogus", "more bytes"],
    );
    assert!(err.len() < 4000, "{} bytes of error", err.len());
    let dir = fresh("longtrace");
    let t = dir.join("t.csv");
    std::fs::write(
        &t,
        format!("TIMESTAMP,ContextTokens,GeneratedTokens\n0,{long},1\n"),
    )
    .unwrap();
    let err = refused(
        "longtrace",
        &format!(
            "[workload]\nkind = \"trace\"\npath = \"{}\"\n[[devices]]\nname = \"n\"\nprofile = \"{}\"\nmodel = \"qwen2.5-1.5b\"\n",
            t.display(),
            profile("jetson-orin-nano.toml")
        ),
        &["t.csv:2", "more bytes"],
    );
    assert!(err.len() < 4000, "{} bytes of error", err.len());
}

// 10. Valid but senseless values.

#[test]
fn senseless_limits_shares_and_durations_are_refused() {
    let s = small("");
    refused(
        "halfslot",
        &format!("{s}[rate_limit]\nkind = \"concurrency\"\nlimit = 0.5\n"),
        &["rate_limit.limit", "whole number"],
    );
    refused(
        "halftoken",
        &format!("{s}[rate_limit]\nkind = \"concurrency\"\nunit = \"tokens\"\nlimit = 0.5\n"),
        &["rate_limit.limit", "at least 1"],
    );
    refused(
        "shares",
        &format!(
            "{s}[[workload.classes]]\nname = \"a\"\nshare = 1e308\n[[workload.classes]]\nname = \"b\"\nshare = 1e308\n"
        ),
        &["share"],
    );
    refused(
        "zerodur",
        &s.replace("duration_s = 120", "duration_s = 1e-300"),
        &["duration_s"],
    );
}

// 11. Temporaries of killed runs are cleaned up.

#[test]
fn stale_temporaries_of_killed_runs_are_removed() {
    let dir = fresh("stale");
    let sc = dir.join("s.toml");
    std::fs::write(&sc, small("")).unwrap();
    // A process id that is not running (beyond the kernel's largest pid_max).
    let dead = 4_194_999u32;
    std::fs::create_dir_all(dir.join(format!(".out.tmp-{dead}"))).unwrap();
    let o = edgesim(&[
        "run",
        sc.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_ok(&o);
    assert!(
        names(&dir).iter().all(|n| !n.contains(".tmp-")),
        "{:?}",
        names(&dir)
    );
    // Files written atomically in place (a sweep's plan and journal) clean up after killed
    // writers too.
    let sweep = dir.join("w.toml");
    std::fs::write(
        &sweep,
        format!(
            "name = \"st\"\nscenario = \"{}\"\nreplications = 1\n[[axes]]\nkey = \"selection.kind\"\nvalues = [\"random\"]\n",
            sc.display()
        ),
    )
    .unwrap();
    let out = dir.join("sw");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(format!(".plan.json.tmp-{dead}")), "partial").unwrap();
    let o = edgesim(&[
        "sweep",
        sweep.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--csv",
    ]);
    assert_ok(&o);
    assert!(
        names(&out).iter().all(|n| !n.contains(".tmp-")),
        "{:?}",
        names(&out)
    );
}

// 12. Messages.

#[test]
fn messages_name_things_once_and_plainly() {
    let sc = shipped("bursty.toml");
    // `check` names the scenario once.
    let dir = fresh("msgs");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, small("").replace("rate_rps = 2.0", "rate_rps = -1.0")).unwrap();
    let err = stderr(&edgesim(&["check", bad.to_str().unwrap()]));
    assert_eq!(err.matches("bad.toml").count(), 1, "{err}");
    // An OS error once.
    let err = stderr(&edgesim(&[
        "check",
        dir.join("none.toml").to_str().unwrap(),
    ]));
    assert_eq!(err.matches("os error").count(), 1, "{err}");
    // A bad --seed names --seed, not --set.
    let err = stderr(&edgesim(&[
        "run",
        sc.to_str().unwrap(),
        "--no-out",
        "--seed",
        "abc",
    ]));
    assert!(err.contains("--seed") && !err.contains("--set"), "{err}");
    // Errors after --set name the override, not a line of an internal copy.
    let err = stderr(&edgesim(&[
        "check",
        sc.to_str().unwrap(),
        "--set",
        "workload.burst_rate_rps=\"x\"",
    ]));
    assert!(
        err.contains("--set") && err.contains("burst_rate_rps"),
        "{err}"
    );
    assert!(!err.contains("line "), "{err}");
    // `platforms` works outside the repository.
    let o = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .arg("platforms")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("Jetson"));
    // --help shows plain brackets.
    for cmd in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["sweep", "--help"],
    ] {
        let o = edgesim(&cmd);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(!text.contains("\\["), "{cmd:?}: {text}");
    }
}

/// Names that become output folders (a scenario's, a sweep's, a plan's) are refused when they
/// would leave the output folder, hold a line break, or be too long for a file name; before,
/// a sweep named `../../esc` wrote to `output/esc` through a folder `output/sweep-..`, and a
/// scenario name with a newline made a folder whose name held it.
#[test]
fn names_that_become_folders_are_checked() {
    let s = small("");
    refused(
        "newline_name",
        &s.replace("name = \"small\"", "name = \"a\\nb\""),
        &["`name` = \"a\\nb\"", "control characters"],
    );
    refused(
        "long_name",
        &s.replace(
            "name = \"small\"",
            &format!("name = \"{}\"", "é".repeat(51)),
        ),
        &["`name`", "ééé", "at most 100 bytes"],
    );
    refused(
        "dotdot_name",
        &s.replace("name = \"small\"", "name = \"..\""),
        &["`name` = \"..\"", "must not be `.` or `..`"],
    );
    refused(
        "dot_name",
        &s.replace("name = \"small\"", "name = \".\""),
        &["`name` = \".\"", "must not be `.` or `..`"],
    );
    // Exactly 100 bytes is allowed.
    let dir = fresh("name100");
    let p = dir.join("ok.toml");
    std::fs::write(&p, s.replace("small", &"x".repeat(100))).unwrap();
    let o = edgesim(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let sc = dir.join("sc.toml");
    std::fs::write(&sc, &s).unwrap();
    let sweep = dir.join("sweep.toml");
    std::fs::write(
        &sweep,
        format!(
            "name = \"../../esc\"\nscenario = \"{}\"\n[[axes]]\nkey = \"duration_s\"\nvalues = [60]\n",
            sc.display()
        ),
    )
    .unwrap();
    let o = edgesim(&["sweep", sweep.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("sweep.toml: `name` = \"../../esc\": must not contain path separators"),
        "{err}"
    );
    let plan = std::fs::read_to_string(shipped("plans/retail.toml")).unwrap();
    assert!(plan.contains("\nname = \"retail\"\n"), "{plan}");
    let bad = dir.join("plan.toml");
    std::fs::write(
        &bad,
        plan.replacen("\nname = \"retail\"", "\nname = \"r\\tq\"", 1)
            .replace(
                "scenario = \"retail-traffic.toml\"",
                &format!(
                    "scenario = \"{}\"",
                    shipped("plans/retail-traffic.toml").display()
                ),
            ),
    )
    .unwrap();
    let o = edgesim(&["plan", bad.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("plan.toml: `name` = \"r\\tq\": must not contain control characters"),
        "{err}"
    );
}

/// Extreme but valid prices make extreme costs: the text tables show them in exponent form,
/// within their columns, not as hundreds of digits (a price of 1e300, refused since, printed a
/// 300-digit cloud cost, CPR and PCR, and 1e-300 cents/kWh a 300-digit CPR).
#[test]
fn extreme_values_in_text_tables_are_short() {
    let steady = shipped("steady.toml");
    for (set, exponent_form) in [
        ("cloud.usd_per_1k_output=1000", false),
        ("metrics.electricity_cents_per_kwh=1e-300", true),
        ("metrics.electricity_cents_per_kwh=1e5", false),
    ] {
        let o = edgesim(&["run", "--no-out", "--set", set, steady.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{set}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let longest = text
            .split(|c: char| !c.is_ascii_digit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest < 20, "{set}: a run of {longest} digits in\n{text}");
        let b = text.as_bytes();
        let exponent = (1..b.len().saturating_sub(1)).any(|i| {
            b[i] == b'e'
                && b[i - 1].is_ascii_digit()
                && (b[i + 1].is_ascii_digit() || b[i + 1] == b'-')
        });
        assert_eq!(
            exponent, exponent_form,
            "{set}: exponent form expected {exponent_form} in\n{text}"
        );
    }
    let o = edgesim(&["platforms", "--alpha", "1e-320"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("a = 1e-320;"), "{text}");
}

/// A sweep or a plan writes only into a new or empty folder or its own kind's output folder: a
/// sweep pointed at a plan's folder overwrote the plan's journal (and a plan a sweep's), and
/// both wrote their tables among a user's files. Each refusal leaves the folder as it was; the
/// command's own folder is still resumed.
#[test]
fn sweeps_and_plans_write_only_into_their_own_output_folders() {
    let dir = fresh("kinds");
    let sweep = shipped("sweeps/ci.toml");
    let plan = shipped("plans/retail.toml");
    let run = |args: &[&str]| {
        let o = edgesim(args);
        (o.status.code(), stderr(&o))
    };
    let (s, p, r, user) = (
        dir.join("s"),
        dir.join("p"),
        dir.join("r"),
        dir.join("user"),
    );
    let path = |d: &Path| d.to_str().unwrap().to_string();
    assert_eq!(
        run(&["sweep", sweep.to_str().unwrap(), "--out", &path(&s)]).0,
        Some(0)
    );
    assert_eq!(
        run(&["plan", plan.to_str().unwrap(), "--out", &path(&p)]).0,
        Some(0)
    );
    assert_eq!(
        run(&[
            "run",
            shipped("steady.toml").to_str().unwrap(),
            "--out",
            &path(&r)
        ])
        .0,
        Some(0)
    );
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(user.join("points.csv"), "mine").unwrap();
    let snapshot = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap_or_default(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let cases: [(&[&str], &Path, &str); 7] = [
        (
            &["sweep", sweep.to_str().unwrap()],
            &p,
            "holds a plan's outputs, not a sweep's",
        ),
        (
            &["sweep", sweep.to_str().unwrap()],
            &r,
            "holds a run's outputs",
        ),
        (
            &["sweep", sweep.to_str().unwrap()],
            &user,
            "is not an edgesim sweep output folder",
        ),
        (&["sweep", "merge", &path(&s)], &p, "holds a plan's outputs"),
        (
            &["plan", plan.to_str().unwrap()],
            &s,
            "holds a sweep's outputs, not a plan's",
        ),
        (
            &["plan", plan.to_str().unwrap()],
            &user,
            "is not an edgesim plan output folder",
        ),
        (
            &["plan", "merge", plan.to_str().unwrap(), &path(&p)],
            &s,
            "holds a sweep's outputs",
        ),
    ];
    for (args, out, needle) in cases {
        let before = snapshot(out);
        let mut a = args.to_vec();
        let o = path(out);
        a.extend(["--out", &o]);
        let (code, err) = run(&a);
        assert_eq!(code, Some(2), "{a:?}: {err}");
        assert!(err.contains(needle), "{a:?}: {err}");
        assert!(snapshot(out) == before, "{a:?} changed {}", out.display());
    }
    // The command's own folder: resumed (every run from the journal).
    let (code, err) = run(&["sweep", sweep.to_str().unwrap(), "--out", &path(&s)]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("resumed") && !err.contains("(0 resumed)"),
        "{err}"
    );
}

/// `run`, `compare` and `fidelity` replace only their own output folders: a run pointed at a
/// comparison's folder used to replace its figures without a word (both are edgesim output
/// folders). The refused folder is left as it was; the same command still replaces its own,
/// unless it holds files its manifest does not name (a rerun deleted them with the folder).
#[test]
fn run_and_compare_replace_only_their_own_output_folders() {
    let dir = fresh("run-kinds");
    let sc = dir.join("s.toml");
    std::fs::write(&sc, small("")).unwrap();
    let (r, c) = (dir.join("r"), dir.join("c"));
    let go = |cmd: &str, out: &Path| {
        let o = edgesim(&[cmd, sc.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        (o.status.code(), stderr(&o))
    };
    assert_eq!(go("run", &r).0, Some(0));
    assert_eq!(go("compare", &c).0, Some(0));
    let before = (names(&r), names(&c));
    let manifest = |d: &Path| std::fs::read_to_string(d.join("manifest.json")).unwrap();
    let (mr, mc) = (manifest(&r), manifest(&c));
    let (code, err) = go("run", &c);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("holds the outputs of `edgesim compare`") && err.contains("for the run"),
        "{err}"
    );
    let (code, err) = go("compare", &r);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`edgesim run`"), "{err}");
    assert_eq!((names(&r), names(&c)), before);
    assert_eq!((manifest(&r), manifest(&c)), (mr, mc));
    assert_eq!(go("run", &r).0, Some(0));
    assert_eq!(go("compare", &c).0, Some(0));
    // A file of the user's put in an output folder since would go with it: refused, kept.
    std::fs::write(r.join("notes.txt"), "mine").unwrap();
    std::fs::create_dir(c.join("figures-for-the-paper")).unwrap();
    for (cmd, out, name) in [
        ("run", &r, "notes.txt"),
        ("compare", &c, "figures-for-the-paper"),
    ] {
        let (code, err) = go(cmd, out);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(&format!("holds `{name}` that edgesim did not write there")),
            "{err}"
        );
        assert!(out.join(name).exists());
    }
    assert_eq!(
        std::fs::read_to_string(r.join("notes.txt")).unwrap(),
        "mine"
    );
    // What a file browser leaves behind does not count.
    std::fs::remove_file(r.join("notes.txt")).unwrap();
    std::fs::write(r.join(".DS_Store"), "").unwrap();
    assert_eq!(go("run", &r).0, Some(0));
}

/// The environment variables edgesim reads are checked like its flags: a value it cannot use
/// is refused before anything runs, naming the variable, the value and what is allowed. It
/// was replaced by the default in silence (`EDGESIM_MEMORY_LIMIT_GB=16GB` kept the limit at
/// 8 GB, and a run refused for memory then said to set the variable that was set).
#[test]
fn malformed_environment_variables_are_refused() {
    let out = fresh("env");
    let sc = shipped("steady.toml");
    let plan = shipped("plans/retail.toml");
    let go = |var: &str, value: &str, args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_edgesim"))
            .args(args)
            .env(var, value)
            .output()
            .unwrap();
        (o.status.code(), stderr(&o))
    };
    let run = ["run", sc.to_str().unwrap(), "--no-out"];
    let planned = [
        "plan",
        plan.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    for (var, value, args, allowed) in [
        (
            "EDGESIM_MEMORY_LIMIT_GB",
            "16GB",
            &run[..],
            "a number of gigabytes above 0",
        ),
        (
            "EDGESIM_MEMORY_LIMIT_GB",
            "0",
            &run[..],
            "a number of gigabytes above 0",
        ),
        ("EDGESIM_MEMORY_LIMIT_GB", "nan", &planned[..], "above 0"),
        (
            "EDGESIM_PROGRESS_S",
            "10s",
            &planned[..],
            "a number of seconds >= 0",
        ),
        (
            "EDGESIM_PROGRESS_S",
            "-1",
            &planned[..],
            "a number of seconds >= 0",
        ),
    ] {
        let (code, err) = go(var, value, args);
        assert_eq!(code, Some(2), "{var}={value}: {err}");
        assert!(err.contains(&format!("{var}=\"{value}\"")), "{err}");
        assert!(err.contains(allowed), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // Nothing was written for the refused plans.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    // Values it can use still work, spaces around them allowed.
    assert_eq!(go("EDGESIM_MEMORY_LIMIT_GB", " 16 ", &run).0, Some(0));
    // A limit below what a run needs names both amounts in digits that differ from zero.
    let (code, err) = go("EDGESIM_MEMORY_LIMIT_GB", "0.000001", &run);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("more than the 0.000001 GB allowed"), "{err}");
    assert!(!err.contains(" 0.0 GB"), "{err}");
    assert!(err.contains("requests in flight and need about "), "{err}");
}

/// Error messages name an array entry in brackets (`cloud.limits[1].window_s`), and a user
/// copies that key into `--set`: it must reach the same entry. It was read as a key named
/// `limits[1]` ("unknown field `limits[1]`", with every cloud key listed).
#[test]
fn set_takes_keys_as_error_messages_name_them() {
    let sc = shipped("outage.toml");
    let check = |set: &str| {
        let o = edgesim(&["check", sc.to_str().unwrap(), "--set", set]);
        (o.status.code(), stderr(&o))
    };
    let (code, err) = check("cloud.limits.1.window_s=-5");
    assert_eq!(code, Some(2), "{err}");
    let named = "`cloud.limits[1].window_s` = -5";
    assert!(err.contains(named), "{err}");
    // The key as the message names it gives the same message.
    assert_eq!(check("cloud.limits[1].window_s=-5"), (code, err));
    // And it edits that entry: the resolved scenario holds it.
    let o = edgesim(&["check", sc.to_str().unwrap(), "--set", "devices[1].count=7"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_ok(&o);
    let doc: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(doc["devices"][1]["count"].as_integer(), Some(7), "{text}");
    let (code, err) = check("devices[x].count=1");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("malformed index"), "{err}");
}

/// An output path under a file (`--out notes.txt/run`) is refused by every command with the
/// file named as a file, not with the system's "File exists" or "Not a directory", and the
/// file is left as it was.
#[test]
fn an_output_path_under_a_file_names_the_file() {
    let dir = fresh("under-file");
    let file = dir.join("notes.txt");
    std::fs::write(&file, "mine").unwrap();
    let under = |rest: &str| file.join(rest).to_str().unwrap().to_string();
    let steady = root().join("scenarios/steady.toml");
    let steady = steady.to_str().unwrap();
    let bench = root().join("tests/fixtures/llama-bench-smollm2.json");
    let cases: Vec<Vec<String>> = vec![
        vec!["run".into(), steady.into(), "--out".into(), under("run")],
        vec![
            "compare".into(),
            steady.into(),
            "--out".into(),
            under("cmp"),
        ],
        vec![
            "sweep".into(),
            root()
                .join("scenarios/sweeps/ci.toml")
                .to_str()
                .unwrap()
                .into(),
            "--out".into(),
            under("sweep/deeper"),
        ],
        vec![
            "plan".into(),
            root()
                .join("scenarios/plans/retail.toml")
                .to_str()
                .unwrap()
                .into(),
            "--out".into(),
            under("plan"),
        ],
        vec![
            "calibrate".into(),
            "--from-llama-bench".into(),
            bench.to_str().unwrap().into(),
            "--name".into(),
            "box".into(),
            "--model-name".into(),
            "smollm2-135m".into(),
            "--idle-watts".into(),
            "1".into(),
            "--busy-watts".into(),
            "2".into(),
            "--out".into(),
            under("profile.toml"),
        ],
    ];
    for args in cases {
        let o = edgesim(&args);
        let err = stderr(&o);
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            err.contains(&format!("{}: is a file, not a folder", file.display())),
            "{args:?}: {err}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    }
    assert_eq!(names(&dir), vec!["notes.txt"]);
}

// A rate far below one arrival per period.

/// A bursty workload whose period is a millisecond and whose rate is one request in 11 days
/// walked the schedule segment by segment (10^12 of them a gap), and at a billion seconds
/// rounding put a segment's end before its start: the run never ended. Whole periods are now
/// skipped at once, and a periodic workload inverts its integrated rate without a walk (a
/// shape of 100,000 slices of a millisecond and the same rate). Both end, with the requests
/// their rates give (1,000 expected: within 5 standard deviations).
#[test]
fn a_rate_far_below_one_arrival_per_period_ends() {
    let demand = "prompt_tokens = { dist = \"fixed\", value = 10 }\n\
                  output_tokens = { dist = \"fixed\", value = 10 }\n";
    let shape = vec!["1"; 100_000].join(",");
    for workload in [
        "kind = \"bursty\"\nbase_rate_rps = 0\nburst_rate_rps = 1e-6\nburst_length_s = 0.001\n\
         burst_period_s = 0.001\n"
            .to_string(),
        format!("kind = \"periodic\"\nrate_rps = 1e-6\nperiod_s = 100\nshape = [{shape}]\n"),
    ] {
        let text = format!(
            "duration_s = 1e9\n[workload]\n{workload}{demand}{}",
            inline_device("d", 1, 0, &[10.0], 1.0, 1.0)
        );
        let dir = fresh("sparse");
        let p = dir.join("sparse.toml");
        std::fs::write(&p, &text).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgesim"))
            .args(["run", p.to_str().unwrap(), "--no-out", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A liveness guard, not a speed target: the run takes milliseconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("the run did not end:\n{}", &text[..300]);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let n = s["requests_total"].as_f64().unwrap();
        assert!((n - 1000.0).abs() < 5.0 * 1000f64.sqrt(), "{n} requests");
    }
}

/// Long lists in an input are checked with sets, not by comparing every pair: a plan's slot
/// options, its routing options, its board types (against each other's board names), a
/// sweep's axes, the device groups a class names. Each case took seconds to minutes before its
/// answer (1.8 million slot options more than a minute, 20,000 routing options 14 s, 100,000
/// types 17 s, a class naming 50,000 groups two minutes, 100,000 axes more than two: the
/// points were copied once per axis), and writing the resolved scenario out moved its text
/// once per device group (`toml::to_string`). Each answers at once now, as it answered before
/// (a search space too large to count says so, not 18446744073709551615 points).
#[test]
fn long_lists_in_inputs_are_checked_in_linear_time() {
    let dir = fresh("long-lists");
    let plan = retail_plan_text();
    let list =
        |n: usize, item: &dyn Fn(usize) -> String| (0..n).map(item).collect::<Vec<_>>().join(", ");
    let slots = plan.replace(
        "slots = [1, 2]",
        &format!("slots = [{}]", list(100_000, &|i| (i + 1).to_string())),
    );
    let routings = plan.replace(
        "clouds = [\"none\", \"gpt-4o-mini\"]",
        &format!(
            "clouds = [\"none\", \"gpt-4o-mini\"]\nroutings = [{}]",
            list(20_000, &|i| format!("{{ max_predicted_wait_ms = {i} }}"))
        ),
    );
    // Board types (each checked against the others' board names), 20,000 named `t0`, ... and
    // `last` after them.
    let types = |last: &str| {
        let names = (0..20_000)
            .map(|i| format!("t{i}"))
            .chain([last.to_string()]);
        let tables: String = names
            .filter(|n| !n.is_empty())
            .map(|n| {
                format!(
                    "[[types]]\nname = \"{n}\"\nprofile = \"jetson-orin-nano\"\n\
                     model = \"qwen2.5-3b\"\nprice_usd = 1\nmax_count = 2\n"
                )
            })
            .collect();
        plan.replace("[search]", &format!("{tables}[search]"))
    };
    for (tag, text) in [
        ("slots", slots),
        ("routings", routings),
        ("types", types("")),
    ] {
        let p = dir.join(format!("{tag}.toml"));
        std::fs::write(&p, text).unwrap();
        let o = edgesim(&["plan", p.to_str().unwrap(), "--out", "/nonexistent/x"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{tag}: {err}");
        assert!(
            err.contains("the search space holds") && err.contains("at most 10000000"),
            "{tag}: {err}"
        );
    }
    // A type named as the board of another, far down the list, is still found.
    let p = dir.join("board.toml");
    std::fs::write(&p, types("t7-2")).unwrap();
    let err = stderr(&edgesim(&["plan", p.to_str().unwrap()]));
    assert!(
        err.contains("`types[20002].name` = \"t7-2\"") && err.contains("boards of type \"t7\""),
        "{err}"
    );
    // A repeat far down the list is still found.
    let p = dir.join("repeat.toml");
    std::fs::write(
        &p,
        plan.replace(
            "slots = [1, 2]",
            &format!(
                "slots = [{}, 7]\nmax_count = 1",
                list(30_000, &|i| (i + 1).to_string())
            ),
        )
        .replacen("max_count = 16\n", "", 1),
    )
    .unwrap();
    let err = stderr(&edgesim(&["plan", p.to_str().unwrap()]));
    assert!(
        err.contains("`types[0].slots[30000]` = 7: repeated value"),
        "{err}"
    );

    let axes: String = (0..20_000)
        .map(|i| format!("[[axes]]\nkey = \"metrics.x{i}\"\nvalues = [1]\n"))
        .collect();
    let p = dir.join("axes.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"axes\"\nscenario = \"{}\"\n{axes}",
            shipped("bursty.toml").display()
        ),
    )
    .unwrap();
    let err = stderr(&edgesim(&[
        "sweep",
        p.to_str().unwrap(),
        "--out",
        "/nonexistent/x",
    ]));
    assert!(
        err.contains("`axes[0] (metrics.x0)` = 1") && err.contains("unknown field `x0`"),
        "{err}"
    );

    // A sweep of 20,000 points: its expectation's points grouped by the free axes (each group
    // was found by scanning every point: 11 s more than the runs), and its figure's panels.
    let rates = list(10_000, &|i| format!("{}", 0.001 + i as f64 * 1e-6));
    let p = dir.join("points.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"points\"\nscenario = \"{}\"\n\
             [[axes]]\nkey = \"workload.rate_rps\"\nvalues = [{rates}]\n\
             [[axes]]\nkey = \"duration_s\"\nvalues = [1, 2]\n\
             [[expect]]\nname = \"a longer run has its first second's requests\"\n\
             left = {{ metric = \"requests_total\", where = {{ duration_s = 1 }} }}\n\
             op = \"<=\"\nright = {{ metric = \"requests_total\", where = {{ duration_s = 2 }} }}\n\
             [[plots]]\nmetric = \"requests_total\"\nx = \"workload.rate_rps\"\nseries = \"duration_s\"\n",
            shipped("steady.toml").display()
        ),
    )
    .unwrap();
    let out = dir.join("points-out");
    let o = edgesim(&[
        "sweep",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--check",
        "--csv",
    ]);
    assert_ok(&o);
    assert!(
        stderr(&o).contains("checks: 1 expectations, 10000 comparisons, 0 failed"),
        "{}",
        stderr(&o)
    );
    let data = std::fs::read_to_string(out.join("plot1_requests_total.csv")).unwrap();
    assert_eq!(data.lines().count(), 1 + 20_000, "one row per point");
    // Both tables are written 8,192 rows at a time: every run and every point once, in order,
    // and each point's mean that of its one run.
    let table = |name: &str| -> (Vec<String>, Vec<Vec<String>>) {
        let text = std::fs::read_to_string(out.join(name)).unwrap();
        let mut lines = text
            .lines()
            .map(|l| l.split(',').map(String::from).collect());
        (lines.next().unwrap(), lines.collect())
    };
    let at = |h: &[String], name: &str| h.iter().position(|c| c == name).unwrap();
    let (rh, runs) = table("runs.csv");
    let (ph, points) = table("points.csv");
    assert_eq!((runs.len(), points.len()), (20_000, 20_000));
    let (run, point, served) = (at(&rh, "run"), at(&rh, "point"), at(&rh, "requests_total"));
    let (pp, mean, n) = (
        at(&ph, "point"),
        at(&ph, "requests_total_mean"),
        at(&ph, "runs"),
    );
    for (i, (r, p)) in runs.iter().zip(&points).enumerate() {
        assert_eq!(
            (r[run].as_str(), r[point].as_str()),
            (&*i.to_string(), &*i.to_string())
        );
        assert_eq!((p[pp].as_str(), p[n].as_str()), (&*i.to_string(), "1"));
        assert_eq!(p[mean], r[served], "point {i}");
    }

    let n = 20_000;
    let names = list(n, &|i| format!("\"g{i}\""));
    let groups: String = (0..n)
        .map(|i| {
            format!(
                "[[devices]]\nname = \"g{i}\"\nprofile = \"jetson-agx-orin\"\nmodel = \"qwen2.5-3b\"\n"
            )
        })
        .collect();
    let p = dir.join("groups.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"groups\"\nduration_s = 1\n[workload]\nkind = \"poisson\"\nrate_rps = 1\n\
             prompt_tokens = {{ dist = \"fixed\", value = 100 }}\n\
             output_tokens = {{ dist = \"fixed\", value = 100 }}\n\
             [[workload.classes]]\nname = \"a\"\nshare = 1\ndevices = [{names}]\n{groups}"
        ),
    )
    .unwrap();
    let o = edgesim(&["check", p.to_str().unwrap()]);
    assert_ok(&o);
    let resolved = String::from_utf8_lossy(&o.stdout);
    assert_eq!(resolved.matches("[[devices]]").count(), n);
    assert!(
        stderr(&o).contains("ok (20000 devices, 1 class)"),
        "{}",
        stderr(&o)
    );
    // A name listed twice, last.
    std::fs::write(
        &p,
        std::fs::read_to_string(&p)
            .unwrap()
            .replace(&format!("\"g{}\"]", n - 1), "\"g0\"]"),
    )
    .unwrap();
    let err = stderr(&edgesim(&["check", p.to_str().unwrap()]));
    assert!(
        err.contains(&format!("workload.classes[0].devices[{}]` = \"g0\"", n - 1))
            && err.contains("listed before it"),
        "{err}"
    );
}
