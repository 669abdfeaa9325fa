//! Behaviours that once went unnoticed when broken on purpose: each is pinned here at
//! the level a user sees (a scenario run, its invariants), over seeds where it is a
//! matter of chance, with a check that the situation it is about really happened.

use crate::util::scenario;
use sovlab_sim::check::{outcomes, service_store, step_ends, Outcome, StepEnd};
use sovlab_sim::patterns::saga::{key_parts, KeyKind};
use sovlab_sim::store::StepState;
use sovlab_sim::trace::EventKind;
use sovlab_sim::{run, RunResult, Scenario};

fn verdict<'a>(r: &'a RunResult, name: &str) -> &'a sovlab_sim::Verdict {
    r.verdicts
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("{name} applies"))
}

/// Asserts that `r` ends settled: atomicity, conservation and termination hold.
fn settles(r: &RunResult) {
    for name in ["atomicity", "conservation", "termination"] {
        let v = verdict(r, name);
        assert!(v.holds, "seed {}: {name}: {:?}", r.trace.seed, v.example);
    }
}

/// Runs `s` on seeds `1..=n`.
fn runs(s: &Scenario, n: u64) -> Vec<RunResult> {
    (1..=n).map(|seed| run(s, seed)).collect()
}

/// The state of step `step` of `txn` in the final stores.
fn end_state(r: &RunResult, service: &str, txn: u32, step: u16) -> Option<StepState> {
    let ix = service_store(&r.trace, service);
    r.trace.final_stores[ix]
        .steps
        .get(&(txn, step))
        .map(|rec| rec.state)
}

// 1. The isolation checker counts units held by 2PC prepares, not only units applied.

const TWO_PC_SCARCE: &str = r#"
name = "2PC, scarce stock held by prepares that abort"
duration_ms = 5000
[network]
latency_ms = [2, 10]
[[service]]
name = "inventory"
capacity = 4
[[service]]
name = "payments"
[write]
protocol = "two-phase-commit"
transactions = 20
concurrency = 4
steps = [
  { service = "inventory", amount = 4 },
  { service = "payments", reject = 0.6 },
]
"#;

#[test]
fn units_held_by_a_prepare_that_aborts_break_isolation() {
    let s = scenario(TWO_PC_SCARCE);
    let mut broken = 0;
    for r in runs(&s, 10) {
        // Nothing a 2PC transaction aborts is ever applied: only held units are dirty.
        for (txn, o) in outcomes(&r.trace) {
            if o == Outcome::Aborted {
                assert_ne!(end_state(&r, "inventory", txn, 0), Some(StepState::Applied));
            }
        }
        assert!(verdict(&r, "atomicity").holds);
        let iso = verdict(&r, "isolation");
        if !iso.holds {
            broken += 1;
            let ex = iso.example.as_deref().unwrap();
            assert!(
                ex.contains("(inventory): rejected for lack of units"),
                "{ex}"
            );
            let at = iso.at_seq.unwrap() as usize;
            assert!(
                matches!(r.trace.events[at].kind, EventKind::Reject { step: 0, .. }),
                "located at the refusal"
            );
        }
    }
    assert!(broken >= 5, "isolation broken on only {broken} of 10 seeds");
}

// 2. Choreography passes an undo on down the chain.

/// Four services; the link between the second and the third loses most messages at
/// first, so the second often gives up on an event the third did receive and ran
/// (only the acknowledgements were lost), and the fourth ran after it.
const CHOREOGRAPHY_MID_CHAIN_GIVE_UP: &str = r#"
name = "choreography, a mid-chain give-up with the later steps applied"
duration_ms = 5000
[network]
latency_ms = [1, 4]
[[service]]
name = "orders"
[[service]]
name = "inventory"
capacity = 100
[[service]]
name = "shipping"
capacity = 100
[[service]]
name = "payments"
capacity = 100
[write]
protocol = "saga"
coordination = "choreography"
transactions = 12
concurrency = 3
retry = { backoff_ms = 10, attempts = 2 }
steps = [
  { service = "orders" },
  { service = "inventory", amount = 2 },
  { service = "shipping", amount = 3 },
  { service = "payments", amount = 5 },
]
[[fault]]
at_ms = 0
loss = 0.7
until_ms = 300
link = ["inventory", "shipping"]
"#;

#[test]
fn an_undo_travels_on_to_every_later_step_that_applied() {
    let s = scenario(CHOREOGRAPHY_MID_CHAIN_GIVE_UP);
    let mut undone_at_last = 0;
    for r in runs(&s, 8) {
        settles(&r);
        // The last step refuses nothing: only an undo passed on twice compensates it.
        undone_at_last += outcomes(&r.trace)
            .into_iter()
            .filter(|(txn, _)| end_state(&r, "payments", *txn, 3) == Some(StepState::Compensated))
            .count();
    }
    assert!(
        undone_at_last >= 4,
        "only {undone_at_last} undos reached the last step"
    );
}

// 3. A recovering orchestrator compensates a given-up step.

/// Payments is down long enough for its commands to be given up; the orchestrator
/// crashes while the compensations of the given-up steps wait for payments to return.
const ORCHESTRATOR_CRASH_AFTER_GIVE_UP: &str = r#"
name = "orchestrator crashes between a give-up and its compensation"
duration_ms = 5000
[network]
latency_ms = [1, 4]
[[service]]
name = "orders"
[[service]]
name = "inventory"
capacity = 100
[[service]]
name = "payments"
capacity = 100
[write]
protocol = "saga"
transactions = 8
concurrency = 4
retry = { backoff_ms = 10, attempts = 2 }
steps = [
  { service = "orders" },
  { service = "inventory", amount = 2 },
  { service = "payments", amount = 5 },
]
[[fault]]
at_ms = 5
crash = "payments"
restart_ms = 300
[[fault]]
at_ms = 60
crash = "coordinator"
restart_ms = 40
"#;

/// Transactions whose give-up the orchestrator logged before it crashed, undecided.
fn given_up_before_the_crash(r: &RunResult) -> Vec<u32> {
    let node = r.trace.node_ix("coordinator").unwrap();
    let log = r
        .trace
        .stores
        .iter()
        .position(|s| s.node == node && s.service.is_none())
        .unwrap() as u16;
    let mut given_up = Vec::new();
    for e in &r.trace.events {
        match &e.kind {
            EventKind::Crash if e.node == node => break,
            EventKind::Local { store, writes, .. } if *store == log => {
                for w in writes.iter() {
                    match *w {
                        sovlab_sim::store::Write::Seen { key } => {
                            let (kind, txn, _) = key_parts(key);
                            if kind == KeyKind::GaveUp as u8 {
                                given_up.push(txn);
                            }
                        }
                        sovlab_sim::store::Write::Decide { txn, .. } => {
                            given_up.retain(|t| *t != txn)
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    given_up
}

#[test]
fn a_recovering_orchestrator_compensates_a_given_up_step() {
    let s = scenario(ORCHESTRATOR_CRASH_AFTER_GIVE_UP);
    let mut pending = 0;
    for r in runs(&s, 6) {
        let given_up = given_up_before_the_crash(&r);
        pending += given_up.len();
        settles(&r);
        let ends = outcomes(&r.trace);
        for txn in given_up {
            assert_eq!(ends[txn as usize - 1], (txn, Outcome::Aborted));
            assert_eq!(
                end_state(&r, "inventory", txn, 1),
                Some(StepState::Compensated),
                "txn {txn}: the earlier step is compensated"
            );
        }
    }
    assert!(pending >= 6, "only {pending} give-ups pending at the crash");
}

// 4. The conservation checker sees units given back twice, not only units lost.

/// Duplicated commands to services that do not de-duplicate: a duplicated take
/// loses units, a duplicated compensation gives them back twice.
const NOT_IDEMPOTENT: &str = r#"
name = "duplicated compensations at services that do not de-duplicate"
duration_ms = 5000
[network]
latency_ms = [1, 8]
duplicate = 0.2
[[service]]
name = "inventory"
capacity = 1000
[[service]]
name = "payments"
[write]
protocol = "saga"
transactions = 20
concurrency = 2
idempotent = false
steps = [
  { service = "inventory", amount = 2 },
  { service = "payments", reject = 1.0 },
]
"#;

#[test]
fn conservation_sees_units_given_back_twice() {
    let s = scenario(NOT_IDEMPOTENT);
    let (mut surplus, mut deficit) = (0, 0);
    for r in runs(&s, 20) {
        // The imbalance at inventory, from the final store, independently of the checker.
        let end = &r.trace.final_stores[service_store(&r.trace, "inventory")];
        let applied: i64 = end
            .steps
            .values()
            .filter(|rec| matches!(rec.state, StepState::Applied | StepState::Held))
            .map(|rec| rec.amount)
            .sum();
        let off = 1000 - (end.available + applied);
        let v = verdict(&r, "conservation");
        assert_eq!(v.holds, off == 0, "seed {}: off by {off}", r.trace.seed);
        if off < 0 {
            surplus += 1;
            let ex = v.example.as_deref().unwrap();
            assert!(ex.contains(&format!("{} units too many", -off)), "{ex}");
        }
        deficit += usize::from(off > 0);
    }
    assert!(
        surplus >= 3 && deficit >= 3,
        "{surplus} runs with units given back twice, {deficit} with units lost"
    );
}

// 5. A duplicate draws its own latency.

/// Half the messages are duplicated, none is resent (the backoff outlasts the run's
/// round trips), so every message id is delivered once, or twice when duplicated.
const DUPLICATES: &str = r#"
name = "duplicates, each with its own latency"
duration_ms = 60000
[network]
latency_ms = [1, 61]
duplicate = 0.5
[[service]]
name = "orders"
[[service]]
name = "payments"
[write]
protocol = "saga"
transactions = 60
concurrency = 4
retry = { backoff_ms = 1000 }
steps = [{ service = "orders" }, { service = "payments" }]
"#;

/// Delays (µs) of the two copies of every duplicated message of a run.
fn copy_delays(r: &RunResult) -> Vec<(u64, u64)> {
    use std::collections::BTreeMap;
    let mut sent: BTreeMap<(u16, u16, u32), u64> = BTreeMap::new();
    let mut duplicated = Vec::new();
    let mut arrived: BTreeMap<(u16, u16, u32), Vec<u64>> = BTreeMap::new();
    for e in &r.trace.events {
        match &e.kind {
            EventKind::Send { to, msg } => {
                let first = sent.insert((e.node, *to, msg.id), e.t_us);
                assert!(first.is_none(), "no message is resent here");
            }
            EventKind::Duplicate { to, msg } => duplicated.push((e.node, *to, msg.id)),
            EventKind::Deliver { from, msg } => {
                let at = sent[&(*from, e.node, msg.id)];
                arrived
                    .entry((*from, e.node, msg.id))
                    .or_default()
                    .push(e.t_us - at);
            }
            _ => {}
        }
    }
    duplicated
        .iter()
        .map(|k| match arrived[k][..] {
            [a, b] => (a, b),
            ref other => panic!("{k:?}: a duplicated message arrived {other:?}"),
        })
        .collect()
}

#[test]
fn a_duplicate_draws_its_own_latency() {
    let s = scenario(DUPLICATES);
    let pairs: Vec<(u64, u64)> = runs(&s, 5).iter().flat_map(copy_delays).collect();
    assert!(pairs.len() >= 300, "only {} duplicates", pairs.len());
    // Each copy's delay is uniform over [1, 61] ms (stamps may be a tick late).
    for &(a, b) in &pairs {
        for d in [a, b] {
            assert!((1_000..=62_000).contains(&d), "delay {d} µs");
        }
    }
    // Two independent uniform delays over a 60 ms range differ by 20 ms on average
    // (E|X - Y| = range / 3) and are rarely within 1 ms of each other (~3 %); a copy
    // that shared or shadowed the original's delay would differ by ~0.
    let n = pairs.len() as f64;
    let mean_gap = pairs
        .iter()
        .map(|&(a, b)| a.abs_diff(b) as f64)
        .sum::<f64>()
        / n
        / 1000.0;
    assert!(
        (17.0..=23.0).contains(&mean_gap),
        "mean gap between the copies {mean_gap:.1} ms, expected 20 ± 3"
    );
    let close = pairs.iter().filter(|(a, b)| a.abs_diff(*b) < 1_000).count() as f64 / n;
    assert!(
        close < 0.08,
        "{:.0} % of the copies arrive together",
        close * 100.0
    );
}

// 6. A 2PC participant in doubt asks again after its recovery.

/// Payments votes, then crashes in doubt; the coordinator, without a log, crashes too
/// and forgets everything: only payments asking again after its recovery can release
/// the units it holds. (Without a log the answer may contradict a commit made before
/// the crash: atomicity and agreement may break here, as in `2pc-no-log`; what must
/// not happen is units held, undecided, forever.)
const IN_DOUBT_AT_A_CRASH: &str = r#"
name = "2PC, a participant in doubt at its crash"
duration_ms = 5000
[network]
latency_ms = [1, 8]
[[service]]
name = "orders"
[[service]]
name = "payments"
capacity = 1000
[write]
protocol = "two-phase-commit"
transactions = 40
concurrency = 8
interval_ms = 1
timeout_ms = 100
coordinator_log = false
steps = [{ service = "orders" }, { service = "payments", amount = 3 }]
[[fault]]
at_ms = 20
crash = "coordinator"
restart_ms = 30
[[fault]]
at_ms = 20
crash = "payments"
restart_ms = 60
"#;

/// How many steps payments held, undecided, when it crashed.
fn held_at_the_crash(r: &RunResult) -> usize {
    let node = r.trace.node_ix("payments").unwrap();
    let store = service_store(&r.trace, "payments") as u16;
    let mut replay = sovlab_sim::store::Snapshot::default();
    for e in &r.trace.events {
        match &e.kind {
            EventKind::Crash if e.node == node => break,
            EventKind::Local {
                store: s, writes, ..
            } if *s == store => writes.iter().for_each(|w| replay.apply(w)),
            _ => {}
        }
    }
    replay
        .steps
        .values()
        .filter(|rec| rec.state == StepState::Held)
        .count()
}

#[test]
fn a_participant_in_doubt_asks_again_after_its_recovery() {
    let s = scenario(IN_DOUBT_AT_A_CRASH);
    let mut in_doubt = 0;
    for r in runs(&s, 6) {
        in_doubt += held_at_the_crash(&r);
        for (txn, _) in outcomes(&r.trace) {
            assert!(
                !step_ends(&r.trace, txn).contains(&StepEnd::Held),
                "seed {}: txn {txn} is held, undecided, at the end",
                r.trace.seed
            );
        }
    }
    assert!(in_doubt >= 6, "only {in_doubt} steps in doubt at the crash");
}
