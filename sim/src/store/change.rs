//! Change capture: the change records a store commit yields.
//!
//! A read view must learn every change of a step's record on its sources. Rather than
//! guessing it from what a node did (the events it recorded), the commit itself says
//! it: each write that changes a step's record names its row ([`Write::row`]), and a
//! node context that is capturing ([`crate::node::Cx::capture_changes`]) keeps one
//! [`RowChange`] per such write of every commit, in commit order. A publisher then
//! turns the records into messages under its service's publishing mode (see
//! `patterns::read_side`). Capture costs nothing when nobody asks for it.

use super::Write;
use crate::msg::{StepIx, TxnId};

/// One step record a commit changed: on which of the node's stores, and which row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowChange {
    /// The store, as a local index of the committing node (as in `Cx::commit`).
    pub store: usize,
    /// The business transaction of the row.
    pub txn: TxnId,
    /// The step of the row.
    pub step: StepIx,
}

impl Write {
    /// The (transaction, step) record this write changes, if it changes a step's
    /// record (outbox, log marks, de-duplication keys, decisions and view rows do not).
    pub fn row(&self) -> Option<(TxnId, StepIx)> {
        match *self {
            Write::Take { txn, step, .. }
            | Write::Hold { txn, step, .. }
            | Write::Apply { txn, step }
            | Write::Release { txn, step }
            | Write::Compensate { txn, step }
            | Write::Tombstone { txn, step }
            | Write::Reject { txn, step, .. }
            | Write::Unfreeze { txn, step, .. } => Some((txn, step)),
            Write::OutboxPut { .. }
            | Write::OutboxDone { .. }
            | Write::Emit { .. }
            | Write::Relayed { .. }
            | Write::Seen { .. }
            | Write::Decide { .. }
            | Write::View { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{Msg, MsgKind};
    use crate::scenario::StoreKind;
    use crate::store::{RejectReason, Store};

    /// Every write that changes a step's record names its row, and no other does:
    /// checked against the store itself (the record before and after the write).
    #[test]
    fn a_write_names_its_row_exactly_when_it_changes_a_record() {
        let (txn, step) = (3, 1);
        let writes = [
            Write::Hold {
                txn,
                step,
                amount: 2,
            },
            Write::Apply { txn, step },
            Write::Compensate { txn, step },
            Write::Release { txn, step },
            Write::Take {
                txn,
                step,
                amount: 1,
            },
            Write::Tombstone { txn, step },
            Write::Reject {
                txn,
                step,
                amount: 1,
                reason: RejectReason::Rule,
            },
            Write::Unfreeze {
                txn,
                step,
                amount: 1,
            },
            Write::OutboxPut {
                to: 2,
                msg: Msg::new(MsgKind::Change, txn, step),
            },
            Write::OutboxDone { id: 9 },
            Write::Emit {
                to: 2,
                msg: Msg::new(MsgKind::Event, txn, step),
            },
            Write::Relayed { offset: 0 },
            Write::Seen { key: 7 },
            Write::Decide { txn, commit: true },
            Write::View {
                txn,
                step,
                state: 1,
                version: 4,
            },
        ];
        for kind in [StoreKind::Relational, StoreKind::EventLog] {
            let mut store = Store::new(kind, 10);
            for w in writes {
                let before = store.record(txn, step);
                store.commit(&[w]);
                let changed = store.record(txn, step) != before;
                assert_eq!(w.row(), changed.then_some((txn, step)), "{w:?} on {kind:?}");
            }
        }
    }
}
