//! Determinism, in one place: the same scenario, seed and engine give a byte-identical
//! trace (and the same report); another seed gives another trace. Hashes pinned across
//! versions are another claim (an optimization changed nothing): `perf_determinism`.

use crate::util::{load, scenario};
use proptest::prelude::*;
use sovlab_sim::strategies::{cases, FaultOptions};
use sovlab_sim::testing::fixture::Fixture;
use sovlab_sim::{run_with, Engine, RunOptions, Scenario, Trace};

/// A small shared-database run with loss, duplication, rejections and a crash that
/// restarts.
fn small() -> Scenario {
    scenario(
        &Fixture::new("shared-database")
            .name("small")
            .head("duration_ms = 2000")
            .head("[network]\nloss = 0.05\nduplicate = 0.05\nlatency_ms = [1, 10]")
            .services(&["orders", "payments"])
            .service(1, "store = \"key-value\"")
            .set("transactions", 20)
            .set("concurrency", 3)
            .step(1, "amount = 5, reject = 0.2")
            .section("[[fault]]\nat_ms = 30\ncrash = \"database\"\nrestart_ms = 50")
            .toml(),
    )
}

/// A saga whose coordinator is hosted on a service's node, on a lossy network.
fn hosted() -> Scenario {
    crate::engines::hosted(0.2, 0.1, [1, 9])
}

/// The trace as its JSON lines: what "byte-identical" compares.
fn jsonl(t: &Trace) -> Vec<u8> {
    let mut v = Vec::new();
    t.write_jsonl(&mut v).unwrap();
    v
}

/// Every scenario, engine and pair of seeds the suite's determinism claims cover:
/// hand-written fixtures, catalogue protocols under crashes and duplicates, reads,
/// and the DES engine.
fn combinations() -> Vec<(String, Scenario, Engine, u64, u64)> {
    let mut all = vec![
        (
            "small shared database".to_string(),
            small(),
            Engine::Madsim,
            7,
            8,
        ),
        ("hosted saga".to_string(), hosted(), Engine::Des, 5, 6),
    ];
    for file in [
        "choreography-direct-crash.toml",
        "saga-duplicates-idempotent.toml",
        "2pc-coordinator-crash-restart.toml",
    ] {
        all.push((file.to_string(), load(file), Engine::Madsim, 3, 4));
    }
    for file in [
        "reads-torn-composition.toml",
        "reads-view-direct-diverges.toml",
    ] {
        all.push((file.to_string(), load(file), Engine::Madsim, 5, 6));
    }
    all
}

#[test]
fn same_scenario_seed_and_engine_same_trace_other_seed_other_trace() {
    for (name, s, engine, seed, other) in combinations() {
        let opts = RunOptions::default().on(engine);
        let a = run_with(&s, seed, opts);
        let b = run_with(&s, seed, opts);
        let c = run_with(&s, other, opts);
        assert_eq!(a.trace.hash, b.trace.hash, "{name}");
        assert_eq!(
            jsonl(&a.trace),
            jsonl(&b.trace),
            "{name}: byte-identical traces"
        );
        assert_eq!(a.report, b.report, "{name}");
        assert_ne!(
            a.trace.hash, c.trace.hash,
            "{name}: seeds {seed} and {other}"
        );
    }
}

#[test]
fn counting_only_keeps_the_hash_and_a_sweeps_unhashed_runs_skip_it() {
    let s = hosted();
    let a = run_with(&s, 5, RunOptions::default().on(Engine::Des));
    // Counters only or not, the hash is the same (a sweep's seed replays with `run`).
    let counted = run_with(&s, 5, RunOptions::counters_only().on(Engine::Des));
    assert_eq!(counted.trace.hash, a.trace.hash);
    // A sweep's runs skip the hash.
    let unhashed = RunOptions {
        hash: false,
        ..RunOptions::counters_only()
    };
    assert_eq!(run_with(&s, 5, unhashed.on(Engine::Des)).trace.hash, 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any scenario, any faults, any seed, every protocol (the shared database, 2PC, a
    /// choreographed saga, a CQRS view): two runs give the same trace hash. Other seeds
    /// giving other traces is checked above.
    #[test]
    fn determinism_of_every_protocol(d in cases(crate::props::shared_db(), FaultOptions { quiet_after_ms: None, ..FaultOptions::default() }), a in cases(crate::props::two_pc(), crate::props::any_faults()), b in cases(crate::props::saga_outbox("choreography"), crate::props::any_faults()), c in cases(crate::props::cqrs_outbox(), crate::props::any_faults())) {
        for case in [&d, &a, &b, &c] {
            prop_assert_eq!(case.run().trace.hash, case.run().trace.hash, "{:?}", case);
        }
    }
}
