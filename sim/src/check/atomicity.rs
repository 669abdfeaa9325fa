//! Atomicity: when the run ends, no business transaction is applied at one of its
//! steps and absent at another. A step still held undecided is a termination
//! matter, not an atomicity one.

use super::{Index, StepEnd, Verdict};
use crate::trace::Trace;

/// Checks atomicity over the final stores.
pub fn check(trace: &Trace, ix: &Index, v: &mut Verdict) {
    let Some(w) = &trace.scenario.write else {
        return;
    };
    for &(txn, _) in ix.outcomes() {
        let ends = ix.step_ends(txn);
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
                ix.last_local_seq(txn),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::check;
    use crate::check::fixtures::{local, take, trace_of};
    use crate::store::Write;
    use crate::testing::fixture::Fixture;

    /// A saga over orders and payments, two transactions, the second step taking 3.
    fn two_steps() -> String {
        Fixture::new("saga")
            .services(&["orders", "payments"])
            .set("transactions", 2)
            .step(1, "amount = 3")
            .toml()
    }

    #[test]
    fn a_transaction_applied_at_one_step_only_breaks_atomicity() {
        let events = vec![
            local(0, take(1, 0, 1)),
            local(1, take(1, 1, 3)),
            local(0, take(2, 0, 1)),
        ];
        let v = check(&trace_of(&two_steps(), events), "atomicity");
        assert!(!v.holds);
        assert_eq!(v.violations, 1);
        assert_eq!(v.at_seq, Some(2), "its last local transaction");
        assert_eq!(
            v.example.as_deref(),
            Some("txn 2: applied at orders; not at payments")
        );
    }

    #[test]
    fn applied_everywhere_or_compensated_everywhere_is_atomic() {
        let events = vec![
            local(0, take(1, 0, 1)),
            local(1, take(1, 1, 3)),
            local(0, take(2, 0, 1)),
            local(0, Write::Compensate { txn: 2, step: 0 }),
        ];
        assert!(check(&trace_of(&two_steps(), events), "atomicity").holds);
    }
}
