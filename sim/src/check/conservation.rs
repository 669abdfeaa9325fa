//! Conservation: for every service, capacity = units left + units taken by applied
//! steps + units held by prepared steps, each step counted once. A double apply or
//! a lost (or doubled) compensation breaks it.

use super::Verdict;
use crate::store::{Snapshot, StepState};
use crate::trace::{EventKind, Trace};

/// capacity - (left + applied + held): zero when units are conserved.
fn imbalance(capacity: i64, s: &Snapshot) -> i64 {
    let accounted: i64 = s
        .steps
        .values()
        .filter(|r| matches!(r.state, StepState::Applied | StepState::Held))
        .map(|r| r.amount)
        .sum();
    capacity - (s.available + accounted)
}

/// Checks conservation of every service's store; locates the first breaking write.
pub fn check(trace: &Trace, v: &mut Verdict) {
    for (ix, info) in trace.stores.iter().enumerate() {
        if info.service.is_none() {
            continue;
        }
        let end = &trace.final_stores[ix];
        let off = imbalance(info.capacity, end);
        if off == 0 {
            continue;
        }
        // Replay this store's local transactions to find where it first broke.
        let mut replay = Snapshot::new(info.capacity);
        let mut at = None;
        for (seq, e) in trace.events.iter().enumerate() {
            if let EventKind::Local { store, writes, .. } = &e.kind {
                if usize::from(*store) == ix {
                    for w in writes.iter() {
                        replay.apply(w);
                    }
                    if imbalance(info.capacity, &replay) != 0 {
                        at = Some((seq as u64, e.kind.clone()));
                        break;
                    }
                }
            }
        }
        let held: i64 = end
            .steps
            .values()
            .filter(|r| r.state == StepState::Held)
            .map(|r| r.amount)
            .sum();
        let applied: i64 = end
            .steps
            .values()
            .filter(|r| r.state == StepState::Applied)
            .map(|r| r.amount)
            .sum();
        let what = if off > 0 {
            format!("{off} units missing (taken twice, or a compensation lost)")
        } else {
            format!("{} units too many (given back twice)", -off)
        };
        let first = match &at {
            Some((_, EventKind::Local { txn, step, .. })) => {
                format!("; first broken by txn {txn} step {step}")
            }
            _ => String::new(),
        };
        v.violation(
            || {
                format!(
                    "{}: capacity {} != {} left + {applied} applied + {held} held: {what}{first}",
                    info.name, info.capacity, end.available
                )
            },
            at.map(|(seq, _)| seq),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::check::check;
    use crate::check::fixtures::{local, take, trace_of};
    use crate::store::Write;
    use crate::testing::fixture::Fixture;

    /// One non-idempotent saga step taking 4 of inventory's 10 units.
    fn one_step() -> String {
        Fixture::new("saga")
            .services(&["inventory"])
            .service(0, "capacity = 10")
            .set("transactions", 1)
            .set("idempotent", false)
            .step(0, "amount = 4")
            .toml()
    }

    fn compensate() -> crate::trace::EventKind {
        local(0, Write::Compensate { txn: 1, step: 0 })
    }

    #[test]
    fn units_given_back_twice_break_conservation() {
        let events = vec![local(0, take(1, 0, 4)), compensate(), compensate()];
        let v = check(&trace_of(&one_step(), events), "conservation");
        assert!(!v.holds);
        assert_eq!(v.at_seq, Some(2), "the second compensation");
        let ex = v.example.unwrap();
        assert!(
            ex.starts_with("inventory: capacity 10 != 14 left + 0 applied + 0 held")
                && ex.contains("4 units too many (given back twice)")
                && ex.ends_with("first broken by txn 1 step 0"),
            "{ex}"
        );
    }

    #[test]
    fn units_taken_twice_break_conservation() {
        let events = vec![local(0, take(1, 0, 4)), local(0, take(1, 0, 4))];
        let v = check(&trace_of(&one_step(), events), "conservation");
        assert!(!v.holds);
        assert_eq!(v.at_seq, Some(1));
        assert!(v.example.unwrap().contains("4 units missing"));
    }

    #[test]
    fn a_take_and_its_one_compensation_conserve() {
        let events = vec![local(0, take(1, 0, 4)), compensate()];
        assert!(check(&trace_of(&one_step(), events), "conservation").holds);
    }
}
