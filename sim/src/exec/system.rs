//! The system core: every node, store, message and fault of one run, with no
//! executor in it. An executor decides *when* things happen and calls the core; the
//! core says what happened (the trace) and what must happen later ([`Todo`]).
//!
//! The rules the core keeps, whichever executor drives it, are in
//! docs/architecture.md ("The core and its executors").

use super::faults::{fault_actions, fault_schedule, schedule_more, triggers, Action, Due, Trigger};
use super::queue::{Queue, Started};
use super::recorder::Recorder;
use crate::keyed::{Draws, Purpose};
use crate::msg::{Msg, MsgId, MsgKind, NodeIx};
use crate::net::{Fate, Net};
use crate::node::{Cx, Effect, Node};
use crate::patterns::{self, Layout};
use crate::scenario::Scenario;
use crate::scenario::ServiceDist;
use crate::store::Store;
use crate::trace::{Counters, DropReason, EventKind, StopReason, Trace};
use std::collections::VecDeque;

/// The shortest delay of a message or a timer: one asked for less waits this long
/// (madsim's `sleep` has the same floor; the core applies it so every executor does).
pub const MIN_DELAY_US: u64 = 1_000;

/// The supervisor's period: faults fire, and the end of the run is checked, at
/// multiples of it.
pub const TICK_US: u64 = 1_000;

/// Something for a node to handle, queued in its inbox.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input {
    /// A message arrived.
    Message {
        /// Its sender.
        from: NodeIx,
        /// The message.
        msg: Msg,
    },
    /// A timer fired.
    Timer {
        /// The node's timer number.
        timer: u64,
        /// The incarnation that set it: a timer outlives no crash.
        incarnation: u32,
    },
}

/// Something the executor must make happen, in the order the core pushed them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Todo {
    /// After `after_us`, call [`System::arrive`] with this message.
    Arrive {
        /// Delay from now (at least [`MIN_DELAY_US`]).
        after_us: u64,
        /// Sender.
        from: NodeIx,
        /// Receiver.
        to: NodeIx,
        /// The message.
        msg: Msg,
    },
    /// After `after_us`, call [`System::timer_due`]; it may be cancelled if `node`
    /// crashes first (the core ignores it then anyway).
    Timer {
        /// Delay from now (at least [`MIN_DELAY_US`]).
        after_us: u64,
        /// The node that set it.
        node: NodeIx,
        /// Its number.
        timer: u64,
        /// The node's incarnation when it was set.
        incarnation: u32,
    },
    /// `node`'s inbox has input: call [`System::handle_next`] for it, later.
    Wake(NodeIx),
    /// `node` crashed: its executor-side machinery (timers, loop) may go.
    Kill(NodeIx),
    /// `node` restarts: call [`System::boot`] for it, later.
    Boot(NodeIx),
    /// After `after_us` (may be 0), call [`System::served`]: a message's service at
    /// a timed node ends. Stale (and ignored by the core) if `node` crashed since.
    Served {
        /// The service time, from now.
        after_us: u64,
        /// The node serving.
        node: NodeIx,
        /// Which of its servers.
        server: u32,
        /// The node's incarnation when service began.
        incarnation: u32,
    },
}

/// What [`System::handle_next`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The inbox is empty (or the node is down).
    Idle,
    /// A timer of an earlier incarnation was dropped; nothing ran.
    Stale,
    /// One input was handled, to completion.
    Ran,
}

/// The core's view of one node.
struct Slot {
    /// Its state machine: `None` before its first boot and while it is down.
    machine: Option<Box<dyn Node>>,
    up: bool,
    started: bool,
    incarnation: u32,
    /// Restarts still scheduled: the node's work is not over.
    restart_pending: u32,
    /// Restarted, and not booted yet: not quiescent.
    booting: bool,
    busy: bool,
    inbox: VecDeque<Input>,
    stores: Vec<u16>,
}

thread_local! {
    /// Systems built on this thread and not yet freed (see [`live_worlds`]).
    static LIVE_WORLDS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many systems built on this thread are still in memory: 0 between runs, unless
/// a run leaked its world (a test checks it; runs happen on the calling thread).
pub fn live_worlds() -> usize {
    LIVE_WORLDS.with(|n| n.get())
}

/// One run's state and logic.
pub struct System {
    scenario: Scenario,
    layout: Layout,
    slots: Vec<Slot>,
    stores: Vec<Store>,
    net: Net,
    rec: Recorder,
    counters: Counters,
    next_msg_id: MsgId,
    /// Every random decision of the run, keyed by what it decides.
    draws: Draws,
    in_flight: u64,
    effects: Vec<Effect>,
    todo: Vec<Todo>,
    faults: Vec<Due>,
    next_fault: usize,
    /// The triggers of faults placed by `after` that have not reached their count.
    triggers: Vec<Trigger>,
    /// Faults whose trigger reached its count during the current call, in that
    /// order: they fire when the call's handler is over.
    armed: Vec<usize>,
    /// When each fault fired, by file index (µs).
    fired: Vec<Option<u64>>,
    end_us: u64,
    /// Each node's queue, if it has a service time (`None`: it handles a message
    /// the moment it arrives, as without the cost model).
    queues: Vec<Option<Queue>>,
    /// Service times one `do` costs the shared database: one per step.
    database_units: u32,
}

impl Drop for System {
    fn drop(&mut self) {
        LIVE_WORLDS.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

impl System {
    /// The system of `scenario` under `seed`, every node down and not yet booted.
    pub fn new(scenario: &Scenario, seed: u64, keep_events: bool) -> System {
        let layout = patterns::layout(scenario);
        let faults = fault_schedule(scenario, &layout);
        let triggers = triggers(scenario, &layout);
        let mut slots: Vec<Slot> = (0..layout.nodes.len())
            .map(|i| Slot {
                machine: None,
                up: false,
                started: false,
                incarnation: 0,
                restart_pending: 0,
                booting: false,
                busy: true,
                inbox: VecDeque::new(),
                stores: layout.node_stores[i].clone(),
            })
            .collect();
        // Counted from the start: a restart to come keeps the run going.
        for due in &faults {
            if let Action::Restart(ix) = due.action {
                slots[usize::from(ix)].restart_pending += 1;
            }
        }
        let stores = layout
            .stores
            .iter()
            .map(|s| Store::new(s.kind, s.capacity))
            .collect();
        let net = Net::new(
            scenario.network.loss,
            scenario.network.duplicate,
            scenario.network.latency_ms,
        );
        let queues = (0..layout.nodes.len())
            .map(|i| {
                let sv = scenario.serving_of(&layout.node_names[i]);
                (i != usize::from(patterns::CLIENT_NODE) && sv.timed()).then(|| Queue::new(sv))
            })
            .collect();
        let database_units = scenario.write.as_ref().map_or(1, |w| w.steps.len() as u32);
        LIVE_WORLDS.with(|n| n.set(n.get() + 1));
        System {
            queues,
            database_units,
            rec: Recorder::new(&layout, scenario.limits.max_events, keep_events),
            scenario: scenario.clone(),
            layout,
            slots,
            stores,
            net,
            counters: Counters::default(),
            next_msg_id: 0,
            draws: Draws::new(seed),
            in_flight: 0,
            effects: Vec::new(),
            todo: Vec::new(),
            faults,
            next_fault: 0,
            triggers,
            armed: Vec::new(),
            fired: vec![None; scenario.faults.len()],
            end_us: 0,
        }
    }

    /// Applies the recording side of `opts` (`hash`; `keep_events` is given to `new`).
    pub fn configure(&mut self, opts: &super::RunOptions) {
        self.rec.set_hashing(opts.hash);
        self.rec.set_only_needed(opts.only_needed);
    }

    /// The run's nodes and stores.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// How many nodes there are (node indices are `0..node_count()`).
    pub fn node_count(&self) -> usize {
        self.slots.len()
    }

    /// How many events were recorded so far.
    pub fn event_count(&self) -> u64 {
        self.rec.count()
    }

    /// Messages in flight (sent, not yet arrived or dropped).
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Every store, by store index (durable: a crash does not touch them).
    pub fn stores(&self) -> &[Store] {
        &self.stores
    }

    /// Is `node` up?
    pub fn is_up(&self, node: NodeIx) -> bool {
        self.slots[usize::from(node)].up
    }

    /// Has the run been told to stop (a limit, quiescence, the duration)?
    pub fn stopped(&self) -> bool {
        self.rec.stop.is_some()
    }

    /// What the executor must do next, in order; drain it after every call.
    pub fn todo(&mut self) -> std::vec::Drain<'_, Todo> {
        self.todo.drain(..)
    }

    fn record(&mut self, now_us: u64, node: NodeIx, kind: EventKind) {
        if !self.triggers.is_empty() {
            let armed = &mut self.armed;
            self.triggers.retain_mut(|t| {
                let reached = t.count(node, &kind);
                if reached {
                    armed.push(t.fault);
                }
                !reached
            });
        }
        self.rec.record(now_us, node, kind);
    }

    /// When each fault fired so far, by its index in the scenario file (µs).
    pub fn fired(&self) -> &[Option<u64>] {
        &self.fired
    }

    /// Fires the faults whose trigger was reached during the call now ending: right
    /// after the handler, never inside it. Their ends join the schedule. A fault's
    /// own events may reach another trigger; it fires too, in order.
    fn fire_armed(&mut self, now_us: u64) {
        let mut k = 0;
        while k < self.armed.len() {
            let i = self.armed[k];
            k += 1;
            let Some(fault) = self.scenario.faults.get(i) else {
                continue;
            };
            let mut actions = fault_actions(i, fault, &self.layout, now_us).into_iter();
            let Some(start) = actions.next() else {
                continue;
            };
            let ends: Vec<Due> = actions.collect();
            for d in &ends {
                if let Action::Restart(ix) = d.action {
                    // A restart to come keeps the run going.
                    self.slots[usize::from(ix)].restart_pending += 1;
                }
            }
            schedule_more(&mut self.faults, self.next_fault, ends);
            self.fired[i] = Some(now_us);
            self.act(i, start.action, now_us);
        }
        self.armed.clear();
    }

    /// Starts `node` for the first time, or after a restart: a fresh machine, then
    /// its `on_start` / `on_recover`.
    pub fn boot(&mut self, me: NodeIx, now_us: u64) {
        let slot = &mut self.slots[usize::from(me)];
        slot.up = true;
        slot.booting = false;
        let first = !slot.started;
        slot.started = true;
        slot.machine = Some(patterns::build_node(&self.scenario, &self.layout, me));
        self.call(me, now_us, |n, cx| {
            if first {
                n.on_start(cx)
            } else {
                n.on_recover(cx)
            }
        });
        self.fire_armed(now_us);
    }

    /// Handles the next input in `me`'s inbox, to completion: no crash can come
    /// between a handler and its effects (handler atomicity).
    pub fn handle_next(&mut self, me: NodeIx, now_us: u64) -> Step {
        let Some(input) = self.slots[usize::from(me)].inbox.pop_front() else {
            return Step::Idle;
        };
        match input {
            Input::Message { from, msg } => {
                self.counters.delivered += 1;
                self.record(now_us, me, EventKind::Deliver { from, msg });
                self.call(me, now_us, |n, cx| n.on_message(cx, from, msg));
            }
            Input::Timer { timer, incarnation } => {
                if incarnation != self.slots[usize::from(me)].incarnation {
                    return Step::Stale;
                }
                self.record(now_us, me, EventKind::Timer { timer });
                self.call(me, now_us, |n, cx| n.on_timer(cx, timer));
            }
        }
        self.fire_armed(now_us);
        Step::Ran
    }

    /// Calls node `me` with a context, then carries out its effects in order.
    fn call(&mut self, me: NodeIx, now_us: u64, f: impl FnOnce(&mut dyn Node, &mut Cx)) {
        let Some(mut node) = self.slots[usize::from(me)].machine.take() else {
            return;
        };
        // Disjoint borrows of the fields the context needs: no copy of the ids.
        let System {
            slots,
            stores,
            effects,
            next_msg_id,
            draws,
            rec,
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
                draws,
            )
            .recycling(&mut rec.spare);
            f(node.as_mut(), &mut cx);
        }
        self.apply_effects(me, now_us);
        let slot = &mut self.slots[usize::from(me)];
        slot.busy = node.busy();
        slot.machine = Some(node);
    }

    fn apply_effects(&mut self, me: NodeIx, now_us: u64) {
        let mut effects = std::mem::take(&mut self.effects);
        // Drained by value: an event's writes move into the trace, uncopied.
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, msg } => self.send(me, to, msg, now_us),
                Effect::Timer { after_us, timer } => self.todo.push(Todo::Timer {
                    after_us: after_us.max(MIN_DELAY_US),
                    node: me,
                    timer,
                    incarnation: self.slots[usize::from(me)].incarnation,
                }),
                Effect::Event(kind) => self.record(now_us, me, kind),
            }
        }
        // Keep the buffer's capacity for the next call.
        self.effects = effects;
    }

    fn send(&mut self, from: NodeIx, to: NodeIx, msg: Msg, now_us: u64) {
        self.counters.sent += 1;
        self.record(now_us, from, EventKind::Send { to, msg });
        if from == to {
            // A call inside one process (a coordinator hosted on its service's node):
            // no network, so no loss, duplicate, partition or latency. It waits in the
            // inbox behind what is there and is handled in the same wake-up.
            self.deliver(from, to, msg, now_us);
            return;
        }
        // Keyed by what the message is and which send of it this is, never by its id
        // (ids shift when another transaction sends more): loss, latency, duplicate
        // and the duplicate's latency all come from this one stream.
        let key = [
            u64::from(from),
            u64::from(to),
            msg.kind as u64,
            u64::from(msg.txn),
            u64::from(msg.step),
        ];
        // The boundary rule: the network a send meets is the one its send time says,
        // whatever the executor ran first at this instant.
        let ahead = self.net_at(now_us);
        let net = ahead.as_ref().unwrap_or(&self.net);
        let fate = match self.draws.chooser() {
            // The explorer decides the fate (no draw, so no occurrence is counted).
            Some(chooser) => net.fate_chosen(from, to, chooser),
            None => {
                let mut chance = self.draws.next(Purpose::Message, &key);
                net.fate(from, to, &mut chance)
            }
        };
        match fate {
            Fate::Dropped(reason) => {
                self.counters.dropped += 1;
                self.record(now_us, from, EventKind::Drop { to, msg, reason });
            }
            Fate::Delivered {
                latency_us,
                duplicate_us,
            } => {
                self.in_transit(from, to, msg, latency_us);
                if let Some(d) = duplicate_us {
                    self.counters.duplicated += 1;
                    self.record(now_us, from, EventKind::Duplicate { to, msg });
                    self.in_transit(from, to, msg, d);
                }
            }
        }
    }

    /// The network in force at `now_us` by the boundary rule (docs/architecture.md):
    /// every partition, heal and loss-window action due at or before `now_us`
    /// applied, also those the supervisor's tick has not reached yet (at this very
    /// instant, or a triggered end between two ticks). `None`: none is pending, the
    /// network as it is. A fault's window `[at, until)` thus covers a send at `t`
    /// iff `at <= t < until`, on every engine.
    fn net_at(&self, now_us: u64) -> Option<Net> {
        let mut pending = self.faults[self.next_fault..]
            .iter()
            .take_while(|d| d.at_us <= now_us)
            .filter(|d| !matches!(d.action, Action::Crash(_) | Action::Restart(_)))
            .peekable();
        pending.peek()?;
        let mut net = self.net.clone();
        for d in pending {
            d.action.apply_to_net(d.fault, &mut net);
        }
        Some(net)
    }

    fn in_transit(&mut self, from: NodeIx, to: NodeIx, msg: Msg, latency_us: u64) {
        self.in_flight += 1;
        self.todo.push(Todo::Arrive {
            after_us: latency_us.max(MIN_DELAY_US),
            from,
            to,
            msg,
        });
    }

    /// A message reaches `to`: into its inbox, or dropped if `to` is down.
    pub fn arrive(&mut self, from: NodeIx, to: NodeIx, msg: Msg, now_us: u64) {
        self.in_flight -= 1;
        if self.slots[usize::from(to)].up {
            self.deliver(from, to, msg, now_us);
        } else {
            self.counters.dropped += 1;
            let reason = DropReason::Down;
            self.record(now_us, from, EventKind::Drop { to, msg, reason });
            self.fire_armed(now_us);
        }
    }

    /// A timer set by `node` in `incarnation` is due: into its inbox if it is up.
    pub fn timer_due(&mut self, node: NodeIx, timer: u64, incarnation: u32) {
        self.push(node, Input::Timer { timer, incarnation });
    }

    /// A message is at `to` (up): into its inbox, or, at a timed node, into its
    /// queue (every message but an acknowledgement, which is handled at once).
    fn deliver(&mut self, from: NodeIx, to: NodeIx, msg: Msg, now_us: u64) {
        if msg.kind != MsgKind::Ack && self.slots[usize::from(to)].up {
            if let Some(q) = &mut self.queues[usize::from(to)] {
                if let Some(started) = q.arrive(now_us, from, msg) {
                    self.begin_service(to, started);
                }
                return;
            }
        }
        self.push(to, Input::Message { from, msg });
    }

    /// `started` occupies its server for one service time, drawn now.
    fn begin_service(&mut self, node: NodeIx, started: Started) {
        let after_us = self.service_us(node, &started);
        self.todo.push(Todo::Served {
            after_us,
            node,
            server: started.server,
            incarnation: self.slots[usize::from(node)].incarnation,
        });
    }

    /// One service time of `node` for `started`, in µs: keyed by the node and what
    /// the message is, so another message's service never shifts it. A `do` at the
    /// shared database is one service time per step.
    fn service_us(&mut self, node: NodeIx, started: &Started) -> u64 {
        let Some(q) = &self.queues[usize::from(node)] else {
            return 0;
        };
        let sv = q.serving;
        let mean_us = sv.service_time_ms * 1000.0;
        let units = if Some(node) == self.layout.database && started.msg.kind == MsgKind::Do {
            self.database_units.max(1)
        } else {
            1
        };
        let total = match sv.service_dist {
            ServiceDist::Fixed => mean_us * f64::from(units),
            dist => {
                let m = started.msg;
                let key = [
                    u64::from(node),
                    u64::from(started.from),
                    m.kind as u64,
                    u64::from(m.txn),
                    u64::from(m.step),
                ];
                let mut r = self.draws.next(Purpose::Service, &key);
                (0..units)
                    .map(|_| {
                        let u: f64 = rand::Rng::gen(&mut r);
                        match dist {
                            // Inverse transform; 1 - u is in (0, 1], so the log is finite.
                            ServiceDist::Exponential => -mean_us * (1.0 - u).ln(),
                            _ => 2.0 * mean_us * u,
                        }
                    })
                    .sum()
            }
        };
        total.round() as u64
    }

    /// A service at `node` ends: its message goes to the inbox, to be handled now,
    /// and the next waiting message takes the server. Ignored if the node crashed
    /// since the service began (the message died with it).
    pub fn served(&mut self, node: NodeIx, server: u32, incarnation: u32, now_us: u64) {
        let slot = &self.slots[usize::from(node)];
        if !slot.up || slot.incarnation != incarnation {
            return;
        }
        let Some(q) = &mut self.queues[usize::from(node)] else {
            return;
        };
        let Some(((from, msg), next)) = q.done(server, now_us) else {
            return;
        };
        self.push(node, Input::Message { from, msg });
        if let Some(started) = next {
            self.begin_service(node, started);
        }
    }

    fn push(&mut self, to: NodeIx, input: Input) {
        let slot = &mut self.slots[usize::from(to)];
        if !slot.up {
            return;
        }
        slot.inbox.push_back(input);
        self.todo.push(Todo::Wake(to));
    }

    /// `node` crashes: its machine and inbox are lost (each message in it is a drop),
    /// its stores survive. Returns false if it was already down.
    pub fn crash(&mut self, node: NodeIx, now_us: u64) -> bool {
        let slot = &mut self.slots[usize::from(node)];
        if !slot.up {
            return false;
        }
        slot.up = false;
        slot.busy = false;
        slot.incarnation += 1;
        slot.machine = None;
        let lost = std::mem::take(&mut slot.inbox);
        let queued = self.queues[usize::from(node)]
            .as_mut()
            .map(|q| q.crash(now_us))
            .unwrap_or_default();
        self.record(now_us, node, EventKind::Crash);
        // Messages that had arrived but were not yet handled die with the node, and
        // so do those waiting for or in service.
        let lost = lost.into_iter().filter_map(|input| match input {
            Input::Message { from, msg } => Some((from, msg)),
            Input::Timer { .. } => None,
        });
        for (from, msg) in lost.chain(queued) {
            self.counters.dropped += 1;
            let reason = DropReason::Down;
            self.record(
                now_us,
                from,
                EventKind::Drop {
                    to: node,
                    msg,
                    reason,
                },
            );
        }
        self.todo.push(Todo::Kill(node));
        true
    }

    /// `node` restarts, if it is down: it boots later ([`Todo::Boot`]).
    pub fn restart(&mut self, node: NodeIx, now_us: u64) -> bool {
        let slot = &mut self.slots[usize::from(node)];
        slot.restart_pending = slot.restart_pending.saturating_sub(1);
        if slot.up {
            return false;
        }
        slot.booting = true;
        self.record(now_us, node, EventKind::Restart);
        self.todo.push(Todo::Boot(node));
        true
    }

    /// Fires the next action of the fault schedule if it is due at `now_us`;
    /// returns whether one was. Call it until false at every tick.
    pub fn fire_next_fault(&mut self, now_us: u64) -> bool {
        let Some(due) = self.faults.get(self.next_fault) else {
            return false;
        };
        if due.at_us > now_us {
            return false;
        }
        let due = due.clone();
        self.next_fault += 1;
        // An injected fault (the explorer's) is numbered after the scenario's own and
        // has no report entry.
        if due.phase == 0 {
            if let Some(at) = self.fired.get_mut(due.fault) {
                *at = Some(now_us);
            }
        }
        self.act(due.fault, due.action, now_us);
        self.fire_armed(now_us);
        true
    }

    /// Does `action` of fault `i` now.
    fn act(&mut self, i: usize, action: Action, now_us: u64) {
        match action {
            Action::Crash(ix) => {
                self.crash(ix, now_us);
            }
            Action::Restart(ix) => {
                self.restart(ix, now_us);
            }
            Action::Partition { of, groups } => {
                self.net.partition(i, of);
                self.record(now_us, 0, EventKind::Partition { groups });
            }
            Action::Heal => {
                self.net.heal(i);
                self.record(now_us, 0, EventKind::Heal);
            }
            Action::LossStart { p, link } => {
                self.net.open_window(i, p, link);
                self.record(now_us, 0, EventKind::LossStart { p, link });
            }
            Action::LossEnd { link } => {
                self.net.close_window(i);
                self.record(now_us, 0, EventKind::LossEnd { link });
            }
        }
    }

    /// Makes every later random decision and message fate a choice point of `chooser`
    /// (the explorer); a run never calls it, so its draws are unchanged.
    pub fn set_chooser(&mut self, chooser: Box<dyn crate::keyed::Chooser>) {
        self.draws.set_chooser(chooser);
    }

    /// Ends the run now for `reason` (the explorer's ends: a cycle, nothing left
    /// that can happen).
    pub fn end_as(&mut self, reason: StopReason) {
        if self.rec.stop.is_none() {
            self.rec.stop = Some(reason);
        }
    }

    /// Adds a crash of `node` at `at_us` (and its restart `restart_us` later) to the
    /// fault schedule, as fault number `fault` (after the scenario's own): the
    /// explorer's crash choices, which its counterexample writes as `[[fault]]`s.
    pub fn inject_crash(
        &mut self,
        node: NodeIx,
        at_us: u64,
        restart_us: Option<u64>,
        fault: usize,
    ) {
        let add = |due: Due, faults: &mut Vec<Due>, from: usize| {
            let key = |d: &Due| (d.at_us, d.fault, d.phase);
            let at = from + faults[from..].partition_point(|d| key(d) <= key(&due));
            faults.insert(at, due);
        };
        let from = self.next_fault;
        add(
            Due {
                at_us,
                fault,
                phase: 0,
                action: Action::Crash(node),
            },
            &mut self.faults,
            from,
        );
        if let Some(r) = restart_us {
            self.slots[usize::from(node)].restart_pending += 1;
            add(
                Due {
                    at_us: at_us.saturating_add(r),
                    fault,
                    phase: 1,
                    action: Action::Restart(node),
                },
                &mut self.faults,
                from,
            );
        }
    }

    /// When the next action of the fault schedule is due, if any is left.
    pub fn next_fault_at(&self) -> Option<u64> {
        self.faults.get(self.next_fault).map(|d| d.at_us)
    }

    /// The events recorded so far (when events are kept).
    pub fn events(&self) -> &[crate::trace::Event] {
        self.rec.events()
    }

    /// Feeds the state of the whole system into `h` (the explorer's state hashing):
    /// every node's up/down and inbox and its machine's [`Node::fingerprint`], every
    /// store's content, the network's faults in force and what is left of the fault
    /// schedule. Not hashed: the clock, event counts and message ids (an input is
    /// hashed by what it says); the executor adds what is in transit and armed.
    pub fn fingerprint(&self, now_us: u64, h: &mut dyn std::hash::Hasher) {
        use std::hash::Hash;
        let mut h = h;
        for slot in &self.slots {
            (slot.up, slot.busy, slot.booting, slot.restart_pending).hash(&mut h);
            for input in &slot.inbox {
                match input {
                    Input::Message { from, msg } => (0u8, *from, canonical(msg)).hash(&mut h),
                    Input::Timer { timer, .. } => (1u8, *timer).hash(&mut h),
                }
            }
            if let Some(m) = &slot.machine {
                m.fingerprint(now_us, h);
            }
        }
        for store in &self.stores {
            store.snapshot().hash(&mut h);
        }
        h.write(format!("{:?}", self.net).as_bytes());
        for due in &self.faults[self.next_fault..] {
            (due.at_us.saturating_sub(now_us), due.fault, due.phase).hash(&mut h);
        }
    }

    /// Nothing left to do: every transaction and query is over, nothing in flight,
    /// no restart to come.
    pub fn quiescent(&self) -> bool {
        self.in_flight == 0
            && self.slots.iter().all(|s| {
                s.restart_pending == 0 && !s.booting && (!s.up || (!s.busy && s.inbox.is_empty()))
            })
            && self.queues.iter().flatten().all(Queue::idle)
    }

    /// The run-end rule, checked at every tick after the faults: a limit already
    /// reached stops the run; else quiescence; else `duration_ms`. True: stop now.
    pub fn check_end(&mut self, now_us: u64) -> bool {
        if self.rec.stop.is_some() {
            return true;
        }
        if self.quiescent() {
            self.rec.stop = Some(StopReason::Quiescent);
            return true;
        }
        if now_us >= self.scenario.duration_ms.saturating_mul(1000) {
            self.rec.stop = Some(StopReason::Duration);
            return true;
        }
        false
    }

    /// Closes the run at `now_us`: a limit that stopped it is the last event.
    pub fn finish(&mut self, now_us: u64) {
        if let Some(StopReason::Limit(what)) = self.rec.stop.clone() {
            self.record(now_us, 0, EventKind::Limit { what });
        }
        self.end_us = now_us;
    }

    /// The trace of the finished run (its events are taken out of the system).
    pub fn trace(&mut self) -> Trace {
        Trace {
            scenario: self.scenario.clone(),
            seed: self.draws.seed(),
            nodes: self.layout.nodes.clone(),
            stores: self.layout.stores.clone(),
            events: self.rec.take_events(),
            event_count: self.rec.count(),
            hash: self.rec.hash(),
            counters: self.counters,
            end_us: self.end_us,
            stop: self.rec.stop.clone().unwrap_or(StopReason::Duration),
            final_stores: self.stores.iter().map(Store::snapshot).collect(),
            // The executor names itself if it is not the reference.
            engine: super::Engine::Madsim,
            costs: self.costs(),
            writes: std::mem::take(&mut self.rec.writes),
        }
    }

    /// The cost of every timed node over the run so far, by node name.
    fn costs(&self) -> crate::report::indexmap_like::OrderedMap<crate::cost::NodeCost> {
        let end = self.end_us;
        crate::report::indexmap_like::OrderedMap(
            self.queues
                .iter()
                .enumerate()
                .filter_map(|(i, q)| {
                    let q = q.as_ref()?;
                    let cost = crate::cost::NodeCost::of(&q.stats_at(end), end);
                    Some((self.layout.node_names[i].clone(), cost))
                })
                .collect(),
        )
    }
}

/// A message as the explorer hashes it: what it says, without its id, the id it
/// answers or its send time (they differ between orderings that end alike).
pub fn canonical(msg: &Msg) -> Msg {
    Msg {
        id: 0,
        re: 0,
        at_us: 0,
        ..*msg
    }
}

#[cfg(test)]
#[path = "system_tests.rs"]
mod tests;
