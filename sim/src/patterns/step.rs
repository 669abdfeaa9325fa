//! A service's step, the same under every protocol that runs one (sagas, two-phase
//! commit, try-confirm-cancel): its rule, the local judgement of a forward step, the
//! writes that record it, and the keys services de-duplicate messages by and
//! coordinators log under.

use super::{service_index, Layout};
use crate::keyed::Purpose;
use crate::msg::{NodeIx, StepIx, TxnId};
use crate::node::Cx;
use crate::scenario::Scenario;
use crate::store::{RejectReason, StepState, Write};
use crate::trace::{EventKind, Local};

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
    record_refusal(cx, store, txn, rule, reason);
    Some(reason)
}

/// Records that (`txn`, `rule.step`) was refused for `reason`, with the units `store`
/// has left: the `reject` event beside the refusal's write in the local transaction.
pub fn record_refusal(cx: &mut Cx, store: usize, txn: TxnId, rule: StepRule, reason: RejectReason) {
    let available = cx.store(store).available();
    cx.event(EventKind::Reject {
        txn,
        step: rule.step,
        reason,
        available,
        needed: rule.amount,
    });
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

/// Judges a request that reserves a step's units until a decision (a 2PC prepare, a
/// TCC try) and records the vote: a refusal is committed as the step's abort, a yes
/// holds the units in a prepared local transaction. Returns whether it holds them.
pub fn hold_or_refuse(cx: &mut Cx, txn: TxnId, rule: StepRule) -> bool {
    let yes = match judge(cx, SERVICE_STORE, txn, rule) {
        Some(reason) => {
            let w = [refusal(txn, rule, reason)];
            cx.commit(SERVICE_STORE, Local::Abort, txn, rule.step, &w);
            false
        }
        None => {
            let w = [Write::Hold {
                txn,
                step: rule.step,
                amount: rule.amount,
            }];
            cx.commit(SERVICE_STORE, Local::Prepare, txn, rule.step, &w);
            true
        }
    };
    cx.event(EventKind::Vote {
        txn,
        step: rule.step,
        yes,
    });
    yes
}
