//! Story 1 of the lesson "What the patterns cost": the shared database is the one
//! bottleneck that per-service stores escape, and a service's `workers` help only
//! when that service is the bottleneck (`cost-shared-db-bottleneck`).
//!
//! Each figure is the mean over 10 seeds on the DES. The scenario's capacities are
//! known in closed form: the database serves three steps of 2 ms on average per
//! transaction (at most 1000 / 6 = 166.7 a second); under a saga inventory's 3 ms is
//! the slowest step (333.3 a second per worker). One run of 600 transactions
//! measures a capacity with about 2.5 % standard deviation (the sum of 1 800
//! exponential service times), so the mean of 10 seeds has under 1 %; the
//! tolerances below are 5 %, over 5 standard errors.

use crate::util::{load, sovlab};
use sovlab_sim::scenario::Protocol;
use sovlab_sim::{Engine, RunOptions, Scenario};

const FILE: &str = "cost-shared-db-bottleneck.toml";
const SEEDS: std::ops::Range<u64> = 0..10;

/// The mean over [`SEEDS`] of (write throughput per s, utilization of `node`).
fn mean(s: &Scenario, node: &str, opts: RunOptions) -> (f64, f64) {
    let k = (SEEDS.end - SEEDS.start) as f64;
    let (mut thr, mut util) = (0.0, 0.0);
    for seed in SEEDS {
        let r = sovlab_sim::run_with(s, seed, opts);
        assert!(r.report.expect.met, "seed {seed}: {:?}", r.report.expect);
        thr += r.report.write.as_ref().unwrap().throughput_per_s / k;
        util += r.report.nodes.get(node).expect("timed").utilization / k;
    }
    (thr, util)
}

/// The scenario under `protocol` at `rate` transactions per second.
fn at(protocol: Protocol, rate: f64) -> Scenario {
    let mut s = load(FILE);
    let w = s.write.as_mut().unwrap();
    w.protocol = protocol;
    w.arrival_rate_per_s = Some(rate);
    s
}

fn des() -> RunOptions {
    RunOptions::default().on(Engine::Des)
}

fn near(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want,
        "{what}: {got:.1}, expected {want:.1} within {:.0} %",
        rel * 100.0
    );
}

#[test]
fn the_shared_database_saturates_where_per_service_stores_do_not() {
    // Below both capacities, both keep up with what arrives.
    for p in [Protocol::SharedDatabase, Protocol::Saga] {
        let node = if p == Protocol::Saga {
            "inventory"
        } else {
            "database"
        };
        let (thr, _) = mean(&at(p, 100.0), node, des());
        near(&format!("{} at 100/s", p.name()), thr, 100.0, 0.05);
    }
    // At 250 a second the database is saturated: busy all the time, its throughput
    // capped at its capacity, whatever arrives.
    let (db_thr, db_util) = mean(&at(Protocol::SharedDatabase, 250.0), "database", des());
    assert!(db_util >= 0.97, "database utilization {db_util:.3}");
    near("shared database at 250/s", db_thr, 1000.0 / 6.0, 0.05);
    // The same load on per-service stores: every transaction is served, inventory
    // (the slowest) busy 250 x 3 ms = 75 % of the time.
    let (saga_thr, inv_util) = mean(&at(Protocol::Saga, 250.0), "inventory", des());
    near("saga at 250/s", saga_thr, 250.0, 0.05);
    assert!(
        (inv_util - 0.75).abs() <= 0.05,
        "inventory utilization {inv_util:.3}, expected 0.75 within 0.05"
    );
    assert!(saga_thr > 1.3 * db_thr, "{saga_thr:.1} against {db_thr:.1}");
}

#[test]
fn workers_help_only_the_bottleneck_service() {
    // A saga at 500 a second: inventory (333/s per worker) is over capacity, orders
    // (1000/s) is not.
    let base = at(Protocol::Saga, 500.0);
    let workers = |service: &str, n: u32| {
        let mut s = base.clone();
        s.services
            .iter_mut()
            .find(|x| x.name == service)
            .unwrap()
            .workers = n;
        s
    };
    let (one, util) = mean(&base, "inventory", des());
    assert!(util >= 0.97, "inventory is the bottleneck: {util:.3}");
    near("one inventory worker", one, 1000.0 / 3.0, 0.05);
    // A second inventory worker lifts the cap above what arrives.
    let (two, _) = mean(&workers("inventory", 2), "inventory", des());
    near("two inventory workers", two, 500.0, 0.05);
    // Three orders workers change nothing: orders was never the bottleneck.
    let (orders, _) = mean(&workers("orders", 3), "inventory", des());
    near("three orders workers", orders, one, 0.03);
}

#[test]
fn a_counters_only_run_reports_what_a_run_with_events_does() {
    // Throughput, latency and availability come from what the core tallies as the
    // run goes, so keeping no events changes none of them.
    for p in [Protocol::SharedDatabase, Protocol::Saga] {
        let s = at(p, 200.0);
        for seed in [3, 4] {
            let kept = sovlab_sim::run_with(&s, seed, des()).report;
            let counted =
                sovlab_sim::run_with(&s, seed, RunOptions::counters_only().on(Engine::Des)).report;
            let (k, c) = (kept.write.unwrap(), counted.write.unwrap());
            assert!(k.throughput_per_s > 0.0 && k.latency_ms.p99 > 0.0);
            assert_eq!(k.throughput_per_s, c.throughput_per_s, "{p:?} {seed}");
            assert_eq!(k.latency_ms, c.latency_ms, "{p:?} {seed}");
            assert_eq!(k.availability, c.availability, "{p:?} {seed}");
            assert!(k.availability.is_some());
            assert_eq!(kept.nodes, counted.nodes);
        }
    }
}

#[test]
fn varying_the_arrival_rate_changes_the_rows() {
    // Once, 50 and 250 a second gave identical rows (the rate was not applied).
    let o = sovlab(&[
        "sweep",
        FILE.trim_end_matches(".toml"),
        "--seeds",
        "0..3",
        "--engine",
        "des",
        "--json",
        "--vary",
        "write.arrival_rate_per_s=50,250",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = j["rows"].as_array().unwrap();
    let thr: Vec<f64> = rows
        .iter()
        .map(|r| r["throughput_per_s"].as_f64().unwrap())
        .collect();
    let p99: Vec<f64> = rows
        .iter()
        .map(|r| r["latency_ms"]["p99"].as_f64().unwrap())
        .collect();
    near("throughput at 50/s", thr[0], 50.0, 0.10);
    near("throughput at 250/s", thr[1], 1000.0 / 6.0, 0.10);
    assert!(p99[1] > 5.0 * p99[0], "a queue builds at 250/s: {p99:?}");
}

#[test]
fn a_saved_trace_keeps_the_node_costs() {
    let s = at(Protocol::SharedDatabase, 200.0);
    let r = sovlab_sim::run_with(&s, 1, des());
    assert!(!r.report.nodes.0.is_empty());
    let mut out = Vec::new();
    r.trace.write_jsonl(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let back = sovlab_sim::trace_load::judge(sovlab_sim::trace_load::parse(&text, "t").unwrap());
    assert_eq!(back.report.nodes, r.report.nodes);
    assert_eq!(back.report.write, r.report.write);
    // A trace written before the header kept them still loads, without them.
    let mut lines = text.splitn(2, '\n');
    let mut header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert!(header.as_object_mut().unwrap().remove("costs").is_some());
    let old = format!("{header}\n{}", lines.next().unwrap());
    let back = sovlab_sim::trace_load::parse(&old, "old").unwrap();
    assert!(back.costs.0.is_empty());
    // A run without a service time writes no costs at all: its header is as before.
    let plain = sovlab_sim::run(&load("checkout-saga.toml"), 1);
    assert!(!plain.trace.header_line().contains("\"costs\""));
}
