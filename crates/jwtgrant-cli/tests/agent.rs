//! `jwtgrant agent`: tokens kept fresh in sink files, through an outage, until SIGTERM.
//! The token endpoint is a loopback stub; waits are bounded polls for an outcome.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, TokenStub, client_env, keypair, oauth_error, p};
use jwtgrant_test_support::Reply;

fn short_token(token: &str) -> Reply {
    Reply::json(
        200,
        serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 6})
            .to_string(),
    )
}

/// Polls until `check` holds or `within` passes; the outcome is what the test asserts.
fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

fn content(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[test]
fn the_agent_keeps_fresh_tokens_in_its_sinks_and_removes_an_expired_one() {
    let (d, key, _) = keypair("ES256");
    let sink_a = d.path().join("a-token");
    let sink_b = d.path().join("b-token");
    // Two 6 s tokens (renewed 3 s before expiry: half the lifetime), then an outage.
    let stub = TokenStub::start(vec![
        short_token("token.zero.sig"),
        short_token("token.one.sig"),
        Reply::status(503),
    ]);
    let agent = Command::new(BIN)
        .args([
            "agent",
            "--key",
            p(&key),
            "--iss",
            "http://localhost:3000",
            "--sub",
            "alice",
            "--aud",
            "a",
            "--token-endpoint",
            &stub.url,
            "--client-id",
            "c",
            "--retries",
            "0",
            "--sink",
            p(&sink_a),
            "--sink",
            p(&sink_b),
        ])
        .env_clear()
        .envs(client_env())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    assert!(eventually(Duration::from_secs(10), || content(&sink_a)
        .as_deref()
        == Some("token.zero.sig\n")));
    assert_eq!(content(&sink_b).as_deref(), Some("token.zero.sig\n"));
    let mode = std::fs::metadata(&sink_a).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(eventually(Duration::from_secs(10), || content(&sink_b)
        .as_deref()
        == Some("token.one.sig\n")));
    // The outage outlives token.one: the sinks go rather than hold an expired token.
    assert!(eventually(Duration::from_secs(15), || !sink_a.exists()
        && !sink_b.exists()));

    let status = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = agent.wait_with_output_or_kill();
    assert_eq!(out.0, Some(0), "{}", out.1);
    let stderr = out.1;
    for line in [
        format!(
            "jwtgrant: warning: agent: the token in '{}', '{}' expired before a new one came: removed (written again with the next token)",
            p(&sink_a),
            p(&sink_b)
        ),
        "jwtgrant: warning: agent: refresh failed: ".to_owned(),
    ] {
        assert!(stderr.contains(&line), "{line} not in {stderr}");
    }
    assert!(
        !stderr.contains("token.zero") && !stderr.contains("token.one"),
        "{stderr}"
    );
    assert!(stub.requests().len() >= 3, "{}", stub.requests().len());
}

#[test]
fn a_rejected_first_request_ends_the_agent_with_exit_3() {
    let (d, key, _) = keypair("ES256");
    let sink = d.path().join("token");
    let stub = TokenStub::start(vec![oauth_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    )]);
    let agent = |iss: &str| {
        common::run_with(
            &[
                "agent",
                "--key",
                p(&key),
                "--iss",
                iss,
                "--sub",
                "s",
                "--aud",
                "a",
                "--token-endpoint",
                &stub.url,
                "--client-id",
                "c",
                "--sink",
                p(&sink),
            ],
            &client_env(),
            None,
        )
    };
    let r = agent("http://localhost:3000");
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("jwtgrant: token endpoint rejected the client: invalid_client"),
        "{r:?}"
    );
    assert!(!sink.exists());
    // No assertion can be made at all: exit at once too (1, a local failure).
    let r = agent("not-a-url");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("invalid claim 'iss'"), "{r:?}");
    assert_eq!(stub.requests().len(), 1);
}

trait WaitOrKill {
    fn wait_with_output_or_kill(self) -> (Option<i32>, String);
}

impl WaitOrKill for std::process::Child {
    /// Waits up to 10 s for the exit, then kills: a hung agent fails the test, not CI.
    fn wait_with_output_or_kill(mut self) -> (Option<i32>, String) {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.try_wait().ok().flatten().is_none() {
            let _ = self.kill();
        }
        let out = self.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// SIGHUP reads the settings and the key again: the next assertion is signed with the key
/// now in the file, and the sink gets that grant's token.
#[test]
fn sighup_reloads_the_key() {
    let (d, key, _) = keypair("ES256");
    let (_d2, new_key, new_public) = keypair("ES256");
    let sink = d.path().join("token");
    let stub = TokenStub::start(vec![
        common::ok_token("first.token.sig"),
        common::ok_token("second.token.sig"),
    ]);
    let agent = Command::new(BIN)
        .args([
            "agent",
            "-v",
            "--key",
            p(&key),
            "--iss",
            "http://localhost:3000",
            "--sub",
            "alice",
            "--aud",
            "a",
            "--token-endpoint",
            &stub.url,
            "--client-id",
            "c",
            "--sink",
            p(&sink),
        ])
        .env_clear()
        .envs(client_env())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(10), || content(&sink)
        .as_deref()
        == Some("first.token.sig\n")));
    std::fs::copy(&new_key, &key).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    assert!(eventually(Duration::from_secs(10), || content(&sink)
        .as_deref()
        == Some("second.token.sig\n")));
    let second = stub.requests()[1].form("assertion").unwrap();
    let r = common::run(&["inspect", &second, "--key", p(&new_public)]);
    assert!(r.stdout.contains("signature: valid"), "{r:?}");
    let term = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let (code, stderr) = agent.wait_with_output_or_kill();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("jwtgrant: info: agent: SIGHUP: settings and key read again\n"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("first.token") && !stderr.contains("second.token"),
        "{stderr}"
    );
}
