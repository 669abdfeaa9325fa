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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::check::check;
    use crate::msg::StepIx;
    use crate::scenario::Scenario;
    use crate::store::Write;
    use crate::trace::{Counters, Event, Local, StopReason};

    /// A trace of scenario `text` with `events` in order; its final stores are the
    /// replay of its local transactions.
    pub(in crate::check) fn trace_of(text: &str, events: Vec<EventKind>) -> Trace {
        let s = Scenario::parse(text, "t.toml").unwrap();
        let l = crate::patterns::layout(&s);
        let mut finals: Vec<Snapshot> =
            l.stores.iter().map(|s| Snapshot::new(s.capacity)).collect();
        for e in &events {
            if let EventKind::Local { store, writes, .. } = e {
                for w in writes.iter() {
                    finals[usize::from(*store)].apply(w);
                }
            }
        }
        Trace {
            scenario: s,
            seed: 0,
            nodes: l.nodes,
            stores: l.stores,
            event_count: events.len() as u64,
            events: events
                .into_iter()
                .map(|kind| Event {
                    t_us: 0,
                    node: 1,
                    kind,
                })
                .collect(),
            hash: 0,
            counters: Counters::default(),
            end_us: 0,
            stop: StopReason::Quiescent,
            final_stores: finals,
        }
    }

    /// A local transaction of one write on store `store`.
    pub(in crate::check) fn local(store: u16, w: Write) -> EventKind {
        let (txn, step) = match w {
            Write::Take { txn, step, .. }
            | Write::Hold { txn, step, .. }
            | Write::Apply { txn, step }
            | Write::Release { txn, step }
            | Write::Compensate { txn, step } => (txn, step),
            _ => (0, 0),
        };
        EventKind::Local {
            what: Local::Commit,
            store,
            txn,
            step,
            writes: vec![w].into(),
        }
    }

    const SCARCE: &str = r#"
name = "t"
[[service]]
name = "inventory"
capacity = 4
[write]
protocol = "saga"
transactions = 2
steps = [{ service = "inventory", amount = 4 }]
"#;

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
            SCARCE,
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
            SCARCE,
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
