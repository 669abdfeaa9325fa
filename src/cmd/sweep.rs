//! `sovlab sweep`: the command line around `sovlab_sim::sweep` (arguments, a progress
//! bar, printing, the exit code). The sweep itself lives in the library.

use super::{load, EXPECT_NOT_MET};
use anyhow::{bail, Context, Result};
use sovlab_sim::sweep;
use std::io::IsTerminal;
use std::ops::Range;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// Parses `A..B` (B excluded).
pub fn parse_seeds(s: &str) -> Result<Range<u64>> {
    let (a, b) = s
        .split_once("..")
        .with_context(|| format!("--seeds {s:?}: expected A..B, e.g. 0..1000"))?;
    let num = |x: &str| {
        x.trim()
            .parse::<u64>()
            .with_context(|| format!("--seeds {s:?}: {x:?} is not a seed (0 ..= 2^64-1)"))
    };
    let (a, b) = (num(a)?, num(b)?);
    if a >= b {
        bail!("--seeds {s:?} is empty: A..B runs A, A+1, ..., B-1, so B must be above A");
    }
    Ok(a..b)
}

/// Parses `K/N` (1-based K).
pub fn parse_shard(s: &str) -> Result<(u64, u64)> {
    let (k, n) = s
        .split_once('/')
        .with_context(|| format!("--shard {s:?}: expected K/N, e.g. 2/4"))?;
    let k: u64 = k
        .trim()
        .parse()
        .with_context(|| format!("--shard {s:?}: K is not a number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .with_context(|| format!("--shard {s:?}: N is not a number"))?;
    if n == 0 || k == 0 || k > n {
        bail!("--shard {s:?}: K/N needs 1 <= K <= N");
    }
    Ok((k, n))
}

/// A bar on a terminal's stderr; hidden otherwise (stderr stays clean for scripts).
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} seeds  eta {eta}")
            .expect("a valid template"),
    );
    pb
}

/// Runs the sweep and prints its summary; exit 1 when `[expect]` is not met
/// (see `sovlab_sim::sweep::expect_met`).
pub fn sweep(
    file: &Path,
    seeds: &str,
    jobs: Option<usize>,
    json: bool,
    shard: Option<&str>,
    engine: sovlab_sim::Engine,
) -> Result<ExitCode> {
    let whole = parse_seeds(seeds)?;
    let shard = shard.map(parse_shard).transpose()?;
    let jobs = match jobs {
        Some(0) => bail!("--jobs must be at least 1"),
        Some(j) => j,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let scenario = load(file)?;
    let range = match shard {
        Some((k, n)) => sweep::shard_range(&whole, k, n),
        None => whole.clone(),
    };
    let bar = progress_bar(range.end - range.start);
    let started = Instant::now();
    let runs = sweep::run_seeds_on(&scenario, range.clone(), jobs, engine, &|| bar.inc(1));
    let secs = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let mut summary = sweep::summarize(&scenario, &whole, shard, range.clone(), &runs);
    // The seeds it names replay on this engine only.
    summary["engine"] = serde_json::json!(engine);
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        let file = file.display().to_string();
        print!(
            "{}",
            sweep::to_text(&summary, &file, &sweep::shrinkable(&scenario))
        );
        // Wall time varies from run to run: stderr, so stdout stays reproducible.
        let n = range.end - range.start;
        eprintln!(
            "swept {n} seeds in {secs:.2} s ({:.0} seeds/s) on {jobs} thread(s)",
            n as f64 / secs.max(1e-9)
        );
    }
    Ok(if sweep::expect_met(&scenario, &runs) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXPECT_NOT_MET)
    })
}

/// What `sweep --vary` was asked.
pub struct VaryRequest<'a> {
    /// The scenario file or catalogue name.
    pub file: &'a Path,
    /// `A..B`.
    pub seeds: &'a str,
    /// Worker threads.
    pub jobs: Option<usize>,
    /// Print JSON instead of the table.
    pub json: bool,
    /// The `--vary` arguments, in order.
    pub vary: &'a [String],
    /// Where to write the CSV.
    pub csv: Option<&'a Path>,
    /// Where to write the chart.
    pub svg: Option<&'a Path>,
    /// Overwrite the CSV / SVG paths.
    pub force: bool,
    /// `--measure write|read`.
    pub measure: Option<&'a str>,
    /// The executor.
    pub engine: sovlab_sim::Engine,
}

/// `sweep --vary`: one sweep per combination, one row each (sovlab_sim::vary); exit 1
/// when a row did not meet `[expect]`.
pub fn vary(r: VaryRequest<'_>) -> Result<ExitCode> {
    use sovlab_sim::vary as v;
    let seeds = parse_seeds(r.seeds)?;
    let jobs = match r.jobs {
        Some(0) => bail!("--jobs must be at least 1"),
        Some(j) => j,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let varies = r
        .vary
        .iter()
        .map(|s| v::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    for out in [r.csv, r.svg].into_iter().flatten() {
        if crate::output::same_file(out, r.file) {
            bail!(
                "{} is the scenario itself; choose another output path",
                out.display()
            );
        }
    }
    // The file as written first: its own errors keep their line and column.
    let scenario = load(r.file)?;
    let (label, text) = crate::catalogue::source(r.file)?;
    let combos = v::combinations(&varies).len() as u64;
    let bar = progress_bar(combos * (seeds.end - seeds.start));
    let started = Instant::now();
    let asked = r
        .measure
        .map(|m| {
            v::Side::from_name(m)
                .with_context(|| format!("--measure {m:?}: expected \"write\" or \"read\""))
        })
        .transpose()?;
    let measured = v::measures(&scenario, asked)?;
    let plan = v::Plan {
        text: &text,
        file: &label,
        varies: &varies,
        seeds: seeds.clone(),
        jobs,
        engine: r.engine,
        side: measured,
    };
    let rows = v::run(&plan, &|| bar.inc(1))?;
    let secs = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    if let Some(path) = r.csv {
        let csv = v::to_csv(&rows);
        crate::output::write_atomic(path, r.force, |w| w.write_all(csv.as_bytes()))?;
    }
    if let Some(path) = r.svg {
        let svg = super::sweep_chart::draw(&scenario.name, measured, &rows)?;
        crate::output::write_atomic(path, r.force, |w| w.write_all(svg.as_bytes()))?;
    }
    if r.json {
        let doc = v::to_json(&scenario.name, r.engine, &seeds, measured, &rows);
        println!("{}", serde_json::to_string(&doc)?);
    } else {
        print!("{}", v::to_text(&scenario.name, &seeds, measured, &rows));
        eprintln!(
            "swept {} combination(s) x {} seeds in {secs:.2} s on {jobs} thread(s)",
            rows.len(),
            seeds.end - seeds.start
        );
    }
    Ok(if rows.iter().all(|r| r.expect_met) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXPECT_NOT_MET)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_and_reject_nonsense() {
        assert_eq!(parse_seeds("0..10").unwrap(), 0..10);
        assert_eq!(parse_seeds(" 5 .. 7 ").unwrap(), 5..7);
        for bad in ["10", "5..5", "7..3", "a..3", "1..b", "-1..3"] {
            assert!(parse_seeds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_parse_and_reject_nonsense() {
        assert!(parse_shard("0/4").is_err());
        assert!(parse_shard("5/4").is_err());
        assert_eq!(parse_shard("2/4").unwrap(), (2, 4));
    }
}
