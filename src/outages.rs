//! Outages of the cloud and of edge devices: fixed windows (`outages = [...]`: a planned
//! test, a WAN partition that cuts the gateway off, a site's power cut) and random episodes
//! (`random_outages`: up-times exponential with mean `mtbf_s`, down-times with mean `mttr_s`,
//! exponential or, with `sigma > 0`, lognormal and heavy-tailed). While the cloud is down
//! every call fails at once (HTTP 5xx or no route) and is handled like a 429; while a device
//! is down it takes nothing and what it held is routed again (docs/model.md, "Cloud faults"
//! and "Device failures").
//!
//! The availability over a run is `1 − downtime / end`; for random episodes alone it converges
//! to `mtbf / (mtbf + mttr)` (renewal-reward theorem, tested).

use std::sync::Arc;

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use serde::{Deserialize, Serialize};

use crate::check::Checker;
use crate::error::Result;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

/// The most fixed windows a scenario may list.
pub const MAX_WINDOWS: usize = 10_000;

/// One fixed outage window as written.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WindowFile {
    /// Start \[s\].
    pub start_s: f64,
    /// Length \[s\].
    pub duration_s: f64,
}

/// Random outages as written.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RandomFile {
    /// Mean time between failures: mean up-time \[s\].
    pub mtbf_s: f64,
    /// Mean time to repair: mean down-time \[s\].
    pub mttr_s: f64,
    /// 0: exponential down-times; > 0: lognormal with this shape (heavy-tailed).
    #[serde(default)]
    pub sigma: f64,
}

/// Validated outage settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutageSpec {
    /// Fixed windows `[start, end)`, sorted and disjoint (shared by every device of a group).
    pub windows: Arc<[(SimTime, SimTime)]>,
    /// As written, for the resolved scenario.
    pub windows_file: Vec<WindowFile>,
    /// Random episodes.
    pub random: Option<RandomFile>,
}

impl OutageSpec {
    /// Validates `<prefix>.outages` and `<prefix>.random_outages` (`prefix`: `cloud` or
    /// `devices[i]`).
    pub fn from_file(
        cx: &Checker,
        prefix: &str,
        windows: &[WindowFile],
        random: Option<RandomFile>,
    ) -> Result<OutageSpec> {
        Self::from_keys(
            cx,
            &format!("{prefix}.outages"),
            &format!("{prefix}.random_outages"),
            windows,
            random,
        )
    }

    /// Validates fixed windows under the key `wkey` and random episodes under `rkey`.
    pub fn from_keys(
        cx: &Checker,
        wkey: &str,
        rkey: &str,
        windows: &[WindowFile],
        random: Option<RandomFile>,
    ) -> Result<OutageSpec> {
        if windows.len() > MAX_WINDOWS {
            return Err(cx.bad(
                wkey,
                format!("{} windows", windows.len()),
                format!("at most {MAX_WINDOWS} windows"),
            ));
        }
        let mut w = Vec::with_capacity(windows.len());
        for (i, f) in windows.iter().enumerate() {
            let start = cx.time_s(&format!("{wkey}[{i}].start_s"), f.start_s)?;
            let len = cx.span_s(&format!("{wkey}[{i}].duration_s"), f.duration_s)?;
            let a = SimTime::from_secs_f64(start);
            w.push((a, a + SimDuration::from_secs_f64(len)));
        }
        w.sort();
        // Overlapping or touching windows merge into one (the state is the same; down time
        // is then counted once).
        let mut merged: Vec<(SimTime, SimTime)> = Vec::with_capacity(w.len());
        for (a, b) in w {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        if let Some(r) = random {
            cx.span_s(&format!("{rkey}.mtbf_s"), r.mtbf_s)?;
            cx.span_s(&format!("{rkey}.mttr_s"), r.mttr_s)?;
            if !(r.sigma.is_finite() && (0.0..=4.0).contains(&r.sigma)) {
                return Err(cx.bad(
                    format!("{rkey}.sigma"),
                    r.sigma,
                    "must lie in [0, 4] (0: exponential down-times)",
                ));
            }
        }
        Ok(OutageSpec {
            windows: merged.into(),
            windows_file: windows.to_vec(),
            random,
        })
    }

    /// Whether any outage is configured.
    pub fn any(&self) -> bool {
        !self.windows.is_empty() || self.random.is_some()
    }
}

/// The outage state during a run. Queried at non-decreasing times.
pub struct Outages {
    windows: Arc<[(SimTime, SimTime)]>,
    next_window: usize,
    random: Option<RandomEpisodes>,
    /// Down time of random episodes that overlaps no window, accumulated as episodes are drawn
    /// \[µs\].
    random_only_us: u64,
}

struct RandomEpisodes {
    up: Exp<f64>,
    down: Down,
    rng: SimRng,
    /// The current or next episode `[start, end)`.
    start: SimTime,
    end: SimTime,
}

enum Down {
    Exp(Exp<f64>),
    LogNormal(LogNormal<f64>),
}

impl Down {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Down::Exp(d) => d.sample(rng),
            Down::LogNormal(d) => d.sample(rng),
        }
    }
}

impl Outages {
    /// The outages of `spec`, random episodes drawn from `rng`.
    pub fn new(spec: &OutageSpec, rng: SimRng) -> Outages {
        let random = spec.random.and_then(|r| {
            let up = Exp::new(1.0 / r.mtbf_s).ok()?;
            let down = if r.sigma > 0.0 {
                // Mean mttr: median = mttr · exp(−σ²/2).
                Down::LogNormal(
                    LogNormal::new(r.mttr_s.ln() - r.sigma * r.sigma / 2.0, r.sigma).ok()?,
                )
            } else {
                Down::Exp(Exp::new(1.0 / r.mttr_s).ok()?)
            };
            let mut e = RandomEpisodes {
                up,
                down,
                rng,
                start: SimTime::ZERO,
                end: SimTime::ZERO,
            };
            e.draw_after(SimTime::ZERO);
            Some(e)
        });
        let mut o = Outages {
            windows: spec.windows.clone(),
            next_window: 0,
            random,
            random_only_us: 0,
        };
        o.count_random_episode();
        o
    }

    /// Microseconds of `[a, b)` outside every fixed window.
    fn outside_windows_us(&self, a: u64, b: u64) -> u64 {
        let overlap: u64 = self
            .windows
            .iter()
            .map(|(s, t)| b.min(t.0).saturating_sub(a.max(s.0)))
            .sum();
        b.saturating_sub(a).saturating_sub(overlap)
    }

    fn count_random_episode(&mut self) {
        if let Some(e) = &self.random {
            self.random_only_us += self.outside_windows_us(e.start.0, e.end.0);
        }
    }

    /// Draws the random episode after the current one and counts its down time.
    fn next_random_episode(&mut self) {
        if let Some(e) = &mut self.random {
            let after = e.end;
            e.draw_after(after);
        }
        self.count_random_episode();
    }

    /// Whether the cloud is down at `now`.
    pub fn down(&mut self, now: SimTime) -> bool {
        while self.next_window < self.windows.len() && self.windows[self.next_window].1 <= now {
            self.next_window += 1;
        }
        let in_window = self
            .windows
            .get(self.next_window)
            .is_some_and(|(s, _)| *s <= now);
        while self.random.as_ref().is_some_and(|e| e.end <= now) {
            self.next_random_episode();
        }
        let in_random = self.random.as_ref().is_some_and(|e| e.start <= now);
        in_window || in_random
    }

    /// The first time after `now` at which the state may change (a window or a random
    /// episode starts or ends); `None` if nothing is left to change. Call [`Outages::down`]
    /// at that time to learn the state.
    pub fn next_change(&mut self, now: SimTime) -> Option<SimTime> {
        self.down(now);
        let mut next: Option<SimTime> = None;
        let mut consider = |t: SimTime| {
            if t > now && next.is_none_or(|n| t < n) {
                next = Some(t);
            }
        };
        // Windows from `next_window` on: those that have started contribute their end, the
        // first that has not its start (later ones start later still).
        for &(s, t) in &self.windows[self.next_window..] {
            if s > now {
                consider(s);
                break;
            }
            consider(t);
        }
        if let Some(e) = &self.random {
            consider(if e.start > now { e.start } else { e.end });
        }
        next
    }

    /// Total down time in `[0, end)` \[s\] (windows and random episodes, overlaps once).
    pub fn downtime_s(&mut self, end: SimTime) -> f64 {
        // Draw every random episode that starts before `end`.
        while self.random.as_ref().is_some_and(|e| e.end < end) {
            self.next_random_episode();
        }
        let windows: u64 = self
            .windows
            .iter()
            .map(|(s, t)| t.0.min(end.0).saturating_sub(s.0))
            .sum();
        // The last episode may run past `end`: remove its part beyond.
        let beyond = self.random.as_ref().map_or(0, |e| {
            self.outside_windows_us(e.start.0.max(end.0), e.end.0)
        });
        (windows + self.random_only_us.saturating_sub(beyond)) as f64 / 1e6
    }
}

impl RandomEpisodes {
    fn draw_after(&mut self, t: SimTime) {
        let up = self.up.sample(&mut self.rng);
        let down = self.down.sample(&mut self.rng);
        self.start = t + SimDuration::from_secs_f64(up);
        self.end = self.start + SimDuration::from_secs_f64(down).max(SimDuration(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RngStreams;

    fn spec(windows: &[(f64, f64)], random: Option<RandomFile>) -> OutageSpec {
        OutageSpec {
            windows: windows
                .iter()
                .map(|(a, l)| {
                    let s = SimTime::from_secs_f64(*a);
                    (s, s + SimDuration::from_secs_f64(*l))
                })
                .collect(),
            windows_file: Vec::new(),
            random,
        }
    }

    #[test]
    fn fixed_windows() {
        let mut o = Outages::new(
            &spec(&[(10.0, 5.0), (30.0, 1.0)], None),
            RngStreams::new(1).stream("o"),
        );
        let at = |s: f64| SimTime::from_secs_f64(s);
        assert!(!o.down(at(9.9)));
        assert!(o.down(at(10.0)));
        assert!(o.down(at(14.9)));
        assert!(!o.down(at(15.0)));
        assert!(o.down(at(30.5)));
        assert!((o.downtime_s(at(100.0)) - 6.0).abs() < 1e-9);
    }

    /// Walking from change to change visits every transition of `down` (checked against
    /// sampling on a fine grid), for overlapping windows mixed with random episodes.
    #[test]
    fn next_change_finds_every_transition() {
        let r = RandomFile {
            mtbf_s: 30.0,
            mttr_s: 5.0,
            sigma: 1.0,
        };
        let sp = spec(
            &[(10.0, 50.0), (20.0, 5.0), (100.0, 1.0), (100.5, 3.0)],
            Some(r),
        );
        let mut walk = Outages::new(&sp, RngStreams::new(9).stream("o"));
        let mut flips = Vec::new();
        let mut state = walk.down(SimTime::ZERO);
        let mut t = SimTime::ZERO;
        while let Some(n) = walk.next_change(t) {
            if n > SimTime::from_secs_f64(1000.0) {
                break;
            }
            assert!(n > t);
            t = n;
            let s = walk.down(t);
            if s != state {
                flips.push(t);
                state = s;
            }
        }
        // The same stream sampled every microsecond-aligned 1 ms: the state between two flips
        // found by the walk never changes.
        let mut grid = Outages::new(&sp, RngStreams::new(9).stream("o"));
        let mut expect = Vec::new();
        let mut prev = grid.down(SimTime::ZERO);
        for i in 1..1_000_000u64 {
            let at = SimTime(i * 1000);
            let s = grid.down(at);
            if s != prev {
                expect.push(at);
                prev = s;
            }
        }
        // Each grid flip lies within 1 ms after a walk flip, and counts agree.
        assert_eq!(flips.len(), expect.len(), "{flips:?} vs {expect:?}");
        for (a, b) in flips.iter().zip(&expect) {
            assert!(*b >= *a && b.0 - a.0 < 1000, "walk {a:?}, grid {b:?}");
        }
        assert!(flips.len() > 10, "{flips:?}");
    }

    /// Availability of exponential up/down times converges to MTBF / (MTBF + MTTR), for
    /// exponential and heavy-tailed down-times alike.
    #[test]
    fn availability_converges_to_mtbf_over_mtbf_plus_mttr() {
        for sigma in [0.0, 1.5] {
            let r = RandomFile {
                mtbf_s: 900.0,
                mttr_s: 100.0,
                sigma,
            };
            let mut o = Outages::new(&spec(&[], Some(r)), RngStreams::new(3).stream("o"));
            let end = SimTime::from_secs_f64(2e7);
            let a = 1.0 - o.downtime_s(end) / 2e7;
            assert!((a - 0.9).abs() < 0.005, "sigma {sigma}: availability {a}");
            // Sampling down() at random times gives the same fraction.
            let mut o = Outages::new(&spec(&[], Some(r)), RngStreams::new(3).stream("o"));
            let n = 200_000;
            let down = (0..n)
                .filter(|i| o.down(SimTime::from_secs_f64(*i as f64 * 100.0)))
                .count();
            let a2 = 1.0 - down as f64 / n as f64;
            assert!(
                (a2 - 0.9).abs() < 0.01,
                "sigma {sigma}: sampled availability {a2}"
            );
        }
    }
}
