//! `sovlab` / `sovlab tui [FILE] [--seed N] [--trace FILE]`: the terminal UI.

use super::load;
use anyhow::{bail, Context, Result};
use sovlab_tui::app::Origin;
use sovlab_tui::App;
use std::io::IsTerminal;
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
        let (label, text) = match crate::catalogue::named(f) {
            Some((stem, text)) => (crate::catalogue::label(stem), text.to_string()),
            None => (
                f.display().to_string(),
                std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read {}", f.display()))?,
            ),
        };
        // A catalogue scenario is already in the list: open that entry, not a copy.
        entries.retain(|(l, _)| *l != label);
        entries.insert(0, (label, text));
        app = App::new(entries, seed);
        app.engine = engine;
        app.open_scenario(&scenario, scenario.seed_or(seed));
    } else {
        app = App::new(entries, seed);
        app.engine = engine;
    }
    // Checked after the input (a bad file is still reported as one): without a
    // terminal the UI cannot start, and the system's "No such device or address"
    // says nothing useful.
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        bail!("not a terminal; try `sovlab list` or `sovlab run NAME`");
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
