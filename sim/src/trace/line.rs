//! The fast line writer: every event of every run goes through it into the hash.

use super::event::{Event, EventKind};
use crate::msg::{Msg, NodeIx, StepIx, TxnId};
use crate::store::{RejectReason, Write};
use serde_json::Value;

/// Writes trace lines (docs/reference/trace-format.md) fast: node and store names are escaped once.
///
/// Hand-written for speed (every event of every run goes through it to feed the
/// trace hash, even in counters-only mode); byte for byte what [`super::event_line_serde`]
/// writes: the same keys in the same order, `serde_json`'s number and string forms.
#[derive(Debug, Clone)]
pub struct LineWriter {
    /// Node names as JSON strings, quotes included.
    names: Vec<Box<[u8]>>,
    /// Store names as JSON strings, quotes included.
    stores: Vec<Box<[u8]>>,
}

/// What an out-of-range node or store index prints as.
const UNKNOWN: &[u8] = b"\"?\"";

fn json_strings<S: AsRef<str>>(names: &[S]) -> Vec<Box<[u8]>> {
    names
        .iter()
        .map(|n| {
            let mut v = Vec::new();
            push_str_json(&mut v, n.as_ref());
            v.into_boxed_slice()
        })
        .collect()
}

/// Appends the JSONL line of event `seq` (with its trailing newline) to `out`.
/// (One-off use; a run keeps a [`LineWriter`].)
pub fn event_line<S: AsRef<str>>(out: &mut String, seq: u64, e: &Event, names: &[S], stores: &[S]) {
    let mut line = Vec::with_capacity(160);
    LineWriter::new(names, stores).write(&mut line, seq, e);
    out.push_str(std::str::from_utf8(&line).expect("the line writer writes UTF-8"));
}

impl LineWriter {
    /// A writer for a run with these node and store names (by index).
    pub fn new<S: AsRef<str>>(names: &[S], stores: &[S]) -> LineWriter {
        LineWriter {
            names: json_strings(names),
            stores: json_strings(stores),
        }
    }

    fn name(&self, ix: NodeIx) -> &[u8] {
        self.names.get(usize::from(ix)).map_or(UNKNOWN, |n| n)
    }

    fn store(&self, ix: u16) -> &[u8] {
        self.stores.get(usize::from(ix)).map_or(UNKNOWN, |n| n)
    }

    /// Appends the JSONL line of event `seq` (with its trailing newline) to `out`.
    pub fn write(&self, out: &mut Vec<u8>, seq: u64, e: &Event) {
        // One capacity check for a typical line instead of one per piece.
        out.reserve(256);
        out.extend_from_slice(b"{\"seq\":");
        push_u64(out, seq);
        out.extend_from_slice(b",\"t_us\":");
        push_u64(out, e.t_us);
        out.extend_from_slice(b",\"node\":");
        out.extend_from_slice(self.name(e.node));
        out.extend_from_slice(b",\"kind\":\"");
        // Kind names are fixed lower-case words: nothing to escape.
        out.extend_from_slice(e.kind.name().as_bytes());
        out.push(b'"');
        match &e.kind {
            EventKind::Send { to, msg } | EventKind::Duplicate { to, msg } => {
                out.extend_from_slice(b",\"to\":");
                out.extend_from_slice(self.name(*to));
                push_msg_fields(out, msg);
            }
            EventKind::Deliver { from, msg } => {
                out.extend_from_slice(b",\"from\":");
                out.extend_from_slice(self.name(*from));
                push_msg_fields(out, msg);
            }
            EventKind::Drop { to, msg, reason } => {
                out.extend_from_slice(b",\"to\":");
                out.extend_from_slice(self.name(*to));
                push_msg_fields(out, msg);
                out.extend_from_slice(b",\"reason\":");
                push_word(out, reason.name());
            }
            EventKind::Timer { timer } => {
                out.extend_from_slice(b",\"timer\":");
                push_u64(out, *timer);
            }
            EventKind::Local {
                store,
                txn,
                step,
                writes,
                ..
            } => {
                out.extend_from_slice(b",\"store\":");
                out.extend_from_slice(self.store(*store));
                if *txn != 0 {
                    out.extend_from_slice(b",\"txn\":");
                    push_u64(out, u64::from(*txn));
                    out.extend_from_slice(b",\"step\":");
                    push_u64(out, u64::from(*step));
                }
                out.extend_from_slice(b",\"writes\":");
                out.push(b'[');
                for (i, w) in writes.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    push_write(out, w);
                }
                out.push(b']');
            }
            EventKind::Reject {
                txn,
                step,
                reason,
                available,
                needed,
            } => {
                txn_step(out, *txn, *step);
                out.extend_from_slice(b",\"reason\":");
                push_word(out, reject_reason_name(*reason));
                out.extend_from_slice(b",\"available\":");
                push_i64(out, *available);
                out.extend_from_slice(b",\"needed\":");
                push_i64(out, *needed);
            }
            EventKind::Vote { txn, step, yes } => {
                txn_step(out, *txn, *step);
                out.extend_from_slice(b",\"yes\":");
                push_bool(out, *yes);
            }
            EventKind::Decide { txn, commit } => {
                out.extend_from_slice(b",\"txn\":");
                push_u64(out, u64::from(*txn));
                out.extend_from_slice(b",\"commit\":");
                push_bool(out, *commit);
            }
            EventKind::Outcome { txn, committed } => {
                out.extend_from_slice(b",\"txn\":");
                push_u64(out, u64::from(*txn));
                out.extend_from_slice(b",\"committed\":");
                push_bool(out, *committed);
            }
            EventKind::Submit { txn } => {
                out.extend_from_slice(b",\"txn\":");
                push_u64(out, u64::from(*txn));
            }
            EventKind::Crash | EventKind::Restart | EventKind::Heal => {}
            EventKind::Partition { groups } => {
                out.extend_from_slice(b",\"groups\":");
                out.push(b'[');
                for (i, g) in groups.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.push(b'[');
                    for (j, n) in g.iter().enumerate() {
                        if j > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(self.name(*n));
                    }
                    out.push(b']');
                }
                out.push(b']');
            }
            EventKind::LossStart { p, link } => {
                out.extend_from_slice(b",\"p\":");
                // Rare: let serde_json format the float (shortest round-trip form).
                out.extend_from_slice(Value::from(*p).to_string().as_bytes());
                self.push_link(out, *link);
            }
            EventKind::LossEnd { link } => self.push_link(out, *link),
            EventKind::Read {
                query,
                txn,
                result,
                latency_us,
            } => {
                out.extend_from_slice(b",\"query\":");
                push_u64(out, u64::from(*query));
                out.extend_from_slice(b",\"txn\":");
                push_u64(out, u64::from(*txn));
                out.extend_from_slice(b",\"result\":");
                match result {
                    crate::read::ReadResult::Complete => push_word(out, "complete"),
                    crate::read::ReadResult::Failed => push_word(out, "failed"),
                    crate::read::ReadResult::Partial { missing } => {
                        out.extend_from_slice(b"{\"partial\":{\"missing\":");
                        push_u64(out, u64::from(*missing));
                        out.extend_from_slice(b"}}");
                    }
                }
                out.extend_from_slice(b",\"latency_us\":");
                push_u64(out, *latency_us);
            }
            EventKind::ViewApplied {
                txn,
                step,
                staleness_us,
            } => {
                txn_step(out, *txn, *step);
                out.extend_from_slice(b",\"staleness_us\":");
                push_u64(out, *staleness_us);
            }
            EventKind::LockWait { txn, step, row } => {
                txn_step(out, *txn, *step);
                out.extend_from_slice(b",\"row\":");
                push_u64(out, u64::from(*row));
            }
            EventKind::Lock {
                txn,
                step,
                row,
                waited_us,
                got,
            } => {
                txn_step(out, *txn, *step);
                out.extend_from_slice(b",\"row\":");
                push_u64(out, u64::from(*row));
                out.extend_from_slice(b",\"waited_us\":");
                push_u64(out, *waited_us);
                out.extend_from_slice(b",\"got\":");
                push_bool(out, *got);
            }
            EventKind::Limit { what } => {
                out.extend_from_slice(b",\"what\":");
                push_str_json(out, what);
            }
            EventKind::Relay { txn, step, offset } => {
                txn_step(out, *txn, *step);
                out.extend_from_slice(b",\"offset\":");
                push_u64(out, *offset);
            }
        }
        out.extend_from_slice(b"}\n");
    }

    fn push_link(&self, out: &mut Vec<u8>, link: Option<(NodeIx, NodeIx)>) {
        if let Some((a, b)) = link {
            out.extend_from_slice(b",\"link\":");
            out.push(b'[');
            out.extend_from_slice(self.name(a));
            out.push(b',');
            out.extend_from_slice(self.name(b));
            out.push(b']');
        }
    }
}

/// A fixed word (an enum name) as a JSON string; such words need no escaping.
#[inline]
fn push_word(out: &mut Vec<u8>, w: &str) {
    out.push(b'"');
    out.extend_from_slice(w.as_bytes());
    out.push(b'"');
}

fn push_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    // Two digits at a time: half the divisions of the naive loop.
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let pair = usize::try_from(v % 100).unwrap_or(0) * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = usize::try_from(v).unwrap_or(0) * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// A string as `serde_json` writes it: `"` and `\` escaped, control characters as
/// `\b \t \n \f \r` or `\u00xx`, everything else (UTF-8 included) as is.
fn push_str_json(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(esc.as_bytes());
        }
        start = i + 1;
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
    out.push(b'"');
}

fn txn_step(out: &mut Vec<u8>, txn: TxnId, step: StepIx) {
    out.extend_from_slice(b",\"txn\":");
    push_u64(out, u64::from(txn));
    out.extend_from_slice(b",\"step\":");
    push_u64(out, u64::from(step));
}

/// The fields [`msg_fields`] writes, in the same order.
fn push_msg_fields(out: &mut Vec<u8>, msg: &Msg) {
    out.extend_from_slice(b",\"msg\":");
    push_word(out, msg.kind.name());
    out.extend_from_slice(b",\"id\":");
    push_u64(out, u64::from(msg.id));
    if msg.txn != 0 {
        txn_step(out, msg.txn, msg.step);
    }
    out.extend_from_slice(b",\"ok\":");
    push_bool(out, msg.ok);
    if msg.value != 0 {
        out.extend_from_slice(b",\"value\":");
        push_i64(out, msg.value);
    }
    if msg.re != 0 {
        out.extend_from_slice(b",\"re\":");
        push_u64(out, u64::from(msg.re));
    }
    if msg.at_us != 0 {
        out.extend_from_slice(b",\"at_us\":");
        push_u64(out, msg.at_us);
    }
}

fn reject_reason_name(r: RejectReason) -> &'static str {
    match r {
        RejectReason::Rule => "rule",
        RejectReason::Insufficient => "insufficient",
        RejectReason::Tombstone => "tombstone",
        RejectReason::Lock => "lock",
    }
}

/// A `Msg` as its serde derive writes it (every field, declaration order).
fn push_msg_struct(out: &mut Vec<u8>, m: &Msg) {
    out.extend_from_slice(b"{\"id\":");
    push_u64(out, u64::from(m.id));
    out.extend_from_slice(b",\"kind\":");
    push_word(out, m.kind.name());
    out.extend_from_slice(b",\"txn\":");
    push_u64(out, u64::from(m.txn));
    out.extend_from_slice(b",\"step\":");
    push_u64(out, u64::from(m.step));
    out.extend_from_slice(b",\"ok\":");
    push_bool(out, m.ok);
    out.extend_from_slice(b",\"value\":");
    push_i64(out, m.value);
    out.extend_from_slice(b",\"re\":");
    push_u64(out, u64::from(m.re));
    out.extend_from_slice(b",\"at_us\":");
    push_u64(out, m.at_us);
    out.push(b'}');
}

/// A `Write` as its serde derive writes it: `{"op": ..., fields in order}`.
fn push_write(out: &mut Vec<u8>, w: &Write) {
    out.extend_from_slice(b"{\"op\":");
    match *w {
        Write::Take { txn, step, amount } | Write::Hold { txn, step, amount } => {
            push_word(
                out,
                if matches!(w, Write::Take { .. }) {
                    "take"
                } else {
                    "hold"
                },
            );
            txn_step(out, txn, step);
            out.extend_from_slice(b",\"amount\":");
            push_i64(out, amount);
        }
        Write::Apply { txn, step }
        | Write::Release { txn, step }
        | Write::Compensate { txn, step }
        | Write::Tombstone { txn, step } => {
            push_word(
                out,
                match w {
                    Write::Apply { .. } => "apply",
                    Write::Release { .. } => "release",
                    Write::Compensate { .. } => "compensate",
                    _ => "tombstone",
                },
            );
            txn_step(out, txn, step);
        }
        Write::Unfreeze { txn, step, amount } => {
            push_word(out, "unfreeze");
            txn_step(out, txn, step);
            out.extend_from_slice(b",\"amount\":");
            push_i64(out, amount);
        }
        Write::Reject {
            txn,
            step,
            amount,
            reason,
        } => {
            push_word(out, "reject");
            txn_step(out, txn, step);
            out.extend_from_slice(b",\"amount\":");
            push_i64(out, amount);
            out.extend_from_slice(b",\"reason\":");
            push_word(out, reject_reason_name(reason));
        }
        Write::OutboxPut { to, ref msg } => {
            push_word(out, "outbox-put");
            out.extend_from_slice(b",\"to\":");
            push_u64(out, u64::from(to));
            out.extend_from_slice(b",\"msg\":");
            push_msg_struct(out, msg);
        }
        Write::OutboxDone { id } => {
            push_word(out, "outbox-done");
            out.extend_from_slice(b",\"id\":");
            push_u64(out, u64::from(id));
        }
        Write::Emit { to, ref msg } => {
            push_word(out, "emit");
            out.extend_from_slice(b",\"to\":");
            push_u64(out, u64::from(to));
            out.extend_from_slice(b",\"msg\":");
            push_msg_struct(out, msg);
        }
        Write::Relayed { offset } => {
            push_word(out, "relayed");
            out.extend_from_slice(b",\"offset\":");
            push_u64(out, offset);
        }
        Write::Seen { key: k } => {
            push_word(out, "seen");
            out.extend_from_slice(b",\"key\":");
            push_u64(out, k);
        }
        Write::Decide { txn, commit } => {
            push_word(out, "decide");
            out.extend_from_slice(b",\"txn\":");
            push_u64(out, u64::from(txn));
            out.extend_from_slice(b",\"commit\":");
            push_bool(out, commit);
        }
        Write::View {
            txn,
            step,
            state,
            version,
        } => {
            push_word(out, "view");
            txn_step(out, txn, step);
            out.extend_from_slice(b",\"state\":");
            push_i64(out, state);
            out.extend_from_slice(b",\"version\":");
            push_u64(out, u64::from(version));
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{event_line_serde, DropReason, Local};

    /// Every kind of event and write, with awkward values, through both writers.
    fn every_kind(rng: &mut rand::rngs::StdRng) -> Vec<EventKind> {
        use crate::msg::MsgKind;
        use crate::read::ReadResult;
        use rand::Rng;
        let mut msg = || Msg {
            id: rng.gen::<u32>() >> rng.gen_range(0..32),
            kind: MsgKind::ALL[rng.gen_range(0..MsgKind::ALL.len())],
            txn: if rng.gen_bool(0.2) { 0 } else { rng.gen() },
            step: rng.gen(),
            ok: rng.gen(),
            value: if rng.gen_bool(0.3) {
                0
            } else {
                rng.gen::<i64>() >> rng.gen_range(0..64)
            },
            re: if rng.gen_bool(0.3) {
                0
            } else {
                rng.gen::<u32>()
            },
            at_us: if rng.gen_bool(0.5) { 0 } else { rng.gen() },
        };
        let m = [msg(), msg(), msg(), msg(), msg()];
        let reasons = [
            RejectReason::Rule,
            RejectReason::Insufficient,
            RejectReason::Tombstone,
            RejectReason::Lock,
        ];
        let writes: Box<[Write]> = vec![
            Write::Take {
                txn: 1,
                step: 2,
                amount: -3,
            },
            Write::Hold {
                txn: u32::MAX,
                step: u16::MAX,
                amount: i64::MIN,
            },
            Write::Apply { txn: 0, step: 0 },
            Write::Release { txn: 5, step: 1 },
            Write::Compensate { txn: 6, step: 2 },
            Write::Tombstone { txn: 7, step: 3 },
            Write::Reject {
                txn: 8,
                step: 4,
                amount: i64::MAX,
                reason: reasons[1],
            },
            Write::OutboxPut { to: 3, msg: m[4] },
            Write::OutboxDone { id: u32::MAX },
            Write::Emit { to: 2, msg: m[3] },
            Write::Relayed { offset: u64::MAX },
            Write::Seen { key: 0 },
            Write::Decide {
                txn: 9,
                commit: false,
            },
            Write::View {
                txn: 10,
                step: 5,
                state: -1,
                version: 3,
            },
        ]
        .into();
        let mut kinds = vec![
            EventKind::Send { to: 1, msg: m[0] },
            EventKind::Deliver { from: 2, msg: m[1] },
            EventKind::Drop {
                to: 3,
                msg: m[2],
                reason: DropReason::Loss,
            },
            EventKind::Drop {
                to: 9,
                msg: m[2],
                reason: DropReason::Partition,
            },
            EventKind::Drop {
                to: 0,
                msg: m[2],
                reason: DropReason::Down,
            },
            EventKind::Duplicate { to: 1, msg: m[3] },
            EventKind::Timer { timer: u64::MAX },
            EventKind::Reject {
                txn: 4,
                step: 1,
                reason: reasons[0],
                available: -5,
                needed: 7,
            },
            EventKind::Reject {
                txn: 4,
                step: 1,
                reason: reasons[2],
                available: 0,
                needed: 0,
            },
            EventKind::Vote {
                txn: 1,
                step: 2,
                yes: true,
            },
            EventKind::Decide {
                txn: 3,
                commit: false,
            },
            EventKind::Outcome {
                txn: 3,
                committed: true,
            },
            EventKind::Submit { txn: 11 },
            EventKind::Crash,
            EventKind::Restart,
            EventKind::Heal,
            EventKind::Partition {
                groups: vec![vec![0, 1].into(), vec![2].into(), vec![].into()].into(),
            },
            EventKind::Partition {
                groups: vec![].into(),
            },
            EventKind::LossStart { p: 0.1, link: None },
            EventKind::LossStart {
                p: 1.0,
                link: Some((1, 200)),
            },
            EventKind::LossStart {
                p: 1e-7,
                link: Some((0, 2)),
            },
            EventKind::LossStart {
                p: f64::NAN,
                link: None,
            },
            EventKind::LossStart {
                p: rng.gen(),
                link: None,
            },
            EventKind::LossEnd { link: None },
            EventKind::LossEnd { link: Some((2, 1)) },
            EventKind::Read {
                query: 1,
                txn: 2,
                result: ReadResult::Complete,
                latency_us: 3,
            },
            EventKind::Read {
                query: 1,
                txn: 2,
                result: ReadResult::Failed,
                latency_us: 0,
            },
            EventKind::Read {
                query: 1,
                txn: 2,
                result: ReadResult::Partial { missing: 2 },
                latency_us: 9,
            },
            EventKind::ViewApplied {
                txn: 1,
                step: 0,
                staleness_us: 12345,
            },
            EventKind::Relay {
                txn: 3,
                step: 1,
                offset: u64::MAX,
            },
            EventKind::LockWait {
                txn: 4,
                step: 1,
                row: 0,
            },
            EventKind::Lock {
                txn: 4,
                step: 1,
                row: 0,
                waited_us: 2500,
                got: false,
            },
            EventKind::Limit {
                what: "max \"events\" \\ \n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f} é ✓".into(),
            },
        ];
        for what in Local::ALL_FOR_TESTS {
            kinds.push(EventKind::Local {
                what,
                store: 1,
                txn: 0,
                step: 3,
                writes: writes.clone(),
            });
            kinds.push(EventKind::Local {
                what,
                store: 7,
                txn: 42,
                step: 3,
                writes: [].into(),
            });
        }
        kinds
    }

    #[test]
    fn integers_are_written_as_serde_json_writes_them() {
        let mut edge: Vec<u64> = vec![0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, u64::MAX];
        edge.extend((0..64).map(|b| 1u64 << b));
        edge.extend((0..64).map(|b| (1u64 << b) - 1));
        edge.extend((1..20).map(|p| 10u64.pow(p)));
        edge.extend((1..20).map(|p| 10u64.pow(p) - 1));
        for v in edge {
            let mut out = Vec::new();
            push_u64(&mut out, v);
            assert_eq!(out, serde_json::to_vec(&v).unwrap());
            for i in [v as i64, (v as i64).wrapping_neg()] {
                let mut out = Vec::new();
                push_i64(&mut out, i);
                assert_eq!(out, serde_json::to_vec(&i).unwrap());
            }
        }
    }

    #[test]
    fn the_fast_line_writer_writes_the_bytes_serde_json_writes() {
        use rand::SeedableRng;
        let names = ["client", "a\"b", "back\\slash", "ctl\u{1}\n", "ünï", "x"];
        let stores = ["orders", "odd \"store\""];
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        for round in 0..200u64 {
            for (i, kind) in every_kind(&mut rng).into_iter().enumerate() {
                let e = Event {
                    t_us: round * 7919 + i as u64,
                    node: (i % 8) as NodeIx,
                    kind,
                };
                let seq = round * 1_000_003 + i as u64;
                let (mut fast, mut slow) = (String::new(), String::new());
                event_line(&mut fast, seq, &e, &names, &stores);
                event_line_serde(&mut slow, seq, &e, &names, &stores);
                assert_eq!(fast, slow, "{e:?}");
            }
        }
    }
}
