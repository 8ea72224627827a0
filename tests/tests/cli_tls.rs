//! The `jwtgrant` binary against the real Keycloak over HTTPS with the test CA: `--ca-file`
//! on `token`, `keycloak setup` and `keycloak doctor`; mTLS clients (`setup --client-auth
//! tls`) and certificate-bound tokens; the mTLS failures with their exact words, exit codes
//! and hints, and the doctor predicting each; `jwks serve` over HTTPS as a JWKS URL.
//!
//! Needs `KEYCLOAK_HTTPS_URL` (e.g. https://localhost:8443), `JWTGRANT_TLS_DIR` (the test
//! CA's `target/keycloak/tls`), `KEYCLOAK_URL` (to clean up), `KEYCLOAK_ADMIN_USER`,
//! `KEYCLOAK_ADMIN_PASSWORD` and `JWTGRANT_BIN`; fails, never skips, without them.
//! `cargo xtask e2e` sets them all.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Child, Stdio};

use jwtgrant_e2e::{CliWorld, Run, required_env};
use jwtgrant_exchange::Transport;
use jwtgrant_keycloak::admin::AdminSession;

const ISSUER: &str = "http://localhost:3000";
const SUB: &str = "nodejsuser-1234";
const CLIENT: &str = "custom-client";
/// The test client certificate's subject and its CA's (RFC 2253).
const CLIENT_DN: &str = "CN=jwtgrant-e2e-client,O=jwtgrant test";
const CA_DN: &str = "CN=jwtgrant test CA,O=jwtgrant test";
const INVALID_CLIENT: &str = "Invalid client or Invalid client credentials";
const BINDING: &str = "Client Certification missing for MTLS HoK Token Binding";

/// One test's world: a fresh realm reached over HTTPS, a scratch directory holding copies of
/// the test CA's files (keys at mode 0600), and the binary.
struct World(CliWorld);

impl std::ops::Deref for World {
    type Target = CliWorld;
    fn deref(&self) -> &CliWorld {
        &self.0
    }
}

impl World {
    fn new(tag: &str) -> World {
        let world = CliWorld::new("clitls", tag, &required_env("KEYCLOAK_HTTPS_URL"));
        let tls = PathBuf::from(required_env("JWTGRANT_TLS_DIR"));
        for name in [
            "ca.pem",
            "client.pem",
            "client.key",
            "stranger.pem",
            "stranger.key",
            "server.pem",
            "server.key",
        ] {
            let to = world.dir.join(name);
            std::fs::copy(tls.join(name), &to)
                .unwrap_or_else(|e| panic!("{}: {e}", tls.join(name).display()));
            let mode = if name.ends_with(".key") { 0o600 } else { 0o644 };
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        World(world)
    }

    /// `run` with `--ca-file` (the test CA) appended.
    fn run_ca(&self, args: &[&str]) -> Run {
        let ca = self.path("ca.pem");
        let mut all = args.to_vec();
        all.extend(["--ca-file", &ca]);
        self.run(&all)
    }

    fn keygen(&self) -> (String, String) {
        let r = self.run(&["keygen", "--out-dir", "keys"]);
        assert_eq!(r.code, 0, "{r:?}");
        (self.path("keys/private.pem"), self.path("keys/public.pem"))
    }

    /// `keycloak setup` over HTTPS for `client`, linking the seed's subject to alice.
    fn setup(&self, client: &str, extra: &[&str]) -> Run {
        let link = format!("{SUB}=alice");
        let mut args = vec![
            "keycloak",
            "setup",
            "--issuer",
            ISSUER,
            "--client-id",
            client,
            "--link",
            &link,
        ];
        args.extend_from_slice(extra);
        self.run_ca(&args)
    }

    /// Sign-and-exchange (`token`) or `keycloak doctor` for `client`, with `extra` options.
    fn signed(&self, cmd: &[&str], key: &str, client: &str, extra: &[&str]) -> Run {
        let mut args = cmd.to_vec();
        args.extend([
            "--key",
            key,
            "--iss",
            ISSUER,
            "--sub",
            SUB,
            "--client-id",
            client,
        ]);
        args.extend_from_slice(extra);
        self.run_ca(&args)
    }

    fn token_endpoint(&self) -> String {
        format!(
            "{}/realms/{}/protocol/openid-connect/token",
            self.base, self.realm
        )
    }

    fn client_cert_args(&self, which: &str) -> [String; 6] {
        [
            "--client-auth".into(),
            "tls".into(),
            "--client-cert".into(),
            self.path(&format!("{which}.pem")),
            "--client-key".into(),
            self.path(&format!("{which}.key")),
        ]
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let plain = std::env::var("KEYCLOAK_URL").unwrap_or_default();
        if let Ok(s) = AdminSession::password(&plain, &self.admin_user, &self.admin_password) {
            let _ = s.delete_realm(&self.realm);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn claims_of(jwt: &str) -> serde_json::Value {
    jwtgrant_signer::decode_unverified(jwt.trim())
        .expect("a JWT on stdout")
        .claims()
        .clone()
}

/// The doctor's stdout names `check` as the one Keycloak fails at with `error`, and
/// Keycloak's real answer `answer` agrees.
fn assert_doctor_agrees(r: &Run, check: &str, error: &str, answer: &str) {
    assert_eq!(r.code, 3, "{r:?}");
    for line in [
        format!("verdict: Keycloak should reject this assertion at check '{check}': {error}"),
        format!("keycloak: {answer}"),
        "agreement: Keycloak names the same failing check".to_owned(),
    ] {
        assert!(
            r.stdout.lines().any(|l| l == line),
            "{line:?} in {}",
            r.stdout
        );
    }
    assert!(
        r.stderr
            .starts_with(&format!("jwtgrant: check '{check}' fails: ")),
        "{}",
        r.stderr
    );
}

#[test]
fn cli_tls_token_setup_and_doctor_over_https_need_the_ca_file() {
    let w = World::new("ca");
    let (private, public) = w.keygen();
    let r = w.setup(CLIENT, &["--public-key", &public]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.ends_with(&format!(
            "client secret: custom-client.secret\ntoken endpoint: {}\naudience: {}/realms/{}\n",
            w.token_endpoint(),
            w.base,
            w.realm
        )),
        "{}",
        r.stdout
    );
    let secret = w.path("custom-client.secret");

    let ok = w.signed(
        &["token"],
        &private,
        CLIENT,
        &["--client-secret-file", &secret],
    );
    assert_eq!(ok.code, 0, "{ok:?}");
    assert_eq!(ok.stderr, "");
    let claims = claims_of(&ok.stdout);
    assert_eq!(claims["iss"], format!("{}/realms/{}", w.base, w.realm));
    assert_eq!(claims["preferred_username"], "alice");

    // The test CA alone, without the public roots, is what this server needs.
    let only = w.signed(
        &["token"],
        &private,
        CLIENT,
        &["--client-secret-file", &secret, "--ca-file-only"],
    );
    assert_eq!(only.code, 0, "{only:?}");
    assert_eq!(claims_of(&only.stdout)["preferred_username"], "alice");

    // Without the CA: exit 4, the certificate problem, and the option that fixes it.
    let r = w.run(&[
        "token",
        "--key",
        &private,
        "--iss",
        ISSUER,
        "--sub",
        SUB,
        "--client-id",
        CLIENT,
        "--client-secret-file",
        &secret,
    ]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.clone()),
        (
            4,
            "",
            format!(
                "jwtgrant: TLS with {} failed: io: invalid peer certificate: UnknownIssuer\n  \
                 hint: if the server's certificate comes from an internal CA, pass it with --ca-file PEM; check the host name matches the certificate\n",
                w.token_endpoint()
            )
        )
    );
    let r = w.run(&[
        "keycloak",
        "setup",
        "--issuer",
        ISSUER,
        "--client-id",
        CLIENT,
        "--public-key",
        &public,
    ]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("invalid peer certificate: UnknownIssuer\n  hint: if the server's certificate comes from an internal CA, pass it with --ca-file PEM"),
        "{}",
        r.stderr
    );

    // The doctor with the CA: every check passes and Keycloak agrees.
    let r = w.signed(
        &["keycloak", "doctor"],
        &private,
        CLIENT,
        &["--client-secret-file", &secret],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.starts_with(&format!(
            "checks for client '{CLIENT}' in realm '{}' at {}, in Keycloak ",
            w.realm, w.base
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.ends_with(
            "  [ok  ] client-certificate   the client gets plain bearer tokens (no certificate binding)\n\
             verdict: every check passes; Keycloak should issue a token\n\
             keycloak: issued an access token (agrees with the checks)\n"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn cli_tls_mtls_client_gets_a_token_bound_to_our_certificate() {
    let w = World::new("bound");
    let (private, public) = w.keygen();
    let args = [
        "--public-key",
        &public,
        "--client-auth",
        "tls",
        "--client-cert-dn",
        CLIENT_DN,
        "--ca-dn",
        CA_DN,
        "--bound-tokens",
    ];
    let r = w.setup("mtls-client", &args);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "created client 'mtls-client' in realm '{}'\n",
            w.realm
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.ends_with(&format!(
            "client certificate: subject '{CLIENT_DN}', issued by '{CA_DN}'\n\
             no client secret: the client authenticates with its certificate (no secret file written)\n\
             access tokens are bound to the client certificate (cnf x5t#S256): present it (--client-cert, --client-key) on every token request, and use the token only over connections presenting it\n\
             token endpoint: {}\naudience: {}/realms/{}\n",
            w.token_endpoint(),
            w.base,
            w.realm
        )),
        "{}",
        r.stdout
    );
    assert!(!w.dir.join("mtls-client.secret").exists(), "no secret file");

    // Again, as JSON: nothing changes, and no secret.
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let r = w.setup("mtls-client", &json_args);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["changed"], false, "{v}");
    assert_eq!(v["client_auth"], "tls");
    assert_eq!(v["client_cert_dn"], CLIENT_DN);
    assert_eq!(v["ca_dn"], CA_DN);
    assert_eq!(v["bound_tokens"], true);
    assert_eq!(v["client_secret"], serde_json::Value::Null);
    assert_eq!(v["secret_file"], serde_json::Value::Null);
    assert_eq!(
        v["secret_note"],
        "no client secret: the client authenticates with its certificate (no secret file written)"
    );

    // tls_client_auth with no secret: the token's cnf is our certificate's thumbprint.
    let ours = Transport::new()
        .client_certificate_pem(
            &std::fs::read(w.path("client.pem")).unwrap(),
            &std::fs::read(w.path("client.key")).unwrap(),
        )
        .unwrap()
        .client_certificate_thumbprint()
        .unwrap()
        .to_owned();
    let mut extra = w.client_cert_args("client").to_vec();
    extra.extend(["--json".into(), "--decode".into()]);
    let r = w.signed(&["token"], &private, "mtls-client", &strs(&extra));
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v["access_token_claims"]["cnf"],
        serde_json::json!({"x5t#S256": ours})
    );
    assert_eq!(v["access_token_claims"]["azp"], "mtls-client");
    assert_eq!(v["access_token_claims"]["preferred_username"], "alice");

    // The doctor sees the certificate, predicts a token, and Keycloak agrees.
    let r = w.signed(
        &["keycloak", "doctor"],
        &private,
        "mtls-client",
        &strs(&w.client_cert_args("client")),
    );
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        format!(
            "  [ok  ] client               client 'mtls-client' authenticates with the presented certificate '{CLIENT_DN}' (issued by '{CA_DN}')"
        ),
        format!(
            "  [ok  ] client-certificate   tokens will be bound to the presented certificate '{CLIENT_DN}' (cnf x5t#S256)"
        ),
        "keycloak: issued an access token (agrees with the checks)".to_owned(),
    ] {
        assert!(
            r.stdout.lines().any(|l| l == line),
            "{line:?} in {}",
            r.stdout
        );
    }
}

#[test]
fn cli_tls_mtls_failures_have_exact_words_and_the_doctor_predicts_them() {
    let w = World::new("fail");
    let (private, public) = w.keygen();
    let mtls = [
        "--public-key",
        &public,
        "--client-auth",
        "tls",
        "--client-cert-dn",
        CLIENT_DN,
        "--ca-dn",
        CA_DN,
    ];
    assert_eq!(w.setup("mtls-client", &mtls).code, 0);

    // 1. No client certificate for a certificate client: 401, exit 3.
    let none = ["--client-auth", "none"];
    let r = w.signed(&["token"], &private, "mtls-client", &none);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (
            3,
            "",
            &*format!(
                "jwtgrant: token endpoint rejected the client: invalid_client: Invalid client or Invalid client credentials\n  \
             hint: check the client id, its credentials (secret, key or certificate) and authenticator; \
             federated-jwt: jwt.credential.issuer must name an OIDC provider with supportsClientAssertions; \
             with jwtgrant: check --client-id and --client-auth, and pass the secret `jwtgrant keycloak setup` wrote with --client-secret-file <client-id>.secret \
             (a certificate client: --client-auth tls --client-cert FILE --client-key FILE)\n  \
             diagnose: jwtgrant keycloak doctor --keycloak {} --realm {} --client-id mtls-client --client-auth none \
             --ca-file {} --key {private} --iss {ISSUER} --sub {SUB}\n",
                w.base,
                w.realm,
                w.path("ca.pem")
            )
        )
    );
    let r = w.signed(&["keycloak", "doctor"], &private, "mtls-client", &none);
    assert_doctor_agrees(
        &r,
        "client",
        INVALID_CLIENT,
        &format!("401 invalid_client: {INVALID_CLIENT}"),
    );
    assert!(
        r.stdout.contains(
            "  [FAIL] client               client 'mtls-client' authenticates with a client certificate (client-x509) and none will be presented\n\
             \x20                             fix: present a client certificate with subject 'CN=jwtgrant-e2e-client,O=jwtgrant test' over mutual TLS (tls_client_auth)\n"
        ),
        "{}",
        r.stdout
    );

    // 2. A certificate whose subject is not the client's: 401, exit 3; the doctor names both.
    let other_dn = "CN=someone-else,O=jwtgrant test";
    let r = w.setup(
        "other-client",
        &[
            "--public-key",
            &public,
            "--client-auth",
            "tls",
            "--client-cert-dn",
            other_dn,
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let ours = w.client_cert_args("client");
    let r = w.signed(&["token"], &private, "other-client", &strs(&ours));
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.starts_with(
            "jwtgrant: token endpoint rejected the client: invalid_client: Invalid client or Invalid client credentials\n"
        ),
        "{}",
        r.stderr
    );
    let r = w.signed(
        &["keycloak", "doctor"],
        &private,
        "other-client",
        &strs(&ours),
    );
    assert_doctor_agrees(
        &r,
        "client",
        INVALID_CLIENT,
        &format!("401 invalid_client: {INVALID_CLIENT}"),
    );
    assert!(
        r.stderr.starts_with(&format!(
            "jwtgrant: check 'client' fails: the certificate's subject '{CLIENT_DN}' differs from the client's x509.subjectdn '{other_dn}'\n  \
             hint: present the certificate with subject '{other_dn}', or set x509.subjectdn to '{CLIENT_DN}' (RFC 2253, most specific part first; values are case-sensitive); "
        )),
        "{}",
        r.stderr
    );

    // 3. A certificate from a CA Keycloak does not trust: refused in the handshake, exit 4.
    // In TLS 1.3 the client may write its request before it reads the server's alert, and
    // the write then fails first (a broken pipe; measured: 12 of 30 runs). Either way no
    // HTTP answer comes back; one attempt, so stderr is exactly one of the two.
    let mut stranger = w.client_cert_args("stranger").to_vec();
    stranger.extend(["--retries".into(), "0".into()]);
    let r = w.signed(&["token"], &private, "mtls-client", &strs(&stranger));
    let refused = format!(
        "jwtgrant: {} refused the client certificate in the TLS handshake: io: received fatal alert: CertificateUnknown\n  \
         hint: the server does not trust the client certificate: use one issued by a CA in the server's truststore\n",
        w.token_endpoint()
    );
    let broken = format!(
        "jwtgrant: connection to {} failed: io: Broken pipe (os error 32)\n  \
         hint: the connection broke right under the request: the server may have refused the client certificate (TLS 1.3 reports that only after the request is sent), so check that a CA in its truststore issued it; else check proxies and load balancers in between\n",
        w.token_endpoint()
    );
    assert_eq!((r.code, r.stdout.as_str()), (4, ""), "{r:?}");
    assert!(r.stderr == refused || r.stderr == broken, "{}", r.stderr);
    let stranger = w.client_cert_args("stranger");
    // The doctor predicts the refusal from the issuer; Keycloak gives no HTTP answer.
    let r = w.signed(
        &["keycloak", "doctor"],
        &private,
        "mtls-client",
        &strs(&stranger),
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "verdict: Keycloak should reject this assertion at check 'client': {INVALID_CLIENT}\n"
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .ends_with("agreement: Keycloak gave no verdict to compare with\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.starts_with(&format!(
            "jwtgrant: check 'client' fails: the certificate's issuer 'CN=someone else's CA,O=jwtgrant test' differs from the client's x509.casubjectdn '{CA_DN}'\n"
        )),
        "{}",
        r.stderr
    );

    // 4. A secret client with bound tokens and no certificate: 400, exit 3.
    let r = w.setup(
        "hok-client",
        &[
            "--public-key",
            &public,
            "--bound-tokens",
            "--secret-out",
            "hok.secret",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let secret = w.path("hok.secret");
    let with_secret = ["--client-secret-file", secret.as_str()];
    let r = w.signed(&["token"], &private, "hok-client", &with_secret);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (
            3,
            "",
            &*format!(
                "jwtgrant: token endpoint rejected the grant: invalid_request: Client Certification missing for MTLS HoK Token Binding\n  \
             hint: the client requires certificate-bound tokens (tls.client.certificate.bound.access.tokens): present a client certificate over mutual TLS, or turn the binding off; \
             with jwtgrant: pass --client-cert FILE and --client-key FILE (mutual TLS); `jwtgrant keycloak setup --client-auth tls --bound-tokens` provisions such a client\n  \
             diagnose: jwtgrant keycloak doctor --keycloak {} --realm {} --client-id hok-client --client-secret-file {secret} \
             --ca-file {} --key {private} --iss {ISSUER} --sub {SUB}\n",
                w.base,
                w.realm,
                w.path("ca.pem")
            )
        )
    );
    let r = w.signed(
        &["keycloak", "doctor"],
        &private,
        "hok-client",
        &with_secret,
    );
    assert_doctor_agrees(
        &r,
        "client-certificate",
        BINDING,
        &format!("400 invalid_request: {BINDING}"),
    );
    // The same secret client presenting a certificate gets a token bound to it.
    let mut extra = with_secret.to_vec();
    let (cert, key) = (w.path("client.pem"), w.path("client.key"));
    extra.extend(["--client-cert", &cert, "--client-key", &key]);
    let r = w.signed(&["token"], &private, "hok-client", &extra);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(claims_of(&r.stdout)["cnf"]["x5t#S256"].is_string());
}

/// `jwks serve` over HTTPS with a certificate from the test CA: Keycloak fetches the JWKS
/// from it, trusting the CA through its truststore, and the exchange succeeds.
#[test]
fn cli_tls_jwks_serve_over_https_as_the_providers_jwks_url() {
    let w = World::new("jwks");
    let (private, public) = w.keygen();
    let mut server = Server(
        w.command()
            .args([
                "jwks",
                "serve",
                "--key",
                &public,
                "--addr",
                "127.0.0.1:0",
                "--tls-cert",
                &w.path("server.pem"),
                "--tls-key",
                &w.path("server.key"),
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(server.0.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split("https://127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("an https URL in {line:?}"))
        .to_owned();
    // The server certificate names localhost (and 127.0.0.1).
    let jwks_url = format!("https://localhost:{port}/jwks");

    let r = w.setup(CLIENT, &["--jwks-url", &jwks_url]);
    assert_eq!(r.code, 0, "{r:?}");
    let secret = w.path("custom-client.secret");
    let t = w.signed(
        &["token"],
        &private,
        CLIENT,
        &["--client-secret-file", &secret],
    );
    assert_eq!(t.code, 0, "{t:?}");
    assert_eq!(claims_of(&t.stdout)["preferred_username"], "alice");

    // The doctor fetches the same JWKS with the same CA file and agrees.
    let r = w.signed(
        &["keycloak", "doctor"],
        &private,
        CLIENT,
        &["--client-secret-file", &secret],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "the signature verifies with a key of the JWKS at '{jwks_url}'"
        )),
        "{}",
        r.stdout
    );
}

/// Kills the `jwks serve` child however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
