//! Exhaustive exploration of small configurations (docs/reference/explore.md).
//!
//! Every execution of a scenario within the bounds is run from scratch by the
//! explorer's executor ([`driver`]) under a choice sequence ([`script`]) that says,
//! at each choice point, what happens next: which message in transit is delivered,
//! which of the timers due together fires, each message's fate, each keyed random
//! decision with 0 < p < 1, and whether (and which) node crashes at this handler
//! boundary. State hashing prunes an execution when it reaches a state an earlier one
//! reached in as few events. Every finished execution's trace is judged by the
//! ordinary checkers; per invariant the explorer keeps the shortest counterexample
//! (fewest events) and writes it as a scenario that replays it ([`counterexample`]).

pub mod counterexample;
pub mod driver;
pub mod script;

use crate::check;
use crate::msg::NodeIx;
use crate::patterns;
use crate::scenario::{Scenario, CLIENT};
use crate::trace::Trace;
pub use counterexample::Counterexample;
use driver::{Config, Driver, End};
use script::{Entry, Script, Shared};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Default depth bound: more steps than any lesson scenario's execution takes.
pub const DEFAULT_MAX_DEPTH: u32 = 200;
/// Default bound on executions.
pub const DEFAULT_MAX_EXECUTIONS: u64 = 1_000_000;
/// The most transactions plus queries the explorer takes on: beyond it the number
/// of orderings is out of reach, whatever the bounds.
pub const MAX_WORK: u32 = 4;

/// The bounds of one exploration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bounds {
    /// Most crashes in one execution.
    pub max_crashes: u32,
    /// The nodes that may crash (names).
    pub crashable: Vec<String>,
    /// A crashed node restarts this many ms later; None: never.
    pub restart_ms: Option<u64>,
    /// Most messages dropped by choice in one execution.
    pub max_drops: u32,
    /// Most messages duplicated by choice in one execution.
    pub max_duplicates: u32,
    /// Most steps in one execution.
    pub max_depth: u32,
    /// Most executions.
    pub max_executions: u64,
    /// Prune revisited states (off: every execution is run to its end).
    #[serde(skip)]
    pub prune: bool,
}

impl Bounds {
    /// The bounds `scenario`'s `[explore]` section sets, defaults for the rest: no
    /// crash, no drop, every node but the client crashable.
    pub fn of(scenario: &Scenario) -> Bounds {
        let e = scenario.explore.clone().unwrap_or_default();
        let crashable = e.crashable.unwrap_or_else(|| {
            patterns::layout(scenario)
                .nodes
                .iter()
                .map(|n| n.name.clone())
                .filter(|n| n != CLIENT)
                .collect()
        });
        Bounds {
            max_crashes: e.max_crashes.unwrap_or(0),
            crashable,
            restart_ms: e.restart_ms,
            max_drops: e.max_drops.unwrap_or(0),
            max_duplicates: e.max_duplicates.unwrap_or(1),
            max_depth: e.max_depth.unwrap_or(DEFAULT_MAX_DEPTH),
            max_executions: e.max_executions.unwrap_or(DEFAULT_MAX_EXECUTIONS),
            prune: true,
        }
    }
}

/// What the explorer found about one invariant.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Held in every explored execution.
    pub holds: bool,
    /// The shortest execution that breaks it.
    pub counterexample: Option<Counterexample>,
}

/// The result of an exploration.
#[derive(Debug, Clone)]
pub struct Exploration {
    /// Executions run to their end and judged.
    pub executions: u64,
    /// Executions cut short because they reached an already explored state.
    pub pruned: u64,
    /// Distinct states met (when hashing prunes).
    pub states: Option<u64>,
    /// No bound cut the search.
    pub complete: bool,
    /// The bounds that cut it: "max-depth", "max-executions".
    pub cut_by: Vec<&'static str>,
    /// The bounds it ran under.
    pub bounds: Bounds,
    /// Per applicable invariant, by name.
    pub invariants: BTreeMap<String, Finding>,
}

/// The scenario cannot be explored within the bounds (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TooLarge {
    /// What is too large.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

/// The best counterexample so far of one invariant.
struct Best {
    events: u64,
    entries: Vec<Entry>,
    crashes: Vec<(u64, NodeIx)>,
}

/// The executor's configuration for `bounds` over `scenario`.
fn config(scenario: &Scenario, bounds: &Bounds) -> Result<Config, TooLarge> {
    let layout = patterns::layout(scenario);
    let mut crashable = Vec::new();
    for name in &bounds.crashable {
        match layout.target(name) {
            Some(ix) if name != CLIENT => crashable.push(ix),
            _ => {
                return Err(TooLarge {
                    message: format!("--crashable names {name:?}, which is no node that can crash"),
                    hint: format!(
                        "the nodes are: {}",
                        layout
                            .nodes
                            .iter()
                            .map(|n| n.name.as_str())
                            .filter(|n| *n != CLIENT)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })
            }
        }
    }
    Ok(Config {
        max_crashes: bounds.max_crashes,
        crashable,
        restart_us: bounds.restart_ms.map(|r| r.saturating_mul(1000)),
        max_depth: bounds.max_depth,
    })
}

/// Explores every execution of `scenario` within `bounds`. `progress` is called
/// with the number of executions so far, now and then.
pub fn explore(
    scenario: &Scenario,
    bounds: &Bounds,
    progress: &mut dyn FnMut(u64),
) -> Result<Exploration, TooLarge> {
    let work = scenario.write.as_ref().map_or(0, |w| w.transactions)
        + scenario.read.as_ref().map_or(0, |r| r.queries);
    if work > MAX_WORK {
        return Err(TooLarge {
            message: format!(
                "the scenario has {work} transactions and queries: too many orderings to explore"
            ),
            hint: format!("explore at most {MAX_WORK}: set [write] transactions = 1 (or 2) and [read] queries = 1"),
        });
    }
    if scenario.has_service_time() {
        return Err(TooLarge {
            message: "a node of this scenario takes time to serve a message (service_time_ms): \
                      the explorer's network is asynchronous and has no clock for service"
                .into(),
            hint: "remove service_time_ms (and [nodes.NAME]) to explore the orderings; \
                   measure service and queues with sovlab run or sweep --vary"
                .into(),
        });
    }
    let cfg = config(scenario, bounds)?;
    let names: Vec<&str> = crate::scenario::INVARIANTS
        .iter()
        .copied()
        .filter(|n| check::applies(scenario, n))
        .collect();
    let mut best: BTreeMap<&str, Best> = BTreeMap::new();
    let mut visited: HashMap<u64, u64> = HashMap::new();
    let shared = Shared::new(Script::new(bounds.max_drops, bounds.max_duplicates));
    let (mut executions, mut pruned, mut runs) = (0u64, 0u64, 0u64);
    let mut cut_by = Vec::new();
    loop {
        if runs >= bounds.max_executions {
            cut_by.push("max-executions");
            break;
        }
        runs += 1;
        let driver = Driver::new(scenario, shared.clone(), &cfg, false);
        let x = driver.run(bounds.prune.then_some(&mut visited));
        match x.end {
            End::Cut => {
                if runs == 1 {
                    return Err(TooLarge {
                        message: format!(
                            "the first execution alone takes more than {} steps (--max-depth)",
                            bounds.max_depth
                        ),
                        hint: "explore fewer transactions (transactions = 1), fewer steps, or raise --max-depth".into(),
                    });
                }
                if !cut_by.contains(&"max-depth") {
                    cut_by.push("max-depth");
                }
            }
            End::Pruned => pruned += 1,
            _ => {
                executions += 1;
                judge(&x.trace, &names, &shared, &x.crashes, &mut best);
            }
        }
        if runs % 256 == 0 {
            progress(executions);
        }
        if !shared.lock().advance() {
            break;
        }
    }
    progress(executions);
    let mut invariants = BTreeMap::new();
    for n in &names {
        let counterexample = best
            .get(n)
            .map(|b| counterexample::build(scenario, bounds, n, &b.entries, &b.crashes));
        invariants.insert(
            n.to_string(),
            Finding {
                holds: counterexample.is_none(),
                counterexample,
            },
        );
    }
    Ok(Exploration {
        executions,
        pruned,
        states: bounds.prune.then_some(visited.len() as u64),
        complete: cut_by.is_empty(),
        cut_by,
        bounds: bounds.clone(),
        invariants,
    })
}

/// Judges one finished execution; keeps it where it is the shortest counterexample.
fn judge(
    trace: &Trace,
    names: &[&'static str],
    shared: &Shared,
    crashes: &[(u64, NodeIx)],
    best: &mut BTreeMap<&'static str, Best>,
) {
    let ix = check::Index::new(trace);
    for &n in names {
        let events = trace.event_count;
        if best.get(n).is_some_and(|b| b.events <= events) {
            continue;
        }
        if !check::check_indexed(trace, &ix, n).holds {
            best.insert(
                n,
                Best {
                    events,
                    entries: shared.lock().taken().to_vec(),
                    crashes: crashes.to_vec(),
                },
            );
        }
    }
}

/// Runs a scenario with a `[replay]` section: the explorer's executor follows the
/// recorded choices (no crash choice: crashes are the scenario's faults). Its
/// trace names the DES engine, which replays such a scenario.
pub fn replay(scenario: &Scenario, opts: crate::RunOptions) -> Trace {
    let r = scenario.replay.clone().unwrap_or_default();
    let cfg = Config {
        max_crashes: 0,
        crashable: Vec::new(),
        restart_us: None,
        max_depth: u32::MAX,
    };
    let shared = Shared::new(Script::fixed(&r.choices, r.max_drops, r.max_duplicates));
    let x = Driver::new(scenario, shared, &cfg, opts.hash).run(None);
    let mut trace = x.trace;
    if !opts.keep_events {
        trace.events.clear();
    }
    trace
}

/// What an exploration of `scenario` expects: (holds, violated), from `[explore]`,
/// else from `[expect]`.
pub fn expectations(scenario: &Scenario) -> (Vec<String>, Vec<String>) {
    let e = scenario.expect.clone().unwrap_or_default();
    let x = scenario.explore.clone().unwrap_or_default();
    (x.holds.unwrap_or(e.holds), x.violated.unwrap_or(e.violated))
}

/// Are the scenario's expectations met by the exploration? Returns the failures:
/// every expected `holds` must hold in every execution, every `violated` break in at
/// least one ([`expectations`]).
pub fn expect_failures(scenario: &Scenario, x: &Exploration) -> Vec<String> {
    let (holds, violated) = expectations(scenario);
    let mut out = Vec::new();
    for n in &holds {
        match x.invariants.get(n) {
            Some(f) if f.holds => {}
            Some(_) => out.push(format!("{n} was expected to hold in every execution")),
            None => out.push(format!("{n} was expected to hold, but it does not apply")),
        }
    }
    for n in &violated {
        match x.invariants.get(n) {
            Some(f) if !f.holds => {}
            Some(_) => out.push(format!("{n} was expected to break in some execution")),
            None => out.push(format!(
                "{n} was expected to be violated, but it does not apply"
            )),
        }
    }
    out
}

impl Exploration {
    /// The `--json` document (format "sovlab-explore", version 1).
    pub fn to_json(&self) -> serde_json::Value {
        let mut bounds = serde_json::to_value(&self.bounds).expect("plain data");
        bounds["cut_by"] = serde_json::json!(self.cut_by);
        let invariants: serde_json::Map<String, serde_json::Value> = self
            .invariants
            .iter()
            .map(|(k, f)| (k.clone(), serde_json::to_value(f).expect("plain data")))
            .collect();
        serde_json::json!({
            "format": "sovlab-explore",
            "version": 1,
            "executions": self.executions,
            "states": self.states,
            "complete": self.complete,
            "bounds": bounds,
            "invariants": invariants,
        })
    }
}
