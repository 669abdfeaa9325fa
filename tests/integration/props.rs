//! The lab's guarantees as properties, over generated fault schedules and seeds.
//!
//! Each property runs proptest's default-style case count scaled to the CI budget;
//! a failure prints the shrunk case as a scenario file with its seed.

use crate::util::scenario;
use proptest::prelude::*;
use sovlab_sim::strategies::{cases, find_counterexample, Case, FaultOptions};
use sovlab_sim::Scenario;

/// Does invariant `name` hold in `case`'s run? One that does not apply to the case is
/// a bug in the property, not a counterexample: it panics rather than shrink to it.
fn holds(case: &Case, name: &str) -> bool {
    let r = case.run();
    match r.report.invariants.get(name) {
        Some(v) => v.holds,
        None => panic!("test bug: {name} does not apply to {case:?}"),
    }
}

fn template(protocol_lines: &str, network: &str) -> Scenario {
    scenario(&format!(
        r#"
name = "property template"
duration_ms = 6000
[network]
{network}
[[service]]
name = "orders"
[[service]]
name = "inventory"
store = "document"
capacity = 40
[[service]]
name = "payments"
store = "key-value"
capacity = 2000
[write]
transactions = 12
concurrency = 3
interval_ms = 3
steps = [
  {{ service = "orders" }},
  {{ service = "inventory", amount = 2, reject = 0.1 }},
  {{ service = "payments", amount = 30, reject = 0.1 }},
]
{protocol_lines}
"#
    ))
}

pub(super) fn shared_db() -> Scenario {
    template("protocol = \"shared-database\"", "loss = 0.05")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// The shared database is one ACID transaction per business transaction:
    /// atomicity and conservation hold under every fault schedule.
    #[test]
    fn shared_database_is_atomic(case in cases(shared_db(), FaultOptions { quiet_after_ms: None, ..FaultOptions::default() })) {
        prop_assert!(holds(&case, "atomicity"), "{:?}", case);
        prop_assert!(holds(&case, "conservation"), "{:?}", case);
    }
}

pub(super) fn two_pc() -> Scenario {
    template(
        "protocol = \"two-phase-commit\"\ntimeout_ms = 60",
        "loss = 0.05\nduplicate = 0.05",
    )
}

pub(super) fn saga_outbox(coordination: &str) -> Scenario {
    template(
        &format!(
            "protocol = \"saga\"\ncoordination = \"{coordination}\"\npublish = \"outbox\"\nidempotent = true\nretry = {{ backoff_ms = 15 }}"
        ),
        "loss = 0.05\nduplicate = 0.05",
    )
}

pub(super) fn cqrs_outbox() -> Scenario {
    let mut s = saga_outbox("orchestration");
    let view = scenario(
        "name = \"v\"\n[[service]]\nname = \"orders\"\n[write]\nprotocol = \"saga\"\nsteps = [{ service = \"orders\" }]\n[read]\nmethod = \"cqrs-view\"\nqueries = 10\ninterval_ms = 20\nview = \"order-history\"\n",
    );
    s.read = view.read;
    s
}

/// Every fault kind, permanent crashes included.
pub(super) fn any_faults() -> FaultOptions {
    FaultOptions {
        quiet_after_ms: None,
        ..FaultOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Two-phase commit: agreement and atomicity under every fault schedule,
    /// permanent crashes included (a blocked participant holds; it does not diverge).
    #[test]
    fn two_pc_agreement_and_atomicity(case in cases(two_pc(), any_faults())) {
        let r = case.run().report;
        for name in ["agreement", "atomicity", "conservation"] {
            prop_assert!(r.invariants.get(name).unwrap().holds, "{} broke: {:?}\n{:?}", name, r.invariants.get(name), case);
        }
    }

    /// A saga with an outbox, idempotent services and retries: once the faults stop
    /// and the run settles, atomicity and conservation hold (both coordinations).
    #[test]
    fn saga_outbox_settles_atomic(case in cases(saga_outbox("orchestration"), FaultOptions::default()),
                                  chor in cases(saga_outbox("choreography"), FaultOptions::default())) {
        for c in [&case, &chor] {
            let r = c.run().report;
            for name in ["atomicity", "conservation", "termination"] {
                prop_assert!(r.invariants.get(name).unwrap().holds, "{} broke: {:?}\n{:?}", name, r.invariants.get(name), c);
            }
        }
    }

    /// A CQRS view fed through the outbox converges once the faults stop.
    #[test]
    fn cqrs_view_with_outbox_converges(case in cases(cqrs_outbox(), FaultOptions::default())) {
        let r = case.run().report;
        prop_assert!(r.invariants.get("convergence").unwrap().holds, "{:?}\n{:?}", r.invariants.get("convergence"), case);
    }

}

/// Known-broken configurations are *found*, and shrunk to a story of at most two
/// faults: the lab's bug-finding power is itself under test.
#[test]
fn direct_publishing_under_crashes_is_found_and_shrunk() {
    let mut t = template(
        "protocol = \"saga\"\ncoordination = \"choreography\"\npublish = \"direct\"\nretry = { backoff_ms = 15 }",
        "loss = 0.2",
    );
    t.write.as_mut().unwrap().transactions = 20;
    let opts = FaultOptions {
        partitions: false,
        loss_windows: false,
        ..FaultOptions::default()
    };
    let found = find_counterexample(cases(t, opts), 256, |c| {
        holds(c, "atomicity") && holds(c, "termination")
    })
    .expect("a crash that loses an unsent event is found");
    eprintln!("found and shrunk: {found:?}");
    assert!(found.scenario.faults.len() <= 2, "{found:?}");
    assert!(
        !found.scenario.faults.is_empty(),
        "it takes a crash: {found:?}"
    );
    let again = found.run();
    assert!(
        !(again.report.invariants.get("atomicity").unwrap().holds
            && again.report.invariants.get("termination").unwrap().holds),
        "the shrunk case replays the break: {found:?}"
    );
}

#[test]
fn non_idempotent_services_under_duplication_are_found_and_shrunk() {
    let t = template("protocol = \"saga\"\nidempotent = false", "duplicate = 0.1");
    let found = find_counterexample(cases(t, FaultOptions::default()), 64, |c| {
        holds(c, "conservation")
    })
    .expect("a double apply is found");
    assert!(found.scenario.faults.len() <= 2, "{found:?}");
    assert!(
        !found
            .run()
            .report
            .invariants
            .get("conservation")
            .unwrap()
            .holds
    );
}

/// The finder itself is tested: a property that is false is found and shrunk.
#[test]
fn a_false_property_is_found_and_shrunk() {
    // "The database never crashes" is false as soon as a crash is generated.
    let opts = FaultOptions {
        partitions: false,
        loss_windows: false,
        ..FaultOptions::default()
    };
    let found = find_counterexample(cases(shared_db(), opts), 64, |c| {
        !c.run()
            .trace
            .events
            .iter()
            .any(|e| matches!(e.kind, sovlab_sim::trace::EventKind::Crash))
    })
    .expect("a crash is generated");
    assert_eq!(found.scenario.faults.len(), 1, "{found:?}");
    let text = format!("{found:?}");
    assert!(text.contains("sovlab run"), "replay instructions: {text}");
    assert!(
        text.contains("[[fault]]"),
        "the shrunk schedule as TOML: {text}"
    );
}

/// Shrunk counterexamples the properties found once, kept as fixed regression cases.
#[test]
fn a_node_restarted_last_recovers_before_the_run_stops() {
    // orders crashes with a change for the view in its outbox and restarts last; the
    // run used to stop at the restart, before on_recover refilled the relay.
    let s = scenario(include_str!("cases/restart-last-then-relay.toml"));
    let r = sovlab_sim::run(&s, s.seed.unwrap());
    let restart = r
        .trace
        .events
        .iter()
        .rposition(|e| matches!(e.kind, sovlab_sim::trace::EventKind::Restart))
        .unwrap();
    let orders = r.trace.node_ix("orders").unwrap();
    assert!(
        r.trace.events[restart..].iter().any(
            |e| e.node == orders && matches!(e.kind, sovlab_sim::trace::EventKind::Send { .. })
        ),
        "the restarted node ran"
    );
    assert!(
        r.report.invariants.get("convergence").unwrap().holds,
        "{}",
        r.report.to_text()
    );
}

/// A saga whose payments step is the pivot and a shipping step after it retriable,
/// with commands given up after 3 sends.
fn pivot_saga(coordination: &str) -> Scenario {
    let mut s = saga_outbox(coordination);
    let w = s.write.as_mut().unwrap();
    w.retry.attempts = Some(3);
    w.steps[2].kind = sovlab_sim::scenario::StepKind::Pivot;
    let shipping = scenario(
        "name = \"p\"\n[[service]]\nname = \"shipping\"\n[write]\nprotocol = \"saga\"\nsteps = [{ service = \"shipping\", kind = \"retriable\" }]\n",
    );
    s.services.extend(shipping.services);
    w.steps.extend(shipping.write.unwrap().steps);
    Scenario::parse(&s.to_toml(), "pivot.toml").unwrap_or_else(|e| panic!("{e}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// Sagas with a pivot: atomic, conserving and finished once the faults stop, and
    /// the retriable step after the pivot is never compensated (both coordinations).
    #[test]
    fn pivot_sagas_are_atomic_and_only_go_forward(case in cases(pivot_saga("orchestration"), FaultOptions::default()),
                                                  chor in cases(pivot_saga("choreography"), FaultOptions::default())) {
        for c in [&case, &chor] {
            let r = c.run();
            for name in ["atomicity", "conservation", "termination"] {
                let v = r.report.invariants.get(name).unwrap();
                prop_assert!(v.holds, "{} broke: {:?}\n{:?}", name, v, c);
            }
            let undone = r.trace.events.iter().any(|e| matches!(e.kind,
                sovlab_sim::trace::EventKind::Local { what: sovlab_sim::trace::Local::Compensate, step: 3, .. }));
            prop_assert!(!undone, "the retriable step was compensated\n{:?}", c);
        }
    }
}

/// A template whose transactions start on a fixed clock (a window as wide as the
/// transactions), so the client carries no state between them.
fn open_clock(mut s: Scenario) -> Scenario {
    let w = s.write.as_mut().unwrap();
    w.concurrency = w.transactions;
    w.interval_ms = 25;
    s
}

/// A generated case (no fault of its own, so that what the added fault touches is
/// all that differs) and one fault added to it.
fn with_added_fault(
    template: Scenario,
) -> impl Strategy<Value = (Case, sovlab_sim::scenario::Fault)> {
    let opts = FaultOptions::default();
    let added = sovlab_sim::strategies::fault(template.fault_targets(), opts.clone());
    let none = FaultOptions {
        max_faults: 0,
        ..opts
    };
    (cases(template, none), added)
}

/// The untouched-transaction property (docs/reference/randomness.md, "What a fault
/// touches"): adding one fault to a run leaves every transaction that does not meet
/// it (`sovlab_sim::untouched::meeting`) with the same events (time, node, kind,
/// step) and the same outcome. On the DES engine, over every protocol. Returns how
/// many transactions were untouched yet active after the fault's start (what makes
/// the property say something), or the first counterexample.
fn untouched_property(template: Scenario, n: u32) -> Result<usize, String> {
    use proptest::strategy::ValueTree;
    use sovlab_sim::untouched::{footprints, meeting, outcomes, start_us};
    use sovlab_sim::{run_with, Engine, RunOptions};
    let opts = RunOptions::default().on(Engine::Des);
    let strategy = with_added_fault(template);
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut active_untouched = 0;
    for _ in 0..n {
        let (case, fault) = strategy.new_tree(&mut runner).unwrap().current();
        let mut with = case.scenario.clone();
        with.faults.push(fault.clone());
        let base = run_with(&case.scenario, case.seed, opts).trace;
        let faulted = run_with(&with, case.seed, opts).trace;
        let t0 = start_us(&fault, &faulted).expect("a timed fault starts");
        let met = meeting(&with, &fault, t0, &base, &faulted);
        let (ob, of) = (outcomes(&base), outcomes(&faulted));
        for (i, (txn, outcome)) in ob.iter().enumerate() {
            if met.contains(txn) {
                continue;
            }
            let (a, b) = (footprints(&base, *txn), footprints(&faulted, *txn));
            if a != b || of[i].1 != *outcome {
                let at = a.iter().zip(&b).position(|(x, y)| x != y);
                return Err(format!(
                    "txn {txn} does not meet the added fault {fault:?} (start {t0} µs) but \
                     changed: outcome {outcome:?} -> {:?}; first differing event {at:?}: \
                     {:?} vs {:?}\n{case:?}",
                    of[i].1,
                    at.map(|k| a[k]),
                    at.map(|k| b[k]),
                ));
            }
            if a.iter().any(|f| f.0 >= t0) {
                active_untouched += 1;
            }
        }
    }
    Ok(active_untouched)
}

/// A template with a quiet network (no loss, no duplication, latency under the
/// resend backoff): a transaction resends only when a fault strikes it.
fn quiet(protocol_lines: &str) -> Scenario {
    open_clock(template(protocol_lines, "latency_ms = [1, 5]"))
}

/// A template with a lossy network: every transaction resends, so their resends
/// interleave at every node (each resend is due at its own message's deadline).
fn lossy(protocol_lines: &str) -> Scenario {
    open_clock(template(
        protocol_lines,
        "loss = 0.05\nduplicate = 0.05\nlatency_ms = [1, 10]",
    ))
}

#[test]
fn a_fault_changes_no_transaction_it_does_not_meet() {
    let saga = |c: &str| {
        format!("protocol = \"saga\"\ncoordination = \"{c}\"\npublish = \"outbox\"\nidempotent = true\nretry = {{ backoff_ms = 15 }}")
    };
    let mut window = template(
        "protocol = \"two-phase-commit\"\ntimeout_ms = 60",
        "latency_ms = [1, 5]",
    );
    window.write.as_mut().unwrap().interval_ms = 25;
    let templates = [
        (
            "2pc",
            quiet("protocol = \"two-phase-commit\"\ntimeout_ms = 60"),
        ),
        (
            "2pc, lossy",
            lossy("protocol = \"two-phase-commit\"\ntimeout_ms = 60"),
        ),
        ("saga orchestration", quiet(&saga("orchestration"))),
        ("saga orchestration, lossy", lossy(&saga("orchestration"))),
        ("saga choreography, lossy", lossy(&saga("choreography"))),
        (
            "shared database, lossy",
            lossy("protocol = \"shared-database\""),
        ),
        // A closed window of 3: the client passes a fault on to later starts.
        ("2pc, window of 3", window),
    ];
    for (name, t) in templates {
        match untouched_property(t, 48) {
            Ok(active) => assert!(
                active >= 20,
                "{name}: only {active} untouched transactions were still active after \
                 the fault: the property says little"
            ),
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

/// A violation the property found, kept as a regression case: a node used to resend
/// every transaction's unacknowledged messages from one tick timer, and a timer fires
/// at least 1 ms after it is set, so a tick set 47 µs before another transaction's
/// resend was due made that resend 953 µs late, and a loss window that shifted one
/// transaction's resends moved another's. Each resend is now due at its own
/// message's deadline (`Resender`): txn 5, which the loss window never meets, keeps
/// every event.
#[test]
fn a_resend_tick_carries_no_fault_across_transactions() {
    use sovlab_sim::untouched::{footprints, meeting, start_us};
    use sovlab_sim::{run_with, Engine, RunOptions};
    let base = scenario(include_str!("cases/resend-tick-leak.toml"));
    let mut with = base.clone();
    let fault = sovlab_sim::scenario::Fault {
        at_ms: 51,
        loss: Some(0.7),
        until_ms: Some(71),
        ..Default::default()
    };
    with.faults.push(fault.clone());
    let opts = RunOptions::default().on(Engine::Des);
    let seed = base.seed.unwrap();
    let (a, b) = (
        run_with(&base, seed, opts).trace,
        run_with(&with, seed, opts).trace,
    );
    let met = meeting(&with, &fault, start_us(&fault, &b).unwrap(), &a, &b);
    assert!(!met.contains(&5), "txn 5 does not meet the loss window");
    let (fa, fb) = (footprints(&a, 5), footprints(&b, 5));
    assert!(
        fa.iter().any(|f| f.0 >= 51_000),
        "txn 5 is still active after the window opens (else this says nothing)"
    );
    assert_eq!(fa, fb, "the loss window moved txn 5's events");
}

/// A violation the property found, kept as a regression case: txn 12's resend and
/// vote timeout fall due at one instant. The DES engine once ordered such ties by a
/// draw from one sequential RNG, so a partition that never reaches txn 12 reordered
/// them (the resend went out, or not); it orders them by a keyed hash of what the
/// events are, so they keep their order.
#[test]
fn same_instant_events_keep_their_order() {
    use sovlab_sim::untouched::{footprints, meeting, start_us};
    use sovlab_sim::{run_with, Engine, RunOptions};
    let base = scenario(include_str!("cases/same-instant-timers.toml"));
    let mut with = base.clone();
    let fault = sovlab_sim::scenario::Fault {
        at_ms: 3,
        partition: Some(vec![
            vec!["orders".into()],
            vec!["inventory".into(), "payments".into(), "coordinator".into()],
        ]),
        heal_ms: Some(232),
        ..Default::default()
    };
    with.faults.push(fault.clone());
    let seed = base.seed.unwrap();
    let opts = RunOptions::default().on(Engine::Des);
    let (a, b) = (
        run_with(&base, seed, opts).trace,
        run_with(&with, seed, opts).trace,
    );
    let met = meeting(&with, &fault, start_us(&fault, &b).unwrap(), &a, &b);
    assert!(!met.contains(&12), "txn 12 does not meet the partition");
    assert_eq!(footprints(&a, 12), footprints(&b, 12));
}
