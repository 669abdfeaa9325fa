//! The shrunk scenario as a file, made by editing the original's text (toml_edit)
//! rather than re-serialising the model: comments, inline tables and key order stay;
//! the dropped `[[fault]]` tables go; only changed values change. The header says how
//! each fault moved (a triggered fault's `after` is edited in place too). A description
//! that tells of removed or moved faults is updated where it can be (a clause about a
//! removed fault goes, a moved time is rewritten) and marked stale where it cannot.
//! The edit is checked by parsing it back; should it not give the shrunk
//! scenario, the file is re-serialised instead (and says so).

use crate::scenario::{After, Fault, FaultKind};
use crate::shrink::{header, replay_line, Shrunk};
use crate::Scenario;
use toml_edit::{DocumentMut, Item, TableLike, Value};

/// The shrunk scenario as a file: a comment header, then the original text, edited.
/// `file` names the original in the header's command line; `original` is its text.
pub fn render(file: &str, original: &str, from: &Scenario, shrunk: &Shrunk) -> String {
    let mut small = shrunk.scenario.clone();
    small.seed = Some(shrunk.seed);
    let kept = match_faults(&from.faults, &small.faults);
    let story = kept
        .as_ref()
        .map(|k| fault_story(&from.faults, &small.faults, k));
    let edited = kept
        .as_ref()
        .zip(story.as_ref())
        .and_then(|(k, st)| edit(original, from, &small, k, st))
        .filter(|text| reproduces(text, file, &small));
    let mut head = header(file, from, shrunk);
    match (&edited, &story) {
        (Some(_), Some(st)) => {
            head.push_str("# Faults, as numbered in the original:\n");
            for line in &st.lines {
                head.push_str(&format!("#   {line}\n"));
            }
        }
        _ => head.push_str(
            "# Written anew from the model (the original's text could not be edited to match).\n",
        ),
    }
    head.push_str(&replay_line(shrunk.engine));
    match edited {
        Some(text) => head + &text,
        None => head + &small.to_toml(),
    }
}

/// Does the edited text parse back to the shrunk scenario (its description aside,
/// which the edit may mark)?
fn reproduces(text: &str, file: &str, small: &Scenario) -> bool {
    let absolute = |s: &Scenario| {
        let mut s = s.clone();
        s.faults = s.faults.into_iter().map(Fault::with_absolute_end).collect();
        s.description = None;
        s
    };
    Scenario::parse(text, file).is_ok_and(|back| absolute(&back) == absolute(small))
}

/// Same fault, moved or not: kind and target (shrink changes only times).
fn same_fault(a: &Fault, b: &Fault) -> bool {
    a.crash == b.crash && a.partition == b.partition && a.loss == b.loss && a.link == b.link
}

/// For each original fault, the index of the shrunk fault it became (shrink drops
/// faults but keeps their order). `None`: the shrunk list is not a subsequence.
fn match_faults(original: &[Fault], small: &[Fault]) -> Option<Vec<Option<usize>>> {
    let mut out = vec![None; original.len()];
    let mut j = 0;
    for (i, f) in small.iter().enumerate() {
        while j < original.len() && !same_fault(&original[j], f) {
            j += 1;
        }
        if j == original.len() {
            return None;
        }
        out[j] = Some(i);
        j += 1;
    }
    Some(out)
}

/// A fault in a few words: "crash database", "loss 100% on a - b".
fn fault_words(f: &Fault) -> String {
    match f.kind() {
        Some(FaultKind::Crash { node, .. }) => format!("crash {node}"),
        Some(FaultKind::Partition { groups, .. }) => {
            let g: Vec<String> = groups.iter().map(|g| g.join(", ")).collect();
            format!("partition [{}]", g.join("] | ["))
        }
        Some(FaultKind::Loss { p, .. }) => match &f.link {
            Some([a, b]) => format!("loss {:.0}% on {a} - {b}", p * 100.0),
            None => format!("loss {:.0}%", p * 100.0),
        },
        None => "fault".into(),
    }
}

/// Where a fault is placed: "at 300 ms", or its trigger ("after the 2nd deliver of a
/// vote about txn 3 at coordinator").
fn placed(f: &Fault) -> String {
    match &f.after {
        None => format!("at {} ms", f.at_ms),
        Some(a) => format!("after {}", trigger_words(a)),
    }
}

/// A trigger in words: "the 2nd deliver of a vote about txn 3 at coordinator".
fn trigger_words(a: &After) -> String {
    let mut w = format!("the {} {}", ordinal(a.count), a.event);
    if let Some(m) = &a.msg {
        w.push_str(&format!(" of a {m}"));
    }
    if let Some(t) = a.txn {
        w.push_str(&format!(" about txn {t}"));
    }
    w.push_str(&format!(" at {}", a.node));
    w
}

/// 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st.
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A fault's end (heal, window end) as an absolute time.
fn end_of(f: &Fault) -> Option<u64> {
    let f = f.clone().with_absolute_end();
    f.heal_ms.or(f.until_ms)
}

/// What became of every original fault, for the header and the description.
#[derive(Default)]
struct Story {
    /// One line per original fault.
    lines: Vec<String>,
    /// Times ("300 ms") the original's removed or moved faults had.
    old_times: Vec<u64>,
    /// Short notes for a description that tells the old story.
    notes: Vec<String>,
    /// Start times of removed faults: a clause that names one tells of a removed fault.
    removed_starts: Vec<u64>,
    /// (old, new) times of moved faults, for rewriting the description's mentions.
    moves: Vec<(u64, u64)>,
    /// Times of faults that stayed as they were: a mention of one is left alone.
    kept_times: Vec<u64>,
    /// A trigger moved (another count or txn): a description tells of it in words
    /// ("the second vote") no rewrite can find, so it is marked.
    trigger_moved: bool,
}

fn fault_story(original: &[Fault], small: &[Fault], kept: &[Option<usize>]) -> Story {
    let mut st = Story {
        lines: vec![],
        old_times: vec![],
        notes: vec![],
        removed_starts: vec![],
        moves: vec![],
        kept_times: vec![],
        trigger_moved: false,
    };
    for (k, (o, m)) in original.iter().zip(kept).enumerate() {
        let what = fault_words(o);
        let n = k + 1;
        let Some(i) = m else {
            st.lines.push(format!("{n}. {what} {}: removed", placed(o)));
            if !o.is_triggered() {
                st.old_times.push(o.at_ms);
                st.removed_starts.push(o.at_ms);
                st.old_times.extend(end_of(o));
            }
            st.notes
                .push(format!("the {what} {} was removed", placed(o)));
            continue;
        };
        let f = &small[*i];
        let mut moved = vec![];
        if let (Some(a), Some(b)) = (&o.after, &f.after) {
            if a != b {
                st.trigger_moved = true;
                moved.push(format!(
                    "after {} -> after {}",
                    trigger_words(a),
                    trigger_words(b)
                ));
            }
        }
        if f.is_triggered() && f.for_ms != o.for_ms {
            let ms = |d: Option<u64>| d.map_or("never".into(), |d| format!("{d} ms"));
            moved.push(format!("lasts {} -> {}", ms(o.for_ms), ms(f.for_ms)));
            st.moves.extend(o.for_ms.zip(f.for_ms));
            st.old_times.extend(o.for_ms);
        }
        if f.at_ms != o.at_ms {
            st.moves.push((o.at_ms, f.at_ms));
            moved.push(format!("at {} ms -> {} ms", o.at_ms, f.at_ms));
            st.old_times.push(o.at_ms);
        }
        if f.restart_ms != o.restart_ms {
            let ms = |r: Option<u64>| r.map_or("never".into(), |r| format!("after {r} ms"));
            moved.push(format!(
                "restart {} -> {}",
                ms(o.restart_ms),
                ms(f.restart_ms)
            ));
            st.moves.extend(o.restart_ms.zip(f.restart_ms));
            st.old_times.extend(o.restart_ms);
        }
        if end_of(f) != end_of(o) {
            let word = if o.partition.is_some() {
                "heal"
            } else {
                "ends"
            };
            let ms = |e: Option<u64>| e.map_or("never".into(), |e| format!("at {e} ms"));
            moved.push(format!("{word} {} -> {}", ms(end_of(o)), ms(end_of(f))));
            st.moves.extend(end_of(o).zip(end_of(f)));
            st.old_times.extend(end_of(o));
        }
        if moved.is_empty() {
            st.lines
                .push(format!("{n}. {what} {}: unchanged", placed(o)));
            st.kept_times.push(o.at_ms);
            st.kept_times.extend(o.restart_ms);
            st.kept_times.extend(end_of(o));
        } else {
            st.lines.push(format!("{n}. {what}: {}", moved.join(", ")));
            st.notes
                .push(format!("the {what} moved ({})", moved.join(", ")));
        }
    }
    st
}

/// The original text with the shrunk scenario's values; `None` when its shape is not
/// one this edit knows (the caller then re-serialises).
fn edit(
    original: &str,
    from: &Scenario,
    small: &Scenario,
    kept: &[Option<usize>],
    story: &Story,
) -> Option<String> {
    let mut doc: DocumentMut = original.parse().ok()?;
    set(doc.as_table_mut(), "seed", Value::from(small.seed? as i64));
    if from.network.loss != small.network.loss || from.network.duplicate != small.network.duplicate
    {
        let net = table_mut(doc.as_table_mut(), "network")?;
        if from.network.loss != small.network.loss {
            set(net, "loss", Value::from(small.network.loss));
        }
        if from.network.duplicate != small.network.duplicate {
            set(net, "duplicate", Value::from(small.network.duplicate));
        }
    }
    if let (Some(a), Some(b)) = (&from.write, &small.write) {
        let w = table_mut(doc.as_table_mut(), "write")?;
        if a.transactions != b.transactions {
            set(w, "transactions", Value::from(i64::from(b.transactions)));
        }
        if a.concurrency != b.concurrency {
            set(w, "concurrency", Value::from(i64::from(b.concurrency)));
        }
        if a.steps
            .iter()
            .zip(&b.steps)
            .any(|(x, y)| x.reject != y.reject)
        {
            let mut steps = table_likes(w.get_mut("steps")?);
            if steps.len() != b.steps.len() {
                return None;
            }
            for (i, t) in steps.iter_mut().enumerate() {
                if a.steps[i].reject != b.steps[i].reject {
                    set(&mut **t, "reject", Value::from(b.steps[i].reject));
                }
            }
        }
    }
    if let (Some(a), Some(b)) = (&from.read, &small.read) {
        if a.queries != b.queries {
            let r = table_mut(doc.as_table_mut(), "read")?;
            set(r, "queries", Value::from(i64::from(b.queries)));
        }
    }
    if !from.faults.is_empty() {
        let item = doc.get_mut("fault")?;
        {
            let mut tables = table_likes(item);
            if tables.len() != from.faults.len() {
                return None;
            }
            for (k, t) in tables.iter_mut().enumerate() {
                let Some(i) = kept[k] else { continue };
                edit_fault(&mut **t, &from.faults[k], &small.faults[i]);
            }
        }
        // Remove from the back, so the indices of those before stay.
        for k in (0..from.faults.len()).rev() {
            if kept[k].is_none() {
                match item {
                    Item::ArrayOfTables(a) => a.remove(k),
                    Item::Value(Value::Array(a)) => {
                        a.remove(k);
                    }
                    _ => return None,
                }
            }
        }
        if small.faults.is_empty() {
            doc.remove("fault");
        }
    }
    if let Some(d) = &from.description {
        if let Some(told) = retell(d, story) {
            set(doc.as_table_mut(), "description", Value::from(told));
        }
    }
    Some(doc.to_string())
}

/// The description told of the shrunk faults, or `None` when it names none of the old
/// times. Where it can, it is updated: a clause (up to `.` or `;`) that names a removed
/// fault's start goes, and a moved time that only one change had is rewritten ("300 ms"
/// -> "320 ms"). What is still in doubt (a time two changes share, or one a kept fault
/// also has) is left as written and the description is marked stale.
fn retell(description: &str, story: &Story) -> Option<String> {
    if !mentions(description, story) && !story.trigger_moved {
        return None;
    }
    let names = |text: &str, t: u64| whole_mentions(text, t).next().is_some();
    // Clauses that tell only of removed faults go.
    let mut out = String::new();
    let mut dropped = false;
    for clause in clauses(description) {
        let removed = story.removed_starts.iter().any(|&t| names(clause, t));
        // A clause that also names a fault that stays is kept (it may tell of both).
        let stays = story
            .kept_times
            .iter()
            .chain(story.moves.iter().map(|(o, _)| o))
            .any(|&t| names(clause, t));
        if removed && !stays {
            dropped = true;
            continue;
        }
        out.push_str(clause);
    }
    if dropped {
        // What was after a dropped clause may now start the text or a sentence.
        out = capitalise_sentences(out.trim_start());
    }
    // Moved times with one new value each, not shared with a fault that stayed.
    let mut rewrites: Vec<(u64, u64)> = vec![];
    for &(old, new) in &story.moves {
        let news: Vec<u64> = story
            .moves
            .iter()
            .filter(|(o, _)| *o == old)
            .map(|(_, n)| *n)
            .collect();
        let shared = story.kept_times.contains(&old) || story.removed_starts.contains(&old);
        if news.iter().all(|&n| n == new) && !shared && !rewrites.iter().any(|r| r.0 == old) {
            rewrites.push((old, new));
        }
    }
    out = rewrite_times(&out, &rewrites);
    let stale = mentions(
        &out,
        &Story {
            old_times: story
                .old_times
                .iter()
                .copied()
                .filter(|t| !rewrites.iter().any(|r| r.0 == *t))
                .collect(),
            ..Story::default()
        },
    );
    Some(if stale || story.trigger_moved {
        format!(
            "[Shrunk: {}; the story below may still tell the original's.]\n{out}",
            story.notes.join("; ")
        )
    } else {
        format!(
            "[Shrunk: {}; updated below.]\n{out}",
            story.notes.join("; ")
        )
    })
}

/// The text cut after each `.` or `;` that ends a clause (followed by white space or
/// the end), each piece keeping its terminator and the white space after it.
fn clauses(text: &str) -> Vec<&str> {
    let mut out = vec![];
    let mut start = 0;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let ends =
            matches!(b[i], b'.' | b';') && b.get(i + 1).is_none_or(|c| c.is_ascii_whitespace());
        i += 1;
        if ends {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            out.push(&text[start..i]);
            start = i;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The first letter of the text and of each sentence in upper case.
fn capitalise_sentences(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut up = true;
    for c in text.chars() {
        if up && c.is_alphabetic() {
            out.extend(c.to_uppercase());
            up = false;
            continue;
        }
        if !c.is_whitespace() {
            up = c == '.';
        }
        out.push(c);
    }
    out
}

/// Where "`t` ms" stands as a whole number in `text`: "100 ms" is not in "1100 ms".
fn whole_mentions(text: &str, t: u64) -> impl Iterator<Item = usize> + '_ {
    let needle = format!("{t} ms");
    let n = needle.len();
    let all: Vec<usize> = text.match_indices(&needle).map(|(at, _)| at).collect();
    all.into_iter().filter(move |&at| {
        !text[..at].ends_with(|c: char| c.is_ascii_digit())
            && !text[at + n..].starts_with(|c: char| c.is_alphanumeric())
    })
}

/// Each whole "old ms" replaced by "new ms", all at once (a new time is not rewritten
/// again by a later pair).
fn rewrite_times(text: &str, pairs: &[(u64, u64)]) -> String {
    let mut hits: Vec<(usize, usize, u64)> = pairs
        .iter()
        .flat_map(|&(old, new)| {
            let len = format!("{old}").len();
            whole_mentions(text, old).map(move |at| (at, len, new))
        })
        .collect();
    hits.sort_unstable();
    let mut out = String::new();
    let mut from = 0;
    for (at, len, new) in hits {
        if at < from {
            continue;
        }
        out.push_str(&text[from..at]);
        out.push_str(&new.to_string());
        from = at + len;
    }
    out.push_str(&text[from..]);
    out
}

/// A fault's changed times, written as the original wrote them (`for_ms` stays a
/// duration, `heal_ms` / `until_ms` stay absolute).
fn edit_fault(t: &mut dyn TableLike, o: &Fault, f: &Fault) {
    if let (Some(a), Some(b)) = (&o.after, &f.after) {
        // The trigger's own table (inline or `[fault.after]`), field by field.
        if a != b {
            let Some(at) = t.get_mut("after").and_then(Item::as_table_like_mut) else {
                return;
            };
            if a.count != b.count {
                set(at, "count", Value::from(i64::from(b.count)));
            }
            if a.txn != b.txn {
                match b.txn {
                    Some(x) => set(at, "txn", Value::from(i64::from(x))),
                    None => {
                        at.remove("txn");
                    }
                }
            }
        }
        if f.for_ms != o.for_ms {
            if let Some(d) = f.for_ms {
                set(t, "for_ms", Value::from(d as i64));
            }
        }
    }
    if f.at_ms != o.at_ms {
        set(t, "at_ms", Value::from(f.at_ms as i64));
    }
    if f.restart_ms != o.restart_ms {
        if let Some(r) = f.restart_ms {
            set(t, "restart_ms", Value::from(r as i64));
        }
    }
    let end = end_of(f);
    if end == end_of(o) && f.at_ms == o.at_ms {
        return;
    }
    let Some(end) = end else { return };
    if o.for_ms.is_some() {
        set(t, "for_ms", Value::from(end.saturating_sub(f.at_ms) as i64));
    } else if o.partition.is_some() {
        set(t, "heal_ms", Value::from(end as i64));
    } else {
        set(t, "until_ms", Value::from(end as i64));
    }
}

/// Does the description tell of a removed or moved fault (name one of its old times)?
fn mentions(description: &str, story: &Story) -> bool {
    story
        .old_times
        .iter()
        .any(|&t| whole_mentions(description, t).next().is_some())
}

/// Sets `key` to `v` in `t`, keeping the old value's comments and spacing.
fn set(t: &mut dyn TableLike, key: &str, v: Value) {
    match t.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            let decor = old.decor().clone();
            *old = v;
            *old.decor_mut() = decor;
        }
        None => {
            t.insert(key, Item::Value(v));
        }
    }
}

/// The table `key` of the document (a `[key]` table or an inline one).
fn table_mut<'a>(root: &'a mut toml_edit::Table, key: &str) -> Option<&'a mut dyn TableLike> {
    root.get_mut(key)?.as_table_like_mut()
}

/// The tables of an array: `[[key]]` tables or an inline array of inline tables.
fn table_likes(item: &mut Item) -> Vec<&mut dyn TableLike> {
    match item {
        Item::ArrayOfTables(a) => a.iter_mut().map(|t| t as &mut dyn TableLike).collect(),
        Item::Value(Value::Array(a)) => a
            .iter_mut()
            .filter_map(|v| v.as_inline_table_mut().map(|t| t as &mut dyn TableLike))
            .collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verdict;

    /// A file with comments, an inline steps array and a `for_ms` window.
    const ORIGINAL: &str = r#"# Two faults; only the crash matters.
name = "two faults"
description = "The link drops at 100 ms for 200 ms; at 300 ms orders crashes."
duration_ms = 1000

[network]
loss = 0.1 # a lossy base network

[[service]]
name = "orders"

[[service]]
name = "payments"

[write]
protocol = "saga"
transactions = 20 # enough to hit the crash
steps = [{ service = "orders" }, { service = "payments", reject = 0.2 }]

# The link fault.
[[fault]]
at_ms = 100
loss = 1.0
link = ["orders", "payments"]
for_ms = 200

# The crash.
[[fault]]
at_ms = 300
crash = "orders"
restart_ms = 50

[expect]
holds = ["atomicity"]
"#;

    /// What shrink might return for [`ORIGINAL`]: set by hand, so this tests the
    /// writing, whatever the passes find.
    fn shrunk(from: &Scenario, edit: impl Fn(&mut Scenario)) -> Shrunk {
        let mut small = from.clone();
        edit(&mut small);
        Shrunk {
            scenario: small,
            asked: 7,
            seed: 7,
            target: vec!["atomicity".into()],
            verdicts: vec![Verdict {
                name: "atomicity".into(),
                holds: false,
                violations: 1,
                example: Some("txn 3: applied at orders; not at payments".into()),
                at_seq: Some(40),
                every_at: vec![40],
                subjects: Default::default(),
            }],
            runs: 12,
            engine: crate::Engine::Madsim,
        }
    }

    #[test]
    fn the_original_is_edited_keeping_its_comments_and_inline_tables() {
        let from = Scenario::parse(ORIGINAL, "two.toml").unwrap();
        let s = shrunk(&from, |s| {
            s.faults.remove(0);
            s.faults[0].at_ms = 320;
            s.faults[0].restart_ms = Some(10);
            s.network.loss = 0.0;
            let w = s.write.as_mut().unwrap();
            w.transactions = 4;
            w.steps[1].reject = 0.0;
        });
        let text = render("two.toml", ORIGINAL, &from, &s);
        let expected = r#"# Shrunk by `sovlab shrink two.toml --seed 7` (sovlab VERSION).
# With seed 7 it still breaks:
#   atomicity: txn 3: applied at orders; not at payments
# Smaller than the original: faults 2 -> 1, transactions 20 -> 4, calmer network.
# Faults, as numbered in the original:
#   1. loss 100% on orders - payments at 100 ms: removed
#   2. crash orders: at 300 ms -> 320 ms, restart after 50 ms -> after 10 ms
# The seed is set below: `sovlab run THIS_FILE` replays it.

# Two faults; only the crash matters.
name = "two faults"
description = """
[Shrunk: the loss 100% on orders - payments at 100 ms was removed; the crash orders moved (at 300 ms -> 320 ms, restart after 50 ms -> after 10 ms); updated below.]
At 320 ms orders crashes."""
duration_ms = 1000
seed = 7

[network]
loss = 0.0 # a lossy base network

[[service]]
name = "orders"

[[service]]
name = "payments"

[write]
protocol = "saga"
transactions = 4 # enough to hit the crash
steps = [{ service = "orders" }, { service = "payments", reject = 0.0 }]

# The crash.
[[fault]]
at_ms = 320
crash = "orders"
restart_ms = 10

[expect]
holds = ["atomicity"]
"#
        .replace("VERSION", env!("CARGO_PKG_VERSION"));
        assert_eq!(text, expected, "\n{text}");
        let back = Scenario::parse(&text, "shrunk.toml").unwrap();
        assert_eq!(back.seed, Some(7));
        assert_eq!(back.faults, s.scenario.faults);
    }

    #[test]
    fn a_window_given_by_duration_keeps_its_form_and_an_unmoved_story_is_left_alone() {
        let from = Scenario::parse(ORIGINAL, "two.toml").unwrap();
        // The window moves later and gets shorter; the crash goes.
        let s = shrunk(&from, |s| {
            s.faults.remove(1);
            s.faults[0] = s.faults[0].clone().with_absolute_end();
            s.faults[0].at_ms = 150;
            s.faults[0].until_ms = Some(180);
        });
        let text = render("two.toml", ORIGINAL, &from, &s);
        assert!(text.contains("\nat_ms = 150\n"), "{text}");
        assert!(
            text.contains("\nfor_ms = 30\n"),
            "a duration stays one: {text}"
        );
        assert!(!text.contains("until_ms"), "{text}");
        assert!(!text.contains("crash = "), "{text}");
        assert!(
            text.contains("#   1. loss 100% on orders - payments: at 100 ms -> 150 ms, ends at 300 ms -> at 180 ms\n"),
            "{text}"
        );
        assert!(
            text.contains("#   2. crash orders at 300 ms: removed\n"),
            "{text}"
        );
        // Nothing moved: the description stays as written.
        let same = shrunk(&from, |s| s.write.as_mut().unwrap().transactions = 5);
        let text = render("two.toml", ORIGINAL, &from, &same);
        assert!(text.contains(
            "description = \"The link drops at 100 ms for 200 ms; at 300 ms orders crashes.\"\n"
        ), "{text}");
        assert!(
            text.contains("#   2. crash orders at 300 ms: unchanged\n"),
            "{text}"
        );
        assert!(
            text.contains("transactions = 5 # enough to hit the crash\n"),
            "{text}"
        );
    }

    const BETWEEN: &str = include_str!("../../scenarios/2pc-crash-between-votes.toml");

    #[test]
    fn a_triggered_fault_is_edited_in_place() {
        let from = Scenario::parse(BETWEEN, "b.toml").unwrap();
        let s = shrunk(&from, |s| {
            s.faults[0].after.as_mut().unwrap().count = 1;
            s.write.as_mut().unwrap().transactions = 3;
        });
        let text = render("b.toml", BETWEEN, &from, &s);
        assert!(!text.contains("Written anew"), "{text}");
        assert!(
            text.contains("after = { node = \"coordinator\", event = \"deliver\", msg = \"vote\", txn = 3, count = 1 }\ncrash = \"coordinator\"\n"),
            "{text}"
        );
        assert!(
            text.contains("#   1. crash coordinator: after the 2nd deliver of a vote about txn 3 at coordinator -> after the 1st deliver of a vote about txn 3 at coordinator\n"),
            "{text}"
        );
        // The original's layout stays (inline steps, no keys that do not apply).
        assert!(
            text.contains("steps = [\n  { service = \"orders\" },"),
            "{text}"
        );
        assert!(!text.contains("publish"), "{text}");
        // The story tells of "the second" vote in words: marked, not rewritten.
        assert!(
            text.contains("; the story below may still tell the original's.]\nTwo-phase commit"),
            "{text}"
        );
        let back = Scenario::parse(&text, "shrunk.toml").unwrap();
        assert_eq!(back.faults, s.scenario.faults);
    }

    #[test]
    fn the_description_is_updated_where_it_can_be_and_marked_where_it_cannot() {
        // Two faults; the clause about the removed one goes, the moved time is rewritten.
        let d = "At 100 ms the link drops. The crash at 300 ms, back after 50 ms, breaks it.";
        let orig = ORIGINAL.replace(
            "The link drops at 100 ms for 200 ms; at 300 ms orders crashes.",
            d,
        );
        let from = Scenario::parse(&orig, "two.toml").unwrap();
        let s = shrunk(&from, |s| {
            s.faults.remove(0);
            s.faults[0].at_ms = 320;
        });
        let text = render("two.toml", &orig, &from, &s);
        assert!(
            text.contains(
                "; updated below.]\nThe crash at 320 ms, back after 50 ms, breaks it.\"\"\""
            ),
            "{text}"
        );
        // A clause naming the removed fault and the kept one cannot be cut: marked.
        let d = "At 100 ms the link drops and at 300 ms orders crashes.";
        let orig = ORIGINAL.replace(
            "The link drops at 100 ms for 200 ms; at 300 ms orders crashes.",
            d,
        );
        let from = Scenario::parse(&orig, "two.toml").unwrap();
        let s = shrunk(&from, |s| {
            s.faults.remove(0);
        });
        let text = render("two.toml", &orig, &from, &s);
        assert!(
            text.contains("the story below may still tell the original's.]\nAt 100 ms the link drops and at 300 ms orders crashes."),
            "{text}"
        );
    }

    #[test]
    fn a_shrunk_scenario_the_text_cannot_give_is_written_anew() {
        let from = Scenario::parse(ORIGINAL, "two.toml").unwrap();
        // A fault the original does not have: no edit of its text gives this.
        let s = shrunk(&from, |s| {
            s.faults[1].crash = Some("payments".into());
        });
        let text = render("two.toml", ORIGINAL, &from, &s);
        assert!(text.contains("# Written anew from the model"), "{text}");
        let back = Scenario::parse(&text, "shrunk.toml").unwrap();
        assert_eq!(back.faults[1].crash.as_deref(), Some("payments"));
    }

    const DIVERGES: &str = include_str!("../../scenarios/reads-view-direct-diverges.toml");

    #[test]
    fn a_catalogue_shrink_is_an_edit_of_its_file() {
        let from = Scenario::parse(DIVERGES, "d.toml").unwrap();
        let s = crate::shrink::shrink(&from, 1).unwrap();
        let text = render("d.toml", DIVERGES, &from, &s);
        assert!(!text.contains("Written anew"), "{text}");
        assert!(
            text.contains("\nsteps = [\n  { service = \"orders\" },"),
            "{text}"
        );
        let back = Scenario::parse(&text, "shrunk.toml").unwrap();
        assert_eq!(back.seed, Some(s.seed));
    }
}
