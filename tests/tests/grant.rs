//! The JWT Authorization Grant against a real Keycloak: successes, the seed's three common
//! errors, and the token endpoint's other checks. Run with `cargo xtask e2e`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::{Duration, SystemTime};

use jwtgrant_e2e::{
    CLIENT_ID, IDP_ALIAS, ISSUER, SUB, Seeded, USERNAME, access_claims, assert_rejected,
    doctor_prediction, key,
};
use jwtgrant_exchange::ErrorKind;
use jwtgrant_keycloak::admin::{ClientAuthenticator, JwtClient};
use jwtgrant_keycloak::token_endpoint as keycloak_token_endpoint;
use jwtgrant_signer::{Algorithm, Claims, Jwks, verify_with_jwks};

/// Signs with `alg`, exchanges, and checks the access token Keycloak issued.
fn succeeds_with(alg: Algorithm) {
    let seeded = Seeded::new(&format!("ok-{}", alg.as_str().to_lowercase()), key(alg));
    let assertion = seeded.signer.sign(&seeded.claims()).unwrap();
    assert_eq!(doctor_prediction(&seeded, CLIENT_ID, &assertion), None);
    let token = seeded
        .exchange()
        .exchange(&assertion)
        .expect("Keycloak issues a token");

    assert_eq!(token.token_type, "Bearer");
    assert!(
        token.refresh_token.is_none(),
        "this grant has no refresh token"
    );
    assert!(token.expires_in.is_some_and(|s| s > 0));
    let claims = access_claims(&token);
    assert_eq!(claims["iss"], seeded.realm_url().as_str());
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["preferred_username"], USERNAME);

    // The token really is Keycloak's: its signature verifies with the realm's published keys.
    let certs = jwtgrant_e2e::get_json(&format!(
        "{}/protocol/openid-connect/certs",
        seeded.realm_url()
    ));
    let jwks = signing_keys(&certs);
    verify_with_jwks(token.access_token.secret(), &jwks).expect("signed by the realm");
}

#[test]
fn rs256_assertion_gets_a_token() {
    succeeds_with(Algorithm::RS256);
}

#[test]
fn ps256_assertion_gets_a_token() {
    succeeds_with(Algorithm::PS256);
}

#[test]
fn es256_assertion_gets_a_token() {
    succeeds_with(Algorithm::ES256);
}

#[test]
fn eddsa_assertion_gets_a_token() {
    succeeds_with(Algorithm::EdDSA);
}

// The seed's three "common errors", for real.

#[test]
fn issuer_matching_no_idp_is_rejected() {
    let seeded = Seeded::new("wrong-iss", key(Algorithm::ES256));
    // A trailing slash is enough: Keycloak compares issuers as exact strings.
    let claims = Claims::new(format!("{ISSUER}/"), SUB, seeded.realm_url());
    let assertion = seeded.signer.sign(&claims).unwrap();
    // The doctor, reading the realm's configuration, predicts the same answer.
    assert_eq!(
        doctor_prediction(&seeded, CLIENT_ID, &assertion).as_deref(),
        Some("No Identity Provider for provided issuer")
    );
    let rejection = assert_rejected(
        seeded.exchange().exchange(&assertion),
        400,
        "invalid_grant",
        "No Identity Provider for provided issuer",
    );
    assert!(
        jwtgrant_keycloak::rejection_hint(&rejection)
            .unwrap()
            .contains("exactly"),
        "{rejection:?}"
    );
}

#[test]
fn sub_without_linked_user_is_rejected() {
    let seeded = Seeded::new("no-user", key(Algorithm::ES256));
    let claims = Claims::new(ISSUER, "someone-else", seeded.realm_url());
    let assertion = seeded.signer.sign(&claims).unwrap();
    // The doctor, reading the realm's configuration, predicts the same answer.
    assert_eq!(
        doctor_prediction(&seeded, CLIENT_ID, &assertion).as_deref(),
        Some("User not found")
    );
    let rejection = assert_rejected(
        seeded.exchange().exchange(&assertion),
        400,
        "invalid_grant",
        "User not found",
    );
    assert!(
        jwtgrant_keycloak::rejection_hint(&rejection)
            .unwrap()
            .contains("sub"),
        "{rejection:?}"
    );
}

#[test]
fn assertion_signed_by_another_key_is_rejected() {
    let seeded = Seeded::new("wrong-key", key(Algorithm::ES256));
    let other = key(Algorithm::ES256);
    let assertion = other.sign(&seeded.claims()).unwrap();
    // The doctor, reading the realm's configuration, predicts the same answer.
    assert_eq!(
        doctor_prediction(&seeded, CLIENT_ID, &assertion).as_deref(),
        Some("Invalid signature")
    );
    let rejection = assert_rejected(
        seeded.exchange().exchange(&assertion),
        400,
        "invalid_grant",
        "Invalid signature",
    );
    assert!(
        jwtgrant_keycloak::rejection_hint(&rejection)
            .unwrap()
            .contains("public key"),
        "{rejection:?}"
    );
}

// The token endpoint's other checks.

#[test]
fn expired_assertion_is_rejected() {
    let seeded = Seeded::new("expired", key(Algorithm::ES256));
    let claims = seeded
        .claims()
        .issued_at(SystemTime::now() - Duration::from_secs(120))
        .lifetime(Duration::from_secs(60));
    let assertion = seeded.signer.sign(&claims).unwrap();
    // The doctor, reading the realm's configuration, predicts the same answer.
    assert_eq!(
        doctor_prediction(&seeded, CLIENT_ID, &assertion).as_deref(),
        Some("Token is not active")
    );
    assert_rejected(
        seeded.exchange().exchange(&assertion),
        400,
        "invalid_grant",
        "Token is not active",
    );
}

#[test]
fn audience_other_than_the_realm_is_rejected() {
    let seeded = Seeded::new("bad-aud", key(Algorithm::ES256));
    let claims = Claims::new(ISSUER, SUB, format!("{}/realms/master", seeded.kc.url));
    let assertion = seeded.signer.sign(&claims).unwrap();
    // The doctor, reading the realm's configuration, predicts the same answer.
    assert_eq!(
        doctor_prediction(&seeded, CLIENT_ID, &assertion).as_deref(),
        Some("Invalid token audience")
    );
    assert_rejected(
        seeded.exchange().exchange(&assertion),
        400,
        "invalid_grant",
        "Invalid token audience",
    );
}

#[test]
fn token_endpoint_as_audience_is_accepted() {
    let seeded = Seeded::new("aud-endpoint", key(Algorithm::ES256));
    let endpoint = keycloak_token_endpoint(&seeded.kc.url, &seeded.realm);
    let assertion = seeded
        .signer
        .sign(&Claims::new(ISSUER, SUB, endpoint))
        .unwrap();
    let token = seeded.exchange().exchange(&assertion).expect("accepted");
    assert_eq!(access_claims(&token)["preferred_username"], USERNAME);
}

#[test]
fn replayed_assertion_is_rejected() {
    let seeded = Seeded::new("replay", key(Algorithm::ES256));
    let assertion = seeded.signer.sign(&seeded.claims()).unwrap();
    let exchange = seeded.exchange();
    exchange.exchange(&assertion).expect("first use succeeds");
    assert_rejected(
        exchange.exchange(&assertion),
        400,
        "invalid_grant",
        "Token reuse detected",
    );
}

#[test]
fn assertion_older_than_the_idps_maximum_lifetime_is_rejected() {
    // Keycloak clamps a long `exp` to the provider's maximum when `iat` is present, so what
    // it rejects is an `iat` further back than that maximum.
    let seeded = Seeded::with_idp("max-lifetime", key(Algorithm::ES256), |idp| {
        idp.max_assertion_lifetime(10)
    });
    let claims = seeded
        .claims()
        .issued_at(SystemTime::now() - Duration::from_secs(30))
        .lifetime(Duration::from_secs(120));
    let assertion = seeded.signer.sign(&claims).unwrap();
    // The doctor, reading the realm's configuration, predicts the same answer.
    assert_eq!(
        doctor_prediction(&seeded, CLIENT_ID, &assertion).as_deref(),
        Some("Token was issued too far in the past to be used now")
    );
    assert_rejected(
        seeded.exchange().exchange(&assertion),
        400,
        "invalid_grant",
        "Token was issued too far in the past to be used now",
    );
}

#[test]
fn client_not_allowed_to_use_the_idp_is_rejected() {
    let seeded = Seeded::new("idp-not-allowed", key(Algorithm::ES256));
    let client = JwtClient::new(
        "other-client",
        ClientAuthenticator::Secret(None),
        Vec::<String>::new(),
    );
    let secret = seeded.add_client(&client).unwrap();
    let exchange = jwtgrant_keycloak::exchange(&seeded.kc.url, &seeded.realm)
        .unwrap()
        .client_secret_post("other-client", secret.secret());
    let assertion = seeded.signer.sign(&seeded.claims()).unwrap();
    // The doctor, reading the realm's configuration, predicts the same answer.
    assert_eq!(
        doctor_prediction(&seeded, "other-client", &assertion).as_deref(),
        Some("Identity Provider is not allowed for the client")
    );
    assert_rejected(
        exchange.exchange(&assertion),
        400,
        "invalid_grant",
        "Identity Provider is not allowed for the client",
    );
}

#[test]
fn client_without_the_grant_enabled_is_rejected() {
    let seeded = Seeded::new("grant-off", key(Algorithm::ES256));
    let client = JwtClient::new(
        "no-grant-client",
        ClientAuthenticator::Secret(None),
        [IDP_ALIAS],
    )
    .grant_enabled(false);
    let secret = seeded.add_client(&client).unwrap();
    let exchange = jwtgrant_keycloak::exchange(&seeded.kc.url, &seeded.realm)
        .unwrap()
        .client_secret_post("no-grant-client", secret.secret());
    let assertion = seeded.signer.sign(&seeded.claims()).unwrap();
    // The doctor, reading the realm's configuration, predicts the same answer.
    assert_eq!(
        doctor_prediction(&seeded, "no-grant-client", &assertion).as_deref(),
        Some("JWT Authorization Grant is not supported for the requested client")
    );
    assert_rejected(
        exchange.exchange(&assertion),
        400,
        "invalid_grant",
        "JWT Authorization Grant is not supported for the requested client",
    );
}

#[test]
fn wrong_client_secret_is_invalid_client() {
    let seeded = Seeded::new("bad-secret", key(Algorithm::ES256));
    let exchange = jwtgrant_keycloak::exchange(&seeded.kc.url, &seeded.realm)
        .unwrap()
        .client_secret_post(CLIENT_ID, "not-the-secret");
    let assertion = seeded.signer.sign(&seeded.claims()).unwrap();
    let result = exchange.exchange(&assertion);
    let err = result.as_ref().expect_err("rejected");
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert!(!format!("{err:#}").contains("not-the-secret"), "{err:#}");
    assert_eq!(
        err.to_string(),
        "token endpoint rejected the client: unauthorized_client: \
         Invalid client or Invalid client credentials"
    );
    assert_rejected(
        result,
        401,
        "unauthorized_client",
        "Invalid client or Invalid client credentials",
    );
}

// Client authentication methods.

#[test]
fn client_secret_basic_gets_a_token() {
    let seeded = Seeded::new("basic", key(Algorithm::ES256));
    let exchange = jwtgrant_keycloak::exchange(&seeded.kc.url, &seeded.realm)
        .unwrap()
        .client_secret_basic(CLIENT_ID, seeded.secret.secret());
    let token = exchange
        .exchange_signed(&seeded.signer, &seeded.claims())
        .expect("token");
    assert_eq!(access_claims(&token)["azp"], CLIENT_ID);
}

#[test]
fn private_key_jwt_gets_a_token() {
    let seeded = Seeded::new("pkjwt", key(Algorithm::ES256));
    let client_key = key(Algorithm::RS256).with_kid_thumbprint();
    let client = JwtClient::new(
        "jwt-client",
        ClientAuthenticator::PrivateKeyJwt {
            jwks: client_key.jwks(),
        },
        [IDP_ALIAS],
    );
    assert!(
        seeded.add_client(&client).is_none(),
        "no secret for client-jwt"
    );
    let exchange = jwtgrant_keycloak::exchange(&seeded.kc.url, &seeded.realm)
        .unwrap()
        .private_key_jwt("jwt-client", client_key);
    let token = exchange
        .exchange_signed(&seeded.signer, &seeded.claims())
        .expect("token");
    let claims = access_claims(&token);
    assert_eq!(claims["azp"], "jwt-client");
    assert_eq!(claims["preferred_username"], USERNAME);
}

// Helpers.

/// The realm's signature keys (its JWKS also lists an encryption key, which is not ours
/// to verify with).
fn signing_keys(certs: &serde_json::Value) -> Jwks {
    let keys: Vec<_> = certs["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["use"] == "sig")
        .cloned()
        .collect();
    Jwks::from_value(&serde_json::json!({ "keys": keys })).expect("realm JWKS parses")
}
