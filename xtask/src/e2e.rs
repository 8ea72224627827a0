//! `cargo xtask e2e`: the end-to-end suite in `tests/` against a real Keycloak.
//!
//! Starts (or reuses) Keycloak, and a 26.5 Keycloak beside it for the tests of the doctor's
//! per-version check order, installs the Node.js packages the interop test needs, builds the
//! `jwtgrant` binary for the CLI tests, runs the `jwtgrant-e2e` package with the servers'
//! coordinates in the environment (`KEYCLOAK_URL`, `KEYCLOAK_URL_26_5`, ...), and stops the
//! servers it started. `tests/hsm.rs` signs in a fresh SoftHSM2 token (`softhsm::setup`).
//! The suite fails (never skips) when either Keycloak cannot be reached.

use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::keycloak::{self, StartOptions};
use crate::softhsm;
use crate::util::{Tally, cargo, root, run as sh, run_tests};

pub fn run(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("unexpected argument '{arg}' (usage: cargo xtask e2e)");
    }
    let tally = run_suite()?;
    println!("e2e: {} passed, {} failed", tally.passed, tally.failed);
    Ok(())
}

/// Runs the suite and returns its test counts.
pub fn run_suite() -> Result<Tally> {
    npm_ci()?;
    // With PKCS#11: the HSM tests run the binary with `pkcs11:` keys.
    sh(cargo().args([
        "build",
        "--locked",
        "--package",
        "jwtgrant-cli",
        "--features",
        "pkcs11",
    ]))?;
    let hsm = softhsm::setup()?;
    // The docs' transcripts (tests/tests/docs.rs) pipe through jq and openssl.
    crate::packages::ensure(
        &[("jq", "jq"), ("openssl", "openssl")],
        "the docs transcripts",
    )?;
    // tests/token_delivery.rs runs the real kubectl with jwtgrant as its credential plugin.
    crate::packages::ensure(&[("kubectl", "kubernetes-client")], "the kubectl test")?;
    let t0 = Instant::now();
    let server = keycloak::ensure_running(&StartOptions::default())?;
    eprintln!(
        "e2e: Keycloak ready at {} after {:.1?}",
        server.url,
        t0.elapsed()
    );
    let legacy = match keycloak::ensure_running(&StartOptions::legacy()) {
        Ok(l) => l,
        Err(e) => {
            // Do not leave the first server behind when the second cannot start.
            let _ = server.stop_if_started();
            return Err(e.context(format!(
                "starting Keycloak {} for the version-order tests",
                keycloak::LEGACY_VERSION
            )));
        }
    };
    eprintln!(
        "e2e: Keycloak {} ready at {} after {:.1?}",
        legacy.version,
        legacy.url,
        t0.elapsed()
    );

    // The production-shaped cluster (tests/cluster.rs): PostgreSQL, two nodes, nginx.
    let cluster = match crate::cluster::ensure_running(keycloak::DEFAULT_VERSION, 2) {
        Ok(c) => c,
        Err(e) => {
            let _ = server.stop_if_started();
            let _ = legacy.stop_if_started();
            return Err(e.context("starting the production-mode cluster"));
        }
    };

    let t1 = Instant::now();
    let mut tests = cargo();
    // Every test file runs even when one fails, so a run reports all failures at once.
    tests.args([
        "test",
        "--locked",
        "--no-fail-fast",
        "--package",
        "jwtgrant-e2e",
        "--features",
        "pkcs11",
    ]);
    // tests/hsm.rs signs inside this SoftHSM2 token; it fails, never skips, without it.
    hsm.env(&mut tests);
    // The TLS suite fails, never skips, without these: an external server must name them.
    if let Some(url) = &server.https_url {
        tests.env("KEYCLOAK_HTTPS_URL", url);
    }
    if let Some(dir) = &server.tls_dir {
        tests.env("JWTGRANT_TLS_DIR", dir);
    }
    let (c, _) = &cluster;
    tests
        .env("KEYCLOAK_CLUSTER_URL", &c.proxy_url)
        .env(
            "KEYCLOAK_CLUSTER_NODES",
            c.nodes
                .iter()
                .map(|n| n.url.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )
        .env(
            "KEYCLOAK_CLUSTER_SCRIPTS",
            c.nodes
                .iter()
                .map(|n| n.script.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
    // The fault tests pause and resume this process group (SIGSTOP/SIGCONT).
    if let Some(pid) = server.pid {
        tests.env("KEYCLOAK_PID", pid.to_string());
    }
    let result = run_tests(
        tests
            .env("KEYCLOAK_URL", &server.url)
            .env("KEYCLOAK_ADMIN_USER", &server.admin_user)
            .env("KEYCLOAK_ADMIN_PASSWORD", &server.admin_password)
            .env(keycloak::LEGACY_URL_ENV, &legacy.url)
            .env("JWTGRANT_BIN", root().join("target/debug/jwtgrant")),
    );
    eprintln!("e2e: suite finished in {:.1?}", t1.elapsed());
    softhsm::cleanup(&hsm);
    // Stop what we started even when the suite failed; report the suite's failure first.
    let stopped = server.stop_if_started();
    let stopped_legacy = legacy.stop_if_started();
    let stopped_cluster = if cluster.1 {
        crate::cluster::stop()
    } else {
        Ok(())
    };
    let tally = result.context("the end-to-end suite failed")?;
    stopped?;
    stopped_legacy?;
    stopped_cluster?;
    eprintln!(
        "e2e: {} passed, {} failed against Keycloak",
        tally.passed, tally.failed
    );
    Ok(tally)
}

/// `npm ci` in `tests/node` (the seed's Node.js issuer) unless its packages are there.
pub fn npm_ci() -> Result<()> {
    let dir = root().join("tests/node");
    if dir.join("node_modules/jsonwebtoken").is_dir() && dir.join("node_modules/uuid").is_dir() {
        return Ok(());
    }
    sh(std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir))
    .context("installing the Node.js packages of tests/node (Node.js and npm are prerequisites)")
}
