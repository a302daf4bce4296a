//! The docs define every output column and every summary key: each name a run, a sweep or a
//! plan writes is written in backticks in the document that defines its file (docs/metrics.md,
//! docs/sweeps.md, docs/plan.md), so that a new column cannot land undocumented.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::*;

/// The code spans of a Markdown text, with brace groups expanded (`ttft_{p50,p90}_ms` gives
/// `ttft_p50_ms` and `ttft_p90_ms`), and an array's name without its brackets (`devices[]`
/// gives `devices` too).
fn spans(md: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for span in md.split('`').skip(1).step_by(2) {
        let mut forms = vec![String::new()];
        let mut rest = span;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            let head = &rest[..open];
            forms = forms
                .iter()
                .flat_map(|f| {
                    rest[open + 1..close]
                        .split(',')
                        .map(move |alt| format!("{f}{head}{}", alt.trim()))
                })
                .collect();
            rest = &rest[close + 1..];
        }
        for form in forms {
            let form = form + rest;
            if let Some(array) = form.strip_suffix("[]") {
                out.insert(array.to_string());
            }
            out.insert(form);
        }
    }
    out
}

/// The text of `md` from the heading line that contains `heading` to the next heading.
fn section<'a>(md: &'a str, heading: &str) -> &'a str {
    let start = md
        .find(heading)
        .unwrap_or_else(|| panic!("no heading {heading:?}"));
    let body = &md[start..];
    let end = body[1..].find("\n#").map_or(body.len(), |e| e + 1);
    &body[..end]
}

fn doc(name: &str) -> String {
    std::fs::read_to_string(root().join("docs").join(name)).unwrap()
}

fn header(p: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let line = text.lines().next().unwrap_or_default();
    line.split(',').map(String::from).collect()
}

fn assert_documented(names: &[String], documented: &BTreeSet<String>, what: &str) {
    let missing: Vec<&String> = names.iter().filter(|n| !documented.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "{what}: not defined in the docs (in backticks): {missing:?}"
    );
}

#[test]
fn the_expansion_of_documented_names_is_what_it_says() {
    let s = spans("a `x_{p50, p90}_ms` b `plain` c `{a,b}{c,d}`, a lone { brace `n{`, `d[]`");
    let want = [
        "x_p50_ms", "x_p90_ms", "plain", "ac", "ad", "bc", "bd", "n{", "d[]", "d",
    ];
    assert_eq!(s, want.iter().map(|w| w.to_string()).collect());
}

/// `edgesim run` on the scenario with board and cloud failures, which writes every optional
/// column: each table's columns are defined in its section of docs/metrics.md, and every key of
/// `summary.json` somewhere in it.
#[test]
fn run_tables_and_summary_keys_are_defined_in_docs_metrics() {
    let out = scratch("docs-run");
    assert_ok(&edgesim(&[
        "run",
        shipped("failures.toml").to_str().unwrap(),
        "--set",
        "duration_s=4800",
        // Requests a failure drops are rejected, so that `rejected_by` is written too.
        "--set",
        "routing.on_device_failure=\"reject\"",
        "--csv",
        "--out",
        out.to_str().unwrap(),
    ]));
    let md = doc("metrics.md");
    for table in ["requests", "devices", "timeseries", "gateway"] {
        let cols = header(&out.join(format!("{table}.csv")));
        let documented = spans(section(&md, &format!("### `{table}.parquet`")));
        assert_documented(&cols, &documented, &format!("{table}.csv"));
    }
    // The fault columns are among those checked.
    let requests = header(&out.join("requests.csv"));
    assert!(
        requests.contains(&"cloud_retries".to_string()),
        "{requests:?}"
    );
    assert!(header(&out.join("devices.csv")).contains(&"down_s".to_string()));

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let mut keys = BTreeSet::new();
    let mut stack = vec![&summary];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(m) => {
                keys.extend(m.keys().cloned());
                stack.extend(m.values());
            }
            serde_json::Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    assert!(keys.len() > 50, "{keys:?}");
    assert!(keys.contains("device_failure"), "{keys:?}");
    let keys: Vec<String> = keys.into_iter().collect();
    assert_documented(&keys, &spans(&md), "summary.json");
}

/// A sweep's `runs` table: every metric column in docs/sweeps.md (the axis columns are the
/// sweep's own keys); `points` adds `point`, `runs` and `<m>_mean`, `<m>_sd`, `<m>_ci95`.
#[test]
fn sweep_columns_are_defined_in_docs_sweeps() {
    let d = scratch_dir("docs-sweep");
    let file = d.join("sweep.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"cols\"\nscenario = \"{}\"\nreplications = 2\n\n[[axes]]\nkey = \
             \"duration_s\"\nvalues = [300, 600]\n",
            shipped("bursty.toml").display()
        ),
    )
    .unwrap();
    let out = d.join("out");
    assert_ok(&edgesim(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--csv",
    ]));
    let documented = spans(&doc("sweeps.md"));
    let runs: Vec<String> = header(&out.join("runs.csv"))
        .into_iter()
        .filter(|c| c != "duration_s")
        .collect();
    assert_documented(&runs, &documented, "runs.csv");
    let metrics = &runs[runs.iter().position(|c| c == "seed").unwrap() + 1..];
    let mut points = Vec::new();
    for c in header(&out.join("points.csv")) {
        match metrics
            .iter()
            .find(|m| [format!("{m}_mean"), format!("{m}_sd"), format!("{m}_ci95")].contains(&c))
        {
            Some(m) => points.push(c.replacen(m.as_str(), "<m>", 1)),
            None if c != "duration_s" => points.push(c),
            None => {}
        }
    }
    assert!(points.len() > 5, "{points:?}");
    assert_documented(&points, &documented, "points.csv");
}

/// A plan's `plans` and `pareto` tables, per board type as `TYPE_count`, ...: docs/plan.md.
#[test]
fn plan_columns_are_defined_in_docs_plan() {
    let d = scratch_dir("docs-plan");
    let cal = root().join("calibration");
    let traffic = d.join("traffic.toml");
    std::fs::write(
        &traffic,
        std::fs::read_to_string(shipped("plans/retail-traffic.toml"))
            .unwrap()
            .replace("duration_s = 1800", "duration_s = 300")
            .replace("../../calibration", &cal.display().to_string()),
    )
    .unwrap();
    let file = d.join("plan.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"cols\"\nscenario = \"{}\"\nreplications = 2\n\n[[types]]\nname = \
             \"agx\"\nprofile = \"{}/jetson-agx-orin.toml\"\nmodel = \"qwen2.5-3b\"\nprice_usd \
             = 1999\nmax_count = 2\nslots = [4]\n\n[costs]\ntraffic_hours_per_month = 360\n\n[goals]\nmax_reject_share = 0.5\n",
            traffic.display(),
            cal.display()
        ),
    )
    .unwrap();
    let out = d.join("out");
    assert_ok(&edgesim(&[
        "plan",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--csv",
    ]));
    let documented = spans(&doc("plan.md"));
    for table in ["plans", "pareto"] {
        let cols: Vec<String> = header(&out.join(format!("{table}.csv")))
            .into_iter()
            .map(|c| match c.strip_prefix("agx_") {
                Some(rest) => format!("TYPE_{rest}"),
                None => c,
            })
            .collect();
        assert!(cols.contains(&"TYPE_count".to_string()), "{cols:?}");
        assert_documented(&cols, &documented, &format!("{table}.csv"));
    }
}
