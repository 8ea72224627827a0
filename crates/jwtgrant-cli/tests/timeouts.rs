//! `--timeout` bounds the whole `token` call, retries included. The server is a loopback stub
//! that accepts connections and never answers.

use jwtgrant_test_support::{Reply, Stub};

mod common;

use common::run_in;

#[test]
fn token_timeout_bounds_every_attempt_together() {
    let stub = Stub::replies(vec![Reply::hang()]);
    let dir = std::env::temp_dir().join(format!("jwtgrant-timeout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let keygen = run_in(
        &dir,
        &["keygen", "--alg", "ES256", "--out-dir", "k"],
        &[],
        None,
    );
    assert_eq!(keygen.code, 0, "{keygen:?}");
    let out = run_in(
        &dir,
        &[
            "token",
            "--key",
            "k/private.pem",
            "--iss",
            "https://issuer.example",
            "--sub",
            "user-1",
            "--aud",
            "http://127.0.0.1/realms/r",
            "--token-endpoint",
            &stub.url("/token"),
            "--client-id",
            "c",
            "--timeout",
            "1s",
            "--retries",
            "2",
        ],
        &[("JWTGRANT_CLIENT_SECRET", "hunter2")],
        None,
    );
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = out.stderr;
    assert_eq!(out.code, 4, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "jwtgrant: timed out after 1s waiting for {} to answer",
            stub.url("/token")
        )),
        "{stderr}"
    );
    // One attempt used the whole budget; the two retries were not started.
    assert_eq!(stub.count(), 1);
}
