//! `cargo xtask e2e`.

use anyhow::{Result, bail};

pub fn run(_args: &[String]) -> Result<()> {
    bail!("not implemented yet")
}
