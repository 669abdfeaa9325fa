//! The diagram's symbols: which one each event is drawn with, and the legend that
//! names every one of them (help screen). One table, so the two cannot drift apart.

use sovlab_sim::trace::{EventKind, Local};

/// Every symbol the diagram draws, with what it means.
pub const LEGEND: [(&str, &str); 27] = [
    ("○", "submit (the client starts a transaction)"),
    ("●", "send (╌╌› the message on its way; ‹╌╌ leftwards)"),
    ("▶", "deliver (──▶ from the left, ◀── from the right)"),
    ("✗", "lost message · a no vote"),
    ("⇉", "duplicate (══⇉ a second copy)"),
    ("◷", "timer fires"),
    ("■", "local commit (green) · abort (red)"),
    ("↶", "compensate"),
    ("◆", "prepare (cyan) · decide (green commit, red abort)"),
    ("▪", "log (a durable decision or an outbox relay)"),
    ("⊘", "reject (a step refused)"),
    ("✓", "a yes vote"),
    (
        "◉",
        "outcome: the client is told (green committed, red aborted)",
    ),
    ("?", "read: a query is answered"),
    ("↓", "a view applies a source's change"),
    ("»", "relay: event sourcing publishes an event from its log"),
    ("⧖", "lock-wait: a request queues for a locked row"),
    (
        "▣",
        "lock: a request gets its row (yellow) · gives up waiting (red)",
    ),
    ("✖", "crash"),
    ("↻", "restart"),
    ("┊", "the node is down"),
    (
        "▐",
        "a partition (magenta) or loss window (yellow) in force",
    ),
    ("╌", "across the lanes: partition, heal, loss window, limit"),
    ("│", "a lane: the node is up"),
    (
        "▶ ",
        "(left edge) the current step; a yellow step number: a search match",
    ),
    (
        "┃",
        "(left edge, red) the chain from a verdict's cause to its victim (Enter)",
    ),
    (
        "━",
        "(timeline, red) that chain's span, from its first event to its last",
    ),
];

/// The symbol event `kind` is drawn with on its node's lane (`None`: drawn across
/// the lanes).
pub fn glyph(kind: &EventKind) -> Option<&'static str> {
    Some(match kind {
        EventKind::Send { .. } => "●",
        EventKind::Deliver { .. } => "▶",
        EventKind::Drop { .. } => "✗",
        EventKind::Duplicate { .. } => "⇉",
        EventKind::Timer { .. } => "◷",
        EventKind::Local { what, .. } => match what {
            Local::Commit | Local::Abort => "■",
            Local::Compensate => "↶",
            Local::Prepare => "◆",
            Local::Log => "▪",
        },
        EventKind::Reject { .. } => "⊘",
        EventKind::Vote { yes, .. } => {
            if *yes {
                "✓"
            } else {
                "✗"
            }
        }
        EventKind::Decide { .. } => "◆",
        EventKind::Outcome { .. } => "◉",
        EventKind::Submit { .. } => "○",
        EventKind::Crash => "✖",
        EventKind::Restart => "↻",
        EventKind::Read { .. } => "?",
        EventKind::ViewApplied { .. } => "↓",
        EventKind::Relay { .. } => "»",
        EventKind::LockWait { .. } => "⧖",
        EventKind::Lock { .. } => "▣",
        EventKind::Partition { .. }
        | EventKind::Heal
        | EventKind::LossStart { .. }
        | EventKind::LossEnd { .. }
        | EventKind::Limit { .. } => return None,
    })
}

/// Is `symbol` named in the legend?
pub fn named(symbol: &str) -> bool {
    LEGEND.iter().any(|(s, _)| s.trim() == symbol)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovlab_sim::Scenario;
    use std::collections::BTreeSet;

    #[test]
    fn the_legend_names_every_symbol_the_catalogue_draws() {
        let mut drawn = BTreeSet::new();
        for name in [
            "shared-db-crash",
            "reads-view-outbox-converges",
            "reads-torn-composition",
            "2pc-no-log",
            "saga-isolation",
            "saga-duplicates-not-idempotent",
            "choreography-event-sourcing-crash",
            "cost-hot-row-2pc",
        ] {
            let path = format!("{}/../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(path).unwrap();
            let run = sovlab_sim::run(&Scenario::parse(&text, name).unwrap(), 1);
            for e in &run.trace.events {
                if let Some(g) = glyph(&e.kind) {
                    assert!(named(g), "{g} ({}) is not in the legend", e.kind.name());
                    drawn.insert(g);
                }
            }
        }
        // The catalogue exercises (nearly) every symbol: the test looks at something.
        for g in ["○", "◉", "⊘", "↓", "✓", "?", "▪", "◆", "↶", "»", "⧖", "▣"] {
            assert!(drawn.contains(g), "{g} never drawn: {drawn:?}");
        }
    }
}
