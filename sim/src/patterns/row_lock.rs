//! Row locks on a hot service: with `keys = N` on a `[[service]]`, each transaction's
//! step there uses one of N rows, and a protocol that locks (two-phase commit, the
//! shared database) holds that row's lock while the step is undecided.
//!
//! The row is a keyed pick by (transaction, step) with no occurrence count, so a
//! resent request names the same row. A request for a row another transaction holds
//! waits in FIFO order (one queue per row) up to `timeout_us`, then gives up; the
//! protocol decides what giving up means (a 2PC participant votes no). Every wait is
//! in the trace: `lock-wait` when a request queues, `lock` when its wait ends (got
//! the row, or gave up), which is what `write.lock_wait_ms` is computed from.
//!
//! Who holds a row is derived from durable state by the protocol after a crash
//! ([`RowLocks::rebuild`]); the queues are volatile (a crash forgets them and the
//! sender's resend brings the requests back).

use crate::keyed::Purpose;
use crate::msg::{Msg, NodeIx, StepIx, TxnId};
use crate::node::{timer_id, timer_parts, Cx};
use crate::trace::EventKind;
use std::collections::{BTreeMap, VecDeque};

/// A request waiting for its row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waiter {
    /// Who sent it (the reply goes there).
    pub from: NodeIx,
    /// The request.
    pub msg: Msg,
    since_us: u64,
}

/// The row locks of one step at one service.
#[derive(Debug, Clone)]
pub struct RowLocks {
    keys: u32,
    step: StepIx,
    timeout_us: u64,
    /// The timer purpose of a waiting request's timeout (the protocol's to choose).
    timer_purpose: u8,
    /// The transaction holding each locked row.
    holders: BTreeMap<u32, TxnId>,
    /// Requests waiting for each row, first come first.
    queues: BTreeMap<u32, VecDeque<Waiter>>,
}

impl RowLocks {
    /// Locks over `keys` rows for step `step`, whose waits give up after `timeout_us`
    /// (their timers use purpose `timer_purpose`).
    pub fn new(keys: u32, step: StepIx, timeout_us: u64, timer_purpose: u8) -> RowLocks {
        RowLocks {
            keys: keys.max(1),
            step,
            timeout_us,
            timer_purpose,
            holders: BTreeMap::new(),
            queues: BTreeMap::new(),
        }
    }

    /// The row `txn`'s step uses: the same on every call (no occurrence count).
    pub fn row(&self, cx: &Cx, txn: TxnId) -> u32 {
        cx.pick_fixed(
            Purpose::Row,
            &[u64::from(txn), u64::from(self.step)],
            self.keys,
        )
    }

    /// `txn` asks for its row: true when it holds it now (it was free, or already its
    /// own); false when it waits behind another transaction (a resend of a waiting
    /// request is not queued twice).
    pub fn acquire(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) -> bool {
        let (txn, row) = (msg.txn, self.row(cx, msg.txn));
        match self.holders.get(&row) {
            Some(&h) if h == txn => true,
            None => {
                self.holders.insert(row, txn);
                self.event_got(cx, txn, row, 0, true);
                true
            }
            Some(_) => {
                let queue = self.queues.entry(row).or_default();
                if !queue.iter().any(|w| w.msg.txn == txn) {
                    queue.push_back(Waiter {
                        from,
                        msg,
                        since_us: cx.now_us,
                    });
                    cx.event(EventKind::LockWait {
                        txn,
                        step: self.step,
                        row,
                    });
                    cx.set_timer(self.timeout_us, timer_id(self.timer_purpose, txn));
                }
                false
            }
        }
    }

    /// `txn` is done with its row (decided, refused, or aborted while waiting): its
    /// lock is released, or its wait dropped. Returns the request that gets the row
    /// next, if one waited for it.
    pub fn release(&mut self, cx: &mut Cx, txn: TxnId) -> Option<Waiter> {
        let row = self.row(cx, txn);
        if self.holders.get(&row) != Some(&txn) {
            self.drop_wait(cx, row, txn);
            return None;
        }
        self.holders.remove(&row);
        let queue = self.queues.get_mut(&row)?;
        let next = queue.pop_front()?;
        if queue.is_empty() {
            self.queues.remove(&row);
        }
        self.holders.insert(row, next.msg.txn);
        let waited = cx.now_us.saturating_sub(next.since_us);
        self.event_got(cx, next.msg.txn, row, waited, true);
        Some(next)
    }

    /// Removes `txn`'s waiting request for `row`, if any, recording that it gave up.
    fn drop_wait(&mut self, cx: &mut Cx, row: u32, txn: TxnId) -> Option<Waiter> {
        let queue = self.queues.get_mut(&row)?;
        let at = queue.iter().position(|w| w.msg.txn == txn)?;
        let w = queue.remove(at)?;
        if queue.is_empty() {
            self.queues.remove(&row);
        }
        let waited = cx.now_us.saturating_sub(w.since_us);
        self.event_got(cx, txn, row, waited, false);
        Some(w)
    }

    fn event_got(&self, cx: &mut Cx, txn: TxnId, row: u32, waited_us: u64, got: bool) {
        cx.event(EventKind::Lock {
            txn,
            step: self.step,
            row,
            waited_us,
            got,
        });
    }

    /// Does `timer` belong to these locks?
    pub fn owns(&self, timer: u64) -> bool {
        timer_parts(timer).0 == self.timer_purpose
    }

    /// A wait's timeout fired: the request that gives up, if it still waits and its
    /// time is up.
    pub fn timed_out(&mut self, cx: &mut Cx, timer: u64) -> Option<Waiter> {
        let txn = timer_parts(timer).1;
        let row = self.row(cx, txn);
        let w = *self.queues.get(&row)?.iter().find(|w| w.msg.txn == txn)?;
        if w.since_us + self.timeout_us > cx.now_us {
            return None;
        }
        self.drop_wait(cx, row, txn)
    }

    /// After a crash: the rows of `held` (transactions whose step is durably prepared)
    /// are locked again; nothing waits.
    pub fn rebuild(&mut self, cx: &Cx, held: impl IntoIterator<Item = TxnId>) {
        self.queues.clear();
        self.holders = held.into_iter().map(|t| (self.row(cx, t), t)).collect();
    }

    /// Requests are waiting.
    pub fn busy(&self) -> bool {
        !self.queues.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::MsgKind;
    use crate::node::{Effect, Harness};
    use crate::scenario::StoreKind;
    use crate::store::Store;

    fn req(txn: TxnId) -> Msg {
        Msg {
            id: 100 + txn,
            ..Msg::new(MsgKind::Prepare, txn, 1)
        }
    }

    fn locks(keys: u32) -> RowLocks {
        RowLocks::new(keys, 1, 50_000, 65)
    }

    /// Runs `f` on the locks inside one harness call.
    fn with<T>(
        h: &mut Harness,
        l: &mut RowLocks,
        f: impl FnOnce(&mut RowLocks, &mut Cx) -> T,
    ) -> (T, Vec<Effect>) {
        let mut out = None;
        #[derive(Debug)]
        struct Nop;
        impl crate::node::Node for Nop {
            fn on_start(&mut self, _: &mut Cx) {}
            fn on_message(&mut self, _: &mut Cx, _: NodeIx, _: Msg) {}
            fn on_timer(&mut self, _: &mut Cx, _: u64) {}
            fn busy(&self) -> bool {
                false
            }
        }
        let fx = h.call(&mut Nop, |_, cx| out = Some(f(l, cx)));
        (out.unwrap(), fx)
    }

    #[test]
    fn one_row_serializes_in_arrival_order() {
        let mut h = Harness::new(2, vec![Store::new(StoreKind::Document, 10)], 1);
        let mut l = locks(1);
        assert!(with(&mut h, &mut l, |l, cx| l.acquire(cx, 4, req(1))).0);
        h.now_us = 1_000;
        assert!(!with(&mut h, &mut l, |l, cx| l.acquire(cx, 4, req(2))).0);
        assert!(!with(&mut h, &mut l, |l, cx| l.acquire(cx, 4, req(3))).0);
        let (_, fx) = with(&mut h, &mut l, |l, cx| l.acquire(cx, 4, req(2)));
        assert!(
            fx.is_empty(),
            "a resend of a waiting request is not queued again"
        );
        h.now_us = 4_000;
        let (next, fx) = with(&mut h, &mut l, |l, cx| l.release(cx, 1));
        assert_eq!(next.unwrap().msg.txn, 2, "first come, first served");
        assert!(fx.contains(&Effect::Event(EventKind::Lock {
            txn: 2,
            step: 1,
            row: 0,
            waited_us: 3_000,
            got: true
        })));
        assert!(l.busy(), "txn 3 still waits");
    }

    #[test]
    fn a_wait_gives_up_at_its_timeout_and_a_resend_picks_the_same_row() {
        let mut h = Harness::new(2, vec![Store::new(StoreKind::Document, 10)], 3);
        let mut l = locks(8);
        let rows: Vec<u32> = (0..3)
            .map(|_| with(&mut h, &mut l, |l, cx| l.row(cx, 9)).0)
            .collect();
        assert!(rows.windows(2).all(|w| w[0] == w[1]), "{rows:?}");
        let mut l = locks(1);
        with(&mut h, &mut l, |l, cx| l.acquire(cx, 4, req(1)));
        with(&mut h, &mut l, |l, cx| l.acquire(cx, 4, req(2)));
        h.now_us = 10_000;
        let timer = timer_id(65, 2);
        assert!(
            with(&mut h, &mut l, |l, cx| l.timed_out(cx, timer))
                .0
                .is_none(),
            "too early"
        );
        h.now_us = 50_000;
        let (gave_up, fx) = with(&mut h, &mut l, |l, cx| l.timed_out(cx, timer));
        assert_eq!(gave_up.unwrap().msg.txn, 2);
        assert!(matches!(
            fx[0],
            Effect::Event(EventKind::Lock {
                got: false,
                waited_us: 50_000,
                ..
            })
        ));
        assert!(!l.busy());
        assert!(with(&mut h, &mut l, |l, cx| l.release(cx, 1)).0.is_none());
    }
}
