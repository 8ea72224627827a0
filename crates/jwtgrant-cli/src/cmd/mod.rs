//! One module per command. Each takes its resolved settings (`crate::settings`) and returns
//! `anyhow::Result`; `main.rs` dispatches. This module imports none of its children: they
//! share what is here (the JWT decoder, `Globals`), not the other way round.

use anyhow::{Result, anyhow};
use serde_json::Value;

pub mod agent;
pub mod completions;
pub mod config;
pub mod dpop;
pub mod exchange;
pub mod inspect;
pub mod keycloak;
pub mod keys;
pub mod serve;
pub mod sign;

/// The global flags, re-exported for the command modules.
pub use crate::globals::Globals;

/// (header, claims) of a compact JWS, without verifying it (the signer's decoder).
pub fn decode(token: &str) -> Result<(Value, Value)> {
    match jwtgrant_signer::decode_unverified(token) {
        Ok(d) => Ok((d.header().clone(), d.claims().clone())),
        Err(jwtgrant_signer::VerifyError::Malformed { reason, .. }) => {
            Err(anyhow!("not a JWT: {reason}"))
        }
        Err(e) => Err(anyhow!("not a JWT: {e}")),
    }
}
