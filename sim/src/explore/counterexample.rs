//! A counterexample: the shortest execution that breaks an invariant, as a scenario
//! that replays it (its crashes as `[[fault]]`s at their exact times, every other
//! choice in `[replay] choices`) and as the trace of that replay.

use super::script::Entry;
use super::Bounds;
use crate::check;
use crate::msg::NodeIx;
use crate::scenario::{Expect, Fault, Replay, Scenario};
use crate::trace::{DropReason, EventKind, Trace};
use serde::Serialize;

/// The shortest execution found that breaks one invariant.
#[derive(Debug, Clone, Serialize)]
pub struct Counterexample {
    /// Its length in trace events.
    pub events: u64,
    /// What went wrong on the way, in order: crashes, restarts, drops, duplicates.
    pub faults: Vec<String>,
    /// The execution and the violation, in words.
    pub story: String,
    /// The scenario that replays it (`--out`).
    #[serde(skip)]
    pub scenario: Scenario,
    /// The replay's trace (`--trace`).
    #[serde(skip)]
    pub trace: Trace,
}

/// The replay scenario of an execution of `scenario` that took `entries` and chose
/// `crashes`, breaking `invariant`.
pub fn replay_scenario(
    scenario: &Scenario,
    bounds: &Bounds,
    invariant: &str,
    entries: &[Entry],
    crashes: &[(u64, NodeIx)],
) -> Scenario {
    let layout = crate::patterns::layout(scenario);
    let mut s = scenario.clone();
    s.name = format!("{} (shortest counterexample: {invariant})", scenario.name);
    s.description = Some(format!(
        "Written by sovlab explore: the shortest execution of {:?} that breaks {invariant}. \
         The crashes are its faults (placed right after the step they followed, where \
         that replays alike); [replay] choices are every other choice the explorer \
         made (which event came next, each message's fate, each random decision).",
        scenario.name
    ));
    for &(at_us, node) in crashes {
        s.faults.push(Fault {
            at_ms: at_us / 1000,
            crash: Some(layout.nodes[usize::from(node)].name.clone()),
            restart_ms: bounds.restart_ms,
            ..Fault::default()
        });
    }
    s.replay = Some(Replay {
        choices: entries
            .iter()
            .filter(|e| !e.crash)
            .map(|e| e.value)
            .collect(),
        max_drops: bounds.max_drops,
        max_duplicates: bounds.max_duplicates,
    });
    s.explore = None;
    s.expect = Some(Expect {
        holds: vec![],
        violated: vec![invariant.to_string()],
        sometimes: vec![],
    });
    s
}

/// Builds the counterexample: the replay scenario, its trace, and the story.
pub fn build(
    scenario: &Scenario,
    bounds: &Bounds,
    invariant: &str,
    entries: &[Entry],
    crashes: &[(u64, NodeIx)],
) -> Counterexample {
    let opts = crate::RunOptions::default().on(crate::Engine::Des);
    let mut s = replay_scenario(scenario, bounds, invariant, entries, crashes);
    let mut trace = super::replay(&s, opts);
    // The textbook says "the coordinator dies after the votes": a crash placed at the
    // protocol step it followed reads as that, and replays alike. Kept only when the
    // replay is the very same execution (same events, same verdict).
    if let Some(placed) = placed_by_after(&s, scenario.faults.len(), &trace) {
        let again = super::replay(&placed, opts);
        if same_events(&again, &trace) {
            (s, trace) = (placed, again);
        }
    }
    let verdict = check::check(&trace, invariant);
    let faults = faults_of(&trace, &placed_words(&s, scenario.faults.len()));
    let example = verdict
        .example
        .clone()
        .unwrap_or_else(|| format!("the replay does not break {invariant}"));
    // Its length is told beside it (`events`), so the story is what happened.
    let story = if faults.is_empty() {
        format!("With no fault (an ordering of deliveries alone): {example}.")
    } else {
        let mut s = format!("{}; then {example}.", faults.join(", "));
        if let Some(first) = s.get(..1) {
            s = first.to_uppercase() + &s[1..];
        }
        s
    };
    Counterexample {
        events: trace.event_count,
        faults,
        story,
        scenario: s,
        trace,
    }
}

/// `s` with its faults from index `first` on (the explorer's crashes, each at the
/// instant of a step) placed by `after` at the event that step recorded last.
fn placed_by_after(s: &Scenario, first: usize, trace: &Trace) -> Option<Scenario> {
    let mut out = s.clone();
    let mut crash_events = trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.kind, EventKind::Crash));
    for fault in out.faults.iter_mut().skip(first) {
        let node = fault.crash.as_deref()?;
        let at_us = fault.at_ms * 1000;
        let (i, _) = crash_events
            .find(|(_, e)| e.t_us == at_us && trace.nodes[usize::from(e.node)].name == node)?;
        // The step's last event: the one before this crash that is no fault itself
        // (two crashes chosen at one step follow the same event).
        let before = trace.events[..i].iter().rposition(|e| !e.kind.is_fault())?;
        if trace.events[before].t_us != at_us {
            return None;
        }
        fault.after = Some(crate::exec::faults::after_event(trace, before)?);
        fault.at_ms = 0;
    }
    Some(out)
}

/// The crashes the explorer placed by `after`, in order: the node and the step it
/// followed in words ("the 2nd deliver of a vote for txn 1 at coordinator"), so the
/// story tells the textbook's window rather than a time.
fn placed_words(s: &Scenario, first: usize) -> Vec<(String, String)> {
    s.faults
        .iter()
        .skip(first)
        .filter_map(|f| {
            let after = f.after.as_ref()?;
            Some((f.crash.clone()?, crate::report::trigger_words(after)))
        })
        .collect()
}

/// Do two traces have the same events (time, node, kind)?
fn same_events(a: &Trace, b: &Trace) -> bool {
    a.events.len() == b.events.len()
        && a.events
            .iter()
            .zip(&b.events)
            .all(|(x, y)| x.t_us == y.t_us && x.node == y.node && x.kind == y.kind)
}

/// The faults of a trace in words, in order. A crash that `placed` names (its node,
/// in order) is told by the step it followed, with its time.
fn faults_of(trace: &Trace, placed: &[(String, String)]) -> Vec<String> {
    let name = |n: NodeIx| trace.nodes[usize::from(n)].name.as_str();
    let mut placed = placed.iter().peekable();
    trace
        .events
        .iter()
        .filter_map(|e| {
            let ms = e.t_us as f64 / 1000.0;
            match &e.kind {
                EventKind::Crash => {
                    let node = name(e.node);
                    match placed.next_if(|(n, _)| n == node) {
                        Some((_, step)) => {
                            Some(format!("{node} crashes right after {step} ({ms} ms)"))
                        }
                        None => Some(format!("{node} crashes at {ms} ms")),
                    }
                }
                EventKind::Restart => Some(format!("{} restarts at {ms} ms", name(e.node))),
                EventKind::Drop {
                    to,
                    msg,
                    reason: DropReason::Loss,
                } => Some(format!(
                    "the {} {} -> {} is lost",
                    msg.kind.name(),
                    name(e.node),
                    name(*to)
                )),
                EventKind::Duplicate { to, msg } => Some(format!(
                    "the {} {} -> {} arrives twice",
                    msg.kind.name(),
                    name(e.node),
                    name(*to)
                )),
                _ => None,
            }
        })
        .collect()
}
