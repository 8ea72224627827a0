//! `token --cache`: one grant serves repeated and parallel runs, `--no-cache` and
//! `--min-ttl` opt out, `cache list` shows entries without their token, `cache clear`
//! removes them. The token endpoint is a loopback stub.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use common::{BIN, TokenStub, client_env, keypair, ok_token, p, run_with};

#[test]
fn one_grant_serves_repeated_and_parallel_runs() {
    let (d, key, _) = keypair("ES256");
    let cache = d.path().join("cache");
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.Y2FjaGVk";
    let stub = TokenStub::start(vec![ok_token(token)]);
    let args = |extra: &[&'static str]| {
        let mut a: Vec<String> = [
            "token",
            "--cache",
            "--cache-dir",
            p(&cache),
            "--key",
            p(&key),
            "--iss",
            "http://localhost:3000",
            "--sub",
            "alice",
            "--token-endpoint",
            &stub.url,
            "--client-id",
            "c",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };
    let run = |extra: &[&'static str]| {
        let a = args(extra);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run_with(&refs, &client_env(), None)
    };

    // Eight at once, then one more: one grant between them.
    let children: Vec<_> = (0..8)
        .map(|_| {
            std::process::Command::new(BIN)
                .args(args(&[]))
                .env_clear()
                .envs(client_env())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{token}\n"));
    }
    let r = run(&["-v"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, format!("{token}\n").as_str()),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("jwtgrant: info: token from the cache ("),
        "{r:?}"
    );
    assert_eq!(stub.requests().len(), 1, "one grant for nine runs");
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o700
    );

    // Opting out: --no-cache, or a --min-ttl the cached token cannot meet.
    assert_eq!(run(&["--no-cache"]).code, 0);
    assert_eq!(stub.requests().len(), 2);
    assert_eq!(run(&["--min-ttl", "10m"]).code, 0);
    assert_eq!(stub.requests().len(), 3);

    // list shows the entry, never the token; clear removes it.
    let r = run_with(&["cache", "list", "--cache-dir", p(&cache)], &[], None);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.lines().count(), 1, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "profile -  sub alice  iss http://localhost:3000  {}  expires ",
            stub.url
        )),
        "{r:?}"
    );
    assert!(
        !r.stdout.contains(token) && !r.stdout.contains("Y2FjaGVk"),
        "{r:?}"
    );
    let r = run_with(&["cache", "clear", "--cache-dir", p(&cache)], &[], None);
    assert_eq!(
        r.stdout,
        format!("removed 0 expired cached tokens from {}\n", p(&cache))
    );
    let r = run_with(
        &["cache", "clear", "--all", "--cache-dir", p(&cache)],
        &[],
        None,
    );
    assert_eq!(
        r.stdout,
        format!("removed 1 cached token from {}\n", p(&cache))
    );
    let r = run_with(&["cache", "list", "--cache-dir", p(&cache)], &[], None);
    assert_eq!(r.stdout, format!("no cached tokens in {}\n", p(&cache)));

    // Another subject is another entry: a fresh grant.
    let a = args(&[]);
    let mut refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let sub = refs.iter().position(|w| *w == "alice").unwrap();
    refs[sub] = "bob";
    assert_eq!(run_with(&refs, &client_env(), None).code, 0);
    assert_eq!(run(&[]).code, 0);
    assert_eq!(stub.requests().len(), 5);
}

/// A cache directory others can read is refused with its path, not silently used.
#[test]
fn a_cache_directory_others_can_read_is_refused() {
    let (d, key, _) = keypair("ES256");
    let cache = d.path().join("open");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stub = TokenStub::start(vec![ok_token("a.b.c")]);
    let r = run_with(
        &[
            "token",
            "--cache",
            "--cache-dir",
            p(&cache),
            "--key",
            p(&key),
            "--iss",
            "i",
            "--sub",
            "s",
            "--aud",
            "a",
            "--token-endpoint",
            &stub.url,
            "--client-id",
            "c",
        ],
        &client_env(),
        None,
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.starts_with("jwtgrant: "), "{r:?}");
    assert!(r.stderr.contains(p(&cache)), "{r:?}");
    assert!(stub.requests().is_empty(), "{r:?}");
}
