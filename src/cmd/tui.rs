//! `sovlab` / `sovlab tui [FILE] [--seed N] [--trace FILE]`: the terminal UI.

use super::load;
use anyhow::{Context, Result};
use sovlab_tui::app::Origin;
use sovlab_tui::App;
use std::path::Path;
use std::process::ExitCode;

/// The catalogue: scenarios/*.toml of the current directory, by file name.
fn catalogue() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir("scenarios")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(&p).ok()?)))
        .collect()
}

/// Opens the TUI: on the catalogue, on one scenario, or on a saved trace.
pub fn tui(file: Option<&Path>, seed: Option<u64>, trace: Option<&Path>) -> Result<ExitCode> {
    let mut entries = catalogue();
    let mut app;
    if let Some(t) = trace {
        let result = sovlab_sim::trace_load::load_result(t)?;
        app = App::new(entries, seed);
        let label = format!("{} ({})", result.trace.scenario.name, t.display());
        app.open_result(label, result, Origin::Catalogue);
        if let Some(run) = app.run.as_mut() {
            run.from_file = true;
        }
    } else if let Some(f) = file {
        // Validate first: a bad file is an error with file:line:column, not a screen.
        let scenario = load(f)?;
        let text =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        entries.insert(0, (f.display().to_string(), text));
        app = App::new(entries, seed);
        app.open_scenario(&scenario, scenario.seed_or(seed));
    } else {
        app = App::new(entries, seed);
    }
    sovlab_tui::run_app(app).context("the terminal UI failed")?;
    Ok(ExitCode::SUCCESS)
}
