//! The repository explains itself: its docs point only inside it, their links resolve,
//! and the README's first commands work as typed, twice.

use crate::util::{root, tempdir};
use std::path::{Component, Path, PathBuf};

/// Every text file of the repository (not build output or git's own files).
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            if !["target", ".git"].contains(&name.as_str()) {
                text_files(&p, out);
            }
        } else if [".rs", ".md", ".toml", ".jq", ".txt", ".snap"]
            .iter()
            .any(|x| name.ends_with(x))
        {
            out.push(p);
        }
    }
}

/// `p` with `.` and `..` folded, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// Team-internal files users never have; spelled in pieces so this file passes too.
fn outside_names() -> Vec<String> {
    vec![
        ["CONTR", "ACT"].concat(),
        ["DES", "IGN.md"].concat(),
        ["../", "shared"].concat(),
        ["/wo", "rk/"].concat(),
        "\u{a7}".to_string(),
    ]
}

#[test]
fn no_file_in_the_repository_refers_to_a_path_outside_it() {
    let root = root();
    let mut files = Vec::new();
    text_files(&root, &mut files);
    assert!(files.len() > 50, "{} files", files.len());
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            for name in outside_names() {
                if line.contains(&name) {
                    bad.push(format!("{}:{}: {name}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(bad.is_empty(), "outside references:\n{}", bad.join("\n"));
}

/// Relative link targets `](x)` and backticked relative paths `../x` of a page.
fn relative_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("](") {
        let rest = &text[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_string());
        }
    }
    for part in text.split('`').skip(1).step_by(2) {
        if part.starts_with("../") && !part.contains(' ') {
            out.push(part.to_string());
        }
    }
    out.retain(|t| !t.contains("://") && !t.starts_with('#') && !t.starts_with("mailto:"));
    out
}

#[test]
fn every_relative_link_of_the_docs_resolves_inside_the_repository() {
    let root = normalize(&root());
    let mut files = Vec::new();
    text_files(&root, &mut files);
    let mut bad = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|x| x == "md"))
    {
        let text = std::fs::read_to_string(f).unwrap();
        for t in relative_targets(&text) {
            let path = t.split('#').next().unwrap();
            let target = normalize(&f.parent().unwrap().join(path));
            if !target.starts_with(&root) {
                bad.push(format!("{}: {t} leaves the repository", f.display()));
            } else if !target.exists() {
                bad.push(format!("{}: {t} does not exist", f.display()));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // The pages the learner's path rests on.
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for must in [
        "cargo install --path .",
        "cargo run --release --",
        "(scenarios/README.md)",
        "(docs/concepts.md)",
    ] {
        assert!(readme.contains(must), "README.md says {must}");
    }
    let concepts = std::fs::read_to_string(root.join("docs/concepts.md")).unwrap();
    for name in sovlab_sim::scenario::INVARIANTS {
        assert!(
            concepts.contains(&format!("| `{name}` |")),
            "docs/concepts.md defines {name}"
        );
    }
    for word in [
        "committed",
        "aborted",
        "unfinished",
        "sometimes",
        "(expected)",
    ] {
        assert!(concepts.contains(word), "docs/concepts.md explains {word}");
    }
}

/// The README's "first scenario" commands, as typed, succeed, and again when repeated
/// in the same directory (an output file left by the first must not stop the second).
#[test]
fn the_readmes_first_commands_can_be_repeated() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let block = readme
        .split("## A first scenario")
        .nth(1)
        .and_then(|s| s.split("```sh").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("a sh block under 'A first scenario'");
    let commands: Vec<Vec<&str>> = block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("sovlab "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(commands.len(), 2, "{block}");
    let dir = tempdir("readme-commands");
    for round in 0..2 {
        for args in &commands {
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_sovlab"))
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap();
            assert_eq!(
                o.status.code(),
                Some(0),
                "round {round}: sovlab {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}
