//! The trace: the event log of one run, the single source of truth downstream.
//!
//! Checkers, reports, the TUI and exports read only this. In memory an event is a
//! small fixed-size struct (node indices, not names); `to_jsonl` writes docs/reference/trace-format.md.
//!
//! The event schema is in `event.rs`, the fast line writer in `line.rs`, and the
//! `serde_json` reference it is tested against in `reference.rs`.

mod event;
mod line;
mod reference;

pub use event::{DropReason, Event, EventKind, Local, StopReason, EVENT_KINDS, MSG_EVENT_KINDS};
pub use line::{event_line, LineWriter};
pub use reference::event_line_serde;

use crate::msg::NodeIx;
use crate::scenario::{Scenario, StoreKind};
use crate::store::Snapshot;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io;

/// Version of the trace format (2: keyed randomness; the lines are as in 1).
pub const TRACE_VERSION: u32 = 2;

/// The oldest trace version this sovlab still reads: version 1 lines are the same,
/// only the runs that produced them drew their chance differently.
pub const OLDEST_READABLE_VERSION: u32 = 1;

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

/// Message counters (docs/reference/cli.md `messages`).
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
    /// FNV-1a 64 of the JSONL event lines, as docs/reference/trace-format.md defines.
    pub hash: u64,
    /// Message counters.
    pub counters: Counters,
    /// Virtual time at the end, in microseconds.
    pub end_us: u64,
    /// Why the run stopped.
    pub stop: StopReason,
    /// Each store's content at the end, by store index.
    pub final_stores: Vec<Snapshot>,
    /// The executor that ran it: a seed replays exactly on the same engine.
    #[serde(default)]
    pub engine: crate::exec::Engine,
    /// The cost of every node that has a service time, by node name (the report's
    /// `nodes`; empty when none has).
    #[serde(default)]
    pub costs: crate::report::indexmap_like::OrderedMap<crate::cost::NodeCost>,
    /// The write side's submissions and outcomes, tallied as they happened (the
    /// report's throughput, latency and availability; kept in counters-only runs).
    #[serde(default)]
    pub writes: crate::cost::WriteTally,
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

/// The hash as docs/reference/cli.md prints it.
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
        let mut h = json!({
            "format": "sovlab-trace",
            "version": TRACE_VERSION,
            "sovlab": env!("CARGO_PKG_VERSION"),
            "scenario": self.scenario.name,
            "seed": self.seed,
            "engine": self.engine,
            "nodes": self.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            // The scenario as run, so a saved trace is self-contained: a viewer rebuilds
            // nodes, stores and verdicts from it without the original file.
            "scenario_toml": self.scenario.to_toml(),
            "end_us": self.end_us,
            "stop": self.stop,
        });
        // The node cost measures travel with the trace, so a viewer shows them; only
        // when the run had some, so the header of a run without them is as before.
        if !self.costs.0.is_empty() {
            h["costs"] = serde_json::to_value(&self.costs).expect("plain numbers");
        }
        h.to_string()
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
