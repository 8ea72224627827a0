//! Profiles: option values from a TOML file, below flags and variables; errors that name
//! the file, line and key; `config show`. Token endpoints here are loopback stubs.

mod common;

use std::path::Path;

use common::{SECRET, TokenStub, client_env, decode, keypair, ok_token, p, run_with};

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_profile_gives_the_defaults_and_flags_and_variables_beat_it() {
    let (d, key, _) = keypair("ES256");
    let stub = TokenStub::start(vec![ok_token("header.payload.sig")]);
    let config = d.path().join("config.toml");
    write(
        &config,
        &format!(
            "[profiles.dev]\nkey = \"{}\"\niss = \"http://localhost:3000\"\nsub = \"alice\"\ntoken-endpoint = \"{}\"\nclient-id = \"from-profile\"\naud = \"http://kc/realms/acme\"\noutput = \"header\"\n",
            p(&key),
            stub.url
        ),
    );
    let token = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["token", "-v", "--profile", "dev", "--config", p(&config)];
        args.extend(extra);
        let mut all = client_env();
        all.extend(env);
        run_with(&args, &all, None)
    };

    let r = token(&[], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "Authorization: Bearer header.payload.sig\n");
    let sent = stub.requests().last().unwrap().clone();
    assert_eq!(sent.form("client_id").as_deref(), Some("from-profile"));
    assert_eq!(sent.form("client_secret").as_deref(), Some(SECRET));
    assert_eq!(decode(&sent.form("assertion").unwrap()).1["sub"], "alice");
    assert!(
        r.stderr.contains(&format!(
            "jwtgrant: info: --client-id from profile 'dev' ({}:6)\n",
            p(&config)
        )),
        "{r:?}"
    );

    // A variable beats the profile, a flag beats both.
    let r = token(&[], &[("JWTGRANT_CLIENT_ID", "from-env")]);
    assert_eq!(r.code, 0, "{r:?}");
    let sent = stub.requests().last().unwrap().clone();
    assert_eq!(sent.form("client_id").as_deref(), Some("from-env"));
    let r = token(
        &["--client-id", "from-flag"],
        &[("JWTGRANT_CLIENT_ID", "from-env")],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let sent = stub.requests().last().unwrap().clone();
    assert_eq!(sent.form("client_id").as_deref(), Some("from-flag"));

    // The selection from the environment, and config show naming each source.
    let r = run_with(
        &["config", "show"],
        &[
            ("JWTGRANT_PROFILE", "dev"),
            ("JWTGRANT_CONFIG", p(&config)),
            ("JWTGRANT_SCOPE", "email"),
            ("JWTGRANT_CLIENT_SECRET", SECRET),
        ],
        None,
    );
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        format!("profile 'dev' from {}", p(&config)),
        format!(
            "--client-id from-profile  (profile 'dev' ({}:6))",
            p(&config)
        ),
        "--scope email  (JWTGRANT_SCOPE)".to_owned(),
        "--lifetime 60s  (default)".to_owned(),
        "client secret: (redacted)  (JWTGRANT_CLIENT_SECRET)".to_owned(),
    ] {
        assert!(r.stdout.lines().any(|l| l == line), "{line} not in {r:?}");
    }
    assert!(!r.stdout.contains(SECRET), "{r:?}");
}

#[test]
fn a_bad_profile_is_a_usage_error_naming_the_file_line_and_key() {
    let d = tempfile::tempdir().unwrap();
    let config = d.path().join("config.toml");
    write(
        &config,
        "[profiles.dev]\nrealm = \"acme\"\nclient-secret = \"hunter2\"\n",
    );
    let r = run_with(
        &["token", "--profile", "dev", "--config", p(&config)],
        &[],
        None,
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        format!(
            "jwtgrant: {}:3: 'client-secret' cannot be in a profile: secrets and assertions never sit in the file; give a path (e.g. client-secret-file) or use the environment\n",
            p(&config)
        )
    );
    assert!(!r.stderr.contains("hunter2"));

    let r = run_with(
        &["token", "--profile", "prod", "--config", p(&config)],
        &[],
        None,
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        format!(
            "jwtgrant: {}: no profile 'prod' (it has: dev)\n",
            p(&config)
        )
    );

    // The default file under XDG_CONFIG_HOME, missing: named, with the fix.
    let r = run_with(
        &["token", "--profile", "dev"],
        &[("XDG_CONFIG_HOME", p(d.path()))],
        None,
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.starts_with(&format!(
            "jwtgrant: cannot read the config file '{}' for --profile dev: ",
            d.path().join("jwtgrant/config.toml").display()
        )),
        "{r:?}"
    );
}

/// An exported JWTGRANT_PROFILE applies to the commands a profile can set options for; the
/// others (`--version`, `keygen`, `cache list`) run as if it were not there.
#[test]
fn a_profile_variable_does_not_break_the_commands_it_does_not_apply_to() {
    let d = tempfile::tempdir().unwrap();
    let env = [
        ("JWTGRANT_PROFILE", "nowhere"),
        ("JWTGRANT_CONFIG", "/nonexistent/config.toml"),
    ];
    let r = run_with(&["--version"], &env, None);
    assert_eq!(r.code, 0, "{r:?}");
    let r = run_with(&["keygen", "--out-dir", p(d.path())], &env, None);
    assert_eq!(r.code, 0, "{r:?}");
    // token is one it applies to: the missing file is named.
    let r = run_with(&["token"], &env, None);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.starts_with(
            "jwtgrant: cannot read the config file '/nonexistent/config.toml' for --profile nowhere: "
        ),
        "{r:?}"
    );
}
