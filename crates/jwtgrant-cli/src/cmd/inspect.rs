//! `inspect`: header and claims, times in words, Keycloak's likely objections (the
//! doctor's offline checks, in words), signature.

use anyhow::Result;
use serde_json::Value;

use jwtgrant_keycloak::doctor::{self, DEFAULT_MAX_EXPIRATION, Finding, Status};
use jwtgrant_keycloak::settings::idp::MAX_EXPIRATION;

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
    let times = times(&claims, now);
    let warnings = warnings(&token, now);
    let signature = signature(&token, args, g)?;
    if args.json {
        let object = serde_json::json!({
            "header": header,
            "claims": claims,
            "times": times,
            "warnings": warnings,
            "signature": match &signature {
                None => serde_json::json!({"checked": false}),
                Some((outcome, with)) => serde_json::json!({
                    "checked": true,
                    "with": with,
                    "valid": outcome.is_ok(),
                    "error": outcome.as_ref().err().map(ToString::to_string),
                }),
            },
        });
        files::println(&serde_json::to_string(&object)?)?;
    } else {
        files::stdout(&render(
            &header,
            &claims,
            &times,
            &warnings,
            signature.as_ref(),
        )?)?;
    }
    match signature {
        Some((Err(e), with)) => Err(Coded {
            code: FAILURE,
            message: format!("the signature does not verify with {with}: {e}"),
            hint: None,
            in_json_output: args.json,
        }
        .into()),
        _ if args.strict && !warnings.is_empty() => Err(Coded {
            code: FAILURE,
            message: format!(
                "{} warning{} with --strict",
                warnings.len(),
                if warnings.len() == 1 { "" } else { "s" }
            ),
            hint: Some("fix what each warning names, or drop --strict to only show them".into()),
            in_json_output: args.json,
        }
        .into()),
        _ => Ok(()),
    }
}

/// The signature check `--key` or `--jwks` asks for, and what it used.
fn signature(
    token: &str,
    args: &InspectArgs,
    g: &Globals,
) -> Result<Option<(Result<(), jwtgrant_signer::VerifyError>, String)>> {
    Ok(match (&args.key, &args.jwks) {
        (Some(path), _) => {
            let key = super::keys::public_key(path, g)?;
            Some((
                jwtgrant_signer::verify(token, &key).map(|_| ()),
                format!("key '{}'", path.display()),
            ))
        }
        (None, Some(path)) => {
            let text = String::from_utf8(files::read(path, "JWKS file")?)
                .map_err(|_| anyhow::anyhow!("JWKS file '{}' is not UTF-8", path.display()))?;
            let jwks = jwtgrant_signer::Jwks::from_json(&text)
                .map_err(|e| anyhow::anyhow!("cannot read JWKS file '{}': {e}", path.display()))?;
            Some((
                jwtgrant_signer::verify_with_jwks(token, &jwks).map(|_| ()),
                format!("JWKS '{}'", path.display()),
            ))
        }
        (None, None) => None,
    })
}

/// The text report: header, claims, times, warnings, signature.
fn render(
    header: &Value,
    claims: &Value,
    times: &[String],
    warnings: &[String],
    signature: Option<&(Result<(), jwtgrant_signer::VerifyError>, String)>,
) -> Result<String> {
    let mut out = String::new();
    out.push_str("header:\n");
    out.push_str(&serde_json::to_string_pretty(header)?);
    out.push_str("\nclaims:\n");
    out.push_str(&serde_json::to_string_pretty(claims)?);
    out.push('\n');
    if !times.is_empty() {
        out.push_str("times:\n");
        for line in times {
            out.push_str(&format!("  {line}\n"));
        }
    }
    for w in warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out.push_str(&match signature {
        None => "signature: not checked (pass --key FILE or --jwks FILE)\n".to_owned(),
        Some((Ok(()), with)) => format!("signature: valid ({with})\n"),
        Some((Err(e), with)) => format!("signature: INVALID with {with}: {e}\n"),
    });
    Ok(out)
}

/// A NumericDate (RFC 7519 section 2): seconds since 1970, possibly fractional.
#[allow(
    clippy::cast_possible_truncation,
    reason = "whole seconds are enough here"
)]
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

/// What Keycloak's JWT Authorization Grant will object to, as far as the token alone
/// shows: the doctor's offline checks ([`doctor::offline`], Keycloak's defaults for every
/// realm setting) that fail or warn, in Keycloak's order. The rules are the doctor's; this
/// command only words them.
pub fn findings(token: &str, now: i64) -> Vec<Finding> {
    doctor::offline(token, now)
        .checks
        .into_iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Warn))
        .collect()
}

/// [`findings`] in this command's words, one line each: what the token says and what
/// Keycloak answers, with the values worked out for people (spans, counts). A failure
/// whose answer an earlier line already gave is left out.
pub fn warnings(token: &str, now: i64) -> Vec<String> {
    let (header, claims) = super::decode(token).unwrap_or_default();
    let mut answered = Vec::new();
    findings(token, now)
        .iter()
        .filter(|f| match f.rejection.filter(|_| f.status == Status::Fail) {
            Some(r) if answered.contains(&r) => false,
            Some(r) => {
                answered.push(r);
                true
            }
            None => true,
        })
        .map(|f| warning(f, &header, &claims, now))
        .collect()
}

/// One finding in words. The finding decides; the claims only give the numbers to show.
fn warning(f: &Finding, header: &Value, claims: &Value, now: i64) -> String {
    use jwtgrant_keycloak::{Check, Description as D};
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let num = |name: &str| claims.get(name).and_then(numeric_date);
    // A time claim that is there but no number reads as absent to Keycloak.
    let not_a_date = |name: &str| {
        claims
            .get(name)
            .filter(|_| num(name).is_none())
            .map(|v| format!("{name} {v} is not a NumericDate (seconds since 1970)"))
    };
    let ahead = |t: i64| t.saturating_sub(now);
    match (f.check, f.rejection) {
        // Since 26.7 the algorithm check refuses it; 26.5 and 26.6 let it through to the
        // signature check, which no public key passes. A missing alg both refuse here.
        (Check::Algorithm, _) => match header.get("alg").and_then(Value::as_str) {
            Some(alg) => format!(
                "alg '{alg}': Keycloak accepts only asymmetric algorithms (RS*, PS*, ES*, EdDSA) and answers \"{}\" (26.5/26.6: \"{}\")",
                D::InvalidAlgorithm,
                D::InvalidSignature
            ),
            None => format!("no alg: Keycloak answers \"{}\"", D::InvalidAlgorithm),
        },
        (Check::Jwt, _) if header.get("alg").is_some_and(Value::is_string) => format!(
            "alg '{}' is not an algorithm name Keycloak reads (names are case-sensitive, e.g. RS256): Keycloak answers \"{}\"",
            header.get("alg").and_then(Value::as_str).unwrap_or_default(),
            D::NotAJwt
        ),
        (Check::Issuer, _) => format!("no iss: Keycloak answers \"{}\"", D::MissingIss),
        (Check::IdentityProvider, _) => format!(
            "iss '{}' is not a URL: a Keycloak identity provider's issuer must be an http(s) URL, so no provider can match it",
            text("iss")
        ),
        (Check::Subject, _) => format!("no sub: Keycloak answers \"{}\"", D::MissingSub),
        (Check::Audience, Some(D::MultipleAudiences)) => format!(
            "aud is an array ({} values): Keycloak wants exactly one string and answers \"{}\" or \"{}\"",
            claims.get("aud").and_then(Value::as_array).map_or(0, |a| a
                .iter()
                .filter(|v| v.is_string())
                .count()),
            D::MultipleAudiences,
            D::InvalidAudience
        ),
        (Check::Audience, _) => format!(
            "{}: Keycloak answers \"{}\" (use <base>/realms/<realm>)",
            claims
                .get("aud")
                .map_or("no aud".to_owned(), |v| format!("aud {v} holds no string")),
            D::InvalidAudience
        ),
        (Check::Jti, _) => format!(
            "no jti: Keycloak answers \"{}\" unless the provider allows assertion reuse",
            D::JtiRequired
        ),
        (Check::Expiration, _) => match not_a_date("exp") {
            Some(why) => format!("{why}: Keycloak reads no exp and answers \"{}\"", D::ExpRequired),
            None => format!("no exp: Keycloak answers \"{}\"", D::ExpRequired),
        },
        (Check::Active, _) => match (num("exp"), num("nbf")) {
            (Some(exp), _) if exp < now => format!(
                "expired {} ago: Keycloak answers \"{}\"",
                span(now.saturating_sub(exp)),
                D::NotActive
            ),
            (_, nbf) => format!(
                "nbf is {} s ahead: Keycloak answers \"{}\" until then",
                nbf.map_or(0, ahead),
                D::NotActive
            ),
        },
        (Check::IssuedAt, Some(D::ExpTooFarWithoutIat)) => format!(
            "exp is {} s ahead, more than Keycloak's default maximum of {DEFAULT_MAX_EXPIRATION} s ({MAX_EXPIRATION}): without iat Keycloak rejects it{}",
            num("exp").map_or(0, ahead),
            not_a_date("iat").map(|why| format!(" ({why})")).unwrap_or_default()
        ),
        (Check::IssuedAt, Some(D::IssuedInFuture)) => format!(
            "iat is {} s in the future: Keycloak answers \"{}\" (clock skew)",
            num("iat").map_or(0, ahead),
            D::IssuedInFuture
        ),
        (Check::IssuedAt, Some(D::IssuedTooLongAgo)) => format!(
            "iat is {} old: past Keycloak's default maximum of {DEFAULT_MAX_EXPIRATION} s (\"{}\")",
            span(num("iat").map_or(0, |iat| now.saturating_sub(iat))),
            D::IssuedTooLongAgo
        ),
        (Check::IssuedAt, Some(D::IatRequired)) => format!(
            "an ID-JAG without iat: Keycloak answers \"{}\"{}",
            D::IatRequired,
            not_a_date("iat").map(|why| format!(" ({why})")).unwrap_or_default()
        ),
        (Check::IssuedAt, None) => match not_a_date("iat") {
            Some(why) => format!("{why}: Keycloak reads no iat, so it cannot check the assertion's age"),
            None => format!(
                "no iat: Keycloak cannot check the assertion's age, and accepts exp at most {DEFAULT_MAX_EXPIRATION} s ahead (add iat)"
            ),
        },
        (Check::IdJagClientId, Some(D::IdJagClientMismatch)) => format!(
            "an ID-JAG without client_id: Keycloak answers \"{} null and client id in request header/body : <client>\"",
            D::IdJagClientMismatch
        ),
        (Check::IdJagClientId, _) if header.get("typ").and_then(Value::as_str) == Some(jwtgrant_signer::ID_JAG_TYPE) => {
            "an ID-JAG: Keycloak applies the ID-JAG rules only with the experimental server feature identity-assertion-jwt (26.7+); without it this is a plain assertion (`jwtgrant keycloak doctor` reads the server's features)".to_owned()
        }
        (Check::IdJagClientId, _) => format!(
            "client_id is set but typ is {}, not {}: Keycloak accepts this as a plain RFC 7523 assertion and applies none of the ID-JAG rules (sign it with --id-jag)",
            header
                .get("typ")
                .and_then(Value::as_str)
                .map_or("absent".to_owned(), |t| format!("'{t}'")),
            jwtgrant_signer::ID_JAG_TYPE
        ),
        // A finding this command has no words of its own for: the doctor's.
        _ => match f.keycloak_error() {
            Some(e) => format!("{}: Keycloak answers \"{e}\"", f.detail),
            None => f.detail.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwtgrant_keycloak::Description as D;
    use serde_json::json;

    /// An unsigned compact JWS of `header` and `claims` (inspect reads, it does not verify).
    fn jwt(header: &Value, claims: &Value) -> String {
        let b64 = |v: &Value| {
            use base64ct::{Base64UrlUnpadded, Encoding as _};
            Base64UrlUnpadded::encode_string(v.to_string().as_bytes())
        };
        format!("{}.{}.c2ln", b64(header), b64(claims))
    }

    /// The warnings for the token made of `header` and `claims`.
    fn warned(header: &Value, claims: &Value, now: i64) -> Vec<String> {
        warnings(&jwt(header, claims), now)
    }

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
        assert!(warned(&json!({"alg": "RS256"}), &good, now).is_empty());
        let check = |header: Value, change: (&str, Value), needle: &str| {
            let mut c = good.clone();
            if change.1.is_null() {
                c.as_object_mut().unwrap().remove(change.0);
            } else {
                c[change.0] = change.1;
            }
            let w = warned(&header, &c, now);
            assert!(w.iter().any(|x| x.contains(needle)), "{needle}: {w:?}");
        };
        let rs = || json!({"alg": "RS256"});
        check(json!({"alg": "none"}), ("x", json!(1)), "alg 'none'");
        check(json!({"alg": "HS512"}), ("x", json!(1)), "alg 'HS512'");
        check(rs(), ("jti", Value::Null), "no jti");
        check(rs(), ("aud", json!(["a", "b"])), "aud is an array");
        check(rs(), ("iss", json!("acme")), "iss 'acme' is not a URL");
        // Keycloak's maximum lifetime limits exp only without iat (with iat it limits the
        // assertion's age): the same token with iat draws no warning.
        let mut no_iat = good.clone();
        no_iat.as_object_mut().unwrap().remove("iat");
        no_iat["exp"] = json!(now + 301);
        let w = warned(&rs(), &no_iat, now);
        assert!(w.iter().any(|x| x.contains("exp is 301 s ahead")), "{w:?}");
        // Measured on 26.5.6 and 26.7.3 (tests/tests/doctor_order.rs): 10-minute, 1-hour and
        // 720-hour assertions with iat are accepted, and so is one aud in an array.
        for lifetime in [301, 600, 3600, 720 * 3600] {
            let mut with_iat = good.clone();
            with_iat["exp"] = json!(now + lifetime);
            assert_eq!(
                warned(&rs(), &with_iat, now),
                Vec::<String>::new(),
                "{lifetime}"
            );
        }
        let mut one_aud = good.clone();
        one_aud["aud"] = json!(["a"]);
        assert_eq!(warned(&rs(), &one_aud, now), Vec::<String>::new());
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
        let w = warned(&typed, &jag, now);
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
            warned(&rs(), &c, now).is_empty(),
            "{:?}",
            warned(&rs(), &c, now)
        );
    }

    /// One rule set: inspect's warnings are the doctor's offline findings
    /// ([`doctor::offline`]), one line each and in Keycloak's order. The table pins the
    /// findings (check, status, Keycloak's answer) and inspect's words for each (`""`: no
    /// line, an earlier one gave the same answer).
    #[test]
    fn inspect_words_the_doctors_offline_findings() {
        use Status::{Fail, Warn};
        const NOW: i64 = 1_800_000_000;
        let good = json!({"iss": "http://localhost:3000", "sub": "nodejsuser-1234",
            "aud": "http://localhost:8080/realms/acme", "jti": "j1", "iat": NOW - 5, "exp": NOW + 55});
        let rs = json!({"alg": "RS256", "typ": "JWT"});
        let jag = json!({"alg": "RS256", "typ": "oauth-id-jag+jwt"});
        let (hs, lower) = (json!({"alg": "HS256"}), json!({"alg": "rs256"}));
        let edit = |changes: &[(&str, Value)]| {
            let mut c = good.clone();
            for (k, v) in changes {
                if v.is_null() {
                    c.as_object_mut().map(|c| c.remove(*k));
                } else {
                    c[*k] = v.clone();
                }
            }
            c
        };
        let none = Value::Null;
        type Line = (&'static str, Status, Option<D>, &'static str);
        let table: Vec<(&Value, Value, Vec<Line>)> = vec![
            (&rs, good.clone(), vec![]),
            (
                &hs,
                good.clone(),
                vec![(
                    "alg",
                    Fail,
                    Some(D::InvalidAlgorithm),
                    "alg 'HS256': Keycloak accepts only asymmetric algorithms (RS*, PS*, ES*, EdDSA) and answers \"Invalid signature algorithm\" (26.5/26.6: \"Invalid signature\")",
                )],
            ),
            // Keycloak reads the algorithm case-sensitively: another name is no JWT to it.
            (
                &lower,
                good.clone(),
                vec![(
                    "jwt",
                    Fail,
                    Some(D::NotAJwt),
                    "alg 'rs256' is not an algorithm name Keycloak reads (names are case-sensitive, e.g. RS256): Keycloak answers \"The provided assertion is not a valid JWT\"",
                )],
            ),
            (
                &rs,
                edit(&[("iss", none.clone())]),
                vec![(
                    "iss",
                    Fail,
                    Some(D::MissingIss),
                    "no iss: Keycloak answers \"Missing claim: iss\"",
                )],
            ),
            (
                &rs,
                edit(&[("iss", json!("acme"))]),
                vec![(
                    "idp-for-issuer",
                    Warn,
                    Some(D::NoIdentityProvider),
                    "iss 'acme' is not a URL: a Keycloak identity provider's issuer must be an http(s) URL, so no provider can match it",
                )],
            ),
            (
                &rs,
                edit(&[("sub", none.clone())]),
                vec![(
                    "sub",
                    Fail,
                    Some(D::MissingSub),
                    "no sub: Keycloak answers \"Missing claim: sub\"",
                )],
            ),
            (
                &rs,
                edit(&[("aud", json!(["a", "b"]))]),
                vec![(
                    "audience",
                    Fail,
                    Some(D::MultipleAudiences),
                    "aud is an array (2 values): Keycloak wants exactly one string and answers \"Multiple audiences not allowed\" or \"Invalid token audience\"",
                )],
            ),
            // One aud in an array is one aud to Keycloak.
            (
                &rs,
                edit(&[("aud", json!(["http://localhost:8080/realms/acme"]))]),
                vec![],
            ),
            (
                &rs,
                edit(&[("aud", none.clone())]),
                vec![(
                    "audience",
                    Fail,
                    Some(D::InvalidAudience),
                    "no aud: Keycloak answers \"Invalid token audience\" (use <base>/realms/<realm>)",
                )],
            ),
            (
                &rs,
                edit(&[("jti", none.clone())]),
                vec![(
                    "jti",
                    Fail,
                    Some(D::JtiRequired),
                    "no jti: Keycloak answers \"Token jti claim is required\" unless the provider allows assertion reuse",
                )],
            ),
            (
                &rs,
                edit(&[("exp", json!(NOW - 10))]),
                // One fault, one line: the iat rules never see an expired assertion.
                vec![(
                    "active",
                    Fail,
                    Some(D::NotActive),
                    "expired 10 s ago: Keycloak answers \"Token is not active\"",
                )],
            ),
            (
                &rs,
                edit(&[("nbf", json!(NOW + 30))]),
                vec![(
                    "active",
                    Fail,
                    Some(D::NotActive),
                    "nbf is 30 s ahead: Keycloak answers \"Token is not active\" until then",
                )],
            ),
            // The maximum lifetime limits exp only without iat; with iat, its age.
            (&rs, edit(&[("exp", json!(NOW + 3600))]), vec![]),
            (
                &rs,
                edit(&[("exp", json!(NOW + 3600)), ("iat", none.clone())]),
                vec![(
                    "iat",
                    Fail,
                    Some(D::ExpTooFarWithoutIat),
                    "exp is 3600 s ahead, more than Keycloak's default maximum of 300 s (jwtAuthorizationGrantMaxAllowedAssertionExpiration): without iat Keycloak rejects it",
                )],
            ),
            (
                &rs,
                edit(&[("iat", none.clone())]),
                vec![(
                    "iat",
                    Warn,
                    None,
                    "no iat: Keycloak cannot check the assertion's age, and accepts exp at most 300 s ahead (add iat)",
                )],
            ),
            (
                &rs,
                edit(&[("iat", json!(NOW + 30))]),
                vec![(
                    "iat",
                    Fail,
                    Some(D::IssuedInFuture),
                    "iat is 30 s in the future: Keycloak answers \"Token was issued in the future\" (clock skew)",
                )],
            ),
            (
                &rs,
                edit(&[("iat", json!(NOW - 400))]),
                vec![(
                    "iat",
                    Fail,
                    Some(D::IssuedTooLongAgo),
                    "iat is 6 min old: past Keycloak's default maximum of 300 s (\"Token was issued too far in the past to be used now\")",
                )],
            ),
            (
                &rs,
                edit(&[("exp", json!("soon"))]),
                vec![(
                    "exp",
                    Fail,
                    Some(D::ExpRequired),
                    "exp \"soon\" is not a NumericDate (seconds since 1970): Keycloak reads no exp and answers \"Token exp claim is required\"",
                )],
            ),
            (
                &rs,
                edit(&[("client_id", json!("custom-client"))]),
                vec![(
                    "id-jag-client-id",
                    Warn,
                    None,
                    "client_id is set but typ is 'JWT', not oauth-id-jag+jwt: Keycloak accepts this as a plain RFC 7523 assertion and applies none of the ID-JAG rules (sign it with --id-jag)",
                )],
            ),
            (
                &jag,
                edit(&[("iat", none.clone())]),
                vec![
                    (
                        "id-jag-client-id",
                        Warn,
                        None,
                        "an ID-JAG: Keycloak applies the ID-JAG rules only with the experimental server feature identity-assertion-jwt (26.7+); without it this is a plain assertion (`jwtgrant keycloak doctor` reads the server's features)",
                    ),
                    (
                        "id-jag-client-id",
                        Fail,
                        Some(D::IdJagClientMismatch),
                        "an ID-JAG without client_id: Keycloak answers \"client id in assertion : null and client id in request header/body : <client>\"",
                    ),
                    (
                        "iat",
                        Fail,
                        Some(D::IatRequired),
                        "an ID-JAG without iat: Keycloak answers \"Token iat claim is required\"",
                    ),
                ],
            ),
        ];
        for (header, claims, expected) in table {
            let token = jwt(header, &claims);
            let found = findings(&token, NOW);
            // The doctor's findings, every one, and none of inspect's own.
            let doctor: Vec<Finding> = doctor::offline(&token, NOW)
                .checks
                .into_iter()
                .filter(|f| f.status != Status::Pass && f.status != Status::Skip)
                .collect();
            assert_eq!(found, doctor, "{claims}");
            assert_eq!(
                found
                    .iter()
                    .map(|f| (f.name, f.status, f.rejection))
                    .collect::<Vec<_>>(),
                expected
                    .iter()
                    .map(|(n, s, r, _)| (*n, *s, *r))
                    .collect::<Vec<_>>(),
                "{header} {claims}"
            );
            assert_eq!(
                warnings(&token, NOW),
                expected
                    .iter()
                    .map(|l| l.3)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>(),
                "{header} {claims}"
            );
        }
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
                let _ = warned(&json!({"alg": "RS256"}), &claims, now);
            }
        }
        let claims = json!({"exp": i64::MIN});
        assert!(times(&claims, 1_000_000)[0].contains("expired 106751991167300 days ago"));
    }
}
