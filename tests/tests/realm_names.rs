//! Realm names that need percent-encoding, against a real Keycloak: the audience we sign,
//! the endpoint we post to, the audience the doctor expects and the issuer Keycloak announces
//! must all be one string. Run with `cargo xtask e2e`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use jwtgrant_e2e::{CLIENT_ID, Seeded, access_claims, doctor_prediction, get_json, key};
use jwtgrant_exchange::keycloak::doctor::Snapshot;
use jwtgrant_signer::{Algorithm, decode_unverified};

/// Provisions a realm whose name contains `label`, then signs, diagnoses and exchanges.
fn grant_in_realm_named(label: &str) {
    let seeded = Seeded::new(label, key(Algorithm::ES256));
    assert!(seeded.realm.contains(label), "{}", seeded.realm);
    let exchange = seeded.exchange();
    let audience = exchange
        .audience()
        .expect("a Keycloak exchange knows its audience");

    // Keycloak's own idea of the realm URL: the issuer in its discovery document.
    let discovery = get_json(&format!("{audience}/.well-known/openid-configuration"));
    assert_eq!(discovery["issuer"], audience, "{label}");
    assert_eq!(
        discovery["token_endpoint"],
        exchange.token_endpoint(),
        "{label}"
    );

    let assertion = seeded.signer.sign(&seeded.claims()).unwrap();
    let decoded = decode_unverified(&assertion).unwrap();
    let claims = decoded.claims();
    assert_eq!(claims["aud"], audience, "{label}");
    let doctor = Snapshot::new(&seeded.kc.url, &seeded.realm, CLIENT_ID);
    assert_eq!(
        doctor.expected_audiences,
        [audience, exchange.token_endpoint()],
        "{label}"
    );
    assert_eq!(doctor_prediction(&seeded, CLIENT_ID, &assertion), None);

    let token = exchange
        .exchange(&assertion)
        .unwrap_or_else(|e| panic!("realm named with {label:?}: {e:#}"));
    assert_eq!(access_claims(&token)["iss"], audience, "{label}");
}

#[test]
fn a_space() {
    grant_in_realm_named("team a");
}

#[test]
fn a_percent_sign() {
    grant_in_realm_named("100%");
}

#[test]
fn non_ascii() {
    grant_in_realm_named("café-ü");
}

#[test]
fn an_apostrophe_keycloak_leaves_unencoded() {
    grant_in_realm_named("it's");
}
