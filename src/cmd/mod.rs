//! One module per subcommand.

mod bench;
mod check;
mod run;

use crate::cli::{Cli, Command};
use anyhow::{bail, Result};
use sovlab_sim::Scenario;
use std::path::Path;
use std::process::ExitCode;

/// Exit code: an `expect` was not met (CONTRACT §2).
pub const EXPECT_NOT_MET: u8 = 1;

/// Runs the chosen subcommand; `Err` means bad input or usage (exit 2).
pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Run {
            file,
            seed,
            json,
            trace,
            force,
            limits,
        }) => run::run(&file, seed, json, trace.as_deref(), force, &limits),
        Some(Command::Check { files }) => check::check(&files),
        Some(Command::Bench {
            rss_child: true, ..
        }) => bench::rss_child(),
        Some(Command::Bench {
            json, quick, seed, ..
        }) => bench::bench(json, quick, seed),
        Some(other) => bail!("{} is not built yet", name_of(&other)),
        None => bail!("the TUI is not built yet; try `sovlab run FILE`"),
    }
}

fn name_of(c: &Command) -> &'static str {
    match c {
        Command::Tui { .. } => "tui",
        Command::Run { .. } => "run",
        Command::Sweep { .. } => "sweep",
        Command::Shrink { .. } => "shrink",
        Command::Export { .. } => "export",
        Command::Check { .. } => "check",
        Command::List => "list",
        Command::Bench { .. } => "bench",
    }
}

/// A bad scenario, reported with file:line:column (exit 2).
#[derive(Debug)]
pub struct BadScenario(pub sovlab_sim::ScenarioError);

impl std::fmt::Display for BadScenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BadScenario {}

/// Loads a scenario file.
// Kept for the subcommands that take no limit overrides (built in other branches).
#[allow(dead_code)]
pub fn load(path: &Path) -> Result<Scenario> {
    Scenario::load(path).map_err(|e| BadScenario(e).into())
}

/// Loads a scenario file with `[limits]` overridden from the command line.
pub fn load_with_limits(path: &Path, limits: &crate::cli::LimitArgs) -> Result<Scenario> {
    Scenario::load_with(path, &limits.overrides()).map_err(|e| BadScenario(e).into())
}
