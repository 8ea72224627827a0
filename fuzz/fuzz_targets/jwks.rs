//! The JWKS reader: `Jwks::from_json` over arbitrary text. A document that reads must
//! write back (`to_value`) to one that reads to the same keys, and its lookups must not panic.
#![no_main]

use jwtgrant_signer::{Algorithm, Jwks, verify_with_jwks};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let jwks = match Jwks::from_json(text) {
        Ok(jwks) => jwks,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let again = Jwks::from_value(&jwks.to_value()).expect("our JWKS reads back");
    assert_eq!(again.keys().len(), jwks.keys().len());
    for (a, b) in jwks.keys().iter().zip(again.keys()) {
        assert!(a.key() == b.key(), "JWKS export/import changed a key");
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.algorithm(), b.algorithm());
    }
    for key in jwks.keys() {
        if let Some(kid) = key.kid() {
            assert!(jwks.find(kid).is_some());
        }
        for alg in Algorithm::ALL {
            let _ = jwks.candidates(key.kid(), alg).count();
        }
    }
    // A well-formed token with an unknown signature: the lookup runs, the check fails.
    let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    assert!(verify_with_jwks(token, &jwks).is_err());
});
