//! `keygen`, `pubkey`, `jwks` and the key loading the other commands share.

use anyhow::{Context as _, Result};
use jwtgrant_signer::{Jwks, Signer};

use super::Globals;
use crate::cli::{JwksKeys, KeygenArgs, PubkeyArgs};
use crate::error::usage;
use crate::keyfile::algorithm;
/// Re-exported for the commands that take a public key (`inspect`).
pub use crate::keyfile::public_key;
use crate::{files, hsm};

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
