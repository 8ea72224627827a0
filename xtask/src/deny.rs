//! `cargo deny`: licenses, bans and sources in CI ([`check`]); advisories on demand
//! (`cargo xtask deny-advisories`, [`advisories`]). The policy and every exception, with its
//! reason, are in `deny.toml`.

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::{cargo, run as sh};

/// `cargo deny check licenses bans sources`: reads the lockfile and the crates' manifests
/// cargo already has; no advisory database is fetched for these three checks.
pub fn check() -> Result<()> {
    ensure_cargo_deny()?;
    sh(cargo().args(["deny", "--locked", "check", "licenses", "bans", "sources"]))
}

/// `cargo deny check advisories`: fetches the RustSec advisory database (a git repository on
/// GitHub), so it runs only where that is reachable, never in `cargo xtask ci`.
pub fn advisories(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("unexpected argument '{arg}' (usage: cargo xtask deny-advisories)");
    }
    ensure_cargo_deny()?;
    sh(cargo().args(["deny", "--locked", "check", "advisories"])).context(
        "the advisories check failed; if it could not fetch https://github.com/rustsec/advisory-db, \
         run it on a machine that can reach GitHub (these CI machines reach only package registries)",
    )
}

/// Installs cargo-deny from crates.io when `cargo deny` is not there. An install that cannot
/// work fails the step with the command to run by hand: a missing check is never skipped.
fn ensure_cargo_deny() -> Result<()> {
    let present = cargo()
        .args(["deny", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("deny: cargo-deny is missing; installing it (several minutes, once)");
    sh(Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["install", "cargo-deny", "--locked"]))
    .context("cannot install cargo-deny: install it with 'cargo install cargo-deny --locked' and run again")
}
