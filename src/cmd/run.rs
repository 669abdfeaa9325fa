//! `sovlab run`: one scenario, one seed, one verdict.

use super::{load_with_limits, EXPECT_NOT_MET};
use crate::cli::LimitArgs;
use crate::output::{same_file, write_atomic};
use anyhow::{bail, Result};
use std::path::Path;
use std::process::ExitCode;

/// The name a report gives its scenario: the file stem, which is also the catalogue name.
fn stem(file: &Path) -> String {
    file.file_stem().map_or_else(
        || file.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

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
    let mut result = sovlab_sim::run_explained_on(&scenario, seed, engine);
    result.report.file = Some(stem(file));
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
