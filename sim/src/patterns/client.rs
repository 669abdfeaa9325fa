//! The client: the outside world that submits business transactions.
//!
//! It starts transaction 1, 2, ... N, at most `concurrency` at once and at least
//! `interval_ms` apart, by sending `submit` to the system's entry node (the
//! coordinator, or the first step's service in a choreography). It resends the
//! submit until the entry acknowledges it, then waits for `finished`. A transaction
//! the system never acknowledged may never have started; one that never finishes is
//! given up on after a patience period so the rest can go on.
//!
//! With a `[read]` section the client is also a reader (see [`Reader`]).

use super::{Layout, CLIENT_NODE};
use crate::keyed::Purpose;
use crate::msg::{Msg, MsgKind, NodeIx, TxnId};
use crate::node::{Cx, Node};
use crate::scenario::{Coordination, Protocol, Scenario};
use crate::timer::TimerPurpose;
use crate::trace::EventKind;
use std::collections::BTreeMap;

crate::timer_purposes! {
    /// The client's timers (the purpose bytes are those of its trace's timer ids).
    enum Timer {
        /// Time to start the next transaction.
        Next = 1,
        /// Resend a transaction's submit until it is acknowledged (keyed by txn).
        Resend = 2,
        /// Stop waiting for a transaction's outcome (keyed by txn).
        Patience = 3,
        /// Time for the next query.
        Read = 4,
        /// Resend a query until it is answered (keyed by query).
        ReadResend = 5,
    }
}

/// How long the client waits for a transaction's outcome before moving on.
pub const PATIENCE_US: u64 = 2_000_000;

#[derive(Debug, Clone, Copy)]
struct Open {
    submit: Msg,
    acked: bool,
}

/// The client node (node 0).
#[derive(Debug)]
pub struct Client {
    entry: Option<NodeIx>,
    total: u32,
    concurrency: usize,
    interval_us: u64,
    backoff_us: u64,
    next_txn: TxnId,
    next_due_us: u64,
    timer_armed: bool,
    open: BTreeMap<TxnId, Open>,
    reader: Option<Reader>,
    /// Open loop: the mean gap between starts, in µs (`None`: closed loop).
    mean_gap_us: Option<f64>,
}

/// Start `n` of an open loop: the previous start plus an exponential gap keyed by
/// `n` (a Poisson process; the first start is one gap after 0).
fn poisson_next(cx: &mut Cx, previous_us: u64, mean_gap_us: f64, n: u32) -> u64 {
    previous_us + cx.exponential_for(Purpose::Arrival, &[u64::from(n)], mean_gap_us)
}

impl Client {
    /// The client of scenario `s`.
    pub fn new(s: &Scenario, l: &Layout) -> Client {
        let mean_gap_us = s
            .write
            .as_ref()
            .and_then(|w| w.arrival_rate_per_s)
            .map(|r| 1e6 / r);
        let (entry, total, concurrency, interval_us, backoff_us) = match &s.write {
            Some(w) => {
                let entry = if w.protocol == Protocol::Saga
                    && w.coordination == Coordination::Choreography
                {
                    l.step_node(s, 0)
                } else {
                    l.coordinator
                        .expect("an orchestrated protocol has a coordinator")
                };
                (
                    Some(entry),
                    w.transactions,
                    w.concurrency as usize,
                    w.interval_ms * 1000,
                    w.retry.backoff_ms * 1000,
                )
            }
            None => (None, 0, 1, 0, 20_000),
        };
        Client {
            entry,
            total,
            // Open loop: no limit in flight; starts come when the process says.
            concurrency: if mean_gap_us.is_some() {
                usize::MAX
            } else {
                concurrency.max(1)
            },
            mean_gap_us,
            interval_us,
            backoff_us,
            next_txn: 1,
            next_due_us: 0,
            timer_armed: false,
            open: BTreeMap::new(),
            reader: Reader::new(s, l),
        }
    }

    /// Starts every transaction that is due and has a free slot.
    fn start_due(&mut self, cx: &mut Cx) {
        let Some(entry) = self.entry else { return };
        while self.next_txn <= self.total
            && self.open.len() < self.concurrency
            && cx.now_us >= self.next_due_us
        {
            let txn = self.next_txn;
            self.next_txn += 1;
            self.next_due_us = match self.mean_gap_us {
                // From the due time, not from now: a timer late by the 1 ms floor
                // does not stretch the process.
                Some(gap) => poisson_next(cx, self.next_due_us, gap, txn + 1),
                None => cx.now_us + self.interval_us,
            };
            let mut submit = Msg::new(MsgKind::Submit, txn, 0);
            submit.id = cx.send(entry, submit);
            cx.event(EventKind::Submit { txn });
            self.open.insert(
                txn,
                Open {
                    submit,
                    acked: false,
                },
            );
            cx.set_timer(self.backoff_us, Timer::Resend.id(txn));
            cx.set_timer(PATIENCE_US, Timer::Patience.id(txn));
        }
        let waiting_for_time = self.next_txn <= self.total
            && self.open.len() < self.concurrency
            && cx.now_us < self.next_due_us;
        if waiting_for_time && !self.timer_armed {
            self.timer_armed = true;
            cx.set_timer(self.next_due_us - cx.now_us, Timer::Next.id(0));
        }
    }
}

impl Node for Client {
    fn on_start(&mut self, cx: &mut Cx) {
        debug_assert_eq!(cx.me, CLIENT_NODE);
        if let Some(gap) = self.mean_gap_us {
            self.next_due_us = poisson_next(cx, 0, gap, 1);
        }
        self.start_due(cx);
        if let Some(r) = &mut self.reader {
            r.start(cx);
        }
    }

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        match msg.kind {
            MsgKind::Ack => {
                // An acknowledgement names its transaction: look it up there first, so
                // acknowledgements cost no scan of every open transaction (quadratic
                // at high concurrency); the scan stays for any that does not.
                let by_txn = self
                    .open
                    .get_mut(&msg.txn)
                    .filter(|o| o.submit.id == msg.re);
                if let Some(open) = by_txn {
                    open.acked = true;
                } else if let Some(open) = self.open.values_mut().find(|o| o.submit.id == msg.re) {
                    open.acked = true;
                } else if let Some(r) = &mut self.reader {
                    r.acked(msg.re);
                }
            }
            MsgKind::Finished => {
                cx.send(from, Msg::new(MsgKind::Ack, msg.txn, 0).re(msg.id));
                if self.open.remove(&msg.txn).is_some() {
                    cx.event(EventKind::Outcome {
                        txn: msg.txn,
                        committed: msg.ok,
                    });
                    self.start_due(cx);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        let Some((purpose, txn)) = Timer::of(timer) else {
            return;
        };
        match purpose {
            Timer::Next => {
                self.timer_armed = false;
                self.start_due(cx);
            }
            Timer::Resend => {
                if let (Some(open), Some(entry)) = (self.open.get(&txn), self.entry) {
                    if !open.acked {
                        cx.send(entry, open.submit);
                        cx.set_timer(self.backoff_us, timer);
                    }
                }
            }
            Timer::Patience if self.open.remove(&txn).is_some() => self.start_due(cx),
            Timer::Read => {
                let started = self.next_txn - 1;
                if let Some(r) = &mut self.reader {
                    r.next(cx, started);
                }
            }
            Timer::ReadResend => {
                if let Some(r) = &mut self.reader {
                    r.resend(cx, txn);
                }
            }
            _ => {}
        }
    }

    fn fingerprint(&self, now_us: u64, h: &mut dyn std::hash::Hasher) {
        // The next start as a relative deadline: the same wait hashes alike whenever.
        let due_in = self.next_due_us.saturating_sub(now_us);
        let state = (
            self.next_txn,
            due_in,
            self.timer_armed,
            &self.open,
            &self.reader,
        );
        h.write(format!("{state:?}").as_bytes());
    }

    fn busy(&self) -> bool {
        self.next_txn <= self.total
            || !self.open.is_empty()
            || self.reader.as_ref().is_some_and(Reader::busy)
    }
}

/// The reading part of the client: `read.queries` queries, one every
/// `read.interval_ms` (the first after one interval, so that transactions have
/// started), each about a transaction drawn uniformly among those started so far,
/// sent to the gateway (api-composition) or the view (cqrs-view).
///
/// Like a submit, a query is resent every `retry.backoff_ms` until the node that
/// serves it acknowledges it, for at most [`PATIENCE_US`]: what the read patterns
/// lose is then theirs, not the client's (the gateway's calls to the sources are
/// never resent). A query carries its first send time in `at_us`, so the serving
/// node measures the latency from there. Its answer is recorded by that node; a
/// query no node answered counts as failed (`read::report`).
#[derive(Debug)]
pub struct Reader {
    target: NodeIx,
    total: u32,
    interval_us: u64,
    backoff_us: u64,
    issued: u32,
    /// Queries not yet acknowledged, by query id.
    pending: BTreeMap<u32, Msg>,
    /// Open loop: the mean gap between queries, in µs, and when the last was due.
    poisson: Option<(f64, u64)>,
}

impl Reader {
    /// The reader of scenario `s`, if it has a `[read]` section.
    pub fn new(s: &Scenario, l: &Layout) -> Option<Reader> {
        let r = s.read.as_ref()?;
        let backoff_ms = s.write.as_ref().map_or(20, |w| w.retry.backoff_ms);
        Some(Reader {
            target: l.gateway.or(l.view)?,
            total: r.queries,
            interval_us: r.interval_ms * 1000,
            backoff_us: backoff_ms.max(1) * 1000,
            issued: 0,
            pending: BTreeMap::new(),
            poisson: r.arrival_rate_per_s.map(|rate| (1e6 / rate, 0)),
        })
    }

    fn start(&mut self, cx: &mut Cx) {
        if self.total > 0 {
            let first = self.gap(cx);
            cx.set_timer(first, Timer::Read.id(0));
        }
    }

    /// Sends the next query; `started`: how many transactions have started.
    fn next(&mut self, cx: &mut Cx, started: TxnId) {
        if self.issued >= self.total {
            return;
        }
        self.issued += 1;
        let query = self.issued;
        // Keyed by the query: which transaction it asks about does not depend on
        // what else was drawn before it.
        let txn = 1 + cx.pick_for(Purpose::Read, &[u64::from(query)], started.max(1));
        let mut msg = Msg::new(MsgKind::Query, txn, 0)
            .value(i64::from(query))
            .at(cx.now_us);
        msg.id = cx.send(self.target, msg);
        self.pending.insert(query, msg);
        cx.set_timer(self.backoff_us, Timer::ReadResend.id(query));
        if self.issued < self.total {
            let gap = self.gap(cx);
            cx.set_timer(gap, Timer::Read.id(0));
        }
    }

    /// The time from now to the next query: `interval_ms`, or (open loop) to the
    /// next start of a Poisson process keyed by query number, counted from when the
    /// previous one was due (not from a timer late by the 1 ms floor).
    fn gap(&mut self, cx: &mut Cx) -> u64 {
        let Some((mean, due)) = &mut self.poisson else {
            return self.interval_us;
        };
        let n = u64::from(self.issued) + 1;
        *due += cx.exponential_for(Purpose::Arrival, &[u64::MAX, n], *mean);
        due.saturating_sub(cx.now_us)
    }

    /// Resends query `query` if it is still unacknowledged and patience remains.
    fn resend(&mut self, cx: &mut Cx, query: u32) {
        let Some(msg) = self.pending.get(&query).copied() else {
            return;
        };
        if cx.now_us.saturating_sub(msg.at_us) >= PATIENCE_US {
            self.pending.remove(&query);
            return;
        }
        cx.send(self.target, msg);
        cx.set_timer(self.backoff_us, Timer::ReadResend.id(query));
    }

    /// The serving node acknowledged message `re`.
    fn acked(&mut self, re: crate::msg::MsgId) {
        self.pending.retain(|_, m| m.id != re);
    }

    fn busy(&self) -> bool {
        self.issued < self.total || !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Effect, Harness};
    use crate::testing::fixture::Fixture;

    fn scenario(concurrency: u32, interval_ms: u64) -> Scenario {
        Fixture::new("shared-database")
            .services(&["a"])
            .set("transactions", 3)
            .set("concurrency", concurrency)
            .set("interval_ms", interval_ms)
            .scenario()
    }

    fn submits(effects: &[Effect]) -> Vec<TxnId> {
        Harness::sent(effects)
            .iter()
            .filter(|(_, m)| m.kind == MsgKind::Submit)
            .map(|(_, m)| m.txn)
            .collect()
    }

    #[test]
    fn keeps_at_most_concurrency_in_flight() {
        let s = scenario(2, 0);
        let l = crate::patterns::layout(&s);
        let mut c = Client::new(&s, &l);
        let mut h = Harness::new(0, vec![], 1);
        let fx = h.call(&mut c, |n, cx| n.on_start(cx));
        assert_eq!(submits(&fx), vec![1, 2]);
        let finished = Msg::new(MsgKind::Finished, 1, 0).ok(true);
        let fx = h.call(&mut c, |n, cx| n.on_message(cx, 1, finished));
        assert_eq!(submits(&fx), vec![3]);
        assert!(fx.contains(&Effect::Event(EventKind::Outcome {
            txn: 1,
            committed: true
        })));
        assert!(c.busy());
    }

    #[test]
    fn resends_until_acknowledged() {
        let s = scenario(1, 0);
        let l = crate::patterns::layout(&s);
        let mut c = Client::new(&s, &l);
        let mut h = Harness::new(0, vec![], 1);
        let fx = h.call(&mut c, |n, cx| n.on_start(cx));
        let (_, first) = Harness::sent(&fx)[0];
        let fx = h.call(&mut c, |n, cx| n.on_timer(cx, Timer::Resend.id(1)));
        assert_eq!(Harness::sent(&fx)[0].1, first, "same message, same id");
        let ack = Msg::new(MsgKind::Ack, 1, 0).re(first.id);
        h.call(&mut c, |n, cx| n.on_message(cx, 1, ack));
        let fx = h.call(&mut c, |n, cx| n.on_timer(cx, Timer::Resend.id(1)));
        assert!(Harness::sent(&fx).is_empty());
    }

    #[test]
    fn the_reader_asks_about_started_transactions_at_its_interval() {
        let s = Fixture::new("shared-database")
            .services(&["a"])
            .set("transactions", 3)
            .set("concurrency", 3)
            .section("[read]\nmethod = \"api-composition\"\nqueries = 40\ninterval_ms = 5")
            .scenario();
        let l = crate::patterns::layout(&s);
        let gateway = l.gateway.unwrap();
        let mut c = Client::new(&s, &l);
        let mut h = Harness::new(0, vec![], 1);
        let fx = h.call(&mut c, |n, cx| n.on_start(cx));
        let read_timer = Effect::Timer {
            after_us: 5_000,
            timer: Timer::Read.id(0),
        };
        assert!(fx.contains(&read_timer));
        let mut txns = std::collections::BTreeSet::new();
        for q in 1..=40u32 {
            h.now_us += 5_000;
            let fx = h.call(&mut c, |n, cx| n.on_timer(cx, Timer::Read.id(0)));
            let sent = Harness::sent(&fx);
            assert_eq!(sent.len(), 1);
            let (to, m) = sent[0];
            assert_eq!(
                (to, m.kind, m.value),
                (gateway, MsgKind::Query, i64::from(q))
            );
            assert_eq!(m.at_us, h.now_us, "carries its send time");
            assert!((1..=3).contains(&m.txn), "a started transaction");
            txns.insert(m.txn);
            assert_eq!(
                fx.contains(&read_timer),
                q < 40,
                "next one after an interval"
            );
            if q % 2 == 0 {
                let ack = Msg::new(MsgKind::Ack, m.txn, 0).re(m.id);
                h.call(&mut c, |n, cx| n.on_message(cx, gateway, ack));
                let fx = h.call(&mut c, |n, cx| n.on_timer(cx, Timer::ReadResend.id(q)));
                assert!(Harness::sent(&fx).is_empty(), "acknowledged: not resent");
            } else {
                let fx = h.call(&mut c, |n, cx| n.on_timer(cx, Timer::ReadResend.id(q)));
                assert_eq!(Harness::sent(&fx), vec![(gateway, m)], "resent as it was");
            }
        }
        assert_eq!(txns.len(), 3, "drawn among all three");
        for txn in 1..=3 {
            let done = Msg::new(MsgKind::Finished, txn, 0).ok(true);
            h.call(&mut c, |n, cx| n.on_message(cx, 1, done));
        }
        assert!(c.busy(), "odd queries wait for their acknowledgement");
        // Patience runs out for them: the client stops and they will count as failed.
        h.now_us += PATIENCE_US;
        for q in (1..=40).step_by(2) {
            let fx = h.call(&mut c, |n, cx| n.on_timer(cx, Timer::ReadResend.id(q)));
            assert!(Harness::sent(&fx).is_empty());
        }
        assert!(!c.busy(), "every query sent, every transaction over");
    }
}
