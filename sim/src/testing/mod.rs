//! Test support: helpers the lab's own unit and integration tests share. Not part of
//! the lab's behaviour; nothing outside tests calls it.

pub mod fixture;
