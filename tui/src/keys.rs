//! Input: keys (CONTRACT §5) and mouse, mapped to changes of the [`App`].

use crate::app::{App, Origin, Panel, Screen};
use crate::compare::CompareView;
use crate::screens::{catalogue, run, MIN_H, MIN_W};
use crate::whatif::{self, WhatIfMenu};
use crate::widgets::{diagram, timeline};
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

impl App {
    /// Handles one key press.
    pub fn handle_key(&mut self, k: KeyEvent) {
        if k.kind == KeyEventKind::Release {
            return;
        }
        // Raw mode turns Ctrl-C into a key: it quits, like `q`.
        let ctrl_c = k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c');
        if ctrl_c || k.code == KeyCode::Char('q') {
            self.quit = true;
            return;
        }
        if self.help {
            // Any key closes the help overlay.
            self.help = false;
            return;
        }
        if k.code == KeyCode::Char('?') {
            self.help = true;
            return;
        }
        self.status.clear();
        if self.menu.is_some() {
            self.menu_key(k.code);
            return;
        }
        if k.code == KeyCode::Esc {
            self.back();
            return;
        }
        match self.screen {
            Screen::Catalogue => self.catalogue_key(k.code),
            Screen::Run => self.run_key(k),
            Screen::Compare => self.compare_key(k.code),
        }
    }

    fn catalogue_key(&mut self, code: KeyCode) {
        let n = self.catalogue.len();
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.cat_sel = self.cat_sel.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.cat_sel = (self.cat_sel + 1).min(n.saturating_sub(1))
            }
            KeyCode::Home => self.cat_sel = 0,
            KeyCode::End => self.cat_sel = n.saturating_sub(1),
            KeyCode::Enter => self.open_selected(),
            _ => {}
        }
    }

    fn compare_key(&mut self, code: KeyCode) {
        let Some(c) = self.compare.as_mut() else {
            return;
        };
        match code {
            KeyCode::Up | KeyCode::Char('k') => c.sel = c.sel.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                c.sel = (c.sel + 1).min(c.rows.len().saturating_sub(1))
            }
            KeyCode::Enter => self.open_compare_row(),
            _ => {}
        }
    }

    fn open_compare_row(&mut self) {
        let Some(c) = self.compare.as_ref() else {
            return;
        };
        let Some(row) = c.rows.get(c.sel) else { return };
        match &row.result {
            Ok(res) => {
                let label = format!("{} · {}", c.name, row.label);
                let mut view = crate::app::RunView::new(label, res.clone(), Origin::Compare);
                if let Some(base) = &c.base {
                    view.seek_time(base.now_us());
                }
                self.show(view);
            }
            Err(e) => self.status = format!("{} cannot run: {e}", row.label),
        }
    }

    fn menu_key(&mut self, code: KeyCode) {
        let Some(menu) = self.menu.as_mut() else {
            return;
        };
        match code {
            KeyCode::Up | KeyCode::Char('k') => menu.sel = menu.sel.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                menu.sel = (menu.sel + 1).min(menu.choices.len().saturating_sub(1))
            }
            KeyCode::Esc => self.menu = None,
            KeyCode::Enter => {
                let menu = self.menu.take().expect("checked");
                let Some(choice) = menu.choices.get(menu.sel) else {
                    return;
                };
                let Some(run) = self.run.take() else { return };
                match whatif::fork(&run, choice) {
                    Ok(mut view) => {
                        view.parent = Some(Box::new(run));
                        self.status = format!("forked: {}", choice.label);
                        self.show(view);
                    }
                    Err(msg) => {
                        self.run = Some(run);
                        self.status = msg;
                    }
                }
            }
            _ => {}
        }
    }

    fn run_key(&mut self, k: KeyEvent) {
        let Some(run) = self.run.as_mut() else { return };
        let page = (run.trace().events.len() / 10).max(1) as i64;
        match k.code {
            KeyCode::Left | KeyCode::Char('h') => run.step(-1),
            KeyCode::Right | KeyCode::Char('l') => run.step(1),
            KeyCode::PageUp => run.step(-page),
            KeyCode::PageDown => run.step(page),
            KeyCode::Home => run.jump(0),
            KeyCode::End => run.jump(usize::MAX),
            KeyCode::Up | KeyCode::Char('k') => match run.panel {
                Panel::Diagram => run.step(-1),
                Panel::Inspector => run.node = run.node.saturating_sub(1),
                Panel::Verdicts => run.verdict_sel = run.verdict_sel.saturating_sub(1),
            },
            KeyCode::Down | KeyCode::Char('j') => match run.panel {
                Panel::Diagram => run.step(1),
                Panel::Inspector => {
                    run.node = (run.node + 1).min(run.trace().nodes.len().saturating_sub(1))
                }
                Panel::Verdicts => {
                    run.verdict_sel =
                        (run.verdict_sel + 1).min(run.result.verdicts.len().saturating_sub(1))
                }
            },
            KeyCode::Char('[') => run.node = run.node.saturating_sub(1),
            KeyCode::Char(']') => {
                run.node = (run.node + 1).min(run.trace().nodes.len().saturating_sub(1))
            }
            KeyCode::Char('n') | KeyCode::Char('p') => {
                let forward = k.code == KeyCode::Char('n');
                match run.next_mark(forward) {
                    Some(s) => run.jump(s),
                    None => {
                        self.status = format!(
                            "no {} fault or violation",
                            if forward { "later" } else { "earlier" }
                        )
                    }
                }
            }
            KeyCode::Enter => {
                if run.panel == Panel::Verdicts {
                    match run.result.verdicts.get(run.verdict_sel) {
                        Some(v) if !v.holds => match v.at_seq {
                            Some(at) => run.jump(at as usize),
                            None => self.status = format!("{} broke at the end of the run", v.name),
                        },
                        Some(v) => self.status = format!("{} holds: nothing to jump to", v.name),
                        None => {}
                    }
                } else {
                    self.status = "Enter jumps to a violation from the verdict panel (Tab)".into();
                }
            }
            KeyCode::Tab => self.cycle_panel(true),
            KeyCode::BackTab => self.cycle_panel(false),
            KeyCode::Char(' ') => self.toggle_play(),
            KeyCode::Char('+') | KeyCode::Char('=') => self.speed_by(true),
            KeyCode::Char('-') => self.speed_by(false),
            KeyCode::Char('f') => {
                self.playing = false;
                self.menu = Some(WhatIfMenu::new(run));
            }
            KeyCode::Char('u') | KeyCode::Backspace => self.undo_fork(),
            KeyCode::Char('c') => self.open_compare(),
            KeyCode::Char('s') => self.change_seed(true),
            KeyCode::Char('S') => self.change_seed(false),
            _ => {}
        }
    }

    /// Opens the compare table for the current run's scenario and seed.
    pub fn open_compare(&mut self) {
        self.playing = false;
        let Some(run) = self.run.as_ref() else { return };
        if run.origin == Origin::Compare && self.compare.is_some() {
            self.screen = Screen::Compare;
            return;
        }
        match CompareView::new_on(&run.scenario, run.seed, run.trace().engine) {
            Some(mut c) => {
                c.base = self.run.take().map(Box::new);
                self.compare = Some(c);
                self.screen = Screen::Compare;
            }
            None => self.status = "nothing to compare: the scenario has no [write] section".into(),
        }
    }

    /// Handles one mouse event; `self.area` must be the terminal's size.
    pub fn handle_mouse(&mut self, m: MouseEvent) {
        let area = self.area;
        if area.width < MIN_W || area.height < MIN_H || self.help || self.menu.is_some() {
            return;
        }
        let pos = Position::new(m.column, m.row);
        let up = matches!(m.kind, MouseEventKind::ScrollUp);
        let down = matches!(m.kind, MouseEventKind::ScrollDown);
        let click = matches!(m.kind, MouseEventKind::Down(MouseButton::Left));
        match self.screen {
            Screen::Catalogue => {
                let (list, _, _) = catalogue::areas(area);
                if up {
                    self.cat_sel = self.cat_sel.saturating_sub(1);
                } else if down {
                    self.cat_sel = (self.cat_sel + 1).min(self.catalogue.len().saturating_sub(1));
                } else if click && inside(list, pos) && pos.y > list.y {
                    let i = catalogue::list_top(self, list) + usize::from(pos.y - list.y - 1);
                    if i < self.catalogue.len() {
                        if i == self.cat_sel {
                            self.open_selected();
                        } else {
                            self.cat_sel = i;
                        }
                    }
                }
            }
            Screen::Compare => {
                let Some(c) = self.compare.as_mut() else {
                    return;
                };
                if up {
                    c.sel = c.sel.saturating_sub(1);
                } else if down {
                    c.sel = (c.sel + 1).min(c.rows.len().saturating_sub(1));
                } else if click {
                    let y0 = crate::compare::first_row_y(area);
                    if pos.y >= y0 {
                        let i = usize::from(pos.y - y0);
                        if i < c.rows.len() {
                            c.sel = i;
                        }
                    }
                }
            }
            Screen::Run => {
                let a = run::areas(area);
                let Some(r) = self.run.as_mut() else { return };
                if inside(a.diagram, pos) {
                    if up || down {
                        r.step(if up { -3 } else { 3 });
                    } else if click {
                        r.panel = Panel::Diagram;
                        let g = diagram::geometry(r, a.diagram);
                        if pos.y == g.header_y {
                            if let Some((i, _)) = g
                                .lanes
                                .iter()
                                .enumerate()
                                .min_by_key(|(_, &x)| x.abs_diff(pos.x))
                            {
                                r.node = i;
                            }
                        } else if pos.y >= g.rows_y {
                            let i = g.top + usize::from(pos.y - g.rows_y);
                            if i <= r.last() {
                                r.jump(i);
                            }
                        }
                    }
                } else if inside(a.inspector, pos) {
                    if up {
                        r.node = r.node.saturating_sub(1);
                    } else if down {
                        r.node = (r.node + 1).min(r.trace().nodes.len().saturating_sub(1));
                    } else if click {
                        r.panel = Panel::Inspector;
                    }
                } else if inside(a.verdicts, pos) {
                    r.panel = Panel::Verdicts;
                    if click && pos.y >= a.verdicts.y + 2 {
                        let i = usize::from(pos.y - a.verdicts.y - 2);
                        if let Some(v) = r.result.verdicts.get(i) {
                            r.verdict_sel = i;
                            if let (false, Some(at)) = (v.holds, v.at_seq) {
                                r.jump(at as usize);
                            }
                        }
                    } else if up {
                        r.verdict_sel = r.verdict_sel.saturating_sub(1);
                    } else if down {
                        r.verdict_sel =
                            (r.verdict_sel + 1).min(r.result.verdicts.len().saturating_sub(1));
                    }
                } else if inside(a.timeline, pos)
                    && (click || matches!(m.kind, MouseEventKind::Drag(MouseButton::Left)))
                {
                    let seq = timeline::seq_at(pos.x - a.timeline.x, r.last(), a.timeline.width);
                    r.jump(seq);
                }
            }
        }
    }
}

fn inside(r: Rect, p: Position) -> bool {
    r.contains(p)
}
