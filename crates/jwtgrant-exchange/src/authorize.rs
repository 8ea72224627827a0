//! [`Authorizer`]: the headers a resource call needs, on an [`http::Request`], and what the
//! resource server's answer means for the token and the DPoP nonce. Pure: it reads a
//! [`TokenSource`] and signs proofs; the caller (a tower layer, a hand-written client) sends.

use std::fmt;

use http::header::{AUTHORIZATION, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};

use crate::dpop::{Dpop, USE_DPOP_NONCE};
use crate::error::ExchangeError;
use crate::secret::AccessToken;
use crate::source::TokenSource;

/// The header a resource server sends a new DPoP nonce in (RFC 9449 section 9).
pub const DPOP_NONCE_HEADER: &str = "dpop-nonce";
/// The `error` of a `WWW-Authenticate` challenge for a token the server does not accept
/// (RFC 6750 section 3.1: expired, revoked, malformed).
pub const INVALID_TOKEN: &str = "invalid_token";

const DPOP: HeaderName = HeaderName::from_static("dpop");
const DPOP_NONCE: HeaderName = HeaderName::from_static(DPOP_NONCE_HEADER);

/// Authorizes requests to resource servers with the tokens of a [`TokenSource`].
///
/// - [`Authorizer::authorize`] sets `Authorization: Bearer <token>`, or for a DPoP-bound
///   token (`token_type` `DPoP`) `Authorization: DPoP <token>` and a fresh `DPoP` proof made
///   by the exchange's [`Dpop`] key: `htm` and `htu` from the request (`htu` without query,
///   fragment or userinfo), `ath` the token's hash, and the latest nonce of that origin.
///   Both headers are marked sensitive (HTTP/2 does not index them, `Debug` hides them).
/// - [`Authorizer::check_response`] reads the answer: a `DPoP-Nonce` header is kept for that
///   origin, a `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"` carrying a new
///   nonce says [`Verdict::RetryWithNonce`] (once: authorize the request again and send it),
///   and a `401` with `error="invalid_token"` drops the token from the source
///   ([`TokenSource::invalidate`]) so the next request gets a new one.
///
/// No I/O of its own: [`Authorizer::authorize`] calls [`TokenSource::token`], which answers
/// from the cache once the source is filled (see [`TokenSource::ready`] and
/// [`TokenSource::refresh_ahead`] for async code). Cloning is cheap and clones share the
/// source and the nonces.
///
/// ```
/// use jwtgrant_exchange::{Authorizer, Exchange, TokenSource, Verdict};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # // A loopback token endpoint for the example.
/// # let stub = jwtgrant_test_support::Stub::start(|_, _| jwtgrant_test_support::Reply::json(
/// #     200, r#"{"access_token":"eyJ.the.token","token_type":"Bearer","expires_in":300}"#));
/// # let exchange = Exchange::new(&stub.url("/token"))?;
/// # let sign_assertion = || Ok::<_, std::io::Error>("h.p.s".to_owned());
/// let source = TokenSource::new(exchange, sign_assertion).refresh_ahead();
/// let authorizer = Authorizer::new(source);
/// let mut request = http::Request::get("https://api.example.com/v1/items?page=2").body(())?;
/// let sent = authorizer.authorize(&mut request)?;
/// assert_eq!(request.headers()["authorization"], "Bearer eyJ.the.token");
///
/// // ... send `request` with any client, then:
/// let response = http::Response::builder()
///     .status(401)
///     .header("www-authenticate", r#"Bearer error="invalid_token""#)
///     .body(())?;
/// assert_eq!(authorizer.check_response(&sent, &response), Verdict::TokenRejected);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Authorizer {
    source: TokenSource,
    dpop: Option<Dpop>,
}

/// What [`Authorizer::authorize`] put on a request, for [`Authorizer::check_response`].
/// `Debug` shows the scheme and the origin, never the token.
#[derive(Clone)]
pub struct Authorized {
    token: AccessToken,
    /// The request's URL, for a DPoP-bound token (the nonce is its origin's).
    dpop_url: Option<String>,
    /// The nonce the proof carried.
    sent_nonce: Option<String>,
}

/// What to do after a resource server's answer ([`Authorizer::check_response`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Nothing to do: hand the response on (success or not).
    Done,
    /// The server asked for a DPoP nonce and sent a new one: authorize the request again
    /// (the new proof carries it) and send it once more. Never twice in a row for one
    /// request: a server that keeps asking gets its answer handed on.
    RetryWithNonce,
    /// The server rejected the token (`401 invalid_token`); the source dropped it, so the
    /// next request gets a new one. This response is handed on.
    TokenRejected,
}

impl Authorizer {
    /// An authorizer for the tokens of `source`, with the exchange's DPoP key (if it has
    /// one, [`crate::Exchange::dpop`]) for DPoP-bound tokens.
    pub fn new(source: TokenSource) -> Self {
        let dpop = source.exchange().dpop_ref().cloned();
        Self { source, dpop }
    }

    /// The token source.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    /// Sets `Authorization` (and `DPoP` for a bound token) on `request`, replacing any there.
    /// Fails when the source has no token (the grant's error), or for a DPoP-bound token
    /// when the request's URI is not absolute http(s) (a proof needs it).
    pub fn authorize<B>(&self, request: &mut Request<B>) -> Result<Authorized, ExchangeError> {
        let (token, bound) = self.source.token_bound()?;
        let dpop = self.dpop.as_ref().filter(|_| bound);
        let (scheme, dpop_url, sent_nonce, proof) = match dpop {
            Some(dpop) => {
                let url = request.uri().to_string();
                let (proof, nonce) =
                    dpop.resource_proof_and_nonce(request.method().as_str(), &url, token.secret())?;
                ("DPoP", Some(url), nonce, Some(proof))
            }
            None => ("Bearer", None, None, None),
        };
        let unsendable = || ExchangeError::InvalidResponse {
            url: self.source.exchange().token_endpoint().to_owned(),
            status: 200,
            reason: "the access_token cannot be sent in an HTTP header".into(),
        };
        let authorization =
            sensitive(&format!("{scheme} {}", token.secret())).ok_or_else(unsendable)?;
        let proof = match proof {
            Some(p) => Some(sensitive(p.secret()).ok_or_else(unsendable)?),
            None => None,
        };
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, authorization);
        match proof {
            Some(proof) => headers.insert(DPOP, proof),
            None => headers.remove(DPOP),
        };
        Ok(Authorized {
            token,
            dpop_url,
            sent_nonce,
        })
    }

    /// Reads a resource server's answer to a request authorized as `sent`: keeps a new
    /// DPoP nonce, drops a rejected token, and says whether to send the request again.
    pub fn check_response<B>(&self, sent: &Authorized, response: &Response<B>) -> Verdict {
        let nonce_changed = match (&self.dpop, &sent.dpop_url) {
            (Some(dpop), Some(url)) => response
                .headers()
                .get(DPOP_NONCE)
                .and_then(|v| v.to_str().ok())
                .filter(|n| is_nonce(n))
                .map(|nonce| {
                    dpop.set_nonce_for(url, nonce);
                    sent.sent_nonce.as_deref() != Some(nonce)
                }),
            _ => None,
        };
        if response.status() != StatusCode::UNAUTHORIZED {
            return Verdict::Done;
        }
        let challenges: Vec<Challenge> = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(challenges)
            .collect();
        let wants_nonce = challenges
            .iter()
            .any(|c| c.scheme.eq_ignore_ascii_case("DPoP") && c.error() == Some(USE_DPOP_NONCE));
        if wants_nonce && nonce_changed == Some(true) {
            return Verdict::RetryWithNonce;
        }
        if challenges.iter().any(|c| c.error() == Some(INVALID_TOKEN)) {
            self.source.invalidate(&sent.token);
            return Verdict::TokenRejected;
        }
        Verdict::Done
    }
}

/// A header value that HTTP/2 must not index and `Debug` must not show. Tokens are printable
/// ASCII (the response parser refuses others) and proofs base64url, so `None` means a broken
/// invariant, reported as an error rather than a panic.
fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(value).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// A nonce as RFC 9449 allows one (`NQCHAR`: printable ASCII without `"` and `\`).
fn is_nonce(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

/// One challenge of a `WWW-Authenticate` header (RFC 9110 section 11.6.1).
#[derive(Debug, PartialEq, Eq)]
struct Challenge {
    scheme: String,
    /// Names lowercased; quoted values unquoted.
    params: Vec<(String, String)>,
}

impl Challenge {
    fn error(&self) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v.as_str())
    }
}

/// The challenges of one `WWW-Authenticate` value: `scheme [token68 | param=value, ...]`,
/// comma-separated. Lenient: what does not parse is skipped, never an error.
fn challenges(value: &str) -> Vec<Challenge> {
    let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            return out;
        }
        let end = rest.find(|c| !is_tchar(c)).unwrap_or(rest.len());
        if end == 0 {
            // Not a token: skip to the next comma.
            rest = rest.find(',').map_or("", |i| &rest[i..]);
            continue;
        }
        let token = &rest[..end];
        rest = &rest[end..];
        let after = rest.trim_start_matches([' ', '\t']);
        let Some(after_eq) = after.strip_prefix('=') else {
            out.push(Challenge {
                scheme: token.to_owned(),
                params: Vec::new(),
            });
            continue;
        };
        let value_start = after_eq.trim_start_matches([' ', '\t']);
        let (value, remaining) = if let Some(quoted) = value_start.strip_prefix('"') {
            let mut text = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            text.push(escaped);
                        }
                    }
                    c => text.push(c),
                }
            }
            (Some(text), &quoted[end.min(quoted.len())..])
        } else {
            let end = value_start
                .find(|c| !is_tchar(c))
                .unwrap_or(value_start.len());
            if end == 0 {
                // `token68` (`Basic dXNlcg==`): no parameter; skip to the next comma.
                (
                    None,
                    value_start.find(',').map_or("", |i| &value_start[i..]),
                )
            } else {
                (Some(value_start[..end].to_owned()), &value_start[end..])
            }
        };
        rest = remaining;
        if let (Some(value), Some(challenge)) = (value, out.last_mut()) {
            challenge.params.push((token.to_ascii_lowercase(), value));
        }
    }
}

impl Authorized {
    /// The scheme the request was sent with: `"Bearer"` or `"DPoP"`. Only a DPoP request can
    /// meet a nonce challenge, so only its body needs keeping for a retry.
    pub fn scheme(&self) -> &'static str {
        if self.dpop_url.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }
    }
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer")
            .field("source", &self.source)
            .field("dpop", &self.dpop)
            .finish()
    }
}

impl fmt::Debug for Authorized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = self
            .dpop_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| u.origin().ascii_serialization());
        f.debug_struct("Authorized")
            .field("scheme", &self.scheme())
            .field("origin", &origin)
            .field("nonce_sent", &self.sent_nonce.is_some())
            .finish()
    }
}

/// Compile-time check: shared by every task of a service.
const _: () = {
    const fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Authorizer>();
    assert_send_sync::<Authorized>();
};

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;
    use crate::Exchange;

    const KEY: &str = include_str!("../../jwtgrant-signer/tests/fixtures/es256-pkcs8.pem");

    fn signer() -> jwtgrant_signer::Signer {
        jwtgrant_signer::Signer::from_pem(KEY.as_bytes()).expect("key")
    }

    /// An authorizer whose source holds `token` (DPoP-bound when `bound`), with a DPoP key.
    fn authorizer(token: &str, bound: bool) -> Authorizer {
        let exchange = Exchange::new("http://127.0.0.1:9/token")
            .expect("url")
            .dpop(signer());
        let source = TokenSource::new(exchange, || Ok::<_, std::io::Error>(String::new()));
        source.fill_for_tests(token, bound, Duration::from_secs(300));
        Authorizer::new(source)
    }

    /// The claims of the `DPoP` header of `request`, verified with the test key.
    fn proof_claims_of<B>(request: &Request<B>) -> Option<Value> {
        let proof = request.headers().get("dpop")?.to_str().ok()?;
        let verified = jwtgrant_signer::verify(proof, &signer().public_key()).expect("verifies");
        assert_eq!(verified.header()["typ"], "dpop+jwt");
        let mut claims = verified.claims().clone();
        let obj = claims.as_object_mut()?;
        assert!(obj.remove("jti").is_some() && obj.remove("iat").is_some());
        Some(claims)
    }

    #[test]
    fn authorize_sets_the_headers_the_token_needs() {
        let ath = jwtgrant_signer::sha256_base64url(b"tok-1");
        // (bound, origin nonce, method, uri) -> (Authorization, proof claims without jti/iat)
        let check = |bound: bool,
                     nonce: Option<&str>,
                     method: &str,
                     uri: &str,
                     authorization: &str,
                     claims: Option<Value>| {
            let auth = authorizer("tok-1", bound);
            if let (Some(n), Some(dpop)) = (nonce, &auth.dpop) {
                dpop.set_nonce_for("https://rs.example/", n);
            }
            let mut request = Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", "Basic old")
                .header("dpop", "stale-proof")
                .body(())
                .expect("request");
            let sent = auth.authorize(&mut request).expect("authorized");
            let value = &request.headers()["authorization"];
            assert_eq!(value, authorization, "{method} {uri}");
            assert!(value.is_sensitive());
            assert_eq!(request.headers().get_all("authorization").iter().count(), 1);
            let nonce_in_proof = claims.as_ref().and_then(|c| c.get("nonce")?.as_str());
            assert_eq!(sent.sent_nonce.as_deref(), nonce_in_proof);
            assert_eq!(proof_claims_of(&request), claims, "{method} {uri}");
            assert!(!format!("{sent:?}").contains("tok-1"));
        };
        check(
            false,
            None,
            "GET",
            "https://rs.example/api?q=1",
            "Bearer tok-1",
            None,
        );
        // Bearer needs no absolute URI (the request may be relative, e.g. behind a proxy).
        check(false, Some("n-1"), "POST", "/api", "Bearer tok-1", None);
        check(
            true,
            None,
            "GET",
            "https://rs.example/api/items?page=2#top",
            "DPoP tok-1",
            Some(json!({"htm": "GET", "htu": "https://rs.example/api/items", "ath": ath})),
        );
        // The origin's nonce; userinfo never reaches the proof.
        check(
            true,
            Some("n-1"),
            "DELETE",
            "https://user:pw@rs.example/api/1",
            "DPoP tok-1",
            Some(
                json!({"htm": "DELETE", "htu": "https://rs.example/api/1", "ath": ath, "nonce": "n-1"}),
            ),
        );
        // Another origin gets none of rs.example's nonce.
        check(
            true,
            Some("n-1"),
            "PUT",
            "http://127.0.0.1:8080/x",
            "DPoP tok-1",
            Some(json!({"htm": "PUT", "htu": "http://127.0.0.1:8080/x", "ath": ath})),
        );
    }

    #[test]
    fn a_bound_token_needs_an_absolute_uri() {
        let auth = authorizer("tok-1", true);
        let mut request = Request::get("/relative").body(()).expect("request");
        let err = auth.authorize(&mut request).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid URL '/relative': relative URL without a base (a DPoP proof needs the absolute URL of the request)"
        );
        assert!(request.headers().get("authorization").is_none());
    }

    #[test]
    fn responses_say_what_to_do() {
        // (bound, nonce the proof carried, status, WWW-Authenticate values, DPoP-Nonce)
        //   -> (verdict, the origin's nonce afterwards, token still cached)
        #[allow(clippy::type_complexity)] // a table row, read once
        let check = |bound: bool,
                     sent: Option<&str>,
                     status: u16,
                     challenges: &[&str],
                     nonce: Option<&str>,
                     want: (Verdict, Option<&str>, bool)| {
            let auth = authorizer("tok-1", bound);
            let dpop = auth.dpop.clone().expect("dpop");
            if let Some(n) = sent {
                dpop.set_nonce_for("https://rs.example/", n);
            }
            let mut request = Request::get("https://rs.example/api")
                .body(())
                .expect("req");
            let authorized = auth.authorize(&mut request).expect("authorized");
            let mut response = Response::builder().status(status);
            for c in challenges {
                response = response.header("www-authenticate", *c);
            }
            if let Some(n) = nonce {
                response = response.header("dpop-nonce", n);
            }
            let response = response.body(()).expect("response");
            let verdict = auth.check_response(&authorized, &response);
            let cached = auth.source.cached_now().map(|(t, _)| t.secret().to_owned());
            let got = (
                verdict,
                dpop.nonce_for("https://rs.example/x"),
                cached.as_deref() == Some("tok-1"),
            );
            let want = (want.0, want.1.map(str::to_owned), want.2);
            assert_eq!(got, want, "{status} {challenges:?} {nonce:?}");
        };
        use Verdict::*;
        let use_nonce = r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#;
        check(true, None, 200, &[], None, (Done, None, true));
        // A nonce in any answer is kept for the next proof, without a retry.
        check(true, None, 200, &[], Some("n-2"), (Done, Some("n-2"), true));
        // The challenge with a new nonce: retry once.
        check(
            true,
            None,
            401,
            &[use_nonce],
            Some("n-2"),
            (RetryWithNonce, Some("n-2"), true),
        );
        check(
            true,
            Some("n-1"),
            401,
            &[use_nonce],
            Some("n-2"),
            (RetryWithNonce, Some("n-2"), true),
        );
        // Asking again for the nonce the proof carried, or without one: no loop.
        check(
            true,
            Some("n-2"),
            401,
            &[use_nonce],
            Some("n-2"),
            (Done, Some("n-2"), true),
        );
        check(true, None, 401, &[use_nonce], None, (Done, None, true));
        // A bad nonce header is ignored.
        check(
            true,
            None,
            401,
            &[use_nonce],
            Some("a\"b"),
            (Done, None, true),
        );
        // Among other challenges, in one header or several.
        check(
            true,
            None,
            401,
            &[&format!(r#"Bearer realm="rs", {use_nonce}"#)],
            Some("n-3"),
            (RetryWithNonce, Some("n-3"), true),
        );
        check(
            true,
            None,
            401,
            &["Basic realm=\"x\"", use_nonce],
            Some("n-3"),
            (RetryWithNonce, Some("n-3"), true),
        );
        // A Bearer token gets no DPoP nonce handling.
        check(
            false,
            None,
            401,
            &[use_nonce],
            Some("n-2"),
            (Done, None, true),
        );
        // invalid_token drops the token, under either scheme.
        check(
            false,
            None,
            401,
            &[
                r#"Bearer realm="rs", error="invalid_token", error_description="The access token expired""#,
            ],
            None,
            (TokenRejected, None, false),
        );
        check(
            true,
            None,
            401,
            &[r#"DPoP algs="ES256", error="invalid_token""#],
            None,
            (TokenRejected, None, false),
        );
        check(
            false,
            None,
            401,
            &["Bearer error=invalid_token"],
            None,
            (TokenRejected, None, false),
        );
        // Not a rejection of the token: kept.
        check(
            false,
            None,
            401,
            &[r#"Bearer realm="rs""#],
            None,
            (Done, None, true),
        );
        check(
            false,
            None,
            403,
            &[r#"Bearer error="insufficient_scope""#],
            None,
            (Done, None, true),
        );
        check(
            false,
            None,
            403,
            &[r#"Bearer error="invalid_token""#],
            None,
            (Done, None, true),
        );
        check(false, None, 500, &[], None, (Done, None, true));
    }

    #[test]
    fn invalidation_drops_only_the_token_it_names() {
        let auth = authorizer("tok-1", false);
        let mut request = Request::get("https://rs.example/").body(()).expect("req");
        let first = auth.authorize(&mut request).expect("authorized");
        // Another request's 401 with the same token, after a refresh replaced it: kept.
        auth.source
            .fill_for_tests("tok-2", false, Duration::from_secs(300));
        let rejected = Response::builder()
            .status(401)
            .header("www-authenticate", r#"Bearer error="invalid_token""#)
            .body(())
            .expect("response");
        assert_eq!(
            auth.check_response(&first, &rejected),
            Verdict::TokenRejected
        );
        let cached = auth.source.cached_now().map(|(t, _)| t.secret().to_owned());
        assert_eq!(cached.as_deref(), Some("tok-2"));
        assert_eq!(auth.source.stats().invalidations, 0);
        let second = auth.authorize(&mut request).expect("authorized");
        assert_eq!(
            auth.check_response(&second, &rejected),
            Verdict::TokenRejected
        );
        assert!(auth.source.cached_now().is_none());
        assert_eq!(auth.source.stats().invalidations, 1);
    }

    #[test]
    fn www_authenticate_parses_into_challenges() {
        let check = |value: &str, want: &[(&str, &[(&str, &str)])]| {
            let got = challenges(value);
            let want: Vec<Challenge> = want
                .iter()
                .map(|(scheme, params)| Challenge {
                    scheme: (*scheme).to_owned(),
                    params: params
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                })
                .collect();
            assert_eq!(got, want, "{value}");
        };
        check("", &[]);
        check("Bearer", &[("Bearer", &[])]);
        check(
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
            &[(
                "Bearer",
                &[
                    ("realm", "example"),
                    ("error", "invalid_token"),
                    ("error_description", "The access token expired"),
                ],
            )],
        );
        check(
            r#"DPoP algs="ES256 PS256", error="use_dpop_nonce", Bearer realm="x""#,
            &[
                (
                    "DPoP",
                    &[("algs", "ES256 PS256"), ("error", "use_dpop_nonce")],
                ),
                ("Bearer", &[("realm", "x")]),
            ],
        );
        // token68, odd spacing, escapes, unquoted values, case of names, junk.
        check(
            r#"Basic dXNlcjpwYXNz==, Newauth REALM = "a\"b, c" ,  ERROR=Invalid_Token , ==="#,
            &[
                ("Basic", &[]),
                (
                    "Newauth",
                    &[("realm", "a\"b, c"), ("error", "Invalid_Token")],
                ),
            ],
        );
        check(
            r#"DPoP error="unterminated"#,
            &[("DPoP", &[("error", "unterminated")])],
        );
        check("realm=x", &[]);
    }
}
