//! The crypto backend, chosen at compile time.
//!
//! Everything else in the crate names `crypto::...` so ring and aws-lc-rs share
//! one code path. aws-lc-rs mirrors ring's API closely; the few places where the
//! two differ (ECDSA key parsing takes an RNG in ring only) get a shim here.

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!(
    "jwtgrant-signer needs a crypto backend: enable the `ring` or the `aws-lc-rs` feature"
);

#[cfg(feature = "aws-lc-rs")]
pub(crate) use aws_lc_rs as crypto;
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
pub(crate) use ring as crypto;

use crypto::error::KeyRejected;
use crypto::rand::SystemRandom;
use crypto::signature::{EcdsaKeyPair, EcdsaSigningAlgorithm};

/// The backend's name, for diagnostics and benchmarks.
pub(crate) const NAME: &str = if cfg!(feature = "aws-lc-rs") {
    "aws-lc-rs"
} else {
    "ring"
};

/// Parses a PKCS#8 ECDSA key; ring wants an RNG for its blinding, aws-lc-rs does not.
#[cfg(feature = "aws-lc-rs")]
pub(crate) fn ecdsa_from_pkcs8(
    alg: &'static EcdsaSigningAlgorithm,
    pkcs8: &[u8],
    _rng: &SystemRandom,
) -> Result<EcdsaKeyPair, KeyRejected> {
    EcdsaKeyPair::from_pkcs8(alg, pkcs8)
}

/// Parses a PKCS#8 ECDSA key; ring wants an RNG for its blinding, aws-lc-rs does not.
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
pub(crate) fn ecdsa_from_pkcs8(
    alg: &'static EcdsaSigningAlgorithm,
    pkcs8: &[u8],
    rng: &SystemRandom,
) -> Result<EcdsaKeyPair, KeyRejected> {
    EcdsaKeyPair::from_pkcs8(alg, pkcs8, rng)
}
