//! Reading the token endpoint's answer. Pure functions: status, headers and body in,
//! a [`TokenResponse`] or an [`ExchangeError`] out. Nothing here panics on any input.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::error::{ExchangeError, Rejection};
use crate::secret::{AccessToken, IdToken, RefreshToken};

/// How many characters of a body go into an error message.
pub const SNIPPET_CHARS: usize = 200;
/// How many characters of a server-supplied string (error_description, Location) we keep.
const TEXT_CHARS: usize = 500;
/// Lifetimes beyond this are treated as this (keeps time arithmetic far from overflow).
const MAX_EXPIRES_IN: u64 = 10 * 365 * 24 * 3600;

/// A successful token response (RFC 6749 section 5.1).
///
/// `Debug` redacts the tokens and lists only the names of `extra` fields. To print the
/// tokens, use [`TokenResponse::to_json_including_tokens`] or the `secret()` accessors.
#[derive(Clone)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    pub access_token: AccessToken,
    /// The token type, usually `Bearer` (`Bearer` when the server omitted it).
    pub token_type: String,
    /// Lifetime in seconds as the server stated it.
    pub expires_in: Option<u64>,
    /// The granted scopes, space-separated, when the server stated them.
    pub scope: Option<String>,
    /// A refresh token, when the server issued one (Keycloak does not for this grant).
    pub refresh_token: Option<RefreshToken>,
    /// An ID token, when the server issued one (Keycloak does when `scope` has `openid`).
    pub id_token: Option<IdToken>,
    /// Every other field of the response, e.g. Keycloak's `refresh_expires_in` and
    /// `not-before-policy`.
    pub extra: Map<String, Value>,
    /// When the access token expires: the time the request was sent plus `expires_in`
    /// (measured from the send time, so it errs early rather than late).
    pub expires_at: Option<SystemTime>,
}

/// What a sender-constrained access token is bound to: its `cnf` claim (RFC 7800), read from
/// a JWT access token such as Keycloak's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Confirmation {
    /// `x5t#S256`: the SHA-256 thumbprint of the client certificate (RFC 8705, mutual TLS).
    pub x5t_s256: Option<String>,
    /// `jkt`: the RFC 7638 thumbprint of the DPoP proof key (RFC 9449).
    pub jkt: Option<String>,
}

impl TokenResponse {
    /// The access token's `cnf` claim, when the token is a JWT that carries one: `None` for a
    /// plain bearer token (or an opaque one). Read without verifying the token's signature:
    /// it tells the holder how to use the token, it does not authenticate anything.
    pub fn confirmation(&self) -> Option<Confirmation> {
        use base64ct::{Base64UrlUnpadded, Encoding as _};
        let payload = self.access_token.secret().split('.').nth(1)?;
        let bytes = Base64UrlUnpadded::decode_vec(payload.trim_end_matches('=')).ok()?;
        // Only `cnf` is read: the other claims are skipped by the parser, not built into a
        // tree (this runs on every exchange; a whole `Value` cost a third of the client's
        // instructions per grant in the Keycloak bench).
        #[derive(serde::Deserialize)]
        struct Claims {
            cnf: Option<Cnf>,
        }
        #[derive(serde::Deserialize)]
        struct Cnf {
            #[serde(rename = "x5t#S256")]
            x5t_s256: Option<Value>,
            jkt: Option<Value>,
        }
        let cnf = serde_json::from_slice::<Claims>(&bytes).ok()?.cnf?;
        let text = |v: Option<Value>| match v {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        Some(Confirmation {
            x5t_s256: text(cnf.x5t_s256),
            jkt: text(cnf.jkt),
        })
    }

    /// True when the token is DPoP-bound (`token_type` `DPoP`, RFC 9449): every use needs
    /// `Authorization: DPoP <token>` and a fresh proof with the same key.
    pub fn is_dpop(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("DPoP")
    }

    /// The response as a JSON object, tokens included in clear, plus `expires_at` in Unix
    /// seconds. Meant for output the user asked for (a CLI's `--json`), never for logs.
    pub fn to_json_including_tokens(&self) -> Value {
        let mut out = Map::new();
        out.insert(
            "access_token".into(),
            Value::from(self.access_token.secret()),
        );
        out.insert("token_type".into(), Value::from(self.token_type.as_str()));
        if let Some(v) = self.expires_in {
            out.insert("expires_in".into(), Value::from(v));
        }
        if let Some(v) = &self.scope {
            out.insert("scope".into(), Value::from(v.as_str()));
        }
        if let Some(v) = &self.refresh_token {
            out.insert("refresh_token".into(), Value::from(v.secret()));
        }
        if let Some(v) = &self.id_token {
            out.insert("id_token".into(), Value::from(v.secret()));
        }
        for (k, v) in &self.extra {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if let Some(at) = self
            .expires_at
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        {
            out.insert("expires_at".into(), Value::from(at.as_secs()));
        }
        Value::Object(out)
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token)
            .field("id_token", &self.id_token)
            .field("extra_fields", &self.extra.keys().collect::<Vec<_>>())
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What the IO layer read, handed to [`interpret`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Raw<'a> {
    pub status: u16,
    pub location: Option<&'a str>,
    pub retry_after: Option<&'a str>,
    pub body: &'a [u8],
}

/// Turns a complete HTTP answer into a token or the error that describes it.
///
/// `sent_at` is when the request went out; `expires_at` counts from it.
pub(crate) fn interpret(
    url: &str,
    raw: Raw<'_>,
    sent_at: SystemTime,
) -> Result<TokenResponse, ExchangeError> {
    let status = raw.status;
    if (300..400).contains(&status) {
        return Err(ExchangeError::Redirected {
            url: url.to_owned(),
            status,
            location: raw.location.map(|l| sanitize(l, TEXT_CHARS)),
        });
    }
    let json: Option<Value> = serde_json::from_slice(raw.body).ok();
    if !(200..300).contains(&status) {
        if (400..500).contains(&status)
            && status != 429
            && let Some(rejection) = json.as_ref().and_then(|v| rejection(status, v))
        {
            return Err(ExchangeError::Rejected(rejection));
        }
        return Err(ExchangeError::UnexpectedStatus {
            url: url.to_owned(),
            status,
            retry_after: raw
                .retry_after
                .and_then(|value| parse_retry_after(value, sent_at)),
            snippet: snippet(raw.body),
        });
    }
    let Some(json) = json else {
        return Err(ExchangeError::NotJson {
            url: url.to_owned(),
            status,
            snippet: snippet(raw.body),
        });
    };
    token_response(json.clone(), sent_at).map_err(|problem| match problem {
        // Some servers send their OAuth error with a success status.
        Problem::MissingAccessToken if let Some(r) = rejection(status, &json) => {
            ExchangeError::Rejected(r)
        }
        Problem::MissingAccessToken => ExchangeError::MissingAccessToken {
            url: url.to_owned(),
            status,
        },
        Problem::Invalid(reason) => ExchangeError::InvalidResponse {
            url: url.to_owned(),
            status,
            reason,
        },
    })
}

/// An RFC 6749 section 5.2 error object, if `v` is one.
fn rejection(status: u16, v: &Value) -> Option<Rejection> {
    let obj = v.as_object()?;
    let error = obj.get("error")?.as_str()?;
    let text = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .map(|s| sanitize(s, TEXT_CHARS))
    };
    Some(Rejection::new(
        status,
        sanitize(error, TEXT_CHARS),
        text("error_description"),
        text("error_uri"),
    ))
}

enum Problem {
    MissingAccessToken,
    Invalid(String),
}

fn token_response(json: Value, sent_at: SystemTime) -> Result<TokenResponse, Problem> {
    let Value::Object(mut obj) = json else {
        return Err(Problem::Invalid("the JSON is not an object".into()));
    };
    // RFC 6749 appendix A: an access token is 1*VSCHAR (printable ASCII and space), a token
    // type 1*name-char (ALPHA / DIGIT / "-" / "." / "_"). Anything else is refused, never
    // printed or sent on: a token goes to stdout and into Authorization headers, where a
    // control character could drive a terminal or split a header.
    let access_token = match obj.remove("access_token") {
        Some(Value::String(s))
            if !s.is_empty() && s.bytes().all(|b| (0x20..=0x7e).contains(&b)) =>
        {
            AccessToken::new(s)
        }
        None | Some(Value::Null) => return Err(Problem::MissingAccessToken),
        Some(Value::String(s)) if s.is_empty() => {
            return Err(Problem::Invalid("access_token is empty".into()));
        }
        Some(Value::String(_)) => {
            return Err(Problem::Invalid(
                "access_token has characters RFC 6749 does not allow in one (only printable ASCII)"
                    .into(),
            ));
        }
        Some(_) => return Err(Problem::Invalid("access_token is not a string".into())),
    };
    let token_type = optional_string(&mut obj, "token_type")?.unwrap_or_else(|| "Bearer".into());
    let name_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    if token_type.is_empty() || !token_type.bytes().all(name_char) {
        return Err(Problem::Invalid(
            "token_type is not an RFC 6749 type name (letters, digits, '-', '.', '_')".into(),
        ));
    }
    let expires_in = match obj.remove("expires_in") {
        None | Some(Value::Null) => None,
        Some(v) => Some(seconds(&v).ok_or_else(|| {
            Problem::Invalid("expires_in is not a non-negative number of seconds".into())
        })?),
    };
    let scope = optional_string(&mut obj, "scope")?;
    let refresh_token = optional_string(&mut obj, "refresh_token")?.map(RefreshToken::new);
    let id_token = optional_string(&mut obj, "id_token")?.map(IdToken::new);
    let expires_at =
        expires_in.and_then(|s| sent_at.checked_add(Duration::from_secs(s.min(MAX_EXPIRES_IN))));
    Ok(TokenResponse {
        access_token,
        token_type,
        expires_in,
        scope,
        refresh_token,
        id_token,
        extra: obj,
        expires_at,
    })
}

/// A token response read back from [`TokenResponse::to_json_including_tokens`]'s output (the
/// token cache's entries), checked like a server's answer. `expires_at` is the stored one;
/// `expires_in` becomes the seconds left at `now`.
pub(crate) fn from_stored_json(
    json: Value,
    expires_at: SystemTime,
    now: SystemTime,
) -> Result<TokenResponse, String> {
    let mut json = json;
    if let Value::Object(obj) = &mut json {
        obj.remove("expires_at");
        obj.remove("expires_in");
    }
    let mut response = token_response(json, now).map_err(|problem| match problem {
        Problem::MissingAccessToken => "the stored response has no access_token".to_owned(),
        Problem::Invalid(reason) => format!("the stored response is invalid: {reason}"),
    })?;
    let left = expires_at.duration_since(now).unwrap_or(Duration::ZERO);
    response.expires_in = Some(left.as_secs());
    response.expires_at = Some(expires_at);
    Ok(response)
}

fn optional_string(obj: &mut Map<String, Value>, key: &str) -> Result<Option<String>, Problem> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Problem::Invalid(format!("{key} is not a string"))),
    }
}

/// Seconds as a JSON number, or as a string of digits (some servers send `"3600"`).
fn seconds(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.min(MAX_EXPIRES_IN as f64) as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Removes `secrets` (the client secret, the assertion) from the server-supplied text of an
/// error, in case a proxy or a server echoes the request back. Empty strings are ignored.
pub(crate) fn scrub(err: ExchangeError, secrets: &[&str]) -> ExchangeError {
    let secrets = with_json_escapes(secrets);
    let clean = |text: &mut String| {
        for secret in &secrets {
            if text.contains(secret) {
                *text = text.replace(secret, "[redacted]");
            }
        }
    };
    let mut err = err;
    match &mut err {
        ExchangeError::UnexpectedStatus { snippet, .. }
        | ExchangeError::NotJson { snippet, .. } => clean(snippet),
        ExchangeError::Rejected(r) => {
            clean(&mut r.error);
            if let Some(d) = &mut r.error_description {
                clean(d);
            }
            if let Some(u) = &mut r.error_uri {
                clean(u);
            }
        }
        ExchangeError::Redirected {
            location: Some(l), ..
        } => clean(l),
        _ => {}
    }
    err
}

/// The body with every occurrence of `secrets` replaced by `[redacted]`, before anything of it
/// can reach an error message (scrubbing after the snippet is cut could miss a cut secret).
/// Borrowed unchanged in the usual case where no secret occurs.
pub fn scrub_body<'a>(body: &'a [u8], secrets: &[&str]) -> std::borrow::Cow<'a, [u8]> {
    let secrets = with_json_escapes(secrets);
    let found = |secret: &String| body.windows(secret.len()).any(|w| w == secret.as_bytes());
    if !secrets.iter().any(found) {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut text = String::from_utf8_lossy(body).into_owned();
    for secret in &secrets {
        text = text.replace(secret.as_str(), "[redacted]");
    }
    std::borrow::Cow::Owned(text.into_bytes())
}

/// `secrets` (empty ones dropped) and the forms a JSON echo of them takes: a server that puts
/// the request into a JSON error body writes `"` as `\"`, `\` as `\\`, control characters
/// as `\uXXXX`, and may write `/` as `\/` and anything beyond ASCII as `\uXXXX` (in lower or
/// upper case hex). Longest first, so a form that contains another is replaced whole.
fn with_json_escapes(secrets: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let serde = serde_json::to_string(secret).unwrap_or_default();
        let plain = serde
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or_default()
            .to_owned();
        let slashes = plain.replace('/', "\\/");
        let mut ascii_lower = String::new();
        let mut ascii_upper = String::new();
        for c in plain.chars() {
            if c.is_ascii() {
                ascii_lower.push(c);
                ascii_upper.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    ascii_lower.push_str(&format!("\\u{unit:04x}"));
                    ascii_upper.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
        for form in [
            (*secret).to_owned(),
            plain,
            slashes,
            ascii_lower,
            ascii_upper,
        ] {
            if !form.is_empty() && !out.contains(&form) {
                out.push(form);
            }
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// `Retry-After` (RFC 9110 section 10.2.3): delta-seconds, or an HTTP-date counted from `now`
/// (a date already past means "retry now"). Anything else is ignored and the caller's backoff
/// applies.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only an overflow fails to parse, and that is "very long".
        let secs = value.parse::<u64>().unwrap_or(MAX_EXPIRES_IN);
        return Some(Duration::from_secs(secs.min(MAX_EXPIRES_IN)));
    }
    let at = UNIX_EPOCH + Duration::from_secs(parse_http_date(value)?);
    let wait = at.duration_since(now).unwrap_or(Duration::ZERO);
    Some(wait.min(Duration::from_secs(MAX_EXPIRES_IN)))
}

/// Seconds since the Unix epoch of an HTTP-date (RFC 9110 section 5.6.7) in any of its three
/// forms: `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate), `Sunday, 06-Nov-94 08:49:37 GMT`
/// (RFC 850) and `Sun Nov  6 08:49:37 1994` (asctime). The weekday is not checked.
fn parse_http_date(value: &str) -> Option<u64> {
    let words: Vec<&str> = value.split_ascii_whitespace().collect();
    let (day, month, year, time) = match words[..] {
        // IMF-fixdate: "Sun," "06" "Nov" "1994" "08:49:37" "GMT"
        [weekday, day, month, year, time, "GMT"] if weekday.ends_with(',') => {
            (day, month, number(year, 4)?, time)
        }
        // RFC 850: "Sunday," "06-Nov-94" "08:49:37" "GMT"; two-digit years are 1970-2069.
        [weekday, date, time, "GMT"] if weekday.ends_with(',') => {
            let mut parts = date.split('-');
            let (day, month, yy) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            let yy = number(yy, 2)?;
            (
                day,
                month,
                if yy < 70 { 2000 + yy } else { 1900 + yy },
                time,
            )
        }
        // asctime: "Sun" "Nov" "6" "08:49:37" "1994"
        [_weekday, month, day, time, year] => (day, month, number(year, 4)?, time),
        _ => return None,
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as u64 + 1;
    let day = if day.len() == 1 {
        number(day, 1)?
    } else {
        number(day, 2)?
    };
    let mut hms = time.split(':');
    let (h, m, sec) = (
        number(hms.next()?, 2)?,
        number(hms.next()?, 2)?,
        number(hms.next()?, 2)?,
    );
    if hms.next().is_some()
        || year < 1970
        || !(1..=31).contains(&day)
        || h > 23
        || m > 59
        || sec > 60
    {
        return None;
    }
    Some(days_since_epoch(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

/// `text` as a number of exactly `digits` ASCII digits.
fn number(text: &str, digits: usize) -> Option<u64> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar, for years from
/// 1970 (Howard Hinnant's `days_from_civil`).
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

/// The start of a body for an error message: lossy UTF-8, control characters and runs of
/// whitespace collapsed to one space, cut at [`SNIPPET_CHARS`] characters (never inside a
/// character). A body that names a token field (`access_token`, `refresh_token`,
/// `id_token`) is withheld whole: it might carry one.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Some(field) = TOKEN_FIELDS.iter().find(|f| text.contains(*f)) {
        return format!("[body withheld: it mentions {field}]");
    }
    sanitize(&text, SNIPPET_CHARS)
}

/// Field names whose presence withholds a whole error body.
const TOKEN_FIELDS: [&str; 3] = ["access_token", "refresh_token", "id_token"];

/// One line of server text for a person: terminal escape sequences removed whole
/// ([`crate::text::terminal_safe`]), other control characters and whitespace runs one
/// space, trimmed, cut at `max` chars with `...`.
pub fn sanitize(text: &str, max: usize) -> String {
    let text = crate::text::terminal_safe(text);
    let mut out = String::with_capacity(text.len().min(max + 3));
    let mut count = 0;
    let mut pending_space = false;
    for c in text.trim().chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = true;
            continue;
        }
        if count >= max {
            out.push_str("...");
            return out;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
            count += 1;
        }
        pending_space = false;
        out.push(c);
        count += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://kc/realms/r/protocol/openid-connect/token";

    fn raw(status: u16, body: &str) -> Raw<'_> {
        Raw {
            status,
            location: None,
            retry_after: None,
            body: body.as_bytes(),
        }
    }

    fn check(status: u16, body: &str, expected: &str) {
        let got = match interpret(URL, raw(status, body), UNIX_EPOCH) {
            Ok(t) => format!("{t:?}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn confirmation_of_bound_tokens() {
        use base64ct::{Base64UrlUnpadded, Encoding as _};
        let token_with = |claims: &str| {
            let payload = Base64UrlUnpadded::encode_string(claims.as_bytes());
            let body = format!(r#"{{"access_token":"e30.{payload}.sig","token_type":"DPoP"}}"#);
            interpret(URL, raw(200, &body), UNIX_EPOCH)
                .ok()
                .and_then(|t| t.confirmation())
        };
        assert_eq!(
            token_with(r#"{"cnf":{"x5t#S256":"abc"}}"#),
            Some(Confirmation {
                x5t_s256: Some("abc".into()),
                jkt: None
            })
        );
        assert_eq!(
            token_with(r#"{"cnf":{"jkt":"k1"}}"#).and_then(|c| c.jkt),
            Some("k1".into())
        );
        assert_eq!(token_with(r#"{"sub":"x"}"#), None);
        assert_eq!(token_with("not json"), None);
        let opaque = interpret(URL, raw(200, r#"{"access_token":"opaque"}"#), UNIX_EPOCH);
        assert_eq!(opaque.ok().and_then(|t| t.confirmation()), None);
    }

    #[test]
    fn keycloak_success() {
        let body = r#"{"access_token":"eyJhbGc.x.y","expires_in":300,"refresh_expires_in":0,"token_type":"Bearer","not-before-policy":0,"scope":"profile email"}"#;
        let t = interpret(URL, raw(200, body), UNIX_EPOCH).map_err(|e| e.to_string());
        let t = t.as_ref().map_err(String::as_str);
        assert!(t.is_ok(), "{t:?}");
        let Ok(t) = t else { return };
        assert_eq!(t.access_token.secret(), "eyJhbGc.x.y");
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.expires_in, Some(300));
        assert_eq!(t.scope.as_deref(), Some("profile email"));
        assert_eq!(t.expires_at, Some(UNIX_EPOCH + Duration::from_secs(300)));
        assert_eq!(t.extra.len(), 2);
        let debug = format!("{t:?}");
        assert!(!debug.contains("eyJ"), "{debug}");
        assert_eq!(
            debug,
            r#"TokenResponse { access_token: Secret([redacted]), token_type: "Bearer", expires_in: Some(300), scope: Some("profile email"), refresh_token: None, id_token: None, extra_fields: ["not-before-policy", "refresh_expires_in"], expires_at: Some(SystemTime { tv_sec: 300, tv_nsec: 0 }) }"#
        );
        let json = t.to_json_including_tokens();
        assert_eq!(json["access_token"], "eyJhbGc.x.y");
        assert_eq!(json["expires_at"], 300);
        assert_eq!(json["refresh_expires_in"], 0);
    }

    #[test]
    fn lenient_fields() {
        let t = interpret(
            URL,
            raw(
                200,
                r#"{"access_token":"t","expires_in":"60","id_token":"i","refresh_token":"r"}"#,
            ),
            UNIX_EPOCH,
        );
        let Ok(t) = t else { panic!("expected a token") };
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.expires_in, Some(60));
        assert_eq!(t.id_token.as_ref().map(IdToken::secret), Some("i"));
        assert_eq!(
            t.refresh_token.as_ref().map(RefreshToken::secret),
            Some("r")
        );
    }

    #[test]
    fn errors() {
        check(
            400,
            r#"{"error":"invalid_grant","error_description":"User not found"}"#,
            "token endpoint rejected the grant: invalid_grant: User not found",
        );
        check(
            401,
            r#"{"error":"invalid_client","error_description":"Invalid client or Invalid client credentials"}"#,
            "token endpoint rejected the client: invalid_client: Invalid client or Invalid client credentials",
        );
        check(
            502,
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\n<body></body></html>",
            &format!(
                "{URL} answered HTTP 502 Bad Gateway: <html> <head><title>502 Bad Gateway</title></head> <body></body></html>"
            ),
        );
        check(
            200,
            "<!doctype html><p>Welcome",
            &format!(
                "{URL} answered HTTP 200 OK with a body that is not JSON: <!doctype html><p>Welcome"
            ),
        );
        check(
            200,
            "access_token=abc&token_type=bearer",
            &format!(
                "{URL} answered HTTP 200 OK with a body that is not JSON: [body withheld: it mentions access_token]"
            ),
        );
        check(
            200,
            r#"{"token_type":"Bearer"}"#,
            &format!("{URL} answered HTTP 200 OK with JSON that has no access_token"),
        );
        check(
            200,
            r#"{"error":"invalid_grant","error_description":"Token reuse detected"}"#,
            "token endpoint rejected the grant: invalid_grant: Token reuse detected",
        );
        check(
            200,
            "{\"access_token\":\"t\\u001b]0;pwned\\u0007\"}",
            &format!(
                "{URL} answered HTTP 200 OK with an unusable token response: access_token has characters RFC 6749 does not allow in one (only printable ASCII)"
            ),
        );
        check(
            200,
            "{\"access_token\":\"t\",\"token_type\":\"Bearer\\u001b[2J\"}",
            &format!(
                "{URL} answered HTTP 200 OK with an unusable token response: token_type is not an RFC 6749 type name (letters, digits, '-', '.', '_')"
            ),
        );
        check(
            200,
            r#"{"access_token":"t","token_type":""}"#,
            &format!(
                "{URL} answered HTTP 200 OK with an unusable token response: token_type is not an RFC 6749 type name (letters, digits, '-', '.', '_')"
            ),
        );
        check(
            200,
            r#"{"access_token":42}"#,
            &format!(
                "{URL} answered HTTP 200 OK with an unusable token response: access_token is not a string"
            ),
        );
        check(
            200,
            r#"{"access_token":"t","expires_in":-5}"#,
            &format!(
                "{URL} answered HTTP 200 OK with an unusable token response: expires_in is not a non-negative number of seconds"
            ),
        );
        check(
            200,
            "[1,2]",
            &format!(
                "{URL} answered HTTP 200 OK with an unusable token response: the JSON is not an object"
            ),
        );
        // A 5xx with an OAuth-looking body is still a server failure, not a rejection.
        check(
            503,
            r#"{"error":"temporarily_unavailable"}"#,
            &format!(
                r#"{URL} answered HTTP 503 Service Unavailable: {{"error":"temporarily_unavailable"}}"#
            ),
        );
        check(
            404,
            r#"{"error":"Realm does not exist"}"#,
            "token endpoint URL not found (HTTP 404): Realm does not exist",
        );
    }

    #[test]
    fn redirect_names_location() {
        let r = Raw {
            status: 301,
            location: Some("https://kc/realms/r/protocol/openid-connect/token"),
            retry_after: None,
            body: b"",
        };
        let err = interpret(
            "http://kc/realms/r/protocol/openid-connect/token",
            r,
            UNIX_EPOCH,
        )
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "http://kc/realms/r/protocol/openid-connect/token answered HTTP 301 Moved Permanently redirecting to 'https://kc/realms/r/protocol/openid-connect/token' (redirects are not followed)"
            )
        );
    }

    #[test]
    fn retry_after_is_kept() {
        let r = Raw {
            status: 429,
            location: None,
            retry_after: Some(" 7 "),
            body: br#"{"error":"slow_down"}"#,
        };
        let err = interpret(URL, r, UNIX_EPOCH).err();
        assert_eq!(
            err.as_ref().and_then(ExchangeError::retry_after),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn retry_after_seconds_and_http_dates() {
        // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let check = |value: &str, expected: Option<u64>| {
            assert_eq!(
                parse_retry_after(value, now),
                expected.map(Duration::from_secs),
                "{value:?}"
            );
        };
        check("120", Some(120));
        check(" 0 ", Some(0));
        check("99999999999999999999", Some(MAX_EXPIRES_IN));
        check("Wed, 21 Oct 2015 07:28:30 GMT", Some(30));
        check("Wed, 21 Oct 2015 08:28:00 GMT", Some(3600));
        check("Thu, 22 Oct 2015 07:28:00 GMT", Some(86_400));
        check("Wednesday, 21-Oct-15 07:29:00 GMT", Some(60));
        check("Wed Oct 21 07:28:05 2015", Some(5));
        check("Wed Oct  1 07:28:05 2015", Some(0)); // in the past: retry now
        check("Sun, 06 Nov 1994 08:49:37 GMT", Some(0));
        check("Sat, 29 Feb 2020 00:00:00 GMT", Some(137_521_920)); // a leap day
        check("Fri, 01 Jan 2016 00:00:00 GMT", Some(6_193_920));
        for bad in [
            "",
            "soon",
            "-5",
            "1.5",
            "Wed, 21 Oct 2015 07:28:00 UTC",
            "Wed, 21 Foo 2015 07:28:00 GMT",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 24:00:00 GMT",
            "Wed, 21 Oct 2015 07:28 GMT",
            "Wed, 21 Oct 15 07:28:00 GMT",
            "Wed, 21 Oct 1969 07:28:00 GMT",
            "Wed, 21 Oct 2015 07:28:00:00 GMT",
            "Wednesday, 21-Oct-2015-x 07:28:00 GMT",
        ] {
            check(bad, None);
        }
    }

    #[test]
    fn retry_after_date_reaches_the_error() {
        let r = Raw {
            status: 503,
            location: None,
            retry_after: Some("Thu, 01 Jan 1970 00:00:10 GMT"),
            body: b"",
        };
        let err = interpret(URL, r, UNIX_EPOCH).err();
        assert_eq!(
            err.as_ref().and_then(ExchangeError::retry_after),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn echoed_secrets_are_scrubbed() {
        let err = interpret(
            URL,
            raw(403, "<p>blocked: client_secret=hunter2&assertion=h.p.s</p>"),
            UNIX_EPOCH,
        );
        let err = err.err().map(|e| scrub(e, &["hunter2", "h.p.s", ""]));
        assert_eq!(
            err.map(|e| e.to_string()),
            Some(format!(
                "{URL} answered HTTP 403 Forbidden: <p>blocked: client_secret=[redacted]&assertion=[redacted]</p>"
            ))
        );
    }

    #[test]
    fn secrets_are_scrubbed_from_the_body_before_the_cut() {
        let secret = "hunter2-hunter2";
        let body = format!("{}{secret}", "x".repeat(SNIPPET_CHARS - 5));
        let scrubbed = scrub_body(body.as_bytes(), &[secret, ""]);
        let s = snippet(&scrubbed);
        assert!(!s.contains("hunter"), "{s}");
        assert!(matches!(
            scrub_body(b"clean", &[secret]),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn json_escaped_echoes_are_scrubbed_before_the_cut() {
        let secret = "pa\"ss/wörd\\x";
        // Each way a JSON body may carry it, placed where the snippet would cut it in two.
        for echoed in [
            r#"pa\"ss/wörd\\x"#,
            r#"pa\"ss\/wörd\\x"#,
            r#"pa\"ss/w\u00f6rd\\x"#,
            r#"pa\"ss/w\u00F6rd\\x"#,
        ] {
            let body = format!(r#"{{"echo":"{}{echoed}"}}"#, "x".repeat(SNIPPET_CHARS - 14));
            let scrubbed = scrub_body(body.as_bytes(), &[secret]);
            let s = snippet(&scrubbed);
            assert!(!s.contains("pa\\\"") && !s.contains("rd"), "{echoed}: {s}");
            assert!(s.ends_with("[reda..."), "{echoed}: {s}");
            // Whole, in a rejection's description: `scrub` knows the escaped forms too.
            let body =
                format!(r#"{{"error":"invalid_client","error_description":"bad {echoed}"}}"#);
            let err = interpret(URL, raw(401, &body), UNIX_EPOCH).err();
            let text = err
                .map(|e| scrub(e, &[secret]).to_string())
                .unwrap_or_default();
            assert_eq!(
                text,
                "token endpoint rejected the client: invalid_client: bad [redacted]"
            );
        }
        assert_eq!(
            with_json_escapes(&["a/b", ""]),
            vec![r"a\/b".to_owned(), "a/b".to_owned()]
        );
    }

    #[test]
    fn bodies_naming_any_token_field_are_withheld_whole() {
        for (field, status) in [
            ("access_token", 502),
            ("refresh_token", 400),
            ("id_token", 200),
        ] {
            let body = format!(r#"<p>{{"{field}":"eyJ.secret.sig"}}"#);
            let err = interpret(URL, raw(status, &body), UNIX_EPOCH).err();
            let text = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(
                text.ends_with(&format!("[body withheld: it mentions {field}]")),
                "{text}"
            );
            assert!(!text.contains("eyJ"), "{text}");
        }
    }

    #[test]
    fn snippet_cuts_on_char_boundary() {
        let body = "é".repeat(300);
        let s = snippet(body.as_bytes());
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 3);
        assert!(s.ends_with("é..."));
        assert_eq!(snippet(&[0xff, 0xfe, b'a']), "\u{fffd}\u{fffd}a");
        assert_eq!(snippet(b"  a\x1b[31m \n b  "), "a b");
        assert_eq!(snippet(b""), "");
    }

    #[test]
    fn nonsense_never_panics() {
        let bodies: [&[u8]; 8] = [
            b"",
            b"null",
            b"{",
            br#"{"access_token":null}"#,
            br#"{"access_token":"t","expires_in":1e308}"#,
            br#"{"access_token":"t","expires_in":18446744073709551615}"#,
            br#"{"error":5}"#,
            &[0xc3, 0x28, 0xa0, 0xa1],
        ];
        for body in bodies {
            for status in [0, 100, 200, 204, 302, 400, 429, 500, 999] {
                let _ = interpret(
                    URL,
                    Raw {
                        status,
                        location: Some("\u{0}"),
                        retry_after: Some("99999999999999999999"),
                        body,
                    },
                    SystemTime::now(),
                );
            }
        }
    }

    #[test]
    fn mutated_responses_never_panic() {
        // Deterministic xorshift: the same 3,000 mutants every run, so a failure reproduces.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let seeds: [&[u8]; 3] = [
            br#"{"access_token":"a.b.c","token_type":"Bearer","expires_in":300,"refresh_expires_in":0,"scope":"email profile","not-before-policy":0}"#,
            br#"{"error":"invalid_grant","error_description":"User not found","error_uri":"https://x"}"#,
            b"<html><body>502 Bad Gateway</body></html>",
        ];
        // Bytes that make JSON, escapes and UTF-8 go wrong in interesting ways.
        const INSERTS: &[u8] = b"{}[]\",:\\u0e-\xff\x00";
        for i in 0..3_000 {
            let mut body = seeds[i % seeds.len()].to_vec();
            for _ in 0..1 + next() % 4 {
                let at = usize::try_from(next() % body.len() as u64).unwrap_or(0);
                match next() % 3 {
                    0 => body[at] = u8::try_from(next() % 256).unwrap_or(0),
                    1 => drop(body.drain(at..)),
                    _ => body.insert(
                        at,
                        INSERTS[usize::try_from(next() % INSERTS.len() as u64).unwrap_or(0)],
                    ),
                }
                if body.is_empty() {
                    break;
                }
            }
            let status = [200, 400, 401, 429, 502][i % 5];
            let _ = interpret(
                URL,
                Raw {
                    status,
                    location: None,
                    retry_after: None,
                    body: &body,
                },
                SystemTime::now(),
            );
        }
    }
}
