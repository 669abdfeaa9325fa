//! sovlab-tui: the terminal front end over a run's [`Trace`](sovlab_sim::Trace).
//!
//! The shape follows ratatui's todo-list example: [`App`] is plain state,
//! [`App::handle_key`] / [`App::handle_mouse`] change it, [`render`] draws it and never
//! changes it. Everything shown comes from the trace; the world is re-run only to fork
//! a what-if, to compare protocols or to change the seed.

pub mod app;
pub mod bench;
pub mod compare;
pub mod describe;
pub mod keys;
pub mod lane_names;
pub mod replay;
pub mod screens;
pub mod search;
pub mod terminal;
pub mod whatif;
pub mod widgets;

pub use app::{App, Panel, RunView, Screen};
pub use bench::{bench_tui, BenchFigures};
pub use screens::render;
pub use terminal::run_app;
