//! The platform comparison against the paper's Table I and its AGX/Nano ratios.

use crate::common::*;
use edgesim::catalogue::ModelCatalogue;
use edgesim::platforms::{PlatformParams, PlatformRow, compare};

fn rows() -> Vec<PlatformRow> {
    let from_folder = compare(
        Some(&root().join("calibration")),
        &ModelCatalogue::builtin(),
        &PlatformParams::default(),
    )
    .unwrap();
    // The profiles built into the binary are the shipped files.
    let built_in = compare(None, &ModelCatalogue::builtin(), &PlatformParams::default()).unwrap();
    // ... but for the name each is given: a shipped profile's, or the file's path.
    let unnamed = |rows: &[PlatformRow]| -> Vec<PlatformRow> {
        rows.iter()
            .map(|r| PlatformRow {
                profile: None,
                ..r.clone()
            })
            .collect()
    };
    assert_eq!(unnamed(&from_folder), unnamed(&built_in));
    for (f, b) in from_folder.iter().zip(&built_in) {
        if let (Some(path), Some(name)) = (&f.profile, &b.profile) {
            assert!(path.ends_with(&format!("{name}.toml")), "{path} {name}");
        }
    }
    compare(None, &ModelCatalogue::builtin(), &PlatformParams::default()).unwrap()
}

fn row<'a>(rows: &'a [PlatformRow], name: &str) -> &'a PlatformRow {
    rows.iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

#[test]
fn reproduces_table_one_cost_per_response_within_ten_percent() {
    let rows = rows();
    for (name, paper) in [
        ("Jetson AGX Orin 64GB / qwen2.5-7b", 0.0041),
        ("Jetson Orin Nano 8GB / qwen2.5-3b", 0.0017),
        ("cloud / gpt-4", 1.65),
    ] {
        let got = row(&rows, name).cpr_cents;
        assert!(
            (got - paper).abs() / paper <= 0.10,
            "{name}: {got} cents vs the paper's {paper}"
        );
    }
}

/// The paper's profiles (the 15 W Nano and the AGX that reproduce Table I; the llama-bench
/// profiles of other power modes are not the paper's boards).
#[test]
fn agx_over_nano_ratios_lie_in_the_papers_ranges() {
    let rows = rows();
    let mut checked = 0;
    for nano in rows
        .iter()
        .filter(|r| r.name.starts_with("Jetson Orin Nano 8GB / "))
    {
        let model = nano.name.rsplit(" / ").next().unwrap();
        let agx = row(&rows, &format!("Jetson AGX Orin 64GB / {model}"));
        let speed = agx.tokens_per_s / nano.tokens_per_s;
        let power = agx.power_w.unwrap() / nano.power_w.unwrap();
        assert!(
            (1.49..=3.25).contains(&speed),
            "{model}: AGX {speed:.2}x faster"
        );
        assert!(
            (1.7..=3.91).contains(&power),
            "{model}: AGX {power:.2}x the power"
        );
        checked += 1;
    }
    assert!(checked >= 4);
}

#[test]
fn edge_is_orders_of_magnitude_cheaper_than_gpt4() {
    let rows = rows();
    let gpt4 = row(&rows, "cloud / gpt-4");
    for r in rows.iter().filter(|r| r.name.starts_with("Jetson")) {
        assert!(gpt4.cpr_cents / r.cpr_cents > 100.0, "{}", r.name);
        if let (Some(e), Some(g)) = (r.pcr, gpt4.pcr) {
            assert!(e > g, "{}: PCR {e} vs GPT-4 {g}", r.name);
        }
    }
}

/// The per-run toolkit on a hand-worked case: three edge responses and one cloud response.
#[test]
fn run_summary_platforms_by_hand() {
    // Sliding window of 2 per 10 s: arrivals at 0, 1, 2, 10.5 -> edge, edge, cloud, edge.
    // Edge: prefill instant, 1 token after the first at 100 tok/s = 10 ms at 10 W = 0.1 J.
    // Cloud: TTFT 100 + 400 ms; fee (10 x 1 + 2 x 2) / 1000 USD = 1.4 cents.
    let body = format!(
        "[rate_limit]\nkind = \"sliding_window\"\nwindow_s = 10\nlimit = 2\n\
         [cloud]\nrtt_ms = 100\nttft_ms = 400\ntokens_per_s = 10\n\
         usd_per_1k_input = 1.0\nusd_per_1k_output = 2.0\n\
         [metrics]\nelectricity_cents_per_kwh = 36.0\nalpha = 0.25\n{}",
        inline_device("d", 8, 0, &[100.0], 10.0, 1.0)
    );
    let (s, recs) = run_trace_summary(
        "plat",
        &[(0.0, 10, 2), (1.0, 10, 2), (2.0, 10, 2), (10.5, 10, 2)],
        &body,
    );
    assert_eq!(
        recs.iter()
            .filter(|r| r.route == edgesim::metrics::Route::Cloud)
            .count(),
        1
    );
    let names: Vec<&str> = s.platforms.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["test board / qwen2.5-0.5b", "cloud / gpt-4", "overall"]
    );
    let close = |a: Option<f64>, b: f64, what: &str| {
        let a = a.unwrap_or_else(|| panic!("{what} is null"));
        assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1e-12),
            "{what}: {a} vs {b}"
        );
    };
    // 0.1 J at 36 cents/kWh = 0.1 / 3.6e6 x 36 = 1e-6 cents.
    let (q_edge, q_cloud) = (0.496, 0.92); // qwen2.5-0.5b and GPT-4 on gsm8k (catalogue)
    let edge = &s.platforms[0];
    assert_eq!((edge.devices, edge.served), (1, 3));
    close(edge.energy_per_query_j, 0.1, "edge energy");
    close(edge.cpr_cents, 1e-6, "edge cpr");
    close(edge.quality, q_edge, "edge Q");
    close(edge.responsiveness, 1.0, "edge R (TTFT 0)");
    close(edge.utility, 0.25 * q_edge + 0.75, "edge U");
    close(edge.pcr, (0.25 * q_edge + 0.75) / 1e-6, "edge PCR");

    let cloud = &s.platforms[1];
    assert_eq!((cloud.devices, cloud.served), (0, 1));
    assert_eq!(cloud.energy_per_query_j, None);
    close(cloud.cpr_cents, 1.4, "cloud cpr");
    close(cloud.quality, q_cloud, "cloud Q");
    close(cloud.responsiveness, 1.0 / 1.5, "cloud R at TTFT 500 ms");
    let u_cloud = 0.25 * q_cloud + 0.75 / 1.5;
    close(cloud.utility, u_cloud, "cloud U");
    close(cloud.pcr, u_cloud / 1.4, "cloud PCR");

    let all = &s.platforms[2];
    assert_eq!(all.served, 4);
    close(
        all.energy_per_query_j,
        0.1,
        "overall energy per edge response",
    );
    close(all.cpr_cents, (3.0 * 1e-6 + 1.4) / 4.0, "overall cpr");
    close(all.quality, (3.0 * q_edge + q_cloud) / 4.0, "overall Q");
    close(all.responsiveness, (3.0 + 1.0 / 1.5) / 4.0, "overall R");
    // Idle energy: the device idles at 1 W for the rest of the run, spread over 3 responses.
    let with_idle = edge.energy_per_query_with_idle_j.unwrap();
    close(
        Some(with_idle * 3.0),
        s.devices[0].energy_j,
        "energy with idle",
    );
}

/// Classes name their task; a platform's Q weighs each class's quality by its responses.
#[test]
fn class_tasks_and_catalogue_cloud_prices() {
    let sc = scenario(&format!(
        "duration_s = 200\n[workload]\nkind = \"poisson\"\nrate_rps = 2\n\
         prompt_tokens = {{ dist = \"fixed\", value = 10 }}\n\
         output_tokens = {{ dist = \"fixed\", value = 5 }}\n\
         [[workload.classes]]\nname = \"a\"\nshare = 1\ntask = \"gsm8k\"\n\
         [cloud]\nmodel = \"gpt-4o-mini\"\n{}",
        inline_device("d", 1, 0, &[50.0], 10.0, 1.0)
    ));
    // Prices come from the catalogue entry of gpt-4o-mini.
    assert_eq!(
        (sc.cloud.usd_per_1k_input, sc.cloud.usd_per_1k_output),
        (0.00015, 0.0006)
    );
    let s = edgesim::sim::run(&sc).unwrap();
    let cloud = s
        .platforms
        .iter()
        .find(|p| p.name == "cloud / gpt-4o-mini")
        .unwrap();
    assert!(cloud.served > 0);
    // The catalogue has no gsm8k figure for gpt-4o-mini: Q, U and PCR are unknown, not 0.
    assert_eq!(
        (cloud.quality, cloud.utility, cloud.pcr),
        (None, None, None)
    );
    let all = s.platforms.last().unwrap();
    assert_eq!(all.quality, None);
    close_rel(
        cloud.cpr_cents.unwrap(),
        (10.0 * 0.00015 + 5.0 * 0.0006) / 10.0,
        "gpt-4o-mini cpr in cents",
    );
}

fn close_rel(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= 1e-9 * b.abs(), "{what}: {a} vs {b}");
}

/// The profiles built on public llama-bench numbers give those numbers back through the
/// simulator: one request of 512 prompt tokens and 129 output tokens alone on the board has
/// TTFT = 512 / pp512 and then decodes 128 tokens at tg128 (llama-bench's pp512 and tg128
/// tests), for every measured (board, power mode, model).
#[test]
fn llama_bench_profiles_reproduce_their_measurements() {
    for (file, model, pp512, tg128) in [
        (
            "jetson-orin-nano-super-maxn.toml",
            "qwen2.5-3b",
            874.8,
            23.85,
        ),
        (
            "jetson-agx-orin-64gb-maxn.toml",
            "qwen2.5-14b",
            455.5,
            14.49,
        ),
        ("jetson-agx-orin-64gb-maxn.toml", "qwen2.5-32b", 201.7, 6.84),
        ("jetson-agx-orin-64gb-30w.toml", "qwen2.5-32b", 128.6, 5.37),
    ] {
        let body = format!(
            "seed = 1\n[cloud]\nenabled = false\n[[devices]]\nname = \"d\"\nprofile = \"{}\"\n\
             model = \"{model}\"\nctx_tokens = 1024\n",
            root().join("calibration").join(file).display()
        );
        let (s, recs) = run_trace_summary("llama-bench", &[(0.0, 512, 129)], &body);
        assert_eq!(s.served_edge, 1, "{file}");
        let ttft = recs[0].ttft.as_secs_f64();
        let decode = recs[0].e2e.as_secs_f64() - ttft;
        assert!(
            (ttft - 512.0 / pp512).abs() < 2e-6,
            "{file} {model}: TTFT {ttft}"
        );
        assert!(
            (decode - 128.0 / tg128).abs() < 2e-6,
            "{file} {model}: decode {decode}"
        );
    }
}

/// Every shipped profile loads, and every model it calibrates is in the catalogue and runs on
/// the board (one slot, a 2,048-token context).
#[test]
fn every_shipped_profile_runs_every_model_it_calibrates() {
    let mut seen = 0;
    for entry in std::fs::read_dir(root().join("calibration")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if !text.contains("[device]") {
            continue; // the model catalogue
        }
        let p: edgesim::device::profile::DeviceProfile = toml::from_str(&text).unwrap();
        for m in &p.models {
            let body = format!(
                "seed = 1\n[[devices]]\nname = \"d\"\nprofile = \"{}\"\nmodel = \"{}\"\nctx_tokens = 2048\n",
                path.display(),
                m.model
            );
            let (s, _) = run_trace_summary("profiles", &[(0.0, 100, 20)], &body);
            assert_eq!(s.served_edge, 1, "{} {}", path.display(), m.model);
            seen += 1;
        }
    }
    assert!(seen >= 20, "{seen}");
}

/// Each edge row names its profile as a scenario does: a scenario naming it, with the row's
/// model, runs on that board; the table ends with every shipped name once, beside its board.
#[test]
fn platforms_name_each_profile_as_a_scenario_does() {
    let rows = rows();
    let mut names = Vec::new();
    for r in &rows {
        let Some(profile) = &r.profile else {
            assert!(r.name.starts_with("cloud / "), "{}", r.name);
            continue;
        };
        let (board, model) = r.name.rsplit_once(" / ").unwrap();
        let body = format!(
            "seed = 1\n[[devices]]\nname = \"d\"\nprofile = \"{profile}\"\nmodel = \"{model}\"\nctx_tokens = 2048\n"
        );
        let (s, _) = run_trace_summary("platform-names", &[(0.0, 100, 20)], &body);
        assert_eq!(s.served_edge, 1, "{profile} {model}");
        assert_eq!(&*s.devices[0].board, board, "{profile}");
        if !names.contains(profile) {
            names.push(profile.clone());
        }
    }
    assert_eq!(names.len(), edgesim::device::source::SHIPPED.len());
    let out = edgesim(&["platforms"]);
    assert_ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let (_, listed) = text
        .split_once("profiles, as a scenario's devices[].profile names them:\n")
        .expect(&text);
    let listed: Vec<&str> = listed
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(listed, names);
}

/// `edgesim platforms` refuses a task no model has a quality figure for (it printed a table of
/// "-"), token counts outside [1, 10,000,000], as a scenario does, and a missing folder of
/// profiles; exit code 2.
#[test]
fn platforms_refuses_unknown_tasks_and_token_counts_out_of_range() {
    for (args, needles) in [
        (
            &["--task", "gsm9k"][..],
            &["--task \"gsm9k\"", "known tasks:", "gsm8k"][..],
        ),
        (&["--task", ""], &["--task \"\"", "known tasks:"]),
        (
            &["--prompt-tokens", "0"],
            &["--prompt-tokens 0", "[1, 10000000]"],
        ),
        (
            &["--output-tokens", "4294967295"],
            &["--output-tokens 4294967295", "[1, 10000000]"],
        ),
        // A missing folder is named, with what could not be done to it (the message read
        // "FOLDER: cannot list profiles in: No such file").
        (
            &["--calibration", "no-such-folder-of-profiles"],
            &["no-such-folder-of-profiles: cannot list this folder of profiles: "],
        ),
    ] {
        let out = edgesim(&[&["platforms"][..], args].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: no {n:?} in {err}");
        }
    }
    // The largest counts allowed still make a table.
    let out = edgesim(&[
        "platforms",
        "--prompt-tokens",
        "10000000",
        "--task",
        "gsm8k",
    ]);
    assert_ok(&out);
}

/// A response longer than a platform's context window is flagged: GPT-4's is 8,192 tokens
/// (the catalogue), so 9,000 + 1 tokens name it under the table, and not a model with 32,768;
/// the default 50 + 250 tokens name none. JSON rows carry the window.
#[test]
fn platforms_name_the_context_windows_a_response_exceeds() {
    let table = |args: &[&str]| {
        let out = edgesim(&[&["platforms"][..], args].concat());
        assert_ok(&out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let long = table(&["--prompt-tokens", "9000", "--output-tokens", "1"]);
    let note = long
        .lines()
        .find(|l| l.starts_with("longer than the context window of: "))
        .unwrap_or_else(|| panic!("{long}"));
    assert!(note.contains("cloud / gpt-4 (8192 tokens)"), "{note}");
    assert!(!note.contains("gpt-4o-mini"), "{note}");
    let rows = rows();
    let too_short: Vec<&str> = rows
        .iter()
        .filter(|r| r.context_tokens.is_some_and(|c| c < 9001))
        .map(|r| r.name.as_str())
        .collect();
    for name in &too_short {
        assert!(note.contains(&format!("{name} (")), "{name}: {note}");
    }
    assert!(!table(&[]).contains("context window"));
    assert_eq!(row(&rows, "cloud / gpt-4").context_tokens, Some(8192));
    let json: serde_json::Value = serde_json::from_str(&table(&["--json"])).unwrap();
    let gpt4 = json["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "cloud / gpt-4")
        .unwrap();
    assert_eq!(gpt4["context_tokens"], 8192);
}

/// A cloud model's row has the latency and speed a scenario naming only that model gets: the
/// default 150 ms round trip plus the model's preset TTFT (the median of measured quantiles),
/// else 600 ms, and its preset speed, else 40 tokens/s, read here from
/// `calibration/models.toml` itself. Until 2026-12-06 every cloud row showed 750 ms and 40
/// tokens/s, whatever the preset. The simulator agrees: the median TTFT of a cloud-only run.
#[test]
fn cloud_rows_take_the_catalogue_presets() {
    let rows = rows();
    let text = std::fs::read_to_string(root().join("calibration/models.toml")).unwrap();
    let catalogue: toml::Value = toml::from_str(&text).unwrap();
    let models = catalogue["cloud_models"].as_array().unwrap();
    let num = |v: &toml::Value| v.as_float().or(v.as_integer().map(|i| i as f64)).unwrap();
    let mut presets = 0;
    for m in models {
        let name = m["name"].as_str().unwrap();
        let ttft_ms = match m.get("ttft_ms") {
            None => 600.0,
            Some(v) if v.is_table() => num(&v["p50"]),
            Some(v) => num(v),
        };
        let speed = m.get("tokens_per_s").map_or(40.0, num);
        presets += usize::from(m.get("ttft_ms").is_some() || m.get("tokens_per_s").is_some());
        let r = row(&rows, &format!("cloud / {name}"));
        assert_eq!(
            (r.ttft_ms, r.tokens_per_s),
            (150.0 + ttft_ms, speed),
            "{name}"
        );
    }
    assert!(presets >= 5, "{presets} presets");
    let sc = scenario(
        "duration_s = 2000\n[workload]\nkind = \"poisson\"\nrate_rps = 2\n\
         prompt_tokens = { dist = \"fixed\", value = 50 }\n\
         output_tokens = { dist = \"fixed\", value = 250 }\n\
         [cloud]\nmodel = \"gpt-4o\"\n",
    );
    let s = edgesim::sim::run(&sc).unwrap();
    let r = row(&rows, "cloud / gpt-4o");
    assert_eq!(r.ttft_ms, 789.0);
    let p50 = s.cloud.ttft_ms.p50.unwrap();
    assert!(s.cloud.served > 3000, "{}", s.cloud.served);
    assert!(
        (p50 - r.ttft_ms).abs() / r.ttft_ms < 0.03,
        "simulated median TTFT {p50} ms against the row's {} ms",
        r.ttft_ms
    );
}

/// `--model-catalogue` reads the catalogue a scenario's `model_catalogue` would: a model
/// calibrated under a name of its own gets its quality (Q, U, PCR), and a cloud model its
/// prices and presets; a task only that catalogue knows is accepted. A catalogue that cannot
/// be read is refused naming it.
#[test]
fn platforms_read_a_catalogue_of_ones_own() {
    let dir = scratch_dir("platforms-catalogue");
    let cal = dir.join("profiles");
    std::fs::create_dir_all(&cal).unwrap();
    let nano = std::fs::read_to_string(root().join("calibration/jetson-orin-nano.toml")).unwrap();
    assert!(nano.contains("\"qwen2.5-0.5b\""));
    std::fs::write(
        cal.join("nano.toml"),
        nano.replace("\"qwen2.5-0.5b\"", "\"phi-mini\""),
    )
    .unwrap();
    let catalogue = dir.join("models.toml");
    std::fs::write(
        &catalogue,
        format!(
            "{}\n[[models]]\nname = \"phi-mini\"\nparams_b = 0.5\nquant = \"Q4_K_M\"\n\
             memory_gb = 0.7\nkv_mb_per_1k_tokens = 12.0\nquality = {{ gsm8k = 0.5, mmlu = 0.6 }}\n\
             [[cloud_models]]\nname = \"my-api\"\nusd_per_1k_input = 0.001\n\
             usd_per_1k_output = 0.002\nprice_date = \"2026-12-06\"\nttft_ms = 350.0\n\
             tokens_per_s = 90.0\n",
            std::fs::read_to_string(root().join("calibration/models.toml")).unwrap()
        ),
    )
    .unwrap();
    let json = |args: &[&str]| -> serde_json::Value {
        let out = edgesim(&[&["platforms", "--json"][..], args].concat());
        assert_ok(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let find = |v: &serde_json::Value, name: &str| {
        v["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no row {name}: {v}"))
            .clone()
    };
    let cal_arg = cal.to_str().unwrap();
    let own = json(&[
        "--calibration",
        cal_arg,
        "--model-catalogue",
        catalogue.to_str().unwrap(),
    ]);
    let phi = find(&own, "Jetson Orin Nano 8GB / phi-mini");
    assert_eq!(phi["quality"], 0.5);
    let r = phi["responsiveness"].as_f64().unwrap();
    assert!((phi["utility"].as_f64().unwrap() - (0.5 * 0.5 + 0.5 * r)).abs() < 1e-12);
    let api = find(&own, "cloud / my-api");
    assert_eq!(
        (api["ttft_ms"].as_f64(), api["tokens_per_s"].as_f64()),
        (Some(500.0), Some(90.0))
    );
    // (50 · 0.001 + 250 · 0.002) / 1000 USD = 0.055 cents.
    assert!(
        (api["cpr_cents"].as_f64().unwrap() - 0.055).abs() < 1e-12,
        "{api}"
    );
    // Without it, the model has no quality and the API no row.
    let builtin = json(&["--calibration", cal_arg]);
    assert!(find(&builtin, "Jetson Orin Nano 8GB / phi-mini")["quality"].is_null());
    assert!(
        !builtin["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "cloud / my-api")
    );
    // A task only this catalogue knows.
    let mmlu = json(&[
        "--calibration",
        cal_arg,
        "--model-catalogue",
        catalogue.to_str().unwrap(),
        "--task",
        "mmlu",
    ]);
    assert_eq!(
        find(&mmlu, "Jetson Orin Nano 8GB / phi-mini")["quality"],
        0.6
    );
    let out = edgesim(&["platforms", "--task", "mmlu"]);
    assert_eq!(out.status.code(), Some(2));
    // A catalogue that is not there.
    let missing = dir.join("none.toml");
    let out = edgesim(&["platforms", "--model-catalogue", missing.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("none.toml") && err.contains("model catalogue"),
        "{err}"
    );
}
