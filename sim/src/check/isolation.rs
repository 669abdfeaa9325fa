//! Isolation: no step was rejected for lack of units that, at that moment, were taken
//! or held by transactions that later aborted. A saga's local commits are visible at
//! once, so a transaction that will be compensated can starve another: a dirty read.
//!
//! Replays every service store's local transactions in trace order; at each refusal
//! for too few units, sums what transactions that ended aborted (judged from the final
//! stores) had taken or held at that store. If those units would have been enough, the
//! refusal was caused by work that never counted: a violation.

use super::{outcomes, service_store, Outcome, Verdict};
use crate::msg::TxnId;
use crate::store::{RejectReason, Snapshot, StepState};
use crate::trace::{EventKind, Trace};
use std::collections::BTreeSet;

/// Checks isolation by replaying the trace.
pub fn check(trace: &Trace, v: &mut Verdict) {
    let Some(w) = &trace.scenario.write else {
        return;
    };
    let aborted: BTreeSet<TxnId> = outcomes(trace)
        .into_iter()
        .filter(|(_, o)| *o == Outcome::Aborted)
        .map(|(t, _)| t)
        .collect();
    let mut replay: Vec<Snapshot> = trace
        .stores
        .iter()
        .map(|s| Snapshot::new(s.capacity))
        .collect();
    for (seq, e) in trace.events.iter().enumerate() {
        match &e.kind {
            EventKind::Local { store, writes, .. } => {
                let s = &mut replay[usize::from(*store)];
                for wr in writes.iter() {
                    s.apply(wr);
                }
            }
            EventKind::Reject {
                txn,
                step,
                reason: RejectReason::Insufficient,
                available,
                needed,
            } => {
                let Some(st) = w.steps.get(usize::from(*step)) else {
                    continue;
                };
                let store = service_store(trace, &st.service);
                let dirty: Vec<(TxnId, i64)> = replay[store]
                    .steps
                    .iter()
                    .filter(|((t, _), r)| {
                        aborted.contains(t)
                            && matches!(r.state, StepState::Applied | StepState::Held)
                    })
                    .map(|((t, _), r)| (*t, r.amount))
                    .collect();
                let units: i64 = dirty.iter().map(|(_, a)| a).sum();
                if units > 0 && available + units >= *needed {
                    let txns: Vec<String> = dirty.iter().map(|(t, _)| t.to_string()).collect();
                    v.violation(
                        || {
                            format!(
                                "txn {txn} step {step} ({}): rejected for lack of units \
                                 ({available} left, {needed} needed) while txn {} held or \
                                 took {units} that later aborted",
                                st.service,
                                txns.join(", ")
                            )
                        },
                        Some(seq as u64),
                    );
                }
            }
            _ => {}
        }
    }
}
