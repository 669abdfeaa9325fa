//! Relational: typed tables with primary keys.

use super::{Engine, OutboxEntry, Record, Snapshot, Write};
use crate::msg::{StepIx, TxnId};

/// Tables `resource`, `steps` (key: txn, step), `outbox` (key: id), `processed`
/// (key), `decisions` (key: txn) and `view_rows` (key: txn, step). The tables are
/// exactly the logical model, kept by primary key, so they *are* the snapshot.
#[derive(Debug)]
pub struct RelationalStore {
    tables: Snapshot,
}

impl RelationalStore {
    /// Empty tables; `resource.available = capacity`.
    pub fn new(capacity: i64) -> Self {
        RelationalStore {
            tables: Snapshot::new(capacity),
        }
    }
}

impl Engine for RelationalStore {
    fn apply(&mut self, w: &Write) {
        self.tables.apply(w);
    }
    fn available(&self) -> i64 {
        self.tables.available
    }
    fn record(&self, txn: TxnId, step: StepIx) -> Option<Record> {
        self.tables.steps.get(&(txn, step)).copied()
    }
    fn seen(&self, key: u64) -> bool {
        self.tables.seen.contains(&key)
    }
    fn decision(&self, txn: TxnId) -> Option<bool> {
        self.tables.decisions.get(&txn).copied()
    }
    fn outbox(&self) -> Vec<OutboxEntry> {
        self.tables.outbox.values().copied().collect()
    }
    fn snapshot(&self) -> Snapshot {
        self.tables.clone()
    }
    fn render(&self) -> Vec<String> {
        let t = &self.tables;
        let mut out = vec![format!("resource  | available={}", t.available)];
        for ((txn, step), r) in &t.steps {
            out.push(format!(
                "steps     | txn={txn} step={step} amount={} state={}",
                r.amount,
                r.state.name()
            ));
        }
        for (id, e) in &t.outbox {
            out.push(format!(
                "outbox    | id={id} to={} kind={} txn={}",
                e.to,
                e.msg.kind.name(),
                e.msg.txn
            ));
        }
        for (txn, commit) in &t.decisions {
            let d = if *commit { "commit" } else { "abort" };
            out.push(format!("decisions | txn={txn} decision={d}"));
        }
        for ((txn, step), state) in &t.view {
            out.push(format!("view_rows | txn={txn} step={step} state={state}"));
        }
        if !t.seen.is_empty() {
            out.push(format!("processed | {} rows", t.seen.len()));
        }
        out
    }
}
