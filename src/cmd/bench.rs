//! `sovlab bench`: throughput as ratios to raw madsim, measured in one process.
//!
//! The figures and how to read them: docs/performance.md. Peak memory is measured in
//! a child process (this binary, re-run with a hidden flag) so that the parent's own
//! allocations do not count and `VmHWM` starts from a fresh process.

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use sovlab_sim::bench;
use sovlab_sim::{RunOptions, Scenario};
use std::process::ExitCode;

/// The catalogue scenario the sweep figure is measured on.
const SWEEP_SCENARIO: &str = include_str!("../../scenarios/shared-db-crash.toml");

/// How much to measure.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    round_trips: u64,
    engine_seeds: u64,
    /// Each engine measurement runs at least this long (wall seconds).
    engine_secs: f64,
    sweep_seeds: u64,
    /// Each throughput is the best of this many tries: on a shared machine the
    /// best try is the one least disturbed by other processes.
    repeats: usize,
}

const FULL: Sizes = Sizes {
    round_trips: 300_000,
    engine_seeds: 4,
    engine_secs: 0.6,
    sweep_seeds: 2_000,
    repeats: 3,
};
const QUICK: Sizes = Sizes {
    round_trips: 100_000,
    engine_seeds: 1,
    engine_secs: 0.15,
    sweep_seeds: 400,
    repeats: 1,
};

/// Events in the peak-memory run.
const RSS_EVENTS: u64 = 1_000_000;

/// A run cut short with most of its transactions in flight: as many violations as
/// the checkers will ever meet per event (`check_ns_per_event`). Two steps, like the
/// large run of docs/performance.md, scaled down.
fn many_violations(quick: bool) -> Scenario {
    let (transactions, events) = if quick {
        (20_000, 100_000)
    } else {
        (100_000, 500_000)
    };
    let text = format!(
        r#"
name = "bench checking, many violations"
[[service]]
name = "orders"
[[service]]
name = "payments"
[write]
protocol = "saga"
transactions = {transactions}
concurrency = {concurrency}
steps = [{{ service = "orders" }}, {{ service = "payments" }}]
[limits]
max_events = {events}
"#,
        concurrency = transactions / 10
    );
    Scenario::parse(&text, "<bench>").expect("the bench scenario is valid")
}

/// A 3-service business transaction under `protocol`, with network `loss`.
fn three_services(protocol: &str, loss: f64, transactions: u32) -> Scenario {
    let text = format!(
        r#"
name = "bench {protocol} loss {loss}"
duration_ms = 20000
[network]
loss = {loss}
latency_ms = [1, 10]
[[service]]
name = "orders"
[[service]]
name = "inventory"
store = "document"
[[service]]
name = "payments"
store = "key-value"
[write]
protocol = "{protocol}"
transactions = {transactions}
concurrency = 4
steps = [
  {{ service = "orders" }},
  {{ service = "inventory", amount = 2, reject = 0.05 }},
  {{ service = "payments", amount = 30, reject = 0.05 }},
]
"#
    );
    Scenario::parse(&text, "<bench>").expect("the bench scenarios are valid")
}

/// `s` with every service taking an exponential 0.5 ms per message: the queue model
/// on, at a load it keeps up with, for `queue_ns_per_event`.
fn timed(mut s: Scenario) -> Scenario {
    for svc in &mut s.services {
        svc.service_time_ms = 0.5;
        svc.service_dist = sovlab_sim::scenario::ServiceDist::Exponential;
    }
    s.name.push_str(", timed");
    s
}

/// The scenario of the peak-memory run: runs until the event limit stops it.
fn million_events() -> Scenario {
    let mut s = three_services("shared-database", 0.02, 1_000_000);
    s.duration_ms = 3_600_000;
    s.limits.max_events = RSS_EVENTS;
    s
}

/// `sovlab bench --rss-child`: one 1 000 000-event run keeping its full trace, then
/// prints `VmHWM` (kB) before and after on stdout.
pub fn rss_child() -> Result<ExitCode> {
    let before = bench::peak_rss_kb().context("no /proc/self/status here")?;
    let r = sovlab_sim::run(&million_events(), 1);
    std::hint::black_box(&r.report);
    let after = bench::peak_rss_kb().context("no /proc/self/status here")?;
    println!("{before} {after} {}", r.trace.event_count);
    Ok(ExitCode::SUCCESS)
}

fn measure_rss() -> Result<(f64, f64, u64)> {
    let exe = std::env::current_exe().context("cannot find the sovlab binary")?;
    let out = std::process::Command::new(exe)
        .args(["bench", "--rss-child"])
        .output()
        .context("cannot run the peak-memory child")?;
    if !out.status.success() {
        bail!(
            "the peak-memory child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<u64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let [before, after, events] = v[..] else {
        bail!("the peak-memory child printed {text:?}");
    };
    Ok((after as f64 / 1024.0, before as f64 / 1024.0, events))
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// Runs every measurement and prints the figures.
pub fn bench(json_out: bool, quick: bool, seed: u64) -> Result<ExitCode> {
    let sizes = if quick { QUICK } else { FULL };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Seed and options first (TigerBeetle VOPR style), so a run can be repeated.
    eprintln!(
        "sovlab bench seed={seed} quick={quick} threads={threads} round_trips={} \
         engine_seeds={} engine_secs={} sweep_seeds={} rss_events={RSS_EVENTS} build={}",
        sizes.round_trips,
        sizes.engine_seeds,
        sizes.engine_secs,
        sizes.sweep_seeds,
        if cfg!(debug_assertions) {
            "dev"
        } else {
            "release"
        }
    );
    let mut m = Map::new();
    m.insert("seed".into(), json!(seed));
    m.insert("quick".into(), json!(quick));
    m.insert("threads".into(), json!(threads));
    m.insert("round_trips".into(), json!(sizes.round_trips));
    m.insert("engine_seeds".into(), json!(sizes.engine_seeds));
    m.insert("engine_secs".into(), json!(sizes.engine_secs));
    m.insert("sweep_seeds".into(), json!(sizes.sweep_seeds));
    m.insert(
        "build".into(),
        json!(if cfg!(debug_assertions) {
            "dev"
        } else {
            "release"
        }),
    );

    // Warm up caches and the allocator so the first figure is not penalized.
    bench::raw_madsim(sizes.round_trips / 10, seed);
    let counters = RunOptions::counters_only();
    let full = RunOptions::default();
    let des = counters.on(sovlab_sim::Engine::Des);
    let cases: [(&str, Scenario, RunOptions); 10] = [
        // The discrete-event executor on the `saga` case: `des_ratio`.
        ("des", three_services("saga", 0.0, 200), des),
        ("saga", three_services("saga", 0.0, 200), counters),
        ("saga_loss", three_services("saga", 0.05, 200), counters),
        (
            "two_pc",
            three_services("two-phase-commit", 0.0, 200),
            counters,
        ),
        (
            "two_pc_loss",
            three_services("two-phase-commit", 0.05, 200),
            counters,
        ),
        (
            "shared_db",
            three_services("shared-database", 0.0, 200),
            counters,
        ),
        (
            "shared_db_loss",
            three_services("shared-database", 0.05, 200),
            counters,
        ),
        (
            "shared_db_full_trace",
            three_services("shared-database", 0.0, 200),
            full,
        ),
        // The `saga` and `des` cases with service time: the queue model's cost.
        ("queue", timed(three_services("saga", 0.0, 200)), counters),
        ("queue_des", timed(three_services("saga", 0.0, 200)), des),
    ];
    // Best of `repeats` tries, wall and CPU each; the baseline's tries interleave
    // with the engine's so that a disturbance hits both alike.
    let (mut baseline, mut baseline_cpu) = (0f64, 0f64);
    let mut best = vec![(0f64, 0f64, 0f64); cases.len()];
    for _ in 0..sizes.repeats {
        let r = bench::raw_madsim(sizes.round_trips, seed);
        baseline = baseline.max(r.per_s());
        baseline_cpu = baseline_cpu.max(r.per_cpu_s());
        for (i, (_, s, opts)) in cases.iter().enumerate() {
            let r = bench::engine(s, seed, sizes.engine_seeds, sizes.engine_secs, *opts);
            let events_per_s = r.events as f64 / r.delivered.secs.max(1e-9);
            let (wall, cpu, events) = &mut best[i];
            if r.delivered.per_s() > *wall {
                (*wall, *events) = (r.delivered.per_s(), events_per_s);
            }
            *cpu = cpu.max(r.delivered.per_cpu_s());
        }
    }
    m.insert("baseline_msgs_per_s".into(), json!(baseline.round()));
    m.insert(
        "baseline_msgs_per_cpu_s".into(),
        json!(baseline_cpu.round()),
    );
    for ((key, _, _), (wall, cpu, events)) in cases.iter().zip(&best) {
        m.insert(format!("{key}_msgs_per_s"), json!(wall.round()));
        m.insert(format!("{key}_ratio"), json!(round(wall / baseline, 3)));
        m.insert(format!("{key}_events_per_s"), json!(events.round()));
        // The same ratio over CPU time: steady when other processes take the CPU.
        m.insert(format!("{key}_msgs_per_cpu_s"), json!(cpu.round()));
        m.insert(
            format!("{key}_ratio_cpu"),
            json!(round(cpu / baseline_cpu.max(1e-9), 3)),
        );
    }

    // The queue model per event: the timed case against the same scenario untimed, on
    // each engine, in this process (ns per event, and the ratio of events per second).
    for (timed_key, plain_key, out) in [
        ("queue", "saga", "queue"),
        ("queue_des", "des", "queue_des"),
    ] {
        let events = |k: &str| {
            cases
                .iter()
                .position(|(key, _, _)| *key == k)
                .map_or(0.0, |i| best[i].2)
        };
        let (t, p) = (events(timed_key), events(plain_key));
        if t > 0.0 && p > 0.0 {
            m.insert(
                format!("{out}_ns_per_event"),
                json!(round(1e9 / t - 1e9 / p, 1)),
            );
            m.insert(format!("{out}_event_ratio"), json!(round(t / p, 3)));
        }
    }

    // `des_ratio` is over CPU time, steady on a shared machine (`des_ratio_wall`: wall).
    if let (Some(wall), Some(cpu)) = (m.get("des_ratio").cloned(), m.get("des_ratio_cpu").cloned())
    {
        m.insert("des_ratio_wall".into(), wall);
        m.insert("des_ratio".into(), cpu);
    }

    let sweep_scenario = Scenario::parse(SWEEP_SCENARIO, "scenarios/shared-db-crash.toml")
        .expect("the catalogue parses");
    bench::sweep(&sweep_scenario, sizes.sweep_seeds / 10, 1);
    let (mut one, mut all) = (bench::SweepRate::default(), bench::SweepRate::default());
    for _ in 0..sizes.repeats {
        let r = bench::sweep(&sweep_scenario, sizes.sweep_seeds, 1);
        if r.wall.per_s() > one.wall.per_s() {
            one = r;
        }
        let r = bench::sweep(&sweep_scenario, sizes.sweep_seeds, threads);
        if r.wall.per_s() > all.wall.per_s() {
            all = r;
        }
    }
    let (one_s, all_s) = (one.wall.per_s(), all.wall.per_s());
    // The same sweep on the DES, in this process, right after: `des_sweep_ratio`.
    let mut des_one = bench::SweepRate::default();
    for _ in 0..sizes.repeats {
        let r = bench::sweep_on(
            &sweep_scenario,
            sizes.sweep_seeds,
            1,
            sovlab_sim::Engine::Des,
        );
        if r.wall.per_s() > des_one.wall.per_s() {
            des_one = r;
        }
    }
    let des_one_s = des_one.wall.per_s();
    m.insert("des_sweep_seeds_per_s_1".into(), json!(des_one_s.round()));
    m.insert(
        "des_sweep_ratio".into(),
        json!(round(des_one_s / one_s.max(1e-9), 2)),
    );
    // Exhaustive exploration of the lesson scenario explore-2pc-no-log, on one core.
    let text = crate::catalogue::entries()
        .iter()
        .find(|(stem, _)| *stem == "explore-2pc-no-log")
        .map(|(_, t)| *t)
        .context("the catalogue has explore-2pc-no-log")?;
    let lesson = Scenario::parse(text, "explore-2pc-no-log.toml").map_err(super::BadScenario)?;
    let x = bench::explore(&lesson);
    m.insert(
        "explore_executions_per_s".into(),
        json!((x.executions as f64 / x.secs.max(1e-9)).round()),
    );
    m.insert(
        "explore_states_per_s".into(),
        json!((x.states as f64 / x.secs.max(1e-9)).round()),
    );
    m.insert("sweep_seeds_per_s_1".into(), json!(one_s.round()));
    m.insert("sweep_seeds_per_s_all".into(), json!(all_s.round()));
    m.insert(
        "sweep_scaling".into(),
        json!(round(all_s / one_s.max(1e-9), 2)),
    );
    // On a shared machine the kernel may not give this process every core (Linux
    // autogroup shares the CPU per session): say how many it had, and how much CPU
    // a seed costs alone and in parallel (equal costs: no contention between runs).
    m.insert(
        "sweep_cores_used_all".into(),
        json!(round(all.cores_used(), 2)),
    );
    let per_seed = |r: &bench::SweepRate| r.cpu_secs / r.wall.count.max(1) as f64;
    m.insert(
        "sweep_cpu_us_per_seed_1".into(),
        json!((per_seed(&one) * 1e6).round()),
    );
    m.insert(
        "sweep_cpu_us_per_seed_all".into(),
        json!((per_seed(&all) * 1e6).round()),
    );

    let kept = sovlab_sim::run_with(&sweep_scenario, seed, full);
    let (mem, jsonl) = bench::trace_bytes_per_event(&kept.trace);
    m.insert("trace_bytes_per_event_mem".into(), json!(round(mem, 1)));
    m.insert("trace_bytes_per_event_jsonl".into(), json!(round(jsonl, 1)));
    m.insert(
        "event_size_of".into(),
        json!(std::mem::size_of::<sovlab_sim::trace::Event>()),
    );

    let c = bench::checking(&many_violations(quick), seed, sizes.repeats);
    m.insert(
        "check_ns_per_event".into(),
        json!(round(c.ns_per_event(), 1)),
    );
    m.insert("check_run_events".into(), json!(c.events));
    m.insert("check_run_violations".into(), json!(c.violations));

    let (peak, start, events) = measure_rss()?;
    m.insert("peak_rss_mb_1m_events".into(), json!(round(peak, 1)));
    m.insert("rss_mb_at_start".into(), json!(round(start, 1)));
    m.insert("rss_run_events".into(), json!(events));

    if json_out {
        println!("{}", Value::Object(m));
    } else {
        for (k, v) in &m {
            println!("{k:<34} {v}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
