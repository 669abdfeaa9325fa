//! Frame and jump times on a long trace (a benchmark, not a test).

use crate::app::{App, Origin};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use sovlab_sim::Scenario;
use std::time::Instant;

/// A shared-database scenario long enough to produce about `events` events.
pub fn long_scenario(events: u64) -> Scenario {
    let text = format!(
        r#"
name = "bench: long shared-database run"
duration_ms = 3600000
[network]
latency_ms = [1, 5]
loss = 0.01
[[service]]
name = "orders"
[[service]]
name = "inventory"
store = "document"
[[service]]
name = "payments"
store = "key-value"
[[service]]
name = "ledger"
store = "event-log"
[write]
protocol = "shared-database"
transactions = {txns}
concurrency = 4
steps = [{{ service = "orders" }}, {{ service = "inventory", amount = 2, reject = 0.1 }}, {{ service = "payments" }}, {{ service = "ledger" }}]
[[fault]]
at_ms = 500
crash = "database"
restart_ms = 200
[limits]
max_events = {events}
"#,
        txns = events / 15 + 100
    );
    Scenario::parse(&text, "bench").expect("the bench scenario is valid")
}

/// What [`bench_tui_at`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchFigures {
    /// Events in the trace.
    pub events: usize,
    /// Time to simulate the trace, in ms (not the TUI's cost; for context).
    pub run_ms: f64,
    /// Time to index the trace for viewing (checkpoints, markers), in ms.
    pub index_ms: f64,
    /// Mean time of a frame while stepping one event at a time, in ms.
    pub frame_ms: f64,
    /// Mean time of the frame right after a jump to a random step, in ms.
    pub jump_ms: f64,
}

/// Frame and jump times on a ~`events`-event trace at 200x50: (frame ms, jump ms).
pub fn bench_tui(events: u64) -> (f64, f64) {
    let f = bench_tui_at(events, 200, 50);
    (f.frame_ms, f.jump_ms)
}

/// Runs a ~`events`-event trace and measures, at `w`x`h`: the mean time of a frame
/// while stepping one event at a time, and the mean time of a frame right after a
/// jump to a random step (which rebuilds the inspected stores from checkpoints).
pub fn bench_tui_at(events: u64, w: u16, h: u16) -> BenchFigures {
    let s = long_scenario(events);
    let t = Instant::now();
    let result = sovlab_sim::run(&s, 1);
    let run_ms = t.elapsed().as_secs_f64() * 1000.0;
    let n = result.trace.events.len();
    let mut app = App::new(vec![], None);
    let t = Instant::now();
    app.open_result(s.name.clone(), result, Origin::Catalogue);
    let index_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    term.draw(|f| crate::render(&app, f)).expect("draw");
    let jumps = 50;
    let t = Instant::now();
    for _ in 0..jumps {
        let to = (next() % n as u64) as usize;
        app.run.as_mut().expect("run").jump(to);
        term.draw(|f| crate::render(&app, f)).expect("draw");
    }
    let jump_ms = t.elapsed().as_secs_f64() * 1000.0 / f64::from(jumps);
    let steps = 200;
    let t = Instant::now();
    for _ in 0..steps {
        app.run.as_mut().expect("run").step(1);
        term.draw(|f| crate::render(&app, f)).expect("draw");
    }
    let frame_ms = t.elapsed().as_secs_f64() * 1000.0 / f64::from(steps);
    BenchFigures {
        events: n,
        run_ms,
        index_ms,
        frame_ms,
        jump_ms,
    }
}
