//! Public key parsing: SPKI / PKCS#1 / certificate PEM and DER, and JWK JSON, over arbitrary
//! bytes. A key that parses must survive DER, PEM and JWK export and import unchanged.
#![no_main]

use jwtgrant_signer::PublicKey;
use libfuzzer_sys::fuzz_target;

fn round_trips(key: &PublicKey) {
    let der = PublicKey::from_der(&key.to_der()).expect("our DER reads back");
    assert!(&der == key, "DER export/import changed the key");
    let pem = PublicKey::from_pem(key.to_pem().as_bytes()).expect("our PEM reads back");
    assert!(&pem == key, "PEM export/import changed the key");
    let jwk = PublicKey::from_jwk(&key.to_jwk(None, Some("k"))).expect("our JWK reads back");
    assert!(&jwk == key, "JWK export/import changed the key");
    let _ = (key.thumbprint(), key.rsa_bits(), format!("{key:?}"));
}

fuzz_target!(|data: &[u8]| {
    for parsed in [PublicKey::from_pem(data), PublicKey::from_der(data)] {
        match parsed {
            Ok(key) => round_trips(&key),
            Err(e) => drop(e.to_string()),
        }
    }
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
        match PublicKey::from_jwk(&json) {
            Ok(key) => round_trips(&key),
            Err(e) => drop(e.to_string()),
        }
    }
});
