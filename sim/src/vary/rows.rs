//! Running every combination over the seeds and summarizing each as one row; the
//! rows as JSON, CSV and a text table.

use super::{apply, combinations, spec, Params, Vary, VaryError};
use crate::scenario::{LimitOverrides, INVARIANTS};
use crate::sweep::{self, SeedRun};
use crate::Engine;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::ops::Range;

/// The node whose mean utilization over the seeds is highest.
#[derive(Debug, Clone, PartialEq)]
pub struct Busiest {
    /// Its name.
    pub node: String,
    /// Busy server-time over workers x run time, the mean over seeds.
    pub utilization: f64,
}

/// One combination's summary over the seeds.
#[derive(Debug, Clone)]
pub struct Row {
    /// The value of every varied key.
    pub params: Params,
    /// Seeds run.
    pub runs: usize,
    /// Mean over seeds of committed transactions (answered queries, for a scenario
    /// without `[write]`) per virtual second.
    pub throughput_per_s: f64,
    /// Mean over seeds of each seed's latency median, ms.
    pub p50_ms: f64,
    /// Mean over seeds of each seed's 99th percentile, ms.
    pub p99_ms: f64,
    /// Reads only: mean over seeds of the longest a view lagged behind its sources, ms.
    pub staleness_ms: Option<f64>,
    /// Mean over seeds of the available share; `None` without a deadline.
    pub availability: Option<f64>,
    /// The busiest node; `None` when no node has a service time.
    pub busiest: Option<Busiest>,
    /// Per invariant that applies, on how many seeds it broke.
    pub invariants: Vec<(String, usize)>,
    /// Every seed met `[expect]` (and `sometimes` broke on one).
    pub expect_met: bool,
    /// Seeds on which the simulator panicked (a lab bug).
    pub panicked: usize,
}

/// Whose throughput and latency the rows show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The business transactions of `[write]`.
    Write,
    /// The queries of `[read]`.
    Read,
}

impl Side {
    /// "write" or "read".
    pub fn name(self) -> &'static str {
        match self {
            Side::Write => "write",
            Side::Read => "read",
        }
    }

    /// The side named `name`.
    pub fn from_name(name: &str) -> Option<Side> {
        [Side::Write, Side::Read]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// The side to measure: `asked` (it must exist in the scenario), else the writes when
/// there is a `[write]` section, else the reads.
pub fn measures(s: &crate::Scenario, asked: Option<Side>) -> Result<Side, VaryError> {
    let side = asked.unwrap_or(if s.write.is_some() {
        Side::Write
    } else {
        Side::Read
    });
    let has = match side {
        Side::Write => s.write.is_some(),
        Side::Read => s.read.is_some(),
    };
    if has {
        Ok(side)
    } else {
        Err(VaryError::new(
            format!(
                "--measure {}: the scenario has no [{}] section",
                side.name(),
                side.name()
            ),
            "measure the side the scenario has (write or read)",
        ))
    }
}

/// What a `--vary` sweep runs: the scenario's text, the keys, the seeds and how.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// The scenario file's text.
    pub text: &'a str,
    /// The label its errors use.
    pub file: &'a str,
    /// The varied keys, in order.
    pub varies: &'a [Vary],
    /// The seeds every row runs.
    pub seeds: Range<u64>,
    /// Worker threads.
    pub jobs: usize,
    /// The executor.
    pub engine: Engine,
    /// Whose throughput and latency the rows show.
    pub side: Side,
}

/// Validates every combination first (a bad one is an error before anything runs),
/// then runs each over the seeds; `done` is called once per finished seed.
pub fn run(plan: &Plan<'_>, done: &(dyn Fn() + Sync)) -> Result<Vec<Row>, VaryError> {
    let overrides = LimitOverrides::default();
    let scenarios = combinations(plan.varies)
        .into_iter()
        .map(|p| Ok((apply(plan.text, plan.file, &p, &overrides)?, p)))
        .collect::<Result<Vec<_>, VaryError>>()?;
    Ok(scenarios
        .into_iter()
        .map(|(s, params)| {
            let runs = sweep::run_seeds_on(&s, plan.seeds.clone(), plan.jobs, plan.engine, done);
            summarize(&s, plan.side, params, &runs)
        })
        .collect())
}

/// The mean of the values present, `None` when there is none.
fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, sum) = values.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    (n > 0).then(|| sum / n as f64)
}

/// Rounded to `places` decimals, so the output does not show float noise.
fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// One row from one combination's runs.
fn summarize(s: &crate::Scenario, side: Side, params: Params, runs: &[SeedRun]) -> Row {
    let write = side == Side::Write;
    let throughput = mean(runs.iter().filter_map(|r| {
        if write {
            r.cost.write_throughput_per_s
        } else {
            r.cost.read_throughput_per_s
        }
    }));
    let latency = |i: usize| {
        mean(runs.iter().filter_map(|r| {
            if write {
                r.latency.map(|l| l[i])
            } else {
                r.cost.read_latency.map(|l| l[i])
            }
        }))
        .unwrap_or(0.0)
    };
    // Summed in the report's node order, then the highest: ties go to the first.
    let mut nodes: Vec<(String, f64)> = Vec::new();
    for r in runs {
        for (name, u) in &r.cost.utilization {
            match nodes.iter_mut().find(|(n, _)| n == name) {
                Some((_, sum)) => *sum += u,
                None => nodes.push((name.clone(), *u)),
            }
        }
    }
    let busiest = nodes
        .into_iter()
        .fold(None::<(String, f64)>, |best, (n, u)| match best {
            Some((bn, bu)) if bu >= u => Some((bn, bu)),
            _ => Some((n, u)),
        })
        .map(|(node, sum)| Busiest {
            node,
            utilization: round(sum / runs.len().max(1) as f64, 4),
        });
    Row {
        params,
        runs: runs.len(),
        throughput_per_s: round(throughput.unwrap_or(0.0), 2),
        p50_ms: round(latency(0), 1),
        p99_ms: round(latency(1), 1),
        staleness_ms: if write {
            None
        } else {
            mean(runs.iter().filter_map(|r| r.cost.read_staleness_ms)).map(|x| round(x, 1))
        },
        availability: mean(runs.iter().filter_map(|r| r.cost.availability)).map(|a| round(a, 4)),
        busiest,
        invariants: INVARIANTS
            .iter()
            .filter(|n| crate::check::applies(s, n))
            .map(|n| {
                let broken = runs
                    .iter()
                    .filter(|r| r.broken.iter().any(|b| b == n))
                    .count();
                (n.to_string(), broken)
            })
            .collect(),
        expect_met: sweep::expect_met(s, runs),
        panicked: runs.iter().filter(|r| r.panicked).count(),
    }
}

/// The `sovlab-vary` JSON document (docs/reference/vary.md).
pub fn to_json(
    scenario: &str,
    engine: Engine,
    seeds: &Range<u64>,
    measured: Side,
    rows: &[Row],
) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let params: Map<String, Value> = r
                .params
                .iter()
                .map(|(k, v)| (k.clone(), spec::to_json(v)))
                .collect();
            let invariants: Map<String, Value> = r
                .invariants
                .iter()
                .map(|(n, b)| (n.clone(), json!(b)))
                .collect();
            let mut row = json!({
                "params": params,
                "runs": r.runs,
                "throughput_per_s": r.throughput_per_s,
                "latency_ms": {"p50": r.p50_ms, "p99": r.p99_ms},
                "availability": r.availability,
                "busiest": r.busiest.as_ref().map(|b| json!({"node": b.node, "utilization": b.utilization})),
                "invariants": invariants,
                "expect_met": r.expect_met,
                "panicked": r.panicked,
            });
            if let Some(st) = r.staleness_ms {
                row["max_staleness_ms"] = json!(st);
            }
            row
        })
        .collect();
    json!({
        "format": "sovlab-vary",
        "version": 1,
        "scenario": scenario,
        "engine": engine,
        "seeds": {"from": seeds.start, "to": seeds.end},
        "measures": measured.name(),
        "rows": rows,
    })
}

/// Every invariant any row judges, in the documented order.
fn invariant_columns(rows: &[Row]) -> Vec<&'static str> {
    INVARIANTS
        .iter()
        .copied()
        .filter(|n| {
            rows.iter()
                .any(|r| r.invariants.iter().any(|(m, _)| m == n))
        })
        .collect()
}

/// A CSV field, quoted when it must be (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One line per row after a header; an invariant that does not apply to a row (say,
/// agreement under a saga) is an empty field, as is a missing availability or node.
pub fn to_csv(rows: &[Row]) -> String {
    let keys: Vec<&str> = rows
        .first()
        .map(|r| r.params.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    let inv = invariant_columns(rows);
    let mut header: Vec<String> = keys.iter().map(|k| csv_field(k)).collect();
    header.extend(
        [
            "runs",
            "throughput_per_s",
            "latency_p50_ms",
            "latency_p99_ms",
            "availability",
            "busiest_node",
            "busiest_utilization",
        ]
        .map(String::from),
    );
    header.extend(inv.iter().map(|n| format!("broken_{n}")));
    header.push("expect_met".into());
    let mut out = header.join(",");
    out.push('\n');
    for r in rows {
        let mut f: Vec<String> = r
            .params
            .iter()
            .map(|(_, v)| csv_field(&spec::show(v)))
            .collect();
        f.push(r.runs.to_string());
        f.push(r.throughput_per_s.to_string());
        f.push(r.p50_ms.to_string());
        f.push(r.p99_ms.to_string());
        f.push(r.availability.map_or_else(String::new, |a| a.to_string()));
        f.push(
            r.busiest
                .as_ref()
                .map_or_else(String::new, |b| csv_field(&b.node)),
        );
        f.push(
            r.busiest
                .as_ref()
                .map_or_else(String::new, |b| b.utilization.to_string()),
        );
        for n in &inv {
            f.push(
                r.invariants
                    .iter()
                    .find(|(m, _)| m == n)
                    .map_or_else(String::new, |(_, b)| b.to_string()),
            );
        }
        f.push(r.expect_met.to_string());
        out.push_str(&f.join(","));
        out.push('\n');
    }
    out
}

/// The rows as a table for people.
pub fn to_text(scenario: &str, seeds: &Range<u64>, measured: Side, rows: &[Row]) -> String {
    let stale = rows.iter().any(|r| r.staleness_ms.is_some());
    let keys: Vec<&str> = rows
        .first()
        .map(|r| r.params.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    let mut head: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    head.extend(
        [
            "runs",
            "thr/s",
            "p50 ms",
            "p99 ms",
            "avail",
            "busiest",
            "broke (seeds)",
        ]
        .map(String::from),
    );
    if stale {
        head.insert(keys.len() + 4, "stale ms".into());
    }
    let mut table: Vec<Vec<String>> = vec![head];
    for r in rows {
        let mut line: Vec<String> = r.params.iter().map(|(_, v)| spec::show(v)).collect();
        line.push(r.runs.to_string());
        line.push(format!("{:.1}", r.throughput_per_s));
        line.push(format!("{:.1}", r.p50_ms));
        line.push(format!("{:.1}", r.p99_ms));
        if stale {
            line.push(r.staleness_ms.map_or("-".into(), |x| format!("{x:.1}")));
        }
        line.push(
            r.availability
                .map_or("-".into(), |a| format!("{:.1}%", 100.0 * a)),
        );
        line.push(r.busiest.as_ref().map_or("-".into(), |b| {
            format!("{} {:.0}%", b.node, 100.0 * b.utilization)
        }));
        let broke: Vec<String> = r
            .invariants
            .iter()
            .filter(|(_, b)| *b > 0)
            .map(|(n, b)| format!("{n} {b}"))
            .collect();
        let mut broke = if broke.is_empty() {
            "-".to_string()
        } else {
            broke.join(", ")
        };
        if !r.expect_met {
            broke.push_str("  (expect NOT met)");
        }
        if r.panicked > 0 {
            broke.push_str(&format!("  ({} panicked)", r.panicked));
        }
        line.push(broke);
        table.push(line);
    }
    let cols = table[0].len();
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            table
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "scenario   {scenario}\nseeds      {}..{} ({} per row); throughput and latency of the {}s",
        seeds.start,
        seeds.end,
        seeds.end - seeds.start,
        measured.name()
    );
    let _ = writeln!(t);
    for l in &table {
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(c, s)| {
                let pad = width[c] - s.chars().count();
                // Numbers right-aligned, words left; the last column unpadded.
                if c + 1 == cols {
                    s.clone()
                } else if c >= keys.len() && c < keys.len() + 5 + usize::from(stale) {
                    format!("{}{s}", " ".repeat(pad))
                } else {
                    format!("{s}{}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(t, "{}", cells.join("  ").trim_end());
    }
    let _ = writeln!(
        t,
        "\nlatency: the mean over seeds of each seed's percentile; busiest: the node with the highest mean utilization"
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(p: &str, broken: usize) -> Row {
        let v = spec::parse(&format!("write.protocol={p}")).unwrap();
        Row {
            params: vec![("write.protocol".into(), v.values[0].clone())],
            runs: 10,
            throughput_per_s: 12.5,
            p50_ms: 3.0,
            p99_ms: 9.5,
            staleness_ms: None,
            availability: None,
            busiest: Some(Busiest {
                node: "database".into(),
                utilization: 0.5,
            }),
            invariants: vec![("atomicity".into(), 0), ("isolation".into(), broken)],
            expect_met: true,
            panicked: 0,
        }
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_row() {
        let mut b = row("\"a,b\"", 2);
        b.invariants.insert(1, ("agreement".into(), 1));
        b.availability = Some(0.75);
        let csv = to_csv(&[row("saga", 3), b]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "write.protocol,runs,throughput_per_s,latency_p50_ms,latency_p99_ms,availability,busiest_node,busiest_utilization,broken_atomicity,broken_agreement,broken_isolation,expect_met"
        );
        assert_eq!(lines[1], "saga,10,12.5,3,9.5,,database,0.5,0,,3,true");
        assert_eq!(
            lines[2],
            "\"a,b\",10,12.5,3,9.5,0.75,database,0.5,0,1,2,true"
        );
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn json_has_the_documented_shape() {
        let j = to_json("x", Engine::Des, &(0..10), Side::Write, &[row("saga", 3)]);
        assert_eq!(j["format"], "sovlab-vary");
        assert_eq!(j["version"], 1);
        let r = &j["rows"][0];
        assert_eq!(r["params"]["write.protocol"], "saga");
        assert_eq!(r["runs"], 10);
        assert_eq!(r["latency_ms"]["p99"], 9.5);
        assert!(r["availability"].is_null());
        assert_eq!(r["busiest"]["node"], "database");
        assert_eq!(r["invariants"]["isolation"], 3);
    }

    #[test]
    fn the_table_names_what_broke() {
        let t = to_text(
            "x",
            &(0..10),
            Side::Write,
            &[row("saga", 3), row("two-phase-commit", 0)],
        );
        assert!(t.contains("isolation 3"), "{t}");
        let last = t
            .lines()
            .find(|l| l.starts_with("two-phase-commit"))
            .unwrap();
        assert!(last.ends_with("database 50%  -"), "{t}");
    }
}
