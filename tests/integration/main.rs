//! The one integration test binary (ripgrep style): one module per area.

mod bad_input;
mod cli;
mod core;
mod cost_shared_db;
mod costs;
mod docs;
mod engines;
mod event_sourcing;
mod explore;
mod forks;
mod keyed;
mod locks;
mod perf_determinism;
mod pinned;
mod props;
mod protocols;
mod reads;
mod robustness;
mod saga_design;
mod sweep_needed;
mod tcc;
mod triggers;
mod util;
mod vary;
mod verdicts;
mod why;
