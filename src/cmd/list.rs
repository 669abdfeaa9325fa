//! `sovlab list`: the built-in catalogue, one line per scenario.

use crate::catalogue;
use anyhow::Result;
use std::process::ExitCode;

/// Prints `stem  name  [what it demonstrates]` for every catalogue scenario.
pub fn list() -> Result<ExitCode> {
    let width = catalogue::entries()
        .iter()
        .map(|(s, _)| s.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (stem, text) in catalogue::entries() {
        // A broken catalogue file is a build defect; say so on its line, keep listing.
        let line = match catalogue::parse(stem, text) {
            Ok(s) => format!(
                "{stem:<width$}  {}  [{}]",
                s.name,
                catalogue::expect_summary(&s)
            ),
            Err(e) => format!("{stem:<width$}  (invalid: {e})"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
