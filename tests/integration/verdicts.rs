//! Verdicts a learner can read: `[expect] sometimes`, judged over a sweep, and the
//! report's `expect` lists.

use crate::util::{root, sovlab};
use sovlab_sim::{sweep, Scenario};

fn catalogue(stem: &str) -> Scenario {
    let path = root().join(format!("scenarios/{stem}.toml"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Every catalogue story told with `sometimes` is met by a sweep: some seed breaks each
/// `sometimes` invariant, and every seed keeps `holds` and breaks `violated`.
#[test]
fn the_catalogues_statistical_stories_are_met_by_a_sweep() {
    let mut told = 0;
    for e in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let s = Scenario::load(&p).unwrap();
        if s.expect.as_ref().is_none_or(|e| e.sometimes.is_empty()) {
            continue;
        }
        told += 1;
        let runs = sweep::run_seeds(&s, 0..40, 2, &|| {});
        assert!(
            sweep::expect_met(&s, &runs),
            "{}: unmet sometimes {:?}, seeds not met {:?}",
            p.display(),
            sweep::sometimes_unmet(&s, &runs),
            runs.iter()
                .filter(|r| !r.expect_met)
                .map(|r| r.seed)
                .collect::<Vec<_>>()
        );
    }
    assert!(told >= 5, "the catalogue uses sometimes ({told} scenarios)");
}

#[test]
fn sometimes_names_an_invariant_that_applies_and_no_other_list() {
    let base = std::fs::read_to_string(root().join("scenarios/saga-isolation.toml")).unwrap();
    let with = |expect: &str| {
        let text = base.replace("sometimes = [\"isolation\"]", expect);
        Scenario::parse(&text, "x.toml")
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let err = with("sometimes = [\"isolaton\"]");
    assert!(err.contains("unknown invariant \"isolaton\""), "{err}");
    assert!(err.contains("did you mean \"isolation\"?"), "{err}");
    let err = with("sometimes = [\"convergence\"]");
    assert!(err.contains("does not apply"), "{err}");
    let err = with("sometimes = [\"atomicity\"]");
    assert!(
        err.contains("\"atomicity\" is in both `sometimes` and `holds`"),
        "{err}"
    );
}

#[test]
fn run_json_carries_the_file_stem_and_the_expect_lists() {
    let o = sovlab(&["run", "saga-isolation", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["file"], "saga-isolation");
    let s = catalogue("saga-isolation");
    let e = s.expect.unwrap();
    assert_eq!(r["expect"]["holds"], serde_json::json!(e.holds));
    assert_eq!(r["expect"]["violated"], serde_json::json!([]));
    assert_eq!(r["expect"]["sometimes"], serde_json::json!(["isolation"]));
    assert_eq!(r["expect"]["met"], true);
    assert!(r["expect"]["failures"].is_array());
}
