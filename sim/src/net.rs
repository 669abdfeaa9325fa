//! The network's fault model: loss, duplication, latency, partitions, loss windows.
//!
//! madsim supplies time, tasks, node crashes and the seeded RNG; the decision of what
//! happens to each message is made here, so every drop and duplicate can be named in
//! the trace (madsim's own packet loss is silent). The model is pure: give it the
//! link, the moment and a source of chance, and it says what becomes of a message.

use crate::keyed::Chooser;
use crate::msg::NodeIx;
use crate::node::Chance;
use crate::trace::DropReason;

/// What becomes of one sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Lost, and why.
    Dropped(DropReason),
    /// Arrives after `latency_us`; a duplicate arrives after `duplicate_us`.
    Delivered {
        /// One-way latency of the original.
        latency_us: u64,
        /// Latency of the network's extra copy, if it makes one.
        duplicate_us: Option<u64>,
    },
}

/// A loss window in force.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    id: usize,
    p: f64,
    link: Option<(NodeIx, NodeIx)>,
}

/// The network's state: base settings plus the faults in force.
#[derive(Debug, Clone, Default)]
pub struct Net {
    /// Base probability a message is lost.
    pub loss: f64,
    /// Probability a delivered message arrives twice.
    pub duplicate: f64,
    /// Latency range, microseconds, inclusive.
    pub latency_us: (u64, u64),
    /// Active partitions: for each, every node's group (None: not in the partition).
    partitions: Vec<(usize, Vec<Option<usize>>)>,
    windows: Vec<Window>,
}

impl Net {
    /// A network with base settings and no faults.
    pub fn new(loss: f64, duplicate: f64, latency_ms: [u64; 2]) -> Net {
        Net {
            loss,
            duplicate,
            latency_us: (latency_ms[0] * 1000, latency_ms[1] * 1000),
            ..Net::default()
        }
    }

    /// Starts partition `id`: `groups[n]` is node n's group, None if unlisted.
    /// Unlisted nodes keep talking to everyone.
    pub fn partition(&mut self, id: usize, groups: Vec<Option<usize>>) {
        self.partitions.push((id, groups));
    }

    /// Heals partition `id`.
    pub fn heal(&mut self, id: usize) {
        self.partitions.retain(|(p, _)| *p != id);
    }

    /// Opens loss window `id`.
    pub fn open_window(&mut self, id: usize, p: f64, link: Option<(NodeIx, NodeIx)>) {
        self.windows.push(Window { id, p, link });
    }

    /// Closes loss window `id`.
    pub fn close_window(&mut self, id: usize) {
        self.windows.retain(|w| w.id != id);
    }

    /// Can `a` reach `b` through every partition in force?
    pub fn connected(&self, a: NodeIx, b: NodeIx) -> bool {
        self.partitions.iter().all(
            |(_, g)| match (g.get(usize::from(a)), g.get(usize::from(b))) {
                (Some(Some(x)), Some(Some(y))) => x == y,
                _ => true,
            },
        )
    }

    /// The probability a message from `a` to `b` is lost now.
    pub fn loss_on(&self, a: NodeIx, b: NodeIx) -> f64 {
        let keep = self
            .windows
            .iter()
            .filter(|w| match w.link {
                None => true,
                Some((x, y)) => (x, y) == (a, b) || (y, x) == (a, b),
            })
            .fold(1.0 - self.loss, |keep, w| keep * (1.0 - w.p));
        1.0 - keep
    }

    fn latency(&self, chance: &mut dyn Chance) -> u64 {
        let (lo, hi) = self.latency_us;
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo + 1) as f64;
        lo + ((chance.uniform() * span) as u64).min(hi - lo)
    }

    /// Decides the fate of a message sent now from `a` to `b`.
    pub fn fate(&self, a: NodeIx, b: NodeIx, chance: &mut dyn Chance) -> Fate {
        if !self.connected(a, b) {
            return Fate::Dropped(DropReason::Partition);
        }
        let p = self.loss_on(a, b);
        if p >= 1.0 || (p > 0.0 && chance.uniform() < p) {
            return Fate::Dropped(DropReason::Loss);
        }
        let latency_us = self.latency(chance);
        let duplicate_us = (self.duplicate > 0.0
            && (self.duplicate >= 1.0 || chance.uniform() < self.duplicate))
            .then(|| self.latency(chance));
        Fate::Delivered {
            latency_us,
            duplicate_us,
        }
    }
}

impl Net {
    /// The fate of a message sent now from `a` to `b` as a choice point of the
    /// explorer: delivered (option 0); dropped, when the loss in force allows it and
    /// the chooser may still drop; duplicated, when duplication is on and the chooser may still. Certain loss
    /// (p = 1) and certain duplication are no choice. Latency is the minimum: in the
    /// explorer's time model the order of deliveries is chosen, not drawn.
    pub fn fate_chosen(&self, a: NodeIx, b: NodeIx, chooser: &mut dyn Chooser) -> Fate {
        if !self.connected(a, b) {
            return Fate::Dropped(DropReason::Partition);
        }
        let p = self.loss_on(a, b);
        if p >= 1.0 {
            return Fate::Dropped(DropReason::Loss);
        }
        let lo = self.latency_us.0;
        let can_drop = p > 0.0 && chooser.may_drop();
        let dup = self.duplicate;
        let can_dup = dup > 0.0 && dup < 1.0 && chooser.may_duplicate();
        let delivered = |twice: bool| Fate::Delivered {
            latency_us: lo,
            duplicate_us: twice.then_some(lo),
        };
        let n = 1 + u32::from(can_drop) + u32::from(can_dup);
        let c = if n > 1 { chooser.choose(n) } else { 0 };
        match (c, can_drop) {
            (0, _) => delivered(dup >= 1.0),
            (1, true) => {
                chooser.dropped();
                Fate::Dropped(DropReason::Loss)
            }
            _ => {
                chooser.duplicated();
                delivered(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn partitions_cut_only_across_groups() {
        let mut n = Net::new(0.0, 0.0, [1, 1]);
        n.partition(0, vec![Some(0), Some(1), Some(1), None]);
        assert!(!n.connected(0, 1));
        assert!(n.connected(1, 2));
        assert!(n.connected(0, 3), "unlisted nodes keep talking");
        n.heal(0);
        assert!(n.connected(0, 1));
    }

    #[test]
    fn loss_windows_combine_and_close() {
        let mut n = Net::new(0.5, 0.0, [1, 1]);
        n.open_window(7, 0.5, Some((1, 2)));
        assert!((n.loss_on(2, 1) - 0.75).abs() < 1e-12);
        assert!((n.loss_on(0, 1) - 0.5).abs() < 1e-12);
        n.close_window(7);
        assert!((n.loss_on(2, 1) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn latency_stays_in_range_and_covers_it() {
        let n = Net::new(0.0, 0.0, [2, 4]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let lats: Vec<u64> = (0..10_000)
            .map(|_| match n.fate(0, 1, &mut rng) {
                Fate::Delivered { latency_us, .. } => latency_us,
                Fate::Dropped(_) => panic!("no loss configured"),
            })
            .collect();
        assert!(lats.iter().all(|l| (2000..=4000).contains(l)));
        assert_eq!(*lats.iter().min().unwrap(), 2000);
        assert_eq!(*lats.iter().max().unwrap(), 4000);
    }

    #[test]
    fn certain_loss_needs_no_draw() {
        let n = Net::new(1.0, 0.0, [0, 0]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(n.fate(0, 1, &mut rng), Fate::Dropped(DropReason::Loss));
    }
}
