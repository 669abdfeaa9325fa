//! The semantic lock (Garcia-Molina & Salem 1987; Richardson, *Microservices
//! Patterns*, section 4.3): a countermeasure for a saga's lost isolation, on a service's side.
//!
//! A step that takes units marks them *pending* until its saga is decided: the
//! orchestrator's `decide` (commit) settles them, a compensation gives them back. A
//! command that would need pending units (too few are free, but enough would be if
//! every pending saga aborted) is not decided now: it waits for those outcomes, up to
//! `timeout_ms`, and is then refused with reason `lock`. A refusal for lack of units
//! is only made when no pending outcome could change it, so nobody decides on units
//! of a saga that may still abort: that is what makes `isolation` hold.
//!
//! Pending marks are durable (a take is in the store, a settlement a `Seen` key), so
//! [`SemanticLock::rebuild`] recovers them after a crash. Waiting commands are
//! volatile: a crash forgets them and the orchestrator's resend brings them back.

use super::{key, KeyKind, SERVICE_STORE, SERVICE_TIMERS};
use crate::msg::{Msg, NodeIx, StepIx, TxnId};
use crate::node::Cx;
use crate::store::StepState;
use crate::timer::TimerPurpose;
use std::collections::BTreeMap;

crate::timer_purposes! {
    /// The lock's timer: at `SERVICE_TIMERS`, so a hosted orchestrator's node routes it
    /// to the service.
    enum LockTimer {
        /// A waiting command's timeout (keyed by txn).
        Timeout = SERVICE_TIMERS,
    }
}

/// A command waiting for pending sagas' outcomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waiting {
    /// Who sent it (the reply goes there).
    pub from: NodeIx,
    /// The command.
    pub msg: Msg,
    since_us: u64,
}

/// One service's semantic lock on its units.
#[derive(Debug, Clone)]
pub struct SemanticLock {
    timeout_us: u64,
    /// Units taken by sagas not yet decided, by saga.
    pending: BTreeMap<TxnId, i64>,
    /// Commands waiting for an outcome, by saga (one command per saga at a service).
    waiting: BTreeMap<TxnId, Waiting>,
}

/// The `Seen` key recording that `txn`'s step `step` was settled (its saga committed).
pub fn settled_key(txn: TxnId, step: StepIx) -> u64 {
    key(KeyKind::Settled, txn, step)
}

impl SemanticLock {
    /// A lock whose waiting commands give up after `timeout_us`.
    pub fn new(timeout_us: u64) -> SemanticLock {
        SemanticLock {
            timeout_us,
            pending: BTreeMap::new(),
            waiting: BTreeMap::new(),
        }
    }

    /// May `msg` (needing `needed` units, `available` free) be judged now? If it must
    /// wait it is kept, with a timeout; a resend of a waiting command is not judged.
    /// `retry`: it is a waiting command tried again after an outcome.
    pub fn admit(
        &mut self,
        cx: &mut Cx,
        (available, needed): (i64, i64),
        from: NodeIx,
        msg: Msg,
        retry: bool,
    ) -> bool {
        let waits = self.waiting.contains_key(&msg.txn);
        if waits && !retry {
            return false;
        }
        let pending: i64 = self.pending.values().sum();
        let blocked = available < needed && available + pending >= needed;
        match (blocked, waits) {
            (true, true) => false,
            (true, false) => {
                let since_us = cx.now_us;
                self.waiting.insert(
                    msg.txn,
                    Waiting {
                        from,
                        msg,
                        since_us,
                    },
                );
                cx.set_timer(self.timeout_us, LockTimer::Timeout.id(msg.txn));
                false
            }
            (false, _) => {
                self.waiting.remove(&msg.txn);
                true
            }
        }
    }

    /// `txn` took `amount` units here: pending until its saga is decided.
    pub fn took(&mut self, txn: TxnId, amount: i64) {
        self.pending.insert(txn, amount);
    }

    /// `txn`'s units here are settled (committed) or given back (compensated); a
    /// command of it that still waits is dropped. True if any units were pending.
    pub fn release(&mut self, txn: TxnId) -> bool {
        self.waiting.remove(&txn);
        self.pending.remove(&txn).is_some()
    }

    /// The waiting commands, in saga order (to try again after an outcome).
    pub fn waiting(&self) -> Vec<Waiting> {
        self.waiting.values().copied().collect()
    }

    /// Does `timer` belong to the lock?
    pub fn owns(timer: u64) -> bool {
        LockTimer::of(timer).is_some()
    }

    /// A timeout fired: the command it was for, if it still waits and its time is up.
    pub fn timed_out(&mut self, now_us: u64, timer: u64) -> Option<Waiting> {
        let (LockTimer::Timeout, txn) = LockTimer::of(timer)?;
        let w = *self.waiting.get(&txn)?;
        if w.since_us + self.timeout_us > now_us {
            return None;
        }
        self.waiting.remove(&txn)
    }

    /// After a crash: every applied, unsettled step `step` in the store is pending.
    pub fn rebuild(&mut self, cx: &Cx, step: StepIx) {
        let snap = cx.store(SERVICE_STORE).snapshot();
        self.pending = snap
            .steps
            .iter()
            .filter(|((txn, s), r)| {
                *s == step
                    && r.state == StepState::Applied
                    && !snap.seen.contains(&settled_key(*txn, *s))
            })
            .map(|((txn, _), r)| (*txn, r.amount))
            .collect();
        self.waiting.clear();
    }

    /// Commands are waiting.
    pub fn busy(&self) -> bool {
        !self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::MsgKind;
    use crate::node::{Effect, Harness};
    use crate::scenario::StoreKind;
    use crate::store::Store;

    fn cmd(txn: TxnId) -> Msg {
        Msg {
            id: 100 + txn,
            ..Msg::new(MsgKind::Do, txn, 1)
        }
    }

    #[test]
    fn a_command_that_needs_pending_units_waits_and_times_out() {
        let mut h = Harness::new(2, vec![Store::new(StoreKind::Relational, 10)], 1);
        let mut lock = SemanticLock::new(50_000);
        lock.took(1, 4);
        let mut admitted = None;
        let fx = h.call(&mut crate::patterns::Idle, |_, cx| {
            admitted = Some(lock.admit(cx, (2, 4), 1, cmd(2), false));
        });
        assert_eq!(admitted, Some(false), "2 free + 4 pending >= 4: wait");
        assert_eq!(
            fx,
            vec![Effect::Timer {
                after_us: 50_000,
                timer: LockTimer::Timeout.id(2)
            }]
        );
        assert!(lock.busy());
        // A resend of the waiting command is not judged, and sets no second timer.
        let fx = h.call(&mut crate::patterns::Idle, |_, cx| {
            admitted = Some(lock.admit(cx, (2, 4), 1, cmd(2), false));
        });
        assert_eq!((admitted, fx), (Some(false), vec![]));
        assert_eq!(lock.timed_out(49_999, LockTimer::Timeout.id(2)), None);
        let w = lock.timed_out(50_000, LockTimer::Timeout.id(2)).unwrap();
        assert_eq!((w.from, w.msg), (1, cmd(2)));
        assert!(!lock.busy());
    }

    #[test]
    fn a_refusal_that_no_outcome_could_change_is_not_delayed() {
        let mut h = Harness::new(2, vec![Store::new(StoreKind::Relational, 10)], 1);
        let mut lock = SemanticLock::new(50_000);
        lock.took(1, 1);
        let mut admitted = None;
        h.call(&mut crate::patterns::Idle, |_, cx| {
            admitted = Some(lock.admit(cx, (2, 4), 1, cmd(2), false));
        });
        assert_eq!(admitted, Some(true), "2 + 1 < 4: refuse now");
        h.call(&mut crate::patterns::Idle, |_, cx| {
            admitted = Some(lock.admit(cx, (5, 4), 1, cmd(3), false));
        });
        assert_eq!(admitted, Some(true), "enough free units: go");
    }

    #[test]
    fn an_outcome_lets_a_waiting_command_be_judged() {
        let mut h = Harness::new(2, vec![Store::new(StoreKind::Relational, 10)], 1);
        let mut lock = SemanticLock::new(50_000);
        lock.took(1, 4);
        let mut admitted = None;
        h.call(&mut crate::patterns::Idle, |_, cx| {
            lock.admit(cx, (2, 4), 1, cmd(2), false);
        });
        assert!(lock.release(1));
        assert_eq!(lock.waiting().len(), 1);
        h.call(&mut crate::patterns::Idle, |_, cx| {
            admitted = Some(lock.admit(cx, (2, 4), 1, cmd(2), true));
        });
        assert_eq!(
            admitted,
            Some(true),
            "nothing pending: judged (and refused)"
        );
        assert!(!lock.busy());
    }
}
