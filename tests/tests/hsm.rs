//! An assertion signed inside a PKCS#11 token (SoftHSM2) exchanged at the real Keycloak,
//! through the library and through the `jwtgrant` binary. Needs `--features pkcs11` and the
//! token `cargo xtask e2e` makes; fails, never skips, without them.

#![cfg(feature = "pkcs11")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use jwtgrant_e2e::{CLIENT_ID, ISSUER, SUB, Seeded, USERNAME, access_claims};
use jwtgrant_signer::pkcs11::{Pin, Pkcs11Key, Pkcs11Uri};
use jwtgrant_signer::{Algorithm, KeyType, Signer};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the HSM suite through 'cargo xtask e2e' (or 'ci')")
    })
}

/// A fresh key generated inside the test token.
fn token_key(key_type: KeyType, label: &str) -> Pkcs11Key {
    let uri: Pkcs11Uri = format!(
        "pkcs11:token={};object={label}-{}",
        var("JWTGRANT_TEST_PKCS11_TOKEN"),
        std::process::id()
    )
    .parse()
    .unwrap();
    let module = std::path::PathBuf::from(var("JWTGRANT_TEST_PKCS11_MODULE"));
    Pkcs11Key::generate(
        &uri,
        Some(&module),
        &Pin::new(var("JWTGRANT_TEST_PKCS11_PIN")),
        key_type,
        2048,
    )
    .unwrap()
}

fn exchanges(alg: Algorithm, key: Pkcs11Key) {
    let signer = Signer::from_key(key)
        .with_algorithm(alg)
        .unwrap()
        .with_kid_thumbprint();
    let seeded = Seeded::new(&format!("hsm-{}", alg.as_str().to_lowercase()), signer);
    let token = seeded.grant().expect("Keycloak issues a token");
    assert_eq!(token.token_type, "Bearer");
    let claims = access_claims(&token);
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["preferred_username"], USERNAME);
}

#[test]
fn an_hsm_signed_es256_assertion_gets_a_token() {
    exchanges(Algorithm::ES256, token_key(KeyType::EcP256, "e2e-es256"));
}

#[test]
fn an_hsm_signed_ps256_assertion_gets_a_token() {
    exchanges(Algorithm::PS256, token_key(KeyType::Rsa, "e2e-ps256"));
}

/// The README's command: `jwtgrant token --key 'pkcs11:token=...;object=...'`.
#[test]
fn the_cli_trades_an_hsm_signed_assertion_for_a_token() {
    let key = token_key(KeyType::Rsa, "e2e-cli");
    let uri = key.uri().clone();
    let seeded = Seeded::new("hsm-cli", Signer::from_key(key));
    let out = std::process::Command::new(var("JWTGRANT_BIN"))
        .args(["token", "--key"])
        .arg(format!(
            "pkcs11:token={};object={}",
            uri.token().unwrap(),
            uri.object().unwrap()
        ))
        .args(["--iss", ISSUER, "--sub", SUB, "--client-id", CLIENT_ID])
        .env_clear()
        // The module finds its tokens through this; env_clear would hide it.
        .env("SOFTHSM2_CONF", var("SOFTHSM2_CONF"))
        .env("JWTGRANT_KEYCLOAK", &seeded.kc.url)
        .env("JWTGRANT_REALM", &seeded.realm)
        .env("JWTGRANT_CLIENT_SECRET", seeded.secret.secret())
        .env("JWTGRANT_PKCS11_MODULE", var("JWTGRANT_TEST_PKCS11_MODULE"))
        .env(
            "JWTGRANT_PKCS11_PIN_FILE",
            var("JWTGRANT_TEST_PKCS11_PIN_FILE"),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "jwtgrant token failed: {stderr}");
    let token = String::from_utf8(out.stdout).unwrap();
    assert_eq!(token.trim().split('.').count(), 3, "a bare JWT on stdout");
    assert_eq!(stderr, "", "nothing on stderr when all goes well");
}
