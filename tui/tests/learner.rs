//! The learner's path through the TUI (issue 17): what an 80x24 screen must show, and
//! the keys a new user reaches for. TestBackend renders, snapshots at 80x24 and 200x50.

// These snapshots are of runs on the default engine, madsim: a build without
// `--cfg madsim` would draw DES runs and fail every snapshot for no visible reason.
#[cfg(not(madsim))]
compile_error!(
    "the TUI tests need `--cfg madsim` (set in .cargo/config.toml). A RUSTFLAGS \
     environment variable replaces that setting: unset it, or add --cfg madsim to it."
);

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::Terminal;
use sovlab_sim::trace::EventKind;
use sovlab_tui::app::MarkKind;
use sovlab_tui::{App, Screen};

fn catalogue_text(stem: &str) -> String {
    let path = format!("{}/../scenarios/{stem}.toml", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).expect("a catalogue scenario")
}

/// Every catalogue scenario, labelled as `sovlab` labels them.
fn catalogue() -> Vec<(String, String)> {
    let dir = format!("{}/../scenarios", env!("CARGO_MANIFEST_DIR"));
    let mut stems: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "toml").then(|| p.file_stem().unwrap().to_string_lossy().into())
        })
        .collect();
    stems.sort();
    stems
        .into_iter()
        .map(|s| (format!("scenarios/{s}.toml"), catalogue_text(&s)))
        .collect()
}

/// The app on scenario `stem` (seed 1), on its run screen.
fn open(stem: &str) -> App {
    let mut a = App::new(
        vec![(format!("scenarios/{stem}.toml"), catalogue_text(stem))],
        None,
    );
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.screen, Screen::Run, "{}", a.status);
    a
}

fn draw(app: &mut App, w: u16, h: u16) -> Buffer {
    app.area = Rect::new(0, 0, w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| sovlab_tui::render(app, f)).unwrap();
    t.backend().buffer().clone()
}

fn rows(b: &Buffer, r: Rect) -> Vec<String> {
    (r.y..r.bottom())
        .map(|y| (r.x..r.right()).map(|x| b[(x, y)].symbol()).collect())
        .collect()
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let b = draw(app, w, h);
    rows(&b, b.area).join("\n")
}

fn press(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn type_keys(app: &mut App, keys: &str) {
    for c in keys.chars() {
        press(app, KeyCode::Char(c));
    }
}

#[test]
fn a_cqrs_run_shows_all_five_verdicts_the_view_rows_and_help_and_quit() {
    let mut a = open("reads-view-outbox-converges");
    {
        let r = a.run.as_mut().unwrap();
        let names: Vec<&str> = r.result.verdicts.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "atomicity",
                "conservation",
                "termination",
                "isolation",
                "convergence"
            ]
        );
        // Inside the outage: the view lags behind its sources.
        r.seek_time(450_000);
        let view = r.trace().node_ix("order-history").unwrap();
        r.node = usize::from(view);
        r.pinned = true;
    }
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut a, w, h);
        for v in [
            "atomicity",
            "conservation",
            "termination",
            "isolation",
            "convergence",
        ] {
            assert!(s.contains(v), "{w}x{h}: {v} missing\n{s}");
        }
        assert!(s.contains("? help · q quit"), "{w}x{h}\n{s}");
        assert!(s.contains("differ from the sources"), "{w}x{h}\n{s}");
        // A row that differs says what its source holds; the timeline counts steps.
        assert!(s.contains("≠ "), "{w}x{h}\n{s}");
        assert!(s.contains("step 0"), "{w}x{h}\n{s}");
        insta::assert_snapshot!(format!("cqrs_view_{w}x{h}"), s);
    }
    // At the end the view has converged: every row is the same as its source's.
    press(&mut a, KeyCode::End);
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("the same as the sources"), "{s}");
    assert!(!s.contains("≠ "), "{s}");
}

#[test]
fn catalogue_names_differ_and_the_about_pane_shows_expect_and_faults() {
    let mut a = App::new(catalogue(), None);
    let sel = a
        .catalogue
        .iter()
        .position(|e| e.name.contains("reads-view-outbox-converges"))
        .unwrap();
    a.cat_sel = sel;
    for (w, h) in [(80, 24), (200, 50)] {
        let b = draw(&mut a, w, h);
        let s = rows(&b, b.area).join("\n");
        let (list, about, _) = sovlab_tui::screens::catalogue::areas_for(&a, b.area);
        let names: Vec<String> = rows(&b, list)[1..list.height as usize - 1]
            .iter()
            .map(|l| {
                l.trim_matches(|c: char| c == '│' || c.is_whitespace())
                    .to_string()
            })
            .filter(|l| !l.is_empty())
            .collect();
        assert!(names.len() >= 12, "{names:?}");
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{w}x{h}: {names:?}");
        let about = rows(&b, about).join("\n");
        // Above the description, so a short window shows them (lines may wrap).
        let flat = about
            .replace('│', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let at = |s: &str| {
            flat.find(s)
                .unwrap_or_else(|| panic!("{s} missing: {about}"))
        };
        let story = at("A read view, order-history");
        assert!(at("expect holds: atomicity, conservation, convergence") < story);
        assert!(at("crash database at 300 ms, back 100 ms later") < story);
        assert!(at("lose 100% on database <-> order-history from 100 ms to 600 ms") < story);
        insta::assert_snapshot!(format!("catalogue_{w}x{h}"), s);
    }
}

#[test]
fn the_next_seed_keeps_a_fork_and_undo_returns_to_its_parent_on_that_seed() {
    let mut a = open("shared-db-crash");
    for _ in 0..40 {
        press(&mut a, KeyCode::Right);
    }
    press(&mut a, KeyCode::Char('f'));
    let menu = a.menu.as_ref().unwrap();
    let i = menu
        .choices
        .iter()
        .position(|c| c.label == "crash payments (stays down)")
        .unwrap();
    for _ in 0..i {
        press(&mut a, KeyCode::Down);
    }
    press(&mut a, KeyCode::Enter);
    let faults = a.run.as_ref().unwrap().scenario.faults.len();
    press(&mut a, KeyCode::Char('s'));
    let r = a.run.as_ref().unwrap();
    assert_eq!(r.seed, 2);
    let fork = r.fork.as_ref().expect("still a fork after s");
    assert_eq!(fork.label, "crash payments (stays down)");
    assert_eq!(
        r.scenario.faults.len(),
        faults,
        "the added crash is in the run"
    );
    assert!(a.status.contains("re-run on it"), "{}", a.status);
    // The fork on seed 2 is what forking seed 2 directly gives.
    let direct = sovlab_sim::run(&r.scenario, 2);
    assert_eq!(r.trace().events, direct.trace.events);
    assert!(screen(&mut a, 80, 24).contains("│ fork 1 "));
    press(&mut a, KeyCode::Char('u'));
    let r = a.run.as_ref().unwrap();
    assert!(r.fork.is_none(), "{}", a.status);
    assert_eq!(r.seed, 2);
    assert_eq!(r.scenario.faults.len(), faults - 1);
    assert!(!screen(&mut a, 80, 24).contains("fork 1"));
}

#[test]
fn compare_leaves_out_expectations_that_do_not_apply_and_shows_progress() {
    let mut a = open("2pc-no-log");
    press(&mut a, KeyCode::Char('c'));
    assert_eq!(a.screen, Screen::Compare);
    assert!(a.busy());
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("running 1 of 5"), "{s}");
    assert!(s.contains("run…") && s.contains("wait"), "{s}");
    assert!(a.work());
    assert!(screen(&mut a, 80, 24).contains("running 2 of 5"));
    while a.work() {}
    assert!(!a.busy());
    let c = a.compare.as_ref().unwrap();
    let cannot: Vec<String> = c
        .rows
        .iter()
        .filter_map(|r| r.result.as_ref().err().map(|e| format!("{}: {e}", r.label)))
        .collect();
    assert!(cannot.is_empty(), "{cannot:?}");
    // Sagas, try-confirm-cancel and the shared database are not judged on agreement:
    // it is left out, and said.
    let labels: Vec<&str> = c.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels[3], "try-confirm-cancel", "{labels:?}");
    for r in [&c.rows[0], &c.rows[1], &c.rows[3], &c.rows[4]] {
        assert!(
            r.dropped.iter().any(|d| d.starts_with("expect: agreement")),
            "{}: {:?}",
            r.label,
            r.dropped
        );
    }
    assert!(c.rows[2].dropped.iter().all(|d| !d.contains("agreement")));
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut a, w, h);
        assert!(!s.contains("invali"), "{s}");
        assert!(s.contains("left out: expect: agreement"), "{s}");
        insta::assert_snapshot!(format!("compare_2pc_no_log_{w}x{h}"), s);
    }
}

#[test]
fn n_and_p_visit_every_violation() {
    let mut a = open("saga-duplicates-not-idempotent");
    let r = a.run.as_ref().unwrap();
    let mut want: Vec<usize> = r
        .result
        .verdicts
        .iter()
        .flat_map(|v| v.every_at.iter().map(|&s| s as usize))
        .collect();
    want.sort();
    want.dedup();
    let broken = r.result.verdicts.iter().filter(|v| !v.holds).count();
    assert!(
        want.len() > broken,
        "more violations ({}) than broken invariants ({broken})",
        want.len()
    );
    let violations: Vec<usize> = r
        .marks
        .iter()
        .filter(|m| m.1 == MarkKind::Violation)
        .map(|m| m.0)
        .collect();
    assert_eq!(violations, want);
    let mut visited = Vec::new();
    let mut last = usize::MAX;
    loop {
        press(&mut a, KeyCode::Char('n'));
        let c = a.run.as_ref().unwrap().cursor;
        if c == last {
            break;
        }
        visited.push(c);
        last = c;
    }
    assert!(want.iter().all(|w| visited.contains(w)), "{visited:?}");
    press(&mut a, KeyCode::Char('p'));
    assert!(a.run.as_ref().unwrap().cursor < last);
}

#[test]
fn the_inspector_follows_the_current_event_until_pinned() {
    let mut a = open("checkout-saga");
    let r = a.run.as_mut().unwrap();
    let pay = usize::from(r.trace().node_ix("payments").unwrap());
    let ord = usize::from(r.trace().node_ix("orders").unwrap());
    // The first local step at orders, and one at payments.
    let at = |r: &sovlab_tui::RunView, n: usize| {
        r.trace()
            .events
            .iter()
            .position(|e| usize::from(e.node) == n && matches!(e.kind, EventKind::Local { .. }))
            .unwrap()
    };
    let (i_ord, i_pay) = (at(r, ord), at(r, pay));
    r.jump(i_pay);
    assert_eq!(r.inspected(), pay);
    r.jump(i_ord);
    assert_eq!(r.inspected(), ord);
    assert!(screen(&mut a, 80, 24).contains("store · orders"));
    // P pins: the inspector stays while the cursor moves on.
    press(&mut a, KeyCode::Char('P'));
    let r = a.run.as_mut().unwrap();
    assert!(r.pinned);
    r.jump(i_pay);
    assert_eq!(r.inspected(), ord);
    let s = screen(&mut a, 200, 50);
    assert!(
        s.contains("store · orders") && s.contains("pinned (P)"),
        "{s}"
    );
    press(&mut a, KeyCode::Char('P'));
    assert_eq!(a.run.as_ref().unwrap().inspected(), pay);
}

#[test]
fn slash_searches_the_diagram_and_n_p_walk_the_matches() {
    let mut a = open("shared-db-crash");
    press(&mut a, KeyCode::Char('/'));
    type_keys(&mut a, "t3 deliver");
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("/t3 deliver▏"), "{s}");
    // While typing, q is part of the search, not quit.
    type_keys(&mut a, "q");
    assert!(!a.quit);
    press(&mut a, KeyCode::Backspace);
    press(&mut a, KeyCode::Enter);
    let r = a.run.as_ref().unwrap();
    let matches: Vec<usize> = r
        .trace()
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(&e.kind, EventKind::Deliver { msg, .. } if msg.txn == 3))
        .map(|(i, _)| i)
        .collect();
    assert!(matches.len() >= 2);
    assert_eq!(r.cursor, matches[0]);
    assert!(
        a.status.contains(&format!("match 1 of {}", matches.len())),
        "{}",
        a.status
    );
    press(&mut a, KeyCode::Char('n'));
    assert_eq!(a.run.as_ref().unwrap().cursor, matches[1]);
    press(&mut a, KeyCode::Char('N'));
    assert_eq!(a.run.as_ref().unwrap().cursor, matches[0]);
    // Esc ends the search (and stays on the run screen); n visits faults again.
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.screen, Screen::Run);
    assert!(a.run.as_ref().unwrap().search.is_none());
    press(&mut a, KeyCode::Char('n'));
    let r = a.run.as_ref().unwrap();
    assert!(
        r.marks.iter().any(|m| m.0 == r.cursor),
        "on a fault or violation"
    );
}

#[test]
fn timers_can_be_hidden_and_the_description_shown() {
    let mut a = open("shared-db-crash");
    let timers = |a: &App| {
        let r = a.run.as_ref().unwrap();
        r.trace()
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Timer { .. }))
            .count()
    };
    assert!(timers(&a) > 10);
    let diagram = |a: &mut App| {
        let b = draw(a, 80, 24);
        let r = sovlab_tui::screens::run::areas(b.area, a.run.as_ref().unwrap()).diagram;
        rows(&b, r).join("\n")
    };
    assert!(diagram(&mut a).contains('◷'));
    press(&mut a, KeyCode::Char('t'));
    assert!(!diagram(&mut a).contains('◷'));
    // Stepping skips the hidden timers.
    for _ in 0..200 {
        press(&mut a, KeyCode::Right);
        let r = a.run.as_ref().unwrap();
        assert!(!matches!(
            r.trace().events[r.cursor].kind,
            EventKind::Timer { .. }
        ));
    }
    press(&mut a, KeyCode::Char('t'));
    assert!(diagram(&mut a).contains('◷'));
    press(&mut a, KeyCode::Char('d'));
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("about this scenario"), "{s}");
    assert!(s.contains("Every service keeps its tables in one"), "{s}");
    assert!(s.contains("? help · q quit"), "{s}");
    press(&mut a, KeyCode::Char('d'));
    assert!(screen(&mut a, 80, 24).contains("space-time"));
}

#[test]
fn the_what_if_menu_chooses_the_restart_delay_and_the_window_length() {
    let mut a = open("shared-db-crash");
    for _ in 0..40 {
        press(&mut a, KeyCode::Right);
    }
    press(&mut a, KeyCode::Char('f'));
    assert!(screen(&mut a, 80, 24).contains("time: 100 ms"));
    press(&mut a, KeyCode::Right);
    press(&mut a, KeyCode::Right);
    let m = a.menu.as_ref().unwrap();
    assert_eq!(m.duration_ms(), 300);
    let labels: Vec<&str> = m.choices.iter().map(|c| c.label.as_str()).collect();
    assert!(
        labels.contains(&"crash payments, restart after 300 ms"),
        "{labels:?}"
    );
    assert!(labels.contains(&"partition payments from the rest for 300 ms"));
    assert!(labels.contains(&"lose 50% of messages on every link for 300 ms"));
    let i = labels
        .iter()
        .position(|l| *l == "partition payments from the rest for 300 ms")
        .unwrap();
    for _ in 0..i {
        press(&mut a, KeyCode::Down);
    }
    press(&mut a, KeyCode::Enter);
    let r = a.run.as_ref().unwrap();
    let f = r.scenario.faults.last().unwrap();
    assert_eq!(f.heal_ms, Some(f.at_ms + 300), "{f:?}");
    // Shorter, then the shortest: the menu stops there.
    press(&mut a, KeyCode::Char('f'));
    for _ in 0..20 {
        press(&mut a, KeyCode::Left);
    }
    assert_eq!(a.menu.as_ref().unwrap().duration_ms(), 10);
}

#[test]
fn help_lists_every_key_the_legend_and_where_the_verdicts_are_explained() {
    let all: String = sovlab_tui::screens::help_lines()
        .iter()
        .map(|l| l.to_string() + "\n")
        .collect();
    for key in [
        "q / Ctrl-C",
        "?",
        "← →",
        "↑ ↓",
        "PgUp",
        "Home",
        "space",
        "+ -",
        "n p",
        "/",
        "n p / N",
        "Esc",
        "Tab",
        "[ ]",
        "P",
        "t",
        "d",
        "Enter",
        "f",
        "u / Backspace",
        "c",
        "s S",
    ] {
        assert!(
            all.lines().any(|l| l.trim_start().starts_with(key)),
            "{key} missing from the help"
        );
    }
    for (sym, _) in sovlab_tui::widgets::glyphs::LEGEND {
        assert!(all.contains(sym.trim()), "{sym} missing from the help");
    }
    let mut a = open("shared-db-crash");
    press(&mut a, KeyCode::Char('?'));
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut a, w, h);
        assert!(s.contains("docs/concepts.md"), "{s}");
        insta::assert_snapshot!(format!("help_{w}x{h}"), s);
    }
    // A short window scrolls down to the legend.
    for _ in 0..60 {
        press(&mut a, KeyCode::Down);
    }
    assert!(a.help);
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("↻") && s.contains("restart"), "{s}");
    press(&mut a, KeyCode::Char('x'));
    assert!(!a.help);
}

#[test]
fn a_read_has_one_name_and_no_debug_words() {
    let mut a = open("reads-torn-composition");
    let r = a.run.as_ref().unwrap();
    let t = r.trace();
    let mut reads = 0;
    for e in &t.events {
        let d = sovlab_tui::describe::describe(t, e);
        for debug in ["Complete", "Partial {", "Failed", "query "] {
            assert!(!d.contains(debug), "{d}");
        }
        if let EventKind::Read { query, .. } = e.kind {
            assert!(d.contains(&format!("read {query} about txn")), "{d}");
            reads += 1;
        }
    }
    assert!(reads > 10);
    // The diagram and the detail line call the query message by the read's number.
    let q = t
        .events
        .iter()
        .position(|e| matches!(&e.kind, EventKind::Send { msg, .. } if msg.kind.name() == "query"))
        .unwrap();
    a.run.as_mut().unwrap().jump(q);
    let s = screen(&mut a, 200, 50);
    assert!(s.contains("sends read 1 t"), "{s}");
}

#[test]
fn lane_names_are_whole_where_a_second_row_has_room_and_never_touch() {
    for stem in [
        "2pc-no-log",
        "reads-view-outbox-converges",
        "shared-db-blast-radius",
    ] {
        let mut a = open(stem);
        for (w, h) in [(80, 24), (200, 50), (60, 15)] {
            let b = draw(&mut a, w, h);
            let r = a.run.as_ref().unwrap();
            let area = sovlab_tui::screens::run::areas(b.area, r).diagram;
            let g = sovlab_tui::widgets::diagram::geometry(r, area);
            let names: Vec<&str> = r.trace().nodes.iter().map(|n| n.name.as_str()).collect();
            let drawn: Vec<&str> = g.names.iter().map(|n| n.0.as_str()).collect();
            let mut unique = drawn.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), drawn.len(), "{stem} {w}x{h}: {drawn:?}");
            // Names on one row keep a blank column between them, inside the panel.
            for (i, x) in g.names.iter().enumerate() {
                let end = x.1 + x.0.chars().count() as u16;
                assert!(
                    x.1 >= g.inner.x && end <= g.inner.right(),
                    "{stem} {w}x{h}: {x:?}"
                );
                for y in &g.names[i + 1..] {
                    if y.2 == x.2 {
                        assert!(end < y.1, "{stem} {w}x{h}: {x:?} touches {y:?}");
                    }
                }
            }
            let row = |y: u16| rows(&b, Rect::new(g.inner.x, y, g.inner.width, 1)).join("");
            for (n, _, y) in &g.names {
                assert!(
                    row(*y).contains(n.as_str()),
                    "{stem} {w}x{h}: {n} not drawn"
                );
            }
            if (w, h) == (80, 24) {
                // At 80x24 no name is cut to five letters: whole, or at least eight.
                for (d, n) in drawn.iter().zip(&names) {
                    assert!(d == n || d.chars().count() >= 8, "{stem}: {drawn:?}");
                }
            }
        }
    }
}

#[test]
fn a_run_with_service_times_shows_what_it_cost_beside_the_verdicts() {
    let mut a = open("cost-shared-db-bottleneck");
    press(&mut a, KeyCode::End);
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("? help · q quit"), "{s}");
    assert!(s.contains("cost "), "{s}");
    assert!(s.contains("/s"), "{s}");
    assert!(
        s.contains("database 9"),
        "the busiest node, near 100 %:\n{s}"
    );
    insta::assert_snapshot!("cost_shared_db_80x24", s);
    // A scenario without a service time has no cost line.
    let mut plain = open("checkout-saga");
    press(&mut plain, KeyCode::End);
    let s = screen(&mut plain, 80, 24);
    assert!(!s.contains("cost "), "{s}");
}

/// The README's tour shows a capture of the run screen: it is this render, so it shows
/// what a new user sees (the footer's `? help` / `q quit` included), not an old screen.
#[test]
fn the_readmes_capture_is_the_run_screen_it_describes() {
    let readme = include_str!("../../README.md");
    let tour = &readme[readme.find("## The terminal UI").expect("a TUI tour")..];
    let start = tour.find("```text\n").expect("a text capture") + "```text\n".len();
    let capture = &tour[start..start + tour[start..].find("```").unwrap()];
    let mut a = open("shared-db-crash");
    // "A few steps after `n`", as the README says.
    press(&mut a, KeyCode::Char('n'));
    for _ in 0..3 {
        press(&mut a, KeyCode::Right);
    }
    let s = screen(&mut a, 80, 24);
    let trimmed: Vec<&str> = s.lines().map(str::trim_end).collect();
    let want: Vec<&str> = capture.lines().map(str::trim_end).collect();
    assert_eq!(
        want,
        trimmed,
        "README.md's capture differs from the screen; paste:\n{}",
        trimmed.join("\n")
    );
    assert!(capture.contains("? help · q quit"), "{capture}");
}
