//! A Fenwick (binary indexed) tree of non-negative weights: prefix sums and "the first index
//! whose prefix sum exceeds x" in O(log n), for weighted selection over thousands of devices
//! when some are excluded (tried for the request, or down; without exclusions the alias table
//! of `super::alias` answers in O(1)).

/// Weights `w[0..n]` with O(log n) prefix search.
#[derive(Clone, Debug)]
pub struct Fenwick {
    /// 1-based implicit tree: `tree[i]` holds the sum of the live weights over
    /// `(i - lowbit(i), i]`. Searches read `nodes`; this is what [`Fenwick::exclude`] updates
    /// (and copies into `nodes`), and what the tests' branchy descent reads.
    tree: Vec<f64>,
    /// The nodes a search may visit, `tree[next]` at the search's `k`-th step, in the order of
    /// the steps' outcomes (breadth first: node `b`'s steps are at `2b` if not taken, `2b + 1`
    /// if taken; the root at 1), eight to a line. The eight nodes three steps below node `b`
    /// are then line `b`, fetched while the search takes those three steps: at 10,000 weights
    /// the lower levels are out of the L1 cache, and in `tree`'s order the nodes a search may
    /// read three steps on lie far apart ([`Fenwick::find`]).
    nodes: Vec<Line>,
    weights: Vec<f64>,
    /// Which weights are taken out ([`Fenwick::exclude`]), and how many.
    excluded: Vec<bool>,
    n_excluded: usize,
    /// `tree` and `nodes` as built, put back when the last weight taken out returns: taking a
    /// weight out and back rounds the sums above it, and a tree with none out is then the
    /// one built, bit for bit.
    built: (Vec<f64>, Vec<Line>),
    total: f64,
    top: usize,
}

impl Fenwick {
    /// A tree over `weights` (all >= 0).
    pub fn new(weights: &[f64]) -> Fenwick {
        let n = weights.len();
        let top = if n == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        // Padded to `2 * top` entries, so that every node a search might visit has an entry in
        // `nodes` (the padding is never taken: `find` checks the index).
        let mut tree = vec![0.0; (n + 1).max(2 * top)];
        for (i, w) in weights.iter().enumerate() {
            let mut j = i + 1;
            while j <= n {
                tree[j] += w;
                j += j & j.wrapping_neg();
            }
        }
        // Node `b` at step `k` (2^k <= b < 2^(k+1)) is reached with the steps taken as the
        // bits of `b - 2^k`: its `pos` is (b - 2^k)·2·step and it reads `tree[pos + step]`.
        let mut nodes = vec![Line([f64::NAN; 8]); (2 * top).div_ceil(8).max(1)];
        let mut step = top;
        let mut first = 1;
        while step > 0 {
            for b in first..2 * first {
                let next = (2 * (b - first) + 1) * step;
                nodes[b / 8].0[b % 8] = tree[next];
            }
            first *= 2;
            step >>= 1;
        }
        Fenwick {
            built: (tree.clone(), nodes.clone()),
            tree,
            nodes,
            weights: weights.to_vec(),
            excluded: vec![false; n],
            n_excluded: 0,
            total: weights.iter().sum(),
            top,
        }
    }

    /// The weight of `i`.
    pub fn weight(&self, i: usize) -> f64 {
        self.weights[i]
    }

    /// The sum of all weights (in index order).
    #[cfg(test)]
    pub fn total(&self) -> f64 {
        self.total
    }

    /// Whether any weight is taken out.
    #[cfg(test)]
    pub fn any_excluded(&self) -> bool {
        self.n_excluded > 0
    }

    /// Takes weight `i` out of the tree (`excluded`: its searches and sums count 0 for it) or
    /// puts it back, in O(log n).
    pub fn exclude(&mut self, i: usize, excluded: bool) {
        if self.excluded[i] == excluded {
            return;
        }
        self.excluded[i] = excluded;
        if excluded {
            self.n_excluded += 1;
        } else {
            self.n_excluded -= 1;
            if self.n_excluded == 0 {
                self.tree.copy_from_slice(&self.built.0);
                self.nodes.copy_from_slice(&self.built.1);
                return;
            }
        }
        let delta = if excluded {
            -self.weights[i]
        } else {
            self.weights[i]
        };
        let n = self.weights.len();
        let mut j = i + 1;
        while j <= n {
            self.tree[j] += delta;
            // Node `j` is the search's node `b` at the step of `lowbit(j)` (see `new`).
            let step = j & j.wrapping_neg();
            let first = self.top / step;
            let b = first + (j / step - 1) / 2;
            self.nodes[b / 8].0[b % 8] = self.tree[j];
            j += step;
        }
    }

    /// The sum of the live weights (those not taken out): with none out, the sum of all in
    /// index order; else from the tree, in O(log n).
    pub fn live_total(&self) -> f64 {
        if self.n_excluded == 0 {
            return self.total;
        }
        let mut j = self.weights.len();
        let mut s = 0.0;
        while j > 0 {
            s += self.tree[j];
            j &= j - 1;
        }
        s
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
    ///
    /// Each level's step is taken or not by selects, not a branch: which way a random `x` goes
    /// is a coin toss for the branch predictor, and the mispredictions cost more than the
    /// selects (docs/performance.md, "Weighted selection without a branch per level"). The
    /// result is bit for bit that of the branchy descent: the same subtractions, kept or not.
    #[inline]
    pub fn find(&self, x: f64) -> usize {
        let n = self.weights.len();
        let mut pos = 0;
        let mut rem = x;
        let mut step = self.top;
        let mut b = 1;
        while step > 0 {
            // Three steps ahead: the eight nodes below `b`, line `b` (a hint: past the end it
            // does nothing).
            prefetch_index::prefetch_index(&self.nodes, b);
            let next = pos + step;
            let t = self.nodes[b / 8].0[b % 8]; // in the padding when next > n
            let take = (next <= n) & (t <= rem);
            b = 2 * b + usize::from(take);
            pos = std::hint::select_unpredictable(take, next, pos);
            // Chosen as bits: a select of two floats compiles to a branch on x86-64's
            // baseline (no blend instruction).
            let taken = (rem - t).to_bits();
            rem = f64::from_bits(std::hint::select_unpredictable(take, taken, rem.to_bits()));
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

/// Eight nodes, one cache line.
#[derive(Clone, Copy, Debug)]
#[repr(align(64))]
struct Line([f64; 8]);

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

    /// The descent with a branch per level, as `find` was written before its selects.
    fn find_branchy(f: &Fenwick, x: f64) -> usize {
        let n = f.weights.len();
        let (mut pos, mut rem, mut step) = (0, x, f.top);
        while step > 0 {
            let next = pos + step;
            if next <= n && f.tree[next] <= rem {
                pos = next;
                rem -= f.tree[next];
            }
            step >>= 1;
        }
        pos
    }

    /// Fractional weights (their sums round), and `x` on and next to every prefix sum, beyond
    /// the total, negative, zero of both signs, infinite and NaN: the same index as the
    /// branchy descent.
    #[test]
    fn find_is_the_branchy_descent_bit_for_bit() {
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(9);
        for n in [0usize, 1, 2, 3, 5, 8, 13, 64, 100, 1000, 4097] {
            let w: Vec<f64> = (0..n)
                .map(|_| match r.random_range(0..4) {
                    0 => 0.0,
                    1 => r.random::<f64>(),
                    2 => f64::from(r.random_range(1..50u32)) / 3.0,
                    _ => r.random::<f64>() * 1e6,
                })
                .collect();
            let f = Fenwick::new(&w);
            let mut xs = vec![0.0, -0.0, -1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN];
            xs.push(f.total());
            xs.push(f.total() * 2.0);
            let mut acc = 0.0;
            for wi in &w {
                acc += wi;
                xs.extend([acc, acc.next_up(), acc.next_down()]);
            }
            xs.extend((0..2000).map(|_| r.random::<f64>() * f.total()));
            for x in xs {
                assert_eq!(f.find(x), find_branchy(&f, x), "n {n} x {x}");
            }
        }
    }

    /// Weights taken out and put back: the search (which reads `nodes`) is still the branchy
    /// descent (which reads `tree`), and both are a scan of the live weights.
    #[test]
    fn excluded_weights_count_nothing() {
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(17);
        for n in [1usize, 2, 3, 7, 8, 9, 100, 1000] {
            let w: Vec<f64> = (0..n)
                .map(|_| f64::from(r.random_range(1..50u32)))
                .collect();
            let mut f = Fenwick::new(&w);
            let mut out = vec![false; n];
            for _ in 0..100 {
                let i = r.random_range(0..n);
                let x = r.random_bool(0.5);
                f.exclude(i, x);
                out[i] = x;
                assert_eq!(f.any_excluded(), out.contains(&true));
                let live: Vec<f64> = (0..n).map(|i| if out[i] { 0.0 } else { w[i] }).collect();
                let total: f64 = live.iter().sum();
                assert_eq!(f.live_total(), total);
                for _ in 0..20 {
                    let x = r.random::<f64>() * total;
                    assert_eq!(f.find(x), find_branchy(&f, x), "n {n} x {x}");
                    assert_eq!(f.find(x), scan(&live, x, &[]), "n {n} x {x}");
                }
            }
            // Fractional weights (their sums round) taken out and back many times, then all
            // put back: the tree as built, bit for bit.
            let w: Vec<f64> = (0..n).map(|_| r.random::<f64>()).collect();
            let mut f = Fenwick::new(&w);
            for _ in 0..300 {
                f.exclude(r.random_range(0..n), r.random_bool(0.5));
            }
            for i in 0..n {
                f.exclude(i, false);
            }
            let fresh = Fenwick::new(&w);
            assert!(!f.any_excluded());
            let bits = |f: &Fenwick| -> Vec<u64> {
                let nodes = f.nodes.iter().flat_map(|l| l.0);
                f.tree
                    .iter()
                    .copied()
                    .chain(nodes)
                    .map(f64::to_bits)
                    .collect()
            };
            assert_eq!(bits(&f), bits(&fresh), "n {n}");
        }
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
