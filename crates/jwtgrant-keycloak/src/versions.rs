//! The order in which each Keycloak release runs the grant's checks, as data.
//!
//! Keycloak answers only the first failing check, so an assertion with two faults gets a
//! different answer from different releases. Read from the released classes
//! (`org.keycloak.protocol.oidc.grants.JWTAuthorizationGrantType.process` in
//! `keycloak-services`; see `docs/keycloak-notes.md`):
//!
//! - 26.5.x (read: 26.5.0, 26.5.6; 26.6.x assumed the same, it is not served here):
//!   client, `iss`/`sub`, identity provider, `validateTokenActive` (exp, nbf, iat, jti),
//!   `validateSignatureAlgorithm`, `validateTokenAudience`, then the provider's
//!   `validateAuthorizationGrantAssertion` (the signature), then the user.
//! - 26.7.0 and later (read: 26.7.0, 26.7.3; keycloak PR #49877, fix for #49215): the
//!   signature is verified right after the algorithm, before `validateTokenActive`; the
//!   audience moved behind the user lookup (after consent, scopes and client policies).
//! - Besides the order, two rules changed in 26.7.0 (read in both releases' classes):
//!   `AbstractBaseJWTValidator.validateSignatureAlgorithm` refuses `none` and symmetric
//!   algorithms only since 26.7 (26.5 checks just that `alg` is there and, when the
//!   provider pins one, that it is that one), and
//!   `DefaultAlternativeLookupProvider.lookupIdentityProviderFromIssuer` skips disabled
//!   providers (and other provider types) only since 26.7 (26.5 finds a disabled provider
//!   and `process` answers `Identity Provider is not enabled`). See [`Order::refuses_symmetric_algorithms`]
//!   and [`Order::finds_disabled_providers`].
//! - Every release: the certificate binding of RFC 8705 comes last, when the token response
//!   is built (measured on 26.7.3: a bound client without a certificate and a bad signature
//!   gets `Invalid signature`).

use std::fmt;

/// A group of checks Keycloak runs together; the doctor has one function per stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Client authentication (before the grant runs).
    ClientAuthentication,
    /// The token endpoint's DPoP check (`DPoPUtil.handleDPoPHeader`), after client
    /// authentication and before the grant: a proof when one is sent or the client requires it.
    Dpop,
    /// The assertion parses as a JWT.
    AssertionFormat,
    /// `validateClient`: confidential, grant enabled.
    ClientGrant,
    /// `validateIssuer`, `validateSubject`.
    MandatoryClaims,
    /// The provider for `iss` exists, is enabled and is allowed for the client.
    IdentityProvider,
    /// `validateTokenActive`: exp, nbf, iat, jti (and reuse).
    TokenActive,
    /// `validateSignatureAlgorithm`.
    SignatureAlgorithm,
    /// `validateAuthorizationGrantAssertion`: the signature with the provider's key.
    Signature,
    /// The linked user exists, is enabled and fully set up.
    User,
    /// `validateTokenAudience`.
    Audience,
    /// Certificate-bound tokens (RFC 8705): when the client asks for them, the request must
    /// present a client certificate. Keycloak checks this while building the token response
    /// (`OAuth2GrantTypeBase.createTokenResponse`), after every check of the grant.
    TokenBinding,
}

/// A release line's order of stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Order {
    /// 26.5.x and 26.6.x: time, jti and audience before the signature.
    Before26_7,
    /// 26.7.0 and later: the signature before time and jti; the audience last.
    Since26_7,
}

const BEFORE_26_7: &[Stage] = &[
    Stage::ClientAuthentication,
    Stage::Dpop,
    Stage::AssertionFormat,
    Stage::ClientGrant,
    Stage::MandatoryClaims,
    Stage::IdentityProvider,
    Stage::TokenActive,
    Stage::SignatureAlgorithm,
    Stage::Audience,
    Stage::Signature,
    Stage::User,
    Stage::TokenBinding,
];

const SINCE_26_7: &[Stage] = &[
    Stage::ClientAuthentication,
    Stage::Dpop,
    Stage::AssertionFormat,
    Stage::ClientGrant,
    Stage::MandatoryClaims,
    Stage::IdentityProvider,
    Stage::SignatureAlgorithm,
    Stage::Signature,
    Stage::TokenActive,
    Stage::User,
    Stage::Audience,
    Stage::TokenBinding,
];

impl Order {
    /// The newest order, assumed when the server's version is unknown.
    pub const NEWEST: Order = Order::Since26_7;

    /// The order of `version` (`None`: unknown, the newest).
    pub fn of(version: Option<&Version>) -> Order {
        match version {
            Some(v) if *v < Version::new(26, 7, 0) => Order::Before26_7,
            _ => Order::NEWEST,
        }
    }

    /// The stages, first to last.
    pub fn stages(self) -> &'static [Stage] {
        match self {
            Order::Before26_7 => BEFORE_26_7,
            Order::Since26_7 => SINCE_26_7,
        }
    }

    /// Whether `validateSignatureAlgorithm` refuses `none` and symmetric algorithms (`HS*`)
    /// with `Invalid signature algorithm`: since 26.7. Before, only a missing `alg` or one
    /// other than the provider's pinned algorithm is refused there, and a `none` or `HS*`
    /// assertion reaches the signature check, which no public key passes (`Invalid
    /// signature`).
    pub fn refuses_symmetric_algorithms(self) -> bool {
        matches!(self, Order::Since26_7)
    }

    /// Whether the issuer lookup finds a disabled provider: before 26.7 it matches on the
    /// issuer alone, and `process` then answers `Identity Provider is not enabled`; since
    /// 26.7 it matches enabled JWT Authorization Grant providers only, so a disabled one is
    /// `No Identity Provider for provided issuer`.
    pub fn finds_disabled_providers(self) -> bool {
        matches!(self, Order::Before26_7)
    }

    /// The releases this order covers, for messages.
    pub fn releases(self) -> &'static str {
        match self {
            Order::Before26_7 => "Keycloak 26.5/26.6",
            Order::Since26_7 => "Keycloak 26.7+",
        }
    }
}

/// A Keycloak release number as `/admin/serverinfo` reports it (`systemInfo.version`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    major: u32,
    minor: u32,
    patch: u32,
    /// What followed the numbers (e.g. `-SNAPSHOT`), kept for display only.
    suffix: String,
}

impl Version {
    /// `major.minor.patch`.
    pub fn new(major: u32, minor: u32, patch: u32) -> Version {
        Version {
            major,
            minor,
            patch,
            suffix: String::new(),
        }
    }

    /// Parses `26.7.3`, `26.5.6`, `999.0.0-SNAPSHOT` (a nightly build), `26.7`; `None` when
    /// it does not start with a number.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let mut parts = text[..end].split('.').filter(|p| !p.is_empty());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Some(Version {
            major,
            minor,
            patch,
            suffix: text[end..].to_owned(),
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}{}",
            self.major, self.minor, self.patch, self.suffix
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        let check = |text: &str, expected: Option<(u32, u32, u32)>| {
            let got = Version::parse(text).map(|v| (v.major, v.minor, v.patch));
            assert_eq!(got, expected, "{text}");
        };
        check("26.7.3", Some((26, 7, 3)));
        check("26.5.6", Some((26, 5, 6)));
        check("26.7", Some((26, 7, 0)));
        check("999.0.0-SNAPSHOT", Some((999, 0, 0)));
        check("nightly", None);
        check("", None);
        assert_eq!(
            Version::parse("999.0.0-SNAPSHOT").unwrap().to_string(),
            "999.0.0-SNAPSHOT"
        );
    }

    #[test]
    fn orders_per_release() {
        let order = |v: &str| Order::of(Version::parse(v).as_ref());
        assert_eq!(order("26.5.0"), Order::Before26_7);
        assert_eq!(order("26.5.6"), Order::Before26_7);
        assert_eq!(order("26.6.2"), Order::Before26_7);
        assert_eq!(order("26.7.0"), Order::Since26_7);
        assert_eq!(order("26.7.3"), Order::Since26_7);
        assert_eq!(order("999.0.0-SNAPSHOT"), Order::Since26_7);
        assert_eq!(Order::of(None), Order::Since26_7);
    }

    /// The two rules that changed with the order in 26.7.0 (read in the 26.5.6 and 26.7.3
    /// classes; measured by the e2e sweep in `tests/tests/doctor_order.rs`).
    #[test]
    fn rules_per_release() {
        assert!(!Order::Before26_7.refuses_symmetric_algorithms());
        assert!(Order::Since26_7.refuses_symmetric_algorithms());
        assert!(Order::Before26_7.finds_disabled_providers());
        assert!(!Order::Since26_7.finds_disabled_providers());
    }

    #[test]
    fn every_order_has_every_stage_once() {
        for order in [Order::Before26_7, Order::Since26_7] {
            let stages = order.stages();
            let unique: std::collections::HashSet<_> = stages.iter().collect();
            assert_eq!(unique.len(), stages.len(), "{order:?}");
            assert_eq!(stages.len(), 12, "{order:?}");
        }
        let pos = |o: Order, s: Stage| o.stages().iter().position(|x| *x == s).unwrap();
        // The certificate binding is checked when the token response is built: last.
        for order in [Order::Before26_7, Order::Since26_7] {
            assert_eq!(order.stages().last(), Some(&Stage::TokenBinding));
        }
        // The 26.7 change: the signature moved ahead of time/jti and the audience.
        assert!(
            pos(Order::Before26_7, Stage::TokenActive) < pos(Order::Before26_7, Stage::Signature)
        );
        assert!(pos(Order::Before26_7, Stage::Audience) < pos(Order::Before26_7, Stage::Signature));
        assert!(
            pos(Order::Since26_7, Stage::Signature) < pos(Order::Since26_7, Stage::TokenActive)
        );
        assert!(pos(Order::Since26_7, Stage::User) < pos(Order::Since26_7, Stage::Audience));
    }
}
