//! Keycloak's answers as this crate reads them, replayed by loopback stubs (parsing and
//! faults; the e2e suite gets the same answers from a real Keycloak):
//!
//! - the generic client's error for a Keycloak answer gets Keycloak's hint from [`hint`];
//! - the admin login is one token request through `Exchange`: its answers (a token, a
//!   refusal, something that is no token) become `AdminError`s, and a password the server
//!   echoes back never reaches the error.

use jwtgrant_exchange::{Exchange, ExchangeError, Transport};
use jwtgrant_keycloak::admin::{AdminError, AdminLogin, AdminSession};
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
