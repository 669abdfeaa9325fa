//! sovlab: a deterministic simulation and teaching lab for the database-per-service
//! pattern. This binary is a thin layer: it parses the command line, calls the
//! `sovlab-sim` library, and maps results to exit codes (CONTRACT §2).

mod catalogue;
mod cli;
mod cmd;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are successes; every other parse error is usage (2).
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
