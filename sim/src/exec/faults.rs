//! The fault schedule: a pure function of the scenario, walked at the 1 ms ticks.

use crate::msg::NodeIx;
use crate::patterns::Layout;
use crate::scenario::{FaultKind, Scenario};

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

/// The fault schedule: every action of every fault, sorted by time, then by fault
/// index (its place in the file), then start before end. Faults whose target is
/// unknown are skipped (validation reports them).
pub fn fault_schedule(scenario: &Scenario, layout: &Layout) -> Vec<Due> {
    let ms = |m: u64| m.saturating_mul(1000);
    let mut due = Vec::new();
    for (i, fault) in scenario.faults.iter().enumerate() {
        let Some(kind) = fault.kind() else { continue };
        let at_us = ms(fault.at_ms);
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
                    continue;
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
                if let Some(h) = heal_ms {
                    push(ms(h.max(fault.at_ms)), 1, Action::Heal);
                }
            }
            FaultKind::Loss { p, until_ms, link } => {
                let link = link.and_then(|[a, b]| {
                    Some((layout.target_or_client(a)?, layout.target_or_client(b)?))
                });
                push(at_us, 0, Action::LossStart { p, link });
                if let Some(u) = until_ms {
                    push(ms(u.max(fault.at_ms)), 1, Action::LossEnd { link });
                }
            }
        }
    }
    // Stable, and the key is total over distinct actions: the order is the file's.
    due.sort_by_key(|d| (d.at_us, d.fault, d.phase));
    due
}
