//! Executors and the core they drive.
//!
//! [`system::System`] holds one run's nodes, stores, network, fault schedule and
//! trace, and all the logic over them; it knows no runtime. An executor owns the
//! clock and the order of events: it boots the nodes, calls the core when a message
//! arrives, a timer is due, a node's inbox has input or a supervisor tick comes, and
//! carries out the [`system::Todo`]s each call leaves. `crate::world` is the madsim
//! executor, the reference (built only with `--cfg madsim`); [`des`] is the
//! discrete-event one, built always.

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
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// The madsim executor (`crate::world`), the reference; built only with
    /// `--cfg madsim`.
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

    /// The engine named `name` (`madsim` or `des`), built or not (a trace names the
    /// engine that wrote it, whatever this build can run).
    pub fn from_name(name: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Whether this build can run it: madsim needs `--cfg madsim`, the DES nothing.
    pub fn is_built(self) -> bool {
        match self {
            Engine::Madsim => cfg!(madsim),
            Engine::Des => true,
        }
    }

    /// This engine if this build can run it, else why not and how to get it.
    pub fn require(self) -> Result<Engine, EngineError> {
        if self.is_built() {
            Ok(self)
        } else {
            Err(EngineError::NotBuilt(self))
        }
    }

    /// The engine a user named, checked: known, and built in.
    pub fn parse(name: &str) -> Result<Engine, EngineError> {
        Engine::from_name(name)
            .ok_or_else(|| EngineError::Unknown(name.to_string()))?
            .require()
    }
}

/// The default: madsim, the reference, whenever it is built in (every ordinary
/// build); des only in a build without `--cfg madsim`, the one engine it has.
impl Default for Engine {
    fn default() -> Engine {
        if cfg!(madsim) {
            Engine::Madsim
        } else {
            Engine::Des
        }
    }
}

/// An engine that cannot be used here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// No engine has this name.
    #[error("unknown engine {0:?}; expected \"madsim\" or \"des\"")]
    Unknown(String),
    /// The engine exists but this build left it out.
    #[error(
        "engine {0} is not in this build: it was compiled without `--cfg madsim`. \
         .cargo/config.toml sets it, but a RUSTFLAGS environment variable replaces that \
         setting: unset RUSTFLAGS (or add `--cfg madsim` to it) and rebuild, or use \
         `--engine des`"
    )]
    NotBuilt(Engine),
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
            engine: Engine::default(),
            only_needed: false,
        }
    }
}

/// Runs `scenario` with `seed` on the engine `opts` names and returns its trace.
///
/// # Panics
/// If that engine is not built in ([`Engine::is_built`]: madsim without
/// `--cfg madsim`). The defaults never name such an engine, and an engine a user
/// names is checked where it is named ([`Engine::parse`]); [`try_run`] returns
/// the error instead.
pub fn run(scenario: &crate::Scenario, seed: u64, opts: RunOptions) -> crate::Trace {
    try_run(scenario, seed, opts).unwrap_or_else(|e| panic!("{e}"))
}

/// [`run`], or the error if `opts` names an engine this build lacks.
pub fn try_run(
    scenario: &crate::Scenario,
    seed: u64,
    opts: RunOptions,
) -> Result<crate::Trace, EngineError> {
    if scenario.replay.is_some() {
        // A recorded execution of the explorer: replayed by its executor, whichever
        // engine is named; the trace says des (docs/reference/explore.md).
        return Ok(crate::explore::replay(scenario, opts));
    }
    match opts.engine {
        #[cfg(madsim)]
        Engine::Madsim => Ok(crate::world::run(scenario, seed, opts)),
        #[cfg(not(madsim))]
        Engine::Madsim => Err(EngineError::NotBuilt(Engine::Madsim)),
        Engine::Des => Ok(des::run(scenario, seed, opts)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A build without `--cfg madsim` (`RUSTFLAGS= cargo test -p sovlab-sim --lib`,
    /// docs/architecture.md) refuses madsim with the way to get it, and runs the DES.
    #[cfg(not(madsim))]
    #[test]
    fn without_madsim_asking_for_it_is_an_error_with_the_fix() {
        let e = Engine::parse("madsim").unwrap_err();
        assert_eq!(e, EngineError::NotBuilt(Engine::Madsim));
        let msg = e.to_string();
        assert!(
            msg.contains("--cfg madsim") && msg.contains("RUSTFLAGS"),
            "{msg}"
        );
        assert!(msg.contains("--engine des"), "{msg}");
        assert_eq!(Engine::default(), Engine::Des);
        let text = include_str!("../../../scenarios/checkout-saga.toml");
        let s = crate::Scenario::parse(text, "checkout-saga.toml").unwrap();
        let refused = try_run(&s, 1, RunOptions::default().on(Engine::Madsim));
        assert_eq!(refused.unwrap_err(), EngineError::NotBuilt(Engine::Madsim));
        let trace = try_run(&s, 1, RunOptions::default()).unwrap();
        assert_eq!(trace.engine, Engine::Des);
        assert!(trace.event_count > 0);
    }

    /// The ordinary build has both engines, madsim the default.
    #[cfg(madsim)]
    #[test]
    fn with_madsim_both_engines_are_built_and_madsim_is_the_default() {
        assert_eq!(Engine::parse("madsim"), Ok(Engine::Madsim));
        assert_eq!(Engine::parse("des"), Ok(Engine::Des));
        assert_eq!(Engine::default(), Engine::Madsim);
        assert_eq!(RunOptions::default().engine, Engine::Madsim);
    }

    /// A name no engine has is refused in every build, naming the choices.
    #[test]
    fn an_unknown_engine_names_the_choices() {
        let e = Engine::parse("tokio").unwrap_err();
        assert_eq!(e, EngineError::Unknown("tokio".into()));
        assert!(e.to_string().contains("expected \"madsim\" or \"des\""));
    }
}
