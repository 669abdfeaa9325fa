//! The two engines and the core's rules they share: local calls inside one node,
//! exact delivery times, and cross-checks that keep the discrete-event executor
//! honest against madsim, the reference (rates over many seeds, final stores, traces
//! that load back).

use crate::util::{root, scenario};
use sovlab_sim::testing::fixture::Fixture;
use sovlab_sim::trace::{EventKind, Trace};
use sovlab_sim::{run_with, Engine, RunOptions, Scenario};
use std::collections::BTreeMap;

/// An orchestrated saga whose coordinator runs on the `orders` node, on a lossy,
/// duplicating network.
pub(super) fn hosted(loss: f64, duplicate: f64, latency: [u64; 2]) -> Scenario {
    scenario(
        &Fixture::new("saga")
            .name("hosted")
            .head("duration_ms = 3000")
            .head(&format!(
                "[network]\nloss = {loss}\nduplicate = {duplicate}\nlatency_ms = [{}, {}]",
                latency[0], latency[1]
            ))
            .services(&["orders", "payments"])
            .service(1, "store = \"key-value\"")
            .set("coordinator", "\"orders\"")
            .set("transactions", 20)
            .set("concurrency", 3)
            .step(1, "amount = 5")
            .toml(),
    )
}

fn full(engine: Engine) -> RunOptions {
    RunOptions::default().on(engine)
}

/// (sender, message id) of a send; sends of one id from one node are one message.
type Key = (u16, u32);

/// Every send's time, and every delivery's time, by (sender, message id).
fn sends_and_deliveries(t: &Trace) -> (BTreeMap<Key, u64>, BTreeMap<Key, Vec<u64>>) {
    let mut sends = BTreeMap::new();
    let mut delivered: BTreeMap<Key, Vec<u64>> = BTreeMap::new();
    for e in &t.events {
        match &e.kind {
            EventKind::Send { msg, .. } => {
                sends.insert((e.node, msg.id), e.t_us);
            }
            EventKind::Deliver { from, msg } => {
                delivered.entry((*from, msg.id)).or_default().push(e.t_us)
            }
            _ => {}
        }
    }
    (sends, delivered)
}

#[test]
fn a_hosted_coordinator_talks_to_its_service_without_the_network() {
    for engine in Engine::ALL {
        let mut local = 0;
        for seed in 0..20 {
            let t = run_with(&hosted(0.3, 0.3, [2, 10]), seed, full(engine)).trace;
            let (sends, delivered) = sends_and_deliveries(&t);
            for e in &t.events {
                let (to, msg) = match &e.kind {
                    EventKind::Drop { to, msg, .. } | EventKind::Duplicate { to, msg } => {
                        (*to, msg)
                    }
                    _ => continue,
                };
                assert_ne!(
                    e.node, to,
                    "{engine} seed {seed}: a local message was lost or duplicated: {msg:?}"
                );
            }
            for e in &t.events {
                let EventKind::Send { to, msg } = &e.kind else {
                    continue;
                };
                if *to != e.node {
                    continue;
                }
                local += 1;
                let key = (e.node, msg.id);
                assert_eq!(
                    delivered.get(&key).map(Vec::as_slice),
                    Some(&[sends[&key]][..]),
                    "{engine} seed {seed}: a local message is delivered once, at once"
                );
            }
        }
        assert!(local > 100, "{engine}: only {local} local messages");
    }
}

#[test]
fn a_delivery_comes_exactly_at_send_time_plus_latency() {
    // [2, 2]: every network message takes exactly 2 ms; [0, 0]: the 1 ms floor;
    // [2, 10]: never more than 10 ms (the madsim clock once stamped 10 001 us).
    for (latency, lo, hi) in [
        ([2, 2], 2000, 2000),
        ([0, 0], 1000, 1000),
        ([2, 10], 2000, 10_000),
    ] {
        for engine in Engine::ALL {
            let mut seen = 0;
            for seed in 0..10 {
                let t = run_with(&hosted(0.0, 0.2, latency), seed, full(engine)).trace;
                let (sends, delivered) = sends_and_deliveries(&t);
                for (key, times) in &delivered {
                    let sent = sends[key];
                    for &at in times {
                        if at == sent {
                            continue; // local
                        }
                        seen += 1;
                        let d = at - sent;
                        assert!(
                            (lo..=hi).contains(&d),
                            "{engine} seed {seed} latency {latency:?}: delivered {d} us after its send"
                        );
                    }
                }
            }
            assert!(seen > 100, "{engine}: {seen} deliveries");
        }
    }
}

/// The catalogue, parsed.
fn catalogue() -> Vec<(String, Scenario)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), s));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// What one engine's runs of one scenario add up to.
#[derive(Default)]
struct Tally {
    runs: f64,
    /// Runs (of the first `EXPECT_SEEDS`) whose `[expect]` was met.
    expect_met: f64,
    sent: f64,
    dropped: f64,
    duplicated: f64,
    queries: f64,
    complete: f64,
    /// Runs that broke each invariant.
    broken: BTreeMap<String, f64>,
}

const EXPECT_SEEDS: u64 = 200;
const RATE_SEEDS: u64 = 500;

fn tally(s: &Scenario, engine: Engine) -> Tally {
    // Counters only, no hash: what a sweep pays.
    let opts = RunOptions {
        keep_events: sovlab_sim::check::needs_events(s),
        hash: false,
        engine,
        ..RunOptions::default()
    };
    let mut t = Tally::default();
    for seed in 0..RATE_SEEDS {
        let r = run_with(s, seed, opts);
        t.runs += 1.0;
        if seed < EXPECT_SEEDS && r.report.expect.met {
            t.expect_met += 1.0;
        }
        let m = r.report.messages;
        t.sent += m.sent as f64;
        t.dropped += m.dropped as f64;
        t.duplicated += m.duplicated as f64;
        if let Some(q) = &r.report.read {
            t.queries += f64::from(q.complete + q.partial + q.failed);
            t.complete += f64::from(q.complete);
        }
        for v in &r.verdicts {
            *t.broken.entry(v.name.clone()).or_default() += f64::from(u8::from(!v.holds));
        }
    }
    t
}

/// Two proportions agree within four standard errors of their difference (pooled).
fn agree(what: &str, (a, n): (f64, f64), (b, m): (f64, f64)) -> Result<(), String> {
    if n == 0.0 || m == 0.0 {
        return Ok(());
    }
    let p = (a + b) / (n + m);
    let se = (p * (1.0 - p) * (1.0 / n + 1.0 / m)).sqrt();
    let d = (a / n - b / m).abs();
    if d <= 4.0 * se + 1e-12 {
        Ok(())
    } else {
        Err(format!(
            "{what}: madsim {:.4} vs des {:.4} (n {n}, {m}); 4 s.e. = {:.4}",
            a / n,
            b / m,
            4.0 * se
        ))
    }
}

#[test]
fn every_catalogue_scenario_behaves_alike_on_both_engines() {
    // The suite's longest test (2 x 500 seeds of every catalogue scenario): its
    // scenarios are tallied on two threads, alternately, so it does not run alone on
    // one core at the suite's end. Each run is its own world; the order of the
    // problems found is the catalogue's.
    let cat = catalogue();
    let tallies: Vec<(Tally, Tally)> = std::thread::scope(|scope| {
        let half = |parity: usize| {
            let cat = &cat;
            scope.spawn(move || {
                cat.iter()
                    .enumerate()
                    .filter(|(i, _)| i % 2 == parity)
                    .map(|(i, (_, s))| (i, (tally(s, Engine::Madsim), tally(s, Engine::Des))))
                    .collect::<Vec<_>>()
            })
        };
        let (even, odd) = (half(0), half(1));
        let mut all: Vec<_> = even.join().unwrap();
        all.extend(odd.join().unwrap());
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, t)| t).collect()
    });
    let mut problems = Vec::new();
    for ((name, _), (a, b)) in cat.into_iter().zip(tallies) {
        let n = EXPECT_SEEDS as f64;
        let (ea, eb) = (a.expect_met / n, b.expect_met / n);
        if (ea - eb).abs() > 0.1 {
            problems.push(format!("{name}: expect met madsim {ea:.3} vs des {eb:.3}"));
        }
        let mut checks = vec![
            agree("loss", (a.dropped, a.sent), (b.dropped, b.sent)),
            agree(
                "duplication",
                (a.duplicated, a.sent),
                (b.duplicated, b.sent),
            ),
            agree(
                "completeness",
                (a.complete, a.queries),
                (b.complete, b.queries),
            ),
        ];
        for (inv, &broke) in &a.broken {
            let other = b.broken.get(inv).copied().unwrap_or(0.0);
            checks.push(agree(inv, (broke, a.runs), (other, b.runs)));
        }
        problems.extend(
            checks
                .into_iter()
                .filter_map(Result::err)
                .map(|e| format!("{name}: {e}")),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_loss_free_fixed_latency_run_ends_with_the_same_stores_on_both_engines() {
    let s = scenario(
        r#"
name = "calm"
duration_ms = 3000
[network]
latency_ms = [3, 3]
[[service]]
name = "orders"
[[service]]
name = "inventory"
store = "document"
capacity = 1000
[[service]]
name = "payments"
store = "key-value"
capacity = 100000
[write]
protocol = "saga"
transactions = 30
concurrency = 4
steps = [{ service = "orders" }, { service = "inventory", amount = 2 }, { service = "payments", amount = 7 }]
"#,
    );
    for seed in 0..5 {
        let a = run_with(&s, seed, full(Engine::Madsim));
        let b = run_with(&s, seed, full(Engine::Des));
        assert_eq!(a.report.write.as_ref().unwrap().committed, 30);
        assert_eq!(
            a.trace.final_stores, b.trace.final_stores,
            "seed {seed}: final stores differ"
        );
        assert_ne!(
            a.trace.hash, b.trace.hash,
            "two engines, two orders of events"
        );
    }
}

#[test]
fn des_traces_load_back_and_pass_the_same_checkers() {
    let dir = crate::util::tempdir("des-traces");
    for (name, s) in catalogue() {
        let r = run_with(&s, 3, full(Engine::Des));
        assert_eq!(r.trace.engine, Engine::Des);
        assert_eq!(r.report.engine, "des");
        let path = dir.join(&name).with_extension("jsonl");
        let mut out = Vec::new();
        r.trace.write_jsonl(&mut out).unwrap();
        std::fs::write(&path, out).unwrap();
        let back = sovlab_sim::trace_load::load_result(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.trace.engine, Engine::Des, "{name}");
        assert_eq!(back.trace.hash, r.trace.hash, "{name}");
        assert_eq!(back.verdicts, r.verdicts, "{name}");
    }
}

#[test]
fn the_engine_is_named_on_the_command_line_in_the_header_and_the_report() {
    let out = crate::util::sovlab(&["run", "checkout-saga", "--engine", "des", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["engine"], "des");
    let out = crate::util::sovlab(&["run", "checkout-saga", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["engine"], "madsim");
    let bad = crate::util::sovlab(&["run", "checkout-saga", "--engine", "tokio"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(bad.stdout.is_empty());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected \"madsim\" or \"des\""));
    let s =
        scenario(&std::fs::read_to_string(root().join("scenarios/checkout-saga.toml")).unwrap());
    let t = run_with(&s, 1, full(Engine::Des)).trace;
    let header: serde_json::Value = serde_json::from_str(&t.header_line()).unwrap();
    assert_eq!(header["engine"], "des");
}

/// A saga whose sends all fall on multiples of 5 ms (fixed latency, coordinator on
/// `orders`), with a certain loss window over [20, 40) ms on every link and a
/// partition of orders from payments over [60, 80) ms: sends happen at exactly
/// each fault's start and end, the very instants the supervisor's tick acts.
fn boundary_scenario() -> Scenario {
    scenario(
        r#"
name = "boundary"
duration_ms = 2000
[network]
latency_ms = [5, 5]
[[service]]
name = "orders"
[[service]]
name = "payments"
store = "key-value"
[write]
protocol = "saga"
coordinator = "orders"
transactions = 30
concurrency = 6
interval_ms = 5
steps = [{ service = "orders" }, { service = "payments", amount = 5 }]
[[fault]]
at_ms = 20
loss = 1.0
until_ms = 40
[[fault]]
at_ms = 60
partition = [["orders"], ["payments"]]
heal_ms = 80
"#,
    )
}

/// The fate of every network send at exactly `t_us` in `trace`, in trace order:
/// (sender, receiver, dropped and why). A local call (to itself) has none.
fn fates_at(trace: &Trace, t_us: u64) -> Vec<(u16, u16, Option<String>)> {
    let mut out = Vec::new();
    for (i, e) in trace.events.iter().enumerate() {
        let EventKind::Send { to, msg } = &e.kind else {
            continue;
        };
        if e.t_us != t_us || *to == e.node {
            continue;
        }
        // A drop, if any, is recorded right after its send, in the same call.
        let drop = trace.events.get(i + 1).and_then(|d| match &d.kind {
            EventKind::Drop {
                to: t,
                msg: m,
                reason,
            } if *t == *to && m.id == msg.id => Some(format!("{reason:?}")),
            _ => None,
        });
        out.push((e.node, *to, drop));
    }
    out
}

/// The boundary rule: a fault's window `[at, until)` covers a send at `t` iff
/// `at <= t < until`, whichever engine runs and whatever it ran first at that
/// instant. A send at exactly a window's start is lost, one at exactly its end is
/// not, on both engines and every seed (which messages are sent then may differ
/// between engines, their fates by the rule may not).
#[test]
fn a_send_at_a_faults_exact_start_or_end_has_one_fate_on_both_engines() {
    let s = boundary_scenario();
    let instants = [
        (20_000, Some("Loss")),
        (40_000, None),
        (60_000, Some("Partition")),
        (80_000, None),
    ];
    let mut seen = [[0usize; 4]; 2];
    for seed in 1..=20 {
        for (e, engine) in Engine::ALL.into_iter().enumerate() {
            let t = run_with(&s, seed, full(engine)).trace;
            for (k, (at, want)) in instants.iter().enumerate() {
                let f = fates_at(&t, *at);
                for (from, to, got) in &f {
                    // The partition cuts orders from payments only (the client and
                    // orders keep talking).
                    let cut = *at != 60_000 || (*from != 0 && *to != 0);
                    let want = if cut { want.map(str::to_string) } else { None };
                    assert_eq!(
                        got, &want,
                        "seed {seed}, {engine}: a send {from}->{to} at exactly {at} us"
                    );
                }
                seen[e][k] += f.len();
            }
        }
    }
    // The test means something only if sends do fall on the boundaries.
    assert!(
        seen.iter().flatten().all(|&n| n > 0),
        "sends at the boundaries, madsim then des: {seen:?}"
    );
}
