//! A Fenwick (binary indexed) tree of non-negative weights: prefix sums and "the first index
//! whose prefix sum exceeds x" in O(log n), for weighted selection over thousands of devices.

/// Weights `w[0..n]` with O(log n) prefix search.
#[derive(Clone, Debug)]
pub struct Fenwick {
    /// 1-based implicit tree: `tree[i]` holds the sum of `w` over `(i - lowbit(i), i]`.
    tree: Vec<f64>,
    weights: Vec<f64>,
    total: f64,
    top: usize,
}

impl Fenwick {
    /// A tree over `weights` (all >= 0).
    pub fn new(weights: &[f64]) -> Fenwick {
        let n = weights.len();
        let mut tree = vec![0.0; n + 1];
        for (i, w) in weights.iter().enumerate() {
            let mut j = i + 1;
            while j <= n {
                tree[j] += w;
                j += j & j.wrapping_neg();
            }
        }
        let top = if n == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        Fenwick {
            tree,
            weights: weights.to_vec(),
            total: weights.iter().sum(),
            top,
        }
    }

    /// The weight of `i`.
    pub fn weight(&self, i: usize) -> f64 {
        self.weights[i]
    }

    /// The sum of all weights (in index order).
    pub fn total(&self) -> f64 {
        self.total
    }

    /// Σ w\[0..=i\].
    #[cfg(test)]
    pub fn prefix(&self, i: usize) -> f64 {
        let mut j = i + 1;
        let mut s = 0.0;
        while j > 0 {
            s += self.tree[j];
            j -= j & j.wrapping_neg();
        }
        s
    }

    /// The smallest index `i` with Σ w\[0..=i\] > `x`; `len()` if none.
    pub fn find(&self, x: f64) -> usize {
        let n = self.weights.len();
        let mut pos = 0;
        let mut rem = x;
        let mut step = self.top;
        while step > 0 {
            let next = pos + step;
            if next <= n && self.tree[next] <= rem {
                pos = next;
                rem -= self.tree[next];
            }
            step >>= 1;
        }
        pos
    }

    /// The smallest index `i` not in `skip` (sorted ascending) whose prefix sum with the
    /// weights of `skip` removed exceeds `x`; `len()` if none. O((|skip| + 1) log n).
    pub fn find_skipping(&self, x: f64, skip: &[u32]) -> usize {
        let mut add = 0.0;
        let mut seen = 0; // skipped indices counted in `add`
        loop {
            let i = self.find(x + add);
            // Fold in the skipped indices at or below `i` not counted yet.
            let mut more = false;
            while seen < skip.len() && (skip[seen] as usize) <= i {
                add += self.weights[skip[seen] as usize];
                seen += 1;
                more = true;
            }
            if !more {
                return i;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// The linear scan weighted selection used to do: the first index (not skipped) where the
    /// running sum exceeds x.
    fn scan(w: &[f64], x: f64, skip: &[u32]) -> usize {
        let mut acc = 0.0;
        for (i, wi) in w.iter().enumerate() {
            if skip.contains(&(i as u32)) {
                continue;
            }
            acc += wi;
            if acc > x {
                return i;
            }
        }
        w.len()
    }

    #[test]
    fn prefix_sums_and_search_match_a_scan() {
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        for n in [1usize, 2, 3, 7, 8, 9, 100, 1000] {
            // Whole-number weights (as device speeds are): sums are exact either way.
            let w: Vec<f64> = (0..n)
                .map(|_| f64::from(r.random_range(1..50u32)))
                .collect();
            let f = Fenwick::new(&w);
            assert_eq!(f.total(), w.iter().sum::<f64>());
            for i in 0..n {
                assert_eq!(f.prefix(i), w[..=i].iter().sum::<f64>());
            }
            for _ in 0..200 {
                let mut skip: Vec<u32> = (0..r.random_range(0..4usize.min(n)))
                    .map(|_| r.random_range(0..n as u32))
                    .collect();
                skip.sort_unstable();
                skip.dedup();
                let total: f64 = f.total() - skip.iter().map(|&i| w[i as usize]).sum::<f64>();
                let x = r.random::<f64>() * total;
                assert_eq!(
                    f.find_skipping(x, &skip),
                    scan(&w, x, &skip),
                    "n {n} x {x} skip {skip:?}"
                );
            }
            assert_eq!(f.find(f.total()), n, "nothing exceeds the total");
        }
    }
}
