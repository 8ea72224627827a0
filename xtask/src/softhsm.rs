//! SoftHSM2, the software PKCS#11 token the HSM tests run against.
//!
//! `setup` finds the module (or installs Debian's `softhsm2` when running as root on
//! Debian, as CI does on a clean machine), then makes a fresh token in its own directory
//! under `target/softhsm/` with its own `SOFTHSM2_CONF`, so no test touches a token of the
//! machine's. `cargo xtask softhsm` does the same and prints the environment for running
//! the HSM tests by hand.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::root;

/// The token's label and PINs: test values, on a token that lives for one run.
pub const TOKEN: &str = "jwtgrant-test";
const PIN: &str = "1234";
const SO_PIN: &str = "5678";

/// Where Debian, Ubuntu, Fedora and a source install put the module.
const MODULE_PATHS: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/lib/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// A token ready for the tests.
#[derive(Debug)]
pub struct SoftHsm {
    pub module: PathBuf,
    pub conf: PathBuf,
    pub dir: PathBuf,
}

impl SoftHsm {
    /// The environment the HSM tests read (they fail, never skip, without it).
    pub fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("SOFTHSM2_CONF", &self.conf)
            .env("JWTGRANT_TEST_PKCS11_MODULE", &self.module)
            .env("JWTGRANT_TEST_PKCS11_TOKEN", TOKEN)
            .env("JWTGRANT_TEST_PKCS11_PIN", PIN)
            .env("JWTGRANT_TEST_PKCS11_PIN_FILE", self.dir.join("pin"))
    }
}

pub fn run(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("unexpected argument '{arg}' (usage: cargo xtask softhsm)");
    }
    let hsm = setup()?;
    // The PIN is a throwaway test value; it is printed so the tests can be run by hand.
    println!("export SOFTHSM2_CONF={}", hsm.conf.display());
    println!(
        "export JWTGRANT_TEST_PKCS11_MODULE={}",
        hsm.module.display()
    );
    println!("export JWTGRANT_TEST_PKCS11_TOKEN={TOKEN}");
    println!("export JWTGRANT_TEST_PKCS11_PIN={PIN}");
    println!(
        "export JWTGRANT_TEST_PKCS11_PIN_FILE={}",
        hsm.dir.join("pin").display()
    );
    Ok(())
}

/// Finds or installs SoftHSM2 and initializes a fresh token for this run.
pub fn setup() -> Result<SoftHsm> {
    let module = match find_module() {
        Some(m) => m,
        None => {
            install()?;
            find_module().context(
                "softhsm2 is installed but its module libsofthsm2.so is in none of the known places (set JWTGRANT_SOFTHSM_MODULE to its path)",
            )?
        }
    };
    let util = crate::packages::which("softhsm2-util").context(
        "softhsm2-util is not on PATH (install the softhsm2 package, which brings the module and the tool)",
    )?;
    let dir = root()
        .join("target/softhsm")
        .join(format!("run-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens)
        .with_context(|| format!("cannot create {}", tokens.display()))?;
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )?;
    // Only its owner can read it, as the CLI demands of PIN files.
    crate::keygen::write_private(&dir.join("pin"), format!("{PIN}\n").as_bytes())?;
    eprintln!(
        "softhsm: initializing token '{TOKEN}' in {} (module {})",
        dir.display(),
        module.display()
    );
    // Not through `util::run`, which echoes the command line: PINs are never printed.
    let out = Command::new(&util)
        .env("SOFTHSM2_CONF", &conf)
        .args(["--init-token", "--free", "--label", TOKEN])
        .args(["--pin", PIN, "--so-pin", SO_PIN])
        .output()
        .with_context(|| format!("cannot run {}", util.display()))?;
    if !out.status.success() {
        bail!(
            "softhsm2-util --init-token failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(SoftHsm { module, conf, dir })
}

/// Removes the run's token directory.
pub fn cleanup(hsm: &SoftHsm) {
    let _ = std::fs::remove_dir_all(&hsm.dir);
}

fn find_module() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("JWTGRANT_SOFTHSM_MODULE") {
        return Some(PathBuf::from(path));
    }
    MODULE_PATHS.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// Installs Debian's `softhsm2` when we are root on Debian; otherwise says what to do.
fn install() -> Result<()> {
    crate::packages::install(&["softhsm2"], "the HSM tests").context(
        "SoftHSM2 is missing (Fedora: 'dnf install softhsm'), or set JWTGRANT_SOFTHSM_MODULE to libsofthsm2.so",
    )
}
