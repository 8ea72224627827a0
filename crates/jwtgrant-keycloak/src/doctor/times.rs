//! `validateTokenActive`: `exp`, `nbf`, `iat` and `jti`, with the provider's settings.

use serde_json::Value;

use super::Context;
use super::report::{Finding, Status, fail, pass, relative, skip, skips};
use crate::settings::IdpSettings;
use crate::{Check, Description};

/// The provider's settings the time checks use.
pub(super) struct TimeRules {
    max_exp: i64,
    skew: i64,
    reuse: bool,
}

impl TimeRules {
    pub(super) fn of(idp: &IdpSettings) -> Self {
        TimeRules {
            max_exp: idp.max_expiration_or_default(),
            skew: idp.clock_skew.unwrap_or(0),
            reuse: idp.reuse_allowed.is_on(),
        }
    }
}

/// `validateTokenActive`: exp, nbf, iat and jti, with the provider's settings.
///
/// The times and settings are untrusted (claims anyone can write, settings any admin can
/// type), so every sum and difference saturates: a NumericDate of `-1e300` is "long ago",
/// never an overflow.
pub(super) fn validate_token_active(ctx: &Context<'_>) -> Vec<Finding> {
    let time_checks = [
        Check::Expiration,
        Check::Active,
        Check::IssuedAt,
        Check::Jti,
    ];
    let (Some(idp), Some(claims)) = (ctx.idp, ctx.claims()) else {
        return skips(&time_checks);
    };
    token_active(claims, TimeRules::of(idp), ctx.id_jag, ctx.now)
}

/// The time and `jti` rules over `claims`, with a provider's `rules`; `id_jag` when
/// Keycloak's ID-JAG validator applies.
pub(super) fn token_active(
    claims: &Value,
    mut rules: TimeRules,
    id_jag: bool,
    now: i64,
) -> Vec<Finding> {
    let num = |name: &str| claims.get(name).and_then(Value::as_f64).map(|f| f as i64);
    if id_jag {
        // The ID-JAG validator requires iat before anything else and ignores the
        // provider's reuse setting: every jti is single-use.
        rules.reuse = false;
        if num("iat").is_none() {
            return vec![
                fail(
                    Description::IatRequired,
                    "the ID-JAG has no iat claim".into(),
                    "add iat (the signing time) to the ID-JAG",
                ),
                skip(Check::Expiration),
                skip(Check::Active),
                jti_check(claims, false),
            ];
        }
    }
    let Some(exp) = num("exp") else {
        return vec![
            fail(
                Description::ExpRequired,
                "the assertion has no exp claim".into(),
                "add an exp claim",
            ),
            skip(Check::Active),
            skip(Check::IssuedAt),
            jti_check(claims, rules.reuse),
        ];
    };
    vec![
        pass(
            Check::Expiration,
            format!("exp is {} ({})", exp, relative(exp.saturating_sub(now))),
        ),
        active_check(exp, num("nbf"), now, rules.skew),
        iat_check(num("iat"), exp, now, &rules),
        jti_check(claims, rules.reuse),
    ]
}

/// `exp` not passed (no skew for exp), `nbf` reached (with the allowed skew).
pub(super) fn active_check(exp: i64, nbf: Option<i64>, now: i64, skew: i64) -> Finding {
    if now > exp {
        fail(
            Description::NotActive,
            format!("the assertion expired {} s ago", now.saturating_sub(exp)),
            "sign a fresh assertion right before exchanging it; check the clocks",
        )
    } else if let Some(nbf) = nbf.filter(|nbf| now.saturating_add(skew) < *nbf) {
        fail(
            Description::NotActive,
            format!(
                "nbf is {} s ahead (allowed clock skew {skew} s)",
                nbf.saturating_sub(now)
            ),
            "sync the signer's clock, or raise the provider's allowed clock skew",
        )
    } else {
        pass(Check::Active, "exp has not passed and nbf is reached")
    }
}

/// The `iat` rules (or, without `iat`, how far ahead `exp` may be), as
/// `AbstractBaseJWTValidator.validateTokenActive` has them in 26.5 and 26.7 alike: the
/// provider's maximum limits how far ahead `exp` may be only without `iat`; with `iat` it
/// limits the assertion's age (`now > iat + max`), and any `exp` ahead is accepted.
pub(super) fn iat_check(iat: Option<i64>, exp: i64, now: i64, rules: &TimeRules) -> Finding {
    let TimeRules { max_exp, skew, .. } = *rules;
    let lifespan = exp.saturating_sub(now);
    let mut c = match iat {
        None if lifespan > max_exp => fail(
            Description::ExpTooFarWithoutIat,
            format!(
                "no iat and exp is {lifespan} s ahead, more than the provider's maximum of {max_exp} s"
            ),
            "add iat, or shorten the lifetime",
        ),
        None => Finding {
            status: Status::Warn,
            fix: Some("add iat so the age can be checked".into()),
            ..pass(
                Check::IssuedAt,
                format!("no iat; exp is within the maximum of {max_exp} s"),
            )
        },
        Some(iat) if iat.saturating_sub(skew) > now => fail(
            Description::IssuedInFuture,
            format!(
                "iat is {} s in the future (allowed clock skew {skew} s)",
                iat.saturating_sub(now)
            ),
            "the signer's clock is ahead of Keycloak's: sync the clocks (NTP) or raise the provider's allowed clock skew",
        ),
        // Keycloak's `Math.min(exp - now, max) <= 0` arm. It runs after `isActive`, so an
        // expired assertion has already failed there (the `active` line) and never gets
        // here: this arm is only `exp == now`, or a provider maximum of 0 or less.
        Some(_) if now <= exp && lifespan.min(max_exp) <= 0 => fail(
            Description::NotActive,
            "the remaining lifetime is not positive".into(),
            "sign a fresh assertion",
        ),
        Some(iat) if now > iat.saturating_add(max_exp) => fail(
            Description::IssuedTooLongAgo,
            format!(
                "iat is {} s old, more than the provider's maximum of {max_exp} s",
                now.saturating_sub(iat)
            ),
            "sign the assertion right before exchanging it (or raise the provider's max assertion expiration)",
        ),
        Some(iat) => pass(
            Check::IssuedAt,
            format!(
                "iat is {} s old, within the maximum of {max_exp} s",
                now.saturating_sub(iat)
            ),
        ),
    };
    // "Token is not active" from the iat rules is still the iat line of the report.
    c.check = Check::IssuedAt;
    c.name = Check::IssuedAt.name();
    c
}

pub(super) fn jti_check(claims: &Value, reuse: bool) -> Finding {
    match claims.get("jti").and_then(Value::as_str) {
        _ if reuse => pass(Check::Jti, "the provider allows assertion reuse"),
        Some(j) => pass(
            Check::Jti,
            format!(
                "jti '{j}' is present (single use: Keycloak answers 'Token reuse detected' the second time)"
            ),
        ),
        None => fail(
            Description::JtiRequired,
            "the assertion has no jti claim".into(),
            "add a unique jti, or allow assertion reuse on the provider",
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::doctor::testing::*;
    use crate::doctor::*;
    use serde_json::json;

    /// Found by the `doctor` fuzz target: `iat - skew` overflowed on `iat = -1e300`. Extreme
    /// NumericDates and settings saturate and still give the verdict Keycloak would.
    #[test]
    fn extreme_times_and_settings_saturate() {
        let mut snap = snapshot();
        snap.idps[1].clock_skew = Some(i64::MAX);
        snap.idps[1].max_expiration = Some(i64::MIN);
        for (exp, iat, nbf) in [
            (json!(1e300), json!(-1e300), json!(-1e300)),
            (json!(-1e300), json!(1e300), json!(1e300)),
            (json!(i64::MAX), json!(i64::MIN), json!(i64::MAX)),
            (json!(i64::MIN), json!(i64::MAX), json!(i64::MIN)),
        ] {
            let mut c = good_claims();
            (c["exp"], c["iat"], c["nbf"]) = (exp, iat, nbf);
            let token = jwt(json!({"alg": "RS256"}), c);
            for now in [i64::MIN, 0, NOW, i64::MAX] {
                let r = diagnose(&snap, &token, now, Some(&valid()));
                assert!(r.first_failure().is_some(), "{r:#?}");
            }
        }
        let mut c = good_claims();
        c["exp"] = json!(-1e300);
        let r = diagnose(
            &snapshot(),
            &jwt(json!({"alg": "RS256"}), c),
            NOW,
            Some(&valid()),
        );
        let exp = r.get("exp").map(|c| c.detail.clone()).unwrap_or_default();
        // -1e300 reads as i64::MIN; the difference saturates there and prints without a sign.
        assert_eq!(
            exp,
            "exp is -9223372036854775808 (9223372036854775808 s ago)"
        );
    }
}
