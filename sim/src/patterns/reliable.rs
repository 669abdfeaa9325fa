//! Resending from memory until acknowledged: the at-least-once delivery every
//! protocol needs over a lossy network.
//!
//! Volatile by design: a crash forgets what was pending. Protocols that must survive
//! a crash keep what to resend in their store (an outbox) and refill a `Resender`
//! from it in `on_recover`.

use crate::msg::{Msg, MsgId, NodeIx};
use crate::node::{timer_id, timer_parts, Cx};
use std::collections::BTreeMap;

/// `Debug` leaves out `last_us` (an absolute time): the explorer hashes a node's
/// printed state, and when the resend comes is its armed timer's relative deadline.
#[derive(Clone, Copy)]
struct Pending {
    to: NodeIx,
    msg: Msg,
    sends: u32,
    last_us: u64,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("to", &self.to)
            .field("msg", &self.msg)
            .field("sends", &self.sends)
            .finish()
    }
}

/// Messages sent and not yet acknowledged, each resent `backoff_us` after its own
/// last send.
///
/// Every send sets a timer of its own, keyed by the message's transaction, due at
/// exactly that message's deadline; a timer that finds nothing due (its message was
/// acknowledged or sent again since) does nothing. One shared tick re-armed for the
/// earliest deadline would let a transaction's resend wait for the 1 ms timer floor
/// behind another transaction's tick, so a fault that moves one transaction's
/// resends would move another's (docs/reference/randomness.md, "What a fault touches").
#[derive(Debug, Clone)]
pub struct Resender {
    purpose: u8,
    backoff_us: u64,
    attempts: Option<u32>,
    pending: BTreeMap<MsgId, Pending>,
}

impl Resender {
    /// A resender whose tick timer uses `purpose`; gives a message up after
    /// `attempts` sends (None: never).
    pub fn new(purpose: u8, backoff_us: u64, attempts: Option<u32>) -> Resender {
        Resender {
            purpose,
            backoff_us: backoff_us.max(1),
            attempts,
            pending: BTreeMap::new(),
        }
    }

    /// Is `timer` one of this resender's (any transaction's)?
    pub fn owns(&self, timer: u64) -> bool {
        timer_parts(timer).0 == self.purpose
    }

    /// Sends `msg` now and keeps resending it until [`Resender::ack`]; returns its id.
    pub fn send(&mut self, cx: &mut Cx, to: NodeIx, mut msg: Msg) -> MsgId {
        if msg.id == 0 {
            msg.id = cx.fresh_id();
        }
        cx.send(to, msg);
        self.pending.insert(
            msg.id,
            Pending {
                to,
                msg,
                sends: 1,
                last_us: cx.now_us,
            },
        );
        cx.set_timer(self.backoff_us, timer_id(self.purpose, msg.txn));
        msg.id
    }

    /// Stops resending message `id`; returns it if it was pending.
    pub fn ack(&mut self, id: MsgId) -> Option<Msg> {
        self.pending.remove(&id).map(|p| p.msg)
    }

    /// Stops resending every message `keep` rejects.
    pub fn retain(&mut self, mut keep: impl FnMut(&Msg) -> bool) {
        self.pending.retain(|_, p| keep(&p.msg));
    }

    /// Is message `id` still waiting for its acknowledgement?
    pub fn is_pending(&self, id: MsgId) -> bool {
        self.pending.contains_key(&id)
    }

    /// The pending messages, oldest id first.
    pub fn pending(&self) -> impl Iterator<Item = (NodeIx, &Msg)> {
        self.pending.values().map(|p| (p.to, &p.msg))
    }

    /// Nothing waits for an acknowledgement.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Handles one of its timers (see [`Resender::owns`]): resends that timer's
    /// transaction's messages that are due; returns the messages given up (sent
    /// `attempts` times without an acknowledgement), with their destination.
    pub fn on_tick(&mut self, cx: &mut Cx, timer: u64) -> Vec<(NodeIx, Msg)> {
        let txn = timer_parts(timer).1;
        let mut given_up = Vec::new();
        let now = cx.now_us;
        let due: Vec<MsgId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.msg.txn == txn && now >= p.last_us + self.backoff_us)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let p = self.pending.get_mut(&id).expect("due ids are pending");
            if self.attempts.is_some_and(|a| p.sends >= a) {
                given_up.push((p.to, p.msg));
                self.pending.remove(&id);
                continue;
            }
            p.sends += 1;
            p.last_us = now;
            cx.send(p.to, p.msg);
            cx.set_timer(self.backoff_us, timer);
        }
        given_up
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::MsgKind;
    use crate::node::{Harness, Node};

    /// A node that only owns a resender, to drive it through the harness.
    #[derive(Debug)]
    struct R(Resender);
    impl Node for R {
        fn on_start(&mut self, _cx: &mut Cx) {}
        fn on_message(&mut self, _cx: &mut Cx, _from: NodeIx, _msg: Msg) {}
        fn on_timer(&mut self, _cx: &mut Cx, _t: u64) {}
        fn busy(&self) -> bool {
            !self.0.is_empty()
        }
    }

    /// Fires every timer among `fx` due at `now`, as an executor would.
    fn due_timers(fx: &[crate::node::Effect]) -> Vec<(u64, u64)> {
        fx.iter()
            .filter_map(|e| match e {
                crate::node::Effect::Timer { after_us, timer } => Some((*after_us, *timer)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn resends_until_acked_and_gives_up_after_attempts() {
        let mut r = R(Resender::new(9, 20_000, Some(3)));
        let mut h = Harness::new(0, vec![], 1);
        let mut id = 0;
        let fx = h.call(&mut r, |n, cx| {
            id = n.0.send(cx, 1, Msg::new(MsgKind::Do, 1, 0));
            n.0.send(cx, 2, Msg::new(MsgKind::Do, 2, 0));
        });
        let timers = due_timers(&fx);
        assert_eq!(
            timers,
            vec![(20_000, timer_id(9, 1)), (20_000, timer_id(9, 2))],
            "one timer per message, keyed by its transaction, due at its deadline"
        );
        h.now_us = 20_000;
        let mut sent = 0;
        for (_, t) in timers {
            assert!(r.0.owns(t));
            let fx = h.call(&mut r, |n, cx| assert!(n.0.on_tick(cx, t).is_empty()));
            sent += Harness::sent(&fx).len();
        }
        assert_eq!(sent, 2);
        assert!(r.0.ack(id).is_some());
        h.now_us = 40_000;
        let fx = h.call(&mut r, |n, cx| {
            assert!(n.0.on_tick(cx, timer_id(9, 1)).is_empty())
        });
        assert!(Harness::sent(&fx).is_empty(), "the acked one is not resent");
        let fx = h.call(&mut r, |n, cx| {
            assert!(n.0.on_tick(cx, timer_id(9, 2)).is_empty())
        });
        assert_eq!(Harness::sent(&fx).len(), 1);
        h.now_us = 60_000;
        let mut gave_up = vec![];
        h.call(&mut r, |n, cx| gave_up = n.0.on_tick(cx, timer_id(9, 2)));
        assert_eq!(gave_up.len(), 1);
        assert_eq!(gave_up[0].1.txn, 2);
        assert!(!r.busy());
    }

    #[test]
    fn a_resend_is_due_at_its_own_deadline_whatever_else_is_pending() {
        let mut r = R(Resender::new(9, 20_000, None));
        let mut h = Harness::new(0, vec![], 1);
        h.call(&mut r, |n, cx| {
            n.0.send(cx, 1, Msg::new(MsgKind::Do, 1, 0));
        });
        // Another transaction's message sent 47 µs before the first one is due.
        h.now_us = 19_953;
        let fx = h.call(&mut r, |n, cx| {
            n.0.send(cx, 2, Msg::new(MsgKind::Do, 2, 0));
        });
        assert_eq!(due_timers(&fx), vec![(20_000, timer_id(9, 2))]);
        // The first one's timer fires at its deadline and resends only txn 1.
        h.now_us = 20_000;
        let fx = h.call(&mut r, |n, cx| {
            n.0.on_tick(cx, timer_id(9, 1));
        });
        let sent = Harness::sent(&fx);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1.txn, 1);
        assert_eq!(due_timers(&fx), vec![(20_000, timer_id(9, 1))]);
    }
}
