//! Event-engine throughput: a model that keeps 1,000 (or 16,000) pending events and
//! reschedules each one at a pseudo-random future time. Reports events per second.

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edgesim::engine::{self, Classify, EventQueue, Model};
use edgesim::time::{SimDuration, SimTime};

#[derive(Clone, Copy)]
struct Ev(u32);
impl Classify for Ev {
    fn class(&self) -> u8 {
        (self.0 & 1) as u8
    }
}

struct Churn {
    left: u64,
    x: u64,
    pending: u32,
}

impl Model for Churn {
    type Event = Ev;
    fn start(&mut self, q: &mut EventQueue<Ev>) {
        for i in 0..self.pending {
            q.push(SimTime(u64::from(i)), Ev(i));
        }
    }
    fn handle(&mut self, now: SimTime, ev: Ev, q: &mut EventQueue<Ev>) {
        if self.left > 0 {
            self.left -= 1;
            // xorshift64: cheap, deterministic delays up to ~1 s.
            self.x ^= self.x << 13;
            self.x ^= self.x >> 7;
            self.x ^= self.x << 17;
            q.push(now + SimDuration(self.x % 1_000_000), ev);
        }
    }
}

const EVENTS: u64 = 1_000_000;

fn bench(c: &mut Criterion) {
    // As the command line does: an iteration reuses the memory the one before it freed
    // (docs/performance.md, "Memory kept between runs").
    edgesim::keep_freed_memory();
    let mut g = c.benchmark_group("engine");
    // 1,000 pending events: a cluster; 16,000: a fleet of thousands of devices.
    for pending in [1_000u32, 16_000] {
        g.throughput(Throughput::Elements(EVENTS + u64::from(pending)));
        g.bench_function(format!("churn_{}k_pending", pending / 1000), |b| {
            b.iter(|| {
                let mut m = Churn {
                    left: EVENTS,
                    x: 0x9e37_79b9_7f4a_7c15,
                    pending,
                };
                engine::run(&mut m, SimTime::MAX).events
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
