//! What a fork changed: the first event where two runs part, and what their outcomes,
//! aborts by cause and verdicts became.
//!
//! Two runs of one scenario and seed are the same event for event until the first
//! place a change (a fault added, moved or removed) makes a difference; with keyed
//! randomness that place is the change itself or something it touched.

use crate::check::Outcome;
use crate::msg::TxnId;
use crate::report::Report;
use crate::trace::{Event, Trace};
use crate::RunResult;

/// The `seq` of the first event that differs between `a` and `b` (time, node or what
/// happened), or where the shorter one ends; `None` when they are equal.
pub fn first_divergence(a: &[Event], b: &[Event]) -> Option<u64> {
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    (same < a.len().max(b.len())).then_some(same as u64)
}

/// One line of the side-by-side comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What is compared ("committed", "aborted by rule", "termination" ...).
    pub label: String,
    /// Its value in the first run.
    pub before: String,
    /// Its value in the second run.
    pub after: String,
}

impl Row {
    /// Do the two runs differ on this line?
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// Two runs compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// The first event where the runs part (see [`first_divergence`]).
    pub first_divergence: Option<u64>,
    /// Outcomes, aborts by cause, then verdicts, before and after.
    pub rows: Vec<Row>,
    /// The transactions whose outcome changed: (txn, before, after).
    pub changed_txns: Vec<(TxnId, Outcome, Outcome)>,
}

/// Compares run `before` with run `after` (a fork of it).
pub fn compare(before: &RunResult, after: &RunResult) -> Diff {
    let mut rows = Vec::new();
    outcome_rows(&before.report, &after.report, &mut rows);
    verdict_rows(&before.report, &after.report, &mut rows);
    Diff {
        first_divergence: first_divergence(&before.trace.events, &after.trace.events),
        rows,
        changed_txns: changed_txns(&before.trace, &after.trace),
    }
}

fn row(rows: &mut Vec<Row>, label: impl Into<String>, before: String, after: String) {
    rows.push(Row {
        label: label.into(),
        before,
        after,
    });
}

fn outcome_rows(a: &Report, b: &Report, rows: &mut Vec<Row>) {
    let (Some(wa), Some(wb)) = (&a.write, &b.write) else {
        return;
    };
    row(
        rows,
        "committed",
        wa.committed.to_string(),
        wb.committed.to_string(),
    );
    row(
        rows,
        "aborted",
        wa.aborted.to_string(),
        wb.aborted.to_string(),
    );
    row(
        rows,
        "unfinished",
        wa.unfinished.to_string(),
        wb.unfinished.to_string(),
    );
    // Every cause either run has, in the first run's order, then the second's new ones.
    let mut causes: Vec<&str> = wa.aborted_by.0.iter().map(|(c, _)| c.as_str()).collect();
    for (c, _) in &wb.aborted_by.0 {
        if !causes.contains(&c.as_str()) {
            causes.push(c);
        }
    }
    for c in causes {
        let n = |w: &crate::report::WriteReport| w.aborted_by.get(c).copied().unwrap_or(0);
        row(
            rows,
            format!("aborted by {c}"),
            n(wa).to_string(),
            n(wb).to_string(),
        );
    }
}

fn verdict_rows(a: &Report, b: &Report, rows: &mut Vec<Row>) {
    let word = |r: &Report, name: &str| match r.invariants.get(name) {
        Some(v) if v.holds => "holds".to_string(),
        Some(v) => format!("BROKEN ({})", v.violations),
        None => "-".to_string(),
    };
    let mut names: Vec<&str> = a.invariants.0.iter().map(|(n, _)| n.as_str()).collect();
    for (n, _) in &b.invariants.0 {
        if !names.contains(&n.as_str()) {
            names.push(n);
        }
    }
    for n in names {
        row(rows, n, word(a, n), word(b, n));
    }
}

fn changed_txns(a: &Trace, b: &Trace) -> Vec<(TxnId, Outcome, Outcome)> {
    crate::check::outcomes(a)
        .into_iter()
        .zip(crate::check::outcomes(b))
        .filter(|((_, x), (_, y))| x != y)
        .map(|((t, x), (_, y))| (t, x, y))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture::Fixture;
    use crate::trace::EventKind;

    fn ev(t_us: u64, node: u16) -> Event {
        Event {
            t_us,
            node,
            kind: EventKind::Crash,
        }
    }

    #[test]
    fn the_first_divergence_is_the_first_differing_event_or_the_shorter_end() {
        let a = [ev(1, 1), ev(2, 1), ev(3, 1)];
        assert_eq!(first_divergence(&a, &a), None);
        assert_eq!(
            first_divergence(&a, &[ev(1, 1), ev(2, 2), ev(3, 1)]),
            Some(1)
        );
        assert_eq!(
            first_divergence(&a, &[ev(1, 1), ev(2, 1), ev(4, 1)]),
            Some(2)
        );
        assert_eq!(first_divergence(&a, &a[..2]), Some(2));
        assert_eq!(first_divergence(&[], &a), Some(0));
    }

    /// Twelve 2PC transactions over two services, 2 ms apart.
    fn two_pc() -> String {
        Fixture::new("two-phase-commit")
            .head("duration_ms = 2000")
            .services(&["a", "b"])
            .set("transactions", 12)
            .set("interval_ms", 2)
            .toml()
    }

    #[test]
    fn a_fork_with_a_crash_parts_at_the_crash_and_shows_what_it_changed() {
        let s = crate::Scenario::parse(&two_pc(), "t.toml").expect("valid");
        let before = crate::run(&s, 1);
        let mut forked = s.clone();
        let mut text = two_pc();
        text.push_str("[[fault]]\nat_ms = 10\ncrash = \"coordinator\"\n");
        forked.faults = crate::Scenario::parse(&text, "t.toml")
            .expect("valid")
            .faults;
        let after = crate::run(&forked, 1);
        let d = compare(&before, &after);
        let at = d.first_divergence.expect("the crash changes the run") as usize;
        assert_eq!(after.trace.events[at].kind, EventKind::Crash);
        assert_eq!(before.trace.events[..at], after.trace.events[..at]);
        let committed = d.rows.iter().find(|r| r.label == "committed").expect("row");
        assert!(committed.changed(), "{committed:?}");
        assert_eq!(committed.before, "12");
        let termination = d
            .rows
            .iter()
            .find(|r| r.label == "termination")
            .expect("row");
        assert_eq!(termination.before, "holds");
        assert!(!d.changed_txns.is_empty());
        assert!(d
            .changed_txns
            .iter()
            .all(|(_, b, _)| *b == Outcome::Committed));
        // A run compared with itself changes nothing.
        let same = compare(&before, &before);
        assert_eq!(same.first_divergence, None);
        assert!(same.rows.iter().all(|r| !r.changed()) && same.changed_txns.is_empty());
    }
}
