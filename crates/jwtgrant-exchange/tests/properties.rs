//! Property tests (proptest, on stable): encodings that must decode back to what went in.
//!
//! The token request's form body (and `client_secret_basic`'s header) parse back to the
//! assertion, scope, client id, secret and extra parameters, in order.

use base64ct::{Base64, Encoding as _};
use jwtgrant_exchange::{ClientAuth, JWT_BEARER_GRANT, Secret, fuzzing};
use proptest::prelude::*;
use url::form_urlencoded;

/// The client authentications that put something in the form or the header.
#[derive(Debug, Clone)]
enum Auth {
    None(String),
    Post(String, String),
    Basic(String, String),
}

impl Auth {
    fn client_auth(&self) -> ClientAuth {
        match self.clone() {
            Auth::None(client_id) => ClientAuth::None { client_id },
            Auth::Post(client_id, s) => ClientAuth::SecretPost {
                client_id,
                secret: Secret::new(s),
            },
            Auth::Basic(client_id, s) => ClientAuth::SecretBasic {
                client_id,
                secret: Secret::new(s),
            },
        }
    }
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        any::<String>().prop_map(Auth::None),
        (any::<String>(), any::<String>()).prop_map(|(c, s)| Auth::Post(c, s)),
        (any::<String>(), any::<String>()).prop_map(|(c, s)| Auth::Basic(c, s)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_form_body_decodes_back(
        assertion in any::<String>(),
        scope in proptest::option::of(any::<String>()),
        auth in auth(),
        extra in prop::collection::vec(("[a-z_]{1,10}", any::<String>()), 0..4),
    ) {
        let (body, header) = fuzzing::token_request(&assertion, scope.as_deref(), &auth.client_auth(), &extra);
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        let mut expected = vec![
            ("grant_type".to_owned(), JWT_BEARER_GRANT.to_owned()),
            ("assertion".to_owned(), assertion.clone()),
        ];
        if let Some(scope) = &scope {
            expected.push(("scope".into(), scope.clone()));
        }
        match &auth {
            Auth::None(id) => expected.push(("client_id".into(), id.clone())),
            Auth::Post(id, secret) => {
                expected.push(("client_id".into(), id.clone()));
                expected.push(("client_secret".into(), secret.clone()));
            }
            Auth::Basic(..) => {}
        }
        expected.extend(extra.iter().cloned());
        prop_assert_eq!(pairs, expected);

        // RFC 6749 section 2.3.1: base64 of form-encoded id ':' form-encoded secret.
        match (&auth, header) {
            (Auth::Basic(id, secret), Some(header)) => {
                let b64 = header.strip_prefix("Basic ").unwrap();
                let decoded = String::from_utf8(Base64::decode_vec(b64).unwrap()).unwrap();
                let (i, s) = decoded.split_once(':').unwrap();
                let un = |t: &str| -> String {
                    form_urlencoded::parse(format!("x={t}").as_bytes()).next().unwrap().1.into_owned()
                };
                prop_assert_eq!(&un(i), id);
                prop_assert_eq!(&un(s), secret);
            }
            (Auth::Basic(..), None) => prop_assert!(false, "no Authorization header"),
            (_, header) => prop_assert_eq!(header, None),
        }
    }
}
