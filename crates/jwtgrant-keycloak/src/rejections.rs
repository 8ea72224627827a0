//! Every `error_description` Keycloak answers for the JWT Authorization Grant, in one table.
//!
//! Each row names the exact words, the check that failed ([`Check`]) and a hint in library
//! words: what to change on the assertion, the client, the identity provider or the user.
//! Hints name Keycloak settings, never a flag of some command line or an exit code; a binary
//! adds its own flag names per [`Check`].
//!
//! Adding a Keycloak answer is one row in the `rejections!` table below; the tests check that
//! `docs/troubleshooting.md` explains every row.

use jwtgrant_exchange::{ExchangeError, Rejection};

/// The Keycloak check an answer comes from. The doctor names its report lines after these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// The client authenticates (it exists, with the credentials sent). Runs before the grant.
    Client,
    /// The realm in the URL exists. Runs before the grant.
    Realm,
    /// The form carries an `assertion`.
    AssertionParameter,
    /// The assertion is a compact JWS with a JSON payload.
    Jwt,
    /// The client is confidential.
    ClientConfidential,
    /// The client has the grant enabled.
    ClientGrantEnabled,
    /// The assertion has `iss`.
    Issuer,
    /// The assertion has `sub`.
    Subject,
    /// An enabled identity provider has exactly the assertion's issuer.
    IdentityProvider,
    /// That provider is on the client's allow-list.
    IdentityProviderAllowed,
    /// The assertion has `exp`.
    Expiration,
    /// `exp` has not passed and `nbf` is reached.
    Active,
    /// `iat` is neither ahead nor too old (or, without `iat`, `exp` is close enough).
    IssuedAt,
    /// The assertion has `jti` (unless the provider allows reuse).
    Jti,
    /// The `jti` was not used before.
    Reuse,
    /// The algorithm is asymmetric and allowed by the provider.
    Algorithm,
    /// The signature verifies with the provider's key.
    Signature,
    /// A user is linked to the provider with `userId == sub`.
    UserLinked,
    /// That user is enabled and has no required actions.
    UserEnabled,
    /// The requested scopes are the client's.
    Scope,
    /// The assertion's one `aud` is the realm (or its token endpoint).
    Audience,
    /// The client presents the certificate its authenticator (`client-x509`) or its token
    /// binding (RFC 8705) needs. Runs before the grant.
    ClientCertificate,
    /// The DPoP proof (RFC 9449) is present when the client requires one, and valid. Runs
    /// at the token endpoint before the grant.
    Dpop,
    /// An ID-JAG's `client_id` claim equals the authenticated client (part of
    /// `validateClient` when the assertion's `typ` is `oauth-id-jag+jwt`).
    IdJagClientId,
    /// A `federated-jwt` client's client assertion passes `FederatedJWTClientValidator`
    /// (`aud` the realm URL, a fresh `jti`, signed by the provider `jwt.credential.issuer`
    /// names). Runs before the grant, as part of client authentication.
    ClientAssertion,
}

impl Check {
    /// The short stable name the doctor prints, e.g. `idp-for-issuer`.
    pub fn name(self) -> &'static str {
        match self {
            Check::Client => "client",
            Check::Realm => "realm",
            Check::AssertionParameter => "assertion",
            Check::Jwt => "jwt",
            Check::ClientConfidential => "client-confidential",
            Check::ClientGrantEnabled => "client-grant-enabled",
            Check::Issuer => "iss",
            Check::Subject => "sub",
            Check::IdentityProvider => "idp-for-issuer",
            Check::IdentityProviderAllowed => "idp-allowed",
            Check::Expiration => "exp",
            Check::Active => "active",
            Check::IssuedAt => "iat",
            Check::Jti => "jti",
            Check::Reuse => "jti-reuse",
            Check::Algorithm => "alg",
            Check::Signature => "signature",
            Check::UserLinked => "user-linked",
            Check::UserEnabled => "user-enabled",
            Check::Scope => "scope",
            Check::Audience => "audience",
            Check::ClientCertificate => "client-certificate",
            Check::Dpop => "dpop",
            Check::IdJagClientId => "id-jag-client-id",
            Check::ClientAssertion => "client-assertion",
        }
    }

    /// The check Keycloak's `rejection` names: by its description when the table knows it,
    /// else by the RFC 6749 code for a failed client authentication.
    pub fn of(rejection: &Rejection) -> Option<Check> {
        if let Some(d) = Description::of(rejection) {
            return Some(d.check());
        }
        matches!(
            rejection.error.as_str(),
            "invalid_client" | "unauthorized_client"
        )
        .then_some(Check::Client)
    }
}

/// How a row's words are matched against an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// The whole description, exactly.
    Exact,
    /// The description starts with these words (Keycloak appends what was sent).
    Prefix,
    /// The whole description, exactly, with `error` `invalid_client`: the same words from
    /// client authentication (a client assertion) rather than from the grant.
    ClientExact,
}

/// One row: Keycloak's words, the failing check, our hint.
#[derive(Debug, Clone, Copy)]
struct Row {
    text: &'static str,
    matching: Match,
    check: Check,
    hint: &'static str,
}

macro_rules! rejections {
    ($( $(#[$doc:meta])* $variant:ident: $matching:ident $text:literal => $check:ident, $hint:literal; )*) => {
        /// One of Keycloak's known `error_description`s (a row of the table).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Description {
            $( $(#[$doc])* $variant, )*
        }

        impl Description {
            /// Every known description, in the table's order.
            pub const ALL: &'static [Description] = &[ $( Description::$variant, )* ];

            fn row(self) -> Row {
                match self {
                    $( Description::$variant => Row {
                        text: $text,
                        matching: Match::$matching,
                        check: Check::$check,
                        hint: $hint,
                    }, )*
                }
            }
        }
    };
}

rejections! {
    // Client assertions of federated-jwt clients (FederatedJWTClientValidator): the grant's
    // words with `invalid_client`. Before the grant's rows, which match the words alone.
    /// `Invalid token audience` (`invalid_client`: the client assertion's `aud`)
    ClientAssertionAudience: ClientExact "Invalid token audience" => ClientAssertion,
        "a federated client's client assertion needs aud = {base}/realms/{realm} exactly, the realm URL as Keycloak sees it (its token endpoint URL is refused here)";
    /// `Token reuse detected` (`invalid_client`: the client assertion's `jti`)
    ClientAssertionReused: ClientExact "Token reuse detected" => ClientAssertion,
        "a client assertion is single-use unless its identity provider allows reuse (supportsClientAssertionReuse = \"true\"): make a fresh one (new jti) for every request, or let the file's writer rotate it";
    /// `Missing parameter:assertion`
    MissingAssertion: Exact "Missing parameter:assertion" => AssertionParameter,
        "the form carried no assertion: send the signed JWT as the assertion parameter";
    /// `The provided assertion is not a valid JWT`
    NotAJwt: Exact "The provided assertion is not a valid JWT" => Jwt,
        "send the signed compact JWT (header.payload.signature with a JSON payload), not a file path or the bare claims";
    /// `Public client not allowed to use authorization grant`
    PublicClient: Exact "Public client not allowed to use authorization grant" => ClientConfidential,
        "make the Keycloak client confidential (Client authentication: On) and authenticate with its secret or key";
    /// `JWT Authorization Grant is not supported for the requested client`
    GrantNotEnabled: Exact "JWT Authorization Grant is not supported for the requested client" => ClientGrantEnabled,
        "enable the JWT Authorization Grant on the client (attribute oauth2.jwt.authorization.grant.enabled = \"true\")";
    /// `Missing claim: iss`
    MissingIss: Exact "Missing claim: iss" => Issuer,
        "add an iss claim equal to the identity provider's issuer";
    /// `Missing claim: sub`
    MissingSub: Exact "Missing claim: sub" => Subject,
        "add a sub claim: the user's id at the issuer, as linked to the Keycloak user";
    /// `No Identity Provider for provided issuer`
    NoIdentityProvider: Exact "No Identity Provider for provided issuer" => IdentityProvider,
        "the assertion's iss must equal an enabled JWT Authorization Grant IdP's issuer exactly, character for character, including scheme, port and trailing slash";
    /// `Identity Provider is not enabled`
    IdentityProviderDisabled: Exact "Identity Provider is not enabled" => IdentityProvider,
        "enable the identity provider whose issuer equals the assertion's iss";
    /// `Identity Provider is not allowed for the client`
    IdentityProviderNotAllowed: Exact "Identity Provider is not allowed for the client" => IdentityProviderAllowed,
        "add the IdP's alias to the client's attribute oauth2.jwt.authorization.grant.idp (aliases joined with ##)";
    /// `Token exp claim is required`
    ExpRequired: Exact "Token exp claim is required" => Expiration,
        "add an exp claim to the assertion";
    /// `Token is not active`
    NotActive: Exact "Token is not active" => Active,
        "the assertion has expired or its nbf is still ahead: sign a fresh one right before exchanging, and check both clocks";
    /// `Token expiration is too far in the future and iat claim not present in token`
    ExpTooFarWithoutIat: Exact "Token expiration is too far in the future and iat claim not present in token" => IssuedAt,
        "add an iat claim, or keep exp within the IdP's max assertion expiration (default 300 s)";
    /// `Token was issued in the future`
    IssuedInFuture: Exact "Token was issued in the future" => IssuedAt,
        "the signer's clock is ahead of Keycloak's: sync both clocks (NTP) or raise the IdP's allowed clock skew";
    /// `Token was issued too far in the past to be used now`
    IssuedTooLongAgo: Exact "Token was issued too far in the past to be used now" => IssuedAt,
        "the assertion is older than the IdP's max expiration (default 300 s): sign it just before exchanging, and check both clocks";
    /// `Token jti claim is required`
    JtiRequired: Exact "Token jti claim is required" => Jti,
        "add a unique jti claim (or allow assertion reuse on the IdP)";
    /// `Token reuse detected`
    Reused: Exact "Token reuse detected" => Reuse,
        "an assertion is single-use: sign a fresh one (new jti) for every request, retries included";
    /// `Invalid signature algorithm`
    InvalidAlgorithm: Exact "Invalid signature algorithm" => Algorithm,
        "sign with an asymmetric algorithm (RS*, PS*, ES*, EdDSA) that the IdP allows (jwtAuthorizationGrantAssertionSignatureAlg)";
    /// `Invalid signature`
    InvalidSignature: Exact "Invalid signature" => Signature,
        "the IdP holds a different public key than the one matching your private key (check kid too); an IdP using a JWKS URL needs useJwksUrl=\"true\"";
    /// `User not found`
    UserNotFound: Exact "User not found" => UserLinked,
        "create the user and link it to the IdP with a federated identity whose userId equals the assertion's sub";
    /// `User is not enabled`
    UserDisabled: Exact "User is not enabled" => UserEnabled,
        "enable the Keycloak user linked to this sub";
    /// `Account is not fully set up`
    AccountNotSetUp: Exact "Account is not fully set up" => UserEnabled,
        "clear the user's required actions (verify email, update password, ...) in Keycloak";
    /// `Invalid scopes: <as sent>`
    InvalidScopes: Prefix "Invalid scopes:" => Scope,
        "request only client scopes assigned to the client (as default or optional scopes)";
    /// `Invalid token audience`
    InvalidAudience: Exact "Invalid token audience" => Audience,
        "set aud to {base}/realms/{realm} (or its token endpoint URL), with the base URL Keycloak is reached on";
    /// `Multiple audiences not allowed`
    MultipleAudiences: Exact "Multiple audiences not allowed" => Audience,
        "send exactly one aud value, a string, not an array of several";
    /// `Realm does not exist`
    RealmDoesNotExist: Exact "Realm does not exist" => Realm,
        "check the realm name in the URL (it is case-sensitive)";
    /// `Unable to find matching target resource method` (HTTP 404: a path Keycloak has no
    /// endpoint for, such as the `/auth` prefix of Keycloak before 17)
    NoSuchPath: Exact "Unable to find matching target resource method" => Realm,
        "the URL's path is no Keycloak endpoint: Keycloak 17+ serves {base}/realms/{realm} without the /auth prefix of older releases (and an older one needs it)";
    /// `Invalid client or Invalid client credentials`
    InvalidClient: Exact "Invalid client or Invalid client credentials" => Client,
        "check the client id, its credentials (secret, key or certificate) and authenticator; federated-jwt: jwt.credential.issuer must name an OIDC provider with supportsClientAssertions";
    /// `Invalid client credentials`
    InvalidClientCredentials: Exact "Invalid client credentials" => Client,
        "check the client id, its credentials (secret, key or certificate) and authenticator; federated-jwt: jwt.credential.issuer must name an OIDC provider with supportsClientAssertions";
    /// `Client Certification missing for MTLS HoK Token Binding` (`invalid_request`)
    CertificateMissingForBinding: Exact "Client Certification missing for MTLS HoK Token Binding" => ClientCertificate,
        "the client requires certificate-bound tokens (tls.client.certificate.bound.access.tokens): present a client certificate over mutual TLS, or turn the binding off";
    // DPoP (RFC 9449): DPoPUtil.validateDPoP, run by the token endpoint before the grant;
    // every answer is `invalid_request`.
    /// `DPoP proof is missing` (`invalid_request`)
    DpopMissing: Exact "DPoP proof is missing" => Dpop,
        "the client requires DPoP-bound tokens (dpop.bound.access.tokens): send a DPoP proof with every token request, or turn the requirement off";
    /// `DPoP HTTP URL mismatch` (`invalid_request`)
    DpopUrlMismatch: Exact "DPoP HTTP URL mismatch" => Dpop,
        "the proof's htu must be the token endpoint URL as Keycloak sees it (scheme, host, port and path; a proxy in front changes them)";
    /// `DPoP HTTP method mismatch` (`invalid_request`)
    DpopMethodMismatch: Exact "DPoP HTTP method mismatch" => Dpop,
        "the proof's htm must be the request's method, POST at the token endpoint";
    /// `DPoP proof has already been used` (`invalid_request`)
    DpopReplayed: Exact "DPoP proof has already been used" => Dpop,
        "a DPoP proof is single-use: make a fresh one (new jti) for every request, retries included";
    /// `Invalid or missing type in DPoP header: <typ>` (`invalid_request`)
    DpopType: Prefix "Invalid or missing type in DPoP header:" => Dpop,
        "the value of the DPoP header must be a DPoP proof (JWS typ dpop+jwt), not an access token or an assertion";
    /// `DPoP proof is not active` (`invalid_request`)
    DpopNotActive: Exact "DPoP proof is not active" => Dpop,
        "the proof's iat is outside Keycloak's window (10 s lifetime, 15 s skew): sign it right before sending and check both clocks";
    /// `DPoP verification failure: <why>` (`invalid_request`)
    DpopVerification: Prefix "DPoP verification failure:" => Dpop,
        "the proof does not verify with the jwk in its own header, or lacks jti, htm, htu or iat: sign it with the key whose public half it carries";
    // ID-JAG (typ oauth-id-jag+jwt, feature identity-assertion-jwt): IDJWTAuthorizationGrantValidator.
    /// `client id in assertion : <X> and client id in request header/body : <Y>`
    IdJagClientMismatch: Prefix "client id in assertion :" => IdJagClientId,
        "an ID-JAG's client_id claim must equal the client id that authenticates at the token endpoint";
    /// `Token iat claim is required` (ID-JAG)
    IatRequired: Exact "Token iat claim is required" => IssuedAt,
        "an ID-JAG needs an iat claim: set it to the signing time";
}

/// The hint for an RFC 6749 `error` code whose description the table does not know.
pub fn for_error_code(error: &str) -> Option<&'static str> {
    let hint = match error {
        "invalid_client" => {
            "check the client id and its credentials (secret, key or certificate) and the client's authenticator in Keycloak"
        }
        "unsupported_grant_type" => {
            "the server does not enable the JWT Authorization Grant: Keycloak 26.5 needs the preview feature jwt-authorization-grant, 26.6+ has it on by default"
        }
        "invalid_scope" => {
            "request only client scopes assigned to the client (as default or optional scopes)"
        }
        "invalid_request" => {
            "a form parameter is missing, malformed or sent twice: check the extra parameters"
        }
        "unauthorized_client" => {
            "the client may not use this grant: enable the JWT Authorization Grant on the client"
        }
        _ => return None,
    };
    Some(hint)
}

/// The hint for a 404 from what was taken for a token endpoint.
pub const NOT_FOUND_HINT: &str = "check the URL: Keycloak's token endpoint is {base}/realms/{realm}/protocol/openid-connect/token (very old versions put /auth before /realms)";

/// The hint for a discovery document that could not be used.
pub const DISCOVERY_HINT: &str =
    "pass the issuer URL (for Keycloak {base}/realms/{realm}), or the token endpoint directly";

/// Keycloak's diagnosis of a failed exchange, in one line: the table's hint for a known
/// answer, the hint for an RFC 6749 code in Keycloak's terms, the URL layout for a 404 or a
/// discovery document that could not be used; otherwise the generic client's own
/// [`ExchangeError::hint`].
pub fn hint(err: &ExchangeError) -> Option<&'static str> {
    match err {
        ExchangeError::Rejected(r) => rejection_hint(r).or_else(|| err.hint()),
        ExchangeError::UnexpectedStatus { status: 404, .. } => Some(NOT_FOUND_HINT),
        ExchangeError::Discovery { .. } => Some(DISCOVERY_HINT),
        _ => err.hint(),
    }
}

/// The hint for one of Keycloak's answers: by its `error_description` when the table knows
/// it, else by the RFC 6749 `error` code.
pub fn rejection_hint(rejection: &Rejection) -> Option<&'static str> {
    Description::of(rejection)
        .map(Description::hint)
        .or_else(|| for_error_code(&rejection.error))
}

impl Description {
    /// The row of the table a rejection matches, by its `error_description`, if any.
    pub fn of(rejection: &Rejection) -> Option<Description> {
        match rejection.error_description.as_deref() {
            Some(d) if !d.is_empty() => Self::matching(Some(&rejection.error), d),
            // Keycloak's 404s (`Realm does not exist`, a path it has no resource for) carry
            // their words in `error` alone.
            _ => Self::find(&rejection.error),
        }
    }

    /// The row matching Keycloak's `error_description`, if the table has one (a grant's
    /// row: the client assertion rows need the `error` code too, see [`Description::of`]).
    pub fn find(description: &str) -> Option<Description> {
        Self::matching(None, description)
    }

    fn matching(error: Option<&str>, description: &str) -> Option<Description> {
        Self::ALL.iter().copied().find(|d| {
            let row = d.row();
            match row.matching {
                Match::Exact => description == row.text,
                Match::Prefix => description.starts_with(row.text),
                Match::ClientExact => error == Some("invalid_client") && description == row.text,
            }
        })
    }

    /// Keycloak's words (for a prefix row, the fixed start, e.g. `Invalid scopes:`).
    pub fn text(self) -> &'static str {
        self.row().text
    }

    /// The check that fails when Keycloak answers this.
    pub fn check(self) -> Check {
        self.row().check
    }

    /// The likely cause and fix, in one line, in library words.
    pub fn hint(self) -> &'static str {
        self.row().hint
    }
}

impl std::fmt::Display for Description {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(error: &str, desc: Option<&str>) -> ExchangeError {
        ExchangeError::Rejected(Rejection::new(400, error, desc.map(String::from), None))
    }

    /// Keycloak's 404s carry their words in `error` alone (measured on 26.7.3:
    /// `{"error":"Realm does not exist"}`); the table reads them there.
    #[test]
    fn answers_without_a_description_are_read_from_error() {
        for (error, expected) in [
            ("Realm does not exist", Description::RealmDoesNotExist),
            (
                "Unable to find matching target resource method",
                Description::NoSuchPath,
            ),
        ] {
            for desc in [None, Some(String::new())] {
                let r = Rejection::new(404, error, desc, None);
                assert_eq!(Description::of(&r), Some(expected), "{error}");
                assert_eq!(Check::of(&r), Some(Check::Realm));
            }
        }
        // A description, when there is one, decides.
        let r = Rejection::new(400, "invalid_grant", Some("User not found".into()), None);
        assert_eq!(Description::of(&r), Some(Description::UserNotFound));
    }

    /// An unknown description falls back to the code, in Keycloak's words (the generic
    /// client's own words for the same code are its business).
    #[test]
    fn unknown_descriptions_fall_back_to_the_code() {
        let codes = [
            "invalid_client",
            "unsupported_grant_type",
            "invalid_scope",
            "invalid_request",
            "unauthorized_client",
            "invalid_grant",
        ];
        let by_code: Vec<Option<&str>> = codes
            .iter()
            .map(|c| hint(&rejected(c, Some("something new"))))
            .collect();
        let table: Vec<Option<&str>> = codes.iter().map(|c| for_error_code(c)).collect();
        assert_eq!(by_code, table);
        assert_eq!(
            table.iter().filter(|h| h.is_none()).count(),
            1,
            "only invalid_grant"
        );
        assert!(
            hint(&rejected("invalid_client", None))
                .is_some_and(|h| h.ends_with("and the client's authenticator in Keycloak"))
        );
    }

    #[test]
    fn seed_hints_read_well() {
        let check = |desc: &str, needle: &str| {
            let hint = hint(&rejected("invalid_grant", Some(desc))).unwrap_or("");
            assert!(hint.contains(needle), "{desc}: {hint}");
        };
        check(
            "No Identity Provider for provided issuer",
            "character for character, including scheme, port and trailing slash",
        );
        check("User not found", "userId equals the assertion's sub");
        check("Invalid signature", "useJwksUrl");
        check("Invalid signature", "different public key");
        check("Token reuse detected", "fresh one (new jti)");
    }

    /// Measured on 26.7.3: a federated-jwt client's client assertion with the token
    /// endpoint URL as `aud`, and one sent twice, get the grant's words with
    /// `invalid_client`; the same words with `invalid_grant` stay the grant's rows.
    #[test]
    fn client_assertion_answers_are_told_apart_by_their_code() {
        let of = |error: &str, d: &str| {
            Description::of(&Rejection::new(400, error, Some(d.to_owned()), None))
        };
        assert_eq!(
            of("invalid_client", "Invalid token audience"),
            Some(Description::ClientAssertionAudience)
        );
        assert_eq!(
            of("invalid_grant", "Invalid token audience"),
            Some(Description::InvalidAudience)
        );
        assert_eq!(
            of("invalid_client", "Token reuse detected"),
            Some(Description::ClientAssertionReused)
        );
        assert_eq!(
            of("invalid_grant", "Token reuse detected"),
            Some(Description::Reused)
        );
        assert_eq!(
            Description::find("Invalid token audience"),
            Some(Description::InvalidAudience)
        );
        assert_eq!(
            Description::ClientAssertionAudience.check(),
            Check::ClientAssertion
        );
    }

    /// The troubleshooting guide explains every row: a new row without a doc line fails here.
    #[test]
    fn every_description_is_in_the_troubleshooting_guide() {
        let doc = include_str!("../../../docs/troubleshooting.md");
        let missing: Vec<&str> = Description::ALL
            .iter()
            .map(|d| d.text())
            .filter(|t| !doc.contains(&format!("`{t}")))
            .collect();
        assert_eq!(
            missing,
            Vec::<&str>::new(),
            "not in docs/troubleshooting.md"
        );
    }

    /// And the other way round: every Keycloak answer a row of the guide starts with has its
    /// hint here (a row of the table, or the RFC 6749 code's), so the CLI prints it. Rows
    /// about jwtgrant's own messages (files, TLS, refusals) are not Keycloak's answers.
    #[test]
    fn every_answer_in_the_troubleshooting_guide_has_a_hint() {
        let doc = include_str!("../../../docs/troubleshooting.md");
        let ours = [
            "jwtgrant",
            "...",
            "cannot",
            "refusing",
            "TLS",
            "private key",
            "client secret",
            "'",
            "--",
        ];
        let answers: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .filter(|a| !ours.iter().any(|o| a.starts_with(o)))
            .collect();
        assert!(answers.len() > 40, "{answers:?}");
        let unexplained: Vec<&str> = answers
            .iter()
            .copied()
            .filter(|a| Description::find(a).is_none() && for_error_code(a).is_none())
            .collect();
        assert_eq!(unexplained, Vec::<&str>::new(), "answers without a hint");
    }

    #[test]
    fn lookup_table() {
        let check = |desc: &str, expected: Option<(Description, Check)>| {
            let got = Description::find(desc).map(|d| (d, d.check()));
            assert_eq!(got, expected, "{desc}");
        };
        check(
            "Invalid signature",
            Some((Description::InvalidSignature, Check::Signature)),
        );
        check(
            "Invalid signature algorithm",
            Some((Description::InvalidAlgorithm, Check::Algorithm)),
        );
        check(
            "Invalid scopes: openid bogus",
            Some((Description::InvalidScopes, Check::Scope)),
        );
        check(
            "Token is not active",
            Some((Description::NotActive, Check::Active)),
        );
        check("Invalid signature ", None);
        check("something new", None);
        for d in Description::ALL {
            let r = Rejection::new(400, "invalid_client", Some(d.text().to_owned()), None);
            let found = match d.row().matching {
                Match::ClientExact => Description::of(&r),
                _ => Description::find(d.text()),
            };
            assert_eq!(found, Some(*d), "{d}");
        }
    }

    /// Hints are one line in library words: no command-line flags, commands or exit codes.
    #[test]
    fn hints_are_library_words() {
        let mut seen = std::collections::HashSet::new();
        for d in Description::ALL {
            let hint = d.hint();
            assert!(!hint.ends_with('.'), "{d}: ends with a period");
            assert!(hint.len() < 200, "{d}: too long for one line");
            assert!(!hint.contains("--"), "{d}: names a flag: {hint}");
            assert!(!hint.contains("jwtgrant"), "{d}: names the CLI: {hint}");
            assert!(!hint.contains("exit"), "{d}: names an exit code: {hint}");
            seen.insert(hint);
        }
        // Distinct answers get distinct advice; the two client-credential wordings share one.
        assert_eq!(seen.len(), Description::ALL.len() - 1);
    }

    #[test]
    fn check_of_a_rejection() {
        let r = |error: &str, desc: Option<&str>| {
            Rejection::new(400, error, desc.map(str::to_owned), None)
        };
        assert_eq!(
            Check::of(&r("invalid_grant", Some("User not found"))),
            Some(Check::UserLinked)
        );
        assert_eq!(
            Check::of(&r("unauthorized_client", Some("anything"))),
            Some(Check::Client)
        );
        assert_eq!(Check::of(&r("invalid_client", None)), Some(Check::Client));
        assert_eq!(Check::of(&r("invalid_grant", Some("new words"))), None);
    }
}
