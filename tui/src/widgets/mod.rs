//! The run screen's panels, one module each.

pub mod diagram;
pub mod fork_diff;
pub mod inspector;
pub mod timeline;
pub mod verdict;
