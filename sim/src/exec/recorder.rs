//! The recorder: every event of a run goes through it, into the trace hash, the
//! counters-only tally and (unless a sweep asked not to) the kept event list.

use crate::msg::NodeIx;
use crate::patterns::Layout;
use crate::trace::{Event, EventKind, Fnv64, LineWriter, StopReason};

/// Records events as they happen and enforces `[limits] max_events`.
pub struct Recorder {
    events: Vec<Event>,
    keep_events: bool,
    /// Keep only the events the judging code reads (a sweep), not every one.
    only_needed: Option<crate::check::Needed>,
    /// Write each event's JSON line and hash it (off for sweeps, which show no hash).
    hashing: bool,
    count: u64,
    hash: Fnv64,
    lines: LineWriter,
    line: Vec<u8>,
    max_events: u64,
    /// The write side's submissions and outcomes, tallied whether events are kept.
    pub(crate) writes: crate::cost::WriteTally,
    /// Boxes of writes of events not kept, for the next commits to reuse.
    pub(crate) spare: crate::store::SpareWrites,
    /// Set once the run must stop (the limit here; quiescence or duration by the system).
    pub(crate) stop: Option<StopReason>,
}

impl Recorder {
    /// A recorder for the nodes and stores of `layout`.
    pub fn new(layout: &Layout, max_events: u64, keep_events: bool) -> Recorder {
        Recorder {
            events: Vec::new(),
            keep_events,
            only_needed: None,
            spare: crate::store::SpareWrites::default(),
            hashing: true,
            count: 0,
            hash: Fnv64::default(),
            lines: LineWriter::new(&layout.node_names, &layout.store_names),
            line: Vec::with_capacity(256),
            max_events,
            writes: Default::default(),
            stop: None,
        }
    }

    /// Records that `kind` happened at `node` at `t_us`.
    pub fn record(&mut self, t_us: u64, node: NodeIx, kind: EventKind) {
        let e = Event { t_us, node, kind };
        // Every event feeds the hash, kept or not, unless hashing is off: a
        // counters-only run's seed replays to the same `trace_hash` a full run prints.
        if self.hashing {
            self.line.clear();
            self.lines.write(&mut self.line, self.count, &e);
            self.hash.write(&self.line);
        }
        self.count += 1;
        self.writes.see(t_us, node, &e.kind);
        if self.keep_events
            && self
                .only_needed
                .as_mut()
                .is_none_or(|n| n.keep(node, &e.kind))
        {
            self.events.push(e);
        } else if let EventKind::Local { writes, .. } = e.kind {
            // Not kept: its writes' box serves the next local transaction.
            self.spare.give_back(writes);
        }
        let max = self.max_events;
        if self.count >= max && self.stop.is_none() {
            self.stop = Some(StopReason::Limit(format!(
                "the run reached {max} events ([limits] max_events)"
            )));
        }
    }

    /// Stops (or restarts) writing and hashing event lines; the hash is then 0.
    pub fn set_hashing(&mut self, on: bool) {
        self.hashing = on;
    }

    /// Keeps (when keeping events) only those the checkers and the report read
    /// ([`crate::check::Needed`]), or every one again.
    pub fn set_only_needed(&mut self, on: bool) {
        self.only_needed = on.then(crate::check::Needed::new);
    }

    /// How many events were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The trace hash so far.
    pub fn hash(&self) -> u64 {
        if !self.hashing {
            return 0;
        }
        self.hash.finish()
    }

    /// The kept events so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The kept events, taken out (empty when counters-only).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}
