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
