//! proptest strategies over the lab: network settings, fault schedules, seeds and
//! whole scenarios built from a template — so a property about a protocol is a few
//! lines, and a failure shrinks to a short, readable fault list that replays with
//! `sovlab run`.
//!
//! ```no_run
//! use proptest::prelude::*;
//! use sovlab_sim::strategies::{cases, FaultOptions};
//! use sovlab_sim::Scenario;
//!
//! let template = Scenario::load("scenarios/2pc-coordinator-crash-restart.toml".as_ref()).unwrap();
//! proptest!(|(case in cases(template.clone(), FaultOptions::default()))| {
//!     let report = case.run().report;
//!     prop_assert!(report.invariants.get("agreement").unwrap().holds, "{case:?}");
//! });
//! ```
//!
//! Shrinking: fault lists are plain vectors, so proptest first drops whole faults, then
//! moves the remaining ones earlier and makes them shorter; seeds shrink toward 0. The
//! `Debug` form of a [`Case`] is a scenario file with its seed: paste it into a file and
//! `sovlab run` it, or open it in the TUI.

use crate::scenario::{Fault, Network, Scenario};
use crate::{run, RunResult};
use proptest::prelude::*;
use std::fmt;

/// What kinds of faults to generate, and where in time.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultOptions {
    /// Most faults in one schedule.
    pub max_faults: usize,
    /// Faults start before this virtual ms.
    pub window_ms: u64,
    /// Every fault is over (restarted, healed, window closed) by this virtual ms, so
    /// the run can settle afterwards; `None` allows permanent faults.
    pub quiet_after_ms: Option<u64>,
    /// Generate crashes (with a restart when `quiet_after_ms` is set).
    pub crashes: bool,
    /// Generate partitions.
    pub partitions: bool,
    /// Generate loss windows.
    pub loss_windows: bool,
}

impl Default for FaultOptions {
    fn default() -> Self {
        FaultOptions {
            max_faults: 4,
            window_ms: 500,
            quiet_after_ms: Some(1_000),
            crashes: true,
            partitions: true,
            loss_windows: true,
        }
    }
}

/// Network settings: modest loss and duplication, a latency range.
pub fn network() -> impl Strategy<Value = Network> {
    (0.0..0.3f64, 0.0..0.3f64, 0u64..5, 0u64..20).prop_map(|(loss, duplicate, lo, span)| Network {
        loss: (loss * 100.0).round() / 100.0,
        duplicate: (duplicate * 100.0).round() / 100.0,
        latency_ms: [lo, lo + span],
    })
}

/// Any seed.
pub fn seed() -> impl Strategy<Value = u64> {
    any::<u64>()
}

/// One fault over `targets` (node names a fault may hit).
pub fn fault(targets: Vec<String>, opts: FaultOptions) -> BoxedStrategy<Fault> {
    assert!(!targets.is_empty(), "a fault needs a node to hit");
    let window = opts.window_ms.max(1);
    // The longest a fault may last so that it is over by `quiet_after_ms`.
    let longest = opts
        .quiet_after_ms
        .map_or(2_000, |q| q.saturating_sub(window).max(1));
    let permanent_ok = opts.quiet_after_ms.is_none();
    let mut kinds: Vec<BoxedStrategy<Fault>> = Vec::new();
    if opts.crashes {
        let t = targets.clone();
        kinds.push(
            (0..t.len(), 0..window, 1..=longest, any::<bool>())
                .prop_map(move |(i, at_ms, down_ms, forever)| Fault {
                    at_ms,
                    crash: Some(t[i].clone()),
                    restart_ms: (!(forever && permanent_ok)).then_some(down_ms),
                    ..Fault::default()
                })
                .boxed(),
        );
    }
    if opts.partitions && targets.len() >= 2 {
        let t = targets.clone();
        let n = t.len();
        kinds.push(
            (1u64..(1 << n.min(16)) - 1, 0..window, 1..=longest)
                .prop_map(move |(mask, at_ms, dur)| {
                    let (a, b): (Vec<String>, Vec<String>) = t
                        .iter()
                        .enumerate()
                        .partition(|(i, _)| mask & (1 << i) != 0)
                        .into_iter_pair();
                    Fault {
                        at_ms,
                        partition: Some(vec![a, b]),
                        heal_ms: Some(at_ms + dur),
                        ..Fault::default()
                    }
                })
                .boxed(),
        );
    }
    if opts.loss_windows {
        let t = targets.clone();
        kinds.push(
            (
                1u32..=10,
                0..window,
                1..=longest,
                proptest::option::of((0..t.len(), 0..t.len())),
            )
                .prop_map(move |(tenths, at_ms, dur, link)| Fault {
                    at_ms,
                    loss: Some(f64::from(tenths) / 10.0),
                    until_ms: Some(at_ms + dur),
                    link: link
                        .filter(|(a, b)| a != b)
                        .map(|(a, b)| [t[a].clone(), t[b].clone()]),
                    ..Fault::default()
                })
                .boxed(),
        );
    }
    assert!(!kinds.is_empty(), "FaultOptions allows no fault kind");
    proptest::strategy::Union::new(kinds).boxed()
}

/// Turns a partition of enumerated names into two name lists.
trait IntoIterPair {
    fn into_iter_pair(self) -> (Vec<String>, Vec<String>);
}

impl IntoIterPair for (Vec<(usize, &String)>, Vec<(usize, &String)>) {
    fn into_iter_pair(self) -> (Vec<String>, Vec<String>) {
        let names = |v: Vec<(usize, &String)>| v.into_iter().map(|(_, s)| s.clone()).collect();
        (names(self.0), names(self.1))
    }
}

/// A fault schedule of up to `opts.max_faults` faults over `targets`, in time order.
pub fn faults(targets: Vec<String>, opts: FaultOptions) -> impl Strategy<Value = Vec<Fault>> {
    let max = opts.max_faults;
    proptest::collection::vec(fault(targets, opts), 0..=max).prop_map(|mut v| {
        v.sort_by_key(|f| f.at_ms);
        v
    })
}

/// One generated run: a scenario (the template with generated faults) and a seed.
#[derive(Clone, PartialEq)]
pub struct Case {
    /// The seed.
    pub seed: u64,
    /// The scenario, with `seed` set so that `sovlab run` replays it as is.
    pub scenario: Scenario,
}

impl Case {
    /// Runs the case.
    pub fn run(&self) -> RunResult {
        run(&self.scenario, self.seed)
    }
}

/// A case prints as a scenario file that replays it.
impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n# seed {}: save this as case.toml, then `sovlab run case.toml` (or `sovlab tui case.toml`)",
            self.seed
        )?;
        write!(f, "{}", self.scenario.to_toml())
    }
}

/// Cases built from `template`: its own faults are replaced by generated ones over
/// its nodes, and a seed is drawn.
pub fn cases(template: Scenario, opts: FaultOptions) -> impl Strategy<Value = Case> {
    let targets = template.fault_targets();
    (faults(targets, opts), 0u64..1_000_000).prop_map(move |(faults, seed)| {
        let mut scenario = template.clone();
        scenario.faults = faults;
        scenario.seed = Some(seed);
        scenario.expect = None;
        Case { seed, scenario }
    })
}

/// Runs `property` over `strategy` with proptest's own deterministic runner and
/// returns the shrunk counterexample it finds, if any. For checking that the lab
/// *finds* a known bug.
pub fn find_counterexample<S>(
    strategy: S,
    cases: u32,
    property: impl Fn(&Case) -> bool,
) -> Option<Case>
where
    S: Strategy<Value = Case>,
{
    let config = proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(
        config,
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    match runner.run(&strategy, |case| {
        prop_assert!(property(&case));
        Ok(())
    }) {
        Ok(()) => None,
        Err(proptest::test_runner::TestError::Fail(_, case)) => Some(case),
        Err(proptest::test_runner::TestError::Abort(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture::Fixture;

    use proptest::strategy::ValueTree;

    fn template() -> Scenario {
        Fixture::new("shared-database")
            .head("duration_ms = 3000")
            .services(&["a", "b"])
            .set("transactions", 5)
            .scenario()
    }

    #[test]
    fn generated_scenarios_are_valid_and_settle() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let opts = FaultOptions::default();
        for _ in 0..200 {
            let case = cases(template(), opts.clone())
                .new_tree(&mut runner)
                .unwrap()
                .current();
            let text = case.scenario.to_toml();
            let back =
                Scenario::parse(&text, "case.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(back, case.scenario, "the Debug form replays exactly");
            for f in &case.scenario.faults {
                let end = f
                    .restart_ms
                    .map(|r| f.at_ms + r)
                    .or(f.heal_ms)
                    .or(f.until_ms);
                assert!(
                    end.is_some_and(|e| e <= 1_000),
                    "{f:?} ends by quiet_after_ms"
                );
            }
        }
    }

    #[test]
    fn shrinking_reaches_a_single_fault() {
        // A property that fails whenever there is any fault: the minimal case has one.
        let found = find_counterexample(cases(template(), FaultOptions::default()), 64, |c| {
            c.scenario.faults.is_empty()
        })
        .expect("a schedule with faults is generated");
        assert_eq!(found.scenario.faults.len(), 1, "{found:?}");
        assert_eq!(
            found.scenario.faults[0].at_ms, 0,
            "moved as early as it goes"
        );
    }
}
