//! Key and secret files as the built binary handles them: each opened once and checked on
//! that handle (mode, owner), new files never replacing old ones without --force.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_jwtgrant");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).env_clear().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// An exchange that gets as far as reading the client secret (the endpoint is never reached).
fn exchange_with_secret(secret: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "exchange",
        "--assertion",
        "-",
        "--token-endpoint",
        "http://127.0.0.1:9/t",
        "--client-id",
        "c",
        "--client-secret-file",
        p(secret),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_client_secret_file_others_can_read_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client.secret");
    std::fs::write(&secret, "s3cr3t\n").unwrap();
    chmod(&secret, 0o644);
    let (code, stdout, stderr) = exchange_with_secret(&secret, &[]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr,
        format!(
            "jwtgrant: client secret '{0}' is accessible by group or others (mode 0644): run 'chmod 600 {0}' (or pass --allow-insecure-key-permissions)\n",
            p(&secret)
        )
    );
}

#[test]
fn an_admin_password_file_others_can_read_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("admin.pw");
    std::fs::write(&password, "admin\n").unwrap();
    chmod(&password, 0o604);
    let (_d, public) = public_key(&dir);
    let (code, _, stderr) = run(&[
        "keycloak",
        "setup",
        "--keycloak",
        "http://127.0.0.1:9",
        "--realm",
        "r",
        "--issuer",
        "http://localhost:3000",
        "--public-key",
        p(&public),
        "--client-id",
        "c",
        "--admin-password-file",
        p(&password),
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "jwtgrant: admin password '{0}' is accessible by group or others (mode 0604): run 'chmod 600 {0}' (or pass --allow-insecure-key-permissions)\n",
            p(&password)
        )
    );
}

fn public_key(dir: &tempfile::TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
    let keys = dir.path().join("keys");
    let (code, _, stderr) = run(&["keygen", "--alg", "ES256", "--out-dir", p(&keys)]);
    assert_eq!(code, 0, "{stderr}");
    (keys.join("private.pem"), keys.join("public.pem"))
}

/// Only root can give a file away; as another user this test checks what it can (the rule
/// itself is unit-tested in `files.rs` with any owner).
#[test]
fn a_secret_file_owned_by_another_user_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client.secret");
    std::fs::write(&secret, "s3cr3t\n").unwrap();
    chmod(&secret, 0o600);
    match std::os::unix::fs::chown(&secret, Some(4242), None) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return,
        Err(e) => panic!("chown: {e}"),
    }
    let (code, _, stderr) = exchange_with_secret(&secret, &[]);
    assert_eq!(code, 1);
    let s = p(&secret);
    assert_eq!(
        stderr,
        format!(
            "jwtgrant: client secret '{s}' is owned by uid 4242, not by the current user (uid 0) or root, so its owner can replace it: use a copy you own ('cp {s} {s}.mine && chmod 600 {s}.mine') or pass --allow-insecure-key-permissions\n"
        )
    );
    // The override turns it into a warning; the run then goes on to read the assertion.
    let (code, _, stderr) = exchange_with_secret(&secret, &["--allow-insecure-key-permissions"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "jwtgrant: warning: client secret '{s}' is owned by uid 4242, not by the current user (uid 0) or root, so its owner can replace it: use a copy you own ('cp {s} {s}.mine && chmod 600 {s}.mine') or pass --allow-insecure-key-permissions; using it because of --allow-insecure-key-permissions\njwtgrant: no assertion on stdin\n"
        )
    );
}

#[test]
fn a_private_key_others_can_read_is_refused_by_every_command_that_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let (private, _) = public_key(&dir);
    chmod(&private, 0o640);
    let expected = format!(
        "jwtgrant: private key '{0}' is accessible by group or others (mode 0640): run 'chmod 600 {0}' (or pass --allow-insecure-key-permissions)\n",
        p(&private)
    );
    for args in [
        vec!["pubkey", "--key", p(&private)],
        vec!["jwks", "--key", p(&private)],
        vec![
            "sign",
            "--key",
            p(&private),
            "--iss",
            "http://localhost:3000",
            "--sub",
            "s",
            "--aud",
            "http://kc/realms/r",
        ],
    ] {
        let (code, stdout, stderr) = run(&args);
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (1, "", expected.as_str()),
            "{args:?}"
        );
    }
}

#[test]
fn keygen_never_replaces_a_file_without_force_and_syncs_a_0600_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k");
    std::fs::create_dir(&out).unwrap();
    // Only public.pem exists: refused before anything is written, private.pem not created.
    std::fs::write(out.join("public.pem"), "mine").unwrap();
    let (code, _, stderr) = run(&["keygen", "--alg", "ES256", "--out-dir", p(&out)]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "jwtgrant: '{}' already exists (pass --force to replace it)\n",
            p(&out.join("public.pem"))
        )
    );
    assert!(!out.join("private.pem").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("public.pem")).unwrap(),
        "mine"
    );
    // A symlink at private.pem is an existing file too: never written through.
    let target = dir.path().join("elsewhere");
    std::fs::remove_file(out.join("public.pem")).unwrap();
    std::os::unix::fs::symlink(&target, out.join("private.pem")).unwrap();
    let (code, _, stderr) = run(&["keygen", "--alg", "ES256", "--out-dir", p(&out)]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "jwtgrant: '{}' already exists (pass --force to replace it)\n",
            p(&out.join("private.pem"))
        )
    );
    assert!(!target.exists());
    // --force replaces the link itself (not its target) with a 0600 key.
    let (code, _, stderr) = run(&["keygen", "--alg", "ES256", "--out-dir", p(&out), "--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!target.exists());
    let meta = std::fs::symlink_metadata(out.join("private.pem")).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn json_include_secret_needs_json() {
    let (code, _, stderr) = run(&[
        "keycloak",
        "setup",
        "--keycloak",
        "http://127.0.0.1:9",
        "--realm",
        "r",
        "--issuer",
        "http://localhost:3000",
        "--jwks-url",
        "http://localhost:3000/jwks",
        "--client-id",
        "c",
        "--json-include-secret",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "jwtgrant: the following required arguments were not provided:\n  --json\n"
        ),
        "{stderr}"
    );
}

// ---------------------------------------------------------------- secrets in argv

const ARGV_WARNING: &str = "jwtgrant: warning: --assertion JWT puts the assertion on the command line, where every local user can read it through `ps` until it expires; pass --assertion - and the JWT on stdin, or set JWTGRANT_ASSERTION\n";

/// The exchange up to the (refused) endpoint, with the client secret from the environment.
fn exchange(args: &[&str], env: &[(&str, &str)], stdin: &str) -> (i32, String) {
    use std::io::Write as _;
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("JWTGRANT_CLIENT_SECRET", "s")
        .envs(env.iter().copied())
        .args([
            "exchange",
            "--token-endpoint",
            "http://127.0.0.1:9/t",
            "--client-id",
            "c",
        ])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn an_assertion_in_argv_is_warned_about_once() {
    let (code, stderr) = exchange(&["--assertion", "h.p.s"], &[], "");
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.starts_with(ARGV_WARNING), "{stderr}");
    assert_eq!(stderr.matches("warning:").count(), 1, "{stderr}");
    // From stdin or the environment: nobody else can read it, no warning.
    let (code, stderr) = exchange(&["--assertion", "-"], &[], "h.p.s\n");
    assert_eq!(code, 4, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let (code, stderr) = exchange(&[], &[("JWTGRANT_ASSERTION", "h.p.s")], "");
    assert_eq!(code, 4, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}
