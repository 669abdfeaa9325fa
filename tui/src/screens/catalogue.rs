//! The catalogue screen: the scenarios, with what each one shows.

use crate::app::App;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

/// Where the list and the detail go.
pub fn areas(area: Rect) -> (Rect, Rect, Rect) {
    let [body, status] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let [list, detail] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(body);
    (list, detail, status)
}

/// The first visible list row, so the selection stays in view.
pub fn list_top(app: &App, list: Rect) -> usize {
    let rows = list.height.saturating_sub(2) as usize;
    app.cat_sel.saturating_sub(rows.saturating_sub(1))
}

/// Draws the catalogue.
pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let (list, detail, status) = areas(area);
    let top = list_top(app, list);
    let rows = list.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .catalogue
        .iter()
        .enumerate()
        .skip(top)
        .take(rows)
        .map(|(i, e)| {
            let (mark, colour) = match &e.scenario {
                Ok(_) => ("  ", Color::Reset),
                Err(_) => ("! ", Color::Red),
            };
            let name = match &e.scenario {
                Ok(s) => s.name.clone(),
                Err(_) => e.name.clone(),
            };
            let mut st = Style::new().fg(colour);
            if i == app.cat_sel {
                st = st.bg(Color::Blue).add_modifier(Modifier::BOLD);
            }
            Line::from(Span::styled(format!("{mark}{name}"), st))
        })
        .collect();
    let empty = app.catalogue.is_empty();
    let list_widget = if empty {
        Paragraph::new("no scenarios found: pass a scenario file, or run from a directory with scenarios/*.toml")
            .wrap(Wrap { trim: true })
    } else {
        Paragraph::new(lines)
    };
    f.render_widget(
        list_widget.block(
            Block::bordered().title(format!(" sovlab · scenarios ({}) ", app.catalogue.len())),
        ),
        list,
    );

    let mut text: Vec<Line> = Vec::new();
    if let Some(e) = app.catalogue.get(app.cat_sel) {
        text.push(Line::from(Span::styled(
            e.name.clone(),
            Style::new().fg(Color::DarkGray),
        )));
        match &e.scenario {
            Ok(s) => {
                text.push(Line::from(Span::styled(
                    s.name.clone(),
                    Style::new().add_modifier(Modifier::BOLD),
                )));
                text.push(Line::from(""));
                if let Some(d) = &s.description {
                    // Re-flow the description: blank lines separate paragraphs.
                    for para in d.split("\n\n") {
                        let words: Vec<&str> = para.split_whitespace().collect();
                        text.push(Line::from(words.join(" ")));
                        text.push(Line::from(""));
                    }
                }
                let services: Vec<String> = s
                    .services
                    .iter()
                    .map(|x| format!("{} ({})", x.name, x.store.name()))
                    .collect();
                text.push(Line::from(format!("services  {}", services.join(", "))));
                if let Some(w) = &s.write {
                    text.push(Line::from(format!(
                        "write     {} · {} transactions · {} steps",
                        w.protocol.name(),
                        w.transactions,
                        w.steps.len()
                    )));
                }
                if let Some(r) = &s.read {
                    text.push(Line::from(format!(
                        "read      {} · {} queries",
                        r.method.name(),
                        r.queries
                    )));
                }
                text.push(Line::from(format!(
                    "faults    {}   seed {}",
                    s.faults.len(),
                    s.seed_or(app.seed)
                )));
                if let Some(x) = &s.expect {
                    if !x.holds.is_empty() {
                        text.push(Line::from(format!(
                            "expect    holds: {}",
                            x.holds.join(", ")
                        )));
                    }
                    if !x.violated.is_empty() {
                        text.push(Line::from(format!(
                            "          violated: {}",
                            x.violated.join(", ")
                        )));
                    }
                }
                text.push(Line::from(""));
                text.push(Line::from(Span::styled(
                    "Enter: run it",
                    Style::new().fg(Color::Yellow),
                )));
            }
            Err(err) => {
                text.push(Line::from(Span::styled(
                    "this scenario cannot be run:",
                    Style::new().fg(Color::Red),
                )));
                for l in err.lines() {
                    text.push(Line::from(l.to_string()));
                }
            }
        }
    }
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" about ")),
        detail,
    );
    let mut status_app_line = app.status.clone();
    if status_app_line.is_empty() {
        status_app_line = "↑/↓ choose · Enter run · ? help · q quit".into();
    }
    f.render_widget(
        Paragraph::new(Span::styled(status_app_line, Style::new().fg(Color::Gray))),
        status,
    );
}
