//! `inspect`: header and claims, times in words, Keycloak's likely objections, signature.

use anyhow::Result;
use serde_json::Value;

use super::Globals;
use crate::cli::InspectArgs;
use crate::error::{Coded, FAILURE};
use crate::files;

pub fn run(args: &InspectArgs, g: &Globals) -> Result<()> {
    let token = if args.token == "-" {
        files::read_stdin_trimmed("JWT")?
    } else {
        args.token.trim().to_owned()
    };
    let (header, claims) = super::decode(&token)?;
    let now = super::sign::unix_now();
    let mut out = String::new();
    out.push_str("header:\n");
    out.push_str(&serde_json::to_string_pretty(&header)?);
    out.push_str("\nclaims:\n");
    out.push_str(&serde_json::to_string_pretty(&claims)?);
    out.push('\n');
    let times = times(&claims, now);
    if !times.is_empty() {
        out.push_str("times:\n");
        for line in times {
            out.push_str(&format!("  {line}\n"));
        }
    }
    for w in warnings(&header, &claims, now) {
        out.push_str(&format!("warning: {w}\n"));
    }
    let verdict = match (&args.key, &args.jwks) {
        (Some(path), _) => {
            let key = super::keys::public_key(path, g)?;
            Some((
                jwtgrant_signer::verify(&token, &key).map(|_| ()),
                format!("key '{}'", path.display()),
            ))
        }
        (None, Some(path)) => {
            let text = String::from_utf8(files::read(path, "JWKS file")?)
                .map_err(|_| anyhow::anyhow!("JWKS file '{}' is not UTF-8", path.display()))?;
            let jwks = jwtgrant_signer::Jwks::from_json(&text)
                .map_err(|e| anyhow::anyhow!("cannot read JWKS file '{}': {e}", path.display()))?;
            Some((
                jwtgrant_signer::verify_with_jwks(&token, &jwks).map(|_| ()),
                format!("JWKS '{}'", path.display()),
            ))
        }
        (None, None) => None,
    };
    match verdict {
        None => {
            out.push_str("signature: not checked (pass --key FILE or --jwks FILE)\n");
            files::stdout(&out)
        }
        Some((Ok(()), with)) => {
            out.push_str(&format!("signature: valid ({with})\n"));
            files::stdout(&out)
        }
        Some((Err(e), with)) => {
            out.push_str(&format!("signature: INVALID with {with}: {e}\n"));
            files::stdout(&out)?;
            Err(Coded {
                code: FAILURE,
                message: format!("the signature does not verify with {with}: {e}"),
                hint: None,
            }
            .into())
        }
    }
}

/// A NumericDate (RFC 7519 section 2): seconds since 1970, possibly fractional.
#[allow(
    clippy::cast_possible_truncation,
    reason = "whole seconds are enough here"
)]
/// Keycloak's default maximum assertion lifetime, from the Keycloak zone (one place).
const MAX_EXPIRATION: i64 = jwtgrant_keycloak::doctor::DEFAULT_MAX_EXPIRATION;

fn numeric_date(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

/// `iat`, `nbf`, `exp` as dates and relative to now. The times are whatever the token says
/// (`-1e300` reads as `i64::MIN`), so differences saturate rather than overflow.
fn times(claims: &Value, now: i64) -> Vec<String> {
    let mut lines = Vec::new();
    for name in ["iat", "nbf", "exp"] {
        let Some(t) = claims.get(name).and_then(numeric_date) else {
            continue;
        };
        let rel = if name == "exp" && t <= now {
            format!("expired {} ago", span(now.saturating_sub(t)))
        } else if t == now {
            "now".to_owned()
        } else if t > now {
            format!("in {}", span(t.saturating_sub(now)))
        } else {
            format!("{} ago", span(now.saturating_sub(t)))
        };
        lines.push(format!("{name}  {}  ({rel})", date(t)));
    }
    lines
}

/// `2026-11-28 12:00:05 UTC`.
pub fn date(t: i64) -> String {
    let fmt =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_else(|| format!("{t} (not a valid time)"))
}

/// `45 s`, `3 min`, `5 h`, `2 days`.
pub fn span(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// What Keycloak's JWT Authorization Grant will object to, as far as the token alone shows.
/// Keycloak's words come from the library's rejection table.
pub fn warnings(header: &Value, claims: &Value, now: i64) -> Vec<String> {
    use jwtgrant_keycloak::Description as D;
    let mut w = Vec::new();
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg.is_empty()
        || alg.eq_ignore_ascii_case("none")
        || alg.to_ascii_uppercase().starts_with("HS")
    {
        w.push(format!(
            "alg '{alg}': Keycloak accepts only asymmetric algorithms (RS*, PS*, ES*, EdDSA) and answers \"{}\"",
            D::InvalidAlgorithm
        ));
    }
    match claims.get("iss").and_then(Value::as_str) {
        None => w.push(format!("no iss: Keycloak answers \"{}\"", D::MissingIss)),
        Some(iss) if url::Url::parse(iss).map(|u| u.scheme() != "http" && u.scheme() != "https").unwrap_or(true) => {
            w.push(format!("iss '{iss}' is not a URL: a Keycloak identity provider's issuer must be an http(s) URL, so no provider can match it"))
        }
        Some(_) => {}
    }
    if claims.get("sub").and_then(Value::as_str).is_none() {
        w.push(format!("no sub: Keycloak answers \"{}\"", D::MissingSub));
    }
    match claims.get("aud") {
        None => w.push(format!(
            "no aud: Keycloak answers \"{}\" (use <base>/realms/<realm>)",
            D::InvalidAudience
        )),
        Some(Value::Array(a)) => w.push(format!(
            "aud is an array ({} values): Keycloak wants exactly one string and answers \"{}\" or \"{}\"",
            a.len(),
            D::MultipleAudiences,
            D::InvalidAudience
        )),
        Some(_) => {}
    }
    if claims.get("jti").and_then(Value::as_str).is_none() {
        w.push(format!(
            "no jti: Keycloak answers \"{}\" unless the provider allows assertion reuse",
            D::JtiRequired
        ));
    }
    let num = |n: &str| claims.get(n).and_then(numeric_date);
    for name in ["exp", "iat", "nbf"] {
        if let Some(v) = claims.get(name).filter(|_| num(name).is_none()) {
            w.push(format!(
                "{name} {v} is not a NumericDate (seconds since 1970): Keycloak cannot read the assertion"
            ));
        }
    }
    match num("exp") {
        None if claims.get("exp").is_some() => {}
        None => w.push(format!("no exp: Keycloak answers \"{}\"", D::ExpRequired)),
        Some(exp) if exp < now => w.push(format!(
            "expired {} ago: Keycloak answers \"{}\"",
            span(now.saturating_sub(exp)),
            D::NotActive
        )),
        Some(exp) if exp.saturating_sub(now) > MAX_EXPIRATION => w.push(format!(
            "exp is {} s ahead, more than Keycloak's default maximum of {MAX_EXPIRATION} s (jwtAuthorizationGrantMaxAllowedAssertionExpiration){}",
            exp.saturating_sub(now),
            if num("iat").is_none() { ": without iat Keycloak rejects it" } else { "" }
        )),
        Some(_) => {}
    }
    if let Some(iat) = num("iat") {
        if iat > now {
            w.push(format!(
                "iat is {} s in the future: Keycloak answers \"{}\" (clock skew)",
                iat.saturating_sub(now),
                D::IssuedInFuture
            ));
        } else if now.saturating_sub(iat) > MAX_EXPIRATION {
            w.push(format!(
                "iat is {} old: past Keycloak's default maximum of {MAX_EXPIRATION} s (\"{}\")",
                span(now.saturating_sub(iat)),
                D::IssuedTooLongAgo
            ));
        }
    }
    if let Some(nbf) = num("nbf").filter(|n| *n > now) {
        w.push(format!(
            "nbf is {} s ahead: Keycloak answers \"{}\" until then",
            nbf.saturating_sub(now),
            D::NotActive
        ));
    }
    w.extend(id_jag_warnings(header, claims));
    w
}

/// ID-JAG (typ `oauth-id-jag+jwt`): the trap of ID-JAG claims under another `typ`, the
/// server feature it needs, and its own rules.
fn id_jag_warnings(header: &Value, claims: &Value) -> Vec<String> {
    use jwtgrant_keycloak::Description as D;
    let typ = header.get("typ").and_then(Value::as_str);
    let typed = typ == Some(jwtgrant_signer::ID_JAG_TYPE);
    let client_id = claims.get("client_id").and_then(Value::as_str);
    let mut w = Vec::new();
    if !typed && client_id.is_some() {
        w.push(format!(
            "client_id is set but typ is {}, not {}: Keycloak accepts this as a plain RFC 7523 assertion and applies none of the ID-JAG rules (sign it with --id-jag)",
            typ.map_or("absent".to_owned(), |t| format!("'{t}'")),
            jwtgrant_signer::ID_JAG_TYPE
        ));
    }
    if typed {
        w.push(
            "an ID-JAG: Keycloak applies the ID-JAG rules only with the experimental server feature identity-assertion-jwt (26.7+); without it this is a plain assertion (`jwtgrant keycloak doctor` reads the server's features)".to_owned(),
        );
        if client_id.is_none() {
            w.push(format!(
                "an ID-JAG without client_id: Keycloak answers \"{}null and client id in request header/body : <client>\"",
                D::IdJagClientMismatch.text().to_owned() + " "
            ));
        }
        if claims.get("iat").is_none() {
            w.push(format!(
                "an ID-JAG without iat: Keycloak answers \"{}\"",
                D::IatRequired
            ));
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spans_and_dates() {
        assert_eq!(span(45), "45 s");
        assert_eq!(span(200), "3 min");
        assert_eq!(span(7200), "2 h");
        assert_eq!(span(3 * 86_400), "3 days");
        assert_eq!(date(0), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn warnings_table() {
        let now = 1_000_000;
        let good = json!({"iss": "http://i", "sub": "s", "aud": "a", "jti": "j", "iat": now, "exp": now + 60});
        assert!(warnings(&json!({"alg": "RS256"}), &good, now).is_empty());
        let check = |header: Value, change: (&str, Value), needle: &str| {
            let mut c = good.clone();
            if change.1.is_null() {
                c.as_object_mut().unwrap().remove(change.0);
            } else {
                c[change.0] = change.1;
            }
            let w = warnings(&header, &c, now);
            assert!(w.iter().any(|x| x.contains(needle)), "{needle}: {w:?}");
        };
        let rs = || json!({"alg": "RS256"});
        check(json!({"alg": "none"}), ("x", json!(1)), "alg 'none'");
        check(json!({"alg": "HS512"}), ("x", json!(1)), "alg 'HS512'");
        check(rs(), ("jti", Value::Null), "no jti");
        check(rs(), ("aud", json!(["a", "b"])), "aud is an array");
        check(rs(), ("iss", json!("acme")), "iss 'acme' is not a URL");
        check(rs(), ("exp", json!(now + 301)), "exp is 301 s ahead");
        check(rs(), ("exp", json!(now - 10)), "expired 10 s ago");
        check(rs(), ("iat", json!(now + 10)), "issued in the future");
        check(rs(), ("nbf", json!(now + 10)), "nbf is 10 s ahead");
        check(rs(), ("sub", Value::Null), "no sub");
        check(rs(), ("exp", Value::Null), "no exp");
        check(
            rs(),
            ("exp", json!("soon")),
            "exp \"soon\" is not a NumericDate",
        );
        check(rs(), ("iat", json!(true)), "iat true is not a NumericDate");
        let mut jag = good.clone();
        jag["client_id"] = json!("agent");
        check(
            rs(),
            ("client_id", json!("agent")),
            "client_id is set but typ is absent, not oauth-id-jag+jwt",
        );
        check(
            json!({"alg": "RS256", "typ": "JWT"}),
            ("client_id", json!("agent")),
            "typ is 'JWT'",
        );
        let typed = json!({"alg": "RS256", "typ": "oauth-id-jag+jwt"});
        let w = warnings(&typed, &jag, now);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("identity-assertion-jwt"), "{w:?}");
        check(
            typed.clone(),
            ("client_id", Value::Null),
            "Keycloak answers \"client id in assertion : null and client id in request header/body : <client>\"",
        );
        check(
            typed,
            ("iat", Value::Null),
            "an ID-JAG without iat: Keycloak answers \"Token iat claim is required\"",
        );
        // A fractional NumericDate is a date, not a missing one.
        let mut c = good.clone();
        c["exp"] = json!(1_000_030.5);
        assert!(
            warnings(&rs(), &c, now).is_empty(),
            "{:?}",
            warnings(&rs(), &c, now)
        );
    }

    /// Times from a token are untrusted: `-1e300` or `i64::MIN` must give words, not an
    /// overflow (a panic in debug builds, nonsense in release).
    #[test]
    fn extreme_times_do_not_overflow() {
        let extremes = [
            json!(i64::MIN),
            json!(i64::MAX),
            json!(-1e300),
            json!(1e300),
        ];
        for now in [i64::MIN, 0, 1_000_000, i64::MAX] {
            for t in &extremes {
                let claims = json!({"iat": t, "nbf": t, "exp": t});
                assert_eq!(times(&claims, now).len(), 3);
                let _ = warnings(&json!({"alg": "RS256"}), &claims, now);
            }
        }
        let claims = json!({"exp": i64::MIN});
        assert!(times(&claims, 1_000_000)[0].contains("expired 106751991167300 days ago"));
    }
}
