//! Robustness (issue 9): no input crashes the lab, a runaway run ends and says why,
//! and numbers at their edges behave as docs/reference/edge-cases.md says.
//!
//! The fuzz budgets are small by default so `cargo test` stays quick. The long runs
//! (see docs/reference/edge-cases.md) raise them through environment variables:
//! `SOVLAB_FUZZ_CASES` (proptest cases), `SOVLAB_FUZZ_PROCESSES` (process runs
//! per input kind) and `SOVLAB_BIN` (the binary the process runs start).

use crate::util::{root, scenario, sovlab, tempdir};
use proptest::prelude::*;
use sovlab_sim::testing::fixture::Fixture;
use sovlab_sim::trace::{EventKind, StopReason};
use sovlab_sim::{run_with, RunOptions, Scenario};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every catalogue file, as (path, text).
fn catalogue() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(root().join("scenarios"))
        .expect("the catalogue directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the catalogue is not empty");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("a catalogue file reads");
            (p.display().to_string(), text)
        })
        .collect()
}

fn env_count(var: &str, default: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: a tiny deterministic generator, so a failing input is reproduced
/// from its seed alone.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Numbers at and past every edge the format has.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "0.0",
    "-0.0",
    "0.5",
    "1.0",
    "1.0000001",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "255",
    "65535",
    "65536",
    "4096",
    "4097",
    "4294967295",
    "4294967296",
    "3600000",
    "3600001",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "[0, 0]",
    "[]",
    "\"7\"",
    "true",
];

/// Strings a scenario may name, and some it should not.
const STRINGS: &[&str] = &[
    "",
    "client",
    "coordinator",
    "database",
    "gateway",
    "view",
    "orders",
    "inventory",
    "payments",
    "a",
    "A",
    "x y",
    "saga",
    "two-phase-commit",
    "shared-database",
    "cqrs-view",
    "api-composition",
    "key-value",
    "event-log",
    "atomicity",
    "isolation",
    "\\u0000",
    "ÿ✓",
];

/// Lines and sections worth splicing in.
const SNIPPETS: &[&str] = &[
    "[limits]\nmax_events = 1",
    "[limits]\nmax_nodes = 2",
    "[limits]\nmax_transactions = 0",
    "[[fault]]\nat_ms = 0\ncrash = \"database\"",
    "[[fault]]\nat_ms = 0\ncrash = \"database\"\nrestart_ms = 0",
    "[[fault]]\nat_ms = 1\npartition = [[\"database\"], [\"coordinator\"]]",
    "[[fault]]\nat_ms = 2\nloss = 1.0\nlink = [\"client\", \"coordinator\"]",
    "[[fault]]\nat_ms = 2\nloss = 1.0\nuntil_ms = 1",
    "[read]\nmethod = \"cqrs-view\"",
    "[read]\nmethod = \"api-composition\"\nsources = [\"nope\"]",
    "[expect]\nholds = [\"agreement\"]",
    "[network]\nlatency_ms = [0, 0]\nloss = 1.0\nduplicate = 1.0",
    "[[service]]\nname = \"extra\"\ncapacity = 0",
    "[write]\nprotocol = \"saga\"\nsteps = []",
    "[[service]]",
    "[[fault]]",
    "version = 2",
    "duration_ms = 0",
    "seed = -1",
    "= = =",
    "[",
    "\"",
];

/// Mutates scenario text: 1 to 4 edits among number, string and line changes,
/// spliced snippets and raw byte damage.
fn mutate(text: &str, others: &[(String, String)], mix: &mut Mix) -> Vec<u8> {
    let mut s = text.to_string();
    for _ in 0..1 + mix.below(4) {
        let lines: Vec<String> = s.lines().map(str::to_string).collect();
        s = match mix.below(9) {
            0 | 1 => replace_token(&s, mix, |c| c.is_ascii_digit(), NUMBERS),
            2 => replace_token(&s, mix, |c| c == '"', STRINGS),
            3 if !lines.is_empty() => {
                let mut l = lines.clone();
                l.remove(mix.below(l.len()));
                l.join("\n")
            }
            4 if !lines.is_empty() => {
                let mut l = lines.clone();
                let i = mix.below(l.len());
                l.insert(i, lines[i].clone());
                l.join("\n")
            }
            5 => {
                let mut l = lines.clone();
                let i = mix.below(l.len() + 1);
                let from = &mix.pick(others).1;
                let other: Vec<&str> = from.lines().collect();
                let line = if mix.below(2) == 0 && !other.is_empty() {
                    mix.pick(&other).to_string()
                } else {
                    mix.pick(SNIPPETS).to_string()
                };
                l.insert(i, line);
                l.join("\n")
            }
            6 if lines.len() > 1 => {
                let mut l = lines.clone();
                let (a, b) = (mix.below(l.len()), mix.below(l.len()));
                l.swap(a, b);
                l.join("\n")
            }
            7 => {
                let cut = mix.below(s.len() + 1);
                let cut = (0..=cut)
                    .rev()
                    .find(|&c| s.is_char_boundary(c))
                    .unwrap_or(0);
                s[..cut].to_string()
            }
            _ => {
                // Raw damage: the result may not even be UTF-8.
                let mut b = s.into_bytes();
                for _ in 0..1 + mix.below(3) {
                    let at = mix.below(b.len() + 1);
                    match mix.below(3) {
                        0 if at < b.len() => b[at] = mix.next() as u8,
                        1 if at < b.len() => {
                            b.remove(at);
                        }
                        _ => b.insert(at, mix.next() as u8),
                    }
                }
                return b;
            }
        };
    }
    s.into_bytes()
}

/// Replaces one token that starts with a char `starts` accepts by one of `with`.
fn replace_token(s: &str, mix: &mut Mix, starts: impl Fn(char) -> bool, with: &[&str]) -> String {
    let starts_at: Vec<usize> = s
        .char_indices()
        .filter(|&(i, c)| starts(c) && (i == 0 || !s[..i].ends_with(|p: char| p.is_alphanumeric())))
        .map(|(i, _)| i)
        .collect();
    if starts_at.is_empty() {
        return s.to_string();
    }
    let at = *mix.pick(&starts_at);
    let rest = &s[at..];
    let len = if let Some(inner) = rest.strip_prefix('"') {
        inner.find('"').map_or(rest.len(), |e| e + 2)
    } else {
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || "._-+".contains(c)))
            .unwrap_or(rest.len())
    };
    let new = mix.pick(with);
    let new = if rest.starts_with('"') && !new.starts_with('"') {
        format!("\"{new}\"")
    } else {
        new.to_string()
    };
    format!("{}{}{}", &s[..at], new, &s[at + len..])
}

/// Parses bytes as a scenario and, if it is valid, runs it briefly. Must not panic.
fn parse_and_run(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    if let Ok(mut s) = Scenario::parse(&text, "fuzz.toml") {
        s.limits.max_events = s.limits.max_events.min(20_000);
        // A bounded run: virtual time is cheap but not free.
        s.duration_ms = s.duration_ms.min(30_000);
        let r = run_with(&s, 1, RunOptions::counters_only());
        assert!(
            r.trace.event_count <= 20_000 + 1_000,
            "the event limit holds"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: env_count("SOVLAB_FUZZ_CASES", 256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic_the_loader(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        parse_and_run(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics_the_loader(text in "(\\PC|\n){0,300}") {
        parse_and_run(text.as_bytes());
    }

    #[test]
    fn mutated_catalogue_files_never_panic_load_or_run(seed in any::<u64>()) {
        let cat = catalogue();
        let mut mix = Mix(seed);
        let (_, text) = &cat[mix.below(cat.len())];
        parse_and_run(&mutate(text, &cat, &mut mix));
    }
}

/// Fuzz inputs per process spawn by default (the rest are tried in-process only).
const PROCESS_EVERY: u32 = 4;

/// Runs sovlab with a hang guard; returns its exit code (None: killed by a signal).
fn run_guarded(args: &[&str], input: &Path) -> Option<i32> {
    // SOVLAB_BIN: a copy of the binary, so a long fuzz survives rebuilds meanwhile.
    let bin = std::env::var("SOVLAB_BIN").unwrap_or(env!("CARGO_BIN_EXE_sovlab").into());
    let mut child = Command::new(bin)
        .args(args)
        .arg(input)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sovlab starts");
    // Not a speed assertion: a guard so that a hang fails the test instead of
    // stalling it. The worst legitimate input runs 3 600 000 virtual ms idle,
    // about two seconds.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            if status.code().is_none() || status.code() == Some(101) {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!(
                    "sovlab {args:?} {} crashed ({status}): {err}\ninput: {:?}",
                    input.display(),
                    String::from_utf8_lossy(&std::fs::read(input).unwrap_or_default())
                );
            }
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "sovlab {args:?} hung on {:?}",
                String::from_utf8_lossy(&std::fs::read(input).unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `run` and `check` over one input: exit 0, 1 or 2, never a panic or a hang. Every
/// input goes through the library in-process; the process boundary (the exit code) is
/// tried on one input in `PROCESS_EVERY` (`SOVLAB_FUZZ_PROCESS_EVERY`, 1: all).
fn cli_survives(input: &Path, i: u32) {
    parse_and_run(&std::fs::read(input).unwrap());
    if !i.is_multiple_of(env_count("SOVLAB_FUZZ_PROCESS_EVERY", PROCESS_EVERY).max(1)) {
        return;
    }
    for args in [&["run", "--max-events", "20000"][..], &["check"][..]] {
        let code = run_guarded(args, input);
        assert!(
            matches!(code, Some(0..=2)),
            "sovlab {args:?} exited {code:?} on {:?}",
            String::from_utf8_lossy(&std::fs::read(input).unwrap_or_default())
        );
    }
}

#[test]
fn cli_exits_0_1_or_2_on_random_bytes() {
    let dir = tempdir("fuzz-bytes");
    let n = env_count("SOVLAB_FUZZ_PROCESSES", 100);
    let mut mix = Mix(0x5eed_0001);
    for i in 0..n {
        let len = mix.below(400);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match mix.below(4) {
                // Mostly TOML-ish characters, so some inputs get past the lexer.
                0 => *mix.pick(b"[]=\"\n .,0123456789abcdefghijklmnopqrstuvwxyz_-#{}"),
                _ => mix.next() as u8,
            })
            .collect();
        let f = dir.join(format!("bytes-{i}.toml"));
        std::fs::write(&f, bytes).unwrap();
        cli_survives(&f, i);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cli_exits_0_1_or_2_on_mutated_catalogue_files() {
    let dir = tempdir("fuzz-mutated");
    let cat = catalogue();
    let n = env_count("SOVLAB_FUZZ_PROCESSES", 100);
    let mut mix = Mix(0x5eed_0002);
    for i in 0..n {
        let (_, text) = &cat[mix.below(cat.len())];
        let f = dir.join(format!("mutated-{i}.toml"));
        std::fs::write(&f, mutate(text, &cat, &mut mix)).unwrap();
        cli_survives(&f, i);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_mutator_reaches_valid_scenarios_too() {
    // A fuzzer whose inputs all fail to parse would test only the parser.
    let cat = catalogue();
    let mut mix = Mix(7);
    let valid = (0..300)
        .filter(|_| {
            let (_, text) = &cat[mix.below(cat.len())];
            let m = mutate(text, &cat, &mut mix);
            Scenario::parse(&String::from_utf8_lossy(&m), "m.toml").is_ok()
        })
        .count();
    assert!(valid >= 30, "only {valid} of 300 mutants parse");
}

// ---------------------------------------------------------------- limits

/// A run that would go on for an hour of virtual time and many events.
const RUNAWAY: &str = r#"
name = "runaway"
duration_ms = 3600000
[network]
loss = 0.3
[[service]]
name = "a"
[[service]]
name = "b"
[write]
protocol = "shared-database"
transactions = 1000000
concurrency = 50
steps = [{ service = "a" }, { service = "b" }]
[limits]
max_events = 5000
"#;

#[test]
fn a_runaway_scenario_ends_at_its_event_limit_and_says_so() {
    let s = scenario(RUNAWAY);
    let r = run_with(&s, 3, RunOptions::default());
    let StopReason::Limit(why) = &r.trace.stop else {
        panic!("stopped by {:?}", r.trace.stop);
    };
    assert!(why.contains("5000 events"), "{why}");
    assert!(
        r.report.stopped.starts_with("limit: "),
        "{}",
        r.report.stopped
    );
    let last = r.trace.events.last().expect("events");
    assert!(
        matches!(last.kind, EventKind::Limit { .. }),
        "ends with a limit event"
    );
    // The step in progress completes, then the limit event: a small overshoot.
    assert!(
        (5000..5100).contains(&r.trace.event_count),
        "{}",
        r.trace.event_count
    );
}

#[test]
fn run_max_events_overrides_the_file_and_the_report_says_why() {
    let dir = tempdir("limits");
    let f = dir.join("runaway.toml");
    std::fs::write(&f, RUNAWAY).unwrap();
    let out = sovlab(&["run", f.to_str().unwrap(), "--max-events", "300", "--json"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["events"].as_u64().unwrap() < 400);
    let stopped = report["stopped"].as_str().unwrap();
    assert!(
        stopped.starts_with("limit: the run reached 300 events"),
        "{stopped}"
    );
    let out = sovlab(&["run", f.to_str().unwrap(), "--max-events", "0"]);
    assert_eq!(out.status.code(), Some(2), "zero events is a usage error");
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn limit_overrides_apply_before_validation() {
    let dir = tempdir("limit-overrides");
    let f = dir.join("s.toml");
    std::fs::write(
        &f,
        RUNAWAY.replace("transactions = 1000000", "transactions = 30"),
    )
    .unwrap();
    let path = f.to_str().unwrap();
    let out = sovlab(&["run", path, "--max-transactions", "10"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("above the limit of 10"), "{err}");
    let out = sovlab(&["run", path, "--max-duration-ms", "1000"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sovlab(&["run", path, "--max-nodes", "3"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "client, app, database, a, b: 5 nodes"
    );
    let text = RUNAWAY.replace("duration_ms = 3600000", "duration_ms = 3600001");
    std::fs::write(&f, text).unwrap();
    let out = sovlab(&[
        "run",
        path,
        "--max-duration-ms",
        "3600001",
        "--max-events",
        "50",
    ]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn limits_in_the_file_are_checked() {
    let bad = |extra: &str| {
        let text = format!(
            "{}\n{extra}",
            RUNAWAY.replace("[limits]\nmax_events = 5000", "")
        );
        Scenario::parse(&text, "l.toml").unwrap_err().to_string()
    };
    assert!(bad("[limits]\nmax_events = 0").contains("max_events must be at least 1"));
    assert!(bad("[limits]\nmax_nodes = 100000").contains("above what the lab can simulate"));
    assert!(bad("[limits]\nmax_nodes = 4").contains("above the limit of 4"));
    assert!(bad("[limits]\nmax_transactions = 5").contains("above the limit of 5"));
}

// ---------------------------------------------------------------- edge cases

/// Two services, three shared-database transactions; `{extra}` is appended.
fn edge(extra: &str) -> Scenario {
    scenario(&edge_text(extra))
}

fn edge_text(extra: &str) -> String {
    Fixture::new("shared-database")
        .name("edge")
        .services(&["a", "b"])
        .service(1, "capacity = 100")
        .set("transactions", 3)
        .step(1, "amount = 7")
        .section(extra)
        .toml()
}

fn sends_and_deliveries(r: &sovlab_sim::RunResult) -> (Vec<u64>, Vec<u64>) {
    let (mut sends, mut delivers) = (vec![], vec![]);
    for e in &r.trace.events {
        match e.kind {
            EventKind::Send { .. } => sends.push(e.t_us),
            EventKind::Deliver { .. } => delivers.push(e.t_us),
            _ => {}
        }
    }
    (sends, delivers)
}

#[test]
fn loss_0_drops_nothing() {
    let r = sovlab_sim::run(&edge("[network]\nloss = 0.0"), 1);
    let m = r.trace.counters;
    assert_eq!((m.dropped, m.duplicated), (0, 0));
    assert_eq!(m.sent, m.delivered);
    assert_eq!(r.report.write.as_ref().unwrap().committed, 3);
}

#[test]
fn loss_1_drops_everything_and_the_run_still_ends() {
    let r = sovlab_sim::run(&edge("[network]\nloss = 1.0"), 1);
    let m = r.trace.counters;
    assert!(m.sent > 0);
    assert_eq!(m.delivered, 0);
    assert_eq!(m.dropped, m.sent);
    assert_eq!(r.trace.stop, StopReason::Quiescent, "the client gives up");
    let w = r.report.write.as_ref().unwrap();
    assert_eq!((w.committed, w.aborted, w.unfinished), (0, 3, 0));
    assert!(
        r.verdicts.iter().all(|v| v.holds),
        "nothing applied anywhere"
    );
}

#[test]
fn latency_0_means_the_simulators_floor_of_1_ms() {
    let r = sovlab_sim::run(&edge("[network]\nlatency_ms = [0, 0]"), 1);
    let (sends, delivers) = sends_and_deliveries(&r);
    assert!(!delivers.is_empty());
    // Every delivery lands 1 ms (madsim's shortest sleep) after some send.
    for d in delivers {
        assert!(
            sends.iter().any(|s| d >= s + 1000 && d < s + 1002),
            "delivery at {d} us is not 1 ms after a send"
        );
    }
    assert_eq!(r.report.write.as_ref().unwrap().committed, 3);
}

#[test]
fn a_crash_at_0_ms_happens_at_1_ms_after_every_node_started() {
    let r = sovlab_sim::run(
        &edge("[[fault]]\nat_ms = 0\ncrash = \"database\"\nrestart_ms = 10"),
        1,
    );
    let crash = r
        .trace
        .events
        .iter()
        .position(|e| matches!(e.kind, EventKind::Crash))
        .expect("a crash");
    let t = r.trace.events[crash].t_us;
    assert!((1000..1002).contains(&t), "crash at {t} us");
    assert!(
        r.trace.events[..crash]
            .iter()
            .any(|e| matches!(e.kind, EventKind::Submit { .. })),
        "the client had started"
    );
    assert!(r
        .trace
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Restart)));
    assert!(r.verdicts.iter().all(|v| v.holds), "{:?}", r.verdicts);
}

#[test]
fn a_partition_that_never_heals_still_ends_the_run() {
    let r = sovlab_sim::run(
        &edge("[[fault]]\nat_ms = 0\npartition = [[\"coordinator\"], [\"database\"]]"),
        1,
    );
    assert!(!r
        .trace
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Heal)));
    assert_eq!(r.trace.stop, StopReason::Quiescent);
    let w = r.report.write.as_ref().unwrap();
    assert_eq!(w.committed, 0, "no statement reaches the database");
    assert!(r.verdicts.iter().all(|v| v.holds), "{:?}", r.verdicts);
}

#[test]
fn zero_transactions_is_an_empty_quiescent_run() {
    let s = scenario(&edge_text("").replace("transactions = 3", "transactions = 0"));
    let r = sovlab_sim::run(&s, 1);
    assert_eq!(r.trace.event_count, 0);
    assert_eq!(r.trace.stop, StopReason::Quiescent);
    assert_eq!(r.report.trace_hash, "cbf29ce484222325", "FNV-1a of nothing");
    let w = r.report.write.as_ref().unwrap();
    assert_eq!(
        (w.transactions, w.committed, w.aborted, w.unfinished),
        (0, 0, 0, 0)
    );
    assert!(r.report.expect.met);
}

#[test]
fn a_step_larger_than_capacity_is_always_rejected_for_insufficient_units() {
    let s = scenario(&edge_text("").replace("amount = 7", "amount = 101"));
    let r = sovlab_sim::run(&s, 1);
    let rejects: Vec<_> = r
        .trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Reject {
                reason,
                available,
                needed,
                ..
            } => Some((reason, available, needed)),
            _ => None,
        })
        .collect();
    assert_eq!(rejects.len(), 3);
    for (reason, available, needed) in rejects {
        assert_eq!(reason, sovlab_sim::store::RejectReason::Insufficient);
        assert_eq!((available, needed), (100, 101));
    }
    let w = r.report.write.as_ref().unwrap();
    assert_eq!((w.committed, w.aborted), (0, 3));
    assert!(r.verdicts.iter().all(|v| v.holds));
}

#[test]
fn numbers_past_the_edges_are_errors_not_panics() {
    for (extra, says) in [
        ("[network]\nloss = 1.5", "probability"),
        ("[network]\nloss = nan", "probability"),
        ("[network]\nlatency_ms = [5, 1]", "min <= max"),
        ("[network]\nlatency_ms = [0, 3600001]", "above one hour"),
        (
            "[[fault]]\nat_ms = -1\ncrash = \"database\"",
            "expected a whole number (0 or more), found the number -1",
        ),
        (
            "[[service]]\nname = \"c\"\ncapacity = -1",
            "capacity must be 0 or more",
        ),
    ] {
        let text = edge_text(extra);
        let err = Scenario::parse(&text, "e.toml").unwrap_err().to_string();
        assert!(err.contains(says), "{extra:?}: {err}");
    }
}

#[test]
fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
    for text in [
        format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("a = {}1{}", "{b=".repeat(50_000), "}".repeat(50_000)),
        format!("name = \"x\"\n{}b = 1", "a.".repeat(50_000)),
    ] {
        let err = Scenario::parse(&text, "deep.toml").unwrap_err();
        assert!(err.message.contains("recursion limit"), "{err}");
    }
}

#[test]
fn the_largest_scenario_loads_and_runs() {
    let mut text = String::from("name = \"wide\"\n[limits]\nmax_nodes = 4096\n");
    for i in 0..4000 {
        text.push_str(&format!("[[service]]\nname = \"s{i}\"\n"));
    }
    let steps: Vec<String> = (0..200)
        .map(|i| format!("{{ service = \"s{i}\" }}"))
        .collect();
    text.push_str(&format!(
        // 200 statements take 200 ms: a statement timeout above that (the default,
        // 100 ms, would roll every transaction back).
        "[write]\nprotocol = \"shared-database\"\ntransactions = 5\ntimeout_ms = 1000\nsteps = [{}]\n",
        steps.join(", ")
    ));
    let r = sovlab_sim::run(&scenario(&text), 1);
    assert_eq!(r.trace.stop, StopReason::Quiescent);
    assert_eq!(r.report.write.as_ref().unwrap().committed, 5);
}

#[test]
fn a_reader_that_goes_away_is_not_a_crash() {
    // `sovlab run FILE | head -c 0`: the pipe closes before sovlab prints.
    let dir = tempdir("closed-pipe");
    let f = dir.join("s.toml");
    std::fs::write(
        &f,
        RUNAWAY.replace("max_events = 5000", "max_events = 20000"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sovlab"))
        .args(["run", f.to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_ne!(
        out.status.code(),
        Some(101),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unwritable_stdout_is_exit_2_not_a_panic() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let dir = tempdir("dev-full");
    let f = dir.join("s.toml");
    std::fs::write(&f, RUNAWAY).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sovlab"))
        .args(["run", f.to_str().unwrap()])
        .stdout(std::fs::OpenOptions::new().write(true).open(full).unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write the output"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
