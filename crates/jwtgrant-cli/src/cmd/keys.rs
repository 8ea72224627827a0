//! `keygen`, `pubkey`, `jwks` and the key loading the other commands share.

use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use jwtgrant_signer::{Algorithm, Jwks, PublicKey, Signer};

use super::{Globals, hsm};
use crate::cli::{JwksKeys, KeygenArgs, PubkeyArgs};
use crate::error::usage;
use crate::files;
use crate::parse::Alg;

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

pub fn keygen(args: &KeygenArgs, g: &Globals) -> Result<()> {
    let alg = algorithm(&args.alg)?;
    if let Some(uri) = &args.pkcs11 {
        let pem = hsm::keygen(uri, alg, args.bits, g)?;
        return files::stdout(&pem);
    }
    let dir = &args.out_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory '{}'", dir.display()))?;
    let private = dir.join("private.pem");
    let public = dir.join("public.pem");
    if !args.force {
        for f in [&private, &public] {
            if f.exists() {
                anyhow::bail!(
                    "'{}' already exists (pass --force to replace it)",
                    f.display()
                );
            }
        }
    }
    let bits = match (alg.is_rsa(), args.bits) {
        (true, bits) => Some(bits.unwrap_or(2048)),
        (false, None) => None,
        (false, Some(b)) => {
            return Err(crate::error::Usage(format!(
                "--bits {b} applies to RSA keys only; {alg} keys have a fixed size (drop --bits, or choose --alg RS256 or PS256)"
            ))
            .into());
        }
    };
    // A `PrivateKeyPem`: wiped when dropped.
    let pem = jwtgrant_signer::generate_private_key_pem(alg, bits.map(|b| b as usize))
        .with_context(|| format!("cannot generate a {alg} key"))?;
    let public_pem = Signer::from_pem(pem.as_bytes())
        .context("cannot read back the generated key")?
        .public_key_pem();
    // The check above is for a friendly early error; the writes themselves refuse to replace
    // a file (O_EXCL) unless --force, so one created meanwhile is never clobbered.
    files::write_private(&private, pem.as_bytes(), args.force)?;
    if let Err(e) = files::write_public(&public, public_pem.as_bytes(), args.force) {
        if !args.force {
            // Half a pair is worse than none: the private key was created by this call.
            let _ = std::fs::remove_file(&private);
        }
        return Err(e);
    }
    let size = bits.map(|b| format!(" {b}-bit")).unwrap_or_default();
    eprintln!(
        "jwtgrant: wrote {} ({alg}{size}, PKCS#8, mode 0600) and {} (SPKI)",
        private.display(),
        public.display()
    );
    Ok(())
}

pub fn pubkey(args: &PubkeyArgs, g: &Globals) -> Result<()> {
    let key = public_key(&args.key, g)?;
    files::stdout(&key.to_pem())
}

/// The JWKS document for key files; `kids[i]` names key `i`, else its thumbprint.
pub fn jwks_document(keys: &JwksKeys, g: &Globals) -> Result<String> {
    if keys.keys.is_empty() {
        return Err(usage("no keys: pass --key FILE (repeatable)"));
    }
    if keys.kids.len() > keys.keys.len() {
        return Err(usage(format!(
            "{} --kid values for {} --key files",
            keys.kids.len(),
            keys.keys.len()
        )));
    }
    let mut entries = Vec::new();
    for (i, path) in keys.keys.iter().enumerate() {
        let key = public_key(path, g)?;
        let kid = keys
            .kids
            .get(i)
            .cloned()
            .unwrap_or_else(|| key.thumbprint());
        entries.push((Some(kid), None, key));
    }
    let doc = Jwks::from_keys(entries).to_value();
    Ok(serde_json::to_string_pretty(&doc)?)
}

pub fn jwks(keys: &JwksKeys, g: &Globals) -> Result<()> {
    files::println(&jwks_document(keys, g)?)
}
