//! Try-confirm-cancel (TCC): a business transaction as a reservation at every
//! participant, then a confirm or a cancel of all of them, in the vocabulary of Seata's
//! TCC mode.
//!
//! - *Try*: the coordinator sends `try` to every participant. A participant reserves
//!   the step's units (`Write::Hold`), with an expiry of `reservation_ms`, and answers
//!   `tried` yes; or it refuses (the business rule, or too few units) and answers no.
//! - *Confirm* / *cancel*: all yes, the coordinator logs confirm and sends `confirm` to
//!   every participant, which applies its reservation (`Write::Apply`); any no, or an
//!   answer missing after `timeout_ms`, it logs cancel and sends `cancel`, which
//!   releases it (`Write::Release`). It resends each until acknowledged.
//! - *Expiry*: a reservation neither confirmed nor cancelled after `reservation_ms` is
//!   released by its participant alone. Unlike a 2PC participant in doubt, nobody
//!   blocks: the price is that a confirm arriving after the expiry finds nothing to
//!   apply, and the transaction ends confirmed at some participants only (atomicity).
//!
//! The *fence* (`tcc_fence = true`, Seata's `tcc_fence_log`): each participant keeps
//! the state of every (transaction, step) it has seen, and judges each message by it:
//! a cancel that finds no try is an *empty rollback* (it records a tombstone and does
//! nothing else); a try that finds that tombstone is a *suspension* (hanging) and is
//! refused; a repeated confirm or cancel finds the step already decided and does
//! nothing. Without the fence the participant runs the business action blindly: a
//! repeated try reserves twice, a cancel gives back the step's units whether or not
//! they were reserved (`Write::Unfreeze`), a confirm after the expiry applies units
//! already given back. Under loss, duplication and reordering each shows as broken
//! conservation.
//!
//! The coordinator always logs (`Began`, the decision, `Ended`): a recovering one
//! cancels what it never decided and resends what it decided.

use super::hosted::{Hosted, SERVICE_TIMERS};
use super::reliable::Resender;
use super::step::{hold_or_refuse, key, key_parts, state, KeyKind, StepRule, SERVICE_STORE};
use super::{Layout, CLIENT_NODE};
use crate::msg::{Msg, MsgId, MsgKind, NodeIx, StepIx, TxnId};
use crate::node::{Cx, Node};
use crate::scenario::Scenario;
use crate::store::{StepState, Write};
use crate::timer::TimerPurpose;
use crate::trace::{EventKind, Local};
use std::collections::{BTreeMap, BTreeSet};

crate::timer_purposes! {
    /// The coordinator's timers.
    enum Coord {
        /// The tries' resend tick.
        ResendTry = 1,
        /// The confirms' and cancels' resend tick.
        ResendDecision = 2,
        /// Give up waiting for the tries: cancel (keyed by txn).
        TryTimeout = 3,
    }
}

crate::timer_purposes! {
    /// A participant's timers: at or above `SERVICE_TIMERS`, so a hosted coordinator's
    /// node routes them to the participant.
    enum Part {
        /// A reservation's expiry (keyed by txn).
        Expire = SERVICE_TIMERS + 1,
    }
}

/// Builds the node `ix` of try-confirm-cancel.
pub fn build(s: &Scenario, l: &Layout, ix: NodeIx) -> Box<dyn Node> {
    let participant = StepRule::of(s, l, ix).map(|rule| Participant::new(s, rule));
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
    matches!(msg.kind, MsgKind::Submit | MsgKind::Tried)
}

/// Where a transaction stands at the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Trying: the answers so far (None: not yet answered).
    Trying(Vec<Option<bool>>),
    /// Confirming (true) or cancelling (false): waiting for every acknowledgement.
    Deciding(bool),
}

/// The TCC coordinator (Seata's transaction manager and coordinator in one).
#[derive(Debug)]
pub struct Coordinator {
    log: usize,
    timeout_us: u64,
    participants: Vec<NodeIx>,
    tries: Resender,
    decisions: Resender,
    txns: BTreeMap<TxnId, Phase>,
}

impl Coordinator {
    /// The coordinator of scenario `s`, with its log in local store `log`.
    pub fn new(s: &Scenario, l: &Layout, log: usize) -> Coordinator {
        let w = s.write.as_ref().expect("TCC has a write section");
        let backoff = w.retry.backoff_ms * 1000;
        Coordinator {
            log,
            timeout_us: w.timeout_ms * 1000,
            participants: (0..w.steps.len()).map(|i| l.step_node(s, i)).collect(),
            tries: Resender::new(Coord::ResendTry.code(), backoff, None),
            decisions: Resender::new(Coord::ResendDecision.code(), backoff, None),
            txns: BTreeMap::new(),
        }
    }

    /// Where `txn` stands, if the coordinator is working on it.
    pub fn phase(&self, txn: TxnId) -> Option<&Phase> {
        self.txns.get(&txn)
    }

    fn on_submit(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let txn = msg.txn;
        let began = key(KeyKind::Began, txn, 0);
        if !self.txns.contains_key(&txn) && !cx.store(self.log).seen(began) {
            cx.commit(self.log, Local::Log, txn, 0, &[Write::Seen { key: began }]);
            for (i, &p) in self.participants.iter().enumerate() {
                self.tries
                    .send(cx, p, Msg::new(MsgKind::Try, txn, i as StepIx));
            }
            let answers = vec![None; self.participants.len()];
            self.txns.insert(txn, Phase::Trying(answers));
            cx.set_timer(self.timeout_us, Coord::TryTimeout.id(txn));
        }
        cx.send(from, Msg::new(MsgKind::Ack, txn, 0).re(msg.id));
    }

    fn on_tried(&mut self, cx: &mut Cx, msg: Msg) {
        let (txn, step) = (msg.txn, msg.step);
        let Some(Phase::Trying(answers)) = self.txns.get_mut(&txn) else {
            return; // decided already: a late or repeated answer changes nothing
        };
        self.tries.ack(msg.re);
        if let Some(a) = answers.get_mut(usize::from(step)) {
            *a = Some(msg.ok);
        }
        if !msg.ok {
            self.decide(cx, txn, false);
        } else if answers.iter().all(|a| *a == Some(true)) {
            self.decide(cx, txn, true);
        }
    }

    /// Logs the decision, then sends it to every participant and the client, until
    /// each acknowledges.
    fn decide(&mut self, cx: &mut Cx, txn: TxnId, confirm: bool) {
        self.tries.retain(|m| m.txn != txn);
        let d = [Write::Decide {
            txn,
            commit: confirm,
        }];
        cx.commit(self.log, Local::Log, txn, 0, &d);
        cx.event(EventKind::Decide {
            txn,
            commit: confirm,
        });
        self.send_decision(cx, txn, confirm);
    }

    fn send_decision(&mut self, cx: &mut Cx, txn: TxnId, confirm: bool) {
        let kind = if confirm {
            MsgKind::Confirm
        } else {
            MsgKind::Cancel
        };
        for (i, &p) in self.participants.iter().enumerate() {
            self.decisions.send(cx, p, Msg::new(kind, txn, i as StepIx));
        }
        let done = Msg::new(MsgKind::Finished, txn, 0).ok(confirm);
        self.decisions.send(cx, CLIENT_NODE, done);
        self.txns.insert(txn, Phase::Deciding(confirm));
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
        let ended = [Write::Seen {
            key: key(KeyKind::Ended, txn, 0),
        }];
        cx.commit(self.log, Local::Log, txn, 0, &ended);
    }
}

impl Node for Coordinator {
    fn on_start(&mut self, _cx: &mut Cx) {}

    fn on_recover(&mut self, cx: &mut Cx) {
        let log = cx.store(self.log).snapshot();
        let mut open: BTreeSet<TxnId> = BTreeSet::new();
        let mut ended: BTreeSet<TxnId> = BTreeSet::new();
        for k in &log.seen {
            let (kind, txn, _) = key_parts(*k);
            if kind == KeyKind::Began as u8 {
                open.insert(txn);
            } else if kind == KeyKind::Ended as u8 {
                ended.insert(txn);
            }
        }
        for txn in open.difference(&ended).copied() {
            match log.decisions.get(&txn) {
                Some(&confirm) => self.send_decision(cx, txn, confirm),
                // Never decided: the tries may have reserved anything; cancel them all.
                None => self.decide(cx, txn, false),
            }
        }
    }

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        match msg.kind {
            MsgKind::Submit => self.on_submit(cx, from, msg),
            MsgKind::Tried => self.on_tried(cx, msg),
            MsgKind::Ack => self.on_ack(cx, msg.re),
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        let Some((purpose, txn)) = Coord::of(timer) else {
            return;
        };
        match purpose {
            Coord::ResendTry => {
                self.tries.on_tick(cx, timer);
            }
            Coord::ResendDecision => {
                self.decisions.on_tick(cx, timer);
            }
            Coord::TryTimeout => {
                if matches!(self.txns.get(&txn), Some(Phase::Trying(_))) {
                    self.decide(cx, txn, false);
                }
            }
        }
    }

    fn busy(&self) -> bool {
        !self.txns.is_empty() || !self.tries.is_empty() || !self.decisions.is_empty()
    }
}

/// A TCC participant: one service's step, with or without the fence.
#[derive(Debug)]
pub struct Participant {
    rule: StepRule,
    fence: bool,
    reservation_us: u64,
    /// Reservations whose expiry timer is armed.
    reserved: BTreeSet<TxnId>,
}

impl Participant {
    /// The participant running `rule`'s step in scenario `s`.
    pub fn new(s: &Scenario, rule: StepRule) -> Participant {
        let w = s.write.as_ref().expect("TCC has a write section");
        Participant {
            rule,
            fence: w.tcc_fence,
            reservation_us: w.reservation_ms * 1000,
            reserved: BTreeSet::new(),
        }
    }

    /// Transactions this participant holds a reservation for.
    pub fn reserved(&self) -> &BTreeSet<TxnId> {
        &self.reserved
    }

    fn reserve(&mut self, cx: &mut Cx, txn: TxnId) -> bool {
        let yes = hold_or_refuse(cx, txn, self.rule);
        if yes {
            self.reserved.insert(txn);
            cx.set_timer(self.reservation_us, Part::Expire.id(txn));
        }
        yes
    }

    fn on_try(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let txn = msg.txn;
        let yes = if self.fence {
            match state(cx, txn, self.rule.step) {
                // Tried before: the same answer again.
                Some(StepState::Held | StepState::Applied) => true,
                // Suspension prevented: the cancel came first (a tombstone), or the
                // step was already refused, released or expired.
                Some(_) => false,
                None => self.reserve(cx, txn),
            }
        } else {
            // No fence: every try reserves, a repeated one or one after its cancel.
            self.reserve(cx, txn)
        };
        let reply = Msg::new(MsgKind::Tried, txn, self.rule.step).ok(yes);
        cx.send(from, reply.re(msg.id));
    }

    fn on_confirm(&mut self, cx: &mut Cx, txn: TxnId) {
        let step = self.rule.step;
        let st = state(cx, txn, step);
        // With the fence only a reservation is applied: a repeated confirm finds it
        // applied, one after the expiry finds it released, and both do nothing.
        let apply = if self.fence {
            st == Some(StepState::Held)
        } else {
            st.is_some()
        };
        if apply {
            let w = [Write::Apply { txn, step }];
            cx.commit(SERVICE_STORE, Local::Commit, txn, step, &w);
        }
        self.reserved.remove(&txn);
    }

    fn on_cancel(&mut self, cx: &mut Cx, txn: TxnId) {
        let (step, amount) = (self.rule.step, self.rule.amount);
        let st = state(cx, txn, step);
        if !self.fence {
            // The business action, blindly: give the units back.
            let w = [Write::Unfreeze { txn, step, amount }];
            cx.commit(SERVICE_STORE, Local::Abort, txn, step, &w);
        } else if st == Some(StepState::Held) {
            let w = [Write::Release { txn, step }];
            cx.commit(SERVICE_STORE, Local::Abort, txn, step, &w);
        } else if st.is_none() {
            // Empty rollback: no try yet. The tombstone refuses a late one.
            let w = [Write::Tombstone { txn, step }];
            cx.commit(SERVICE_STORE, Local::Abort, txn, step, &w);
        }
        self.reserved.remove(&txn);
    }

    fn on_expire(&mut self, cx: &mut Cx, txn: TxnId) {
        let step = self.rule.step;
        if state(cx, txn, step) == Some(StepState::Held) {
            let w = [Write::Release { txn, step }];
            cx.commit(SERVICE_STORE, Local::Abort, txn, step, &w);
        }
        self.reserved.remove(&txn);
    }
}

impl Node for Participant {
    fn on_start(&mut self, _cx: &mut Cx) {}

    fn on_recover(&mut self, cx: &mut Cx) {
        // Reservations survive the crash; their expiry timers do not: arm them again
        // (from now: the lab's stores keep no commit time).
        let held: Vec<TxnId> = cx
            .store(SERVICE_STORE)
            .snapshot()
            .steps
            .iter()
            .filter(|((_, s), r)| *s == self.rule.step && r.state == StepState::Held)
            .map(|((t, _), _)| *t)
            .collect();
        for txn in held {
            self.reserved.insert(txn);
            cx.set_timer(self.reservation_us, Part::Expire.id(txn));
        }
    }

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        if msg.step != self.rule.step {
            return;
        }
        match msg.kind {
            MsgKind::Try => self.on_try(cx, from, msg),
            MsgKind::Confirm | MsgKind::Cancel => {
                if msg.kind == MsgKind::Confirm {
                    self.on_confirm(cx, msg.txn);
                } else {
                    self.on_cancel(cx, msg.txn);
                }
                let ack = Msg::new(MsgKind::Ack, msg.txn, self.rule.step).re(msg.id);
                cx.send(from, ack);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        if let Some((Part::Expire, txn)) = Part::of(timer) {
            self.on_expire(cx, txn);
        }
    }

    fn busy(&self) -> bool {
        // A reservation ends by itself (its expiry): the run waits for it.
        !self.reserved.is_empty()
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

    fn scenario(fence: bool) -> Scenario {
        Fixture::new("try-confirm-cancel")
            .set("tcc_fence", fence)
            .set("reservation_ms", 50)
            .step(1, "amount = 2")
            .scenario()
    }

    /// The inventory participant (node 2, step 1), with 10 units.
    fn participant(fence: bool) -> (Participant, Harness) {
        let s = scenario(fence);
        let l = crate::patterns::layout(&s);
        let p = Participant::new(&s, StepRule::of(&s, &l, 2).unwrap());
        (
            p,
            Harness::new(2, vec![Store::new(StoreKind::Document, 10)], 1),
        )
    }

    fn deliver(p: &mut Participant, h: &mut Harness, kind: MsgKind, id: MsgId) -> Vec<Effect> {
        let m = Msg {
            id,
            ..Msg::new(kind, 7, 1)
        };
        h.call(p, |n, cx| n.on_message(cx, COORD, m))
    }

    fn replies(fx: &[Effect]) -> Vec<(MsgKind, bool)> {
        Harness::sent(fx)
            .iter()
            .map(|(_, m)| (m.kind, m.ok))
            .collect()
    }

    fn held(h: &Harness) -> Option<StepState> {
        h.stores[0].record(7, 1).map(|r| r.state)
    }

    #[test]
    fn try_reserves_with_an_expiry_and_confirm_applies_once() {
        let (mut p, mut h) = participant(true);
        let fx = deliver(&mut p, &mut h, MsgKind::Try, 30);
        assert_eq!(replies(&fx), vec![(MsgKind::Tried, true)]);
        assert!(fx.contains(&Effect::Timer {
            after_us: 50_000,
            timer: Part::Expire.id(7)
        }));
        assert_eq!(
            (held(&h), h.stores[0].available()),
            (Some(StepState::Held), 8)
        );
        // A repeated try answers the same and reserves nothing more.
        let fx = deliver(&mut p, &mut h, MsgKind::Try, 30);
        assert_eq!(replies(&fx), vec![(MsgKind::Tried, true)]);
        assert_eq!(h.stores[0].available(), 8);
        for id in [40, 40] {
            let fx = deliver(&mut p, &mut h, MsgKind::Confirm, id);
            assert_eq!(replies(&fx), vec![(MsgKind::Ack, false)]);
        }
        assert_eq!(
            (held(&h), h.stores[0].available()),
            (Some(StepState::Applied), 8)
        );
        // The expiry of a confirmed reservation does nothing.
        h.call(&mut p, |n, cx| n.on_timer(cx, Part::Expire.id(7)));
        assert_eq!(held(&h), Some(StepState::Applied));
        assert!(!p.busy());
    }

    #[test]
    fn an_unconfirmed_reservation_expires_and_a_late_confirm_finds_nothing() {
        let (mut p, mut h) = participant(true);
        deliver(&mut p, &mut h, MsgKind::Try, 30);
        assert!(p.busy(), "the run waits for the expiry");
        h.call(&mut p, |n, cx| n.on_timer(cx, Part::Expire.id(7)));
        assert_eq!(
            (held(&h), h.stores[0].available()),
            (Some(StepState::Released), 10)
        );
        assert!(!p.busy());
        let fx = deliver(&mut p, &mut h, MsgKind::Confirm, 40);
        assert_eq!(replies(&fx), vec![(MsgKind::Ack, false)], "acknowledged");
        assert_eq!(
            (held(&h), h.stores[0].available()),
            (Some(StepState::Released), 10)
        );
    }

    #[test]
    fn the_fence_turns_an_empty_rollback_into_a_tombstone_that_refuses_a_suspended_try() {
        let (mut p, mut h) = participant(true);
        for _ in 0..2 {
            let fx = deliver(&mut p, &mut h, MsgKind::Cancel, 40);
            assert_eq!(replies(&fx), vec![(MsgKind::Ack, false)]);
        }
        assert_eq!(
            (held(&h), h.stores[0].available()),
            (Some(StepState::Tombstone), 10)
        );
        let fx = deliver(&mut p, &mut h, MsgKind::Try, 30);
        assert_eq!(replies(&fx), vec![(MsgKind::Tried, false)]);
        assert_eq!(h.stores[0].available(), 10, "nothing reserved");
        assert!(!p.busy());
    }

    #[test]
    fn without_the_fence_each_anomaly_miscounts_units() {
        // Empty rollback: units given back that were never reserved.
        let (mut p, mut h) = participant(false);
        deliver(&mut p, &mut h, MsgKind::Cancel, 40);
        assert_eq!(h.stores[0].available(), 12);
        // Suspension: the late try reserves again, until its expiry.
        deliver(&mut p, &mut h, MsgKind::Try, 30);
        assert_eq!(
            (held(&h), h.stores[0].available()),
            (Some(StepState::Held), 10)
        );
        assert!(p.busy());
        // A repeated try reserves twice; a repeated cancel gives back twice.
        let (mut p, mut h) = participant(false);
        deliver(&mut p, &mut h, MsgKind::Try, 30);
        deliver(&mut p, &mut h, MsgKind::Try, 30);
        assert_eq!(h.stores[0].available(), 6);
        deliver(&mut p, &mut h, MsgKind::Cancel, 40);
        deliver(&mut p, &mut h, MsgKind::Cancel, 40);
        assert_eq!(h.stores[0].available(), 10);
        // A confirm after the expiry applies units already given back.
        let (mut p, mut h) = participant(false);
        deliver(&mut p, &mut h, MsgKind::Try, 30);
        h.call(&mut p, |n, cx| n.on_timer(cx, Part::Expire.id(7)));
        deliver(&mut p, &mut h, MsgKind::Confirm, 40);
        assert_eq!(
            (held(&h), h.stores[0].available()),
            (Some(StepState::Applied), 10)
        );
    }

    #[test]
    fn the_coordinator_confirms_on_all_yes_and_cancels_on_a_no_or_a_timeout() {
        let s = scenario(true);
        let l = crate::patterns::layout(&s);
        assert_eq!(l.coordinator, Some(COORD));
        let start = |c: &mut Coordinator, h: &mut Harness| -> Vec<MsgId> {
            let sub = Msg {
                id: 1,
                ..Msg::new(MsgKind::Submit, 7, 0)
            };
            let fx = h.call(c, |n, cx| n.on_message(cx, 0, sub));
            let sent = Harness::sent(&fx);
            assert_eq!(sent.len(), 4, "three tries and the ack");
            assert!(sent[..3].iter().all(|(_, m)| m.kind == MsgKind::Try));
            sent[..3].iter().map(|(_, m)| m.id).collect()
        };
        let new = || {
            let h = Harness::new(COORD, vec![Store::new(StoreKind::Relational, 0)], 1);
            (Coordinator::new(&s, &l, 0), h)
        };
        let (mut c, mut h) = new();
        let ids = start(&mut c, &mut h);
        let mut last = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let m = Msg::new(MsgKind::Tried, 7, i as StepIx).ok(true).re(*id);
            last = h.call(&mut c, |n, cx| n.on_message(cx, i as NodeIx + 1, m));
        }
        assert_eq!(
            h.stores[0].decision(7),
            Some(true),
            "logged before it is sent"
        );
        let kinds: Vec<MsgKind> = Harness::sent(&last).iter().map(|(_, m)| m.kind).collect();
        assert_eq!(
            kinds,
            [
                MsgKind::Confirm,
                MsgKind::Confirm,
                MsgKind::Confirm,
                MsgKind::Finished
            ]
        );
        for (to, m) in Harness::sent(&last) {
            h.call(&mut c, |n, cx| {
                n.on_message(cx, to, Msg::new(MsgKind::Ack, 7, 0).re(m.id))
            });
        }
        assert!(!c.busy());
        assert!(h.stores[0].seen(key(KeyKind::Ended, 7, 0)));
        // A no: cancel. A missing answer: cancel at the timeout.
        let (mut c, mut h) = new();
        let ids = start(&mut c, &mut h);
        let m = Msg::new(MsgKind::Tried, 7, 1).ok(false).re(ids[1]);
        h.call(&mut c, |n, cx| n.on_message(cx, 2, m));
        assert_eq!(c.phase(7), Some(&Phase::Deciding(false)));
        let (mut c, mut h) = new();
        start(&mut c, &mut h);
        h.call(&mut c, |n, cx| n.on_timer(cx, Coord::TryTimeout.id(7)));
        assert_eq!(h.stores[0].decision(7), Some(false));
        // A recovering coordinator cancels what it began and never decided.
        let (mut c, mut h) = new();
        start(&mut c, &mut h);
        let mut c2 = Coordinator::new(&s, &l, 0);
        let fx = h.call(&mut c2, |n, cx| n.on_recover(cx));
        assert_eq!(h.stores[0].decision(7), Some(false));
        assert_eq!(Harness::sent(&fx)[0].1.kind, MsgKind::Cancel);
        drop(c);
    }
}
