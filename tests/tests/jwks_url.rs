//! The identity provider in JWKS-URL mode against a real Keycloak, including a key rotation.
//! The JWKS is served from a loopback endpoint the test runs; Keycloak fetches it.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::Duration;

use jwtgrant_e2e::{
    JwksEndpoint, Seeded, access_claims, assert_rejected, doctor_prediction, eventually, key,
};
use jwtgrant_keycloak::admin::IdpKey;
use jwtgrant_signer::Algorithm;
use serde_json::json;

#[test]
fn jwks_url_idp_accepts_a_rotated_key() {
    let old = key(Algorithm::RS256).with_kid_thumbprint();
    let new = key(Algorithm::ES256).with_kid_thumbprint();
    let endpoint = JwksEndpoint::start(&json!({ "keys": [old.jwk()] }));
    let url = endpoint.url.clone();
    let seeded = Seeded::with_idp("jwks-url", old.clone(), |mut idp| {
        idp.key = IdpKey::JwksUrl(url);
        idp
    });

    let token = seeded.grant().expect("signed with the published key");
    assert_eq!(
        access_claims(&token)["preferred_username"],
        jwtgrant_e2e::USERNAME
    );
    assert!(endpoint.hits() >= 1, "Keycloak fetched the JWKS");

    // Before the new key is published, Keycloak cannot know it.
    let early = new.sign(&seeded.claims()).unwrap();
    // The doctor fetches the same JWKS URL and comes to the same answer.
    let before = endpoint.hits();
    assert_eq!(
        doctor_prediction(&seeded, jwtgrant_e2e::CLIENT_ID, &early).as_deref(),
        Some("Invalid signature")
    );
    assert!(
        endpoint.hits() > before,
        "the doctor fetched the JWKS itself"
    );
    assert_rejected(
        seeded.exchange().exchange(&early),
        400,
        "invalid_grant",
        "Invalid signature",
    );

    // Rotate: publish both keys. Keycloak refetches a JWKS when an assertion names an
    // unknown kid, at most once per 10 s per provider, so retry with fresh assertions.
    endpoint.publish(&json!({ "keys": [old.jwk(), new.jwk()] }));
    let exchange = seeded.exchange();
    let token = eventually(Duration::from_secs(40), || {
        exchange.exchange(&new.sign(&seeded.claims()).unwrap()).ok()
    })
    .expect("the rotated key is accepted once Keycloak refetches the JWKS");
    assert_eq!(access_claims(&token)["azp"], jwtgrant_e2e::CLIENT_ID);

    // The old key keeps working while it is still published.
    seeded.grant().expect("old key still accepted");
}
