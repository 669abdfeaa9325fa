//! sovlab: a deterministic simulation and teaching lab for the database-per-service
//! pattern. This binary is a thin layer: it parses the command line, calls the
//! `sovlab-sim` library, and maps results to exit codes (docs/reference/cli.md).

mod catalogue;
mod cli;
mod cmd;
mod output;

use clap::Parser;
use std::process::ExitCode;

// The CLI, like the integration tests, needs madsim: it is the default engine and the
// reference every seed in the docs replays on. The library builds without it (DES
// only); the binary refuses to, loudly, because the usual way to lose `--cfg madsim`
// is by accident (docs/architecture.md, "Building with and without madsim").
#[cfg(not(madsim))]
compile_error!(
    "sovlab needs `--cfg madsim` (set in .cargo/config.toml). A RUSTFLAGS \
     environment variable replaces that setting: unset it, or add --cfg madsim to it."
);

fn main() -> ExitCode {
    restore_sigpipe();
    output_errors_exit_2();
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

/// Rust ignores SIGPIPE, so printing to a pipe whose reader has gone (`sovlab run
/// FILE | head -1`) fails, and `println!` panics (exit 101). Restore the default,
/// as other Unix tools have it: the process ends quietly when its reader is gone.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `println!` panics when stdout cannot be written (a full disk, a closed file):
/// that is a bad environment, not a bug, so say so and exit 2 (docs/reference/cli.md) instead
/// of 101. Every command's printing goes through here; other panics are untouched.
fn output_errors_exit_2() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if let Some(why) = msg.strip_prefix("failed printing to stdout: ") {
            eprintln!("error: cannot write the output: {why}");
            std::process::exit(2);
        }
        default(info);
    }));
}
