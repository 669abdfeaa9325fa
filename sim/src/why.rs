//! Why an invariant broke: which of the scenario's faults its example violation needs.
//!
//! The example violation of a broken invariant is about one subject (a transaction, or
//! a service for conservation: [`crate::check::subject`]). A fault is *needed* when,
//! without it, that violation (same invariant, same subject) disappears. The search
//! re-runs the scenario with the same seed and engine and fewer faults:
//!
//! 1. without any fault: if the violation is still there, it needs none
//!    (`faults = []`: concurrency alone breaks the invariant, or the network's own
//!    loss or duplication when they dropped or doubled its messages: the story says
//!    which);
//! 2. else one-at-a-time removal (the last step of ddmin): walk the faults in file
//!    order, drop each one whose removal keeps the violation. What is left is
//!    1-minimal: removing any one of it makes the violation disappear.
//!
//! The decisive fault is the needed fault that struck last; `cause_seq` is its event,
//! found as the first event where the run without it parts from the full run (so it
//! holds however a fault is placed in time). With keyed randomness a removal changes
//! only what the fault touched, so the answer is about this fault and not about a
//! reshuffled run.
//!
//! Cost: no re-run when nothing is broken or the scenario has no fault; otherwise at
//! most 1 + 2n runs for n faults per broken invariant, shared between invariants
//! through a cache keyed by the set of faults kept.

use crate::check::{self, Verdict};
use crate::diff::first_divergence;
use crate::msg::TxnId;
use crate::patterns::step::{key_parts, KeyKind};
use crate::store::Write;
use crate::trace::{EventKind, Local, Trace};
use crate::{RunOptions, RunResult, Scenario};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why one invariant's example violation happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Because {
    /// The faults it needs: indices into the scenario's `[[fault]]` list, file order.
    pub faults: Vec<usize>,
    /// The event of the decisive fault (the needed one that struck last).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause_seq: Option<u64>,
    /// One or two sentences a learner can check in the trace.
    pub story: String,
}

/// Re-runs of one scenario and seed with some of its faults, cached by the faults kept.
struct Reruns<'a> {
    scenario: &'a Scenario,
    seed: u64,
    opts: RunOptions,
    runs: BTreeMap<Vec<usize>, RunResult>,
}

impl Reruns<'_> {
    fn with(&mut self, kept: &[usize]) -> &RunResult {
        if !self.runs.contains_key(kept) {
            let mut s = self.scenario.clone();
            s.faults = kept
                .iter()
                .map(|&i| self.scenario.faults[i].clone())
                .collect();
            let r = crate::run_with(&s, self.seed, self.opts);
            self.runs.insert(kept.to_vec(), r);
        }
        &self.runs[kept]
    }

    /// Does run `kept` still break `name` about `subject`?
    fn breaks(&mut self, kept: &[usize], name: &str, subject: &str) -> bool {
        let v = self.with(kept).verdicts.iter().find(|v| v.name == name);
        v.is_some_and(|v| !v.holds && v.subjects.contains(subject))
    }
}

/// The explanation of every broken invariant of `full` (a run of `scenario` with
/// `seed` and `opts`), by invariant name, in verdict order.
pub fn explain(
    scenario: &Scenario,
    seed: u64,
    opts: RunOptions,
    full: &RunResult,
) -> Vec<(String, Because)> {
    let n = scenario.faults.len();
    let all: Vec<usize> = (0..n).collect();
    let mut reruns = Reruns {
        scenario,
        seed,
        opts,
        runs: BTreeMap::new(),
    };
    let mut out = Vec::new();
    for v in full.verdicts.iter().filter(|v| !v.holds) {
        let Some(example) = &v.example else { continue };
        let subject = check::subject(example).to_string();
        let needed = if n == 0 || reruns.breaks(&[], &v.name, &subject) {
            vec![]
        } else {
            let mut kept = all.clone();
            for i in 0..n {
                let without: Vec<usize> = kept.iter().copied().filter(|&k| k != i).collect();
                if reruns.breaks(&without, &v.name, &subject) {
                    kept = without;
                }
            }
            kept
        };
        // Each needed fault's event in the full run: where the run without it parts.
        let decisive = needed
            .iter()
            .filter_map(|&i| {
                let without: Vec<usize> = all.iter().copied().filter(|&k| k != i).collect();
                let seq =
                    first_divergence(&full.trace.events, &reruns.with(&without).trace.events)?;
                Some((seq, i))
            })
            .max();
        let trigger = decisive
            .and_then(|(_, i)| scenario.faults[i].after.as_ref())
            .map(crate::report::trigger_words);
        let story = story(&full.trace, v, &subject, decisive.map(|(s, _)| s), trigger);
        out.push((
            v.name.clone(),
            Because {
                faults: needed,
                cause_seq: decisive.map(|(s, _)| s),
                story,
            },
        ));
    }
    out
}

fn ms(t_us: u64) -> String {
    format!("{:.1}", t_us as f64 / 1000.0)
}

/// The fault at `seq`, in words: "the coordinator crashed at 60.0 ms (event 489)".
fn fault_words(trace: &Trace, seq: u64) -> String {
    let e = &trace.events[seq as usize];
    let name = |n: u16| trace.nodes[usize::from(n)].name.as_str();
    let what = match &e.kind {
        EventKind::Crash => format!("{} crashed", name(e.node)),
        EventKind::Restart => format!("{} restarted", name(e.node)),
        EventKind::Partition { .. } => "the network split".to_string(),
        EventKind::Heal => "the partition healed".to_string(),
        EventKind::LossStart {
            link: Some((a, b)), ..
        } => {
            format!("the link {} - {} began losing messages", name(*a), name(*b))
        }
        EventKind::LossStart { link: None, .. } => "the network began losing messages".into(),
        EventKind::LossEnd { .. } => "a loss window closed".to_string(),
        other => format!("{} ({})", name(e.node), other.name()),
    };
    format!("{what} at {} ms (event {seq})", ms(e.t_us))
}

/// What `txn` had done before event `before`, as (what, who, seq), in trace order.
fn progress(trace: &Trace, txn: TxnId, before: u64) -> Vec<(&'static str, String, u64)> {
    let name = |n: u16| trace.nodes[usize::from(n)].name.clone();
    let mut out = Vec::new();
    for (seq, e) in trace.events.iter().enumerate().take(before as usize) {
        let what = match &e.kind {
            EventKind::Vote { txn: t, yes, .. } if *t == txn => {
                if *yes {
                    "voted yes"
                } else {
                    "voted no"
                }
            }
            EventKind::Decide { txn: t, commit, .. } if *t == txn => {
                if *commit {
                    "decided commit"
                } else {
                    "decided abort"
                }
            }
            EventKind::Local {
                what: Local::Commit,
                txn: t,
                ..
            } if *t == txn => "applied its step",
            EventKind::Local {
                what: Local::Compensate,
                txn: t,
                ..
            } if *t == txn => "compensated",
            EventKind::Local {
                what: Local::Log,
                txn: t,
                writes,
                ..
            } if *t == txn && logs_start(writes) => "logged the start",
            _ => continue,
        };
        out.push((what, name(e.node), seq as u64));
    }
    out
}

fn logs_start(writes: &[Write]) -> bool {
    writes.iter().any(|w| match *w {
        Write::Seen { key } => {
            let kind = key_parts(key).0;
            kind == KeyKind::Start as u8 || kind == KeyKind::Began as u8
        }
        _ => false,
    })
}

/// "orders and payments voted yes (events 470, 474) and inventory applied its step (event 12)".
fn progress_words(steps: &[(&'static str, String, u64)]) -> String {
    let mut groups: Vec<(&str, Vec<&str>, Vec<u64>)> = Vec::new();
    for (what, who, seq) in steps {
        match groups.last_mut() {
            Some((w, whos, seqs)) if w == what => {
                whos.push(who);
                seqs.push(*seq);
            }
            _ => groups.push((what, vec![who], vec![*seq])),
        }
    }
    let phrases: Vec<String> = groups
        .iter()
        .map(|(what, whos, seqs)| {
            let who = match whos.split_last() {
                Some((last, [])) => last.to_string(),
                Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                None => String::new(),
            };
            let seqs: Vec<String> = seqs.iter().map(u64::to_string).collect();
            let noun = if seqs.len() == 1 { "event" } else { "events" };
            format!("{who} {what} ({noun} {})", seqs.join(", "))
        })
        .collect();
    phrases.join(", then ")
}

/// What the network's base loss and duplication (`[network]`, not a `[[fault]]`) did
/// to `subject`'s messages (a transaction's, or those to and from a node), in words:
/// "loss (it dropped 2 of its messages, first at event 40) and duplication (it
/// delivered 1 of its messages twice, first at event 3)"; empty
/// when they did nothing to them.
fn network_words(trace: &Trace, subject: &str) -> String {
    let net = &trace.scenario.network;
    let txn: Option<TxnId> = subject.strip_prefix("txn ").and_then(|t| t.parse().ok());
    let node = trace.node_ix(subject);
    let about = |e: &crate::trace::Event| match (txn, node) {
        (Some(t), _) => e.kind.txn() == Some(t),
        (None, Some(n)) => match &e.kind {
            EventKind::Drop { to, .. } | EventKind::Duplicate { to, .. } => e.node == n || *to == n,
            _ => false,
        },
        (None, None) => false,
    };
    let seqs = |want: fn(&EventKind) -> bool| -> Vec<u64> {
        (0..trace.events.len() as u64)
            .filter(|&i| {
                let e = &trace.events[i as usize];
                want(&e.kind) && about(e)
            })
            .collect()
    };
    let mut parts = Vec::new();
    let phrase = |what: &str, verb: &str, after: &str, found: Vec<u64>| {
        let n = found.len();
        let plural = if n == 1 { "" } else { "s" };
        format!(
            "{what} ({verb} {n} of its message{plural}{after}, first at event {})",
            found[0]
        )
    };
    if net.loss > 0.0 {
        let lost = seqs(|k| {
            matches!(
                k,
                EventKind::Drop {
                    reason: crate::trace::DropReason::Loss,
                    ..
                }
            )
        });
        if !lost.is_empty() {
            parts.push(phrase("loss", "it dropped", "", lost));
        }
    }
    if net.duplicate > 0.0 {
        let twice = seqs(|k| matches!(k, EventKind::Duplicate { .. }));
        if !twice.is_empty() {
            parts.push(phrase("duplication", "it delivered", " twice", twice));
        }
    }
    parts.join(" and ")
}

fn story(
    trace: &Trace,
    v: &Verdict,
    subject: &str,
    cause_seq: Option<u64>,
    trigger: Option<String>,
) -> String {
    let example = v.example.as_deref().unwrap_or_default();
    let Some(seq) = cause_seq else {
        let chance = network_words(trace, subject);
        let cause = if chance.is_empty() {
            "concurrency alone causes it".to_string()
        } else {
            let verb = if chance.contains(" and ") {
                "cause"
            } else {
                "causes"
            };
            format!("the network's own {chance} {verb} it")
        };
        return format!(
            "{} breaks with no fault at all: {subject} violates it the same way when every \
             [[fault]] is removed, so {cause} ({example})",
            v.name
        );
    };
    let mut fault = fault_words(trace, seq);
    if let Some(after) = trigger {
        // A triggered fault is placed by a protocol step: say which.
        fault.pop();
        fault.push_str(&format!(", right after {after})"));
    }
    let txn: Option<TxnId> = subject.strip_prefix("txn ").and_then(|t| t.parse().ok());
    let Some(txn) = txn else {
        return format!("{fault}; without it this does not happen: {example}");
    };
    let done = progress(trace, txn, seq);
    let decided = done.iter().any(|(w, ..)| w.starts_with("decided"));
    let before = if decided {
        String::new()
    } else {
        format!(" and before anyone decided txn {txn}")
    };
    let while_ = if done.is_empty() {
        format!(" before txn {txn} had done anything")
    } else {
        format!(" after {}{before}", progress_words(&done))
    };
    format!("{fault}{while_}; in the end, {example}")
}
