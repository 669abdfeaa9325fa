//! The one integration test binary (ripgrep style): one module per area.

mod core;
mod perf_determinism;
mod robustness;
mod util;
