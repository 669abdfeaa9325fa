//! Keyed randomness: every random decision is drawn from a stream named by *what it
//! decides*, not by when it is drawn.
//!
//! A draw made from `stream(seed, &[Purpose::X as u64, a, b, ...])` depends only on the
//! seed and its key, so adding a fault, or reordering events that happen at one
//! instant, changes only the draws whose key the change touches. A key starts with a
//! [`Purpose`] so two kinds of decision about the same thing never share a stream.

use rand::rngs::SmallRng;
use rand::SeedableRng;

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
