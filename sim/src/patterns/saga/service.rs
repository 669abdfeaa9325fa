//! A service in an orchestrated saga: runs the orchestrator's commands (`do`, `undo`)
//! as local transactions and replies (`done`, `undone`).
//!
//! Replies need no resending of their own: the orchestrator resends a command until it
//! has its reply, and an idempotent service answers a repeated command from its store.
//! A service that is not idempotent runs a repeated command again: a retried `do`
//! takes the units twice, a repeated `undo` gives them back twice.

use super::{compensate, judge, key, refusal, state, take, KeyKind, StepRule, SERVICE_STORE};
use crate::msg::{Msg, MsgKind, NodeIx};
use crate::node::{Cx, Node};
use crate::store::{RejectReason, StepState, Write};
use crate::trace::{EventKind, Local};

/// The service's side of an orchestrated saga.
#[derive(Debug)]
pub struct Service {
    idempotent: bool,
    rule: StepRule,
}

impl Service {
    /// A service running `rule`'s step.
    pub fn new(idempotent: bool, rule: StepRule) -> Service {
        Service { idempotent, rule }
    }

    fn on_do(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
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
                let available = cx.store(SERVICE_STORE).available();
                cx.event(EventKind::Reject {
                    txn,
                    step: rule.step,
                    reason: RejectReason::Tombstone,
                    available,
                    needed: rule.amount,
                });
                cx.commit(SERVICE_STORE, Local::Abort, txn, rule.step, &writes);
                return reply(cx, false);
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
                true
            }
        };
        reply(cx, ok);
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
    }
}

impl Node for Service {
    fn on_start(&mut self, _cx: &mut Cx) {}

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        if msg.step != self.rule.step {
            return;
        }
        match msg.kind {
            MsgKind::Do => self.on_do(cx, from, msg),
            MsgKind::Undo => self.on_undo(cx, from, msg),
            _ => {}
        }
    }

    fn on_timer(&mut self, _cx: &mut Cx, _timer: u64) {}

    fn busy(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Harness;
    use crate::scenario::StoreKind;
    use crate::store::Store;

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
