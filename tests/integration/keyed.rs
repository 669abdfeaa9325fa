//! Keyed randomness seen from outside: a fault added to a run changes only the
//! decisions it touches. A business rule is drawn per (transaction, step, attempt), so
//! a crash elsewhere cannot make a step's rule reject it or let it through.

use crate::util::root;
use sovlab_sim::scenario::Fault;
use sovlab_sim::store::RejectReason;
use sovlab_sim::trace::EventKind;
use sovlab_sim::{run, Scenario};
use std::collections::BTreeSet;

/// Every (transaction, step) a business rule rejected in the run.
fn rule_rejections(s: &Scenario, seed: u64) -> BTreeSet<(u32, u16)> {
    run(s, seed)
        .trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Reject {
                txn,
                step,
                reason: RejectReason::Rule,
                ..
            } => Some((txn, step)),
            _ => None,
        })
        .collect()
}

/// The saga-orchestration lesson's exercise 2: `saga-rejections` with the coordinator
/// crashing at 100 ms and restarting 200 ms later.
fn exercise_2() -> (Scenario, Scenario) {
    let base = Scenario::load(&root().join("scenarios/saga-rejections.toml")).unwrap();
    let mut crashed = base.clone();
    crashed.faults.push(Fault {
        at_ms: 100,
        crash: Some("coordinator".into()),
        restart_ms: Some(200),
        ..Fault::default()
    });
    (base, crashed)
}

#[test]
fn a_crash_leaves_every_business_rule_rejection_as_it_was() {
    let (base, crashed) = exercise_2();
    let mut total = 0;
    for seed in 1..=20 {
        let (a, b) = (
            rule_rejections(&base, seed),
            rule_rejections(&crashed, seed),
        );
        // The orchestrator keeps its saga log and resumes every saga after the
        // restart, so each transaction still reaches the same steps: the same
        // rejections, none added by the crash and none taken away.
        assert_eq!(
            a, b,
            "seed {seed}: rule rejections without / with the crash"
        );
        total += a.len();
    }
    // The test can fail: rejections happen (about 30% of 40 transactions per seed).
    assert!(total > 20 * 5, "{total} rule rejections over 20 seeds");
}

#[test]
fn the_lessons_seed_keeps_its_rule_aborts_and_adds_none() {
    let (base, crashed) = exercise_2();
    let (a, b) = (run(&base, 1), run(&crashed, 1));
    let rules = |t: &sovlab_sim::trace::Trace| {
        t.events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::Reject {
                        reason: RejectReason::Rule,
                        ..
                    }
                )
            })
            .count()
    };
    assert!(rules(&a.trace) > 0, "the lesson's seed has rule rejections");
    assert_eq!(rules(&a.trace), rules(&b.trace));
    let w = |r: &sovlab_sim::RunResult| r.report.write.as_ref().map(|w| w.aborted);
    assert_eq!(w(&a), w(&b), "the crash adds no abort on the lesson's seed");
}
