//! The one integration test binary (ripgrep style): one module per area.

mod bad_input;
mod cli;
mod core;
mod forks;
mod keyed;
mod perf_determinism;
mod props;
mod protocols;
mod reads;
mod robustness;
mod util;
