//! Shared fixtures for the end-to-end suite: a real Keycloak over real HTTP.
//!
//! `cargo xtask e2e` starts (or reuses) Keycloak and runs this package with
//! `KEYCLOAK_URL`, `KEYCLOAK_ADMIN_USER` and `KEYCLOAK_ADMIN_PASSWORD` set, and
//! `KEYCLOAK_URL_26_5` for a 26.5 server (same admin) that the doctor's version-order tests
//! also run against. Without them every test fails with a message saying how to run it: the
//! suite never skips.
//!
//! Each test provisions its own realm (named after the test, deleted on drop), so tests
//! run in parallel without seeing each other's identity providers, clients or `jti`s.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    reason = "test fixtures: a panic is a failed test with its message"
)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use jwtgrant_exchange::{Exchange, ExchangeError, Rejection, TokenResponse};
use jwtgrant_keycloak::admin::{
    AdminSession, ClientAuthenticator, IdpKey, JwtClient, JwtIdp, Secret, UserSpec,
};
use jwtgrant_keycloak::realm_url as keycloak_realm_url;
use jwtgrant_signer::{Algorithm, Claims, Signer, decode_unverified};
use jwtgrant_test_support::{Reply, Stub};
use serde_json::Value;

/// The seed's identity provider alias.
pub const IDP_ALIAS: &str = "jwt-authorization-grant";
/// The seed's issuer (the Node.js app).
pub const ISSUER: &str = "http://localhost:3000";
/// The seed's confidential client.
pub const CLIENT_ID: &str = "custom-client";
/// The seed's external user id (the assertion's `sub`).
pub const SUB: &str = "nodejsuser-1234";
/// The Keycloak user it is linked to.
pub const USERNAME: &str = "nodejsuser";

/// The server under test, from the environment `cargo xtask e2e` sets.
#[derive(Debug, Clone)]
pub struct Keycloak {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    user: String,
    password: Secret,
}

impl Keycloak {
    /// Reads `KEYCLOAK_URL`, `KEYCLOAK_ADMIN_USER` (default `admin`) and
    /// `KEYCLOAK_ADMIN_PASSWORD`; panics with instructions when they are missing.
    pub fn from_env() -> Keycloak {
        Keycloak::from_url_var("KEYCLOAK_URL")
    }

    /// The 26.5 server `cargo xtask e2e` starts beside the default one: `KEYCLOAK_URL_26_5`,
    /// with the same admin variables; panics with instructions when it is missing.
    pub fn from_env_26_5() -> Keycloak {
        Keycloak::from_url_var("KEYCLOAK_URL_26_5")
    }

    fn from_url_var(var: &str) -> Keycloak {
        let url = std::env::var(var).unwrap_or_default();
        let password = std::env::var("KEYCLOAK_ADMIN_PASSWORD").unwrap_or_default();
        assert!(
            !url.is_empty() && !password.is_empty(),
            "the end-to-end suite needs a real Keycloak: run it with `cargo xtask e2e` \
             (which starts one), or set {var}, KEYCLOAK_ADMIN_USER and \
             KEYCLOAK_ADMIN_PASSWORD for an existing server"
        );
        Keycloak {
            url: url.trim_end_matches('/').to_owned(),
            user: std::env::var("KEYCLOAK_ADMIN_USER").unwrap_or_else(|_| "admin".into()),
            password: Secret::new(password),
        }
    }

    /// A fresh admin session (password grant on `master`).
    pub fn admin(&self) -> AdminSession {
        AdminSession::password(&self.url, &self.user, self.password.secret())
            .unwrap_or_else(|e| panic!("cannot log in to Keycloak at {}: {e}", self.url))
    }
}

/// A signing key made for one test.
pub fn key(alg: Algorithm) -> Signer {
    let pem = jwtgrant_signer::generate_private_key_pem(alg, None).expect("key generation");
    Signer::from_pem(pem.as_bytes())
        .expect("generated key parses")
        .with_algorithm(alg)
        .expect("algorithm fits the generated key")
}

/// A realm provisioned like the seed: the JWT Authorization Grant identity provider with a
/// static public key, a confidential client allowed to use it, and a user linked to `sub`.
/// Dropping it deletes the realm.
#[derive(Debug)]
pub struct Seeded {
    /// The server.
    pub kc: Keycloak,
    /// The admin session that provisioned the realm (reusable by the test).
    pub admin: AdminSession,
    /// The realm's name (unique per test).
    pub realm: String,
    /// The key whose public half the identity provider holds.
    pub signer: Signer,
    /// The client's secret.
    pub secret: Secret,
}

static REALMS: AtomicU32 = AtomicU32::new(0);

/// A unique realm name for `label`.
pub fn realm_name(label: &str) -> String {
    let n = REALMS.fetch_add(1, Ordering::Relaxed);
    format!("e2e-{label}-{}-{n}", std::process::id())
}

impl Seeded {
    /// Provisions a fresh realm for `label`, the IdP holding `signer`'s SPKI PEM.
    pub fn new(label: &str, signer: Signer) -> Seeded {
        Seeded::with_idp(label, signer, |idp| idp)
    }

    /// Like [`Seeded::new`], letting the test adjust the identity provider first.
    pub fn with_idp(label: &str, signer: Signer, adjust: impl FnOnce(JwtIdp) -> JwtIdp) -> Seeded {
        Seeded::on(Keycloak::from_env(), label, signer, adjust)
    }

    /// Like [`Seeded::with_idp`], on the server `kc`.
    pub fn on(
        kc: Keycloak,
        label: &str,
        signer: Signer,
        adjust: impl FnOnce(JwtIdp) -> JwtIdp,
    ) -> Seeded {
        let admin = kc.admin();
        let realm = realm_name(label);
        admin.ensure_realm(&realm).expect("create realm");
        let idp = adjust(JwtIdp::new(
            IDP_ALIAS,
            ISSUER,
            IdpKey::Static {
                public_key: signer.public_key_pem(),
                key_id: None,
            },
        ));
        admin.ensure_jwt_idp(&realm, &idp).expect("create IdP");
        let client = admin
            .ensure_client(
                &realm,
                &JwtClient::new(CLIENT_ID, ClientAuthenticator::Secret(None), [IDP_ALIAS]),
            )
            .expect("create client");
        let secret = client.secret.expect("secret client has a secret");
        link_user(&admin, &realm, USERNAME, SUB);
        Seeded {
            kc,
            admin,
            realm,
            signer,
            secret,
        }
    }

    /// `{base}/realms/{realm}`: the audience and the access token's issuer.
    pub fn realm_url(&self) -> String {
        keycloak_realm_url(&self.kc.url, &self.realm)
    }

    /// The seed's claims: `iss` = the IdP's issuer, `sub` = the linked id, `aud` = the realm.
    pub fn claims(&self) -> Claims {
        Claims::new(ISSUER, SUB, self.realm_url())
    }

    /// An [`Exchange`] for this realm authenticating the seed's client by `client_secret_post`.
    pub fn exchange(&self) -> Exchange {
        jwtgrant_keycloak::exchange(&self.kc.url, &self.realm)
            .expect("token endpoint")
            .client_secret_post(CLIENT_ID, self.secret.secret())
    }

    /// Signs the seed's claims and exchanges them once.
    pub fn grant(&self) -> Result<TokenResponse, ExchangeError> {
        let assertion = self.signer.sign(&self.claims()).expect("sign");
        self.exchange().exchange(&assertion)
    }

    /// Makes the seed's client require DPoP-bound tokens (`dpop.bound.access.tokens`).
    pub fn require_dpop(&self) {
        self.admin
            .ensure_client(
                &self.realm,
                &JwtClient::new(CLIENT_ID, ClientAuthenticator::Secret(None), [IDP_ALIAS])
                    .dpop_bound_tokens(true),
            )
            .expect("require DPoP on the client");
    }

    /// Adds another confidential client to the realm.
    pub fn add_client(&self, client: &JwtClient) -> Option<Secret> {
        self.admin
            .ensure_client(&self.realm, client)
            .expect("create client")
            .secret
    }
}

impl Drop for Seeded {
    fn drop(&mut self) {
        // Best effort: a leftover realm only costs disk in the dev server's H2 database.
        let _ = self.admin.delete_realm(&self.realm);
    }
}

/// Creates `username` in `realm` and links it to `sub` at the seed's identity provider.
pub fn link_user(admin: &AdminSession, realm: &str, username: &str, sub: &str) {
    let user = admin
        .ensure_user(
            realm,
            username,
            &UserSpec::new()
                .email(format!("{username}@example.com"))
                .name("Node", "User"),
        )
        .expect("create user");
    admin
        .ensure_idp_link(realm, &user.id, IDP_ALIAS, sub, username)
        .expect("link user");
}

/// The claims of an access token (decoded; Keycloak's signature is checked separately
/// where a test needs it).
pub fn access_claims(token: &TokenResponse) -> Value {
    decode_unverified(token.access_token.secret())
        .expect("access token is a JWT")
        .claims()
        .clone()
}

/// Asserts that `result` is Keycloak's rejection with exactly this `error` and
/// `error_description`, and that jwtgrant attached a hint; returns the rejection.
#[track_caller]
pub fn assert_rejected(
    result: Result<TokenResponse, ExchangeError>,
    status: u16,
    error: &str,
    description: &str,
) -> Rejection {
    let err = match result {
        Ok(_) => panic!("expected Keycloak to reject with {error}: {description}, got a token"),
        Err(err) => err,
    };
    let Some(rejection) = err.rejection() else {
        panic!("expected a rejection ({error}: {description}), got: {err:#}");
    };
    assert_eq!(rejection.status, status, "status of {err}");
    assert_eq!(rejection.error, error, "error of {err}");
    assert_eq!(
        rejection.error_description.as_deref(),
        Some(description),
        "error_description of {err}"
    );
    assert!(
        jwtgrant_keycloak::rejection_hint(rejection).is_some(),
        "no hint for {error}: {description}"
    );
    rejection.clone()
}

/// Polls `f` until it returns `Some` or `timeout` passes (for caches Keycloak refreshes on
/// its own schedule, such as an identity provider's JWKS).
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// GETs `url` and parses the body as JSON (for public endpoints such as a realm's certs).
pub fn get_json(url: &str) -> Value {
    let body = ureq::get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// A loopback stub publishing a JWKS document, standing in for an issuer's JWKS endpoint
/// (the issuer is the test; the token endpoint it serves is the real Keycloak).
#[derive(Debug)]
pub struct JwksEndpoint {
    /// `http://127.0.0.1:PORT/jwks`.
    pub url: String,
    doc: std::sync::Arc<std::sync::Mutex<String>>,
    stub: Stub,
}

impl JwksEndpoint {
    /// Starts serving `jwks` on an ephemeral loopback port, for as long as the endpoint is
    /// held (at most ten minutes: longer than any test here waits for Keycloak).
    pub fn start(jwks: &Value) -> JwksEndpoint {
        let doc = std::sync::Arc::new(std::sync::Mutex::new(jwks.to_string()));
        let published = std::sync::Arc::clone(&doc);
        let stub = Stub::builder()
            .lifetime(Duration::from_secs(600))
            .start(move |_, _| Reply::json(200, published.lock().unwrap().clone()));
        JwksEndpoint {
            url: stub.url("/jwks"),
            doc,
            stub,
        }
    }

    /// Replaces the published document (a key rotation).
    pub fn publish(&self, jwks: &Value) {
        *self.doc.lock().unwrap() = jwks.to_string();
    }

    /// How many requests the endpoint has answered.
    pub fn hits(&self) -> u32 {
        u32::try_from(self.stub.count()).expect("fewer than 2^32 requests")
    }
}

/// What `jwtgrant keycloak doctor` concludes for `assertion` presented by `client_id` in the
/// seeded realm: the `error_description` it predicts (`None`: it predicts a token).
pub fn doctor_prediction(seeded: &Seeded, client_id: &str, assertion: &str) -> Option<String> {
    let report = doctor_report(seeded, client_id, assertion);
    report.first_failure().map(|c| {
        c.keycloak_error()
            .unwrap_or("(a check without Keycloak's message)")
            .to_owned()
    })
}

/// The doctor's whole report for `assertion` presented by `client_id` in the seeded realm,
/// read through the admin API as `jwtgrant keycloak doctor` does (server version included).
pub fn doctor_report(
    seeded: &Seeded,
    client_id: &str,
    assertion: &str,
) -> jwtgrant_keycloak::doctor::Report {
    doctor_report_via(seeded, &seeded.exchange(), client_id, assertion)
}

/// [`doctor_prediction`] for a request made with `exchange` (e.g. one sending DPoP proofs).
pub fn doctor_prediction_via(
    seeded: &Seeded,
    exchange: &Exchange,
    client_id: &str,
    assertion: &str,
) -> Option<String> {
    let report = doctor_report_via(seeded, exchange, client_id, assertion);
    report.first_failure().map(|c| {
        c.keycloak_error()
            .unwrap_or("(a check without Keycloak's message)")
            .to_owned()
    })
}

/// [`doctor_report`] for a request made with `exchange`.
pub fn doctor_report_via(
    seeded: &Seeded,
    exchange: &Exchange,
    client_id: &str,
    assertion: &str,
) -> jwtgrant_keycloak::doctor::Report {
    use jwtgrant_keycloak::doctor;
    let fetched = doctor::fetch(
        &seeded.admin,
        exchange,
        &seeded.kc.url,
        &seeded.realm,
        client_id,
        assertion,
    )
    .expect("doctor reads the realm");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    doctor::diagnose(
        &fetched.snapshot,
        assertion,
        i64::try_from(now).expect("seconds fit"),
        fetched.signature.as_ref(),
    )
}

/// Reads a variable the binary-level suites need; panics (the tests fail, never skip) with
/// how to get it when it is missing.
pub fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: the binary-level tests need KEYCLOAK_URL, KEYCLOAK_ADMIN_USER, \
             KEYCLOAK_ADMIN_PASSWORD and JWTGRANT_BIN (and KEYCLOAK_HTTPS_URL, JWTGRANT_TLS_DIR for \
             the TLS ones): run them with `cargo xtask e2e`, which starts Keycloak and builds the binary"
        ),
    }
}

/// One binary-level test's world: the built `jwtgrant`, a fresh realm name at the Keycloak
/// reached at `base`, and a scratch directory the binary runs in. `JWTGRANT_KEYCLOAK`,
/// `JWTGRANT_REALM`, the admin user and password are in its environment, nothing else.
#[derive(Debug)]
pub struct CliWorld {
    /// The `jwtgrant` binary.
    pub bin: String,
    /// Keycloak's base URL as the binary reaches it (http or https).
    pub base: String,
    /// The admin user.
    pub admin_user: String,
    /// The admin password.
    pub admin_password: String,
    /// The realm, unique per test.
    pub realm: String,
    /// The scratch directory.
    pub dir: std::path::PathBuf,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CliWorld {
    /// A world for `tag` (part of the realm name, after `prefix`) at `base`.
    pub fn new(prefix: &str, tag: &str, base: &str) -> CliWorld {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let realm = format!(
            "{prefix}-{tag}-{}-{}",
            std::process::id(),
            nanos % 1_000_000_000
        );
        let dir = std::env::temp_dir().join(format!("jwtgrant-{realm}"));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        CliWorld {
            bin: required_env("JWTGRANT_BIN"),
            base: base.trim_end_matches('/').to_owned(),
            admin_user: required_env("KEYCLOAK_ADMIN_USER"),
            admin_password: required_env("KEYCLOAK_ADMIN_PASSWORD"),
            realm,
            dir,
        }
    }

    /// `name` inside the scratch directory.
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().expect("UTF-8 path").to_owned()
    }

    /// The binary with this world's environment and directory, nothing else.
    pub fn command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(&self.bin);
        c.env_clear()
            .env("KEYCLOAK_ADMIN_PASSWORD", &self.admin_password)
            .env("JWTGRANT_ADMIN_USER", &self.admin_user)
            .env("JWTGRANT_KEYCLOAK", &self.base)
            .env("JWTGRANT_REALM", &self.realm)
            .current_dir(&self.dir);
        c
    }

    /// One admin API call below `/admin/realms/REALM/` of this world's realm, as the master
    /// admin (a fresh `admin-cli` password grant): the status and the JSON answer (`null`
    /// when there is none). For a test that sets up what `keycloak setup` must then respect.
    pub fn admin_call(
        &self,
        method: jwtgrant_exchange::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        use jwtgrant_exchange::{Body, Exchange, Secret, Transport};
        let token = Exchange::new(&jwtgrant_keycloak::token_endpoint(&self.base, "master"))
            .expect("token url")
            .client_none("admin-cli")
            .password_grant(&self.admin_user, &Secret::new(self.admin_password.as_str()))
            .expect("admin login");
        let url = jwtgrant_exchange::parse_url(&format!(
            "{}/admin/realms/{}/{path}",
            self.base.trim_end_matches('/'),
            self.realm
        ))
        .expect("admin url");
        let auth = format!("Bearer {}", token.access_token.secret());
        let json = body.map(serde_json::Value::to_string);
        let reply = Transport::new()
            .send(
                method,
                &url,
                &[("authorization", &auth), ("accept", "application/json")],
                json.as_deref().map(Body::Json),
            )
            .expect("admin call");
        let value = serde_json::from_slice(&reply.body).unwrap_or(serde_json::Value::Null);
        (reply.status, value)
    }

    /// Runs the binary with `args` and no stdin.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self
            .command()
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run jwtgrant");
        Run {
            code: out.status.code().expect("exited"),
            stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
        }
    }
}
