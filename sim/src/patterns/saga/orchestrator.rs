//! The saga orchestrator: runs the steps in order; when one is rejected (or its command
//! is given up on) it runs the compensations of the completed steps in reverse.
//!
//! Its progress is a saga log in its own store: began, step applied, step failed or
//! given up, step compensated, and the outcome (`Write::Decide`). Each log entry and the
//! command it leads to are one local transaction; the command goes out through the
//! [`Publisher`] (outbox or direct). A recovering orchestrator rebuilds every saga from
//! the log; with an outbox the relay resends its commands, sent directly they are lost
//! and the saga waits forever (the dual write, on the orchestrator's side).

use super::publish::{Publisher, PAST_PIVOT};
use super::{key, key_parts, KeyKind};
use crate::msg::{Msg, MsgKind, NodeIx, StepIx, TxnId};
use crate::node::{Cx, Node};
use crate::patterns::{Layout, CLIENT_NODE};
use crate::scenario::{Compensation, Countermeasure, Scenario, StepKind};
use crate::store::Write;
use crate::trace::Local;
use std::collections::{BTreeMap, BTreeSet};

/// The publisher's timer purposes start here.
const PUBLISH_BASE: u8 = 1;

/// Where a saga stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the reply of step `0`'s command.
    Forward(StepIx),
    /// Waiting for the compensation of step `0`.
    Compensating(StepIx),
    /// `compensation = "parallel"`: waiting for every outstanding compensation.
    Undoing,
    /// Decided; the client's acknowledgement of the outcome is pending.
    Finished,
}

/// Does a message go to the orchestrator (rather than a service on its node)?
pub fn is_for_orchestrator(msg: &Msg) -> bool {
    matches!(msg.kind, MsgKind::Submit | MsgKind::Done | MsgKind::Undone)
}

/// How the orchestrator publishes: like the service whose node hosts it, if that
/// service overrides `publish`, else per `[write]`.
fn publish_of_host(s: &Scenario, l: &Layout) -> crate::scenario::Publish {
    let w = s.write.as_ref().expect("a saga has a write section");
    l.service_node
        .iter()
        .position(|n| Some(*n) == l.coordinator)
        .map_or(w.publish, |svc| s.publish_of(svc))
}

/// The orchestrator of every saga.
#[derive(Debug)]
pub struct Orchestrator {
    log: usize,
    steps: Vec<NodeIx>,
    /// Which steps are retriable (past the pivot).
    retriable: Vec<bool>,
    publisher: Publisher,
    sagas: BTreeMap<TxnId, Phase>,
    /// Semantic lock: tell every step's service of a commit, to settle its units.
    settle: bool,
    /// Compensate every completed step at once (else one by one, in reverse).
    parallel: bool,
    /// Parallel compensation: the steps whose `undone` is still awaited, per saga.
    undoing: BTreeMap<TxnId, BTreeSet<StepIx>>,
}

impl Orchestrator {
    /// The orchestrator of scenario `s`, with its log in local store `log`.
    pub fn new(s: &Scenario, l: &Layout, log: usize) -> Orchestrator {
        let w = s.write.as_ref().expect("a saga has a write section");
        Orchestrator {
            log,
            steps: (0..w.steps.len()).map(|i| l.step_node(s, i)).collect(),
            retriable: w
                .steps
                .iter()
                .map(|st| st.kind == StepKind::Retriable)
                .collect(),
            publisher: Publisher::new(w, publish_of_host(s, l), log, PUBLISH_BASE),
            sagas: BTreeMap::new(),
            settle: w.countermeasure == Countermeasure::SemanticLock,
            parallel: w.compensation == Compensation::Parallel,
            undoing: BTreeMap::new(),
        }
    }

    /// Where saga `txn` stands, if it is in progress.
    pub fn phase(&self, txn: TxnId) -> Option<Phase> {
        self.sagas.get(&txn).copied()
    }

    fn commit(&mut self, cx: &mut Cx, txn: TxnId, step: StepIx, writes: &[Write]) {
        if !writes.is_empty() {
            cx.commit(self.log, Local::Log, txn, step, writes);
        }
        self.publisher.flush(cx);
    }

    /// Stages the command for step `step`, or the commit decision after the last.
    fn forward(&mut self, cx: &mut Cx, w: &mut Vec<Write>, txn: TxnId, step: usize) {
        if step < self.steps.len() {
            let to = self.steps[step];
            let mut cmd = Msg::new(MsgKind::Do, txn, step as StepIx);
            if self.retriable[step] {
                cmd = cmd.value(PAST_PIVOT);
            }
            self.publisher.stage(cx, w, to, cmd);
            self.sagas.insert(txn, Phase::Forward(step as StepIx));
        } else {
            self.finish(cx, w, txn, true);
        }
    }

    /// A failure: stages the compensations of steps `top` down to 0, one at a time
    /// (sequential) or all at once (parallel); the abort decision when there is none.
    fn undo_from(&mut self, cx: &mut Cx, w: &mut Vec<Write>, txn: TxnId, top: Option<StepIx>) {
        if !self.parallel {
            return self.compensate(cx, w, txn, top);
        }
        let steps: BTreeSet<StepIx> = top.map_or(BTreeSet::new(), |t| (0..=t).collect());
        self.undo_all(cx, w, txn, steps);
    }

    /// Parallel compensation: stages an `undo` to each of `steps`.
    fn undo_all(&mut self, cx: &mut Cx, w: &mut Vec<Write>, txn: TxnId, steps: BTreeSet<StepIx>) {
        if steps.is_empty() {
            self.undoing.remove(&txn);
            return self.finish(cx, w, txn, false);
        }
        for &s in &steps {
            let to = self.steps[usize::from(s)];
            self.publisher
                .stage(cx, w, to, Msg::new(MsgKind::Undo, txn, s));
        }
        self.sagas.insert(txn, Phase::Undoing);
        self.undoing.insert(txn, steps);
    }

    /// Stages the compensation of step `step` (counting down), or the abort decision.
    fn compensate(&mut self, cx: &mut Cx, w: &mut Vec<Write>, txn: TxnId, step: Option<StepIx>) {
        match step {
            Some(s) => {
                let to = self.steps[usize::from(s)];
                self.publisher
                    .stage(cx, w, to, Msg::new(MsgKind::Undo, txn, s));
                self.sagas.insert(txn, Phase::Compensating(s));
            }
            None => self.finish(cx, w, txn, false),
        }
    }

    fn finish(&mut self, cx: &mut Cx, w: &mut Vec<Write>, txn: TxnId, commit: bool) {
        w.push(Write::Decide { txn, commit });
        if commit && self.settle {
            // An abort needs no word: each compensation released its step's units.
            for (step, to) in self.steps.clone().into_iter().enumerate() {
                let decide = Msg::new(MsgKind::Decide, txn, step as StepIx).ok(true);
                self.publisher.stage(cx, w, to, decide);
            }
        }
        let done = Msg::new(MsgKind::Finished, txn, 0).ok(commit);
        self.publisher.stage(cx, w, CLIENT_NODE, done);
        self.sagas.insert(txn, Phase::Finished);
    }

    fn on_submit(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        let txn = msg.txn;
        let k = key(KeyKind::Start, txn, 0);
        if !cx.store(self.log).seen(k) {
            let mut w = vec![Write::Seen { key: k }];
            self.forward(cx, &mut w, txn, 0);
            self.commit(cx, txn, 0, &w);
        }
        // Acknowledged once the saga is durably begun, never before.
        cx.send(from, Msg::new(MsgKind::Ack, txn, 0).re(msg.id));
    }

    fn on_reply(&mut self, cx: &mut Cx, msg: Msg) {
        let mut w = Vec::new();
        self.publisher.ack(msg.re, &mut w);
        let (txn, step) = (msg.txn, msg.step);
        match (self.sagas.get(&txn).copied(), msg.kind) {
            (Some(Phase::Forward(s)), MsgKind::Done) if s == step => {
                if msg.ok {
                    w.push(Write::Seen {
                        key: key(KeyKind::Applied, txn, step),
                    });
                    self.forward(cx, &mut w, txn, usize::from(step) + 1);
                } else {
                    w.push(Write::Seen {
                        key: key(KeyKind::Failed, txn, step),
                    });
                    self.undo_from(cx, &mut w, txn, step.checked_sub(1));
                }
            }
            (Some(Phase::Compensating(s)), MsgKind::Undone) if s == step => {
                w.push(Write::Seen {
                    key: key(KeyKind::Undone, txn, step),
                });
                self.compensate(cx, &mut w, txn, step.checked_sub(1));
            }
            (Some(Phase::Undoing), MsgKind::Undone) => {
                let waiting = self.undoing.get_mut(&txn).expect("undoing");
                if waiting.remove(&step) {
                    w.push(Write::Seen {
                        key: key(KeyKind::Undone, txn, step),
                    });
                    if waiting.is_empty() {
                        self.undoing.remove(&txn);
                        self.finish(cx, &mut w, txn, false);
                    }
                }
            }
            // A late or repeated reply: the saga has moved on.
            _ => {}
        }
        self.commit(cx, txn, step, &w);
    }

    /// The command of `txn`'s step `step` went unanswered `attempts` times: the step
    /// counts as failed. It may have run, so it is compensated too (a compensation that
    /// overtakes its command leaves a tombstone at an idempotent service).
    fn gave_up(&mut self, cx: &mut Cx, msg: Msg) {
        let (txn, step) = (msg.txn, msg.step);
        let mut w: Vec<Write> = self.publisher.given_up(&msg).into_iter().collect();
        if self.sagas.get(&txn) == Some(&Phase::Forward(step)) {
            w.push(Write::Seen {
                key: key(KeyKind::GaveUp, txn, step),
            });
            self.undo_from(cx, &mut w, txn, Some(step));
        }
        self.commit(cx, txn, step, &w);
    }

    /// Rebuilds where every undecided saga stands from the log.
    fn rebuild(&mut self, cx: &mut Cx) {
        let log = cx.store(self.log).snapshot();
        #[derive(Default)]
        struct Seen {
            applied: BTreeSet<StepIx>,
            failed: Option<(StepIx, bool)>,
            undone: BTreeSet<StepIx>,
        }
        let mut by_txn: BTreeMap<TxnId, Seen> = BTreeMap::new();
        for k in &log.seen {
            let (kind, txn, step) = key_parts(*k);
            let s = by_txn.entry(txn).or_default();
            match kind {
                x if x == KeyKind::Applied as u8 => {
                    s.applied.insert(step);
                }
                x if x == KeyKind::Failed as u8 => s.failed = Some((step, false)),
                x if x == KeyKind::GaveUp as u8 => s.failed = Some((step, true)),
                x if x == KeyKind::Undone as u8 => {
                    s.undone.insert(step);
                }
                _ => {}
            }
        }
        for (txn, s) in by_txn {
            let phase = if log.decisions.contains_key(&txn) {
                if !log.outbox.values().any(|e| e.msg.txn == txn) {
                    continue;
                }
                Phase::Finished
            } else if let Some((failed, gave_up)) = s.failed {
                let top = if gave_up {
                    Some(failed)
                } else {
                    failed.checked_sub(1)
                };
                if self.parallel {
                    // The undos are in the outbox (or lost, sent directly).
                    let rest: BTreeSet<StepIx> = top
                        .map_or(BTreeSet::new(), |t| (0..=t).collect::<BTreeSet<_>>())
                        .difference(&s.undone)
                        .copied()
                        .collect();
                    if rest.is_empty() {
                        continue;
                    }
                    self.undoing.insert(txn, rest);
                    Phase::Undoing
                } else {
                    let next = top.and_then(|t| (0..=t).rev().find(|i| !s.undone.contains(i)));
                    match next {
                        Some(n) => Phase::Compensating(n),
                        None => continue,
                    }
                }
            } else {
                let done = (0..).find(|i| !s.applied.contains(i)).unwrap_or(0);
                Phase::Forward(done)
            };
            self.sagas.insert(txn, phase);
        }
    }
}

impl Node for Orchestrator {
    fn on_start(&mut self, _cx: &mut Cx) {}

    fn on_recover(&mut self, cx: &mut Cx) {
        self.rebuild(cx);
        self.publisher.recover(cx);
    }

    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        match msg.kind {
            MsgKind::Submit => self.on_submit(cx, from, msg),
            MsgKind::Done | MsgKind::Undone => self.on_reply(cx, msg),
            MsgKind::Ack => {
                let mut w = Vec::new();
                if let Some(m) = self.publisher.ack(msg.re, &mut w) {
                    if m.kind == MsgKind::Finished {
                        self.sagas.remove(&m.txn);
                    }
                    self.commit(cx, m.txn, 0, &w);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        if self.publisher.owns(timer) {
            for (_, msg) in self.publisher.on_timer(cx, timer) {
                self.gave_up(cx, msg);
            }
        }
    }

    fn busy(&self) -> bool {
        // A saga whose command a crash lost (direct publishing) waits forever with
        // nothing in flight: that is the stuck state the run ends in, not work.
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

    const COORD: NodeIx = 4;

    fn scenario(extra: &str) -> Scenario {
        Fixture::new("saga").line(extra).scenario()
    }

    fn setup(extra: &str) -> (Orchestrator, Harness, Scenario) {
        let s = scenario(extra);
        let l = crate::patterns::layout(&s);
        assert_eq!(l.coordinator, Some(COORD));
        let o = Orchestrator::new(&s, &l, 0);
        let h = Harness::new(COORD, vec![Store::new(StoreKind::Relational, 0)], 1);
        (o, h, s)
    }

    /// The messages sent, as (to, kind, step, ok).
    fn sent(fx: &[Effect]) -> Vec<(NodeIx, MsgKind, StepIx, bool)> {
        Harness::sent(fx)
            .iter()
            .map(|(to, m)| (*to, m.kind, m.step, m.ok))
            .collect()
    }

    fn commits(fx: &[Effect]) -> Vec<Vec<Write>> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Event(crate::trace::EventKind::Local { writes, .. }) => {
                    Some(writes.to_vec())
                }
                _ => None,
            })
            .collect()
    }

    fn submit() -> Msg {
        Msg {
            id: 1,
            ..Msg::new(MsgKind::Submit, 7, 0)
        }
    }

    fn reply(kind: MsgKind, step: StepIx, ok: bool, re: crate::msg::MsgId) -> Msg {
        Msg::new(kind, 7, step).ok(ok).re(re)
    }

    /// The id of the one message sent to `to`.
    fn id_to(fx: &[Effect], to: NodeIx) -> crate::msg::MsgId {
        Harness::sent(fx)
            .iter()
            .find(|(t, _)| *t == to)
            .unwrap()
            .1
            .id
    }

    #[test]
    fn runs_the_steps_in_order_and_commits() {
        let (mut o, mut h, _) = setup("");
        let fx = h.call(&mut o, |n, cx| n.on_message(cx, 0, submit()));
        assert_eq!(
            sent(&fx),
            vec![(1, MsgKind::Do, 0, false), (0, MsgKind::Ack, 0, false)]
        );
        let c = commits(&fx);
        assert_eq!(
            c.len(),
            1,
            "saga begun and command put in the outbox at once"
        );
        assert!(matches!(c[0][0], Write::Seen { .. }));
        assert!(matches!(c[0][1], Write::OutboxPut { to: 1, .. }));
        let mut id = id_to(&fx, 1);
        for step in 0..3u16 {
            let fx = h.call(&mut o, |n, cx| {
                n.on_message(cx, step + 1, reply(MsgKind::Done, step, true, id))
            });
            let c = commits(&fx);
            assert!(c[0].contains(&Write::OutboxDone { id }), "{c:?}");
            if step < 2 {
                assert_eq!(sent(&fx), vec![(step + 2, MsgKind::Do, step + 1, false)]);
                assert_eq!(o.phase(7), Some(Phase::Forward(step + 1)));
                id = id_to(&fx, step + 2);
            } else {
                assert_eq!(sent(&fx), vec![(0, MsgKind::Finished, 0, true)]);
                assert!(c[0].contains(&Write::Decide {
                    txn: 7,
                    commit: true
                }));
                assert_eq!(h.stores[0].decision(7), Some(true));
                id = id_to(&fx, 0);
            }
        }
        assert!(
            o.busy(),
            "the outcome waits for the client's acknowledgement"
        );
        let ack = Msg::new(MsgKind::Ack, 7, 0).re(id);
        h.call(&mut o, |n, cx| n.on_message(cx, 0, ack));
        assert!(!o.busy());
        assert!(h.stores[0].outbox().is_empty());
    }

    #[test]
    fn a_rejection_compensates_the_completed_steps_in_reverse() {
        let (mut o, mut h, _) = setup("");
        let fx = h.call(&mut o, |n, cx| n.on_message(cx, 0, submit()));
        let id = id_to(&fx, 1);
        let fx = h.call(&mut o, |n, cx| {
            n.on_message(cx, 1, reply(MsgKind::Done, 0, true, id))
        });
        let id = id_to(&fx, 2);
        let fx = h.call(&mut o, |n, cx| {
            n.on_message(cx, 2, reply(MsgKind::Done, 1, true, id))
        });
        let id = id_to(&fx, 3);
        let fx = h.call(&mut o, |n, cx| {
            n.on_message(cx, 3, reply(MsgKind::Done, 2, false, id))
        });
        assert_eq!(sent(&fx), vec![(2, MsgKind::Undo, 1, false)]);
        let id = id_to(&fx, 2);
        // A repeated refusal changes nothing.
        let fx = h.call(&mut o, |n, cx| {
            n.on_message(cx, 3, reply(MsgKind::Done, 2, false, 99))
        });
        assert!(sent(&fx).is_empty());
        let fx = h.call(&mut o, |n, cx| {
            n.on_message(cx, 2, reply(MsgKind::Undone, 1, true, id))
        });
        assert_eq!(sent(&fx), vec![(1, MsgKind::Undo, 0, false)]);
        let id = id_to(&fx, 1);
        let fx = h.call(&mut o, |n, cx| {
            n.on_message(cx, 1, reply(MsgKind::Undone, 0, true, id))
        });
        assert_eq!(sent(&fx), vec![(0, MsgKind::Finished, 0, false)]);
        assert_eq!(h.stores[0].decision(7), Some(false));
    }

    #[test]
    fn an_unanswered_command_is_given_up_and_its_step_compensated() {
        let (mut o, mut h, _) = setup("retry = { attempts = 2, backoff_ms = 10 }");
        h.call(&mut o, |n, cx| n.on_message(cx, 0, submit()));
        let tick = timer_id(PUBLISH_BASE + 1, 7);
        h.now_us = 10_000;
        let fx = h.call(&mut o, |n, cx| n.on_timer(cx, tick));
        assert_eq!(sent(&fx), vec![(1, MsgKind::Do, 0, false)], "resent once");
        h.now_us = 20_000;
        let fx = h.call(&mut o, |n, cx| n.on_timer(cx, tick));
        assert_eq!(
            sent(&fx),
            vec![(1, MsgKind::Undo, 0, false)],
            "given up: undo it"
        );
        assert_eq!(o.phase(7), Some(Phase::Compensating(0)));
    }

    #[test]
    fn a_retriable_step_is_resent_until_answered_and_never_given_up() {
        let s = Fixture::new("saga")
            .services(&["orders", "payments"])
            .set("retry", "{ attempts = 2, backoff_ms = 10 }")
            .step(0, "kind = \"pivot\"")
            .step(1, "kind = \"retriable\"")
            .scenario();
        let l = crate::patterns::layout(&s);
        let mut o = Orchestrator::new(&s, &l, 0);
        let mut h = Harness::new(3, vec![Store::new(StoreKind::Relational, 0)], 1);
        let fx = h.call(&mut o, |n, cx| n.on_message(cx, 0, submit()));
        let pivot = Harness::sent(&fx)[0].1;
        assert_eq!(pivot.value, 0, "the pivot's command may be given up");
        let fx = h.call(&mut o, |n, cx| {
            n.on_message(cx, 1, reply(MsgKind::Done, 0, true, pivot.id))
        });
        let (to, cmd) = Harness::sent(&fx)[0];
        assert_eq!(
            (to, cmd.kind, cmd.step, cmd.value),
            (2, MsgKind::Do, 1, PAST_PIVOT)
        );
        let tick = timer_id(PUBLISH_BASE + 2, 7);
        for i in 1..=5u64 {
            h.now_us = 10_000 * i + 1;
            let fx = h.call(&mut o, |n, cx| n.on_timer(cx, tick));
            assert_eq!(sent(&fx), vec![(2, MsgKind::Do, 1, false)], "resend {i}");
        }
        assert_eq!(o.phase(7), Some(Phase::Forward(1)), "never compensated");
    }

    #[test]
    fn parallel_compensation_undoes_every_completed_step_at_once() {
        let (mut o, mut h, _) = setup("compensation = \"parallel\"");
        let fx = h.call(&mut o, |n, cx| n.on_message(cx, 0, submit()));
        let id = id_to(&fx, 1);
        let fx = h.call(&mut o, |n, cx| {
            n.on_message(cx, 1, reply(MsgKind::Done, 0, true, id))
        });
        let id = id_to(&fx, 2);
        let fx = h.call(&mut o, |n, cx| {
            n.on_message(cx, 2, reply(MsgKind::Done, 1, true, id))
        });
        let id = id_to(&fx, 3);
        let fx = h.call(&mut o, |n, cx| {
            n.on_message(cx, 3, reply(MsgKind::Done, 2, false, id))
        });
        assert_eq!(
            sent(&fx),
            vec![(1, MsgKind::Undo, 0, false), (2, MsgKind::Undo, 1, false)],
            "both at once"
        );
        assert_eq!(o.phase(7), Some(Phase::Undoing));
        let undo0 = id_to(&fx, 1);
        let undo1 = id_to(&fx, 2);
        // Step 0's answer comes first: no need to wait for step 1's in order.
        let fx = h.call(&mut o, |n, cx| {
            n.on_message(cx, 1, reply(MsgKind::Undone, 0, true, undo0))
        });
        assert!(sent(&fx).is_empty(), "still waiting for step 1");
        let fx = h.call(&mut o, |n, cx| {
            n.on_message(cx, 2, reply(MsgKind::Undone, 1, true, undo1))
        });
        assert_eq!(sent(&fx), vec![(0, MsgKind::Finished, 0, false)]);
        assert_eq!(h.stores[0].decision(7), Some(false));
    }

    #[test]
    fn a_recovering_orchestrator_resends_from_its_outbox() {
        let (mut o, mut h, s) = setup("publish = \"outbox\"");
        let fx = h.call(&mut o, |n, cx| n.on_message(cx, 0, submit()));
        let id = id_to(&fx, 1);
        h.call(&mut o, |n, cx| {
            n.on_message(cx, 1, reply(MsgKind::Done, 0, true, id))
        });
        // Crash: the struct is gone, the store stays.
        let mut o = Orchestrator::new(&s, &crate::patterns::layout(&s), 0);
        let fx = h.call(&mut o, |n, cx| n.on_recover(cx));
        assert_eq!(sent(&fx), vec![(2, MsgKind::Do, 1, false)]);
        assert_eq!(o.phase(7), Some(Phase::Forward(1)));
        // A resent submit is acknowledged, not run again.
        let fx = h.call(&mut o, |n, cx| n.on_message(cx, 0, submit()));
        assert_eq!(sent(&fx), vec![(0, MsgKind::Ack, 0, false)]);
    }

    #[test]
    fn a_recovering_orchestrator_has_lost_its_direct_commands() {
        let (mut o, mut h, s) = setup("publish = \"direct\"");
        let fx = h.call(&mut o, |n, cx| n.on_message(cx, 0, submit()));
        assert_eq!(
            sent(&fx),
            vec![(0, MsgKind::Ack, 0, false)],
            "sent in a later step"
        );
        assert!(fx.contains(&Effect::Timer {
            after_us: 1_000,
            timer: timer_id(PUBLISH_BASE, 0)
        }));
        let mut o = Orchestrator::new(&s, &crate::patterns::layout(&s), 0);
        let fx = h.call(&mut o, |n, cx| n.on_recover(cx));
        assert!(sent(&fx).is_empty(), "the dual write: the command is lost");
        assert_eq!(
            o.phase(7),
            Some(Phase::Forward(0)),
            "the saga waits forever"
        );
        assert!(!o.busy());
    }
}
