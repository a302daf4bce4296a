//! `round`, `ceil` and `floor` for the event loop, bit for bit those of `f64`, without a call.
//!
//! The x86-64 baseline has no rounding instruction (SSE4.1's `roundsd` is not in it), so
//! `f64::round`, `ceil` and `floor` are calls into the compiler's soft-float library, some 25
//! instructions each with branches. The event loop rounds several times per request (a
//! duration to whole microseconds, a token count, a decode step): 3.7 % of the bursty
//! benchmark's instructions were those functions' own (docs/performance.md, "The hot path
//! inlined"). These versions round to the nearest integer by adding and subtracting 2^52
//! (exact for every `|x| < 2^52`), then step by one where the rule differs; larger
//! magnitudes, infinities and NaN are integers already (or NaN) and come back as they are, as
//! from the standard library. The sign of a zero result follows `x`, as it does there
//! (`round(-0.3)` is `-0.0`).

/// 2^52: from here on every `f64` is an integer.
const INTEGRAL_FROM: f64 = 4_503_599_627_370_496.0;

/// `a` (`0 <= a < 2^52`) rounded to the nearest integer, ties to even: adding 2^52 leaves no
/// bits for a fraction, so the sum is rounded (in the default rounding mode) and the
/// difference is exact.
#[inline(always)]
fn nearest_even(a: f64) -> f64 {
    (a + INTEGRAL_FROM) - INTEGRAL_FROM
}

/// Rounds half away from zero: `f64::round`, bit for bit.
#[inline]
pub fn round(x: f64) -> f64 {
    let a = x.abs();
    if a < INTEGRAL_FROM {
        let r = nearest_even(a);
        // A tie went to the even neighbour; half away from zero is the one above. (Added as
        // 0 or 1, not in a branch: which way a random value goes is a coin toss.)
        let r = r + f64::from(u8::from(a - r == 0.5));
        r.copysign(x)
    } else {
        x
    }
}

/// The least integer `>= x`: `f64::ceil`, bit for bit.
#[inline]
pub fn ceil(x: f64) -> f64 {
    if x.abs() < INTEGRAL_FROM {
        let r = nearest_even(x.abs()).copysign(x);
        let r = r + f64::from(u8::from(r < x));
        r.copysign(x)
    } else {
        x
    }
}

/// The greatest integer `<= x`: `f64::floor`, bit for bit (−ceil(−x), signed zeros
/// included).
#[inline]
pub fn floor(x: f64) -> f64 {
    -ceil(-x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Compares with the standard library on `x` and on its neighbours one ulp away.
    fn check(x: f64) {
        for y in [
            x,
            f64::from_bits(x.to_bits().wrapping_add(1)),
            f64::from_bits(x.to_bits().wrapping_sub(1)),
        ] {
            for (name, ours, std) in [
                ("round", round(y), y.round()),
                ("ceil", ceil(y), y.ceil()),
                ("floor", floor(y), y.floor()),
            ] {
                assert!(
                    ours.to_bits() == std.to_bits() || (ours.is_nan() && std.is_nan()),
                    "{name}({y:e} = {:#x}): {ours:e} against the standard library's {std:e}",
                    y.to_bits()
                );
            }
        }
    }

    #[test]
    fn the_edges_match_the_standard_library() {
        let edges = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            0.49999999999999994,
            -0.49999999999999994,
            1.5,
            2.5,
            -2.5,
            1.0,
            -1.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            INTEGRAL_FROM,
            -INTEGRAL_FROM,
            INTEGRAL_FROM / 2.0 + 0.5,
            -(INTEGRAL_FROM / 2.0 + 0.5),
            9.223_372_036_854_776e18,
            -9.223_372_036_854_776e18,
            1e300,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for x in edges {
            check(x);
        }
        for k in -2000..=2000 {
            check(f64::from(k) * 0.25);
            check(f64::from(k) / 3.0);
        }
    }

    #[test]
    fn random_values_match_the_standard_library() {
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        for _ in 0..200_000 {
            // Every exponent, both signs, any mantissa.
            check(f64::from_bits(r.random::<u64>()));
            // Values where the fraction matters.
            check(r.random_range(-1e7..1e7));
            check(r.random_range(-4.0..4.0));
        }
    }
}
