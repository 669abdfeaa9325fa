//! Executors and the core they drive.
//!
//! [`system::System`] holds one run's nodes, stores, network, fault schedule and
//! trace, and all the logic over them; it knows no runtime. An executor owns the
//! clock and the order of events: it boots the nodes, calls the core when a message
//! arrives, a timer is due, a node's inbox has input or a supervisor tick comes, and
//! carries out the [`system::Todo`]s each call leaves. [`crate::world`] is the madsim
//! executor, the reference.

pub mod faults;
pub mod recorder;
pub mod system;

pub use system::{live_worlds, Input, Step, System, Todo, MIN_DELAY_US, TICK_US};

/// How to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Keep every event (false: counters and the hash only, for sweeps).
    pub keep_events: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { keep_events: true }
    }
}
