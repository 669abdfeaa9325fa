//! Event sourcing (issue 16): an event-sourced service publishes from its own log, so
//! crashes lose nothing, like the outbox, where direct publishing breaks; over seeds
//! and crash times, on the DES engine.

use crate::bad_input::run_bad;
use crate::util::{des, holds, root, scenario};
use sovlab_sim::trace::EventKind;
use sovlab_sim::Scenario;

fn text(name: &str) -> String {
    std::fs::read_to_string(root().join("scenarios").join(name)).unwrap()
}

/// `file` with its crash moved to `at_ms` and its publishing mode set to `publish`.
fn variant(file: &str, crash_line: &str, at_ms: u32, publish: &str) -> Scenario {
    let t = text(file);
    assert!(t.contains(crash_line), "{file} has {crash_line:?}");
    let t = t.replace(crash_line, &format!("at_ms = {at_ms}\ncrash"));
    scenario(&t.replace(
        "publish = \"event-sourcing\"",
        &format!("publish = \"{publish}\""),
    ))
}

/// Over crash times and seeds: how many runs break atomicity or termination, and
/// conservation must hold everywhere.
fn broken_runs(file: &str, crash_line: &str, publish: &str) -> (u32, u32) {
    let (mut broken, mut runs) = (0, 0);
    for at_ms in [40, 50, 60, 70] {
        let s = variant(file, crash_line, at_ms, publish);
        for seed in 1..=10 {
            let r = des(&s, seed);
            runs += 1;
            assert!(
                holds(&r, "conservation"),
                "{publish} at {at_ms} ms seed {seed}"
            );
            broken += u32::from(!holds(&r, "atomicity") || !holds(&r, "termination"));
        }
    }
    (broken, runs)
}

#[test]
fn event_sourced_choreography_survives_crashes_like_the_outbox() {
    let (file, crash) = (
        "choreography-event-sourcing-crash.toml",
        "at_ms = 70\ncrash",
    );
    let (es, runs) = broken_runs(file, crash, "event-sourcing");
    assert_eq!(es, 0, "event sourcing loses nothing in {runs} runs");
    let (outbox, _) = broken_runs(file, crash, "outbox");
    assert_eq!(outbox, 0, "nor does the outbox");
    // Direct publishing needs a store it can publish from directly: any kind will do.
    let (direct, _) = broken_runs(file, crash, "direct");
    assert!(
        direct >= runs / 4,
        "the dual write loses events in a good share of the same runs: {direct}/{runs}"
    );
}

#[test]
fn an_event_sourced_orchestrator_survives_its_crash_like_the_outbox() {
    let (file, crash) = (
        "saga-orchestrator-event-sourcing-crash.toml",
        "at_ms = 50\ncrash",
    );
    let (es, runs) = broken_runs(file, crash, "event-sourcing");
    assert_eq!(es, 0, "event sourcing strands no saga in {runs} runs");
    let (direct, _) = broken_runs(file, crash, "direct");
    assert!(
        direct >= runs / 4,
        "direct sends die with the orchestrator: {direct}/{runs}"
    );
}

#[test]
fn after_a_restart_the_relay_publishes_from_the_log_again() {
    let s = scenario(&text("choreography-event-sourcing-crash.toml"));
    let r = des(&s, 1);
    let inventory = r
        .trace
        .nodes
        .iter()
        .position(|n| n.name == "inventory")
        .expect("inventory") as u16;
    let restart = r
        .trace
        .events
        .iter()
        .find(|e| e.node == inventory && e.kind == EventKind::Restart)
        .expect("inventory restarts")
        .t_us;
    let relays: Vec<u64> = r
        .trace
        .events
        .iter()
        .filter(|e| e.node == inventory && matches!(e.kind, EventKind::Relay { .. }))
        .map(|e| e.t_us)
        .collect();
    assert!(
        relays.iter().any(|&t| t < restart),
        "relayed before the crash"
    );
    assert!(
        relays.contains(&restart),
        "and re-read from the log at the restart: {relays:?}"
    );
    // No outbox rows: the relay's bookkeeping is `relayed` marks in the log.
    for e in &r.trace.events {
        if let EventKind::Local { writes, .. } = &e.kind {
            assert!(
                !writes
                    .iter()
                    .any(|w| matches!(w, sovlab_sim::store::Write::OutboxPut { .. })),
                "an outbox row at event {e:?}"
            );
        }
    }
}

#[test]
fn event_sourcing_on_a_store_that_is_not_an_event_log_is_located() {
    // Set for the whole write section: located at [write] publish.
    let text = "name = \"x\"\n[[service]]\nname = \"orders\"\nstore = \"event-log\"\n\
                [[service]]\nname = \"payments\"\nstore = \"document\"\n[write]\n\
                protocol = \"saga\"\npublish = \"event-sourcing\"\n\
                steps = [{ service = \"orders\" }, { service = \"payments\" }]\n";
    let (err, path) = run_bad("es-write", text);
    assert!(err.contains(&format!("{path}:10:11")), "{err}");
    assert!(
        err.contains("needs an event-log store, but service \"payments\" has store = \"document\""),
        "{err}"
    );
    assert!(err.contains("hint: set store = \"event-log\""), "{err}");
    // Set on one service: located there.
    let text = "name = \"x\"\n[[service]]\nname = \"orders\"\npublish = \"event-sourcing\"\n\
                [write]\nprotocol = \"saga\"\nsteps = [{ service = \"orders\" }]\n";
    let (err, path) = run_bad("es-service", text);
    assert!(err.contains(&format!("{path}:4:11")), "{err}");
    assert!(
        err.contains("service \"orders\" has store = \"relational\""),
        "{err}"
    );
}
