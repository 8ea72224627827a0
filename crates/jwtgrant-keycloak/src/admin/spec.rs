//! What we want to exist in Keycloak, and the pure functions that turn it into admin
//! REST bodies and compare it with what exists. No IO here: the session module calls
//! these and does the HTTP. Every Keycloak name and encoding comes from
//! [`crate::settings`]; the create bodies start from its model.

pub use jwtgrant_exchange::Secret;

use super::error::AdminError;
use std::fmt;

use serde_json::{Map, Value, json};

use crate::settings::{
    ClientSettings, IdpSettings, Switch, UserSettings, client, idp as idp_names, join_aliases,
    split_aliases, user,
};

/// The `providerId` of Keycloak's JWT Authorization Grant identity provider.
pub use crate::settings::idp::PROVIDER_ID as JWT_IDP_PROVIDER_ID;

/// What an `ensure_*` call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// It did not exist and was created.
    Created,
    /// It existed and some managed field differed; those were changed.
    Updated,
    /// It existed as wanted; nothing was sent.
    Unchanged,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
        })
    }
}

/// The result of an `ensure_*` call: what happened, and a sentence saying to what
/// (for updates, which fields), e.g. `updated identity provider 'jwt' in realm 'acme' (issuer)`.
/// On a [dry-run](super::AdminSession::dry_run) session it says what would happen.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// What happened.
    pub change: Change,
    /// Says what, for people.
    pub description: String,
    /// The object, e.g. `client 'custom-client' in realm 'acme'`.
    pub what: String,
    /// Each field set, with the value it had (none on a create) and the value it got.
    pub fields: Vec<FieldChange>,
}

/// One field of an [`Outcome`]: its name, the value it had and the value it gets. Values
/// are shown as Keycloak stores them (strings as they are, others as JSON); a secret's
/// values are never shown.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldChange {
    /// Keycloak's name of the field, e.g. `enabled` or `dpop.bound.access.tokens`.
    pub field: String,
    /// What it held; `None` when absent (or the object is new).
    pub old: Option<String>,
    /// What it gets; `None` when it is removed.
    pub new: Option<String>,
}

/// What a secret's value shows as in a [`FieldChange`].
pub const REDACTED: &str = "[redacted]";

impl FieldChange {
    /// A secret that differs: both values redacted.
    pub(crate) fn secret(field: &str) -> FieldChange {
        FieldChange {
            field: field.to_owned(),
            old: Some(REDACTED.to_owned()),
            new: Some(REDACTED.to_owned()),
        }
    }

    /// A field going from `old` to `new`.
    pub fn new(field: &str, old: Option<String>, new: Option<String>) -> FieldChange {
        FieldChange {
            field: field.to_owned(),
            old,
            new,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

impl Outcome {
    pub(crate) fn new(change: Change, what: &str, fields: Vec<FieldChange>) -> Outcome {
        let description = if fields.is_empty() || change != Change::Updated {
            format!("{change} {what}")
        } else {
            let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            format!("{change} {what} ({})", names.join(", "))
        };
        Outcome {
            change,
            description,
            what: what.to_owned(),
            fields,
        }
    }

    /// `Unchanged`, or `Updated` with these fields.
    pub(crate) fn update(what: &str, fields: Vec<FieldChange>) -> Outcome {
        let change = if fields.is_empty() {
            Change::Unchanged
        } else {
            Change::Updated
        };
        Outcome::new(change, what, fields)
    }
}

/// A JWT Authorization Grant identity provider: whose assertions a realm trusts.
///
/// `None` in an optional field means "not managed": Keycloak's default on create,
/// and whatever is there on update.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwtIdp {
    /// The provider's alias; clients name it in their allow-list.
    pub alias: String,
    /// Compared with the assertion's `iss` by exact string equality. Must be an
    /// http(s) URL, and unique among the realm's providers (Keycloak 26.6+).
    pub issuer: String,
    /// How Keycloak gets the issuer's public key.
    pub key: IdpKey,
    /// Longest accepted assertion lifetime in seconds (Keycloak's default: 300).
    pub max_assertion_lifetime: Option<u64>,
    /// Clock skew in seconds allowed on `nbf`/`iat` (Keycloak's default: 0).
    pub allowed_clock_skew: Option<u64>,
    /// The one signature algorithm accepted (e.g. `RS256`); Keycloak's default
    /// accepts any asymmetric one.
    pub signature_alg: Option<String>,
    /// Whether an assertion may be used twice; when false (Keycloak's default) `jti`
    /// is required and single-use.
    pub reuse_allowed: Option<bool>,
    /// Whether the issued access token's `exp` is capped at the assertion's `exp`.
    pub limit_access_token_exp: Option<bool>,
    /// Disabled providers match no assertion.
    pub enabled: bool,
    /// What the provider verifies: the grant's assertions, or client assertions.
    pub kind: IdpKind,
}

/// What a [`JwtIdp`] verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdpKind {
    /// The grant's assertions (`providerId` `jwt-authorization-grant`).
    JwtAuthorizationGrant,
    /// Client assertions of `federated-jwt` clients: an OpenID Connect provider (`oidc`)
    /// with `validateSignature` and `supportsClientAssertions` on. The grant type cannot
    /// vouch for a client, and an `oidc` provider cannot be the grant's provider: a
    /// secretless client needs both, with the same issuer.
    ClientAssertions,
}

impl IdpKind {
    /// Keycloak's `providerId` for it.
    pub fn provider_id(self) -> &'static str {
        match self {
            IdpKind::JwtAuthorizationGrant => JWT_IDP_PROVIDER_ID,
            IdpKind::ClientAssertions => idp_names::OIDC_PROVIDER_ID,
        }
    }
}

impl JwtIdp {
    /// A provider for client assertions (see [`IdpKind::ClientAssertions`]), enabled. The
    /// grant options ([`JwtIdp::max_assertion_lifetime`] ...) do not apply to it.
    pub fn client_assertions(
        alias: impl Into<String>,
        issuer: impl Into<String>,
        key: IdpKey,
    ) -> JwtIdp {
        JwtIdp {
            kind: IdpKind::ClientAssertions,
            ..JwtIdp::new(alias, issuer, key)
        }
    }

    /// An enabled provider with Keycloak's defaults for everything optional.
    pub fn new(alias: impl Into<String>, issuer: impl Into<String>, key: IdpKey) -> JwtIdp {
        JwtIdp {
            kind: IdpKind::JwtAuthorizationGrant,
            alias: alias.into(),
            issuer: issuer.into(),
            key,
            max_assertion_lifetime: None,
            allowed_clock_skew: None,
            signature_alg: None,
            reuse_allowed: None,
            limit_access_token_exp: None,
            enabled: true,
        }
    }

    /// Sets [`JwtIdp::max_assertion_lifetime`].
    pub fn max_assertion_lifetime(mut self, seconds: u64) -> JwtIdp {
        self.max_assertion_lifetime = Some(seconds);
        self
    }

    /// Sets [`JwtIdp::allowed_clock_skew`].
    pub fn allowed_clock_skew(mut self, seconds: u64) -> JwtIdp {
        self.allowed_clock_skew = Some(seconds);
        self
    }

    /// Sets [`JwtIdp::signature_alg`].
    pub fn signature_alg(mut self, alg: impl Into<String>) -> JwtIdp {
        self.signature_alg = Some(alg.into());
        self
    }

    /// Sets [`JwtIdp::reuse_allowed`].
    pub fn reuse_allowed(mut self, allowed: bool) -> JwtIdp {
        self.reuse_allowed = Some(allowed);
        self
    }

    /// Sets [`JwtIdp::limit_access_token_exp`].
    pub fn limit_access_token_exp(mut self, limit: bool) -> JwtIdp {
        self.limit_access_token_exp = Some(limit);
        self
    }

    /// Sets [`JwtIdp::enabled`].
    pub fn enabled(mut self, enabled: bool) -> JwtIdp {
        self.enabled = enabled;
        self
    }
}

/// Where Keycloak finds the key that verifies assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdpKey {
    /// A key stored in the provider's configuration.
    Static {
        /// An SPKI PEM (`BEGIN PUBLIC KEY`), a base64 SPKI DER, or a whole JWKS JSON.
        public_key: String,
        /// A fixed `kid` the assertion must carry. `None` removes a kid set earlier.
        key_id: Option<String>,
    },
    /// The issuer's JWKS endpoint, fetched (and cached) by Keycloak.
    JwksUrl(String),
}

/// A confidential client that presents assertions to the token endpoint.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JwtClient {
    /// The OAuth `client_id`.
    pub client_id: String,
    /// How the client authenticates at the token endpoint.
    pub auth: ClientAuthenticator,
    /// Whether it may use the JWT Authorization Grant.
    pub grant_enabled: bool,
    /// Identity provider aliases whose assertions it may present. On an existing client
    /// they are added to its allow-list; none is removed.
    pub allowed_idps: Vec<String>,
    /// On an existing client, leave the authenticator (and its secret, keys or DN) as it
    /// is: [`JwtClient::auth`] then applies only when the client is created.
    pub keep_existing_auth: bool,
    /// Disabled clients get no tokens. `None`: enabled on create, left as is on update.
    pub enabled: Option<bool>,
    /// Whether access tokens are bound to the client certificate of the request (RFC 8705
    /// `cnf.x5t#S256`; attribute `tls.client.certificate.bound.access.tokens`). `None`:
    /// off on create, left as is on update.
    pub certificate_bound_tokens: Option<bool>,
    /// Whether every token request must carry a DPoP proof, binding the token to its key
    /// (RFC 9449 `cnf.jkt`; attribute `dpop.bound.access.tokens`). `None`: off on create,
    /// left as is on update.
    pub dpop_bound_tokens: Option<bool>,
}

impl JwtClient {
    /// A client with the grant on, allowed the given providers. Created enabled, with its
    /// browser flows off and no token binding; on an existing client only the grant, the
    /// allow-list (added to), the authenticator and what a setter names are changed.
    pub fn new(
        client_id: impl Into<String>,
        auth: ClientAuthenticator,
        allowed_idps: impl IntoIterator<Item = impl Into<String>>,
    ) -> JwtClient {
        JwtClient {
            client_id: client_id.into(),
            auth,
            grant_enabled: true,
            allowed_idps: allowed_idps.into_iter().map(Into::into).collect(),
            keep_existing_auth: false,
            enabled: None,
            certificate_bound_tokens: None,
            dpop_bound_tokens: None,
        }
    }

    /// Sets [`JwtClient::dpop_bound_tokens`] (require DPoP).
    pub fn dpop_bound_tokens(mut self, required: bool) -> JwtClient {
        self.dpop_bound_tokens = Some(required);
        self
    }

    /// Sets [`JwtClient::certificate_bound_tokens`].
    pub fn certificate_bound_tokens(mut self, bound: bool) -> JwtClient {
        self.certificate_bound_tokens = Some(bound);
        self
    }

    /// Sets [`JwtClient::keep_existing_auth`].
    pub fn keep_existing_auth(mut self) -> JwtClient {
        self.keep_existing_auth = true;
        self
    }

    /// Sets [`JwtClient::grant_enabled`].
    pub fn grant_enabled(mut self, enabled: bool) -> JwtClient {
        self.grant_enabled = enabled;
        self
    }

    /// Sets [`JwtClient::enabled`].
    pub fn enabled(mut self, enabled: bool) -> JwtClient {
        self.enabled = Some(enabled);
        self
    }
}

/// Client authentication at the token endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientAuthenticator {
    /// `client_secret_post` / `client_secret_basic` (Keycloak's `client-secret`).
    /// `Some` pins the secret; `None` keeps (or on create, lets Keycloak generate) one.
    Secret(Option<Secret>),
    /// `private_key_jwt` (Keycloak's `client-jwt`) with these public keys (a JWKS).
    PrivateKeyJwt {
        /// `{"keys": [...]}` holding the client's public keys.
        jwks: Value,
    },
    /// `tls_client_auth` (Keycloak's `client-x509`): a client certificate from a CA the
    /// server trusts, with this subject, authenticates the client; no secret.
    X509 {
        /// The certificate's subject DN in RFC 2253 form, most specific part first, e.g.
        /// `CN=billing,O=Acme` (compared exactly: regular expressions are off).
        subject_dn: String,
        /// The issuing CA's subject DN, when the client should accept only that CA.
        ca_subject_dn: Option<String>,
    },
    /// A client assertion another issuer signs (Keycloak's `federated-jwt`), verified by the
    /// identity provider `idp_alias` (an [`IdpKind::ClientAssertions`] one); no secret.
    Federated {
        /// The alias of the provider that vouches for the client (`jwt.credential.issuer`).
        idp_alias: String,
        /// The client assertion's `sub` (`jwt.credential.sub`), usually the client id.
        subject: String,
    },
}

impl ClientAuthenticator {
    /// Which of Keycloak's authenticators this is.
    pub fn kind(&self) -> crate::settings::Authenticator {
        use crate::settings::Authenticator;
        match self {
            ClientAuthenticator::Secret(_) => Authenticator::Secret,
            ClientAuthenticator::PrivateKeyJwt { .. } => Authenticator::Jwt,
            ClientAuthenticator::X509 { .. } => Authenticator::X509,
            ClientAuthenticator::Federated { .. } => Authenticator::Federated,
        }
    }
}

/// The Keycloak user an assertion's `sub` maps to.
///
/// `None` fields are not managed: left out on create, left as they are on update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserSpec {
    /// E-mail address (stored as verified on create).
    pub email: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Disabled users get no tokens. `None`: enabled on create, left as is on update (an
    /// admin may have disabled the user on purpose).
    pub enabled: Option<bool>,
}

impl UserSpec {
    /// A user created enabled, with nothing else managed. An existing user's `enabled`,
    /// required actions and attributes are never touched unless a setter names them.
    pub fn new() -> UserSpec {
        UserSpec::default()
    }

    /// Sets [`UserSpec::email`].
    pub fn email(mut self, email: impl Into<String>) -> UserSpec {
        self.email = Some(email.into());
        self
    }

    /// Sets [`UserSpec::first_name`] and [`UserSpec::last_name`].
    pub fn name(mut self, first: impl Into<String>, last: impl Into<String>) -> UserSpec {
        self.first_name = Some(first.into());
        self.last_name = Some(last.into());
        self
    }

    /// Sets [`UserSpec::enabled`].
    pub fn enabled(mut self, enabled: bool) -> UserSpec {
        self.enabled = Some(enabled);
        self
    }
}

/// One managed field of a Keycloak representation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    /// `["enabled"]`, or `["config", "issuer"]`: at most one level of nesting.
    pub path: Vec<&'static str>,
    pub want: Want,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Want {
    /// Equal to this value. Absent, `null` and `""` all count as `""`.
    Eq(Value),
    /// A string holding JSON that parses to this value (formatting may differ).
    JsonString(Value),
    /// Absent (or `null`, or `""`); applied by removing the key.
    Absent,
}

impl Field {
    fn new(path: &[&'static str], want: Want) -> Field {
        Field {
            path: path.to_vec(),
            want,
        }
    }

    fn eq(path: &[&'static str], value: impl Into<Value>) -> Field {
        Field::new(path, Want::Eq(value.into()))
    }

    /// The name people see in an `Updated` outcome: the last path element.
    pub fn name(&self) -> &'static str {
        self.path.last().copied().unwrap_or_default()
    }

    fn get<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        self.path.iter().try_fold(v, |v, k| v.get(k))
    }

    /// What `existing` holds here, as [`FieldChange::old`] shows it.
    fn shown(&self, existing: &Value) -> Option<String> {
        self.get(existing).and_then(shown)
    }

    /// The wanted value, as [`FieldChange::new`] shows it.
    fn shown_want(&self) -> Option<String> {
        match &self.want {
            Want::Eq(v) => shown(v),
            Want::JsonString(v) => Some(v.to_string()),
            Want::Absent => None,
        }
    }

    /// Whether `existing` holds this field as wanted.
    pub fn holds(&self, existing: &Value) -> bool {
        let have = self.get(existing).filter(|v| !v.is_null());
        let empty = |v: Option<&Value>| v.is_none_or(|v| v.as_str() == Some(""));
        match &self.want {
            Want::Absent => empty(have),
            Want::Eq(Value::String(s)) if s.is_empty() => empty(have),
            Want::Eq(want) => have == Some(want),
            Want::JsonString(want) => have
                .and_then(Value::as_str)
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .is_some_and(|v| &v == want),
        }
    }

    /// Writes this field into `target`, creating the parent object if needed.
    pub fn apply(&self, target: &mut Value) {
        let Some((last, parents)) = self.path.split_last() else {
            return;
        };
        let mut obj = target;
        for p in parents {
            if !obj.get(p).is_some_and(Value::is_object) {
                if let Some(map) = obj.as_object_mut() {
                    map.insert((*p).to_owned(), Value::Object(Map::new()));
                } else {
                    return;
                }
            }
            // Just ensured above: `obj[p]` is an object.
            obj = &mut obj[*p];
        }
        let Some(map) = obj.as_object_mut() else {
            return;
        };
        match &self.want {
            Want::Absent => {
                map.remove(*last);
            }
            Want::Eq(v) => {
                map.insert((*last).to_owned(), v.clone());
            }
            Want::JsonString(v) => {
                map.insert((*last).to_owned(), Value::String(v.to_string()));
            }
        }
    }
}

/// The fields of `existing` that differ from `fields`, with old and new values; every
/// field when there is nothing yet.
pub(crate) fn changes(existing: Option<&Value>, fields: &[Field]) -> Vec<FieldChange> {
    fields
        .iter()
        .filter(|f| existing.is_none_or(|e| !f.holds(e)))
        .map(|f| FieldChange::new(f.name(), existing.and_then(|e| f.shown(e)), f.shown_want()))
        .collect()
}

/// Fails with [`AdminError::NotApplied`] when `reread` (the object read back after a
/// write) does not hold every field sent.
pub(crate) fn verify(operation: &str, reread: &Value, fields: &[Field]) -> Result<(), AdminError> {
    let off = changes(Some(reread), fields);
    if off.is_empty() {
        return Ok(());
    }
    // `old` holds what the server has now, `new` what was sent.
    Err(AdminError::NotApplied {
        operation: operation.to_owned(),
        fields: off,
    })
}

/// A value as [`FieldChange`] shows it: strings as they are, others as JSON.
fn shown(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `base` with every field applied.
pub(crate) fn with_fields(mut base: Value, fields: &[Field]) -> Value {
    for f in fields {
        f.apply(&mut base);
    }
    base
}

/// The identity provider fields we manage. All config values are strings.
pub(crate) fn idp_fields(idp: &JwtIdp) -> Vec<Field> {
    let cfg = |k: &'static str, v: String| Field::eq(&[idp_names::CONFIG, k], v);
    let flag = |k: &'static str, b: bool| cfg(k, Switch::encode(b).to_owned());
    let mut f = vec![
        Field::eq(&[idp_names::ENABLED], idp.enabled),
        cfg(idp_names::ISSUER, idp.issuer.clone()),
    ];
    if idp.kind == IdpKind::ClientAssertions {
        f.push(flag(idp_names::VALIDATE_SIGNATURE, true));
        f.push(flag(idp_names::SUPPORTS_CLIENT_ASSERTIONS, true));
        f.push(Field::eq(&[idp_names::HIDE_ON_LOGIN], true));
    }
    match &idp.key {
        IdpKey::Static { public_key, key_id } => {
            // `useJwksUrl` must be explicit: absent reads as false, but a provider first
            // created with a JWKS URL keeps "true" unless we overwrite it.
            f.push(flag(idp_names::USE_JWKS_URL, false));
            let trimmed = public_key.trim();
            f.push(match serde_json::from_str::<Value>(trimmed) {
                Ok(jwks @ Value::Object(_)) => Field::new(
                    &[idp_names::CONFIG, idp_names::PUBLIC_KEY],
                    Want::JsonString(jwks),
                ),
                _ => cfg(idp_names::PUBLIC_KEY, public_key.clone()),
            });
            f.push(match key_id {
                Some(kid) => cfg(idp_names::KEY_ID, kid.clone()),
                None => Field::new(&[idp_names::CONFIG, idp_names::KEY_ID], Want::Absent),
            });
        }
        IdpKey::JwksUrl(url) => {
            f.push(flag(idp_names::USE_JWKS_URL, true));
            f.push(cfg(idp_names::JWKS_URL, url.clone()));
        }
    }
    if let Some(s) = idp.max_assertion_lifetime {
        f.push(cfg(idp_names::MAX_EXPIRATION, s.to_string()));
    }
    if let Some(s) = idp.allowed_clock_skew {
        f.push(cfg(idp_names::CLOCK_SKEW, s.to_string()));
    }
    if let Some(alg) = &idp.signature_alg {
        f.push(cfg(idp_names::SIGNATURE_ALG, alg.clone()));
    }
    if let Some(b) = idp.reuse_allowed {
        f.push(flag(idp_names::REUSE_ALLOWED, b));
    }
    if let Some(b) = idp.limit_access_token_exp {
        f.push(flag(idp_names::LIMIT_ACCESS_TOKEN_EXP, b));
    }
    f
}

/// The body that creates the provider.
pub(crate) fn idp_create_body(idp: &JwtIdp) -> Value {
    let base = IdpSettings {
        alias: Some(idp.alias.clone()),
        provider_id: Some(idp.kind.provider_id().to_owned()),
        ..IdpSettings::default()
    };
    with_fields(base.to_json(), &idp_fields(idp))
}

/// The client fields we manage on `existing` (none yet: on create). The secret, when
/// pinned, is compared separately (Keycloak serves it from its own endpoint).
///
/// What is never touched on an existing client: its flows (the create body turns them
/// off), `enabled` and the token bindings unless [`JwtClient`] names them, the
/// authenticator when [`JwtClient::keep_existing_auth`], and other providers in the
/// allow-list (the wanted ones are added).
pub(crate) fn client_fields(client: &JwtClient, existing: Option<&Value>) -> Vec<Field> {
    let attr = |k: &'static str, v: String| Field::eq(&[client::ATTRIBUTES, k], v);
    let flag = |k: &'static str, b: bool| attr(k, Switch::encode(b).to_owned());
    let have_idps = existing
        .and_then(|e| e[client::ATTRIBUTES][client::ALLOWED_IDPS].as_str())
        .map(split_aliases)
        .unwrap_or_default();
    let mut f = vec![
        // The grant needs a confidential client: these are what `setup` is for.
        Field::eq(&[client::PUBLIC_CLIENT], false),
        Field::eq(&[client::BEARER_ONLY], false),
        flag(client::GRANT_ENABLED, client.grant_enabled),
        attr(
            client::ALLOWED_IDPS,
            join_aliases(&merged_aliases(&have_idps, &client.allowed_idps)),
        ),
    ];
    if let Some(b) = client.enabled {
        f.push(Field::eq(&[client::ENABLED], b));
    }
    if let Some(b) = client.certificate_bound_tokens {
        f.push(flag(client::CERTIFICATE_BOUND_TOKENS, b));
    }
    if let Some(b) = client.dpop_bound_tokens {
        f.push(flag(client::DPOP_BOUND_TOKENS, b));
    }
    if existing.is_none() || !client.keep_existing_auth {
        f.extend(auth_fields(&client.auth));
    }
    f
}

/// `have` followed by each of `wanted` it lacks: an allow-list only grows.
pub(crate) fn merged_aliases(have: &[String], wanted: &[String]) -> Vec<String> {
    let mut all = have.to_vec();
    for w in wanted {
        if !all.contains(w) {
            all.push(w.clone());
        }
    }
    all
}

/// The authenticator and the settings it reads.
fn auth_fields(auth: &ClientAuthenticator) -> Vec<Field> {
    let attr = |k: &'static str, v: String| Field::eq(&[client::ATTRIBUTES, k], v);
    let flag = |k: &'static str, b: bool| attr(k, Switch::encode(b).to_owned());
    let authenticator = |name: &'static str| Field::eq(&[client::AUTHENTICATOR], name);
    match auth {
        ClientAuthenticator::Secret(_) => vec![authenticator(client::SECRET_AUTHENTICATOR)],
        ClientAuthenticator::PrivateKeyJwt { jwks } => vec![
            authenticator(client::JWT_AUTHENTICATOR),
            flag(client::USE_JWKS_URL, false),
            flag(client::USE_JWKS_STRING, true),
            Field::new(
                &[client::ATTRIBUTES, client::JWKS_STRING],
                Want::JsonString(jwks.clone()),
            ),
        ],
        ClientAuthenticator::X509 {
            subject_dn,
            ca_subject_dn,
        } => {
            let mut f = vec![
                authenticator(client::X509_AUTHENTICATOR),
                attr(client::SUBJECT_DN, subject_dn.clone()),
                // Regular expressions are deprecated in 26.7; an exact DN cannot over-match.
                flag(client::DN_REGEX, false),
            ];
            if let Some(ca) = ca_subject_dn {
                f.push(attr(client::CA_SUBJECT_DN, ca.clone()));
            }
            f
        }
        ClientAuthenticator::Federated { idp_alias, subject } => vec![
            authenticator(client::FEDERATED_AUTHENTICATOR),
            attr(client::CREDENTIAL_ISSUER, idp_alias.clone()),
            attr(client::CREDENTIAL_SUB, subject.clone()),
        ],
    }
}

/// The body that creates the client: the managed fields, plus what a new client gets
/// once (flows off, enabled, no binding unless asked for).
pub(crate) fn client_create_body(client: &JwtClient) -> Value {
    let mut base = ClientSettings {
        client_id: Some(client.client_id.clone()),
        protocol: Some(client::OPENID_CONNECT.to_owned()),
        ..ClientSettings::default()
    }
    .to_json();
    // The secret is no setting of the model (it would reach its Debug): only the create
    // body carries it.
    if let ClientAuthenticator::Secret(Some(secret)) = &client.auth {
        base[client::SECRET] = Value::String(secret.secret().to_owned());
    }
    with_fields(base, &client_create_fields(client))
}

/// Every field a new client gets: the managed ones, and what it gets once (flows off,
/// enabled, no binding unless asked for).
pub(crate) fn client_create_fields(client: &JwtClient) -> Vec<Field> {
    let mut f = vec![
        Field::eq(&[client::ENABLED], true),
        Field::eq(&[client::STANDARD_FLOW], false),
        Field::eq(&[client::DIRECT_ACCESS_GRANTS], false),
        Field::eq(
            &[client::ATTRIBUTES, client::CERTIFICATE_BOUND_TOKENS],
            Switch::encode(false),
        ),
        Field::eq(
            &[client::ATTRIBUTES, client::DPOP_BOUND_TOKENS],
            Switch::encode(false),
        ),
    ];
    // Later fields win: what `client` names replaces the defaults above.
    let managed = client_fields(client, None);
    f.retain(|d| !managed.iter().any(|m| m.path == d.path));
    f.extend(managed);
    f
}

/// The user fields we manage: only those [`UserSpec`] names.
pub(crate) fn user_fields(spec: &UserSpec) -> Vec<Field> {
    let mut f = Vec::new();
    if let Some(b) = spec.enabled {
        f.push(Field::eq(&[user::ENABLED], b));
    }
    if let Some(e) = &spec.email {
        f.push(Field::eq(&[user::EMAIL], e.as_str()));
    }
    if let Some(n) = &spec.first_name {
        f.push(Field::eq(&[user::FIRST_NAME], n.as_str()));
    }
    if let Some(n) = &spec.last_name {
        f.push(Field::eq(&[user::LAST_NAME], n.as_str()));
    }
    f
}

/// The body that creates the user: enabled and without required actions (the grant
/// refuses users that have any: "Account is not fully set up"). Keycloak 26.7 grants
/// tokens to a user with only a user name (the default user profile's required e-mail
/// and names are enforced on browser logins, not on this grant), so nothing is invented.
pub(crate) fn user_create_body(username: &str, spec: &UserSpec) -> Value {
    let mut base = UserSettings {
        username: Some(username.to_owned()),
        ..UserSettings::default()
    }
    .to_json();
    if spec.email.is_some() {
        base[user::EMAIL_VERIFIED] = Value::Bool(true);
    }
    with_fields(base, &user_create_fields(spec))
}

/// Every field a new user gets: enabled (unless `spec` says otherwise), no required
/// actions, and what `spec` names.
pub(crate) fn user_create_fields(spec: &UserSpec) -> Vec<Field> {
    let mut f = vec![Field::eq(&[user::REQUIRED_ACTIONS], json!([]))];
    if spec.enabled.is_none() {
        f.push(Field::eq(&[user::ENABLED], true));
    }
    f.extend(user_fields(spec));
    f
}

/// The link fields we manage: the account at the provider.
pub(crate) fn link_fields(sub: &str, user_name: &str) -> Vec<Field> {
    vec![
        Field::eq(&["userId"], sub),
        Field::eq(&["userName"], user_name),
    ]
}

/// The body that links a user to an identity provider account.
pub(crate) fn link_body(alias: &str, sub: &str, user_name: &str) -> Value {
    with_fields(
        json!({"identityProvider": alias}),
        &link_fields(sub, user_name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n";

    fn seed_idp() -> JwtIdp {
        JwtIdp::new(
            "jwt-authorization-grant",
            "http://localhost:3000",
            IdpKey::Static {
                public_key: PEM.into(),
                key_id: None,
            },
        )
    }

    #[test]
    fn idp_body_is_all_strings_with_explicit_use_jwks_url() {
        let body = idp_create_body(&seed_idp().max_assertion_lifetime(600).reuse_allowed(false));
        assert_eq!(
            body,
            json!({
                "alias": "jwt-authorization-grant",
                "providerId": "jwt-authorization-grant",
                "enabled": true,
                "config": {
                    "issuer": "http://localhost:3000",
                    "useJwksUrl": "false",
                    "publicKeySignatureVerifier": PEM,
                    "jwtAuthorizationGrantMaxAllowedAssertionExpiration": "600",
                    "jwtAuthorizationGrantAssertionReuseAllowed": "false",
                }
            })
        );
        let jwks = JwtIdp::new("a", "https://i", IdpKey::JwksUrl("https://i/jwks".into()));
        assert_eq!(
            idp_create_body(&jwks)["config"],
            json!({"issuer": "https://i", "useJwksUrl": "true", "jwksUrl": "https://i/jwks"})
        );
    }

    /// `check(existing, wanted, expected differing fields)`.
    fn check(existing: Value, fields: &[Field], expected: &[&str]) {
        assert_eq!(names(&existing, fields), expected, "{existing}");
        // Applying the wanted fields always yields something that holds them all.
        let updated = with_fields(existing, fields);
        assert_eq!(names(&updated, fields), Vec::<String>::new());
    }

    fn names(existing: &Value, fields: &[Field]) -> Vec<String> {
        changes(Some(existing), fields)
            .into_iter()
            .map(|c| c.field)
            .collect()
    }

    #[test]
    fn idp_diffs() {
        let fields = idp_fields(&seed_idp());
        let same = idp_create_body(&seed_idp());
        // Unmanaged keys (Keycloak adds several) do not count.
        let mut extra = same.clone();
        extra["config"]["syncMode"] = json!("LEGACY");
        extra["internalId"] = json!("x");
        check(extra, &fields, &[]);
        let mut moved = same.clone();
        moved["config"]["issuer"] = json!("http://localhost:3001");
        moved["enabled"] = json!(false);
        check(moved, &fields, &["enabled", "issuer"]);
        // A provider created with only a JWKS URL: useJwksUrl "true" must be overwritten.
        let mut was_jwks = same.clone();
        was_jwks["config"]["useJwksUrl"] = json!("true");
        was_jwks["config"]["publicKeySignatureVerifierKeyId"] = json!("old");
        check(
            was_jwks,
            &fields,
            &["useJwksUrl", "publicKeySignatureVerifierKeyId"],
        );
        // Absent and "" both count as "no kid".
        let mut empty_kid = same.clone();
        empty_kid["config"]["publicKeySignatureVerifierKeyId"] = json!("");
        check(empty_kid, &fields, &[]);
    }

    #[test]
    fn static_jwks_key_compares_as_json() {
        let idp = JwtIdp::new(
            "a",
            "https://i",
            IdpKey::Static {
                public_key: r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"}]}"#.into(),
                key_id: Some("k1".into()),
            },
        );
        let fields = idp_fields(&idp);
        let mut existing = idp_create_body(&idp);
        existing["config"]["publicKeySignatureVerifier"] =
            json!("{ \"keys\": [ { \"x\": \"AA\", \"crv\": \"Ed25519\", \"kty\": \"OKP\" } ] }");
        check(existing.clone(), &fields, &[]);
        existing["config"]["publicKeySignatureVerifier"] = json!("{\"keys\":[]}");
        check(existing, &fields, &["publicKeySignatureVerifier"]);
    }

    #[test]
    fn client_bodies() {
        let c = JwtClient::new(
            "custom-client",
            ClientAuthenticator::Secret(Some("s3cret".into())),
            ["jwt-authorization-grant"],
        );
        let body = client_create_body(&c);
        assert_eq!(
            body,
            json!({
                "clientId": "custom-client",
                "protocol": "openid-connect",
                "secret": "s3cret",
                "enabled": true,
                "publicClient": false,
                "bearerOnly": false,
                "standardFlowEnabled": false,
                "directAccessGrantsEnabled": false,
                "clientAuthenticatorType": "client-secret",
                "attributes": {
                    "oauth2.jwt.authorization.grant.enabled": "true",
                    "oauth2.jwt.authorization.grant.idp": "jwt-authorization-grant",
                    "tls.client.certificate.bound.access.tokens": "false",
                    "dpop.bound.access.tokens": "false",
                }
            })
        );
        let mtls = JwtClient::new(
            "m",
            ClientAuthenticator::X509 {
                subject_dn: "CN=m,O=Acme".into(),
                ca_subject_dn: Some("CN=Acme CA".into()),
            },
            ["a"],
        )
        .certificate_bound_tokens(true)
        .dpop_bound_tokens(true);
        let body = client_create_body(&mtls);
        assert_eq!(body["clientAuthenticatorType"], "client-x509");
        assert_eq!(body.get("secret"), None);
        assert_eq!(
            body["attributes"],
            json!({
                "oauth2.jwt.authorization.grant.enabled": "true",
                "oauth2.jwt.authorization.grant.idp": "a",
                "tls.client.certificate.bound.access.tokens": "true",
                "dpop.bound.access.tokens": "true",
                "x509.subjectdn": "CN=m,O=Acme",
                "x509.allow.regex.pattern.comparison": "false",
                "x509.casubjectdn": "CN=Acme CA",
            })
        );
        let jwks = json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]});
        let c = JwtClient::new(
            "k",
            ClientAuthenticator::PrivateKeyJwt { jwks: jwks.clone() },
            ["a", "b"],
        );
        let body = client_create_body(&c);
        assert_eq!(body["clientAuthenticatorType"], "client-jwt");
        assert_eq!(body["attributes"]["use.jwks.string"], "true");
        assert_eq!(body["attributes"][client::ALLOWED_IDPS], "a##b");
        let parsed: Value =
            serde_json::from_str(body["attributes"]["jwks.string"].as_str().unwrap_or(""))
                .unwrap_or_default();
        assert_eq!(parsed, jwks);
    }

    #[test]
    fn client_diffs() {
        let c = JwtClient::new("c", ClientAuthenticator::Secret(None), ["x"]);
        let fields = client_fields(&c, None);
        // What Keycloak serves after a create carries many more keys.
        let mut served = client_create_body(&c);
        served["id"] = json!("uuid");
        served["implicitFlowEnabled"] = json!(false);
        served["attributes"]["realm_client"] = json!("false");
        check(served.clone(), &fields, &[]);
        let mut public = served.clone();
        public["publicClient"] = json!(true);
        public["attributes"]
            .as_object_mut()
            .map(|a| a.remove(client::GRANT_ENABLED));
        check(public, &fields, &["publicClient", client::GRANT_ENABLED]);
        // No allowed providers: the attribute absent counts as "".
        let none = JwtClient::new("c", ClientAuthenticator::Secret(None), Vec::<String>::new());
        let mut served = client_create_body(&none);
        served["attributes"]
            .as_object_mut()
            .map(|a| a.remove(client::ALLOWED_IDPS));
        check(served, &client_fields(&none, None), &[]);
    }

    #[test]
    fn user_bodies_and_diffs() {
        let spec = UserSpec::new()
            .email("nodejsuser@example.com")
            .name("Node", "User");
        let body = user_create_body("nodejsuser", &spec);
        assert_eq!(
            body,
            json!({
                "username": "nodejsuser",
                "firstName": "Node",
                "lastName": "User",
                "email": "nodejsuser@example.com",
                "emailVerified": true,
                "enabled": true,
                "requiredActions": [],
            })
        );
        let fields = user_fields(&spec);
        let mut served = body.clone();
        served["id"] = json!("u1");
        served["createdTimestamp"] = json!(1);
        check(served.clone(), &fields, &[]);
        served["requiredActions"] = json!(["UPDATE_PROFILE"]);
        served["enabled"] = json!(false);
        served["lastName"] = json!("Other");
        // An admin's disabling and required actions are not ours to undo.
        check(served, &fields, &["lastName"]);
        // Nothing invented for a bare spec.
        assert_eq!(
            user_create_body("u", &UserSpec::new()),
            json!({"username": "u", "enabled": true, "requiredActions": []})
        );
    }

    #[test]
    fn an_update_keeps_what_it_was_not_asked_to_change() {
        // A client an admin hardened and opened up after the first setup.
        let mtls = JwtClient::new(
            "c",
            ClientAuthenticator::X509 {
                subject_dn: "CN=c".into(),
                ca_subject_dn: None,
            },
            ["other-idp"],
        )
        .certificate_bound_tokens(true)
        .dpop_bound_tokens(true);
        let mut served = client_create_body(&mtls);
        served["id"] = json!("uuid");
        served["standardFlowEnabled"] = json!(true);
        served["enabled"] = json!(false);
        // A rerun naming one more provider and nothing else.
        let rerun =
            JwtClient::new("c", ClientAuthenticator::Secret(None), ["jwt"]).keep_existing_auth();
        let fields = client_fields(&rerun, Some(&served));
        let planned = changes(Some(&served), &fields);
        assert_eq!(
            planned,
            [FieldChange::new(
                client::ALLOWED_IDPS,
                Some("other-idp".into()),
                Some("other-idp##jwt".into())
            )]
        );
        let sent = with_fields(served.clone(), &fields);
        for (k, v) in [
            ("standardFlowEnabled", json!(true)),
            ("enabled", json!(false)),
            ("clientAuthenticatorType", json!("client-x509")),
        ] {
            assert_eq!(sent[k], v, "{k}");
        }
        for k in [client::DPOP_BOUND_TOKENS, client::CERTIFICATE_BOUND_TOKENS] {
            assert_eq!(sent[client::ATTRIBUTES][k], "true", "{k}");
        }
        assert_eq!(sent[client::ATTRIBUTES][client::SUBJECT_DN], "CN=c");
        // Asking for the authenticator, or naming a binding, is what changes them.
        let asked = JwtClient::new("c", ClientAuthenticator::Secret(None), ["jwt"])
            .dpop_bound_tokens(false);
        let names: Vec<String> = changes(Some(&served), &client_fields(&asked, Some(&served)))
            .into_iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(
            names,
            [
                client::ALLOWED_IDPS,
                client::DPOP_BOUND_TOKENS,
                client::AUTHENTICATOR
            ]
        );
        // A new client still starts with its flows off and no binding.
        let new = client_create_body(&rerun);
        assert_eq!(new["standardFlowEnabled"], false);
        assert_eq!(new["attributes"][client::DPOP_BOUND_TOKENS], "false");
        assert_eq!(new["clientAuthenticatorType"], "client-secret");
        // A user: nothing but what the spec names.
        let user = json!({"id": "u", "username": "u", "enabled": false,
                          "requiredActions": ["UPDATE_PASSWORD"], "attributes": {"a": ["b"]}});
        let fields = user_fields(&UserSpec::new());
        assert!(changes(Some(&user), &fields).is_empty());
        assert_eq!(with_fields(user.clone(), &fields), user);
    }

    #[test]
    fn outcome_descriptions() {
        let o = Outcome::new(
            Change::Updated,
            "client 'c' in realm 'r'",
            vec![
                FieldChange::new("enabled", Some("false".into()), Some("true".into())),
                FieldChange::new("publicClient", None, Some("false".into())),
            ],
        );
        assert_eq!(
            o.to_string(),
            "updated client 'c' in realm 'r' (enabled, publicClient)"
        );
        assert_eq!(
            Outcome::new(Change::Created, "realm 'r'", Vec::new()).to_string(),
            "created realm 'r'"
        );
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret([redacted])"
        );
    }
}
