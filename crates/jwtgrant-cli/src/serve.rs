//! `jwtgrant jwks serve`: a tiny HTTP/1.1 server for one JSON document, and a watcher that
//! notices key files changing. No framework: std::net, a thread per connection, a shared
//! document swapped atomically on reload; optionally HTTPS through rustls (the TLS library
//! ureq already brings in), with the handshake done in the connection's own thread.

use std::io::{self, BufRead as _, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, anyhow};
use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// Paths the JWKS is served at.
pub const PATHS: &[&str] = &["/.well-known/jwks.json", "/jwks"];

/// How long one connection may take from accept to the last byte of the answer, TLS
/// handshake included. A deadline rather than only per-read timeouts: a client sending a
/// byte every few seconds would otherwise hold its thread for ever.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);

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
}

impl Server {
    pub fn bind(addr: &str, doc: Document) -> io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(addr)?,
            doc,
            tls: None,
        })
    }

    /// Speak TLS on every connection (a plain-HTTP request gets no answer).
    pub fn with_tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// `https` with TLS, else `http`: the scheme of the URL to print.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accept connections forever, one short-lived thread each. Nothing but `accept` runs
    /// on this thread: a client that stalls in the TLS handshake stalls only its own thread.
    pub fn run(self) {
        for conn in self.listener.incoming() {
            match conn {
                Ok(stream) => {
                    let doc = self.doc.clone();
                    let tls = self.tls.clone();
                    std::thread::spawn(move || {
                        let peer = stream.peer_addr().ok();
                        if let Err(e) = serve_connection(stream, &doc, tls) {
                            log_failure(peer, &e);
                        }
                    });
                }
                Err(e) => log::warn!("accept failed: {e}"),
            }
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

/// One connection: the TLS handshake when configured, one request, one answer, close.
fn serve_connection(
    stream: TcpStream,
    doc: &Document,
    tls: Option<Arc<ServerConfig>>,
) -> io::Result<()> {
    let stream = Deadline::new(stream, Instant::now() + CONNECTION_DEADLINE)?;
    let Some(config) = tls else {
        return handle(stream, doc);
    };
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, stream);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    handle(&mut tls, doc)?;
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
        // Timeouts from the start, before any TLS handshake byte is awaited.
        stream.set_read_timeout(Some(CONNECTION_DEADLINE))?;
        stream.set_write_timeout(Some(CONNECTION_DEADLINE))?;
        Ok(Self { stream, until })
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

/// Read one request (bounded) and write the answer, over plain TCP or TLS alike.
fn handle(stream: impl Read + Write, doc: &Document) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.by_ref().take(8192).read_line(&mut request_line)?;
    // Drain the headers (bounded) so the client sees a clean close.
    let mut total = 0usize;
    loop {
        let mut line = String::new();
        let n = reader.by_ref().take(8192).read_line(&mut line)?;
        total += n;
        if n == 0 || line == "\r\n" || line == "\n" || total > 64 * 1024 {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let (status, ctype, body) = respond(method, target, &doc.get());
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
