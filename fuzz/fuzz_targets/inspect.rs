//! `jwtgrant inspect` lives in the binary crate (no library to link), so this target runs the
//! library pieces it is made of, in its order, on arbitrary text: `decode_unverified`, the
//! claims pretty-printed, the doctor's offline checks (its warnings), the rejection table's
//! words, then `verify` with a key and `verify_with_jwks` with a JWKS. The binary's own
//! wording of the warnings and its `times` (time arithmetic on the claims for display) are
//! held by the unit test `extreme_times_do_not_overflow` in
//! `crates/jwtgrant-cli/src/cmd/inspect.rs` instead.
#![no_main]

use std::sync::OnceLock;

use jwtgrant_keycloak::Description;
use jwtgrant_signer::{Jwks, PublicKey, Signer, decode_unverified, verify, verify_with_jwks};
use libfuzzer_sys::fuzz_target;

fn key_and_jwks() -> &'static (PublicKey, Jwks) {
    static KEY: OnceLock<(PublicKey, Jwks)> = OnceLock::new();
    KEY.get_or_init(|| {
        let pem = include_str!("../../crates/jwtgrant-signer/tests/fixtures/es256-pkcs8.pem");
        let signer = Signer::from_pem(pem.as_bytes()).expect("fixture key").with_kid_thumbprint();
        let jwks = Jwks::from_value(&signer.jwks()).expect("fixture JWKS");
        (signer.public_key(), jwks)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `inspect` trims the token it is given (a trailing newline from a file or stdin).
    let token = text.trim();
    let decoded = match decode_unverified(token) {
        Ok(d) => d,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = serde_json::to_string_pretty(decoded.header());
    let _ = serde_json::to_string_pretty(decoded.claims());
    let _ = (decoded.alg(), decoded.kid());
    // The warnings: untrusted times against a clock anywhere in range.
    for now in [i64::MIN, 0, 1_800_000_000, i64::MAX] {
        let report = jwtgrant_keycloak::doctor::offline(token, now);
        for f in &report.checks {
            let _ = format!("{} {} {:?} {:?}", f.status, f.detail, f.fix, f.keycloak_error());
        }
    }
    for d in Description::ALL {
        let _ = d.to_string();
    }
    let (key, jwks) = key_and_jwks();
    if let Err(e) = verify(token, key) {
        let _ = e.to_string();
    }
    if let Err(e) = verify_with_jwks(token, jwks) {
        let _ = e.to_string();
    }
});
