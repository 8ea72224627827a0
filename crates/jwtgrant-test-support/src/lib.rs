//! Test helpers for the jwtgrant workspace. Never published.
//!
//! [`Stub`] is the one loopback HTTP/1.1 stub the workspace's fault and parsing tests share:
//! a `std::net` server on `127.0.0.1:0` that answers scripted [`Reply`]s, records each
//! [`Request`] for assertions, can misbehave on purpose (never answer, answer slowly, close
//! mid-body, send a huge body or garbage) and, with the `tls` feature, serves HTTPS with a
//! throwaway CA and can require a client certificate. It is a *stub*: the end-to-end suite
//! talks to a real Keycloak, never to this.
//!
//! ```
//! use jwtgrant_test_support::{Reply, Stub};
//!
//! let stub = Stub::start(|req, i| match (req.path(), i) {
//!     ("/token", 0) => Reply::status(503).body("try again"),
//!     ("/token", _) => Reply::json(200, r#"{"access_token":"t"}"#),
//!     _ => Reply::status(404),
//! });
//! let url = stub.url("/token"); // http://127.0.0.1:PORT/token
//! # let _ = url;
//! assert_eq!(stub.count(), 0);
//! ```
//!
//! [`block_on`] is the smallest executor (poll, park, poll), for the tests of futures that
//! must work without a runtime.
//!
//! Every stub has a bounded lifetime (30 s unless [`StubBuilder::lifetime`] says otherwise):
//! when it ends, or when the [`Stub`] is dropped, every connection is shut down and the
//! listener stops, so a test can fail but never hang on the stub.

#![warn(missing_docs)]

mod executor;
mod http;
mod proxy;
#[cfg(feature = "tls")]
pub mod tls;

pub use executor::{ParkWaker, Polls, block_on};
pub use proxy::{Fault, FaultProxy};

use std::fmt;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// How long a stub lives unless told otherwise: far longer than any test here needs, short
/// enough that a stuck test fails instead of hanging the run.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(30);

/// A loopback HTTP/1.1 (or, with the `tls` feature, HTTPS) stub server for fault and parsing
/// tests. Bound to `127.0.0.1:0`; stops when dropped or when its lifetime ends.
pub struct Stub {
    addr: SocketAddr,
    base: String,
    shared: Arc<Shared>,
    #[cfg(feature = "tls")]
    tls: Option<tls::Material>,
}

/// Settings for a [`Stub`]; start with [`Stub::builder`].
#[derive(Debug, Clone)]
pub struct StubBuilder {
    lifetime: Duration,
    keep_alive: bool,
    record: bool,
    #[cfg(feature = "tls")]
    tls: Option<tls::Mode>,
}

/// One request as the stub read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as sent: a path (`/token?x=1`), or an absolute URL when the client
    /// talks to the stub as a proxy (`http://kc.example/token`).
    pub target: String,
    /// `HTTP/1.1`.
    pub version: String,
    /// Header names and values in the order received (values trimmed).
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes, or the decoded chunks of a chunked body).
    pub body: Vec<u8>,
    /// The DER of the client certificate presented on this connection (TLS stubs only).
    pub client_cert: Option<Vec<u8>>,
}

/// What the stub does with one request: a response (possibly slow, cut short or huge), raw
/// bytes, silence, or a closed connection. Build with the constructors below.
#[derive(Debug, Clone)]
pub struct Reply {
    kind: Kind,
    /// Waited before anything is written.
    delay: Duration,
}

#[derive(Debug, Clone)]
enum Kind {
    Respond(http::Response),
    /// Written verbatim, then the connection is closed.
    Raw(Vec<u8>),
    /// Nothing is written; the connection stays open until the stub stops.
    Hang,
    /// The connection is closed without an answer.
    Close,
}

type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// A loopback address where nothing listens, for connection-refused tests: a port the OS
/// just handed out and took back (another process could take it in between, which no test
/// here has seen happen).
pub fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("a bound address")
}

impl Stub {
    /// Settings: lifetime, keep-alive, recording, TLS.
    pub fn builder() -> StubBuilder {
        StubBuilder {
            lifetime: DEFAULT_LIFETIME,
            keep_alive: false,
            record: true,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Starts a plain-HTTP stub that calls `handler` with each request and its 0-based index
    /// (counted over all connections) and sends back the [`Reply`] it returns.
    pub fn start(handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Stub {
        Stub::builder().start(handler)
    }

    /// Starts a plain-HTTP stub that answers `replies` in order; the last one repeats.
    ///
    /// # Panics
    /// If `replies` is empty.
    pub fn replies(replies: Vec<Reply>) -> Stub {
        Stub::builder().replies(replies)
    }

    /// `http://127.0.0.1:PORT` (or `https://...` for a TLS stub), without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The base joined with `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The loopback address the stub listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The stub's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// How many requests the stub has read so far (counted before the handler runs, so a
    /// request whose reply is still pending counts).
    pub fn count(&self) -> usize {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// The requests read so far, in order (empty when recording is off).
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// Waits until the stub has read at least `n` requests; false if `timeout` passed first.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = lock(&self.shared.requests);
        while self.count() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = match self.shared.arrived.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.shared.stop(self.addr);
    }
}

impl fmt::Debug for Stub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stub")
            .field("base", &self.base)
            .field("count", &self.count())
            .finish_non_exhaustive()
    }
}

impl StubBuilder {
    /// How long the stub serves before it shuts every connection and stops (default
    /// [`DEFAULT_LIFETIME`]). A [`Reply::hang`] lasts until then.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Keep connections open for more requests (HTTP/1.1 keep-alive) instead of answering
    /// each with `Connection: close` and closing it (the default).
    pub fn keep_alive(mut self, on: bool) -> Self {
        self.keep_alive = on;
        self
    }

    /// Whether to keep every request for [`Stub::requests`] (default true). Off, only
    /// [`Stub::count`] is kept: for benchmarks, whose memory use is measured.
    pub fn record(mut self, on: bool) -> Self {
        self.record = on;
        self
    }

    /// Starts the stub; see [`Stub::start`].
    pub fn start(self, handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Stub {
        self.launch(Behaviour::Handler(Arc::new(handler)))
    }

    /// Starts the stub answering `replies` in order; the last one repeats.
    ///
    /// # Panics
    /// If `replies` is empty.
    pub fn replies(self, replies: Vec<Reply>) -> Stub {
        assert!(!replies.is_empty(), "a stub needs at least one reply");
        self.start(move |_, i| replies[i.min(replies.len() - 1)].clone())
    }

    /// Starts a stub that writes `reply` on every connection as soon as it is accepted,
    /// reading nothing first: a server of another protocol, such as a plain-HTTP port that a
    /// TLS client sends its ClientHello to. No requests are recorded.
    pub fn speak_first(self, reply: Reply) -> Stub {
        self.launch(Behaviour::SpeakFirst(reply))
    }

    fn launch(self, behaviour: Behaviour) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stub to 127.0.0.1:0");
        let addr = listener.local_addr().expect("the stub's address");
        #[cfg(feature = "tls")]
        let (scheme, tls, acceptor) = match &self.tls {
            Some(mode) => {
                let material = tls::Material::generate(*mode);
                let config = material.server_config();
                ("https", Some(material), Some(config))
            }
            None => ("http", None, None),
        };
        #[cfg(not(feature = "tls"))]
        let scheme = "http";
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            stopped: Condvar::new(),
            requests: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            count: AtomicUsize::new(0),
            record: self.record,
        });
        let server = Arc::new(Server {
            shared: Arc::clone(&shared),
            behaviour,
            keep_alive: self.keep_alive,
            #[cfg(feature = "tls")]
            tls: acceptor,
        });
        let deadline = Instant::now() + self.lifetime;
        {
            let shared = Arc::clone(&shared);
            thread::spawn(move || shared.watch(deadline, addr));
        }
        thread::spawn(move || accept_loop(&listener, &server));
        Stub {
            addr,
            base: format!("{scheme}://{addr}"),
            shared,
            #[cfg(feature = "tls")]
            tls,
        }
    }
}

impl Request {
    /// `POST /token HTTP/1.1`.
    pub fn request_line(&self) -> String {
        format!("{} {} {}", self.method, self.target, self.version)
    }

    /// The path and query of the target, also when the target is an absolute URL.
    pub fn path(&self) -> &str {
        match self.target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => &self.target,
        }
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first value of `name` in an `application/x-www-form-urlencoded` body, decoded.
    pub fn form(&self, name: &str) -> Option<String> {
        http::form_pairs(&self.body)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

impl Reply {
    /// A response with `status`, no headers of its own and an empty body.
    pub fn status(status: u16) -> Reply {
        Reply::from(Kind::Respond(http::Response::new(status)))
    }

    /// A response with `status`, `Content-Type: application/json` and `body`.
    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply::status(status)
            .header("Content-Type", "application/json")
            .body(body.into())
    }

    /// `bytes` written verbatim (status line and all), then the connection is closed.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply::from(Kind::Raw(bytes.into()))
    }

    /// Bytes that are not HTTP at all, then the connection is closed.
    pub fn garbage() -> Reply {
        Reply::raw(&b"\x16\x03\x01\x00\xffnot HTTP at all\xfe\xfd\r\n\r\n"[..])
    }

    /// Accept the request, then never answer: the connection stays open until the stub
    /// stops (its lifetime ends or it is dropped).
    pub fn hang() -> Reply {
        Reply::from(Kind::Hang)
    }

    /// Close the connection without answering.
    pub fn close() -> Reply {
        Reply::from(Kind::Close)
    }

    /// Adds a response header (after `Content-Length` and `Connection`, which the stub
    /// writes itself unless set here). No effect on raw, hang and close replies.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Kind::Respond(r) = &mut self.kind {
            r.headers.push((name.into(), value.into()));
        }
        self
    }

    /// Sets the response body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        if let Kind::Respond(r) = &mut self.kind {
            r.body = http::Body::Bytes(body.into());
        }
        self
    }

    /// A body of `len` filler bytes, streamed without being held in memory (with its
    /// `Content-Length`): for body caps.
    pub fn huge_body(mut self, len: u64) -> Self {
        if let Kind::Respond(r) = &mut self.kind {
            r.body = http::Body::Filler(len);
        }
        self
    }

    /// Waits `delay` before writing anything (a slow server).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Writes the head at once, then the body one byte at a time with `gap` before each byte
    /// (a server that answers but trickles).
    pub fn trickle(mut self, gap: Duration) -> Self {
        if let Kind::Respond(r) = &mut self.kind {
            r.trickle = Some(gap);
        }
        self
    }

    /// Sends the head (with the full `Content-Length`) and only the first `bytes` bytes of
    /// the body, then closes the connection: a connection lost mid-body.
    pub fn cut_after(mut self, bytes: u64) -> Self {
        if let Kind::Respond(r) = &mut self.kind {
            r.cut_after = Some(bytes);
        }
        self
    }

    fn from(kind: Kind) -> Reply {
        Reply {
            kind,
            delay: Duration::ZERO,
        }
    }
}

// ---------------------------------------------------------------- the server

enum Behaviour {
    Handler(Arc<Handler>),
    SpeakFirst(Reply),
}

struct Server {
    shared: Arc<Shared>,
    behaviour: Behaviour,
    keep_alive: bool,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// State shared by the stub handle, the acceptor, the watchdog and the connections.
struct Shared {
    state: Mutex<State>,
    /// Signalled when the stub stops.
    stopped: Condvar,
    requests: Mutex<Vec<Request>>,
    /// Signalled when a request arrives.
    arrived: Condvar,
    count: AtomicUsize,
    record: bool,
}

#[derive(Default)]
struct State {
    stopped: bool,
    next_id: u64,
    /// The open connections, so stopping can shut them all.
    open: Vec<(u64, TcpStream)>,
}

/// Locks `m`, taking the data even if a panicking test thread poisoned it: the stub's state
/// stays consistent under every lock (each critical section is a push or a flag).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn is_stopped(&self) -> bool {
        lock(&self.state).stopped
    }

    /// Stops: shuts every open connection, wakes sleepers and the acceptor.
    fn stop(&self, addr: SocketAddr) {
        {
            let mut state = lock(&self.state);
            if state.stopped {
                return;
            }
            state.stopped = true;
            for (_, conn) in state.open.drain(..) {
                let _ = conn.shutdown(Shutdown::Both);
            }
        }
        self.stopped.notify_all();
        // The acceptor is blocked in accept(): a connection wakes it to see the flag.
        let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    }

    /// The watchdog: stops the stub at `deadline` unless it stopped before.
    fn watch(&self, deadline: Instant, addr: SocketAddr) {
        let mut state = lock(&self.state);
        while !state.stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = match self.stopped.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        drop(state);
        self.stop(addr);
    }

    /// Sleeps for `d` unless the stub stops first; false if it stopped.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut state = lock(&self.state);
        while !state.stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            state = match self.stopped.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        false
    }

    /// Registers a connection for shutdown at stop; None if the stub already stopped.
    fn open(&self, conn: &TcpStream) -> Option<u64> {
        let mut state = lock(&self.state);
        if state.stopped {
            return None;
        }
        let id = state.next_id;
        state.next_id += 1;
        state.open.push((id, conn.try_clone().ok()?));
        Some(id)
    }

    fn closed(&self, id: u64) {
        lock(&self.state).open.retain(|(i, _)| *i != id);
    }

    /// Counts (and records) a request; returns its index.
    fn arrive(&self, req: &Request) -> usize {
        let mut log = lock(&self.requests);
        if self.record {
            log.push(req.clone());
        }
        let index = self.count.fetch_add(1, Ordering::SeqCst);
        drop(log);
        self.arrived.notify_all();
        index
    }
}

fn accept_loop(listener: &TcpListener, server: &Arc<Server>) {
    for conn in listener.incoming() {
        if server.shared.is_stopped() {
            return;
        }
        let Ok(conn) = conn else { continue };
        let Some(id) = server.shared.open(&conn) else {
            return;
        };
        let server = Arc::clone(server);
        thread::spawn(move || {
            let _ = conn.set_nodelay(true);
            connection(&server, conn);
            server.shared.closed(id);
        });
    }
}

/// A connection the stub reads requests from and writes replies to: plain TCP or TLS.
pub(crate) trait Conn: Read + Write + Send {
    /// The DER of the client's certificate, when TLS brought one.
    fn client_cert(&self) -> Option<Vec<u8>>;
    /// Ends the connection in an orderly way (TLS: close_notify).
    fn finish(&mut self);
}

impl Conn for TcpStream {
    fn client_cert(&self) -> Option<Vec<u8>> {
        None
    }

    fn finish(&mut self) {
        let _ = self.flush();
        let _ = self.shutdown(Shutdown::Write);
        linger(self);
    }
}

/// Reads and drops what the client still sends until it closes (or a second passes), so
/// closing does not reset the connection under a client that has not read our answer yet:
/// unread input at close makes the kernel send RST, which can overtake the answer.
pub(crate) fn linger(tcp: &TcpStream) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0; 4096];
    let mut left: usize = 1024 * 1024;
    while let Ok(n @ 1..) = (&*tcp).read(&mut buf) {
        left = left.saturating_sub(n);
        if left == 0 {
            return;
        }
    }
}

fn connection(server: &Server, tcp: TcpStream) {
    #[cfg(feature = "tls")]
    let conn: Box<dyn Conn> = match &server.tls {
        Some(config) => match tls::accept(config, tcp) {
            Some(conn) => Box::new(conn),
            None => return,
        },
        None => Box::new(tcp),
    };
    #[cfg(not(feature = "tls"))]
    let conn: Box<dyn Conn> = Box::new(tcp);
    let mut reader = std::io::BufReader::new(conn);
    let handler = match &server.behaviour {
        Behaviour::SpeakFirst(reply) => {
            let _ = write_reply(server, reader.get_mut().as_mut(), reply);
            return;
        }
        Behaviour::Handler(handler) => handler,
    };
    loop {
        let Some(mut req) = http::read_request(&mut reader) else {
            return;
        };
        req.client_cert = reader.get_ref().client_cert();
        let index = server.shared.arrive(&req);
        let reply = handler(&req, index);
        let keep_open = write_reply(server, reader.get_mut().as_mut(), &reply);
        if !(keep_open && server.keep_alive) {
            return;
        }
    }
}

/// Carries out `reply`; true if the connection may serve another request.
fn write_reply(server: &Server, conn: &mut dyn Conn, reply: &Reply) -> bool {
    let shared = &server.shared;
    if !reply.delay.is_zero() && !shared.sleep(reply.delay) {
        return false;
    }
    match &reply.kind {
        Kind::Respond(response) => {
            match http::write_response(conn, response, server.keep_alive, &|d| shared.sleep(d)) {
                Ok(true) if server.keep_alive => true,
                Ok(true) => {
                    conn.finish();
                    false
                }
                // Cut short on purpose, or the client or the stub went away: no orderly close.
                Ok(false) | Err(_) => false,
            }
        }
        Kind::Raw(bytes) => {
            let _ = conn.write_all(bytes);
            conn.finish();
            false
        }
        Kind::Hang => {
            while shared.sleep(Duration::from_secs(3600)) {}
            false
        }
        Kind::Close => false,
    }
}

/// A TCP connection to `to` from the local address `source` (port chosen by the system):
/// loopback tests that need a second client address use `127.0.0.2`, which Linux routes
/// to the loopback interface like every address of 127.0.0.0/8.
pub fn connect_from(
    source: std::net::IpAddr,
    to: std::net::SocketAddr,
) -> std::io::Result<std::net::TcpStream> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(to),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.bind(&std::net::SocketAddr::new(source, 0).into())?;
    socket.connect(&to.into())?;
    Ok(socket.into())
}
