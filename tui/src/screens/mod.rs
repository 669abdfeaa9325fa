//! Drawing: one module per screen, plus the overlays every screen shares.

pub mod catalogue;
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
        help_overlay(f, area);
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

/// The key list shown by `?`.
pub const HELP: [(&str, &str); 22] = [
    ("q / Ctrl-C", "quit"),
    ("?", "this help (any key closes it)"),
    ("← → / h l", "previous / next step"),
    (
        "↑ ↓ / k j",
        "step (diagram), node (inspector), row (verdicts, lists)",
    ),
    ("PgUp PgDn", "10 % of the run back / forward"),
    ("Home End", "first / last step"),
    ("space", "play / pause"),
    ("+ -", "playback faster / slower"),
    ("n p", "next / previous fault or violation"),
    ("Tab", "next panel (Shift-Tab: previous)"),
    ("[ ]", "previous / next node in the inspector"),
    ("Enter", "open (lists); jump to where it broke (verdicts)"),
    ("f", "what-if: add a fault here and fork the run"),
    ("u / Backspace", "undo the last fork"),
    ("c", "compare protocols on the same faults"),
    ("s S", "next / previous seed, keeping the virtual time"),
    ("Esc", "back"),
    ("mouse wheel", "step (diagram), move (lists)"),
    ("click", "choose a step, a node, a timeline position"),
    ("", ""),
    ("diagram", "● send  ▶ deliver  ✗ lost  ⇉ duplicate  ◷ timer"),
    (
        "",
        "■ commit  ↶ compensate  ◆ prepare/decide  ✖ crash  ↻ restart",
    ),
];

fn help_overlay(f: &mut Frame, area: Rect) {
    let r = centered(area, 78, HELP.len() as u16 + 2);
    let rows = r.height.saturating_sub(2) as usize;
    // On a short terminal, the keys that fit and a word about the rest.
    let shown = if rows < HELP.len() {
        rows.saturating_sub(1)
    } else {
        HELP.len()
    };
    let mut lines: Vec<Line> = HELP[..shown]
        .iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!("{k:>14}  "), Style::new().fg(Color::Yellow)),
                Span::raw(*v),
            ])
        })
        .collect();
    if shown < HELP.len() {
        lines.push(Line::styled(
            format!("… {} more: a taller window shows all", HELP.len() - shown),
            Style::new().fg(Color::DarkGray),
        ));
    }
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" help · keys ")),
        r,
    );
}

fn menu_overlay(menu: &crate::whatif::WhatIfMenu, f: &mut Frame, area: Rect) {
    let h = (menu.choices.len() as u16 + 3).min(area.height);
    let r = centered(area, 58, h);
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
        " Enter fork · Esc cancel",
        Style::new().fg(Color::DarkGray),
    )));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(format!(" what if, at {} ms … ", menu.at_ms))),
        r,
    );
}
