//! `edgesim compare`: the data behind each figure is checked against the runs' summaries, and
//! the PNG and SVG files decode (the pixels are not checked).

use std::collections::BTreeMap;
use std::process::Command;

use crate::common::*;

/// Rows of a figure table: (panel, series, x, category, y).
type Rows = Vec<(String, String, f64, String, f64)>;

fn figure_rows(path: &std::path::Path) -> Rows {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("panel,series,x,category,y"));
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            assert_eq!(c.len(), 5, "{l}");
            (
                c[0].into(),
                c[1].into(),
                c[2].parse().unwrap(),
                c[3].into(),
                c[4].parse().unwrap(),
            )
        })
        .collect()
}

fn value(rows: &Rows, series: &str, category: &str) -> f64 {
    rows.iter()
        .find(|r| r.1 == series && r.3 == category)
        .unwrap_or_else(|| panic!("no {series} / {category}"))
        .4
}

/// Runs `edgesim compare ARGS SCENARIO --out DIR` (a shipped scenario, DIR emptied first);
/// returns its `summaries.json`.
fn compare(dir: &std::path::Path, args: &[&str], scenario: &str) -> Vec<serde_json::Value> {
    let _ = std::fs::remove_dir_all(dir);
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .arg("compare")
        .args(args)
        .arg(shipped(scenario))
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert_ok(&out);
    serde_json::from_str(&std::fs::read_to_string(dir.join("summaries.json")).unwrap()).unwrap()
}

#[test]
fn compare_writes_figure_data_that_matches_the_runs() {
    let dir = scratch("cmp");
    let summaries = compare(
        &dir,
        &[
            "--set",
            "duration_s=1200",
            "--policies",
            "random,load_aware",
        ],
        "bursty.toml",
    );
    assert_eq!(summaries.len(), 2);
    let by_policy: BTreeMap<String, &serde_json::Value> = summaries
        .iter()
        .map(|s| (s["selection"].as_str().unwrap().to_string(), s))
        .collect();
    // Same seed, same arrivals under both policies.
    assert_eq!(
        by_policy["random"]["requests_total"],
        by_policy["load_aware"]["requests_total"]
    );

    let a = figure_rows(&dir.join("fig4a_requests.csv"));
    let b = figure_rows(&dir.join("fig4b_cloud.csv"));
    for (policy, s) in &by_policy {
        let n = |k: &str| s[k].as_f64().unwrap();
        assert_eq!(value(&a, "served at the edge", policy), n("served_edge"));
        assert_eq!(
            value(&a, "redirected to the cloud", policy),
            n("served_cloud")
        );
        assert_eq!(value(&a, "rejected", policy), n("rejected"));
        assert_eq!(value(&b, "tokens", policy), n("redirected_tokens"));
        assert!((value(&b, "cloud cost", policy) - n("cloud_cost_usd")).abs() < 1e-9);
        // Utilisation over time averages (bucket-length weighted) to the device's utilisation.
        let c = figure_rows(&dir.join("fig4c_utilisation.csv"));
        for d in s["devices"].as_array().unwrap() {
            let name = d["name"].as_str().unwrap();
            let pts: Vec<_> = c
                .iter()
                .filter(|r| r.0 == format!("selection: {policy}") && r.1 == name)
                .collect();
            assert!(!pts.is_empty(), "{policy} {name}");
            // 60 s buckets; the last is shorter: weight by length from the bucket midpoints.
            let end = n("end_s");
            let weighted: f64 = pts
                .iter()
                .map(|r| {
                    let start = (r.2 / 60.0).floor() * 60.0;
                    r.4 / 100.0 * ((start + 60.0).min(end) - start)
                })
                .sum();
            let u = d["utilisation"].as_f64().unwrap();
            assert!(
                (weighted / end - u).abs() < 1e-6,
                "{policy} {name}: {} vs {u}",
                weighted / end
            );
        }
    }
    // CDFs rise to 1 and never fall.
    let cdf = figure_rows(&dir.join("latency_cdf.csv"));
    let mut series: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    for r in &cdf {
        series
            .entry((r.0.clone(), r.1.clone()))
            .or_default()
            .push((r.2, r.4));
    }
    assert_eq!(series.len(), 2 * 2 * 2, "2 panels x 2 policies x 2 routes");
    for (k, pts) in &series {
        assert!((pts.last().unwrap().1 - 1.0).abs() < 1e-12, "{k:?}");
        assert!(
            pts.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1),
            "{k:?}"
        );
    }
    // Arrivals over time integrate to the requests.
    let arr = figure_rows(&dir.join("arrivals_redirections.csv"));
    let total: f64 = arr
        .iter()
        .filter(|r| r.0 == "selection: random" && r.1 == "arrivals")
        .map(|r| {
            let start = (r.2 / 60.0).floor() * 60.0;
            r.4 * ((start + 60.0).min(by_policy["random"]["end_s"].as_f64().unwrap()) - start)
        })
        .sum();
    assert!((total - by_policy["random"]["requests_total"].as_f64().unwrap()).abs() < 1e-6);

    #[cfg(feature = "plots")]
    for name in [
        "fig4a_requests",
        "fig4b_cloud",
        "fig4c_utilisation",
        "latency_cdf",
        "arrivals_redirections",
    ] {
        let png = image::open(dir.join(format!("{name}.png")))
            .unwrap_or_else(|e| panic!("{name}.png does not decode: {e}"));
        assert!(png.width() >= 800 && png.height() >= 400, "{name}");
        // Not blank: more than one colour.
        let rgb = png.to_rgb8();
        let first = rgb.get_pixel(0, 0);
        assert!(rgb.pixels().any(|p| p != first), "{name}.png is blank");
        let svg = std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}.svg: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::trim))
            .collect();
        assert!(
            texts
                .iter()
                .any(|t| ["selection policy", "time [s]", "latency [s] (log scale)"].contains(t)),
            "{name}.svg has no axis label: {texts:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `compare --seed --set --json --bucket-s`: the printed summaries are, policy by policy, what
/// `run` with the same seed, overrides and `selection.kind` prints, and the utilisation panel's
/// points sit at the middle of buckets of the given width.
#[test]
fn compare_flags_match_run_with_the_same_seed_and_overrides() {
    let dir = scratch("cmp-flags");
    let _ = std::fs::remove_dir_all(&dir);
    let common = ["--seed", "7", "--set", "duration_s=900", "--json"];
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .arg("compare")
        .args(common)
        .args(["--policies", "random,load_aware", "--bucket-s", "30"])
        .arg(shipped("bursty.toml"))
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert_ok(&out);
    let printed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed.len(), 2);
    for (s, policy) in printed.iter().zip(["random", "load_aware"]) {
        let run = Command::new(env!("CARGO_BIN_EXE_edgesim"))
            .arg("run")
            .args(common)
            .args(["--set", &format!("selection.kind={policy}"), "--no-out"])
            .arg(shipped("bursty.toml"))
            .output()
            .unwrap();
        assert_ok(&run);
        let alone: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        assert_eq!(s["seed"], 7);
        assert_eq!(*s, alone, "{policy}: compare and run differ");
    }
    // Each point at its bucket's middle; the last bucket ends with the run.
    let c = figure_rows(&dir.join("fig4c_utilisation.csv"));
    assert!(!c.is_empty());
    let end_s = |panel: &str| {
        let s = printed
            .iter()
            .find(|s| panel == format!("selection: {}", s["selection"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("no run for panel {panel}"));
        s["end_s"].as_f64().unwrap()
    };
    for r in &c {
        let end = end_s(&r.0);
        assert!(end > 900.0, "the run drains after its 900 s: {end}");
        let start = (r.2 / 30.0).floor() * 30.0;
        let middle = (start + (start + 30.0).min(end)) / 2.0;
        assert!(
            (r.2 - middle).abs() < 1e-6,
            "not a 30 s bucket's middle: {r:?}"
        );
    }
    assert!(c.iter().any(|r| r.2 == 45.0), "the second bucket's middle");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `compare --no-out` prints what `compare` prints (the table, or the summaries with
/// `--json`) and writes nothing, not even the default folder; it takes no `--out` or
/// `--bucket-s`.
#[test]
fn compare_without_outputs_prints_the_same_and_writes_nothing() {
    let dir = scratch_dir("cmp-no-out");
    let compare = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
            .current_dir(&dir)
            .args([
                "compare",
                "--set",
                "duration_s=600",
                "--policies",
                "random,load_aware",
            ])
            .args(extra)
            .arg(shipped("bursty.toml"))
            .output()
            .unwrap();
        assert_ok(&out);
        out
    };
    for json in [&[][..], &["--json"][..]] {
        let written = compare(&[json, &["--out", "written"]].concat());
        let alone = compare(&[json, &["--no-out"]].concat());
        assert!(!written.stdout.is_empty());
        assert_eq!(alone.stdout, written.stdout, "{json:?}");
        assert!(
            alone.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&alone.stderr)
        );
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["written"]);
    for other in [["--out", "x"], ["--bucket-s", "30"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
            .current_dir(&dir)
            .args(["compare", "--no-out"])
            .args(other)
            .arg(shipped("bursty.toml"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{other:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot be used with"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compare_rejects_an_unknown_policy() {
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args(["compare", "--policies", "random,fastest"])
        .arg(shipped("bursty.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"fastest\"") && err.contains("load_aware"),
        "{err}"
    );
    // A policy named twice would draw two identical panels: refused.
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .args(["compare", "--policies", "random,load_aware, random"])
        .arg(shipped("bursty.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("random is given twice"), "{err}");
}

/// Above 12 devices a utilisation panel draws the fleet's spread (a line per device was a
/// tangle): the devices' mean per bucket, whose time average is the mean of the devices'
/// utilisations in the summaries, with a 10th-90th percentile band, and the busiest device's
/// line, whose time average is at least the busiest device's utilisation.
#[test]
fn a_fleet_s_utilisation_panel_draws_its_spread() {
    let dir = scratch("cmp-fleet-spread");
    let summaries = compare(
        &dir,
        &[
            "--policies",
            "random,load_aware",
            "--set",
            "devices.0.count=30",
            "--set",
            "workload.rate_rps=5",
            "--set",
            "duration_s=300",
        ],
        "fleet.toml",
    );
    let text = std::fs::read_to_string(dir.join("fig4c_utilisation.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("panel,series,x,category,y,y_low,y_high"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    const MEAN: &str = "mean of 30 devices (band: 10th to 90th percentile)";
    // x, y and the band's (low, high).
    type Point = (f64, f64, Option<(f64, f64)>);
    for s in &summaries {
        let panel = format!("selection: {}", s["selection"].as_str().unwrap());
        let end = s["end_s"].as_f64().unwrap();
        let series = |name: &str| -> Vec<Point> {
            rows.iter()
                .filter(|r| r[0] == panel && r[1] == name)
                .map(|r| {
                    let band =
                        (!r[5].is_empty()).then(|| (r[5].parse().unwrap(), r[6].parse().unwrap()));
                    (r[2].parse().unwrap(), r[4].parse().unwrap(), band)
                })
                .collect()
        };
        let (mean, busiest) = (series(MEAN), series("busiest device"));
        assert!(
            rows.iter().filter(|r| r[0] == panel).count() == mean.len() + busiest.len(),
            "{panel}: only the two lines"
        );
        assert!(!mean.is_empty() && mean.len() == busiest.len(), "{panel}");
        // 60 s buckets, the last shorter: each point's weight from its bucket's midpoint.
        let average = |pts: &[Point]| {
            pts.iter()
                .map(|&(x, y, _)| {
                    let start = (x / 60.0).floor() * 60.0;
                    y / 100.0 * ((start + 60.0).min(end) - start)
                })
                .sum::<f64>()
                / end
        };
        let u: Vec<f64> = s["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["utilisation"].as_f64().unwrap())
            .collect();
        assert_eq!(u.len(), 30);
        let fleet = u.iter().sum::<f64>() / 30.0;
        assert!(
            (average(&mean) - fleet).abs() < 1e-9,
            "{panel}: {} vs {fleet}",
            average(&mean)
        );
        let top = u.iter().copied().fold(0.0, f64::max);
        assert!(average(&busiest) >= top - 1e-9, "{panel}");
        for (m, b) in mean.iter().zip(&busiest) {
            let (lo, hi) = m.2.expect("a band");
            assert!(lo <= hi && hi <= b.1 && m.1 <= b.1, "{panel}: {m:?} {b:?}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A legend names as many lines as fit (11) and counts the rest in a last row (a sweep's
/// figure of 20 series ran off it); the figure's data keeps every line.
#[test]
fn a_legend_names_what_fits_and_counts_the_rest() {
    let dir = scratch("legend-rows");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Odd last digits: each value is its own label (0.0110 would be shown as 0.011).
    let rates: Vec<String> = (1..=20)
        .map(|i| format!("0.{}", 1000 + 2 * i - 1))
        .collect();
    let sweep = dir.join("legend.toml");
    std::fs::write(
        &sweep,
        format!(
            "name = \"legend\"\nscenario = \"{}\"\n\
             [[axes]]\nkey = \"workload.rate_rps\"\nvalues = [{}]\n\
             [[axes]]\nkey = \"duration_s\"\nvalues = [1, 2]\n\
             [[plots]]\nmetric = \"requests_total\"\nx = \"duration_s\"\nseries = \"workload.rate_rps\"\n",
            shipped("steady.toml").display(),
            rates.join(", ")
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .arg("sweep")
        .arg(&sweep)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_ok(&o);
    let data = std::fs::read_to_string(out.join("plot1_requests_total.csv")).unwrap();
    for r in &rates {
        assert!(data.contains(&format!(",{r},")), "{r} in the data");
    }
    #[cfg(feature = "plots")]
    {
        let svg = std::fs::read_to_string(out.join("plot1_requests_total.svg")).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::trim))
            .collect();
        let named = texts
            .iter()
            .filter(|t| rates.iter().any(|r| r == *t))
            .count();
        assert_eq!(named, 11, "{texts:?}");
        assert!(texts.contains(&"... and 9 more"), "{texts:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
