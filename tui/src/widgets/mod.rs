//! The run screen's panels and the pieces they share, one module each.

pub mod about;
pub mod diagram;
pub mod fork_diff;
pub mod glyphs;
pub mod inspector;
pub mod timeline;
pub mod verdict;
pub mod view_rows;
