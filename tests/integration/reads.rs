//! The read patterns: API composition and CQRS views, their checkers and statistics.

use crate::util::{load, scenario, sovlab};
use sovlab_sim::msg::MsgKind;
use sovlab_sim::read::ReadResult;
use sovlab_sim::trace::EventKind;
use sovlab_sim::{run, RunResult, Scenario};

/// The read scenarios of the catalogue.
const CATALOGUE: [&str; 5] = [
    "reads-torn-composition.toml",
    "reads-mid-saga.toml",
    "reads-source-crash-partial.toml",
    "reads-view-outbox-converges.toml",
    "reads-view-direct-diverges.toml",
];

fn run_file(file: &str) -> (Scenario, RunResult) {
    let s = load(file);
    let r = run(&s, s.seed.unwrap_or(1));
    (s, r)
}

fn verdict(r: &RunResult, name: &str) -> sovlab_sim::Verdict {
    r.verdicts
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("{name} applies"))
        .clone()
}

/// Every `read` event: (time, result).
fn reads(r: &RunResult) -> Vec<(u64, ReadResult)> {
    r.trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Read { result, .. } => Some((e.t_us, result)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_catalogue_read_scenarios_meet_their_expect_over_seeds() {
    for file in CATALOGUE {
        let s = load(file);
        for seed in [s.seed.unwrap_or(1), 2, 3] {
            let r = run(&s, seed);
            assert!(
                r.report.expect.met,
                "{file} seed {seed}: {:?}",
                r.report.expect.failures
            );
        }
    }
    // And through the binary, as a user runs them.
    let out = sovlab(&["run", "scenarios/reads-view-direct-diverges.toml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn composed_reads_straddle_commits_although_writes_are_atomic() {
    let (_, r) = run_file("reads-torn-composition.toml");
    assert!(verdict(&r, "atomicity").holds);
    let v = verdict(&r, "consistent-reads");
    assert!(!v.holds);
    let example = v.example.unwrap();
    assert!(
        example.contains("applied") && example.contains("absent"),
        "{example}"
    );
    let at = v.at_seq.unwrap() as usize;
    assert!(
        matches!(r.trace.events[at].kind, EventKind::Read { .. }),
        "the violation points at the read"
    );
}

#[test]
fn reads_after_the_writes_are_over_are_consistent() {
    // The same system, but reading only once every transaction is over: no read can
    // straddle a commit, so the checker must pass. `stock` runs no step: it can never
    // see a transaction, and its answers must not count against the others'.
    let s = scenario(
        r#"
name = "quiet reads"
[[service]]
name = "orders"
[[service]]
name = "stock"
[[service]]
name = "payments"
[write]
protocol = "shared-database"
transactions = 5
concurrency = 2
steps = [{ service = "orders" }, { service = "payments", reject = 0.3 }]
[read]
method = "api-composition"
queries = 20
interval_ms = 200
"#,
    );
    for seed in 1..4 {
        let r = run(&s, seed);
        let rd = r.report.read.as_ref().unwrap();
        assert_eq!(rd.complete, 20);
        assert!(verdict(&r, "consistent-reads").holds, "seed {seed}");
    }
}

#[test]
fn a_crashed_source_turns_complete_reads_into_partial_ones() {
    let (_, r) = run_file("reads-source-crash-partial.toml");
    let crash_us = 250_000;
    let all = reads(&r);
    assert_eq!(all.len(), 10);
    for (t, result) in &all {
        let want = if *t < crash_us {
            ReadResult::Complete
        } else {
            ReadResult::Partial { missing: 1 }
        };
        assert_eq!(*result, want, "read at {t} µs");
    }
    let rd = r.report.read.as_ref().unwrap();
    assert_eq!((rd.complete, rd.partial, rd.failed), (2, 8, 0));
    // A partial answer waited the whole timeout, after the query's trip to the
    // gateway (1..5 ms); the client is told which source is missing: payments,
    // source 2 in `read.sources` order.
    assert!((51.0..=55.1).contains(&rd.latency_ms.max), "{rd:?}");
    let gateway = r.trace.node_ix("gateway").unwrap();
    let masks: Vec<i64> = r
        .trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Send { to: 0, msg }
                if e.node == gateway && msg.kind == MsgKind::Answer && !msg.ok =>
            {
                Some(msg.value)
            }
            _ => None,
        })
        .collect();
    assert_eq!(masks, vec![0b100; 8]);
    assert!(verdict(&r, "consistent-reads").holds);
}

#[test]
fn a_view_is_stale_during_the_outage_and_converges_after_it() {
    let (_, r) = run_file("reads-view-outbox-converges.toml");
    assert!(verdict(&r, "convergence").holds);
    let rd = r.report.read.as_ref().unwrap();
    assert_eq!(rd.complete, rd.queries, "the view serves every query alone");
    // Changes committed early in the outage reach the view only after it (600 ms).
    assert!(rd.max_staleness_ms > 300.0, "{}", rd.max_staleness_ms);
    let late = r.trace.events.iter().any(|e| {
        matches!(e.kind, EventKind::ViewApplied { staleness_us, .. } if staleness_us > 300_000)
            && e.t_us >= 600_000
    });
    assert!(late, "stale changes are applied once the link heals");
    // Before the outage, the view lags by one network latency at most.
    let early_max = r
        .trace
        .events
        .iter()
        .filter(|e| e.t_us < 100_000)
        .filter_map(|e| match e.kind {
            EventKind::ViewApplied { staleness_us, .. } => Some(staleness_us),
            _ => None,
        })
        .max()
        .unwrap();
    assert!(early_max <= 10_000, "{early_max}");
}

#[test]
fn direct_publishing_and_a_crash_never_converge_but_either_alone_does() {
    let (s, r) = run_file("reads-view-direct-diverges.toml");
    let v = verdict(&r, "convergence");
    assert!(!v.holds);
    assert!(v.example.unwrap().contains("the view holds nothing"));
    // Without the crash, direct publishing converges: the link heals, memory resends.
    let mut no_crash = s.clone();
    no_crash.faults.retain(|f| f.crash.is_none());
    assert!(verdict(&run(&no_crash, 1), "convergence").holds);
    // With the crash and an outbox, it converges too (the catalogue's outbox run).
    let (_, r) = run_file("reads-view-outbox-converges.toml");
    assert!(verdict(&r, "convergence").holds);
}

#[test]
fn the_read_report_matches_the_contract() {
    let s = load("reads-torn-composition.toml");
    let out = sovlab(&["run", "scenarios/reads-torn-composition.toml", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let read = &j["read"];
    let keys: Vec<&str> = read
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "method",
            "queries",
            "complete",
            "partial",
            "failed",
            "max_staleness_ms",
            "latency_ms",
            "throughput_per_s"
        ]
    );
    assert_eq!(read["method"], "api-composition");
    let n = |k: &str| read[k].as_u64().unwrap();
    assert_eq!(n("queries"), u64::from(s.read.as_ref().unwrap().queries));
    assert_eq!(n("complete") + n("partial") + n("failed"), n("queries"));
    for k in ["p50", "p99", "max"] {
        assert!(read["latency_ms"][k].is_number());
    }
    assert!(j["invariants"]["consistent-reads"]["holds"] == false);
    // Reads are judged from the event log: a counters-only run would misjudge them.
    assert!(sovlab_sim::check::needs_events(&s));
    let counters_only = sovlab_sim::RunOptions::counters_only();
    let r = sovlab_sim::run_with(&s, 1, counters_only);
    assert_eq!(
        r.report.read.unwrap().complete,
        0,
        "no events, nothing counted"
    );
    // Isolation replays rejections from the log: a counters-only run of a write
    // scenario would call its dirty reads clean.
    let dirty = load("saga-isolation.toml");
    assert!(sovlab_sim::check::needs_events(&dirty));
    let isolated = |opts| {
        let r = sovlab_sim::run_with(&dirty, 1, opts);
        r.verdicts
            .iter()
            .find(|v| v.name == "isolation")
            .unwrap()
            .holds
    };
    assert!(!isolated(sovlab_sim::RunOptions::default()));
    assert!(isolated(counters_only), "misjudged without the log");
    // Without [write] or [read] nothing is judged from the log.
    let bare = scenario("name = \"bare\"\n[[service]]\nname = \"orders\"\n");
    assert!(!sovlab_sim::check::needs_events(&bare));
    // A scenario without [read] has no read section.
    let out = sovlab(&["run", "scenarios/shared-db-crash.toml", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(j.get("read").is_none());
}

/// An API-composition scenario whose only fault is independent loss `p`.
fn lossy_reads(p: f64, sources: &[&str]) -> Scenario {
    let sources: Vec<String> = sources.iter().map(|s| format!("\"{s}\"")).collect();
    scenario(&format!(
        r#"
name = "read statistics"
duration_ms = 5000
[network]
loss = {p}
latency_ms = [1, 5]
[[service]]
name = "orders"
[[service]]
name = "inventory"
[[service]]
name = "payments"
[write]
protocol = "shared-database"
transactions = 3
steps = [{{ service = "orders" }}, {{ service = "payments" }}]
[read]
method = "api-composition"
queries = 120
interval_ms = 1
timeout_ms = 50
sources = [{}]
"#,
        sources.join(", ")
    ))
}

/// (complete, failed, queries) summed over the reports of `seeds` runs.
fn read_outcomes(s: &Scenario, seeds: std::ops::Range<u64>) -> (f64, f64, f64) {
    let (mut complete, mut failed, mut n) = (0.0, 0.0, 0.0);
    for seed in seeds {
        let rd = run(s, seed).report.read.expect("a read section");
        complete += f64::from(rd.complete);
        failed += f64::from(rd.failed);
        n += f64::from(rd.queries);
    }
    (complete, failed, n)
}

/// Asserts `hits / n` agrees with `p` within four standard errors.
fn agrees(what: &str, hits: f64, n: f64, p: f64) {
    let observed = hits / n;
    let se = (p * (1.0 - p) / n).sqrt();
    eprintln!(
        "{what}: observed {observed:.4} over {n} reads, expected {p:.4} +- {:.4} (4 s.e.)",
        4.0 * se
    );
    assert!(
        (observed - p).abs() <= 4.0 * se,
        "{what}: observed {observed:.4} over {n} reads, expected {p:.4} +- {:.4} (4 s.e.)",
        4.0 * se
    );
}

#[test]
fn complete_reads_agree_with_one_minus_p_to_the_2k() {
    // No retries: each source call is one query and one answer, each lost with
    // probability p independently, and the timeout outlasts any round trip. So a
    // read is complete with probability (1-p)^(2k) and failed with (1-(1-p)^2)^k.
    // (The client's own leg to the gateway is resent until acknowledged, so every
    // query is joined: the report's fractions are these.)
    for (p, sources) in [
        (0.1, &["orders", "inventory", "payments"][..]),
        (0.2, &["payments"][..]),
    ] {
        let k = sources.len() as i32;
        let (complete, failed, n) = read_outcomes(&lossy_reads(p, sources), 0..100);
        assert_eq!(n, 12_000.0, "every query counted");
        let q = (1.0 - p) * (1.0 - p);
        agrees(&format!("complete, p {p}, k {k}"), complete, n, q.powi(k));
        agrees(
            &format!("failed, p {p}, k {k}"),
            failed,
            n,
            (1.0 - q).powi(k),
        );
    }
}

#[test]
fn a_view_query_needs_only_the_view() {
    // Crash every source (the database) for good: composed reads fail, view reads
    // are still served, complete but frozen.
    let base = |method: &str| {
        scenario(&format!(
            r#"
name = "sources down"
duration_ms = 2000
[[service]]
name = "orders"
[[service]]
name = "payments"
[write]
protocol = "shared-database"
transactions = 5
steps = [{{ service = "orders" }}, {{ service = "payments" }}]
[read]
method = "{method}"
queries = 20
interval_ms = 10
[[fault]]
at_ms = 100
crash = "database"
"#
        ))
    };
    let r = run(&base("api-composition"), 1);
    let rd = r.report.read.as_ref().unwrap();
    assert!(rd.failed >= 10, "{rd:?}");
    let r = run(&base("cqrs-view"), 1);
    let rd = r.report.read.as_ref().unwrap();
    assert_eq!(rd.complete, 20, "{rd:?}");
    assert!(r
        .trace
        .events
        .iter()
        .all(|e| !matches!(e.kind, EventKind::Send { msg, .. } if msg.kind == MsgKind::Query && e.node != 0)));
}

#[test]
fn queries_wait_out_a_view_crash_and_the_view_catches_up_after_its_restart() {
    let s = scenario(
        r#"
name = "view down"
duration_ms = 3000
[[service]]
name = "orders"
[[service]]
name = "payments"
[write]
protocol = "shared-database"
publish = "direct"
transactions = 30
concurrency = 2
interval_ms = 10
steps = [{ service = "orders" }, { service = "payments", reject = 0.2 }]
[read]
method = "cqrs-view"
queries = 30
interval_ms = 10
[[fault]]
at_ms = 100
crash = "view"
restart_ms = 100
"#,
    );
    for seed in 1..4 {
        let r = run(&s, seed);
        let rd = r.report.read.as_ref().unwrap();
        // The client resends the queries of the outage (100..200 ms) until the view
        // is back: they are answered late, not lost.
        assert_eq!(rd.complete, 30, "seed {seed}: {rd:?}");
        assert!(rd.latency_ms.max >= 80.0, "seed {seed}: {rd:?}");
        assert!(rd.latency_ms.p50 <= 10.0, "seed {seed}: {rd:?}");
        // The sources resent every change the view missed, even from memory: the
        // view's crash loses nothing, and it converges.
        assert!(verdict(&r, "convergence").holds, "seed {seed}");
        assert!(rd.max_staleness_ms >= 50.0, "seed {seed}: {rd:?}");
    }
    // A view that never comes back: those queries are never answered, so they fail.
    let mut gone = s.clone();
    gone.faults[0].restart_ms = None;
    let rd = run(&gone, 1).report.read.unwrap();
    assert!((19..=21).contains(&rd.failed), "{rd:?}");
    assert_eq!(rd.complete + rd.failed, 30);
}
