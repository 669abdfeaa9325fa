//! Sagas: a business transaction as a sequence of local transactions, each undone by a
//! compensation when a later step fails.
//!
//! - [`orchestrator`]: one node (the orchestrator) tells each service what to do, in
//!   order, and runs the compensations of the completed steps in reverse on a failure.
//! - [`choreography`]: no orchestrator; each service's local commit publishes an event
//!   that triggers the next step, and a failure publishes one that triggers the
//!   compensations back along the chain.
//! - [`service`]: a service's side of an orchestrated saga (commands in, replies out).
//! - [`publish`]: how a node publishes what it did: an outbox in the same local
//!   transaction, relayed from the store, or a direct send after the commit.
//! - [`semantic_lock`]: the countermeasure that keeps other sagas from deciding on
//!   units of a saga that may still abort; [`pessimistic_order`] the other one.
//!
//! The local step every service runs (take the units, or refuse) and the keys services
//! de-duplicate messages by are in [`super::step`], shared with two-phase commit and
//! try-confirm-cancel; the node that hosts a coordinator on a service's node is
//! [`super::hosted`]. Both are re-exported here. Compensation is the saga's own.

pub mod choreography;
pub mod orchestrator;
pub mod publish;
pub mod semantic_lock;
pub mod service;

pub use super::hosted::{Hosted, SERVICE_TIMERS};
pub use super::step::{
    judge, key, key_parts, record_refusal, refusal, state, take, KeyKind, StepRule, SERVICE_STORE,
};

use super::{service_index, Idle, Layout};
use crate::msg::{NodeIx, TxnId};
use crate::node::{Cx, Node};
use crate::scenario::{Coordination, Countermeasure, Scenario, Service as ServiceSection};
use crate::scenario::{Step, Write as WriteSection};
use crate::store::{StepState, Write};
use crate::trace::Local;

/// Builds the node `ix` of a saga.
pub fn build(s: &Scenario, l: &Layout, ix: NodeIx) -> Box<dyn Node> {
    let w = s.write.as_ref().expect("a saga has a write section");
    if w.coordination == Coordination::Choreography {
        return match StepRule::of(s, l, ix) {
            Some(rule) => Box::new(choreography::Service::new(s, l, rule)),
            None => Box::new(Idle),
        };
    }
    let service = StepRule::of(s, l, ix).map(|rule| {
        let svc = service_index(s, &w.steps[usize::from(rule.step)].service);
        let service = service::Service::new(s.idempotent_of(svc), rule);
        match w.countermeasure {
            Countermeasure::SemanticLock => service.with_lock(w.timeout_ms * 1000),
            _ => service,
        }
    });
    if l.coordinator == Some(ix) {
        let log = l.node_stores[usize::from(ix)].len() - 1;
        let orch = orchestrator::Orchestrator::new(s, l, log);
        return match service {
            Some(svc) => Box::new(Hosted::new(orch, svc, orchestrator::is_for_orchestrator)),
            None => Box::new(orch),
        };
    }
    match service {
        Some(svc) => Box::new(svc),
        None => Box::new(Idle),
    }
}

/// The run order of a pessimistic view, as indices into `w.steps`: first the steps
/// the business rule may refuse (`reject > 0`), then those whose service cannot run
/// out (capacity for every transaction), then the scarce ones; file order within each.
/// Units taken by the last step are never given back, since nothing after it can
/// fail; with one scarce step, no saga is refused for units that are later returned.
pub fn pessimistic_order(services: &[ServiceSection], w: &WriteSection) -> Vec<usize> {
    let group = |st: &Step| -> u8 {
        if st.reject > 0.0 {
            return 0;
        }
        let capacity = services
            .iter()
            .find(|x| x.name == st.service)
            .map_or(i64::MAX, |x| x.capacity);
        let demand = i128::from(st.amount) * i128::from(w.transactions);
        if i128::from(capacity) >= demand {
            1
        } else {
            2
        }
    };
    let mut order: Vec<usize> = (0..w.steps.len()).collect();
    order.sort_by_key(|&i| group(&w.steps[i]));
    order
}

/// Runs a compensation of (`txn`, `rule.step`) as a local transaction with `extra`
/// writes. Idempotent: only an applied step gives its units back, and a compensation
/// that finds no step leaves a tombstone. Not idempotent: whatever was taken is given
/// back again, every time. Returns whether units were given back.
pub fn compensate(
    cx: &mut Cx,
    txn: TxnId,
    rule: StepRule,
    idempotent: bool,
    mut extra: Vec<Write>,
) -> bool {
    let step = rule.step;
    let st = state(cx, txn, step);
    let gives_back = match st {
        Some(StepState::Applied) => true,
        Some(StepState::Compensated) => !idempotent,
        _ => false,
    };
    if gives_back {
        extra.insert(0, Write::Compensate { txn, step });
        cx.commit(SERVICE_STORE, Local::Compensate, txn, step, &extra);
    } else {
        if st.is_none() && idempotent {
            extra.insert(0, Write::Tombstone { txn, step });
        }
        if !extra.is_empty() {
            cx.commit(SERVICE_STORE, Local::Log, txn, step, &extra);
        }
    }
    gives_back
}
