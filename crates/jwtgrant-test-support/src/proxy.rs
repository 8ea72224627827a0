//! [`FaultProxy`]: a loopback TCP proxy in front of a real server that misbehaves on demand.
//!
//! The end-to-end suite puts it between the client and the real Keycloak to see what the
//! client does when the network does: drop connections, answer late, reset a connection
//! halfway through the answer, or cut the answer short. It forwards bytes and understands no
//! HTTP beyond counting; the server behind it stays the real one.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the proxy does with the next connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward both ways, untouched.
    Pass,
    /// Accept, then close at once without forwarding anything.
    Drop,
    /// Forward the request, then hold the answer back this long before forwarding it.
    Delay(Duration),
    /// Forward this many bytes of the answer, then reset the connection (RST).
    ResetAfter(usize),
    /// Forward this many bytes of the answer, then close the connection cleanly (FIN).
    TruncateAfter(usize),
}

/// A loopback proxy to `upstream` (a loopback address too). Stops when dropped; each
/// connection lives at most 60 s, so a test can fail but never hang on it.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
}

struct State {
    fault: Mutex<Fault>,
    connections: AtomicUsize,
    stopped: AtomicBool,
    /// The client side of every connection, for [`FaultProxy::sever_all`].
    live: Mutex<Vec<TcpStream>>,
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `upstream` (e.g. `127.0.0.1:8080`).
    ///
    /// # Panics
    /// If `upstream` is not a loopback address, or binding fails.
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        assert!(
            upstream.ip().is_loopback(),
            "the fault proxy only forwards to loopback, not {upstream}"
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let addr = listener.local_addr().expect("a bound address");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let state = Arc::new(State {
            fault: Mutex::new(Fault::Pass),
            connections: AtomicUsize::new(0),
            stopped: AtomicBool::new(false),
            live: Mutex::new(Vec::new()),
        });
        let shared = Arc::clone(&state);
        thread::spawn(move || accept_loop(&listener, upstream, &shared));
        FaultProxy { addr, state }
    }

    /// `http://127.0.0.1:PORT`, the base URL to give the client instead of the server's.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What connections get from now on. Open connections are closed, so a client's pooled
    /// connection cannot slip past the fault.
    pub fn set(&self, fault: Fault) {
        *self.state.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
        self.sever_all();
    }

    /// Closes every connection open now, as a server restart would: a client holding one in
    /// its pool finds it dead on its next request.
    pub fn sever_all(&self) {
        let mut live = self.state.live.lock().unwrap_or_else(|p| p.into_inner());
        for stream in live.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

fn accept_loop(listener: &TcpListener, upstream: SocketAddr, state: &Arc<State>) {
    while !state.stopped.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                state.connections.fetch_add(1, Ordering::SeqCst);
                if let Ok(clone) = client.try_clone() {
                    let mut live = state.live.lock().unwrap_or_else(|p| p.into_inner());
                    live.push(clone);
                }
                let fault = *state.fault.lock().unwrap_or_else(|p| p.into_inner());
                let state = Arc::clone(state);
                thread::spawn(move || serve(client, upstream, fault, &state));
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn serve(client: TcpStream, upstream: SocketAddr, fault: Fault, state: &State) {
    let _ = client.set_nonblocking(false);
    if fault == Fault::Drop {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    // Requests: client -> server, untouched, in a thread of their own.
    if let (Ok(mut from), Ok(mut to)) = (client.try_clone(), server.try_clone()) {
        thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        });
    }
    // Answers: server -> client, with the fault applied.
    let (mut from, mut to) = (server, client);
    let _ = from.set_read_timeout(Some(Duration::from_millis(200)));
    let mut sent = 0usize;
    let mut delayed = false;
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline && !state.stopped.load(Ordering::SeqCst) {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => break,
        };
        if let Fault::Delay(d) = fault
            && !delayed
        {
            delayed = true;
            thread::sleep(d);
        }
        let limit = match fault {
            Fault::ResetAfter(limit) | Fault::TruncateAfter(limit) => Some(limit),
            _ => None,
        };
        let take = limit.map_or(n, |limit| n.min(limit.saturating_sub(sent)));
        if to.write_all(&buf[..take]).is_err() {
            break;
        }
        sent += take;
        if limit.is_some_and(|limit| sent >= limit) {
            if matches!(fault, Fault::ResetAfter(_)) {
                reset(&to, state);
                let _ = from.shutdown(Shutdown::Both);
                return;
            }
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// Makes the close of `stream` a TCP reset (RST) instead of a clean FIN: what a crashing
/// server or a middlebox killing the connection looks like. With linger 0 the RST goes out
/// when the last handle closes, so the other handles go first: the request-copying thread's
/// (its read ends with the read shutdown) and the one kept for `sever_all`. A shutdown of the
/// write side would send a FIN instead, so there is none.
fn reset(stream: &TcpStream, state: &State) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    let _ = stream.shutdown(Shutdown::Read);
    if let Ok(peer) = stream.peer_addr() {
        let mut live = state.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|s| s.peer_addr().ok() != Some(peer));
    }
}
