//! sovlab-sim: everything that simulates, checks and reports.
//!
//! The data flows one way (docs/architecture.md): a [`Scenario`] is run by an executor
//! ([`exec`]) into a [`Trace`]; [`check`] judges the trace and [`report`] summarizes
//! it. Nothing downstream of the trace re-runs logic or peeks at live state.
//!
//! Only the madsim executor (`world`, and the raw madsim baseline of [`bench`]) needs
//! `--cfg madsim`; without it the crate builds with the DES engine alone, and asking
//! for madsim is an [`EngineError`].

pub mod abort_cause;
pub mod bench;
pub mod check;
pub mod cost;
pub mod diff;
pub mod exec;
pub mod explore;
pub mod keyed;
pub mod msg;
pub mod net;
pub mod node;
pub mod patterns;
pub mod read;
pub mod report;
pub mod scenario;
mod scenario_hints;
mod scenario_validate;
pub mod shrink;
pub mod shrink_file;
pub mod store;
#[cfg(feature = "proptest")]
pub mod strategies;
pub mod sweep;
pub mod testing;
pub mod timer;
pub mod trace;
pub mod trace_load;
mod type_errors;
pub mod untouched;
pub mod vary;
pub mod why;
/// The madsim executor: only in a build with `--cfg madsim` (docs/architecture.md).
#[cfg(madsim)]
pub mod world;

pub use check::Verdict;
pub use exec::{Engine, EngineError, RunOptions};
pub use report::Report;
pub use scenario::{Scenario, ScenarioError};
pub use scenario_hints::did_you_mean;
pub use trace::Trace;

/// A finished run: its trace, verdicts and report.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Everything that happened.
    pub trace: Trace,
    /// Every applicable invariant's verdict.
    pub verdicts: Vec<Verdict>,
    /// The summary.
    pub report: Report,
}

/// Runs `scenario` with `seed` and judges the run.
pub fn run(scenario: &Scenario, seed: u64) -> RunResult {
    run_with(scenario, seed, RunOptions::default())
}

/// [`run`], then explains every broken invariant ([`why::explain`]: re-runs without
/// faults, only when something is broken).
pub fn run_explained(scenario: &Scenario, seed: u64) -> RunResult {
    run_explained_on(scenario, seed, Engine::default())
}

/// [`run_explained`] on `engine`: the re-runs use the same engine.
pub fn run_explained_on(scenario: &Scenario, seed: u64, engine: Engine) -> RunResult {
    let opts = RunOptions::default().on(engine);
    let mut r = run_with(scenario, seed, opts);
    let because = why::explain(scenario, seed, opts, &r);
    r.report.explain(because);
    r
}

/// [`run`] on `engine` (every event kept, hashed).
pub fn run_on(scenario: &Scenario, seed: u64, engine: Engine) -> RunResult {
    run_with(scenario, seed, RunOptions::default().on(engine))
}

/// [`run`] with options.
pub fn run_with(scenario: &Scenario, seed: u64, opts: RunOptions) -> RunResult {
    let trace = exec::run(scenario, seed, opts);
    let verdicts = check::check_all(&trace);
    let report = report::build(&trace, &verdicts);
    RunResult {
        trace,
        verdicts,
        report,
    }
}
