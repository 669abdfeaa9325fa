//! The trace: the event log of one run, the single source of truth downstream.
//!
//! Checkers, reports, the TUI and exports read only this. In memory an event is a
//! small fixed-size struct (node indices, not names); `to_jsonl` writes CONTRACT §4.

use crate::msg::{Msg, NodeIx, StepIx, TxnId};
use crate::scenario::{Scenario, StoreKind};
use crate::store::{RejectReason, Snapshot, Write};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::io;

/// Version of the trace format.
pub const TRACE_VERSION: u32 = 1;

/// What a node is in the simulated system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Submits business transactions and queries; never faulted.
    Client,
    /// A service with its own store.
    Service,
    /// Orchestrator, 2PC coordinator or shared-database app.
    Coordinator,
    /// The shared database.
    Database,
    /// The API-composition gateway.
    Gateway,
    /// A CQRS read view.
    View,
}

/// A node of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its name (services keep their scenario name).
    pub name: String,
    /// What it is. A service that also coordinates keeps `Service`.
    pub role: Role,
}

/// A store of the run (one per service, plus coordinator / database / view stores).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// The store's name: the service's, or the node's for system stores.
    pub name: String,
    /// The node it lives on.
    pub node: NodeIx,
    /// Its kind.
    pub kind: StoreKind,
    /// Initial units.
    pub capacity: i64,
    /// The service whose data it holds, as an index into `scenario.services`.
    pub service: Option<usize>,
}

/// Why a message was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// Random loss (the network's `loss` or a loss window).
    Loss,
    /// Sender and receiver were in different partition groups.
    Partition,
    /// The receiver was down when the message arrived.
    Down,
}

impl DropReason {
    /// Name used in traces.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::Down => "down",
        }
    }
}

/// What a local transaction meant, in the protocol's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Local {
    /// A step applied (or any other local commit).
    Commit,
    /// A step refused; the writes record the refusal.
    Abort,
    /// A compensation.
    Compensate,
    /// A 2PC prepare that held units.
    Prepare,
    /// A durable decision or bookkeeping (outbox relay, log).
    Log,
}

impl Local {
    /// The event kind name.
    pub fn name(self) -> &'static str {
        match self {
            Local::Commit => "commit",
            Local::Abort => "abort",
            Local::Compensate => "compensate",
            Local::Prepare => "prepare",
            Local::Log => "log",
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventKind {
    /// `node` sent `msg` to `to`.
    Send { to: NodeIx, msg: Msg },
    /// `node` received `msg` from `from`.
    Deliver { from: NodeIx, msg: Msg },
    /// A message from `node` to `to` was lost.
    Drop {
        to: NodeIx,
        msg: Msg,
        reason: DropReason,
    },
    /// The network will deliver a second copy of a message from `node` to `to`.
    Duplicate { to: NodeIx, msg: Msg },
    /// A timer of `node` fired.
    Timer { timer: u64 },
    /// A local transaction committed on store `store` (index into `Trace::stores`).
    Local {
        what: Local,
        store: u16,
        txn: TxnId,
        step: StepIx,
        writes: Box<[Write]>,
    },
    /// A step was refused without a write (e.g. a non-idempotent service refusing
    /// nothing is recorded as a write; this is for the record's sake).
    Reject {
        txn: TxnId,
        step: StepIx,
        reason: RejectReason,
        available: i64,
        needed: i64,
    },
    /// A 2PC participant voted.
    Vote { txn: TxnId, step: StepIx, yes: bool },
    /// A coordinator decided.
    Decide { txn: TxnId, commit: bool },
    /// The client learned the outcome of `txn` (what the system told it).
    Outcome { txn: TxnId, committed: bool },
    /// The client submitted `txn`.
    Submit { txn: TxnId },
    /// `node` crashed.
    Crash,
    /// `node` restarted.
    Restart,
    /// The network split into groups (node indices).
    Partition { groups: Box<[Box<[NodeIx]>]> },
    /// Every partition healed.
    Heal,
    /// A loss window opened, on every link or on one.
    LossStart {
        p: f64,
        link: Option<(NodeIx, NodeIx)>,
    },
    /// A loss window closed.
    LossEnd { link: Option<(NodeIx, NodeIx)> },
    /// A read finished (`read` module).
    Read {
        query: u32,
        txn: TxnId,
        result: crate::read::ReadResult,
        latency_us: u64,
    },
    /// A read view reflected a source change, `staleness_us` after the source commit.
    ViewApplied {
        txn: TxnId,
        step: StepIx,
        staleness_us: u64,
    },
    /// The run stopped early because a limit was reached.
    Limit { what: String },
}

impl EventKind {
    /// The `kind` field of the trace line.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Send { .. } => "send",
            EventKind::Deliver { .. } => "deliver",
            EventKind::Drop { .. } => "drop",
            EventKind::Duplicate { .. } => "duplicate",
            EventKind::Timer { .. } => "timer",
            EventKind::Local { what, .. } => what.name(),
            EventKind::Reject { .. } => "reject",
            EventKind::Vote { .. } => "vote",
            EventKind::Decide { .. } => "decide",
            EventKind::Outcome { .. } => "outcome",
            EventKind::Submit { .. } => "submit",
            EventKind::Crash => "crash",
            EventKind::Restart => "restart",
            EventKind::Partition { .. } => "partition",
            EventKind::Heal => "heal",
            EventKind::LossStart { .. } => "loss-start",
            EventKind::LossEnd { .. } => "loss-end",
            EventKind::Read { .. } => "read",
            EventKind::ViewApplied { .. } => "view-applied",
            EventKind::Limit { .. } => "limit",
        }
    }

    /// Is this a fault (crash, restart, partition, heal, loss window)?
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            EventKind::Crash
                | EventKind::Restart
                | EventKind::Partition { .. }
                | EventKind::Heal
                | EventKind::LossStart { .. }
                | EventKind::LossEnd { .. }
        )
    }
}

/// One event: when, where, what. Its `seq` is its index in `Trace::events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Virtual time in microseconds since the start of the run.
    pub t_us: u64,
    /// The node where it happened (for a drop or duplicate: the sender).
    pub node: NodeIx,
    /// What happened.
    pub kind: EventKind,
}

/// Why the run stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// Every transaction and query finished and nothing was in flight.
    Quiescent,
    /// `duration_ms` was reached.
    Duration,
    /// A `[limits]` bound was reached; the text says which.
    Limit(String),
}

/// Message counters (CONTRACT §3 `messages`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Messages sent (each resend counts).
    pub sent: u64,
    /// Messages delivered (each copy counts).
    pub delivered: u64,
    /// Messages lost (loss, partition, receiver down).
    pub dropped: u64,
    /// Extra copies made by the network.
    pub duplicated: u64,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The scenario, as run (after CLI overrides).
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    /// The nodes, by index.
    pub nodes: Vec<NodeInfo>,
    /// The stores, by index.
    pub stores: Vec<StoreInfo>,
    /// The events in order. Empty when the run was counters-only.
    pub events: Vec<Event>,
    /// How many events happened (equal to `events.len()` unless counters-only).
    pub event_count: u64,
    /// FNV-1a 64 of the JSONL event lines, as CONTRACT §4 defines.
    pub hash: u64,
    /// Message counters.
    pub counters: Counters,
    /// Virtual time at the end, in microseconds.
    pub end_us: u64,
    /// Why the run stopped.
    pub stop: StopReason,
    /// Each store's content at the end, by store index.
    pub final_stores: Vec<Snapshot>,
}

/// FNV-1a 64-bit, fed incrementally.
#[derive(Debug, Clone, Copy)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    /// Feeds bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// The hash as CONTRACT §3 prints it.
pub fn hash_hex(hash: u64) -> String {
    format!("{hash:016x}")
}

impl Trace {
    /// `trace_hash` as 16 hex digits.
    pub fn hash_hex(&self) -> String {
        hash_hex(self.hash)
    }

    /// Name of node `ix`.
    pub fn node_name(&self, ix: NodeIx) -> &str {
        self.nodes
            .get(usize::from(ix))
            .map_or("?", |n| n.name.as_str())
    }

    /// Index of the node named `name`.
    pub fn node_ix(&self, name: &str) -> Option<NodeIx> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| i as NodeIx)
    }

    /// The header line of the JSONL trace.
    pub fn header_line(&self) -> String {
        json!({
            "format": "sovlab-trace",
            "version": TRACE_VERSION,
            "sovlab": env!("CARGO_PKG_VERSION"),
            "scenario": self.scenario.name,
            "seed": self.seed,
            "nodes": self.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            // The scenario as run, so a saved trace is self-contained: a viewer rebuilds
            // nodes, stores and verdicts from it without the original file.
            "scenario_toml": self.scenario.to_toml(),
            "end_us": self.end_us,
            "stop": self.stop,
        })
        .to_string()
    }

    /// Writes the whole trace as JSON Lines: header, then one line per event.
    pub fn write_jsonl(&self, out: &mut dyn io::Write) -> io::Result<()> {
        writeln!(out, "{}", self.header_line())?;
        let names: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
        let stores: Vec<&str> = self.stores.iter().map(|s| s.name.as_str()).collect();
        let mut line = String::new();
        for (seq, e) in self.events.iter().enumerate() {
            line.clear();
            event_line(&mut line, seq as u64, e, &names, &stores);
            out.write_all(line.as_bytes())?;
        }
        Ok(())
    }
}

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

/// Appends the JSONL line of event `seq` (with its trailing newline) to `out`.
pub fn event_line<S: AsRef<str>>(out: &mut String, seq: u64, e: &Event, names: &[S], stores: &[S]) {
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
        EventKind::Limit { what } => {
            m.insert("what".into(), json!(what));
        }
    }
    out.push_str(&Value::Object(m).to_string());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        let mut h = Fnv64::default();
        assert_eq!(h.finish(), 0xcbf29ce484222325);
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63dc4c8601ec8c);
        let mut h = Fnv64::default();
        h.write(b"foobar");
        assert_eq!(h.finish(), 0x85944171f73967e8);
    }
}
