//! Event log: an append-only log of writes; the current state is its fold.

use super::{Engine, OutboxEntry, Record, Snapshot, Write};
use crate::msg::{StepIx, TxnId};

/// The log is the source of truth. `projection` is the fold of the log, kept up to
/// date on append as an event-sourced service keeps its read model; it can always be
/// rebuilt from the log alone (see the test).
#[derive(Debug)]
pub struct EventLogStore {
    capacity: i64,
    log: Vec<Write>,
    projection: Snapshot,
}

impl EventLogStore {
    /// An empty log over `capacity` units.
    pub fn new(capacity: i64) -> Self {
        EventLogStore {
            capacity,
            log: Vec::new(),
            projection: Snapshot::new(capacity),
        }
    }

    /// Folds the whole log from the start.
    pub fn replay(&self) -> Snapshot {
        let mut s = Snapshot::new(self.capacity);
        for w in &self.log {
            s.apply(w);
        }
        s
    }
}

impl Engine for EventLogStore {
    fn apply(&mut self, w: &Write) {
        self.log.push(*w);
        self.projection.apply(w);
    }
    fn available(&self) -> i64 {
        self.projection.available
    }
    fn record(&self, txn: TxnId, step: StepIx) -> Option<Record> {
        self.projection.steps.get(&(txn, step)).copied()
    }
    fn seen(&self, key: u64) -> bool {
        self.projection.seen.contains(&key)
    }
    fn decision(&self, txn: TxnId) -> Option<bool> {
        self.projection.decisions.get(&txn).copied()
    }
    fn outbox(&self) -> Vec<OutboxEntry> {
        self.projection.outbox.values().copied().collect()
    }
    fn snapshot(&self) -> Snapshot {
        self.projection.clone()
    }
    fn render(&self) -> Vec<String> {
        let mut out = vec![format!("(capacity {})", self.capacity)];
        out.extend(
            self.log
                .iter()
                .enumerate()
                .map(|(i, w)| format!("#{i:<5} {}", serde_json::to_string(w).unwrap_or_default())),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projection_is_the_fold_of_the_log() {
        let mut s = EventLogStore::new(10);
        s.apply(&Write::Take {
            txn: 1,
            step: 0,
            amount: 4,
        });
        s.apply(&Write::Compensate { txn: 1, step: 0 });
        s.apply(&Write::Take {
            txn: 2,
            step: 0,
            amount: 3,
        });
        assert_eq!(s.replay(), s.snapshot());
        assert_eq!(s.available(), 7);
        assert_eq!(s.log.len(), 3);
    }
}
