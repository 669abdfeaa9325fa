//! Input: keys (docs/reference/cli.md, `tui`) and mouse, mapped to changes of the [`App`].

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
        if ctrl_c {
            self.quit = true;
            return;
        }
        // While typing a search, every printable key is part of it (`q` too).
        if self.prompt.is_some() {
            self.prompt_key(k.code);
            return;
        }
        if k.code == KeyCode::Char('q') {
            self.quit = true;
            return;
        }
        if self.help {
            // Arrows scroll the help; any other key closes it.
            match k.code {
                KeyCode::Up | KeyCode::Char('k') => {
                    self.help_scroll = self.help_scroll.saturating_sub(1)
                }
                KeyCode::Down | KeyCode::Char('j') => self.help_scroll += 1,
                KeyCode::PageUp => self.help_scroll = self.help_scroll.saturating_sub(10),
                KeyCode::PageDown => self.help_scroll += 10,
                _ => self.help = false,
            }
            return;
        }
        if k.code == KeyCode::Char('?') {
            self.help = true;
            self.help_scroll = 0;
            return;
        }
        self.status.clear();
        if self.menu.is_some() {
            self.menu_key(k.code);
            return;
        }
        if k.code == KeyCode::Esc {
            if let Some(run) = self.run.as_mut().filter(|_| self.screen == Screen::Run) {
                if run.search.take().is_some() {
                    self.status = "search ended: n/p visit faults and violations again".into();
                    return;
                }
                if run.chain.take().is_some() {
                    self.status = "chain cleared".into();
                    return;
                }
            }
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

    /// A key while the `/` prompt is open: typing, Enter to search, Esc to cancel.
    fn prompt_key(&mut self, code: KeyCode) {
        let Some(text) = self.prompt.as_mut() else {
            return;
        };
        match code {
            KeyCode::Char(c) => text.push(c),
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Esc => self.prompt = None,
            KeyCode::Enter => {
                let text = self.prompt.take().unwrap_or_default();
                let Some(run) = self.run.as_mut() else { return };
                let q = crate::search::Query::parse(&text, run.trace());
                if q.terms.is_empty() {
                    run.search = None;
                    self.status = "search ended".into();
                    return;
                }
                run.search = Some(q);
                self.search_step(true);
            }
            _ => {}
        }
    }

    /// Moves to the next (or previous) match of the active search and says where it is.
    fn search_step(&mut self, forward: bool) {
        let Some(run) = self.run.as_mut() else { return };
        let Some(q) = run.search.clone() else { return };
        let trace = run.trace();
        match q.find(trace, run.cursor, forward) {
            Some((i, wrapped)) => {
                let hidden = !run.visible(i);
                run.jump(i);
                if hidden {
                    run.hide_timers = false;
                }
                let (all, upto) = q.count(run.trace(), i);
                self.status = format!(
                    "/{}: match {upto} of {all}{} · n/p next/previous · Esc ends the search",
                    q.text,
                    if wrapped { " (wrapped around)" } else { "" }
                );
            }
            None => self.status = format!("/{}: no event matches", q.text),
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
            KeyCode::Left | KeyCode::Char('h') | KeyCode::Char('-') => menu.longer(false),
            KeyCode::Right | KeyCode::Char('l') | KeyCode::Char('+') => menu.longer(true),
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
                Panel::Inspector => run.choose_node(-1),
                Panel::Verdicts => run.verdict_sel = run.verdict_sel.saturating_sub(1),
            },
            KeyCode::Down | KeyCode::Char('j') => match run.panel {
                Panel::Diagram => run.step(1),
                Panel::Inspector => run.choose_node(1),
                Panel::Verdicts => {
                    run.verdict_sel =
                        (run.verdict_sel + 1).min(run.result.verdicts.len().saturating_sub(1))
                }
            },
            KeyCode::Char('[') => run.choose_node(-1),
            KeyCode::Char(']') => run.choose_node(1),
            KeyCode::Char('P') => {
                run.toggle_pin();
                let name = run.trace().node_name(run.node as u16).to_string();
                self.status = if run.pinned {
                    format!("inspector pinned to {name} (P again: follow the events)")
                } else {
                    "inspector follows the current event's node".into()
                };
            }
            KeyCode::Char('t') => {
                run.toggle_timers();
                self.status = if run.hide_timers {
                    "timers hidden from the diagram (t shows them)".into()
                } else {
                    "timers shown".into()
                };
            }
            KeyCode::Char('d') => run.show_about = !run.show_about,
            KeyCode::Char('/') => {
                self.playing = false;
                self.prompt = Some(String::new());
            }
            KeyCode::Char('n') | KeyCode::Char('p') | KeyCode::Char('N')
                if run.search.is_some() =>
            {
                self.search_step(k.code == KeyCode::Char('n'));
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
                        // To the cause when the report knows it, else to the victim.
                        Some(v) if !v.holds => match crate::whatif::cause_seq(&run.result, v) {
                            Some(at) => {
                                let victim = v.at_seq.unwrap_or(at) as usize;
                                let chain =
                                    crate::app::Chain::new(run.trace(), at as usize, victim);
                                self.status = chain.words(run.trace(), &v.name);
                                run.chain = Some(chain);
                                run.jump(at as usize);
                            }
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
                let (list, _, _) = catalogue::areas_for(self, area);
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
                let Some(r) = self.run.as_mut() else { return };
                let a = run::areas(area, r);
                if inside(a.diagram, pos) {
                    if up || down {
                        r.step(if up { -3 } else { 3 });
                    } else if click {
                        r.panel = Panel::Diagram;
                        let g = diagram::geometry(r, a.diagram);
                        if pos.y >= g.header_y && pos.y < g.rows_y {
                            // The nearest lane whose name is on the clicked row.
                            if let Some((i, _)) = g
                                .lanes
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| g.names[*i].2 == pos.y)
                                .min_by_key(|(_, &x)| x.abs_diff(pos.x))
                            {
                                r.node = i;
                                r.pinned = true;
                            }
                        } else if pos.y >= g.rows_y {
                            if let Some(&i) = g.events.get(usize::from(pos.y - g.rows_y)) {
                                r.jump(i);
                            }
                        }
                    }
                } else if inside(a.inspector, pos) {
                    if up {
                        r.choose_node(-1);
                    } else if down {
                        r.choose_node(1);
                    } else if click {
                        r.panel = Panel::Inspector;
                    }
                } else if inside(a.verdicts, pos) {
                    r.panel = Panel::Verdicts;
                    if click && pos.y > a.verdicts.y {
                        let i = usize::from(pos.y - a.verdicts.y - 1);
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
