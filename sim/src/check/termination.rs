//! Termination: when the run ends, nothing is in progress: no units held by an
//! undecided step, no transaction half done, every transaction committed or aborted,
//! and no saga still waiting at its orchestrator (begun in its log, never decided, even
//! if nothing is applied anywhere).

use super::{Index, Outcome, StepEnd, Verdict};
use crate::msg::TxnId;
use crate::patterns::step::{key_parts, KeyKind};
use crate::scenario::{Coordination, Protocol};
use crate::trace::Trace;

/// Checks termination over the final stores.
pub fn check(trace: &Trace, ix: &Index, v: &mut Verdict) {
    let Some(w) = &trace.scenario.write else {
        return;
    };
    for &(txn, outcome) in ix.outcomes() {
        if outcome != Outcome::Unfinished {
            continue;
        }
        let ends = ix.step_ends(txn);
        let describe = || {
            let parts: Vec<String> = ends
                .iter()
                .zip(&w.steps)
                .map(|(e, s)| {
                    let state = match e {
                        StepEnd::Applied => "applied",
                        StepEnd::Held => "held, undecided",
                        StepEnd::Absent => "absent",
                    };
                    format!("{} {state}", s.service)
                })
                .collect();
            format!("txn {txn} never finished: {}", parts.join(", "))
        };
        v.violation(describe, ix.last_local_seq(txn));
    }
    let unfinished = |txn: TxnId| {
        ix.outcomes()
            .get((txn as usize).wrapping_sub(1))
            .is_some_and(|(_, o)| *o == Outcome::Unfinished)
    };
    for txn in waiting_sagas(trace) {
        if !unfinished(txn) {
            let at = w.coordinator_name();
            v.violation(
                || format!("txn {txn}: the saga is still waiting at {at}, never decided"),
                ix.last_local_seq(txn),
            );
        }
    }
}

/// Sagas begun in the orchestrator's log and never decided there.
fn waiting_sagas(trace: &Trace) -> Vec<TxnId> {
    let Some(w) = &trace.scenario.write else {
        return vec![];
    };
    if w.protocol != Protocol::Saga || w.coordination != Coordination::Orchestration {
        return vec![];
    }
    let Some(node) = trace.node_ix(w.coordinator_name()) else {
        return vec![];
    };
    let Some(log) = trace
        .stores
        .iter()
        .position(|s| s.node == node && s.service.is_none())
    else {
        return vec![];
    };
    let log = &trace.final_stores[log];
    log.seen
        .iter()
        .map(|k| key_parts(*k))
        .filter(|(kind, txn, _)| *kind == KeyKind::Start as u8 && !log.decisions.contains_key(txn))
        .map(|(_, txn, _)| txn)
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::check::check;
    use crate::check::fixtures::{local, local_of, take, trace_of, two_pc};
    use crate::patterns::step::{key, KeyKind};
    use crate::store::Write;
    use crate::testing::fixture::Fixture;
    use crate::trace::Trace;

    /// A one-step saga on orders, two transactions.
    fn saga() -> String {
        Fixture::new("saga")
            .services(&["orders"])
            .set("transactions", 2)
            .toml()
    }

    fn hold(txn: u32, step: u16) -> Write {
        Write::Hold {
            txn,
            step,
            amount: 1,
        }
    }

    /// The orchestrator's log store in `t`.
    fn log(t: &Trace) -> u16 {
        t.stores.iter().position(|s| s.service.is_none()).unwrap() as u16
    }

    #[test]
    fn units_held_undecided_at_the_end_break_termination() {
        let events = vec![
            local(0, hold(1, 0)),
            local(1, hold(1, 1)),
            local(0, Write::Apply { txn: 1, step: 0 }),
        ];
        let v = check(&trace_of(&two_pc(), events), "termination");
        assert!(!v.holds);
        assert_eq!(v.at_seq, Some(2));
        assert_eq!(
            v.example.as_deref(),
            Some("txn 1 never finished: orders applied, payments held, undecided")
        );
    }

    #[test]
    fn a_decided_transaction_terminates() {
        let events = vec![
            local(0, hold(1, 0)),
            local(1, hold(1, 1)),
            local(0, Write::Apply { txn: 1, step: 0 }),
            local(1, Write::Apply { txn: 1, step: 1 }),
        ];
        assert!(check(&trace_of(&two_pc(), events), "termination").holds);
    }

    #[test]
    fn a_saga_begun_and_never_decided_at_its_orchestrator_breaks_termination() {
        let begun = |txn| Write::Seen {
            key: key(KeyKind::Start, txn, 0),
        };
        let mut t = trace_of(&saga(), vec![]);
        let at = log(&t);
        t = trace_of(
            &saga(),
            vec![
                local_of(at, vec![begun(1)]),
                local(0, take(1, 0, 1)),
                local_of(
                    at,
                    vec![Write::Decide {
                        txn: 1,
                        commit: true,
                    }],
                ),
                local_of(at, vec![begun(2)]),
            ],
        );
        let v = check(&t, "termination");
        assert!(!v.holds);
        assert_eq!(v.violations, 1, "txn 1 was decided");
        assert_eq!(
            v.example.as_deref(),
            Some("txn 2: the saga is still waiting at coordinator, never decided")
        );
        t = trace_of(
            &saga(),
            vec![
                local_of(at, vec![begun(2)]),
                local_of(
                    at,
                    vec![Write::Decide {
                        txn: 2,
                        commit: false,
                    }],
                ),
            ],
        );
        assert!(check(&t, "termination").holds);
    }
}
