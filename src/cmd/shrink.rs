//! `sovlab shrink`: the command line around `sovlab_sim::shrink` (arguments, the
//! output file, the summary on stderr). The algorithm lives in the library.

use super::load;
use crate::output::{same_file, write_atomic};
use anyhow::{bail, Result};
use sovlab_sim::shrink;
use std::path::Path;
use std::process::ExitCode;

/// Shrinks `file` at `seed` and writes the result (stdout by default).
pub fn shrink(
    file: &Path,
    seed: u64,
    out: Option<&Path>,
    force: bool,
    engine: sovlab_sim::Engine,
) -> Result<ExitCode> {
    let scenario = load(file)?;
    if let Some(o) = out {
        if same_file(o, file) {
            bail!("--out {} would overwrite the scenario file", o.display());
        }
    }
    let shrunk = match shrink::shrink_on(&scenario, seed, engine) {
        Ok(s) => s,
        Err(why) => bail!(
            "nothing to shrink: with seed {seed} this scenario {why}\n  hint: `sovlab sweep {} --seeds 0..1000` finds seeds that break an invariant",
            file.display()
        ),
    };
    // The original's text, to edit rather than rewrite (a catalogue name: its text).
    let original = match crate::catalogue::named(file) {
        Some((_, text)) => text.to_string(),
        None => std::fs::read_to_string(file)?,
    };
    let text =
        sovlab_sim::shrink_file::render(&file.display().to_string(), &original, &scenario, &shrunk);
    match out {
        Some(path) => write_atomic(path, force, |w| w.write_all(text.as_bytes()))?,
        None => print!("{text}"),
    }
    eprintln!(
        "shrunk in {} runs: {}{}",
        shrunk.runs,
        shrink::changes(&scenario, &shrunk.scenario).join(", "),
        if shrunk.out_of_budget() {
            " (stopped at the run budget; shrink the result again to go on)"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}
