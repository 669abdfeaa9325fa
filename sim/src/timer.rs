//! Timer purposes as small typed enums.
//!
//! A timer id is one `u64` (it is what a `timer` trace event carries): a purpose in
//! bits 32..40 and a key (a transaction, a query) below, packed by
//! [`crate::node::timer_id`]. Each node declares the purposes it uses as an enum with
//! [`timer_purposes!`], whose discriminants are those purpose bytes, so the code reads
//! `Purpose::VoteTimeout.id(txn)` and `match Purpose::of(timer)` while every timer
//! id, and so every trace, stays exactly what the packed integers gave.

use crate::node::{timer_id, timer_parts};

/// A node's timer purposes: an enum whose variants encode to purpose bytes.
pub trait TimerPurpose: Copy + Sized {
    /// The purpose byte of this variant.
    fn code(self) -> u8;
    /// The variant whose purpose byte is `code`, if any.
    fn from_code(code: u8) -> Option<Self>;
    /// The timer id of this purpose for `key` (the trace's encoding).
    fn id(self, key: u32) -> u64 {
        timer_id(self.code(), key)
    }
    /// The purpose and key of `timer`, if its purpose is one of these.
    fn of(timer: u64) -> Option<(Self, u32)> {
        let (code, key) = timer_parts(timer);
        Some((Self::from_code(code)?, key))
    }
}

/// Declares a `#[repr(u8)]` enum of timer purposes, each with its purpose byte, and its
/// [`TimerPurpose`] implementation.
#[macro_export]
macro_rules! timer_purposes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:expr ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant = $code ),+
        }

        impl $crate::timer::TimerPurpose for $name {
            fn code(self) -> u8 {
                self as u8
            }
            fn from_code(code: u8) -> Option<Self> {
                $( if code == $code { return Some($name::$variant); } )+
                None
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    timer_purposes! {
        /// Purposes of a test node.
        enum Test {
            /// One.
            One = 1,
            /// Above a base.
            High = BASE + 1,
        }
    }
    const BASE: u8 = 64;

    #[test]
    fn a_purpose_encodes_to_the_packed_integer_and_back() {
        assert_eq!(Test::One.id(7), timer_id(1, 7));
        assert_eq!(Test::High.id(u32::MAX), timer_id(65, u32::MAX));
        assert_eq!(Test::of(timer_id(65, 3)), Some((Test::High, 3)));
        assert_eq!(Test::of(timer_id(1, 0)), Some((Test::One, 0)));
        assert_eq!(Test::of(timer_id(2, 0)), None, "not a purpose of this node");
        for code in 0..=u8::MAX {
            if let Some(p) = Test::from_code(code) {
                assert_eq!(p.code(), code);
            }
        }
    }
}
