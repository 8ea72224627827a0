//! What the CLI test binaries share: the one runner for the built `jwtgrant` binary (stdout,
//! stderr and the exit code checked separately), key pairs made with `keygen`, a JWT
//! decoder that does not lean on the code under test, the stub token endpoint, and a guard
//! and a runner for `jwks serve`.
//!
//! Token endpoints here are loopback *stubs* (`jwtgrant_test_support::Stub`: scripted HTTP
//! answers from a thread in this process); the real Keycloak tests live in the e2e package
//! (`tests/tests/cli_keycloak.rs`).
//!
//! Each file in `tests/` is its own test binary and pulls this module in with `mod common;`;
//! each uses a subset of it, so the rest would warn as dead code in that binary.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use jwtgrant_test_support::{Reply, Request, Stub, refused_addr};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_jwtgrant");
pub const SECRET: &str = "s3cr3t-client-secret-value";

/// A finished run: exit code, stdout, stderr.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run_with(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    exec(Command::new(BIN), args, env, stdin)
}

/// [`run_with`] with `dir` as the working directory.
pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir);
    exec(cmd, args, env, stdin)
}

fn exec(mut cmd: Command, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    // A clean environment: no JWTGRANT_* from the developer's shell.
    cmd.env_clear().envs(env.iter().copied()).args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn jwtgrant");
    if let Some(input) = stdin {
        let mut s = child.stdin.take().unwrap();
        // A run may exit before reading its stdin (a bad option is refused
        // first); the pipe closing under us is then not the test's failure.
        match s.write_all(input.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
    }
    let out: Output = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

pub fn run(args: &[&str]) -> Run {
    run_with(args, &[], None)
}

/// `keygen` into a fresh directory; returns (dir guard, private key path, public key path).
pub fn keypair(alg: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let r = run(&["keygen", "--alg", alg, "--out-dir", d]);
    assert_eq!(r.code, 0, "{r:?}");
    let private = dir.path().join("private.pem");
    let public = dir.path().join("public.pem");
    (dir, private, public)
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

pub fn b64url_json(part: &str) -> Value {
    // Tiny base64url decoder so the tests do not lean on the code under test.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in part.bytes() {
        let v = alphabet.iter().position(|&a| a == c).expect("base64url") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    serde_json::from_slice(&out).unwrap()
}

pub fn b64url(bytes: &[u8]) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            s.push(alphabet[((v >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    s
}

/// (header, claims) of a compact JWT.
pub fn decode(jwt: &str) -> (Value, Value) {
    let parts: Vec<&str> = jwt.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    (b64url_json(parts[0]), b64url_json(parts[1]))
}

pub fn unsigned_jwt(header: Value, claims: Value) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

pub fn sign_args(key: &str) -> Vec<&str> {
    vec![
        "--key",
        key,
        "--iss",
        "http://localhost:3000",
        "--sub",
        "nodejsuser-1234",
        "--aud",
        "http://localhost:8080/realms/acme",
    ]
}

// ---------------------------------------------------------------- the stub token endpoint

pub fn client_env() -> Vec<(&'static str, &'static str)> {
    vec![("JWTGRANT_CLIENT_SECRET", SECRET)]
}

pub fn ok_token(token: &str) -> Reply {
    Reply::json(
        200,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": 300,
               "refresh_expires_in": 0, "scope": "profile email", "not-before-policy": 0})
        .to_string(),
    )
}

pub fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": error, "error_description": description}).to_string(),
    )
}

/// A loopback stub token endpoint (Keycloak's token path) answering the given replies in
/// order (the last repeats); it records each request.
pub struct TokenStub {
    pub url: String,
    stub: Stub,
}

impl TokenStub {
    pub fn start(replies: Vec<Reply>) -> TokenStub {
        let stub = Stub::replies(replies);
        let url = stub.url("/realms/acme/protocol/openid-connect/token");
        TokenStub { url, stub }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.stub.requests()
    }
}

/// A loopback port where nothing listens.
pub fn refused_url() -> String {
    format!(
        "http://{}/realms/acme/protocol/openid-connect/token",
        refused_addr()
    )
}

// ---------------------------------------------------------------- jwks serve

/// Kills the server when the test ends, passes or fails.
pub struct Child(pub std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET `path` from `addr` (`HOST:PORT`) over plain HTTP: the whole answer, within 10 s.
pub fn http_answer(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// [`http_answer`] as (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let out = http_answer(addr, path);
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A running `jwtgrant jwks serve --addr ADDR ARGS`, killed when dropped. Its stderr lines
/// come through a channel as they are written, read on a thread (the pipe is kept open and
/// drained: the server logs there, and a closed stderr is not what these tests are about).
pub struct Serving {
    _child: Child,
    stderr: mpsc::Receiver<String>,
}

impl Serving {
    pub fn start(addr: &str, args: &[&str]) -> Serving {
        let mut child = Child(
            Command::new(BIN)
                .env_clear()
                .args(["jwks", "serve", "--addr", addr])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let stderr = BufReader::new(child.0.stderr.take().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Serving {
            _child: child,
            stderr: rx,
        }
    }

    /// The next stderr line, waiting up to 10 s for it.
    pub fn line(&self) -> String {
        self.stderr
            .recv_timeout(Duration::from_secs(10))
            .expect("a line on stderr within 10 s")
    }

    /// The next stderr line if one comes within `wait`.
    pub fn line_within(&self, wait: Duration) -> Result<String, mpsc::RecvTimeoutError> {
        self.stderr.recv_timeout(wait)
    }
}
