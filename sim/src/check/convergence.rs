//! Convergence: at the end, every read view equals what its sources hold.
//!
//! For every step record in a source store (a service in `read.sources`), the view's
//! row for that (transaction, step) must hold the same state; and the view holds no
//! row its sources do not. Judged from the final stores, like every outcome.

use super::{Index, Verdict};
use crate::read::{self, state_code, state_from_code};
use crate::trace::{Role, Trace};
use std::collections::BTreeMap;

/// Checks convergence over the final stores.
pub fn check(trace: &Trace, ix: &Index, v: &mut Verdict) {
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
                ix.last_local_seq(txn),
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
                ix.last_local_seq(txn),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::check;
    use crate::check::fixtures::{local, take, trace_of};
    use crate::read::state_code;
    use crate::store::{StepState, Write};
    use crate::testing::fixture::Fixture;
    use crate::trace::{EventKind, Role, Trace};

    /// A saga over orders and payments, read from a CQRS view.
    fn viewed() -> String {
        Fixture::new("saga")
            .services(&["orders", "payments"])
            .set("transactions", 2)
            .section("[read]\nmethod = \"cqrs-view\"")
            .toml()
    }

    /// The view's store in `t`.
    fn view_store(t: &Trace) -> u16 {
        let node = t.nodes.iter().position(|n| n.role == Role::View).unwrap();
        t.stores
            .iter()
            .position(|s| usize::from(s.node) == node)
            .unwrap() as u16
    }

    fn shows(store: u16, txn: u32, step: u16, state: StepState) -> EventKind {
        let state = state_code(state);
        let version = txn * 10 + u32::from(step);
        local(
            store,
            Write::View {
                txn,
                step,
                state,
                version,
            },
        )
    }

    /// Txn 1 applied at both services, txn 2 applied at orders then compensated.
    fn sources() -> Vec<EventKind> {
        vec![
            local(0, take(1, 0, 1)),
            local(1, take(1, 1, 1)),
            local(0, take(2, 0, 1)),
            local(0, Write::Compensate { txn: 2, step: 0 }),
        ]
    }

    #[test]
    fn a_view_that_shows_every_source_row_as_it_is_converges() {
        let view = view_store(&trace_of(&viewed(), vec![]));
        let mut events = sources();
        events.extend([
            shows(view, 1, 0, StepState::Applied),
            shows(view, 1, 1, StepState::Applied),
            shows(view, 2, 0, StepState::Applied),
            shows(view, 2, 0, StepState::Compensated),
        ]);
        assert!(check(&trace_of(&viewed(), events), "convergence").holds);
    }

    #[test]
    fn a_stale_missing_or_invented_row_breaks_convergence() {
        let view = view_store(&trace_of(&viewed(), vec![]));
        let mut events = sources();
        events.extend([
            shows(view, 1, 0, StepState::Applied),
            shows(view, 2, 0, StepState::Applied),
            shows(view, 3, 0, StepState::Applied),
        ]);
        let v = check(&trace_of(&viewed(), events), "convergence");
        assert!(!v.holds);
        assert_eq!(
            v.violations, 3,
            "stale txn 2, missing txn 1 step 1, invented txn 3"
        );
        assert_eq!(
            v.example.as_deref(),
            Some("txn 1 step 1: payments holds applied, the view holds nothing")
        );
        assert_eq!(v.at_seq, Some(4), "the last local transaction about txn 1");
    }
}
