//! The `jwtgrant` binary against a real Keycloak: `keycloak setup` (idempotent), `token`,
//! `jwks serve` as the provider's JWKS URL, and `keycloak doctor` naming the failing check
//! for the seed article's three common errors.
//!
//! Needs, from the environment (the tests fail, never skip, when one is missing):
//! `KEYCLOAK_URL` (e.g. http://127.0.0.1:8080), `KEYCLOAK_ADMIN_USER`,
//! `KEYCLOAK_ADMIN_PASSWORD` and `JWTGRANT_BIN` (the built `jwtgrant` binary).
//! `cargo xtask keycloak start` runs a suitable server.

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Stdio};

use jwtgrant_e2e::{CliWorld, Run, required_env};
use jwtgrant_keycloak::admin::AdminSession;

const ISSUER: &str = "http://localhost:3000";
const SUB: &str = "nodejsuser-1234";
const CLIENT: &str = "custom-client";

/// One test's world: a fresh realm at `KEYCLOAK_URL`, a scratch directory, and the binary.
struct World(CliWorld);

impl std::ops::Deref for World {
    type Target = CliWorld;
    fn deref(&self) -> &CliWorld {
        &self.0
    }
}

impl World {
    fn new(tag: &str) -> World {
        World(CliWorld::new("cli", tag, &required_env("KEYCLOAK_URL")))
    }

    fn keygen(&self, dir: &str) -> (String, String) {
        let r = self.run(&["keygen", "--out-dir", dir]);
        assert_eq!(r.code, 0, "{r:?}");
        (
            self.dir
                .join(dir)
                .join("private.pem")
                .to_str()
                .unwrap()
                .to_owned(),
            self.dir
                .join(dir)
                .join("public.pem")
                .to_str()
                .unwrap()
                .to_owned(),
        )
    }

    fn setup(&self, key_args: &[&str]) -> Run {
        let link = format!("{SUB}=alice");
        let mut args = vec![
            "keycloak",
            "setup",
            "--issuer",
            ISSUER,
            "--client-id",
            CLIENT,
            "--link",
            &link,
        ];
        args.extend_from_slice(key_args);
        self.run(&args)
    }

    fn doctor(&self, key: &str, iss: &str, sub: &str) -> Run {
        self.run(&[
            "keycloak",
            "doctor",
            "--client-id",
            CLIENT,
            "--key",
            key,
            "--iss",
            iss,
            "--sub",
            sub,
            "--client-secret-file",
            &self.path(&format!("{CLIENT}.secret")),
        ])
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Ok(s) = AdminSession::password(&self.base, &self.admin_user, &self.admin_password) {
            let _ = s.delete_realm(&self.realm);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn token_args<'a>(key: &'a str, secret: &'a str) -> Vec<&'a str> {
    vec![
        "token",
        "--key",
        key,
        "--iss",
        ISSUER,
        "--sub",
        SUB,
        "--client-id",
        CLIENT,
        "--client-secret-file",
        secret,
    ]
}

fn claims_of(jwt: &str) -> serde_json::Value {
    jwtgrant_signer::decode_unverified(jwt.trim())
        .expect("a JWT on stdout")
        .claims()
        .clone()
}

#[test]
fn cli_keycloak_setup_is_idempotent_and_the_token_works() {
    let w = World::new("setup");
    let (private, public) = w.keygen("keys");

    let first = w.setup(&["--public-key", &public]);
    assert_eq!(first.code, 0, "{first:?}");
    for needle in [
        "created identity provider 'jwt-authorization-grant'",
        &format!("created client '{CLIENT}'"),
        "created user 'alice'",
        "wrote the client secret to custom-client.secret (mode 0600)",
    ] {
        assert!(
            first.stdout.contains(needle),
            "{needle:?} in {}",
            first.stdout
        );
    }
    let secret_file = w.path("custom-client.secret");
    let mode = std::fs::metadata(&secret_file)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(
        !first.stdout.contains(secret.trim()),
        "the secret is not printed"
    );

    let second = w.setup(&["--public-key", &public]);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(
        second.stdout.starts_with("nothing to change"),
        "{}",
        second.stdout
    );
    assert_eq!(
        std::fs::read_to_string(&secret_file).unwrap(),
        secret,
        "secret unchanged"
    );

    let r = w.run(&token_args(&private, &secret_file));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stderr, "");
    let claims = claims_of(&r.stdout);
    assert_eq!(claims["preferred_username"], "alice", "{claims}");
    assert_eq!(claims["azp"], CLIENT);

    // The same assertion twice: Keycloak's single-use jti, exit 3 with the hint.
    let a = w.run(&["sign", "--key", &private, "--iss", ISSUER, "--sub", SUB]);
    assert_eq!(a.code, 0, "{a:?}");
    let ex = [
        "exchange",
        "--assertion",
        a.stdout.trim(),
        "--client-id",
        CLIENT,
        "--client-secret-file",
        &secret_file,
    ];
    assert_eq!(w.run(&ex).code, 0);
    let again = w.run(&ex);
    assert_eq!(again.code, 3, "{again:?}");
    assert!(
        again.stderr.contains("invalid_grant: Token reuse detected"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("\n  hint: "), "{}", again.stderr);
}

#[test]
fn cli_keycloak_jwks_serve_as_the_providers_jwks_url() {
    let w = World::new("jwks");
    let (private, public) = w.keygen("keys");
    let mut server = Command::new(&w.bin)
        .env_clear()
        .args(["jwks", "serve", "--key", &public, "--addr", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("URL")
        .to_owned();
    let jwks_url = format!("http://{base}/jwks");

    let r = w.setup(&["--jwks-url", &jwks_url]);
    assert_eq!(r.code, 0, "{r:?}");
    let secret_file = w.path("custom-client.secret");
    let t = w.run(&token_args(&private, &secret_file));
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(t.code, 0, "{t:?}");
    assert_eq!(claims_of(&t.stdout)["preferred_username"], "alice");
}

#[test]
fn cli_keycloak_doctor_names_the_failing_check_for_the_seeds_three_errors() {
    let w = World::new("doctor");
    let (private, public) = w.keygen("keys");
    let (other_key, _) = w.keygen("other");
    let r = w.setup(&["--public-key", &public]);
    assert_eq!(r.code, 0, "{r:?}");

    let ok = w.doctor(&private, ISSUER, SUB);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(
        ok.stdout.contains("verdict: every check passes"),
        "{}",
        ok.stdout
    );
    assert!(
        ok.stdout.contains("keycloak: issued an access token"),
        "{}",
        ok.stdout
    );
    assert!(!ok.stdout.contains("[FAIL]"), "{}", ok.stdout);

    let cases = [
        (
            "unknown issuer",
            private.as_str(),
            "http://localhost:3001",
            SUB,
            "idp-for-issuer",
            "No Identity Provider for provided issuer",
        ),
        (
            "unlinked sub",
            private.as_str(),
            ISSUER,
            "nobody-999",
            "user-linked",
            "User not found",
        ),
        (
            "wrong key",
            other_key.as_str(),
            ISSUER,
            SUB,
            "signature",
            "Invalid signature",
        ),
    ];
    for (name, key, iss, sub, check, error) in cases {
        let r = w.doctor(key, iss, sub);
        assert_eq!(r.code, 3, "{name}: {r:?}");
        let fails: Vec<&str> = r.stdout.lines().filter(|l| l.contains("[FAIL]")).collect();
        assert_eq!(
            fails.len(),
            1,
            "{name}: exactly one failing check: {}",
            r.stdout
        );
        assert!(
            fails[0].contains(&format!("[FAIL] {check} ")),
            "{name}: {}",
            r.stdout
        );
        assert!(
            r.stdout.contains(&format!(
                "verdict: Keycloak should reject this assertion at check '{check}': {error}"
            )),
            "{name}: {}",
            r.stdout
        );
        assert!(
            r.stdout
                .contains(&format!("keycloak: 400 invalid_grant: {error}")),
            "{name}: {}",
            r.stdout
        );
        assert!(
            r.stdout
                .contains("agreement: Keycloak names the same failing check"),
            "{name}: {}",
            r.stdout
        );
        assert!(
            r.stderr
                .starts_with(&format!("jwtgrant: check '{check}' fails")),
            "{name}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("\n  hint: "), "{name}: {}", r.stderr);
    }

    // Without the exchange, the local verdict alone decides.
    let r = w.run(&[
        "keycloak",
        "doctor",
        "--client-id",
        CLIENT,
        "--key",
        &private,
        "--iss",
        ISSUER,
        "--sub",
        "nobody-999",
        "--no-exchange",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(!r.stdout.contains("keycloak: "), "{}", r.stdout);
}

#[test]
fn cli_keycloak_other_client_auth_methods_and_discovery() {
    let w = World::new("auth");
    let (private, public) = w.keygen("keys");
    assert_eq!(w.setup(&["--public-key", &public]).code, 0);
    let secret_file = w.path("custom-client.secret");

    // client_secret_basic, with the endpoint found through OpenID discovery.
    let issuer_url = format!("{}/realms/{}", w.base, w.realm);
    let mut args = token_args(&private, &secret_file);
    args.extend(["--client-auth", "basic", "--issuer-url", &issuer_url]);
    let r = w.run(&args);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(claims_of(&r.stdout)["azp"], CLIENT);

    // private_key_jwt: a client whose JWKS is what `jwtgrant jwks` prints for its key.
    let (client_key, _) = w.keygen("client");
    let jwks = w.run(&["jwks", "--key", &client_key]);
    assert_eq!(jwks.code, 0, "{jwks:?}");
    let jwks: serde_json::Value = serde_json::from_str(&jwks.stdout).unwrap();
    let admin = AdminSession::password(&w.base, &w.admin_user, &w.admin_password).unwrap();
    let client = jwtgrant_keycloak::admin::JwtClient::new(
        "jwt-client",
        jwtgrant_keycloak::admin::ClientAuthenticator::PrivateKeyJwt { jwks },
        ["jwt-authorization-grant"],
    );
    admin.ensure_client(&w.realm, &client).unwrap();
    let r = w.run(&[
        "token",
        "--key",
        &private,
        "--iss",
        ISSUER,
        "--sub",
        SUB,
        "--client-id",
        "jwt-client",
        "--client-auth",
        "private-key-jwt",
        "--client-key",
        &client_key,
        "--json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let response: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(response["token_type"], "Bearer");
    let claims = claims_of(response["access_token"].as_str().unwrap());
    assert_eq!(claims["azp"], "jwt-client");
    assert_eq!(claims["preferred_username"], "alice");

    // The same client without its key: Keycloak refuses the client, exit 3.
    let r = w.run(&[
        "token",
        "--key",
        &private,
        "--iss",
        ISSUER,
        "--sub",
        SUB,
        "--client-id",
        "jwt-client",
        "--client-auth",
        "private-key-jwt",
        "--client-key",
        &private,
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.starts_with("jwtgrant: token endpoint rejected"),
        "{}",
        r.stderr
    );
}

/// `keycloak setup --require-dpop`, then the doctor naming the missing proof, `token
/// --dpop-key`, and `dpop proof` for a userinfo call with the bound token.
#[test]
fn cli_dpop_require_token_doctor_and_proof() {
    let w = World::new("dpop");
    let (private, public) = w.keygen("keys");
    let (dpop_key, _) = w.keygen("dpop");
    let r = w.setup(&["--public-key", &public, "--require-dpop"]);
    assert_eq!(r.code, 0, "{r:?}");
    let secret_file = w.path("custom-client.secret");

    let doctor = w.doctor(&private, ISSUER, SUB);
    assert_eq!(doctor.code, 3, "{doctor:?}");
    assert!(
        doctor.stdout.contains("[FAIL] dpop                 the client requires DPoP-bound tokens (dpop.bound.access.tokens = \"true\") and the request carries no DPoP proof"),
        "{}",
        doctor.stdout
    );
    assert!(
        doctor
            .stdout
            .contains("keycloak: 400 invalid_request: DPoP proof is missing"),
        "{}",
        doctor.stdout
    );
    assert!(
        doctor
            .stdout
            .contains("agreement: Keycloak names the same failing check"),
        "{}",
        doctor.stdout
    );

    let plain = w.run(&token_args(&private, &secret_file));
    assert_eq!(plain.code, 3, "{plain:?}");
    assert!(
        plain.stderr.starts_with(
            "jwtgrant: token endpoint rejected the grant: invalid_request: DPoP proof is missing"
        ),
        "{}",
        plain.stderr
    );
    assert!(plain.stderr.contains("--dpop-key FILE"), "{}", plain.stderr);

    let mut args = token_args(&private, &secret_file);
    // userinfo wants the openid scope.
    args.extend(["--dpop-key", &dpop_key, "--json", "--scope", "openid"]);
    let r = w.run(&args);
    assert_eq!(r.code, 0, "{r:?}");
    let token: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(token["token_type"], "DPoP");
    let at = token["access_token"].as_str().unwrap();
    let jkt = w.run(&["jwks", "--key", &dpop_key]);
    let jwks: serde_json::Value = serde_json::from_str(&jkt.stdout).unwrap();
    assert_eq!(claims_of(at)["cnf"]["jkt"], jwks["keys"][0]["kid"]);

    let userinfo = format!(
        "{}/realms/{}/protocol/openid-connect/userinfo",
        w.base, w.realm
    );
    let token_file = w.path("access-token");
    std::fs::write(&token_file, at).unwrap();
    // A token file is a secret file: owner-only, or the CLI refuses it.
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let proof = w.run(&[
        "dpop",
        "proof",
        "--key",
        &dpop_key,
        "--method",
        "GET",
        "--url",
        &userinfo,
        "--access-token-file",
        &token_file,
    ]);
    assert_eq!(proof.code, 0, "{proof:?}");
    let mut resp = ureq::get(&userinfo)
        .header("authorization", &format!("DPoP {at}"))
        .header("DPoP", proof.stdout.trim())
        .call()
        .unwrap();
    let info: serde_json::Value =
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(info["preferred_username"], "alice");
}

/// `token --id-jag` (client_id from --client-id) and the doctor on an ID-JAG for another client.
#[test]
fn cli_id_jag_token_and_doctor() {
    let w = World::new("idjag");
    let (private, public) = w.keygen("keys");
    assert_eq!(w.setup(&["--public-key", &public]).code, 0);
    let secret_file = w.path("custom-client.secret");

    let mut args = token_args(&private, &secret_file);
    args.push("--id-jag");
    let r = w.run(&args);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(claims_of(&r.stdout)["azp"], CLIENT);

    let mut args = token_args(&private, &secret_file);
    args.extend(["--id-jag", "--id-jag-client-id", "agent-at-the-idp"]);
    let r = w.run(&args);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.starts_with("jwtgrant: token endpoint rejected the grant: invalid_grant: client id in assertion : agent-at-the-idp and client id in request header/body : custom-client"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--id-jag-client-id"), "{}", r.stderr);

    let doctor = w.run(&[
        "keycloak",
        "doctor",
        "--client-id",
        CLIENT,
        "--key",
        &private,
        "--iss",
        ISSUER,
        "--sub",
        SUB,
        "--client-secret-file",
        &secret_file,
        "--id-jag",
        "--id-jag-client-id",
        "agent-at-the-idp",
    ]);
    assert_eq!(doctor.code, 3, "{doctor:?}");
    assert!(
        doctor.stdout.contains("[FAIL] id-jag-client-id     the ID-JAG's client_id is 'agent-at-the-idp' but the client that authenticates is 'custom-client'"),
        "{}",
        doctor.stdout
    );
    assert!(
        doctor
            .stdout
            .contains("agreement: Keycloak names the same failing check"),
        "{}",
        doctor.stdout
    );
}
