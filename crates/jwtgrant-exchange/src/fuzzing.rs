//! Entry points for the fuzz targets in `fuzz/` (and property tests): the crate-private
//! parsers, reachable without a socket.
//!
//! **Not API.** Hidden from the docs, outside semver, and free to change or vanish in any
//! release. Everything here is a one-line call into the code the client really runs, so a
//! fuzz target exercises exactly what a hostile server reaches.

use std::time::{Duration, SystemTime};

use crate::response::{self, Raw};
use crate::{ExchangeError, TokenResponse};

/// What the token endpoint's answer becomes: [`crate::Exchange::exchange`]'s parsing of a
/// complete HTTP answer (status, `Location`, `Retry-After`, body), after the body was
/// scrubbed of `secrets` the way the client scrubs echoed credentials.
pub fn token_response(
    status: u16,
    location: Option<&str>,
    retry_after: Option<&str>,
    body: &[u8],
    secrets: &[&str],
    sent_at: SystemTime,
) -> Result<TokenResponse, ExchangeError> {
    let body = response::scrub_body(body, secrets);
    let raw = Raw {
        status,
        location,
        retry_after,
        body: &body,
    };
    let url = "https://fuzz.invalid/token";
    response::interpret(url, raw, sent_at).map_err(|e| response::scrub(e, secrets))
}

/// A `Retry-After` header value as the client reads it, counted from `now`.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    response::parse_retry_after(value, now)
}

/// The start of an error body as it may appear in a message: cut, control characters
/// collapsed, withheld when it mentions a token.
pub fn snippet(body: &[u8]) -> String {
    response::snippet(body)
}

/// The token request's form body and `Authorization` header for `auth`, as sent (with a
/// fixed `private_key_jwt` client assertion when `auth` needs one), for round-trip tests.
pub fn token_request(
    assertion: &str,
    scope: Option<&str>,
    auth: &crate::ClientAuth,
    extra: &[(String, String)],
) -> (String, Option<String>) {
    let client_assertion = "client.assertion.jwt";
    let prepared = crate::form::prepare(
        crate::form::Grant::JwtBearer(assertion),
        scope,
        auth,
        Some(client_assertion),
        extra,
    );
    (prepared.body.clone(), prepared.authorization.clone())
}
