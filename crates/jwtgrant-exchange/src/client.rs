//! [`Exchange`]: the configured client, and the few lines of IO glue around the pure parts
//! (the form in `form`, the answer in `response`, the schedule in `retry`) and the transport.

use std::fmt;

use std::time::{Duration, Instant, SystemTime};

use url::Url;
use zeroize::Zeroizing;

use crate::dpop::{self, Dpop};
use crate::endpoint::{self, Discovered};
use crate::error::{BoxError, ExchangeError, Source};
use crate::form::{self, ClientAuth, Grant, Prepared};
use crate::response::{self, Raw, TokenResponse};
use crate::retry::{self, RetryPolicy};
use crate::secret::Secret;
use crate::transport::{Body, MAX_TIMEOUT, Method, Reply, Transport};

/// The longest [`Exchange::call_timeout`]: every attempt at its longest timeout.
const MAX_CALL_TIMEOUT: Duration = MAX_TIMEOUT.saturating_mul(retry::MAX_ATTEMPTS);

/// How long one call of an [`Exchange`] may take by default, every attempt and wait
/// included (or the per-request timeout, when that is longer): a retry policy with many
/// attempts or long `Retry-After` waits cannot keep a caller waiting beyond it.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A client for one token endpoint: where it is, how the client authenticates, and how to
/// talk to it. Build it once and call [`Exchange::exchange`] (or the retrying
/// [`Exchange::exchange_with`]) as often as needed, from any thread.
///
/// Every request goes through a [`Transport`], the one HTTP policy of this crate (https
/// off loopback, loopback never proxied, no redirects, timeouts, body cap, CA bundle); the
/// transport builder methods here (`timeout`, `ca_bundle_pem`, ...) change this exchange's
/// copy, and [`Exchange::transport`] replaces it whole, e.g. with one shared with an admin
/// API client.
#[derive(Clone)]
pub struct Exchange {
    endpoint: Url,
    audience: Option<String>,
    auth: ClientAuth,
    scope: Option<String>,
    extra: Vec<(String, String)>,
    transport: Transport,
    retry: RetryPolicy,
    /// The budget of one whole call, every attempt and wait included.
    call_timeout: Option<Duration>,
    dpop: Option<Dpop>,
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
            transport: Transport::default(),
            retry: RetryPolicy::default(),
            call_timeout: None,
            dpop: None,
        })
    }

    /// Sets the `aud` the assertion needs (see [`Exchange::audience`]), for a server whose
    /// URL layout the caller knows, e.g. a Keycloak realm URL.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
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

    /// The `aud` the assertion needs, when known: the one given to
    /// [`Exchange::with_audience`], the discovered issuer for [`Exchange::discover`], `None`
    /// for [`Exchange::new`] (many servers also accept the token endpoint URL itself).
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// Authenticates the client with `client_id` and `client_secret` in the form body.
    pub fn client_secret_post(
        self,
        client_id: impl Into<String>,
        secret: impl Into<Secret>,
    ) -> Self {
        self.client_auth(ClientAuth::SecretPost {
            client_id: client_id.into(),
            secret: secret.into(),
        })
    }

    /// Authenticates the client with HTTP Basic (RFC 6749 section 2.3.1: id and secret are
    /// form-urlencoded before base64).
    pub fn client_secret_basic(
        self,
        client_id: impl Into<String>,
        secret: impl Into<Secret>,
    ) -> Self {
        self.client_auth(ClientAuth::SecretBasic {
            client_id: client_id.into(),
            secret: secret.into(),
        })
    }

    /// Authenticates the client with a JWT it signs (RFC 7523 section 2.2): `iss` = `sub` =
    /// `client_id`, `aud` = the token endpoint, a fresh `jti` and a 60 s lifetime, signed anew
    /// for every request. `client_id` is sent too.
    pub fn private_key_jwt(
        self,
        client_id: impl Into<String>,
        signer: jwtgrant_signer::Signer,
    ) -> Self {
        self.client_auth(ClientAuth::PrivateKeyJwt {
            client_id: client_id.into(),
            signer,
        })
    }

    /// Authenticates the client with a client assertion another issuer vouches for (RFC 7523
    /// section 2.2; Keycloak's `federated-jwt` clients): no client secret. The assertion is
    /// made anew for every attempt (see [`AssertionSource`](crate::AssertionSource)); a file
    /// that is missing, empty, not a JWT or expired fails the attempt with
    /// [`ExchangeError::ClientAssertionFile`] before anything is sent.
    pub fn client_assertion(
        self,
        client_id: impl Into<String>,
        source: crate::AssertionSource,
    ) -> Self {
        self.client_auth(ClientAuth::ClientAssertion {
            client_id: client_id.into(),
            source,
        })
    }

    /// Identifies the client by `client_id` only (authentication method `none`; Keycloak
    /// requires a confidential client for this grant, so this suits other servers or tests).
    pub fn client_none(self, client_id: impl Into<String>) -> Self {
        self.client_auth(ClientAuth::None {
            client_id: client_id.into(),
        })
    }

    /// Sets how the client authenticates (the shorthands above build a [`ClientAuth`] too).
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
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
    /// (default 10 s; at most [`MAX_TIMEOUT`](crate::MAX_TIMEOUT)). Retries each
    /// get their own.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.transport = self.transport.timeout(timeout);
        self
    }

    /// The timeout for setting up the connection: DNS, TCP, proxy, TLS (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.transport = self.transport.connect_timeout(timeout);
        self
    }

    /// The largest response body accepted, in bytes (default 1 MiB).
    pub fn max_response_size(mut self, bytes: u64) -> Self {
        self.transport = self.transport.max_response_size(bytes);
        self
    }

    /// Trusts the certificates of a PEM bundle in addition to the built-in roots (see
    /// [`Transport::ca_bundle_pem`]).
    pub fn ca_bundle_pem(mut self, pem: &[u8]) -> Result<Self, ExchangeError> {
        self.transport = self.transport.ca_bundle_pem(pem)?;
        Ok(self)
    }

    /// Whether to trust the built-in webpki (Mozilla) roots (see [`Transport::webpki_roots`]).
    pub fn webpki_roots(mut self, on: bool) -> Self {
        self.transport = self.transport.webpki_roots(on);
        self
    }

    /// Also trusts the operating system's root certificates (see [`Transport::native_roots`]).
    #[cfg(feature = "native-roots")]
    pub fn native_roots(mut self) -> Self {
        self.transport = self.transport.native_roots();
        self
    }

    /// Allows plain `http://` to hosts that are not loopback (default false). The client
    /// secret and the assertion then cross the network in clear text.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.transport = self.transport.allow_insecure_http(allow);
        self
    }

    /// Whether to use a proxy from the environment (see [`Transport`]; default true).
    /// Loopback hosts are always reached directly.
    pub fn proxy_from_env(mut self, on: bool) -> Self {
        self.transport = self.transport.proxy_from_env(on);
        self
    }

    /// Replaces the transport whole, e.g. with one shared with an admin session.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// The transport in force.
    pub fn transport_ref(&self) -> &Transport {
        &self.transport
    }

    /// The retry policy of [`Exchange::exchange_with`] and [`Exchange::exchange_signed`]
    /// (default [`RetryPolicy::default`]: 3 attempts). [`Exchange::exchange`] never retries.
    pub fn retries(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Bounds one whole call of [`Exchange::exchange`], [`Exchange::exchange_with`] or
    /// [`Exchange::exchange_signed`]: every attempt, and every wait between attempts, ends
    /// within `timeout` (default [`DEFAULT_CALL_TIMEOUT`], 60 s, or the per-request
    /// [`Exchange::timeout`] when that is longer). A retry that could not finish in time is
    /// not started; each request's
    /// own timeouts shrink to the time left. At most
    /// [`MAX_TIMEOUT`](crate::MAX_TIMEOUT) times [`MAX_ATTEMPTS`](crate::MAX_ATTEMPTS).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout.min(MAX_CALL_TIMEOUT));
        self
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Sends a DPoP proof (RFC 9449) made with `signer`'s key with every token request, so the
    /// server binds the access token to that key (`token_type` `DPoP`, `cnf.jkt` in the token).
    ///
    /// Every attempt, retries included, gets a fresh proof (new `jti` and `iat`, `htm` POST,
    /// `htu` the token endpoint). When the server answers `use_dpop_nonce` with a `DPoP-Nonce`
    /// header, the request is sent once more with that nonce, and the nonce is kept for later
    /// proofs. A token bound to another key is refused with [`ExchangeError::DpopBinding`].
    /// Whoever uses the token must prove the same key: keep the signer (see
    /// [`Dpop::resource_proof`]).
    pub fn dpop(self, signer: jwtgrant_signer::Signer) -> Self {
        self.dpop_with(Dpop::new(signer))
    }

    /// Like [`Exchange::dpop`] with a [`Dpop`] shared with other code (its nonce included).
    pub fn dpop_with(mut self, dpop: Dpop) -> Self {
        self.dpop = Some(dpop);
        self
    }

    /// The DPoP key in force, if any: use it for resource calls with a bound token.
    pub fn dpop_ref(&self) -> Option<&Dpop> {
        self.dpop.as_ref()
    }

    /// Trades `assertion` for a token: exactly one attempt, no retries (an assertion is
    /// single-use, so retrying needs a new one: see [`Exchange::exchange_with`]).
    pub fn exchange(&self, assertion: &str) -> Result<TokenResponse, ExchangeError> {
        self.once(Grant::JwtBearer(assertion))
    }

    /// Logs a resource owner in with the password grant (RFC 6749 section 4.3): exactly one
    /// attempt, through the same request, transport and reading of the answer as
    /// [`Exchange::exchange`]. For admin tools (Keycloak's `admin-cli`); the password is
    /// scrubbed from any error the server echoes it in.
    pub fn password_grant(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<TokenResponse, ExchangeError> {
        self.once(Grant::Password { username, password })
    }

    /// Asks for a token for the client itself with the client-credentials grant (RFC 6749
    /// section 4.4): exactly one attempt, authenticated by this exchange's client
    /// authentication.
    pub fn client_credentials(&self) -> Result<TokenResponse, ExchangeError> {
        self.once(Grant::ClientCredentials)
    }

    fn once(&self, grant: Grant<'_>) -> Result<TokenResponse, ExchangeError> {
        self.preflight()?;
        self.attempt(grant, 1, 1, self.deadline())
    }

    /// Trades a fresh assertion from `make_assertion` for a token, retrying transient failures
    /// under the [`RetryPolicy`]. `make_assertion` is called once per attempt, so every attempt
    /// carries a new `jti` (an assertion is single-use: a reused one is rejected).
    pub fn exchange_with<F, E>(&self, mut make_assertion: F) -> Result<TokenResponse, ExchangeError>
    where
        F: FnMut() -> Result<String, E>,
        E: Into<BoxError>,
    {
        self.preflight()?;
        let deadline = self.deadline();
        let max = self.retry.attempts_in_total();
        let mut attempt = 1;
        loop {
            let assertion = make_assertion().map_err(|e| ExchangeError::Assertion {
                source: Source::from(e.into()),
            })?;
            let err = match self.attempt(Grant::JwtBearer(&assertion), attempt, max, deadline) {
                Ok(token) => return Ok(token),
                Err(err) => err,
            };
            let delay = self
                .retry
                .delay_after(attempt, &err, retry::random_jitter())
                // A retry that cannot finish before the deadline is not worth its wait.
                .filter(|delay| {
                    deadline
                        .is_none_or(|d| Instant::now().checked_add(*delay).is_some_and(|t| t < d))
                });
            match delay {
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

    /// GETs a JSON document (a discovery document, an issuer's JWKS) through the transport.
    /// Returns the status and the body; any status is returned, not turned into an error.
    pub(crate) fn get(&self, url: &Url) -> Result<(u16, Vec<u8>), ExchangeError> {
        let reply =
            self.transport
                .send(Method::Get, url, &[("accept", "application/json")], None)?;
        Ok((reply.status, reply.body))
    }

    /// Checks that need no network: plain http, reserved parameters, a certificate for
    /// `tls_client_auth`.
    fn preflight(&self) -> Result<(), ExchangeError> {
        self.transport.preflight(&self.endpoint)?;
        if matches!(self.auth, ClientAuth::TlsClientAuth { .. })
            && self.transport.client_certificate_thumbprint().is_none()
        {
            return Err(ExchangeError::ClientCertificate {
                reason: "tls_client_auth authenticates with a client certificate, and none is set on the transport".into(),
            });
        }
        if let Some(name) = form::reserved_extra(&self.extra) {
            return Err(ExchangeError::ReservedParameter {
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// How long one call may take: [`Exchange::call_timeout`], else the default bound.
    pub fn call_timeout_limit(&self) -> Duration {
        self.call_timeout
            .unwrap_or_else(|| DEFAULT_CALL_TIMEOUT.max(self.transport.timeout_limit()))
    }

    /// When the current call must end.
    fn deadline(&self) -> Option<Instant> {
        Instant::now().checked_add(self.call_timeout_limit())
    }

    /// One POST to the token endpoint: prepare (pure), send, interpret and log; once more
    /// when a DPoP server asks for a nonce it just sent (RFC 9449 section 8). The nonce retry
    /// reuses the assertion: the server refused the proof before it looked at the grant.
    fn attempt(
        &self,
        grant: Grant<'_>,
        attempt: u32,
        max: u32,
        deadline: Option<Instant>,
    ) -> Result<TokenResponse, ExchangeError> {
        let first = self.send_once(grant, attempt, max, deadline)?;
        let token = match first {
            Sent::Done(result) => result?,
            Sent::NonceChallenge(_) => {
                log::info!(
                    "{} asked for a DPoP nonce; sending the request again with it",
                    self.endpoint
                );
                match self.send_once(grant, attempt, max, deadline)? {
                    Sent::Done(result) | Sent::NonceChallenge(result) => result?,
                }
            }
        };
        // One decode of the token's cnf for both binding checks.
        let cnf = token.confirmation().unwrap_or_default();
        self.check_binding(cnf.x5t_s256)?;
        self.check_dpop_binding(&token, cnf.jkt)?;
        Ok(token)
    }

    /// One POST with a fresh client assertion and a fresh DPoP proof.
    fn send_once(
        &self,
        grant: Grant<'_>,
        attempt: u32,
        max: u32,
        deadline: Option<Instant>,
    ) -> Result<Sent, ExchangeError> {
        let url = self.endpoint.as_str();
        // A signed client assertion is a credential for its lifetime: wiped after the request.
        let client_assertion = form::client_assertion(&self.auth, url)?.map(Zeroizing::new);
        let mut prepared = form::prepare(
            grant,
            self.scope.as_deref(),
            &self.auth,
            client_assertion.as_deref().map(String::as_str),
            &self.extra,
        );
        // The nonce this proof carries: an answer with a different one is a challenge worth
        // one retry, even when another request sharing the key stored that nonce meanwhile.
        let sent_nonce = self.dpop.as_ref().and_then(|d| d.nonce_for(url));
        let proof = match &self.dpop {
            Some(d) => Some(d.proof("POST", url)?),
            None => None,
        };
        if let Some(p) = &proof {
            prepared.sent_secrets.push(p.secret().to_owned());
        }
        log::debug!(
            "POST {url} (attempt {attempt}/{max}, client auth {}, client_id {}{})",
            self.auth.method(),
            self.auth.client_id().unwrap_or("-"),
            if proof.is_some() { ", DPoP" } else { "" }
        );
        let started = Instant::now();
        let sent_at = SystemTime::now();
        let (reply, outcome) = match self.post_form(&prepared, proof.as_ref(), deadline) {
            Ok(reply) => {
                let outcome = interpret(url, &reply, sent_at, &prepared);
                (reply, outcome)
            }
            Err(err) => {
                log_failure(url, &err, started, attempt, max);
                return Err(err);
            }
        };
        log_answer(url, reply.status, &outcome, started, attempt, max);
        // Any answer may carry a new nonce (RFC 9449 section 8.2); keep the latest.
        let new_nonce = match &self.dpop {
            Some(d) => reply.header("dpop-nonce").map(|n| {
                let changed = sent_nonce.as_deref() != Some(n);
                d.set_nonce_for(url, n);
                changed
            }),
            None => None,
        };
        let challenged =
            matches!(&outcome, Err(ExchangeError::Rejected(r)) if r.error == dpop::USE_DPOP_NONCE);
        Ok(if challenged && new_nonce == Some(true) {
            Sent::NonceChallenge(outcome)
        } else {
            Sent::Done(outcome)
        })
    }

    /// A token bound to a DPoP key must be bound to ours (RFC 9449 section 6): otherwise no
    /// request this client makes can use it. An opaque token cannot be checked here.
    fn check_dpop_binding(
        &self,
        token: &TokenResponse,
        bound_to: Option<String>,
    ) -> Result<(), ExchangeError> {
        let ours = self.dpop.as_ref().map(Dpop::thumbprint);
        match (bound_to, ours) {
            (Some(jkt), Some(ours)) if jkt == ours => Ok(()),
            (Some(bound_to), presented) => Err(ExchangeError::DpopBinding {
                url: self.endpoint.to_string(),
                presented: presented.map(str::to_owned),
                bound_to,
            }),
            (None, Some(_)) if !token.is_dpop() => {
                log::warn!(
                    "{} answered token_type '{}' to a request with a DPoP proof: the token is not bound to the key",
                    self.endpoint,
                    token.token_type
                );
                Ok(())
            }
            (None, _) => Ok(()),
        }
    }

    /// A token bound to a certificate must be bound to ours (RFC 8705 section 3): otherwise
    /// no request this client makes can use it.
    fn check_binding(&self, bound_to: Option<String>) -> Result<(), ExchangeError> {
        let Some(bound_to) = bound_to else {
            return Ok(());
        };
        let presented = self.transport.client_certificate_thumbprint();
        if presented == Some(bound_to.as_str()) {
            return Ok(());
        }
        Err(ExchangeError::CertificateBinding {
            url: self.endpoint.to_string(),
            presented: presented.map(str::to_owned),
            bound_to,
        })
    }

    fn post_form(
        &self,
        prepared: &Prepared,
        proof: Option<&Secret>,
        deadline: Option<Instant>,
    ) -> Result<Reply, ExchangeError> {
        let mut headers = vec![("accept", "application/json")];
        if let Some(value) = &prepared.authorization {
            headers.push(("authorization", value));
        }
        if let Some(proof) = proof {
            headers.push((dpop::DPOP_HEADER, proof.secret()));
        }
        self.transport.send_until(
            Method::Post,
            &self.endpoint,
            &headers,
            Some(Body::Form(&prepared.body)),
            deadline,
        )
    }
}

/// A token from the answer as sent; an error described from the answer with everything we
/// sent scrubbed out, before any of it is cut into a snippet (never scrub a success: a short
/// test secret could occur inside a token).
fn interpret(
    url: &str,
    reply: &Reply,
    sent_at: SystemTime,
    prepared: &Prepared,
) -> Result<TokenResponse, ExchangeError> {
    let raw = Raw {
        status: reply.status,
        location: reply.header("location"),
        retry_after: reply.header("retry-after"),
        body: &reply.body,
    };
    response::interpret(url, raw, sent_at).or_else(|_| {
        let echoed = prepared.echoed();
        let echoed: Vec<&str> = echoed.iter().map(String::as_str).collect();
        let scrubbed = response::scrub_body(&reply.body, &echoed);
        let raw = Raw {
            body: &scrubbed,
            ..raw
        };
        response::interpret(url, raw, sent_at).map_err(|e| response::scrub(e, &echoed))
    })
}

/// What one POST came to: a result, or a DPoP nonce challenge worth one more request.
enum Sent {
    Done(Result<TokenResponse, ExchangeError>),
    NonceChallenge(Result<TokenResponse, ExchangeError>),
}

/// One `info` line per attempt that got an answer: what came back, how long it took.
fn log_answer(
    url: &str,
    status: u16,
    outcome: &Result<TokenResponse, ExchangeError>,
    started: Instant,
    attempt: u32,
    max: u32,
) {
    let ms = started.elapsed().as_millis();
    match outcome {
        Ok(token) => {
            let lifetime = token.expires_in.map_or_else(
                || "no expires_in".to_owned(),
                |s| format!("expires in {s} s"),
            );
            log::info!(
                "{url} issued a {} token (HTTP {status}, {lifetime}, {ms} ms, attempt {attempt}/{max})",
                token.token_type,
            );
        }
        Err(ExchangeError::Rejected(r)) => log::info!(
            "{url} rejected the grant: HTTP {status} {} ({ms} ms, attempt {attempt}/{max})",
            r.error
        ),
        Err(_) => log::info!(
            "{url} answered HTTP {status} without a token ({ms} ms, attempt {attempt}/{max})"
        ),
    }
}

/// One `info` line per attempt that got no answer.
fn log_failure(url: &str, err: &ExchangeError, started: Instant, attempt: u32, max: u32) {
    let ms = started.elapsed().as_millis();
    log::info!("{url}: {err} ({ms} ms, attempt {attempt}/{max})");
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("token_endpoint", &self.endpoint.as_str())
            .field("audience", &self.audience)
            .field("client_auth", &self.auth)
            .field("scope", &self.scope)
            .field(
                "extra_params",
                &self.extra.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("transport", &self.transport)
            .field("retries", &self.retry)
            .field("call_timeout", &self.call_timeout)
            .field("dpop", &self.dpop)
            .finish()
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

    #[test]
    fn every_call_is_bounded_by_default() {
        let x = Exchange::new("https://kc.example/t").expect("url");
        assert_eq!(x.call_timeout_limit(), DEFAULT_CALL_TIMEOUT);
        assert!(x.deadline().is_some());
        // A longer per-request timeout lifts the default bound to it, never above.
        let slow = x.clone().timeout(Duration::from_secs(90));
        assert_eq!(slow.call_timeout_limit(), Duration::from_secs(90));
        // An explicit bound wins, capped at the longest.
        assert_eq!(
            x.clone()
                .call_timeout(Duration::from_secs(5))
                .call_timeout_limit(),
            Duration::from_secs(5)
        );
        assert_eq!(
            x.call_timeout(Duration::MAX).call_timeout_limit(),
            MAX_CALL_TIMEOUT
        );
    }

    #[test]
    fn builder_and_debug_hide_secrets() {
        let x = Exchange::new("https://kc.example/realms/acme/protocol/openid-connect/token").map(
            |x| {
                x.client_secret_basic("custom-client", "hunter2")
                    .scope("openid")
                    .extra_param("audience", "api")
                    .with_audience("https://kc.example/realms/acme")
            },
        );
        let Ok(x) = x else { panic!("new()") };
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
