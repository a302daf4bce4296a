//! A recorder run on a thread of its own, behind the event loop.
//!
//! Writing the output tables (formatting a row per request and per device and time bucket)
//! costs about as much as the simulation itself. A [`Behind`] takes every call the loop makes,
//! appends it to a chunk, and hands full chunks to a scoped thread that makes the same calls,
//! in the same order, on the recorder it wraps: the recorder sees exactly what it would have
//! seen, so every output is the same, while the loop's core only copies the calls. At most
//! [`CHUNKS_IN_FLIGHT`] chunks wait between the threads, so memory stays bounded.

use std::marker::PhantomData;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use super::{Recorder, Refusal, RequestRecord};
use crate::device::DeviceId;
use crate::time::SimTime;

/// Calls per chunk.
const CHUNK: usize = 4096;
/// Chunks handed over but not yet recorded, at most (the loop waits beyond). The request table
/// formats and writes its rows 65,536 at a time; the loop goes on meanwhile, and with room for
/// only a few chunks it waited out every such batch (the threads then overlapped little: 120 %
/// of a core). 48 chunks cover a batch's time: 150 % of a core, for some 12 MB more memory
/// (docs/performance.md, "Tables written behind the event loop").
const CHUNKS_IN_FLIGHT: usize = 48;

/// One recorder call.
#[derive(Clone, Copy)]
enum Call {
    Arrival(SimTime, u64),
    End(SimTime, RequestRecord),
    Refused(SimTime, DeviceId, Refusal),
    Oversized(SimTime, u64),
    Admit(SimTime, DeviceId),
    Device(SimTime, DeviceId, u32, u32, f64),
}

/// Forwards every call to a recorder `R` on a scoped thread.
pub struct Behind<'scope, R> {
    chunk: Vec<Call>,
    calls: Option<SyncSender<Vec<Call>>>,
    /// Recorded chunks back, for reuse.
    spent: Receiver<Vec<Call>>,
    thread: Option<ScopedJoinHandle<'scope, ()>>,
    recorder: PhantomData<fn(&mut R)>,
}

impl<'scope, R: Recorder + Send> Behind<'scope, R> {
    /// Starts the recording thread in `scope`, which takes `inner`'s calls until
    /// [`Behind::finish`]; `None` if no thread can be started (the system's limit).
    pub fn spawn<'env>(scope: &'scope Scope<'scope, 'env>, inner: &'scope mut R) -> Option<Self> {
        let (calls_tx, calls_rx) = sync_channel::<Vec<Call>>(CHUNKS_IN_FLIGHT);
        let (spent_tx, spent_rx) = sync_channel::<Vec<Call>>(CHUNKS_IN_FLIGHT + 2);
        let thread = std::thread::Builder::new()
            .name("edgesim-recorder".into())
            .spawn_scoped(scope, move || {
                for mut chunk in calls_rx {
                    for call in chunk.drain(..) {
                        replay(inner, call);
                    }
                    let _ = spent_tx.try_send(chunk);
                }
            });
        Some(Behind {
            chunk: Vec::with_capacity(CHUNK),
            calls: Some(calls_tx),
            spent: spent_rx,
            thread: Some(thread.ok()?),
            recorder: PhantomData,
        })
    }

    #[inline]
    fn push(&mut self, call: Call) {
        self.chunk.push(call);
        if self.chunk.len() == CHUNK {
            self.hand_over();
        }
    }

    #[cold]
    fn hand_over(&mut self) {
        let next = self
            .spent
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.chunk, next);
        let sent = self.calls.as_ref().is_some_and(|tx| tx.send(full).is_ok());
        if !sent {
            // The thread ended, which only a panic does: `finish` passes it on.
            self.finish();
            panic!("the recorder's thread ended early");
        }
    }

    /// Hands over the last calls and waits until all are recorded; passes on a panic of the
    /// recording thread.
    pub fn finish(&mut self) {
        if !self.chunk.is_empty() {
            let last = std::mem::take(&mut self.chunk);
            if let Some(tx) = &self.calls {
                let _ = tx.send(last);
            }
        }
        self.calls = None;
        if let Some(t) = self.thread.take()
            && let Err(panic) = t.join()
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

fn replay<R: Recorder>(r: &mut R, call: Call) {
    match call {
        Call::Arrival(now, id) => r.on_arrival(now, id),
        Call::End(now, record) => r.on_end(now, &record),
        Call::Refused(now, d, why) => r.on_refused(now, d, why),
        Call::Oversized(now, id) => r.on_oversized(now, id),
        Call::Admit(now, d) => r.on_admit(now, d),
        Call::Device(now, d, active, queued, power_w) => {
            r.on_device(now, d, active, queued, power_w);
        }
    }
}

impl<R: Recorder + Send> Recorder for Behind<'_, R> {
    const WANTS_DEVICE_STATE: bool = R::WANTS_DEVICE_STATE;
    fn on_arrival(&mut self, now: SimTime, id: u64) {
        self.push(Call::Arrival(now, id));
    }
    fn on_end(&mut self, now: SimTime, record: &RequestRecord) {
        self.push(Call::End(now, *record));
    }
    fn on_refused(&mut self, now: SimTime, device: DeviceId, why: Refusal) {
        self.push(Call::Refused(now, device, why));
    }
    fn on_oversized(&mut self, now: SimTime, id: u64) {
        self.push(Call::Oversized(now, id));
    }
    fn on_admit(&mut self, now: SimTime, device: DeviceId) {
        self.push(Call::Admit(now, device));
    }
    fn on_device(
        &mut self,
        now: SimTime,
        device: DeviceId,
        active: u32,
        queued: u32,
        power_w: f64,
    ) {
        if R::WANTS_DEVICE_STATE {
            self.push(Call::Device(now, device, active, queued, power_w));
        }
    }
}

impl<R> Drop for Behind<'_, R> {
    fn drop(&mut self) {
        // Hang up: the thread records what it has and ends; the scope joins it.
        self.calls = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Route;

    /// Every call, as text.
    #[derive(Default)]
    struct Log(Vec<String>);
    impl Recorder for Log {
        const WANTS_DEVICE_STATE: bool = true;
        fn on_arrival(&mut self, now: SimTime, id: u64) {
            self.0.push(format!("a {} {id}", now.0));
        }
        fn on_end(&mut self, now: SimTime, r: &RequestRecord) {
            self.0.push(format!("e {} {r:?}", now.0));
        }
        fn on_refused(&mut self, now: SimTime, d: DeviceId, why: Refusal) {
            self.0.push(format!("r {} {d} {why:?}", now.0));
        }
        fn on_oversized(&mut self, now: SimTime, id: u64) {
            self.0.push(format!("o {} {id}", now.0));
        }
        fn on_admit(&mut self, now: SimTime, d: DeviceId) {
            self.0.push(format!("m {} {d}", now.0));
        }
        fn on_device(&mut self, now: SimTime, d: DeviceId, a: u32, q: u32, p: f64) {
            self.0.push(format!("d {} {d} {a} {q} {p}", now.0));
        }
    }

    fn calls<R: Recorder>(r: &mut R, n: u64) {
        for i in 0..n {
            let t = SimTime(i);
            let d = DeviceId((i % 7) as u32);
            r.on_arrival(t, i);
            r.on_admit(t, d);
            r.on_device(t, d, 1, 2, 0.5 * i as f64);
            r.on_refused(t, d, Refusal::Full);
            if i % 3 == 0 {
                r.on_oversized(t, i);
            }
            r.on_end(
                t,
                &RequestRecord {
                    id: i,
                    class: 0,
                    arrival: t,
                    route: Route::Edge(d),
                    attempts: 1,
                    prompt_tokens: 3,
                    output_tokens: 4,
                    ttft: crate::time::SimDuration(5),
                    e2e: crate::time::SimDuration(6),
                    energy_j: 0.25,
                    cost_usd: 0.0,
                    cloud_retries: 0,
                    cloud_provider: 0,
                    interruptions: 0,
                    during_cloud_outage: false,
                },
            );
        }
    }

    #[test]
    fn records_every_call_in_order() {
        let mut direct = Log::default();
        calls(&mut direct, 5_000);
        let mut behind = Log::default();
        std::thread::scope(|s| {
            let mut b = Behind::spawn(s, &mut behind).unwrap_or_else(|| panic!("no thread"));
            calls(&mut b, 5_000);
            b.finish();
        });
        assert!(direct.0.len() > 4 * CHUNK);
        assert_eq!(behind.0, direct.0);
    }

    struct Failing;
    impl Recorder for Failing {
        fn on_arrival(&mut self, _: SimTime, id: u64) {
            assert!(id < 10, "the recorder failed");
        }
    }

    #[test]
    #[should_panic(expected = "the recorder failed")]
    fn a_panic_while_recording_reaches_the_caller() {
        let mut f = Failing;
        std::thread::scope(|s| {
            let mut b = Behind::spawn(s, &mut f).unwrap_or_else(|| panic!("no thread"));
            for i in 0..100_000 {
                b.on_arrival(SimTime(i), i);
            }
            b.finish();
        });
    }
}
