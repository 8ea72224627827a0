//! `cargo xtask keygen [--alg ALG] [--bits N] [--out-dir DIR] [--force]`: test keys without
//! an `openssl` binary. Writes `private.pem` (PKCS#8, mode 0600) and `public.pem` (SPKI).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use jwtgrant_signer::{Algorithm, Signer, generate_private_key_pem};

use crate::util::root;

pub fn run(args: &[String]) -> Result<()> {
    let mut alg = Algorithm::RS256;
    let mut bits = None;
    let mut out_dir = root().join("target/keys");
    let mut force = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{arg} needs a value"))
                .cloned()
        };
        match arg.as_str() {
            "--alg" => alg = value()?.parse()?,
            "--bits" => {
                let v = value()?;
                bits = Some(
                    v.parse()
                        .with_context(|| format!("--bits '{v}' is not a number"))?,
                );
            }
            "--out-dir" => out_dir = PathBuf::from(value()?),
            "--force" => force = true,
            other => bail!(
                "unknown argument '{other}' (usage: cargo xtask keygen [--alg ALG] [--bits N] \
                 [--out-dir DIR] [--force])"
            ),
        }
    }
    let (private, public) = write_keys(&out_dir, alg, bits, force)?;
    println!("{}", private.display());
    println!("{}", public.display());
    Ok(())
}

/// Generates a key for `alg` into `dir`; returns the private and public key paths.
/// Refuses to overwrite existing files unless `force`.
pub fn write_keys(
    dir: &Path,
    alg: Algorithm,
    bits: Option<usize>,
    force: bool,
) -> Result<(PathBuf, PathBuf)> {
    let private = dir.join("private.pem");
    let public = dir.join("public.pem");
    for path in [&private, &public] {
        if path.exists() && !force {
            bail!("{} exists (pass --force to replace it)", path.display());
        }
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let pem = generate_private_key_pem(alg, bits)?;
    let signer = Signer::from_pem(pem.as_bytes())?;
    write_private(&private, pem.as_bytes())?;
    fs::write(&public, signer.public_key_pem())
        .with_context(|| format!("cannot write {}", public.display()))?;
    Ok((private, public))
}

/// Writes a secret (a private key, a client secret) to a file created with mode 0600, so it
/// is never readable by others, not even for a moment; replaces an existing file.
pub fn write_private(path: &Path, pem: &[u8]) -> Result<()> {
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(pem)
        .with_context(|| format!("cannot write {}", path.display()))
}
