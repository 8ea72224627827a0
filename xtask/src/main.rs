//! Project automation, run as `cargo xtask <command>` (see `.cargo/config.toml`).
//!
//! Commands: `demo`, `ci`, `e2e`, `fuzz`, `deny-advisories`, `keycloak`, `keygen`, `softhsm`, `bench`. Never shipped.

mod bench;
mod bench_keycloak;
mod ci;
mod cluster;
mod demo;
mod deny;
mod e2e;
mod fuzz;
mod keycloak;
mod keygen;
mod packages;
mod softhsm;
mod tls;
mod util;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo      the seed's walkthrough on a local Keycloak: keys, realm 'acme', sign, exchange
  ci        fmt --check, clippy -D warnings, tests (both crypto backends), docs, cargo deny,
            fuzz smoke runs, then e2e
  e2e       start (or reuse) Keycloak and run the end-to-end suite in tests/ against it
  keycloak  start|stop|status a local Keycloak on 127.0.0.1 (see 'cargo xtask keycloak help')
  fuzz      [--seconds N] [TARGET...]: every fuzz target N s each (default 60; nightly)
  deny-advisories  cargo deny check advisories (needs GitHub for the RustSec database; not in ci)
  keygen    [--alg ALG] [--bits N] [--out-dir DIR]: test keys, no openssl needed
  softhsm   find or install SoftHSM2, make a fresh test token, print its environment
  bench     signing rates (ring, aws-lc-rs, openssl, Node) and the token cache's hit path;
            --keycloak: exchanges, concurrency and a fleet against a real Keycloak
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
        "demo" => demo::run(&rest),
        "e2e" => e2e::run(&rest),
        "fuzz" => fuzz::run(&rest),
        "deny-advisories" => deny::advisories(&rest),
        "keygen" => keygen::run(&rest),
        "bench" => bench::run(&rest),
        "softhsm" => softhsm::run(&rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command '{other}'\n\n{USAGE}"),
    }
}
