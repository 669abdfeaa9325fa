//! Drives the app through key sequences and checks what it draws (ratatui TestBackend).

// These snapshots are of runs on the default engine, madsim: a build without
// `--cfg madsim` would draw DES runs and fail every snapshot for no visible reason.
#[cfg(not(madsim))]
compile_error!(
    "the TUI tests need `--cfg madsim` (set in .cargo/config.toml). A RUSTFLAGS \
     environment variable replaces that setting: unset it, or add --cfg madsim to it."
);

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::Terminal;
use sovlab_sim::trace::{EventKind, Local};
use sovlab_tui::app::Origin;
use sovlab_tui::{App, Panel, Screen};
use std::time::Duration;

fn scenario_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/shared-db-crash.toml"
    ))
    .expect("the catalogue scenario exists")
}

fn app() -> App {
    App::new(
        vec![
            ("shared-db-crash.toml".into(), scenario_text()),
            ("broken.toml".into(), "name = 1\n".into()),
        ],
        None,
    )
}

fn draw(app: &mut App, w: u16, h: u16) -> Buffer {
    app.area = Rect::new(0, 0, w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| sovlab_tui::render(app, f)).unwrap();
    t.backend().buffer().clone()
}

fn text(b: &Buffer) -> String {
    let mut s = String::new();
    for y in 0..b.area.height {
        for x in 0..b.area.width {
            s.push_str(b[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    text(&draw(app, w, h))
}

fn press(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn type_keys(app: &mut App, keys: &str) {
    for c in keys.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// A shared-database run whose trace was tampered with: one inventory commit lost
/// its writes, so atomicity breaks at a known step.
fn broken_trace_app() -> (App, u64) {
    let s = sovlab_sim::Scenario::parse(&scenario_text(), "x").unwrap();
    let run = sovlab_sim::run(&s, 1);
    let mut out = Vec::new();
    run.trace.write_jsonl(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if !done && l.contains("\"kind\":\"commit\"") && l.contains("\"store\":\"inventory\"") {
                done = true;
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["writes"] = serde_json::json!([]);
                v.to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(done);
    let trace = sovlab_sim::trace_load::parse(&(lines.join("\n") + "\n"), "t.jsonl").unwrap();
    let result = sovlab_sim::trace_load::judge(trace);
    let at = result
        .verdicts
        .iter()
        .find(|v| v.name == "atomicity")
        .unwrap();
    assert!(!at.holds);
    let at_seq = at.at_seq.expect("the checker names the step");
    let mut app = app();
    app.open_result("tampered".into(), result, Origin::Catalogue);
    (app, at_seq)
}

/// The catalogue's first entry opened, stepped to step 5 (five forward, one back,
/// one forward): where the step-through checks start.
fn at_step_5() -> App {
    let mut a = app();
    press(&mut a, KeyCode::Enter);
    type_keys(&mut a, "lllllh");
    press(&mut a, KeyCode::Right);
    a
}

/// `at_step_5`, stepped on to the first commit, with the inspector panel chosen.
fn inspecting_first_commit() -> App {
    let mut a = at_step_5();
    let first_commit = {
        let r = a.run.as_ref().unwrap();
        r.trace()
            .events
            .iter()
            .position(|e| {
                matches!(
                    e.kind,
                    EventKind::Local {
                        what: Local::Commit,
                        ..
                    }
                )
            })
            .unwrap()
    };
    while a.run.as_ref().unwrap().cursor < first_commit {
        press(&mut a, KeyCode::Char('l'));
    }
    press(&mut a, KeyCode::Tab);
    a
}

/// `inspecting_first_commit`, the client chosen, then the cursor at step 40: where
/// the fork and the comparison start.
fn at_step_40() -> App {
    let mut a = inspecting_first_commit();
    for _ in 0..5 {
        press(&mut a, KeyCode::Up);
    }
    press(&mut a, KeyCode::Home);
    for _ in 0..40 {
        press(&mut a, KeyCode::Right);
    }
    a
}

/// Forks `a` with a crash of the database that never restarts, from the what-if menu.
fn fork_crash_database(a: &mut App) {
    press(a, KeyCode::Char('f'));
    let menu = a.menu.clone().expect("the what-if menu is open");
    assert!(screen(a, 100, 30).contains("what if, at"));
    let i = menu
        .choices
        .iter()
        .position(|c| c.label == "crash database (stays down)")
        .expect("crash database is offered");
    for _ in 0..i {
        press(a, KeyCode::Down);
    }
    press(a, KeyCode::Enter);
}

#[test]
fn the_catalogue_lists_the_scenarios_and_a_broken_entry_says_why() {
    let mut a = app();
    let s = screen(&mut a, 80, 24);
    insta::assert_snapshot!("catalogue_80x24", s);
    assert!(s.contains("Shared database: one crash stops every service"));
    // A broken entry says why instead of running.
    press(&mut a, KeyCode::Down);
    assert!(screen(&mut a, 80, 24).contains("cannot be run"));
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.screen, Screen::Catalogue);
    press(&mut a, KeyCode::Up);
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.screen, Screen::Run);
}

#[test]
fn a_run_steps_forward_and_back() {
    let mut a = app();
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.screen, Screen::Run);
    type_keys(&mut a, "lllllh");
    assert_eq!(a.run.as_ref().unwrap().cursor, 4);
    press(&mut a, KeyCode::Right);
    let s = screen(&mut a, 80, 24);
    insta::assert_snapshot!("run_step5_80x24", s);
    assert!(s.contains("step 5/"));
}

#[test]
fn the_inspector_highlights_a_commits_change_and_the_client_keeps_no_store() {
    let mut a = inspecting_first_commit();
    assert_eq!(a.run.as_ref().unwrap().panel, Panel::Inspector);
    let b = draw(&mut a, 100, 30);
    let s = text(&b);
    assert!(s.contains("store · database"), "{s}");
    assert!(s.contains("▶ orders"), "{s}");
    let highlighted: String = s
        .lines()
        .enumerate()
        .filter(|(y, _)| (0..100).any(|x| b[(x, *y as u16)].bg == Color::Yellow))
        .map(|(_, l)| l.to_string())
        .collect();
    assert!(
        highlighted.contains("txn=1 step=0 amount=1 state=applied"),
        "{highlighted}"
    );
    // Choosing another node: the client keeps no store.
    for _ in 0..5 {
        press(&mut a, KeyCode::Up);
    }
    assert!(screen(&mut a, 100, 30).contains("client (client) keeps no store"));
}

#[test]
fn a_violation_is_marked_and_jumped_to() {
    // A tampered trace: atomicity breaks.
    let (mut b, at_seq) = broken_trace_app();
    let s = screen(&mut b, 100, 30);
    assert!(s.contains("holds so far; breaks at step"), "{s}");
    type_keys(&mut b, "nnnnnn");
    let marks = b.run.as_ref().unwrap().marks.clone();
    assert!(marks.iter().any(|m| m.0 == at_seq as usize));
    press(&mut b, KeyCode::Home);
    press(&mut b, KeyCode::Tab);
    press(&mut b, KeyCode::Tab);
    press(&mut b, KeyCode::Enter);
    assert_eq!(b.run.as_ref().unwrap().cursor, at_seq as usize);
    let s = screen(&mut b, 100, 30);
    assert!(s.contains(&format!("BROKEN at step {at_seq}")), "{s}");
    assert!(
        s.contains("atomicity: txn 1: applied at orders, payments;"),
        "{s}"
    );
}

#[test]
fn a_fork_crashing_the_database_diverges_at_the_fault_and_undoes() {
    let mut a = at_step_40();
    let before = a.run.as_ref().unwrap().result.report.write.clone().unwrap();
    fork_crash_database(&mut a);
    let run = a.run.as_ref().unwrap();
    let fork = run.fork.clone().expect("forked");
    let d = fork.diverged_at.expect("the fork diverges");
    // The cursor is on the added crash; the fork marker on the divergence.
    let e = &run.trace().events[run.cursor];
    assert_eq!(e.kind, EventKind::Crash);
    assert_eq!(run.trace().node_name(e.node), "database");
    assert!(run.marks.contains(&(d, sovlab_tui::app::MarkKind::Fork)));
    // Fork-stable faults: the fork runs as its parent until the added fault.
    assert!(
        run.trace().events[d].t_us >= fork.at_ms * 1000,
        "diverged at step {d}, before the fault at {} ms",
        fork.at_ms
    );
    let after = run.result.report.write.clone().unwrap();
    assert!(
        after.committed < before.committed,
        "{after:?} vs {before:?}"
    );
    let s = screen(&mut a, 120, 40);
    assert!(
        s.contains("fork: crash database (stays down) · diverged at"),
        "{s}"
    );
    assert!(s.contains("fork 1"), "{s}");
    press(&mut a, KeyCode::Char('u'));
    assert!(a.run.as_ref().unwrap().fork.is_none());
    assert_eq!(a.run.as_ref().unwrap().cursor, 40);
}

#[test]
fn compare_runs_every_protocol_and_opens_a_row_then_backs_out() {
    // As after a fork undone: compare on the scenario's own faults.
    let mut a = at_step_40();
    fork_crash_database(&mut a);
    press(&mut a, KeyCode::Char('u'));
    press(&mut a, KeyCode::Char('c'));
    assert_eq!(a.screen, Screen::Compare);
    while a.work() {}
    let s = screen(&mut a, 100, 30);
    for p in [
        "saga orchestrated",
        "saga choreographed",
        "two-phase commit",
        "try-confirm-cancel",
        "shared database",
    ] {
        assert!(s.contains(p), "{p} missing:\n{s}");
    }
    let c = a.compare.as_ref().unwrap();
    assert_eq!(c.rows.len(), 5);
    assert!(c.rows.iter().all(|r| r.result.is_ok()));
    // The database crash names a node only the shared database has.
    assert!(!c.rows[0].dropped.is_empty());
    assert!(
        !c.rows[3].dropped.is_empty(),
        "try-confirm-cancel has no database"
    );
    assert!(c.rows[4].dropped.is_empty());
    assert!(s.contains("left out: fault at 60 ms on database"), "{s}");
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.screen, Screen::Run);
    assert!(a.run.as_ref().unwrap().label.contains("shared database"));
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.screen, Screen::Compare);
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.screen, Screen::Run);
    assert_eq!(a.run.as_ref().unwrap().cursor, 40);
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.screen, Screen::Catalogue);
    press(&mut a, KeyCode::Char('q'));
    assert!(a.quit);
}

#[test]
fn seeds_keep_the_virtual_time_and_play_advances() {
    let mut a = app();
    press(&mut a, KeyCode::Enter);
    for _ in 0..200 {
        press(&mut a, KeyCode::Right);
    }
    let t = a.run.as_ref().unwrap().now_us();
    press(&mut a, KeyCode::Char('s'));
    let r = a.run.as_ref().unwrap();
    assert_eq!(r.seed, 2);
    assert!(r.now_us() >= t);
    assert!(r.cursor == 0 || r.trace().events[r.cursor - 1].t_us < t);
    press(&mut a, KeyCode::Char('S'));
    assert_eq!(a.run.as_ref().unwrap().seed, 1);
    // Play: 20 events per second by default.
    press(&mut a, KeyCode::Home);
    press(&mut a, KeyCode::Char(' '));
    a.tick(Duration::from_millis(1000));
    assert_eq!(a.run.as_ref().unwrap().cursor, 20);
    press(&mut a, KeyCode::Char('+'));
    a.tick(Duration::from_millis(1000));
    assert_eq!(a.run.as_ref().unwrap().cursor, 70);
    press(&mut a, KeyCode::Char(' '));
    a.tick(Duration::from_millis(1000));
    assert_eq!(a.run.as_ref().unwrap().cursor, 70);
    // Help overlay; any key closes it.
    press(&mut a, KeyCode::Char('?'));
    assert!(screen(&mut a, 80, 24).contains("help · keys"));
    press(&mut a, KeyCode::Char('x'));
    assert!(!screen(&mut a, 80, 24).contains("help · keys"));
    // Ctrl-C quits (raw mode delivers it as a key).
    a.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(a.quit);
}

#[test]
fn small_terminals_never_panic() {
    let mut a = app();
    let sizes = [
        (60, 15),
        (59, 15),
        (60, 14),
        (80, 24),
        (200, 50),
        (20, 5),
        (1, 1),
    ];
    let mut states: Vec<App> = Vec::new();
    // Every screen and overlay.
    states.push(app());
    let mut run = app();
    press(&mut run, KeyCode::Enter);
    type_keys(&mut run, "nnl");
    states.push(run);
    let mut menu = app();
    press(&mut menu, KeyCode::Enter);
    press(&mut menu, KeyCode::Char('f'));
    states.push(menu);
    let mut help = app();
    press(&mut help, KeyCode::Char('?'));
    states.push(help);
    let mut cmp = app();
    press(&mut cmp, KeyCode::Enter);
    press(&mut cmp, KeyCode::Char('c'));
    states.push(cmp);
    states.push(broken_trace_app().0);
    for st in states.iter_mut() {
        for &(w, h) in &sizes {
            let s = screen(st, w, h);
            let small = w < 60 || h < 15;
            if small {
                assert!(
                    !s.contains("space-time") && !s.contains("scenarios ("),
                    "{w}x{h}: {s}"
                );
            }
            if (w, h) == (59, 15) || (w, h) == (60, 14) {
                assert!(s.contains("needs a terminal"), "{w}x{h}: {s}");
            }
            // Mouse anywhere, any kind: never a panic.
            for (x, y) in [
                (0, 0),
                (w / 2, h / 2),
                (w.saturating_sub(1), h.saturating_sub(1)),
                (w / 3, 1),
                (w / 2, h.saturating_sub(3)),
            ] {
                for kind in [
                    MouseEventKind::Down(MouseButton::Left),
                    MouseEventKind::ScrollDown,
                    MouseEventKind::ScrollUp,
                ] {
                    st.handle_mouse(MouseEvent {
                        kind,
                        column: x,
                        row: y,
                        modifiers: KeyModifiers::NONE,
                    });
                    screen(st, w, h);
                }
            }
        }
    }
    // A short help says there is more.
    let mut h = app();
    press(&mut h, KeyCode::Char('?'));
    assert!(screen(&mut h, 60, 15).contains("help · keys · ↓ more"));
    assert!(!screen(&mut h, 200, 80).contains("↓ more"));
    // 60x15 really shows the run screen.
    press(&mut a, KeyCode::Enter);
    let s = screen(&mut a, 60, 15);
    assert!(s.contains("space-time") && s.contains("verdicts"), "{s}");
}

#[test]
fn mouse_clicks_choose_steps_nodes_and_timeline_positions() {
    let mut a = app();
    press(&mut a, KeyCode::Enter);
    screen(&mut a, 100, 30);
    let click = |a: &mut App, x, y| {
        a.handle_mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        })
    };
    // Diagram rows start at y 3 (title, border, lane names); the cursor is at the top.
    click(&mut a, 20, 6);
    assert_eq!(a.run.as_ref().unwrap().cursor, 3);
    // The timeline's right end is the last step.
    let tl = sovlab_tui::screens::run::areas(a.area, a.run.as_ref().unwrap()).timeline;
    click(&mut a, tl.right() - 1, tl.y);
    let r = a.run.as_ref().unwrap();
    assert_eq!(r.cursor, r.last());
    // The first lane name is the client.
    let g = sovlab_tui::widgets::diagram::geometry(
        r,
        sovlab_tui::screens::run::areas(a.area, r).diagram,
    );
    let x = g.lanes[0];
    click(&mut a, x, g.header_y);
    assert_eq!(a.run.as_ref().unwrap().node, 0);
}

#[test]
fn a_saved_trace_opens_like_the_run_it_came_from() {
    let s = sovlab_sim::Scenario::parse(&scenario_text(), "x").unwrap();
    let run = sovlab_sim::run(&s, 1);
    let mut out = Vec::new();
    run.trace.write_jsonl(&mut out).unwrap();
    let loaded = sovlab_sim::trace_load::parse(&String::from_utf8(out).unwrap(), "t").unwrap();
    assert_eq!(loaded.events, run.trace.events);
    let loaded = sovlab_sim::trace_load::judge(loaded);
    assert_eq!(loaded.report, run.report);
    let mut a = app();
    let mut b = app();
    a.open_result("same".into(), run, Origin::Catalogue);
    b.open_result("same".into(), loaded, Origin::Catalogue);
    for k in ["nnllll", "]]", ""] {
        type_keys(&mut a, k);
        type_keys(&mut b, k);
        assert_eq!(screen(&mut a, 120, 40), screen(&mut b, 120, 40));
    }
    press(&mut a, KeyCode::Tab);
    press(&mut b, KeyCode::Tab);
    assert_eq!(screen(&mut a, 120, 40), screen(&mut b, 120, 40));
}

#[test]
fn what_a_step_wrote_is_always_visible_in_the_inspector() {
    // Four stores of four kinds on one node, at the smallest comfortable size.
    let text = r#"
name = "four kinds"
duration_ms = 3000
[[service]]
name = "orders"
[[service]]
name = "inventory"
store = "document"
capacity = 50
[[service]]
name = "payments"
store = "key-value"
[[service]]
name = "ledger"
store = "event-log"
[write]
protocol = "shared-database"
transactions = 30
concurrency = 2
steps = [{ service = "orders" }, { service = "inventory", amount = 2, reject = 0.2 }, { service = "payments" }, { service = "ledger" }]
"#;
    let s = sovlab_sim::Scenario::parse(text, "x").unwrap();
    let mut a = App::new(vec![], None);
    a.open_scenario(&s, 3);
    let locals: Vec<usize> = {
        let t = a.run.as_ref().unwrap().trace();
        t.events
            .iter()
            .enumerate()
            .filter(
                |(_, e)| matches!(&e.kind, EventKind::Local { writes, .. } if !writes.is_empty()),
            )
            .map(|(i, _)| i)
            .collect()
    };
    assert!(locals.len() > 100);
    for (w, h) in [(80, 24), (60, 15), (200, 50)] {
        for &i in &locals {
            a.run.as_mut().unwrap().jump(i);
            let ins =
                sovlab_tui::screens::run::areas(Rect::new(0, 0, w, h), a.run.as_ref().unwrap())
                    .inspector;
            let b = draw(&mut a, w, h);
            let seen = (ins.y..ins.bottom())
                .any(|y| (ins.x..ins.right()).any(|x| b[(x, y)].bg == Color::Yellow));
            assert!(
                seen,
                "{w}x{h}: the change at step {i} is not shown:\n{}",
                text_of(&b)
            );
        }
    }
}

fn text_of(b: &Buffer) -> String {
    text(b)
}

#[test]
fn every_what_if_choice_forks_and_undoes() {
    let mut a = app();
    press(&mut a, KeyCode::Enter);
    // Inside the scenario's partition-free middle, then inside a partition we add.
    for _ in 0..60 {
        press(&mut a, KeyCode::Right);
    }
    press(&mut a, KeyCode::Char('f'));
    let n = a.menu.as_ref().unwrap().choices.len();
    press(&mut a, KeyCode::Esc);
    assert!(a.menu.is_none());
    for i in 0..n {
        press(&mut a, KeyCode::Char('f'));
        for _ in 0..i {
            press(&mut a, KeyCode::Char('j'));
        }
        let label = a.menu.as_ref().unwrap().choices[i].label.clone();
        press(&mut a, KeyCode::Enter);
        let r = a.run.as_ref().unwrap();
        assert!(r.fork.is_some(), "{label}: {}", a.status);
        screen(&mut a, 80, 24);
        if label.starts_with("partition") && !label.ends_with("right after this event") {
            // A partition is active here: healing it is offered, and forks again (a
            // triggered one has no absolute time to heal it at).
            press(&mut a, KeyCode::Char('l'));
            press(&mut a, KeyCode::Char('f'));
            let m = a.menu.as_ref().unwrap();
            let heal = m
                .choices
                .iter()
                .position(|c| c.label == "heal every partition now");
            let heal = heal.expect("heal is offered inside a partition");
            for _ in 0..heal {
                press(&mut a, KeyCode::Down);
            }
            press(&mut a, KeyCode::Enter);
            assert!(a.status.starts_with("forked: heal"), "{}", a.status);
            press(&mut a, KeyCode::Char('u'));
        }
        press(&mut a, KeyCode::Char('u'));
        assert!(a.run.as_ref().unwrap().fork.is_none(), "{label}");
        assert_eq!(a.run.as_ref().unwrap().cursor, 60);
    }
    press(&mut a, KeyCode::Char('u'));
    assert_eq!(a.status, "no fork to undo");
}

#[test]
fn outcomes_told_so_far_follow_the_cursor() {
    let mut a = app();
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.run.as_ref().unwrap().told_by_cursor(), (0, 0));
    press(&mut a, KeyCode::End);
    let r = a.run.as_ref().unwrap();
    let w = r.result.report.write.clone().unwrap();
    let (c, ab) = r.told_by_cursor();
    // Every transaction finished, and what the client heard matches the stores.
    assert_eq!((c, ab), (w.committed, w.aborted));
    assert!(screen(&mut a, 120, 40).contains(&format!("told so far: {c} committed · {ab} aborted")));
}

/// An app on catalogue scenario `file`, its run open.
fn run_of(file: &str) -> App {
    let path = format!("{}/../scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut a = App::new(vec![(file.into(), text)], None);
    press(&mut a, KeyCode::Enter);
    a
}

/// The `nth` (from 0) vote the coordinator of `a`'s run receives: its event index.
fn nth_vote_at_coordinator(a: &App, nth: usize) -> usize {
    let tr = a.run.as_ref().unwrap().trace();
    (0..tr.events.len())
        .filter(|&i| {
            let e = &tr.events[i];
            tr.node_name(e.node) == "coordinator"
                && e.kind.name() == "deliver"
                && e.kind.msg().is_some_and(|m| m.kind.name() == "vote")
        })
        .nth(nth)
        .expect("enough votes")
}

/// Moves `a`'s cursor to event `seq` and opens the what-if menu there.
fn what_if_at(a: &mut App, seq: usize) {
    while a.run.as_ref().unwrap().cursor < seq {
        press(a, KeyCode::Right);
    }
    press(a, KeyCode::Char('f'));
}

#[test]
fn a_crash_right_after_the_event_under_the_cursor_strikes_there() {
    let mut a = run_of("checkout-2pc.toml");
    // The third vote the coordinator receives: a count above 1 must be aimed at.
    let seq = nth_vote_at_coordinator(&a, 2);
    let (t_us, node) = {
        let e = &a.run.as_ref().unwrap().trace().events[seq];
        (e.t_us, e.node)
    };
    what_if_at(&mut a, seq);
    let menu = a.menu.clone().expect("the what-if menu is open");
    let after = menu.after.clone().expect("a trigger for a delivery");
    assert_eq!(
        (
            after.node.as_str(),
            after.event.as_str(),
            after.msg.as_deref()
        ),
        ("coordinator", "deliver", Some("vote"))
    );
    assert!(after.txn.is_some());
    let want = "crash coordinator right after this event (stays down)";
    let i = menu
        .choices
        .iter()
        .position(|c| c.label == want)
        .expect("offered");
    assert!(screen(&mut a, 100, 40).contains(want));
    for _ in 0..i {
        press(&mut a, KeyCode::Down);
    }
    press(&mut a, KeyCode::Enter);
    assert!(
        a.status.starts_with("forked: crash coordinator right"),
        "{}",
        a.status
    );
    let run = a.run.as_ref().unwrap();
    let f = run.scenario.faults.last().unwrap();
    assert_eq!(f.after.as_ref(), Some(&after));
    assert_eq!(f.crash.as_deref(), Some("coordinator"));
    // The fork names its event, which "this event" no longer does once the cursor moves.
    let label = &run.fork.as_ref().unwrap().label;
    assert!(
        label.starts_with("crash coordinator right after the")
            && label.contains("deliver of a vote for txn")
            && label.ends_with("at coordinator, stays down"),
        "{label}"
    );
    // The fork ran as its parent up to the matched event, then the crash came right
    // after that event's handler: same instant, only that handler's events between.
    let ev = &run.trace().events;
    assert_eq!(ev[seq].t_us, t_us);
    assert_eq!(ev[seq].node, node);
    let crash = (seq + 1..ev.len())
        .find(|&j| ev[j].kind == EventKind::Crash)
        .expect("the crash struck");
    assert_eq!(ev[crash].t_us, t_us);
    assert_eq!(run.trace().node_name(ev[crash].node), "coordinator");
    assert!(
        ev[seq + 1..crash]
            .iter()
            .all(|e| e.node == node && e.t_us == t_us),
        "{:?}",
        &ev[seq..=crash]
    );
    // The cursor is on the added crash.
    assert_eq!(run.cursor, crash);
}

/// A partition and a loss window offered right after the event under the cursor
/// start there (only that handler's events between) and last `for_ms` from it.
#[test]
fn a_partition_and_a_loss_window_right_after_the_event_under_the_cursor_start_there() {
    let wants = [
        (
            "partition coordinator from the rest for 100 ms right after this event",
            "partition",
            "heal",
        ),
        (
            "lose 50% of messages on every link for 100 ms right after this event",
            "loss-start",
            "loss-end",
        ),
    ];
    for (want, start_kind, end_kind) in wants {
        let mut a = run_of("checkout-2pc.toml");
        // The second vote the coordinator receives.
        let seq = nth_vote_at_coordinator(&a, 1);
        let (t_us, node) = {
            let e = &a.run.as_ref().unwrap().trace().events[seq];
            (e.t_us, e.node)
        };
        what_if_at(&mut a, seq);
        let menu = a.menu.clone().expect("the what-if menu is open");
        let after = menu.after.clone().expect("a trigger for a delivery");
        let i = menu
            .choices
            .iter()
            .position(|c| c.label == want)
            .unwrap_or_else(|| panic!("{want} is offered"));
        for _ in 0..i {
            press(&mut a, KeyCode::Down);
        }
        press(&mut a, KeyCode::Enter);
        let run = a.run.as_ref().unwrap();
        let f = run.scenario.faults.last().unwrap();
        assert_eq!(f.after.as_ref(), Some(&after), "{want}");
        assert_eq!(f.for_ms, Some(100), "{want}");
        let label = &run.fork.as_ref().unwrap().label;
        assert!(
            label.contains("right after the") && label.ends_with("for 100 ms"),
            "{label}"
        );
        let ev = &run.trace().events;
        assert_eq!((ev[seq].t_us, ev[seq].node), (t_us, node), "{want}");
        let start = (seq + 1..ev.len())
            .find(|&j| ev[j].kind.name() == start_kind)
            .unwrap_or_else(|| panic!("{want}: the fault started"));
        assert_eq!(ev[start].t_us, t_us, "{want}");
        assert!(
            ev[seq + 1..start]
                .iter()
                .all(|e| e.node == node && e.t_us == t_us),
            "{want}: {:?}",
            &ev[seq..=start]
        );
        // It lasts for_ms from the firing: it ends at the first tick 100 ms later.
        let end = (start + 1..ev.len())
            .find(|&j| ev[j].kind.name() == end_kind)
            .unwrap_or_else(|| panic!("{want}: the fault ended"));
        let lasted = ev[end].t_us - ev[start].t_us;
        assert!(
            (100_000..101_000).contains(&lasted),
            "{want}: lasted {lasted} us"
        );
        assert_eq!(run.cursor, start, "{want}: the cursor is on the fault");
    }
}

/// A reseeded fork keeps its trigger: the status says, on each new seed, right after
/// which event it fired (that event really is the trigger's match, and the crash
/// follows at its instant), or that it never fired (and the coordinator never crashed).
#[test]
fn a_reseeded_triggered_fork_says_where_its_trigger_fired() {
    let mut a = run_of("checkout-2pc.toml");
    let seq = nth_vote_at_coordinator(&a, 2);
    what_if_at(&mut a, seq);
    let menu = a.menu.clone().unwrap();
    let want = "crash coordinator right after this event (stays down)";
    let i = menu.choices.iter().position(|c| c.label == want).unwrap();
    for _ in 0..i {
        press(&mut a, KeyCode::Down);
    }
    press(&mut a, KeyCode::Enter);
    let after = menu.after.unwrap();
    let (mut fired, mut never) = (0, 0);
    for _ in 0..12 {
        press(&mut a, KeyCode::Char('s'));
        let run = a.run.as_ref().unwrap();
        let tr = run.trace();
        // The scenario crashes payments itself: only the coordinator's crash is the fork's.
        let crash = tr
            .events
            .iter()
            .position(|e| e.kind == EventKind::Crash && tr.node_name(e.node) == "coordinator");
        let status = a.status.clone();
        if let Some(rest) = status.split("its trigger fired right after event ").nth(1) {
            let n: usize = rest.trim().parse().expect("an event number");
            let e = &tr.events[n];
            assert_eq!(tr.node_name(e.node), after.node, "{status}");
            assert_eq!(e.kind.name(), after.event, "{status}");
            assert_eq!(e.kind.txn(), after.txn, "{status}");
            let c = crash.expect("the crash struck");
            assert!(c > n && tr.events[c].t_us == e.t_us, "{status}");
            fired += 1;
        } else {
            assert!(status.contains("its trigger never fired"), "{status}");
            assert_eq!(crash, None, "{status}");
            never += 1;
        }
    }
    assert!(fired > 0, "fired on no seed ({never} never)");
}

#[test]
fn enter_on_a_verdict_marks_the_chain_from_cause_to_victim() {
    let mut a = run_of("2pc-coordinator-crash-forever.toml");
    assert!(a.run.as_ref().unwrap().chain.is_none());
    let (i, victim) = {
        let r = a.run.as_ref().unwrap();
        let i = r
            .result
            .verdicts
            .iter()
            .position(|v| v.name == "termination")
            .unwrap();
        let v = &r.result.verdicts[i];
        assert!(!v.holds, "termination breaks on this seed");
        (i, v.at_seq.unwrap() as usize)
    };
    press(&mut a, KeyCode::Tab);
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.run.as_ref().unwrap().panel, Panel::Verdicts);
    for _ in 0..i {
        press(&mut a, KeyCode::Down);
    }
    press(&mut a, KeyCode::Enter);
    let run = a.run.as_ref().unwrap();
    let chain = run.chain.expect("the chain is marked");
    let cause = run.cursor;
    assert_eq!(run.trace().events[cause].kind, EventKind::Crash);
    assert_eq!((chain.cause, chain.victim), (cause, victim));
    let ev = &run.trace().events;
    let txn = chain.txn.expect("the victim names its transaction");
    // On the chain: both ends and the victim's events between; off it: the others.
    let others: Vec<usize> = (chain.from..=chain.to)
        .filter(|&j| j != cause && j != victim && ev[j].kind.txn().is_some_and(|t| t != txn))
        .collect();
    assert!(!others.is_empty());
    assert!(others.iter().all(|&j| !chain.contains(j, &ev[j])));
    let own = (chain.from..=chain.to)
        .filter(|&j| ev[j].kind.txn() == Some(txn))
        .count();
    assert!(own >= 2, "{own}");
    // Drawn: the victim's row (the cursor sits on the cause) carries the mark.
    press(&mut a, KeyCode::Tab);
    while a.run.as_ref().unwrap().cursor != victim {
        let c = a.run.as_ref().unwrap().cursor;
        press(
            &mut a,
            if c > victim {
                KeyCode::Left
            } else {
                KeyCode::Right
            },
        );
    }
    let s = screen(&mut a, 120, 40);
    assert!(s.contains(&format!("┃{cause:>6}")), "{s}");
    let other = others
        .iter()
        .find(|&&j| s.contains(&format!(" {j:>6} ")))
        .expect("an unmarked event of another transaction is on screen");
    assert!(!s.contains(&format!("┃{other:>6}")), "{s}");
    // The legend names the mark.
    assert!(sovlab_tui::widgets::glyphs::named("┃"));
    // The timeline draws the span, and the status line said the chain in words.
    let bar = s.lines().rev().nth(2).expect("the timeline bar");
    assert!(bar.contains('━'), "{chain:?}\n{s}");
    assert!(sovlab_tui::widgets::glyphs::named("━"));
    // Esc clears the mark (and stays on the run).
    press(&mut a, KeyCode::Esc);
    assert!(a.run.as_ref().unwrap().chain.is_none());
    assert_eq!(a.status, "chain cleared");
    let s = screen(&mut a, 120, 40);
    assert!(!s.contains('━'), "{s}");
}

/// Enter on a broken verdict says the chain in words: the invariant, the cause's
/// event and what it was, the victim transaction and where it was detected.
#[test]
fn enter_on_a_verdict_says_the_chain_in_words() {
    let mut a = run_of("2pc-coordinator-crash-forever.toml");
    let i = a
        .run
        .as_ref()
        .unwrap()
        .result
        .verdicts
        .iter()
        .position(|v| v.name == "termination")
        .unwrap();
    press(&mut a, KeyCode::Tab);
    press(&mut a, KeyCode::Tab);
    for _ in 0..i {
        press(&mut a, KeyCode::Down);
    }
    press(&mut a, KeyCode::Enter);
    let run = a.run.as_ref().unwrap();
    let chain = run.chain.expect("the chain is marked");
    let txn = chain.txn.expect("a victim transaction");
    let want = format!("termination: #{} coordinator CRASHES (", chain.cause);
    assert!(a.status.starts_with(&want), "{}", a.status);
    assert!(
        a.status
            .ends_with(&format!(" → txn {txn} → detected at #{}", chain.victim)),
        "{}",
        a.status
    );
}
