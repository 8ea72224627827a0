//! Private key loading: `Signer::from_key_bytes` (PEM or DER, PKCS#8 / PKCS#1 / SEC1, format
//! detected) over arbitrary bytes. A key that loads must sign, and its own public key must
//! verify what it signed; its JWK must read back as the same key.
#![no_main]

use jwtgrant_signer::{Claims, PublicKey, Signer, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The error's message is what a user sees: building it must not panic either.
    let signer = match Signer::from_key_bytes(data) {
        Ok(signer) => signer,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let signer = signer.with_kid_thumbprint();
    let claims = Claims::new("https://issuer.example", "fuzz", "https://kc.example/realms/r");
    let token = signer.sign(&claims).expect("a loaded key signs");
    let public = signer.public_key();
    verify(&token, &public).expect("a key verifies its own signature");
    let back = PublicKey::from_jwk(&signer.jwk()).expect("our JWK reads back");
    assert!(back == public, "JWK export/import changed the key");
    let _ = signer.public_key_pem();
});
