//! Executors and the core they drive.
//!
//! [`system::System`] holds one run's nodes, stores, network, fault schedule and
//! trace, and all the logic over them; it knows no runtime. An executor owns the
//! clock and the order of events: it boots the nodes, calls the core when a message
//! arrives, a timer is due, a node's inbox has input or a supervisor tick comes, and
//! carries out the [`system::Todo`]s each call leaves. [`crate::world`] is the madsim
//! executor, the reference; [`des`] is the discrete-event one.

pub mod des;
pub mod faults;
pub mod quad_heap;
pub mod queue;
pub mod recorder;
pub mod system;

pub use system::{live_worlds, Input, Step, System, Todo, MIN_DELAY_US, TICK_US};

/// Which executor runs a scenario. A seed replays exactly only on the same engine
/// (and version): the two order events at one instant differently.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// The madsim executor ([`crate::world`]), the reference.
    #[default]
    Madsim,
    /// The discrete-event executor ([`des`]): one loop over a heap of timed events.
    Des,
}

impl Engine {
    /// Every engine, the reference first.
    pub const ALL: [Engine; 2] = [Engine::Madsim, Engine::Des];

    /// Its name on the command line, in the trace header and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Madsim => "madsim",
            Engine::Des => "des",
        }
    }

    /// The engine named `name` (`madsim` or `des`).
    pub fn from_name(name: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Keep every event (false: counters and the hash only, for sweeps).
    pub keep_events: bool,
    /// Write every event as its JSON line and hash it (false: `Trace::hash` is 0;
    /// a sweep shows no hash and skips the cost).
    pub hash: bool,
    /// Which executor runs it.
    pub engine: Engine,
    /// With `keep_events`: keep only the events the checkers and the report read
    /// ([`crate::check::Needed`]), so verdicts, outcomes and measures are the same
    /// but a kept event's position is not its `seq` (what a sweep needs).
    pub only_needed: bool,
}

impl RunOptions {
    /// Counters (and the hash) only, no event list: what a sweep needs.
    pub fn counters_only() -> RunOptions {
        RunOptions {
            keep_events: false,
            ..RunOptions::default()
        }
    }

    /// These options on `engine`.
    pub fn on(self, engine: Engine) -> RunOptions {
        RunOptions { engine, ..self }
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            keep_events: true,
            hash: true,
            engine: Engine::Madsim,
            only_needed: false,
        }
    }
}

/// Runs `scenario` with `seed` on the engine `opts` names and returns its trace.
pub fn run(scenario: &crate::Scenario, seed: u64, opts: RunOptions) -> crate::Trace {
    if scenario.replay.is_some() {
        // A recorded execution of the explorer: replayed by its executor, whichever
        // engine is named; the trace says des (docs/reference/explore.md).
        return crate::explore::replay(scenario, opts);
    }
    match opts.engine {
        Engine::Madsim => crate::world::run(scenario, seed, opts),
        Engine::Des => des::run(scenario, seed, opts),
    }
}
