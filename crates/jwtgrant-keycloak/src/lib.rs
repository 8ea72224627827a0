//! Everything jwtgrant knows about Keycloak in particular, on top of the generic RFC 7523
//! client in [`jwtgrant_exchange`] (which knows no Keycloak message, URL layout or attribute
//! name).
//!
//! ```
//! # fn main() -> Result<(), jwtgrant_exchange::ExchangeError> {
//! // The realm's token endpoint, and the `aud` Keycloak expects in the assertion.
//! let client = jwtgrant_keycloak::exchange("https://sso.example.com", "acme")?
//!     .client_secret_post("custom-client", "the-secret");
//! assert_eq!(
//!     client.token_endpoint(),
//!     "https://sso.example.com/realms/acme/protocol/openid-connect/token"
//! );
//! assert_eq!(client.audience(), Some("https://sso.example.com/realms/acme"));
//! # Ok(()) }
//! ```
//!
//! - [`exchange`], [`realm_url`], [`token_endpoint`]: where a realm's endpoints are.
//! - [`rejections`]: one table of Keycloak's `error_description`s, each with the check that
//!   fails and a hint in library words; [`hint`] reads it for any [`ExchangeError`], and the
//!   doctor and the CLI's `inspect` read it too.
//! - [`versions`]: which release checks what in which order, as data, for the doctor.
//! - [`settings`]: a typed model of a client's, an identity provider's and a user's
//!   settings, every Keycloak name for them written once; the admin JSON is parsed there.
//! - [`doctor`]: the token endpoint's checks replayed locally, over that model.
//! - [`admin`]: idempotent provisioning through the admin REST API, written through it.

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

pub mod admin;
pub mod doctor;
pub mod rejections;
pub mod settings;
mod urls;
pub mod versions;

pub use rejections::{Check, Description, hint, rejection_hint};
pub use urls::{base_and_realm, realm_url, token_endpoint};
pub use versions::{Order, Stage, Version};

use jwtgrant_exchange::{Exchange, ExchangeError};

/// A client for a Keycloak realm's token endpoint, `{base}/realms/{realm}/protocol/openid-connect/token`,
/// that knows the audience Keycloak expects in the assertion (the realm URL,
/// [`Exchange::audience`]). `base` is the URL Keycloak is reached on (include `/auth` for
/// very old servers).
pub fn exchange(base_url: &str, realm: &str) -> Result<Exchange, ExchangeError> {
    Ok(Exchange::new(&token_endpoint(base_url, realm))?.with_audience(realm_url(base_url, realm)))
}

/// The README's library example compiles against this crate and its two neighbours.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;
