//! The gateway's decision state: the selection policy and its random stream, the rate
//! limiter, the loads it decides on, the weights, and the devices tried for the request being
//! routed. It answers the policy's questions ([`Fleet`]) at O(1) or O(log n) each.

use rand::RngExt;

use super::alias::Alias;
use super::downset::DownSet;
use super::fenwick::Fenwick;
use super::loads::{Loads, PoolMembers, PoolPart};
use crate::device::DeviceId;
use crate::policy::rate_limit::{Admission, LimitScope, RateLimitSpec, RateLimiter};
use crate::policy::selection::{Fleet, SelectionPolicy};
use crate::rng::SimRng;
use crate::scenario::Scenario;
use crate::time::SimTime;

/// The devices tried for the current request, sorted (devices down are apart, in a
/// [`DownSet`]). Membership is a binary search of this short list: a stamp per device would
/// answer in O(1), but at fleet scale reading a device's stamp misses the cache once per
/// request (docs/performance.md).
struct Tried {
    list: Vec<u32>,
}

impl Tried {
    fn new() -> Tried {
        Tried { list: Vec::new() }
    }
    /// Starts a new request: nothing tried.
    #[inline]
    fn clear(&mut self) {
        self.list.clear();
    }
    #[inline]
    fn contains(&self, d: u32) -> bool {
        self.list.binary_search(&d).is_ok()
    }
    #[inline]
    fn insert(&mut self, d: u32) {
        let at = self.list.partition_point(|&x| x < d);
        self.list.insert(at, d);
    }
}

/// The boards that serve some classes (`workload.classes[].devices`; without such classes,
/// one pool of every board): a policy of its own, and the devices down and the weights in
/// the pool's numbering (its devices in fleet order). Loads and rate limits are the
/// devices', shared by every pool a device is in.
struct Pool {
    policy: Box<dyn SelectionPolicy>,
    weights: Option<Fenwick>,
    /// The weights' alias table: a weighted draw when nothing is excluded.
    alias: Option<Alias>,
    /// Devices down (failed): never offered to the policy.
    down: DownSet,
    n: u32,
}

impl Pool {
    /// The pool of devices of weights `w` under `sc`'s policy.
    fn new(sc: &Scenario, w: &[f64]) -> Pool {
        let policy = sc.selection.kind.build();
        let needs = policy.needs();
        let n = w.len() as u32;
        Pool {
            policy,
            weights: needs.weights.then(|| Fenwick::new(w)),
            alias: needs.weights.then(|| Alias::new(w)).flatten(),
            down: DownSet::new(n),
            n,
        }
    }

    /// The policy's pick among the pool's untried devices, numbered by `map` (the request
    /// routed is of pool `at`).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn pick<M: PoolMap>(
        &mut self,
        map: M,
        now: SimTime,
        at: usize,
        tried: &Tried,
        loads: &Loads,
        limiter: &mut dyn RateLimiter,
        rng: &mut SimRng,
    ) -> Option<DeviceId> {
        let mut view = View {
            now,
            n: self.n,
            at,
            map,
            tried,
            down: &self.down,
            loads,
            limiter,
            weights: self.weights.as_ref(),
            alias: self.alias.as_ref(),
        };
        let k = self.policy.select(&mut view, rng)?;
        Some(DeviceId(map.global(k.0)))
    }

    /// Its device `k` is down (`down`) or up again.
    fn set_down(&mut self, k: u32, down: bool) {
        self.down.set(k, down);
        if let Some(w) = &mut self.weights {
            w.exclude(k as usize, down);
        }
    }
}

/// How a pool numbers its devices: the whole fleet's numbering ([`Whole`], at no cost) or a
/// part's ([`PartMap`], its devices in fleet order).
trait PoolMap: Copy {
    /// The fleet index of the pool's device `k`.
    fn global(self, k: u32) -> u32;
}

/// The whole fleet: pool index = fleet index.
#[derive(Clone, Copy)]
struct Whole;

impl PoolMap for Whole {
    #[inline(always)]
    fn global(self, k: u32) -> u32 {
        k
    }
}

/// A part of the fleet.
#[derive(Clone, Copy)]
struct PartMap<'a>(&'a PoolPart);

impl PoolMap for PartMap<'_> {
    #[inline(always)]
    fn global(self, k: u32) -> u32 {
        self.0.global(k)
    }
}

/// The gateway.
pub struct Gateway {
    /// Pool 0: every device.
    whole: Pool,
    /// Pools 1, 2, ...: those of classes served by some groups only.
    parts: Vec<(Pool, PoolPart)>,
    /// Each class's pool (`None`: every class is served by every device).
    class_pool: Option<Box<[u16]>>,
    /// The pool of the request being routed.
    at: usize,
    rng: SimRng,
    limiter: Box<dyn RateLimiter>,
    rate_limit: RateLimitSpec,
    loads: Loads,
    /// In the fleet's numbering (a pool numbers its devices in the fleet's order).
    tried: Tried,
    /// Scratch: the devices tried in a pool's numbering.
    tried_in_part: Tried,
}

impl Gateway {
    /// The gateway of `sc`, its policy drawing from `rng`.
    pub fn new(sc: &Scenario, rng: SimRng) -> Gateway {
        let needs = sc.selection.kind.build().needs();
        let mut slots = Vec::with_capacity(sc.device_count());
        let mut weights = Vec::with_capacity(sc.device_count());
        for g in &sc.fleet {
            let w = g.selection_weight();
            for _ in 0..g.count {
                slots.push(g.slots);
                weights.push(w);
            }
        }
        let n = slots.len();
        let quotas: Vec<Option<f64>> = sc.classes().iter().map(|c| c.quota).collect();
        let mut limiter = sc.rate_limit.build(n, &quotas);
        let usage = !sc.rate_limit.is_none() && sc.rate_limit.scope == LimitScope::Device;
        let mut loads = Loads::new(
            slots,
            sc.selection.load_report_interval(),
            usage,
            needs.loads || needs.least_loaded,
            needs.least_loaded,
        );
        let whole = Pool::new(sc, &weights);
        let (parts, class_pool) = match sc.device_pools() {
            None => (Vec::new(), None),
            Some(p) => {
                let counts: Vec<u32> = sc.fleet.iter().map(|g| g.count).collect();
                let starts: Vec<u32> = counts
                    .iter()
                    .scan(0u32, |s, &c| {
                        *s += c;
                        Some(*s - c)
                    })
                    .collect();
                let parts: Vec<(Pool, PoolPart)> = p.groups[1..]
                    .iter()
                    .map(|gs| {
                        let part = PoolPart::new(
                            &gs.iter()
                                .map(|&g| (starts[g], counts[g]))
                                .collect::<Vec<_>>(),
                        );
                        let w: Vec<f64> = (0..part.devices())
                            .map(|k| weights[part.global(k) as usize])
                            .collect();
                        (Pool::new(sc, &w), part)
                    })
                    .collect();
                let only: Vec<PoolPart> = parts.iter().map(|(_, part)| part.clone()).collect();
                loads = loads.with_pools(
                    PoolMembers::new(&counts, p.of_group(counts.len())),
                    &only,
                    p.whole_used,
                );
                (parts, Some(p.of_class.into_boxed_slice()))
            }
        };
        loads.start(limiter.as_mut());
        Gateway {
            whole,
            parts,
            class_pool,
            at: 0,
            rng,
            limiter,
            rate_limit: sc.rate_limit,
            loads,
            tried: Tried::new(),
            tried_in_part: Tried::new(),
        }
    }

    /// Starts routing a request of class `class` at `now`: nothing tried yet (devices that
    /// are down, or outside the class's pool, are out as well), loads brought up to date.
    #[inline(always)]
    pub fn begin(&mut self, now: SimTime, class: u16) {
        if let Some(c) = &self.class_pool {
            self.at = usize::from(c[usize::from(class)]);
        }
        self.tried.clear();
        self.loads.sync(now, self.limiter.as_mut());
    }

    /// The policy's pick among the untried devices.
    #[inline(always)]
    pub fn select(&mut self, now: SimTime) -> Option<DeviceId> {
        let (loads, limiter, rng) = (&self.loads, self.limiter.as_mut(), &mut self.rng);
        match self.at {
            0 => self
                .whole
                .pick(Whole, now, 0, &self.tried, loads, limiter, rng),
            at => {
                let (pool, part) = &mut self.parts[at - 1];
                // Every device tried is in the pool, and both orders are the fleet's.
                let local = &mut self.tried_in_part;
                local.list.clear();
                local
                    .list
                    .extend(self.tried.list.iter().filter_map(|&d| part.local(d)));
                pool.pick(PartMap(part), now, at, local, loads, limiter, rng)
            }
        }
    }

    /// `d` was tried for the current request (nothing changes if it is already out of this
    /// pass: tried, or known to be down).
    #[inline(always)]
    pub fn tried(&mut self, d: DeviceId) {
        if self.whole.down.contains(d.0) || self.tried.contains(d.0) {
            return;
        }
        self.tried.insert(d.0);
        self.loads.hold(d.0);
    }

    /// Ends routing the request: the tried devices are ranked again.
    #[inline(always)]
    pub fn end(&mut self, now: SimTime) {
        self.loads
            .release_held(now, &self.tried.list, self.limiter.as_mut());
    }

    /// Would the limit of `d` (or of the cluster, or of request class `class`) admit
    /// `amount` at `now`?
    pub fn check(&mut self, now: SimTime, d: DeviceId, class: u16, amount: f64) -> Admission {
        self.limiter
            .check(now, self.rate_limit.key(d.index(), class), amount)
    }

    /// `d` admitted `amount` of a request of class `class` at `now` (`d` is held for the
    /// request: it is ranked again at [`Gateway::end`]).
    pub fn record(&mut self, now: SimTime, d: DeviceId, class: u16, amount: f64) {
        self.limiter
            .record(now, self.rate_limit.key(d.index(), class), amount);
    }

    /// A request of class `class` and `amount` finished on `d` at `now` (its new rank comes
    /// with the [`Gateway::device_changed`] that follows every device operation).
    pub fn release(&mut self, now: SimTime, d: DeviceId, class: u16, amount: f64) {
        self.limiter
            .release(now, self.rate_limit.key(d.index(), class), amount);
    }

    /// Whether the gateway holds `d` as down.
    pub fn is_down(&self, d: DeviceId) -> bool {
        self.whole.down.contains(d.0)
    }

    /// The gateway learns at `now` that `d` is down (`down`) or up again, and from then on
    /// offers only devices it holds as up.
    pub fn set_down(&mut self, now: SimTime, d: DeviceId, down: bool) {
        self.whole.set_down(d.0, down);
        for (pool, part) in &mut self.parts {
            if let Some(k) = part.local(d.0) {
                pool.set_down(k, down);
            }
        }
        self.loads.set_down(now, d.0, down, self.limiter.as_mut());
    }

    /// A hint: `d`'s occupancy is likely to change soon ([`Loads::prefetch`]).
    #[inline(always)]
    pub fn prefetch(&self, d: DeviceId) {
        self.loads.prefetch(d.0);
    }

    /// `d` now holds `occupancy` requests (in service + queued); its rank is updated with its
    /// current limit usage.
    #[inline(always)]
    pub fn device_changed(&mut self, now: SimTime, d: DeviceId, occupancy: u32) {
        self.loads
            .set_occupancy(now, d.0, occupancy, self.limiter.as_mut());
    }
}

/// The policy's view of the gateway for one decision.
struct View<'a, M: PoolMap> {
    now: SimTime,
    /// Devices in the pool.
    n: u32,
    /// The pool (0 without pools).
    at: usize,
    /// The pool's numbering of its devices.
    map: M,
    tried: &'a Tried,
    down: &'a DownSet,
    loads: &'a Loads,
    limiter: &'a mut dyn RateLimiter,
    weights: Option<&'a Fenwick>,
    alias: Option<&'a Alias>,
}

impl<M: PoolMap> View<'_, M> {
    /// The last untried device (the fallback of a weighted draw that rounding pushed past
    /// the end).
    fn last_untried(&self) -> Option<DeviceId> {
        self.untried()
            .checked_sub(1)
            .and_then(|k| self.nth_untried(k))
    }
}

#[cfg(debug_assertions)]
impl<M: PoolMap> View<'_, M> {
    /// On small fleets in debug builds: the index's pick is the brute-force least loaded.
    fn check_least(&mut self, pick: DeviceId) {
        if self.n > 64 {
            return;
        }
        let untried: Vec<DeviceId> = (0..self.n)
            .map(DeviceId)
            .filter(|&d| !self.is_tried(d))
            .collect();
        let min = untried
            .into_iter()
            .map(|d| self.load(d))
            .fold(f64::INFINITY, f64::min);
        let got = self.load(pick);
        debug_assert!(
            !self.is_tried(pick) && (got - min).abs() <= 1e-9 * min.max(1.0),
            "least-loaded index picked device {pick} at load {got}, the least is {min}"
        );
    }
}

impl<M: PoolMap> Fleet for View<'_, M> {
    fn len(&self) -> u32 {
        self.n
    }
    fn untried(&self) -> u32 {
        self.n - self.down.len() - self.tried.list.len() as u32
    }
    fn is_tried(&self, d: DeviceId) -> bool {
        self.down.contains(d.0) || self.tried.contains(d.0)
    }
    fn nth_untried(&self, k: u32) -> Option<DeviceId> {
        // The k-th device up not in the sorted tried list (all up): among the devices up,
        // the k-th rank not taken by a tried one, each tried device's rank being the number
        // up before it (with none down, its index).
        let mut r = k;
        for &t in &self.tried.list {
            if self.down.up_before(t) <= r {
                r += 1;
            } else {
                break;
            }
        }
        self.down.nth_up(r).map(DeviceId)
    }
    fn next_untried(&self, from: u32) -> Option<DeviceId> {
        // The untried devices before `from`: those up before it, less the tried ones (all up).
        let before = self.down.up_before(from.min(self.n))
            - self.tried.list.partition_point(|&t| t < from) as u32;
        let k = if before < self.untried() { before } else { 0 };
        self.nth_untried(k)
    }
    fn load(&mut self, d: DeviceId) -> f64 {
        self.loads
            .load(self.now, self.map.global(d.0), self.limiter)
    }
    fn least_loaded(&mut self, rng: &mut SimRng) -> Option<DeviceId> {
        let (a, b) = self.loads.least(self.now, self.at);
        let m = a.len() + b.len();
        let k = match m {
            0 => return None,
            1 => 0,
            _ => rng.random_range(0..m),
        };
        // The index holds the pool's own numbering.
        let pick = DeviceId(if k < a.len() { a[k] } else { b[k - a.len()] });
        #[cfg(debug_assertions)]
        self.check_least(pick);
        Some(pick)
    }
    fn weighted(&mut self, rng: &mut SimRng) -> Option<DeviceId> {
        let w = self.weights?;
        if self.untried() == 0 {
            return None;
        }
        // Nothing tried and nothing down (a request's first pick, in a healthy fleet): one
        // entry of the alias table. Else the tree, which skips the excluded devices.
        if self.tried.list.is_empty()
            && self.down.len() == 0
            && let Some(a) = self.alias
        {
            return Some(DeviceId(a.pick(rng.random::<f64>()) as u32));
        }
        // Devices down weigh nothing in the tree ([`Gateway::set_down`]); the search skips the
        // few tried for this request.
        let skipped: f64 = self.tried.list.iter().map(|&d| w.weight(d as usize)).sum();
        let total = w.live_total() - skipped;
        if total <= 0.0 {
            let left = self.untried() as usize;
            return self.nth_untried(rng.random_range(0..left) as u32);
        }
        let x = rng.random::<f64>() * total;
        let i = w.find_skipping(x, &self.tried.list);
        // Past the end (rounding), or, where taking weights out and putting them back has left
        // a node of a dead range an ulp above zero, a device down: the last untried instead.
        if i < self.n as usize && !self.down.contains(i as u32) {
            Some(DeviceId(i as u32))
        } else {
            self.last_untried()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact loads of `n` one-slot devices, no limit usage and no index: what the views of
    /// these tests need besides the devices tried and down.
    fn plain_loads(n: usize) -> Loads {
        Loads::new(
            vec![1; n],
            crate::time::SimDuration::ZERO,
            false,
            false,
            false,
        )
    }

    #[test]
    fn nth_untried_skips_the_tried() {
        let mut t = Tried::new();
        t.clear();
        t.insert(0);
        let mut down = DownSet::new(6);
        down.set(3, true);
        let lim: &mut dyn RateLimiter = &mut crate::policy::rate_limit::Unlimited;
        let loads = plain_loads(6);
        let v = View {
            now: SimTime::ZERO,
            at: 0,
            map: Whole,
            n: 6,
            tried: &t,
            down: &down,
            loads: &loads,
            limiter: lim,
            weights: None,
            alias: None,
        };
        let got: Vec<_> = (0..5).map(|k| v.nth_untried(k).map(|d| d.0)).collect();
        assert_eq!(got, vec![Some(1), Some(2), Some(4), Some(5), None]);
        assert_eq!(v.untried(), 4);
        assert!(v.is_tried(DeviceId(3)) && !v.is_tried(DeviceId(4)));
    }

    /// With devices down and tried, the view answers as a scan of the devices would.
    #[test]
    fn untried_devices_with_many_down_are_a_scan_of_the_fleet() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_pcg::Pcg64::seed_from_u64(8);
        let lim: &mut dyn RateLimiter = &mut crate::policy::rate_limit::Unlimited;
        for n in [1u32, 2, 5, 64, 300] {
            let loads = plain_loads(n as usize);
            let mut down = DownSet::new(n);
            for _ in 0..40 {
                for _ in 0..rng.random_range(0..=n.min(8)) {
                    let d = rng.random_range(0..n);
                    down.set(d, rng.random_bool(0.7));
                }
                let mut t = Tried::new();
                t.clear();
                for _ in 0..rng.random_range(0..4) {
                    let d = rng.random_range(0..n);
                    if !down.contains(d) && !t.contains(d) {
                        t.insert(d);
                    }
                }
                let v = View {
                    now: SimTime::ZERO,
                    at: 0,
                    map: Whole,
                    n,
                    tried: &t,
                    down: &down,
                    loads: &loads,
                    limiter: &mut *lim,
                    weights: None,
                    alias: None,
                };
                let want: Vec<u32> = (0..n)
                    .filter(|&d| !down.contains(d) && !t.contains(d))
                    .collect();
                assert_eq!(v.untried() as usize, want.len());
                for d in 0..n {
                    assert_eq!(v.is_tried(DeviceId(d)), !want.contains(&d));
                }
                for k in 0..=want.len() as u32 {
                    assert_eq!(v.nth_untried(k).map(|d| d.0), want.get(k as usize).copied());
                }
                assert_eq!(v.last_untried().map(|d| d.0), want.last().copied());
                for from in 0..n {
                    let next = want.iter().find(|&&d| d >= from).or(want.first());
                    assert_eq!(
                        v.next_untried(from).map(|d| d.0),
                        next.copied(),
                        "from {from}"
                    );
                }
            }
        }
    }

    /// Devices going down and up many times (fractional weights, so that the tree's sums
    /// round): a weighted pick is never a device down or tried, and the live devices keep
    /// their shares.
    #[test]
    fn weighted_picks_skip_devices_down_after_many_changes() {
        use rand::{RngExt, SeedableRng};
        let mut r = SimRng::seed_from_u64(3);
        let n = 200u32;
        let w: Vec<f64> = (0..n).map(|i| 0.1 + f64::from(i % 7) / 3.0).collect();
        let mut tree = Fenwick::new(&w);
        let mut down = DownSet::new(n);
        for _ in 0..20_000 {
            let d = r.random_range(0..n);
            let x = r.random_bool(0.5);
            down.set(d, x);
            tree.exclude(d as usize, x);
        }
        let lim: &mut dyn RateLimiter = &mut crate::policy::rate_limit::Unlimited;
        let loads = plain_loads(n as usize);
        let mut t = Tried::new();
        t.clear();
        let tried = (0..n).find(|&d| !down.contains(d)).unwrap();
        t.insert(tried);
        let mut v = View {
            now: SimTime::ZERO,
            at: 0,
            map: Whole,
            n,
            tried: &t,
            down: &down,
            loads: &loads,
            limiter: lim,
            weights: Some(&tree),
            alias: None,
        };
        let live: f64 = (0..n)
            .filter(|&d| !down.contains(d) && d != tried)
            .map(|d| w[d as usize])
            .sum();
        let mut count = vec![0u32; n as usize];
        let draws = 200_000;
        for _ in 0..draws {
            let d = v.weighted(&mut r).unwrap().0;
            assert!(!down.contains(d) && d != tried, "picked {d}");
            count[d as usize] += 1;
        }
        for d in (0..n).filter(|&d| !down.contains(d) && d != tried) {
            let (got, want) = (
                f64::from(count[d as usize]) / f64::from(draws),
                w[d as usize] / live,
            );
            assert!(
                (got - want).abs() < 0.004,
                "device {d}: {got:.4} against {want:.4}"
            );
        }
    }

    /// A first pick in a healthy fleet is the alias table's, from the same uniform; with a
    /// device excluded the tree picks among the others, in proportion to their weights.
    #[test]
    fn weighted_picks_from_the_table_then_the_tree() {
        use rand::SeedableRng;
        let w = [1.0, 0.0, 3.0, 2.0];
        let (tree, table) = (Fenwick::new(&w), Alias::new(&w).unwrap());
        let lim: &mut dyn RateLimiter = &mut crate::policy::rate_limit::Unlimited;
        let loads = plain_loads(4);
        let mut t = Tried::new();
        t.clear();
        let none_down = DownSet::new(4);
        let mut rng = SimRng::seed_from_u64(5);
        let mut shadow = rng.clone();
        let mut v = View {
            now: SimTime::ZERO,
            at: 0,
            map: Whole,
            n: 4,
            tried: &t,
            down: &none_down,
            loads: &loads,
            limiter: lim,
            weights: Some(&tree),
            alias: Some(&table),
        };
        let mut count = [0u32; 4];
        for _ in 0..60_000 {
            let d = v.weighted(&mut rng).unwrap().0 as usize;
            assert_eq!(d, table.pick(shadow.random::<f64>()));
            count[d] += 1;
        }
        for (d, want) in [(0, 1.0 / 6.0), (1, 0.0), (2, 0.5), (3, 1.0 / 3.0)] {
            let share = f64::from(count[d]) / 60_000.0;
            assert!(
                (share - want).abs() < 0.01,
                "device {d}: {share:.4} against {want:.4}"
            );
        }
        let mut t2 = Tried::new();
        t2.clear();
        t2.insert(2);
        v.tried = &t2;
        let mut count = [0u32; 4];
        for _ in 0..30_000 {
            count[v.weighted(&mut rng).unwrap().0 as usize] += 1;
        }
        assert_eq!((count[1], count[2]), (0, 0), "{count:?}");
        let share = f64::from(count[0]) / 30_000.0;
        assert!((share - 1.0 / 3.0).abs() < 0.01, "{count:?}");
    }
}
