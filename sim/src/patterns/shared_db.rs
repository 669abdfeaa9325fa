//! The shared-database baseline: one database node holds every service's data.
//!
//! The pattern the database-per-service pattern replaces. The app (the coordinator
//! node) sends each business transaction to the one database, which runs it as a
//! single local ACID transaction across every service's tables: all steps or none.
//! Consistency is easy; the price is coupling. The database is one fault domain: while
//! it is down, *every* transaction fails, whichever services it touches.
//!
//! How transactions contend depends on whether any step's service has `keys`:
//! - without `keys` (table locks): transactions run one at a time, each holding the
//!   whole database for its statements, as the lab's first shared database did;
//! - with `keys` on some step's service (row locks): transactions run side by side;
//!   each locks, step by step in step order, the row its step uses at every service
//!   that has `keys` (the same keyed pick by (transaction, step) as two-phase commit,
//!   [`super::row_lock`]), holds every row until it commits or rolls back, and a
//!   request for a locked row waits in FIFO order up to `write.timeout_ms`, then the
//!   transaction rolls back (a `lock` refusal: `aborted_by` `lock-timeout`). A step
//!   at a service without `keys` locks nothing there. Taking rows in step order, the
//!   same for every transaction, means no two can wait for each other (no deadlock).
//!
//! The database:
//! - `begin`: logs that the transaction began (its write-ahead log), checks every
//!   step (business rule, units left), and either rolls back at once or executes,
//!   which takes one statement time per step;
//! - `commit`: applies every step and logs the commit, in one local transaction;
//! - `recover`: a transaction that began and never committed is rolled back: its
//!   uncommitted work died with the process, and the log says so durably.

use super::client::PATIENCE_US;
use super::reliable::Resender;
use super::row_lock::RowLocks;
use super::{Layout, CLIENT_NODE};
use crate::keyed::Purpose;
use crate::msg::{Msg, MsgId, MsgKind, NodeIx, StepIx, TxnId};
use crate::node::{timer_id, timer_parts, Cx, Node};
use crate::scenario::Scenario;
use crate::store::{RejectReason, Write};
use crate::trace::Local;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Virtual time one statement (one step) takes inside the database.
pub const STATEMENT_US: u64 = 1_000;

const RESEND: u8 = 1;
const TIMEOUT: u8 = 2;
/// The app stops asking for a rollback's answer (the client has stopped listening).
const GIVE_UP: u8 = 5;
const WORK: u8 = 3;
const LOCK_TIMEOUT: u8 = 4;

/// The application server: turns client submits into database transactions.
#[derive(Debug)]
pub struct App {
    database: NodeIx,
    timeout_us: u64,
    resender: Resender,
    /// Transactions waiting for the database, with the id of their request.
    waiting: BTreeMap<TxnId, MsgId>,
    /// Transactions already answered (a resent submit is acknowledged only).
    answered: BTreeSet<TxnId>,
}

impl App {
    /// The app of scenario `s`.
    pub fn new(s: &Scenario, l: &Layout) -> App {
        let w = s
            .write
            .as_ref()
            .expect("shared-database has a write section");
        App {
            database: l.database.expect("shared-database has a database"),
            timeout_us: w.timeout_ms * 1000,
            resender: Resender::new(RESEND, w.retry.backoff_ms * 1000, None),
            waiting: BTreeMap::new(),
            answered: BTreeSet::new(),
        }
    }

    fn finish(&mut self, cx: &mut Cx, txn: TxnId, committed: bool) {
        self.answered.insert(txn);
        let msg = Msg::new(MsgKind::Finished, txn, 0).ok(committed);
        self.resender.send(cx, CLIENT_NODE, msg);
    }
}

impl Node for App {
    fn on_start(&mut self, _cx: &mut Cx) {}

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        match msg.kind {
            MsgKind::Submit => {
                cx.send(from, Msg::new(MsgKind::Ack, msg.txn, 0).re(msg.id));
                let txn = msg.txn;
                if self.waiting.contains_key(&txn) || self.answered.contains(&txn) {
                    return;
                }
                let id = self
                    .resender
                    .send(cx, self.database, Msg::new(MsgKind::Do, txn, 0));
                self.waiting.insert(txn, id);
                cx.set_timer(self.timeout_us, timer_id(TIMEOUT, txn));
            }
            MsgKind::Done => {
                // The database's answer to the transaction or to its rollback: either
                // is what the database did, so it is what the client is told.
                self.resender.ack(msg.re);
                if let Some(id) = self.waiting.remove(&msg.txn) {
                    self.resender.ack(id);
                    self.finish(cx, msg.txn, msg.ok);
                }
            }
            MsgKind::Ack => {
                self.resender.ack(msg.re);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        let (purpose, txn) = timer_parts(timer);
        match purpose {
            RESEND => {
                self.resender.on_tick(cx, timer);
            }
            TIMEOUT => {
                // The statement timed out: the app asks the database to roll the
                // transaction back, and tells the client what the database answers
                // (rolled back, or committed already). Reporting a failure here, as
                // the app once did, told the client "failed" of transactions the
                // database went on to commit.
                if let Some(id) = self.waiting.get(&txn).copied() {
                    self.resender.ack(id);
                    let undo = Msg::new(MsgKind::Undo, txn, 0);
                    let undo = self.resender.send(cx, self.database, undo);
                    self.waiting.insert(txn, undo);
                    cx.set_timer(PATIENCE_US, timer_id(GIVE_UP, txn));
                }
            }
            GIVE_UP => {
                // Asked for as long as a client waits (a database that stays down or
                // cut off never answers): the transaction goes unanswered, and the
                // run can end.
                if let Some(id) = self.waiting.remove(&txn) {
                    self.resender.ack(id);
                }
            }
            _ => {}
        }
    }

    fn busy(&self) -> bool {
        !self.waiting.is_empty() || !self.resender.is_empty()
    }
}

/// One step as the database runs it: (local store index, amount, reject probability).
#[derive(Debug, Clone, Copy)]
struct StepPlan {
    store: usize,
    amount: i64,
    reject: f64,
}

impl StepPlan {
    /// Refuses step `step` of `txn` for `reason`: the `reject` event and the refusal
    /// committed as an abort of that step's local transaction.
    fn refuse(&self, cx: &mut Cx, txn: TxnId, step: StepIx, reason: RejectReason) {
        let rule = super::step::StepRule {
            step,
            amount: self.amount,
            reject: self.reject,
        };
        super::step::record_refusal(cx, self.store, txn, rule, reason);
        let refused = [super::step::refusal(txn, rule, reason)];
        cx.commit(self.store, Local::Abort, txn, step, &refused);
    }
}

/// A transaction in progress under row locks.
#[derive(Debug, Clone, Copy)]
struct Active {
    /// Who asked (the reply goes there) and the request.
    from: NodeIx,
    msg: Msg,
    /// Steps whose row it holds (or needs none), from the first: the next to lock.
    next: usize,
}

/// The row locks of a database where some step's service has `keys`.
#[derive(Debug)]
struct Rows {
    /// Per step: its row locks (none: its service has no `keys`).
    locks: Vec<Option<RowLocks>>,
    /// Transactions begun and not yet committed or rolled back.
    active: BTreeMap<TxnId, Active>,
}

/// The one database. Its stores: one per service (scenario order), then its log.
#[derive(Debug)]
pub struct Database {
    steps: Vec<StepPlan>,
    log: usize,
    /// Requests waiting for the lock: (transaction, requester, request id).
    queue: VecDeque<(TxnId, NodeIx, MsgId)>,
    /// The transaction holding the lock.
    open: Option<(TxnId, NodeIx, MsgId)>,
    /// Row locks instead of the one lock, when some step's service has `keys`.
    rows: Option<Rows>,
}

impl Database {
    /// The database of scenario `s`.
    pub fn new(s: &Scenario, _l: &Layout) -> Database {
        let w = s
            .write
            .as_ref()
            .expect("shared-database has a write section");
        let steps: Vec<StepPlan> = w
            .steps
            .iter()
            .map(|st| StepPlan {
                store: super::service_index(s, &st.service),
                amount: st.amount,
                reject: st.reject,
            })
            .collect();
        let timeout_us = w.timeout_ms * 1000;
        let locks: Vec<Option<RowLocks>> = steps
            .iter()
            .enumerate()
            .map(|(i, st)| {
                let keys = s.services[st.store].keys?;
                Some(RowLocks::new(keys, i as StepIx, timeout_us, LOCK_TIMEOUT))
            })
            .collect();
        let rows = locks.iter().any(Option::is_some).then(|| Rows {
            locks,
            active: BTreeMap::new(),
        });
        Database {
            steps,
            log: s.services.len(),
            queue: VecDeque::new(),
            open: None,
            rows,
        }
    }

    /// Row locks: `msg` begins its transaction (logged as the table-lock database
    /// logs it) and asks for its rows.
    fn begin_rows(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let txn = msg.txn;
        cx.commit(
            self.log,
            Local::Log,
            txn,
            0,
            &[Write::Seen {
                key: u64::from(txn),
            }],
        );
        let rows = self.rows.as_mut().expect("row locks");
        rows.active.insert(txn, Active { from, msg, next: 0 });
        self.lock_rows(cx, txn);
    }

    /// Row locks: `txn` takes its rows in step order from the next it lacks; once it
    /// holds them all its statements run (one statement time per step).
    fn lock_rows(&mut self, cx: &mut Cx, txn: TxnId) {
        let rows = self.rows.as_mut().expect("row locks");
        let Some(a) = rows.active.get_mut(&txn) else {
            return;
        };
        while a.next < rows.locks.len() {
            if let Some(locks) = rows.locks[a.next].as_mut() {
                if !locks.acquire(cx, a.from, a.msg) {
                    return;
                }
            }
            a.next += 1;
        }
        let work = STATEMENT_US * self.steps.len() as u64;
        cx.set_timer(work, timer_id(WORK, txn));
    }

    /// Row locks: `txn`'s statements ran. It commits unless a step refuses (the
    /// checks and the writes in one handler: nothing else runs between them), then
    /// gives up its rows.
    fn finish_rows(&mut self, cx: &mut Cx, txn: TxnId) {
        let rows = self.rows.as_mut().expect("row locks");
        let Some(a) = rows.active.get(&txn).copied() else {
            return;
        };
        if a.next < rows.locks.len() {
            return;
        }
        let committed = self.check_steps(cx, txn).is_ok();
        if committed {
            self.apply(cx, txn);
        } else {
            Self::log_decision(cx, self.log, txn, false);
        }
        Self::reply(cx, a.from, txn, a.msg.id, committed);
        self.release_rows(cx, txn);
    }

    /// Row locks: a wait for a row ran past the timeout; its transaction rolls back
    /// (the step refused for its lock) and gives up the rows it held.
    fn lock_timed_out(&mut self, cx: &mut Cx, timer: u64) {
        let rows = self.rows.as_mut().expect("row locks");
        let Some((step, w)) = rows
            .locks
            .iter_mut()
            .enumerate()
            .find_map(|(i, l)| Some((i, l.as_mut()?.timed_out(cx, timer)?)))
        else {
            return;
        };
        let txn = w.msg.txn;
        let st = self.steps[step];
        st.refuse(cx, txn, step as StepIx, RejectReason::Lock);
        Self::log_decision(cx, self.log, txn, false);
        Self::reply(cx, w.from, txn, w.msg.id, false);
        self.release_rows(cx, txn);
    }

    /// Row locks: `txn` is done; every row it held goes to the next in line, whose
    /// transaction then goes on taking its rows.
    fn release_rows(&mut self, cx: &mut Cx, txn: TxnId) {
        let rows = self.rows.as_mut().expect("row locks");
        rows.active.remove(&txn);
        let mut woken = Vec::new();
        for locks in rows.locks.iter_mut().flatten() {
            if let Some(w) = locks.release(cx, txn) {
                woken.push(w.msg.txn);
            }
        }
        for next in &woken {
            if let Some(a) = rows.active.get_mut(next) {
                a.next += 1;
            }
        }
        for next in woken {
            self.lock_rows(cx, next);
        }
    }

    /// The app timed `txn` out before it was decided: it rolls back wherever it is
    /// (running, waiting for a lock or a row, or not begun: then a late request for
    /// it is refused by the logged decision).
    fn roll_back(&mut self, cx: &mut Cx, txn: TxnId) {
        Self::log_decision(cx, self.log, txn, false);
        if self.rows.is_some() {
            self.release_rows(cx, txn);
        } else if self.open.is_some_and(|(t, ..)| t == txn) {
            self.open = None;
            self.begin_next(cx);
        } else {
            self.queue.retain(|(t, ..)| *t != txn);
        }
    }

    fn log_decision(cx: &mut Cx, log: usize, txn: TxnId, commit: bool) {
        cx.commit(log, Local::Log, txn, 0, &[Write::Decide { txn, commit }]);
    }

    fn reply(cx: &mut Cx, to: NodeIx, txn: TxnId, re: MsgId, committed: bool) {
        cx.send(to, Msg::new(MsgKind::Done, txn, 0).ok(committed).re(re));
    }

    /// Takes the lock for the next queued transaction and begins it.
    fn begin_next(&mut self, cx: &mut Cx) {
        while self.open.is_none() {
            let Some((txn, from, re)) = self.queue.pop_front() else {
                return;
            };
            let began = [Write::Seen {
                key: u64::from(txn),
            }];
            cx.commit(self.log, Local::Log, txn, 0, &began);
            match self.check_steps(cx, txn) {
                Ok(()) => {
                    self.open = Some((txn, from, re));
                    let work = STATEMENT_US * self.steps.len() as u64;
                    cx.set_timer(work, timer_id(WORK, txn));
                }
                Err(()) => {
                    cx.commit(
                        self.log,
                        Local::Log,
                        txn,
                        0,
                        &[Write::Decide { txn, commit: false }],
                    );
                    Self::reply(cx, from, txn, re, false);
                }
            }
        }
    }

    /// Runs the statements' checks; on a refusal records it and returns Err.
    fn check_steps(&self, cx: &mut Cx, txn: TxnId) -> Result<(), ()> {
        for (i, st) in self.steps.iter().enumerate() {
            let step = i as StepIx;
            let available = cx.store(st.store).available();
            let key = [u64::from(txn), u64::from(step)];
            let reason = if cx.chance_for(Purpose::Rule, &key, st.reject) {
                RejectReason::Rule
            } else if available < st.amount {
                RejectReason::Insufficient
            } else {
                continue;
            };
            st.refuse(cx, txn, step, reason);
            return Err(());
        }
        Ok(())
    }

    /// Applies every step and logs the commit: one local transaction.
    fn commit_open(&mut self, cx: &mut Cx) {
        let Some((txn, from, re)) = self.open.take() else {
            return;
        };
        self.apply(cx, txn);
        Self::reply(cx, from, txn, re, true);
    }

    /// Applies every step of `txn` and logs its commit.
    fn apply(&self, cx: &mut Cx, txn: TxnId) {
        for (i, st) in self.steps.iter().enumerate() {
            let step = i as StepIx;
            let take = [Write::Take {
                txn,
                step,
                amount: st.amount,
            }];
            cx.commit(st.store, Local::Commit, txn, step, &take);
        }
        cx.commit(
            self.log,
            Local::Log,
            txn,
            0,
            &[Write::Decide { txn, commit: true }],
        );
    }
}

impl Node for Database {
    fn on_start(&mut self, _cx: &mut Cx) {}

    /// Rolls back every transaction that began and did not commit.
    fn on_recover(&mut self, cx: &mut Cx) {
        let log = cx.store(self.log).snapshot();
        for key in log.seen {
            let txn = key as TxnId;
            if !log.decisions.contains_key(&txn) {
                cx.commit(
                    self.log,
                    Local::Log,
                    txn,
                    0,
                    &[Write::Decide { txn, commit: false }],
                );
            }
        }
    }

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        if !matches!(msg.kind, MsgKind::Do | MsgKind::Undo) {
            return;
        }
        let txn = msg.txn;
        if let Some(committed) = cx.store(self.log).decision(txn) {
            Self::reply(cx, from, txn, msg.id, committed);
            return;
        }
        if msg.kind == MsgKind::Undo {
            self.roll_back(cx, txn);
            Self::reply(cx, from, txn, msg.id, false);
            return;
        }
        if let Some(rows) = &self.rows {
            if !rows.active.contains_key(&txn) {
                self.begin_rows(cx, from, msg);
            }
            return;
        }
        let known =
            self.open.is_some_and(|(t, ..)| t == txn) || self.queue.iter().any(|(t, ..)| *t == txn);
        if !known {
            self.queue.push_back((txn, from, msg.id));
            self.begin_next(cx);
        }
    }

    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        let (purpose, txn) = timer_parts(timer);
        if self.rows.is_some() {
            match purpose {
                WORK => self.finish_rows(cx, txn),
                LOCK_TIMEOUT => self.lock_timed_out(cx, timer),
                _ => {}
            }
            return;
        }
        if purpose == WORK && self.open.is_some_and(|(t, ..)| t == txn) {
            self.commit_open(cx);
            self.begin_next(cx);
        }
    }

    fn busy(&self) -> bool {
        self.open.is_some()
            || !self.queue.is_empty()
            || self.rows.as_ref().is_some_and(|r| !r.active.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture::Fixture;

    use crate::node::{Effect, Harness};
    use crate::scenario::StoreKind;
    use crate::store::Store;
    use crate::trace::EventKind;

    const APP: NodeIx = 1;

    /// A database whose second step's service has one hot row, and its harness.
    fn hot() -> (Database, Harness) {
        let s = Fixture::new("shared-database")
            .services(&["orders", "inventory"])
            .service(1, "keys = 1")
            .set("timeout_ms", 50)
            .scenario();
        let l = crate::patterns::layout(&s);
        let db = Database::new(&s, &l);
        let stores = vec![
            Store::new(StoreKind::Relational, 10),
            Store::new(StoreKind::Relational, 10),
            Store::new(StoreKind::Relational, 0),
        ];
        (db, Harness::new(l.database.unwrap(), stores, 1))
    }

    fn req(kind: MsgKind, txn: TxnId) -> Msg {
        Msg {
            id: 100 + txn,
            ..Msg::new(kind, txn, 0)
        }
    }

    fn work_timer(fx: &[Effect], txn: TxnId) -> bool {
        fx.iter()
            .any(|e| matches!(e, Effect::Timer { timer, .. } if *timer == timer_id(WORK, txn)))
    }

    fn replies(fx: &[Effect]) -> Vec<(TxnId, bool)> {
        Harness::sent(fx)
            .iter()
            .filter(|(_, m)| m.kind == MsgKind::Done)
            .map(|(_, m)| (m.txn, m.ok))
            .collect()
    }

    #[test]
    fn a_second_transaction_waits_for_the_hot_row_and_runs_when_the_first_commits() {
        let (mut db, mut h) = hot();
        let fx = h.call(&mut db, |d, cx| d.on_message(cx, APP, req(MsgKind::Do, 1)));
        assert!(work_timer(&fx, 1), "the row was free: its statements run");
        let fx = h.call(&mut db, |d, cx| d.on_message(cx, APP, req(MsgKind::Do, 2)));
        assert!(!work_timer(&fx, 2));
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::Event(EventKind::LockWait {
                txn: 2,
                step: 1,
                ..
            })
        )));
        h.now_us = 2_000;
        let fx = h.call(&mut db, |d, cx| d.on_timer(cx, timer_id(WORK, 1)));
        assert_eq!(replies(&fx), vec![(1, true)]);
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::Event(EventKind::Lock {
                txn: 2,
                got: true,
                waited_us: 2_000,
                ..
            })
        )));
        assert!(
            work_timer(&fx, 2),
            "the second got the row: its statements run"
        );
    }

    #[test]
    fn the_apps_undo_rolls_back_a_waiting_transaction_and_a_decided_one_keeps_its_outcome() {
        let (mut db, mut h) = hot();
        h.call(&mut db, |d, cx| d.on_message(cx, APP, req(MsgKind::Do, 1)));
        h.call(&mut db, |d, cx| d.on_message(cx, APP, req(MsgKind::Do, 2)));
        let fx = h.call(&mut db, |d, cx| {
            d.on_message(cx, APP, req(MsgKind::Undo, 2))
        });
        assert_eq!(replies(&fx), vec![(2, false)]);
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::Event(EventKind::Lock {
                txn: 2,
                got: false,
                ..
            })
        )));
        assert_eq!(
            db.rows.as_ref().unwrap().active.len(),
            1,
            "only txn 1 is left"
        );
        h.call(&mut db, |d, cx| d.on_timer(cx, timer_id(WORK, 1)));
        // Committed already: an undo is answered with the commit.
        let fx = h.call(&mut db, |d, cx| {
            d.on_message(cx, APP, req(MsgKind::Undo, 1))
        });
        assert_eq!(replies(&fx), vec![(1, true)]);
        // A late request for the rolled-back one is refused.
        let fx = h.call(&mut db, |d, cx| d.on_message(cx, APP, req(MsgKind::Do, 2)));
        assert_eq!(replies(&fx), vec![(2, false)]);
        assert!(!db.busy());
    }
}
