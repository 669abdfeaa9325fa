//! Why each aborted transaction aborted, read from the trace (`write.aborted_by`).
//!
//! A transaction's cause is its first *decisive* event, in trace order:
//!
//! | cause | decisive event |
//! |---|---|
//! | `rule` | a `reject` with reason `rule` (the business rule said no) |
//! | `insufficient` | a `reject` with reason `insufficient` (too few units left) |
//! | `tombstone` | a `reject` with reason `tombstone` (a compensation came first) |
//! | `gave-up` | a saga's log records that a step's message was given up (retries exhausted) |
//! | `lock-timeout` | a step's request waited for a locked row (`keys`) until it gave up: refused with reason `lock` under 2PC or the shared database, or its coordinator's vote timeout (the app's statement timeout) expired while it still waited |
//! | `timeout` | a 2PC (or TCC) coordinator decided abort (cancel) with no `no` vote (its vote timeout), or the shared database's app timed its statement out and the database rolled it back before any step refused |
//! | `presumed-abort` | a 2PC abort (TCC cancel) decided by a coordinator recovering from a crash, or presumed by one that forgot (no decision event at all) |
//! | `crash-rollback` | a database rolled the transaction back while recovering from a crash |
//! | `never-accepted` | no node but the client ever received its submit |
//! | `expired` | try-confirm-cancel: accepted, nothing refused and no cancel decided, and every reservation expired before a decision reached it |
//! | `stranded` | accepted, then nothing decided it (a saga begun and never decided; a shared database that went down for good before deciding it) |
//!
//! The set is open: a protocol that can abort for a new reason adds a row here, and
//! `unknown` marks an aborted transaction no row explains (a test keeps the
//! catalogue free of it). The counts add up to `write.aborted`.

use crate::check::{self, Outcome};
use crate::msg::{MsgKind, NodeIx, StepIx, TxnId};
use crate::patterns::step::{key_parts, KeyKind};
use crate::patterns::CLIENT_NODE;
use crate::report::indexmap_like::OrderedMap;
use crate::scenario::Protocol;
use crate::store::{RejectReason, Write};
use crate::trace::{Event, EventKind, Trace};
use std::collections::{BTreeMap, BTreeSet};

/// The causes every report lists, in this order, even when their count is 0.
pub const ALWAYS: [&str; 5] = [
    "rule",
    "insufficient",
    "gave-up",
    "timeout",
    "never-accepted",
];

/// The cause of every aborted transaction, by transaction.
pub fn causes(trace: &Trace) -> BTreeMap<TxnId, &'static str> {
    let decisive = decisive_events(trace);
    let accepted = accepted(trace);
    let presumed = presumed_by_message(trace);
    let told_aborted = told_aborted(trace);
    let protocol = trace.scenario.write.as_ref().map(|w| w.protocol);
    check::outcomes(trace)
        .into_iter()
        .filter(|(_, o)| *o == Outcome::Aborted)
        .map(|(txn, _)| {
            let cause = if let Some(c) = decisive.get(&txn) {
                c
            } else if !accepted.contains(&txn) {
                "never-accepted"
            } else if presumed.contains(&txn) {
                "presumed-abort"
            } else if protocol == Some(Protocol::SharedDatabase) && told_aborted.contains(&txn) {
                // The app's statement timeout in a trace recorded before the app asked
                // the database to roll back: it told the client "failed" and the
                // database never ran the transaction.
                "timeout"
            } else if protocol == Some(Protocol::SharedDatabase) {
                // The database never decided it: down for good with the transaction
                // undecided (the app's rollback request is never answered).
                "stranded"
            } else if protocol == Some(Protocol::TryConfirmCancel) {
                // Nothing decided a cancel and nothing was refused: every reservation
                // ran out before a decision reached it (or none was ever made).
                "expired"
            } else if protocol == Some(Protocol::Saga) {
                "stranded"
            } else {
                "unknown"
            };
            (txn, cause)
        })
        .collect()
}

/// `write.aborted_by`: how many aborted transactions each cause explains; the
/// [`ALWAYS`] causes first, then any other in name order.
pub fn aborted_by(trace: &Trace) -> OrderedMap<u32> {
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for cause in causes(trace).into_values() {
        *counts.entry(cause).or_default() += 1;
    }
    let mut out: Vec<(String, u32)> = ALWAYS
        .iter()
        .map(|c| (c.to_string(), counts.remove(c).unwrap_or(0)))
        .collect();
    out.extend(counts.into_iter().map(|(c, n)| (c.to_string(), n)));
    OrderedMap(out)
}

/// The first decisive event of each transaction that has one.
fn decisive_events(trace: &Trace) -> BTreeMap<TxnId, &'static str> {
    let protocol = trace.scenario.write.as_ref().map(|w| w.protocol);
    let mut first: BTreeMap<TxnId, &'static str> = BTreeMap::new();
    // Per node: has it handled anything since its last restart? A decision made before
    // that is the recovery's.
    let mut recovering: BTreeMap<NodeIx, bool> = BTreeMap::new();
    // Transactions with a request waiting for a row lock (`lock-wait` not yet ended).
    let mut waiting: BTreeSet<(TxnId, StepIx)> = BTreeSet::new();
    let locking = matches!(
        protocol,
        Some(Protocol::TwoPhaseCommit | Protocol::SharedDatabase)
    );
    for e in &trace.events {
        let recovery = recovering.get(&e.node).copied().unwrap_or(false);
        let abort = |txn: TxnId| -> (TxnId, &'static str) {
            let cause = match (recovery, protocol) {
                (false, Some(Protocol::TwoPhaseCommit | Protocol::SharedDatabase))
                    if waiting
                        .range((txn, 0)..=(txn, StepIx::MAX))
                        .next()
                        .is_some() =>
                {
                    "lock-timeout"
                }
                (true, Some(Protocol::TwoPhaseCommit | Protocol::TryConfirmCancel)) => {
                    "presumed-abort"
                }
                (true, _) => "crash-rollback",
                (false, Some(Protocol::TwoPhaseCommit | Protocol::TryConfirmCancel)) => "timeout",
                // The app's statement timeout rolled it back (no step refused first).
                (false, Some(Protocol::SharedDatabase)) => "timeout",
                (false, _) => "unknown",
            };
            (txn, cause)
        };
        let found: Option<(TxnId, &'static str)> = match &e.kind {
            EventKind::Restart => {
                recovering.insert(e.node, true);
                None
            }
            EventKind::Deliver { .. } | EventKind::Timer { .. } => {
                recovering.insert(e.node, false);
                None
            }
            EventKind::LockWait { txn, step, .. } => {
                waiting.insert((*txn, *step));
                None
            }
            EventKind::Lock { txn, step, .. } => {
                waiting.remove(&(*txn, *step));
                None
            }
            EventKind::Reject { txn, reason, .. } => Some((
                *txn,
                match reason {
                    RejectReason::Rule => "rule",
                    RejectReason::Insufficient => "insufficient",
                    RejectReason::Tombstone => "tombstone",
                    RejectReason::Lock if locking => "lock-timeout",
                    RejectReason::Lock => "lock",
                },
            )),
            EventKind::Decide { txn, commit: false } => Some(abort(*txn)),
            EventKind::Local { writes, .. } => writes.iter().find_map(|w| match *w {
                Write::Seen { key } if protocol == Some(Protocol::Saga) => {
                    let (kind, txn, _) = key_parts(key);
                    (kind == KeyKind::GaveUp as u8).then_some((txn, "gave-up"))
                }
                // 2PC and TCC record the same decision as a `decide` event.
                Write::Decide { txn, commit: false }
                    if !matches!(
                        protocol,
                        Some(Protocol::TwoPhaseCommit | Protocol::TryConfirmCancel)
                    ) =>
                {
                    Some(abort(txn))
                }
                _ => None,
            }),
            _ => None,
        };
        if let Some((txn, cause)) = found {
            first.entry(txn).or_insert(cause);
        }
    }
    first
}

/// The transactions of the events `pick` names.
fn txns_where(trace: &Trace, pick: impl Fn(&Event) -> Option<TxnId>) -> BTreeSet<TxnId> {
    trace.events.iter().filter_map(pick).collect()
}

/// Transactions whose submit some node other than the client received.
fn accepted(trace: &Trace) -> BTreeSet<TxnId> {
    txns_where(trace, |e| match e.kind {
        EventKind::Deliver { msg, .. } if msg.kind == MsgKind::Submit && e.node != CLIENT_NODE => {
            Some(msg.txn)
        }
        _ => None,
    })
}

/// Transactions the client was told had aborted.
fn told_aborted(trace: &Trace) -> BTreeSet<TxnId> {
    txns_where(trace, |e| match e.kind {
        EventKind::Outcome {
            txn,
            committed: false,
        } => Some(txn),
        _ => None,
    })
}

/// 2PC transactions a participant was told to abort (a coordinator that kept no
/// decision answers every question with abort).
fn presumed_by_message(trace: &Trace) -> BTreeSet<TxnId> {
    txns_where(trace, |e| match e.kind {
        EventKind::Deliver { msg, .. } if msg.kind == MsgKind::Decide && !msg.ok => Some(msg.txn),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture::Fixture;

    fn scenario(text: &str) -> crate::Scenario {
        crate::Scenario::parse(text, "t.toml").expect("valid")
    }

    /// A saga whose first step rejects half the time and whose second runs out of units.
    fn saga() -> String {
        Fixture::new("saga")
            .services(&["a", "b"])
            .service(1, "capacity = 3")
            .set("transactions", 6)
            .step(0, "reject = 0.5")
            .step(1, "amount = 1")
            .toml()
    }

    #[test]
    fn rule_and_insufficient_rejections_are_told_apart() {
        let s = scenario(&saga());
        let mut seen = BTreeMap::new();
        for seed in 0..20 {
            let t = crate::run(&s, seed).trace;
            for (txn, cause) in causes(&t) {
                // The cause names the reason the trace's first rejection of txn gives.
                let reason = t.events.iter().find_map(|e| match e.kind {
                    EventKind::Reject { txn: x, reason, .. } if x == txn => Some(reason),
                    _ => None,
                });
                let want = match reason {
                    Some(RejectReason::Rule) => "rule",
                    Some(RejectReason::Insufficient) => "insufficient",
                    other => panic!("txn {txn} aborted without a rejection: {other:?}"),
                };
                assert_eq!(cause, want, "seed {seed} txn {txn}");
                *seen.entry(cause).or_insert(0) += 1;
            }
        }
        assert!(
            seen.contains_key("rule") && seen.contains_key("insufficient"),
            "{seen:?}"
        );
    }

    #[test]
    fn the_report_lists_the_usual_causes_first_and_adds_up() {
        let s = scenario(&saga());
        let r = crate::run(&s, 3);
        let w = r.report.write.expect("write");
        let names: Vec<&str> = w.aborted_by.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(&names[..5], &ALWAYS[..]);
        assert_eq!(
            w.aborted_by.0.iter().map(|(_, n)| n).sum::<u32>(),
            w.aborted
        );
    }
}
