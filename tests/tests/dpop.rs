//! DPoP (RFC 9449) on the JWT Authorization Grant against a real Keycloak: bound tokens,
//! a client that requires DPoP, bad and replayed proofs, and a bound token used at the
//! userinfo endpoint. Run with `cargo xtask e2e`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use jwtgrant_e2e::{
    CLIENT_ID, Seeded, USERNAME, access_claims, assert_rejected, doctor_prediction,
    doctor_prediction_via, key,
};
use jwtgrant_exchange::{Dpop, Exchange};
use jwtgrant_keycloak::Description;
use jwtgrant_signer::{Algorithm, Signer};
use serde_json::Value;

fn dpop_exchange(seeded: &Seeded, dpop_key: &Signer) -> Exchange {
    seeded.exchange().dpop(dpop_key.clone())
}

/// Keycloak binds the token to the proof's key, for every key type the signer has.
#[test]
fn dpop_bound_token_carries_our_thumbprint() {
    let seeded = Seeded::new("dpop-bound", key(Algorithm::ES256));
    for alg in [
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::EdDSA,
    ] {
        let dpop_key = key(alg);
        let x = dpop_exchange(&seeded, &dpop_key);
        let assertion = seeded.signer.sign(&seeded.claims()).unwrap();
        assert_eq!(
            doctor_prediction_via(&seeded, &x, CLIENT_ID, &assertion),
            None
        );
        let token = x.exchange(&assertion).expect("a DPoP-bound token");
        assert_eq!(token.token_type, "DPoP", "{alg}");
        assert!(token.is_dpop());
        let claims = access_claims(&token);
        assert_eq!(
            claims["cnf"]["jkt"].as_str(),
            Some(dpop_key.thumbprint().as_str()),
            "{alg}"
        );
        assert_eq!(
            token.confirmation().and_then(|c| c.jkt),
            Some(dpop_key.thumbprint())
        );
    }
    // Without a proof the same client gets a plain bearer token.
    let plain = seeded.grant().expect("a bearer token");
    assert_eq!(plain.token_type, "Bearer");
    assert!(access_claims(&plain).get("cnf").is_none());
}

#[test]
fn a_client_requiring_dpop_rejects_a_plain_request() {
    let seeded = Seeded::new("dpop-required", key(Algorithm::ES256));
    seeded.require_dpop();
    let assertion = seeded.signer.sign(&seeded.claims()).unwrap();
    assert_eq!(
        doctor_prediction(&seeded, CLIENT_ID, &assertion).as_deref(),
        Some("DPoP proof is missing")
    );
    let rejection = assert_rejected(
        seeded.exchange().exchange(&assertion),
        400,
        "invalid_request",
        "DPoP proof is missing",
    );
    assert_eq!(Description::of(&rejection), Some(Description::DpopMissing));
    assert_eq!(
        jwtgrant_keycloak::rejection_hint(&rejection),
        Some(
            "the client requires DPoP-bound tokens (dpop.bound.access.tokens): send a DPoP proof with every token request, or turn the requirement off"
        )
    );
    // The proof is checked before the grant: the assertion was not consumed, and the same
    // one succeeds with a proof.
    let dpop_key = key(Algorithm::ES256);
    let x = dpop_exchange(&seeded, &dpop_key);
    let assertion = seeded.signer.sign(&seeded.claims()).unwrap();
    assert_eq!(
        doctor_prediction_via(&seeded, &x, CLIENT_ID, &assertion),
        None
    );
    let token = x.exchange(&assertion).expect("a bound token");
    assert_eq!(token.token_type, "DPoP");
}

/// POSTs the grant with our own `DPoP` header value; returns (status, body).
fn post_with_proof(seeded: &Seeded, proof: &str) -> (u16, Value) {
    let assertion = seeded.signer.sign(&seeded.claims()).unwrap();
    let url = jwtgrant_keycloak::token_endpoint(&seeded.kc.url, &seeded.realm);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut resp = agent
        .post(&url)
        .header("DPoP", proof)
        .send_form([
            ("grant_type", jwtgrant_exchange::JWT_BEARER_GRANT),
            ("assertion", assertion.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", seeded.secret.secret()),
        ])
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    (status, body)
}

/// Keycloak's answer to a bad proof: 400 `invalid_request`, a description our table knows.
#[track_caller]
fn rejected_proof(seeded: &Seeded, proof: &str, description: &str, row: Description) {
    let (status, body) = post_with_proof(seeded, proof);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");
    let got = body["error_description"].as_str().unwrap_or_default();
    assert_eq!(got, description, "{body}");
    assert_eq!(Description::find(got), Some(row), "{got}");
}

#[test]
fn bad_and_replayed_proofs_are_rejected() {
    let seeded = Seeded::new("dpop-bad", key(Algorithm::ES256));
    let dpop = Dpop::new(key(Algorithm::ES256));
    let endpoint = jwtgrant_keycloak::token_endpoint(&seeded.kc.url, &seeded.realm);

    // Replay: the same proof twice.
    let proof = dpop.proof("POST", &endpoint).unwrap();
    let (status, body) = post_with_proof(&seeded, proof.secret());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    rejected_proof(
        &seeded,
        proof.secret(),
        "DPoP proof has already been used",
        Description::DpopReplayed,
    );

    let wrong_method = dpop.proof("GET", &endpoint).unwrap();
    rejected_proof(
        &seeded,
        wrong_method.secret(),
        "DPoP HTTP method mismatch",
        Description::DpopMethodMismatch,
    );
    let wrong_url = dpop
        .proof("POST", &format!("{}/userinfo", seeded.realm_url()))
        .unwrap();
    rejected_proof(
        &seeded,
        wrong_url.secret(),
        "DPoP HTTP URL mismatch",
        Description::DpopUrlMismatch,
    );
    // An assertion where a proof belongs: its typ is JWT.
    let not_a_proof = seeded.signer.sign(&seeded.claims()).unwrap();
    rejected_proof(
        &seeded,
        &not_a_proof,
        "Invalid or missing type in DPoP header: JWT",
        Description::DpopType,
    );
    // A proof whose signature does not match the key in its header.
    let good = dpop.proof("POST", &endpoint).unwrap();
    let other = Dpop::new(key(Algorithm::ES256))
        .proof("POST", &endpoint)
        .unwrap();
    let mut parts: Vec<&str> = good.secret().split('.').collect();
    let forged_sig = other.secret().rsplit('.').next().unwrap();
    parts[2] = forged_sig;
    let (status, body) = post_with_proof(&seeded, &parts.join("."));
    assert_eq!(status, 400, "{body}");
    let got = body["error_description"].as_str().unwrap_or_default();
    assert_eq!(
        Description::find(got),
        Some(Description::DpopVerification),
        "{got}"
    );
    assert_eq!(
        got,
        "DPoP verification failure: org.keycloak.exceptions.TokenSignatureInvalidException: Invalid token signature"
    );
}

/// GET userinfo with `authorization` and an optional `DPoP` header; returns (status, body or
/// WWW-Authenticate).
fn userinfo(url: &str, authorization: &str, proof: Option<&str>) -> (u16, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut req = agent.get(url).header("authorization", authorization);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    let mut resp = req.call().unwrap();
    let status = resp.status().as_u16();
    if status == 401 {
        let www = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        return (status, www);
    }
    (status, resp.body_mut().read_to_string().unwrap())
}

#[test]
fn a_bound_token_works_at_userinfo_only_with_a_fresh_proof() {
    let seeded = Seeded::new("dpop-userinfo", key(Algorithm::ES256));
    let x = dpop_exchange(&seeded, &key(Algorithm::ES256)).scope("openid");
    let token = x.exchange_signed(&seeded.signer, &seeded.claims()).unwrap();
    assert_eq!(token.token_type, "DPoP");
    let at = token.access_token.secret();
    let url = format!("{}/protocol/openid-connect/userinfo", seeded.realm_url());
    let dpop = x.dpop_ref().expect("DPoP is on");

    let proof = dpop.resource_proof("GET", &url, at).unwrap();
    let (status, body) = userinfo(&url, &format!("DPoP {at}"), Some(proof.secret()));
    assert_eq!(status, 200, "{body}");
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["preferred_username"], USERNAME);

    // The same proof again: single use.
    let (status, _) = userinfo(&url, &format!("DPoP {at}"), Some(proof.secret()));
    assert_eq!(status, 401);
    // As a bearer token, or with the DPoP scheme and no proof: refused.
    let (status, www) = userinfo(&url, &format!("Bearer {at}"), None);
    assert_eq!(status, 401, "{www}");
    let (status, www) = userinfo(&url, &format!("DPoP {at}"), None);
    assert_eq!(status, 401, "{www}");
    // A proof from another key: refused.
    let stranger = Dpop::new(key(Algorithm::ES256));
    let proof = stranger.resource_proof("GET", &url, at).unwrap();
    let (status, www) = userinfo(&url, &format!("DPoP {at}"), Some(proof.secret()));
    assert_eq!(status, 401, "{www}");
}
