//! Numbers as CSV text, byte for byte as Rust's `Display` writes them, at a fraction of the
//! cost.
//!
//! The request and time-series tables are mostly numbers, and formatting them through
//! `core::fmt` took two thirds of a run that writes its tables (docs/performance.md, "CSV
//! numbers without `core::fmt`"). Here an unsigned integer's digits come from `itoa`, and a
//! float's shortest round-trip digits from `zmij` (both already in the build, through
//! serde_json), laid out as `Display` lays them: never an exponent, no `.0` on whole numbers,
//! `-0` for negative zero. Both give the shortest digits that read back to the same float and,
//! of those, the closest. They differ only where two are equally close (the float lies exactly
//! halfway: zmij takes the even last digit, `Display` the one away from zero), which needs a
//! float whose exact decimal expansion has at most 18 significant digits; [`may_tie`] sends
//! those few to `Display`. The tests compare the two on edge values, halfway values and
//! millions of random ones.

/// Appends `v` in decimal.
#[inline]
pub fn push_u64(out: &mut String, v: u64) {
    let mut buf = itoa::Buffer::new();
    out.push_str(buf.format(v));
}

/// Appends `x` as `format!("{x}")` would.
pub fn push_f64(out: &mut String, x: f64) {
    if !x.is_finite() || may_tie(x) {
        use std::fmt::Write as _;
        let _ = write!(out, "{x}");
        return;
    }
    let mut buf = zmij::Buffer::new();
    let text = buf.format_finite(x);
    if !text.contains('e') {
        // Between 10^-5 and 10^16, zmij writes what `Display` does, but for a `.0` on whole
        // numbers.
        out.push_str(text.strip_suffix(".0").unwrap_or(text));
    } else {
        push_exponent_form(out, text.as_bytes());
    }
}

/// Appends `text`, zmij's `[-]M e±E` (M digits with at most one '.'), without the exponent.
#[cold]
fn push_exponent_form(out: &mut String, text: &[u8]) {
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mantissa, exp) = match text.iter().position(|&b| b == b'e') {
        Some(at) => (&text[..at], parse_exp(&text[at + 1..])),
        None => (text, 0),
    };
    let (int, frac) = match mantissa.iter().position(|&b| b == b'.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, &[][..]),
    };
    // The value is 0.D x 10^point, D = the significant digits (at most 17).
    let mut digits = [0u8; 24];
    let mut n = 0;
    let mut point = int.len() as i32 + exp;
    for &b in int.iter().chain(frac) {
        if n == 0 && b == b'0' {
            point -= 1;
        } else if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    while n > 0 && digits[n - 1] == b'0' {
        n -= 1;
    }
    if negative {
        out.push('-');
    }
    let digits = String::from_utf8_lossy(&digits[..n]);
    let n = digits.len();
    if n == 0 {
        out.push('0');
    } else if point <= 0 {
        out.push_str("0.");
        (0..-point).for_each(|_| out.push('0'));
        out.push_str(&digits);
    } else if (point as usize) < n {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    } else {
        out.push_str(&digits);
        (n..point as usize).for_each(|_| out.push('0'));
    }
}

/// Whether `x` (finite) might lie exactly halfway between two shortest decimals. Halfway
/// between two n-digit decimals is a decimal of n + 1 <= 18 significant digits ending in 5, so
/// it is false wherever the exact value `m * 2^e` (m odd) has more: for e >= 0, every integer
/// below 2^53 (`Display` writes it whole, and so does zmij) ; for e < 0, whenever m * 5^-e,
/// the exact digits, reaches 10^18.
fn may_tie(x: f64) -> bool {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mut m, mut e) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    if m == 0 {
        return false;
    }
    let tz = m.trailing_zeros();
    m >>= tz;
    e += tz as i32;
    if e >= 0 {
        return x.abs() >= 9_007_199_254_740_992.0;
    }
    // 5^26 > 10^18: more halvings than that always give more digits.
    e > -26 && u128::from(m) * 5u128.pow((-e) as u32) < 1_000_000_000_000_000_000
}

/// The exponent after an `e`: an optional sign, then digits.
fn parse_exp(s: &[u8]) -> i32 {
    let (sign, digits) = match s.split_first() {
        Some((b'-', rest)) => (-1, rest),
        Some((b'+', rest)) => (1, rest),
        _ => (1, s),
    };
    sign * digits
        .iter()
        .fold(0i32, |e, &b| e * 10 + i32::from(b.wrapping_sub(b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngExt, SeedableRng};

    fn same(x: f64) {
        let mut s = String::new();
        push_f64(&mut s, x);
        assert_eq!(s, format!("{x}"), "bits {:#018x}", x.to_bits());
    }

    #[test]
    fn floats_as_display_writes_them() {
        let edge = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.3,
            1.0 / 3.0,
            2.0 / 3.0,
            100.0,
            123_456.0,
            1e-7,
            1.5e-7,
            1e-5,
            1e-4,
            0.001_234,
            1e15,
            1e16,
            1e17,
            1.234e21,
            1e22,
            1e23,
            9_007_199_254_740_993.0,
            123_456_789_012_345_680.0,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::EPSILON,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        edge.into_iter().for_each(same);
        for e in -330..310 {
            let p = 10f64.powi(e);
            [p, p * 1.5, p * 9.999_999, p / 3.0, -p]
                .into_iter()
                .for_each(same);
        }
    }

    #[test]
    fn halfway_floats_as_display_writes_them() {
        // The float found by the random test below: exactly ...025.625, between the 16-digit
        // ...025.62 and ...025.63.
        same(f64::from_bits(0xc2d0_b3bf_1c39_fa68));
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(9);
        for _ in 0..200_000 {
            // Few binary fraction digits: exact expansions of 16-19 digits, many halfway.
            let m = rng.random_range(1u64 << 40..1 << 53) as f64;
            let k = rng.random_range(1..8);
            same(m / f64::from(1 << k));
            same(-m * f64::from(1 << k) * 1024.0);
        }
    }

    #[test]
    fn random_floats_as_display_writes_them() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        for _ in 0..1_000_000 {
            // Every exponent and mantissa, sign included.
            same(f64::from_bits(rng.next_u64()));
        }
        for _ in 0..1_000_000 {
            // The values tables hold: times and energies near the units' scale.
            let k = rng.random_range(0..10_000_000u64) as f64;
            same(k / 1000.0);
            same(k * 1e-6);
            same(rng.random::<f64>() * 1e4);
        }
    }

    #[test]
    fn integers_as_display_writes_them() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(8);
        let mut s = String::new();
        for v in [0, 1, 9, 10, 99, 100, u64::MAX, u64::MAX - 1]
            .into_iter()
            .chain((0..10_000).map(|_| rng.next_u64() >> rng.random_range(0..64)))
        {
            s.clear();
            push_u64(&mut s, v);
            assert_eq!(s, v.to_string());
        }
    }
}
