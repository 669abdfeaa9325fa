//! One module per subcommand.

mod bench;
mod check;
mod explore;
mod export;
mod list;
mod run;
mod shrink;
mod sweep;
mod sweep_chart;
mod tui;

use crate::cli::{Cli, Command};
use anyhow::Result;
use sovlab_sim::Scenario;
use std::path::Path;
use std::process::ExitCode;

/// Exit code: an `expect` was not met (docs/reference/cli.md).
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
            engine,
        }) => run::run(
            &file,
            seed,
            json,
            trace.as_deref(),
            force,
            &limits,
            engine.engine,
        ),
        Some(Command::Check { files }) => check::check(&files),
        Some(Command::Explore {
            file,
            max_crashes,
            crashable,
            restart_ms,
            max_drops,
            max_duplicates,
            max_depth,
            max_executions,
            no_prune,
            json,
            trace,
            out,
            force,
        }) => explore::explore(explore::Request {
            file: &file,
            max_crashes,
            crashable,
            restart_ms,
            max_drops,
            max_duplicates,
            max_depth,
            max_executions,
            no_prune,
            json,
            trace: trace.as_deref(),
            out: out.as_deref(),
            force,
        }),
        Some(Command::List) => list::list(),
        Some(Command::Export {
            file,
            seed,
            svg,
            mermaid,
            from,
            from_ms,
            events,
            force,
            engine,
        }) => export::export(export::Request {
            engine: engine.engine,
            file: &file,
            seed,
            svg: svg.as_deref(),
            mermaid: mermaid.as_deref(),
            from,
            from_ms,
            events,
            force,
        }),
        Some(Command::Shrink {
            file,
            seed,
            out,
            force,
            engine,
        }) => shrink::shrink(&file, seed, out.as_deref(), force, engine.engine),
        Some(Command::Sweep {
            file,
            seeds,
            jobs,
            json,
            shard: _,
            vary,
            csv,
            svg,
            force,
            measure,
            engine,
        }) if !vary.is_empty() => sweep::vary(sweep::VaryRequest {
            file: &file,
            seeds: &seeds,
            jobs,
            json,
            vary: &vary,
            csv: csv.as_deref(),
            svg: svg.as_deref(),
            force,
            measure: measure.as_deref(),
            engine: engine.engine,
        }),
        Some(Command::Sweep {
            file,
            seeds,
            jobs,
            json,
            shard,
            engine,
            ..
        }) => sweep::sweep(&file, &seeds, jobs, json, shard.as_deref(), engine.engine),
        Some(Command::Tui {
            file,
            seed,
            trace,
            engine,
        }) => tui::tui(file.as_deref(), seed, trace.as_deref(), engine.engine),
        None => tui::tui(None, None, None, sovlab_sim::Engine::default()),
        Some(Command::Bench {
            rss_child: true, ..
        }) => bench::rss_child(),
        Some(Command::Bench {
            json, quick, seed, ..
        }) => bench::bench(json, quick, seed),
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

/// Loads a scenario file, or the catalogue scenario of that name when no file exists.
pub fn load(path: &Path) -> Result<Scenario> {
    crate::catalogue::load(path)
}

/// Loads a scenario file (no catalogue lookup).
pub fn load_file(path: &Path) -> Result<Scenario> {
    Scenario::load(path).map_err(|e| BadScenario(e).into())
}

/// Loads a scenario file with `[limits]` overridden from the command line.
pub fn load_with_limits(path: &Path, limits: &crate::cli::LimitArgs) -> Result<Scenario> {
    crate::catalogue::load_with(path, &limits.overrides())
}
