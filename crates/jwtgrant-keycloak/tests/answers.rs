//! Keycloak's answers as this crate reads them, replayed by loopback stubs (parsing and
//! faults; the e2e suite gets the same answers from a real Keycloak):
//!
//! - the generic client's error for a Keycloak answer gets Keycloak's hint from [`hint`];
//! - the admin login is one token request through `Exchange`: its answers (a token, a
//!   refusal, something that is no token) become `AdminError`s, and a password the server
//!   echoes back never reaches the error.

use jwtgrant_exchange::{Exchange, ExchangeError, Secret, Transport};
use jwtgrant_keycloak::admin::{
    AdminError, AdminLogin, AdminSession, ClientAuthenticator, IdpKey, JwtClient, JwtIdp,
};
use jwtgrant_keycloak::{Check, hint, rejection_hint};
use jwtgrant_test_support::{Reply, Request, Stub};

const LOGIN_PATH: &str = "/realms/master/protocol/openid-connect/token";

fn rejected_by(status: u16, body: &str) -> ExchangeError {
    let body = body.to_owned();
    let stub = Stub::start(move |_, _| Reply::json(status, body.clone()));
    Exchange::new(&stub.url("/token"))
        .expect("url")
        .client_none("c")
        .exchange("h.p.s")
        .expect_err("refused")
}

#[test]
fn keycloaks_answers_get_keycloaks_hints() {
    for (body, check, needle) in [
        (
            r#"{"error":"invalid_grant","error_description":"User not found"}"#,
            Check::UserLinked,
            "create the user and link it to the IdP with a federated identity whose userId equals the assertion's sub",
        ),
        (
            r#"{"error":"invalid_grant","error_description":"Invalid signature"}"#,
            Check::Signature,
            "useJwksUrl",
        ),
        (
            r#"{"error":"invalid_grant","error_description":"Token reuse detected"}"#,
            Check::Reuse,
            "fresh one (new jti)",
        ),
    ] {
        let err = rejected_by(400, body);
        let ExchangeError::Rejected(r) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(Check::of(r), Some(check), "{body}");
        let h = hint(&err).unwrap_or_default();
        assert!(h.contains(needle), "{body}: {h}");
        assert_eq!(rejection_hint(r), hint(&err));
        // The generic client alone has no word for an invalid_grant it does not know.
        assert_eq!(err.hint(), None, "{body}");
    }
}

#[test]
fn a_404_gets_keycloaks_url_layout() {
    let stub = Stub::start(|_, _| Reply::status(404).body("<html>Not Found</html>"));
    let err = Exchange::new(&stub.url("/auth/realms/r/protocol/openid-connect/token"))
        .expect("url")
        .exchange("h.p.s")
        .expect_err("404");
    assert!(
        matches!(err, ExchangeError::UnexpectedStatus { status: 404, .. }),
        "{err:?}"
    );
    assert_eq!(
        hint(&err),
        Some(jwtgrant_keycloak::rejections::NOT_FOUND_HINT)
    );
    assert_ne!(hint(&err), err.hint());
}

fn admin_stub(login: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Stub {
    Stub::start(move |req: &Request, _| match req.path() {
        LOGIN_PATH => login(req),
        _ => Reply::json(404, r#"{"error":"Realm not found."}"#),
    })
}

fn connect(stub: &Stub) -> Result<AdminSession, AdminError> {
    AdminSession::connect(
        stub.base(),
        AdminLogin::password("admin", "hunter2&co"),
        Transport::new(),
    )
}

#[test]
fn the_admin_login_is_a_password_grant_through_the_exchange() {
    let stub = admin_stub(|_| Reply::json(200, r#"{"access_token":"t","expires_in":60}"#));
    let admin = connect(&stub).expect("login");
    assert_eq!(admin.get_realm("r").expect("404 is None"), None);
    let reqs = stub.requests();
    assert_eq!(reqs[0].path(), LOGIN_PATH);
    assert_eq!(reqs[0].form("grant_type").as_deref(), Some("password"));
    assert_eq!(reqs[0].form("username").as_deref(), Some("admin"));
    assert_eq!(reqs[0].form("password").as_deref(), Some("hunter2&co"));
    assert_eq!(reqs[0].form("client_id").as_deref(), Some("admin-cli"));
    assert_eq!(reqs[1].header("authorization"), Some("Bearer t"));
}

#[test]
fn a_service_account_logs_in_with_client_credentials() {
    let stub = Stub::start(|req: &Request, _| match req.path() {
        "/realms/acme/protocol/openid-connect/token" => {
            Reply::json(200, r#"{"access_token":"sa","expires_in":300}"#)
        }
        _ => Reply::json(404, "{}"),
    });
    let admin =
        AdminSession::client_credentials(stub.base(), "acme", "svc", "s3cret").expect("login");
    assert_eq!(admin.get_realm("acme").expect("404 is None"), None);
    let reqs = stub.requests();
    assert_eq!(
        reqs[0].form("grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(reqs[0].form("client_id").as_deref(), Some("svc"));
    assert_eq!(reqs[0].form("client_secret").as_deref(), Some("s3cret"));
    assert_eq!(reqs[1].header("authorization"), Some("Bearer sa"));
}

#[test]
fn admin_login_answers_become_admin_errors() {
    let login_error = |reply: fn() -> Reply| {
        let stub = admin_stub(move |_| reply());
        let Err(err) = connect(&stub) else {
            panic!("logged in")
        };
        let url = format!("{}{LOGIN_PATH}", stub.base());
        (err, url)
    };

    let (err, url) = login_error(|| {
        Reply::json(
            401,
            r#"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#,
        )
    });
    assert!(
        matches!(&err, AdminError::Login { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "keycloak admin login as 'admin' at {url} failed: HTTP 401: invalid_grant: Invalid user credentials (wrong admin user name or password)"
        )
    );

    // 200 without a usable token: status 0, "not a token" (was: an empty access_token and
    // a body that is not JSON, read by a parser of the session's own).
    for reply in [
        (|| Reply::json(200, r#"{"access_token":""}"#)) as fn() -> Reply,
        || Reply::json(200, "nonsense"),
    ] {
        let (err, url) = login_error(reply);
        let AdminError::Login {
            status: 0,
            token_url,
            principal,
            message: Some(message),
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(token_url, &url);
        assert_eq!(principal, "admin");
        assert!(
            message.starts_with("the answer is not a token: "),
            "{message}"
        );
        assert_eq!(err.status(), None);
    }

    // A 5xx page: its status, its text.
    let (err, _) = login_error(|| Reply::status(503).body("down for maintenance"));
    assert!(
        matches!(&err, AdminError::Login { status: 503, message: Some(m), .. } if m == "down for maintenance"),
        "{err:?}"
    );
}

#[test]
fn an_echoed_admin_password_never_reaches_the_error() {
    let stub = admin_stub(|req| {
        Reply::json(
            401,
            format!(
                r#"{{"error":"invalid_grant","error_description":"bad password {} / {}"}}"#,
                req.form("password").unwrap_or_default(),
                "hunter2%26co"
            ),
        )
    });
    let err = connect(&stub).expect_err("refused");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        matches!(err, AdminError::Login { status: 401, .. }),
        "{err:?}"
    );
}

/// A stub whose admin login hands out `ADMIN_TOKEN` and whose admin endpoints answer
/// `answer(request)`.
fn echoing_admin(answer: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Stub {
    Stub::start(move |req: &Request, _| match req.path() {
        LOGIN_PATH => Reply::json(
            200,
            format!(r#"{{"access_token":"{ADMIN_TOKEN}","expires_in":60}}"#),
        ),
        _ => answer(req),
    })
}

const ADMIN_TOKEN: &str = "adm1n.t0ken.XYZ";

/// What reaches a person from an error: its `Display` and its `Debug`.
fn shown(err: &AdminError) -> String {
    format!("{err} {err:?}")
}

#[test]
fn an_admin_error_body_never_shows_the_admin_token_or_terminal_escapes() {
    // A proxy (or a broken server) that puts the request's Authorization header, and
    // terminal escapes that would clear the screen and retitle the window, in its answer.
    let stub = echoing_admin(|req| {
        let auth = req.header("authorization").unwrap_or_default().to_owned();
        Reply::json(
            403,
            serde_json::json!({"errorMessage": format!("echo {auth} \u{1b}]0;pwned\u{7}\u{1b}[2J done")})
                .to_string(),
        )
    });
    let admin = connect(&stub).expect("login");
    let err = admin.get_realm("r").expect_err("403");
    let text = shown(&err);
    assert!(
        matches!(&err, AdminError::Rejected { status: 403, .. }),
        "{err:?}"
    );
    assert!(!text.contains(ADMIN_TOKEN), "{text}");
    assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
    assert!(
        err.to_string()
            .contains("keycloak answered HTTP 403: echo Bearer [redacted] done"),
        "{err}"
    );

    // Not JSON (an HTML page from a proxy): the same gate, first line only.
    let stub = echoing_admin(|req| {
        let auth = req.header("authorization").unwrap_or_default().to_owned();
        Reply::status(502).body(format!("<p>{auth}\u{1b}[2J</p>\nsecond line"))
    });
    let admin = connect(&stub).expect("login");
    let err = admin.get_realm("r").expect_err("502");
    let text = shown(&err);
    assert!(!text.contains(ADMIN_TOKEN), "{text}");
    assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
    assert!(
        err.to_string().ends_with("'<p>Bearer [redacted]</p>...'"),
        "{err}"
    );
}

#[test]
fn a_pinned_client_secret_echoed_by_a_refused_create_never_shows() {
    let pinned = "pinned-s3cret/\"q\"";
    let stub = echoing_admin(|req| match (req.method.as_str(), req.path()) {
        ("GET", _) => Reply::json(200, "[]"),
        // Keycloak-like JSON error that quotes the whole request body back.
        _ => Reply::json(
            400,
            serde_json::json!({"errorMessage": format!("bad client {}", req.text())}).to_string(),
        ),
    });
    let admin = connect(&stub).expect("login");
    let client = JwtClient::new(
        "svc",
        ClientAuthenticator::Secret(Some(Secret::new(pinned))),
        ["jwt-authorization-grant"],
    );
    let err = admin.ensure_client("r", &client).expect_err("400");
    let text = shown(&err);
    assert!(
        matches!(&err, AdminError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert!(!text.contains("pinned-s3cret"), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
}

#[test]
fn a_plain_http_jwks_url_off_loopback_is_refused_before_anything_is_written() {
    let stub = echoing_admin(|_| Reply::json(404, "{}"));
    let admin = connect(&stub).expect("login");
    let idp = JwtIdp::new(
        "issuer",
        "https://issuer.example",
        IdpKey::JwksUrl("http://issuer.example/jwks".into()),
    );
    let err = admin
        .ensure_jwt_idp("r", &idp)
        .expect_err("http off loopback");
    let AdminError::Transport { operation, source } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        operation,
        "checking the JWKS URL of identity provider 'issuer' in realm 'r'"
    );
    assert!(
        matches!(source, ExchangeError::InsecureHttp { url, .. } if url == "http://issuer.example/jwks"),
        "{source:?}"
    );
    // Only the login went out: nothing was read or written for the provider.
    assert_eq!(stub.requests().len(), 1);

    // Loopback, and https anywhere, are fine; the provider lookup goes out.
    for url in ["http://127.0.0.1:9/jwks", "https://issuer.example/jwks"] {
        let idp = JwtIdp::new(
            "issuer",
            "https://issuer.example",
            IdpKey::JwksUrl(url.into()),
        );
        let err = admin
            .ensure_jwt_idp("r", &idp)
            .expect_err("the stub has no realm");
        assert!(
            !matches!(err, AdminError::Transport { .. }),
            "{url}: {err:?}"
        );
    }
}
