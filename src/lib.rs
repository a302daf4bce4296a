//! # edgesim: edge-first language-model inference, simulated
//!
//! edgesim replays steady, bursty and trace workloads against a cluster of edge devices
//! (Jetson-class boards running small models under llama.cpp) with a cloud LLM API as
//! fallback, and reports what happens to latency, rejections, energy and cloud cost under each
//! way of choosing a device and limiting its load. It follows Jang & Morabito, "Edge-First
//! Language Model Inference: Models, Metrics, and Tradeoffs" (ICDCS 2025 workshops).
//!
//! ## Concepts
//! - A [`scenario::Scenario`] (validated from TOML) names a [`workload`], the devices (each a
//!   [`device::DeviceModel`] calibrated from llama.cpp runs), a selection policy, a rate
//!   limiter and the cloud.
//! - The [`engine`] is a tiny discrete-event loop over integer time ([`time::SimTime`],
//!   microseconds) with a documented same-time order; it knows nothing of the domain.
//! - [`sim::World`] is the domain model the engine drives: requests are routed by a
//!   [`policy::selection::SelectionPolicy`], admitted by a [`policy::rate_limit::RateLimiter`],
//!   served by devices with P slots and processor-shared decoding, or redirected to the cloud.
//! - Every finished request is pushed to a [`metrics::Recorder`]; [`metrics::Summary`] holds the
//!   headline numbers. Randomness comes from named streams ([`rng::RngStreams`]).
//!
//! ## Example
//! ```
//! use edgesim::scenario::{LoadOptions, Scenario};
//! let text = r#"
//!     duration_s = 60
//!     [workload]
//!     kind = "poisson"
//!     rate_rps = 0.5
//!     prompt_tokens = { dist = "fixed", value = 100 }
//!     output_tokens = { dist = "fixed", value = 50 }
//!     [[devices]]
//!     name = "nano"
//!     profile = "calibration/jetson-orin-nano.toml"
//!     model = "qwen2.5-1.5b"
//! "#;
//! let sc = Scenario::from_str_at(text, std::path::Path::new("example.toml"), &LoadOptions::default()).unwrap();
//! let summary = edgesim::sim::run(&sc).unwrap();
//! assert_eq!(summary.requests_total, summary.served_edge + summary.served_cloud + summary.rejected);
//! ```

#![forbid(unsafe_code)]

pub mod calibrate;
pub mod capacity;
pub mod catalogue;
pub mod check;
pub mod cloud;
pub mod compare;
pub mod device;
pub mod engine;
pub mod error;
pub mod fidelity;
mod fmath;
pub mod metrics;
pub mod outages;
pub mod output;
pub mod plan;
pub mod platforms;
pub mod policy;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod strict;
pub mod sweep;
pub mod time;

pub mod workload;

pub use error::{Error, Result};

/// For a program that runs many simulations in one process (a sweep, a plan, a benchmark):
/// asks glibc's allocator to keep the memory one run frees for the next, instead of returning
/// it to the kernel and faulting it in again page by page (at 10,000 devices some 2,500 page
/// faults a run). Process-wide, so a library does not call it for its user: the command line
/// and the benchmarks do, first thing. Returns whether the allocator took it (`false` off
/// glibc, where it does nothing). docs/performance.md, "Memory kept between runs".
pub use keep_freed_memory::keep_freed_memory;
