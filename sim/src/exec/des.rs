//! The discrete-event executor: one loop over a heap of timed events, one
//! seeded RNG, no async, no locks, no task per message. It drives the same
//! [`System`] as the madsim executor and keeps the same rules
//! (docs/architecture.md, "The core and its executors").
//!
//! Time jumps from one due event to the next: an event's time is exactly the time
//! it was scheduled for (a send's time plus its latency, a tick's multiple of 1 ms).
//! Events due at one instant run in the order of a keyed hash of what each event is
//! (the message, timer or node, never when it was scheduled): a fault cannot reorder
//! same-instant events of transactions it does not meet, as a draw from one
//! sequential RNG would (docs/reference/randomness.md).

use super::quad_heap::QuadHeap;
use super::{RunOptions, Step, System, Todo, TICK_US};
use crate::msg::{Msg, NodeIx};
use crate::scenario::Scenario;
use crate::trace::Trace;
use std::cmp::Ordering;

/// Something due at a time.
#[derive(Debug, Clone, Copy)]
enum Ev {
    /// A message in transit reaches `to`.
    Arrive { from: NodeIx, to: NodeIx, msg: Msg },
    /// A timer of `node` is due.
    Timer {
        node: NodeIx,
        timer: u64,
        incarnation: u32,
    },
    /// `node` has input: handle its inbox.
    Wake(NodeIx),
    /// `node` boots (at the start, or after a restart).
    Boot(NodeIx),
    /// The supervisor tick: faults, then the end check.
    Tick,
    /// A service at a timed node ends.
    Served {
        node: NodeIx,
        server: u32,
        incarnation: u32,
    },
}

/// A heap entry: the earliest `at_us` first, then the smallest tie-break, then the
/// order of scheduling (only equal keyed ties reach it: two identical events). The
/// event itself waits in [`Slab`]: an entry is 32 bytes instead of 72, and the heap's
/// sifting moves entries on every push and pop. The slot is never compared.
struct Due {
    at_us: u64,
    tie: u64,
    order: u64,
    slot: u32,
}

/// The events waiting in the heap, by slot; freed slots are reused, so a run
/// allocates only while its number of pending events grows.
#[derive(Default)]
struct Slab {
    evs: Vec<Ev>,
    free: Vec<u32>,
}

impl Slab {
    fn put(&mut self, ev: Ev) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.evs[i as usize] = ev;
                i
            }
            None => {
                self.evs.push(ev);
                (self.evs.len() - 1) as u32
            }
        }
    }

    fn take(&mut self, slot: u32) -> Ev {
        self.free.push(slot);
        self.evs[slot as usize]
    }
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: the heap is a max-heap and the earliest must come out first.
        (other.at_us, other.tie, other.order).cmp(&(self.at_us, self.tie, self.order))
    }
}

/// The executor's state beside the core.
struct Des {
    sys: System,
    now_us: u64,
    queue: QuadHeap<Due>,
    slab: Slab,
    /// A node whose handler saw the run stopped handles nothing more (as madsim's
    /// node loop returns then), until it boots again.
    ended: Vec<bool>,
    /// The run's seed: it keys the tie-breaks.
    seed: u64,
    /// How many events were scheduled (the last tie-break).
    scheduled: u64,
}

/// The tie-break of `ev` at `at_us`: a keyed hash of what the event is (never a
/// message id: ids shift when another transaction sends more).
fn tie_of(seed: u64, at_us: u64, ev: &Ev) -> u64 {
    let parts: [u64; 7] = match *ev {
        Ev::Arrive { from, to, msg } => [
            1,
            u64::from(from),
            u64::from(to),
            msg.kind as u64,
            u64::from(msg.txn),
            u64::from(msg.step),
            (msg.value as u64) << 1 | u64::from(msg.ok),
        ],
        Ev::Timer {
            node,
            timer,
            incarnation,
        } => [2, u64::from(node), timer, u64::from(incarnation), 0, 0, 0],
        Ev::Wake(n) => [3, u64::from(n), 0, 0, 0, 0, 0],
        Ev::Boot(n) => [4, u64::from(n), 0, 0, 0, 0, 0],
        Ev::Tick => [5, 0, 0, 0, 0, 0, 0],
        Ev::Served {
            node,
            server,
            incarnation,
        } => [
            6,
            u64::from(node),
            u64::from(server),
            u64::from(incarnation),
            0,
            0,
            0,
        ],
    };
    let mut key = [0u64; 8];
    key[0] = at_us;
    key[1..].copy_from_slice(&parts);
    crate::keyed::key_hash(seed, crate::keyed::Purpose::Other, &key)
}

impl Des {
    fn at(&mut self, at_us: u64, ev: Ev) {
        let tie = tie_of(self.seed, at_us, &ev);
        self.scheduled += 1;
        let order = self.scheduled;
        let slot = self.slab.put(ev);
        self.queue.push(Due {
            at_us,
            tie,
            order,
            slot,
        });
    }

    /// Schedules the core's todos, in the order it pushed them.
    fn drain(&mut self) {
        let now = self.now_us;
        // `todo()` borrows the core; the heap and RNG are separate fields.
        let Des {
            sys,
            queue,
            slab,
            seed,
            scheduled,
            ..
        } = self;
        for todo in sys.todo() {
            let (at_us, ev) = match todo {
                Todo::Arrive {
                    after_us,
                    from,
                    to,
                    msg,
                } => (now + after_us, Ev::Arrive { from, to, msg }),
                Todo::Timer {
                    after_us,
                    node,
                    timer,
                    incarnation,
                } => (
                    now + after_us,
                    Ev::Timer {
                        node,
                        timer,
                        incarnation,
                    },
                ),
                Todo::Served {
                    after_us,
                    node,
                    server,
                    incarnation,
                } => (
                    now + after_us,
                    Ev::Served {
                        node,
                        server,
                        incarnation,
                    },
                ),
                Todo::Wake(n) => (now, Ev::Wake(n)),
                Todo::Boot(n) => (now, Ev::Boot(n)),
                // Its timers are stale now; the core drops them when they come.
                Todo::Kill(_) => continue,
            };
            let tie = tie_of(*seed, at_us, &ev);
            *scheduled += 1;
            let slot = slab.put(ev);
            queue.push(Due {
                at_us,
                tie,
                order: *scheduled,
                slot,
            });
        }
    }

    fn boot(&mut self, n: NodeIx) {
        self.ended[usize::from(n)] = false;
        self.sys.boot(n, self.now_us);
        self.drain();
    }

    fn wake(&mut self, n: NodeIx) {
        if self.ended[usize::from(n)] {
            return;
        }
        loop {
            match self.sys.handle_next(n, self.now_us) {
                Step::Idle => break,
                Step::Stale => continue,
                Step::Ran => {
                    self.drain();
                    if self.sys.stopped() {
                        self.ended[usize::from(n)] = true;
                        break;
                    }
                }
            }
        }
    }

    /// Fires the faults due now, then checks the end; true: the run is over.
    fn tick(&mut self) -> bool {
        while self.sys.fire_next_fault(self.now_us) {
            self.drain();
        }
        if self.sys.check_end(self.now_us) {
            return true;
        }
        self.at(self.now_us + TICK_US, Ev::Tick);
        false
    }

    fn go(&mut self) {
        for n in 0..self.sys.node_count() {
            self.at(0, Ev::Boot(n as NodeIx));
        }
        self.at(TICK_US, Ev::Tick);
        // The tick is always scheduled again, so the queue never runs dry.
        while let Some(Due { at_us, slot, .. }) = self.queue.pop() {
            self.now_us = at_us;
            let ev = self.slab.take(slot);
            match ev {
                Ev::Arrive { from, to, msg } => {
                    self.sys.arrive(from, to, msg, at_us);
                    self.drain();
                }
                Ev::Timer {
                    node,
                    timer,
                    incarnation,
                } => {
                    self.sys.timer_due(node, timer, incarnation);
                    self.drain();
                }
                Ev::Served {
                    node,
                    server,
                    incarnation,
                } => {
                    self.sys.served(node, server, incarnation, at_us);
                    self.drain();
                }
                Ev::Wake(n) => self.wake(n),
                Ev::Boot(n) => self.boot(n),
                Ev::Tick => {
                    if self.tick() {
                        break;
                    }
                }
            }
        }
        self.sys.finish(self.now_us);
    }
}

/// Runs `scenario` with `seed` on the discrete-event executor and returns its
/// trace. Deterministic: the same scenario and seed give the same trace, byte for
/// byte (a different one than madsim's: the engines order ties differently).
pub fn run(scenario: &Scenario, seed: u64, opts: RunOptions) -> Trace {
    let mut sys = System::new(scenario, seed, opts.keep_events);
    sys.configure(&opts);
    let n = sys.node_count();
    let mut des = Des {
        sys,
        now_us: 0,
        queue: QuadHeap::with_capacity(256),
        slab: Slab::default(),
        ended: vec![false; n],
        seed,
        scheduled: 0,
    };
    des.go();
    let mut trace = des.sys.trace();
    trace.engine = super::Engine::Des;
    trace
}
