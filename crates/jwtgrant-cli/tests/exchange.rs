//! `exchange` and `token` through the built binary, against a loopback stub token
//! endpoint (`common::TokenStub`).

mod common;

use std::process::Command;

use jwtgrant_test_support::Reply;
use serde_json::{Value, json};

use common::{
    BIN, SECRET, TokenStub, client_env, decode, keypair, oauth_error, ok_token, p, refused_url,
    run_with, sign_args, unsigned_jwt,
};

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
    assert_eq!(last.len(), 3, "{}", r.stderr);
    assert!(last[0].starts_with("jwtgrant: "), "{}", r.stderr);
    assert!(last[0].contains("invalid_grant"), "{}", r.stderr);
    assert!(last[0].contains("User not found"), "{}", r.stderr);
    assert!(last[1].starts_with("  hint: "), "{}", r.stderr);
    assert!(last[1].contains("link"), "{}", r.stderr);
    // The doctor command that explains it, from the token endpoint's realm, no secret.
    let base = stub.url.split("/realms/").next().unwrap();
    assert_eq!(
        last[2],
        format!(
            "  diagnose: jwtgrant keycloak doctor --keycloak {base} --realm acme --client-id c --assertion -"
        )
    );
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

/// A failing `--json` command prints one error object on stdout (and its line on stderr);
/// `token` names the doctor command with its own options, secrets left out.
#[test]
fn a_failing_json_command_prints_one_error_object() {
    let (_d, key, _) = common::keypair("ES256");
    let stub = TokenStub::start(vec![oauth_error(400, "invalid_grant", "Invalid signature")]);
    let base = stub.url.split("/realms/").next().unwrap().to_owned();
    let r = run_with(
        &[
            "token",
            "--json",
            "--key",
            common::p(&key),
            "--iss",
            "http://localhost:3000",
            "--sub",
            "alice",
            "--keycloak",
            &base,
            "--realm",
            "acme",
            "--client-id",
            "c",
            "--client-auth",
            "basic",
        ],
        &client_env(),
        None,
    );
    assert_eq!(r.code, 3, "{r:?}");
    let object: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let doctor = format!(
        "jwtgrant keycloak doctor --keycloak {base} --realm acme --client-id c --client-auth basic --key {} --iss http://localhost:3000 --sub alice",
        common::p(&key)
    );
    assert_eq!(object["error"]["exit_code"], 3);
    assert_eq!(
        object["error"]["message"],
        "token endpoint rejected the grant: invalid_grant: Invalid signature"
    );
    assert!(
        object["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("jwtgrant pubkey"),
        "{object}"
    );
    assert_eq!(object["error"]["doctor"], doctor.as_str());
    assert_eq!(r.stdout.lines().count(), 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!("  diagnose: {doctor}\n")),
        "{r:?}"
    );
    assert!(!r.stdout.contains(SECRET) && !r.stderr.contains(SECRET));

    // A usage error is an object too, without a doctor line.
    let r = run_with(
        &[
            "exchange",
            "--json",
            "--assertion",
            "x.y.z",
            "--client-id",
            "c",
        ],
        &client_env(),
        None,
    );
    assert_eq!(r.code, 2, "{r:?}");
    let object: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(object["error"]["exit_code"], 2);
    assert_eq!(object["error"]["doctor"], serde_json::Value::Null);
    assert!(
        object["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("missing token endpoint"),
        "{object}"
    );
}

/// `--output` formats for the programs that consume tokens, and `exec`, which hands the
/// token to a child in its environment and exits with the child's status.
#[test]
fn tokens_in_the_formats_programs_read_and_exec_passes_one_to_a_child() {
    let (_d, key, _) = common::keypair("ES256");
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln";
    let stub = TokenStub::start(vec![ok_token(token)]);
    let run_token = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "token",
            "--key",
            common::p(&key),
            "--iss",
            "http://localhost:3000",
            "--sub",
            "alice",
            "--token-endpoint",
            &stub.url,
            "--client-id",
            "c",
        ];
        args.extend(extra);
        let mut all = client_env();
        all.extend(env);
        run_with(&args, &all, None)
    };

    let r = run_token(&["--output", "header"], &[]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, format!("Authorization: Bearer {token}\n").as_str()),
        "{r:?}"
    );

    let r = run_token(&["--output", "env", "--env-var", "KC_TOKEN"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[..2],
        [
            format!("export KC_TOKEN={token}").as_str(),
            "export KC_TOKEN_TYPE=Bearer"
        ]
    );
    assert!(lines[2].starts_with("export KC_TOKEN_EXPIRES_AT="), "{r:?}");
    assert_eq!(lines.len(), 3);

    // A token the server chose to be a shell command stays one quoted word for `eval`.
    let hostile = TokenStub::start(vec![ok_token("x; touch pwned")]);
    let r = run_with(
        &[
            "token",
            "--key",
            common::p(&key),
            "--iss",
            "http://localhost:3000",
            "--sub",
            "alice",
            "--token-endpoint",
            &hostile.url,
            "--client-id",
            "c",
            "--output",
            "env",
        ],
        &client_env(),
        None,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout.lines().next(),
        Some("export ACCESS_TOKEN='x; touch pwned'")
    );

    let r = run_token(&["--output", "env", "--env-var", "1BAD"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("'1BAD' is not a variable name"), "{r:?}");

    for (info, version) in [
        (None, "client.authentication.k8s.io/v1"),
        (
            Some(
                r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}"#,
            ),
            "client.authentication.k8s.io/v1beta1",
        ),
    ] {
        let env: Vec<(&str, &str)> = info
            .map(|i| ("KUBERNETES_EXEC_INFO", i))
            .into_iter()
            .collect();
        let r = run_token(&["--output", "exec-credential"], &env);
        assert_eq!(r.code, 0, "{r:?}");
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["apiVersion"], version);
        assert_eq!(v["kind"], "ExecCredential");
        assert_eq!(v["status"]["token"], token);
        let at = v["status"]["expirationTimestamp"].as_str().unwrap();
        assert!(
            at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
            "{at}"
        );
    }

    // --decode is for people: refused with the formats programs read.
    let r = run_token(&["--output", "header", "--decode"], &[]);
    assert_eq!(r.code, 2, "{r:?}");

    // exec: the child sees the token in its environment, not in argv, and its status is ours.
    let mut args = vec![
        "exec",
        "--key",
        common::p(&key),
        "--iss",
        "http://localhost:3000",
        "--sub",
        "alice",
        "--token-endpoint",
        &stub.url,
        "--client-id",
        "c",
        "--",
        "/bin/sh",
        "-c",
        r#"test "$ACCESS_TOKEN_TYPE" = Bearer && printf '%s' "$ACCESS_TOKEN"; exit 7"#,
    ];
    let mut env = client_env();
    env.push(("PATH", "/usr/bin:/bin"));
    let r = run_with(&args, &env, None);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (7, token, ""),
        "{r:?}"
    );
    args.truncate(11);
    args.extend(["--", "/nonexistent/program"]);
    let r = run_with(&args, &env, None);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .starts_with("jwtgrant: cannot run '/nonexistent/program': "),
        "{r:?}"
    );
}
