//! The SVG space-time diagram: one vertical lane per node, time (event order) flowing
//! down one row per event, messages as arrows between lanes.
//!
//! Rows follow event order, not virtual time: a burst of events at one instant stays
//! readable, and the left gutter gives each row's seq and virtual time. Timer events
//! get no row: they draw nothing, and in a resend loop they are most of the trace.

use super::{describe, msg_label, Diagram, End};
use sovlab_sim::msg::MsgKind;
use sovlab_sim::trace::{DropReason, EventKind};
use std::fmt::Write as _;

const LEFT: f64 = 120.0;
const LANE: f64 = 130.0;
const ROW: f64 = 16.0;
const NOTES: f64 = 420.0;

/// Escapes text for XML content and attributes.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

fn color(k: MsgKind) -> &'static str {
    match k {
        MsgKind::Submit | MsgKind::Finished => "#2e7d32",
        MsgKind::Ack => "#9e9e9e",
        MsgKind::Do | MsgKind::Done => "#1565c0",
        MsgKind::Undo | MsgKind::Undone => "#ef6c00",
        MsgKind::Event | MsgKind::Change => "#6a1b9a",
        MsgKind::Prepare | MsgKind::Vote | MsgKind::Decide => "#00838f",
        MsgKind::Query | MsgKind::Answer => "#795548",
        MsgKind::Try | MsgKind::Tried | MsgKind::Confirm | MsgKind::Cancel => "#ad1457",
    }
}

/// Renders the diagram as a standalone SVG document.
pub fn render(d: &Diagram<'_>) -> String {
    let t = d.trace;
    let n = t.nodes.len() as f64;
    let violations = d.violations();
    let top = 92.0 + 14.0 * violations.len() as f64 + 40.0;
    let drawn: Vec<u64> = d
        .window()
        .filter(|(_, e)| !matches!(e.kind, EventKind::Timer { .. }))
        .map(|(q, _)| q)
        .collect();
    let rows = drawn.len() as f64;
    let height = top + rows * ROW + 50.0;
    let width = (LEFT + n * LANE + NOTES).max(1000.0);
    let x = |ix: u16| LEFT + f64::from(ix) * LANE + LANE / 2.0;
    // An undrawn event (a timer) sits on the next drawn event's row.
    let y = |seq: u64| top + drawn.partition_point(|&q| q < seq) as f64 * ROW + ROW / 2.0;
    let y_top = top;
    let y_end = top + rows * ROW;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="10">
<defs>
<marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker>
</defs>
<rect x="0" y="0" width="{width:.0}" height="{height:.0}" fill="white"/>"#
    );
    // Header: what was run, which window, what broke.
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="15" font-weight="bold">{}</text>"#,
        esc(&t.scenario.name)
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="38">seed {}, trace {}, events {}..{} of {} (choose the window with --from and --events); {} ms virtual</text>"#,
        t.seed,
        t.hash_hex(),
        d.from,
        d.to.saturating_sub(1),
        t.events.len(),
        t.end_us / 1000
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="54" fill="#555">arrows: messages, coloured by kind (dashed: the duplicate copy; X: dropped; dotted to the bottom: still in flight at the end)</text>
<text x="10" y="68" fill="#555">bands: red, a node is down; yellow, a partition; blue, a loss window. A red flag marks where an invariant broke.</text>"##
    );
    let mut vy = 86.0;
    if violations.is_empty() {
        let _ = writeln!(
            s,
            r##"<text x="10" y="{vy}" fill="#2e7d32">every invariant held</text>"##
        );
    }
    for (name, at, example) in &violations {
        let place = match at {
            Some(q) if d.shows(*q) => format!("at event {q}"),
            Some(q) => format!(
                "at event {q} (outside this window: try --from {})",
                q.saturating_sub(20)
            ),
            None => "at the end of the run".into(),
        };
        let _ = writeln!(
            s,
            r##"<text x="10" y="{vy}" fill="#c62828" font-weight="bold">&#9873; {} broken {}: {}</text>"##,
            esc(name),
            esc(&place),
            esc(example)
        );
        vy += 14.0;
    }

    // Fault periods, under everything else.
    for p in &d.periods {
        let end = p.to.unwrap_or(u64::MAX);
        if p.from >= d.to || end < d.from {
            continue;
        }
        let y1 = y(p.from.max(d.from)) - ROW / 2.0;
        let y2 = if end >= d.to {
            y_end
        } else {
            y(end) + ROW / 2.0
        };
        let (x1, w, fill) = match (p.kind, p.node) {
            ("crash", Some(ix)) => (x(ix) - LANE / 2.0 + 6.0, LANE - 12.0, "#f4c7c3"),
            ("partition", _) => (LEFT, n * LANE, "#fdf0c2"),
            _ => (LEFT, n * LANE, "#d6e6f8"),
        };
        let _ = writeln!(
            s,
            r#"<rect x="{x1:.1}" y="{y1:.1}" width="{w:.1}" height="{:.1}" fill="{fill}" fill-opacity="0.7"><title>{}</title></rect>"#,
            (y2 - y1).max(2.0),
            esc(&p.label)
        );
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" fill="#555" font-style="italic">{}</text>"##,
            x1 + 3.0,
            y1 + 10.0,
            esc(&p.label)
        );
    }

    // Lanes, named at both ends.
    for (i, node) in t.nodes.iter().enumerate() {
        let xi = x(i as u16);
        let _ = writeln!(
            s,
            r##"<line x1="{xi:.1}" y1="{y_top:.1}" x2="{xi:.1}" y2="{y_end:.1}" stroke="#bbb" stroke-dasharray="3,3"/>"##
        );
        for (ly, role) in [(top - 30.0, true), (y_end + 6.0, false)] {
            let _ = writeln!(
                s,
                r##"<rect x="{:.1}" y="{ly:.1}" width="{:.1}" height="22" rx="4" fill="#eceff1" stroke="#90a4ae"/><text x="{xi:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"##,
                xi - LANE / 2.0 + 8.0,
                LANE - 16.0,
                ly + 15.0,
                esc(&node.name)
            );
            let _ = role;
        }
    }

    // The gutter: seq and virtual time of every row.
    for (seq, e) in d.window().filter(|(q, _)| drawn.binary_search(q).is_ok()) {
        let _ = writeln!(
            s,
            r##"<text x="8" y="{:.1}" fill="#777" font-family="monospace" font-size="9">{seq:>6} {:>9.3} ms</text>"##,
            y(seq) + 3.0,
            e.t_us as f64 / 1000.0
        );
    }

    // Messages.
    for a in &d.arrows {
        let send_in = d.shows(a.seq);
        let (x1, x2) = (x(a.from), x(a.to));
        let c = color(a.msg.kind);
        let label = msg_label(&a.msg);
        let y1 = if send_in { y(a.seq) } else { y_top };
        if a.ends.is_empty() && send_in {
            let _ = writeln!(
                s,
                r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y_end:.1}" stroke="{c}" stroke-dasharray="1,3"><title>{} in flight when the run ended</title></line>"#,
                esc(&label)
            );
        }
        for (k, end) in a.ends.iter().enumerate() {
            let (seq, dropped) = match *end {
                End::Delivered(q) => (q, None),
                End::Dropped(q, r) => (q, Some(r)),
            };
            let end_in = d.shows(seq);
            if !send_in && !end_in {
                continue;
            }
            let y2 = if end_in { y(seq) } else { y_end };
            let dash = if k > 0 {
                r#" stroke-dasharray="5,3""#
            } else {
                ""
            };
            let (xe, ye) = match dropped {
                // Lost on the way: the arrow stops short of the receiver.
                Some(DropReason::Loss | DropReason::Partition) => {
                    (x1 + (x2 - x1) * 0.45, y2.max(y1 + ROW * 0.6))
                }
                _ => (x2, y2),
            };
            let fate = match dropped {
                Some(r) => format!("dropped ({})", r.name()),
                None if k > 0 => "delivered (duplicate copy)".into(),
                None => "delivered".into(),
            };
            let title = format!(
                "event {} -> {}: {} {} -> {}, {fate}",
                a.seq,
                seq,
                label,
                d.name(a.from),
                d.name(a.to)
            );
            let head = if dropped.is_none() && end_in {
                r#" marker-end="url(#head)""#
            } else {
                ""
            };
            let _ = writeln!(
                s,
                r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{xe:.1}" y2="{ye:.1}" stroke="{c}" stroke-width="1.2"{dash}{head}><title>{}</title></line>"#,
                esc(&title)
            );
            if dropped.is_some() && end_in {
                let _ = writeln!(
                    s,
                    r##"<path d="M{:.1},{:.1} l8,8 m0,-8 l-8,8" stroke="#d32f2f" stroke-width="2"><title>{}</title></path>"##,
                    xe - 4.0,
                    ye - 4.0,
                    esc(&title)
                );
            }
            if k == 0 && send_in {
                let (lx, ly) = (x1 + (xe - x1) * 0.2, y1 + (ye - y1) * 0.2 - 3.0);
                let dup = if a.duplicated { " x2" } else { "" };
                let _ = writeln!(
                    s,
                    r#"<text x="{lx:.1}" y="{ly:.1}" fill="{c}" font-size="9">{}{dup}</text>"#,
                    esc(&label)
                );
            }
        }
    }

    // Local events, faults and outcomes, on their node's lane.
    for (seq, e) in d.window() {
        let Some(text) = describe(e) else { continue };
        let (xi, yi) = (x(e.node), y(seq));
        let fill = match &e.kind {
            EventKind::Local { what, .. } => match what.name() {
                "commit" => "#2e7d32",
                "abort" => "#c62828",
                "compensate" => "#ef6c00",
                "prepare" => "#00838f",
                _ => "#546e7a",
            },
            EventKind::Reject { .. } | EventKind::Crash | EventKind::Limit { .. } => "#c62828",
            _ => "#37474f",
        };
        let _ = writeln!(
            s,
            r#"<circle cx="{xi:.1}" cy="{yi:.1}" r="3.5" fill="{fill}"><title>event {seq}: {}</title></circle><text x="{:.1}" y="{:.1}" fill="{fill}" font-size="9">{}</text>"#,
            esc(&text),
            xi + 6.0,
            yi + 3.0,
            esc(&text)
        );
    }

    // Violations: a flag on the lane where each first broke, and a line across. Several
    // can break at one event: their notes stack downwards instead of overprinting.
    let mut at_row: std::collections::BTreeMap<u64, f64> = std::collections::BTreeMap::new();
    for (name, at, example) in &violations {
        let Some(q) = at.filter(|q| d.shows(*q)) else {
            continue;
        };
        let e = &t.events[q as usize];
        let (xi, yi) = (x(e.node), y(q));
        let below = at_row.entry(q).or_insert(0.0);
        let text_y = yi + 3.0 + *below;
        *below += 13.0;
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yi:.1}" x2="{:.1}" y2="{yi:.1}" stroke="#c62828" stroke-width="0.8" stroke-dasharray="6,2"/><path d="M{xi:.1},{:.1} v-16 l12,5 l-12,5" fill="#c62828" stroke="#c62828"><title>{} broken at event {q}: {}</title></path><text x="{:.1}" y="{:.1}" fill="#c62828" font-weight="bold">&#9873; {} broken: {}</text>"##,
            LEFT + n * LANE,
            yi,
            esc(name),
            esc(example),
            LEFT + n * LANE + 8.0,
            text_y,
            esc(name),
            esc(example)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn text_is_escaped_for_xml() {
        assert_eq!(esc(r#"a<b & "c"'"#), "a&lt;b &amp; &quot;c&quot;&apos;");
        assert_eq!(esc("x\u{1}y"), "x y");
    }
}
