//! Provisioning faults a real Keycloak does not produce on demand, replayed by loopback
//! stubs: a dry run that must not write, a server that accepts a write and ignores it, and
//! a link replacement whose second half fails. The e2e suite runs the same calls against a
//! real Keycloak (`tests/tests/cli_keycloak.rs`).

use std::sync::Mutex;

use jwtgrant_exchange::Transport;
use jwtgrant_keycloak::admin::{
    AdminError, AdminLogin, AdminSession, Change, ClientAuthenticator, FieldChange, JwtClient,
    UserSpec,
};
use jwtgrant_test_support::{Reply, Request, Stub};
use serde_json::json;

const LOGIN_PATH: &str = "/realms/master/protocol/openid-connect/token";

/// A stub that logs the admin in and answers everything else with `answer`.
fn admin(answer: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Stub {
    Stub::start(move |req: &Request, _| match req.path() {
        LOGIN_PATH => Reply::json(200, r#"{"access_token":"adm1n-t0ken","expires_in":60}"#),
        _ => answer(req),
    })
}

fn connect(stub: &Stub) -> AdminSession {
    AdminSession::connect(
        stub.base(),
        AdminLogin::password("admin", "pw"),
        Transport::new(),
    )
    .expect("login")
}

/// `METHOD path` of every request after the login.
fn sent(stub: &Stub) -> Vec<String> {
    stub.requests()
        .iter()
        .filter(|r| r.path() != LOGIN_PATH)
        .map(|r| format!("{} {}", r.method, r.path().split('?').next().unwrap_or("")))
        .collect()
}

/// A client an admin hardened after the first setup: certificate authentication, both
/// bindings, a second provider allowed and the standard flow on.
fn hardened_client() -> serde_json::Value {
    json!({
        "id": "c-uuid", "clientId": "svc", "enabled": true, "publicClient": false,
        "bearerOnly": false, "standardFlowEnabled": true,
        "clientAuthenticatorType": "client-x509",
        "attributes": {
            "oauth2.jwt.authorization.grant.enabled": "true",
            "oauth2.jwt.authorization.grant.idp": "other-idp",
            "dpop.bound.access.tokens": "true",
            "tls.client.certificate.bound.access.tokens": "true",
            "x509.subjectdn": "CN=svc"
        }
    })
}

#[test]
fn a_dry_run_reads_plans_field_by_field_and_never_writes() {
    let stub = admin(|req| match req.path().split('?').next().unwrap_or("") {
        "/admin/realms/acme" => Reply::json(200, r#"{"realm":"acme","enabled":true}"#),
        "/admin/realms/acme/clients" => Reply::json(200, json!([hardened_client()]).to_string()),
        // The user does not exist yet; a realm still to be created answers 404.
        "/admin/realms/acme/users" => Reply::json(200, "[]"),
        _ => Reply::json(404, r#"{"error":"Realm not found."}"#),
    });
    let session = connect(&stub).dry_run(true);
    assert!(session.is_dry_run());

    // A realm that does not exist: planned, with the field it would get.
    let realm = session.ensure_realm("new-realm").expect("plan");
    assert_eq!(realm.change, Change::Created);
    assert_eq!(
        realm.fields,
        [FieldChange::new("enabled", None, Some("true".into()))]
    );
    // Reads inside it find nothing, rather than failing.
    let planned = session
        .ensure_client(
            "new-realm",
            &JwtClient::new("svc", ClientAuthenticator::Secret(None), ["jwt"]),
        )
        .expect("plan");
    assert_eq!(planned.outcome.change, Change::Created);
    assert_eq!(planned.id, "");
    assert_eq!(planned.secret, None);

    // A rerun naming one more provider: one field changes, from what to what.
    let rerun =
        JwtClient::new("svc", ClientAuthenticator::Secret(None), ["jwt"]).keep_existing_auth();
    let client = session.ensure_client("acme", &rerun).expect("plan");
    assert_eq!(client.outcome.change, Change::Updated);
    assert_eq!(
        client.outcome.fields,
        [FieldChange::new(
            "oauth2.jwt.authorization.grant.idp",
            Some("other-idp".into()),
            Some("other-idp##jwt".into())
        )]
    );
    assert_eq!(
        client.outcome.to_string(),
        "updated client 'svc' in realm 'acme' (oauth2.jwt.authorization.grant.idp)"
    );
    assert_eq!(
        client.authenticator,
        jwtgrant_keycloak::settings::Authenticator::X509
    );
    let user = session
        .ensure_user("acme", "alice", &UserSpec::new())
        .expect("plan");
    assert_eq!(user.outcome.change, Change::Created);
    let link = session
        .ensure_idp_link("acme", &user.id, "jwt", "alice-1", "alice")
        .expect("plan");
    assert_eq!(link.change, Change::Created);

    // Reads only: not one write went out.
    let requests = sent(&stub);
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.starts_with("GET ")),
        "{requests:?}"
    );
}

#[test]
fn a_dry_run_session_refuses_a_write_should_an_operation_forget() {
    let stub = admin(|_| Reply::status(204));
    let session = connect(&stub).dry_run(true);
    let err = session.delete_realm("acme").expect_err("a dry run");
    assert!(matches!(&err, AdminError::DryRun { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "deleting realm 'acme': not sent, this is a dry run"
    );
    assert!(sent(&stub).is_empty(), "{:?}", sent(&stub));
}

#[test]
fn a_write_the_server_accepts_and_ignores_is_reported_field_by_field() {
    // Answers 204 to the update, and keeps serving the old client.
    let stub = admin(|req| match (req.method.as_str(), req.path()) {
        ("GET", p) if p.starts_with("/admin/realms/acme/clients?") => {
            Reply::json(200, json!([hardened_client()]).to_string())
        }
        ("GET", "/admin/realms/acme/clients/c-uuid") => {
            Reply::json(200, hardened_client().to_string())
        }
        ("PUT", _) => Reply::status(204),
        _ => Reply::json(404, "{}"),
    });
    let session = connect(&stub);
    let wanted = JwtClient::new("svc", ClientAuthenticator::Secret(None), ["jwt"])
        .keep_existing_auth()
        .dpop_bound_tokens(false);
    let err = session.ensure_client("acme", &wanted).expect_err("ignored");
    let AdminError::NotApplied { operation, fields } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(operation, "updating client 'svc' in realm 'acme'");
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        names,
        [
            "oauth2.jwt.authorization.grant.idp",
            "dpop.bound.access.tokens"
        ]
    );
    assert_eq!(
        err.to_string(),
        "updating client 'svc' in realm 'acme': keycloak accepted it, but reading it back shows \
         oauth2.jwt.authorization.grant.idp = 'other-idp' (sent 'other-idp##jwt'), \
         dpop.bound.access.tokens = 'true' (sent 'false') \
         (a Keycloak version or policy that ignores the field?)"
    );
}

#[test]
fn a_link_that_cannot_be_replaced_is_put_back() {
    let links = Mutex::new(vec![
        json!({"identityProvider": "jwt", "userId": "old-sub", "userName": "alice"}),
    ]);
    let stub = admin(move |req| {
        let mut links = links.lock().expect("links");
        let path = req.path().split('?').next().unwrap_or("");
        match (req.method.as_str(), path) {
            ("GET", "/admin/realms/acme/users/u1/federated-identity") => {
                Reply::json(200, json!(*links).to_string())
            }
            // Nobody else holds the new subject.
            ("GET", "/admin/realms/acme/users") => Reply::json(200, "[]"),
            ("DELETE", "/admin/realms/acme/users/u1/federated-identity/jwt") => {
                links.clear();
                Reply::status(204)
            }
            ("POST", "/admin/realms/acme/users/u1/federated-identity/jwt") => {
                let body: serde_json::Value = serde_json::from_str(&req.text()).expect("json");
                if body["userId"] == "new-sub" {
                    return Reply::json(500, r#"{"errorMessage":"unknown_error"}"#);
                }
                links.push(body);
                Reply::status(204)
            }
            _ => Reply::json(404, "{}"),
        }
    });
    let session = connect(&stub);
    let err = session
        .ensure_idp_link("acme", "u1", "jwt", "new-sub", "alice")
        .expect_err("the new link fails");
    let AdminError::Incomplete { source, applied } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(**source, AdminError::Rejected { status: 500, .. }),
        "{source:?}"
    );
    assert_eq!(
        applied,
        "the old link to 'old-sub' was removed and put back: nothing changed"
    );
    assert_eq!(
        sent(&stub),
        [
            "GET /admin/realms/acme/users/u1/federated-identity",
            "GET /admin/realms/acme/users",
            "DELETE /admin/realms/acme/users/u1/federated-identity/jwt",
            "POST /admin/realms/acme/users/u1/federated-identity/jwt",
            "POST /admin/realms/acme/users/u1/federated-identity/jwt",
        ]
    );
    // What stands is the old link, as it was.
    let now = session.get_idp_links("acme", "u1").expect("links");
    assert_eq!(now[0]["userId"], "old-sub");
}
