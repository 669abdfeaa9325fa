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
//! Shared here: the local step every service runs (take the units, or refuse), the keys
//! services de-duplicate messages by, and the node that hosts an orchestrator (or a 2PC
//! coordinator) on a service's node.

pub mod choreography;
pub mod orchestrator;
pub mod publish;
pub mod semantic_lock;
pub mod service;

use super::{service_index, Idle, Layout};
use crate::keyed::Purpose;
use crate::msg::{Msg, MsgKind, NodeIx, StepIx, TxnId};
use crate::node::{timer_parts, Cx, Node};
use crate::scenario::{Coordination, Countermeasure, Scenario, Service as ServiceSection};
use crate::scenario::{Step, Write as WriteSection};
use crate::store::{RejectReason, StepState, Write};
use crate::trace::{EventKind, Local};

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

/// The one step a service runs in each business transaction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepRule {
    /// Its index in `write.steps`.
    pub step: StepIx,
    /// Units it takes.
    pub amount: i64,
    /// Probability the business rule refuses it.
    pub reject: f64,
}

impl StepRule {
    /// The step run by the service on node `ix`, if it runs one.
    pub fn of(s: &Scenario, l: &Layout, ix: NodeIx) -> Option<StepRule> {
        let w = s.write.as_ref()?;
        w.steps.iter().enumerate().find_map(|(i, st)| {
            let svc = service_index(s, &st.service);
            (l.service_node[svc] == ix).then_some(StepRule {
                step: i as StepIx,
                amount: st.amount,
                reject: st.reject,
            })
        })
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

/// The service's store on its node: always local index 0 (see `Layout`).
pub const SERVICE_STORE: usize = 0;

/// What a processed message was, for its de-duplication key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum KeyKind {
    /// A command to run the step.
    Do = 1,
    /// A compensation.
    Undo = 2,
    /// Choreography: the previous step's success event.
    Forward = 3,
    /// Choreography: the next step's failure event.
    Backward = 4,
    /// Choreography: the client's submit at the first service.
    Submit = 5,
    /// Semantic lock: the step's saga committed; its units are no longer pending.
    Settled = 6,
    /// Orchestrator log: the saga began.
    Start = 10,
    /// Orchestrator log: a step was applied.
    Applied = 11,
    /// Orchestrator log: a step was rejected.
    Failed = 12,
    /// Orchestrator log: a step's command was given up on (outcome unknown).
    GaveUp = 13,
    /// Orchestrator log: a step was compensated.
    Undone = 14,
    /// 2PC coordinator log: a transaction began.
    Began = 20,
    /// 2PC coordinator log: every participant and the client acknowledged the end.
    Ended = 21,
}

/// The de-duplication (or log) key of (`kind`, `txn`, `step`).
pub fn key(kind: KeyKind, txn: TxnId, step: StepIx) -> u64 {
    (u64::from(kind as u8) << 56) | (u64::from(txn) << 16) | u64::from(step)
}

/// Unpacks [`key`]: (kind byte, txn, step).
pub fn key_parts(key: u64) -> (u8, TxnId, StepIx) {
    ((key >> 56) as u8, (key >> 16) as TxnId, key as StepIx)
}

/// Decides a forward step: the business rule, then the units left. A refusal is
/// recorded as an event (with what was available) and returned; the caller commits
/// it with [`refusal`] in its own local transaction.
pub fn judge(cx: &mut Cx, store: usize, txn: TxnId, rule: StepRule) -> Option<RejectReason> {
    let available = cx.store(store).available();
    let key = [u64::from(txn), u64::from(rule.step)];
    let reason = if cx.chance_for(Purpose::Rule, &key, rule.reject) {
        RejectReason::Rule
    } else if available < rule.amount {
        RejectReason::Insufficient
    } else {
        return None;
    };
    cx.event(EventKind::Reject {
        txn,
        step: rule.step,
        reason,
        available,
        needed: rule.amount,
    });
    Some(reason)
}

/// The write recording a refusal.
pub fn refusal(txn: TxnId, rule: StepRule, reason: RejectReason) -> Write {
    Write::Reject {
        txn,
        step: rule.step,
        amount: rule.amount,
        reason,
    }
}

/// The write taking a step's units.
pub fn take(txn: TxnId, rule: StepRule) -> Write {
    Write::Take {
        txn,
        step: rule.step,
        amount: rule.amount,
    }
}

/// The state of (`txn`, `step`) in the service store.
pub fn state(cx: &Cx, txn: TxnId, step: StepIx) -> Option<StepState> {
    cx.store(SERVICE_STORE).record(txn, step).map(|r| r.state)
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

/// An orchestrator (or 2PC coordinator) and a service sharing one node: the service's
/// store is local index 0, the coordinator's log index 1. A crash takes both down.
#[derive(Debug)]
pub struct Hosted<C: Node, S: Node> {
    coordinator: C,
    service: S,
    for_coordinator: fn(&Msg) -> bool,
}

/// Timer purposes at or above this belong to the hosted service.
pub const SERVICE_TIMERS: u8 = 64;

impl<C: Node, S: Node> Hosted<C, S> {
    /// Both halves; `for_coordinator` routes a message (acks go to both).
    pub fn new(coordinator: C, service: S, for_coordinator: fn(&Msg) -> bool) -> Self {
        Hosted {
            coordinator,
            service,
            for_coordinator,
        }
    }
}

impl<C: Node, S: Node> Node for Hosted<C, S> {
    fn on_start(&mut self, cx: &mut Cx) {
        self.service.on_start(cx);
        self.coordinator.on_start(cx);
    }
    fn on_recover(&mut self, cx: &mut Cx) {
        self.service.on_recover(cx);
        self.coordinator.on_recover(cx);
    }
    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        if msg.kind == MsgKind::Ack {
            self.coordinator.on_message(cx, from, msg);
            self.service.on_message(cx, from, msg);
        } else if (self.for_coordinator)(&msg) {
            self.coordinator.on_message(cx, from, msg);
        } else {
            self.service.on_message(cx, from, msg);
        }
    }
    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        if timer_parts(timer).0 >= SERVICE_TIMERS {
            self.service.on_timer(cx, timer);
        } else {
            self.coordinator.on_timer(cx, timer);
        }
    }
    fn busy(&self) -> bool {
        self.coordinator.busy() || self.service.busy()
    }
}
