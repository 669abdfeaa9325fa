//! Events and messages in words, for the diagram, the detail line and the inspector.

use sovlab_sim::msg::{Msg, MsgKind, TxnId};
use sovlab_sim::read::ReadResult;
use sovlab_sim::trace::{Event, EventKind, Trace};

/// A message in a few characters: its kind, transaction and step.
pub fn msg_label(m: &Msg) -> String {
    // A query is a read: it carries the read's number, and every screen calls it by it.
    let mut s = match m.kind {
        MsgKind::Query => read_label(m.value as u32),
        _ => m.kind.name().to_string(),
    };
    if m.txn != 0 {
        s.push_str(&format!(" t{}", m.txn));
        if matches!(
            m.kind,
            MsgKind::Do | MsgKind::Done | MsgKind::Undo | MsgKind::Undone | MsgKind::Event
        ) || matches!(
            m.kind,
            MsgKind::Prepare
                | MsgKind::Vote
                | MsgKind::Change
                | MsgKind::Try
                | MsgKind::Tried
                | MsgKind::Confirm
                | MsgKind::Cancel
        ) {
            s.push_str(&format!(".{}", m.step));
        }
    }
    match m.kind {
        MsgKind::Done
        | MsgKind::Vote
        | MsgKind::Decide
        | MsgKind::Finished
        | MsgKind::Event
        | MsgKind::Tried => {
            s.push_str(if m.ok { " ok" } else { " no" });
        }
        _ => {}
    }
    s
}

/// The business transaction an event is about, if any (0 names none).
pub fn event_txn(e: &Event) -> Option<TxnId> {
    e.kind.txn().filter(|&t| t != 0)
}

/// One event in words: who did what, to whom.
pub fn describe(trace: &Trace, e: &Event) -> String {
    let n = |ix| trace.node_name(ix).to_string();
    let me = n(e.node);
    match &e.kind {
        EventKind::Send { to, msg } => format!("{me} sends {} to {}", msg_label(msg), n(*to)),
        EventKind::Deliver { from, msg } => {
            format!("{me} receives {} from {}", msg_label(msg), n(*from))
        }
        EventKind::Drop { to, msg, reason } => format!(
            "{} from {me} to {} is lost ({})",
            msg_label(msg),
            n(*to),
            match reason.name() {
                "down" => "receiver down",
                other => other,
            }
        ),
        EventKind::Duplicate { to, msg } => {
            format!(
                "the network duplicates {} from {me} to {}",
                msg_label(msg),
                n(*to)
            )
        }
        EventKind::Timer { .. } => format!("a timer of {me} fires"),
        EventKind::Local {
            what,
            store,
            txn,
            step,
            writes,
        } => {
            let store = trace
                .stores
                .get(usize::from(*store))
                .map_or("?", |s| s.name.as_str());
            let about = if *txn != 0 {
                format!(" txn {txn} step {step}")
            } else {
                String::new()
            };
            format!(
                "{me}: {}{about} on store {store} ({} write{})",
                what.name(),
                writes.len(),
                if writes.len() == 1 { "" } else { "s" }
            )
        }
        EventKind::Reject {
            txn,
            step,
            available,
            needed,
            ..
        } => format!("{me} refuses txn {txn} step {step} (needs {needed}, {available} left)"),
        EventKind::Vote { txn, step, yes } => {
            format!(
                "{me} votes {} on txn {txn} step {step}",
                if *yes { "yes" } else { "no" }
            )
        }
        EventKind::Decide { txn, commit } => {
            format!(
                "{me} decides {} for txn {txn}",
                if *commit { "commit" } else { "abort" }
            )
        }
        EventKind::Outcome { txn, committed } => format!(
            "{me} learns txn {txn} {}",
            if *committed { "committed" } else { "aborted" }
        ),
        EventKind::Submit { txn } => format!("{me} submits txn {txn}"),
        EventKind::Crash => format!("{me} CRASHES"),
        EventKind::Restart => format!("{me} restarts"),
        EventKind::Partition { groups } => {
            let g: Vec<String> = groups
                .iter()
                .map(|g| g.iter().map(|i| n(*i)).collect::<Vec<_>>().join(", "))
                .collect();
            format!("the network splits: {{{}}}", g.join("} | {"))
        }
        EventKind::Heal => "every partition heals".to_string(),
        EventKind::LossStart { p, link } => match link {
            Some((a, b)) => format!("loss window {:.0}% on {} <-> {}", p * 100.0, n(*a), n(*b)),
            None => format!("loss window {:.0}% on every link", p * 100.0),
        },
        EventKind::LossEnd { .. } => "a loss window closes".to_string(),
        EventKind::Read {
            query, txn, result, ..
        } => format!(
            "{me} finishes {} about txn {txn}: {}",
            read_label(*query),
            read_result(result)
        ),
        EventKind::ViewApplied { txn, step, .. } => {
            format!("{me} reflects txn {txn} step {step}")
        }
        EventKind::LockWait { txn, step, row } => {
            format!(
                "{me}: txn {txn} step {step} waits for row {row}, locked by another transaction"
            )
        }
        EventKind::Lock {
            txn,
            step,
            row,
            waited_us,
            got,
        } => {
            let waited = waited_us / 1000;
            if *got {
                format!("{me}: txn {txn} step {step} locks row {row} (waited {waited} ms)")
            } else {
                format!("{me}: txn {txn} step {step} stops waiting for row {row} after {waited} ms")
            }
        }
        EventKind::Limit { what } => format!("the run stops: {what}"),
        EventKind::Relay { txn, step, offset } => {
            format!("{me}'s relay publishes event #{offset} of its log (txn {txn} step {step})")
        }
    }
}

/// What every screen calls read number `query`: "read 7" (a query message in the
/// diagram is labelled by the transaction it asks about, `query t3`).
pub fn read_label(query: u32) -> String {
    format!("read {query}")
}

/// A read's result in words.
pub fn read_result(r: &ReadResult) -> String {
    match r {
        ReadResult::Complete => "complete".to_string(),
        ReadResult::Partial { missing } => format!(
            "partial ({missing} source{} missing)",
            if *missing == 1 { "" } else { "s" }
        ),
        ReadResult::Failed => "failed (no source answered)".to_string(),
    }
}

/// Virtual microseconds as milliseconds with one decimal.
pub fn ms(t_us: u64) -> String {
    format!("{}.{}", t_us / 1000, (t_us % 1000) / 100)
}
