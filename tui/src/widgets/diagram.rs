//! The space-time diagram: one lane per node, time flowing down, one row per event.
//!
//! Only the rows that fit are drawn, centred on the cursor, so the cost of a frame
//! does not depend on the trace's length.

use crate::app::RunView;
use crate::describe::{ms, msg_label};
use crate::lane_names::short_names_in;
use crate::widgets::glyphs::glyph;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Block;
use ratatui::Frame;
use sovlab_sim::trace::{EventKind, Local};

/// Where lanes and rows are, for drawing and for mouse hit-tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    /// Inside the border.
    pub inner: Rect,
    /// The x of each node's lane.
    pub lanes: Vec<u16>,
    /// The y of the lane-name header (its first row).
    pub header_y: u16,
    /// Each lane's name as drawn, and the y of the row it is on: where the names do
    /// not fit side by side, every other one goes on a second row, with twice the room.
    pub names: Vec<(String, u16, u16)>,
    /// The y of the first event row.
    pub rows_y: u16,
    /// How many event rows fit.
    pub rows: usize,
    /// The event index of the first row.
    pub top: usize,
    /// The event index of each row, top to bottom (hidden timers are skipped).
    pub events: Vec<usize>,
    /// Width of the step / time column.
    pub prefix: u16,
}

/// Computes the diagram's geometry for `run` in `area`.
pub fn geometry(run: &RunView, area: Rect) -> Geometry {
    let inner = area.inner(ratatui::layout::Margin::new(1, 1));
    let prefix = if inner.width >= 56 { 16 } else { 8 };
    let n = run.trace().nodes.len().max(1) as u32;
    let w = u32::from(inner.width.saturating_sub(prefix));
    let x0 = inner.x + prefix;
    let lanes: Vec<u16> = (0..n)
        .map(|i| x0 + ((2 * i + 1) * w / (2 * n)) as u16)
        .collect();
    let names = lane_names(run, &lanes, inner);
    let header_rows = names.iter().map(|n| n.2 - inner.y + 1).max().unwrap_or(1);
    let rows = inner.height.saturating_sub(header_rows) as usize;
    let events = rows_around(run, rows);
    let top = events.first().copied().unwrap_or(0);
    Geometry {
        inner,
        lanes,
        header_y: inner.y,
        names,
        rows_y: inner.y + header_rows,
        rows,
        top,
        events,
        prefix,
    }
}

/// The lane names as drawn, each with its first column and row: whole names where
/// they fit between the lanes; else, on a diagram tall enough, every other one on a
/// second row with twice the room; else short forms. Each name stays within its room:
/// from halfway to the previous name on its row to halfway to the next (the panel's
/// edges at the ends).
fn lane_names(run: &RunView, lanes: &[u16], inner: Rect) -> Vec<(String, u16, u16)> {
    let names: Vec<&str> = run.trace().nodes.iter().map(|n| n.name.as_str()).collect();
    let rooms = |stride: usize| -> Vec<(u16, u16)> {
        (0..lanes.len())
            .map(|i| {
                let lo = i
                    .checked_sub(stride)
                    .map_or(inner.x, |p| (lanes[p] + lanes[i]) / 2 + 1);
                let hi = lanes
                    .get(i + stride)
                    .map_or(inner.right(), |&n| (lanes[i] + n) / 2);
                (lo, hi.max(lo + 1))
            })
            .collect()
    };
    let fit = |rooms: &[(u16, u16)]| {
        names
            .iter()
            .zip(rooms)
            .all(|(n, (lo, hi))| n.chars().count() <= usize::from(hi - lo))
    };
    let one = rooms(1);
    let stagger = !fit(&one) && inner.height >= 10 && names.len() > 1;
    let (rooms, stride) = if stagger { (rooms(2), 2) } else { (one, 1) };
    let widths: Vec<usize> = rooms.iter().map(|(lo, hi)| usize::from(hi - lo)).collect();
    short_names_in(&names, &widths)
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            let (lo, hi) = rooms[i];
            let len = n.chars().count() as u16;
            let x = lanes[i]
                .saturating_sub(len / 2)
                .min(hi.saturating_sub(len))
                .max(lo);
            let y = inner.y + if stride == 2 { (i % 2) as u16 } else { 0 };
            (n, x, y)
        })
        .collect()
}

/// The visible events of up to `rows` rows, with the cursor in the middle (or as near
/// as the trace's ends allow). Looks at no more events than it draws, plus the hidden
/// ones in between, so a frame's cost does not grow with the trace.
fn rows_around(run: &RunView, rows: usize) -> Vec<usize> {
    let len = run.trace().events.len();
    if rows == 0 || len == 0 {
        return Vec::new();
    }
    if !run.hide_timers {
        let top = run
            .cursor
            .saturating_sub(rows / 2)
            .min(len.saturating_sub(rows));
        return (top..len.min(top + rows)).collect();
    }
    let mut before: Vec<usize> = (0..run.cursor)
        .rev()
        .filter(|&i| run.visible(i))
        .take(rows / 2)
        .collect();
    let after: Vec<usize> = (run.cursor..len)
        .filter(|&i| run.visible(i))
        .take(rows - before.len())
        .collect();
    if before.len() + after.len() < rows {
        // Near the end: more rows above.
        let first = before.last().copied().unwrap_or(run.cursor);
        let more = rows - before.len() - after.len();
        before.extend((0..first).rev().filter(|&i| run.visible(i)).take(more));
    }
    before.reverse();
    before.extend(after);
    before
}

fn put(buf: &mut Buffer, clip: Rect, x: u16, y: u16, c: &str, st: Style) {
    if x >= clip.x && x < clip.right() && y >= clip.y && y < clip.bottom() {
        if let Some(cell) = buf.cell_mut((x, y)) {
            cell.set_symbol(c).set_style(st);
        }
    }
}

fn text(buf: &mut Buffer, clip: Rect, x: u16, y: u16, s: &str, st: Style) {
    for (i, ch) in s.chars().enumerate() {
        let mut tmp = [0u8; 4];
        put(buf, clip, x + i as u16, y, ch.encode_utf8(&mut tmp), st);
    }
}

/// A horizontal line from lane `a` to lane `b` (exclusive of both ends).
fn hline(buf: &mut Buffer, clip: Rect, a: u16, b: u16, y: u16, c: &str, st: Style) {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    for x in lo + 1..hi {
        put(buf, clip, x, y, c, st);
    }
}

/// Writes `label` in the middle of the line between `a` and `b`, if it fits.
fn label(buf: &mut Buffer, clip: Rect, a: u16, b: u16, y: u16, s: &str, st: Style) {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let room = hi.saturating_sub(lo) as usize;
    let len = s.chars().count();
    if room >= len + 4 {
        let x = lo + ((room - len) / 2) as u16;
        text(buf, clip, x, y, s, st);
    }
}

/// Draws the diagram of `run` in `area`.
pub fn render(run: &RunView, f: &mut Frame, area: Rect, focused: bool) {
    let border = if focused {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    f.render_widget(
        Block::bordered()
            .border_style(border)
            .title(" space-time · ↑/↓ ←/→ step "),
        area,
    );
    let g = geometry(run, area);
    let trace = run.trace();
    let buf = f.buffer_mut();
    let clip = g.inner;
    let dim = Style::new().fg(Color::DarkGray);

    // Lane names, each short enough for its room and unlike the others; the inspected
    // node highlighted, nodes down at the cursor in red.
    let inspected = run.inspected();
    for (i, (&x, (name, name_x, name_y))) in g.lanes.iter().zip(&g.names).enumerate() {
        let mut st = Style::new().fg(Color::White);
        if run.is_down(i, run.cursor) {
            st = st.fg(Color::Red);
        }
        if i == inspected {
            st = st
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
        }
        if *name_y > g.header_y {
            // A name on the second row hangs from its lane.
            put(buf, clip, x, g.header_y, "╷", dim);
        }
        text(buf, clip, *name_x, *name_y, name, st);
    }

    for (row, &i) in g.events.iter().enumerate() {
        let y = g.rows_y + row as u16;
        let e = &trace.events[i];
        // Lanes: solid while the node is up.
        for (n, &x) in g.lanes.iter().enumerate() {
            if run.is_down(n, i) {
                put(buf, clip, x, y, "┊", Style::new().fg(Color::Red));
            } else {
                put(buf, clip, x, y, "│", dim);
            }
        }
        // Network faults in force: a bar left of the lanes.
        for &(a, b, partition) in &run.net_faults {
            if a <= i && i < b {
                let c = if partition {
                    Color::Magenta
                } else {
                    Color::Yellow
                };
                put(
                    buf,
                    clip,
                    g.inner.x + g.prefix - 1,
                    y,
                    "▐",
                    Style::new().fg(c),
                );
            }
        }
        let prefix = if g.prefix >= 16 {
            format!("{i:>7} {:>7}", ms(e.t_us))
        } else {
            format!("{i:>7}")
        };
        let found = run.search.as_ref().is_some_and(|q| q.matches(trace, e));
        let prefix_style = if found {
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
        } else {
            dim
        };
        // The chain from a verdict's cause to its victim (Enter on the verdict).
        let chained = run.chain.is_some_and(|c| c.contains(i, e));
        let prefix_style = if chained {
            Style::new()
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD)
        } else {
            prefix_style
        };
        text(buf, clip, g.inner.x, y, &prefix, prefix_style);
        if chained {
            put(
                buf,
                clip,
                g.inner.x,
                y,
                "┃",
                Style::new().fg(Color::LightRed),
            );
        }
        let sym = glyph(&e.kind).unwrap_or(" ");

        let lane = |n: u16| g.lanes.get(usize::from(n)).copied().unwrap_or(g.inner.x);
        let me = lane(e.node);
        let st = |c: Color| Style::new().fg(c);
        match &e.kind {
            EventKind::Send { to, msg } => {
                let b = lane(*to);
                hline(buf, clip, me, b, y, "╌", st(Color::Gray));
                let head = if b > me { b - 1 } else { b + 1 };
                put(
                    buf,
                    clip,
                    head,
                    y,
                    if b > me { "›" } else { "‹" },
                    st(Color::Gray),
                );
                put(buf, clip, me, y, "●", st(Color::White));
                label(buf, clip, me, b, y, &msg_label(msg), st(Color::Gray));
            }
            EventKind::Deliver { from, msg } => {
                let a = lane(*from);
                hline(buf, clip, a, me, y, "─", st(Color::Green));
                put(
                    buf,
                    clip,
                    me,
                    y,
                    if me > a { "▶" } else { "◀" },
                    st(Color::Green),
                );
                label(buf, clip, a, me, y, &msg_label(msg), st(Color::Green));
            }
            EventKind::Drop { to, msg, .. } => {
                let b = lane(*to);
                let mid = (me + b) / 2;
                hline(buf, clip, me, mid, y, "╌", st(Color::Red));
                put(
                    buf,
                    clip,
                    mid,
                    y,
                    "✗",
                    st(Color::Red).add_modifier(Modifier::BOLD),
                );
                put(buf, clip, me, y, "●", st(Color::Red));
                label(buf, clip, mid, b, y, &msg_label(msg), st(Color::Red));
            }
            EventKind::Duplicate { to, msg } => {
                let b = lane(*to);
                hline(buf, clip, me, b, y, "═", st(Color::Yellow));
                let head = if b > me { b - 1 } else { b + 1 };
                put(buf, clip, head, y, "⇉", st(Color::Yellow));
                label(
                    buf,
                    clip,
                    me,
                    b,
                    y,
                    &format!("2× {}", msg_label(msg)),
                    st(Color::Yellow),
                );
            }
            EventKind::Timer { .. } => put(buf, clip, me, y, sym, st(Color::Cyan)),
            EventKind::Local { what, .. } => {
                let colour = match what {
                    Local::Commit => Color::Green,
                    Local::Abort => Color::Red,
                    Local::Compensate => Color::Yellow,
                    Local::Prepare => Color::Cyan,
                    Local::Log => Color::Blue,
                };
                put(buf, clip, me, y, sym, st(colour));
                text(buf, clip, me + 2, y, what.name(), st(colour));
            }
            EventKind::Reject { .. } => put(buf, clip, me, y, sym, st(Color::Red)),
            EventKind::Vote { .. } => put(buf, clip, me, y, sym, st(Color::Cyan)),
            EventKind::Decide { commit, .. } => {
                let c = if *commit { Color::Green } else { Color::Red };
                put(buf, clip, me, y, sym, st(c));
            }
            EventKind::Outcome { committed, .. } => {
                let c = if *committed { Color::Green } else { Color::Red };
                put(buf, clip, me, y, sym, st(c));
            }
            EventKind::Submit { .. } => put(buf, clip, me, y, sym, st(Color::White)),
            EventKind::Crash => {
                put(
                    buf,
                    clip,
                    me,
                    y,
                    sym,
                    st(Color::Red).add_modifier(Modifier::BOLD),
                );
                text(
                    buf,
                    clip,
                    me + 2,
                    y,
                    "CRASH",
                    st(Color::Red).add_modifier(Modifier::BOLD),
                );
            }
            EventKind::Restart => {
                put(
                    buf,
                    clip,
                    me,
                    y,
                    sym,
                    st(Color::Green).add_modifier(Modifier::BOLD),
                );
                text(buf, clip, me + 2, y, "restart", st(Color::Green));
            }
            EventKind::Partition { .. }
            | EventKind::Heal
            | EventKind::LossStart { .. }
            | EventKind::LossEnd { .. }
            | EventKind::Limit { .. } => {
                let (what, colour) = match &e.kind {
                    EventKind::Partition { .. } => (" partition ".to_string(), Color::Magenta),
                    EventKind::Heal => (" heal ".to_string(), Color::Green),
                    EventKind::LossStart { p, .. } => {
                        (format!(" loss {:.0}% ", p * 100.0), Color::Yellow)
                    }
                    EventKind::LossEnd { .. } => (" loss ends ".to_string(), Color::Yellow),
                    _ => (" LIMIT ".to_string(), Color::Red),
                };
                let x0 = g.inner.x + g.prefix;
                for x in x0..g.inner.right() {
                    put(buf, clip, x, y, "╌", st(colour));
                }
                let mid = x0
                    + g.inner
                        .right()
                        .saturating_sub(x0)
                        .saturating_sub(what.len() as u16)
                        / 2;
                text(
                    buf,
                    clip,
                    mid,
                    y,
                    &what,
                    st(colour).add_modifier(Modifier::BOLD),
                );
            }
            EventKind::Read { .. } => put(buf, clip, me, y, sym, st(Color::Cyan)),
            EventKind::ViewApplied { .. } => put(buf, clip, me, y, sym, st(Color::Cyan)),
            EventKind::Relay { .. } => put(buf, clip, me, y, sym, st(Color::Green)),
            EventKind::LockWait { .. } => put(buf, clip, me, y, sym, st(Color::Yellow)),
            EventKind::Lock { got, .. } => {
                let c = if *got { Color::Yellow } else { Color::Red };
                put(buf, clip, me, y, sym, st(c));
            }
        }
        if i == run.cursor {
            let r = Rect::new(g.inner.x, y, g.inner.width, 1);
            buf.set_style(
                r,
                Style::new()
                    .bg(Color::Indexed(237))
                    .add_modifier(Modifier::BOLD),
            );
            put(
                buf,
                clip,
                g.inner.x,
                y,
                "▶",
                Style::new().fg(Color::Yellow).bg(Color::Indexed(237)),
            );
        }
    }
}
