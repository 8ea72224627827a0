//! A typed model of the Keycloak settings the JWT Authorization Grant depends on: a
//! client's ([`ClientSettings`]), an identity provider's ([`IdpSettings`]) and a linked
//! user's ([`UserSettings`]).
//!
//! Each name Keycloak gives these settings (a representation's field, a client attribute,
//! a provider's `config` key, a `providerId` or authenticator value) is written once, as a
//! constant in [`client`], [`idp`] or [`user`]. The admin API's JSON is parsed once, by
//! `from_json`, which never fails: a missing or mistyped setting reads as Keycloak's
//! default. `to_json` writes a model back as the admin API takes it. Provisioning
//! ([`crate::admin`]) builds its bodies and diffs from these names and encodings, and the
//! doctor reads the parsed models.

use serde_json::{Map, Value};

/// The server feature that switches on the ID-JAG validator for `typ: oauth-id-jag+jwt`
/// (`/admin/serverinfo`'s `features`).
pub const ID_JAG_FEATURE: &str = "identity-assertion-jwt";

/// The names in a `ClientRepresentation`.
pub mod client {
    /// The OAuth `client_id`.
    pub const CLIENT_ID: &str = "clientId";
    /// The protocol (`openid-connect`).
    pub const PROTOCOL: &str = "protocol";
    /// The value of [`PROTOCOL`] for OpenID Connect clients.
    pub const OPENID_CONNECT: &str = "openid-connect";
    /// Disabled clients get no tokens.
    pub const ENABLED: &str = "enabled";
    /// A public client has no credentials; the grant refuses it.
    pub const PUBLIC_CLIENT: &str = "publicClient";
    /// A bearer-only client gets no tokens.
    pub const BEARER_ONLY: &str = "bearerOnly";
    /// The browser login flow.
    pub const STANDARD_FLOW: &str = "standardFlowEnabled";
    /// The resource owner password grant.
    pub const DIRECT_ACCESS_GRANTS: &str = "directAccessGrantsEnabled";
    /// How the client authenticates: [`SECRET_AUTHENTICATOR`], [`JWT_AUTHENTICATOR`] or
    /// [`X509_AUTHENTICATOR`].
    pub const AUTHENTICATOR: &str = "clientAuthenticatorType";
    /// The client secret (on create only; Keycloak serves it from its own endpoint).
    pub const SECRET: &str = "secret";
    /// The object holding the string attributes below.
    pub const ATTRIBUTES: &str = "attributes";

    /// Attribute switching the grant on.
    pub const GRANT_ENABLED: &str = "oauth2.jwt.authorization.grant.enabled";
    /// Attribute listing the allowed identity provider aliases, joined with
    /// [`ALIAS_SEPARATOR`].
    pub const ALLOWED_IDPS: &str = "oauth2.jwt.authorization.grant.idp";
    /// How [`ALLOWED_IDPS`] joins the aliases.
    pub const ALIAS_SEPARATOR: &str = "##";
    /// Attribute requiring DPoP-bound tokens (RFC 9449): every token request needs a proof
    /// ("Require DPoP bound tokens" in the console).
    pub const DPOP_BOUND_TOKENS: &str = "dpop.bound.access.tokens";
    /// Attribute binding access tokens to the client certificate (RFC 8705).
    pub const CERTIFICATE_BOUND_TOKENS: &str = "tls.client.certificate.bound.access.tokens";
    /// Attribute: the subject DN the client certificate must have.
    pub const SUBJECT_DN: &str = "x509.subjectdn";
    /// Attribute: the issuing CA's subject DN.
    pub const CA_SUBJECT_DN: &str = "x509.casubjectdn";
    /// Attribute: `"false"` compares [`SUBJECT_DN`] exactly, anything else as a regex.
    pub const DN_REGEX: &str = "x509.allow.regex.pattern.comparison";
    /// Attribute: a `client-jwt` client's keys come from a JWKS URL.
    pub const USE_JWKS_URL: &str = "use.jwks.url";
    /// Attribute: a `client-jwt` client's keys are the JWKS in [`JWKS_STRING`].
    pub const USE_JWKS_STRING: &str = "use.jwks.string";
    /// Attribute: a `client-jwt` client's public keys, a JWKS as a JSON string.
    pub const JWKS_STRING: &str = "jwks.string";

    /// [`AUTHENTICATOR`]: `client_secret_post` / `client_secret_basic`.
    pub const SECRET_AUTHENTICATOR: &str = "client-secret";
    /// [`AUTHENTICATOR`]: `private_key_jwt`.
    pub const JWT_AUTHENTICATOR: &str = "client-jwt";
    /// [`AUTHENTICATOR`]: `tls_client_auth`, the client's certificate.
    pub const X509_AUTHENTICATOR: &str = "client-x509";
    /// [`AUTHENTICATOR`]: a client assertion another issuer signs, verified by the identity
    /// provider [`CREDENTIAL_ISSUER`] names (`FederatedJWTClientAuthenticator`; feature
    /// `client-auth-federated`, on by default in 26.x). No secret.
    pub const FEDERATED_AUTHENTICATOR: &str = "federated-jwt";
    /// Attribute of a [`FEDERATED_AUTHENTICATOR`] client: the alias of the identity provider
    /// that vouches for it (not its issuer URL, despite the name).
    pub const CREDENTIAL_ISSUER: &str = "jwt.credential.issuer";
    /// Attribute of a [`FEDERATED_AUTHENTICATOR`] client: the client assertion's `sub`.
    /// Keycloak finds the client by this and [`CREDENTIAL_ISSUER`]
    /// (`DefaultClientAssertionStrategy.lookup`), not by `client_id`.
    pub const CREDENTIAL_SUB: &str = "jwt.credential.sub";
}

/// The names in an `IdentityProviderRepresentation`.
pub mod idp {
    /// The provider's alias; clients name it in their allow-list.
    pub const ALIAS: &str = "alias";
    /// The provider's type.
    pub const PROVIDER_ID_FIELD: &str = "providerId";
    /// [`PROVIDER_ID_FIELD`] of a JWT Authorization Grant identity provider.
    pub const PROVIDER_ID: &str = "jwt-authorization-grant";
    /// [`PROVIDER_ID_FIELD`] of an OpenID Connect provider: the type that verifies client
    /// assertions with [`SUPPORTS_CLIENT_ASSERTIONS`] (a JWT Authorization Grant provider
    /// cannot: `federated-jwt` clients it vouches for get 401 `invalid_client`).
    pub const OIDC_PROVIDER_ID: &str = "oidc";
    /// Config of an OIDC provider: `"true"` verifies signatures (required with
    /// [`SUPPORTS_CLIENT_ASSERTIONS`]).
    pub const VALIDATE_SIGNATURE: &str = "validateSignature";
    /// Config of an OIDC provider: `"true"` lets it vouch for `federated-jwt` clients.
    pub const SUPPORTS_CLIENT_ASSERTIONS: &str = "supportsClientAssertions";
    /// Top-level (26.x): `true` keeps the provider off the realm's login page, where a
    /// provider that only vouches for clients would be a button that cannot log anyone in
    /// (read back as set on 26.7.3).
    pub const HIDE_ON_LOGIN: &str = "hideOnLogin";
    /// Disabled providers match no assertion (absent: enabled).
    pub const ENABLED: &str = "enabled";
    /// The object holding the string settings below.
    pub const CONFIG: &str = "config";

    /// Config: compared with the assertion's `iss` character for character.
    pub const ISSUER: &str = "issuer";
    /// Config: `"true"` verifies with the JWKS at [`JWKS_URL`], else with the static key.
    pub const USE_JWKS_URL: &str = "useJwksUrl";
    /// Config: the issuer's JWKS endpoint.
    pub const JWKS_URL: &str = "jwksUrl";
    /// Config: the static key (SPKI PEM, base64 SPKI DER or a JWKS JSON).
    pub const PUBLIC_KEY: &str = "publicKeySignatureVerifier";
    /// Config: the `kid` the assertion must carry with the static key.
    pub const KEY_ID: &str = "publicKeySignatureVerifierKeyId";
    /// Config: the longest accepted assertion lifetime, in seconds.
    pub const MAX_EXPIRATION: &str = "jwtAuthorizationGrantMaxAllowedAssertionExpiration";
    /// Keycloak's default for [`MAX_EXPIRATION`], in seconds.
    pub const DEFAULT_MAX_EXPIRATION: i64 = 300;
    /// Config: the clock skew allowed on `nbf` and `iat`, in seconds (default 0).
    pub const CLOCK_SKEW: &str = "jwtAuthorizationGrantAllowedClockSkew";
    /// Config: the one accepted signature algorithm (default: any asymmetric one).
    pub const SIGNATURE_ALG: &str = "jwtAuthorizationGrantAssertionSignatureAlg";
    /// Config: `"true"` lets an assertion be used twice (then `jti` is optional).
    pub const REUSE_ALLOWED: &str = "jwtAuthorizationGrantAssertionReuseAllowed";
    /// Config: `"true"` caps the access token's `exp` at the assertion's.
    pub const LIMIT_ACCESS_TOKEN_EXP: &str = "jwtAuthorizationGrantLimitAccessTokenExp";
}

/// The names in a `UserRepresentation`.
pub mod user {
    /// The user name.
    pub const USERNAME: &str = "username";
    /// Disabled users get no tokens.
    pub const ENABLED: &str = "enabled";
    /// Actions the user must take first; the grant refuses users that have any.
    pub const REQUIRED_ACTIONS: &str = "requiredActions";
    /// E-mail address.
    pub const EMAIL: &str = "email";
    /// Whether the e-mail address is verified.
    pub const EMAIL_VERIFIED: &str = "emailVerified";
    /// Given name.
    pub const FIRST_NAME: &str = "firstName";
    /// Family name.
    pub const LAST_NAME: &str = "lastName";
}

/// A boolean Keycloak stores as a string attribute or `config` value. Only `"true"` is on;
/// the raw text is kept because some rules read `"false"` apart from absent, and messages
/// quote it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Switch(Option<String>);

impl Switch {
    /// A switch set to `on`, written `"true"` or `"false"`.
    pub fn new(on: bool) -> Switch {
        Switch(Some(Switch::encode(on).to_owned()))
    }

    /// The text Keycloak stores for `on`.
    pub fn encode(on: bool) -> &'static str {
        if on { "true" } else { "false" }
    }

    /// Exactly `"true"`.
    pub fn is_on(&self) -> bool {
        self.raw() == Some("true")
    }

    /// Exactly `"false"` (absent is neither on nor this).
    pub fn is_off(&self) -> bool {
        self.raw() == Some("false")
    }

    /// The stored text, `None` when the setting is absent.
    pub fn raw(&self) -> Option<&str> {
        self.0.as_deref()
    }

    fn read(object: Option<&Value>, name: &str) -> Switch {
        Switch(text(object, name))
    }
}

/// How a client authenticates at the token endpoint (`clientAuthenticatorType`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Authenticator {
    /// `client-secret`.
    Secret,
    /// `client-jwt`.
    Jwt,
    /// `client-x509`.
    X509,
    /// `federated-jwt`.
    Federated,
    /// Any other authenticator, by its name.
    Other(String),
}

impl Authenticator {
    /// The authenticator Keycloak names `name`.
    pub fn from_name(name: &str) -> Authenticator {
        match name {
            client::SECRET_AUTHENTICATOR => Authenticator::Secret,
            client::JWT_AUTHENTICATOR => Authenticator::Jwt,
            client::X509_AUTHENTICATOR => Authenticator::X509,
            client::FEDERATED_AUTHENTICATOR => Authenticator::Federated,
            other => Authenticator::Other(other.to_owned()),
        }
    }

    /// Keycloak's name for it.
    pub fn name(&self) -> &str {
        match self {
            Authenticator::Secret => client::SECRET_AUTHENTICATOR,
            Authenticator::Jwt => client::JWT_AUTHENTICATOR,
            Authenticator::X509 => client::X509_AUTHENTICATOR,
            Authenticator::Federated => client::FEDERATED_AUTHENTICATOR,
            Authenticator::Other(name) => name,
        }
    }
}

/// A client's settings as far as the grant is concerned. `None` (or an absent [`Switch`])
/// means the representation does not carry the setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientSettings {
    /// `clientId`.
    pub client_id: Option<String>,
    /// `protocol`.
    pub protocol: Option<String>,
    /// `enabled`.
    pub enabled: Option<bool>,
    /// `publicClient`.
    pub public_client: Option<bool>,
    /// `bearerOnly`.
    pub bearer_only: Option<bool>,
    /// `standardFlowEnabled`.
    pub standard_flow: Option<bool>,
    /// `directAccessGrantsEnabled`.
    pub direct_access_grants: Option<bool>,
    /// `clientAuthenticatorType`.
    pub authenticator: Option<Authenticator>,
    /// Attribute [`client::GRANT_ENABLED`].
    pub grant_enabled: Switch,
    /// Attribute [`client::ALLOWED_IDPS`], split into aliases (empty parts dropped).
    pub allowed_idps: Vec<String>,
    /// Attribute [`client::DPOP_BOUND_TOKENS`].
    pub dpop_bound_tokens: Switch,
    /// Attribute [`client::CERTIFICATE_BOUND_TOKENS`].
    pub certificate_bound_tokens: Switch,
    /// Attribute [`client::SUBJECT_DN`].
    pub subject_dn: Option<String>,
    /// Attribute [`client::CA_SUBJECT_DN`].
    pub ca_subject_dn: Option<String>,
    /// Attribute [`client::DN_REGEX`].
    pub dn_regex: Switch,
    /// Attribute [`client::USE_JWKS_URL`].
    pub use_jwks_url: Switch,
    /// Attribute [`client::USE_JWKS_STRING`].
    pub use_jwks_string: Switch,
    /// Attribute [`client::JWKS_STRING`].
    pub jwks_string: Option<String>,
}

impl ClientSettings {
    /// Reads a `ClientRepresentation`; what is missing or of another type stays unset.
    pub fn from_json(v: &Value) -> ClientSettings {
        let attrs = v.get(client::ATTRIBUTES);
        ClientSettings {
            client_id: text(Some(v), client::CLIENT_ID),
            protocol: text(Some(v), client::PROTOCOL),
            enabled: flag(v, client::ENABLED),
            public_client: flag(v, client::PUBLIC_CLIENT),
            bearer_only: flag(v, client::BEARER_ONLY),
            standard_flow: flag(v, client::STANDARD_FLOW),
            direct_access_grants: flag(v, client::DIRECT_ACCESS_GRANTS),
            authenticator: text(Some(v), client::AUTHENTICATOR)
                .map(|a| Authenticator::from_name(&a)),
            grant_enabled: Switch::read(attrs, client::GRANT_ENABLED),
            allowed_idps: split_aliases(&text(attrs, client::ALLOWED_IDPS).unwrap_or_default()),
            dpop_bound_tokens: Switch::read(attrs, client::DPOP_BOUND_TOKENS),
            certificate_bound_tokens: Switch::read(attrs, client::CERTIFICATE_BOUND_TOKENS),
            subject_dn: text(attrs, client::SUBJECT_DN),
            ca_subject_dn: text(attrs, client::CA_SUBJECT_DN),
            dn_regex: Switch::read(attrs, client::DN_REGEX),
            use_jwks_url: Switch::read(attrs, client::USE_JWKS_URL),
            use_jwks_string: Switch::read(attrs, client::USE_JWKS_STRING),
            jwks_string: text(attrs, client::JWKS_STRING),
        }
    }

    /// The representation holding exactly the settings that are set (and an `attributes`
    /// object, empty or not).
    pub fn to_json(&self) -> Value {
        let mut v = Map::new();
        put(
            &mut v,
            client::CLIENT_ID,
            self.client_id.clone().map(Value::from),
        );
        put(
            &mut v,
            client::PROTOCOL,
            self.protocol.clone().map(Value::from),
        );
        put(&mut v, client::ENABLED, self.enabled.map(Value::from));
        put(
            &mut v,
            client::PUBLIC_CLIENT,
            self.public_client.map(Value::from),
        );
        put(
            &mut v,
            client::BEARER_ONLY,
            self.bearer_only.map(Value::from),
        );
        put(
            &mut v,
            client::STANDARD_FLOW,
            self.standard_flow.map(Value::from),
        );
        put(
            &mut v,
            client::DIRECT_ACCESS_GRANTS,
            self.direct_access_grants.map(Value::from),
        );
        put(
            &mut v,
            client::AUTHENTICATOR,
            self.authenticator.as_ref().map(|a| a.name().into()),
        );
        let mut a = Map::new();
        put_text(&mut a, client::GRANT_ENABLED, self.grant_enabled.raw());
        let idps = join_aliases(&self.allowed_idps);
        put_text(
            &mut a,
            client::ALLOWED_IDPS,
            Some(idps.as_str()).filter(|s| !s.is_empty()),
        );
        put_text(
            &mut a,
            client::DPOP_BOUND_TOKENS,
            self.dpop_bound_tokens.raw(),
        );
        put_text(
            &mut a,
            client::CERTIFICATE_BOUND_TOKENS,
            self.certificate_bound_tokens.raw(),
        );
        put_text(&mut a, client::SUBJECT_DN, self.subject_dn.as_deref());
        put_text(&mut a, client::CA_SUBJECT_DN, self.ca_subject_dn.as_deref());
        put_text(&mut a, client::DN_REGEX, self.dn_regex.raw());
        put_text(&mut a, client::USE_JWKS_URL, self.use_jwks_url.raw());
        put_text(&mut a, client::USE_JWKS_STRING, self.use_jwks_string.raw());
        put_text(&mut a, client::JWKS_STRING, self.jwks_string.as_deref());
        v.insert(client::ATTRIBUTES.to_owned(), Value::Object(a));
        Value::Object(v)
    }

    /// True when the client authenticates with its certificate (`client-x509`).
    pub fn authenticates_with_certificate(&self) -> bool {
        self.authenticator == Some(Authenticator::X509)
    }
}

/// An identity provider's settings as far as the grant is concerned. `None` (or an absent
/// [`Switch`]) means the representation does not carry the setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdpSettings {
    /// `alias`.
    pub alias: Option<String>,
    /// `providerId`.
    pub provider_id: Option<String>,
    /// `enabled` (absent: enabled).
    pub enabled: Option<bool>,
    /// Config [`idp::ISSUER`].
    pub issuer: Option<String>,
    /// Config [`idp::USE_JWKS_URL`].
    pub use_jwks_url: Switch,
    /// Config [`idp::JWKS_URL`].
    pub jwks_url: Option<String>,
    /// Config [`idp::PUBLIC_KEY`].
    pub public_key: Option<String>,
    /// Config [`idp::KEY_ID`].
    pub key_id: Option<String>,
    /// Config [`idp::MAX_EXPIRATION`], when it reads as a whole number of seconds.
    pub max_expiration: Option<i64>,
    /// Config [`idp::CLOCK_SKEW`], when it reads as a whole number of seconds.
    pub clock_skew: Option<i64>,
    /// Config [`idp::SIGNATURE_ALG`].
    pub signature_alg: Option<String>,
    /// Config [`idp::REUSE_ALLOWED`].
    pub reuse_allowed: Switch,
    /// Config [`idp::LIMIT_ACCESS_TOKEN_EXP`].
    pub limit_access_token_exp: Switch,
}

impl IdpSettings {
    /// Reads an `IdentityProviderRepresentation`; what is missing or of another type stays
    /// unset, and a number setting that does not parse (after trimming) is unset too.
    pub fn from_json(v: &Value) -> IdpSettings {
        let config = v.get(idp::CONFIG);
        let seconds = |name: &str| text(config, name).and_then(|s| s.trim().parse::<i64>().ok());
        IdpSettings {
            alias: text(Some(v), idp::ALIAS),
            provider_id: text(Some(v), idp::PROVIDER_ID_FIELD),
            enabled: flag(v, idp::ENABLED),
            issuer: text(config, idp::ISSUER),
            use_jwks_url: Switch::read(config, idp::USE_JWKS_URL),
            jwks_url: text(config, idp::JWKS_URL),
            public_key: text(config, idp::PUBLIC_KEY),
            key_id: text(config, idp::KEY_ID),
            max_expiration: seconds(idp::MAX_EXPIRATION),
            clock_skew: seconds(idp::CLOCK_SKEW),
            signature_alg: text(config, idp::SIGNATURE_ALG),
            reuse_allowed: Switch::read(config, idp::REUSE_ALLOWED),
            limit_access_token_exp: Switch::read(config, idp::LIMIT_ACCESS_TOKEN_EXP),
        }
    }

    /// The representation holding exactly the settings that are set (and a `config`
    /// object, empty or not); every config value is a string, as Keycloak stores them.
    pub fn to_json(&self) -> Value {
        let mut v = Map::new();
        put(&mut v, idp::ALIAS, self.alias.clone().map(Value::from));
        put(
            &mut v,
            idp::PROVIDER_ID_FIELD,
            self.provider_id.clone().map(Value::from),
        );
        put(&mut v, idp::ENABLED, self.enabled.map(Value::from));
        let mut c = Map::new();
        put_text(&mut c, idp::ISSUER, self.issuer.as_deref());
        put_text(&mut c, idp::USE_JWKS_URL, self.use_jwks_url.raw());
        put_text(&mut c, idp::JWKS_URL, self.jwks_url.as_deref());
        put_text(&mut c, idp::PUBLIC_KEY, self.public_key.as_deref());
        put_text(&mut c, idp::KEY_ID, self.key_id.as_deref());
        let max = self.max_expiration.map(|s| s.to_string());
        put_text(&mut c, idp::MAX_EXPIRATION, max.as_deref());
        let skew = self.clock_skew.map(|s| s.to_string());
        put_text(&mut c, idp::CLOCK_SKEW, skew.as_deref());
        put_text(&mut c, idp::SIGNATURE_ALG, self.signature_alg.as_deref());
        put_text(&mut c, idp::REUSE_ALLOWED, self.reuse_allowed.raw());
        put_text(
            &mut c,
            idp::LIMIT_ACCESS_TOKEN_EXP,
            self.limit_access_token_exp.raw(),
        );
        v.insert(idp::CONFIG.to_owned(), Value::Object(c));
        Value::Object(v)
    }

    /// A JWT Authorization Grant provider (`providerId` [`idp::PROVIDER_ID`]).
    pub fn is_jwt_grant_provider(&self) -> bool {
        self.provider_id.as_deref() == Some(idp::PROVIDER_ID)
    }

    /// Enabled, or `enabled` absent (Keycloak's default).
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    /// The alias, or `?` when the representation has none (for messages).
    pub fn alias_or_unknown(&self) -> &str {
        self.alias.as_deref().unwrap_or("?")
    }

    /// The maximum assertion lifetime in seconds, Keycloak's default when unset.
    pub fn max_expiration_or_default(&self) -> i64 {
        self.max_expiration.unwrap_or(idp::DEFAULT_MAX_EXPIRATION)
    }

    /// The pinned signature algorithm, when one is set (an empty one pins nothing).
    pub fn pinned_algorithm(&self) -> Option<&str> {
        self.signature_alg.as_deref().filter(|a| !a.is_empty())
    }
}

/// A linked user's settings as far as the grant is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserSettings {
    /// `username`.
    pub username: Option<String>,
    /// `enabled`.
    pub enabled: Option<bool>,
    /// `requiredActions` (its strings).
    pub required_actions: Vec<String>,
}

impl UserSettings {
    /// Reads a `UserRepresentation`; what is missing or of another type stays unset.
    pub fn from_json(v: &Value) -> UserSettings {
        UserSettings {
            username: text(Some(v), user::USERNAME),
            enabled: flag(v, user::ENABLED),
            required_actions: v
                .get(user::REQUIRED_ACTIONS)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The representation holding exactly the settings that are set.
    pub fn to_json(&self) -> Value {
        let mut v = Map::new();
        put(
            &mut v,
            user::USERNAME,
            self.username.clone().map(Value::from),
        );
        put(&mut v, user::ENABLED, self.enabled.map(Value::from));
        if !self.required_actions.is_empty() {
            v.insert(
                user::REQUIRED_ACTIONS.to_owned(),
                Value::from(self.required_actions.clone()),
            );
        }
        Value::Object(v)
    }
}

/// Aliases as [`client::ALLOWED_IDPS`] stores them.
pub fn join_aliases(aliases: &[String]) -> String {
    aliases.join(client::ALIAS_SEPARATOR)
}

/// The aliases in a stored [`client::ALLOWED_IDPS`]; empty parts are dropped.
pub fn split_aliases(stored: &str) -> Vec<String> {
    stored
        .split(client::ALIAS_SEPARATOR)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn text(object: Option<&Value>, name: &str) -> Option<String> {
    object?.get(name)?.as_str().map(str::to_owned)
}

fn flag(object: &Value, name: &str) -> Option<bool> {
    object.get(name)?.as_bool()
}

fn put(map: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(name.to_owned(), v);
    }
}

fn put_text(map: &mut Map<String, Value>, name: &str, value: Option<&str>) {
    put(map, name, value.map(Value::from));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_client_reads_and_writes_back() {
        let served = json!({
            "id": "uuid", "clientId": "custom-client", "protocol": "openid-connect",
            "enabled": true, "publicClient": false, "bearerOnly": false,
            "standardFlowEnabled": false, "directAccessGrantsEnabled": false,
            "clientAuthenticatorType": "client-x509",
            "attributes": {
                "oauth2.jwt.authorization.grant.enabled": "true",
                "oauth2.jwt.authorization.grant.idp": "a####b",
                "dpop.bound.access.tokens": "false",
                "tls.client.certificate.bound.access.tokens": "true",
                "x509.subjectdn": "CN=c", "x509.casubjectdn": "CN=ca",
                "x509.allow.regex.pattern.comparison": "false",
                "realm_client": "false",
            }
        });
        let c = ClientSettings::from_json(&served);
        assert_eq!(c.client_id.as_deref(), Some("custom-client"));
        assert_eq!(c.public_client, Some(false));
        assert!(c.authenticates_with_certificate());
        assert!(c.grant_enabled.is_on());
        assert_eq!(c.allowed_idps, ["a", "b"]);
        assert!(c.dpop_bound_tokens.is_off() && !c.dpop_bound_tokens.is_on());
        assert!(c.certificate_bound_tokens.is_on());
        assert_eq!(c.subject_dn.as_deref(), Some("CN=c"));
        assert!(c.dn_regex.is_off());
        assert_eq!(c.use_jwks_url, Switch::default());
        // Written back: what it read, without the keys it does not model, the aliases
        // joined again.
        let mut expected = served.clone();
        expected.as_object_mut().map(|o| o.remove("id"));
        expected["attributes"]
            .as_object_mut()
            .map(|a| a.remove("realm_client"));
        expected["attributes"]["oauth2.jwt.authorization.grant.idp"] = json!("a##b");
        assert_eq!(c.to_json(), expected);
        assert_eq!(ClientSettings::from_json(&c.to_json()), c);
    }

    #[test]
    fn missing_and_mistyped_settings_read_as_unset() {
        let c = ClientSettings::from_json(&json!({"publicClient": "yes", "attributes": 3}));
        assert_eq!(c, ClientSettings::default());
        assert_eq!(
            c.to_json(),
            json!({"attributes": {}}),
            "an unset model writes nothing"
        );
        let weird = ClientSettings::from_json(&json!({
            "clientAuthenticatorType": "client-secret-jwt",
            "attributes": {"oauth2.jwt.authorization.grant.enabled": "TRUE"}}));
        assert_eq!(
            weird.authenticator,
            Some(Authenticator::Other("client-secret-jwt".into()))
        );
        // Only the exact text is on; the raw text is kept for messages.
        assert!(!weird.grant_enabled.is_on());
        assert_eq!(weird.grant_enabled.raw(), Some("TRUE"));
        assert_eq!(
            UserSettings::from_json(&json!(null)),
            UserSettings::default()
        );
    }

    #[test]
    fn a_provider_reads_and_writes_back() {
        let served = json!({
            "alias": "jwt", "providerId": "jwt-authorization-grant", "enabled": false,
            "internalId": "x",
            "config": {
                "issuer": "http://localhost:3000", "useJwksUrl": "true",
                "jwksUrl": "http://localhost:3000/jwks",
                "publicKeySignatureVerifier": "MIIB", "publicKeySignatureVerifierKeyId": "k",
                "jwtAuthorizationGrantMaxAllowedAssertionExpiration": " 600 ",
                "jwtAuthorizationGrantAllowedClockSkew": "soon",
                "jwtAuthorizationGrantAssertionSignatureAlg": "",
                "jwtAuthorizationGrantAssertionReuseAllowed": "true",
                "jwtAuthorizationGrantLimitAccessTokenExp": "false",
                "syncMode": "LEGACY",
            }
        });
        let p = IdpSettings::from_json(&served);
        assert!(p.is_jwt_grant_provider());
        assert!(!p.is_enabled());
        assert_eq!(p.issuer.as_deref(), Some("http://localhost:3000"));
        assert!(p.use_jwks_url.is_on());
        assert_eq!(p.max_expiration, Some(600));
        assert_eq!(p.max_expiration_or_default(), 600);
        // A number that does not parse is Keycloak's default.
        assert_eq!(p.clock_skew, None);
        assert_eq!(p.pinned_algorithm(), None);
        assert!(p.reuse_allowed.is_on());
        assert_eq!(
            p.to_json(),
            json!({
                "alias": "jwt", "providerId": "jwt-authorization-grant", "enabled": false,
                "config": {
                    "issuer": "http://localhost:3000", "useJwksUrl": "true",
                    "jwksUrl": "http://localhost:3000/jwks",
                    "publicKeySignatureVerifier": "MIIB",
                    "publicKeySignatureVerifierKeyId": "k",
                    "jwtAuthorizationGrantMaxAllowedAssertionExpiration": "600",
                    "jwtAuthorizationGrantAssertionSignatureAlg": "",
                    "jwtAuthorizationGrantAssertionReuseAllowed": "true",
                    "jwtAuthorizationGrantLimitAccessTokenExp": "false",
                }
            })
        );
        assert_eq!(IdpSettings::from_json(&p.to_json()), p);
        let bare = IdpSettings::from_json(&json!({"alias": "g", "providerId": "google"}));
        assert!(!bare.is_jwt_grant_provider());
        assert!(bare.is_enabled());
        assert_eq!(bare.max_expiration_or_default(), 300);
        assert_eq!(IdpSettings::default().alias_or_unknown(), "?");
    }

    #[test]
    fn a_user_reads_and_writes_back() {
        let u = UserSettings::from_json(&json!({
            "id": "u1", "username": "alice", "enabled": true,
            "requiredActions": ["UPDATE_PASSWORD", 3]}));
        assert_eq!(u.username.as_deref(), Some("alice"));
        assert_eq!(u.enabled, Some(true));
        assert_eq!(u.required_actions, ["UPDATE_PASSWORD"]);
        assert_eq!(
            u.to_json(),
            json!({"username": "alice", "enabled": true, "requiredActions": ["UPDATE_PASSWORD"]})
        );
    }

    #[test]
    fn aliases_and_switches() {
        assert_eq!(join_aliases(&["a".into(), "b".into()]), "a##b");
        assert_eq!(split_aliases("##a####b##"), ["a", "b"]);
        assert!(split_aliases("").is_empty());
        assert!(Switch::new(true).is_on());
        assert!(Switch::new(false).is_off());
        assert_eq!(Switch::encode(false), "false");
        assert_eq!(Authenticator::from_name("client-jwt"), Authenticator::Jwt);
        assert_eq!(Authenticator::X509.name(), "client-x509");
    }
}
