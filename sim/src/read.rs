//! Read-side vocabulary shared by the trace, the read patterns and the checkers.
//!
//! Two ways to query data no single service owns (`[read]`, docs/reads.md):
//! - API composition: a gateway asks every source about a transaction and joins the
//!   answers (`patterns::api_composition`); each source answers from its own store
//!   (`patterns::read_side`).
//! - CQRS view: the sources publish every change of their stores to a view node that
//!   keeps one row per (transaction, step) and serves queries alone
//!   (`patterns::cqrs_view`).
//!
//! The client resends a query until the node that serves it (gateway or view)
//! acknowledges it, so what a read loses is the pattern's, not the client's.
//!
//! What the report counts: a query's first `read` event decides it (complete, partial
//! or failed); a query no node ever answered (the serving node stayed down past the
//! client's patience, the run ended first) counts as failed, so complete + partial +
//! failed = queries. Latency runs from the client's first send of the query (carried
//! in its `at_us`) to the answer leaving the node that serves it: a composed read
//! waits for its slowest source or the timeout, a view read only for the way there.
//! Past the client's patience the rule is the writes': a query answered after the
//! client gave up counts as complete, at the time it was answered, with its whole
//! latency (docs/reference/report.md).

use crate::msg::{NodeIx, StepIx, TxnId};
use crate::store::StepState;
use crate::trace::{EventKind, Trace};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a composed or view read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadResult {
    /// Every source answered.
    Complete,
    /// Some sources did not answer in time; `missing` of them.
    Partial {
        /// How many sources were missing.
        missing: u32,
    },
    /// No source answered.
    Failed,
}

/// What one source holds about one transaction: the `value` of its `answer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Seen {
    /// No record of the transaction (not reached yet, or never).
    Absent,
    /// Every step of the transaction at this source is applied.
    Applied,
    /// Held by a prepare, not applied (2PC, undecided).
    Held,
    /// Recorded but not in effect: rejected, compensated, released, tombstoned.
    Undone,
    /// Some steps applied, some not (a service that runs several steps).
    Mixed,
}

impl Seen {
    /// The `value` of an answer.
    pub fn code(self) -> i64 {
        match self {
            Seen::Absent => 0,
            Seen::Applied => 1,
            Seen::Held => 2,
            Seen::Undone => 3,
            Seen::Mixed => 4,
        }
    }

    /// Parses [`Seen::code`].
    pub fn from_code(code: i64) -> Option<Seen> {
        [
            Seen::Absent,
            Seen::Applied,
            Seen::Held,
            Seen::Undone,
            Seen::Mixed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// Summarizes the states of a source's steps of one transaction (None: no record).
    pub fn of(states: impl IntoIterator<Item = Option<StepState>>) -> Seen {
        let (mut applied, mut held, mut undone, mut absent) = (0, 0, 0, 0);
        for s in states {
            match s {
                Some(StepState::Applied) => applied += 1,
                Some(StepState::Held) => held += 1,
                Some(_) => undone += 1,
                None => absent += 1,
            }
        }
        let not_applied = held + undone + absent;
        match (applied, not_applied) {
            (0, _) if held > 0 => Seen::Held,
            (0, _) if undone > 0 => Seen::Undone,
            (0, _) => Seen::Absent,
            (_, 0) => Seen::Applied,
            _ => Seen::Mixed,
        }
    }

    /// Is the transaction in effect at this source? None: it is half in effect here.
    /// A held step is not in effect yet: its units are reserved, not taken.
    pub fn in_effect(self) -> Option<bool> {
        match self {
            Seen::Applied => Some(true),
            Seen::Absent | Seen::Held | Seen::Undone => Some(false),
            Seen::Mixed => None,
        }
    }

    /// Name used in verdicts.
    pub fn name(self) -> &'static str {
        match self {
            Seen::Absent => "absent",
            Seen::Applied => "applied",
            Seen::Held => "held",
            Seen::Undone => "undone",
            Seen::Mixed => "partly applied",
        }
    }
}

/// A step state as a view row and a `change` carry it (0 is never used: no row).
pub fn state_code(s: StepState) -> i64 {
    match s {
        StepState::Applied => 1,
        StepState::Held => 2,
        StepState::Released => 3,
        StepState::Compensated => 4,
        StepState::Tombstone => 5,
        StepState::Rejected => 6,
    }
}

/// Parses [`state_code`].
pub fn state_from_code(code: i64) -> Option<StepState> {
    [
        StepState::Applied,
        StepState::Held,
        StepState::Released,
        StepState::Compensated,
        StepState::Tombstone,
        StepState::Rejected,
    ]
    .into_iter()
    .find(|s| state_code(*s) == code)
}

/// The first `read` event of every query, by query id: (seq, node, txn, result, latency).
pub fn first_reads(trace: &Trace) -> BTreeMap<u32, (u64, NodeIx, TxnId, ReadResult, u64)> {
    let mut out = BTreeMap::new();
    for (seq, e) in trace.events.iter().enumerate() {
        if let EventKind::Read {
            query,
            txn,
            result,
            latency_us,
        } = e.kind
        {
            out.entry(query)
                .or_insert((seq as u64, e.node, txn, result, latency_us));
        }
    }
    out
}

/// The longest a view lagged behind a source commit, in µs, over every applied change.
pub fn max_staleness_us(trace: &Trace) -> u64 {
    trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::ViewApplied { staleness_us, .. } => Some(staleness_us),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// The steps (indices into `write.steps`) that service `service` runs.
pub fn steps_of(s: &crate::scenario::Scenario, service: usize) -> Vec<StepIx> {
    let name = &s.services[service].name;
    s.write.as_ref().map_or(vec![], |w| {
        w.steps
            .iter()
            .enumerate()
            .filter(|(_, st)| &st.service == name)
            .map(|(i, _)| i as StepIx)
            .collect()
    })
}

/// The services a read looks at, as indices into `s.services` (default: every one).
pub fn sources(s: &crate::scenario::Scenario) -> Vec<usize> {
    match &s.read {
        Some(r) if !r.sources.is_empty() => r
            .sources
            .iter()
            .map(|n| crate::patterns::service_index(s, n))
            .collect(),
        _ => (0..s.services.len()).collect(),
    }
}

/// The `read` section of the report (docs/reference/cli.md, `run`).
pub fn report(trace: &Trace, r: &crate::scenario::Read) -> crate::report::ReadReport {
    let reads = first_reads(trace);
    let (mut complete, mut partial, mut failed) = (0u32, 0u32, 0u32);
    let mut latencies = Vec::with_capacity(reads.len());
    // The span of the complete queries: first asked to last answered.
    let mut span: Option<(u64, u64)> = None;
    for (seq, _, _, result, latency_us) in reads.values() {
        match result {
            ReadResult::Complete => {
                complete += 1;
                let t = trace.events[*seq as usize].t_us;
                let (a, b) = span.get_or_insert((t - latency_us, t));
                *a = (*a).min(t - latency_us);
                *b = (*b).max(t);
            }
            ReadResult::Partial { .. } => partial += 1,
            ReadResult::Failed => failed += 1,
        }
        latencies.push(*latency_us);
    }
    // A query no node ever answered failed too (see the module doc).
    let unanswered = r.queries.saturating_sub(complete + partial + failed);
    crate::report::ReadReport {
        method: r.method.name().to_string(),
        queries: r.queries,
        complete,
        partial,
        failed: failed + unanswered,
        // Rounded to 0.1 ms, like every latency in the report.
        max_staleness_ms: (max_staleness_us(trace) as f64 / 100.0).round() / 10.0,
        latency_ms: crate::report::Latency::of(&mut latencies),
        throughput_per_s: span.map_or(0.0, |(a, b)| crate::cost::per_second(complete, a, b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_summarizes_a_sources_steps() {
        use StepState::*;
        assert_eq!(Seen::of([]), Seen::Absent);
        assert_eq!(Seen::of([None]), Seen::Absent);
        assert_eq!(Seen::of([Some(Applied), Some(Applied)]), Seen::Applied);
        assert_eq!(Seen::of([Some(Held)]), Seen::Held);
        assert_eq!(Seen::of([Some(Compensated), None]), Seen::Undone);
        assert_eq!(Seen::of([Some(Applied), None]), Seen::Mixed);
        assert_eq!(Seen::Mixed.in_effect(), None);
        assert_eq!(Seen::Held.in_effect(), Some(false));
        for s in [
            Seen::Absent,
            Seen::Applied,
            Seen::Held,
            Seen::Undone,
            Seen::Mixed,
        ] {
            assert_eq!(Seen::from_code(s.code()), Some(s));
        }
        for s in [Applied, Held, Released, Compensated, Tombstone, Rejected] {
            assert_eq!(state_from_code(state_code(s)), Some(s));
        }
        assert_eq!(state_from_code(0), None);
    }
}
