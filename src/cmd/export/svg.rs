//! The SVG space-time diagram: one vertical lane per node, time (event order) flowing
//! down one row per event, messages as arrows between lanes.
//!
//! Rows follow event order, not virtual time: a burst of events at one instant stays
//! readable, and the left gutter gives each row's seq and virtual time. Timer events
//! get no row: they draw nothing, and in a resend loop they are most of the trace.
//! Labels go through a [`Placer`], so no two overprint, and the image is as wide as
//! its widest label, so none is cut at the edge.

use super::{describe, msg_label, Diagram, End};
use sovlab_sim::msg::MsgKind;
use sovlab_sim::trace::{DropReason, EventKind};
use std::fmt::Write as _;

const LEFT: f64 = 120.0;
const LANE: f64 = 130.0;
const ROW: f64 = 16.0;
/// Room kept right of the lanes for notes, at least.
const NOTES: f64 = 420.0;
/// Rows between two repeats of the lane names on a tall image.
const REPEAT: usize = 40;
/// Height of a band of lane names.
const NAMES: f64 = 28.0;

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

/// Message kinds drawn in one colour, with the key's words for them.
const KINDS: [(&[MsgKind], &str, &str); 8] = [
    (
        &[MsgKind::Submit, MsgKind::Finished],
        "#2e7d32",
        "submit / finished",
    ),
    (&[MsgKind::Ack], "#9e9e9e", "ack"),
    (&[MsgKind::Do, MsgKind::Done], "#1565c0", "do / done"),
    (
        &[MsgKind::Undo, MsgKind::Undone],
        "#ef6c00",
        "undo / undone",
    ),
    (
        &[MsgKind::Event, MsgKind::Change],
        "#6a1b9a",
        "event / change",
    ),
    (
        &[MsgKind::Prepare, MsgKind::Vote, MsgKind::Decide],
        "#00838f",
        "prepare / vote / decide",
    ),
    (
        &[MsgKind::Query, MsgKind::Answer],
        "#795548",
        "query / answer",
    ),
    (
        &[
            MsgKind::Try,
            MsgKind::Tried,
            MsgKind::Confirm,
            MsgKind::Cancel,
        ],
        "#ad1457",
        "try / tried / confirm / cancel",
    ),
];

/// A message kind's colour.
fn color(k: MsgKind) -> &'static str {
    KINDS
        .iter()
        .find(|(ks, _, _)| ks.contains(&k))
        .map_or("#000000", |(_, c, _)| c)
}

/// The width a text of `chars` characters takes, a little generously: DejaVu Sans, the
/// usual fallback for `sans-serif`, averages ~0.6 em a character (its digits 0.64 em).
pub fn text_width(text: &str, size: f64, bold: bool, mono: bool) -> f64 {
    let em = if mono {
        0.61
    } else if bold {
        0.7
    } else {
        0.64
    };
    text.chars().count() as f64 * size * em
}

/// A label's box: x0, y0, x1, y1 for text whose baseline starts at (x, y).
fn text_box(x: f64, y: f64, w: f64, size: f64) -> [f64; 4] {
    [x - 1.0, y - size * 0.8, x + w + 1.0, y + size * 0.25]
}

/// Do two boxes overlap (touching is not overlapping)?
pub fn overlaps(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// Places labels so that none overlaps another: each takes the first of its candidate
/// positions that is free, else slides right from the first until it is.
#[derive(Default)]
struct Placer {
    boxes: Vec<[f64; 4]>,
}

impl Placer {
    /// Marks a box as taken (a lane name, say).
    fn block(&mut self, b: [f64; 4]) {
        self.boxes.push(b);
    }

    /// Where a label `w` wide at font size `size` goes, among `candidates`.
    fn place(&mut self, candidates: &[(f64, f64)], w: f64, size: f64) -> (f64, f64) {
        let free = |b: &[f64; 4], boxes: &[[f64; 4]]| boxes.iter().all(|o| !overlaps(b, o));
        for &(x, y) in candidates {
            let b = text_box(x, y, w, size);
            if free(&b, &self.boxes) {
                self.boxes.push(b);
                return (x, y);
            }
        }
        let (mut x, y) = candidates[0];
        loop {
            let b = text_box(x, y, w, size);
            // Right of everything it touches: each step passes at least one box.
            let past = self
                .boxes
                .iter()
                .filter(|o| overlaps(&b, o))
                .map(|o| o[2])
                .fold(f64::NAN, f64::max);
            if past.is_nan() {
                self.boxes.push(b);
                return (x, y);
            }
            x = past + 2.0;
        }
    }

    /// The right edge of the rightmost label.
    fn right(&self) -> f64 {
        self.boxes.iter().map(|b| b[2]).fold(0.0, f64::max)
    }
}

/// A label to draw: position, text, colour and style.
struct Label {
    x: f64,
    y: f64,
    text: String,
    fill: &'static str,
    size: f64,
    style: &'static str,
}

/// Renders the diagram as a standalone SVG document.
pub fn render(d: &Diagram<'_>) -> String {
    let t = d.trace;
    let n = t.nodes.len() as f64;
    let violations = d.violations();
    let drawn: Vec<u64> = d
        .window()
        .filter(|(_, e)| !matches!(e.kind, EventKind::Timer { .. }))
        .map(|(q, _)| q)
        .collect();
    let rows = drawn.len();

    // The header: what was run, which window and why, the key, what broke.
    let mut head: Vec<Label> = Vec::new();
    let mut line = |y: f64, text: String, fill, size, style| {
        head.push(Label {
            x: 10.0,
            y,
            text,
            fill,
            size,
            style,
        })
    };
    line(
        20.0,
        t.scenario.name.clone(),
        "#000000",
        15.0,
        r#" font-weight="bold""#,
    );
    line(
        38.0,
        format!(
            "seed {}, trace {}, {} ms virtual; {}",
            t.seed,
            t.hash_hex(),
            t.end_us / 1000,
            d.window_words()
        ),
        "#000000",
        10.0,
        "",
    );
    line(
        52.0,
        "choose another window with --from SEQ, --from-ms MS and --events N".into(),
        "#555555",
        10.0,
        "",
    );
    let mut vy = 120.0;
    if violations.is_empty() {
        line(vy, "every invariant held".into(), "#2e7d32", 10.0, "");
        vy += 14.0;
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
        line(
            vy,
            format!("\u{2691} {name} broken {place}: {example}"),
            "#c62828",
            10.0,
            r#" font-weight="bold""#,
        );
        vy += 14.0;
    }
    let (key, key_right) = colour_key(d, 70.0);
    let top = vy + 36.0;

    // Row geometry: a band of lane names before every REPEAT rows after the first,
    // unless the names at the bottom come within a quarter of that anyway.
    let repeats = rows.saturating_sub(REPEAT / 4) / REPEAT;
    let row_top = |i: usize| top + i as f64 * ROW + (i / REPEAT).min(repeats) as f64 * NAMES;
    let x = |ix: u16| LEFT + f64::from(ix) * LANE + LANE / 2.0;
    // An undrawn event (a timer) sits on the next drawn event's row.
    let y = |seq: u64| {
        let i = drawn
            .partition_point(|&q| q < seq)
            .min(rows.saturating_sub(1));
        row_top(i) + ROW / 2.0
    };
    let y_top = top;
    let y_end = top + rows as f64 * ROW + repeats as f64 * NAMES;
    let lanes_right = LEFT + n * LANE;
    let mut placer = Placer::default();
    let mut labels: Vec<Label> = Vec::new();
    let mut body = String::new();

    // Lane name bands: above the first row, between every REPEAT rows, under the last.
    let mut bands = vec![top - 30.0];
    bands.extend((1..=repeats).map(|k| row_top(k * REPEAT) - NAMES + 3.0));
    bands.push(y_end + 6.0);
    let mut names = String::new();
    for &ly in &bands {
        for (i, node) in t.nodes.iter().enumerate() {
            let xi = x(i as u16);
            let w = text_width(&node.name, 10.0, true, false);
            placer.block(text_box(xi - w / 2.0, ly + 15.0, w, 10.0));
            let _ = writeln!(
                names,
                r##"<rect x="{:.1}" y="{ly:.1}" width="{:.1}" height="22" rx="4" fill="#eceff1" stroke="#90a4ae"/><text x="{xi:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"##,
                xi - LANE / 2.0 + 8.0,
                LANE - 16.0,
                ly + 15.0,
                esc(&node.name)
            );
        }
    }

    // Violations first, so the most important labels get their place: a flag on the
    // lane where each first broke and a line across; several at one event stack.
    let mut flags = String::new();
    for (name, at, example) in &violations {
        let Some(q) = at.filter(|q| d.shows(*q)) else {
            continue;
        };
        let e = &t.events[q as usize];
        let (xi, yi) = (x(e.node), y(q));
        placer.block([xi, yi - 17.0, xi + 13.0, yi - 5.0]);
        let text = format!("\u{2691} {name} broken: {example}");
        let w = text_width(&text, 10.0, true, false);
        let spots: Vec<(f64, f64)> = (0..8)
            .map(|k| (lanes_right + 8.0, yi + 3.0 + 13.0 * f64::from(k)))
            .collect();
        let (lx, ly) = placer.place(&spots, w, 10.0);
        let _ = writeln!(
            flags,
            r##"<line x1="{LEFT}" y1="{yi:.1}" x2="{lanes_right:.1}" y2="{yi:.1}" stroke="#c62828" stroke-width="0.8" stroke-dasharray="6,2"/><path d="M{xi:.1},{:.1} v-16 l12,5 l-12,5" fill="#c62828" stroke="#c62828"><title>{} broken at event {q}: {}</title></path>"##,
            yi,
            esc(name),
            esc(example),
        );
        labels.push(Label {
            x: lx,
            y: ly,
            text,
            fill: "#c62828",
            size: 10.0,
            style: r#" font-weight="bold""#,
        });
        // The cause: an orange flag on the fault's event, joined to the victim's flag
        // by a labelled arrow, so the story reads from the fault to what it broke.
        let Some(&(_, c)) = d.causes.iter().find(|(n, _)| n == name) else {
            continue;
        };
        if !d.shows(c) {
            continue;
        }
        let ce = &t.events[c as usize];
        let (cx, cy) = (x(ce.node), y(c));
        placer.block([cx, cy - 17.0, cx + 13.0, cy - 5.0]);
        let join = format!("cause of {name}");
        let _ = writeln!(
            flags,
            r##"<path class="cause-flag" d="M{cx:.1},{cy:.1} v-16 l12,5 l-12,5" fill="#ef6c00" stroke="#ef6c00"><title>cause of {}: event {c}</title></path><line class="cause-join" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#ef6c00" stroke-width="1.5" stroke-dasharray="4,3" marker-end="url(#cause-arrow)"><title>{} at event {c} caused {} broken at event {q}</title></line><text class="cause-label" x="{:.1}" y="{:.1}" fill="#ef6c00" font-size="10" font-weight="bold">{}</text>"##,
            esc(name),
            cx + 12.0,
            cy - 11.0,
            xi + 12.0,
            yi - 11.0,
            esc(ce.kind.name()),
            esc(name),
            (cx + xi) / 2.0 + 16.0,
            (cy + yi) / 2.0 - 11.0,
            esc(&join),
        );
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
            body,
            r#"<rect x="{x1:.1}" y="{y1:.1}" width="{w:.1}" height="{:.1}" fill="{fill}" fill-opacity="0.7"><title>{}</title></rect>"#,
            (y2 - y1).max(2.0),
            esc(&p.label)
        );
        let label = if p.from < d.from {
            format!("{} (since event {})", p.label, p.from)
        } else {
            p.label.clone()
        };
        let w = text_width(&label, 10.0, false, false);
        let spots = [
            (x1 + 3.0, y1 + 10.0),
            (x1 + 3.0, y1 + 22.0),
            (x1 + 3.0, y1 + 34.0),
        ];
        let (lx, ly) = placer.place(&spots, w, 10.0);
        labels.push(Label {
            x: lx,
            y: ly,
            text: label,
            fill: "#555555",
            size: 10.0,
            style: r#" font-style="italic""#,
        });
    }

    // Lanes.
    for i in 0..t.nodes.len() {
        let xi = x(i as u16);
        let _ = writeln!(
            body,
            r##"<line x1="{xi:.1}" y1="{y_top:.1}" x2="{xi:.1}" y2="{y_end:.1}" stroke="#bbb" stroke-dasharray="3,3"/>"##
        );
    }

    // The gutter: seq and virtual time of every row.
    for (seq, e) in d.window().filter(|(q, _)| drawn.binary_search(q).is_ok()) {
        let _ = writeln!(
            body,
            r##"<text x="8" y="{:.1}" fill="#777" font-family="monospace" font-size="9" xml:space="preserve">{seq:>6} {:>9.3} ms</text>"##,
            y(seq) + 3.0,
            e.t_us as f64 / 1000.0
        );
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
            body,
            r#"<circle cx="{xi:.1}" cy="{yi:.1}" r="3.5" fill="{fill}"><title>event {seq}: {}</title></circle>"#,
            esc(&text),
        );
        let w = text_width(&text, 9.0, false, false);
        let mut spots = vec![(xi + 6.0, yi + 3.0)];
        if xi - 6.0 - w >= LEFT + 2.0 {
            spots.push((xi - 6.0 - w, yi + 3.0));
        }
        let (lx, ly) = placer.place(&spots, w, 9.0);
        labels.push(Label {
            x: lx,
            y: ly,
            text,
            fill,
            size: 9.0,
            style: "",
        });
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
                body,
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
                body,
                r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{xe:.1}" y2="{ye:.1}" stroke="{c}" stroke-width="1.2"{dash}{head}><title>{}</title></line>"#,
                esc(&title)
            );
            if dropped.is_some() && end_in {
                let _ = writeln!(
                    body,
                    r##"<path d="M{:.1},{:.1} l8,8 m0,-8 l-8,8" stroke="#d32f2f" stroke-width="2"><title>{}</title></path>"##,
                    xe - 4.0,
                    ye - 4.0,
                    esc(&title)
                );
            }
            if k == 0 && send_in {
                let dup = if a.duplicated { " x2" } else { "" };
                let text = format!("{label}{dup}");
                let w = text_width(&text, 9.0, false, false);
                // Along the arrow, from near its start: the first free spot.
                let spots: Vec<(f64, f64)> = [0.2, 0.35, 0.5, 0.65, 0.8, 0.1]
                    .iter()
                    .map(|f| (x1 + (xe - x1) * f, y1 + (ye - y1) * f - 3.0))
                    .collect();
                let (lx, ly) = placer.place(&spots, w, 9.0);
                labels.push(Label {
                    x: lx,
                    y: ly,
                    text,
                    fill: c,
                    size: 9.0,
                    style: "",
                });
            }
        }
    }

    let header_right = head
        .iter()
        .map(|l| l.x + text_width(&l.text, l.size, l.style.contains("bold"), false))
        .fold(0.0, f64::max);
    let width = (lanes_right + NOTES)
        .max(1000.0)
        .max(placer.right() + 12.0)
        .max(header_right + 12.0)
        .max(key_right + 12.0)
        .ceil();
    let height = (y_end + 50.0).ceil();
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="10">
<defs>
<marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker>
<marker id="cause-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="rgb(239,108,0)"/></marker>
</defs>
<rect x="0" y="0" width="{width:.0}" height="{height:.0}" fill="white"/>"#
    );
    for l in &head {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" fill="{}" font-size="{}"{}>{}</text>"#,
            l.x,
            l.y,
            l.fill,
            l.size,
            l.style,
            esc(&l.text)
        );
    }
    s.push_str(&key);
    s.push_str(&body);
    // Lane names over the fault bands, so a band does not fade them.
    s.push_str(&names);
    s.push_str(&flags);
    // Labels last, on a white halo, so lines never hide them.
    for l in &labels {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" fill="{}" font-size="{}"{} stroke="white" stroke-width="3" stroke-linejoin="round" paint-order="stroke">{}</text>"#,
            l.x,
            l.y,
            l.fill,
            l.size,
            l.style,
            esc(&l.text)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The colour key, two rows from `y`: the message kinds this window draws, then the
/// marks and bands. Returns the SVG and its right edge.
fn colour_key(d: &Diagram<'_>, y: f64) -> (String, f64) {
    let used: Vec<(&str, &str)> = KINDS
        .iter()
        .filter(|(ks, _, _)| {
            d.arrows.iter().any(|a| {
                ks.contains(&a.msg.kind)
                    && (d.shows(a.seq) || a.ends.iter().any(|e| d.shows(end_seq(e))))
            })
        })
        .map(|(_, c, w)| (*c, *w))
        .collect();
    let mut s = String::new();
    let mut right: f64 = 0.0;
    // Row 1: arrows.
    let mut x = 10.0;
    let words = "messages:";
    let _ = writeln!(
        s,
        r##"<text x="{x:.1}" y="{y:.1}" fill="#555555" font-size="10">{words}</text>"##
    );
    x += text_width(words, 10.0, false, false) + 8.0;
    let arrows: Vec<(&str, &str, &str)> = used
        .iter()
        .map(|(c, w)| (*c, "", *w))
        .chain([
            ("#555555", r#" stroke-dasharray="5,3""#, "duplicate copy"),
            (
                "#555555",
                r#" stroke-dasharray="1,3""#,
                "in flight at the end",
            ),
        ])
        .collect();
    for (c, dash, w) in arrows {
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{c}" stroke-width="2"{dash}/><text x="{:.1}" y="{y:.1}" fill="{c}" font-size="10">{w}</text>"##,
            y - 3.5,
            x + 18.0,
            y - 3.5,
            x + 22.0
        );
        x += 22.0 + text_width(w, 10.0, false, false) + 14.0;
    }
    right = right.max(x);
    // Row 2: marks and bands.
    let y = y + 18.0;
    let mut x = 10.0;
    let words = "marks:";
    let _ = writeln!(
        s,
        r##"<text x="{x:.1}" y="{y:.1}" fill="#555555" font-size="10">{words}</text>"##
    );
    x += text_width(words, 10.0, false, false) + 8.0;
    let drop = "dropped";
    let _ = writeln!(
        s,
        r##"<path d="M{:.1},{:.1} l8,8 m0,-8 l-8,8" stroke="#d32f2f" stroke-width="2"/><text x="{:.1}" y="{y:.1}" fill="#d32f2f" font-size="10">{drop}</text>"##,
        x,
        y - 8.0,
        x + 12.0
    );
    x += 12.0 + text_width(drop, 10.0, false, false) + 14.0;
    for (fill, w) in [
        ("#f4c7c3", "node down"),
        ("#fdf0c2", "partition"),
        ("#d6e6f8", "loss window"),
    ] {
        let _ = writeln!(
            s,
            r##"<rect x="{x:.1}" y="{:.1}" width="16" height="10" fill="{fill}" stroke="#999"/><text x="{:.1}" y="{y:.1}" fill="#555555" font-size="10">{w}</text>"##,
            y - 9.0,
            x + 20.0
        );
        x += 20.0 + text_width(w, 10.0, false, false) + 14.0;
    }
    let flag = "\u{2691} an invariant broke here";
    let _ = writeln!(
        s,
        r##"<text x="{x:.1}" y="{y:.1}" fill="#c62828" font-size="10" font-weight="bold">{flag}</text>"##
    );
    x += text_width(flag, 10.0, true, false);
    (s, right.max(x))
}

/// The event a fate happened at.
fn end_seq(e: &End) -> u64 {
    match *e {
        End::Delivered(q) | End::Dropped(q, _) => q,
    }
}

#[cfg(test)]
mod tests {
    use super::{esc, overlaps, text_width};

    #[test]
    fn text_is_escaped_for_xml() {
        assert_eq!(esc(r#"a<b & "c"'"#), "a&lt;b &amp; &quot;c&quot;&apos;");
        assert_eq!(esc("x\u{1}y"), "x y");
    }

    #[test]
    fn boxes_that_touch_do_not_overlap() {
        let a = [0.0, 0.0, 10.0, 10.0];
        assert!(overlaps(&a, &[5.0, 5.0, 15.0, 15.0]));
        assert!(!overlaps(&a, &[10.0, 0.0, 20.0, 10.0]));
        assert!(text_width("abc", 10.0, true, false) > text_width("abc", 10.0, false, false));
    }
}
