//! DPoP (RFC 9449) at the token endpoint, against the loopback stub: a fresh proof per
//! attempt, the nonce challenge, the `cnf.jkt` check and cached bound tokens. The stub is not
//! Keycloak; the end-to-end suite (`tests/tests/dpop.rs`) runs the same against Keycloak.

use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use jwtgrant_exchange::{Exchange, ExchangeError, RetryPolicy, TokenSource};
use jwtgrant_signer::{Signer, verify};
use jwtgrant_test_support::{Reply, Request, Stub};
use serde_json::{Value, json};

const KEY: &str = include_str!("../../jwtgrant-signer/tests/fixtures/es256-pkcs8.pem");

fn signer() -> Signer {
    Signer::from_pem(KEY.as_bytes()).expect("test key")
}

fn exchange(url: &str) -> Exchange {
    Exchange::new(url)
        .expect("stub URL parses")
        .client_secret_post("custom-client", "hunter2")
        .retries(RetryPolicy::attempts(3).base_delay(Duration::from_millis(20)))
        .dpop(signer())
}

/// A JWT access token carrying `cnf` (unsigned: the client only reads it).
fn bound_token(jkt: &str) -> Reply {
    let payload = Base64UrlUnpadded::encode_string(
        json!({"sub": "u", "cnf": {"jkt": jkt, "kc-jkt-type": "DPoP"}})
            .to_string()
            .as_bytes(),
    );
    Reply::json(
        200,
        format!(r#"{{"access_token":"e30.{payload}.c2ln","token_type":"DPoP","expires_in":300}}"#),
    )
}

/// The verified proof of a request (verified with our public key, as the server would).
fn proof_of(req: &Request) -> (Value, Value) {
    let proof = req.header("dpop").expect("a DPoP header");
    let v = verify(proof, &signer().public_key()).expect("proof verifies");
    (v.header().clone(), v.claims().clone())
}

fn assertion() -> Result<String, std::io::Error> {
    Ok(format!("h.{}.s", uuid::Uuid::new_v4()))
}

#[test]
fn every_attempt_gets_a_fresh_proof_for_the_endpoint() {
    let jkt = signer().thumbprint();
    let stub = Stub::start(move |_, i| match i {
        0 => Reply::status(503),
        _ => bound_token(&jkt),
    });
    let token = exchange(&stub.url("/token?tenant=a"))
        .exchange_with(assertion)
        .expect("token");
    assert!(token.is_dpop());
    assert_eq!(token.token_type, "DPoP");
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 2);
    let (h0, c0) = proof_of(&reqs[0]);
    let (_, c1) = proof_of(&reqs[1]);
    assert_eq!(h0["typ"], "dpop+jwt");
    assert_eq!(h0["alg"], "ES256");
    assert_eq!(h0["jwk"]["kty"], "EC");
    assert!(h0["jwk"].get("d").is_none());
    assert_eq!(c0["htm"], "POST");
    assert_eq!(c0["htu"], stub.url("/token"));
    assert_ne!(c0["jti"], c1["jti"]);
    assert!(c0.get("ath").is_none() && c0.get("nonce").is_none());
}

#[test]
fn a_nonce_challenge_is_answered_once_and_remembered() {
    let jkt = signer().thumbprint();
    let stub = Stub::start(move |req, _| {
        let (_, claims) = proof_of(req);
        match claims.get("nonce").and_then(Value::as_str) {
            Some("n-1") => bound_token(&jkt).header("DPoP-Nonce", "n-2"),
            _ => Reply::json(
                400,
                r#"{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof"}"#,
            )
            .header("DPoP-Nonce", "n-1"),
        }
    });
    let x = exchange(&stub.url("/token"));
    let token = x.exchange("h.p.s").expect("token after the nonce retry");
    assert!(token.is_dpop());
    assert_eq!(stub.count(), 2);
    let reqs = stub.requests();
    assert_eq!(reqs[0].form("assertion"), reqs[1].form("assertion"));
    // The latest nonce (from the success) is kept for the next proof.
    let token_url = stub.url("/token");
    assert_eq!(
        x.dpop_ref().and_then(|d| d.nonce_for(&token_url)),
        Some("n-2".into())
    );
    // A resource server elsewhere never gets the token endpoint's nonce.
    assert_eq!(
        x.dpop_ref()
            .and_then(|d| d.nonce_for("https://rs.example/api")),
        None
    );
}

#[test]
fn a_repeated_nonce_challenge_is_not_answered_forever() {
    let stub = Stub::start(|_, _| {
        Reply::json(400, r#"{"error":"use_dpop_nonce"}"#).header("DPoP-Nonce", "same")
    });
    let err = exchange(&stub.url("/token")).exchange("h.p.s").unwrap_err();
    assert_eq!(
        err.to_string(),
        "token endpoint rejected the grant: use_dpop_nonce"
    );
    assert_eq!(stub.count(), 2);
}

#[test]
fn a_token_bound_to_another_key_is_refused() {
    let stub = Stub::start(|_, _| bound_token("other-thumbprint"));
    let err = exchange(&stub.url("/token")).exchange("h.p.s").unwrap_err();
    assert!(matches!(err, ExchangeError::DpopBinding { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "{} issued a token bound to DPoP key other-thumbprint, not to ours ({})",
            stub.url("/token"),
            signer().thumbprint()
        )
    );
    let plain = Exchange::new(&stub.url("/token"))
        .expect("url")
        .client_secret_post("c", "s")
        .exchange("h.p.s")
        .unwrap_err();
    assert_eq!(
        plain.to_string(),
        format!(
            "{} issued a token bound to DPoP key other-thumbprint, but this client sent no DPoP proof",
            stub.url("/token")
        )
    );
}

#[test]
fn the_proof_never_reaches_an_error_or_debug() {
    let stub = Stub::start(|req, _| {
        let proof = req.header("dpop").unwrap_or_default().to_owned();
        Reply::json(
            400,
            format!(
                r#"{{"error":"invalid_request","error_description":"DPoP verification failure: {proof}"}}"#
            ),
        )
    });
    let err = exchange(&stub.url("/token")).exchange("h.p.s").unwrap_err();
    let proof = stub.requests()[0]
        .header("dpop")
        .unwrap_or_default()
        .to_owned();
    let text = format!("{err} {err:#} {err:?}");
    assert!(!text.contains(&proof), "{text}");
    assert!(text.contains("DPoP verification failure"), "{text}");
}

#[test]
fn token_source_caches_a_bound_token() {
    let jkt = signer().thumbprint();
    let stub = Stub::start(move |_, _| bound_token(&jkt));
    let source = TokenSource::new(exchange(&stub.url("/token")), assertion);
    let a = source.token().expect("first");
    let b = source.token().expect("cached");
    assert_eq!(a.secret(), b.secret());
    assert_eq!(stub.count(), 1);
    assert_eq!(
        source
            .exchange()
            .dpop_ref()
            .map(|d| d.thumbprint().to_owned()),
        Some(signer().thumbprint())
    );
}
