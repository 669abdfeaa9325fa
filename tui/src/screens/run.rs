//! The run screen: diagram, inspector, verdicts and timeline around one cursor.

use crate::app::{App, Panel, RunView, SPEEDS};
use crate::describe::{describe, ms};
use crate::screens::hints::{footer, RUN_HINTS};
use crate::widgets::{about, diagram, inspector, timeline, verdict};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

/// Where each part of the run screen goes; shared by drawing and mouse hit-tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// The title bar.
    pub title: Rect,
    /// The space-time diagram (or, toggled with `d`, the scenario's description).
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

/// Lays the run screen out in `area` for `run`: the verdict panel as tall as its lines
/// (every invariant at least), the inspector the rest of the right column.
pub fn areas(area: Rect, run: &RunView) -> Areas {
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
    // The verdicts' own lines, up to half the column; but every invariant, whatever
    // that leaves the inspector.
    let want = verdict::height(run, right.width) + 2;
    let floor = run.result.verdicts.len().max(1) as u16 + 2;
    let most = (body.height / 2).max(floor);
    let [inspector, verdicts] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(want.min(most))]).areas(right);
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
    let a = areas(area, run);
    let trace = run.trace();
    let play = if app.playing { "▶" } else { "❚❚" };
    let mut title = vec![
        Span::styled(
            " sovlab ",
            Style::new()
                .bg(Color::Blue)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
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
        title.push(Span::styled(
            format!("│ fork {} ", run.depth()),
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

    if run.show_about {
        let lines = about::story_first(&run.scenario, run.seed);
        f.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: false }).block(
                Block::bordered()
                    .border_style(Style::new().fg(Color::Cyan))
                    .title(" about this scenario · d: back to the diagram "),
            ),
            a.diagram,
        );
    } else {
        diagram::render(run, f, a.diagram, run.panel == Panel::Diagram);
    }
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
    let width = usize::from(a.footer.width);
    let line = match &app.prompt {
        Some(text) => Line::from(vec![
            Span::styled(format!("/{text}▏"), Style::new().fg(Color::Yellow)),
            Span::styled(
                "  txn (t12), node, kind or words · Enter find · Esc cancel",
                Style::new().fg(Color::DarkGray),
            ),
        ]),
        None => Line::styled(
            footer(&app.status, &RUN_HINTS, width),
            Style::new().fg(Color::Gray),
        ),
    };
    f.render_widget(Paragraph::new(line), a.footer);
}
