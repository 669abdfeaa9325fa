//! Atomicity: when the run ends, no business transaction is applied at one of its
//! steps and absent at another. A step still held undecided is a termination
//! matter, not an atomicity one.

use super::{last_local_seq, outcomes, step_ends, StepEnd, Verdict};
use crate::trace::Trace;

/// Checks atomicity over the final stores.
pub fn check(trace: &Trace, v: &mut Verdict) {
    let Some(w) = &trace.scenario.write else {
        return;
    };
    for (txn, _) in outcomes(trace) {
        let ends = step_ends(trace, txn);
        let applied = ends.contains(&StepEnd::Applied);
        let absent = ends.contains(&StepEnd::Absent);
        if applied && absent {
            let names = |want: StepEnd| {
                ends.iter()
                    .zip(&w.steps)
                    .filter(|(e, _)| **e == want)
                    .map(|(_, s)| s.service.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            v.violation(
                || {
                    format!(
                        "txn {txn}: applied at {}; not at {}",
                        names(StepEnd::Applied),
                        names(StepEnd::Absent)
                    )
                },
                last_local_seq(trace, txn),
            );
        }
    }
}
