//! The floor under issue 13's last target: how much slower a request is at 10,000 devices than
//! at 10 when a device's state is K cache lines and nothing else grows with the fleet.
//!
//! A toy fleet on the real engine and event queue: Poisson arrivals (1 request/s per device),
//! each sent to a device drawn at random, which reads and writes its K lines and schedules the
//! request's end an exponential service time later (mean 1.2 s, so about 1.2 pending events
//! per device, as in `benches/fleet.rs` at 10,000 devices); the end reads and writes the same
//! K lines. A device's lines are contiguous and 64-byte aligned, and the engine's hint
//! prefetches the next end's lines, as the simulator does its device's. K = 0 is the queue and
//! the draws alone. Nothing else is modelled: no limiter, no metrics, no request arena, so the
//! ratios are a lower bound on what a simulator whose device events each touch K lines could
//! reach on this machine (docs/performance.md, "The floor under the fleet target").
//!
//! `cargo bench --no-default-features --bench floor` prints, for each K, the wall-clock time of a
//! request at each size and its ratio to 10 devices, from paired rounds (every size once per
//! round, the order reversed every other round; the median ratio of a round's pair), then
//! criterion's own timing of each. `EDGESIM_FLOOR_REQUESTS` sets the requests per run (default
//! 1,000,000), `EDGESIM_FLOOR_SIZES` the sizes (default 10,1000,10000), `EDGESIM_FLOOR_LINES`
//! the Ks (default 0,1,2,4,8), `EDGESIM_FLOOR_ROUNDS` the rounds (default 9).

#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use edgesim::engine::{self, Classify, EventQueue, Model};
use edgesim::time::{SimDuration, SimTime};

#[derive(Clone, Copy)]
enum Ev {
    Arrival,
    End(u32),
}

impl Classify for Ev {
    fn class(&self) -> u8 {
        match self {
            Ev::End(_) => 0,
            Ev::Arrival => 1,
        }
    }
}

/// One cache line of a device's state.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u64; 8]);

struct Floor {
    lines: Vec<Line>,
    devices: u32,
    k: usize,
    left: u64,
    x: u64,
    gap_us: f64,
    service_us: f64,
    sum: u64,
}

impl Floor {
    fn new(devices: u32, k: usize, requests: u64) -> Floor {
        Floor {
            // Written here, so that no page is first touched while timed.
            lines: vec![Line([1; 8]); devices as usize * k],
            devices,
            k,
            left: requests,
            x: 0x9e37_79b9_7f4a_7c15,
            gap_us: 1e6 / f64::from(devices),
            service_us: 1.2e6,
            sum: 0,
        }
    }

    /// xorshift64.
    fn next(&mut self) -> u64 {
        self.x ^= self.x << 13;
        self.x ^= self.x >> 7;
        self.x ^= self.x << 17;
        self.x
    }

    /// An exponential delay of mean `mean_us`.
    fn exp(&mut self, mean_us: f64) -> SimDuration {
        let u = (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        SimDuration((-(1.0 - u).ln() * mean_us) as u64)
    }

    /// Reads and writes every line of device `d`.
    #[inline(always)]
    fn touch(&mut self, d: u32) {
        let first = d as usize * self.k;
        for l in &mut self.lines[first..first + self.k] {
            l.0[1] = l.0[1].wrapping_add(l.0[0] ^ self.sum);
            self.sum = self.sum.wrapping_add(l.0[1]);
        }
    }
}

impl Model for Floor {
    type Event = Ev;
    fn start(&mut self, q: &mut EventQueue<Ev>) {
        q.push_in_order(SimTime::ZERO, Ev::Arrival);
    }
    fn handle(&mut self, now: SimTime, ev: Ev, q: &mut EventQueue<Ev>) {
        match ev {
            Ev::Arrival => {
                let d = (((self.next() >> 32) * u64::from(self.devices)) >> 32) as u32;
                self.touch(d);
                let service = self.exp(self.service_us);
                q.push(now + service, Ev::End(d));
                self.left -= 1;
                if self.left > 0 {
                    let gap = self.exp(self.gap_us);
                    q.push_in_order(now + gap, Ev::Arrival);
                }
            }
            Ev::End(d) => self.touch(d),
        }
    }
    fn prefetch(&self, ev: Ev) {
        if let Ev::End(d) = ev {
            let first = d as usize * self.k;
            for j in first..first + self.k {
                prefetch_index::prefetch_index(&self.lines, j);
            }
        }
    }
    fn wants_prefetch(&self) -> bool {
        self.devices >= 512 && self.k > 0
    }
}

fn env<T: std::str::FromStr>(key: &str, default: &str) -> Vec<T> {
    std::env::var(key)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect()
}

/// One run's wall-clock time \[s\].
fn timed(devices: u32, k: usize, requests: u64) -> f64 {
    let mut m = Floor::new(devices, k, requests);
    let start = std::time::Instant::now();
    engine::run(&mut m, SimTime::MAX);
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(m.sum);
    secs
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    // As the command line does: an iteration reuses the memory the one before it freed
    // (docs/performance.md, "Memory kept between runs").
    edgesim::keep_freed_memory();
    let requests = env::<u64>("EDGESIM_FLOOR_REQUESTS", "1000000")[0];
    let sizes = env::<u32>("EDGESIM_FLOOR_SIZES", "10,1000,10000");
    let ks = env::<usize>("EDGESIM_FLOOR_LINES", "0,1,2,4,8");
    let rounds = env::<usize>("EDGESIM_FLOOR_ROUNDS", "9")[0];
    for &k in &ks {
        let mut per: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
        let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
        for r in 0..rounds {
            let mut t = vec![0.0; sizes.len()];
            let order: Vec<usize> = if r % 2 == 0 {
                (0..sizes.len()).collect()
            } else {
                (0..sizes.len()).rev().collect()
            };
            for i in order {
                t[i] = timed(sizes[i], k, requests);
                per[i].push(t[i] / requests as f64 * 1e9);
            }
            for i in 0..sizes.len() {
                ratios[i].push(t[i] / t[0]);
            }
        }
        for i in 0..sizes.len() {
            eprintln!(
                "floor K={k} {:>6} devices: {:.1} ns per request (median of {rounds}), {:.3}x the {}-device time",
                sizes[i],
                median(per[i].clone()),
                median(ratios[i].clone()),
                sizes[0],
            );
        }
    }
    let mut g = c.benchmark_group("floor");
    g.throughput(Throughput::Elements(requests));
    for &k in &ks {
        for &devices in &sizes {
            g.bench_function(format!("lines_{k}/{devices}"), |b| {
                b.iter_batched_ref(
                    || Floor::new(devices, k, requests),
                    |m| engine::run(m, SimTime::MAX).events,
                    BatchSize::LargeInput,
                )
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_millis(200)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
