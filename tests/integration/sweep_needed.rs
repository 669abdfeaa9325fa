//! A sweep keeps only the events the checkers and the report read
//! (`check::Needed`): its per-seed summaries must be the same as with every event
//! kept, on every catalogue scenario, on both engines.

use crate::util::root;
use sovlab_sim::sweep::{run_one_on, run_one_with};
use sovlab_sim::{run_with, Engine, RunOptions, Scenario};

/// Seeds per catalogue scenario and engine (the DES is the faster).
fn seeds(engine: Engine) -> std::ops::Range<u64> {
    match engine {
        Engine::Madsim => 0..6,
        Engine::Des => 0..20,
    }
}

fn catalogue() -> Vec<(String, Scenario)> {
    let mut out: Vec<(String, Scenario)> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let s = Scenario::load(&p).unwrap_or_else(|e| panic!("{e}"));
            (p.file_name().unwrap().to_string_lossy().into_owned(), s)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn a_sweep_judges_the_same_with_only_the_events_checkers_read() {
    let every = RunOptions {
        hash: false,
        ..RunOptions::default()
    };
    let (mut broken, mut compared) = (0, 0);
    for (name, s) in catalogue() {
        for engine in Engine::ALL {
            for seed in seeds(engine) {
                let sparse = run_one_on(&s, seed, engine);
                let full = run_one_with(&s, seed, every.on(engine));
                assert_eq!(sparse, full, "{name} seed {seed} on {engine}");
                broken += usize::from(!full.broken.is_empty());
                compared += 1;
            }
        }
    }
    // The comparison means something only if some runs broke invariants.
    assert!(
        broken > compared / 10,
        "{broken} of {compared} runs broke something"
    );
}

#[test]
fn a_sweep_keeps_fewer_events_than_it_records() {
    let s = crate::util::load("checkout-saga.toml");
    let sparse = RunOptions {
        hash: false,
        only_needed: true,
        ..RunOptions::default()
    };
    for engine in Engine::ALL {
        let r = run_with(&s, 3, sparse.on(engine));
        let kept = r.trace.events.len() as u64;
        assert!(
            kept > 0 && kept * 2 < r.trace.event_count,
            "{kept} of {}",
            r.trace.event_count
        );
    }
}
