//! Isolation: no step was rejected for lack of units that, at that moment, were taken
//! or held by transactions that later aborted. A saga's local commits are visible at
//! once, so a transaction that will be compensated can starve another: a dirty read.
//!
//! Replays the trace, following only what transactions that ended aborted (judged from
//! the final stores) did at each store: at each refusal for too few units, the units
//! they had taken or held there. If those units would have been enough, the refusal
//! was caused by work that never counted: a violation.

use super::{service_store, Index, Outcome, Verdict};
use crate::msg::{StepIx, TxnId};
use crate::store::{RejectReason, Snapshot, StepState};
use crate::trace::{EventKind, Trace};
use std::collections::BTreeSet;

/// Units (`txn`, `step`) takes or holds in `s`.
fn dirty_units(s: &Snapshot, txn: TxnId, step: StepIx) -> i64 {
    match s.steps.get(&(txn, step)) {
        Some(r) if matches!(r.state, StepState::Applied | StepState::Held) => r.amount,
        _ => 0,
    }
}

/// Checks isolation by replaying the trace.
pub fn check(trace: &Trace, ix: &Index, v: &mut Verdict) {
    let Some(w) = &trace.scenario.write else {
        return;
    };
    let aborted: BTreeSet<TxnId> = ix
        .outcomes()
        .iter()
        .filter(|(_, o)| *o == Outcome::Aborted)
        .map(|(t, _)| *t)
        .collect();
    let step_store: Vec<usize> = w
        .steps
        .iter()
        .map(|st| service_store(trace, &st.service))
        .collect();
    // Per store: the aborted transactions' records, and the units they take or hold.
    let mut dirty: Vec<Snapshot> = trace.stores.iter().map(|_| Snapshot::default()).collect();
    let mut units: Vec<i64> = vec![0; trace.stores.len()];
    for (seq, e) in trace.events.iter().enumerate() {
        match &e.kind {
            EventKind::Local { store, writes, .. } => {
                let ix = usize::from(*store);
                for wr in writes.iter() {
                    let Some((txn, step)) = wr.row().filter(|(t, _)| aborted.contains(t)) else {
                        continue;
                    };
                    let before = dirty_units(&dirty[ix], txn, step);
                    dirty[ix].apply(wr);
                    units[ix] += dirty_units(&dirty[ix], txn, step) - before;
                }
            }
            EventKind::Reject {
                txn,
                step,
                reason: RejectReason::Insufficient,
                available,
                needed,
            } => {
                let Some(&store) = step_store.get(usize::from(*step)) else {
                    continue;
                };
                let held = units[store];
                if held > 0 && available + held >= *needed {
                    let service = &w.steps[usize::from(*step)].service;
                    let snap = &dirty[store];
                    v.violation(
                        || {
                            let mut by: Vec<String> = snap
                                .steps
                                .iter()
                                .filter(|((t, s), _)| dirty_units(snap, *t, *s) > 0)
                                .map(|((t, _), _)| t.to_string())
                                .collect();
                            by.dedup();
                            format!(
                                "txn {txn} step {step} ({service}): rejected for lack of units \
                                 ({available} left, {needed} needed) while txn {} held or \
                                 took {held} that later aborted",
                                by.join(", ")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check;
    use crate::check::fixtures::{local, trace_of};
    use crate::msg::StepIx;
    use crate::store::Write;
    use crate::testing::fixture::Fixture;

    /// Two sagas each taking all 4 of inventory's units.
    fn scarce() -> String {
        Fixture::new("saga")
            .services(&["inventory"])
            .service(0, "capacity = 4")
            .set("transactions", 2)
            .step(0, "amount = 4")
            .toml()
    }

    fn refused(txn: TxnId, step: StepIx) -> EventKind {
        EventKind::Reject {
            txn,
            step,
            reason: RejectReason::Insufficient,
            available: 0,
            needed: 4,
        }
    }

    #[test]
    fn a_refusal_for_units_an_aborted_saga_held_is_a_dirty_read() {
        let t = trace_of(
            &scarce(),
            vec![
                local(
                    0,
                    Write::Take {
                        txn: 1,
                        step: 0,
                        amount: 4,
                    },
                ),
                refused(2, 0),
                local(0, Write::Compensate { txn: 1, step: 0 }),
            ],
        );
        let v = check(&t, "isolation");
        assert!(!v.holds);
        assert_eq!(v.at_seq, Some(1));
        let ex = v.example.unwrap();
        assert!(
            ex.starts_with("txn 2 step 0 (inventory)") && ex.contains("txn 1"),
            "{ex}"
        );
    }

    #[test]
    fn a_refusal_for_units_a_committed_saga_took_is_not() {
        let t = trace_of(
            &scarce(),
            vec![
                local(
                    0,
                    Write::Take {
                        txn: 1,
                        step: 0,
                        amount: 4,
                    },
                ),
                refused(2, 0),
            ],
        );
        assert!(check(&t, "isolation").holds);
    }
}
