//! Fault and parsing tests against a loopback stub server started by each test.
//!
//! The stub (`jwtgrant_test_support::Stub`) answers scripted replies; it is not Keycloak and
//! not the end-to-end suite (that one runs against a real Keycloak).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding};
use jwtgrant_exchange::{
    ErrorKind, Exchange, ExchangeError, MAX_TIMEOUT, RetryPolicy, TokenResponse, TokenSource,
    Transport,
};
use jwtgrant_test_support::{Reply, Request, Stub, refused_addr};

fn json(status: u16, body: &str) -> Reply {
    Reply::json(status, body)
}

fn token_json(token: &str, expires_in: u64) -> Reply {
    json(
        200,
        &format!(
            r#"{{"access_token":"{token}","expires_in":{expires_in},"refresh_expires_in":0,"token_type":"Bearer","not-before-policy":0,"scope":"profile"}}"#
        ),
    )
}

/// A JWT-shaped assertion with a fresh `jti` (unsigned: the stub only reads the payload).
fn fake_assertion() -> Result<String, std::io::Error> {
    let header = Base64UrlUnpadded::encode_string(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = serde_json::json!({
        "iss": "https://issuer.example",
        "sub": "user-1",
        "aud": "http://127.0.0.1/realms/r",
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    let payload = Base64UrlUnpadded::encode_string(payload.to_string().as_bytes());
    Ok(format!("{header}.{payload}.c2ln"))
}

/// The `jti` of the assertion in a request, decoded the way Keycloak would read it.
fn jti_of(req: &Request) -> Option<String> {
    let assertion = req.form("assertion")?;
    let payload = assertion.split('.').nth(1)?;
    let bytes = Base64UrlUnpadded::decode_vec(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("jti")?.as_str().map(str::to_owned)
}

fn exchange(url: &str) -> Exchange {
    Exchange::new(url)
        .expect("stub URL parses")
        .client_secret_post("custom-client", "hunter2")
        .retries(RetryPolicy::attempts(3).base_delay(Duration::from_millis(20)))
}

fn no_secret_in(err: &ExchangeError) {
    let text = format!("{err} {err:#} {err:?}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn success_sends_the_exact_form() {
    let stub = Stub::start(|_, _| token_json("tok-1", 300));
    let token: TokenResponse = exchange(&stub.url("/token"))
        .scope("profile")
        .extra_param("audience", "api")
        .exchange("h.p.s")
        .expect("token");
    assert_eq!(token.access_token.secret(), "tok-1");
    assert_eq!(token.expires_in, Some(300));
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].target, "/token");
    assert_eq!(
        reqs[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        reqs[0].text(),
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=h.p.s&scope=profile&client_id=custom-client&client_secret=hunter2&audience=api"
    );
    assert_eq!(reqs[0].header("authorization"), None);
}

#[test]
fn client_secret_basic_goes_in_the_header() {
    let stub = Stub::start(|_, _| token_json("tok", 60));
    Exchange::new(&stub.url("/token"))
        .expect("url")
        .client_secret_basic("custom-client", "se:cret")
        .exchange("h.p.s")
        .expect("token");
    let req = &stub.requests()[0];
    assert_eq!(
        req.header("authorization"),
        Some("Basic Y3VzdG9tLWNsaWVudDpzZSUzQWNyZXQ=") // custom-client:se%3Acret
    );
    assert_eq!(
        req.text(),
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=h.p.s"
    );
}

#[test]
fn refused_connection() {
    let url = format!("http://{}/token", refused_addr());
    let err = exchange(&url)
        .exchange("h.p.s")
        .expect_err("nothing listens");
    assert!(
        matches!(err, ExchangeError::ConnectionRefused { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("cannot connect to {url}: connection refused")
    );
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(err.is_transient());
    no_secret_in(&err);

    // The retrying API tries max_attempts times, each with a new assertion.
    let mut calls = 0;
    let err = exchange(&url)
        .exchange_with(|| {
            calls += 1;
            fake_assertion()
        })
        .expect_err("nothing listens");
    assert!(matches!(err, ExchangeError::ConnectionRefused { .. }));
    assert_eq!(calls, 3);
}

#[test]
fn the_longest_timeouts_are_capped_not_a_panic() {
    // `Duration::MAX` used to panic inside ureq ("overflow when adding duration to
    // instant"); every setter now takes it as MAX_TIMEOUT.
    let stub = Stub::start(|_, _| token_json("tok-max", 300));
    let exchange = exchange(&stub.url("/token"))
        .timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .call_timeout(Duration::MAX);
    assert_eq!(exchange.transport_ref().timeout_limit(), MAX_TIMEOUT);
    let token = exchange.exchange("h.p.s").expect("token");
    assert_eq!(token.access_token.secret(), "tok-max");
    let transport = Transport::new().timeout(Duration::MAX);
    assert_eq!(transport.timeout_limit(), MAX_TIMEOUT);
    assert_eq!(MAX_TIMEOUT, Duration::from_secs(3600));
}

#[test]
fn server_that_never_answers_times_out() {
    let stub = Stub::start(|_, _| Reply::hang());
    // No stopwatch here (timings belong in benchmarks): the message names the 300 ms limit
    // that fired, which the 10 s default would not, and without any limit the call would hang.
    let err = exchange(&stub.url("/token"))
        .timeout(Duration::from_millis(300))
        .exchange("h.p.s")
        .expect_err("no answer");
    assert!(
        matches!(
            err,
            ExchangeError::Timeout {
                connecting: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "timed out after 300ms waiting for {} to answer",
            stub.url("/token")
        )
    );
    assert!(err.is_transient());
}

#[test]
fn html_502_from_a_proxy() {
    let stub = Stub::start(|_, _| {
        Reply::status(502).header("Content-Type", "text/html").body(
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body>\r\n</html>",
        )
    });
    let err = exchange(&stub.url("/token"))
        .exchange("h.p.s")
        .expect_err("502");
    let ExchangeError::UnexpectedStatus {
        status, snippet, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 502);
    assert_eq!(
        snippet,
        "<html> <head><title>502 Bad Gateway</title></head> <body>nginx</body> </html>"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{} answered HTTP 502 Bad Gateway: <html> <head><title>502 Bad Gateway</title></head> <body>nginx</body> </html>",
            stub.url("/token")
        )
    );
    assert_eq!(err.kind(), ErrorKind::BadResponse);
    assert_eq!(stub.count(), 1, "exchange() makes exactly one attempt");
}

#[test]
fn long_html_snippet_is_cut() {
    let page = format!("<html>{}</html>", "ü".repeat(1000));
    let stub = Stub::start(move |_, _| Reply::status(200).body(page.clone()));
    let err = exchange(&stub.url("/token"))
        .exchange("h.p.s")
        .expect_err("html");
    let ExchangeError::NotJson {
        status: 200,
        snippet,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(snippet.chars().count(), 203);
    assert!(snippet.starts_with("<html>üü") && snippet.ends_with("ü..."));
}

#[test]
fn oversized_body() {
    let stub = Stub::start(|_, _| json(200, &format!(r#"{{"pad":"{}"}}"#, "x".repeat(64 * 1024))));
    let err = exchange(&stub.url("/token"))
        .max_response_size(4096)
        .exchange("h.p.s")
        .expect_err("too big");
    assert!(
        matches!(err, ExchangeError::BodyTooLarge { limit: 4096, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{} sent a response body larger than the limit of 4096 bytes",
            stub.url("/token")
        )
    );
}

#[test]
fn json_without_access_token() {
    let stub = Stub::start(|_, _| json(200, r#"{"token_type":"Bearer"}"#));
    let err = exchange(&stub.url("/token"))
        .exchange("h.p.s")
        .expect_err("no token");
    assert!(matches!(
        err,
        ExchangeError::MissingAccessToken { status: 200, .. }
    ));
}

#[test]
fn rate_limited_then_success_honours_retry_after() {
    let stub = Stub::start(|_, i| match i {
        0 => Reply::status(429)
            .header("Retry-After", "1")
            .body("slow down"),
        _ => token_json("after-429", 300),
    });
    let started = Instant::now();
    let token = exchange(&stub.url("/token"))
        .exchange_with(fake_assertion)
        .expect("retried");
    assert_eq!(token.access_token.secret(), "after-429");
    assert_eq!(stub.count(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
}

#[test]
fn retry_after_beyond_the_cap_gives_up() {
    let stub = Stub::start(|_, _| Reply::status(429).header("Retry-After", "3600"));
    let err = exchange(&stub.url("/token"))
        .exchange_with(fake_assertion)
        .expect_err("gives up");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(stub.count(), 1);
}

/// The stub behaves like Keycloak about `jti`: a reused one is rejected.
fn keycloak_like_jti_check() -> impl Fn(&Request, usize) -> Reply + Send + Sync {
    let jtis = Mutex::new(HashSet::new());
    move |req, i| {
        let Some(jti) = jti_of(req) else {
            return json(
                400,
                r#"{"error":"invalid_grant","error_description":"Token jti claim is required"}"#,
            );
        };
        if !jtis.lock().expect("jtis").insert(jti) {
            return json(
                400,
                r#"{"error":"invalid_grant","error_description":"Token reuse detected"}"#,
            );
        }
        if i == 0 {
            Reply::status(503).body("Service Unavailable")
        } else {
            token_json("fresh", 300)
        }
    }
}

#[test]
fn retry_after_503_sends_a_new_jti() {
    let stub = Stub::start(keycloak_like_jti_check());
    let token = exchange(&stub.url("/token"))
        .exchange_with(fake_assertion)
        .expect("the retry carries a new jti");
    assert_eq!(token.access_token.secret(), "fresh");
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 2);
    assert_ne!(jti_of(&reqs[0]), jti_of(&reqs[1]));
}

#[test]
fn invalid_grant_is_not_retried() {
    let stub = Stub::start(|_, _| {
        json(
            400,
            r#"{"error":"invalid_grant","error_description":"User not found"}"#,
        )
    });
    let err = exchange(&stub.url("/token"))
        .exchange_with(fake_assertion)
        .expect_err("rejected");
    assert_eq!(stub.count(), 1);
    let ExchangeError::Rejected(rejection) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(rejection.status, 400);
    assert_eq!(rejection.error, "invalid_grant");
    assert_eq!(
        rejection.error_description.as_deref(),
        Some("User not found")
    );
    assert_eq!(
        err.to_string(),
        "token endpoint rejected the grant: invalid_grant: User not found"
    );
    // This client knows RFC 6749's codes, not Keycloak's descriptions: an invalid_grant
    // gets no hint here (jwtgrant-keycloak's tests give it Keycloak's).
    assert_eq!(err.hint(), None);
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert!(!err.is_transient());
    no_secret_in(&err);
}

#[test]
fn invalid_client_401() {
    let stub = Stub::start(|_, _| {
        json(
            401,
            r#"{"error":"invalid_client","error_description":"Invalid client or Invalid client credentials"}"#,
        )
    });
    let err = exchange(&stub.url("/token"))
        .exchange_with(fake_assertion)
        .expect_err("rejected");
    assert_eq!(stub.count(), 1);
    assert_eq!(err.rejection().map(|r| r.status), Some(401));
    assert!(
        err.hint().is_some_and(
            |h| h.contains("client id and its credentials (secret, key or certificate)")
        )
    );
    no_secret_in(&err);
}

#[test]
fn redirect_is_an_error_that_names_the_target() {
    let stub = Stub::start(|_, _| {
        Reply::status(301).header(
            "Location",
            "https://kc.example/realms/r/protocol/openid-connect/token",
        )
    });
    let err = exchange(&stub.url("/token"))
        .exchange_with(fake_assertion)
        .expect_err("redirect");
    assert_eq!(stub.count(), 1);
    assert_eq!(
        err.to_string(),
        format!(
            "{} answered HTTP 301 Moved Permanently redirecting to 'https://kc.example/realms/r/protocol/openid-connect/token' (redirects are not followed)",
            stub.url("/token")
        )
    );
}

#[test]
fn discovery_finds_the_token_endpoint() {
    let base = Arc::new(Mutex::new(String::new()));
    let base2 = Arc::clone(&base);
    let stub = Stub::start(move |req, _| {
        let base = base2.lock().expect("base").clone();
        match req.target.as_str() {
            "/realms/r/.well-known/openid-configuration" => json(
                200,
                &format!(
                    r#"{{"issuer":"{base}/realms/r","token_endpoint":"{base}/realms/r/protocol/openid-connect/token"}}"#
                ),
            ),
            "/realms/r/protocol/openid-connect/token" => token_json("discovered", 60),
            _ => Reply::status(404).body("not found"),
        }
    });
    *base.lock().expect("base") = stub.base().to_owned();
    let x = Exchange::discover(&stub.url("/realms/r/")).expect("discovered");
    assert_eq!(
        x.token_endpoint(),
        stub.url("/realms/r/protocol/openid-connect/token")
    );
    assert_eq!(x.audience(), Some(stub.url("/realms/r").as_str()));
    let token = x.client_none("c").exchange("h.p.s").expect("token");
    assert_eq!(token.access_token.secret(), "discovered");

    let err = Exchange::discover(&stub.url("/realms/other")).expect_err("404");
    assert_eq!(
        err.to_string(),
        format!(
            "OpenID discovery at {} failed: HTTP 404: not found",
            stub.url("/realms/other/.well-known/openid-configuration")
        )
    );
}

/// A settable monotonic clock: whole seconds after the moment it was made.
fn test_clock(start: u64) -> (Arc<AtomicU64>, impl Fn() -> Instant + Send + Sync + 'static) {
    let base = Instant::now();
    let now = Arc::new(AtomicU64::new(start));
    let now2 = Arc::clone(&now);
    (now, move || {
        base + Duration::from_secs(now2.load(Ordering::SeqCst))
    })
}

#[test]
fn token_source_single_flight_after_expiry() {
    let stub = Stub::start(|_, i| {
        // Slow enough that all 64 threads pile up behind the one refresh.
        thread::sleep(Duration::from_millis(200));
        token_json(&format!("token-{i}"), 300)
    });
    let (now, clock) = test_clock(1_000_000);
    let source = TokenSource::new(exchange(&stub.url("/token")), fake_assertion).clock(clock);

    assert_eq!(source.token().expect("first").secret(), "token-0");
    assert_eq!(source.token().expect("cached").secret(), "token-0");
    assert_eq!(stub.count(), 1);

    now.fetch_add(301, Ordering::SeqCst); // past expiry
    let barrier = Arc::new(Barrier::new(64));
    let handles: Vec<_> = (0..64)
        .map(|_| {
            let source = source.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                source.token().map(|t| t.secret().to_owned())
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("thread").expect("token"), "token-1");
    }
    assert_eq!(stub.count(), 2, "exactly one refresh for 64 threads");
}

#[test]
fn token_source_shares_one_failed_refresh_with_all_waiters() {
    let stub = Stub::start(|_, i| {
        thread::sleep(Duration::from_millis(200));
        match i {
            0 => token_json("token-0", 60),
            _ => json(
                400,
                r#"{"error":"invalid_grant","error_description":"User is not enabled"}"#,
            ),
        }
    });
    let (now, clock) = test_clock(1_000_000);
    let source = TokenSource::new(exchange(&stub.url("/token")), fake_assertion).clock(clock);
    assert_eq!(source.token().expect("first").secret(), "token-0");

    now.fetch_add(61, Ordering::SeqCst); // expired: nothing valid to fall back on
    let barrier = Arc::new(Barrier::new(64));
    let handles: Vec<_> = (0..64)
        .map(|_| {
            let source = source.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                source.token().map(|t| t.secret().to_owned())
            })
        })
        .collect();
    let mut errors = 0;
    for h in handles {
        if let Err(e) = h.join().expect("thread") {
            assert_eq!(
                e.to_string(),
                "token endpoint rejected the grant: invalid_grant: User is not enabled"
            );
            errors += 1;
        }
    }
    assert_eq!(errors, 64);
    eprintln!(
        "single-flight failure: {} requests for 64 threads",
        stub.count()
    );
    // One refresh for the threads that piled up; a straggler that arrived after it ended
    // may start one more, never one per thread.
    assert!(stub.count() <= 3, "{} requests", stub.count());
}

#[test]
fn token_source_serves_valid_token_while_refreshing_and_on_failure() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let stub = Stub::start(move |_, i| match i {
        0 => token_json("old", 300),
        1 => {
            // Hold the refresh until the test says so.
            let _ = release_rx
                .lock()
                .expect("rx")
                .recv_timeout(Duration::from_secs(10));
            Reply::status(503).body("down")
        }
        _ => token_json("new", 300),
    });
    let (now, clock) = test_clock(1_000_000);
    let source = TokenSource::new(
        exchange(&stub.url("/token")).retries(RetryPolicy::never()),
        fake_assertion,
    )
    .clock(clock);
    assert_eq!(source.token().expect("first").secret(), "old");

    now.fetch_add(280, Ordering::SeqCst); // inside the 30 s margin, still valid
    let refresher = {
        let source = source.clone();
        thread::spawn(move || source.token().map(|t| t.secret().to_owned()))
    };
    assert!(
        stub.wait_for(2, Duration::from_secs(10)),
        "the refresh reached the stub"
    );
    // The refresh hangs at the stub; this caller must not wait behind it.
    let (tx, rx) = mpsc::channel();
    {
        let source = source.clone();
        thread::spawn(move || tx.send(source.token().map(|t| t.secret().to_owned())));
    }
    let got = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("did not wait");
    assert_eq!(got.expect("token").as_str(), "old");

    release_tx.send(()).expect("release");
    // The refresh failed (503) while the old token is valid: the old one is served.
    assert_eq!(refresher.join().expect("thread").expect("token"), "old");
    assert_eq!(source.token().expect("cooldown").secret(), "old");
    assert_eq!(stub.count(), 2, "no new attempt during the cooldown");

    now.fetch_add(10, Ordering::SeqCst); // cooldown over, still valid
    assert_eq!(source.token().expect("refreshed").secret(), "new");
    assert_eq!(stub.count(), 3);
}

#[test]
fn token_source_reports_failure_without_a_valid_token() {
    let stub = Stub::start(|_, _| {
        json(
            400,
            r#"{"error":"invalid_grant","error_description":"Invalid signature"}"#,
        )
    });
    let source = TokenSource::new(exchange(&stub.url("/token")), fake_assertion);
    let err = source.token().expect_err("rejected");
    assert_eq!(
        err.hint(),
        None,
        "Keycloak's wording is jwtgrant-keycloak's"
    );
    assert_eq!(
        err.rejection().and_then(|r| r.error_description.as_deref()),
        Some("Invalid signature")
    );
    assert_eq!(stub.count(), 1);
}

#[test]
fn token_source_serves_many_calls_from_one_exchange() {
    // How fast a hit is belongs to `cargo xtask bench`; here only what it does.
    let stub = Stub::start(|_, _| token_json("t", 300));
    let source = TokenSource::new(exchange(&stub.url("/token")), fake_assertion);
    assert_eq!(source.token().expect("first").secret(), "t");
    for _ in 0..10_000 {
        assert_eq!(source.token().expect("cached").secret(), "t");
    }
    assert_eq!(stub.count(), 1);
}

/// A throwaway Ed25519 key for these tests only (it guards nothing).
const TEST_KEY: &[u8] = b"-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJGskD3TojuF8bQAc854D5AWqmARfRePU+faW+wrF/RM
-----END PRIVATE KEY-----
";

fn test_signer() -> jwtgrant_signer::Signer {
    jwtgrant_signer::Signer::from_pem(TEST_KEY).expect("test key")
}

#[test]
fn private_key_jwt_client_assertion_is_signed_and_fresh() {
    let public = test_signer().public_key();
    let stub = Stub::start(move |req, _| {
        // The stub verifies the client assertion like a server would.
        let ok = req.form("client_assertion_type").as_deref()
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            && req.form("client_id").as_deref() == Some("custom-client")
            && req.form("client_secret").is_none()
            && req
                .form("client_assertion")
                .is_some_and(|jwt| jwtgrant_signer::verify(&jwt, &public).is_ok());
        if ok {
            token_json("pkjwt", 60)
        } else {
            json(401, r#"{"error":"invalid_client"}"#)
        }
    });
    let url = stub.url("/token");
    let x = Exchange::new(&url)
        .expect("url")
        .private_key_jwt("custom-client", test_signer());
    assert_eq!(
        x.exchange("h.p.s").expect("token").access_token.secret(),
        "pkjwt"
    );
    x.exchange("h.p.s").expect("second token");

    let claims: Vec<serde_json::Value> = stub
        .requests()
        .iter()
        .map(|r| {
            let jwt = r.form("client_assertion").expect("client assertion");
            jwtgrant_signer::verify(&jwt, &test_signer().public_key())
                .expect("verifies")
                .claims()
                .clone()
        })
        .collect();
    for c in &claims {
        assert_eq!(c["iss"], "custom-client");
        assert_eq!(c["sub"], "custom-client");
        assert_eq!(c["aud"], url.as_str());
        assert_eq!(
            c["exp"].as_u64().unwrap_or(0) - c["iat"].as_u64().unwrap_or(0),
            60
        );
    }
    assert_ne!(
        claims[0]["jti"], claims[1]["jti"],
        "a fresh jti per request"
    );
}

#[test]
fn a_client_assertion_from_another_issuer_is_signed_per_attempt_with_its_claims() {
    let public = test_signer().public_key();
    // First attempt 503, second answered: each attempt carries its own client assertion.
    let stub = Stub::start(move |req, n| {
        let ok = req.form("client_assertion_type").as_deref()
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            && req.form("client_id").as_deref() == Some("custom-client")
            && req.form("client_secret").is_none()
            && req
                .form("client_assertion")
                .is_some_and(|jwt| jwtgrant_signer::verify(&jwt, &public).is_ok());
        match (ok, n) {
            (false, _) => json(401, r#"{"error":"invalid_client"}"#),
            (true, 0) => Reply::status(503).body("busy"),
            (true, _) => token_json("federated", 60),
        }
    });
    let source = jwtgrant_exchange::AssertionSource::signed(
        test_signer(),
        "https://issuer.example",
        "custom-client",
        "https://kc.example/realms/r",
    );
    let x = Exchange::new(&stub.url("/token"))
        .expect("url")
        .client_assertion("custom-client", source)
        .retries(RetryPolicy::attempts(2).base_delay(Duration::from_millis(10)));
    assert!(!format!("{x:?}").contains("BEGIN"));
    let token = x.exchange_with(fake_assertion).expect("token");
    assert_eq!(token.access_token.secret(), "federated");
    let claims: Vec<serde_json::Value> = stub
        .requests()
        .iter()
        .map(|r| {
            let jwt = r.form("client_assertion").expect("client assertion");
            jwtgrant_signer::decode_unverified(&jwt)
                .expect("decodes")
                .claims()
                .clone()
        })
        .collect();
    assert_eq!(claims.len(), 2);
    for c in &claims {
        assert_eq!(c["iss"], "https://issuer.example");
        assert_eq!(c["sub"], "custom-client");
        assert_eq!(c["aud"], "https://kc.example/realms/r");
        assert_eq!(
            c["exp"].as_u64().unwrap_or(0) - c["iat"].as_u64().unwrap_or(0),
            60
        );
    }
    assert_ne!(
        claims[0]["jti"], claims[1]["jti"],
        "a fresh jti per attempt"
    );
}

/// A JWT-shaped token as a workload identity system writes it (unsigned: the stub only
/// reads it).
fn workload_token(name: &str) -> String {
    let payload = serde_json::json!({
        "iss": "https://kubernetes.default.svc",
        "sub": format!("system:serviceaccount:apps:{name}"),
        "exp": 4_102_444_800u64,
    });
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
        Base64UrlUnpadded::encode_string(payload.to_string().as_bytes())
    )
}

#[test]
fn a_client_assertion_file_is_read_again_for_every_attempt() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{}\n", workload_token("one"))).expect("write");
    // The stub rotates the file while answering the first attempt, as kubelet would.
    let rotate = path.clone();
    let stub = Stub::start(move |_, n| {
        if n == 0 {
            std::fs::write(&rotate, workload_token("two")).expect("rotate");
            Reply::status(503).body("busy")
        } else {
            token_json("from-file", 60)
        }
    });
    let x = Exchange::new(&stub.url("/token"))
        .expect("url")
        .client_assertion("billing", jwtgrant_exchange::AssertionSource::file(&path))
        .retries(RetryPolicy::attempts(2).base_delay(Duration::from_millis(10)));
    let token = x.exchange_with(fake_assertion).expect("token");
    assert_eq!(token.access_token.secret(), "from-file");
    let sent: Vec<Option<String>> = stub
        .requests()
        .iter()
        .map(|r| r.form("client_assertion"))
        .collect();
    assert_eq!(
        sent,
        [Some(workload_token("one")), Some(workload_token("two"))]
    );

    // A file that went away fails before anything is sent, naming it.
    std::fs::remove_file(&path).expect("remove");
    let err = x.exchange("h.p.s").expect_err("no file");
    let ExchangeError::ClientAssertionFile { problem, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        *problem,
        jwtgrant_exchange::AssertionFileProblem::Unreadable
    );
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.to_string(),
        format!("client assertion file '{}' cannot be read", path.display())
    );
    assert_eq!(stub.count(), 2);
}

#[test]
fn a_server_echoing_the_request_cannot_leak_the_client_assertion() {
    let stub = Stub::start(|req, _| {
        Reply::status(403)
            .header("Content-Type", "text/html")
            .body(format!(
                "<p>Request blocked: client_assertion={}</p>",
                req.form("client_assertion").unwrap_or_default()
            ))
    });
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("token");
    let token = workload_token("billing");
    std::fs::write(&path, &token).expect("write");
    let err = Exchange::new(&stub.url("/token"))
        .expect("url")
        .client_assertion("billing", jwtgrant_exchange::AssertionSource::file(&path))
        .exchange("h.p.s")
        .expect_err("403");
    let text = format!("{err} {err:#} {err:?}");
    assert!(!text.contains(&token), "{text}");
    assert!(text.contains("client_assertion=[redacted]"), "{text}");
}

#[test]
fn exchange_signed_signs_anew_for_each_attempt() {
    let stub = Stub::start(keycloak_like_jti_check());
    let signer = test_signer();
    let claims = jwtgrant_signer::Claims::new(
        "https://issuer.example",
        "user-1",
        format!("{}/realms/r", stub.base()),
    );
    let token = exchange(&stub.url("/token"))
        .exchange_signed(&signer, &claims)
        .expect("the retry carries a new jti");
    assert_eq!(token.access_token.secret(), "fresh");
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 2);
    assert_ne!(jti_of(&reqs[0]), jti_of(&reqs[1]));

    // And a one-shot exchange of a reused assertion is what Keycloak would reject.
    let assertion = signer.sign(&claims).expect("sign");
    let stub = Stub::start(keycloak_like_jti_check());
    let x = exchange(&stub.url("/token"));
    let _ = x.exchange(&assertion); // first use: the stub answers 503
    let err = x.exchange(&assertion).expect_err("reused");
    assert_eq!(
        err.to_string(),
        "token endpoint rejected the grant: invalid_grant: Token reuse detected"
    );
    assert_eq!(
        err.hint(),
        None,
        "Keycloak's wording is jwtgrant-keycloak's"
    );
}

/// A self-signed CA certificate made for these tests (no key kept anywhere).
const TEST_CA: &[u8] = b"-----BEGIN CERTIFICATE-----
MIIBSjCB/aADAgECAhR93uQfWv5KubPi1vKoKy4n/K/ZQjAFBgMrZXAwGzEZMBcG
A1UEAwwQand0Z3JhbnQgdGVzdCBDQTAeFw0yNjExMjgxMjQ5NDJaFw0zNjExMjUx
MjQ5NDJaMBsxGTAXBgNVBAMMEGp3dGdyYW50IHRlc3QgQ0EwKjAFBgMrZXADIQCf
ZDVIT5WFGwemuiArB71lZLsm+MZpUWHuM1mwlu9l1KNTMFEwHQYDVR0OBBYEFP45
VIXjKbiHeCHaV0MxxbsOULzMMB8GA1UdIwQYMBaAFP45VIXjKbiHeCHaV0MxxbsO
ULzMMA8GA1UdEwEB/wQFMAMBAf8wBQYDK2VwA0EATEDt0kANHYaDyb9ls4bvcYtx
CvKSLwu5Npu8g+X+ooOiDZ1jhW6X1gHGyhxVQBbXmsE/CG8M/TtzAAIx1f3xDw==
-----END CERTIFICATE-----
";

#[test]
fn https_to_a_plain_http_port_is_a_tls_error() {
    // A "server" that answers plain HTTP to whatever arrives, TLS ClientHello included.
    let stub = Stub::builder().speak_first(Reply::raw(
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    ));
    let url = format!("https://localhost:{}/token", stub.port());
    let err = exchange(&url)
        .ca_bundle_pem(TEST_CA)
        .expect("the test CA parses")
        .exchange("h.p.s")
        .expect_err("not TLS");
    assert!(matches!(err, ExchangeError::Tls { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("TLS with {url} failed"));
    assert!(std::error::Error::source(&err).is_some());
    assert!(!err.is_transient());
}

#[test]
fn https_trusts_a_ca_bundle_and_only_that() {
    let stub = Stub::builder()
        .tls()
        .start(|_, _| token_json("over-tls", 60));
    let url = stub.url("/token");
    let token = exchange(&url)
        .ca_bundle_pem(stub.ca_pem().as_bytes())
        .expect("the stub's CA parses")
        .exchange("h.p.s")
        .expect("the stub's certificate chains to the bundle");
    assert_eq!(token.access_token.secret(), "over-tls");
    assert_eq!(stub.count(), 1);

    // Without the bundle the stub's throwaway CA is unknown: a TLS error, no request sent.
    let err = exchange(&url)
        .retries(RetryPolicy::never())
        .exchange("h.p.s")
        .expect_err("unknown CA");
    assert!(matches!(err, ExchangeError::Tls { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("TLS with {url} failed"));
    assert_eq!(stub.count(), 1);
}

#[test]
fn with_the_public_roots_off_only_the_ca_bundle_is_trusted() {
    let stub = Stub::builder()
        .tls()
        .start(|_, _| token_json("company-ca", 60));
    let url = stub.url("/token");
    let token = exchange(&url)
        .transport(
            Transport::new()
                .ca_bundle_pem(stub.ca_pem().as_bytes())
                .expect("the stub's CA parses")
                .webpki_roots(false),
        )
        .exchange("h.p.s")
        .expect("the bundle alone is enough for the stub");
    assert_eq!(token.access_token.secret(), "company-ca");
    // No roots at all: nothing is trusted, the stub included.
    let err = exchange(&url)
        .transport(Transport::new().webpki_roots(false))
        .retries(RetryPolicy::never())
        .exchange("h.p.s")
        .expect_err("no roots");
    assert!(matches!(err, ExchangeError::Tls { .. }), "{err:?}");
}

#[test]
fn mtls_presents_the_client_certificate() {
    let stub = Stub::builder().mtls().start(|_, _| token_json("bound", 60));
    let url = stub.url("/token");
    let with_ca = || {
        Transport::new()
            .ca_bundle_pem(stub.ca_pem().as_bytes())
            .expect("the stub's CA parses")
    };
    let transport = with_ca()
        .client_certificate_pem(
            stub.client_cert_pem().as_bytes(),
            stub.client_key_pem().as_bytes(),
        )
        .expect("the stub's client identity parses");
    // The names a server matches a tls_client_auth client by, read from the certificate
    // rcgen made (a CN-only subject under the stub's CA).
    let names = transport
        .client_certificate()
        .expect("a client certificate");
    assert_eq!(names.subject_dn, "CN=jwtgrant-test-support client");
    assert!(
        names.issuer_dn.starts_with("CN=jwtgrant-test-support "),
        "{names:?}"
    );
    assert_eq!(Transport::new().client_certificate(), None);
    let token = exchange(&url)
        .transport(transport)
        .exchange("h.p.s")
        .expect("mutual TLS");
    assert_eq!(token.access_token.secret(), "bound");
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].client_cert.as_deref(), Some(stub.client_cert_der()));

    // Without a client certificate the stub ends the handshake: no request reaches it. In
    // TLS 1.3 the client's side of the handshake is already done by then, so whether the
    // client reads the server's alert (certificate_required: named as a refused client
    // certificate) or first fails to send the request on the closed connection (a broken
    // pipe) is a race; both are "unreachable".
    let err = exchange(&url)
        .transport(with_ca())
        .retries(RetryPolicy::never())
        .exchange("h.p.s")
        .expect_err("no client certificate");
    assert!(
        matches!(
            err,
            ExchangeError::ClientCertificateRefused {
                presented: false,
                ..
            } | ExchangeError::Connection { .. }
        ),
        "{err:?}"
    );
    assert!(
        [
            format!(
                "{url} requires a client certificate in the TLS handshake, and none was presented"
            ),
            format!("connection to {url} failed")
        ]
        .contains(&err.to_string()),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert_eq!(stub.count(), 1);
}

#[test]
fn bad_ca_bundle_is_a_config_error() {
    let err = Exchange::new("https://kc.example/token")
        .expect("url")
        .ca_bundle_pem(b"not a certificate")
        .expect_err("no certificate");
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.to_string(),
        "cannot use the CA bundle: no '-----BEGIN CERTIFICATE-----' block found"
    );
}

#[test]
fn a_server_echoing_the_request_cannot_leak_the_secret_into_errors() {
    let stub = Stub::start(|req, _| {
        Reply::status(403)
            .header("Content-Type", "text/html")
            .body(format!("<p>Request blocked: {}</p>", req.text()))
    });
    let assertion = fake_assertion().expect("assertion");
    let err = exchange(&stub.url("/token"))
        .exchange(&assertion)
        .expect_err("403");
    let text = format!("{err} {err:#} {err:?}");
    assert!(!text.contains(&assertion), "{text}");
    no_secret_in(&err);
    assert!(text.contains("client_secret=[redacted]"), "{text}");

    // A secret that form-encoding changes is scrubbed in its encoded form too.
    let err = Exchange::new(&stub.url("/token"))
        .expect("url")
        .client_secret_post("custom-client", "p@ss w/rd")
        .exchange(&assertion)
        .expect_err("403");
    let text = format!("{err:?}");
    assert!(!text.contains("p%40ss+w%2Frd"), "{text}");
    assert!(text.contains("client_secret=[redacted]"), "{text}");
}

#[test]
fn the_call_timeout_bounds_every_attempt_and_wait_together() {
    // Accepts, never answers: without a bound for the whole call, three attempts of the
    // per-request timeout each would run back to back.
    let stub = Stub::replies(vec![Reply::hang()]);
    let err = exchange(&stub.url("/token"))
        .timeout(Duration::from_secs(5))
        .call_timeout(Duration::from_millis(600))
        .exchange_with(fake_assertion)
        .expect_err("nothing answers");
    let ExchangeError::Timeout {
        limit, connecting, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    // The request's own limit was cut to the call's budget, not the 5 s per request ...
    assert!(*limit <= Duration::from_millis(600), "{limit:?}");
    assert!(!connecting);
    // ... and no retry started after the budget was spent.
    assert_eq!(stub.count(), 1);
    no_secret_in(&err);

    // A fast failure leaves budget for the retries, which still happen.
    let refused = Stub::replies(vec![
        Reply::status(503).body("down"),
        Reply::status(503).body("down"),
        token_json("late", 60),
    ]);
    let token = exchange(&refused.url("/token"))
        .call_timeout(Duration::from_secs(20))
        .exchange_with(fake_assertion)
        .map(|t| t.access_token.secret().to_owned());
    assert_eq!(token.ok().as_deref(), Some("late"));
    assert_eq!(refused.count(), 3);
}

#[test]
fn a_ten_second_outage_costs_a_handful_of_requests_not_one_per_call() {
    // The token endpoint is down for the whole test; the source has no token to fall back on.
    let stub = Stub::replies(vec![Reply::status(503).body("down")]);
    let base = Instant::now();
    let now_ms = Arc::new(AtomicU64::new(0));
    let clock = {
        let now_ms = Arc::clone(&now_ms);
        move || base + Duration::from_millis(now_ms.load(Ordering::SeqCst))
    };
    let source = TokenSource::new(
        exchange(&stub.url("/token")).retries(RetryPolicy::never()),
        fake_assertion,
    )
    .clock(clock);
    let mut calls = 0;
    // Ten seconds of the clock, ten callers every 100 ms: a thousand calls.
    for _step in 0..100 {
        for _ in 0..10 {
            let err = source.token().expect_err("the endpoint is down");
            assert_eq!(
                err.to_string(),
                format!(
                    "{} answered HTTP 503 Service Unavailable: down",
                    stub.url("/token")
                )
            );
            calls += 1;
        }
        now_ms.fetch_add(100, Ordering::SeqCst);
    }
    assert_eq!(calls, 1000);
    // Attempts at 0 s, then after 1, 2 and 4 s of quiet (t = 1, 3, 7): four requests.
    assert_eq!(stub.count(), 4, "requests during the outage");
}

#[test]
fn refresh_ahead_renews_in_the_background_so_no_caller_waits() {
    // The refresh request blocks at the stub until the test lets it go: were a caller doing
    // it, that caller would block too.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let stub = Stub::start(move |_, i| match i {
        0 => token_json("first", 60),
        1 => {
            let _ = release_rx
                .lock()
                .expect("rx")
                .recv_timeout(Duration::from_secs(10));
            token_json("second", 60)
        }
        _ => token_json("later", 60),
    });
    let (now, clock) = test_clock(1_000);
    let source = TokenSource::new(exchange(&stub.url("/token")), fake_assertion)
        .clock(clock)
        .refresh_ahead();
    assert_eq!(source.token().expect("first fill").secret(), "first");
    assert_eq!(stub.count(), 1);

    // Into the refresh margin (refresh at 30 s, expiry at 60 s): the background thread
    // renews; callers keep getting the cached token at once, even while that request hangs.
    now.fetch_add(35, Ordering::SeqCst);
    assert!(
        stub.wait_for(2, Duration::from_secs(5)),
        "the background thread sent the refresh without any caller"
    );
    for _ in 0..100 {
        assert_eq!(source.token().expect("cached").secret(), "first");
    }
    release_tx.send(()).expect("release the refresh");
    let deadline = Instant::now() + Duration::from_secs(5);
    while source.token().expect("token").secret() != "second" {
        assert!(Instant::now() < deadline, "the refreshed token arrived");
        thread::sleep(Duration::from_millis(10));
    }
    // Once per lifetime: nothing more until the new token's margin.
    thread::sleep(Duration::from_millis(300));
    assert_eq!(stub.count(), 2);
}

/// `token_until` gives the token and its expiry on the source's clock: the send time plus
/// `expires_in`, the same until a refresh replaces the token.
#[test]
fn token_source_says_until_when_its_token_is_valid() {
    let stub = Stub::start(|_, i| token_json(&format!("token-{i}"), 120));
    let (now, clock) = test_clock(5_000);
    let base = clock();
    let source = TokenSource::new(exchange(&stub.url("/token")), fake_assertion).clock(clock);
    let (token, until) = source.token_until().expect("first");
    assert_eq!(token.secret(), "token-0");
    assert_eq!(until, base + Duration::from_secs(120));
    now.fetch_add(50, Ordering::SeqCst);
    let (token, until) = source.token_until().expect("cached");
    assert_eq!(
        (token.secret(), until),
        ("token-0", base + Duration::from_secs(120))
    );
    // Inside the 30 s margin: a new token, with its own expiry.
    now.fetch_add(45, Ordering::SeqCst);
    let (token, until) = source.token_until().expect("refreshed");
    assert_eq!(token.secret(), "token-1");
    assert_eq!(until, base + Duration::from_secs(95 + 120));
    assert_eq!(stub.count(), 2);
}
