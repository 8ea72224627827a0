//! Key generation, so `jwtgrant keygen` and `cargo xtask keygen` need no openssl binary.
//!
//! EC and Ed25519 keys come from the crypto backend. RSA keys come from the
//! pure-Rust `rsa` crate (RustCrypto): ring cannot generate RSA keys at all,
//! and using aws-lc-rs's generator would tie key generation to one backend.
//! The `rsa` crate is only used to *generate*; signing always goes through the
//! backend. Its randomness is the backend's `SystemRandom`, the same source signing uses.

use std::fmt;

use zeroize::Zeroizing;

use crate::backend::crypto;
use crate::{Algorithm, SignError};
use crypto::rand::{SecureRandom, SystemRandom};
use crypto::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair};

/// The RSA key sizes [`generate_private_key_pem`] offers, in bits.
pub const RSA_KEY_SIZES: [usize; 3] = [2048, 3072, 4096];

/// The RSA key size used when none is given: 2048 bits, the size Keycloak generates by default.
pub const DEFAULT_RSA_BITS: usize = 2048;

/// A private key as PKCS#8 PEM (`BEGIN PRIVATE KEY`, LF line endings).
///
/// The text is zeroed when dropped and never shown by `Debug`.
pub struct PrivateKeyPem(Zeroizing<String>);

impl PrivateKeyPem {
    /// The PEM text, to write to a file with owner-only permissions.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The PEM text as bytes, e.g. for [`crate::Signer::from_pem`].
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyPem([redacted])")
    }
}

/// Generates a new private key for `algorithm` as PKCS#8 PEM.
///
/// RSA algorithms (RS*, PS*) take `rsa_bits` from [`RSA_KEY_SIZES`], default
/// [`DEFAULT_RSA_BITS`]; the others take no size (passing one is an error, to
/// catch a mistyped command line). RSA generation takes a moment: about a
/// second for 2048 bits in an optimized build, much longer for 4096 bits or in a debug build.
pub fn generate_private_key_pem(
    algorithm: Algorithm,
    rsa_bits: Option<usize>,
) -> Result<PrivateKeyPem, SignError> {
    let rng = SystemRandom::new();
    if algorithm.is_rsa() {
        let bits = rsa_bits.unwrap_or(DEFAULT_RSA_BITS);
        if !RSA_KEY_SIZES.contains(&bits) {
            return Err(SignError::InvalidKeySize { algorithm, bits });
        }
        return generate_rsa(&rng, bits);
    }
    if let Some(bits) = rsa_bits {
        return Err(SignError::InvalidKeySize { algorithm, bits });
    }
    let failed = |_| SignError::Crypto {
        operation: "generating a key",
    };
    let document = match algorithm {
        Algorithm::ES256 => {
            EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(failed)?
        }
        Algorithm::ES384 => {
            EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
                .map_err(failed)?
        }
        _ => Ed25519KeyPair::generate_pkcs8(&rng).map_err(failed)?,
    };
    let block = pem::Pem::new("PRIVATE KEY", document.as_ref());
    let text = pem::encode_config(
        &block,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    );
    Ok(PrivateKeyPem(Zeroizing::new(text)))
}

fn generate_rsa(rng: &SystemRandom, bits: usize) -> Result<PrivateKeyPem, SignError> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let failed = SignError::Crypto {
        operation: "generating an RSA key",
    };
    let key = rsa::PrivateKey::new(&mut BackendRng(rng), bits).map_err(|_| failed)?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| SignError::Crypto {
            operation: "encoding an RSA key",
        })?;
    Ok(PrivateKeyPem(Zeroizing::new(pem.as_str().to_owned())))
}

/// The backend's system RNG in the `rand_core` shape the `rsa` crate wants.
struct BackendRng<'a>(&'a SystemRandom);

#[derive(Debug)]
struct RngFailure;

impl fmt::Display for RngFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the system random number generator failed")
    }
}

impl std::error::Error for RngFailure {}

impl rsa::rand_core::TryRng for BackendRng<'_> {
    type Error = RngFailure;

    fn try_next_u32(&mut self) -> Result<u32, RngFailure> {
        let mut bytes = [0; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, RngFailure> {
        let mut bytes = [0; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngFailure> {
        self.0.fill(dst).map_err(|_| RngFailure)
    }
}

impl rsa::rand_core::TryCryptoRng for BackendRng<'_> {}
