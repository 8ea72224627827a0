//! The doctor predicts exactly what Keycloak answers for assertions with two faults at once,
//! chosen so that the answer depends on the release's check order: 26.5 checks times and the
//! audience before the signature, 26.7 verifies the signature first and the audience last.
//!
//! Every case runs against the default server (`KEYCLOAK_URL`, 26.7.x) and the 26.5 server
//! (`KEYCLOAK_URL_26_5`) that `cargo xtask e2e` starts; without either, the tests fail.

#![allow(clippy::unwrap_used, reason = "tests: a panic is a failed test")]

use std::time::{Duration, SystemTime};

use jwtgrant_e2e::{CLIENT_ID, ISSUER, Keycloak, SUB, Seeded, assert_rejected, doctor_report, key};
use jwtgrant_keycloak::Order;
use jwtgrant_keycloak::admin::JwtIdp;
use jwtgrant_keycloak::doctor::{self, Agreement};
use jwtgrant_signer::{Algorithm, Claims, Signer};

/// One assertion with two faults and what each release answers.
struct Case {
    label: &'static str,
    /// Adjusts the identity provider of the seeded realm.
    idp: fn(JwtIdp) -> JwtIdp,
    /// Makes the assertion: the seeded realm's claims and signer, and a stranger's key.
    assertion: fn(&Seeded, &Signer) -> String,
    before_26_7: &'static str,
    since_26_7: &'static str,
}

fn expired(claims: Claims) -> Claims {
    claims
        .issued_at(SystemTime::now() - Duration::from_secs(120))
        .lifetime(Duration::from_secs(60))
}

fn wrong_audience(seeded: &Seeded) -> Claims {
    Claims::new(ISSUER, SUB, format!("{}-other", seeded.realm_url()))
}

const CASES: &[Case] = &[
    Case {
        label: "expired-wrong-key",
        idp: |idp| idp,
        assertion: |s, stranger| stranger.sign(&expired(s.claims())).unwrap(),
        before_26_7: "Token is not active",
        since_26_7: "Invalid signature",
    },
    Case {
        label: "audience-wrong-key",
        idp: |idp| idp,
        assertion: |s, stranger| stranger.sign(&wrong_audience(s)).unwrap(),
        before_26_7: "Invalid token audience",
        since_26_7: "Invalid signature",
    },
    Case {
        label: "audience-unlinked",
        idp: |idp| idp,
        assertion: |s, _| {
            let claims = Claims::new(ISSUER, "nobody-999", format!("{}-other", s.realm_url()));
            s.signer.sign(&claims).unwrap()
        },
        before_26_7: "Invalid token audience",
        since_26_7: "User not found",
    },
    Case {
        label: "expired-alg-not-pinned",
        idp: |idp| idp.signature_alg("ES384"),
        assertion: |s, _| s.signer.sign(&expired(s.claims())).unwrap(),
        before_26_7: "Token is not active",
        since_26_7: "Invalid signature algorithm",
    },
];

/// Runs every case on `kc`: the doctor's verdict equals Keycloak's answer, and both are the
/// answer of the server's release.
fn doctor_agrees_on_two_faults(kc: &Keycloak, expected_order: Order) {
    for case in CASES {
        let seeded = Seeded::on(kc.clone(), case.label, key(Algorithm::ES256), case.idp);
        let stranger = key(Algorithm::ES256);
        let assertion = (case.assertion)(&seeded, &stranger);

        let report = doctor_report(&seeded, CLIENT_ID, &assertion);
        assert_eq!(report.order, expected_order, "{}: {report:?}", case.label);
        let expected = match expected_order {
            Order::Before26_7 => case.before_26_7,
            _ => case.since_26_7,
        };
        let predicted = report
            .first_failure()
            .and_then(doctor::Finding::keycloak_error);
        assert_eq!(
            predicted,
            Some(expected),
            "{}: doctor on {}",
            case.label,
            kc.url
        );
        // Two faults: the doctor sees both, and the order decided which one comes first.
        let failing: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| c.status == doctor::Status::Fail)
            .filter_map(doctor::Finding::keycloak_error)
            .collect();
        for fault in [case.before_26_7, case.since_26_7] {
            assert!(
                failing.contains(&fault),
                "{}: {fault} not in {failing:?}",
                case.label
            );
        }

        let answer = seeded.exchange().exchange(&assertion);
        let agreement = doctor::compare(&report, answer.as_ref().map(|_| ()));
        assert_rejected(answer, 400, "invalid_grant", expected);
        assert!(
            matches!(agreement, Agreement::SameRejection { .. }),
            "{}: {agreement:?}",
            case.label
        );
    }
}

#[test]
fn doctor_matches_keycloak_26_7_on_two_faults() {
    doctor_agrees_on_two_faults(&Keycloak::from_env(), Order::Since26_7);
}

#[test]
fn doctor_matches_keycloak_26_5_on_two_faults() {
    doctor_agrees_on_two_faults(&Keycloak::from_env_26_5(), Order::Before26_7);
}

/// The doctor reads the server's release through the admin API.
#[test]
fn doctor_reads_each_servers_version() {
    for (kc, line) in [
        (Keycloak::from_env(), "26.7."),
        (Keycloak::from_env_26_5(), "26.5."),
    ] {
        let version = kc.admin().server_version().unwrap().unwrap_or_default();
        assert!(version.starts_with(line), "{}: {version}", kc.url);
    }
}
