//! The stages that read the assertion itself: its format, the mandatory claims, the
//! algorithm, the audience, and the ID-JAG's `client_id`.

use serde_json::Value;

use super::Context;
use super::report::{Finding, fail, pass, skips, warn};
use crate::settings::ID_JAG_FEATURE;
use crate::settings::idp::SIGNATURE_ALG;
use crate::{Check, Description, Order};

/// The decoded assertion the checks look at.
#[derive(Debug, Clone)]
pub(super) struct Decoded {
    pub(super) header: Value,
    pub(super) claims: Value,
}

/// Decode a compact JWS without verifying it (the signer's decoder). `Err` says why it is
/// not a JWT.
///
/// Keycloak reads the header's `alg` into its `org.keycloak.jose.jws.Algorithm` enum
/// ([`KEYCLOAK_ALGORITHMS`], case-sensitive): another name fails the parse, so Keycloak
/// answers `The provided assertion is not a valid JWT` before any other check.
pub(super) fn decode(token: &str) -> Result<Decoded, String> {
    match jwtgrant_signer::decode_unverified(token) {
        Ok(d) => match d.header().get("alg").and_then(Value::as_str) {
            Some(alg) if !KEYCLOAK_ALGORITHMS.contains(&alg) => Err(format!(
                "the header's alg '{alg}' is not an algorithm name Keycloak reads (names are case-sensitive: {})",
                KEYCLOAK_ALGORITHMS.join(", ")
            )),
            _ => Ok(Decoded {
                header: d.header().clone(),
                claims: d.claims().clone(),
            }),
        },
        Err(jwtgrant_signer::VerifyError::Malformed { reason, .. }) => Err(reason),
        Err(e) => Err(e.to_string()),
    }
}

/// The names of Keycloak's `org.keycloak.jose.jws.Algorithm` enum (the same in 26.5.6 and
/// 26.7.3, read from `keycloak-core`): the only `alg` values its JWS parser accepts.
pub const KEYCLOAK_ALGORITHMS: &[&str] = &[
    "none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "Ed448",
];

/// True when a JWS header says `typ: oauth-id-jag+jwt` (Keycloak compares it exactly).
pub(super) fn has_id_jag_type(header: Option<&Value>) -> bool {
    header.and_then(|h| h.get("typ")).and_then(Value::as_str) == Some(jwtgrant_signer::ID_JAG_TYPE)
}

/// `IDJWTAuthorizationGrantValidator.validateClient`: an ID-JAG's `client_id` is the client
/// that authenticates. Also warns when the ID-JAG rules will not apply although the
/// assertion looks like an ID-JAG (the trap), or the server's feature is off.
pub(super) fn validate_id_jag_client(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(d) = ctx.decoded else {
        return Vec::new();
    };
    if let Some(w) = id_jag_trap(&d.header, &d.claims, ctx.id_jag) {
        return vec![w];
    }
    if !has_id_jag_type(Some(&d.header)) {
        return Vec::new();
    }
    if ctx.snapshot.client.is_none() {
        return skips(&[Check::IdJagClientId]);
    }
    let ours = &ctx.snapshot.client_id;
    vec![match d.claims.get("client_id").and_then(Value::as_str) {
        Some(id) if id == ours => pass(
            Check::IdJagClientId,
            format!("the ID-JAG's client_id '{id}' is the authenticating client"),
        ),
        other => fail(
            Description::IdJagClientMismatch,
            format!(
                "the ID-JAG's client_id is {} but the client that authenticates is '{ours}'",
                other.map_or("absent".to_owned(), |id| format!("'{id}'"))
            ),
            &format!(
                "set the ID-JAG's client_id to '{ours}', the client the token request authenticates as"
            ),
        ),
    }]
}

/// The ID-JAG rules will not apply although the assertion looks like an ID-JAG: it is
/// typed as one but the validator is off (`id_jag` false), or it carries `client_id` under
/// another `typ`. A warning, since Keycloak then treats it as a plain assertion.
pub(super) fn id_jag_trap(header: &Value, claims: &Value, id_jag: bool) -> Option<Finding> {
    let typed = has_id_jag_type(Some(header));
    if typed && !id_jag {
        return Some(warn(
            Check::IdJagClientId,
            format!(
                "the assertion is an ID-JAG (typ {}), but the server's feature {ID_JAG_FEATURE} is off: Keycloak treats it as a plain assertion and none of the ID-JAG rules apply",
                jwtgrant_signer::ID_JAG_TYPE
            ),
            &format!("start Keycloak with the experimental feature {ID_JAG_FEATURE}"),
        ));
    }
    (!typed && claims.get("client_id").is_some()).then(|| {
        warn(
            Check::IdJagClientId,
            format!(
                "the assertion carries client_id but its typ is {}, not {}: Keycloak accepts it as a plain RFC 7523 assertion and none of the ID-JAG rules apply",
                header
                    .get("typ")
                    .map_or("absent".to_owned(), |t| t.to_string()),
                jwtgrant_signer::ID_JAG_TYPE
            ),
            "sign ID-JAGs with the header typ oauth-id-jag+jwt",
        )
    })
}

/// The assertion parses as a JWS with a JSON payload.
pub(super) fn assertion_format(decoded: &Result<Decoded, String>) -> Vec<Finding> {
    vec![match decoded {
        Ok(_) => pass(Check::Jwt, "the assertion is a JWS with a JSON payload"),
        Err(why) => fail(
            Description::NotAJwt,
            format!("the assertion is not a valid JWT: {why}"),
            "pass the compact JWT (header.payload.signature) itself",
        ),
    }]
}

/// `validateIssuer`, `validateSubject`: the mandatory claims.
pub(super) fn validate_issuer_and_subject(ctx: &Context<'_>) -> Vec<Finding> {
    if ctx.decoded.is_none() {
        return skips(&[Check::Issuer, Check::Subject]);
    }
    issuer_and_subject(ctx.iss, ctx.sub)
}

/// `iss` and `sub` are present (as strings) in a decoded assertion.
pub(super) fn issuer_and_subject(iss: Option<&str>, sub: Option<&str>) -> Vec<Finding> {
    let iss = match iss {
        Some(i) => pass(Check::Issuer, format!("iss is '{i}'")),
        None => fail(
            Description::MissingIss,
            "the assertion has no iss claim".into(),
            "add iss equal to the identity provider's issuer",
        ),
    };
    let sub = match sub {
        Some(s) => pass(Check::Subject, format!("sub is '{s}'")),
        None => fail(
            Description::MissingSub,
            "the assertion has no sub claim".into(),
            "add sub: the user's id at the issuer, as linked in Keycloak",
        ),
    };
    vec![iss, sub]
}

/// `validateSignatureAlgorithm`: `alg` present, asymmetric (since 26.7), and the
/// provider's pinned one if set.
pub(super) fn validate_signature_algorithm(ctx: &Context<'_>) -> Vec<Finding> {
    let (Some(p), Some(d)) = (ctx.idp, ctx.decoded) else {
        return skips(&[Check::Algorithm]);
    };
    vec![algorithm(&d.header, p.pinned_algorithm(), ctx.order)]
}

/// True when `alg` names an asymmetric algorithm Keycloak verifies with a public key
/// (`RS*`, `PS*`, `ES*` or `EdDSA`, compared as Keycloak does: case-sensitive).
pub(super) fn is_asymmetric(alg: &str) -> bool {
    ["RS", "PS", "ES"].iter().any(|x| alg.starts_with(x)) || alg == "EdDSA"
}

/// `AbstractBaseJWTValidator.validateSignatureAlgorithm` of the release `order`: the
/// header's `alg` is present; since 26.7 it is not `none` and asymmetric (a
/// `ClientSignatureVerifierProvider` that says so); and, when the provider pins one, it is
/// that one. Before 26.7 a `none` or symmetric `alg` passes here and fails the signature
/// check (no public key verifies it): a warning on this line, the failure on that one.
pub(super) fn algorithm(header: &Value, pinned: Option<&str>, order: Order) -> Finding {
    let Some(alg) = header.get("alg").and_then(Value::as_str) else {
        return fail(
            Description::InvalidAlgorithm,
            "the header has no alg".into(),
            "sign with RS256, PS256, ES256, ES384 or EdDSA",
        );
    };
    if !is_asymmetric(alg) && order.refuses_symmetric_algorithms() {
        fail(
            Description::InvalidAlgorithm,
            format!("alg '{alg}' is not asymmetric"),
            "sign with RS256, PS256, ES256, ES384 or EdDSA",
        )
    } else if let Some(w) = pinned.filter(|w| *w != alg) {
        fail(
            Description::InvalidAlgorithm,
            format!("alg is '{alg}' but the provider only allows '{w}'"),
            &format!("sign with {w}, or clear the provider's {SIGNATURE_ALG}"),
        )
    } else if !is_asymmetric(alg) {
        warn(
            Check::Algorithm,
            format!(
                "alg '{alg}' is not asymmetric: {} lets it pass this check, and no public key verifies it (\"{}\")",
                order.releases(),
                Description::InvalidSignature
            ),
            "sign with RS256, PS256, ES256, ES384 or EdDSA",
        )
    } else {
        pass(Check::Algorithm, format!("alg '{alg}' is allowed"))
    }
}

/// `validateTokenAudience`: exactly one `aud`, the realm or its token endpoint.
pub(super) fn validate_token_audience(ctx: &Context<'_>) -> Vec<Finding> {
    let (Some(_), Some(claims)) = (ctx.idp, ctx.claims()) else {
        return skips(&[Check::Audience]);
    };
    let expected = &ctx.snapshot.expected_audiences;
    let auds = audiences(claims);
    let want = expected.first().cloned().unwrap_or_default();
    vec![if !auds.iter().any(|a| expected.iter().any(|e| e == a)) {
        let got = match claims.get("aud") {
            _ if auds.is_empty() => "no aud".to_owned(),
            // A string as the string, an array as the array it is.
            Some(Value::String(one)) => format!("aud '{one}'"),
            _ => format!("aud {auds:?}"),
        };
        fail(
            Description::InvalidAudience,
            format!("{got}; Keycloak expects '{want}' (or its token endpoint)"),
            &format!("sign with aud '{want}', the realm's URL as Keycloak sees its own base URL"),
        )
    } else if auds.len() > 1 {
        multiple_audiences(auds.len(), &format!("'{want}'"))
    } else {
        pass(Check::Audience, format!("aud is '{}'", auds[0]))
    }]
}

/// The `aud` values Keycloak reads: a string, or the strings of an array.
pub(super) fn audiences(claims: &Value) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// More than one `aud`: Keycloak wants exactly one, `want`.
pub(super) fn multiple_audiences(count: usize, want: &str) -> Finding {
    fail(
        Description::MultipleAudiences,
        format!("aud is an array of {count} values"),
        &format!("send exactly one aud: {want}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::testing::*;
    use crate::doctor::*;
    use serde_json::json;

    #[test]
    fn id_jag_rules_and_traps() {
        let jag = |claims: Value| jwt(json!({"alg": "RS256", "typ": "oauth-id-jag+jwt"}), claims);
        let mut claims = good_claims();
        claims["client_id"] = json!("custom-client");
        let mut snap = snapshot();
        snap.features = Some(vec!["identity-assertion-jwt".into()]);
        assert_eq!(first(&snap, &jag(claims.clone()), Some(&valid())), None);

        claims["client_id"] = json!("someone-else");
        assert_eq!(
            first(&snap, &jag(claims.clone()), Some(&valid())),
            Some(("id-jag-client-id", Some("client id in assertion :")))
        );
        let r = diagnose(&snap, &jag(claims.clone()), NOW, Some(&valid()));
        assert_eq!(
            r.get("id-jag-client-id").map(|c| c.detail.as_str()),
            Some(
                "the ID-JAG's client_id is 'someone-else' but the client that authenticates is 'custom-client'"
            )
        );

        claims["client_id"] = json!("custom-client");
        claims.as_object_mut().map(|c| c.remove("iat"));
        assert_eq!(
            first(&snap, &jag(claims.clone()), Some(&valid())),
            Some(("iat", Some("Token iat claim is required")))
        );

        // The trap: ID-JAG claims under typ JWT pass as a plain assertion, with a warning.
        let mut plain = good_claims();
        plain["client_id"] = json!("someone-else");
        let r = diagnose(
            &snap,
            &jwt(json!({"alg": "RS256", "typ": "JWT"}), plain),
            NOW,
            Some(&valid()),
        );
        assert!(r.ok(), "{r:#?}");
        let warn = r.get("id-jag-client-id").expect("a warning");
        assert_eq!(warn.status, Status::Warn);
        assert!(
            warn.detail.starts_with(
                "the assertion carries client_id but its typ is \"JWT\", not oauth-id-jag+jwt"
            ),
            "{}",
            warn.detail
        );

        // The feature off: the ID-JAG is a plain assertion to Keycloak, with a warning.
        snap.features = Some(vec![]);
        claims["client_id"] = json!("someone-else");
        let r = diagnose(&snap, &jag(claims), NOW, Some(&valid()));
        assert!(r.ok(), "{r:#?}");
        let warn = r.get("id-jag-client-id").expect("a warning");
        assert_eq!(warn.status, Status::Warn);
        assert!(
            warn.detail
                .contains("feature identity-assertion-jwt is off"),
            "{}",
            warn.detail
        );
    }

    #[test]
    fn bad_tokens_and_algorithms() {
        let s = snapshot();
        assert_eq!(
            first(&s, "not-a-jwt", None),
            Some(("jwt", Some("The provided assertion is not a valid JWT")))
        );
        assert_eq!(
            first(&s, "a.b.c", None),
            Some(("jwt", Some("The provided assertion is not a valid JWT")))
        );
        let none = jwt(json!({"alg": "none"}), good_claims());
        assert_eq!(
            first(&s, &none, Some(&valid())),
            Some(("alg", Some("Invalid signature algorithm")))
        );
        let hs = jwt(json!({"alg": "HS256"}), good_claims());
        assert_eq!(
            first(&s, &hs, Some(&valid())),
            Some(("alg", Some("Invalid signature algorithm")))
        );
    }
}
