//! The choice sequence of one execution, advanced like an odometer.
//!
//! An execution is a run from scratch in which every choice point takes the option
//! its script says; a choice point past the end of the script takes option 0 and
//! appends itself. After the execution the script is cut to the points it reached
//! and its last digit that can still turn is turned (later digits are forgotten):
//! re-running from scratch with each script in turn visits every execution once,
//! with no copy of any state (TigerBeetle's exhaustigen does the same).

use crate::keyed::Chooser;
use std::sync::{Arc, Mutex, MutexGuard};

/// One choice point of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The option taken (`0..n`).
    pub value: u32,
    /// How many options there were.
    pub n: u32,
    /// A crash choice (written as a `[[fault]]` when the execution is replayed).
    pub crash: bool,
}

/// The choices of the current execution and the drop budget.
#[derive(Debug, Default)]
pub struct Script {
    entries: Vec<Entry>,
    pos: usize,
    drops: u32,
    max_drops: u32,
    dups: u32,
    max_dups: u32,
    /// Replaying a recorded list: never append, never advance.
    fixed: bool,
    /// A recorded choice was out of range, or the list ran out (the replay parted
    /// from the execution it records).
    diverged: bool,
}

impl Script {
    /// An empty script: the first execution takes option 0 everywhere.
    pub fn new(max_drops: u32, max_dups: u32) -> Script {
        Script {
            max_drops,
            max_dups,
            ..Script::default()
        }
    }

    /// A recorded list of choices (a `[replay]` section), followed exactly.
    pub fn fixed(choices: &[u32], max_drops: u32, max_dups: u32) -> Script {
        Script {
            entries: choices
                .iter()
                .map(|&value| Entry {
                    value,
                    n: u32::MAX,
                    crash: false,
                })
                .collect(),
            max_drops,
            max_dups,
            fixed: true,
            ..Script::default()
        }
    }

    /// Takes the next choice point, with `n >= 2` options.
    pub fn choose(&mut self, n: u32, crash: bool) -> u32 {
        debug_assert!(n >= 2);
        let at = self.pos;
        self.pos += 1;
        if let Some(e) = self.entries.get_mut(at) {
            if self.fixed {
                e.n = n;
                e.crash = crash;
                if e.value >= n {
                    self.diverged = true;
                    e.value = n - 1;
                }
            } else {
                // A replay from scratch meets the same points: the core is deterministic.
                debug_assert_eq!((e.n, e.crash), (n, crash), "choice point {at} moved");
            }
            return e.value;
        }
        if self.fixed {
            self.diverged = true;
        }
        self.entries.push(Entry { value: 0, n, crash });
        0
    }

    /// The choice points the current execution reached, in order.
    pub fn taken(&self) -> &[Entry] {
        &self.entries[..self.pos.min(self.entries.len())]
    }

    /// Is the execution still in the prefix an earlier one took (choices recorded
    /// ahead)? Its states there were met before: no pruning until it leaves it.
    pub fn in_prefix(&self) -> bool {
        self.pos < self.entries.len()
    }

    /// Did a fixed replay part from its record?
    pub fn diverged(&self) -> bool {
        self.diverged
    }

    /// Moves to the next execution; false when every one was visited.
    pub fn advance(&mut self) -> bool {
        self.entries.truncate(self.pos);
        self.pos = 0;
        self.drops = 0;
        self.dups = 0;
        while let Some(e) = self.entries.last_mut() {
            if e.value + 1 < e.n {
                e.value += 1;
                return true;
            }
            self.entries.pop();
        }
        false
    }

    /// Drops and duplicates by choice so far in this execution.
    pub fn drops(&self) -> (u32, u32) {
        (self.drops, self.dups)
    }
}

/// A script shared by the executor (its order and crash choices) and the core (its
/// chance and message fates, through [`Chooser`]).
#[derive(Debug, Clone)]
pub struct Shared(pub Arc<Mutex<Script>>);

impl Shared {
    /// Wraps `script`.
    pub fn new(script: Script) -> Shared {
        Shared(Arc::new(Mutex::new(script)))
    }

    /// The script (one thread uses it; a poisoned lock still holds a valid script).
    pub fn lock(&self) -> MutexGuard<'_, Script> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Chooser for Shared {
    fn choose(&mut self, n: u32) -> u32 {
        self.lock().choose(n, false)
    }

    fn may_drop(&self) -> bool {
        let s = self.lock();
        s.drops < s.max_drops
    }

    fn dropped(&mut self) {
        self.lock().drops += 1;
    }

    fn may_duplicate(&self) -> bool {
        let s = self.lock();
        s.dups < s.max_dups
    }

    fn duplicated(&mut self) {
        self.lock().dups += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two binary points then a ternary one: 2 * 2 * 3 executions, each once.
    #[test]
    fn the_odometer_visits_every_combination_once() {
        let mut s = Script::new(0, 0);
        let mut seen = Vec::new();
        loop {
            let v = [s.choose(2, false), s.choose(2, false), s.choose(3, false)];
            seen.push(v);
            if !s.advance() {
                break;
            }
        }
        assert_eq!(seen.len(), 12);
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 12);
    }

    /// A point reached only on one branch counts its options on that branch only.
    #[test]
    fn points_that_depend_on_earlier_choices_are_enumerated_per_branch() {
        let mut s = Script::new(0, 0);
        let mut count = 0;
        loop {
            if s.choose(2, false) == 1 {
                s.choose(3, false);
            }
            count += 1;
            if !s.advance() {
                break;
            }
        }
        assert_eq!(count, 1 + 3);
    }

    #[test]
    fn a_fixed_script_reports_divergence() {
        let mut s = Script::fixed(&[1, 5], 0, 0);
        assert_eq!(s.choose(2, false), 1);
        assert_eq!(s.choose(2, false), 1, "clamped");
        assert!(s.diverged());
    }
}
