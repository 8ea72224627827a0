//! The stub against hand-written clients: what it sends, records and does on purpose.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jwtgrant_test_support::{Reply, Stub, tls};

/// Sends `request` on a fresh connection and reads until the stub closes it.
fn exchange_raw(stub: &Stub, request: &str) -> Vec<u8> {
    let mut conn = TcpStream::connect(stub.addr()).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    conn.write_all(request.as_bytes()).expect("send");
    let mut out = Vec::new();
    let _ = conn.read_to_end(&mut out);
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const FORM_POST: &str = "POST /token?x=1 HTTP/1.1\r\nHost: stub\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\na=1&b=x%2By+z&c=%3D!";

#[test]
fn scripted_reply_and_recorded_request() {
    let stub = Stub::start(|req, i| {
        Reply::json(201, format!(r#"{{"i":{i},"path":"{}"}}"#, req.path())).header("X-Stub", "1")
    });
    assert!(stub.base().starts_with("http://127.0.0.1:"));
    let body = r#"{"i":0,"path":"/token?x=1"}"#;
    assert_eq!(
        text(&exchange_raw(&stub, FORM_POST)),
        format!(
            "HTTP/1.1 201 Created\r\nContent-Length: {}\r\nConnection: close\r\nContent-Type: application/json\r\nX-Stub: 1\r\n\r\n{body}",
            body.len()
        )
    );
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.request_line(), "POST /token?x=1 HTTP/1.1");
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.text(), "a=1&b=x%2By+z&c=%3D!");
    assert_eq!(req.form("b").as_deref(), Some("x+y z"));
    assert_eq!(req.form("c").as_deref(), Some("=!"));
    assert_eq!(req.form("d"), None);
    assert_eq!(req.client_cert, None);
}

#[test]
fn replies_in_order_then_the_last_repeats() {
    let stub = Stub::replies(vec![Reply::status(503).body("busy"), Reply::status(204)]);
    let get = "GET / HTTP/1.1\r\n\r\n";
    assert!(text(&exchange_raw(&stub, get)).starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
    assert!(text(&exchange_raw(&stub, get)).starts_with("HTTP/1.1 204 No Content\r\n"));
    assert!(text(&exchange_raw(&stub, get)).starts_with("HTTP/1.1 204 No Content\r\n"));
    assert_eq!(stub.count(), 3);
}

#[test]
fn proxy_form_target_keeps_the_absolute_url() {
    let stub = Stub::replies(vec![Reply::status(502)]);
    exchange_raw(
        &stub,
        "POST http://kc.example/t?a HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    );
    let req = &stub.requests()[0];
    assert_eq!(req.target, "http://kc.example/t?a");
    assert_eq!(req.path(), "/t?a");
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let stub = Stub::builder()
        .keep_alive(true)
        .start(|_, i| Reply::status(200).body(format!("r{i}")));
    let conn = TcpStream::connect(stub.addr()).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut writer = conn;
    for i in 0..3 {
        writer
            .write_all(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n")
            .expect("send");
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("head");
            if line == "\r\n" {
                break;
            }
            head.push(line);
        }
        assert_eq!(head, ["HTTP/1.1 200 OK\r\n", "Content-Length: 2\r\n"]);
        let mut body = [0; 2];
        reader.read_exact(&mut body).expect("body");
        assert_eq!(body, format!("r{i}").as_bytes());
    }
    assert_eq!(
        stub.requests().iter().map(|r| r.text()).collect::<Vec<_>>(),
        ["x"; 3]
    );
}

#[test]
fn raw_garbage_and_close() {
    let stub = Stub::replies(vec![
        Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
        Reply::garbage(),
        Reply::close(),
    ]);
    let get = "GET / HTTP/1.1\r\n\r\n";
    assert_eq!(
        text(&exchange_raw(&stub, get)),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    );
    assert!(!exchange_raw(&stub, get).starts_with(b"HTTP/"));
    assert_eq!(exchange_raw(&stub, get), b"");
}

#[test]
fn cut_after_sends_the_full_length_but_part_of_the_body() {
    let stub = Stub::replies(vec![Reply::status(200).body("0123456789").cut_after(4)]);
    assert_eq!(
        text(&exchange_raw(&stub, "GET / HTTP/1.1\r\n\r\n")),
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123"
    );
}

#[test]
fn huge_body_streams_filler() {
    let stub = Stub::replies(vec![Reply::status(200).huge_body(3 * 1024 * 1024)]);
    let out = exchange_raw(&stub, "GET / HTTP/1.1\r\n\r\n");
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 3145728\r\nConnection: close\r\n\r\n";
    assert!(out.starts_with(head.as_bytes()));
    assert_eq!(out.len() - head.len(), 3 * 1024 * 1024);
    assert!(out[head.len()..].iter().all(|&b| b == b'x'));
}

#[test]
fn delay_and_trickle_are_slow() {
    let stub = Stub::replies(vec![
        Reply::status(200)
            .body("abc")
            .delay(Duration::from_millis(150))
            .trickle(Duration::from_millis(50)),
    ]);
    let started = Instant::now();
    let out = exchange_raw(&stub, "GET / HTTP/1.1\r\n\r\n");
    assert!(text(&out).ends_with("\r\n\r\nabc"), "{}", text(&out));
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn hang_holds_the_connection_until_the_stub_is_dropped() {
    let stub = Stub::replies(vec![Reply::hang()]);
    let mut conn = TcpStream::connect(stub.addr()).expect("connect");
    conn.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("send");
    assert!(stub.wait_for(1, Duration::from_secs(5)));
    conn.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buf = [0; 1];
    let err = conn
        .read(&mut buf)
        .expect_err("no answer while the stub lives");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    drop(stub);
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    assert_eq!(conn.read(&mut buf).expect("closed, not timed out"), 0);
}

#[test]
fn lifetime_bounds_a_hang() {
    let stub = Stub::builder()
        .lifetime(Duration::from_millis(300))
        .start(|_, _| Reply::hang());
    let out = exchange_raw(&stub, "GET / HTTP/1.1\r\n\r\n");
    assert_eq!(out, b"");
    // After its lifetime nothing is served any more.
    let late = TcpStream::connect(stub.addr()).map(|mut c| {
        let _ = c.write_all(b"GET / HTTP/1.1\r\n\r\n");
        let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        out
    });
    assert!(late.map_or(true, |out| out.is_empty()));
    assert_eq!(stub.count(), 1);
}

#[test]
fn speak_first_answers_before_reading() {
    let stub = Stub::builder().speak_first(Reply::raw("HTTP/1.1 400 Bad Request\r\n\r\n"));
    let mut conn = TcpStream::connect(stub.addr()).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut out = Vec::new();
    conn.read_to_end(&mut out).expect("read");
    assert_eq!(out, b"HTTP/1.1 400 Bad Request\r\n\r\n");
    assert_eq!(stub.count(), 0);
}

#[test]
fn wait_for_times_out_without_requests() {
    let stub = Stub::replies(vec![Reply::status(200)]);
    assert!(!stub.wait_for(1, Duration::from_millis(50)));
}

// ---------------------------------------------------------------- TLS

fn client_config(ca_pem: &str, identity: Option<(&str, &str)>) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    Arc::new(match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert")],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
            )
            .expect("identity"),
        None => builder.with_no_client_auth(),
    })
}

/// GETs `/` over TLS to `server_name`; the response text, or the error.
fn tls_get(
    stub: &Stub,
    server_name: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<String, std::io::Error> {
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned()).expect("name");
    let conn = rustls::ClientConnection::new(config, name).expect("client");
    let tcp = TcpStream::connect(stub.addr())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut out = Vec::new();
    tls.read_to_end(&mut out)?;
    Ok(text(&out))
}

#[test]
fn tls_serves_localhost_and_127_0_0_1_under_its_own_ca() {
    let stub = Stub::builder()
        .tls()
        .start(|_, _| Reply::status(200).body("secure"));
    assert!(stub.base().starts_with("https://127.0.0.1:"));
    for name in ["localhost", "127.0.0.1"] {
        let out = tls_get(&stub, name, client_config(stub.ca_pem(), None)).expect(name);
        assert!(out.ends_with("\r\n\r\nsecure"), "{out}");
    }
    assert_eq!(stub.requests()[0].client_cert, None);

    // Another stub's CA does not vouch for this one.
    let other = Stub::builder().tls().start(|_, _| Reply::status(200));
    let err = tls_get(&stub, "localhost", client_config(other.ca_pem(), None))
        .expect_err("unknown issuer");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert_eq!(stub.count(), 2);
}

#[test]
fn mtls_requires_and_reports_the_client_certificate() {
    let stub = Stub::builder()
        .mtls()
        .start(|_, _| Reply::status(200).body("hello client"));
    let identity = Some((stub.client_cert_pem(), stub.client_key_pem()));
    let out = tls_get(&stub, "localhost", client_config(stub.ca_pem(), identity)).expect("mtls");
    assert!(out.ends_with("hello client"), "{out}");
    let reqs = stub.requests();
    assert_eq!(reqs[0].client_cert.as_deref(), Some(stub.client_cert_der()));

    // No certificate, or one from a CA the stub does not know: no request gets through.
    assert!(tls_get(&stub, "localhost", client_config(stub.ca_pem(), None)).is_err());
    let foreign = tls::foreign_client_identity();
    assert!(
        tls_get(
            &stub,
            "localhost",
            client_config(stub.ca_pem(), Some((foreign.cert_pem(), foreign.key_pem())))
        )
        .is_err()
    );
    assert_eq!(stub.count(), 1);
}
