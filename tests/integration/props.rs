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

fn shared_db() -> Scenario {
    template("protocol = \"shared-database\"", "loss = 0.05")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any scenario, any faults, any seed, every protocol (the shared database, 2PC, a
    /// choreographed saga, a CQRS view): two runs give the same trace hash. Tested once
    /// per protocol here; the catalogue tests check other seeds give other traces.
    #[test]
    fn determinism_of_every_protocol(d in cases(shared_db(), FaultOptions { quiet_after_ms: None, ..FaultOptions::default() }), a in cases(two_pc(), any_faults()), b in cases(saga_outbox("choreography"), any_faults()), c in cases(cqrs_outbox(), any_faults())) {
        for case in [&d, &a, &b, &c] {
            prop_assert_eq!(case.run().trace.hash, case.run().trace.hash, "{:?}", case);
        }
    }

    /// The shared database is one ACID transaction per business transaction:
    /// atomicity and conservation hold under every fault schedule.
    #[test]
    fn shared_database_is_atomic(case in cases(shared_db(), FaultOptions { quiet_after_ms: None, ..FaultOptions::default() })) {
        prop_assert!(holds(&case, "atomicity"), "{:?}", case);
        prop_assert!(holds(&case, "conservation"), "{:?}", case);
    }
}

fn two_pc() -> Scenario {
    template(
        "protocol = \"two-phase-commit\"\ntimeout_ms = 60",
        "loss = 0.05\nduplicate = 0.05",
    )
}

fn saga_outbox(coordination: &str) -> Scenario {
    template(
        &format!(
            "protocol = \"saga\"\ncoordination = \"{coordination}\"\npublish = \"outbox\"\nidempotent = true\nretry = {{ backoff_ms = 15 }}"
        ),
        "loss = 0.05\nduplicate = 0.05",
    )
}

fn cqrs_outbox() -> Scenario {
    let mut s = saga_outbox("orchestration");
    let view = scenario(
        "name = \"v\"\n[[service]]\nname = \"orders\"\n[write]\nprotocol = \"saga\"\nsteps = [{ service = \"orders\" }]\n[read]\nmethod = \"cqrs-view\"\nqueries = 10\ninterval_ms = 20\nview = \"order-history\"\n",
    );
    s.read = view.read;
    s
}

/// Every fault kind, permanent crashes included.
fn any_faults() -> FaultOptions {
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
