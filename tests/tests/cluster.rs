//! Keycloak as production runs it (`cargo xtask keycloak start --prod`): two nodes in
//! production mode on PostgreSQL, clustered through the database, behind nginx terminating
//! TLS. The seed's flow through the proxy; single use across nodes; a fleet of token sources
//! through a real node crash (SIGKILL of the JVM, then a restart).
//!
//! Needs, from the environment `cargo xtask e2e` sets (the tests fail, never skip, without
//! them): `KEYCLOAK_CLUSTER_URL` (the proxy, `https://localhost:8643`), `KEYCLOAK_CLUSTER_NODES`
//! (the nodes' own URLs, comma-separated), `KEYCLOAK_CLUSTER_SCRIPTS` (each node's start
//! script, same order), `JWTGRANT_TLS_DIR` (the test CA), `KEYCLOAK_ADMIN_USER`,
//! `KEYCLOAK_ADMIN_PASSWORD` and `JWTGRANT_BIN`.

#![allow(clippy::unwrap_used, reason = "tests: a panic is a failed test")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use jwtgrant_e2e::{CliWorld, required_env};
use jwtgrant_exchange::{Exchange, Transport};
use jwtgrant_keycloak::admin::{AdminLogin, AdminSession};
use jwtgrant_signer::Claims;

const ISSUER: &str = "http://localhost:3000";
const SUB: &str = "nodejsuser-1234";
const CLIENT: &str = "custom-client";

struct Topology {
    proxy: String,
    nodes: Vec<String>,
    scripts: Vec<String>,
    ca: String,
}

fn topology() -> Topology {
    let list = |var: &str| -> Vec<String> {
        required_env(var)
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let t = Topology {
        proxy: required_env("KEYCLOAK_CLUSTER_URL"),
        nodes: list("KEYCLOAK_CLUSTER_NODES"),
        scripts: list("KEYCLOAK_CLUSTER_SCRIPTS"),
        ca: format!("{}/ca.pem", required_env("JWTGRANT_TLS_DIR")),
    };
    assert!(
        t.nodes.len() >= 2,
        "the cluster tests need two nodes: {:?}",
        t.nodes
    );
    assert_eq!(t.nodes.len(), t.scripts.len());
    t
}

fn transport(t: &Topology) -> Transport {
    Transport::new()
        .ca_bundle_pem(&std::fs::read(&t.ca).unwrap())
        .unwrap()
        .timeout(Duration::from_secs(30))
}

/// A world whose every command goes through the proxy, trusting the test CA.
fn world(t: &Topology, tag: &str) -> CliWorld {
    CliWorld::new("cluster", tag, &t.proxy)
}

fn with_ca<'a>(t: &'a Topology, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--ca-file", t.ca.as_str()]);
    all
}

/// `keycloak setup` through the proxy: the seed's realm, provider, client and link.
fn setup(t: &Topology, w: &CliWorld) -> (String, String) {
    let r = w.run(&["keygen", "--out-dir", "keys"]);
    assert_eq!(r.code, 0, "{r:?}");
    let (private, public) = (w.path("keys/private.pem"), w.path("keys/public.pem"));
    let link = format!("{SUB}=alice");
    let args = [
        "keycloak",
        "setup",
        "--issuer",
        ISSUER,
        "--client-id",
        CLIENT,
        "--public-key",
        public.as_str(),
        "--link",
        link.as_str(),
    ];
    let r = w.run(&with_ca(t, &args));
    assert_eq!(r.code, 0, "{r:?}");
    let public_realm = format!("{}/realms/{}", t.proxy, w.realm);
    assert!(
        r.stdout.contains(&format!("audience: {public_realm}\n")),
        "{}",
        r.stdout
    );
    // Idempotent in production mode too.
    let r = w.run(&with_ca(t, &args));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("nothing to change"), "{}", r.stdout);
    (private, w.path("custom-client.secret"))
}

#[test]
fn cluster_the_seeds_flow_through_the_proxy_names_the_public_url() {
    let t = topology();
    let w = world(&t, "seed");
    let (private, secret) = setup(&t, &w);
    let token_args = [
        "token",
        "--key",
        private.as_str(),
        "--iss",
        ISSUER,
        "--sub",
        SUB,
        "--client-id",
        CLIENT,
        "--client-secret-file",
        secret.as_str(),
        "--json",
        "--decode",
    ];
    let r = w.run(&with_ca(&t, &token_args));
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let public_realm = format!("{}/realms/{}", t.proxy, w.realm);
    assert_eq!(v["access_token_claims"]["iss"], public_realm.as_str());
    assert_eq!(v["access_token_claims"]["azp"], CLIENT);
    assert_eq!(v["access_token_claims"]["preferred_username"], "alice");

    let r = w.run(&with_ca(
        &t,
        &[
            "keycloak",
            "doctor",
            "--key",
            &private,
            "--iss",
            ISSUER,
            "--sub",
            SUB,
            "--client-id",
            CLIENT,
        ],
    ));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(&format!("aud is '{public_realm}'")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("keycloak: issued an access token (agrees with the checks)"),
        "{}",
        r.stdout
    );
}

#[test]
fn cluster_an_assertion_accepted_by_one_node_is_refused_by_the_other() {
    let t = topology();
    let w = world(&t, "replay");
    setup(&t, &w);
    let secret = std::fs::read_to_string(w.path("custom-client.secret")).unwrap();
    let signer =
        jwtgrant_signer::Signer::from_pem(&std::fs::read(w.path("keys/private.pem")).unwrap())
            .unwrap();
    // The audience is the public URL, whichever node answers.
    let claims = Claims::new(ISSUER, SUB, format!("{}/realms/{}", t.proxy, w.realm));
    let assertion = signer.sign(&claims).unwrap();
    let at = |node: &str| {
        Exchange::new(&format!(
            "{node}/realms/{}/protocol/openid-connect/token",
            w.realm
        ))
        .unwrap()
        .client_secret_post(CLIENT, secret.trim())
    };
    let first = at(&t.nodes[0]).exchange(&assertion);
    assert!(first.is_ok(), "node A: {first:?}");
    jwtgrant_e2e::assert_rejected(
        at(&t.nodes[1]).exchange(&assertion),
        400,
        "invalid_grant",
        "Token reuse detected",
    );
}

/// A fleet of refresh-ahead token sources through the proxy, with 10 s tokens, while node A
/// is killed (SIGKILL to its JVM) and started again: not one `token()` call fails, and the
/// fleet keeps getting new tokens through node B.
#[test]
fn cluster_a_fleet_serves_every_call_through_a_node_crash() {
    let t = topology();
    let w = world(&t, "crash");
    let (private, secret) = setup(&t, &w);
    let admin = AdminSession::connect(
        &t.proxy,
        AdminLogin::password(
            required_env("KEYCLOAK_ADMIN_USER"),
            required_env("KEYCLOAK_ADMIN_PASSWORD"),
        ),
        transport(&t),
    )
    .unwrap();
    admin
        .set_access_token_lifespan(&w.realm, Duration::from_secs(10))
        .unwrap();
    let signer = jwtgrant_signer::Signer::from_pem(&std::fs::read(&private).unwrap()).unwrap();
    let secret = std::fs::read_to_string(&secret).unwrap().trim().to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU32::new(0));
    let calls = Arc::new(AtomicU32::new(0));
    let fleet: Vec<_> = (0..4)
        .map(|_| {
            let exchange = jwtgrant_keycloak::exchange(&t.proxy, &w.realm)
                .unwrap()
                .transport(transport(&t))
                .client_secret_post(CLIENT, secret.as_str());
            let claims = Claims::new(ISSUER, SUB, format!("{}/realms/{}", t.proxy, w.realm));
            let source = jwtgrant_exchange::TokenSource::signed(exchange, signer.clone(), claims)
                .refresh_margin(Duration::from_secs(4))
                .refresh_ahead();
            let (stop, failures, calls) = (stop.clone(), failures.clone(), calls.clone());
            std::thread::spawn(move || {
                let mut tokens = std::collections::HashSet::new();
                while !stop.load(Ordering::Relaxed) {
                    calls.fetch_add(1, Ordering::Relaxed);
                    match source.token() {
                        Ok(token) => {
                            tokens.insert(token.secret().to_owned());
                        }
                        Err(e) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                            eprintln!("fleet: token() failed: {e}");
                        }
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                tokens.len()
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs(4));
    // Node A's process group: kc.sh and its JVM, killed without a chance to leave.
    let pid = node_pid(&t.scripts[0]);
    let kill = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status()
        .unwrap();
    assert!(kill.success());
    let killed_at = Instant::now();
    // Node B carries the fleet for a token lifetime and more, then A comes back.
    std::thread::sleep(Duration::from_secs(14));
    let restart = std::process::Command::new("sh")
        .arg(&t.scripts[0])
        .output()
        .unwrap();
    assert!(restart.status.success(), "{restart:?}");
    let back = jwtgrant_e2e::eventually(Duration::from_secs(240), || {
        let discovery = format!(
            "{}/realms/master/.well-known/openid-configuration",
            t.nodes[0]
        );
        let direct = Transport::new().timeout(Duration::from_secs(2));
        let url = direct.check_url(&discovery).unwrap();
        let ok = direct
            .send(jwtgrant_exchange::Method::Get, &url, &[], None)
            .is_ok_and(|r| r.status == 200);
        ok.then_some(())
    });
    assert!(back.is_some(), "node A did not come back");
    std::thread::sleep(Duration::from_secs(6));
    stop.store(true, Ordering::Relaxed);
    let refreshed: Vec<usize> = fleet.into_iter().map(|h| h.join().unwrap()).collect();

    assert_eq!(failures.load(Ordering::Relaxed), 0, "failed token() calls");
    assert!(calls.load(Ordering::Relaxed) > 0);
    // 10 s tokens over more than 24 s: every source had to renew, so grants went on while
    // node A was down or coming back (the count per source depends on the machine's pace).
    for n in &refreshed {
        assert!(*n >= 2, "tokens per source: {refreshed:?}");
    }
    eprintln!(
        "fleet: {} calls, tokens per source {refreshed:?}, node A was down for {:.0?}",
        calls.load(Ordering::Relaxed),
        killed_at.elapsed()
    );
}

/// The pid the start script recorded for its node (`node-N.pid` beside it).
fn node_pid(script: &str) -> u32 {
    let pid_file = script.trim_end_matches(".sh").to_owned() + ".pid";
    std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("{pid_file}: {e}"))
        .trim()
        .parse()
        .unwrap()
}
