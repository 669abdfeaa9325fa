//! Resending from memory until acknowledged: the at-least-once delivery every
//! protocol needs over a lossy network.
//!
//! Volatile by design: a crash forgets what was pending. Protocols that must survive
//! a crash keep what to resend in their store (an outbox) and refill a `Resender`
//! from it in `on_recover`.

use crate::msg::{Msg, MsgId, NodeIx};
use crate::node::{timer_id, Cx};
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

/// Messages sent and not yet acknowledged, resent every `backoff_us`.
#[derive(Debug, Clone)]
pub struct Resender {
    purpose: u8,
    backoff_us: u64,
    attempts: Option<u32>,
    pending: BTreeMap<MsgId, Pending>,
    tick_armed: bool,
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
            tick_armed: false,
        }
    }

    /// The timer id of this resender's tick.
    pub fn timer(&self) -> u64 {
        timer_id(self.purpose, 0)
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
        self.arm(cx);
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

    /// Handles this resender's tick: resends what is due; returns the messages given
    /// up (sent `attempts` times without an acknowledgement), with their destination.
    pub fn on_tick(&mut self, cx: &mut Cx) -> Vec<(NodeIx, Msg)> {
        self.tick_armed = false;
        let mut given_up = Vec::new();
        let now = cx.now_us;
        let due: Vec<MsgId> = self
            .pending
            .iter()
            .filter(|(_, p)| now >= p.last_us + self.backoff_us)
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
        }
        self.arm(cx);
        given_up
    }

    fn arm(&mut self, cx: &mut Cx) {
        if self.tick_armed || self.pending.is_empty() {
            return;
        }
        let now = cx.now_us;
        let next = self
            .pending
            .values()
            .map(|p| p.last_us + self.backoff_us)
            .min()
            .unwrap_or(now + self.backoff_us);
        self.tick_armed = true;
        cx.set_timer(next.saturating_sub(now), self.timer());
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

    #[test]
    fn resends_until_acked_and_gives_up_after_attempts() {
        let mut r = R(Resender::new(9, 20_000, Some(3)));
        let mut h = Harness::new(0, vec![], 1);
        let mut id = 0;
        h.call(&mut r, |n, cx| {
            id = n.0.send(cx, 1, Msg::new(MsgKind::Do, 1, 0));
            n.0.send(cx, 2, Msg::new(MsgKind::Do, 2, 0));
        });
        h.now_us = 20_000;
        let fx = h.call(&mut r, |n, cx| assert!(n.0.on_tick(cx).is_empty()));
        assert_eq!(Harness::sent(&fx).len(), 2);
        assert!(r.0.ack(id).is_some());
        h.now_us = 40_000;
        let fx = h.call(&mut r, |n, cx| assert!(n.0.on_tick(cx).is_empty()));
        assert_eq!(Harness::sent(&fx).len(), 1, "the acked one is not resent");
        h.now_us = 60_000;
        let mut gave_up = vec![];
        h.call(&mut r, |n, cx| gave_up = n.0.on_tick(cx));
        assert_eq!(gave_up.len(), 1);
        assert_eq!(gave_up[0].1.txn, 2);
        assert!(!r.busy());
    }
}
