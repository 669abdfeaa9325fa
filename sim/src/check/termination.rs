//! Termination: when the run ends, nothing is in progress: no units held by an
//! undecided step, no transaction half done, every transaction committed or aborted,
//! and no saga still waiting at its orchestrator (begun in its log, never decided, even
//! if nothing is applied anywhere).

use super::{last_local_seq, outcomes, step_ends, Outcome, StepEnd, Verdict};
use crate::msg::TxnId;
use crate::patterns::saga::{key_parts, KeyKind};
use crate::scenario::{Coordination, Protocol};
use crate::trace::Trace;
use std::collections::BTreeSet;

/// Checks termination over the final stores.
pub fn check(trace: &Trace, v: &mut Verdict) {
    let Some(w) = &trace.scenario.write else {
        return;
    };
    for (txn, outcome) in outcomes(trace) {
        if outcome != Outcome::Unfinished {
            continue;
        }
        let ends = step_ends(trace, txn);
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
        v.violation(describe, last_local_seq(trace, txn));
    }
    let unfinished: BTreeSet<TxnId> = outcomes(trace)
        .into_iter()
        .filter(|(_, o)| *o == Outcome::Unfinished)
        .map(|(t, _)| t)
        .collect();
    for txn in waiting_sagas(trace) {
        if !unfinished.contains(&txn) {
            let at = w.coordinator_name();
            v.violation(
                || format!("txn {txn}: the saga is still waiting at {at}, never decided"),
                last_local_seq(trace, txn),
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
