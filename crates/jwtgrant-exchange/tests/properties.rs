//! Property tests (proptest, on stable): encodings that must decode back to what went in.
//!
//! - the token request's form body (and `client_secret_basic`'s header) parse back to the
//!   assertion, scope, client id, secret and extra parameters, in order;
//! - `keycloak::realm_url` and `token_endpoint` put the realm name in one path segment that
//!   percent-decodes back to it.

use base64ct::{Base64, Encoding as _};
use jwtgrant_exchange::keycloak::{realm_url, token_endpoint};
use jwtgrant_exchange::{ClientAuth, JWT_BEARER_GRANT, Secret, fuzzing};
use proptest::prelude::*;
use url::Url;
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

    #[test]
    fn the_realm_url_decodes_back_to_the_realm(
        host in "[a-z][a-z0-9-]{0,15}(\\.[a-z]{2,6}){0,2}",
        port in proptest::option::of(1u16..),
        path in "(/[a-z]{1,6}){0,2}/?",
        // Not empty (Keycloak refuses it), and not `.` or `..`: URL parsers (WHATWG, and so
        // the `url` crate and ureq) remove dot segments even percent-encoded, so no URL can
        // name such a realm. Found by this test; `realm_url` cannot refuse them today (it
        // returns a String), so they are left out here and noted in docs/security.md.
        realm in any::<String>().prop_filter("not a nameable realm", |r| {
            !r.is_empty() && r != "." && r != ".."
        }),
    ) {
        let base = match port {
            Some(p) => format!("https://{host}:{p}{path}"),
            None => format!("https://{host}{path}"),
        };
        let realm_url = realm_url(&base, &realm);
        let token = token_endpoint(&base, &realm);
        prop_assert_eq!(&token, &format!("{realm_url}/protocol/openid-connect/token"));
        // A URL parser agrees: the realm is exactly one segment after `realms`.
        let url = Url::parse(&realm_url).unwrap();
        let segments: Vec<&str> = url.path_segments().unwrap().collect();
        let at = segments.iter().rposition(|s| *s == "realms").unwrap();
        prop_assert_eq!(segments.len(), at + 2, "{}", realm_url);
        let segment = segments[at + 1];
        let decoded = percent_decode(segment);
        prop_assert_eq!(decoded, realm);
        // And the parser leaves our encoding alone: what we sign is what it sends.
        prop_assert_eq!(url.as_str(), realm_url.as_str());
    }
}

/// `%XX` sequences to bytes, as UTF-8.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
