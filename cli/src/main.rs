//! `gridsync`: the device command line, a thin shell over
//! `gridsync-client-core`. See `docs/CLI.md` for every command, the value
//! syntax, the exit codes and the JSON printed.

mod args;
mod commands;
mod logging;
mod render;

use gridsync_cli::values;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    logging::init();
    render::set_zone(if cli.utc { render::Zone::Utc } else { render::Zone::DEPLOYMENT });
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = commands::run(cli, &mut out).and_then(|()| Ok(out.flush()?));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`gridsync list | head`): not an error.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gridsync: error: {err:#}");
            ExitCode::from(commands::exit_code(&err))
        }
    }
}

/// Prints help or version (exit 0) or a usage error (exit 1).
fn usage_error(err: &clap::Error) -> ExitCode {
    if !err.use_stderr() {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // Help, not an error message: no `gridsync: ` prefix.
        let _ = err.print();
    } else {
        // clap's text starts with `error: `.
        eprint!("gridsync: {}", err.render());
    }
    ExitCode::from(commands::EXIT_FAILURE)
}

/// Whether writing the output failed because stdout was closed.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}
