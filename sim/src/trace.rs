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
    #[cfg(test)]
    const ALL_FOR_TESTS: [Local; 5] = [
        Local::Commit,
        Local::Abort,
        Local::Compensate,
        Local::Prepare,
        Local::Log,
    ];

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

    /// A line writer for this trace's nodes and stores.
    pub fn line_writer(&self) -> LineWriter {
        let names: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
        let stores: Vec<&str> = self.stores.iter().map(|s| s.name.as_str()).collect();
        LineWriter::new(&names, &stores)
    }

    /// Writes the whole trace as JSON Lines: header, then one line per event.
    pub fn write_jsonl(&self, out: &mut dyn io::Write) -> io::Result<()> {
        writeln!(out, "{}", self.header_line())?;
        let lines = self.line_writer();
        let mut buf = Vec::with_capacity(1 << 16);
        for (seq, e) in self.events.iter().enumerate() {
            lines.write(&mut buf, seq as u64, e);
            if buf.len() >= 1 << 15 {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
        out.write_all(&buf)?;
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

/// The reference writer: builds a `serde_json` object per event. Slow (a map and
/// many small allocations per line); kept so tests can prove [`event_line`] writes
/// the very same bytes, since `trace_hash` is defined over them (CONTRACT §4).
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
        EventKind::Limit { what } => {
            m.insert("what".into(), json!(what));
        }
    }
    out.push_str(&Value::Object(m).to_string());
    out.push('\n');
}

/// Writes trace lines (CONTRACT §4) fast: node and store names are escaped once.
///
/// Hand-written for speed (every event of every run goes through it to feed the
/// trace hash, even in counters-only mode); byte for byte what [`event_line_serde`]
/// writes: the same keys in the same order, `serde_json`'s number and string forms.
#[derive(Debug, Clone)]
pub struct LineWriter {
    /// Node names as JSON strings, quotes included.
    names: Vec<Box<[u8]>>,
    /// Store names as JSON strings, quotes included.
    stores: Vec<Box<[u8]>>,
}

/// What an out-of-range node or store index prints as.
const UNKNOWN: &[u8] = b"\"?\"";

fn json_strings<S: AsRef<str>>(names: &[S]) -> Vec<Box<[u8]>> {
    names
        .iter()
        .map(|n| {
            let mut v = Vec::new();
            push_str_json(&mut v, n.as_ref());
            v.into_boxed_slice()
        })
        .collect()
}

/// Appends the JSONL line of event `seq` (with its trailing newline) to `out`.
/// (One-off use; a run keeps a [`LineWriter`].)
pub fn event_line<S: AsRef<str>>(out: &mut String, seq: u64, e: &Event, names: &[S], stores: &[S]) {
    let mut line = Vec::with_capacity(160);
    LineWriter::new(names, stores).write(&mut line, seq, e);
    out.push_str(std::str::from_utf8(&line).expect("the line writer writes UTF-8"));
}

impl LineWriter {
    /// A writer for a run with these node and store names (by index).
    pub fn new<S: AsRef<str>>(names: &[S], stores: &[S]) -> LineWriter {
        LineWriter {
            names: json_strings(names),
            stores: json_strings(stores),
        }
    }

    fn name(&self, ix: NodeIx) -> &[u8] {
        self.names.get(usize::from(ix)).map_or(UNKNOWN, |n| n)
    }

    fn store(&self, ix: u16) -> &[u8] {
        self.stores.get(usize::from(ix)).map_or(UNKNOWN, |n| n)
    }

    /// Appends the JSONL line of event `seq` (with its trailing newline) to `out`.
    pub fn write(&self, out: &mut Vec<u8>, seq: u64, e: &Event) {
        // One capacity check for a typical line instead of one per piece.
        out.reserve(256);
        out.extend_from_slice(b"{\"seq\":");
        push_u64(out, seq);
        out.extend_from_slice(b",\"t_us\":");
        push_u64(out, e.t_us);
        out.extend_from_slice(b",\"node\":");
        out.extend_from_slice(self.name(e.node));
        out.extend_from_slice(b",\"kind\":\"");
        // Kind names are fixed lower-case words: nothing to escape.
        out.extend_from_slice(e.kind.name().as_bytes());
        out.push(b'"');
        match &e.kind {
            EventKind::Send { to, msg } | EventKind::Duplicate { to, msg } => {
                out.extend_from_slice(b",\"to\":");
                out.extend_from_slice(self.name(*to));
                push_msg_fields(out, msg);
            }
            EventKind::Deliver { from, msg } => {
                out.extend_from_slice(b",\"from\":");
                out.extend_from_slice(self.name(*from));
                push_msg_fields(out, msg);
            }
            EventKind::Drop { to, msg, reason } => {
                out.extend_from_slice(b",\"to\":");
                out.extend_from_slice(self.name(*to));
                push_msg_fields(out, msg);
                out.extend_from_slice(b",\"reason\":");
                push_word(out, reason.name());
            }
            EventKind::Timer { timer } => {
                out.extend_from_slice(b",\"timer\":");
                push_u64(out, *timer);
            }
            EventKind::Local {
                store,
                txn,
                step,
                writes,
                ..
            } => {
                out.extend_from_slice(b",\"store\":");
                out.extend_from_slice(self.store(*store));
                if *txn != 0 {
                    out.extend_from_slice(b",\"txn\":");
                    push_u64(out, u64::from(*txn));
                    out.extend_from_slice(b",\"step\":");
                    push_u64(out, u64::from(*step));
                }
                out.extend_from_slice(b",\"writes\":");
                out.push(b'[');
                for (i, w) in writes.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    push_write(out, w);
                }
                out.push(b']');
            }
            EventKind::Reject {
                txn,
                step,
                reason,
                available,
                needed,
            } => {
                txn_step(out, *txn, *step);
                out.extend_from_slice(b",\"reason\":");
                push_word(out, reject_reason_name(*reason));
                out.extend_from_slice(b",\"available\":");
                push_i64(out, *available);
                out.extend_from_slice(b",\"needed\":");
                push_i64(out, *needed);
            }
            EventKind::Vote { txn, step, yes } => {
                txn_step(out, *txn, *step);
                out.extend_from_slice(b",\"yes\":");
                push_bool(out, *yes);
            }
            EventKind::Decide { txn, commit } => {
                out.extend_from_slice(b",\"txn\":");
                push_u64(out, u64::from(*txn));
                out.extend_from_slice(b",\"commit\":");
                push_bool(out, *commit);
            }
            EventKind::Outcome { txn, committed } => {
                out.extend_from_slice(b",\"txn\":");
                push_u64(out, u64::from(*txn));
                out.extend_from_slice(b",\"committed\":");
                push_bool(out, *committed);
            }
            EventKind::Submit { txn } => {
                out.extend_from_slice(b",\"txn\":");
                push_u64(out, u64::from(*txn));
            }
            EventKind::Crash | EventKind::Restart | EventKind::Heal => {}
            EventKind::Partition { groups } => {
                out.extend_from_slice(b",\"groups\":");
                out.push(b'[');
                for (i, g) in groups.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.push(b'[');
                    for (j, n) in g.iter().enumerate() {
                        if j > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(self.name(*n));
                    }
                    out.push(b']');
                }
                out.push(b']');
            }
            EventKind::LossStart { p, link } => {
                out.extend_from_slice(b",\"p\":");
                // Rare: let serde_json format the float (shortest round-trip form).
                out.extend_from_slice(Value::from(*p).to_string().as_bytes());
                self.push_link(out, *link);
            }
            EventKind::LossEnd { link } => self.push_link(out, *link),
            EventKind::Read {
                query,
                txn,
                result,
                latency_us,
            } => {
                out.extend_from_slice(b",\"query\":");
                push_u64(out, u64::from(*query));
                out.extend_from_slice(b",\"txn\":");
                push_u64(out, u64::from(*txn));
                out.extend_from_slice(b",\"result\":");
                match result {
                    crate::read::ReadResult::Complete => push_word(out, "complete"),
                    crate::read::ReadResult::Failed => push_word(out, "failed"),
                    crate::read::ReadResult::Partial { missing } => {
                        out.extend_from_slice(b"{\"partial\":{\"missing\":");
                        push_u64(out, u64::from(*missing));
                        out.extend_from_slice(b"}}");
                    }
                }
                out.extend_from_slice(b",\"latency_us\":");
                push_u64(out, *latency_us);
            }
            EventKind::ViewApplied {
                txn,
                step,
                staleness_us,
            } => {
                txn_step(out, *txn, *step);
                out.extend_from_slice(b",\"staleness_us\":");
                push_u64(out, *staleness_us);
            }
            EventKind::Limit { what } => {
                out.extend_from_slice(b",\"what\":");
                push_str_json(out, what);
            }
        }
        out.extend_from_slice(b"}\n");
    }

    fn push_link(&self, out: &mut Vec<u8>, link: Option<(NodeIx, NodeIx)>) {
        if let Some((a, b)) = link {
            out.extend_from_slice(b",\"link\":");
            out.push(b'[');
            out.extend_from_slice(self.name(a));
            out.push(b',');
            out.extend_from_slice(self.name(b));
            out.push(b']');
        }
    }
}

/// A fixed word (an enum name) as a JSON string; such words need no escaping.
#[inline]
fn push_word(out: &mut Vec<u8>, w: &str) {
    out.push(b'"');
    out.extend_from_slice(w.as_bytes());
    out.push(b'"');
}

fn push_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    // Two digits at a time: half the divisions of the naive loop.
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let pair = usize::try_from(v % 100).unwrap_or(0) * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = usize::try_from(v).unwrap_or(0) * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// A string as `serde_json` writes it: `"` and `\` escaped, control characters as
/// `\b \t \n \f \r` or `\u00xx`, everything else (UTF-8 included) as is.
fn push_str_json(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(esc.as_bytes());
        }
        start = i + 1;
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
    out.push(b'"');
}

fn txn_step(out: &mut Vec<u8>, txn: TxnId, step: StepIx) {
    out.extend_from_slice(b",\"txn\":");
    push_u64(out, u64::from(txn));
    out.extend_from_slice(b",\"step\":");
    push_u64(out, u64::from(step));
}

/// The fields [`msg_fields`] writes, in the same order.
fn push_msg_fields(out: &mut Vec<u8>, msg: &Msg) {
    out.extend_from_slice(b",\"msg\":");
    push_word(out, msg.kind.name());
    out.extend_from_slice(b",\"id\":");
    push_u64(out, u64::from(msg.id));
    if msg.txn != 0 {
        txn_step(out, msg.txn, msg.step);
    }
    out.extend_from_slice(b",\"ok\":");
    push_bool(out, msg.ok);
    if msg.value != 0 {
        out.extend_from_slice(b",\"value\":");
        push_i64(out, msg.value);
    }
    if msg.re != 0 {
        out.extend_from_slice(b",\"re\":");
        push_u64(out, u64::from(msg.re));
    }
    if msg.at_us != 0 {
        out.extend_from_slice(b",\"at_us\":");
        push_u64(out, msg.at_us);
    }
}

fn reject_reason_name(r: RejectReason) -> &'static str {
    match r {
        RejectReason::Rule => "rule",
        RejectReason::Insufficient => "insufficient",
        RejectReason::Tombstone => "tombstone",
        RejectReason::Lock => "lock",
    }
}

/// A `Msg` as its serde derive writes it (every field, declaration order).
fn push_msg_struct(out: &mut Vec<u8>, m: &Msg) {
    out.extend_from_slice(b"{\"id\":");
    push_u64(out, u64::from(m.id));
    out.extend_from_slice(b",\"kind\":");
    push_word(out, m.kind.name());
    out.extend_from_slice(b",\"txn\":");
    push_u64(out, u64::from(m.txn));
    out.extend_from_slice(b",\"step\":");
    push_u64(out, u64::from(m.step));
    out.extend_from_slice(b",\"ok\":");
    push_bool(out, m.ok);
    out.extend_from_slice(b",\"value\":");
    push_i64(out, m.value);
    out.extend_from_slice(b",\"re\":");
    push_u64(out, u64::from(m.re));
    out.extend_from_slice(b",\"at_us\":");
    push_u64(out, m.at_us);
    out.push(b'}');
}

/// A `Write` as its serde derive writes it: `{"op": ..., fields in order}`.
fn push_write(out: &mut Vec<u8>, w: &Write) {
    out.extend_from_slice(b"{\"op\":");
    match *w {
        Write::Take { txn, step, amount } | Write::Hold { txn, step, amount } => {
            push_word(
                out,
                if matches!(w, Write::Take { .. }) {
                    "take"
                } else {
                    "hold"
                },
            );
            txn_step(out, txn, step);
            out.extend_from_slice(b",\"amount\":");
            push_i64(out, amount);
        }
        Write::Apply { txn, step }
        | Write::Release { txn, step }
        | Write::Compensate { txn, step }
        | Write::Tombstone { txn, step } => {
            push_word(
                out,
                match w {
                    Write::Apply { .. } => "apply",
                    Write::Release { .. } => "release",
                    Write::Compensate { .. } => "compensate",
                    _ => "tombstone",
                },
            );
            txn_step(out, txn, step);
        }
        Write::Reject {
            txn,
            step,
            amount,
            reason,
        } => {
            push_word(out, "reject");
            txn_step(out, txn, step);
            out.extend_from_slice(b",\"amount\":");
            push_i64(out, amount);
            out.extend_from_slice(b",\"reason\":");
            push_word(out, reject_reason_name(reason));
        }
        Write::OutboxPut { to, ref msg } => {
            push_word(out, "outbox-put");
            out.extend_from_slice(b",\"to\":");
            push_u64(out, u64::from(to));
            out.extend_from_slice(b",\"msg\":");
            push_msg_struct(out, msg);
        }
        Write::OutboxDone { id } => {
            push_word(out, "outbox-done");
            out.extend_from_slice(b",\"id\":");
            push_u64(out, u64::from(id));
        }
        Write::Seen { key: k } => {
            push_word(out, "seen");
            out.extend_from_slice(b",\"key\":");
            push_u64(out, k);
        }
        Write::Decide { txn, commit } => {
            push_word(out, "decide");
            out.extend_from_slice(b",\"txn\":");
            push_u64(out, u64::from(txn));
            out.extend_from_slice(b",\"commit\":");
            push_bool(out, commit);
        }
        Write::View {
            txn,
            step,
            state,
            version,
        } => {
            push_word(out, "view");
            txn_step(out, txn, step);
            out.extend_from_slice(b",\"state\":");
            push_i64(out, state);
            out.extend_from_slice(b",\"version\":");
            push_u64(out, u64::from(version));
        }
    }
    out.push(b'}');
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

    /// Every kind of event and write, with awkward values, through both writers.
    fn every_kind(rng: &mut rand::rngs::StdRng) -> Vec<EventKind> {
        use crate::msg::MsgKind;
        use crate::read::ReadResult;
        use rand::Rng;
        let mut msg = || Msg {
            id: rng.gen::<u32>() >> rng.gen_range(0..32),
            kind: MsgKind::ALL[rng.gen_range(0..MsgKind::ALL.len())],
            txn: if rng.gen_bool(0.2) { 0 } else { rng.gen() },
            step: rng.gen(),
            ok: rng.gen(),
            value: if rng.gen_bool(0.3) {
                0
            } else {
                rng.gen::<i64>() >> rng.gen_range(0..64)
            },
            re: if rng.gen_bool(0.3) {
                0
            } else {
                rng.gen::<u32>()
            },
            at_us: if rng.gen_bool(0.5) { 0 } else { rng.gen() },
        };
        let m = [msg(), msg(), msg(), msg(), msg()];
        let reasons = [
            RejectReason::Rule,
            RejectReason::Insufficient,
            RejectReason::Tombstone,
            RejectReason::Lock,
        ];
        let writes: Box<[Write]> = vec![
            Write::Take {
                txn: 1,
                step: 2,
                amount: -3,
            },
            Write::Hold {
                txn: u32::MAX,
                step: u16::MAX,
                amount: i64::MIN,
            },
            Write::Apply { txn: 0, step: 0 },
            Write::Release { txn: 5, step: 1 },
            Write::Compensate { txn: 6, step: 2 },
            Write::Tombstone { txn: 7, step: 3 },
            Write::Reject {
                txn: 8,
                step: 4,
                amount: i64::MAX,
                reason: reasons[1],
            },
            Write::OutboxPut { to: 3, msg: m[4] },
            Write::OutboxDone { id: u32::MAX },
            Write::Seen { key: 0 },
            Write::Decide {
                txn: 9,
                commit: false,
            },
            Write::View {
                txn: 10,
                step: 5,
                state: -1,
                version: 3,
            },
        ]
        .into();
        let mut kinds = vec![
            EventKind::Send { to: 1, msg: m[0] },
            EventKind::Deliver { from: 2, msg: m[1] },
            EventKind::Drop {
                to: 3,
                msg: m[2],
                reason: DropReason::Loss,
            },
            EventKind::Drop {
                to: 9,
                msg: m[2],
                reason: DropReason::Partition,
            },
            EventKind::Drop {
                to: 0,
                msg: m[2],
                reason: DropReason::Down,
            },
            EventKind::Duplicate { to: 1, msg: m[3] },
            EventKind::Timer { timer: u64::MAX },
            EventKind::Reject {
                txn: 4,
                step: 1,
                reason: reasons[0],
                available: -5,
                needed: 7,
            },
            EventKind::Reject {
                txn: 4,
                step: 1,
                reason: reasons[2],
                available: 0,
                needed: 0,
            },
            EventKind::Vote {
                txn: 1,
                step: 2,
                yes: true,
            },
            EventKind::Decide {
                txn: 3,
                commit: false,
            },
            EventKind::Outcome {
                txn: 3,
                committed: true,
            },
            EventKind::Submit { txn: 11 },
            EventKind::Crash,
            EventKind::Restart,
            EventKind::Heal,
            EventKind::Partition {
                groups: vec![vec![0, 1].into(), vec![2].into(), vec![].into()].into(),
            },
            EventKind::Partition {
                groups: vec![].into(),
            },
            EventKind::LossStart { p: 0.1, link: None },
            EventKind::LossStart {
                p: 1.0,
                link: Some((1, 200)),
            },
            EventKind::LossStart {
                p: 1e-7,
                link: Some((0, 2)),
            },
            EventKind::LossStart {
                p: f64::NAN,
                link: None,
            },
            EventKind::LossStart {
                p: rng.gen(),
                link: None,
            },
            EventKind::LossEnd { link: None },
            EventKind::LossEnd { link: Some((2, 1)) },
            EventKind::Read {
                query: 1,
                txn: 2,
                result: ReadResult::Complete,
                latency_us: 3,
            },
            EventKind::Read {
                query: 1,
                txn: 2,
                result: ReadResult::Failed,
                latency_us: 0,
            },
            EventKind::Read {
                query: 1,
                txn: 2,
                result: ReadResult::Partial { missing: 2 },
                latency_us: 9,
            },
            EventKind::ViewApplied {
                txn: 1,
                step: 0,
                staleness_us: 12345,
            },
            EventKind::Limit {
                what: "max \"events\" \\ \n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f} é ✓".into(),
            },
        ];
        for what in Local::ALL_FOR_TESTS {
            kinds.push(EventKind::Local {
                what,
                store: 1,
                txn: 0,
                step: 3,
                writes: writes.clone(),
            });
            kinds.push(EventKind::Local {
                what,
                store: 7,
                txn: 42,
                step: 3,
                writes: [].into(),
            });
        }
        kinds
    }

    #[test]
    fn integers_are_written_as_serde_json_writes_them() {
        let mut edge: Vec<u64> = vec![0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, u64::MAX];
        edge.extend((0..64).map(|b| 1u64 << b));
        edge.extend((0..64).map(|b| (1u64 << b) - 1));
        edge.extend((1..20).map(|p| 10u64.pow(p)));
        edge.extend((1..20).map(|p| 10u64.pow(p) - 1));
        for v in edge {
            let mut out = Vec::new();
            push_u64(&mut out, v);
            assert_eq!(out, serde_json::to_vec(&v).unwrap());
            for i in [v as i64, (v as i64).wrapping_neg()] {
                let mut out = Vec::new();
                push_i64(&mut out, i);
                assert_eq!(out, serde_json::to_vec(&i).unwrap());
            }
        }
    }

    #[test]
    fn the_fast_line_writer_writes_the_bytes_serde_json_writes() {
        use rand::SeedableRng;
        let names = ["client", "a\"b", "back\\slash", "ctl\u{1}\n", "ünï", "x"];
        let stores = ["orders", "odd \"store\""];
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        for round in 0..200u64 {
            for (i, kind) in every_kind(&mut rng).into_iter().enumerate() {
                let e = Event {
                    t_us: round * 7919 + i as u64,
                    node: (i % 8) as NodeIx,
                    kind,
                };
                let seq = round * 1_000_003 + i as u64;
                let (mut fast, mut slow) = (String::new(), String::new());
                event_line(&mut fast, seq, &e, &names, &stores);
                event_line_serde(&mut slow, seq, &e, &names, &stores);
                assert_eq!(fast, slow, "{e:?}");
            }
        }
    }
}

#[cfg(test)]
mod size {
    /// An event stays small: the 1 000 000-event traces the TUI explores live in memory
    /// (issue 8's budget is 64 bytes per event, heap included).
    #[test]
    fn an_event_fits_in_56_bytes() {
        assert!(std::mem::size_of::<crate::msg::Msg>() <= 32);
        assert!(std::mem::size_of::<super::Event>() <= 56);
    }
}
