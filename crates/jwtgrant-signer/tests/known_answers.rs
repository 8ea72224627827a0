//! Known-answer tests from the RFCs: exact signatures and thumbprints.

mod common;

use base64ct::{Base64UrlUnpadded, Encoding};
use jwtgrant_signer::{Algorithm, PublicKey, verify};
use serde_json::json;

/// RFC 7515 appendix A.2: RS256 (PKCS#1 v1.5 is deterministic, so the signature is exact).
/// The fixture is the appendix's JWK (n, e, d, p, q; dp, dq, qi derived) as PKCS#1 PEM.
#[test]
fn rfc7515_a2_rs256() {
    const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9\
        .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
        .cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
    let signer = common::load("rfc7515-a2-rsa-pkcs1.pem").unwrap();
    assert_eq!(signer.algorithm(), Algorithm::RS256);

    // The RFC's header and payload bytes contain CRLFs and spaces: sign them exactly.
    let mut parts = TOKEN.split('.');
    let header = Base64UrlUnpadded::decode_vec(parts.next().unwrap()).unwrap();
    let payload = Base64UrlUnpadded::decode_vec(parts.next().unwrap()).unwrap();
    assert_eq!(header, br#"{"alg":"RS256"}"#);
    assert_eq!(signer.sign_jws(&header, &payload).unwrap(), TOKEN);

    let verified = verify(TOKEN, &signer.public_key()).unwrap();
    assert_eq!(
        verified.claims(),
        &json!({"iss": "joe", "exp": 1300819380, "http://example.com/is_root": true})
    );
    let jwk = signer.jwk();
    assert_eq!(
        jwk["n"],
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
    );
    assert_eq!(jwk["e"], "AQAB");
}

/// RFC 8037 appendix A.4: Ed25519 (deterministic), key from A.1, thumbprint from A.3.
#[test]
fn rfc8037_a4_ed25519() {
    const TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc\
        .hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    let signer = common::load("rfc8037-a1-ed25519-pkcs8.pem").unwrap();
    assert_eq!(signer.algorithm(), Algorithm::EdDSA);
    assert_eq!(
        signer
            .sign_jws(br#"{"alg":"EdDSA"}"#, b"Example of Ed25519 signing")
            .unwrap(),
        TOKEN
    );

    let jwk = signer.jwk();
    assert_eq!(jwk["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    assert_eq!(
        signer.thumbprint(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );

    // The payload is not JSON, so `verify` must refuse it, but the signature itself checks out.
    let public =
        PublicKey::from_jwk(&json!({"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]})).unwrap();
    let (input, sig) = TOKEN.rsplit_once('.').unwrap();
    public
        .verify_signature(
            Algorithm::EdDSA,
            input.as_bytes(),
            &Base64UrlUnpadded::decode_vec(sig).unwrap(),
        )
        .unwrap();
}

/// RFC 7638 section 3.1: the thumbprint of the example RSA key.
#[test]
fn rfc7638_3_1_thumbprint() {
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    });
    let key = PublicKey::from_jwk(&jwk).unwrap();
    assert_eq!(
        key.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    // Exporting and re-reading keeps the key, and so the thumbprint.
    let again = PublicKey::from_pem(key.to_pem().as_bytes()).unwrap();
    assert_eq!(
        again.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    assert_eq!(again.to_jwk(Some(Algorithm::RS256), Some("2011-04-29")), {
        let mut expected = jwk.clone();
        expected["use"] = json!("sig");
        expected
    });
}
