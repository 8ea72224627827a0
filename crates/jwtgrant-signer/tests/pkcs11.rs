//! Keys inside a real PKCS#11 token (SoftHSM2): generated there, never readable, signing
//! tokens an independent verifier accepts, from many threads through one `Signer`.
//!
//! Runs with `--features pkcs11` and the token `cargo xtask softhsm` (or `ci`) makes; it
//! fails, never skips, without it.

#![cfg(feature = "pkcs11")]

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use jwtgrant_signer::pkcs11::{Pin, Pkcs11Error, Pkcs11Key, Pkcs11Uri};
use jwtgrant_signer::{Algorithm, Claims, KeyType, SignError, Signer, SigningKey, verify};

struct Hsm {
    module: PathBuf,
    token: String,
    pin: String,
}

fn hsm() -> Hsm {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the HSM tests through 'cargo xtask ci', or 'eval $(cargo xtask softhsm)' first")
        })
    };
    Hsm {
        module: var("JWTGRANT_TEST_PKCS11_MODULE").into(),
        token: var("JWTGRANT_TEST_PKCS11_TOKEN"),
        pin: var("JWTGRANT_TEST_PKCS11_PIN"),
    }
}

/// A URI for a fresh key label in the test token.
fn uri(hsm: &Hsm, label: &str) -> Pkcs11Uri {
    format!("pkcs11:token={}", hsm.token)
        .parse::<Pkcs11Uri>()
        .unwrap()
        .with_object(format!("{label}-{}", uuid::Uuid::new_v4()))
}

/// One key generation at a time: SoftHSM2 answered `C_GenerateKeyPair` with
/// CKR_GENERAL_ERROR once in a CI run where these tests generated keys in parallel on a
/// loaded machine (its token objects are files it writes under a lock). The tests are about
/// the keys, not about concurrent generation, so they take turns.
static GENERATING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn generate(hsm: &Hsm, key_type: KeyType) -> Pkcs11Key {
    let uri = uri(hsm, &format!("{key_type:?}"));
    let _turn = GENERATING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Pkcs11Key::generate(&uri, Some(&hsm.module), &Pin::new(&hsm.pin), key_type, 2048).unwrap()
}

fn claims() -> Claims {
    Claims::new(
        "https://issuer.example",
        "user-1",
        "https://kc.example/realms/demo",
    )
}

/// Verifies with the `jsonwebtoken` crate (RustCrypto), which shares no code with us or the token.
fn jsonwebtoken_accepts(token: &str, signer: &Signer) -> serde_json::Value {
    let alg = match signer.algorithm() {
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::ES384 => jsonwebtoken::Algorithm::ES384,
        other => panic!("no jsonwebtoken mapping for {other}"),
    };
    let pem = signer.public_key_pem();
    let key = if signer.algorithm().is_rsa() {
        jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
    } else {
        jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).unwrap()
    };
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_audience(&["https://kc.example/realms/demo"]);
    validation.set_issuer(&["https://issuer.example"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("jsonwebtoken rejects the {} token: {e}", signer.algorithm()))
        .claims
}

#[test]
fn keys_generated_in_the_token_sign_tokens_an_independent_verifier_accepts() {
    let hsm = hsm();
    let rsa = Arc::new(generate(&hsm, KeyType::Rsa));
    let p256 = Arc::new(generate(&hsm, KeyType::EcP256));
    let p384 = Arc::new(generate(&hsm, KeyType::EcP384));
    assert_eq!(rsa.public_key().rsa_bits(), Some(2048));
    let cases = [
        (rsa.clone() as Arc<dyn SigningKey>, Algorithm::RS256),
        (rsa.clone(), Algorithm::PS256),
        (p256.clone(), Algorithm::ES256),
        (p384.clone(), Algorithm::ES384),
    ];
    for (key, alg) in cases {
        let signer = Signer::from_shared_key(key)
            .with_algorithm(alg)
            .unwrap()
            .with_kid_thumbprint();
        let token = signer.sign(&claims()).unwrap();
        let header = jwtgrant_signer::decode_unverified(&token).unwrap();
        assert_eq!(header.header()["alg"], alg.as_str());
        assert_eq!(jsonwebtoken_accepts(&token, &signer)["sub"], "user-1");
        let ours = verify(&token, &signer.public_key()).unwrap();
        assert_eq!(ours.kid(), Some(signer.thumbprint().as_str()));
    }
    // An EC key only signs with its own curve's algorithm.
    let err = Signer::from_shared_key(p256)
        .with_algorithm(Algorithm::ES384)
        .unwrap_err();
    assert!(
        matches!(err, SignError::AlgorithmMismatch { .. }),
        "{err:?}"
    );
}

#[test]
fn a_key_opened_again_by_its_uri_is_the_same_key() {
    let hsm = hsm();
    let generated = generate(&hsm, KeyType::EcP256);
    // The generated key's URI carries the id it got; the label alone finds it too.
    assert_eq!(generated.uri().id().map(<[u8]>::len), Some(16));
    let by_label = Pkcs11Uri::default().with_object(generated.uri().object().unwrap());
    let opened = Pkcs11Key::open(&by_label, Some(&hsm.module), Some(&Pin::new(&hsm.pin))).unwrap();
    assert_eq!(opened.token_label(), hsm.token);
    assert_eq!(
        opened.public_key().thumbprint(),
        generated.public_key().thumbprint()
    );
    // What `Debug` shows: where the key is, never the PIN.
    let debug = format!("{opened:?}");
    assert!(
        debug.contains(&hsm.token) && !debug.contains(&hsm.pin),
        "{debug}"
    );
    assert_eq!(format!("{:?}", Pin::new("1234")), "Pin([redacted])");
}

#[test]
fn the_private_value_cannot_be_read_out_of_the_token() {
    let hsm = hsm();
    let rsa = generate(&hsm, KeyType::Rsa);
    let ec = generate(&hsm, KeyType::EcP256);
    // Straight through cryptoki, as any other application on the machine would try.
    let ctx = Pkcs11::new(&hsm.module).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label() == hsm.token)
        .unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    match session.login(UserType::User, Some(&hsm.pin.clone().into())) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("{e}"),
    }
    for (key, secret) in [
        (&rsa, AttributeType::PrivateExponent),
        (&ec, AttributeType::Value),
    ] {
        let label = key.uri().object().unwrap().as_bytes().to_vec();
        let found = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(label),
            ])
            .unwrap();
        assert_eq!(found.len(), 1);
        let info = session.get_attribute_info(found[0], &[secret]).unwrap();
        assert!(
            matches!(info[..], [AttributeInfo::Sensitive]),
            "{secret:?}: {info:?}"
        );
        let flags = session
            .get_attributes(
                found[0],
                &[
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::AlwaysSensitive,
                ],
            )
            .unwrap();
        assert_eq!(
            flags,
            [
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::NeverExtractable(true),
                Attribute::AlwaysSensitive(true),
            ]
        );
    }
}

#[test]
fn one_signer_signs_from_many_threads() {
    let hsm = hsm();
    let signer = Signer::from_key(generate(&hsm, KeyType::EcP256)).with_kid_thumbprint();
    let public = signer.public_key();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let signer = signer.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| signer.sign(&claims()).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut jtis = HashSet::new();
    for thread in threads {
        for token in thread.join().unwrap() {
            let verified = verify(&token, &public).unwrap();
            jtis.insert(verified.claims()["jti"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(jtis.len(), 200);
}

#[test]
fn errors_name_the_cause() {
    let hsm = hsm();
    let pin = Pin::new(&hsm.pin);
    let open = |uri: &str, module: &std::path::Path| {
        Pkcs11Key::open(&uri.parse().unwrap(), Some(module), Some(&pin)).unwrap_err()
    };
    let missing = std::path::Path::new("/nonexistent/libpkcs11.so");
    let err = open("pkcs11:object=x", missing);
    assert!(matches!(err, Pkcs11Error::ModuleNotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "PKCS#11 module '/nonexistent/libpkcs11.so' not found (install the HSM's client package, e.g. 'apt-get install softhsm2', or correct the path)"
    );
    let not_a_module = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let err = open("pkcs11:object=x", &not_a_module);
    assert!(matches!(err, Pkcs11Error::ModuleLoad { .. }), "{err:?}");

    let err = open("pkcs11:token=no-such-token;object=x", &hsm.module);
    assert_eq!(
        err.to_string(),
        format!(
            "no token matches token 'no-such-token' (present: '{}'; correct token= in the URI)",
            hsm.token
        )
    );
    let err = open(
        &format!("pkcs11:token={};object=no-such-key", hsm.token),
        &hsm.module,
    );
    assert_eq!(
        err.to_string(),
        format!(
            "no private key matches object 'no-such-key' in token '{}' (list the keys with 'pkcs11-tool --module MODULE --list-objects --login', or generate one with 'jwtgrant keygen --pkcs11 URI')",
            hsm.token
        )
    );
    let err = Pkcs11Key::open(
        &format!("pkcs11:token={}", hsm.token).parse().unwrap(),
        None,
        Some(&pin),
    )
    .unwrap_err();
    assert!(matches!(err, Pkcs11Error::NoModule), "{err:?}");

    // A second key under a label already taken would make the URI ambiguous.
    let key = generate(&hsm, KeyType::EcP256);
    let err =
        Pkcs11Key::generate(key.uri(), Some(&hsm.module), &pin, KeyType::EcP256, 0).unwrap_err();
    assert!(matches!(err, Pkcs11Error::KeyExists { .. }), "{err:?}");
}
