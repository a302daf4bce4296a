//! A fixed-size log-linear histogram for latency percentiles.
//!
//! Values (microseconds, `u64`) below 128 are counted exactly; above, each power of two is
//! split into 128 equal sub-buckets. A percentile is reported as the midpoint of its bucket,
//! so its relative error is at most 1/256 (0.39 %), and it is clamped to the exact minimum and
//! maximum seen. Memory is 7,424 counters (58 KiB) whatever the number of samples; the mean is
//! exact (sum / count).

const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS; // 128
const BUCKETS: usize = ((64 - SUB_BITS + 1) as usize) * SUB as usize;

/// The memory one histogram keeps \[bytes\] (its counters).
pub const HISTOGRAM_BYTES: usize = BUCKETS * std::mem::size_of::<u64>();

/// Streaming histogram of `u64` values.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    n: u64,
    sum: f64,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = e - SUB_BITS;
    let sub = (v >> shift) - SUB; // 0..128
    ((shift + 1) as usize) * SUB as usize + sub as usize
}

/// The `\[low, high\]` values of bucket `i`.
fn bounds(i: usize) -> (u64, u64) {
    let block = (i / SUB as usize) as u32;
    let sub = (i % SUB as usize) as u64;
    if block == 0 {
        return (sub, sub);
    }
    let shift = block - 1;
    let low = (SUB + sub) << shift;
    (low, low + ((1u64 << shift) - 1))
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            n: 0,
            sum: 0.0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Adds one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.n += 1;
        self.sum += v as f64;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Adds all values of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.n += other.n;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Exact mean, or `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// Nearest-rank quantile `q` in \[0, 1\]: the smallest recorded value v with at least
    /// `ceil(q * n)` values <= v, to within the bucket accuracy. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, hi) = bounds(i);
                let mid = (lo as f64 + hi as f64) / 2.0;
                return Some(mid.clamp(self.min as f64, self.max as f64));
            }
        }
        Some(self.max as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_range() {
        for i in 0..BUCKETS - 1 {
            let (lo, hi) = bounds(i);
            assert!(lo <= hi);
            assert_eq!(bounds(i + 1).0, hi + 1, "gap after bucket {i}");
            assert_eq!(index(lo), i);
            assert_eq!(index(hi), i);
        }
        assert_eq!(bounds(BUCKETS - 1).1, u64::MAX);
    }

    #[test]
    fn exact_below_128_and_within_error_above() {
        let mut h = Histogram::new();
        for v in 1..=100u64 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), Some(50.0));
        assert_eq!(h.quantile(0.9), Some(90.0));
        assert_eq!(h.quantile(1.0), Some(100.0));
        assert_eq!(h.mean(), Some(50.5));

        let mut h = Histogram::new();
        let values: Vec<u64> = (0..10_000u64).map(|i| 1_000 + i * 977).collect();
        for v in &values {
            h.record(*v);
        }
        for q in [0.01, 0.5, 0.9, 0.99, 0.999] {
            let exact = values[((q * values.len() as f64).ceil() as usize).max(1) - 1] as f64;
            let got = h.quantile(q).unwrap();
            assert!(
                (got - exact).abs() / exact <= 1.0 / 256.0 + 1e-12,
                "q={q}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn empty_and_merge() {
        let mut a = Histogram::new();
        assert_eq!(a.quantile(0.5), None);
        assert_eq!(a.mean(), None);
        let mut b = Histogram::new();
        a.record(10);
        b.record(30);
        a.merge(&b);
        assert_eq!((a.count(), a.mean()), (2, Some(20.0)));
        assert_eq!(a.quantile(1.0), Some(30.0));
    }
}
