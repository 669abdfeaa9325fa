//! Every type error of a scenario file, not only the first. The deserializer stops at
//! one; so the key-value it names is blanked out (overwritten with spaces, which keeps
//! every byte offset, so later errors point into the original text) and the text is
//! deserialized again, until it deserializes or an error cannot be located.

use std::ops::Range;
use toml_edit::{ImDocument, Item, Table, Value};

/// What to blank so that the key-value holding `span` goes: the key through its value
/// (with one comma when it sits in an inline table), and the key's name. `None` when no
/// key-value holds the span (it names a whole table, or the text does not parse).
pub fn blank_range(text: &str, span: &Range<usize>) -> Option<(Range<usize>, String)> {
    let doc = ImDocument::parse(text).ok()?;
    let (mut r, key, inline) = in_table(doc.as_table(), span)?;
    if inline {
        // `{ a = 1, b = "x" }` -> `{ a = 1          }`: the entry and one comma go.
        let b = text.as_bytes();
        let after = (r.end..b.len()).find(|&i| !b[i].is_ascii_whitespace());
        let before = (0..r.start).rev().find(|&i| !b[i].is_ascii_whitespace());
        match (after, before) {
            (Some(i), _) if b[i] == b',' => r.end = i + 1,
            (_, Some(i)) if b[i] == b',' => r.start = i,
            _ => {}
        }
    }
    Some((r, key))
}

/// `text` with `r` overwritten by spaces (line breaks kept).
pub fn blank(text: &str, r: &Range<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..r.start]);
    for c in text[r.clone()].chars() {
        match c {
            '\n' | '\r' => out.push(c),
            // Keep the byte length: a wide character becomes as many spaces as its bytes.
            c => out.extend(std::iter::repeat_n(' ', c.len_utf8())),
        }
    }
    out.push_str(&text[r.end..]);
    out
}

fn holds(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// The innermost key-value of `t` holding `span`: its range, key and whether it sits
/// in an inline table.
fn in_table(t: &Table, span: &Range<usize>) -> Option<(Range<usize>, String, bool)> {
    for (name, _) in t.iter() {
        let (key, item) = t.get_key_value(name)?;
        let found = match item {
            Item::Value(v) => in_key_value(key, v, span, false),
            Item::Table(t) => in_table(t, span),
            Item::ArrayOfTables(a) => a.iter().find_map(|t| in_table(t, span)),
            Item::None => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// `key = v` when it holds `span`, or the innermost key-value inside `v` that does.
fn in_key_value(
    key: &toml_edit::Key,
    v: &Value,
    span: &Range<usize>,
    inline: bool,
) -> Option<(Range<usize>, String, bool)> {
    let (vs, ks) = (v.span()?, key.span()?);
    if !holds(&vs, span) {
        return None;
    }
    in_value(v, span).or(Some((ks.start..vs.end, key.get().to_string(), inline)))
}

/// The innermost key-value inside an inline table or array `v` holding `span`.
fn in_value(v: &Value, span: &Range<usize>) -> Option<(Range<usize>, String, bool)> {
    match v {
        Value::InlineTable(t) => t.iter().find_map(|(name, _)| {
            let (key, item) = t.get_key_value(name)?;
            in_key_value(key, item.as_value()?, span, true)
        }),
        Value::Array(a) => a.iter().find_map(|e| in_value(e, span)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, needle: &str) -> Range<usize> {
        let s = text.find(needle).unwrap();
        s..s + needle.len()
    }

    #[test]
    fn a_top_level_value_goes_with_its_key_and_offsets_stay() {
        let t = "name = \"x\"\nduration_ms = \"seven\"\nseed = 1\n";
        let (r, key) = blank_range(t, &at(t, "\"seven\"")).unwrap();
        assert_eq!(key, "duration_ms");
        let b = blank(t, &r);
        assert_eq!(b.len(), t.len());
        assert_eq!(b, format!("name = \"x\"\n{}\nseed = 1\n", " ".repeat(21)));
    }

    #[test]
    fn an_inline_entry_goes_with_one_comma_and_the_text_still_parses() {
        let t = "steps = [{ service = \"a\", amount = \"two\" }, { amount = \"x\", service = \"b\" }]\n";
        let (r, key) = blank_range(t, &at(t, "\"two\"")).unwrap();
        assert_eq!(key, "amount");
        let b = blank(t, &r);
        assert!(
            b.starts_with(&format!("steps = [{{ service = \"a\"{}}}", " ".repeat(17))),
            "{b}"
        );
        let (r, _) = blank_range(&b, &at(&b, "\"x\"")).unwrap();
        let b = blank(&b, &r);
        assert!(
            b.contains(&format!("{{{}service = \"b\" }}", " ".repeat(15))),
            "{b}"
        );
        assert!(ImDocument::parse(b.as_str()).is_ok(), "{b}");
    }

    #[test]
    fn a_span_no_key_value_holds_is_not_blanked() {
        let t = "[write]\nprotocol = \"saga\"\n";
        assert!(blank_range(t, &at(t, "[write]")).is_none());
    }
}
