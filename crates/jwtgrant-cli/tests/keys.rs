//! `keygen`, `pubkey` and `jwks` (the printed JWKS) through the built binary.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use serde_json::Value;

use common::{decode, keypair, p, run, sign_args};

#[test]
fn keygen_writes_0600_private_and_spki_public_and_refuses_to_overwrite() {
    for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        let (dir, private, public) = keypair(alg);
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{alg}");
        let priv_pem = std::fs::read_to_string(&private).unwrap();
        assert!(
            priv_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{alg}: PKCS#8"
        );
        let pub_pem = std::fs::read_to_string(&public).unwrap();
        assert!(
            pub_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"),
            "{alg}: SPKI"
        );

        let d = p(dir.path());
        let again = run(&["keygen", "--alg", alg, "--out-dir", d]);
        assert_eq!(again.code, 1, "{again:?}");
        assert!(again.stderr.starts_with("jwtgrant: "), "{again:?}");
        assert!(again.stderr.contains("already exists"), "{again:?}");
        assert!(again.stderr.contains("--force"), "{again:?}");
        assert_eq!(
            std::fs::read_to_string(&private).unwrap(),
            priv_pem,
            "untouched"
        );

        let forced = run(&["keygen", "--alg", alg, "--out-dir", d, "--force"]);
        assert_eq!(forced.code, 0, "{forced:?}");
        assert_ne!(
            std::fs::read_to_string(&private).unwrap(),
            priv_pem,
            "replaced"
        );
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{alg} after --force");
    }
}

#[test]
fn keygen_rsa_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&["keygen", "--bits", "3072", "--out-dir", p(dir.path())]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("3072"), "{r:?}");
    let r = run(&["keygen", "--bits", "1024", "--out-dir", p(dir.path())]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unsupported RSA size '1024'"), "{r:?}");
}

#[test]
fn pubkey_prints_the_spki_pem_keygen_wrote() {
    let (_d, private, public) = keypair("ES256");
    let r = run(&["pubkey", "--key", p(&private)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, std::fs::read_to_string(&public).unwrap());
    assert_eq!(r.stderr, "");
}

#[test]
fn jwks_uses_thumbprints_unless_kids_are_given() {
    let (_d1, k1, pub1) = keypair("RS256");
    let (_d2, k2, _) = keypair("EdDSA");
    let r = run(&["jwks", "--key", p(&k1), "--key", p(&k2)]);
    assert_eq!(r.code, 0, "{r:?}");
    let jwks: Value = serde_json::from_str(&r.stdout).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[1]["kty"], "OKP");
    assert!(
        keys.iter().all(|k| k.get("d").is_none()),
        "no private parts"
    );
    let kid0 = keys[0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(kid0.len(), 43, "a SHA-256 thumbprint, base64url: {kid0}");

    // The public key file gives the same thumbprint.
    let r = run(&["jwks", "--key", p(&pub1)]);
    assert_eq!(r.code, 0, "{r:?}");
    let jwks: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], kid0.as_str());

    // And `sign --kid-thumbprint` puts that kid in the header.
    let mut args = vec!["sign", "--kid-thumbprint"];
    args.extend(sign_args(p(&k1)));
    let r = run(&args);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(decode(&r.stdout).0["kid"], kid0.as_str());

    let r = run(&["jwks", "--key", p(&k1), "--kid", "k1"]);
    let jwks: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "k1");

    let r = run(&["jwks"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--key"), "{r:?}");
}
