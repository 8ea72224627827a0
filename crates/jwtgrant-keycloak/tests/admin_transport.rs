//! The admin API goes through the same transport policy as the token exchange: plain http to
//! a remote host is refused before a byte is sent, loopback is reached directly even with a
//! proxy configured, and a server behind a private CA is reached with that CA's bundle. The
//! servers here are loopback stubs (fault and policy tests); the e2e suite repeats the TLS
//! case against the real Keycloak.

use std::time::Duration;

use jwtgrant_exchange::{ExchangeError, Transport};
use jwtgrant_keycloak::admin::{AdminError, AdminLogin, AdminSession};
use jwtgrant_test_support::{Reply, Request, Stub};

const LOGIN_PATH: &str = "/realms/master/protocol/openid-connect/token";

/// A stub Keycloak: the admin login answers a token, every realm lookup 404.
fn keycloak_stub(builder: jwtgrant_test_support::StubBuilder) -> Stub {
    builder.start(|req: &Request, _| match req.path() {
        LOGIN_PATH => Reply::json(200, r#"{"access_token":"admin-token","expires_in":60}"#),
        _ => Reply::json(404, r#"{"error":"Realm not found."}"#),
    })
}

/// What a proxy answers, were it ever asked.
fn proxy_stub() -> Stub {
    Stub::replies(vec![Reply::status(502)])
}

fn login(base: &str, transport: Transport) -> Result<AdminSession, AdminError> {
    AdminSession::connect(base, AdminLogin::password("admin", "hunter2"), transport)
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_a_byte_is_sent() {
    let proxy = proxy_stub();
    // Through the proxy, a request to kc.example would reach the proxy stub: it is the only
    // way a byte could leave, and it must not.
    let transport = Transport::new().proxy(proxy.base()).expect("proxy url");
    let err = login("http://kc.example", transport.clone()).expect_err("refused");
    let AdminError::Transport { operation, source } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(source, ExchangeError::InsecureHttp { .. }),
        "{source:?}"
    );
    assert_eq!(
        operation,
        &format!("admin login as 'admin' at http://kc.example{LOGIN_PATH}")
    );
    assert_eq!(
        err.to_string(),
        format!("admin login as 'admin' at http://kc.example{LOGIN_PATH}")
    );
    assert!(!proxy.wait_for(1, Duration::from_millis(300)));
    assert!(!format!("{err:?}").contains("hunter2"));

    // The same login, explicitly allowed, does go out (to the proxy): the refusal above is
    // the policy, not an accident of the setup.
    let allowed = login("http://kc.example", transport.allow_insecure_http(true));
    assert!(allowed.is_err());
    assert!(proxy.wait_for(1, Duration::from_secs(5)));
}

#[test]
fn a_loopback_admin_login_never_goes_through_the_proxy() {
    let proxy = proxy_stub();
    let keycloak = keycloak_stub(Stub::builder());
    let transport = Transport::new().proxy(proxy.base()).expect("proxy url");
    let admin = login(keycloak.base(), transport).expect("direct login");
    assert_eq!(admin.get_realm("r").expect("lookup"), None);
    let seen: Vec<String> = keycloak
        .requests()
        .iter()
        .map(Request::request_line)
        .collect();
    assert_eq!(
        seen,
        [
            format!("POST {LOGIN_PATH} HTTP/1.1"),
            "GET /admin/realms/r HTTP/1.1".to_owned()
        ]
    );
    let login_form = &keycloak.requests()[0];
    assert_eq!(login_form.form("password").as_deref(), Some("hunter2"));
    assert_eq!(login_form.form("client_id").as_deref(), Some("admin-cli"));
    assert!(!proxy.wait_for(1, Duration::from_millis(300)));
}

#[test]
fn the_admin_api_over_tls_with_a_ca_bundle() {
    let keycloak = keycloak_stub(Stub::builder().tls());
    assert!(keycloak.base().starts_with("https://"));
    let transport = Transport::new()
        .ca_bundle_pem(keycloak.ca_pem().as_bytes())
        .expect("the stub's CA");
    let admin = login(keycloak.base(), transport).expect("login over TLS");
    assert_eq!(admin.get_realm("r").expect("lookup"), None);
    assert_eq!(keycloak.count(), 2);

    // Without the bundle the handshake fails, and nothing reaches the server.
    let err = login(keycloak.base(), Transport::new()).expect_err("unknown CA");
    let AdminError::Transport { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(source, ExchangeError::Tls { .. }), "{source:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "admin login as 'admin' at {}{LOGIN_PATH}: no answer from keycloak",
            keycloak.base()
        )
    );
    assert_eq!(keycloak.count(), 2);
}
