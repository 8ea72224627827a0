//! Debian packages the suite needs beside Rust, Java and Node: installed through `apt-get`
//! when running as root on Debian (as CI does on a clean machine), otherwise named with the
//! command that installs them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::run as sh;

/// Makes each `(program, package)` available: nothing to do when `program` is on `PATH`,
/// else `apt-get install package`. `why` says what needs them, for the messages.
pub fn ensure(tools: &[(&str, &str)], why: &str) -> Result<()> {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|(program, _)| which(program).is_none())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    install(&missing, why)
}

/// `program` on `PATH`, if there.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Installs Debian's `packages` when we are root on Debian; otherwise says what to do.
pub fn install(packages: &[&str], why: &str) -> Result<()> {
    let list = packages.join(" ");
    let debian = Path::new("/etc/debian_version").exists();
    if !(debian && is_root() && which("apt-get").is_some()) {
        bail!(
            "{why} need {list}, which cannot be installed here ({}); install it (Debian/Ubuntu: 'apt-get install {list}')",
            if debian {
                "not running as root"
            } else {
                "not a Debian system"
            }
        );
    }
    eprintln!("packages: installing Debian's {list} for {why} (apt-get)...");
    // A package's own service (nginx on 0.0.0.0:80, PostgreSQL's default cluster) must not
    // start: the suite starts its own, on loopback. policy-rc.d exit 101 is Debian's way to
    // say so to every maintainer script for the length of the install.
    let _no_services = NoServices::install();
    let install = || {
        sh(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    if install().is_err() {
        // A clean machine may have no package lists yet.
        eprintln!("packages: the install failed; updating the package lists and retrying");
        sh(Command::new("apt-get").arg("update"))?;
        install().with_context(|| format!("apt-get install {list} failed after apt-get update"))?;
    }
    Ok(())
}

/// `/usr/sbin/policy-rc.d` refusing every service start while it lives (only when none is
/// there already; an existing one is the machine's own and stays).
struct NoServices(Option<PathBuf>);

impl NoServices {
    fn install() -> NoServices {
        let path = PathBuf::from("/usr/sbin/policy-rc.d");
        if path.exists() {
            return NoServices(None);
        }
        let written = std::fs::write(
            &path,
            "#!/bin/sh\n# jwtgrant xtask: no service starts during its apt-get install\nexit 101\n",
        )
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        });
        NoServices(written.is_ok().then_some(path))
    }
}

impl Drop for NoServices {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Whether we run as root (the effective uid).
pub fn is_root() -> bool {
    // /proc/self/status has "Uid:\treal\teffective\t..."; the effective uid decides.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
