//! The paper's metric toolkit: energy per response, cost per response (CPR), responsiveness R,
//! utility U = a*Q + (1-a)*R and PCR = U / CPR. Formulas are in `docs/metrics.md`.

/// Joules per kWh.
pub const J_PER_KWH: f64 = 3.6e6;

/// Edge cost per response \[US cents\] of `energy_j` at `cents_per_kwh`.
pub fn edge_cpr_cents(energy_j: f64, cents_per_kwh: f64) -> f64 {
    energy_j / J_PER_KWH * cents_per_kwh
}

/// Cloud API fee of one request \[USD\]: `prompt` input and `output` output tokens at prices
/// in USD per 1000 tokens.
pub fn cloud_cost_usd(
    prompt: u32,
    output: u32,
    usd_per_1k_input: f64,
    usd_per_1k_output: f64,
) -> f64 {
    (f64::from(prompt) * usd_per_1k_input + f64::from(output) * usd_per_1k_output) / 1000.0
}

/// Cloud cost per response \[US cents\]: API fees of `prompt` input and `output` output tokens.
pub fn cloud_cpr_cents(
    prompt: u32,
    output: u32,
    usd_per_1k_input: f64,
    usd_per_1k_output: f64,
) -> f64 {
    cloud_cost_usd(prompt, output, usd_per_1k_input, usd_per_1k_output) * 100.0
}

/// Responsiveness R in (0, 1]: `1 / (1 + ttft / ttft_ref)`. R = 1 at TTFT 0, 1/2 at the
/// reference, and falls towards 0 (as `ttft_ref / ttft`) far above it.
pub fn responsiveness(ttft_ms: f64, ttft_ref_ms: f64) -> f64 {
    1.0 / (1.0 + ttft_ms.max(0.0) / ttft_ref_ms)
}

/// Utility U = a*Q + (1-a)*R.
pub fn utility(alpha: f64, quality: f64, responsiveness: f64) -> f64 {
    alpha * quality + (1.0 - alpha) * responsiveness
}

/// Performance-cost ratio PCR = U / CPR \[per US cent\]; `None` if the cost is zero.
pub fn pcr(utility: f64, cpr_cents: f64) -> Option<f64> {
    (cpr_cents > 0.0).then(|| utility / cpr_cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_values() {
        // 3600 J = 1 Wh = 0.001 kWh; at 25 cents/kWh: 0.025 cents.
        assert!((edge_cpr_cents(3600.0, 25.0) - 0.025).abs() < 1e-15);
        // GPT-4 8k: 50 x 0.03/1000 + 250 x 0.06/1000 USD = 0.0165 USD = 1.65 cents.
        assert!((cloud_cpr_cents(50, 250, 0.03, 0.06) - 1.65).abs() < 1e-12);
        assert!((utility(0.5, 0.8, 0.4) - 0.6).abs() < 1e-15);
        assert!((utility(1.0, 0.8, 0.4) - 0.8).abs() < 1e-15);
        assert_eq!(pcr(0.6, 0.0), None);
        assert!((pcr(0.6, 0.3).unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn responsiveness_at_its_edges() {
        assert_eq!(responsiveness(0.0, 1000.0), 1.0);
        assert_eq!(
            responsiveness(-5.0, 1000.0),
            1.0,
            "negative TTFT is clamped"
        );
        assert_eq!(responsiveness(1000.0, 1000.0), 0.5);
        let far = responsiveness(1e9, 1000.0);
        assert!(far > 0.0 && far < 1.01e-6, "{far}");
        assert!(
            responsiveness(500.0, 1000.0) > responsiveness(600.0, 1000.0),
            "monotone"
        );
    }
}
