//! Options and the environment: which source wins, which combinations are usage errors,
//! and what an option's error message may show.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use serde_json::Value;

use common::{
    SECRET, TokenStub, decode, keypair, ok_token, p, refused_url, run, run_with, sign_args,
};

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
        vec!["inspect", "--key", p(&junk)],
    ] {
        // The JWT on stdin, for inspect (the others read none).
        let r = run_with(&args, &[], Some(&jwt));
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

/// The client secret has three sources; the command line wins over the environment, two
/// variables are a usage error naming both, and `-v` says which source was used.
#[test]
fn the_client_secret_comes_from_one_named_source() {
    let (d, key, _) = keypair("ES256");
    let mut args = vec!["sign"];
    args.extend(sign_args(p(&key)));
    let jwt = run(&args).stdout.trim().to_owned();
    let file = d.path().join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let exchange = |extra: &[&str], env: &[(&str, &str)]| {
        let stub = TokenStub::start(vec![ok_token("header.payload.sig")]);
        let mut argv = vec![
            "exchange",
            "-v",
            "--assertion",
            &jwt,
            "--token-endpoint",
            &stub.url,
            "--client-id",
            "c",
        ];
        argv.extend(extra);
        let r = run_with(&argv, env, None);
        let sent = stub
            .requests()
            .first()
            .and_then(|req| req.form("client_secret"));
        (r, sent)
    };

    // Both in the environment: a usage error, nothing sent.
    let (r, sent) = exchange(
        &[],
        &[
            ("JWTGRANT_CLIENT_SECRET", "from-env"),
            ("JWTGRANT_CLIENT_SECRET_FILE", p(&file)),
        ],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr.lines().last().unwrap(),
        "jwtgrant: --client-secret-file and JWTGRANT_CLIENT_SECRET cannot be used together: \
         both are set in the environment (JWTGRANT_CLIENT_SECRET_FILE and JWTGRANT_CLIENT_SECRET): \
         unset one, or pass the one you want on the command line"
    );
    assert_eq!(sent, None);

    // The file on the command line wins over the variable, and -v says so.
    let (r, sent) = exchange(
        &["--client-secret-file", p(&file)],
        &[("JWTGRANT_CLIENT_SECRET", "from-env")],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(sent.as_deref(), Some(SECRET));
    for line in [
        "jwtgrant: info: JWTGRANT_CLIENT_SECRET ignored: --client-secret-file is given".to_owned(),
        format!(
            "jwtgrant: info: client secret from --client-secret-file '{}'",
            p(&file)
        ),
    ] {
        assert!(r.stderr.lines().any(|l| l == line), "{line} not in {r:?}");
    }
    assert!(
        !r.stderr.contains(SECRET) && !r.stderr.contains("from-env"),
        "{r:?}"
    );
    // -v names only the sources the command line does not show; -vv all of them.
    assert!(!r.stderr.contains("from the command line"), "{r:?}");
    let (r, _) = exchange(
        &["-vv", "--client-secret-file", p(&file)],
        &[("JWTGRANT_SCOPE", "email")],
    );
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        "jwtgrant: info: --scope from JWTGRANT_SCOPE",
        "jwtgrant: debug: --client-secret-file from the command line",
        "jwtgrant: debug: --timeout from its default",
        // The assertion's value is never logged as a source line's value.
        "jwtgrant: debug: --assertion from the command line",
    ] {
        assert!(r.stderr.lines().any(|l| l == line), "{line} not in {r:?}");
    }

    // The variable alone, named by -v.
    let (r, sent) = exchange(&[], &[("JWTGRANT_CLIENT_SECRET", "from-env")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(sent.as_deref(), Some("from-env"));
    assert!(
        r.stderr
            .contains("jwtgrant: info: client secret from JWTGRANT_CLIENT_SECRET\n"),
        "{r:?}"
    );
}

/// `--assertion` given a file's path says how to pass the file instead of sending the path.
#[test]
fn an_assertion_option_naming_a_file_is_refused_with_the_fix() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.jwt"), "x.y.z\n").unwrap();
    let stub = TokenStub::start(vec![ok_token("header.payload.sig")]);
    let r = common::run_in(
        d.path(),
        &[
            "exchange",
            "--assertion",
            "a.jwt",
            "--token-endpoint",
            &stub.url,
            "--client-id",
            "c",
        ],
        &common::client_env(),
        None,
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr.lines().last().unwrap(),
        "jwtgrant: --assertion takes the JWT itself, and 'a.jwt' is a file: pass --assertion - < a.jwt"
    );
    assert!(stub.requests().is_empty());
}

/// `--key -` reads the private key from stdin; the audience follows `--token-endpoint` when
/// nothing names another.
#[test]
fn a_key_from_stdin_signs_and_the_audience_follows_the_endpoint() {
    let (_d, key, public) = keypair("ES256");
    let pem = std::fs::read_to_string(&key).unwrap();
    let r = run_with(
        &[
            "sign",
            "--key",
            "-",
            "--iss",
            "http://localhost:3000",
            "--sub",
            "alice",
            "--aud",
            "http://kc/realms/r",
        ],
        &[],
        Some(&pem),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let jwt = r.stdout.trim().to_owned();
    let r = run_with(&["inspect", &jwt, "--key", p(&public)], &[], None);
    assert!(r.stdout.contains("signature: valid"), "{r:?}");

    let stub = TokenStub::start(vec![ok_token("header.payload.sig")]);
    let r = run_with(
        &[
            "token",
            "-v",
            "--key",
            "-",
            "--iss",
            "http://localhost:3000",
            "--sub",
            "alice",
            "--token-endpoint",
            &stub.url,
            "--client-id",
            "c",
        ],
        &common::client_env(),
        Some(&pem),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let sent = stub.requests()[0].form("assertion").unwrap();
    assert_eq!(decode(&sent).1["aud"], stub.url.as_str());
    assert!(
        r.stderr.contains(&format!(
            "jwtgrant: info: aud {} from --token-endpoint\n",
            stub.url
        )),
        "{r:?}"
    );

    // Nothing on stdin: named, exit 1.
    let r = run_with(
        &[
            "sign", "--key", "-", "--iss", "i", "--sub", "s", "--aud", "a",
        ],
        &[],
        Some(""),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.stderr,
        "jwtgrant: no private key on stdin (--key - reads it from there)\n"
    );
}
