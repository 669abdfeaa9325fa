//! The built-in catalogue: every `scenarios/*.toml`, embedded at build time (build.rs),
//! and the lookup that lets a command take a catalogue name where a file is expected.

use anyhow::{anyhow, Result};
use sovlab_sim::scenario::LimitOverrides;
use sovlab_sim::{did_you_mean, Scenario};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

/// Every catalogue entry as (file stem, file text), sorted by stem.
pub fn entries() -> &'static [(&'static str, &'static str)] {
    EMBEDDED
}

/// The text of catalogue scenario `name` (a file stem, with or without `.toml`).
#[cfg(test)]
pub fn find(name: &str) -> Option<&'static str> {
    let stem = name.strip_suffix(".toml").unwrap_or(name);
    EMBEDDED.iter().find(|(s, _)| *s == stem).map(|(_, t)| *t)
}

/// The catalogue entry `path` names, as (stem, text): a bare name with no file of
/// that name in the current directory (a file always wins over the catalogue).
pub fn named(path: &Path) -> Option<(&'static str, &'static str)> {
    if path.exists() || path.components().count() != 1 {
        return None;
    }
    let name = path.to_str()?;
    let stem = name.strip_suffix(".toml").unwrap_or(name);
    EMBEDDED.iter().find(|(s, _)| *s == stem).copied()
}

/// The label errors and reports use for catalogue scenario `stem`.
pub fn label(stem: &str) -> String {
    format!("scenarios/{stem}.toml")
}

/// Parses catalogue scenario `stem`.
pub fn parse(stem: &str, text: &str) -> Result<Scenario, sovlab_sim::ScenarioError> {
    Scenario::parse(text, &label(stem))
}

/// Loads `path` (or the catalogue scenario of that name) with `[limits]` overridden.
pub fn load_with(path: &Path, overrides: &LimitOverrides) -> Result<Scenario> {
    if let Some((stem, text)) = named(path) {
        return Scenario::parse_with(text, &label(stem), overrides)
            .map_err(|e| crate::cmd::BadScenario(e).into());
    }
    if !path.exists() {
        return load(path);
    }
    Scenario::load_with(path, overrides).map_err(|e| crate::cmd::BadScenario(e).into())
}

/// Loads `path`: the file if it exists, else the catalogue scenario of that name.
/// Neither: an error that suggests the closest catalogue name or nearby file.
pub fn load(path: &Path) -> Result<Scenario> {
    let bare = path.components().count() == 1;
    if let Some((stem, text)) = named(path) {
        return parse(stem, text).map_err(|e| crate::cmd::BadScenario(e).into());
    }
    if !path.exists() {
        let mut msg = format!(
            "{}: no such file{}",
            path.display(),
            if bare {
                ", and no catalogue scenario of that name"
            } else {
                ""
            }
        );
        if let Some(hint) = missing_hint(path) {
            msg.push_str(&format!("\n  hint: {hint}"));
        }
        return Err(anyhow!(msg));
    }
    crate::cmd::load_file(path)
}

/// The text of `path` (or of the catalogue scenario of that name) and the label its
/// errors use; call [`load`] first, which reports a missing or bad file.
pub fn source(path: &Path) -> Result<(String, String)> {
    if let Some((stem, text)) = named(path) {
        return Ok((label(stem), text.to_string()));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("{}: cannot read the file: {e}", path.display()))?;
    Ok((path.display().to_string(), text))
}

/// What a scenario's `[expect]` says, as `sovlab list` and scenarios/README.md show it:
/// "breaks X; sometimes breaks Y; keeps Z".
pub fn expect_summary(s: &Scenario) -> String {
    let mut shows = Vec::new();
    if let Some(e) = &s.expect {
        for (verb, list) in [
            ("breaks", &e.violated),
            ("sometimes breaks", &e.sometimes),
            ("keeps", &e.holds),
        ] {
            if !list.is_empty() {
                shows.push(format!("{verb} {}", list.join(", ")));
            }
        }
    }
    // What `sovlab explore` proves is a different claim from what one run shows.
    if s.explore.is_some() {
        let (holds, violated) = sovlab_sim::explore::expectations(s);
        let mut proved = Vec::new();
        if !holds.is_empty() {
            proved.push(format!("keeps {} in every execution", holds.join(", ")));
        }
        if !violated.is_empty() {
            proved.push(format!("breaks {} in some", violated.join(", ")));
        }
        if !proved.is_empty() {
            shows.push(format!("explored: {}", proved.join(", ")));
        }
    }
    shows.join("; ")
}

/// For a path that does not exist: the closest file beside it or catalogue name.
pub fn missing_hint(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let mut beside: Vec<String> = std::fs::read_dir(dir.unwrap_or(Path::new(".")))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    // Sorted so that ties in the distance resolve the same way everywhere.
    beside.sort();
    let refs: Vec<&str> = beside.iter().map(String::as_str).collect();
    if let Some(best) = did_you_mean(name, &refs) {
        let p = dir.map_or_else(|| best.to_string(), |d| d.join(best).display().to_string());
        return Some(format!("did you mean {p}?"));
    }
    let stems: Vec<&str> = EMBEDDED.iter().map(|(s, _)| *s).collect();
    let stem = name.strip_suffix(".toml").unwrap_or(name);
    did_you_mean(stem, &stems)
        .map(|s| format!("did you mean the catalogue scenario {s}? (`sovlab list` shows them all)"))
        .or_else(|| Some("`sovlab list` shows the built-in catalogue".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_scenario_is_valid_and_has_a_story() {
        assert!(!entries().is_empty());
        for (stem, text) in entries() {
            let s = parse(stem, text).unwrap_or_else(|e| panic!("{e}"));
            assert!(s.description.is_some(), "{stem} has a description");
            assert!(s.expect.is_some(), "{stem} has an expect");
        }
    }

    #[test]
    fn names_resolve_with_or_without_the_extension() {
        let (stem, _) = entries()[0];
        assert!(find(stem).is_some());
        assert!(find(&format!("{stem}.toml")).is_some());
        assert!(find("no-such-scenario").is_none());
    }

    #[test]
    fn the_catalogue_readme_lists_every_scenario_once() {
        let readme = include_str!("../scenarios/README.md");
        for (stem, _) in entries() {
            let rows = readme
                .lines()
                .filter(|l| l.starts_with(&format!("| `{stem}` |")))
                .count();
            assert_eq!(rows, 1, "scenarios/README.md lists {stem} {rows} times");
        }
    }

    /// The README's last column is exactly what `sovlab list` says a scenario shows,
    /// so the two cannot tell different stories.
    #[test]
    fn the_catalogue_readme_and_list_agree_on_every_expect() {
        let readme = include_str!("../scenarios/README.md");
        for (stem, text) in entries() {
            let s = parse(stem, text).unwrap();
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| `{stem}` |")))
                .unwrap_or_else(|| panic!("no row for {stem}"));
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(
                cells.last().copied(),
                Some(expect_summary(&s).as_str()),
                "scenarios/README.md row of {stem}: the expect column must read as `sovlab list`"
            );
        }
    }

    #[test]
    fn the_expect_summary_names_every_list() {
        let (stem, text) = entries()
            .iter()
            .find(|(s, _)| *s == "saga-duplicates-not-idempotent")
            .unwrap();
        let s = parse(stem, text).unwrap();
        assert_eq!(
            expect_summary(&s),
            "breaks conservation; sometimes breaks atomicity, termination"
        );
    }

    /// Every `scenarios/X.toml` and `sovlab <command> X` in the docs names a file or a
    /// catalogue scenario that exists (examples of a user's own files excepted).
    #[test]
    fn the_docs_name_only_scenarios_that_exist() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut pages = vec![root.join("README.md"), root.join("docs/README.md")];
        for dir in ["docs", "docs/lessons", "docs/reference"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "md") {
                    pages.push(p);
                }
            }
        }
        let users_own = ["my-order-saga", "case", "shrunk", "cex"];
        let word = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_./".contains(*c))
                .collect()
        };
        let mut dead = Vec::new();
        for page in &pages {
            let text = std::fs::read_to_string(page).unwrap();
            let mut names = Vec::new();
            for (i, _) in text.match_indices("scenarios/") {
                let w = word(&text[i + "scenarios/".len()..]);
                if let Some(stem) = w.strip_suffix(".toml") {
                    names.push(stem.to_string());
                }
            }
            for cmd in ["run", "export", "shrink", "sweep", "tui", "check"] {
                let pat = format!("sovlab {cmd} ");
                for (i, _) in text.match_indices(&pat) {
                    let w = word(&text[i + pat.len()..]);
                    // Placeholders (FILE, NAME) and options are not names.
                    let lower =
                        w.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
                    if !lower || w.contains('/') {
                        continue;
                    }
                    names.push(w.strip_suffix(".toml").unwrap_or(&w).to_string());
                }
            }
            for n in names {
                let n = n.rsplit('/').next().unwrap_or(&n).to_string();
                if find(&n).is_none() && !users_own.contains(&n.as_str()) {
                    dead.push(format!("{}: {n}", page.display()));
                }
            }
        }
        assert!(dead.is_empty(), "dead scenario references: {dead:#?}");
    }
}
