//! Key-value: versioned string keys, as in etcd or a Dynamo-style store.

use super::{Engine, OutboxEntry, Record, Snapshot, StepState, Write};
use crate::msg::{StepIx, TxnId};
use std::collections::BTreeMap;

/// A value with the version of its last put (the store's global counter).
#[derive(Debug, Clone, PartialEq)]
struct Versioned {
    version: u64,
    value: String,
}

/// Keys: `available`, `step/<txn>/<step>` = `<amount> <state>`, `outbox/<id>` = JSON,
/// `seen/<key>`, `decision/<txn>` = `commit|abort`, `view/<txn>/<step>` = `<state>`.
#[derive(Debug)]
pub struct KeyValueStore {
    version: u64,
    keys: BTreeMap<String, Versioned>,
}

fn step_key(txn: TxnId, step: StepIx) -> String {
    format!("step/{txn:08}/{step:03}")
}

impl KeyValueStore {
    /// A store holding only `available = capacity`.
    pub fn new(capacity: i64) -> Self {
        let mut s = KeyValueStore {
            version: 0,
            keys: BTreeMap::new(),
        };
        s.put("available".into(), capacity.to_string());
        s
    }

    fn put(&mut self, key: String, value: String) {
        self.version += 1;
        let version = self.version;
        self.keys.insert(key, Versioned { version, value });
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(|v| v.value.as_str())
    }

    fn add_available(&mut self, delta: i64) {
        let now = self.available();
        self.put("available".into(), (now + delta).to_string());
    }

    fn put_record(&mut self, txn: TxnId, step: StepIx, r: Record) {
        self.put(
            step_key(txn, step),
            format!("{} {}", r.amount, r.state.name()),
        );
    }

    fn set_state(&mut self, txn: TxnId, step: StepIx, state: StepState) -> Option<Record> {
        let mut r = self.record(txn, step)?;
        r.state = state;
        self.put_record(txn, step, r);
        Some(r)
    }
}

fn parse_record(v: &str) -> Option<Record> {
    let (amount, state) = v.split_once(' ')?;
    Some(Record {
        amount: amount.parse().ok()?,
        state: StepState::parse(state)?,
    })
}

impl Engine for KeyValueStore {
    fn apply(&mut self, w: &Write) {
        match *w {
            Write::Take { txn, step, amount } | Write::Hold { txn, step, amount } => {
                let state = if matches!(w, Write::Take { .. }) {
                    StepState::Applied
                } else {
                    StepState::Held
                };
                self.add_available(-amount);
                self.put_record(txn, step, Record { amount, state });
            }
            Write::Apply { txn, step } => {
                self.set_state(txn, step, StepState::Applied);
            }
            Write::Release { txn, step } | Write::Compensate { txn, step } => {
                let state = if matches!(w, Write::Release { .. }) {
                    StepState::Released
                } else {
                    StepState::Compensated
                };
                if let Some(r) = self.set_state(txn, step, state) {
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
                let entry = OutboxEntry { to, msg };
                let json = serde_json::to_string(&entry).expect("an entry serializes");
                self.put(format!("outbox/{:016}", msg.id), json);
            }
            Write::OutboxDone { id } => {
                self.version += 1;
                self.keys.remove(&format!("outbox/{id:016}"));
            }
            // Event sourcing needs an event log (validation refuses it elsewhere).
            Write::Emit { .. } | Write::Relayed { .. } => {}
            Write::Seen { key } => self.put(format!("seen/{key:020}"), "1".into()),
            Write::Decide { txn, commit } => {
                let d = if commit { "commit" } else { "abort" };
                self.put(format!("decision/{txn:08}"), d.into());
            }
            Write::View {
                txn,
                step,
                state,
                version,
            } => {
                self.put(format!("view/{txn:08}/{step:03}"), state.to_string());
                self.put(
                    format!("view-version/{txn:08}/{step:03}"),
                    version.to_string(),
                );
            }
        }
    }
    fn available(&self) -> i64 {
        self.get("available")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
    fn record(&self, txn: TxnId, step: StepIx) -> Option<Record> {
        parse_record(self.get(&step_key(txn, step))?)
    }
    fn seen(&self, key: u64) -> bool {
        self.keys.contains_key(&format!("seen/{key:020}"))
    }
    fn decision(&self, txn: TxnId) -> Option<bool> {
        self.get(&format!("decision/{txn:08}"))
            .map(|d| d == "commit")
    }
    fn outbox(&self) -> Vec<OutboxEntry> {
        self.keys
            .range("outbox/".to_string().."outbox0".to_string())
            .filter_map(|(_, v)| serde_json::from_str(&v.value).ok())
            .collect()
    }
    fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot::new(self.available());
        for (k, v) in &self.keys {
            let parts: Vec<&str> = k.split('/').collect();
            match parts.as_slice() {
                ["step", txn, step] => {
                    if let (Ok(t), Ok(st), Some(r)) =
                        (txn.parse(), step.parse(), parse_record(&v.value))
                    {
                        s.steps.insert((t, st), r);
                    }
                }
                ["seen", key] => {
                    if let Ok(key) = key.parse() {
                        s.seen.insert(key);
                    }
                }
                ["decision", txn] => {
                    if let Ok(t) = txn.parse() {
                        s.decisions.insert(t, v.value == "commit");
                    }
                }
                ["view", txn, step] => {
                    if let (Ok(t), Ok(st), Ok(state)) = (txn.parse(), step.parse(), v.value.parse())
                    {
                        s.view.insert((t, st), state);
                    }
                }
                ["view-version", txn, step] => {
                    if let (Ok(t), Ok(st), Ok(version)) =
                        (txn.parse(), step.parse(), v.value.parse())
                    {
                        s.view_versions.insert((t, st), version);
                    }
                }
                _ => {}
            }
        }
        for e in self.outbox() {
            s.outbox.insert(e.msg.id, e);
        }
        s
    }
    fn render(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|(k, v)| format!("{k} = {}  (v{})", v.value, v.version))
            .collect()
    }
}
