//! A fixed-size log-linear histogram for latency percentiles.
//!
//! Values (microseconds, `u64`) below 128 are counted exactly; above, each power of two is
//! split into 128 equal sub-buckets. A percentile is reported as the midpoint of its bucket,
//! so its relative error is at most 1/256 (0.39 %), and it is clamped to the exact minimum and
//! maximum seen. Memory is 7,424 counters (58 KiB) whatever the number of samples; a
//! [`SparseHistogram`] keeps the counters of the powers of two seen so far only (1 KiB each:
//! latencies from 10 ms to 10 s take 10), for the many histograms of metric windows, at the
//! cost of a test per value. The mean is exact (sum / count).

const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS; // 128
const BUCKETS: usize = ((64 - SUB_BITS + 1) as usize) * SUB as usize;

/// The memory one histogram keeps \[bytes\] (its counters; a sparse one's at most).
pub const HISTOGRAM_BYTES: usize = BUCKETS * std::mem::size_of::<u64>();

/// Streaming histogram of `u64` values: [`Histogram`], or with `SPARSE` only the counters of
/// the powers of two seen ([`SparseHistogram`]).
#[derive(Clone, Debug)]
pub struct Hist<const SPARSE: bool> {
    /// The counters of buckets `lo .. lo + counts.len()`: all of them (`lo` = 0) or, sparse,
    /// whole powers of two (blocks of `SUB` buckets) from the lowest to the highest seen.
    counts: Vec<u64>,
    lo: usize,
    n: u64,
    sum: f64,
    min: u64,
    max: u64,
}

/// A histogram with every counter.
pub type Histogram = Hist<false>;

/// A histogram that keeps the counters of the powers of two seen only.
pub type SparseHistogram = Hist<true>;

impl<const SPARSE: bool> Default for Hist<SPARSE> {
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

impl<const SPARSE: bool> Hist<SPARSE> {
    /// An empty histogram.
    pub fn new() -> Self {
        Hist {
            counts: if SPARSE { Vec::new() } else { vec![0; BUCKETS] },
            lo: 0,
            n: 0,
            sum: 0.0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Adds one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        let i = index(v);
        if !SPARSE {
            self.counts[i] += 1;
        } else if let Some(c) = self.counts.get_mut(i.wrapping_sub(self.lo)) {
            *c += 1;
        } else {
            self.widen(i);
            self.counts[i - self.lo] += 1;
        }
        self.n += 1;
        self.sum += v as f64;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Widens the counters to the block (power of two) of bucket `i`, and every block
    /// between it and those kept (a histogram that is not sparse has them all).
    #[cold]
    fn widen(&mut self, i: usize) {
        let block = i / SUB as usize * SUB as usize;
        if self.counts.is_empty() {
            self.lo = block;
            self.counts = vec![0; SUB as usize];
        } else if block < self.lo {
            let mut counts = vec![0; self.lo + self.counts.len() - block];
            counts[self.lo - block..].copy_from_slice(&self.counts);
            self.counts = counts;
            self.lo = block;
        } else {
            self.counts.resize(block + SUB as usize - self.lo, 0);
        }
    }

    /// Adds all values of `other`.
    pub fn merge(&mut self, other: &Hist<SPARSE>) {
        if other.counts.is_empty() {
            return;
        }
        for i in [other.lo, other.lo + other.counts.len() - 1] {
            if i.wrapping_sub(self.lo) >= self.counts.len() {
                self.widen(i);
            }
        }
        let at = other.lo - self.lo;
        for (a, b) in self.counts[at..].iter_mut().zip(&other.counts) {
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
        self.quantiles([q])[0]
    }

    /// The nearest-rank quantiles `qs` (each as [`Hist::quantile`] gives it) in one pass over
    /// the counters: `qs` in ascending order (a summary's p50, p90, p95, p99), so that each
    /// rank is reached at or after the one before.
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> [Option<f64>; N] {
        debug_assert!(qs.is_sorted(), "{qs:?}");
        let mut out = [None; N];
        if self.n == 0 {
            return out;
        }
        let ranks = qs.map(|q| ((q.clamp(0.0, 1.0) * self.n as f64).ceil() as u64).max(1));
        // `seen` counts the values below bucket `k`; each quantile's bucket is the first whose
        // count takes `seen` to its rank, found from where the one before was.
        let (mut k, mut seen) = (0, 0);
        for (o, rank) in out.iter_mut().zip(ranks) {
            while k < self.counts.len() && seen + self.counts[k] < rank {
                seen += self.counts[k];
                k += 1;
            }
            *o = Some(if k < self.counts.len() {
                let (lo, hi) = bounds(self.lo + k);
                let mid = (lo as f64 + hi as f64) / 2.0;
                mid.clamp(self.min as f64, self.max as f64)
            } else {
                self.max as f64
            });
        }
        out
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
        // Several in one pass: the same nearest ranks, a repeated one twice.
        assert_eq!(
            h.quantiles([0.0, 0.5, 0.5, 0.9, 1.0]),
            [Some(1.0), Some(50.0), Some(50.0), Some(90.0), Some(100.0)]
        );
        assert_eq!(Histogram::new().quantiles([0.5, 0.9]), [None, None]);

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
        let qs = [0.01, 0.5, 0.9, 0.99, 0.999];
        let all = h.quantiles(qs);
        for (q, got) in qs.into_iter().zip(all) {
            let exact = values[((q * values.len() as f64).ceil() as usize).max(1) - 1] as f64;
            let got = got.unwrap();
            assert!(
                (got - exact).abs() / exact <= 1.0 / 256.0 + 1e-12,
                "q={q} in one pass: {got} vs {exact}"
            );
        }
    }

    /// Values over 40 powers of two in a scrambled order (a sparse histogram's counters widen
    /// down and up): every quantile within the bucket error of the exact one, the same whether
    /// the values were recorded in one sparse histogram, merged from three, or recorded in a
    /// full one; the sparse counters at most the full ones.
    #[test]
    fn counters_widen_either_way_and_merge() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut values = Vec::new();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((x >> 24) >> (x % 41));
        }
        let (mut whole, mut parts) = (SparseHistogram::new(), vec![SparseHistogram::new(); 3]);
        let mut full = Histogram::new();
        for (k, v) in values.iter().enumerate() {
            whole.record(*v);
            full.record(*v);
            parts[k % 3].record(*v);
        }
        let mut merged = SparseHistogram::new();
        for p in [&parts[2], &parts[0], &parts[1]] {
            merged.merge(p);
        }
        values.sort_unstable();
        for q in [
            0.0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0,
        ] {
            let exact = values[((q * values.len() as f64).ceil() as usize).max(1) - 1] as f64;
            let got = whole.quantile(q).unwrap();
            assert!(
                (got - exact).abs() <= exact / 256.0 + 0.5,
                "q={q}: {got} vs {exact}"
            );
            assert_eq!(merged.quantile(q), Some(got), "q={q}");
            assert_eq!(full.quantile(q), Some(got), "q={q}");
        }
        assert_eq!(
            (merged.count(), merged.mean()),
            (whole.count(), whole.mean())
        );
        assert!(whole.counts.len() <= BUCKETS && whole.lo + whole.counts.len() <= BUCKETS);
        assert_eq!(whole.counts.iter().sum::<u64>(), 20_000);
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
