//! `cargo xtask ci`: the checks CI runs, from the fastest to the slowest.
//!
//! Format, lints (default features and the aws-lc-rs backend), every unit, integration,
//! stub and CLI test, the HSM tests against a fresh SoftHSM2 token (feature `pkcs11`), docs
//! with warnings denied, `cargo deny` (licenses, bans, sources; no advisories: they need a
//! network fetch), every fuzz target for [`FUZZ_SECONDS`] seconds, and last the end-to-end
//! suite against a real Keycloak (`cargo xtask e2e`: the default line and 26.5 for the
//! doctor's version-order tests), which this command starts and stops.

use std::time::Instant;

use anyhow::{Result, bail};

use crate::util::{Tally, cargo, run as sh, run_tests};
use crate::{deny, e2e, fuzz, softhsm};

pub fn run(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("unexpected argument '{arg}' (usage: cargo xtask ci)");
    }
    let t0 = Instant::now();
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
    sh(cargo()
        .arg("clippy")
        .args(AWS_LC_SIGNER)
        .args(["--all-targets", "--", "-D", "warnings"]))?;
    sh(cargo()
        .args(["clippy", "--all-targets", "--locked"])
        .args(PKCS11)
        .args(["--", "-D", "warnings"]))?;
    // The bench programs in the other two feature sets `cargo xtask bench` builds them with
    // (the default set is in the workspace run): SoftHSM2 rows, and the aws-lc-rs backend.
    for features in ["ring,keygen,pkcs11", "aws-lc-rs,keygen"] {
        sh(cargo().args([
            "clippy",
            "--locked",
            "--package",
            "jwtgrant-bench",
            "--all-targets",
            "--no-default-features",
            "--features",
            features,
            "--",
            "-D",
            "warnings",
        ]))?;
    }
    // The end-to-end package needs a running Keycloak: it runs last, under `e2e`.
    let mut tally = Tally::default();
    tally.add(run_tests(cargo().args([
        "test",
        "--workspace",
        "--locked",
        "--exclude",
        "jwtgrant-e2e",
    ]))?);
    // The second crypto backend passes the same signer tests.
    tally.add(run_tests(cargo().arg("test").args(AWS_LC_SIGNER))?);
    // Keys inside a real PKCS#11 token: SoftHSM2, found or installed, with a fresh token.
    let hsm = softhsm::setup()?;
    let hsm_tests = run_tests(hsm.env(cargo().args(["test", "--locked"]).args(PKCS11)));
    softhsm::cleanup(&hsm);
    tally.add(hsm_tests?);
    sh(cargo()
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    deny::check()?;
    // A smoke run, not a campaign: it catches a target that no longer builds or a crash the
    // seeds reach. Long runs are `cargo xtask fuzz`.
    fuzz::smoke(FUZZ_SECONDS)?;
    tally.add(e2e::run_suite()?);
    eprintln!("ci: all checks passed in {:.0?}", t0.elapsed());
    // The plain closing line CI reads: every test of every run above, e2e included.
    println!("ci: {} passed, {} failed", tally.passed, tally.failed);
    Ok(())
}

/// The crates with a `pkcs11` feature, built with it (after the cargo subcommand).
pub const PKCS11: &[&str] = &[
    "--package",
    "jwtgrant-signer",
    "--package",
    "jwtgrant-cli",
    "--features",
    "jwtgrant-signer/pkcs11,jwtgrant-cli/pkcs11",
];

/// Seconds each fuzz target runs in CI: 8 targets, about 1.5 minutes plus one build.
const FUZZ_SECONDS: u64 = 10;

/// The signer built on aws-lc-rs instead of ring (after the cargo subcommand).
const AWS_LC_SIGNER: &[&str] = &[
    "--locked",
    "--package",
    "jwtgrant-signer",
    "--no-default-features",
    "--features",
    "aws-lc-rs,keygen",
];
