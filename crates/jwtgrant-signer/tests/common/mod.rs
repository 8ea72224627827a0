//! Shared test helpers: fixture loading.

#![allow(dead_code, reason = "each test crate uses a different subset")]

use jwtgrant_signer::{SignError, Signer};

/// The bytes of `tests/fixtures/{name}`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("cannot read fixture {path}: {err}"))
}

/// Loads a fixture key the way its extension says: DER for `.der`, PEM otherwise.
pub fn load(name: &str) -> Result<Signer, SignError> {
    let bytes = fixture(name);
    if name.ends_with(".der") {
        Signer::from_der(&bytes)
    } else {
        Signer::from_pem(&bytes)
    }
}
