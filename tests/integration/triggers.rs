//! Faults placed at a protocol step (`after`): they fire right after the handler that
//! recorded the count-th matching event, identically on both engines; the report says
//! whether and when each fault struck; shrink and the scenario writer keep them.

use sovlab_sim::scenario::After;
use sovlab_sim::testing::fixture::Fixture;
use sovlab_sim::trace::EventKind;
use sovlab_sim::{run_on, Engine, Scenario};

/// A 2PC of three participants whose coordinator crashes after the `count`-th vote
/// it receives for txn `txn`, and never comes back (no business-rule rejects).
fn two_pc(txn: u32, count: u32) -> Scenario {
    let text = Fixture::new("two-phase-commit")
        .head("duration_ms = 3000")
        .head("[network]\nlatency_ms = [1, 8]")
        .set("transactions", 10)
        .set("concurrency", 4)
        .set("interval_ms", 2)
        .set("timeout_ms", 100)
        .set("coordinator_log", true)
        .section(&format!("[[fault]]\nafter = {{ node = \"coordinator\", event = \"deliver\", msg = \"vote\", txn = {txn}, count = {count} }}\ncrash = \"coordinator\""))
        .toml();
    Scenario::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// The seq of the `count`-th delivery of a vote for `txn` at the coordinator.
fn nth_vote(r: &sovlab_sim::RunResult, txn: u32, count: usize) -> Option<usize> {
    let coord = r.trace.nodes.iter().position(|n| n.name == "coordinator")? as u16;
    r.trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            e.node == coord
                && matches!(e.kind, EventKind::Deliver { msg, .. }
                    if msg.kind == sovlab_sim::msg::MsgKind::Vote && msg.txn == txn)
        })
        .map(|(i, _)| i)
        .nth(count - 1)
}

#[test]
fn a_trigger_fires_right_after_the_handler_of_its_event_on_both_engines() {
    let s = two_pc(3, 2);
    for engine in Engine::ALL {
        for seed in 0..5 {
            let r = run_on(&s, seed, engine);
            let at = nth_vote(&r, 3, 2).expect("the 2nd vote arrives");
            let events = &r.trace.events;
            let crash = events
                .iter()
                .position(|e| e.kind == EventKind::Crash)
                .expect("it fired");
            // Right after that handler: the same instant, after every event the
            // handler recorded (they are all at the coordinator), before anything else.
            assert_eq!(events[crash].t_us, events[at].t_us, "{engine} seed {seed}");
            assert!(crash > at, "{engine} seed {seed}");
            let coord = events[at].node;
            assert!(
                events[at + 1..crash].iter().all(|e| e.node == coord),
                "{engine} seed {seed}: only the handler's own events in between"
            );
            let f = &r.report.faults[0];
            assert!(f.fired, "{engine} seed {seed}");
            let want = (events[at].t_us as f64 / 100.0).round() / 10.0;
            assert_eq!(f.at_ms, Some(want), "{engine} seed {seed}");
        }
    }
}

#[test]
fn a_trigger_that_never_matches_never_fires_and_the_report_says_so() {
    let s = two_pc(99, 1);
    for engine in Engine::ALL {
        let r = run_on(&s, 1, engine);
        assert!(
            !r.trace.events.iter().any(|e| e.kind.is_fault()),
            "{engine}"
        );
        assert!(!r.report.faults[0].fired, "{engine}");
        assert!(
            r.report.to_text().contains("never fired: its trigger"),
            "{engine}"
        );
        let json = serde_json::to_value(&r.report).unwrap();
        assert_eq!(json["faults"][0]["fired"], false);
    }
}

#[test]
fn a_crash_after_the_second_of_three_votes_blocks_that_transaction_on_every_seed() {
    // With two of three votes in, the coordinator cannot have decided: txn 3 is in
    // doubt forever, whatever the seed; the story names the crash and the trigger.
    let s = two_pc(3, 2);
    for seed in 0..200 {
        let r = run_on(&s, seed, Engine::Des);
        let t = r
            .verdicts
            .iter()
            .find(|v| v.name == "termination")
            .expect("termination applies");
        assert!(!t.holds, "seed {seed}");
        assert!(
            t.subjects.contains("txn 3"),
            "seed {seed}: {:?}",
            t.subjects
        );
    }
}

#[test]
fn restart_and_for_ms_are_relative_to_the_firing() {
    let mut s = two_pc(3, 1);
    s.faults[0].restart_ms = Some(50);
    s.faults.push(sovlab_sim::scenario::Fault {
        after: Some(After {
            node: "orders".into(),
            event: "vote".into(),
            msg: None,
            txn: Some(5),
            count: 1,
        }),
        partition: Some(vec![vec!["orders".into()], vec!["inventory".into()]]),
        for_ms: Some(30),
        ..Default::default()
    });
    for engine in Engine::ALL {
        let r = run_on(&s, 2, engine);
        let at = |k: &dyn Fn(&EventKind) -> bool| {
            r.trace.events.iter().find(|e| k(&e.kind)).map(|e| e.t_us)
        };
        let crash = at(&|k| *k == EventKind::Crash).expect("crash");
        let restart = at(&|k| *k == EventKind::Restart).expect("restart");
        // A restart is done at the first tick at or after it is due (1 ms ticks).
        assert!(
            restart >= crash + 50_000 && restart < crash + 51_000,
            "{engine}"
        );
        let split = at(&|k| matches!(k, EventKind::Partition { .. })).expect("split");
        let heal = at(&|k| *k == EventKind::Heal).expect("heal");
        assert!(heal >= split + 30_000 && heal < split + 31_000, "{engine}");
    }
}

#[test]
fn the_scenario_writer_writes_a_trigger_back_as_after_and_it_parses_back() {
    let mut s = two_pc(3, 2);
    s.faults[0].restart_ms = Some(40);
    let text = s.to_toml();
    assert!(text.contains("after = {"), "{text}");
    assert!(!text.contains("at_ms"), "{text}");
    let back = Scenario::parse(&text, "back.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, s);
}

#[test]
fn shrink_keeps_a_trigger_a_trigger() {
    let mut s = two_pc(3, 2);
    // An irrelevant second fault, which shrink should drop; the trigger stays.
    s.faults.push(sovlab_sim::scenario::Fault {
        at_ms: 2500,
        crash: Some("orders".into()),
        ..Default::default()
    });
    s.expect = Some(sovlab_sim::scenario::Expect {
        violated: vec!["termination".into()],
        ..Default::default()
    });
    let shrunk = sovlab_sim::shrink::shrink_on(&s, 1, Engine::Des).expect("it breaks");
    let faults = &shrunk.scenario.faults;
    assert_eq!(faults.len(), 1, "{faults:?}");
    let a = faults[0].after.as_ref().expect("still a trigger");
    assert_eq!((a.node.as_str(), a.txn), ("coordinator", Some(3)));
    assert!(a.count <= 2);
    assert_eq!(
        shrunk.seed, 1,
        "no nearby seed needed: a trigger breaks on every seed"
    );
}

#[test]
fn the_catalogue_2pc_crash_between_votes_blocks_txn_3_on_every_seed() {
    let s = Scenario::load(&crate::util::root().join("scenarios/2pc-crash-between-votes.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    for seed in 0..200 {
        let r = run_on(&s, seed, Engine::Des);
        assert!(r.report.faults[0].fired, "seed {seed}");
        let t = r.verdicts.iter().find(|v| v.name == "termination").unwrap();
        assert!(
            t.subjects.contains("txn 3"),
            "seed {seed}: {:?}",
            t.subjects
        );
        for name in ["atomicity", "conservation", "agreement"] {
            let v = r.verdicts.iter().find(|v| v.name == name).unwrap();
            assert!(v.holds, "seed {seed}: {name}");
        }
    }
}

#[test]
fn the_catalogue_dual_write_crash_after_a_commit_half_applies_txn_3_on_every_seed() {
    let path = "scenarios/choreography-direct-crash-after-commit.toml";
    let s = Scenario::load(&crate::util::root().join(path)).unwrap_or_else(|e| panic!("{e}"));
    for seed in 0..100 {
        let r = run_on(&s, seed, Engine::Des);
        assert!(r.report.faults[0].fired, "seed {seed}");
        let a = r.verdicts.iter().find(|v| v.name == "atomicity").unwrap();
        assert!(
            a.subjects.contains("txn 3"),
            "seed {seed}: {:?}",
            a.subjects
        );
        let c = r
            .verdicts
            .iter()
            .find(|v| v.name == "conservation")
            .unwrap();
        assert!(c.holds, "seed {seed}");
    }
}

#[test]
fn the_catalogue_orchestrator_crash_after_its_log_strands_txn_3_on_every_seed() {
    let path = "scenarios/saga-orchestrator-crash-after-log.toml";
    let s = Scenario::load(&crate::util::root().join(path)).unwrap_or_else(|e| panic!("{e}"));
    for seed in 0..100 {
        let r = run_on(&s, seed, Engine::Des);
        let t = r.verdicts.iter().find(|v| v.name == "termination").unwrap();
        assert!(
            t.subjects.contains("txn 3"),
            "seed {seed}: {:?}",
            t.subjects
        );
        assert!(
            r.report.expect.met,
            "seed {seed}: {:?}",
            r.report.expect.failures
        );
    }
}

/// `after.event` is checked against `EVENT_KINDS`, a list kept by hand beside
/// `EventKind`: every kind the catalogue's runs record must be in it, or a trigger on
/// that kind would be refused as unknown.
#[test]
fn every_recorded_kind_can_be_named_by_a_trigger() {
    let mut seen = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(crate::util::root().join("scenarios")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            let s = crate::util::load(path.file_name().unwrap().to_str().unwrap());
            for ev in run_on(&s, 1, Engine::Des).trace.events {
                seen.insert(ev.kind.name());
            }
        }
    }
    let missing: Vec<_> = seen
        .iter()
        .filter(|k| !sovlab_sim::trace::EVENT_KINDS.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "kinds a trigger cannot name: {missing:?}"
    );
    assert!(
        seen.len() >= 15,
        "the catalogue records few kinds: {seen:?}"
    );
}
