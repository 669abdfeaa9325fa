//! The timeline bar: the whole run in one row, with faults, violations, the fork
//! point and the cursor marked; a click jumps there.

use crate::app::{MarkKind, RunView};
use crate::describe::ms;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::Frame;

/// The column of event `seq` on a bar of `width` columns for a run of `last + 1` events.
pub fn column(seq: usize, last: usize, width: u16) -> u16 {
    if last == 0 || width <= 1 {
        return 0;
    }
    (seq.min(last) as u128 * u128::from(width - 1) / last as u128) as u16
}

/// The event at column `col` (inverse of [`column`]).
pub fn seq_at(col: u16, last: usize, width: u16) -> usize {
    if width <= 1 {
        return 0;
    }
    let col = col.min(width - 1);
    ((u128::from(col) * last as u128 + u128::from(width - 2)) / u128::from(width - 1)) as usize
}

/// Draws the timeline of `run` in `area` (two rows: bar, then scale and legend).
pub fn render(run: &RunView, f: &mut Frame, area: Rect) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let buf = f.buffer_mut();
    let last = run.last();
    let w = area.width;
    let y = area.y;
    for x in 0..w {
        if let Some(c) = buf.cell_mut((area.x + x, y)) {
            c.set_symbol("─")
                .set_style(Style::new().fg(Color::DarkGray));
        }
    }
    // The chain marked in the diagram (Enter on a broken verdict), from its first
    // event to its last (a stranded victim's story runs on after its detection), as
    // a heavy red span under the marks.
    if let Some(chain) = run.chain {
        for x in column(chain.from, last, w)..=column(chain.to, last, w) {
            if let Some(c) = buf.cell_mut((area.x + x, y)) {
                c.set_symbol("━").set_style(Style::new().fg(Color::Red));
            }
        }
    }
    for &(seq, kind) in &run.marks {
        let (sym, colour) = match kind {
            MarkKind::Fault => ("▲", Color::Yellow),
            MarkKind::Violation => ("✗", Color::Red),
            MarkKind::Fork => ("◆", Color::Magenta),
        };
        if let Some(c) = buf.cell_mut((area.x + column(seq, last, w), y)) {
            c.set_symbol(sym)
                .set_style(Style::new().fg(colour).add_modifier(Modifier::BOLD));
        }
    }
    if let Some(c) = buf.cell_mut((area.x + column(run.cursor, last, w), y)) {
        c.set_style(Style::new().bg(Color::Cyan).fg(Color::Black));
        if c.symbol() == "─" {
            c.set_symbol("█");
        }
    }
    if area.height < 2 {
        return;
    }
    // The bar is drawn in steps (one column per `last / width` events), not in time:
    // its ends say so, with the run's length in virtual time beside the last step.
    let end = run.trace().events.last().map_or(0, |e| e.t_us);
    let left = "step 0";
    let right = format!("step {last} · {} ms", ms(end));
    let long = "▲ fault  ✗ violation  ◆ fork  █ cursor · click to jump";
    let short = "▲ fault ✗ violation ◆ fork █ cursor";
    let y2 = y + 1;
    let dim = Style::new().fg(Color::DarkGray);
    buf.set_stringn(area.x, y2, left, w as usize, dim);
    let rx = area.right().saturating_sub(right.chars().count() as u16);
    if rx > area.x + left.len() as u16 {
        buf.set_stringn(rx, y2, &right, right.chars().count(), dim);
    }
    // Centred, where it clears both ends.
    let ends = 2 * (right.chars().count() as u16 + 2);
    if let Some(legend) = [long, short]
        .into_iter()
        .find(|l| w > l.chars().count() as u16 + ends)
    {
        let lw = legend.chars().count() as u16;
        buf.set_stringn(area.x + (w - lw) / 2, y2, legend, lw as usize, dim);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_positions_round_trip_at_the_ends() {
        assert_eq!(column(0, 999, 80), 0);
        assert_eq!(column(999, 999, 80), 79);
        assert_eq!(seq_at(0, 999, 80), 0);
        assert_eq!(seq_at(79, 999, 80), 999);
        for col in 0..80 {
            assert_eq!(column(seq_at(col, 999, 80), 999, 80), col);
        }
        assert_eq!(column(5, 0, 80), 0);
    }
}
