//! The verdict panel: every invariant, held or broken as of the cursor, what the run
//! cost (when its scenario has a service time), the transaction outcomes, and for a
//! fork how the verdict changed.

use crate::app::RunView;
use crate::whatif::verdict_changes;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;
use sovlab_sim::check::Verdict;

/// The verdict state of `v` as of event `cursor`, in words and colour.
pub fn status(v: &Verdict, cursor: usize) -> (String, Color) {
    status_in(v, cursor, usize::MAX)
}

/// [`status`] in at most `room` characters where a shorter wording exists, so every
/// invariant keeps one line on a narrow screen.
pub fn status_in(v: &Verdict, cursor: usize, room: usize) -> (String, Color) {
    let (words, colour): (Vec<String>, Color) = match (v.holds, v.at_seq) {
        (true, _) => (vec!["holds".into()], Color::Green),
        (false, Some(at)) if at as usize <= cursor => (
            vec![format!("BROKEN at step {at}"), format!("BROKEN at {at}")],
            Color::Red,
        ),
        (false, Some(at)) => (
            vec![
                format!("holds so far; breaks at step {at}"),
                format!("so far; breaks at step {at}"),
                format!("breaks at step {at}"),
            ],
            Color::Yellow,
        ),
        (false, None) => (
            vec![
                "BROKEN (judged at the end)".into(),
                "BROKEN (at the end)".into(),
            ],
            Color::Red,
        ),
    };
    let fit = words.iter().find(|w| w.chars().count() <= room);
    let word = fit
        .unwrap_or_else(|| words.last().expect("one at least"))
        .clone();
    (word, colour)
}

/// How many rows the panel's lines take for `run` in `width` columns (its inner
/// height when nothing is cut), wrapping counted.
pub fn height(run: &RunView, width: u16) -> u16 {
    let w = usize::from(width.saturating_sub(2)).max(1);
    lines(run, w, false)
        .iter()
        .map(|l| l.width().div_ceil(w).max(1) as u16)
        .sum()
}

/// Draws the verdict panel of `run` in `area`. Verdict `i` is on inner row `i`.
pub fn render(run: &RunView, f: &mut Frame, area: Rect, focused: bool) {
    let border = if focused {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    let width = usize::from(area.width.saturating_sub(2));
    f.render_widget(
        Paragraph::new(lines(run, width, focused))
            .wrap(Wrap { trim: false })
            .block(
                Block::bordered()
                    .border_style(border)
                    .title(format!(" verdicts · as of step {} ", run.cursor)),
            ),
        area,
    );
}

/// The panel's lines in `width` columns: one per invariant first (none is ever
/// pushed out by the others), then expect, the selected violation, the outcomes and,
/// for a fork, how the verdict changed.
fn lines(run: &RunView, width: usize, focused: bool) -> Vec<Line<'static>> {
    let r = &run.result;
    let mut lines: Vec<Line> = Vec::new();
    if r.verdicts.is_empty() {
        lines.push(Line::from("no invariant applies (no [write] or [read])"));
    }
    let name_w = r
        .verdicts
        .iter()
        .map(|v| v.name.chars().count())
        .max()
        .unwrap_or(0);
    for (i, v) in r.verdicts.iter().enumerate() {
        let room = width.saturating_sub(name_w + 3);
        let (word, colour) = status_in(v, run.cursor, room);
        let mark = if colour == Color::Green {
            "✓"
        } else if colour == Color::Red {
            "✗"
        } else {
            "…"
        };
        let mut name_style = Style::new();
        if focused && i == run.verdict_sel {
            name_style = name_style.bg(Color::Blue).add_modifier(Modifier::BOLD);
        }
        lines.push(Line::from(vec![
            Span::styled(format!("{mark} "), Style::new().fg(colour)),
            Span::styled(format!("{:<name_w$}", v.name), name_style),
            Span::styled(format!(" {word}"), Style::new().fg(colour)),
        ]));
    }
    let e = &r.report.expect;
    lines.push(if e.met {
        Line::styled("expect    met", Style::new().fg(Color::Green))
    } else {
        Line::styled(
            format!("expect    NOT met: {}", e.failures.join("; ")),
            Style::new().fg(Color::Red),
        )
    });
    // Right under the verdicts: in a scenario about cost it is the other half of
    // the answer, and it must stay on an 80x24 screen.
    if let Some(l) = cost_line(&r.report, width) {
        lines.push(l);
    }
    if let Some(v) = r.verdicts.get(run.verdict_sel).filter(|v| !v.holds) {
        if let Some(ex) = &v.example {
            lines.push(Line::styled(
                format!("  {}: {ex}", v.name),
                Style::new().fg(Color::Red),
            ));
        }
    }
    if let Some(w) = &r.report.write {
        lines.push(Line::from(vec![
            Span::raw("at the end "),
            Span::styled(
                format!("{} committed", w.committed),
                Style::new().fg(Color::Green),
            ),
            Span::raw(" · "),
            Span::styled(
                format!("{} aborted", w.aborted),
                Style::new().fg(Color::Yellow),
            ),
            Span::raw(" · "),
            Span::styled(
                format!("{} unfinished", w.unfinished),
                Style::new().fg(if w.unfinished > 0 {
                    Color::Red
                } else {
                    Color::Gray
                }),
            ),
        ]));
    }
    if let Some(w) = r.report.write.as_ref().filter(|w| w.aborted > 0) {
        lines.push(Line::styled(
            format!("aborted by {}", w.causes_in_words(" · ")),
            Style::new().fg(Color::Yellow),
        ));
    }
    if r.report.write.is_some() {
        let (c, a) = run.told_by_cursor();
        let why = if width >= 64 {
            " (what the client heard)"
        } else {
            ""
        };
        lines.push(Line::styled(
            format!("told so far: {c} committed · {a} aborted{why}"),
            Style::new().fg(Color::Gray),
        ));
    }
    if let Some(fork) = &run.fork {
        let at = fork
            .diverged_at
            .map_or("nowhere: same trace".to_string(), |d| format!("step {d}"));
        lines.push(Line::styled(
            format!("fork: {} · diverged at {at}", fork.label),
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        ));
        let changes = verdict_changes(&fork.before, &r.verdicts);
        let early = fork
            .diverged_at
            .and_then(|d| r.trace.events.get(d))
            .map(|e| e.t_us);
        if let Some(t) = early.filter(|t| *t < fork.at_ms * 1000) {
            // Should not happen any more: faults are walked by the supervisor's tick,
            // so a fork runs as its parent until the added fault. Kept as a guard.
            lines.push(Line::styled(
                format!(
                    "  (at {} ms, before the fault at {} ms: the added fault reshuffled the simulator's random draws)",
                    crate::describe::ms(t),
                    fork.at_ms
                ),
                Style::new().fg(Color::DarkGray),
            ));
        }
        if changes.is_empty() {
            lines.push(Line::styled(
                "  verdict unchanged",
                Style::new().fg(Color::Magenta),
            ));
        }
        for c in changes {
            lines.push(Line::styled(
                format!("  {c}"),
                Style::new().fg(Color::Magenta),
            ));
        }
        if let (Some((c0, a0, u0)), Some(w)) = (fork.before_outcomes, &r.report.write) {
            lines.push(Line::styled(
                format!(
                    "  outcomes {c0}/{a0}/{u0} -> {}/{}/{} (committed/aborted/unfinished)",
                    w.committed, w.aborted, w.unfinished
                ),
                Style::new().fg(Color::Magenta),
            ));
        }
        lines.extend(super::fork_diff::lines(&fork.diff));
    }
    lines
}

/// What the run cost, when its scenario has a service time (else none, so every
/// other scenario's panel is as before): throughput, p99 latency, availability and
/// the busiest node, in words where `width` has room.
fn cost_line(report: &sovlab_sim::Report, width: usize) -> Option<Line<'static>> {
    if report.nodes.0.is_empty() {
        return None;
    }
    let m = sovlab_sim::sweep::SeedCost::of(report);
    let long = width >= 64;
    let mut parts = Vec::new();
    if let Some(t) = m.write_throughput_per_s {
        parts.push(if long {
            format!("{t:.1} committed/s")
        } else {
            format!("{t:.1}/s")
        });
    }
    if let Some(w) = &report.write {
        parts.push(format!("p99 {} ms", w.latency_ms.p99));
    }
    if let Some(a) = m.availability {
        let word = if long { "available" } else { "avail" };
        parts.push(format!("{word} {:.0}%", 100.0 * a));
    }
    if let Some((n, u)) = m.busiest() {
        let word = if long { "busiest " } else { "" };
        parts.push(format!("{word}{n} {:.0}%", 100.0 * u));
    }
    Some(Line::styled(
        format!("cost {}", parts.join(" · ")),
        Style::new().fg(Color::Cyan),
    ))
}
