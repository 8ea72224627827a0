//! Bad inputs to the built binary: each exits with the right code and a message that says
//! what to fix, and never echoes a secret.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use common::{SECRET, decode, keypair, p, run, run_with, sign_args};

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
            // u64::MAX seconds used to panic inside ureq (issue 17).
            name: "timeout beyond the longest",
            args: vec![
                "exchange",
                "--assertion",
                "x.y.z",
                "--token-endpoint",
                "http://127.0.0.1:9/t",
                "--client-id",
                "c",
                "--timeout",
                "18446744073709551615",
            ],
            env: vec![],
            code: 2,
            message: vec![
                "--timeout",
                "timeout '18446744073709551615' is too long: the longest is 1h (3600 seconds)",
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
            name: "ca-file-only without a ca file",
            args: vec![
                "exchange",
                "--assertion",
                "x.y.z",
                "--token-endpoint",
                "https://127.0.0.1:9/t",
                "--client-id",
                "c",
                "--ca-file-only",
            ],
            env: vec![("JWTGRANT_CLIENT_SECRET", SECRET)],
            code: 2,
            message: vec!["--ca-file-only", "--ca-file <PEM>"],
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
