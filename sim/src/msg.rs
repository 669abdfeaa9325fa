//! Messages: the only thing that crosses a service boundary.
//!
//! One small `Copy` struct serves every protocol, so the trace, the network and the
//! TUI handle them uniformly: a kind, the business transaction and step it is about,
//! and two generic fields whose meaning the kind gives.

use serde::{Deserialize, Serialize};

/// Index of a node in the world (and in `Trace::nodes`).
pub type NodeIx = u16;
/// Business transaction number, from 1.
pub type TxnId = u32;
/// Index of a step in `write.steps`.
pub type StepIx = u16;
/// A message id, unique in a run; acknowledgements and de-duplication use it.
pub type MsgId = u32;

/// What a message asks or tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MsgKind {
    /// client -> entry node: start business transaction `txn`.
    Submit,
    /// entry -> client: `txn` finished; `ok` = committed.
    Finished,
    /// Acknowledges message `re`.
    Ack,
    /// Run step `step` of `txn` (saga command, shared-database statement batch).
    /// Saga: `value` = 1 for a retriable step (never given up).
    Do,
    /// Reply to `Do`: `ok` = applied, else rejected.
    Done,
    /// Compensate step `step` of `txn`. To the shared database: roll `txn` back
    /// unless it is decided (the app's statement timeout); answered with `Done`.
    Undo,
    /// Reply to `Undo`.
    Undone,
    /// Choreography: step `step` of `txn` happened (`ok`) or failed (`!ok`);
    /// `value` = 1 when the next step is retriable (never given up).
    Event,
    /// 2PC phase one: prepare step `step` of `txn`.
    Prepare,
    /// 2PC vote: `ok` = yes.
    Vote,
    /// 2PC decision: `ok` = commit.
    Decide,
    /// Read: ask a source (or view) about `txn`; `value` = query id. To a source,
    /// `step` = the index of the service asked (one node may hold several).
    Query,
    /// Read answer: `value` = what the source holds for `txn` (see `read::Seen`);
    /// `step` = the service; `re` = the query message. From a gateway to the client:
    /// `ok` = complete, `value` = bit mask of the missing sources (`read.sources` order).
    Answer,
    /// Change feed to a read view: source state of (`txn`, `step`) is `value`
    /// (`read::state_code`), committed at `at_us`.
    Change,
    /// Try-confirm-cancel phase one: reserve the units of step `step` of `txn`.
    Try,
    /// Reply to `Try`: `ok` = reserved.
    Tried,
    /// Try-confirm-cancel: apply the reservation of step `step` of `txn`.
    Confirm,
    /// Try-confirm-cancel: release the reservation of step `step` of `txn`.
    Cancel,
}

impl MsgKind {
    /// Name used in traces.
    pub fn name(self) -> &'static str {
        match self {
            MsgKind::Submit => "submit",
            MsgKind::Finished => "finished",
            MsgKind::Ack => "ack",
            MsgKind::Do => "do",
            MsgKind::Done => "done",
            MsgKind::Undo => "undo",
            MsgKind::Undone => "undone",
            MsgKind::Event => "event",
            MsgKind::Prepare => "prepare",
            MsgKind::Vote => "vote",
            MsgKind::Decide => "decide",
            MsgKind::Query => "query",
            MsgKind::Answer => "answer",
            MsgKind::Change => "change",
            MsgKind::Try => "try",
            MsgKind::Tried => "tried",
            MsgKind::Confirm => "confirm",
            MsgKind::Cancel => "cancel",
        }
    }

    /// Every kind, for parsing traces back.
    pub const ALL: [MsgKind; 18] = [
        MsgKind::Submit,
        MsgKind::Finished,
        MsgKind::Ack,
        MsgKind::Do,
        MsgKind::Done,
        MsgKind::Undo,
        MsgKind::Undone,
        MsgKind::Event,
        MsgKind::Prepare,
        MsgKind::Vote,
        MsgKind::Decide,
        MsgKind::Query,
        MsgKind::Answer,
        MsgKind::Change,
        MsgKind::Try,
        MsgKind::Tried,
        MsgKind::Confirm,
        MsgKind::Cancel,
    ];
}

/// A message. `Copy`, so the network can duplicate it and the trace can keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Msg {
    /// Unique in the run; a resend keeps the id, a reply has its own.
    pub id: MsgId,
    /// What it is.
    pub kind: MsgKind,
    /// The business transaction it is about (0: none).
    pub txn: TxnId,
    /// The step it is about.
    pub step: StepIx,
    /// Yes / no, committed / aborted, per kind.
    pub ok: bool,
    /// A number whose meaning the kind gives.
    pub value: i64,
    /// The message this one answers (0: none).
    pub re: MsgId,
    /// A time in virtual µs, per kind (else 0). Change: when the reported state was
    /// committed at its source (a view's staleness). Query from the client: when it
    /// was first sent (a read's latency).
    #[serde(default)]
    pub at_us: u64,
}

impl Msg {
    /// A message of `kind` about `txn`/`step`; id assigned by the sender's context.
    pub fn new(kind: MsgKind, txn: TxnId, step: StepIx) -> Msg {
        Msg {
            id: 0,
            kind,
            txn,
            step,
            ok: false,
            value: 0,
            re: 0,
            at_us: 0,
        }
    }

    /// Sets `ok`.
    pub fn ok(mut self, ok: bool) -> Msg {
        self.ok = ok;
        self
    }

    /// Sets `value`.
    pub fn value(mut self, value: i64) -> Msg {
        self.value = value;
        self
    }

    /// Sets `re`.
    pub fn re(mut self, re: MsgId) -> Msg {
        self.re = re;
        self
    }

    /// Sets `at_us`.
    pub fn at(mut self, at_us: u64) -> Msg {
        self.at_us = at_us;
        self
    }
}
