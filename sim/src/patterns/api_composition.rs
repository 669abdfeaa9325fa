//! API composition: a gateway asks every source and joins the answers in memory.
//!
//! For each client query about a transaction, the gateway sends one `query` to every
//! service in `read.sources` (each answered by that service's node from its own store,
//! see `read_side`) and waits at most `timeout_ms` for the answers. The calls go out at
//! once, so one timer per query is the per-call timeout. The join is:
//! - complete: every source answered;
//! - partial: some did not (crashed, unreachable, a message lost); the gateway's
//!   answer to the client says which, as a bit mask in `value`;
//! - failed: none did.
//!
//! The gateway does not resend its calls: a read is cheap to repeat and stale when
//! late, so a lost call or answer simply makes the read partial. (The client's query
//! to the gateway is resent until the gateway acknowledges it, which it does at once.) With independent loss `p`
//! per message and no other fault, each call is one query and one answer, so a read is
//! complete with probability (1-p)^(2k) for k sources (tested).
//!
//! The sources answer independently, at different moments: nothing makes the join a
//! snapshot, so a transaction that changes between two answers is seen half done
//! (the consistent-reads checker finds those reads).

use super::Layout;
use crate::msg::{Msg, MsgId, MsgKind, NodeIx, StepIx, TxnId};
use crate::node::{timer_id, timer_parts, Cx, Node};
use crate::read::{self, ReadResult};
use crate::scenario::Scenario;
use crate::trace::EventKind;
use std::collections::{BTreeMap, BTreeSet};

const TIMEOUT: u8 = 1;

/// One query being joined.
#[derive(Debug, Clone)]
struct Join {
    txn: TxnId,
    client: NodeIx,
    client_msg: MsgId,
    /// When the client first sent the query.
    started_us: u64,
    /// The call to each source, by position in `sources`.
    calls: Vec<MsgId>,
    /// Which sources answered.
    answered: Vec<bool>,
}

/// The gateway node.
#[derive(Debug)]
pub struct Gateway {
    /// (service index, node holding it) per source, in `read.sources` order.
    sources: Vec<(usize, NodeIx)>,
    timeout_us: u64,
    open: BTreeMap<u32, Join>,
    /// Queries already answered: a duplicated client query is not joined twice.
    done: BTreeSet<u32>,
}

/// Builds the gateway of scenario `s`.
pub fn build(s: &Scenario, l: &Layout, _ix: NodeIx) -> Box<dyn Node> {
    Box::new(Gateway::new(s, l))
}

impl Gateway {
    /// The gateway of scenario `s`.
    pub fn new(s: &Scenario, l: &Layout) -> Gateway {
        let r = s.read.as_ref().expect("a gateway needs a read section");
        Gateway {
            sources: read::sources(s)
                .into_iter()
                .map(|i| (i, l.service_node[i]))
                .collect(),
            timeout_us: r.timeout_ms * 1000,
            open: BTreeMap::new(),
            done: BTreeSet::new(),
        }
    }

    fn finish(&mut self, cx: &mut Cx, query: u32) {
        let Some(join) = self.open.remove(&query) else {
            return;
        };
        self.done.insert(query);
        let k = join.answered.len() as u32;
        let got = join.answered.iter().filter(|a| **a).count() as u32;
        let result = if got == k {
            ReadResult::Complete
        } else if got == 0 {
            ReadResult::Failed
        } else {
            ReadResult::Partial { missing: k - got }
        };
        let missing_mask = join
            .answered
            .iter()
            .enumerate()
            .filter(|(_, a)| !**a)
            .fold(0i64, |m, (i, _)| m | (1i64 << i.min(62)));
        cx.event(EventKind::Read {
            query,
            txn: join.txn,
            result,
            latency_us: cx.now_us.saturating_sub(join.started_us),
        });
        let reply = Msg::new(MsgKind::Answer, join.txn, 0)
            .ok(result == ReadResult::Complete)
            .value(missing_mask)
            .re(join.client_msg);
        cx.send(join.client, reply);
    }
}

impl Node for Gateway {
    fn on_start(&mut self, _cx: &mut Cx) {}

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        match msg.kind {
            MsgKind::Query => {
                // Acknowledged every time: the client resends until it hears back.
                cx.send(from, Msg::new(MsgKind::Ack, msg.txn, 0).re(msg.id));
                let query = msg.value as u32;
                if self.open.contains_key(&query) || self.done.contains(&query) {
                    return;
                }
                let mut calls = Vec::with_capacity(self.sources.len());
                for &(service, node) in &self.sources {
                    let call = Msg::new(MsgKind::Query, msg.txn, service as StepIx)
                        .value(i64::from(query));
                    calls.push(cx.send(node, call));
                }
                let answered = vec![false; calls.len()];
                self.open.insert(
                    query,
                    Join {
                        txn: msg.txn,
                        client: from,
                        client_msg: msg.id,
                        started_us: msg.at_us,
                        calls,
                        answered,
                    },
                );
                if self.sources.is_empty() {
                    self.finish(cx, query);
                } else {
                    cx.set_timer(self.timeout_us, timer_id(TIMEOUT, query));
                }
            }
            MsgKind::Answer => {
                let found = self.open.iter_mut().find_map(|(q, j)| {
                    let i = j.calls.iter().position(|c| *c == msg.re)?;
                    Some((*q, j, i))
                });
                let Some((query, join, i)) = found else {
                    return;
                };
                join.answered[i] = true;
                if join.answered.iter().all(|a| *a) {
                    self.finish(cx, query);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        let (purpose, query) = timer_parts(timer);
        if purpose == TIMEOUT {
            self.finish(cx, query);
        }
    }

    fn busy(&self) -> bool {
        !self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture::Fixture;

    use crate::node::{Effect, Harness};

    fn scenario() -> Scenario {
        Fixture::new("two-phase-commit")
                .services(&["orders", "payments", "stock"])
                .steps(&["orders", "payments"])
                .section("[read]\nmethod = \"api-composition\"\nsources = [\"orders\", \"payments\"]\ntimeout_ms = 50")
            .scenario()
    }

    fn reads(fx: &[Effect]) -> Vec<(u32, ReadResult, u64)> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Event(EventKind::Read {
                    query,
                    result,
                    latency_us,
                    ..
                }) => Some((*query, *result, *latency_us)),
                _ => None,
            })
            .collect()
    }

    fn setup() -> (Gateway, Harness, Vec<(NodeIx, Msg)>) {
        let s = scenario();
        let l = crate::patterns::layout(&s);
        let mut g = Gateway::new(&s, &l);
        let mut h = Harness::new(l.gateway.unwrap(), vec![], 1);
        let q = Msg {
            id: 5,
            ..Msg::new(MsgKind::Query, 3, 0).value(7)
        };
        let fx = h.call(&mut g, |n, cx| n.on_message(cx, 0, q));
        let mut calls = Harness::sent(&fx);
        let (to, ack) = calls.remove(0);
        assert_eq!((to, ack.kind, ack.re), (0, MsgKind::Ack, 5));
        (g, h, calls)
    }

    fn answer(call: &Msg) -> Msg {
        Msg::new(MsgKind::Answer, call.txn, call.step)
            .value(1)
            .re(call.id)
    }

    #[test]
    fn asks_every_source_and_joins_a_complete_read() {
        let (mut g, mut h, calls) = setup();
        assert_eq!(calls.len(), 2, "one call per source, none to stock");
        assert!(calls
            .iter()
            .all(|(_, m)| m.kind == MsgKind::Query && m.txn == 3));
        assert_eq!(calls[0].1.step, 0);
        assert_eq!(calls[1].1.step, 1);
        h.now_us = 4_000;
        let fx = h.call(&mut g, |n, cx| n.on_message(cx, 1, answer(&calls[1].1)));
        assert!(reads(&fx).is_empty(), "still waiting for orders");
        h.now_us = 9_000;
        let fx = h.call(&mut g, |n, cx| n.on_message(cx, 1, answer(&calls[0].1)));
        assert_eq!(reads(&fx), vec![(7, ReadResult::Complete, 9_000)]);
        let (to, reply) = Harness::sent(&fx)[0];
        assert_eq!(
            (to, reply.kind, reply.ok, reply.re),
            (0, MsgKind::Answer, true, 5)
        );
        assert!(!g.busy());
        // A late timeout and a duplicated client query change nothing.
        let fx = h.call(&mut g, |n, cx| n.on_timer(cx, timer_id(TIMEOUT, 7)));
        assert!(fx.is_empty());
        let q = Msg {
            id: 5,
            ..Msg::new(MsgKind::Query, 3, 0).value(7)
        };
        let fx = h.call(&mut g, |n, cx| n.on_message(cx, 0, q));
        let sent = Harness::sent(&fx);
        assert_eq!(sent.len(), 1, "acknowledged again, not joined again");
        assert_eq!(sent[0].1.kind, MsgKind::Ack);
    }

    #[test]
    fn a_timeout_makes_a_partial_read_that_says_which_source_is_missing() {
        let (mut g, mut h, calls) = setup();
        h.call(&mut g, |n, cx| n.on_message(cx, 1, answer(&calls[0].1)));
        h.now_us = 50_000;
        let fx = h.call(&mut g, |n, cx| n.on_timer(cx, timer_id(TIMEOUT, 7)));
        assert_eq!(
            reads(&fx),
            vec![(7, ReadResult::Partial { missing: 1 }, 50_000)]
        );
        let (_, reply) = Harness::sent(&fx)[0];
        assert!(!reply.ok);
        assert_eq!(reply.value, 0b10, "payments (source 1) is missing");
        // A late answer is ignored: the read is over.
        let fx = h.call(&mut g, |n, cx| n.on_message(cx, 1, answer(&calls[1].1)));
        assert!(fx.is_empty());
    }

    #[test]
    fn no_answer_at_all_is_a_failed_read_and_queries_are_never_resent() {
        let (mut g, mut h, _) = setup();
        h.now_us = 50_000;
        let fx = h.call(&mut g, |n, cx| n.on_timer(cx, timer_id(TIMEOUT, 7)));
        assert_eq!(reads(&fx), vec![(7, ReadResult::Failed, 50_000)]);
        assert_eq!(Harness::sent(&fx).len(), 1, "only the answer to the client");
    }
}
