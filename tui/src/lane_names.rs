//! Lane names that fit: each node's name whole where it fits, else a short form that
//! still tells it from every other lane.

/// The short form of `name` in at most `width` characters: the name itself if it fits;
/// a hyphenated name keeps each part's initial and as much of its last part as fits
/// (`order-history` in 5: `ohist`); any other name its first letters.
fn abbreviate(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        return name.to_string();
    }
    let parts: Vec<&str> = name.split('-').filter(|p| !p.is_empty()).collect();
    let long = match parts.split_last() {
        Some((last, init)) if !init.is_empty() => {
            let mut s: String = init.iter().filter_map(|p| p.chars().next()).collect();
            s.push_str(last);
            s
        }
        _ => name.to_string(),
    };
    long.chars().take(width).collect()
}

/// Lane names for `names`, each at most `width` characters, pairwise different where
/// `width` allows: a short form that collides with another gives its last letters to
/// a number (`orde`, `ord2`).
pub fn short_names(names: &[&str], width: usize) -> Vec<String> {
    short_names_in(names, &vec![width; names.len()])
}

/// [`short_names`] with a room of its own for each name.
pub fn short_names_in(names: &[&str], widths: &[usize]) -> Vec<String> {
    let mut out: Vec<String> = names
        .iter()
        .zip(widths)
        .map(|(n, &w)| abbreviate(n, w.max(1)))
        .collect();
    for i in 1..out.len() {
        let width = widths[i].max(1);
        let mut k = 2;
        while out[..i].contains(&out[i]) && k < 1000 {
            let tag = k.to_string();
            let keep = width.saturating_sub(tag.len());
            let base: String = abbreviate(names[i], width).chars().take(keep).collect();
            out[i] = format!("{base}{tag}");
            k += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CQRS: [&str; 6] = [
        "client",
        "orders",
        "inventory",
        "payments",
        "database",
        "order-history",
    ];

    #[test]
    fn names_that_fit_stay_whole() {
        assert_eq!(short_names(&CQRS, 13), CQRS);
    }

    #[test]
    fn short_forms_are_unique_where_cutting_is_not() {
        // Cut to four letters, orders and order-history both read "orde".
        let cut: Vec<String> = CQRS.iter().map(|n| n.chars().take(4).collect()).collect();
        assert_eq!(cut[1], cut[5]);
        let got = short_names(&CQRS, 4);
        assert_eq!(got, ["clie", "orde", "inve", "paym", "data", "ohis"]);
        for w in 1..14 {
            let got = short_names(&CQRS, w);
            assert!(got.iter().all(|n| n.chars().count() <= w), "{w}: {got:?}");
            if w >= 2 {
                let mut u = got.clone();
                u.sort();
                u.dedup();
                assert_eq!(u.len(), got.len(), "{w}: {got:?}");
            }
        }
        // Two names no abbreviation tells apart get numbers.
        assert_eq!(
            short_names(&["payments-eu", "payments-us"], 4),
            ["peu", "pus"]
        );
        assert_eq!(short_names(&["aaaa1", "aaaa2"], 4), ["aaaa", "aaa2"]);
    }
}
