//! Cause and effect in the report: every abort has a cause, and every broken
//! invariant says which faults its example needs (`because`).

use crate::util::{root, sovlab};
use sovlab_sim::trace::EventKind;
use sovlab_sim::why::Because;
use sovlab_sim::{run, run_explained, RunResult, Scenario};

fn load(name: &str) -> Scenario {
    Scenario::load(&root().join("scenarios").join(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn because(r: &RunResult, name: &str) -> Because {
    let v = r
        .report
        .invariants
        .get(name)
        .unwrap_or_else(|| panic!("{name} applies"));
    assert!(!v.holds, "{name} should be broken");
    v.because
        .clone()
        .unwrap_or_else(|| panic!("{name} has no because"))
}

/// The seq of the only `crash` event of the run.
fn crash_seq(r: &RunResult) -> u64 {
    let crashes: Vec<usize> = (0..r.trace.events.len())
        .filter(|&i| r.trace.events[i].kind == EventKind::Crash)
        .collect();
    assert_eq!(crashes.len(), 1, "one crash");
    crashes[0] as u64
}

#[test]
fn aborted_by_adds_up_on_every_catalogue_scenario() {
    let mut files: Vec<_> = std::fs::read_dir(root().join("scenarios"))
        .expect("catalogue")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut with_aborts = 0;
    for path in files {
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        if s.write.is_none() {
            continue;
        }
        for seed in 1..=4 {
            let w = run(&s, seed).report.write.expect("write");
            let sum: u32 = w.aborted_by.0.iter().map(|(_, n)| n).sum();
            assert_eq!(
                sum,
                w.aborted,
                "{} seed {seed}: {:?}",
                path.display(),
                w.aborted_by
            );
            assert_eq!(
                w.aborted_by.get("unknown"),
                None,
                "{} seed {seed}: an abort no cause explains",
                path.display()
            );
            with_aborts += u32::from(w.aborted > 0);
        }
    }
    assert!(
        with_aborts > 10,
        "the catalogue aborts something: {with_aborts}"
    );
}

#[test]
fn the_2pc_blocking_scenario_names_its_aborts() {
    let s = load("2pc-coordinator-crash-forever.toml");
    let w = run(&s, 1).report.write.expect("write");
    // Submitted after the crash: the coordinator never received them.
    assert!(
        w.aborted_by.get("never-accepted").copied().unwrap_or(0) > 0,
        "{w:?}"
    );
    let s = load("saga-orchestrator-direct-crash.toml");
    let w = run(&s, 1).report.write.expect("write");
    // Begun in the log, never decided: stranded, not "aborted" by anyone.
    assert!(
        w.aborted_by.get("stranded").copied().unwrap_or(0) > 0,
        "{w:?}"
    );
}

#[test]
fn termination_in_2pc_blocking_is_because_of_the_coordinator_crash() {
    let s = load("2pc-coordinator-crash-forever.toml");
    let r = run_explained(&s, s.seed_or(None));
    let b = because(&r, "termination");
    assert_eq!(b.faults, vec![0]);
    let crash = crash_seq(&r);
    assert_eq!(b.cause_seq, Some(crash));
    assert!(
        b.story.starts_with("coordinator crashed at 60.0 ms"),
        "{}",
        b.story
    );
    assert!(b.story.contains(&format!("(event {crash})")), "{}", b.story);
    let detected = r.report.invariants.get("termination").unwrap().detected_seq;
    assert!(
        detected.is_some_and(|d| d != crash),
        "the victim's place is kept apart"
    );
}

#[test]
fn termination_in_the_direct_orchestrator_is_because_of_its_crash() {
    let s = load("saga-orchestrator-direct-crash.toml");
    let r = run_explained(&s, s.seed_or(None));
    let b = because(&r, "termination");
    assert!(b.faults.contains(&1), "the crash is needed: {b:?}");
    assert_eq!(b.cause_seq, Some(crash_seq(&r)), "{b:?}");
    assert!(
        b.story.contains("coordinator crashed at 50.0 ms"),
        "{}",
        b.story
    );
}

#[test]
fn an_invariant_broken_by_concurrency_alone_needs_no_fault() {
    let mut s = load("saga-isolation.toml");
    // A fault that strikes after the sagas are over (or never): it must not be blamed.
    let text = "name = \"x\"\n[[service]]\nname = \"orders\"\n[[fault]]\nat_ms = 4900\ncrash = \"orders\"\nrestart_ms = 10\n";
    s.faults = crate::util::scenario(text).faults;
    let r = run_explained(&s, 1);
    let b = because(&r, "isolation");
    assert_eq!(b.faults, Vec::<usize>::new());
    assert_eq!(b.cause_seq, None);
    assert!(b.story.contains("no fault at all"), "{}", b.story);
}

#[test]
fn run_prints_the_story_and_puts_because_in_the_json() {
    let out = sovlab(&[
        "run",
        "scenarios/2pc-coordinator-crash-forever.toml",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let t = &v["invariants"]["termination"];
    assert_eq!(t["because"]["faults"], serde_json::json!([0]));
    assert!(
        t["because"]["cause_seq"].is_u64() && t["detected_seq"].is_u64(),
        "{t}"
    );
    let sum: u64 = v["write"]["aborted_by"]
        .as_object()
        .expect("aborted_by")
        .values()
        .map(|n| n.as_u64().expect("count"))
        .sum();
    assert_eq!(Some(sum), v["write"]["aborted"].as_u64());
    let out = sovlab(&["run", "scenarios/2pc-coordinator-crash-forever.toml"]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.contains("because coordinator crashed at 60.0 ms"),
        "{text}"
    );
    assert!(text.contains("aborted by "), "{text}");
}

#[test]
fn a_break_by_the_networks_own_duplication_names_it_not_concurrency() {
    // No [[fault]]: the network delivers 10% of messages twice to services that do
    // not de-duplicate, so conservation breaks by duplication.
    let s = load("saga-duplicates-not-idempotent.toml");
    assert!(s.faults.is_empty());
    let r = run_explained(&s, s.seed_or(None));
    let b = because(&r, "conservation");
    assert_eq!(b.faults, Vec::<usize>::new());
    assert!(b.story.contains("the network's own"), "{}", b.story);
    assert!(!b.story.contains("concurrency alone"), "{}", b.story);
    // The event it names is a duplicate of the violating transaction's message.
    let first: usize = b
        .story
        .split("duplication (")
        .nth(1)
        .and_then(|t| t.split("first at event ").nth(1))
        .and_then(|t| t.split(')').next())
        .and_then(|n| n.parse().ok())
        .expect("names the first duplicate");
    assert_eq!(
        r.trace.events[first].kind.name(),
        "duplicate",
        "{}",
        b.story
    );
}
