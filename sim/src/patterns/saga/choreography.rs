//! A service in a choreographed saga: no orchestrator. The first service starts a saga
//! when the client submits it; each service's local commit publishes an event that
//! triggers the next step. A refusal publishes a failure event back to the previous
//! service, which compensates and passes the failure on, back to the first, which
//! tells the client. The last service tells the client of a commit.
//!
//! Every event is acknowledged by its receiver and resent by its publisher until then
//! ([`Publisher`]: from the outbox, or from memory). A success event given up after
//! `retry.attempts` counts as a failed next step: the publisher compensates its own
//! step, passes the failure back, and sends the next service a compensation too (it
//! may have run the step; if not, the compensation leaves a tombstone there).

use super::publish::{Publisher, PAST_PIVOT};
use super::{compensate, judge, key, record_refusal, refusal, state, take, KeyKind};
use super::{StepRule, SERVICE_STORE};
use crate::msg::{Msg, MsgKind, NodeIx, TxnId};
use crate::node::{Cx, Node};
use crate::patterns::{service_index, Layout, CLIENT_NODE};
use crate::scenario::{Scenario, StepKind};
use crate::store::{RejectReason, StepState, Write};
use crate::trace::Local;

const PUBLISH_BASE: u8 = 1;

/// A choreographed saga's service.
#[derive(Debug)]
pub struct Service {
    rule: StepRule,
    idempotent: bool,
    prev: Option<NodeIx>,
    next: Option<NodeIx>,
    /// Does the saga have a pivot (or retriable steps)? Its success events are then
    /// never given up: no service of a choreography can tell whether the steps after
    /// it reached the pivot, and a give-up's compensations run forward along the chain,
    /// so one could undo a pivot that had committed, and the steps after it.
    forward_only: bool,
    publisher: Publisher,
}

impl Service {
    /// The service running `rule`'s step in scenario `s`.
    pub fn new(s: &Scenario, l: &Layout, rule: StepRule) -> Service {
        let w = s.write.as_ref().expect("a saga has a write section");
        let i = usize::from(rule.step);
        let svc = service_index(s, &w.steps[i].service);
        Service {
            rule,
            idempotent: s.idempotent_of(svc),
            prev: i.checked_sub(1).map(|p| l.step_node(s, p)),
            next: (i + 1 < w.steps.len()).then(|| l.step_node(s, i + 1)),
            forward_only: w.steps.iter().any(|st| st.kind != StepKind::Compensatable),
            publisher: Publisher::new(w, s.publish_of(svc), SERVICE_STORE, PUBLISH_BASE),
        }
    }

    /// Stages the news that this step failed (or was compensated) for whoever is
    /// before it: the previous service, or the client.
    fn stage_failure(&mut self, cx: &mut Cx, w: &mut Vec<Write>, txn: TxnId) {
        let (to, msg) = match self.prev {
            Some(p) => (p, Msg::new(MsgKind::Event, txn, self.rule.step).ok(false)),
            None => (CLIENT_NODE, Msg::new(MsgKind::Finished, txn, 0).ok(false)),
        };
        self.publisher.stage(cx, w, to, msg);
    }

    /// Would compensating this step now give units back?
    fn gives_back(&self, cx: &Cx, txn: TxnId) -> bool {
        match state(cx, txn, self.rule.step) {
            Some(StepState::Applied) => true,
            Some(StepState::Compensated) => !self.idempotent,
            _ => false,
        }
    }

    /// A new message keyed `k`: true if it must be processed (always, when the service
    /// is not idempotent); pushes its `Seen` write.
    fn fresh(&self, cx: &Cx, w: &mut Vec<Write>, k: u64) -> bool {
        if !self.idempotent {
            return true;
        }
        if cx.store(SERVICE_STORE).seen(k) {
            return false;
        }
        w.push(Write::Seen { key: k });
        true
    }

    /// Runs the step, triggered by the client's submit or the previous step's event.
    fn run_step(&mut self, cx: &mut Cx, txn: TxnId, k: u64) {
        let rule = self.rule;
        let mut w = Vec::new();
        if !self.fresh(cx, &mut w, k) {
            return;
        }
        if self.idempotent && state(cx, txn, rule.step) == Some(StepState::Tombstone) {
            // Compensated before it ran: refuse; whoever compensated passed it back.
            record_refusal(cx, SERVICE_STORE, txn, rule, RejectReason::Tombstone);
            cx.commit(SERVICE_STORE, Local::Abort, txn, rule.step, &w);
            return;
        }
        match judge(cx, SERVICE_STORE, txn, rule) {
            Some(reason) => {
                w.insert(0, refusal(txn, rule, reason));
                self.stage_failure(cx, &mut w, txn);
                cx.commit(SERVICE_STORE, Local::Abort, txn, rule.step, &w);
            }
            None => {
                w.insert(0, take(txn, rule));
                let (to, msg) = match self.next {
                    Some(n) => {
                        let ev = Msg::new(MsgKind::Event, txn, rule.step).ok(true);
                        let past_pivot = if self.forward_only { PAST_PIVOT } else { 0 };
                        (n, ev.value(past_pivot))
                    }
                    None => (CLIENT_NODE, Msg::new(MsgKind::Finished, txn, 0).ok(true)),
                };
                self.publisher.stage(cx, &mut w, to, msg);
                cx.commit(SERVICE_STORE, Local::Commit, txn, rule.step, &w);
            }
        }
        self.publisher.flush(cx);
    }

    /// A later step failed: compensate this one and pass the failure back.
    fn on_failure(&mut self, cx: &mut Cx, txn: TxnId, k: u64) {
        let mut w = Vec::new();
        if !self.fresh(cx, &mut w, k) {
            return;
        }
        if self.gives_back(cx, txn) {
            self.stage_failure(cx, &mut w, txn);
        }
        compensate(cx, txn, self.rule, self.idempotent, w);
        self.publisher.flush(cx);
    }

    /// The previous service gave up on its event to this one: compensate this step, and
    /// the next one if this step ran and published its own event.
    fn on_undo(&mut self, cx: &mut Cx, txn: TxnId, k: u64) {
        let mut w = Vec::new();
        if !self.fresh(cx, &mut w, k) {
            return;
        }
        if let (true, Some(n)) = (self.gives_back(cx, txn), self.next) {
            let undo = Msg::new(MsgKind::Undo, txn, self.rule.step + 1);
            self.publisher.stage(cx, &mut w, n, undo);
        }
        compensate(cx, txn, self.rule, self.idempotent, w);
        self.publisher.flush(cx);
    }

    /// The success event to the next service went unanswered `attempts` times.
    fn gave_up(&mut self, cx: &mut Cx, to: NodeIx, msg: Msg) {
        let txn = msg.txn;
        let mut w: Vec<Write> = self.publisher.given_up(&msg).into_iter().collect();
        w.push(Write::Seen {
            key: key(KeyKind::GaveUp, txn, self.rule.step),
        });
        let undo = Msg::new(MsgKind::Undo, txn, self.rule.step + 1);
        self.publisher.stage(cx, &mut w, to, undo);
        if self.gives_back(cx, txn) {
            self.stage_failure(cx, &mut w, txn);
        }
        compensate(cx, txn, self.rule, self.idempotent, w);
        self.publisher.flush(cx);
    }
}

impl Node for Service {
    fn on_start(&mut self, _cx: &mut Cx) {}

    fn on_recover(&mut self, cx: &mut Cx) {
        self.publisher.recover(cx);
    }

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let (txn, step, me) = (msg.txn, msg.step, self.rule.step);
        let ack = |cx: &mut Cx| {
            cx.send(from, Msg::new(MsgKind::Ack, txn, step).re(msg.id));
        };
        match msg.kind {
            MsgKind::Submit if me == 0 => {
                self.run_step(cx, txn, key(KeyKind::Submit, txn, me));
                ack(cx);
            }
            MsgKind::Event if msg.ok && step + 1 == me => {
                self.run_step(cx, txn, key(KeyKind::Forward, txn, me));
                ack(cx);
            }
            MsgKind::Event if !msg.ok && step == me + 1 => {
                self.on_failure(cx, txn, key(KeyKind::Backward, txn, me));
                ack(cx);
            }
            MsgKind::Undo if step == me => {
                self.on_undo(cx, txn, key(KeyKind::Undo, txn, me));
                ack(cx);
            }
            MsgKind::Ack => {
                let mut w = Vec::new();
                if let Some(m) = self.publisher.ack(msg.re, &mut w) {
                    if !w.is_empty() {
                        cx.commit(SERVICE_STORE, Local::Log, m.txn, me, &w);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        if self.publisher.owns(timer) {
            for (to, msg) in self.publisher.on_timer(cx, timer) {
                self.gave_up(cx, to, msg);
            }
        }
    }

    fn busy(&self) -> bool {
        self.publisher.busy()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{timer_id, Effect, Harness};
    use crate::scenario::StoreKind;
    use crate::store::Store;
    use crate::testing::fixture::Fixture;
    use crate::trace::EventKind;

    fn scenario(publish: &str, idempotent: bool) -> Scenario {
        scenario_with(publish, idempotent, "")
    }

    fn scenario_with(publish: &str, idempotent: bool, extra: &str) -> Scenario {
        Fixture::new("saga")
            .set("coordination", "\"choreography\"")
            .set("publish", format!("\"{publish}\""))
            .set("idempotent", idempotent)
            .line(extra)
            .step(1, "amount = 2")
            .scenario()
    }

    /// The inventory service (node 2, step 1) and a harness over its store.
    fn inventory(publish: &str, idempotent: bool) -> (Service, Harness, Scenario) {
        let s = scenario(publish, idempotent);
        let l = crate::patterns::layout(&s);
        let rule = StepRule::of(&s, &l, 2).unwrap();
        assert_eq!(rule.step, 1);
        let h = Harness::new(2, vec![Store::new(StoreKind::Document, 10)], 1);
        (Service::new(&s, &l, rule), h, s)
    }

    fn sent(fx: &[Effect]) -> Vec<(NodeIx, MsgKind, u16, bool)> {
        Harness::sent(fx)
            .iter()
            .map(|(to, m)| (*to, m.kind, m.step, m.ok))
            .collect()
    }

    fn event(step: u16, ok: bool, id: crate::msg::MsgId) -> Msg {
        Msg {
            id,
            ..Msg::new(MsgKind::Event, 7, step).ok(ok)
        }
    }

    #[test]
    fn with_an_outbox_the_event_is_in_the_same_local_transaction() {
        let (mut svc, mut h, s) = inventory("outbox", true);
        let fx = h.call(&mut svc, |n, cx| n.on_message(cx, 1, event(0, true, 50)));
        assert_eq!(
            sent(&fx),
            vec![(3, MsgKind::Event, 1, true), (1, MsgKind::Ack, 0, false)]
        );
        let local = fx.iter().find_map(|e| match e {
            Effect::Event(EventKind::Local { writes, .. }) => Some(writes.to_vec()),
            _ => None,
        });
        let writes = local.unwrap();
        assert!(matches!(
            writes[0],
            Write::Take {
                txn: 7,
                step: 1,
                amount: 2
            }
        ));
        assert!(matches!(writes[2], Write::OutboxPut { to: 3, .. }));
        // A crash before the acknowledgement: the relay resends it from the store.
        let l = crate::patterns::layout(&s);
        let mut svc = Service::new(&s, &l, StepRule::of(&s, &l, 2).unwrap());
        let fx = h.call(&mut svc, |n, cx| n.on_recover(cx));
        assert_eq!(sent(&fx), vec![(3, MsgKind::Event, 1, true)]);
        let id = Harness::sent(&fx)[0].1.id;
        let fx = h.call(&mut svc, |n, cx| {
            n.on_message(cx, 3, Msg::new(MsgKind::Ack, 7, 1).re(id))
        });
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::Event(EventKind::Local { writes, .. }) if writes[..] == [Write::OutboxDone { id }]
        )));
        assert!(h.stores[0].outbox().is_empty());
        assert!(!svc.busy());
    }

    #[test]
    fn sent_directly_the_event_is_lost_by_a_crash_after_the_commit() {
        let (mut svc, mut h, s) = inventory("direct", true);
        let fx = h.call(&mut svc, |n, cx| n.on_message(cx, 1, event(0, true, 50)));
        assert_eq!(
            sent(&fx),
            vec![(1, MsgKind::Ack, 0, false)],
            "not yet published"
        );
        assert_eq!(h.stores[0].available(), 8, "but committed");
        let publish = timer_id(PUBLISH_BASE, 0);
        assert!(
            fx.contains(&Effect::Timer {
                after_us: 1_000,
                timer: publish
            }),
            "sent dual_write_gap_ms (1 ms) after the commit"
        );
        // The crash falls between the commit and the send.
        let l = crate::patterns::layout(&s);
        let mut crashed = Service::new(&s, &l, StepRule::of(&s, &l, 2).unwrap());
        let fx = h.call(&mut crashed, |n, cx| n.on_recover(cx));
        assert!(sent(&fx).is_empty(), "nothing in the store to resend");
        // Without the crash, the send is its own step.
        let fx = h.call(&mut svc, |n, cx| n.on_timer(cx, publish));
        assert_eq!(sent(&fx), vec![(3, MsgKind::Event, 1, true)]);
    }

    #[test]
    fn a_services_own_settings_override_the_write_sections() {
        let s = scenario("outbox", true);
        let text = s.to_toml().replacen(
            "name = \"inventory\"\n",
            "name = \"inventory\"\nidempotent = false\npublish = \"direct\"\n",
            1,
        );
        let s = Scenario::parse(&text, "t.toml").unwrap();
        let l = crate::patterns::layout(&s);
        let mut svc = Service::new(&s, &l, StepRule::of(&s, &l, 2).unwrap());
        let mut h = Harness::new(2, vec![Store::new(StoreKind::Document, 10)], 1);
        let fx = h.call(&mut svc, |n, cx| n.on_message(cx, 1, event(0, true, 50)));
        assert_eq!(
            sent(&fx),
            vec![(1, MsgKind::Ack, 0, false)],
            "direct: later"
        );
        assert!(h.stores[0].outbox().is_empty(), "no outbox entry");
        h.call(&mut svc, |n, cx| n.on_message(cx, 1, event(0, true, 50)));
        assert_eq!(h.stores[0].available(), 6, "not idempotent: taken twice");
        // The other services keep [write]'s settings.
        let mut orders = Service::new(&s, &l, StepRule::of(&s, &l, 1).unwrap());
        let mut h = Harness::new(1, vec![Store::new(StoreKind::Relational, 10)], 1);
        let submit = Msg {
            id: 9,
            ..Msg::new(MsgKind::Submit, 7, 0)
        };
        h.call(&mut orders, |n, cx| n.on_message(cx, 0, submit));
        assert_eq!(h.stores[0].outbox().len(), 1, "orders: outbox");
    }

    #[test]
    fn a_failure_from_the_next_step_is_compensated_and_passed_back() {
        let (mut svc, mut h, _) = inventory("outbox", true);
        h.call(&mut svc, |n, cx| n.on_message(cx, 1, event(0, true, 50)));
        let fx = h.call(&mut svc, |n, cx| n.on_message(cx, 3, event(2, false, 60)));
        assert_eq!(
            sent(&fx),
            vec![(1, MsgKind::Event, 1, false), (3, MsgKind::Ack, 2, false)]
        );
        assert_eq!(h.stores[0].available(), 10);
        assert_eq!(
            h.stores[0].record(7, 1).unwrap().state,
            StepState::Compensated
        );
        // The same failure again (a duplicate): acknowledged, nothing given back twice.
        let fx = h.call(&mut svc, |n, cx| n.on_message(cx, 3, event(2, false, 60)));
        assert_eq!(sent(&fx), vec![(3, MsgKind::Ack, 2, false)]);
        assert_eq!(h.stores[0].available(), 10);
    }

    #[test]
    fn a_refusal_is_passed_back_to_the_previous_step() {
        let (mut svc, mut h, _) = inventory("outbox", true);
        h.stores[0].commit(&[Write::Take {
            txn: 1,
            step: 1,
            amount: 9,
        }]);
        let fx = h.call(&mut svc, |n, cx| n.on_message(cx, 1, event(0, true, 50)));
        assert_eq!(
            sent(&fx),
            vec![(1, MsgKind::Event, 1, false), (1, MsgKind::Ack, 0, false)]
        );
        assert!(fx.contains(&Effect::Event(EventKind::Reject {
            txn: 7,
            step: 1,
            reason: RejectReason::Insufficient,
            available: 1,
            needed: 2,
        })));
    }

    #[test]
    fn without_idempotence_a_duplicate_event_applies_twice() {
        let (mut svc, mut h, _) = inventory("outbox", false);
        h.call(&mut svc, |n, cx| n.on_message(cx, 1, event(0, true, 50)));
        let fx = h.call(&mut svc, |n, cx| n.on_message(cx, 1, event(0, true, 50)));
        assert_eq!(h.stores[0].available(), 6, "taken twice");
        assert_eq!(
            sent(&fx)[0],
            (3, MsgKind::Event, 1, true),
            "and published twice"
        );
        let (mut svc, mut h, _) = inventory("outbox", true);
        h.call(&mut svc, |n, cx| n.on_message(cx, 1, event(0, true, 50)));
        h.call(&mut svc, |n, cx| n.on_message(cx, 1, event(0, true, 50)));
        assert_eq!(h.stores[0].available(), 8, "idempotent: once");
    }

    #[test]
    fn a_success_event_given_up_counts_as_a_failed_next_step() {
        let s = scenario_with("outbox", true, "retry = { attempts = 1, backoff_ms = 10 }");
        let l = crate::patterns::layout(&s);
        let mut svc = Service::new(&s, &l, StepRule::of(&s, &l, 2).unwrap());
        let mut h = Harness::new(2, vec![Store::new(StoreKind::Document, 10)], 1);
        h.call(&mut svc, |n, cx| n.on_message(cx, 1, event(0, true, 50)));
        h.now_us = 10_000;
        let fx = h.call(&mut svc, |n, cx| {
            n.on_timer(cx, timer_id(PUBLISH_BASE + 1, 7))
        });
        // The next service may have run its step: it gets a compensation; this step is
        // compensated and the failure goes back to the previous one.
        assert_eq!(
            sent(&fx),
            vec![(3, MsgKind::Undo, 2, false), (1, MsgKind::Event, 1, false)]
        );
        assert_eq!(
            h.stores[0].record(7, 1).unwrap().state,
            StepState::Compensated
        );
        assert_eq!(h.stores[0].available(), 10);
        let outbox: Vec<MsgKind> = h.stores[0].outbox().iter().map(|e| e.msg.kind).collect();
        assert_eq!(
            outbox,
            vec![MsgKind::Undo, MsgKind::Event],
            "the given-up event is gone"
        );
    }
}
