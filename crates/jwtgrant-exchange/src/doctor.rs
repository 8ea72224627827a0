//! Replays the token endpoint's checks for the JWT Authorization Grant locally, against a
//! realm's real configuration, and names the check that fails with its fix.
//!
//! The checks are pure functions over a [`Snapshot`] (the identity providers, the client and
//! the linked user as the admin API returns them, plus the fetched JWKS when the provider uses
//! a JWKS URL) and the assertion. [`fetch`] is the thin IO part that builds a snapshot.
//!
//! The order is Keycloak 26.6/26.7's (`JWTAuthorizationGrantType.process`): client, `iss` and
//! `sub`, identity provider lookup and allow-list, `exp`/`nbf`/`iat`/`jti`, algorithm,
//! audience, signature, user. Keycloak reports only the first failure; the doctor reports
//! every check it can still evaluate, and [`Report::first_failure`] is the one Keycloak names.
//! Newer Keycloak lines check the audience after the user lookup; the verdict then may name
//! the audience where the server names a later check, never a different root cause.

use std::fmt;

use serde_json::Value;

/// `providerId` of a JWT Authorization Grant identity provider.
pub const PROVIDER_ID: &str = "jwt-authorization-grant";
/// Client attribute switching the grant on.
pub const CLIENT_GRANT_ENABLED: &str = "oauth2.jwt.authorization.grant.enabled";
/// Client attribute listing the allowed identity provider aliases, joined with `##`.
pub const CLIENT_ALLOWED_IDPS: &str = "oauth2.jwt.authorization.grant.idp";
/// Keycloak's default for `jwtAuthorizationGrantMaxAllowedAssertionExpiration`, in seconds.
pub const DEFAULT_MAX_EXPIRATION: i64 = 300;

/// What the admin API said about the realm, as raw JSON representations.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Snapshot {
    /// The client's `ClientRepresentation`, or `None` when no client has that client id.
    pub client: Option<Value>,
    /// The client id asked for (for messages when the client is missing).
    pub client_id: String,
    /// Every `IdentityProviderRepresentation` of the realm.
    pub idps: Vec<Value>,
    /// The user linked to the matching provider with `userId == sub` (a `UserRepresentation`),
    /// or `None` when there is none. Only meaningful when `user_looked_up` is true.
    pub user: Option<Value>,
    /// True when the user lookup ran (it needs a matching provider and a `sub`).
    pub user_looked_up: bool,
    /// The JWKS document fetched from the matching provider's `jwksUrl`, or why it failed.
    /// `None` when the provider does not use a JWKS URL or it was not fetched.
    pub jwks: Option<Result<String, String>>,
    /// Audiences Keycloak accepts: `{base}/realms/{realm}` and its token endpoint.
    pub expected_audiences: Vec<String>,
}

impl Snapshot {
    /// An empty snapshot for `client_id` expecting the audiences of `base` and `realm`.
    pub fn new(base: &str, realm: &str, client_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            expected_audiences: vec![
                crate::keycloak_realm_url(base, realm),
                crate::keycloak_token_endpoint(base, realm),
            ],
            ..Self::default()
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The check passes.
    Pass,
    /// Keycloak will reject the assertion here.
    Fail,
    /// Not a rejection, but worth knowing (for example: reuse cannot be checked locally).
    Warn,
    /// Could not be evaluated because an earlier check failed.
    Skip,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Warn => "warn",
            Status::Skip => "skip",
        })
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check {
    /// Stable short name, e.g. `idp-for-issuer`.
    pub name: &'static str,
    /// Pass, fail, warn or skip.
    pub status: Status,
    /// What was found, naming the values.
    pub detail: String,
    /// How to fix it (for failures and warnings).
    pub fix: Option<String>,
    /// The `error_description` Keycloak answers when this check fails.
    pub keycloak_error: Option<&'static str>,
}

/// All checks, in Keycloak's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// The failure Keycloak will report (the first in its order), if any.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.status == Status::Fail)
    }

    /// True when no check fails.
    pub fn ok(&self) -> bool {
        self.first_failure().is_none()
    }

    /// The check with this name.
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// The decoded assertion the checks look at.
#[derive(Debug, Clone)]
struct Decoded {
    header: Value,
    claims: Value,
}

/// Decode a compact JWS without verifying it (the signer's decoder). `Err` says why it is
/// not a JWT.
fn decode(token: &str) -> Result<Decoded, String> {
    match jwtgrant_signer::decode_unverified(token) {
        Ok(d) => Ok(Decoded {
            header: d.header().clone(),
            claims: d.claims().clone(),
        }),
        Err(jwtgrant_signer::VerifyError::Malformed { reason, .. }) => Err(reason),
        Err(e) => Err(e.to_string()),
    }
}

/// How the signature check came out, computed by the caller of [`diagnose`] with the
/// signer (see [`verify_with_idp`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureOutcome {
    /// Verified with the provider's key (the text says which key).
    Valid(String),
    /// Did not verify, or no usable key (the text says why).
    Invalid(String),
}

/// Runs every check. `now` is the current Unix time in seconds; `signature` is the result of
/// [`verify_with_idp`] for the matching provider (or `None` when there is none).
pub fn diagnose(
    snapshot: &Snapshot,
    assertion: &str,
    now: i64,
    signature: Option<&SignatureOutcome>,
) -> Report {
    let mut r = Report::default();
    let decoded = match decode(assertion) {
        Ok(d) => {
            r.checks
                .push(pass("jwt", "the assertion is a JWS with a JSON payload"));
            d
        }
        Err(why) => {
            r.checks.push(fail(
                "jwt",
                format!("the assertion is not a valid JWT: {why}"),
                "pass the compact JWT (header.payload.signature) itself, e.g. from `jwtgrant sign`",
                "The provided assertion is not a valid JWT",
            ));
            return r;
        }
    };
    let claims = &decoded.claims;

    // The client.
    let client = match &snapshot.client {
        Some(c) => {
            r.checks.push(pass(
                "client",
                format!("client '{}' exists", snapshot.client_id),
            ));
            Some(c)
        }
        None => {
            r.checks.push(Check {
                name: "client",
                status: Status::Fail,
                detail: format!("no client '{}' in the realm", snapshot.client_id),
                fix: Some(
                    "create a confidential client with the JWT Authorization Grant enabled (`jwtgrant keycloak setup`), or fix --client-id".into(),
                ),
                keycloak_error: Some("invalid_client"),
            });
            None
        }
    };
    if let Some(c) = client {
        if c.get("publicClient").and_then(Value::as_bool) == Some(true) {
            r.checks.push(fail(
                "client-confidential",
                "the client is public".into(),
                "turn on Client authentication for the client (publicClient=false)",
                "Public client not allowed to use authorization grant",
            ));
        } else {
            r.checks
                .push(pass("client-confidential", "the client is confidential"));
        }
        let enabled = attr(c, CLIENT_GRANT_ENABLED);
        if enabled.as_deref() == Some("true") {
            r.checks.push(pass(
                "client-grant-enabled",
                "the JWT Authorization Grant is enabled on the client",
            ));
        } else {
            r.checks.push(fail(
                "client-grant-enabled",
                format!(
                    "client attribute {CLIENT_GRANT_ENABLED} is {}",
                    enabled.map_or("not set".to_owned(), |v| format!("'{v}'"))
                ),
                &format!("set the client attribute {CLIENT_GRANT_ENABLED}=\"true\" (JWT Authorization Grant: On)"),
                "JWT Authorization Grant is not supported for the requested client",
            ));
        }
    } else {
        r.checks.push(skip("client-confidential"));
        r.checks.push(skip("client-grant-enabled"));
    }

    // Mandatory claims.
    let iss = claims.get("iss").and_then(Value::as_str);
    let sub = claims.get("sub").and_then(Value::as_str);
    match iss {
        Some(i) => r.checks.push(pass("iss", format!("iss is '{i}'"))),
        None => r.checks.push(fail(
            "iss",
            "the assertion has no iss claim".into(),
            "add iss equal to the identity provider's issuer",
            "Missing claim: iss",
        )),
    }
    match sub {
        Some(s) => r.checks.push(pass("sub", format!("sub is '{s}'"))),
        None => r.checks.push(fail(
            "sub",
            "the assertion has no sub claim".into(),
            "add sub: the user's id at the issuer, as linked in Keycloak",
            "Missing claim: sub",
        )),
    }

    // The identity provider for this issuer.
    let idp = iss.and_then(|i| find_idp(&snapshot.idps, i));
    match (iss, idp) {
        (None, _) => r.checks.push(skip("idp-for-issuer")),
        (Some(i), Some(p)) if enabled_idp(p) => r.checks.push(pass(
            "idp-for-issuer",
            format!("identity provider '{}' has issuer '{i}'", alias(p)),
        )),
        (Some(i), Some(p)) => r.checks.push(fail(
            "idp-for-issuer",
            format!(
                "identity provider '{}' has issuer '{i}' but is disabled",
                alias(p)
            ),
            &format!("enable identity provider '{}'", alias(p)),
            "No Identity Provider for provided issuer",
        )),
        (Some(i), None) => {
            let issuers: Vec<String> = snapshot
                .idps
                .iter()
                .filter(|p| p.get("providerId").and_then(Value::as_str) == Some(PROVIDER_ID))
                .map(|p| {
                    format!(
                        "'{}' ({})",
                        config(p, "issuer").unwrap_or_default(),
                        alias(p)
                    )
                })
                .collect();
            let near = snapshot
                .idps
                .iter()
                .find(|p| config(p, "issuer").is_some_and(|s| normalize(&s) == normalize(i)));
            let fix = match near {
                Some(p) => format!(
                    "iss '{i}' differs from provider '{}''s issuer '{}' only in case, scheme or a trailing slash: make them equal character for character",
                    alias(p),
                    config(p, "issuer").unwrap_or_default()
                ),
                None if issuers.is_empty() => "create a JWT Authorization Grant identity provider with this issuer (`jwtgrant keycloak setup --issuer ...`)".to_owned(),
                None => format!(
                    "sign with iss equal to a provider's issuer, or set the provider's issuer to '{i}' (JWT Authorization Grant providers: {})",
                    issuers.join(", ")
                ),
            };
            r.checks.push(Check {
                name: "idp-for-issuer",
                status: Status::Fail,
                detail: format!("no identity provider has issuer '{i}'"),
                fix: Some(fix),
                keycloak_error: Some("No Identity Provider for provided issuer"),
            });
        }
    }
    let idp = idp.filter(|p| enabled_idp(p));

    // The provider is allowed for the client.
    match (idp, client) {
        (Some(p), Some(c)) => {
            let allowed = attr(c, CLIENT_ALLOWED_IDPS).unwrap_or_default();
            let list: Vec<&str> = allowed.split("##").filter(|s| !s.is_empty()).collect();
            if list.contains(&alias(p)) {
                r.checks.push(pass(
                    "idp-allowed",
                    format!("the client allows identity provider '{}'", alias(p)),
                ));
            } else {
                r.checks.push(fail(
                    "idp-allowed",
                    format!(
                        "the client allows {} but not '{}'",
                        if list.is_empty() { "no identity provider".to_owned() } else { format!("only {}", list.join(", ")) },
                        alias(p)
                    ),
                    &format!(
                        "add '{}' to the client's Allowed Identity Providers (attribute {CLIENT_ALLOWED_IDPS}, aliases joined with ##)",
                        alias(p)
                    ),
                    "Identity Provider is not allowed for the client",
                ));
            }
        }
        _ => r.checks.push(skip("idp-allowed")),
    }

    // Times and jti, with the provider's settings.
    match idp {
        Some(p) => time_checks(&mut r, claims, p, now),
        None => {
            for name in ["exp", "active", "iat", "jti"] {
                r.checks.push(skip(name));
            }
        }
    }

    // Algorithm.
    let alg = decoded
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or("");
    match idp {
        Some(p) => {
            let wanted =
                config(p, "jwtAuthorizationGrantAssertionSignatureAlg").filter(|s| !s.is_empty());
            let asymmetric =
                ["RS", "PS", "ES"].iter().any(|x| alg.starts_with(x)) || alg == "EdDSA";
            if !asymmetric {
                r.checks.push(fail(
                    "alg",
                    format!("alg '{alg}' is not asymmetric"),
                    "sign with RS256, PS256, ES256, ES384 or EdDSA",
                    "Invalid signature algorithm",
                ));
            } else if let Some(w) = wanted.filter(|w| w != alg) {
                r.checks.push(fail(
                    "alg",
                    format!("alg is '{alg}' but the provider only allows '{w}'"),
                    &format!("sign with --alg {w}, or clear the provider's jwtAuthorizationGrantAssertionSignatureAlg"),
                    "Invalid signature algorithm",
                ));
            } else {
                r.checks
                    .push(pass("alg", format!("alg '{alg}' is allowed")));
            }
        }
        None => r.checks.push(skip("alg")),
    }

    // Audience.
    match idp {
        Some(_) => audience_check(&mut r, claims, &snapshot.expected_audiences),
        None => r.checks.push(skip("audience")),
    }

    // Signature.
    match (idp, signature) {
        (Some(_), Some(SignatureOutcome::Valid(how))) => r.checks.push(pass(
            "signature",
            format!("the signature verifies with {how}"),
        )),
        (Some(p), Some(SignatureOutcome::Invalid(why))) => {
            let mut fix = "put the public key matching the signing key on the provider (`jwtgrant pubkey --key FILE`), or sign with the key the provider holds".to_owned();
            if config(p, "useJwksUrl").as_deref() != Some("true")
                && config(p, "jwksUrl").is_some_and(|u| !u.is_empty())
                && config(p, "publicKeySignatureVerifier").is_none_or(|k| k.is_empty())
            {
                fix = "the provider has a jwksUrl but useJwksUrl is not \"true\", so Keycloak uses the (empty) static key: set useJwksUrl=\"true\"".to_owned();
            }
            r.checks.push(Check {
                name: "signature",
                status: Status::Fail,
                detail: why.clone(),
                fix: Some(fix),
                keycloak_error: Some("Invalid signature"),
            });
        }
        _ => r.checks.push(skip("signature")),
    }

    // The user.
    match (idp, sub, snapshot.user_looked_up) {
        (Some(p), Some(s), true) => match &snapshot.user {
            Some(u) => {
                let name = u.get("username").and_then(Value::as_str).unwrap_or("?");
                r.checks.push(pass(
                    "user-linked",
                    format!(
                        "user '{name}' is linked to '{}' with userId '{s}'",
                        alias(p)
                    ),
                ));
                if u.get("enabled").and_then(Value::as_bool) == Some(false) {
                    r.checks.push(fail(
                        "user-enabled",
                        format!("user '{name}' is disabled"),
                        &format!("enable user '{name}'"),
                        "User is not enabled",
                    ));
                } else if u
                    .get("requiredActions")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
                {
                    r.checks.push(fail(
                        "user-enabled",
                        format!(
                            "user '{name}' has required actions {}",
                            u.get("requiredActions")
                                .map(Value::to_string)
                                .unwrap_or_default()
                        ),
                        &format!("clear the required actions of user '{name}'"),
                        "Account is not fully set up",
                    ));
                } else {
                    r.checks
                        .push(pass("user-enabled", format!("user '{name}' is enabled")));
                }
            }
            None => {
                r.checks.push(fail(
                    "user-linked",
                    format!("no user is linked to '{}' with userId '{s}'", alias(p)),
                    &format!(
                        "link a user: Users > (user) > Identity provider links > {} with user ID '{s}', or `jwtgrant keycloak setup ... --link {s}=USERNAME`",
                        alias(p)
                    ),
                    "User not found",
                ));
                r.checks.push(skip("user-enabled"));
            }
        },
        _ => {
            r.checks.push(skip("user-linked"));
            r.checks.push(skip("user-enabled"));
        }
    }
    r
}

fn time_checks(r: &mut Report, claims: &Value, idp: &Value, now: i64) {
    let num = |name: &str| claims.get(name).and_then(Value::as_f64).map(|f| f as i64);
    let setting = |key: &str, default: i64| {
        config(idp, key)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(default)
    };
    let max_exp = setting(
        "jwtAuthorizationGrantMaxAllowedAssertionExpiration",
        DEFAULT_MAX_EXPIRATION,
    );
    let skew = setting("jwtAuthorizationGrantAllowedClockSkew", 0);
    let reuse =
        config(idp, "jwtAuthorizationGrantAssertionReuseAllowed").as_deref() == Some("true");

    let Some(exp) = num("exp") else {
        r.checks.push(fail(
            "exp",
            "the assertion has no exp claim".into(),
            "add an exp claim (`jwtgrant sign --lifetime 60s`)",
            "Token exp claim is required",
        ));
        for name in ["active", "iat"] {
            r.checks.push(skip(name));
        }
        jti_check(r, claims, reuse);
        return;
    };
    r.checks.push(pass(
        "exp",
        format!("exp is {} ({})", exp, relative(exp - now)),
    ));

    let nbf = num("nbf");
    if now > exp {
        r.checks.push(fail(
            "active",
            format!("the assertion expired {} s ago", now - exp),
            "sign a fresh assertion right before exchanging it; check the clocks",
            "Token is not active",
        ));
    } else if let Some(nbf) = nbf.filter(|nbf| now + skew < *nbf) {
        r.checks.push(fail(
            "active",
            format!("nbf is {} s ahead (allowed clock skew {skew} s)", nbf - now),
            "sync the signer's clock, or raise the provider's allowed clock skew",
            "Token is not active",
        ));
    } else {
        r.checks
            .push(pass("active", "exp has not passed and nbf is reached"));
    }

    let lifespan = exp - now;
    match num("iat") {
        None if lifespan > max_exp => r.checks.push(fail(
            "iat",
            format!("no iat and exp is {lifespan} s ahead, more than the provider's maximum of {max_exp} s"),
            "add iat (jwtgrant sign always does), or shorten the lifetime",
            "Token expiration is too far in the future and iat claim not present in token",
        )),
        None => r.checks.push(Check {
            name: "iat",
            status: Status::Warn,
            detail: format!("no iat; exp is within the maximum of {max_exp} s"),
            fix: Some("add iat so the age can be checked".into()),
            keycloak_error: None,
        }),
        Some(iat) if iat - skew > now => r.checks.push(fail(
            "iat",
            format!("iat is {} s in the future (allowed clock skew {skew} s)", iat - now),
            "the signer's clock is ahead of Keycloak's: sync the clocks (NTP) or raise the provider's allowed clock skew",
            "Token was issued in the future",
        )),
        Some(_) if lifespan.min(max_exp) <= 0 => r.checks.push(fail("iat", "the remaining lifetime is not positive".into(), "sign a fresh assertion", "Token is not active")),
        Some(iat) if now > iat + max_exp => r.checks.push(fail(
            "iat",
            format!("iat is {} s old, more than the provider's maximum of {max_exp} s", now - iat),
            "sign the assertion right before exchanging it (or raise the provider's max assertion expiration)",
            "Token was issued too far in the past to be used now",
        )),
        Some(iat) => r.checks.push(pass(
            "iat",
            format!("iat is {} s old, within the maximum of {max_exp} s", now - iat),
        )),
    }
    jti_check(r, claims, reuse);
}

fn jti_check(r: &mut Report, claims: &Value, reuse: bool) {
    match claims.get("jti").and_then(Value::as_str) {
        _ if reuse => r.checks.push(pass("jti", "the provider allows assertion reuse")),
        Some(j) => r.checks.push(Check {
            name: "jti",
            status: Status::Pass,
            detail: format!("jti '{j}' is present (single use: Keycloak answers 'Token reuse detected' the second time)"),
            fix: None,
            keycloak_error: None,
        }),
        None => r.checks.push(fail("jti", "the assertion has no jti claim".into(), "add a unique jti (jwtgrant sign always does), or allow assertion reuse on the provider", "Token jti claim is required")),
    }
}

fn audience_check(r: &mut Report, claims: &Value, expected: &[String]) {
    let auds: Vec<&str> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let want = expected.first().cloned().unwrap_or_default();
    if !auds.iter().any(|a| expected.iter().any(|e| e == a)) {
        let got = if auds.is_empty() {
            "no aud".to_owned()
        } else {
            format!("aud {auds:?}")
        };
        r.checks.push(fail(
            "audience",
            format!("{got}; Keycloak expects '{want}' (or its token endpoint)"),
            &format!("sign with --aud {want} (or --keycloak BASE --realm REALM, as Keycloak sees its own URL)"),
            "Invalid token audience",
        ));
    } else if auds.len() > 1 {
        r.checks.push(fail(
            "audience",
            format!("aud is an array of {} values", auds.len()),
            &format!("send exactly one aud: '{want}'"),
            "Multiple audiences not allowed",
        ));
    } else {
        r.checks
            .push(pass("audience", format!("aud is '{}'", auds[0])));
    }
}

fn relative(delta: i64) -> String {
    if delta >= 0 {
        format!("in {delta} s")
    } else {
        format!("{} s ago", -delta)
    }
}

fn pass(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        status: Status::Pass,
        detail: detail.into(),
        fix: None,
        keycloak_error: None,
    }
}

fn fail(name: &'static str, detail: String, fix: &str, keycloak_error: &'static str) -> Check {
    Check {
        name,
        status: Status::Fail,
        detail,
        fix: Some(fix.to_owned()),
        keycloak_error: Some(keycloak_error),
    }
}

fn skip(name: &'static str) -> Check {
    Check {
        name,
        status: Status::Skip,
        detail: "not checked: an earlier check failed".into(),
        fix: None,
        keycloak_error: None,
    }
}

fn attr(client: &Value, name: &str) -> Option<String> {
    client
        .get("attributes")?
        .get(name)?
        .as_str()
        .map(str::to_owned)
}

/// A provider's `config` value.
pub fn config(idp: &Value, key: &str) -> Option<String> {
    idp.get("config")?.get(key)?.as_str().map(str::to_owned)
}

fn alias(idp: &Value) -> &str {
    idp.get("alias").and_then(Value::as_str).unwrap_or("?")
}

fn enabled_idp(idp: &Value) -> bool {
    idp.get("enabled").and_then(Value::as_bool).unwrap_or(true)
}

fn normalize(s: &str) -> String {
    s.trim_end_matches('/')
        .to_ascii_lowercase()
        .replacen("https://", "", 1)
        .replacen("http://", "", 1)
}

/// The JWT Authorization Grant provider whose issuer equals `iss` exactly (enabled ones first).
pub fn find_idp<'a>(idps: &'a [Value], iss: &str) -> Option<&'a Value> {
    let mut matching = idps.iter().filter(|p| {
        p.get("providerId").and_then(Value::as_str) == Some(PROVIDER_ID)
            && config(p, "issuer").as_deref() == Some(iss)
    });
    let all: Vec<&Value> = matching.by_ref().collect();
    all.iter().find(|p| enabled_idp(p)).or(all.first()).copied()
}

/// Checks the assertion's signature the way the provider `idp` would: with its static key
/// (`publicKeySignatureVerifier`: SPKI PEM, base64 SPKI DER or a JWKS JSON) or, when
/// `useJwksUrl` is `"true"`, with the JWKS in `jwks` (fetched from its `jwksUrl`).
pub fn verify_with_idp(
    idp: &Value,
    jwks: Option<&Result<String, String>>,
    assertion: &str,
) -> SignatureOutcome {
    use jwtgrant_signer::{Jwks, PublicKey, verify, verify_with_jwks};
    if config(idp, "useJwksUrl").as_deref() == Some("true") {
        let url = config(idp, "jwksUrl").unwrap_or_default();
        return match jwks {
            None => SignatureOutcome::Invalid(format!("the JWKS at '{url}' was not fetched")),
            Some(Err(why)) => SignatureOutcome::Invalid(format!(
                "cannot fetch the provider's JWKS from '{url}': {why}"
            )),
            Some(Ok(body)) => match Jwks::from_json(body) {
                Err(e) => {
                    SignatureOutcome::Invalid(format!("the JWKS at '{url}' is unusable: {e}"))
                }
                Ok(set) => match verify_with_jwks(assertion, &set) {
                    Ok(_) => SignatureOutcome::Valid(format!("a key of the JWKS at '{url}'")),
                    Err(e) => SignatureOutcome::Invalid(format!(
                        "does not verify with the JWKS at '{url}': {e}"
                    )),
                },
            },
        };
    }
    let material = config(idp, "publicKeySignatureVerifier").unwrap_or_default();
    let material = material.trim();
    if material.is_empty() {
        return SignatureOutcome::Invalid(
            "the provider has no static key (publicKeySignatureVerifier is empty) and does not use a JWKS URL".into(),
        );
    }
    let fixed_kid = config(idp, "publicKeySignatureVerifierKeyId").filter(|k| !k.is_empty());
    if material.starts_with('{') {
        return match Jwks::from_json(material) {
            Err(e) => {
                SignatureOutcome::Invalid(format!("the provider's static JWKS is unusable: {e}"))
            }
            Ok(set) => match verify_with_jwks(assertion, &set) {
                Ok(_) => SignatureOutcome::Valid("a key of the provider's static JWKS".into()),
                Err(e) => SignatureOutcome::Invalid(format!(
                    "does not verify with the provider's static JWKS: {e}"
                )),
            },
        };
    }
    let key = if material.starts_with("-----") {
        PublicKey::from_pem(material.as_bytes())
    } else {
        use base64ct::{Base64, Encoding as _};
        let compact: String = material.split_whitespace().collect();
        match Base64::decode_vec(&compact) {
            Ok(der) => PublicKey::from_der(&der),
            Err(_) => {
                return SignatureOutcome::Invalid(
                    "the provider's static key is neither PEM, base64 SPKI DER nor a JWKS".into(),
                );
            }
        }
    };
    let key = match key {
        Ok(k) => k,
        Err(e) => {
            return SignatureOutcome::Invalid(format!(
                "the provider's static key is unusable: {e}"
            ));
        }
    };
    if let Some(kid) = &fixed_kid {
        let token_kid = decode(assertion).ok().and_then(|d| {
            d.header
                .get("kid")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        if token_kid.as_deref().is_some_and(|t| t != kid) {
            return SignatureOutcome::Invalid(format!(
                "the assertion's kid '{}' differs from the provider's fixed key id '{kid}'",
                token_kid.unwrap_or_default()
            ));
        }
    }
    match verify(assertion, &key) {
        Ok(_) => SignatureOutcome::Valid(format!(
            "the provider's static key (thumbprint {})",
            key.thumbprint()
        )),
        Err(e) => SignatureOutcome::Invalid(format!(
            "does not verify with the provider's static key (thumbprint {}): {e}",
            key.thumbprint()
        )),
    }
}

/// Everything [`fetch`] learned: the snapshot and the signature outcome for the matching
/// provider.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Fetched {
    /// The realm's configuration as it concerns this assertion.
    pub snapshot: Snapshot,
    /// The signature check against the matching provider, when there is one.
    pub signature: Option<SignatureOutcome>,
}

/// Reads what the checks need through the admin API (providers, the client, the user linked
/// to the assertion's `sub` at the provider matching its `iss`) and, for a provider using a
/// JWKS URL, fetches that JWKS through `exchange`'s transport (the same TLS roots, timeouts
/// and proxy rule the exchange itself uses). `base` is the URL Keycloak is reached at.
pub fn fetch(
    admin: &crate::admin::AdminSession,
    exchange: &crate::Exchange,
    base: &str,
    realm: &str,
    client_id: &str,
    assertion: &str,
) -> Result<Fetched, crate::admin::AdminError> {
    let mut snapshot = Snapshot::new(base, realm, client_id);
    snapshot.client = admin.get_client(realm, client_id)?;
    snapshot.idps = admin.get_idps(realm)?;
    let claims = decode(assertion).ok().map(|d| d.claims);
    let iss = claims
        .as_ref()
        .and_then(|c| c.get("iss"))
        .and_then(Value::as_str);
    let sub = claims
        .as_ref()
        .and_then(|c| c.get("sub"))
        .and_then(Value::as_str);
    let idp = iss.and_then(|i| find_idp(&snapshot.idps, i)).cloned();
    let mut signature = None;
    if let Some(p) = &idp {
        if let Some(s) = sub {
            let alias = alias(p).to_owned();
            snapshot.user = admin.find_user_by_idp_link(realm, &alias, s)?;
            snapshot.user_looked_up = true;
        }
        if config(p, "useJwksUrl").as_deref() == Some("true") {
            let url = config(p, "jwksUrl").unwrap_or_default();
            snapshot.jwks = Some(fetch_text(exchange, &url));
        }
        signature = Some(verify_with_idp(p, snapshot.jwks.as_ref(), assertion));
    }
    Ok(Fetched {
        snapshot,
        signature,
    })
}

/// GET a JWKS through `exchange`'s transport (its CA bundle, timeouts, proxy rule, body
/// cap); errors as text for the report. Plain http is fine here: a JWKS is public and no
/// credential is sent.
fn fetch_text(exchange: &crate::Exchange, url: &str) -> Result<String, String> {
    let url = crate::endpoint::parse_url(url).map_err(|e| e.to_string())?;
    let (status, body) = exchange.get(&url).map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    String::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const BASE: &str = "http://localhost:8080";

    fn b64(v: &Value) -> String {
        use base64ct::{Base64UrlUnpadded, Encoding as _};
        Base64UrlUnpadded::encode_string(v.to_string().as_bytes())
    }

    fn jwt(header: Value, claims: Value) -> String {
        format!("{}.{}.c2ln", b64(&header), b64(&claims))
    }

    fn good_claims() -> Value {
        json!({"iss": "http://localhost:3000", "sub": "nodejsuser-1234",
               "aud": "http://localhost:8080/realms/acme", "jti": "j1",
               "iat": NOW - 5, "exp": NOW + 55})
    }

    fn idp() -> Value {
        json!({"alias": "jwt-authorization-grant", "providerId": PROVIDER_ID, "enabled": true,
               "config": {"issuer": "http://localhost:3000", "publicKeySignatureVerifier": "MIIB..."}})
    }

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::new(BASE, "acme", "custom-client");
        s.client = Some(json!({"clientId": "custom-client", "publicClient": false,
            "attributes": {CLIENT_GRANT_ENABLED: "true", CLIENT_ALLOWED_IDPS: "other##jwt-authorization-grant"}}));
        s.idps = vec![
            json!({"alias": "google", "providerId": "google", "config": {}}),
            idp(),
        ];
        s.user = Some(json!({"username": "alice", "enabled": true, "requiredActions": []}));
        s.user_looked_up = true;
        s
    }

    fn valid() -> SignatureOutcome {
        SignatureOutcome::Valid("the provider's static key".into())
    }

    /// Runs the checks and returns (first failing check, its Keycloak error).
    fn first(
        snap: &Snapshot,
        token: &str,
        sig: Option<&SignatureOutcome>,
    ) -> Option<(&'static str, Option<&'static str>)> {
        let r = diagnose(snap, token, NOW, sig);
        r.first_failure().map(|c| (c.name, c.keycloak_error))
    }

    fn check(
        snap: Snapshot,
        claims: Value,
        sig: SignatureOutcome,
        expected: Option<(&'static str, &'static str)>,
    ) {
        let token = jwt(json!({"alg": "RS256", "typ": "JWT"}), claims.clone());
        let got = first(&snap, &token, Some(&sig));
        assert_eq!(got, expected.map(|(n, e)| (n, Some(e))), "claims {claims}");
    }

    #[test]
    fn all_good() {
        let r = diagnose(
            &snapshot(),
            &jwt(json!({"alg": "RS256"}), good_claims()),
            NOW,
            Some(&valid()),
        );
        assert!(r.ok(), "{r:#?}");
        assert_eq!(r.checks.len(), 17);
        assert!(r.checks.iter().all(|c| c.status == Status::Pass), "{r:#?}");
    }

    #[test]
    fn the_seeds_three_errors() {
        let mut c = good_claims();
        c["iss"] = json!("http://localhost:3001");
        check(
            snapshot(),
            c,
            valid(),
            Some(("idp-for-issuer", "No Identity Provider for provided issuer")),
        );

        let mut s = snapshot();
        s.user = None;
        check(
            s,
            good_claims(),
            valid(),
            Some(("user-linked", "User not found")),
        );

        check(
            snapshot(),
            good_claims(),
            SignatureOutcome::Invalid("does not verify with the provider's static key".into()),
            Some(("signature", "Invalid signature")),
        );
    }

    #[test]
    fn table_of_failures_in_keycloak_order() {
        let with = |k: &str, v: Value| {
            let mut c = good_claims();
            c[k] = v;
            c
        };
        let without = |k: &str| {
            let mut c = good_claims();
            c.as_object_mut().unwrap().remove(k);
            c
        };
        check(
            snapshot(),
            without("iss"),
            valid(),
            Some(("iss", "Missing claim: iss")),
        );
        check(
            snapshot(),
            without("sub"),
            valid(),
            Some(("sub", "Missing claim: sub")),
        );
        check(
            snapshot(),
            without("exp"),
            valid(),
            Some(("exp", "Token exp claim is required")),
        );
        check(
            snapshot(),
            with("exp", json!(NOW - 1)),
            valid(),
            Some(("active", "Token is not active")),
        );
        check(
            snapshot(),
            with("nbf", json!(NOW + 30)),
            valid(),
            Some(("active", "Token is not active")),
        );
        check(
            snapshot(),
            with("iat", json!(NOW + 30)),
            valid(),
            Some(("iat", "Token was issued in the future")),
        );
        check(
            snapshot(),
            with("iat", json!(NOW - 301)),
            valid(),
            Some(("iat", "Token was issued too far in the past to be used now")),
        );
        let mut c = without("iat");
        c["exp"] = json!(NOW + 400);
        check(
            snapshot(),
            c,
            valid(),
            Some((
                "iat",
                "Token expiration is too far in the future and iat claim not present in token",
            )),
        );
        check(
            snapshot(),
            without("jti"),
            valid(),
            Some(("jti", "Token jti claim is required")),
        );
        check(
            snapshot(),
            with("aud", json!("http://localhost:8080/realms/other")),
            valid(),
            Some(("audience", "Invalid token audience")),
        );
        check(
            snapshot(),
            with("aud", json!(["http://localhost:8080/realms/acme", "x"])),
            valid(),
            Some(("audience", "Multiple audiences not allowed")),
        );
        check(
            snapshot(),
            with(
                "aud",
                json!("http://localhost:8080/realms/acme/protocol/openid-connect/token"),
            ),
            valid(),
            None,
        );
        // Audience comes before the signature (26.5-26.7): both wrong names the audience.
        check(
            snapshot(),
            with("aud", json!("x")),
            SignatureOutcome::Invalid("no".into()),
            Some(("audience", "Invalid token audience")),
        );
    }

    #[test]
    fn client_and_provider_configuration() {
        let mut s = snapshot();
        s.client = None;
        check(
            s,
            good_claims(),
            valid(),
            Some(("client", "invalid_client")),
        );

        let mut s = snapshot();
        s.client.as_mut().unwrap()["publicClient"] = json!(true);
        check(
            s,
            good_claims(),
            valid(),
            Some((
                "client-confidential",
                "Public client not allowed to use authorization grant",
            )),
        );

        let mut s = snapshot();
        s.client.as_mut().unwrap()["attributes"][CLIENT_GRANT_ENABLED] = json!("false");
        check(
            s,
            good_claims(),
            valid(),
            Some((
                "client-grant-enabled",
                "JWT Authorization Grant is not supported for the requested client",
            )),
        );

        let mut s = snapshot();
        s.client.as_mut().unwrap()["attributes"][CLIENT_ALLOWED_IDPS] = json!("other");
        check(
            s,
            good_claims(),
            valid(),
            Some((
                "idp-allowed",
                "Identity Provider is not allowed for the client",
            )),
        );

        let mut s = snapshot();
        s.idps[1]["enabled"] = json!(false);
        check(
            s,
            good_claims(),
            valid(),
            Some(("idp-for-issuer", "No Identity Provider for provided issuer")),
        );

        let mut s = snapshot();
        s.idps[1]["config"]["jwtAuthorizationGrantAssertionSignatureAlg"] = json!("ES256");
        check(
            s,
            good_claims(),
            valid(),
            Some(("alg", "Invalid signature algorithm")),
        );

        let mut s = snapshot();
        s.idps[1]["config"]["jwtAuthorizationGrantMaxAllowedAssertionExpiration"] = json!("3");
        check(
            s,
            good_claims(),
            valid(),
            Some(("iat", "Token was issued too far in the past to be used now")),
        );

        let mut s = snapshot();
        s.idps[1]["config"]["jwtAuthorizationGrantAllowedClockSkew"] = json!("60");
        let mut c = good_claims();
        c["iat"] = json!(NOW + 30);
        check(s, c, valid(), None);

        let mut s = snapshot();
        s.idps[1]["config"]["jwtAuthorizationGrantAssertionReuseAllowed"] = json!("true");
        let mut c = good_claims();
        c.as_object_mut().unwrap().remove("jti");
        check(s, c, valid(), None);

        let mut s = snapshot();
        s.user.as_mut().unwrap()["enabled"] = json!(false);
        check(
            s,
            good_claims(),
            valid(),
            Some(("user-enabled", "User is not enabled")),
        );

        let mut s = snapshot();
        s.user.as_mut().unwrap()["requiredActions"] = json!(["UPDATE_PASSWORD"]);
        check(
            s,
            good_claims(),
            valid(),
            Some(("user-enabled", "Account is not fully set up")),
        );
    }

    #[test]
    fn bad_tokens_and_algorithms() {
        let s = snapshot();
        assert_eq!(
            first(&s, "not-a-jwt", None),
            Some(("jwt", Some("The provided assertion is not a valid JWT")))
        );
        assert_eq!(
            first(&s, "a.b.c", None),
            Some(("jwt", Some("The provided assertion is not a valid JWT")))
        );
        let none = jwt(json!({"alg": "none"}), good_claims());
        assert_eq!(
            first(&s, &none, Some(&valid())),
            Some(("alg", Some("Invalid signature algorithm")))
        );
        let hs = jwt(json!({"alg": "HS256"}), good_claims());
        assert_eq!(
            first(&s, &hs, Some(&valid())),
            Some(("alg", Some("Invalid signature algorithm")))
        );
    }

    #[test]
    fn fixes_name_the_way_out() {
        let mut c = good_claims();
        c["iss"] = json!("http://localhost:3000/");
        let r = diagnose(&snapshot(), &jwt(json!({"alg": "RS256"}), c), NOW, None);
        let f = r.first_failure().unwrap();
        assert!(
            f.fix.as_deref().unwrap().contains("trailing slash"),
            "{f:?}"
        );
        // Later checks that need the provider are skipped, not failed.
        assert_eq!(r.get("signature").unwrap().status, Status::Skip);
        assert_eq!(r.get("user-linked").unwrap().status, Status::Skip);

        let mut s = snapshot();
        s.idps[1]["config"] =
            json!({"issuer": "http://localhost:3000", "jwksUrl": "http://localhost:3000/jwks"});
        let r = diagnose(
            &s,
            &jwt(json!({"alg": "RS256"}), good_claims()),
            NOW,
            Some(&SignatureOutcome::Invalid("no static key".into())),
        );
        assert!(
            r.first_failure()
                .unwrap()
                .fix
                .as_deref()
                .unwrap()
                .contains("useJwksUrl"),
            "{r:#?}"
        );

        let mut s = snapshot();
        s.user = None;
        let r = diagnose(
            &s,
            &jwt(json!({"alg": "RS256"}), good_claims()),
            NOW,
            Some(&valid()),
        );
        assert!(
            r.first_failure()
                .unwrap()
                .fix
                .as_deref()
                .unwrap()
                .contains("--link nodejsuser-1234=USERNAME")
        );
    }

    #[test]
    fn signature_against_static_keys_in_every_format() {
        use jwtgrant_signer::{Claims, Jwks, Signer};
        let rsa = Signer::from_pem(include_bytes!(
            "../../jwtgrant-signer/tests/fixtures/rsa2048-pkcs8.pem"
        ))
        .unwrap();
        let other = Signer::from_pem(include_bytes!(
            "../../jwtgrant-signer/tests/fixtures/ed25519-pkcs8.pem"
        ))
        .unwrap();
        let token = rsa
            .sign(&Claims::new("http://localhost:3000", "u", "a"))
            .unwrap();
        let pem = rsa.public_key_pem();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let jwks = Jwks::from_keys([(Some("k".to_owned()), None, rsa.public_key())])
            .to_value()
            .to_string();
        let idp =
            |config: Value| json!({"alias": "a", "providerId": PROVIDER_ID, "config": config});
        for material in [pem.clone(), b64, jwks.clone()] {
            let out = verify_with_idp(
                &idp(json!({"publicKeySignatureVerifier": material})),
                None,
                &token,
            );
            assert!(matches!(out, SignatureOutcome::Valid(_)), "{out:?}");
        }
        let wrong = verify_with_idp(
            &idp(json!({"publicKeySignatureVerifier": other.public_key_pem()})),
            None,
            &token,
        );
        assert!(
            matches!(&wrong, SignatureOutcome::Invalid(w) if w.contains("static key")),
            "{wrong:?}"
        );
        let empty = verify_with_idp(&idp(json!({"jwksUrl": "http://x/jwks"})), None, &token);
        assert!(
            matches!(&empty, SignatureOutcome::Invalid(w) if w.contains("no static key")),
            "{empty:?}"
        );
        let fixed = verify_with_idp(
            &idp(
                json!({"publicKeySignatureVerifier": pem, "publicKeySignatureVerifierKeyId": "other"}),
            ),
            None,
            &rsa.clone()
                .with_kid("mine")
                .sign(&Claims::new("http://localhost:3000", "u", "a"))
                .unwrap(),
        );
        assert!(
            matches!(&fixed, SignatureOutcome::Invalid(w) if w.contains("fixed key id 'other'")),
            "{fixed:?}"
        );
        let by_url = idp(json!({"useJwksUrl": "true", "jwksUrl": "http://x/jwks"}));
        assert!(matches!(
            verify_with_idp(&by_url, Some(&Ok(jwks)), &token),
            SignatureOutcome::Valid(_)
        ));
        let down = verify_with_idp(&by_url, Some(&Err("connection refused".into())), &token);
        assert!(
            matches!(&down, SignatureOutcome::Invalid(w) if w.contains("cannot fetch")),
            "{down:?}"
        );
    }
}
