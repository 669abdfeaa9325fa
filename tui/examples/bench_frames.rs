//! Prints frame and step-jump times on a 1 000 000-event trace:
//! `cargo run --release -p sovlab-tui --example bench_frames [EVENTS]`.

fn main() {
    let events = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    for (w, h) in [(80, 24), (200, 50)] {
        let t = std::time::Instant::now();
        let (n, frame, jump) = sovlab_tui::bench_tui(events, w, h);
        println!(
            "{w}x{h}: {n} events (run + index {:.1} s): frame {frame:.2} ms while stepping, {jump:.2} ms after a jump to a random step",
            t.elapsed().as_secs_f64()
        );
    }
}
