//! The read side of every source: a wrapper around whatever node holds service stores.
//!
//! Whatever protocol a service node runs (a saga participant, a 2PC participant, the
//! shared database that holds every service's tables), reading it works the same way,
//! so it is built once here, around the protocol's node:
//!
//! - **Answering queries** (API composition): a `query` about a transaction is answered
//!   at once from the asked service's own store, with what it holds ([`Seen`]). The
//!   protocol node never sees queries.
//! - **Publishing changes** (CQRS view): every call into the protocol node runs with
//!   the context's change capture on ([`Cx::capture_changes`], the hook on the store
//!   commit): each commit says which step records it changed. Each (transaction, step)
//!   so changed on a source store is then published to the view as a `change` carrying
//!   the record's new state and the commit time, once per row and call. It is resent
//!   until the view acknowledges it (every change to a read view is). How it leaves
//!   follows the store's service's `publish` (which overrides `[write].publish`), the
//!   same rule as a saga's own messages (`saga::publish`):
//!   - `publish = "outbox"`: the change is written to that store's outbox in the same
//!     handler call as the state change. A crash can only fall between handler calls,
//!     so the state change and its outbox entry are durable together, as if in one
//!     local transaction; after a restart the relay resends it from the store.
//!   - `publish = "event-sourcing"`: the store is an event log, and the outbox entry
//!     is an event appended to that same log (an event log's outbox is a fold of the
//!     log): durable with the state change, and resent from the log after a restart,
//!     like the outbox.
//!   - `publish = "direct"`: the change leaves `dual_write_gap_ms` after the commit
//!     (the same dual-write window as a saga's events) and is resent from memory; a
//!     crash in the gap, or after it and before the acknowledgement, loses it and the
//!     view never learns that change.
//!
//!   A newer change of a row supersedes an unacknowledged older one: the view needs
//!   the latest state, and at most one change per row in flight keeps them in order.
//!
//! Sharing with the protocol: the changes live in the service store's outbox, next to
//! whatever the protocol keeps there. A saga's outbox relay does not tell them apart:
//! after a restart it resends every outbox entry, the view's changes among them, as
//! the read side's relay does too (the view de-duplicates by message id). So the view's
//! acknowledgements are passed on to the protocol node as well, to stop its copy. The
//! read side's own commits (outbox entries, their done marks) name no step record, and
//! are made outside the capture. The read side's timers use the purposes of
//! [`ReadSideTimer`] (0xF0 and 0xF1), which protocol nodes must leave free.

use super::reliable::Resender;
use super::Layout;
use crate::msg::{Msg, MsgId, MsgKind, NodeIx, StepIx, TxnId};
use crate::node::{Cx, Node};
use crate::read::{self, Seen};
use crate::scenario::{Publish, ReadMethod, Scenario};
use crate::store::{RowChange, Write};
use crate::timer::TimerPurpose;
use crate::trace::Local;

crate::timer_purposes! {
    /// The read side's timer purposes; protocol nodes must leave them free.
    pub enum ReadSideTimer {
        /// The changes' resend tick.
        Resend = 0xF0,
        /// The end of the dual-write gap (direct publishing).
        Gap = 0xF1,
    }
}

/// One service store on this node.
#[derive(Debug, Clone)]
struct Served {
    /// Index of the service in `scenario.services`.
    service: usize,
    /// Its store, as a local index of this node.
    store: usize,
    /// The steps this service runs.
    steps: Vec<StepIx>,
    /// Is it a source of the view (in `read.sources`)?
    publishes: bool,
    /// How it publishes its changes.
    publish: Publish,
}

/// A protocol node with the read side around it.
#[derive(Debug)]
pub struct ReadSide {
    inner: Box<dyn Node>,
    served: Vec<Served>,
    /// The view to publish to (cqrs-view only).
    view: Option<NodeIx>,
    resender: Resender,
    /// Direct publishing: the dual-write gap, and the changes committed but not yet
    /// sent (lost in a crash).
    gap_us: u64,
    unsent: Vec<Msg>,
    gap_armed: bool,
}

/// Wraps node `ix`'s protocol node `inner` with the read side of scenario `s`.
pub fn wrap(s: &Scenario, l: &Layout, ix: NodeIx, inner: Box<dyn Node>) -> Box<dyn Node> {
    let Some(r) = &s.read else { return inner };
    let sources = read::sources(s);
    let mine = &l.node_stores[usize::from(ix)];
    let served = mine
        .iter()
        .enumerate()
        .filter_map(|(local, global)| {
            let service = l.stores[usize::from(*global)].service?;
            Some(Served {
                service,
                store: local,
                steps: read::steps_of(s, service),
                publishes: sources.contains(&service),
                publish: s.publish_of(service),
            })
        })
        .collect::<Vec<_>>();
    if served.is_empty() {
        return inner;
    }
    let view = (r.method == ReadMethod::CqrsView)
        .then_some(l.view)
        .flatten();
    let (backoff_us, gap_us) = s.write.as_ref().map_or((20_000, 1_000), |w| {
        (w.retry.backoff_ms * 1000, w.dual_write_gap_ms * 1000)
    });
    Box::new(ReadSide {
        inner,
        served,
        view,
        resender: Resender::new(ReadSideTimer::Resend.code(), backoff_us, None),
        gap_us,
        unsent: Vec::new(),
        gap_armed: false,
    })
}

impl ReadSide {
    /// Answers a query about `msg.txn` for the service `msg.step` from its store.
    fn answer(&self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let Some(sv) = self
            .served
            .iter()
            .find(|sv| sv.service == usize::from(msg.step))
        else {
            return;
        };
        let store = cx.store(sv.store);
        let seen = Seen::of(
            sv.steps
                .iter()
                .map(|st| store.record(msg.txn, *st).map(|r| r.state)),
        );
        let reply = Msg::new(MsgKind::Answer, msg.txn, msg.step)
            .value(seen.code())
            .re(msg.id);
        cx.send(from, reply);
    }

    /// Publishes every row in `changed` (the change records of the inner node's
    /// commits, from the commit hook) that sits on a source store of the view, once
    /// per row, in the order first changed.
    fn publish_changes(&mut self, cx: &mut Cx, changed: &[RowChange]) {
        let Some(view) = self.view else { return };
        let mut rows: Vec<(usize, Publish, TxnId, StepIx)> = Vec::new();
        for c in changed {
            let Some(sv) = self
                .served
                .iter()
                .find(|sv| sv.publishes && sv.store == c.store)
            else {
                continue;
            };
            let row = (sv.store, sv.publish, c.txn, c.step);
            if !rows.contains(&row) {
                rows.push(row);
            }
        }
        for (store, publish, txn, step) in rows {
            let Some(rec) = cx.store(store).record(txn, step) else {
                continue;
            };
            let state = read::state_code(rec.state);
            let mut change = Msg::new(MsgKind::Change, txn, step)
                .value(state)
                .at(cx.now_us);
            change.id = cx.fresh_id();
            let superseded: Vec<MsgId> = self
                .resender
                .pending()
                .filter(|(_, m)| m.txn == txn && m.step == step)
                .map(|(_, m)| m.id)
                .collect();
            for id in &superseded {
                self.resender.ack(*id);
            }
            match publish {
                Publish::Direct => {
                    self.unsent.retain(|m| (m.txn, m.step) != (txn, step));
                    if !self.gap_armed {
                        self.gap_armed = true;
                        cx.set_timer(self.gap_us, ReadSideTimer::Gap.id(0));
                    }
                    self.unsent.push(change);
                }
                // Under event sourcing the store is an event log, and the outbox entry
                // is an event of that same log (the outbox is a fold of it): durable
                // with the state change, relayed from the log after a restart.
                Publish::Outbox | Publish::EventSourcing => {
                    // Every durable change is pending in the relay (it never gives up,
                    // and `refill` reloads it after a restart): the relay's list is the
                    // outbox's.
                    let mut writes: Vec<Write> = superseded
                        .iter()
                        .map(|id| Write::OutboxDone { id: *id })
                        .collect();
                    writes.push(Write::OutboxPut {
                        to: view,
                        msg: change,
                    });
                    cx.commit(store, Local::Log, txn, step, &writes);
                    self.resender.send(cx, view, change);
                }
            }
        }
    }

    /// The view acknowledged change `id`: stop resending it, clear its outbox entry.
    fn acked(&mut self, cx: &mut Cx, id: MsgId) {
        // Not pending: acknowledged before (a duplicate ack), its entry already done.
        let Some(change) = self.resender.ack(id) else {
            return;
        };
        // A step belongs to one service, so its row to one store.
        let holder = self
            .served
            .iter()
            .find(|sv| sv.publish != Publish::Direct && sv.steps.contains(&change.step));
        if let Some(sv) = holder {
            let store = sv.store;
            cx.commit(
                store,
                Local::Log,
                change.txn,
                change.step,
                &[Write::OutboxDone { id }],
            );
        }
    }

    /// Refills the relay from the outboxes (after a restart).
    fn refill(&mut self, cx: &mut Cx) {
        let Some(view) = self.view else {
            return;
        };
        for sv in self
            .served
            .iter()
            .filter(|sv| sv.publish != Publish::Direct)
        {
            for o in cx.store(sv.store).outbox() {
                if o.msg.kind == MsgKind::Change && o.to == view {
                    self.resender.send(cx, view, o.msg);
                }
            }
        }
    }

    /// Runs `f` on the inner node with change capture on, then publishes what its
    /// commits changed.
    fn around(&mut self, cx: &mut Cx, f: impl FnOnce(&mut dyn Node, &mut Cx)) {
        let inner = self.inner.as_mut();
        let changed = cx.capture_changes(|cx| f(inner, cx));
        self.publish_changes(cx, &changed);
    }
}

impl Node for ReadSide {
    fn on_start(&mut self, cx: &mut Cx) {
        self.around(cx, |n, cx| n.on_start(cx));
    }

    fn on_recover(&mut self, cx: &mut Cx) {
        self.refill(cx);
        self.around(cx, |n, cx| n.on_recover(cx));
    }

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        match msg.kind {
            MsgKind::Query => self.answer(cx, from, msg),
            MsgKind::Ack if Some(from) == self.view => {
                self.acked(cx, msg.re);
                // Passed on too: a protocol whose own outbox relay resent a change
                // after a restart (it shares the store's outbox) needs the ack to stop.
                self.around(cx, |n, cx| n.on_message(cx, from, msg));
            }
            _ => self.around(cx, |n, cx| n.on_message(cx, from, msg)),
        }
    }

    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        if self.resender.owns(timer) {
            self.resender.on_tick(cx, timer);
        } else if timer == ReadSideTimer::Gap.id(0) {
            let view = self.view.expect("only a view's sources publish");
            self.gap_armed = false;
            for change in std::mem::take(&mut self.unsent) {
                self.resender.send(cx, view, change);
            }
        } else {
            self.around(cx, |n, cx| n.on_timer(cx, timer));
        }
    }

    fn busy(&self) -> bool {
        self.inner.busy() || !self.resender.is_empty() || !self.unsent.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Effect, Harness};
    use crate::scenario::StoreKind;
    use crate::store::{StepState, Store};
    use crate::testing::fixture::Fixture;

    /// A protocol node that applies step `msg.step` of `msg.txn` on every `do`.
    #[derive(Debug)]
    struct Fake;
    impl Node for Fake {
        fn on_start(&mut self, _cx: &mut Cx) {}
        fn on_message(&mut self, cx: &mut Cx, _from: NodeIx, msg: Msg) {
            if msg.kind == MsgKind::Do {
                let (txn, step) = (msg.txn, msg.step);
                let w = if msg.ok {
                    Write::Compensate { txn, step }
                } else {
                    Write::Take {
                        txn,
                        step,
                        amount: 1,
                    }
                };
                cx.commit(0, Local::Commit, txn, step, &[w]);
            }
        }
        fn on_timer(&mut self, _cx: &mut Cx, _t: u64) {}
        fn busy(&self) -> bool {
            false
        }
    }

    fn scenario(method: &str, publish: &str) -> Scenario {
        Fixture::new("two-phase-commit")
            .services(&["orders", "payments"])
            .set("publish", format!("\"{publish}\""))
            .section(&format!("[read]\nmethod = \"{method}\""))
            .scenario()
    }

    /// The read side of `orders` (service 0, step 0) in `s`, and its harness.
    fn orders_of(s: &Scenario) -> (Box<dyn Node>, Harness) {
        let l = crate::patterns::layout(s);
        let me = l.service_node[0];
        let node = wrap(s, &l, me, Box::new(Fake));
        (
            node,
            Harness::new(me, vec![Store::new(StoreKind::Relational, 10)], 1),
        )
    }

    /// The read side of `orders` (service 0, step 0), its harness and the view node.
    fn setup(method: &str, publish: &str) -> (Box<dyn Node>, Harness, Option<NodeIx>) {
        let s = scenario(method, publish);
        let l = crate::patterns::layout(&s);
        let me = l.service_node[0];
        let node = wrap(&s, &l, me, Box::new(Fake));
        let h = Harness::new(me, vec![Store::new(StoreKind::Relational, 10)], 1);
        (node, h, l.view)
    }

    fn apply(h: &mut Harness, node: &mut Box<dyn Node>, txn: TxnId, undo: bool) -> Vec<Effect> {
        let m = Msg::new(MsgKind::Do, txn, 0).ok(undo);
        h.call(node.as_mut(), |n, cx| n.on_message(cx, 1, m))
    }

    fn changes(fx: &[Effect]) -> Vec<Msg> {
        Harness::sent(fx)
            .into_iter()
            .filter(|(_, m)| m.kind == MsgKind::Change)
            .map(|(_, m)| m)
            .collect()
    }

    #[test]
    fn answers_queries_from_the_asked_services_store() {
        let (mut node, mut h, _) = setup("api-composition", "outbox");
        let ask = |txn, service| Msg {
            id: 50,
            ..Msg::new(MsgKind::Query, txn, service).value(9)
        };
        let fx = h.call(node.as_mut(), |n, cx| n.on_message(cx, 3, ask(1, 0)));
        let (to, a) = Harness::sent(&fx)[0];
        assert_eq!((to, a.kind, a.re, a.step), (3, MsgKind::Answer, 50, 0));
        assert_eq!(Seen::from_code(a.value), Some(Seen::Absent));
        let fx = apply(&mut h, &mut node, 1, false);
        assert!(changes(&fx).is_empty(), "no view: nothing published");
        let fx = h.call(node.as_mut(), |n, cx| n.on_message(cx, 3, ask(1, 0)));
        assert_eq!(Harness::sent(&fx)[0].1.value, Seen::Applied.code());
        let fx = h.call(node.as_mut(), |n, cx| n.on_message(cx, 3, ask(1, 1)));
        assert!(fx.is_empty(), "payments is not on this node");
    }

    #[test]
    fn outbox_publishing_survives_a_crash_until_acknowledged() {
        let (mut node, mut h, view) = setup("cqrs-view", "outbox");
        let view = view.unwrap();
        h.now_us = 7_000;
        let fx = apply(&mut h, &mut node, 1, false);
        let sent = changes(&fx);
        assert_eq!(sent.len(), 1);
        let c = sent[0];
        assert_eq!((c.txn, c.step, c.at_us), (1, 0, 7_000));
        assert_eq!(c.value, read::state_code(StepState::Applied));
        assert_eq!(h.stores[0].outbox().len(), 1, "in the outbox, same call");
        assert!(node.busy());
        // Crash: a fresh node over the same store resends from the outbox.
        let s = scenario("cqrs-view", "outbox");
        let l = crate::patterns::layout(&s);
        let mut node = wrap(&s, &l, l.service_node[0], Box::new(Fake));
        let fx = h.call(node.as_mut(), |n, cx| n.on_recover(cx));
        assert_eq!(changes(&fx), vec![c], "the same change, same id");
        let ack = Msg::new(MsgKind::Ack, 1, 0).re(c.id);
        h.call(node.as_mut(), |n, cx| n.on_message(cx, view, ack));
        assert!(h.stores[0].outbox().is_empty());
        assert!(!node.busy());
        h.now_us = 100_000;
        let fx = h.call(node.as_mut(), |n, cx| {
            n.on_timer(cx, ReadSideTimer::Resend.id(1))
        });
        assert!(changes(&fx).is_empty(), "acknowledged: not resent");
    }

    /// Fires the dual-write gap timer; returns the effects.
    fn gap(h: &mut Harness, node: &mut Box<dyn Node>) -> Vec<Effect> {
        h.call(node.as_mut(), |n, cx| {
            n.on_timer(cx, ReadSideTimer::Gap.id(0))
        })
    }

    #[test]
    fn direct_publishing_leaves_the_dual_write_gap_after_the_commit() {
        let (mut node, mut h, _) = setup("cqrs-view", "direct");
        let fx = apply(&mut h, &mut node, 1, false);
        assert!(changes(&fx).is_empty(), "not at the commit instant");
        assert!(fx.contains(&Effect::Timer {
            after_us: 1_000,
            timer: ReadSideTimer::Gap.id(0)
        }));
        assert!(node.busy(), "a change in the gap is work in flight");
        // A crash in the gap: the change is gone, the state change stays.
        let s = scenario("cqrs-view", "direct");
        let l = crate::patterns::layout(&s);
        let mut fresh = wrap(&s, &l, l.service_node[0], Box::new(Fake));
        let fx = h.call(fresh.as_mut(), |n, cx| n.on_recover(cx));
        assert!(changes(&fx).is_empty());
        assert!(!fresh.busy(), "the crash lost it");
        assert!(h.stores[0].record(1, 0).is_some());
    }

    #[test]
    fn the_gap_is_dual_write_gap_ms() {
        let s = scenario("cqrs-view", "direct").to_toml();
        let s = Scenario::parse(
            &s.replace("[write]\n", "[write]\ndual_write_gap_ms = 7\n"),
            "t.toml",
        )
        .unwrap();
        assert_eq!(s.write.as_ref().unwrap().dual_write_gap_ms, 7);
        let (mut node, mut h) = orders_of(&s);
        let fx = apply(&mut h, &mut node, 1, false);
        assert!(fx.contains(&Effect::Timer {
            after_us: 7_000,
            timer: ReadSideTimer::Gap.id(0)
        }));
    }

    #[test]
    fn a_service_publish_overrides_the_write_sections() {
        let text = scenario("cqrs-view", "outbox").to_toml().replacen(
            "name = \"orders\"\n",
            "name = \"orders\"\npublish = \"direct\"\n",
            1,
        );
        let s = Scenario::parse(&text, "t.toml").unwrap();
        assert_eq!(s.publish_of(0), Publish::Direct);
        assert_eq!(s.publish_of(1), Publish::Outbox);
        let (mut node, mut h) = orders_of(&s);
        let fx = apply(&mut h, &mut node, 1, false);
        assert!(changes(&fx).is_empty(), "orders publishes directly");
        assert!(h.stores[0].outbox().is_empty());
    }

    #[test]
    fn direct_publishing_resends_from_memory_and_a_crash_loses_it() {
        let (mut node, mut h, _) = setup("cqrs-view", "direct");
        apply(&mut h, &mut node, 1, false);
        let fx = gap(&mut h, &mut node);
        let c = changes(&fx)[0];
        assert!(h.stores[0].outbox().is_empty(), "nothing durable");
        h.now_us = 20_000;
        let fx = h.call(node.as_mut(), |n, cx| {
            n.on_timer(cx, ReadSideTimer::Resend.id(1))
        });
        assert_eq!(changes(&fx), vec![c], "resent until acknowledged");
        let s = scenario("cqrs-view", "direct");
        let l = crate::patterns::layout(&s);
        let mut node = wrap(&s, &l, l.service_node[0], Box::new(Fake));
        let fx = h.call(node.as_mut(), |n, cx| n.on_recover(cx));
        assert!(changes(&fx).is_empty(), "the crash lost it");
        assert!(!node.busy());
    }

    #[test]
    fn event_sourced_publishing_appends_the_change_to_the_log_and_survives_a_crash() {
        let s = Fixture::new("two-phase-commit")
            .services(&["orders", "payments"])
            .service(0, "store = \"event-log\"")
            .service(1, "store = \"event-log\"")
            .set("publish", "\"event-sourcing\"")
            .section("[read]\nmethod = \"cqrs-view\"")
            .scenario();
        assert_eq!(s.publish_of(0), Publish::EventSourcing);
        let l = crate::patterns::layout(&s);
        let mut node = wrap(&s, &l, l.service_node[0], Box::new(Fake));
        let mut h = Harness::new(
            l.service_node[0],
            vec![Store::new(StoreKind::EventLog, 10)],
            1,
        );
        let c = changes(&apply(&mut h, &mut node, 1, false))[0];
        assert_eq!(h.stores[0].outbox().len(), 1, "in the log, same call");
        let mut fresh = wrap(&s, &l, l.service_node[0], Box::new(Fake));
        let fx = h.call(fresh.as_mut(), |n, cx| n.on_recover(cx));
        assert_eq!(changes(&fx), vec![c], "resent from the log after a crash");
    }

    #[test]
    fn only_the_inner_nodes_commits_on_a_source_store_are_published() {
        /// Commits on its second store, which no service owns.
        #[derive(Debug)]
        struct Elsewhere;
        impl Node for Elsewhere {
            fn on_start(&mut self, _cx: &mut Cx) {}
            fn on_message(&mut self, cx: &mut Cx, _from: NodeIx, msg: Msg) {
                let w = Write::Take {
                    txn: msg.txn,
                    step: 0,
                    amount: 1,
                };
                cx.commit(1, Local::Commit, msg.txn, 0, &[w]);
            }
            fn on_timer(&mut self, _cx: &mut Cx, _t: u64) {}
            fn busy(&self) -> bool {
                false
            }
        }
        let s = scenario("cqrs-view", "outbox");
        let l = crate::patterns::layout(&s);
        let mut node = wrap(&s, &l, l.service_node[0], Box::new(Elsewhere));
        let stores = vec![
            Store::new(StoreKind::Relational, 10),
            Store::new(StoreKind::Relational, 10),
        ];
        let mut h = Harness::new(l.service_node[0], stores, 1);
        let fx = apply(&mut h, &mut node, 1, false);
        assert!(
            changes(&fx).is_empty(),
            "not a source store: nothing published"
        );
        assert!(h.stores[0].outbox().is_empty());
    }

    #[test]
    fn a_newer_change_of_a_row_supersedes_the_pending_one() {
        let (mut node, mut h, _) = setup("cqrs-view", "outbox");
        let first = changes(&apply(&mut h, &mut node, 1, false))[0];
        let second = changes(&apply(&mut h, &mut node, 1, true))[0];
        assert_eq!(second.value, read::state_code(StepState::Compensated));
        assert!(second.id > first.id);
        let outbox = h.stores[0].outbox();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].msg, second);
        h.now_us = 20_000;
        let fx = h.call(node.as_mut(), |n, cx| {
            n.on_timer(cx, ReadSideTimer::Resend.id(1))
        });
        assert_eq!(changes(&fx), vec![second]);
    }
}
