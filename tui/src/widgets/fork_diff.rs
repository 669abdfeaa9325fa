//! A fork's difference, side by side: outcomes, aborts by cause and verdicts before
//! and after the what-if, over the library's comparison (`sovlab_sim::diff`).

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use sovlab_sim::diff::Diff;

/// The comparison as panel lines: a header, then one `label  before -> after` row per
/// compared value; a changed row is bold, an unchanged one grey.
pub fn lines(diff: &Diff) -> Vec<Line<'static>> {
    let width = diff.rows.iter().map(|r| r.label.len()).max().unwrap_or(0);
    let mut out = vec![Line::styled(
        format!("  {:<width$}  {:>12}    {}", "", "before", "after"),
        Style::new().fg(Color::DarkGray),
    )];
    for r in &diff.rows {
        let style = if r.changed() {
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(Color::DarkGray)
        };
        let arrow = if r.changed() { "->" } else { "  " };
        out.push(Line::styled(
            format!(
                "  {:<width$}  {:>12} {arrow} {}",
                r.label, r.before, r.after
            ),
            style,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovlab_sim::diff::Row;

    fn text(l: &Line) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn changed_rows_show_an_arrow_and_unchanged_ones_do_not() {
        let row = |label: &str, before: &str, after: &str| Row {
            label: label.into(),
            before: before.into(),
            after: after.into(),
        };
        let d = Diff {
            first_divergence: Some(7),
            rows: vec![
                row("committed", "12", "9"),
                row("termination", "holds", "holds"),
            ],
            changed_txns: vec![],
        };
        let l = lines(&d);
        assert_eq!(l.len(), 3);
        assert!(text(&l[1]).contains("12 -> 9"), "{}", text(&l[1]));
        assert!(!text(&l[2]).contains("->"), "{}", text(&l[2]));
        assert!(text(&l[0]).contains("before") && text(&l[0]).contains("after"));
    }
}
