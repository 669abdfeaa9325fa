//! The event schema: what can happen in a run, one fixed-size value per event.

use crate::msg::{Msg, NodeIx, StepIx, TxnId};
use crate::store::{RejectReason, Write};
use serde::{Deserialize, Serialize};

/// Why a message was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// Random loss (the network's `loss` or a loss window).
    Loss,
    /// Sender and receiver were in different partition groups.
    Partition,
    /// The receiver was down when the message arrived.
    Down,
}

impl DropReason {
    /// Name used in traces.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::Down => "down",
        }
    }
}

/// What a local transaction meant, in the protocol's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Local {
    /// A step applied (or any other local commit).
    Commit,
    /// A step refused; the writes record the refusal.
    Abort,
    /// A compensation.
    Compensate,
    /// A 2PC prepare that held units.
    Prepare,
    /// A durable decision or bookkeeping (outbox relay, log).
    Log,
}

impl Local {
    #[cfg(test)]
    pub(crate) const ALL_FOR_TESTS: [Local; 5] = [
        Local::Commit,
        Local::Abort,
        Local::Compensate,
        Local::Prepare,
        Local::Log,
    ];

    /// The event kind name.
    pub fn name(self) -> &'static str {
        match self {
            Local::Commit => "commit",
            Local::Abort => "abort",
            Local::Compensate => "compensate",
            Local::Prepare => "prepare",
            Local::Log => "log",
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventKind {
    /// `node` sent `msg` to `to`.
    Send { to: NodeIx, msg: Msg },
    /// `node` received `msg` from `from`.
    Deliver { from: NodeIx, msg: Msg },
    /// A message from `node` to `to` was lost.
    Drop {
        to: NodeIx,
        msg: Msg,
        reason: DropReason,
    },
    /// The network will deliver a second copy of a message from `node` to `to`.
    Duplicate { to: NodeIx, msg: Msg },
    /// A timer of `node` fired.
    Timer { timer: u64 },
    /// A local transaction committed on store `store` (index into `Trace::stores`).
    Local {
        what: Local,
        store: u16,
        txn: TxnId,
        step: StepIx,
        writes: Box<[Write]>,
    },
    /// A step was refused without a write (e.g. a non-idempotent service refusing
    /// nothing is recorded as a write; this is for the record's sake).
    Reject {
        txn: TxnId,
        step: StepIx,
        reason: RejectReason,
        available: i64,
        needed: i64,
    },
    /// A 2PC participant voted.
    Vote { txn: TxnId, step: StepIx, yes: bool },
    /// A coordinator decided.
    Decide { txn: TxnId, commit: bool },
    /// The client learned the outcome of `txn` (what the system told it).
    Outcome { txn: TxnId, committed: bool },
    /// The client submitted `txn`.
    Submit { txn: TxnId },
    /// `node` crashed.
    Crash,
    /// `node` restarted.
    Restart,
    /// The network split into groups (node indices).
    Partition { groups: Box<[Box<[NodeIx]>]> },
    /// Every partition healed.
    Heal,
    /// A loss window opened, on every link or on one.
    LossStart {
        p: f64,
        link: Option<(NodeIx, NodeIx)>,
    },
    /// A loss window closed.
    LossEnd { link: Option<(NodeIx, NodeIx)> },
    /// A read finished (`read` module).
    Read {
        query: u32,
        txn: TxnId,
        result: crate::read::ReadResult,
        latency_us: u64,
    },
    /// A read view reflected a source change, `staleness_us` after the source commit.
    ViewApplied {
        txn: TxnId,
        step: StepIx,
        staleness_us: u64,
    },
    /// A request for a row found it locked by another transaction and queued for it
    /// (row locks, with `keys`).
    LockWait { txn: TxnId, step: StepIx, row: u32 },
    /// A request's wait for a row ended: it got the lock (`got`, after `waited_us`,
    /// 0 when the row was free) or gave up waiting (a lock timeout or an abort).
    Lock {
        txn: TxnId,
        step: StepIx,
        row: u32,
        waited_us: u64,
        got: bool,
    },
    /// The run stopped early because a limit was reached.
    Limit { what: String },
    /// Event sourcing: `node`'s relay published the event at position `offset` of its
    /// log (counted among the log's emitted events), about (`txn`, `step`).
    Relay {
        txn: TxnId,
        step: StepIx,
        offset: u64,
    },
}

impl EventKind {
    /// The `kind` field of the trace line.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Send { .. } => "send",
            EventKind::Deliver { .. } => "deliver",
            EventKind::Drop { .. } => "drop",
            EventKind::Duplicate { .. } => "duplicate",
            EventKind::Timer { .. } => "timer",
            EventKind::Local { what, .. } => what.name(),
            EventKind::Reject { .. } => "reject",
            EventKind::Vote { .. } => "vote",
            EventKind::Decide { .. } => "decide",
            EventKind::Outcome { .. } => "outcome",
            EventKind::Submit { .. } => "submit",
            EventKind::Crash => "crash",
            EventKind::Restart => "restart",
            EventKind::Partition { .. } => "partition",
            EventKind::Heal => "heal",
            EventKind::LossStart { .. } => "loss-start",
            EventKind::LossEnd { .. } => "loss-end",
            EventKind::Read { .. } => "read",
            EventKind::ViewApplied { .. } => "view-applied",
            EventKind::LockWait { .. } => "lock-wait",
            EventKind::Lock { .. } => "lock",
            EventKind::Limit { .. } => "limit",
            EventKind::Relay { .. } => "relay",
        }
    }

    /// The message it is about, for a send, delivery, drop or duplicate.
    pub fn msg(&self) -> Option<&Msg> {
        match self {
            EventKind::Send { msg, .. }
            | EventKind::Deliver { msg, .. }
            | EventKind::Drop { msg, .. }
            | EventKind::Duplicate { msg, .. } => Some(msg),
            _ => None,
        }
    }

    /// The business transaction it is about, if any (a message's, or the event's own).
    pub fn txn(&self) -> Option<TxnId> {
        match self {
            EventKind::Local { txn, .. }
            | EventKind::Reject { txn, .. }
            | EventKind::Vote { txn, .. }
            | EventKind::Decide { txn, .. }
            | EventKind::Outcome { txn, .. }
            | EventKind::Submit { txn }
            | EventKind::Read { txn, .. }
            | EventKind::ViewApplied { txn, .. }
            | EventKind::Relay { txn, .. }
            | EventKind::LockWait { txn, .. }
            | EventKind::Lock { txn, .. } => Some(*txn),
            other => other.msg().map(|m| m.txn).filter(|&t| t != 0),
        }
    }

    /// Is this a fault (crash, restart, partition, heal, loss window)?
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            EventKind::Crash
                | EventKind::Restart
                | EventKind::Partition { .. }
                | EventKind::Heal
                | EventKind::LossStart { .. }
                | EventKind::LossEnd { .. }
        )
    }
}

/// Every trace `kind` name, in the order of [`EventKind`] (local transactions by
/// what they did): what a fault's `after.event` may name.
pub const EVENT_KINDS: [&str; 27] = [
    "send",
    "deliver",
    "drop",
    "duplicate",
    "timer",
    "commit",
    "abort",
    "compensate",
    "prepare",
    "log",
    "reject",
    "vote",
    "decide",
    "outcome",
    "submit",
    "crash",
    "restart",
    "partition",
    "heal",
    "loss-start",
    "loss-end",
    "read",
    "view-applied",
    "lock-wait",
    "lock",
    "limit",
    "relay",
];

/// The kinds whose events carry a message (what `after.msg` filters).
pub const MSG_EVENT_KINDS: [&str; 4] = ["send", "deliver", "drop", "duplicate"];

/// One event: when, where, what. Its `seq` is its index in `Trace::events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Virtual time in microseconds since the start of the run.
    pub t_us: u64,
    /// The node where it happened (for a drop or duplicate: the sender).
    pub node: NodeIx,
    /// What happened.
    pub kind: EventKind,
}

/// Why the run stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// Every transaction and query finished and nothing was in flight.
    Quiescent,
    /// `duration_ms` was reached.
    Duration,
    /// A `[limits]` bound was reached; the text says which.
    Limit(String),
}

#[cfg(test)]
mod size {
    /// An event stays small: the 1 000 000-event traces the TUI explores live in memory
    /// (issue 8's budget is 64 bytes per event, heap included).
    #[test]
    fn an_event_fits_in_56_bytes() {
        assert!(std::mem::size_of::<crate::msg::Msg>() <= 32);
        assert!(std::mem::size_of::<super::Event>() <= 56);
    }
}
