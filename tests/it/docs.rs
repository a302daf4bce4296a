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
        // A queue timeout, so that its counts are written too, and two classes, for the
        // summary by class.
        "--set",
        "routing.queue_timeout_ms=5000",
        "--set",
        "workload.classes=[{name=\"chat\", queue_timeout_ms=1500}, {name=\"batch\"}]",
        // Metric windows, for the summary's `windows` (the run's and each class's) and the
        // `windows` and `class_windows` tables.
        "--set",
        "metrics.window_s=600",
        // Predictive admission, for its counts.
        "--set",
        "routing.max_predicted_wait_ms=3000",
        "--csv",
        "--out",
        out.to_str().unwrap(),
    ]));
    let md = doc("metrics.md");
    for table in [
        "requests",
        "devices",
        "timeseries",
        "gateway",
        "windows",
        "class_windows",
    ] {
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
    let devices = header(&out.join("devices.csv"));
    assert!(devices.contains(&"down_s".to_string()), "{devices:?}");
    assert!(
        devices.contains(&"queue_timeouts".to_string()),
        "{devices:?}"
    );
    assert!(
        devices.contains(&"predicted_wait".to_string()),
        "{devices:?}"
    );

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
    for key in [
        "device_failure",
        "queue_timeouts",
        "queue_timeout",
        "classes",
        "requests",
        "windows",
        "busiest",
        "redirect_rate",
    ] {
        assert!(keys.contains(key), "{key}: {keys:?}");
    }
    assert!(summary["classes"][1]["windows"]["worst"].is_object());
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

/// A capacity search's `loads` table and the keys of `capacity.json`: docs/capacity.md.
#[test]
fn capacity_columns_are_defined_in_docs_capacity() {
    let d = scratch_dir("docs-capacity");
    let out = d.join("out");
    assert_ok(&edgesim(&[
        "capacity",
        shipped("bursty.toml").to_str().unwrap(),
        "--goal",
        "ttft_p95_ms=3000",
        "--set",
        "duration_s=600",
        "--replications",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--csv",
    ]));
    let documented = spans(&doc("capacity.md"));
    assert_documented(&header(&out.join("loads.csv")), &documented, "loads.csv");
    let answer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("capacity.json")).unwrap()).unwrap();
    let mut keys: Vec<String> = answer.as_object().unwrap().keys().cloned().collect();
    for part in ["capacity", "above"] {
        if let Some(o) = answer[part].as_object() {
            keys.extend(o.keys().cloned());
            keys.extend(o["goals"][0].as_object().unwrap().keys().cloned());
        }
    }
    assert_documented(&keys, &documented, "capacity.json");
}

/// The words of a shell command line: blanks split, single and double quotes group (no
/// escapes or expansions: the docs' commands need none). `None` for an unclosed quote.
fn shell_words(line: &str) -> Option<Vec<String>> {
    let (mut words, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => (quote, any) = (Some(c), true),
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    quote.is_none().then_some(words)
}

/// The `edgesim` command lines in the shell blocks of `md` (continuation lines joined, comments
/// cut), as their arguments after `edgesim`. Synopses (`[--out DIR]`) are left out.
fn documented_commands(md: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut in_shell = false;
    let mut joined = String::new();
    for line in md.lines() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            in_shell = !in_shell && matches!(info.trim(), "sh" | "bash" | "console" | "");
            continue;
        }
        if !in_shell {
            continue;
        }
        if let Some(head) = line.trim_end().strip_suffix('\\') {
            joined.push_str(head);
            joined.push(' ');
            continue;
        }
        joined.push_str(line);
        let full = std::mem::take(&mut joined);
        let command = full
            .split(" #")
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let rest = [
            "edgesim ",
            "target/release/edgesim ",
            "cargo run --release -- ",
        ]
        .iter()
        .find_map(|p| command.strip_prefix(p));
        let Some(rest) = rest else { continue };
        if command.contains("[--") {
            continue;
        }
        let words = shell_words(rest).unwrap_or_else(|| panic!("unclosed quote: {command}"));
        out.push((command, words));
    }
    out
}

#[test]
fn shell_words_and_commands_are_read_as_a_shell_would() {
    assert_eq!(
        shell_words("run a.toml --set 'x=\"y z\"' \"\" b").unwrap(),
        ["run", "a.toml", "--set", "x=\"y z\"", "", "b"]
    );
    assert!(shell_words("run 'open").is_none());
    let md = "text edgesim run x\n```sh\nedgesim run a.toml \\\n    --seed 7   # note\n\
              edgesim sweep s.toml [--out DIR]\nls\n```\n```toml\nedgesim = 1\n```\n";
    assert_eq!(
        documented_commands(md),
        [(
            "edgesim run a.toml      --seed 7".to_string(),
            vec![
                "run".to_string(),
                "a.toml".into(),
                "--seed".into(),
                "7".into()
            ]
        )]
    );
}

/// Every `edgesim` command in the README's and the docs' shell blocks names a subcommand and
/// flags that exist, with values of the right form: clap reads it up to `--help` without an
/// error. (What the commands do is tested elsewhere; this keeps the docs in step with the
/// command line.)
#[test]
fn every_documented_command_line_parses() {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut seen = 0;
    for f in &files {
        for (line, mut words) in documented_commands(&std::fs::read_to_string(f).unwrap()) {
            words.push("--help".into());
            let o = edgesim(&words);
            assert!(
                o.status.success(),
                "{}: `{line}` does not parse: {}",
                f.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            seen += 1;
        }
    }
    // The README alone shows a dozen.
    assert!(seen >= 20, "only {seen} commands found");
}
