//! A timed node's queue: messages waiting in arrival order for one of its
//! `workers` servers, and the messages in service.
//!
//! Sans-IO like the rest of the core: the queue says which message starts service
//! on which server; the [`super::System`] draws the service time and asks the
//! executor to call back when it ends. It also counts the node's work as it goes
//! ([`QueueStats`]), which is cheaper and more exact than recovering it from the
//! trace afterwards.

use crate::cost::QueueStats;
use crate::msg::{Msg, NodeIx};
use crate::scenario::Serving;
use std::collections::VecDeque;

/// A message that starts service now, on `server`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Started {
    /// The server it occupies.
    pub server: u32,
    /// Its sender.
    pub from: NodeIx,
    /// The message.
    pub msg: Msg,
}

#[derive(Debug, Clone, Copy)]
struct Waiting {
    arrived_us: u64,
    from: NodeIx,
    msg: Msg,
}

#[derive(Debug, Clone, Copy)]
struct InService {
    arrived_us: u64,
    started_us: u64,
    from: NodeIx,
    msg: Msg,
}

/// One node's queue and servers.
#[derive(Debug, Clone)]
pub struct Queue {
    /// How the node serves.
    pub serving: Serving,
    waiting: VecDeque<Waiting>,
    servers: Vec<Option<InService>>,
    stats: QueueStats,
    /// When the number waiting last changed (for its time integral).
    last_change_us: u64,
}

impl Queue {
    /// An empty queue with `serving.workers` idle servers.
    pub fn new(serving: Serving) -> Queue {
        let workers = serving.workers.max(1);
        Queue {
            serving,
            waiting: VecDeque::new(),
            servers: vec![None; workers as usize],
            stats: QueueStats {
                workers,
                ..QueueStats::default()
            },
            last_change_us: 0,
        }
    }

    /// Nothing waits and nothing is in service.
    pub fn idle(&self) -> bool {
        self.waiting.is_empty() && self.servers.iter().all(Option::is_none)
    }

    /// Adds the waiting area up to `now_us` (before the number waiting changes).
    fn advance(&mut self, now_us: u64) {
        let dt = now_us.saturating_sub(self.last_change_us);
        self.stats.waiting_area_us += u128::from(dt) * self.waiting.len() as u128;
        self.last_change_us = self.last_change_us.max(now_us);
    }

    fn occupy(&mut self, server: usize, w: Waiting, now_us: u64) -> Started {
        self.stats.waits_us.push(now_us - w.arrived_us);
        self.servers[server] = Some(InService {
            arrived_us: w.arrived_us,
            started_us: now_us,
            from: w.from,
            msg: w.msg,
        });
        Started {
            server: server as u32,
            from: w.from,
            msg: w.msg,
        }
    }

    /// `msg` from `from` arrives at `now_us`: it starts service on a free server
    /// (returned), or waits behind the others.
    pub fn arrive(&mut self, now_us: u64, from: NodeIx, msg: Msg) -> Option<Started> {
        self.stats.arrivals += 1;
        let w = Waiting {
            arrived_us: now_us,
            from,
            msg,
        };
        // Waiting messages go first (FIFO); a free server with messages waiting
        // cannot happen, since a server that frees takes the next one at once.
        match self.servers.iter().position(Option::is_none) {
            Some(i) if self.waiting.is_empty() => Some(self.occupy(i, w, now_us)),
            _ => {
                self.advance(now_us);
                self.waiting.push_back(w);
                self.stats.queue_max = self.stats.queue_max.max(self.waiting.len() as u64);
                None
            }
        }
    }

    /// `server`'s service ends at `now_us`: its message (to be handled now) and the
    /// next message that starts service on it, if one waits. `None` if the server was
    /// idle (a stale callback).
    pub fn done(&mut self, server: u32, now_us: u64) -> Option<((NodeIx, Msg), Option<Started>)> {
        let slot = self.servers.get_mut(server as usize)?;
        let s = slot.take()?;
        self.stats.busy_us += u128::from(now_us - s.started_us);
        self.stats.sojourns_us.push(now_us - s.arrived_us);
        let next = if self.waiting.is_empty() {
            None
        } else {
            self.advance(now_us);
            let w = self.waiting.pop_front().expect("not empty");
            Some(self.occupy(server as usize, w, now_us))
        };
        Some(((s.from, s.msg), next))
    }

    /// The node crashed at `now_us`: every message in service, then every waiting
    /// one, is lost (returned in that order); the counts keep what was served.
    pub fn crash(&mut self, now_us: u64) -> Vec<(NodeIx, Msg)> {
        self.advance(now_us);
        let mut lost = Vec::new();
        for slot in &mut self.servers {
            if let Some(s) = slot.take() {
                self.stats.busy_us += u128::from(now_us - s.started_us);
                lost.push((s.from, s.msg));
            }
        }
        lost.extend(self.waiting.drain(..).map(|w| (w.from, w.msg)));
        lost
    }

    /// The counts of the run ended at `now_us` (service still going counts up to then).
    pub fn stats_at(&self, now_us: u64) -> QueueStats {
        let mut stats = self.stats.clone();
        let dt = now_us.saturating_sub(self.last_change_us);
        stats.waiting_area_us += u128::from(dt) * self.waiting.len() as u128;
        for s in self.servers.iter().flatten() {
            stats.busy_us += u128::from(now_us.saturating_sub(s.started_us));
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::MsgKind;

    fn m(txn: u32) -> Msg {
        Msg::new(MsgKind::Do, txn, 0)
    }

    #[test]
    fn one_server_serves_in_arrival_order_and_counts() {
        let mut q = Queue::new(Serving {
            service_time_ms: 1.0,
            workers: 1,
            ..Serving::default()
        });
        assert_eq!(q.arrive(0, 1, m(1)).map(|s| s.server), Some(0));
        assert_eq!(q.arrive(100, 1, m(2)), None);
        assert_eq!(q.arrive(200, 1, m(3)), None);
        let ((_, first), next) = q.done(0, 1000).unwrap();
        assert_eq!(first.txn, 1);
        assert_eq!(next.unwrap().msg.txn, 2);
        let ((_, second), next) = q.done(0, 2000).unwrap();
        assert_eq!(second.txn, 2);
        assert_eq!(next.unwrap().msg.txn, 3);
        assert!(q.done(0, 3000).unwrap().1.is_none());
        assert!(q.idle());
        assert!(
            q.done(0, 3000).is_none(),
            "a stale callback finds the server idle"
        );
        let st = q.stats_at(4000);
        assert_eq!(st.busy_us, 3000);
        assert_eq!(st.waits_us, [0, 900, 1800]);
        assert_eq!(st.sojourns_us, [1000, 1900, 2800]);
        // Two waiting over [200, 1000), one over [100, 200) and [1000, 2000).
        assert_eq!(st.waiting_area_us, 100 + 2 * 800 + 1000);
        assert_eq!(st.queue_max, 2);
    }

    #[test]
    fn workers_serve_at_once_and_a_crash_loses_everything() {
        let mut q = Queue::new(Serving {
            service_time_ms: 1.0,
            workers: 2,
            ..Serving::default()
        });
        assert_eq!(q.arrive(0, 1, m(1)).map(|s| s.server), Some(0));
        assert_eq!(q.arrive(0, 1, m(2)).map(|s| s.server), Some(1));
        assert_eq!(q.arrive(0, 1, m(3)), None);
        let lost = q.crash(500);
        let txns: Vec<u32> = lost.iter().map(|(_, m)| m.txn).collect();
        assert_eq!(txns, [1, 2, 3]);
        assert!(q.idle());
        assert_eq!(q.stats_at(500).busy_us, 1000);
    }
}
