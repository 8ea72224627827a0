//! The layer over a `tower::service_fn` mock of the downstream API, with a loopback stub as
//! the token endpoint, run by the smallest executor (no runtime).

use std::sync::{Arc, Mutex};

use base64ct::{Base64UrlUnpadded, Encoding};
use http::{Request, Response};
use jwtgrant_exchange::{Exchange, ExchangeError, RetryPolicy, TokenSource};
use jwtgrant_test_support::{Reply, Stub, block_on};
use jwtgrant_tower::{AuthorizeLayer, BoxError};
use serde_json::{Value, json};
use tower::{Service, ServiceBuilder, ServiceExt};

const KEY: &str = include_str!("../../jwtgrant-signer/tests/fixtures/es256-pkcs8.pem");

fn signer() -> jwtgrant_signer::Signer {
    jwtgrant_signer::Signer::from_pem(KEY.as_bytes()).expect("test key")
}

fn assertion() -> Result<String, std::io::Error> {
    Ok("h.p.s".to_owned())
}

/// A token endpoint handing out `token-0`, `token-1`, ...: DPoP-bound to the test key when
/// `dpop`, else Bearer.
fn token_endpoint(dpop: bool) -> Stub {
    let jkt = signer().thumbprint();
    Stub::start(move |_, i| {
        if dpop {
            let payload = Base64UrlUnpadded::encode_string(
                json!({"n": i, "cnf": {"jkt": jkt}}).to_string().as_bytes(),
            );
            Reply::json(
                200,
                format!(
                    r#"{{"access_token":"e30.{payload}.c2ln","token_type":"DPoP","expires_in":300}}"#
                ),
            )
        } else {
            Reply::json(
                200,
                format!(r#"{{"access_token":"token-{i}","token_type":"Bearer","expires_in":300}}"#),
            )
        }
    })
}

fn source(stub: &Stub, dpop: bool) -> TokenSource {
    let mut exchange = Exchange::new(&stub.url("/token"))
        .expect("url")
        .client_secret_post("svc", "hunter2")
        .retries(RetryPolicy::attempts(1));
    if dpop {
        exchange = exchange.dpop(signer());
    }
    TokenSource::new(exchange, assertion).refresh_ahead()
}

/// What the downstream API saw of one request.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    authorization: String,
    /// The proof's claims without `jti`/`iat` (verified with the test key).
    proof: Option<Value>,
    body: String,
}

type Script = dyn Fn(usize) -> Response<String> + Send + Sync;

/// A mock downstream API: records each request, answers `script(index)`.
#[allow(clippy::type_complexity)] // the mock's service type, spelled once, here
fn api(
    script: impl Fn(usize) -> Response<String> + Send + Sync + 'static,
) -> (
    Arc<Mutex<Vec<Seen>>>,
    impl Service<Request<String>, Response = Response<String>, Error = BoxError, Future = impl Send>
    + Clone
    + Send
    + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script: Arc<Script> = Arc::new(script);
    let log = Arc::clone(&seen);
    let service = tower::service_fn(move |req: Request<String>| {
        let log = Arc::clone(&log);
        let script = Arc::clone(&script);
        async move {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .map(|v| v.to_str().expect("ascii").to_owned())
            };
            let proof = header("dpop").map(|p| {
                let v = jwtgrant_signer::verify(&p, &signer().public_key()).expect("verifies");
                let mut claims = v.claims().clone();
                let obj = claims.as_object_mut().expect("object");
                obj.remove("jti");
                obj.remove("iat");
                claims
            });
            let mut log = log.lock().expect("log");
            log.push(Seen {
                authorization: header("authorization").unwrap_or_default(),
                proof,
                body: req.body().clone(),
            });
            Ok::<_, BoxError>(script(log.len() - 1))
        }
    });
    (seen, service)
}

fn reply(status: u16, headers: &[(&str, &str)]) -> Response<String> {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(format!("answer {status}")).expect("response")
}

fn send<S>(service: &mut S, body: &str) -> Result<Response<String>, BoxError>
where
    S: Service<Request<String>, Response = Response<String>, Error = BoxError>,
{
    let request = Request::post("https://api.example/v1/items?page=1")
        .body(body.to_owned())
        .expect("request");
    block_on(async { service.ready().await?.call(request).await }).0
}

const USE_NONCE: &str = r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#;

fn ath(token: &str) -> String {
    jwtgrant_signer::sha256_base64url(token.as_bytes())
}

#[test]
fn bearer_tokens_go_in_the_authorization_header() {
    let stub = token_endpoint(false);
    let (seen, api) = api(|_| reply(200, &[]));
    let mut service = ServiceBuilder::new()
        .layer(AuthorizeLayer::new(source(&stub, false)))
        .service(api);
    for body in ["a", "b"] {
        let response = send(&mut service, body).expect("sent");
        assert_eq!(response.body(), "answer 200");
    }
    let want = |body: &str| Seen {
        authorization: "Bearer token-0".into(),
        proof: None,
        body: body.into(),
    };
    assert_eq!(*seen.lock().expect("seen"), [want("a"), want("b")]);
    assert_eq!(stub.count(), 1, "one grant for both requests");
}

#[test]
fn a_nonce_challenge_gets_exactly_one_retry_with_the_nonce() {
    let stub = token_endpoint(true);
    let source = source(&stub, true);
    let (seen, api) = api(|i| match i {
        0 => reply(
            401,
            &[("www-authenticate", USE_NONCE), ("dpop-nonce", "n-1")],
        ),
        _ => reply(200, &[]),
    });
    let mut service = ServiceBuilder::new()
        .layer(AuthorizeLayer::new(source.clone()))
        .service(api);
    let response = send(&mut service, "payload").expect("sent");
    assert_eq!(response.status(), 200);
    // The next request carries the nonce from the start: no challenge, no retry.
    send(&mut service, "next").expect("sent");

    let token = source.token().expect("token");
    let token = token.secret();
    let seen = seen.lock().expect("seen").clone();
    let proof = |nonce: Option<&str>| {
        let mut p =
            json!({"htm": "POST", "htu": "https://api.example/v1/items", "ath": ath(token)});
        if let Some(n) = nonce {
            p["nonce"] = n.into();
        }
        Some(p)
    };
    let want = |nonce, body: &str| Seen {
        authorization: format!("DPoP {token}"),
        proof: proof(nonce),
        body: body.into(),
    };
    assert_eq!(
        seen,
        [
            want(None, "payload"),
            want(Some("n-1"), "payload"),
            want(Some("n-1"), "next")
        ]
    );
}

#[test]
fn a_server_that_keeps_asking_for_a_nonce_gets_one_retry_only() {
    let stub = token_endpoint(true);
    let (seen, api) = api(|i| {
        let nonce = format!("n-{i}");
        reply(
            401,
            &[("www-authenticate", USE_NONCE), ("dpop-nonce", &nonce)],
        )
    });
    let mut service = ServiceBuilder::new()
        .layer(AuthorizeLayer::new(source(&stub, true)))
        .service(api);
    let response = send(&mut service, "x").expect("sent");
    assert_eq!(response.status(), 401);
    let nonces: Vec<Option<Value>> = seen
        .lock()
        .expect("seen")
        .iter()
        .map(|s| s.proof.as_ref().and_then(|p| p.get("nonce").cloned()))
        .collect();
    assert_eq!(nonces, [None, Some(json!("n-0"))]);
}

#[test]
fn without_retry_the_challenge_is_handed_on_and_its_nonce_kept() {
    let stub = token_endpoint(true);
    let (seen, api) = api(|i| match i {
        0 => reply(
            401,
            &[("www-authenticate", USE_NONCE), ("dpop-nonce", "n-1")],
        ),
        _ => reply(200, &[]),
    });
    let mut service = ServiceBuilder::new()
        .layer(AuthorizeLayer::new(source(&stub, true)).without_retry())
        .service(api);
    assert_eq!(send(&mut service, "x").expect("sent").status(), 401);
    assert_eq!(send(&mut service, "x").expect("sent").status(), 200);
    let nonces: Vec<Option<Value>> = seen
        .lock()
        .expect("seen")
        .iter()
        .map(|s| s.proof.as_ref().and_then(|p| p.get("nonce").cloned()))
        .collect();
    assert_eq!(nonces, [None, Some(json!("n-1"))]);
}

#[test]
fn invalid_token_makes_the_next_request_use_a_fresh_token() {
    let stub = token_endpoint(false);
    let (seen, api) = api(|i| match i {
        0 => reply(
            401,
            &[(
                "www-authenticate",
                r#"Bearer realm="api", error="invalid_token", error_description="Token is revoked""#,
            )],
        ),
        _ => reply(200, &[]),
    });
    let source = source(&stub, false);
    let mut service = ServiceBuilder::new()
        .layer(AuthorizeLayer::new(source.clone()))
        .service(api);
    // The rejection is handed on (no retry with the same body) ...
    assert_eq!(send(&mut service, "x").expect("sent").status(), 401);
    // ... and the next request waits in poll_ready for the new token, then uses it.
    assert_eq!(send(&mut service, "y").expect("sent").status(), 200);
    let auth: Vec<String> = seen
        .lock()
        .expect("seen")
        .iter()
        .map(|s| s.authorization.clone())
        .collect();
    assert_eq!(auth, ["Bearer token-0", "Bearer token-1"]);
    assert_eq!(stub.count(), 2);
    assert_eq!(source.stats().invalidations, 1);
}

#[test]
fn no_token_is_the_requests_error_not_the_services() {
    let stub = Stub::start(|_, _| {
        Reply::json(
            401,
            r#"{"error":"invalid_client","error_description":"Invalid client credentials"}"#,
        )
    });
    let (seen, api) = api(|_| reply(200, &[]));
    let mut service = ServiceBuilder::new()
        .layer(AuthorizeLayer::new(source(&stub, false)))
        .service(api);
    for _ in 0..2 {
        let err = send(&mut service, "x").expect_err("no token");
        let err = err.downcast::<ExchangeError>().expect("an ExchangeError");
        assert_eq!(
            err.to_string(),
            "token endpoint rejected the client: invalid_client: Invalid client credentials"
        );
        assert!(!format!("{err:?}").contains("hunter2"));
    }
    assert!(
        seen.lock().expect("seen").is_empty(),
        "nothing sent without a token"
    );
    // The failure backoff: one grant for both requests.
    assert_eq!(stub.count(), 1);
}
