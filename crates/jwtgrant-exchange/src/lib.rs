//! Exchanges a JWT assertion for an access token at an OAuth token endpoint (RFC 7523,
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`). Generic: it knows RFC 6749,
//! 7523, 8705 and 9449, and no server's URL layout or wording (`jwtgrant-keycloak` adds
//! Keycloak's).
//!
//! ```
//! use std::time::Duration;
//! use jwtgrant_exchange::{Exchange, ExchangeError, ErrorKind, RetryPolicy};
//!
//! # fn main() -> Result<(), ExchangeError> {
//! // Build once (no network yet), share everywhere: `Exchange` is `Send + Sync + Clone`.
//! let client = Exchange::new("https://sso.example.com/realms/acme/protocol/openid-connect/token")?
//!     .with_audience("https://sso.example.com/realms/acme")
//!     .client_secret_post("custom-client", "the-secret") // kept in a redacting newtype
//!     .scope("profile")
//!     .timeout(Duration::from_secs(5))
//!     .retries(RetryPolicy::attempts(3));
//! assert_eq!(
//!     client.token_endpoint(),
//!     "https://sso.example.com/realms/acme/protocol/openid-connect/token"
//! );
//! // The `aud` your assertion needs:
//! assert_eq!(client.audience(), Some("https://sso.example.com/realms/acme"));
//! assert!(!format!("{client:?}").contains("the-secret"));
//!
//! // Plain http is refused before anything is sent unless the host is loopback.
//! let err = Exchange::new("http://sso.example.com/token")?.exchange("h.p.s").unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Config);
//! # Ok(()) }
//! ```
//!
//! Trading an assertion (`no_run`: it needs a server):
//!
//! ```no_run
//! # use jwtgrant_exchange::{Exchange, ExchangeError};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let client = Exchange::new("https://sso.example.com/token")?;
//! # let assertion = String::new();
//! # fn sign_new_assertion() -> Result<String, std::io::Error> { Ok(String::new()) }
//! // One attempt with an assertion you already have:
//! match client.exchange(&assertion) {
//!     Ok(token) => println!("{}", token.access_token.secret()),
//!     Err(ExchangeError::Rejected(r)) => {
//!         // The server's own words, then a hint by the RFC 6749 error code:
//!         eprintln!("{r}");
//!         if let Some(hint) = r.hint() {
//!             eprintln!("hint: {hint}");
//!         }
//!     }
//!     Err(e) => return Err(e.into()),
//! }
//! // With retries: every attempt gets a freshly signed assertion (a new `jti`).
//! let token = client.exchange_with(sign_new_assertion)?;
//! # Ok(()) }
//! ```
//!
//! - [`Exchange`]: where the endpoint is ([`Exchange::new`], [`Exchange::discover`]), client
//!   authentication (`client_secret_post`, `client_secret_basic`, `private_key_jwt`,
//!   a client assertion from another issuer ([`AssertionSource`]: no client secret at all),
//!   `tls_client_auth`, `none`), transport settings, retries; besides the JWT grant, the
//!   password and client-credentials grants an admin login needs, through the same request.
//! - [`ExchangeError`]: one error to match on, with [`ExchangeError::kind`] for exit codes and
//!   [`ExchangeError::hint`] for a likely fix in generic terms.
//! - [`TokenSource`]: a cached token for many threads, refreshed single-flight (or ahead of
//!   expiry in the background); [`TokenSource::ready`] awaits it from async code without a
//!   runtime, [`TokenSource::stats`] is a snapshot for metrics.
//! - [`Authorizer`]: puts the token (Bearer, or DPoP with a fresh proof) on an
//!   [`http::Request`] and reads the resource server's answer (a DPoP nonce challenge, a
//!   rejected token). `jwtgrant-tower` wraps it in a tower layer.
//! - [`cache::FileCache`]: tokens kept on disk for later and parallel processes of the same
//!   user, one grant per token lifetime (Unix).
//!
//! Logging goes through the `log` facade (endpoint, attempt, status, error code, timings);
//! secrets, assertions and tokens never appear in logs, `Debug`, `Display` or errors.
//! The only environment read is the proxy configuration (see [`Exchange`]), and
//! `XDG_CACHE_HOME`/`HOME` when asked for [`cache::FileCache::default_dir`]; the only files
//! touched are the token cache's, and the only file read besides is a client assertion file
//! ([`AssertionSource::File`]).

#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::print_stdout,
        clippy::print_stderr
    )
)]

mod authorize;
pub mod cache;
mod client;
mod dpop;
mod endpoint;
mod error;
mod form;
// Not API: the crate-private parsers for the fuzz targets in `fuzz/` (see the module).
#[doc(hidden)]
pub mod fuzzing;
mod ready;
mod response;
mod retry;
mod secret;
mod source;
pub mod text;
mod transport;
mod x509;

pub use authorize::{Authorized, Authorizer, DPOP_NONCE_HEADER, INVALID_TOKEN, Verdict};
pub use client::{DEFAULT_CALL_TIMEOUT, Exchange};
pub use dpop::{DPOP_HEADER, DPOP_PROOF_TYPE, Dpop, USE_DPOP_NONCE, proof_claims};
pub use endpoint::{parse_url, validate_url};
pub use error::{AssertionFileProblem, BoxError, ErrorKind, ExchangeError, Rejection, Source};
pub use form::{AssertionSource, ClientAuth, JWT_BEARER_CLIENT_ASSERTION, JWT_BEARER_GRANT};
pub use ready::Ready;
pub use response::{Confirmation, TokenResponse};
pub use retry::{MAX_ATTEMPTS, RetryPolicy};
pub use secret::{AccessToken, ClientSecret, IdToken, RefreshToken, Secret};
pub use source::{
    DEFAULT_LIFETIME, DEFAULT_REFRESH_MARGIN, MAX_LIFETIME, MIN_LIFETIME, SourceStats, TokenSource,
};
pub use transport::{
    Body, DEFAULT_MAX_BODY, DEFAULT_TIMEOUT, MAX_TIMEOUT, Method, Reply, Transport,
};
pub use x509::{PresentedCertificate, normalize_dn};
