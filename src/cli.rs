//! The command line (docs/reference/cli.md), as clap derive types.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// A deterministic simulation lab for the database-per-service pattern.
#[derive(Debug, Parser)]
#[command(
    name = "sovlab",
    version,
    about,
    long_about = None,
    after_help = "Without a command, `sovlab` opens the terminal UI on the built-in catalogue.\n\nExamples:\n  sovlab                          open the TUI (the catalogue)\n  sovlab list                     the catalogue, one line per scenario\n  sovlab run shared-db-crash      one run and its verdict\n\nWhat a report means: docs/concepts.md"
)]
pub struct Cli {
    /// What to do; without one, the TUI opens on the built-in catalogue.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Overrides of a scenario's `[limits]` (docs/concepts.md), for any command that runs one.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct LimitArgs {
    /// Stop a run after this many events (overrides [limits] max_events).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_events: Option<u64>,
    /// Most nodes a scenario may have (overrides [limits] max_nodes).
    #[arg(long)]
    pub max_nodes: Option<u32>,
    /// Most transactions / queries a scenario may have (overrides [limits] max_transactions).
    #[arg(long)]
    pub max_transactions: Option<u32>,
    /// Largest duration_ms a scenario may have (overrides [limits] max_duration_ms).
    #[arg(long)]
    pub max_duration_ms: Option<u64>,
}

impl LimitArgs {
    /// As the library's overrides.
    pub fn overrides(&self) -> sovlab_sim::scenario::LimitOverrides {
        sovlab_sim::scenario::LimitOverrides {
            max_events: self.max_events,
            max_nodes: self.max_nodes,
            max_transactions: self.max_transactions,
            max_duration_ms: self.max_duration_ms,
        }
    }
}

/// `--engine madsim|des`: which executor runs the scenario.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct EngineArg {
    /// Executor: madsim (the reference) or des (the discrete-event loop, faster). A
    /// seed replays exactly only on the engine that ran it.
    #[arg(long, value_name = "ENGINE", default_value = "madsim", value_parser = parse_engine)]
    pub engine: sovlab_sim::Engine,
}

/// A known engine that this build can run; clap reports the error as usage (exit 2).
fn parse_engine(s: &str) -> Result<sovlab_sim::Engine, String> {
    sovlab_sim::Engine::parse(s).map_err(|e| e.to_string())
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the terminal UI on one scenario (or the catalogue).
    #[command(after_help = "Example:\n  sovlab tui saga-isolation --seed 3")]
    Tui {
        /// A scenario file (or the name of a catalogue scenario); default: the catalogue.
        file: Option<PathBuf>,
        /// Seed (default: the scenario's, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Open a saved trace (JSON Lines) instead of running a scenario.
        #[arg(long, conflicts_with = "file")]
        trace: Option<PathBuf>,
        /// The executor.
        #[command(flatten)]
        engine: EngineArg,
    },
    /// Run one scenario and report the verdict.
    #[command(
        after_help = "Example:\n  sovlab run shared-db-crash --seed 7 --json --trace run.jsonl --force"
    )]
    Run {
        /// The scenario file (or the name of a catalogue scenario).
        file: PathBuf,
        /// Seed (default: the scenario's, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
        /// Write the trace as JSON Lines to this path.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Overwrite the trace path even if it exists.
        #[arg(long)]
        force: bool,
        /// Overrides of the scenario's [limits].
        #[command(flatten)]
        limits: LimitArgs,
        /// The executor.
        #[command(flatten)]
        engine: EngineArg,
    },
    /// Run a range of seeds and count which broke which invariant; with --vary, once
    /// per combination of parameter values, one row each.
    #[command(
        after_help = "Example:\n  sovlab sweep saga-isolation --seeds 0..2000\n  sovlab sweep checkout-shared-db --seeds 0..20 --engine des --vary write.arrival_rate_per_s=50..200:50 --vary write.protocol=saga,shared-database --svg cost.svg"
    )]
    Sweep {
        /// The scenario file (or the name of a catalogue scenario).
        file: PathBuf,
        /// Seeds, as A..B (B excluded).
        #[arg(long)]
        seeds: String,
        /// Worker threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Run only slice K of N (1-based), e.g. 2/4.
        #[arg(long, conflicts_with = "vary")]
        shard: Option<String>,
        /// Vary a scenario key: KEY=V1,V2,.. (typed like TOML) or KEY=A..B:STEP (both
        /// ends included); repeat for a product. KEY is a dotted path such as
        /// write.protocol, service.inventory.workers or nodes.database.workers.
        #[arg(long, value_name = "KEY=VALUES")]
        vary: Vec<String>,
        /// Also write the --vary rows as CSV to this path.
        #[arg(long, requires = "vary")]
        csv: Option<PathBuf>,
        /// Also draw the --vary rows as an SVG chart at this path.
        #[arg(long, requires = "vary")]
        svg: Option<PathBuf>,
        /// Overwrite the --csv / --svg paths even if they exist.
        #[arg(long)]
        force: bool,
        /// Whose throughput and latency the --vary rows show: write or read (default:
        /// write when the scenario has [write], else read).
        #[arg(long, requires = "vary", value_name = "SIDE")]
        measure: Option<String>,
        /// The executor.
        #[command(flatten)]
        engine: EngineArg,
    },
    /// Explore every execution of a small scenario within bounds: every ordering,
    /// loss and crash point; per invariant, holds in all or the shortest counterexample.
    #[command(
        after_help = "Example:\n  sovlab explore explore-2pc-no-log --trace cex.jsonl --out cex.toml\n\nExit: 0 every expect.holds holds in every execution and every expect.violated\nbreaks in one; 1 otherwise; 2 bad input or a scenario too large for the bounds."
    )]
    Explore {
        /// The scenario file (or the name of a catalogue scenario).
        file: PathBuf,
        /// Most crashes in one execution (default: [explore] max_crashes, else 0).
        #[arg(long)]
        max_crashes: Option<u32>,
        /// The nodes that may crash, comma-separated (default: all but the client).
        #[arg(long, value_delimiter = ',')]
        crashable: Option<Vec<String>>,
        /// A crashed node restarts after this many ms (default: it stays down).
        #[arg(long)]
        restart_ms: Option<u64>,
        /// Most messages dropped in one execution (default: 0).
        #[arg(long)]
        max_drops: Option<u32>,
        /// Most messages duplicated in one execution (default: 1).
        #[arg(long)]
        max_duplicates: Option<u32>,
        /// Most steps (deliveries, timer firings) in one execution.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        max_depth: Option<u32>,
        /// Most executions explored.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        max_executions: Option<u64>,
        /// Do not prune revisited states: count every execution (as the docs count
        /// them by hand), slower.
        #[arg(long)]
        no_prune: bool,
        /// Print one JSON object (format sovlab-explore).
        #[arg(long)]
        json: bool,
        /// Write the first broken invariant's shortest counterexample as a trace.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Write it as a scenario that replays it (on the DES engine).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overwrite --trace / --out if they exist.
        #[arg(long)]
        force: bool,
    },
    /// Shrink a breaking run to a minimal fault schedule that still breaks `expect`.
    #[command(
        after_help = "Example:\n  sovlab shrink choreography-direct-crash --seed 3 --out small.toml"
    )]
    Shrink {
        /// The scenario file (or the name of a catalogue scenario).
        file: PathBuf,
        /// The seed that breaks it.
        #[arg(long)]
        seed: u64,
        /// Write the shrunk scenario here (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overwrite the output path even if it exists.
        #[arg(long)]
        force: bool,
        /// The executor.
        #[command(flatten)]
        engine: EngineArg,
    },
    /// Draw a run as a space-time diagram.
    #[command(after_help = "Example:\n  sovlab export 2pc-no-log --svg run.svg --mermaid run.mmd")]
    Export {
        /// The scenario file (or the name of a catalogue scenario).
        file: PathBuf,
        /// Seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Write SVG here.
        #[arg(long, required_unless_present = "mermaid")]
        svg: Option<PathBuf>,
        /// Write a Mermaid sequence diagram here.
        #[arg(long)]
        mermaid: Option<PathBuf>,
        /// Draw events from this seq on (default: just before the first violation,
        /// else the first fault, else event 0).
        #[arg(long, conflicts_with = "from_ms")]
        from: Option<u64>,
        /// Draw events from this virtual millisecond on.
        #[arg(long, value_name = "MS")]
        from_ms: Option<u64>,
        /// Draw at most this many events.
        #[arg(long, default_value_t = 400)]
        events: u64,
        /// Overwrite output paths even if they exist.
        #[arg(long)]
        force: bool,
        /// The executor.
        #[command(flatten)]
        engine: EngineArg,
    },
    /// Validate scenario files; print nothing on success.
    #[command(after_help = "Example:\n  sovlab check scenarios/ my-scenario.toml")]
    Check {
        /// The files or directories (each also the name of a catalogue scenario).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the built-in catalogue, one line per scenario.
    #[command(after_help = "Example:\n  sovlab list")]
    List,
    /// Measure throughput as ratios to raw madsim.
    #[command(after_help = "Example:\n  sovlab bench --quick")]
    Bench {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Shorter measurements (for a quick look, less precise).
        #[arg(long)]
        quick: bool,
        /// Seed of every simulated run.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Internal: the peak-memory child process.
        #[arg(long, hide = true)]
        rss_child: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn help(path: &[&str]) -> String {
        let mut c = Cli::command();
        for name in path {
            c = c.find_subcommand(name).expect("a subcommand").clone();
        }
        c.render_long_help().to_string()
    }

    #[test]
    fn the_top_level_help_says_a_bare_sovlab_opens_the_tui() {
        let h = help(&[]);
        assert!(
            h.contains("Without a command, `sovlab` opens the terminal UI"),
            "{h}"
        );
    }

    #[test]
    fn every_file_argument_takes_a_catalogue_name_and_every_command_has_an_example() {
        for sub in Cli::command().get_subcommands() {
            let name = sub.get_name().to_string();
            let h = help(&[&name]);
            assert!(
                h.contains(&format!("Example:\n  sovlab {name}")),
                "{name}: {h}"
            );
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if ["file", "files"].contains(&id) {
                    let about = arg.get_help().map(ToString::to_string).unwrap_or_default();
                    assert!(
                        about.contains("name of a catalogue scenario"),
                        "{name} {id}: {about}"
                    );
                }
            }
        }
    }
}
