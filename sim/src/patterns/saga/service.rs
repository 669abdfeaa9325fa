//! A service in an orchestrated saga: runs the orchestrator's commands (`do`, `undo`)
//! as local transactions and replies (`done`, `undone`).
//!
//! Replies need no resending of their own: the orchestrator resends a command until it
//! has its reply, and an idempotent service answers a repeated command from its store.
//! A service that is not idempotent runs a repeated command again: a retried `do`
//! takes the units twice, a repeated `undo` gives them back twice.
//!
//! With a [`SemanticLock`], a `do` that would need units pending for undecided sagas
//! waits (no reply yet) until a `decide` or an `undo` settles them, or its timeout
//! refuses it with reason `lock`.

use super::semantic_lock::{settled_key, SemanticLock, Waiting};
use super::{compensate, judge, key, record_refusal, refusal, state, take, KeyKind};
use super::{StepRule, SERVICE_STORE};
use crate::msg::{Msg, MsgKind, NodeIx};
use crate::node::{Cx, Node};
use crate::store::{RejectReason, StepState, Write};
use crate::trace::Local;

/// The service's side of an orchestrated saga.
#[derive(Debug)]
pub struct Service {
    idempotent: bool,
    rule: StepRule,
    lock: Option<SemanticLock>,
}

impl Service {
    /// A service running `rule`'s step.
    pub fn new(idempotent: bool, rule: StepRule) -> Service {
        Service {
            idempotent,
            rule,
            lock: None,
        }
    }

    /// The same service behind a semantic lock whose waits time out after `timeout_us`.
    pub fn with_lock(mut self, timeout_us: u64) -> Service {
        self.lock = Some(SemanticLock::new(timeout_us));
        self
    }

    /// `retry`: a command that waited on the semantic lock, tried again.
    fn on_do(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg, retry: bool) {
        let txn = msg.txn;
        let rule = self.rule;
        let reply = |cx: &mut Cx, ok: bool| {
            cx.send(
                from,
                Msg::new(MsgKind::Done, txn, rule.step).ok(ok).re(msg.id),
            );
        };
        let mut writes = Vec::new();
        if self.idempotent {
            let k = key(KeyKind::Do, txn, rule.step);
            if cx.store(SERVICE_STORE).seen(k) {
                // A repeat: answer from the store, do nothing again.
                let ok = state(cx, txn, rule.step) == Some(StepState::Applied);
                return reply(cx, ok);
            }
            writes.push(Write::Seen { key: k });
            if state(cx, txn, rule.step) == Some(StepState::Tombstone) {
                // The compensation overtook this command: refuse it for good.
                record_refusal(cx, SERVICE_STORE, txn, rule, RejectReason::Tombstone);
                cx.commit(SERVICE_STORE, Local::Abort, txn, rule.step, &writes);
                return reply(cx, false);
            }
        }
        if let Some(lock) = &mut self.lock {
            let available = cx.store(SERVICE_STORE).available();
            if !lock.admit(cx, (available, rule.amount), from, msg, retry) {
                return;
            }
        }
        let ok = match judge(cx, SERVICE_STORE, txn, rule) {
            Some(reason) => {
                writes.insert(0, refusal(txn, rule, reason));
                cx.commit(SERVICE_STORE, Local::Abort, txn, rule.step, &writes);
                false
            }
            None => {
                writes.insert(0, take(txn, rule));
                cx.commit(SERVICE_STORE, Local::Commit, txn, rule.step, &writes);
                if let Some(lock) = &mut self.lock {
                    lock.took(txn, rule.amount);
                }
                true
            }
        };
        reply(cx, ok);
    }

    /// A waiting command's time is up: refuse it (reason `lock`) and reply.
    fn refuse_locked(&mut self, cx: &mut Cx, w: Waiting) {
        let (txn, rule) = (w.msg.txn, self.rule);
        record_refusal(cx, SERVICE_STORE, txn, rule, RejectReason::Lock);
        let mut writes = vec![refusal(txn, rule, RejectReason::Lock)];
        if self.idempotent {
            writes.push(Write::Seen {
                key: key(KeyKind::Do, txn, rule.step),
            });
        }
        cx.commit(SERVICE_STORE, Local::Abort, txn, rule.step, &writes);
        cx.send(
            w.from,
            Msg::new(MsgKind::Done, txn, rule.step)
                .ok(false)
                .re(w.msg.id),
        );
    }

    /// An outcome released units: the waiting commands are judged again.
    fn released(&mut self, cx: &mut Cx, txn: crate::msg::TxnId) {
        let Some(lock) = &mut self.lock else { return };
        if lock.release(txn) {
            for w in lock.waiting() {
                self.on_do(cx, w.from, w.msg, true);
            }
        }
    }

    /// The orchestrator's commit decision (semantic lock): this step's units are no
    /// longer pending.
    fn on_decide(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let k = settled_key(msg.txn, self.rule.step);
        if !cx.store(SERVICE_STORE).seen(k) {
            cx.commit(
                SERVICE_STORE,
                Local::Log,
                msg.txn,
                self.rule.step,
                &[Write::Seen { key: k }],
            );
        }
        cx.send(from, Msg::new(MsgKind::Ack, msg.txn, msg.step).re(msg.id));
        self.released(cx, msg.txn);
    }

    fn on_undo(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let txn = msg.txn;
        let mut extra = Vec::new();
        let k = key(KeyKind::Undo, txn, self.rule.step);
        let repeat = self.idempotent && cx.store(SERVICE_STORE).seen(k);
        if !repeat {
            if self.idempotent {
                extra.push(Write::Seen { key: k });
            }
            compensate(cx, txn, self.rule, self.idempotent, extra);
        }
        cx.send(
            from,
            Msg::new(MsgKind::Undone, txn, self.rule.step)
                .ok(true)
                .re(msg.id),
        );
        self.released(cx, txn);
    }
}

impl Node for Service {
    fn on_start(&mut self, _cx: &mut Cx) {}

    fn on_recover(&mut self, cx: &mut Cx) {
        if let Some(lock) = &mut self.lock {
            lock.rebuild(cx, self.rule.step);
        }
    }

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        if msg.step != self.rule.step {
            return;
        }
        match msg.kind {
            MsgKind::Do => self.on_do(cx, from, msg, false),
            MsgKind::Undo => self.on_undo(cx, from, msg),
            MsgKind::Decide if self.lock.is_some() => self.on_decide(cx, from, msg),
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        let Some(lock) = &mut self.lock else { return };
        if SemanticLock::owns(timer) {
            if let Some(w) = lock.timed_out(cx.now_us, timer) {
                self.refuse_locked(cx, w);
            }
        }
    }

    fn busy(&self) -> bool {
        self.lock.as_ref().is_some_and(SemanticLock::busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Effect, Harness};
    use crate::scenario::StoreKind;
    use crate::store::Store;
    use crate::trace::EventKind;

    const RULE: StepRule = StepRule {
        step: 1,
        amount: 3,
        reject: 0.0,
    };

    fn harness(capacity: i64) -> Harness {
        Harness::new(2, vec![Store::new(StoreKind::Relational, capacity)], 1)
    }

    fn cmd(kind: MsgKind, id: crate::msg::MsgId) -> Msg {
        Msg {
            id,
            ..Msg::new(kind, 7, 1)
        }
    }

    fn replies(fx: &[crate::node::Effect]) -> Vec<(MsgKind, bool, crate::msg::MsgId)> {
        Harness::sent(fx)
            .iter()
            .map(|(_, m)| (m.kind, m.ok, m.re))
            .collect()
    }

    #[test]
    fn idempotent_service_runs_a_repeated_command_once() {
        let mut h = harness(10);
        let mut s = Service::new(true, RULE);
        let fx = h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Do, 5)));
        assert_eq!(replies(&fx), vec![(MsgKind::Done, true, 5)]);
        let fx = h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Do, 5)));
        assert_eq!(replies(&fx), vec![(MsgKind::Done, true, 5)]);
        assert_eq!(h.stores[0].available(), 7, "taken once");
        h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Undo, 6)));
        h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Undo, 6)));
        assert_eq!(h.stores[0].available(), 10, "given back once");
        assert_eq!(
            h.stores[0].record(7, 1).unwrap().state,
            StepState::Compensated
        );
    }

    #[test]
    fn service_without_idempotence_applies_a_repeat_twice() {
        let mut h = harness(10);
        let mut s = Service::new(false, RULE);
        h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Do, 5)));
        h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Do, 5)));
        assert_eq!(h.stores[0].available(), 4, "taken twice, recorded once");
        h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Undo, 6)));
        h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Undo, 6)));
        assert_eq!(h.stores[0].available(), 10, "given back twice");
    }

    #[test]
    fn compensation_that_overtakes_its_command_leaves_a_tombstone() {
        let mut h = harness(10);
        let mut s = Service::new(true, RULE);
        let fx = h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Undo, 6)));
        assert_eq!(replies(&fx), vec![(MsgKind::Undone, true, 6)]);
        assert_eq!(
            h.stores[0].record(7, 1).unwrap().state,
            StepState::Tombstone
        );
        let fx = h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Do, 5)));
        assert_eq!(replies(&fx), vec![(MsgKind::Done, false, 5)]);
        assert!(fx.iter().any(|e| matches!(
            e,
            crate::node::Effect::Event(EventKind::Reject {
                reason: RejectReason::Tombstone,
                ..
            })
        )));
        assert_eq!(h.stores[0].available(), 10, "the late command took nothing");
    }

    #[test]
    fn under_a_semantic_lock_a_command_waits_for_the_pending_sagas_outcome() {
        let mut h = harness(4);
        let mut s = Service::new(true, RULE).with_lock(50_000);
        let do_ = |txn, id| Msg {
            id,
            ..Msg::new(MsgKind::Do, txn, 1)
        };
        let fx = h.call(&mut s, |n, cx| n.on_message(cx, 1, do_(7, 5)));
        assert_eq!(replies(&fx), vec![(MsgKind::Done, true, 5)]);
        // Saga 8 needs 3, 1 is free and 3 are pending for saga 7: no answer yet.
        let fx = h.call(&mut s, |n, cx| n.on_message(cx, 1, do_(8, 6)));
        assert!(replies(&fx).is_empty(), "waits: {fx:?}");
        assert!(s.busy());
        // Saga 7 commits: its units are settled, saga 8 is judged and refused.
        let decide = Msg {
            id: 9,
            ..Msg::new(MsgKind::Decide, 7, 1).ok(true)
        };
        let fx = h.call(&mut s, |n, cx| n.on_message(cx, 1, decide));
        assert_eq!(
            replies(&fx),
            vec![(MsgKind::Ack, false, 9), (MsgKind::Done, false, 6)]
        );
        assert!(h.stores[0].seen(settled_key(7, 1)));
        assert!(!s.busy());
    }

    #[test]
    fn under_a_semantic_lock_a_compensation_lets_the_waiting_command_run() {
        let mut h = harness(4);
        let mut s = Service::new(true, RULE).with_lock(50_000);
        h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Do, 5)));
        let waiting = Msg {
            id: 6,
            ..Msg::new(MsgKind::Do, 8, 1)
        };
        h.call(&mut s, |n, cx| n.on_message(cx, 1, waiting));
        let fx = h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Undo, 7)));
        assert_eq!(
            replies(&fx),
            vec![(MsgKind::Undone, true, 7), (MsgKind::Done, true, 6)],
            "saga 7 gave its units back: saga 8 takes them"
        );
        assert_eq!(h.stores[0].record(8, 1).unwrap().state, StepState::Applied);
    }

    #[test]
    fn a_semantic_lock_timeout_refuses_with_reason_lock() {
        let mut h = harness(4);
        let mut s = Service::new(true, RULE).with_lock(50_000);
        h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Do, 5)));
        let waiting = Msg {
            id: 6,
            ..Msg::new(MsgKind::Do, 8, 1)
        };
        let fx = h.call(&mut s, |n, cx| n.on_message(cx, 1, waiting));
        let Some(Effect::Timer { timer, after_us }) = fx.last().cloned() else {
            panic!("a timeout: {fx:?}")
        };
        assert_eq!(after_us, 50_000);
        h.now_us = 50_000;
        let fx = h.call(&mut s, |n, cx| n.on_timer(cx, timer));
        assert_eq!(replies(&fx), vec![(MsgKind::Done, false, 6)]);
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::Event(EventKind::Reject {
                reason: RejectReason::Lock,
                txn: 8,
                ..
            })
        )));
        // A crash then restart: saga 7's units are pending again (from the store).
        let mut s = Service::new(true, RULE).with_lock(50_000);
        h.call(&mut s, |n, cx| n.on_recover(cx));
        let fx = h.call(&mut s, |n, cx| {
            n.on_message(
                cx,
                1,
                Msg {
                    id: 11,
                    ..Msg::new(MsgKind::Do, 9, 1)
                },
            )
        });
        assert!(
            replies(&fx).is_empty(),
            "still waits for saga 7 after the crash"
        );
    }

    #[test]
    fn too_few_units_is_a_recorded_refusal() {
        let mut h = harness(2);
        let mut s = Service::new(true, RULE);
        let fx = h.call(&mut s, |n, cx| n.on_message(cx, 1, cmd(MsgKind::Do, 5)));
        assert_eq!(replies(&fx), vec![(MsgKind::Done, false, 5)]);
        assert!(fx.contains(&crate::node::Effect::Event(EventKind::Reject {
            txn: 7,
            step: 1,
            reason: RejectReason::Insufficient,
            available: 2,
            needed: 3,
        })));
        assert_eq!(h.stores[0].record(7, 1).unwrap().state, StepState::Rejected);
        assert_eq!(h.stores[0].available(), 2);
    }
}
