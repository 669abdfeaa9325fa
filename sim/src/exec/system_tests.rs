//! Unit tests of the core's rules, driven by hand: no runtime.

use super::*;
use crate::scenario::{Scenario, StoreKind};
use crate::store::Snapshot;
use crate::testing::fixture::Fixture;
use crate::trace::Event;

/// A saga over two services, loss-free, with `extra` appended (faults, limits).
fn scenario(transactions: u32, extra: &str) -> Scenario {
    Fixture::new("saga")
        .name("core")
        .head("seed = 1")
        .head("duration_ms = 10000")
        .head("[network]\nlatency_ms = [2, 2]")
        .services(&["orders", "payments"])
        .service(1, "store = \"key-value\"\ncapacity = 1000")
        .set("transactions", transactions)
        .set("concurrency", 1)
        .set("interval_ms", 1)
        .step(1, "amount = 3")
        .section(extra)
        .scenario()
}

/// A minimal executor for tests: runs every [`Todo`] in time order (ties: the order
/// pushed), booting nodes at 0 and firing faults at each tick, until `until_us`.
struct Driver {
    now_us: u64,
    /// (due, order pushed, what): a todo waiting for its time.
    pending: Vec<(u64, u64, Todo)>,
    pushed: u64,
}

impl Driver {
    fn new() -> Driver {
        Driver {
            now_us: 0,
            pending: Vec::new(),
            pushed: 0,
        }
    }

    fn boot_all(&mut self, sys: &mut System) {
        for n in 0..sys.node_count() {
            sys.boot(n as NodeIx, 0);
            self.take(sys);
        }
    }

    fn take(&mut self, sys: &mut System) {
        let now = self.now_us;
        let todos: Vec<Todo> = sys.todo().collect();
        for t in todos {
            let at = match t {
                Todo::Arrive { after_us, .. }
                | Todo::Timer { after_us, .. }
                | Todo::Served { after_us, .. } => now + after_us,
                Todo::Wake(_) | Todo::Boot(_) | Todo::Kill(_) => now,
            };
            self.pending.push((at, self.pushed, t));
            self.pushed += 1;
        }
    }

    /// When the earliest pending todo is due.
    fn next_at(&self) -> u64 {
        self.pending
            .iter()
            .map(|p| (p.0, p.1))
            .min()
            .map_or(u64::MAX, |p| p.0)
    }

    /// Takes the earliest pending todo (ties: the order pushed) and moves the clock to it.
    fn pop(&mut self) -> Todo {
        let (i, _) = (self.pending.iter().enumerate())
            .min_by_key(|(_, p)| (p.0, p.1))
            .expect("work pending");
        let (at, _, todo) = self.pending.remove(i);
        self.now_us = at;
        todo
    }

    /// Carries out `todo` now.
    fn apply(&mut self, sys: &mut System, todo: Todo) {
        let now = self.now_us;
        match todo {
            Todo::Arrive { from, to, msg, .. } => sys.arrive(from, to, msg, now),
            Todo::Timer {
                node,
                timer,
                incarnation,
                ..
            } => sys.timer_due(node, timer, incarnation),
            Todo::Wake(n) => while sys.handle_next(n, now) != Step::Idle {},
            Todo::Boot(n) => sys.boot(n, now),
            Todo::Kill(_) => {}
            Todo::Served {
                node,
                server,
                incarnation,
                ..
            } => sys.served(node, server, incarnation, now),
        }
        self.take(sys);
    }

    /// Runs until `until_us` or the end rule says stop; returns whether it stopped.
    fn run(&mut self, sys: &mut System, until_us: u64) -> bool {
        let mut next_tick = TICK_US;
        loop {
            if next_tick <= self.next_at() {
                if next_tick > until_us {
                    return false;
                }
                self.now_us = next_tick;
                while sys.fire_next_fault(self.now_us) {
                    self.take(sys);
                }
                if sys.check_end(self.now_us) {
                    return true;
                }
                next_tick += TICK_US;
                continue;
            }
            let todo = self.pop();
            self.apply(sys, todo);
        }
    }
}

fn payments(sys: &System) -> (NodeIx, usize) {
    let ix = sys.layout().target("payments").expect("payments node");
    let store = sys.layout().node_stores[usize::from(ix)][0];
    (ix, usize::from(store))
}

fn events(sys: &mut System) -> Vec<Event> {
    sys.trace().events
}

#[test]
fn a_run_left_alone_ends_quiescent_before_its_duration() {
    let mut sys = System::new(&scenario(2, ""), 7, true);
    let mut d = Driver::new();
    d.boot_all(&mut sys);
    assert!(!sys.quiescent(), "the client has transactions to submit");
    assert!(d.run(&mut sys, 10_000_000));
    assert!(d.now_us < 10_000_000, "stopped at {} us", d.now_us);
    assert_eq!(sys.trace().stop, StopReason::Quiescent);
}

#[test]
fn quiescence_is_judged_before_the_duration() {
    let mut sys = System::new(&scenario(1, ""), 7, true);
    let mut d = Driver::new();
    d.boot_all(&mut sys);
    // Run the work out without ever reaching a tick's end check past the duration.
    assert!(d.run(&mut sys, 10_000_000));
    assert!(sys.quiescent());
    sys.rec.stop = None;
    assert!(sys.check_end(u64::MAX));
    assert_eq!(sys.trace().stop, StopReason::Quiescent);
}

#[test]
fn busy_work_stops_at_the_duration_and_not_a_microsecond_before() {
    let mut sys = System::new(&scenario(50, ""), 7, true);
    let mut d = Driver::new();
    d.boot_all(&mut sys);
    assert!(!sys.check_end(10_000 * 1000 - 1));
    assert!(!sys.stopped());
    assert!(sys.check_end(10_000 * 1000));
    assert_eq!(sys.trace().stop, StopReason::Duration);
}

#[test]
fn a_limit_stops_the_run_first_and_is_its_last_event() {
    let mut sys = System::new(&scenario(50, "[limits]\nmax_events = 12"), 7, true);
    let mut d = Driver::new();
    d.boot_all(&mut sys);
    assert!(d.run(&mut sys, 10_000_000));
    // A limit beats quiescence and the duration alike.
    assert!(sys.check_end(u64::MAX));
    sys.finish(d.now_us);
    let t = sys.trace();
    assert!(matches!(t.stop, StopReason::Limit(_)), "{:?}", t.stop);
    assert!(matches!(
        t.events.last().unwrap().kind,
        EventKind::Limit { .. }
    ));
    assert_eq!(t.event_count, t.events.len() as u64);
}

#[test]
fn a_restart_to_come_keeps_the_run_going() {
    // The one transaction is over long before the crash.
    let faults = "[[fault]]\nat_ms = 200\ncrash = \"payments\"\nrestart_ms = 500";
    let mut sys = System::new(&scenario(1, faults), 7, true);
    let mut d = Driver::new();
    d.boot_all(&mut sys);
    assert!(d.run(&mut sys, 10_000_000));
    assert!(
        d.now_us >= 700_000,
        "stopped at {} us, before the restart",
        d.now_us
    );
    let ev = events(&mut sys);
    let restart = ev.iter().position(|e| e.kind == EventKind::Restart);
    assert!(restart.is_some(), "the restart happened");
    assert!(
        sys.is_up(payments(&sys).0),
        "and the node booted before the end"
    );
}

#[test]
fn a_crash_loses_inbox_and_memory_but_not_stores() {
    let mut sys = System::new(&scenario(1, ""), 7, true);
    let mut d = Driver::new();
    d.boot_all(&mut sys);
    assert!(d.run(&mut sys, 10_000_000));
    let (pay, store) = payments(&sys);
    let before: Snapshot = sys.stores()[store].snapshot();
    assert_ne!(before, Store::new(StoreKind::KeyValue, 1000).snapshot());
    let seen = sys.event_count();
    // Two messages wait in its inbox, and one of its timers, when it crashes.
    let msg = Msg::new(crate::msg::MsgKind::Query, 0, 0);
    sys.in_flight += 2;
    sys.arrive(0, pay, msg, d.now_us);
    sys.arrive(0, pay, msg, d.now_us);
    let incarnation = sys.slots[usize::from(pay)].incarnation;
    sys.timer_due(pay, 99, incarnation);
    assert!(sys.crash(pay, d.now_us));
    assert!(!sys.crash(pay, d.now_us), "a node down cannot crash again");
    assert!(sys.todo().any(|t| t == Todo::Kill(pay)));
    assert_eq!(sys.handle_next(pay, d.now_us), Step::Idle);
    assert!(sys.slots[usize::from(pay)].machine.is_none());
    assert_eq!(sys.stores()[store].snapshot(), before);
    // The restart boots a fresh machine; the old timer belongs to the dead one.
    assert!(sys.restart(pay, d.now_us));
    assert!(sys.todo().any(|t| t == Todo::Boot(pay)));
    sys.boot(pay, d.now_us);
    sys.timer_due(pay, 99, incarnation);
    assert_eq!(sys.handle_next(pay, d.now_us), Step::Stale);
    let ev = events(&mut sys);
    let after: Vec<&EventKind> = ev[seen as usize..].iter().map(|e| &e.kind).collect();
    let down = |k: &&&EventKind| matches!(k, EventKind::Drop { reason: DropReason::Down, to, .. } if *to == pay);
    assert_eq!(after[0], &EventKind::Crash);
    assert_eq!(after.iter().filter(down).count(), 2, "{after:?}");
    assert_eq!(after[3], &EventKind::Restart);
    assert_eq!(sys.stores()[store].snapshot(), before);
}

#[test]
fn a_handler_runs_to_completion_before_a_crash() {
    let mut sys = System::new(&scenario(1, ""), 7, true);
    let mut d = Driver::new();
    d.boot_all(&mut sys);
    // Run until the client's first request waits in orders' inbox.
    let orders = sys.layout().target("orders").expect("orders node");
    loop {
        match d.pop() {
            Todo::Wake(n) if n == orders => break,
            todo => d.apply(&mut sys, todo),
        }
    }
    let seen = sys.event_count() as usize;
    assert_eq!(sys.handle_next(orders, d.now_us), Step::Ran);
    // Its effects are all done: the local commit recorded, its reply in transit.
    let sent: Vec<Todo> = sys.todo().collect();
    assert!(sent
        .iter()
        .any(|t| matches!(t, Todo::Arrive { from, .. } if *from == orders)));
    let in_flight = sys.in_flight();
    assert!(sys.crash(orders, d.now_us));
    assert_eq!(
        sys.in_flight(),
        in_flight,
        "what it sent is still on its way"
    );
    let ev = events(&mut sys);
    let kinds: Vec<&EventKind> = ev[seen..].iter().map(|e| &e.kind).collect();
    let crash = kinds.iter().position(|k| **k == EventKind::Crash).unwrap();
    assert!(matches!(kinds[0], EventKind::Deliver { .. }));
    assert!(kinds[..crash]
        .iter()
        .any(|k| matches!(k, EventKind::Local { .. })));
    assert!(kinds[..crash]
        .iter()
        .any(|k| matches!(k, EventKind::Send { .. })));
    assert!(!kinds[crash..]
        .iter()
        .any(|k| matches!(k, EventKind::Local { .. })));
}

#[test]
fn the_fault_schedule_runs_by_time_then_file_order_then_start_before_end() {
    let faults = r#"
[[fault]]
at_ms = 50
crash = "payments"
restart_ms = 50

[[fault]]
at_ms = 100
partition = [["orders"], ["payments"]]
heal_ms = 100

[[fault]]
at_ms = 100
loss = 0.5
until_ms = 200

[[fault]]
at_ms = 20
crash = "orders"
"#;
    let s = scenario(1, faults);
    let layout = crate::patterns::layout(&s);
    let due = fault_schedule(&s, &layout);
    let got: Vec<(u64, usize, u8)> = due.iter().map(|d| (d.at_us, d.fault, d.phase)).collect();
    assert_eq!(
        got,
        [
            (20_000, 3, 0),
            (50_000, 0, 0),
            (100_000, 0, 1),
            (100_000, 1, 0),
            (100_000, 1, 1),
            (100_000, 2, 0),
            (200_000, 2, 1),
        ]
    );
    assert!(matches!(due[2].action, Action::Restart(_)));
    assert!(matches!(due[3].action, Action::Partition { .. }));
    assert_eq!(due[4].action, Action::Heal);
    // The core fires them in that order, each at the first tick at or after its time.
    let mut sys = System::new(&s, 7, true);
    let mut d = Driver::new();
    d.boot_all(&mut sys);
    assert!(!sys.fire_next_fault(19_999));
    assert!(sys.fire_next_fault(20_000));
    assert!(!sys.fire_next_fault(20_000));
    while sys.fire_next_fault(100_000) {}
    let ev = events(&mut sys);
    let names: Vec<&str> = ev
        .iter()
        .filter(|e| e.kind.is_fault())
        .map(|e| e.kind.name())
        .collect();
    assert_eq!(
        names,
        [
            "crash",
            "crash",
            "restart",
            "partition",
            "heal",
            "loss-start"
        ]
    );
}

#[test]
fn for_ms_ends_a_window_where_the_absolute_end_would() {
    let absolute = r#"
[[fault]]
at_ms = 20
partition = [["orders"], ["payments"]]
heal_ms = 50
[[fault]]
at_ms = 30
loss = 0.5
until_ms = 35
"#;
    let relative = r#"
[[fault]]
at_ms = 20
partition = [["orders"], ["payments"]]
for_ms = 30
[[fault]]
at_ms = 30
loss = 0.5
for_ms = 5
"#;
    let (a, b) = (scenario(1, absolute), scenario(1, relative));
    let (sa, sb) = (System::new(&a, 7, false), System::new(&b, 7, false));
    let ends: Vec<u64> = fault_schedule(&b, sb.layout())
        .iter()
        .map(|d| d.at_us)
        .collect();
    assert_eq!(ends, [20_000, 30_000, 35_000, 50_000]);
    assert_eq!(
        fault_schedule(&a, sa.layout()),
        fault_schedule(&b, sb.layout())
    );
    // What shrink edits: the same fault with its absolute end.
    let f = b.faults[0].clone().with_absolute_end();
    assert_eq!((f.heal_ms, f.for_ms), (Some(50), None));
}

#[test]
fn delays_shorter_than_the_floor_wait_the_floor() {
    let mut s = scenario(1, "");
    s.network.latency_ms = [0, 0];
    let mut sys = System::new(&s, 7, true);
    sys.boot(0, 0);
    let todos: Vec<Todo> = sys.todo().collect();
    assert!(!todos.is_empty());
    for t in todos {
        if let Todo::Arrive { after_us, .. } | Todo::Timer { after_us, .. } = t {
            assert!(after_us >= MIN_DELAY_US, "{t:?}");
        }
    }
}

/// The boundary rule, in the core: the network a send at `t` meets has every
/// network action due at or before `t` applied, whether or not the tick has reached
/// it; crashes are not network actions and never count.
#[test]
fn a_send_meets_the_network_its_send_time_says_before_the_tick_acts() {
    let extra = r#"
[[fault]]
at_ms = 10
loss = 1.0
until_ms = 20
[[fault]]
at_ms = 10
partition = [["orders"], ["payments"]]
heal_ms = 30
[[fault]]
at_ms = 10
crash = "orders"
restart_ms = 5
"#;
    let mut sys = System::new(&scenario(1, extra), 7, false);
    let (orders, pay) = (sys.layout().target("orders").unwrap(), payments(&sys).0);
    // The network a send at `t` meets, as `send` computes it.
    let met = |sys: &System, t: u64| sys.net_at(t).unwrap_or_else(|| sys.net.clone());
    assert!(sys.net_at(9_999).is_none(), "nothing due yet");
    let at_start = met(&sys, 10_000);
    assert_eq!(at_start.loss_on(orders, pay), 1.0);
    assert!(!at_start.connected(orders, pay));
    // The tick at 10 ms applies them; the crash is not the network's.
    while sys.fire_next_fault(10_000) {}
    assert!(sys.net_at(19_999).is_none());
    assert_eq!(met(&sys, 19_999).loss_on(orders, pay), 1.0);
    // At exactly `until_ms` the window no longer covers a send; the partition does,
    // until exactly `heal_ms`. (The restart due at 15 ms changes nothing here.)
    let at_end = met(&sys, 20_000);
    assert_eq!(at_end.loss_on(orders, pay), 0.0);
    assert!(!at_end.connected(orders, pay));
    assert!(met(&sys, 30_000).connected(orders, pay));
    assert!(!met(&sys, 29_999).connected(orders, pay));
}
