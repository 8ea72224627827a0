//! Replays the token endpoint's checks for the JWT Authorization Grant locally, against a
//! realm's real configuration, and names the check that fails with its fix.
//!
//! The checks are pure functions over a [`Snapshot`] (the identity providers, the client and
//! the linked user, read once from the admin API into [`crate::settings`]' model, the
//! fetched JWKS when the provider uses a JWKS URL, and the server's version) and the
//! assertion. [`fetch`] is the thin IO part that builds a snapshot.
//!
//! There is one function per [`Stage`] of Keycloak's `JWTAuthorizationGrantType.process`,
//! named after the check it mirrors, and they run in the order of the server's release
//! ([`Order`], from [`crate::versions`]): Keycloak reports only the first failure,
//! and since 26.7 it verifies the signature before the time, `jti` and audience checks. The
//! doctor reports every check it can evaluate; [`Report::first_failure`] is the one Keycloak
//! names. What Keycloak answers for each failure comes from the one rejection table
//! ([`crate::rejections`]); [`compare`] sets the doctor's verdict against the real
//! answer. [`offline`] runs the stages that need no server, with Keycloak's defaults.
//!
//! The files: `report.rs` (the [`Finding`]s of a [`Report`]); the stages by what they read,
//! `client.rs`, `provider.rs` (and its user), `times.rs` and `assertion.rs`;
//! `signature.rs` ([`verify_with_idp`]); `compare.rs`; `offline.rs`; `fetch.rs`, the only IO.

mod assertion;
mod client;
mod compare;
mod fetch;
mod near;
mod offline;
mod provider;
mod report;
mod signature;
mod times;

use serde_json::Value;

use crate::settings::{ClientSettings, ID_JAG_FEATURE, IdpSettings, UserSettings};
use crate::{Order, Stage, Version};
use jwtgrant_exchange::PresentedCertificate;

use assertion::{
    Decoded, assertion_format, decode, has_id_jag_type, validate_id_jag_client,
    validate_issuer_and_subject, validate_signature_algorithm, validate_token_audience,
};
use client::{bind_token_to_certificate, client_authentication, validate_client, validate_dpop};
use provider::{lookup_identity_provider, lookup_user_by_federated_identity};
use signature::validate_authorization_grant_assertion;
use times::validate_token_active;

pub use compare::{Agreement, compare};
pub use fetch::{Fetched, compare_client_secret, fetch};
pub use near::{MAX_NEAR, near_matches};
pub use offline::offline;
pub use provider::find_idp;
pub use report::{Finding, Report, Status};
pub use signature::{SignatureOutcome, verify_with_idp};

/// Keycloak's default for the provider's maximum assertion lifetime, in seconds.
pub use crate::settings::idp::DEFAULT_MAX_EXPIRATION;

/// What the admin API said about the realm, parsed once into the settings model
/// ([`crate::settings`]; build each part with its `from_json`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Snapshot {
    /// The client's settings, or `None` when no client has that client id.
    pub client: Option<ClientSettings>,
    /// The client id asked for (for messages when the client is missing).
    pub client_id: String,
    /// The realm asked for.
    pub realm: String,
    /// True when the realm does not exist: the token endpoint answers `Realm does not
    /// exist` before any other check.
    pub realm_missing: bool,
    /// Near matches of a missing realm's name among the server's realms, or of a missing
    /// client's id among the realm's clients ([`near_matches`]).
    pub near_names: Vec<String>,
    /// How the client secret the exchange will send compares with the one Keycloak holds
    /// for the client; `None` when no secret is sent or it was not compared.
    pub client_secret: Option<SecretMatch>,
    /// Every identity provider of the realm.
    pub idps: Vec<IdpSettings>,
    /// The user linked to the matching provider with `userId == sub`, or `None` when there
    /// is none. Only meaningful when `user_looked_up` is true.
    pub user: Option<UserSettings>,
    /// True when the user lookup ran (it needs a matching provider and a `sub`).
    pub user_looked_up: bool,
    /// When no user is linked to `sub`: some of the subjects (`userId`s) linked at the
    /// matching provider, the near matches of `sub` first.
    pub linked_subjects: Vec<String>,
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

/// How the client secret a request sends compares with the one Keycloak holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretMatch {
    /// The same secret.
    Same,
    /// Another secret: Keycloak answers `Invalid client or Invalid client credentials`.
    Different,
    /// Keycloak holds no secret for the client (it authenticates otherwise).
    NoneStored,
}

impl SecretMatch {
    /// Compares `sent` with `stored` in time independent of where they differ.
    pub fn of(sent: &str, stored: Option<&str>) -> SecretMatch {
        let Some(stored) = stored.filter(|s| !s.is_empty()) else {
            return SecretMatch::NoneStored;
        };
        let (a, b) = (sent.as_bytes(), stored.as_bytes());
        let differ =
            a.len() != b.len() || a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) != 0;
        if differ {
            SecretMatch::Different
        } else {
            SecretMatch::Same
        }
    }
}

impl Snapshot {
    /// An empty snapshot for `client_id` expecting the audiences of `base` and `realm`.
    pub fn new(base: &str, realm: &str, client_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            realm: realm.to_owned(),
            expected_audiences: vec![
                crate::realm_url(base, realm),
                crate::token_endpoint(base, realm),
            ],
            ..Self::default()
        }
    }
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
    if snapshot.realm_missing {
        // The token endpoint answers before it reads the client or the assertion.
        return Report {
            checks: vec![client::realm_missing(snapshot)],
            order,
            server_version: snapshot.server_version.clone(),
        };
    }
    let decoded = decode(assertion);
    let ctx = Context::new(snapshot, &decoded, now, signature, order);
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
pub(super) struct Context<'a> {
    snapshot: &'a Snapshot,
    /// The assertion's header and claims; `None` when it is not a JWT.
    decoded: Option<&'a Decoded>,
    iss: Option<&'a str>,
    sub: Option<&'a str>,
    /// The provider whose issuer equals `iss` (an enabled one first), enabled or not.
    matching_idp: Option<&'a IdpSettings>,
    /// That provider when it is enabled: the one Keycloak uses.
    idp: Option<&'a IdpSettings>,
    now: i64,
    signature: Option<&'a SignatureOutcome>,
    /// The server release's order, and with it the rules that changed between releases.
    order: Order,
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
        order: Order,
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
            idp: matching_idp.filter(|p| p.is_enabled()),
            now,
            signature,
            order,
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

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::testing::*;
    use crate::settings::Switch;
    use crate::{Order, Version};
    use serde_json::json;

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

    #[test]
    fn a_plain_http_jwks_url_off_loopback_is_a_warning() {
        let with_jwks_url = |url: &str| {
            let mut s = snapshot();
            s.idps[1] = IdpSettings::from_json(&json!({"alias": "jwt-authorization-grant",
                "providerId": "jwt-authorization-grant", "enabled": true,
                "config": {"issuer": "http://localhost:3000", "useJwksUrl": "true", "jwksUrl": url}}));
            let r = diagnose(
                &s,
                &jwt(json!({"alg": "RS256"}), good_claims()),
                NOW,
                Some(&valid()),
            );
            r.get("idp-for-issuer").unwrap().clone()
        };
        let off = with_jwks_url("http://issuer.example/jwks\u{1b}[2J");
        assert_eq!(off.status, Status::Warn);
        assert_eq!(
            off.detail,
            "identity provider 'jwt-authorization-grant' has issuer 'http://localhost:3000', \
             but Keycloak fetches its keys over plain http from 'http://issuer.example/jwks'"
        );
        assert!(
            off.fix
                .as_deref()
                .unwrap()
                .starts_with("serve the issuer's JWKS over https")
        );
        for fine in ["http://127.0.0.1:3000/jwks", "https://issuer.example/jwks"] {
            assert_eq!(with_jwks_url(fine).status, Status::Pass, "{fine}");
        }
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
            s.idps[1].signature_alg = Some("ES256".into());
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

    /// Single faults whose answer or rule differs per release, or that a rule of the doctor
    /// got wrong before the e2e sweep (`tests/tests/doctor_order.rs`) measured them on
    /// 26.5.6 and 26.7.3. Each row: the fault, then (first failure, Keycloak's words) on
    /// 26.5.6 and on 26.7.3.
    #[test]
    fn single_faults_per_release() {
        type Expect = Option<(&'static str, &'static str)>;
        let sig_ok = valid;
        let forged = || SignatureOutcome::Invalid("does not verify".into());
        let disabled = |v: &str| {
            let mut s = at_version(v);
            s.idps[1].enabled = Some(false);
            s
        };
        /// (fault, header, claims, realm at a version, signature, 26.5.6, 26.7.3)
        type Row = (
            &'static str,
            Value,
            Value,
            fn(&str) -> Snapshot,
            SignatureOutcome,
            Expect,
            Expect,
        );
        let rows: Vec<Row> = vec![
            // `validateSignatureAlgorithm` refuses none and HS* only since 26.7; before, the
            // signature check does (no public key verifies them).
            (
                "alg none",
                json!({"alg": "none"}),
                good_claims(),
                at_version,
                forged(),
                Some(("signature", "Invalid signature")),
                Some(("alg", "Invalid signature algorithm")),
            ),
            (
                "alg HS256",
                json!({"alg": "HS256", "typ": "JWT"}),
                good_claims(),
                at_version,
                forged(),
                Some(("signature", "Invalid signature")),
                Some(("alg", "Invalid signature algorithm")),
            ),
            // A missing alg is null to Keycloak: refused by both.
            (
                "no alg",
                json!({"typ": "JWT"}),
                good_claims(),
                at_version,
                forged(),
                Some(("alg", "Invalid signature algorithm")),
                Some(("alg", "Invalid signature algorithm")),
            ),
            // An alg outside Keycloak's Algorithm enum fails the JWS parse.
            (
                "alg es256",
                json!({"alg": "es256"}),
                good_claims(),
                at_version,
                sig_ok(),
                Some(("jwt", "The provided assertion is not a valid JWT")),
                Some(("jwt", "The provided assertion is not a valid JWT")),
            ),
            // The issuer lookup finds a disabled provider before 26.7 only.
            (
                "provider disabled",
                json!({"alg": "RS256"}),
                good_claims(),
                disabled,
                sig_ok(),
                Some(("idp-for-issuer", "Identity Provider is not enabled")),
                Some(("idp-for-issuer", "No Identity Provider for provided issuer")),
            ),
            // With iat, the maximum lifetime limits the age, not exp: both accept.
            (
                "10 min with iat",
                json!({"alg": "RS256"}),
                with("exp", json!(NOW + 600)),
                at_version,
                sig_ok(),
                None,
                None,
            ),
            (
                "1 h with iat",
                json!({"alg": "RS256"}),
                with("exp", json!(NOW + 3600)),
                at_version,
                sig_ok(),
                None,
                None,
            ),
            (
                "720 h with iat",
                json!({"alg": "RS256"}),
                with("exp", json!(NOW + 720 * 3600)),
                at_version,
                sig_ok(),
                None,
                None,
            ),
            // One aud in an array is one audience.
            (
                "one-element aud array",
                json!({"alg": "RS256"}),
                with("aud", json!(["http://localhost:8080/realms/acme"])),
                at_version,
                sig_ok(),
                None,
                None,
            ),
        ];
        for (label, header, claims, snap, sig, v26_5, v26_7) in rows {
            let token = jwt(header, claims);
            for (version, expected) in [("26.5.6", v26_5), ("26.7.3", v26_7)] {
                let r = diagnose(&snap(version), &token, NOW, Some(&sig));
                let got = r.first_failure().map(|f| (f.name, f.keycloak_error()));
                assert_eq!(
                    got,
                    expected.map(|(n, e)| (n, Some(e))),
                    "{label} on {version}: {r:#?}"
                );
                // A single fault is a single failing line.
                let failing = r.checks.iter().filter(|c| c.status == Status::Fail).count();
                assert_eq!(
                    failing,
                    usize::from(expected.is_some()),
                    "{label} on {version}: {r:#?}"
                );
            }
        }
        // Before 26.7 the symmetric alg is a warning on its own line, saying where it fails.
        let r = diagnose(
            &at_version("26.5.6"),
            &jwt(json!({"alg": "HS256"}), good_claims()),
            NOW,
            Some(&forged()),
        );
        let alg = r.get("alg").unwrap();
        assert_eq!(alg.status, Status::Warn);
        assert_eq!(
            alg.detail,
            "alg 'HS256' is not asymmetric: Keycloak 26.5/26.6 lets it pass this check, and no public key verifies it (\"Invalid signature\")"
        );
        // Since 26.7 the signature of such an assertion is never checked.
        let r = diagnose(
            &at_version("26.7.3"),
            &jwt(json!({"alg": "HS256"}), good_claims()),
            NOW,
            Some(&forged()),
        );
        assert_eq!(r.get("signature").unwrap().status, Status::Skip);
    }

    /// An expired assertion is one failure, the `active` line: Keycloak's `isActive` runs
    /// before the iat rules, so their "remaining lifetime" arm never sees it. That arm is
    /// reached only when `exp` is now.
    #[test]
    fn an_expired_assertion_is_one_failure() {
        for version in ["26.5.6", "26.7.3"] {
            let r = diagnose(
                &at_version(version),
                &jwt(json!({"alg": "RS256"}), with("exp", json!(NOW - 10))),
                NOW,
                Some(&valid()),
            );
            let failing: Vec<_> = r
                .checks
                .iter()
                .filter(|c| c.status == Status::Fail)
                .map(|c| (c.name, c.keycloak_error(), c.detail.as_str()))
                .collect();
            assert_eq!(
                failing,
                [(
                    "active",
                    Some("Token is not active"),
                    "the assertion expired 10 s ago"
                )],
                "{version}"
            );
            assert_eq!(r.get("iat").unwrap().status, Status::Pass, "{version}");
        }
        check(
            snapshot(),
            with("exp", json!(NOW)),
            valid(),
            Some(("iat", "Token is not active")),
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
            Some(("client", "Invalid client or Invalid client credentials")),
        );

        let mut s = snapshot();
        client_of(&mut s).public_client = Some(true);
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
        client_of(&mut s).grant_enabled = Switch::new(false);
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
        client_of(&mut s).allowed_idps = vec!["other".into()];
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
        s.idps[1].enabled = Some(false);
        check(
            s,
            good_claims(),
            valid(),
            Some(("idp-for-issuer", "No Identity Provider for provided issuer")),
        );

        let mut s = snapshot();
        s.idps[1].signature_alg = Some("ES256".into());
        check(
            s,
            good_claims(),
            valid(),
            Some(("alg", "Invalid signature algorithm")),
        );

        let mut s = snapshot();
        s.idps[1].max_expiration = Some(3);
        check(
            s,
            good_claims(),
            valid(),
            Some(("iat", "Token was issued too far in the past to be used now")),
        );

        let mut s = snapshot();
        s.idps[1].clock_skew = Some(60);
        let mut c = good_claims();
        c["iat"] = json!(NOW + 30);
        check(s, c, valid(), None);

        let mut s = snapshot();
        s.idps[1].reuse_allowed = Switch::new(true);
        let mut c = good_claims();
        c.as_object_mut().unwrap().remove("jti");
        check(s, c, valid(), None);

        let mut s = snapshot();
        s.user.as_mut().unwrap().enabled = Some(false);
        check(
            s,
            good_claims(),
            valid(),
            Some(("user-enabled", "User is not enabled")),
        );

        let mut s = snapshot();
        s.user.as_mut().unwrap().required_actions = vec!["UPDATE_PASSWORD".into()];
        check(
            s,
            good_claims(),
            valid(),
            Some(("user-enabled", "Account is not fully set up")),
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
        s.idps[1] = IdpSettings::from_json(&json!({"alias": "jwt-authorization-grant",
            "providerId": "jwt-authorization-grant", "enabled": true,
            "config": {"issuer": "http://localhost:3000", "jwksUrl": "http://localhost:3000/jwks"}}));
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

    /// The client side: the secret compared, the missing client and realm with their near
    /// matches, the linked subjects, and a JWKS this host cannot fetch.
    #[test]
    fn client_side_findings_name_the_mismatch_and_the_near_miss() {
        let token = jwt(json!({"alg": "RS256"}), good_claims());
        let line = |s: &Snapshot, sig: Option<&SignatureOutcome>| {
            let r = diagnose(s, &token, NOW, sig);
            let f = r.first_failure().cloned();
            (r, f)
        };

        assert_eq!(SecretMatch::of("s3cret", Some("s3cret")), SecretMatch::Same);
        assert_eq!(
            SecretMatch::of("s3cret", Some("s3creT")),
            SecretMatch::Different
        );
        assert_eq!(
            SecretMatch::of("s3cret", Some("s3cret2")),
            SecretMatch::Different
        );
        assert_eq!(SecretMatch::of("s3cret", None), SecretMatch::NoneStored);

        let mut s = snapshot();
        s.client_secret = Some(SecretMatch::Different);
        let (_, f) = line(&s, Some(&valid()));
        let f = f.unwrap();
        assert_eq!(
            (f.name, f.keycloak_error()),
            (
                "client",
                Some("Invalid client or Invalid client credentials")
            )
        );
        assert_eq!(
            f.detail,
            "the client secret to be sent differs from the one Keycloak holds for client 'custom-client'"
        );
        s.client_secret = Some(SecretMatch::Same);
        let (r, f) = line(&s, Some(&valid()));
        assert_eq!(f, None);
        assert_eq!(
            r.get("client").unwrap().detail,
            "client 'custom-client' exists, and the secret to be sent is the one Keycloak holds"
        );
        // A secret sent to a client that authenticates with signed JWTs.
        let mut s = snapshot();
        s.client.as_mut().unwrap().authenticator =
            Some(crate::settings::Authenticator::from_name("client-jwt"));
        s.client_secret = Some(SecretMatch::NoneStored);
        assert_eq!(
            line(&s, Some(&valid())).1.unwrap().detail,
            "client 'custom-client' authenticates with client-jwt, and the request sends a client secret"
        );

        let mut s = snapshot();
        s.client = None;
        s.near_names = vec!["custom-client".into()];
        s.client_id = "custom-cleint".into();
        let f = line(&s, Some(&valid())).1.unwrap();
        assert_eq!(f.detail, "no client 'custom-cleint' in realm 'acme'");
        assert!(
            f.fix.as_deref().unwrap().starts_with(
                "use the client id of an existing client (did you mean 'custom-client'?) or create"
            ),
            "{f:?}"
        );

        // A missing realm is the one line: the token endpoint answers before anything else.
        let mut s = Snapshot::new(BASE, "acem", "custom-client");
        s.realm_missing = true;
        s.near_names = vec!["acme".into()];
        let (r, f) = line(&s, None);
        assert_eq!(r.checks.len(), 1);
        let f = f.unwrap();
        assert_eq!(
            (f.name, f.keycloak_error()),
            ("realm", Some("Realm does not exist"))
        );
        assert_eq!(f.detail, "no realm 'acem' at http://localhost:8080");
        assert!(
            f.fix.as_deref().unwrap().starts_with(
                "use the name of an existing realm (did you mean 'acme'?): names are case-sensitive"
            ),
            "{f:?}"
        );

        let mut s = snapshot();
        s.user = None;
        s.linked_subjects = vec!["alice-1".into(), "nodejsuser-1243".into()];
        let fix = line(&s, Some(&valid())).1.unwrap().fix.unwrap();
        assert!(
            fix.ends_with(
                " (did you mean 'nodejsuser-1243'? linked at the provider: 'nodejsuser-1243', 'alice-1')"
            ),
            "{fix}"
        );
        s.linked_subjects.clear();
        let fix = line(&s, Some(&valid())).1.unwrap().fix.unwrap();
        assert!(
            fix.ends_with("; no subject is linked at the provider yet"),
            "{fix}"
        );

        // This host cannot fetch the JWKS: a warning, not a predicted rejection.
        let unfetched = SignatureOutcome::Unfetched("this host cannot fetch it".into());
        let (r, f) = line(&snapshot(), Some(&unfetched));
        assert_eq!(f, None);
        let sig = r.get("signature").unwrap();
        assert_eq!(sig.status, Status::Warn);
        assert_eq!(
            sig.detail,
            "not checked: this host cannot fetch it; Keycloak fetches the JWKS itself and may hold its keys"
        );
    }

    /// A wrong `aud` is shown as it was sent: a string as a string, an array as an array.
    #[test]
    fn a_wrong_aud_is_shown_in_its_own_shape() {
        for (aud, shown) in [
            (
                json!("http://elsewhere/realms/acme"),
                "aud 'http://elsewhere/realms/acme'",
            ),
            (
                json!(["http://elsewhere/realms/acme"]),
                r#"aud ["http://elsewhere/realms/acme"]"#,
            ),
        ] {
            let mut c = good_claims();
            c["aud"] = aud;
            let r = diagnose(
                &snapshot(),
                &jwt(json!({"alg": "RS256"}), c),
                NOW,
                Some(&valid()),
            );
            assert_eq!(
                r.first_failure().unwrap().detail,
                format!(
                    "{shown}; Keycloak expects 'http://localhost:8080/realms/acme' (or its token endpoint)"
                )
            );
        }
    }

    #[test]
    fn near_miss_issuers_say_how_they_differ() {
        for (iss, how) in [
            ("http://localhost:3000/", "a trailing slash"),
            ("https://localhost:3000", "the scheme"),
            ("http://LocalHost:3000", "case"),
            (
                "HTTPS://LOCALHOST:3000/",
                "the scheme, a trailing slash and case",
            ),
        ] {
            let mut c = good_claims();
            c["iss"] = json!(iss);
            let r = diagnose(&snapshot(), &jwt(json!({"alg": "RS256"}), c), NOW, None);
            let fix = r.first_failure().unwrap().fix.clone().unwrap();
            assert_eq!(
                fix,
                format!(
                    "iss '{iss}' differs from the issuer 'http://localhost:3000' of provider 'jwt-authorization-grant' only in {how}: make them equal character for character"
                )
            );
        }
    }
}
