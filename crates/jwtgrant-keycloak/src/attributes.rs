//! Keycloak's names for the settings the grant depends on, each written once: the
//! provisioning bodies (`admin::spec`) write them and the doctor reads them. A leaf module:
//! it depends on nothing, so neither side depends on the other for a name.

/// `providerId` of a JWT Authorization Grant identity provider.
pub const PROVIDER_ID: &str = "jwt-authorization-grant";
/// Client attribute switching the grant on.
pub const CLIENT_GRANT_ENABLED: &str = "oauth2.jwt.authorization.grant.enabled";
/// Client attribute listing the allowed identity provider aliases, joined with `##`.
pub const CLIENT_ALLOWED_IDPS: &str = "oauth2.jwt.authorization.grant.idp";
/// Client attribute requiring DPoP-bound tokens (RFC 9449): every token request needs a proof.
pub const CLIENT_REQUIRES_DPOP: &str = "dpop.bound.access.tokens";
/// The server feature that switches on the ID-JAG validator for `typ: oauth-id-jag+jwt`.
pub const ID_JAG_FEATURE: &str = "identity-assertion-jwt";
/// Keycloak's default for `jwtAuthorizationGrantMaxAllowedAssertionExpiration`, in seconds.
pub const DEFAULT_MAX_EXPIRATION: i64 = 300;
/// `clientAuthenticatorType` of a client that authenticates with its certificate.
pub const X509_AUTHENTICATOR: &str = "client-x509";
/// Client attribute: the subject DN the client certificate must have.
pub const CLIENT_SUBJECT_DN: &str = "x509.subjectdn";
/// Client attribute: the issuing CA's subject DN.
pub const CLIENT_CA_SUBJECT_DN: &str = "x509.casubjectdn";
/// Client attribute: `"false"` compares the subject DN exactly, anything else as a regex.
pub const CLIENT_DN_REGEX: &str = "x509.allow.regex.pattern.comparison";
/// Client attribute: `"true"` binds access tokens to the client certificate (RFC 8705).
pub const CLIENT_BOUND_TOKENS: &str = "tls.client.certificate.bound.access.tokens";
