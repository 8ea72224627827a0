//! Federated client authentication against a real Keycloak: `keycloak setup --client-auth
//! federated` provisions a client with no secret, and `jwtgrant token --client-auth
//! federated` gets a token with a client assertion the issuer's key signs (or one read from
//! a file). Keycloak's answers to a wrong audience and a reused client assertion are pinned.
//!
//! Needs, from the environment (the tests fail, never skip, when one is missing):
//! `KEYCLOAK_URL`, `KEYCLOAK_ADMIN_USER`, `KEYCLOAK_ADMIN_PASSWORD` and `JWTGRANT_BIN`.

use jwtgrant_e2e::{CliWorld, Run, required_env};
use jwtgrant_keycloak::admin::AdminSession;

const ISSUER: &str = "http://localhost:3000";
const SUB: &str = "nodejsuser-1234";
const CLIENT: &str = "fed-client";

/// One test's world: a fresh realm, a scratch directory, the binary, and a key pair.
struct World {
    cli: CliWorld,
    private: String,
    public: String,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Ok(s) = AdminSession::password(
            &self.cli.base,
            &self.cli.admin_user,
            &self.cli.admin_password,
        ) {
            let _ = s.delete_realm(&self.cli.realm);
        }
        let _ = std::fs::remove_dir_all(&self.cli.dir);
    }
}

impl World {
    fn new(tag: &str) -> World {
        let cli = CliWorld::new("fed", tag, &required_env("KEYCLOAK_URL"));
        let r = cli.run(&["keygen", "--out-dir", "keys"]);
        assert_eq!(r.code, 0, "{r:?}");
        World {
            private: cli.path("keys/private.pem"),
            public: cli.path("keys/public.pem"),
            cli,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cli.run(args)
    }

    fn setup(&self, extra: &[&str]) -> Run {
        let link = format!("{SUB}=alice");
        let mut args = vec![
            "keycloak",
            "setup",
            "--issuer",
            ISSUER,
            "--public-key",
            &self.public,
            "--client-id",
            CLIENT,
            "--link",
            &link,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn token(&self, extra: &[&str]) -> Run {
        let mut args = vec![
            "token",
            "--key",
            &self.private,
            "--iss",
            ISSUER,
            "--sub",
            SUB,
            "--client-id",
            CLIENT,
            "--client-auth",
            "federated",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn realm_url(&self) -> String {
        jwtgrant_keycloak::realm_url(&self.cli.base, &self.cli.realm)
    }
}

fn claims_of(jwt: &str) -> serde_json::Value {
    jwtgrant_signer::decode_unverified(jwt.trim())
        .expect("a JWT on stdout")
        .claims()
        .clone()
}

/// Every file in the world's directory, for "no secret file anywhere".
fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("world dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn federated_setup_then_a_secretless_token() {
    let w = World::new("secretless");
    let first = w.setup(&["--client-auth", "federated"]);
    assert_eq!(first.code, 0, "{first:?}");
    let realm = &w.cli.realm;
    assert_eq!(
        first.stdout,
        format!(
            "created realm '{realm}'\n\
             created identity provider 'jwt-authorization-grant' in realm '{realm}'\n\
             created identity provider 'jwt-client-assertions' in realm '{realm}'\n\
             created client '{CLIENT}' in realm '{realm}'\n\
             created user 'alice' in realm '{realm}'\n\
             created link of user 'alice' to '{SUB}' at 'jwt-authorization-grant' in realm '{realm}'\n\
             no client secret: the client authenticates with a client assertion the issuer's key signs (jwtgrant token --client-auth federated; no secret file written)\n\
             token endpoint: {}/protocol/openid-connect/token\n\
             audience: {}\n",
            w.realm_url(),
            w.realm_url()
        )
    );
    assert_eq!(files_in(&w.cli.dir), ["keys"], "no secret file written");
    // The provider that only vouches for the client is no button on the login page.
    let (status, idp) = w.cli.admin_call(
        jwtgrant_exchange::Method::Get,
        "identity-provider/instances/jwt-client-assertions",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(idp["hideOnLogin"], true, "{idp}");
    assert_eq!(idp["config"]["supportsClientAssertions"], "true", "{idp}");

    // Idempotent.
    let again = w.setup(&["--client-auth", "federated"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stdout.starts_with("nothing to change:"),
        "{}",
        again.stdout
    );

    // What Keycloak holds: a federated-jwt client naming the OIDC provider, which verifies
    // client assertions with the same issuer.
    let admin = AdminSession::password(&w.cli.base, &w.cli.admin_user, &w.cli.admin_password)
        .expect("admin");
    let client = admin
        .get_client(realm, CLIENT)
        .expect("get")
        .expect("client");
    assert_eq!(client["clientAuthenticatorType"], "federated-jwt");
    assert_eq!(
        client["attributes"]["jwt.credential.issuer"],
        "jwt-client-assertions"
    );
    assert_eq!(client["attributes"]["jwt.credential.sub"], CLIENT);
    let idp = admin
        .get_idp(realm, "jwt-client-assertions")
        .expect("get")
        .expect("idp");
    assert_eq!(idp["providerId"], "oidc");
    assert_eq!(idp["config"]["issuer"], ISSUER);
    assert_eq!(idp["config"]["supportsClientAssertions"], "true");
    assert_eq!(idp["config"]["validateSignature"], "true");

    // The secretless grant: no JWTGRANT_CLIENT_SECRET (the world's environment is cleared),
    // no secret file; the client assertion is signed with --key as --iss.
    let token = w.token(&[]);
    assert_eq!(token.code, 0, "{token:?}");
    let claims = claims_of(&token.stdout);
    assert_eq!(claims["azp"], CLIENT);
    assert_eq!(claims["preferred_username"], "alice");
    // Each run signs a fresh client assertion (a new jti): a second run works too.
    let second = w.token(&[]);
    assert_eq!(second.code, 0, "{second:?}");
}

#[test]
fn federated_client_assertion_answers_keycloak_gives() {
    let w = World::new("answers");
    let setup = w.setup(&["--client-auth", "federated"]);
    assert_eq!(setup.code, 0, "{setup:?}");

    // The token endpoint URL as the client assertion's audience: refused, unlike for the
    // grant's assertion.
    let token_endpoint = format!("{}/protocol/openid-connect/token", w.realm_url());
    let wrong = w.token(&[
        "--client-assertion-audience",
        &token_endpoint,
        "--json",
        "-v",
    ]);
    assert_eq!(wrong.code, 3, "{wrong:?}");
    let err: serde_json::Value = serde_json::from_str(wrong.stdout.trim()).expect("json");
    assert_eq!(
        err["error"]["message"],
        "token endpoint rejected the client: invalid_client: Invalid token audience",
        "{err}"
    );
    let hint = err["error"]["hint"].as_str().unwrap_or_default();
    assert!(
        hint.starts_with(
            "a federated client's client assertion needs aud = {base}/realms/{realm} exactly"
        ),
        "{hint}"
    );
    assert!(
        wrong.stderr.contains(&format!(
            "{token_endpoint} rejected the grant: HTTP 400 invalid_client"
        )),
        "{}",
        wrong.stderr
    );

    // A client assertion from a file: sent as it is, and single-use by default (the OIDC
    // provider does not allow reuse).
    let signed = w.run(&[
        "sign",
        "--key",
        &w.private,
        "--iss",
        ISSUER,
        "--sub",
        CLIENT,
        "--aud",
        &w.realm_url(),
    ]);
    assert_eq!(signed.code, 0, "{signed:?}");
    let file = w.cli.path("client-assertion.jwt");
    std::fs::write(&file, &signed.stdout).expect("write");
    let from_file = w.token(&["--client-assertion-file", &file]);
    assert_eq!(from_file.code, 0, "{from_file:?}");
    assert_eq!(claims_of(&from_file.stdout)["azp"], CLIENT);
    let reused = w.token(&["--client-assertion-file", &file]);
    assert_eq!(reused.code, 3, "{reused:?}");
    assert!(
        reused.stderr.starts_with(
            "jwtgrant: token endpoint rejected the client: invalid_client: Token reuse detected\n"
        ),
        "{}",
        reused.stderr
    );
    assert!(!reused.stderr.contains(signed.stdout.trim()));
}

#[test]
fn a_secret_client_becomes_federated_only_when_asked() {
    let w = World::new("switch");
    let first = w.setup(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(w.cli.dir.join(format!("{CLIENT}.secret")).exists());
    // Without --client-auth the secret client stays one.
    let kept = w.setup(&[]);
    assert!(kept.stdout.starts_with("nothing to change:"), "{kept:?}");
    let switched = w.setup(&["--client-auth", "federated"]);
    assert_eq!(switched.code, 0, "{switched:?}");
    let realm = &w.cli.realm;
    assert!(
        switched.stdout.contains(&format!(
            "updated client '{CLIENT}' in realm '{realm}' (clientAuthenticatorType, jwt.credential.issuer, jwt.credential.sub)\n"
        )),
        "{}",
        switched.stdout
    );
    let token = w.token(&[]);
    assert_eq!(token.code, 0, "{token:?}");
    assert_eq!(claims_of(&token.stdout)["azp"], CLIENT);
}

/// An OIDC provider that already holds the alias and does not vouch for clients is someone's
/// login provider: setup refuses to rewrite it, names the conflict, and leaves it as it was.
#[test]
fn a_login_provider_at_the_assertion_alias_is_not_taken_over() {
    let w = World::new("takeover");
    // The realm and a login provider at the default alias, made as an admin would.
    let r = w.setup(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    let login = serde_json::json!({
        "alias": "jwt-client-assertions", "providerId": "oidc", "enabled": true,
        "config": {"issuer": "https://login.example", "clientId": "kc",
                   "authorizationUrl": "https://login.example/auth",
                   "tokenUrl": "https://login.example/token", "clientSecret": "x"}
    });
    let (status, _) = w.cli.admin_call(
        jwtgrant_exchange::Method::Post,
        "identity-provider/instances",
        Some(&login),
    );
    assert_eq!(status, 201);
    let r = w.setup(&["--client-auth", "federated"]);
    // Exit 1, like every conflict setup finds, with what was applied and what was not.
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("not applied: client assertion provider, client"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(
            "the alias is taken by an OIDC provider that does not verify client assertions"
        ),
        "{r:?}"
    );
    let (status, after) = w.cli.admin_call(
        jwtgrant_exchange::Method::Get,
        "identity-provider/instances/jwt-client-assertions",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(after["config"]["issuer"], "https://login.example");
    assert_ne!(after["config"]["supportsClientAssertions"], "true");
}
