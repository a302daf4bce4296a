//! The devices the gateway holds as down: membership in O(1) (a bit per device), and the k-th
//! device up, or how many are up before a device, in O(log n) (a Fenwick tree of counts), so
//! that a request's pick among the devices up costs the same with one device down or
//! thousands (docs/model.md, "Cost at fleet scale").

/// The devices down among `n`.
#[derive(Clone, Debug)]
pub struct DownSet {
    /// Bit `d % 64` of word `d / 64`: device `d` is down.
    bits: Vec<u64>,
    /// 1-based implicit Fenwick tree: `tree[i]` counts the devices up in `(i - lowbit(i), i]`
    /// (device `d` is position `d + 1`).
    tree: Vec<u32>,
    /// How many are down.
    count: u32,
    n: u32,
    /// The highest power of two at most `n` (0 for none).
    top: u32,
}

impl DownSet {
    /// `n` devices, all up.
    pub fn new(n: u32) -> DownSet {
        // All up: position i counts the lowbit(i) positions of its range, all within 1..=n.
        let tree = (0..=n).map(|i| i & i.wrapping_neg()).collect();
        DownSet {
            bits: vec![0; (n as usize).div_ceil(64)],
            tree,
            count: 0,
            n,
            top: if n == 0 {
                0
            } else {
                1 << (31 - n.leading_zeros())
            },
        }
    }

    /// Devices down.
    #[inline(always)]
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether `d` is down (without reading the bits while none is).
    #[inline(always)]
    pub fn contains(&self, d: u32) -> bool {
        self.count > 0 && self.bits[d as usize / 64] >> (d % 64) & 1 == 1
    }

    /// Marks `d` down (`down`) or up; nothing changes if it already is.
    pub fn set(&mut self, d: u32, down: bool) {
        if self.contains(d) == down {
            return;
        }
        self.bits[d as usize / 64] ^= 1 << (d % 64);
        if down {
            self.count += 1;
        } else {
            self.count -= 1;
        }
        let mut i = d as usize + 1;
        while i <= self.n as usize {
            if down {
                self.tree[i] -= 1;
            } else {
                self.tree[i] += 1;
            }
            i += i & i.wrapping_neg();
        }
    }

    /// How many of the devices `0..d` are up (`d` at most `n`).
    #[inline]
    pub fn up_before(&self, d: u32) -> u32 {
        if self.count == 0 {
            return d;
        }
        let (mut i, mut s) = (d as usize, 0);
        while i > 0 {
            s += self.tree[i];
            i &= i - 1;
        }
        s
    }

    /// The `k`-th device up (0-based, in index order), if there are more than `k`.
    #[inline]
    pub fn nth_up(&self, k: u32) -> Option<u32> {
        if self.count == 0 {
            return (k < self.n).then_some(k);
        }
        // The longest prefix of positions with at most k devices up: the next one is it.
        let (mut pos, mut rest, mut step) = (0usize, k, self.top as usize);
        while step > 0 {
            let next = pos + step;
            if next <= self.n as usize && self.tree[next] <= rest {
                pos = next;
                rest -= self.tree[next];
            }
            step >>= 1;
        }
        (pos < self.n as usize).then_some(pos as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn answers_as_a_scan_of_the_flags() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(21);
        for n in [0u32, 1, 2, 3, 7, 8, 9, 64, 65, 100, 1000] {
            let mut s = DownSet::new(n);
            let mut down = vec![false; n as usize];
            for _ in 0..if n > 100 { 60 } else { 400 } {
                if n > 0 {
                    let d = rng.random_range(0..n);
                    let v = rng.random_bool(0.6);
                    s.set(d, v);
                    down[d as usize] = v;
                }
                let up: Vec<u32> = (0..n).filter(|&d| !down[d as usize]).collect();
                assert_eq!(s.len() as usize, n as usize - up.len());
                for d in 0..n {
                    assert_eq!(s.contains(d), down[d as usize]);
                }
                let mut before = 0;
                for d in 0..=n {
                    assert_eq!(s.up_before(d), before, "n {n}, d {d}");
                    before += u32::from(d < n && !down[d as usize]);
                }
                for k in 0..=up.len() as u32 {
                    assert_eq!(s.nth_up(k), up.get(k as usize).copied(), "n {n}, k {k}");
                }
            }
        }
    }
}
