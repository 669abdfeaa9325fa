//! The world: builds a madsim runtime from a scenario, runs it, returns a [`Trace`].
//!
//! One madsim node per simulated node. Each runs a small loop that feeds its inbox
//! (messages and timers) to the node's state machine and carries out the effects the
//! machine asks for. A separate supervisor (the madsim main task) schedules the faults
//! and stops the run when nothing is in flight or `duration_ms` is reached.
//!
//! - Messages: the sender's effect goes through the [`Net`] fault model; a delivered
//!   message is a timer task on the supervisor (so it survives its sender's crash)
//!   that puts it into the receiver's inbox, or drops it if the receiver is down.
//! - Timers are tasks on the node itself, so `Handle::kill` cancels them with it.
//! - Crash: `Handle::kill` ends the node's loop and its state machine; its stores
//!   live here, outside the node, and survive. Restart: `Handle::restart` runs the
//!   loop again, which builds a fresh machine and calls `on_recover`.
//!
//! Everything shared lives in one `Core` behind a mutex. madsim runs one task at a
//! time on this thread, so the lock is never contended and the order of events is
//! the order madsim, from its seed, polls the tasks in.

use crate::msg::{Msg, MsgId, NodeIx};
use crate::net::{Fate, Net};
use crate::node::{Cx, Effect, Node};
use crate::patterns::{self, Layout};
use crate::scenario::{FaultKind, Scenario};
use crate::store::Store;
use crate::trace::{Counters, DropReason, Event, EventKind, Fnv64, LineWriter, StopReason, Trace};
use futures::channel::mpsc;
use futures::StreamExt;
use madsim::runtime::{Handle, NodeHandle, Runtime};
use madsim::time::{sleep, Duration, Instant, TimeHandle};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

#[cfg(not(madsim))]
compile_error!(
    "sovlab-sim needs `--cfg madsim` (set in .cargo/config.toml). A RUSTFLAGS \
     environment variable replaces that setting: unset it, or add --cfg madsim to it."
);

/// How often (in events) the supervisor lets madsim forget finished tasks. Often:
/// memory freed soon is reused while still in cache (measured: ~8 % less CPU than
/// every 50 000 events), and each pass only walks the tasks alive since the last.
const PRUNE_EVERY_EVENTS: u64 = 2_000;

/// How to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Keep every event (false: counters and the hash only, for sweeps).
    pub keep_events: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { keep_events: true }
    }
}

/// Something for a node to handle.
#[derive(Debug, Clone, Copy)]
enum Input {
    Message { from: NodeIx, msg: Msg },
    Timer { timer: u64, incarnation: u32 },
}

/// The executor's view of one node.
struct Slot {
    machine_id: Option<madsim::task::NodeId>,
    up: bool,
    started: bool,
    incarnation: u32,
    /// A restart is scheduled: the node's work is not over.
    restart_pending: u32,
    /// Restarted, and its loop has not run `on_recover` yet: not quiescent.
    booting: bool,
    busy: bool,
    inbox: VecDeque<Input>,
    wake: Option<mpsc::UnboundedSender<()>>,
    stores: Vec<u16>,
}

thread_local! {
    /// Worlds built on this thread and not yet freed (see [`live_worlds`]).
    static LIVE_WORLDS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many worlds built on this thread are still in memory: 0 between runs, unless
/// a run leaked its world (a test checks it; runs happen on the calling thread).
#[doc(hidden)]
pub fn live_worlds() -> usize {
    LIVE_WORLDS.with(|n| n.get())
}

impl Drop for Core {
    fn drop(&mut self) {
        LIVE_WORLDS.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// Everything shared between the node loops and the supervisor.
struct Core {
    scenario: Arc<Scenario>,
    layout: Layout,
    start: Instant,
    /// The simulation's clock, set when the run starts.
    clock: Option<TimeHandle>,
    slots: Vec<Slot>,
    stores: Vec<Store>,
    net: Net,
    supervisor: Option<NodeHandle>,
    events: Vec<Event>,
    keep_events: bool,
    event_count: u64,
    hash: Fnv64,
    lines: LineWriter,
    line: Vec<u8>,
    counters: Counters,
    next_msg_id: MsgId,
    in_flight: u64,
    stop: Option<StopReason>,
    effects: Vec<Effect>,
    end_us: u64,
}

type Shared = Arc<Mutex<Core>>;

fn lock(core: &Shared) -> MutexGuard<'_, Core> {
    // A poisoned lock means a node panicked: the run is lost anyway; keep going so
    // the panic that caused it is the one reported.
    core.lock().unwrap_or_else(|e| e.into_inner())
}

impl Core {
    fn now_us(&self) -> u64 {
        // The runtime's clock read directly: the same instant `Instant::now()` gives
        // inside the simulation, without its thread-local look-up and handle clone.
        let now = match &self.clock {
            Some(clock) => clock.now_instant(),
            None => Instant::now(),
        };
        now.duration_since(self.start).as_micros() as u64
    }

    fn record(&mut self, node: NodeIx, kind: EventKind) {
        let e = Event {
            t_us: self.now_us(),
            node,
            kind,
        };
        // Every event feeds the hash, kept or not (docs/reference/trace-format.md).
        self.line.clear();
        self.lines.write(&mut self.line, self.event_count, &e);
        self.hash.write(&self.line);
        self.event_count += 1;
        if self.keep_events {
            self.events.push(e);
        }
        let max = self.scenario.limits.max_events;
        if self.event_count >= max && self.stop.is_none() {
            self.stop = Some(StopReason::Limit(format!(
                "the run reached {max} events ([limits] max_events)"
            )));
        }
    }

    /// Carries out what node `me` asked for.
    fn apply_effects(&mut self, me: NodeIx, core: &Shared) {
        let mut effects = std::mem::take(&mut self.effects);
        // Drained by value: an event's writes move into the trace, uncopied.
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, msg } => self.send(me, to, msg, core),
                Effect::Timer { after_us, timer } => {
                    let incarnation = self.slots[usize::from(me)].incarnation;
                    let core = core.clone();
                    // Spawned on the current node, which is `me`: a crash cancels it.
                    madsim::task::spawn(async move {
                        sleep(Duration::from_micros(after_us)).await;
                        lock(&core).push(me, Input::Timer { timer, incarnation });
                    });
                }
                Effect::Event(kind) => self.record(me, kind),
            }
        }
        // Keep the buffer's capacity for the next call.
        self.effects = effects;
    }

    fn send(&mut self, from: NodeIx, to: NodeIx, msg: Msg, core: &Shared) {
        self.counters.sent += 1;
        self.record(from, EventKind::Send { to, msg });
        let mut rng = madsim::rand::thread_rng();
        match self.net.fate(from, to, &mut rng) {
            Fate::Dropped(reason) => {
                self.counters.dropped += 1;
                self.record(from, EventKind::Drop { to, msg, reason });
            }
            Fate::Delivered {
                latency_us,
                duplicate_us,
            } => {
                self.in_transit(from, to, msg, latency_us, core);
                if let Some(d) = duplicate_us {
                    self.counters.duplicated += 1;
                    self.record(from, EventKind::Duplicate { to, msg });
                    self.in_transit(from, to, msg, d, core);
                }
            }
        }
    }

    fn in_transit(&mut self, from: NodeIx, to: NodeIx, msg: Msg, latency_us: u64, core: &Shared) {
        self.in_flight += 1;
        let core = core.clone();
        let supervisor = self.supervisor.as_ref().expect("supervisor set");
        supervisor.spawn(async move {
            sleep(Duration::from_micros(latency_us)).await;
            lock(&core).arrive(from, to, msg);
        });
    }

    fn arrive(&mut self, from: NodeIx, to: NodeIx, msg: Msg) {
        self.in_flight -= 1;
        if self.slots[usize::from(to)].up {
            self.push(to, Input::Message { from, msg });
        } else {
            self.counters.dropped += 1;
            let reason = DropReason::Down;
            self.record(from, EventKind::Drop { to, msg, reason });
        }
    }

    fn push(&mut self, to: NodeIx, input: Input) {
        let slot = &mut self.slots[usize::from(to)];
        if !slot.up {
            return;
        }
        slot.inbox.push_back(input);
        if let Some(w) = &slot.wake {
            let _ = w.unbounded_send(());
        }
    }

    /// Calls node `me` with a context, then carries out its effects.
    fn call(
        &mut self,
        me: NodeIx,
        node: &mut dyn Node,
        core: &Shared,
        f: impl FnOnce(&mut dyn Node, &mut Cx),
    ) {
        let now_us = self.now_us();
        let mut rng = madsim::rand::thread_rng();
        // Disjoint borrows of the fields the context needs: no copy of the ids.
        let Core {
            slots,
            stores,
            effects,
            next_msg_id,
            ..
        } = self;
        let ids = &slots[usize::from(me)].stores;
        // A node's stores are contiguous in `stores` (see `Layout`).
        let range = match (ids.first(), ids.last()) {
            (Some(a), Some(b)) => usize::from(*a)..usize::from(*b) + 1,
            _ => 0..0,
        };
        {
            let mut cx = Cx::new(
                now_us,
                me,
                &mut stores[range],
                ids,
                effects,
                next_msg_id,
                &mut rng,
            );
            f(node, &mut cx);
        }
        self.apply_effects(me, core);
        self.slots[usize::from(me)].busy = node.busy();
    }

    /// Nothing left to do: every transaction and query is over, nothing in flight.
    fn quiescent(&self) -> bool {
        self.in_flight == 0
            && self.slots.iter().all(|s| {
                s.restart_pending == 0 && !s.booting && (!s.up || (!s.busy && s.inbox.is_empty()))
            })
    }
}

/// The loop of node `me`: runs on its madsim node, from start or restart to crash.
async fn node_loop(core: Shared, me: NodeIx) {
    let (tx, mut rx) = mpsc::unbounded();
    let mut node: Box<dyn Node> = {
        let mut c = lock(&core);
        let slot = &mut c.slots[usize::from(me)];
        slot.wake = Some(tx);
        slot.up = true;
        slot.booting = false;
        let first = !slot.started;
        slot.started = true;
        let mut node = patterns::build_node(&c.scenario, &c.layout, me);
        c.call(me, node.as_mut(), &core, |n, cx| {
            if first {
                n.on_start(cx)
            } else {
                n.on_recover(cx)
            }
        });
        node
    };
    while rx.next().await.is_some() {
        let mut c = lock(&core);
        while let Some(input) = c.slots[usize::from(me)].inbox.pop_front() {
            match input {
                Input::Message { from, msg } => {
                    c.counters.delivered += 1;
                    c.record(me, EventKind::Deliver { from, msg });
                    c.call(me, node.as_mut(), &core, |n, cx| {
                        n.on_message(cx, from, msg)
                    });
                }
                Input::Timer { timer, incarnation } => {
                    if incarnation != c.slots[usize::from(me)].incarnation {
                        continue;
                    }
                    c.record(me, EventKind::Timer { timer });
                    c.call(me, node.as_mut(), &core, |n, cx| n.on_timer(cx, timer));
                }
            }
            if c.stop.is_some() {
                return;
            }
        }
    }
}

fn crash(core: &Shared, node: NodeIx) {
    let mut c = lock(core);
    let slot = &mut c.slots[usize::from(node)];
    if !slot.up {
        return;
    }
    slot.up = false;
    slot.busy = false;
    slot.incarnation += 1;
    slot.wake = None;
    let lost: Vec<Input> = slot.inbox.drain(..).collect();
    let id = slot.machine_id.expect("node built");
    c.record(node, EventKind::Crash);
    // Messages that had arrived but were not yet handled die with the node.
    for input in lost {
        if let Input::Message { from, msg } = input {
            c.counters.dropped += 1;
            let reason = DropReason::Down;
            c.record(
                from,
                EventKind::Drop {
                    to: node,
                    msg,
                    reason,
                },
            );
        }
    }
    drop(c);
    Handle::current().kill(id);
}

fn restart(core: &Shared, node: NodeIx) {
    let mut c = lock(core);
    let slot = &mut c.slots[usize::from(node)];
    slot.restart_pending -= 1;
    if slot.up {
        return;
    }
    let id = slot.machine_id.expect("node built");
    slot.booting = true;
    c.record(node, EventKind::Restart);
    drop(c);
    Handle::current().restart(id);
}

/// One thing the fault schedule does at one time.
#[derive(Debug, Clone)]
enum Action {
    Crash(NodeIx),
    Restart(NodeIx),
    Partition {
        of: Vec<Option<usize>>,
        groups: Box<[Box<[NodeIx]>]>,
    },
    Heal,
    LossStart {
        p: f64,
        link: Option<(NodeIx, NodeIx)>,
    },
    LossEnd {
        link: Option<(NodeIx, NodeIx)>,
    },
}

/// An [`Action`] of fault `fault`, due at `at_us`.
#[derive(Debug, Clone)]
struct Due {
    at_us: u64,
    fault: usize,
    /// 0 for the start of a fault (crash, partition, loss start), 1 for its end
    /// (restart, heal, loss end).
    phase: u8,
    action: Action,
}

/// The fault schedule: every action of every fault, sorted by time, then by fault
/// index (its place in the file), then start before end. The supervisor's tick walks
/// it (see [`run`]); nothing is spawned per fault, so the tasks madsim schedules, and
/// the random draws it makes, do not depend on the faults until the first one is due.
fn fault_schedule(core: &Shared) -> Vec<Due> {
    let (scenario, layout) = {
        let c = lock(core);
        (c.scenario.clone(), c.layout.clone())
    };
    let ms = |m: u64| m.saturating_mul(1000);
    let mut due = Vec::new();
    for (i, fault) in scenario.faults.iter().enumerate() {
        let Some(kind) = fault.kind() else { continue };
        let at_us = ms(fault.at_ms);
        let mut push = |at_us: u64, phase: u8, action: Action| {
            due.push(Due {
                at_us,
                fault: i,
                phase,
                action,
            })
        };
        match kind {
            FaultKind::Crash { node, restart_ms } => {
                let Some(ix) = layout.target(node) else {
                    continue;
                };
                push(at_us, 0, Action::Crash(ix));
                if let Some(r) = restart_ms {
                    // Counted from the start: a restart to come keeps the run going.
                    lock(core).slots[usize::from(ix)].restart_pending += 1;
                    push(at_us.saturating_add(ms(r)), 1, Action::Restart(ix));
                }
            }
            FaultKind::Partition { groups, heal_ms } => {
                let mut of = vec![None; layout.nodes.len()];
                let mut names: Vec<Box<[NodeIx]>> = Vec::new();
                for (g, group) in groups.iter().enumerate() {
                    let ixs: Vec<NodeIx> = group
                        .iter()
                        .filter_map(|n| layout.target_or_client(n))
                        .collect();
                    for &ix in &ixs {
                        of[usize::from(ix)] = Some(g);
                    }
                    names.push(ixs.into());
                }
                push(
                    at_us,
                    0,
                    Action::Partition {
                        of,
                        groups: names.into(),
                    },
                );
                if let Some(h) = heal_ms {
                    push(ms(h.max(fault.at_ms)), 1, Action::Heal);
                }
            }
            FaultKind::Loss { p, until_ms, link } => {
                let link = link.and_then(|[a, b]| {
                    Some((layout.target_or_client(a)?, layout.target_or_client(b)?))
                });
                push(at_us, 0, Action::LossStart { p, link });
                if let Some(u) = until_ms {
                    push(ms(u.max(fault.at_ms)), 1, Action::LossEnd { link });
                }
            }
        }
    }
    // Stable, and the key is total over distinct actions: the order is the file's.
    due.sort_by_key(|d| (d.at_us, d.fault, d.phase));
    due
}

/// Carries out one action of the fault schedule.
fn fire(core: &Shared, due: Due) {
    let i = due.fault;
    match due.action {
        Action::Crash(ix) => crash(core, ix),
        Action::Restart(ix) => restart(core, ix),
        Action::Partition { of, groups } => {
            let mut c = lock(core);
            c.net.partition(i, of);
            c.record(0, EventKind::Partition { groups });
        }
        Action::Heal => {
            let mut c = lock(core);
            c.net.heal(i);
            c.record(0, EventKind::Heal);
        }
        Action::LossStart { p, link } => {
            let mut c = lock(core);
            c.net.open_window(i, p, link);
            c.record(0, EventKind::LossStart { p, link });
        }
        Action::LossEnd { link } => {
            let mut c = lock(core);
            c.net.close_window(i);
            c.record(0, EventKind::LossEnd { link });
        }
    }
}

/// Runs `scenario` with `seed` and returns its trace. Deterministic: the same
/// scenario and seed give the same trace, byte for byte.
pub fn run(scenario: &Scenario, seed: u64, opts: RunOptions) -> Trace {
    let layout = patterns::layout(scenario);
    let mut config = madsim::Config::default();
    // The lab's own net model decides loss and latency; madsim's sockets are unused.
    config.net.packet_loss_rate = 0.0;
    let runtime = Runtime::with_seed_and_config(seed, config);
    let scenario = Arc::new(scenario.clone());
    let stores: Vec<Store> = layout
        .stores
        .iter()
        .map(|s| Store::new(s.kind, s.capacity))
        .collect();
    let slots = (0..layout.nodes.len())
        .map(|i| Slot {
            machine_id: None,
            up: false,
            started: false,
            incarnation: 0,
            restart_pending: 0,
            booting: false,
            busy: true,
            inbox: VecDeque::new(),
            wake: None,
            stores: layout.node_stores[i].clone(),
        })
        .collect();
    let net = Net::new(
        scenario.network.loss,
        scenario.network.duplicate,
        scenario.network.latency_ms,
    );
    let duration = Duration::from_millis(scenario.duration_ms);
    LIVE_WORLDS.with(|n| n.set(n.get() + 1));
    let core: Shared = Arc::new(Mutex::new(Core {
        scenario: scenario.clone(),
        layout: layout.clone(),
        start: Instant::now(),
        clock: None,
        slots,
        stores,
        net,
        supervisor: None,
        events: Vec::new(),
        keep_events: opts.keep_events,
        event_count: 0,
        hash: Fnv64::default(),
        lines: LineWriter::new(&layout.node_names, &layout.store_names),
        line: Vec::with_capacity(256),
        counters: Counters::default(),
        next_msg_id: 0,
        in_flight: 0,
        stop: None,
        effects: Vec::new(),
        end_us: 0,
    }));

    let sup = core.clone();
    runtime.block_on(async move {
        let handle = Handle::current();
        {
            let mut c = lock(&sup);
            c.start = Instant::now();
            c.clock = Some(TimeHandle::current());
            c.supervisor = Some(handle.create_node().name("sovlab-network").build());
            for (i, info) in layout.nodes.iter().enumerate() {
                let me = i as NodeIx;
                let core = sup.clone();
                let machine = handle
                    .create_node()
                    .name(info.name.clone())
                    .ip(std::net::Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250 + 1) as u8).into())
                    .init(move || node_loop(core.clone(), me))
                    .build();
                c.slots[i].machine_id = Some(machine.id());
            }
        }
        // The fault schedule is walked by this loop, at its ticks: a fault fires at the
        // first tick at or after its time (less than 1 ms late). The loop exists and
        // ticks the same whatever the faults, so two scenarios that differ only in
        // faults at or after time T run identically until T (tests/integration/forks.rs).
        let mut schedule = fault_schedule(&sup).into_iter().peekable();
        let tick = Duration::from_millis(1);
        let mut pruned_at = 0;
        loop {
            sleep(tick).await;
            let now_us = lock(&sup).now_us();
            while let Some(due) = schedule.next_if(|d| d.at_us <= now_us) {
                fire(&sup, due);
            }
            let mut c = lock(&sup);
            // madsim keeps a weak reference to every task a node ever spawned (one
            // per message and per timer here) until asked to count them; counting
            // now and then frees them. It reads no randomness and schedules
            // nothing, so the run is unchanged.
            if c.event_count - pruned_at >= PRUNE_EVERY_EVENTS {
                pruned_at = c.event_count;
                std::hint::black_box(handle.metrics().num_tasks());
            }
            if c.stop.is_some() {
                break;
            }
            if c.quiescent() {
                c.stop = Some(StopReason::Quiescent);
                break;
            }
            if Instant::now().duration_since(c.start) >= duration {
                c.stop = Some(StopReason::Duration);
                break;
            }
        }
        let nodes = {
            let mut c = lock(&sup);
            if let Some(StopReason::Limit(what)) = c.stop.clone() {
                c.record(0, EventKind::Limit { what });
            }
            c.end_us = c.now_us();
            let mut nodes: Vec<_> = c.slots.iter().filter_map(|s| s.machine_id).collect();
            nodes.extend(c.supervisor.as_ref().map(NodeHandle::id));
            nodes
        };
        // The trace is complete. Kill every node so the executor drops the tasks
        // still parked (timers, messages in flight, node loops): they hold `core`,
        // and madsim's timer holds them, a cycle that would leak the whole world of
        // every run of a sweep. One more tick lets the executor drop them.
        for id in nodes {
            handle.kill(id);
        }
        sleep(tick).await;
    });

    let mut c = lock(&core);
    // Belt and braces for the same cycle: `core` holds wakers, the clock and a
    // spawner that reach the runtime's tasks; cut those links before it goes.
    c.supervisor = None;
    c.clock = None;
    for slot in &mut c.slots {
        slot.wake = None;
        slot.inbox.clear();
    }
    drop(c);
    drop(runtime);
    let mut c = lock(&core);
    let end_us = c.end_us;
    Trace {
        scenario: (*c.scenario).clone(),
        seed,
        nodes: c.layout.nodes.clone(),
        stores: c.layout.stores.clone(),
        events: std::mem::take(&mut c.events),
        event_count: c.event_count,
        hash: c.hash.finish(),
        counters: c.counters,
        end_us,
        stop: c.stop.clone().unwrap_or(StopReason::Duration),
        final_stores: c.stores.iter().map(Store::snapshot).collect(),
    }
}
