//! Project automation, run as `cargo xtask <command>` (see `.cargo/config.toml`).
//!
//! Commands: `ci`, `keycloak`. Never shipped.

mod ci;
mod keycloak;
mod util;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci        fmt --check, clippy -D warnings, tests (both crypto backends), docs -D warnings
  keycloak  start|stop|status a local Keycloak on 127.0.0.1 (see 'cargo xtask keycloak help')
";

fn main() {
    if let Err(err) = run() {
        eprintln!("xtask: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(cmd) = args.next() else {
        eprint!("{USAGE}");
        std::process::exit(2);
    };
    let rest: Vec<String> = args.collect();
    match cmd.as_str() {
        "ci" => ci::run(&rest),
        "keycloak" => keycloak::run(&rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command '{other}'\n\n{USAGE}"),
    }
}
