//! Invariant checkers: each reads a [`Trace`] (events and final stores), nothing else.
//!
//! Outcomes are judged from the stores when the run ends, never from what a node
//! believes (CONTRACT §1): a business transaction is committed (applied at every
//! step), aborted (applied at no step, nothing held) or unfinished.

mod agreement;
mod atomicity;
mod conservation;
mod consistent_reads;
mod convergence;
mod isolation;
mod termination;

use crate::msg::{StepIx, TxnId};
use crate::scenario::{Protocol, ReadMethod, Scenario, INVARIANTS};
use crate::store::StepState;
use crate::trace::{EventKind, Trace};
use serde::{Deserialize, Serialize};

/// The verdict on one invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Invariant name (CONTRACT §1).
    pub name: String,
    /// Did it hold over the whole run?
    pub holds: bool,
    /// How many violations (transactions, services, reads ... per invariant).
    pub violations: u64,
    /// One violation in words, naming the transaction and step.
    pub example: Option<String>,
    /// The trace event (`seq`) where the example broke, when it is known.
    pub at_seq: Option<u64>,
    /// What every violation is about (see [`subject`]): the cause analysis asks whether
    /// one particular violation survives a change to the scenario.
    #[serde(skip)]
    pub subjects: std::collections::BTreeSet<String>,
}

impl Verdict {
    fn new(name: &str) -> Verdict {
        Verdict {
            name: name.to_string(),
            holds: true,
            violations: 0,
            example: None,
            at_seq: None,
            subjects: Default::default(),
        }
    }

    /// Counts one violation; the first becomes the example.
    pub fn violation(&mut self, example: impl FnOnce() -> String, at_seq: Option<u64>) {
        self.holds = false;
        self.violations += 1;
        let text = example();
        self.subjects.insert(subject(&text).to_string());
        if self.example.is_none() {
            self.example = Some(text);
            self.at_seq = at_seq;
        }
    }
}

/// What a violation's words say it is about: its transaction ("txn 3"), else what comes
/// before the first colon (a service, for conservation).
pub fn subject(example: &str) -> &str {
    if let Some(i) = example.find("txn ") {
        let digits = example[i + 4..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(example.len() - i - 4);
        return &example[i..i + 4 + digits];
    }
    example.split(':').next().unwrap_or(example)
}

/// Does invariant `name` apply to scenario `s`?
pub fn applies(s: &Scenario, name: &str) -> bool {
    let write = s.write.as_ref().map(|w| w.protocol);
    let read = s.read.as_ref().map(|r| r.method);
    match name {
        "atomicity" | "conservation" | "termination" | "isolation" => write.is_some(),
        "agreement" => write == Some(Protocol::TwoPhaseCommit),
        "convergence" => read == Some(ReadMethod::CqrsView),
        "consistent-reads" => read == Some(ReadMethod::ApiComposition),
        _ => false,
    }
}

/// Do the verdicts and report of `s` need the event log (`RunOptions::keep_events`)?
/// Composed reads are judged from the gateway's calls and answers, and the read report
/// counts `read` and `view-applied` events: a counters-only run of a scenario with a
/// `[read]` section would report every query failed and every read consistent.
/// Isolation, too, replays the rejections of the event log.
pub fn needs_events(s: &Scenario) -> bool {
    s.read.is_some() || s.write.is_some()
}

/// Why an invariant may not apply, for error hints.
pub fn applies_hint(name: &str) -> &'static str {
    match name {
        "agreement" => "agreement is about 2PC: it needs protocol = \"two-phase-commit\"",
        "convergence" => "convergence is about read views: it needs [read] method = \"cqrs-view\"",
        "consistent-reads" => {
            "consistent-reads is about composed reads: it needs [read] method = \"api-composition\""
        }
        _ => "this invariant needs a [write] section",
    }
}

/// Runs every checker that applies, in CONTRACT order.
pub fn check_all(trace: &Trace) -> Vec<Verdict> {
    INVARIANTS
        .iter()
        .filter(|n| applies(&trace.scenario, n))
        .map(|n| check(trace, n))
        .collect()
}

/// Runs the checker of invariant `name`.
pub fn check(trace: &Trace, name: &str) -> Verdict {
    let mut v = Verdict::new(name);
    match name {
        "atomicity" => atomicity::check(trace, &mut v),
        "conservation" => conservation::check(trace, &mut v),
        "termination" => termination::check(trace, &mut v),
        "convergence" => convergence::check(trace, &mut v),
        "consistent-reads" => consistent_reads::check(trace, &mut v),
        "isolation" => isolation::check(trace, &mut v),
        "agreement" => agreement::check(trace, &mut v),
        _ => {}
    }
    v
}

/// How a business transaction ended, judged from the stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Applied at every step.
    Committed,
    /// Applied at no step, nothing held.
    Aborted,
    /// Anything else.
    Unfinished,
}

/// What the final stores say about one step of one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepEnd {
    /// Applied.
    Applied,
    /// Held by an undecided prepare.
    Held,
    /// Neither applied nor held.
    Absent,
}

/// The final state of every step of transaction `txn`, in step order.
pub fn step_ends(trace: &Trace, txn: TxnId) -> Vec<StepEnd> {
    let Some(w) = &trace.scenario.write else {
        return vec![];
    };
    w.steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let store = service_store(trace, &step.service);
            let rec = trace.final_stores[store]
                .steps
                .get(&(txn, i as StepIx))
                .map(|r| r.state);
            match rec {
                Some(StepState::Applied) => StepEnd::Applied,
                Some(StepState::Held) => StepEnd::Held,
                _ => StepEnd::Absent,
            }
        })
        .collect()
}

/// The store index holding service `name`'s data.
pub fn service_store(trace: &Trace, name: &str) -> usize {
    let svc = trace
        .scenario
        .services
        .iter()
        .position(|s| s.name == name)
        .expect("validated");
    trace
        .stores
        .iter()
        .position(|s| s.service == Some(svc))
        .expect("every service has a store")
}

/// The outcome of every transaction 1..=N, judged from the final stores.
pub fn outcomes(trace: &Trace) -> Vec<(TxnId, Outcome)> {
    let n = trace.scenario.write.as_ref().map_or(0, |w| w.transactions);
    (1..=n)
        .map(|txn| {
            let ends = step_ends(trace, txn);
            let outcome = if ends.iter().all(|e| *e == StepEnd::Applied) {
                Outcome::Committed
            } else if ends.iter().all(|e| *e == StepEnd::Absent) {
                Outcome::Aborted
            } else {
                Outcome::Unfinished
            };
            (txn, outcome)
        })
        .collect()
}

/// The `seq` of the last local transaction that touched `txn`, if events were kept.
pub fn last_local_seq(trace: &Trace, txn: TxnId) -> Option<u64> {
    trace
        .events
        .iter()
        .rposition(|e| matches!(e.kind, EventKind::Local { txn: t, .. } if t == txn))
        .map(|i| i as u64)
}

/// Are expectations met? Returns the failures, in words.
pub fn expect_failures(s: &Scenario, verdicts: &[Verdict]) -> Vec<String> {
    let Some(e) = &s.expect else { return vec![] };
    let find = |n: &str| verdicts.iter().find(|v| v.name == n);
    let mut failures = Vec::new();
    for n in &e.holds {
        match find(n) {
            Some(v) if v.holds => {}
            Some(_) => failures.push(format!("{n} was expected to hold")),
            None => failures.push(format!("{n} was expected to hold, but it does not apply")),
        }
    }
    for n in &e.violated {
        match find(n) {
            Some(v) if !v.holds => {}
            Some(_) => failures.push(format!("{n} was expected to be violated")),
            None => failures.push(format!(
                "{n} was expected to be violated, but it does not apply"
            )),
        }
    }
    failures
}
