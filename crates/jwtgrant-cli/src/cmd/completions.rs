//! `jwtgrant completions SHELL`.

use anyhow::Result;
use clap::CommandFactory as _;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: &CompletionsArgs) -> Result<()> {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "jwtgrant", &mut buf);
    crate::files::stdout(&String::from_utf8_lossy(&buf))
}
