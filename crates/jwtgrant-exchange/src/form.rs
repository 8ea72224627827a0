//! Building the token request: form body and `Authorization` header. Pure functions.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Encoding};
use url::form_urlencoded;

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::secret::Secret;

/// `grant_type` of the JWT Authorization Grant (RFC 7523 section 2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// `client_assertion_type` of a JWT client assertion (RFC 7523 section 2.2): `private_key_jwt`
/// and [`ClientAuth::ClientAssertion`] alike.
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

/// How the client authenticates at the token endpoint: the one model of client
/// authentication, used by [`crate::Exchange`], the admin API's service-account login and
/// front ends alike.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// No client authentication at all (the caller authenticates some other way).
    Anonymous,
    /// `client_id` only (authentication method `none`).
    None {
        /// The client id.
        client_id: String,
    },
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    SecretPost {
        /// The client id.
        client_id: String,
        /// The client secret.
        secret: Secret,
    },
    /// HTTP Basic with the form-urlencoded id and secret (`client_secret_basic`).
    SecretBasic {
        /// The client id.
        client_id: String,
        /// The client secret.
        secret: Secret,
    },
    /// Mutual TLS with a certificate Keycloak matches by subject DN (`tls_client_auth`, RFC
    /// 8705 section 2.1): `client_id` in the body, the certificate on the transport
    /// ([`crate::Transport::client_certificate_pem`]).
    TlsClientAuth {
        /// The client id.
        client_id: String,
    },
    /// A JWT the client signs per request (`private_key_jwt`, RFC 7523 section 2.2).
    PrivateKeyJwt {
        /// The client id (`iss` and `sub` of the client assertion).
        client_id: String,
        /// The client's key.
        signer: jwtgrant_signer::Signer,
    },
    /// A client assertion from another issuer (RFC 7523 section 2.2): an identity provider
    /// the server trusts vouches for the client, so the client holds no secret of its own
    /// (Keycloak's `federated-jwt` authenticator). Made anew for every attempt, signed here
    /// or read from a file another system rotates.
    ClientAssertion {
        /// The client id, sent as `client_id` (the server may find the client by the
        /// assertion's `iss` and `sub` instead).
        client_id: String,
        /// Where the assertion comes from.
        source: AssertionSource,
    },
}

/// Where a [`ClientAuth::ClientAssertion`] comes from; either way a fresh one per attempt.
#[derive(Clone)]
#[non_exhaustive]
pub enum AssertionSource {
    /// Signed here for every attempt: `iss`, `sub` and `aud` as given, `iat` now, a 60 s
    /// `exp` and a fresh `jti` (Keycloak refuses a reused one).
    Signed {
        /// The key of the issuer that vouches for the client.
        signer: jwtgrant_signer::Signer,
        /// `iss`: the issuer as the server knows it (for Keycloak, the identity provider's
        /// issuer).
        issuer: String,
        /// `sub`: the client as the issuer names it (for Keycloak, the client's
        /// `jwt.credential.sub`; usually the client id).
        subject: String,
        /// `aud`: the audience the server expects (for Keycloak, the realm URL; its token
        /// endpoint URL is refused).
        audience: String,
    },
    /// Read from this file for every attempt: a token another system writes and rotates,
    /// such as a Kubernetes projected service-account token or a SPIFFE JWT-SVID. It is sent
    /// as it is (surrounding whitespace aside) after a check that it is a JWT that has not
    /// expired.
    File(PathBuf),
}

impl AssertionSource {
    /// A source that signs with `signer` for every attempt (see [`AssertionSource::Signed`]).
    pub fn signed(
        signer: jwtgrant_signer::Signer,
        issuer: impl Into<String>,
        subject: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self::Signed {
            signer,
            issuer: issuer.into(),
            subject: subject.into(),
            audience: audience.into(),
        }
    }

    /// A source that reads the file at `path` for every attempt.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::File(path.into())
    }
}

impl fmt::Debug for AssertionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signed {
                issuer,
                subject,
                audience,
                ..
            } => f
                .debug_struct("Signed")
                .field("issuer", issuer)
                .field("subject", subject)
                .field("audience", audience)
                .finish_non_exhaustive(),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

impl ClientAuth {
    /// The method's registered name (RFC 7591 `token_endpoint_auth_method`), or
    /// `anonymous`, or `client_assertion` for [`ClientAuth::ClientAssertion`]: the registry
    /// has no name for a client assertion another issuer signed (`private_key_jwt` is the
    /// case where the client signs itself, `iss` = `sub` = client id, and a server may treat
    /// the two apart: Keycloak's `federated-jwt` authenticator skips an assertion whose `iss`
    /// equals its `sub`), and Keycloak advertises none for it.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::None { .. } => "none",
            Self::SecretPost { .. } => "client_secret_post",
            Self::SecretBasic { .. } => "client_secret_basic",
            Self::TlsClientAuth { .. } => "tls_client_auth",
            Self::PrivateKeyJwt { .. } => "private_key_jwt",
            Self::ClientAssertion { .. } => "client_assertion",
        }
    }

    /// The client id, when there is one.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::None { client_id }
            | Self::TlsClientAuth { client_id }
            | Self::SecretPost { client_id, .. }
            | Self::SecretBasic { client_id, .. }
            | Self::PrivateKeyJwt { client_id, .. }
            | Self::ClientAssertion { client_id, .. } => Some(client_id),
        }
    }

    /// The client secret, for the two secret methods.
    pub(crate) fn secret(&self) -> Option<&Secret> {
        match self {
            Self::SecretPost { secret, .. } | Self::SecretBasic { secret, .. } => Some(secret),
            _ => None,
        }
    }

    /// Appends this method's form fields; `client_assertion` is the JWT for the two
    /// assertion methods (made per request by the caller, so this stays pure).
    fn append_to(
        &self,
        form: &mut form_urlencoded::Serializer<'_, String>,
        client_assertion: &str,
    ) {
        match self {
            Self::Anonymous | Self::SecretBasic { .. } => {}
            Self::None { client_id } | Self::TlsClientAuth { client_id } => {
                form.append_pair("client_id", client_id);
            }
            Self::SecretPost { client_id, secret } => {
                form.append_pair("client_id", client_id);
                form.append_pair("client_secret", secret.secret());
            }
            Self::PrivateKeyJwt { client_id, .. } | Self::ClientAssertion { client_id, .. } => {
                form.append_pair("client_assertion_type", JWT_BEARER_CLIENT_ASSERTION);
                form.append_pair("client_assertion", client_assertion);
                form.append_pair("client_id", client_id);
            }
        }
    }

    /// The `Authorization` header this method sends, if any.
    pub(crate) fn authorization(&self) -> Option<String> {
        match self {
            Self::SecretBasic { client_id, secret } => Some(basic_auth_header(client_id, secret)),
            _ => None,
        }
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("method", &self.method())
            .field("client_id", &self.client_id())
            .finish_non_exhaustive()
    }
}

/// The grant a token request asks for: this crate's reason to exist, the JWT Authorization
/// Grant, and the two RFC 6749 grants an admin login needs, so every token request goes
/// through one form, one send and one reading of the answer.
#[derive(Clone, Copy)]
pub(crate) enum Grant<'a> {
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` with this assertion (RFC 7523 section 2.1).
    JwtBearer(&'a str),
    /// `password` (RFC 6749 section 4.3).
    Password {
        username: &'a str,
        password: &'a Secret,
    },
    /// `client_credentials` (RFC 6749 section 4.4).
    ClientCredentials,
}

impl Grant<'_> {
    /// Appends `grant_type` and the grant's own parameters.
    fn append_to(self, form: &mut form_urlencoded::Serializer<'_, String>) {
        match self {
            Self::JwtBearer(assertion) => {
                form.append_pair("grant_type", JWT_BEARER_GRANT);
                form.append_pair("assertion", assertion);
            }
            Self::Password { username, password } => {
                form.append_pair("grant_type", "password");
                form.append_pair("username", username);
                form.append_pair("password", password.secret());
            }
            Self::ClientCredentials => {
                form.append_pair("grant_type", "client_credentials");
            }
        }
    }
}

/// A token request ready to send: the form body, the `Authorization` header, and every
/// secret value in either, as sent (for scrubbing what a misbehaving server echoes back).
/// All three hold secrets, so dropping the request wipes them.
pub(crate) struct Prepared {
    pub body: String,
    pub authorization: Option<String>,
    pub sent_secrets: Vec<String>,
}

impl Prepared {
    /// Every form in which an answer may echo a secret we sent: as sent, form-urlencoded (an
    /// echoed body), and the Basic credentials (an echoed header); no empty or repeated ones.
    /// Only an error needs this, so it is worked out then, not on every request; the list
    /// is wiped when dropped.
    pub fn echoed(&self) -> Zeroizing<Vec<String>> {
        let encoded = self
            .sent_secrets
            .iter()
            .map(|s| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>());
        let basic = self
            .authorization
            .as_deref()
            .and_then(|h| h.strip_prefix("Basic "))
            .map(str::to_owned);
        let mut echoed = Vec::new();
        for s in self
            .sent_secrets
            .iter()
            .cloned()
            .chain(encoded)
            .chain(basic)
        {
            if s.is_empty() || echoed.contains(&s) {
                let mut s = s;
                s.zeroize();
            } else {
                echoed.push(s);
            }
        }
        Zeroizing::new(echoed)
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        self.body.zeroize();
        self.authorization.zeroize();
        self.sent_secrets.zeroize();
    }
}

/// Builds a token request. Pure: the `private_key_jwt` client assertion comes in signed.
///
/// Order: `grant_type` and the grant's parameters, `scope`, client authentication, extra
/// parameters.
pub(crate) fn prepare(
    grant: Grant<'_>,
    scope: Option<&str>,
    auth: &ClientAuth,
    client_assertion: Option<&str>,
    extra: &[(String, String)],
) -> Prepared {
    let client_assertion = client_assertion.unwrap_or_default();
    let mut form = form_urlencoded::Serializer::new(String::new());
    grant.append_to(&mut form);
    if let Some(scope) = scope {
        form.append_pair("scope", scope);
    }
    auth.append_to(&mut form, client_assertion);
    for (name, value) in extra {
        form.append_pair(name, value);
    }
    let mut sent_secrets = Vec::new();
    match grant {
        Grant::JwtBearer(assertion) => sent_secrets.push(assertion.to_owned()),
        Grant::Password { password, .. } => sent_secrets.push(password.secret().to_owned()),
        Grant::ClientCredentials => {}
    }
    sent_secrets.push(client_assertion.to_owned());
    if let Some(secret) = auth.secret() {
        sent_secrets.push(secret.secret().to_owned());
    }
    Prepared {
        body: form.finish(),
        authorization: auth.authorization(),
        sent_secrets,
    }
}

/// The client assertion for a request to `token_endpoint`, fresh for every request: signed
/// for `private_key_jwt` and a signed [`AssertionSource`], read for a file one; `None` for
/// the other methods.
pub(crate) fn client_assertion(
    auth: &ClientAuth,
    token_endpoint: &str,
) -> Result<Option<String>, crate::ExchangeError> {
    let now = SystemTime::now();
    // Not `Claims`: those are for the grant's assertion and require an http(s) `iss`,
    // while a `private_key_jwt` client assertion's `iss` is the client id.
    let (signer, payload) = match auth {
        ClientAuth::PrivateKeyJwt { client_id, signer } => (
            signer,
            client_assertion_payload(
                client_id,
                client_id,
                token_endpoint,
                now,
                CLIENT_ASSERTION_LIFETIME,
                &uuid::Uuid::new_v4().to_string(),
            ),
        ),
        ClientAuth::ClientAssertion {
            source:
                AssertionSource::Signed {
                    signer,
                    issuer,
                    subject,
                    audience,
                },
            ..
        } => (
            signer,
            client_assertion_payload(
                issuer,
                subject,
                audience,
                now,
                CLIENT_ASSERTION_LIFETIME,
                &uuid::Uuid::new_v4().to_string(),
            ),
        ),
        ClientAuth::ClientAssertion {
            source: AssertionSource::File(path),
            ..
        } => return read_assertion_file(path, now).map(Some),
        _ => return Ok(None),
    };
    signer
        .sign_jws(signer.header_json().as_bytes(), payload.as_bytes())
        .map(Some)
        .map_err(|e| crate::ExchangeError::ClientAssertion {
            source: std::sync::Arc::new(e),
        })
}

/// Reads a client assertion another system writes: trimmed, and refused when the file is
/// missing, empty, not a JWT or expired at `now` (sending it would only earn an
/// `invalid_client` that does not say why).
pub(crate) fn read_assertion_file(
    path: &Path,
    now: SystemTime,
) -> Result<String, crate::ExchangeError> {
    use crate::error::AssertionFileProblem as P;
    let fail =
        |problem, source: Option<std::io::Error>| crate::ExchangeError::ClientAssertionFile {
            path: path.to_owned(),
            problem,
            source: source.map(|e| std::sync::Arc::new(e) as crate::Source),
        };
    // The file's whole text is a credential: wiped when dropped.
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| fail(P::Unreadable, Some(e)))?);
    let jwt = text.trim();
    if jwt.is_empty() {
        return Err(fail(P::Empty, None));
    }
    let decoded = jwtgrant_signer::decode_unverified(jwt).map_err(|e| {
        crate::ExchangeError::ClientAssertionFile {
            path: path.to_owned(),
            problem: P::NotJwt,
            source: Some(std::sync::Arc::new(e)),
        }
    })?;
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if let Some(exp) = decoded
        .claims()
        .get("exp")
        .and_then(serde_json::Value::as_u64)
        && exp <= now
    {
        return Err(fail(P::Expired { exp, now }, None));
    }
    Ok(jwt.to_owned())
}

/// Lifetime of a client assertion signed here (Keycloak's federated validator allows 300 s).
const CLIENT_ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// The `Authorization` header value for `client_secret_basic`.
///
/// RFC 6749 section 2.3.1: the id and the secret are each form-urlencoded first, then joined
/// with `:` and base64-encoded. (Without the encoding step a `:` in the id would split wrong.)
pub(crate) fn basic_auth_header(client_id: &str, secret: &Secret) -> String {
    let id: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let pw: String = form_urlencoded::byte_serialize(secret.secret().as_bytes()).collect();
    format!(
        "Basic {}",
        Base64::encode_string(format!("{id}:{pw}").as_bytes())
    )
}

/// The JSON payload of a client assertion (RFC 7523 section 3): `iss`, `sub` and `aud` as
/// given (for `private_key_jwt`: the client id twice and the token endpoint), `iat` now,
/// `exp` now plus `lifetime`, and `jti` unique per request.
pub(crate) fn client_assertion_payload(
    issuer: &str,
    subject: &str,
    audience: &str,
    now: SystemTime,
    lifetime: Duration,
    jti: &str,
) -> String {
    let iat = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    serde_json::json!({
        "iss": issuer,
        "sub": subject,
        "aud": audience,
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

    fn check(auth: ClientAuth, scope: Option<&str>, extra: &[(String, String)], expected: &str) {
        let prepared = prepare(
            Grant::JwtBearer("h.p.s"),
            scope,
            &auth,
            Some("a.b.c"),
            extra,
        );
        assert_eq!(prepared.body, expected);
    }

    #[test]
    fn form_per_client_auth_method() {
        let secret = Secret::new("s e&c=r+t");
        check(
            ClientAuth::Anonymous,
            None,
            &[],
            &format!("{GRANT}&assertion=h.p.s"),
        );
        check(
            ClientAuth::None {
                client_id: "my client".into(),
            },
            None,
            &[],
            &format!("{GRANT}&assertion=h.p.s&client_id=my+client"),
        );
        check(
            ClientAuth::SecretPost {
                client_id: "custom-client".into(),
                secret: secret.clone(),
            },
            Some("openid profile"),
            &[],
            &format!(
                "{GRANT}&assertion=h.p.s&scope=openid+profile&client_id=custom-client&client_secret=s+e%26c%3Dr%2Bt"
            ),
        );
        check(
            ClientAuth::SecretBasic {
                client_id: "c".into(),
                secret,
            },
            None,
            &[("audience".into(), "api://x".into())],
            &format!("{GRANT}&assertion=h.p.s&audience=api%3A%2F%2Fx"),
        );
        // A throwaway Ed25519 key for this test only (it guards nothing).
        let key = b"-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJGskD3TojuF8bQAc854D5AWqmARfRePU+faW+wrF/RM
-----END PRIVATE KEY-----
";
        let Ok(signer) = jwtgrant_signer::Signer::from_pem(key) else {
            panic!("the test key")
        };
        check(
            ClientAuth::PrivateKeyJwt {
                client_id: "c1".into(),
                signer,
            },
            None,
            &[],
            &format!(
                "{GRANT}&assertion=h.p.s&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c&client_id=c1"
            ),
        );
    }

    #[test]
    fn prepared_requests_list_every_secret_they_carry() {
        let auth = ClientAuth::SecretBasic {
            client_id: "c".into(),
            secret: Secret::new("p w"),
        };
        let p = prepare(Grant::JwtBearer("h.p.s"), None, &auth, None, &[]);
        assert_eq!(p.authorization.as_deref(), Some("Basic YzpwK3c="));
        assert_eq!(*p.echoed(), ["h.p.s", "p w", "p+w", "YzpwK3c="]);
        let password = Secret::new("a&b");
        let login = prepare(
            Grant::Password {
                username: "admin",
                password: &password,
            },
            None,
            &ClientAuth::None {
                client_id: "admin-cli".into(),
            },
            None,
            &[],
        );
        assert_eq!(
            login.body,
            "grant_type=password&username=admin&password=a%26b&client_id=admin-cli"
        );
        assert_eq!(*login.echoed(), ["a&b", "a%26b"]);
        let service = prepare(
            Grant::ClientCredentials,
            None,
            &ClientAuth::SecretPost {
                client_id: "svc".into(),
                secret: Secret::new("s"),
            },
            None,
            &[],
        );
        assert_eq!(
            service.body,
            "grant_type=client_credentials&client_id=svc&client_secret=s"
        );
        assert_eq!(*service.echoed(), ["s"]);
        assert!(!format!("{auth:?}").contains("p w"));
    }

    #[test]
    fn basic_header_form_encodes_before_base64() {
        // "client:1" / "p@ss w:rd" -> "client%3A1:p%40ss+w%3Ard"
        let header = basic_auth_header("client:1", &Secret::new("p@ss w:rd"));
        let expected = format!(
            "Basic {}",
            Base64::encode_string(b"client%3A1:p%40ss+w%3Ard")
        );
        assert_eq!(header, expected);
        assert_eq!(
            basic_auth_header("custom-client", &Secret::new("secret")),
            "Basic Y3VzdG9tLWNsaWVudDpzZWNyZXQ="
        );
    }

    #[test]
    fn client_assertion_claims() {
        let payload = client_assertion_payload(
            "custom-client",
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
    fn a_client_assertion_file_is_checked_before_it_is_sent() {
        use crate::error::AssertionFileProblem as P;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let jwt = |claims: &str| {
            format!(
                "eyJhbGciOiJFUzI1NiJ9.{}.c2ln",
                base64ct::Base64UrlUnpadded::encode_string(claims.as_bytes())
            )
        };
        let check = |name: &str, text: Option<&str>, expected: Result<&str, P>| {
            let path = dir.path().join(name);
            if let Some(text) = text {
                std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
            }
            let got = read_assertion_file(&path, now);
            match (got, expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{name}"),
                (Err(crate::ExchangeError::ClientAssertionFile { problem, .. }), Err(want)) => {
                    assert_eq!(problem, want, "{name}")
                }
                (got, want) => panic!("{name}: {got:?}, expected {want:?}"),
            }
        };
        let fresh = jwt(r#"{"iss":"https://k8s","exp":1700000600}"#);
        check("fresh", Some(&format!("{fresh}\n")), Ok(&fresh));
        let no_exp = jwt(r#"{"iss":"https://k8s"}"#);
        check("no-exp", Some(&no_exp), Ok(&no_exp));
        check("missing", None, Err(P::Unreadable));
        check("empty", Some(" \n"), Err(P::Empty));
        check("text", Some("not a token"), Err(P::NotJwt));
        check(
            "expired",
            Some(&jwt(r#"{"exp":1699999940}"#)),
            Err(P::Expired {
                exp: 1_699_999_940,
                now: 1_700_000_000,
            }),
        );
        let Err(err) = read_assertion_file(&dir.path().join("expired"), now) else {
            panic!("expired")
        };
        assert_eq!(
            err.to_string(),
            format!(
                "client assertion file '{}' holds an expired token (exp 1699999940, 60 s ago)",
                dir.path().join("expired").display()
            )
        );
    }

    #[test]
    fn a_client_assertion_from_another_issuer_goes_in_the_form_like_private_key_jwt() {
        let source = AssertionSource::file("/run/secrets/token");
        let auth = ClientAuth::ClientAssertion {
            client_id: "billing".into(),
            source,
        };
        assert_eq!(auth.method(), "client_assertion");
        assert_eq!(auth.client_id(), Some("billing"));
        let p = prepare(Grant::ClientCredentials, None, &auth, Some("x.y.z"), &[]);
        assert_eq!(
            p.body,
            "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=x.y.z&client_id=billing"
        );
        assert_eq!(*p.echoed(), ["x.y.z"]);
        assert_eq!(
            format!("{auth:?}"),
            r#"ClientAuth { method: "client_assertion", client_id: Some("billing"), .. }"#
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
