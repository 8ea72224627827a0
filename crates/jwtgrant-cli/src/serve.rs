//! `jwtgrant jwks serve`: a tiny HTTP/1.1 server for one JSON document, and a watcher that
//! notices key files changing. No framework: std::net, a thread per connection, a shared
//! document swapped atomically on reload.

use std::io::{self, BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Paths the JWKS is served at.
pub const PATHS: &[&str] = &["/.well-known/jwks.json", "/jwks"];

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

/// A bound listener serving a `Document`.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    doc: Document,
}

impl Server {
    pub fn bind(addr: &str, doc: Document) -> io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(addr)?,
            doc,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accept connections forever, one short-lived thread each.
    pub fn run(self) {
        for conn in self.listener.incoming() {
            match conn {
                Ok(stream) => {
                    let doc = self.doc.clone();
                    std::thread::spawn(move || {
                        let peer = stream.peer_addr().ok();
                        if let Err(e) = handle(stream, &doc) {
                            log::debug!("connection from {peer:?}: {e}");
                        }
                    });
                }
                Err(e) => log::warn!("accept failed: {e}"),
            }
        }
    }
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

fn handle(stream: TcpStream, doc: &Document) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
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
    let mut out = stream;
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

use std::io::Read as _;

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
