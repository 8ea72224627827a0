//! `TokenSource::ready` (awaiting the first fill from async code, with a hand-rolled
//! executor: no runtime), `stats` and `invalidate`, against the loopback stub.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::Context;
use std::time::{Duration, Instant};

use jwtgrant_exchange::{Exchange, RetryPolicy, TokenSource};
use jwtgrant_test_support::{ParkWaker, Reply, Stub, block_on};

fn exchange(url: &str) -> Exchange {
    Exchange::new(url)
        .expect("stub URL parses")
        .client_secret_post("custom-client", "hunter2")
        .retries(RetryPolicy::attempts(1))
}

fn assertion() -> Result<String, std::io::Error> {
    Ok(format!("h.{}.s", uuid::Uuid::new_v4()))
}

fn token_json(token: &str, expires_in: u64) -> Reply {
    Reply::json(
        200,
        format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{expires_in}}}"#),
    )
}

#[test]
fn ready_waits_for_the_first_fill_on_another_thread() {
    // The grant hangs at the stub until the test lets it go: a `ready()` that blocked its
    // poller would never let the test reach the release.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let stub = Stub::start(move |_, _| {
        let _ = release_rx
            .lock()
            .expect("rx")
            .recv_timeout(Duration::from_secs(10));
        token_json("first", 300)
    });
    let source = TokenSource::new(exchange(&stub.url("/token")), assertion).refresh_ahead();
    let mut ready = pin!(source.ready());
    let (waker, task) = ParkWaker::current();
    let mut cx = Context::from_waker(&task);
    assert!(
        ready.as_mut().poll(&mut cx).is_pending(),
        "the first poll returns at once"
    );
    assert!(
        stub.wait_for(1, Duration::from_secs(5)),
        "the thread sent the grant"
    );
    assert!(
        ready.as_mut().poll(&mut cx).is_pending(),
        "still waiting for the grant"
    );
    assert_eq!(waker.wakes(), 0, "not woken before the grant ends");
    release_tx.send(()).expect("release");
    let (out, polls) = block_on(ready);
    out.expect("filled");
    assert_eq!(waker.wakes() + polls.wakes, 1, "woken exactly once");
    // Filled: `token()` reads the cache, and another `ready()` resolves at its first poll.
    assert_eq!(source.token().expect("cached").secret(), "first");
    let (out, polls) = block_on(source.ready());
    assert_eq!((out.is_ok(), polls.pending), (true, 0));
    assert_eq!(stub.count(), 1);
}

#[test]
fn ready_reports_the_grant_error() {
    let stub = Stub::start(|_, _| {
        Reply::json(
            400,
            r#"{"error":"invalid_grant","error_description":"Invalid token issuer"}"#,
        )
    });
    let source = TokenSource::new(exchange(&stub.url("/token")), assertion);
    let (out, polls) = block_on(source.ready());
    assert_eq!(
        out.expect_err("no token").to_string(),
        "token endpoint rejected the grant: invalid_grant: Invalid token issuer"
    );
    assert!(
        polls.pending >= 1,
        "the error came through the thread, not the poller"
    );
    let stats = source.stats();
    assert_eq!(
        (stats.grants, stats.failures, stats.consecutive_failures),
        (0, 1, 1)
    );
    assert_eq!((stats.remaining, stats.stale), (None, true));
    assert_eq!(stats.last_refresh, None);
}

/// A settable monotonic clock: whole seconds after the moment it was made.
fn test_clock() -> (Arc<AtomicU64>, impl Fn() -> Instant + Send + Sync + 'static) {
    let base = Instant::now();
    let now = Arc::new(AtomicU64::new(0));
    let now2 = Arc::clone(&now);
    (now, move || {
        base + Duration::from_secs(now2.load(Ordering::SeqCst))
    })
}

#[test]
fn stats_follow_grants_failures_and_invalidations() {
    let stub = Stub::start(|_, i| match i {
        1 => Reply::json(503, r#"{"error":"temporarily_unavailable"}"#),
        _ => token_json(&format!("token-{i}"), 120),
    });
    let (now, clock) = test_clock();
    let source = TokenSource::new(exchange(&stub.url("/token")), assertion).clock(clock);
    let fresh = source.stats();
    assert_eq!(
        (
            fresh.grants,
            fresh.failures,
            fresh.invalidations,
            fresh.remaining,
            fresh.stale
        ),
        (0, 0, 0, None, true)
    );

    let first = source.token().expect("first");
    now.fetch_add(10, Ordering::SeqCst);
    let stats = source.stats();
    assert_eq!(
        (stats.grants, stats.failures, stats.consecutive_failures),
        (1, 0, 0)
    );
    assert_eq!(stats.remaining, Some(Duration::from_secs(110)));
    assert_eq!(stats.since_last_refresh, Some(Duration::from_secs(10)));
    assert!(stats.last_refresh.is_some());
    assert!(!stats.stale && !stats.refreshing);

    // Inside the margin (refresh at 90 s): the refresh fails, the cached token is served.
    now.fetch_add(85, Ordering::SeqCst);
    assert_eq!(source.token().expect("still valid"), first);
    let stats = source.stats();
    assert_eq!(
        (stats.grants, stats.failures, stats.consecutive_failures),
        (1, 1, 1)
    );
    assert_eq!(stats.remaining, Some(Duration::from_secs(25)));
    assert!(stats.stale);
    let debug = format!("{stats:?}");
    assert!(!debug.contains("token-0"), "{debug}");

    // A resource server rejected it: dropped once, the next call fetches a new one.
    assert!(source.invalidate(&first));
    assert!(!source.invalidate(&first), "already gone");
    now.fetch_add(5, Ordering::SeqCst); // past the 1 s backoff of the failure
    assert_eq!(source.token().expect("new").secret(), "token-2");
    let stats = source.stats();
    assert_eq!(
        (
            stats.grants,
            stats.failures,
            stats.consecutive_failures,
            stats.invalidations
        ),
        (2, 1, 0, 1)
    );
    assert_eq!(stats.remaining, Some(Duration::from_secs(120)));
    assert_eq!(stats.since_last_refresh, Some(Duration::ZERO));
    assert!(!stats.stale);
    assert_eq!(stub.count(), 3);
}

#[test]
fn invalidation_makes_the_background_refresher_renew_at_once() {
    let stub = Stub::start(|_, i| token_json(&format!("token-{i}"), 300));
    let source = TokenSource::new(exchange(&stub.url("/token")), assertion).refresh_ahead();
    let first = source.token().expect("first fill");
    assert!(source.invalidate(&first));
    // No caller asks: the background thread fetches the replacement by itself.
    assert!(
        stub.wait_for(2, Duration::from_secs(5)),
        "renewed in the background"
    );
    let (out, _) = block_on(source.ready());
    out.expect("ready");
    assert_eq!(source.token().expect("renewed").secret(), "token-1");
    assert_eq!(stub.count(), 2);
}
