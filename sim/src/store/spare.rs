//! Spare write buffers: a local transaction's writes are boxed into its trace event;
//! when the run keeps no such event (counters-only), the box goes back here and the
//! next local transaction of the same size reuses it, so committing allocates
//! nothing once a run is under way.

use super::Write;

/// Buckets of spare boxes, by their length (longer ones are not kept).
#[derive(Debug, Default)]
pub struct SpareWrites {
    by_len: Vec<Vec<Box<[Write]>>>,
}

/// Longest write list kept for reuse: local transactions write a few rows.
const MAX_LEN: usize = 8;
/// Boxes kept per length: a commit takes one and its event gives it back at once.
const PER_LEN: usize = 4;

impl SpareWrites {
    /// `writes` in a box: a spare one of that length if there is one.
    pub fn boxed(&mut self, writes: &[Write]) -> Box<[Write]> {
        match self.by_len.get_mut(writes.len()).and_then(Vec::pop) {
            Some(mut b) => {
                b.copy_from_slice(writes);
                b
            }
            None => writes.into(),
        }
    }

    /// Keeps `b` for reuse (if there is room).
    pub fn give_back(&mut self, b: Box<[Write]>) {
        let n = b.len();
        if n == 0 || n > MAX_LEN {
            return;
        }
        if self.by_len.len() <= n {
            self.by_len.resize_with(n + 1, Vec::new);
        }
        let bucket = &mut self.by_len[n];
        if bucket.len() < PER_LEN {
            bucket.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_given_back_is_reused_with_the_new_writes() {
        let mut s = SpareWrites::default();
        let a = [Write::Seen { key: 1 }, Write::Seen { key: 2 }];
        let first = s.boxed(&a);
        let ptr = first.as_ptr();
        s.give_back(first);
        let b = [Write::Seen { key: 3 }, Write::Seen { key: 4 }];
        let second = s.boxed(&b);
        assert_eq!(second.as_ptr(), ptr, "the same allocation");
        assert_eq!(&*second, &b);
        // Another length gets a box of its own.
        assert_eq!(&*s.boxed(&b[..1]), &b[..1]);
    }
}
