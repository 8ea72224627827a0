//! Faults against the real Keycloak: the process paused and resumed, and a fault proxy
//! between client and server that drops, delays, resets and truncates, and severs pooled
//! connections as a restart would. Each case asserts the error variant, that the call ends
//! within its time bound, and what a `TokenSource` serves meanwhile.
//!
//! Needs `KEYCLOAK_PID` (the server's process group, which `cargo xtask e2e` passes) for the
//! pause; fails, never skips, without it. The cases run one at a time: a paused server would
//! otherwise stall its neighbours.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jwtgrant_e2e::{CLIENT_ID, ISSUER, SUB, Seeded, key};
use jwtgrant_exchange::{ErrorKind, Exchange, ExchangeError, RetryPolicy, TokenSource};
use jwtgrant_keycloak::realm_url;
use jwtgrant_signer::{Algorithm, Claims};
use jwtgrant_test_support::{Fault, FaultProxy};

/// One fault at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Keycloak's address, for the proxy to forward to.
fn upstream(seeded: &Seeded) -> SocketAddr {
    let hostport = seeded.kc.url.trim_start_matches("http://");
    hostport.to_socket_addrs().unwrap().next().unwrap()
}

/// An exchange for `seeded`'s realm reached at `base` (the proxy), with a whole-call budget,
/// and a fresh assertion maker whose `aud` is the realm as reached there.
fn through(seeded: &Seeded, base: &str, budget: Duration, retries: u32) -> Exchange {
    jwtgrant_keycloak::exchange(base, &seeded.realm)
        .unwrap()
        .client_secret_post(CLIENT_ID, seeded.secret.secret())
        .timeout(budget)
        .call_timeout(budget)
        .retries(
            RetryPolicy::attempts(retries + 1)
                .base_delay(Duration::from_millis(50))
                .max_delay(Duration::from_millis(200)),
        )
}

fn claims_for(seeded: &Seeded, base: &str) -> Claims {
    Claims::new(ISSUER, SUB, realm_url(base, &seeded.realm))
}

/// Runs `f`, asserting it returned within `budget` plus scheduling slack; returns its result.
fn bounded<T>(budget: Duration, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(
        took <= budget + Duration::from_secs(2),
        "took {took:?}, the budget was {budget:?}"
    );
    out
}

/// Resumes the paused server when dropped, whatever happened in between.
struct Paused(String);

impl Paused {
    fn new() -> Paused {
        let pid = std::env::var("KEYCLOAK_PID").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| {
            panic!("KEYCLOAK_PID is not set: the fault tests pause the local Keycloak (run them with `cargo xtask e2e`)")
        });
        signal("STOP", &pid);
        Paused(pid)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        signal("CONT", &self.0);
    }
}

fn signal(name: &str, pid: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), "--", &format!("-{pid}")])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} -{pid}");
}

#[test]
fn a_paused_keycloak_times_out_within_the_bound_and_the_cache_keeps_serving() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let seeded = Seeded::new("fault-pause", key(Algorithm::ES256));
    let base = seeded.kc.url.clone();
    let budget = Duration::from_secs(2);
    let ex = through(&seeded, &base, budget, 2);
    let source = TokenSource::signed(
        ex.clone(),
        seeded.signer.clone(),
        claims_for(&seeded, &base),
    );
    let cached = source.token().unwrap();

    let paused = Paused::new();
    let err = bounded(budget, || {
        ex.exchange_signed(&seeded.signer, &claims_for(&seeded, &base))
    })
    .unwrap_err();
    assert!(matches!(err, ExchangeError::Timeout { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    // The cached token is still valid: served at once, no request.
    let served = bounded(Duration::ZERO, || source.token()).unwrap();
    assert_eq!(served.secret(), cached.secret());
    drop(paused);

    // Resumed: the next call gets a token again.
    let token = ex
        .exchange_signed(&seeded.signer, &claims_for(&seeded, &base))
        .unwrap();
    assert!(!token.access_token.secret().is_empty());
}

#[test]
fn proxy_faults_end_in_named_errors_within_the_bound() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let seeded = Seeded::new("fault-proxy", key(Algorithm::ES256));
    let proxy = FaultProxy::start(upstream(&seeded));
    let base = proxy.base();
    let budget = Duration::from_secs(3);
    let once = through(&seeded, &base, budget, 0);
    let call = |ex: &Exchange| {
        bounded(budget, || {
            ex.exchange_signed(&seeded.signer, &claims_for(&seeded, &base))
        })
    };

    // Untouched: the proxy is transparent.
    assert!(call(&once).is_ok());

    // Dropped connections: unreachable, and transient (worth a retry).
    proxy.set(Fault::Drop);
    let err = call(&once).unwrap_err();
    assert!(matches!(err, ExchangeError::Connection { .. }), "{err:?}");
    assert!(err.is_transient());

    // An answer later than the budget: a timeout at the budget, not at 10 s.
    proxy.set(Fault::Delay(Duration::from_secs(5)));
    let err = call(&once).unwrap_err();
    let ExchangeError::Timeout { limit, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(*limit <= budget, "{limit:?}");

    // Reset in the middle of the answer.
    proxy.set(Fault::ResetAfter(40));
    let err = call(&once).unwrap_err();
    assert!(matches!(err, ExchangeError::Connection { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Unreachable);

    // Cut short after the status line and part of the headers.
    proxy.set(Fault::TruncateAfter(60));
    let err = call(&once).unwrap_err();
    assert!(
        matches!(err, ExchangeError::Connection { .. }),
        "a truncated answer is a broken connection, not a token: {err:?}"
    );

    // With retries, a fault that heals within the budget costs nothing but time.
    proxy.set(Fault::Pass);
    let retrying = through(&seeded, &base, budget, 3);
    assert!(call(&retrying).is_ok());
}

#[test]
fn a_restart_between_two_calls_on_one_pooled_connection_is_survived() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let seeded = Seeded::new("fault-restart", key(Algorithm::ES256));
    let proxy = FaultProxy::start(upstream(&seeded));
    let base = proxy.base();
    let ex = through(&seeded, &base, Duration::from_secs(5), 2);
    let claims = claims_for(&seeded, &base);
    assert!(ex.exchange_signed(&seeded.signer, &claims).is_ok());
    assert_eq!(proxy.connections(), 1);
    // The same connection again: it is pooled.
    assert!(ex.exchange_signed(&seeded.signer, &claims).is_ok());
    assert_eq!(
        proxy.connections(),
        1,
        "the second call reused the pooled connection"
    );

    // The server side of every connection goes away, as in a restart.
    proxy.sever_all();
    let token = ex.exchange_signed(&seeded.signer, &claims);
    assert!(token.is_ok(), "{:?}", token.err());
    assert_eq!(
        proxy.connections(),
        2,
        "one new connection after the restart"
    );
}

/// `jwtgrant agent` over three and more token lifetimes (10 s tokens) with Keycloak paused
/// once (SIGSTOP for 3 s): the sink always holds a token that has not expired, and each
/// lifetime brings about one new token, not a flood.
#[test]
fn the_agent_keeps_an_unexpired_token_in_its_sink_through_a_paused_keycloak() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = jwtgrant_e2e::CliWorld::new(
        "fault",
        "agent",
        &jwtgrant_e2e::required_env("KEYCLOAK_URL"),
    );
    let r = w.run(&["keygen", "--out-dir", "keys"]);
    assert_eq!(r.code, 0, "{r:?}");
    let link = format!("{SUB}=alice");
    let r = w.run(&[
        "keycloak",
        "setup",
        "--issuer",
        ISSUER,
        "--client-id",
        CLIENT_ID,
        "--public-key",
        &w.path("keys/public.pem"),
        "--link",
        &link,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    jwtgrant_e2e::Keycloak::from_env()
        .admin()
        .set_access_token_lifespan(&w.realm, Duration::from_secs(10))
        .unwrap();
    let sink = w.path("token");
    let mut agent = w
        .command()
        .args([
            "agent",
            "--key",
            "keys/private.pem",
            "--iss",
            ISSUER,
            "--sub",
            SUB,
            "--client-id",
            CLIENT_ID,
            "--client-secret-file",
            "custom-client.secret",
            "--sink",
            &sink,
            "--refresh-margin",
            "4s",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let started = Instant::now();
    let mut tokens = std::collections::HashSet::new();
    let mut expired_seen = Vec::new();
    let mut missing_after_first = 0;
    let mut paused: Option<Paused> = None;
    while started.elapsed() < Duration::from_secs(34) {
        let t = started.elapsed();
        if t >= Duration::from_secs(13) && t < Duration::from_secs(16) {
            paused.get_or_insert_with(Paused::new);
        } else if t >= Duration::from_secs(16) {
            paused = None;
        }
        match std::fs::read_to_string(&sink) {
            Ok(text) => {
                let token = text.trim().to_owned();
                let exp = jwtgrant_signer::decode_unverified(&token).unwrap().claims()["exp"]
                    .as_u64()
                    .unwrap();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                if exp <= now {
                    expired_seen.push((t, exp, now));
                }
                tokens.insert(token);
            }
            Err(_) if tokens.is_empty() => {}
            Err(_) => missing_after_first += 1,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(paused);
    let _ = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status();
    let status = agent.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut agent.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(expired_seen, Vec::new(), "an expired token in the sink");
    assert_eq!(missing_after_first, 0, "the sink went missing: {stderr}");
    // 34 s of 10 s tokens renewed 4 s early: about one new token every 6 s. More than a
    // handful per lifetime would be a flood; fewer than three, no renewal through the pause.
    assert!(
        (3..=10).contains(&tokens.len()),
        "{} tokens: {stderr}",
        tokens.len()
    );
}
