//! A scenario in a few lines: what runs, which faults strike when, what it is expected
//! to show, then its description. The catalogue's about pane and the run screen's `d`
//! pane draw the same lines, so the facts come first and survive a short window.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use sovlab_sim::scenario::{Fault, FaultKind, Scenario};

/// One fault in words: what, where, when, for how long.
pub fn fault_words(f: &Fault) -> String {
    if let Some(a) = &f.after {
        return triggered_words(f, a);
    }
    let at = f.at_ms;
    match f.kind() {
        Some(FaultKind::Crash { node, restart_ms }) => match restart_ms {
            Some(r) => format!("crash {node} at {at} ms, back {r} ms later"),
            None => format!("crash {node} at {at} ms, stays down"),
        },
        Some(FaultKind::Partition { groups, heal_ms }) => {
            let g: Vec<String> = groups.iter().map(|g| g.join(", ")).collect();
            let end = heal_ms.map_or(", never heals".to_string(), |h| format!(" to {h} ms"));
            format!("partition {{{}}} from {at} ms{end}", g.join("} | {"))
        }
        Some(FaultKind::Loss { p, until_ms, link }) => {
            let on = link.map_or("every link".to_string(), |[a, b]| format!("{a} <-> {b}"));
            let end = until_ms.map_or(" on".to_string(), |u| format!(" to {u} ms"));
            format!("lose {:.0}% on {on} from {at} ms{end}", p * 100.0)
        }
        None => format!("a fault at {at} ms"),
    }
}

/// A fault placed by a trigger: "crash coordinator right after the 2nd deliver of a
/// vote for txn 3 at coordinator, stays down".
fn triggered_words(f: &Fault, a: &sovlab_sim::scenario::After) -> String {
    let when = format!("right after {}", sovlab_sim::report::trigger_words(a));
    let lasts = f.for_ms.map_or(String::new(), |d| format!(", for {d} ms"));
    match f.kind() {
        Some(FaultKind::Crash { node, restart_ms }) => match restart_ms {
            Some(r) => format!("crash {node} {when}, back {r} ms later"),
            None => format!("crash {node} {when}, stays down"),
        },
        Some(FaultKind::Partition { groups, .. }) => {
            let g: Vec<String> = groups.iter().map(|g| g.join(", ")).collect();
            format!("partition {{{}}} {when}{lasts}", g.join("} | {"))
        }
        Some(FaultKind::Loss { p, link, .. }) => {
            let on = link.map_or("every link".to_string(), |[a, b]| format!("{a} <-> {b}"));
            format!("lose {:.0}% on {on} {when}{lasts}", p * 100.0)
        }
        None => format!("a fault {when}"),
    }
}

/// The lines about `s` when run with `seed`: facts, expectations, faults, then the
/// description (the catalogue's about pane).
pub fn lines(s: &Scenario, seed: u64) -> Vec<Line<'static>> {
    let mut out = facts(s, seed);
    let text = description(s);
    if !text.is_empty() {
        out.push(Line::from(""));
        out.extend(text);
    }
    out
}

/// The description first, then the facts (the run screen's `d` pane: the learner has
/// seen the facts in the catalogue, and came for the story).
pub fn story_first(s: &Scenario, seed: u64) -> Vec<Line<'static>> {
    let mut out = description(s);
    if !out.is_empty() {
        out.push(Line::from(""));
    }
    out.extend(facts(s, seed));
    out
}

/// The description, re-flowed: blank lines separate paragraphs.
fn description(s: &Scenario) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if let Some(d) = &s.description {
        for (i, para) in d.split("\n\n").enumerate() {
            if i > 0 {
                out.push(Line::from(""));
            }
            let words: Vec<&str> = para.split_whitespace().collect();
            out.push(Line::from(words.join(" ")));
        }
    }
    out
}

/// The name, what runs, expect, faults, stores and seed.
fn facts(s: &Scenario, seed: u64) -> Vec<Line<'static>> {
    let key = Style::new().fg(Color::Cyan);
    let mut out = vec![Line::styled(
        s.name.clone(),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if let Some(w) = &s.write {
        out.push(Line::from(format!(
            "write   {} · {} transactions · {} steps",
            w.protocol.name(),
            w.transactions,
            w.steps.len()
        )));
    }
    if let Some(r) = &s.read {
        out.push(Line::from(format!(
            "read    {} · {} queries",
            r.method.name(),
            r.queries
        )));
    }
    if let Some(x) = &s.expect {
        if !x.holds.is_empty() {
            out.push(Line::styled(
                format!("expect  holds: {}", x.holds.join(", ")),
                key,
            ));
        }
        if !x.violated.is_empty() {
            out.push(Line::styled(
                format!("expect  broken: {}", x.violated.join(", ")),
                key,
            ));
        }
    }
    if s.faults.is_empty() {
        out.push(Line::from("faults  none (only the network's own)"));
    }
    for (i, f) in s.faults.iter().enumerate() {
        let head = if i == 0 { "faults  " } else { "        " };
        out.push(Line::styled(
            format!("{head}{}", fault_words(f)),
            Style::new().fg(Color::Yellow),
        ));
    }
    let services: Vec<String> = s
        .services
        .iter()
        .map(|x| format!("{} ({})", x.name, x.store.name()))
        .collect();
    out.push(Line::from(format!("stores  {}", services.join(", "))));
    out.push(Line::from(format!("seed    {seed}")));
    out
}
