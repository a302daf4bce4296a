//! The platform comparison against the paper's Table I and its AGX/Nano ratios.

use crate::common::*;
use edgesim::catalogue::ModelCatalogue;
use edgesim::platforms::{PlatformParams, PlatformRow, compare};

fn rows() -> Vec<PlatformRow> {
    compare(
        &root().join("calibration"),
        &ModelCatalogue::builtin(),
        &PlatformParams::default(),
    )
    .unwrap()
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

#[test]
fn agx_over_nano_ratios_lie_in_the_papers_ranges() {
    let rows = rows();
    let mut checked = 0;
    for nano in rows
        .iter()
        .filter(|r| r.name.starts_with("Jetson Orin Nano"))
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
