//! A deterministic mutation fuzzer for the scenario loader, the trace reader, the profile and
//! model-catalogue parsers, the sweep and plan loaders, the calibration imports (llama-bench
//! JSON, llama-batched-bench tables and JSON lines) and the shard merges (sweep and plan
//! journals): shipped inputs with random edits (extreme numbers, wrong types, deleted,
//! repeated and cut lines), a bounded number of cases per target so CI runs it every time.
//!
//! What must hold for every case: no panic; an error names its file and stays short; a
//! scenario that loads and is small enough to run ends every request exactly once.
//! `EDGESIM_FUZZ_CASES` raises the case count (default 300 per target); `EDGESIM_FUZZ_SEED`
//! picks another sequence of edits.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use edgesim::scenario::{LoadOptions, Scenario};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::common::*;

const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1e300",
    "-1e300",
    "1e-300",
    "nan",
    "inf",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "0.5",
    "1e9",
    "\"x\"",
    "[]",
    "{}",
    "true",
    "\"\"",
    "\"/dev/zero\"",
    // A shipped profile's name, and a kind's name alone (where a table goes).
    "\"jetson-orin-nano\"",
    "\"random\"",
];

fn cases() -> usize {
    std::env::var("EDGESIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn rng(target: u64) -> StdRng {
    let seed = std::env::var("EDGESIM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_124u64);
    StdRng::seed_from_u64(seed ^ target.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// One random edit of `text`.
fn mutate(text: &str, r: &mut StdRng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return String::new();
    }
    let edits = r.random_range(1..=3);
    for _ in 0..edits {
        let i = r.random_range(0..lines.len());
        match r.random_range(0..7) {
            // Replace a value after `=` or a number inside a line.
            0..=2 => {
                let v = EXTREMES[r.random_range(0..EXTREMES.len())];
                if let Some((k, _)) = lines[i].split_once('=') {
                    lines[i] = format!("{k}= {v}");
                } else if let Some(pos) = lines[i].find(|c: char| c.is_ascii_digit()) {
                    let end = lines[i][pos..]
                        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                        .map_or(lines[i].len(), |e| pos + e);
                    lines[i].replace_range(pos..end, v.trim_matches('"'));
                }
            }
            3 => {
                lines.remove(i);
                if lines.is_empty() {
                    break;
                }
            }
            4 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            5 => {
                let cut = r.random_range(0..=lines[i].len());
                let cut = (0..=cut)
                    .rev()
                    .find(|c| lines[i].is_char_boundary(*c))
                    .unwrap_or(0);
                lines[i].truncate(cut);
            }
            _ => lines.insert(i, "x = 1".into()),
        }
    }
    lines.join("\n") + "\n"
}

/// The error message must name the file and stay short.
fn good_error(msg: &str, file: &str, case: &str) {
    assert!(!msg.is_empty(), "empty error for:\n{case}");
    assert!(
        msg.contains(file),
        "error does not name {file}: {msg}\nfor:\n{case}"
    );
    assert!(
        msg.len() < 4000,
        "{} bytes of error for:\n{case}",
        msg.len()
    );
}

#[test]
fn fuzz_scenario_loader_and_small_runs() {
    let mut ran = 0;
    let mut searched = 0;
    for (t, name) in [
        "bursty.toml",
        "steady.toml",
        "azure-trace.toml",
        "fleet.toml",
        "failures.toml",
        "outage.toml",
        "plans/retail-traffic.toml",
        // Request classes with routes, priorities and timeouts of their own.
        "clinic.toml",
        // Classes served by some device groups only.
        "documents.toml",
        // A periodic rate shape.
        "daily.toml",
    ]
    .iter()
    .enumerate()
    {
        let path = shipped(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut r = rng(t as u64 + 1);
        for _ in 0..cases() {
            let case = mutate(&text, &mut r);
            let loaded = catch_unwind(AssertUnwindSafe(|| {
                Scenario::from_str_at(&case, &path, &LoadOptions::default())
            }))
            .unwrap_or_else(|_| panic!("loader panicked on:\n{case}"));
            let sc = match loaded {
                Ok(sc) => sc,
                Err(e) => {
                    good_error(&e.to_string(), name, &case);
                    continue;
                }
            };
            // Its load scaled as `edgesim capacity` scales it, far down and up: a scaled copy
            // is accepted or refused with an error naming the file, never a panic.
            let file = sc.to_file();
            for scale in [1e-6, 0.37, 3.0, 1e6] {
                let (f, _) = edgesim::capacity::scaled(&file, scale);
                let v = catch_unwind(AssertUnwindSafe(|| Scenario::from_file(f, &path)))
                    .unwrap_or_else(|_| {
                        panic!("scaled by {scale}, the loader panicked on:\n{case}")
                    });
                if let Err(e) = v {
                    good_error(&e.to_string(), name, &case);
                }
            }
            let est = edgesim::scenario::budget::estimate(&sc);
            if est.requests > 3000.0 || sc.device_count() > 200 {
                continue;
            }
            // Every tenth one run, a short capacity search (a run or three).
            // (Mutated shipped scenarios estimate 1,500-2,500 requests: a bound of 1,000 here
            // let no search run at the default number of cases.)
            if ran % 10 == 0 {
                let st = edgesim::capacity::Settings {
                    goals: vec![edgesim::plan::Goal {
                        key: "ttft_p95_ms",
                        class: None,
                        quantity: edgesim::plan::Quantity::TtftP95Ms,
                        bound: 1000.0,
                        at_most: true,
                    }],
                    replications: 1,
                    precision: 1.0,
                    min_scale: 0.5,
                    max_scale: 2.0,
                    traffic_hours_per_month: 730.0,
                };
                let o = catch_unwind(AssertUnwindSafe(|| {
                    edgesim::capacity::search(&sc, &st, Some(1), &|_| {})
                }))
                .unwrap_or_else(|_| panic!("capacity panicked on:\n{case}"));
                match o {
                    Ok(o) => {
                        assert!(!o.probes.is_empty() && o.probes.len() <= 3, "{o:?}");
                        searched_again_from_its_journal(&sc, &st, &o, &case);
                        searched += 1;
                    }
                    Err(e) => good_error(&e.to_string(), name, &case),
                }
            }
            let s = catch_unwind(AssertUnwindSafe(|| edgesim::sim::run(&sc)))
                .unwrap_or_else(|_| panic!("run panicked on:\n{case}"));
            if let Ok(s) = s {
                assert_eq!(
                    s.requests_total,
                    s.served_edge + s.served_cloud + s.rejected,
                    "conservation broken on:\n{case}"
                );
                ran += 1;
            }
        }
    }
    // The fuzzer must exercise runs, not only errors.
    assert!(ran >= 50, "only {ran} mutated scenarios ran");
    assert!(searched >= 5, "only {searched} capacity searches ran");
    eprintln!("{ran} mutated scenarios ran, {searched} capacity searches");
}

/// The capacity search of `sc` recorded in a journal gives `o`, the search without one, and a
/// search that reads that journal runs nothing and gives `o` again: every run (whatever its
/// metrics: empty, huge, not finite) reads back as it ran.
fn searched_again_from_its_journal(
    sc: &Scenario,
    st: &edgesim::capacity::Settings,
    o: &edgesim::capacity::Outcome,
    case: &str,
) {
    use edgesim::capacity::journal::Journal;
    let dir = scratch_dir("fuzz-capacity-journal");
    let path = dir.join("runs.jsonl");
    let without_counts = |o: &edgesim::capacity::Outcome| {
        let mut o = o.clone();
        o.probes.iter_mut().for_each(|p| p.from_journal = 0);
        format!("{o:?}")
    };
    let (mut j, warnings) = Journal::read(sc, &[]);
    assert!(warnings.is_empty());
    j.record_to(&path).unwrap();
    let recorded = edgesim::capacity::search_with(sc, st, Some(1), &j, &|_| {}).unwrap();
    assert_eq!(format!("{recorded:?}"), format!("{o:?}"), "on:\n{case}");
    j.finish().unwrap();
    let (j, warnings) = Journal::read(sc, std::slice::from_ref(&path));
    assert!(warnings.is_empty(), "{warnings:?} on:\n{case}");
    let again = edgesim::capacity::search_with(sc, st, Some(1), &j, &|_| {}).unwrap();
    assert!(
        again.probes.iter().all(|p| p.from_journal == p.runs.len()),
        "runs simulated again on:\n{case}"
    );
    assert_eq!(without_counts(&again), format!("{o:?}"), "on:\n{case}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fuzz_trace_reader() {
    // Twenty rows, plain, and with quoted fields and a free-text column (RFC 4180 quoting).
    let mut text = String::from("TIMESTAMP,ContextTokens,GeneratedTokens\n");
    let mut quoted = String::from("\"TIMESTAMP\",note,\"ContextTokens\",GeneratedTokens\n");
    for i in 0..20 {
        let (ts, p, o) = (
            format!("2023-11-16 18:15:{:02}.{i}0", i * 2),
            100 + i * 37,
            20 + i,
        );
        text.push_str(&format!("{ts},{p},{o}\n"));
        quoted.push_str(&format!("\"{ts}\",\"a \"\"note\"\", {i}\",\"{p}\",{o}\n"));
    }
    let path = Path::new("fuzz-trace.csv");
    // The file reader (line by line) must agree with the text parser on every case.
    let file = scratch("fuzz-trace").join("fuzz-trace.csv");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let mut r = rng(101);
    let mut ok = 0;
    for k in 0..cases() * 3 {
        let case = mutate(if k % 2 == 0 { &text } else { &quoted }, &mut r);
        let res = catch_unwind(AssertUnwindSafe(|| {
            edgesim::workload::trace::parse_trace(&case, path)
        }))
        .unwrap_or_else(|_| panic!("trace reader panicked on:\n{case}"));
        std::fs::write(&file, &case).unwrap();
        let from_file = edgesim::workload::trace::read_trace(&file).map_err(|e| {
            e.to_string()
                .replace(&file.display().to_string(), "fuzz-trace.csv")
        });
        assert_eq!(
            from_file,
            res.as_ref().map(Clone::clone).map_err(|e| e.to_string()),
            "the file reader and the text parser differ on:\n{case}"
        );
        match res {
            Ok(rows) => {
                ok += 1;
                assert!(!rows.is_empty());
                assert!(rows.windows(2).all(|w| w[0].offset_us <= w[1].offset_us));
                assert!(rows.iter().all(|x| x.prompt_tokens <= 10_000_000));
            }
            Err(e) => good_error(&e.to_string(), "fuzz-trace.csv", &case),
        }
    }
    assert!(ok > 0);
}

/// The device profile and the model catalogue, parsed from edited text.
#[test]
fn fuzz_profile_and_catalogue_parsers() {
    for (t, file) in ["jetson-orin-nano.toml", "models.toml"].iter().enumerate() {
        let path = root().join("calibration").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut r = rng(202 + t as u64);
        for _ in 0..cases() {
            let case = mutate(&text, &mut r);
            let err = catch_unwind(AssertUnwindSafe(|| {
                if t == 0 {
                    edgesim::device::profile::parse_profile(&case, &path).err()
                } else {
                    edgesim::catalogue::ModelCatalogue::parse(&case, &path).err()
                }
            }))
            .unwrap_or_else(|_| panic!("{file}: the parser panicked on:\n{case}"));
            if let Some(e) = err {
                good_error(&e.to_string(), file, &case);
            }
        }
    }
}

/// `text` with every relative file reference (a quoted `….toml` or `../…` value) made
/// absolute against `dir`, so that a mutated copy can live in a temporary folder.
fn absolute_refs(text: &str, dir: &Path) -> String {
    text.lines()
        .map(|line| match line.split_once('=') {
            Some((k, v)) => {
                let v = v.trim();
                let inner = v.trim_matches('"');
                if v.starts_with('"')
                    && v.ends_with('"')
                    && (inner.starts_with("../") || inner.ends_with(".toml"))
                {
                    format!("{k}= {:?}", dir.join(inner).to_string_lossy())
                } else {
                    line.to_string()
                }
            }
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Sweep and plan files, edited like the scenarios: loading one (which validates every point
/// or option it names) must return a plan or an error that names the file, never panic.
#[test]
fn fuzz_sweep_and_plan_loaders() {
    let mut loaded = 0;
    // The retail plan also with routing options (README, "Planning a fleet").
    let routings = |t: String| {
        assert!(t.contains("\n[goals]"));
        t.replacen(
            "\n[goals]",
            "routings = [{}, { max_predicted_wait_ms = 0 }, { queue_timeout_ms = 2000 }]\n\n[goals]",
            1,
        )
    };
    // And a plan for growth (docs/plan.md, "Several loads").
    let growth = |t: String| {
        assert!(t.contains("\nreplications = "));
        t.replacen(
            "\nreplications = ",
            "\nload_scale = [1, 1.5, 0.5]\nreplications = ",
            1,
        )
    };
    let same = |t: String| t;
    for (t, (name, edit)) in [
        ("sweeps/policies.toml", &same as &dyn Fn(String) -> String),
        ("sweeps/ci.toml", &same),
        ("plans/retail.toml", &same),
        ("sweeps/queue-timeout.toml", &same),
        ("sweeps/assistant-classes.toml", &same),
        ("plans/assistant.toml", &same),
        ("sweeps/clinic-boards.toml", &same),
        ("sweeps/predicted-wait.toml", &same),
        ("plans/retail.toml", &routings),
        ("plans/retail.toml", &growth),
    ]
    .iter()
    .enumerate()
    {
        let path = shipped(name);
        let text = edit(absolute_refs(
            &std::fs::read_to_string(&path).unwrap(),
            path.parent().unwrap(),
        ));
        let file = name.rsplit('/').next().unwrap();
        let mut r = rng(301 + t as u64);
        for i in 0..cases() / 2 {
            let case = mutate(&text, &mut r);
            let p = temp_file(&format!("fuzz-{t}-{i}"), file, &case);
            let ok = catch_unwind(AssertUnwindSafe(|| {
                if name.starts_with("sweeps/") {
                    edgesim::sweep::Plan::load(&p).map(|_| ())
                } else {
                    // Every load a list gives, as `edgesim plan` loads them.
                    let loads = edgesim::plan::Planner::file_load_scales(&p)?;
                    if loads.len() > 1 {
                        (0..loads.len())
                            .try_for_each(|i| edgesim::plan::Planner::load_at(&p, i).map(|_| ()))
                    } else {
                        edgesim::plan::Planner::load(&p).map(|_| ())
                    }
                }
            }))
            .unwrap_or_else(|_| panic!("{name}: the loader panicked on:\n{case}"));
            match ok {
                Ok(()) => loaded += 1,
                Err(e) => good_error(&e.to_string(), file, &case),
            }
            let _ = std::fs::remove_dir_all(p.parent().unwrap());
        }
    }
    // The edits must leave some files valid, or only the error paths were tried.
    assert!(
        loaded >= 10,
        "only {loaded} mutated sweep and plan files loaded"
    );
}

/// `llama-bench` JSON and `llama-batched-bench` tables, edited like the other inputs:
/// importing one must give a profile that passes the profile checks, or an error that names
/// the file, never a panic.
#[test]
fn fuzz_calibration_imports() {
    use edgesim::calibrate::ProfileMeta;
    let meta = ProfileMeta {
        device_name: "fuzz".into(),
        model_name: "qwen2.5-0.5b".into(),
        memory_gb: 8.0,
        idle_watts: Some(5.0),
        busy_watts: Some(15.0),
        ..Default::default()
    };
    // The two fixtures, and the batched table as JSON lines (`--output-format jsonl`).
    let table = std::fs::read_to_string(root().join("tests/fixtures/batched-bench-llama7b-f16.md"))
        .unwrap();
    let keys = [
        "pp", "tg", "pl", "n_kv", "t_pp", "speed_pp", "t_tg", "speed_tg", "t", "speed",
    ];
    let jsonl: String = table
        .lines()
        .filter(|l| l.starts_with('|') && l.chars().nth(4).is_some_and(|c| c.is_ascii_digit()))
        .map(|l| {
            let cells = l.split('|').map(str::trim).filter(|c| !c.is_empty());
            let fields: Vec<String> = keys
                .iter()
                .zip(cells)
                .map(|(k, v)| format!("\"{k}\": {v}"))
                .collect();
            format!("{{{}}}\n", fields.join(", "))
        })
        .collect();
    let inputs = [
        (
            "llama-bench-smollm2.json",
            std::fs::read_to_string(root().join("tests/fixtures/llama-bench-smollm2.json"))
                .unwrap(),
        ),
        ("batched-bench-llama7b-f16.md", table),
        ("batched-bench.jsonl", jsonl),
    ];
    let mut imported = 0;
    for (t, (fixture, text)) in inputs.iter().enumerate() {
        assert!(
            from_text_ok(t, fixture, text, &meta),
            "{fixture} must import unedited"
        );
        let mut r = rng(401 + t as u64);
        for i in 0..cases() {
            let case = mutate(text, &mut r);
            let p = temp_file(&format!("fuzz-import-{t}-{i}"), fixture, &case);
            let res = catch_unwind(AssertUnwindSafe(|| import(t, &p, &meta)))
                .unwrap_or_else(|_| panic!("{fixture}: the import panicked on:\n{case}"));
            match res {
                Ok(profile) => {
                    // What was imported must read back as a valid profile.
                    let written = edgesim::calibrate::to_toml(&profile, "");
                    if let Err(e) = edgesim::device::profile::parse_profile(&written, &p) {
                        panic!("{fixture}: an invalid profile ({e}) was imported from:\n{case}");
                    }
                    imported += 1;
                }
                Err(e) => good_error(&e.to_string(), fixture, &case),
            }
            let _ = std::fs::remove_dir_all(p.parent().unwrap());
        }
    }
    assert!(imported >= 10, "only {imported} mutated files imported");
}

/// The journal of a calibration in progress (`calibrate --model --resume` reads it): mutated,
/// it is read without a panic, and every journal it accepts holds only points a profile could
/// come from, each once, and reads back the same once written again.
#[test]
fn fuzz_calibration_journal() {
    use edgesim::calibrate::partial;
    let text = "idle_done = true\nidle_w = 4.5\n\
                [settings]\nmodel_sha256 = \"abab\"\nn_ctx = 768\nthreads = 2\ngpu_layers = 0\n\
                decode_tokens = 16\nrepetitions = 2\nmetered = true\n\
                [[prefill]]\nprompt_tokens = 32\nttft_s = [0.09, 0.1]\n\
                [[streams]]\nstreams = 1\nmean_context_tokens = 16.5\ntokens_per_s = [120.0, 121.5]\npower_w = 9.0\n\
                [[contexts]]\ncontext_tokens = 512\nmean_context_tokens = 520.5\ntokens_per_s = [99.0, 98.5]\n\
                [[phases]]\nname = \"idle\"\nfrom_unix_s = 1.0\nto_unix_s = 2.0\n\
                [[phases]]\nname = \"decode-1\"\nfrom_unix_s = 3.0\nto_unix_s = 4.5\n";
    let name = "board.partial.toml";
    let p = temp_file("fuzz-journal-unedited", name, text);
    assert_eq!(
        partial::read(&p).unwrap().points(),
        4,
        "the journal reads unedited"
    );
    let _ = std::fs::remove_dir_all(p.parent().unwrap());
    let mut r = rng(409);
    let mut accepted = 0;
    for i in 0..cases() {
        let case = mutate(text, &mut r);
        let p = temp_file(&format!("fuzz-journal-{i}"), name, &case);
        let res = catch_unwind(AssertUnwindSafe(|| partial::read(&p)))
            .unwrap_or_else(|_| panic!("the journal reader panicked on:\n{case}"));
        match res {
            Ok(j) => {
                let all_positive = j.prefill.iter().flat_map(|x| &x.ttft_s).all(|t| *t > 0.0)
                    && j.streams
                        .iter()
                        .flat_map(|x| &x.tokens_per_s)
                        .all(|s| *s > 0.0)
                    && j.contexts
                        .iter()
                        .flat_map(|x| &x.tokens_per_s)
                        .all(|s| *s > 0.0);
                assert!(
                    all_positive,
                    "accepted a time or speed not above 0:\n{case}"
                );
                j.write(&p).unwrap();
                assert_eq!(partial::read(&p).unwrap(), j, "reads back:\n{case}");
                accepted += 1;
            }
            Err(e) => good_error(&e.to_string(), name, &case),
        }
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }
    assert!(
        accepted >= 10 || cases() < 100,
        "only {accepted} mutated journals read"
    );
}

/// Input `t` of `fuzz_calibration_imports` (0: llama-bench, else llama-batched-bench).
fn import(
    t: usize,
    p: &Path,
    meta: &edgesim::calibrate::ProfileMeta,
) -> edgesim::Result<edgesim::device::profile::DeviceProfile> {
    if t == 0 {
        edgesim::calibrate::from_llama_bench(p, None, None, meta)
    } else {
        edgesim::calibrate::from_batched_bench(p, meta)
    }
}

/// Whether input `t` imports unedited.
fn from_text_ok(t: usize, name: &str, text: &str, meta: &edgesim::calibrate::ProfileMeta) -> bool {
    let p = temp_file(&format!("fuzz-import-{t}-unedited"), name, text);
    let ok = import(t, &p, meta).is_ok();
    let _ = std::fs::remove_dir_all(p.parent().unwrap());
    ok
}

/// The largest token counts the import formats can hold (u32::MAX generated tokens) are read
/// without overflow: the mean context of a generation test, depth + (n_gen + 1) / 2, is
/// computed in floating point (`n_gen + 1` overflowed, a panic in debug builds found by the
/// target above).
#[test]
fn imports_take_the_largest_token_counts_without_overflow() {
    use edgesim::calibrate::{ProfileMeta, from_batched_bench, from_llama_bench};
    let meta = ProfileMeta {
        model_name: "qwen2.5-0.5b".into(),
        idle_watts: Some(5.0),
        busy_watts: Some(15.0),
        ..Default::default()
    };
    let bench = std::fs::read_to_string(root().join("tests/fixtures/llama-bench-smollm2.json"))
        .unwrap()
        .replacen("\"n_gen\": 64,", "\"n_gen\": 4294967295,", 1);
    assert!(bench.contains("4294967295"));
    let p = temp_file("max-tokens", "bench.json", &bench);
    if let Err(e) = from_llama_bench(&p, None, None, &meta) {
        good_error(&e.to_string(), "bench.json", &bench);
    }
    // Two prompt lengths, so that the context is fitted, and one row with TG = u32::MAX.
    let table = "| PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s |\n\
                 |---|---|---|---|---|---|---|---|---|---|\n\
                 | 128 | 128 | 1 | 256 | 0.108 | 1186.64 | 3.079 | 41.57 | 3.187 | 80.32 |\n\
                 | 512 | 4294967295 | 1 | 640 | 0.4 | 1280.0 | 3.2 | 40.0 | 3.6 | 177.8 |\n";
    let p = temp_file("max-tokens", "batched.md", table);
    if let Err(e) = from_batched_bench(&p, &meta) {
        good_error(&e.to_string(), "batched.md", table);
    }
}

/// The journals a shard folder holds (`plan.json` and `runs.jsonl` of a sweep, `runs.jsonl`
/// of a plan), edited like the other inputs: merging the shards must give a result or an error
/// that names a file, never a panic. The shards are made once by the real commands.
#[test]
fn fuzz_shard_merges() {
    let base = scratch("fuzz-merge");
    let _ = std::fs::remove_dir_all(&base);
    let shard = |s: &str| s.parse::<edgesim::sweep::exec::Shard>().unwrap();
    let sweep = edgesim::sweep::Plan::load(&shipped("sweeps/ci.toml")).unwrap();
    let planner = edgesim::plan::Planner::load(&shipped("plans/retail.toml")).unwrap();
    let formats = edgesim::output::formats(false);
    for i in 0..2 {
        let s = shard(&format!("{i}/2"));
        let dir = base.join(format!("sweep-{i}"));
        edgesim::sweep::run(&sweep, &dir, Some(s), Some(1), &formats, &|_| {}).unwrap();
        let dir = base.join(format!("plan-{i}"));
        edgesim::plan::search::search(&planner, &dir, Some(s), Some(1), &|_| {}).unwrap();
    }
    let mut merged = 0;
    for (t, (kind, file)) in [
        ("sweep", "plan.json"),
        ("sweep", "runs.jsonl"),
        ("plan", "runs.jsonl"),
    ]
    .iter()
    .enumerate()
    {
        let first = base.join(format!("{kind}-0"));
        let text = std::fs::read_to_string(base.join(format!("{kind}-1")).join(file)).unwrap();
        let mut r = rng(501 + t as u64);
        for i in 0..cases() / 3 {
            let case = mutate(&text, &mut r);
            let edited = base.join(format!("edited-{t}-{i}"));
            copy_dir(&base.join(format!("{kind}-1")), &edited);
            std::fs::write(edited.join(file), &case).unwrap();
            // The edited shard first: a merge takes its plan from the first shard.
            let shards = [edited.clone(), first.clone()];
            let out = base.join(format!("merged-{t}-{i}"));
            let res = catch_unwind(AssertUnwindSafe(|| {
                if *kind == "sweep" {
                    edgesim::sweep::merge(&shards, &out, &formats).map(|_| ())
                } else {
                    edgesim::plan::search::merge(&planner, &shards, Some(1)).map(|_| ())
                }
            }))
            .unwrap_or_else(|_| panic!("{kind} merge panicked on {file}:\n{case}"));
            match res {
                Ok(()) => merged += 1,
                Err(e) => {
                    let msg = e.to_string();
                    // It names a shard folder or a file in one (a run missing from all
                    // shards is reported against the first).
                    assert!(
                        msg.contains(&base.display().to_string()) && msg.len() < 4000,
                        "the error names no shard: {msg}\nfor {file}:\n{case}"
                    );
                }
            }
            let _ = std::fs::remove_dir_all(&edited);
            let _ = std::fs::remove_dir_all(&out);
        }
    }
    assert!(merged >= 10, "only {merged} edited shards merged");
    let _ = std::fs::remove_dir_all(&base);
}

/// Copies the files of folder `from` (no subfolders) into a new folder `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
