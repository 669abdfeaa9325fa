//! Fork stability: a scenario and its fork that differs only in a fault at time T run
//! identically until T. The faults are walked by the supervisor's tick, which exists
//! and ticks the same whatever the faults; nothing is spawned per fault, so the seeded
//! random draws madsim makes before T cannot depend on faults at or after T.

use sovlab_sim::scenario::Fault;
use sovlab_sim::{run, Scenario};

/// The trace's event lines (JSONL, without the header) with each event's time.
fn lines(s: &Scenario, seed: u64) -> Vec<(u64, String)> {
    let r = run(s, seed);
    let mut out = Vec::new();
    r.trace.write_jsonl(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<String> = text.lines().skip(1).map(str::to_string).collect();
    assert_eq!(lines.len(), r.trace.events.len());
    r.trace.events.iter().map(|e| e.t_us).zip(lines).collect()
}

/// The lines of `trace` with `t_us < before_us`.
fn prefix(trace: &[(u64, String)], before_us: u64) -> Vec<&str> {
    trace
        .iter()
        .take_while(|(t, _)| *t < before_us)
        .map(|(_, l)| l.as_str())
        .collect()
}

#[test]
fn a_fork_matches_its_parent_until_the_added_fault() {
    let mut differ_after = 0;
    let mut cases = 0;
    for name in [
        "checkout-saga",
        "2pc-coordinator-crash-restart",
        "shared-db-crash",
        "saga-isolation",
        "choreography-outbox-crash",
    ] {
        let parent = crate::util::load(&format!("{name}.toml"));
        // Nodes the catalogue does not crash already (a crash of a down node is a
        // no-op); with a shared database, a service's name means the database.
        let shared_db = name.starts_with("shared-db");
        let targets: Vec<String> = parent
            .fault_targets()
            .into_iter()
            .filter(|t| !parent.faults.iter().any(|f| f.crash.as_ref() == Some(t)))
            .filter(|t| !shared_db || !parent.services.iter().any(|s| &s.name == t))
            .collect();
        for seed in 1..=3 {
            let before = lines(&parent, seed);
            let end_us = before.last().map_or(0, |(t, _)| *t);
            // The middle of the run, and a quarter of it: after and before the
            // catalogue's own faults, in different runs.
            for t_ms in [end_us / 2000, end_us / 4000] {
                let t_ms = t_ms.max(1);
                let mut fork = parent.clone();
                fork.faults.push(Fault {
                    at_ms: t_ms,
                    crash: Some(targets[seed as usize % targets.len()].clone()),
                    ..Fault::default()
                });
                let after = lines(&fork, seed);
                let t_us = t_ms * 1000;
                let (a, b) = (prefix(&before, t_us), prefix(&after, t_us));
                assert!(
                    !a.is_empty(),
                    "{name} seed {seed}: nothing before {t_ms} ms"
                );
                if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
                    panic!(
                        "{name} seed {seed}, crash added at {t_ms} ms: the fork diverged \
                         before it, at event {i}:\n  parent: {}\n  fork:   {}",
                        a[i], b[i]
                    );
                }
                assert_eq!(
                    a.len(),
                    b.len(),
                    "{name} seed {seed}: as many events before {t_ms} ms"
                );
                // The fault itself is at or after T.
                let first_crash = after
                    .iter()
                    .skip(b.len())
                    .any(|(t, l)| *t >= t_us && l.contains("\"kind\":\"crash\""));
                assert!(first_crash, "{name} seed {seed}: the added crash fired");
                cases += 1;
                if before != after {
                    differ_after += 1;
                }
            }
        }
    }
    // The test can fail: the added crash changes what follows (here, in every case).
    assert_eq!(differ_after, cases, "every fork differs after its fault");
}

/// Removing a fault at T leaves everything before T alone too (what `sovlab shrink`
/// relies on), and a scenario with no fault at all runs as it did before the
/// schedule was walked by the supervisor.
#[test]
fn removing_a_later_fault_keeps_the_prefix() {
    let parent = crate::util::load("2pc-no-log.toml");
    assert!(parent.faults.len() >= 2);
    let last = parent.faults.iter().map(|f| f.at_ms).max().unwrap();
    let mut fewer = parent.clone();
    fewer.faults.retain(|f| f.at_ms < last);
    for seed in 1..=3 {
        let (a, b) = (lines(&parent, seed), lines(&fewer, seed));
        let (a, b) = (prefix(&a, last * 1000), prefix(&b, last * 1000));
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        assert_eq!(first, None, "seed {seed}: diverged before {last} ms");
        assert_eq!(a.len(), b.len(), "seed {seed}");
    }
}
