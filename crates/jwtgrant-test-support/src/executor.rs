//! [`block_on`]: the smallest executor, for tests of futures that must need no runtime.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// What [`block_on`] saw besides the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polls {
    /// Polls that answered `Pending`.
    pub pending: u32,
    /// Wakes the future's waker got.
    pub wakes: u64,
}

/// Wakes by unparking the polling thread; counts the wakes.
#[derive(Debug)]
pub struct ParkWaker {
    thread: Thread,
    wakes: AtomicU64,
}

impl ParkWaker {
    /// A waker for the current thread, and a handle to read its wake count.
    pub fn current() -> (Arc<ParkWaker>, Waker) {
        let waker = Arc::new(ParkWaker {
            thread: thread::current(),
            wakes: AtomicU64::new(0),
        });
        let task = Waker::from(Arc::clone(&waker));
        (waker, task)
    }

    /// How many times it was woken.
    pub fn wakes(&self) -> u64 {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for ParkWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Runs `future` to completion on this thread: poll, park until woken, poll again. No
/// runtime, no timers, no I/O driver: a future that needs one never completes.
pub fn block_on<F: Future>(future: F) -> (F::Output, Polls) {
    let (waker, task) = ParkWaker::current();
    let mut cx = Context::from_waker(&task);
    let mut future = pin!(future);
    let mut pending = 0;
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            let wakes = waker.wakes();
            return (out, Polls { pending, wakes });
        }
        pending += 1;
        thread::park();
    }
}
