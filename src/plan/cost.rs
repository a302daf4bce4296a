//! The total-cost model of a plan and the per-run quantities its goals bound.
//!
//! Per month, with `h` traffic hours (the scenario's traffic repeats for `h` hours; the boards
//! idle the remaining `730 − h`) and `k = 3600 h / duration_s` copies of the simulated window:
//!
//! - boards: Σ count · price_usd / lifetime_months
//! - energy: (P̄ · h + P_idle · (730 − h)) / 1000 kWh at the electricity price, with P̄ the
//!   fleet's mean power over the run (`edge_energy_j / end_s`, idle included) and P_idle the
//!   fleet's idle power
//! - cloud: k · cloud_cost_usd
//! - per 1,000 requests: 1000 · total / (k · requests_total)

use serde::Serialize;

use super::{CostsFile, DeviceType, Goal, HOURS_PER_MONTH, Point, Quantity};
use crate::check::Checker;
use crate::error::Result;
use crate::scenario::Scenario;
use crate::sweep::exec::Metrics;
use crate::sweep::metrics::{class_index, index};

/// Validated `[costs]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Costs {
    /// Electricity price \[US cents per kWh\].
    pub cents_per_kwh: f64,
    /// Hours a month with the scenario's traffic.
    pub traffic_hours_per_month: f64,
}

impl Costs {
    /// Validates `[costs]`; the electricity price defaults to the scenario's.
    pub fn from_file(cx: &Checker, f: &CostsFile, base: &Scenario) -> Result<Costs> {
        let cents_per_kwh = match f.electricity_cents_per_kwh {
            Some(c) => cx.price(
                "costs.electricity_cents_per_kwh",
                c,
                crate::check::MAX_CENTS_PER_KWH,
                "US cents per kWh",
            )?,
            None => base.metrics.electricity_cents_per_kwh,
        };
        let h = f.traffic_hours_per_month;
        if !(h > 0.0 && h <= HOURS_PER_MONTH) {
            return Err(cx.bad(
                "costs.traffic_hours_per_month",
                crate::check::num(h),
                format!("must lie in (0, {HOURS_PER_MONTH}] (hours in a month)"),
            ));
        }
        Ok(Costs {
            cents_per_kwh,
            traffic_hours_per_month: h,
        })
    }
}

/// Board cost per month \[USD\] of `counts[t]` boards of each type `types[t]`.
pub fn boards_usd_month(types: &[DeviceType], counts: &[u32]) -> f64 {
    types
        .iter()
        .zip(counts)
        .map(|(t, &c)| t.capex_usd_month(c))
        .sum()
}

/// The quantities a goal bounds, of a run or of one of its request classes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct GoalValues {
    /// TTFT p95 \[ms\] of the served requests (`None`: none served).
    pub ttft_p95_ms: Option<f64>,
    /// TTFT p99 \[ms\].
    pub ttft_p99_ms: Option<f64>,
    /// End-to-end p95 \[ms\].
    pub e2e_p95_ms: Option<f64>,
    /// End-to-end p99 \[ms\].
    pub e2e_p99_ms: Option<f64>,
    /// Share of the requests rejected (`None`: there were none).
    pub reject_share: Option<f64>,
    /// Share served at the edge.
    pub edge_share: Option<f64>,
    /// Cloud fees per month \[USD\].
    pub cloud_usd_month: f64,
    /// The worst metric window's TTFT p95 \[ms\] (`None`: no windows, or nothing served).
    pub worst_window_ttft_p95_ms: Option<f64>,
    /// The worst window's TTFT p99 \[ms\].
    pub worst_window_ttft_p99_ms: Option<f64>,
    /// The worst window's end-to-end p95 \[ms\].
    pub worst_window_e2e_p95_ms: Option<f64>,
    /// The worst window's end-to-end p99 \[ms\].
    pub worst_window_e2e_p99_ms: Option<f64>,
    /// The worst window's rejected share.
    pub worst_window_reject_share: Option<f64>,
}

impl GoalValues {
    /// From the metrics `get` reads by name (a run's, [`crate::sweep::metrics::METRICS`], or a
    /// class's, [`crate::sweep::metrics::CLASS_METRICS`]: the same names), the fees counted
    /// `k` times (the copies of the run a month holds).
    fn of(get: impl Fn(&str) -> Option<f64>, k: f64) -> GoalValues {
        GoalValues {
            ttft_p95_ms: get("ttft_p95_ms"),
            ttft_p99_ms: get("ttft_p99_ms"),
            e2e_p95_ms: get("e2e_p95_ms"),
            e2e_p99_ms: get("e2e_p99_ms"),
            reject_share: get("reject_rate"),
            edge_share: get("edge_share"),
            cloud_usd_month: k * get("cloud_cost_usd").unwrap_or(0.0),
            worst_window_ttft_p95_ms: get("worst_window_ttft_p95_ms"),
            worst_window_ttft_p99_ms: get("worst_window_ttft_p99_ms"),
            worst_window_e2e_p95_ms: get("worst_window_e2e_p95_ms"),
            worst_window_e2e_p99_ms: get("worst_window_e2e_p99_ms"),
            worst_window_reject_share: get("worst_window_reject_rate"),
        }
    }

    /// The value of a goal's quantity.
    pub fn get(&self, q: Quantity) -> Option<f64> {
        match q {
            Quantity::TtftP95Ms => self.ttft_p95_ms,
            Quantity::TtftP99Ms => self.ttft_p99_ms,
            Quantity::E2eP95Ms => self.e2e_p95_ms,
            Quantity::E2eP99Ms => self.e2e_p99_ms,
            Quantity::RejectShare => self.reject_share,
            Quantity::EdgeShare => self.edge_share,
            Quantity::CloudUsdPerMonth => Some(self.cloud_usd_month),
            Quantity::WindowTtftP95Ms => self.worst_window_ttft_p95_ms,
            Quantity::WindowTtftP99Ms => self.worst_window_ttft_p99_ms,
            Quantity::WindowE2eP95Ms => self.worst_window_e2e_p95_ms,
            Quantity::WindowE2eP99Ms => self.worst_window_e2e_p99_ms,
            Quantity::WindowRejectShare => self.worst_window_reject_share,
        }
    }
}

/// What one run of a plan costs and achieves.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunValues {
    /// Boards \[USD/month\].
    pub boards_usd_month: f64,
    /// Energy \[USD/month\].
    pub energy_usd_month: f64,
    /// Total \[USD/month\].
    pub total_usd_month: f64,
    /// Total per 1,000 requests \[USD\].
    pub usd_per_1k_requests: Option<f64>,
    /// Cloud-served share.
    pub cloud_share: Option<f64>,
    /// The run's goal quantities (its cloud fees per month among them).
    pub run: GoalValues,
    /// Each request class's, in the workload's class order (empty with one class: the run's
    /// are its).
    pub classes: Vec<GoalValues>,
}

impl RunValues {
    /// The value of goal `g`'s quantity: of the run, or of the goal's class.
    pub fn value(&self, g: &Goal) -> Option<f64> {
        match &g.class {
            None => self.run.get(g.quantity),
            // One class: the summary has no classes; the run's requests are the class's.
            Some(_) if self.classes.is_empty() => self.run.get(g.quantity),
            Some(c) => self.classes.get(c.index)?.get(g.quantity),
        }
    }

    /// From one run's sweep metrics (see [`crate::sweep::metrics::METRICS`]) and its classes'
    /// (see [`crate::sweep::metrics::extract_classes`]).
    pub fn of(
        costs: &Costs,
        types: &[DeviceType],
        p: &Point,
        m: &Metrics,
        classes: &[Metrics],
    ) -> RunValues {
        RunValues::read(
            costs,
            types,
            p,
            |name| index(name).and_then(|i| m.get(i)),
            classes
                .iter()
                .map(|c| move |name: &str| class_index(name).and_then(|i| c.get(i))),
        )
    }

    /// From the run's metrics `get` reads by name and each class's that `classes` read.
    fn read<G: Fn(&str) -> Option<f64>>(
        costs: &Costs,
        types: &[DeviceType],
        p: &Point,
        get: impl Fn(&str) -> Option<f64>,
        classes: impl Iterator<Item = G>,
    ) -> RunValues {
        let h = costs.traffic_hours_per_month;
        let duration_s = get("arrival_window_s").unwrap_or(0.0);
        let k = if duration_s > 0.0 {
            3600.0 * h / duration_s
        } else {
            0.0
        };
        let boards_usd_month = boards_usd_month(types, &p.counts);
        let idle_w: f64 = types
            .iter()
            .zip(&p.counts)
            .map(|(t, &c)| f64::from(c) * t.idle_w)
            .sum();
        let end_s = get("end_s").unwrap_or(0.0);
        let mean_w = match get("edge_energy_j") {
            Some(e) if end_s > 0.0 => e / end_s,
            _ => idle_w,
        };
        let kwh = (mean_w * h + idle_w * (HOURS_PER_MONTH - h)) / 1000.0;
        let energy_usd_month = kwh * costs.cents_per_kwh / 100.0;
        let run = GoalValues::of(&get, k);
        let total_usd_month = boards_usd_month + energy_usd_month + run.cloud_usd_month;
        let requests = k * get("requests_total").unwrap_or(0.0);
        RunValues {
            boards_usd_month,
            energy_usd_month,
            total_usd_month,
            usd_per_1k_requests: (requests > 0.0).then(|| 1000.0 * total_usd_month / requests),
            cloud_share: get("redirect_rate"),
            run,
            classes: classes.map(|c| GoalValues::of(c, k)).collect(),
        }
    }
}

/// Of a run's metrics, those [`RunValues::of`] reads, and only those: what a plan keeps of a
/// run read from its journal (a run's line holds every metric, some 57 and each class's 18; a
/// plan reads about 17 and 12 a class). The values are in [`Reads::run`]'s order, then each
/// class's in [`Reads::class`]'s, a metric that is not defined NaN.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Kept(Box<[f64]>);

/// The metrics [`RunValues::of`] reads: indices into [`crate::sweep::metrics::METRICS`] and
/// [`crate::sweep::metrics::CLASS_METRICS`], found by running it on getters that write down
/// the names they are asked for (so the list cannot drift from what it reads).
#[derive(Debug)]
struct Reads {
    run: Vec<usize>,
    class: Vec<usize>,
}

fn reads() -> &'static Reads {
    static READS: std::sync::OnceLock<Reads> = std::sync::OnceLock::new();
    READS.get_or_init(|| {
        use std::cell::RefCell;
        let (run, class) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
        let asked = |names: &RefCell<Vec<usize>>, i: Option<usize>| {
            let mut n = names.borrow_mut();
            if let Some(i) = i.filter(|i| !n.contains(i)) {
                n.push(i);
            }
            // A value every branch reads past.
            Some(1.0)
        };
        let p = Point::default();
        let costs = Costs {
            cents_per_kwh: 1.0,
            traffic_hours_per_month: 1.0,
        };
        RunValues::read(
            &costs,
            &[],
            &p,
            |name| asked(&run, index(name)),
            std::iter::once(|name: &str| asked(&class, class_index(name))),
        );
        Reads {
            run: run.into_inner(),
            class: class.into_inner(),
        }
    })
}

impl Kept {
    /// What a plan keeps of a run's metrics `m` and its classes' `classes`.
    pub fn of(m: &Metrics, classes: &[Metrics]) -> Kept {
        let r = reads();
        let value = |m: &Metrics, i: usize| m.get(i).unwrap_or(f64::NAN);
        let run = r.run.iter().map(|&i| value(m, i));
        let by_class = classes
            .iter()
            .flat_map(|c| r.class.iter().map(move |&i| value(c, i)));
        Kept(run.chain(by_class).collect())
    }

    /// [`RunValues::of`] the run these values were kept from.
    pub fn values(&self, costs: &Costs, types: &[DeviceType], p: &Point) -> RunValues {
        let r = reads();
        let (run, classes) = self.0.split_at(r.run.len().min(self.0.len()));
        // Metric `i`'s value in `values`, kept in the order of `kept`.
        let get = |values: &[f64], kept: &[usize], i: Option<usize>| {
            let j = kept.iter().position(|&k| Some(k) == i)?;
            values.get(j).copied().filter(|v| !v.is_nan())
        };
        RunValues::read(
            costs,
            types,
            p,
            |name| get(run, &r.run, index(name)),
            classes
                .chunks(r.class.len().max(1))
                .map(|c| move |name: &str| get(c, &r.class, class_index(name))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::metrics::METRICS;

    fn metrics(pairs: &[(&str, f64)]) -> Metrics {
        let mut m = vec![None; METRICS.len()];
        for (k, v) in pairs {
            m[index(k).unwrap()] = Some(*v);
        }
        m.into()
    }

    /// What a plan keeps of a run read from its journal gives the values of the whole run,
    /// undefined metrics and classes included, and is a fraction of it.
    #[test]
    fn kept_metrics_give_the_run_s_values() {
        use rand::{RngExt as _, SeedableRng as _};
        let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
        let types = [board("a", 5.0), board("b", 11.0)];
        let costs = Costs {
            cents_per_kwh: 17.0,
            traffic_hours_per_month: 300.0,
        };
        let mut draw = |n: usize| -> Metrics {
            (0..n)
                .map(|_| rng.random_bool(0.8).then(|| rng.random_range(0.0..5000.0)))
                .collect::<Vec<_>>()
                .into()
        };
        let class_n = crate::sweep::metrics::CLASS_METRICS.len();
        for case in 0..300 {
            let m = draw(METRICS.len());
            let classes: Vec<Metrics> = (0..[0, 2, 3][case % 3]).map(|_| draw(class_n)).collect();
            let p = Point {
                counts: vec![case as u32 % 4, 1 + case as u32 % 3],
                slots: vec![0, 0],
                queue: vec![0, 0],
                policy: 0,
                rate_limit: 0,
                routing: 0,
                cloud: 0,
            };
            let kept = Kept::of(&m, &classes);
            let whole = RunValues::of(&costs, &types, &p, &m, &classes);
            assert_eq!(kept.values(&costs, &types, &p), whole, "case {case}");
            let r = reads();
            assert_eq!(kept.0.len(), r.run.len() + classes.len() * r.class.len());
        }
        let r = reads();
        assert!(
            r.run.len() < METRICS.len() / 2 && r.class.len() < class_n,
            "{r:?}"
        );
        // Every name read is a metric (a name that is none would read nothing).
        assert_eq!(r.run.len(), 17, "{r:?}");
        assert_eq!(r.class.len(), 12, "{r:?}");
    }

    /// A hand-worked month: 2 boards at $240 over 24 months, 5 W idle each, a one-hour run
    /// drawing 36 kJ (10 W on average) and $0.50 of cloud fees over 1,000 requests, the traffic
    /// 100 hours a month at 20 cents per kWh.
    /// A board type at $240 over 24 months, up to four, drawing `idle_w` idle.
    fn board(name: &str, idle_w: f64) -> DeviceType {
        DeviceType {
            name: name.into(),
            profile: ("profile", "p".into()),
            model: "m".into(),
            price_usd: 240.0,
            lifetime_months: 24.0,
            min_count: 0,
            max_count: 4,
            slots: vec![1],
            queue_capacity: vec![0],
            ctx_tokens: None,
            outages: Vec::new(),
            random_outages: None,
            idle_w,
        }
    }

    #[test]
    fn hand_worked_month() {
        let t = board("b", 5.0);
        let p = Point {
            counts: vec![2],
            slots: vec![0],
            queue: vec![0],
            policy: 0,
            rate_limit: 0,
            routing: 0,
            cloud: 0,
        };
        let costs = Costs {
            cents_per_kwh: 20.0,
            traffic_hours_per_month: 100.0,
        };
        let m = metrics(&[
            ("arrival_window_s", 3600.0),
            ("end_s", 3600.0),
            ("edge_energy_j", 36_000.0),
            ("cloud_cost_usd", 0.5),
            ("requests_total", 1000.0),
        ]);
        // Two classes: the second's requests cost $0.10 of the $0.50.
        let class = |cost: f64, rejected: f64| {
            let mut c = vec![None; crate::sweep::metrics::CLASS_METRICS.len()];
            c[class_index("cloud_cost_usd").unwrap()] = Some(cost);
            c[class_index("reject_rate").unwrap()] = Some(rejected);
            Metrics::from(c)
        };
        let v = RunValues::of(&costs, &[t], &p, &m, &[class(0.4, 0.0), class(0.1, 0.25)]);
        assert_eq!(v.boards_usd_month, 20.0); // 2 x 240 / 24
        // 10 W x 100 h + 10 W idle x 630 h = 7.3 kWh at $0.20.
        assert!(
            (v.energy_usd_month - 1.46).abs() < 1e-12,
            "{}",
            v.energy_usd_month
        );
        assert_eq!(v.run.cloud_usd_month, 50.0); // 100 copies of the hour
        assert!((v.total_usd_month - 71.46).abs() < 1e-12);
        // 100,000 requests a month.
        assert!((v.usd_per_1k_requests.unwrap() - 0.7146).abs() < 1e-12);
        // A class's goals read its values: its fees times the 100 copies, its rejections.
        let goal = |class: usize, key: &'static str, quantity: Quantity| Goal {
            key,
            class: Some(super::super::GoalClass {
                name: format!("c{class}"),
                index: class,
            }),
            quantity,
            bound: 1.0,
            at_most: true,
        };
        let fees = |c: usize| {
            v.value(&goal(
                c,
                "max_cloud_usd_per_month",
                Quantity::CloudUsdPerMonth,
            ))
        };
        assert!((fees(0).unwrap() - 40.0).abs() < 1e-12);
        assert!((fees(1).unwrap() - 10.0).abs() < 1e-12);
        let rejected = v.value(&goal(1, "max_reject_share", Quantity::RejectShare));
        assert_eq!(rejected, Some(0.25));
        assert_eq!(
            v.value(&goal(2, "max_reject_share", Quantity::RejectShare)),
            None
        );
    }
}
