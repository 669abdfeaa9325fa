//! A CQRS read view's rows as of the cursor, each beside what its sources hold at that
//! moment: the staleness the lesson is about, row by row.

use crate::app::RunView;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use sovlab_sim::msg::{StepIx, TxnId};
use sovlab_sim::read::{sources, state_code, state_from_code};
use sovlab_sim::store::Snapshot;
use sovlab_sim::trace::Role;
use std::collections::BTreeMap;

/// One row: what the view holds and what the source holds (state codes, and the
/// source as an index into `Truth::services`), by row.
type Rows = BTreeMap<(TxnId, StepIx), (Option<i64>, Option<(i64, usize)>)>;

/// What the view's sources hold as of the cursor: by row, the state code and the
/// service that holds it.
#[derive(Debug, Default)]
pub struct Truth {
    rows: BTreeMap<(TxnId, StepIx), (i64, usize)>,
    services: Vec<String>,
}

/// The sources' rows as of `run`'s cursor, if `node` is a read view (else `None`).
pub fn truth(run: &RunView, node: usize) -> Option<Truth> {
    let trace = run.trace();
    if trace.nodes.get(node)?.role != Role::View {
        return None;
    }
    let s = &trace.scenario;
    let mut rows = BTreeMap::new();
    let services = s.services.iter().map(|x| x.name.clone()).collect();
    for svc in sources(s) {
        let Some(store) = trace.stores.iter().position(|st| st.service == Some(svc)) else {
            continue;
        };
        run.replay.with_at(trace, store, run.cursor, |snap| {
            for (row, rec) in &snap.steps {
                rows.insert(*row, (state_code(rec.state), svc));
            }
        });
    }
    Some(Truth { rows, services })
}

fn state_name(code: i64) -> &'static str {
    state_from_code(code).map_or("?", |s| s.name())
}

/// The view store's lines, at most `budget`: a summary (rows, how many differ and
/// which), then the rows around the transaction in focus, each that differs marked
/// with what its source holds. `changed`: rows the current step wrote.
pub fn lines(
    snap: &Snapshot,
    truth: &Truth,
    changed: &[(TxnId, StepIx)],
    focus: Option<TxnId>,
    budget: usize,
) -> Vec<Line<'static>> {
    let mut rows: Rows = BTreeMap::new();
    for (k, v) in &snap.view {
        rows.entry(*k).or_default().0 = Some(*v);
    }
    for (k, &src) in &truth.rows {
        rows.entry(*k).or_default().1 = Some(src);
    }
    let differs = |(view, src): &(Option<i64>, Option<(i64, usize)>)| {
        view.as_ref() != src.as_ref().map(|s| &s.0)
    };
    let diff: Vec<(TxnId, StepIx)> = rows
        .iter()
        .filter(|(_, v)| differs(v))
        .map(|(k, _)| *k)
        .collect();
    let mut out = Vec::new();
    let n = snap.view.len();
    let rows_word = format!("{n} row{}", if n == 1 { "" } else { "s" });
    let summary = if diff.is_empty() {
        Line::styled(
            format!("{rows_word} · the same as the sources hold now"),
            Style::new().fg(Color::Green),
        )
    } else {
        let some: Vec<String> = diff
            .iter()
            .take(4)
            .map(|(t, s)| format!("t{t}.{s}"))
            .collect();
        Line::styled(
            format!(
                "{rows_word} · {} differ from the sources: {}{}",
                diff.len(),
                some.join(" "),
                if diff.len() > 4 { " …" } else { "" }
            ),
            Style::new().fg(Color::Yellow),
        )
    };
    out.push(summary);
    // The rows around the focus, else the first that differs, else the latest.
    let around = focus.map(|t| (t, 0)).or_else(|| diff.first().copied());
    let keys = super::inspector::window(&rows, around, budget.saturating_sub(1).max(1));
    for k in keys {
        let v = &rows[&k];
        let mut text = format!("t{}.{} {}", k.0, k.1, v.0.map_or("(no row)", state_name));
        let mut st = Style::new();
        if differs(v) {
            match &v.1 {
                Some((code, svc)) => text.push_str(&format!(
                    "  ≠ {}: {}",
                    truth.services[*svc],
                    state_name(*code)
                )),
                None => text.push_str("  ≠ no source holds it"),
            }
            st = st.fg(Color::Red);
        }
        if Some(k.0) == focus {
            st = st.fg(Color::Cyan);
        }
        if changed.contains(&k) {
            st = Style::new()
                .bg(Color::Yellow)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD);
        }
        out.push(Line::styled(text, st));
    }
    out
}
