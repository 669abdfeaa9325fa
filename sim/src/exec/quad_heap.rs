//! A four-ary max-heap: the DES's agenda.
//!
//! The same interface and the same order out as `std`'s `BinaryHeap` (the greatest
//! first; the DES's entries are all distinct, so any correct heap pops them in one
//! order and the traces stay byte-identical), with half the levels: a push climbs
//! `log4 n` levels instead of `log2 n`, and most pushes of a run are wake-ups due
//! now, which climb to the top.

/// A max-heap whose every node has four children.
#[derive(Debug)]
pub struct QuadHeap<T> {
    v: Vec<T>,
}

impl<T: Ord> QuadHeap<T> {
    /// An empty heap with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        QuadHeap {
            v: Vec::with_capacity(n),
        }
    }

    /// How many entries wait.
    pub fn len(&self) -> usize {
        self.v.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// Adds `x`.
    pub fn push(&mut self, x: T) {
        self.v.push(x);
        let mut i = self.v.len() - 1;
        while i > 0 {
            let p = (i - 1) / 4;
            if self.v[i] <= self.v[p] {
                break;
            }
            self.v.swap(i, p);
            i = p;
        }
    }

    /// Takes the greatest entry out.
    pub fn pop(&mut self) -> Option<T> {
        let last = self.v.pop()?;
        if self.v.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.v[0], last);
        let n = self.v.len();
        let mut i = 0;
        loop {
            let first = 4 * i + 1;
            if first >= n {
                break;
            }
            let mut m = first;
            for c in first + 1..(first + 4).min(n) {
                if self.v[c] > self.v[m] {
                    m = c;
                }
            }
            if self.v[m] <= self.v[i] {
                break;
            }
            self.v.swap(i, m);
            i = m;
        }
        Some(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::SmallRng, Rng, SeedableRng};
    use std::collections::BinaryHeap;

    /// Any mix of pushes and pops gives what `std`'s heap gives, repeats included.
    #[test]
    fn pops_what_the_binary_heap_pops() {
        for seed in 0..50 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut ours = QuadHeap::with_capacity(4);
            let mut std = BinaryHeap::new();
            for _ in 0..2_000 {
                if rng.gen_bool(0.55) {
                    let x: u32 = rng.gen_range(0..300);
                    ours.push(x);
                    std.push(x);
                } else {
                    assert_eq!(ours.pop(), std.pop(), "seed {seed}");
                }
                assert_eq!(ours.len(), std.len());
            }
            while let Some(x) = std.pop() {
                assert_eq!(ours.pop(), Some(x));
            }
            assert!(ours.is_empty() && ours.pop().is_none());
        }
    }
}
