//! The real terminal: setup, the event loop, and restoring the terminal however the
//! program ends (normal exit, panic, SIGINT/SIGTERM).
//!
//! Raw mode turns Ctrl-C into a key (handled in `keys`), but a signal sent by another
//! process (`kill`) still arrives as a signal. Its default action
//! would kill the process with the terminal left in raw mode on the alternate screen,
//! so the loop registers a flag with `signal-hook` and leaves cleanly when it is set.

use crate::app::App;
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// What is on screen, for a crash report: (scenario name, seed).
static CONTEXT: Mutex<Option<(String, u64)>> = Mutex::new(None);

/// Records which scenario and seed are on screen, for the crash report.
pub fn set_context(scenario: &str, seed: u64) {
    if let Ok(mut c) = CONTEXT.lock() {
        *c = Some((scenario.to_string(), seed));
    }
}

/// The crash report's reproduction hint.
pub fn crash_report() -> String {
    match CONTEXT.lock().ok().and_then(|c| c.clone()) {
        Some((name, seed)) => format!(
            "sovlab tui crashed while showing scenario {name:?} with seed {seed}.\n\
             To reproduce: sovlab tui <that scenario's file> --seed {seed}\n\
             Please report it with the message above."
        ),
        None => {
            "sovlab tui crashed on the catalogue screen. Please report it with the message above."
                .to_string()
        }
    }
}

/// Leaves raw mode and the alternate screen. Safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Installs (once) a panic hook that restores the terminal before the panic message
/// is printed, then names the scenario and seed to reproduce it.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
            eprintln!("{}", crash_report());
        }));
    });
}

fn setup() -> io::Result<Terminal<CrosstermBackend<Stdout>>> {
    enable_raw_mode()?;
    let mut out = io::stdout();
    if let Err(e) = execute!(out, EnterAlternateScreen, EnableMouseCapture) {
        restore();
        return Err(e);
    }
    Terminal::new(CrosstermBackend::new(out))
}

/// Runs `app` in the real terminal until the user quits or a signal arrives.
pub fn run_app(mut app: App) -> io::Result<()> {
    install_panic_hook();
    let stop = Arc::new(AtomicBool::new(false));
    // SIGHUP is left to its default action on purpose: it means the terminal is gone,
    // so there is nothing to restore, and crossterm's poll spins forever on a vanished
    // tty (crossterm-rs/crossterm#793) instead of returning to check a flag.
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // The first signal asks the loop to leave; a second one, if the loop is stuck,
        // ends the process.
        signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone())?;
        signal_hook::flag::register(sig, stop.clone())?;
    }
    let mut terminal = setup()?;
    let result = event_loop(&mut terminal, &mut app, &stop);
    restore();
    result
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut last = Instant::now();
    while !app.quit && !stop.load(Ordering::Relaxed) {
        let size = terminal.size()?;
        app.area = ratatui::layout::Rect::new(0, 0, size.width, size.height);
        terminal.draw(|f| crate::render(app, f))?;
        // Pending work (a compare row) runs one piece per frame, so the screen shows
        // how far it got; keys still answer between pieces.
        if app.busy() {
            app.work();
        }
        let wait = if app.busy() {
            Duration::ZERO
        } else if app.playing {
            Duration::from_millis(30)
        } else {
            Duration::from_millis(200)
        };
        if event::poll(wait)? {
            match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => app.handle_key(k),
                Event::Mouse(m) => app.handle_mouse(m),
                _ => {}
            }
        }
        let now = Instant::now();
        app.tick(now - last);
        last = now;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crash_report_names_the_scenario_and_seed() {
        set_context("Order saga", 42);
        let r = crash_report();
        assert!(
            r.contains("\"Order saga\"") && r.contains("--seed 42"),
            "{r}"
        );
    }
}
