//! Property tests (proptest, on stable): round trips that must hold for any input.
//!
//! - sign, then verify, for every algorithm and arbitrary claims: the claims come back as given;
//! - any change to the signature makes verification fail;
//! - JWK and JWKS export, then import, gives the same key, `kid` and `alg`.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use jwtgrant_signer::{
    Algorithm, Claims, Jwks, PublicKey, REGISTERED_CLAIMS, Signer, verify, verify_with_jwks,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// One fixture key per key type: RSA (RS*, PS*), P-256, P-384, Ed25519.
fn signers() -> &'static [Signer] {
    static SIGNERS: OnceLock<Vec<Signer>> = OnceLock::new();
    SIGNERS.get_or_init(|| {
        [
            "rsa2048-pkcs8.pem",
            "es256-pkcs8.pem",
            "es384-pkcs8.pem",
            "ed25519-pkcs8.pem",
        ]
        .iter()
        .map(|name| common::load(name).unwrap())
        .collect()
    })
}

/// The signer for `algorithm`, with `kid` set.
fn signer_for(algorithm: Algorithm, kid: &str) -> Signer {
    let signer = signers()
        .iter()
        .find(|s| algorithm.fits(s.key_type()))
        .unwrap()
        .clone();
    signer.with_algorithm(algorithm).unwrap().with_kid(kid)
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(Algorithm::ALL.to_vec())
}

/// A custom claim value: any JSON scalar or a short list of strings.
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        prop::collection::vec(any::<String>(), 0..4).prop_map(|v| json!(v)),
    ]
}

/// Custom claims, never a registered name (those are refused on purpose).
fn custom_claims() -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::vec(("[a-z_][a-z0-9_]{0,12}", value()), 0..6).prop_map(|claims| {
        claims
            .into_iter()
            .filter(|(name, _)| !REGISTERED_CLAIMS.contains(&name.as_str()))
            .collect()
    })
}

proptest! {
    // RSA signing in a debug build costs milliseconds: enough cases to cover every algorithm
    // many times, few enough for `cargo test`.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sign_then_verify_gives_back_the_claims(
        alg in algorithm(),
        host in "[a-z][a-z0-9-]{0,20}(\\.[a-z]{2,6}){0,2}",
        // Any text but a blank one, which `Claims::validate` refuses on purpose.
        sub in any::<String>().prop_filter("blank sub", |s| !s.trim().is_empty()),
        aud in "https://[a-z]{1,10}\\.example/realms/[a-z0-9%]{1,12}",
        lifetime in 1u64..100_000,
        kid in "[A-Za-z0-9_-]{1,43}",
        extra in custom_claims(),
    ) {
        let iss = format!("https://{host}");
        let mut claims = Claims::new(iss.as_str(), sub.as_str(), aud.as_str())
            .lifetime(Duration::from_secs(lifetime));
        for (name, v) in &extra {
            claims = claims.claim(name.as_str(), v.clone());
        }
        let signer = signer_for(alg, &kid);
        let token = signer.sign(&claims).unwrap();

        let verified = verify(&token, &signer.public_key()).unwrap();
        prop_assert_eq!(verified.algorithm(), alg);
        prop_assert_eq!(verified.kid(), Some(kid.as_str()));
        let c = verified.claims();
        prop_assert_eq!(&c["iss"], &json!(iss));
        prop_assert_eq!(&c["sub"], &json!(sub));
        prop_assert_eq!(&c["aud"], &json!(aud));
        let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
        prop_assert_eq!(exp - iat, i64::try_from(lifetime).unwrap());
        // Later values of a repeated name win, as in a JSON object.
        for (name, v) in &extra {
            let last = extra.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v);
            prop_assert_eq!(Some(&c[name.as_str()]), last, "{} = {}", name, v);
        }

        let jwks = Jwks::from_value(&signer.jwks()).unwrap();
        let by_jwks = verify_with_jwks(&token, &jwks).unwrap();
        prop_assert_eq!(by_jwks.claims(), verified.claims());
    }

    #[test]
    fn a_changed_signature_never_verifies(
        alg in algorithm(),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let signer = signer_for(alg, "k");
        let claims = Claims::new("https://issuer.example", "s", "https://kc.example/realms/r");
        let token = signer.sign(&claims).unwrap();
        let (signing_input, sig) = token.rsplit_once('.').unwrap();
        let mut raw = Base64UrlUnpadded::decode_vec(sig).unwrap();
        let i = index.index(raw.len());
        raw[i] ^= flip;
        let forged = format!("{signing_input}.{}", Base64UrlUnpadded::encode_string(&raw));
        prop_assert!(verify(&forged, &signer.public_key()).is_err());
    }

    #[test]
    fn jwk_export_then_import_is_the_same_key(
        alg in algorithm(),
        with_alg in any::<bool>(),
        kid in proptest::option::of(any::<String>()),
    ) {
        let signer = signer_for(alg, "unused");
        let key = signer.public_key();
        let jwk = key.to_jwk(with_alg.then_some(alg), kid.as_deref());
        prop_assert_eq!(PublicKey::from_jwk(&jwk).unwrap(), key.clone());
        // Through JSON text, as a JWKS document travels.
        let text = json!({"keys": [jwk]}).to_string();
        let jwks = Jwks::from_json(&text).unwrap();
        prop_assert_eq!(jwks.keys().len(), 1);
        let entry = &jwks.keys()[0];
        prop_assert_eq!(entry.key(), &key);
        prop_assert_eq!(entry.kid(), kid.as_deref());
        prop_assert_eq!(entry.algorithm(), with_alg.then_some(alg));
        let again = Jwks::from_value(&jwks.to_value()).unwrap();
        prop_assert_eq!(again.keys()[0].key(), &key);
        prop_assert_eq!(PublicKey::from_der(&key.to_der()).unwrap(), key.clone());
        prop_assert_eq!(PublicKey::from_pem(key.to_pem().as_bytes()).unwrap(), key);
    }
}
