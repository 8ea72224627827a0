//! The stages about the client: its authentication (a `client-x509` client's certificate),
//! DPoP, `validateClient`, and the certificate binding of its tokens (RFC 8705).

use super::near::did_you_mean;
use super::report::{Finding, Status, fail, pass, skips};
use super::{Context, SecretMatch, Snapshot};
use crate::settings::ClientSettings;
use crate::settings::client::{
    CA_SUBJECT_DN, CERTIFICATE_BOUND_TOKENS, DN_REGEX, DPOP_BOUND_TOKENS, GRANT_ENABLED,
    SECRET_AUTHENTICATOR, SUBJECT_DN, X509_AUTHENTICATOR,
};
use crate::{Check, Description};
use jwtgrant_exchange::PresentedCertificate;

/// `DPoPUtil.handleDPoPHeader`, before the grant: a client that requires DPoP-bound tokens
/// gets a proof. (A proof's own validity is for the server to judge: it is made per request.)
pub(super) fn validate_dpop(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(c) = &ctx.snapshot.client else {
        return skips(&[Check::Dpop]);
    };
    let required = c.dpop_bound_tokens.is_on();
    vec![match (required, ctx.snapshot.dpop_proof) {
        (true, false) => fail(
            Description::DpopMissing,
            format!(
                "the client requires DPoP-bound tokens ({DPOP_BOUND_TOKENS} = \"true\") and the request carries no DPoP proof"
            ),
            "send a DPoP proof with the token request, or turn the client's DPoP requirement off",
        ),
        (true, true) => pass(
            Check::Dpop,
            "the client requires DPoP and the request carries a proof: the token will be bound to its key",
        ),
        (false, true) => pass(
            Check::Dpop,
            "the request carries a DPoP proof: the token will be bound to its key",
        ),
        (false, false) => pass(
            Check::Dpop,
            "no DPoP proof, and the client does not require one: the token will be a Bearer token",
        ),
    }]
}

/// Client authentication, before the grant runs: the client exists and, for a certificate
/// client (`client-x509`), the presented certificate matches it; for a secret client, the
/// secret the request sends is the one Keycloak holds, when the doctor could compare them.
pub(super) fn client_authentication(ctx: &Context<'_>) -> Vec<Finding> {
    let id = &ctx.snapshot.client_id;
    vec![match &ctx.snapshot.client {
        Some(c) if c.authenticates_with_certificate() => {
            x509_client_authentication(id, c, ctx.snapshot.presented_certificate.as_ref())
        }
        Some(c) => secret_authentication(id, c, ctx.snapshot.client_secret),
        None => fail(
            Description::InvalidClient,
            format!("no client '{id}' in realm '{}'", ctx.snapshot.realm),
            &format!(
                "use the client id of an existing client{} or create a confidential client with the JWT Authorization Grant enabled",
                did_you_mean(&ctx.snapshot.near_names)
            ),
        ),
    }]
}

/// A client that authenticates otherwise than with a certificate, and the secret sent.
fn secret_authentication(id: &str, c: &ClientSettings, sent: Option<SecretMatch>) -> Finding {
    let authenticator = c
        .authenticator
        .as_ref()
        .map_or(SECRET_AUTHENTICATOR, |a| a.name());
    let secret_client = authenticator == SECRET_AUTHENTICATOR;
    match sent {
        Some(SecretMatch::Same) => pass(
            Check::Client,
            format!("client '{id}' exists, and the secret to be sent is the one Keycloak holds"),
        ),
        Some(SecretMatch::Different) if secret_client => fail(
            Description::InvalidClient,
            format!(
                "the client secret to be sent differs from the one Keycloak holds for client '{id}'"
            ),
            &format!(
                "send the current secret of client '{id}' (admin console: Clients > {id} > Credentials), or regenerate it and give the new one to every caller"
            ),
        ),
        Some(_) if !secret_client => fail(
            Description::InvalidClient,
            format!(
                "client '{id}' authenticates with {authenticator}, and the request sends a client secret"
            ),
            &format!(
                "authenticate as the client's authenticator ({authenticator}) expects, or set it to {SECRET_AUTHENTICATOR}"
            ),
        ),
        Some(_) => fail(
            Description::InvalidClient,
            format!("Keycloak holds no secret for client '{id}', and the request sends one"),
            &format!(
                "generate a secret for client '{id}' (admin console: Clients > {id} > Credentials)"
            ),
        ),
        None => pass(Check::Client, format!("client '{id}' exists")),
    }
}

/// The realm is missing: the token endpoint's first answer.
pub(super) fn realm_missing(snapshot: &Snapshot) -> Finding {
    let base = snapshot
        .expected_audiences
        .first()
        .and_then(|a| a.rsplit_once("/realms/"))
        .map_or("", |(base, _)| base);
    fail(
        Description::RealmDoesNotExist,
        format!("no realm '{}' at {base}", snapshot.realm),
        &format!(
            "use the name of an existing realm{}: names are case-sensitive, and the URL is {base}/realms/REALM, with no /auth on Keycloak 17+",
            did_you_mean(&snapshot.near_names)
        ),
    )
}

/// `X509ClientAuthenticator`: a certificate is presented, its subject equals the client's
/// `x509.subjectdn` and its issuer the `x509.casubjectdn` (when set). With regular
/// expressions off Keycloak parses the attribute as a DN and compares both sides' RFC 2253
/// forms exactly (spaces and keyword case do not matter, values' case and the order of the
/// parts do); with them on it matches the pattern against the DN written with `, `.
pub(super) fn x509_client_authentication(
    id: &str,
    client: &ClientSettings,
    presented: Option<&PresentedCertificate>,
) -> Finding {
    let wanted = client.subject_dn.clone().unwrap_or_default();
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
            format!("client '{id}' has no {SUBJECT_DN}, so no certificate matches it"),
            &format!(
                "set the client's {SUBJECT_DN} to the certificate's subject, '{}'",
                cert.subject_dn
            ),
        );
    }
    let regex = !client.dn_regex.is_off();
    let subject = if regex {
        regex_subject_match(&wanted, &cert.subject_dn)
    } else {
        jwtgrant_exchange::normalize_dn(&wanted).map(|w| w == cert.subject_dn)
    };
    match subject {
        None => {
            return Finding {
                status: Status::Warn,
                fix: Some(format!(
                    "set {DN_REGEX}=\"false\" and {SUBJECT_DN} to the RFC 2253 DN '{}'",
                    cert.subject_dn
                )),
                ..pass(
                    Check::Client,
                    format!(
                        "cannot replay how Keycloak matches {SUBJECT_DN} '{wanted}' against the certificate's subject '{}'",
                        cert.subject_dn
                    ),
                )
            };
        }
        Some(false) if regex => {
            return fail(
                Description::InvalidClient,
                format!(
                    "{DN_REGEX} is not \"false\", so Keycloak matches {SUBJECT_DN} '{wanted}' as a regular expression against '{}', and it does not match",
                    java_subject(&cert.subject_dn).unwrap_or_default()
                ),
                &format!(
                    "set the client's {DN_REGEX}=\"false\" so {SUBJECT_DN} is compared as the DN '{}'",
                    cert.subject_dn
                ),
            );
        }
        Some(false) => {
            return fail(
                Description::InvalidClient,
                format!(
                    "the certificate's subject '{}' differs from the client's {SUBJECT_DN} '{wanted}'",
                    cert.subject_dn
                ),
                &format!(
                    "present the certificate with subject '{wanted}', or set {SUBJECT_DN} to '{}' (RFC 2253, most specific part first; values are case-sensitive)",
                    cert.subject_dn
                ),
            );
        }
        Some(true) => {}
    }
    if let Some(ca) = client
        .ca_subject_dn
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        match jwtgrant_exchange::normalize_dn(ca).map(|c| c == cert.issuer_dn) {
            Some(true) => {}
            Some(false) => {
                return fail(
                    Description::InvalidClient,
                    format!(
                        "the certificate's issuer '{}' differs from the client's {CA_SUBJECT_DN} '{ca}'",
                        cert.issuer_dn
                    ),
                    &format!(
                        "present a certificate issued by '{ca}', or set {CA_SUBJECT_DN} to '{}'",
                        cert.issuer_dn
                    ),
                );
            }
            None => {
                return Finding {
                    status: Status::Warn,
                    fix: Some(format!(
                        "write {CA_SUBJECT_DN} as the RFC 2253 DN '{}'",
                        cert.issuer_dn
                    )),
                    ..pass(
                        Check::Client,
                        format!(
                            "cannot compare {CA_SUBJECT_DN} '{ca}' with the certificate's issuer '{}'",
                            cert.issuer_dn
                        ),
                    )
                };
            }
        }
    }
    pass(
        Check::Client,
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
pub(super) fn regex_subject_match(pattern: &str, subject_rfc2253: &str) -> Option<bool> {
    if pattern.chars().any(|c| "\\^$|?*+()[]{}".contains(c)) {
        return None;
    }
    Some(java_subject(subject_rfc2253)? == pattern)
}

/// A plain RFC 2253 DN (no escapes, single-valued parts) joined with `, ` instead of `,`.
pub(super) fn java_subject(rfc2253: &str) -> Option<String> {
    if rfc2253.contains(['\\', '+', '"', '#']) {
        return None;
    }
    Some(rfc2253.replace(',', ", "))
}

/// RFC 8705 token binding: a client asking for certificate-bound tokens must present a
/// certificate. Keycloak checks it when it builds the token response, after the grant.
pub(super) fn bind_token_to_certificate(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(c) = &ctx.snapshot.client else {
        return skips(&[Check::ClientCertificate]);
    };
    let bound = c.certificate_bound_tokens.is_on();
    vec![match (bound, &ctx.snapshot.presented_certificate) {
        (false, _) => pass(
            Check::ClientCertificate,
            "the client gets plain bearer tokens (no certificate binding)",
        ),
        (true, Some(cert)) => pass(
            Check::ClientCertificate,
            format!(
                "tokens will be bound to the presented certificate '{}' (cnf x5t#S256)",
                cert.subject_dn
            ),
        ),
        (true, None) => fail(
            Description::CertificateMissingForBinding,
            format!(
                "the client binds its tokens to the client certificate ({CERTIFICATE_BOUND_TOKENS}=\"true\") and none will be presented"
            ),
            &format!(
                "present a client certificate over mutual TLS, or set the client's {CERTIFICATE_BOUND_TOKENS}=\"false\""
            ),
        ),
    }]
}

/// `validateClient`: the client is confidential and has the grant enabled.
pub(super) fn validate_client(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(c) = &ctx.snapshot.client else {
        return skips(&[Check::ClientConfidential, Check::ClientGrantEnabled]);
    };
    let confidential = if c.public_client == Some(true) {
        fail(
            Description::PublicClient,
            "the client is public".into(),
            "turn on Client authentication for the client (publicClient=false)",
        )
    } else {
        pass(Check::ClientConfidential, "the client is confidential")
    };
    let grant = if c.grant_enabled.is_on() {
        pass(
            Check::ClientGrantEnabled,
            "the JWT Authorization Grant is enabled on the client",
        )
    } else {
        fail(
            Description::GrantNotEnabled,
            format!(
                "client attribute {GRANT_ENABLED} is {}",
                c.grant_enabled
                    .raw()
                    .map_or("not set".to_owned(), |v| format!("'{v}'"))
            ),
            &format!(
                "set the client attribute {GRANT_ENABLED}=\"true\" (JWT Authorization Grant: On)"
            ),
        )
    };
    vec![confidential, grant]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::testing::*;
    use crate::doctor::*;
    use crate::settings::Switch;
    use crate::{Check, Version};
    use serde_json::json;

    #[test]
    fn dpop_required_by_the_client() {
        let token = jwt(json!({"alg": "RS256", "typ": "JWT"}), good_claims());
        let mut snap = snapshot();
        client_of(&mut snap).dpop_bound_tokens = Switch::new(true);
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
                json!({SUBJECT_DN: dn, CA_SUBJECT_DN: "cn=jwtgrant test CA ; o=jwtgrant test"}),
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
        client_of(&mut s).dn_regex = Switch::default();
        assert_eq!(
            failure(&s, &valid()),
            Some((
                "client",
                "x509.allow.regex.pattern.comparison is not \"false\", so Keycloak matches x509.subjectdn 'CN=jwtgrant-e2e-client,O=jwtgrant test' as a regular expression against 'CN=jwtgrant-e2e-client, O=jwtgrant test', and it does not match".into(),
                "set the client's x509.allow.regex.pattern.comparison=\"false\" so x509.subjectdn is compared as the DN 'CN=jwtgrant-e2e-client,O=jwtgrant test'".into(),
                INVALID_CLIENT
            ))
        );
        let regex = |dn: &str| mtls(json!({DN_REGEX: "true", SUBJECT_DN: dn}), ours());
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
        client_of(&mut s).certificate_bound_tokens = Switch::new(true);
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
                check: Check::ClientCertificate
            }
        );
        assert_eq!(
            compare(
                &diagnose(&mtls(json!({}), None), &token, NOW, Some(&valid())),
                Err(&rejected(401, "invalid_client", INVALID_CLIENT))
            ),
            Agreement::SameRejection {
                check: Check::Client
            }
        );
    }
}
