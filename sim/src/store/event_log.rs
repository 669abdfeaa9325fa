//! Event log: an append-only log of writes; the current state is its fold.

use super::{Engine, OutboxEntry, Record, Snapshot, Write};
use crate::msg::{StepIx, TxnId};
use std::collections::BTreeSet;

/// The log is the source of truth. `projection` is the fold of the log, kept up to
/// date on append as an event-sourced service keeps its read model; it can always be
/// rebuilt from the log alone (see the test).
#[derive(Debug)]
pub struct EventLogStore {
    capacity: i64,
    log: Vec<Write>,
    projection: Snapshot,
    /// Where each emitted event sits in `log`, by its position among the emits: the
    /// relay's index into its own log, so reading the feed needs no scan of the rest.
    emits: Vec<usize>,
    /// Emitted events relayed, at or after `low`.
    relayed: BTreeSet<u64>,
    /// Every emitted event before this position is relayed.
    low: u64,
}

impl EventLogStore {
    /// An empty log over `capacity` units.
    pub fn new(capacity: i64) -> Self {
        EventLogStore {
            capacity,
            log: Vec::new(),
            projection: Snapshot::new(capacity),
            emits: Vec::new(),
            relayed: BTreeSet::new(),
            low: 0,
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
        match *w {
            Write::Emit { .. } => self.emits.push(self.log.len()),
            Write::Relayed { offset } if offset >= self.low => {
                self.relayed.insert(offset);
                while self.relayed.remove(&self.low) {
                    self.low += 1;
                }
            }
            _ => {}
        }
        self.log.push(*w);
        self.projection.apply(w);
    }
    fn feed(&self) -> Vec<(u64, OutboxEntry)> {
        let low = usize::try_from(self.low).unwrap_or(usize::MAX);
        self.emits
            .iter()
            .enumerate()
            .skip(low)
            .filter(|(pos, _)| !self.relayed.contains(&(*pos as u64)))
            .filter_map(|(pos, &at)| match self.log[at] {
                Write::Emit { to, msg } => Some((pos as u64, OutboxEntry { to, msg })),
                _ => None,
            })
            .collect()
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

    #[test]
    fn the_feed_is_the_emitted_events_not_yet_relayed() {
        use crate::msg::{Msg, MsgKind};
        let mut s = EventLogStore::new(10);
        for txn in 1..=4 {
            s.apply(&Write::Take {
                txn,
                step: 0,
                amount: 1,
            });
            s.apply(&Write::Emit {
                to: 2,
                msg: Msg::new(MsgKind::Event, txn, 0),
            });
        }
        s.apply(&Write::Relayed { offset: 0 });
        s.apply(&Write::Relayed { offset: 2 });
        let feed: Vec<(u64, TxnId)> = s.feed().iter().map(|(p, e)| (*p, e.msg.txn)).collect();
        assert_eq!(feed, vec![(1, 2), (3, 4)]);
        s.apply(&Write::Relayed { offset: 1 });
        assert_eq!(s.low, 3, "the relayed prefix is folded into one position");
        assert_eq!(s.feed().len(), 1);
        assert!(
            s.outbox().is_empty(),
            "no outbox rows: the log is the outbox"
        );
        assert_eq!(s.available(), 6);
    }
}
