//! "Did you mean ...?" hints for likely typos in scenario files.

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word_l = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&word_l, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| {
            *d <= (c.len().max(word.len()) / 3).max(2)
                || c.starts_with(word_l.as_str())
                || word_l.starts_with(*c)
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A hint for serde's "unknown variant/field `x`, expected one of `a`, `b`" messages.
pub fn hint_for_serde_error(message: &str) -> Option<String> {
    let found = between(message, "unknown variant `", "`")
        .or_else(|| between(message, "unknown field `", "`"))?;
    let expected = message.split("expected").nth(1)?;
    let candidates: Vec<&str> = expected
        .split('`')
        .enumerate()
        .filter_map(|(i, s)| (i % 2 == 1).then_some(s))
        .collect();
    if let Some(best) = did_you_mean(found, &candidates) {
        return Some(format!("did you mean \"{best}\"?"));
    }
    Some(format!(
        "expected one of: {}",
        candidates
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_name() {
        let c = ["saga", "two-phase-commit", "shared-database"];
        assert_eq!(did_you_mean("two-phase", &c), Some("two-phase-commit"));
        assert_eq!(did_you_mean("sgaa", &c), Some("saga"));
        assert_eq!(did_you_mean("zzzzzzzz", &c), None);
    }

    #[test]
    fn reads_serde_messages() {
        let m =
            "unknown variant `2pc`, expected one of `saga`, `two-phase-commit`, `shared-database`";
        assert_eq!(
            hint_for_serde_error(m).unwrap(),
            "expected one of: \"saga\", \"two-phase-commit\", \"shared-database\""
        );
        let m = "unknown field `latncy_ms`, expected one of `loss`, `duplicate`, `latency_ms`";
        assert_eq!(
            hint_for_serde_error(m).unwrap(),
            "did you mean \"latency_ms\"?"
        );
    }
}
