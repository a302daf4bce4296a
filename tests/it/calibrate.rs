//! `edgesim calibrate`: the llama-bench importer on a real llama-bench output (always), and a
//! real calibration of a small GGUF model through llama.cpp (feature `llm`).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;
use edgesim::device::profile::DeviceProfile;

fn out_path(tag: &str) -> PathBuf {
    let d = scratch("cal");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(format!("{tag}.toml"));
    let _ = std::fs::remove_file(&p);
    p
}

/// Runs `calibrate --<input> <path>` (fixed name and watts) and asserts a clean failure: exit 2,
/// no panic, every needle in the message, and no profile written.
fn calibrate_fails(tag: &str, input: &str, path: &str, needles: &[&str]) {
    let out = out_path(tag);
    let o = calibrate_into(input, path, &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{tag}: {err}");
    assert!(!err.contains("panicked"), "{tag}: {err}");
    for n in needles {
        assert!(err.contains(n), "{tag}: lacks `{n}`: {err}");
    }
    assert!(!out.exists(), "{tag}: nothing written");
}

/// Runs `calibrate --<input> <path>` into `out` with a fixed name and watts.
fn calibrate_into(input: &str, path: &str, out: &Path) -> Output {
    calibrate_watts(input, path, out, ("1", "2"))
}

/// Runs `calibrate --<input> <path>` into `out` with a fixed name and the `(idle, busy)`
/// watts given.
fn calibrate_watts(input: &str, path: &str, out: &Path, (idle, busy): (&str, &str)) -> Output {
    edgesim(&[
        "calibrate",
        input,
        path,
        "--name",
        "x",
        "--out",
        out.to_str().unwrap(),
        "--idle-watts",
        idle,
        "--busy-watts",
        busy,
    ])
}

/// The watt flags are bounded as a profile's watts are (`device::profile::MAX_WATTS`,
/// 100 kW), before anything is measured or written.
#[test]
fn watt_flags_are_bounded() {
    let input = root().join("tests/fixtures/batched-bench-llama7b-f16.md");
    for (watts, flag, shown) in [
        (("1e9", "2"), "--idle-watts", "1000000000"),
        (("1", "100001"), "--busy-watts", "100001"),
    ] {
        let out = out_path("watts");
        let o = calibrate_watts("--from-batched-bench", input.to_str().unwrap(), &out, watts);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
        assert!(
            err.contains(&format!("{flag} {shown}")) && err.contains("from 0 to 100000"),
            "{flag}: {err}"
        );
        assert!(!out.exists(), "{flag}: nothing written");
    }
}

fn fixture() -> PathBuf {
    root().join("tests/fixtures/llama-bench-smollm2.json")
}

/// The profile runs in a scenario: `edgesim run` accepts it.
fn runs_in_a_scenario(profile: &Path) {
    let text = format!(
        "duration_s = 120\n[workload]\nkind = \"poisson\"\nrate_rps = 1.0\n\
         prompt_tokens = {{ dist = \"fixed\", value = 100 }}\noutput_tokens = {{ dist = \"fixed\", value = 20 }}\n\
         [[devices]]\nname = \"me\"\nprofile = \"{}\"\nmodel = \"smollm2-135m\"\nslots = 2\n",
        profile.display()
    );
    // A file of its own per call: tests that run at once must not read one another's half
    // written (a shared one was read empty once).
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let sc = temp_file(&format!("cal-run-{call}"), "sc.toml", &text);
    let o = edgesim(&["run", sc.to_str().unwrap(), "--no-out", "--json"]);
    assert_ok(&o);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(s["served_edge"].as_u64().unwrap() > 0);
}

/// `calibrate --from-llama-bench INPUT` (board "bench box", SmolLM2, 20 W idle, 45 W busy)
/// into `out`, which must succeed; the profile written.
fn import_bench(tag: &str, input: &Path, out: &Path) -> DeviceProfile {
    import("--from-llama-bench", tag, input, out)
}

/// `calibrate FLAG INPUT` as [`import_bench`].
fn import(flag: &str, tag: &str, input: &Path, out: &Path) -> DeviceProfile {
    let o = edgesim(&[
        "calibrate",
        flag,
        input.to_str().unwrap(),
        "--name",
        "bench box",
        "--model-name",
        "smollm2-135m",
        "--out",
        out.to_str().unwrap(),
        "--idle-watts",
        "20",
        "--busy-watts",
        "45",
    ]);
    assert!(
        o.status.success(),
        "{tag}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    toml::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

#[test]
fn imports_llama_bench_json_and_jsonl() {
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    for (tag, input) in [
        ("json", fixture()),
        ("jsonl", {
            let lines: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
            temp_file("cal-jsonl", "bench.jsonl", &(lines.join("\n") + "\n"))
        }),
    ] {
        let out = out_path(tag);
        let p = import_bench(tag, &input, &out);
        let m = &p.models[0];
        // D(1) = the median of the generation samples; prefill points = n_prompt / samples.
        let tg: Vec<f64> = entries
            .iter()
            .filter(|e| e["n_prompt"] == 0)
            .flat_map(|e| {
                e["samples_ts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
            })
            .collect();
        let mut sorted = tg.clone();
        sorted.sort_by(f64::total_cmp);
        let med = if sorted.len() % 2 == 1 {
            sorted[sorted.len() / 2]
        } else {
            (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
        };
        assert_eq!(m.decode_tps, vec![med], "{tag}");
        let pp: Vec<u64> = entries
            .iter()
            .filter(|e| e["n_gen"] == 0)
            .map(|e| e["n_prompt"].as_u64().unwrap())
            .collect();
        assert_eq!(m.prefill_curve.len(), pp.len(), "{tag}");
        assert_eq!((m.busy_w, p.device.idle_w), (45.0, 20.0));
        let prov = p.provenance.as_ref().unwrap();
        assert!(prov["model_file"].as_str().unwrap().contains("SmolLM2"));
        runs_in_a_scenario(&out);
    }
}

#[test]
fn importer_errors_are_clear() {
    let cases: [(&str, String, &[&str]); 4] = [
        (
            "missing",
            "/nonexistent/bench.json".into(),
            &["/nonexistent/bench.json", "cannot read"],
        ),
        (
            "garbage",
            temp_file("cal-bad", "bad.json", "[{\"n_prompt\": \"x\"}]")
                .display()
                .to_string(),
            &["bad.json", "llama-bench"],
        ),
        (
            "no_tg",
            {
                let e: Vec<serde_json::Value> =
                    serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
                let pp: Vec<&serde_json::Value> = e.iter().filter(|x| x["n_gen"] == 0).collect();
                temp_file("cal-bad", "pp.json", &serde_json::to_string(&pp).unwrap())
                    .display()
                    .to_string()
            },
            &["generation test"],
        ),
        (
            "two_configs",
            {
                let mut e: Vec<serde_json::Value> =
                    serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
                let mut more = e.clone();
                for x in &mut more {
                    x["n_threads"] = serde_json::json!(1);
                }
                e.extend(more);
                temp_file("cal-bad", "two.json", &serde_json::to_string(&e).unwrap())
                    .display()
                    .to_string()
            },
            &["several configurations", "--threads"],
        ),
    ];
    for (tag, input, needles) in cases {
        calibrate_fails(tag, "--from-llama-bench", &input, needles);
    }
    // A record written as an array was read by position into the fields (serde's derive
    // reads a struct from a sequence): refused, in the JSON and the JSONL form.
    let mut e: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    let fields = [
        "build_commit",
        "build_number",
        "cpu_info",
        "gpu_info",
        "backends",
        "model_filename",
        "model_type",
        "model_size",
        "n_threads",
        "n_gpu_layers",
        "n_prompt",
        "n_gen",
        "n_depth",
        "test_time",
        "avg_ts",
        "samples_ts",
    ];
    let last = e.len() - 1;
    e[last] = fields.iter().map(|f| e[last][f].clone()).collect();
    let json = temp_file("cal-bad", "arr.json", &serde_json::to_string(&e).unwrap());
    let needle = format!("record {} is an array, not an object", e.len());
    calibrate_fails(
        "array",
        "--from-llama-bench",
        json.to_str().unwrap(),
        &[&needle],
    );
    let lines: Vec<String> = e.iter().map(|x| x.to_string()).collect();
    let jsonl = temp_file("cal-bad", "arr.jsonl", &lines.join("\n"));
    let line = format!("arr.jsonl:{}:", e.len());
    calibrate_fails(
        "array_line",
        "--from-llama-bench",
        jsonl.to_str().unwrap(),
        &[&line, "a record is an object of named fields"],
    );
    // A sample of 0 or a negative speed made a TTFT of inf or below zero in the profile; token
    // counts beyond what a request may hold went into the fit.
    for (tag, index, key, value, needles) in [
        (
            "zero_sample",
            0,
            "samples_ts",
            serde_json::json!([0.0, 300.0]),
            &["samples_ts[0] = 0", "pp64"][..],
        ),
        // A positive speed too small for any profile made a curve point of 2e-300 tokens/s,
        // refused as a key of "the fitted profile", a file the user never named.
        (
            "tiny_sample",
            0,
            "samples_ts",
            serde_json::json!([1e-300, 300.0]),
            &[
                "tiny_sample.json",
                "samples_ts[0] = 1e-300",
                "pp64",
                "at least 0.001",
            ],
        ),
        (
            "tiny_average",
            3,
            "avg_ts",
            serde_json::json!(1e-4),
            &[
                "tiny_average.json",
                "avg_ts = 0.0001",
                "tg64",
                "at least 0.001",
            ],
        ),
        (
            "negative_sample",
            3,
            "samples_ts",
            serde_json::json!([90.0, -1.0]),
            &["samples_ts[1] = -1", "tg64"],
        ),
        (
            "huge_depth",
            3,
            "n_depth",
            serde_json::json!(4_000_000_000u64),
            &["n_depth = 4000000000", "10000000"],
        ),
        (
            "huge_prompt",
            1,
            "n_prompt",
            serde_json::json!(10_000_001),
            &["n_prompt = 10000001"],
        ),
    ] {
        let mut e: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
        e[index][key] = value;
        let input = temp_file(
            "cal-bad",
            &format!("{tag}.json"),
            &serde_json::to_string(&e).unwrap(),
        );
        calibrate_fails(tag, "--from-llama-bench", input.to_str().unwrap(), needles);
    }
    // The measurement grid of `--model` is bounded before anything loads (a grid of 4·10^9
    // streams overflowed the context size).
    for (flag, value, needle) in [
        ("--streams", "1,5000", "--streams must include 1"),
        ("--prompts", "10000001", "--prompts: lengths must lie in"),
        ("--contexts", "10000001", "--contexts"),
        ("--decode-tokens", "10000001", "--decode-tokens must lie in"),
        ("--repetitions", "1001", "--repetitions must lie in"),
    ] {
        let out = out_path("grid-bounds");
        let o = edgesim(&[
            "calibrate",
            "--model",
            "absent.gguf",
            "--name",
            "x",
            "--out",
            out.to_str().unwrap(),
            flag,
            value,
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains(needle), "{flag}: {err}");
    }
    // llama-bench has no power figures: the flags are required.
    let o = edgesim(&[
        "calibrate",
        "--from-llama-bench",
        fixture().to_str().unwrap(),
        "--name",
        "x",
        "--out",
        out_path("nowatts").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--idle-watts"));
}

#[cfg(not(feature = "llm"))]
#[test]
fn model_calibration_without_llama_cpp_says_how_to_get_it() {
    // A folder of its own: a file of that name left by anything else would be refused first.
    let out = scratch_dir("calibrate-without-llm").join("x.toml");
    let o = edgesim(&[
        "calibrate",
        "--model",
        "m.gguf",
        "--name",
        "x",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--features llm") && err.contains("cmake libclang-dev"),
        "{err}"
    );
}

/// Bounds of the CI fidelity check, on the comparison at the machine's speed during the run
/// (`speed_matched`: the profile's speeds scaled so that the simulated busy time equals the real
/// one; docs/model.md, "Fidelity"). Measured here: the model gave p50 errors within ±7 %, e2e p95
/// within ±5 % and KS at most 0.12; the first model (prefill beside decoding, no context slope)
/// gave e2e p50 −18 % / −25 %, e2e p95 −43 % / −38 % and KS up to 0.32 in the same setting, and
/// fails these bounds.
#[cfg(feature = "llm")]
const FIDELITY_P50_BOUND_PCT: f64 = 15.0;
#[cfg(feature = "llm")]
const FIDELITY_E2E_P95_BOUND_PCT: f64 = 25.0;
#[cfg(feature = "llm")]
const FIDELITY_KS_BOUND: f64 = 0.3;

/// llama.cpp tests run one at a time: timings taken while another test's threads compete for
/// the 2 cores would be meaningless.
#[cfg(feature = "llm")]
fn llama_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The small real model: `EDGESIM_TEST_MODEL`, or the cache `.ci/run` fills.
#[cfg(feature = "llm")]
fn test_model() -> Option<PathBuf> {
    let p = std::env::var_os("EDGESIM_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/edgesim-models/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    if p.exists() {
        Some(p)
    } else if std::env::var_os("EDGESIM_REQUIRE_MODEL").is_some() {
        panic!(
            "{} is missing (scripts/fetch-test-model.sh fetches it)",
            p.display()
        )
    } else {
        eprintln!(
            "skipping: {} is missing (scripts/fetch-test-model.sh fetches it)",
            p.display()
        );
        None
    }
}

/// `calibrate --model MODEL --name NAME --model-name smollm2-135m --out OUT` with a small grid
/// (`--prompts`, `--streams`, `--decode-tokens`, `--repetitions`, `--idle-seconds`), then
/// `extra`.
#[cfg(feature = "llm")]
fn model_args(
    model: &Path,
    name: &str,
    out: &Path,
    [prompts, streams, tokens, reps, idle_s]: [&str; 5],
    extra: &[&str],
) -> Vec<String> {
    let head = [
        "calibrate",
        "--model",
        model.to_str().unwrap(),
        "--name",
        name,
        "--model-name",
        "smollm2-135m",
        "--out",
        out.to_str().unwrap(),
        "--prompts",
        prompts,
        "--streams",
        streams,
        "--decode-tokens",
        tokens,
        "--repetitions",
        reps,
        "--idle-seconds",
        idle_s,
    ];
    head.iter().chain(extra).map(|s| s.to_string()).collect()
}

/// Calibrates `model` into `out` with a small grid (flag watts, no idle phase); asserts success.
#[cfg(feature = "llm")]
fn calibrate_small(
    model: &Path,
    out: &Path,
    prompts: &str,
    streams: &str,
    tokens: &str,
    reps: &str,
) {
    let o = edgesim(&model_args(
        model,
        "ci machine",
        out,
        [prompts, streams, tokens, reps, "0"],
        &["--idle-watts", "10", "--busy-watts", "30"],
    ));
    assert_ok(&o);
}

#[cfg(feature = "llm")]
#[test]
fn real_calibration_of_a_small_model() {
    let _one_at_a_time = llama_lock();
    let Some(model) = test_model() else { return };
    let out = out_path("real");
    // Two properties of the machine, measured on a shared one: continuous batching (more
    // streams never lower the aggregate decode speed, within 20 % noise) and attention reading
    // the whole KV cache (decoding after 512 tokens, the default --contexts, is slower than
    // after 8: measured here about 30 % slower, 6 ms per step per 1,000 tokens). A neighbour's
    // load during one measurement can break either (CI once saw 131, 103, 122, 141 tokens/s
    // for 1-4 streams), so each attempt is a fresh calibration and one of three must show both.
    let mut seen = Vec::new();
    let p = loop {
        calibrate_small(&model, &out, "32,256", "1,2,4", "24", "2");
        let p: DeviceProfile = toml::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let m = &p.models[0];
        let batching = m.decode_tps.windows(2).all(|w| w[1] >= 0.8 * w[0]);
        let context = m.decode_ms_per_1k_context > 0.0;
        seen.push(format!(
            "decode {:?} tokens/s, {} ms per step per 1k context",
            m.decode_tps, m.decode_ms_per_1k_context
        ));
        if batching && context {
            break p;
        }
        assert!(seen.len() < 3, "three calibrations: {seen:#?}");
        eprintln!("attempt {}: {}; again", seen.len(), seen[seen.len() - 1]);
    };
    let m = &p.models[0];
    assert!(m.prefill_curve.iter().all(|c| c.1 > 0.0) && m.prefill_tps > 0.0);
    assert!(m.decode_tps.iter().all(|d| *d > 0.0), "{:?}", m.decode_tps);
    // TTFT grows with the prompt.
    use edgesim::device::{CalibratedDevice, DeviceModel};
    let dev = CalibratedDevice::new(&p.device, m);
    assert!(
        dev.prefill_s(256) > dev.prefill_s(32),
        "{} vs {}",
        dev.prefill_s(256),
        dev.prefill_s(32)
    );
    let prov = p.provenance.as_ref().unwrap();
    assert_eq!(prov["model_sha256"].as_str().unwrap().len(), 64);
    assert!(
        prov["llama_cpp"]
            .as_str()
            .unwrap()
            .contains("llama-cpp-sys-2")
    );
    assert!(prov.get("measurements").is_some());
    runs_in_a_scenario(&out);
}

#[cfg(feature = "llm")]
#[test]
fn model_errors_are_clear_and_write_nothing() {
    let _one_at_a_time = llama_lock();
    let dir = scratch("cal-err");
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("notes.gguf");
    std::fs::write(&text, "hello, not a model").unwrap();
    // A sparse file with the GGUF magic, larger than any memory here.
    let huge = dir.join("huge.gguf");
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&huge).unwrap();
        f.write_all(b"GGUF").unwrap();
        f.set_len(1 << 40).unwrap(); // 1 TiB, sparse
    }
    for (tag, model, needle) in [
        (
            "missing",
            dir.join("absent.gguf"),
            "cannot open the model file",
        ),
        ("not_gguf", text, "not a GGUF model"),
        ("too_large", huge.clone(), "of memory is available"),
    ] {
        calibrate_fails(tag, "--model", model.to_str().unwrap(), &[needle]);
    }
    let _ = std::fs::remove_file(&huge);
    // Inputs refused only after minutes of llama.cpp are refused before anything is measured
    // or served: a meter's CSV that exists with a header its readings would be refused for,
    // and an output path under a file (both were found only when the results were written).
    if let Some(model) = test_model() {
        let csv = dir.join("meter.csv");
        std::fs::write(&csv, "time,power\n").unwrap();
        let out = out_path("bad-meter");
        let small = [
            "--prompts",
            "32",
            "--streams",
            "1",
            "--decode-tokens",
            "8",
            "--repetitions",
            "1",
            "--idle-seconds",
            "0",
        ];
        let calibrate = |out: &Path, power: &[&str]| {
            let mut args = vec![
                "calibrate",
                "--model",
                model.to_str().unwrap(),
                "--name",
                "x",
                "--out",
                out.to_str().unwrap(),
            ];
            args.extend_from_slice(power);
            args.extend_from_slice(&small);
            edgesim(&args)
        };
        let notes = dir.join("notes.txt");
        std::fs::write(&notes, "mine").unwrap();
        let fidelity = edgesim(&[
            "fidelity",
            "--model",
            model.to_str().unwrap(),
            "--profile",
            "calibration/jetson-agx-orin.toml",
            "--scenario",
            "scenarios/fidelity.toml",
            "--requests",
            "2",
            "--out",
            notes.join("f").to_str().unwrap(),
        ]);
        for (o, needles) in [
            (
                calibrate(&out, &["--power-csv", csv.to_str().unwrap()]),
                &["meter.csv:1:", "no column `unix_time_s`"][..],
            ),
            (
                calibrate(
                    &notes.join("p.toml"),
                    &["--idle-watts", "1", "--busy-watts", "2"],
                ),
                &["notes.txt: is a file, not a folder"][..],
            ),
            (fidelity, &["notes.txt: is a file, not a folder"][..]),
            (
                calibrate(
                    &out,
                    &["--idle-watts", "1", "--busy-watts", "2", "--ctx", "100000"],
                ),
                &["--ctx 100000 is more than the model was trained for (8192 tokens)"][..],
            ),
            (
                calibrate(
                    &out,
                    &["--idle-watts", "1", "--busy-watts", "2", "--ctx", "16"],
                ),
                &["--ctx 16 is too small for this grid: it needs"][..],
            ),
        ] {
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{err}");
            for n in needles {
                assert!(err.contains(n), "lacks `{n}`: {err}");
            }
            // Off a terminal each measurement, and the serving, print progress: none ran.
            assert!(
                !err.contains("calibrate: ") && !err.contains("serving"),
                "worked first: {err}"
            );
        }
        assert!(!out.exists());
        assert_eq!(std::fs::read_to_string(&notes).unwrap(), "mine");
    }
    // Interrupted (Ctrl-C): no profile, not even a partial one.
    if let Some(model) = test_model() {
        use std::os::unix::process::CommandExt as _;
        let out = out_path("interrupted");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_edgesim"));
        // SIGINT's default action (end the process), whatever this test inherited: started
        // from a shell's background job, as a CI runner may start it, SIGINT is ignored, and
        // the calibration would run its 20 repetitions to the end (some 15 minutes) and
        // succeed.
        // SAFETY: `signal` is async-signal-safe, and nothing else runs between fork and exec.
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = cmd
            .args([
                "calibrate",
                "--model",
                model.to_str().unwrap(),
                "--name",
                "x",
                "--out",
                out.to_str().unwrap(),
                "--idle-watts",
                "1",
                "--busy-watts",
                "2",
                "--repetitions",
                "20",
            ])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let _ = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        // It ends at once; a minute is the most this waits before it fails the test.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("calibrate did not end within 60 s of SIGINT");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert!(!status.success(), "{status}");
        assert!(
            !out.exists(),
            "an interrupted calibration wrote {}",
            out.display()
        );
        let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("interrupted"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

/// A meter's CSV found wrong only after the measurements (its clock off: no reading in the
/// run's phases) loses nothing: the measurements are kept beside `--out`, and
/// `--from-measurements` with a mended log fits them without measuring again. A log that covers
/// the run gives a profile at once, with the default `--contexts` (their point has no phase of
/// its own: it used to fail every CSV calibration with "no readings").
#[cfg(feature = "llm")]
#[test]
fn a_meter_log_found_wrong_after_measuring_keeps_the_measurements() {
    let _one_at_a_time = llama_lock();
    let Some(model) = test_model() else { return };
    let dir = scratch_dir("cal-kept-llm");
    let out = dir.join("board.toml");
    let csv = dir.join("meter.csv");
    let calibrate = |csv: &Path| {
        edgesim(&model_args(
            &model,
            "metered box",
            &out,
            ["32,64", "1,2", "8", "1", "0.2"],
            &["--power-csv", csv.to_str().unwrap()],
        ))
    };
    // Readings a day before the run: none falls in its phases.
    std::fs::write(
        &csv,
        "unix_time_s,watts
86400,5
86401,6
",
    )
    .unwrap();
    let o = calibrate(&csv);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let kept = dir.join("board.measurements.toml");
    for n in [
        "meter.csv: has no readings from Unix time",
        "calibration phase `idle`",
        "its 2 readings lie from Unix time 86400 to 86401",
        &format!("the measurements are kept in {}", kept.display()),
        "--from-measurements",
    ] {
        assert!(err.contains(n), "lacks `{n}`: {err}");
    }
    assert!(!out.exists());
    // The mended log: readings every 10 ms over the kept phases, 7 W idle and 20 W + n decoding
    // with n streams.
    let k: toml::Table = toml::from_str(&std::fs::read_to_string(&kept).unwrap()).unwrap();
    let mut mended = String::from("unix_time_s,watts\n");
    for ph in k["phases"].as_array().unwrap() {
        let (from, to) = (
            ph["from_unix_s"].as_float().unwrap(),
            ph["to_unix_s"].as_float().unwrap(),
        );
        let name = ph["name"].as_str().unwrap();
        let w = match name.strip_prefix("decode-") {
            Some(n) => 20.0 + n.parse::<f64>().unwrap(),
            None => 7.0,
        };
        let mut t = from;
        while t <= to {
            mended.push_str(&format!("{t},{w}\n"));
            t += 0.01;
        }
        mended.push_str(&format!("{to},{w}\n"));
    }
    let mended_csv = dir.join("mended.csv");
    std::fs::write(&mended_csv, &mended).unwrap();
    let o = edgesim(&[
        "calibrate",
        "--from-measurements",
        kept.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--power-csv",
        mended_csv.to_str().unwrap(),
    ]);
    assert_ok(&o);
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("calibrate: "),
        "measured again"
    );
    let p: DeviceProfile = toml::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(p.device.name, "metered box");
    assert_eq!(p.device.idle_w, 7.0);
    assert_eq!(p.models[0].busy_w_by_streams, vec![21.0, 22.0]);
    runs_in_a_scenario(&out);
    // A log that covers the whole run: a profile at once.
    std::fs::remove_file(&out).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut wide = String::from("unix_time_s,watts\n");
    for i in 0..60_000 {
        wide.push_str(&format!("{},9\n", now - 60.0 + f64::from(i) * 0.01));
    }
    std::fs::write(&csv, wide).unwrap();
    assert_ok(&calibrate(&csv));
    let p: DeviceProfile = toml::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!((p.device.idle_w, p.models[0].busy_w), (9.0, 9.0));
}

/// A calibration killed while it measures goes on where it stopped with `--resume`: the
/// points its journal holds are kept (their values are the profile's raw measurements, and
/// the run says so), the others measured, and the journal removed. Without `--resume` the
/// journal is not overwritten, with other settings it is not used, and `--resume` with no
/// journal says so.
#[cfg(feature = "llm")]
#[test]
fn an_interrupted_calibration_resumes_where_it_stopped() {
    use std::io::BufRead as _;
    let _one_at_a_time = llama_lock();
    let Some(model) = test_model() else { return };
    let dir = scratch_dir("cal-resume");
    let out = dir.join("board.toml");
    let journal = dir.join("board.partial.toml");
    let args = |reps: &str, prompts: &str, extra: &[&str]| -> Vec<String> {
        let watts = ["--idle-watts", "10", "--busy-watts", "30"];
        let extra: Vec<&str> = watts.iter().chain(extra).copied().collect();
        model_args(
            &model,
            "resumed box",
            &out,
            [prompts, "1,2", "16", reps, "0"],
            &extra,
        )
    };
    // Killed once the first decode measurement has begun: idle and both prompt lengths are
    // journalled by then.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args(args("2", "32,64", &[]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let stop = line.contains("decode 1 streams");
        seen.push(line);
        if stop {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "{seen:#?}");
    let before = edgesim::calibrate::partial::read(&journal).unwrap();
    assert!(before.idle_done, "{before:?}");
    let prompts: Vec<u32> = before.prefill.iter().map(|p| p.prompt_tokens).collect();
    assert_eq!(prompts, [32, 64]);
    let text = std::fs::read_to_string(&journal).unwrap();

    // Run again without --resume: refused before measuring, the journal left as it was.
    let o = edgesim(&args("2", "32,64", &[]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&journal.display().to_string()) && err.contains("--resume"),
        "{err}"
    );
    // With another setting: refused by key.
    let o = edgesim(&args("1", "32,64", &["--resume"]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("settings.repetitions") && err.contains("--repetitions: 1"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), text);
    assert!(!out.exists());

    // Resumed with a grid changed (a prompt length added, another context): what the journal
    // holds is kept, the rest measured, at the journal's context (the grid alone would now
    // need less).
    let o = edgesim(&args("2", "32,64,128", &["--resume", "--contexts", "256"]));
    assert_ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    for kept in [
        "idle (kept)",
        "prefill 32 tokens (kept)",
        "prefill 64 tokens (kept)",
    ] {
        assert!(err.contains(kept), "lacks `{kept}`: {err}");
    }
    for measured in ["prefill 128 tokens", "decode after 256 tokens"] {
        assert!(
            err.contains(measured) && !err.contains(&format!("{measured} (kept)")),
            "{measured}: {err}"
        );
    }
    assert!(
        !journal.exists(),
        "the journal is removed once the profile is written"
    );
    let p: DeviceProfile = toml::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let prov = p.provenance.as_ref().unwrap();
    assert_eq!(
        prov["resumed_points"].as_integer(),
        Some(before.points() as i64)
    );
    assert_eq!(
        prov["n_ctx"].as_integer(),
        Some(i64::from(before.settings.n_ctx))
    );
    let raw = prov["measurements"]["prefill"].as_array().unwrap();
    assert_eq!(raw.len(), 3);
    for (point, kept) in raw.iter().zip(&before.prefill) {
        let ttft: Vec<f64> = point["ttft_s"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_float().unwrap())
            .collect();
        assert_eq!(ttft, kept.ttft_s, "the journal's TTFTs, bit for bit");
    }
    assert_eq!(prov["measurements"]["decode"].as_array().unwrap().len(), 3);
    runs_in_a_scenario(&out);

    // Nothing to resume.
    let o = edgesim(&args("2", "32,64", &["--resume"]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no interrupted calibration"), "{err}");
    // A folder where the journal goes: refused before measuring, with or without --resume.
    std::fs::create_dir(&journal).unwrap();
    for (extra, needle) in [
        (
            &[][..],
            "is not a file, and calibrate journals its measurements there",
        ),
        (&["--resume"][..], "not a regular file"),
    ] {
        let o = edgesim(&args("2", "32,64", extra));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(needle), "lacks `{needle}`: {err}");
    }
    std::fs::remove_dir(&journal).unwrap();
}

/// `edgesim fidelity` end to end on the small model: calibrate this machine (small grid), then
/// serve 40 requests for real at moderate load and compare with the simulation. The machine's
/// speed drifts between the calibration and the run (a CI run measured the real side 33 % slower
/// than the calibration a minute before; four back-to-back calibrations here gave prefill speeds
/// of 191-254 tokens/s), so the bounds apply to the comparison at the speed the machine had
/// during the run, which `fidelity` reports as `speed_matched`; the speed factor itself must stay
/// within 2x. A comparison spoiled by a burst of load within the run is tried again with a fresh
/// calibration (three attempts); a model error, which repeats, still fails.
#[cfg(feature = "llm")]
#[test]
fn fidelity_real_against_simulated() {
    let _one_at_a_time = llama_lock();
    let Some(model) = test_model() else { return };
    let mut reports = Vec::new();
    for attempt in 0..3 {
        let profile = out_path(&format!("fidelity-profile-{attempt}"));
        calibrate_small(&model, &profile, "32,96,192", "1,2", "32", "3");
        let dir = scratch(&format!("fidelity-{attempt}"));
        let o = edgesim(&[
            "fidelity",
            "--model",
            model.to_str().unwrap(),
            "--profile",
            profile.to_str().unwrap(),
            "--scenario",
            shipped("fidelity.toml").to_str().unwrap(),
            "--requests",
            "40",
            "--parallel",
            "2",
            "--out",
            dir.to_str().unwrap(),
            "--json",
        ]);
        assert_ok(&o);
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["requests"], 40);
        for f in [
            "requests.csv",
            "fidelity_cdf.csv",
            "fidelity.json",
            "manifest.json",
        ] {
            assert!(dir.join(f).exists(), "{f}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        let report = serde_json::to_string_pretty(&r).unwrap();
        eprintln!(
            "fidelity in this test run (attempt {}):\n{report}",
            attempt + 1
        );
        let m = &r["speed_matched"];
        let e = |k: &str, q: &str| m[k]["error_pct"][q].as_f64().unwrap().abs();
        let f = m["speed_factor"].as_f64().unwrap();
        let ok = (0.5..=2.0).contains(&f)
            && e("e2e_ms", "p50") <= FIDELITY_P50_BOUND_PCT
            && e("ttft_ms", "p50") <= FIDELITY_P50_BOUND_PCT
            && e("e2e_ms", "p95") <= FIDELITY_E2E_P95_BOUND_PCT
            && m["ks"]["e2e"].as_f64().unwrap() <= FIDELITY_KS_BOUND
            && m["ks"]["ttft"].as_f64().unwrap() <= FIDELITY_KS_BOUND;
        if ok {
            return;
        }
        reports.push(report);
    }
    panic!(
        "fidelity outside the bounds in all attempts:\n{}",
        reports.join("\n")
    );
}

/// `fidelity` looks the profile's model up in the scenario's catalogue (`model_catalogue`), as
/// `run` does: a model calibrated under a name of its own is simulated once a catalogue of
/// one's own names it (until 2026-12-06 only the built-in catalogue was read, so such a model
/// could not be compared without rebuilding edgesim). The simulated side comes first, so the
/// run then stops only at the real side (no such model file here).
#[test]
fn fidelity_reads_the_scenarios_model_catalogue() {
    let dir = scratch_dir("fidelity-catalogue");
    let nano = std::fs::read_to_string(root().join("calibration/jetson-orin-nano.toml")).unwrap();
    let profile = dir.join("mine.toml");
    std::fs::write(&profile, nano.replace("\"qwen2.5-0.5b\"", "\"phi-mini\"")).unwrap();
    let catalogue = dir.join("models.toml");
    std::fs::write(
        &catalogue,
        std::fs::read_to_string(root().join("calibration/models.toml")).unwrap()
            + "\n[[models]]\nname = \"phi-mini\"\nparams_b = 0.5\nquant = \"Q4_K_M\"\n\
               memory_gb = 0.7\nkv_mb_per_1k_tokens = 12.0\n",
    )
    .unwrap();
    let workload = std::fs::read_to_string(shipped("fidelity.toml"))
        .unwrap()
        .replace(
            "../calibration/jetson-orin-nano.toml",
            profile.to_str().unwrap(),
        )
        .replace("\"qwen2.5-0.5b\"", "\"phi-mini\"");
    let fidelity = |scenario: &str| {
        let path = dir.join("scenario.toml");
        std::fs::write(&path, scenario).unwrap();
        let o = edgesim(&[
            "fidelity",
            "--model",
            dir.join("no-such-model.gguf").to_str().unwrap(),
            "--profile",
            profile.to_str().unwrap(),
            "--scenario",
            path.to_str().unwrap(),
            "--out",
            dir.join("out").to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    // The scenario itself needs the catalogue: without it, refused by its device's model, with
    // the way out named.
    let err = fidelity(&workload);
    assert!(
        err.contains("is not in the model catalogue (calibration/models.toml)")
            && err.contains("`model_catalogue`"),
        "{err}"
    );
    let err = fidelity(&format!(
        "model_catalogue = \"{}\"\n{workload}",
        catalogue.display()
    ));
    assert!(!err.contains("model catalogue"), "{err}");
    assert!(err.contains("no-such-model.gguf"), "{err}");
    assert!(!dir.join("out").exists());
}

/// `fidelity`'s counts and caps are refused before anything is served or printed (with or
/// without llama.cpp); `--max-prompt 0` was taken as 1.
#[test]
fn fidelity_options_out_of_range_are_refused_first() {
    for (flag, value, needle) in [
        ("--requests", "1", "compare at least 2 requests"),
        ("--parallel", "0", "must be >= 1"),
        ("--max-prompt", "0", "a cap on each request's tokens"),
        ("--max-output", "0", "a cap on each request's tokens"),
    ] {
        let o = edgesim(&[
            "fidelity",
            "--model",
            "no-such-model.gguf",
            "--profile",
            "calibration/jetson-agx-orin.toml",
            "--scenario",
            shipped("fidelity.toml").to_str().unwrap(),
            flag,
            value,
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
        assert!(
            err.contains(&format!("`{flag}` = {value}")) && err.contains(needle),
            "{flag}: {err}"
        );
        assert!(!err.contains("serving"), "{flag}: {err}");
    }
}

/// The simulated side of `fidelity` by hand, with a profile in a relative folder: one device, one
/// slot, prefill at 100 tokens/s, D(1) = 10 tokens/s. Request 0 (100 + 11 tokens at t = 0):
/// TTFT 1 s, then 10 tokens in 1 s. Request 1 arrives at 0.5 s and waits for the slot (2 s),
/// then 50 prompt tokens (0.5 s) and 1 output token: TTFT = e2e = 2.5 - 0.5 = 2.0 s.
#[test]
fn fidelity_simulation_side_by_hand() {
    use edgesim::fidelity::{Request, report, simulate};
    let dir = PathBuf::from(format!("target/edgesim-fidelity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("p.toml");
    std::fs::write(
        &profile,
        "[device]\nname = \"d\"\nmemory_gb = 8.0\nidle_w = 1.0\n\
         [[models]]\nmodel = \"smollm2-135m\"\nprefill_tps = 100.0\ndecode_tps = [10.0]\nbusy_w = 5.0\n",
    )
    .unwrap();
    let req = [
        Request {
            at_s: 0.0,
            prompt_tokens: 100,
            output_tokens: 11,
        },
        Request {
            at_s: 0.5,
            prompt_tokens: 50,
            output_tokens: 1,
        },
    ];
    let sim = simulate(&req, &profile, "smollm2-135m", 1).unwrap();
    let ms = |x: f64| (x * 1000.0).round();
    let s = &sim.served;
    assert_eq!((ms(s[0].ttft_s), ms(s[0].e2e_s)), (1000.0, 2000.0));
    assert_eq!((ms(s[1].ttft_s), ms(s[1].e2e_s)), (2000.0, 2000.0));
    // Busy 0-2.5 s of a 2.5 s span: utilisation 1.
    assert!((sim.busy_s - 2.5).abs() < 1e-9, "{}", sim.busy_s);
    // Against itself: no error, KS 0.
    let r = report(&req, &sim, &sim);
    assert_eq!((r.ttft_ms.error_pct.p50, r.ks.e2e), (0.0, 0.0));
    assert!((r.utilisation.sim - 1.0).abs() < 1e-9);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--from-batched-bench` on llama.cpp's published sample table: D(n) follows S_TG at each B,
/// prefill follows T_PP at B = 1, and the profile runs.
#[test]
fn imports_llama_batched_bench() {
    let input = root().join("tests/fixtures/batched-bench-llama7b-f16.md");
    let out = out_path("batched");
    let p = import("--from-batched-bench", "batched", &input, &out);
    let m = &p.models[0];
    assert_eq!(m.decode_tps.len(), 32);
    // One prompt length (128): no context effect (γ = 0), and D(B) is the median of S_TG
    // over the two TG lengths (the mean of two) at each measured B, interpolated between.
    assert_eq!(m.decode_ms_per_1k_context, 0.0);
    for (n, s128, s256) in [
        (1, 41.57, 40.45),
        (2, 50.90, 50.00),
        (4, 74.44, 73.35),
        (8, 139.43, 135.54),
        (16, 242.23, 226.64),
        (32, 465.40, 426.15),
    ] {
        let want = (s128 + s256) / 2.0;
        let got = m.decode_tps[n - 1];
        assert!(
            (got - want).abs() < 1e-9 * want,
            "D({n}) = {got}, want {want}"
        );
    }
    // Between measured B, linear: D(3) halfway between D(2) and D(4).
    let d3 = (m.decode_tps[1] + m.decode_tps[3]) / 2.0;
    assert!((m.decode_tps[2] - d3).abs() < 1e-9 * d3);
    assert!(
        m.decode_tps.windows(2).all(|w| w[1] > w[0]),
        "{:?}",
        m.decode_tps
    );
    // Prefill: 128 tokens in 0.1075 s (median of 0.108 and 0.107).
    let ttft_s = m.ttft_overhead_ms / 1000.0 + 128.0 / m.prefill_tps;
    assert!((ttft_s - 0.1075).abs() < 1e-3, "{ttft_s}");
    let prov = p.provenance.as_ref().unwrap();
    assert!(
        prov["tool"]
            .as_str()
            .unwrap()
            .contains("llama-batched-bench")
    );
    runs_in_a_scenario(&out);

    // A file that is not batched-bench output fails cleanly, naming what it needs.
    let junk = temp_file("cal-bb-junk", "x.md", "| a | b |\n|---|---|\n");
    calibrate_fails(
        "bb-junk",
        "--from-batched-bench",
        junk.to_str().unwrap(),
        &["no llama-batched-bench result rows"],
    );
}

/// A blank `--name` or `--model-name` is refused before anything is measured (the profile's
/// loader refuses a blank board name or model key too), and a file already at `--out` is left
/// as it was.
#[test]
fn blank_names_are_refused_and_leave_the_old_profile() {
    let out = out_path("blank-names");
    std::fs::write(&out, "keep").unwrap();
    let (input, out_s) = (fixture(), out.to_str().unwrap().to_string());
    for (flag, names) in [
        ("--name", &["--name", ""][..]),
        ("--name", &["--name", "  "]),
        ("--model-name", &["--name", "x", "--model-name", ""]),
    ] {
        let mut args = vec!["calibrate", "--from-llama-bench", input.to_str().unwrap()];
        args.extend(["--out", &out_s, "--idle-watts", "1", "--busy-watts", "2"]);
        args.extend(names);
        let o = edgesim(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{names:?}: {err}");
        assert!(
            err.contains(flag) && err.contains("must be non-empty"),
            "{names:?}: {err}"
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep");
    }
    // The loader: a profile with a blank board name or model key names the key.
    let good = std::fs::read_to_string(root().join("calibration/jetson-orin-nano.toml")).unwrap();
    let name_line = good.lines().find(|l| l.starts_with("name = ")).unwrap();
    let model_line = good.lines().find(|l| l.starts_with("model = ")).unwrap();
    for (text, key) in [
        (good.replacen(name_line, "name = \" \"", 1), "device.name"),
        (
            good.replacen(model_line, "model = \"\"", 1),
            "models[0].model",
        ),
    ] {
        let e = edgesim::device::profile::parse_profile(&text, Path::new("p.toml")).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("p.toml") && e.contains(key) && e.contains("non-empty"),
            "{e}"
        );
    }
}

/// A fitted profile that does not validate is not written, and the file already at `--out`
/// stays (it was overwritten, then removed).
#[test]
fn a_profile_that_does_not_validate_leaves_the_old_file() {
    let out = out_path("invalid-profile");
    std::fs::write(&out, "keep").unwrap();
    let text = std::fs::read_to_string(root().join("calibration/jetson-orin-nano.toml")).unwrap();
    let mut p: DeviceProfile = toml::from_str(&text).unwrap();
    p.device.memory_gb = -1.0;
    let e = edgesim::calibrate::write_profile(&p, &out)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("does not validate") && e.contains("device.memory_gb"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep");
}

/// `--out` is checked before anything is measured: a file that is not a device profile (a
/// scenario given by mistake) or a folder is refused and left as it was (a path under a file:
/// `model_errors_are_clear_and_write_nothing`); an existing profile is recalibrated in place.
#[test]
fn out_replaces_only_a_device_profile() {
    let scenario = out_path("not-a-profile");
    let text = std::fs::read_to_string(root().join("scenarios/steady.toml")).unwrap();
    std::fs::write(&scenario, &text).unwrap();
    let profile = out_path("a-profile");
    std::fs::copy(root().join("calibration/jetson-orin-nano.toml"), &profile).unwrap();
    let folder = std::env::temp_dir();
    let input = fixture();
    let calibrate = |out: &Path| calibrate_into("--from-llama-bench", input.to_str().unwrap(), out);
    for (out, needle) in [
        (&scenario, "exists and is not a device profile"),
        (&folder, "is a folder"),
    ] {
        let o = calibrate(out);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("--out") && err.contains(needle), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&scenario).unwrap(), text);
    let o = calibrate(&profile);
    assert_ok(&o);
    let text = std::fs::read_to_string(&profile).unwrap();
    assert!(text.contains("written by `edgesim calibrate`"));
    // Without --model-name the key is the model file's that llama-bench names, as `--model
    // FILE.gguf` would give, not the results file's (`llama-bench-smollm2`).
    let p: DeviceProfile = toml::from_str(&text).unwrap();
    assert_eq!(p.models[0].model, "smollm2-135m-instruct.q4_1");
}

/// Repeated llama-bench prompt tests of one length (`-p 256 -p 256`, or two runs' results put
/// together) are pooled into one point of the prefill curve, which holds one speed per length:
/// the profile is the one made from a single test holding all their samples. Repeated
/// `--prompts` lengths are refused before anything is measured.
#[test]
fn repeated_prompt_lengths_are_pooled_or_refused() {
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    let extra = [200.0, 210.0];
    let mut split = entries.clone();
    let mut again = entries
        .iter()
        .find(|e| e["n_prompt"] == 256)
        .unwrap()
        .clone();
    again["samples_ts"] = serde_json::json!(extra);
    split.push(again);
    let mut pooled = entries.clone();
    for e in &mut pooled {
        if e["n_prompt"] == 256 {
            e["samples_ts"]
                .as_array_mut()
                .unwrap()
                .extend(extra.iter().map(|x| serde_json::json!(x)));
        }
    }
    let profile = |tag: &str, entries: &[serde_json::Value]| {
        let input = temp_file(
            "cal-repeat",
            &format!("{tag}.json"),
            &serde_json::to_string(entries).unwrap(),
        );
        let out = out_path(&format!("repeat-{tag}"));
        let p = import_bench(tag, &input, &out);
        p.models[0].clone()
    };
    let (a, b) = (profile("split", &split), profile("pooled", &pooled));
    let lengths: Vec<f64> = a.prefill_curve.iter().map(|p| p.0).collect();
    assert_eq!(lengths, vec![64.0, 256.0, 1024.0]);
    assert_eq!(
        (a.prefill_curve, a.prefill_tps, a.ttft_overhead_ms),
        (b.prefill_curve, b.prefill_tps, b.ttft_overhead_ms)
    );

    let o = edgesim(&[
        "calibrate",
        "--model",
        "/nonexistent/model.gguf",
        "--name",
        "box",
        "--out",
        out_path("repeat-flags").to_str().unwrap(),
        "--prompts",
        "64,256,64",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--prompts: 64 is given twice (again as number 3 in the list)"),
        "{err}"
    );
}

/// Measurements as `calibrate --model` keeps them when no profile can be made: two prompt
/// lengths, D(1) and D(2), a 1-stream point at a longer context (no power, as measured), and
/// the phases' Unix times. `extra` is appended (a key to refuse, or nothing).
fn kept_text(extra: &str) -> String {
    format!(
        "device_name = \"kept box\"\nmodel_name = \"smollm2-135m\"\nquant = \"Q4_1\"\n\
         memory_gb = 8.0\npower_source = \"csv\"\n{extra}\
         [[phases]]\nname = \"idle\"\nfrom_unix_s = 1000.0\nto_unix_s = 1002.0\n\
         [[phases]]\nname = \"decode-1\"\nfrom_unix_s = 1010.0\nto_unix_s = 1020.0\n\
         [[phases]]\nname = \"decode-2\"\nfrom_unix_s = 1020.0\nto_unix_s = 1030.0\n\
         [[measurements.prefill]]\nprompt_tokens = 64\nttft_s = [0.1, 0.1]\n\
         [[measurements.prefill]]\nprompt_tokens = 256\nttft_s = [0.25, 0.25]\n\
         [[measurements.decode]]\nstreams = 1\nmean_context_tokens = 0.0\ntokens_per_s = [20.0]\n\
         [[measurements.decode]]\nstreams = 2\nmean_context_tokens = 0.0\ntokens_per_s = [36.0]\n\
         [[measurements.decode]]\nstreams = 1\nmean_context_tokens = 516.5\ntokens_per_s = [20.0]\n\
         [provenance]\nmodel_sha256 = \"abc\"\n"
    )
}

/// `calibrate --from-measurements` fits kept measurements without llama.cpp: power from a
/// meter's CSV over the kept phases (means worked by hand), or from the watt flags; names from
/// the file unless given. What it cannot fit is refused with the file and key, and nothing is
/// written.
#[test]
fn kept_measurements_are_fitted_again() {
    let dir = scratch_dir("cal-kept");
    let kept = dir.join("box.measurements.toml");
    std::fs::write(&kept, kept_text("")).unwrap();
    // Idle: 4 and 6 W → 5; decode-1: 10 and 12 → 11; decode-2: 14; 99 W outside every phase.
    let csv = dir.join("meter.csv");
    std::fs::write(
        &csv,
        "watts,unix_time_s\n4,1000.5\n6,1001.5\n99,1005\n10,1011\n12,1019\n14,1025\n",
    )
    .unwrap();
    let out = dir.join("box.toml");
    let run = |args: &[&str]| {
        let mut all = vec![
            "calibrate",
            "--from-measurements",
            kept.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        edgesim(&all)
    };
    let read =
        || -> DeviceProfile { toml::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap() };

    assert_ok(&run(&["--power-csv", csv.to_str().unwrap()]));
    let p = read();
    let m = &p.models[0];
    assert_eq!(p.device.name, "kept box");
    assert_eq!(
        (m.model.as_str(), m.quant.as_str()),
        ("smollm2-135m", "Q4_1")
    );
    assert_eq!(p.device.idle_w, 5.0);
    assert_eq!(m.busy_w, 11.0);
    assert_eq!(m.busy_w_by_streams, vec![11.0, 14.0]);
    assert_eq!(m.decode_tps, vec![20.0, 36.0]);
    // TTFT(64) = 0.1 s and TTFT(256) = 0.25 s: 0.15 s per 192 tokens (1,280 tokens/s) after
    // a 50 ms overhead.
    assert!(
        (m.ttft_overhead_ms - 50.0).abs() < 1e-9,
        "{}",
        m.ttft_overhead_ms
    );
    assert!((m.prefill_tps - 1280.0).abs() < 1e-6, "{}", m.prefill_tps);
    let prov = p.provenance.as_ref().unwrap();
    assert_eq!(prov["power_source"].as_str(), Some("csv"));
    assert_eq!(prov["model_sha256"].as_str(), Some("abc"));
    assert_eq!(prov["fitted_from"].as_str(), kept.to_str());
    assert!(!prov.contains_key("power_csv_unread_line"));
    runs_in_a_scenario(&out);

    // A last row without its line break may be cut while the meter writes it ("16,1026" of
    // "16,1026.5" would read as a row in decode-2): not read, and said. Until 2026-12-06 it
    // was read, and decode-2's power was 15 W.
    let cut = dir.join("cut.csv");
    let whole = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&cut, format!("{whole}16,1026")).unwrap();
    let o = run(&["--power-csv", cut.to_str().unwrap()]);
    assert_ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cut.csv:8: the meter's last row has no line break and was not read"),
        "{err}"
    );
    let p = read();
    assert_eq!(p.models[0].busy_w_by_streams, vec![11.0, 14.0]);
    let prov = p.provenance.as_ref().unwrap();
    assert_eq!(prov["power_csv_unread_line"].as_integer(), Some(8));
    std::fs::write(&cut, format!("{whole}16,1026\n")).unwrap();
    assert_ok(&run(&["--power-csv", cut.to_str().unwrap()]));
    assert_eq!(read().models[0].busy_w_by_streams, vec![11.0, 15.0]);

    // The flags give the power, and --name the board's name.
    assert_ok(&run(&[
        "--idle-watts",
        "3",
        "--busy-watts",
        "9",
        "--name",
        "renamed",
    ]));
    let p = read();
    assert_eq!(p.device.name, "renamed");
    assert_eq!((p.device.idle_w, p.models[0].busy_w), (3.0, 9.0));
    assert!(p.models[0].busy_w_by_streams.is_empty());
    assert_eq!(
        p.provenance.as_ref().unwrap()["power_source"].as_str(),
        Some("flags")
    );

    // Refusals: nothing written, the old profile left as it was.
    let before = std::fs::read(&out).unwrap();
    let gap = dir.join("gap.csv");
    std::fs::write(&gap, "unix_time_s,watts\n1000.5,4\n1011,10\n1025,14").unwrap();
    for (tag, args, text, needles) in [
        (
            "no power",
            vec![],
            kept_text(""),
            vec!["holds no power read during the measurements", "--power-csv"],
        ),
        (
            "a phase without readings",
            vec!["--power-csv", gap.to_str().unwrap()],
            kept_text(""),
            vec![
                "gap.csv",
                "no readings from Unix time 1020 to 1030",
                "`decode-2`",
                "its 2 readings lie from Unix time 1000.5 to 1011 (line 4, the last, has no \
                 line break and was not read: the meter may have been writing it)",
            ],
        ),
        (
            "an unknown key",
            vec!["--idle-watts", "3", "--busy-watts", "9"],
            kept_text("colour = \"red\"\n"),
            vec!["box.measurements.toml", "colour"],
        ),
        (
            "a negative TTFT",
            vec!["--idle-watts", "3", "--busy-watts", "9"],
            kept_text("").replace("ttft_s = [0.25, 0.25]", "ttft_s = [0.25, -0.25]"),
            vec!["measurements.prefill[1].ttft_s[1]", "-0.25", "above 0"],
        ),
        (
            "a phase of no measured point",
            vec!["--power-csv", csv.to_str().unwrap()],
            kept_text("").replace("\"decode-2\"", "\"decode-3\""),
            vec!["phases[2].name", "decode-3"],
        ),
        (
            "no 1-stream point",
            vec!["--idle-watts", "3", "--busy-watts", "9"],
            kept_text("").replace("streams = 1\n", "streams = 4\n"),
            vec!["measurements.decode", "one of them of 1 stream"],
        ),
    ] {
        std::fs::write(&kept, text).unwrap();
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{tag}: {err}");
        assert!(!err.contains("panicked"), "{tag}: {err}");
        for n in needles {
            assert!(err.contains(n), "{tag}: lacks `{n}`: {err}");
        }
        assert_eq!(
            std::fs::read(&out).unwrap(),
            before,
            "{tag}: the old profile stays"
        );
    }
    // Without a kept file's names, --name is required of the other inputs.
    let o = edgesim(&[
        "calibrate",
        "--from-batched-bench",
        "x.md",
        "--out",
        "y.toml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--name"));
}

/// Flags that the chosen input does not read (they set how `--model` measures, or pick
/// llama-bench results, or give a meter's log that imports have no phase times for) draw a
/// warning naming the flag and the input; the profile is written as without them. Flags the
/// input reads draw none.
#[test]
fn calibrate_flags_the_input_does_not_read_draw_a_warning() {
    let batched = root().join("tests/fixtures/batched-bench-llama7b-f16.md");
    let dir = scratch_dir("cal-unread");
    let csv = dir.join("meter.csv");
    let kept = dir.join("k.measurements.toml");
    std::fs::write(&kept, kept_text("")).unwrap();
    let run = |input: &str, path: &Path, extra: &[&str]| {
        let out = dir.join("p.toml");
        let _ = std::fs::remove_file(&out);
        let mut args = vec![
            "calibrate",
            input,
            path.to_str().unwrap(),
            "--name",
            "x",
            "--model-name",
            "smollm2-135m",
            "--out",
            out.to_str().unwrap(),
            "--idle-watts",
            "1",
            "--busy-watts",
            "2",
        ];
        args.extend_from_slice(extra);
        let o = edgesim(&args);
        assert_ok(&o);
        (
            String::from_utf8_lossy(&o.stderr).into_owned(),
            std::fs::read(&out).unwrap(),
        )
    };
    let strip_dates = |b: Vec<u8>| -> String {
        String::from_utf8(b)
            .unwrap()
            .lines()
            .filter(|l| {
                !l.contains("imported_at") && !l.contains("fitted_at") && !l.starts_with('#')
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (input, path, unread, needles) in [
        (
            "--from-batched-bench",
            batched.as_path(),
            vec![
                "--prompts",
                "32",
                "--threads",
                "4",
                "--power-csv",
                csv.to_str().unwrap(),
            ],
            vec![
                "warning: --prompts is not read with --from-batched-bench: it sets how --model measures",
                "warning: --threads is not read with --from-batched-bench",
                "warning: --power-csv is not read with --from-batched-bench",
            ],
        ),
        (
            "--from-llama-bench",
            fixture().as_path(),
            vec![
                "--repetitions",
                "5",
                "--ctx",
                "4096",
                "--power-csv",
                csv.to_str().unwrap(),
            ],
            vec![
                "warning: --repetitions is not read with --from-llama-bench",
                "warning: --ctx is not read with --from-llama-bench",
                "warning: --power-csv is not read with --from-llama-bench",
            ],
        ),
        (
            "--from-measurements",
            kept.as_path(),
            vec!["--streams", "1,2", "--gpu-layers", "9", "--resume"],
            vec![
                "warning: --streams is not read with --from-measurements",
                "warning: --resume is not read with --from-measurements: it goes on with an \
                 interrupted --model calibration",
                "warning: --gpu-layers is not read with --from-measurements: it sets how --model \
                 measures; the kept file records what was used",
            ],
        ),
    ] {
        let (plain_err, plain) = run(input, path, &[]);
        assert!(!plain_err.contains("warning"), "{input}: {plain_err}");
        let (err, with) = run(input, path, &unread);
        for n in needles {
            assert!(err.contains(n), "{input}: lacks `{n}`: {err}");
        }
        assert_eq!(
            strip_dates(with),
            strip_dates(plain),
            "{input}: the same profile"
        );
    }
}
