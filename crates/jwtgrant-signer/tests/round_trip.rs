//! Every key format and algorithm: sign, verify ourselves, and verify with the
//! independent `jsonwebtoken` crate (RustCrypto backend).

mod common;

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use jwtgrant_signer::{
    Algorithm, Claims, DecodedToken, Jwks, KeyType, PublicKey, Signer, decode_unverified, verify,
    verify_with_jwks,
};
use serde_json::{Value, json};

/// Fixture keys and what they are. Formats: PKCS#8, PKCS#1, SEC1, in PEM and DER.
const KEYS: &[(&str, KeyType)] = &[
    ("rsa2048-pkcs8.pem", KeyType::Rsa),
    ("rsa2048-pkcs1.pem", KeyType::Rsa),
    ("rsa2048-pkcs8.der", KeyType::Rsa),
    ("rsa2048-pkcs1.der", KeyType::Rsa),
    ("rfc7515-a2-rsa-pkcs1.pem", KeyType::Rsa),
    ("es256-pkcs8.pem", KeyType::EcP256),
    ("es256-pkcs8.der", KeyType::EcP256),
    ("es256-sec1.pem", KeyType::EcP256),
    ("es256-sec1.der", KeyType::EcP256),
    ("es384-pkcs8.pem", KeyType::EcP384),
    ("es384-sec1.pem", KeyType::EcP384),
    ("ed25519-pkcs8.pem", KeyType::Ed25519),
    ("ed25519-pkcs8.der", KeyType::Ed25519),
    ("rfc8037-a1-ed25519-pkcs8.pem", KeyType::Ed25519),
];

const ISSUER: &str = "https://issuer.example.com";

fn claims() -> Claims {
    Claims::new(
        ISSUER,
        "user-42",
        "https://keycloak.example.com/realms/demo",
    )
    .claim("tenant", "acme")
    .claim("roles", json!(["a", "b"]))
}

#[test]
fn every_format_and_algorithm_round_trips() {
    let mut combinations = 0;
    for &(name, key_type) in KEYS {
        let signer = common::load(name).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(signer.key_type(), key_type, "{name}");
        assert_eq!(signer.algorithm(), key_type.default_algorithm(), "{name}");
        // The auto-detecting constructor agrees.
        let again = Signer::from_key_bytes(&common::fixture(name)).unwrap();
        assert_eq!(again.thumbprint(), signer.thumbprint(), "{name}");

        for algorithm in key_type.algorithms() {
            let signer = signer
                .clone()
                .with_algorithm(algorithm)
                .unwrap()
                .with_kid_thumbprint();
            let token = signer.sign(&claims()).unwrap();

            let verified = verify(&token, &signer.public_key())
                .unwrap_or_else(|err| panic!("{name} {algorithm}: {err}"));
            assert_eq!(verified.algorithm(), algorithm);
            assert_eq!(
                verified.header(),
                &json!({"alg": algorithm.as_str(), "typ": "JWT", "kid": signer.thumbprint()})
            );
            assert_eq!(verified.claims()["tenant"], "acme");

            independent_verify(&token, &signer, algorithm);
            combinations += 1;
        }
    }
    // 5 RSA keys x 6 algorithms + 4 P-256 + 2 P-384 + 3 Ed25519.
    assert_eq!(combinations, 39);
}

/// jsonwebtoken, through both our SPKI PEM and our JWK.
fn independent_verify(token: &str, signer: &Signer, algorithm: Algorithm) {
    use jsonwebtoken::{Algorithm as A, DecodingKey, Validation, decode, jwk::Jwk};
    let alg = match algorithm {
        Algorithm::RS256 => A::RS256,
        Algorithm::RS384 => A::RS384,
        Algorithm::RS512 => A::RS512,
        Algorithm::PS256 => A::PS256,
        Algorithm::PS384 => A::PS384,
        Algorithm::PS512 => A::PS512,
        Algorithm::ES256 => A::ES256,
        Algorithm::ES384 => A::ES384,
        Algorithm::EdDSA => A::EdDSA,
    };
    let pem = signer.public_key_pem();
    let from_pem = match signer.key_type() {
        KeyType::Rsa => DecodingKey::from_rsa_pem(pem.as_bytes()),
        KeyType::Ed25519 => DecodingKey::from_ed_pem(pem.as_bytes()),
        _ => DecodingKey::from_ec_pem(pem.as_bytes()),
    }
    .unwrap();
    let jwk: Jwk = serde_json::from_value(signer.jwk()).unwrap();
    let from_jwk = DecodingKey::from_jwk(&jwk).unwrap();

    let mut validation = Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&["https://keycloak.example.com/realms/demo"]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
    for key in [from_pem, from_jwk] {
        let data = decode::<Value>(token, &key, &validation)
            .unwrap_or_else(|err| panic!("{algorithm}: {err:?}"));
        assert_eq!(data.claims["sub"], "user-42");
        assert_eq!(data.header.kid.as_deref(), signer.kid());
    }
}

#[test]
fn formats_of_one_key_agree() {
    let thumbprints = |names: &[&str]| -> HashSet<String> {
        names
            .iter()
            .map(|n| common::load(n).unwrap().thumbprint())
            .collect()
    };
    let rsa = [
        "rsa2048-pkcs8.pem",
        "rsa2048-pkcs1.pem",
        "rsa2048-pkcs8.der",
        "rsa2048-pkcs1.der",
    ];
    assert_eq!(thumbprints(&rsa).len(), 1);
    assert_eq!(thumbprints(&["es256-sec1.pem", "es256-sec1.der"]).len(), 1);
    assert_eq!(
        thumbprints(&["es256-pkcs8.pem", "es256-pkcs8.der"]).len(),
        1
    );
    assert_eq!(
        thumbprints(&["ed25519-pkcs8.pem", "ed25519-pkcs8.der"]).len(),
        1
    );
}

#[test]
fn public_key_pem_matches_openssl_byte_for_byte() {
    let signer = common::load("rsa2048-pkcs8.pem").unwrap();
    let openssl = String::from_utf8(common::fixture("rsa2048-public.pem")).unwrap();
    assert_eq!(signer.public_key_pem(), openssl);
    assert_eq!(
        PublicKey::from_pem(openssl.as_bytes()).unwrap(),
        signer.public_key()
    );
}

#[test]
fn public_key_exports_round_trip() {
    for &(name, _) in KEYS {
        let signer = common::load(name).unwrap();
        let public = signer.public_key();
        assert_eq!(
            PublicKey::from_pem(signer.public_key_pem().as_bytes()).unwrap(),
            public,
            "{name}"
        );
        assert_eq!(
            PublicKey::from_der(&public.to_der()).unwrap(),
            public,
            "{name}"
        );
        assert_eq!(
            PublicKey::from_jwk(&signer.jwk()).unwrap(),
            public,
            "{name}"
        );

        let jwk = signer.jwk();
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["alg"], signer.algorithm().as_str());
        assert_eq!(
            jwk["kid"],
            signer.thumbprint(),
            "kid defaults to the thumbprint"
        );
        let jwks = Jwks::from_value(&signer.jwks()).unwrap();
        assert_eq!(jwks.keys().len(), 1);
        assert_eq!(jwks.find(&signer.thumbprint()).unwrap().key(), &public);
        assert_eq!(jwks.to_value(), signer.jwks());
    }
}

#[test]
fn certificate_yields_its_public_key() {
    let from_cert = PublicKey::from_pem(&common::fixture("bad-certificate.pem")).unwrap();
    assert_eq!(
        from_cert,
        common::load("es256-pkcs8.pem").unwrap().public_key()
    );
}

#[test]
fn explicit_kid_goes_to_header_and_jwk() {
    let signer = common::load("es256-pkcs8.pem")
        .unwrap()
        .with_kid("key-2024");
    assert_eq!(signer.kid(), Some("key-2024"));
    assert_eq!(signer.jwk()["kid"], "key-2024");
    let token = signer.sign(&claims()).unwrap();
    assert_eq!(decode_unverified(&token).unwrap().kid(), Some("key-2024"));
    let plain = common::load("es256-pkcs8.pem").unwrap();
    let decoded: DecodedToken = decode_unverified(&plain.sign(&claims()).unwrap()).unwrap();
    assert_eq!(decoded.header(), &json!({"alg": "ES256", "typ": "JWT"}));
    assert_eq!(decoded.alg(), Some("ES256"));
}

#[test]
fn every_signature_gets_a_fresh_jti_and_the_clock_can_be_fixed() {
    let signer = common::load("ed25519-pkcs8.pem").unwrap();
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    let claims = claims()
        .issued_at(at)
        .lifetime(Duration::from_secs(30))
        .not_before(at);
    let jtis: HashSet<String> = (0..20)
        .map(|_| {
            let token = signer.sign(&claims).unwrap();
            let decoded = decode_unverified(&token).unwrap();
            let c = decoded.claims();
            assert_eq!(
                (c["iat"].as_u64(), c["nbf"].as_u64(), c["exp"].as_u64()),
                (
                    Some(2_000_000_000),
                    Some(2_000_000_000),
                    Some(2_000_000_030)
                )
            );
            c["jti"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(jtis.len(), 20);
}

#[test]
fn jwks_verification_picks_the_key_by_kid() {
    let a = common::load("es256-pkcs8.pem").unwrap().with_kid("a");
    let b = common::load("es384-pkcs8.pem").unwrap().with_kid("b");
    let c = common::load("rsa2048-pkcs8.pem").unwrap();
    let mut keys = a.jwks()["keys"].as_array().unwrap().clone();
    keys.extend(b.jwks()["keys"].as_array().unwrap().iter().cloned());
    keys.extend(c.jwks()["keys"].as_array().unwrap().iter().cloned());
    // Entries that are not for us are skipped, not fatal.
    keys.push(json!({"kty": "oct", "k": "c2VjcmV0"}));
    keys.push(json!({"kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"}));
    keys.push(json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}));
    let jwks = Jwks::from_value(&json!({ "keys": keys })).unwrap();
    assert_eq!(jwks.keys().len(), 3);

    for signer in [&a, &b] {
        let token = signer.sign(&claims()).unwrap();
        assert_eq!(verify_with_jwks(&token, &jwks).unwrap().kid(), signer.kid());
    }
    // No kid in the token: any key fitting the algorithm is tried.
    let token = c.sign(&claims()).unwrap();
    assert_eq!(
        verify_with_jwks(&token, &jwks).unwrap().algorithm(),
        Algorithm::RS256
    );
}

#[test]
fn signer_is_shareable_and_redacted() {
    let signer = common::load("rsa2048-pkcs8.pem").unwrap();
    let debug = format!("{signer:?}");
    assert!(debug.contains("[redacted]"), "{debug}");
    assert!(!debug.contains("MII"), "{debug}");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let signer = signer.clone();
            std::thread::spawn(move || signer.sign(&claims()).unwrap())
        })
        .collect();
    for handle in handles {
        verify(&handle.join().unwrap(), &signer.public_key()).unwrap();
    }
}
