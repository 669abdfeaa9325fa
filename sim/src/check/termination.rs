//! Termination: when the run ends, nothing is in progress: no units held by an
//! undecided step, no transaction half done, every transaction committed or aborted.

use super::{last_local_seq, outcomes, step_ends, Outcome, StepEnd, Verdict};
use crate::trace::Trace;

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
}
