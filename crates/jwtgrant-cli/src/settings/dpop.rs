//! `dpop proof`: the key, the request the proof is for, and the access token it covers.

use anyhow::{Context as _, Result};
use jwtgrant_exchange::Dpop;

use super::secrets::{self, Secret};
use crate::cli::DpopProofArgs;
use crate::globals::Globals;
use crate::keyfile;

/// What `jwtgrant dpop proof` runs with.
#[derive(Debug)]
pub struct ProofSettings {
    pub dpop: Dpop,
    /// The request's HTTP method (`htm`).
    pub method: String,
    /// The request's URL (`htu`).
    pub url: String,
    /// The access token the request carries (`ath`), if any.
    pub access_token: Option<Secret>,
    /// `DPoP-Nonce` from the server.
    pub nonce: Option<String>,
}

pub fn proof(args: &DpopProofArgs, g: &Globals) -> Result<ProofSettings> {
    let access_token = secrets::access_token(args, g)?;
    let signer = keyfile::signer(&args.key, g, args.alg.as_ref(), None, false)
        .with_context(|| format!("cannot use DPoP key '{}'", args.key.display()))?;
    Ok(ProofSettings {
        dpop: Dpop::new(signer),
        method: args.method.clone(),
        url: args.url.clone(),
        access_token,
        nonce: args.nonce.clone(),
    })
}
