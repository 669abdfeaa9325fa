//! `sovlab explore`: every execution of a small scenario within bounds
//! (docs/reference/explore.md). The algorithm is `sovlab_sim::explore`.

use super::{load, EXPECT_NOT_MET};
use crate::output::{same_file, write_atomic};
use anyhow::{bail, Result};
use sovlab_sim::explore::{self, Bounds, Counterexample, Exploration};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// The command line of one exploration.
pub struct Request<'a> {
    /// The scenario.
    pub file: &'a Path,
    /// `--max-crashes`.
    pub max_crashes: Option<u32>,
    /// `--crashable`.
    pub crashable: Option<Vec<String>>,
    /// `--restart-ms`.
    pub restart_ms: Option<u64>,
    /// `--max-drops`.
    pub max_drops: Option<u32>,
    /// `--max-duplicates`.
    pub max_duplicates: Option<u32>,
    /// `--max-depth`.
    pub max_depth: Option<u32>,
    /// `--max-executions`.
    pub max_executions: Option<u64>,
    /// `--no-prune`.
    pub no_prune: bool,
    /// `--json`.
    pub json: bool,
    /// `--trace`.
    pub trace: Option<&'a Path>,
    /// `--out`.
    pub out: Option<&'a Path>,
    /// `--force`.
    pub force: bool,
}

/// Explores, prints the findings, writes the counterexample; exit 1 when `expect`
/// is not met, 2 (an error) for bad input or a scenario too large for the bounds.
pub fn explore(r: Request) -> Result<ExitCode> {
    let scenario = load(r.file)?;
    for p in [r.trace, r.out].into_iter().flatten() {
        if same_file(p, r.file) {
            bail!("{} would overwrite the scenario file", p.display());
        }
    }
    let mut bounds = Bounds::of(&scenario);
    if let Some(k) = r.max_crashes {
        bounds.max_crashes = k;
    }
    if let Some(c) = r.crashable {
        bounds.crashable = c;
    }
    if r.restart_ms.is_some() {
        bounds.restart_ms = r.restart_ms;
    }
    if let Some(d) = r.max_drops {
        bounds.max_drops = d;
    }
    if let Some(d) = r.max_duplicates {
        bounds.max_duplicates = d;
    }
    if let Some(d) = r.max_depth {
        bounds.max_depth = d;
    }
    if let Some(n) = r.max_executions {
        bounds.max_executions = n;
    }
    if r.no_prune {
        bounds.prune = false;
    }
    let bar = progress_bar();
    let started = Instant::now();
    let x = explore::explore(&scenario, &bounds, &mut |n| bar.set_position(n))
        .map_err(|e| anyhow::anyhow!("{}: {e}\n  hint: {}", r.file.display(), e.hint))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if let Some(c) = first_counterexample(&x) {
        if let Some(t) = r.trace {
            write_atomic(t, r.force, |w| c.trace.write_jsonl(w))?;
        }
        if let Some(o) = r.out {
            let text = c.scenario.to_toml();
            write_atomic(o, r.force, |w| w.write_all(text.as_bytes()))?;
        }
    }
    let failures = explore::expect_failures(&scenario, &x);
    if r.json {
        println!("{}", x.to_json());
    } else {
        print!("{}", text(&x, secs, &failures));
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXPECT_NOT_MET)
    })
}

/// The counterexample `--trace` and `--out` write: the first broken invariant's, in
/// the documented order of invariants.
fn first_counterexample(x: &Exploration) -> Option<&Counterexample> {
    sovlab_sim::scenario::INVARIANTS
        .iter()
        .filter_map(|n| x.invariants.get(*n))
        .find_map(|f| f.counterexample.as_ref())
}

/// The human summary.
fn text(x: &Exploration, secs: f64, failures: &[String]) -> String {
    let mut s = String::new();
    let states = x
        .states
        .map_or("not hashed".to_string(), |m| format!("{m} distinct states"));
    s.push_str(&format!(
        "explored {} executions ({} pruned as revisits), {states}, in {secs:.2} s ({:.0} executions/s)\n",
        x.executions,
        x.pruned,
        x.executions as f64 / secs.max(1e-9)
    ));
    if x.complete {
        s.push_str("complete: every execution within the bounds\n");
    } else {
        s.push_str(&format!("NOT complete: cut by {}\n", x.cut_by.join(", ")));
    }
    for (name, f) in &x.invariants {
        match &f.counterexample {
            None => s.push_str(&format!("  {name:<16} holds in every execution\n")),
            Some(c) => s.push_str(&format!(
                "  {name:<16} BROKEN; shortest counterexample, {} events: {}\n",
                c.events, c.story
            )),
        }
    }
    for f in failures {
        s.push_str(&format!("expect not met: {f}\n"));
    }
    s
}

/// A spinner-like bar on a terminal's stderr; hidden otherwise.
fn progress_bar() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} executions  {elapsed}")
            .expect("a valid template"),
    );
    pb
}
