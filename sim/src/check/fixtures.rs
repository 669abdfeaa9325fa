//! Hand-made traces for the checkers' unit tests: a scenario, a list of events, and
//! final stores that are the replay of those events' local transactions.

use crate::msg::NodeIx;
use crate::scenario::Scenario;
use crate::store::{Snapshot, Write};
use crate::testing::fixture::Fixture;
use crate::trace::{Counters, Event, EventKind, Local, StopReason, Trace};

/// Two services under two-phase commit, one transaction: the checkers' 2PC fixture.
pub fn two_pc() -> String {
    Fixture::new("two-phase-commit")
        .services(&["orders", "payments"])
        .set("transactions", 1)
        .toml()
}

/// A trace of scenario `text` with `events` in order, each at node 1.
pub fn trace_of(text: &str, events: Vec<EventKind>) -> Trace {
    trace_at(text, events.into_iter().map(|e| (1, e)).collect())
}

/// A trace of scenario `text` with `events` (node, what) in order; its final stores are
/// the replay of its local transactions.
pub fn trace_at(text: &str, events: Vec<(NodeIx, EventKind)>) -> Trace {
    let s = Scenario::parse(text, "t.toml").unwrap();
    let l = crate::patterns::layout(&s);
    let mut finals: Vec<Snapshot> = l.stores.iter().map(|s| Snapshot::new(s.capacity)).collect();
    for (_, e) in &events {
        if let EventKind::Local { store, writes, .. } = e {
            for w in writes.iter() {
                finals[usize::from(*store)].apply(w);
            }
        }
    }
    let mut t = Trace {
        engine: crate::Engine::Madsim,
        scenario: s,
        seed: 0,
        nodes: l.nodes,
        stores: l.stores,
        event_count: events.len() as u64,
        events: events
            .into_iter()
            .map(|(node, kind)| Event {
                t_us: 0,
                node,
                kind,
            })
            .collect(),
        hash: 0,
        counters: Counters::default(),
        end_us: 0,
        stop: StopReason::Quiescent,
        final_stores: finals,
        costs: Default::default(),
        writes: Default::default(),
    };
    t.writes = crate::cost::WriteTally::of_events(&t.events);
    t
}

/// A local transaction of one write on store `store`.
pub fn local(store: u16, w: Write) -> EventKind {
    local_of(store, vec![w])
}

/// A local transaction of `writes` on store `store`, about the first write's step.
pub fn local_of(store: u16, writes: Vec<Write>) -> EventKind {
    let (txn, step) = match writes.first() {
        Some(
            &(Write::Take { txn, step, .. }
            | Write::Hold { txn, step, .. }
            | Write::Apply { txn, step }
            | Write::Release { txn, step }
            | Write::Compensate { txn, step }
            | Write::Tombstone { txn, step }
            | Write::Reject { txn, step, .. }
            | Write::View { txn, step, .. }),
        ) => (txn, step),
        _ => (0, 0),
    };
    EventKind::Local {
        what: Local::Commit,
        store,
        txn,
        step,
        writes: writes.into(),
    }
}

/// A take of `amount` units by `txn`'s step `step`.
pub fn take(txn: u32, step: u16, amount: i64) -> Write {
    Write::Take { txn, step, amount }
}
