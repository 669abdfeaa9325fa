//! CQRS read view: a node that keeps a denormalized copy of its sources' data.
//!
//! The sources publish every change of a step's record as a `change` (see
//! `read_side`); the view writes it to its own document store as one row per
//! (transaction, step) — the transaction's document with one field per step — and
//! acknowledges it. Queries are served from the view alone: fast and always complete
//! while the view is up, but only as fresh as the last change that reached it. For
//! every change applied, the view records its staleness: how long after the source
//! commit the view reflected it.
//!
//! De-duplication and order: a row only moves forward. Message ids grow in the order
//! messages are made, and a source makes a row's change in the call that commits it,
//! so a change with a lower id than the row's last one is older and is ignored (it is
//! still acknowledged). Each row's version is written with the row, in the same local
//! commit, so a restarted view still refuses an old change that arrives late (a
//! property test found the in-memory version wrong: after a restart, a late copy of an
//! "applied" change overwrote a newer "compensated" one and the view never converged).

use super::Layout;
use crate::msg::{Msg, MsgId, MsgKind, NodeIx, StepIx, TxnId};
use crate::node::{Cx, Node};
use crate::read::ReadResult;
use crate::scenario::Scenario;
use crate::store::Write;
use crate::trace::{EventKind, Local};
use std::collections::{BTreeMap, BTreeSet};

/// The view's store: its only one.
const STORE: usize = 0;

/// The view node.
#[derive(Debug, Default)]
pub struct View {
    /// The id of the last change applied to each row (durable: see `on_recover`).
    version: BTreeMap<(TxnId, StepIx), MsgId>,
    /// Queries already answered (a duplicated query is answered once).
    done: BTreeSet<u32>,
}

/// Builds the view node of scenario `s`.
pub fn build(_s: &Scenario, _l: &Layout, _ix: NodeIx) -> Box<dyn Node> {
    Box::new(View::default())
}

impl View {
    fn on_change(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        cx.send(from, Msg::new(MsgKind::Ack, msg.txn, msg.step).re(msg.id));
        let row = (msg.txn, msg.step);
        if self.version.get(&row).is_some_and(|v| *v >= msg.id) {
            return;
        }
        self.version.insert(row, msg.id);
        let write = Write::View {
            txn: msg.txn,
            step: msg.step,
            state: msg.value,
            version: msg.id,
        };
        cx.commit(STORE, Local::Commit, msg.txn, msg.step, &[write]);
        cx.event(EventKind::ViewApplied {
            txn: msg.txn,
            step: msg.step,
            staleness_us: cx.now_us.saturating_sub(msg.at_us),
        });
    }

    fn on_query(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        // Acknowledged every time: the client resends until it hears back.
        cx.send(from, Msg::new(MsgKind::Ack, msg.txn, 0).re(msg.id));
        let query = msg.value as u32;
        if !self.done.insert(query) {
            return;
        }
        // The row count of the transaction's document: what a client would render.
        let rows = self
            .version
            .range((msg.txn, 0)..=(msg.txn, StepIx::MAX))
            .count();
        cx.event(EventKind::Read {
            query,
            txn: msg.txn,
            result: ReadResult::Complete,
            latency_us: cx.now_us.saturating_sub(msg.at_us),
        });
        let reply = Msg::new(MsgKind::Answer, msg.txn, 0)
            .ok(true)
            .value(rows as i64)
            .re(msg.id);
        cx.send(from, reply);
    }
}

impl Node for View {
    fn on_start(&mut self, _cx: &mut Cx) {}

    /// Relearns every row's version from the store, so a change older than what the
    /// view already shows is still refused after a restart.
    fn on_recover(&mut self, cx: &mut Cx) {
        self.version = cx.store(STORE).snapshot().view_versions;
    }

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        match msg.kind {
            MsgKind::Change => self.on_change(cx, from, msg),
            MsgKind::Query => self.on_query(cx, from, msg),
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
    use crate::node::{Effect, Harness};
    use crate::scenario::StoreKind;
    use crate::store::Store;

    fn change(id: MsgId, txn: TxnId, state: i64, at_us: u64) -> Msg {
        Msg {
            id,
            ..Msg::new(MsgKind::Change, txn, 1).value(state).at(at_us)
        }
    }

    fn staleness(fx: &[Effect]) -> Vec<u64> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Event(EventKind::ViewApplied { staleness_us, .. }) => Some(*staleness_us),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn applies_acks_dedups_and_never_goes_back() {
        let mut v = View::default();
        let mut h = Harness::new(4, vec![Store::new(StoreKind::Document, 0)], 1);
        h.now_us = 30_000;
        let fx = h.call(&mut v, |n, cx| {
            n.on_message(cx, 2, change(10, 7, 1, 12_000))
        });
        assert_eq!(staleness(&fx), vec![18_000]);
        let (to, ack) = Harness::sent(&fx)[0];
        assert_eq!((to, ack.kind, ack.re), (2, MsgKind::Ack, 10));
        assert_eq!(h.stores[0].snapshot().view.get(&(7, 1)), Some(&1));
        // A duplicate is acknowledged again and not applied twice.
        let fx = h.call(&mut v, |n, cx| {
            n.on_message(cx, 2, change(10, 7, 1, 12_000))
        });
        assert!(staleness(&fx).is_empty());
        assert_eq!(Harness::sent(&fx).len(), 1);
        // A newer change (compensated) moves the row forward; an older one cannot.
        h.call(&mut v, |n, cx| {
            n.on_message(cx, 2, change(20, 7, 4, 25_000))
        });
        let fx = h.call(&mut v, |n, cx| {
            n.on_message(cx, 2, change(15, 7, 1, 20_000))
        });
        assert!(staleness(&fx).is_empty());
        assert_eq!(h.stores[0].snapshot().view.get(&(7, 1)), Some(&4));
    }

    #[test]
    fn serves_queries_alone_and_once() {
        let mut v = View::default();
        let mut h = Harness::new(4, vec![Store::new(StoreKind::Document, 0)], 1);
        h.call(&mut v, |n, cx| n.on_message(cx, 2, change(10, 7, 1, 0)));
        let q = Msg {
            id: 3,
            ..Msg::new(MsgKind::Query, 7, 0).value(1).at(2_000)
        };
        h.now_us = 6_000;
        let fx = h.call(&mut v, |n, cx| n.on_message(cx, 0, q));
        assert!(fx.contains(&Effect::Event(EventKind::Read {
            query: 1,
            txn: 7,
            result: ReadResult::Complete,
            latency_us: 4_000
        })));
        let sent = Harness::sent(&fx);
        assert_eq!((sent[0].1.kind, sent[0].1.re), (MsgKind::Ack, 3));
        let (to, reply) = sent[1];
        assert_eq!(
            (to, reply.kind, reply.value, reply.re),
            (0, MsgKind::Answer, 1, 3)
        );
        let fx = h.call(&mut v, |n, cx| n.on_message(cx, 0, q));
        let sent = Harness::sent(&fx);
        assert_eq!(sent.len(), 1, "acknowledged again, answered once");
        assert_eq!(sent[0].1.kind, MsgKind::Ack);
    }

    #[test]
    fn a_restarted_view_keeps_its_rows_and_takes_their_next_change() {
        let mut v = View::default();
        let mut h = Harness::new(4, vec![Store::new(StoreKind::Document, 0)], 1);
        h.call(&mut v, |n, cx| n.on_message(cx, 2, change(10, 7, 1, 0)));
        let mut v = View::default();
        h.call(&mut v, |n, cx| n.on_recover(cx));
        let q = Msg::new(MsgKind::Query, 7, 0).value(1);
        let fx = h.call(&mut v, |n, cx| n.on_message(cx, 0, q));
        assert_eq!(Harness::sent(&fx)[1].1.value, 1, "one row for txn 7");
        let fx = h.call(&mut v, |n, cx| n.on_message(cx, 2, change(12, 7, 4, 0)));
        assert_eq!(staleness(&fx).len(), 1);
        assert_eq!(h.stores[0].snapshot().view.get(&(7, 1)), Some(&4));
    }
}
