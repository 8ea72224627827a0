//! The signature: verifying the assertion with the identity provider's static key or its
//! JWKS ([`verify_with_idp`], computed before the checks run), and the stage that reports it.

use serde_json::Value;

use super::Context;
use super::assertion::{decode, is_asymmetric};
use super::report::{Finding, fail, pass, skip, warn};
use crate::settings::IdpSettings;
use crate::settings::idp::{JWKS_URL, PUBLIC_KEY, USE_JWKS_URL};
use crate::{Check, Description};

/// How the signature check came out, computed by the caller of [`diagnose`](super::diagnose) with the
/// signer (see [`verify_with_idp`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureOutcome {
    /// Verified with the provider's key (the text says which key).
    Valid(String),
    /// Did not verify, or no usable key (the text says why).
    Invalid(String),
    /// Not checked: this host could not fetch the provider's JWKS (the text says why).
    /// Keycloak fetches it itself, and may still hold its keys from an earlier fetch.
    Unfetched(String),
}

/// `validateAuthorizationGrantAssertion`: the signature with the provider's key.
///
/// An `alg` no public key verifies (`none`, `HS*`, or none at all) is the algorithm's
/// fault: since 26.7 Keycloak refuses it at the algorithm check and never gets here (the
/// line is skipped), before 26.7 it gets here and answers `Invalid signature`.
pub(super) fn validate_authorization_grant_assertion(ctx: &Context<'_>) -> Vec<Finding> {
    let alg = ctx
        .decoded
        .and_then(|d| d.header.get("alg"))
        .and_then(Value::as_str);
    let asymmetric = alg.is_some_and(is_asymmetric);
    if !asymmetric && (alg.is_none() || ctx.order.refuses_symmetric_algorithms()) {
        return vec![skip(Check::Signature)];
    }
    vec![match (ctx.idp, ctx.signature) {
        (Some(_), Some(SignatureOutcome::Invalid(why))) if !asymmetric => fail(
            Description::InvalidSignature,
            format!(
                "alg '{}' is not asymmetric, so no public key of the provider verifies it ({why})",
                alg.unwrap_or_default()
            ),
            "sign with an asymmetric algorithm (RS256, PS256, ES256, ES384 or EdDSA) and the key whose public half the provider holds",
        ),
        (Some(_), Some(SignatureOutcome::Valid(how))) => pass(
            Check::Signature,
            format!("the signature verifies with {how}"),
        ),
        (Some(p), Some(SignatureOutcome::Invalid(why))) => {
            let fix = if !p.use_jwks_url.is_on()
                && p.jwks_url.as_deref().is_some_and(|u| !u.is_empty())
                && p.public_key.as_deref().is_none_or(str::is_empty)
            {
                format!(
                    "the provider has a {JWKS_URL} but {USE_JWKS_URL} is not \"true\", so Keycloak uses the (empty) static key: set {USE_JWKS_URL}=\"true\""
                )
            } else {
                "put the public key matching the signing key on the provider, or sign with the key the provider holds".to_owned()
            };
            fail(Description::InvalidSignature, why.clone(), &fix)
        }
        (Some(_), Some(SignatureOutcome::Unfetched(why))) => warn(
            Check::Signature,
            format!("not checked: {why}; Keycloak fetches the JWKS itself and may hold its keys"),
            "make the JWKS URL reachable from this host to check the signature here; the real exchange shows whether Keycloak can verify it",
        ),
        _ => skip(Check::Signature),
    }]
}

/// Checks the assertion's signature the way the provider `idp` would: with its static key
/// ([`IdpSettings::public_key`]: SPKI PEM, base64 SPKI DER or a JWKS JSON) or, when it
/// uses its JWKS URL, with the JWKS in `jwks` (fetched from [`IdpSettings::jwks_url`]).
pub fn verify_with_idp(
    idp: &IdpSettings,
    jwks: Option<&Result<String, String>>,
    assertion: &str,
) -> SignatureOutcome {
    use jwtgrant_signer::{Jwks, PublicKey, verify, verify_with_jwks};
    if idp.use_jwks_url.is_on() {
        let url = idp.jwks_url.as_deref().unwrap_or_default();
        return match jwks {
            None => SignatureOutcome::Invalid(format!("the JWKS at '{url}' was not fetched")),
            Some(Err(why)) => SignatureOutcome::Unfetched(format!(
                "this host cannot fetch the provider's JWKS from '{url}': {why}"
            )),
            Some(Ok(body)) => match Jwks::from_json(body) {
                Err(e) => {
                    SignatureOutcome::Invalid(format!("the JWKS at '{url}' is unusable: {e}"))
                }
                Ok(set) => match verify_with_jwks(assertion, &set) {
                    Ok(_) => SignatureOutcome::Valid(format!("a key of the JWKS at '{url}'")),
                    Err(e) => SignatureOutcome::Invalid(format!(
                        "does not verify with the JWKS at '{url}': {e}"
                    )),
                },
            },
        };
    }
    let material = idp.public_key.as_deref().unwrap_or_default().trim();
    if material.is_empty() {
        return SignatureOutcome::Invalid(format!(
            "the provider has no static key ({PUBLIC_KEY} is empty) and does not use a JWKS URL"
        ));
    }
    let fixed_kid = idp.key_id.as_deref().filter(|k| !k.is_empty());
    if material.starts_with('{') {
        return match Jwks::from_json(material) {
            Err(e) => {
                SignatureOutcome::Invalid(format!("the provider's static JWKS is unusable: {e}"))
            }
            Ok(set) => match verify_with_jwks(assertion, &set) {
                Ok(_) => SignatureOutcome::Valid("a key of the provider's static JWKS".into()),
                Err(e) => SignatureOutcome::Invalid(format!(
                    "does not verify with the provider's static JWKS: {e}"
                )),
            },
        };
    }
    let key = if material.starts_with("-----") {
        PublicKey::from_pem(material.as_bytes())
    } else {
        use base64ct::{Base64, Encoding as _};
        let compact: String = material.split_whitespace().collect();
        match Base64::decode_vec(&compact) {
            Ok(der) => PublicKey::from_der(&der),
            Err(_) => {
                return SignatureOutcome::Invalid(
                    "the provider's static key is neither PEM, base64 SPKI DER nor a JWKS".into(),
                );
            }
        }
    };
    let key = match key {
        Ok(k) => k,
        Err(e) => {
            return SignatureOutcome::Invalid(format!(
                "the provider's static key is unusable: {e}"
            ));
        }
    };
    if let Some(kid) = fixed_kid {
        let token_kid = decode(assertion).ok().and_then(|d| {
            d.header
                .get("kid")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        if token_kid.as_deref().is_some_and(|t| t != kid) {
            return SignatureOutcome::Invalid(format!(
                "the assertion's kid '{}' differs from the provider's fixed key id '{kid}'",
                token_kid.unwrap_or_default()
            ));
        }
    }
    match verify(assertion, &key) {
        Ok(_) => SignatureOutcome::Valid(format!(
            "the provider's static key (thumbprint {})",
            key.thumbprint()
        )),
        Err(e) => SignatureOutcome::Invalid(format!(
            "does not verify with the provider's static key (thumbprint {}): {e}",
            key.thumbprint()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::idp::PROVIDER_ID;
    use serde_json::json;

    #[test]
    fn signature_against_static_keys_in_every_format() {
        use jwtgrant_signer::{Claims, Jwks, Signer};
        let rsa = Signer::from_pem(include_bytes!(
            "../../../jwtgrant-signer/tests/fixtures/rsa2048-pkcs8.pem"
        ))
        .unwrap();
        let other = Signer::from_pem(include_bytes!(
            "../../../jwtgrant-signer/tests/fixtures/ed25519-pkcs8.pem"
        ))
        .unwrap();
        let token = rsa
            .sign(&Claims::new("http://localhost:3000", "u", "a"))
            .unwrap();
        let pem = rsa.public_key_pem();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let jwks = Jwks::from_keys([(Some("k".to_owned()), None, rsa.public_key())])
            .to_value()
            .to_string();
        let idp = |config: Value| {
            IdpSettings::from_json(
                &json!({"alias": "a", "providerId": PROVIDER_ID, "config": config}),
            )
        };
        for material in [pem.clone(), b64, jwks.clone()] {
            let out = verify_with_idp(
                &idp(json!({"publicKeySignatureVerifier": material})),
                None,
                &token,
            );
            assert!(matches!(out, SignatureOutcome::Valid(_)), "{out:?}");
        }
        let wrong = verify_with_idp(
            &idp(json!({"publicKeySignatureVerifier": other.public_key_pem()})),
            None,
            &token,
        );
        assert!(
            matches!(&wrong, SignatureOutcome::Invalid(w) if w.contains("static key")),
            "{wrong:?}"
        );
        let empty = verify_with_idp(&idp(json!({"jwksUrl": "http://x/jwks"})), None, &token);
        assert!(
            matches!(&empty, SignatureOutcome::Invalid(w) if w.contains("no static key")),
            "{empty:?}"
        );
        let fixed = verify_with_idp(
            &idp(
                json!({"publicKeySignatureVerifier": pem, "publicKeySignatureVerifierKeyId": "other"}),
            ),
            None,
            &rsa.clone()
                .with_kid("mine")
                .sign(&Claims::new("http://localhost:3000", "u", "a"))
                .unwrap(),
        );
        assert!(
            matches!(&fixed, SignatureOutcome::Invalid(w) if w.contains("fixed key id 'other'")),
            "{fixed:?}"
        );
        let by_url = idp(json!({"useJwksUrl": "true", "jwksUrl": "http://x/jwks"}));
        assert!(matches!(
            verify_with_idp(&by_url, Some(&Ok(jwks)), &token),
            SignatureOutcome::Valid(_)
        ));
        // A JWKS this host cannot fetch leaves the signature unchecked, not invalid:
        // Keycloak fetches it itself and may hold its keys.
        let down = verify_with_idp(&by_url, Some(&Err("connection refused".into())), &token);
        assert_eq!(
            down,
            SignatureOutcome::Unfetched(
                "this host cannot fetch the provider's JWKS from 'http://x/jwks': connection refused"
                    .into()
            )
        );
    }
}
