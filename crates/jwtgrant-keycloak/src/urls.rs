//! Where things are on a Keycloak server: the realm URL (the assertion's `aud`, the access
//! token's `iss`) and the realm's token endpoint. Pure functions, and the only place that
//! knows Keycloak's URL layout.

/// The token endpoint of a Keycloak realm: `{base}/realms/{realm}/protocol/openid-connect/token`.
///
/// `base` is the URL Keycloak is reached on (trailing slashes ignored; include `/auth` for
/// very old servers). The realm name is percent-encoded as one path segment.
///
/// ```
/// assert_eq!(
///     jwtgrant_keycloak::token_endpoint("https://sso.example.com/", "acme"),
///     "https://sso.example.com/realms/acme/protocol/openid-connect/token"
/// );
/// ```
pub fn token_endpoint(base: &str, realm: &str) -> String {
    format!("{}/protocol/openid-connect/token", realm_url(base, realm))
}

/// The realm's issuer URL, `{base}/realms/{realm}`: also the `aud` Keycloak expects in the
/// assertion (it accepts the token endpoint URL too).
///
/// ```
/// assert_eq!(
///     jwtgrant_keycloak::realm_url("http://localhost:8080", "my realm"),
///     "http://localhost:8080/realms/my%20realm"
/// );
/// ```
pub fn realm_url(base: &str, realm: &str) -> String {
    format!(
        "{}/realms/{}",
        base.trim_end_matches('/'),
        encode_segment(realm)
    )
}

/// The Keycloak base URL and realm name of a realm URL (`{base}/realms/{realm}`) or of any URL
/// below it (the token endpoint): the inverse of [`realm_url`], the realm name decoded.
///
/// ```
/// assert_eq!(
///     jwtgrant_keycloak::base_and_realm("https://sso.example/realms/my%20realm/protocol/openid-connect/token"),
///     Some(("https://sso.example".to_owned(), "my realm".to_owned()))
/// );
/// assert_eq!(jwtgrant_keycloak::base_and_realm("https://idp.example/token"), None);
/// ```
pub fn base_and_realm(url: &str) -> Option<(String, String)> {
    let (base, rest) = url.rsplit_once("/realms/")?;
    let segment = rest.split(['/', '?', '#']).next()?;
    if base.is_empty() || segment.is_empty() {
        return None;
    }
    Some((base.to_owned(), decode_segment(segment)?))
}

/// Percent-decodes a path segment; `None` when it is not UTF-8 once decoded.
fn decode_segment(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes a path segment the way Keycloak writes realm names into its own URLs
/// (its issuer, the `aud` it compares with): everything but RFC 3986 `pchar` (unreserved,
/// sub-delims, `:` and `@`) is encoded, so `team a` is `team%20a`, `café` is `caf%C3%A9`,
/// `100%` is `100%25`, while `a'b` stays `a'b` (measured on 26.7.3: docs/keycloak-notes.md).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        let pchar = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'_' | b'~' // unreserved
                    | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' // sub-delims
                    | b':' | b'@'
            );
        if pchar {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keycloak_layout() {
        assert_eq!(
            token_endpoint("http://localhost:8080//", "jwt-grant"),
            "http://localhost:8080/realms/jwt-grant/protocol/openid-connect/token"
        );
        // The realm names Keycloak 26.7.3 accepts, with the issuer it announces for each.
        for (realm, issuer) in [
            ("team a", "http://kc/realms/team%20a"),
            ("100%", "http://kc/realms/100%25"),
            ("café", "http://kc/realms/caf%C3%A9"),
            ("a'b", "http://kc/realms/a'b"),
            ("a~b", "http://kc/realms/a~b"),
            ("a\"b|c<d^e`f", "http://kc/realms/a%22b%7Cc%3Cd%5Ee%60f"),
        ] {
            assert_eq!(realm_url("http://kc/", realm), issuer, "{realm}");
            // And back, from the issuer and from the token endpoint.
            let back = Some(("http://kc".to_owned(), realm.to_owned()));
            assert_eq!(base_and_realm(issuer), back, "{issuer}");
            assert_eq!(
                base_and_realm(&token_endpoint("http://kc", realm)),
                back,
                "{realm}"
            );
        }
        // Names Keycloak refuses still cannot escape their path segment.
        assert_eq!(
            realm_url("https://kc.example/auth", "a/b?c#d"),
            "https://kc.example/auth/realms/a%2Fb%3Fc%23d"
        );
    }
}
