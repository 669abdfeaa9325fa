//! Stores: one private store per service, in four kinds.
//!
//! Every kind keeps its data in its own natural shape (typed rows, JSON documents,
//! versioned keys, an append-only log) and answers the same small set of reads the
//! protocols need. A local transaction is a list of [`Write`]s applied all at once by
//! [`Store::commit`]: there is no moment in which half of it is visible, so a crash
//! either happens before the commit (nothing written) or after (all written).
//!
//! Durability: the world keeps each store outside its node, so committed data survives
//! a crash; what a node holds in memory does not.

mod change;
mod document;
mod event_log;
mod key_value;
mod relational;
mod spare;

use crate::msg::{Msg, MsgId, NodeIx, StepIx, TxnId};
use crate::scenario::StoreKind;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub use change::RowChange;
pub use document::DocumentStore;
pub use event_log::EventLogStore;
pub use key_value::KeyValueStore;
pub use relational::RelationalStore;
pub use spare::SpareWrites;

/// What a service's store knows about one step of one business transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    /// The units are taken: the step is done.
    Applied,
    /// 2PC: prepared, the units are held but not applied.
    Held,
    /// 2PC: a held step was aborted and its units given back.
    Released,
    /// Saga: an applied step was compensated and its units given back.
    Compensated,
    /// A compensation arrived before its command: a late command must be refused.
    Tombstone,
    /// The step was refused (business rule, or too few units).
    Rejected,
}

impl StepState {
    /// Name used in traces and the TUI.
    pub fn name(self) -> &'static str {
        match self {
            StepState::Applied => "applied",
            StepState::Held => "held",
            StepState::Released => "released",
            StepState::Compensated => "compensated",
            StepState::Tombstone => "tombstone",
            StepState::Rejected => "rejected",
        }
    }
}

/// One step's record in a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record {
    /// Units this step takes.
    pub amount: i64,
    /// Where it stands.
    pub state: StepState,
}

/// Why a step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectReason {
    /// The business rule said no (`reject` probability).
    Rule,
    /// Too few units were left.
    Insufficient,
    /// A compensation had already arrived (tombstone).
    Tombstone,
    /// Semantic lock: the units it needed stayed pending (taken by sagas not yet
    /// decided) longer than `timeout_ms`.
    Lock,
}

/// One logical write of a local transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Write {
    /// Take `amount` units for a step (saga, shared database). Not idempotent by
    /// itself: applied twice, it takes twice.
    Take {
        txn: TxnId,
        step: StepIx,
        amount: i64,
    },
    /// Hold `amount` units for a prepared step (2PC).
    Hold {
        txn: TxnId,
        step: StepIx,
        amount: i64,
    },
    /// Make a held step applied (2PC commit).
    Apply { txn: TxnId, step: StepIx },
    /// Give a held step's units back (2PC abort).
    Release { txn: TxnId, step: StepIx },
    /// Give an applied step's units back (saga compensation). Not idempotent by itself.
    Compensate { txn: TxnId, step: StepIx },
    /// Remember that the compensation came first.
    Tombstone { txn: TxnId, step: StepIx },
    /// Try-confirm-cancel without a fence: a cancel gives `amount` units back and marks
    /// the step released, whatever its record said (nothing reserved, or released
    /// already). Not idempotent, and not empty-rollback safe: the anomalies a fence
    /// prevents.
    Unfreeze {
        txn: TxnId,
        step: StepIx,
        amount: i64,
    },
    /// Remember that the step was refused.
    Reject {
        txn: TxnId,
        step: StepIx,
        amount: i64,
        reason: RejectReason,
    },
    /// Put a message in the outbox, to be relayed until acknowledged.
    OutboxPut { to: NodeIx, msg: Msg },
    /// The relay's message was acknowledged.
    OutboxDone { id: MsgId },
    /// Event sourcing: an event of the log that is also a message to `to`; the relay
    /// publishes it from the log (no outbox row). Changes no state of its own.
    Emit { to: NodeIx, msg: Msg },
    /// Event sourcing: the relay's mark that the emitted event at position `offset`
    /// (counted among the emits of the log) is acknowledged (or given up).
    Relayed { offset: u64 },
    /// Remember a processed message key (de-duplication).
    Seen { key: u64 },
    /// A durable decision about a transaction (2PC log, shared-database commit).
    Decide { txn: TxnId, commit: bool },
    /// A read view's row for (`txn`, `step`) now says `state` (see `read`), as of the
    /// source change `version` (kept durably, so a restarted view still refuses an older
    /// change that arrives late).
    View {
        txn: TxnId,
        step: StepIx,
        state: i64,
        version: MsgId,
    },
}

impl Write {
    /// The business transaction a write is about, if any.
    pub fn txn(&self) -> Option<TxnId> {
        match *self {
            Write::Take { txn, .. }
            | Write::Hold { txn, .. }
            | Write::Apply { txn, .. }
            | Write::Release { txn, .. }
            | Write::Compensate { txn, .. }
            | Write::Tombstone { txn, .. }
            | Write::Reject { txn, .. }
            | Write::Unfreeze { txn, .. }
            | Write::Decide { txn, .. }
            | Write::View { txn, .. } => Some(txn),
            Write::OutboxPut { msg, .. } | Write::Emit { msg, .. } => Some(msg.txn),
            Write::OutboxDone { .. } | Write::Seen { .. } | Write::Relayed { .. } => None,
        }
    }
}

/// A message waiting in an outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Destination node.
    pub to: NodeIx,
    /// The message, with its id.
    pub msg: Msg,
}

/// The logical content of a store: what every kind answers, whatever its shape.
/// Checkers and reports read stores only through this. `Eq + Hash`: the explorer
/// hashes it into a state's fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    /// Units left.
    pub available: i64,
    /// Step records by (transaction, step).
    pub steps: BTreeMap<(TxnId, StepIx), Record>,
    /// Unacknowledged outbox messages by id.
    pub outbox: BTreeMap<MsgId, OutboxEntry>,
    /// Processed message keys.
    pub seen: BTreeSet<u64>,
    /// Durable decisions.
    pub decisions: BTreeMap<TxnId, bool>,
    /// Read-view rows: (transaction, step) -> state.
    pub view: BTreeMap<(TxnId, StepIx), i64>,
    /// Read-view rows: (transaction, step) -> the source change they reflect.
    pub view_versions: BTreeMap<(TxnId, StepIx), MsgId>,
}

impl Snapshot {
    /// A fresh store's content.
    pub fn new(capacity: i64) -> Snapshot {
        Snapshot {
            available: capacity,
            ..Snapshot::default()
        }
    }

    /// Applies one write: the reference semantics every kind follows.
    pub fn apply(&mut self, w: &Write) {
        match *w {
            Write::Take { txn, step, amount } => {
                self.available -= amount;
                self.steps.insert(
                    (txn, step),
                    Record {
                        amount,
                        state: StepState::Applied,
                    },
                );
            }
            Write::Hold { txn, step, amount } => {
                self.available -= amount;
                self.steps.insert(
                    (txn, step),
                    Record {
                        amount,
                        state: StepState::Held,
                    },
                );
            }
            Write::Apply { txn, step } => {
                if let Some(r) = self.steps.get_mut(&(txn, step)) {
                    r.state = StepState::Applied;
                }
            }
            Write::Release { txn, step } => {
                if let Some(r) = self.steps.get_mut(&(txn, step)) {
                    self.available += r.amount;
                    r.state = StepState::Released;
                }
            }
            Write::Compensate { txn, step } => {
                if let Some(r) = self.steps.get_mut(&(txn, step)) {
                    self.available += r.amount;
                    r.state = StepState::Compensated;
                }
            }
            Write::Tombstone { txn, step } => {
                let amount = self.steps.get(&(txn, step)).map_or(0, |r| r.amount);
                self.steps.insert(
                    (txn, step),
                    Record {
                        amount,
                        state: StepState::Tombstone,
                    },
                );
            }
            Write::Unfreeze { txn, step, amount } => {
                self.available += amount;
                let state = StepState::Released;
                self.steps.insert((txn, step), Record { amount, state });
            }
            Write::Reject {
                txn, step, amount, ..
            } => {
                self.steps.insert(
                    (txn, step),
                    Record {
                        amount,
                        state: StepState::Rejected,
                    },
                );
            }
            Write::OutboxPut { to, msg } => {
                self.outbox.insert(msg.id, OutboxEntry { to, msg });
            }
            Write::OutboxDone { id } => {
                self.outbox.remove(&id);
            }
            // The relay's own bookkeeping: the log is read by position, not folded.
            Write::Emit { .. } | Write::Relayed { .. } => {}
            Write::Seen { key } => {
                self.seen.insert(key);
            }
            Write::Decide { txn, commit } => {
                self.decisions.insert(txn, commit);
            }
            Write::View {
                txn,
                step,
                state,
                version,
            } => {
                self.view.insert((txn, step), state);
                self.view_versions.insert((txn, step), version);
            }
        }
    }
}

/// The storage engine behind a store: one per kind, each in its natural shape.
pub trait Engine: Send + std::fmt::Debug {
    /// Applies one committed write.
    fn apply(&mut self, w: &Write);
    /// Units left.
    fn available(&self) -> i64;
    /// The record of a step, if any.
    fn record(&self, txn: TxnId, step: StepIx) -> Option<Record>;
    /// Whether a message key was processed.
    fn seen(&self, key: u64) -> bool;
    /// The durable decision about a transaction, if any.
    fn decision(&self, txn: TxnId) -> Option<bool>;
    /// Every unacknowledged outbox entry, oldest id first.
    fn outbox(&self) -> Vec<OutboxEntry>;
    /// The logical content, for checkers.
    fn snapshot(&self) -> Snapshot;
    /// Event sourcing: the emitted events not yet relayed, with their positions
    /// (counted among the emits of the log), oldest first. Only an event log has them.
    fn feed(&self) -> Vec<(u64, OutboxEntry)> {
        Vec::new()
    }
    /// The content in the store's natural shape, one line per row / document / key /
    /// log entry, for people.
    fn render(&self) -> Vec<String>;
}

/// A service's store: a kind-specific engine behind a uniform face.
#[derive(Debug)]
pub struct Store {
    kind: StoreKind,
    engine: Box<dyn Engine>,
}

impl Store {
    /// An empty store of `kind` with `capacity` units.
    pub fn new(kind: StoreKind, capacity: i64) -> Store {
        let engine: Box<dyn Engine> = match kind {
            StoreKind::Relational => Box::new(RelationalStore::new(capacity)),
            StoreKind::Document => Box::new(DocumentStore::new(capacity)),
            StoreKind::KeyValue => Box::new(KeyValueStore::new(capacity)),
            StoreKind::EventLog => Box::new(EventLogStore::new(capacity)),
        };
        Store { kind, engine }
    }

    /// The kind of this store.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// Commits a local transaction: every write, at once.
    pub fn commit(&mut self, writes: &[Write]) {
        for w in writes {
            self.engine.apply(w);
        }
    }

    /// Units left.
    pub fn available(&self) -> i64 {
        self.engine.available()
    }

    /// The record of a step.
    pub fn record(&self, txn: TxnId, step: StepIx) -> Option<Record> {
        self.engine.record(txn, step)
    }

    /// Whether a message key was processed.
    pub fn seen(&self, key: u64) -> bool {
        self.engine.seen(key)
    }

    /// The durable decision about a transaction.
    pub fn decision(&self, txn: TxnId) -> Option<bool> {
        self.engine.decision(txn)
    }

    /// Unacknowledged outbox entries.
    pub fn outbox(&self) -> Vec<OutboxEntry> {
        self.engine.outbox()
    }

    /// Event sourcing: the emitted events of the log not yet relayed.
    pub fn feed(&self) -> Vec<(u64, OutboxEntry)> {
        self.engine.feed()
    }

    /// Logical content.
    pub fn snapshot(&self) -> Snapshot {
        self.engine.snapshot()
    }

    /// Natural-shape content for people.
    pub fn render(&self) -> Vec<String> {
        self.engine.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::MsgKind;

    fn script() -> Vec<Write> {
        let msg = Msg::new(MsgKind::Event, 1, 0);
        vec![
            Write::Take {
                txn: 1,
                step: 0,
                amount: 3,
            },
            Write::Hold {
                txn: 2,
                step: 0,
                amount: 2,
            },
            Write::Apply { txn: 2, step: 0 },
            Write::Hold {
                txn: 3,
                step: 0,
                amount: 1,
            },
            Write::Release { txn: 3, step: 0 },
            Write::Take {
                txn: 4,
                step: 0,
                amount: 5,
            },
            Write::Compensate { txn: 4, step: 0 },
            Write::Tombstone { txn: 5, step: 0 },
            Write::Reject {
                txn: 6,
                step: 0,
                amount: 9,
                reason: RejectReason::Insufficient,
            },
            Write::OutboxPut {
                to: 3,
                msg: Msg { id: 77, ..msg },
            },
            Write::OutboxPut {
                to: 4,
                msg: Msg { id: 78, ..msg },
            },
            Write::OutboxDone { id: 77 },
            Write::Seen { key: 42 },
            Write::Decide {
                txn: 2,
                commit: true,
            },
            Write::View {
                txn: 1,
                step: 0,
                state: 2,
                version: 9,
            },
            Write::Take {
                txn: 1,
                step: 0,
                amount: 3,
            },
        ]
    }

    /// Every kind, whatever its shape, must mean the same as the reference semantics.
    #[test]
    fn every_kind_agrees_with_the_reference() {
        let mut reference = Snapshot::new(100);
        for w in script() {
            reference.apply(&w);
        }
        assert_eq!(reference.available, 100 - 3 - 2 - 3);
        for kind in [
            StoreKind::Relational,
            StoreKind::Document,
            StoreKind::KeyValue,
            StoreKind::EventLog,
        ] {
            let mut s = Store::new(kind, 100);
            s.commit(&script());
            assert_eq!(s.snapshot(), reference, "{kind:?}");
            assert_eq!(s.available(), reference.available);
            assert_eq!(s.record(4, 0).unwrap().state, StepState::Compensated);
            assert_eq!(s.record(6, 0).unwrap().state, StepState::Rejected);
            assert!(s.seen(42) && !s.seen(43));
            assert_eq!(s.decision(2), Some(true));
            assert_eq!(s.outbox().len(), 1);
            assert!(!s.render().is_empty());
        }
    }
}
