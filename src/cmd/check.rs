//! `sovlab check`: validate scenario files without running them.

use anyhow::{bail, Result};
use sovlab_sim::Scenario;
use std::path::PathBuf;
use std::process::ExitCode;

/// Validates every file (a directory: its `*.toml`); reports each bad one on stderr;
/// exit 2 if any is bad.
pub fn check(paths: &[PathBuf]) -> Result<ExitCode> {
    let files = expand(paths);
    let mut bad = 0;
    for f in &files {
        let loaded = match crate::catalogue::named(f) {
            Some((stem, text)) => crate::catalogue::parse(stem, text).map(drop),
            None => Scenario::load(f).map(drop),
        };
        if let Err(e) = loaded {
            eprintln!("{e}");
            // A missing file is most often a typo in its name: suggest the closest.
            if !f.exists() && e.hint.is_none() {
                if let Some(hint) = crate::catalogue::missing_hint(f) {
                    eprintln!("  hint: {hint}");
                }
            }
            bad += 1;
        }
    }
    if files.is_empty() {
        bail!("no scenario files to check");
    }
    if bad > 0 {
        bail!("{bad} of {} scenario file(s) are invalid", files.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// The files to check: each path, or for a directory its `*.toml` files, sorted.
fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        match std::fs::read_dir(p) {
            Ok(rd) => {
                let mut inside: Vec<PathBuf> = rd
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                    .collect();
                inside.sort();
                out.extend(inside);
            }
            Err(_) => out.push(p.clone()),
        }
    }
    out
}
