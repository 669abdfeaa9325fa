//! Document: one JSON document per business transaction (the aggregate), plus a
//! `resource` document, as in MongoDB.

use super::{Engine, OutboxEntry, Record, Snapshot, StepState, Write};
use crate::msg::{StepIx, TxnId};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Documents by `_id`: `resource` {available}, `txn-<n>` {steps: {"<step>": {amount,
/// state}}, decision, view: {"<step>": state}}, `outbox-<id>` {to, msg},
/// `processed` {keys: [...]}.
#[derive(Debug)]
pub struct DocumentStore {
    docs: BTreeMap<String, Value>,
    /// An index on `processed.keys`, as a document database would keep one: without
    /// it, each `seen` scanned the whole array, quadratic over a run.
    processed: BTreeSet<u64>,
}

fn txn_id(txn: TxnId) -> String {
    format!("txn-{txn:08}")
}

impl DocumentStore {
    /// A store holding the `resource` document.
    pub fn new(capacity: i64) -> Self {
        let mut docs = BTreeMap::new();
        docs.insert(
            "resource".to_string(),
            json!({"_id": "resource", "available": capacity}),
        );
        docs.insert(
            "processed".to_string(),
            json!({"_id": "processed", "keys": []}),
        );
        DocumentStore {
            docs,
            processed: BTreeSet::new(),
        }
    }

    fn txn_doc(&mut self, txn: TxnId) -> &mut Value {
        let id = txn_id(txn);
        self.docs
            .entry(id.clone())
            .or_insert_with(|| json!({"_id": id, "steps": {}, "view": {}}))
    }

    fn add_available(&mut self, delta: i64) {
        let now = self.available();
        self.docs.get_mut("resource").expect("resource doc")["available"] = json!(now + delta);
    }

    fn put_record(&mut self, txn: TxnId, step: StepIx, r: Record) {
        self.txn_doc(txn)["steps"][step.to_string()] =
            json!({"amount": r.amount, "state": r.state.name()});
    }

    fn set_state(&mut self, txn: TxnId, step: StepIx, state: StepState) -> Option<Record> {
        let mut r = self.record(txn, step)?;
        r.state = state;
        self.put_record(txn, step, r);
        Some(r)
    }
}

fn parse_record(v: &Value) -> Option<Record> {
    Some(Record {
        amount: v.get("amount")?.as_i64()?,
        state: StepState::parse(v.get("state")?.as_str()?)?,
    })
}

impl Engine for DocumentStore {
    fn apply(&mut self, w: &Write) {
        match *w {
            Write::Take { txn, step, amount } => {
                self.add_available(-amount);
                let state = StepState::Applied;
                self.put_record(txn, step, Record { amount, state });
            }
            Write::Hold { txn, step, amount } => {
                self.add_available(-amount);
                let state = StepState::Held;
                self.put_record(txn, step, Record { amount, state });
            }
            Write::Apply { txn, step } => {
                self.set_state(txn, step, StepState::Applied);
            }
            Write::Release { txn, step } => {
                if let Some(r) = self.set_state(txn, step, StepState::Released) {
                    self.add_available(r.amount);
                }
            }
            Write::Compensate { txn, step } => {
                if let Some(r) = self.set_state(txn, step, StepState::Compensated) {
                    self.add_available(r.amount);
                }
            }
            Write::Tombstone { txn, step } => {
                let amount = self.record(txn, step).map_or(0, |r| r.amount);
                let state = StepState::Tombstone;
                self.put_record(txn, step, Record { amount, state });
            }
            Write::Unfreeze { txn, step, amount } => {
                self.add_available(amount);
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
                let id = format!("outbox-{:016}", msg.id);
                let mut doc = serde_json::to_value(OutboxEntry { to, msg }).expect("serializes");
                doc["_id"] = json!(id.clone());
                self.docs.insert(id, doc);
            }
            Write::OutboxDone { id } => {
                self.docs.remove(&format!("outbox-{id:016}"));
            }
            // Event sourcing needs an event log (validation refuses it elsewhere).
            Write::Emit { .. } | Write::Relayed { .. } => {}
            Write::Seen { key } => {
                self.processed.insert(key);
                let keys = &mut self.docs.get_mut("processed").expect("processed doc")["keys"];
                if let Some(a) = keys.as_array_mut() {
                    a.push(json!(key));
                }
            }
            Write::Decide { txn, commit } => {
                self.txn_doc(txn)["decision"] = json!(if commit { "commit" } else { "abort" });
            }
            Write::View {
                txn,
                step,
                state,
                version,
            } => {
                let doc = self.txn_doc(txn);
                doc["view"][step.to_string()] = json!(state);
                doc["view_version"][step.to_string()] = json!(version);
            }
        }
    }
    fn available(&self) -> i64 {
        self.docs["resource"]["available"].as_i64().unwrap_or(0)
    }
    fn record(&self, txn: TxnId, step: StepIx) -> Option<Record> {
        parse_record(
            self.docs
                .get(&txn_id(txn))?
                .get("steps")?
                .get(step.to_string())?,
        )
    }
    fn seen(&self, key: u64) -> bool {
        self.processed.contains(&key)
    }
    fn decision(&self, txn: TxnId) -> Option<bool> {
        Some(self.docs.get(&txn_id(txn))?.get("decision")?.as_str()? == "commit")
    }
    fn outbox(&self) -> Vec<OutboxEntry> {
        self.docs
            .range("outbox-".to_string().."outbox.".to_string())
            .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
            .collect()
    }
    fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot::new(self.available());
        for (id, doc) in &self.docs {
            let Some(txn) = id.strip_prefix("txn-").and_then(|t| t.parse().ok()) else {
                continue;
            };
            if let Some(steps) = doc["steps"].as_object() {
                for (step, v) in steps {
                    if let (Ok(step), Some(r)) = (step.parse(), parse_record(v)) {
                        s.steps.insert((txn, step), r);
                    }
                }
            }
            if let Some(d) = doc.get("decision").and_then(Value::as_str) {
                s.decisions.insert(txn, d == "commit");
            }
            if let Some(view) = doc["view"].as_object() {
                for (step, v) in view {
                    if let (Ok(step), Some(state)) = (step.parse(), v.as_i64()) {
                        s.view.insert((txn, step), state);
                    }
                }
            }
            if let Some(versions) = doc.get("view_version").and_then(Value::as_object) {
                for (step, v) in versions {
                    let version = v.as_u64().and_then(|v| u32::try_from(v).ok());
                    if let (Ok(step), Some(version)) = (step.parse(), version) {
                        s.view_versions.insert((txn, step), version);
                    }
                }
            }
        }
        if let Some(keys) = self.docs["processed"]["keys"].as_array() {
            s.seen.extend(keys.iter().filter_map(Value::as_u64));
        }
        for e in self.outbox() {
            s.outbox.insert(e.msg.id, e);
        }
        s
    }
    fn render(&self) -> Vec<String> {
        self.docs.values().map(Value::to_string).collect()
    }
}
