//! Value parsers for clap: each returns a message clap prints as a usage error (exit 2).

use std::time::Duration;

use serde_json::Value;

/// The algorithms the signer supports, spelled as in the JWS `alg` header.
pub const ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// A validated JWS algorithm name (converted to the signer's type where it is used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alg(pub String);

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn algorithm(s: &str) -> Result<Alg, String> {
    match ALGORITHMS.iter().find(|a| a.eq_ignore_ascii_case(s)) {
        Some(a) => Ok(Alg((*a).to_owned())),
        None if s.eq_ignore_ascii_case("none") || s.to_ascii_uppercase().starts_with("HS") => {
            Err(format!(
                "unsupported algorithm '{s}': Keycloak accepts only asymmetric algorithms ({})",
                ALGORITHMS.join(", ")
            ))
        }
        None => Err(format!(
            "unknown algorithm '{s}' (expected one of {})",
            ALGORITHMS.join(", ")
        )),
    }
}

/// RSA modulus sizes keygen offers.
pub fn bits(s: &str) -> Result<u32, String> {
    match s {
        "2048" => Ok(2048),
        "3072" => Ok(3072),
        "4096" => Ok(4096),
        _ => Err(format!(
            "unsupported RSA size '{s}' (expected 2048, 3072 or 4096)"
        )),
    }
}

/// A `--timeout`: a [`duration`] of at most [`jwtgrant_exchange::MAX_TIMEOUT`] (1h).
pub fn timeout(s: &str) -> Result<Duration, String> {
    let d = any_duration(s)?;
    if d > jwtgrant_exchange::MAX_TIMEOUT {
        return Err(format!(
            "timeout '{s}' is too long: the longest is 1h (3600 seconds)"
        ));
    }
    Ok(d)
}

/// `60s`, `5m`, `1h`, `90` (seconds), `500ms`; at most [`MAX_DURATION`] (24h).
pub fn duration(s: &str) -> Result<Duration, String> {
    let d = any_duration(s)?;
    if d > MAX_DURATION {
        return Err(format!(
            "duration '{s}' is too long: the longest is 24h (86400 seconds)"
        ));
    }
    Ok(d)
}

/// The longest [`duration`]: a day, far beyond any assertion lifetime Keycloak accepts,
/// and far from any overflow of the time arithmetic done with it.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

fn any_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("invalid duration '{s}' (expected e.g. 60s, 5m, 1h or 90 for seconds)");
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = |m: u64| n.checked_mul(m).map(Duration::from_secs).ok_or_else(bad);
    match unit.trim() {
        "" | "s" | "sec" | "secs" => secs(1),
        "m" | "min" | "mins" => secs(60),
        "h" => secs(3600),
        "ms" => Ok(Duration::from_millis(n)),
        _ => Err(bad()),
    }
}

/// `NAME=VALUE`: VALUE is JSON if it parses as JSON, otherwise a string.
pub fn claim(s: &str) -> Result<(String, Value), String> {
    let Some((name, value)) = s.split_once('=') else {
        return Err(format!(
            "invalid claim '{s}' (expected NAME=VALUE, e.g. tenant=acme or 'roles=[\"a\"]')"
        ));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("invalid claim '{s}': the name before '=' is empty"));
    }
    if let Some(msg) = registered_claim(name) {
        return Err(format!("invalid claim '{s}': {msg}"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((name.to_owned(), value))
}

/// Why a custom claim may not be named `name`, with the flag to use instead: the signer
/// sets the registered claims itself (and refuses them as custom claims).
pub fn registered_claim(name: &str) -> Option<String> {
    let instead = match name {
        "iss" => "use --iss",
        "sub" => "use --sub",
        "aud" => "use --aud (or --keycloak and --realm)",
        "exp" => "use --lifetime",
        "nbf" => "use --nbf",
        "iat" => "it is always the signing time",
        "jti" => "it is a fresh UUID for every assertion (Keycloak accepts each jti once)",
        _ => return None,
    };
    Some(format!(
        "'{name}' is a registered claim that jwtgrant sets itself: {instead}"
    ))
}

/// `SUB=USERNAME` for `keycloak setup --link`.
pub fn link(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((sub, user)) if !sub.is_empty() && !user.is_empty() => {
            Ok((sub.to_owned(), user.to_owned()))
        }
        _ => Err(format!(
            "invalid link '{s}' (expected SUB=USERNAME, e.g. nodejsuser-1234=alice)"
        )),
    }
}

/// An absolute http(s) URL with a host; returned as given, without a trailing slash.
/// The rules (and the redaction of a `user:password@` in the message) are the exchange
/// crate's, so every URL option is checked the same way.
pub fn http_url(s: &str) -> Result<String, String> {
    jwtgrant_exchange::validate_url(s).map_err(|e| e.to_string())?;
    Ok(s.trim().trim_end_matches('/').to_owned())
}

/// An HTTP method for a DPoP proof's `htm`: letters only, upper-cased (`get` -> `GET`).
pub fn http_method(s: &str) -> Result<String, String> {
    let m = s.trim();
    if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!(
            "'{s}' is not an HTTP method (use GET, POST, PUT, ...)"
        ));
    }
    Ok(m.to_ascii_uppercase())
}

/// An environment variable name a shell can `export`: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn env_var_name(s: &str) -> Result<String, String> {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "'{}' is not a variable name: use letters, digits and _, not starting with a digit",
            s.escape_debug()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations() {
        fn check(input: &str, expected: Option<u64>) {
            assert_eq!(
                duration(input).ok().map(|d| d.as_millis() as u64),
                expected,
                "{input}"
            );
        }
        check("60s", Some(60_000));
        check("5m", Some(300_000));
        check("90", Some(90_000));
        check("1h", Some(3_600_000));
        check("250ms", Some(250));
        check("", None);
        check("s", None);
        check("5x", None);
        check("-5", None);
        check("99999999999999999999h", None);
        check("24h", Some(86_400_000));
        check("86401", None);
        assert_eq!(
            duration("25h").unwrap_err(),
            "duration '25h' is too long: the longest is 24h (86400 seconds)"
        );
        assert_eq!(timeout("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(
            timeout("3601").unwrap_err(),
            "timeout '3601' is too long: the longest is 1h (3600 seconds)"
        );
        assert_eq!(
            timeout("5x").unwrap_err(),
            duration("5x").unwrap_err(),
            "a bad timeout gets the duration's message"
        );
    }

    #[test]
    fn claims() {
        fn check(input: &str, expected: Result<(&str, Value), &str>) {
            match (claim(input), expected) {
                (Ok((n, v)), Ok((en, ev))) => assert_eq!((n.as_str(), v), (en, ev), "{input}"),
                (Err(e), Err(fragment)) => assert!(e.contains(fragment), "{input}: {e}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
        check("tenant=acme", Ok(("tenant", json!("acme"))));
        check("n=42", Ok(("n", json!(42))));
        check("flag=true", Ok(("flag", json!(true))));
        check("roles=[\"a\",\"b\"]", Ok(("roles", json!(["a", "b"]))));
        check("obj={\"a\":1}", Ok(("obj", json!({"a": 1}))));
        check("s=\"quoted\"", Ok(("s", json!("quoted"))));
        check("eq=a=b", Ok(("eq", json!("a=b"))));
        check("empty=", Ok(("empty", json!(""))));
        check("novalue", Err("expected NAME=VALUE"));
        check("=x", Err("name before '=' is empty"));
    }

    #[test]
    fn urls_and_algs() {
        assert_eq!(
            http_url("http://localhost:8080/").as_deref(),
            Ok("http://localhost:8080")
        );
        assert!(
            http_url("localhost:8080")
                .unwrap_err()
                .contains("invalid URL")
        );
        assert!(http_url("ftp://x").unwrap_err().contains("scheme"));
        // A password in a URL never reaches the message, whether or not the URL parses.
        for bad in [
            "https://id:hunter2@kc:99999/token",
            "id:hunter2@kc/token",
            "https://id:hunter2@kc/token",
        ] {
            let err = http_url(bad).unwrap_err();
            assert!(!err.contains("hunter2"), "{err}");
            assert!(err.starts_with("invalid URL '"), "{err}");
        }
        assert_eq!(algorithm("es256"), Ok(Alg("ES256".into())));
        assert!(algorithm("HS256").unwrap_err().contains("asymmetric"));
        assert!(
            algorithm("XX1")
                .unwrap_err()
                .contains("unknown algorithm 'XX1'")
        );
        assert_eq!(link("a=b"), Ok(("a".into(), "b".into())));
        assert!(link("a").is_err());
    }
}
