//! `sovlab export`: a run as a space-time diagram (SVG or a Mermaid sequence diagram).
//!
//! Both formats draw the same [`Diagram`]: a window of the trace's events, each send
//! paired with what became of it (delivered, maybe twice; dropped, and why; still in
//! flight when the window ends), the fault periods, and the invariant violations.

mod mermaid;
mod svg;

use super::load;
use crate::output::{same_file, write_atomic};
use anyhow::{bail, Result};
use sovlab_sim::msg::{Msg, MsgId, MsgKind, NodeIx};
use sovlab_sim::trace::{DropReason, Event, EventKind, Trace};
use sovlab_sim::Verdict;
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::process::ExitCode;

/// What the user asked for.
pub struct Request<'a> {
    /// The executor.
    pub engine: sovlab_sim::Engine,
    /// The scenario file or catalogue name.
    pub file: &'a Path,
    /// Seed (default: the scenario's, else 0).
    pub seed: Option<u64>,
    /// SVG output path.
    pub svg: Option<&'a Path>,
    /// Mermaid output path.
    pub mermaid: Option<&'a Path>,
    /// First event drawn (`--from`); with `from_ms`, none: the default window.
    pub from: Option<u64>,
    /// First virtual millisecond drawn (`--from-ms`).
    pub from_ms: Option<u64>,
    /// Most events drawn.
    pub events: u64,
    /// Overwrite outputs.
    pub force: bool,
}

/// Runs the scenario and writes the requested diagrams.
pub fn export(req: Request<'_>) -> Result<ExitCode> {
    if req.svg.is_none() && req.mermaid.is_none() {
        bail!("say where to write: --svg PATH and/or --mermaid PATH");
    }
    if req.events == 0 {
        bail!("--events must be at least 1");
    }
    if let (Some(a), Some(b)) = (req.svg, req.mermaid) {
        if a == b {
            bail!("--svg and --mermaid name the same file, {}", a.display());
        }
    }
    for out in [req.svg, req.mermaid].into_iter().flatten() {
        if same_file(out, req.file) {
            bail!("{} would overwrite the scenario file", out.display());
        }
    }
    let scenario = load(req.file)?;
    let seed = scenario.seed_or(req.seed);
    let r = sovlab_sim::run_on(&scenario, seed, req.engine);
    let total = r.trace.events.len() as u64;
    let (from, why) = match (req.from, req.from_ms) {
        (Some(_), Some(_)) => bail!("say --from or --from-ms, not both"),
        (Some(q), None) => {
            if q >= total.max(1) {
                bail!(
                    "--from {q}: the run has only {total} events (0..{})",
                    total.saturating_sub(1)
                );
            }
            (q, format!("from event {q} (--from)"))
        }
        (None, Some(ms)) => {
            let Some(q) = r.trace.events.iter().position(|e| e.t_us >= ms * 1000) else {
                bail!(
                    "--from-ms {ms}: the run ends at {} ms",
                    r.trace.end_us / 1000
                );
            };
            (q as u64, format!("from {ms} ms, event {q} (--from-ms)"))
        }
        (None, None) => default_window(&r.trace, &r.verdicts, req.events),
    };
    // Which fault each broken invariant needs: re-runs without faults, only when
    // something broke and the scenario has faults.
    let opts = sovlab_sim::RunOptions::default().on(req.engine);
    let causes = sovlab_sim::why::explain(&scenario, seed, opts, &r)
        .into_iter()
        .filter_map(|(name, b)| b.cause_seq.map(|q| (name, q)))
        .collect();
    let d = Diagram::new(&r.trace, &r.verdicts, from, req.events)
        .because(why)
        .with_causes(causes);
    if let Some(p) = req.svg {
        let text = svg::render(&d);
        write_atomic(p, req.force, |w| w.write_all(text.as_bytes()))?;
    }
    if let Some(p) = req.mermaid {
        let text = mermaid::render(&d);
        write_atomic(p, req.force, |w| w.write_all(text.as_bytes()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// How a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Delivered at event `seq` (a duplicate gives a send two of these).
    Delivered(u64),
    /// Dropped at event `seq`.
    Dropped(u64, DropReason),
}

/// One send and its fate(s).
#[derive(Debug, Clone)]
pub struct Arrow {
    /// The send event.
    pub seq: u64,
    /// Sender.
    pub from: NodeIx,
    /// Receiver.
    pub to: NodeIx,
    /// The message.
    pub msg: Msg,
    /// Deliveries and drops, in order; empty: still in flight when the run ended.
    pub ends: Vec<End>,
    /// The network made a second copy.
    pub duplicated: bool,
}

/// A period: a crash (one node), a partition or a loss window (everyone).
#[derive(Debug, Clone)]
pub struct Period {
    /// The node, for a crash.
    pub node: Option<NodeIx>,
    /// First event of the period.
    pub from: u64,
    /// Last event (the restart / heal / window end), or `None`: to the end.
    pub to: Option<u64>,
    /// What it is, in words.
    pub label: String,
    /// Which kind: "crash", "partition" or "loss".
    pub kind: &'static str,
}

/// Everything either format draws.
pub struct Diagram<'a> {
    /// The run.
    pub trace: &'a Trace,
    /// Its verdicts.
    pub verdicts: &'a [Verdict],
    /// The window: events `from..to`.
    pub from: u64,
    /// End of the window (excluded).
    pub to: u64,
    /// Every send, in order (not only the window's).
    pub arrows: Vec<Arrow>,
    /// Fault periods, in order of their start.
    pub periods: Vec<Period>,
    /// Why the window starts where it does, in words.
    pub why: String,
    /// The cause of each broken invariant the report explained: (invariant, the
    /// decisive fault's event), so the SVG can flag it and join it to the victim.
    pub causes: Vec<(String, u64)>,
}

/// Events of context drawn before the event a default window is about.
const CONTEXT: u64 = 20;

/// Where a window starts when the user does not say, and why: just before the first
/// violation (or before the fault that precedes it, when both fit in the window), else
/// just before the first fault, else at event 0. Event 0 of a run that broke is rarely
/// where its story is.
pub fn default_window(trace: &Trace, verdicts: &[Verdict], events: u64) -> (u64, String) {
    let first_v = verdicts
        .iter()
        .filter(|v| !v.holds)
        .filter_map(|v| v.at_seq.map(|q| (q, v.name.as_str())))
        .min();
    let first_f = trace
        .events
        .iter()
        .position(|e| e.kind.is_fault())
        .map(|q| q as u64);
    let before = |q: u64| q.saturating_sub(CONTEXT);
    match (first_v, first_f) {
        (Some((v, name)), Some(f)) if f <= v && v - f + 2 * CONTEXT <= events => (
            before(f),
            format!(
                "just before the first fault (event {f}) and the first violation it leads to ({name} at event {v})"
            ),
        ),
        (Some((v, name)), _) => (
            before(v),
            format!("just before the first violation ({name} at event {v})"),
        ),
        (None, Some(f)) => (
            before(f),
            format!("just before the first fault (event {f}); nothing broke"),
        ),
        (None, None) => (0, "at the start: no fault, nothing broke".into()),
    }
}

impl<'a> Diagram<'a> {
    /// Pairs sends with their fates over the whole trace, and finds the fault periods.
    pub fn new(trace: &'a Trace, verdicts: &'a [Verdict], from: u64, events: u64) -> Self {
        let total = trace.events.len() as u64;
        let to = from.saturating_add(events).min(total);
        Diagram {
            trace,
            verdicts,
            from,
            to,
            arrows: pair_messages(&trace.events),
            periods: periods(trace),
            why: format!("from event {from}"),
            causes: Vec::new(),
        }
    }

    /// The same diagram with the causes of its broken invariants (`because.cause_seq`).
    pub fn with_causes(mut self, causes: Vec<(String, u64)>) -> Self {
        self.causes = causes;
        self
    }

    /// The same diagram, its window explained by `why`.
    pub fn because(mut self, why: String) -> Self {
        self.why = why;
        self
    }

    /// The window in words: "events 126..525 of 807, starting just before ...".
    pub fn window_words(&self) -> String {
        format!(
            "events {}..{} of {}, {}",
            self.from,
            self.to.saturating_sub(1),
            self.trace.events.len(),
            self.why
        )
    }

    /// Fault periods that began before the window and are still on at its start.
    pub fn ongoing(&self) -> impl Iterator<Item = &Period> + '_ {
        self.periods
            .iter()
            .filter(|p| p.from < self.from && p.to.is_none_or(|t| t >= self.from))
    }

    /// The events of the window with their seq.
    pub fn window(&self) -> impl Iterator<Item = (u64, &'a Event)> + '_ {
        let t = self.trace;
        (self.from..self.to).map(move |s| (s, &t.events[s as usize]))
    }

    /// Is event `seq` drawn?
    pub fn shows(&self, seq: u64) -> bool {
        (self.from..self.to).contains(&seq)
    }

    /// Node `ix`'s name.
    pub fn name(&self, ix: NodeIx) -> &str {
        self.trace.node_name(ix)
    }

    /// The violations, as (invariant, seq, example), in the documented order.
    pub fn violations(&self) -> Vec<(&str, Option<u64>, &str)> {
        self.verdicts
            .iter()
            .filter(|v| !v.holds)
            .map(|v| {
                (
                    v.name.as_str(),
                    v.at_seq,
                    v.example.as_deref().unwrap_or(""),
                )
            })
            .collect()
    }
}

/// Every send with what became of it. Resends reuse a message id, so a fate goes to
/// the oldest unfinished send with the same sender, receiver and id.
/// Sends waiting for a fate, by (from, to, id): indices into the arrows, oldest first,
/// each with how many copies it still has coming.
type Open = BTreeMap<(NodeIx, NodeIx, MsgId), VecDeque<(usize, u8)>>;

fn pair_messages(events: &[Event]) -> Vec<Arrow> {
    let mut arrows: Vec<Arrow> = Vec::new();
    let mut open: Open = BTreeMap::new();
    for (seq, e) in events.iter().enumerate() {
        let seq = seq as u64;
        match &e.kind {
            EventKind::Send { to, msg } => {
                open.entry((e.node, *to, msg.id))
                    .or_default()
                    .push_back((arrows.len(), 1));
                arrows.push(Arrow {
                    seq,
                    from: e.node,
                    to: *to,
                    msg: *msg,
                    ends: vec![],
                    duplicated: false,
                });
            }
            EventKind::Duplicate { to, msg } => {
                if let Some(q) = open.get_mut(&(e.node, *to, msg.id)) {
                    if let Some(last) = q.back_mut() {
                        last.1 += 1;
                        arrows[last.0].duplicated = true;
                    }
                }
            }
            EventKind::Deliver { from, msg } => {
                finish(
                    &mut open,
                    &mut arrows,
                    (*from, e.node, msg.id),
                    End::Delivered(seq),
                );
            }
            EventKind::Drop { to, msg, reason } => {
                finish(
                    &mut open,
                    &mut arrows,
                    (e.node, *to, msg.id),
                    End::Dropped(seq, *reason),
                );
            }
            _ => {}
        }
    }
    arrows
}

fn finish(open: &mut Open, arrows: &mut [Arrow], key: (NodeIx, NodeIx, MsgId), end: End) {
    let Some(q) = open.get_mut(&key) else { return };
    let Some(front) = q.front_mut() else { return };
    arrows[front.0].ends.push(end);
    front.1 -= 1;
    if front.1 == 0 {
        q.pop_front();
    }
}

/// Crash-to-restart per node, partition-to-heal and loss windows.
fn periods(trace: &Trace) -> Vec<Period> {
    let mut out: Vec<Period> = Vec::new();
    let mut down: BTreeMap<NodeIx, usize> = BTreeMap::new();
    let mut parts: VecDeque<usize> = VecDeque::new();
    let mut losses: Vec<(Option<(NodeIx, NodeIx)>, usize)> = Vec::new();
    let name = |ix: NodeIx| trace.node_name(ix).to_string();
    for (seq, e) in trace.events.iter().enumerate() {
        let seq = seq as u64;
        match &e.kind {
            EventKind::Crash => {
                down.insert(e.node, out.len());
                out.push(Period {
                    node: Some(e.node),
                    from: seq,
                    to: None,
                    label: format!("{} down", name(e.node)),
                    kind: "crash",
                });
            }
            EventKind::Restart => {
                if let Some(i) = down.remove(&e.node) {
                    out[i].to = Some(seq);
                }
            }
            EventKind::Partition { groups } => {
                let g: Vec<String> = groups
                    .iter()
                    .map(|g| g.iter().map(|n| name(*n)).collect::<Vec<_>>().join(", "))
                    .collect();
                parts.push_back(out.len());
                out.push(Period {
                    node: None,
                    from: seq,
                    to: None,
                    label: format!("partition [{}]", g.join("] | [")),
                    kind: "partition",
                });
            }
            EventKind::Heal => {
                if let Some(i) = parts.pop_front() {
                    out[i].to = Some(seq);
                }
            }
            EventKind::LossStart { p, link } => {
                losses.push((*link, out.len()));
                let on = match link {
                    Some((a, b)) => format!(" on {} - {}", name(*a), name(*b)),
                    None => String::new(),
                };
                out.push(Period {
                    node: None,
                    from: seq,
                    to: None,
                    label: format!("loss {:.0}%{on}", p * 100.0),
                    kind: "loss",
                });
            }
            EventKind::LossEnd { link } => {
                if let Some(pos) = losses.iter().position(|(l, _)| l == link) {
                    let (_, i) = losses.remove(pos);
                    out[i].to = Some(seq);
                }
            }
            _ => {}
        }
    }
    out
}

/// A short description of an event that is not a message (None: not drawn).
pub fn describe(e: &Event) -> Option<String> {
    Some(match &e.kind {
        EventKind::Local {
            what, txn, step, ..
        } => {
            if *txn == 0 {
                what.name().to_string()
            } else {
                format!("{} t{txn}.{step}", what.name())
            }
        }
        EventKind::Reject {
            txn, step, reason, ..
        } => format!("reject t{txn}.{step} ({})", reject_words(*reason)),
        EventKind::Vote { txn, yes, .. } => {
            format!("vote {} t{txn}", if *yes { "yes" } else { "no" })
        }
        EventKind::Decide { txn, commit } => {
            format!("decide {} t{txn}", if *commit { "commit" } else { "abort" })
        }
        EventKind::Outcome { txn, committed } => format!(
            "outcome t{txn}: {}",
            if *committed { "committed" } else { "failed" }
        ),
        EventKind::Submit { txn } => format!("submit t{txn}"),
        EventKind::Crash => "CRASH".into(),
        EventKind::Restart => "restart".into(),
        // The name every screen gives a read ("read 7"), its result in plain words.
        EventKind::Read { query, result, .. } => format!(
            "{}: {}",
            sovlab_tui::describe::read_label(*query),
            sovlab_tui::describe::read_result(result)
        ),
        EventKind::ViewApplied { txn, step, .. } => format!("view t{txn}.{step}"),
        EventKind::LockWait { txn, step, row } => format!("wait row {row} t{txn}.{step}"),
        EventKind::Lock {
            txn,
            step,
            row,
            got,
            ..
        } => {
            let what = if *got { "lock" } else { "no lock" };
            format!("{what} row {row} t{txn}.{step}")
        }
        EventKind::Limit { what } => format!("LIMIT: {what}"),
        EventKind::Relay { txn, step, offset } => format!("relay #{offset} t{txn}.{step}"),
        _ => return None,
    })
}

/// Why a store refused a step, in a word or two.
fn reject_words(r: sovlab_sim::store::RejectReason) -> &'static str {
    use sovlab_sim::store::RejectReason as R;
    match r {
        R::Rule => "rule",
        R::Insufficient => "too few left",
        R::Tombstone => "already compensated",
        R::Lock => "lock timed out",
    }
}

/// A message's label: kind, transaction and step.
pub fn msg_label(m: &Msg) -> String {
    // Client traffic is about a whole transaction: its step number means nothing.
    let whole = matches!(m.kind, MsgKind::Submit | MsgKind::Finished | MsgKind::Ack);
    if m.txn == 0 {
        m.kind.name().to_string()
    } else if whole {
        format!("{} t{}", m.kind.name(), m.txn)
    } else {
        format!("{} t{}.{}", m.kind.name(), m.txn, m.step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovlab_sim::Scenario;

    const S: &str = r#"
name = "export me"
duration_ms = 2000
[network]
loss = 0.2
duplicate = 0.2
[[service]]
name = "orders"
[[service]]
name = "payments"
[write]
protocol = "shared-database"
transactions = 6
steps = [{ service = "orders" }, { service = "payments" }]
[[fault]]
at_ms = 20
crash = "database"
restart_ms = 30
[[fault]]
at_ms = 10
partition = [["coordinator"], ["database"]]
heal_ms = 15
"#;

    #[test]
    fn every_fate_is_paired_with_its_send() {
        let s = Scenario::parse(S, "t.toml").unwrap();
        let r = sovlab_sim::run(&s, 3);
        let d = Diagram::new(&r.trace, &r.verdicts, 0, 10_000);
        let fates: usize = d.arrows.iter().map(|a| a.ends.len()).sum();
        let c = r.trace.counters;
        assert_eq!(
            fates as u64,
            c.delivered + c.dropped,
            "every fate found its send"
        );
        assert_eq!(d.arrows.len() as u64, c.sent);
        assert!(d.arrows.iter().any(|a| a.duplicated));
        let kinds: Vec<&str> = d.periods.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, ["partition", "crash"]);
        assert!(
            d.periods.iter().all(|p| p.to.is_some()),
            "healed and restarted"
        );
    }

    #[test]
    fn a_violation_is_flagged_where_it_broke_or_named_outside_the_window() {
        let s = Scenario::parse(S, "t.toml").unwrap();
        let r = sovlab_sim::run(&s, 3);
        // No protocol on this branch breaks an invariant: plant a verdict to draw.
        let broken = [Verdict {
            name: "atomicity".into(),
            holds: false,
            violations: 1,
            example: Some("txn 2: applied at orders; not at payments".into()),
            at_seq: Some(40),
            every_at: vec![40],
            subjects: Default::default(),
        }];
        let inside = Diagram::new(&r.trace, &broken, 30, 50);
        let text = svg::render(&inside);
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        let flagged = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter(|n| n.text().is_some_and(|t| t.contains("atomicity broken")))
            .count();
        assert_eq!(flagged, 2, "named in the header and flagged at its row");
        let m = mermaid::render(&inside);
        assert!(
            m.contains(": VIOLATION atomicity: txn 2: applied at orders, not at payments"),
            "{m}"
        );
        // Two broken at one event: their notes do not overprint.
        let mut two = broken.to_vec();
        two.push(Verdict {
            name: "termination".into(),
            ..broken[0].clone()
        });
        let text = svg::render(&Diagram::new(&r.trace, &two, 30, 50));
        let doc = roxmltree::Document::parse(&text).unwrap();
        let ys: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter(|n| n.text().is_some_and(|t| t.contains(" broken: txn 2")))
            .filter_map(|n| n.attribute("y"))
            .collect();
        assert_eq!(ys.len(), 2);
        assert_ne!(ys[0], ys[1], "stacked");
        let outside = Diagram::new(&r.trace, &broken, 100, 50);
        let text = svg::render(&outside);
        assert!(text.contains("at event 40 (outside this window: try --from 20)"));
        assert!(!mermaid::render(&outside).contains("VIOLATION"));
    }

    /// A catalogue scenario that crashes, loses messages and breaks two invariants.
    const CRASH: &str = include_str!("../../../scenarios/choreography-direct-crash.toml");
    /// A catalogue scenario with reads.
    const READS: &str = include_str!("../../../scenarios/reads-mid-saga.toml");

    fn run(text: &str) -> sovlab_sim::RunResult {
        let s = Scenario::parse(text, "t.toml").unwrap();
        sovlab_sim::run(&s, s.seed_or(None))
    }

    /// Every text of an SVG as (box, content), measured as the renderer measures.
    fn text_boxes(text: &str) -> (f64, Vec<([f64; 4], String)>) {
        let doc = roxmltree::Document::parse(text).expect("well-formed XML");
        let root = doc.root_element();
        let width: f64 = root.attribute("width").unwrap().parse().unwrap();
        let boxes = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| {
                let f = |k: &str| n.attribute(k).unwrap().parse::<f64>().unwrap();
                let (x, y) = (f("x"), f("y"));
                let size = n
                    .attribute("font-size")
                    .map_or(10.0, |v| v.parse().unwrap());
                let bold = n.attribute("font-weight") == Some("bold");
                let mono = n.attribute("font-family") == Some("monospace");
                let t = n.text().unwrap_or("").to_string();
                let w = svg::text_width(&t, size, bold, mono);
                let x0 = match n.attribute("text-anchor") {
                    Some("middle") => x - w / 2.0,
                    _ => x,
                };
                ([x0, y - size * 0.8, x0 + w, y + size * 0.25], t)
            })
            .collect();
        (width, boxes)
    }

    fn assert_fits_and_apart(svg_text: &str) {
        let (width, boxes) = text_boxes(svg_text);
        assert!(boxes.len() > 100, "a real diagram");
        for (b, t) in &boxes {
            assert!(
                b[0] >= 0.0 && b[2] <= width,
                "{t:?} at {b:?} leaves the image ({width})"
            );
        }
        for (i, (a, ta)) in boxes.iter().enumerate() {
            for (b, tb) in &boxes[i + 1..] {
                assert!(!svg::overlaps(a, b), "{ta:?} {a:?} overprints {tb:?} {b:?}");
            }
        }
    }

    #[test]
    fn labels_fit_in_the_image_and_never_overprint() {
        let r = run(CRASH);
        let (from, _) = default_window(&r.trace, &r.verdicts, 400);
        assert_fits_and_apart(&svg::render(&Diagram::new(
            &r.trace,
            &r.verdicts,
            from,
            400,
        )));
        // A violation whose example is far longer than the room kept for notes.
        let mut long = r.verdicts.clone();
        let v = long.iter_mut().find(|v| !v.holds).unwrap();
        v.example = Some("a very long example ".repeat(20));
        let at = v.at_seq.unwrap();
        let text = svg::render(&Diagram::new(&r.trace, &long, at.saturating_sub(30), 200));
        assert!(text.contains("a very long example a very long"));
        assert_fits_and_apart(&text);
        assert_fits_and_apart(&svg::render(&Diagram::new(&r.trace, &r.verdicts, 0, 400)));
    }

    #[test]
    fn the_default_window_starts_just_before_what_broke() {
        let r = run(CRASH);
        let first_v = r
            .verdicts
            .iter()
            .filter(|v| !v.holds)
            .filter_map(|v| v.at_seq)
            .min();
        let v = first_v.expect("this scenario breaks an invariant");
        let (from, why) = default_window(&r.trace, &r.verdicts, 400);
        assert!(from > 0 && from <= v && v < from + 400, "{from} {v}");
        assert!(why.contains(&format!("event {v}")), "{why}");
        let f = r
            .trace
            .events
            .iter()
            .position(|e| e.kind.is_fault())
            .unwrap() as u64;
        assert!(from <= f, "the fault before it is drawn too");
        // A window too short for both: the violation wins.
        let (from, why) = default_window(&r.trace, &r.verdicts, v - f);
        assert_eq!(from, v - CONTEXT);
        assert!(why.starts_with("just before the first violation"), "{why}");
        let d = Diagram::new(&r.trace, &r.verdicts, from, 400).because(why.clone());
        assert!(
            svg::render(&d).contains(&why),
            "the header says which window"
        );
        assert!(mermaid::render(&d).contains(&why));
        // Nothing broke: before the first fault; no fault either: event 0.
        let held: Vec<Verdict> = r.verdicts.iter().filter(|v| v.holds).cloned().collect();
        let (from, why) = default_window(&r.trace, &held, 400);
        assert_eq!(from, f - CONTEXT);
        assert!(why.contains("first fault"), "{why}");
        let s = Scenario::parse(S, "t.toml").unwrap();
        let mut quiet = s.clone();
        quiet.faults.clear();
        let q = sovlab_sim::run(&quiet, 1);
        assert_eq!(default_window(&q.trace, &q.verdicts, 400).0, 0);
    }

    #[test]
    fn the_colour_key_names_every_colour_an_arrow_has() {
        let r = run(CRASH);
        let text = svg::render(&Diagram::new(&r.trace, &r.verdicts, 0, 400));
        let doc = roxmltree::Document::parse(&text).unwrap();
        let arrows: std::collections::BTreeSet<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("line"))
            .filter(|n| n.children().any(|c| c.has_tag_name("title")))
            .filter_map(|n| n.attribute("stroke"))
            .collect();
        assert!(arrows.len() >= 3, "{arrows:?}");
        let lane_top = doc
            .descendants()
            .filter(|n| n.has_tag_name("text") && n.text() == Some("client"))
            .filter_map(|n| n.attribute("y")?.parse::<f64>().ok())
            .fold(f64::MAX, f64::min);
        for c in arrows {
            let named = doc.descendants().any(|n| {
                n.has_tag_name("text")
                    && n.attribute("fill") == Some(c)
                    && n.attribute("y").unwrap().parse::<f64>().unwrap() < lane_top
            });
            assert!(named, "arrow colour {c} has a key entry");
        }
        for words in [
            "node down",
            "partition",
            "loss window",
            "dropped",
            "duplicate copy",
        ] {
            assert!(text.contains(&format!(">{words}</text>")), "{words}");
        }
    }

    #[test]
    fn lane_names_repeat_down_a_tall_image() {
        let r = run(CRASH);
        let text = svg::render(&Diagram::new(&r.trace, &r.verdicts, 0, 400));
        let doc = roxmltree::Document::parse(&text).unwrap();
        let height: f64 = doc
            .root_element()
            .attribute("height")
            .unwrap()
            .parse()
            .unwrap();
        assert!(height > 3000.0, "tall: {height}");
        for node in &r.trace.nodes {
            let mut ys: Vec<f64> = doc
                .descendants()
                .filter(|n| n.has_tag_name("text") && n.text() == Some(node.name.as_str()))
                .filter_map(|n| n.attribute("y")?.parse().ok())
                .collect();
            ys.sort_by(f64::total_cmp);
            assert!(ys.len() >= 4, "{}: {ys:?}", node.name);
            for w in ys.windows(2) {
                assert!(
                    w[1] - w[0] < 900.0,
                    "{}: a gap from {} to {}",
                    node.name,
                    w[0],
                    w[1]
                );
            }
        }
    }

    #[test]
    fn a_read_has_its_one_name_in_plain_words() {
        let r = run(READS);
        let d = Diagram::new(&r.trace, &r.verdicts, 0, r.trace.events.len() as u64);
        let m = mermaid::render(&d);
        let svg = svg::render(&d);
        assert!(m.contains(": read 1: "), "{m}");
        for text in [&m, &svg] {
            assert!(!text.contains("read q"));
            for debug in ["Complete", "Partial {", "Failed"] {
                assert!(!text.contains(debug), "{debug}");
            }
        }
    }

    #[test]
    fn mermaid_says_each_submit_once_and_names_a_fault_begun_before_the_window() {
        let r = run(CRASH);
        let d = Diagram::new(&r.trace, &r.verdicts, 0, 400);
        let m = mermaid::render(&d);
        let submits = d
            .arrows
            .iter()
            .filter(|a| a.msg.kind == MsgKind::Submit && a.msg.txn == 1 && d.shows(a.seq))
            .count();
        assert_eq!(m.matches("submit t1\n").count(), submits, "{m}");
        let loss = d.periods.iter().find(|p| p.kind == "loss").unwrap();
        let inside = Diagram::new(&r.trace, &r.verdicts, loss.from + 3, 100);
        let m = mermaid::render(&inside);
        let start = format!(
            "{} (since event {}, before this window)",
            loss.label, loss.from
        );
        assert!(m.contains(&start), "{m}");
        assert!(svg::render(&inside).contains(&format!("(since event {})", loss.from)));
        assert!(!mermaid::render(&d).contains("before this window"));
    }
}
