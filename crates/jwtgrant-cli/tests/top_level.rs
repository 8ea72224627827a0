//! The top level of the built `jwtgrant` binary: `--version`, `--help` for every command,
//! and shell completions.

mod common;

use common::run;

#[test]
fn version_and_help() {
    let r = run(&["--version"]);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stdout,
        format!("jwtgrant {}\n", env!("CARGO_PKG_VERSION"))
    );
    let r = run(&["--help"]);
    assert_eq!(r.code, 0);
    for needle in [
        "Exit codes:",
        "3  the server rejected",
        "4  the server could not be reached",
    ] {
        assert!(r.stdout.contains(needle), "{needle} in {}", r.stdout);
    }
    for cmd in [
        "keygen",
        "sign",
        "exchange",
        "token",
        "pubkey",
        "jwks",
        "inspect",
        "completions",
    ] {
        let r = run(&[cmd, "--help"]);
        assert_eq!(r.code, 0, "{cmd}");
        assert!(r.stdout.contains("Examples:"), "{cmd} --help has examples");
    }
    for sub in ["setup", "doctor"] {
        let r = run(&["keycloak", sub, "--help"]);
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("Examples:"), "keycloak {sub}");
        assert!(
            r.stdout.contains("[env: JWTGRANT_KEYCLOAK"),
            "env shown for keycloak {sub}"
        );
    }
    let r = run(&["jwks", "serve", "--help"]);
    assert!(r.stdout.contains("SIGHUP"));
    let r = run(&[]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let r = run(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}");
        assert!(r.stdout.contains("jwtgrant"), "{shell}");
        assert!(r.stdout.contains("keycloak"), "{shell}");
        assert_eq!(r.stderr, "");
    }
    assert_eq!(run(&["completions", "tcsh"]).code, 2);
}
