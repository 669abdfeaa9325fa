//! The store inspector: the selected node's stores as of the cursor, each in its
//! kind's natural shape (rows, documents, keys, a log), with what the current step
//! wrote highlighted. Only a window around the transaction in focus is formatted.

use crate::app::RunView;
use crate::describe::event_txn;
use crate::widgets::view_rows::{self, Truth};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use sovlab_sim::msg::{MsgId, StepIx, TxnId};
use sovlab_sim::scenario::StoreKind;
use sovlab_sim::store::{Snapshot, Write};
use sovlab_sim::trace::{EventKind, Trace};

/// What the current step wrote to one store.
#[derive(Debug, Default)]
struct Changed {
    steps: Vec<(TxnId, StepIx)>,
    outbox: Vec<MsgId>,
    decisions: Vec<TxnId>,
    views: Vec<(TxnId, StepIx)>,
    seen: bool,
    available: bool,
}

impl Changed {
    fn of(writes: &[Write]) -> Changed {
        let mut c = Changed::default();
        for w in writes {
            match *w {
                Write::Take { txn, step, .. } | Write::Hold { txn, step, .. } => {
                    c.steps.push((txn, step));
                    c.available = true;
                }
                Write::Release { txn, step }
                | Write::Compensate { txn, step }
                | Write::Unfreeze { txn, step, .. } => {
                    c.steps.push((txn, step));
                    c.available = true;
                }
                Write::Apply { txn, step }
                | Write::Tombstone { txn, step }
                | Write::Reject { txn, step, .. } => c.steps.push((txn, step)),
                Write::OutboxPut { msg, .. } => c.outbox.push(msg.id),
                Write::OutboxDone { id } => c.outbox.push(id),
                Write::Emit { msg, .. } => c.outbox.push(msg.id),
                Write::Relayed { .. } => {}
                Write::Seen { .. } => c.seen = true,
                Write::Decide { txn, .. } => c.decisions.push(txn),
                Write::View { txn, step, .. } => c.views.push((txn, step)),
            }
        }
        c
    }
}

fn hl() -> Style {
    Style::new()
        .bg(Color::Yellow)
        .fg(Color::Black)
        .add_modifier(Modifier::BOLD)
}

fn style(changed: bool, focus: bool) -> Style {
    if changed {
        hl()
    } else if focus {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new()
    }
}

/// Keys of `map` around `focus` (or the last ones), at most `n`, in order.
pub(crate) fn window<K: Ord + Copy, V>(
    map: &std::collections::BTreeMap<K, V>,
    focus: Option<K>,
    n: usize,
) -> Vec<K> {
    match focus {
        Some(f) => {
            // A third of the room before the focus, unless there is less after it.
            let after: Vec<K> = map.range(f..).take(n - n / 3).map(|(k, _)| *k).collect();
            let mut keys: Vec<K> = map
                .range(..f)
                .rev()
                .take(n - after.len())
                .map(|(k, _)| *k)
                .collect();
            keys.reverse();
            keys.extend(after);
            keys
        }
        None => {
            let mut keys: Vec<K> = map.keys().rev().take(n).copied().collect();
            keys.reverse();
            keys
        }
    }
}

/// The lines of one store, at most `budget`.
#[allow(clippy::too_many_arguments)]
fn store_lines(
    run: &RunView,
    trace: &Trace,
    store: usize,
    kind: StoreKind,
    snap: &Snapshot,
    changed: &Changed,
    focus: Option<TxnId>,
    truth: Option<&Truth>,
    budget: usize,
) -> Vec<Line<'static>> {
    if let Some(truth) = truth {
        return view_rows::lines(snap, truth, &changed.views, focus, budget);
    }
    let name = |ix: u16| trace.node_name(ix).to_string();
    let mut out: Vec<Line> = Vec::new();
    let step_keys = window(&snap.steps, focus.map(|t| (t, 0)), budget);
    let dec_keys = window(&snap.decisions, focus, (budget / 3).max(1));
    let view_keys = window(&snap.view, focus.map(|t| (t, 0)), (budget / 3).max(1));
    let is_focus = |t: TxnId| Some(t) == focus;
    match kind {
        StoreKind::Relational => {
            out.push(Line::styled(
                format!("resource  | available={}", snap.available),
                style(changed.available, false),
            ));
            for k in &step_keys {
                let r = snap.steps[k];
                out.push(Line::styled(
                    format!(
                        "steps     | txn={} step={} amount={} state={}",
                        k.0,
                        k.1,
                        r.amount,
                        r.state.name()
                    ),
                    style(changed.steps.contains(k), is_focus(k.0)),
                ));
            }
            for t in &dec_keys {
                let d = if snap.decisions[t] { "commit" } else { "abort" };
                out.push(Line::styled(
                    format!("decisions | txn={t} decision={d}"),
                    style(changed.decisions.contains(t), is_focus(*t)),
                ));
            }
            for (id, e) in snap.outbox.iter().take(budget / 3 + 1) {
                out.push(Line::styled(
                    format!(
                        "outbox    | id={id} to={} kind={} txn={}",
                        name(e.to),
                        e.msg.kind.name(),
                        e.msg.txn
                    ),
                    style(changed.outbox.contains(id), is_focus(e.msg.txn)),
                ));
            }
            for k in &view_keys {
                out.push(Line::styled(
                    format!(
                        "view_rows | txn={} step={} state={}",
                        k.0, k.1, snap.view[k]
                    ),
                    style(changed.views.contains(k), is_focus(k.0)),
                ));
            }
            if !snap.seen.is_empty() || changed.seen {
                out.push(Line::styled(
                    format!("processed | {} rows", snap.seen.len()),
                    style(changed.seen, false),
                ));
            }
        }
        StoreKind::Document => {
            out.push(Line::styled(
                format!("{{\"_id\":\"resource\",\"available\":{}}}", snap.available),
                style(changed.available, false),
            ));
            // One document per transaction, holding its steps, decision and view rows.
            let mut txns: Vec<TxnId> = step_keys.iter().map(|k| k.0).collect();
            txns.extend(dec_keys.iter().copied());
            txns.extend(view_keys.iter().map(|k| k.0));
            txns.sort_unstable();
            txns.dedup();
            for t in txns {
                let steps: Vec<String> = snap
                    .steps
                    .range((t, 0)..=(t, StepIx::MAX))
                    .map(|((_, s), r)| {
                        format!(
                            "\"{s}\":{{\"amount\":{},\"state\":\"{}\"}}",
                            r.amount,
                            r.state.name()
                        )
                    })
                    .collect();
                let mut doc = format!("{{\"_id\":\"txn-{t:08}\",\"steps\":{{{}}}", steps.join(","));
                if let Some(d) = snap.decisions.get(&t) {
                    doc.push_str(&format!(
                        ",\"decision\":\"{}\"",
                        if *d { "commit" } else { "abort" }
                    ));
                }
                doc.push('}');
                let ch = changed.steps.iter().any(|k| k.0 == t)
                    || changed.decisions.contains(&t)
                    || changed.views.iter().any(|k| k.0 == t);
                out.push(Line::styled(doc, style(ch, is_focus(t))));
            }
            for (id, e) in snap.outbox.iter().take(budget / 3 + 1) {
                out.push(Line::styled(
                    format!(
                        "{{\"_id\":\"outbox-{id:016}\",\"to\":\"{}\",\"msg\":\"{}\"}}",
                        name(e.to),
                        crate::describe::msg_label(&e.msg)
                    ),
                    style(changed.outbox.contains(id), is_focus(e.msg.txn)),
                ));
            }
            out.push(Line::styled(
                format!("{{\"_id\":\"processed\",\"keys\":[… {}]}}", snap.seen.len()),
                style(changed.seen, false),
            ));
        }
        StoreKind::KeyValue => {
            out.push(Line::styled(
                format!("available = {}", snap.available),
                style(changed.available, false),
            ));
            for k in &step_keys {
                let r = snap.steps[k];
                out.push(Line::styled(
                    format!(
                        "step/{:08}/{:03} = {} {}",
                        k.0,
                        k.1,
                        r.amount,
                        r.state.name()
                    ),
                    style(changed.steps.contains(k), is_focus(k.0)),
                ));
            }
            for t in &dec_keys {
                let d = if snap.decisions[t] { "commit" } else { "abort" };
                out.push(Line::styled(
                    format!("decision/{t:08} = {d}"),
                    style(changed.decisions.contains(t), is_focus(*t)),
                ));
            }
            for (id, e) in snap.outbox.iter().take(budget / 3 + 1) {
                out.push(Line::styled(
                    format!(
                        "outbox/{id:016} = {} to {}",
                        crate::describe::msg_label(&e.msg),
                        name(e.to)
                    ),
                    style(changed.outbox.contains(id), is_focus(e.msg.txn)),
                ));
            }
            for k in &view_keys {
                out.push(Line::styled(
                    format!("view/{:08}/{:03} = {}", k.0, k.1, snap.view[k]),
                    style(changed.views.contains(k), is_focus(k.0)),
                ));
            }
            if !snap.seen.is_empty() {
                out.push(Line::styled(
                    format!("seen/… ({} keys)", snap.seen.len()),
                    style(changed.seen, false),
                ));
            }
        }
        StoreKind::EventLog => {
            out.push(Line::styled(
                format!("fold: available={}", snap.available),
                style(changed.available, false),
            ));
            let tail =
                run.replay
                    .log_tail(trace, store, run.cursor, budget.saturating_sub(1).max(1));
            for (i, w, now) in tail {
                let json = serde_json::to_string(&w).unwrap_or_default();
                let focus = w.txn().is_some_and(is_focus);
                out.push(Line::styled(format!("#{i:<5} {json}"), style(now, focus)));
            }
        }
    }
    if out.len() > budget {
        // The first line (units left) always stays; the rest is cut around the first
        // changed row (else the transaction in focus), so what this step wrote stays
        // in view.
        let rest = out.split_off(1);
        let focus_style = style(false, true);
        let first_hl = rest
            .iter()
            .position(|l| l.style == hl())
            .or_else(|| rest.iter().position(|l| l.style == focus_style));
        if budget == 0 {
            out.clear();
        } else if budget == 1 {
            if let Some(i) = first_hl {
                out = vec![rest[i].clone()];
            }
        } else {
            let room = budget - 1;
            let start = first_hl
                .unwrap_or(0)
                .saturating_sub(room / 2)
                .min(rest.len() - room);
            out.extend(rest.into_iter().skip(start).take(room));
        }
    }
    out
}

/// Draws the inspector for `run`'s selected node in `area`.
pub fn render(run: &RunView, f: &mut Frame, area: Rect, focused: bool) {
    let trace = run.trace();
    let node = run.inspected().min(trace.nodes.len().saturating_sub(1));
    let node_name = trace.nodes.get(node).map_or("?", |n| n.name.as_str());
    let truth = view_rows::truth(run, node);
    let border = if focused {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    let how = if run.pinned {
        "pinned (P)"
    } else {
        "follows (P pins)"
    };
    let block = Block::bordered().border_style(border).title(format!(
        " store · {node_name} · as of step {} · {how} ",
        run.cursor
    ));
    let inner_h = area.height.saturating_sub(2) as usize;
    let stores: Vec<usize> = trace
        .stores
        .iter()
        .enumerate()
        .filter(|(_, s)| usize::from(s.node) == node)
        .map(|(i, _)| i)
        .collect();
    let mut lines: Vec<Line> = Vec::new();
    if run.is_down(node, run.cursor) {
        lines.push(Line::styled(
            "node is DOWN: memory lost; the store below is durable",
            Style::new().fg(Color::Red),
        ));
    }
    if stores.is_empty() {
        let role = trace.nodes.get(node).map(|n| format!("{:?}", n.role));
        lines.push(Line::from(format!(
            "{node_name} ({}) keeps no store.",
            role.unwrap_or_default().to_lowercase()
        )));
        lines.push(Line::styled(
            "[ ] (or ↑/↓ here) choose another node; clicking a lane name works too",
            Style::new().fg(Color::DarkGray),
        ));
    }
    let event = trace.events.get(run.cursor);
    let focus = event.and_then(event_txn);
    let written: Option<usize> = event.and_then(|e| match &e.kind {
        EventKind::Local { store, .. } => Some(usize::from(*store)),
        _ => None,
    });
    // Too little room for every store's header and some rows: show the store written
    // at this step (else the first) and say how many are hidden.
    let all = stores.len();
    let mut hidden = 0;
    let mut stores = stores;
    if all > 1 && inner_h < lines.len() + 2 * all {
        let keep = written.filter(|w| stores.contains(w)).unwrap_or(stores[0]);
        stores = vec![keep];
        hidden = all - 1;
    }
    // Every store gets a one-line header; the body lines go to the store written at
    // this step first (so the change is always visible), the rest shared equally.
    // The note about hidden stores only where it leaves the change a line.
    let note = hidden > 0 && inner_h > lines.len() + stores.len() + 1;
    let avail = inner_h.saturating_sub(lines.len() + stores.len() + usize::from(note));
    let changed_of = |s: usize| match event.map(|e| &e.kind) {
        Some(EventKind::Local { store, writes, .. }) if usize::from(*store) == s => {
            Changed::of(writes)
        }
        _ => Changed::default(),
    };
    // How many lines each store would fill, then the room shared out one line at a
    // time (the store written at this step first), so no store's share goes unused
    // while another is cut.
    let need: Vec<usize> = stores
        .iter()
        .map(|&s| {
            let kind = trace.stores[s].kind;
            let changed = changed_of(s);
            run.replay.with_at(trace, s, run.cursor, |snap| {
                store_lines(
                    run,
                    trace,
                    s,
                    kind,
                    snap,
                    &changed,
                    focus,
                    truth.as_ref(),
                    avail,
                )
                .len()
            })
        })
        .collect();
    let mut order: Vec<usize> = (0..stores.len()).collect();
    order.sort_by_key(|&i| Some(stores[i]) != written);
    let mut shares = vec![0usize; stores.len()];
    let mut left = avail;
    while left > 0 {
        let mut gave = false;
        for &i in &order {
            if left > 0 && shares[i] < need[i] {
                shares[i] += 1;
                left -= 1;
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    for (&s, &share) in stores.iter().zip(&shares) {
        let info = &trace.stores[s];
        let changed = changed_of(s);
        let (available, records) = run.replay.with_at(trace, s, run.cursor, |snap| {
            (snap.available, snap.steps.len() + snap.view.len())
        });
        let now = Some(s) == written;
        let head = vec![
            Span::styled(
                if now { "▶ " } else { "▌ " },
                Style::new().fg(if now { Color::Yellow } else { Color::White }),
            ),
            Span::styled(
                format!(
                    "{} · {} · avail {available} · {records} rec",
                    info.name,
                    info.kind.name()
                ),
                Style::new().add_modifier(Modifier::BOLD).fg(Color::White),
            ),
        ];
        lines.push(Line::from(head));
        if share == 0 {
            continue;
        }
        let body = run.replay.with_at(trace, s, run.cursor, |snap| {
            store_lines(
                run,
                trace,
                s,
                info.kind,
                snap,
                &changed,
                focus,
                truth.as_ref(),
                share,
            )
        });
        lines.extend(body);
    }
    if note {
        lines.push(Line::styled(
            format!("… {hidden} more stores here: a taller window shows them"),
            Style::new().fg(Color::DarkGray),
        ));
    }
    f.render_widget(Paragraph::new(lines).block(block), area);
}
