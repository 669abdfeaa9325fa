//! Embeds every `scenarios/*.toml` in the binary, so `sovlab` and `sovlab list` work
//! from any directory. The directory is listed here (not in code) so a scenario file
//! added later is picked up by the next build without touching the source.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    // A directory: cargo rescans it, so adding or editing a file rebuilds.
    println!("cargo:rerun-if-changed=scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    // Sorted by file name: the catalogue's order must not depend on the file system.
    files.sort();
    let mut out = String::from(
        "/// The built-in catalogue: (file stem, file text), sorted by stem.\n\
         pub static EMBEDDED: &[(&str, &str)] = &[\n",
    );
    for path in &files {
        let stem = path.file_stem().expect("a file").to_string_lossy();
        writeln!(
            out,
            "    ({stem:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("write to a String");
    }
    out.push_str("];\n");
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("catalogue.rs");
    std::fs::write(dest, out).expect("write the catalogue");
}
