//! Loading a saved JSONL trace (docs/reference/trace-format.md) back into a [`Trace`].
//!
//! A viewer opens a trace without re-running anything (docs/architecture.md: nothing downstream of
//! the trace re-runs logic): the header carries the scenario as TOML, from which the
//! nodes and stores are laid out again; every event line is parsed back into an
//! [`Event`]; the final stores are the replay of the recorded writes. Bad input is an
//! error naming the line, never a panic.

use crate::check;
use crate::exec::Engine;
use crate::msg::{Msg, MsgKind, NodeIx};
use crate::patterns;
use crate::read::ReadResult;
use crate::scenario::Scenario;
use crate::store::{RejectReason, Snapshot, Write};
use crate::trace::{
    Counters, DropReason, Event, EventKind, Fnv64, Local, StopReason, Trace,
    OLDEST_READABLE_VERSION, TRACE_VERSION,
};
use crate::{report, RunResult};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::path::Path;

/// A trace that could not be loaded: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", if *line > 0 { format!(":{line}") } else { String::new() })]
pub struct TraceError {
    /// The file (or a label).
    pub file: String,
    /// 1-based line; 0 when the file could not be read at all.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads and parses a trace file.
pub fn load(path: &Path) -> Result<Trace, TraceError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| TraceError {
        file: file.clone(),
        line: 0,
        message: format!("cannot read the file: {e}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        TraceError {
            file: file.clone(),
            line,
            message: "the file is not valid UTF-8".into(),
        }
    })?;
    parse(&text, &file)
}

/// Loads a trace file and judges it: verdicts and report, as a run would give.
pub fn load_result(path: &Path) -> Result<RunResult, TraceError> {
    Ok(judge(load(path)?))
}

/// Verdicts and report of a loaded trace.
pub fn judge(trace: Trace) -> RunResult {
    let verdicts = check::check_all(&trace);
    let report = report::build(&trace, &verdicts);
    RunResult {
        trace,
        verdicts,
        report,
    }
}

/// Parses JSONL trace text; `file` labels errors.
pub fn parse(text: &str, file: &str) -> Result<Trace, TraceError> {
    let err = |line: usize, message: String| TraceError {
        file: file.to_string(),
        line,
        message,
    };
    let mut lines = text.split_inclusive('\n');
    let header = lines.next().ok_or_else(|| {
        err(
            1,
            "the file is empty; expected a sovlab trace header".into(),
        )
    })?;
    let header: Value =
        serde_json::from_str(header).map_err(|e| err(1, format!("the header is not JSON: {e}")))?;
    let h = header
        .as_object()
        .ok_or_else(|| err(1, "the header is not a JSON object".into()))?;
    if h.get("format").and_then(Value::as_str) != Some("sovlab-trace") {
        return Err(err(
            1,
            "not a sovlab trace (format is not \"sovlab-trace\")".into(),
        ));
    }
    match h.get("version").and_then(Value::as_u64) {
        Some(v) if (u64::from(OLDEST_READABLE_VERSION)..=u64::from(TRACE_VERSION)).contains(&v) => {}
        other => {
            return Err(err(
                1,
                format!(
                "unsupported trace version {other:?}; this sovlab reads versions {OLDEST_READABLE_VERSION} to {TRACE_VERSION}"
            ),
            ))
        }
    }
    let toml = h.get("scenario_toml").and_then(Value::as_str).ok_or_else(|| {
        err(
            1,
            "the header has no scenario_toml (an older trace); re-run the scenario with `sovlab run --trace`".into(),
        )
    })?;
    // Older versions wrote keys that do not apply to the protocol (a saga's
    // `coordinator_log`): they meant nothing then either, so they are dropped.
    let toml = crate::scenario::without_inapplicable_keys(toml);
    let scenario = Scenario::parse(&toml, "scenario_toml")
        .map_err(|e| err(1, format!("the scenario in the header is invalid: {e}")))?;
    let seed = h
        .get("seed")
        .and_then(Value::as_u64)
        .ok_or_else(|| err(1, "the header has no seed".into()))?;
    let layout = patterns::layout(&scenario);
    if let Some(nodes) = h.get("nodes").and_then(Value::as_array) {
        let names: Vec<&str> = nodes.iter().filter_map(Value::as_str).collect();
        if names
            != layout
                .node_names
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        {
            return Err(err(
                1,
                "the header's nodes do not match its scenario (written by another sovlab version?)"
                    .into(),
            ));
        }
    }

    let cx = Cx {
        nodes: &layout.node_names,
        stores: &layout.store_names,
    };
    let mut events = Vec::new();
    let mut hash = Fnv64::default();
    let mut counters = Counters::default();
    let mut final_stores: Vec<Snapshot> = layout
        .stores
        .iter()
        .map(|s| Snapshot::new(s.capacity))
        .collect();
    for (i, raw) in lines.enumerate() {
        let line_no = i + 2;
        if raw.trim().is_empty() {
            continue;
        }
        let e = parse_event(raw, events.len() as u64, &cx).map_err(|m| err(line_no, m))?;
        // docs/reference/trace-format.md: the hash covers each event line with its trailing newline.
        hash.write(raw.trim_end_matches('\n').as_bytes());
        hash.write(b"\n");
        match &e.kind {
            EventKind::Send { .. } => counters.sent += 1,
            EventKind::Deliver { .. } => counters.delivered += 1,
            EventKind::Drop { .. } => counters.dropped += 1,
            EventKind::Duplicate { .. } => counters.duplicated += 1,
            EventKind::Local { store, writes, .. } => {
                let s = &mut final_stores[usize::from(*store)];
                for w in writes.iter() {
                    s.apply(w);
                }
            }
            _ => {}
        }
        events.push(e);
    }
    // Traces written before engines existed were madsim's.
    let engine = match h.get("engine") {
        None => Engine::Madsim,
        Some(v) => v.as_str().and_then(Engine::from_name).ok_or_else(|| {
            err(
                1,
                format!("unknown engine {v} in the header; expected \"madsim\" or \"des\""),
            )
        })?,
    };
    let last_t = events.last().map_or(0, |e| e.t_us);
    let end_us = h.get("end_us").and_then(Value::as_u64).unwrap_or(last_t);
    let stop = h
        .get("stop")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_else(|| match events.last().map(|e| &e.kind) {
            Some(EventKind::Limit { what }) => StopReason::Limit(what.clone()),
            _ => StopReason::Duration,
        });
    // The node cost measures, when the run had any (absent in older traces and in
    // runs without a service time: none).
    let costs = match h.get("costs") {
        None => Default::default(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| err(1, format!("the header's costs are not node measures: {e}")))?,
    };
    Ok(Trace {
        scenario,
        seed,
        nodes: layout.nodes,
        stores: layout.stores,
        event_count: events.len() as u64,
        hash: hash.finish(),
        counters,
        end_us,
        stop,
        final_stores,
        engine,
        costs,
        writes: crate::cost::WriteTally::of_events(&events),
        events,
    })
}

/// Names of the run, to turn names back into indices.
struct Cx<'a> {
    nodes: &'a [String],
    stores: &'a [String],
}

impl Cx<'_> {
    fn node(&self, m: &Map<String, Value>, key: &str) -> Result<NodeIx, String> {
        let name = str_field(m, key)?;
        node_ix(self.nodes, name)
    }
}

fn node_ix(nodes: &[String], name: &str) -> Result<NodeIx, String> {
    nodes
        .iter()
        .position(|n| n == name)
        .map(|i| i as NodeIx)
        .ok_or_else(|| format!("unknown node {name:?}"))
}

fn field<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a Value, String> {
    m.get(key).ok_or_else(|| format!("missing field {key:?}"))
}

fn str_field<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    field(m, key)?
        .as_str()
        .ok_or_else(|| format!("field {key:?} is not a string"))
}

fn u64_field(m: &Map<String, Value>, key: &str) -> Result<u64, String> {
    field(m, key)?
        .as_u64()
        .ok_or_else(|| format!("field {key:?} is not a non-negative integer"))
}

/// An integer field that the writer omits when it is zero.
fn opt_u64(m: &Map<String, Value>, key: &str) -> Result<u64, String> {
    if m.contains_key(key) {
        u64_field(m, key)
    } else {
        Ok(0)
    }
}

fn narrow<T: TryFrom<u64>>(v: u64, key: &str) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("field {key:?} is out of range"))
}

fn i64_field(m: &Map<String, Value>, key: &str) -> Result<i64, String> {
    field(m, key)?
        .as_i64()
        .ok_or_else(|| format!("field {key:?} is not an integer"))
}

fn bool_field(m: &Map<String, Value>, key: &str) -> Result<bool, String> {
    field(m, key)?
        .as_bool()
        .ok_or_else(|| format!("field {key:?} is not true or false"))
}

fn typed<T: DeserializeOwned>(m: &Map<String, Value>, key: &str) -> Result<T, String> {
    serde_json::from_value(field(m, key)?.clone()).map_err(|e| format!("field {key:?}: {e}"))
}

fn txn_step(m: &Map<String, Value>) -> Result<(u32, u16), String> {
    Ok((
        narrow(opt_u64(m, "txn")?, "txn")?,
        narrow(opt_u64(m, "step")?, "step")?,
    ))
}

fn msg(m: &Map<String, Value>) -> Result<Msg, String> {
    let kind = str_field(m, "msg")?;
    let kind = MsgKind::ALL
        .into_iter()
        .find(|k| k.name() == kind)
        .ok_or_else(|| format!("unknown message kind {kind:?}"))?;
    let (txn, step) = txn_step(m)?;
    Ok(Msg {
        id: narrow(u64_field(m, "id")?, "id")?,
        kind,
        txn,
        step,
        ok: bool_field(m, "ok")?,
        value: if m.contains_key("value") {
            i64_field(m, "value")?
        } else {
            0
        },
        re: narrow(opt_u64(m, "re")?, "re")?,
        at_us: opt_u64(m, "at_us")?,
    })
}

fn link(m: &Map<String, Value>, cx: &Cx) -> Result<Option<(NodeIx, NodeIx)>, String> {
    match m.get("link") {
        None => Ok(None),
        Some(v) => {
            let pair: [String; 2] =
                serde_json::from_value(v.clone()).map_err(|e| format!("field \"link\": {e}"))?;
            Ok(Some((
                node_ix(cx.nodes, &pair[0])?,
                node_ix(cx.nodes, &pair[1])?,
            )))
        }
    }
}

fn parse_event(raw: &str, seq: u64, cx: &Cx) -> Result<Event, String> {
    let v: Value = serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))?;
    let m = v.as_object().ok_or("an event must be a JSON object")?;
    let got = u64_field(m, "seq")?;
    if got != seq {
        return Err(format!(
            "seq is {got}, expected {seq} (events must be consecutive)"
        ));
    }
    let t_us = u64_field(m, "t_us")?;
    let node = cx.node(m, "node")?;
    let kind_name = str_field(m, "kind")?;
    let local = |what: Local| -> Result<EventKind, String> {
        let store_name = str_field(m, "store")?;
        let store = cx
            .stores
            .iter()
            .position(|s| s == store_name)
            .ok_or_else(|| format!("unknown store {store_name:?}"))?;
        let (txn, step) = txn_step(m)?;
        let writes: Vec<Write> = typed(m, "writes")?;
        Ok(EventKind::Local {
            what,
            store: narrow(store as u64, "store")?,
            txn,
            step,
            writes: writes.into(),
        })
    };
    let kind = match kind_name {
        "send" => EventKind::Send {
            to: cx.node(m, "to")?,
            msg: msg(m)?,
        },
        "duplicate" => EventKind::Duplicate {
            to: cx.node(m, "to")?,
            msg: msg(m)?,
        },
        "deliver" => EventKind::Deliver {
            from: cx.node(m, "from")?,
            msg: msg(m)?,
        },
        "drop" => EventKind::Drop {
            to: cx.node(m, "to")?,
            msg: msg(m)?,
            reason: match str_field(m, "reason")? {
                "loss" => DropReason::Loss,
                "partition" => DropReason::Partition,
                "down" => DropReason::Down,
                other => return Err(format!("unknown drop reason {other:?}")),
            },
        },
        "timer" => EventKind::Timer {
            timer: u64_field(m, "timer")?,
        },
        "commit" => local(Local::Commit)?,
        "abort" => local(Local::Abort)?,
        "compensate" => local(Local::Compensate)?,
        "prepare" => local(Local::Prepare)?,
        "log" => local(Local::Log)?,
        "reject" => {
            let (txn, step) = txn_step(m)?;
            EventKind::Reject {
                txn,
                step,
                reason: typed::<RejectReason>(m, "reason")?,
                available: i64_field(m, "available")?,
                needed: i64_field(m, "needed")?,
            }
        }
        "vote" => {
            let (txn, step) = txn_step(m)?;
            EventKind::Vote {
                txn,
                step,
                yes: bool_field(m, "yes")?,
            }
        }
        "decide" => EventKind::Decide {
            txn: narrow(u64_field(m, "txn")?, "txn")?,
            commit: bool_field(m, "commit")?,
        },
        "outcome" => EventKind::Outcome {
            txn: narrow(u64_field(m, "txn")?, "txn")?,
            committed: bool_field(m, "committed")?,
        },
        "submit" => EventKind::Submit {
            txn: narrow(u64_field(m, "txn")?, "txn")?,
        },
        "crash" => EventKind::Crash,
        "restart" => EventKind::Restart,
        "heal" => EventKind::Heal,
        "partition" => {
            let groups: Vec<Vec<String>> = typed(m, "groups")?;
            let groups = groups
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|n| node_ix(cx.nodes, n))
                        .collect::<Result<Box<[NodeIx]>, String>>()
                })
                .collect::<Result<Box<[Box<[NodeIx]>]>, String>>()?;
            EventKind::Partition { groups }
        }
        "loss-start" => EventKind::LossStart {
            p: field(m, "p")?
                .as_f64()
                .ok_or("field \"p\" is not a number")?,
            link: link(m, cx)?,
        },
        "loss-end" => EventKind::LossEnd { link: link(m, cx)? },
        "read" => EventKind::Read {
            query: narrow(u64_field(m, "query")?, "query")?,
            txn: narrow(u64_field(m, "txn")?, "txn")?,
            result: typed::<ReadResult>(m, "result")?,
            latency_us: u64_field(m, "latency_us")?,
        },
        "view-applied" => {
            let (txn, step) = txn_step(m)?;
            EventKind::ViewApplied {
                txn,
                step,
                staleness_us: u64_field(m, "staleness_us")?,
            }
        }
        "lock-wait" => {
            let (txn, step) = txn_step(m)?;
            EventKind::LockWait {
                txn,
                step,
                row: narrow(u64_field(m, "row")?, "row")?,
            }
        }
        "lock" => {
            let (txn, step) = txn_step(m)?;
            EventKind::Lock {
                txn,
                step,
                row: narrow(u64_field(m, "row")?, "row")?,
                waited_us: u64_field(m, "waited_us")?,
                got: bool_field(m, "got")?,
            }
        }
        "limit" => EventKind::Limit {
            what: str_field(m, "what")?.to_string(),
        },
        "relay" => {
            let (txn, step) = txn_step(m)?;
            EventKind::Relay {
                txn,
                step,
                offset: u64_field(m, "offset")?,
            }
        }
        other => return Err(format!("unknown event kind {other:?}")),
    };
    Ok(Event { t_us, node, kind })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture::Fixture;

    /// A scenario using every store kind, a lossy network and each kind of fault.
    fn scenario_toml() -> String {
        Fixture::new("shared-database")
            .name("loader test")
            .head("duration_ms = 2000")
            .head("[network]\nlatency_ms = [1, 5]\nloss = 0.05\nduplicate = 0.05")
            .services(&["orders", "inventory", "payments", "ledger"])
            .service(1, "store = \"document\"\ncapacity = 500")
            .service(2, "store = \"key-value\"")
            .service(3, "store = \"event-log\"")
            .set("transactions", 20)
            .set("concurrency", 2)
            .step(1, "amount = 2, reject = 0.2")
            .section("[[fault]]\nat_ms = 30\ncrash = \"database\"\nrestart_ms = 50")
            .section("[[fault]]\nat_ms = 10\npartition = [[\"coordinator\"], [\"database\", \"client\"]]\nheal_ms = 20")
            .section("[[fault]]\nat_ms = 5\nloss = 0.3\nuntil_ms = 40\nlink = [\"coordinator\", \"database\"]")
            .toml()
    }

    fn jsonl(t: &Trace) -> String {
        let mut out = Vec::new();
        t.write_jsonl(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_written_trace_loads_back_the_same() {
        let s = Scenario::parse(&scenario_toml(), "t.toml").unwrap();
        let run = crate::run(&s, 3);
        let text = jsonl(&run.trace);
        let back = parse(&text, "t.jsonl").unwrap();
        assert!(run.trace.events.len() > 100);
        assert_eq!(back.events, run.trace.events);
        assert_eq!(back.hash, run.trace.hash);
        assert_eq!(back.counters, run.trace.counters);
        assert_eq!(back.final_stores, run.trace.final_stores);
        assert_eq!(back.end_us, run.trace.end_us);
        assert_eq!(back.stop, run.trace.stop);
        assert_eq!(back.nodes, run.trace.nodes);
        assert_eq!(back.scenario, run.trace.scenario);
        assert_eq!(judge(back).report, run.report);
        // Every fault kind went through the round trip.
        for k in [
            "crash",
            "restart",
            "partition",
            "heal",
            "loss-start",
            "loss-end",
            "drop",
        ] {
            assert!(text.contains(&format!("\"kind\":\"{k}\"")), "{k} missing");
        }
    }

    #[test]
    fn version_1_traces_still_load_and_later_versions_do_not() {
        let s = Scenario::parse(&scenario_toml(), "t.toml").unwrap();
        let run = crate::run(&s, 2);
        let text = jsonl(&run.trace);
        let v2 = format!("\"version\":{TRACE_VERSION}");
        assert!(
            text.lines().next().unwrap().contains(&v2),
            "written as version 2"
        );
        let v1 = text.replacen(&v2, "\"version\":1", 1);
        assert_eq!(parse(&v1, "old.jsonl").unwrap().events, run.trace.events);
        let v3 = text.replacen(&v2, "\"version\":3", 1);
        let e = parse(&v3, "new.jsonl").unwrap_err();
        assert!(
            e.message.contains("unsupported trace version"),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_old_trace_with_a_key_that_does_not_apply_still_loads() {
        let saga = Fixture::new("saga")
            .name("old saga")
            .head("duration_ms = 500")
            .services(&["orders", "payments"])
            .set("transactions", 5)
            .step(1, "reject = 0.3")
            .toml();
        let planted = saga.replace("[write]\n", "[write]\ncoordinator_log = false\n");
        assert!(
            Scenario::parse(&planted, "t.toml").is_err(),
            "a scenario file may not carry the key"
        );
        let s = Scenario::parse(&saga, "t.toml").unwrap();
        let run = crate::run(&s, 4);
        let text = jsonl(&run.trace);
        let mut header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let toml = header["scenario_toml"].as_str().unwrap().to_string();
        assert!(!toml.contains("coordinator_log"), "written without it now");
        // As an older version wrote it: the key under [write].
        let old = toml.replacen("[write]\n", "[write]\ncoordinator_log = false\n", 1);
        assert_ne!(old, toml, "the key was planted");
        header["scenario_toml"] = Value::String(old);
        let body: String = text.split_inclusive('\n').skip(1).collect();
        let back = parse(&format!("{header}\n{body}"), "old.jsonl").expect("accepted");
        assert_eq!(back.events, run.trace.events);
        assert_eq!(back.scenario, run.trace.scenario);
    }

    #[test]
    fn bad_traces_are_errors_with_line_numbers() {
        let s = Scenario::parse(&scenario_toml(), "t.toml").unwrap();
        let text = jsonl(&crate::run(&s, 1).trace);
        let mut lines: Vec<&str> = text.lines().collect();
        let e = parse("", "x").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(parse("{\"format\":\"other\"}\n", "x")
            .unwrap_err()
            .message
            .contains("not a sovlab"));
        lines[3] = "{\"seq\": 2, \"t_us\": 0}";
        let e = parse(&lines.join("\n"), "x").unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (4, "x"));
        lines[3] = "not json";
        assert_eq!(parse(&lines.join("\n"), "x").unwrap_err().line, 4);
        // Mutated: bytes overwritten, lines dropped or repeated: an error or a trace,
        // never a panic.
        let bytes = text.as_bytes();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..400 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut m = bytes.to_vec();
            let at = (x % m.len() as u64) as usize;
            let alphabet = b"{}[]\":,09ae\n x";
            m[at] = alphabet[(x >> 32) as usize % alphabet.len()];
            let _ = parse(&String::from_utf8_lossy(&m), "x");
            let mut ls: Vec<&str> = text.lines().collect();
            // Not the last line: dropping it leaves a shorter, valid trace.
            let i = 1 + (x >> 8) as usize % (ls.len() - 2);
            if x.is_multiple_of(2) {
                ls.remove(i);
            } else {
                ls.insert(i, ls[i]);
            }
            assert!(parse(&ls.join("\n"), "x").is_err(), "seq gaps are errors");
        }
        // Truncated at any byte: an error or a shorter trace, never a panic.
        for cut in (0..text.len()).step_by(97) {
            let _ = parse(&text[..cut], "x");
        }
    }
}
