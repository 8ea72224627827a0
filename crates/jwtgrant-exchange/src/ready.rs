//! [`Ready`]: awaiting a [`TokenSource`] from async code without a runtime and without
//! blocking an executor thread.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::error::ExchangeError;
use crate::source::TokenSource;

/// The future of [`TokenSource::ready`]. It resolves at its first poll when the source has a
/// token it would hand out at once; otherwise that poll starts a thread that runs
/// [`TokenSource::token`] (a grant, single-flight with every other caller) and wakes the task
/// when it is done. std only: it works under any executor, and the waiting is on that
/// thread, never on the executor's.
///
/// Dropping it before it resolves leaves the thread to finish its grant, which fills the
/// source for the next caller.
#[must_use = "a future does nothing unless awaited"]
pub struct Ready {
    source: TokenSource,
    /// Set once the thread is started: its result and the task to wake.
    slot: Option<Arc<Mutex<Slot>>>,
}

#[derive(Default)]
struct Slot {
    result: Option<Result<(), ExchangeError>>,
    waker: Option<Waker>,
}

impl TokenSource {
    /// Waits, from async code, until [`TokenSource::token`] returns without a request: at
    /// once when a token is cached and not due for renewal, otherwise after a thread has
    /// fetched one. The error is the grant's when there is no valid token.
    ///
    /// Await it at startup, before serving, with a [`TokenSource::refresh_ahead`] source:
    /// from then on the background thread renews ahead of expiry and `token()` only reads
    /// the cache, so async code can call it directly. (It blocks on the network only when
    /// no valid token is left, during an outage longer than the token's lifetime; a service
    /// that must never block there awaits `ready()` before each `token()`, which
    /// `jwtgrant-tower`'s layer does in `poll_ready`.)
    ///
    /// ```
    /// # use jwtgrant_exchange::{Exchange, TokenSource};
    /// # fn block_on<F: std::future::Future>(_: F) {}
    /// # let exchange = Exchange::new("https://sso.example.com/token").unwrap();
    /// let source = TokenSource::new(exchange, || Ok::<_, std::io::Error>("h.p.s".to_owned()))
    ///     .refresh_ahead();
    /// # block_on(async move {
    /// source.ready().await?; // the first grant, on a thread of its own
    /// let token = source.token()?; // from the cache, no I/O
    /// # Ok::<_, jwtgrant_exchange::ExchangeError>(()) });
    /// ```
    pub fn ready(&self) -> Ready {
        Ready {
            source: self.clone(),
            slot: None,
        }
    }
}

impl Future for Ready {
    type Output = Result<(), ExchangeError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `Ready` is `Unpin` (an `Arc` and an `Option<Arc>`): no pinning needed.
        let this = self.get_mut();
        if let Some(slot) = &this.slot {
            let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
            return match slot.result.take() {
                Some(result) => Poll::Ready(result),
                None => {
                    slot.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            };
        }
        if this.source.cached_now().is_some() {
            return Poll::Ready(Ok(()));
        }
        // The waker goes in before the thread starts: a grant that ends at once still finds it.
        let slot = Arc::new(Mutex::new(Slot {
            result: None,
            waker: Some(cx.waker().clone()),
        }));
        let source = this.source.clone();
        let theirs = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("jwtgrant-token-ready".into())
            .spawn(move || {
                let result = source.token().map(drop);
                let waker = {
                    let mut slot = theirs.lock().unwrap_or_else(PoisonError::into_inner);
                    slot.result = Some(result);
                    slot.waker.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            });
        match spawned {
            Ok(_) => {
                this.slot = Some(slot);
                Poll::Pending
            }
            Err(e) => {
                // No thread to wait on: fetch here. It blocks this executor thread once,
                // which beats failing a service that could run.
                log::warn!(
                    "token source: cannot start a thread to fetch the token ({e}); fetching in place"
                );
                Poll::Ready(this.source.token().map(drop))
            }
        }
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("source", &self.source)
            .field("waiting", &self.slot.is_some())
            .finish()
    }
}

/// Compile-time check: the future moves between executor threads.
const _: () = {
    const fn assert_send_unpin<T: Send + Sync + Unpin>() {}
    assert_send_unpin::<Ready>();
};
