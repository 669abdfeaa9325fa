//! The Mermaid sequence diagram: every node a participant, each message one arrow
//! drawn at its send (solid: delivered; cross: dropped; open: still in flight), and
//! faults, local transactions and violations as notes.

use super::{describe, msg_label, Diagram, End};
use sovlab_sim::msg::MsgKind;
use sovlab_sim::trace::EventKind;
use std::fmt::Write as _;

/// Mermaid ids must be plain; node names (with dashes) become the aliases shown.
fn id(ix: u16) -> String {
    format!("n{ix}")
}

/// Text Mermaid would misread (`;` ends a statement, `#` starts an entity) made safe.
fn clean(s: &str) -> String {
    s.replace(';', ",")
        .replace('#', "no. ")
        .replace(['\n', '\r'], " ")
}

/// Renders the diagram as Mermaid `sequenceDiagram` text.
pub fn render(d: &Diagram<'_>) -> String {
    let t = d.trace;
    let mut s = String::from("sequenceDiagram\n");
    let _ = writeln!(
        s,
        "    %% {}: seed {}, trace {}, {}",
        clean(&t.scenario.name),
        t.seed,
        t.hash_hex(),
        clean(&d.window_words())
    );
    for (i, node) in t.nodes.iter().enumerate() {
        let _ = writeln!(
            s,
            "    participant {} as {}",
            id(i as u16),
            clean(&node.name)
        );
    }
    let everyone = format!("{},{}", id(0), id((t.nodes.len() - 1) as u16));
    let arrows: std::collections::BTreeMap<u64, &super::Arrow> =
        d.arrows.iter().map(|a| (a.seq, a)).collect();
    let submits: std::collections::BTreeSet<(u16, u32)> = d
        .arrows
        .iter()
        .filter(|a| a.msg.kind == MsgKind::Submit && d.shows(a.seq))
        .map(|a| (a.from, a.msg.txn))
        .collect();
    // Faults already on when the window opens: their start is not drawn, say it.
    for p in d.ongoing() {
        let over = match p.node {
            Some(ix) => format!("right of {}", id(ix)),
            None => format!("over {everyone}"),
        };
        let _ = writeln!(
            s,
            "    Note {over}: {} (since event {}, before this window)",
            clean(&p.label),
            p.from
        );
    }
    for (seq, e) in d.window() {
        match &e.kind {
            // The submit arrow that follows says it; a note would say it twice.
            EventKind::Submit { txn } if submits.contains(&(e.node, *txn)) => {}
            EventKind::Send { .. } => {
                let Some(a) = arrows.get(&seq) else { continue };
                let delivered = a.ends.iter().any(|x| matches!(x, End::Delivered(_)));
                let drop = a.ends.iter().find_map(|x| match x {
                    End::Dropped(_, r) => Some(r.name()),
                    End::Delivered(_) => None,
                });
                let (arrow, note) = match (delivered, drop) {
                    (true, _) if a.duplicated => ("->>", " (delivered twice)".to_string()),
                    (true, Some(r)) => ("->>", format!(" (one copy dropped: {r})")),
                    (true, None) => ("->>", String::new()),
                    (false, Some(r)) => ("-x", format!(" (dropped: {r})")),
                    (false, None) => ("-)", " (in flight at the end)".to_string()),
                };
                let _ = writeln!(
                    s,
                    "    {}{arrow}{}: {}{note}",
                    id(a.from),
                    id(a.to),
                    clean(&msg_label(&a.msg))
                );
            }
            EventKind::Partition { .. }
            | EventKind::Heal
            | EventKind::LossStart { .. }
            | EventKind::LossEnd { .. } => {
                let label = match &e.kind {
                    EventKind::Heal => "heal".to_string(),
                    EventKind::LossEnd { .. } => "loss window ends".to_string(),
                    _ => d
                        .periods
                        .iter()
                        .find(|p| p.from == seq)
                        .map_or_else(|| e.kind.name().to_string(), |p| p.label.clone()),
                };
                let _ = writeln!(s, "    Note over {everyone}: {}", clean(&label));
            }
            _ => {
                if let Some(text) = describe(e) {
                    let _ = writeln!(s, "    Note right of {}: {}", id(e.node), clean(&text));
                }
            }
        }
        for (name, at, example) in d.violations() {
            if at == Some(seq) {
                let _ = writeln!(
                    s,
                    "    Note over {}: VIOLATION {name}: {}",
                    id(e.node),
                    clean(example)
                );
            }
        }
    }
    s
}
