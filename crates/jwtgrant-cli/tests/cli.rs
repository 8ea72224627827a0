//! Runs the built `jwtgrant` binary and checks stdout, stderr and the exit code separately.
//!
//! Token endpoints here are loopback *stubs* (`jwtgrant_test_support::Stub`: scripted HTTP
//! answers from a thread in this process); the real Keycloak tests live in the e2e package (`tests/tests/cli_keycloak.rs`).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jwtgrant_test_support::{Reply, Request, Stub, refused_addr};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_jwtgrant");
const SECRET: &str = "s3cr3t-client-secret-value";

// ---------------------------------------------------------------- helpers

/// A finished run: exit code, stdout, stderr.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_with(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(BIN);
    // A clean environment: no JWTGRANT_* from the developer's shell.
    cmd.env_clear().envs(env.iter().copied()).args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn jwtgrant");
    if let Some(input) = stdin {
        let mut s = child.stdin.take().unwrap();
        s.write_all(input.as_bytes()).unwrap();
    }
    let out: Output = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn run(args: &[&str]) -> Run {
    run_with(args, &[], None)
}

/// `keygen` into a fresh directory; returns (dir guard, private key path, public key path).
fn keypair(alg: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let r = run(&["keygen", "--alg", alg, "--out-dir", d]);
    assert_eq!(r.code, 0, "{r:?}");
    let private = dir.path().join("private.pem");
    let public = dir.path().join("public.pem");
    (dir, private, public)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn b64url_json(part: &str) -> Value {
    // Tiny base64url decoder so the tests do not lean on the code under test.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in part.bytes() {
        let v = alphabet.iter().position(|&a| a == c).expect("base64url") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    serde_json::from_slice(&out).unwrap()
}

fn b64url(bytes: &[u8]) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            s.push(alphabet[((v >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    s
}

/// (header, claims) of a compact JWT.
fn decode(jwt: &str) -> (Value, Value) {
    let parts: Vec<&str> = jwt.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    (b64url_json(parts[0]), b64url_json(parts[1]))
}

fn unsigned_jwt(header: Value, claims: Value) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

fn sign_args(key: &str) -> Vec<&str> {
    vec![
        "--key",
        key,
        "--iss",
        "http://localhost:3000",
        "--sub",
        "nodejsuser-1234",
        "--aud",
        "http://localhost:8080/realms/acme",
    ]
}

// ---------------------------------------------------------------- the stub token endpoint

fn ok_token(token: &str) -> Reply {
    Reply::json(
        200,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": 300,
               "refresh_expires_in": 0, "scope": "profile email", "not-before-policy": 0})
        .to_string(),
    )
}

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": error, "error_description": description}).to_string(),
    )
}

/// A loopback stub token endpoint (Keycloak's token path) answering the given replies in
/// order (the last repeats); it records each request.
struct TokenStub {
    url: String,
    stub: Stub,
}

impl TokenStub {
    fn start(replies: Vec<Reply>) -> TokenStub {
        let stub = Stub::replies(replies);
        let url = stub.url("/realms/acme/protocol/openid-connect/token");
        TokenStub { url, stub }
    }

    fn requests(&self) -> Vec<Request> {
        self.stub.requests()
    }
}

/// A loopback port where nothing listens.
fn refused_url() -> String {
    format!(
        "http://{}/realms/acme/protocol/openid-connect/token",
        refused_addr()
    )
}

// ---------------------------------------------------------------- top level

#[test]
fn version_and_help() {
    let r = run(&["--version"]);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stdout,
        format!("jwtgrant {}\n", env!("CARGO_PKG_VERSION"))
    );
    let r = run(&["--help"]);
    assert_eq!(r.code, 0);
    for needle in [
        "Exit codes:",
        "3  the server rejected",
        "4  the server could not be reached",
    ] {
        assert!(r.stdout.contains(needle), "{needle} in {}", r.stdout);
    }
    for cmd in [
        "keygen",
        "sign",
        "exchange",
        "token",
        "pubkey",
        "jwks",
        "inspect",
        "completions",
    ] {
        let r = run(&[cmd, "--help"]);
        assert_eq!(r.code, 0, "{cmd}");
        assert!(r.stdout.contains("Examples:"), "{cmd} --help has examples");
    }
    for sub in ["setup", "doctor"] {
        let r = run(&["keycloak", sub, "--help"]);
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("Examples:"), "keycloak {sub}");
        assert!(
            r.stdout.contains("[env: JWTGRANT_KEYCLOAK"),
            "env shown for keycloak {sub}"
        );
    }
    let r = run(&["jwks", "serve", "--help"]);
    assert!(r.stdout.contains("SIGHUP"));
    let r = run(&[]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let r = run(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}");
        assert!(r.stdout.contains("jwtgrant"), "{shell}");
        assert!(r.stdout.contains("keycloak"), "{shell}");
        assert_eq!(r.stderr, "");
    }
    assert_eq!(run(&["completions", "tcsh"]).code, 2);
}

// ---------------------------------------------------------------- keys

#[test]
fn keygen_writes_0600_private_and_spki_public_and_refuses_to_overwrite() {
    for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        let (dir, private, public) = keypair(alg);
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{alg}");
        let priv_pem = std::fs::read_to_string(&private).unwrap();
        assert!(
            priv_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{alg}: PKCS#8"
        );
        let pub_pem = std::fs::read_to_string(&public).unwrap();
        assert!(
            pub_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"),
            "{alg}: SPKI"
        );

        let d = p(dir.path());
        let again = run(&["keygen", "--alg", alg, "--out-dir", d]);
        assert_eq!(again.code, 1, "{again:?}");
        assert!(again.stderr.starts_with("jwtgrant: "), "{again:?}");
        assert!(again.stderr.contains("already exists"), "{again:?}");
        assert!(again.stderr.contains("--force"), "{again:?}");
        assert_eq!(
            std::fs::read_to_string(&private).unwrap(),
            priv_pem,
            "untouched"
        );

        let forced = run(&["keygen", "--alg", alg, "--out-dir", d, "--force"]);
        assert_eq!(forced.code, 0, "{forced:?}");
        assert_ne!(
            std::fs::read_to_string(&private).unwrap(),
            priv_pem,
            "replaced"
        );
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{alg} after --force");
    }
}

#[test]
fn keygen_rsa_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&["keygen", "--bits", "3072", "--out-dir", p(dir.path())]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("3072"), "{r:?}");
    let r = run(&["keygen", "--bits", "1024", "--out-dir", p(dir.path())]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unsupported RSA size '1024'"), "{r:?}");
}

#[test]
fn pubkey_prints_the_spki_pem_keygen_wrote() {
    let (_d, private, public) = keypair("ES256");
    let r = run(&["pubkey", "--key", p(&private)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, std::fs::read_to_string(&public).unwrap());
    assert_eq!(r.stderr, "");
}

#[test]
fn jwks_uses_thumbprints_unless_kids_are_given() {
    let (_d1, k1, pub1) = keypair("RS256");
    let (_d2, k2, _) = keypair("EdDSA");
    let r = run(&["jwks", "--key", p(&k1), "--key", p(&k2)]);
    assert_eq!(r.code, 0, "{r:?}");
    let jwks: Value = serde_json::from_str(&r.stdout).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[1]["kty"], "OKP");
    assert!(
        keys.iter().all(|k| k.get("d").is_none()),
        "no private parts"
    );
    let kid0 = keys[0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(kid0.len(), 43, "a SHA-256 thumbprint, base64url: {kid0}");

    // The public key file gives the same thumbprint.
    let r = run(&["jwks", "--key", p(&pub1)]);
    assert_eq!(r.code, 0, "{r:?}");
    let jwks: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], kid0.as_str());

    // And `sign --kid-thumbprint` puts that kid in the header.
    let mut args = vec!["sign", "--kid-thumbprint"];
    args.extend(sign_args(p(&k1)));
    let r = run(&args);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(decode(&r.stdout).0["kid"], kid0.as_str());

    let r = run(&["jwks", "--key", p(&k1), "--kid", "k1"]);
    let jwks: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "k1");

    let r = run(&["jwks"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--key"), "{r:?}");
}

// ---------------------------------------------------------------- sign and inspect

#[test]
fn sign_prints_one_assertion_with_the_claims_keycloak_wants() {
    let (_d, key, _) = keypair("RS256");
    let r = run(&[
        "sign",
        "--key",
        p(&key),
        "--iss",
        "http://localhost:3000",
        "--sub",
        "nodejsuser-1234",
        "--keycloak",
        "http://localhost:8080/",
        "--realm",
        "acme",
        "--lifetime",
        "2m",
        "--nbf",
        "--claim",
        "tenant=acme",
        "--claim",
        "n=42",
        "--claim",
        "roles=[\"a\",\"b\"]",
        "--kid",
        "my-key",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stderr, "");
    assert!(r.stdout.ends_with('\n'));
    assert_eq!(r.stdout.lines().count(), 1);
    let (header, claims) = decode(&r.stdout);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], "my-key");
    assert_eq!(claims["iss"], "http://localhost:3000");
    assert_eq!(claims["sub"], "nodejsuser-1234");
    assert_eq!(
        claims["aud"], "http://localhost:8080/realms/acme",
        "a single string"
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
    assert_eq!(claims["nbf"], claims["iat"]);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["n"], 42);
    assert_eq!(claims["roles"], json!(["a", "b"]));

    // Env vars stand in for flags; a fresh jti each time.
    let key_s = p(&key).to_owned();
    let env = [
        ("JWTGRANT_KEY", key_s.as_str()),
        ("JWTGRANT_ISS", "http://localhost:3000"),
        ("JWTGRANT_SUB", "u"),
        ("JWTGRANT_KEYCLOAK", "http://kc:8080"),
        ("JWTGRANT_REALM", "r"),
        ("JWTGRANT_ALG", "PS256"),
    ];
    let a = run_with(&["sign"], &env, None);
    let b = run_with(&["sign"], &env, None);
    assert_eq!(a.code, 0, "{a:?}");
    let (ha, ca) = decode(&a.stdout);
    let (_, cb) = decode(&b.stdout);
    assert_eq!(ha["alg"], "PS256");
    assert_eq!(ca["aud"], "http://kc:8080/realms/r");
    assert_ne!(ca["jti"], cb["jti"]);
}

#[test]
fn sign_claims_json_file_and_claim_flags() {
    let (d, key, _) = keypair("ES256");
    let f = d.path().join("claims.json");
    std::fs::write(&f, r#"{"tenant":"from-file","scope_hint":["x"]}"#).unwrap();
    let mut args = vec![
        "sign",
        "--claims-json",
        p(&f),
        "--claim",
        "tenant=from-flag",
    ];
    args.extend(sign_args(p(&key)));
    let r = run(&args);
    assert_eq!(r.code, 0, "{r:?}");
    let (h, c) = decode(&r.stdout);
    assert_eq!(h["alg"], "ES256");
    assert_eq!(c["tenant"], "from-flag", "--claim wins over the file");
    assert_eq!(c["scope_hint"], json!(["x"]));
}

#[test]
fn inspect_shows_claims_times_and_checks_the_signature() {
    let (_d, key, public) = keypair("RS256");
    let mut args = vec!["sign"];
    args.extend(sign_args(p(&key)));
    let jwt = run(&args).stdout;

    let r = run_with(&["inspect", "--key", p(&public)], &[], Some(&jwt));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("\"iss\": \"http://localhost:3000\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("(in 60 s)") || r.stdout.contains("(in 59 s)"),
        "relative exp: {}",
        r.stdout
    );
    assert!(r.stdout.contains("UTC"), "dates: {}", r.stdout);
    assert!(r.stdout.contains("signature: valid"), "{}", r.stdout);
    assert!(!r.stdout.contains("warning"), "{}", r.stdout);

    // The wrong key: exit 1 and say so.
    let (_d2, _, other_public) = keypair("RS256");
    let r = run(&["inspect", jwt.trim(), "--key", p(&other_public)]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("signature: INVALID"), "{r:?}");

    // A JWKS file works too.
    let jwks = run(&["jwks", "--key", p(&public)]).stdout;
    let dir = tempfile::tempdir().unwrap();
    let jf = dir.path().join("jwks.json");
    std::fs::write(&jf, jwks).unwrap();
    let r = run(&["inspect", jwt.trim(), "--jwks", p(&jf)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("signature: valid"), "{r:?}");
}

#[test]
fn inspect_warns_about_what_keycloak_rejects() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let jwt = unsigned_jwt(
        json!({"alg": "HS256"}),
        json!({"iss": "my-issuer", "sub": "u", "aud": ["a", "b"], "iat": now, "exp": now + 3600}),
    );
    let r = run(&["inspect", &jwt]);
    assert_eq!(r.code, 0, "{r:?}");
    for needle in [
        "warning: no jti",
        "warning: exp is 3600 s ahead",
        "warning: aud is an array",
        "warning: alg 'HS256'",
        "warning: iss 'my-issuer' is not a URL",
    ] {
        assert!(r.stdout.contains(needle), "{needle}: {}", r.stdout);
    }
    let expired = unsigned_jwt(
        json!({"alg": "RS256"}),
        json!({"iss": "http://i", "sub": "u", "aud": "a", "jti": "j", "iat": now - 400, "exp": now - 200}),
    );
    let r = run(&["inspect", &expired]);
    assert!(r.stdout.contains("expired 3 min ago"), "{}", r.stdout);

    let r = run(&["inspect", "not.a-jwt"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.starts_with("jwtgrant: "), "{r:?}");
}

// ---------------------------------------------------------------- exchange and token against stubs

fn client_env() -> Vec<(&'static str, &'static str)> {
    vec![("JWTGRANT_CLIENT_SECRET", SECRET)]
}

#[test]
fn exchange_prints_the_bare_token_json_or_decoded() {
    let access = unsigned_jwt(
        json!({"alg": "RS256", "kid": "kc"}),
        json!({"sub": "kc-user", "azp": "custom-client"}),
    );
    let stub = TokenStub::start(vec![ok_token(&access)]);
    let assertion = unsigned_jwt(json!({"alg": "RS256"}), json!({"iss": "i"}));
    let base = [
        "exchange",
        "--token-endpoint",
        &stub.url,
        "--client-id",
        "custom-client",
    ];

    let mut args = base.to_vec();
    args.extend(["--assertion", "-"]);
    let r = run_with(&args, &client_env(), Some(&assertion));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, format!("{access}\n"));
    assert_eq!(r.stderr, "");
    let form = &stub.requests()[0];
    assert!(
        form.text()
            .contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
        "{form:?}"
    );
    assert_eq!(form.form("client_secret").as_deref(), Some(SECRET));
    assert_eq!(form.form("assertion").as_deref(), Some(assertion.as_str()));

    let mut args = base.to_vec();
    args.extend(["--assertion", &assertion, "--json", "--decode"]);
    let r = run_with(&args, &client_env(), None);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.lines().count(), 1, "one JSON object: {}", r.stdout);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["access_token"], access.as_str());
    assert_eq!(v["expires_in"], 300);
    assert_eq!(v["access_token_header"]["kid"], "kc");
    assert_eq!(v["access_token_claims"]["sub"], "kc-user");
    // The assertion was in argv: the one line on stderr says why that is unwise.
    assert_eq!(
        r.stderr,
        "jwtgrant: warning: --assertion JWT puts the assertion on the command line, where every local user can read it through `ps` until it expires; pass --assertion - and the JWT on stdin, or set JWTGRANT_ASSERTION\n"
    );

    let mut args = base.to_vec();
    args.extend(["--assertion", &assertion, "--decode"]);
    let r = run_with(&args, &client_env(), None);
    assert_eq!(r.stdout, format!("{access}\n"));
    assert!(r.stderr.contains("\"sub\": \"kc-user\""), "{r:?}");
}

#[test]
fn exchange_rejection_exits_3_with_description_and_hint() {
    let stub = TokenStub::start(vec![oauth_error(400, "invalid_grant", "User not found")]);
    let assertion = unsigned_jwt(
        json!({"alg": "RS256"}),
        json!({"iss": "i", "sub": "nodejsuser-1234"}),
    );
    let r = run_with(
        &[
            "exchange",
            "--token-endpoint",
            &stub.url,
            "--client-id",
            "c",
            "--assertion",
            &assertion,
            "-vv",
        ],
        &client_env(),
        None,
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(r.stdout, "");
    let last: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| {
            !l.starts_with("jwtgrant: info")
                && !l.starts_with("jwtgrant: debug")
                && !l.starts_with("jwtgrant: warning: --assertion JWT")
        })
        .collect();
    assert_eq!(last.len(), 2, "{}", r.stderr);
    assert!(last[0].starts_with("jwtgrant: "), "{}", r.stderr);
    assert!(last[0].contains("invalid_grant"), "{}", r.stderr);
    assert!(last[0].contains("User not found"), "{}", r.stderr);
    assert!(last[1].starts_with("  hint: "), "{}", r.stderr);
    assert!(last[1].contains("link"), "{}", r.stderr);
    assert!(!r.stderr.contains(SECRET), "secret leaked: {}", r.stderr);
    assert!(
        !r.stderr.contains(&assertion),
        "assertion leaked: {}",
        r.stderr
    );

    let stub = TokenStub::start(vec![oauth_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    )]);
    let r = run_with(
        &[
            "exchange",
            "--token-endpoint",
            &stub.url,
            "--client-id",
            "c",
            "--assertion",
            &assertion,
        ],
        &client_env(),
        None,
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("invalid_client"), "{r:?}");
}

#[test]
fn unreachable_or_nonsense_exits_4() {
    let assertion = unsigned_jwt(json!({"alg": "RS256"}), json!({}));
    let r = run_with(
        &[
            "exchange",
            "--token-endpoint",
            &refused_url(),
            "--client-id",
            "c",
            "--assertion",
            &assertion,
            "--timeout",
            "5s",
        ],
        &client_env(),
        None,
    );
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.starts_with("jwtgrant: "), "{r:?}");
    assert!(r.stderr.contains("refused"), "{r:?}");
    assert!(r.stderr.contains("  hint: "), "{r:?}");

    let stub = TokenStub::start(vec![Reply::json(200, "<html>login</html>")]);
    let r = run_with(
        &[
            "exchange",
            "--token-endpoint",
            &stub.url,
            "--client-id",
            "c",
            "--assertion",
            &assertion,
        ],
        &client_env(),
        None,
    );
    assert_eq!(r.code, 4, "{r:?}");
}

#[test]
fn token_signs_exchanges_and_retries_with_a_fresh_assertion() {
    let (_d, key, _) = keypair("ES256");
    let stub = TokenStub::start(vec![Reply::json(503, "busy"), ok_token("the-access-token")]);
    let mut args = vec![
        "token",
        "--token-endpoint",
        stub.url.as_str(),
        "--client-id",
        "custom-client",
        "-v",
    ];
    args.extend(sign_args(p(&key)));
    let r = run_with(&args, &client_env(), None);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "the-access-token\n");
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    let a1 = reqs[0].form("assertion").unwrap();
    let a2 = reqs[1].form("assertion").unwrap();
    assert_ne!(
        decode(&a1).1["jti"],
        decode(&a2).1["jti"],
        "fresh assertion per try"
    );
    assert!(
        r.stderr.contains("retr"),
        "-v shows the retry: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&stub.url),
        "-v shows the endpoint: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("nodejsuser-1234"),
        "-v shows the claims: {}",
        r.stderr
    );
    assert!(!r.stderr.contains(SECRET), "{}", r.stderr);
    assert!(
        !r.stderr.contains(&a1) && !r.stderr.contains(&a2),
        "no assertion on stderr"
    );
    assert!(!r.stderr.contains("the-access-token"), "no token on stderr");

    let stub = TokenStub::start(vec![oauth_error(400, "invalid_grant", "Invalid signature")]);
    let mut args = vec![
        "token",
        "--token-endpoint",
        stub.url.as_str(),
        "--client-id",
        "c",
    ];
    args.extend(sign_args(p(&key)));
    let r = run_with(&args, &client_env(), None);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(stub.requests().len(), 1, "rejections are not retried");
    assert!(r.stderr.contains("Invalid signature"), "{r:?}");

    let mut args = vec![
        "token",
        "--token-endpoint",
        "http://127.0.0.1:1/token",
        "--client-id",
        "c",
        "--retries",
        "0",
        "--timeout",
        "3s",
    ];
    args.extend(sign_args(p(&key)));
    assert_eq!(run_with(&args, &client_env(), None).code, 4);
}

#[test]
fn closed_stdout_is_not_an_error() {
    let big = "x".repeat(512 * 1024);
    let stub = TokenStub::start(vec![ok_token(&big)]);
    let assertion = unsigned_jwt(json!({"alg": "RS256"}), json!({}));
    let script = format!(
        "printf %s '{assertion}' | '{BIN}' exchange --token-endpoint '{}' --client-id c --assertion - | head -c 5; s=${{PIPESTATUS[1]}}; echo; echo \"status=$s\"",
        stub.url
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("JWTGRANT_CLIENT_SECRET", SECRET)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stdout, "xxxxx\nstatus=0\n", "stderr: {stderr}");
    assert_eq!(stderr, "");
}

// ---------------------------------------------------------------- bad inputs

#[test]
fn bad_inputs_exit_with_the_right_code_and_message() {
    let (d, key, public) = keypair("RS256");
    let open_key = d.path().join("open.pem");
    std::fs::copy(&key, &open_key).unwrap();
    std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let garbage = d.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o600)).unwrap();
    let secret_file = d.path().join("secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let open_s = p(&open_key).to_owned();
    let chmod_fix = format!("chmod 600 {open_s}");

    struct Case<'a> {
        name: &'a str,
        args: Vec<&'a str>,
        env: Vec<(&'a str, &'a str)>,
        code: i32,
        message: Vec<&'a str>,
    }
    fn sign(key: &str) -> Vec<&str> {
        let mut v = vec!["sign"];
        v.extend(sign_args(key));
        v
    }
    let cases = vec![
        Case {
            name: "missing key file",
            args: sign("/nonexistent/key.pem"),
            env: vec![],
            code: 1,
            message: vec![
                "cannot read private key '/nonexistent/key.pem'",
                "No such file",
            ],
        },
        Case {
            name: "key readable by others",
            args: sign(&open_s),
            env: vec![],
            code: 1,
            message: vec!["mode 0644", &chmod_fix, "--allow-insecure-key-permissions"],
        },
        Case {
            name: "bad PEM",
            args: sign(p(&garbage)),
            env: vec![],
            code: 1,
            message: vec![p(&garbage)],
        },
        Case {
            // No --allow-insecure-key-permissions: a public key (mode 0644) passed by mistake
            // is reported as a public key, not as a chmod problem.
            name: "public key where a private one is needed",
            args: sign(p(&public)),
            env: vec![],
            code: 1,
            message: vec!["public key", "cannot read private key"],
        },
        Case {
            name: "bad URL",
            args: vec![
                "exchange",
                "--assertion",
                "x.y.z",
                "--token-endpoint",
                "localhost:8080/token",
                "--client-id",
                "c",
            ],
            env: vec![],
            code: 2,
            message: vec!["invalid URL 'localhost:8080/token'"],
        },
        Case {
            name: "bad keycloak URL",
            args: {
                let mut v = sign(p(&key));
                v.truncate(7);
                v.extend(["--keycloak", "ftp://kc", "--realm", "r"]);
                v
            },
            env: vec![],
            code: 2,
            message: vec!["scheme must be http or https"],
        },
        Case {
            name: "missing client secret",
            args: vec![
                "exchange",
                "--assertion",
                "x.y.z",
                "--token-endpoint",
                "http://127.0.0.1:9/t",
                "--client-id",
                "c",
            ],
            env: vec![],
            code: 2,
            message: vec![
                "missing client secret",
                "--client-secret-file",
                "JWTGRANT_CLIENT_SECRET",
                "--client-secret-stdin",
            ],
        },
        Case {
            name: "secret as a flag",
            args: vec![
                "exchange",
                "--assertion",
                "x.y.z",
                "--token-endpoint",
                "http://127.0.0.1:9/t",
                "--client-id",
                "c",
                "--client-secret",
                SECRET,
            ],
            env: vec![],
            code: 2,
            message: vec![
                "--client-secret is not accepted",
                "ps",
                "--client-secret-file",
                "JWTGRANT_CLIENT_SECRET",
                "--client-secret-stdin",
            ],
        },
        Case {
            name: "secret flag without value",
            args: vec![
                "exchange",
                "--assertion",
                "x.y.z",
                "--token-endpoint",
                "http://127.0.0.1:9/t",
                "--client-id",
                "c",
                "--client-secret",
            ],
            env: vec![],
            code: 2,
            message: vec!["--client-secret is not accepted"],
        },
        Case {
            name: "bad --claim",
            args: {
                let mut v = sign(p(&key));
                v.extend(["--claim", "tenant"]);
                v
            },
            env: vec![],
            code: 2,
            message: vec!["invalid claim 'tenant'", "NAME=VALUE"],
        },
        Case {
            name: "unknown algorithm",
            args: {
                let mut v = sign(p(&key));
                v.extend(["--alg", "XS512"]);
                v
            },
            env: vec![],
            code: 2,
            message: vec!["unknown algorithm 'XS512'", "RS256"],
        },
        Case {
            name: "symmetric algorithm",
            args: {
                let mut v = sign(p(&key));
                v.extend(["--alg", "HS256"]);
                v
            },
            env: vec![],
            code: 2,
            message: vec!["asymmetric"],
        },
        Case {
            name: "algorithm not fitting the key",
            args: {
                let mut v = sign(p(&key));
                v.extend(["--alg", "ES256"]);
                v
            },
            env: vec![],
            code: 1,
            message: vec!["ES256"],
        },
        Case {
            name: "bad duration",
            args: {
                let mut v = sign(p(&key));
                v.extend(["--lifetime", "5 parsecs"]);
                v
            },
            env: vec![],
            code: 2,
            message: vec!["invalid duration '5 parsecs'"],
        },
        Case {
            name: "no audience",
            args: vec!["sign", "--key", p(&key), "--iss", "http://i", "--sub", "s"],
            env: vec![],
            code: 2,
            message: vec!["--aud", "--keycloak", "--realm"],
        },
        Case {
            name: "no endpoint",
            args: vec!["exchange", "--assertion", "x.y.z", "--client-id", "c"],
            env: vec![("JWTGRANT_CLIENT_SECRET", SECRET)],
            code: 2,
            message: vec!["--token-endpoint", "--issuer-url", "--keycloak"],
        },
        Case {
            name: "plain http to a remote host",
            args: vec![
                "exchange",
                "--assertion",
                "x.y.z",
                "--token-endpoint",
                "http://sso.example.invalid/t",
                "--client-id",
                "c",
            ],
            env: vec![("JWTGRANT_CLIENT_SECRET", SECRET)],
            code: 2,
            message: vec!["--allow-insecure-http"],
        },
        Case {
            name: "missing ca file",
            args: vec![
                "exchange",
                "--assertion",
                "x.y.z",
                "--token-endpoint",
                "https://127.0.0.1:9/t",
                "--client-id",
                "c",
                "--ca-file",
                "/nonexistent/ca.pem",
            ],
            env: vec![("JWTGRANT_CLIENT_SECRET", SECRET)],
            code: 1,
            message: vec!["cannot read CA file '/nonexistent/ca.pem'"],
        },
        Case {
            name: "empty secret file",
            args: vec![
                "exchange",
                "--assertion",
                "x.y.z",
                "--token-endpoint",
                "http://127.0.0.1:9/t",
                "--client-id",
                "c",
                "--client-secret-file",
                "/dev/null",
            ],
            env: vec![],
            code: 1,
            message: vec!["client secret file '/dev/null' is empty"],
        },
        Case {
            name: "both want stdin",
            args: vec![
                "exchange",
                "--assertion",
                "-",
                "--token-endpoint",
                "http://127.0.0.1:9/t",
                "--client-id",
                "c",
                "--client-secret-stdin",
            ],
            env: vec![],
            code: 2,
            message: vec!["both want stdin"],
        },
        Case {
            name: "private-key-jwt without key",
            args: vec![
                "exchange",
                "--assertion",
                "x.y.z",
                "--token-endpoint",
                "http://127.0.0.1:9/t",
                "--client-id",
                "c",
                "--client-auth",
                "private-key-jwt",
            ],
            env: vec![],
            code: 2,
            message: vec!["--client-key"],
        },
        Case {
            name: "admin password as a flag",
            args: vec![
                "keycloak",
                "setup",
                "--keycloak",
                "http://127.0.0.1:9",
                "--realm",
                "r",
                "--issuer",
                "http://i",
                "--public-key",
                p(&public),
                "--client-id",
                "c",
                "--admin-password",
                "admin",
            ],
            env: vec![],
            code: 2,
            message: vec![
                "--admin-password is not accepted",
                "KEYCLOAK_ADMIN_PASSWORD",
            ],
        },
        Case {
            name: "missing admin password",
            args: vec![
                "keycloak",
                "setup",
                "--keycloak",
                "http://127.0.0.1:9",
                "--realm",
                "r",
                "--issuer",
                "http://i",
                "--public-key",
                p(&public),
                "--client-id",
                "c",
            ],
            env: vec![],
            code: 2,
            message: vec!["missing admin password"],
        },
    ];
    let _ = &secret_file;
    for c in cases {
        let r = run_with(&c.args, &c.env, None);
        assert_eq!(r.code, c.code, "{}: {r:?}", c.name);
        assert_eq!(r.stdout, "", "{}: nothing on stdout", c.name);
        // Usage errors from the argument parser carry the same prefix as the rest.
        assert!(
            r.stderr.starts_with("jwtgrant: "),
            "{}: {}",
            c.name,
            r.stderr
        );
        for m in &c.message {
            assert!(
                r.stderr.contains(m),
                "{}: expected {m:?} in {}",
                c.name,
                r.stderr
            );
        }
        assert!(!r.stderr.contains("panicked"), "{}: {}", c.name, r.stderr);
        assert!(
            !r.stderr.contains(SECRET)
                || c.name == "secret as a flag" && !r.stderr.contains(SECRET),
            "{}: secret echoed",
            c.name
        );
    }
}

#[test]
fn insecure_key_permissions_can_be_overridden() {
    let (d, key, _) = keypair("EdDSA");
    let open = d.path().join("open.pem");
    std::fs::copy(&key, &open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut args = vec!["sign", "--allow-insecure-key-permissions"];
    args.extend(sign_args(p(&open)));
    let r = run(&args);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("warning"), "still warns: {r:?}");
    assert_eq!(decode(&r.stdout).0["alg"], "EdDSA");
}

// ---------------------------------------------------------------- jwks serve

fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_owned())
        .unwrap_or_default();
    (status, body)
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn jwks_serve_serves_and_reloads_rotated_keys() {
    let (d, key, public) = keypair("RS256");
    let (_d2, key2, _) = keypair("ES256");
    let served = d.path().join("served.pem");
    std::fs::copy(&public, &served).unwrap();
    let mut child = Child(
        Command::new(BIN)
            .env_clear()
            .args([
                "jwks",
                "serve",
                "--key",
                p(&served),
                "--addr",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    // "jwtgrant: serving the JWKS of 1 key at http://127.0.0.1:PORT/.well-known/jwks.json and /jwks"
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    let expected = run(&["jwks", "--key", p(&key)]).stdout;
    let (status, body) = http_get(&addr, "/.well-known/jwks.json");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        serde_json::from_str::<Value>(&expected).unwrap()
    );
    let (status, body2) = http_get(&addr, "/jwks");
    assert_eq!((status, body2), (200, body.clone()));
    assert_eq!(http_get(&addr, "/other").0, 404);

    // Rotate: replace the file with another key (a private key file, mode 0600, works too).
    let tmp = d.path().join("served.tmp");
    std::fs::copy(&key2, &tmp).unwrap();
    std::fs::rename(&tmp, &served).unwrap();
    let expected2: Value = serde_json::from_str(&run(&["jwks", "--key", p(&key2)]).stdout).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = http_get(&addr, "/jwks");
        if serde_json::from_str::<Value>(&body).unwrap() == expected2 {
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // A broken file keeps the previous keys served.
    std::fs::write(&served, "garbage").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let (status, body) = http_get(&addr, "/jwks");
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), expected2);

    // SIGHUP forces a reload.
    std::fs::copy(&public, &served).unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, b) = http_get(&addr, "/jwks");
        if serde_json::from_str::<Value>(&b).unwrap()
            == serde_json::from_str::<Value>(&expected).unwrap()
        {
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded after SIGHUP: {b}");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(child);
}

// ---------------------------------------------------------------- options and environment

/// A deployment exports `JWTGRANT_*` once for every command; an option given on the command
/// line must then win over a conflicting variable instead of failing as a usage error.
#[test]
fn command_line_options_beat_conflicting_environment_variables() {
    let (d, key, public) = keypair("RS256");
    let (_d2, other_key, other_public) = keypair("ES256");
    let jwks = d.path().join("jwks.json");
    let r = run(&["jwks", "--key", p(&public)]);
    assert_eq!(r.code, 0, "{r:?}");
    std::fs::write(&jwks, &r.stdout).unwrap();
    let mut args = vec!["sign", "--kid-thumbprint"];
    args.extend(sign_args(p(&key)));
    let jwt = run(&args).stdout.trim().to_owned();

    // inspect: JWTGRANT_KEY (another key) exported, --jwks on the command line.
    let r = run_with(
        &["inspect", &jwt, "--jwks", p(&jwks)],
        &[("JWTGRANT_KEY", p(&other_public))],
        None,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains(&format!("signature: valid (JWKS '{}')", p(&jwks))),
        "{r:?}"
    );

    // sign: JWTGRANT_KID exported, --kid-thumbprint on the command line.
    let mut args = vec!["sign", "--kid-thumbprint"];
    args.extend(sign_args(p(&key)));
    let r = run_with(&args, &[("JWTGRANT_KID", "from-env")], None);
    assert_eq!(r.code, 0, "{r:?}");
    let thumbprint = serde_json::from_str::<Value>(&std::fs::read_to_string(&jwks).unwrap())
        .unwrap()["keys"][0]["kid"]
        .clone();
    assert_eq!(decode(&r.stdout).0["kid"], thumbprint);

    // doctor: JWTGRANT_KEY/ISS/SUB exported (as for `token`), --assertion given: it gets
    // past option parsing and tries the admin login at the (refused) server.
    let base = refused_url();
    let base = base.split("/realms").next().unwrap();
    let r = run_with(
        &[
            "keycloak",
            "doctor",
            "--keycloak",
            base,
            "--realm",
            "acme",
            "--client-id",
            "c",
            "--assertion",
            &jwt,
            "--no-exchange",
        ],
        &[
            ("JWTGRANT_KEY", p(&other_key)),
            ("JWTGRANT_ISS", "http://localhost:3000"),
            ("JWTGRANT_SUB", "someone"),
            ("KEYCLOAK_ADMIN_PASSWORD", "pw"),
        ],
        None,
    );
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("admin login as 'admin'"), "{r:?}");

    // exchange: JWTGRANT_CLIENT_SECRET_FILE exported, --client-secret-stdin given: the
    // secret from stdin is the one sent.
    let stub = TokenStub::start(vec![ok_token("header.payload.sig")]);
    let r = run_with(
        &[
            "exchange",
            "--assertion",
            &jwt,
            "--token-endpoint",
            &stub.url,
            "--client-id",
            "c",
            "--client-secret-stdin",
        ],
        &[("JWTGRANT_CLIENT_SECRET_FILE", "/nonexistent/secret")],
        Some(&format!("{SECRET}\n")),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        stub.requests()[0].form("client_secret").as_deref(),
        Some(SECRET)
    );
}

#[test]
fn conflicting_options_from_the_same_source_are_usage_errors() {
    let (_d, key, public) = keypair("EdDSA");
    let mut args = vec!["sign"];
    args.extend(sign_args(p(&key)));
    let jwt = run(&args).stdout.trim().to_owned();

    let r = run(&["inspect", &jwt, "--key", p(&public), "--jwks", p(&public)]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        "jwtgrant: --key and --jwks cannot be used together: pass one of them\n"
    );

    let r = run_with(
        &["inspect", &jwt],
        &[("JWTGRANT_KEY", p(&public)), ("JWTGRANT_JWKS", p(&public))],
        None,
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        "jwtgrant: --key and --jwks cannot be used together: both are set in the environment \
         (JWTGRANT_KEY and JWTGRANT_JWKS): unset one, or pass the one you want on the command line\n"
    );

    let mut args = vec!["sign", "--kid", "k1", "--kid-thumbprint"];
    args.extend(sign_args(p(&key)));
    let r = run(&args);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        "jwtgrant: --kid and --kid-thumbprint cannot be used together: pass one of them\n"
    );
}

/// A file that is no key at all is reported as such, not as a permissions problem.
#[test]
fn a_public_key_option_given_garbage_names_the_file_and_the_format() {
    let d = tempfile::tempdir().unwrap();
    let junk = d.path().join("junk.pem");
    std::fs::write(&junk, "hello\n").unwrap();
    std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_k, key, _) = keypair("ES256");
    let mut sign = vec!["sign"];
    sign.extend(sign_args(p(&key)));
    let jwt = run(&sign).stdout.trim().to_owned();
    for args in [
        vec!["jwks", "--key", p(&junk)],
        vec!["pubkey", "--key", p(&junk)],
        vec!["inspect", &jwt, "--key", p(&junk)],
    ] {
        let r = run(&args);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(
            r.stderr
                .starts_with(&format!("jwtgrant: cannot read key '{}': ", p(&junk))),
            "{args:?}: {r:?}"
        );
        assert!(r.stderr.contains("no PEM block found"), "{args:?}: {r:?}");
        assert!(!r.stderr.contains("chmod"), "{args:?}: {r:?}");
    }
}

/// Registered claims have their own flags; `--claim` (or --claims-json) naming one says which.
#[test]
fn claim_flags_cannot_set_registered_claims() {
    let (d, key, _) = keypair("ES256");
    for (claim, flag) in [
        ("iss=http://evil", "--iss"),
        ("sub=x", "--sub"),
        ("aud=x", "--aud"),
        ("exp=1", "--lifetime"),
        ("nbf=1", "--nbf"),
    ] {
        let mut args = vec!["sign", "--claim", claim];
        args.extend(sign_args(p(&key)));
        let r = run(&args);
        assert_eq!(r.code, 2, "{claim}: {r:?}");
        let name = claim.split('=').next().unwrap();
        assert!(
            r.stderr.contains(&format!(
                "'{name}' is a registered claim that jwtgrant sets itself: use {flag}"
            )),
            "{claim}: {r:?}"
        );
        assert!(!r.stderr.contains("Claims::new"), "{r:?}");
    }
    let file = d.path().join("claims.json");
    std::fs::write(&file, r#"{"tenant":"acme","jti":"fixed"}"#).unwrap();
    let mut args = vec!["sign", "--claims-json", p(&file)];
    args.extend(sign_args(p(&key)));
    let r = run(&args);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "claims file '{}': 'jti' is a registered claim that jwtgrant sets itself",
            p(&file)
        )),
        "{r:?}"
    );
}

#[test]
fn a_password_in_a_url_never_reaches_stderr() {
    for url in [
        "https://id:hunter2@kc:99999/token",
        "id:hunter2@kc/token",
        "https://id:hunter2@kc.example/token",
    ] {
        // As a flag and through the environment: clap's own message would echo the raw value.
        for (args, env) in [
            (
                vec![
                    "exchange",
                    "--assertion",
                    "x.y.z",
                    "--token-endpoint",
                    url,
                    "--client-id",
                    "c",
                ],
                vec![],
            ),
            (
                vec!["exchange", "--assertion", "x.y.z", "--client-id", "c"],
                vec![("JWTGRANT_TOKEN_ENDPOINT", url)],
            ),
        ] {
            let r = run_with(&args, &env, None);
            assert_eq!(r.code, 2, "{url}: {r:?}");
            assert!(!r.stderr.contains("hunter2"), "{url}: {}", r.stderr);
            assert!(
                r.stderr.starts_with(
                    "jwtgrant: invalid value for '--token-endpoint <URL>': invalid URL '"
                ),
                "{url}: {}",
                r.stderr
            );
        }
    }
}

#[test]
fn keygen_bits_only_for_rsa() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().to_str().unwrap();
    let r = run(&[
        "keygen",
        "--alg",
        "ES256",
        "--bits",
        "4096",
        "--out-dir",
        out,
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        "jwtgrant: --bits 4096 applies to RSA keys only; ES256 keys have a fixed size \
         (drop --bits, or choose --alg RS256 or PS256)\n"
    );
    assert!(!d.path().join("private.pem").exists(), "nothing written");
    let r = run(&["keygen", "--alg", "ES256", "--out-dir", out]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("(ES256, PKCS#8, mode 0600)"),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------- jwks serve over TLS

/// A throwaway CA and a server certificate it issued for `localhost` and `127.0.0.1`, written
/// as PEM into a fresh directory; the server key has mode 0600.
struct Pki {
    _dir: tempfile::TempDir,
    ca_pem: String,
    cert: PathBuf,
    key: PathBuf,
    /// A key that did not sign anything here: the wrong key for `cert`.
    other_key: PathBuf,
}

fn pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "jwtgrant test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = params.signed_by(&server_key, &issuer).unwrap();

    let write_key = |name: &str, pem: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    };
    let key = write_key("server.key", server_key.serialize_pem());
    let other_key = write_key("other.key", KeyPair::generate().unwrap().serialize_pem());
    let cert = dir.path().join("server.pem");
    std::fs::write(&cert, server.pem()).unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert,
        key,
        other_key,
        _dir: dir,
    }
}

/// A running `jwtgrant jwks serve ARGS --addr 127.0.0.1:0`, its stderr collected line by
/// line on a thread (kept open: the server logs there, and a closed stderr is not what
/// these tests are about).
struct Serving {
    _child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Serving {
    fn start(args: &[&str]) -> Serving {
        let mut child = Child(
            Command::new(BIN)
                .env_clear()
                .args(["jwks", "serve", "--addr", "127.0.0.1:0"])
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let stderr = BufReader::new(child.0.stderr.take().unwrap());
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Serving {
            _child: child,
            stderr: lines,
        }
    }

    /// Stderr line `n` (0-based), waiting up to 10 s for it.
    fn stderr_line(&self, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.stderr.lock().unwrap().get(n) {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no stderr line {n}: {:?}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// An agent that trusts only `ca_pem` (no webpki roots, no proxy from the environment).
fn agent_trusting(ca_pem: &str) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let ca = Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    ureq::Agent::config_builder()
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::from(vec![ca]))
                .build(),
        )
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn https_get_json(agent: &ureq::Agent, url: &str) -> Value {
    let mut resp = agent.get(url).call().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap()
}

#[test]
fn jwks_serve_over_tls_serves_the_jwks_to_a_client_trusting_the_ca() {
    let pki = pki();
    let (d, _, public) = keypair("EdDSA");
    let (_d2, _, public2) = keypair("ES256");
    let served = d.path().join("served.pem");
    std::fs::copy(&public, &served).unwrap();
    let server = Serving::start(&[
        "--key",
        p(&served),
        "--kid",
        "tls-test",
        "--tls-cert",
        p(&pki.cert),
        "--tls-key",
        p(&pki.key),
    ]);
    let line = server.stderr_line(0);
    let addr = line
        .split("https://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no https URL in {line:?}"))
        .to_owned();
    assert_eq!(
        line,
        format!(
            "jwtgrant: serving the JWKS of 1 key(s) at https://{addr}/.well-known/jwks.json and /jwks (reloads on change and SIGHUP)"
        )
    );

    // A connection that never starts its handshake must not hold up anyone else.
    let _stalled = TcpStream::connect(&addr).unwrap();

    let agent = agent_trusting(&pki.ca_pem);
    let printed: Value =
        serde_json::from_str(&run(&["jwks", "--key", p(&public), "--kid", "tls-test"]).stdout)
            .unwrap();
    let x = printed["keys"][0]["x"].as_str().unwrap();
    let expected = json!({"keys": [
        {"crv": "Ed25519", "kid": "tls-test", "kty": "OKP", "use": "sig", "x": x}
    ]});
    let started = Instant::now();
    for url in [
        format!("https://{addr}/.well-known/jwks.json"),
        format!("https://{addr}/jwks"),
        // The certificate names localhost too.
        format!(
            "https://localhost:{}/jwks",
            addr.rsplit(':').next().unwrap()
        ),
    ] {
        assert_eq!(https_get_json(&agent, &url), expected, "{url}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the stalled handshake blocked the others: {:?}",
        started.elapsed()
    );

    // Plain HTTP to the TLS port gets no HTTP answer, and the server keeps serving TLS.
    let mut plain = TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    // The server may hang up before the whole request is written.
    let _ = plain.write_all(
        format!("GET /jwks HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP answered: {:?}",
        String::from_utf8_lossy(&answer)
    );
    let err = agent
        .get(&format!("http://{addr}/jwks"))
        .call()
        .unwrap_err();
    assert!(
        !matches!(err, ureq::Error::StatusCode(_)),
        "plain HTTP got a status: {err}"
    );
    // A client that does not trust the CA is refused at the handshake.
    let untrusting: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let err = untrusting
        .get(&format!("https://{addr}/jwks"))
        .call()
        .unwrap_err();
    assert!(
        matches!(err, ureq::Error::Tls(_) | ureq::Error::Io(_)),
        "{err:?}"
    );

    // Reloads keep working over TLS.
    let tmp = d.path().join("served.tmp");
    std::fs::copy(&public2, &tmp).unwrap();
    std::fs::rename(&tmp, &served).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let jwks = https_get_json(&agent, &format!("https://{addr}/jwks"));
        if jwks["keys"][0]["kty"] == "EC" {
            assert_eq!(jwks["keys"][0]["kid"], "tls-test");
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded: {jwks}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn jwks_serve_tls_refuses_bad_certificates_and_keys_with_the_fix() {
    let pki = pki();
    let (d, _, public) = keypair("EdDSA");
    let serve = |cert: &Path, key: &Path| {
        run(&[
            "jwks",
            "serve",
            "--key",
            p(&public),
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            p(cert),
            "--tls-key",
            p(key),
        ])
    };
    let check = |r: Run, code: i32, stderr: String| {
        assert_eq!((r.code, r.stdout.as_str(), r.stderr), (code, "", stderr));
    };
    let (cert, other) = (p(&pki.cert), p(&pki.other_key));

    check(
        serve(&pki.cert, &pki.other_key),
        1,
        format!(
            "jwtgrant: TLS key '{other}' does not belong to the first certificate in '{cert}': pass the key the certificate was issued for, and put that certificate first in the chain\n"
        ),
    );

    let open = d.path().join("open.key");
    std::fs::copy(&pki.key, &open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = p(&open);
    check(
        serve(&pki.cert, &open),
        1,
        format!(
            "jwtgrant: TLS key '{o}' is accessible by group or others (mode 0644): run 'chmod 600 {o}' (or pass --allow-insecure-key-permissions)\n"
        ),
    );

    let missing = d.path().join("missing.pem");
    let m = p(&missing);
    check(
        serve(&missing, &pki.key),
        1,
        format!(
            "jwtgrant: cannot read TLS certificate '{m}': No such file or directory (os error 2)\n"
        ),
    );

    // The key given as the certificate: no certificate in it.
    let k = p(&pki.key);
    check(
        serve(&pki.key, &pki.key),
        1,
        format!(
            "jwtgrant: TLS certificate '{k}' holds no '-----BEGIN CERTIFICATE-----' block: pass the server's certificate chain as PEM, the server's own certificate first\n"
        ),
    );

    // The certificate given as the key (mode 0600, so the parse is what fails).
    let cert_as_key = d.path().join("cert-as.key");
    std::fs::copy(&pki.cert, &cert_as_key).unwrap();
    std::fs::set_permissions(&cert_as_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let c = p(&cert_as_key);
    check(
        serve(&pki.cert, &cert_as_key),
        1,
        format!(
            "jwtgrant: TLS key '{c}' holds no private key block ('-----BEGIN PRIVATE KEY-----', RSA or EC): pass the certificate's unencrypted private key as PEM (PKCS#8, PKCS#1 or SEC1)\n"
        ),
    );

    // A broken key block: the message never quotes the file.
    let broken = d.path().join("broken.key");
    let key_pem = std::fs::read_to_string(&pki.key).unwrap();
    let body_line = key_pem.lines().nth(1).unwrap().to_owned();
    std::fs::write(&broken, key_pem.replace("-----END PRIVATE KEY-----", "")).unwrap();
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o600)).unwrap();
    let b = p(&broken);
    let r = serve(&pki.cert, &broken);
    assert!(!r.stderr.contains(&body_line), "{r:?}");
    check(
        r,
        1,
        format!(
            "jwtgrant: TLS key '{b}' does not parse as PEM: pass the certificate's unencrypted private key as PEM (PKCS#8, PKCS#1 or SEC1)\n"
        ),
    );

    // Both or neither.
    let r = run(&["jwks", "serve", "--key", p(&public), "--tls-cert", cert]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.starts_with(
            "jwtgrant: the following required arguments were not provided:\n  --tls-key <FILE>\n"
        ),
        "{r:?}"
    );
}

/// Logging to a closed stderr must not kill a running server: `jwks serve ... 2>&1 | head -1`
/// used to die at the first reload, when the logger's `eprintln!` panicked.
#[test]
fn jwks_serve_survives_a_closed_stderr() {
    let (_d, _, public) = keypair("EdDSA");
    let mut child = Child(
        Command::new(BIN)
            .env_clear()
            .args([
                "jwks",
                "serve",
                "--key",
                p(&public),
                "--addr",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    drop(stderr);
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    // A reload logs a warning, to the closed pipe.
    let _ = Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(child.0.try_wait().unwrap().is_none(), "the server died");
    assert_eq!(http_get(&addr, "/jwks").0, 200);
}

/// `keycloak setup` refuses mTLS options that do not fit together, before any network
/// traffic, with exit 2 and the fix.
#[test]
fn setup_refuses_inconsistent_client_auth_options() {
    let (_dir, _private, public) = keypair("ES256");
    let public = public.to_str().unwrap();
    for (extra, message) in [
        (
            &["--client-cert-dn", "CN=a"][..],
            "jwtgrant: --client-cert-dn is for a certificate client: add --client-auth tls, or drop --client-cert-dn for a secret client\n",
        ),
        (
            &["--ca-dn", "CN=ca"][..],
            "jwtgrant: --ca-dn is for a certificate client: add --client-auth tls and --client-cert-dn DN, or drop --ca-dn\n",
        ),
        (
            &["--client-auth", "tls"][..],
            "jwtgrant: --client-auth tls needs --client-cert-dn DN: the client certificate's subject, RFC 2253 with the most specific part first (e.g. 'CN=billing,O=Acme')\n",
        ),
        (
            &[
                "--client-auth",
                "tls",
                "--client-cert-dn",
                "CN=a",
                "--secret-out",
                "x.secret",
            ][..],
            "jwtgrant: --secret-out has nothing to write: a certificate client (--client-auth tls) has no secret; drop --secret-out\n",
        ),
    ] {
        let mut args = vec![
            "keycloak",
            "setup",
            "--keycloak",
            "http://127.0.0.1:9",
            "--realm",
            "r",
            "--issuer",
            "http://i",
            "--public-key",
            public,
            "--client-id",
            "c",
        ];
        args.extend_from_slice(extra);
        let r = run_with(&args, &[("KEYCLOAK_ADMIN_PASSWORD", "x")], None);
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (2, "", message),
            "{extra:?}"
        );
    }
}

// ---------------------------------------------------------------- DPoP and ID-JAG

#[test]
fn token_with_a_dpop_key_sends_a_proof_and_prints_the_bound_token() {
    let (_d, key, _) = keypair("ES256");
    let (_dd, dpop_key, _) = keypair("ES256");
    let stub = TokenStub::start(vec![Reply::json(
        200,
        json!({"access_token": "bound-token", "token_type": "DPoP", "expires_in": 300}).to_string(),
    )]);
    let mut args = vec![
        "token",
        "--token-endpoint",
        stub.url.as_str(),
        "--client-id",
        "custom-client",
        "--dpop-key",
        p(&dpop_key),
        "--json",
    ];
    args.extend(sign_args(p(&key)));
    let r = run_with(&args, &client_env(), None);
    assert_eq!(r.code, 0, "{r:?}");
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["token_type"], "DPoP");
    let reqs = stub.requests();
    let proof = reqs[0].header("dpop").expect("a DPoP header");
    let (header, claims) = decode(proof);
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["jwk"]["kty"], "EC");
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], stub.url);
    assert!(!r.stderr.contains(proof), "{}", r.stderr);
}

#[test]
fn dpop_proof_for_a_resource_call() {
    let (_d, key, _) = keypair("ES256");
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "the-access-token\n").unwrap();
    // A token file is a secret file: owner-only, like a key.
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let url = "https://rs.example/api?x=1#f";
    let r = run(&[
        "dpop",
        "proof",
        "--key",
        p(&key),
        "--method",
        "get",
        "--url",
        url,
        "--access-token-file",
        p(&token_file),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let (header, claims) = decode(&r.stdout);
    assert_eq!(header["typ"], "dpop+jwt");
    assert!(header["jwk"].get("d").is_none());
    assert_eq!(claims["htm"], "GET");
    assert_eq!(claims["htu"], "https://rs.example/api");
    // ath = base64url(SHA-256("the-access-token"))
    // (computed independently: python3 hashlib + base64.urlsafe_b64encode)
    assert_eq!(claims["ath"], "uby9Z8Gb_H_x4fPjwNzgu794b860ifwPsbwnlfNiCFs");
    // The token from the environment; without any, a proof for a token request (no ath).
    let r = run_with(
        &[
            "dpop",
            "proof",
            "--key",
            p(&key),
            "--url",
            "https://rs.example/api",
        ],
        &[("JWTGRANT_ACCESS_TOKEN", "the-access-token")],
        None,
    );
    assert_eq!(decode(&r.stdout).1["ath"], claims["ath"]);
    let r = run(&[
        "dpop",
        "proof",
        "--key",
        p(&key),
        "--method",
        "POST",
        "--url",
        "https://kc/t",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(decode(&r.stdout).1.get("ath").is_none());

    let r = run(&[
        "dpop",
        "proof",
        "--key",
        p(&key),
        "--url",
        url,
        "--access-token",
        "x",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        "jwtgrant: --access-token is not accepted: a token in argv is visible to every user through ps; use --access-token-file FILE, --access-token-stdin or JWTGRANT_ACCESS_TOKEN\n"
    );
    let r = run(&[
        "dpop",
        "proof",
        "--key",
        p(&key),
        "--method",
        "G T",
        "--url",
        url,
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        "jwtgrant: invalid value for '--method <METHOD>': 'G T' is not an HTTP method (use GET, POST, PUT, ...)\n\nFor more information, try '--help'.\n"
    );
}

#[test]
fn sign_an_id_jag() {
    let (_d, key, _) = keypair("ES256");
    let mut args = vec![
        "sign",
        "--id-jag",
        "--id-jag-client-id",
        "agent",
        "--claim",
        "resource=https://api.example",
    ];
    args.extend(sign_args(p(&key)));
    let r = run(&args);
    assert_eq!(r.code, 0, "{r:?}");
    let (header, claims) = decode(&r.stdout);
    assert_eq!(header["typ"], "oauth-id-jag+jwt");
    assert_eq!(claims["client_id"], "agent");
    assert_eq!(claims["resource"], "https://api.example");
    assert!(claims["iat"].is_u64());

    let mut args = vec!["sign", "--id-jag"];
    args.extend(sign_args(p(&key)));
    let r = run(&args);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        "jwtgrant: --id-jag needs the client that will exchange it: pass --id-jag-client-id ID (token and doctor default it to --client-id)\n"
    );
    let mut args = vec![
        "sign",
        "--id-jag",
        "--id-jag-client-id",
        "a",
        "--claim",
        "client_id=b",
    ];
    args.extend(sign_args(p(&key)));
    let r = run(&args);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        "jwtgrant: claim 'client_id' is set by --id-jag (from --id-jag-client-id or --client-id); drop --claim client_id\n"
    );
}

#[test]
fn token_id_jag_defaults_client_id_and_inspect_warns_about_the_trap() {
    let (_d, key, _) = keypair("ES256");
    let stub = TokenStub::start(vec![ok_token("t")]);
    let mut args = vec![
        "token",
        "--token-endpoint",
        stub.url.as_str(),
        "--client-id",
        "custom-client",
        "--id-jag",
    ];
    args.extend(sign_args(p(&key)));
    let r = run_with(&args, &client_env(), None);
    assert_eq!(r.code, 0, "{r:?}");
    let assertion = stub.requests()[0].form("assertion").unwrap();
    let (header, claims) = decode(&assertion);
    assert_eq!(header["typ"], "oauth-id-jag+jwt");
    assert_eq!(claims["client_id"], "custom-client");

    let mut args = vec!["sign", "--claim", "client_id=custom-client"];
    args.extend(sign_args(p(&key)));
    let plain = run(&args).stdout;
    let r = run(&["inspect", plain.trim()]);
    assert!(
        r.stdout.contains("warning: client_id is set but typ is 'JWT', not oauth-id-jag+jwt: Keycloak accepts this as a plain RFC 7523 assertion and applies none of the ID-JAG rules (sign it with --id-jag)"),
        "{r:?}"
    );
}
