//! `jwks serve` through the built binary: serving, reloading rotated keys, HTTPS with a
//! throwaway CA, and a closed stderr. Load it should shrug off is in `serve_limits.rs`.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jwtgrant_test_support::tls;
use serde_json::{Value, json};

use common::{BIN, Child, Run, Serving, http_get, keypair, p, run};

#[test]
fn jwks_serve_serves_and_reloads_rotated_keys() {
    let (d, key, public) = keypair("RS256");
    let (_d2, key2, _) = keypair("ES256");
    let served = d.path().join("served.pem");
    std::fs::copy(&public, &served).unwrap();
    let mut child = Child(
        Command::new(BIN)
            .env_clear()
            .args([
                "jwks",
                "serve",
                "--key",
                p(&served),
                "--addr",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    // "jwtgrant: serving the JWKS of 1 key at http://127.0.0.1:PORT/.well-known/jwks.json and /jwks"
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    let expected = run(&["jwks", "--key", p(&key)]).stdout;
    let (status, body) = http_get(&addr, "/.well-known/jwks.json");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        serde_json::from_str::<Value>(&expected).unwrap()
    );
    let (status, body2) = http_get(&addr, "/jwks");
    assert_eq!((status, body2), (200, body.clone()));
    assert_eq!(http_get(&addr, "/other").0, 404);

    // Rotate: replace the file with another key (a private key file, mode 0600, works too).
    let tmp = d.path().join("served.tmp");
    std::fs::copy(&key2, &tmp).unwrap();
    std::fs::rename(&tmp, &served).unwrap();
    let expected2: Value = serde_json::from_str(&run(&["jwks", "--key", p(&key2)]).stdout).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = http_get(&addr, "/jwks");
        if serde_json::from_str::<Value>(&body).unwrap() == expected2 {
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // A broken file keeps the previous keys served.
    std::fs::write(&served, "garbage").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let (status, body) = http_get(&addr, "/jwks");
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), expected2);

    // SIGHUP forces a reload.
    std::fs::copy(&public, &served).unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, b) = http_get(&addr, "/jwks");
        if serde_json::from_str::<Value>(&b).unwrap()
            == serde_json::from_str::<Value>(&expected).unwrap()
        {
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded after SIGHUP: {b}");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(child);
}

// ---------------------------------------------------------------- jwks serve over TLS

/// A throwaway CA (`jwtgrant_test_support::tls::Ca`) and a server certificate it issued for
/// `localhost` and `127.0.0.1`, written as PEM into a fresh directory; the keys have mode 0600.
struct Pki {
    _dir: tempfile::TempDir,
    ca_pem: String,
    cert: PathBuf,
    key: PathBuf,
    /// Another certificate's key: the wrong key for `cert`.
    other_key: PathBuf,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca = tls::Ca::generate("jwtgrant test CA");
    let server = ca.server_identity();
    let write_key = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    };
    let key = write_key("server.key", server.key_pem());
    let other_key = write_key("other.key", ca.client_identity().key_pem());
    let cert = dir.path().join("server.pem");
    std::fs::write(&cert, server.cert_pem()).unwrap();
    Pki {
        ca_pem: ca.cert_pem().to_owned(),
        cert,
        key,
        other_key,
        _dir: dir,
    }
}

/// An agent that trusts only `ca_pem` (no webpki roots, no proxy from the environment).
fn agent_trusting(ca_pem: &str) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let ca = Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    ureq::Agent::config_builder()
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::from(vec![ca]))
                .build(),
        )
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn https_get_json(agent: &ureq::Agent, url: &str) -> Value {
    let mut resp = agent.get(url).call().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap()
}

#[test]
fn jwks_serve_over_tls_serves_the_jwks_to_a_client_trusting_the_ca() {
    let pki = pki();
    let (d, _, public) = keypair("EdDSA");
    let (_d2, _, public2) = keypair("ES256");
    let served = d.path().join("served.pem");
    std::fs::copy(&public, &served).unwrap();
    let server = Serving::start(
        "127.0.0.1:0",
        &[
            "--key",
            p(&served),
            "--kid",
            "tls-test",
            "--tls-cert",
            p(&pki.cert),
            "--tls-key",
            p(&pki.key),
        ],
    );
    let line = server.line();
    let addr = line
        .split("https://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no https URL in {line:?}"))
        .to_owned();
    assert_eq!(
        line,
        format!(
            "jwtgrant: serving the JWKS of 1 key(s) at https://{addr}/.well-known/jwks.json and /jwks (reloads on change and SIGHUP)"
        )
    );

    // A connection that never starts its handshake must not hold up anyone else.
    let _stalled = TcpStream::connect(&addr).unwrap();

    let agent = agent_trusting(&pki.ca_pem);
    let printed: Value =
        serde_json::from_str(&run(&["jwks", "--key", p(&public), "--kid", "tls-test"]).stdout)
            .unwrap();
    let x = printed["keys"][0]["x"].as_str().unwrap();
    let expected = json!({"keys": [
        {"crv": "Ed25519", "kid": "tls-test", "kty": "OKP", "use": "sig", "x": x}
    ]});
    let started = Instant::now();
    for url in [
        format!("https://{addr}/.well-known/jwks.json"),
        format!("https://{addr}/jwks"),
        // The certificate names localhost too.
        format!(
            "https://localhost:{}/jwks",
            addr.rsplit(':').next().unwrap()
        ),
    ] {
        assert_eq!(https_get_json(&agent, &url), expected, "{url}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the stalled handshake blocked the others: {:?}",
        started.elapsed()
    );

    // Plain HTTP to the TLS port gets no HTTP answer, and the server keeps serving TLS.
    let mut plain = TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    // The server may hang up before the whole request is written.
    let _ = plain.write_all(
        format!("GET /jwks HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP answered: {:?}",
        String::from_utf8_lossy(&answer)
    );
    let err = agent
        .get(&format!("http://{addr}/jwks"))
        .call()
        .unwrap_err();
    assert!(
        !matches!(err, ureq::Error::StatusCode(_)),
        "plain HTTP got a status: {err}"
    );
    // A client that does not trust the CA is refused at the handshake.
    let untrusting: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let err = untrusting
        .get(&format!("https://{addr}/jwks"))
        .call()
        .unwrap_err();
    assert!(
        matches!(err, ureq::Error::Tls(_) | ureq::Error::Io(_)),
        "{err:?}"
    );

    // Reloads keep working over TLS.
    let tmp = d.path().join("served.tmp");
    std::fs::copy(&public2, &tmp).unwrap();
    std::fs::rename(&tmp, &served).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let jwks = https_get_json(&agent, &format!("https://{addr}/jwks"));
        if jwks["keys"][0]["kty"] == "EC" {
            assert_eq!(jwks["keys"][0]["kid"], "tls-test");
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded: {jwks}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn jwks_serve_tls_refuses_bad_certificates_and_keys_with_the_fix() {
    let pki = pki();
    let (d, _, public) = keypair("EdDSA");
    let serve = |cert: &Path, key: &Path| {
        run(&[
            "jwks",
            "serve",
            "--key",
            p(&public),
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            p(cert),
            "--tls-key",
            p(key),
        ])
    };
    let check = |r: Run, code: i32, stderr: String| {
        assert_eq!((r.code, r.stdout.as_str(), r.stderr), (code, "", stderr));
    };
    let (cert, other) = (p(&pki.cert), p(&pki.other_key));

    check(
        serve(&pki.cert, &pki.other_key),
        1,
        format!(
            "jwtgrant: TLS key '{other}' does not belong to the first certificate in '{cert}': pass the key the certificate was issued for, and put that certificate first in the chain\n"
        ),
    );

    let open = d.path().join("open.key");
    std::fs::copy(&pki.key, &open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = p(&open);
    check(
        serve(&pki.cert, &open),
        1,
        format!(
            "jwtgrant: TLS key '{o}' is accessible by group or others (mode 0644): run 'chmod 600 {o}' (or pass --allow-insecure-key-permissions)\n"
        ),
    );

    let missing = d.path().join("missing.pem");
    let m = p(&missing);
    check(
        serve(&missing, &pki.key),
        1,
        format!(
            "jwtgrant: cannot read TLS certificate '{m}': No such file or directory (os error 2)\n"
        ),
    );

    // The key given as the certificate: no certificate in it.
    let k = p(&pki.key);
    check(
        serve(&pki.key, &pki.key),
        1,
        format!(
            "jwtgrant: TLS certificate '{k}' holds no '-----BEGIN CERTIFICATE-----' block: pass the server's certificate chain as PEM, the server's own certificate first\n"
        ),
    );

    // The certificate given as the key (mode 0600, so the parse is what fails).
    let cert_as_key = d.path().join("cert-as.key");
    std::fs::copy(&pki.cert, &cert_as_key).unwrap();
    std::fs::set_permissions(&cert_as_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let c = p(&cert_as_key);
    check(
        serve(&pki.cert, &cert_as_key),
        1,
        format!(
            "jwtgrant: TLS key '{c}' holds no private key block ('-----BEGIN PRIVATE KEY-----', RSA or EC): pass the certificate's unencrypted private key as PEM (PKCS#8, PKCS#1 or SEC1)\n"
        ),
    );

    // A broken key block: the message never quotes the file.
    let broken = d.path().join("broken.key");
    let key_pem = std::fs::read_to_string(&pki.key).unwrap();
    let body_line = key_pem.lines().nth(1).unwrap().to_owned();
    std::fs::write(&broken, key_pem.replace("-----END PRIVATE KEY-----", "")).unwrap();
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o600)).unwrap();
    let b = p(&broken);
    let r = serve(&pki.cert, &broken);
    assert!(!r.stderr.contains(&body_line), "{r:?}");
    check(
        r,
        1,
        format!(
            "jwtgrant: TLS key '{b}' does not parse as PEM: pass the certificate's unencrypted private key as PEM (PKCS#8, PKCS#1 or SEC1)\n"
        ),
    );

    // Both or neither.
    let r = run(&["jwks", "serve", "--key", p(&public), "--tls-cert", cert]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.starts_with(
            "jwtgrant: the following required arguments were not provided:\n  --tls-key <FILE>\n"
        ),
        "{r:?}"
    );
}

/// Logging to a closed stderr must not kill a running server: `jwks serve ... 2>&1 | head -1`
/// used to die at the first reload, when the logger's `eprintln!` panicked.
#[test]
fn jwks_serve_survives_a_closed_stderr() {
    let (_d, _, public) = keypair("EdDSA");
    let mut child = Child(
        Command::new(BIN)
            .env_clear()
            .args([
                "jwks",
                "serve",
                "--key",
                p(&public),
                "--addr",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    drop(stderr);
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    // A reload logs a warning, to the closed pipe.
    let _ = Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(child.0.try_wait().unwrap().is_none(), "the server died");
    assert_eq!(http_get(&addr, "/jwks").0, 200);
}
