//! What several checkers need from one run, computed once per run: every transaction's
//! step ends and outcome (from the final stores) and the last local transaction about
//! it (from the events). Built in one pass over the events plus one over the
//! transactions, so checking stays linear in both, however many violations there are.

use super::{service_store, Outcome, StepEnd};
use crate::msg::{StepIx, TxnId};
use crate::store::StepState;
use crate::trace::{EventKind, Trace};

/// A run's transactions, indexed.
#[derive(Debug, Clone)]
pub struct Index {
    /// Steps per transaction (the stride of `ends`).
    steps: usize,
    /// Step ends of transaction `t` at `ends[(t - 1) * steps..t * steps]`.
    ends: Vec<StepEnd>,
    /// Every transaction's outcome, in transaction order.
    outcomes: Vec<(TxnId, Outcome)>,
    /// `last_local[t]`: the `seq` of the last local transaction about `t`.
    last_local: Vec<Option<u64>>,
}

impl Index {
    /// Indexes `trace`'s final stores and events.
    pub fn new(trace: &Trace) -> Index {
        let (steps, ends) = ends_of(trace);
        let outcomes = outcomes_of(steps, &ends);
        let mut last_local: Vec<Option<u64>> = Vec::new();
        for (seq, e) in trace.events.iter().enumerate() {
            if let EventKind::Local { txn, .. } = e.kind {
                let t = txn as usize;
                if t >= last_local.len() {
                    last_local.resize(t + 1, None);
                }
                last_local[t] = Some(seq as u64);
            }
        }
        Index {
            steps,
            ends,
            outcomes,
            last_local,
        }
    }

    /// The final state of every step of `txn` (1..=N), in step order.
    pub fn step_ends(&self, txn: TxnId) -> &[StepEnd] {
        let from = (txn as usize - 1) * self.steps;
        &self.ends[from..from + self.steps]
    }

    /// Every transaction's outcome, in transaction order.
    pub fn outcomes(&self) -> &[(TxnId, Outcome)] {
        &self.outcomes
    }

    /// The `seq` of the last local transaction that touched `txn`, if events were kept.
    pub fn last_local_seq(&self, txn: TxnId) -> Option<u64> {
        self.last_local.get(txn as usize).copied().flatten()
    }
}

/// Steps per transaction, and the step ends of transactions 1..=N, flat.
fn ends_of(trace: &Trace) -> (usize, Vec<StepEnd>) {
    let Some(w) = &trace.scenario.write else {
        return (0, vec![]);
    };
    let stores: Vec<usize> = w
        .steps
        .iter()
        .map(|st| service_store(trace, &st.service))
        .collect();
    let mut ends = Vec::with_capacity(w.transactions as usize * stores.len());
    for txn in 1..=w.transactions {
        for (i, &store) in stores.iter().enumerate() {
            ends.push(end_of(trace, store, txn, i));
        }
    }
    (stores.len(), ends)
}

/// What final store `store` says about step `step` of `txn`.
pub(super) fn end_of(trace: &Trace, store: usize, txn: TxnId, step: usize) -> StepEnd {
    let rec = trace.final_stores[store].steps.get(&(txn, step as StepIx));
    match rec.map(|r| r.state) {
        Some(StepState::Applied) => StepEnd::Applied,
        Some(StepState::Held) => StepEnd::Held,
        _ => StepEnd::Absent,
    }
}

/// Committed: applied at every step; aborted: at none, nothing held; else unfinished.
fn outcomes_of(steps: usize, ends: &[StepEnd]) -> Vec<(TxnId, Outcome)> {
    if steps == 0 {
        return vec![];
    }
    ends.chunks(steps)
        .enumerate()
        .map(|(i, ends)| {
            let outcome = if ends.iter().all(|e| *e == StepEnd::Applied) {
                Outcome::Committed
            } else if ends.iter().all(|e| *e == StepEnd::Absent) {
                Outcome::Aborted
            } else {
                Outcome::Unfinished
            };
            (i as TxnId + 1, outcome)
        })
        .collect()
}

/// The outcome of every transaction 1..=N, judged from the final stores.
pub fn outcomes(trace: &Trace) -> Vec<(TxnId, Outcome)> {
    let (steps, ends) = ends_of(trace);
    outcomes_of(steps, &ends)
}
