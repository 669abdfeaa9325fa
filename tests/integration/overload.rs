//! Overload past the client's patience: the client stops waiting for a transaction
//! after its patience (2 s), and what the system does after that still counts. The
//! throughput counts the commits the system made, at the time it made them, so it
//! never exceeds what the servers can do; the latency is the time to the system's
//! answer, not capped at the patience; a transaction the client gave up on is not
//! available.

use crate::util::scenario;
use sovlab_sim::{Engine, RunOptions, Scenario};

/// One service with a fixed 5 ms service time on one worker (capacity 200 a second),
/// fed by Poisson arrivals at `rate` a second, `n` transactions, a deadline of 3 s.
fn one_server(rate: u32, n: u32) -> Scenario {
    scenario(&format!(
        r#"
name = "overload"
duration_ms = 3600000
[network]
latency_ms = [1, 1]
[[service]]
name = "shop"
service_time_ms = 5.0
[write]
protocol = "saga"
coordination = "choreography"
transactions = {n}
arrival_rate_per_s = {rate}
deadline_ms = 3000
retry = {{ backoff_ms = 3600000 }}
steps = [{{ service = "shop" }}]
"#
    ))
}

#[test]
fn throughput_past_patience_stays_within_capacity_and_latency_is_not_capped() {
    let capacity = 1000.0 / 5.0;
    for seed in 0..4 {
        let r = sovlab_sim::run_with(
            &one_server(600, 3000),
            seed,
            RunOptions::default().on(Engine::Des),
        );
        let w = r.report.write.as_ref().expect("write");
        assert_eq!(w.committed, 3000, "seed {seed}: every transaction commits");
        // 3000 at 600/s arrive within ~5 s; one server needs 15 s: latency passes 2 s.
        // The span includes the ramp-up, so the figure is at most the capacity; 3 %
        // allows for the 1 ms latencies and the Poisson start.
        assert!(
            w.throughput_per_s <= capacity * 1.03,
            "seed {seed}: {} committed/s above the capacity of {capacity}",
            w.throughput_per_s
        );
        assert!(
            w.throughput_per_s >= capacity * 0.9,
            "seed {seed}: {} committed/s, the server is busy throughout",
            w.throughput_per_s
        );
        // The last transactions wait about 15 s - 5 s = 10 s for their answer.
        assert!(
            w.latency_ms.max > 8_000.0 && w.latency_ms.p99 > 2_000.0,
            "seed {seed}: latency {:?} is capped at the patience",
            w.latency_ms
        );
        // Only those answered within 2 s (and 3 s deadline) were heard: the rest were
        // given up on, so not available. About 2 s of 15 s of work: well under 40 %.
        let avail = w.availability.expect("deadline");
        assert!(
            avail > 0.0 && avail < 0.4,
            "seed {seed}: availability {avail}"
        );
    }
}

#[test]
fn below_capacity_nothing_changes_with_patience() {
    // At half the capacity nobody waits long: every answer is heard, and the
    // throughput follows the arrivals (within 10 %).
    let r = sovlab_sim::run_with(
        &one_server(100, 1000),
        1,
        RunOptions::default().on(Engine::Des),
    );
    let w = r.report.write.as_ref().expect("write");
    assert!(
        (w.throughput_per_s - 100.0).abs() < 10.0,
        "{}",
        w.throughput_per_s
    );
    assert_eq!(w.availability, Some(1.0));
    assert!(w.latency_ms.max < 2_000.0, "{:?}", w.latency_ms);
}

/// The read side past the client's patience: one serving node (a view, or a gateway
/// with one source) with a fixed 5 ms service time on one worker, fed by Poisson
/// queries at `rate` a second, `n` of them; the client resends an unacknowledged query
/// every `backoff_ms` and gives up on it 2 s after its first send.
fn read_side(method: &str, rate: u32, n: u32, backoff_ms: u64) -> Scenario {
    let (node, extra) = match method {
        "cqrs-view" => ("history", "view = \"history\""),
        _ => ("gateway", "timeout_ms = 3600000"),
    };
    scenario(&format!(
        r#"
name = "read overload"
duration_ms = 3600000
[network]
latency_ms = [1, 1]
[[service]]
name = "shop"
[nodes.{node}]
service_time_ms = 5.0
[write]
protocol = "saga"
coordination = "choreography"
transactions = 1
retry = {{ backoff_ms = {backoff_ms} }}
steps = [{{ service = "shop" }}]
[read]
method = "{method}"
queries = {n}
arrival_rate_per_s = {rate}
{extra}
"#
    ))
}

#[test]
fn read_throughput_past_patience_stays_within_capacity_and_latency_is_not_capped() {
    // A view serves a query in one service time (200 a second); a gateway serves the
    // query and then its source's answer (100 a second). Retries far beyond any wait:
    // every query is served once, and its answer comes long after the 2 s patience.
    for (method, capacity) in [("cqrs-view", 200.0), ("api-composition", 100.0)] {
        for seed in 0..3 {
            let r = sovlab_sim::run_with(
                &read_side(method, 3 * capacity as u32, 1500, 3_600_000),
                seed,
                RunOptions::default().on(Engine::Des),
            );
            let q = r.report.read.as_ref().expect("read");
            assert_eq!(
                q.complete, 1500,
                "{method} seed {seed}: every query answered"
            );
            // The span includes the ramp-up, so at most the capacity (3 % for the
            // 1 ms latencies and the Poisson start); the node is busy throughout.
            assert!(
                q.throughput_per_s <= capacity * 1.03 && q.throughput_per_s >= capacity * 0.9,
                "{method} seed {seed}: {} complete/s against a capacity of {capacity}",
                q.throughput_per_s
            );
            // 1500 queries need 7.5 s (view) or 15 s (gateway) of service and arrive
            // within about 2.5 s or 5 s: the last wait about 5 s or 10 s.
            assert!(
                q.latency_ms.max > 4_000.0 && q.latency_ms.p99 > 2_000.0,
                "{method} seed {seed}: latency {:?} is capped at the patience",
                q.latency_ms
            );
        }
    }
}

#[test]
fn a_query_the_client_gave_up_on_counts_when_the_system_answers_it() {
    // Resends every 500 ms: a query still queued at the view is resent until the
    // client's patience (2 s) runs out, then given up on; its queued copies are still
    // served, and the first one served answers it.
    let capacity = 200.0;
    for seed in 0..3 {
        let r = sovlab_sim::run_with(
            &read_side("cqrs-view", 600, 1500, 500),
            seed,
            RunOptions::default().on(Engine::Des),
        );
        let mut sends = std::collections::BTreeMap::<i64, u32>::new();
        for e in &r.trace.events {
            if let sovlab_sim::trace::EventKind::Send { msg, .. } = e.kind {
                if msg.kind == sovlab_sim::msg::MsgKind::Query {
                    *sends.entry(msg.value).or_default() += 1;
                }
            }
        }
        // The client gave up: at most the first send and four resends (at 0.5, 1,
        // 1.5 and 2 s is the give-up), and some queries reached that many.
        let most = sends.values().copied().max().unwrap_or(0);
        assert!(
            (4..=5).contains(&most),
            "seed {seed}: a query was sent {most} times"
        );
        let q = r.report.read.as_ref().expect("read");
        assert_eq!(q.complete, 1500, "seed {seed}: given up, still answered");
        assert!(
            q.latency_ms.max > 2_000.0,
            "seed {seed}: latency {:?} is capped at the patience",
            q.latency_ms
        );
        // The copies cost the view a service time each: the distinct answers per
        // second stay well under what it can serve.
        assert!(
            q.throughput_per_s > 0.0 && q.throughput_per_s <= capacity,
            "seed {seed}: {} complete/s",
            q.throughput_per_s
        );
        let view = r.report.nodes.get("history").expect("timed");
        assert!(view.arrivals > 1500, "seed {seed}: copies served too");
    }
}
