//! A coordinator (a saga's orchestrator, a 2PC or TCC coordinator) hosted on a
//! service's node: two nodes' logic behind one node, one crash for both.

use crate::msg::{Msg, MsgKind, NodeIx};
use crate::node::{timer_parts, Cx, Node};

/// An orchestrator (or 2PC coordinator) and a service sharing one node: the service's
/// store is local index 0, the coordinator's log index 1. A crash takes both down.
#[derive(Debug)]
pub struct Hosted<C: Node, S: Node> {
    coordinator: C,
    service: S,
    for_coordinator: fn(&Msg) -> bool,
}

/// Timer purposes at or above this belong to the hosted service.
pub const SERVICE_TIMERS: u8 = 64;

impl<C: Node, S: Node> Hosted<C, S> {
    /// Both halves; `for_coordinator` routes a message (acks go to both).
    pub fn new(coordinator: C, service: S, for_coordinator: fn(&Msg) -> bool) -> Self {
        Hosted {
            coordinator,
            service,
            for_coordinator,
        }
    }
}

impl<C: Node, S: Node> Node for Hosted<C, S> {
    fn on_start(&mut self, cx: &mut Cx) {
        self.service.on_start(cx);
        self.coordinator.on_start(cx);
    }
    fn on_recover(&mut self, cx: &mut Cx) {
        self.service.on_recover(cx);
        self.coordinator.on_recover(cx);
    }
    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg) {
        if msg.kind == MsgKind::Ack {
            self.coordinator.on_message(cx, from, msg);
            self.service.on_message(cx, from, msg);
        } else if (self.for_coordinator)(&msg) {
            self.coordinator.on_message(cx, from, msg);
        } else {
            self.service.on_message(cx, from, msg);
        }
    }
    fn on_timer(&mut self, cx: &mut Cx, timer: u64) {
        if timer_parts(timer).0 >= SERVICE_TIMERS {
            self.service.on_timer(cx, timer);
        } else {
            self.coordinator.on_timer(cx, timer);
        }
    }
    fn busy(&self) -> bool {
        self.coordinator.busy() || self.service.busy()
    }
}
