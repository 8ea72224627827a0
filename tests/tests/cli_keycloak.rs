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

    // The JWKS server is gone: this host cannot check the signature, and says so without
    // a verdict of its own; Keycloak still grants with the keys it fetched before.
    let r = w.doctor(&private, ISSUER, SUB);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "  [warn] signature            not checked: this host cannot fetch the provider's JWKS from '{jwks_url}': "
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("verdict: every check passes; Keycloak should issue a token\nkeycloak: issued an access token (agrees with the checks)"),
        "{}",
        r.stdout
    );
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

/// Sends `body` to the admin API at `path` (below `/admin/realms/REALM/`) with `method`, as
/// an admin clicking in the console would: the changes `setup` must not undo.
fn admin_write(w: &World, method: jwtgrant_exchange::Method, path: &str, body: &serde_json::Value) {
    let (status, _) = admin_call(w, method, path, Some(body));
    assert_eq!(status, 204, "{method:?} {path}");
}

/// One admin API call below `/admin/realms/REALM/` as the master admin.
fn admin_call(
    w: &World,
    method: jwtgrant_exchange::Method,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    w.admin_call(method, path, body)
}

/// The realm's client and user `alice`, as Keycloak holds them now.
fn client_and_alice(w: &World) -> (serde_json::Value, serde_json::Value) {
    let admin = AdminSession::password(&w.base, &w.admin_user, &w.admin_password).expect("admin");
    let client = admin
        .get_client(&w.realm, CLIENT)
        .expect("read")
        .expect("client");
    let user = admin
        .get_user(&w.realm, "alice")
        .expect("read")
        .expect("alice");
    (client, user)
}

#[test]
fn cli_keycloak_a_rerun_with_fewer_flags_keeps_what_it_was_not_asked_to_change() {
    let w = World::new("keep");
    let (_, public) = w.keygen("keys");
    let first = w.setup(&[
        "--public-key",
        &public,
        "--client-auth",
        "tls",
        "--client-cert-dn",
        "CN=billing,O=Acme",
        "--bound-tokens",
        "--require-dpop",
    ]);
    assert_eq!(first.code, 0, "{first:?}");

    // An admin then allows a second provider, turns the standard flow on, disables alice
    // and gives her a required action.
    let (mut client, mut alice) = client_and_alice(&w);
    let id = client["id"].as_str().expect("id").to_owned();
    client["standardFlowEnabled"] = true.into();
    client["attributes"]["oauth2.jwt.authorization.grant.idp"] =
        "jwt-authorization-grant##other-idp".into();
    admin_write(
        &w,
        jwtgrant_exchange::Method::Put,
        &format!("clients/{id}"),
        &client,
    );
    alice["enabled"] = false.into();
    alice["requiredActions"] = serde_json::json!(["UPDATE_PASSWORD"]);
    let alice_id = alice["id"].as_str().expect("id").to_owned();
    admin_write(
        &w,
        jwtgrant_exchange::Method::Put,
        &format!("users/{alice_id}"),
        &alice,
    );
    let (before, alice_before) = client_and_alice(&w);

    // A rerun with only the key and the link: nothing of that is undone.
    let rerun = w.setup(&["--public-key", &public]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    assert!(
        rerun.stdout.starts_with("nothing to change"),
        "{}",
        rerun.stdout
    );
    for needle in [
        "warning: user 'alice' is disabled, so the grant refuses it: left as it is",
        "warning: user 'alice' has required actions (UPDATE_PASSWORD), so the grant refuses it",
        "no client secret: the client authenticates with its certificate",
    ] {
        assert!(
            rerun.stdout.contains(needle),
            "{needle:?} in {}",
            rerun.stdout
        );
    }
    let (after, alice_after) = client_and_alice(&w);
    assert_eq!(after, before, "the client is as the admin left it");
    assert_eq!(alice_after, alice_before, "alice is as the admin left her");
    let attrs = &after["attributes"];
    assert_eq!(attrs["dpop.bound.access.tokens"], "true");
    assert_eq!(attrs["tls.client.certificate.bound.access.tokens"], "true");
    assert_eq!(
        attrs["oauth2.jwt.authorization.grant.idp"],
        "jwt-authorization-grant##other-idp"
    );
    assert_eq!(after["clientAuthenticatorType"], "client-x509");
    assert_eq!(after["standardFlowEnabled"], true);
    assert_eq!(alice_after["enabled"], false);
    assert_eq!(
        alice_after["requiredActions"],
        serde_json::json!(["UPDATE_PASSWORD"])
    );

    // Turning a binding off takes its own flag, and changes that one field only.
    let off = w.setup(&["--public-key", &public, "--no-require-dpop"]);
    assert_eq!(off.code, 0, "{off:?}");
    assert!(
        off.stdout.contains(&format!(
            "updated client '{CLIENT}' in realm '{}' (dpop.bound.access.tokens)",
            w.realm
        )),
        "{}",
        off.stdout
    );
    let (now, _) = client_and_alice(&w);
    assert_eq!(now["attributes"]["dpop.bound.access.tokens"], "false");
    assert_eq!(
        now["attributes"]["tls.client.certificate.bound.access.tokens"],
        "true"
    );
    assert_eq!(now["clientAuthenticatorType"], "client-x509");
}

#[test]
fn cli_keycloak_setup_dry_run_changes_nothing_and_prints_the_plan() {
    let w = World::new("plan");
    let (_, public) = w.keygen("keys");
    let admin = AdminSession::password(&w.base, &w.admin_user, &w.admin_password).expect("admin");

    // On nothing: the whole plan, and still nothing afterwards.
    let plan = w.setup(&["--public-key", &public, "--dry-run"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    let realm = &w.realm;
    for needle in [
        "dry run: nothing was written; the plan:\n".to_owned(),
        format!("  create realm '{realm}'\n      enabled: (none) -> 'true'\n"),
        format!("  create identity provider 'jwt-authorization-grant' in realm '{realm}'\n"),
        "      issuer: (none) -> 'http://localhost:3000'\n".to_owned(),
        format!("  create client '{CLIENT}' in realm '{realm}'\n"),
        "      clientAuthenticatorType: (none) -> 'client-secret'\n".to_owned(),
        format!("  create user 'alice' in realm '{realm}'\n"),
        format!(
            "  create link of user 'alice' to '{SUB}' at 'jwt-authorization-grant' in realm '{realm}'\n"
        ),
    ] {
        assert!(
            plan.stdout.contains(&needle),
            "{needle:?} in {}",
            plan.stdout
        );
    }
    assert_eq!(admin.get_realm(realm).expect("read"), None, "no realm made");
    assert!(!std::path::Path::new(&w.path(&format!("{CLIENT}.secret"))).exists());

    // On a realm set up with DPoP: a new key and the binding off, planned field by field.
    assert_eq!(
        w.setup(&["--public-key", &public, "--require-dpop"]).code,
        0
    );
    let (before, _) = client_and_alice(&w);
    let idp_before = admin
        .get_idp(realm, "jwt-authorization-grant")
        .expect("read");
    let (_, other_public) = w.keygen("keys2");
    let args = [
        "--public-key",
        &other_public,
        "--no-require-dpop",
        "--dry-run",
    ];
    let plan = w.setup(&args);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.stdout.contains(&format!("  keep realm '{realm}'\n")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("      dpop.bound.access.tokens: 'true' -> 'false'\n"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("      publicKeySignatureVerifier: '-----BEGIN PUBLIC KEY-----"),
        "{}",
        plan.stdout
    );
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let data = w.setup(&json_args);
    assert_eq!(data.code, 0, "{data:?}");
    let v: serde_json::Value = serde_json::from_str(&data.stdout).expect("JSON");
    assert_eq!(v["dry_run"], true);
    let client_change = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["object"] == format!("client '{CLIENT}' in realm '{realm}'"))
        .expect("the client's entry")
        .clone();
    assert_eq!(client_change["change"], "updated");
    assert_eq!(
        client_change["fields"],
        serde_json::json!([{"field": "dpop.bound.access.tokens", "old": "true", "new": "false"}])
    );
    // Nothing of it was written.
    let (after, _) = client_and_alice(&w);
    assert_eq!(after, before);
    assert_eq!(
        admin
            .get_idp(realm, "jwt-authorization-grant")
            .expect("read"),
        idp_before
    );
}

/// The doctor on the client side, against the real server: a wrong secret, a mistyped
/// client id, realm or subject, a given assertion (not spent unless asked, and then reused),
/// each with Keycloak's answer predicted and a fix that names the way out.
#[test]
fn cli_keycloak_doctor_explains_the_client_side() {
    let w = World::new("clientside");
    let (private, public) = w.keygen("keys");
    let r = w.setup(&["--public-key", &public]);
    assert_eq!(r.code, 0, "{r:?}");
    let wrong = w.path("wrong.secret");
    std::fs::write(&wrong, "not-the-secret\n").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let doctor = |extra: &[&str]| {
        let mut args = vec![
            "keycloak", "doctor", "--key", &private, "--iss", ISSUER, "--sub", SUB,
        ];
        args.extend_from_slice(extra);
        w.run(&args)
    };

    // A wrong client secret: the failing check is the client's, before Keycloak says 401.
    let r = doctor(&["--client-id", CLIENT, "--client-secret-file", &wrong]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "  [FAIL] client               the client secret to be sent differs from the one Keycloak holds for client '{CLIENT}'\n"
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "keycloak: 401 unauthorized_client: Invalid client or Invalid client credentials\nagreement: Keycloak names the same failing check\n"
        ),
        "{}",
        r.stdout
    );
    // The same as one JSON object: every check, the verdict, the answer, the exit code.
    let r = doctor(&[
        "--client-id",
        CLIENT,
        "--client-secret-file",
        &wrong,
        "--json",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON object");
    assert_eq!(v["checks"][0]["check"], "client");
    assert_eq!(v["checks"][0]["status"], "fail");
    assert_eq!(
        v["verdict"],
        serde_json::json!({"rejects": true, "check": "client",
            "keycloak_error": "Invalid client or Invalid client credentials"})
    );
    assert_eq!(
        v["exchange"]["answer"],
        serde_json::json!({"status": 401, "error": "unauthorized_client",
            "error_description": "Invalid client or Invalid client credentials"})
    );
    assert_eq!(v["exchange"]["agreement"], "same_rejection");
    assert_eq!(v["exit_code"], 3);
    // The right one compares equal.
    let r = doctor(&[
        "--client-id",
        CLIENT,
        "--client-secret-file",
        &w.path("custom-client.secret"),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("exists, and the secret to be sent is the one Keycloak holds"),
        "{}",
        r.stdout
    );

    // A mistyped client id: a rejection with the near match (exit 3, not "unreachable").
    let r = doctor(&["--client-id", "custom-cleint"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "  [FAIL] client               no client 'custom-cleint' in realm '{}'\n",
            w.realm
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "fix: use the client id of an existing client (did you mean 'custom-client'?)"
        ),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("keycloak: 401 invalid_client: Invalid client or Invalid client credentials\nagreement: Keycloak names the same failing check"), "{}", r.stdout);

    // A mistyped realm: the one check, with the near match, as Keycloak answers it first.
    let typo = format!("{}x", w.realm);
    let r = doctor(&["--client-id", CLIENT, "--realm", &typo]);
    assert_eq!(r.code, 3, "{r:?}");
    let fails: Vec<&str> = r.stdout.lines().filter(|l| l.contains("[")).collect();
    assert_eq!(
        fails,
        vec![format!(
            "  [FAIL] realm                no realm '{typo}' at {}",
            w.base
        )],
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("(did you mean '{}'?)", w.realm)),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "keycloak: 404 Realm does not exist\nagreement: Keycloak names the same failing check"
        ),
        "{}",
        r.stdout
    );

    // An unlinked subject: the fix lists the linked ones, the near match first.
    let mut args = vec![
        "keycloak",
        "doctor",
        "--client-id",
        CLIENT,
        "--key",
        &private,
    ];
    args.extend_from_slice(&["--iss", ISSUER, "--sub", "nodejsuser-1243", "--no-exchange"]);
    let r = w.run(&args);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "with user ID 'nodejsuser-1243' (did you mean '{SUB}'? linked at the provider: '{SUB}')"
        )),
        "{}",
        r.stdout
    );

    // A given assertion: local checks only, unless it may be spent; spent twice, Keycloak
    // answers reuse and the doctor explains it.
    let signed = w.run(&["sign", "--key", &private, "--iss", ISSUER, "--sub", SUB]);
    assert_eq!(signed.code, 0, "{signed:?}");
    let given = |spend: bool| {
        let mut c = w.command();
        c.args([
            "keycloak",
            "doctor",
            "--client-id",
            CLIENT,
            "--assertion",
            "-",
        ]);
        if spend {
            c.arg("--spend-assertion");
        }
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(signed.stdout.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
        )
    };
    let (code, out) = given(false);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.ends_with("keycloak: not asked: the real exchange would spend the given assertion (its jti is single-use); pass --spend-assertion to send it, or let the doctor sign its own with --key, --iss and --sub\n"),
        "{out}"
    );
    let (code, out) = given(true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("keycloak: issued an access token"), "{out}");
    let (code, out) = given(true);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.ends_with("keycloak: 400 invalid_grant: Token reuse detected\nagreement: the local checks all passed but Keycloak refused: see its answer and the hint\nhint: an assertion is single-use: sign a fresh one (new jti) for every request, retries included; with jwtgrant: `jwtgrant sign` and `jwtgrant token` put a fresh jti in every assertion\n"),
        "{out}"
    );
}

/// The doctor logs in as the realm's own admins: a service account with realm-admin, and
/// a user of the realm with realm-admin, through --admin-realm.
#[test]
fn cli_keycloak_doctor_logs_in_as_a_realm_admin_or_a_service_account() {
    use jwtgrant_exchange::Method;
    let w = World::new("realmadmin");
    let (private, public) = w.keygen("keys");
    let r = w.setup(&["--public-key", &public]);
    assert_eq!(r.code, 0, "{r:?}");

    let secret = "ops-secret-0123456789abcdef";
    let (status, _) = admin_call(
        &w,
        Method::Post,
        "clients",
        Some(
            &serde_json::json!({"clientId": "ops", "publicClient": false,
            "serviceAccountsEnabled": true, "standardFlowEnabled": false,
            "clientAuthenticatorType": "client-secret", "secret": secret}),
        ),
    );
    assert_eq!(status, 201);
    let id_of = |client_id: &str| {
        let (_, list) = admin_call(
            &w,
            Method::Get,
            &format!("clients?clientId={client_id}"),
            None,
        );
        list[0]["id"].as_str().unwrap().to_owned()
    };
    let (ops, management) = (id_of("ops"), id_of("realm-management"));
    let (_, role) = admin_call(
        &w,
        Method::Get,
        &format!("clients/{management}/roles/realm-admin"),
        None,
    );
    let (_, account) = admin_call(
        &w,
        Method::Get,
        &format!("clients/{ops}/service-account-user"),
        None,
    );
    let grant = |user: &str| {
        let (status, _) = admin_call(
            &w,
            Method::Post,
            &format!("users/{user}/role-mappings/clients/{management}"),
            Some(&serde_json::json!([role])),
        );
        assert_eq!(status, 204);
    };
    grant(account["id"].as_str().unwrap());
    let (status, _) = admin_call(
        &w,
        Method::Post,
        "users",
        Some(
            &serde_json::json!({"username": "ops-admin", "enabled": true,
            // The user profile's required attributes, or the login says "Account is not
            // fully set up".
            "email": "ops@example.com", "emailVerified": true, "firstName": "Ops", "lastName": "Admin",
            "credentials": [{"type": "password", "value": "ops-password-0123", "temporary": false}]}),
        ),
    );
    assert_eq!(status, 201);
    let (_, users) = admin_call(&w, Method::Get, "users?username=ops-admin&exact=true", None);
    grant(users[0]["id"].as_str().unwrap());

    let write = |name: &str, text: &str| {
        let path = w.path(name);
        std::fs::write(&path, format!("{text}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    };
    let ops_secret = write("ops.secret", secret);
    let ops_password = write("ops.password", "ops-password-0123");
    let base = [
        "-v",
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
        "--admin-realm",
        &w.realm,
    ];
    for (login, said) in [
        (
            vec![
                "--admin-client-id",
                "ops",
                "--admin-client-secret-file",
                &ops_secret,
            ],
            "as service account of client 'ops'",
        ),
        (
            vec![
                "--admin-user",
                "ops-admin",
                "--admin-password-file",
                &ops_password,
            ],
            "as admin user 'ops-admin'",
        ),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(&login);
        let r = w.run(&args);
        assert_eq!(r.code, 0, "{said}: {r:?}");
        assert!(r.stderr.contains(said), "{said}: {}", r.stderr);
        assert!(
            r.stdout
                .contains("keycloak: issued an access token (agrees with the checks)"),
            "{said}: {}",
            r.stdout
        );
    }
    // The realm's admin cannot log in to master.
    let mut args = base.to_vec();
    args.truncate(args.len() - 2);
    args.extend_from_slice(&[
        "--admin-user",
        "ops-admin",
        "--admin-password-file",
        &ops_password,
    ]);
    let r = w.run(&args);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("--admin-realm"), "{}", r.stderr);
}

/// A rejected `token` ends with the doctor command that explains it; that very command,
/// run as printed (no secret in it: the doctor reads the client's through the admin API),
/// names the failing check and agrees with Keycloak.
#[test]
fn cli_keycloak_a_rejected_token_names_the_doctor_command_that_explains_it() {
    let w = World::new("diagnose");
    let (private, public) = w.keygen("keys");
    let r = w.setup(&["--public-key", &public]);
    assert_eq!(r.code, 0, "{r:?}");
    let secret = w.path("custom-client.secret");
    let mut args = token_args(&private, &secret);
    let sub = args.iter().position(|a| *a == SUB).unwrap();
    args[sub] = "nobody-42";
    let r = w.run(&args);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(r.stdout, "");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines[0],
        "jwtgrant: token endpoint rejected the grant: invalid_grant: User not found"
    );
    assert!(lines[1].starts_with("  hint: "), "{r:?}");
    let expected = format!(
        "  diagnose: jwtgrant keycloak doctor --keycloak {} --realm {} --client-id {CLIENT} --client-secret-file {secret} --key {private} --iss {ISSUER} --sub nobody-42",
        w.base, w.realm
    );
    assert_eq!(lines[2], expected);
    assert_eq!(lines.len(), 3, "{r:?}");

    // Run it as printed: the words are plain (no quoting needed for these values).
    let printed: Vec<&str> = lines[2]
        .trim_start()
        .strip_prefix("diagnose: jwtgrant ")
        .unwrap()
        .split(' ')
        .collect();
    let r = w.run(&printed);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout
            .contains("  [FAIL] user-linked          no user is linked to"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "keycloak: 400 invalid_grant: User not found\nagreement: Keycloak names the same failing check\n"
        ),
        "{}",
        r.stdout
    );
}
