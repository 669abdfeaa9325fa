//! `sovlab run`: one scenario, one seed, one verdict.

use super::{load_with_limits, EXPECT_NOT_MET};
use crate::cli::LimitArgs;
use crate::output::{same_file, write_atomic};
use anyhow::{bail, Result};
use std::path::Path;
use std::process::ExitCode;

/// Runs `file` and prints its report; exit 1 when `expect` is not met.
pub fn run(
    file: &Path,
    seed: Option<u64>,
    json: bool,
    trace_path: Option<&Path>,
    force: bool,
    limits: &LimitArgs,
    engine: sovlab_sim::Engine,
) -> Result<ExitCode> {
    let scenario = load_with_limits(file, limits)?;
    if let Some(t) = trace_path {
        if same_file(t, file) {
            bail!("--trace {} would overwrite the scenario file", t.display());
        }
    }
    let seed = scenario.seed_or(seed);
    let result = sovlab_sim::run_on(&scenario, seed, engine);
    if let Some(t) = trace_path {
        write_atomic(t, force, |w| result.trace.write_jsonl(w))?;
    }
    if json {
        println!("{}", serde_json::to_string(&result.report)?);
    } else {
        print!("{}", result.report.to_text());
    }
    Ok(if result.report.expect.met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXPECT_NOT_MET)
    })
}
