//! The shared-database baseline: one database node holds every service's data.
//!
//! The pattern the database-per-service pattern replaces. The app (the coordinator
//! node) sends each business transaction to the one database, which runs it as a
//! single local ACID transaction across every service's tables: all steps or none.
//! Consistency is easy; the price is coupling. Transactions run one at a time (the
//! database's locks serialize them), and the database is one fault domain: while it is
//! down, *every* transaction fails, whichever services it touches.
//!
//! The database:
//! - `begin`: logs that the transaction began (its write-ahead log), checks every
//!   step (business rule, units left), and either rolls back at once or executes,
//!   which takes one statement time per step;
//! - `commit`: applies every step and logs the commit, in one local transaction;
//! - `recover`: a transaction that began and never committed is rolled back: its
//!   uncommitted work died with the process, and the log says so durably.

use super::reliable::Resender;
use super::{Layout, CLIENT_NODE};
use crate::keyed::Purpose;
use crate::msg::{Msg, MsgId, MsgKind, NodeIx, StepIx, TxnId};
use crate::node::{timer_id, timer_parts, Cx, Node};
use crate::scenario::Scenario;
use crate::store::{RejectReason, Write};
use crate::trace::{EventKind, Local};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Virtual time one statement (one step) takes inside the database.
pub const STATEMENT_US: u64 = 1_000;

const RESEND: u8 = 1;
const TIMEOUT: u8 = 2;
const WORK: u8 = 3;

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
                self.resender.ack(msg.re);
                if self.waiting.remove(&msg.txn).is_some() {
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
                // The statement timed out: the app reports a failure. (If the database
                // does run it later, the stores say so: outcomes are judged from them.)
                if let Some(id) = self.waiting.remove(&txn) {
                    self.resender.ack(id);
                    self.finish(cx, txn, false);
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

/// The one database. Its stores: one per service (scenario order), then its log.
#[derive(Debug)]
pub struct Database {
    steps: Vec<StepPlan>,
    log: usize,
    /// Requests waiting for the lock: (transaction, requester, request id).
    queue: VecDeque<(TxnId, NodeIx, MsgId)>,
    /// The transaction holding the lock.
    open: Option<(TxnId, NodeIx, MsgId)>,
}

impl Database {
    /// The database of scenario `s`.
    pub fn new(s: &Scenario, _l: &Layout) -> Database {
        let w = s
            .write
            .as_ref()
            .expect("shared-database has a write section");
        let steps = w
            .steps
            .iter()
            .map(|st| StepPlan {
                store: super::service_index(s, &st.service),
                amount: st.amount,
                reject: st.reject,
            })
            .collect();
        Database {
            steps,
            log: s.services.len(),
            queue: VecDeque::new(),
            open: None,
        }
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
            cx.event(EventKind::Reject {
                txn,
                step,
                reason,
                available,
                needed: st.amount,
            });
            let refused = [Write::Reject {
                txn,
                step,
                amount: st.amount,
                reason,
            }];
            cx.commit(st.store, Local::Abort, txn, step, &refused);
            return Err(());
        }
        Ok(())
    }

    /// Applies every step and logs the commit: one local transaction.
    fn commit_open(&mut self, cx: &mut Cx) {
        let Some((txn, from, re)) = self.open.take() else {
            return;
        };
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
        Self::reply(cx, from, txn, re, true);
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
        if msg.kind != MsgKind::Do {
            return;
        }
        let txn = msg.txn;
        if let Some(committed) = cx.store(self.log).decision(txn) {
            Self::reply(cx, from, txn, msg.id, committed);
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
        if purpose == WORK && self.open.is_some_and(|(t, ..)| t == txn) {
            self.commit_open(cx);
            self.begin_next(cx);
        }
    }

    fn busy(&self) -> bool {
        self.open.is_some() || !self.queue.is_empty()
    }
}
