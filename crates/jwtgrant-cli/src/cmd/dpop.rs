//! DPoP (RFC 9449): the key for token requests (`--dpop-key`), and `dpop proof` for the
//! resource calls a bound token needs.

use anyhow::{Context as _, Result};
use jwtgrant_exchange::{Dpop, Exchange};

use super::Globals;
use crate::cli::{DpopArgs, DpopProofArgs};
use crate::error::usage;
use crate::files;

/// The environment variable `dpop proof` reads the access token from.
const ACCESS_TOKEN_ENV: &str = "JWTGRANT_ACCESS_TOKEN";

/// The DPoP key of `--dpop-key`, if given (permissions checked like every private key).
pub fn dpop(args: &DpopArgs, g: &Globals) -> Result<Option<Dpop>> {
    let Some(path) = &args.dpop_key else {
        return Ok(None);
    };
    let signer = super::keys::signer(path, g, args.dpop_alg.as_ref(), None, false)
        .with_context(|| format!("cannot use DPoP key '{}'", path.display()))?;
    log::info!(
        "DPoP with {} key {} (thumbprint {})",
        signer.algorithm(),
        path.display(),
        signer.thumbprint()
    );
    Ok(Some(Dpop::new(signer)))
}

/// `ex` sending a DPoP proof with every token request when `--dpop-key` is given.
pub fn with_dpop(ex: Exchange, args: &DpopArgs, g: &Globals) -> Result<Exchange> {
    Ok(match dpop(args, g)? {
        Some(d) => ex.dpop_with(d),
        None => ex,
    })
}

/// `jwtgrant dpop proof`: one fresh proof on stdout.
pub fn proof(args: &DpopProofArgs, g: &Globals) -> Result<()> {
    if args.access_token.is_some() {
        return Err(usage(format!(
            "--access-token is not accepted: a token in argv is visible to every user through ps; use --access-token-file FILE, --access-token-stdin or {ACCESS_TOKEN_ENV}"
        )));
    }
    let token = match (&args.access_token_file, args.access_token_stdin) {
        (Some(_), true) => {
            return Err(usage(
                "give the access token once: --access-token-file or --access-token-stdin",
            ));
        }
        (Some(path), false) => Some(files::read_secret_file(
            path,
            "access token file",
            g.allow_insecure_key_permissions,
        )?),
        (None, true) => Some(files::read_stdin_line("access token")?),
        (None, false) => g.var(ACCESS_TOKEN_ENV).map(|t| t.trim().to_owned()),
    };
    if token.as_deref() == Some("") {
        return Err(usage(
            "the access token is empty (give the token the request carries, or none for a token request)",
        ));
    }
    let signer = super::keys::signer(&args.key, g, args.alg.as_ref(), None, false)
        .with_context(|| format!("cannot use DPoP key '{}'", args.key.display()))?;
    let dpop = Dpop::new(signer);
    if let Some(nonce) = &args.nonce {
        dpop.set_nonce(nonce.clone());
    }
    let proof = match &token {
        Some(t) => dpop.resource_proof(&args.method, &args.url, t)?,
        None => dpop.proof(&args.method, &args.url)?,
    };
    files::println(proof.secret())
}
