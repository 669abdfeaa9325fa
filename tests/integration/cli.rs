//! The command line as users and scripts see it: exit codes (0 / 1 / 2, nothing on
//! stdout on error), the catalogue, check, sweep, shrink and export.

use crate::util::{root, sovlab, tempdir};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a usage / bad-input failure: exit 2, nothing on stdout.
fn assert_usage(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(o));
    assert!(o.stdout.is_empty(), "{what}: stdout {:?}", stdout(o));
    assert!(!o.stderr.is_empty(), "{what}: says why on stderr");
}

/// The catalogue files in the source tree, sorted.
fn catalogue_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

/// A scenario whose expect cannot be met: a shared database never breaks atomicity.
const UNMET: &str = r#"
name = "expects the impossible"
duration_ms = 1000
[[service]]
name = "orders"
[[service]]
name = "payments"
[write]
protocol = "shared-database"
transactions = 4
steps = [{ service = "orders" }, { service = "payments" }]
[expect]
violated = ["atomicity"]
"#;

#[test]
fn exit_codes_follow_the_contract() {
    let ok = sovlab(&["run", "shared-db-crash"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "a catalogue name runs: {}",
        stderr(&ok)
    );
    assert!(stdout(&ok).contains("expect     met"));

    let dir = tempdir("cli-exit");
    let unmet = dir.join("unmet.toml");
    std::fs::write(&unmet, UNMET).unwrap();
    let u = unmet.to_str().unwrap();
    let o = sovlab(&["run", u]);
    assert_eq!(o.status.code(), Some(1), "expect not met");
    assert!(stdout(&o).contains("atomicity was expected to be violated"));
    let o = sovlab(&["sweep", u, "--seeds", "0..3", "--jobs", "1"]);
    assert_eq!(o.status.code(), Some(1), "sweep: a seed's expect not met");

    assert_usage(&sovlab(&["run", "no-such-scenario"]), "unknown name");
    assert_usage(&sovlab(&["frobnicate"]), "unknown subcommand");
    assert_usage(
        &sovlab(&["sweep", u, "--seeds", "5..5"]),
        "empty seed range",
    );
    assert_usage(
        &sovlab(&["sweep", u, "--seeds", "0..9", "--shard", "5/4"]),
        "bad shard",
    );
    assert_usage(
        &sovlab(&["sweep", u, "--seeds", "0..9", "--jobs", "0"]),
        "no jobs",
    );
    assert_usage(
        &sovlab(&["export", u, "--seed", "1"]),
        "export without an output",
    );
    let same = dir.join("same.out");
    let same = same.to_str().unwrap();
    assert_usage(
        &sovlab(&["export", u, "--svg", same, "--mermaid", same]),
        "one file for both",
    );
    assert!(!std::path::Path::new(same).exists(), "nothing written");
    let help = sovlab(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
}

#[test]
fn a_mistyped_name_gets_a_suggestion() {
    let o = sovlab(&["run", "shared-db-crsh"]);
    assert_usage(&o, "typo");
    assert!(
        stderr(&o).contains("did you mean the catalogue scenario shared-db-crash?"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn list_shows_every_catalogue_scenario_with_its_name() {
    let o = sovlab(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let files = catalogue_files();
    assert_eq!(out.lines().count(), files.len(), "{out}");
    for f in files {
        let stem = f.file_stem().unwrap().to_str().unwrap();
        let s = sovlab_sim::Scenario::load(&f).unwrap();
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(stem))
            .unwrap_or_else(|| panic!("{stem} listed: {out}"));
        assert!(line.contains(&s.name), "{line}");
    }
}

#[test]
fn every_catalogue_scenario_checks_and_meets_its_expect() {
    let files = catalogue_files();
    let mut args = vec!["check".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = sovlab(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        o.stdout.is_empty() && o.stderr.is_empty(),
        "check is quiet on success"
    );
    let o = sovlab(&["check", "scenarios"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "a directory: its files: {}",
        stderr(&o)
    );
    let empty = tempdir("cli-check-empty");
    assert_usage(
        &sovlab(&["check", empty.to_str().unwrap()]),
        "nothing to check",
    );
    // Whether each scenario meets its expect is the library's verdict, not the process
    // boundary (an unmet expect's exit 1 is checked by exit_codes_follow_the_contract):
    // run each in-process, as `sovlab run FILE` does, with the scenario's own seed.
    for f in files {
        let s = sovlab_sim::Scenario::load(&f).unwrap_or_else(|e| panic!("{e}"));
        let r = sovlab_sim::run(&s, s.seed_or(None));
        assert!(
            r.report.expect.met,
            "{}: {}",
            f.display(),
            r.report.to_text()
        );
    }
}

#[test]
fn check_reports_every_bad_file_where_it_is_wrong() {
    let dir = tempdir("cli-check");
    let bad1 = dir.join("bad1.toml");
    std::fs::write(
        &bad1,
        "name = \"x\"\n[[service]]\nname = \"orders\"\n[write]\nprotocol = \"two-phase\"\nsteps = [{ service = \"orders\" }]\n",
    )
    .unwrap();
    let bad2 = dir.join("bad2.toml");
    std::fs::write(
        &bad2,
        "name = \"x\"\n[[service]]\nname = \"orders\"\n[[fault]]\nat_ms = 5\ncrash = \"order\"\n",
    )
    .unwrap();
    let good = root().join("scenarios/shared-db-crash.toml");
    let missing = root().join("scenarios/shared-db-crsh.toml");
    let o = sovlab(&[
        "check",
        bad1.to_str().unwrap(),
        good.to_str().unwrap(),
        bad2.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_usage(&o, "bad files");
    let err = stderr(&o);
    let b1 = bad1.display().to_string();
    let b2 = bad2.display().to_string();
    assert!(err.contains(&format!("--> {b1}:5:12")), "{err}");
    assert!(err.contains("did you mean \"two-phase-commit\"?"), "{err}");
    assert!(err.contains("error: unknown node \"order\""), "{err}");
    assert!(err.contains(&format!("--> {b2}:6:9")), "{err}");
    assert!(err.contains("did you mean \"orders\"?"), "{err}");
    assert!(
        err.contains("shared-db-crash.toml?"),
        "a missing file: the closest: {err}"
    );
    assert!(
        err.contains(&format!("{}: no such file", missing.display())) && !err.contains(":0:0"),
        "a missing file is not at 0:0: {err}"
    );
    assert!(err.contains("3 of 4 scenario file(s) are invalid"), "{err}");
}

fn sweep_json(args: &[&str]) -> Value {
    let o = sovlab(args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

/// Adds two `{value: count}` histograms.
fn add_hist(a: &mut Value, b: &Value) {
    for (k, v) in b.as_object().unwrap() {
        let sum = a.get(k).and_then(Value::as_u64).unwrap_or(0) + v.as_u64().unwrap();
        a[k] = sum.into();
    }
}

#[test]
fn sweep_counts_do_not_depend_on_jobs_and_shards_add_up() {
    let f = "shared-db-crash";
    let one = sovlab(&["sweep", f, "--seeds", "10..50", "--jobs", "1", "--json"]);
    let two = sovlab(&["sweep", f, "--seeds", "10..50", "--jobs", "2", "--json"]);
    assert_eq!(one.status.code(), Some(0));
    assert_eq!(one.stdout, two.stdout, "same bytes with 1 and 2 threads");
    let whole: Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(whole["runs"], 40);
    assert_eq!(
        whole["write"]["committed"]["histogram"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        40
    );

    let mut runs = 0;
    let mut committed = Value::Object(Default::default());
    let mut sum = 0;
    let mut next_from = 10;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let part = sweep_json(&[
            "sweep", f, "--seeds", "10..50", "--jobs", "2", "--json", "--shard", &shard,
        ]);
        assert_eq!(part["seeds"]["from"], next_from, "contiguous slices");
        next_from = part["seeds"]["to"].as_u64().unwrap();
        runs += part["runs"].as_u64().unwrap();
        add_hist(&mut committed, &part["write"]["committed"]["histogram"]);
        sum += part["write"]["committed"]["sum"].as_u64().unwrap();
        assert_eq!(part["shard"]["of"]["to"], 50);
    }
    assert_eq!(next_from, 50);
    assert_eq!(runs, 40);
    assert_eq!(committed, whole["write"]["committed"]["histogram"]);
    assert_eq!(sum, whole["write"]["committed"]["sum"].as_u64().unwrap());
}

#[test]
fn sweep_lists_the_seeds_whose_expect_failed_and_shards_partition_them() {
    let dir = tempdir("cli-sweep-unmet");
    let unmet = dir.join("unmet.toml");
    std::fs::write(&unmet, UNMET).unwrap();
    let u = unmet.to_str().unwrap();
    let whole = sovlab(&["sweep", u, "--seeds", "0..12", "--json"]);
    assert_eq!(whole.status.code(), Some(1));
    let whole: Value = serde_json::from_slice(&whole.stdout).unwrap();
    let all: Vec<u64> = (0..12).collect();
    assert_eq!(whole["expect"]["seeds"], serde_json::json!(all));
    let mut union = Vec::new();
    for k in 1..=4 {
        let o = sovlab(&[
            "sweep",
            u,
            "--seeds",
            "0..12",
            "--json",
            "--shard",
            &format!("{k}/4"),
        ]);
        let part: Value = serde_json::from_slice(&o.stdout).unwrap();
        union.extend(
            part["expect"]["seeds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap()),
        );
    }
    assert_eq!(union, all);
    let text = sovlab(&["sweep", u, "--seeds", "0..12"]);
    assert!(
        stdout(&text).contains("expect     NOT met on 12 seed(s): 0, 1, 2"),
        "{}",
        stdout(&text)
    );
    assert!(
        stdout(&text).contains(&format!("next       sovlab run {u} --seed 0  |")),
        "the next step is suggested: {}",
        stdout(&text)
    );
    assert!(
        !stdout(&text).contains("sovlab shrink"),
        "nothing for shrink: atomicity held"
    );
}

#[test]
fn shrink_refuses_a_run_that_breaks_nothing() {
    let o = sovlab(&["shrink", "shared-db-crash", "--seed", "1"]);
    assert_usage(&o, "nothing to shrink");
    assert!(stderr(&o).contains("nothing to shrink: with seed 1 this scenario breaks no invariant"));
    let f = root().join("scenarios/shared-db-crash.toml");
    let f = f.to_str().unwrap();
    assert_usage(
        &sovlab(&["shrink", f, "--seed", "1", "--out", f]),
        "--out over the input",
    );
}

#[test]
fn shrink_makes_a_catalogue_story_smaller_when_nothing_promised_broke() {
    // reads-view-direct-diverges promises atomicity and conservation (kept) and shows a
    // convergence violation: shrink makes that story smaller.
    // The library, as `sovlab shrink` calls it: what it prints is this rendered file.
    let file = "reads-view-direct-diverges.toml";
    let from = crate::util::load(file);
    let shrunk = sovlab_sim::shrink::shrink(&from, 1).expect("there is something to shrink");
    let original = std::fs::read_to_string(root().join("scenarios").join(file)).unwrap();
    let text = sovlab_sim::shrink_file::render(file, &original, &from, &shrunk);
    let small = sovlab_sim::Scenario::parse(&text, "shrunk.toml").unwrap();
    assert!(small.write.as_ref().unwrap().transactions < 60);
    // On the seed the shrunk file names: dropping the loss window, a crash alone can
    // lose a change in the dual-write gap, on another seed than the original's.
    let r = sovlab_sim::run(&small, small.seed_or(None));
    let convergence = r.verdicts.iter().find(|v| v.name == "convergence").unwrap();
    assert!(!convergence.holds, "still diverges");
    assert!(r.report.expect.met, "the story's expect still holds");
}

/// Node names of a run, as the trace has them.
fn node_names(name: &str, seed: u64) -> Vec<String> {
    let s = crate::util::load(&format!("{name}.toml"));
    let r = sovlab_sim::run(&s, seed);
    r.trace.nodes.iter().map(|n| n.name.clone()).collect()
}

#[test]
fn export_writes_svg_that_parses_and_mermaid_that_names_every_node() {
    let dir = tempdir("cli-export");
    let svg = dir.join("run.svg");
    let mmd = dir.join("run.mmd");
    let (s, m) = (svg.to_str().unwrap(), mmd.to_str().unwrap());
    let name = "shared-db-partition-heal";
    let o = sovlab(&["export", name, "--seed", "2", "--svg", s, "--mermaid", m]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    let nodes = node_names(name, 2);
    for n in &nodes {
        assert!(texts.contains(&n.as_str()), "lane {n} is named");
    }
    assert!(
        texts.iter().any(|t| t.starts_with("partition [")),
        "the partition is shaded and named"
    );
    assert!(text.contains("#d32f2f"), "drops are marked");
    let mermaid = std::fs::read_to_string(&mmd).unwrap();
    assert!(mermaid.starts_with("sequenceDiagram\n"));
    for (i, n) in nodes.iter().enumerate() {
        assert!(
            mermaid.contains(&format!("participant n{i} as {n}\n")),
            "{n}: {mermaid}"
        );
    }
    assert!(mermaid.contains("(dropped: partition)"), "{mermaid}");

    // The outputs exist now: no overwrite without --force, and the file is untouched.
    let before = std::fs::read(&svg).unwrap();
    let o = sovlab(&["export", name, "--seed", "3", "--svg", s]);
    assert_usage(&o, "existing output");
    assert!(stderr(&o).contains("--force"));
    assert_eq!(std::fs::read(&svg).unwrap(), before);
    let o = sovlab(&[
        "export", name, "--seed", "3", "--svg", s, "--force", "--from", "100", "--events", "50",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let windowed = std::fs::read_to_string(&svg).unwrap();
    roxmltree::Document::parse(&windowed).expect("well-formed XML");
    assert!(
        windowed.contains("events 100..149 of"),
        "the window is stated"
    );
    assert_usage(
        &sovlab(&["export", name, "--svg", s, "--force", "--from", "99999999"]),
        "window past the end",
    );
}

#[test]
fn export_windows_by_time_or_by_default_before_what_broke_and_says_which() {
    let dir = tempdir("cli-export-window");
    let svg = dir.join("w.svg");
    let mmd = dir.join("w.mmd");
    let (s, m) = (svg.to_str().unwrap(), mmd.to_str().unwrap());
    let name = "choreography-direct-crash";
    // No window given: it starts before the first violation, not at event 0.
    let o = sovlab(&["export", name, "--svg", s, "--mermaid", m]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(!text.contains("events 0..399"), "not from event 0");
    assert!(text.contains("the first violation"), "the header says why");
    let mermaid = std::fs::read_to_string(&mmd).unwrap();
    assert!(
        mermaid
            .lines()
            .nth(1)
            .unwrap()
            .contains("the first violation"),
        "{mermaid}"
    );
    // --from-ms: the first event at or after that time.
    let o = sovlab(&["export", name, "--svg", s, "--force", "--from-ms", "40"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    let scenario = crate::util::load(&format!("{name}.toml"));
    let r = sovlab_sim::run(&scenario, scenario.seed_or(None));
    let first = r
        .trace
        .events
        .iter()
        .position(|e| e.t_us >= 40_000)
        .unwrap();
    assert!(first > 0 && r.trace.events[first - 1].t_us < 40_000);
    assert!(
        text.contains(&format!("events {first}..")) && text.contains("from 40 ms"),
        "window from event {first}"
    );
    assert_usage(
        &sovlab(&[
            "export",
            name,
            "--svg",
            s,
            "--force",
            "--from",
            "3",
            "--from-ms",
            "4",
        ]),
        "--from and --from-ms",
    );
    assert_usage(
        &sovlab(&[
            "export",
            name,
            "--svg",
            s,
            "--force",
            "--from-ms",
            "99999999",
        ]),
        "--from-ms past the end",
    );
}

/// Faults that cannot matter to the CQRS view: nothing travels between the client and
/// the database, and the app's brief crash is over before any of its work matters.
/// (The crash was at 50 ms, in the middle of the writes: since faults no longer
/// reshuffle the whole run, seed 1 shows that such a crash does matter there.)
const IRRELEVANT: &str = r#"
[[fault]]
at_ms = 0
loss = 1.0
link = ["client", "database"]

[[fault]]
at_ms = 20
partition = [["client"], ["database"]]
heal_ms = 700

[[fault]]
at_ms = 0
crash = "coordinator"
restart_ms = 5
"#;

#[test]
fn shrink_keeps_only_the_decisive_faults_and_the_result_still_breaks() {
    // reads-view-direct-diverges breaks convergence with two faults (the view's link
    // is cut, then the database crashes with its unacknowledged changes in memory).
    // Expect convergence to hold, plant faults that cannot matter, and shrink.
    let base =
        std::fs::read_to_string(root().join("scenarios/reads-view-direct-diverges.toml")).unwrap();
    let text = base
        .replace(
            "holds = [\"atomicity\", \"conservation\"]",
            "holds = [\"atomicity\", \"conservation\", \"convergence\"]",
        )
        .replace("violated = [\"convergence\"]", "")
        + IRRELEVANT;
    let original = sovlab_sim::Scenario::parse(&text, "planted.toml").unwrap();
    assert_eq!(original.faults.len(), 5);
    let dir = tempdir("cli-shrink-real");
    let file = dir.join("planted.toml");
    std::fs::write(&file, &text).unwrap();
    let f = file.to_str().unwrap();
    let before = sovlab(&["run", f]);
    assert_eq!(
        before.status.code(),
        Some(1),
        "the planted run breaks convergence"
    );

    // One shrink, written to a file (stdout and --out print one rendered text: the
    // stdout form is checked by shrink_makes_a_catalogue_story_smaller...).
    let out = dir.join("shrunk.toml");
    let o = sovlab(&["shrink", f, "--seed", "1", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "--out: nothing on stdout");
    let shrunk = std::fs::read_to_string(&out).unwrap();
    assert!(shrunk.starts_with("# Shrunk by `sovlab shrink"), "{shrunk}");
    assert!(
        shrunk.contains("#   convergence: "),
        "names what still breaks: {shrunk}"
    );
    let small = sovlab_sim::Scenario::parse(&shrunk, "shrunk.toml").unwrap();
    assert!(
        small.seed.is_some(),
        "the shrunk file names the seed it breaks with"
    );
    // Only the decisive faults are left: the database crash, and none of the planted.
    assert!(small.faults.len() <= 2, "{shrunk}");
    assert!(
        small
            .faults
            .iter()
            .any(|f| f.crash.as_deref() == Some("database")),
        "{shrunk}"
    );
    for f in &small.faults {
        let link = f.link.as_ref().map(|l| l.join("-"));
        assert_ne!(link.as_deref(), Some("client-database"), "{shrunk}");
        assert!(f.partition.is_none(), "{shrunk}");
        assert_ne!(f.crash.as_deref(), Some("coordinator"), "{shrunk}");
    }
    let w = small.write.as_ref().unwrap();
    assert!(w.transactions < 60, "fewer transactions: {shrunk}");

    // Run as is, the file still breaks convergence.
    let o = sovlab(&["run", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("convergence was expected to hold"));
}

/// Two-phase commit blocks when its coordinator dies after the votes: participants
/// hold their units, undecided. One decisive crash among faults that cannot matter
/// (nothing travels between the client and a participant; the last crash comes after
/// the work is done).
const BLOCKING: &str = r#"
name = "2PC, one decisive crash among irrelevant faults"
duration_ms = 3000
[network]
latency_ms = [1, 5]
[[service]]
name = "orders"
[[service]]
name = "payments"
[write]
protocol = "two-phase-commit"
transactions = 20
concurrency = 2
interval_ms = 5
steps = [{ service = "orders" }, { service = "payments", amount = 5 }]
[[fault]]
at_ms = 0
loss = 1.0
link = ["client", "payments"]
[[fault]]
at_ms = 30
crash = "coordinator"
[[fault]]
at_ms = 10
partition = [["client"], ["orders"]]
heal_ms = 900
[[fault]]
at_ms = 2900
crash = "payments"
restart_ms = 20
[expect]
holds = ["termination"]
"#;

#[test]
fn shrink_keeps_only_the_decisive_fault_and_the_result_still_breaks() {
    let dir = tempdir("cli-shrink");
    let file = dir.join("blocking.toml");
    std::fs::write(&file, BLOCKING).unwrap();
    let f = file.to_str().unwrap();
    let o = sovlab(&["sweep", f, "--seeds", "0..40", "--json"]);
    let sweep: Value = serde_json::from_slice(&o.stdout).unwrap();
    let seed = sweep["invariants"]["termination"]["seeds"][0]
        .as_u64()
        .expect("some seed blocks 2PC: the coordinator crash leaves held units");
    let out = dir.join("shrunk.toml");
    let o = sovlab(&[
        "shrink",
        f,
        "--seed",
        &seed.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "--out: nothing on stdout");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("# Shrunk by `sovlab shrink"), "{text}");
    assert!(
        text.contains("termination"),
        "the header names what still breaks"
    );
    let small = sovlab_sim::Scenario::parse(&text, "shrunk.toml").unwrap();
    assert_eq!(small.faults.len(), 1, "{text}");
    assert_eq!(small.faults[0].crash.as_deref(), Some("coordinator"));
    // The shrunk file carries its seed: run it as is; it still breaks termination.
    let o = sovlab(&["run", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("termination was expected to hold"));
}

/// Every command takes a catalogue name where it takes a file (tui and check too), and
/// without a terminal the TUI says what to do instead (exit 2).
#[test]
fn catalogue_names_everywhere_and_no_terminal_is_explained() {
    let o = sovlab(&["check", "shared-db-crash", "2pc-no-log.toml"]);
    assert_eq!(o.status.code(), Some(0), "check NAME: {}", stderr(&o));
    // `output()` gives the child pipes, not a terminal.
    for args in [&[][..], &["tui", "shared-db-crash"][..]] {
        let o = sovlab(args);
        assert_usage(&o, "no terminal");
        assert!(
            stderr(&o).contains("not a terminal; try `sovlab list` or `sovlab run NAME`"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let o = sovlab(&["tui", "shared-db-crsh"]);
    assert_usage(&o, "tui with a typo");
    assert!(stderr(&o).contains("did you mean the catalogue scenario shared-db-crash?"));
}

/// Each fixture under tests/fixtures/check lists, in `# expect-error:` lines, text its
/// report must contain: every error of the file, rustc style, with plain words.
#[test]
fn check_reports_every_error_of_each_fixture_with_its_line_and_caret() {
    let dir = root().join("tests/fixtures/check");
    let missing = dir.join("missing.toml");
    let o = sovlab(&["check", dir.to_str().unwrap(), missing.to_str().unwrap()]);
    assert_usage(&o, "invalid fixtures");
    let err = stderr(&o);
    let mut fixtures = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect-error: "))
            .collect();
        assert!(!expected.is_empty(), "{} asserts its errors", p.display());
        for want in expected {
            assert!(err.contains(want), "{}: {want:?} in\n{err}", p.display());
        }
        fixtures += 1;
    }
    assert!(fixtures >= 4);
    let every = err.matches("error: ").count();
    // 3 + 4 + 1 + 1 + 6 + 2 errors (type-error.toml: two type errors and a typo;
    // saga-design-keys.toml: six, tcc-keys.toml: two), the missing file, and the
    // summary line.
    assert_eq!(every, 19, "every error of every file: {err}");
    assert!(err.contains("missing.toml: no such file"), "{err}");
    assert!(err.contains("7 of 7 scenario file(s) are invalid"), "{err}");
}

#[test]
fn export_flags_the_cause_and_joins_it_to_the_victim() {
    let dir = tempdir("cli-export-cause");
    let svg = dir.join("run.svg");
    let s = svg.to_str().unwrap();
    let o = sovlab(&[
        "export",
        "2pc-coordinator-crash-forever",
        "--seed",
        "1",
        "--svg",
        s,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let class = |c: &str| {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some(c))
            .count()
    };
    // The victim's red flag, the cause's orange flag, and the arrow between them.
    let victim = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "path" && n.attribute("fill") == Some("#c62828"))
        .count();
    assert!(victim >= 1, "the violation's flag");
    assert!(class("cause-flag") >= 1, "the cause's flag");
    assert!(class("cause-join") >= 1, "the line from cause to victim");
    let label = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("cause-label"))
        .filter_map(|n| n.text())
        .collect::<Vec<_>>();
    assert!(label.contains(&"cause of termination"), "{label:?}");
    // The join's title names the crash's event as the cause.
    let r = sovlab_sim::run_explained(
        &crate::util::scenario(include_str!(
            "../../scenarios/2pc-coordinator-crash-forever.toml"
        )),
        1,
    );
    let cause = r
        .report
        .invariants
        .get("termination")
        .unwrap()
        .because
        .as_ref()
        .unwrap()
        .cause_seq
        .unwrap();
    let title = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("cause-join"))
        .flat_map(|n| n.children())
        .filter_map(|c| c.text())
        .collect::<String>();
    assert!(
        title.contains(&format!("crash at event {cause}")),
        "{title}"
    );
}
