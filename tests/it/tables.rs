//! Output tables read back equal the in-memory summary (CSV always; Parquet through polars when
//! the `parquet` feature is on).

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;
use edgesim::output::{Format, OutputOptions, run_to_dir};

/// A CSV file as (header, rows of cells).
fn read_csv(p: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(p).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

fn col<'a>(t: &'a (Vec<String>, Vec<Vec<String>>), name: &str) -> Vec<&'a str> {
    let i =
        t.0.iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"));
    t.1.iter().map(|r| r[i].as_str()).collect()
}

fn sum(xs: &[&str]) -> f64 {
    xs.iter()
        .filter(|x| !x.is_empty())
        .map(|x| x.parse::<f64>().unwrap())
        .sum()
}

fn out_dir(tag: &str) -> std::path::PathBuf {
    let d = scratch(&format!("tables-{tag}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-6 * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn csv_tables_match_the_summary() {
    let sc = load(&shipped("bursty.toml"), &["duration_s=1800"]);
    let dir = out_dir("csv");
    let opts = OutputOptions {
        formats: vec![Format::Csv],
        requests: true,
        bucket_s: 7.0,
    };
    let (s, files) = run_to_dir(&sc, &dir, &opts).unwrap();
    assert!(files.iter().all(|f| f.exists()), "{files:?}");

    let req = read_csv(&dir.join("requests.csv"));
    assert_eq!(req.1.len() as u64, s.requests_total);
    let mut by_route = BTreeMap::new();
    for r in col(&req, "route") {
        *by_route.entry(r).or_insert(0u64) += 1;
    }
    assert_eq!(by_route.get("edge").copied().unwrap_or(0), s.served_edge);
    assert_eq!(by_route.get("cloud").copied().unwrap_or(0), s.served_cloud);
    assert_eq!(by_route.get("rejected").copied().unwrap_or(0), s.rejected);
    // Every id exactly once.
    let mut ids: Vec<u64> = col(&req, "request_id")
        .iter()
        .map(|x| x.parse().unwrap())
        .collect();
    ids.sort_unstable();
    assert!(ids.iter().enumerate().all(|(i, &id)| i as u64 == id));
    let route = col(&req, "route");
    let tokens = |which: &str, want: &str| -> f64 {
        col(&req, which)
            .iter()
            .zip(&route)
            .filter(|(_, r)| **r == want)
            .map(|(x, _)| x.parse::<f64>().unwrap())
            .sum()
    };
    close(
        tokens("prompt_tokens", "cloud"),
        s.redirected_prompt_tokens as f64,
        "prompt",
    );
    close(
        tokens("output_tokens", "cloud"),
        s.redirected_output_tokens as f64,
        "output",
    );
    close(sum(&col(&req, "cost_usd")), s.cloud_cost_usd, "cost");
    close(
        sum(&col(&req, "energy_j")),
        s.edge_request_energy_j,
        "energy",
    );

    let dev = read_csv(&dir.join("devices.csv"));
    assert_eq!(dev.1.len(), s.devices.len());
    close(
        sum(&col(&dev, "energy_j")),
        s.edge_energy_j,
        "device energy",
    );
    close(
        sum(&col(&dev, "served")),
        s.served_edge as f64,
        "device served",
    );

    // The time series integrates to the device totals.
    let ts = read_csv(&dir.join("timeseries.csv"));
    let n_buckets = (s.end_s / 7.0).ceil() as usize;
    assert_eq!(ts.1.len(), n_buckets * s.devices.len());
    for d in &s.devices {
        let rows: Vec<&Vec<String>> = ts.1.iter().filter(|r| r[2] == d.name).collect();
        let f = |name: &str, r: &Vec<String>| -> f64 {
            r[ts.0.iter().position(|h| h == name).unwrap()]
                .parse()
                .unwrap()
        };
        let energy: f64 = rows.iter().map(|r| f("energy_j", r)).sum();
        close(energy, d.energy_j, &format!("{} energy", d.name));
        let busy: f64 = rows
            .iter()
            .map(|r| f("utilisation", r) * (f("bucket_end_s", r) - f("bucket_start_s", r)))
            .sum();
        close(busy, d.busy_s, &format!("{} busy", d.name));
        let refused: f64 = rows.iter().map(|r| f("redirections", r)).sum();
        close(refused, (d.throttled + d.full) as f64, "refused");
        let arrivals: f64 = rows.iter().map(|r| f("arrivals", r)).sum();
        close(
            arrivals,
            (d.served + d.throttled + d.full) as f64,
            "attempts",
        );
    }
    let gw = read_csv(&dir.join("gateway.csv"));
    close(
        sum(&col(&gw, "arrivals")),
        s.requests_total as f64,
        "gateway arrivals",
    );
    close(
        sum(&col(&gw, "served_cloud")),
        s.served_cloud as f64,
        "gateway cloud",
    );
    close(
        sum(&col(&gw, "redirected_tokens")),
        s.redirected_tokens as f64,
        "gateway tokens",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_tables_read_back_with_polars() {
    use edgesim::output::parquet::polars::prelude::*;
    use edgesim::output::parquet::read;
    let sc = load(&shipped("steady.toml"), &["duration_s=1200"]);
    let dir = out_dir("pq");
    let (s, _) = run_to_dir(&sc, &dir, &OutputOptions::default()).unwrap();
    let req = read(&dir.join("requests.parquet")).unwrap();
    assert_eq!(req.height() as u64, s.requests_total);
    let f64_sum = |df: &DataFrame, c: &str| -> f64 {
        df.column(c).unwrap().f64().unwrap().sum().unwrap_or(0.0)
    };
    let u64_sum = |df: &DataFrame, c: &str| -> u64 {
        df.column(c).unwrap().u64().unwrap().sum().unwrap_or(0)
    };
    close(f64_sum(&req, "cost_usd"), s.cloud_cost_usd, "cost");
    close(f64_sum(&req, "energy_j"), s.edge_request_energy_j, "energy");
    let routes = req.column("route").unwrap().str().unwrap();
    let count = |r: &str| routes.iter().filter(|x| *x == Some(r)).count() as u64;
    assert_eq!(
        (count("edge"), count("cloud"), count("rejected")),
        (s.served_edge, s.served_cloud, s.rejected)
    );
    // Rejected requests have null latencies; served ones do not.
    let ttft_nulls = req.column("ttft_ms").unwrap().null_count() as u64;
    assert_eq!(ttft_nulls, s.rejected);
    let all_tokens = u64_sum(&req, "prompt_tokens") + u64_sum(&req, "output_tokens");
    assert_eq!(all_tokens, s.edge_tokens + s.redirected_tokens);
    let dev = read(&dir.join("devices.parquet")).unwrap();
    assert_eq!(dev.height(), s.devices.len());
    close(f64_sum(&dev, "energy_j"), s.edge_energy_j, "device energy");
    let ts = read(&dir.join("timeseries.parquet")).unwrap();
    close(f64_sum(&ts, "energy_j"), s.edge_energy_j, "series energy");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A million requests stream through batches of 65,536 rows (peak memory is measured by
/// `scripts/memory.sh`, not here).
#[test]
fn a_million_requests_stream_to_the_request_table() {
    let sc = scenario(&format!(
        "duration_s = 1000\n[workload]\nkind = \"poisson\"\nrate_rps = 1000\n\
         prompt_tokens = {{ dist = \"fixed\", value = 10 }}\n\
         output_tokens = {{ dist = \"fixed\", value = 5 }}\n{}",
        inline_device("d", 4, 0, &[100.0, 180.0, 240.0, 280.0], 10.0, 2.0)
    ));
    let dir = out_dir("million");
    let opts = OutputOptions {
        bucket_s: 100.0,
        ..OutputOptions::default()
    };
    let (s, _) = run_to_dir(&sc, &dir, &opts).unwrap();
    assert!(s.requests_total > 990_000, "{}", s.requests_total);
    let path = dir.join(format!("requests.{}", opts.formats[0].extension()));
    #[cfg(feature = "parquet")]
    assert_eq!(
        edgesim::output::parquet::read(&path).unwrap().height() as u64,
        s.requests_total
    );
    #[cfg(not(feature = "parquet"))]
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().lines().count() as u64,
        s.requests_total + 1
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
