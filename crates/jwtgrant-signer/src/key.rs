//! The seam between [`Signer`](crate::Signer) and whatever holds the private key.
//!
//! A [`SigningKey`] knows its public key and signs a JWS signing input. The
//! signer builds everything else (header, claims, `kid`, JWK) on top, so a key
//! in process memory, in an HSM behind PKCS#11 or in a cloud KMS all give the
//! same tokens, JWKs and thumbprints.

use crate::backend::crypto;
use crate::keys::{KeyPair, LoadedKey};
use crate::{Algorithm, PublicKey, SignError};
use crypto::rand::SystemRandom;
use crypto::signature as sig;

/// A private key that can sign JWS signing input, wherever it lives.
///
/// Implement it for a key the process does not hold (a KMS, a remote signer)
/// and hand it to [`Signer::from_key`](crate::Signer::from_key); claims, `kid`
/// thumbprints, JWK/JWKS export and everything built on `Signer` then work
/// unchanged. The in-memory keys of [`Signer::from_pem`](crate::Signer::from_pem)
/// are one implementation; `pkcs11::Pkcs11Key` (feature `pkcs11`) is another.
///
/// The key is shared by every clone of the `Signer` and used from many
/// threads at once, hence `Send + Sync`. Implementations that do I/O do their
/// own; errors they return should be [`SignError::KeyBackend`] with the
/// backend's error as the source, and must not carry secrets.
pub trait SigningKey: Send + Sync + 'static {
    /// The public half of the key.
    fn public_key(&self) -> &PublicKey;

    /// The algorithm a `Signer` uses when not told otherwise.
    fn default_algorithm(&self) -> Algorithm {
        self.public_key().key_type().default_algorithm()
    }

    /// Checks that the key can sign with `algorithm`, before any signing.
    ///
    /// The default accepts every algorithm that fits the key type; a backend
    /// that lacks a mechanism (an HSM without RSA-PSS) says so here.
    fn check_algorithm(&self, algorithm: Algorithm) -> Result<(), SignError> {
        let key_type = self.public_key().key_type();
        if algorithm.fits(key_type) {
            Ok(())
        } else {
            Err(SignError::AlgorithmMismatch {
                algorithm,
                key_type,
            })
        }
    }

    /// Signs `message`, the ASCII JWS signing input `header.payload`, with `algorithm`.
    ///
    /// Returns the signature in JWS form (RFC 7518): for RSA the modulus-sized
    /// big-endian value, for ECDSA the fixed-size `r || s`, for Ed25519 the 64
    /// bytes. `algorithm` has passed [`SigningKey::check_algorithm`].
    fn sign(&self, algorithm: Algorithm, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// A key parsed from PEM or DER and held in memory by the crypto backend.
pub(crate) struct InMemoryKey {
    pair: KeyPair,
    public: PublicKey,
    rng: SystemRandom,
}

impl InMemoryKey {
    pub(crate) fn new(loaded: LoadedKey, rng: SystemRandom) -> InMemoryKey {
        InMemoryKey {
            pair: loaded.pair,
            public: loaded.public,
            rng,
        }
    }
}

impl SigningKey for InMemoryKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, algorithm: Algorithm, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let failed = |_| SignError::Crypto {
            operation: "signing",
        };
        match &self.pair {
            KeyPair::Rsa(pair) => {
                let padding: &'static dyn sig::RsaEncoding = match algorithm {
                    Algorithm::RS256 => &sig::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_SHA384,
                    _ => &sig::RSA_PSS_SHA512,
                };
                let modulus_len = self.public.rsa_bits().unwrap_or_default().div_ceil(8);
                let mut signature = vec![0; modulus_len];
                pair.sign(padding, &self.rng, message, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }
            KeyPair::Ecdsa(pair) => Ok(pair
                .sign(&self.rng, message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            KeyPair::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}
