//! `jwtgrant jwks serve`: a tiny HTTP/1.1 server for one JSON document, and a watcher that
//! notices key files changing. No framework: std::net, a shared document swapped atomically
//! on reload; optionally HTTPS through rustls (the TLS library ureq already brings in).
//!
//! Bounded everywhere, so that nobody who can open connections can hold it down:
//! - one thread accepts connections and keeps them in a *waiting room* (non-blocking, at
//!   most [`Limits::waiting`], at most [`Limits::per_ip`] from one address) until their
//!   whole request head (plain HTTP) or TLS ClientHello has arrived; an idle, half-open or
//!   slowly-sending connection costs a file descriptor there, never a thread, and is
//!   dropped after [`Limits::head`] (or earlier, oldest first, when the room is full). So
//!   clients that send one byte and stall never reach a worker, and cannot starve a GET;
//! - a connection whose head is in goes to a bounded queue read by a fixed pool of worker
//!   threads; when the queue is full it is answered `503` at once (plain HTTP) or closed
//!   (TLS) instead of waiting; so is a connection from an address already holding
//!   [`Limits::per_ip`] places in the room;
//! - a worker gives each connection one deadline for everything (TLS handshake, request
//!   head, answer) and caps the request head's size and header count;
//! - accept errors (out of file descriptors, say) back off instead of spinning, and a worker
//!   that cannot be spawned leaves a smaller pool rather than a panic.

use std::collections::VecDeque;
use std::io::{self, BufRead as _, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, anyhow};
use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// Paths the JWKS is served at.
pub const PATHS: &[&str] = &["/.well-known/jwks.json", "/jwks"];

/// The server's bounds. [`Limits::default`] is what `jwtgrant jwks serve` uses; the numbers
/// and why they are what they are are in `docs/cli.md` ("jwks serve limits").
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Worker threads: how many connections are served at once. Answering is microseconds,
    /// so these are only busy with slow clients; a few of those cannot stall the rest.
    pub workers: usize,
    /// Connections that have sent a first byte and wait for a worker. Beyond it: 503.
    pub queue: usize,
    /// Connections whose request head (or ClientHello) is not in yet. Beyond it the oldest
    /// is dropped.
    pub waiting: usize,
    /// Of those, how many may come from one IP address; a further one is refused (503 on
    /// plain HTTP).
    pub per_ip: usize,
    /// How long a connection may take, from accept, to send its whole request head (or its
    /// TLS ClientHello) before it is dropped.
    pub head: Duration,
    /// How long a worker gives one connection in all: TLS handshake, request head, answer.
    pub deadline: Duration,
    /// Most bytes of a request head (request line and headers); beyond it: 431.
    pub max_head_bytes: usize,
    /// Most header lines in a request; beyond them: 431.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            workers: 8,
            queue: 32,
            waiting: 512,
            per_ip: 16,
            head: Duration::from_secs(5),
            deadline: Duration::from_secs(10),
            max_head_bytes: 16 * 1024,
            max_headers: 64,
        }
    }
}

/// The longest pause after repeated accept failures.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);
/// How often waiting connections are looked at while any wait.
const WAITING_POLL: Duration = Duration::from_millis(5);
/// The answer to a connection that finds the queue full (plain HTTP only).
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbusy\n";

/// The document being served; clone it to swap in a new one from another thread.
#[derive(Clone, Debug)]
pub struct Document(Arc<RwLock<Arc<String>>>);

impl Document {
    pub fn new(body: String) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(body))))
    }

    pub fn set(&self, body: String) {
        let new = Arc::new(body);
        match self.0.write() {
            Ok(mut g) => *g = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    pub fn get(&self) -> Arc<String> {
        match self.0.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

/// A bound listener serving a `Document`, over plain HTTP or, with `with_tls`, HTTPS only.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    doc: Document,
    tls: Option<Arc<ServerConfig>>,
    limits: Limits,
}

/// A connection accepted whose request head is not in yet.
#[derive(Debug)]
struct Waiting {
    stream: TcpStream,
    peer: Option<std::net::IpAddr>,
    accepted: Instant,
}

/// What a worker gets: a connection whose head is in, and when it was accepted.
type Job = (TcpStream, Instant);

impl Server {
    pub fn bind(addr: &str, doc: Document) -> io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(addr)?,
            doc,
            tls: None,
            limits: Limits::default(),
        })
    }

    /// Speak TLS on every connection (a plain-HTTP request gets no answer).
    pub fn with_tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Other bounds than [`Limits::default`] (tests use small ones).
    #[cfg_attr(not(test), allow(dead_code, reason = "the binary uses the defaults"))]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// `https` with TLS, else `http`: the scheme of the URL to print.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Start the worker pool, then accept connections on this thread for ever. Fails only
    /// when not a single worker thread can be started.
    pub fn run(self) -> io::Result<()> {
        let limits = self.limits;
        let (jobs, queue) = mpsc::sync_channel::<Job>(limits.queue.max(1));
        let queue = Arc::new(Mutex::new(queue));
        let mut started = 0;
        for i in 0..limits.workers.max(1) {
            let queue = Arc::clone(&queue);
            let doc = self.doc.clone();
            let tls = self.tls.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("jwks-worker-{i}"))
                .spawn(move || work(&queue, &doc, tls.as_ref(), limits));
            match spawned {
                Ok(_) => started += 1,
                Err(e) => log::warn!("cannot start worker thread {i}: {e}"),
            }
        }
        if started == 0 {
            return Err(io::Error::other("cannot start any worker thread"));
        }
        if started < limits.workers {
            log::warn!(
                "serving with {started} of {} worker threads",
                limits.workers
            );
        }
        accept_loop(&self.listener, &jobs, self.tls.is_some(), limits);
        Ok(())
    }
}

/// Accept connections into the waiting room and pass those that speak to the workers. The
/// listener blocks while nobody waits (an idle server sleeps in `accept`) and is polled
/// while someone does.
fn accept_loop(listener: &TcpListener, jobs: &SyncSender<Job>, tls: bool, limits: Limits) {
    let mut room: VecDeque<Waiting> = VecDeque::new();
    // What `peek` shows of a waiting connection: up to one byte more than a head may have.
    let mut seen = vec![0u8; limits.max_head_bytes.max(TLS_RECORD_HEADER) + 1];
    let mut backoff = Duration::ZERO;
    let mut blocking = true;
    loop {
        let want_blocking = room.is_empty();
        if want_blocking != blocking && listener.set_nonblocking(!want_blocking).is_ok() {
            blocking = want_blocking;
        }
        // Take every connection that is ready (one, when blocking).
        loop {
            match listener.accept() {
                Ok((stream, peer)) => {
                    backoff = Duration::ZERO;
                    let from_peer = room.iter().filter(|w| w.peer == Some(peer.ip())).count();
                    if from_peer >= limits.per_ip.max(1) {
                        log::warn!(
                            "{} already has {from_peer} connections sending their request: refused one more",
                            peer.ip()
                        );
                        if !tls {
                            busy(&stream);
                        }
                        continue;
                    }
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    if room.len() >= limits.waiting.max(1) {
                        // The oldest silent connection makes room: a real client speaks at once.
                        room.pop_front();
                    }
                    room.push_back(Waiting {
                        stream,
                        peer: Some(peer.ip()),
                        accepted: Instant::now(),
                    });
                    if blocking {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE, ENOBUFS and the like: retrying at once would spin. Wait a
                    // little longer each time, up to a second.
                    backoff = (backoff * 2).clamp(Duration::from_millis(10), MAX_ACCEPT_BACKOFF);
                    log::warn!(
                        "accept failed: {e} (retrying in {} ms)",
                        backoff.as_millis()
                    );
                    std::thread::sleep(backoff);
                    break;
                }
            }
        }
        let now = Instant::now();
        for w in std::mem::take(&mut room) {
            if let Some(w) = dispatch(w, now, &mut seen, jobs, tls, limits) {
                room.push_back(w);
            }
        }
        if !room.is_empty() {
            std::thread::sleep(WAITING_POLL);
        }
    }
}

/// One waiting connection: head not in yet (kept, unless it took too long), head in (to a
/// worker, or answered 503 when the queue is full), or closed. `seen` is scratch space for
/// what the client has sent so far (read with `peek`: it stays for the worker).
fn dispatch(
    w: Waiting,
    now: Instant,
    seen: &mut [u8],
    jobs: &SyncSender<Job>,
    tls: bool,
    limits: Limits,
) -> Option<Waiting> {
    let pending =
        |w: Waiting| (now.saturating_duration_since(w.accepted) < limits.head).then_some(w);
    match w.stream.peek(seen) {
        Ok(0) => None,
        Ok(n) if !head_is_in(&seen[..n], tls, limits) => pending(w),
        Ok(_) => {
            if w.stream.set_nonblocking(false).is_err() {
                return None;
            }
            if let Err(TrySendError::Full((stream, _))) = jobs.try_send((w.stream, w.accepted)) {
                log::warn!(
                    "all {} workers busy and {} connections queued: answered 503",
                    limits.workers,
                    limits.queue
                );
                if !tls {
                    busy(&stream);
                }
            }
            None
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => pending(w),
        Err(_) => None,
    }
}

/// A TLS record's header: type, version, length.
const TLS_RECORD_HEADER: usize = 5;

/// Whether `seen` (the start of what a client sent) is enough for a worker: the whole
/// request head, or more bytes than a head may have (the worker answers 431); with TLS the
/// whole first record (the ClientHello), or something that is no handshake record.
fn head_is_in(seen: &[u8], tls: bool, limits: Limits) -> bool {
    if tls {
        return match seen {
            [0x16, _, _, hi, lo, rest @ ..] => {
                rest.len() >= usize::from(u16::from_be_bytes([*hi, *lo]))
            }
            [0x16, ..] => false,
            _ => true,
        };
    }
    seen.len() > limits.max_head_bytes || contains(seen, b"\r\n\r\n") || contains(seen, b"\n\n")
}

/// Answer 503 without blocking the accept thread: read what the client has sent so far
/// (closing a socket with unread data would reset the connection and lose the answer),
/// write the short answer into the empty socket buffer, and close our side.
fn busy(stream: &TcpStream) {
    let _ = stream.set_nonblocking(true);
    let mut sink = [0u8; 4096];
    for _ in 0..4 {
        match (&*stream).read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    let _ = (&*stream).write_all(BUSY);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// A worker: take a connection, serve it, repeat. A panic while serving one connection
/// (there should be none) costs that connection, not the worker.
fn work(
    queue: &Mutex<Receiver<Job>>,
    doc: &Document,
    tls: Option<&Arc<ServerConfig>>,
    limits: Limits,
) {
    loop {
        // Holding the lock while waiting is fine: whoever holds it takes the next job.
        let job = match queue.lock() {
            Ok(q) => q.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok((stream, accepted)) = job else { return };
        let peer = stream.peer_addr().ok();
        let tls = tls.cloned();
        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            serve_connection(stream, accepted + limits.deadline, doc, tls, limits)
        }));
        match served {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log_failure(peer, &e),
            Err(_) => log::warn!("serving a connection panicked; the worker goes on"),
        }
    }
}

/// The rustls configuration for a certificate chain and its private key, both PEM, checked
/// the way the server will use them: the key must be one rustls signs with and must belong
/// to the first certificate. `cert` and `key` only name the files in errors, which give the
/// fix and never quote the key file.
pub fn tls_config(
    cert: &Path,
    chain_pem: &[u8],
    key: &Path,
    key_pem: &[u8],
) -> Result<Arc<ServerConfig>> {
    let (cert, key) = (cert.display(), key.display());
    let chain_fix =
        "pass the server's certificate chain as PEM, the server's own certificate first";
    let key_fix = "pass the certificate's unencrypted private key as PEM (PKCS#8, PKCS#1 or SEC1)";
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow!("TLS certificate '{cert}' does not parse as PEM ({e}): {chain_fix}")
        })?;
    if chain.is_empty() {
        return Err(anyhow!(
            "TLS certificate '{cert}' holds no '-----BEGIN CERTIFICATE-----' block: {chain_fix}"
        ));
    }
    let private = match PrivateKeyDer::from_pem_slice(key_pem) {
        Ok(k) => k,
        Err(pem::Error::NoItemsFound)
            if contains(key_pem, b"-----BEGIN ENCRYPTED PRIVATE KEY-----") =>
        {
            return Err(anyhow!(
                "TLS key '{key}' is encrypted, which is not supported (decrypt it first: 'openssl pkey -in key.pem -out plain.pem')"
            ));
        }
        Err(pem::Error::NoItemsFound) => {
            return Err(anyhow!(
                "TLS key '{key}' holds no private key block ('-----BEGIN PRIVATE KEY-----', RSA or EC): {key_fix}"
            ));
        }
        // The parser's message may quote the file: say only that it failed.
        Err(_) => return Err(anyhow!("TLS key '{key}' does not parse as PEM: {key_fix}")),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Load the key alone first, so that a key rustls cannot sign with is told apart from a
    // key that does not match the certificate.
    if provider
        .key_provider
        .load_private_key(private.clone_key())
        .is_err()
    {
        return Err(anyhow!(
            "TLS key '{key}' is not an RSA, ECDSA (P-256, P-384) or Ed25519 private key: {key_fix}"
        ));
    }
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("cannot set up TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => anyhow!(
                "TLS key '{key}' does not belong to the first certificate in '{cert}': pass the key the certificate was issued for, and put that certificate first in the chain"
            ),
            e => anyhow!("TLS certificate '{cert}' cannot be served with key '{key}' ({e}): {chain_fix}"),
        })?;
    Ok(Arc::new(config))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What the server answers for a request line, as (status, content type, body).
pub fn respond(method: &str, target: &str, doc: &str) -> (&'static str, &'static str, String) {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if !PATHS.contains(&path) {
        return (
            "404 Not Found",
            "text/plain; charset=utf-8",
            format!("not found: the JWKS is at {}\n", PATHS.join(" and ")),
        );
    }
    if method != "GET" && method != "HEAD" {
        return (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET and HEAD\n".to_owned(),
        );
    }
    ("200 OK", "application/json", doc.to_owned())
}

/// One connection: the TLS handshake when configured, one request, one answer, close; all
/// of it before `until`.
fn serve_connection(
    stream: TcpStream,
    until: Instant,
    doc: &Document,
    tls: Option<Arc<ServerConfig>>,
    limits: Limits,
) -> io::Result<()> {
    let stream = Deadline::new(stream, until)?;
    let Some(config) = tls else {
        return handle(stream, doc, limits);
    };
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, stream);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    handle(&mut tls, doc, limits)?;
    tls.conn.send_close_notify();
    while tls.conn.wants_write() {
        tls.conn.write_tls(&mut tls.sock)?;
    }
    Ok(())
}

/// A client refusing our certificate is the one failure an operator must hear about (it is
/// what a Keycloak without our CA in its truststore does); other failures are routine
/// (probes, timeouts, closed connections) and only show with -vv.
fn log_failure(peer: Option<SocketAddr>, e: &io::Error) {
    use rustls::AlertDescription as A;
    let peer = peer.map_or_else(|| "?".to_owned(), |p| p.to_string());
    let alert = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match alert {
        Some(rustls::Error::AlertReceived(
            A::UnknownCA | A::BadCertificate | A::CertificateUnknown | A::CertificateExpired,
        )) => log::warn!(
            "connection from {peer}: TLS handshake failed: {e} (the client does not trust this server's certificate: add its CA to the client's trust store, for Keycloak 'kc.sh start --truststore-paths ca.pem')"
        ),
        _ => log::debug!("connection from {peer}: {e}"),
    }
}

/// A socket with one deadline for everything read or written: each call gets the time left
/// as its timeout, and fails once none is left.
#[derive(Debug)]
struct Deadline {
    stream: TcpStream,
    until: Instant,
}

impl Deadline {
    fn new(stream: TcpStream, until: Instant) -> io::Result<Self> {
        let this = Self { stream, until };
        // Timeouts from the start, before any TLS handshake byte is awaited.
        let left = this.left()?;
        this.stream.set_read_timeout(Some(left))?;
        this.stream.set_write_timeout(Some(left))?;
        Ok(this)
    }

    fn left(&self) -> io::Result<Duration> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection took longer than its deadline",
            ));
        }
        Ok(left)
    }
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(self.left()?))?;
        self.stream.read(buf)
    }
}

impl Write for Deadline {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(Some(self.left()?))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// A request head as read.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// Within the caps: the request line (the header lines are counted, not kept).
    Read(String),
    /// Larger than [`Limits::max_head_bytes`] or more than [`Limits::max_headers`] lines.
    TooLarge,
}

/// Read a request head: the request line, then header lines up to the empty line, within
/// the byte and line caps. Returns the request line.
fn read_head(reader: &mut impl io::BufRead, limits: Limits) -> io::Result<Head> {
    let mut left = limits.max_head_bytes;
    let mut request_line = None;
    let mut headers = 0usize;
    loop {
        let mut line = Vec::new();
        let n = reader
            .by_ref()
            .take(left as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n > left {
            return Ok(Head::TooLarge);
        }
        left -= n;
        let ended = line.ends_with(b"\n");
        let text = String::from_utf8_lossy(&line).into_owned();
        match request_line {
            None => {
                request_line = Some(text);
                if !ended {
                    break;
                }
            }
            Some(_) => {
                if !ended || line == b"\r\n" || line == b"\n" {
                    break;
                }
                headers += 1;
                if headers > limits.max_headers {
                    return Ok(Head::TooLarge);
                }
            }
        }
    }
    Ok(Head::Read(request_line.unwrap_or_default()))
}

/// Read one request (bounded) and write the answer, over plain TCP or TLS alike.
fn handle(stream: impl Read + Write, doc: &Document, limits: Limits) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    let head = read_head(&mut reader, limits)?;
    let (method, target, (status, ctype, body)) = match &head {
        Head::Read(request_line) => {
            let mut parts = request_line.split_whitespace();
            let method = parts.next().unwrap_or("");
            let target = parts.next().unwrap_or("");
            (method, target, respond(method, target, &doc.get()))
        }
        Head::TooLarge => (
            "",
            "",
            (
                "431 Request Header Fields Too Large",
                "text/plain; charset=utf-8",
                format!(
                    "request head too large: at most {} bytes and {} header lines\n",
                    limits.max_head_bytes, limits.max_headers
                ),
            ),
        ),
    };
    log::info!("{method} {target} -> {status}");
    let out = reader.get_mut();
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    );
    out.write_all(head.as_bytes())?;
    if method != "HEAD" {
        out.write_all(body.as_bytes())?;
    }
    out.flush()
}

/// Notices when key files change (modification time, size or inode) or a reload was
/// requested (SIGHUP sets the flag).
#[derive(Debug)]
pub struct Watcher {
    paths: Vec<PathBuf>,
    stamps: Vec<Option<Stamp>>,
    requested: Arc<AtomicBool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    ino: u64,
}

fn stamp(path: &PathBuf) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        ino,
    })
}

impl Watcher {
    pub fn new(paths: Vec<PathBuf>, requested: Arc<AtomicBool>) -> Self {
        let stamps = paths.iter().map(stamp).collect();
        Self {
            paths,
            stamps,
            requested,
        }
    }

    /// True when a reload is due: a file changed since the last call, or one was requested.
    pub fn poll(&mut self) -> bool {
        let requested = self.requested.swap(false, Ordering::SeqCst);
        let now: Vec<_> = self.paths.iter().map(stamp).collect();
        let changed = now != self.stamps;
        self.stamps = now;
        requested || changed
    }
}

/// Poll every `interval`; on change, rebuild the document with `load` and swap it in.
/// A failed reload keeps the previous document and logs why.
pub fn watch(
    mut watcher: Watcher,
    interval: Duration,
    doc: &Document,
    load: impl Fn() -> anyhow::Result<String>,
) -> ! {
    loop {
        std::thread::sleep(interval);
        if watcher.poll() {
            match load() {
                Ok(body) => {
                    doc.set(body);
                    log::warn!("reloaded keys");
                }
                Err(e) => log::warn!("reload failed, still serving the previous keys: {e:#}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, target: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn routes() {
        assert_eq!(respond("GET", "/jwks", "{}").0, "200 OK");
        assert_eq!(
            respond("GET", "/.well-known/jwks.json?x=1", "{}").0,
            "200 OK"
        );
        assert_eq!(respond("HEAD", "/jwks", "{}").0, "200 OK");
        assert_eq!(respond("POST", "/jwks", "{}").0, "405 Method Not Allowed");
        assert_eq!(respond("GET", "/", "{}").0, "404 Not Found");
        assert_eq!(respond("", "", "{}").0, "404 Not Found");
    }

    #[test]
    fn serves_and_swaps_in_process() {
        let doc = Document::new(r#"{"keys":[1]}"#.to_owned());
        let server = Server::bind("127.0.0.1:0", doc.clone()).unwrap();
        let addr = server.local_addr().unwrap();
        std::thread::spawn(move || server.run());
        let r = get(addr, "/.well-known/jwks.json");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("Content-Type: application/json"), "{r}");
        assert!(r.ends_with("\r\n\r\n{\"keys\":[1]}"), "{r}");
        doc.set(r#"{"keys":[2]}"#.to_owned());
        assert!(get(addr, "/jwks").ends_with("{\"keys\":[2]}"));
        assert!(get(addr, "/nope").starts_with("HTTP/1.1 404"));
    }

    fn head(input: &str) -> Head {
        let limits = Limits {
            max_head_bytes: 64,
            max_headers: 2,
            ..Limits::default()
        };
        read_head(&mut io::Cursor::new(input.as_bytes()), limits).unwrap()
    }

    #[test]
    fn request_heads_are_capped_in_bytes_and_lines() {
        let ok = |line: &str| Head::Read(line.to_owned());
        assert_eq!(
            head("GET /jwks HTTP/1.1\r\n\r\n"),
            ok("GET /jwks HTTP/1.1\r\n")
        );
        assert_eq!(
            head("GET /jwks HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\nignored"),
            ok("GET /jwks HTTP/1.1\r\n")
        );
        assert_eq!(
            head("GET /jwks HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
            Head::TooLarge
        );
        assert_eq!(
            head(&format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(60))),
            Head::TooLarge
        );
        assert_eq!(
            head(&format!("GET / HTTP/1.1\r\nA: {}\r\n\r\n", "x".repeat(50))),
            Head::TooLarge
        );
        // Exactly at the byte cap is still fine; a head cut short ends it.
        let line = format!("GET /{} HTTP/1.1\r\n", "x".repeat(46));
        assert_eq!(line.len() + 2, 64);
        assert_eq!(head(&format!("{line}\r\n")), ok(&line));
        assert_eq!(head("GET /jwks"), ok("GET /jwks"));
        assert_eq!(head(""), ok(""));
    }

    fn start(limits: Limits) -> SocketAddr {
        let doc = Document::new(r#"{"keys":[]}"#.to_owned());
        let server = Server::bind("127.0.0.1:0", doc)
            .unwrap()
            .with_limits(limits);
        let addr = server.local_addr().unwrap();
        std::thread::spawn(move || server.run());
        addr
    }

    #[test]
    fn oversized_heads_get_431() {
        let addr = start(Limits::default());
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut request = "GET /jwks HTTP/1.1\r\n".to_owned();
        for i in 0..65 {
            request.push_str(&format!("X-{i}: y\r\n"));
        }
        request.push_str("\r\n");
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{out}"
        );
        assert!(
            out.ends_with(
                "\r\n\r\nrequest head too large: at most 16384 bytes and 64 header lines\n"
            ),
            "{out}"
        );
    }

    const BUSY_ANSWER: &str = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbusy\n";

    #[test]
    fn a_full_queue_is_answered_503_at_once_and_silence_costs_no_worker() {
        // A document larger than the socket buffers: a client that asks and never reads
        // holds its worker until the deadline.
        let doc = Document::new(format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(32 << 20)));
        let server = Server::bind("127.0.0.1:0", doc)
            .unwrap()
            .with_limits(Limits {
                workers: 1,
                queue: 1,
                head: Duration::from_secs(30),
                deadline: Duration::from_secs(30),
                ..Limits::default()
            });
        let addr = server.local_addr().unwrap();
        std::thread::spawn(move || server.run());
        // Silent connections wait in the room, not in a worker: a request still gets through
        // (its head ends before the large body is read; only the status line is looked at).
        let silent: Vec<_> = (0..10).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /nope HTTP/1.1\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 404"), "{out}");
        // Two full requests that never read: the first holds the only worker, the second the
        // queue's one place.
        let mut hogs: Vec<_> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
        for h in &mut hogs {
            h.write_all(b"GET /jwks HTTP/1.1\r\n\r\n").unwrap();
            std::thread::sleep(Duration::from_millis(200));
        }
        let started = Instant::now();
        let busy = get(addr, "/jwks");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(busy, BUSY_ANSWER);
        drop((silent, hogs));
    }

    #[test]
    fn clients_that_send_one_byte_and_stall_never_starve_a_get() {
        let addr = start(Limits {
            workers: 2,
            queue: 2,
            per_ip: 64,
            head: Duration::from_secs(30),
            deadline: Duration::from_secs(30),
            ..Limits::default()
        });
        // Forty clients that each start a request and stall: more than the workers and the
        // queue together. They wait in the room, holding no worker.
        let mut slow: Vec<_> = (0..40).map(|_| TcpStream::connect(addr).unwrap()).collect();
        for s in &mut slow {
            s.write_all(b"G").unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let r = get(addr, "/jwks");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(slow);
    }

    #[test]
    fn one_address_holds_at_most_per_ip_places_and_a_slow_head_is_dropped() {
        let addr = start(Limits {
            per_ip: 4,
            head: Duration::from_millis(500),
            ..Limits::default()
        });
        let mut slow: Vec<_> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
        for s in &mut slow {
            s.write_all(b"GE").unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        // A fifth from the same address is refused at once, before it sends anything (read
        // without writing: a request written into a socket the server already closed would
        // race its answer with a reset).
        let mut fifth = TcpStream::connect(addr).unwrap();
        fifth
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut busy = String::new();
        fifth.read_to_string(&mut busy).unwrap();
        assert_eq!(busy, BUSY_ANSWER);
        // The slow ones are dropped when their head deadline passes; the address is free.
        for s in &mut slow {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut rest = Vec::new();
            assert_eq!(s.read_to_end(&mut rest).map(|_| rest.len()).unwrap_or(0), 0);
        }
        assert!(get(addr, "/jwks").starts_with("HTTP/1.1 200 OK\r\n"));
    }

    #[test]
    fn watcher_sees_changes_and_requests() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        std::fs::write(&p, "one").unwrap();
        let flag = Arc::new(AtomicBool::new(false));
        let mut w = Watcher::new(vec![p.clone()], Arc::clone(&flag));
        assert!(!w.poll());
        // Replace by rename (how keys are usually rotated): a new inode.
        let tmp = dir.path().join("k.tmp");
        std::fs::write(&tmp, "two").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        assert!(w.poll());
        assert!(!w.poll());
        flag.store(true, Ordering::SeqCst);
        assert!(w.poll());
        assert!(!w.poll());
        std::fs::remove_file(&p).unwrap();
        assert!(w.poll());
    }
}
