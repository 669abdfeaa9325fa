//! Two-phase commit: a coordinator and one participant per step.
//!
//! - Phase one: the coordinator sends `prepare` to every participant. A participant
//!   votes yes by holding the units (`Write::Hold`, a prepare), or no by refusing (the
//!   business rule, or too few units).
//! - Phase two: all yes, the coordinator decides commit; any no, or a vote missing after
//!   `timeout_ms`, abort. With `coordinator_log` it forces the decision to its log
//!   (`Write::Decide`) before telling anyone, then sends it until every participant
//!   acknowledges: each applies (`Write::Apply`) or releases (`Write::Release`).
//!
//! A participant that has not voted may abort alone (a decision to abort that arrives
//! before the prepare leaves a tombstone, so the late prepare gets a no). One that voted
//! yes must wait for the decision: it holds its units, in doubt, and asks the
//! coordinator again every `timeout_ms` and after its own recovery. This is the classic
//! blocking: while the coordinator is down, nobody may decide in its place.
//!
//! With `keys` on a participant's service, the step's row is locked from the prepare
//! until the decision is applied (`row_lock`): a prepare for a row another transaction
//! holds waits in FIFO order, at most `timeout_ms` (the vote timeout), and is then
//! refused (a `no` vote, reason `lock`). The lock is part of the prepared record: after
//! a crash, every step still held in the store locks its row again, as a textbook
//! participant's log keeps its locks; the waiting prepares are forgotten and come back
//! with the coordinator's resend.
//!
//! A recovering coordinator reads its log: a transaction that began and has no decision
//! is aborted (presumed abort, logged so it never changes); a decision not yet
//! acknowledged by everyone is sent again. Without `coordinator_log` it remembers
//! nothing and answers every question with abort, even about a transaction it had
//! decided to commit before the crash: agreement can break.

use super::hosted::{Hosted, SERVICE_TIMERS};
use super::reliable::Resender;
use super::row_lock::RowLocks;
use super::step::{hold_or_refuse, key, record_refusal, refusal, KeyKind, StepRule, SERVICE_STORE};
use super::{Layout, CLIENT_NODE};
use crate::msg::{Msg, MsgId, MsgKind, NodeIx, StepIx, TxnId};
use crate::node::{Cx, Node};
use crate::scenario::Scenario;
use crate::store::{RejectReason, StepState, Write};
use crate::timer::TimerPurpose;
use crate::trace::{EventKind, Local};
use std::collections::{BTreeMap, BTreeSet};

/// How long forcing the decision to the coordinator's log takes: the window in which a
/// crash leaves every participant voted and no decision made.
pub const LOG_FORCE_US: u64 = 1_000;

crate::timer_purposes! {
    /// The coordinator's timers.
    enum Coord {
        /// The prepares' resend tick.
        ResendPrepare = 1,
        /// The decisions' resend tick.
        ResendDecision = 2,
        /// Give up waiting for the votes: abort (keyed by txn).
        VoteTimeout = 3,
        /// The decision is forced to the log (keyed by txn).
        LogForce = 4,
    }
}

crate::timer_purposes! {
    /// A participant's timers: at or above `SERVICE_TIMERS`, so a hosted coordinator's
    /// node routes them to the participant.
    enum Part {
        /// Ask the coordinator again about a transaction in doubt (keyed by txn).
        Ask = SERVICE_TIMERS,
        /// A prepare waited too long for its row lock (keyed by txn).
        LockTimeout = SERVICE_TIMERS + 1,
    }
}

/// Builds the node `ix` of two-phase commit.
pub fn build(s: &Scenario, l: &Layout, ix: NodeIx) -> Box<dyn Node> {
    let participant = StepRule::of(s, l, ix).map(|rule| Participant::new(s, l, rule));
    if l.coordinator == Some(ix) {
        let log = l.node_stores[usize::from(ix)].len() - 1;
        let coordinator = Coordinator::new(s, l, log);
        return match participant {
            Some(p) => Box::new(Hosted::new(coordinator, p, is_for_coordinator)),
            None => Box::new(coordinator),
        };
    }
    match participant {
        Some(p) => Box::new(p),
        None => Box::new(super::Idle),
    }
}

/// Does a message go to the coordinator (rather than a participant on its node)?
pub fn is_for_coordinator(msg: &Msg) -> bool {
    matches!(msg.kind, MsgKind::Submit | MsgKind::Vote)
}

/// Where a transaction stands at the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Collecting votes (None: not yet voted).
    Voting(Vec<Option<bool>>),
    /// Forcing the decision to the log.
    Deciding(bool),
    /// Decided and sent; waiting for every acknowledgement.
    Decided(bool),
}

/// The 2PC coordinator.
#[derive(Debug)]
pub struct Coordinator {
    log: usize,
    durable: bool,
    timeout_us: u64,
    participants: Vec<NodeIx>,
    prepares: Resender,
    decisions: Resender,
    txns: BTreeMap<TxnId, Phase>,
}

impl Coordinator {
    /// The coordinator of scenario `s`, with its log in local store `log`.
    pub fn new(s: &Scenario, l: &Layout, log: usize) -> Coordinator {
        let w = s.write.as_ref().expect("2PC has a write section");
        let backoff = w.retry.backoff_ms * 1000;
        Coordinator {
            log,
            durable: w.coordinator_log,
            timeout_us: w.timeout_ms * 1000,
            participants: (0..w.steps.len()).map(|i| l.step_node(s, i)).collect(),
            prepares: Resender::new(Coord::ResendPrepare.code(), backoff, None),
            decisions: Resender::new(Coord::ResendDecision.code(), backoff, None),
            txns: BTreeMap::new(),
        }
    }

    /// Where `txn` stands, if the coordinator is working on it.
    pub fn phase(&self, txn: TxnId) -> Option<&Phase> {
        self.txns.get(&txn)
    }

    /// The logged decision about `txn`, or what the coordinator knows in memory.
    fn known_decision(&self, cx: &Cx, txn: TxnId) -> Option<bool> {
        match self.txns.get(&txn) {
            Some(Phase::Decided(c)) => Some(*c),
            _ => cx.store(self.log).decision(txn),
        }
    }

    fn on_submit(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let txn = msg.txn;
        let began = key(KeyKind::Began, txn, 0);
        let known = self.txns.contains_key(&txn)
            || cx.store(self.log).seen(began)
            || cx.store(self.log).decision(txn).is_some();
        if !known {
            if self.durable {
                cx.commit(self.log, Local::Log, txn, 0, &[Write::Seen { key: began }]);
            }
            for (i, &p) in self.participants.iter().enumerate() {
                self.prepares
                    .send(cx, p, Msg::new(MsgKind::Prepare, txn, i as StepIx));
            }
            let votes = vec![None; self.participants.len()];
            self.txns.insert(txn, Phase::Voting(votes));
            cx.set_timer(self.timeout_us, Coord::VoteTimeout.id(txn));
        }
        cx.send(from, Msg::new(MsgKind::Ack, txn, 0).re(msg.id));
    }

    fn on_vote(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let (txn, step) = (msg.txn, msg.step);
        if let Some(Phase::Voting(votes)) = self.txns.get_mut(&txn) {
            self.prepares.ack(msg.re);
            if let Some(v) = votes.get_mut(usize::from(step)) {
                *v = Some(msg.ok);
            }
            if !msg.ok {
                self.decide(cx, txn, false);
            } else if votes.iter().all(|v| *v == Some(true)) {
                self.decide(cx, txn, true);
            }
            return;
        }
        if matches!(self.txns.get(&txn), Some(Phase::Deciding(_))) {
            return; // the decision is on its way
        }
        // A participant in doubt asks again. Presumed abort: no decision known means
        // the transaction never committed.
        let commit = self.known_decision(cx, txn).unwrap_or(false);
        cx.send(from, Msg::new(MsgKind::Decide, txn, step).ok(commit));
    }

    fn decide(&mut self, cx: &mut Cx, txn: TxnId, commit: bool) {
        self.prepares.retain(|m| m.txn != txn);
        if self.durable {
            self.txns.insert(txn, Phase::Deciding(commit));
            cx.set_timer(LOG_FORCE_US, Coord::LogForce.id(txn));
        } else {
            cx.event(EventKind::Decide { txn, commit });
            self.send_decision(cx, txn, commit);
        }
    }

    /// The decision is durable (or made, without a log): tell every participant and
    /// the client, until each acknowledges.
    fn send_decision(&mut self, cx: &mut Cx, txn: TxnId, commit: bool) {
        for (i, &p) in self.participants.iter().enumerate() {
            let m = Msg::new(MsgKind::Decide, txn, i as StepIx).ok(commit);
            self.decisions.send(cx, p, m);
        }
        let done = Msg::new(MsgKind::Finished, txn, 0).ok(commit);
        self.decisions.send(cx, CLIENT_NODE, done);
        self.txns.insert(txn, Phase::Decided(commit));
    }

    fn on_ack(&mut self, cx: &mut Cx, re: MsgId) {
        let Some(m) = self.decisions.ack(re) else {
            return;
        };
        let txn = m.txn;
        if self.decisions.pending().any(|(_, p)| p.txn == txn) {
            return;
        }
        self.txns.remove(&txn);
        if self.durable {
            let ended = [Write::Seen {
                key: key(KeyKind::Ended, txn, 0),
            }];
            cx.commit(self.log, Local::Log, txn, 0, &ended);
        }
    }
}

impl Node for Coordinator {
    fn on_start(&mut self, _cx: &mut Cx) {}

    fn on_recover(&mut self, cx: &mut Cx) {
        if !self.durable {
            return; // nothing survives: every question will be answered with abort
        }
        let log = cx.store(self.log).snapshot();
        let mut open: BTreeSet<TxnId> = BTreeSet::new();
        let mut ended: BTreeSet<TxnId> = BTreeSet::new();
        for k in &log.seen {
            let (kind, txn, _) = super::saga::key_parts(*k);
            if kind == KeyKind::Began as u8 {
                open.insert(txn);
            } else if kind == KeyKind::Ended as u8 {
                ended.insert(txn);
            }
        }
        for txn in open {
            if ended.contains(&txn) {
                continue;
            }
            let commit = match log.decisions.get(&txn) {
                Some(c) => *c,
                None => {
                    // Presumed abort, made durable so no later question gets another answer.
                    let d = [Write::Decide { txn, commit: false }];
                    cx.commit(self.log, Local::Log, txn, 0, &d);
                    cx.event(EventKind::Decide { txn, commit: false });
                    false
                }
            };
            self.send_decision(cx, txn, commit);
        }
    }

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        match msg.kind {
            MsgKind::Submit => self.on_submit(cx, from, msg),
            MsgKind::Vote => self.on_vote(cx, from, msg),
            MsgKind::Ack => self.on_ack(cx, msg.re),
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        let Some((purpose, txn)) = Coord::of(timer) else {
            return;
        };
        match purpose {
            Coord::ResendPrepare => {
                self.prepares.on_tick(cx, timer);
            }
            Coord::ResendDecision => {
                self.decisions.on_tick(cx, timer);
            }
            Coord::VoteTimeout => {
                if matches!(self.txns.get(&txn), Some(Phase::Voting(_))) {
                    self.decide(cx, txn, false);
                }
            }
            Coord::LogForce => {
                if let Some(&Phase::Deciding(commit)) = self.txns.get(&txn) {
                    cx.commit(
                        self.log,
                        Local::Log,
                        txn,
                        0,
                        &[Write::Decide { txn, commit }],
                    );
                    cx.event(EventKind::Decide { txn, commit });
                    self.send_decision(cx, txn, commit);
                }
            }
        }
    }

    fn busy(&self) -> bool {
        !self.txns.is_empty() || !self.prepares.is_empty() || !self.decisions.is_empty()
    }
}

/// A 2PC participant: one service's step.
#[derive(Debug)]
pub struct Participant {
    rule: StepRule,
    coordinator: NodeIx,
    timeout_us: u64,
    /// Transactions it voted yes on and has no decision for.
    in_doubt: BTreeSet<TxnId>,
    /// The step's row locks, when its service has `keys`.
    locks: Option<RowLocks>,
}

impl Participant {
    /// The participant running `rule`'s step in scenario `s`.
    pub fn new(s: &Scenario, l: &Layout, rule: StepRule) -> Participant {
        let w = s.write.as_ref().expect("2PC has a write section");
        let service = &w.steps[usize::from(rule.step)].service;
        let keys = s.services[super::service_index(s, service)].keys;
        let timeout_us = w.timeout_ms * 1000;
        Participant {
            rule,
            coordinator: l.coordinator.expect("2PC has a coordinator"),
            timeout_us,
            in_doubt: BTreeSet::new(),
            locks: keys.map(|k| RowLocks::new(k, rule.step, timeout_us, Part::LockTimeout.code())),
        }
    }

    /// Transactions this participant holds units for, waiting for a decision.
    pub fn in_doubt(&self) -> &BTreeSet<TxnId> {
        &self.in_doubt
    }

    fn vote(&self, cx: &mut Cx, to: NodeIx, txn: TxnId, yes: bool, re: MsgId) {
        let step = self.rule.step;
        cx.send(to, Msg::new(MsgKind::Vote, txn, step).ok(yes).re(re));
    }

    /// Asks the coordinator again about a transaction held in doubt.
    fn ask(&mut self, cx: &mut Cx, txn: TxnId) {
        self.in_doubt.insert(txn);
        self.vote(cx, self.coordinator, txn, true, 0);
        cx.set_timer(self.timeout_us, Part::Ask.id(txn));
    }

    fn on_prepare(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let (txn, rule) = (msg.txn, self.rule);
        let st = cx
            .store(SERVICE_STORE)
            .record(txn, rule.step)
            .map(|r| r.state);
        match st {
            // Already voted (or decided): the same answer again.
            Some(StepState::Held | StepState::Applied) => self.vote(cx, from, txn, true, msg.id),
            Some(_) => self.vote(cx, from, txn, false, msg.id),
            None => {
                let free = match self.locks.as_mut() {
                    Some(locks) => locks.acquire(cx, from, msg),
                    None => true,
                };
                if free {
                    self.prepare(cx, from, msg);
                }
            }
        }
    }

    /// Judges a first prepare whose row (if any) it holds, and votes. A no releases
    /// the row, and the prepare that gets it next is judged in turn.
    fn prepare(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let mut next = Some((from, msg));
        while let Some((from, msg)) = next.take() {
            let txn = msg.txn;
            let yes = hold_or_refuse(cx, txn, self.rule);
            if yes {
                self.in_doubt.insert(txn);
                cx.set_timer(self.timeout_us, Part::Ask.id(txn));
            }
            self.vote(cx, from, txn, yes, msg.id);
            if !yes {
                next = self.release(cx, txn);
            }
        }
    }

    /// `txn` is done with its row: the request that gets it next, if any.
    fn release(&mut self, cx: &mut Cx, txn: TxnId) -> Option<(NodeIx, Msg)> {
        let w = self.locks.as_mut()?.release(cx, txn)?;
        Some((w.from, w.msg))
    }

    /// A prepare waited for its row longer than the vote timeout: it is refused.
    fn lock_timed_out(&mut self, cx: &mut Cx, timer: u64) {
        let Some(w) = self.locks.as_mut().and_then(|l| l.timed_out(cx, timer)) else {
            return;
        };
        let (txn, rule) = (w.msg.txn, self.rule);
        record_refusal(cx, SERVICE_STORE, txn, rule, RejectReason::Lock);
        let refused = [refusal(txn, rule, RejectReason::Lock)];
        cx.commit(SERVICE_STORE, Local::Abort, txn, rule.step, &refused);
        cx.event(EventKind::Vote {
            txn,
            step: rule.step,
            yes: false,
        });
        self.vote(cx, w.from, txn, false, w.msg.id);
    }

    fn on_decide(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let (txn, step) = (msg.txn, self.rule.step);
        let st = cx.store(SERVICE_STORE).record(txn, step).map(|r| r.state);
        match (st, msg.ok) {
            (Some(StepState::Held), true) => {
                cx.commit(
                    SERVICE_STORE,
                    Local::Commit,
                    txn,
                    step,
                    &[Write::Apply { txn, step }],
                );
            }
            (Some(StepState::Held), false) => {
                cx.commit(
                    SERVICE_STORE,
                    Local::Abort,
                    txn,
                    step,
                    &[Write::Release { txn, step }],
                );
            }
            (None, false) => {
                // Aborted before it voted: a late prepare must get a no.
                cx.commit(
                    SERVICE_STORE,
                    Local::Abort,
                    txn,
                    step,
                    &[Write::Tombstone { txn, step }],
                );
            }
            _ => {}
        }
        self.in_doubt.remove(&txn);
        if msg.id != 0 {
            cx.send(from, Msg::new(MsgKind::Ack, txn, step).re(msg.id));
        }
        // Decided (or aborted while it waited): the row goes to the next in line.
        if matches!(st, Some(StepState::Held) | None) {
            if let Some((from, next)) = self.release(cx, txn) {
                self.prepare(cx, from, next);
            }
        }
    }
}

impl Node for Participant {
    fn on_start(&mut self, _cx: &mut Cx) {}

    fn on_recover(&mut self, cx: &mut Cx) {
        let held: Vec<TxnId> = cx
            .store(SERVICE_STORE)
            .snapshot()
            .steps
            .iter()
            .filter(|((_, s), r)| *s == self.rule.step && r.state == StepState::Held)
            .map(|((t, _), _)| *t)
            .collect();
        if let Some(locks) = self.locks.as_mut() {
            locks.rebuild(cx, held.iter().copied());
        }
        for txn in held {
            self.ask(cx, txn);
        }
    }

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        if msg.step != self.rule.step {
            return;
        }
        match msg.kind {
            MsgKind::Prepare => self.on_prepare(cx, from, msg),
            MsgKind::Decide => self.on_decide(cx, from, msg),
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        match Part::of(timer) {
            Some((Part::Ask, txn)) if self.in_doubt.contains(&txn) => self.ask(cx, txn),
            Some((Part::LockTimeout, _)) => self.lock_timed_out(cx, timer),
            _ => {}
        }
    }

    fn busy(&self) -> bool {
        !self.in_doubt.is_empty() || self.locks.as_ref().is_some_and(RowLocks::busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Effect, Harness};
    use crate::scenario::StoreKind;
    use crate::store::Store;
    use crate::testing::fixture::Fixture;

    const COORD: NodeIx = 4;

    fn scenario(log: bool) -> Scenario {
        Fixture::new("two-phase-commit")
            .set("coordinator_log", log)
            .set("timeout_ms", 50)
            .step(1, "amount = 2")
            .scenario()
    }

    fn sent(fx: &[Effect]) -> Vec<(NodeIx, MsgKind, u16, bool)> {
        Harness::sent(fx)
            .iter()
            .map(|(to, m)| (*to, m.kind, m.step, m.ok))
            .collect()
    }

    fn msg(
        kind: MsgKind,
        step: u16,
        ok: bool,
        id: crate::msg::MsgId,
        re: crate::msg::MsgId,
    ) -> Msg {
        Msg {
            id,
            ..Msg::new(kind, 7, step).ok(ok).re(re)
        }
    }

    /// The inventory participant (node 2, step 1), with 10 units.
    fn participant() -> (Participant, Harness, Scenario) {
        let s = scenario(true);
        let l = crate::patterns::layout(&s);
        let p = Participant::new(&s, &l, StepRule::of(&s, &l, 2).unwrap());
        let h = Harness::new(2, vec![Store::new(StoreKind::Document, 10)], 1);
        (p, h, s)
    }

    fn coordinator(log: bool) -> (Coordinator, Harness, Scenario) {
        let s = scenario(log);
        let l = crate::patterns::layout(&s);
        assert_eq!(l.coordinator, Some(COORD));
        let c = Coordinator::new(&s, &l, 0);
        let h = Harness::new(COORD, vec![Store::new(StoreKind::Relational, 0)], 1);
        (c, h, s)
    }

    #[test]
    fn a_yes_vote_holds_the_units_until_the_decision() {
        let (mut p, mut h, _) = participant();
        let fx = h.call(&mut p, |n, cx| {
            n.on_message(cx, COORD, msg(MsgKind::Prepare, 1, false, 30, 0))
        });
        assert_eq!(sent(&fx), vec![(COORD, MsgKind::Vote, 1, true)]);
        assert!(fx.contains(&Effect::Event(EventKind::Vote {
            txn: 7,
            step: 1,
            yes: true
        })));
        assert_eq!(h.stores[0].record(7, 1).unwrap().state, StepState::Held);
        assert_eq!(h.stores[0].available(), 8);
        assert!(p.busy(), "in doubt");
        // No decision in time: ask the coordinator again.
        let fx = h.call(&mut p, |n, cx| n.on_timer(cx, Part::Ask.id(7)));
        assert_eq!(sent(&fx), vec![(COORD, MsgKind::Vote, 1, true)]);
        let fx = h.call(&mut p, |n, cx| {
            n.on_message(cx, COORD, msg(MsgKind::Decide, 1, true, 40, 0))
        });
        assert_eq!(sent(&fx), vec![(COORD, MsgKind::Ack, 1, false)]);
        assert_eq!(h.stores[0].record(7, 1).unwrap().state, StepState::Applied);
        assert_eq!(h.stores[0].available(), 8);
        assert!(!p.busy());
        let fx = h.call(&mut p, |n, cx| n.on_timer(cx, Part::Ask.id(7)));
        assert!(sent(&fx).is_empty(), "decided: nothing to ask");
    }

    #[test]
    fn a_participant_in_doubt_asks_again_after_its_recovery() {
        let (mut p, mut h, s) = participant();
        h.call(&mut p, |n, cx| {
            n.on_message(cx, COORD, msg(MsgKind::Prepare, 1, false, 30, 0))
        });
        let l = crate::patterns::layout(&s);
        let mut p = Participant::new(&s, &l, StepRule::of(&s, &l, 2).unwrap());
        let fx = h.call(&mut p, |n, cx| n.on_recover(cx));
        assert_eq!(sent(&fx), vec![(COORD, MsgKind::Vote, 1, true)]);
        assert!(p.in_doubt().contains(&7));
        h.call(&mut p, |n, cx| {
            n.on_message(cx, COORD, msg(MsgKind::Decide, 1, false, 40, 0))
        });
        assert_eq!(h.stores[0].record(7, 1).unwrap().state, StepState::Released);
        assert_eq!(h.stores[0].available(), 10);
    }

    #[test]
    fn an_abort_before_the_vote_makes_a_late_prepare_vote_no() {
        let (mut p, mut h, _) = participant();
        h.call(&mut p, |n, cx| {
            n.on_message(cx, COORD, msg(MsgKind::Decide, 1, false, 40, 0))
        });
        assert_eq!(
            h.stores[0].record(7, 1).unwrap().state,
            StepState::Tombstone
        );
        let fx = h.call(&mut p, |n, cx| {
            n.on_message(cx, COORD, msg(MsgKind::Prepare, 1, false, 30, 0))
        });
        assert_eq!(sent(&fx), vec![(COORD, MsgKind::Vote, 1, false)]);
        assert_eq!(h.stores[0].available(), 10);
    }

    #[test]
    fn too_few_units_is_a_no_vote() {
        let (mut p, mut h, _) = participant();
        h.stores[0].commit(&[Write::Take {
            txn: 1,
            step: 1,
            amount: 9,
        }]);
        let fx = h.call(&mut p, |n, cx| {
            n.on_message(cx, COORD, msg(MsgKind::Prepare, 1, false, 30, 0))
        });
        assert_eq!(sent(&fx), vec![(COORD, MsgKind::Vote, 1, false)]);
        assert!(fx.contains(&Effect::Event(EventKind::Vote {
            txn: 7,
            step: 1,
            yes: false
        })));
        assert_eq!(h.stores[0].record(7, 1).unwrap().state, StepState::Rejected);
    }

    /// Submits txn 7 and returns the prepare ids, by step.
    fn begin(c: &mut Coordinator, h: &mut Harness) -> Vec<crate::msg::MsgId> {
        let fx = h.call(c, |n, cx| {
            n.on_message(cx, 0, msg(MsgKind::Submit, 0, false, 1, 0))
        });
        assert_eq!(
            sent(&fx),
            vec![
                (1, MsgKind::Prepare, 0, false),
                (2, MsgKind::Prepare, 1, false),
                (3, MsgKind::Prepare, 2, false),
                (0, MsgKind::Ack, 0, false),
            ]
        );
        Harness::sent(&fx)[..3].iter().map(|(_, m)| m.id).collect()
    }

    #[test]
    fn all_yes_is_logged_then_sent_as_commit() {
        let (mut c, mut h, _) = coordinator(true);
        let ids = begin(&mut c, &mut h);
        for (i, id) in ids.iter().enumerate() {
            let fx = h.call(&mut c, |n, cx| {
                n.on_message(
                    cx,
                    i as NodeIx + 1,
                    msg(MsgKind::Vote, i as u16, true, 50, *id),
                )
            });
            assert!(sent(&fx).is_empty());
        }
        assert_eq!(c.phase(7), Some(&Phase::Deciding(true)), "forcing the log");
        assert_eq!(h.stores[0].decision(7), None);
        let fx = h.call(&mut c, |n, cx| n.on_timer(cx, Coord::LogForce.id(7)));
        assert_eq!(h.stores[0].decision(7), Some(true));
        assert!(fx.contains(&Effect::Event(EventKind::Decide {
            txn: 7,
            commit: true
        })));
        assert_eq!(
            sent(&fx),
            vec![
                (1, MsgKind::Decide, 0, true),
                (2, MsgKind::Decide, 1, true),
                (3, MsgKind::Decide, 2, true),
                (0, MsgKind::Finished, 0, true),
            ]
        );
        for (to, m) in Harness::sent(&fx) {
            h.call(&mut c, |n, cx| {
                n.on_message(cx, to, Msg::new(MsgKind::Ack, 7, m.step).re(m.id))
            });
        }
        assert!(!c.busy());
        assert!(h.stores[0].seen(key(KeyKind::Ended, 7, 0)));
    }

    #[test]
    fn a_no_vote_or_a_missing_vote_aborts() {
        let (mut c, mut h, _) = coordinator(false);
        let ids = begin(&mut c, &mut h);
        let fx = h.call(&mut c, |n, cx| {
            n.on_message(cx, 2, msg(MsgKind::Vote, 1, false, 50, ids[1]))
        });
        assert!(fx.contains(&Effect::Event(EventKind::Decide {
            txn: 7,
            commit: false
        })));
        assert_eq!(sent(&fx)[0], (1, MsgKind::Decide, 0, false));
        let (mut c, mut h, _) = coordinator(false);
        begin(&mut c, &mut h);
        let fx = h.call(&mut c, |n, cx| n.on_timer(cx, Coord::VoteTimeout.id(7)));
        assert!(fx.contains(&Effect::Event(EventKind::Decide {
            txn: 7,
            commit: false
        })));
    }

    #[test]
    fn a_recovering_coordinator_presumes_abort_for_what_it_never_decided() {
        let (mut c, mut h, s) = coordinator(true);
        let ids = begin(&mut c, &mut h);
        for (i, id) in ids.iter().enumerate() {
            h.call(&mut c, |n, cx| {
                n.on_message(
                    cx,
                    i as NodeIx + 1,
                    msg(MsgKind::Vote, i as u16, true, 50, *id),
                )
            });
        }
        // Crash while forcing the decision: every vote is in, no decision is logged.
        let mut c = Coordinator::new(&s, &crate::patterns::layout(&s), 0);
        let fx = h.call(&mut c, |n, cx| n.on_recover(cx));
        assert_eq!(h.stores[0].decision(7), Some(false));
        assert_eq!(
            sent(&fx)[..3],
            [
                (1, MsgKind::Decide, 0, false),
                (2, MsgKind::Decide, 1, false),
                (3, MsgKind::Decide, 2, false),
            ]
        );
        // A participant in doubt asking again gets the same answer.
        let fx = h.call(&mut c, |n, cx| {
            n.on_message(cx, 2, msg(MsgKind::Vote, 1, true, 60, 0))
        });
        assert_eq!(sent(&fx), vec![(2, MsgKind::Decide, 1, false)]);
    }

    #[test]
    fn a_recovering_coordinator_resends_a_logged_commit() {
        let (mut c, mut h, s) = coordinator(true);
        let ids = begin(&mut c, &mut h);
        for (i, id) in ids.iter().enumerate() {
            h.call(&mut c, |n, cx| {
                n.on_message(
                    cx,
                    i as NodeIx + 1,
                    msg(MsgKind::Vote, i as u16, true, 50, *id),
                )
            });
        }
        h.call(&mut c, |n, cx| n.on_timer(cx, Coord::LogForce.id(7)));
        let mut c = Coordinator::new(&s, &crate::patterns::layout(&s), 0);
        let fx = h.call(&mut c, |n, cx| n.on_recover(cx));
        assert_eq!(sent(&fx)[0], (1, MsgKind::Decide, 0, true));
        assert_eq!(c.phase(7), Some(&Phase::Decided(true)));
    }
}
