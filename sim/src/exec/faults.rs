//! The fault schedule: a pure function of the scenario, walked at the 1 ms ticks;
//! and the triggers of faults placed at a protocol step (`after`), which add their
//! actions to the schedule when they fire.

use crate::msg::{MsgKind, NodeIx, TxnId};
use crate::net::Net;
use crate::patterns::Layout;
use crate::scenario::{After, Fault, FaultKind, Scenario};
use crate::trace::{EventKind, Trace};

/// One thing the fault schedule does at one time.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The node crashes.
    Crash(NodeIx),
    /// The node restarts (if it is down).
    Restart(NodeIx),
    /// The network splits; `of[node]` is the node's group, if any.
    Partition {
        /// Each node's group.
        of: Vec<Option<usize>>,
        /// The groups' members, for the trace.
        groups: Box<[Box<[NodeIx]>]>,
    },
    /// This fault's partition heals.
    Heal,
    /// A loss window opens, on every link or on one.
    LossStart {
        /// Loss probability.
        p: f64,
        /// The one link, or every link.
        link: Option<(NodeIx, NodeIx)>,
    },
    /// This fault's loss window closes.
    LossEnd {
        /// The link it was on.
        link: Option<(NodeIx, NodeIx)>,
    },
}

impl Action {
    /// Does this action of fault `i` to `net` if it is a network one (partition,
    /// heal, loss window); false, and `net` untouched, for a crash or a restart.
    pub fn apply_to_net(&self, i: usize, net: &mut Net) -> bool {
        match self {
            Action::Partition { of, .. } => net.partition(i, of.clone()),
            Action::Heal => net.heal(i),
            Action::LossStart { p, link } => net.open_window(i, *p, *link),
            Action::LossEnd { .. } => net.close_window(i),
            Action::Crash(_) | Action::Restart(_) => return false,
        }
        true
    }
}

/// An [`Action`] of fault `fault`, due at `at_us`.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    /// When it is due, microseconds from the start.
    pub at_us: u64,
    /// The fault's index in the scenario file.
    pub fault: usize,
    /// 0 for the start of a fault (crash, partition, loss start), 1 for its end
    /// (restart, heal, loss end).
    pub phase: u8,
    /// What to do.
    pub action: Action,
}

/// The actions of fault `i`, struck at `at_us`: its start (phase 0) and, if it
/// ends, its end (phase 1). A fault placed at a time ends at its absolute
/// `heal_ms` / `until_ms` (or `at_ms + for_ms`); a triggered one `for_ms` after it
/// fired. A crash restarts `restart_ms` after it struck either way. Empty when the
/// fault's target is unknown (validation reports it).
pub fn fault_actions(i: usize, fault: &Fault, layout: &Layout, at_us: u64) -> Vec<Due> {
    let ms = |m: u64| m.saturating_mul(1000);
    let mut due = Vec::new();
    let Some(kind) = fault.kind() else {
        return due;
    };
    // The end of a window: relative to the firing for a trigger, else absolute.
    let end = |absolute: Option<u64>| -> Option<u64> {
        if fault.is_triggered() {
            fault.for_ms.map(|d| at_us.saturating_add(ms(d)))
        } else {
            absolute.map(|e| ms(e.max(fault.at_ms)))
        }
    };
    let mut push = |at_us: u64, phase: u8, action: Action| {
        due.push(Due {
            at_us,
            fault: i,
            phase,
            action,
        })
    };
    match kind {
        FaultKind::Crash { node, restart_ms } => {
            let Some(ix) = layout.target(node) else {
                return due;
            };
            push(at_us, 0, Action::Crash(ix));
            if let Some(r) = restart_ms {
                push(at_us.saturating_add(ms(r)), 1, Action::Restart(ix));
            }
        }
        FaultKind::Partition { groups, heal_ms } => {
            let mut of = vec![None; layout.nodes.len()];
            let mut names: Vec<Box<[NodeIx]>> = Vec::new();
            for (g, group) in groups.iter().enumerate() {
                let ixs: Vec<NodeIx> = group
                    .iter()
                    .filter_map(|n| layout.target_or_client(n))
                    .collect();
                for &ix in &ixs {
                    of[usize::from(ix)] = Some(g);
                }
                names.push(ixs.into());
            }
            push(
                at_us,
                0,
                Action::Partition {
                    of,
                    groups: names.into(),
                },
            );
            if let Some(h) = end(heal_ms) {
                push(h, 1, Action::Heal);
            }
        }
        FaultKind::Loss { p, until_ms, link } => {
            let link = link.and_then(|[a, b]| {
                Some((layout.target_or_client(a)?, layout.target_or_client(b)?))
            });
            push(at_us, 0, Action::LossStart { p, link });
            if let Some(u) = end(until_ms) {
                push(u, 1, Action::LossEnd { link });
            }
        }
    }
    due
}

/// The fault schedule: every action of every fault placed at a time, sorted by
/// time, then by fault index (its place in the file), then start before end.
/// Triggered faults are not in it: their actions join it when they fire
/// ([`Trigger`]).
pub fn fault_schedule(scenario: &Scenario, layout: &Layout) -> Vec<Due> {
    let mut due = Vec::new();
    for (i, fault) in scenario.faults.iter().enumerate() {
        if fault.is_triggered() {
            continue;
        }
        due.extend(fault_actions(
            i,
            fault,
            layout,
            fault.at_ms.saturating_mul(1000),
        ));
    }
    // Stable, and the key is total over distinct actions: the order is the file's.
    due.sort_by_key(|d| (d.at_us, d.fault, d.phase));
    due
}

/// Puts `more` into the sorted schedule `due`, after position `from` (what has
/// fired stays where it is), keeping the schedule's order.
pub fn schedule_more(due: &mut Vec<Due>, from: usize, more: impl IntoIterator<Item = Due>) {
    for d in more {
        let key = (d.at_us, d.fault, d.phase);
        let at = from + due[from..].partition_point(|x| (x.at_us, x.fault, x.phase) <= key);
        due.insert(at, d);
    }
}

/// A fault's `after`, resolved to indices: it counts the matching events as they
/// are recorded and says when the `count`-th has been.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// The fault's index in the scenario file.
    pub fault: usize,
    node: NodeIx,
    event: String,
    msg: Option<MsgKind>,
    txn: Option<TxnId>,
    count: u32,
    seen: u32,
}

impl Trigger {
    /// Does this event count toward the trigger?
    pub fn matches(&self, node: NodeIx, kind: &EventKind) -> bool {
        node == self.node
            && kind.name() == self.event
            && self
                .msg
                .is_none_or(|m| kind.msg().is_some_and(|x| x.kind == m))
            && self.txn.is_none_or(|t| kind.txn() == Some(t))
    }

    /// Counts `kind` at `node`; true exactly when it is the `count`-th match.
    pub fn count(&mut self, node: NodeIx, kind: &EventKind) -> bool {
        if self.seen >= self.count || !self.matches(node, kind) {
            return false;
        }
        self.seen += 1;
        self.seen == self.count
    }
}

/// The `after` that fires right after event `seq` of `trace`: that event's node, kind,
/// message kind and transaction, and the count that makes it that very event (as
/// [`Trigger::matches`] counts). None for a fault's own event, which no handler
/// records. The TUI's "right after this event" and the explorer's counterexamples
/// place faults with it.
pub fn after_event(trace: &Trace, seq: usize) -> Option<After> {
    let e = trace.events.get(seq)?;
    if e.kind.is_fault() {
        return None;
    }
    let t = Trigger {
        fault: 0,
        node: e.node,
        event: e.kind.name().to_string(),
        msg: e.kind.msg().map(|m| m.kind),
        txn: e.kind.txn(),
        count: 1,
        seen: 0,
    };
    let count = trace.events[..=seq]
        .iter()
        .filter(|x| t.matches(x.node, &x.kind))
        .count();
    Some(After {
        node: trace.node_name(e.node).to_string(),
        event: t.event,
        msg: t.msg.map(|k| k.name().to_string()),
        txn: t.txn,
        count: u32::try_from(count).ok()?,
    })
}

/// The trigger of every fault placed by `after`, in file order. One whose node or
/// kinds are unknown is skipped (validation reports it): it never fires.
pub fn triggers(scenario: &Scenario, layout: &Layout) -> Vec<Trigger> {
    let mut out = Vec::new();
    for (i, fault) in scenario.faults.iter().enumerate() {
        let Some(a) = &fault.after else { continue };
        let Some(node) = layout.target_or_client(&a.node) else {
            continue;
        };
        let msg = match &a.msg {
            Some(name) => match MsgKind::ALL.into_iter().find(|k| k.name() == name) {
                Some(k) => Some(k),
                None => continue,
            },
            None => None,
        };
        out.push(Trigger {
            fault: i,
            node,
            event: a.event.clone(),
            msg,
            txn: a.txn,
            count: a.count.max(1),
            seen: 0,
        });
    }
    out
}

/// When each fault of a finished run struck, by file index, in µs (`None`: it did
/// not). Computed from the trace alone: a fault placed at a time struck if the run
/// reached that time; a triggered one at its `count`-th matching event (it fires
/// right after that event's handler, at the same instant). `None` for every
/// triggered fault of a counters-only trace (no events to look at).
pub fn struck(trace: &Trace) -> Vec<Option<u64>> {
    let layout = crate::patterns::layout(&trace.scenario);
    let mut out: Vec<Option<u64>> = trace
        .scenario
        .faults
        .iter()
        .map(|f| {
            let at = f.at_ms.saturating_mul(1000);
            (!f.is_triggered() && f.kind().is_some() && trace.end_us >= at).then_some(at)
        })
        .collect();
    let mut pending = triggers(&trace.scenario, &layout);
    for e in &trace.events {
        if pending.is_empty() {
            break;
        }
        pending.retain_mut(|t| {
            if t.count(e.node, &e.kind) {
                out[t.fault] = Some(e.t_us);
                false
            } else {
                true
            }
        });
    }
    out
}
