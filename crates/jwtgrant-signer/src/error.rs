//! The crate's errors.
//!
//! Messages follow the house style: lowercase, no trailing period, the
//! offending value, then the likely fix in parentheses. They never contain key
//! material. Since the crate does no file I/O, messages do not name the input;
//! callers prefix it, and the result reads as one sentence:
//! `cannot load private key 'keys/private.pem': the private key is encrypted (...)`.

use std::error::Error as StdError;
use std::fmt;

use crate::{Algorithm, KeyType};

/// An underlying library error kept as a [`source`](StdError::source), never as a public type.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong loading keys, building claims, signing or generating keys.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignError {
    /// The key input is empty or only whitespace.
    EmptyKey,
    /// No PEM block in input given as PEM.
    NotPem {
        /// The input starts like DER (an ASN.1 SEQUENCE), so the caller probably meant DER.
        looks_like_der: bool,
    },
    /// A PEM block whose framing or base64 is broken.
    MalformedPem {
        /// The PEM parser's error.
        source: BoxError,
    },
    /// DER that does not decode as the expected key structure.
    MalformedKey {
        /// The structure that was expected, e.g. `PKCS#8` or `SubjectPublicKeyInfo`.
        format: &'static str,
        /// What was wrong, e.g. `unexpected end of data`.
        reason: &'static str,
    },
    /// An encrypted private key (`BEGIN ENCRYPTED PRIVATE KEY`, or a `Proc-Type: 4,ENCRYPTED` header).
    EncryptedKey,
    /// A public key or certificate where a private key is needed.
    NotAPrivateKey {
        /// What was found, e.g. `a public key` or `a certificate`.
        found: &'static str,
    },
    /// A private key where a public key is needed.
    NotAPublicKey,
    /// A PEM block of a type the crate does not read.
    UnknownPemLabel {
        /// The label, e.g. `OPENSSH PRIVATE KEY` for `-----BEGIN OPENSSH PRIVATE KEY-----`.
        label: String,
    },
    /// More than one private key in one input.
    MultipleKeys {
        /// How many private key blocks were found.
        count: usize,
    },
    /// A well-formed key of a type the crate cannot sign with (DSA, Ed448, X25519, RSA-PSS-only).
    UnsupportedKeyType {
        /// A readable name of the key type, e.g. `Ed448` or `DSA`.
        key_type: String,
    },
    /// An EC key on a curve other than P-256 or P-384.
    UnsupportedCurve {
        /// The curve's name, e.g. `P-521`, or its dotted OID when unknown.
        curve: String,
    },
    /// An RSA key with a modulus under 2048 bits.
    RsaKeyTooSmall {
        /// The modulus size in bits.
        bits: usize,
    },
    /// The crypto backend refused a key that parsed (inconsistent components, too large, ...).
    KeyRejected {
        /// The backend's error.
        source: BoxError,
    },
    /// The chosen algorithm needs another type of key.
    AlgorithmMismatch {
        /// The algorithm asked for.
        algorithm: Algorithm,
        /// The type of the key at hand.
        key_type: KeyType,
    },
    /// An algorithm name that is not one of [`Algorithm::ALL`].
    UnknownAlgorithm {
        /// The name as given.
        input: String,
    },
    /// A claim that Keycloak would reject or that would be silently overwritten.
    InvalidClaim {
        /// The claim's name, e.g. `iss`.
        claim: String,
        /// Why, with the fix.
        reason: String,
    },
    /// A JWK or JWKS document that cannot be used as a public key.
    InvalidJwk {
        /// What is wrong with it.
        reason: String,
    },
    /// A key size that key generation does not offer.
    InvalidKeySize {
        /// The algorithm the key was generated for.
        algorithm: Algorithm,
        /// The requested size.
        bits: usize,
    },
    /// A [`SigningKey`](crate::SigningKey) held outside the process (an HSM, a KMS)
    /// failed or refused; the source says why, in the backend's words.
    KeyBackend {
        /// The backend's error, e.g. a PKCS#11 `Pkcs11Error`.
        source: BoxError,
    },
    /// The crypto backend failed to sign or to generate a key.
    Crypto {
        /// What was being done, e.g. `signing` or `generating an EC P-256 key`.
        operation: &'static str,
    },
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::EmptyKey => f.write_str("the key input is empty (expected a PEM or DER private key)"),
            SignError::NotPem { looks_like_der: true } => f.write_str(
                "the input is DER, not PEM (load it as DER, or convert it with 'openssl pkey -inform DER -in key.der -out key.pem')",
            ),
            SignError::NotPem { looks_like_der: false } => f.write_str(
                "no PEM block found (expected a line like '-----BEGIN PRIVATE KEY-----'; is this the right file?)",
            ),
            SignError::MalformedPem { .. } => {
                f.write_str("malformed PEM (check that the file is complete and its base64 unchanged)")
            }
            SignError::MalformedKey { format, reason } => {
                write!(f, "malformed {format} key: {reason} (check that the file is complete and unchanged)")
            }
            SignError::EncryptedKey => f.write_str(
                "the private key is encrypted, which is not supported (decrypt it first: 'openssl pkey -in key.pem -out plain.pem')",
            ),
            SignError::NotAPrivateKey { found } => write!(
                f,
                "expected a private key but found {found} (use the private key; the public key is what Keycloak gets)"
            ),
            SignError::NotAPublicKey => f.write_str(
                "expected a public key but found a private key (extract the public key with 'openssl pkey -in key.pem -pubout')",
            ),
            SignError::UnknownPemLabel { label } if label == "OPENSSH PRIVATE KEY" => f.write_str(
                "OpenSSH private keys are not supported (convert a copy to PKCS#8 with 'ssh-keygen -p -m PKCS8 -f key')",
            ),
            SignError::UnknownPemLabel { label } => write!(
                f,
                "unsupported PEM block 'BEGIN {label}' (expected 'BEGIN PRIVATE KEY', 'BEGIN RSA PRIVATE KEY' or 'BEGIN EC PRIVATE KEY')"
            ),
            SignError::MultipleKeys { count } => {
                write!(f, "found {count} private keys in one input (keep exactly one key per file)")
            }
            SignError::UnsupportedKeyType { key_type } => write!(
                f,
                "unsupported key type {key_type} (use an RSA, EC P-256, EC P-384 or Ed25519 key)"
            ),
            SignError::UnsupportedCurve { curve } if curve == "P-521" => f.write_str(
                "unsupported elliptic curve P-521: ES512 is not supported by jwtgrant (use a P-256 or P-384 key, e.g. 'openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256')",
            ),
            SignError::UnsupportedCurve { curve } => write!(
                f,
                "unsupported elliptic curve {curve} (use a P-256 or P-384 key, e.g. 'openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256')"
            ),
            SignError::RsaKeyTooSmall { bits } => write!(
                f,
                "the RSA key has {bits} bits, at least 2048 are required (generate a new key, e.g. 'openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072')"
            ),
            SignError::KeyRejected { .. } => {
                f.write_str("the crypto backend rejected the key (is it corrupted, or are its parts inconsistent?)")
            }
            SignError::AlgorithmMismatch { algorithm, key_type } => {
                write!(f, "algorithm {algorithm} needs an {} key, but the key is {key_type} (choose ", algorithm.key_type())?;
                write_choices(f, key_type.algorithms())?;
                f.write_str(")")
            }
            SignError::UnknownAlgorithm { input } => {
                let upper = input.trim().to_ascii_uppercase();
                if upper == "NONE" || upper.starts_with("HS") {
                    write!(f, "algorithm '{input}' is not supported: Keycloak's JWT authorization grant needs an asymmetric signature (choose ")?;
                } else if upper == "ES512" {
                    write!(f, "algorithm '{input}' is not supported by jwtgrant (choose ")?;
                } else {
                    write!(f, "unknown algorithm '{input}' (choose ")?;
                }
                write_choices(f, Algorithm::ALL.into_iter())?;
                f.write_str(")")
            }
            SignError::InvalidClaim { claim, reason } => write!(f, "invalid claim '{claim}': {reason}"),
            SignError::InvalidJwk { reason } => write!(f, "invalid JWK: {reason}"),
            SignError::InvalidKeySize { algorithm, bits } if algorithm.is_rsa() => {
                write!(f, "unsupported RSA key size {bits} (choose 2048, 3072 or 4096)")
            }
            SignError::InvalidKeySize { algorithm, .. } => {
                write!(f, "a key size only applies to RSA keys, not to {algorithm} (leave it out)")
            }
            SignError::KeyBackend { .. } => f.write_str("the signing key's backend failed"),
            SignError::Crypto { operation } => write!(f, "the crypto backend failed while {operation}"),
        }
    }
}

fn write_choices(f: &mut fmt::Formatter<'_>, algs: impl Iterator<Item = Algorithm>) -> fmt::Result {
    let algs: Vec<Algorithm> = algs.collect();
    for (i, alg) in algs.iter().enumerate() {
        match i {
            0 => {}
            _ if i + 1 == algs.len() => f.write_str(" or ")?,
            _ => f.write_str(", ")?,
        }
        f.write_str(alg.as_str())?;
    }
    Ok(())
}

impl StdError for SignError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            SignError::MalformedPem { source }
            | SignError::KeyRejected { source }
            | SignError::KeyBackend { source } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// A crypto backend error, kept by its message so no backend type leaks.
#[derive(Debug)]
pub(crate) struct BackendError(pub(crate) String);

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for BackendError {}

/// Everything that can go wrong decoding or verifying a token.
#[derive(Debug)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a compact JWS with a JSON header and a JSON object payload.
    Malformed {
        /// What is wrong, e.g. `expected 3 dot-separated parts, found 2`.
        reason: String,
        /// The base64 or JSON error behind it, if any.
        source: Option<BoxError>,
    },
    /// The header's `alg` is missing, `none`, symmetric or unknown.
    UnsupportedAlgorithm {
        /// The `alg` value as found (empty when missing).
        alg: String,
    },
    /// The header's `alg` does not fit the verification key.
    AlgorithmMismatch {
        /// The token's algorithm.
        algorithm: Algorithm,
        /// The type of the verification key.
        key_type: KeyType,
    },
    /// No key in a JWKS fits the token.
    KeyNotFound {
        /// The token's `kid`, if it has one.
        kid: Option<String>,
        /// The token's algorithm.
        algorithm: Algorithm,
    },
    /// The signature does not verify with the key.
    InvalidSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Malformed { reason, .. } => write!(f, "malformed token: {reason}"),
            VerifyError::UnsupportedAlgorithm { alg } if alg.is_empty() => f.write_str(
                "the token header has no 'alg' (expected an asymmetric algorithm such as RS256)",
            ),
            VerifyError::UnsupportedAlgorithm { alg } => write!(
                f,
                "the token's algorithm '{alg}' is not accepted (only RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 and EdDSA are)"
            ),
            VerifyError::AlgorithmMismatch {
                algorithm,
                key_type,
            } => write!(
                f,
                "the token's algorithm {algorithm} needs an {} key, but the verification key is {key_type}",
                algorithm.key_type()
            ),
            VerifyError::KeyNotFound {
                kid: Some(kid),
                algorithm,
            } => {
                write!(
                    f,
                    "no {} key with kid '{kid}' in the JWKS (is the JWKS current?)",
                    algorithm.key_type()
                )
            }
            VerifyError::KeyNotFound {
                kid: None,
                algorithm,
            } => {
                write!(
                    f,
                    "no {} key in the JWKS for algorithm {algorithm}",
                    algorithm.key_type()
                )
            }
            VerifyError::InvalidSignature => {
                f.write_str("the signature does not verify (wrong key, or the token was changed)")
            }
        }
    }
}

impl StdError for VerifyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            VerifyError::Malformed {
                source: Some(source),
                ..
            } => Some(source.as_ref()),
            _ => None,
        }
    }
}
