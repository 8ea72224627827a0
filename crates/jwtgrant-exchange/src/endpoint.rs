//! Where the token endpoint is: URL checks and OpenID discovery documents.
//! Pure functions.

use std::net::IpAddr;

use serde_json::Value;
use url::{Host, Url};

use crate::error::ExchangeError;
use crate::response::{SNIPPET_CHARS, sanitize, snippet};

/// Checks `input` against the rules every URL given to this crate must pass: absolute,
/// `http` or `https`, with a host, without credentials or a fragment. The error names the URL
/// with any `user:password@` replaced by `[redacted]`, so a front end can use this for its
/// own URL options and show the message as it is.
pub fn validate_url(input: &str) -> Result<(), ExchangeError> {
    parse_url(input).map(drop)
}

/// Parses a URL under the rules of [`validate_url`] (absolute, `http` or `https`, with a
/// host, without credentials or a fragment), for callers that send through a [`crate::Transport`].
pub fn parse_url(input: &str) -> Result<Url, ExchangeError> {
    let invalid = |url: &str, reason: &str| ExchangeError::InvalidUrl {
        url: shown_url(url),
        reason: reason.to_owned(),
    };
    let url = Url::parse(input.trim()).map_err(|e| invalid(input.trim(), &e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        let mut shown = url.clone();
        // Setting credentials on an http(s) URL with a host cannot fail; ignore the Result.
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        return Err(invalid(
            shown.as_str(),
            "it carries credentials; pass the client secret through client authentication instead",
        ));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(url.as_str(), "the scheme must be http or https"));
    }
    if url.host().is_none() {
        return Err(invalid(url.as_str(), "it has no host"));
    }
    if url.fragment().is_some() {
        return Err(invalid(url.as_str(), "it has a #fragment"));
    }
    Ok(url)
}

/// A URL as an error may show it: its userinfo redacted ([`without_userinfo`]), sanitized
/// and cut. Every `InvalidUrl` is made with it.
pub(crate) fn shown_url(input: &str) -> String {
    sanitize(&without_userinfo(input), SNIPPET_CHARS)
}

/// `input` with the userinfo of its authority (`user:password@`) replaced by `[redacted]`, for
/// messages about a URL that did not parse: a password in it must not reach the error.
fn without_userinfo(input: &str) -> String {
    let (scheme, rest) = match input.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, input),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((_, host)) = authority.rsplit_once('@') else {
        return input.to_owned();
    };
    match scheme {
        Some(scheme) => format!("{scheme}://[redacted]@{host}{tail}"),
        None => format!("[redacted]@{host}{tail}"),
    }
}

/// Refuses plain http to a host that is not loopback, unless `allow_insecure_http`.
pub(crate) fn check_scheme(url: &Url, allow_insecure_http: bool) -> Result<(), ExchangeError> {
    if url.scheme() == "http" && !allow_insecure_http && !is_loopback(url) {
        return Err(ExchangeError::InsecureHttp {
            url: url.as_str().to_owned(),
        });
    }
    Ok(())
}

/// `localhost` (when it resolves to loopback addresses only), 127.0.0.0/8 or `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost") && localhost_is_loopback(),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Whether `localhost` resolves here to loopback addresses only. The name is trusted as
/// this machine for plain http and to bypass a proxy, so a resolver (an `/etc/hosts` line)
/// that sends it anywhere else makes it an ordinary remote host. Resolved once per process.
fn localhost_is_loopback() -> bool {
    static ANSWER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ANSWER.get_or_init(|| {
        use std::net::ToSocketAddrs as _;
        let answer = ("localhost", 0)
            .to_socket_addrs()
            .map(|addrs| all_loopback(addrs.map(|a| a.ip())))
            .unwrap_or(false);
        if !answer {
            log::warn!(
                "'localhost' does not resolve to loopback addresses only here: it is treated as a remote host (https required, proxy applies)"
            );
        }
        answer
    })
}

/// True when there is at least one address and every one is loopback.
fn all_loopback(addrs: impl IntoIterator<Item = IpAddr>) -> bool {
    let mut any = false;
    for ip in addrs {
        if !ip.is_loopback() {
            return false;
        }
        any = true;
    }
    any
}

/// `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 section 4).
pub(crate) fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim().trim_end_matches('/')
    )
}

/// What discovery yields: the token endpoint, and the issuer (the assertion's audience).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Discovered {
    pub token_endpoint: String,
    pub issuer: String,
}

/// Reads a discovery document. Its `issuer` must equal the one asked for (trailing slashes
/// aside), as the spec requires, so a document cannot redirect credentials elsewhere by name.
pub(crate) fn parse_discovery(
    doc_url: &str,
    expected_issuer: &str,
    status: u16,
    body: &[u8],
) -> Result<Discovered, ExchangeError> {
    let fail = |reason: String| ExchangeError::Discovery {
        url: doc_url.to_owned(),
        reason,
    };
    if !(200..300).contains(&status) {
        let snip = snippet(body);
        return Err(fail(if snip.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {snip}")
        }));
    }
    let json: Value = serde_json::from_slice(body)
        .map_err(|_| fail(format!("the answer is not JSON: {}", snippet(body))))?;
    let text = |key: &str| -> Result<String, ExchangeError> {
        match json.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            None | Some(Value::Null) => Err(fail(format!("the document has no {key}"))),
            Some(_) => Err(fail(format!("{key} is not a non-empty string"))),
        }
    };
    let issuer = text("issuer")?;
    if issuer.trim_end_matches('/') != expected_issuer.trim().trim_end_matches('/') {
        return Err(fail(format!(
            "the document names issuer '{}', not '{}'",
            sanitize(&issuer, SNIPPET_CHARS),
            sanitize(expected_issuer, SNIPPET_CHARS)
        )));
    }
    let token_endpoint = text("token_endpoint")?;
    parse_url(&token_endpoint).map_err(|e| fail(format!("token_endpoint is unusable: {e}")))?;
    Ok(Discovered {
        token_endpoint,
        issuer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        match parse_url(s) {
            Ok(u) => u,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn err(s: &str) -> String {
        parse_url(s)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn url_checks() {
        assert_eq!(
            err("not a url"),
            "invalid URL 'not a url': relative URL without a base"
        );
        assert_eq!(
            err("ftp://x/token"),
            "invalid URL 'ftp://x/token': the scheme must be http or https"
        );
        assert_eq!(
            err("https://id:hunter2@kc/token"),
            "invalid URL 'https://kc/token': it carries credentials; pass the client secret through client authentication instead"
        );
        assert!(!err("https://id:hunter2@kc/token").contains("hunter2"));
        // A URL that does not parse must not carry its password into the error either.
        assert_eq!(
            err("https://id:hunter2@kc:99999/token"),
            "invalid URL 'https://[redacted]@kc:99999/token': invalid port number"
        );
        assert_eq!(
            err("https://a@b:hunter2@kc:x/t?q=@"),
            "invalid URL 'https://[redacted]@kc:x/t?q=@': invalid port number"
        );
        assert_eq!(
            err("id:hunter2@kc/token"),
            "invalid URL '[redacted]@kc/token': the scheme must be http or https"
        );
        assert_eq!(
            err("https://kc/token#x"),
            "invalid URL 'https://kc/token#x': it has a #fragment"
        );
    }

    #[test]
    fn localhost_counts_as_loopback_only_when_it_resolves_there() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(all_loopback([ip("127.0.0.1"), ip("::1")]));
        assert!(all_loopback([ip("127.0.1.1")]));
        // One address elsewhere is enough to make it a remote host; so is no address.
        assert!(!all_loopback([ip("127.0.0.1"), ip("10.0.0.5")]));
        assert!(!all_loopback([ip("192.0.2.7")]));
        assert!(!all_loopback([]));
        // This machine's resolver maps it to loopback (the tests' own servers rely on it).
        assert!(localhost_is_loopback());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://localhost:8080/t",
            "http://LOCALHOST/t",
            "http://127.0.0.1/t",
            "http://127.1.2.3:9/t",
            "http://[::1]:8080/t",
            "https://kc.example/t",
        ] {
            assert!(check_scheme(&url(ok), false).is_ok(), "{ok}");
        }
        for bad in [
            "http://kc.example/t",
            "http://10.0.0.1/t",
            "http://localhost.evil.example/t",
            "http://[::2]/t",
        ] {
            let e = check_scheme(&url(bad), false).err().map(|e| e.to_string());
            assert_eq!(
                e,
                Some(format!(
                    "refusing plain http to '{bad}': the host is not loopback and the client credentials would travel in clear text"
                ))
            );
            assert!(check_scheme(&url(bad), true).is_ok(), "{bad}");
        }
    }

    #[test]
    fn discovery_documents() {
        let doc = "https://kc/realms/r/.well-known/openid-configuration";
        assert_eq!(discovery_url("https://kc/realms/r/"), doc);
        let ok = br#"{"issuer":"https://kc/realms/r","token_endpoint":"https://kc/realms/r/protocol/openid-connect/token"}"#;
        assert_eq!(
            parse_discovery(doc, "https://kc/realms/r/", 200, ok).ok(),
            Some(Discovered {
                token_endpoint: "https://kc/realms/r/protocol/openid-connect/token".into(),
                issuer: "https://kc/realms/r".into(),
            })
        );
        let check = |status: u16, body: &str, expected: &str| {
            let got = parse_discovery(doc, "https://kc/realms/r", status, body.as_bytes())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert_eq!(got, format!("OpenID discovery at {doc} failed: {expected}"));
        };
        check(404, "", "HTTP 404");
        check(200, "<html>", "the answer is not JSON: <html>");
        check(
            200,
            r#"{"issuer":"https://kc/realms/r"}"#,
            "the document has no token_endpoint",
        );
        check(
            200,
            r#"{"issuer":"https://kc/realms/r","token_endpoint":7}"#,
            "token_endpoint is not a non-empty string",
        );
        check(
            200,
            r#"{"issuer":"https://kc/realms/r","token_endpoint":"/token"}"#,
            "token_endpoint is unusable: invalid URL '/token': relative URL without a base",
        );
        check(
            200,
            r#"{"issuer":"https://evil/realms/r","token_endpoint":"https://evil/t"}"#,
            "the document names issuer 'https://evil/realms/r', not 'https://kc/realms/r'",
        );
    }
}
