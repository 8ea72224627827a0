//! Keycloak over HTTPS with a private CA, mutual TLS client authentication and
//! certificate-bound tokens (RFC 8705), against the real server `cargo xtask e2e` starts
//! (HTTPS on port P+363 with the test CA of `target/keycloak/tls`).
//!
//! Needs `KEYCLOAK_HTTPS_URL` and `JWTGRANT_TLS_DIR` besides the plain suite's variables;
//! fails, never skips, without them.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::PathBuf;

use jwtgrant_e2e::{
    CLIENT_ID, IDP_ALIAS, ISSUER, SUB, Seeded, access_claims, assert_rejected, key,
};
use jwtgrant_exchange::{ClientAuth, ErrorKind, Exchange, ExchangeError, Transport};
use jwtgrant_keycloak::admin::{AdminLogin, AdminSession, ClientAuthenticator, JwtClient};
use jwtgrant_keycloak::realm_url as keycloak_realm_url;
use jwtgrant_signer::{Algorithm, Claims};

/// The client certificate's subject and its CA's, as Keycloak compares them (RFC 2253).
const CLIENT_DN: &str = "CN=jwtgrant-e2e-client,O=jwtgrant test";
const CA_DN: &str = "CN=jwtgrant test CA,O=jwtgrant test";

fn env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not set: the TLS suite needs KEYCLOAK_HTTPS_URL and JWTGRANT_TLS_DIR \
             (run it with `cargo xtask e2e`, which starts Keycloak with HTTPS)"
            )
        })
}

fn https_url() -> String {
    env("KEYCLOAK_HTTPS_URL").trim_end_matches('/').to_owned()
}

fn tls_file(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env("JWTGRANT_TLS_DIR")).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A transport trusting the test CA.
fn trusting() -> Transport {
    Transport::new().ca_bundle_pem(&tls_file("ca.pem")).unwrap()
}

/// [`trusting`], presenting `cert` (`client` or `stranger`).
fn presenting(cert: &str) -> Transport {
    trusting()
        .client_certificate_pem(
            &tls_file(&format!("{cert}.pem")),
            &tls_file(&format!("{cert}.key")),
        )
        .unwrap()
}

/// An exchange for `seeded`'s realm at the HTTPS URL, and the claims it needs (`aud` is the
/// realm's HTTPS URL: Keycloak compares it with the URL the request came in on).
fn over_https(seeded: &Seeded, transport: Transport) -> (Exchange, Claims) {
    let base = https_url();
    let ex = jwtgrant_keycloak::exchange(&base, &seeded.realm)
        .unwrap()
        .transport(transport);
    let claims = Claims::new(ISSUER, SUB, keycloak_realm_url(&base, &seeded.realm));
    (ex, claims)
}

/// Adds an mTLS client (`client-x509`) allowed to use the seed's identity provider.
fn x509_client(seeded: &Seeded, client_id: &str, bound: bool) {
    let client = JwtClient::new(
        client_id,
        ClientAuthenticator::X509 {
            subject_dn: CLIENT_DN.into(),
            ca_subject_dn: Some(CA_DN.into()),
        },
        [IDP_ALIAS],
    )
    .certificate_bound_tokens(bound);
    assert_eq!(
        seeded.add_client(&client),
        None,
        "an mTLS client has no secret"
    );
}

#[test]
fn exchange_over_https_with_the_company_ca() {
    let seeded = Seeded::new("tls-ok", key(Algorithm::ES256));
    let (ex, claims) = over_https(&seeded, trusting());
    let ex = ex.client_secret_post(CLIENT_ID, seeded.secret.secret());
    let token = ex.exchange_signed(&seeded.signer, &claims).unwrap();
    let access = access_claims(&token);
    assert_eq!(
        access["iss"],
        keycloak_realm_url(&https_url(), &seeded.realm)
    );
    assert_eq!(token.confirmation(), None, "a plain bearer token");
}

#[test]
fn without_the_ca_the_error_names_the_certificate_problem() {
    let seeded = Seeded::new("tls-noca", key(Algorithm::ES256));
    let (ex, claims) = over_https(&seeded, Transport::new());
    let ex = ex.client_secret_post(CLIENT_ID, seeded.secret.secret());
    let assertion = seeded.signer.sign(&claims).unwrap();
    let err = ex.exchange(&assertion).unwrap_err();
    assert!(matches!(err, ExchangeError::Tls { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert_eq!(
        err.to_string(),
        format!("TLS with {} failed", ex.token_endpoint())
    );
    assert_eq!(
        err.hint(),
        Some(
            "if the server's certificate comes from an internal CA, add that CA as a PEM bundle; check the host name matches the certificate"
        )
    );
    // The cause names what rustls disliked.
    let chain = format!("{err:#}");
    let source = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        source.contains("UnknownIssuer") || source.contains("unknown issuer"),
        "{chain} / {source}"
    );
}

#[test]
fn the_admin_api_over_https_with_the_company_ca() {
    let password = std::env::var("KEYCLOAK_ADMIN_PASSWORD").unwrap();
    let user = std::env::var("KEYCLOAK_ADMIN_USER").unwrap_or_else(|_| "admin".into());
    let admin = AdminSession::connect(
        &https_url(),
        AdminLogin::password(user.as_str(), password.as_str()),
        trusting(),
    )
    .unwrap();
    let realm = jwtgrant_e2e::realm_name("tls-admin");
    assert_eq!(
        admin.ensure_realm(&realm).unwrap().to_string(),
        format!("created realm '{realm}'")
    );
    assert!(admin.get_realm(&realm).unwrap().is_some());
    assert!(admin.delete_realm(&realm).unwrap());

    // Without the CA, nothing is sent: the handshake fails and says so.
    let err = AdminSession::connect(
        &https_url(),
        AdminLogin::password(user.as_str(), password.as_str()),
        Transport::new(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "admin login as '{user}' at {}/realms/master/protocol/openid-connect/token: no answer from keycloak",
            https_url()
        )
    );
}

#[test]
fn tls_client_auth_gets_a_token_without_a_secret() {
    let seeded = Seeded::new("tls-mtls", key(Algorithm::ES256));
    x509_client(&seeded, "mtls-client", false);
    let (ex, claims) = over_https(&seeded, presenting("client"));
    let ex = ex.client_auth(ClientAuth::TlsClientAuth {
        client_id: "mtls-client".into(),
    });
    let token = ex.exchange_signed(&seeded.signer, &claims).unwrap();
    assert_eq!(access_claims(&token)["azp"], "mtls-client");
    assert_eq!(
        token.confirmation(),
        None,
        "not bound unless the client asks"
    );
}

#[test]
fn a_bound_token_carries_our_thumbprint_and_works_only_with_our_certificate() {
    let seeded = Seeded::new("tls-bound", key(Algorithm::ES256));
    x509_client(&seeded, "bound-client", true);
    let transport = presenting("client");
    let ours = transport
        .client_certificate_thumbprint()
        .unwrap()
        .to_owned();
    let (ex, claims) = over_https(&seeded, transport);
    let ex = ex
        .client_auth(ClientAuth::TlsClientAuth {
            client_id: "bound-client".into(),
        })
        .scope("openid");
    let token = ex.exchange_signed(&seeded.signer, &claims).unwrap();
    let cnf = token.confirmation().expect("a bound token has cnf");
    assert_eq!(cnf.x5t_s256.as_deref(), Some(ours.as_str()));
    assert_eq!(
        access_claims(&token)["cnf"]["x5t#S256"],
        ours.as_str(),
        "the same value, read independently"
    );

    let userinfo = format!(
        "{}/protocol/openid-connect/userinfo",
        keycloak_realm_url(&https_url(), &seeded.realm)
    );
    let (status, body) = get_with_token(&userinfo, token.access_token.secret(), true);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["preferred_username"],
        jwtgrant_e2e::USERNAME
    );
    let (status, www) = get_with_token(&userinfo, token.access_token.secret(), false);
    assert_eq!(status, 401);
    assert!(www.contains("invalid_token"), "{www}");
}

#[test]
fn mtls_failures_have_exact_words() {
    let seeded = Seeded::new("tls-fail", key(Algorithm::ES256));
    x509_client(&seeded, "mtls-client", false);

    // No certificate at all: Keycloak cannot authenticate the client.
    let (ex, claims) = over_https(&seeded, trusting());
    let ex = ex.client_none("mtls-client");
    let assertion = seeded.signer.sign(&claims).unwrap();
    let r = assert_rejected(
        ex.exchange(&assertion),
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
    assert!(jwtgrant_keycloak::rejection_hint(&r).is_some());

    // A certificate from a CA Keycloak does not trust: refused in the handshake.
    let (ex, claims) = over_https(&seeded, presenting("stranger"));
    let ex = ex
        .client_auth(ClientAuth::TlsClientAuth {
            client_id: "mtls-client".into(),
        })
        .retries(jwtgrant_exchange::RetryPolicy::attempts(1));
    let err = ex.exchange_signed(&seeded.signer, &claims).unwrap_err();
    // In TLS 1.3 the client may write its request before it reads the server's alert; the
    // write then fails first (a broken pipe: 12 of 30 runs against 26.7.3). Either way no
    // HTTP answer comes back, and each outcome has exact words.
    match &err {
        ExchangeError::ClientCertificateRefused {
            presented: true, ..
        } => assert_eq!(
            format!("{err:#}"),
            format!(
                "{} refused the client certificate in the TLS handshake (hint: the server does not trust the client certificate: use one issued by a CA in the server's truststore)",
                ex.token_endpoint()
            )
        ),
        ExchangeError::Connection {
            client_certificate: true,
            ..
        } => assert_eq!(
            format!("{err:#}"),
            format!(
                "connection to {} failed (hint: the connection broke right under the request: the server may have refused the client certificate (TLS 1.3 reports that only after the request is sent), so check that a CA in its truststore issued it; else check proxies and load balancers in between)",
                ex.token_endpoint()
            )
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Unreachable);

    // tls_client_auth without a certificate: refused before anything is sent.
    let (ex, _) = over_https(&seeded, trusting());
    let err = ex
        .client_auth(ClientAuth::TlsClientAuth {
            client_id: "mtls-client".into(),
        })
        .exchange("never.sent.jwt")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot use the client certificate: tls_client_auth authenticates with a client certificate, and none is set on the transport"
    );
}

#[test]
fn binding_required_without_a_certificate_is_refused() {
    let seeded = Seeded::new("tls-hok", key(Algorithm::ES256));
    let secret = seeded
        .add_client(
            &JwtClient::new("hok-client", ClientAuthenticator::Secret(None), [IDP_ALIAS])
                .certificate_bound_tokens(true),
        )
        .unwrap();
    let (ex, claims) = over_https(&seeded, trusting());
    let ex = ex.client_secret_post("hok-client", secret.secret());
    let assertion = seeded.signer.sign(&claims).unwrap();
    let r = assert_rejected(
        ex.exchange(&assertion),
        400,
        "invalid_request",
        "Client Certification missing for MTLS HoK Token Binding",
    );
    assert!(jwtgrant_keycloak::rejection_hint(&r).is_some());
}

/// GET `url` with a bearer token, presenting the client certificate or not; the status and
/// the body (or, for a 401, the `WWW-Authenticate` header).
fn get_with_token(url: &str, token: &str, with_cert: bool) -> (u16, String) {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
    let ca = Certificate::from_pem(&tls_file("ca.pem")).unwrap();
    let mut tls = TlsConfig::builder().root_certs(RootCerts::from(vec![ca]));
    if with_cert {
        let cert = Certificate::from_pem(&tls_file("client.pem")).unwrap();
        let key = PrivateKey::from_pem(&tls_file("client.key")).unwrap();
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
    }
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls.build())
        .build()
        .new_agent();
    let mut resp = agent
        .get(url)
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
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
