//! The token endpoint's answer through the client's parser, then every way the result is
//! shown. Secrets the request carried must never come back in an error.
//!
//! Input, one field per line so the seeds are readable samples:
//! status, `Location` (empty: none), `Retry-After` (empty: none), a secret the request
//! carried, then the body (a token response, an RFC 6749 error body, HTML, garbage).
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use jwtgrant_exchange::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut fields = data.splitn(5, |b| *b == b'\n');
    let mut line = || String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let status = line().trim().parse::<u16>().unwrap_or(200);
    let (location, retry_after, secret) = (line(), line(), line());
    let body = fields.next().unwrap_or_default();
    let header = |v: &str| (!v.is_empty()).then_some(v.to_owned());
    let (location, retry_after) = (header(&location), header(&retry_after));
    let sent_at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let result = fuzzing::token_response(
        status,
        location.as_deref(),
        retry_after.as_deref(),
        body,
        &[&secret],
        sent_at,
    );
    let _ = fuzzing::snippet(body);
    match result {
        Ok(token) => {
            let _ = (format!("{token:?}"), token.confirmation());
            let _ = token.to_json_including_tokens();
        }
        Err(e) => {
            let shown = format!("{e} {e:?}");
            let _ = (e.kind(), e.is_transient(), e.retry_after(), e.hint());
            // A secret (ASCII letters and digits, long enough not to occur in our own words)
            // never reaches the message, raw or JSON-escaped.
            if secret.len() >= 16 && secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
                assert!(!shown.contains(&secret), "secret echoed: {shown}");
            }
        }
    }
});
