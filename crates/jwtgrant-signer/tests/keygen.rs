//! Key generation: every algorithm's new key loads, signs and verifies.
#![cfg(feature = "keygen")]

use jwtgrant_signer::{Algorithm, Claims, SignError, Signer, generate_private_key_pem, verify};

fn round_trip(algorithm: Algorithm, bits: Option<usize>) {
    let pem = generate_private_key_pem(algorithm, bits).unwrap();
    assert!(
        pem.as_str().starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{algorithm}"
    );
    assert!(!pem.as_str().contains('\r'));
    assert_eq!(format!("{pem:?}"), "PrivateKeyPem([redacted])");
    let signer = Signer::from_pem(pem.as_bytes())
        .unwrap()
        .with_algorithm(algorithm)
        .unwrap();
    if let Some(bits) = bits {
        assert_eq!(signer.public_key().rsa_bits(), Some(bits));
    }
    let token = signer
        .sign(&Claims::new(
            "https://i.example",
            "u",
            "https://kc/realms/r",
        ))
        .unwrap();
    verify(&token, &signer.public_key()).unwrap();
}

#[test]
fn ec_and_ed25519_keys() {
    for algorithm in [Algorithm::ES256, Algorithm::ES384, Algorithm::EdDSA] {
        round_trip(algorithm, None);
    }
    // Fresh keys differ.
    let a = generate_private_key_pem(Algorithm::EdDSA, None).unwrap();
    let b = generate_private_key_pem(Algorithm::EdDSA, None).unwrap();
    assert_ne!(a.as_str(), b.as_str());
}

#[test]
fn rsa_key() {
    // 2048 bits only: larger keys take long in unoptimized test builds.
    round_trip(Algorithm::PS256, Some(2048));
}

#[test]
fn bad_sizes() {
    let err = generate_private_key_pem(Algorithm::RS256, Some(1024)).unwrap_err();
    assert!(matches!(err, SignError::InvalidKeySize { bits: 1024, .. }));
    assert_eq!(
        err.to_string(),
        "unsupported RSA key size 1024 (choose 2048, 3072 or 4096)"
    );
    let err = generate_private_key_pem(Algorithm::ES256, Some(2048)).unwrap_err();
    assert!(matches!(err, SignError::InvalidKeySize { .. }));
    assert_eq!(
        err.to_string(),
        "a key size only applies to RSA keys, not to ES256 (leave it out)"
    );
}
