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
