//! The deterministic core: the network's statistics, the shared database (determinism:
//! `determinism`).

use crate::util::scenario;
use sovlab_sim::run;
use sovlab_sim::testing::fixture::Fixture;

/// A scenario whose only fault source is the network's base settings.
fn network_only(loss: f64, duplicate: f64) -> sovlab_sim::Scenario {
    scenario(
        &Fixture::new("shared-database")
            .name("network statistics")
            .head("duration_ms = 5000")
            .head(&format!(
                "[network]\nloss = {loss}\nduplicate = {duplicate}\nlatency_ms = [1, 3]"
            ))
            .services(&["a", "b"])
            .set("transactions", 30)
            .set("concurrency", 4)
            .toml(),
    )
}

/// Sums message counters over `seeds` runs.
fn counters(s: &sovlab_sim::Scenario, seeds: std::ops::Range<u64>) -> (f64, f64, f64) {
    let (mut sent, mut dropped, mut dup) = (0.0, 0.0, 0.0);
    for seed in seeds {
        let c = run(s, seed).trace.counters;
        sent += c.sent as f64;
        dropped += c.dropped as f64;
        dup += c.duplicated as f64;
    }
    (sent, dropped, dup)
}

/// Asserts `hits / n` agrees with `p` within four standard errors.
fn agrees(what: &str, hits: f64, n: f64, p: f64) {
    let observed = hits / n;
    let se = (p * (1.0 - p) / n).sqrt();
    assert!(
        (observed - p).abs() <= 4.0 * se,
        "{what}: observed {observed:.4} over {n} trials, expected {p} +- {:.4} (4 s.e.)",
        4.0 * se
    );
}

#[test]
fn the_dropped_fraction_agrees_with_loss() {
    for p in [0.05, 0.3] {
        let (sent, dropped, _) = counters(&network_only(p, 0.0), 0..40);
        assert!(sent > 3000.0, "enough trials: {sent}");
        agrees(&format!("loss {p}"), dropped, sent, p);
    }
}

#[test]
fn the_duplicated_fraction_agrees_with_duplicate() {
    let p = 0.2;
    let (sent, dropped, dup) = counters(&network_only(0.1, p), 0..40);
    // Only messages that were not lost can be duplicated.
    agrees("duplicate 0.2", dup, sent - dropped, p);
}

#[test]
fn loss_one_drops_everything_and_zero_nothing() {
    let (sent, dropped, _) = counters(&network_only(1.0, 0.0), 0..3);
    assert_eq!(sent, dropped);
    let (sent, dropped, dup) = counters(&network_only(0.0, 0.0), 0..3);
    assert!(sent > 0.0);
    assert_eq!((dropped, dup), (0.0, 0.0));
}

const ONE_AT_A_TIME: &str = r#"
name = "shared database, crash inside a transaction"
duration_ms = 3000
[network]
latency_ms = [1, 1]
[[service]]
name = "orders"
capacity = 10
[[service]]
name = "inventory"
store = "event-log"
capacity = 10
[[service]]
name = "payments"
store = "document"
capacity = 10
[write]
protocol = "shared-database"
transactions = 2
interval_ms = 20
timeout_ms = 1000
steps = [{ service = "orders" }, { service = "inventory" }, { service = "payments" }]
"#;

/// Transaction 1 reaches the database at 2 ms and commits at 5 ms (three statements
/// of 1 ms); transaction 2 reaches it at 22 ms and would commit at 25 ms.
#[test]
fn a_database_crash_inside_a_transaction_aborts_it_and_keeps_committed_data() {
    use sovlab_sim::check::{outcomes, Outcome};
    let mut s = scenario(ONE_AT_A_TIME);
    s.faults = vec![sovlab_sim::scenario::Fault {
        at_ms: 23,
        crash: Some("database".into()),
        restart_ms: Some(30),
        ..Default::default()
    }];
    let r = run(&s, 1);
    assert_eq!(
        outcomes(&r.trace),
        vec![(1, Outcome::Committed), (2, Outcome::Aborted)],
        "{}",
        r.report.to_text()
    );
    // Committed data survived the restart: every store still shows transaction 1.
    for st in &r.trace.final_stores[..3] {
        assert_eq!(st.available, 9);
    }
    assert!(r.verdicts.iter().all(|v| v.holds), "{}", r.report.to_text());
    // Without the crash, both commit: the crash is what aborted transaction 2.
    let calm = run(&scenario(ONE_AT_A_TIME), 1);
    assert_eq!(calm.report.write.as_ref().unwrap().committed, 2);
}

#[test]
fn while_the_database_is_down_every_transaction_fails() {
    let mut s = scenario(ONE_AT_A_TIME);
    let w = s.write.as_mut().unwrap();
    w.transactions = 10;
    w.timeout_ms = 50;
    s.faults = vec![sovlab_sim::scenario::Fault {
        at_ms: 30,
        crash: Some("inventory".into()), // a service's data lives on the database node
        ..Default::default()
    }];
    let r = run(&s, 3);
    let w = r.report.write.as_ref().unwrap();
    assert_eq!(
        w.committed,
        2,
        "only the two before the crash: {}",
        r.report.to_text()
    );
    assert_eq!(w.aborted, 8);
    let crashed = r.trace.events.iter().find(|e| e.kind.is_fault()).unwrap();
    assert_eq!(r.trace.node_name(crashed.node), "database");
}
