//! `keycloak setup` with proxy variables in the environment: the admin login to a loopback
//! Keycloak goes straight to it, never to the proxy (where the admin password would travel in
//! clear text), and a plain-http login to a remote host is refused before anything is sent.
//! The Keycloak and the proxy are loopback stubs.

use std::time::Duration;

use jwtgrant_test_support::{Reply, Stub};

mod common;

use common::run_in;

/// `jwtgrant keycloak setup` against `keycloak`, with every proxy variable naming `proxy`.
fn setup_through(keycloak: &str, proxy: &Stub) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("jwtgrant-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let r = run_in(
        &dir,
        &[
            "keycloak",
            "setup",
            "--keycloak",
            keycloak,
            "--realm",
            "r",
            "--issuer",
            "https://issuer.example",
            "--jwks-url",
            "https://issuer.example/jwks.json",
            "--client-id",
            "c",
        ],
        &[
            ("KEYCLOAK_ADMIN_PASSWORD", "hunter2"),
            ("HTTPS_PROXY", proxy.base()),
            ("HTTP_PROXY", proxy.base()),
            ("ALL_PROXY", proxy.base()),
        ],
        None,
    );
    let _ = std::fs::remove_dir_all(&dir);
    (r.code, r.stderr)
}

#[test]
fn a_loopback_admin_login_ignores_https_proxy() {
    let proxy = Stub::replies(vec![Reply::status(502)]);
    let keycloak = Stub::replies(vec![Reply::json(
        401,
        r#"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#,
    )]);
    let (code, stderr) = setup_through(keycloak.base(), &proxy);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("keycloak admin login as 'admin' at http://127.0.0.1:")
            && stderr.contains("failed: HTTP 401: invalid_grant: Invalid user credentials (wrong admin user name or password)"),
        "{stderr}"
    );
    assert_eq!(
        keycloak.requests()[0].request_line(),
        "POST /realms/master/protocol/openid-connect/token HTTP/1.1"
    );
    assert!(!proxy.wait_for(1, Duration::from_millis(300)));
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn a_plain_http_admin_login_to_a_remote_host_is_refused_before_anything_is_sent() {
    let proxy = Stub::replies(vec![Reply::status(502)]);
    let (code, stderr) = setup_through("http://kc.example", &proxy);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "jwtgrant: admin login as 'admin' at http://kc.example/realms/master/protocol/openid-connect/token: refusing plain http to 'http://kc.example/realms/master/protocol/openid-connect/token': the host is not loopback and the client credentials would travel in clear text",
            "  hint: use https, or pass --allow-insecure-http if you accept that secrets, passwords and tokens travel in clear text",
        ]
    );
    assert!(!proxy.wait_for(1, Duration::from_millis(300)));
}
