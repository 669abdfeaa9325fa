//! What the patterns cost under load: the measures of a node's queue, and the
//! throughput, availability and lock waits of a run (docs/reference/report.md).
//!
//! The core counts a timed node's work as it happens ([`QueueStats`], kept by
//! `exec::queue`); this module turns those counts, and the trace's events, into the
//! report's figures. Only nodes with a service time have a queue, so a scenario
//! without one reports `nodes: {}` and everything else as before.

use crate::msg::{MsgKind, NodeIx};
use crate::patterns::CLIENT_NODE;
use crate::report::Latency;
use crate::store::Write;
use crate::trace::{EventKind, Trace};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The raw counts of one node's queue over a run, in virtual µs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    /// Servers of the node.
    pub workers: u32,
    /// Messages that entered the queue (waiting or straight into service).
    pub arrivals: u64,
    /// Server-time spent serving, summed over servers (a service cut short by a
    /// crash or by the end of the run counts up to there).
    pub busy_us: u128,
    /// The integral of the number waiting (not in service) over time, in µs.
    pub waiting_area_us: u128,
    /// The most messages waiting at once.
    pub queue_max: u64,
    /// For every message that began service: how long it waited first.
    pub waits_us: Vec<u64>,
    /// For every message whose service ended: arrival to end of service.
    pub sojourns_us: Vec<u64>,
}

/// One node's cost, as the report shows it (`nodes.NAME`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeCost {
    /// Busy server-time over (workers x run time), 0..=1.
    pub utilization: f64,
    /// Time-average number of messages waiting (not in service).
    pub queue_mean: f64,
    /// The most messages waiting at once.
    pub queue_max: u64,
    /// Time from arrival at the node to the start of service.
    pub wait_ms: Latency,
    /// Mean of `wait_ms`, in ms (Little's law: `queue_mean` = arrival rate x this).
    pub wait_mean_ms: f64,
    /// Time from arrival to the end of service (wait plus service).
    pub sojourn_ms: Latency,
    /// Mean of `sojourn_ms`, in ms.
    pub sojourn_mean_ms: f64,
    /// Messages that arrived to be served.
    pub arrivals: u64,
    /// Messages whose service ended.
    pub served: u64,
}

impl NodeCost {
    /// The measures of `stats` over a run of `run_us`.
    pub fn of(stats: &QueueStats, run_us: u64) -> NodeCost {
        let run = run_us.max(1) as f64;
        let mean_ms = |xs: &[u64]| {
            if xs.is_empty() {
                0.0
            } else {
                xs.iter().map(|&x| x as f64).sum::<f64>() / xs.len() as f64 / 1000.0
            }
        };
        NodeCost {
            utilization: stats.busy_us as f64 / (f64::from(stats.workers.max(1)) * run),
            queue_mean: stats.waiting_area_us as f64 / run,
            queue_max: stats.queue_max,
            wait_ms: Latency::of(&mut stats.waits_us.clone()),
            wait_mean_ms: mean_ms(&stats.waits_us),
            sojourn_ms: Latency::of(&mut stats.sojourns_us.clone()),
            sojourn_mean_ms: mean_ms(&stats.sojourns_us),
            arrivals: stats.arrivals,
            served: stats.sojourns_us.len() as u64,
        }
    }
}

/// `count` per virtual second over `[from_us, to_us]`; 0 when nothing counted or
/// the span is empty.
pub fn per_second(count: u32, from_us: u64, to_us: u64) -> f64 {
    if count == 0 || to_us <= from_us {
        return 0.0;
    }
    f64::from(count) / ((to_us - from_us) as f64 / 1e6)
}

/// Per transaction, the time from its first submission to the outcome the client
/// heard, in µs (none: it never heard one).
pub type Heard = BTreeMap<u32, Option<u64>>;

/// The write side's submission and outcome times: (first submission, end of the
/// throughput's span) and, per transaction, the time from its first submission to the
/// outcome the client heard (none: it never heard one). The span ends at the later
/// of the last outcome the client heard and the last step applied by a transaction
/// of `committed`: a commit the system made after the client gave up counts, at the
/// time it was made. From the run's [`WriteTally`], so a counters-only run has them.
pub fn write_times(
    trace: &Trace,
    committed: impl IntoIterator<Item = u32>,
) -> (Option<(u64, u64)>, Heard) {
    let w = &trace.writes;
    let last_commit = committed
        .into_iter()
        .filter_map(|t| w.applied_us.get(&t).copied())
        .max();
    let end = w.last_outcome_us.max(last_commit);
    (w.first_submit_us.zip(end), w.heard())
}

/// What the write side's figures need, tallied as the run records its events (kept
/// or not: a counters-only run, such as a sweep's, reports the same throughput,
/// latency and availability as a run that keeps every event).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WriteTally {
    /// When the first transaction was submitted, in µs.
    pub first_submit_us: Option<u64>,
    /// When the client was last told an outcome, in µs.
    pub last_outcome_us: Option<u64>,
    /// Per transaction: its first submission, and how long after it the client
    /// first heard its outcome (none: never), in µs.
    pub txns: BTreeMap<u32, (u64, Option<u64>)>,
    /// Per transaction: when a step of it was last applied (a `take` or an `apply`
    /// write), in µs: when a committed transaction became committed.
    #[serde(default)]
    pub applied_us: BTreeMap<u32, u64>,
    /// Submissions whose answer has not reached the client yet.
    open: BTreeMap<u32, u64>,
    /// Submit to the system's answer reaching the client (its first `finished`), in
    /// µs, in the order the answers came: a transaction the client had given up on
    /// counts when its answer came, not at the patience it stopped waiting after.
    pub latencies_us: Vec<u64>,
}

impl WriteTally {
    /// Counts one event of `node` (submits, outcomes, applied steps and answers
    /// delivered to the client matter).
    pub fn see(&mut self, t_us: u64, node: NodeIx, kind: &EventKind) {
        match kind {
            EventKind::Submit { txn } => {
                self.first_submit_us.get_or_insert(t_us);
                self.txns.entry(*txn).or_insert((t_us, None));
                self.open.entry(*txn).or_insert(t_us);
            }
            EventKind::Outcome { txn, .. } => {
                self.last_outcome_us = Some(t_us);
                if let Some((start, heard)) = self.txns.get_mut(txn) {
                    heard.get_or_insert(t_us - *start);
                }
            }
            EventKind::Deliver { msg, .. }
                if node == CLIENT_NODE && msg.kind == MsgKind::Finished =>
            {
                if let Some(s) = self.open.remove(&msg.txn) {
                    self.latencies_us.push(t_us - s);
                }
            }
            EventKind::Local { writes, .. } => {
                for w in writes.iter() {
                    if let Write::Take { txn, .. } | Write::Apply { txn, .. } = *w {
                        self.applied_us.insert(txn, t_us);
                    }
                }
            }
            _ => {}
        }
    }

    /// The tally of a recorded event list (a loaded trace).
    pub fn of_events(events: &[crate::trace::Event]) -> WriteTally {
        let mut w = WriteTally::default();
        for e in events {
            w.see(e.t_us, e.node, &e.kind);
        }
        w
    }

    /// Per transaction, submit to the outcome the client first heard.
    pub fn heard(&self) -> Heard {
        self.txns.iter().map(|(&t, &(_, h))| (t, h)).collect()
    }
}

/// The share of submitted transactions whose outcome the client heard within
/// `deadline_ms` of submitting (0 when none was submitted).
pub fn availability(heard: &Heard, deadline_ms: u64) -> f64 {
    if heard.is_empty() {
        return 0.0;
    }
    let within = heard
        .values()
        .filter(|h| h.is_some_and(|us| us <= deadline_ms.saturating_mul(1000)))
        .count();
    within as f64 / heard.len() as f64
}

/// Every lock wait of the run, in µs: how long each request for a row waited until
/// it got the row (0 when it was free) or gave up, one per `lock` event.
pub fn lock_waits_us(trace: &Trace) -> Vec<u64> {
    trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Lock { waited_us, .. } => Some(waited_us),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Msg;

    #[test]
    fn measures_of_counted_work() {
        let stats = QueueStats {
            workers: 2,
            arrivals: 4,
            busy_us: 1_000_000,
            waiting_area_us: 250_000,
            queue_max: 3,
            waits_us: vec![0, 1000, 3000],
            sojourns_us: vec![2000, 4000],
        };
        let c = NodeCost::of(&stats, 1_000_000);
        assert_eq!(c.utilization, 0.5);
        assert_eq!(c.queue_mean, 0.25);
        assert_eq!(c.queue_max, 3);
        assert!((c.wait_mean_ms - 4.0 / 3.0).abs() < 1e-9);
        assert_eq!(c.sojourn_mean_ms, 3.0);
        assert_eq!(c.served, 2);
        assert_eq!(c.wait_ms.max, 3.0);
    }

    #[test]
    fn an_answer_after_the_client_gave_up_counts_in_latency_not_in_availability() {
        let mut w = WriteTally::default();
        let done = Msg::new(MsgKind::Finished, 1, 0).ok(true);
        let take = [Write::Take {
            txn: 1,
            step: 0,
            amount: 1,
        }];
        w.see(0, CLIENT_NODE, &EventKind::Submit { txn: 1 });
        let local = EventKind::Local {
            what: crate::trace::Local::Commit,
            store: 0,
            txn: 1,
            step: 0,
            writes: take.into(),
        };
        w.see(2_500_000, 1, &local);
        // Past the 2 s patience: the client's `finished` arrives, with no `outcome`.
        let deliver = EventKind::Deliver { from: 1, msg: done };
        w.see(3_000_000, 2, &deliver);
        assert!(w.latencies_us.is_empty(), "delivered to another node");
        w.see(3_000_000, CLIENT_NODE, &deliver);
        assert_eq!(w.latencies_us, vec![3_000_000]);
        assert_eq!(w.heard()[&1], None, "never heard: not available");
        assert_eq!(w.applied_us[&1], 2_500_000);
    }

    #[test]
    fn rates_and_availability() {
        assert_eq!(per_second(10, 0, 2_000_000), 5.0);
        assert_eq!(per_second(0, 0, 2_000_000), 0.0);
        assert_eq!(per_second(3, 5, 5), 0.0);
        let heard: BTreeMap<u32, Option<u64>> = [
            (1, Some(1_000)),
            (2, Some(9_000)),
            (3, None),
            (4, Some(5_000)),
        ]
        .into();
        assert_eq!(availability(&heard, 5), 0.5);
        assert_eq!(availability(&BTreeMap::new(), 5), 0.0);
    }
}
