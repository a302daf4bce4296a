//! Measuring a GGUF model on this machine through llama-cpp-2 (feature `llm`).

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::kept::KeptPhase;
use super::partial::{ContextPoint, Partial, Settings};
use super::power::{Meter, unix_now};
use super::{DecodePoint, Measurements, PrefillPoint, rss_bytes};
use crate::error::{Error, Result};

/// What to measure and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// The GGUF file.
    pub model: PathBuf,
    /// CPU threads for llama.cpp.
    pub threads: u32,
    /// Layers offloaded to a GPU (0: CPU only).
    pub gpu_layers: u32,
    /// Context size (default: enough for the largest prompt and the decode grid).
    pub ctx: Option<u32>,
    /// Prompt lengths for prefill \[tokens\].
    pub prompts: Vec<u32>,
    /// Concurrent sequences for decode.
    pub streams: Vec<u32>,
    /// Tokens generated per sequence in a decode measurement.
    pub decode_tokens: u32,
    /// Contexts (tokens already in the cache) for single-stream decode, beyond the base grid's
    /// 8 tokens: the context effect γ.
    pub contexts: Vec<u32>,
    /// Repetitions of every measurement.
    pub repetitions: u32,
    /// Seconds of idle power measurement (with a meter).
    pub idle_seconds: f64,
    /// Go on with the interrupted calibration journalled beside the profile
    /// ([`mod@super::partial`]).
    pub resume: bool,
}

/// Where a measurement journals its points ([`mod@super::partial`]).
#[derive(Debug)]
pub struct Journal {
    /// The journal's file.
    pub path: PathBuf,
    /// The journal of the interrupted run to go on with (`--resume`), read from `path`.
    pub resume: Option<Partial>,
    /// SHA-256 of the model file.
    pub model_sha256: String,
}

/// llama.cpp's backend can be initialised once per process.
fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<Option<LlamaBackend>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            LlamaBackend::init().ok().map(|mut b| {
                b.void_logs();
                b
            })
        })
        .as_ref()
        .ok_or_else(|| Error::Output {
            path: "llama.cpp".into(),
            problem: "cannot initialise the llama.cpp backend".into(),
        })
}

const TEXT: &str = "The edge device answers the question while the cloud waits in reserve. \
    Small language models run on boards such as the Jetson Orin Nano, and a gateway decides \
    which device serves each request, how many it may take in a minute, and when to send the \
    rest to a larger model in a data centre. ";

fn llm_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Output {
        path: "llama.cpp".into(),
        problem: format!("{what}: {e}"),
    }
}

/// Loads a GGUF model with `gpu_layers` layers offloaded.
fn load(backend: &LlamaBackend, path: &std::path::Path, gpu_layers: u32) -> Result<LlamaModel> {
    let params = LlamaModelParams::default().with_n_gpu_layers(gpu_layers);
    LlamaModel::load_from_file(backend, path, &params)
        .map_err(|e| llm_err(&format!("cannot load {}", path.display()), e))
}

/// A context of `n_ctx` tokens for up to `sequences` sequences sharing one (unified) KV cache,
/// a whole prompt per batch, and `threads` CPU threads.
fn context<'m>(
    backend: &LlamaBackend,
    model: &'m LlamaModel,
    n_ctx: u32,
    sequences: u32,
    threads: u32,
) -> Result<LlamaContext<'m>> {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(n_ctx)
        .with_n_seq_max(sequences)
        .with_kv_unified(true)
        .with_n_threads(threads as i32)
        .with_n_threads_batch(threads as i32);
    model
        .new_context(backend, params)
        .map_err(|e| llm_err("cannot create a context", e))
}

/// `n` prompt tokens (a fixed English text, repeated).
fn prompt_tokens(model: &LlamaModel, n: u32) -> Vec<LlamaToken> {
    let vocab = model.vocab();
    let mut text = String::from(TEXT);
    loop {
        let toks = vocab.tokenize(text.as_bytes(), true, false);
        if toks.len() >= n as usize {
            return toks[..n as usize].to_vec();
        }
        text.push_str(TEXT);
    }
}

/// Time to first token of one `n`-token prompt on an empty cache \[s\].
fn prefill_once(ctx: &mut LlamaContext<'_>, toks: &[LlamaToken]) -> Result<f64> {
    ctx.clear_kv_cache();
    let mut batch = LlamaBatch::new(toks.len(), 1);
    for (i, t) in toks.iter().enumerate() {
        batch
            .add(*t, i as i32, &[0], i + 1 == toks.len())
            .map_err(|e| llm_err("batch", e))?;
    }
    let mut sampler = LlamaSampler::greedy();
    let t0 = Instant::now();
    ctx.decode(&mut batch).map_err(|e| llm_err("prefill", e))?;
    let _first = sampler.sample(ctx, batch.n_tokens() - 1);
    Ok(t0.elapsed().as_secs_f64())
}

/// Context the base decode grid starts from \[tokens\].
const DECODE_START: u32 = 8;

/// Aggregate decode speed of `n` sequences generating `g` tokens each after a `start`-token
/// prompt \[tokens/s\].
fn decode_once(
    ctx: &mut LlamaContext<'_>,
    model: &LlamaModel,
    n: u32,
    g: u32,
    start: u32,
) -> Result<f64> {
    ctx.clear_kv_cache();
    let start = prompt_tokens(model, start);
    let mut batch = LlamaBatch::new((n as usize * start.len()).max(n as usize), n as i32);
    for s in 0..n as i32 {
        for (i, t) in start.iter().enumerate() {
            batch
                .add(*t, i as i32, &[s], i + 1 == start.len())
                .map_err(|e| llm_err("batch", e))?;
        }
    }
    ctx.decode(&mut batch)
        .map_err(|e| llm_err("decode prompt", e))?;
    let mut samplers: Vec<LlamaSampler> = (0..n).map(|_| LlamaSampler::greedy()).collect();
    let last = |s: usize| ((s + 1) * start.len() - 1) as i32;
    let mut next: Vec<LlamaToken> = samplers
        .iter_mut()
        .enumerate()
        .map(|(s, sm)| sm.sample(ctx, last(s)))
        .collect();
    let first = start.len() as i32;
    let t0 = Instant::now();
    for pos in first..first + g as i32 {
        batch.clear();
        for (s, t) in next.iter().enumerate() {
            batch
                .add(*t, pos, &[s as i32], true)
                .map_err(|e| llm_err("batch", e))?;
        }
        ctx.decode(&mut batch).map_err(|e| llm_err("decode", e))?;
        for (s, sm) in samplers.iter_mut().enumerate() {
            next[s] = sm.sample(ctx, s as i32);
        }
    }
    Ok(f64::from(n * g) / t0.elapsed().as_secs_f64())
}

/// Loads the model and measures the grid. `progress(done, total, what)` is called after each
/// step. Returns the measurements, provenance entries, and the timed phases.
pub fn measure(
    o: &Options,
    meter: Option<&Meter>,
    progress: &dyn Fn(usize, usize, &str),
    journal: Journal,
) -> Result<(Measurements, toml::Table, Vec<KeptPhase>)> {
    let backend = backend()?;
    let rss0 = rss_bytes();
    let model = load(backend, &o.model, o.gpu_layers)?;
    let max_prompt = o.prompts.iter().copied().max().unwrap_or(0);
    let max_streams = o.streams.iter().copied().max().unwrap_or(1);
    let max_context = o.contexts.iter().copied().max().unwrap_or(0);
    // In u64: a large grid (many streams of many tokens) overflowed u32 and wrapped to a
    // small context.
    let (prompt, streams, context_max, decode) = (
        u64::from(max_prompt),
        u64::from(max_streams),
        u64::from(max_context),
        u64::from(o.decode_tokens),
    );
    let need = (prompt + 8)
        .max(streams * (u64::from(DECODE_START) + decode + 8))
        .max(context_max + decode + 8);
    let train = u64::from(model.n_ctx_train());
    // By default what the grid needs, rounded up to 256 tokens but not past the trained
    // context (a model trained for 2,000 tokens fits a grid that needs 1,900). A resumed
    // calibration keeps the context its points were measured with while the grid fits it
    // (a prompt length added or dropped changes what the grid needs, not the points).
    let resumed_ctx = journal
        .resume
        .as_ref()
        .map(|p| u64::from(p.settings.n_ctx))
        .filter(|&c| c >= need);
    let n_ctx = o
        .ctx
        .map(u64::from)
        .or(resumed_ctx)
        .unwrap_or_else(|| need.next_multiple_of(256).min(train.max(need)));
    if n_ctx < need {
        return Err(Error::Output {
            path: o.model.clone(),
            problem: format!("--ctx {n_ctx} is too small for this grid: it needs {need} tokens"),
        });
    }
    if n_ctx > train {
        return Err(Error::Output {
            path: o.model.clone(),
            problem: match o.ctx {
                Some(_) => {
                    format!("--ctx {n_ctx} is more than the model was trained for ({train} tokens)")
                }
                None => format!(
                    "the grid needs a context of {n_ctx} tokens but the model was trained for \
                     {train}; use shorter --prompts/--contexts or fewer --streams/--decode-tokens"
                ),
            },
        });
    }
    // At most the trained context, a u32.
    let n_ctx = u32::try_from(n_ctx).unwrap_or(u32::MAX);
    let mut ctx = context(backend, &model, n_ctx, max_streams, o.threads)?;

    let reps = o.repetitions.max(1) as usize;
    let total = 1 + reps * (o.prompts.len() + o.streams.len() + o.contexts.len());
    let mut done = 0;

    // The journal: resumed if its settings are this run's, else a new one.
    let settings = Settings {
        model_sha256: journal.model_sha256,
        n_ctx,
        threads: o.threads,
        gpu_layers: o.gpu_layers,
        decode_tokens: o.decode_tokens,
        repetitions: o.repetitions,
        metered: meter.is_some(),
    };
    let mut part = match journal.resume {
        Some(p) => {
            p.check_settings(&journal.path, &settings)?;
            p
        }
        None => Partial::new(settings),
    };
    let mut kept_points = 0u32;
    let mut kept = |done: usize, what: &str| {
        kept_points += 1;
        progress(done, total, &format!("{what} (kept)"));
    };

    // Warm-up (page the weights in), then idle power with the model loaded.
    let warm = prompt_tokens(&model, 16.min(max_prompt.max(1)));
    prefill_once(&mut ctx, &warm)?;
    done += 1;
    if part.idle_done {
        kept(done, "idle");
    } else {
        let from = unix_now();
        let idle = o.idle_seconds.max(0.0);
        part.idle_w = meter.and_then(|mt| {
            mt.measure(|| std::thread::sleep(Duration::from_secs_f64(idle)))
                .0
        });
        if meter.is_none() && idle > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(idle));
        }
        part.phases.push(KeptPhase {
            name: "idle".into(),
            from_unix_s: from,
            to_unix_s: unix_now(),
        });
        part.idle_done = true;
        part.write(&journal.path)?;
        progress(done, total, "idle");
    }

    for &p in &o.prompts {
        if part.prefill(p).is_some() {
            done += reps;
            kept(done, &format!("prefill {p} tokens"));
            continue;
        }
        let toks = prompt_tokens(&model, p);
        let mut ttft = Vec::new();
        for _ in 0..reps {
            ttft.push(prefill_once(&mut ctx, &toks)?);
            done += 1;
            progress(done, total, &format!("prefill {p} tokens"));
        }
        part.prefill.push(PrefillPoint {
            prompt_tokens: p,
            ttft_s: ttft,
        });
        part.write(&journal.path)?;
    }
    let mean_context = |start: u32| f64::from(start) + f64::from(o.decode_tokens + 1) / 2.0;
    for &n in &o.streams {
        if part.streams(n).is_some() {
            done += reps;
            kept(done, &format!("decode {n} streams"));
            continue;
        }
        let mut speeds = Vec::new();
        let from = unix_now();
        let mut power = Vec::new();
        for _ in 0..reps {
            let run = |ctx: &mut LlamaContext<'_>| {
                decode_once(ctx, &model, n, o.decode_tokens, DECODE_START)
            };
            let (w, r) = match meter {
                Some(mt) => mt.measure(|| run(&mut ctx)),
                None => (None, run(&mut ctx)),
            };
            speeds.push(r?);
            power.extend(w);
            done += 1;
            progress(done, total, &format!("decode {n} streams"));
        }
        part.phases.push(KeptPhase {
            name: format!("decode-{n}"),
            from_unix_s: from,
            to_unix_s: unix_now(),
        });
        part.streams.push(DecodePoint {
            streams: n,
            mean_context_tokens: mean_context(DECODE_START),
            tokens_per_s: speeds,
            power_w: (!power.is_empty()).then(|| power.iter().sum::<f64>() / power.len() as f64),
        });
        part.write(&journal.path)?;
    }
    for &c in &o.contexts {
        if part.context(c).is_some() {
            done += reps;
            kept(done, &format!("decode after {c} tokens"));
            continue;
        }
        let mut speeds = Vec::new();
        for _ in 0..reps {
            speeds.push(decode_once(&mut ctx, &model, 1, o.decode_tokens, c.max(1))?);
            done += 1;
            progress(done, total, &format!("decode after {c} tokens"));
        }
        part.contexts.push(ContextPoint {
            context_tokens: c,
            mean_context_tokens: mean_context(c.max(1)),
            tokens_per_s: speeds,
        });
        part.write(&journal.path)?;
    }

    // The grid's points in its order, whether measured now or kept.
    let mut m = Measurements {
        idle_w: part.idle_w,
        ..Measurements::default()
    };
    m.prefill = o
        .prompts
        .iter()
        .filter_map(|&p| part.prefill(p).cloned())
        .collect();
    m.decode = o
        .streams
        .iter()
        .filter_map(|&n| part.streams(n).cloned())
        .chain(
            o.contexts
                .iter()
                .filter_map(|&c| part.context(c).map(ContextPoint::to_decode)),
        )
        .collect();
    // The phases of this grid's points (a resumed journal may hold others).
    let phases: Vec<KeptPhase> = part
        .phases
        .iter()
        .filter(|ph| {
            ph.name == "idle" || o.streams.iter().any(|n| ph.name == format!("decode-{n}"))
        })
        .cloned()
        .collect();
    m.memory_bytes = match (rss0, rss_bytes()) {
        (Some(a), Some(b)) if b > a => Some(b - a),
        _ => None,
    };
    let mut prov = toml::Table::new();
    prov.insert("n_ctx".into(), i64::from(n_ctx).into());
    prov.insert("model_params".into(), (model.n_params() as i64).into());
    prov.insert("model_size_bytes".into(), (model.size() as i64).into());
    if kept_points > 0 {
        prov.insert("resumed_points".into(), i64::from(kept_points).into());
    }
    Ok((m, prov, phases))
}

/// One sequence in service on the real server.
struct Active {
    req: usize,
    pos: i32,
    next: LlamaToken,
    generated: u32,
    sampler: LlamaSampler,
}

/// Serves `requests` for real, in real time: open-loop arrivals, `parallel` sequences with
/// continuous batching as llama-server does it (each step is one batch holding the prompts of
/// newly admitted requests and one token of every running sequence), a FIFO queue, and exactly
/// `output_tokens` tokens per request. Returns each request's TTFT and end-to-end latency, and
/// the time spent in `llama_decode` steps (busy time).
pub fn serve(
    model_path: &std::path::Path,
    threads: u32,
    gpu_layers: u32,
    parallel: u32,
    requests: &[crate::fidelity::Request],
    progress: &dyn Fn(usize, usize),
) -> Result<crate::fidelity::Outcome> {
    use std::collections::VecDeque;
    let backend = backend()?;
    let model = load(backend, model_path, gpu_layers)?;
    let longest = requests
        .iter()
        .map(|r| r.prompt_tokens + r.output_tokens)
        .max()
        .unwrap_or(1);
    let n_ctx = (parallel * (longest + 8)).next_multiple_of(256);
    if n_ctx > model.n_ctx_train() * parallel {
        return Err(Error::Output {
            path: model_path.into(),
            problem: format!("requests of {longest} tokens do not fit the model's context"),
        });
    }
    let mut ctx = context(backend, &model, n_ctx, parallel, threads)?;
    let prompts: Vec<Vec<LlamaToken>> = requests
        .iter()
        .map(|r| prompt_tokens(&model, r.prompt_tokens))
        .collect();
    // Warm-up outside the clock.
    prefill_once(&mut ctx, &prompts[0])?;
    ctx.clear_kv_cache();

    let mut out = vec![
        crate::fidelity::Served {
            ttft_s: f64::NAN,
            e2e_s: f64::NAN,
        };
        requests.len()
    ];
    let mut slots: Vec<Option<Active>> = (0..parallel).map(|_| None).collect();
    let mut queue: VecDeque<usize> = VecDeque::new();
    let mut batch = LlamaBatch::new(n_ctx as usize, parallel as i32);
    let (mut next_arrival, mut done) = (0usize, 0usize);
    let mut busy_s = 0.0;
    let t0 = Instant::now();
    while done < requests.len() {
        let now = t0.elapsed().as_secs_f64();
        while next_arrival < requests.len() && requests[next_arrival].at_s <= now {
            queue.push_back(next_arrival);
            next_arrival += 1;
        }
        batch.clear();
        // (slot, batch index of its logits, just admitted)
        let mut rows: Vec<(usize, i32, bool)> = Vec::new();
        for (s, slot) in slots.iter_mut().enumerate() {
            if slot.is_none() {
                if let Some(r) = queue.pop_front() {
                    ctx.clear_kv_cache_seq(Some(s as u32), None, None)
                        .map_err(|e| llm_err("kv cache", e))?;
                    let p = &prompts[r];
                    for (i, t) in p.iter().enumerate() {
                        batch
                            .add(*t, i as i32, &[s as i32], i + 1 == p.len())
                            .map_err(|e| llm_err("batch", e))?;
                    }
                    rows.push((s, batch.n_tokens() - 1, true));
                    *slot = Some(Active {
                        req: r,
                        pos: p.len() as i32,
                        next: p[p.len() - 1],
                        generated: 0,
                        sampler: LlamaSampler::greedy(),
                    });
                }
            } else if let Some(a) = slot {
                batch
                    .add(a.next, a.pos, &[s as i32], true)
                    .map_err(|e| llm_err("batch", e))?;
                a.pos += 1;
                rows.push((s, batch.n_tokens() - 1, false));
            }
        }
        if rows.is_empty() {
            // Idle: wait for the next arrival.
            if let Some(r) = requests.get(next_arrival) {
                let wait = r.at_s - t0.elapsed().as_secs_f64();
                if wait > 0.0 {
                    std::thread::sleep(Duration::from_secs_f64(wait));
                }
            }
            continue;
        }
        let step_start = t0.elapsed().as_secs_f64();
        ctx.decode(&mut batch).map_err(|e| llm_err("decode", e))?;
        let t = t0.elapsed().as_secs_f64();
        busy_s += t - step_start;
        for (s, idx, _admitted) in rows {
            let Some(a) = slots[s].as_mut() else { continue };
            a.next = a.sampler.sample(&ctx, idx);
            a.generated += 1;
            let r = &requests[a.req];
            if a.generated == 1 {
                out[a.req].ttft_s = t - r.at_s;
            }
            if a.generated >= r.output_tokens {
                out[a.req].e2e_s = t - r.at_s;
                slots[s] = None;
                done += 1;
                progress(done, requests.len());
            }
        }
    }
    Ok(crate::fidelity::Outcome {
        served: out,
        busy_s,
    })
}
