//! Realm names that need percent-encoding, against a real Keycloak: the audience we sign,
//! the endpoint we post to, the audience the doctor expects and the issuer Keycloak announces
//! must all be one string. Run with `cargo xtask e2e`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use jwtgrant_e2e::{CLIENT_ID, Seeded, access_claims, doctor_prediction, get_json, key};
use jwtgrant_keycloak::doctor::Snapshot;
use jwtgrant_signer::{Algorithm, decode_unverified};

/// Provisions a realm whose name contains `label`, then signs, diagnoses and exchanges.
fn grant_in_realm_named(label: &str) {
    let seeded = Seeded::new(label, key(Algorithm::ES256));
    assert!(seeded.realm.contains(label), "{}", seeded.realm);
    let exchange = seeded.exchange();
    let audience = exchange
        .audience()
        .expect("a Keycloak exchange knows its audience");

    // Keycloak's own idea of the realm URL: the issuer in its discovery document.
    let discovery = get_json(&format!("{audience}/.well-known/openid-configuration"));
    assert_eq!(discovery["issuer"], audience, "{label}");
    assert_eq!(
        discovery["token_endpoint"],
        exchange.token_endpoint(),
        "{label}"
    );

    // The CLI's `sign --keycloak --realm` derives the same aud.
    assert_eq!(
        cli_sign_aud(&seeded.kc.url, &seeded.realm),
        audience,
        "{label}"
    );

    let assertion = seeded.signer.sign(&seeded.claims()).unwrap();
    let decoded = decode_unverified(&assertion).unwrap();
    let claims = decoded.claims();
    assert_eq!(claims["aud"], audience, "{label}");
    let doctor = Snapshot::new(&seeded.kc.url, &seeded.realm, CLIENT_ID);
    assert_eq!(
        doctor.expected_audiences,
        [audience, exchange.token_endpoint()],
        "{label}"
    );
    assert_eq!(doctor_prediction(&seeded, CLIENT_ID, &assertion), None);

    let token = exchange
        .exchange(&assertion)
        .unwrap_or_else(|e| panic!("realm named with {label:?}: {e:#}"));
    assert_eq!(access_claims(&token)["iss"], audience, "{label}");
}

/// The `aud` of an assertion `jwtgrant sign --keycloak BASE --realm REALM` prints.
fn cli_sign_aud(base: &str, realm: &str) -> String {
    let bin = std::env::var("JWTGRANT_BIN")
        .expect("JWTGRANT_BIN is not set: `cargo xtask e2e` sets it to the built jwtgrant binary");
    let dir = std::env::temp_dir().join(format!("jwtgrant-realm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&bin)
            .env_clear()
            .current_dir(&dir)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["keygen", "--alg", "ES256", "--out-dir", "k", "--force"]);
    let jwt = run(&[
        "sign",
        "--key",
        "k/private.pem",
        "--iss",
        "http://localhost:3000",
        "--sub",
        "s",
        "--keycloak",
        base,
        "--realm",
        realm,
    ]);
    let decoded = decode_unverified(jwt.trim()).unwrap();
    decoded.claims()["aud"].as_str().unwrap().to_owned()
}

#[test]
fn a_space() {
    grant_in_realm_named("team a");
}

#[test]
fn a_percent_sign() {
    grant_in_realm_named("100%");
}

#[test]
fn non_ascii() {
    grant_in_realm_named("café-ü");
}

#[test]
fn an_apostrophe_keycloak_leaves_unencoded() {
    grant_in_realm_named("it's");
}
