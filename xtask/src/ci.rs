//! `cargo xtask ci`: the checks CI runs, in order from fastest to slowest.

use anyhow::Result;

use crate::util::{cargo, run as sh};

pub fn run(_args: &[String]) -> Result<()> {
    sh(cargo().args(["fmt", "--all", "--", "--check"]))?;
    sh(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The end-to-end package needs a running Keycloak; `cargo xtask e2e` runs it.
    sh(cargo().args([
        "test",
        "--workspace",
        "--locked",
        "--exclude",
        "jwtgrant-e2e",
    ]))?;
    // The second crypto backend must pass the same signer tests.
    sh(cargo().args([
        "test",
        "--locked",
        "--package",
        "jwtgrant-signer",
        "--no-default-features",
        "--features",
        "aws-lc-rs",
    ]))?;
    sh(cargo()
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    Ok(())
}
