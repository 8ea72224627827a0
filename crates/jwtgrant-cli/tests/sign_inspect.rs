//! `sign` and `inspect` through the built binary.

mod common;

use serde_json::json;

use common::{decode, keypair, p, run, run_with, sign_args, unsigned_jwt};

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
    // No iat: Keycloak then limits how far ahead exp may be.
    let jwt = unsigned_jwt(
        json!({"alg": "HS256"}),
        json!({"iss": "my-issuer", "sub": "u", "aud": ["a", "b"], "exp": now + 3600}),
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
    // With iat the same lifetime is fine: Keycloak limits the assertion's age instead.
    let with_iat = unsigned_jwt(
        json!({"alg": "RS256"}),
        json!({"iss": "http://i", "sub": "u", "aud": "a", "jti": "j", "iat": now, "exp": now + 3600}),
    );
    let r = run(&["inspect", &with_iat]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stdout.contains("warning"), "{}", r.stdout);
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

#[test]
fn inspect_prints_no_terminal_escape_from_the_token() {
    // A token pasted from a bug report, whose header and claims would clear the screen
    // and retitle the window if printed as they are.
    let jwt = unsigned_jwt(
        json!({"alg": "RS256\u{1b}[2J", "typ": "JWT\u{1b}]0;pwned\u{7}", "kid": "k\u{9b}31m"}),
        json!({"iss": "https://evil.example\u{1b}]0;title\u{7}", "sub": "u\r\u{8}", "aud": "a",
               "jti": "j", "exp": 4_000_000_000u64}),
    );
    let r = run(&["inspect", &jwt]);
    let printed = format!("{}{}", r.stdout, r.stderr);
    assert!(
        !printed.chars().any(|c| c.is_control() && c != '\n'),
        "{printed:?}"
    );
    // JSON shows an escape as harmless text; a C1 CSI, which JSON leaves as it is, goes.
    assert!(
        r.stdout
            .contains(r#""iss": "https://evil.example\u001b]0;title\u0007""#),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(r#""kid": "k""#), "{}", r.stdout);
}

#[test]
fn a_token_in_argv_is_warned_about_and_stdin_is_not() {
    let jwt = unsigned_jwt(
        json!({"alg": "RS256"}),
        json!({"iss": "http://i", "sub": "u", "aud": "a", "jti": "j", "exp": 4_000_000_000u64}),
    );
    let warning = "jwtgrant: warning: inspect JWT puts the token on the command line, where every local user can read it through `ps` while the command runs; a token is a bearer credential: pipe it in instead (jwtgrant inspect < FILE)\n";
    let r = run(&["inspect", &jwt]);
    assert_eq!((r.code, r.stderr.as_str()), (0, warning), "{r:?}");
    let r = run_with(&["inspect"], &[], Some(&jwt));
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
}

/// `--strict` turns any warning into exit 1 (for CI); `--json` gives the same report as one
/// object, and a failure under `--json` adds no second object.
#[test]
fn inspect_strict_fails_on_a_warning_and_json_is_the_report_as_data() {
    let (_d, key, public) = keypair("ES256");
    let mut args = vec!["sign"];
    args.extend(sign_args(p(&key)));
    let good = run(&args).stdout;
    let r = run_with(
        &["inspect", "--strict", "--key", p(&public)],
        &[],
        Some(&good),
    );
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");

    let no_jti = unsigned_jwt(
        json!({"alg": "RS256"}),
        json!({"iss": "http://i", "sub": "u", "aud": "a", "iat": 4_000_000_000i64 - 60, "exp": 4_000_000_000i64}),
    );
    let r = run_with(&["inspect", "--strict"], &[], Some(&no_jti));
    assert_eq!(r.code, 1, "{r:?}");
    let warnings: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(
        r.stderr,
        format!(
            "jwtgrant: {} warning{} with --strict\n  hint: fix what each warning names, or drop --strict to only show them\n",
            warnings.len(),
            if warnings.len() == 1 { "" } else { "s" }
        )
    );
    assert!(
        warnings.iter().any(|w| w.starts_with("warning: no jti")),
        "{r:?}"
    );
    // Without --strict the same token only warns.
    assert_eq!(run_with(&["inspect"], &[], Some(&no_jti)).code, 0);

    let r = run_with(&["inspect", "--json", "--strict"], &[], Some(&no_jti));
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stdout.lines().count(), 1, "one object: {r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["claims"]["sub"], "u");
    assert_eq!(v["header"]["alg"], "RS256");
    assert_eq!(v["signature"], json!({"checked": false}));
    let listed: Vec<String> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| format!("warning: {}", w.as_str().unwrap()))
        .collect();
    assert_eq!(listed, warnings);
    assert_eq!(v["times"].as_array().unwrap().len(), 2, "{v}");

    let r = run_with(
        &["inspect", "--json", "--key", p(&public)],
        &[],
        Some(&good),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v["signature"],
        json!({"checked": true, "valid": true, "with": format!("key '{}'", p(&public)), "error": null})
    );
    assert_eq!(v["warnings"], json!([]));
}
