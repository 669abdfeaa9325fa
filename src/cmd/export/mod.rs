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
    /// First event drawn.
    pub from: u64,
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
    if req.from >= total.max(1) {
        bail!(
            "--from {}: the run has only {total} events (0..{})",
            req.from,
            total.saturating_sub(1)
        );
    }
    let d = Diagram::new(&r.trace, &r.verdicts, req.from, req.events);
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
        }
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
        } => format!("reject t{txn}.{step} ({reason:?})").to_lowercase(),
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
        EventKind::Read { query, result, .. } => format!("read q{query} {result:?}").to_lowercase(),
        EventKind::ViewApplied { txn, step, .. } => format!("view t{txn}.{step}"),
        EventKind::Limit { what } => format!("LIMIT: {what}"),
        _ => return None,
    })
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
}
