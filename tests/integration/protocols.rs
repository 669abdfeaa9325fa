//! The write protocols: every scenario of issue 3 meets its `expect`, the textbook
//! outcomes are shown in the final stores and the trace, and 2PC keeps agreement and
//! atomicity under random crash schedules.

use crate::util::{holds, load, scenario};
use sovlab_sim::check::{outcomes, Outcome};
use sovlab_sim::store::StepState;
use sovlab_sim::trace::EventKind;
use sovlab_sim::{run, RunResult, Scenario};

/// Runs a catalogue scenario on its own seed.
fn run_file(name: &str) -> (Scenario, RunResult) {
    let s = load(name);
    let r = run(&s, s.seed_or(None));
    (s, r)
}

/// Runs `name` on seeds 1..=n; returns how many met their expect.
fn met_on_seeds(name: &str, n: u64) -> u64 {
    let s = load(name);
    (1..=n)
        .filter(|&seed| run(&s, seed).report.expect.met)
        .count() as u64
}

const CATALOGUE: [&str; 16] = [
    "saga-rejections.toml",
    "saga-orchestrator-direct-crash.toml",
    "saga-orchestrator-crash-after-log.toml",
    "saga-isolation.toml",
    "choreography-direct-crash.toml",
    "choreography-direct-crash-after-commit.toml",
    "choreography-outbox-crash.toml",
    "saga-duplicates-not-idempotent.toml",
    "saga-duplicates-idempotent.toml",
    "2pc-coordinator-crash-restart.toml",
    "2pc-coordinator-crash-forever.toml",
    "2pc-crash-between-votes.toml",
    "2pc-no-log.toml",
    "checkout-saga.toml",
    "checkout-2pc.toml",
    "checkout-shared-db.toml",
];

#[test]
fn every_protocol_scenario_meets_its_expect_on_its_seed() {
    for name in CATALOGUE {
        let (_, r) = run_file(name);
        assert!(
            r.report.expect.met,
            "{name}: {:?}",
            r.report.expect.failures
        );
    }
}

#[test]
fn protocol_scenarios_show_their_effect_on_most_seeds() {
    for name in CATALOGUE {
        let met = met_on_seeds(name, 10);
        assert!(met >= 8, "{name}: expect met on only {met} of 10 seeds");
    }
}

#[test]
fn saga_rejections_are_fully_compensated() {
    let (s, r) = run_file("saga-rejections.toml");
    let ends = outcomes(&r.trace);
    assert!(ends.iter().all(|(_, o)| *o != Outcome::Unfinished));
    let aborted: Vec<u32> = ends
        .iter()
        .filter(|(_, o)| *o == Outcome::Aborted)
        .map(|(t, _)| *t)
        .collect();
    assert!(!aborted.is_empty(), "some transactions were rejected");
    let mut compensated = 0;
    for (ix, info) in r.trace.stores.iter().enumerate() {
        if info.service.is_none() {
            continue;
        }
        for ((txn, _), rec) in &r.trace.final_stores[ix].steps {
            if aborted.contains(txn) {
                assert!(
                    matches!(rec.state, StepState::Compensated | StepState::Rejected),
                    "txn {txn} at {}: {:?}",
                    info.name,
                    rec.state
                );
                compensated += usize::from(rec.state == StepState::Compensated);
            }
        }
    }
    assert!(
        compensated > 0,
        "completed steps of rejected sagas were compensated"
    );
    // Every unit is back where it belongs: left + applied = capacity at every service.
    assert!(holds(&r, "conservation") && holds(&r, "atomicity"));
    assert_eq!(
        r.report.write.as_ref().unwrap().transactions,
        s.write.unwrap().transactions
    );
}

#[test]
fn saga_under_contention_reads_dirty_but_ends_atomic() {
    let (_, r) = run_file("saga-isolation.toml");
    assert!(!holds(&r, "isolation"));
    assert!(holds(&r, "atomicity"));
    let v = r.verdicts.iter().find(|v| v.name == "isolation").unwrap();
    let ex = v.example.as_deref().unwrap();
    assert!(
        ex.starts_with("txn ") && ex.contains("step 1 (inventory)"),
        "{ex}"
    );
    let at = v.at_seq.unwrap() as usize;
    assert!(matches!(r.trace.events[at].kind, EventKind::Reject { .. }));
}

#[test]
fn direct_publishing_loses_an_event_in_a_crash_and_the_outbox_does_not() {
    let (_, direct) = run_file("choreography-direct-crash.toml");
    assert!(!holds(&direct, "atomicity") || !holds(&direct, "termination"));
    assert!(direct.report.write.as_ref().unwrap().unfinished > 0);
    let (_, outbox) = run_file("choreography-outbox-crash.toml");
    for name in ["atomicity", "conservation", "termination"] {
        assert!(holds(&outbox, name), "{name} with an outbox");
    }
    assert_eq!(outbox.report.write.as_ref().unwrap().unfinished, 0);
}

#[test]
fn an_orchestrator_without_an_outbox_strands_sagas_in_a_crash() {
    let (s, direct) = run_file("saga-orchestrator-direct-crash.toml");
    let v = direct
        .verdicts
        .iter()
        .find(|v| v.name == "termination")
        .unwrap();
    assert!(!v.holds);
    assert!(
        v.example
            .as_deref()
            .unwrap()
            .contains("still waiting at coordinator"),
        "{:?}",
        v.example
    );
    let mut outbox = s.clone();
    outbox.write.as_mut().unwrap().publish = sovlab_sim::scenario::Publish::Outbox;
    let r = run(&outbox, s.seed_or(None));
    for name in ["atomicity", "conservation", "termination"] {
        assert!(holds(&r, name), "{name} with an outbox");
    }
}

#[test]
fn duplicates_break_conservation_only_without_idempotence() {
    let (_, naive) = run_file("saga-duplicates-not-idempotent.toml");
    assert!(!holds(&naive, "conservation"));
    let (_, idem) = run_file("saga-duplicates-idempotent.toml");
    assert!(holds(&idem, "conservation") && holds(&idem, "atomicity"));
    assert!(idem.trace.counters.duplicated > 0);
}

/// Seq numbers of the coordinator's crash and restart.
fn crash_and_restart(r: &RunResult) -> (usize, Option<usize>) {
    let coord = r.trace.node_ix("coordinator").unwrap();
    let at = |want: fn(&EventKind) -> bool| {
        r.trace
            .events
            .iter()
            .position(|e| e.node == coord && want(&e.kind))
    };
    (
        at(|k| matches!(k, EventKind::Crash)).unwrap(),
        at(|k| matches!(k, EventKind::Restart)),
    )
}

/// Transactions a participant held across the coordinator's crash, decided after `after`.
fn held_across(r: &RunResult, crash: usize, after: usize) -> Vec<u32> {
    use sovlab_sim::store::Write;
    let mut held = Vec::new();
    for e in &r.trace.events[..crash] {
        if let EventKind::Local { writes, .. } = &e.kind {
            for w in writes.iter() {
                if let Write::Hold { txn, .. } = w {
                    held.push(*txn);
                }
            }
        }
    }
    held.retain(|t| {
        let decided_before = r.trace.events[..after].iter().any(|e| match &e.kind {
            EventKind::Local { writes, .. } => writes.iter().any(
                |w| matches!(w, Write::Apply { txn, .. } | Write::Release { txn, .. } if txn == t),
            ),
            _ => false,
        });
        !decided_before
    });
    held.sort_unstable();
    held.dedup();
    held
}

#[test]
fn two_pc_participants_wait_in_doubt_until_the_coordinator_restarts() {
    let (_, r) = run_file("2pc-coordinator-crash-restart.toml");
    for name in ["atomicity", "conservation", "agreement", "termination"] {
        assert!(holds(&r, name), "{name}");
    }
    let (crash, restart) = crash_and_restart(&r);
    let restart = restart.expect("it restarts");
    let in_doubt = held_across(&r, crash, restart);
    assert!(
        !in_doubt.is_empty(),
        "some participant held units through the outage"
    );
    // Everything held through the outage is decided after the restart, and nothing stays held.
    assert_eq!(r.report.write.as_ref().unwrap().unfinished, 0);
}

#[test]
fn two_pc_without_its_coordinator_blocks_forever() {
    let (_, r) = run_file("2pc-coordinator-crash-forever.toml");
    assert!(holds(&r, "agreement") && holds(&r, "atomicity"));
    assert!(!holds(&r, "termination"));
    let held = r
        .trace
        .final_stores
        .iter()
        .flat_map(|s| s.steps.values())
        .filter(|rec| rec.state == StepState::Held)
        .count();
    assert!(held > 0, "units stay held by participants in doubt");
    let (crash, _) = crash_and_restart(&r);
    assert!(!held_across(&r, crash, r.trace.events.len()).is_empty());
}

#[test]
fn two_pc_without_a_log_can_break_agreement_and_with_one_cannot() {
    let (s, r) = run_file("2pc-no-log.toml");
    assert!(!holds(&r, "agreement") && !holds(&r, "atomicity"));
    let mut logged = s.clone();
    logged.write.as_mut().unwrap().coordinator_log = true;
    for seed in 1..=5 {
        let r = run(&logged, seed);
        assert!(
            holds(&r, "agreement") && holds(&r, "atomicity"),
            "seed {seed}"
        );
    }
}

#[test]
fn the_same_checkout_under_three_protocols() {
    let runs: Vec<RunResult> = [
        "checkout-saga.toml",
        "checkout-2pc.toml",
        "checkout-shared-db.toml",
    ]
    .iter()
    .map(|n| run_file(n).1)
    .collect();
    // The files differ only in their name and protocol, and in what their description
    // and `expect` say each protocol keeps and breaks.
    let mut a = load("checkout-saga.toml");
    for other in ["checkout-2pc.toml", "checkout-shared-db.toml"] {
        let mut b = load(other);
        b.name = a.name.clone();
        b.description = a.description.clone();
        b.expect = a.expect.clone();
        a.write.as_mut().unwrap().protocol = b.write.as_ref().unwrap().protocol;
        assert_eq!(a, b, "{other}");
    }
    let protocols: Vec<&str> = runs
        .iter()
        .map(|r| r.report.write.as_ref().unwrap().protocol.as_str())
        .collect();
    assert_eq!(protocols, ["saga", "two-phase-commit", "shared-database"]);
    for r in &runs {
        for name in ["atomicity", "conservation", "termination"] {
            assert!(holds(r, name), "{name} under {}", r.report.scenario);
        }
        assert!(r.report.invariants.get("isolation").is_some());
    }
    assert!(runs[1].report.invariants.get("agreement").is_some());
    assert!(runs[0].report.invariants.get("agreement").is_none());
    assert!(
        holds(&runs[2], "isolation"),
        "one serial database cannot read dirty"
    );
}

/// A small deterministic generator for fault schedules (splitmix64).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A scenario of `protocol` with 1 to 3 random crashes (some never restarted).
fn random_crashes(protocol: &str, extra: &str, seed: u64) -> Scenario {
    let mut g = Gen(seed);
    // Odd seeds host the coordinator on the orders service's node.
    let hosted = seed % 2 == 1;
    let coordinator = if hosted { "orders" } else { "coordinator" };
    let nodes = [coordinator, "orders", "inventory", "payments"];
    let mut faults = String::new();
    for _ in 0..=g.below(3) {
        let node = nodes[g.below(4) as usize];
        let at = 5 + g.below(120);
        faults.push_str(&format!("[[fault]]\nat_ms = {at}\ncrash = \"{node}\"\n"));
        if g.below(4) != 0 {
            faults.push_str(&format!("restart_ms = {}\n", 1 + g.below(150)));
        }
    }
    scenario(&format!(
        r#"
name = "random crashes"
duration_ms = 1500
[network]
latency_ms = [1, 6]
loss = 0.05
duplicate = 0.05
[[service]]
name = "orders"
[[service]]
name = "inventory"
capacity = 30
[[service]]
name = "payments"
[write]
protocol = "{protocol}"
transactions = 12
concurrency = 3
timeout_ms = 40
coordinator = "{coordinator}"
{extra}
steps = [
  {{ service = "orders" }},
  {{ service = "inventory", amount = 2, reject = 0.1 }},
  {{ service = "payments", amount = 5, reject = 0.2 }},
]
{faults}"#
    ))
}

#[test]
fn two_pc_keeps_agreement_and_atomicity_under_random_crashes() {
    for seed in 0..300 {
        let s = random_crashes("two-phase-commit", "", seed);
        let r = run(&s, seed);
        for name in ["agreement", "atomicity", "conservation"] {
            let v = r.verdicts.iter().find(|v| v.name == name).unwrap();
            assert!(
                v.holds,
                "seed {seed}: {name}: {:?}\n{}",
                v.example,
                s.to_toml()
            );
        }
    }
}

#[test]
fn outbox_saga_with_idempotent_services_conserves_under_random_crashes() {
    for seed in 0..150 {
        let s = random_crashes("saga", "publish = \"outbox\"", seed);
        let r = run(&s, seed);
        let v = r
            .verdicts
            .iter()
            .find(|v| v.name == "conservation")
            .unwrap();
        assert!(v.holds, "seed {seed}: {:?}\n{}", v.example, s.to_toml());
    }
}
