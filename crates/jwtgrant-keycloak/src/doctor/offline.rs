//! The checks that need no server: what the assertion alone shows, judged with Keycloak's
//! defaults for every setting a realm could change.
//!
//! The rules are the stages' own (the same functions [`diagnose`](super::diagnose) runs);
//! what a stage would read from the realm is replaced by Keycloak's default (the
//! provider's time settings, no pinned algorithm, the ID-JAG validator assumed on) or,
//! where the realm decides, by what the token alone can say (an `iss` no provider can
//! have, an `aud` of the wrong shape, an ID-JAG that names no client).

use serde_json::Value;

use super::assertion::{
    algorithm, assertion_format, audiences, decode, has_id_jag_type, id_jag_trap,
    issuer_and_subject, multiple_audiences,
};
use super::report::{Finding, Report, fail, skips, unchecked, warn};
use super::times::{TimeRules, token_active};
use crate::settings::{ID_JAG_FEATURE, IdpSettings};
use crate::{Check, Description, Order, Stage};

/// The checks [`diagnose`](super::diagnose) can make without a server, on `assertion` at
/// the Unix time `now`, in the newest release's order. Checks that need the realm (the
/// client, the provider lookup, the signature, the user) are left out; one the token can
/// answer only in part is a skip line saying what it needs.
pub fn offline(assertion: &str, now: i64) -> Report {
    let order = Order::NEWEST;
    let decoded = decode(assertion);
    let d = decoded.as_ref().ok();
    let claims = d.map(|d| &d.claims);
    let claim = |name: &str| claims.and_then(|c| c.get(name)).and_then(Value::as_str);
    // The server's features are unknown: like `diagnose`, assume the ID-JAG validator on.
    let id_jag = has_id_jag_type(d.map(|d| &d.header));
    let mut checks = Vec::new();
    for stage in order.stages() {
        checks.extend(match (stage, d) {
            (Stage::AssertionFormat, _) => assertion_format(&decoded),
            (Stage::ClientGrant, Some(d)) => id_jag_client(&d.header, &d.claims, id_jag),
            (Stage::MandatoryClaims, Some(_)) => issuer_and_subject(claim("iss"), claim("sub")),
            (Stage::MandatoryClaims, None) => skips(&[Check::Issuer, Check::Subject]),
            (Stage::IdentityProvider, _) => claim("iss").map(issuer_shape).into_iter().collect(),
            (Stage::SignatureAlgorithm, Some(d)) => vec![algorithm(&d.header, None, order)],
            (Stage::TokenActive, Some(d)) => token_active(
                &d.claims,
                TimeRules::of(&IdpSettings::default()),
                id_jag,
                now,
            ),
            (Stage::Audience, Some(d)) => vec![audience_shape(&d.claims)],
            (Stage::SignatureAlgorithm, None) => skips(&[Check::Algorithm]),
            (Stage::TokenActive, None) => skips(&[
                Check::Expiration,
                Check::Active,
                Check::IssuedAt,
                Check::Jti,
            ]),
            (Stage::Audience, None) => skips(&[Check::Audience]),
            // The client, DPoP, the signature, the user and the token binding need the realm.
            _ => Vec::new(),
        });
    }
    Report {
        checks,
        order,
        server_version: None,
    }
}

/// The ID-JAG rules as far as no client and no server features are known: the trap of
/// ID-JAG claims under another `typ`, the server feature the rules need, and a `client_id`
/// that must be there.
fn id_jag_client(header: &Value, claims: &Value, id_jag: bool) -> Vec<Finding> {
    if let Some(w) = id_jag_trap(header, claims, id_jag) {
        return vec![w];
    }
    if !has_id_jag_type(Some(header)) {
        return Vec::new();
    }
    let feature = warn(
        Check::IdJagClientId,
        format!(
            "the assertion is an ID-JAG: Keycloak applies the ID-JAG rules only when the server's feature {ID_JAG_FEATURE} is on, and treats it as a plain assertion otherwise"
        ),
        &format!("check that Keycloak runs with the experimental feature {ID_JAG_FEATURE}"),
    );
    let client = match claims.get("client_id").and_then(Value::as_str) {
        Some(_) => unchecked(Check::IdJagClientId, "the client that authenticates"),
        None => fail(
            Description::IdJagClientMismatch,
            "the ID-JAG has no client_id, so it names no client that may present it".into(),
            "set the ID-JAG's client_id to the client the token request authenticates as",
        ),
    };
    vec![feature, client]
}

/// The provider lookup without the providers: an identity provider's issuer is an http(s)
/// URL, so an `iss` that is none matches no provider.
fn issuer_shape(iss: &str) -> Finding {
    let url = url::Url::parse(iss).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if url {
        return unchecked(Check::IdentityProvider, "the realm's identity providers");
    }
    Finding {
        rejection: Some(Description::NoIdentityProvider),
        ..warn(
            Check::IdentityProvider,
            format!(
                "iss '{iss}' is not an http(s) URL: an identity provider's issuer is one, so no provider can match it"
            ),
            "sign with iss equal to the identity provider's issuer",
        )
    }
}

/// The audience rule without the realm's URL: one `aud` string is required; whether it
/// is the realm's needs the realm.
fn audience_shape(claims: &Value) -> Finding {
    let want = "the realm's URL";
    match audiences(claims).len() {
        0 => fail(
            Description::InvalidAudience,
            "no aud; Keycloak expects the realm's URL (or its token endpoint)".into(),
            "sign with aud the realm's URL, as Keycloak sees its own base URL",
        ),
        1 => unchecked(Check::Audience, want),
        n => multiple_audiences(n, want),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::testing::*;
    use crate::doctor::{Status, diagnose};
    use serde_json::json;

    /// Every finding of [`offline`] for `header` and `claims`, as (name, status, detail).
    fn all(header: Value, claims: Value) -> Vec<(&'static str, Status, String)> {
        offline(&jwt(header, claims), NOW)
            .checks
            .into_iter()
            .map(|f| (f.name, f.status, f.detail))
            .collect()
    }

    fn rs() -> Value {
        json!({"alg": "RS256", "typ": "JWT"})
    }

    #[test]
    fn a_good_assertion_passes_what_can_be_checked() {
        let s = |name, detail: &str| (name, Status::Pass, detail.to_owned());
        assert_eq!(
            all(rs(), good_claims()),
            [
                s("jwt", "the assertion is a JWS with a JSON payload"),
                s("iss", "iss is 'http://localhost:3000'"),
                s("sub", "sub is 'nodejsuser-1234'"),
                (
                    "idp-for-issuer",
                    Status::Skip,
                    "not checked: needs the realm's identity providers".into()
                ),
                s("alg", "alg 'RS256' is allowed"),
                s("exp", "exp is 1800000055 (in 55 s)"),
                s("active", "exp has not passed and nbf is reached"),
                s("iat", "iat is 5 s old, within the maximum of 300 s"),
                s(
                    "jti",
                    "jti 'j1' is present (single use: Keycloak answers 'Token reuse detected' the second time)"
                ),
                (
                    "audience",
                    Status::Skip,
                    "not checked: needs the realm's URL".into()
                ),
            ]
        );
        assert_eq!(offline("x", NOW).order, Order::NEWEST);
    }

    /// `check(header, claims, the failing and warning lines as (name, status, detail))`.
    fn check(header: Value, claims: Value, expected: &[(&str, Status, &str)]) {
        let got: Vec<_> = all(header, claims.clone())
            .into_iter()
            .filter(|(_, s, _)| matches!(s, Status::Fail | Status::Warn))
            .collect();
        let expected: Vec<_> = expected
            .iter()
            .map(|(n, s, d)| (*n, *s, (*d).to_owned()))
            .collect();
        assert_eq!(got, expected, "claims {claims}");
    }

    #[test]
    fn what_the_token_alone_shows() {
        use Status::{Fail, Warn};
        check(rs(), good_claims(), &[]);
        check(
            json!({"alg": "HS256"}),
            good_claims(),
            &[("alg", Fail, "alg 'HS256' is not asymmetric")],
        );
        check(
            rs(),
            with("iss", json!("acme")),
            &[(
                "idp-for-issuer",
                Warn,
                "iss 'acme' is not an http(s) URL: an identity provider's issuer is one, so no provider can match it",
            )],
        );
        check(
            rs(),
            without("aud"),
            &[(
                "audience",
                Fail,
                "no aud; Keycloak expects the realm's URL (or its token endpoint)",
            )],
        );
        check(
            rs(),
            with("aud", json!(["a", "b"])),
            &[("audience", Fail, "aud is an array of 2 values")],
        );
        // One aud in an array is one aud, as Keycloak reads it.
        check(rs(), with("aud", json!(["a"])), &[]);
        // The lifetime rule applies only without iat, as in Keycloak.
        check(rs(), with("exp", json!(NOW + 3600)), &[]);
        let mut long = without("iat");
        long["exp"] = json!(NOW + 3600);
        check(
            rs(),
            long,
            &[(
                "iat",
                Fail,
                "no iat and exp is 3600 s ahead, more than the provider's maximum of 300 s",
            )],
        );
        check(
            rs(),
            without("iat"),
            &[("iat", Warn, "no iat; exp is within the maximum of 300 s")],
        );
        check(
            rs(),
            with("iat", json!(NOW - 301)),
            &[(
                "iat",
                Fail,
                "iat is 301 s old, more than the provider's maximum of 300 s",
            )],
        );
        let jag = json!({"alg": "RS256", "typ": "oauth-id-jag+jwt"});
        let feature = (
            "id-jag-client-id",
            Warn,
            "the assertion is an ID-JAG: Keycloak applies the ID-JAG rules only when the server's feature identity-assertion-jwt is on, and treats it as a plain assertion otherwise",
        );
        check(jag.clone(), with("client_id", json!("agent")), &[feature]);
        check(
            jag.clone(),
            good_claims(),
            &[
                feature,
                (
                    "id-jag-client-id",
                    Fail,
                    "the ID-JAG has no client_id, so it names no client that may present it",
                ),
            ],
        );
        let mut no_iat = with("client_id", json!("agent"));
        no_iat.as_object_mut().map(|c| c.remove("iat"));
        check(
            jag,
            no_iat,
            &[feature, ("iat", Fail, "the ID-JAG has no iat claim")],
        );
        check(
            rs(),
            with("client_id", json!("agent")),
            &[(
                "id-jag-client-id",
                Warn,
                "the assertion carries client_id but its typ is \"JWT\", not oauth-id-jag+jwt: Keycloak accepts it as a plain RFC 7523 assertion and none of the ID-JAG rules apply",
            )],
        );
        assert_eq!(
            all(rs(), json!({})),
            [
                (
                    "jwt",
                    Status::Pass,
                    "the assertion is a JWS with a JSON payload".into()
                ),
                ("iss", Fail, "the assertion has no iss claim".into()),
                ("sub", Fail, "the assertion has no sub claim".into()),
                ("alg", Status::Pass, "alg 'RS256' is allowed".into()),
                ("exp", Fail, "the assertion has no exp claim".into()),
                (
                    "active",
                    Status::Skip,
                    "not checked: a check it depends on failed".into()
                ),
                (
                    "iat",
                    Status::Skip,
                    "not checked: a check it depends on failed".into()
                ),
                ("jti", Fail, "the assertion has no jti claim".into()),
                (
                    "audience",
                    Fail,
                    "no aud; Keycloak expects the realm's URL (or its token endpoint)".into()
                ),
            ]
        );
        let not_a_jwt = offline("not-a-jwt", NOW);
        assert_eq!(
            not_a_jwt
                .first_failure()
                .map(|f| (f.name, f.keycloak_error())),
            Some(("jwt", Some("The provided assertion is not a valid JWT")))
        );
        assert!(
            not_a_jwt.checks[1..]
                .iter()
                .all(|f| f.status == Status::Skip),
            "{not_a_jwt:#?}"
        );
    }

    /// One rule set: where `diagnose`, on a realm with Keycloak's default provider
    /// settings, evaluates a check that `offline` evaluates too, both find the same.
    #[test]
    fn offline_findings_are_the_doctors() {
        let shared = [
            Check::Jwt,
            Check::Issuer,
            Check::Subject,
            Check::Algorithm,
            Check::Expiration,
            Check::Active,
            Check::IssuedAt,
            Check::Jti,
        ];
        let mut cases = vec!["not-a-jwt".to_owned()];
        let edits: [(&str, Value); 12] = [
            ("exp", json!(NOW - 1)),
            ("exp", json!(NOW + 3600)),
            ("exp", json!("soon")),
            ("iat", json!(NOW + 30)),
            ("iat", json!(NOW - 301)),
            ("iat", Value::Null),
            ("nbf", json!(NOW + 30)),
            ("jti", Value::Null),
            ("sub", Value::Null),
            ("client_id", json!("custom-client")),
            ("aud", json!(["a", "b"])),
            ("exp", json!(-1e300)),
        ];
        for header in [
            json!({"alg": "RS256", "typ": "JWT"}),
            json!({"alg": "none"}),
            json!({"alg": "ES256", "typ": "oauth-id-jag+jwt"}),
        ] {
            for (k, v) in &edits {
                let mut c = good_claims();
                if v.is_null() {
                    c.as_object_mut().map(|c| c.remove(*k));
                } else {
                    c[*k] = v.clone();
                }
                cases.push(jwt(header.clone(), c));
            }
        }
        let mut compared = 0;
        for token in &cases {
            let local = offline(token, NOW);
            let doctor = diagnose(&snapshot(), token, NOW, Some(&valid()));
            for f in local.checks.iter().filter(|f| shared.contains(&f.check)) {
                let d = doctor.get(f.name).expect("the doctor has every check");
                if d.status != Status::Skip {
                    assert_eq!(f, d, "{token}");
                    compared += 1;
                }
            }
        }
        // How many pairs the table compares: a rule that starts skipping where the other
        // one decides shows here.
        assert_eq!(compared, 281, "findings compared");
    }
}
