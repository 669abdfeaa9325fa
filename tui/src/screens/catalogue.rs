//! The catalogue screen: the scenarios, with what each one shows.

use crate::app::App;
use crate::widgets::about;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

/// Where the list and the detail go: the list as wide as its names need (within
/// 28..=50 % of the screen), so no two entries read the same.
pub fn areas_for(app: &App, area: Rect) -> (Rect, Rect, Rect) {
    let [body, status] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let need = list_names(app)
        .iter()
        .map(|n| n.chars().count() as u16 + 4)
        .max()
        .unwrap_or(0);
    // Room for the title, too.
    let w = need.max(26).clamp(body.width * 28 / 100, body.width / 2);
    let [list, detail] =
        Layout::horizontal([Constraint::Length(w), Constraint::Min(0)]).areas(body);
    (list, detail, status)
}

/// What the list calls each entry: its file stem (what `sovlab tui NAME` takes), which
/// is unique where the scenarios' titles begin alike; the whole label where two stems
/// are the same.
pub fn list_names(app: &App) -> Vec<String> {
    let stem = |label: &str| {
        std::path::Path::new(label)
            .file_stem()
            .map_or(label.to_string(), |s| s.to_string_lossy().into_owned())
    };
    let stems: Vec<String> = app.catalogue.iter().map(|e| stem(&e.name)).collect();
    stems
        .iter()
        .zip(&app.catalogue)
        .map(|(s, e)| {
            if stems.iter().filter(|x| *x == s).count() > 1 {
                e.name.clone()
            } else {
                s.clone()
            }
        })
        .collect()
}

/// The first visible list row, so the selection stays in view.
pub fn list_top(app: &App, list: Rect) -> usize {
    let rows = list.height.saturating_sub(2) as usize;
    app.cat_sel.saturating_sub(rows.saturating_sub(1))
}

/// Draws the catalogue.
pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let (list, detail, status) = areas_for(app, area);
    let top = list_top(app, list);
    let rows = list.height.saturating_sub(2) as usize;
    let names = list_names(app);
    let lines: Vec<Line> = app
        .catalogue
        .iter()
        .zip(&names)
        .enumerate()
        .skip(top)
        .take(rows)
        .map(|(i, (e, name))| {
            let (mark, colour) = match &e.scenario {
                Ok(_) => ("  ", Color::Reset),
                Err(_) => ("! ", Color::Red),
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
        text.push(Line::from(vec![
            Span::styled(e.name.clone(), Style::new().fg(Color::DarkGray)),
            Span::styled("  Enter: run it", Style::new().fg(Color::Yellow)),
        ]));
        match &e.scenario {
            Ok(s) => text.extend(about::lines(s, s.seed_or(app.seed))),
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
