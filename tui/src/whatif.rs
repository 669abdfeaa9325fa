//! What-if: add a fault at the cursor's virtual time, re-run with the same seed, and
//! show where the fork diverged and how the verdict changed. Forks stack; undo pops.

use crate::app::{MarkKind, RunView};
use sovlab_sim::check::Verdict;
use sovlab_sim::scenario::{Fault, FaultKind, Scenario, CLIENT};
use std::sync::Arc;

/// A change to the fault schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Add this fault.
    Add(Fault),
    /// Heal every partition active at `at_ms`, at `at_ms`.
    HealAt(u64),
}

/// One entry of the what-if menu.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// What the menu says.
    pub label: String,
    /// What it does.
    pub change: Change,
}

/// The what-if menu: the faults that can be added at the cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatIfMenu {
    /// The virtual ms the fault starts at.
    pub at_ms: u64,
    /// The choices.
    pub choices: Vec<Choice>,
    /// The selected choice.
    pub sel: usize,
}

/// How a fork differs from its parent.
#[derive(Debug, Clone, PartialEq)]
pub struct Fork {
    /// The change, in words.
    pub label: String,
    /// The first event index where the fork's trace differs from the parent's.
    pub diverged_at: Option<usize>,
    /// The parent's verdicts.
    pub before: Vec<Verdict>,
    /// The parent's outcome counts (committed, aborted, unfinished).
    pub before_outcomes: Option<(u32, u32, u32)>,
    /// When the change takes effect, in virtual ms.
    pub at_ms: u64,
}

/// Partitions of `s` active at `at_ms` (started, not yet healed).
fn active_partitions(s: &Scenario, at_ms: u64) -> Vec<usize> {
    s.faults
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            matches!(f.kind(), Some(FaultKind::Partition { heal_ms, .. })
                if f.at_ms <= at_ms && heal_ms.is_none_or(|h| h > at_ms))
        })
        .map(|(i, _)| i)
        .collect()
}

impl WhatIfMenu {
    /// The choices at the cursor of `run`.
    pub fn new(run: &RunView) -> WhatIfMenu {
        // Rounded up, so the fork starts after the step the user is looking at.
        let at_ms = run.now_us().div_ceil(1000);
        let s = &run.scenario;
        let targets = s.fault_targets();
        let mut choices = Vec::new();
        for t in &targets {
            choices.push(Choice {
                label: format!("crash {t} (stays down)"),
                change: Change::Add(Fault {
                    at_ms,
                    crash: Some(t.clone()),
                    ..Fault::default()
                }),
            });
            choices.push(Choice {
                label: format!("crash {t}, restart after 100 ms"),
                change: Change::Add(Fault {
                    at_ms,
                    crash: Some(t.clone()),
                    restart_ms: Some(100),
                    ..Fault::default()
                }),
            });
        }
        for t in &targets {
            let mut rest: Vec<String> = targets.iter().filter(|x| *x != t).cloned().collect();
            rest.push(CLIENT.to_string());
            choices.push(Choice {
                label: format!("partition {t} from the rest for 200 ms"),
                change: Change::Add(Fault {
                    at_ms,
                    partition: Some(vec![vec![t.clone()], rest]),
                    heal_ms: Some(at_ms + 200),
                    ..Fault::default()
                }),
            });
        }
        choices.push(Choice {
            label: "lose 50% of messages on every link for 200 ms".into(),
            change: Change::Add(Fault {
                at_ms,
                loss: Some(0.5),
                until_ms: Some(at_ms + 200),
                ..Fault::default()
            }),
        });
        if !active_partitions(s, at_ms).is_empty() {
            choices.push(Choice {
                label: "heal every partition now".into(),
                change: Change::HealAt(at_ms),
            });
        }
        WhatIfMenu {
            at_ms,
            choices,
            sel: 0,
        }
    }
}

/// `s` with `change` applied.
pub fn apply(s: &Scenario, change: &Change) -> Scenario {
    let mut s = s.clone();
    match change {
        Change::Add(f) => s.faults.push(f.clone()),
        Change::HealAt(at) => {
            for i in active_partitions(&s, *at) {
                let f = &mut s.faults[i];
                f.heal_ms = Some((*at).max(f.at_ms + 1));
            }
        }
    }
    s
}

/// Forks `run` with `choice`: re-runs with the same seed and the changed faults.
/// The caller makes `run` the fork's parent.
pub fn fork(run: &RunView, choice: &Choice) -> Result<RunView, String> {
    let s = apply(&run.scenario, &choice.change);
    if let Some(p) = s.validate().into_iter().next() {
        return Err(format!("cannot fork: {}", p.message));
    }
    // The same engine as the run forked: a seed replays only on its own engine.
    let result = sovlab_sim::run_on(&s, run.seed, run.trace().engine);
    let old = &run.trace().events;
    let new = &result.trace.events;
    let diverged_at = old
        .iter()
        .zip(new.iter())
        .position(|(a, b)| a != b)
        .or((old.len() != new.len()).then(|| old.len().min(new.len())));
    let before_outcomes = run
        .result
        .report
        .write
        .as_ref()
        .map(|w| (w.committed, w.aborted, w.unfinished));
    let at_ms = match &choice.change {
        Change::Add(f) => f.at_ms,
        Change::HealAt(t) => *t,
    };
    let fork = Fork {
        at_ms,
        label: choice.label.clone(),
        diverged_at,
        before: run.result.verdicts.clone(),
        before_outcomes,
    };
    let mut view = RunView::new(run.label.clone(), Arc::new(result), run.origin);
    view.node = run.node;
    view.panel = run.panel;
    if let Some(d) = diverged_at {
        view.marks.push((d, MarkKind::Fork));
        view.marks.sort();
    }
    // The cursor goes to where the added fault takes effect: the lesson is there, even
    // when the traces already differ earlier (see the note in the verdict panel).
    let at_us = at_ms * 1000;
    let events = &view.trace().events;
    let start = events.partition_point(|e| e.t_us < at_us);
    let fault = events[start..]
        .iter()
        .position(|e| e.kind.is_fault())
        .map(|i| start + i);
    match fault.or(diverged_at) {
        Some(i) => view.jump(i),
        None => view.jump(run.cursor),
    }
    view.fork = Some(fork);
    Ok(view)
}

/// How each invariant's verdict changed from `before` to `after`, in words.
pub fn verdict_changes(before: &[Verdict], after: &[Verdict]) -> Vec<String> {
    let word = |v: &Verdict| if v.holds { "holds" } else { "BROKEN" };
    after
        .iter()
        .filter_map(|a| {
            let b = before.iter().find(|b| b.name == a.name)?;
            (b.holds != a.holds).then(|| format!("{}: {} -> {}", a.name, word(b), word(a)))
        })
        .collect()
}
