//! Which transactions a fault *meets*: the precise reading of "a what-if changes only
//! what its fault touches" (docs/reference/randomness.md, "What a fault touches").
//!
//! Given a run without a fault and the same run with one fault added (same scenario,
//! seed and engine), a transaction **meets** the fault when, in either run, it has an
//! event at or after the fault's start `t0` that the fault can reach:
//!
//! - a **crash** of node X: an event of it at X at or after `t0` (X's volatile state
//!   is lost from then on, restart or not), or a message of it sent to X at or after
//!   `t0` (it may find X down);
//! - a **partition**: a message of it sent between `t0` and the heal (inclusive)
//!   from a node in one group to a node in another (the cut is decided at the send);
//! - a **loss window**: a message of it sent between `t0` and the window's end
//!   (inclusive) on the window's link, either direction, or on any link when the
//!   window has none;
//!
//! and, through **shared state**, when it has an event at or after `t0` at a node
//! where a transaction that meets the fault also has one at or after `t0`, and that
//! node carries state shared between transactions: a service time (one queue and
//! its workers), rows (`keys`: locks), a saga countermeasure (semantic locks, the
//! pessimistic view), the shared database's one lock, units some step ran short of (an `insufficient` rejection
//! there in either run), or the client when its concurrency window is smaller than
//! the transactions (a late outcome delays the next start). This closure is taken to
//! a fixed point.
//!
//! Every other transaction does not meet the fault: the property test asserts that
//! its events (time, node, kind, step) and its outcome are the same in both runs.

use crate::check::Outcome;
use crate::msg::{NodeIx, StepIx, TxnId};
use crate::scenario::{Countermeasure, Fault, Protocol, Scenario};
use crate::store::RejectReason;
use crate::trace::{Event, EventKind, Trace};
use std::collections::BTreeSet;

/// What one event of a transaction looks like for the comparison: time in µs, node,
/// kind name and step.
pub type Footprint = (u64, NodeIx, &'static str, StepIx);

/// The events of `txn` in `trace`, in order, as footprints.
pub fn footprints(trace: &Trace, txn: TxnId) -> Vec<Footprint> {
    trace
        .events
        .iter()
        .filter(|e| e.kind.txn() == Some(txn))
        .map(|e| (e.t_us, e.node, e.kind.name(), step_of(&e.kind)))
        .collect()
}

/// The step an event is about (0 when it names none).
fn step_of(kind: &EventKind) -> StepIx {
    match kind {
        EventKind::Local { step, .. }
        | EventKind::Reject { step, .. }
        | EventKind::Vote { step, .. }
        | EventKind::ViewApplied { step, .. } => *step,
        other => other.msg().map_or(0, |m| m.step),
    }
}

/// The outcome of every transaction, judged from the final stores.
pub fn outcomes(trace: &Trace) -> Vec<(TxnId, Outcome)> {
    crate::check::outcomes(trace)
}

/// How a fault reaches events directly, in node indices of the traces.
enum Reach {
    Crash(NodeIx),
    Partition {
        group: Vec<Option<usize>>,
        end_us: u64,
    },
    Loss {
        link: Option<(NodeIx, NodeIx)>,
        end_us: u64,
    },
}

impl Reach {
    fn of(fault: &Fault, t0: u64, trace: &Trace) -> Reach {
        let ix = |n: &str| trace.node_ix(n).unwrap_or(NodeIx::MAX);
        let end = |abs_ms: Option<u64>| {
            fault
                .for_ms
                .map(|d| t0 + d * 1000)
                .or(abs_ms.map(|m| m * 1000))
                .unwrap_or(u64::MAX)
        };
        if let Some(x) = &fault.crash {
            // The node that went down: a name may be hosted on another node (under the
            // shared database a service's data lives in the database), so take the
            // crash the trace recorded at the fault's start.
            let down = trace
                .events
                .iter()
                .find(|e| e.t_us >= t0 && matches!(e.kind, EventKind::Crash))
                .map_or_else(|| ix(x), |e| e.node);
            Reach::Crash(down)
        } else if fault.partition.is_some() {
            // The groups as the trace recorded them, in the nodes that host the names.
            let mut group = vec![None; trace.nodes.len()];
            let recorded = trace.events.iter().find_map(|e| match &e.kind {
                EventKind::Partition { groups } if e.t_us >= t0 => Some(groups),
                _ => None,
            });
            for (g, nodes) in recorded.into_iter().flatten().enumerate() {
                for &n in nodes.iter() {
                    if let Some(slot) = group.get_mut(usize::from(n)) {
                        *slot = Some(g);
                    }
                }
            }
            Reach::Partition {
                group,
                end_us: end(fault.heal_ms),
            }
        } else {
            let recorded = trace.events.iter().find_map(|e| match e.kind {
                EventKind::LossStart { link, .. } if e.t_us >= t0 => Some(link),
                _ => None,
            });
            Reach::Loss {
                link: recorded
                    .flatten()
                    .or_else(|| fault.link.as_ref().map(|[a, b]| (ix(a), ix(b)))),
                end_us: end(fault.until_ms),
            }
        }
    }

    /// Can the fault reach event `e` (at or after `t0`, checked by the caller)?
    fn reaches(&self, e: &Event) -> bool {
        let sent_to = match &e.kind {
            EventKind::Send { to, .. }
            | EventKind::Drop { to, .. }
            | EventKind::Duplicate { to, .. } => Some(*to),
            _ => None,
        };
        match self {
            Reach::Crash(x) => e.node == *x || sent_to == Some(*x),
            Reach::Partition { group, end_us } => sent_to.is_some_and(|to| {
                let g = |n: NodeIx| group.get(usize::from(n)).copied().flatten();
                e.t_us <= *end_us && matches!((g(e.node), g(to)), (Some(a), Some(b)) if a != b)
            }),
            Reach::Loss { link, end_us } => sent_to.is_some_and(|to| {
                e.t_us <= *end_us
                    && link.is_none_or(|(a, b)| (e.node, to) == (a, b) || (e.node, to) == (b, a))
            }),
        }
    }
}

/// The nodes of `trace` that carry state shared between transactions (see the
/// module doc), given both runs' traces for the `insufficient` rejections.
fn shared_nodes(scenario: &Scenario, runs: [&Trace; 2]) -> BTreeSet<NodeIx> {
    let trace = runs[0];
    let mut out = BTreeSet::new();
    let mut add = |name: &str| {
        if let Some(i) = trace.node_ix(name) {
            out.insert(i);
        }
    };
    for s in &scenario.services {
        if s.service_time_ms > 0.0 || s.keys.is_some() {
            add(&s.name);
        }
    }
    for (name, serving) in &scenario.nodes {
        if serving.service_time_ms > 0.0 {
            add(name);
        }
    }
    if let Some(w) = &scenario.write {
        if w.countermeasure != Countermeasure::None {
            for s in &scenario.services {
                add(&s.name);
            }
        }
        if w.arrival_rate_per_s.is_none() && w.concurrency < w.transactions {
            add("client");
        }
        if w.protocol == Protocol::SharedDatabase {
            // One lock serializes every transaction's statements.
            add(crate::scenario::DATABASE);
        }
    }
    for (name, _) in &trace.costs.0 {
        add(name);
    }
    for t in runs {
        for e in &t.events {
            if let EventKind::Reject {
                reason: RejectReason::Insufficient,
                ..
            } = e.kind
            {
                out.insert(e.node);
            }
        }
    }
    out
}

/// The transactions that meet `fault` (started at `t0_us`), given the run without it
/// (`base`) and with it (`faulted`) of `scenario` (either one: they differ only in
/// the fault). Both traces must come from the same scenario, seed and engine.
pub fn meeting(
    scenario: &Scenario,
    fault: &Fault,
    t0_us: u64,
    base: &Trace,
    faulted: &Trace,
) -> BTreeSet<TxnId> {
    let reach = Reach::of(fault, t0_us, faulted);
    let runs = [base, faulted];
    let late = |e: &&Event| e.t_us >= t0_us;
    let mut met: BTreeSet<TxnId> = runs
        .iter()
        .flat_map(|t| t.events.iter())
        .filter(late)
        .filter(|e| reach.reaches(e))
        .filter_map(|e| e.kind.txn())
        .collect();
    let shared = shared_nodes(scenario, runs);
    // Who is at each shared node at or after t0, in either run.
    let at_node: Vec<(NodeIx, BTreeSet<TxnId>)> = shared
        .iter()
        .map(|&n| {
            let txns = runs
                .iter()
                .flat_map(|t| t.events.iter())
                .filter(late)
                .filter(|e| e.node == n)
                .filter_map(|e| e.kind.txn())
                .collect();
            (n, txns)
        })
        .collect();
    loop {
        let before = met.len();
        for (_, txns) in &at_node {
            if txns.iter().any(|t| met.contains(t)) {
                met.extend(txns.iter().copied());
            }
        }
        if met.len() == before {
            return met;
        }
    }
}

/// The fault's start in µs: `at_ms`, or for a triggered fault the time of its first
/// event in `faulted` (a crash, partition or loss window opening after every
/// earlier fault event). `None`: a trigger that never fired.
pub fn start_us(fault: &Fault, faulted: &Trace) -> Option<u64> {
    if fault.after.is_none() {
        return Some(fault.at_ms * 1000);
    }
    let node = fault.crash.as_deref().and_then(|n| faulted.node_ix(n));
    faulted
        .events
        .iter()
        .find(|e| match (&e.kind, node) {
            (EventKind::Crash, Some(n)) => e.node == n,
            (EventKind::Partition { .. }, None) => fault.partition.is_some(),
            (EventKind::LossStart { .. }, None) => fault.loss.is_some(),
            _ => false,
        })
        .map(|e| e.t_us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture::Fixture;
    use crate::{run_with, Engine, RunOptions};

    fn two_pc() -> Scenario {
        Fixture::new("two-phase-commit")
            .head("duration_ms = 3000")
            .services(&["orders", "payments"])
            .set("transactions", 10)
            .set("concurrency", 10)
            .set("interval_ms", 20)
            .set("timeout_ms", 40)
            .scenario()
    }

    fn runs(s: &Scenario, f: &Fault) -> (Trace, Trace) {
        let opts = RunOptions::default().on(Engine::Des);
        let mut with = s.clone();
        with.faults.push(f.clone());
        (run_with(s, 3, opts).trace, run_with(&with, 3, opts).trace)
    }

    /// The definition is not too wide to say anything: a transaction it calls
    /// touched really does change (the crash hits a transaction mid-flight), and
    /// one that finished before the crash is untouched and unchanged.
    #[test]
    fn a_transaction_called_touched_really_changes() {
        let s = two_pc();
        let crash = Fault {
            at_ms: 100,
            crash: Some("payments".into()),
            ..Fault::default()
        };
        let (base, faulted) = runs(&s, &crash);
        let met = meeting(&s, &crash, 100_000, &base, &faulted);
        let changed: Vec<TxnId> = met
            .iter()
            .copied()
            .filter(|&t| footprints(&base, t) != footprints(&faulted, t))
            .collect();
        assert!(!changed.is_empty(), "met {met:?}, none changed");
        let (ob, of) = (outcomes(&base), outcomes(&faulted));
        assert!(
            met.iter()
                .any(|t| ob[*t as usize - 1] != of[*t as usize - 1]),
            "a met transaction's outcome changes (it blocks without payments)"
        );
        assert!(
            met.len() < 10,
            "the early transactions do not meet it: {met:?}"
        );
        for t in (1..=10).filter(|t| !met.contains(t)) {
            assert_eq!(footprints(&base, t), footprints(&faulted, t), "txn {t}");
        }
    }

    /// Without the shared-state closure the definition would be wrong: with one unit
    /// of stock, a transaction the crash never reaches can still change, because a
    /// crashed one holds (or frees) the unit it would have taken.
    #[test]
    fn shared_units_carry_a_fault_to_transactions_it_never_reaches() {
        let mut s = two_pc();
        s.services[1].capacity = 3;
        // The coordinator cannot reach orders for the first three transactions: they
        // time out and abort, leaving payments' three units to later ones.
        let crash = Fault {
            at_ms: 0,
            loss: Some(1.0),
            until_ms: Some(50),
            link: Some(["coordinator".into(), "orders".into()]),
            ..Fault::default()
        };
        let (base, faulted) = runs(&s, &crash);
        let reach = Reach::of(&crash, 0, &faulted);
        let direct: BTreeSet<TxnId> = [&base, &faulted]
            .iter()
            .flat_map(|t| t.events.iter())
            .filter(|e| reach.reaches(e))
            .filter_map(|e| e.kind.txn())
            .collect();
        let met = meeting(&s, &crash, 0, &base, &faulted);
        let via_shared: Vec<TxnId> = met.difference(&direct).copied().collect();
        assert!(
            via_shared
                .iter()
                .any(|&t| footprints(&base, t) != footprints(&faulted, t)),
            "direct {direct:?}, met {met:?}: some transaction reached only through \
             payments' units changes"
        );
    }
}
