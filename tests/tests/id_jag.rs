//! ID-JAG (Identity Assertion JWT Authorization Grant, typ `oauth-id-jag+jwt`) against a real
//! Keycloak 26.7+ started with the experimental feature `identity-assertion-jwt` (as
//! `cargo xtask keycloak start` does). Run with `cargo xtask e2e`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::{SystemTime, UNIX_EPOCH};

use jwtgrant_e2e::{
    CLIENT_ID, ISSUER, SUB, Seeded, USERNAME, access_claims, assert_rejected, doctor_prediction,
    doctor_report, key,
};
use jwtgrant_keycloak::Description;
use jwtgrant_keycloak::doctor::Status;
use jwtgrant_signer::{Algorithm, ID_JAG_TYPE};
use serde_json::json;

#[test]
fn an_id_jag_gets_a_token() {
    let seeded = Seeded::new("idjag-ok", key(Algorithm::ES256));
    let claims = seeded
        .claims()
        .id_jag(CLIENT_ID)
        .resource("https://mcp.example/mcp")
        .scope("read");
    let assertion = seeded.signer.sign(&claims).unwrap();
    let report = doctor_report(&seeded, CLIENT_ID, &assertion);
    assert!(report.ok(), "{report:#?}");
    assert_eq!(
        report.get("id-jag-client-id").map(|c| c.status),
        Some(Status::Pass)
    );
    let token = seeded.exchange().exchange(&assertion).expect("a token");
    assert_eq!(token.token_type, "Bearer");
    let claims = access_claims(&token);
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["preferred_username"], USERNAME);
}

#[test]
fn an_id_jag_for_another_client_is_rejected() {
    let seeded = Seeded::new("idjag-client", key(Algorithm::ES256));
    let assertion = seeded
        .signer
        .sign(&seeded.claims().id_jag("agent-at-the-idp"))
        .unwrap();
    assert_eq!(
        doctor_prediction(&seeded, CLIENT_ID, &assertion).as_deref(),
        Some("client id in assertion :")
    );
    let rejection = assert_rejected(
        seeded.exchange().exchange(&assertion),
        400,
        "invalid_grant",
        "client id in assertion : agent-at-the-idp and client id in request header/body : custom-client",
    );
    assert_eq!(
        Description::of(&rejection),
        Some(Description::IdJagClientMismatch)
    );
}

#[test]
fn an_id_jag_without_iat_is_rejected() {
    let seeded = Seeded::new("idjag-iat", key(Algorithm::ES256));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The signer always sets iat, so this one is built by hand.
    let header = json!({"alg": "ES256", "typ": ID_JAG_TYPE});
    let payload = json!({"iss": ISSUER, "sub": SUB, "aud": seeded.realm_url(),
        "exp": now + 60, "jti": format!("no-iat-{now}"), "client_id": CLIENT_ID});
    let assertion = seeded
        .signer
        .sign_jws(
            header.to_string().as_bytes(),
            payload.to_string().as_bytes(),
        )
        .unwrap();
    assert_eq!(
        doctor_prediction(&seeded, CLIENT_ID, &assertion).as_deref(),
        Some("Token iat claim is required")
    );
    let rejection = assert_rejected(
        seeded.exchange().exchange(&assertion),
        400,
        "invalid_grant",
        "Token iat claim is required",
    );
    assert_eq!(Description::of(&rejection), Some(Description::IatRequired));
}

/// An ID-JAG's jti is single-use even where the provider allows reuse; the same claims as a
/// plain assertion (the trap) may be replayed there.
#[test]
fn an_id_jag_is_single_use_even_when_the_provider_allows_reuse() {
    let seeded = Seeded::with_idp("idjag-reuse", key(Algorithm::ES256), |idp| {
        idp.reuse_allowed(true)
    });
    let jag = seeded
        .signer
        .sign(&seeded.claims().id_jag(CLIENT_ID))
        .unwrap();
    seeded.exchange().exchange(&jag).expect("first use");
    assert_rejected(
        seeded.exchange().exchange(&jag),
        400,
        "invalid_grant",
        "Token reuse detected",
    );
    let plain = seeded
        .signer
        .sign(&seeded.claims().claim("client_id", CLIENT_ID))
        .unwrap();
    seeded.exchange().exchange(&plain).expect("first use");
    seeded
        .exchange()
        .exchange(&plain)
        .expect("a plain assertion may be reused here");
}

/// The trap: ID-JAG claims under `typ: JWT` are a plain assertion, and Keycloak issues a
/// token although `client_id` names another client. The doctor warns.
#[test]
fn id_jag_claims_without_the_typ_are_accepted_as_a_plain_assertion() {
    let seeded = Seeded::new("idjag-trap", key(Algorithm::ES256));
    let assertion = seeded
        .signer
        .sign(&seeded.claims().claim("client_id", "agent-at-the-idp"))
        .unwrap();
    let report = doctor_report(&seeded, CLIENT_ID, &assertion);
    assert!(report.ok(), "{report:#?}");
    let warning = report.get("id-jag-client-id").expect("a warning");
    assert_eq!(warning.status, Status::Warn);
    assert_eq!(
        warning.detail,
        "the assertion carries client_id but its typ is \"JWT\", not oauth-id-jag+jwt: Keycloak accepts it as a plain RFC 7523 assertion and none of the ID-JAG rules apply"
    );
    seeded
        .exchange()
        .exchange(&assertion)
        .expect("accepted as plain");
}
