//! Shrinking: from a run that breaks an invariant `expect.holds` promises (or one
//! `expect.violated` shows), find a smaller scenario that, with the same seed, still
//! breaks it.
//!
//! Greedy passes to a fixpoint, each accepting a change only if the run still breaks
//! every target invariant: drop faults (delta debugging, then one at a time), drop
//! the network's base loss and duplication, fewer transactions, lower concurrency, no
//! business-rule rejects, then each fault shorter (restart or heal sooner) and later.
//! A fault placed by a trigger (`after`) stays one: it may go, last less (`for_ms`,
//! `restart_ms`) or fire at an earlier match (`count`), never become an `at_ms`.
//! A seed's random choices shift when the scenario changes, so "still breaks" is
//! re-judged by running, never assumed.

use crate::scenario::{Fault, FaultKind};
use crate::{Engine, RunOptions, Scenario, Verdict};

/// Most runs one shrink may spend; the best scenario so far is kept when it runs out.
pub const MAX_RUNS: u32 = 1500;

/// A shrink's result: the smaller scenario and what it still breaks.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smaller scenario (its `seed` not yet set: see [`render`]).
    pub scenario: Scenario,
    /// The seed asked for.
    pub asked: u64,
    /// The seed the smaller scenario breaks with (a nearby one if `asked` stopped).
    pub seed: u64,
    /// The invariants kept broken.
    pub target: Vec<String>,
    /// The smaller scenario's verdicts with `seed`.
    pub verdicts: Vec<Verdict>,
    /// Runs spent.
    pub runs: u32,
    /// The engine every run was made on: the seed replays on it.
    pub engine: Engine,
}

impl Shrunk {
    /// The run budget ran out before the passes reached a fixpoint.
    pub fn out_of_budget(&self) -> bool {
        self.runs >= MAX_RUNS
    }
}

/// Why there is nothing to shrink: the run broke no invariant shrink may work on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NothingToShrink {
    /// The invariants that did break (none of them listed by `[expect]`).
    pub broken: Vec<String>,
}

impl std::fmt::Display for NothingToShrink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.broken.is_empty() {
            write!(f, "breaks no invariant")
        } else {
            write!(
                f,
                "breaks only {}, which [expect] does not list",
                self.broken.join(", ")
            )
        }
    }
}

/// Shrinks `scenario` at `seed`: the smaller scenario that still breaks the targets.
pub fn shrink(scenario: &Scenario, seed: u64) -> Result<Shrunk, NothingToShrink> {
    shrink_on(scenario, seed, Engine::default())
}

/// [`shrink`] with every run on `engine`: the witness seed replays on it.
pub fn shrink_on(
    scenario: &Scenario,
    seed: u64,
    engine: Engine,
) -> Result<Shrunk, NothingToShrink> {
    let options = |s: &Scenario| options(s).on(engine);
    let first = crate::run_with(scenario, seed, options(scenario));
    let target = targets(scenario, &first.verdicts);
    if target.is_empty() {
        let broken = first
            .verdicts
            .iter()
            .filter(|v| !v.holds)
            .map(|v| v.name.clone())
            .collect();
        return Err(NothingToShrink { broken });
    }
    let mut runs = 0;
    let (small, witness) = minimize(scenario.clone(), seed, &mut |c, seed| {
        runs += 1;
        breaks(c, seed, &target, engine)
    });
    let last = crate::run_with(&small, witness, options(&small));
    Ok(Shrunk {
        scenario: small,
        asked: seed,
        seed: witness,
        target,
        verdicts: last.verdicts,
        runs,
        engine,
    })
}

/// The invariants to keep broken: those `expect.holds` promised and the run broke;
/// if none, those `expect.violated` lists that broke (the scenario's own story, made
/// smaller); with no `[expect]` at all, every invariant that broke.
pub fn targets(s: &Scenario, verdicts: &[Verdict]) -> Vec<String> {
    let broken = verdicts.iter().filter(|v| !v.holds).map(|v| &v.name);
    let Some(e) = &s.expect else {
        return broken.cloned().collect();
    };
    let promised: Vec<String> = broken
        .clone()
        .filter(|n| e.holds.contains(n))
        .cloned()
        .collect();
    if !promised.is_empty() {
        return promised;
    }
    broken.filter(|n| e.violated.contains(n)).cloned().collect()
}

/// Counters-only runs where the verdicts allow it (see `check::needs_events`).
fn options(s: &Scenario) -> RunOptions {
    RunOptions {
        keep_events: crate::check::needs_events(s),
        ..RunOptions::default()
    }
}

/// Does `s` with `seed` break every invariant in `target`?
fn breaks(s: &Scenario, seed: u64, target: &[String], engine: Engine) -> bool {
    let r = crate::run_with(s, seed, options(s).on(engine));
    target
        .iter()
        .all(|t| r.verdicts.iter().any(|v| &v.name == t && !v.holds))
}

/// Other seeds tried when dropping a fault makes the witness seed stop breaking.
///
/// Dropping a fault leaves the run as it was until that fault's time (the schedule is
/// walked by the supervisor, see `crate::world`), but from then on madsim's draws
/// differ, so with one seed a fault that does not matter can still look needed. A
/// nearby seed that breaks without it shows it was not; the shrunk file then names
/// that seed. (Since faults stopped reshuffling whole runs, the catalogue's shrink
/// test no longer needs it; kept because late reshuffles remain.)
const SEEDS_PER_DROP: u64 = 4;

/// The greedy passes, repeated until none changes anything or the budget is spent.
/// `test(candidate, seed)` says whether a candidate still breaks what must stay
/// broken. Returns the smaller scenario and the seed it breaks with.
pub fn minimize(
    s: Scenario,
    seed: u64,
    test: &mut dyn FnMut(&Scenario, u64) -> bool,
) -> (Scenario, u64) {
    // Durations as absolute ends: the passes move a fault's start and end.
    let mut s = s;
    s.faults = s.faults.into_iter().map(Fault::with_absolute_end).collect();
    let mut m = Minimizer {
        best: s,
        seed,
        test,
        runs: 0,
    };
    loop {
        let before = m.best.clone();
        m.faults();
        m.workload();
        m.network_and_rules();
        for i in 0..m.best.faults.len() {
            m.shorter(i);
            m.later(i);
        }
        if m.best == before || m.runs >= MAX_RUNS {
            return (m.best, m.seed);
        }
    }
}

struct Minimizer<'a> {
    best: Scenario,
    /// The seed `best` breaks with.
    seed: u64,
    test: &'a mut dyn FnMut(&Scenario, u64) -> bool,
    runs: u32,
}

impl Minimizer<'_> {
    /// Accepts `c` if it is valid and still breaks.
    fn try_(&mut self, c: Scenario) -> bool {
        if c == self.best || self.runs >= MAX_RUNS || !c.validate().is_empty() {
            return false;
        }
        self.runs += 1;
        if (self.test)(&c, self.seed) {
            self.best = c;
            return true;
        }
        false
    }

    /// Like `try_` for a smaller fault list: also accepts it with a nearby seed.
    fn try_faults(&mut self, faults: Vec<Fault>) -> bool {
        let c = self.with_faults(faults);
        if self.try_(c.clone()) {
            return true;
        }
        if c == self.best || !c.validate().is_empty() {
            return false;
        }
        for k in 1..=SEEDS_PER_DROP {
            if self.runs >= MAX_RUNS {
                return false;
            }
            let seed = self.seed.wrapping_add(k);
            self.runs += 1;
            if (self.test)(&c, seed) {
                self.best = c;
                self.seed = seed;
                return true;
            }
        }
        false
    }

    fn with_faults(&self, faults: Vec<Fault>) -> Scenario {
        Scenario {
            faults,
            ..self.best.clone()
        }
    }

    /// Delta debugging over the fault list (keep a chunk, or drop one), then single
    /// removals until no single fault can go.
    fn faults(&mut self) {
        if self.best.faults.is_empty() || self.try_faults(vec![]) {
            return;
        }
        let mut n = 2;
        while self.best.faults.len() >= 2 {
            let all = self.best.faults.clone();
            let chunks: Vec<Vec<Fault>> = all
                .chunks(all.len().div_ceil(n))
                .map(<[Fault]>::to_vec)
                .collect();
            let mut reduced = false;
            for (i, chunk) in chunks.iter().enumerate() {
                if self.try_faults(chunk.clone()) {
                    n = 2;
                    reduced = true;
                    break;
                }
                let rest: Vec<Fault> = chunks
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, c)| c.clone())
                    .collect();
                if chunks.len() > 2 && self.try_faults(rest) {
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
            if !reduced {
                if n >= all.len() {
                    break;
                }
                n = (2 * n).min(all.len());
            }
        }
        let mut i = 0;
        while i < self.best.faults.len() {
            let mut fewer = self.best.faults.clone();
            fewer.remove(i);
            if !self.try_faults(fewer) {
                i += 1;
            }
        }
    }

    /// Fewer transactions, then lower concurrency (smallest that still breaks).
    fn workload(&mut self) {
        let Some(w) = self.best.write.clone() else {
            return;
        };
        self.smallest(1, u64::from(w.transactions), |s, v| {
            s.write.as_mut().expect("write").transactions = v as u32
        });
        let c = self.best.write.as_ref().expect("write").concurrency;
        self.smallest(1, u64::from(c), |s, v| {
            s.write.as_mut().expect("write").concurrency = v as u32
        });
        if let Some(r) = self.best.read.clone() {
            self.smallest(0, u64::from(r.queries), |s, v| {
                s.read.as_mut().expect("read").queries = v as u32
            });
        }
    }

    /// No base loss or duplication, no business-rule rejects, where that still breaks.
    fn network_and_rules(&mut self) {
        for zero in [
            |s: &mut Scenario| s.network.loss = 0.0,
            |s: &mut Scenario| s.network.duplicate = 0.0,
        ] {
            let mut c = self.best.clone();
            zero(&mut c);
            self.try_(c);
        }
        let steps = self.best.write.as_ref().map_or(0, |w| w.steps.len());
        for i in 0..steps {
            let mut c = self.best.clone();
            c.write.as_mut().expect("write").steps[i].reject = 0.0;
            self.try_(c);
        }
    }

    /// Fault `i` shorter: a crash restarts sooner, a partition heals sooner, a loss
    /// window closes sooner. A fault without an end keeps none: "never comes back" is
    /// the simpler story, and an end near the run's end would only add a detail.
    fn shorter(&mut self, i: usize) {
        let f = self.best.faults[i].clone();
        if f.is_triggered() {
            // Its window lasts for_ms from the firing (a crash: restart_ms, below).
            if let (Some(d), false) = (f.for_ms, f.crash.is_some()) {
                self.smallest(0, d, |s, v| s.faults[i].for_ms = Some(v));
                return;
            }
        }
        match f.kind() {
            Some(FaultKind::Crash {
                restart_ms: Some(r),
                ..
            }) => {
                self.smallest(0, r, |s, v| s.faults[i].restart_ms = Some(v));
            }
            Some(FaultKind::Partition {
                heal_ms: Some(h), ..
            }) => {
                let hi = h.max(f.at_ms);
                self.smallest(f.at_ms, hi, |s, v| s.faults[i].heal_ms = Some(v));
            }
            Some(FaultKind::Loss {
                until_ms: Some(u), ..
            }) => {
                let hi = u.max(f.at_ms);
                self.smallest(f.at_ms, hi, |s, v| s.faults[i].until_ms = Some(v));
            }
            _ => {}
        }
    }

    /// Fault `i` later, keeping its length: it touches fewer transactions.
    /// A triggered fault stays triggered (its step is the story): it fires at an
    /// earlier match instead (a lower `count`), the simpler placement.
    fn later(&mut self, i: usize) {
        let end = self.best.duration_ms;
        let f = self.best.faults[i].clone();
        if let Some(a) = &f.after {
            self.smallest(1, u64::from(a.count.max(1)), |s, v| {
                if let Some(a) = &mut s.faults[i].after {
                    a.count = v as u32;
                }
            });
            return;
        }
        let at = f.at_ms;
        let len = f.heal_ms.or(f.until_ms).map_or(0, |e| e - at);
        let hi = end.saturating_sub(len + 1).max(at);
        self.largest(at, hi, |s, v| {
            let f = &mut s.faults[i];
            f.at_ms = v;
            if let Some(h) = &mut f.heal_ms {
                *h = v + len;
            }
            if let Some(u) = &mut f.until_ms {
                *u = v + len;
            }
        });
    }

    /// The smallest `v` in `lo..=hi` for which `set(v)` still breaks, by bisection
    /// (the current value is treated as `hi`; only values that ran are kept).
    fn smallest(&mut self, lo: u64, hi: u64, set: impl Fn(&mut Scenario, u64)) -> u64 {
        let at = |m: &Self, v: u64| {
            let mut c = m.best.clone();
            set(&mut c, v);
            c
        };
        let (mut lo, mut hi) = (lo, hi);
        // `hi` itself must break: it may be a new setting (a restart that was absent).
        if !(self.test_value(at(self, hi))) {
            return hi;
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.test_value(at(self, mid)) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        hi
    }

    /// The largest `v` in `lo..=hi` for which `set(v)` still breaks (current: `lo`).
    fn largest(&mut self, lo: u64, hi: u64, set: impl Fn(&mut Scenario, u64)) -> u64 {
        let (mut lo, mut hi) = (lo, hi);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let mut c = self.best.clone();
            set(&mut c, mid);
            if self.test_value(c) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }

    /// Like `try_`, but a candidate equal to the current best counts as breaking.
    fn test_value(&mut self, c: Scenario) -> bool {
        c == self.best || self.try_(c)
    }
}

/// What shrinking changed, in words.
pub fn changes(from: &Scenario, to: &Scenario) -> Vec<String> {
    let mut out = vec![format!(
        "faults {} -> {}",
        from.faults.len(),
        to.faults.len()
    )];
    if let (Some(a), Some(b)) = (&from.write, &to.write) {
        if a.transactions != b.transactions {
            out.push(format!(
                "transactions {} -> {}",
                a.transactions, b.transactions
            ));
        }
        if a.concurrency != b.concurrency {
            out.push(format!(
                "concurrency {} -> {}",
                a.concurrency, b.concurrency
            ));
        }
    }
    if let (Some(a), Some(b)) = (&from.read, &to.read) {
        if a.queries != b.queries {
            out.push(format!("queries {} -> {}", a.queries, b.queries));
        }
    }
    if from.network != to.network {
        out.push("calmer network".into());
    }
    out
}

/// The command-line flag that picks `engine` (empty for the default, madsim).
pub fn engine_flag(engine: Engine) -> String {
    match engine {
        Engine::Madsim => String::new(),
        e => format!(" --engine {e}"),
    }
}

/// The shrunk scenario re-serialised from the model: a comment header, then the TOML.
/// `file` names the original in the header's command line. (`sovlab shrink` edits the
/// original's text instead: [`crate::shrink_file::render`]; this is its fallback.)
pub fn render(file: &str, from: &Scenario, shrunk: &Shrunk) -> String {
    let mut s = shrunk.scenario.clone();
    s.seed = Some(shrunk.seed);
    header(file, from, shrunk) + &replay_line(shrunk.engine) + &s.to_toml()
}

/// The header's first lines: the command, the seed, what still breaks, what shrank.
pub fn header(file: &str, from: &Scenario, shrunk: &Shrunk) -> String {
    let (asked, seed) = (shrunk.asked, shrunk.seed);
    let (small, verdicts, target) = (&shrunk.scenario, &shrunk.verdicts, &shrunk.target);
    let engine = engine_flag(shrunk.engine);
    let mut head = format!(
        "# Shrunk by `sovlab shrink {file} --seed {asked}{engine}` (sovlab {}).\n",
        env!("CARGO_PKG_VERSION")
    );
    if seed != asked {
        // Dropping a fault reshuffles the run; a nearby seed showed it was not needed.
        head.push_str(&format!(
            "# Seed {asked} stopped breaking once a fault that does not matter was dropped; seed {seed} still does.\n"
        ));
    }
    head.push_str(&format!("# With seed {seed} it still breaks:\n"));
    for v in verdicts.iter().filter(|v| target.contains(&v.name)) {
        let example = v.example.as_deref().unwrap_or("");
        head.push_str(&format!("#   {}: {}\n", v.name, example.replace('\n', " ")));
    }
    head.push_str(&format!(
        "# Smaller than the original: {}.\n",
        changes(from, small).join(", ")
    ));
    head
}

/// The header's last line: how to replay the file, then a blank line.
pub fn replay_line(engine: Engine) -> String {
    format!(
        "# The seed is set below: `sovlab run THIS_FILE{}` replays it.\n\n",
        engine_flag(engine)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Fault;
    use crate::testing::fixture::Fixture;

    /// The shared-database scenario the shrinker's tests start from.
    fn base_toml() -> String {
        Fixture::new("shared-database")
            .name("shrink me")
            .head("duration_ms = 3000")
            .head("[network]\nlatency_ms = [1, 1]")
            .services(&["orders", "payments"])
            .set("transactions", 10)
            .set("interval_ms", 20)
            .set("timeout_ms", 50)
            .toml()
    }

    fn base() -> Scenario {
        Scenario::parse(&base_toml(), "test.toml").unwrap()
    }

    fn crash(at_ms: u64, node: &str, restart_ms: Option<u64>) -> Fault {
        Fault {
            at_ms,
            crash: Some(node.into()),
            restart_ms,
            ..Default::default()
        }
    }

    /// Faults that cannot matter: nothing travels between the client and the
    /// database, and a crash whose restart would come after the run's end changes no
    /// outcome (while the database is already down for good, an earlier restart would
    /// bring it back: the app waits up to its patience for each rollback's answer, so
    /// the later transactions are still open near the end).
    fn irrelevant() -> Vec<Fault> {
        vec![
            Fault {
                at_ms: 0,
                loss: Some(1.0),
                link: Some(["client".into(), "database".into()]),
                ..Default::default()
            },
            Fault {
                at_ms: 10,
                partition: Some(vec![vec!["client".into()], vec!["database".into()]]),
                heal_ms: Some(900),
                ..Default::default()
            },
            crash(2990, "database", Some(20)),
        ]
    }

    fn shrunk_to(scenario: Scenario, (asked, seed): (u64, u64)) -> Shrunk {
        Shrunk {
            scenario,
            asked,
            seed,
            target: vec![],
            verdicts: vec![],
            runs: 0,
            engine: Engine::Madsim,
        }
    }

    fn aborted(s: &Scenario) -> u32 {
        let r = crate::run_with(s, 1, RunOptions::counters_only());
        r.report.write.unwrap().aborted
    }

    #[test]
    fn keeps_only_the_decisive_fault_of_real_runs() {
        // The decisive fault: the database goes down at 30 ms for good, so the later
        // transactions abort. The property to keep: at least 5 of them abort.
        let mut s = base();
        let mut faults = irrelevant();
        faults.insert(1, crash(30, "database", None));
        s.faults = faults;
        assert!(aborted(&s) >= 5, "the planted run breaks");
        assert_eq!(aborted(&base()), 0, "without faults nothing aborts");
        let (small, _) = minimize(s, 1, &mut |c, _| aborted(c) >= 5);
        assert_eq!(small.faults.len(), 1, "{:?}", small.faults);
        assert_eq!(small.faults[0].crash.as_deref(), Some("database"));
        assert!(aborted(&small) >= 5, "the shrunk scenario still breaks");
        let w = small.write.as_ref().unwrap();
        assert!(w.transactions <= 10 && w.transactions >= 5);
    }

    #[test]
    fn shortens_and_delays_faults_and_shrinks_the_workload() {
        // A synthetic property: a crash of the database that lasts at least 100 ms and
        // starts by 500 ms, with at least 3 transactions.
        let mut s = base();
        s.write.as_mut().unwrap().concurrency = 4;
        s.faults = vec![
            crash(20, "payments", Some(900)),
            crash(40, "database", Some(900)),
        ];
        let (small, _) = minimize(s, 0, &mut |c, _| {
            c.write.as_ref().unwrap().transactions >= 3
                && c.faults.iter().any(|f| {
                    f.crash.as_deref() == Some("database")
                        && f.restart_ms.is_none_or(|r| r >= 100)
                        && f.at_ms <= 500
                })
        });
        assert_eq!(small.faults.len(), 1);
        let f = &small.faults[0];
        assert_eq!(f.crash.as_deref(), Some("database"));
        assert_eq!(f.restart_ms, Some(100), "restarts as soon as it may");
        assert_eq!(f.at_ms, 500, "as late as it may");
        let w = small.write.as_ref().unwrap();
        assert_eq!((w.transactions, w.concurrency), (3, 1));
    }

    #[test]
    fn a_nearby_seed_shows_a_fault_did_not_matter_and_forever_stays_forever() {
        // A synthetic property where the extra fault "matters" only for seed 5, the way
        // a reshuffled schedule can make it look needed; seed 7 breaks without it.
        let mut s = base();
        s.faults = vec![crash(40, "database", None), crash(20, "payments", Some(30))];
        let (small, seed) = minimize(s, 5, &mut |c, seed| {
            let db = c
                .faults
                .iter()
                .any(|f| f.crash.as_deref() == Some("database"));
            db && (c.faults.len() == 2 || seed == 7)
        });
        assert_eq!(small.faults.len(), 1, "{:?}", small.faults);
        assert_eq!(seed, 7, "the witness seed that breaks without it");
        assert_eq!(
            small.faults[0].restart_ms, None,
            "a crash for good stays one"
        );
        let text = render("x.toml", &base(), &shrunk_to(small, (5, seed)));
        assert!(text.contains("# Seed 5 stopped breaking"), "{text}");
        assert_eq!(Scenario::parse(&text, "s.toml").unwrap().seed, Some(7));
    }

    #[test]
    fn the_rendered_file_parses_back_with_its_seed() {
        let mut s = base();
        s.faults = vec![crash(30, "database", None)];
        let text = render("x.toml", &s, &shrunk_to(s.clone(), (7, 7)));
        assert!(text.starts_with("# Shrunk by `sovlab shrink x.toml --seed 7`"));
        let back = Scenario::parse(&text, "shrunk.toml").unwrap();
        assert_eq!(back.seed, Some(7));
        assert_eq!(back.faults, s.faults);
    }
}
