//! One module per command. Each takes its parsed arguments and returns `anyhow::Result`.

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::error::Verdict;

mod completions;

/// Global flags every command may need.
#[derive(Debug, Clone, Copy)]
pub struct Globals {
    pub allow_insecure_key_permissions: bool,
}

pub fn run(cli: Cli) -> Result<()> {
    let g = Globals {
        allow_insecure_key_permissions: cli.allow_insecure_key_permissions,
    };
    let _ = g;
    match cli.command {
        Command::Completions(a) => completions::run(&a),
        _ => anyhow::bail!("not implemented yet"),
    }
}

/// Set the exit code and hint for errors of the libraries; true when `cause` was one.
pub fn classify_library_error(
    _cause: &(dyn std::error::Error + 'static),
    _v: &mut Verdict,
) -> bool {
    false
}
