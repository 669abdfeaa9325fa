//! The application state: screens, the run being explored, and how it changes.
//!
//! Nothing here draws; `screens` reads this state to draw and `keys` maps input to
//! the methods below.

use crate::compare::CompareView;
use crate::replay::Replay;
use crate::search::Query;
use crate::whatif::{Fork, WhatIfMenu};
use ratatui::layout::Rect;
use sovlab_sim::trace::{EventKind, Trace};
use sovlab_sim::{RunResult, Scenario};
use std::sync::Arc;
use std::time::Duration;

/// Which screen is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The list of scenarios.
    Catalogue,
    /// One run, step by step.
    Run,
    /// The same scenario under every protocol.
    Compare,
}

/// The panel of the run screen that arrow keys act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// The space-time diagram.
    Diagram,
    /// The store inspector.
    Inspector,
    /// The verdict panel.
    Verdicts,
}

impl Panel {
    fn next(self) -> Panel {
        match self {
            Panel::Diagram => Panel::Inspector,
            Panel::Inspector => Panel::Verdicts,
            Panel::Verdicts => Panel::Diagram,
        }
    }
    fn prev(self) -> Panel {
        self.next().next()
    }
}

/// One scenario of the catalogue.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its label (file or catalogue name).
    pub name: String,
    /// Its TOML text.
    pub toml: String,
    /// The parsed scenario, or why it cannot be run.
    pub scenario: Result<Scenario, String>,
}

/// Where a run screen returns to on Esc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The catalogue.
    Catalogue,
    /// The compare table it was opened from.
    Compare,
}

/// A marker on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkKind {
    /// A crash, restart, partition, heal or loss window.
    Fault,
    /// Where an invariant broke.
    Violation,
    /// Where a what-if fork diverged from its parent.
    Fork,
}

/// The events from a violation's cause to its victim: the cause, the place the
/// state went wrong, and every event of the victim transaction in between (for a
/// transaction that never finishes, up to its last event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain {
    /// The first event marked.
    pub from: usize,
    /// The last event marked.
    pub to: usize,
    /// The cause (the decisive fault's event, or the victim's when there is none).
    pub cause: usize,
    /// Where the violation was detected.
    pub victim: usize,
    /// The victim transaction, when the victim's event names one.
    pub txn: Option<sovlab_sim::msg::TxnId>,
}

impl Chain {
    /// The chain from event `cause` to event `victim` of `trace`.
    pub fn new(trace: &sovlab_sim::trace::Trace, cause: usize, victim: usize) -> Chain {
        let txn = trace.events.get(victim).and_then(|e| e.kind.txn());
        // A stranded transaction's story goes on after the place it was detected.
        let last = txn
            .and_then(|t| trace.events.iter().rposition(|e| e.kind.txn() == Some(t)))
            .unwrap_or(victim);
        Chain {
            from: cause.min(victim),
            to: cause.max(victim).max(last),
            cause,
            victim,
            txn,
        }
    }

    /// The chain in words, for the status line, most telling first (an 80-column
    /// footer cuts the end): "termination: #489 coordinator CRASHES (60.0 ms) → txn 3
    /// → detected at #512".
    pub fn words(&self, trace: &sovlab_sim::trace::Trace, invariant: &str) -> String {
        let at = |seq: usize| {
            trace.events.get(seq).map_or(String::new(), |e| {
                format!(
                    " {} ({} ms)",
                    crate::describe::describe(trace, e),
                    crate::describe::ms(e.t_us)
                )
            })
        };
        let victim = self.txn.map_or(String::new(), |t| format!(" → txn {t}"));
        format!(
            "{invariant}: #{}{}{victim} → detected at #{}",
            self.cause,
            at(self.cause),
            self.victim
        )
    }

    /// Is event `seq` (`e`) on the chain?
    pub fn contains(&self, seq: usize, e: &sovlab_sim::trace::Event) -> bool {
        seq == self.cause
            || seq == self.victim
            || (self.from <= seq
                && seq <= self.to
                && self.txn.is_some_and(|t| e.kind.txn() == Some(t)))
    }
}

/// One run being explored.
#[derive(Debug)]
pub struct RunView {
    /// What the run is called (scenario name, plus the protocol in compare).
    pub label: String,
    /// The scenario as run (a fork's includes its added faults).
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    /// Trace, verdicts and report.
    pub result: Arc<RunResult>,
    /// Store state as of any step.
    pub replay: Replay,
    /// The current step (event index).
    pub cursor: usize,
    /// The panel arrow keys act on.
    pub panel: Panel,
    /// The node whose stores the inspector shows while it is pinned (see
    /// [`RunView::inspected`]).
    pub node: usize,
    /// The inspector stays on `node` instead of following the current event.
    pub pinned: bool,
    /// Per node: does it keep a store?
    has_store: Vec<bool>,
    /// Timer events are left out of the diagram and skipped by stepping.
    pub hide_timers: bool,
    /// The scenario's description replaces the diagram.
    pub show_about: bool,
    /// The last `/` search, while it is active.
    pub search: Option<Query>,
    /// The verdict row selected in the verdict panel.
    pub verdict_sel: usize,
    /// Timeline markers, by event index.
    pub marks: Vec<(usize, MarkKind)>,
    /// The chain from a broken verdict's cause to its victim, marked in the diagram
    /// after Enter on that verdict.
    pub chain: Option<Chain>,
    /// Per node: intervals [crash, restart) of event indices when it was down.
    pub down: Vec<Vec<(usize, usize)>>,
    /// Event-index intervals during which a partition (true) or loss window (false) was active.
    pub net_faults: Vec<(usize, usize, bool)>,
    /// Outcomes the client was told, in order: (event index, committed so far).
    pub told: Vec<(usize, u32)>,
    /// The fork that made this run from its parent, if it is one.
    pub fork: Option<Fork>,
    /// The run this one was forked from (undo returns to it).
    pub parent: Option<Box<RunView>>,
    /// Where Esc goes.
    pub origin: Origin,
    /// The run was opened from a saved trace.
    pub from_file: bool,
}

impl RunView {
    /// Indexes a finished run for viewing.
    pub fn new(label: String, result: Arc<RunResult>, origin: Origin) -> RunView {
        let trace = &result.trace;
        let replay = Replay::new(trace);
        let mut marks = Vec::new();
        let mut down: Vec<Vec<(usize, usize)>> = vec![Vec::new(); trace.nodes.len()];
        let mut open_crash: Vec<Option<usize>> = vec![None; trace.nodes.len()];
        let mut net_faults = Vec::new();
        let mut open_partition: Vec<usize> = Vec::new();
        let mut open_loss: Vec<usize> = Vec::new();
        let end = trace.events.len();
        let mut told = Vec::new();
        let mut committed = 0u32;
        for (i, e) in trace.events.iter().enumerate() {
            if let EventKind::Outcome { committed: c, .. } = e.kind {
                committed += u32::from(c);
                told.push((i, committed));
            }
            if e.kind.is_fault() {
                marks.push((i, MarkKind::Fault));
            }
            let node = usize::from(e.node);
            match &e.kind {
                EventKind::Crash => {
                    if let Some(slot) = open_crash.get_mut(node) {
                        slot.get_or_insert(i);
                    }
                }
                EventKind::Restart => {
                    if let Some(start) = open_crash.get_mut(node).and_then(Option::take) {
                        down[node].push((start, i));
                    }
                }
                EventKind::Partition { .. } => open_partition.push(i),
                EventKind::Heal => {
                    for start in open_partition.drain(..) {
                        net_faults.push((start, i, true));
                    }
                }
                EventKind::LossStart { .. } => open_loss.push(i),
                EventKind::LossEnd { .. } if !open_loss.is_empty() => {
                    let start = open_loss.remove(0);
                    net_faults.push((start, i, false));
                }
                _ => {}
            }
        }
        for (node, start) in open_crash.iter().enumerate() {
            if let Some(s) = start {
                down[node].push((*s, end));
            }
        }
        net_faults.extend(open_partition.into_iter().map(|s| (s, end, true)));
        net_faults.extend(open_loss.into_iter().map(|s| (s, end, false)));
        // Every violation, not only each invariant's first: `n`/`p` visit them all.
        for v in &result.verdicts {
            let every = v.every_at.iter().chain(v.at_seq.as_ref());
            marks.extend(every.map(|&at| (at as usize, MarkKind::Violation)));
        }
        marks.sort();
        marks.dedup();
        let node = default_node(trace);
        let has_store = (0..trace.nodes.len())
            .map(|n| trace.stores.iter().any(|s| usize::from(s.node) == n))
            .collect();
        RunView {
            label,
            scenario: trace.scenario.clone(),
            seed: trace.seed,
            result,
            replay,
            cursor: 0,
            panel: Panel::Diagram,
            node,
            pinned: false,
            has_store,
            hide_timers: false,
            show_about: false,
            search: None,
            verdict_sel: 0,
            marks,
            chain: None,
            down,
            net_faults,
            told,
            fork: None,
            parent: None,
            origin,
            from_file: false,
        }
    }

    /// The trace.
    pub fn trace(&self) -> &Trace {
        &self.result.trace
    }

    /// Index of the last event (0 for an empty trace).
    pub fn last(&self) -> usize {
        self.trace().events.len().saturating_sub(1)
    }

    /// Is event `i` drawn in the diagram (timers may be hidden)?
    pub fn visible(&self, i: usize) -> bool {
        !(self.hide_timers
            && matches!(
                self.trace().events.get(i).map(|e| &e.kind),
                Some(EventKind::Timer { .. })
            ))
    }

    /// The nearest visible event to `i`, looking in the direction of `forward` first.
    fn nearest_visible(&self, i: usize, forward: bool) -> usize {
        let last = self.last();
        let ahead = |i: usize| (i..=last).find(|&j| self.visible(j));
        let behind = |i: usize| (0..=i).rev().find(|&j| self.visible(j));
        let found = if forward {
            ahead(i).or_else(|| behind(i))
        } else {
            behind(i).or_else(|| ahead(i))
        };
        found.unwrap_or(i)
    }

    /// Moves the cursor by `delta` events, within the trace, onto a visible event.
    pub fn step(&mut self, delta: i64) {
        let to = (self.cursor as i64 + delta).clamp(0, self.last() as i64) as usize;
        self.cursor = self.nearest_visible(to, delta >= 0);
    }

    /// Puts the cursor on event `seq` (clamped).
    pub fn jump(&mut self, seq: usize) {
        self.cursor = seq.min(self.last());
    }

    /// Shows or hides timers; the cursor leaves a timer it was on.
    pub fn toggle_timers(&mut self) {
        self.hide_timers = !self.hide_timers;
        self.cursor = self.nearest_visible(self.cursor, true);
    }

    /// The node the inspector shows: the pinned one, else the node of the latest event
    /// (at or before the cursor) that happened at, or came from or went to, a node
    /// with a store: the inspector follows the story.
    pub fn inspected(&self) -> usize {
        if self.pinned {
            return self.node;
        }
        let events = &self.trace().events;
        let has = |n: u16| self.has_store.get(usize::from(n)).copied().unwrap_or(false);
        let from = self.cursor.min(events.len().saturating_sub(1));
        // A bounded look back: a long run of client-only events falls back to `node`.
        for e in events[..events.len().min(from + 1)].iter().rev().take(2000) {
            if has(e.node) {
                return usize::from(e.node);
            }
            let peer = match &e.kind {
                EventKind::Send { to, .. } => Some(*to),
                EventKind::Deliver { from, .. } => Some(*from),
                _ => None,
            };
            if let Some(p) = peer.filter(|&p| has(p)) {
                return usize::from(p);
            }
        }
        self.node
    }

    /// Pins the inspector to the node `delta` lanes from the one it shows.
    pub fn choose_node(&mut self, delta: i64) {
        let last = self.trace().nodes.len().saturating_sub(1) as i64;
        self.node = (self.inspected() as i64 + delta).clamp(0, last) as usize;
        self.pinned = true;
    }

    /// Pins the inspector to the node it shows, or lets it follow the events again.
    pub fn toggle_pin(&mut self) {
        if !self.pinned {
            self.node = self.inspected();
        }
        self.pinned = !self.pinned;
    }

    /// The next marker after the cursor (`forward`) or the previous one before it.
    pub fn next_mark(&self, forward: bool) -> Option<usize> {
        if forward {
            self.marks.iter().map(|m| m.0).find(|&s| s > self.cursor)
        } else {
            self.marks
                .iter()
                .rev()
                .map(|m| m.0)
                .find(|&s| s < self.cursor)
        }
    }

    /// Was node `node` down at event `seq`?
    pub fn is_down(&self, node: usize, seq: usize) -> bool {
        self.down
            .get(node)
            .is_some_and(|iv| iv.iter().any(|&(a, b)| a <= seq && seq < b))
    }

    /// Outcomes the client had been told by the cursor: (committed, aborted).
    pub fn told_by_cursor(&self) -> (u32, u32) {
        let n = self.told.partition_point(|&(i, _)| i <= self.cursor);
        match n.checked_sub(1).map(|k| self.told[k]) {
            Some((_, c)) => (c, n as u32 - c),
            None => (0, 0),
        }
    }

    /// Virtual time of the cursor, in microseconds.
    pub fn now_us(&self) -> u64 {
        self.trace().events.get(self.cursor).map_or(0, |e| e.t_us)
    }

    /// Puts the cursor on the first event at or after virtual time `t_us`.
    pub fn seek_time(&mut self, t_us: u64) {
        let i = self.trace().events.partition_point(|e| e.t_us < t_us);
        self.jump(i);
    }

    /// How many what-ifs this run stands on (0: not a fork).
    pub fn depth(&self) -> usize {
        let mut depth = 0;
        let mut p = self.parent.as_deref();
        while let Some(x) = p {
            depth += 1;
            p = x.parent.as_deref();
        }
        depth
    }
}

/// The node the inspector starts on: the one holding the most service stores.
fn default_node(trace: &Trace) -> usize {
    let mut best = (0, 0usize);
    for (i, _) in trace.nodes.iter().enumerate() {
        let n = trace
            .stores
            .iter()
            .filter(|s| usize::from(s.node) == i && s.service.is_some())
            .count();
        if n > best.1 {
            best = (i, n);
        }
    }
    best.0
}

/// Playback speeds, in events per second.
pub const SPEEDS: [u32; 11] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];

/// The whole application.
#[derive(Debug)]
pub struct App {
    /// The engine new runs use (forks and re-runs use their run's own).
    pub engine: sovlab_sim::Engine,
    /// The screen that is up.
    pub screen: Screen,
    /// The catalogue.
    pub catalogue: Vec<Entry>,
    /// The selected catalogue row.
    pub cat_sel: usize,
    /// The run being explored.
    pub run: Option<RunView>,
    /// The compare table, while it is up or a run opened from it is.
    pub compare: Option<CompareView>,
    /// The what-if menu, while open.
    pub menu: Option<WhatIfMenu>,
    /// The help overlay is shown.
    pub help: bool,
    /// How far the help overlay is scrolled, in lines.
    pub help_scroll: usize,
    /// The `/` prompt, while the learner types a search.
    pub prompt: Option<String>,
    /// The user asked to quit.
    pub quit: bool,
    /// A one-line message (errors, what just happened).
    pub status: String,
    /// Playback is running.
    pub playing: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    /// Fractional events owed to playback.
    play_acc: f64,
    /// A seed from the command line, used for catalogue runs.
    pub seed: Option<u64>,
    /// The terminal's size at the last draw, for mouse hit-testing.
    pub area: Rect,
}

impl App {
    /// An app on the catalogue `entries` (label, TOML text).
    pub fn new(entries: Vec<(String, String)>, seed: Option<u64>) -> App {
        let catalogue = entries
            .into_iter()
            .map(|(name, toml)| {
                let scenario = Scenario::parse(&toml, &name).map_err(|e| e.to_string());
                Entry {
                    name,
                    toml,
                    scenario,
                }
            })
            .collect();
        App {
            engine: sovlab_sim::Engine::default(),
            screen: Screen::Catalogue,
            catalogue,
            cat_sel: 0,
            run: None,
            compare: None,
            menu: None,
            help: false,
            help_scroll: 0,
            prompt: None,
            quit: false,
            status: String::new(),
            playing: false,
            speed: 4,
            play_acc: 0.0,
            seed,
            area: Rect::new(0, 0, 80, 24),
        }
    }

    /// Runs `scenario` with `seed` and shows it.
    pub fn open_scenario(&mut self, scenario: &Scenario, seed: u64) {
        let result = sovlab_sim::run_explained_on(scenario, seed, self.engine);
        self.open_result(scenario.name.clone(), result, Origin::Catalogue);
    }

    /// Shows a finished run (from a run, a saved trace, or the compare table).
    pub fn open_result(&mut self, label: String, result: RunResult, origin: Origin) {
        let view = RunView::new(label, Arc::new(result), origin);
        self.show(view);
    }

    /// Makes `view` the run on screen.
    pub fn show(&mut self, view: RunView) {
        crate::terminal::set_context(&view.scenario.name, view.seed);
        self.run = Some(view);
        self.screen = Screen::Run;
        self.playing = false;
    }

    /// Runs the selected catalogue entry.
    pub fn open_selected(&mut self) {
        let Some(entry) = self.catalogue.get(self.cat_sel) else {
            return;
        };
        match &entry.scenario {
            Ok(s) => {
                let s = s.clone();
                let seed = s.seed_or(self.seed);
                self.open_scenario(&s, seed);
                self.status = format!("ran {:?} with seed {seed}", s.name);
            }
            Err(e) => self.status = format!("cannot run: {}", first_line(e)),
        }
    }

    /// Re-runs the current scenario with the next (`+1`) or previous seed, keeping the
    /// cursor's virtual time. A fork stays a fork: every what-if of the stack is re-run
    /// on the new seed (see [`crate::whatif::reseed`]), so header, undo and run agree.
    pub fn change_seed(&mut self, forward: bool) {
        let Some(run) = self.run.take() else { return };
        let seed = if forward {
            run.seed.wrapping_add(1)
        } else {
            run.seed.wrapping_sub(1)
        };
        let t = run.now_us();
        match crate::whatif::reseed(&run, seed) {
            Ok(mut view) => {
                view.seek_time(t);
                let forks = view.depth();
                self.status = format!(
                    "seed {seed}: cursor kept at {} ms{}",
                    crate::describe::ms(t),
                    match forks {
                        0 => String::new(),
                        1 => ", the what-if re-run on it (u undoes it)".to_string(),
                        n => format!(", the {n} what-ifs re-run on it (u undoes the last)"),
                    }
                );
                // A triggered what-if may match another event on this seed, or none.
                match crate::whatif::trigger_fired(&view) {
                    Some(Some(seq)) => self
                        .status
                        .push_str(&format!("; its trigger fired right after event {seq}")),
                    Some(None) => self
                        .status
                        .push_str("; its trigger never fired on this seed: nothing was added"),
                    None => {}
                }
                self.show(view);
            }
            Err(msg) => {
                self.status = msg;
                self.run = Some(run);
            }
        }
    }

    /// Runs one piece of pending work (a compare row); `false` when nothing is left.
    /// The terminal loop draws between pieces, so long work shows its progress.
    pub fn work(&mut self) -> bool {
        self.compare.as_mut().is_some_and(CompareView::work)
    }

    /// Is work pending?
    pub fn busy(&self) -> bool {
        self.compare.as_ref().is_some_and(|c| !c.done())
    }

    /// Advances playback by `dt` of wall time.
    pub fn tick(&mut self, dt: Duration) {
        if !self.playing || self.screen != Screen::Run || self.menu.is_some() {
            return;
        }
        let Some(run) = self.run.as_mut() else { return };
        self.play_acc += dt.as_secs_f64() * f64::from(SPEEDS[self.speed]);
        let steps = self.play_acc.floor();
        self.play_acc -= steps;
        run.step(steps as i64);
        if run.cursor >= run.last() {
            self.playing = false;
        }
    }

    /// Starts or stops playback.
    pub fn toggle_play(&mut self) {
        self.playing = !self.playing;
        self.play_acc = 0.0;
        if self.playing {
            if let Some(run) = self.run.as_mut() {
                if run.cursor >= run.last() {
                    run.cursor = 0;
                }
            }
        }
    }

    /// Changes playback speed by one notch.
    pub fn speed_by(&mut self, up: bool) {
        self.speed = if up {
            (self.speed + 1).min(SPEEDS.len() - 1)
        } else {
            self.speed.saturating_sub(1)
        };
        self.status = format!("speed {} events/s", SPEEDS[self.speed]);
    }

    /// The run panel cycle (Tab / Shift-Tab).
    pub fn cycle_panel(&mut self, forward: bool) {
        if let Some(run) = self.run.as_mut() {
            run.panel = if forward {
                run.panel.next()
            } else {
                run.panel.prev()
            };
        }
    }

    /// Undoes the last what-if fork.
    pub fn undo_fork(&mut self) {
        let Some(run) = self.run.as_mut() else { return };
        match run.parent.take() {
            Some(parent) => {
                self.status = "fork undone".to_string();
                let parent = *parent;
                self.show(parent);
            }
            None => self.status = "no fork to undo".to_string(),
        }
    }

    /// Esc: closes what is open, or goes back one screen.
    pub fn back(&mut self) {
        if self.help {
            self.help = false;
        } else if self.menu.is_some() {
            self.menu = None;
        } else {
            match self.screen {
                Screen::Run => {
                    self.playing = false;
                    let from_compare = self.run.as_ref().map(|r| r.origin) == Some(Origin::Compare);
                    self.screen = if from_compare && self.compare.is_some() {
                        Screen::Compare
                    } else {
                        Screen::Catalogue
                    };
                }
                Screen::Compare => {
                    if let Some(base) = self.compare.take().and_then(|c| c.base) {
                        self.show(*base);
                    } else {
                        self.screen = Screen::Run;
                    }
                }
                Screen::Catalogue => self.status = "q quits".to_string(),
            }
        }
    }
}

/// The first line of a (possibly multi-line) message.
pub fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
