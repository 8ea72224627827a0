//! [`TokenSource`]: a cached access token shared by many threads, refreshed single-flight.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::Thread;
use std::time::{Duration, Instant, SystemTime};

use crate::client::Exchange;
use crate::error::{BoxError, ExchangeError, Source};
use crate::secret::AccessToken;

/// The default refresh margin: a token is renewed this long before it expires.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(30);
/// Assumed lifetime of a token whose response carried no `expires_in`.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// After a failed refresh, no new one starts for this long (doubling per failure in a row, up
/// to [`MAX_FAILURE_BACKOFF`]), token or not: an outage must not turn every call into a
/// request. Callers meanwhile get the cached token while it is valid, else the last error.
const FAILURE_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait after failures in a row.
const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(30);
/// The shortest lifetime a token is cached for: a server answering `expires_in: 0` (or 1)
/// would otherwise send every call to the token endpoint.
pub const MIN_LIFETIME: Duration = Duration::from_secs(5);
/// The longest lifetime a token is cached for, whatever `expires_in` says: a wrong huge
/// value must not keep a token (perhaps revoked) in use for days.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

type MakeAssertion = dyn Fn() -> Result<String, BoxError> + Send + Sync;
type Clock = dyn Fn() -> Instant + Send + Sync;

/// An access token for many threads: cached until shortly before it expires, then renewed
/// with a fresh assertion through [`Exchange::exchange_with`] (retries included).
///
/// - Single-flight: when many threads need a new token at once, exactly one request goes out
///   and the others wait for its result (success or error).
/// - Callers never wait behind a refresh while the cached token is still valid: during the
///   refresh margin one caller refreshes and the others get the cached token at once.
/// - A refresh that fails while the cached token is still valid is logged with `log::warn!`
///   and the cached token keeps being served.
/// - After a failed refresh no new one starts for a while (1 s, doubling per failure in a
///   row, at most 30 s), even when there is no token: callers get the last error at once
///   instead of a request each.
/// - Times are monotonic ([`Instant`]): a wall clock stepping back or forth changes nothing.
///   `expires_in` is clamped to [`MIN_LIFETIME`]`..=`[`MAX_LIFETIME`].
///
/// The refresh margin is 30 s by default, clamped to half the token's lifetime for short-lived
/// tokens. Cloning is cheap and clones share the cache.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    exchange: Exchange,
    make_assertion: Box<MakeAssertion>,
    clock: Box<Clock>,
    margin: Duration,
    /// Refresh in a background thread ahead of expiry ([`TokenSource::refresh_ahead`]).
    ahead: bool,
    /// That thread, once started: unparked when the source goes away so it can end.
    refresher: Mutex<Option<Thread>>,
    /// True while the refresher runs. Callers leave refreshing to it only then: a refresher
    /// that could not start, or ended (a panicking assertion maker), hands the job back.
    refresher_alive: AtomicBool,
    state: Mutex<State>,
    refreshed: Condvar,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let refresher = self
            .refresher
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(thread) = refresher.take() {
            thread.unpark();
        }
    }
}

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    refreshing: bool,
    /// Bumped when a refresh ends; waiters compare it to know their refresh is over.
    generation: u64,
    /// What the last finished refresh produced, for the threads that waited for it.
    last: Option<Result<AccessToken, ExchangeError>>,
    /// No new refresh attempt before this (after a failure).
    quiet_until: Option<Instant>,
    /// Failed refreshes in a row, for the backoff.
    failures: u32,
    /// Counters and times for [`TokenSource::stats`].
    counts: Counts,
}

#[derive(Default)]
struct Counts {
    grants: u64,
    failures: u64,
    invalidations: u64,
    last_refresh: Option<(Instant, SystemTime)>,
}

struct Cached {
    token: AccessToken,
    /// Issued as `token_type` `DPoP` (RFC 9449): used with a proof, under the DPoP scheme.
    dpop: bool,
    refresh_at: Instant,
    expires_at: Instant,
}

impl State {
    /// The cached token if [`TokenSource::token`] would return it without a request: before
    /// its refresh time, or while valid when someone else renews it (another caller, the
    /// background thread) or a failed refresh is still in its backoff.
    fn serveable(&self, now: Instant, background: bool) -> Option<&Cached> {
        let cached = self.cached.as_ref()?;
        let quiet = self.quiet_until.is_some_and(|t| now < t);
        let valid = now < cached.expires_at;
        (now < cached.refresh_at || (valid && (self.refreshing || quiet || background)))
            .then_some(cached)
    }
}

/// A snapshot of a [`TokenSource`]'s state for metrics and health checks
/// ([`TokenSource::stats`]). It holds no token text, so it is safe to log whole.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceStats {
    /// Successful refreshes (grants that produced a token) since the source was made.
    pub grants: u64,
    /// Failed refreshes since the source was made (a refresh is all its retries together).
    pub failures: u64,
    /// Failed refreshes since the last successful one: 0 when healthy.
    pub consecutive_failures: u32,
    /// Tokens dropped through [`TokenSource::invalidate`] (a resource server rejected them).
    pub invalidations: u64,
    /// The wall-clock time of the last successful refresh.
    pub last_refresh: Option<SystemTime>,
    /// How long ago (on the source's monotonic clock) the last successful refresh was.
    pub since_last_refresh: Option<Duration>,
    /// How long the cached token stays valid; `None` without one, zero once it expired.
    pub remaining: Option<Duration>,
    /// True when the cached token is past its refresh time (inside the refresh margin or
    /// expired) or there is none: a refresh is due. Staying stale means refreshes fail.
    pub stale: bool,
    /// True while a refresh is in flight.
    pub refreshing: bool,
}

impl TokenSource {
    /// A source that exchanges assertions made by `make_assertion` (called once per request
    /// attempt, so each carries a fresh `jti`).
    pub fn new<F, E>(exchange: Exchange, make_assertion: F) -> Self
    where
        F: Fn() -> Result<String, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        Self {
            inner: Arc::new(Inner {
                exchange,
                make_assertion: Box::new(move || make_assertion().map_err(Into::into)),
                clock: Box::new(Instant::now),
                margin: DEFAULT_REFRESH_MARGIN,
                ahead: false,
                refresher: Mutex::new(None),
                refresher_alive: AtomicBool::new(false),
                state: Mutex::new(State::default()),
                refreshed: Condvar::new(),
            }),
        }
    }

    /// A source that signs `claims` with `signer` for every request.
    pub fn signed(
        exchange: Exchange,
        signer: jwtgrant_signer::Signer,
        claims: jwtgrant_signer::Claims,
    ) -> Self {
        Self::new(exchange, move || signer.sign(&claims))
    }

    /// Renews tokens `margin` before they expire (default 30 s; clamped to half the lifetime).
    /// Call before sharing the source.
    pub fn refresh_margin(self, margin: Duration) -> Self {
        self.rebuild(|inner| inner.margin = margin)
    }

    /// Refreshes in a background thread, ahead of expiry, so that no caller waits once the
    /// first token is there: [`TokenSource::token`] then only reads the cache (a mutex, no
    /// I/O) while the token is valid. The refresh still happens once per lifetime (at the
    /// start of the refresh margin), still with a fresh assertion and retries, and still
    /// under the failure backoff; a failed one is tried again in the background while the
    /// cached token is served. Call before sharing the source.
    ///
    /// From an async service: do the first fill off the executor (`spawn_blocking(move ||
    /// source.token())` at startup); after that `token()` returns from the cache without
    /// blocking. It blocks on the network only when no valid token is left, i.e. when the
    /// background refreshes have failed for the token's whole lifetime (an outage): keep
    /// that call in `spawn_blocking` too if the executor must never block. The thread holds
    /// the source weakly and ends when the last clone is dropped.
    pub fn refresh_ahead(self) -> Self {
        self.rebuild(|inner| inner.ahead = true)
    }

    /// Replaces the monotonic clock (default [`Instant::now`]), for tests. Call before sharing.
    pub fn clock(self, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        self.rebuild(|inner| inner.clock = Box::new(clock))
    }

    /// The exchange this source uses.
    pub fn exchange(&self) -> &Exchange {
        &self.inner.exchange
    }

    /// [`TokenSource::token`] and the instant (on this source's clock) the token expires,
    /// for a caller that hands the token on and must know when it goes stale (a sidecar
    /// writing it to a file). If a refresh replaced the token in between, the expiry given
    /// is now: the caller asks again at once and gets the new one.
    pub fn token_until(&self) -> Result<(AccessToken, Instant), ExchangeError> {
        let token = self.token()?;
        let state = self.inner.lock();
        let until = match &state.cached {
            Some(cached) if cached.token == token => cached.expires_at,
            _ => (self.inner.clock)(),
        };
        Ok((token, until))
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    pub fn token(&self) -> Result<AccessToken, ExchangeError> {
        let inner = &*self.inner;
        let mut state = inner.lock();
        loop {
            let now = (inner.clock)();
            let quiet = state.quiet_until.is_some_and(|t| now < t);
            if let Some(cached) = state.serveable(now, inner.background()) {
                return Ok(cached.token.clone());
            }
            // No valid token, and the last refresh failed moments ago: its error, at once.
            if quiet
                && !state.refreshing
                && let Some(Err(err)) = &state.last
            {
                return Err(err.clone());
            }
            if !state.refreshing {
                break;
            }
            // No valid token and someone else is refreshing: wait for that refresh to end
            // and share its result.
            let generation = state.generation;
            while state.refreshing && state.generation == generation {
                state = inner
                    .refreshed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.generation != generation
                && let Some(last) = &state.last
            {
                return last.clone();
            }
        }
        state.refreshing = true;
        drop(state);
        let result = self.inner.refresh();
        if inner.ahead && result.is_ok() {
            start_refresher(&self.inner);
        }
        result
    }
}

impl TokenSource {
    /// Drops the cached token if it is still `token`, so that the next [`TokenSource::token`]
    /// fetches a new one; for a token a resource server rejected (`401` with
    /// `error="invalid_token"`: revoked, or the server's keys changed). Returns whether it
    /// was dropped: a token that a refresh already replaced stays, so many requests failing
    /// with the same old token cost one new grant, not one each.
    ///
    /// The failure backoff still applies; a resource server that rejects every token gets a
    /// new grant per rejected token, so count them ([`SourceStats::invalidations`]).
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        let mut state = self.inner.lock();
        let current = state.cached.as_ref().is_some_and(|c| &c.token == token);
        if current {
            state.cached = None;
            state.counts.invalidations = state.counts.invalidations.saturating_add(1);
            // A waiter must not be handed the dropped token as a refresh's result.
            if matches!(&state.last, Some(Ok(last)) if last == token) {
                state.last = None;
            }
        }
        drop(state);
        if current {
            // The background refresher, if any, renews at once instead of at its next round.
            if let Some(thread) = &*self
                .inner
                .refresher
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
            {
                thread.unpark();
            }
            log::info!(
                "token source: a resource server rejected the token from {}; the next call fetches a new one",
                self.inner.exchange.token_endpoint()
            );
        }
        current
    }

    /// A snapshot of the source: counters, the last refresh, the cached token's remaining
    /// lifetime. Takes the state lock briefly and never blocks on a refresh.
    pub fn stats(&self) -> SourceStats {
        let inner = &*self.inner;
        let state = inner.lock();
        let now = (inner.clock)();
        SourceStats {
            grants: state.counts.grants,
            failures: state.counts.failures,
            consecutive_failures: state.failures,
            invalidations: state.counts.invalidations,
            last_refresh: state.counts.last_refresh.map(|(_, wall)| wall),
            since_last_refresh: state
                .counts
                .last_refresh
                .map(|(at, _)| now.saturating_duration_since(at)),
            remaining: state
                .cached
                .as_ref()
                .map(|c| c.expires_at.saturating_duration_since(now)),
            stale: state.cached.as_ref().is_none_or(|c| now >= c.refresh_at),
            refreshing: state.refreshing,
        }
    }

    /// The cached token and whether it is DPoP-bound, if [`TokenSource::token`] would
    /// return it at once (no request, no wait).
    pub(crate) fn cached_now(&self) -> Option<(AccessToken, bool)> {
        let inner = &*self.inner;
        let state = inner.lock();
        state
            .serveable((inner.clock)(), inner.background())
            .map(|c| (c.token.clone(), c.dpop))
    }

    /// [`TokenSource::token`] and whether it is DPoP-bound (`token_type` `DPoP`).
    pub(crate) fn token_bound(&self) -> Result<(AccessToken, bool), ExchangeError> {
        let token = self.token()?;
        let state = self.inner.lock();
        let dpop = match &state.cached {
            Some(cached) if cached.token == token => cached.dpop,
            // Replaced or dropped in between: the exchange proves possession of a key when
            // it has one, and the server binds to it then.
            _ => self.inner.exchange.dpop_ref().is_some(),
        };
        Ok((token, dpop))
    }
}

#[cfg(test)]
impl TokenSource {
    /// Caches `token` as if a grant just returned it, for unit tests without a server.
    pub(crate) fn fill_for_tests(&self, token: &str, dpop: bool, lifetime: Duration) {
        let now = (self.inner.clock)();
        self.inner.lock().cached = Some(Cached {
            token: AccessToken::new(token),
            dpop,
            refresh_at: now + effective_margin(lifetime, self.inner.margin),
            expires_at: now + lifetime,
        });
    }
}

/// Starts the background refresher of `inner` unless it runs already. A thread that cannot
/// be spawned is logged, and callers refresh as without the background mode.
fn start_refresher(inner: &Arc<Inner>) {
    let mut refresher = inner
        .refresher
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if inner.refresher_alive.load(Ordering::Acquire) {
        return;
    }
    let weak = Arc::downgrade(inner);
    inner.refresher_alive.store(true, Ordering::Release);
    match std::thread::Builder::new()
        .name("jwtgrant-token-refresh".into())
        .spawn(move || {
            let _ended = Ended(&weak);
            refresh_ahead_loop(&weak);
        }) {
        Ok(handle) => *refresher = Some(handle.thread().clone()),
        Err(e) => {
            inner.refresher_alive.store(false, Ordering::Release);
            log::warn!(
                "token source: cannot start the background refresher ({e}); callers will refresh"
            );
        }
    }
}

/// Marks the refresher as ended however its thread ends (a panic included), so callers
/// refresh again and the next successful refresh starts a new one.
struct Ended<'a>(&'a Weak<Inner>);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        if let Some(inner) = self.0.upgrade() {
            inner.refresher_alive.store(false, Ordering::Release);
            *inner
                .refresher
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}

/// The background refresher: sleeps until the cached token's refresh time (or the end of a
/// failure backoff), refreshes, repeats. Holds the source only weakly between rounds, and
/// ends when it is gone. Wakes at least once a second to notice that.
fn refresh_ahead_loop(weak: &Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let wait = {
            let mut state = inner.lock();
            let now = (inner.clock)();
            let due = match &state.cached {
                Some(cached) => cached
                    .refresh_at
                    .max(state.quiet_until.unwrap_or(cached.refresh_at)),
                // Dropped by `invalidate`: renew now (after a failure's backoff, if any).
                None => state.quiet_until.unwrap_or(now),
            };
            if now >= due && !state.refreshing {
                state.refreshing = true;
                None
            } else {
                Some(due.saturating_duration_since(now))
            }
        };
        match wait {
            None => {
                let _ = inner.refresh();
            }
            Some(wait) => {
                drop(inner);
                std::thread::park_timeout(
                    wait.clamp(Duration::from_millis(10), Duration::from_secs(1)),
                );
            }
        }
    }
}

impl Inner {
    /// Runs one refresh; the caller has set `refreshing`.
    fn refresh(&self) -> Result<AccessToken, ExchangeError> {
        let inner = self;
        let started = (inner.clock)();
        let result = catch_unwind(AssertUnwindSafe(|| {
            inner.exchange.exchange_with(|| (inner.make_assertion)())
        }));
        // Logged after the lock is released: a slow logger must not hold up `token()`.
        let mut note: Option<(log::Level, String)> = None;
        let mut state = inner.lock();
        state.refreshing = false;
        state.generation = state.generation.wrapping_add(1);
        let outcome = match result {
            Ok(Ok(response)) => {
                let lifetime = clamp_lifetime(response.expires_in);
                let expires_at = started.checked_add(lifetime).unwrap_or(started);
                let refresh_at = expires_at
                    .checked_sub(effective_margin(lifetime, inner.margin))
                    .unwrap_or(started);
                note = Some((
                    log::Level::Debug,
                    format!(
                        "token source: new token for {}, lifetime {} s",
                        inner.exchange.token_endpoint(),
                        lifetime.as_secs()
                    ),
                ));
                state.cached = Some(Cached {
                    token: response.access_token.clone(),
                    dpop: response.is_dpop(),
                    refresh_at,
                    expires_at,
                });
                state.quiet_until = None;
                state.failures = 0;
                state.counts.grants = state.counts.grants.saturating_add(1);
                state.counts.last_refresh = Some(((inner.clock)(), SystemTime::now()));
                Ok(response.access_token)
            }
            Ok(Err(err)) => Err(err),
            Err(panic) => {
                state.last = Some(Err(ExchangeError::Assertion {
                    source: Source::from(BoxError::from("the token refresh panicked")),
                }));
                drop(state);
                inner.refreshed.notify_all();
                resume_unwind(panic);
            }
        };
        let outcome = match outcome {
            Ok(token) => Ok(token),
            Err(err) => {
                let now = (inner.clock)();
                state.failures = state.failures.saturating_add(1);
                state.counts.failures = state.counts.failures.saturating_add(1);
                state.quiet_until = now.checked_add(failure_backoff(state.failures));
                let still_valid = state
                    .cached
                    .as_ref()
                    .filter(|cached| now < cached.expires_at)
                    .map(|cached| (cached.token.clone(), cached.expires_at));
                match still_valid {
                    Some((token, expires_at)) => {
                        note = Some((
                            log::Level::Warn,
                            format!(
                                "token source: refreshing the token from {} failed, still serving the cached one ({} s left): {err}",
                                inner.exchange.token_endpoint(),
                                expires_at.saturating_duration_since(now).as_secs()
                            ),
                        ));
                        Ok(token)
                    }
                    None => Err(err),
                }
            }
        };
        state.last = Some(outcome.clone());
        drop(state);
        inner.refreshed.notify_all();
        if let Some((level, message)) = note {
            log::log!(level, "{message}");
        }
        outcome
    }
}

impl TokenSource {
    /// Applies a configuration change; only valid before the source is shared.
    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                change(&mut inner);
                Self {
                    inner: Arc::new(inner),
                }
            }
            Err(shared) => {
                log::warn!(
                    "token source: configuration change ignored: the source is already shared"
                );
                Self { inner: shared }
            }
        }
    }
}

impl Inner {
    /// In the background mode the refresher thread renews; callers only read.
    fn background(&self) -> bool {
        self.ahead && self.refresher_alive.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every write is a whole field.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("TokenSource")
            .field("exchange", &self.inner.exchange)
            .field("refresh_margin", &self.inner.margin)
            .field("cached", &state.cached.is_some())
            .field("expires_at", &state.cached.as_ref().map(|c| c.expires_at))
            .field("refreshing", &state.refreshing)
            .finish()
    }
}

/// How long to cache a token the server said lives `expires_in` seconds.
pub(crate) fn clamp_lifetime(expires_in: Option<u64>) -> Duration {
    expires_in
        .map_or(DEFAULT_LIFETIME, Duration::from_secs)
        .clamp(MIN_LIFETIME, MAX_LIFETIME)
}

/// The quiet time after `failures` failed refreshes in a row (1 s, 2 s, 4 s, ... 30 s).
pub(crate) fn failure_backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FAILURE_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_FAILURE_BACKOFF)
}

/// The margin actually used: the configured one, but at most half the lifetime.
pub(crate) fn effective_margin(lifetime: Duration, margin: Duration) -> Duration {
    margin.min(lifetime / 2)
}

/// Compile-time check: one source, many threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<TokenSource>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_clamped() {
        assert_eq!(clamp_lifetime(None), DEFAULT_LIFETIME);
        assert_eq!(clamp_lifetime(Some(0)), MIN_LIFETIME);
        assert_eq!(clamp_lifetime(Some(300)), Duration::from_secs(300));
        assert_eq!(clamp_lifetime(Some(u64::MAX)), MAX_LIFETIME);
    }

    #[test]
    fn failures_back_off_to_a_cap() {
        let secs: Vec<u64> = (1..=7).map(|n| failure_backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(failure_backoff(u32::MAX), MAX_FAILURE_BACKOFF);
    }

    #[test]
    fn margin_is_clamped_for_short_lived_tokens() {
        let m = DEFAULT_REFRESH_MARGIN;
        assert_eq!(effective_margin(Duration::from_secs(300), m), m);
        assert_eq!(effective_margin(Duration::from_secs(60), m), m);
        assert_eq!(
            effective_margin(Duration::from_secs(20), m),
            Duration::from_secs(10)
        );
        assert_eq!(effective_margin(Duration::ZERO, m), Duration::ZERO);
    }
}
