//! DPoP (`token --dpop-key`, `dpop proof`) and ID-JAG (`sign --id-jag`, `token --id-jag`)
//! through the built binary.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use jwtgrant_test_support::Reply;
use serde_json::{Value, json};

use common::{TokenStub, client_env, decode, keypair, ok_token, p, run, run_with, sign_args};

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
