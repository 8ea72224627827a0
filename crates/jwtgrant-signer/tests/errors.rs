//! Bad keys, bad claims and bad tokens: each case asserts the error variant and the exact message.

mod common;

use std::fmt::Debug;
use std::time::{Duration, SystemTime};

use base64ct::{Base64UrlUnpadded, Encoding};
use jwtgrant_signer::{Algorithm, Claims, PublicKey, SignError, Signer, VerifyError, verify};
use serde_json::json;

/// One row of a table: name, outcome, expected variant, expected message.
type Case<T, E, M> = (&'static str, Result<T, E>, fn(&E) -> bool, M);

/// Asserts that `result` failed with an error that `variant` accepts and whose message is `message`.
fn check<T: Debug, E: std::error::Error>(
    case: &str,
    result: Result<T, E>,
    variant: fn(&E) -> bool,
    message: &str,
) {
    let err = result
        .map(|ok| panic!("{case}: expected an error, got {ok:?}"))
        .unwrap_err();
    assert!(variant(&err), "{case}: unexpected variant {err:?}");
    assert_eq!(err.to_string(), message, "{case}");
    assert!(
        !message.ends_with('.'),
        "{case}: message ends with a period"
    );
    let first = message.chars().next().unwrap();
    assert!(
        !first.is_uppercase() || message.starts_with("OpenSSH"),
        "{case}: message starts uppercase"
    );
}

const NO_PEM: &str = "no PEM block found (expected a line like '-----BEGIN PRIVATE KEY-----'; is this the right file?)";
const ENCRYPTED: &str = "the private key is encrypted, which is not supported (decrypt it first: 'openssl pkey -in key.pem -out plain.pem')";
const PUBLIC_NOT_PRIVATE: &str = "expected a private key but found a public key (use the private key; the public key is what Keycloak gets)";
const CERT_NOT_PRIVATE: &str = "expected a private key but found a certificate (use the private key; the public key is what Keycloak gets)";
const P521: &str = "unsupported elliptic curve P-521: ES512 is not supported by jwtgrant (use a P-256 or P-384 key, e.g. 'openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256')";
const MALFORMED_PEM: &str =
    "malformed PEM (check that the file is complete and its base64 unchanged)";

#[test]
fn bad_keys() {
    let pem = |name: &str| Signer::from_pem(&common::fixture(name));
    let cases: Vec<Case<Signer, SignError, &str>> = vec![
        (
            "empty",
            Signer::from_pem(b""),
            |e| matches!(e, SignError::EmptyKey),
            "the key input is empty (expected a PEM or DER private key)",
        ),
        (
            "whitespace",
            Signer::from_pem(b" \n\t"),
            |e| matches!(e, SignError::EmptyKey),
            "the key input is empty (expected a PEM or DER private key)",
        ),
        (
            "empty DER",
            Signer::from_der(b""),
            |e| matches!(e, SignError::EmptyKey),
            "the key input is empty (expected a PEM or DER private key)",
        ),
        (
            "garbage",
            Signer::from_pem(b"hello world"),
            |e| {
                matches!(
                    e,
                    SignError::NotPem {
                        looks_like_der: false
                    }
                )
            },
            NO_PEM,
        ),
        (
            "DER given as PEM",
            Signer::from_pem(&common::fixture("es256-pkcs8.der")),
            |e| {
                matches!(
                    e,
                    SignError::NotPem {
                        looks_like_der: true
                    }
                )
            },
            "the input is DER, not PEM (load it as DER, or convert it with 'openssl pkey -inform DER -in key.der -out key.pem')",
        ),
        (
            "garbage DER",
            Signer::from_der(b"hello world"),
            |e| {
                matches!(
                    e,
                    SignError::MalformedKey {
                        format: "DER private",
                        ..
                    }
                )
            },
            "malformed DER private key: expected a SEQUENCE (check that the file is complete and unchanged)",
        ),
        (
            "truncated DER",
            Signer::from_der(&common::fixture("rsa2048-pkcs8.der")[..100]),
            |e| matches!(e, SignError::MalformedKey { .. }),
            "malformed DER private key: unexpected end of data (check that the file is complete and unchanged)",
        ),
        (
            "bad base64",
            Signer::from_pem(b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"),
            |e| matches!(e, SignError::MalformedPem { .. }),
            MALFORMED_PEM,
        ),
        (
            "no END line",
            Signer::from_pem(b"-----BEGIN PRIVATE KEY-----\nMIIB\n"),
            |e| matches!(e, SignError::MalformedPem { .. }),
            MALFORMED_PEM,
        ),
        (
            "PKCS#8 that is not",
            Signer::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            |e| {
                matches!(
                    e,
                    SignError::MalformedKey {
                        format: "PKCS#8",
                        ..
                    }
                )
            },
            "malformed PKCS#8 key: expected a SEQUENCE (check that the file is complete and unchanged)",
        ),
        (
            "encrypted PKCS#8",
            pem("bad-encrypted-pkcs8.pem"),
            |e| matches!(e, SignError::EncryptedKey),
            ENCRYPTED,
        ),
        (
            "encrypted PKCS#1 (Proc-Type)",
            pem("bad-encrypted-pkcs1.pem"),
            |e| matches!(e, SignError::EncryptedKey),
            ENCRYPTED,
        ),
        (
            "encrypted PKCS#8 DER",
            Signer::from_der(
                &pem::parse(common::fixture("bad-encrypted-pkcs8.pem"))
                    .unwrap()
                    .into_contents(),
            ),
            |e| matches!(e, SignError::EncryptedKey),
            ENCRYPTED,
        ),
        (
            "RSA 1024",
            pem("bad-rsa1024.pem"),
            |e| matches!(e, SignError::RsaKeyTooSmall { bits: 1024 }),
            "the RSA key has 1024 bits, at least 2048 are required (generate a new key, e.g. 'openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072')",
        ),
        (
            // Found by the `key_loading` fuzz target: the backend parsed this mutated PKCS#1
            // key, and then every signature failed. The pairwise test at load names it.
            "RSA parts that disagree",
            Signer::from_der(&common::fixture("bad-rsa-inconsistent-pkcs1.der")),
            |e| matches!(e, SignError::KeyRejected { .. }),
            "the crypto backend rejected the key (is it corrupted, or are its parts inconsistent?)",
        ),
        (
            "public key PEM",
            pem("rsa2048-public.pem"),
            |e| matches!(e, SignError::NotAPrivateKey { .. }),
            PUBLIC_NOT_PRIVATE,
        ),
        (
            "public key DER",
            Signer::from_der(
                &common::load("rsa2048-pkcs8.pem")
                    .unwrap()
                    .public_key()
                    .to_der(),
            ),
            |e| matches!(e, SignError::NotAPrivateKey { .. }),
            PUBLIC_NOT_PRIVATE,
        ),
        (
            "certificate",
            pem("bad-certificate.pem"),
            |e| {
                matches!(
                    e,
                    SignError::NotAPrivateKey {
                        found: "a certificate"
                    }
                )
            },
            CERT_NOT_PRIVATE,
        ),
        (
            "certificate DER",
            Signer::from_der(
                &pem::parse(common::fixture("bad-certificate.pem"))
                    .unwrap()
                    .into_contents(),
            ),
            |e| {
                matches!(
                    e,
                    SignError::NotAPrivateKey {
                        found: "a certificate"
                    }
                )
            },
            CERT_NOT_PRIVATE,
        ),
        (
            "P-521 PKCS#8",
            pem("bad-p521-pkcs8.pem"),
            |e| matches!(e, SignError::UnsupportedCurve { .. }),
            P521,
        ),
        (
            "P-521 SEC1",
            pem("bad-p521-sec1.pem"),
            |e| matches!(e, SignError::UnsupportedCurve { .. }),
            P521,
        ),
        (
            "secp256k1",
            pem("bad-secp256k1.pem"),
            |e| matches!(e, SignError::UnsupportedCurve { .. }),
            "unsupported elliptic curve secp256k1 (use a P-256 or P-384 key, e.g. 'openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256')",
        ),
        (
            "Ed448",
            pem("bad-ed448.pem"),
            |e| matches!(e, SignError::UnsupportedKeyType { .. }),
            "unsupported key type Ed448 (use an RSA, EC P-256, EC P-384 or Ed25519 key)",
        ),
        (
            "unknown PEM label",
            Signer::from_pem(b"-----BEGIN FOO BAR-----\nAAAA\n-----END FOO BAR-----\n"),
            |e| matches!(e, SignError::UnknownPemLabel { .. }),
            "unsupported PEM block 'BEGIN FOO BAR' (expected 'BEGIN PRIVATE KEY', 'BEGIN RSA PRIVATE KEY' or 'BEGIN EC PRIVATE KEY')",
        ),
        (
            "OpenSSH key",
            pem("bad-openssh.key"),
            |e| matches!(e, SignError::UnknownPemLabel { .. }),
            "OpenSSH private keys are not supported (convert a copy to PKCS#8 with 'ssh-keygen -p -m PKCS8 -f key')",
        ),
        (
            "two keys",
            Signer::from_pem(
                &[
                    common::fixture("es256-pkcs8.pem"),
                    common::fixture("es384-pkcs8.pem"),
                ]
                .concat(),
            ),
            |e| matches!(e, SignError::MultipleKeys { count: 2 }),
            "found 2 private keys in one input (keep exactly one key per file)",
        ),
        (
            "ES256 on an RSA key",
            common::load("rsa2048-pkcs8.pem")
                .unwrap()
                .with_algorithm(Algorithm::ES256),
            |e| {
                matches!(
                    e,
                    SignError::AlgorithmMismatch {
                        algorithm: Algorithm::ES256,
                        ..
                    }
                )
            },
            "algorithm ES256 needs an EC P-256 key, but the key is RSA (choose RS256, RS384, RS512, PS256, PS384 or PS512)",
        ),
        (
            "RS256 on an Ed25519 key",
            common::load("ed25519-pkcs8.pem")
                .unwrap()
                .with_algorithm(Algorithm::RS256),
            |e| matches!(e, SignError::AlgorithmMismatch { .. }),
            "algorithm RS256 needs an RSA key, but the key is Ed25519 (choose EdDSA)",
        ),
        (
            "ES384 on a P-256 key",
            common::load("es256-pkcs8.pem")
                .unwrap()
                .with_algorithm(Algorithm::ES384),
            |e| matches!(e, SignError::AlgorithmMismatch { .. }),
            "algorithm ES384 needs an EC P-384 key, but the key is EC P-256 (choose ES256)",
        ),
    ];
    for (case, result, variant, message) in cases {
        check(case, result, variant, message);
    }
}

#[test]
fn a_key_with_a_certificate_next_to_it_loads() {
    let both = [
        common::fixture("bad-certificate.pem"),
        common::fixture("es256-pkcs8.pem"),
    ]
    .concat();
    assert_eq!(
        Signer::from_pem(&both).unwrap().algorithm(),
        Algorithm::ES256
    );
}

#[test]
fn bad_algorithm_names() {
    const CHOICES: &str = "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA";
    let cases = [
        (
            "HS256",
            format!(
                "algorithm 'HS256' is not supported: Keycloak's JWT authorization grant needs an asymmetric signature (choose {CHOICES})"
            ),
        ),
        (
            "none",
            format!(
                "algorithm 'none' is not supported: Keycloak's JWT authorization grant needs an asymmetric signature (choose {CHOICES})"
            ),
        ),
        (
            "ES512",
            format!("algorithm 'ES512' is not supported by jwtgrant (choose {CHOICES})"),
        ),
        ("RSA", format!("unknown algorithm 'RSA' (choose {CHOICES})")),
    ];
    for (input, message) in cases {
        check(
            input,
            input.parse::<Algorithm>(),
            |e| matches!(e, SignError::UnknownAlgorithm { .. }),
            &message,
        );
    }
}

#[test]
fn bad_claims() {
    let signer = common::load("es256-pkcs8.pem").unwrap();
    let aud = "https://kc.example.com/realms/demo";
    let ok = || Claims::new("https://issuer.example.com", "user-1", aud);
    let iss_message = |iss: &str| {
        format!(
            "invalid claim 'iss': '{iss}' is not an absolute http(s) URL, which Keycloak requires (use the issuer URL configured on the identity provider, e.g. 'https://issuer.example.com')"
        )
    };
    let invalid = |claim: &'static str| -> fn(&SignError) -> bool {
        match claim {
            "iss" => |e| matches!(e, SignError::InvalidClaim { claim, .. } if claim == "iss"),
            "sub" => |e| matches!(e, SignError::InvalidClaim { claim, .. } if claim == "sub"),
            "aud" => |e| matches!(e, SignError::InvalidClaim { claim, .. } if claim == "aud"),
            "exp" => |e| matches!(e, SignError::InvalidClaim { claim, .. } if claim == "exp"),
            "nbf" => |e| matches!(e, SignError::InvalidClaim { claim, .. } if claim == "nbf"),
            "jti" => |e| matches!(e, SignError::InvalidClaim { claim, .. } if claim == "jti"),
            "iat" => |e| matches!(e, SignError::InvalidClaim { claim, .. } if claim == "iat"),
            _ => |e| matches!(e, SignError::InvalidClaim { .. }),
        }
    };
    let now = SystemTime::now();
    let cases: Vec<(&str, Claims, &str, String)> = vec![
        ("bare host issuer", Claims::new("issuer.example.com", "u", aud), "iss", iss_message("issuer.example.com")),
        ("ftp issuer", Claims::new("ftp://issuer.example.com", "u", aud), "iss", iss_message("ftp://issuer.example.com")),
        ("issuer without host", Claims::new("https://", "u", aud), "iss", iss_message("https://")),
        ("issuer with a space", Claims::new("https://issuer example", "u", aud), "iss", iss_message("https://issuer example")),
        (
            "empty issuer",
            Claims::new("", "u", aud),
            "iss",
            "invalid claim 'iss': the issuer is empty (use the issuer URL configured on the Keycloak identity provider)".into(),
        ),
        (
            "empty subject",
            Claims::new("https://i.example", "", aud),
            "sub",
            "invalid claim 'sub': the subject is empty (use the user id the Keycloak user is linked with)".into(),
        ),
        (
            "blank audience",
            Claims::new("https://i.example", "u", " "),
            "aud",
            "invalid claim 'aud': the audience is empty (use the realm URL, e.g. 'https://keycloak.example.com/realms/myrealm')".into(),
        ),
        (
            "exp via claim()",
            ok().claim("exp", 1),
            "exp",
            "invalid claim 'exp': a registered claim cannot be set as a custom claim (exp is iat plus the lifetime; set the lifetime instead)".into(),
        ),
        (
            "iss via claim()",
            ok().claim("iss", "https://other.example"),
            "iss",
            "invalid claim 'iss': a registered claim cannot be set as a custom claim (pass it to Claims::new)".into(),
        ),
        (
            "jti via claim()",
            ok().claim("jti", "fixed"),
            "jti",
            "invalid claim 'jti': a registered claim cannot be set as a custom claim (a fresh jti is made for every signature)".into(),
        ),
        (
            "iat via claim()",
            ok().claim("iat", 0),
            "iat",
            "invalid claim 'iat': a registered claim cannot be set as a custom claim (iat is the signing time; fix it with issued_at if needed)".into(),
        ),
        (
            "nbf via claim()",
            ok().claim("nbf", 0),
            "nbf",
            "invalid claim 'nbf': a registered claim cannot be set as a custom claim (set it with not_before)".into(),
        ),
        ("empty claim name", ok().claim("", 1), "", "invalid claim '': a claim name must not be empty".into()),
        (
            "zero lifetime",
            ok().lifetime(Duration::from_millis(999)),
            "exp",
            "invalid claim 'exp': the lifetime must be at least one second".into(),
        ),
        (
            "nbf after exp",
            ok().issued_at(now).not_before(now + Duration::from_secs(3600)),
            "nbf",
            "invalid claim 'nbf': not-before is at or after the expiry, so the assertion would never be valid".into(),
        ),
        (
            "iat before 1970",
            ok().issued_at(SystemTime::UNIX_EPOCH - Duration::from_secs(1)),
            "iat",
            "invalid claim 'iat': the time is before 1970".into(),
        ),
    ];
    for (case, claims, claim, message) in cases {
        check(case, signer.sign(&claims), invalid(claim), &message);
        check(case, claims.to_payload(), invalid(claim), &message);
    }
}

#[test]
fn bad_tokens() {
    let signer = common::load("es256-pkcs8.pem").unwrap();
    let key = signer.public_key();
    let good = signer
        .sign(&Claims::new(
            "https://i.example",
            "u",
            "https://kc/realms/r",
        ))
        .unwrap();
    let (header, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let b64 = |s: &str| Base64UrlUnpadded::encode_string(s.as_bytes());
    let with_header = |h: &str| format!("{}.{payload}.{signature}", b64(h));
    let tampered = format!("{header}.{}.{signature}", b64(r#"{"sub":"admin"}"#));
    let rsa = common::load("rsa2048-pkcs8.pem").unwrap().public_key();
    let not_accepted = |alg: &str| {
        format!(
            "the token's algorithm '{alg}' is not accepted (only RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 and EdDSA are)"
        )
    };

    let cases: Vec<Case<_, VerifyError, String>> = vec![
        (
            "two parts",
            verify("a.b", &key),
            |e| matches!(e, VerifyError::Malformed { .. }),
            "malformed token: expected 3 dot-separated parts (header.payload.signature), found 2".into(),
        ),
        (
            "JWE",
            verify("a.b.c.d.e", &key),
            |e| matches!(e, VerifyError::Malformed { .. }),
            "malformed token: five parts make an encrypted JWE, which is not supported (expected a signed JWS)".into(),
        ),
        (
            "header not base64",
            verify(&format!("!!.{payload}.{signature}"), &key),
            |e| matches!(e, VerifyError::Malformed { .. }),
            "malformed token: the header is not unpadded base64url".into(),
        ),
        (
            "payload not JSON",
            verify(&format!("{header}.{}.{signature}", b64("nope")), &key),
            |e| matches!(e, VerifyError::Malformed { .. }),
            "malformed token: the payload is not JSON".into(),
        ),
        (
            "payload not an object",
            verify(&format!("{header}.{}.{signature}", b64("[1]")), &key),
            |e| matches!(e, VerifyError::Malformed { .. }),
            "malformed token: the payload is not a JSON object".into(),
        ),
        (
            "alg none",
            verify(&with_header(r#"{"alg":"none"}"#), &key),
            |e| matches!(e, VerifyError::UnsupportedAlgorithm { .. }),
            not_accepted("none"),
        ),
        (
            "alg HS256",
            verify(&with_header(r#"{"alg":"HS256"}"#), &key),
            |e| matches!(e, VerifyError::UnsupportedAlgorithm { .. }),
            not_accepted("HS256"),
        ),
        (
            "alg in lower case",
            verify(&with_header(r#"{"alg":"es256"}"#), &key),
            |e| matches!(e, VerifyError::UnsupportedAlgorithm { .. }),
            not_accepted("es256"),
        ),
        (
            "no alg",
            verify(&with_header(r#"{"typ":"JWT"}"#), &key),
            |e| matches!(e, VerifyError::UnsupportedAlgorithm { .. }),
            "the token header has no 'alg' (expected an asymmetric algorithm such as RS256)".into(),
        ),
        (
            "crit",
            verify(&with_header(r#"{"alg":"ES256","crit":["exp"]}"#), &key),
            |e| matches!(e, VerifyError::Malformed { .. }),
            "malformed token: the header lists critical extensions ('crit'), which are not supported".into(),
        ),
        (
            "ES256 token, RSA key",
            verify(&good, &rsa),
            |e| matches!(e, VerifyError::AlgorithmMismatch { .. }),
            "the token's algorithm ES256 needs an EC P-256 key, but the verification key is RSA".into(),
        ),
        (
            "tampered payload",
            verify(&tampered, &key),
            |e| matches!(e, VerifyError::InvalidSignature),
            "the signature does not verify (wrong key, or the token was changed)".into(),
        ),
        (
            "other key",
            verify(&good, &common::load("es256-sec1.pem").unwrap().public_key()),
            |e| matches!(e, VerifyError::InvalidSignature),
            "the signature does not verify (wrong key, or the token was changed)".into(),
        ),
    ];
    for (case, result, variant, message) in cases {
        check(case, result, variant, &message);
    }
    // Sources are kept for the cause chain.
    let err = verify(&format!("{header}.{}.{signature}", b64("nope")), &key).unwrap_err();
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn bad_public_keys() {
    let cases: Vec<Case<PublicKey, SignError, &str>> = vec![
        (
            "private key as public",
            PublicKey::from_pem(&common::fixture("es256-pkcs8.pem")),
            |e| matches!(e, SignError::NotAPublicKey),
            "expected a public key but found a private key (extract the public key with 'openssl pkey -in key.pem -pubout')",
        ),
        (
            "private DER as public",
            PublicKey::from_der(&common::fixture("rsa2048-pkcs8.der")),
            |e| matches!(e, SignError::NotAPublicKey),
            "expected a public key but found a private key (extract the public key with 'openssl pkey -in key.pem -pubout')",
        ),
        (
            "symmetric JWK",
            PublicKey::from_jwk(&json!({"kty": "oct", "k": "AAAA"})),
            |e| matches!(e, SignError::InvalidJwk { .. }),
            "invalid JWK: 'oct' keys are symmetric; use an RSA, EC or OKP key",
        ),
        (
            "JWK without n",
            PublicKey::from_jwk(&json!({"kty": "RSA", "e": "AQAB"})),
            |e| matches!(e, SignError::InvalidJwk { .. }),
            "invalid JWK: missing 'n'",
        ),
        (
            "P-521 JWK",
            PublicKey::from_jwk(&json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"})),
            |e| matches!(e, SignError::UnsupportedCurve { .. }),
            P521,
        ),
        (
            "JWK alg that does not fit",
            PublicKey::from_jwk(&{
                let mut jwk = common::load("ed25519-pkcs8.pem").unwrap().jwk();
                jwk["alg"] = json!("RS256");
                jwk
            }),
            |e| matches!(e, SignError::AlgorithmMismatch { .. }),
            "algorithm RS256 needs an RSA key, but the key is Ed25519 (choose EdDSA)",
        ),
    ];
    for (case, result, variant, message) in cases {
        check(case, result, variant, message);
    }
}

/// Truncated and corrupted keys and tokens give errors, never panics.
#[test]
fn mangled_input_never_panics() {
    for name in [
        "rsa2048-pkcs1.der",
        "rsa2048-pkcs8.der",
        "es256-sec1.der",
        "es256-pkcs8.der",
        "ed25519-pkcs8.der",
    ] {
        let der = common::fixture(name);
        for len in 0..der.len() {
            assert!(
                Signer::from_der(&der[..len]).is_err(),
                "{name} cut at {len}"
            );
            let _ = PublicKey::from_der(&der[..len]);
        }
        for i in 0..der.len() {
            let mut flipped = der.clone();
            flipped[i] ^= 0x80;
            let _ = Signer::from_key_bytes(&flipped);
        }
    }
    let pem = common::fixture("es256-sec1.pem");
    for len in 0..pem.len() {
        let _ = Signer::from_pem(&pem[..len]);
        let _ = PublicKey::from_pem(&pem[..len]);
    }
    let signer = common::load("ed25519-pkcs8.pem").unwrap();
    let token = signer
        .sign(&Claims::new(
            "https://i.example",
            "u",
            "https://kc/realms/r",
        ))
        .unwrap();
    for len in 0..token.len() {
        assert!(verify(&token[..len], &signer.public_key()).is_err());
        let _ = jwtgrant_signer::decode_unverified(&token[..len]);
    }
}
