//! `sovlab check`: validate scenario files without running them.

use anyhow::{bail, Result};
use sovlab_sim::Scenario;
use std::path::PathBuf;
use std::process::ExitCode;

/// Validates every file; reports each bad one on stderr; exit 2 if any is bad.
pub fn check(files: &[PathBuf]) -> Result<ExitCode> {
    let mut bad = 0;
    for f in files {
        if let Err(e) = Scenario::load(f) {
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
    if bad > 0 {
        bail!("{bad} of {} scenario file(s) are invalid", files.len());
    }
    Ok(ExitCode::SUCCESS)
}
