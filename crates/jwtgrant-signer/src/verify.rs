//! Decoding and verifying compact JWS tokens.
//!
//! Verification checks the structure, the algorithm and the signature. It does
//! not check `exp`, `nbf`, `iat`, `iss` or `aud`: Keycloak does that for real,
//! and the CLI's `inspect` reports the times itself.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;

use crate::{Algorithm, Jwks, PublicKey, VerifyError};

/// A token whose signature verified. Claims are *not* time-checked; see [`verify`].
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedToken {
    algorithm: Algorithm,
    header: Value,
    claims: Value,
}

impl VerifiedToken {
    /// The algorithm the token was signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The JOSE header, a JSON object.
    pub fn header(&self) -> &Value {
        &self.header
    }

    /// The claims, a JSON object.
    pub fn claims(&self) -> &Value {
        &self.claims
    }

    /// The header's `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
}

/// A token's header and claims, decoded but **not verified**: anyone could have written them.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedToken {
    header: Value,
    claims: Value,
}

impl DecodedToken {
    /// The JOSE header, a JSON object.
    pub fn header(&self) -> &Value {
        &self.header
    }

    /// The claims, a JSON object.
    pub fn claims(&self) -> &Value {
        &self.claims
    }

    /// The header's `alg` as written, if it is a string.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    /// The header's `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
}

/// Decodes a compact JWS without checking its signature, for display and diagnostics.
///
/// Surrounding whitespace (a trailing newline from a file) is ignored.
pub fn decode_unverified(token: &str) -> Result<DecodedToken, VerifyError> {
    let parts = split(token)?;
    Ok(DecodedToken {
        header: parts.header,
        claims: parts.claims,
    })
}

/// Verifies a compact JWS with `key` and returns its header and claims.
///
/// Strict about the algorithm: the header's `alg` must be exactly one of
/// [`Algorithm::ALL`] (never `none`, never HS*), and it must fit the key
/// type, so an RSA key is never used to check an HMAC. A `crit` header is refused.
///
/// Does **not** check `exp`, `nbf`, `iat`, `iss` or `aud`.
pub fn verify(token: &str, key: &PublicKey) -> Result<VerifiedToken, VerifyError> {
    let parts = split(token)?;
    let algorithm = parts.algorithm()?;
    key.verify_signature(algorithm, parts.signing_input.as_bytes(), &parts.signature)?;
    Ok(VerifiedToken {
        algorithm,
        header: parts.header,
        claims: parts.claims,
    })
}

/// Verifies a compact JWS with a key from `jwks`: the one with the token's `kid`,
/// or, when the token has none, any key that fits its algorithm.
pub fn verify_with_jwks(token: &str, jwks: &Jwks) -> Result<VerifiedToken, VerifyError> {
    let parts = split(token)?;
    let algorithm = parts.algorithm()?;
    let kid = parts
        .header
        .get("kid")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut last_error = None;
    for candidate in jwks.candidates(kid.as_deref(), algorithm) {
        match candidate.key().verify_signature(
            algorithm,
            parts.signing_input.as_bytes(),
            &parts.signature,
        ) {
            Ok(()) => {
                return Ok(VerifiedToken {
                    algorithm,
                    header: parts.header,
                    claims: parts.claims,
                });
            }
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or(VerifyError::KeyNotFound { kid, algorithm }))
}

struct Parts<'a> {
    signing_input: &'a str,
    header: Value,
    claims: Value,
    signature: Vec<u8>,
}

impl Parts<'_> {
    fn algorithm(&self) -> Result<Algorithm, VerifyError> {
        let alg = match self.header.get("alg") {
            Some(Value::String(alg)) => alg.as_str(),
            Some(other) => {
                return Err(VerifyError::UnsupportedAlgorithm {
                    alg: other.to_string(),
                });
            }
            None => return Err(VerifyError::UnsupportedAlgorithm { alg: String::new() }),
        };
        // Exact match: JOSE algorithm names are case-sensitive.
        let algorithm = Algorithm::ALL
            .into_iter()
            .find(|known| known.as_str() == alg)
            .ok_or_else(|| VerifyError::UnsupportedAlgorithm {
                alg: alg.to_owned(),
            })?;
        if self.header.get("crit").is_some() {
            return Err(malformed(
                "the header lists critical extensions ('crit'), which are not supported",
                None,
            ));
        }
        Ok(algorithm)
    }
}

fn split(token: &str) -> Result<Parts<'_>, VerifyError> {
    let token = token.trim();
    let pieces: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = pieces[..] else {
        let reason = match pieces.len() {
            5 => "five parts make an encrypted JWE, which is not supported (expected a signed JWS)"
                .to_owned(),
            n => format!("expected 3 dot-separated parts (header.payload.signature), found {n}"),
        };
        return Err(malformed(reason, None));
    };
    let header = json_object("header", header_b64)?;
    let claims = json_object("payload", payload_b64)?;
    let signature = Base64UrlUnpadded::decode_vec(signature_b64).map_err(|err| {
        malformed(
            "the signature is not unpadded base64url",
            Some(Box::new(err)),
        )
    })?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Parts {
        signing_input,
        header,
        claims,
        signature,
    })
}

fn json_object(part: &str, text: &str) -> Result<Value, VerifyError> {
    let bytes = Base64UrlUnpadded::decode_vec(text).map_err(|err| {
        malformed(
            format!("the {part} is not unpadded base64url"),
            Some(Box::new(err)),
        )
    })?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|err| malformed(format!("the {part} is not JSON"), Some(Box::new(err))))?;
    if !value.is_object() {
        return Err(malformed(format!("the {part} is not a JSON object"), None));
    }
    Ok(value)
}

fn malformed(reason: impl Into<String>, source: Option<crate::BoxError>) -> VerifyError {
    VerifyError::Malformed {
        reason: reason.into(),
        source,
    }
}
