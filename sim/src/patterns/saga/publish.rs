//! Publishing what a local transaction did: the outbox, or a direct send (the dual
//! write).
//!
//! - Outbox: the outgoing message is a `Write::OutboxPut` in the *same* local
//!   transaction as the state change, so both happen or neither. A relay sends it from
//!   the store and resends it until it is acknowledged, then marks it done; after a
//!   crash `recover` refills the relay from the store. At-least-once, crash or not.
//! - Direct: the local transaction commits, and sending is a separate step after it:
//!   the messages leave `dual_write_gap_ms` after the commit (a timer of this node), and
//!   are resent from memory. A crash between the commit and the acknowledgement (in
//!   the gap, or while unacknowledged) loses the message while the state change
//!   stays: the dual-write problem. The gap is a rule of this protocol layer, the same
//!   for every message a local transaction publishes (see `read_side` for view changes).
//!
//! Forward messages (a command, a success event) are given up after `retry.attempts`;
//! compensations, failure events and outcomes are resent until acknowledged.

use super::super::reliable::Resender;
use crate::msg::{Msg, MsgId, MsgKind, NodeIx};
use crate::node::{timer_id, timer_parts, Cx};
use crate::scenario::{Publish, Write as WriteSection};
use crate::store::Write;

/// Timer purposes used by a publisher, from its base: publish, forward tick, reliable tick.
const PUBLISH: u8 = 0;
const FORWARD: u8 = 1;
const RELIABLE: u8 = 2;

/// `value` of a command or success event for a retriable step (past the pivot): it
/// is resent until answered, never given up.
pub const PAST_PIVOT: i64 = 1;

/// Is `msg` a forward message, given up after `retry.attempts`? Not one to a step
/// past the pivot: the saga can no longer go back, only forward.
pub fn is_forward(msg: &Msg) -> bool {
    (msg.kind == MsgKind::Do || (msg.kind == MsgKind::Event && msg.ok)) && msg.value != PAST_PIVOT
}

/// A node's outgoing messages: staged with a local transaction, sent after it.
#[derive(Debug)]
pub struct Publisher {
    mode: Publish,
    gap_us: u64,
    store: usize,
    base: u8,
    forward: Resender,
    reliable: Resender,
    staged: Vec<(NodeIx, Msg)>,
    /// Direct mode: committed, not yet sent (the dual-write window).
    unsent: Vec<(NodeIx, Msg)>,
}

impl Publisher {
    /// A publisher in `mode` with `w`'s retry settings and dual-write gap, its outbox
    /// in local store `store` and its timers at purposes `base..base + 3`.
    pub fn new(w: &WriteSection, mode: Publish, store: usize, base: u8) -> Publisher {
        let backoff = w.retry.backoff_ms * 1000;
        Publisher {
            mode,
            gap_us: w.dual_write_gap_ms * 1000,
            store,
            base,
            forward: Resender::new(base + FORWARD, backoff, w.retry.attempts),
            reliable: Resender::new(base + RELIABLE, backoff, None),
            staged: Vec::new(),
            unsent: Vec::new(),
        }
    }

    /// Stages `msg` to `to` for the local transaction about to commit: in outbox mode
    /// adds its `OutboxPut` to `writes`. Call [`Publisher::flush`] after the commit.
    pub fn stage(&mut self, cx: &mut Cx, writes: &mut Vec<Write>, to: NodeIx, mut msg: Msg) {
        msg.id = cx.fresh_id();
        if self.mode == Publish::Outbox {
            writes.push(Write::OutboxPut { to, msg });
        }
        self.staged.push((to, msg));
    }

    /// After the commit: the relay sends outbox messages at once (they are in the
    /// store); direct messages leave in a step of their own, the dual-write gap later.
    pub fn flush(&mut self, cx: &mut Cx) {
        if self.staged.is_empty() {
            return;
        }
        match self.mode {
            Publish::Outbox => {
                for (to, msg) in std::mem::take(&mut self.staged) {
                    self.resend(cx, to, msg);
                }
            }
            Publish::Direct => {
                if self.unsent.is_empty() {
                    cx.set_timer(self.gap_us, timer_id(self.base + PUBLISH, 0));
                }
                self.unsent.append(&mut self.staged);
            }
        }
    }

    fn resend(&mut self, cx: &mut Cx, to: NodeIx, msg: Msg) {
        if is_forward(&msg) {
            self.forward.send(cx, to, msg);
        } else {
            self.reliable.send(cx, to, msg);
        }
    }

    /// Message `id` was acknowledged: stop resending it; in outbox mode adds its
    /// `OutboxDone` to `writes`. Returns the message if it was pending.
    pub fn ack(&mut self, id: MsgId, writes: &mut Vec<Write>) -> Option<Msg> {
        let msg = self.forward.ack(id).or_else(|| self.reliable.ack(id))?;
        if self.mode == Publish::Outbox {
            writes.push(Write::OutboxDone { id });
        }
        Some(msg)
    }

    /// Does `timer` belong to this publisher?
    pub fn owns(&self, timer: u64) -> bool {
        let p = timer_parts(timer).0;
        (self.base..self.base + 3).contains(&p)
    }

    /// Handles one of its timers; returns the forward messages given up (in outbox
    /// mode their `OutboxDone` is committed with the caller's reaction: see `writes`).
    pub fn on_timer(&mut self, cx: &mut Cx, timer: u64) -> Vec<(NodeIx, Msg)> {
        let p = timer_parts(timer).0 - self.base;
        match p {
            PUBLISH => {
                for (to, msg) in std::mem::take(&mut self.unsent) {
                    self.resend(cx, to, msg);
                }
                vec![]
            }
            FORWARD => self.forward.on_tick(cx),
            _ => {
                self.reliable.on_tick(cx);
                vec![]
            }
        }
    }

    /// The write that removes a given-up message from the outbox, if there is one.
    pub fn given_up(&self, msg: &Msg) -> Option<Write> {
        (self.mode == Publish::Outbox).then_some(Write::OutboxDone { id: msg.id })
    }

    /// After a crash: the relay picks up every unacknowledged outbox message. (Direct
    /// messages were in memory: they are gone.)
    pub fn recover(&mut self, cx: &mut Cx) {
        if self.mode != Publish::Outbox {
            return;
        }
        for e in cx.store(self.store).outbox() {
            self.resend(cx, e.to, e.msg);
        }
    }

    /// Something is still to be sent or acknowledged.
    pub fn busy(&self) -> bool {
        !self.forward.is_empty() || !self.reliable.is_empty() || !self.unsent.is_empty()
    }

    /// The publishing mode.
    pub fn mode(&self) -> Publish {
        self.mode
    }
}
