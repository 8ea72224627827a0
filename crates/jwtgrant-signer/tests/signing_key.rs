//! The `SigningKey` seam: a key the signer does not hold gives the same tokens,
//! JWKs and thumbprints as the same key read from PEM.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use jwtgrant_signer::{Algorithm, Claims, SignError, Signer, SigningKey, verify};

/// A key held "elsewhere": signs through the independent `jsonwebtoken` crate, so none
/// of this crate's signing code runs. Refuses PS* the way an HSM without PSS would.
struct ElsewhereKey {
    public: jwtgrant_signer::PublicKey,
    key: jsonwebtoken::EncodingKey,
    calls: AtomicUsize,
    fail: bool,
}

#[derive(Debug)]
struct Unplugged;
impl std::fmt::Display for Unplugged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the device is unplugged")
    }
}
impl std::error::Error for Unplugged {}

impl SigningKey for ElsewhereKey {
    fn public_key(&self) -> &jwtgrant_signer::PublicKey {
        &self.public
    }

    fn check_algorithm(&self, algorithm: Algorithm) -> Result<(), SignError> {
        match algorithm {
            Algorithm::RS256 | Algorithm::ES256 => Ok(()),
            _ => Err(SignError::KeyBackend {
                source: format!("{algorithm} is not offered").into(),
            }),
        }
    }

    fn sign(&self, algorithm: Algorithm, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(SignError::KeyBackend {
                source: Box::new(Unplugged),
            });
        }
        let alg = match algorithm {
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            _ => jsonwebtoken::Algorithm::ES256,
        };
        let b64 = jsonwebtoken::crypto::sign(message, &self.key, alg).map_err(|e| {
            SignError::KeyBackend {
                source: Box::new(e),
            }
        })?;
        Ok(Base64UrlUnpadded::decode_vec(&b64).expect("jsonwebtoken returns base64url"))
    }
}

fn elsewhere(fixture: &str, fail: bool) -> (Signer, ElsewhereKey) {
    let pem = common::fixture(fixture);
    let local = Signer::from_pem(&pem).unwrap();
    let key = if local.algorithm() == Algorithm::RS256 {
        jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap()
    } else {
        jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap()
    };
    let external = ElsewhereKey {
        public: local.public_key(),
        key,
        calls: AtomicUsize::new(0),
        fail,
    };
    (local, external)
}

fn claims() -> Claims {
    Claims::new(
        "https://issuer.example",
        "user-1",
        "https://kc.example/realms/r",
    )
}

#[test]
fn an_external_key_signs_tokens_that_verify_with_the_same_public_key() {
    for fixture in ["rsa2048-pkcs8.pem", "es256-pkcs8.pem"] {
        let (local, external) = elsewhere(fixture, false);
        let signer = Signer::from_key(external).with_kid_thumbprint();
        assert_eq!(signer.algorithm(), local.algorithm(), "{fixture}");
        assert_eq!(signer.thumbprint(), local.thumbprint(), "{fixture}");
        assert_eq!(signer.jwks(), local.jwks(), "{fixture}");
        assert_eq!(signer.public_key_pem(), local.public_key_pem(), "{fixture}");
        let token = signer.sign(&claims()).unwrap();
        let verified = verify(&token, &local.public_key()).unwrap();
        assert_eq!(verified.claims()["sub"], "user-1");
        assert_eq!(verified.kid(), Some(local.thumbprint().as_str()));
        // Clones share the one key.
        let clone = signer.clone();
        verify(&clone.sign(&claims()).unwrap(), &local.public_key()).unwrap();
    }
}

#[test]
fn the_key_decides_which_algorithms_it_offers() {
    let (_, external) = elsewhere("rsa2048-pkcs8.pem", false);
    let err = Signer::from_key(external)
        .with_algorithm(Algorithm::PS256)
        .unwrap_err();
    assert!(matches!(err, SignError::KeyBackend { .. }), "{err:?}");
    assert_eq!(err.to_string(), "the signing key's backend failed");
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(source.to_string(), "PS256 is not offered");
}

#[test]
fn a_backend_failure_reaches_the_caller_as_key_backend_with_its_source() {
    let (_, external) = elsewhere("es256-pkcs8.pem", true);
    let signer = Signer::from_key(external);
    let err = signer.sign(&claims()).unwrap_err();
    assert!(matches!(err, SignError::KeyBackend { .. }), "{err:?}");
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(source.to_string(), "the device is unplugged");
    assert!(format!("{signer:?}").contains("[redacted]"));
}
