//! Consistent reads: every composed read saw the same outcome for a transaction at
//! every source that answered it.
//!
//! Read from the trace alone: the gateway's `query` sends say which call belongs to
//! which read and source; the `answer`s the gateway received before the read's `read`
//! event are what it joined (the first per source; later ones it ignored). A source
//! whose service runs no step of the transaction cannot see it and is left out. The
//! read is inconsistent when one source shows the transaction in effect (applied) and
//! another does not (absent, held, undone), or one source shows it half in effect.

use super::Verdict;
use crate::msg::{MsgId, StepIx};
use crate::read::{self, Seen};
use crate::trace::Role;
use crate::trace::{EventKind, Trace};
use std::collections::BTreeMap;

/// Checks consistent-reads over the trace's events.
pub fn check(trace: &Trace, v: &mut Verdict) {
    let s = &trace.scenario;
    let involved: Vec<bool> = (0..s.services.len())
        .map(|i| !read::steps_of(s, i).is_empty())
        .collect();
    let gateways: Vec<bool> = trace
        .nodes
        .iter()
        .map(|n| n.role == Role::Gateway)
        .collect();
    let is_gateway = |ix: u16| gateways.get(usize::from(ix)).copied().unwrap_or(false);
    // Call id -> (query, service); query -> answers by service, first one kept.
    let mut calls: BTreeMap<MsgId, (u32, StepIx)> = BTreeMap::new();
    let mut answers: BTreeMap<u32, BTreeMap<StepIx, Seen>> = BTreeMap::new();
    for (seq, e) in trace.events.iter().enumerate() {
        if !is_gateway(e.node) {
            continue;
        }
        match &e.kind {
            EventKind::Send { msg, .. } if msg.kind == crate::msg::MsgKind::Query => {
                calls.insert(msg.id, (msg.value as u32, msg.step));
            }
            EventKind::Deliver { msg, .. } if msg.kind == crate::msg::MsgKind::Answer => {
                let (Some(&(query, service)), Some(seen)) =
                    (calls.get(&msg.re), Seen::from_code(msg.value))
                else {
                    continue;
                };
                answers
                    .entry(query)
                    .or_default()
                    .entry(service)
                    .or_insert(seen);
            }
            EventKind::Read { query, txn, .. } => {
                let Some(got) = answers.remove(query) else {
                    continue;
                };
                let got: Vec<(StepIx, Seen)> = got
                    .into_iter()
                    .filter(|(svc, _)| involved.get(usize::from(*svc)) == Some(&true))
                    .collect();
                let effects: Vec<Option<bool>> = got.iter().map(|(_, s)| s.in_effect()).collect();
                let torn = effects.contains(&None)
                    || (effects.contains(&Some(true)) && effects.contains(&Some(false)));
                if torn {
                    let describe = || {
                        let parts: Vec<String> = got
                            .iter()
                            .map(|(svc, seen)| {
                                format!("{} {}", s.services[usize::from(*svc)].name, seen.name())
                            })
                            .collect();
                        format!("query {query}, txn {txn}: saw {}", parts.join(", "))
                    };
                    v.violation(describe, Some(seq as u64));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::check;
    use crate::check::fixtures::trace_at;
    use crate::msg::{Msg, MsgKind, NodeIx};
    use crate::read::{ReadResult, Seen};
    use crate::testing::fixture::Fixture;
    use crate::trace::{EventKind, Role};

    /// A saga over orders and payments, read by API composition over those and audit.
    fn composed() -> String {
        Fixture::new("saga")
            .services(&["orders", "payments", "audit"])
            .steps(&["orders", "payments"])
            .set("transactions", 1)
            .section("[read]\nmethod = \"api-composition\"")
            .toml()
    }

    /// The events of query 1 about txn 1: the gateway calls every service, hears
    /// `answers` (service index, what it saw) in that order, and joins them.
    fn read(answers: &[(u16, Seen)]) -> Vec<(NodeIx, EventKind)> {
        let t = trace_at(&composed(), vec![]);
        let gw = t
            .nodes
            .iter()
            .position(|n| n.role == Role::Gateway)
            .unwrap() as NodeIx;
        let mut events = Vec::new();
        for svc in 0..3u16 {
            let mut msg = Msg::new(MsgKind::Query, 1, svc).value(1);
            msg.id = 100 + u32::from(svc);
            events.push((gw, EventKind::Send { to: svc + 1, msg }));
        }
        for &(svc, seen) in answers {
            let mut msg = Msg::new(MsgKind::Answer, 1, svc)
                .value(seen.code())
                .re(100 + u32::from(svc));
            msg.id = 200 + events.len() as u32;
            events.push((gw, EventKind::Deliver { from: svc + 1, msg }));
        }
        let result = ReadResult::Complete;
        let done = EventKind::Read {
            query: 1,
            txn: 1,
            result,
            latency_us: 0,
        };
        events.push((gw, done));
        events
    }

    #[test]
    fn a_read_that_sees_a_transaction_applied_at_one_source_only_is_torn() {
        let events = read(&[(0, Seen::Applied), (1, Seen::Absent)]);
        let v = check(&trace_at(&composed(), events), "consistent-reads");
        assert!(!v.holds);
        assert_eq!(v.at_seq, Some(5), "the read");
        assert_eq!(
            v.example.as_deref(),
            Some("query 1, txn 1: saw orders applied, payments absent")
        );
    }

    #[test]
    fn the_same_outcome_everywhere_is_consistent() {
        // The service with no step of the transaction, and a later second answer, are
        // left out of the join.
        let events = read(&[
            (0, Seen::Applied),
            (2, Seen::Absent),
            (1, Seen::Applied),
            (1, Seen::Absent),
        ]);
        assert!(check(&trace_at(&composed(), events), "consistent-reads").holds);
    }
}
