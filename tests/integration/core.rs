//! The deterministic core: determinism, the network's statistics, the shared database.

use crate::util::scenario;
use sovlab_sim::run;

const SMALL: &str = r#"
name = "small"
duration_ms = 2000
[network]
loss = 0.05
duplicate = 0.05
latency_ms = [1, 10]
[[service]]
name = "orders"
[[service]]
name = "payments"
store = "key-value"
[write]
protocol = "shared-database"
transactions = 20
concurrency = 3
steps = [{ service = "orders" }, { service = "payments", amount = 5, reject = 0.2 }]
[[fault]]
at_ms = 30
crash = "database"
restart_ms = 50
"#;

#[test]
fn same_seed_same_trace_other_seed_other_trace() {
    let s = scenario(SMALL);
    let a = run(&s, 7);
    let b = run(&s, 7);
    let c = run(&s, 8);
    assert_eq!(a.trace.hash, b.trace.hash);
    let jsonl = |t: &sovlab_sim::Trace| {
        let mut v = Vec::new();
        t.write_jsonl(&mut v).unwrap();
        v
    };
    assert_eq!(jsonl(&a.trace), jsonl(&b.trace), "byte-identical traces");
    assert_ne!(a.trace.hash, c.trace.hash);
}
