//! Prints frame and step-jump times on a 1 000 000-event trace:
//! `cargo run --release -p sovlab-tui --example bench_frames [EVENTS]`.

fn main() {
    let events = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    for (w, h) in [(80, 24), (200, 50)] {
        let f = sovlab_tui::bench::bench_tui_at(events, w, h);
        println!(
            "{w}x{h}: {} events (simulated in {:.0} ms, indexed in {:.0} ms): \
             frame {:.2} ms while stepping, {:.2} ms after a jump to a random step",
            f.events, f.run_ms, f.index_ms, f.frame_ms, f.jump_ms
        );
    }
}
