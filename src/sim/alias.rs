//! Walker's alias method, in Vose's construction: a draw from fixed weights in O(1), one
//! uniform and one table entry, for weighted selection when nothing is excluded (docs/model.md,
//! "Weighted selection").
//!
//! Column `i` of `n` holds a probability `prob` and another device `alias`: a uniform `u` in
//! [0, 1) names column `i = ⌊u·n⌋`, and its fraction `u·n − i` picks `i` below `prob`, else
//! `alias`. Device `d` is then picked with probability (prob\[d\] + Σ over the columns whose
//! alias is `d` of (1 − prob)) / n, which the construction makes w\[d\] / Σw (up to rounding;
//! the test below checks 1e-12).

/// One column of the table: 16 bytes, so a draw reads one entry of one line.
#[derive(Clone, Copy, Debug)]
struct Column {
    /// The chance, given this column, of its own device.
    prob: f64,
    /// The device it names otherwise.
    alias: u32,
}

/// An alias table over `n` fixed weights.
#[derive(Clone, Debug)]
pub struct Alias {
    /// How many devices.
    n: usize,
    /// The columns; empty when every column keeps its own device at every fraction (equal
    /// weights, a fleet of one kind of board), so that a draw names column `i` itself and reads
    /// nothing: at fleet scale the table's line is a miss of the cache (16 bytes a device).
    columns: Vec<Column>,
}

impl Alias {
    /// The table of `weights` (all >= 0 and finite); `None` if none is positive.
    pub fn new(weights: &[f64]) -> Option<Alias> {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        if n == 0 || !(total > 0.0 && total.is_finite()) || n > u32::MAX as usize {
            return None;
        }
        // Each weight in units of a column: they sum to n.
        let scale = n as f64 / total;
        let mut p: Vec<f64> = weights.iter().map(|w| w * scale).collect();
        let mut columns: Vec<Column> = (0..n)
            .map(|i| Column {
                prob: 1.0,
                alias: i as u32,
            })
            .collect();
        let (mut small, mut large): (Vec<u32>, Vec<u32>) =
            (0..n as u32).partition(|&i| p[i as usize] < 1.0);
        // A column short of 1 is topped up by a device with more than 1, which gives that much
        // away and joins the short ones if it drops below 1.
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            let (s, l) = (s as usize, l as usize);
            columns[s] = Column {
                prob: p[s],
                alias: l as u32,
            };
            p[l] = (p[l] + p[s]) - 1.0;
            if p[l] < 1.0 {
                large.pop();
                small.push(l as u32);
            }
        }
        // What is left is 1 up to rounding: such a column keeps its own device, unless that
        // device weighs nothing (rounding left it without a partner), when the heaviest takes
        // the column.
        let heaviest = (0..n).fold(0, |m, i| if weights[i] > weights[m] { i } else { m });
        for &s in &small {
            let s = s as usize;
            if weights[s] <= 0.0 {
                columns[s] = Column {
                    prob: 0.0,
                    alias: heaviest as u32,
                };
            }
        }
        let identity = columns
            .iter()
            .enumerate()
            .all(|(i, c)| c.prob == 1.0 && c.alias as usize == i);
        if identity {
            columns = Vec::new();
        }
        Some(Alias { n, columns })
    }

    /// The device of a uniform `u` in [0, 1).
    #[inline(always)]
    pub fn pick(&self, u: f64) -> usize {
        let n = self.n;
        let x = u * n as f64;
        // `u` just under 1 can round `x` up to `n`: the last column then.
        let i = (x as usize).min(n - 1);
        // Every column keeps its own device: the fraction is below its `prob` of 1, or it is
        // 1 (`x` rounded up to `n`) and the alias is the column's device too.
        let Some(&c) = self.columns.get(i) else {
            return i;
        };
        // A select: which side of `prob` the fraction falls is a coin toss.
        std::hint::select_unpredictable(x - (i as f64) < c.prob, i, c.alias as usize)
    }

    /// Each device's probability as the table gives it (for the tests).
    #[cfg(test)]
    fn implied(&self) -> Vec<f64> {
        let n = self.n;
        if self.columns.is_empty() {
            return vec![1.0 / n as f64; n];
        }
        let mut q = vec![0.0; n];
        for (i, c) in self.columns.iter().enumerate() {
            q[i] += c.prob;
            q[c.alias as usize] += 1.0 - c.prob;
        }
        q.iter().map(|x| x / n as f64).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn assert_exact(w: &[f64]) {
        let a = Alias::new(w).expect("a positive weight");
        let total: f64 = w.iter().sum();
        for (d, (&q, &wd)) in a.implied().iter().zip(w).enumerate() {
            assert!(
                (q - wd / total).abs() <= 1e-12,
                "device {d} of {}: {q} against {}",
                w.len(),
                wd / total
            );
            if wd == 0.0 {
                assert_eq!(q, 0.0, "device {d} weighs nothing");
            }
        }
    }

    #[test]
    fn probabilities_are_the_weights_shares() {
        assert_exact(&[1.0]);
        assert_exact(&[1.0, 3.0]);
        assert_exact(&[0.0, 2.0, 0.0]);
        assert_exact(&vec![7.5; 10_000]);
        assert_exact(&[1e-300, 1.0, 1e300]);
        let mut rng = rand_pcg::Pcg64::seed_from_u64(13);
        for round in 0..300 {
            let n = rng.random_range(1..400);
            let w: Vec<f64> = (0..n)
                .map(|_| match rng.random_range(0..4) {
                    0 => 0.0,
                    1 => rng.random_range(0.0..1.0),
                    2 => rng.random_range(1.0..1000.0),
                    _ => [14.2, 31.0, 55.5][rng.random_range(0..3)],
                })
                .collect();
            if w.iter().any(|&x| x > 0.0) {
                assert_exact(&w);
            } else {
                assert!(Alias::new(&w).is_none(), "round {round}");
            }
        }
    }

    /// Equal weights keep no columns, and pick what a table of them would.
    #[test]
    fn equal_weights_read_no_column() {
        for n in [1, 2, 3, 10, 7919, 10_000] {
            for w in [1.0, 7.5, 0.1, 1e-300, 3e300] {
                let a = Alias::new(&vec![w; n]).unwrap();
                assert!(a.columns.is_empty(), "{n} x {w}");
                let table = Alias {
                    n,
                    columns: (0..n)
                        .map(|i| Column {
                            prob: 1.0,
                            alias: i as u32,
                        })
                        .collect(),
                };
                let mut rng = rand_pcg::Pcg64::seed_from_u64(n as u64);
                let edges = [0.0, 0.5, 1.0 - f64::EPSILON / 2.0, 1.0 - f64::EPSILON];
                let us = edges
                    .into_iter()
                    .chain((0..n.min(1000)).map(|k| k as f64 / n as f64))
                    .chain((0..1000).map(|_| rng.random::<f64>()));
                for u in us {
                    assert_eq!(a.pick(u), table.pick(u), "{n} x {w}, u = {u}");
                }
            }
        }
        // Unequal weights keep theirs.
        assert!(!Alias::new(&[1.0, 1.0, 2.0]).unwrap().columns.is_empty());
        assert!(!Alias::new(&[1.0, 0.0]).unwrap().columns.is_empty());
    }

    #[test]
    fn no_positive_weight_no_table() {
        assert!(Alias::new(&[]).is_none());
        assert!(Alias::new(&[0.0, 0.0]).is_none());
    }

    #[test]
    fn picks_follow_the_columns() {
        // Weights 1 and 3: column 0 keeps device 0 with chance 1/2, else device 1; column 1
        // is device 1's.
        let a = Alias::new(&[1.0, 3.0]).unwrap();
        assert_eq!(a.pick(0.0), 0);
        assert_eq!(a.pick(0.2499), 0);
        assert_eq!(a.pick(0.25), 1);
        assert_eq!(a.pick(0.4999), 1);
        assert_eq!(a.pick(0.5), 1);
        assert_eq!(a.pick(1.0 - f64::EPSILON / 2.0), 1);
        // A device that weighs nothing is never picked, at any u.
        let z = Alias::new(&[0.0, 1.0, 0.0]).unwrap();
        for k in 0..3000 {
            assert_eq!(z.pick(f64::from(k) / 3000.0), 1);
        }
        assert_eq!(z.pick(1.0 - f64::EPSILON / 2.0), 1);
    }
}
