//! The tower layer in an async client (tokio + hyper-util's legacy client) against the real
//! Keycloak: Keycloak's userinfo endpoint with a Bearer and with a DPoP-bound token, and
//! stub resource servers that demand a DPoP nonce or reject a token as `invalid_token`.
//! Run with `cargo xtask e2e`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jwtgrant_e2e::{Seeded, USERNAME, key};
use jwtgrant_exchange::{Exchange, TokenSource};
use jwtgrant_signer::{Algorithm, Signer, verify};
use jwtgrant_test_support::{Reply, Stub};
use jwtgrant_tower::{AuthorizeLayer, BoxError};
use serde_json::Value;
use tower::{Service, ServiceBuilder, ServiceExt};

/// hyper-util's client over plain HTTP (Keycloak and the stubs listen on loopback).
fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A refresh-ahead source for the seeded realm with scope `openid` (userinfo needs it).
fn source(seeded: &Seeded, exchange: Exchange) -> TokenSource {
    TokenSource::signed(
        exchange.scope("openid"),
        seeded.signer.clone(),
        seeded.claims(),
    )
    .refresh_ahead()
}

/// GET `url` through `service`; the status and the body as text.
async fn get<S, B>(service: &mut S, url: &str) -> (StatusCode, String)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>, Error = BoxError>,
    B: hyper::body::Body,
    B::Error: std::fmt::Debug,
{
    let request = Request::get(url).body(Full::default()).unwrap();
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn userinfo_url(seeded: &Seeded) -> String {
    format!("{}/protocol/openid-connect/userinfo", seeded.realm_url())
}

#[tokio::test(flavor = "current_thread")]
async fn a_bearer_token_through_the_layer_reaches_userinfo() {
    let seeded = Seeded::new("tower-bearer", key(Algorithm::ES256));
    let source = source(&seeded, seeded.exchange());
    source.ready().await.expect("first grant");
    let mut service = ServiceBuilder::new()
        .layer(AuthorizeLayer::new(source.clone()))
        .service(client());
    for _ in 0..2 {
        let (status, body) = get(&mut service, &userinfo_url(&seeded)).await;
        assert_eq!(status, 200, "{body}");
        let info: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(info["preferred_username"], USERNAME);
    }
    let stats = source.stats();
    assert_eq!(
        (stats.grants, stats.failures, stats.invalidations),
        (1, 0, 0)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_dpop_bound_token_through_the_layer_reaches_userinfo() {
    let seeded = Seeded::new("tower-dpop", key(Algorithm::ES256));
    seeded.require_dpop();
    let source = source(&seeded, seeded.exchange().dpop(key(Algorithm::ES256)));
    // No `ready()` first: the layer's poll_ready waits for the first grant itself.
    let mut service = ServiceBuilder::new()
        .layer(AuthorizeLayer::new(source.clone()))
        .service(client());
    // Twice: a proof is single use at Keycloak, so the second call needs a fresh one.
    for _ in 0..2 {
        let (status, body) = get(&mut service, &userinfo_url(&seeded)).await;
        assert_eq!(status, 200, "{body}");
        let info: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(info["preferred_username"], USERNAME);
    }
    assert_eq!(source.stats().grants, 1);
}

/// The claims of a request's DPoP proof, verified with `key`.
fn proof_claims(req: &jwtgrant_test_support::Request, key: &Signer) -> Value {
    let proof = req.header("dpop").expect("a DPoP header");
    verify(proof, &key.public_key()).unwrap().claims().clone()
}

#[tokio::test(flavor = "current_thread")]
async fn a_resource_server_demanding_a_nonce_gets_exactly_one_retry_with_it() {
    let seeded = Seeded::new("tower-nonce", key(Algorithm::ES256));
    let dpop_key = key(Algorithm::ES256);
    let source = source(&seeded, seeded.exchange().dpop(dpop_key.clone()));
    let resource = Stub::start(|req, _| {
        match req.header("dpop") {
        Some(proof) if proof_nonce(proof).as_deref() == Some("rs-nonce-1") => {
            Reply::json(200, r#"{"ok":true}"#)
        }
        _ => Reply::status(401)
            .header(
                "WWW-Authenticate",
                r#"DPoP algs="ES256", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#,
            )
            .header("DPoP-Nonce", "rs-nonce-1"),
    }
    });
    let mut service = ServiceBuilder::new()
        .layer(AuthorizeLayer::new(source.clone()))
        .service(client());
    let url = resource.url("/api/items?page=2");
    let (status, body) = get(&mut service, &url).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, r#"{"ok":true}"#));

    let requests = resource.requests();
    assert_eq!(requests.len(), 2, "exactly one retry");
    let token = source.token().unwrap();
    let ath = jwtgrant_signer::sha256_base64url(token.secret().as_bytes());
    for (req, nonce) in requests.iter().zip([None, Some("rs-nonce-1")]) {
        assert_eq!(
            req.header("authorization"),
            Some(format!("DPoP {}", token.secret()).as_str())
        );
        let claims = proof_claims(req, &dpop_key);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], resource.url("/api/items"));
        assert_eq!(claims["ath"], ath.as_str());
        assert_eq!(claims.get("nonce").and_then(Value::as_str), nonce);
    }
    // Two requests, two proofs: never the same one twice.
    assert_ne!(
        proof_claims(&requests[0], &dpop_key)["jti"],
        proof_claims(&requests[1], &dpop_key)["jti"]
    );
}

/// The `nonce` claim of a proof, read without verifying (the stub's only question).
fn proof_nonce(proof: &str) -> Option<String> {
    let decoded = jwtgrant_signer::decode_unverified(proof).ok()?;
    decoded.claims().get("nonce")?.as_str().map(str::to_owned)
}

#[tokio::test(flavor = "current_thread")]
async fn invalid_token_from_a_resource_server_makes_the_next_request_use_a_fresh_token() {
    let seeded = Seeded::new("tower-invalid", key(Algorithm::ES256));
    let source = source(&seeded, seeded.exchange());
    let rejected = Arc::new(Mutex::new(None::<String>));
    let first = Arc::clone(&rejected);
    // Rejects the first token it sees, accepts any other.
    let resource = Stub::start(move |req, _| {
        let auth = req.header("authorization").unwrap_or_default().to_owned();
        let mut first = first.lock().unwrap();
        if first.get_or_insert_with(|| auth.clone()) == &auth {
            Reply::status(401).header(
                "WWW-Authenticate",
                r#"Bearer realm="api", error="invalid_token", error_description="The access token is revoked""#,
            )
        } else {
            Reply::json(200, "{}")
        }
    });
    let mut service = ServiceBuilder::new()
        .layer(AuthorizeLayer::new(source.clone()))
        .service(client());
    let url = resource.url("/api");
    assert_eq!(
        get(&mut service, &url).await.0,
        401,
        "handed on, not retried"
    );
    assert_eq!(get(&mut service, &url).await.0, 200);

    let auth: Vec<String> = resource
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(auth.len(), 2);
    assert_ne!(auth[0], auth[1], "a fresh token");
    assert_eq!(
        auth[1],
        format!("Bearer {}", source.token().unwrap().secret())
    );
    let stats = source.stats();
    assert_eq!((stats.grants, stats.invalidations), (2, 1));
}
