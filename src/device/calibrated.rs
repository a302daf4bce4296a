//! The calibrated device model: piecewise-linear prefill speed, a decode throughput curve D(n)
//! and power by number of requests in service.

use super::DeviceModel;
use super::profile::{DeviceInfo, ModelPerf, PrefillMode};

/// A [`DeviceModel`] built from a profile entry. See `docs/model.md` for the equations.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibratedDevice {
    prefill_tps: f64,
    prefill_curve: Vec<(f64, f64)>,
    overhead_s: f64,
    prefill_mode: PrefillMode,
    decode_tps: Vec<f64>,
    context_s: f64,
    busy_w: f64,
    busy_w_by_streams: Vec<f64>,
    idle_w: f64,
}

impl CalibratedDevice {
    /// Builds the model from validated profile parts (speeds positive, lists non-empty).
    pub fn new(info: &DeviceInfo, perf: &ModelPerf) -> CalibratedDevice {
        let mut curve = perf.prefill_curve.clone();
        curve.sort_by(|a, b| a.0.total_cmp(&b.0));
        CalibratedDevice {
            prefill_tps: perf.prefill_tps,
            prefill_curve: curve,
            overhead_s: perf.ttft_overhead_ms / 1000.0,
            prefill_mode: perf.prefill_mode,
            decode_tps: perf.decode_tps.clone(),
            context_s: perf.decode_ms_per_1k_context / 1e6,
            busy_w: perf.busy_w,
            busy_w_by_streams: perf.busy_w_by_streams.clone(),
            idle_w: info.idle_w,
        }
    }

    /// Prefill speed for a prompt of `tokens` \[tokens/s\].
    pub fn prefill_tps_at(&self, tokens: f64) -> f64 {
        interpolate(&self.prefill_curve, tokens).unwrap_or(self.prefill_tps)
    }
}

/// Linear interpolation in sorted `(x, y)` points, flat beyond the ends; `None` if empty.
pub(crate) fn interpolate(points: &[(f64, f64)], x: f64) -> Option<f64> {
    let (first, last) = (points.first()?, points.last()?);
    if x <= first.0 {
        return Some(first.1);
    }
    if x >= last.0 {
        return Some(last.1);
    }
    let i = points.partition_point(|p| p.0 <= x);
    let (a, b) = (points[i - 1], points[i]);
    Some(a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0))
}

/// `curve\[n - 1\]`, held at the last value for larger `n`.
fn by_count(curve: &[f64], n: u32) -> Option<f64> {
    let i = (n.max(1) as usize - 1).min(curve.len().checked_sub(1)?);
    Some(curve[i])
}

impl DeviceModel for CalibratedDevice {
    fn prefill_s(&self, prompt_tokens: u32) -> f64 {
        let t = f64::from(prompt_tokens);
        self.overhead_s + t / self.prefill_tps_at(t)
    }
    fn prefill_mode(&self) -> PrefillMode {
        self.prefill_mode
    }
    fn decode_tps(&self, streams: u32) -> f64 {
        by_count(&self.decode_tps, streams).unwrap_or(0.0)
    }
    fn decode_s_per_context_token(&self) -> f64 {
        self.context_s
    }
    fn busy_w(&self, active: u32) -> f64 {
        by_count(&self.busy_w_by_streams, active).unwrap_or(self.busy_w)
    }
    fn idle_w(&self) -> f64 {
        self.idle_w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perf() -> ModelPerf {
        ModelPerf {
            model: "m".into(),
            quant: String::new(),
            prefill_tps: 100.0,
            prefill_curve: vec![],
            ttft_overhead_ms: 20.0,
            prefill_mode: PrefillMode::Serial,
            decode_tps: vec![10.0, 16.0, 20.0],
            decode_ms_per_1k_context: 0.0,
            busy_w: 12.0,
            busy_w_by_streams: vec![],
            source: String::new(),
        }
    }
    fn info() -> DeviceInfo {
        DeviceInfo {
            name: "d".into(),
            power_mode: String::new(),
            memory_gb: 8.0,
            usable_memory_gb: None,
            idle_w: 3.0,
            source: String::new(),
        }
    }

    #[test]
    fn prefill_is_overhead_plus_tokens_over_speed() {
        let d = CalibratedDevice::new(&info(), &perf());
        assert!((d.prefill_s(200) - (0.02 + 2.0)).abs() < 1e-12);
    }

    #[test]
    fn prefill_curve_interpolates_and_holds_flat() {
        let mut p = perf();
        p.prefill_curve = vec![(256.0, 300.0), (64.0, 100.0)];
        let d = CalibratedDevice::new(&info(), &p);
        assert_eq!(d.prefill_tps_at(10.0), 100.0);
        assert_eq!(d.prefill_tps_at(160.0), 200.0);
        assert_eq!(d.prefill_tps_at(4096.0), 300.0);
    }

    #[test]
    fn decode_alone_integrates_the_context_effect() {
        // D(1) = 10 tokens/s, γ = 10 ms per 1,000 tokens: 10 tokens from 1,001 tokens of
        // context take 1 + 1e-5 · (10,010 + 50) = 1.1006 s (the simulator gives the same,
        // tests/it/routing.rs).
        let mut p = perf();
        p.decode_ms_per_1k_context = 10.0;
        let d = CalibratedDevice::new(&info(), &p);
        assert!((d.decode_alone_s(1001, 10) - 1.1006).abs() < 1e-12);
        assert!(
            (CalibratedDevice::new(&info(), &perf()).decode_alone_s(1001, 10) - 1.0).abs() < 1e-12
        );
    }

    #[test]
    fn decode_curve_holds_last_value() {
        let d = CalibratedDevice::new(&info(), &perf());
        assert_eq!(d.decode_tps(1), 10.0);
        assert_eq!(d.decode_tps(3), 20.0);
        assert_eq!(d.decode_tps(9), 20.0);
        assert_eq!(d.busy_w(4), 12.0);
        let mut p = perf();
        p.busy_w_by_streams = vec![10.0, 11.0];
        let d = CalibratedDevice::new(&info(), &p);
        assert_eq!((d.busy_w(1), d.busy_w(2), d.busy_w(7)), (10.0, 11.0, 11.0));
    }
}
