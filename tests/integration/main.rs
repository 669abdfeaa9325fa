//! The one integration test binary (ripgrep style): one module per area.

// Every test here runs the CLI or the library on the default engine, madsim, the
// reference the pinned hashes were taken on: without `--cfg madsim` they would test
// another engine (or nothing) and say so only in confusing failures.
#[cfg(not(madsim))]
compile_error!(
    "the integration tests need `--cfg madsim` (set in .cargo/config.toml). A RUSTFLAGS \
     environment variable replaces that setting: unset it, or add --cfg madsim to it."
);

mod bad_input;
mod cli;
mod core;
mod cost_shared_db;
mod costs;
mod determinism;
mod docs;
mod engines;
mod event_sourcing;
mod explore;
mod forks;
mod keyed;
mod locks;
mod madsim_gate;
mod overload;
mod perf_determinism;
mod pinned;
mod props;
mod protocols;
mod reads;
mod robustness;
mod saga_design;
mod shared_db_outcomes;
mod sweep_needed;
mod tcc;
mod triggers;
mod util;
mod vary;
mod verdicts;
mod why;
