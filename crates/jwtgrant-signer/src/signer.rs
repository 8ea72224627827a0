//! The signer: one parsed private key, an algorithm and an optional `kid`.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use crate::backend::crypto;
use crate::key::{InMemoryKey, SigningKey};
use crate::keys::{self, LoadedKey};
use crate::public::b64;
use crate::{Algorithm, Claims, KeyType, PublicKey, SignError};
use crypto::rand::SystemRandom;

/// Signs JWT assertions with one private key.
///
/// The key is parsed once; clones share it through an [`Arc`], so a `Signer`
/// is cheap to clone and can be used from many threads. `Debug` never shows
/// key material. The key is any [`SigningKey`]: parsed from PEM/DER and held
/// in memory ([`Signer::from_pem`]), or held elsewhere ([`Signer::from_key`]).
#[derive(Clone)]
pub struct Signer {
    key: Arc<dyn SigningKey>,
    algorithm: Algorithm,
    kid: Option<String>,
    /// base64url of the JOSE header, which only changes with `algorithm` and `kid`.
    header_b64: String,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

impl Signer {
    /// Loads a private key from PEM.
    ///
    /// Accepts `BEGIN PRIVATE KEY` (PKCS#8: RSA, EC P-256, EC P-384, Ed25519,
    /// as written by `openssl genpkey` and by [`crate::generate_private_key_pem`]),
    /// `BEGIN RSA PRIVATE KEY` (PKCS#1, `openssl genrsa -traditional`) and
    /// `BEGIN EC PRIVATE KEY` (SEC1, `openssl ecparam -genkey`, whose
    /// `EC PARAMETERS` block is skipped). Other blocks, such as a certificate
    /// next to the key, are ignored when there is exactly one private key.
    ///
    /// Errors say what is wrong and how to fix it, but not which input it was:
    /// prefix them with the file name, e.g. `cannot load private key 'keys/private.pem': {err}`.
    pub fn from_pem(pem: &[u8]) -> Result<Signer, SignError> {
        let rng = SystemRandom::new();
        let loaded = keys::load_pem(pem, &rng)?;
        Signer::from_loaded(loaded, rng)
    }

    /// Loads a private key from DER: PKCS#8, PKCS#1 or SEC1, told apart by structure.
    pub fn from_der(der: &[u8]) -> Result<Signer, SignError> {
        let rng = SystemRandom::new();
        let loaded = keys::load_der(der, &rng)?;
        Signer::from_loaded(loaded, rng)
    }

    /// Loads a private key from PEM or DER, whichever `bytes` is (DER starts with a SEQUENCE byte, 0x30).
    pub fn from_key_bytes(bytes: &[u8]) -> Result<Signer, SignError> {
        let rng = SystemRandom::new();
        let loaded = keys::load_any(bytes, &rng)?;
        Signer::from_loaded(loaded, rng)
    }

    /// The signer of a parsed in-memory key, once the key has passed a pairwise consistency
    /// test.
    fn from_loaded(loaded: LoadedKey, rng: SystemRandom) -> Result<Signer, SignError> {
        let signer = Signer::from_key(InMemoryKey::new(loaded, rng));
        signer.check_pair()?;
        Ok(signer)
    }

    /// Signs a fixed message and verifies it with the key's own public key. A key whose parts
    /// disagree (an RSA key with a corrupted private exponent, say) can parse and still never
    /// produce a valid signature; the backend then fails every `sign` with a bare crypto
    /// error. Found by the `key_loading` fuzz target; this names the problem at load time.
    fn check_pair(&self) -> Result<(), SignError> {
        const MESSAGE: &[u8] = b"jwtgrant pairwise consistency test";
        let rejected = || SignError::KeyRejected {
            source: "a test signature does not verify with the key's own public key".into(),
        };
        let signature = self.sign_bytes(MESSAGE).map_err(|_| rejected())?;
        self.key
            .public_key()
            .verify_signature(self.algorithm, MESSAGE, &signature)
            .map_err(|_| rejected())
    }

    /// A signer over any [`SigningKey`]: a key in an HSM, a KMS, or your own.
    ///
    /// The algorithm starts as [`SigningKey::default_algorithm`]; everything
    /// else (`with_algorithm`, `kid`, thumbprints, JWK/JWKS) works as for a key
    /// read from PEM.
    pub fn from_key(key: impl SigningKey) -> Signer {
        Signer::from_shared_key(Arc::new(key))
    }

    /// Like [`Signer::from_key`], for a key already behind an [`Arc`].
    pub fn from_shared_key(key: Arc<dyn SigningKey>) -> Signer {
        let algorithm = key.default_algorithm();
        let mut signer = Signer {
            key,
            algorithm,
            kid: None,
            header_b64: String::new(),
        };
        signer.header_b64 = b64(signer.header_json().as_bytes());
        signer
    }

    /// Signs with `algorithm` instead of the key type's default (RS256, ES256, ES384 or EdDSA).
    ///
    /// An RSA key signs with any RS* or PS* algorithm; an EC or Ed25519 key only with its own.
    /// A key held elsewhere may refuse an algorithm its backend lacks ([`SigningKey::check_algorithm`]).
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Result<Signer, SignError> {
        self.key.check_algorithm(algorithm)?;
        self.algorithm = algorithm;
        self.header_b64 = b64(self.header_json().as_bytes());
        Ok(self)
    }

    /// Puts `kid` in the header of every token, and in the JWK.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Signer {
        self.kid = Some(kid.into());
        self.header_b64 = b64(self.header_json().as_bytes());
        self
    }

    /// Uses the key's RFC 7638 thumbprint as `kid`.
    pub fn with_kid_thumbprint(self) -> Signer {
        let kid = self.thumbprint();
        self.with_kid(kid)
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The type of the private key.
    pub fn key_type(&self) -> KeyType {
        self.key.public_key().key_type()
    }

    /// The `kid` put in headers, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The JOSE header every token gets: `{"alg":...,"typ":"JWT"}` plus `kid` when set.
    pub fn header_json(&self) -> String {
        self.header_json_typed(crate::claims::JWT_TYPE)
    }

    /// The JOSE header with `typ` instead of `JWT` (e.g. `oauth-id-jag+jwt`).
    pub fn header_json_typed(&self, typ: &str) -> String {
        let header = Header {
            alg: self.algorithm.as_str(),
            typ,
            kid: self.kid.as_deref(),
        };
        // Serializing two static strings and an optional string cannot fail.
        serde_json::to_string(&header).unwrap_or_default()
    }

    /// Validates `claims`, stamps `iat`/`exp`/`jti`, and returns the compact JWS. The
    /// header's `typ` is `JWT`, or `oauth-id-jag+jwt` for [`Claims::id_jag`].
    ///
    /// Each call makes a new `jti` (unless the claims fix one), so each result is
    /// a distinct single-use assertion.
    pub fn sign(&self, claims: &Claims) -> Result<String, SignError> {
        let payload = claims.payload_bytes()?;
        match claims.jws_type() {
            crate::claims::JWT_TYPE => self.sign_encoded_header(&self.header_b64, &payload),
            typ => self.sign_encoded_header(&b64(self.header_json_typed(typ).as_bytes()), &payload),
        }
    }

    /// Signs exactly the given header and payload bytes: base64url of each, joined by `.`, then the signature.
    ///
    /// No validation: the caller is responsible for a header whose `alg` is
    /// [`Signer::algorithm`] and for the payload. For interop tests and known-answer tests.
    pub fn sign_jws(&self, header: &[u8], payload: &[u8]) -> Result<String, SignError> {
        self.sign_encoded_header(&b64(header), payload)
    }

    fn sign_encoded_header(&self, header_b64: &str, payload: &[u8]) -> Result<String, SignError> {
        let mut token = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 700);
        token.push_str(header_b64);
        token.push('.');
        token.push_str(&b64(payload));
        let signature = self.sign_bytes(token.as_bytes())?;
        token.push('.');
        token.push_str(&b64(&signature));
        Ok(token)
    }

    fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key.sign(self.algorithm, message)
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key().clone()
    }

    /// The public key as SPKI PEM (`BEGIN PUBLIC KEY`), ready for Keycloak's identity provider.
    pub fn public_key_pem(&self) -> String {
        self.key.public_key().to_pem()
    }

    /// The RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> String {
        self.key.public_key().thumbprint()
    }

    /// The public key as a JWK with `use: sig`, `alg`, and `kid` (the signer's, or else the thumbprint).
    pub fn jwk(&self) -> Value {
        let kid = self.kid.clone().unwrap_or_else(|| self.thumbprint());
        self.key
            .public_key()
            .to_jwk(Some(self.algorithm), Some(&kid))
    }

    /// A JWKS document holding [`Signer::jwk`]: `{"keys": [jwk]}`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk()] })
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("algorithm", &self.algorithm)
            .field("key_type", &self.key_type())
            .field("kid", &self.kid)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_jag_header_type() {
        let pem = include_str!("../tests/fixtures/es256-pkcs8.pem");
        let signer = Signer::from_pem(pem.as_bytes()).unwrap();
        let claims = Claims::new("https://idp.example", "u", "https://kc/realms/r");
        let plain = crate::decode_unverified(&signer.sign(&claims).unwrap()).unwrap();
        assert_eq!(plain.header()["typ"], "JWT");
        let jag = signer.sign(&claims.clone().id_jag("agent")).unwrap();
        let jag = crate::verify(&jag, &signer.public_key()).unwrap();
        assert_eq!(jag.header()["typ"], "oauth-id-jag+jwt");
        assert_eq!(jag.header()["alg"], "ES256");
        assert_eq!(jag.claims()["client_id"], "agent");
    }
}
