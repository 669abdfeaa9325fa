//! The explorer's executor: a third driver of the system core, in which every choice
//! of what happens next is a choice point of the [`Script`].
//!
//! Time model (docs/reference/explore.md): an asynchronous network. Any message in
//! transit may be delivered next (its arrival and the handling of the receiver's
//! inbox are one step, at 1 ms after the previous step). Timers fire only when
//! nothing is in transit, earliest deadline first (a tie is a choice): timeouts and
//! resends are what a quiet network leads to. Faults, the scenario's and the crashes
//! the explorer chooses, fire when the clock reaches them, after a step.

use super::script::Shared;
use crate::exec::{Step, System, Todo, MIN_DELAY_US};
use crate::msg::{Msg, NodeIx};
use crate::scenario::Scenario;
use crate::trace::{EventKind, StopReason, Trace};
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};

/// How one execution is bounded and pruned.
#[derive(Debug, Clone)]
pub struct Config {
    /// Most crashes.
    pub max_crashes: u32,
    /// The nodes that may crash.
    pub crashable: Vec<NodeIx>,
    /// A crashed node restarts this long after (µs); None: never.
    pub restart_us: Option<u64>,
    /// Most steps.
    pub max_depth: u32,
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Nothing left to do (the core's quiescence).
    Quiescent,
    /// The system came back to a state it was in earlier in the execution: from here
    /// it can only go round (a run would spin until its duration).
    Cycle,
    /// Nothing can happen and yet the system is not quiescent.
    Stuck,
    /// `[limits] max_events` stopped it.
    Limit,
    /// It reached the depth bound: not an end, the search was cut.
    Cut,
    /// It reached a state an earlier execution reached in as few events: its
    /// continuations were explored there.
    Pruned,
}

impl End {
    /// Is this execution over, so that end-of-run invariants apply to it?
    pub fn finished(self) -> bool {
        !matches!(self, End::Cut | End::Pruned)
    }
}

/// A message in transit.
#[derive(Debug, Clone, Copy)]
struct Transit {
    from: NodeIx,
    to: NodeIx,
    msg: Msg,
}

/// An armed timer.
#[derive(Debug, Clone, Copy)]
struct Armed {
    deadline_us: u64,
    node: NodeIx,
    timer: u64,
    incarnation: u32,
}

/// What one execution left.
pub struct Execution {
    /// How it ended.
    pub end: End,
    /// Its trace (its events only when they were kept).
    pub trace: Trace,
    /// The crashes it chose: (time µs, node), in order.
    pub crashes: Vec<(u64, NodeIx)>,
    /// Steps taken (deliveries and timer firings).
    pub steps: u32,
}

/// FNV-1a as a [`Hasher`]: fixed, so fingerprints are the same in every process.
struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn fnv() -> Fnv {
    Fnv(0xcbf2_9ce4_8422_2325)
}

/// Formatting straight into the hash: an event's `Debug` text is hashed as it is
/// written, with no string built per event (FNV is byte-wise, so the digest is the
/// same as hashing the whole text at once).
impl std::fmt::Write for Fnv {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.write(s.as_bytes());
        Ok(())
    }
}

/// One execution under `script`. `visited` (state fingerprint -> fewest events it
/// was reached in) prunes revisits when given; `keep` keeps the events.
pub struct Driver<'a> {
    sys: System,
    script: Shared,
    cfg: &'a Config,
    first_fault: usize,
    now_us: u64,
    transit: Vec<Transit>,
    armed: Vec<Armed>,
    wake: VecDeque<NodeIx>,
    boots: VecDeque<NodeIx>,
    crashes: Vec<(u64, NodeIx)>,
    steps: u32,
    /// Order-free digest of the protocol events so far (the history checkers read).
    history: u64,
    digested: usize,
}

impl<'a> Driver<'a> {
    /// A fresh system of `scenario` under `script`.
    pub fn new(scenario: &Scenario, script: Shared, cfg: &'a Config, hash: bool) -> Driver<'a> {
        let mut sys = System::new(scenario, scenario.seed.unwrap_or(0), true);
        sys.configure(&crate::RunOptions {
            keep_events: true,
            hash,
            engine: crate::Engine::Des,
            ..crate::RunOptions::default()
        });
        sys.set_chooser(Box::new(script.clone()));
        Driver {
            sys,
            script,
            cfg,
            first_fault: scenario.faults.len(),
            now_us: 0,
            transit: Vec::new(),
            armed: Vec::new(),
            wake: VecDeque::new(),
            boots: VecDeque::new(),
            crashes: Vec::new(),
            steps: 0,
            history: 0,
            digested: 0,
        }
    }

    /// Carries out the core's todos, boots and inbox handling until nothing is left
    /// at this instant.
    fn settle(&mut self) {
        let now = self.now_us;
        loop {
            let todos: Vec<Todo> = self.sys.todo().collect();
            for todo in todos {
                match todo {
                    Todo::Arrive { from, to, msg, .. } => {
                        self.transit.push(Transit { from, to, msg })
                    }
                    Todo::Timer {
                        after_us,
                        node,
                        timer,
                        incarnation,
                    } => self.armed.push(Armed {
                        deadline_us: now + after_us,
                        node,
                        timer,
                        incarnation,
                    }),
                    Todo::Wake(n) => self.wake.push_back(n),
                    Todo::Kill(n) => self.armed.retain(|a| a.node != n),
                    Todo::Boot(n) => self.boots.push_back(n),
                    // explore() refuses scenarios with service time, so no service
                    // is ever begun; ending one at once keeps the core's queue honest.
                    Todo::Served {
                        node,
                        server,
                        incarnation,
                        ..
                    } => self.sys.served(node, server, incarnation, now),
                }
            }
            if let Some(n) = self.boots.pop_front() {
                self.sys.boot(n, now);
                continue;
            }
            if let Some(&n) = self.wake.front() {
                if self.sys.stopped() || self.sys.handle_next(n, now) == Step::Idle {
                    self.wake.pop_front();
                }
                continue;
            }
            break;
        }
    }

    /// Folds the events recorded since the last call into the history digest: every
    /// protocol event (not the network's or a timer's), by what it says and where,
    /// summed so that interleavings of the same events digest alike.
    fn digest(&mut self) {
        for e in &self.sys.events()[self.digested..] {
            let skip = matches!(
                e.kind,
                EventKind::Send { .. }
                    | EventKind::Deliver { .. }
                    | EventKind::Timer { .. }
                    | EventKind::Drop { .. }
                    | EventKind::Duplicate { .. }
            );
            if !skip {
                let mut h = fnv();
                e.node.hash(&mut h);
                // EventKind holds floats, so it has no Hash; its Debug text stands in.
                let _ = std::fmt::Write::write_fmt(&mut h, format_args!("{:?}", e.kind));
                self.history = self.history.wrapping_add(h.finish());
            }
        }
        self.digested = self.sys.events().len();
    }

    /// The fingerprints of the whole state: the core's, what is in transit (as a
    /// multiset), the armed timers, the history digest and the budgets left. The
    /// exact one hashes the timers' relative deadlines (pruning); the coarse one only
    /// which timers are armed (the end rule: a state repeats, deadlines aside).
    fn fingerprint(&mut self) -> (u64, u64) {
        self.digest();
        let now = self.now_us;
        let mut h = fnv();
        self.sys.fingerprint(now, &mut h);
        let mut transit: Vec<(NodeIx, NodeIx, Msg)> = self
            .transit
            .iter()
            .map(|t| (t.from, t.to, crate::exec::system::canonical(&t.msg)))
            .collect();
        transit.sort();
        transit.hash(&mut h);
        (self.history, self.crashes.len(), self.script.lock().drops()).hash(&mut h);
        let mut armed: Vec<(NodeIx, u64, u64)> = self
            .armed
            .iter()
            .map(|a| (a.node, a.timer, a.deadline_us.saturating_sub(now)))
            .collect();
        armed.sort();
        let mut coarse = Fnv(h.finish());
        for a in &armed {
            (a.0, a.1).hash(&mut coarse);
        }
        armed.hash(&mut h);
        (h.finish(), coarse.finish())
    }

    /// The end rule: has the system been in this state (deadlines aside) earlier in
    /// the execution? Then from here it can do nothing it could not do the first
    /// time: its timers fire, change nothing, and are armed again.
    fn went_round(path: &mut HashSet<u64>, coarse: u64) -> bool {
        !path.insert(coarse)
    }

    /// Runs the execution to its end. `visited`: prune states reached before in as
    /// few events.
    pub fn run(mut self, mut visited: Option<&mut HashMap<u64, u64>>) -> Execution {
        for n in 0..self.sys.node_count() {
            self.sys.boot(n as NodeIx, 0);
            self.settle();
        }
        let mut path: HashSet<u64> = HashSet::new();
        let end = loop {
            while self.sys.fire_next_fault(self.now_us) {
                self.settle();
            }
            if self.sys.stopped() {
                break End::Limit;
            }
            if self.sys.quiescent() {
                self.sys.check_end(self.now_us);
                break End::Quiescent;
            }
            if self.steps >= self.cfg.max_depth {
                break End::Cut;
            }
            // Before the state is hashed: a replay meets the crash as a scheduled fault
            // at the top of this loop, and must hash the same states.
            if self.crash_choice() {
                continue;
            }
            let (fp, coarse) = self.fingerprint();
            if Self::went_round(&mut path, coarse) {
                self.sys.end_as(StopReason::Duration);
                break End::Cycle;
            }
            let fresh = !self.script.lock().in_prefix();
            if let (Some(v), true) = (visited.as_deref_mut(), fresh) {
                let events = self.sys.event_count();
                match v.get(&fp) {
                    Some(&seen) if seen <= events => break End::Pruned,
                    _ => {
                        v.insert(fp, events);
                    }
                }
            }
            if !self.transit.is_empty() {
                let n = self.transit.len() as u32;
                let i = if n > 1 {
                    self.script.lock().choose(n, false)
                } else {
                    0
                };
                let t = self.transit.remove(i as usize);
                self.now_us += MIN_DELAY_US;
                self.sys.arrive(t.from, t.to, t.msg, self.now_us);
                self.settle();
                self.steps += 1;
                continue;
            }
            let next_timer = self.armed.iter().map(|a| a.deadline_us).min();
            let fire_at = next_timer.map(|d| round_up_ms(d.max(self.now_us + MIN_DELAY_US)));
            match (self.sys.next_fault_at(), fire_at) {
                (Some(f), t) if t.is_none_or(|t| f <= t) => {
                    self.now_us = self.now_us.max(f);
                }
                (_, Some(at)) => {
                    let d = next_timer.expect("a timer is armed");
                    let due: Vec<usize> = (0..self.armed.len())
                        .filter(|&i| self.armed[i].deadline_us == d)
                        .collect();
                    let n = due.len() as u32;
                    let i = if n > 1 {
                        self.script.lock().choose(n, false)
                    } else {
                        0
                    };
                    let a = self.armed.remove(due[i as usize]);
                    self.now_us = at;
                    self.sys.timer_due(a.node, a.timer, a.incarnation);
                    self.settle();
                    self.steps += 1;
                }
                _ => {
                    self.sys.end_as(StopReason::Duration);
                    break End::Stuck;
                }
            }
        };
        self.sys.finish(self.now_us);
        let mut trace = self.sys.trace();
        trace.engine = crate::Engine::Des;
        Execution {
            end,
            trace,
            crashes: self.crashes,
            steps: self.steps,
        }
    }

    /// The crash choice point, at a handler boundary: no crash, or one of the
    /// crashable nodes that are up. True when a crash was chosen.
    fn crash_choice(&mut self) -> bool {
        if self.crashes.len() as u32 >= self.cfg.max_crashes {
            return false;
        }
        let up: Vec<NodeIx> = self
            .cfg
            .crashable
            .iter()
            .copied()
            .filter(|&n| self.sys.is_up(n))
            .collect();
        if up.is_empty() {
            return false;
        }
        let c = self.script.lock().choose(1 + up.len() as u32, true);
        if c == 0 {
            return false;
        }
        let node = up[c as usize - 1];
        let fault = self.first_fault + self.crashes.len();
        self.sys
            .inject_crash(node, self.now_us, self.cfg.restart_us, fault);
        self.crashes.push((self.now_us, node));
        true
    }
}

/// Faults are written in whole ms: the explorer's clock stays on them.
fn round_up_ms(us: u64) -> u64 {
    us.div_ceil(1000) * 1000
}
