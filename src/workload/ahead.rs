//! Open-loop arrivals drawn ahead on a second thread.
//!
//! An open-loop workload's next arrival depends only on its own previous one and its own random
//! streams, never on what the simulated system did. So a thread of its own can draw the whole
//! sequence ahead of the event loop, in chunks, while the loop takes them one by one: the same
//! arrivals in the same order (every output is unchanged), with the drawing (inter-arrival
//! times, token counts, classes) off the loop's core. Memory stays bounded: at most
//! [`CHUNKS_IN_FLIGHT`] chunks wait between the threads.
//!
//! [`crate::engine::spare_core`] says when to use it: a second core exists and the run is not
//! already one of many in a thread pool (a sweep, a plan, a comparison), whose other runs keep
//! every core busy.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::{Arrival, Workload};
use crate::time::SimTime;

/// Arrivals in the first chunk; each next chunk is twice as long, up to [`LARGEST_CHUNK`], so
/// that a short run does not wait for a long chunk and a long one pays for few hand-overs.
const FIRST_CHUNK: usize = 256;
/// The longest chunk (24 bytes an arrival: 96 KiB).
const LARGEST_CHUNK: usize = 4096;
/// Chunks drawn but not yet taken, at most (the drawing thread waits beyond).
const CHUNKS_IN_FLIGHT: usize = 2;

/// An open-loop workload whose arrivals a second thread draws ahead.
pub struct Ahead {
    /// The arrivals `start` returns (drawn on the caller's thread).
    first: Vec<Arrival>,
    /// The chunk being taken from, and the place of the next arrival in it.
    chunk: Vec<Arrival>,
    at: usize,
    /// Chunks from the drawing thread (`None` once it has ended).
    chunks: Option<Receiver<Vec<Arrival>>>,
    /// Taken chunks back to the drawing thread, for reuse.
    spent: Option<SyncSender<Vec<Arrival>>>,
    thread: Option<JoinHandle<()>>,
    /// The workload itself, drawn from here, when no thread could be started.
    direct: Option<(Box<dyn Workload>, Arrival)>,
}

impl Ahead {
    /// Draws `inner`'s arrivals ahead. `inner` must be open loop: each next arrival comes from
    /// [`Workload::after_arrival`] of the one before, and none from [`Workload::after_done`].
    pub fn new(mut inner: Box<dyn Workload>) -> Ahead {
        let mut ahead = Ahead::with_first(inner.start());
        let Some(&last) = ahead.first.last() else {
            return ahead;
        };
        // The workload goes to the thread once it runs, so that it stays here if none starts.
        let (give_tx, give_rx) = sync_channel::<Box<dyn Workload>>(1);
        let (chunk_tx, chunk_rx) = sync_channel(CHUNKS_IN_FLIGHT);
        let (spent_tx, spent_rx) = sync_channel(CHUNKS_IN_FLIGHT + 1);
        let thread = std::thread::Builder::new()
            .name("edgesim-arrivals".into())
            .spawn(move || {
                if let Ok(inner) = give_rx.recv() {
                    draw(inner, last, &chunk_tx, &spent_rx);
                }
            });
        match thread {
            Ok(t) => match give_tx.send(inner) {
                Ok(()) => {
                    ahead.chunks = Some(chunk_rx);
                    ahead.spent = Some(spent_tx);
                    ahead.thread = Some(t);
                }
                // The thread ended before it took the workload (only a panic could do that).
                Err(std::sync::mpsc::SendError(inner)) => {
                    let _ = t.join();
                    ahead.direct = Some((inner, last));
                }
            },
            // No thread to be had (the system's limit on threads or memory): drawn here.
            Err(_) => ahead.direct = Some((inner, last)),
        }
        ahead
    }

    /// Nothing drawn but `first`, and no thread yet.
    fn with_first(first: Vec<Arrival>) -> Ahead {
        Ahead {
            first,
            chunk: Vec::new(),
            at: 0,
            chunks: None,
            spent: None,
            thread: None,
            direct: None,
        }
    }

    /// Moves on to the next chunk; `false` when the workload has ended.
    #[cold]
    fn refill(&mut self) -> bool {
        if let Some((inner, last)) = &mut self.direct {
            let Some(a) = inner.after_arrival(last) else {
                self.direct = None;
                return false;
            };
            *last = a;
            self.chunk.clear();
            self.chunk.push(a);
            self.at = 0;
            return true;
        }
        let Some(rx) = &self.chunks else {
            return false;
        };
        let old = std::mem::take(&mut self.chunk);
        match rx.recv() {
            Ok(chunk) => {
                if let Some(tx) = &self.spent {
                    // Full, or the thread has ended: the chunk is dropped instead.
                    let _ = tx.try_send(old);
                }
                self.chunk = chunk;
                self.at = 0;
                !self.chunk.is_empty()
            }
            // The thread ended: after its last chunk, or by a panic, which `finish` passes on.
            Err(_) => {
                self.finish();
                false
            }
        }
    }

    /// Hangs up (a drawing thread waiting to hand over a chunk then ends) and joins the
    /// thread, passing on its panic.
    fn finish(&mut self) {
        self.chunks = None;
        self.spent = None;
        if let Some(t) = self.thread.take()
            && let Err(panic) = t.join()
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

/// The drawing thread: chunks of arrivals after `last` until the workload ends or nobody takes
/// them any more.
fn draw(
    mut inner: Box<dyn Workload>,
    mut last: Arrival,
    chunks: &SyncSender<Vec<Arrival>>,
    spent: &Receiver<Vec<Arrival>>,
) {
    let mut len = FIRST_CHUNK;
    loop {
        let mut chunk = spent.try_recv().unwrap_or_default();
        chunk.clear();
        chunk.reserve(len);
        let mut ended = false;
        while chunk.len() < len {
            match inner.after_arrival(&last) {
                Some(a) => {
                    chunk.push(a);
                    last = a;
                }
                None => {
                    ended = true;
                    break;
                }
            }
        }
        // Hand over what was drawn; stop when that was the last, or nobody takes it.
        if (!chunk.is_empty() && chunks.send(chunk).is_err()) || ended {
            return;
        }
        len = (len * 2).min(LARGEST_CHUNK);
    }
}

impl Workload for Ahead {
    fn start(&mut self) -> Vec<Arrival> {
        std::mem::take(&mut self.first)
    }
    #[inline]
    fn after_arrival(&mut self, _: &Arrival) -> Option<Arrival> {
        if self.at == self.chunk.len() && !self.refill() {
            return None;
        }
        let a = self.chunk[self.at];
        self.at += 1;
        Some(a)
    }
    fn after_done(&mut self, _: SimTime, _: u32) -> Option<Arrival> {
        None
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{LoadOptions, Scenario};

    fn workload(text: &str) -> Box<dyn Workload> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("t.toml");
        let sc = Scenario::from_str_at(text, &path, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        sc.workload
            .build(sc.horizon(), &crate::rng::RngStreams::new(sc.seed))
    }

    /// Every arrival, taken the way the simulator takes them.
    fn all(mut w: Box<dyn Workload>, take: Option<usize>) -> Vec<Arrival> {
        let mut out = w.start();
        while let Some(&last) = out.last() {
            if take.is_some_and(|n| out.len() >= n) {
                break;
            }
            match w.after_arrival(&last) {
                Some(a) => out.push(a),
                None => break,
            }
        }
        out
    }

    const BURSTY: &str = r#"
name = "t"
seed = 7
duration_s = 3000
[workload]
kind = "bursty"
base_rate_rps = 2.0
burst_rate_rps = 20.0
burst_length_s = 60
burst_period_s = 300
prompt_tokens = { dist = "lognormal", median = 120, sigma = 0.5, max = 2048 }
output_tokens = { dist = "lognormal", median = 200, sigma = 0.5, max = 1024 }
[[workload.classes]]
name = "a"
share = 1
[[workload.classes]]
name = "b"
share = 2
[[devices]]
name = "agx"
count = 1
profile = "calibration/jetson-agx-orin.toml"
model = "qwen2.5-3b"
"#;

    #[test]
    fn draws_the_same_arrivals_in_the_same_order() {
        let direct = all(workload(BURSTY), None);
        assert!(
            direct.len() > 3 * LARGEST_CHUNK,
            "spans many chunks: {}",
            direct.len()
        );
        let ahead = all(Box::new(Ahead::new(workload(BURSTY))), None);
        assert_eq!(ahead, direct);
    }

    #[test]
    fn an_empty_workload_and_one_left_early_end_cleanly() {
        let none = BURSTY.replace("duration_s = 3000", "duration_s = 0.000001");
        assert!(all(Box::new(Ahead::new(workload(&none))), None).len() <= 1);
        // Taken in part, then dropped while the thread waits to hand over a chunk.
        let some = all(Box::new(Ahead::new(workload(BURSTY))), Some(10));
        assert_eq!(some, all(workload(BURSTY), Some(10)));
    }

    #[test]
    fn without_a_thread_it_draws_the_same() {
        let mut w = workload(BURSTY);
        let first = w.start();
        let last = *first.last().unwrap_or_else(|| panic!("no arrival"));
        let mut here = Ahead::with_first(first);
        here.direct = Some((w, last));
        assert_eq!(all(Box::new(here), None), all(workload(BURSTY), None));
    }

    /// Arrivals one microsecond apart, then a panic at the `n`-th.
    struct Faulty(u32);
    impl Workload for Faulty {
        fn start(&mut self) -> Vec<Arrival> {
            vec![Arrival {
                at: SimTime(1),
                user: super::super::NO_USER,
                class: 0,
                prompt_tokens: 1,
                output_tokens: 1,
            }]
        }
        fn after_arrival(&mut self, a: &Arrival) -> Option<Arrival> {
            self.0 -= 1;
            assert!(self.0 > 0, "the workload failed");
            Some(Arrival {
                at: SimTime(a.at.0 + 1),
                ..*a
            })
        }
        fn after_done(&mut self, _: SimTime, _: u32) -> Option<Arrival> {
            None
        }
    }

    #[test]
    #[should_panic(expected = "the workload failed")]
    fn a_panic_while_drawing_reaches_the_caller() {
        all(Box::new(Ahead::new(Box::new(Faulty(10_000)))), None);
    }

    #[test]
    fn not_in_a_thread_pool() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!pool.install(crate::engine::spare_core));
    }
}
