//! Replays the token endpoint's checks for the JWT Authorization Grant locally, against a
//! realm's real configuration, and names the check that fails with its fix.
//!
//! The checks are pure functions over a [`Snapshot`] (the identity providers, the client and
//! the linked user as the admin API returns them, the fetched JWKS when the provider uses a
//! JWKS URL, and the server's version) and the assertion. [`fetch`] is the thin IO part that
//! builds a snapshot.
//!
//! There is one function per [`Stage`] of Keycloak's `JWTAuthorizationGrantType.process`,
//! named after the check it mirrors, and they run in the order of the server's release
//! ([`Order`], from [`crate::versions`]): Keycloak reports only the first failure,
//! and since 26.7 it verifies the signature before the time, `jti` and audience checks. The
//! doctor reports every check it can evaluate; [`Report::first_failure`] is the one Keycloak
//! names. What Keycloak answers for each failure comes from the one rejection table
//! ([`crate::rejections`]); [`compare`] sets the doctor's verdict against the real
//! answer.

use std::fmt;

use serde_json::Value;

use crate::{Check as KeycloakCheck, Description, Order, Stage, Version};
use jwtgrant_exchange::PresentedCertificate;

pub use crate::attributes::{
    CLIENT_ALLOWED_IDPS, CLIENT_BOUND_TOKENS, CLIENT_CA_SUBJECT_DN, CLIENT_DN_REGEX,
    CLIENT_GRANT_ENABLED, CLIENT_REQUIRES_DPOP, CLIENT_SUBJECT_DN, DEFAULT_MAX_EXPIRATION,
    ID_JAG_FEATURE, PROVIDER_ID, X509_AUTHENTICATOR,
};

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
    /// The server's release (`/admin/serverinfo`); `None` when unknown, and the checks then
    /// run in the newest release's order.
    pub server_version: Option<Version>,
    /// The client certificate the exchange will present (mutual TLS), or `None` when it
    /// presents none.
    pub presented_certificate: Option<PresentedCertificate>,
    /// True when the token request carries a DPoP proof (RFC 9449).
    pub dpop_proof: bool,
    /// The server's enabled features (`/admin/serverinfo`, e.g. `identity-assertion-jwt`);
    /// `None` when unknown.
    pub features: Option<Vec<String>>,
}

impl Snapshot {
    /// An empty snapshot for `client_id` expecting the audiences of `base` and `realm`.
    pub fn new(base: &str, realm: &str, client_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            expected_audiences: vec![
                crate::realm_url(base, realm),
                crate::token_endpoint(base, realm),
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
    /// Could not be evaluated because a check it depends on failed.
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
    /// Which of Keycloak's checks this line replays.
    pub check: KeycloakCheck,
    /// Stable short name, e.g. `idp-for-issuer` (the check's [`KeycloakCheck::name`]).
    pub name: &'static str,
    /// Pass, fail, warn or skip.
    pub status: Status,
    /// What was found, naming the values.
    pub detail: String,
    /// How to fix it (for failures and warnings), in library words.
    pub fix: Option<String>,
    /// What Keycloak answers when this check fails.
    pub rejection: Option<Description>,
}

impl Check {
    /// The `error_description` Keycloak answers when this check fails.
    pub fn keycloak_error(&self) -> Option<&'static str> {
        self.rejection.map(Description::text)
    }
}

/// All checks, in the order of the server's release.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
    /// The order they ran in.
    pub order: Order,
    /// The server's release, when known.
    pub server_version: Option<Version>,
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

/// Runs every check, stage by stage in the order of the snapshot's server release. `now` is
/// the current Unix time in seconds; `signature` is the result of [`verify_with_idp`] for the
/// matching provider (or `None` when there is none).
pub fn diagnose(
    snapshot: &Snapshot,
    assertion: &str,
    now: i64,
    signature: Option<&SignatureOutcome>,
) -> Report {
    let order = Order::of(snapshot.server_version.as_ref());
    let decoded = decode(assertion);
    let ctx = Context::new(snapshot, &decoded, now, signature);
    let mut checks = Vec::new();
    for stage in order.stages() {
        checks.extend(match stage {
            Stage::ClientAuthentication => client_authentication(&ctx),
            Stage::Dpop => validate_dpop(&ctx),
            Stage::AssertionFormat => assertion_format(&decoded),
            Stage::ClientGrant => {
                let mut checks = validate_client(&ctx);
                checks.extend(validate_id_jag_client(&ctx));
                checks
            }
            Stage::MandatoryClaims => validate_issuer_and_subject(&ctx),
            Stage::IdentityProvider => lookup_identity_provider(&ctx),
            Stage::TokenActive => validate_token_active(&ctx),
            Stage::SignatureAlgorithm => validate_signature_algorithm(&ctx),
            Stage::Signature => validate_authorization_grant_assertion(&ctx),
            Stage::User => lookup_user_by_federated_identity(&ctx),
            Stage::Audience => validate_token_audience(&ctx),
            Stage::TokenBinding => bind_token_to_certificate(&ctx),
        });
    }
    Report {
        checks,
        order,
        server_version: snapshot.server_version.clone(),
    }
}

/// What every stage may look at, worked out once.
struct Context<'a> {
    snapshot: &'a Snapshot,
    /// The assertion's header and claims; `None` when it is not a JWT.
    decoded: Option<&'a Decoded>,
    iss: Option<&'a str>,
    sub: Option<&'a str>,
    /// The provider whose issuer equals `iss` (an enabled one first), enabled or not.
    matching_idp: Option<&'a Value>,
    /// That provider when it is enabled: the one Keycloak uses.
    idp: Option<&'a Value>,
    now: i64,
    signature: Option<&'a SignatureOutcome>,
    /// The assertion's header says `typ: oauth-id-jag+jwt` and the server's feature is on
    /// (or its features are unknown): Keycloak's ID-JAG validator applies.
    id_jag: bool,
}

impl<'a> Context<'a> {
    fn new(
        snapshot: &'a Snapshot,
        decoded: &'a Result<Decoded, String>,
        now: i64,
        signature: Option<&'a SignatureOutcome>,
    ) -> Self {
        let decoded = decoded.as_ref().ok();
        let claim = |name: &str| {
            decoded
                .and_then(|d| d.claims.get(name))
                .and_then(Value::as_str)
        };
        let (iss, sub) = (claim("iss"), claim("sub"));
        let matching_idp = iss.and_then(|i| find_idp(&snapshot.idps, i));
        Context {
            snapshot,
            decoded,
            iss,
            sub,
            matching_idp,
            idp: matching_idp.filter(|p| enabled_idp(p)),
            now,
            signature,
            id_jag: has_id_jag_type(decoded.map(|d| &d.header))
                && snapshot.id_jag_feature() != Some(false),
        }
    }

    fn claims(&self) -> Option<&'a Value> {
        self.decoded.map(|d| &d.claims)
    }
}

impl Snapshot {
    /// Whether the server's `identity-assertion-jwt` feature is on; `None` when the
    /// features are unknown.
    pub fn id_jag_feature(&self) -> Option<bool> {
        self.features
            .as_ref()
            .map(|f| f.iter().any(|name| name == ID_JAG_FEATURE))
    }
}

/// True when a JWS header says `typ: oauth-id-jag+jwt` (Keycloak compares it exactly).
fn has_id_jag_type(header: Option<&Value>) -> bool {
    header.and_then(|h| h.get("typ")).and_then(Value::as_str) == Some(jwtgrant_signer::ID_JAG_TYPE)
}

/// `DPoPUtil.handleDPoPHeader`, before the grant: a client that requires DPoP-bound tokens
/// gets a proof. (A proof's own validity is for the server to judge: it is made per request.)
fn validate_dpop(ctx: &Context<'_>) -> Vec<Check> {
    let Some(c) = &ctx.snapshot.client else {
        return skips(&[KeycloakCheck::Dpop]);
    };
    let required = attr(c, CLIENT_REQUIRES_DPOP).as_deref() == Some("true");
    vec![match (required, ctx.snapshot.dpop_proof) {
        (true, false) => fail(
            Description::DpopMissing,
            format!(
                "the client requires DPoP-bound tokens ({CLIENT_REQUIRES_DPOP} = \"true\") and the request carries no DPoP proof"
            ),
            "send a DPoP proof with the token request, or turn the client's DPoP requirement off",
        ),
        (true, true) => pass(
            KeycloakCheck::Dpop,
            "the client requires DPoP and the request carries a proof: the token will be bound to its key",
        ),
        (false, true) => pass(
            KeycloakCheck::Dpop,
            "the request carries a DPoP proof: the token will be bound to its key",
        ),
        (false, false) => pass(
            KeycloakCheck::Dpop,
            "no DPoP proof, and the client does not require one: the token will be a Bearer token",
        ),
    }]
}

/// `IDJWTAuthorizationGrantValidator.validateClient`: an ID-JAG's `client_id` is the client
/// that authenticates. Also warns when the ID-JAG rules will not apply although the
/// assertion looks like an ID-JAG (the trap), or the server's feature is off.
fn validate_id_jag_client(ctx: &Context<'_>) -> Vec<Check> {
    let Some(d) = ctx.decoded else {
        return Vec::new();
    };
    let typed = has_id_jag_type(Some(&d.header));
    let claim = d.claims.get("client_id");
    let warn = |detail: String, fix: &str| Check {
        status: Status::Warn,
        fix: Some(fix.to_owned()),
        ..pass(KeycloakCheck::IdJagClientId, detail)
    };
    if typed && !ctx.id_jag {
        return vec![warn(
            format!(
                "the assertion is an ID-JAG (typ {}), but the server's feature {ID_JAG_FEATURE} is off: Keycloak treats it as a plain assertion and none of the ID-JAG rules apply",
                jwtgrant_signer::ID_JAG_TYPE
            ),
            "start Keycloak with the experimental feature identity-assertion-jwt",
        )];
    }
    if !typed {
        return match claim {
            Some(_) => vec![warn(
                format!(
                    "the assertion carries client_id but its typ is {}, not {}: Keycloak accepts it as a plain RFC 7523 assertion and none of the ID-JAG rules apply",
                    d.header
                        .get("typ")
                        .map_or("absent".to_owned(), |t| t.to_string()),
                    jwtgrant_signer::ID_JAG_TYPE
                ),
                "sign ID-JAGs with the header typ oauth-id-jag+jwt",
            )],
            None => Vec::new(),
        };
    }
    if ctx.snapshot.client.is_none() {
        return skips(&[KeycloakCheck::IdJagClientId]);
    }
    let ours = &ctx.snapshot.client_id;
    vec![match claim.and_then(Value::as_str) {
        Some(id) if id == ours => pass(
            KeycloakCheck::IdJagClientId,
            format!("the ID-JAG's client_id '{id}' is the authenticating client"),
        ),
        other => fail(
            Description::IdJagClientMismatch,
            format!(
                "the ID-JAG's client_id is {} but the client that authenticates is '{ours}'",
                other.map_or("absent".to_owned(), |id| format!("'{id}'"))
            ),
            &format!(
                "set the ID-JAG's client_id to '{ours}', the client the token request authenticates as"
            ),
        ),
    }]
}

/// Client authentication, before the grant runs: the client exists and, for a certificate
/// client (`client-x509`), the presented certificate matches it.
fn client_authentication(ctx: &Context<'_>) -> Vec<Check> {
    let id = &ctx.snapshot.client_id;
    vec![match &ctx.snapshot.client {
        Some(c)
            if c.get("clientAuthenticatorType").and_then(Value::as_str)
                == Some(X509_AUTHENTICATOR) =>
        {
            x509_client_authentication(id, c, ctx.snapshot.presented_certificate.as_ref())
        }
        Some(_) => pass(KeycloakCheck::Client, format!("client '{id}' exists")),
        None => fail(
            Description::InvalidClient,
            format!("no client '{id}' in the realm"),
            "create a confidential client with the JWT Authorization Grant enabled, or use the client id of an existing one",
        ),
    }]
}

/// `X509ClientAuthenticator`: a certificate is presented, its subject equals the client's
/// `x509.subjectdn` and its issuer the `x509.casubjectdn` (when set). With regular
/// expressions off Keycloak parses the attribute as a DN and compares both sides' RFC 2253
/// forms exactly (spaces and keyword case do not matter, values' case and the order of the
/// parts do); with them on it matches the pattern against the DN written with `, `.
fn x509_client_authentication(
    id: &str,
    client: &Value,
    presented: Option<&PresentedCertificate>,
) -> Check {
    let wanted = attr(client, CLIENT_SUBJECT_DN).unwrap_or_default();
    let Some(cert) = presented else {
        return fail(
            Description::InvalidClient,
            format!(
                "client '{id}' authenticates with a client certificate ({X509_AUTHENTICATOR}) and none will be presented"
            ),
            &format!(
                "present a client certificate with subject '{wanted}' over mutual TLS (tls_client_auth)"
            ),
        );
    };
    if wanted.trim().is_empty() {
        return fail(
            Description::InvalidClient,
            format!("client '{id}' has no {CLIENT_SUBJECT_DN}, so no certificate matches it"),
            &format!(
                "set the client's {CLIENT_SUBJECT_DN} to the certificate's subject, '{}'",
                cert.subject_dn
            ),
        );
    }
    let regex = attr(client, CLIENT_DN_REGEX).as_deref() != Some("false");
    let subject = if regex {
        regex_subject_match(&wanted, &cert.subject_dn)
    } else {
        jwtgrant_exchange::normalize_dn(&wanted).map(|w| w == cert.subject_dn)
    };
    match subject {
        None => {
            return Check {
                status: Status::Warn,
                fix: Some(format!(
                    "set {CLIENT_DN_REGEX}=\"false\" and {CLIENT_SUBJECT_DN} to the RFC 2253 DN '{}'",
                    cert.subject_dn
                )),
                ..pass(
                    KeycloakCheck::Client,
                    format!(
                        "cannot replay how Keycloak matches {CLIENT_SUBJECT_DN} '{wanted}' against the certificate's subject '{}'",
                        cert.subject_dn
                    ),
                )
            };
        }
        Some(false) if regex => {
            return fail(
                Description::InvalidClient,
                format!(
                    "{CLIENT_DN_REGEX} is not \"false\", so Keycloak matches {CLIENT_SUBJECT_DN} '{wanted}' as a regular expression against '{}', and it does not match",
                    java_subject(&cert.subject_dn).unwrap_or_default()
                ),
                &format!(
                    "set the client's {CLIENT_DN_REGEX}=\"false\" so {CLIENT_SUBJECT_DN} is compared as the DN '{}'",
                    cert.subject_dn
                ),
            );
        }
        Some(false) => {
            return fail(
                Description::InvalidClient,
                format!(
                    "the certificate's subject '{}' differs from the client's {CLIENT_SUBJECT_DN} '{wanted}'",
                    cert.subject_dn
                ),
                &format!(
                    "present the certificate with subject '{wanted}', or set {CLIENT_SUBJECT_DN} to '{}' (RFC 2253, most specific part first; values are case-sensitive)",
                    cert.subject_dn
                ),
            );
        }
        Some(true) => {}
    }
    if let Some(ca) = attr(client, CLIENT_CA_SUBJECT_DN).filter(|c| !c.trim().is_empty()) {
        match jwtgrant_exchange::normalize_dn(&ca).map(|c| c == cert.issuer_dn) {
            Some(true) => {}
            Some(false) => {
                return fail(
                    Description::InvalidClient,
                    format!(
                        "the certificate's issuer '{}' differs from the client's {CLIENT_CA_SUBJECT_DN} '{ca}'",
                        cert.issuer_dn
                    ),
                    &format!(
                        "present a certificate issued by '{ca}', or set {CLIENT_CA_SUBJECT_DN} to '{}'",
                        cert.issuer_dn
                    ),
                );
            }
            None => {
                return Check {
                    status: Status::Warn,
                    fix: Some(format!(
                        "write {CLIENT_CA_SUBJECT_DN} as the RFC 2253 DN '{}'",
                        cert.issuer_dn
                    )),
                    ..pass(
                        KeycloakCheck::Client,
                        format!(
                            "cannot compare {CLIENT_CA_SUBJECT_DN} '{ca}' with the certificate's issuer '{}'",
                            cert.issuer_dn
                        ),
                    )
                };
            }
        }
    }
    pass(
        KeycloakCheck::Client,
        format!(
            "client '{id}' authenticates with the presented certificate '{}' (issued by '{}')",
            cert.subject_dn, cert.issuer_dn
        ),
    )
}

/// With regular expressions on, Keycloak matches the whole pattern against the subject as
/// `X500Principal.getName()` writes it: the parts joined with `, `. Replayed only for
/// patterns without regex operators (`.` and `-` are taken literally) and plain DNs;
/// `None` when it cannot be replayed.
fn regex_subject_match(pattern: &str, subject_rfc2253: &str) -> Option<bool> {
    if pattern.chars().any(|c| "\\^$|?*+()[]{}".contains(c)) {
        return None;
    }
    Some(java_subject(subject_rfc2253)? == pattern)
}

/// A plain RFC 2253 DN (no escapes, single-valued parts) joined with `, ` instead of `,`.
fn java_subject(rfc2253: &str) -> Option<String> {
    if rfc2253.contains(['\\', '+', '"', '#']) {
        return None;
    }
    Some(rfc2253.replace(',', ", "))
}

/// RFC 8705 token binding: a client asking for certificate-bound tokens must present a
/// certificate. Keycloak checks it when it builds the token response, after the grant.
fn bind_token_to_certificate(ctx: &Context<'_>) -> Vec<Check> {
    let Some(c) = &ctx.snapshot.client else {
        return skips(&[KeycloakCheck::ClientCertificate]);
    };
    let bound = attr(c, CLIENT_BOUND_TOKENS).as_deref() == Some("true");
    vec![match (bound, &ctx.snapshot.presented_certificate) {
        (false, _) => pass(
            KeycloakCheck::ClientCertificate,
            "the client gets plain bearer tokens (no certificate binding)",
        ),
        (true, Some(cert)) => pass(
            KeycloakCheck::ClientCertificate,
            format!(
                "tokens will be bound to the presented certificate '{}' (cnf x5t#S256)",
                cert.subject_dn
            ),
        ),
        (true, None) => fail(
            Description::CertificateMissingForBinding,
            format!(
                "the client binds its tokens to the client certificate ({CLIENT_BOUND_TOKENS}=\"true\") and none will be presented"
            ),
            &format!(
                "present a client certificate over mutual TLS, or set the client's {CLIENT_BOUND_TOKENS}=\"false\""
            ),
        ),
    }]
}

/// The assertion parses as a JWS with a JSON payload.
fn assertion_format(decoded: &Result<Decoded, String>) -> Vec<Check> {
    vec![match decoded {
        Ok(_) => pass(
            KeycloakCheck::Jwt,
            "the assertion is a JWS with a JSON payload",
        ),
        Err(why) => fail(
            Description::NotAJwt,
            format!("the assertion is not a valid JWT: {why}"),
            "pass the compact JWT (header.payload.signature) itself",
        ),
    }]
}

/// `validateClient`: the client is confidential and has the grant enabled.
fn validate_client(ctx: &Context<'_>) -> Vec<Check> {
    let Some(c) = &ctx.snapshot.client else {
        return skips(&[
            KeycloakCheck::ClientConfidential,
            KeycloakCheck::ClientGrantEnabled,
        ]);
    };
    let confidential = if c.get("publicClient").and_then(Value::as_bool) == Some(true) {
        fail(
            Description::PublicClient,
            "the client is public".into(),
            "turn on Client authentication for the client (publicClient=false)",
        )
    } else {
        pass(
            KeycloakCheck::ClientConfidential,
            "the client is confidential",
        )
    };
    let enabled = attr(c, CLIENT_GRANT_ENABLED);
    let grant = if enabled.as_deref() == Some("true") {
        pass(
            KeycloakCheck::ClientGrantEnabled,
            "the JWT Authorization Grant is enabled on the client",
        )
    } else {
        fail(
            Description::GrantNotEnabled,
            format!(
                "client attribute {CLIENT_GRANT_ENABLED} is {}",
                enabled.map_or("not set".to_owned(), |v| format!("'{v}'"))
            ),
            &format!(
                "set the client attribute {CLIENT_GRANT_ENABLED}=\"true\" (JWT Authorization Grant: On)"
            ),
        )
    };
    vec![confidential, grant]
}

/// `validateIssuer`, `validateSubject`: the mandatory claims.
fn validate_issuer_and_subject(ctx: &Context<'_>) -> Vec<Check> {
    if ctx.decoded.is_none() {
        return skips(&[KeycloakCheck::Issuer, KeycloakCheck::Subject]);
    }
    let iss = match ctx.iss {
        Some(i) => pass(KeycloakCheck::Issuer, format!("iss is '{i}'")),
        None => fail(
            Description::MissingIss,
            "the assertion has no iss claim".into(),
            "add iss equal to the identity provider's issuer",
        ),
    };
    let sub = match ctx.sub {
        Some(s) => pass(KeycloakCheck::Subject, format!("sub is '{s}'")),
        None => fail(
            Description::MissingSub,
            "the assertion has no sub claim".into(),
            "add sub: the user's id at the issuer, as linked in Keycloak",
        ),
    };
    vec![iss, sub]
}

/// `lookupIdentityProviderFromIssuer` and the client's allow-list.
fn lookup_identity_provider(ctx: &Context<'_>) -> Vec<Check> {
    let Some(i) = ctx.iss else {
        return skips(&[
            KeycloakCheck::IdentityProvider,
            KeycloakCheck::IdentityProviderAllowed,
        ]);
    };
    let found = match ctx.matching_idp {
        Some(p) if enabled_idp(p) => pass(
            KeycloakCheck::IdentityProvider,
            format!("identity provider '{}' has issuer '{i}'", alias(p)),
        ),
        Some(p) => fail(
            Description::NoIdentityProvider,
            format!(
                "identity provider '{}' has issuer '{i}' but is disabled",
                alias(p)
            ),
            &format!("enable identity provider '{}'", alias(p)),
        ),
        None => fail(
            Description::NoIdentityProvider,
            format!("no identity provider has issuer '{i}'"),
            &no_provider_fix(&ctx.snapshot.idps, i),
        ),
    };
    let allowed = match (ctx.idp, &ctx.snapshot.client) {
        (Some(p), Some(c)) => {
            let allowed = attr(c, CLIENT_ALLOWED_IDPS).unwrap_or_default();
            let list: Vec<&str> = allowed.split("##").filter(|s| !s.is_empty()).collect();
            if list.contains(&alias(p)) {
                pass(
                    KeycloakCheck::IdentityProviderAllowed,
                    format!("the client allows identity provider '{}'", alias(p)),
                )
            } else {
                let only = if list.is_empty() {
                    "no identity provider".to_owned()
                } else {
                    format!("only {}", list.join(", "))
                };
                fail(
                    Description::IdentityProviderNotAllowed,
                    format!("the client allows {only} but not '{}'", alias(p)),
                    &format!(
                        "add '{}' to the client's Allowed Identity Providers (attribute {CLIENT_ALLOWED_IDPS}, aliases joined with ##)",
                        alias(p)
                    ),
                )
            }
        }
        _ => skip(KeycloakCheck::IdentityProviderAllowed),
    };
    vec![found, allowed]
}

/// The fix when no provider has the issuer `iss`: a near miss, the list, or create one.
fn no_provider_fix(idps: &[Value], iss: &str) -> String {
    let issuers: Vec<String> = idps
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
    let near = idps
        .iter()
        .find(|p| config(p, "issuer").is_some_and(|s| normalize(&s) == normalize(iss)));
    match near {
        Some(p) => format!(
            "iss '{iss}' differs from provider '{}''s issuer '{}' only in case, scheme or a trailing slash: make them equal character for character",
            alias(p),
            config(p, "issuer").unwrap_or_default()
        ),
        None if issuers.is_empty() => {
            "create a JWT Authorization Grant identity provider with this issuer".to_owned()
        }
        None => format!(
            "sign with iss equal to a provider's issuer, or set the provider's issuer to '{iss}' (JWT Authorization Grant providers: {})",
            issuers.join(", ")
        ),
    }
}

/// The provider's settings the time checks use.
struct TimeRules {
    max_exp: i64,
    skew: i64,
    reuse: bool,
}

impl TimeRules {
    fn of(idp: &Value) -> Self {
        let setting = |key: &str, default: i64| {
            config(idp, key)
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(default)
        };
        TimeRules {
            max_exp: setting(
                "jwtAuthorizationGrantMaxAllowedAssertionExpiration",
                DEFAULT_MAX_EXPIRATION,
            ),
            skew: setting("jwtAuthorizationGrantAllowedClockSkew", 0),
            reuse: config(idp, "jwtAuthorizationGrantAssertionReuseAllowed").as_deref()
                == Some("true"),
        }
    }
}

/// `validateTokenActive`: exp, nbf, iat and jti, with the provider's settings.
///
/// The times and settings are untrusted (claims anyone can write, settings any admin can
/// type), so every sum and difference saturates: a NumericDate of `-1e300` is "long ago",
/// never an overflow.
fn validate_token_active(ctx: &Context<'_>) -> Vec<Check> {
    let time_checks = [
        KeycloakCheck::Expiration,
        KeycloakCheck::Active,
        KeycloakCheck::IssuedAt,
        KeycloakCheck::Jti,
    ];
    let (Some(idp), Some(claims)) = (ctx.idp, ctx.claims()) else {
        return skips(&time_checks);
    };
    let mut rules = TimeRules::of(idp);
    let num = |name: &str| claims.get(name).and_then(Value::as_f64).map(|f| f as i64);
    if ctx.id_jag {
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
                skip(KeycloakCheck::Expiration),
                skip(KeycloakCheck::Active),
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
            skip(KeycloakCheck::Active),
            skip(KeycloakCheck::IssuedAt),
            jti_check(claims, rules.reuse),
        ];
    };
    let now = ctx.now;
    vec![
        pass(
            KeycloakCheck::Expiration,
            format!("exp is {} ({})", exp, relative(exp.saturating_sub(now))),
        ),
        active_check(exp, num("nbf"), now, rules.skew),
        iat_check(num("iat"), exp, now, &rules),
        jti_check(claims, rules.reuse),
    ]
}

/// `exp` not passed (no skew for exp), `nbf` reached (with the allowed skew).
fn active_check(exp: i64, nbf: Option<i64>, now: i64, skew: i64) -> Check {
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
        pass(
            KeycloakCheck::Active,
            "exp has not passed and nbf is reached",
        )
    }
}

/// The `iat` rules (or, without `iat`, how far ahead `exp` may be).
fn iat_check(iat: Option<i64>, exp: i64, now: i64, rules: &TimeRules) -> Check {
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
        None => Check {
            status: Status::Warn,
            fix: Some("add iat so the age can be checked".into()),
            ..pass(
                KeycloakCheck::IssuedAt,
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
        Some(_) if lifespan.min(max_exp) <= 0 => fail(
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
            KeycloakCheck::IssuedAt,
            format!(
                "iat is {} s old, within the maximum of {max_exp} s",
                now.saturating_sub(iat)
            ),
        ),
    };
    // "Token is not active" from the iat rules is still the iat line of the report.
    c.check = KeycloakCheck::IssuedAt;
    c.name = KeycloakCheck::IssuedAt.name();
    c
}

fn jti_check(claims: &Value, reuse: bool) -> Check {
    match claims.get("jti").and_then(Value::as_str) {
        _ if reuse => pass(KeycloakCheck::Jti, "the provider allows assertion reuse"),
        Some(j) => pass(
            KeycloakCheck::Jti,
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

/// `validateSignatureAlgorithm`: asymmetric, and the provider's pinned one if set.
fn validate_signature_algorithm(ctx: &Context<'_>) -> Vec<Check> {
    let (Some(p), Some(d)) = (ctx.idp, ctx.decoded) else {
        return skips(&[KeycloakCheck::Algorithm]);
    };
    let alg = d.header.get("alg").and_then(Value::as_str).unwrap_or("");
    let wanted = config(p, "jwtAuthorizationGrantAssertionSignatureAlg").filter(|s| !s.is_empty());
    let asymmetric = ["RS", "PS", "ES"].iter().any(|x| alg.starts_with(x)) || alg == "EdDSA";
    vec![if !asymmetric {
        fail(
            Description::InvalidAlgorithm,
            format!("alg '{alg}' is not asymmetric"),
            "sign with RS256, PS256, ES256, ES384 or EdDSA",
        )
    } else if let Some(w) = wanted.filter(|w| w != alg) {
        fail(
            Description::InvalidAlgorithm,
            format!("alg is '{alg}' but the provider only allows '{w}'"),
            &format!(
                "sign with {w}, or clear the provider's jwtAuthorizationGrantAssertionSignatureAlg"
            ),
        )
    } else {
        pass(KeycloakCheck::Algorithm, format!("alg '{alg}' is allowed"))
    }]
}

/// `validateAuthorizationGrantAssertion`: the signature with the provider's key.
fn validate_authorization_grant_assertion(ctx: &Context<'_>) -> Vec<Check> {
    vec![match (ctx.idp, ctx.signature) {
        (Some(_), Some(SignatureOutcome::Valid(how))) => pass(
            KeycloakCheck::Signature,
            format!("the signature verifies with {how}"),
        ),
        (Some(p), Some(SignatureOutcome::Invalid(why))) => {
            let fix = if config(p, "useJwksUrl").as_deref() != Some("true")
                && config(p, "jwksUrl").is_some_and(|u| !u.is_empty())
                && config(p, "publicKeySignatureVerifier").is_none_or(|k| k.is_empty())
            {
                "the provider has a jwksUrl but useJwksUrl is not \"true\", so Keycloak uses the (empty) static key: set useJwksUrl=\"true\""
            } else {
                "put the public key matching the signing key on the provider, or sign with the key the provider holds"
            };
            fail(Description::InvalidSignature, why.clone(), fix)
        }
        _ => skip(KeycloakCheck::Signature),
    }]
}

/// `getUserByFederatedIdentity`, then enabled and no required actions.
fn lookup_user_by_federated_identity(ctx: &Context<'_>) -> Vec<Check> {
    let (Some(p), Some(s), true) = (ctx.idp, ctx.sub, ctx.snapshot.user_looked_up) else {
        return skips(&[KeycloakCheck::UserLinked, KeycloakCheck::UserEnabled]);
    };
    let Some(u) = &ctx.snapshot.user else {
        return vec![
            fail(
                Description::UserNotFound,
                format!("no user is linked to '{}' with userId '{s}'", alias(p)),
                &format!(
                    "link a user: Users > (user) > Identity provider links > {} with user ID '{s}'",
                    alias(p)
                ),
            ),
            skip(KeycloakCheck::UserEnabled),
        ];
    };
    let name = u.get("username").and_then(Value::as_str).unwrap_or("?");
    let linked = pass(
        KeycloakCheck::UserLinked,
        format!(
            "user '{name}' is linked to '{}' with userId '{s}'",
            alias(p)
        ),
    );
    let actions = u
        .get("requiredActions")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty());
    let enabled = if u.get("enabled").and_then(Value::as_bool) == Some(false) {
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
        pass(
            KeycloakCheck::UserEnabled,
            format!("user '{name}' is enabled"),
        )
    };
    vec![linked, enabled]
}

/// `validateTokenAudience`: exactly one `aud`, the realm or its token endpoint.
fn validate_token_audience(ctx: &Context<'_>) -> Vec<Check> {
    let (Some(_), Some(claims)) = (ctx.idp, ctx.claims()) else {
        return skips(&[KeycloakCheck::Audience]);
    };
    let expected = &ctx.snapshot.expected_audiences;
    let auds: Vec<&str> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let want = expected.first().cloned().unwrap_or_default();
    vec![if !auds.iter().any(|a| expected.iter().any(|e| e == a)) {
        let got = if auds.is_empty() {
            "no aud".to_owned()
        } else {
            format!("aud {auds:?}")
        };
        fail(
            Description::InvalidAudience,
            format!("{got}; Keycloak expects '{want}' (or its token endpoint)"),
            &format!("sign with aud '{want}', the realm's URL as Keycloak sees its own base URL"),
        )
    } else if auds.len() > 1 {
        fail(
            Description::MultipleAudiences,
            format!("aud is an array of {} values", auds.len()),
            &format!("send exactly one aud: '{want}'"),
        )
    } else {
        pass(KeycloakCheck::Audience, format!("aud is '{}'", auds[0]))
    }]
}

/// How the doctor's verdict compares with Keycloak's real answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Agreement {
    /// Every check passed and Keycloak issued a token.
    BothAccept,
    /// Keycloak rejected the assertion at the check the doctor named first.
    SameRejection {
        /// The failing check.
        check: KeycloakCheck,
    },
    /// Keycloak issued a token although the doctor predicted this rejection.
    UnexpectedToken {
        /// What the doctor predicted.
        predicted: KeycloakCheck,
    },
    /// Every check passed but Keycloak refused.
    UnexpectedRejection {
        /// The check Keycloak named, when its answer is in the table.
        actual: Option<KeycloakCheck>,
    },
    /// Both refused, for different reasons (an order the doctor does not know, or a check
    /// it cannot make, such as `jti` reuse).
    DifferentRejection {
        /// What the doctor predicted.
        predicted: KeycloakCheck,
        /// What Keycloak named, when its answer is in the table.
        actual: Option<KeycloakCheck>,
    },
    /// Keycloak gave no verdict (unreachable, or an answer that is not an OAuth error).
    NoAnswer,
}

impl Agreement {
    /// True when the doctor's verdict and Keycloak's answer say the same.
    pub fn agrees(&self) -> bool {
        matches!(
            self,
            Agreement::BothAccept | Agreement::SameRejection { .. }
        )
    }
}

/// Sets the doctor's verdict against Keycloak's real answer to the same assertion
/// (`Ok(())`: a token was issued).
pub fn compare(
    report: &Report,
    answer: Result<(), &jwtgrant_exchange::ExchangeError>,
) -> Agreement {
    let predicted = report.first_failure();
    let rejection = match answer {
        Ok(()) => {
            return match predicted {
                None => Agreement::BothAccept,
                Some(c) => Agreement::UnexpectedToken { predicted: c.check },
            };
        }
        Err(e) => match e.rejection() {
            Some(r) => r,
            None => return Agreement::NoAnswer,
        },
    };
    let actual = KeycloakCheck::of(rejection);
    let Some(predicted) = predicted else {
        return Agreement::UnexpectedRejection { actual };
    };
    // The same words, or the same check when only the check is comparable: a failed client
    // authentication reads differently per release and error code.
    let same = match (predicted.rejection, Description::of(rejection)) {
        (Some(p), Some(a)) => {
            p == a || (p.check() == KeycloakCheck::Client && p.check() == a.check())
        }
        _ => predicted.check == KeycloakCheck::Client && actual == Some(KeycloakCheck::Client),
    };
    if same {
        Agreement::SameRejection {
            check: predicted.check,
        }
    } else {
        Agreement::DifferentRejection {
            predicted: predicted.check,
            actual,
        }
    }
}

fn relative(delta: i64) -> String {
    if delta >= 0 {
        format!("in {delta} s")
    } else {
        format!("{} s ago", delta.unsigned_abs())
    }
}

fn pass(check: KeycloakCheck, detail: impl Into<String>) -> Check {
    Check {
        check,
        name: check.name(),
        status: Status::Pass,
        detail: detail.into(),
        fix: None,
        rejection: None,
    }
}

/// A failing line: the check and Keycloak's answer come from the rejection table's row.
fn fail(rejection: Description, detail: String, fix: &str) -> Check {
    let check = rejection.check();
    Check {
        check,
        name: check.name(),
        status: Status::Fail,
        detail,
        fix: Some(fix.to_owned()),
        rejection: Some(rejection),
    }
}

fn skip(check: KeycloakCheck) -> Check {
    Check {
        check,
        name: check.name(),
        status: Status::Skip,
        detail: "not checked: a check it depends on failed".into(),
        fix: None,
        rejection: None,
    }
}

fn skips(checks: &[KeycloakCheck]) -> Vec<Check> {
    checks.iter().map(|c| skip(*c)).collect()
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
    exchange: &jwtgrant_exchange::Exchange,
    base: &str,
    realm: &str,
    client_id: &str,
    assertion: &str,
) -> Result<Fetched, crate::admin::AdminError> {
    let mut snapshot = Snapshot::new(base, realm, client_id);
    snapshot.presented_certificate = exchange.transport_ref().client_certificate().cloned();
    snapshot.dpop_proof = exchange.dpop_ref().is_some();
    // The order of the checks depends on the release. An admin without the right to read
    // the server info still gets a report, in the newest release's order.
    snapshot.server_version = match admin.server_version() {
        Ok(v) => v.as_deref().and_then(Version::parse),
        Err(e) => {
            log::warn!("cannot read the server's version, assuming the newest order: {e}");
            None
        }
    };
    // Whether the ID-JAG validator is on; unknown features assume it is.
    snapshot.features = match admin.server_features() {
        Ok(f) => f,
        Err(e) => {
            log::warn!("cannot read the server's features: {e}");
            None
        }
    };
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
fn fetch_text(exchange: &jwtgrant_exchange::Exchange, url: &str) -> Result<String, String> {
    let url = jwtgrant_exchange::parse_url(url).map_err(|e| e.to_string())?;
    let reply = exchange
        .transport_ref()
        .send(
            jwtgrant_exchange::Method::Get,
            &url,
            &[("accept", "application/json")],
            None,
        )
        .map_err(|e| e.to_string())?;
    if reply.status != 200 {
        return Err(format!("HTTP {}", reply.status));
    }
    String::from_utf8(reply.body).map_err(|_| "the body is not UTF-8".to_owned())
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
        r.first_failure().map(|c| (c.name, c.keycloak_error()))
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
    fn dpop_required_by_the_client() {
        let token = jwt(json!({"alg": "RS256", "typ": "JWT"}), good_claims());
        let mut snap = snapshot();
        if let Some(c) = snap.client.as_mut() {
            c["attributes"][CLIENT_REQUIRES_DPOP] = json!("true");
        }
        assert_eq!(
            first(&snap, &token, Some(&valid())),
            Some(("dpop", Some("DPoP proof is missing")))
        );
        let r = diagnose(&snap, &token, NOW, Some(&valid()));
        assert_eq!(
            r.get("dpop").map(|c| c.detail.as_str()),
            Some(
                "the client requires DPoP-bound tokens (dpop.bound.access.tokens = \"true\") and the request carries no DPoP proof"
            )
        );
        // It runs right after client authentication: before any fault of the assertion.
        let expired = jwt(
            json!({"alg": "RS256"}),
            json!({"iss": "http://localhost:3000"}),
        );
        assert_eq!(first(&snap, &expired, None).map(|f| f.0), Some("dpop"));
        snap.dpop_proof = true;
        assert_eq!(first(&snap, &token, Some(&valid())), None);
    }

    #[test]
    fn id_jag_rules_and_traps() {
        let jag = |claims: Value| jwt(json!({"alg": "RS256", "typ": "oauth-id-jag+jwt"}), claims);
        let mut claims = good_claims();
        claims["client_id"] = json!("custom-client");
        let mut snap = snapshot();
        snap.features = Some(vec!["identity-assertion-jwt".into()]);
        assert_eq!(first(&snap, &jag(claims.clone()), Some(&valid())), None);

        claims["client_id"] = json!("someone-else");
        assert_eq!(
            first(&snap, &jag(claims.clone()), Some(&valid())),
            Some(("id-jag-client-id", Some("client id in assertion :")))
        );
        let r = diagnose(&snap, &jag(claims.clone()), NOW, Some(&valid()));
        assert_eq!(
            r.get("id-jag-client-id").map(|c| c.detail.as_str()),
            Some(
                "the ID-JAG's client_id is 'someone-else' but the client that authenticates is 'custom-client'"
            )
        );

        claims["client_id"] = json!("custom-client");
        claims.as_object_mut().map(|c| c.remove("iat"));
        assert_eq!(
            first(&snap, &jag(claims.clone()), Some(&valid())),
            Some(("iat", Some("Token iat claim is required")))
        );

        // The trap: ID-JAG claims under typ JWT pass as a plain assertion, with a warning.
        let mut plain = good_claims();
        plain["client_id"] = json!("someone-else");
        let r = diagnose(
            &snap,
            &jwt(json!({"alg": "RS256", "typ": "JWT"}), plain),
            NOW,
            Some(&valid()),
        );
        assert!(r.ok(), "{r:#?}");
        let warn = r.get("id-jag-client-id").expect("a warning");
        assert_eq!(warn.status, Status::Warn);
        assert!(
            warn.detail.starts_with(
                "the assertion carries client_id but its typ is \"JWT\", not oauth-id-jag+jwt"
            ),
            "{}",
            warn.detail
        );

        // The feature off: the ID-JAG is a plain assertion to Keycloak, with a warning.
        snap.features = Some(vec![]);
        claims["client_id"] = json!("someone-else");
        let r = diagnose(&snap, &jag(claims), NOW, Some(&valid()));
        assert!(r.ok(), "{r:#?}");
        let warn = r.get("id-jag-client-id").expect("a warning");
        assert_eq!(warn.status, Status::Warn);
        assert!(
            warn.detail
                .contains("feature identity-assertion-jwt is off"),
            "{}",
            warn.detail
        );
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
        assert_eq!(r.checks.len(), 19);
        assert!(r.checks.iter().all(|c| c.status == Status::Pass), "{r:#?}");
    }

    const CLIENT_DN: &str = "CN=jwtgrant-e2e-client,O=jwtgrant test";
    const CA_DN: &str = "CN=jwtgrant test CA,O=jwtgrant test";

    /// The seed's snapshot with a certificate client (`client-x509`) and what it presents.
    fn mtls(attributes: Value, presented: Option<PresentedCertificate>) -> Snapshot {
        let mut s = snapshot();
        let mut attrs = json!({CLIENT_GRANT_ENABLED: "true", CLIENT_ALLOWED_IDPS: "jwt-authorization-grant",
            CLIENT_SUBJECT_DN: CLIENT_DN, CLIENT_DN_REGEX: "false", CLIENT_CA_SUBJECT_DN: CA_DN});
        for (k, v) in attributes.as_object().unwrap() {
            attrs[k] = v.clone();
        }
        s.client = Some(json!({"clientId": "custom-client", "publicClient": false,
            "clientAuthenticatorType": "client-x509", "attributes": attrs}));
        s.presented_certificate = presented;
        s
    }

    fn ours() -> Option<PresentedCertificate> {
        Some(PresentedCertificate::new(CLIENT_DN, CA_DN))
    }

    /// The first failure's name, detail, fix and Keycloak's words, for a good assertion.
    fn failure(
        s: &Snapshot,
        sig: &SignatureOutcome,
    ) -> Option<(&'static str, String, String, &'static str)> {
        let r = diagnose(
            s,
            &jwt(json!({"alg": "RS256"}), good_claims()),
            NOW,
            Some(sig),
        );
        r.first_failure().map(|c| {
            (
                c.name,
                c.detail.clone(),
                c.fix.clone().unwrap_or_default(),
                c.keycloak_error().unwrap_or_default(),
            )
        })
    }

    const INVALID_CLIENT: &str = "Invalid client or Invalid client credentials";

    #[test]
    fn a_certificate_client_needs_a_matching_certificate() {
        let r = diagnose(
            &mtls(json!({}), ours()),
            &jwt(json!({"alg": "RS256"}), good_claims()),
            NOW,
            Some(&valid()),
        );
        assert!(r.ok(), "{r:#?}");
        assert_eq!(
            r.get("client").unwrap().detail,
            "client 'custom-client' authenticates with the presented certificate 'CN=jwtgrant-e2e-client,O=jwtgrant test' (issued by 'CN=jwtgrant test CA,O=jwtgrant test')"
        );

        assert_eq!(
            failure(&mtls(json!({}), None), &valid()),
            Some((
                "client",
                "client 'custom-client' authenticates with a client certificate (client-x509) and none will be presented".into(),
                "present a client certificate with subject 'CN=jwtgrant-e2e-client,O=jwtgrant test' over mutual TLS (tls_client_auth)".into(),
                INVALID_CLIENT
            ))
        );

        let other = Some(PresentedCertificate::new(
            "CN=someone-else,O=jwtgrant test",
            CA_DN,
        ));
        assert_eq!(
            failure(&mtls(json!({}), other), &valid()),
            Some((
                "client",
                "the certificate's subject 'CN=someone-else,O=jwtgrant test' differs from the client's x509.subjectdn 'CN=jwtgrant-e2e-client,O=jwtgrant test'".into(),
                "present the certificate with subject 'CN=jwtgrant-e2e-client,O=jwtgrant test', or set x509.subjectdn to 'CN=someone-else,O=jwtgrant test' (RFC 2253, most specific part first; values are case-sensitive)".into(),
                INVALID_CLIENT
            ))
        );

        let stranger = Some(PresentedCertificate::new(
            CLIENT_DN,
            "CN=someone else's CA,O=jwtgrant test",
        ));
        assert_eq!(
            failure(&mtls(json!({}), stranger), &valid()),
            Some((
                "client",
                "the certificate's issuer 'CN=someone else's CA,O=jwtgrant test' differs from the client's x509.casubjectdn 'CN=jwtgrant test CA,O=jwtgrant test'".into(),
                "present a certificate issued by 'CN=jwtgrant test CA,O=jwtgrant test', or set x509.casubjectdn to 'CN=someone else's CA,O=jwtgrant test'".into(),
                INVALID_CLIENT
            ))
        );

        // As measured on 26.7.3: spaces and keyword case do not matter, order and value case do.
        let with_dn = |dn: &str| {
            mtls(
                json!({CLIENT_SUBJECT_DN: dn, CLIENT_CA_SUBJECT_DN: "cn=jwtgrant test CA ; o=jwtgrant test"}),
                ours(),
            )
        };
        assert_eq!(
            failure(
                &with_dn("cn=jwtgrant-e2e-client, o=jwtgrant test"),
                &valid()
            ),
            None
        );
        assert_eq!(
            failure(&with_dn("O=jwtgrant test,CN=jwtgrant-e2e-client"), &valid())
                .unwrap()
                .0,
            "client"
        );
        assert_eq!(
            failure(&with_dn("CN=JWTGRANT-E2E-CLIENT,O=jwtgrant test"), &valid())
                .unwrap()
                .0,
            "client"
        );

        // No certificate comes first: the grant's checks never run.
        assert_eq!(
            failure(
                &mtls(json!({}), None),
                &SignatureOutcome::Invalid("bad".into())
            )
            .unwrap()
            .0,
            "client"
        );
    }

    #[test]
    fn regex_comparison_matches_the_dn_written_with_comma_space() {
        // The attribute absent means regular expressions on (measured: the exact DN fails).
        let mut s = mtls(json!({}), ours());
        s.client.as_mut().unwrap()["attributes"]
            .as_object_mut()
            .unwrap()
            .remove(CLIENT_DN_REGEX);
        assert_eq!(
            failure(&s, &valid()),
            Some((
                "client",
                "x509.allow.regex.pattern.comparison is not \"false\", so Keycloak matches x509.subjectdn 'CN=jwtgrant-e2e-client,O=jwtgrant test' as a regular expression against 'CN=jwtgrant-e2e-client, O=jwtgrant test', and it does not match".into(),
                "set the client's x509.allow.regex.pattern.comparison=\"false\" so x509.subjectdn is compared as the DN 'CN=jwtgrant-e2e-client,O=jwtgrant test'".into(),
                INVALID_CLIENT
            ))
        );
        let regex = |dn: &str| {
            mtls(
                json!({CLIENT_DN_REGEX: "true", CLIENT_SUBJECT_DN: dn}),
                ours(),
            )
        };
        assert_eq!(
            failure(&regex("CN=jwtgrant-e2e-client, O=jwtgrant test"), &valid()),
            None
        );
        // A real pattern is not replayed: a warning, not a prediction.
        let r = diagnose(
            &regex("CN=(.*), O=jwtgrant test"),
            &jwt(json!({"alg": "RS256"}), good_claims()),
            NOW,
            Some(&valid()),
        );
        assert!(r.ok());
        assert_eq!(r.get("client").unwrap().status, Status::Warn);
    }

    #[test]
    fn bound_tokens_need_a_certificate_after_every_grant_check() {
        let mut s = snapshot();
        s.client.as_mut().unwrap()["attributes"][CLIENT_BOUND_TOKENS] = json!("true");
        assert_eq!(
            failure(&s, &valid()),
            Some((
                "client-certificate",
                "the client binds its tokens to the client certificate (tls.client.certificate.bound.access.tokens=\"true\") and none will be presented".into(),
                "present a client certificate over mutual TLS, or set the client's tls.client.certificate.bound.access.tokens=\"false\"".into(),
                "Client Certification missing for MTLS HoK Token Binding"
            ))
        );
        // Checked when the token response is built: a grant failure is answered first.
        assert_eq!(
            failure(&s, &SignatureOutcome::Invalid("bad".into()))
                .unwrap()
                .0,
            "signature"
        );
        let mut at_26_5 = s.clone();
        at_26_5.server_version = Version::parse("26.5.6");
        assert_eq!(failure(&at_26_5, &valid()).unwrap().0, "client-certificate");

        s.presented_certificate = ours();
        let r = diagnose(
            &s,
            &jwt(json!({"alg": "RS256"}), good_claims()),
            NOW,
            Some(&valid()),
        );
        assert!(r.ok(), "{r:#?}");
        assert_eq!(
            r.get("client-certificate").unwrap().detail,
            "tokens will be bound to the presented certificate 'CN=jwtgrant-e2e-client,O=jwtgrant test' (cnf x5t#S256)"
        );

        // Both mTLS predictions agree with Keycloak's real answers.
        use jwtgrant_exchange::{ExchangeError, Rejection};
        let rejected = |status, error: &str, desc: &str| {
            ExchangeError::Rejected(Rejection::new(status, error, Some(desc.to_owned()), None))
        };
        let token = jwt(json!({"alg": "RS256"}), good_claims());
        s.presented_certificate = None;
        assert_eq!(
            compare(
                &diagnose(&s, &token, NOW, Some(&valid())),
                Err(&rejected(
                    400,
                    "invalid_request",
                    "Client Certification missing for MTLS HoK Token Binding"
                ))
            ),
            Agreement::SameRejection {
                check: KeycloakCheck::ClientCertificate
            }
        );
        assert_eq!(
            compare(
                &diagnose(&mtls(json!({}), None), &token, NOW, Some(&valid())),
                Err(&rejected(401, "invalid_client", INVALID_CLIENT))
            ),
            Agreement::SameRejection {
                check: KeycloakCheck::Client
            }
        );
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
    }

    fn at_version(version: &str) -> Snapshot {
        let mut s = snapshot();
        s.server_version = Version::parse(version);
        s
    }

    /// Two faults at once: which one Keycloak names depends on the release's order.
    #[test]
    fn two_faults_follow_the_servers_order() {
        let bad_sig = || SignatureOutcome::Invalid("does not verify".into());
        let mut expired = good_claims();
        expired["exp"] = json!(NOW - 10);
        let mut wrong_aud = good_claims();
        wrong_aud["aud"] = json!("http://localhost:8080/realms/other");
        for (version, claims, sig, expected) in [
            (
                "26.5.6",
                expired.clone(),
                bad_sig(),
                ("active", "Token is not active"),
            ),
            (
                "26.6.1",
                expired.clone(),
                bad_sig(),
                ("active", "Token is not active"),
            ),
            (
                "26.7.3",
                expired.clone(),
                bad_sig(),
                ("signature", "Invalid signature"),
            ),
            (
                "26.5.6",
                wrong_aud.clone(),
                bad_sig(),
                ("audience", "Invalid token audience"),
            ),
            (
                "26.7.0",
                wrong_aud.clone(),
                bad_sig(),
                ("signature", "Invalid signature"),
            ),
        ] {
            check(at_version(version), claims, sig, Some(expected));
        }
        // The audience moved behind the user lookup in 26.7.
        let mut unlinked = at_version("26.5.6");
        unlinked.user = None;
        check(
            unlinked.clone(),
            wrong_aud.clone(),
            valid(),
            Some(("audience", "Invalid token audience")),
        );
        unlinked.server_version = Version::parse("26.7.3");
        check(
            unlinked,
            wrong_aud,
            valid(),
            Some(("user-linked", "User not found")),
        );
        // A pinned algorithm: checked after the times before 26.7, before them since.
        let pinned = |v: &str| {
            let mut s = at_version(v);
            s.idps[1]["config"]["jwtAuthorizationGrantAssertionSignatureAlg"] = json!("ES256");
            s
        };
        check(
            pinned("26.5.6"),
            expired.clone(),
            valid(),
            Some(("active", "Token is not active")),
        );
        check(
            pinned("26.7.3"),
            expired,
            valid(),
            Some(("alg", "Invalid signature algorithm")),
        );
        // Unknown version: the newest order.
        assert_eq!(
            diagnose(&snapshot(), "x", NOW, None).order,
            Order::Since26_7
        );
        assert_eq!(
            diagnose(&at_version("26.5.6"), "x", NOW, None).order,
            Order::Before26_7
        );
    }

    #[test]
    fn agreement_with_keycloaks_answer() {
        use jwtgrant_exchange::{ExchangeError, Rejection};
        let rejected = |status, error: &str, desc: Option<&str>| {
            ExchangeError::Rejected(Rejection::new(status, error, desc.map(str::to_owned), None))
        };
        let token = jwt(json!({"alg": "RS256"}), good_claims());
        let ok = diagnose(&snapshot(), &token, NOW, Some(&valid()));
        let mut s = snapshot();
        s.user = None;
        let no_user = diagnose(&s, &token, NOW, Some(&valid()));
        let mut s = snapshot();
        s.client = None;
        let no_client = diagnose(&s, &token, NOW, Some(&valid()));
        let not_found = rejected(400, "invalid_grant", Some("User not found"));
        let bad_sig = rejected(400, "invalid_grant", Some("Invalid signature"));
        // Any error that is not an answer (the generic client's variants are not
        // constructible here): a URL refused before sending.
        let down = jwtgrant_exchange::Exchange::new("kc:no-host").expect_err("not a url");

        assert_eq!(compare(&ok, Ok(())), Agreement::BothAccept);
        assert_eq!(
            compare(&no_user, Err(&not_found)),
            Agreement::SameRejection {
                check: KeycloakCheck::UserLinked
            }
        );
        assert_eq!(
            compare(&no_user, Ok(())),
            Agreement::UnexpectedToken {
                predicted: KeycloakCheck::UserLinked
            }
        );
        assert_eq!(
            compare(&ok, Err(&bad_sig)),
            Agreement::UnexpectedRejection {
                actual: Some(KeycloakCheck::Signature)
            }
        );
        assert_eq!(
            compare(&no_user, Err(&bad_sig)),
            Agreement::DifferentRejection {
                predicted: KeycloakCheck::UserLinked,
                actual: Some(KeycloakCheck::Signature)
            }
        );
        assert_eq!(compare(&no_user, Err(&down)), Agreement::NoAnswer);
        // A missing client: 401 with either code and any wording is the same check.
        for answer in [
            rejected(
                401,
                "unauthorized_client",
                Some("Invalid client or Invalid client credentials"),
            ),
            rejected(401, "invalid_client", Some("Invalid client credentials")),
            rejected(401, "invalid_client", None),
        ] {
            let a = compare(&no_client, Err(&answer));
            assert_eq!(
                a,
                Agreement::SameRejection {
                    check: KeycloakCheck::Client
                },
                "{answer}"
            );
            assert!(a.agrees());
        }
        assert!(!compare(&no_user, Err(&bad_sig)).agrees());
    }

    #[test]
    fn client_and_provider_configuration() {
        let mut s = snapshot();
        s.client = None;
        check(
            s,
            good_claims(),
            valid(),
            Some(("client", "Invalid client or Invalid client credentials")),
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
        assert!(r.first_failure().unwrap().fix.as_deref().unwrap().contains(
            "Identity provider links > jwt-authorization-grant with user ID 'nodejsuser-1234'"
        ));
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

    /// Found by the `doctor` fuzz target: `iat - skew` overflowed on `iat = -1e300`. Extreme
    /// NumericDates and settings saturate and still give the verdict Keycloak would.
    #[test]
    fn extreme_times_and_settings_saturate() {
        let mut snap = snapshot();
        snap.idps[1]["config"]["jwtAuthorizationGrantAllowedClockSkew"] =
            json!(i64::MAX.to_string());
        snap.idps[1]["config"]["jwtAuthorizationGrantMaxAllowedAssertionExpiration"] =
            json!(i64::MIN.to_string());
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
