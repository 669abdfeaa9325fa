//! `sovlab explore`: the known answers of exhaustive exploration, the replay of its
//! counterexamples, and a cross-check against sweeps (docs/reference/explore.md).

use crate::util::{root, sovlab};
use sovlab_sim::explore::{self, Bounds, Exploration};
use sovlab_sim::trace::EventKind;
use sovlab_sim::{check, Engine, RunOptions, Scenario};

fn load(name: &str) -> Scenario {
    Scenario::load(&root().join("scenarios").join(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn explore_with(s: &Scenario, prune: bool) -> Exploration {
    let mut b = Bounds::of(s);
    b.prune = prune;
    explore::explore(s, &b, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

fn broken(x: &Exploration, name: &str) -> bool {
    !x.invariants[name].holds
}

/// Each counterexample replays: its scenario, written and parsed back, breaks the
/// same invariant on the DES engine, and its trace loads in the TUI's loader.
fn replays(x: &Exploration, name: &str) {
    let c = x.invariants[name]
        .counterexample
        .as_ref()
        .unwrap_or_else(|| panic!("{name} has a counterexample"));
    let text = c.scenario.to_toml();
    let s = Scenario::parse(&text, "cex.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let t = sovlab_sim::exec::run(&s, 0, RunOptions::default().on(Engine::Des));
    assert!(
        !check::check(&t, name).holds,
        "{name}: the replay breaks it\n{text}"
    );
    assert_eq!(t.event_count, c.events, "{name}: the same execution");
    let mut jsonl = Vec::new();
    c.trace.write_jsonl(&mut jsonl).unwrap();
    let loaded = sovlab_sim::trace_load::parse(std::str::from_utf8(&jsonl).unwrap(), "cex.jsonl")
        .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(loaded.event_count, c.events);
    let r = sovlab_sim::trace_load::judge(loaded);
    assert!(r.verdicts.iter().any(|v| v.name == name && !v.holds));
}

/// Known answer 1: the count derived by hand in docs/reference/explore.md.
#[test]
fn the_smallest_2pc_has_the_hand_derived_number_of_executions() {
    let s = load("explore-count.toml");
    let x = explore_with(&s, false);
    assert!(x.complete);
    assert_eq!(
        x.executions, HAND_COUNT,
        "docs/reference/explore.md derives it"
    );
    assert_eq!(x.states, None, "no hashing, no state count");
    assert!(x.invariants.values().all(|f| f.holds));
    // Hashing prunes revisits: fewer executions, the same answers.
    let h = explore_with(&s, true);
    assert!(h.executions < HAND_COUNT, "{} executions", h.executions);
    assert!(h.states.is_some_and(|m| m > 0));
    assert!(h.invariants.values().all(|f| f.holds));
}

/// The number of executions of explore-count.toml (derived in the docs).
const HAND_COUNT: u64 = 18;

/// Known answer 2: 2PC with a log blocks, never disagrees.
#[test]
fn two_phase_commit_with_a_log_keeps_agreement_and_blocks() {
    let s = load("explore-2pc-log.toml");
    let x = explore_with(&s, true);
    assert!(x.complete, "cut by {:?}", x.cut_by);
    assert!(!broken(&x, "agreement") && !broken(&x, "atomicity"));
    assert!(broken(&x, "termination"));
    let c = x.invariants["termination"].counterexample.as_ref().unwrap();
    // The shortest form: the coordinator crashes once both participants voted yes.
    let ev = &c.trace.events;
    let crash = ev
        .iter()
        .position(|e| e.kind == EventKind::Crash)
        .expect("a crash");
    let votes = ev[..crash]
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Vote { yes: true, .. }))
        .count();
    assert_eq!(votes, 2, "{}", c.story);
    assert!(!ev[..crash]
        .iter()
        .any(|e| matches!(e.kind, EventKind::Decide { .. })));
    // Without pruning, no shorter counterexample exists.
    let full = explore_with(&s, false);
    let f = full.invariants["termination"]
        .counterexample
        .as_ref()
        .unwrap();
    assert_eq!(f.events, c.events);
    // Its scenario places the crash at the protocol step, as the textbook tells it:
    // right after the coordinator's handler of the last vote.
    let placed: Vec<_> = c
        .scenario
        .faults
        .iter()
        .filter_map(|f| f.after.as_ref())
        .collect();
    assert_eq!(placed.len(), 1, "{}", c.scenario.to_toml());
    assert_eq!(placed[0].node, "coordinator", "{}", c.scenario.to_toml());
    // And its story tells the window by that step, not by a time.
    assert!(
        c.faults[0].starts_with("coordinator crashes right after the 2nd deliver of a vote"),
        "{:?}",
        c.faults
    );
    assert!(
        c.story.starts_with("Coordinator crashes right after"),
        "{}",
        c.story
    );
    replays(&x, "termination");
}

/// Known answer 3: without the log, a counterexample to agreement.
#[test]
fn two_phase_commit_without_a_log_can_disagree() {
    let x = explore_with(&load("explore-2pc-no-log.toml"), true);
    assert!(x.complete, "cut by {:?}", x.cut_by);
    assert!(broken(&x, "agreement"));
    assert!(!broken(&x, "conservation"));
    replays(&x, "agreement");
}

/// Known answer 4: sagas with the outbox keep atomicity under one crash; with direct
/// publishing a crash between commit and send breaks it.
#[test]
fn sagas_with_the_outbox_stay_atomic_and_direct_publishing_does_not() {
    let outbox = explore_with(&load("explore-saga-outbox.toml"), true);
    assert!(outbox.complete && !broken(&outbox, "atomicity"));
    let direct = explore_with(&load("explore-saga-direct.toml"), true);
    assert!(direct.complete && broken(&direct, "atomicity"));
    replays(&direct, "atomicity");
    let chor = load("explore-choreography.toml");
    let direct = explore_with(&chor, true);
    assert!(direct.complete && broken(&direct, "atomicity"));
    replays(&direct, "atomicity");
    let mut outbox = chor.clone();
    outbox.write.as_mut().unwrap().publish = sovlab_sim::scenario::Publish::Outbox;
    let outbox = explore_with(&outbox, true);
    assert!(outbox.complete && !broken(&outbox, "atomicity"));
}

/// Known answer 5: duplication without idempotence breaks conservation; with it, no
/// execution does.
#[test]
fn duplicates_break_conservation_only_without_idempotence() {
    let s = load("explore-duplicates.toml");
    let x = explore_with(&s, true);
    assert!(x.complete && broken(&x, "conservation"));
    replays(&x, "conservation");
    let mut idem = s.clone();
    idem.write.as_mut().unwrap().idempotent = true;
    let y = explore_with(&idem, true);
    assert!(y.complete && !broken(&y, "conservation"));
}

/// Cross-check: every invariant a sweep (DES, 300 seeds) breaks on a tiny scenario,
/// the explorer breaks too (a sampled violation is among the enumerated ones).
#[test]
fn every_violation_a_sweep_finds_is_among_the_explorers() {
    for (name, idempotent) in [
        ("explore-duplicates.toml", false),
        ("explore-duplicates.toml", true),
    ] {
        let mut s = load(name);
        s.write.as_mut().unwrap().idempotent = idempotent;
        let x = explore_with(&s, true);
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..300 {
            let r = sovlab_sim::run_on(&s, seed, Engine::Des);
            for v in r.verdicts.iter().filter(|v| !v.holds) {
                seen.insert(v.name.clone());
            }
        }
        for n in &seen {
            assert!(
                broken(&x, n),
                "{name} idempotent={idempotent}: a sweep breaks {n}"
            );
        }
        if !idempotent {
            assert!(
                seen.contains("conservation"),
                "the sweep samples the break too"
            );
        }
    }
}

#[test]
fn the_command_line_prints_the_json_format_and_exits_as_run() {
    let f = root().join("scenarios/explore-2pc-log.toml");
    let o = sovlab(&["explore", f.to_str().unwrap(), "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "sovlab-explore");
    assert_eq!(v["version"], 1);
    assert!(v["executions"].as_u64().unwrap() > 0);
    assert!(v["states"].as_u64().is_some());
    assert_eq!(v["complete"], true);
    assert_eq!(v["bounds"]["max_crashes"], 1);
    assert_eq!(v["invariants"]["agreement"]["holds"], true);
    assert!(v["invariants"]["agreement"]["counterexample"].is_null());
    let c = &v["invariants"]["termination"]["counterexample"];
    assert!(c["events"].as_u64().unwrap() > 0 && c["story"].is_string() && c["faults"].is_array());
    // Without the crash, termination holds everywhere: its expected break is unmet.
    let o = sovlab(&["explore", f.to_str().unwrap(), "--max-crashes", "0"]);
    assert_eq!(o.status.code(), Some(1));
    // Too large for the bounds: exit 2, with a hint.
    let big = root().join("scenarios/2pc-no-log.toml");
    let o = sovlab(&["explore", big.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("hint"));
    // --no-prune runs every execution: the count the docs derive by hand.
    let count = root().join("scenarios/explore-count.toml");
    let o = sovlab(&["explore", count.to_str().unwrap(), "--no-prune", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["executions"], HAND_COUNT);
    assert!(v["states"].is_null());
    // A node with a service time: the explorer's network has no clock for it.
    let text = std::fs::read_to_string(&count).unwrap().replacen(
        "[[service]]\n",
        "[[service]]\nservice_time_ms = 1.0\n",
        1,
    );
    let timed = crate::util::tempdir("explore-timed").join("timed.toml");
    std::fs::write(&timed, text).unwrap();
    let o = sovlab(&["explore", timed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("service_time_ms") && err.contains("hint"),
        "{err}"
    );
}
