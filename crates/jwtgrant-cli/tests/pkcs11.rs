//! `pkcs11:` key URIs through the built binary, against the SoftHSM2 token `cargo xtask ci`
//! makes (feature `pkcs11`; fails, never skips, without the token). Without the feature,
//! the binary says how to get it.

mod common;

use common::run_with;

#[cfg(not(feature = "pkcs11"))]
#[test]
fn without_the_feature_a_pkcs11_uri_says_how_to_get_it() {
    let r = run_with(&["pubkey", "--key", "pkcs11:token=t;object=k"], &[], None);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "jwtgrant: 'pkcs11:token=t;object=k' is a PKCS#11 key URI, but this jwtgrant was built without PKCS#11 support (rebuild it with '--features pkcs11')\n"
    );
}

#[cfg(feature = "pkcs11")]
mod hsm {
    use super::common::Run;
    use super::*;

    /// The token's PIN flags are shared by every process: a login elsewhere between our wrong
    /// PIN and the flags being read would reset "count low". The tests here take turns.
    static TURNS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn turn() -> std::sync::MutexGuard<'static, ()> {
        TURNS.lock().unwrap_or_else(|p| p.into_inner())
    }

    struct Token {
        env: Vec<(&'static str, String)>,
        token: String,
        pin: String,
        pin_file: String,
    }

    fn token() -> Token {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: run these tests through 'cargo xtask ci', or 'eval $(cargo xtask softhsm)' first")
            })
        };
        Token {
            env: vec![
                ("SOFTHSM2_CONF", var("SOFTHSM2_CONF")),
                ("JWTGRANT_PKCS11_MODULE", var("JWTGRANT_TEST_PKCS11_MODULE")),
            ],
            token: var("JWTGRANT_TEST_PKCS11_TOKEN"),
            pin: var("JWTGRANT_TEST_PKCS11_PIN"),
            pin_file: var("JWTGRANT_TEST_PKCS11_PIN_FILE"),
        }
    }

    impl Token {
        fn uri(&self, label: &str) -> String {
            format!(
                "pkcs11:token={};object=cli-{label}-{}",
                self.token,
                std::process::id()
            )
        }

        fn run(&self, args: &[&str], extra: &[(&str, &str)], stdin: Option<&str>) -> Run {
            let mut env: Vec<(&str, &str)> =
                self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            env.extend_from_slice(extra);
            run_with(args, &env, stdin)
        }
    }

    #[test]
    fn keygen_in_the_token_then_every_key_command_takes_the_uri() {
        let _turn = turn();
        let t = token();
        let uri = t.uri("es256");
        let r = t.run(
            &[
                "keygen",
                "--alg",
                "ES256",
                "--pkcs11",
                &uri,
                "--pkcs11-pin-file",
                &t.pin_file,
            ],
            &[],
            None,
        );
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.stdout.starts_with("-----BEGIN PUBLIC KEY-----\n"),
            "{r:?}"
        );
        let prefix = format!(
            "jwtgrant: generated an EC P-256 key pair in token '{}' (private key sensitive, never extractable): {uri};id=%",
            t.token
        );
        assert!(r.stderr.starts_with(&prefix), "{}", r.stderr);
        let public = jwtgrant_signer::PublicKey::from_pem(r.stdout.as_bytes()).unwrap();

        // The PIN from the environment, from stdin, from the file: the same key each time.
        let pin_env = [("JWTGRANT_PKCS11_PIN", t.pin.as_str())];
        let r = t.run(&["pubkey", "--key", &uri], &pin_env, None);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
        assert_eq!(
            jwtgrant_signer::PublicKey::from_pem(r.stdout.as_bytes()).unwrap(),
            public
        );
        let stdin_pin = format!("{}\n", t.pin);
        let r = t.run(
            &["jwks", "--key", &uri, "--pkcs11-pin-file", "-"],
            &[],
            Some(&stdin_pin),
        );
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
        let jwks: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(jwks["keys"][0]["kid"], public.thumbprint());
        assert_eq!(jwks["keys"][0]["crv"], "P-256");

        let r = t.run(
            &[
                "sign",
                "--key",
                &uri,
                "--pkcs11-pin-file",
                &t.pin_file,
                "--iss",
                "https://issuer.example",
                "--sub",
                "u1",
                "--aud",
                "https://kc.example/realms/r",
                "--kid-thumbprint",
            ],
            &[],
            None,
        );
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
        let verified = jwtgrant_signer::verify(r.stdout.trim(), &public).unwrap();
        assert_eq!(verified.claims()["sub"], "u1");
        assert_eq!(verified.kid(), Some(public.thumbprint().as_str()));

        // A second key under the same label is refused: the URI would become ambiguous.
        let r = t.run(
            &[
                "keygen",
                "--alg",
                "ES256",
                "--pkcs11",
                &uri,
                "--pkcs11-pin-file",
                &t.pin_file,
            ],
            &[],
            None,
        );
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr
                .contains("already holds a key with object 'cli-es256-"),
            "{}",
            r.stderr
        );
    }

    #[test]
    fn errors_name_the_cause_and_never_the_pin() {
        let _turn = turn();
        let t = token();
        let uri = t.uri("missing");
        let wrong = "wrong-pin-9876";
        let r = t.run(
            &["pubkey", "--key", &uri],
            &[("JWTGRANT_PKCS11_PIN", wrong)],
            None,
        );
        assert_eq!((r.code, r.stdout.as_str()), (1, ""), "{r:?}");
        assert_eq!(
            r.stderr,
            format!(
                "jwtgrant: cannot open key '{uri}': wrong PIN for token '{}' (the token says few attempts are left; check the PIN source before trying again)\n",
                t.token
            )
        );
        assert!(!r.stderr.contains(wrong));

        let r = t.run(
            &["pubkey", "--key", &uri],
            &[("JWTGRANT_PKCS11_PIN", &t.pin)],
            None,
        );
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.starts_with(&format!(
                "jwtgrant: cannot open key '{uri}': no private key matches object 'cli-missing-"
            )),
            "{}",
            r.stderr
        );

        let r = t.run(&["pubkey", "--key", &uri], &[], None);
        assert_eq!(
            r.stderr,
            format!(
                "jwtgrant: cannot open key '{uri}': token '{}' needs a PIN (pass --pkcs11-pin-file FILE or '-' for stdin, set JWTGRANT_PKCS11_PIN, or add pin-source=file:PATH to the URI)\n",
                t.token
            )
        );

        let with_pin = format!("{uri}?pin-value={wrong}");
        let r = t.run(&["pubkey", "--key", &with_pin], &[], None);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.ends_with(": invalid pkcs11 URI: pin-value puts the PIN where other users can read it (argv, shell history); use pin-source=file:PATH, or give the PIN through a file, the environment or stdin\n"),
            "{}",
            r.stderr
        );

        let r = run_with(
            &[
                "pubkey",
                "--key",
                &uri,
                "--pkcs11-module",
                "/nonexistent/module.so",
            ],
            &[("JWTGRANT_PKCS11_PIN", &t.pin)],
            None,
        );
        assert_eq!(
            r.stderr,
            format!(
                "jwtgrant: cannot open key '{uri}': PKCS#11 module '/nonexistent/module.so' not found (install the HSM's client package, e.g. 'apt-get install softhsm2', or correct the path)\n"
            )
        );

        let r = run_with(
            &["pubkey", "--key", &uri],
            &[("JWTGRANT_PKCS11_PIN", &t.pin)],
            None,
        );
        assert_eq!(
            r.stderr,
            format!(
                "jwtgrant: cannot open key '{uri}': no PKCS#11 module given (pass --pkcs11-module FILE, set JWTGRANT_PKCS11_MODULE, or add ?module-path=FILE to the URI)\n"
            )
        );

        // A PIN file others can read is refused like a key file.
        let dir = tempfile::tempdir().unwrap();
        let loose = dir.path().join("pin");
        std::fs::write(&loose, &t.pin).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        let loose = loose.to_str().unwrap();
        let r = t.run(
            &["pubkey", "--key", &uri, "--pkcs11-pin-file", loose],
            &[],
            None,
        );
        assert_eq!(
            r.stderr,
            format!(
                "jwtgrant: PIN file '{loose}' is accessible by group or others (mode 0644): run 'chmod 600 {loose}' (or pass --allow-insecure-key-permissions)\n"
            )
        );
    }
}
