//! Convergence: at the end, every read view equals what its sources hold.
//!
//! For every step record in a source store (a service in `read.sources`), the view's
//! row for that (transaction, step) must hold the same state; and the view holds no
//! row its sources do not. Judged from the final stores, like every outcome.

use super::{last_local_seq, Verdict};
use crate::read::{self, state_code, state_from_code};
use crate::trace::{Role, Trace};
use std::collections::BTreeMap;

/// Checks convergence over the final stores.
pub fn check(trace: &Trace, v: &mut Verdict) {
    let s = &trace.scenario;
    let Some(view_node) = trace.nodes.iter().position(|n| n.role == Role::View) else {
        return;
    };
    let Some(view_store) = trace
        .stores
        .iter()
        .position(|st| usize::from(st.node) == view_node)
    else {
        return;
    };
    let view = &trace.final_stores[view_store].view;
    // What the sources hold, by row, with the service name for the example.
    let mut truth = BTreeMap::new();
    for svc in read::sources(s) {
        let Some(store) = trace.stores.iter().position(|st| st.service == Some(svc)) else {
            continue;
        };
        for (row, rec) in &trace.final_stores[store].steps {
            truth.insert(*row, (state_code(rec.state), s.services[svc].name.as_str()));
        }
    }
    let name = |code: Option<&i64>| {
        code.and_then(|c| state_from_code(*c))
            .map_or("nothing", |st| st.name())
    };
    for (&(txn, step), &(code, service)) in &truth {
        let has = view.get(&(txn, step));
        if has != Some(&code) {
            v.violation(
                || {
                    format!(
                        "txn {txn} step {step}: {service} holds {}, the view holds {}",
                        name(Some(&code)),
                        name(has)
                    )
                },
                last_local_seq(trace, txn),
            );
        }
    }
    for (&(txn, step), code) in view {
        if !truth.contains_key(&(txn, step)) {
            v.violation(
                || {
                    format!(
                        "txn {txn} step {step}: the view holds {}, no source holds it",
                        name(Some(code))
                    )
                },
                last_local_seq(trace, txn),
            );
        }
    }
}
