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

/// Names people write for a protocol or method, and the one the lab spells.
const ALIASES: [(&str, &str); 6] = [
    ("2pc", "two-phase-commit"),
    ("xa", "two-phase-commit"),
    ("shared-db", "shared-database"),
    ("cqrs", "cqrs-view"),
    ("composition", "api-composition"),
    ("api-gateway", "api-composition"),
];

/// A hint for serde's "unknown variant/field `x`, expected one of `a`, `b`" messages.
pub fn hint_for_serde_error(message: &str) -> Option<String> {
    let found = between(message, "unknown variant `", "`")
        .or_else(|| between(message, "unknown field `", "`"))?;
    if let Some((_, name)) = ALIASES
        .iter()
        .find(|(a, n)| a.eq_ignore_ascii_case(found) && message.contains(&format!("`{n}`")))
    {
        return Some(format!("did you mean {name}?"));
    }
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

/// serde's "invalid type: string \"seven\", expected u64" in plain words: "expected a
/// whole number, found the string \"seven\"". Other messages are returned unchanged.
pub fn in_plain_words(message: &str) -> String {
    let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    else {
        return message.to_string();
    };
    let Some((found, expected)) = rest.rsplit_once(", expected ") else {
        return message.to_string();
    };
    let found = if let Some(s) = found.strip_prefix("string ") {
        format!("the string {s}")
    } else if let Some(n) = found
        .strip_prefix("integer ")
        .or_else(|| found.strip_prefix("floating point "))
    {
        format!("the number {}", n.trim_matches('`'))
    } else if let Some(b) = found.strip_prefix("boolean ") {
        b.trim_matches('`').to_string()
    } else if found == "sequence" {
        "a list".into()
    } else if found == "map" {
        "a table".into()
    } else {
        found.to_string()
    };
    let expected = match expected.trim() {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a string" | "string" | "a borrowed string" => "a string in quotes",
        "a boolean" | "bool" => "true or false",
        "a sequence" => "a list [...]",
        e if e.starts_with("struct ") || e == "a map" => "a table",
        e => e,
    };
    format!("expected {expected}, found {found}")
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
    fn says_type_errors_in_plain_words_and_knows_aliases() {
        assert_eq!(
            in_plain_words("invalid type: string \"seven\", expected u64"),
            "expected a whole number (0 or more), found the string \"seven\""
        );
        assert_eq!(
            in_plain_words("invalid type: floating point `1.5`, expected u32"),
            "expected a whole number (0 or more), found the number 1.5"
        );
        assert_eq!(
            in_plain_words("invalid type: integer `3`, expected a string"),
            "expected a string in quotes, found the number 3"
        );
        assert_eq!(
            in_plain_words("missing field `name`"),
            "missing field `name`"
        );
        let m =
            "unknown variant `2pc`, expected one of `saga`, `two-phase-commit`, `shared-database`";
        assert_eq!(
            hint_for_serde_error(m).unwrap(),
            "did you mean two-phase-commit?"
        );
    }

    #[test]
    fn reads_serde_messages() {
        let m =
            "unknown variant `3pc`, expected one of `saga`, `two-phase-commit`, `shared-database`";
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
