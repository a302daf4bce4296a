//! Simulated time: integer microseconds, exact and totally ordered.
//!
//! Models compute durations in `f64` seconds; they are converted once, with rounding to the
//! nearest microsecond, at the boundary ([`SimDuration::from_secs_f64`]). Nothing inside the
//! event loop compares floating-point times.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in simulated time, in microseconds since the start of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

/// A span of simulated time, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(pub u64);

/// Microseconds per second.
pub const MICROS_PER_S: f64 = 1_000_000.0;

/// The largest time, in seconds, that a scenario may give anywhere (a duration, a trace offset,
/// a latency): 10^12 s, about 31,700 years. The clock holds 1.8 x 10^13 s; the margin leaves
/// room for the drain after the arrivals and for the sum of a request's spans.
pub const MAX_INPUT_S: f64 = 1e12;

/// A run whose last event lies beyond this time \[s\] is refused ([`crate::Error::Clock`]):
/// the clock saturates at 1.8 x 10^13 s, and saturated times would give zero latencies.
pub const CLOCK_LIMIT_S: f64 = 1e13;

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable time (used as "never").
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Time from seconds, rounded to the nearest microsecond (negative and NaN give zero).
    #[inline]
    pub fn from_secs_f64(s: f64) -> SimTime {
        SimTime(SimDuration::from_secs_f64(s).0)
    }
    /// Seconds as `f64`.
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_S
    }
    /// Milliseconds as `f64`.
    #[inline]
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    /// The span from `earlier` to `self` (zero if `earlier` is later).
    #[inline]
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// Zero length.
    pub const ZERO: SimDuration = SimDuration(0);

    /// Duration from seconds, rounded to the nearest microsecond; negative and NaN give zero,
    /// values beyond `u64::MAX` microseconds saturate.
    #[inline]
    pub fn from_secs_f64(s: f64) -> SimDuration {
        let us = crate::fmath::round(s * MICROS_PER_S);
        // 2^63: below it the conversion goes through `i64`, one instruction on x86-64 (to
        // `u64` it is several: the CPU converts only to signed integers).
        const SIGNED_FROM: f64 = 9_223_372_036_854_775_808.0;
        if us > 0.0 && us < SIGNED_FROM {
            SimDuration(us as i64 as u64)
        } else if us.is_nan() || us <= 0.0 {
            SimDuration(0)
        } else if us >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(us as u64)
        }
    }
    /// Duration from milliseconds (rounded to the nearest microsecond).
    #[inline]
    pub fn from_millis_f64(ms: f64) -> SimDuration {
        SimDuration::from_secs_f64(ms / 1000.0)
    }
    /// Seconds as `f64`.
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_S
    }
    /// Milliseconds as `f64`.
    #[inline]
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    #[inline]
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    #[inline]
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    #[inline]
    fn sub(self, other: SimTime) -> SimDuration {
        self.since(other)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_to_nearest_microsecond() {
        assert_eq!(SimDuration::from_secs_f64(1.4e-6).0, 1);
        assert_eq!(SimDuration::from_secs_f64(1.6e-6).0, 2);
        assert_eq!(SimDuration::from_secs_f64(-3.0).0, 0);
        assert_eq!(SimDuration::from_secs_f64(f64::NAN).0, 0);
        assert_eq!(SimDuration::from_secs_f64(1e30).0, u64::MAX);
        assert_eq!(SimDuration::from_secs_f64(f64::INFINITY).0, u64::MAX);
        assert_eq!(SimDuration::from_secs_f64(-0.0).0, 0);
        assert_eq!(SimDuration::from_millis_f64(2.5).0, 2500);
        // Either side of 2^63 µs (converted through i64 below it), and of u64::MAX.
        assert_eq!(
            SimDuration::from_secs_f64(9.2e12).0,
            9_200_000_000_000_000_000
        );
        assert_eq!(
            SimDuration::from_secs_f64(9.3e12).0,
            9_300_000_000_000_000_000
        );
        assert_eq!(
            SimDuration::from_secs_f64(9.223_372_036_854_776e12).0,
            1 << 63
        );
        assert_eq!(
            SimDuration::from_secs_f64(1.8e13).0,
            18_000_000_000_000_000_000
        );
        assert_eq!(SimDuration::from_secs_f64(1.9e13).0, u64::MAX);
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(SimTime::MAX + SimDuration(5), SimTime::MAX);
        assert_eq!(SimTime(3).since(SimTime(10)), SimDuration::ZERO);
        assert_eq!(SimTime(10) - SimTime(3), SimDuration(7));
    }
}
