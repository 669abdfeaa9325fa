//! Publishing what a local transaction did: the outbox, event sourcing, or a direct
//! send (the dual write).
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
//! - Event sourcing (an event-log store): the outgoing message is an event of the
//!   service's log (`Write::Emit`), appended with the events that change its state, so
//!   there is no outbox table and nothing to write twice. The relay tails that log:
//!   it publishes each emitted event (a `relay` trace event, with its position) and,
//!   once acknowledged, appends a `Write::Relayed` mark. After a crash it reads the
//!   events without a mark from the log and publishes them again: nothing is lost.
//!
//! Forward messages (a command, a success event) are given up after `retry.attempts`;
//! compensations, failure events and outcomes are resent until acknowledged.

use super::super::reliable::Resender;
use crate::msg::{Msg, MsgId, MsgKind, NodeIx};
use crate::node::{timer_id, timer_parts, Cx};
use crate::scenario::{Publish, Write as WriteSection};
use crate::store::Write;
use crate::trace::EventKind;
use std::collections::BTreeMap;

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
    /// Event sourcing: the log position of every published, unacknowledged event.
    positions: BTreeMap<MsgId, u64>,
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
            positions: BTreeMap::new(),
        }
    }

    /// Stages `msg` to `to` for the local transaction about to commit: in outbox mode
    /// adds its `OutboxPut` to `writes`, under event sourcing its `Emit`. Call
    /// [`Publisher::flush`] after the commit.
    pub fn stage(&mut self, cx: &mut Cx, writes: &mut Vec<Write>, to: NodeIx, mut msg: Msg) {
        msg.id = cx.fresh_id();
        match self.mode {
            Publish::Outbox => writes.push(Write::OutboxPut { to, msg }),
            Publish::EventSourcing => writes.push(Write::Emit { to, msg }),
            Publish::Direct => {}
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
            Publish::EventSourcing => {
                // The relay reads the committed events back from the log.
                let feed: BTreeMap<MsgId, u64> = cx
                    .store(self.store)
                    .feed()
                    .into_iter()
                    .map(|(pos, e)| (e.msg.id, pos))
                    .collect();
                for (to, msg) in std::mem::take(&mut self.staged) {
                    if let Some(&pos) = feed.get(&msg.id) {
                        self.relay(cx, pos, &msg);
                    }
                    self.resend(cx, to, msg);
                }
            }
        }
    }

    /// Event sourcing: records that the relay publishes the log's event at `pos`.
    fn relay(&mut self, cx: &mut Cx, pos: u64, msg: &Msg) {
        self.positions.insert(msg.id, pos);
        cx.event(EventKind::Relay {
            txn: msg.txn,
            step: msg.step,
            offset: pos,
        });
    }

    /// Event sourcing: the mark that takes the event of message `id` off the feed.
    fn relayed(&mut self, id: MsgId) -> Option<Write> {
        let offset = self.positions.remove(&id)?;
        Some(Write::Relayed { offset })
    }

    fn resend(&mut self, cx: &mut Cx, to: NodeIx, msg: Msg) {
        if is_forward(&msg) {
            self.forward.send(cx, to, msg);
        } else {
            self.reliable.send(cx, to, msg);
        }
    }

    /// Message `id` was acknowledged: stop resending it; in outbox mode adds its
    /// `OutboxDone` to `writes`, under event sourcing its `Relayed` mark. Returns the
    /// message if it was pending.
    pub fn ack(&mut self, id: MsgId, writes: &mut Vec<Write>) -> Option<Msg> {
        let msg = self.forward.ack(id).or_else(|| self.reliable.ack(id))?;
        match self.mode {
            Publish::Outbox => writes.push(Write::OutboxDone { id }),
            Publish::EventSourcing => writes.extend(self.relayed(id)),
            Publish::Direct => {}
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
            FORWARD => self.forward.on_tick(cx, timer),
            _ => {
                self.reliable.on_tick(cx, timer);
                vec![]
            }
        }
    }

    /// The write that takes a given-up message off the outbox (or the log's feed), if
    /// there is one.
    pub fn given_up(&mut self, msg: &Msg) -> Option<Write> {
        match self.mode {
            Publish::Outbox => Some(Write::OutboxDone { id: msg.id }),
            Publish::EventSourcing => self.relayed(msg.id),
            Publish::Direct => None,
        }
    }

    /// After a crash: the relay picks up every unacknowledged outbox message, or every
    /// emitted event of the log without its `Relayed` mark. (Direct messages were in
    /// memory: they are gone.) A service store's outbox also holds the changes the
    /// read side publishes to a CQRS view: they are resent too, and the view's
    /// acknowledgements, which the read side passes on, stop them.
    pub fn recover(&mut self, cx: &mut Cx) {
        match self.mode {
            Publish::Outbox => {
                for e in cx.store(self.store).outbox() {
                    self.resend(cx, e.to, e.msg);
                }
            }
            Publish::EventSourcing => {
                self.positions.clear();
                for (pos, e) in cx.store(self.store).feed() {
                    self.relay(cx, pos, &e.msg);
                    self.resend(cx, e.to, e.msg);
                }
            }
            Publish::Direct => {}
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
