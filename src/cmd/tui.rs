//! `sovlab` / `sovlab tui [FILE] [--seed N] [--trace FILE]`: the terminal UI.

use super::load;
use anyhow::{Context, Result};
use sovlab_tui::app::Origin;
use sovlab_tui::App;
use std::path::Path;
use std::process::ExitCode;

/// The catalogue: the built-in scenarios embedded at build time, labelled
/// `scenarios/<stem>.toml`, so the TUI opens on the same list from any directory.
pub(crate) fn catalogue() -> Vec<(String, String)> {
    crate::catalogue::entries()
        .iter()
        .map(|(stem, text)| (crate::catalogue::label(stem), (*text).to_string()))
        .collect()
}

/// Opens the TUI: on the catalogue, on one scenario, or on a saved trace.
pub fn tui(
    file: Option<&Path>,
    seed: Option<u64>,
    trace: Option<&Path>,
    engine: sovlab_sim::Engine,
) -> Result<ExitCode> {
    let mut entries = catalogue();
    let mut app;
    if let Some(t) = trace {
        let result = sovlab_sim::trace_load::load_result(t)?;
        app = App::new(entries, seed);
        // Re-runs and forks of a saved trace use the engine that wrote it.
        app.engine = result.trace.engine;
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
        app.engine = engine;
        app.open_scenario(&scenario, scenario.seed_or(seed));
    } else {
        app = App::new(entries, seed);
        app.engine = engine;
    }
    sovlab_tui::run_app(app).context("the terminal UI failed")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_the_embedded_one_whatever_the_directory() {
        // Nothing here reads the current directory: every entry is embedded, and its
        // label names the file it was built from.
        let entries = catalogue();
        assert_eq!(entries.len(), crate::catalogue::entries().len());
        assert!(entries.len() >= 12, "{} scenarios", entries.len());
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (label, text) in &entries {
            assert!(label.starts_with("scenarios/") && label.ends_with(".toml"));
            assert_eq!(&std::fs::read_to_string(root.join(label)).unwrap(), text);
        }
    }
}
