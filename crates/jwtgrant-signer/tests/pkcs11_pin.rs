//! A wrong PIN, in a test binary of its own: PKCS#11 logins belong to the whole process,
//! so a key opened by another test would make the token answer "already logged in".

#![cfg(feature = "pkcs11")]

use jwtgrant_signer::pkcs11::{Pin, PinAttempts, Pkcs11Error, Pkcs11Key, Pkcs11Uri};

#[test]
fn a_wrong_pin_is_named_and_never_shown() {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the HSM tests through 'cargo xtask ci', or 'eval $(cargo xtask softhsm)' first")
        })
    };
    let module = std::path::PathBuf::from(var("JWTGRANT_TEST_PKCS11_MODULE"));
    let token = var("JWTGRANT_TEST_PKCS11_TOKEN");
    let uri: Pkcs11Uri = format!("pkcs11:token={token};object=any").parse().unwrap();
    let wrong = "wrong-pin-4242";
    let err = Pkcs11Key::open(&uri, Some(&module), Some(&Pin::new(wrong))).unwrap_err();
    assert!(
        matches!(
            err,
            Pkcs11Error::WrongPin {
                attempts: PinAttempts::Low,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert_eq!(
        text,
        format!(
            "wrong PIN for token '{token}' (the token says few attempts are left; check the PIN source before trying again)"
        )
    );
    assert!(!format!("{err:?}").contains(wrong));

    // SoftHSM2 raises CKF_USER_PIN_COUNT_LOW after one failure (the message above says so);
    // the right PIN still logs in (and resets the count), so the key lookup is what fails next.
    let pin = Pin::new(var("JWTGRANT_TEST_PKCS11_PIN"));
    let err = Pkcs11Key::open(&uri, Some(&module), Some(&pin)).unwrap_err();
    assert!(matches!(err, Pkcs11Error::KeyNotFound { .. }), "{err:?}");

    let err = Pkcs11Key::open(&uri, Some(&module), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("token '{token}' needs a PIN (give it through a file, the environment or stdin)")
    );
}
