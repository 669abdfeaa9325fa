//! Document: one document per business transaction (the aggregate), plus a
//! `resource` document, as in MongoDB.
//!
//! The documents are held as typed records, not JSON values: a write is a field
//! update, not a string key formatted and a JSON tree walked (that was ~15 % of a
//! sweep's instructions). The JSON shape exists only in [`Engine::render`], built
//! in the very order a JSON document store would have kept its fields.

use super::{Engine, OutboxEntry, Record, Snapshot, StepState, Write};
use crate::msg::{MsgId, StepIx, TxnId};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One `txn-<n>` document: its fields in the order they were first written, as a
/// document database keeps them (the steps, and the view's rows, are few).
#[derive(Debug, Default)]
struct TxnDoc {
    /// `steps`: (step, record), in the order each step was first written.
    steps: Vec<(StepIx, Record)>,
    /// `view` and `view_version` (always written together): (step, state, version).
    view: Vec<(StepIx, i64, MsgId)>,
    /// `decision`.
    decision: Option<bool>,
    /// Whether `decision` was added before `view_version` (the render's field order).
    decision_first: bool,
}

/// Documents by `_id`: `resource` {available}, `txn-<n>` {steps: {"<step>": {amount,
/// state}}, decision, view: {"<step>": state}}, `outbox-<id>` {to, msg},
/// `processed` {keys: [...]}.
#[derive(Debug)]
pub struct DocumentStore {
    /// `resource.available`.
    available: i64,
    /// The `txn-<n>` documents.
    txns: BTreeMap<TxnId, TxnDoc>,
    /// The `outbox-<id>` documents.
    outbox: BTreeMap<MsgId, OutboxEntry>,
    /// `processed.keys`, in the order they were pushed (repeats kept, as the array).
    keys: Vec<u64>,
    /// An index on `processed.keys`, as a document database would keep one: without
    /// it, each `seen` scanned the whole array, quadratic over a run.
    processed: BTreeSet<u64>,
}

fn txn_id(txn: TxnId) -> String {
    format!("txn-{txn:08}")
}

fn outbox_id(id: MsgId) -> String {
    format!("outbox-{id:016}")
}

impl DocumentStore {
    /// A store holding the `resource` document.
    pub fn new(capacity: i64) -> Self {
        DocumentStore {
            available: capacity,
            txns: BTreeMap::new(),
            outbox: BTreeMap::new(),
            keys: Vec::new(),
            processed: BTreeSet::new(),
        }
    }

    fn put_record(&mut self, txn: TxnId, step: StepIx, r: Record) {
        let doc = self.txns.entry(txn).or_default();
        match doc.steps.iter_mut().find(|(s, _)| *s == step) {
            Some((_, old)) => *old = r,
            None => doc.steps.push((step, r)),
        }
    }

    fn set_state(&mut self, txn: TxnId, step: StepIx, state: StepState) -> Option<Record> {
        let doc = self.txns.get_mut(&txn)?;
        let (_, r) = doc.steps.iter_mut().find(|(s, _)| *s == step)?;
        r.state = state;
        Some(*r)
    }

    /// A transaction's document as JSON, its fields in the order they were added.
    fn txn_json(txn: TxnId, doc: &TxnDoc) -> Value {
        let mut v = json!({"_id": txn_id(txn), "steps": {}, "view": {}});
        for (step, r) in &doc.steps {
            v["steps"][step.to_string()] = json!({"amount": r.amount, "state": r.state.name()});
        }
        for (step, state, _) in &doc.view {
            v["view"][step.to_string()] = json!(state);
        }
        let decision = |v: &mut Value| {
            if let Some(commit) = doc.decision {
                v["decision"] = json!(if commit { "commit" } else { "abort" });
            }
        };
        if doc.decision_first {
            decision(&mut v);
        }
        for (step, _, version) in &doc.view {
            v["view_version"][step.to_string()] = json!(version);
        }
        if !doc.decision_first {
            decision(&mut v);
        }
        v
    }
}

impl Engine for DocumentStore {
    fn apply(&mut self, w: &Write) {
        match *w {
            Write::Take { txn, step, amount } => {
                self.available -= amount;
                let state = StepState::Applied;
                self.put_record(txn, step, Record { amount, state });
            }
            Write::Hold { txn, step, amount } => {
                self.available -= amount;
                let state = StepState::Held;
                self.put_record(txn, step, Record { amount, state });
            }
            Write::Apply { txn, step } => {
                self.set_state(txn, step, StepState::Applied);
            }
            Write::Release { txn, step } => {
                if let Some(r) = self.set_state(txn, step, StepState::Released) {
                    self.available += r.amount;
                }
            }
            Write::Compensate { txn, step } => {
                if let Some(r) = self.set_state(txn, step, StepState::Compensated) {
                    self.available += r.amount;
                }
            }
            Write::Tombstone { txn, step } => {
                let amount = self.record(txn, step).map_or(0, |r| r.amount);
                let state = StepState::Tombstone;
                self.put_record(txn, step, Record { amount, state });
            }
            Write::Unfreeze { txn, step, amount } => {
                self.available += amount;
                let state = StepState::Released;
                self.put_record(txn, step, Record { amount, state });
            }
            Write::Reject {
                txn, step, amount, ..
            } => {
                let state = StepState::Rejected;
                self.put_record(txn, step, Record { amount, state });
            }
            Write::OutboxPut { to, msg } => {
                self.outbox.insert(msg.id, OutboxEntry { to, msg });
            }
            Write::OutboxDone { id } => {
                self.outbox.remove(&id);
            }
            // Event sourcing needs an event log (validation refuses it elsewhere).
            Write::Emit { .. } | Write::Relayed { .. } => {}
            Write::Seen { key } => {
                self.processed.insert(key);
                self.keys.push(key);
            }
            Write::Decide { txn, commit } => {
                let doc = self.txns.entry(txn).or_default();
                if doc.decision.is_none() && doc.view.is_empty() {
                    doc.decision_first = true;
                }
                doc.decision = Some(commit);
            }
            Write::View {
                txn,
                step,
                state,
                version,
            } => {
                let doc = self.txns.entry(txn).or_default();
                match doc.view.iter_mut().find(|(s, _, _)| *s == step) {
                    Some(row) => *row = (step, state, version),
                    None => doc.view.push((step, state, version)),
                }
            }
        }
    }
    fn available(&self) -> i64 {
        self.available
    }
    fn record(&self, txn: TxnId, step: StepIx) -> Option<Record> {
        let doc = self.txns.get(&txn)?;
        doc.steps.iter().find(|(s, _)| *s == step).map(|(_, r)| *r)
    }
    fn seen(&self, key: u64) -> bool {
        self.processed.contains(&key)
    }
    fn decision(&self, txn: TxnId) -> Option<bool> {
        self.txns.get(&txn)?.decision
    }
    fn outbox(&self) -> Vec<OutboxEntry> {
        self.outbox.values().copied().collect()
    }
    fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot::new(self.available);
        for (&txn, doc) in &self.txns {
            s.steps
                .extend(doc.steps.iter().map(|&(step, r)| ((txn, step), r)));
            if let Some(commit) = doc.decision {
                s.decisions.insert(txn, commit);
            }
            for &(step, state, version) in &doc.view {
                s.view.insert((txn, step), state);
                s.view_versions.insert((txn, step), version);
            }
        }
        s.seen.clone_from(&self.processed);
        s.outbox = self.outbox.clone();
        s
    }
    fn render(&self) -> Vec<String> {
        let mut docs: Vec<(String, Value)> = Vec::with_capacity(self.txns.len() + 2);
        docs.push((
            "resource".into(),
            json!({"_id": "resource", "available": self.available}),
        ));
        docs.push((
            "processed".into(),
            json!({"_id": "processed", "keys": self.keys}),
        ));
        for (&id, e) in &self.outbox {
            let mut doc = serde_json::to_value(e).expect("an entry serializes");
            doc["_id"] = json!(outbox_id(id));
            docs.push((outbox_id(id), doc));
        }
        for (&txn, doc) in &self.txns {
            docs.push((txn_id(txn), Self::txn_json(txn, doc)));
        }
        // Documents by `_id`, as strings sort (a transaction past 8 digits included).
        docs.sort_by(|a, b| a.0.cmp(&b.0));
        docs.into_iter().map(|(_, v)| v.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{Msg, MsgKind};

    /// The JSON document store this one replaced, kept here as the reference for
    /// `render`: the same writes must give the same documents, byte for byte.
    fn txn_doc(docs: &mut BTreeMap<String, Value>, txn: TxnId) -> &mut Value {
        let id = txn_id(txn);
        docs.entry(id.clone())
            .or_insert_with(|| json!({"_id": id, "steps": {}, "view": {}}))
    }

    fn json_render(writes: &[Write]) -> Vec<String> {
        let mut docs: BTreeMap<String, Value> = BTreeMap::new();
        docs.insert(
            "resource".into(),
            json!({"_id": "resource", "available": 100}),
        );
        docs.insert("processed".into(), json!({"_id": "processed", "keys": []}));
        for w in writes {
            match *w {
                Write::Take { txn, step, amount } => {
                    txn_doc(&mut docs, txn)["steps"][step.to_string()] =
                        json!({"amount": amount, "state": "applied"});
                    let a = docs["resource"]["available"].as_i64().unwrap();
                    docs.get_mut("resource").unwrap()["available"] = json!(a - amount);
                }
                Write::Decide { txn, commit } => {
                    txn_doc(&mut docs, txn)["decision"] =
                        json!(if commit { "commit" } else { "abort" });
                }
                Write::View {
                    txn,
                    step,
                    state,
                    version,
                } => {
                    let d = txn_doc(&mut docs, txn);
                    d["view"][step.to_string()] = json!(state);
                    d["view_version"][step.to_string()] = json!(version);
                }
                Write::Seen { key } => {
                    let keys = &mut docs.get_mut("processed").unwrap()["keys"];
                    keys.as_array_mut().unwrap().push(json!(key));
                }
                Write::OutboxPut { to, msg } => {
                    let id = outbox_id(msg.id);
                    let mut d = serde_json::to_value(OutboxEntry { to, msg }).unwrap();
                    d["_id"] = json!(id.clone());
                    docs.insert(id, d);
                }
                _ => unreachable!("not in the script"),
            }
        }
        docs.values().map(Value::to_string).collect()
    }

    #[test]
    fn renders_the_documents_a_json_store_would_hold() {
        let msg = Msg {
            id: 5,
            ..Msg::new(MsgKind::Event, 1, 0)
        };
        let script = [
            Write::Take {
                txn: 3,
                step: 1,
                amount: 2,
            },
            Write::Take {
                txn: 3,
                step: 0,
                amount: 1,
            },
            Write::Take {
                txn: 3,
                step: 1,
                amount: 4,
            },
            Write::Decide {
                txn: 3,
                commit: true,
            },
            Write::View {
                txn: 3,
                step: 0,
                state: 1,
                version: 9,
            },
            Write::View {
                txn: 4,
                step: 2,
                state: 1,
                version: 7,
            },
            Write::Decide {
                txn: 4,
                commit: false,
            },
            Write::View {
                txn: 4,
                step: 0,
                state: 2,
                version: 8,
            },
            Write::Seen { key: 11 },
            Write::Seen { key: 11 },
            Write::OutboxPut { to: 2, msg },
            Write::Take {
                txn: 123_456_789,
                step: 0,
                amount: 1,
            },
        ];
        let mut s = DocumentStore::new(100);
        for w in &script {
            s.apply(w);
        }
        assert_eq!(s.render(), json_render(&script));
    }
}
