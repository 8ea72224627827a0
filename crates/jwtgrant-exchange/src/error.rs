//! The one error type of this crate. It knows RFC 6749's error codes, not any server's
//! wording: what Keycloak's answers mean is `jwtgrant-keycloak`'s table.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A boxed error, as returned by the closures that make assertions.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The underlying cause of an [`ExchangeError`], shared so the error stays `Clone`
/// (a [`crate::TokenSource`] hands one failed refresh to every thread that waited for it).
pub type Source = Arc<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong between building an [`crate::Exchange`] and holding a token.
///
/// Match on the variant for details, on [`ExchangeError::kind`] for a coarse class,
/// and ask [`ExchangeError::hint`] for the likely fix. `Display` never contains a client secret,
/// an assertion or a token; `{:#}` appends the hint. Underlying I/O, TLS and parse errors are
/// chained through [`std::error::Error::source`] and not repeated in `Display`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The token endpoint answered with an RFC 6749 error (`invalid_grant`, `invalid_client`, ...).
    Rejected(Rejection),

    /// Nothing accepted the TCP connection (wrong port, server down).
    #[non_exhaustive]
    ConnectionRefused {
        /// The URL being requested.
        url: String,
        /// The transport error.
        source: Source,
    },

    /// The host name did not resolve.
    #[non_exhaustive]
    HostNotFound {
        /// The URL being requested.
        url: String,
    },

    /// The TLS handshake failed (unknown CA, name mismatch, protocol error).
    #[non_exhaustive]
    Tls {
        /// The URL being requested.
        url: String,
        /// The TLS error.
        source: Source,
    },

    /// The server refused the client certificate in the TLS handshake (or asked for one and
    /// got none): mutual TLS failed before any HTTP.
    #[non_exhaustive]
    ClientCertificateRefused {
        /// The URL being requested.
        url: String,
        /// Whether a client certificate was presented.
        presented: bool,
        /// The TLS error.
        source: Source,
    },

    /// No complete answer within the configured timeout.
    #[non_exhaustive]
    Timeout {
        /// The URL being requested.
        url: String,
        /// The limit that was hit (the connect timeout or the overall one).
        limit: Duration,
        /// True when the connection itself (DNS, TCP, TLS, proxy) was not set up in time.
        connecting: bool,
        /// The transport error.
        source: Source,
    },

    /// Another transport failure: connection reset, broken pipe, a proxy refusing the tunnel.
    #[non_exhaustive]
    Connection {
        /// The URL being requested.
        url: String,
        /// True when the connection was TLS with a client certificate: a server refusing
        /// that certificate in TLS 1.3 often shows only as a connection broken under the
        /// request (the client's side of the handshake was already done).
        client_certificate: bool,
        /// The transport error.
        source: Source,
    },

    /// The endpoint answered with a redirect; it is not followed, so credentials are never
    /// resent to another place.
    #[non_exhaustive]
    Redirected {
        /// The URL being requested.
        url: String,
        /// The HTTP status (3xx).
        status: u16,
        /// The `Location` header, if any (sanitized, cut).
        location: Option<String>,
    },

    /// An HTTP error status without an RFC 6749 error body: an HTML 502 page from a proxy,
    /// a 503, a 429, a 404 for a wrong path.
    #[non_exhaustive]
    UnexpectedStatus {
        /// The URL being requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The wait the server's `Retry-After` asks for, if it sent one: delta-seconds, or an
        /// HTTP-date counted from when the request was sent.
        retry_after: Option<Duration>,
        /// The start of the body, whitespace collapsed, cut at 200 characters.
        snippet: String,
    },

    /// A success status with a body that is not JSON.
    #[non_exhaustive]
    NotJson {
        /// The URL being requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body, whitespace collapsed, cut at 200 characters (withheld when
        /// it might carry a token).
        snippet: String,
    },

    /// A success status with JSON that has no `access_token` string.
    #[non_exhaustive]
    MissingAccessToken {
        /// The URL being requested.
        url: String,
        /// The HTTP status.
        status: u16,
    },

    /// A success status with JSON that is not a usable token response (wrong types).
    #[non_exhaustive]
    InvalidResponse {
        /// The URL being requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What is wrong, naming the field (never its value).
        reason: String,
    },

    /// The response body exceeded the configured size limit.
    #[non_exhaustive]
    BodyTooLarge {
        /// The URL being requested.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },

    /// The OpenID Connect discovery document was unusable.
    #[non_exhaustive]
    Discovery {
        /// The discovery document's URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A URL could not be parsed or is not an `http(s)` URL.
    #[non_exhaustive]
    InvalidUrl {
        /// The offending URL (credentials removed).
        url: String,
        /// Why it was refused.
        reason: String,
    },

    /// Plain `http://` to a host that is not loopback, without `allow_insecure_http(true)`.
    #[non_exhaustive]
    InsecureHttp {
        /// The offending URL.
        url: String,
    },

    /// The PEM CA bundle held no certificate or did not parse.
    #[non_exhaustive]
    CaBundle {
        /// Why it was refused.
        reason: String,
    },

    /// An extra form parameter would override one the client sets itself.
    #[non_exhaustive]
    ReservedParameter {
        /// The parameter name.
        name: String,
    },

    /// The caller's closure failed to make the assertion.
    #[non_exhaustive]
    Assertion {
        /// What the closure returned.
        source: Source,
    },

    /// Signing the client assertion failed (`private_key_jwt`, or a signed
    /// [`crate::AssertionSource`]).
    #[non_exhaustive]
    ClientAssertion {
        /// The signer's error.
        source: Source,
    },

    /// The client assertion file of an [`crate::AssertionSource::File`] cannot be used.
    #[non_exhaustive]
    ClientAssertionFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        problem: AssertionFileProblem,
        /// The I/O or decoding error, if any.
        source: Option<Source>,
    },

    /// The client certificate or its key cannot be used, or `tls_client_auth` was chosen
    /// without one.
    #[non_exhaustive]
    ClientCertificate {
        /// What is wrong.
        reason: String,
    },

    /// The server issued a token bound (RFC 8705 `cnf.x5t#S256`) to a certificate other than
    /// the one this client presented: nobody holding our key can use it.
    #[non_exhaustive]
    CertificateBinding {
        /// The token endpoint.
        url: String,
        /// The thumbprint of the certificate we presented, if any.
        presented: Option<String>,
        /// The thumbprint the token is bound to.
        bound_to: String,
    },

    /// Signing a DPoP proof failed (RFC 9449).
    #[non_exhaustive]
    DpopProof {
        /// The signer's error.
        source: Source,
    },

    /// The server issued a token bound (RFC 9449 `cnf.jkt`) to a DPoP key other than the one
    /// this client proves, or bound one when this client sent no proof: nobody holding our
    /// key can use it.
    #[non_exhaustive]
    DpopBinding {
        /// The token endpoint.
        url: String,
        /// The thumbprint of our DPoP key, if DPoP is on.
        presented: Option<String>,
        /// The thumbprint the token is bound to.
        bound_to: String,
    },

    /// The token cache's directory cannot be used (see [`crate::cache`]): it cannot be
    /// created or read, is not a directory, is owned by another user, or is open to group
    /// or others.
    #[non_exhaustive]
    Cache {
        /// The directory or file.
        path: std::path::PathBuf,
        /// What is wrong, with the likely fix.
        reason: String,
        /// The I/O error, if one was the cause.
        source: Option<Source>,
    },
}

/// A coarse classification of [`ExchangeError`], for a caller's own outcome classes (a
/// binary's exit codes, metrics labels, retry or alerting decisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server understood the request and said no (`invalid_grant`, `invalid_client`, ...).
    Rejected,
    /// The server could not be reached: refused, DNS, TLS, timeout, reset.
    Unreachable,
    /// The server answered something other than a token or an OAuth error.
    BadResponse,
    /// The configuration is wrong before anything is sent (URL, CA bundle, parameters, key).
    Config,
    /// The caller's assertion maker failed.
    Assertion,
}

impl ExchangeError {
    /// The coarse class of this error.
    pub fn kind(&self) -> ErrorKind {
        use ExchangeError as E;
        match self {
            E::Rejected(_) => ErrorKind::Rejected,
            E::ConnectionRefused { .. }
            | E::HostNotFound { .. }
            | E::Tls { .. }
            | E::ClientCertificateRefused { .. }
            | E::Timeout { .. }
            | E::Connection { .. } => ErrorKind::Unreachable,
            E::Redirected { .. }
            | E::UnexpectedStatus { .. }
            | E::NotJson { .. }
            | E::MissingAccessToken { .. }
            | E::InvalidResponse { .. }
            | E::BodyTooLarge { .. }
            | E::Discovery { .. }
            | E::CertificateBinding { .. }
            | E::DpopBinding { .. } => ErrorKind::BadResponse,
            E::InvalidUrl { .. }
            | E::InsecureHttp { .. }
            | E::CaBundle { .. }
            | E::ReservedParameter { .. }
            | E::ClientAssertion { .. }
            | E::ClientAssertionFile { .. }
            | E::ClientCertificate { .. }
            | E::DpopProof { .. }
            | E::Cache { .. } => ErrorKind::Config,
            E::Assertion { .. } => ErrorKind::Assertion,
        }
    }

    /// True when trying again later may succeed: connection refused or reset, timeouts,
    /// HTTP 429, 502, 503 and 504. Rejections are never transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::ConnectionRefused { .. } | Self::Timeout { .. } | Self::Connection { .. } => true,
            Self::UnexpectedStatus { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// The server's `Retry-After`, when it sent one with a 429 or 503.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::UnexpectedStatus { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The rejection, when the server said no.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Rejected(r) => Some(r),
            _ => None,
        }
    }

    /// The likely cause and fix, in one line, when we know one.
    pub fn hint(&self) -> Option<&'static str> {
        use ExchangeError as E;
        match self {
            E::Rejected(r) => r.hint(),
            E::ConnectionRefused { .. } => Some(
                "nothing listens at that host and port: check the URL and that the server is running",
            ),
            E::HostNotFound { .. } => {
                Some("check the host name in the URL, DNS, and the proxy settings")
            }
            E::Tls { .. } => Some(
                "if the server's certificate comes from an internal CA, add that CA as a PEM bundle; check the host name matches the certificate",
            ),
            E::ClientCertificateRefused {
                presented: true, ..
            } => Some(
                "the server does not trust the client certificate: use one issued by a CA in the server's truststore",
            ),
            E::ClientCertificateRefused {
                presented: false, ..
            } => Some("the server requires a client certificate: present one (mutual TLS)"),
            E::Timeout { .. } => Some(
                "check that the host is reachable from here (firewall, HTTPS_PROXY/NO_PROXY), or raise the timeout",
            ),
            E::Connection {
                client_certificate: true,
                ..
            } => Some(
                "the connection broke right under the request: the server may have refused the client certificate (TLS 1.3 reports that only after the request is sent), so check that a CA in its truststore issued it; else check proxies and load balancers in between",
            ),
            E::Connection { .. } => {
                Some("the connection broke: check proxies and load balancers in between")
            }
            E::Redirected { .. } => Some(
                "use the URL the redirect points to (often https instead of http) as the token endpoint",
            ),
            E::UnexpectedStatus { status, .. } => match status {
                404 => Some(
                    "check the URL: nothing answers at that path (a wrong realm or a missing path prefix are the usual causes)",
                ),
                405 => Some("the URL is not a token endpoint (it does not accept POST)"),
                429 => Some("the server is rate limiting: slow down or retry later"),
                502..=504 => Some(
                    "the server or a proxy in front of it is unavailable: retry later, check the proxy",
                ),
                _ => None,
            },
            E::NotJson { .. } => {
                Some("the URL probably points at a web page rather than the token endpoint")
            }
            E::MissingAccessToken { .. } | E::InvalidResponse { .. } => {
                Some("the URL probably points at something other than an OAuth token endpoint")
            }
            E::BodyTooLarge { .. } => {
                Some("the URL probably points at something other than the token endpoint")
            }
            E::Discovery { .. } => Some(
                "pass the issuer URL (the one whose /.well-known/openid-configuration is served), or the token endpoint directly",
            ),
            E::InvalidUrl { .. } => Some("give an absolute http(s) URL"),
            E::InsecureHttp { .. } => Some(
                "use https; plain http is allowed only to loopback hosts or with allow_insecure_http(true)",
            ),
            E::CaBundle { .. } => {
                Some("give a PEM file with one or more '-----BEGIN CERTIFICATE-----' blocks")
            }
            E::ReservedParameter { .. } => Some(
                "set scope with scope(), and the client with the client authentication methods",
            ),
            E::Assertion { .. } => None,
            E::ClientAssertion { .. } => Some("check the client's private key and algorithm"),
            E::ClientAssertionFile {
                problem: AssertionFileProblem::NotJwt,
                ..
            } => Some(
                "the file must hold one compact JWS (header.payload.signature) and nothing else",
            ),
            E::ClientAssertionFile { .. } => Some(
                "the system that writes this token (kubelet, SPIFFE agent, ...) has not written or refreshed it: check that it runs and the path is the one it writes",
            ),
            E::ClientCertificate { .. } => Some(
                "give the client certificate chain and its private key as PEM, the key matching the first certificate",
            ),
            E::CertificateBinding {
                presented: None, ..
            } => Some(
                "the token is bound to a client certificate: present that certificate (mutual TLS) when requesting and using tokens",
            ),
            E::CertificateBinding { .. } => Some(
                "the server bound the token to another certificate: check that a TLS-terminating proxy in front of it forwards this client's certificate",
            ),
            E::DpopProof { .. } => Some("check the DPoP private key and its algorithm"),
            // The reason names the fix already (chmod, another directory).
            E::Cache { .. } => None,
            E::DpopBinding {
                presented: None, ..
            } => Some(
                "the token is bound to a DPoP key: turn DPoP on with the key the token is bound to",
            ),
            E::DpopBinding { .. } => Some(
                "the server bound the token to another key than the one in the DPoP proof: check that nothing in between rewrites the DPoP header",
            ),
        }
    }
}

/// A limit as people read it: a budget cut to the time left (999.77 ms) shows as the whole
/// it came from (1 s); tenths of a second from 0.95 s up, milliseconds below.
fn shown(limit: Duration) -> Duration {
    let ms = limit.as_millis();
    let rounded = if ms >= 950 {
        (ms + 50) / 100 * 100
    } else {
        ms.max(1)
    };
    Duration::from_millis(u64::try_from(rounded).unwrap_or(u64::MAX))
}

/// Reason phrase for common statuses, for messages only.
fn reason_phrase(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

fn write_status(f: &mut fmt::Formatter<'_>, status: u16) -> fmt::Result {
    let reason = reason_phrase(status);
    if reason.is_empty() {
        write!(f, "HTTP {status}")
    } else {
        write!(f, "HTTP {status} {reason}")
    }
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ExchangeError as E;
        match self {
            E::Rejected(r) => write!(f, "{r}")?,
            E::ConnectionRefused { url, .. } => {
                write!(f, "cannot connect to {url}: connection refused")?
            }
            E::HostNotFound { url } => write!(f, "cannot resolve the host of {url}")?,
            E::Tls { url, .. } => write!(f, "TLS with {url} failed")?,
            E::ClientCertificateRefused {
                url,
                presented: true,
                ..
            } => write!(
                f,
                "{url} refused the client certificate in the TLS handshake"
            )?,
            E::ClientCertificateRefused {
                url,
                presented: false,
                ..
            } => write!(
                f,
                "{url} requires a client certificate in the TLS handshake, and none was presented"
            )?,
            E::Timeout {
                url,
                limit,
                connecting: true,
                ..
            } => write!(f, "timed out after {:?} connecting to {url}", shown(*limit))?,
            E::Timeout { url, limit, .. } => write!(
                f,
                "timed out after {:?} waiting for {url} to answer",
                shown(*limit)
            )?,
            E::Connection { url, .. } => write!(f, "connection to {url} failed")?,
            E::Redirected {
                url,
                status,
                location,
            } => {
                write!(f, "{url} answered ")?;
                write_status(f, *status)?;
                match location {
                    Some(loc) => write!(f, " redirecting to '{loc}' (redirects are not followed)")?,
                    None => write!(f, " (a redirect without Location; not followed)")?,
                }
            }
            E::UnexpectedStatus {
                url,
                status,
                snippet,
                ..
            } => {
                write!(f, "{url} answered ")?;
                write_status(f, *status)?;
                if snippet.is_empty() {
                    write!(f, " with an empty body")?
                } else {
                    write!(f, ": {snippet}")?
                }
            }
            E::NotJson {
                url,
                status,
                snippet,
            } => {
                write!(f, "{url} answered ")?;
                write_status(f, *status)?;
                if snippet.is_empty() {
                    write!(f, " with an empty body instead of JSON")?
                } else {
                    write!(f, " with a body that is not JSON: {snippet}")?
                }
            }
            E::MissingAccessToken { url, status } => {
                write!(f, "{url} answered ")?;
                write_status(f, *status)?;
                write!(f, " with JSON that has no access_token")?
            }
            E::InvalidResponse {
                url,
                status,
                reason,
            } => {
                write!(f, "{url} answered ")?;
                write_status(f, *status)?;
                write!(f, " with an unusable token response: {reason}")?
            }
            E::BodyTooLarge { url, limit } => write!(
                f,
                "{url} sent a response body larger than the limit of {limit} bytes"
            )?,
            E::Discovery { url, reason } => {
                write!(f, "OpenID discovery at {url} failed: {reason}")?
            }
            E::InvalidUrl { url, reason } => write!(f, "invalid URL '{url}': {reason}")?,
            E::InsecureHttp { url } => write!(
                f,
                "refusing plain http to '{url}': the host is not loopback and the client credentials would travel in clear text"
            )?,
            E::CaBundle { reason } => write!(f, "cannot use the CA bundle: {reason}")?,
            E::ClientCertificate { reason } => {
                write!(f, "cannot use the client certificate: {reason}")?
            }
            E::CertificateBinding {
                url,
                presented: Some(ours),
                bound_to,
            } => write!(
                f,
                "{url} issued a token bound to certificate {bound_to}, not to ours ({ours})"
            )?,
            E::CertificateBinding {
                url,
                presented: None,
                bound_to,
            } => write!(
                f,
                "{url} issued a token bound to certificate {bound_to}, but this client presented none"
            )?,
            E::DpopProof { .. } => write!(f, "cannot sign the DPoP proof")?,
            E::DpopBinding {
                url,
                presented: Some(ours),
                bound_to,
            } => write!(
                f,
                "{url} issued a token bound to DPoP key {bound_to}, not to ours ({ours})"
            )?,
            E::DpopBinding {
                url,
                presented: None,
                bound_to,
            } => write!(
                f,
                "{url} issued a token bound to DPoP key {bound_to}, but this client sent no DPoP proof"
            )?,
            E::ReservedParameter { name } => write!(
                f,
                "extra form parameter '{name}' is set by the client itself and cannot be overridden"
            )?,
            E::Assertion { .. } => write!(f, "cannot make the assertion")?,
            E::Cache { path, reason, .. } => {
                write!(f, "token cache '{}': {reason}", path.display())?
            }
            E::ClientAssertion { .. } => write!(f, "cannot sign the client assertion")?,
            E::ClientAssertionFile { path, problem, .. } => {
                write!(f, "client assertion file '{}' ", path.display())?;
                match problem {
                    AssertionFileProblem::Unreadable => write!(f, "cannot be read")?,
                    AssertionFileProblem::Empty => write!(f, "is empty")?,
                    AssertionFileProblem::NotJwt => write!(f, "does not hold a JWT")?,
                    AssertionFileProblem::Expired { exp, now } => write!(
                        f,
                        "holds an expired token (exp {exp}, {} s ago)",
                        now.saturating_sub(*exp)
                    )?,
                }
            }
        }
        if f.alternate()
            && let Some(hint) = self.hint()
        {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl StdError for ExchangeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        use ExchangeError as E;
        match self {
            E::ConnectionRefused { source, .. }
            | E::Tls { source, .. }
            | E::ClientCertificateRefused { source, .. }
            | E::Timeout { source, .. }
            | E::Connection { source, .. }
            | E::Assertion { source }
            | E::ClientAssertion { source }
            | E::DpopProof { source } => Some(&**source),
            E::Cache {
                source: Some(source),
                ..
            }
            | E::ClientAssertionFile {
                source: Some(source),
                ..
            } => Some(&**source),
            _ => None,
        }
    }
}

/// What is wrong with a client assertion file ([`ExchangeError::ClientAssertionFile`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssertionFileProblem {
    /// It cannot be read (missing, no permission, not UTF-8).
    Unreadable,
    /// It holds nothing but whitespace.
    Empty,
    /// It does not hold a compact JWS with a JSON header and payload.
    NotJwt,
    /// Its `exp` has passed.
    Expired {
        /// The token's `exp` (seconds since the epoch).
        exp: u64,
        /// The time it was read (seconds since the epoch).
        now: u64,
    },
}

/// The server's "no": an RFC 6749 section 5.2 error response.
///
/// `error_description` and `error_uri` are the server's own words (control characters
/// replaced, cut at 500 characters). [`Rejection::hint`] adds our one-line diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The HTTP status (usually 400; 401 for `invalid_client`).
    pub status: u16,
    /// The RFC 6749 error code, e.g. `invalid_grant`.
    pub error: String,
    /// The server's human-readable explanation, e.g. Keycloak's `User not found`.
    pub error_description: Option<String>,
    /// A link the server offers for more information.
    pub error_uri: Option<String>,
}

impl Rejection {
    /// Builds a rejection (for tests and for callers that replay stored responses).
    pub fn new(
        status: u16,
        error: impl Into<String>,
        error_description: Option<String>,
        error_uri: Option<String>,
    ) -> Self {
        Self {
            status,
            error: error.into(),
            error_description,
            error_uri,
        }
    }

    /// The likely cause and fix of this rejection, in one line, by its RFC 6749 `error`
    /// code alone.
    ///
    /// This client knows no server's wording; `jwtgrant-keycloak` reads Keycloak's
    /// `error_description` table and gives the precise hint.
    pub fn hint(&self) -> Option<&'static str> {
        for_error_code(&self.error)
    }
}

/// The hint for an RFC 6749 section 5.2 `error` code, in any server's terms.
fn for_error_code(error: &str) -> Option<&'static str> {
    let hint = match error {
        "invalid_client" => "check the client id and its credentials (secret, key or certificate)",
        "unsupported_grant_type" => {
            "the server does not accept the jwt-bearer grant (RFC 7523): enable it on the server"
        }
        "invalid_scope" => "request only scopes the client may ask for",
        "invalid_request" => {
            "a form parameter is missing, malformed or sent twice: check the extra parameters"
        }
        "unauthorized_client" => "the client may not use this grant: allow it on the server",
        _ => return None,
    };
    Some(hint)
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A failed client authentication is about the client, not the assertion: say so, so
        // nobody goes looking at the identity provider for a wrong secret.
        // A 404 is about the URL (a realm or a path the server does not have), not the
        // grant: say so, so nobody goes looking at the assertion.
        if self.status == 404 {
            write!(f, "token endpoint URL not found (HTTP 404): {}", self.error)?;
        } else {
            let what = match self.error.as_str() {
                "invalid_client" | "unauthorized_client" => "client",
                _ => "grant",
            };
            write!(f, "token endpoint rejected the {what}: {}", self.error)?;
        }
        if let Some(desc) = &self.error_description {
            write!(f, ": {desc}")?;
        }
        if f.alternate()
            && let Some(hint) = self.hint()
        {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Compile-time check that the error can cross threads (and be shared by a `TokenSource`).
const _: () = {
    const fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<ExchangeError>();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(error: &str, desc: Option<&str>) -> ExchangeError {
        ExchangeError::Rejected(Rejection::new(400, error, desc.map(String::from), None))
    }

    #[test]
    fn error_codes_have_hints() {
        for code in [
            "invalid_client",
            "unsupported_grant_type",
            "invalid_scope",
            "invalid_request",
            "unauthorized_client",
        ] {
            assert!(
                rejected(code, Some("something new")).hint().is_some(),
                "{code}"
            );
        }
        assert_eq!(
            rejected("invalid_grant", Some("something new")).hint(),
            None
        );
    }

    #[test]
    fn rejection_display_and_alternate() {
        let err = rejected("invalid_grant", Some("User not found"));
        assert_eq!(
            err.to_string(),
            "token endpoint rejected the grant: invalid_grant: User not found"
        );
        // No server's wording here: an invalid_grant has no generic hint, so `{:#}` adds none.
        assert_eq!(format!("{err:#}"), err.to_string());
        assert_eq!(
            rejected("invalid_client", None).to_string(),
            "token endpoint rejected the client: invalid_client"
        );
        assert_eq!(
            format!("{:#}", rejected("invalid_client", None)),
            "token endpoint rejected the client: invalid_client (hint: check the client id and its credentials (secret, key or certificate))"
        );
        assert_eq!(err.kind(), ErrorKind::Rejected);
        assert!(!err.is_transient());
    }

    #[test]
    fn transient_classification() {
        let status = |status| ExchangeError::UnexpectedStatus {
            url: "https://kc/token".into(),
            status,
            retry_after: None,
            snippet: String::new(),
        };
        for s in [429, 502, 503, 504] {
            assert!(status(s).is_transient(), "{s}");
        }
        for s in [400, 401, 404, 500] {
            assert!(!status(s).is_transient(), "{s}");
        }
        assert_eq!(
            status(503).to_string(),
            "https://kc/token answered HTTP 503 Service Unavailable with an empty body"
        );
    }
}
