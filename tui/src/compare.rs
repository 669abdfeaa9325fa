//! Compare: the same scenario and faults under every write protocol, side by side.

use crate::app::RunView;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;
use sovlab_sim::check::applies;
use sovlab_sim::scenario::{Coordination, FaultKind, Protocol, Scenario, CLIENT, INVARIANTS};
use sovlab_sim::RunResult;
use std::sync::Arc;

/// One protocol's row.
#[derive(Debug)]
pub struct CompareRow {
    /// Protocol (and coordination) in words.
    pub label: String,
    /// The scenario as run under this protocol.
    pub scenario: Scenario,
    /// The run, or why the scenario is invalid under this protocol.
    pub result: Result<Arc<RunResult>, String>,
    /// Faults and expectations left out because they do not apply to this protocol
    /// (a node it does not have, an invariant it is not judged on), in words.
    pub dropped: Vec<String>,
}

/// The compare table.
#[derive(Debug)]
pub struct CompareView {
    /// The seed every row ran with.
    pub seed: u64,
    /// The engine every row runs on.
    pub engine: sovlab_sim::Engine,
    /// The scenario's name.
    pub name: String,
    /// One row per protocol run so far.
    pub rows: Vec<CompareRow>,
    /// The protocols still to run, in table order: label, scenario, what was left out.
    waiting: Vec<(String, Scenario, Vec<String>)>,
    /// The selected row.
    pub sel: usize,
    /// The run the table was opened from; Esc returns to it.
    pub base: Option<Box<RunView>>,
}

/// The protocols compared, in table order.
pub const VARIANTS: [(&str, Protocol, Coordination); 5] = [
    (
        "saga orchestrated",
        Protocol::Saga,
        Coordination::Orchestration,
    ),
    (
        "saga choreographed",
        Protocol::Saga,
        Coordination::Choreography,
    ),
    (
        "two-phase commit",
        Protocol::TwoPhaseCommit,
        Coordination::Orchestration,
    ),
    (
        "try-confirm-cancel",
        Protocol::TryConfirmCancel,
        Coordination::Orchestration,
    ),
    (
        "shared database",
        Protocol::SharedDatabase,
        Coordination::Orchestration,
    ),
];

/// The nodes a fault names, its trigger's node included: a protocol without one of
/// them cannot run it.
fn fault_names(f: &sovlab_sim::scenario::Fault) -> Vec<String> {
    let mut names = match f.kind() {
        Some(FaultKind::Crash { node, .. }) => vec![node.to_string()],
        Some(FaultKind::Partition { groups, .. }) => groups.iter().flatten().cloned().collect(),
        Some(FaultKind::Loss { link, .. }) => link.map(|l| l.to_vec()).unwrap_or_default(),
        None => vec![],
    };
    if let Some(a) = &f.after {
        if !names.contains(&a.node) {
            names.push(a.node.clone());
        }
    }
    names
}

/// `base` under `protocol`, with faults on absent nodes and expectations about
/// invariants it is not judged on dropped (each described).
pub fn variant(
    base: &Scenario,
    protocol: Protocol,
    coordination: Coordination,
) -> (Scenario, Vec<String>) {
    let mut s = base.clone();
    let mut dropped = Vec::new();
    if let Some(w) = s.write.as_mut() {
        w.protocol = protocol;
        w.coordination = coordination;
    }
    let targets = s.fault_targets();
    s.faults.retain(|f| {
        let ok = fault_names(f)
            .iter()
            .all(|n| n == CLIENT || targets.contains(n));
        if !ok {
            let when = f.after.as_ref().map_or(format!("at {} ms", f.at_ms), |a| {
                format!("right after {}", sovlab_sim::report::trigger_words(a))
            });
            dropped.push(format!("fault {when} on {}", fault_names(f).join(", ")));
        }
        ok
    });
    let probe = s.clone();
    if let Some(x) = s.expect.as_mut() {
        for (list, word) in [
            (&mut x.holds, "hold"),
            (&mut x.violated, "break"),
            (&mut x.sometimes, "break sometimes"),
        ] {
            list.retain(|n| {
                let ok = applies(&probe, n);
                if !ok {
                    dropped.push(format!("expect: {n} to {word} ({n} is not judged here)"));
                }
                ok
            });
        }
    }
    // A coordinator placed on a service may not fit another protocol; fall back to
    // the dedicated node rather than refuse the comparison.
    if !s.validate().is_empty() {
        if let Some(w) = s.write.as_mut() {
            w.coordinator = None;
        }
    }
    (s, dropped)
}

impl CompareView {
    /// The table for `base` with `seed` under every protocol, none run yet (see
    /// [`CompareView::work`]). `None` without a `[write]` section.
    pub fn new(base: &Scenario, seed: u64) -> Option<CompareView> {
        CompareView::new_on(base, seed, sovlab_sim::Engine::default())
    }

    /// [`CompareView::new`] with every row run on `engine`.
    pub fn new_on(base: &Scenario, seed: u64, engine: sovlab_sim::Engine) -> Option<CompareView> {
        base.write.as_ref()?;
        let waiting = VARIANTS
            .iter()
            .map(|&(label, p, c)| {
                let (s, dropped) = variant(base, p, c);
                (label.to_string(), s, dropped)
            })
            .collect();
        Some(CompareView {
            seed,
            engine,
            name: base.name.clone(),
            rows: Vec::new(),
            waiting,
            sel: 0,
            base: None,
        })
    }

    /// Runs the next protocol; `false` when every row is done.
    pub fn work(&mut self) -> bool {
        if self.waiting.is_empty() {
            return false;
        }
        let (label, s, dropped) = self.waiting.remove(0);
        let result = match s.validate().into_iter().next() {
            Some(problem) => Err(problem.message),
            None => Ok(Arc::new(sovlab_sim::run_on(&s, self.seed, self.engine))),
        };
        self.rows.push(CompareRow {
            label,
            scenario: s,
            result,
            dropped,
        });
        true
    }

    /// Has every protocol run?
    pub fn done(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Runs every protocol still waiting.
    pub fn finish(&mut self) {
        while self.work() {}
    }

    /// Invariants that apply to at least one row, in the documented order.
    pub fn invariants(&self) -> Vec<&'static str> {
        INVARIANTS
            .iter()
            .copied()
            .filter(|n| {
                self.rows.iter().any(|r| {
                    r.result
                        .as_ref()
                        .is_ok_and(|res| res.verdicts.iter().any(|v| v.name == *n))
                })
            })
            .collect()
    }
}

/// Where the table's first data row is drawn, for mouse clicks.
pub fn first_row_y(area: Rect) -> u16 {
    area.y + 3
}

/// Draws the compare screen.
pub fn render(c: &CompareView, f: &mut Frame, area: Rect) {
    // Below 100 columns every invariant's column needs the protocol's short name.
    let narrow = area.width < 100;
    let invs = c.invariants();
    let mut header = vec![
        Cell::from("protocol"),
        Cell::from("commit"),
        Cell::from("abort"),
        Cell::from("unfin"),
    ];
    header.extend(invs.iter().map(|n| Cell::from(short(n))));
    // What each protocol costs, beside its verdicts, where the screen has room; the
    // selected row's note always says it.
    let costs = area.width >= COST_COLUMNS_FROM;
    if costs {
        header.extend(["thr/s", "p99 ms", "avail", "busiest"].map(Cell::from));
    }
    // Narrow: the events column goes (the selected row's note gives them).
    if !narrow {
        header.push(Cell::from("events"));
    }
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let rows: Vec<Row> = c
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut cells = vec![Cell::from(fit_label(&r.label, narrow))];
            match &r.result {
                Ok(res) => {
                    let (cm, ab, un) = res
                        .report
                        .write
                        .as_ref()
                        .map_or((0, 0, 0), |w| (w.committed, w.aborted, w.unfinished));
                    cells.push(Cell::from(cm.to_string()));
                    cells.push(Cell::from(ab.to_string()));
                    cells.push(Cell::from(un.to_string()));
                    for n in &invs {
                        cells.push(match res.verdicts.iter().find(|v| v.name == *n) {
                            Some(v) if v.holds => {
                                Cell::from("✓ holds").style(Style::new().fg(Color::Green))
                            }
                            Some(_) => Cell::from("✗ broken").style(Style::new().fg(Color::Red)),
                            None => Cell::from("–"),
                        });
                    }
                    if costs {
                        let c = Cost::of(&res.report);
                        cells.extend(
                            [c.throughput, c.p99, c.availability, c.busiest].map(Cell::from),
                        );
                    }
                    if !narrow {
                        cells.push(Cell::from(res.trace.events.len().to_string()));
                    }
                }
                Err(_) => cells
                    .push(Cell::from("cannot run: see below").style(Style::new().fg(Color::Red))),
            }
            let row = Row::new(cells);
            if i == c.sel {
                row.style(
                    Style::new()
                        .bg(Color::DarkGray)
                        .add_modifier(Modifier::BOLD),
                )
            } else {
                row
            }
        })
        .chain(c.waiting.iter().enumerate().map(|(i, (label, _, _))| {
            let what = if i == 0 { "run…" } else { "wait" };
            Row::new(vec![
                Cell::from(fit_label(label, narrow)),
                Cell::from(what).style(Style::new().fg(Color::Yellow)),
            ])
        }))
        .collect();
    let mut widths = vec![
        Constraint::Length(if narrow { 9 } else { 18 }),
        Constraint::Length(6),
        Constraint::Length(if narrow { 5 } else { 6 }),
        Constraint::Length(if narrow { 5 } else { 6 }),
    ];
    widths.extend(invs.iter().map(|_| Constraint::Length(8)));
    if costs {
        widths.extend([7, 7, 6, 16].map(Constraint::Length));
    }
    if !narrow {
        widths.push(Constraint::Length(8));
    }
    let table_h = ((c.rows.len() + c.waiting.len()) as u16 + 4).min(area.height);
    let [top, bottom] =
        ratatui::layout::Layout::vertical([Constraint::Length(table_h), Constraint::Min(0)])
            .areas(area);
    let total = c.rows.len() + c.waiting.len();
    let title = if c.done() {
        format!(" compare · {} · seed {} ", c.name, c.seed)
    } else {
        format!(
            " compare · running {} of {total} … · {} · seed {} ",
            c.rows.len() + 1,
            c.name,
            c.seed
        )
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(bold).bottom_margin(0))
        .block(Block::bordered().title(title));
    f.render_widget(table, top);
    let mut notes: Vec<Line> = Vec::new();
    if let Some(r) = c.rows.get(c.sel) {
        if let Ok(res) = &r.result {
            notes.push(Line::from(format!(
                "{}: {} events, {} ms virtual, {} sent / {} dropped; expect {}",
                r.label,
                res.report.events,
                res.report.virtual_ms,
                res.report.messages.sent,
                res.report.messages.dropped,
                if res.report.expect.met {
                    "met"
                } else {
                    "NOT met"
                }
            )));
            let c = Cost::of(&res.report);
            notes.push(Line::from(format!(
                "  cost: {} committed/s, p99 {} ms, available {}, busiest node {}",
                c.throughput, c.p99, c.availability, c.busiest
            )));
            for v in res.verdicts.iter().filter(|v| !v.holds) {
                notes.push(Line::from(Span::styled(
                    format!("  ✗ {}: {}", v.name, v.example.clone().unwrap_or_default()),
                    Style::new().fg(Color::Red),
                )));
            }
        }
        if let Err(e) = &r.result {
            notes.push(Line::from(Span::styled(
                format!("{} cannot run: {e}", r.label),
                Style::new().fg(Color::Red),
            )));
        }
        for d in &r.dropped {
            let why = if d.starts_with("expect") {
                ""
            } else {
                " (no such node under this protocol)"
            };
            notes.push(Line::from(Span::styled(
                format!("  left out: {d}{why}"),
                Style::new().fg(Color::Yellow),
            )));
        }
    }
    notes.push(Line::from(Span::styled(
        "↑/↓ choose · Enter open the run · Esc back",
        Style::new().fg(Color::DarkGray),
    )));
    f.render_widget(
        Paragraph::new(notes)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" selected ")),
        bottom,
    );
}

/// From this width on, the table has the cost columns.
const COST_COLUMNS_FROM: u16 = 130;

/// One run's cost measures, as the table shows them ("-": not measured).
struct Cost {
    throughput: String,
    p99: String,
    availability: String,
    busiest: String,
}

impl Cost {
    fn of(report: &sovlab_sim::Report) -> Cost {
        let m = sovlab_sim::sweep::SeedCost::of(report);
        let dash = || "-".to_string();
        Cost {
            throughput: m
                .write_throughput_per_s
                .map_or_else(dash, |t| format!("{t:.1}")),
            p99: report
                .write
                .as_ref()
                .map_or_else(dash, |w| format!("{:.1}", w.latency_ms.p99)),
            availability: m
                .availability
                .map_or_else(dash, |a| format!("{:.0}%", 100.0 * a)),
            busiest: m
                .busiest()
                .map_or_else(dash, |(n, u)| format!("{n} {:.0}%", 100.0 * u)),
        }
    }
}

/// A protocol's label in its column: whole, or short on a narrow screen.
fn fit_label(label: &str, narrow: bool) -> String {
    let short = match label {
        "saga orchestrated" => "saga orch",
        "saga choreographed" => "saga chor",
        "two-phase commit" => "2PC",
        "try-confirm-cancel" => "TCC",
        "shared database" => "shared db",
        other => other,
    };
    if narrow { short } else { label }.to_string()
}

/// A column-sized invariant name.
fn short(n: &str) -> &str {
    match n {
        "conservation" => "conserv.",
        "termination" => "termin.",
        "consistent-reads" => "reads",
        "convergence" => "converg.",
        "atomicity" => "atomic.",
        "agreement" => "agree.",
        "isolation" => "isolat.",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovlab_sim::scenario::{After, Fault};

    #[test]
    fn a_fault_triggered_at_a_node_a_protocol_lacks_is_left_out_and_said_so() {
        let text = include_str!("../../scenarios/checkout-2pc.toml");
        let mut s = Scenario::parse(text, "checkout-2pc.toml").expect("catalogue scenario");
        s.faults.push(Fault {
            after: Some(After {
                node: "coordinator".into(),
                event: "deliver".into(),
                msg: Some("vote".into()),
                txn: Some(3),
                count: 2,
            }),
            crash: Some("payments".into()),
            ..Fault::default()
        });
        let (choreo, dropped) = variant(&s, Protocol::Saga, Coordination::Choreography);
        assert_eq!(choreo.faults.len(), s.faults.len() - 1, "{dropped:?}");
        assert!(
            dropped
                .iter()
                .any(|d| d.starts_with("fault right after")
                    && d.ends_with("on payments, coordinator")),
            "{dropped:?}"
        );
        let (twopc, _) = variant(&s, Protocol::TwoPhaseCommit, Coordination::Orchestration);
        assert_eq!(twopc.faults, s.faults);
    }
}
