//! `sovlab check`: validate scenario files without running them, reporting every
//! error of every file rustc style: the message, the source line, a caret under the
//! offending text and the hint (rendered by `annotate-snippets`).

use anyhow::{bail, Result};
use sovlab_sim::scenario::LimitOverrides;
use sovlab_sim::{Scenario, ScenarioError};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Validates every file (a directory: its `*.toml`; a bare name: the catalogue
/// scenario); reports each error on stderr; exit 2 if any file is bad.
pub fn check(paths: &[PathBuf]) -> Result<ExitCode> {
    let files = expand(paths);
    let color = std::io::stderr().is_terminal();
    let mut bad = 0;
    for f in &files {
        let errors = diagnose(f);
        for e in &errors.errors {
            // A blank line between errors, as rustc has.
            eprintln!("{}\n", render(e, errors.text.as_deref(), color));
        }
        if !errors.errors.is_empty() {
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

/// One file's errors, with its text when it could be read.
pub struct Diagnosis {
    /// The file's text (none when it could not be read).
    pub text: Option<String>,
    /// Every error, in file order; empty when the file is valid.
    pub errors: Vec<ScenarioError>,
}

/// Every error of the file (or catalogue scenario) `f`.
pub fn diagnose(f: &Path) -> Diagnosis {
    let (label, text) = match crate::catalogue::named(f) {
        Some((stem, text)) => (crate::catalogue::label(stem), text.to_string()),
        None => {
            let label = f.display().to_string();
            match std::fs::read_to_string(f) {
                Ok(text) => (label, text),
                // Unreadable, missing or not UTF-8: the library says which, and where.
                Err(_) => {
                    let mut e = Scenario::load(f).err().unwrap_or_else(|| ScenarioError {
                        file: label,
                        span: None,
                        line: 0,
                        column: 0,
                        message: "cannot read the file".into(),
                        hint: None,
                    });
                    if !f.exists() && e.hint.is_none() {
                        e.message = "no such file".into();
                        e.hint = crate::catalogue::missing_hint(f);
                    }
                    return Diagnosis {
                        text: None,
                        errors: vec![e],
                    };
                }
            }
        }
    };
    let errors = Scenario::diagnose(&text, &label, &LimitOverrides::default())
        .err()
        .unwrap_or_default();
    Diagnosis {
        text: Some(text),
        errors,
    }
}

/// One error as rustc would show it: `error: ...`, ` --> file:line:col`, the line,
/// a caret under the span, `= help: ...`.
pub fn render(e: &ScenarioError, text: Option<&str>, color: bool) -> String {
    use annotate_snippets::{Level, Renderer, Snippet};
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let whole;
    let mut message = Level::Error.title(&e.message);
    let snippet;
    match (text, &e.span) {
        (Some(text), Some(span)) if e.line > 0 => {
            // An empty span (a missing value) still gets one caret.
            let start = span.start.min(text.len());
            let end = span.end.clamp(start, text.len());
            let end = if end == start {
                (start + 1).min(text.len())
            } else {
                end
            };
            snippet = Snippet::source(text)
                .origin(&e.file)
                .fold(true)
                .annotation(Level::Error.span(start..end));
            message = message.snippet(snippet);
        }
        _ => {
            // No place in the text: the file as a whole (missing, unreadable).
            whole = format!("{}: {}", e.file, e.message);
            message = Level::Error.title(&whole);
        }
    }
    if let Some(h) = &e.hint {
        message = message.footer(Level::Help.title(h));
    }
    let out = renderer.render(message).to_string();
    out
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
