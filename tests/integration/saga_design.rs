//! The saga design space (issue 16): per-service overrides and the one dual-write
//! window, countermeasures for lost isolation, with their scenarios, over many seeds.

use crate::bad_input::run_bad;
use crate::util::{root, scenario};
use sovlab_sim::{run, RunResult, Scenario};

fn load(name: &str) -> Scenario {
    Scenario::load(&root().join("scenarios").join(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn verdict<'a>(r: &'a RunResult, name: &str) -> &'a sovlab_sim::check::Verdict {
    r.verdicts
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("{name} applies"))
}

fn holds(r: &RunResult, name: &str) -> bool {
    verdict(r, name).holds
}

/// Seeds on which `name` breaks, out of `seeds`.
fn broken_on(s: &Scenario, name: &str, seeds: std::ops::RangeInclusive<u64>) -> Vec<u64> {
    seeds.filter(|&seed| !holds(&run(s, seed), name)).collect()
}

const TWO_SERVICES: &str =
    "name = \"x\"\n[[service]]\nname = \"orders\"\n[[service]]\nname = \"payments\"\n";

#[test]
fn one_service_that_does_not_deduplicate_breaks_conservation_there_only() {
    let weak = load("saga-weak-link.toml");
    let mut broken = 0;
    for seed in 1..=20 {
        let r = run(&weak, seed);
        let v = verdict(&r, "conservation");
        if !v.holds {
            broken += 1;
            assert_eq!(v.violations, 1, "seed {seed}: one service breaks");
            let ex = v.example.as_deref().unwrap();
            assert!(ex.starts_with("payments:"), "seed {seed}: {ex}");
        }
    }
    assert!(
        broken >= 10,
        "the weak link shows on most seeds: {broken}/20"
    );
    // The same file without the override: every service de-duplicates.
    let text = std::fs::read_to_string(root().join("scenarios/saga-weak-link.toml")).unwrap();
    let fixed = scenario(&text.replace("idempotent = false\n", ""));
    assert_eq!(broken_on(&fixed, "conservation", 1..=20), Vec::<u64>::new());
}

#[test]
fn a_direct_view_diverges_under_crashes_alone_on_some_seeds() {
    let s = load("reads-view-direct-crash-only.toml");
    assert_eq!(s.network.loss, 0.0);
    let mut diverged = 0;
    for seed in 1..=30 {
        let r = run(&s, seed);
        diverged += u32::from(!holds(&r, "convergence"));
        assert!(
            holds(&r, "atomicity") && holds(&r, "conservation"),
            "seed {seed}"
        );
    }
    assert!(
        (1..30).contains(&diverged),
        "crashes alone lose a change on some seeds, not all: {diverged}/30"
    );
    // With an outbox the change is durable with its commit: it always converges.
    let text = std::fs::read_to_string(root().join("scenarios/reads-view-direct-crash-only.toml"))
        .unwrap();
    let outbox = scenario(&text.replace("publish = \"direct\"", "publish = \"outbox\""));
    assert_eq!(broken_on(&outbox, "convergence", 1..=30), Vec::<u64>::new());
}

#[test]
fn a_wider_dual_write_gap_loses_more_changes() {
    let text = std::fs::read_to_string(root().join("scenarios/reads-view-direct-crash-only.toml"))
        .unwrap();
    let narrow = scenario(&text);
    let wide = scenario(&text.replace("[write]\n", "[write]\ndual_write_gap_ms = 8\n"));
    let n = broken_on(&narrow, "convergence", 1..=30).len();
    let w = broken_on(&wide, "convergence", 1..=30).len();
    assert!(w > n, "8 ms gap {w}/30 vs 1 ms {n}/30");
}

#[test]
fn an_idempotent_override_outside_a_saga_is_located() {
    let text = format!(
        "{TWO_SERVICES}idempotent = false\n[write]\nprotocol = \"two-phase-commit\"\nsteps = [{{ service = \"orders\" }}]\n"
    );
    let (err, path) = run_bad("svc-idempotent", &text);
    assert!(err.contains(&format!("{path}:6:14")), "{err}");
    assert!(
        err.contains("idempotent on service \"payments\" applies to sagas only"),
        "{err}"
    );
    assert!(
        err.contains("hint: remove it, or set [write] protocol = \"saga\""),
        "{err}"
    );
}

#[test]
fn a_publish_override_with_nothing_to_publish_is_located() {
    let text = format!(
        "{TWO_SERVICES}publish = \"direct\"\n[write]\nprotocol = \"shared-database\"\nsteps = [{{ service = \"orders\" }}]\n"
    );
    let (err, path) = run_bad("svc-publish", &text);
    assert!(err.contains(&format!("{path}:6:11")), "{err}");
    assert!(
        err.contains("publish on service \"payments\" has nothing to publish"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn a_misspelt_service_publish_is_located() {
    let text = format!(
        "{TWO_SERVICES}publish = \"outbx\"\n[write]\nprotocol = \"saga\"\nsteps = [{{ service = \"orders\" }}]\n"
    );
    let (err, path) = run_bad("svc-publish-value", &text);
    assert!(err.contains(&format!("{path}:6:11")), "{err}");
    assert!(err.contains("outbx"), "{err}");
}

#[test]
fn a_dual_write_gap_above_an_hour_is_located() {
    let text = format!(
        "{TWO_SERVICES}[write]\nprotocol = \"saga\"\ndual_write_gap_ms = 4000000\nsteps = [{{ service = \"orders\" }}]\n"
    );
    let (err, path) = run_bad("gap", &text);
    assert!(err.contains(&format!("{path}:8:21")), "{err}");
    assert!(
        err.contains("dual_write_gap_ms must be at most 3600000 ms"),
        "{err}"
    );
}

/// The invariants every saga-isolation variant keeps, on every seed.
const KEPT: [&str; 3] = ["atomicity", "conservation", "termination"];

#[test]
fn isolation_breaks_without_a_countermeasure_and_never_with_one() {
    let none = load("saga-isolation.toml");
    let mut broken = 0;
    for seed in 1..=30 {
        let r = run(&none, seed);
        broken += u32::from(!holds(&r, "isolation"));
        for k in KEPT {
            assert!(holds(&r, k), "none, seed {seed}: {k}");
        }
    }
    assert!(broken >= 25, "dirty reads on most seeds: {broken}/30");
    for file in [
        "saga-isolation-semantic-lock.toml",
        "saga-isolation-pessimistic-view.toml",
    ] {
        let s = load(file);
        for seed in 1..=30 {
            let r = run(&s, seed);
            assert!(holds(&r, "isolation"), "{file} seed {seed}");
            for k in KEPT {
                assert!(holds(&r, k), "{file} seed {seed}: {k}");
            }
        }
    }
}

#[test]
fn a_pessimistic_view_runs_refusable_steps_first_and_scarce_ones_last() {
    let s = load("saga-isolation-pessimistic-view.toml");
    let order: Vec<&str> = s
        .write
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .map(|st| st.service.as_str())
        .collect();
    assert_eq!(order, ["payments", "orders", "inventory"]);
    // Rendered and read back, the order is the same (the reordering is stable).
    let again = Scenario::parse(&s.to_toml(), "again.toml").unwrap();
    assert_eq!(again.write, s.write);
}

/// The trace's refusals with reason `reason`, over `seeds`.
fn refusals(
    s: &Scenario,
    reason: sovlab_sim::store::RejectReason,
    seeds: std::ops::RangeInclusive<u64>,
) -> usize {
    seeds
        .map(|seed| {
            run(s, seed)
                .trace
                .events
                .iter()
                .filter(|e| matches!(e.kind, sovlab_sim::trace::EventKind::Reject { reason: r, .. } if r == reason))
                .count()
        })
        .sum()
}

#[test]
fn a_semantic_lock_wait_that_times_out_is_a_lock_refusal() {
    use sovlab_sim::store::RejectReason;
    let text = std::fs::read_to_string(root().join("scenarios/saga-isolation-semantic-lock.toml"))
        .unwrap();
    let short = scenario(&text.replace("[write]\n", "[write]\ntimeout_ms = 2\n"));
    assert!(
        refusals(&short, RejectReason::Lock, 1..=10) > 0,
        "2 ms waits time out"
    );
    for seed in 1..=10 {
        let r = run(&short, seed);
        assert!(
            holds(&r, "isolation") && holds(&r, "atomicity"),
            "seed {seed}"
        );
    }
    let none = load("saga-isolation.toml");
    assert_eq!(
        refusals(&none, RejectReason::Lock, 1..=10),
        0,
        "no lock, no lock refusal"
    );
}

#[test]
fn a_semantic_lock_survives_a_crash_of_the_locked_service() {
    let text = std::fs::read_to_string(root().join("scenarios/saga-isolation-semantic-lock.toml"))
        .unwrap();
    let crashed = scenario(&format!(
        "{text}\n[[fault]]\nat_ms = 60\ncrash = \"inventory\"\nrestart_ms = 15\n"
    ));
    for seed in 1..=20 {
        let r = run(&crashed, seed);
        assert!(
            holds(&r, "isolation"),
            "seed {seed}: pending marks rebuilt from the store"
        );
        assert!(
            holds(&r, "atomicity") && holds(&r, "conservation"),
            "seed {seed}"
        );
    }
}

#[test]
fn a_countermeasure_outside_a_saga_is_located() {
    let text = format!(
        "{TWO_SERVICES}[write]\nprotocol = \"two-phase-commit\"\ncountermeasure = \"semantic-lock\"\nsteps = [{{ service = \"orders\" }}]\n"
    );
    let (err, path) = run_bad("cm-2pc", &text);
    assert!(err.contains(&format!("{path}:8:18")), "{err}");
    assert!(
        err.contains("countermeasure applies to sagas only"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn a_semantic_lock_in_a_choreography_is_located() {
    let text = format!(
        "{TWO_SERVICES}[write]\nprotocol = \"saga\"\ncoordination = \"choreography\"\ncountermeasure = \"semantic-lock\"\nsteps = [{{ service = \"orders\" }}]\n"
    );
    let (err, path) = run_bad("cm-choreo", &text);
    assert!(err.contains(&format!("{path}:9:18")), "{err}");
    assert!(
        err.contains("needs coordination = \"orchestration\""),
        "{err}"
    );
    assert!(
        err.contains(
            "hint: use coordination = \"orchestration\", or countermeasure = \"pessimistic-view\""
        ),
        "{err}"
    );
}

#[test]
fn a_misspelt_countermeasure_is_located() {
    let text = format!(
        "{TWO_SERVICES}[write]\nprotocol = \"saga\"\ncountermeasure = \"semantic-locks\"\nsteps = [{{ service = \"orders\" }}]\n"
    );
    let (err, path) = run_bad("cm-value", &text);
    assert!(err.contains(&format!("{path}:8:18")), "{err}");
    assert!(err.contains("semantic-locks"), "{err}");
}

/// How many local compensations of step `step` the trace has.
fn compensations_of(r: &RunResult, step: u16) -> usize {
    r.trace
        .events
        .iter()
        .filter(|e| {
            matches!(e.kind, sovlab_sim::trace::EventKind::Local { what: sovlab_sim::trace::Local::Compensate, step: s, .. } if s == step)
        })
        .count()
}

#[test]
fn after_the_pivot_a_saga_only_goes_forward() {
    let s = load("saga-pivot.toml");
    for seed in 1..=20 {
        let r = run(&s, seed);
        for k in KEPT {
            assert!(holds(&r, k), "seed {seed}: {k}");
        }
        assert_eq!(
            compensations_of(&r, 3),
            0,
            "seed {seed}: shipping never compensated"
        );
    }
    // The same sagas without kinds: shipping's command is given up, paid sagas undone.
    let text = std::fs::read_to_string(root().join("scenarios/saga-pivot.toml")).unwrap();
    let plain = scenario(
        &text
            .replace(", kind = \"pivot\"", "")
            .replace(", kind = \"retriable\"", ""),
    );
    let undone: usize = (1..=20)
        .map(|seed| compensations_of(&run(&plain, seed), 3))
        .sum();
    assert!(
        undone > 0,
        "without kinds, shipping is given up and compensated"
    );
}

fn pivot_head(steps: &str) -> String {
    format!(
        "{TWO_SERVICES}[[service]]\nname = \"shipping\"\n[write]\nprotocol = \"saga\"\nsteps = [\n{steps}\n]\n"
    )
}

#[test]
fn a_retriable_step_that_can_be_refused_is_located() {
    let text = pivot_head(
        "  { service = \"orders\", kind = \"pivot\" },\n  { service = \"payments\", kind = \"retriable\", reject = 0.1 },",
    );
    let (err, path) = run_bad("retriable-reject", &text);
    assert!(err.contains(&format!("{path}:12:56")), "{err}");
    assert!(
        err.contains("a retriable step cannot be refused, but step 1 (payments) has reject = 0.1"),
        "{err}"
    );
    assert!(err.contains("hint: set reject = 0"), "{err}");
}

#[test]
fn a_compensatable_step_after_the_pivot_is_located() {
    let text =
        pivot_head("  { service = \"orders\", kind = \"pivot\" },\n  { service = \"payments\" },");
    let (err, path) = run_bad("after-pivot", &text);
    assert!(err.contains(&format!("{path}:12:15")), "{err}");
    assert!(
        err.contains("step 1 (payments) is compensatable but comes after the pivot"),
        "{err}"
    );
    assert!(
        err.contains("hint: give it kind = \"retriable\", or move it before the pivot"),
        "{err}"
    );
}

#[test]
fn a_second_pivot_is_located() {
    let text = pivot_head(
        "  { service = \"orders\", kind = \"pivot\" },\n  { service = \"payments\", kind = \"pivot\" },",
    );
    let (err, path) = run_bad("two-pivots", &text);
    assert!(err.contains(&format!("{path}:12:34")), "{err}");
    assert!(err.contains("at most one pivot"), "{err}");
}

#[test]
fn a_retriable_step_that_may_run_out_is_located() {
    let text = format!(
        "{TWO_SERVICES}capacity = 5\n[write]\nprotocol = \"saga\"\ntransactions = 10\nsteps = [{{ service = \"orders\", kind = \"pivot\" }}, {{ service = \"payments\", kind = \"retriable\" }}]\n"
    );
    let (err, path) = run_bad("retriable-capacity", &text);
    assert!(err.contains(&format!("{path}:10:50")), "{err}");
    assert!(
        err.contains("payments has capacity 5, 10 transactions of 1 need 10"),
        "{err}"
    );
}

#[test]
fn a_lost_service_stalls_sequential_compensation_and_not_parallel() {
    let seq = load("saga-orchestrator-lost-service.toml");
    let par = load("saga-orchestrator-lost-service-parallel.toml");
    for seed in 1..=20 {
        let r = run(&seq, seed);
        assert!(
            !holds(&r, "atomicity"),
            "sequential, seed {seed}: earlier steps never undone"
        );
        assert!(!holds(&r, "termination"), "sequential, seed {seed}");
        let r = run(&par, seed);
        assert!(
            holds(&r, "atomicity") && holds(&r, "conservation"),
            "parallel, seed {seed}"
        );
        assert!(
            !holds(&r, "termination"),
            "parallel, seed {seed}: payments never answers"
        );
    }
    // Choreography compensates the earlier steps at once: atomic as well.
    let text =
        std::fs::read_to_string(root().join("scenarios/saga-orchestrator-lost-service.toml"))
            .unwrap();
    let chor = scenario(&text.replace("[write]\n", "[write]\ncoordination = \"choreography\"\n"));
    for seed in 1..=20 {
        assert!(
            holds(&run(&chor, seed), "atomicity"),
            "choreography, seed {seed}"
        );
    }
}

#[test]
fn parallel_compensation_in_a_choreography_is_located() {
    let text = format!(
        "{TWO_SERVICES}[write]\nprotocol = \"saga\"\ncoordination = \"choreography\"\ncompensation = \"parallel\"\nsteps = [{{ service = \"orders\" }}]\n"
    );
    let (err, path) = run_bad("compensation", &text);
    assert!(err.contains(&format!("{path}:9:16")), "{err}");
    assert!(
        err.contains("compensation applies to orchestrated sagas only"),
        "{err}"
    );
    assert!(
        err.contains("hint: a choreography compensates back along the chain"),
        "{err}"
    );
}
