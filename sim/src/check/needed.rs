//! Which events the checkers and the report read: what a sweep keeps.
//!
//! A sweep shows per seed only verdicts, outcomes, counts and measures, so it need
//! not keep every event (most are sends and deliveries no checker looks at). This is
//! the one list of what the judging code reads from `Trace::events`; a test runs the
//! catalogue with every event and with these only and compares the summaries.
//!
//! - every event that is not about a message or a timer (local transactions,
//!   rejections, votes, decisions, submits and outcomes, crashes and restarts, faults,
//!   reads, view updates, limits): the checkers, the write and read reports;
//! - a gateway's `send` of a query and a `deliver` of an answer: consistent reads;
//! - a `deliver` of a submit or a decision: why transactions aborted
//!   (`abort_cause`);
//! - the first `deliver` or `timer` at a node after it restarted: whether a decision
//!   was its recovery's (`abort_cause`).
//!
//! Kept this way, an event's position in the list is not its `seq` in the trace, so
//! a verdict's `at_seq` means nothing then, and the report's `faults` (which trigger
//! matched which event) are not found; a sweep shows neither.

use crate::msg::{MsgKind, NodeIx};
use crate::trace::EventKind;

/// Decides, event by event, whether the judging code needs it.
#[derive(Debug, Clone, Default)]
pub struct Needed {
    /// Per node: restarted, and has handled nothing since.
    recovering: Vec<bool>,
}

impl Needed {
    /// Nothing seen yet.
    pub fn new() -> Needed {
        Needed::default()
    }

    /// Does some checker or the report read `kind`, happening at `node`?
    pub fn keep(&mut self, node: NodeIx, kind: &EventKind) -> bool {
        let n = usize::from(node);
        match kind {
            EventKind::Send { msg, .. } => msg.kind == MsgKind::Query,
            EventKind::Deliver { msg, .. } => {
                let first = self.handled(n);
                first
                    || matches!(
                        msg.kind,
                        MsgKind::Submit | MsgKind::Decide | MsgKind::Answer
                    )
            }
            EventKind::Timer { .. } => self.handled(n),
            EventKind::Drop { .. } | EventKind::Duplicate { .. } => false,
            EventKind::Restart => {
                if self.recovering.len() <= n {
                    self.recovering.resize(n + 1, false);
                }
                self.recovering[n] = true;
                true
            }
            _ => true,
        }
    }

    /// `n` handles an input: true if it is its first since a restart.
    fn handled(&mut self, n: usize) -> bool {
        self.recovering
            .get_mut(n)
            .is_some_and(|r| std::mem::replace(r, false))
    }
}
