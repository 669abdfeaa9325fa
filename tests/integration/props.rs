//! The lab's guarantees as properties, over generated fault schedules and seeds.
//!
//! Each property runs proptest's default-style case count scaled to the CI budget;
//! a failure prints the shrunk case as a scenario file with its seed.

use crate::util::scenario;
use proptest::prelude::*;
use sovlab_sim::strategies::{cases, find_counterexample, Case, FaultOptions};
use sovlab_sim::Scenario;

fn holds(case: &Case, name: &str) -> bool {
    let r = case.run();
    r.report
        .invariants
        .get(name)
        .map(|v| v.holds)
        .unwrap_or(false)
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

    /// Any scenario, any faults, any seed: two runs give the same trace hash.
    #[test]
    fn determinism(case in cases(shared_db(), FaultOptions { quiet_after_ms: None, ..FaultOptions::default() })) {
        let a = case.run().trace.hash;
        let b = case.run().trace.hash;
        prop_assert_eq!(a, b, "{:?}", case);
    }

    /// The shared database is one ACID transaction per business transaction:
    /// atomicity and conservation hold under every fault schedule.
    #[test]
    fn shared_database_is_atomic(case in cases(shared_db(), FaultOptions { quiet_after_ms: None, ..FaultOptions::default() })) {
        prop_assert!(holds(&case, "atomicity"), "{:?}", case);
        prop_assert!(holds(&case, "conservation"), "{:?}", case);
    }
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
