//! What-if: add a fault at the cursor's virtual time, re-run with the same seed, and
//! show where the fork diverged and how the verdict changed. Forks stack; undo pops.

use crate::app::{MarkKind, RunView};
use sovlab_sim::check::Verdict;
use sovlab_sim::scenario::{After, Fault, FaultKind, Scenario, CLIENT};
use std::sync::Arc;

/// A change to the fault schedule.
// One change per fork, made once: its size does not matter, boxing would only add noise.
#[allow(clippy::large_enum_variant)]
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

/// The times the learner can choose from for a restart delay or a window's length, ms.
pub const DURATIONS: [u64; 10] = [10, 20, 50, 100, 200, 300, 500, 1000, 2000, 5000];

/// The what-if menu: the faults that can be added at the cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatIfMenu {
    /// The virtual ms the fault starts at.
    pub at_ms: u64,
    /// The choices.
    pub choices: Vec<Choice>,
    /// The selected choice.
    pub sel: usize,
    /// Index into [`DURATIONS`]: how long until a crashed node restarts, and how long
    /// a partition or loss window lasts.
    pub dur: usize,
    /// The nodes a fault can name.
    targets: Vec<String>,
    /// A partition is active at `at_ms`.
    can_heal: bool,
    /// The trigger that places a fault right after the event under the cursor
    /// (`None` when that event is itself a fault: no handler recorded it).
    pub after: Option<After>,
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
    /// The change itself, so a new seed can re-run the same what-if.
    pub change: Change,
    /// Parent and fork side by side (outcomes, aborts by cause, verdicts).
    pub diff: sovlab_sim::diff::Diff,
}

/// Partitions of `s` active at `at_ms` (started, not yet healed).
fn active_partitions(s: &Scenario, at_ms: u64) -> Vec<usize> {
    s.faults
        .iter()
        .enumerate()
        // A triggered partition has no absolute start or end to compare or set (its
        // `for_ms` counts from a firing only the run knows): never healed from here.
        .filter(|(_, f)| {
            f.after.is_none()
                && matches!(f.kind(), Some(FaultKind::Partition { heal_ms, .. })
                if f.at_ms <= at_ms && heal_ms.is_none_or(|h| h > at_ms))
        })
        .map(|(i, _)| i)
        .collect()
}

impl WhatIfMenu {
    /// The choices at the cursor of `run`, with a duration of 100 ms.
    pub fn new(run: &RunView) -> WhatIfMenu {
        // Rounded up, so the fork starts after the step the user is looking at.
        let at_ms = run.now_us().div_ceil(1000);
        let s = &run.scenario;
        let mut menu = WhatIfMenu {
            at_ms,
            choices: Vec::new(),
            sel: 0,
            dur: DURATIONS.iter().position(|&d| d == 100).unwrap_or(0),
            targets: s.fault_targets(),
            can_heal: !active_partitions(s, at_ms).is_empty(),
            after: after_event(run.trace(), run.cursor),
        };
        menu.build();
        menu
    }

    /// The chosen duration in ms.
    pub fn duration_ms(&self) -> u64 {
        DURATIONS[self.dur]
    }

    /// Makes the duration one notch longer or shorter; the choices say the new one.
    pub fn longer(&mut self, longer: bool) {
        self.dur = if longer {
            (self.dur + 1).min(DURATIONS.len() - 1)
        } else {
            self.dur.saturating_sub(1)
        };
        self.build();
    }

    fn build(&mut self) {
        let (at_ms, d) = (self.at_ms, self.duration_ms());
        let targets = &self.targets;
        let mut choices = Vec::new();
        for t in targets {
            choices.push(Choice {
                label: format!("crash {t} (stays down)"),
                change: Change::Add(Fault {
                    at_ms,
                    crash: Some(t.clone()),
                    ..Fault::default()
                }),
            });
            choices.push(Choice {
                label: format!("crash {t}, restart after {d} ms"),
                change: Change::Add(Fault {
                    at_ms,
                    crash: Some(t.clone()),
                    restart_ms: Some(d),
                    ..Fault::default()
                }),
            });
        }
        // Right after the event under the cursor: the textbook window ("after the
        // votes, before the decision") hit exactly, whatever the seed.
        if let Some(a) = &self.after {
            for t in targets {
                for restart_ms in [None, Some(d)] {
                    let back = restart_ms.map_or(" (stays down)".to_string(), |d| {
                        format!(", restart after {d} ms")
                    });
                    choices.push(Choice {
                        label: format!("crash {t} right after this event{back}"),
                        change: Change::Add(Fault {
                            after: Some(a.clone()),
                            crash: Some(t.clone()),
                            restart_ms,
                            ..Fault::default()
                        }),
                    });
                }
            }
        }
        // Partitions and loss windows right after it too, lasting `for_ms` from the
        // firing (no absolute end: the firing's time depends on the run).
        if let Some(a) = &self.after {
            for t in targets {
                let mut rest: Vec<String> = targets.iter().filter(|x| *x != t).cloned().collect();
                rest.push(CLIENT.to_string());
                choices.push(Choice {
                    label: format!("partition {t} from the rest for {d} ms right after this event"),
                    change: Change::Add(Fault {
                        after: Some(a.clone()),
                        partition: Some(vec![vec![t.clone()], rest]),
                        for_ms: Some(d),
                        ..Fault::default()
                    }),
                });
            }
            choices.push(Choice {
                label: format!(
                    "lose 50% of messages on every link for {d} ms right after this event"
                ),
                change: Change::Add(Fault {
                    after: Some(a.clone()),
                    loss: Some(0.5),
                    for_ms: Some(d),
                    ..Fault::default()
                }),
            });
        }
        for t in targets {
            let mut rest: Vec<String> = targets.iter().filter(|x| *x != t).cloned().collect();
            rest.push(CLIENT.to_string());
            choices.push(Choice {
                label: format!("partition {t} from the rest for {d} ms"),
                change: Change::Add(Fault {
                    at_ms,
                    partition: Some(vec![vec![t.clone()], rest]),
                    heal_ms: Some(at_ms + d),
                    ..Fault::default()
                }),
            });
        }
        choices.push(Choice {
            label: format!("lose 50% of messages on every link for {d} ms"),
            change: Change::Add(Fault {
                at_ms,
                loss: Some(0.5),
                until_ms: Some(at_ms + d),
                ..Fault::default()
            }),
        });
        if self.can_heal {
            choices.push(Choice {
                label: "heal every partition now".into(),
                change: Change::HealAt(at_ms),
            });
        }
        self.sel = self.sel.min(choices.len().saturating_sub(1));
        self.choices = choices;
    }
}

pub use sovlab_sim::exec::faults::after_event;

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
    // A triggered fault has no time of its own: it takes effect when it struck.
    let at_us = match &choice.change {
        Change::Add(f) if f.is_triggered() => sovlab_sim::exec::faults::struck(&result.trace)
            .last()
            .copied()
            .flatten()
            .unwrap_or(result.trace.end_us),
        Change::Add(f) => f.at_ms * 1000,
        Change::HealAt(t) => *t * 1000,
    };
    let at_ms = at_us / 1000;
    let diff = sovlab_sim::diff::compare(&run.result, &result);
    // "This event" means nothing once the cursor moves: a triggered fault names its event.
    let label = match &choice.change {
        Change::Add(f) if f.is_triggered() => crate::widgets::about::fault_words(f),
        _ => choice.label.clone(),
    };
    let fork = Fork {
        diff,
        at_ms,
        change: choice.change.clone(),
        label,
        diverged_at,
        before: run.result.verdicts.clone(),
        before_outcomes,
    };
    let mut view = RunView::new(run.label.clone(), Arc::new(result), run.origin);
    keep_view_settings(run, &mut view);
    if let Some(d) = diverged_at {
        view.marks.push((d, MarkKind::Fork));
        view.marks.sort();
    }
    // The cursor goes to where the added fault takes effect: the lesson is there, even
    // when the traces already differ earlier (see the note in the verdict panel).
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

/// What the learner chose about how to look (inspector pin, timers, panel, search)
/// carries over from `from` to a re-run of it.
fn keep_view_settings(from: &RunView, to: &mut RunView) {
    to.node = from.node.min(to.trace().nodes.len().saturating_sub(1));
    to.pinned = from.pinned;
    to.panel = from.panel;
    to.hide_timers = from.hide_timers;
    to.show_about = from.show_about;
    to.search = from.search.clone();
}

/// Where the trigger of `run`'s own what-if fired: `None` when the fork's fault is
/// not placed by `after`; `Some(None)` when its trigger never matched in this run;
/// `Some(Some(seq))` when it fired right after event `seq`. A reseeded fork keeps its
/// trigger, which may match another event on the new seed, or none.
pub fn trigger_fired(run: &RunView) -> Option<Option<usize>> {
    let Change::Add(f) = &run.fork.as_ref()?.change else {
        return None;
    };
    let a = f.after.as_ref()?;
    let tr = run.trace();
    let mut seen = 0;
    for (seq, e) in tr.events.iter().enumerate() {
        let matches = tr.node_name(e.node) == a.node
            && e.kind.name() == a.event
            && a.msg
                .as_ref()
                .is_none_or(|m| e.kind.msg().is_some_and(|x| x.kind.name() == m))
            && a.txn.is_none_or(|t| e.kind.txn() == Some(t));
        if matches {
            seen += 1;
            if seen == a.count.max(1) {
                return Some(Some(seq));
            }
        }
    }
    Some(None)
}

/// `run` re-run with `seed`: the root scenario on the new seed, then every what-if of
/// the stack again, at the same times, each the parent of the next. So after `s` the
/// header still says `fork N`, the run has the added faults, and `u` undoes them.
pub fn reseed(run: &RunView, seed: u64) -> Result<RunView, String> {
    let mut view = match (&run.fork, &run.parent) {
        (Some(f), Some(parent)) => {
            let parent = reseed(parent, seed)?;
            let choice = Choice {
                label: f.label.clone(),
                change: f.change.clone(),
            };
            let mut view = fork(&parent, &choice)?;
            view.parent = Some(Box::new(parent));
            view
        }
        _ => RunView::new(
            run.label.clone(),
            Arc::new(sovlab_sim::run_explained_on(
                &run.scenario,
                seed,
                run.trace().engine,
            )),
            run.origin,
        ),
    };
    keep_view_settings(run, &mut view);
    view.seek_time(run.now_us());
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

/// Where to look for why `v` broke: its `because.cause_seq` when the run was explained,
/// else where it was detected (`at_seq`).
pub fn cause_seq(r: &sovlab_sim::RunResult, v: &Verdict) -> Option<u64> {
    r.report
        .invariants
        .get(&v.name)
        .and_then(|i| i.because.as_ref())
        .and_then(|b| b.cause_seq)
        .or(v.at_seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovlab_sim::trace::EventKind;

    #[test]
    fn the_trigger_at_an_event_counts_its_like_up_to_it_and_skips_fault_events() {
        let text = include_str!("../../scenarios/2pc-coordinator-crash-forever.toml");
        let s = Scenario::parse(text, "2pc.toml").expect("catalogue scenario");
        let r = sovlab_sim::run(&s, 1);
        let ev = &r.trace.events;
        let crash = ev.iter().position(|e| e.kind == EventKind::Crash).unwrap();
        assert_eq!(after_event(&r.trace, crash), None);
        // Every send before the crash: its trigger's count is its rank among its like.
        let mut seen = std::collections::BTreeMap::new();
        for (i, e) in ev[..crash].iter().enumerate() {
            let Some(m) = e.kind.msg() else { continue };
            let n = seen
                .entry((e.node, e.kind.name(), m.kind.name(), e.kind.txn()))
                .or_insert(0);
            *n += 1;
            let a = after_event(&r.trace, i).unwrap();
            assert_eq!(a.count, *n, "event {i}");
            assert_eq!(a.msg.as_deref(), Some(m.kind.name()));
            assert_eq!(a.node, r.trace.node_name(e.node));
        }
        assert!(seen.values().any(|&n| n > 1), "some message kind repeats");
    }

    #[test]
    fn enter_on_a_broken_verdict_goes_to_its_cause_not_its_victim() {
        let text = include_str!("../../scenarios/2pc-coordinator-crash-forever.toml");
        let s = Scenario::parse(text, "2pc.toml").expect("catalogue scenario");
        let r = sovlab_sim::run_explained(&s, 1);
        let v = r.verdicts.iter().find(|v| v.name == "termination").unwrap();
        let crash = r
            .trace
            .events
            .iter()
            .position(|e| e.kind == EventKind::Crash);
        assert_eq!(cause_seq(&r, v), crash.map(|c| c as u64));
        assert_ne!(cause_seq(&r, v), v.at_seq);
        // Unexplained (a saved trace, say): the victim's place.
        let plain = sovlab_sim::run(&s, 1);
        let v = plain
            .verdicts
            .iter()
            .find(|v| v.name == "termination")
            .unwrap();
        assert_eq!(cause_seq(&plain, v), v.at_seq);
    }
}
