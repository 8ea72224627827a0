//! Interop: an assertion signed by the seed's Node.js program (`jsonwebtoken` + `uuid`,
//! in `tests/node`) is exchanged by jwtgrant at a real Keycloak.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::PathBuf;
use std::process::Command;

use jwtgrant_e2e::{ISSUER, SUB, Seeded, USERNAME, access_claims};
use jwtgrant_signer::{Algorithm, Signer, decode_unverified, verify};

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node")
}

#[test]
fn assertion_from_the_seeds_node_issuer_is_exchanged() {
    let dir = node_dir();
    assert!(
        dir.join("node_modules/jsonwebtoken").is_dir(),
        "tests/node has no node_modules: `cargo xtask e2e` runs `npm ci` there first"
    );
    // One private key for both: Node signs with the PEM, the IdP holds its public half.
    let pem = jwtgrant_signer::generate_private_key_pem(Algorithm::RS256, None).unwrap();
    let signer = Signer::from_pem(pem.as_bytes()).unwrap();
    let seeded = Seeded::new("node", signer.clone());
    let key_file = std::env::temp_dir().join(format!("jwtgrant-node-{}.pem", std::process::id()));
    std::fs::write(&key_file, pem.as_bytes()).unwrap();

    let out = Command::new("node")
        .current_dir(&dir)
        .arg("issue.js")
        .args(["--key", key_file.to_str().unwrap()])
        .args(["--iss", ISSUER, "--sub", SUB, "--aud", &seeded.realm_url()])
        .output()
        .expect("node runs (Node.js is a prerequisite of the e2e suite)");
    let _ = std::fs::remove_file(&key_file);
    assert!(
        out.status.success(),
        "node: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let assertion = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    // Our verifier accepts what jsonwebtoken signed, and the claims are the seed's.
    let verified = verify(&assertion, &signer.public_key()).expect("node's RS256 verifies");
    assert_eq!(verified.claims()["iss"], ISSUER);
    assert!(decode_unverified(&assertion).unwrap().claims()["jti"].is_string());

    let token = seeded
        .exchange()
        .exchange(&assertion)
        .expect("Keycloak accepts it");
    assert_eq!(access_claims(&token)["preferred_username"], USERNAME);
}
