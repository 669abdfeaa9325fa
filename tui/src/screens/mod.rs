//! Drawing: one module per screen, plus the overlays every screen shares.

pub mod catalogue;
pub mod hints;
pub mod run;

use crate::app::{App, Screen};
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// The smallest terminal the screens are laid out for.
pub const MIN_W: u16 = 60;
/// See [`MIN_W`].
pub const MIN_H: u16 = 15;

/// Draws the whole app. Reads `app`, never changes it.
pub fn render(app: &App, f: &mut Frame) {
    let area = f.area();
    if area.width < MIN_W || area.height < MIN_H {
        let msg = format!(
            "sovlab needs a terminal of at least {MIN_W}x{MIN_H} (this one is {}x{}). \
             Enlarge it, or press q to quit.",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    match app.screen {
        Screen::Catalogue => catalogue::render(app, f, area),
        Screen::Run => match &app.run {
            Some(run) => run::render(app, run, f, area),
            None => catalogue::render(app, f, area),
        },
        Screen::Compare => match &app.compare {
            Some(c) => {
                let [body, status] =
                    Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
                crate::compare::render(c, f, body);
                status_line(app, f, status);
            }
            None => catalogue::render(app, f, area),
        },
    }
    if let Some(menu) = &app.menu {
        menu_overlay(menu, f, area);
    }
    if app.help {
        help_overlay(app, f, area);
    }
}

/// The bottom line: the last message, else key hints.
pub fn status_line(app: &App, f: &mut Frame, area: Rect) {
    let text = if app.status.is_empty() {
        "? help · q quit".to_string()
    } else {
        app.status.clone()
    };
    f.render_widget(
        Paragraph::new(Line::from(Span::styled(text, Style::new().fg(Color::Gray)))),
        area,
    );
}

/// A rectangle of at most `w` x `h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [c] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    c
}

/// Where the meaning of every verdict is written down, in the repository.
pub const CONCEPTS: &str = "docs/concepts.md";

/// The key list shown by `?`: every key the app answers to.
pub const HELP: [(&str, &str); 31] = [
    ("q / Ctrl-C", "quit"),
    ("?", "this help (↑/↓ scroll it; any other key closes it)"),
    ("← → / h l", "previous / next step"),
    (
        "↑ ↓ / k j",
        "step (diagram), node (inspector), row (verdicts, lists)",
    ),
    ("PgUp PgDn", "10 % of the run back / forward"),
    ("Home End", "first / last step"),
    ("space", "play / pause"),
    ("+ -", "playback faster / slower"),
    ("n p", "next / previous fault or violation (every one)"),
    (
        "/",
        "search the diagram: t12 (a txn), a node, a kind, words",
    ),
    ("n p / N", "after a search: next / previous match"),
    ("Esc", "end the search; close a menu; back one screen"),
    ("Tab", "next panel (Shift-Tab: previous)"),
    ("[ ]", "previous / next node in the inspector (pins it)"),
    (
        "P",
        "pin the inspector to its node, or follow each step's node",
    ),
    ("t", "hide / show timers in the diagram"),
    (
        "d",
        "the scenario's description, faults and expect / the diagram",
    ),
    (
        "Enter",
        "open (lists); verdicts: to the cause, the chain marked ┃",
    ),
    ("f", "what-if: add a fault here and fork the run"),
    (
        "← → (menu)",
        "what-if: a shorter / longer restart delay or window",
    ),
    ("u / Backspace", "undo the last fork"),
    ("c", "compare protocols on the same faults"),
    (
        "s S",
        "next / previous seed, keeping the time and the forks",
    ),
    ("mouse wheel", "step (diagram), move (lists)"),
    ("click", "choose a step, a node, a timeline position"),
    ("", ""),
    (
        "verdicts",
        "holds · holds so far; breaks at step N (a later step",
    ),
    (
        "",
        "breaks it) · BROKEN at step N; expect: what the scenario",
    ),
    (
        "",
        "predicts; a predicted break is the lesson, not a failure.",
    ),
    (
        "",
        "Every invariant and outcome is defined in docs/concepts.md",
    ),
    ("", ""),
];

/// Every line of the help: the keys, then the diagram's legend.
pub fn help_lines() -> Vec<Line<'static>> {
    let key = |k: &str, v: &str| {
        Line::from(vec![
            Span::styled(format!("{k:>14}  "), Style::new().fg(Color::Yellow)),
            Span::raw(v.to_string()),
        ])
    };
    let mut lines: Vec<Line> = HELP.iter().map(|(k, v)| key(k, v)).collect();
    for (i, (sym, what)) in crate::widgets::glyphs::LEGEND.iter().enumerate() {
        let head = if i == 0 { "diagram  " } else { "" };
        lines.push(key(&format!("{head}{sym}"), what));
    }
    lines
}

fn help_overlay(app: &App, f: &mut Frame, area: Rect) {
    let all = help_lines();
    let r = centered(area, 78, all.len() as u16 + 2);
    let rows = r.height.saturating_sub(2) as usize;
    // On a short terminal, a window of the lines, scrolled with ↑/↓.
    let top = app.help_scroll.min(all.len().saturating_sub(rows));
    let lines: Vec<Line> = all.into_iter().skip(top).take(rows).collect();
    let more = if top + rows < HELP.len() + crate::widgets::glyphs::LEGEND.len() {
        " · ↓ more "
    } else {
        " "
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(format!(" help · keys{more}"))
                .title_bottom(format!(" what the verdicts mean: {CONCEPTS} ")),
        ),
        r,
    );
}

fn menu_overlay(menu: &crate::whatif::WhatIfMenu, f: &mut Frame, area: Rect) {
    let h = (menu.choices.len() as u16 + 3).min(area.height);
    let r = centered(area, 64, h);
    let inner_h = h.saturating_sub(3) as usize;
    let top = menu.sel.saturating_sub(inner_h.saturating_sub(1));
    let mut lines: Vec<Line> = menu
        .choices
        .iter()
        .enumerate()
        .skip(top)
        .take(inner_h)
        .map(|(i, c)| {
            let st = if i == menu.sel {
                Style::new().bg(Color::Blue).add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            Line::from(Span::styled(format!(" {} ", c.label), st))
        })
        .collect();
    lines.push(Line::from(Span::styled(
        format!(
            " ←/→ time: {} ms (restart delay, window) · Enter fork · Esc",
            menu.duration_ms()
        ),
        Style::new().fg(Color::DarkGray),
    )));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(format!(" what if, at {} ms … ", menu.at_ms))),
        r,
    );
}
