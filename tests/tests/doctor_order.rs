//! The doctor predicts exactly what Keycloak answers for assertions with two faults at once,
//! chosen so that the answer depends on the release's check order: 26.5 checks times and the
//! audience before the signature, 26.7 verifies the signature first and the audience last.
//! And for every single fault (the sweep, issue #18): one table, each row the answer of
//! each release line, where the rules themselves differ (a `none`/`HS256` alg, a disabled
//! provider) as well as where they agree.
//!
//! Every case runs against the default server (`KEYCLOAK_URL`, 26.7.x) and the 26.5 server
//! (`KEYCLOAK_URL_26_5`) that `cargo xtask e2e` starts; without either, the tests fail.

#![allow(clippy::unwrap_used, reason = "tests: a panic is a failed test")]

use std::time::{Duration, SystemTime};

use jwtgrant_e2e::{
    CLIENT_ID, IDP_ALIAS, ISSUER, Keycloak, SUB, Seeded, assert_rejected, doctor_report,
    doctor_report_via, key,
};
use jwtgrant_keycloak::Order;
use jwtgrant_keycloak::admin::{ClientAuthenticator, JwtClient, JwtIdp};
use jwtgrant_keycloak::doctor::{self, Agreement};
use jwtgrant_signer::{Algorithm, Claims, Signer};
use serde_json::{Value, json};

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

// ---------------------------------------------------------------------------------------------
// The single-fault sweep (issue #18): every fault alone, on every release the suite starts.
// ---------------------------------------------------------------------------------------------

/// What a release answers to one assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A token; the doctor finds no failure.
    Token,
    /// HTTP 400 `invalid_grant` with this `error_description`; the doctor's first failure
    /// names it.
    Grant(&'static str),
    /// The first exchange gets a token and the second `Token reuse detected`. The doctor
    /// cannot see Keycloak's single-use store: it passes both presentations and says the
    /// `jti` is single-use.
    ReusedOnSecond,
}

/// The realm a fault needs.
#[derive(Clone, Copy)]
enum Realm {
    /// The seed: one realm per server, shared by every case that needs nothing else.
    Seed,
    /// A realm of its own, with the identity provider adjusted.
    Idp(fn(JwtIdp) -> JwtIdp),
}

/// One fault, alone, and what each release answers.
struct Fault {
    label: &'static str,
    realm: Realm,
    /// The client presenting the assertion (one of [`CLIENTS`] or the seed's).
    client: &'static str,
    /// Makes the assertion: the seeded realm (claims, signer) and a stranger's key.
    assertion: fn(&Seeded, &Signer) -> String,
    v26_5: Answer,
    v26_7: Answer,
}

/// A client of the seed realm allowed another provider only.
const CLIENT_OTHER_IDP: &str = "sweep-other-idp";
/// A client of the seed realm without the grant.
const CLIENT_GRANT_OFF: &str = "sweep-grant-off";

/// The seed's claims as JSON (fresh `iat`, `exp` 5 min later, `jti`), edited, and signed by
/// the seed's key with its own header.
fn edited(s: &Seeded, edit: fn(&mut serde_json::Map<String, Value>, i64)) -> String {
    let mut payload = s.claims().to_payload().unwrap();
    let now = payload["iat"].as_i64().unwrap();
    edit(payload.as_object_mut().unwrap(), now);
    s.signer
        .sign_jws(
            s.signer.header_json().as_bytes(),
            payload.to_string().as_bytes(),
        )
        .unwrap()
}

/// The seed's claims under `header`, with a signature no key made.
fn forged(s: &Seeded, header: Value) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding as _};
    let payload = s.claims().to_payload().unwrap();
    let b64 = |v: &[u8]| Base64UrlUnpadded::encode_string(v);
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes()),
        b64(b"not a signature")
    )
}

/// The seed's claims signed by the seed's key with `typ` in the header.
fn typed(s: &Seeded, typ: Option<&str>) -> String {
    let mut header = json!({"alg": s.signer.algorithm().as_str()});
    if let Some(t) = typ {
        header["typ"] = json!(t);
    }
    let payload = s.claims().to_payload().unwrap();
    s.signer
        .sign_jws(
            header.to_string().as_bytes(),
            payload.to_string().as_bytes(),
        )
        .unwrap()
}

fn lifetime(s: &Seeded, secs: u64) -> String {
    s.signer
        .sign(&s.claims().lifetime(Duration::from_secs(secs)))
        .unwrap()
}

const SEED: Realm = Realm::Seed;
const NOT_ACTIVE: Answer = Answer::Grant("Token is not active");

const FAULTS: &[Fault] = &[
    Fault {
        label: "none",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| s.signer.sign(&s.claims()).unwrap(),
        v26_5: Answer::Token,
        v26_7: Answer::Token,
    },
    Fault {
        label: "expired",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| s.signer.sign(&expired(s.claims())).unwrap(),
        v26_5: NOT_ACTIVE,
        v26_7: NOT_ACTIVE,
    },
    Fault {
        label: "exp-missing",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            edited(s, |c, _| {
                c.remove("exp");
            })
        },
        v26_5: Answer::Grant("Token exp claim is required"),
        v26_7: Answer::Grant("Token exp claim is required"),
    },
    Fault {
        label: "iat-future",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| edited(s, |c, now| _ = c.insert("iat".into(), json!(now + 60))),
        v26_5: Answer::Grant("Token was issued in the future"),
        v26_7: Answer::Grant("Token was issued in the future"),
    },
    Fault {
        label: "nbf-future",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| edited(s, |c, now| _ = c.insert("nbf".into(), json!(now + 60))),
        v26_5: NOT_ACTIVE,
        v26_7: NOT_ACTIVE,
    },
    Fault {
        label: "iat-old",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            edited(s, |c, now| {
                c.insert("iat".into(), json!(now - 400));
                c.insert("exp".into(), json!(now + 60));
            })
        },
        v26_5: Answer::Grant("Token was issued too far in the past to be used now"),
        v26_7: Answer::Grant("Token was issued too far in the past to be used now"),
    },
    Fault {
        label: "no-iat-exp-far",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            edited(s, |c, now| {
                c.remove("iat");
                c.insert("exp".into(), json!(now + 400));
            })
        },
        v26_5: Answer::Grant(
            "Token expiration is too far in the future and iat claim not present in token",
        ),
        v26_7: Answer::Grant(
            "Token expiration is too far in the future and iat claim not present in token",
        ),
    },
    Fault {
        label: "no-iat-exp-near",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            edited(s, |c, now| {
                c.remove("iat");
                c.insert("exp".into(), json!(now + 120));
            })
        },
        v26_5: Answer::Token,
        v26_7: Answer::Token,
    },
    Fault {
        label: "lifetime-10min",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| lifetime(s, 600),
        v26_5: Answer::Token,
        v26_7: Answer::Token,
    },
    Fault {
        label: "lifetime-1h",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| lifetime(s, 3600),
        v26_5: Answer::Token,
        v26_7: Answer::Token,
    },
    Fault {
        label: "lifetime-720h",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| lifetime(s, 720 * 3600),
        v26_5: Answer::Token,
        v26_7: Answer::Token,
    },
    Fault {
        label: "jti-missing",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            edited(s, |c, _| {
                c.remove("jti");
            })
        },
        v26_5: Answer::Grant("Token jti claim is required"),
        v26_7: Answer::Grant("Token jti claim is required"),
    },
    Fault {
        label: "jti-reused",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| s.signer.sign(&s.claims()).unwrap(),
        v26_5: Answer::ReusedOnSecond,
        v26_7: Answer::ReusedOnSecond,
    },
    Fault {
        label: "iss-missing",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            edited(s, |c, _| {
                c.remove("iss");
            })
        },
        v26_5: Answer::Grant("Missing claim: iss"),
        v26_7: Answer::Grant("Missing claim: iss"),
    },
    Fault {
        label: "sub-missing",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            edited(s, |c, _| {
                c.remove("sub");
            })
        },
        v26_5: Answer::Grant("Missing claim: sub"),
        v26_7: Answer::Grant("Missing claim: sub"),
    },
    Fault {
        label: "sub-unlinked",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            let claims = Claims::new(ISSUER, "nobody-999", s.realm_url());
            s.signer.sign(&claims).unwrap()
        },
        v26_5: Answer::Grant("User not found"),
        v26_7: Answer::Grant("User not found"),
    },
    Fault {
        label: "iss-unknown",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            let claims = Claims::new("http://localhost:3999", SUB, s.realm_url());
            s.signer.sign(&claims).unwrap()
        },
        v26_5: Answer::Grant("No Identity Provider for provided issuer"),
        v26_7: Answer::Grant("No Identity Provider for provided issuer"),
    },
    Fault {
        label: "iss-trailing-slash",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            let claims = Claims::new(format!("{ISSUER}/"), SUB, s.realm_url());
            s.signer.sign(&claims).unwrap()
        },
        v26_5: Answer::Grant("No Identity Provider for provided issuer"),
        v26_7: Answer::Grant("No Identity Provider for provided issuer"),
    },
    Fault {
        label: "aud-wrong",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| s.signer.sign(&wrong_audience(s)).unwrap(),
        v26_5: Answer::Grant("Invalid token audience"),
        v26_7: Answer::Grant("Invalid token audience"),
    },
    Fault {
        label: "aud-one-element-array",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            edited(s, |c, _| {
                let aud = c["aud"].clone();
                c.insert("aud".into(), json!([aud]));
            })
        },
        v26_5: Answer::Token,
        v26_7: Answer::Token,
    },
    Fault {
        label: "aud-array-with-realm",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            edited(s, |c, _| {
                let aud = c["aud"].clone();
                c.insert("aud".into(), json!([aud, "https://api.example"]));
            })
        },
        v26_5: Answer::Grant("Multiple audiences not allowed"),
        v26_7: Answer::Grant("Multiple audiences not allowed"),
    },
    Fault {
        label: "aud-token-endpoint",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            let aud = format!("{}/protocol/openid-connect/token", s.realm_url());
            s.signer.sign(&Claims::new(ISSUER, SUB, aud)).unwrap()
        },
        v26_5: Answer::Token,
        v26_7: Answer::Token,
    },
    Fault {
        label: "aud-missing",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| {
            edited(s, |c, _| {
                c.remove("aud");
            })
        },
        v26_5: Answer::Grant("Invalid token audience"),
        v26_7: Answer::Grant("Invalid token audience"),
    },
    Fault {
        label: "wrong-key",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, stranger| stranger.sign(&s.claims()).unwrap(),
        v26_5: Answer::Grant("Invalid signature"),
        v26_7: Answer::Grant("Invalid signature"),
    },
    Fault {
        label: "alg-not-pinned",
        realm: Realm::Idp(|idp| idp.signature_alg("ES384")),
        client: CLIENT_ID,
        assertion: |s, _| s.signer.sign(&s.claims()).unwrap(),
        v26_5: Answer::Grant("Invalid signature algorithm"),
        v26_7: Answer::Grant("Invalid signature algorithm"),
    },
    Fault {
        label: "alg-none",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| forged(s, json!({"alg": "none", "typ": "JWT"})),
        // 26.5 refuses none and HS* at the signature, 26.7 at the algorithm.
        v26_5: Answer::Grant("Invalid signature"),
        v26_7: Answer::Grant("Invalid signature algorithm"),
    },
    Fault {
        label: "alg-hs256",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| forged(s, json!({"alg": "HS256", "typ": "JWT"})),
        v26_5: Answer::Grant("Invalid signature"),
        v26_7: Answer::Grant("Invalid signature algorithm"),
    },
    Fault {
        label: "alg-lowercase",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| forged(s, json!({"alg": "es256", "typ": "JWT"})),
        // Outside Keycloak's `Algorithm` enum: the JWS parse fails.
        v26_5: Answer::Grant("The provided assertion is not a valid JWT"),
        v26_7: Answer::Grant("The provided assertion is not a valid JWT"),
    },
    Fault {
        label: "typ-absent",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| typed(s, None),
        v26_5: Answer::Token,
        v26_7: Answer::Token,
    },
    Fault {
        label: "typ-at-jwt",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| typed(s, Some("at+jwt")),
        v26_5: Answer::Token,
        v26_7: Answer::Token,
    },
    Fault {
        label: "typ-lowercase",
        realm: SEED,
        client: CLIENT_ID,
        assertion: |s, _| typed(s, Some("jwt")),
        v26_5: Answer::Token,
        v26_7: Answer::Token,
    },
    Fault {
        label: "idp-disabled",
        realm: Realm::Idp(|idp| idp.enabled(false)),
        client: CLIENT_ID,
        assertion: |s, _| s.signer.sign(&s.claims()).unwrap(),
        // 26.7's issuer lookup skips disabled providers.
        v26_5: Answer::Grant("Identity Provider is not enabled"),
        v26_7: Answer::Grant("No Identity Provider for provided issuer"),
    },
    Fault {
        label: "idp-not-allowed",
        realm: SEED,
        client: CLIENT_OTHER_IDP,
        assertion: |s, _| s.signer.sign(&s.claims()).unwrap(),
        v26_5: Answer::Grant("Identity Provider is not allowed for the client"),
        v26_7: Answer::Grant("Identity Provider is not allowed for the client"),
    },
    Fault {
        label: "client-grant-off",
        realm: SEED,
        client: CLIENT_GRANT_OFF,
        assertion: |s, _| s.signer.sign(&s.claims()).unwrap(),
        v26_5: Answer::Grant("JWT Authorization Grant is not supported for the requested client"),
        v26_7: Answer::Grant("JWT Authorization Grant is not supported for the requested client"),
    },
];

/// A seeded realm for `realm` on `kc`, with the sweep's extra clients; their secrets.
fn sweep_realm(kc: &Keycloak, realm: Realm, label: &str) -> (Seeded, Vec<(&'static str, String)>) {
    let adjust = match realm {
        Realm::Seed => |idp| idp,
        Realm::Idp(f) => f,
    };
    let seeded = Seeded::on(
        kc.clone(),
        &format!("sweep-{label}"),
        key(Algorithm::ES256),
        adjust,
    );
    let mut secrets = vec![(CLIENT_ID, seeded.secret.secret().to_owned())];
    for (id, client) in [
        (
            CLIENT_OTHER_IDP,
            JwtClient::new(
                CLIENT_OTHER_IDP,
                ClientAuthenticator::Secret(None),
                ["other-idp"],
            ),
        ),
        (
            CLIENT_GRANT_OFF,
            JwtClient::new(
                CLIENT_GRANT_OFF,
                ClientAuthenticator::Secret(None),
                [IDP_ALIAS],
            )
            .grant_enabled(false),
        ),
    ] {
        let secret = seeded.add_client(&client).unwrap();
        secrets.push((id, secret.secret().to_owned()));
    }
    (seeded, secrets)
}

/// Runs every fault on `kc` (release line `line`) and returns the disagreements, one line
/// each; an empty list is the doctor agreeing with Keycloak on every fault.
fn sweep(kc: &Keycloak, expected_order: Order) -> Vec<String> {
    let (seed, seed_secrets) = sweep_realm(kc, Realm::Seed, "seed");
    let stranger = key(Algorithm::ES256);
    let mut disagreements = Vec::new();
    for fault in FAULTS {
        let own;
        let (seeded, secrets) = match fault.realm {
            Realm::Seed => (&seed, &seed_secrets),
            Realm::Idp(_) => {
                own = sweep_realm(kc, fault.realm, fault.label);
                (&own.0, &own.1)
            }
        };
        let secret = &secrets
            .iter()
            .find(|(id, _)| *id == fault.client)
            .unwrap()
            .1;
        let exchange = jwtgrant_keycloak::exchange(&kc.url, &seeded.realm)
            .unwrap()
            .client_secret_post(fault.client, secret.as_str());
        let expected = match expected_order {
            Order::Before26_7 => fault.v26_5,
            _ => fault.v26_7,
        };
        let assertion = (fault.assertion)(seeded, &stranger);
        let report = doctor_report_via(seeded, &exchange, fault.client, &assertion);
        assert_eq!(report.order, expected_order, "{}: {report:?}", fault.label);
        let predicted = report.first_failure().map(|f| f.keycloak_error());
        if expected == Answer::ReusedOnSecond {
            exchange.exchange(&assertion).unwrap();
        }
        let answer = exchange.exchange(&assertion);
        let actual = match &answer {
            Ok(_) => "a token".to_owned(),
            Err(e) => match e.rejection() {
                Some(r) => format!(
                    "{} {}: {}",
                    r.status,
                    r.error,
                    r.error_description.as_deref().unwrap_or_default()
                ),
                None => format!("{e:#}"),
            },
        };
        let said = |p: Option<Option<&str>>| match p {
            None => "a token".to_owned(),
            Some(e) => format!("400 invalid_grant: {}", e.unwrap_or("(no Keycloak words)")),
        };
        let want = match expected {
            Answer::Token => "a token".to_owned(),
            Answer::Grant(d) => format!("400 invalid_grant: {d}"),
            Answer::ReusedOnSecond => "400 invalid_grant: Token reuse detected".to_owned(),
        };
        // The doctor's prediction: what Keycloak answers, except for reuse it cannot see.
        let doctor_should = match expected {
            Answer::ReusedOnSecond => "a token".to_owned(),
            _ => want.clone(),
        };
        if actual != want || said(predicted) != doctor_should {
            disagreements.push(format!(
                "{}: expected {want}, Keycloak answered {actual}, the doctor predicted {}",
                fault.label,
                said(predicted)
            ));
            continue;
        }
        let agreement = doctor::compare(&report, answer.as_ref().map(|_| ()));
        let agreed = match expected {
            Answer::ReusedOnSecond => {
                let jti = report.get("jti").unwrap();
                assert_eq!(jti.status, doctor::Status::Pass, "{}", fault.label);
                assert!(
                    jti.detail.contains("single use"),
                    "{}: {jti:?}",
                    fault.label
                );
                agreement
                    == Agreement::UnexpectedRejection {
                        actual: Some(jwtgrant_keycloak::Check::Reuse),
                    }
            }
            Answer::Token => agreement == Agreement::BothAccept,
            Answer::Grant(_) => matches!(agreement, Agreement::SameRejection { .. }),
        };
        if !agreed {
            disagreements.push(format!("{}: compare says {agreement:?}", fault.label));
        }
        // Exactly one failure: a single fault is one line of the report.
        let failing: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| c.status == doctor::Status::Fail)
            .map(|c| c.name)
            .collect();
        if failing.len() > 1 {
            disagreements.push(format!("{}: the doctor fails {failing:?}", fault.label));
        }
    }
    disagreements
}

#[test]
fn every_single_fault_on_keycloak_26_7() {
    let disagreements = sweep(&Keycloak::from_env(), Order::Since26_7);
    assert_eq!(disagreements, Vec::<String>::new());
}

#[test]
fn every_single_fault_on_keycloak_26_5() {
    let disagreements = sweep(&Keycloak::from_env_26_5(), Order::Before26_7);
    assert_eq!(disagreements, Vec::<String>::new());
}
