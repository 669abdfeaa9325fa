//! The shape of every protocol node: a sans-IO state machine.
//!
//! A node is a plain struct. The executor (the `world`) calls it when it starts,
//! recovers, receives a message or a timer fires; the node answers through a
//! [`Cx`]: messages to send, timers to set, local transactions on its *own* stores,
//! and protocol events for the trace. No async, no clock, no randomness of its own:
//! the context supplies time and chance, so a protocol can be driven step by step in
//! a unit test with no runtime at all. Chance is keyed: a node names what it decides
//! (`cx.chance_for(Purpose::Rule, &[txn, step], p)`) and gets that decision's own
//! stream, so no draw depends on how many others came before it (see [`crate::keyed`]).

use crate::keyed::{Draws, Purpose};
use crate::msg::{Msg, MsgId, NodeIx, StepIx, TxnId};
use crate::store::{RowChange, Store, Write};
use crate::trace::{EventKind, Local};

/// A protocol node. `Debug`: its state, printed, is its default fingerprint.
pub trait Node: Send + std::fmt::Debug {
    /// The first start of the node.
    fn on_start(&mut self, cx: &mut Cx);
    /// A restart after a crash: rebuild volatile state from the stores.
    fn on_recover(&mut self, cx: &mut Cx) {
        self.on_start(cx);
    }
    /// A message arrived.
    fn on_message(&mut self, cx: &mut Cx, from: NodeIx, msg: Msg);
    /// A timer set with [`Cx::set_timer`] fired.
    fn on_timer(&mut self, cx: &mut Cx, timer: u64);
    /// Does this node still have work in flight (unacknowledged messages, open
    /// transactions, a saga waiting)? The run ends when no node is busy.
    fn busy(&self) -> bool;
    /// Feeds this node's *state* into `h`, for the explorer's state hashing: two nodes
    /// that will behave alike from now on must hash alike. Times are hashed relative to
    /// `now_us`. The default hashes the printed state (configuration included, which
    /// is the same in every execution of one scenario, so it only costs time).
    fn fingerprint(&self, now_us: u64, h: &mut dyn std::hash::Hasher) {
        let _ = now_us;
        h.write(format!("{self:?}").as_bytes());
    }
}

/// Something a node asked of the executor, in the order it asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a message.
    Send { to: NodeIx, msg: Msg },
    /// Fire `timer` after `after_us`.
    Timer { after_us: u64, timer: u64 },
    /// Record an event (a local transaction, a vote, a decision, ...).
    Event(EventKind),
}

/// A source of uniform draws (the network model draws a message's fate from its
/// keyed stream through it; tests may pass any seeded RNG).
pub trait Chance {
    /// A uniform draw in [0, 1).
    fn uniform(&mut self) -> f64;
}

impl<R: rand::RngCore> Chance for R {
    fn uniform(&mut self) -> f64 {
        rand::Rng::gen::<f64>(self)
    }
}

/// The context of one call into a node.
pub struct Cx<'a> {
    /// Virtual time, microseconds since the start of the run.
    pub now_us: u64,
    /// This node.
    pub me: NodeIx,
    stores: &'a mut [Store],
    store_ids: &'a [u16],
    effects: &'a mut Vec<Effect>,
    next_msg_id: &'a mut MsgId,
    draws: &'a mut Draws,
    spare: Option<&'a mut crate::store::SpareWrites>,
    /// The change capture hook: while some, every commit adds the step records it
    /// changes (see [`Cx::capture_changes`]).
    captured: Option<Vec<RowChange>>,
}

impl<'a> Cx<'a> {
    /// A context over this node's stores (`store_ids`: their indices in the trace).
    pub fn new(
        now_us: u64,
        me: NodeIx,
        stores: &'a mut [Store],
        store_ids: &'a [u16],
        effects: &'a mut Vec<Effect>,
        next_msg_id: &'a mut MsgId,
        draws: &'a mut Draws,
    ) -> Self {
        Cx {
            now_us,
            me,
            stores,
            store_ids,
            effects,
            next_msg_id,
            draws,
            spare: None,
            captured: None,
        }
    }

    /// Boxes committed writes in `spare`'s buffers (which the recorder refills).
    pub fn recycling(mut self, spare: &'a mut crate::store::SpareWrites) -> Self {
        self.spare = Some(spare);
        self
    }

    /// A fresh message id.
    pub fn fresh_id(&mut self) -> MsgId {
        // 32 bits: more messages than one run can hold in memory or time; wrapping
        // keeps a pathological run going rather than panicking.
        *self.next_msg_id = self.next_msg_id.wrapping_add(1).max(1);
        *self.next_msg_id
    }

    /// Sends `msg` to `to`, giving it a fresh id if it has none; returns the id.
    pub fn send(&mut self, to: NodeIx, mut msg: Msg) -> MsgId {
        if msg.id == 0 {
            msg.id = self.fresh_id();
        }
        self.effects.push(Effect::Send { to, msg });
        msg.id
    }

    /// Fires `timer` after `after_us` microseconds.
    pub fn set_timer(&mut self, after_us: u64, timer: u64) {
        self.effects.push(Effect::Timer { after_us, timer });
    }

    /// Records a protocol event.
    pub fn event(&mut self, kind: EventKind) {
        self.effects.push(Effect::Event(kind));
    }

    /// True with probability `p`, from the next occurrence of the stream keyed by
    /// (`purpose`, `key`) (never draws for p <= 0 or p >= 1). A step's rule is keyed
    /// by `[txn, step]`; its occurrence is the attempt.
    pub fn chance_for(&mut self, purpose: Purpose, key: &[u64], p: f64) -> bool {
        self.draws.chance(purpose, key, p)
    }

    /// A uniform draw in `0..n` from the next occurrence of the stream keyed by
    /// (`purpose`, `key`); 0 without drawing when `n <= 1`.
    pub fn pick_for(&mut self, purpose: Purpose, key: &[u64], n: u32) -> u32 {
        self.draws.pick(purpose, key, n)
    }

    /// A uniform pick in `0..n` from the stream keyed by (`purpose`, `key`) alone, with
    /// no occurrence count: every call with the same key gets the same answer (a resent
    /// request picks the same row); 0 without drawing when `n <= 1`.
    pub fn pick_fixed(&self, purpose: Purpose, key: &[u64], n: u32) -> u32 {
        if n <= 1 {
            return 0;
        }
        rand::Rng::gen_range(
            &mut crate::keyed::stream(self.draws.seed(), purpose, key),
            0..n,
        )
    }

    /// An exponential draw with mean `mean_us` (a Poisson process's gap), in µs, from
    /// the next occurrence of the stream keyed by (`purpose`, `key`).
    pub fn exponential_for(&mut self, purpose: Purpose, key: &[u64], mean_us: f64) -> u64 {
        let u: f64 = rand::Rng::gen(&mut self.draws.next(purpose, key));
        // Inverse transform; 1 - u is in (0, 1], so the log is finite.
        (-mean_us * (1.0 - u).ln()).round() as u64
    }

    /// Runs `f` with change capture on: returns the step records that the commits
    /// made inside `f` changed, one per write that names a row ([`Write::row`]), in
    /// commit order (duplicates kept). The explicit hook a read side publishes from:
    /// what a commit changed, said by the commit. Nested captures see their own
    /// commits, and the outer one sees them too.
    pub fn capture_changes(&mut self, f: impl FnOnce(&mut Self)) -> Vec<RowChange> {
        let outer = self.captured.replace(Vec::new());
        f(self);
        let mine = std::mem::replace(&mut self.captured, outer).unwrap_or_default();
        if let Some(outer) = &mut self.captured {
            outer.extend_from_slice(&mine);
        }
        mine
    }

    /// The trace index of this node's store `i`.
    pub fn store_id(&self, i: usize) -> u16 {
        self.store_ids[i]
    }

    /// Read access to this node's store `i`.
    pub fn store(&self, i: usize) -> &Store {
        &self.stores[i]
    }

    /// How many stores this node owns.
    pub fn store_count(&self) -> usize {
        self.stores.len()
    }

    /// Commits a local transaction on this node's store `i` and records it as `what`.
    pub fn commit(&mut self, i: usize, what: Local, txn: TxnId, step: StepIx, writes: &[Write]) {
        self.stores[i].commit(writes);
        if let Some(captured) = &mut self.captured {
            captured.extend(writes.iter().filter_map(|w| {
                let (txn, step) = w.row()?;
                Some(RowChange {
                    store: i,
                    txn,
                    step,
                })
            }));
        }
        self.effects.push(Effect::Event(EventKind::Local {
            what,
            store: self.store_ids[i],
            txn,
            step,
            writes: match &mut self.spare {
                Some(spare) => spare.boxed(writes),
                None => writes.into(),
            },
        }));
    }
}

/// A test harness: drives one node with no runtime, recording its effects.
pub struct Harness {
    /// The node's stores.
    pub stores: Vec<Store>,
    store_ids: Vec<u16>,
    /// Effects of the last call.
    pub effects: Vec<Effect>,
    next_id: MsgId,
    draws: Draws,
    /// Virtual time given to the next call.
    pub now_us: u64,
    me: NodeIx,
}

impl Harness {
    /// A harness for node `me` owning `stores`, drawing keyed chance under `seed`.
    pub fn new(me: NodeIx, stores: Vec<Store>, seed: u64) -> Harness {
        let store_ids = (0..stores.len() as u16).collect();
        Harness {
            stores,
            store_ids,
            effects: Vec::new(),
            next_id: 1000,
            draws: Draws::new(seed),
            now_us: 0,
            me,
        }
    }

    /// Calls `f` on `node` with a fresh context; returns the effects.
    pub fn call<N: Node + ?Sized>(
        &mut self,
        node: &mut N,
        f: impl FnOnce(&mut N, &mut Cx),
    ) -> Vec<Effect> {
        self.effects.clear();
        let mut cx = Cx::new(
            self.now_us,
            self.me,
            &mut self.stores,
            &self.store_ids,
            &mut self.effects,
            &mut self.next_id,
            &mut self.draws,
        );
        f(node, &mut cx);
        std::mem::take(&mut self.effects)
    }

    /// The messages among `effects`.
    pub fn sent(effects: &[Effect]) -> Vec<(NodeIx, Msg)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send { to, msg } => Some((*to, *msg)),
                _ => None,
            })
            .collect()
    }
}

/// Packs a timer's purpose and key (a transaction, a query) into one timer id.
pub fn timer_id(purpose: u8, key: u32) -> u64 {
    (u64::from(purpose) << 32) | u64::from(key)
}

/// Unpacks [`timer_id`].
pub fn timer_parts(timer: u64) -> (u8, u32) {
    ((timer >> 32) as u8, timer as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::StoreKind;

    /// A node that commits nothing itself: the tests drive the context directly.
    #[derive(Debug)]
    struct Quiet;
    impl Node for Quiet {
        fn on_start(&mut self, _cx: &mut Cx) {}
        fn on_message(&mut self, _cx: &mut Cx, _from: NodeIx, _msg: Msg) {}
        fn on_timer(&mut self, _cx: &mut Cx, _timer: u64) {}
        fn busy(&self) -> bool {
            false
        }
    }

    fn harness() -> Harness {
        let stores = vec![
            Store::new(StoreKind::Relational, 10),
            Store::new(StoreKind::EventLog, 10),
        ];
        Harness::new(0, stores, 1)
    }

    fn take(txn: TxnId, step: StepIx) -> Write {
        Write::Take {
            txn,
            step,
            amount: 1,
        }
    }

    #[test]
    fn a_capture_yields_the_rows_its_commits_changed_in_commit_order() {
        let mut h = harness();
        let mut got = Vec::new();
        h.call(&mut Quiet, |_, cx| {
            cx.commit(0, Local::Commit, 1, 0, &[take(1, 0)]);
            got = cx.capture_changes(|cx| {
                cx.commit(
                    1,
                    Local::Commit,
                    2,
                    1,
                    &[take(2, 1), Write::Seen { key: 5 }],
                );
                cx.commit(0, Local::Log, 0, 0, &[Write::OutboxDone { id: 3 }]);
                cx.commit(
                    0,
                    Local::Commit,
                    1,
                    0,
                    &[Write::Compensate { txn: 1, step: 0 }],
                );
                cx.commit(0, Local::Commit, 1, 0, &[take(1, 0)]);
            });
            cx.commit(0, Local::Commit, 4, 0, &[take(4, 0)]);
        });
        let row = |store, txn, step| RowChange { store, txn, step };
        assert_eq!(
            got,
            vec![row(1, 2, 1), row(0, 1, 0), row(0, 1, 0)],
            "commits outside the capture, and writes naming no row, are not in it"
        );
    }

    #[test]
    fn capture_does_not_change_what_a_call_does() {
        let run = |capture: bool| {
            let mut h = harness();
            let fx = h.call(&mut Quiet, |_, cx| {
                let body = |cx: &mut Cx| {
                    cx.commit(0, Local::Commit, 1, 0, &[take(1, 0)]);
                    cx.send(2, Msg::new(crate::msg::MsgKind::Do, 1, 0));
                };
                if capture {
                    assert_eq!(cx.capture_changes(body).len(), 1);
                } else {
                    body(cx);
                }
            });
            (fx, h.stores[0].snapshot())
        };
        assert_eq!(run(true), run(false));
    }

    #[test]
    fn a_nested_capture_sees_its_own_commits_and_the_outer_sees_them_too() {
        let mut h = harness();
        let (mut outer, mut inner) = (Vec::new(), Vec::new());
        h.call(&mut Quiet, |_, cx| {
            outer = cx.capture_changes(|cx| {
                cx.commit(0, Local::Commit, 1, 0, &[take(1, 0)]);
                inner = cx.capture_changes(|cx| {
                    cx.commit(0, Local::Commit, 2, 0, &[take(2, 0)]);
                });
            });
        });
        let txns = |v: &[RowChange]| v.iter().map(|c| c.txn).collect::<Vec<_>>();
        assert_eq!(txns(&inner), vec![2]);
        assert_eq!(txns(&outer), vec![1, 2]);
    }
}
