//! Key files (and `pkcs11:` key URIs) turned into signers and public keys, with the
//! permission checks every private key gets. Below `cmd/` and `settings`: both load keys
//! through here.

use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use jwtgrant_signer::{Algorithm, PublicKey, Signer};

use crate::globals::Globals;
use crate::parse::Alg;
use crate::{files, hsm};

/// The signer's algorithm type for a validated name.
pub fn algorithm(alg: &Alg) -> Result<Algorithm> {
    alg.0
        .parse::<Algorithm>()
        .map_err(|e| anyhow!("unsupported algorithm '{alg}': {e}"))
}

/// Load a private key file as a signer, with algorithm and kid applied.
pub fn signer(
    path: &Path,
    g: &Globals,
    alg: Option<&Alg>,
    kid: Option<&str>,
    kid_thumbprint: bool,
) -> Result<Signer> {
    let mut signer = match hsm::uri(path) {
        Some(uri) => hsm::signer(uri, g)?,
        None => file_signer(path, g)?,
    };
    if let Some(alg) = alg {
        signer = signer.with_algorithm(algorithm(alg)?).with_context(|| {
            format!(
                "cannot use private key '{}' with --alg {alg}",
                path.display()
            )
        })?;
    }
    if let Some(kid) = kid {
        signer = signer.with_kid(kid);
    } else if kid_thumbprint {
        signer = signer.with_kid_thumbprint();
    }
    Ok(signer)
}

fn file_signer(path: &Path, g: &Globals) -> Result<Signer> {
    let what = "private key";
    // Parse before the permission check: a public key or certificate passed by mistake
    // (usually mode 0644) is better reported as what it is than as a chmod problem. The
    // check is on the file as opened for reading, not on the path again.
    let file = files::PrivateFile::open(path, what)?;
    let ctx = || format!("cannot read {what} '{}'", path.display());
    let signer = Signer::from_key_bytes(file.bytes()).with_context(ctx)?;
    file.check(path, what, g.allow_insecure_key_permissions)?;
    Ok(signer)
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    contains(bytes, b"-----BEGIN ")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A public key from a file holding either a public key (SPKI PEM/DER) or a private key
/// (whose public part is taken; the private file must pass the permission check).
pub fn public_key(path: &Path, g: &Globals) -> Result<PublicKey> {
    if let Some(uri) = hsm::uri(path) {
        return Ok(hsm::signer(uri, g)?.public_key());
    }
    // Opened as a private file (wiped when dropped), checked only if it turns out to be one.
    let file = files::PrivateFile::open(path, "key")?;
    let bytes = file.bytes();
    if contains(bytes, b"PUBLIC KEY-----") {
        return PublicKey::from_pem(bytes)
            .with_context(|| format!("cannot read public key '{}'", path.display()));
    }
    if !looks_like_pem(bytes)
        && let Ok(k) = PublicKey::from_der(bytes)
    {
        return Ok(k);
    }
    // Parse before the permission check, as `signer` does: a file that is no key at all
    // is reported as what it is, not as a chmod problem.
    let signer = Signer::from_key_bytes(bytes)
        .with_context(|| format!("cannot read key '{}'", path.display()))?;
    file.check(path, "private key", g.allow_insecure_key_permissions)?;
    Ok(signer.public_key())
}
