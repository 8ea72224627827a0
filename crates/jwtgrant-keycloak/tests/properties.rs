//! Property tests (proptest, on stable): `realm_url` and `token_endpoint` put the realm name
//! in one path segment that percent-decodes back to it.

use jwtgrant_keycloak::{realm_url, token_endpoint};
use proptest::prelude::*;
use url::Url;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_realm_url_decodes_back_to_the_realm(
        // Hyphens only singly and inside a label: a label with `--` in its third and fourth
        // places (`xn--`) is an IDNA A-label, and the URL parser refuses one that does not
        // decode (found by this test, with host `xn--`).
        host in "[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,4})?(\\.[a-z]{2,6}){0,2}",
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
