//! What the doctor's unit tests share: a seeded realm's snapshot, assertions built from
//! header and claims, and helpers that run the checks.

use serde_json::{Value, json};

use super::*;
use crate::settings::client::{ALLOWED_IDPS, CA_SUBJECT_DN, DN_REGEX, GRANT_ENABLED, SUBJECT_DN};
use crate::settings::idp::PROVIDER_ID;
use crate::settings::{ClientSettings, IdpSettings, UserSettings};
use jwtgrant_exchange::PresentedCertificate;

pub(super) const NOW: i64 = 1_800_000_000;
pub(super) const BASE: &str = "http://localhost:8080";

pub(super) fn b64(v: &Value) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding as _};
    Base64UrlUnpadded::encode_string(v.to_string().as_bytes())
}

pub(super) fn jwt(header: Value, claims: Value) -> String {
    format!("{}.{}.c2ln", b64(&header), b64(&claims))
}

pub(super) fn good_claims() -> Value {
    json!({"iss": "http://localhost:3000", "sub": "nodejsuser-1234",
           "aud": "http://localhost:8080/realms/acme", "jti": "j1",
           "iat": NOW - 5, "exp": NOW + 55})
}

/// The seed's provider, as the admin API serves it.
pub(super) fn idp() -> Value {
    json!({"alias": "jwt-authorization-grant", "providerId": PROVIDER_ID, "enabled": true,
           "config": {"issuer": "http://localhost:3000", "publicKeySignatureVerifier": "MIIB..."}})
}

pub(super) fn snapshot() -> Snapshot {
    let mut s = Snapshot::new(BASE, "acme", "custom-client");
    s.client = Some(ClientSettings::from_json(
        &json!({"clientId": "custom-client", "publicClient": false,
        "attributes": {GRANT_ENABLED: "true", ALLOWED_IDPS: "other##jwt-authorization-grant"}}),
    ));
    s.idps = [
        json!({"alias": "google", "providerId": "google", "config": {}}),
        idp(),
    ]
    .iter()
    .map(IdpSettings::from_json)
    .collect();
    s.user = Some(UserSettings::from_json(
        &json!({"username": "alice", "enabled": true, "requiredActions": []}),
    ));
    s.user_looked_up = true;
    s
}

pub(super) fn valid() -> SignatureOutcome {
    SignatureOutcome::Valid("the provider's static key".into())
}

/// Runs the checks and returns (first failing check, its Keycloak error).
pub(super) fn first(
    snap: &Snapshot,
    token: &str,
    sig: Option<&SignatureOutcome>,
) -> Option<(&'static str, Option<&'static str>)> {
    let r = diagnose(snap, token, NOW, sig);
    r.first_failure().map(|c| (c.name, c.keycloak_error()))
}

pub(super) fn check(
    snap: Snapshot,
    claims: Value,
    sig: SignatureOutcome,
    expected: Option<(&'static str, &'static str)>,
) {
    let token = jwt(json!({"alg": "RS256", "typ": "JWT"}), claims.clone());
    let got = first(&snap, &token, Some(&sig));
    assert_eq!(got, expected.map(|(n, e)| (n, Some(e))), "claims {claims}");
}

pub(super) const CLIENT_DN: &str = "CN=jwtgrant-e2e-client,O=jwtgrant test";
pub(super) const CA_DN: &str = "CN=jwtgrant test CA,O=jwtgrant test";

/// The seed's snapshot with a certificate client (`client-x509`) and what it presents.
pub(super) fn mtls(attributes: Value, presented: Option<PresentedCertificate>) -> Snapshot {
    let mut s = snapshot();
    let mut attrs = json!({GRANT_ENABLED: "true", ALLOWED_IDPS: "jwt-authorization-grant",
        SUBJECT_DN: CLIENT_DN, DN_REGEX: "false", CA_SUBJECT_DN: CA_DN});
    for (k, v) in attributes.as_object().unwrap() {
        attrs[k] = v.clone();
    }
    s.client = Some(ClientSettings::from_json(
        &json!({"clientId": "custom-client", "publicClient": false,
        "clientAuthenticatorType": "client-x509", "attributes": attrs}),
    ));
    s.presented_certificate = presented;
    s
}

pub(super) fn ours() -> Option<PresentedCertificate> {
    Some(PresentedCertificate::new(CLIENT_DN, CA_DN))
}

/// The first failure's name, detail, fix and Keycloak's words, for a good assertion.
pub(super) fn failure(
    s: &Snapshot,
    sig: &SignatureOutcome,
) -> Option<(&'static str, String, String, &'static str)> {
    let r = diagnose(
        s,
        &jwt(json!({"alg": "RS256"}), good_claims()),
        NOW,
        Some(sig),
    );
    r.first_failure().map(|c| {
        (
            c.name,
            c.detail.clone(),
            c.fix.clone().unwrap_or_default(),
            c.keycloak_error().unwrap_or_default(),
        )
    })
}

/// The seed's claims with `name` set to `value`.
pub(super) fn with(name: &str, value: Value) -> Value {
    let mut c = good_claims();
    c[name] = value;
    c
}

/// The seed's claims without `name`.
pub(super) fn without(name: &str) -> Value {
    let mut c = good_claims();
    c.as_object_mut().map(|c| c.remove(name));
    c
}

/// The seed's client, to edit its settings.
pub(super) fn client_of(s: &mut Snapshot) -> &mut ClientSettings {
    s.client.as_mut().expect("the seed has a client")
}

pub(super) const INVALID_CLIENT: &str = "Invalid client or Invalid client credentials";

pub(super) fn at_version(version: &str) -> Snapshot {
    let mut s = snapshot();
    s.server_version = Version::parse(version);
    s
}
