//! Building the token request: form body and `Authorization` header. Pure functions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Encoding};
use url::form_urlencoded;

use crate::secret::ClientSecret;

/// `grant_type` of the JWT Authorization Grant (RFC 7523 section 2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// `client_assertion_type` for `private_key_jwt` (RFC 7523 section 2.2).
pub const JWT_BEARER_CLIENT_ASSERTION: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Form parameter names the client sets itself; extra parameters may not repeat them
/// (Keycloak answers `invalid_request` to a parameter sent twice).
pub(crate) const RESERVED_PARAMS: &[&str] = &[
    "grant_type",
    "assertion",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// How the client authenticates, with what it needs at request time.
///
/// The `private_key_jwt` client assertion is signed per request by the IO layer and passed
/// in here already signed, so this stays pure.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AuthForm<'a> {
    /// No client authentication at all (the caller authenticates some other way).
    Anonymous,
    /// `client_id` only (`none`).
    None { client_id: &'a str },
    /// `client_id` and `client_secret` in the body.
    SecretPost {
        client_id: &'a str,
        secret: &'a ClientSecret,
    },
    /// `Authorization: Basic`; nothing in the body.
    SecretBasic,
    /// `client_assertion_type`, `client_assertion` and `client_id`.
    PrivateKeyJwt {
        client_id: &'a str,
        client_assertion: &'a str,
    },
}

/// The `application/x-www-form-urlencoded` body of the token request.
///
/// Order: `grant_type`, `assertion`, `scope`, client authentication, extra parameters.
pub(crate) fn token_form(
    assertion: &str,
    scope: Option<&str>,
    auth: AuthForm<'_>,
    extra: &[(String, String)],
) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", JWT_BEARER_GRANT);
    form.append_pair("assertion", assertion);
    if let Some(scope) = scope {
        form.append_pair("scope", scope);
    }
    match auth {
        AuthForm::Anonymous | AuthForm::SecretBasic => {}
        AuthForm::None { client_id } => {
            form.append_pair("client_id", client_id);
        }
        AuthForm::SecretPost { client_id, secret } => {
            form.append_pair("client_id", client_id);
            form.append_pair("client_secret", secret.secret());
        }
        AuthForm::PrivateKeyJwt {
            client_id,
            client_assertion,
        } => {
            form.append_pair("client_assertion_type", JWT_BEARER_CLIENT_ASSERTION);
            form.append_pair("client_assertion", client_assertion);
            form.append_pair("client_id", client_id);
        }
    }
    for (name, value) in extra {
        form.append_pair(name, value);
    }
    form.finish()
}

/// The `Authorization` header value for `client_secret_basic`.
///
/// RFC 6749 section 2.3.1: the id and the secret are each form-urlencoded first, then joined
/// with `:` and base64-encoded. (Without the encoding step a `:` in the id would split wrong.)
pub(crate) fn basic_auth_header(client_id: &str, secret: &ClientSecret) -> String {
    let id: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let pw: String = form_urlencoded::byte_serialize(secret.secret().as_bytes()).collect();
    format!(
        "Basic {}",
        Base64::encode_string(format!("{id}:{pw}").as_bytes())
    )
}

/// The JSON payload of a `private_key_jwt` client assertion (RFC 7523 section 3): `iss` and
/// `sub` are the client id, `aud` the token endpoint, `iat` now, `exp` now plus `lifetime`,
/// and `jti` unique per request.
pub(crate) fn client_assertion_payload(
    client_id: &str,
    token_endpoint: &str,
    now: SystemTime,
    lifetime: Duration,
    jti: &str,
) -> String {
    let iat = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "iat": iat,
        "exp": iat.saturating_add(lifetime.as_secs()),
        "jti": jti,
    })
    .to_string()
}

/// The first reserved name among the extra parameters, if any.
pub(crate) fn reserved_extra(extra: &[(String, String)]) -> Option<&str> {
    extra
        .iter()
        .map(|(name, _)| name.as_str())
        .find(|name| RESERVED_PARAMS.contains(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRANT: &str = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";

    fn check(auth: AuthForm<'_>, scope: Option<&str>, extra: &[(String, String)], expected: &str) {
        assert_eq!(token_form("h.p.s", scope, auth, extra), expected);
    }

    #[test]
    fn form_per_client_auth_method() {
        let secret = ClientSecret::new("s e&c=r+t");
        check(
            AuthForm::Anonymous,
            None,
            &[],
            &format!("{GRANT}&assertion=h.p.s"),
        );
        check(
            AuthForm::None {
                client_id: "my client",
            },
            None,
            &[],
            &format!("{GRANT}&assertion=h.p.s&client_id=my+client"),
        );
        check(
            AuthForm::SecretPost {
                client_id: "custom-client",
                secret: &secret,
            },
            Some("openid profile"),
            &[],
            &format!(
                "{GRANT}&assertion=h.p.s&scope=openid+profile&client_id=custom-client&client_secret=s+e%26c%3Dr%2Bt"
            ),
        );
        check(
            AuthForm::SecretBasic,
            None,
            &[("audience".into(), "api://x".into())],
            &format!("{GRANT}&assertion=h.p.s&audience=api%3A%2F%2Fx"),
        );
        check(
            AuthForm::PrivateKeyJwt {
                client_id: "c1",
                client_assertion: "a.b.c",
            },
            None,
            &[],
            &format!(
                "{GRANT}&assertion=h.p.s&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c&client_id=c1"
            ),
        );
    }

    #[test]
    fn basic_header_form_encodes_before_base64() {
        // "client:1" / "p@ss w:rd" -> "client%3A1:p%40ss+w%3Ard"
        let header = basic_auth_header("client:1", &ClientSecret::new("p@ss w:rd"));
        let expected = format!(
            "Basic {}",
            Base64::encode_string(b"client%3A1:p%40ss+w%3Ard")
        );
        assert_eq!(header, expected);
        assert_eq!(
            basic_auth_header("custom-client", &ClientSecret::new("secret")),
            "Basic Y3VzdG9tLWNsaWVudDpzZWNyZXQ="
        );
    }

    #[test]
    fn client_assertion_claims() {
        let payload = client_assertion_payload(
            "custom-client",
            "https://kc/realms/r/protocol/openid-connect/token",
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            Duration::from_secs(60),
            "6f1c",
        );
        let parsed: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
        assert_eq!(
            parsed,
            serde_json::json!({
                "iss": "custom-client",
                "sub": "custom-client",
                "aud": "https://kc/realms/r/protocol/openid-connect/token",
                "iat": 1_700_000_000u64,
                "exp": 1_700_000_060u64,
                "jti": "6f1c",
            })
        );
    }

    #[test]
    fn reserved_extra_params() {
        assert_eq!(reserved_extra(&[("audience".into(), "x".into())]), None);
        assert_eq!(
            reserved_extra(&[
                ("audience".into(), "x".into()),
                ("client_secret".into(), "y".into())
            ]),
            Some("client_secret")
        );
    }
}
