//! One module per command. Each takes its parsed arguments and returns `anyhow::Result`.

use anyhow::{Result, anyhow};
use serde_json::Value;

use crate::cli::{Cli, Command, DpopCmd, JwksSub, KeycloakCmd};

mod completions;
pub mod dpop;
pub mod exchange;
mod hsm;
mod inspect;
mod keycloak;
mod keys;
mod serve;
pub mod sign;

/// The global flags, re-exported for the command modules.
pub use crate::globals::Globals;

pub fn run(cli: Cli) -> Result<()> {
    let g = &Globals::from_cli(&cli);
    match &cli.command {
        Command::Keygen(a) => keys::keygen(a, g),
        Command::Sign(a) => sign::run(a, g),
        Command::Exchange(a) => exchange::run_exchange(a, g),
        Command::Token(a) => exchange::run_token(a, g),
        Command::Pubkey(a) => keys::pubkey(a, g),
        Command::Jwks(a) => match &a.serve {
            None => keys::jwks(&a.keys, g),
            Some(JwksSub::Serve(s)) => serve::run(s, g),
        },
        Command::Inspect(a) => inspect::run(a, g),
        Command::Keycloak(KeycloakCmd::Setup(a)) => keycloak::setup(a, g),
        Command::Keycloak(KeycloakCmd::Doctor(a)) => keycloak::doctor(a, g),
        Command::Dpop(DpopCmd::Proof(a)) => dpop::proof(a, g),
        Command::Completions(a) => completions::run(a),
    }
}

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
