//! Key and secret files as the built binary handles them: each opened once and checked on
//! that handle (mode, owner), new files never replacing old ones without --force.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

mod common;

use common::{Run, keypair, p, run, run_with};

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// An exchange that gets as far as reading the client secret (the endpoint is never reached).
fn exchange_with_secret(secret: &Path, extra: &[&str]) -> Run {
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
    let Run {
        code,
        stdout,
        stderr,
    } = exchange_with_secret(&secret, &[]);
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
    let (_keys, _, public) = keypair("ES256");
    let Run { code, stderr, .. } = run(&[
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
    let Run { code, stderr, .. } = exchange_with_secret(&secret, &[]);
    assert_eq!(code, 1);
    let s = p(&secret);
    assert_eq!(
        stderr,
        format!(
            "jwtgrant: client secret '{s}' is owned by uid 4242, not by the current user (uid 0) or root, so its owner can replace it: use a copy you own ('cp {s} {s}.mine && chmod 600 {s}.mine') or pass --allow-insecure-key-permissions\n"
        )
    );
    // The override turns it into a warning; the run then goes on to read the assertion.
    let Run { code, stderr, .. } =
        exchange_with_secret(&secret, &["--allow-insecure-key-permissions"]);
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
    let (_keys, private, _) = keypair("ES256");
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
        let Run {
            code,
            stdout,
            stderr,
        } = run(&args);
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
    let Run { code, stderr, .. } = run(&["keygen", "--alg", "ES256", "--out-dir", p(&out)]);
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
    let Run { code, stderr, .. } = run(&["keygen", "--alg", "ES256", "--out-dir", p(&out)]);
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
    let Run { code, stderr, .. } =
        run(&["keygen", "--alg", "ES256", "--out-dir", p(&out), "--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!target.exists());
    let meta = std::fs::symlink_metadata(out.join("private.pem")).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn json_include_secret_needs_json() {
    let Run { code, stderr, .. } = run(&[
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
fn exchange(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
    let mut all = vec![
        "exchange",
        "--token-endpoint",
        "http://127.0.0.1:9/t",
        "--client-id",
        "c",
    ];
    all.extend_from_slice(args);
    let mut vars = vec![("JWTGRANT_CLIENT_SECRET", "s")];
    vars.extend_from_slice(env);
    run_with(&all, &vars, Some(stdin))
}

#[test]
fn an_assertion_in_argv_is_warned_about_once() {
    let Run { code, stderr, .. } = exchange(&["--assertion", "h.p.s"], &[], "");
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.starts_with(ARGV_WARNING), "{stderr}");
    assert_eq!(stderr.matches("warning:").count(), 1, "{stderr}");
    // From stdin or the environment: nobody else can read it, no warning.
    let Run { code, stderr, .. } = exchange(&["--assertion", "-"], &[], "h.p.s\n");
    assert_eq!(code, 4, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let Run { code, stderr, .. } = exchange(&[], &[("JWTGRANT_ASSERTION", "h.p.s")], "");
    assert_eq!(code, 4, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}
