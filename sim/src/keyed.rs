//! Keyed randomness: every random decision is drawn from a stream named by *what it
//! decides*, not by when it is drawn.
//!
//! A draw made from `stream(seed, &[Purpose::X as u64, a, b, ...])` depends only on the
//! seed and its key, so adding a fault, or reordering events that happen at one
//! instant, changes only the draws whose key the change touches. A key starts with a
//! [`Purpose`] so two kinds of decision about the same thing never share a stream.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// What a stream decides; the first part of every key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u64)]
pub enum Purpose {
    /// A step's business rule (reject or not).
    Rule = 1,
    /// A message's fate: loss, latency, duplicate and the duplicate's latency.
    Message = 2,
    /// A read's choices.
    Read = 3,
    /// A node's service time for one message.
    Service = 4,
    /// Which row (of a service's `keys`) a transaction's step uses.
    Row = 5,
    /// Arrival times of an open-loop workload.
    Arrival = 6,
    /// Anything a protocol draws through its context that has no purpose of its own.
    Other = 7,
}

/// Mixes one 64-bit word into a hash state (the SplitMix64 finalizer: every input bit
/// reaches every output bit).
fn mix(h: u64, x: u64) -> u64 {
    let mut z = h ^ x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 64-bit identity of a key under `seed`.
pub fn key_hash(seed: u64, purpose: Purpose, parts: &[u64]) -> u64 {
    let mut h = mix(seed, purpose as u64);
    for &p in parts {
        h = mix(h, p);
    }
    mix(h, parts.len() as u64)
}

/// The stream of draws for one decision: a small, fast generator seeded by the key.
pub fn stream(seed: u64, purpose: Purpose, parts: &[u64]) -> SmallRng {
    SmallRng::seed_from_u64(key_hash(seed, purpose, parts))
}

/// Decides choice points instead of chance: the explorer installs one, so every
/// decision with 0 < p < 1 (and every pick among several) is enumerated both ways
/// rather than drawn (docs/reference/explore.md).
pub trait Chooser: Send {
    /// Which of `n` options (`n >= 2`) is taken at the next choice point.
    fn choose(&mut self, n: u32) -> u32;
    /// May the network still drop a message by choice (fewer than the bound so far)?
    fn may_drop(&self) -> bool;
    /// A message was dropped by choice.
    fn dropped(&mut self);
    /// May the network still duplicate a message by choice?
    fn may_duplicate(&self) -> bool;
    /// A message was duplicated by choice.
    fn duplicated(&mut self);
}

/// The keyed draws of one run: a seed, and how many times each key was drawn so far.
///
/// A decision that can happen more than once under the same key (a step's rule judged
/// again after a retry, the same message sent again) gets the next *occurrence* of
/// its key: the n-th draw of key K is `stream(seed, purpose, K ++ [n])`. The count is
/// per key, so another transaction drawing more never shifts it. Keys are told apart
/// by their 64-bit hash (a collision in one run is about as likely as 2^-40).
pub struct Draws {
    seed: u64,
    /// Looked up only, never iterated, so its order cannot reach a trace; the keys
    /// are already mixed 64-bit hashes, so they hash to themselves.
    seen: HashMap<u64, u32, BuildHasherDefault<KeyHasher>>,
    /// When set, decisions are choice points (the explorer); never set in a run.
    chooser: Option<Box<dyn Chooser>>,
}

impl std::fmt::Debug for Draws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Draws")
            .field("seed", &self.seed)
            .field("seen", &self.seen.len())
            .field("chooser", &self.chooser.is_some())
            .finish()
    }
}

/// The hasher of a key that is already a well-mixed 64-bit hash: the hash itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the map's key is a `u64`); any other input folds in.
        for &b in bytes {
            self.0 = mix(self.0, u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
}

impl Draws {
    /// No key drawn yet, under `seed`.
    pub fn new(seed: u64) -> Draws {
        Draws {
            seed,
            seen: HashMap::default(),
            chooser: None,
        }
    }

    /// Makes every later decision a choice point of `chooser` (the explorer).
    pub fn set_chooser(&mut self, chooser: Box<dyn Chooser>) {
        self.chooser = Some(chooser);
    }

    /// The chooser, if one is installed.
    pub fn chooser(&mut self) -> Option<&mut (dyn Chooser + 'static)> {
        self.chooser.as_deref_mut()
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream of the next occurrence of (`purpose`, `parts`).
    pub fn next(&mut self, purpose: Purpose, parts: &[u64]) -> SmallRng {
        let n = self.seen.entry(key_hash(0, purpose, parts)).or_insert(0);
        let occurrence = u64::from(*n);
        *n += 1;
        // `stream(seed, purpose, parts ++ [occurrence])`, hashed in place: a draw is
        // made for every message sent, and copying its key was an allocation each.
        let mut h = mix(self.seed, purpose as u64);
        for &p in parts {
            h = mix(h, p);
        }
        h = mix(h, occurrence);
        SmallRng::seed_from_u64(mix(h, parts.len() as u64 + 1))
    }

    /// True with probability `p`, drawn from the next occurrence of the key; never
    /// draws (and counts no occurrence) for p <= 0 or p >= 1.
    pub fn chance(&mut self, purpose: Purpose, parts: &[u64], p: f64) -> bool {
        if p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else if let Some(c) = self.chooser.as_deref_mut() {
            // Option 0 is the usual outcome (no): the first execution is the calm one.
            c.choose(2) == 1
        } else {
            self.next(purpose, parts).gen::<f64>() < p
        }
    }

    /// A uniform pick in `0..n` from the next occurrence of the key; 0 without
    /// drawing when `n <= 1`.
    pub fn pick(&mut self, purpose: Purpose, parts: &[u64], n: u32) -> u32 {
        if n <= 1 {
            return 0;
        }
        if let Some(c) = self.chooser.as_deref_mut() {
            return c.choose(n);
        }
        self.next(purpose, parts).gen_range(0..n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_key_same_draws_other_key_other_draws() {
        let mut s1 = stream(7, Purpose::Message, &[1, 2, 3]);
        let mut s2 = stream(7, Purpose::Message, &[1, 2, 3]);
        let d1: Vec<f64> = (0..8).map(|_| s1.gen()).collect();
        let d2: Vec<f64> = (0..8).map(|_| s2.gen()).collect();
        assert_eq!(d1, d2);
        for other in [
            stream(8, Purpose::Message, &[1, 2, 3]),
            stream(7, Purpose::Rule, &[1, 2, 3]),
            stream(7, Purpose::Message, &[1, 2, 4]),
            stream(7, Purpose::Message, &[1, 2, 3, 0]),
        ] {
            let mut o = other;
            let d: Vec<f64> = (0..8).map(|_| o.gen()).collect();
            assert_ne!(d, d1);
        }
    }

    #[test]
    fn the_nth_draw_of_a_key_is_the_stream_of_the_key_and_n() {
        let mut d = Draws::new(11);
        for n in 0..4u64 {
            let mut got = d.next(Purpose::Message, &[4, 5, 6]);
            let mut want = stream(11, Purpose::Message, &[4, 5, 6, n]);
            let g: Vec<u64> = (0..4).map(|_| got.gen()).collect();
            let w: Vec<u64> = (0..4).map(|_| want.gen()).collect();
            assert_eq!(g, w, "occurrence {n}");
        }
    }

    #[test]
    fn a_key_counts_its_own_occurrences_only() {
        let mut a = Draws::new(3);
        let mut b = Draws::new(3);
        // `b` draws other keys in between: key [1, 2]'s draws do not move.
        let xa: Vec<u32> = (0..6)
            .map(|_| a.pick(Purpose::Rule, &[1, 2], 1000))
            .collect();
        let xb: Vec<u32> = (0..6)
            .map(|i| {
                b.pick(Purpose::Rule, &[9, i], 1000);
                b.pick(Purpose::Message, &[1, 2], 1000);
                b.pick(Purpose::Rule, &[1, 2], 1000)
            })
            .collect();
        assert_eq!(xa, xb);
        // Successive occurrences of one key are different draws.
        assert!(xa.windows(2).any(|w| w[0] != w[1]), "{xa:?}");
    }

    #[test]
    fn certain_and_impossible_chances_use_no_occurrence() {
        let mut a = Draws::new(5);
        let mut b = Draws::new(5);
        assert!(a.chance(Purpose::Rule, &[1], 1.0));
        assert!(!a.chance(Purpose::Rule, &[1], 0.0));
        assert_eq!(a.pick(Purpose::Read, &[1], 1), 0);
        let d: Vec<bool> = (0..20)
            .map(|_| a.chance(Purpose::Rule, &[1], 0.5))
            .collect();
        let e: Vec<bool> = (0..20)
            .map(|_| b.chance(Purpose::Rule, &[1], 0.5))
            .collect();
        assert_eq!(d, e);
    }

    #[test]
    fn keyed_draws_are_uniform() {
        // 20 000 keys, one draw each: every decile within 4 standard errors of 0.1.
        let n = 20_000u64;
        let mut bins = [0u32; 10];
        for k in 0..n {
            let x: f64 = stream(1, Purpose::Rule, &[k, 0]).gen();
            bins[(x * 10.0) as usize] += 1;
        }
        let se = (n as f64 * 0.1 * 0.9).sqrt();
        for b in bins {
            assert!((f64::from(b) - n as f64 * 0.1).abs() < 4.0 * se, "{bins:?}");
        }
    }
}
