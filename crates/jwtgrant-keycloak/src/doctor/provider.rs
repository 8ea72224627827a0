//! The stages about the identity provider for the assertion's issuer, the client's
//! allow-list, and the user linked at that provider.

use serde_json::Value;

use super::Context;
use super::report::{Finding, fail, pass, skip, skips, warn};
use crate::settings::IdpSettings;
use crate::settings::client::{ALIAS_SEPARATOR, ALLOWED_IDPS};
use crate::{Check, Description};

/// `lookupIdentityProviderFromIssuer` and the client's allow-list.
pub(super) fn lookup_identity_provider(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(i) = ctx.iss else {
        return skips(&[Check::IdentityProvider, Check::IdentityProviderAllowed]);
    };
    let found = match ctx.matching_idp {
        Some(p) if p.is_enabled() && insecure_jwks_url(p).is_some() => warn(
            Check::IdentityProvider,
            format!(
                "identity provider '{}' has issuer '{i}', but Keycloak fetches its keys over \
                 plain http from '{}'",
                p.alias_or_unknown(),
                insecure_jwks_url(p).unwrap_or_default()
            ),
            "serve the issuer's JWKS over https: whoever can change a plain-http answer on \
             the way can sign assertions Keycloak accepts",
        ),
        Some(p) if p.is_enabled() => pass(
            Check::IdentityProvider,
            format!(
                "identity provider '{}' has issuer '{i}'",
                p.alias_or_unknown()
            ),
        ),
        // `lookupIdentityProviderFromIssuer`: before 26.7 it matches the issuer alone and
        // `process` refuses the disabled provider it found; since 26.7 it matches enabled
        // providers only.
        Some(p) if ctx.order.finds_disabled_providers() => fail(
            Description::IdentityProviderDisabled,
            format!(
                "identity provider '{}' has issuer '{i}' but is disabled",
                p.alias_or_unknown()
            ),
            &format!("enable identity provider '{}'", p.alias_or_unknown()),
        ),
        Some(p) => fail(
            Description::NoIdentityProvider,
            format!(
                "identity provider '{}' has issuer '{i}' but is disabled, and {} looks up enabled providers only",
                p.alias_or_unknown(),
                ctx.order.releases()
            ),
            &format!("enable identity provider '{}'", p.alias_or_unknown()),
        ),
        None => fail(
            Description::NoIdentityProvider,
            format!("no identity provider has issuer '{i}'"),
            &no_provider_fix(&ctx.snapshot.idps, i),
        ),
    };
    let allowed = match (ctx.idp, &ctx.snapshot.client) {
        (Some(p), Some(c)) => {
            let list = &c.allowed_idps;
            if list.iter().any(|a| a == p.alias_or_unknown()) {
                pass(
                    Check::IdentityProviderAllowed,
                    format!(
                        "the client allows identity provider '{}'",
                        p.alias_or_unknown()
                    ),
                )
            } else {
                let allowed = if list.is_empty() {
                    "the client allows no identity provider".to_owned()
                } else {
                    format!("the client allows only {}", list.join(", "))
                };
                fail(
                    Description::IdentityProviderNotAllowed,
                    format!(
                        "provider '{}' is not on the client's allow-list: {allowed}",
                        p.alias_or_unknown()
                    ),
                    &format!(
                        "add '{}' to the client's Allowed Identity Providers (attribute {ALLOWED_IDPS}, aliases joined with {ALIAS_SEPARATOR})",
                        p.alias_or_unknown()
                    ),
                )
            }
        }
        _ => skip(Check::IdentityProviderAllowed),
    };
    vec![found, allowed]
}

/// The provider's JWKS URL (sanitized), when it uses one that our own requests would
/// refuse as plain http off loopback: Keycloak trusts whatever keys it fetches there.
fn insecure_jwks_url(p: &IdpSettings) -> Option<String> {
    let url = p.jwks_url.as_deref().filter(|_| p.use_jwks_url.is_on())?;
    match jwtgrant_exchange::Transport::new().check_url(url) {
        Err(jwtgrant_exchange::ExchangeError::InsecureHttp { .. }) => {
            Some(jwtgrant_exchange::text::sanitize(url, 200))
        }
        _ => None,
    }
}

/// The fix when no provider has the issuer `iss`: a near miss, the list, or create one.
pub(super) fn no_provider_fix(idps: &[IdpSettings], iss: &str) -> String {
    let issuers: Vec<String> = idps
        .iter()
        .filter(|p| p.is_jwt_grant_provider())
        .map(|p| {
            format!(
                "'{}' ({})",
                p.issuer.as_deref().unwrap_or_default(),
                p.alias_or_unknown()
            )
        })
        .collect();
    let near = idps.iter().find(|p| {
        p.issuer
            .as_deref()
            .is_some_and(|s| normalize(s) == normalize(iss))
    });
    match near {
        Some(p) => {
            let issuer = p.issuer.as_deref().unwrap_or_default();
            format!(
                "iss '{iss}' differs from the issuer '{issuer}' of provider '{}' only in {}: make them equal character for character",
                p.alias_or_unknown(),
                near_miss(iss, issuer)
            )
        }
        None if issuers.is_empty() => {
            "create a JWT Authorization Grant identity provider with this issuer".to_owned()
        }
        None => format!(
            "sign with iss equal to a provider's issuer, or set the provider's issuer to '{iss}' (JWT Authorization Grant providers: {})",
            issuers.join(", ")
        ),
    }
}

/// `getUserByFederatedIdentity`, then enabled and no required actions.
pub(super) fn lookup_user_by_federated_identity(ctx: &Context<'_>) -> Vec<Finding> {
    let (Some(p), Some(s), true) = (ctx.idp, ctx.sub, ctx.snapshot.user_looked_up) else {
        return skips(&[Check::UserLinked, Check::UserEnabled]);
    };
    let Some(u) = &ctx.snapshot.user else {
        return vec![
            fail(
                Description::UserNotFound,
                format!(
                    "no user is linked to '{}' with userId '{s}'",
                    p.alias_or_unknown()
                ),
                &format!(
                    "link a user: Users > (user) > Identity provider links > {} with user ID '{s}'{}",
                    p.alias_or_unknown(),
                    linked_subjects(&ctx.snapshot.linked_subjects, s)
                ),
            ),
            skip(Check::UserEnabled),
        ];
    };
    let name = u.username.as_deref().unwrap_or("?");
    let linked = pass(
        Check::UserLinked,
        format!(
            "user '{name}' is linked to '{}' with userId '{s}'",
            p.alias_or_unknown()
        ),
    );
    let actions = Some(&u.required_actions).filter(|a| !a.is_empty());
    let enabled = if u.enabled == Some(false) {
        fail(
            Description::UserDisabled,
            format!("user '{name}' is disabled"),
            &format!("enable user '{name}'"),
        )
    } else if let Some(actions) = actions {
        fail(
            Description::AccountNotSetUp,
            format!(
                "user '{name}' has required actions {}",
                Value::from(actions.clone())
            ),
            &format!("clear the required actions of user '{name}'"),
        )
    } else {
        pass(Check::UserEnabled, format!("user '{name}' is enabled"))
    };
    vec![linked, enabled]
}

/// ` (linked at the provider: 'a', 'b')`, the near matches of `sub` first and asked about,
/// or `; no subject is linked at the provider yet`.
fn linked_subjects(linked: &[String], sub: &str) -> String {
    if linked.is_empty() {
        return "; no subject is linked at the provider yet".to_owned();
    }
    let near = super::near_matches(sub, linked.iter().map(String::as_str));
    let mut shown: Vec<&str> = near.clone();
    shown.extend(
        linked
            .iter()
            .map(String::as_str)
            .filter(|l| !near.contains(l)),
    );
    let quoted: Vec<String> = shown.iter().map(|l| format!("'{l}'")).collect();
    let did_you_mean = match near.first() {
        Some(n) => format!("did you mean '{n}'? "),
        None => String::new(),
    };
    format!(
        " ({did_you_mean}linked at the provider: {})",
        quoted.join(", ")
    )
}

/// How two issuers equal under [`normalize`] differ: "the scheme", "a trailing slash",
/// "case", or several of them joined with "and".
fn near_miss(a: &str, b: &str) -> String {
    let scheme = |s: &str| {
        s.split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase())
    };
    let slash = |s: &str| s.ends_with('/');
    let rest = |s: &str| {
        let s = s.trim_end_matches('/');
        s.split_once("://").map_or(s, |(_, r)| r).to_owned()
    };
    let mut how = Vec::new();
    if scheme(a) != scheme(b) {
        how.push("the scheme");
    }
    if slash(a) != slash(b) {
        how.push("a trailing slash");
    }
    if rest(a) != rest(b) {
        how.push("case");
    }
    match how.as_slice() {
        [] => "case".to_owned(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

pub(super) fn normalize(s: &str) -> String {
    s.trim_end_matches('/')
        .to_ascii_lowercase()
        .replacen("https://", "", 1)
        .replacen("http://", "", 1)
}

/// The JWT Authorization Grant provider whose issuer equals `iss` exactly (enabled ones first).
pub fn find_idp<'a>(idps: &'a [IdpSettings], iss: &str) -> Option<&'a IdpSettings> {
    let mut matching = idps
        .iter()
        .filter(|p| p.is_jwt_grant_provider() && p.issuer.as_deref() == Some(iss));
    let all: Vec<&IdpSettings> = matching.by_ref().collect();
    all.iter().find(|p| p.is_enabled()).or(all.first()).copied()
}
