//! Edge devices: the calibrated service model and the profiles it is read from.
//!
//! A device runs one model in a llama.cpp server with P slots. The [`DeviceModel`] answers the
//! questions the simulator asks of the hardware; the slot/queue state machine lives in
//! [`crate::sim`].

pub mod calibrated;
pub mod fleet;
pub mod profile;
pub mod source;

pub use calibrated::CalibratedDevice;
pub use fleet::{DeviceFile, DeviceGroup};
pub use profile::{PrefillMode, load_profile};
pub use source::ProfileSource;

use std::fmt::Debug;

/// A device's position in the fleet (groups expanded, in order), from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DeviceId(pub u32);

impl DeviceId {
    /// The index into per-device vectors.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Calibrated behaviour of one (device, model) pair. Its answers depend only on their
/// arguments: the simulator asks `decode_tps`, `busy_w` and `idle_w` once per device group for
/// every count of streams up to the slots, and keeps the answers.
pub trait DeviceModel: Send + Sync + Debug {
    /// Time from a slot starting a request to its first token: prompt processing plus fixed
    /// overhead \[s\].
    fn prefill_s(&self, prompt_tokens: u32) -> f64;
    /// How prefill shares the device with decoding.
    fn prefill_mode(&self) -> PrefillMode;
    /// Aggregate decode throughput with `streams` concurrent decoding requests at an empty
    /// context, D(n) \[tokens/s\]; each stream decodes at D(n)/n.
    fn decode_tps(&self, streams: u32) -> f64;
    /// Extra time of one decode step per token of context held by the decoding streams, γ
    /// \[s/token\]: a step of n streams holding C context tokens in all takes n/D(n) + γ·C.
    fn decode_s_per_context_token(&self) -> f64;
    /// Time for one stream decoding alone to produce `tokens` tokens, starting from `context`
    /// tokens of context: ∫₀ʳ (1/D(1) + γ·(c + v)) dv = r/D(1) + γ·(c·r + r²/2) \[s\].
    fn decode_alone_s(&self, context: u32, tokens: u32) -> f64 {
        let (c, r) = (f64::from(context), f64::from(tokens));
        r / self.decode_tps(1) + self.decode_s_per_context_token() * (c * r + r * r / 2.0)
    }
    /// Power with `active` requests in service (prefill or decode), `active >= 1` \[W\].
    fn busy_w(&self, active: u32) -> f64;
    /// Power with no request in service \[W\].
    fn idle_w(&self) -> f64;
}
