//! The simulator library builds without `--cfg madsim`: only the madsim executor uses
//! madsim, and every use of it is behind `#[cfg(madsim)]`. Building that way needs a
//! second compilation of the crate (docs/architecture.md gives the command); this
//! cheap guard reads the sources instead, so the suite catches a stray `madsim::`
//! without paying for that build.

use crate::util::root;
use std::path::{Path, PathBuf};

/// The files of `sim/src` allowed to name madsim's API: the madsim executor and the
/// benchmark's raw madsim baseline.
const EXECUTOR_FILES: [&str; 2] = ["world.rs", "bench.rs"];

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Whether `line` uses madsim in code (not only in a comment or a string of prose).
fn uses_madsim(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    code.contains("madsim::") || code.trim_start().starts_with("use madsim")
}

/// 1-based numbers of the lines of `text` that use madsim outside an item marked
/// `#[cfg(madsim)]`. An item starts at a line at column 0 (or a `use`); it is gated
/// when the attributes just above it include `#[cfg(madsim)]`.
fn ungated_uses(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![];
    for (i, line) in lines.iter().enumerate() {
        if !uses_madsim(line) {
            continue;
        }
        // The item this line belongs to: the nearest line at or above it that starts
        // at column 0 and is neither a closing brace, an attribute nor a comment.
        let start = (0..=i).rev().find(|&j| {
            let l = lines[j];
            !l.is_empty()
                && !l.starts_with(char::is_whitespace)
                && !l.starts_with('}')
                && !l.starts_with("#[")
                && !l.starts_with("//")
        });
        let gated = start.is_some_and(|s| {
            lines[..s]
                .iter()
                .rev()
                .take_while(|l| l.starts_with("#[") || l.starts_with("///"))
                .any(|l| l.trim() == "#[cfg(madsim)]")
        });
        if !gated {
            out.push(i + 1);
        }
    }
    out
}

#[test]
fn only_the_madsim_executor_uses_madsim() {
    let src = root().join("sim/src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    let mut problems = vec![];
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        let uses: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| uses_madsim(l))
            .map(|(i, _)| i + 1)
            .collect();
        if uses.is_empty() {
            continue;
        }
        if !EXECUTOR_FILES.contains(&rel.as_str()) {
            problems.push(format!(
                "sim/src/{rel}:{uses:?} uses madsim outside the executor"
            ));
        } else if rel != "world.rs" {
            // world.rs is gated whole, in lib.rs; the others item by item.
            for n in ungated_uses(&text) {
                problems.push(format!(
                    "sim/src/{rel}:{n} uses madsim without #[cfg(madsim)]"
                ));
            }
        }
    }
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    if !lib.contains("#[cfg(madsim)]\npub mod world;") {
        problems.push("sim/src/lib.rs: `pub mod world;` must be under #[cfg(madsim)]".into());
    }
    // madsim (and futures, which only the executor's channels use) must be
    // dependencies of the madsim build only, or a build without it compiles madsim's
    // tokio fallback for nothing.
    let manifest = std::fs::read_to_string(root().join("sim/Cargo.toml")).unwrap();
    let (plain, gated) = manifest
        .split_once("[target.'cfg(madsim)'.dependencies]")
        .expect("sim/Cargo.toml has a [target.'cfg(madsim)'.dependencies] table");
    if plain.lines().any(|l| l.starts_with("madsim")) {
        problems.push("sim/Cargo.toml: madsim is an unconditional dependency".into());
    }
    if !gated.lines().any(|l| l.starts_with("madsim")) {
        problems.push("sim/Cargo.toml: madsim is missing from the cfg(madsim) table".into());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_gate_check_finds_an_ungated_use() {
    // The check itself can fail: an ungated item is caught, a gated one is not.
    let text = "use std::fmt;\n#[cfg(madsim)]\nuse madsim::net::Endpoint;\n\
                use madsim::time::sleep;\n\n/// Doc.\n#[cfg(madsim)]\npub fn a() {\n    \
                madsim::task::spawn(x);\n}\n\npub fn b() {\n    madsim::time::sleep(d);\n}\n";
    assert_eq!(ungated_uses(text), vec![4, 13]);
}
