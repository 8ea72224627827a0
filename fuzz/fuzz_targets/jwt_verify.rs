//! JWT decoding and verification: `decode_unverified`, `verify` with each fixture key type,
//! and `verify_with_jwks`, over arbitrary text. Forging is out of reach of a fuzzer, so a
//! token that verifies is only checked for agreement with its decoded form.
#![no_main]

use std::sync::OnceLock;

use jwtgrant_signer::{Jwks, PublicKey, Signer, decode_unverified, verify, verify_with_jwks};
use libfuzzer_sys::fuzz_target;

const KEYS: [&str; 3] = [
    include_str!("../../crates/jwtgrant-signer/tests/fixtures/rsa2048-pkcs8.pem"),
    include_str!("../../crates/jwtgrant-signer/tests/fixtures/es256-pkcs8.pem"),
    include_str!("../../crates/jwtgrant-signer/tests/fixtures/ed25519-pkcs8.pem"),
];

fn keys() -> &'static (Vec<PublicKey>, Jwks) {
    static KEYS_AND_JWKS: OnceLock<(Vec<PublicKey>, Jwks)> = OnceLock::new();
    KEYS_AND_JWKS.get_or_init(|| {
        let signers: Vec<Signer> = KEYS
            .iter()
            .map(|pem| Signer::from_pem(pem.as_bytes()).expect("fixture key").with_kid_thumbprint())
            .collect();
        let jwks = serde_json::json!({"keys": signers.iter().map(Signer::jwk).collect::<Vec<_>>()});
        let jwks = Jwks::from_value(&jwks).expect("fixture JWKS");
        (signers.iter().map(Signer::public_key).collect(), jwks)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let (public_keys, jwks) = keys();
    let decoded = decode_unverified(token);
    if let Err(e) = &decoded {
        let _ = e.to_string();
    }
    let mut results = public_keys.iter().map(|k| verify(token, k)).collect::<Vec<_>>();
    results.push(verify_with_jwks(token, jwks));
    for result in results {
        match result {
            Ok(v) => {
                let d = decoded.as_ref().expect("a verified token decodes");
                assert_eq!(v.claims(), d.claims());
                assert_eq!(v.header(), d.header());
            }
            Err(e) => drop(e.to_string()),
        }
    }
});
