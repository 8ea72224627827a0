//! Builds and signs JWT assertions for Keycloak's JWT Authorization Grant (RFC 7523).
//!
//! The crate is pure: no sockets, no environment, no printing, no file I/O.
//! Callers read key files and name them in their error messages.
//!
//! ```
//! use std::time::Duration;
//! use jwtgrant_signer::{Claims, Signer, verify};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A test key; real keys come from a file or `generate_private_key_pem`.
//! let pem = include_str!("../tests/fixtures/es256-pkcs8.pem");
//! let signer = Signer::from_pem(pem.as_bytes())?.with_kid_thumbprint();
//!
//! let claims = Claims::new(
//!     "https://issuer.example.com",                                // iss: the identity provider's issuer
//!     "user-42",                                                   // sub: the linked user id
//!     "https://keycloak.example.com/realms/demo",                 // aud: the realm URL
//! )
//! .lifetime(Duration::from_secs(60))
//! .claim("tenant", "acme");
//! let assertion = signer.sign(&claims)?; // fresh iat and jti on every call
//!
//! // Keycloak gets the public key (PEM or JWKS); anyone can check the signature.
//! let verified = verify(&assertion, &signer.public_key())?;
//! assert_eq!(verified.claims()["sub"], "user-42");
//! assert_eq!(verified.kid(), Some(signer.thumbprint().as_str()));
//! # Ok(())
//! # }
//! ```
//!
//! # Keys
//! [`Signer::from_pem`] and [`Signer::from_der`] read PKCS#8 (RSA, EC P-256,
//! EC P-384, Ed25519), PKCS#1 RSA and SEC1 EC keys. The key type picks the
//! default algorithm (RSA: RS256, P-256: ES256, P-384: ES384, Ed25519: EdDSA);
//! [`Signer::with_algorithm`] picks another that fits the key. Bad input gets
//! a [`SignError`] that says what is wrong and how to fix it; the messages do
//! not name the input, so callers prefix them:
//! `cannot load private key 'keys/private.pem': {err}`.
//!
//! # Backends
//! Crypto comes from ring (feature `ring`, the default) or aws-lc-rs (feature
//! `aws-lc-rs`, which wins when both are on). Both produce the same tokens and
//! pass the same tests; [`backend`] says which one is compiled in.
//! The default-on feature `keygen` adds [`generate_private_key_pem`].
//!
//! # Verification
//! [`verify`] and [`verify_with_jwks`] check the structure, the algorithm and
//! the signature, and nothing else: they do not look at `exp`, `nbf`, `iat`,
//! `iss` or `aud`. [`decode_unverified`] only decodes.

#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::print_stdout,
        clippy::print_stderr
    )
)]

mod algorithm;
mod backend;
mod claims;
mod der;
mod error;
mod key;
#[cfg(feature = "keygen")]
mod keygen;
mod keys;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
mod public;
mod signer;
mod verify;

pub use algorithm::{Algorithm, KeyType};
pub use claims::{Claims, DEFAULT_LIFETIME, ID_JAG_TYPE, JWT_TYPE, REGISTERED_CLAIMS};
pub use error::{BoxError, SignError, VerifyError};
pub use key::SigningKey;
#[cfg(feature = "keygen")]
pub use keygen::{DEFAULT_RSA_BITS, PrivateKeyPem, RSA_KEY_SIZES, generate_private_key_pem};
pub use public::{Jwks, JwksKey, PublicKey, sha256_base64url};
pub use signer::Signer;
pub use verify::{DecodedToken, VerifiedToken, decode_unverified, verify, verify_with_jwks};

/// The crypto backend compiled in: `"ring"` or `"aws-lc-rs"`.
pub fn backend() -> &'static str {
    backend::NAME
}

// Public types are shared across threads by the CLI and the exchange crate.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Signer>();
    assert_send_sync::<PublicKey>();
    assert_send_sync::<Jwks>();
    assert_send_sync::<Claims>();
    assert_send_sync::<SignError>();
    assert_send_sync::<VerifyError>();
    assert_send_sync::<VerifiedToken>();
    assert_send_sync::<DecodedToken>();
};

#[cfg(test)]
mod tests {
    #[test]
    fn backend_matches_features() {
        let expected = if cfg!(feature = "aws-lc-rs") {
            "aws-lc-rs"
        } else {
            "ring"
        };
        assert_eq!(super::backend(), expected);
    }
}
