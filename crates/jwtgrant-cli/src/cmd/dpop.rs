//! `dpop proof`: a fresh DPoP proof (RFC 9449) for one resource call with a DPoP-bound
//! token. The key for token requests (`--dpop-key`) is part of the token client's settings.

use anyhow::Result;

use crate::files;
use crate::settings::dpop::ProofSettings;

/// `jwtgrant dpop proof`: one fresh proof on stdout.
pub fn proof(s: &ProofSettings) -> Result<()> {
    if let Some(nonce) = &s.nonce {
        s.dpop.set_nonce_for(&s.url, nonce.clone());
    }
    let proof = match &s.access_token {
        Some(t) => s.dpop.resource_proof(&s.method, &s.url, t.secret())?,
        None => s.dpop.proof(&s.method, &s.url)?,
    };
    files::println(proof.secret())
}
