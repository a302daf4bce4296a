//! Integration tests: one binary, one module per concern.
//!
//! - `queueing`: the simulator against queueing formulas (Erlang B, M/G/1/1 under random and
//!   weighted selection, Erlang C, M/M/1, Pollaczek-Khinchine for M/D/1 and M/G/1, the
//!   machine-repair model for closed loops, the supermarket model for power of two choices).
//! - `invariants`: conservation, Little's law and bounds on randomly generated scenarios.
//! - `determinism`: same seed, same bytes; policies do not change arrivals.
//! - `routing`: hand-worked small cases for each policy, limiter and the device model.
//! - `bad_input`: every class of bad input gives a clear error and exit code 2.
//! - `cli`: the command line end to end, and the golden summary.
//! - `docs`: every output column and summary key is defined in the docs.

mod bad_input;
mod calibrate;
mod capacity;
mod cli;
mod cloud;
mod common;
mod determinism;
mod docs;
mod failures;
mod figures;
mod fleet;
mod fuzz;
mod hostile;
mod invariants;
mod plan;
mod platforms;
mod queueing;
mod routing;
mod sweeps;
mod tables;
mod windows;
