//! The madsim executor, the reference: runs a [`System`] on a madsim runtime and
//! returns its [`Trace`].
//!
//! One madsim node per simulated node. Each runs a small loop that lets the core
//! handle its inbox whenever the core says it has input ([`Todo::Wake`]). A
//! separate supervisor (the madsim main task) ticks every millisecond: it fires the
//! faults that are due and checks the end of the run.
//!
//! - Messages: a message in transit is a timer task on the supervisor (so it
//!   survives its sender's crash) that hands it to [`System::arrive`].
//! - Timers are tasks on the node itself, so `Handle::kill` cancels them with it.
//! - Crash: `Handle::kill` ends the node's loop; the core has already dropped its
//!   machine and inbox and kept its stores. Restart: `Handle::restart` runs the loop
//!   again, which boots the node in the core (a fresh machine, then `on_recover`).
//!
//! The core lives behind one mutex only because madsim tasks must be `'static`:
//! madsim runs one task at a time on this thread, so the lock is never contended and
//! the order of events is the order madsim, from its seed, polls the tasks in.

use crate::exec::{Step, System, Todo};
use crate::msg::NodeIx;
use crate::scenario::Scenario;
use crate::trace::Trace;
use futures::channel::mpsc;
use futures::StreamExt;
use madsim::runtime::{Handle, NodeHandle, Runtime};
use madsim::task::NodeId;
use madsim::time::{sleep, sleep_until, Duration, Instant, TimeHandle};
use std::sync::{Arc, Mutex, MutexGuard};

pub use crate::exec::{live_worlds, RunOptions};

/// How often (in events) the supervisor lets madsim forget finished tasks. Often:
/// memory freed soon is reused while still in cache (measured: ~8 % less CPU than
/// every 50 000 events), and each pass only walks the tasks alive since the last.
const PRUNE_EVERY_EVENTS: u64 = 2_000;

/// The core and the madsim machinery beside it.
struct World {
    sys: System,
    start: Instant,
    /// The time of the event being handled, exact: a send's time plus its delay, a
    /// tick's multiple of 1 ms. madsim's own clock runs a little ahead (each poll
    /// advances it by 50-100 ns), so events are stamped with this one.
    logical_us: u64,
    /// The simulation's clock, set when the run starts.
    clock: Option<TimeHandle>,
    /// The madsim node of each simulated node.
    machines: Vec<Option<NodeId>>,
    /// Wakes each node's loop; `None` while it is down.
    wakes: Vec<Option<mpsc::UnboundedSender<()>>>,
    /// Where messages in transit wait.
    supervisor: Option<NodeHandle>,
}

type Shared = Arc<Mutex<World>>;

fn lock(world: &Shared) -> MutexGuard<'_, World> {
    // A poisoned lock means a node panicked: the run is lost anyway; keep going so
    // the panic that caused it is the one reported.
    world.lock().unwrap_or_else(|e| e.into_inner())
}

/// At exact time `due_us`, on the supervisor (which no node's crash cancels): moves
/// the clock there, runs `then` on the core and carries out what it leaves.
fn on_supervisor_at(
    world: &Shared,
    supervisor: &Option<NodeHandle>,
    start: Instant,
    due_us: u64,
    then: impl FnOnce(&mut System, u64) + Send + 'static,
) {
    let world = world.clone();
    let supervisor = supervisor.as_ref().expect("supervisor set");
    supervisor.spawn(async move {
        sleep_until(start + Duration::from_micros(due_us)).await;
        let mut w = lock(&world);
        let now = w.reach(due_us);
        then(&mut w.sys, now);
        w.drain(&world);
    });
}

/// What is left to do once the lock is released: madsim's kill and restart.
enum MachineOp {
    Kill(NodeId),
    Restart(NodeId),
}

impl World {
    fn now_us(&self) -> u64 {
        self.logical_us
    }

    /// Moves the exact clock to `due_us`, never back (madsim may wake two tasks a
    /// few ns apart in the other order than their exact times).
    fn reach(&mut self, due_us: u64) -> u64 {
        self.logical_us = self.logical_us.max(due_us);
        self.logical_us
    }

    /// The madsim instant of exact time `t_us`.
    fn instant(&self, t_us: u64) -> Instant {
        self.start + Duration::from_micros(t_us)
    }

    /// Turns the core's [`Todo`]s into madsim tasks and wake-ups, in order. Kills and
    /// restarts are returned, to be done without the lock.
    fn drain(&mut self, world: &Shared) -> Vec<MachineOp> {
        let mut ops = Vec::new();
        let now = self.logical_us;
        let start = self.start;
        let World {
            sys,
            machines,
            wakes,
            supervisor,
            ..
        } = self;
        for todo in sys.todo() {
            match todo {
                Todo::Arrive {
                    after_us,
                    from,
                    to,
                    msg,
                } => on_supervisor_at(world, supervisor, start, now + after_us, move |sys, now| {
                    sys.arrive(from, to, msg, now)
                }),
                Todo::Timer {
                    after_us,
                    node,
                    timer,
                    incarnation,
                } => {
                    let world = world.clone();
                    // Spawned on the current node, which is `node` (timers are set
                    // only by its handlers): a crash cancels it.
                    let due = now + after_us;
                    madsim::task::spawn(async move {
                        sleep_until(start + Duration::from_micros(due)).await;
                        let mut w = lock(&world);
                        w.reach(due);
                        w.sys.timer_due(node, timer, incarnation);
                        w.drain(&world);
                    });
                }
                Todo::Served {
                    after_us,
                    node,
                    server,
                    incarnation,
                } => {
                    // Like a message in transit: the core ignores it if the node
                    // crashed meanwhile.
                    on_supervisor_at(world, supervisor, start, now + after_us, move |sys, now| {
                        sys.served(node, server, incarnation, now)
                    })
                }
                Todo::Wake(node) => {
                    if let Some(w) = &wakes[usize::from(node)] {
                        let _ = w.unbounded_send(());
                    }
                }
                Todo::Kill(node) => {
                    wakes[usize::from(node)] = None;
                    ops.extend(machines[usize::from(node)].map(MachineOp::Kill));
                }
                Todo::Boot(node) => {
                    ops.extend(machines[usize::from(node)].map(MachineOp::Restart));
                }
            }
        }
        ops
    }
}

/// The loop of node `me`: runs on its madsim node, from start or restart to crash.
async fn node_loop(world: Shared, me: NodeIx) {
    let (tx, mut rx) = mpsc::unbounded();
    {
        let mut w = lock(&world);
        w.wakes[usize::from(me)] = Some(tx);
        let now = w.now_us();
        w.sys.boot(me, now);
        w.drain(&world);
    }
    while rx.next().await.is_some() {
        let mut w = lock(&world);
        let now = w.now_us();
        loop {
            match w.sys.handle_next(me, now) {
                Step::Idle => break,
                Step::Stale => continue,
                Step::Ran => {
                    w.drain(&world);
                    if w.sys.stopped() {
                        return;
                    }
                }
            }
        }
    }
}

/// Runs `scenario` with `seed` and returns its trace. Deterministic: the same
/// scenario and seed give the same trace, byte for byte.
pub fn run(scenario: &Scenario, seed: u64, opts: RunOptions) -> Trace {
    let mut config = madsim::Config::default();
    // The lab's own net model decides loss and latency; madsim's sockets are unused.
    config.net.packet_loss_rate = 0.0;
    let runtime = Runtime::with_seed_and_config(seed, config);
    let mut sys = System::new(scenario, seed, opts.keep_events);
    sys.configure(&opts);
    let n = sys.node_count();
    let world: Shared = Arc::new(Mutex::new(World {
        sys,
        start: Instant::now(),
        logical_us: 0,
        clock: None,
        machines: vec![None; n],
        wakes: vec![None; n],
        supervisor: None,
    }));

    let sup = world.clone();
    runtime.block_on(async move {
        let handle = Handle::current();
        {
            let mut w = lock(&sup);
            w.start = Instant::now();
            w.clock = Some(TimeHandle::current());
            w.supervisor = Some(handle.create_node().name("sovlab-network").build());
            let names: Vec<String> = w
                .sys
                .layout()
                .nodes
                .iter()
                .map(|n| n.name.clone())
                .collect();
            for (i, name) in names.into_iter().enumerate() {
                let me = i as NodeIx;
                let world = sup.clone();
                let machine = handle
                    .create_node()
                    .name(name)
                    .ip(std::net::Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250 + 1) as u8).into())
                    .init(move || node_loop(world.clone(), me))
                    .build();
                w.machines[i] = Some(machine.id());
            }
        }
        // The fault schedule is walked by this loop, at its ticks: a fault fires at the
        // first tick at or after its time (less than 1 ms late). The loop exists and
        // ticks the same whatever the faults, so two scenarios that differ only in
        // faults at or after time T run identically until T (tests/integration/forks.rs).
        let tick = Duration::from_micros(crate::exec::TICK_US);
        let mut pruned_at = 0;
        let mut tick_us = 0;
        loop {
            // Ticks at exact multiples of 1 ms: a `sleep` each would drift by the
            // scheduling time of every tick.
            tick_us += crate::exec::TICK_US;
            let at = lock(&sup).instant(tick_us);
            sleep_until(at).await;
            let now_us = lock(&sup).reach(tick_us);
            loop {
                let ops = {
                    let mut w = lock(&sup);
                    if !w.sys.fire_next_fault(now_us) {
                        break;
                    }
                    w.drain(&sup)
                };
                for op in ops {
                    match op {
                        MachineOp::Kill(id) => handle.kill(id),
                        MachineOp::Restart(id) => handle.restart(id),
                    }
                }
            }
            let mut w = lock(&sup);
            // madsim keeps a weak reference to every task a node ever spawned (one
            // per message and per timer here) until asked to count them; counting
            // now and then frees them. It reads no randomness and schedules
            // nothing, so the run is unchanged.
            if w.sys.event_count() - pruned_at >= PRUNE_EVERY_EVENTS {
                pruned_at = w.sys.event_count();
                std::hint::black_box(handle.metrics().num_tasks());
            }
            if w.sys.check_end(now_us) {
                break;
            }
        }
        let nodes = {
            let mut w = lock(&sup);
            let now = w.now_us();
            w.sys.finish(now);
            let mut nodes: Vec<_> = w.machines.iter().flatten().copied().collect();
            nodes.extend(w.supervisor.as_ref().map(NodeHandle::id));
            nodes
        };
        // The trace is complete. Kill every node so the executor drops the tasks
        // still parked (timers, messages in flight, node loops): they hold `world`,
        // and madsim's timer holds them, a cycle that would leak the whole world of
        // every run of a sweep. One more tick lets the executor drop them.
        for id in nodes {
            handle.kill(id);
        }
        sleep(tick).await;
    });

    let mut w = lock(&world);
    // Belt and braces for the same cycle: `world` holds wakers, the clock and a
    // spawner that reach the runtime's tasks; cut those links before it goes.
    w.supervisor = None;
    w.clock = None;
    w.wakes.iter_mut().for_each(|s| *s = None);
    drop(w);
    drop(runtime);
    let trace = lock(&world).sys.trace();
    trace
}
