//! Store state as of any step, rebuilt from checkpoints.
//!
//! A store's content at step `k` is the replay of every local transaction on it up to
//! `k`. Replaying from step 0 on each move would make a jump on a long trace cost the
//! whole trace, so each store keeps a snapshot every `every` of its local transactions
//! (at most ~48 per store, whatever the trace's length): a jump clones the nearest
//! checkpoint before it and replays at most `every` transactions. Stepping reuses the
//! last answer and replays only the difference.

use sovlab_sim::store::{Snapshot, Write};
use sovlab_sim::trace::{EventKind, Trace};
use std::cell::RefCell;

/// Checkpointed replay of every store of one trace.
#[derive(Debug)]
pub struct Replay {
    /// Per store: the event indices of its local transactions, in order.
    locals: Vec<Vec<u32>>,
    /// Per store: how many writes precede each of its local transactions, plus the total.
    write_prefix: Vec<Vec<u64>>,
    /// Per store: the content after its first `j * every` local transactions.
    checkpoints: Vec<Vec<Snapshot>>,
    /// Per store: local transactions between checkpoints.
    every: Vec<usize>,
    /// Per store: the last answer (local transactions applied, content).
    cache: RefCell<Vec<Option<(usize, Snapshot)>>>,
}

fn writes_of(trace: &Trace, ix: u32) -> &[Write] {
    match &trace.events[ix as usize].kind {
        EventKind::Local { writes, .. } => writes,
        _ => &[],
    }
}

impl Replay {
    /// Indexes `trace` and builds its checkpoints (one pass).
    pub fn new(trace: &Trace) -> Replay {
        Replay::build(trace, 256)
    }

    /// [`Replay::new`] with at least `min_every` local transactions between checkpoints.
    fn build(trace: &Trace, min_every: usize) -> Replay {
        let n = trace.stores.len();
        let mut locals = vec![Vec::new(); n];
        for (i, e) in trace.events.iter().enumerate() {
            if let EventKind::Local { store, .. } = &e.kind {
                if let Some(l) = locals.get_mut(usize::from(*store)) {
                    l.push(i as u32);
                }
            }
        }
        let mut checkpoints = Vec::with_capacity(n);
        let mut every = Vec::with_capacity(n);
        let mut write_prefix = Vec::with_capacity(n);
        for (s, info) in trace.stores.iter().enumerate() {
            let k = (locals[s].len() / 48).max(min_every);
            let mut snap = Snapshot::new(info.capacity);
            let mut cps = vec![snap.clone()];
            let mut prefix = Vec::with_capacity(locals[s].len() + 1);
            let mut total = 0u64;
            for (j, &ix) in locals[s].iter().enumerate() {
                prefix.push(total);
                for w in writes_of(trace, ix) {
                    snap.apply(w);
                    total += 1;
                }
                if (j + 1) % k == 0 {
                    cps.push(snap.clone());
                }
            }
            prefix.push(total);
            checkpoints.push(cps);
            every.push(k);
            write_prefix.push(prefix);
        }
        Replay {
            locals,
            write_prefix,
            checkpoints,
            every,
            cache: RefCell::new(vec![None; n]),
        }
    }

    /// How many local transactions of `store` happened at or before event `seq`.
    pub fn applied(&self, store: usize, seq: usize) -> usize {
        self.locals[store].partition_point(|&i| i as usize <= seq)
    }

    /// How many writes `store` had received at or before event `seq` (its log length).
    pub fn writes_before(&self, store: usize, seq: usize) -> u64 {
        self.write_prefix[store][self.applied(store, seq)]
    }

    /// The last `n` entries of `store`'s write log at event `seq`, oldest first: each
    /// with its position in the log and whether event `seq` itself wrote it.
    pub fn log_tail(
        &self,
        trace: &Trace,
        store: usize,
        seq: usize,
        n: usize,
    ) -> Vec<(u64, Write, bool)> {
        let applied = self.applied(store, seq);
        let mut out = Vec::new();
        for j in (0..applied).rev() {
            let ix = self.locals[store][j];
            let first = self.write_prefix[store][j];
            for (k, w) in writes_of(trace, ix).iter().enumerate().rev() {
                out.push((first + k as u64, *w, ix as usize == seq));
                if out.len() >= n {
                    out.reverse();
                    return out;
                }
            }
        }
        out.reverse();
        out
    }

    /// The event indices of `store`'s local transactions.
    pub fn locals(&self, store: usize) -> &[u32] {
        &self.locals[store]
    }

    /// Calls `f` with the content of `store` as of event `seq` (that event included).
    pub fn with_at<R>(
        &self,
        trace: &Trace,
        store: usize,
        seq: usize,
        f: impl FnOnce(&Snapshot) -> R,
    ) -> R {
        let n = self.applied(store, seq);
        let k = self.every[store];
        let mut cache = self.cache.borrow_mut();
        let slot = &mut cache[store];
        let reuse = matches!(slot, Some((m, _)) if *m <= n && n - *m <= k);
        if !reuse {
            let j = (n / k).min(self.checkpoints[store].len() - 1);
            *slot = Some((j * k, self.checkpoints[store][j].clone()));
        }
        let (m, snap) = slot.as_mut().expect("just filled");
        for &ix in &self.locals[store][*m..n] {
            for w in writes_of(trace, ix) {
                snap.apply(w);
            }
        }
        *m = n;
        f(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovlab_sim::Scenario;

    #[test]
    fn checkpointed_state_equals_replay_from_zero() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/shared-db-crash.toml"
        ))
        .unwrap();
        let mut s = Scenario::parse(&text, "x").unwrap();
        s.write.as_mut().unwrap().transactions = 200;
        let run = sovlab_sim::run(&s, 1);
        let t = &run.trace;
        let r = Replay::build(t, 16);
        let db = t.stores.iter().position(|s| s.name == "inventory").unwrap();
        assert!(r.locals(db).len() > 100, "enough to need checkpoints");
        assert!(r.checkpoints[db].len() > 5);
        // Jump around, forwards and backwards; compare with a replay from zero.
        let len = t.events.len();
        for seq in [len - 1, 3, len / 2, len / 2 + 7, len / 3, 0, len - 2] {
            let mut want = Snapshot::new(t.stores[db].capacity);
            for e in &t.events[..=seq] {
                if let EventKind::Local { store, writes, .. } = &e.kind {
                    if usize::from(*store) == db {
                        writes.iter().for_each(|w| want.apply(w));
                    }
                }
            }
            r.with_at(t, db, seq, |got| assert_eq!(got, &want, "at {seq}"));
        }
        r.with_at(t, db, len - 1, |got| assert_eq!(got, &t.final_stores[db]));
    }
}
