//! Helpers shared by the integration tests.

#![allow(dead_code)]

use sovlab_sim::{run_with, Engine, RunOptions, RunResult, Scenario};
use std::path::PathBuf;
use std::process::{Command, Output};

/// Parses scenario text, panicking with the error (tests only).
pub fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Loads catalogue scenario `file` (`scenarios/<file>`), panicking with the error.
pub fn load(file: &str) -> Scenario {
    Scenario::load(&root().join("scenarios").join(file)).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `s` at `seed` on the discrete-event engine (fast: for tests over many seeds).
pub fn des(s: &Scenario, seed: u64) -> RunResult {
    run_with(s, seed, RunOptions::default().on(Engine::Des))
}

/// Does invariant `name` hold in `r`? Panics when it does not apply: a test asking
/// for an invariant its run does not judge is a bug in the test.
pub fn holds(r: &RunResult, name: &str) -> bool {
    r.verdicts
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("{name} applies"))
        .holds
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the sovlab binary with `args` from the repository root.
pub fn sovlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sovlab"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the sovlab binary runs")
}

/// A fresh temporary directory for one test.
pub fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sovlab-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
