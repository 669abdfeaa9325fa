//! The run screen: diagram, inspector, verdicts and timeline around one cursor.

use crate::app::{App, Panel, RunView, SPEEDS};
use crate::describe::{describe, ms};
use crate::widgets::{diagram, inspector, timeline, verdict};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// Where each part of the run screen goes; shared by drawing and mouse hit-tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// The title bar.
    pub title: Rect,
    /// The space-time diagram.
    pub diagram: Rect,
    /// The store inspector.
    pub inspector: Rect,
    /// The verdict panel.
    pub verdicts: Rect,
    /// The current event in words.
    pub detail: Rect,
    /// The timeline bar.
    pub timeline: Rect,
    /// Key hints or the last message.
    pub footer: Rect,
}

/// Lays the run screen out in `area`.
pub fn areas(area: Rect) -> Areas {
    let [title, body, detail, timeline, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area);
    // Narrow terminals need the inspector's room more than the diagram's.
    let left = if area.width < 120 { 50 } else { 56 };
    let [diagram, right] = Layout::horizontal([
        Constraint::Percentage(left),
        Constraint::Percentage(100 - left),
    ])
    .areas(body);
    let [inspector, verdicts] =
        Layout::vertical([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(right);
    Areas {
        title,
        diagram,
        inspector,
        verdicts,
        detail,
        timeline,
        footer,
    }
}

/// Draws the run screen.
pub fn render(app: &App, run: &RunView, f: &mut Frame, area: Rect) {
    let a = areas(area);
    let trace = run.trace();
    let play = if app.playing { "▶" } else { "❚❚" };
    let mut title = vec![
        Span::styled(
            " sovlab ",
            Style::new().bg(Color::Blue).fg(Color::White).bold(),
        ),
        Span::raw(format!(
            " step {}/{} │ {} ms │ {play} {}/s ",
            run.cursor,
            trace.events.len(),
            ms(run.now_us()),
            SPEEDS[app.speed]
        )),
        Span::styled(
            format!("│ seed {} ", run.seed),
            Style::new().fg(Color::Cyan),
        ),
    ];
    if run.fork.is_some() {
        let mut depth = 0;
        let mut p = run.parent.as_deref();
        while let Some(x) = p {
            depth += 1;
            p = x.parent.as_deref();
        }
        title.push(Span::styled(
            format!("│ fork {depth} "),
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        ));
    }
    if run.from_file {
        title.push(Span::styled(
            "│ from file ",
            Style::new().fg(Color::DarkGray),
        ));
    }
    title.push(Span::raw(format!("│ {}", run.label)));
    f.render_widget(Paragraph::new(Line::from(title)), a.title);

    diagram::render(run, f, a.diagram, run.panel == Panel::Diagram);
    inspector::render(run, f, a.inspector, run.panel == Panel::Inspector);
    verdict::render(run, f, a.verdicts, run.panel == Panel::Verdicts);

    let detail = match trace.events.get(run.cursor) {
        Some(e) => format!("#{} {} ms  {}", run.cursor, ms(e.t_us), describe(trace, e)),
        None => "the trace has no events".to_string(),
    };
    f.render_widget(
        Paragraph::new(Span::styled(
            detail,
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        )),
        a.detail,
    );
    timeline::render(run, f, a.timeline);
    let hints = if app.status.is_empty() {
        "←/→ step · space play · n/p fault · Tab panel · f what-if · u undo · c compare · s/S seed · ? help · q quit".to_string()
    } else {
        app.status.clone()
    };
    f.render_widget(
        Paragraph::new(Span::styled(hints, Style::new().fg(Color::Gray))),
        a.footer,
    );
}

trait BoldExt {
    fn bold(self) -> Self;
}

impl BoldExt for Style {
    fn bold(self) -> Self {
        self.add_modifier(Modifier::BOLD)
    }
}
