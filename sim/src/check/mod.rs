//! Invariant checkers: each reads a [`Trace`] (events and final stores), nothing else.
//!
//! Outcomes are judged from the stores when the run ends, never from what a node
//! believes (docs/concepts.md): a business transaction is committed (applied at every
//! step), aborted (applied at no step, nothing held) or unfinished.

mod agreement;
mod atomicity;
mod conservation;
mod consistent_reads;
mod convergence;
#[cfg(test)]
mod fixtures;
mod index;
mod isolation;
mod needed;
mod termination;

use crate::msg::TxnId;
use crate::scenario::{Protocol, ReadMethod, Scenario, INVARIANTS};
use crate::trace::Trace;
pub use index::{outcomes, Index};
pub use needed::Needed;
use serde::{Deserialize, Serialize};

/// The verdict on one invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Invariant name (docs/concepts.md).
    pub name: String,
    /// Did it hold over the whole run?
    pub holds: bool,
    /// How many violations (transactions, services, reads ... per invariant).
    pub violations: u64,
    /// One violation in words, naming the transaction and step.
    pub example: Option<String>,
    /// The trace event (`seq`) where the example broke, when it is known.
    pub at_seq: Option<u64>,
    /// Where every violation broke, in the order the checker found them (the TUI
    /// visits each); not part of the report.
    #[serde(skip)]
    pub every_at: Vec<u64>,
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
            every_at: Vec::new(),
            subjects: Default::default(),
        }
    }

    /// Counts one violation; the first becomes the example.
    pub fn violation(&mut self, example: impl FnOnce() -> String, at_seq: Option<u64>) {
        self.holds = false;
        self.violations += 1;
        self.every_at.extend(at_seq);
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

/// Runs every checker that applies, in the documented order, over one [`Index`] of the run.
pub fn check_all(trace: &Trace) -> Vec<Verdict> {
    let ix = Index::new(trace);
    INVARIANTS
        .iter()
        .filter(|n| applies(&trace.scenario, n))
        .map(|n| check_with(trace, &ix, n))
        .collect()
}

/// Runs the checker of invariant `name`.
pub fn check(trace: &Trace, name: &str) -> Verdict {
    check_with(trace, &Index::new(trace), name)
}

/// Runs the checker of invariant `name` over `ix`, the index of `trace` (one index
/// for several checkers: the explorer judges every execution).
pub fn check_indexed(trace: &Trace, ix: &Index, name: &str) -> Verdict {
    check_with(trace, ix, name)
}

/// Runs the checker of invariant `name` over `ix`, the index of `trace`.
fn check_with(trace: &Trace, ix: &Index, name: &str) -> Verdict {
    let mut v = Verdict::new(name);
    match name {
        "atomicity" => atomicity::check(trace, ix, &mut v),
        "conservation" => conservation::check(trace, &mut v),
        "termination" => termination::check(trace, ix, &mut v),
        "convergence" => convergence::check(trace, ix, &mut v),
        "consistent-reads" => consistent_reads::check(trace, &mut v),
        "isolation" => isolation::check(trace, ix, &mut v),
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
        .map(|(i, step)| index::end_of(trace, service_store(trace, &step.service), txn, i))
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
