//! The saga orchestrator: runs the steps in order; when one is rejected (or its command
//! is given up on) it runs the compensations of the completed steps in reverse.
//!
//! Its progress is a saga log in its own store: began, step applied, step failed or
//! given up, step compensated, and the outcome (`Write::Decide`). Each log entry and the
//! command it leads to are one local transaction; the command goes out through the
//! [`Publisher`] (outbox or direct). A recovering orchestrator rebuilds every saga from
//! the log; with an outbox the relay resends its commands, sent directly they are lost
//! and the saga waits forever (the dual write, on the orchestrator's side).

use super::publish::Publisher;
use super::{key, key_parts, KeyKind};
use crate::msg::{Msg, MsgKind, NodeIx, StepIx, TxnId};
use crate::node::{Cx, Node};
use crate::patterns::{Layout, CLIENT_NODE};
use crate::scenario::Scenario;
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
    /// Decided; the client's acknowledgement of the outcome is pending.
    Finished,
}

/// Does a message go to the orchestrator (rather than a service on its node)?
pub fn is_for_orchestrator(msg: &Msg) -> bool {
    matches!(msg.kind, MsgKind::Submit | MsgKind::Done | MsgKind::Undone)
}

/// The orchestrator of every saga.
#[derive(Debug)]
pub struct Orchestrator {
    log: usize,
    steps: Vec<NodeIx>,
    publisher: Publisher,
    sagas: BTreeMap<TxnId, Phase>,
}

impl Orchestrator {
    /// The orchestrator of scenario `s`, with its log in local store `log`.
    pub fn new(s: &Scenario, l: &Layout, log: usize) -> Orchestrator {
        let w = s.write.as_ref().expect("a saga has a write section");
        Orchestrator {
            log,
            steps: (0..w.steps.len()).map(|i| l.step_node(s, i)).collect(),
            publisher: Publisher::new(w, log, PUBLISH_BASE),
            sagas: BTreeMap::new(),
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
            self.publisher
                .stage(cx, w, to, Msg::new(MsgKind::Do, txn, step as StepIx));
            self.sagas.insert(txn, Phase::Forward(step as StepIx));
        } else {
            self.finish(cx, w, txn, true);
        }
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
                    self.compensate(cx, &mut w, txn, step.checked_sub(1));
                }
            }
            (Some(Phase::Compensating(s)), MsgKind::Undone) if s == step => {
                w.push(Write::Seen {
                    key: key(KeyKind::Undone, txn, step),
                });
                self.compensate(cx, &mut w, txn, step.checked_sub(1));
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
            self.compensate(cx, &mut w, txn, Some(step));
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
                let next = top.and_then(|t| (0..=t).rev().find(|i| !s.undone.contains(i)));
                match next {
                    Some(n) => Phase::Compensating(n),
                    None => continue,
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
