//! `cargo xtask fuzz [--seconds N] [TARGET...]`: every fuzz target in `fuzz/` (or the named
//! ones) for N seconds each (default 60), on the nightly toolchain through cargo-fuzz, which
//! is installed when missing. Fails on the first crash, naming the input libFuzzer saved.
//!
//! Each target starts from its committed seeds (`fuzz/seeds/T`, real samples) and grows its
//! own corpus in `fuzz/corpus/T` (ignored by git), so later runs start where earlier ones
//! stopped. `cargo xtask ci` runs every target briefly through [`smoke`].

use anyhow::{Context, Result, bail};
use std::process::{Command, Stdio};

use crate::util::{root, run as sh};

/// The targets, in `fuzz/Cargo.toml` order.
pub const TARGETS: &[&str] = &[
    "key_loading",
    "public_key",
    "jwt_verify",
    "jwks",
    "token_response",
    "retry_after",
    "doctor",
    "inspect",
];

const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [TARGET...]";

pub fn run(args: &[String]) -> Result<()> {
    let mut seconds = 60;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let n = args.next().context(USAGE)?;
                seconds = n
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| format!("--seconds '{n}' is not a positive number"))?;
            }
            t if TARGETS.contains(&t) => targets.push(t),
            other => bail!("unknown argument '{other}' ({USAGE}; targets: {TARGETS:?})"),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    fuzz(&targets, seconds)
}

/// Every target for `seconds` each: what `cargo xtask ci` runs.
pub fn smoke(seconds: u64) -> Result<()> {
    fuzz(TARGETS, seconds)
}

fn fuzz(targets: &[&str], seconds: u64) -> Result<()> {
    ensure_cargo_fuzz()?;
    // One build for all targets, so the per-target time below is fuzzing time.
    sh(nightly_fuzz().args(["build", "--fuzz-dir", "fuzz"]))?;
    let mut lines = Vec::new();
    for target in targets {
        let corpus = root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .with_context(|| format!("cannot create '{}'", corpus.display()))?;
        let mut cmd = nightly_fuzz();
        cmd.args(["run", "--fuzz-dir", "fuzz", target])
            .arg(&corpus)
            .arg(root().join("fuzz/seeds").join(target))
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                // A hang on one input is a finding too.
                "-timeout=10",
                "-print_final_stats=1",
            ]);
        eprintln!("fuzz: {target} for {seconds} s");
        let output = cmd
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("cannot start cargo fuzz for {target}"))?;
        let log = String::from_utf8_lossy(&output.stderr);
        let runs = stat(&log, "stat::number_of_executed_units:").unwrap_or(0);
        if !output.status.success() {
            eprint!("{log}");
            let artifact = log
                .lines()
                .find_map(|l| l.split("Test unit written to ").nth(1))
                .unwrap_or("(see the output above)");
            bail!(
                "fuzz target {target} crashed after {runs} runs; input: {artifact}\n\
                 reproduce: cargo +nightly fuzz run --fuzz-dir fuzz {target} {artifact}"
            );
        }
        // libFuzzer's own clock: fuzzing time, without cargo's build check before it.
        let secs = fuzzed_seconds(&log).unwrap_or(seconds);
        lines.push(format!("fuzz: {target}: {secs} s, {runs} runs, 0 crashes"));
        eprintln!("{}", lines.last().map(String::as_str).unwrap_or_default());
    }
    for line in &lines {
        println!("{line}");
    }
    Ok(())
}

/// A libFuzzer `-print_final_stats` value.
fn stat(log: &str, key: &str) -> Option<u64> {
    log.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

/// The seconds of libFuzzer's closing `Done 123 runs in 60 second(s)` line.
fn fuzzed_seconds(log: &str) -> Option<u64> {
    log.lines()
        .filter_map(|l| l.split_once(" runs in ")?.1.split_whitespace().next())
        .find_map(|n| n.parse().ok())
}

/// `cargo +nightly fuzz ...` through the rustup proxy (the `cargo` running xtask is the
/// pinned stable one, which has no `+toolchain`), from the workspace root.
fn nightly_fuzz() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root())
        .args(["+nightly", "fuzz"])
        // What the stable cargo exported for us must not pin the nightly build to stable.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC");
    cmd
}

/// Installs cargo-fuzz from crates.io when `cargo +nightly fuzz` is not there.
fn ensure_cargo_fuzz() -> Result<()> {
    let present = nightly_fuzz()
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("fuzz: cargo-fuzz is missing; installing it (a few minutes, once)");
    sh(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
        .context("cannot install cargo-fuzz (is the nightly toolchain installed? 'rustup toolchain install nightly')")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_target_is_listed_and_seeded() {
        let manifest = include_str!("../../fuzz/Cargo.toml");
        let declared = manifest.matches("[[bin]]").count();
        assert_eq!(
            declared,
            super::TARGETS.len(),
            "fuzz/Cargo.toml and TARGETS differ"
        );
        for target in super::TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{target}\"")),
                "{target}"
            );
            let seeds = crate::util::root().join("fuzz/seeds").join(target);
            let count = std::fs::read_dir(&seeds).map(|d| d.count()).unwrap_or(0);
            assert!(count > 0, "no seeds in {}", seeds.display());
        }
    }

    #[test]
    fn reads_final_stats() {
        let log = "#1234 DONE\nstat::number_of_executed_units: 98765\nstat::peak_rss_mb: 80\n";
        assert_eq!(
            super::stat(log, "stat::number_of_executed_units:"),
            Some(98765)
        );
    }
}
