//! `/` search over the diagram: which events match what the learner typed.
//!
//! A query is words that must all match, as in the filters of k9s and lazygit:
//! `t12`, `txn 12` or a bare `12` name a transaction; a node's name, or a prefix that
//! names one node only, an event at that node or a message to or from it; a kind
//! (`crash`, `deliver`, `commit`, or a message's kind such as `vote`) an event of that
//! kind; any other word a piece of the event as the detail line tells it.

use crate::describe::{describe, event_txn};
use sovlab_sim::msg::{MsgKind, NodeIx, TxnId};
use sovlab_sim::trace::{Event, EventKind, Trace, EVENT_KINDS};

/// One word of a query, as understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Events about this business transaction.
    Txn(TxnId),
    /// Events at this node, or messages to or from it.
    Node(NodeIx),
    /// Events of this kind (an event kind or a message kind).
    Kind(String),
    /// Events whose description contains this (lower case).
    Text(String),
}

/// A parsed search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// What the learner typed.
    pub text: String,
    /// The words, all of which must match.
    pub terms: Vec<Term>,
}

/// Can a `Kind` term name `word`: a trace kind, a message kind, or one of the
/// groups `loss` and `fault`? The kinds come from their one list in the sim crate.
fn is_kind(word: &str) -> bool {
    EVENT_KINDS.contains(&word)
        || MsgKind::ALL.iter().any(|k| k.name() == word)
        || ["loss", "fault"].contains(&word)
}

fn txn_of(word: &str) -> Option<TxnId> {
    let digits = word
        .strip_prefix("txn")
        .or_else(|| word.strip_prefix('t'))
        .unwrap_or(word);
    digits.parse().ok()
}

impl Query {
    /// Understands `text` against the nodes of `trace`.
    pub fn parse(text: &str, trace: &Trace) -> Query {
        let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
        let mut terms = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let w = words[i].as_str();
            let next_txn = words.get(i + 1).and_then(|n| n.parse().ok());
            let exact_node = trace.nodes.iter().position(|n| n.name == w);
            let prefixed: Vec<usize> = (0..trace.nodes.len())
                .filter(|&n| trace.nodes[n].name.starts_with(w))
                .collect();
            if let Some(t) = next_txn.filter(|_| w == "txn" || w == "t") {
                terms.push(Term::Txn(t));
                i += 1;
            } else if let Some(t) = txn_of(w) {
                terms.push(Term::Txn(t));
            } else if let Some(n) = exact_node {
                terms.push(Term::Node(n as NodeIx));
            } else if is_kind(w) {
                terms.push(Term::Kind(w.to_string()));
            } else if let [n] = prefixed[..] {
                terms.push(Term::Node(n as NodeIx));
            } else {
                terms.push(Term::Text(w.to_string()));
            }
            i += 1;
        }
        Query {
            text: text.trim().to_string(),
            terms,
        }
    }

    /// Does event `e` of `trace` match every word?
    pub fn matches(&self, trace: &Trace, e: &Event) -> bool {
        !self.terms.is_empty() && self.terms.iter().all(|t| term_matches(t, trace, e))
    }

    /// The next match after `from` (`forward`) or before it, wrapping around the trace,
    /// and whether it wrapped.
    pub fn find(&self, trace: &Trace, from: usize, forward: bool) -> Option<(usize, bool)> {
        let n = trace.events.len();
        (1..=n).find_map(|k| {
            let (i, wrapped) = if forward {
                ((from + k) % n, from + k >= n)
            } else {
                ((from + n - k) % n, k > from)
            };
            self.matches(trace, &trace.events[i])
                .then_some((i, wrapped))
        })
    }

    /// How many events match, and how many of them are at or before `cursor`.
    pub fn count(&self, trace: &Trace, cursor: usize) -> (usize, usize) {
        let mut all = 0;
        let mut upto = 0;
        for (i, e) in trace.events.iter().enumerate() {
            if self.matches(trace, e) {
                all += 1;
                upto += usize::from(i <= cursor);
            }
        }
        (all, upto)
    }
}

fn peer(e: &Event) -> Option<NodeIx> {
    match &e.kind {
        EventKind::Send { to, .. }
        | EventKind::Drop { to, .. }
        | EventKind::Duplicate { to, .. } => Some(*to),
        EventKind::Deliver { from, .. } => Some(*from),
        _ => None,
    }
}

fn msg_kind(e: &Event) -> Option<&'static str> {
    match &e.kind {
        EventKind::Send { msg, .. }
        | EventKind::Deliver { msg, .. }
        | EventKind::Drop { msg, .. }
        | EventKind::Duplicate { msg, .. } => Some(msg.kind.name()),
        _ => None,
    }
}

fn term_matches(t: &Term, trace: &Trace, e: &Event) -> bool {
    match t {
        Term::Txn(x) => event_txn(e) == Some(*x),
        Term::Node(n) => e.node == *n || peer(e) == Some(*n),
        Term::Kind(k) => match k.as_str() {
            "fault" => e.kind.is_fault(),
            "loss" => matches!(
                e.kind,
                EventKind::LossStart { .. } | EventKind::LossEnd { .. }
            ),
            k => e.kind.name() == k || msg_kind(e) == Some(k),
        },
        Term::Text(s) => describe(trace, e).to_lowercase().contains(s.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovlab_sim::Scenario;

    fn trace() -> Trace {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/reads-view-outbox-converges.toml"
        ))
        .unwrap();
        sovlab_sim::run(&Scenario::parse(&text, "x").unwrap(), 1).trace
    }

    #[test]
    fn words_are_understood_as_txn_node_kind_or_text() {
        let t = trace();
        let ix = |n: &str| t.node_ix(n).unwrap();
        let q = Query::parse("txn 12 Database crash", &t);
        assert_eq!(
            q.terms,
            [
                Term::Txn(12),
                Term::Node(ix("database")),
                Term::Kind("crash".into())
            ]
        );
        assert_eq!(Query::parse("t7", &t).terms, [Term::Txn(7)]);
        // "c" begins two nodes' names (client, coordinator): text; "co" names one.
        assert_eq!(Query::parse("c", &t).terms, [Term::Text("c".into())]);
        assert_eq!(
            Query::parse("co", &t).terms,
            [Term::Node(ix("coordinator"))]
        );
        assert_eq!(
            Query::parse("order", &t).terms,
            [Term::Node(ix("order-history"))]
        );
        assert_eq!(
            Query::parse("finishes", &t).terms,
            [Term::Text("finishes".into())]
        );
        // Every message kind is a kind, try-confirm-cancel's included.
        assert_eq!(
            Query::parse("confirm", &t).terms,
            [Term::Kind("confirm".into())]
        );
    }

    #[test]
    fn find_visits_every_match_in_order_and_wraps() {
        let t = trace();
        let q = Query::parse("t3 deliver", &t);
        let want: Vec<usize> = t
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(&e.kind, EventKind::Deliver { msg, .. } if msg.txn == 3))
            .map(|(i, _)| i)
            .collect();
        assert!(want.len() >= 3, "{want:?}");
        let mut got = Vec::new();
        let mut at = 0;
        while let Some((i, wrapped)) = q.find(&t, at, true) {
            if wrapped {
                assert_eq!(i, want[0]);
                break;
            }
            got.push(i);
            at = i;
        }
        assert_eq!(got, want);
        assert_eq!(q.find(&t, want[1], false), Some((want[0], false)));
        assert_eq!(
            q.find(&t, want[0], false),
            Some((*want.last().unwrap(), true))
        );
        assert_eq!(q.count(&t, want[1]), (want.len(), 2));
        // A node matches messages to and from it; nonsense matches nothing.
        let db = Query::parse("order-history", &t);
        let (i, _) = db.find(&t, 0, true).unwrap();
        assert!(describe(&t, &t.events[i]).contains("order-history"));
        assert_eq!(Query::parse("zzz", &t).find(&t, 0, true), None);
        assert_eq!(Query::parse("  ", &t).find(&t, 0, true), None);
    }
}
