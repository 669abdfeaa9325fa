//! The run screen's footer: the key hints that fit, most useful first, with `? help`
//! and `q quit` always last and always there, whatever the width.

/// The hints after the essential ones, in the order they are dropped last-first.
pub const RUN_HINTS: [&str; 13] = [
    "←/→ step",
    "n/p fault",
    "/ search",
    "f what-if",
    "space play",
    "Tab panel",
    "d about",
    "u undo",
    "c compare",
    "s/S seed",
    "t timers",
    "P pin",
    "+/- speed",
];

/// The hints that are always shown.
pub const ESSENTIAL: &str = "? help · q quit";

/// The footer in `width` columns: `message` (or as many of `hints` as fit, in order)
/// then [`ESSENTIAL`]. A long message is cut with `…` before the essential hints are.
pub fn footer(message: &str, hints: &[&str], width: usize) -> String {
    let room = width.saturating_sub(ESSENTIAL.chars().count() + 3);
    let left = if message.is_empty() {
        let mut out = String::new();
        for h in hints {
            let sep = if out.is_empty() { 0 } else { 3 };
            if out.chars().count() + sep + h.chars().count() > room {
                break;
            }
            if sep > 0 {
                out.push_str(" · ");
            }
            out.push_str(h);
        }
        out
    } else if message.chars().count() > room {
        let cut: String = message.chars().take(room.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        message.to_string()
    };
    if left.is_empty() {
        return ESSENTIAL.to_string();
    }
    // The essential hints sit at the right edge, where the eye looks for them.
    let pad = width.saturating_sub(left.chars().count() + ESSENTIAL.chars().count());
    format!("{left}{}{ESSENTIAL}", " ".repeat(pad.max(3)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_and_quit_are_always_shown_and_lesser_hints_go_first() {
        for w in [40, 60, 80, 100, 120, 200] {
            let f = footer("", &RUN_HINTS, w);
            assert!(f.chars().count() <= w.max(ESSENTIAL.len()), "{w}: {f}");
            assert!(f.ends_with("? help · q quit"), "{w}: {f}");
            // Whatever is dropped is dropped from the end of the list.
            let shown: Vec<&str> = RUN_HINTS
                .iter()
                .copied()
                .filter(|h| f.contains(h))
                .collect();
            assert_eq!(shown, RUN_HINTS[..shown.len()], "{w}: {f}");
        }
        assert!(footer("", &RUN_HINTS, 80).contains("←/→ step"));
        assert!(footer("", &RUN_HINTS, 200).contains("+/- speed"));
        let long = "x".repeat(300);
        let f = footer(&long, &RUN_HINTS, 80);
        assert!(
            f.ends_with(ESSENTIAL) && f.contains('…') && f.chars().count() == 80,
            "{f}"
        );
    }
}
