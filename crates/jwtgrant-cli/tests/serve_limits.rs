//! `jwtgrant jwks serve` under load it should shrug off, run as the built binary: hundreds of
//! silent and half-closed connections, a few slow ones, and a bind off loopback. All traffic
//! goes to 127.0.0.1; every connection is closed when the test ends.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

use common::{Serving, http_answer, keypair, p, run};

/// A fresh ES256 key pair (fast to generate) and the JWKS `jwtgrant jwks` prints for it.
fn key_and_jwks() -> (tempfile::TempDir, PathBuf, String) {
    let (dir, key, _) = keypair("ES256");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let jwks = run(&["jwks", "--key", p(&key)]);
    assert_eq!(jwks.code, 0, "{jwks:?}");
    // `jwks` prints the document and a newline; the server sends the document.
    let doc = jwks.stdout.strip_suffix('\n').unwrap().to_owned();
    (dir, key, doc)
}

/// `jwtgrant jwks serve --addr ADDR --key KEY`.
fn serve(key: &Path, addr: &str) -> Serving {
    Serving::start(addr, &["--key", p(key)])
}

/// The port from "jwtgrant: serving the JWKS of 1 key(s) at http://HOST:PORT/.well-known/..."
fn port(serving: &str) -> u16 {
    serving
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .and_then(|hostport| hostport.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no URL in {serving:?}"))
}

/// GET `path` from 127.0.0.1:`port`: the whole answer, within 10 s.
fn get(port: u16, path: &str) -> String {
    http_answer(&format!("127.0.0.1:{port}"), path)
}

fn expected_answer(doc: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n{doc}",
        doc.len()
    )
}

/// Connections that never speak cost the server no thread: with 300 silent ones, 50 that
/// closed their sending side, and 4 stuck halfway through a request (each holding a worker
/// until its deadline), all from one address (127.0.0.2), a normal GET from another
/// (127.0.0.1) is still answered at once, byte for byte. (From the flooding address itself
/// it would get 503: one address holds at most 16 places, see `serve.rs`.)
#[test]
fn hundreds_of_idle_and_half_open_connections_do_not_stop_a_get() {
    let (_dir, key, doc) = key_and_jwks();
    let server = serve(&key, "127.0.0.1:0");
    let port = port(&server.line());
    let flood = || {
        let to = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        jwtgrant_test_support::connect_from([127, 0, 0, 2].into(), to).unwrap()
    };

    let silent: Vec<TcpStream> = (0..300).map(|_| flood()).collect();
    let half_closed: Vec<TcpStream> = (0..50)
        .map(|_| {
            let s = flood();
            s.shutdown(Shutdown::Write).unwrap();
            s
        })
        .collect();
    let stuck: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = flood();
            s.write_all(b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();

    let started = Instant::now();
    let answer = get(port, "/.well-known/jwks.json");
    let took = started.elapsed();
    assert_eq!(answer, expected_answer(&doc));
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // And again on the other path, with every connection still held.
    assert_eq!(get(port, "/jwks"), expected_answer(&doc));

    // The silent ones are still open: the server has not dropped them early (it would
    // after 5 s of silence).
    let mut probe = [0u8; 1];
    silent[0].set_nonblocking(true).unwrap();
    let read = (&silent[0]).read(&mut probe);
    assert_eq!(
        read.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock)
    );
    drop((silent, half_closed, stuck));
    assert_eq!(get(port, "/jwks"), expected_answer(&doc));
}

/// Silent connections are dropped after 5 s, so they cannot pile up for ever.
#[test]
fn silent_connections_are_dropped_after_five_seconds() {
    let (_dir, key, _doc) = key_and_jwks();
    let server = serve(&key, "127.0.0.1:0");
    let port = port(&server.line());
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    // EOF (or a reset) once the server drops it, nothing before.
    let _ = s.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(buf.is_empty(), "{buf:?}");
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_secs(10),
        "dropped after {waited:?}"
    );
}

/// Binding every interface is allowed but named for what it risks. The test binds
/// 0.0.0.0 on a free port for a moment and talks to it only through 127.0.0.1.
#[test]
fn binding_off_loopback_warns_why() {
    let (_dir, key, doc) = key_and_jwks();
    let server = serve(&key, "0.0.0.0:0");
    let serving = server.line();
    let port = port(&serving);
    assert_eq!(
        serving,
        format!(
            "jwtgrant: serving the JWKS of 1 key(s) at http://0.0.0.0:{port}/.well-known/jwks.json and /jwks (reloads on change and SIGHUP)"
        )
    );
    assert_eq!(
        server.line(),
        format!(
            "jwtgrant: warning: listening on 0.0.0.0:{port}, which is not a loopback address: other hosts can reach this JWKS, and whoever can swap the keys it serves (on this host, or on the network path without --tls-cert) can forge assertions for every user linked to this issuer; prefer 127.0.0.1 unless Keycloak runs on another host, and then serve HTTPS (--tls-cert, --tls-key)"
        )
    );
    assert_eq!(get(port, "/jwks"), expected_answer(&doc));
}

/// On loopback there is nothing to warn about: nothing follows the serving line (requests
/// are logged only with -v).
#[test]
fn binding_loopback_does_not_warn() {
    let (_dir, key, doc) = key_and_jwks();
    let server = serve(&key, "127.0.0.1:0");
    let port = port(&server.line());
    assert_eq!(get(port, "/jwks"), expected_answer(&doc));
    assert_eq!(
        server.line_within(Duration::from_millis(500)),
        Err(mpsc::RecvTimeoutError::Timeout)
    );
}
