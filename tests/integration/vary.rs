//! `sovlab sweep --vary`: the forms of `--vary`, their errors (exit 2, nothing on
//! stdout), the JSON shape, the CSV, the chart and the exit code of an unmet expect.

use crate::util::{sovlab, tempdir};
use serde_json::Value;
use std::process::Output;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `sweep --vary` on the DES (fast) over `seeds`.
fn vary(file: &str, seeds: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "sweep", file, "--seeds", seeds, "--engine", "des", "--jobs", "1",
    ];
    args.extend_from_slice(extra);
    sovlab(&args)
}

/// Exit 2, nothing on stdout, and stderr containing every one of `want`.
fn bad(o: &Output, want: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(o.stdout.is_empty(), "stdout: {}", stdout(o));
    for w in want {
        assert!(e.contains(w), "{w:?} in {e}");
    }
}

#[test]
fn bad_keys_and_values_are_usage_errors_with_a_hint() {
    let f = "saga-isolation";
    bad(
        &vary(f, "0..2", &["--vary", "write.protocl=saga"]),
        &[
            "no key \"protocl\"",
            "did you mean protocol?",
            "valid keys there:",
        ],
    );
    bad(
        &vary(f, "0..2", &["--vary", "service.inventry.capacity=3"]),
        &[
            "no service named \"inventry\"",
            "hint: did you mean inventory?",
        ],
    );
    bad(
        &vary(f, "0..2", &["--vary", "write.transactions=2.5"]),
        &["--vary write.transactions=2.5", "expected a whole number"],
    );
    bad(
        &vary(f, "0..2", &["--vary", "write.protocol=3pc"]),
        &["unknown variant", "hint:"],
    );
    bad(
        &vary(f, "0..2", &["--vary", "write.transactions"]),
        &["expected KEY=V1,V2"],
    );
    bad(
        &vary(f, "0..2", &["--vary", "write.transactions=1..5"]),
        &["has no :STEP"],
    );
    bad(
        &vary(f, "0..2", &["--vary", "read.queries=4"]),
        &["no [read] section"],
    );
    bad(
        &sovlab(&["sweep", f, "--seeds", "0..2", "--csv", "x.csv"]),
        &["--vary"],
    );
}

#[test]
fn json_rows_follow_the_product_in_order() {
    let o = vary(
        "saga-isolation",
        "0..4",
        &[
            "--json",
            "--vary",
            "write.transactions=4..8:4",
            "--vary",
            "write.protocol=saga,two-phase-commit",
        ],
    );
    assert!(
        o.status.success() || o.status.code() == Some(1),
        "{}",
        stderr(&o)
    );
    let j: Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
    assert_eq!(j["format"], "sovlab-vary");
    assert_eq!(j["version"], 1);
    assert_eq!(j["measures"], "write");
    let rows = j["rows"].as_array().unwrap();
    let params: Vec<String> = rows.iter().map(|r| r["params"].to_string()).collect();
    assert_eq!(
        params,
        [
            r#"{"write.transactions":4,"write.protocol":"saga"}"#,
            r#"{"write.transactions":4,"write.protocol":"two-phase-commit"}"#,
            r#"{"write.transactions":8,"write.protocol":"saga"}"#,
            r#"{"write.transactions":8,"write.protocol":"two-phase-commit"}"#,
        ]
    );
    for r in rows {
        assert_eq!(r["runs"], 4);
        assert!(r["throughput_per_s"].is_number());
        assert!(r["latency_ms"]["p50"].is_number() && r["latency_ms"]["p99"].is_number());
        assert!(r["availability"].is_null(), "no deadline: null");
        assert!(r["invariants"]["isolation"].is_u64());
    }
    // Agreement is judged under 2PC only.
    assert!(rows[0]["invariants"].get("agreement").is_none());
    assert!(rows[1]["invariants"]["agreement"].is_u64());
    // Deterministic: the same command prints the same bytes.
    let again = vary(
        "saga-isolation",
        "0..4",
        &[
            "--json",
            "--vary",
            "write.transactions=4..8:4",
            "--vary",
            "write.protocol=saga,two-phase-commit",
        ],
    );
    assert_eq!(o.stdout, again.stdout);
}

#[test]
fn csv_and_svg_are_written_atomically_and_not_over_a_file() {
    let dir = tempdir("vary-files");
    let csv = dir.join("rows.csv");
    let svg = dir.join("chart.svg");
    let (c, s) = (csv.to_str().unwrap(), svg.to_str().unwrap());
    let args = [
        "--vary",
        "write.transactions=2,4,6",
        "--vary",
        "write.protocol=saga,two-phase-commit",
        "--csv",
        c,
        "--svg",
        s,
    ];
    let o = vary("saga-isolation", "0..2", &args);
    assert!(o.status.code().is_some_and(|c| c < 2), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("write.transactions  write.protocol"),
        "{}",
        stdout(&o)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "a header and six rows: {text}");
    assert!(lines[0].starts_with("write.transactions,write.protocol,runs,throughput_per_s,"));
    assert!(lines[1].starts_with("2,saga,2,"), "{}", lines[1]);
    let chart = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&chart).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    // A second run refuses to replace them without --force.
    bad(
        &vary("saga-isolation", "0..2", &args),
        &["already exists", "--force"],
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    assert!(vary("saga-isolation", "0..2", &forced)
        .status
        .code()
        .is_some_and(|c| c < 2));
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 2, "no temporary file left behind");
}

#[test]
fn an_unmet_expect_on_a_row_exits_1() {
    let dir = tempdir("vary-unmet");
    let f = dir.join("s.toml");
    std::fs::write(
        &f,
        r#"
name = "atomic only under the shared database"
duration_ms = 2000
[[service]]
name = "orders"
[[service]]
name = "payments"
[write]
protocol = "shared-database"
transactions = 3
steps = [{ service = "orders" }, { service = "payments" }]
[expect]
violated = []
"#,
    )
    .unwrap();
    let f = f.to_str().unwrap();
    let ok = vary(f, "0..2", &["--vary", "write.transactions=2,3"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let unmet = vary(f, "0..2", &["--vary", "expect.holds=[\"agreement\"]"]);
    // agreement does not apply to the shared database: the loader says so (exit 2).
    bad(&unmet, &["agreement"]);
    let o = vary(f, "0..2", &["--vary", "expect.violated=[],[\"atomicity\"]"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("expect NOT met"), "{}", stdout(&o));
}

/// The `read.sources` values of the lesson: one to five sources.
const SOURCES: &str = r#"read.sources=["orders"],["orders","inventory"],["orders","inventory","payments"],["orders","inventory","payments","shipping"],["orders","inventory","payments","shipping","reviews"]"#;

/// Story 4 of the lesson "What the patterns cost", over 30 seeds on the DES: API
/// composition's median latency grows with every source it waits for (by at least
/// 5 ms from one source to five), a CQRS view's stays within 10 % of flat and under
/// half of composition's, and only the view is stale.
#[test]
fn composition_latency_grows_with_its_sources_and_a_view_answers_in_one_hop_stale() {
    let o = vary(
        "cost-reads-sources",
        "0..30",
        &[
            "--json",
            "--measure",
            "read",
            "--vary",
            SOURCES,
            "--vary",
            "read.method=api-composition,cqrs-view",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["measures"], "read");
    let rows = j["rows"].as_array().unwrap();
    let of = |method: &str, what: &str| -> Vec<f64> {
        rows.iter()
            .filter(|r| r["params"]["read.method"] == method)
            .map(|r| match what {
                "stale" => r["max_staleness_ms"].as_f64().unwrap(),
                p => r["latency_ms"][p].as_f64().unwrap(),
            })
            .collect()
    };
    let comp = of("api-composition", "p50");
    let view = of("cqrs-view", "p50");
    assert_eq!((comp.len(), view.len()), (5, 5));
    assert!(
        comp.windows(2).all(|w| w[1] > w[0]),
        "composition grows: {comp:?}"
    );
    assert!(comp[4] - comp[0] >= 5.0, "by 5 ms at least: {comp:?}");
    let (lo, hi) = view
        .iter()
        .fold((f64::MAX, 0.0f64), |(l, h), &x| (l.min(x), h.max(x)));
    assert!(hi <= lo * 1.10, "the view stays flat: {view:?}");
    assert!(
        view.iter().zip(&comp).all(|(v, c)| v * 2.0 < *c),
        "one hop: {view:?} {comp:?}"
    );
    assert!(
        of("cqrs-view", "stale").iter().all(|s| *s > 0.0),
        "the view lags"
    );
    assert!(
        of("api-composition", "stale").iter().all(|s| *s == 0.0),
        "composition does not"
    );
}
