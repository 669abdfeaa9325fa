//! Agreement (2PC): no two participants of one transaction reach different decisions:
//! one applies its step while another releases it, refused it or aborted it alone.
//!
//! Replays the trace: a participant's decision is the first local transaction that
//! applies its step (commit) or releases, refuses or tombstones it (abort). The example
//! points at the event where the second, contrary decision was made.

use super::Verdict;
use crate::msg::TxnId;
use crate::store::Write;
use crate::trace::{EventKind, Trace};
use std::collections::{BTreeMap, BTreeSet};

/// What each participant of a transaction decided: (step, commit?) in order.
type Decisions = Vec<(u16, bool)>;

/// Checks agreement by replaying the trace.
pub fn check(trace: &Trace, v: &mut Verdict) {
    let Some(w) = &trace.scenario.write else {
        return;
    };
    let mut decided: BTreeMap<TxnId, Decisions> = BTreeMap::new();
    let mut broken: BTreeSet<TxnId> = BTreeSet::new();
    for (seq, e) in trace.events.iter().enumerate() {
        let EventKind::Local { writes, .. } = &e.kind else {
            continue;
        };
        for wr in writes.iter() {
            let (txn, step, commit) = match *wr {
                Write::Apply { txn, step } => (txn, step, true),
                Write::Release { txn, step }
                | Write::Reject { txn, step, .. }
                | Write::Tombstone { txn, step } => (txn, step, false),
                _ => continue,
            };
            let d = decided.entry(txn).or_default();
            if d.iter().any(|(s, _)| *s == step) {
                continue;
            }
            d.push((step, commit));
            let other = d.iter().find(|(_, c)| *c != commit).copied();
            if let (Some((s2, c2)), false) = (other, broken.contains(&txn)) {
                broken.insert(txn);
                let name = |s: u16| {
                    w.steps
                        .get(usize::from(s))
                        .map_or("?", |x| x.service.as_str())
                };
                let word = |c: bool| if c { "committed" } else { "aborted" };
                v.violation(
                    || {
                        format!(
                            "txn {txn}: step {s2} ({}) {} but step {step} ({}) {}",
                            name(s2),
                            word(c2),
                            name(step),
                            word(commit)
                        )
                    },
                    Some(seq as u64),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::check;
    use crate::check::fixtures::{local, trace_of, two_pc};
    use crate::store::Write;

    fn held() -> Vec<crate::trace::EventKind> {
        vec![
            local(
                0,
                Write::Hold {
                    txn: 1,
                    step: 0,
                    amount: 1,
                },
            ),
            local(
                1,
                Write::Hold {
                    txn: 1,
                    step: 1,
                    amount: 1,
                },
            ),
            local(0, Write::Apply { txn: 1, step: 0 }),
        ]
    }

    #[test]
    fn one_participant_applying_and_another_releasing_disagree() {
        let mut events = held();
        events.push(local(1, Write::Release { txn: 1, step: 1 }));
        let v = check(&trace_of(&two_pc(), events), "agreement");
        assert!(!v.holds);
        assert_eq!(v.at_seq, Some(3));
        assert_eq!(
            v.example.as_deref(),
            Some("txn 1: step 0 (orders) committed but step 1 (payments) aborted")
        );
    }

    #[test]
    fn the_same_decision_everywhere_agrees() {
        let mut events = held();
        events.push(local(1, Write::Apply { txn: 1, step: 1 }));
        assert!(check(&trace_of(&two_pc(), events), "agreement").holds);
    }
}
