//! The reference line writer, over `serde_json`: slow, and the definition the fast
//! writer in `line.rs` is tested against.

use super::event::{Event, EventKind};
use crate::msg::{Msg, NodeIx};
use serde_json::{json, Map, Value};

fn msg_fields(m: &mut Map<String, Value>, msg: &Msg) {
    m.insert("msg".into(), json!(msg.kind.name()));
    m.insert("id".into(), json!(msg.id));
    if msg.txn != 0 {
        m.insert("txn".into(), json!(msg.txn));
        m.insert("step".into(), json!(msg.step));
    }
    m.insert("ok".into(), json!(msg.ok));
    if msg.value != 0 {
        m.insert("value".into(), json!(msg.value));
    }
    if msg.re != 0 {
        m.insert("re".into(), json!(msg.re));
    }
    if msg.at_us != 0 {
        m.insert("at_us".into(), json!(msg.at_us));
    }
}

/// The reference writer: builds a `serde_json` object per event. Slow (a map and
/// many small allocations per line); kept so tests can prove [`super::event_line`] writes
/// the very same bytes, since `trace_hash` is defined over them (docs/reference/trace-format.md).
#[doc(hidden)]
pub fn event_line_serde<S: AsRef<str>>(
    out: &mut String,
    seq: u64,
    e: &Event,
    names: &[S],
    stores: &[S],
) {
    let name = |ix: NodeIx| names.get(usize::from(ix)).map_or("?", |s| s.as_ref());
    let mut m = Map::new();
    m.insert("seq".into(), json!(seq));
    m.insert("t_us".into(), json!(e.t_us));
    m.insert("node".into(), json!(name(e.node)));
    m.insert("kind".into(), json!(e.kind.name()));
    match &e.kind {
        EventKind::Send { to, msg } | EventKind::Duplicate { to, msg } => {
            m.insert("to".into(), json!(name(*to)));
            msg_fields(&mut m, msg);
        }
        EventKind::Deliver { from, msg } => {
            m.insert("from".into(), json!(name(*from)));
            msg_fields(&mut m, msg);
        }
        EventKind::Drop { to, msg, reason } => {
            m.insert("to".into(), json!(name(*to)));
            msg_fields(&mut m, msg);
            m.insert("reason".into(), json!(reason.name()));
        }
        EventKind::Timer { timer } => {
            m.insert("timer".into(), json!(timer));
        }
        EventKind::Local {
            store,
            txn,
            step,
            writes,
            ..
        } => {
            let store = stores.get(usize::from(*store)).map_or("?", |s| s.as_ref());
            m.insert("store".into(), json!(store));
            if *txn != 0 {
                m.insert("txn".into(), json!(txn));
                m.insert("step".into(), json!(step));
            }
            m.insert("writes".into(), json!(writes));
        }
        EventKind::Reject {
            txn,
            step,
            reason,
            available,
            needed,
        } => {
            m.insert("txn".into(), json!(txn));
            m.insert("step".into(), json!(step));
            m.insert("reason".into(), json!(reason));
            m.insert("available".into(), json!(available));
            m.insert("needed".into(), json!(needed));
        }
        EventKind::Vote { txn, step, yes } => {
            m.insert("txn".into(), json!(txn));
            m.insert("step".into(), json!(step));
            m.insert("yes".into(), json!(yes));
        }
        EventKind::Decide { txn, commit } => {
            m.insert("txn".into(), json!(txn));
            m.insert("commit".into(), json!(commit));
        }
        EventKind::Outcome { txn, committed } => {
            m.insert("txn".into(), json!(txn));
            m.insert("committed".into(), json!(committed));
        }
        EventKind::Submit { txn } => {
            m.insert("txn".into(), json!(txn));
        }
        EventKind::Crash | EventKind::Restart | EventKind::Heal => {}
        EventKind::Partition { groups } => {
            let g: Vec<Vec<&str>> = groups
                .iter()
                .map(|g| g.iter().map(|n| name(*n)).collect())
                .collect();
            m.insert("groups".into(), json!(g));
        }
        EventKind::LossStart { p, link } => {
            m.insert("p".into(), json!(p));
            if let Some((a, b)) = link {
                m.insert("link".into(), json!([name(*a), name(*b)]));
            }
        }
        EventKind::LossEnd { link } => {
            if let Some((a, b)) = link {
                m.insert("link".into(), json!([name(*a), name(*b)]));
            }
        }
        EventKind::Read {
            query,
            txn,
            result,
            latency_us,
        } => {
            m.insert("query".into(), json!(query));
            m.insert("txn".into(), json!(txn));
            m.insert("result".into(), json!(result));
            m.insert("latency_us".into(), json!(latency_us));
        }
        EventKind::ViewApplied {
            txn,
            step,
            staleness_us,
        } => {
            m.insert("txn".into(), json!(txn));
            m.insert("step".into(), json!(step));
            m.insert("staleness_us".into(), json!(staleness_us));
        }
        EventKind::LockWait { txn, step, row } => {
            m.insert("txn".into(), json!(txn));
            m.insert("step".into(), json!(step));
            m.insert("row".into(), json!(row));
        }
        EventKind::Lock {
            txn,
            step,
            row,
            waited_us,
            got,
        } => {
            m.insert("txn".into(), json!(txn));
            m.insert("step".into(), json!(step));
            m.insert("row".into(), json!(row));
            m.insert("waited_us".into(), json!(waited_us));
            m.insert("got".into(), json!(got));
        }
        EventKind::Limit { what } => {
            m.insert("what".into(), json!(what));
        }
        EventKind::Relay { txn, step, offset } => {
            m.insert("txn".into(), json!(txn));
            m.insert("step".into(), json!(step));
            m.insert("offset".into(), json!(offset));
        }
    }
    out.push_str(&Value::Object(m).to_string());
    out.push('\n');
}
