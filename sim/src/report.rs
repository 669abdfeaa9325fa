//! The outcome summary of one run: docs/reference/cli.md, `run` as JSON, and the same for people.

use crate::check::{self, Outcome, Verdict};
use crate::scenario::Scenario;
use crate::trace::{Counters, StopReason, Trace};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Latency percentiles in virtual milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `samples_us`, in ms rounded to 0.1.
    pub fn of(samples_us: &mut [u64]) -> Latency {
        if samples_us.is_empty() {
            return Latency::default();
        }
        samples_us.sort_unstable();
        let rank = |p: f64| {
            let i = ((p * samples_us.len() as f64).ceil() as usize).clamp(1, samples_us.len());
            ms(samples_us[i - 1])
        };
        Latency {
            p50: rank(0.50),
            p99: rank(0.99),
            max: ms(*samples_us.last().expect("not empty")),
        }
    }
}

fn ms(us: u64) -> f64 {
    (us as f64 / 100.0).round() / 10.0
}

/// The `write` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteReport {
    /// Protocol name.
    pub protocol: String,
    /// Business transactions in the scenario.
    pub transactions: u32,
    /// Applied at every step.
    pub committed: u32,
    /// Applied at no step.
    pub aborted: u32,
    /// Anything else.
    pub unfinished: u32,
    /// How many aborted transactions each cause explains; adds up to `aborted`
    /// (see [`crate::abort_cause`]).
    #[serde(default)]
    pub aborted_by: indexmap_like::OrderedMap<u32>,
    /// From the client's submit to the system's answer reaching it (also when the
    /// client had given up waiting: not capped at its patience).
    pub latency_ms: Latency,
    /// Committed transactions per virtual second, between the first submission and
    /// the later of the last outcome and the last commit (0 when nothing committed).
    #[serde(default)]
    pub throughput_per_s: f64,
    /// Share of submitted transactions whose outcome the client heard within
    /// `[write] deadline_ms` (null without a deadline).
    #[serde(default)]
    pub availability: Option<f64>,
    /// How long steps waited for a locked row (only when some service has `keys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_wait_ms: Option<Latency>,
}

impl WriteReport {
    /// The non-zero causes of `aborted_by`, e.g. "5 rule, 2 timeout" with `sep` ", ".
    pub fn causes_in_words(&self, sep: &str) -> String {
        let parts: Vec<String> = self
            .aborted_by
            .0
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{n} {c}"))
            .collect();
        parts.join(sep)
    }
}

/// The `read` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadReport {
    /// Method name.
    pub method: String,
    /// Queries in the scenario.
    pub queries: u32,
    /// Every source answered.
    pub complete: u32,
    /// Some sources answered.
    pub partial: u32,
    /// None answered.
    pub failed: u32,
    /// Longest a read view lagged behind a source commit.
    pub max_staleness_ms: f64,
    /// From query to answer.
    pub latency_ms: Latency,
    /// Complete queries per virtual second, between the first query and the last
    /// answer (0 when none was complete).
    #[serde(default)]
    pub throughput_per_s: f64,
}

/// One invariant's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvariantReport {
    /// Held over the whole run.
    pub holds: bool,
    /// How many violations.
    pub violations: u64,
    /// One violation in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// The trace event where the example broke.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_seq: Option<u64>,
    /// Where the state was first seen wrong: the victim's event (the same as `at_seq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_seq: Option<u64>,
    /// Which faults the example needs and why ([`crate::why`]); filled by
    /// [`Report::explain`], absent from a report that did not look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub because: Option<crate::why::Because>,
}

/// Whether one `[[fault]]` struck in this run, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultReport {
    /// Its index in the scenario's `[[fault]]` list, file order.
    pub index: usize,
    /// It struck: its time came, or its trigger matched.
    pub fired: bool,
    /// When it struck, in virtual ms (0.1 ms precision).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<f64>,
    /// Its trigger in words, when `after` places it (absent: placed at a time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

/// The `expect` section: the scenario's lists, and whether this run met them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectReport {
    /// Invariants the scenario expects to hold.
    #[serde(default)]
    pub holds: Vec<String>,
    /// Invariants the scenario expects this run to break.
    #[serde(default)]
    pub violated: Vec<String>,
    /// Invariants expected broken on some seed of a sweep: a run does not judge them.
    #[serde(default)]
    pub sometimes: Vec<String>,
    /// Every expectation a run judges met (true when there are none).
    pub met: bool,
    /// The unmet ones, in words.
    pub failures: Vec<String>,
}

/// The report of one run (docs/reference/cli.md, `run`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// The scenario's file stem (or catalogue name), when the caller knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Seed.
    pub seed: u64,
    /// The executor that ran it (`madsim` or `des`).
    pub engine: String,
    /// FNV-1a 64 of the trace's event lines.
    pub trace_hash: String,
    /// Number of trace events.
    pub events: u64,
    /// Virtual time at the end.
    pub virtual_ms: u64,
    /// Why the run ended: "quiescent", "duration", or the limit reached.
    pub stopped: String,
    /// Message counters.
    pub messages: Counters,
    /// Write-side outcomes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write: Option<WriteReport>,
    /// Read-side outcomes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<ReadReport>,
    /// The cost of every node that has a service time, by node name (empty when none has).
    #[serde(default)]
    pub nodes: indexmap_like::OrderedMap<crate::cost::NodeCost>,
    /// Each `[[fault]]`, in file order: did it strike, and when (absent: no faults).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultReport>,
    /// Every invariant that applies, in the documented order.
    pub invariants: indexmap_like::OrderedMap<InvariantReport>,
    /// Whether the scenario's `expect` was met.
    pub expect: ExpectReport,
}

/// A string-keyed map that keeps insertion order in JSON (the documented order).
pub mod indexmap_like {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Ordered (key, value) pairs serialized as a JSON object.
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct OrderedMap<V>(pub Vec<(String, V)>);

    impl<V> OrderedMap<V> {
        /// The value under `key`.
        pub fn get(&self, key: &str) -> Option<&V> {
            self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
        }
    }

    impl<V: Serialize> Serialize for OrderedMap<V> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }

    impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let m = serde_json::Map::deserialize(d)?;
            m.into_iter()
                .map(|(k, v)| Ok((k, V::deserialize(v).map_err(serde::de::Error::custom)?)))
                .collect::<Result<Vec<_>, D::Error>>()
                .map(OrderedMap)
        }
    }
}

/// Write-side latencies: client submit to the system's answer reaching the client,
/// per transaction (from the run's tally, so a counters-only run has them).
fn write_latencies(trace: &Trace) -> Vec<u64> {
    trace.writes.latencies_us.clone()
}

/// Builds the report of `trace` from its verdicts.
pub fn build(trace: &Trace, verdicts: &[Verdict]) -> Report {
    let s: &Scenario = &trace.scenario;
    let write = s.write.as_ref().map(|w| {
        let outcomes = check::outcomes(trace);
        let count = |o: Outcome| outcomes.iter().filter(|(_, x)| *x == o).count() as u32;
        let committed_txns = outcomes
            .iter()
            .filter(|(_, o)| *o == Outcome::Committed)
            .map(|(t, _)| *t);
        let (span, heard) = crate::cost::write_times(trace, committed_txns);
        let committed = count(Outcome::Committed);
        let keys = s.services.iter().any(|x| x.keys.is_some());
        WriteReport {
            protocol: w.protocol.name().to_string(),
            transactions: w.transactions,
            committed,
            aborted: count(Outcome::Aborted),
            unfinished: count(Outcome::Unfinished),
            aborted_by: crate::abort_cause::aborted_by(trace),
            latency_ms: Latency::of(&mut write_latencies(trace)),
            throughput_per_s: span.map_or(0.0, |(a, b)| crate::cost::per_second(committed, a, b)),
            availability: w.deadline_ms.map(|d| crate::cost::availability(&heard, d)),
            lock_wait_ms: keys.then(|| Latency::of(&mut crate::cost::lock_waits_us(trace))),
        }
    });
    let read = s.read.as_ref().map(|r| crate::read::report(trace, r));
    let failures = check::expect_failures(s, verdicts);
    let e = s.expect.clone().unwrap_or_default();
    Report {
        scenario: s.name.clone(),
        file: None,
        seed: trace.seed,
        engine: trace.engine.name().to_string(),
        trace_hash: trace.hash_hex(),
        events: trace.event_count,
        virtual_ms: trace.end_us / 1000,
        stopped: match &trace.stop {
            StopReason::Quiescent => "quiescent".into(),
            StopReason::Duration => "duration".into(),
            StopReason::Limit(what) => format!("limit: {what}"),
        },
        messages: trace.counters,
        write,
        read,
        nodes: trace.costs.clone(),
        faults: fault_reports(trace),
        invariants: indexmap_like::OrderedMap(
            verdicts
                .iter()
                .map(|v| {
                    (
                        v.name.clone(),
                        InvariantReport {
                            holds: v.holds,
                            violations: v.violations,
                            example: v.example.clone(),
                            at_seq: v.at_seq,
                            detected_seq: v.at_seq,
                            because: None,
                        },
                    )
                })
                .collect(),
        ),
        expect: ExpectReport {
            holds: e.holds,
            violated: e.violated,
            sometimes: e.sometimes,
            met: failures.is_empty(),
            failures,
        },
    }
}

/// Each fault's [`FaultReport`], from the trace ([`crate::exec::faults::struck`]).
fn fault_reports(trace: &Trace) -> Vec<FaultReport> {
    crate::exec::faults::struck(trace)
        .into_iter()
        .zip(&trace.scenario.faults)
        .enumerate()
        .map(|(index, (at, f))| FaultReport {
            index,
            fired: at.is_some(),
            at_ms: at.map(ms),
            trigger: f.after.as_ref().map(trigger_words),
        })
        .collect()
}

/// A trigger in words: "the 2nd deliver of a vote for txn 3 at coordinator".
pub fn trigger_words(a: &crate::scenario::After) -> String {
    let nth = match a.count {
        1 => String::new(),
        n => format!("{} ", ordinal(n)),
    };
    let msg = a
        .msg
        .as_ref()
        .map_or(String::new(), |m| format!(" of {} {m}", article(m)));
    let txn = a.txn.map_or(String::new(), |t| format!(" for txn {t}"));
    format!("the {nth}{}{msg}{txn} at {}", a.event, a.node)
}

/// "an" before a vowel ("an ack", "an abort"), else "a" ("a vote").
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

impl Report {
    /// Does this run model cost (a service time, a deadline or hot rows)? Only then
    /// does the text show throughput.
    pub fn models_cost(&self) -> bool {
        !self.nodes.0.is_empty()
            || self
                .write
                .as_ref()
                .is_some_and(|w| w.availability.is_some() || w.lock_wait_ms.is_some())
    }

    /// Attaches each broken invariant's explanation (see [`crate::why::explain`]).
    pub fn explain(&mut self, because: Vec<(String, crate::why::Because)>) {
        for (name, b) in because {
            if let Some((_, v)) = self.invariants.0.iter_mut().find(|(n, _)| *n == name) {
                v.because = Some(b);
            }
        }
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "scenario   {}", self.scenario);
        let _ = writeln!(
            t,
            "seed       {}   trace {}   {} events   {} ms virtual ({})",
            self.seed, self.trace_hash, self.events, self.virtual_ms, self.stopped
        );
        let m = &self.messages;
        let _ = writeln!(
            t,
            "messages   {} sent, {} delivered, {} dropped, {} duplicated",
            m.sent, m.delivered, m.dropped, m.duplicated
        );
        if let Some(w) = &self.write {
            let _ = writeln!(
                t,
                "write      {}: {} transactions: {} committed, {} aborted, {} unfinished",
                w.protocol, w.transactions, w.committed, w.aborted, w.unfinished
            );
            let l = w.latency_ms;
            let _ = writeln!(
                t,
                "           latency p50 {} ms, p99 {} ms, max {} ms",
                l.p50, l.p99, l.max
            );
            if w.aborted > 0 {
                let _ = writeln!(t, "           aborted by {}", w.causes_in_words(", "));
            }
            // Cost lines only where the scenario models cost: the text of every
            // scenario without it stays as it was.
            if self.models_cost() {
                let _ = write!(t, "           throughput {:.1}/s", w.throughput_per_s);
                if let Some(a) = w.availability {
                    let _ = write!(t, ", availability {:.1} %", a * 100.0);
                }
                if let Some(l) = w.lock_wait_ms {
                    let _ = write!(
                        t,
                        ", lock wait p50 {} ms, p99 {} ms, max {} ms",
                        l.p50, l.p99, l.max
                    );
                }
                let _ = writeln!(t);
            }
        }
        if let Some(r) = &self.read {
            let _ = writeln!(
                t,
                "read       {}: {} queries: {} complete, {} partial, {} failed; max staleness {} ms",
                r.method, r.queries, r.complete, r.partial, r.failed, r.max_staleness_ms
            );
            let l = r.latency_ms;
            let _ = writeln!(
                t,
                "           latency p50 {} ms, p99 {} ms, max {} ms",
                l.p50, l.p99, l.max
            );
            if self.models_cost() {
                let _ = writeln!(t, "           throughput {:.1}/s", r.throughput_per_s);
            }
        }
        for (name, c) in &self.nodes.0 {
            let _ = writeln!(
                t,
                "node       {name}: utilization {:.1} %, queue mean {:.2}, max {}, wait p50 {} ms, p99 {} ms, max {} ms",
                c.utilization * 100.0,
                c.queue_mean,
                c.queue_max,
                c.wait_ms.p50,
                c.wait_ms.p99,
                c.wait_ms.max
            );
        }
        for f in &self.faults {
            // Only what a reader could not take for granted: a trigger's moment, or a
            // fault that never struck.
            match (&f.trigger, f.at_ms) {
                (Some(after), Some(at)) => {
                    let _ = writeln!(
                        t,
                        "fault {:<4} fired at {at} ms, right after {after}",
                        f.index
                    );
                }
                (Some(after), None) => {
                    let _ = writeln!(
                        t,
                        "fault {:<4} never fired: its trigger ({after}) never matched",
                        f.index
                    );
                }
                (None, None) => {
                    let _ = writeln!(
                        t,
                        "fault {:<4} never fired: the run ended before its at_ms",
                        f.index
                    );
                }
                (None, Some(_)) => {}
            }
        }
        let _ = writeln!(t, "invariants");
        for (name, v) in &self.invariants.0 {
            let mark = if v.holds { "holds " } else { "BROKEN" };
            let _ = write!(t, "  {mark} {name:<17}");
            if !v.holds {
                // A break the scenario predicts is its lesson, not a failure.
                if self.expect.violated.contains(name) || self.expect.sometimes.contains(name) {
                    let _ = write!(t, " (expected)");
                }
                let _ = write!(t, " {} violation(s)", v.violations);
                if let Some(at) = v.at_seq {
                    let _ = write!(t, ", first at event {at}");
                }
                if let Some(ex) = &v.example {
                    let _ = write!(t, "\n         e.g. {ex}");
                }
                if let Some(b) = &v.because {
                    let _ = write!(t, "\n         because {}", b.story);
                }
            }
            let _ = writeln!(t);
        }
        if !self.expect.sometimes.is_empty() {
            let _ = writeln!(
                t,
                "sometimes  {}: judged over a sweep (`sovlab sweep FILE --seeds 0..1000`), not by one run",
                self.expect.sometimes.join(", ")
            );
        }
        if self.expect.met {
            let _ = writeln!(t, "expect     met");
        } else {
            let _ = writeln!(t, "expect     NOT met");
            for f in &self.expect.failures {
                let _ = writeln!(t, "  - {f}");
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use crate::Scenario;

    #[test]
    fn an_expected_break_is_marked_and_sometimes_is_left_to_a_sweep() {
        let text = include_str!("../../scenarios/saga-duplicates-not-idempotent.toml");
        let s = Scenario::parse(text, "x.toml").unwrap();
        let r = crate::run(&s, s.seed_or(None)).report;
        assert_eq!(r.expect.violated, ["conservation"]);
        assert_eq!(r.expect.sometimes, ["atomicity", "termination"]);
        let t = r.to_text();
        assert!(t.contains("BROKEN conservation      (expected)"), "{t}");
        assert!(
            t.contains("sometimes  atomicity, termination: judged over a sweep"),
            "{t}"
        );
        let json = serde_json::to_value(&r).unwrap();
        let keys: Vec<&String> = json["expect"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["holds", "violated", "sometimes", "met", "failures"]);
        // A break nobody predicted is not marked.
        let mut none = s.clone();
        none.expect = None;
        let t = crate::run(&none, 1).report.to_text();
        assert!(
            t.contains("BROKEN conservation") && !t.contains("(expected)"),
            "{t}"
        );
    }

    #[test]
    fn a_trigger_reads_as_english() {
        let after = |msg: &str, count| crate::scenario::After {
            node: "coordinator".into(),
            event: "deliver".into(),
            msg: Some(msg.into()),
            txn: Some(3),
            count,
        };
        assert_eq!(
            super::trigger_words(&after("vote", 2)),
            "the 2nd deliver of a vote for txn 3 at coordinator"
        );
        assert_eq!(
            super::trigger_words(&after("ack", 1)),
            "the deliver of an ack for txn 3 at coordinator"
        );
    }
}
