//! [`Exchange`]: the configured client and the few lines of IO glue around the pure parts.

use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use ureq::Agent;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use url::Url;

use crate::endpoint::{self, Discovered};
use crate::error::{BoxError, ExchangeError, Source};
use crate::form::{self, AuthForm};
use crate::response::{self, Raw, TokenResponse};
use crate::retry::{self, RetryPolicy};
use crate::secret::ClientSecret;

/// The default overall timeout of one HTTP request, and of connecting.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default limit on a response body.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
/// Lifetime of the `private_key_jwt` client assertion.
const CLIENT_ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// A client for one token endpoint: where it is, how the client authenticates, and how to
/// talk to it. Build it once and call [`Exchange::exchange`] (or the retrying
/// [`Exchange::exchange_with`]) as often as needed, from any thread.
///
/// Transport: one blocking `ureq` agent per `Exchange`, and a second, proxy-free one for
/// loopback hosts (clones share them and their connection pools), HTTP error statuses are read rather than raised (RFC 6749 error bodies survive),
/// redirects are never followed, connect and overall timeouts default to 10 s, response bodies
/// are capped at 1 MiB, TLS is rustls with the webpki roots (plus a PEM CA bundle and, with the
/// `native-roots` feature, the operating system's roots, when asked).
///
/// Environment: the only thing read from the environment is the proxy configuration,
/// `ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY` (and their lowercase forms) and `NO_PROXY`, when
/// the first request is made; turn it off with [`Exchange::proxy_from_env`]`(false)`.
/// Requests to loopback hosts never go through a proxy: a proxy is another machine, and plain
/// http is allowed to loopback only because the traffic stays on this one.
///
/// Plain `http://` is refused unless the host is loopback (`localhost`, 127.0.0.0/8, `::1`)
/// or [`Exchange::allow_insecure_http`] is set: the client credentials and the assertion would
/// travel in clear text.
#[derive(Clone)]
pub struct Exchange {
    endpoint: Url,
    audience: Option<String>,
    auth: ClientAuth,
    scope: Option<String>,
    extra: Vec<(String, String)>,
    http: HttpSettings,
    retry: RetryPolicy,
    /// Built on first use from `http`; reset by every builder method that changes `http`.
    agents: Arc<Agents>,
}

/// The two agents an exchange may need, each built on first use: one that uses the proxy
/// (if any) for remote hosts, and one that connects directly, for loopback hosts.
#[derive(Default)]
struct Agents {
    proxied: OnceLock<Agent>,
    direct: OnceLock<Agent>,
}

#[derive(Clone)]
enum ClientAuth {
    Anonymous,
    None {
        client_id: String,
    },
    SecretPost {
        client_id: String,
        secret: ClientSecret,
    },
    SecretBasic {
        client_id: String,
        secret: ClientSecret,
    },
    PrivateKeyJwt {
        client_id: String,
        signer: jwtgrant_signer::Signer,
    },
}

impl ClientAuth {
    fn method(&self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::None { .. } => "none",
            Self::SecretPost { .. } => "client_secret_post",
            Self::SecretBasic { .. } => "client_secret_basic",
            Self::PrivateKeyJwt { .. } => "private_key_jwt",
        }
    }

    fn client_id(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::None { client_id }
            | Self::SecretPost { client_id, .. }
            | Self::SecretBasic { client_id, .. }
            | Self::PrivateKeyJwt { client_id, .. } => Some(client_id),
        }
    }
}

#[derive(Clone)]
struct HttpSettings {
    timeout: Duration,
    connect_timeout: Duration,
    max_body: u64,
    webpki_roots: bool,
    extra_roots: Vec<Certificate<'static>>,
    proxy_from_env: bool,
    allow_insecure_http: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            webpki_roots: true,
            extra_roots: Vec::new(),
            proxy_from_env: true,
            allow_insecure_http: false,
        }
    }
}

impl Exchange {
    /// A client for the token endpoint at `token_endpoint`.
    ///
    /// Fails when the URL does not parse, is not `http(s)`, or carries credentials. The
    /// plain-http check runs at request time, after [`Exchange::allow_insecure_http`].
    pub fn new(token_endpoint: &str) -> Result<Self, ExchangeError> {
        Ok(Self {
            endpoint: endpoint::parse_url(token_endpoint)?,
            audience: None,
            auth: ClientAuth::Anonymous,
            scope: None,
            extra: Vec::new(),
            http: HttpSettings::default(),
            retry: RetryPolicy::default(),
            agents: Arc::default(),
        })
    }

    /// A client for a Keycloak realm's token endpoint,
    /// `{base_url}/realms/{realm}/protocol/openid-connect/token`.
    ///
    /// [`Exchange::audience`] is then the realm URL `{base_url}/realms/{realm}`, the `aud`
    /// Keycloak expects in the assertion.
    pub fn keycloak(base_url: &str, realm: &str) -> Result<Self, ExchangeError> {
        let mut exchange = Self::new(&endpoint::keycloak_token_endpoint(base_url, realm))?;
        exchange.audience = Some(endpoint::keycloak_realm_url(base_url, realm));
        Ok(exchange)
    }

    /// A client for the token endpoint named by the OpenID Connect discovery document at
    /// `{issuer_url}/.well-known/openid-configuration` (one GET, with default transport
    /// settings; use [`Exchange::discover_endpoint`] when discovery needs a CA bundle).
    ///
    /// The document's `issuer` must equal `issuer_url` (trailing slashes aside);
    /// [`Exchange::audience`] is then that issuer.
    pub fn discover(issuer_url: &str) -> Result<Self, ExchangeError> {
        Self::new(issuer_url)?.discover_endpoint(issuer_url)
    }

    /// Like [`Exchange::discover`], but fetches the discovery document with this exchange's
    /// transport settings (CA bundle, timeouts, proxy, plain-http permission) and keeps its
    /// client authentication and parameters; only the endpoint and the audience change.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), jwtgrant_exchange::ExchangeError> {
    /// # let internal_ca = b"";
    /// let issuer = "https://sso.corp.example/realms/acme";
    /// let exchange = jwtgrant_exchange::Exchange::new(issuer)?
    ///     .ca_bundle_pem(internal_ca)?
    ///     .discover_endpoint(issuer)?;
    /// # Ok(()) }
    /// ```
    pub fn discover_endpoint(mut self, issuer_url: &str) -> Result<Self, ExchangeError> {
        let doc_url = endpoint::parse_url(&endpoint::discovery_url(issuer_url))?;
        endpoint::check_scheme(&doc_url, self.http.allow_insecure_http)?;
        let started = Instant::now();
        let url = doc_url.as_str();
        log::debug!("GET {url} (OpenID discovery)");
        let (status, body) = self.get(&doc_url)?;
        let Discovered {
            token_endpoint,
            issuer,
        } = endpoint::parse_discovery(url, issuer_url, status, &body)?;
        log::info!(
            "discovered token endpoint {token_endpoint} at {url} in {} ms",
            started.elapsed().as_millis()
        );
        self.endpoint = endpoint::parse_url(&token_endpoint)?;
        self.audience = Some(issuer);
        Ok(self)
    }

    /// The token endpoint URL.
    pub fn token_endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// The `aud` the assertion needs, when known: the realm URL for
    /// [`Exchange::keycloak`], the discovered issuer for [`Exchange::discover`], `None` for
    /// [`Exchange::new`] (Keycloak also accepts the token endpoint URL itself).
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// Authenticates the client with `client_id` and `client_secret` in the form body.
    pub fn client_secret_post(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<ClientSecret>,
    ) -> Self {
        self.auth = ClientAuth::SecretPost {
            client_id: client_id.into(),
            secret: secret.into(),
        };
        self
    }

    /// Authenticates the client with HTTP Basic (RFC 6749 section 2.3.1: id and secret are
    /// form-urlencoded before base64).
    pub fn client_secret_basic(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<ClientSecret>,
    ) -> Self {
        self.auth = ClientAuth::SecretBasic {
            client_id: client_id.into(),
            secret: secret.into(),
        };
        self
    }

    /// Authenticates the client with a JWT it signs (RFC 7523 section 2.2): `iss` = `sub` =
    /// `client_id`, `aud` = the token endpoint, a fresh `jti` and a 60 s lifetime, signed anew
    /// for every request. `client_id` is sent too.
    pub fn private_key_jwt(
        mut self,
        client_id: impl Into<String>,
        signer: jwtgrant_signer::Signer,
    ) -> Self {
        self.auth = ClientAuth::PrivateKeyJwt {
            client_id: client_id.into(),
            signer,
        };
        self
    }

    /// Identifies the client by `client_id` only (authentication method `none`; Keycloak
    /// requires a confidential client for this grant, so this suits other servers or tests).
    pub fn client_none(mut self, client_id: impl Into<String>) -> Self {
        self.auth = ClientAuth::None {
            client_id: client_id.into(),
        };
        self
    }

    /// Requests `scope` (space-separated scopes).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Adds a form parameter to every request (e.g. `audience`). Names the client sets itself
    /// (`grant_type`, `assertion`, `scope`, `client_id`, `client_secret`, `client_assertion`,
    /// `client_assertion_type`) make requests fail with [`ExchangeError::ReservedParameter`].
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The overall timeout of one HTTP request, connecting and reading the body included
    /// (default 10 s). Retries each get their own.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self.reset_agent()
    }

    /// The timeout for setting up the connection: DNS, TCP, proxy, TLS (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.http.connect_timeout = timeout;
        self.reset_agent()
    }

    /// The largest response body accepted, in bytes (default 1 MiB).
    pub fn max_response_size(mut self, bytes: u64) -> Self {
        self.http.max_body = bytes;
        self.reset_agent()
    }

    /// Trusts the certificates of a PEM bundle in addition to the built-in roots (an
    /// enterprise Keycloak behind an internal CA). Fails when the PEM holds no certificate or
    /// a certificate block does not decode.
    pub fn ca_bundle_pem(mut self, pem: &[u8]) -> Result<Self, ExchangeError> {
        self.http.extra_roots.extend(parse_ca_bundle(pem)?);
        Ok(self.reset_agent())
    }

    /// Whether to trust the built-in webpki (Mozilla) roots (default true). Turn off to trust
    /// only a CA bundle and, with `native-roots`, the operating system's roots.
    pub fn webpki_roots(mut self, on: bool) -> Self {
        self.http.webpki_roots = on;
        self.reset_agent()
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
        self.http.extra_roots.extend(
            loaded
                .certs
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
        );
        self.reset_agent()
    }

    /// Allows plain `http://` to hosts that are not loopback (default false). The client
    /// secret and the assertion then cross the network in clear text.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.http.allow_insecure_http = allow;
        self
    }

    /// Whether to use a proxy from `ALL_PROXY` / `HTTPS_PROXY` / `HTTP_PROXY` (and lowercase
    /// forms), honouring `NO_PROXY` (default true). This is the only environment this crate
    /// reads, when the first request is made. Loopback hosts are always reached directly.
    pub fn proxy_from_env(mut self, on: bool) -> Self {
        self.http.proxy_from_env = on;
        self.reset_agent()
    }

    /// The retry policy of [`Exchange::exchange_with`] and [`Exchange::exchange_signed`]
    /// (default [`RetryPolicy::default`]: 3 attempts). [`Exchange::exchange`] never retries.
    pub fn retries(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Trades `assertion` for a token: exactly one attempt, no retries (an assertion is
    /// single-use, so retrying needs a new one: see [`Exchange::exchange_with`]).
    pub fn exchange(&self, assertion: &str) -> Result<TokenResponse, ExchangeError> {
        self.preflight()?;
        self.attempt(assertion, 1, 1)
    }

    /// Trades a fresh assertion from `make_assertion` for a token, retrying transient failures
    /// under the [`RetryPolicy`]. `make_assertion` is called once per attempt, so every attempt
    /// carries a new `jti` (Keycloak rejects a reused one with "Token reuse detected").
    pub fn exchange_with<F, E>(&self, mut make_assertion: F) -> Result<TokenResponse, ExchangeError>
    where
        F: FnMut() -> Result<String, E>,
        E: Into<BoxError>,
    {
        self.preflight()?;
        let max = self.retry.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let assertion = make_assertion().map_err(|e| ExchangeError::Assertion {
                source: Source::from(e.into()),
            })?;
            let err = match self.attempt(&assertion, attempt, max) {
                Ok(token) => return Ok(token),
                Err(err) => err,
            };
            match self
                .retry
                .delay_after(attempt, &err, retry::random_jitter())
            {
                Some(delay) => {
                    log::warn!(
                        "token request to {} failed (attempt {attempt}/{max}): {err}; retrying in {} ms",
                        self.endpoint,
                        delay.as_millis()
                    );
                    std::thread::sleep(delay);
                    attempt += 1;
                }
                None => return Err(err),
            }
        }
    }

    /// [`Exchange::exchange_with`] signing `claims` with `signer` for every attempt (each
    /// signature carries a fresh `jti` and `iat`).
    pub fn exchange_signed(
        &self,
        signer: &jwtgrant_signer::Signer,
        claims: &jwtgrant_signer::Claims,
    ) -> Result<TokenResponse, ExchangeError> {
        self.exchange_with(|| signer.sign(claims))
    }

    fn reset_agent(mut self) -> Self {
        self.agents = Arc::default();
        self
    }

    /// The agent for requests to `url`: a direct one for loopback hosts, so plain http that is
    /// allowed because it stays on this machine never reaches a proxy, in clear text.
    fn agent(&self, url: &Url) -> &Agent {
        if endpoint::is_loopback(url) {
            self.agents
                .direct
                .get_or_init(|| build_agent(&self.http, false))
        } else {
            self.agents
                .proxied
                .get_or_init(|| build_agent(&self.http, true))
        }
    }

    /// GETs a JSON document (a discovery document, an issuer's JWKS) with this exchange's
    /// transport: its TLS roots, timeouts, proxy rule and body cap. Returns the status and
    /// the body; any status is returned, not turned into an error.
    pub(crate) fn get(&self, url: &Url) -> Result<(u16, Vec<u8>), ExchangeError> {
        let text = url.as_str();
        let mut resp = self
            .agent(url)
            .get(text)
            .header("Accept", "application/json")
            .call()
            .map_err(|e| transport_error(text, e, &self.http))?;
        let status = resp.status().as_u16();
        let body = read_body(text, &mut resp, &self.http)?;
        Ok((status, body))
    }

    /// Checks that need no network: plain http, reserved parameters.
    fn preflight(&self) -> Result<(), ExchangeError> {
        endpoint::check_scheme(&self.endpoint, self.http.allow_insecure_http)?;
        if let Some(name) = form::reserved_extra(&self.extra) {
            return Err(ExchangeError::ReservedParameter {
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// One POST to the token endpoint.
    fn attempt(
        &self,
        assertion: &str,
        attempt: u32,
        max: u32,
    ) -> Result<TokenResponse, ExchangeError> {
        let url = self.endpoint.as_str();
        let client_assertion = match &self.auth {
            ClientAuth::PrivateKeyJwt { client_id, signer } => {
                // Not `Claims`: those are for the grant's assertion and require an http(s)
                // `iss`, while a client assertion's `iss` is the client id.
                let payload = form::client_assertion_payload(
                    client_id,
                    url,
                    SystemTime::now(),
                    CLIENT_ASSERTION_LIFETIME,
                    &uuid::Uuid::new_v4().to_string(),
                );
                let signed = signer
                    .sign_jws(signer.header_json().as_bytes(), payload.as_bytes())
                    .map_err(|e| ExchangeError::ClientAssertion {
                        source: Arc::new(e),
                    })?;
                Some(signed)
            }
            _ => None,
        };
        let (auth, secret) = match &self.auth {
            ClientAuth::Anonymous => (AuthForm::Anonymous, ""),
            ClientAuth::None { client_id } => (AuthForm::None { client_id }, ""),
            ClientAuth::SecretPost { client_id, secret } => {
                (AuthForm::SecretPost { client_id, secret }, secret.secret())
            }
            ClientAuth::SecretBasic { secret, .. } => (AuthForm::SecretBasic, secret.secret()),
            ClientAuth::PrivateKeyJwt { client_id, .. } => (
                AuthForm::PrivateKeyJwt {
                    client_id,
                    client_assertion: client_assertion.as_deref().unwrap_or_default(),
                },
                "",
            ),
        };
        // What a misbehaving server might echo back into an error message.
        // (A form body echoed back carries the secret form-urlencoded.)
        let encoded_secret: String =
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let echoed = [
            secret,
            encoded_secret.as_str(),
            assertion,
            client_assertion.as_deref().unwrap_or_default(),
        ];
        let body = form::token_form(assertion, self.scope.as_deref(), auth, &self.extra);
        let mut request = self
            .agent(&self.endpoint)
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json");
        if let ClientAuth::SecretBasic { client_id, secret } = &self.auth {
            request = request.header("Authorization", form::basic_auth_header(client_id, secret));
        }

        log::debug!(
            "POST {url} (attempt {attempt}/{max}, client auth {}, client_id {})",
            self.auth.method(),
            self.auth.client_id().unwrap_or("-")
        );
        let started = Instant::now();
        let sent_at = SystemTime::now();
        let result = request
            .send(body.as_bytes())
            .map_err(|e| transport_error(url, e, &self.http))
            .and_then(|mut resp| {
                let status = resp.status().as_u16();
                let header = |name: &str| {
                    resp.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let location = header("location");
                let retry_after = header("retry-after");
                let body = read_body(url, &mut resp, &self.http)?;
                let raw = Raw {
                    status,
                    location: location.as_deref(),
                    retry_after: retry_after.as_deref(),
                    body: &body,
                };
                // A token is read from the body as sent; an error is described from a body
                // with anything we sent scrubbed out, before any of it is cut into a snippet
                // (never scrub a success: a short test secret could occur inside a token).
                let outcome = response::interpret(url, raw, sent_at).or_else(|_| {
                    let scrubbed = response::scrub_body(&body, &echoed);
                    let raw = Raw {
                        body: &scrubbed,
                        ..raw
                    };
                    response::interpret(url, raw, sent_at).map_err(|e| response::scrub(e, &echoed))
                });
                Ok((status, outcome))
            });
        let ms = started.elapsed().as_millis();
        match result {
            Ok((status, Ok(token))) => {
                let lifetime = token.expires_in.map_or_else(
                    || "no expires_in".to_owned(),
                    |s| format!("expires in {s} s"),
                );
                log::info!(
                    "{url} issued a {} token (HTTP {status}, {lifetime}, {ms} ms, attempt {attempt}/{max})",
                    token.token_type,
                );
                Ok(token)
            }
            Ok((status, Err(err))) => {
                match &err {
                    ExchangeError::Rejected(r) => log::info!(
                        "{url} rejected the grant: HTTP {status} {} ({ms} ms, attempt {attempt}/{max})",
                        r.error
                    ),
                    _ => log::info!(
                        "{url} answered HTTP {status} without a token ({ms} ms, attempt {attempt}/{max})"
                    ),
                }
                Err(err)
            }
            Err(err) => {
                log::info!("{url}: {err} ({ms} ms, attempt {attempt}/{max})");
                Err(err)
            }
        }
    }
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("token_endpoint", &self.endpoint.as_str())
            .field("audience", &self.audience)
            .field("client_auth", &self.auth.method())
            .field("client_id", &self.auth.client_id())
            .field("scope", &self.scope)
            .field(
                "extra_params",
                &self.extra.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeout", &self.http.timeout)
            .field("connect_timeout", &self.http.connect_timeout)
            .field("max_response_size", &self.http.max_body)
            .field("extra_roots", &self.http.extra_roots.len())
            .field("webpki_roots", &self.http.webpki_roots)
            .field("proxy_from_env", &self.http.proxy_from_env)
            .field("allow_insecure_http", &self.http.allow_insecure_http)
            .field("retries", &self.retry)
            .finish()
    }
}

/// An agent for `http`; `use_proxy` false means connect directly whatever the settings say.
fn build_agent(http: &HttpSettings, use_proxy: bool) -> Agent {
    let roots = if http.extra_roots.is_empty() && http.webpki_roots {
        RootCerts::WebPki
    } else {
        let mut certs = Vec::new();
        if http.webpki_roots {
            certs.extend(
                webpki_root_certs::TLS_SERVER_ROOT_CERTS
                    .iter()
                    .map(|der| Certificate::from_der(der.as_ref())),
            );
        }
        certs.extend(http.extra_roots.iter().cloned());
        RootCerts::from(certs)
    };
    let proxy = if !use_proxy {
        None
    } else if http.proxy_from_env {
        ureq::Proxy::try_from_env()
    } else {
        None
    };
    if let Some(proxy) = &proxy {
        log::debug!(
            "using proxy {}:{} from the environment",
            proxy.host(),
            proxy.port()
        );
    }
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(http.timeout))
        .timeout_connect(Some(http.connect_timeout))
        .proxy(proxy)
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .user_agent(concat!("jwtgrant/", env!("CARGO_PKG_VERSION")))
        .build();
    Agent::new_with_config(config)
}

/// Reads the body up to the size limit.
fn read_body(
    url: &str,
    resp: &mut ureq::http::Response<ureq::Body>,
    http: &HttpSettings,
) -> Result<Vec<u8>, ExchangeError> {
    resp.body_mut()
        .with_config()
        .limit(http.max_body)
        .read_to_vec()
        .map_err(|e| transport_error(url, e, http))
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
fn transport_error(url: &str, err: ureq::Error, http: &HttpSettings) -> ExchangeError {
    let url = url.to_owned();
    let timeout = |connecting: bool, source: Source| ExchangeError::Timeout {
        url: url.clone(),
        limit: if connecting {
            http.connect_timeout
        } else {
            http.timeout
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
            io::ErrorKind::InvalidData if url.starts_with("https:") => ExchangeError::Tls {
                url,
                source: Arc::new(err),
            },
            _ => ExchangeError::Connection {
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
            source: Arc::new(other),
        },
    }
}

/// Compile-time check that the client can be shared across threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Exchange>();
};

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://kc/t";

    fn mapped(err: ureq::Error) -> String {
        let e = transport_error(URL, err, &HttpSettings::default());
        format!("{:?} | {e}", e.kind())
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
    fn builder_and_debug_hide_secrets() {
        let x = Exchange::keycloak("https://kc.example/", "acme").map(|x| {
            x.client_secret_basic("custom-client", "hunter2")
                .scope("openid")
                .extra_param("audience", "api")
        });
        let Ok(x) = x else { panic!("keycloak()") };
        assert_eq!(
            x.token_endpoint(),
            "https://kc.example/realms/acme/protocol/openid-connect/token"
        );
        assert_eq!(x.audience(), Some("https://kc.example/realms/acme"));
        let debug = format!("{x:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("client_secret_basic"), "{debug}");
    }

    #[test]
    fn preflight_refuses_before_any_io() {
        let remote = Exchange::new("http://kc.example/token").map(|x| x.client_none("c"));
        let Ok(remote) = remote else { panic!("new()") };
        assert!(matches!(
            remote.exchange("a.b.c"),
            Err(ExchangeError::InsecureHttp { .. })
        ));
        let reserved =
            Exchange::new("https://kc.example/token").map(|x| x.extra_param("client_secret", "x"));
        let Ok(reserved) = reserved else {
            panic!("new()")
        };
        assert_eq!(
            reserved.exchange("a.b.c").err().map(|e| e.to_string()),
            Some(
                "extra form parameter 'client_secret' is set by the client itself and cannot be overridden"
                    .into()
            )
        );
    }
}
