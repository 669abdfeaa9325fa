//! The shared database's app tells the client what the database did. When its
//! statement timeout fires, the app asks the database to roll the transaction back
//! and reports the database's answer: rolled back, or committed already. (It once
//! reported "failed" at its timeout while the database went on to commit.)

use crate::util::{load, scenario};
use sovlab_sim::check::{outcomes, Outcome};
use sovlab_sim::msg::MsgKind;
use sovlab_sim::trace::EventKind;
use sovlab_sim::{Engine, RunOptions, RunResult};
use std::collections::BTreeMap;

/// Checks every outcome the client heard against the stores; returns how many
/// rollback requests (`undo`) the app sent and how many outcomes were heard.
fn told_matches_done(r: &RunResult, what: &str) -> (usize, usize) {
    let done: BTreeMap<_, _> = outcomes(&r.trace).into_iter().collect();
    let mut heard = 0;
    for e in &r.trace.events {
        if let EventKind::Outcome { txn, committed } = e.kind {
            heard += 1;
            let did = done.get(&txn).copied();
            assert_eq!(
                committed,
                did == Some(Outcome::Committed),
                "{what}: txn {txn} told committed={committed}, the database: {did:?}"
            );
        }
    }
    let undos = r
        .trace
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Send { msg, .. } if msg.kind == MsgKind::Undo))
        .count();
    (undos, heard)
}

#[test]
fn a_statement_timeout_reports_what_the_database_did() {
    // The bottleneck scenario with a 50 ms statement timeout at 200 a second: the
    // database's queue is longer than that, so the app times out transactions the
    // database is about to run.
    let text = std::fs::read_to_string(
        crate::util::root().join("scenarios/cost-shared-db-bottleneck.toml"),
    )
    .unwrap()
    .replace("timeout_ms = 600000", "timeout_ms = 50")
    .replace("arrival_rate_per_s = 250", "arrival_rate_per_s = 200")
    .replace("transactions = 600", "transactions = 300");
    let s = scenario(&text);
    let mut undos = 0;
    for seed in 0..4 {
        let r = sovlab_sim::run_with(&s, seed, RunOptions::default().on(Engine::Des));
        let (u, heard) = told_matches_done(&r, &format!("bottleneck seed {seed}"));
        assert_eq!(heard, 300, "seed {seed}: every transaction answered");
        undos += u;
        let w = r.report.write.as_ref().unwrap();
        let unknown = w.aborted_by.0.iter().find(|(c, _)| c == "unknown");
        assert!(unknown.is_none_or(|(_, n)| *n == 0), "{:?}", w.aborted_by.0);
    }
    assert!(undos > 0, "the statement timeout never fired");
}

#[test]
fn the_catalogue_shared_database_tells_the_truth_under_faults() {
    for file in [
        "shared-db-crash.toml",
        "shared-db-partition-heal.toml",
        "shared-db-lossy-link.toml",
        "checkout-shared-db.toml",
    ] {
        let mut s = load(file);
        // A short statement timeout, so that it fires while the database works.
        s.write.as_mut().unwrap().timeout_ms = 40;
        for seed in 0..6 {
            let r = sovlab_sim::run(&s, seed);
            told_matches_done(&r, &format!("{file} seed {seed}"));
            assert!(r.verdicts.iter().all(|v| v.holds), "{file} seed {seed}");
        }
    }
}
