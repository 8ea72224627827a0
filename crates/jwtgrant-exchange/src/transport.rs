//! [`Transport`]: the one HTTP policy every request of this crate goes through.
//!
//! The token exchange, OpenID discovery, the doctor's JWKS fetch and the Keycloak admin API
//! all send through [`Transport::send`]; nothing else in the crate holds a `ureq` agent, so a
//! new HTTP call cannot skip a rule below.

use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ureq::Agent;
use ureq::http::{self, HeaderMap};
use ureq::tls::{Certificate, ClientCert, PemItem, RootCerts, TlsConfig};
use url::Url;

use crate::endpoint;
use crate::error::{ExchangeError, Source};
use crate::x509::PresentedCertificate;

/// The default overall timeout of one HTTP request, and of connecting.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest timeout the transport takes (one hour): a longer one is treated as this, so
/// that no deadline computed from it can overflow.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// The default limit on a response body.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;

/// How every request reaches the server: TLS roots, timeouts, body cap, proxy and
/// plain-http rules. Build it once and hand clones to an [`crate::Exchange`] and to other
/// clients of the same server (an admin API client); clones share the connection pools.
///
/// The policy, for every request:
/// - plain `http://` is refused before a byte is sent unless the host is loopback
///   (`localhost` when it resolves to loopback only, 127.0.0.0/8, `::1`) or [`Transport::allow_insecure_http`] is set: client
///   credentials, admin passwords and assertions would travel in clear text;
/// - loopback hosts are always reached directly, never through a proxy (a proxy is another
///   machine); other hosts use the proxy from `ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY` (and
///   lowercase forms) honouring `NO_PROXY`, unless [`Transport::proxy_from_env`]`(false)`.
///   That proxy configuration is the only environment this crate reads;
/// - redirects are never followed (a redirect would carry the form to another URL);
/// - HTTP error statuses are returned, not raised, so OAuth error bodies survive;
/// - connect and overall timeouts (default 10 s each) and a response body cap (1 MiB);
/// - rustls with the webpki roots, plus a PEM CA bundle ([`Transport::ca_bundle_pem`]) and,
///   with the `native-roots` feature, the operating system's roots;
/// - URLs with `user:password@` are refused when parsed, and errors never show credentials.
#[derive(Clone, Default)]
pub struct Transport {
    settings: Settings,
    /// Built on first use from `settings`; reset by every builder method that changes them.
    agents: Arc<Agents>,
}

#[derive(Clone)]
struct Settings {
    timeout: Duration,
    connect_timeout: Duration,
    max_body: u64,
    webpki_roots: bool,
    extra_roots: Vec<Certificate<'static>>,
    proxy_from_env: bool,
    /// A fixed proxy instead of the environment's, so tests need not touch the environment.
    fixed_proxy: Option<ureq::Proxy>,
    allow_insecure_http: bool,
    /// The client certificate chain and key for mutual TLS, with the leaf's `x5t#S256` and
    /// names.
    client_cert: Option<(ClientCert, String, PresentedCertificate)>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            webpki_roots: true,
            extra_roots: Vec::new(),
            proxy_from_env: true,
            fixed_proxy: None,
            allow_insecure_http: false,
            client_cert: None,
        }
    }
}

/// The two agents a transport may need, each built on first use: one that uses the proxy
/// (if any) for remote hosts, and one that connects directly, for loopback hosts.
#[derive(Default)]
struct Agents {
    proxied: OnceLock<Agent>,
    direct: OnceLock<Agent>,
}

/// The HTTP methods a [`Transport`] sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
}

/// A request body with its content type.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Body<'a> {
    /// `application/x-www-form-urlencoded`, already encoded.
    Form(&'a str),
    /// `application/json`, already serialized.
    Json(&'a str),
}

/// An answer of any status: the status, the headers and the body (read up to the cap).
#[non_exhaustive]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    pub(crate) headers: HeaderMap,
    /// The body, at most the transport's cap.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may hold a token: its length only.
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Reply {
    /// A header's value, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Transport {
    /// The default policy (see [`Transport`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The overall timeout of one HTTP request, connecting and reading the body included
    /// (default 10 s).
    /// At most [`MAX_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout.min(MAX_TIMEOUT);
        self.reset()
    }

    /// The timeout for setting up the connection: DNS, TCP, proxy, TLS (default 10 s; at
    /// most [`MAX_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout.min(MAX_TIMEOUT);
        self.reset()
    }

    /// The largest response body accepted, in bytes (default 1 MiB).
    pub fn max_response_size(mut self, bytes: u64) -> Self {
        self.settings.max_body = bytes;
        self.reset()
    }

    /// Trusts the certificates of a PEM bundle in addition to the built-in roots (a server
    /// behind an internal CA). Fails when the PEM holds no certificate or a certificate block
    /// does not decode.
    pub fn ca_bundle_pem(mut self, pem: &[u8]) -> Result<Self, ExchangeError> {
        self.settings.extra_roots.extend(parse_ca_bundle(pem)?);
        Ok(self.reset())
    }

    /// Whether to trust the built-in webpki (Mozilla) roots (default true). Turn off to trust
    /// only a CA bundle and, with `native-roots`, the operating system's roots. The public
    /// roots are one store (`webpki-root-certs`) whether or not a bundle is added.
    pub fn webpki_roots(mut self, on: bool) -> Self {
        self.settings.webpki_roots = on;
        self.reset()
    }

    /// Also trusts the operating system's root certificates (loaded now). Certificates the
    /// OS store holds but that do not load are skipped with a `log` warning.
    #[cfg(feature = "native-roots")]
    pub fn native_roots(mut self) -> Self {
        let loaded = rustls_native_certs::load_native_certs();
        if !loaded.errors.is_empty() {
            log::warn!(
                "{} error(s) loading the operating system's root certificates; loaded {}",
                loaded.errors.len(),
                loaded.certs.len()
            );
        }
        self.settings.extra_roots.extend(
            loaded
                .certs
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
        );
        self.reset()
    }

    /// Allows plain `http://` to hosts that are not loopback (default false). Credentials
    /// and assertions then cross the network in clear text.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.settings.allow_insecure_http = allow;
        self
    }

    /// Whether to use a proxy from the environment for hosts that are not loopback (default
    /// true); read when the first request is made.
    pub fn proxy_from_env(mut self, on: bool) -> Self {
        self.settings.proxy_from_env = on;
        self.reset()
    }

    /// Sends every request to a host that is not loopback through `proxy` (an
    /// `http://host:port` URL), instead of the environment's proxy. Loopback hosts are still
    /// reached directly.
    pub fn proxy(mut self, proxy: &str) -> Result<Self, ExchangeError> {
        let fixed = ureq::Proxy::new(proxy).map_err(|e| ExchangeError::InvalidUrl {
            url: crate::endpoint::shown_url(proxy),
            reason: format!("not a usable proxy URL ({e})"),
        })?;
        self.settings.fixed_proxy = Some(fixed);
        Ok(self.reset())
    }

    /// Presents a client certificate in every TLS handshake (mutual TLS: RFC 8705's
    /// `tls_client_auth`, and tokens bound to the certificate). `chain_pem` holds the client
    /// certificate first, then any intermediates; `key_pem` its private key (PKCS#8, PKCS#1
    /// or SEC1). Fails when either does not parse.
    pub fn client_certificate_pem(
        mut self,
        chain_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Self, ExchangeError> {
        let bad = |reason: String| ExchangeError::ClientCertificate { reason };
        let mut chain = Vec::new();
        for item in ureq::tls::parse_pem(chain_pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => chain.push(cert),
                Ok(_) => {}
                Err(e) => return Err(bad(format!("the certificate PEM does not parse ({e})"))),
            }
        }
        let Some(leaf) = chain.first() else {
            return Err(bad(
                "no '-----BEGIN CERTIFICATE-----' block in the certificate file".into(),
            ));
        };
        let thumbprint = jwtgrant_signer::sha256_base64url(leaf.der());
        let names = PresentedCertificate::from_der(leaf.der())
            .map_err(|e| bad(format!("the client certificate does not parse ({e})")))?;
        let mut key = None;
        for item in ureq::tls::parse_pem(key_pem) {
            match item {
                Ok(PemItem::PrivateKey(k)) => {
                    key = Some(k);
                    break;
                }
                Ok(_) => {}
                // Never show the key file's text: only that it did not parse.
                Err(_) => return Err(bad("the private key PEM does not parse".into())),
            }
        }
        let key = key.ok_or_else(|| {
            bad(
                "no private key block ('-----BEGIN PRIVATE KEY-----', RSA or EC) in the key file"
                    .into(),
            )
        })?;
        self.settings.client_cert =
            Some((ClientCert::new_with_certs(&chain, key), thumbprint, names));
        Ok(self.reset())
    }

    /// The RFC 8705 `x5t#S256` thumbprint of the client certificate, when one is set: what a
    /// certificate-bound token's `cnf` must carry.
    pub fn client_certificate_thumbprint(&self) -> Option<&str> {
        self.settings
            .client_cert
            .as_ref()
            .map(|(_, t, _)| t.as_str())
    }

    /// The subject and issuer of the client certificate, when one is set: what a server
    /// matches a `tls_client_auth` client by.
    pub fn client_certificate(&self) -> Option<&PresentedCertificate> {
        self.settings.client_cert.as_ref().map(|(_, _, n)| n)
    }

    /// The overall timeout in force.
    pub fn timeout_limit(&self) -> Duration {
        self.settings.timeout
    }

    /// Checks `url` the way this transport checks every URL it sends to (an absolute http(s)
    /// URL without credentials; plain http only to a loopback host, unless
    /// [`Transport::allow_insecure_http`]), without sending anything. For URLs that another
    /// party fetches on our word, such as the JWKS URL a Keycloak identity provider is told
    /// to trust: the same rule as our own requests.
    pub fn check_url(&self, url: &str) -> Result<Url, ExchangeError> {
        let url = endpoint::parse_url(url)?;
        self.preflight(&url)?;
        Ok(url)
    }

    /// Refuses plain http to a host that is not loopback, unless allowed. Runs before every
    /// request; callers may run it earlier to fail before other work.
    pub(crate) fn preflight(&self, url: &Url) -> Result<(), ExchangeError> {
        endpoint::check_scheme(url, self.settings.allow_insecure_http)
    }

    /// Sends one request under the policy and reads the answer (any status) up to the cap.
    /// `headers` are added as given; a body sets its own content type. For callers that
    /// speak another API of the same server (Keycloak's admin REST API) under the same
    /// policy; token requests go through [`crate::Exchange`].
    pub fn send(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: Option<Body<'_>>,
    ) -> Result<Reply, ExchangeError> {
        self.send_until(method, url, headers, body, None)
    }

    /// [`Transport::send`], finished by `deadline` at the latest: the request's own timeouts
    /// shrink to the time left, and no request starts once it has passed.
    pub(crate) fn send_until(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: Option<Body<'_>>,
        deadline: Option<Instant>,
    ) -> Result<Reply, ExchangeError> {
        self.preflight(url)?;
        let limits = self.limits(deadline);
        if limits.global.is_zero() {
            return Err(ExchangeError::Timeout {
                url: url.as_str().to_owned(),
                limit: Duration::ZERO,
                connecting: true,
                source: std::sync::Arc::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the deadline passed before the request could start",
                )),
            });
        }
        let text = url.as_str();
        let mut builder = http::Request::builder()
            .method(match method {
                Method::Get => http::Method::GET,
                Method::Post => http::Method::POST,
                Method::Put => http::Method::PUT,
                Method::Delete => http::Method::DELETE,
            })
            .uri(text);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        // Borrowed, not copied: a form body holds secrets, and the caller's copy is the one
        // that gets wiped.
        let bytes: &[u8] = match body {
            Some(Body::Form(form)) => {
                builder = builder.header("content-type", "application/x-www-form-urlencoded");
                form.as_bytes()
            }
            Some(Body::Json(json)) => {
                builder = builder.header("content-type", "application/json");
                json.as_bytes()
            }
            None => &[],
        };
        let has_body = matches!(method, Method::Post | Method::Put);
        let request = builder.body(()).map_err(|e| ExchangeError::InvalidUrl {
            url: text.to_owned(),
            reason: e.to_string(),
        })?;
        let agent = self.agent(url);
        let result = if has_body {
            let (parts, ()) = request.into_parts();
            run(agent, http::Request::from_parts(parts, bytes), limits)
        } else {
            run(agent, request, limits)
        };
        let mut resp = result.map_err(|e| transport_error(text, e, &self.settings, limits))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .body_mut()
            .with_config()
            .limit(self.settings.max_body)
            .read_to_vec()
            .map_err(|e| transport_error(text, e, &self.settings, limits))?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn reset(mut self) -> Self {
        self.agents = Arc::default();
        self
    }

    /// The agent for requests to `url`: a direct one for loopback hosts, so plain http that is
    /// allowed because it stays on this machine never reaches a proxy, in clear text.
    fn agent(&self, url: &Url) -> &Agent {
        if endpoint::is_loopback(url) {
            self.agents
                .direct
                .get_or_init(|| build_agent(&self.settings, false))
        } else {
            self.agents
                .proxied
                .get_or_init(|| build_agent(&self.settings, true))
        }
    }

    /// The timeouts of one request: the configured ones, cut to what is left before
    /// `deadline`.
    fn limits(&self, deadline: Option<Instant>) -> Limits {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let cut = |limit: Duration| left.map_or(limit, |left| limit.min(left));
        Limits {
            connect: cut(self.settings.connect_timeout),
            global: cut(self.settings.timeout),
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        f.debug_struct("Transport")
            .field("timeout", &s.timeout)
            .field("connect_timeout", &s.connect_timeout)
            .field("max_response_size", &s.max_body)
            .field("extra_roots", &s.extra_roots.len())
            .field("webpki_roots", &s.webpki_roots)
            .field("proxy_from_env", &s.proxy_from_env)
            .field("fixed_proxy", &s.fixed_proxy.is_some())
            .field("allow_insecure_http", &s.allow_insecure_http)
            .field(
                "client_certificate",
                &s.client_cert.as_ref().map(|(_, t, _)| t.as_str()),
            )
            .finish()
    }
}

/// Runs `request` on `agent` with `limits` as its own timeouts.
fn run<S: ureq::AsSendBody>(
    agent: &Agent,
    request: http::Request<S>,
    limits: Limits,
) -> Result<http::Response<ureq::Body>, ureq::Error> {
    let request = agent
        .configure_request(request)
        .timeout_global(Some(limits.global))
        .timeout_connect(Some(limits.connect))
        .build();
    agent.run(request)
}

/// The timeouts in force for one request.
#[derive(Clone, Copy, Debug)]
struct Limits {
    connect: Duration,
    global: Duration,
}

/// An agent for `settings`; `use_proxy` false means connect directly whatever they say.
fn build_agent(settings: &Settings, use_proxy: bool) -> Agent {
    let roots = RootCerts::from(root_certs(settings));
    let proxy = if !use_proxy {
        None
    } else if let Some(fixed) = &settings.fixed_proxy {
        Some(fixed.clone())
    } else if settings.proxy_from_env {
        ureq::Proxy::try_from_env()
    } else {
        None
    };
    if let Some(proxy) = &proxy {
        log::debug!("using proxy {}:{}", proxy.host(), proxy.port());
    }
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(settings.timeout))
        .timeout_connect(Some(settings.connect_timeout))
        .proxy(proxy)
        .tls_config(
            TlsConfig::builder()
                .root_certs(roots)
                .client_cert(settings.client_cert.as_ref().map(|(c, _, _)| c.clone()))
                .build(),
        )
        .user_agent(concat!("jwtgrant/", env!("CARGO_PKG_VERSION")))
        .build();
    Agent::new_with_config(config)
}

/// The roots a TLS connection trusts: the built-in public roots (one store,
/// `webpki-root-certs`, whether or not a CA bundle is added) unless turned off, then the
/// CA bundle and any operating-system roots.
fn root_certs(settings: &Settings) -> Vec<Certificate<'static>> {
    let mut certs = Vec::new();
    if settings.webpki_roots {
        certs.extend(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref())),
        );
    }
    certs.extend(settings.extra_roots.iter().cloned());
    certs
}

/// Certificates of a PEM bundle; other PEM blocks (keys) are ignored.
fn parse_ca_bundle(pem: &[u8]) -> Result<Vec<Certificate<'static>>, ExchangeError> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => {
                return Err(ExchangeError::CaBundle {
                    reason: format!("the PEM does not parse ({e})"),
                });
            }
        }
    }
    if certs.is_empty() {
        return Err(ExchangeError::CaBundle {
            reason: "no '-----BEGIN CERTIFICATE-----' block found".into(),
        });
    }
    Ok(certs)
}

/// Maps ureq's transport errors onto ours; ureq's error stays the source.
fn transport_error(
    url: &str,
    err: ureq::Error,
    settings: &Settings,
    limits: Limits,
) -> ExchangeError {
    let url = url.to_owned();
    let timeout = |connecting: bool, source: Source| ExchangeError::Timeout {
        url: url.clone(),
        limit: if connecting {
            limits.connect
        } else {
            limits.global
        },
        connecting,
        source,
    };
    match err {
        ureq::Error::Timeout(which) => {
            let connecting = matches!(which, ureq::Timeout::Connect | ureq::Timeout::Resolve);
            timeout(connecting, Arc::new(err))
        }
        ureq::Error::HostNotFound => ExchangeError::HostNotFound { url },
        ureq::Error::ConnectionFailed => ExchangeError::ConnectionRefused {
            url,
            source: Arc::new(err),
        },
        ureq::Error::Io(ref io_err) => match io_err.kind() {
            io::ErrorKind::ConnectionRefused => ExchangeError::ConnectionRefused {
                url,
                source: Arc::new(err),
            },
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => timeout(false, Arc::new(err)),
            // rustls reports handshake and certificate failures through the stream as
            // InvalidData; over https nothing else below HTTP parsing produces that kind.
            io::ErrorKind::InvalidData if url.starts_with("https:") => {
                let alert = io_err
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<rustls::Error>())
                    .and_then(|e| match e {
                        rustls::Error::AlertReceived(alert) => Some(*alert),
                        _ => None,
                    });
                if alert.is_some_and(refuses_client_certificate) {
                    ExchangeError::ClientCertificateRefused {
                        url,
                        presented: settings.client_cert.is_some(),
                        source: Arc::new(err),
                    }
                } else {
                    ExchangeError::Tls {
                        url,
                        source: Arc::new(err),
                    }
                }
            }
            _ => ExchangeError::Connection {
                client_certificate: url.starts_with("https:") && settings.client_cert.is_some(),
                url,
                source: Arc::new(err),
            },
        },
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => ExchangeError::Tls {
            url,
            source: Arc::new(err),
        },
        ureq::Error::BodyExceedsLimit(limit) => ExchangeError::BodyTooLarge { url, limit },
        ureq::Error::BadUri(reason) => ExchangeError::InvalidUrl { url, reason },
        other => ExchangeError::Connection {
            url,
            client_certificate: false,
            source: Arc::new(other),
        },
    }
}

/// The alerts a server sends when it does not accept the client certificate (RFC 8446
/// section 6.2): a server never sends them about its own certificate.
fn refuses_client_certificate(alert: rustls::AlertDescription) -> bool {
    use rustls::AlertDescription as A;
    matches!(
        alert,
        A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::CertificateRequired
    )
}

/// Compile-time check that the transport can be shared across threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Transport>();
};

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://kc/t";

    fn mapped(err: ureq::Error) -> String {
        let settings = Settings::default();
        let limits = Limits {
            connect: settings.connect_timeout,
            global: settings.timeout,
        };
        let e = transport_error(URL, err, &settings, limits);
        format!("{:?} | {e}", e.kind())
    }

    #[test]
    fn the_public_roots_are_one_store_with_or_without_a_ca_bundle() {
        // A throwaway CA (the TLS stub's); the stub itself is not contacted.
        let stub = jwtgrant_test_support::Stub::builder()
            .tls()
            .start(|_, _| jwtgrant_test_support::Reply::status(500));
        let ca = stub.ca_pem();
        let public = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len();
        let der = |s: &Settings| -> Vec<Vec<u8>> {
            root_certs(s).iter().map(|c| c.der().to_vec()).collect()
        };
        let plain = Transport::new();
        let with_ca = Transport::new().ca_bundle_pem(ca.as_bytes()).expect("CA");
        let (a, b) = (der(&plain.settings), der(&with_ca.settings));
        assert_eq!(a.len(), public);
        assert_eq!(b.len(), public + 1);
        // The same public roots, in the same order, plus the bundle's certificate.
        assert_eq!(&b[..public], &a[..]);
        // Only the bundle when the public roots are off.
        let only = with_ca.webpki_roots(false);
        assert_eq!(der(&only.settings), &b[public..]);
    }

    #[test]
    fn transport_errors_map_to_variants() {
        assert_eq!(
            mapped(ureq::Error::Io(io::ErrorKind::ConnectionRefused.into())),
            "Unreachable | cannot connect to https://kc/t: connection refused"
        );
        assert_eq!(
            mapped(ureq::Error::ConnectionFailed),
            "Unreachable | cannot connect to https://kc/t: connection refused"
        );
        assert_eq!(
            mapped(ureq::Error::HostNotFound),
            "Unreachable | cannot resolve the host of https://kc/t"
        );
        assert_eq!(
            mapped(ureq::Error::Timeout(ureq::Timeout::Connect)),
            "Unreachable | timed out after 10s connecting to https://kc/t"
        );
        assert_eq!(
            mapped(ureq::Error::Timeout(ureq::Timeout::Global)),
            "Unreachable | timed out after 10s waiting for https://kc/t to answer"
        );
        assert_eq!(
            mapped(ureq::Error::Tls("bad cert")),
            "Unreachable | TLS with https://kc/t failed"
        );
        assert_eq!(
            mapped(ureq::Error::Io(io::ErrorKind::ConnectionReset.into())),
            "Unreachable | connection to https://kc/t failed"
        );
        let alert = |a| {
            ureq::Error::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::AlertReceived(a),
            ))
        };
        assert_eq!(
            mapped(alert(rustls::AlertDescription::CertificateUnknown)),
            "Unreachable | https://kc/t requires a client certificate in the TLS handshake, and none was presented"
        );
        assert_eq!(
            mapped(alert(rustls::AlertDescription::HandshakeFailure)),
            "Unreachable | TLS with https://kc/t failed"
        );
        assert_eq!(
            mapped(ureq::Error::BodyExceedsLimit(10)),
            "BadResponse | https://kc/t sent a response body larger than the limit of 10 bytes"
        );
    }

    #[test]
    fn ca_bundle_errors() {
        let msg = |pem: &[u8]| {
            parse_ca_bundle(pem)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            msg(b"hello"),
            "cannot use the CA bundle: no '-----BEGIN CERTIFICATE-----' block found"
        );
        assert!(
            msg(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")
                .starts_with("cannot use the CA bundle: the PEM does not parse"),
        );
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused_before_any_io() {
        // A `.invalid` name (RFC 2606) never resolves: were the check skipped, this would
        // fail with HostNotFound instead of InsecureHttp.
        let url = endpoint::parse_url("http://kc.invalid/admin/realms").map_err(|e| e.to_string());
        let Ok(url) = url else { panic!("{url:?}") };
        let t = Transport::new().timeout(Duration::from_millis(1));
        let err = t.send(Method::Get, &url, &[], None).err();
        assert_eq!(
            err.map(|e| e.to_string()),
            Some("refusing plain http to 'http://kc.invalid/admin/realms': the host is not loopback and the client credentials would travel in clear text".to_owned())
        );
    }
}
