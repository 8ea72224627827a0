//! Tokens where people use them, against the real Keycloak: fifty parallel
//! `jwtgrant token --cache` runs make one grant (counted at a proxy in front of Keycloak,
//! not in the client), and the real `kubectl` sends a Keycloak token that Keycloak's own
//! userinfo accepts to an HTTPS API server stub, through a profile and `--output
//! exec-credential`.
//!
//! Needs `KEYCLOAK_URL`, `KEYCLOAK_ADMIN_USER`, `KEYCLOAK_ADMIN_PASSWORD` and `JWTGRANT_BIN`
//! (`cargo xtask e2e` sets them), and `kubectl` on `PATH`; fails, never skips, without them.

#![allow(clippy::unwrap_used, reason = "tests: a panic is a failed test")]

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use base64ct::{Base64, Encoding as _};
use jwtgrant_e2e::{CliWorld, required_env};
use jwtgrant_exchange::{Method, Transport};
use jwtgrant_test_support::{FaultProxy, Reply, Stub};

const ISSUER: &str = "http://localhost:3000";
const SUB: &str = "nodejsuser-1234";
const CLIENT: &str = "custom-client";

/// A world with the seed's realm provisioned by `keycloak setup`; returns it and its key.
fn provisioned(tag: &str) -> (CliWorld, String) {
    let w = CliWorld::new("delivery", tag, &required_env("KEYCLOAK_URL"));
    let r = w.run(&["keygen", "--out-dir", "keys"]);
    assert_eq!(r.code, 0, "{r:?}");
    let link = format!("{SUB}=alice");
    let public = w.path("keys/public.pem");
    let r = w.run(&[
        "keycloak",
        "setup",
        "--issuer",
        ISSUER,
        "--client-id",
        CLIENT,
        "--public-key",
        &public,
        "--link",
        &link,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    (w, "keys/private.pem".to_owned())
}

/// Keycloak's userinfo for `token`: (status, body).
fn userinfo(base: &str, realm: &str, token: &str) -> (u16, String) {
    let transport = Transport::new();
    let url = transport
        .check_url(&format!(
            "{base}/realms/{realm}/protocol/openid-connect/userinfo"
        ))
        .unwrap();
    let auth = format!("Bearer {token}");
    let r = transport
        .send(Method::Get, &url, &[("Authorization", auth.as_str())], None)
        .unwrap();
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

#[test]
fn delivery_fifty_parallel_cached_runs_make_one_grant() {
    let (w, key) = provisioned("cache50");
    let upstream: SocketAddr = w
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("KEYCLOAK_URL is http://127.0.0.1:PORT");
    let proxy = FaultProxy::start(upstream);
    let base = proxy.base();
    let cache = w.path("cache");
    let children: Vec<_> = (0..50)
        .map(|_| {
            w.command()
                .args([
                    "token",
                    "--cache",
                    "--cache-dir",
                    &cache,
                    "--keycloak",
                    &base,
                    "--key",
                    &key,
                    "--iss",
                    ISSUER,
                    "--sub",
                    SUB,
                    "--client-id",
                    CLIENT,
                    "--client-secret-file",
                    "custom-client.secret",
                    "--scope",
                    "openid",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for out in &outputs {
        assert!(out.status.success(), "{out:?}");
    }
    let tokens: std::collections::HashSet<String> = outputs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .collect();
    assert_eq!(tokens.len(), 1, "one token for fifty runs");
    // Every grant needs a connection to Keycloak; cache hits need none.
    assert_eq!(proxy.connections(), 1, "connections to Keycloak");
    let token = tokens.into_iter().next().unwrap();
    // The token's issuer is the URL it was asked at: userinfo through the same proxy.
    let (status, body) = userinfo(&base, &w.realm, &token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"preferred_username\":\"alice\""), "{body}");
}

#[test]
fn delivery_kubectl_sends_a_keycloak_token_through_the_exec_credential_plugin() {
    let (w, key) = provisioned("kubectl");
    let config = w.path("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.kube]\nkeycloak = \"{}\"\nrealm = \"{}\"\nclient-id = \"{CLIENT}\"\nclient-secret-file = \"{}\"\nkey = \"{}\"\niss = \"{ISSUER}\"\nsub = \"{SUB}\"\nscope = \"openid\"\noutput = \"exec-credential\"\ncache = true\ncache-dir = \"{}\"\n",
            w.base,
            w.realm,
            w.path("custom-client.secret"),
            w.path(&key),
            w.path("cache"),
        ),
    )
    .unwrap();
    // The API server: HTTPS (kubectl sends exec-plugin credentials only over TLS), recording
    // what it is sent.
    let api = Stub::builder().tls().start(|_, _| {
        Reply::json(
            200,
            r#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#,
        )
    });
    let kubeconfig = w.path("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: stub\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: keycloak\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args: [token, --profile, kube, --config, {config}]\n      interactiveMode: Never\ncontexts:\n- name: stub\n  context: {{cluster: stub, user: keycloak}}\ncurrent-context: stub\n",
            api.base(),
            Base64::encode_string(api.ca_pem().as_bytes()),
            w.bin,
        ),
    )
    .unwrap();
    let out = Command::new("kubectl")
        .args(["--kubeconfig", &kubeconfig, "get", "--raw", "/api"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &w.dir)
        .env("KEYCLOAK_ADMIN_PASSWORD", &w.admin_password)
        .output()
        .expect("kubectl on PATH (cargo xtask e2e installs Debian's kubernetes-client)");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("APIVersions"));
    let auth = api
        .requests()
        .iter()
        .find_map(|r| r.header("authorization").map(str::to_owned))
        .expect("kubectl sent an Authorization header");
    let token = auth.strip_prefix("Bearer ").expect("a Bearer token");
    let (status, body) = userinfo(&w.base, &w.realm, token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"preferred_username\":\"alice\""), "{body}");
}
