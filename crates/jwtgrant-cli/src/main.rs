//! The `jwtgrant` command: reads argv, environment and files, calls the signer and exchange
//! libraries, prints. See `jwtgrant --help`; exit codes are in `error.rs`.

mod cli;
mod cmd;
mod error;
mod files;
mod logger;
mod parse;
mod secrets;
mod serve;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

fn main() -> ExitCode {
    let parsed = cli::Cli::command()
        .try_get_matches()
        .and_then(|m| cli::Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (mut cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2, with the
            // same `jwtgrant: ` prefix as every other error. A closed stdout while printing
            // help is not worth reporting.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::from(error::OK);
            }
            let text = e.render().to_string();
            eprint!(
                "jwtgrant: {}",
                text.strip_prefix("error: ").unwrap_or(&text)
            );
            return ExitCode::from(error::USAGE);
        }
    };
    logger::init(cli.verbose);
    if let Err(msg) = cli::resolve_exclusive(&mut cli, &matches) {
        eprintln!("jwtgrant: {msg}");
        return ExitCode::from(error::USAGE);
    }
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(error::report(&e)),
    }
}
