//! The token cache on a real file system, and between real processes: the parallel tests
//! run this test binary again as children (`CHILD_ENV` selects the child mode).
#![cfg(unix)]

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jwtgrant_exchange::cache::{CacheKey, DEFAULT_MIN_TTL, FileCache, Origin};
use jwtgrant_exchange::{Exchange, ExchangeError, TokenResponse};
use jwtgrant_test_support::{Reply, Stub};
use serde_json::Value;

/// Set in a child: the directory of the shared test files.
const CHILD_ENV: &str = "JWTGRANT_CACHE_TEST_CHILD";

/// Warnings logged in this process, for the tests to read (each filters by its own dir).
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Recorder;

impl log::Log for Recorder {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            WARNINGS.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn record_warnings() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        log::set_logger(&Recorder).unwrap();
        log::set_max_level(log::LevelFilter::Warn);
    });
}

/// The warnings that mention `dir`.
fn warnings_about(dir: &Path) -> Vec<String> {
    let dir = dir.display().to_string();
    let all = WARNINGS.lock().unwrap();
    all.iter().filter(|w| w.contains(&dir)).cloned().collect()
}

fn key() -> CacheKey {
    CacheKey {
        label: Some("test".into()),
        endpoint: "https://sso.example.com/realms/acme/protocol/openid-connect/token".into(),
        client_id: Some("custom-client".into()),
        client_auth: "client_secret_post".into(),
        issuer: "https://idp.example.com".into(),
        subject: "user-1".into(),
        audience: "https://sso.example.com/realms/acme".into(),
        scope: None,
        extra_claims: serde_json::Map::new(),
        extra_params: Vec::new(),
        signing_key: "sig-thumb".into(),
        dpop_key: None,
        client_certificate: None,
    }
}

fn token(access_token: &str, expires_in: u64) -> TokenResponse {
    let body = format!(r#"{{"access_token":"{access_token}","expires_in":{expires_in}}}"#);
    jwtgrant_exchange::fuzzing::token_response(
        200,
        None,
        None,
        body.as_bytes(),
        &[],
        SystemTime::now(),
    )
    .unwrap()
}

/// A fetch that counts its calls and returns `text` living `expires_in` seconds.
fn counting<'a>(
    calls: &'a AtomicUsize,
    text: &'a str,
    expires_in: u64,
) -> impl FnOnce() -> Result<TokenResponse, ExchangeError> + 'a {
    move || {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(token(text, expires_in))
    }
}

fn no_fetch() -> Result<TokenResponse, ExchangeError> {
    panic!("a cached token was expected: no fetch")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn tempdir() -> (tempfile::TempDir, PathBuf) {
    record_warnings();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache").join("jwtgrant");
    (tmp, dir)
}

/// Rewrites the entry's JSON with `change`.
fn edit_entry(path: &Path, change: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    change(&mut v);
    fs::write(path, serde_json::to_vec(&v).unwrap()).unwrap();
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_hit_makes_no_fetch() {
    let (_tmp, dir) = tempdir();
    let cache = FileCache::open(&dir).unwrap();
    let calls = AtomicUsize::new(0);
    let first = cache
        .get_or_fetch(&key(), DEFAULT_MIN_TTL, counting(&calls, "tok-1", 300))
        .unwrap();
    assert_eq!(first.origin, Origin::Fetched);
    assert_eq!(first.token.access_token.secret(), "tok-1");
    let again = cache
        .get_or_fetch(&key(), DEFAULT_MIN_TTL, counting(&calls, "tok-2", 300))
        .unwrap();
    assert_eq!(again.origin, Origin::Cached);
    assert_eq!(again.token.access_token.secret(), "tok-1");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one grant for two calls");
    let debug = format!("{again:?} {cache:?} {:?}", key());
    assert!(
        !debug.contains("tok-1"),
        "the token never reaches Debug: {debug}"
    );
    // Served with the stored expiry and the seconds left.
    assert_eq!(
        again.token.expires_at.map(secs),
        first.token.expires_at.map(secs)
    );
    let left = again.token.expires_in.unwrap();
    assert!((295..=300).contains(&left), "{left}");
    assert_eq!(again.token.token_type, "Bearer");
    // Another key (one field differs) is another entry.
    let mut other = key();
    other.scope = Some("email".into());
    let fresh = cache
        .get_or_fetch(&other, DEFAULT_MIN_TTL, counting(&calls, "tok-3", 300))
        .unwrap();
    assert_eq!(
        (fresh.origin, fresh.token.access_token.secret()),
        (Origin::Fetched, "tok-3")
    );
    assert_eq!(
        cache
            .get(&key(), DEFAULT_MIN_TTL)
            .map(|t| t.access_token.secret().to_owned()),
        Some("tok-1".to_owned())
    );
    assert!(
        warnings_about(&dir).is_empty(),
        "{:?}",
        warnings_about(&dir)
    );
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn near_expiry_fetches_a_new_token() {
    let (_tmp, dir) = tempdir();
    let cache = FileCache::open(&dir).unwrap();
    let calls = AtomicUsize::new(0);
    cache
        .get_or_fetch(&key(), DEFAULT_MIN_TTL, counting(&calls, "short", 120))
        .unwrap();
    // 120 s left is more than 60 s: served.
    let hit = cache
        .get_or_fetch(&key(), DEFAULT_MIN_TTL, no_fetch)
        .unwrap();
    assert_eq!(hit.token.access_token.secret(), "short");
    // But not more than 200 s: a new grant, which replaces the entry.
    let renewed = cache
        .get_or_fetch(
            &key(),
            Duration::from_secs(200),
            counting(&calls, "long", 3600),
        )
        .unwrap();
    assert_eq!(
        (renewed.origin, renewed.token.access_token.secret()),
        (Origin::Fetched, "long")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let hit = cache
        .get_or_fetch(&key(), Duration::from_secs(200), no_fetch)
        .unwrap();
    assert_eq!(hit.token.access_token.secret(), "long");
    // An expired entry is not served at any min_ttl.
    edit_entry(&cache.entry_path(&key()), |v| {
        v["expires_at"] = (unix_now() - 1).into()
    });
    assert!(cache.get(&key(), Duration::ZERO).is_none());
    assert!(
        warnings_about(&dir).is_empty(),
        "{:?}",
        warnings_about(&dir)
    );
}

#[test]
fn files_are_0600_and_the_directory_0700() {
    let (_tmp, dir) = tempdir();
    let cache = FileCache::open(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    cache
        .get_or_fetch(&key(), DEFAULT_MIN_TTL, || {
            Ok::<_, ExchangeError>(token("t", 300))
        })
        .unwrap();
    let entry = cache.entry_path(&key());
    assert_eq!(entry.file_name().unwrap(), key().hash_hex().as_str());
    assert_eq!(mode(&entry), 0o600);
    let lock = dir.join(format!("{}.lock", key().hash_hex()));
    assert_eq!(mode(&lock), 0o600);
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [key().hash_hex(), format!("{}.lock", key().hash_hex())],
        "no temporary file left"
    );
    // The entry: metadata and the response, the token only inside `response`.
    let stored: Value = serde_json::from_slice(&fs::read(&entry).unwrap()).unwrap();
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["key"], key().hash_hex());
    assert_eq!(stored["label"], "test");
    assert_eq!(stored["sub"], "user-1");
    assert_eq!(stored["iss"], "https://idp.example.com");
    assert_eq!(stored["token_type"], "Bearer");
    assert_eq!(stored["dpop_jkt"], Value::Null);
    assert_eq!(stored["response"]["access_token"], "t");
}

#[test]
fn an_open_or_foreign_directory_is_refused() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let err = FileCache::open(&dir).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "token cache '{d}': it is accessible by group or others (mode 0755): run 'chmod 700 {d}'",
            d = dir.display()
        )
    );
    assert_eq!(err.kind(), jwtgrant_exchange::ErrorKind::Config);
    let file = dir.with_file_name("a-file");
    fs::write(&file, "x").unwrap();
    let err = FileCache::open(&file).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("token cache '{}': it is not a directory", file.display())
    );
}

/// Stores "old" for [`key`], lets `spoil` damage the entry, and checks that the next call
/// ignores it with a warning naming the file and `why`, fetches, and stores the new token.
fn check_ignored(spoil: impl FnOnce(&FileCache, &Path), why: &str) {
    let (_tmp, dir) = tempdir();
    let cache = FileCache::open(&dir).unwrap();
    cache
        .get_or_fetch(&key(), DEFAULT_MIN_TTL, || {
            Ok::<_, ExchangeError>(token("old", 3600))
        })
        .unwrap();
    let entry = cache.entry_path(&key());
    spoil(&cache, &entry);
    let calls = AtomicUsize::new(0);
    let fresh = cache
        .get_or_fetch(&key(), DEFAULT_MIN_TTL, counting(&calls, "new", 3600))
        .unwrap();
    assert_eq!(
        (fresh.origin, fresh.token.access_token.secret()),
        (Origin::Fetched, "new")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        warnings_about(&dir),
        [format!(
            "token cache: ignoring '{}': {why}; fetching a new token",
            entry.display()
        )]
    );
    // The fresh token replaced the entry, with the right mode, and is served next.
    assert_eq!(mode(&entry), 0o600);
    let hit = cache
        .get_or_fetch(&key(), DEFAULT_MIN_TTL, no_fetch)
        .unwrap();
    assert_eq!(hit.token.access_token.secret(), "new");
}

#[test]
fn a_corrupt_entry_is_ignored() {
    check_ignored(
        |_, entry| fs::write(entry, b"{\"version\":1, \"key\": \"eyJ-not-a-token").unwrap(),
        "it is corrupt (not JSON: an error at line 1 column 37)",
    );
}

#[test]
fn a_wrongly_typed_entry_is_ignored_without_quoting_it() {
    check_ignored(
        |_, entry| edit_entry(entry, |v| v["expires_at"] = "secret-looking".into()),
        "it is corrupt (JSON, but a field is missing or of the wrong type)",
    );
    let all = WARNINGS.lock().unwrap().join("\n");
    assert!(!all.contains("secret-looking"), "{all}");
}

#[test]
fn an_entry_with_an_invalid_response_is_ignored() {
    check_ignored(
        |_, entry| edit_entry(entry, |v| v["response"]["access_token"] = "a\nb".into()),
        "the stored response is invalid: access_token has characters RFC 6749 does not allow in one (only printable ASCII)",
    );
}

#[test]
fn a_too_open_entry_is_ignored() {
    check_ignored(
        |_, entry| fs::set_permissions(entry, fs::Permissions::from_mode(0o640)).unwrap(),
        "it is accessible by group or others (mode 0640)",
    );
}

#[test]
fn an_entry_owned_by_another_user_is_ignored() {
    if !rustix_is_root() {
        // Only root can give a file away; the rule itself is unit-tested in the module.
        let (_tmp, dir) = tempdir();
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f");
        fs::write(&f, "x").unwrap();
        let err = std::os::unix::fs::chown(&f, Some(4242), None).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
        return;
    }
    check_ignored(
        |_, entry| std::os::unix::fs::chown(entry, Some(4242), None).unwrap(),
        "it is owned by uid 4242, not by the current user (uid 0) or root",
    );
}

fn rustix_is_root() -> bool {
    // The owner of a file this process creates is its effective uid.
    let f = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::MetadataExt::uid(&f.as_file().metadata().unwrap()) == 0
}

#[test]
fn an_entry_from_the_future_is_ignored() {
    check_ignored(
        |_, entry| edit_entry(entry, |v| v["created_at"] = (unix_now() + 3600).into()),
        "its created_at is 3600 s in the future",
    );
}

#[test]
fn a_small_clock_skew_is_tolerated() {
    let (_tmp, dir) = tempdir();
    let cache = FileCache::open(&dir).unwrap();
    cache
        .get_or_fetch(&key(), DEFAULT_MIN_TTL, || {
            Ok::<_, ExchangeError>(token("t", 300))
        })
        .unwrap();
    edit_entry(&cache.entry_path(&key()), |v| {
        v["created_at"] = (unix_now() + 5).into()
    });
    let hit = cache
        .get_or_fetch(&key(), DEFAULT_MIN_TTL, no_fetch)
        .unwrap();
    assert_eq!(hit.origin, Origin::Cached);
}

#[test]
fn an_entry_of_another_key_is_ignored() {
    let mut other = key();
    other.subject = "user-2".into();
    check_ignored(
        move |cache, entry| {
            cache
                .get_or_fetch(&other, DEFAULT_MIN_TTL, || {
                    Ok::<_, ExchangeError>(token("theirs", 3600))
                })
                .unwrap();
            fs::copy(cache.entry_path(&other), entry).unwrap();
        },
        "it was written for another key",
    );
}

fn dpop_key() -> CacheKey {
    CacheKey {
        dpop_key: Some("our-jkt".into()),
        ..key()
    }
}

/// A JWT access token (unsigned: only its `cnf` is read) bound to `jkt`.
fn dpop_token(jkt: &str) -> TokenResponse {
    use base64ct::{Base64UrlUnpadded, Encoding as _};
    let payload = Base64UrlUnpadded::encode_string(
        format!(r#"{{"sub":"u","cnf":{{"jkt":"{jkt}"}}}}"#).as_bytes(),
    );
    let body = format!(
        r#"{{"access_token":"eyJhbGciOiJub25lIn0.{payload}.","token_type":"DPoP","expires_in":3600}}"#
    );
    jwtgrant_exchange::fuzzing::token_response(
        200,
        None,
        None,
        body.as_bytes(),
        &[],
        SystemTime::now(),
    )
    .unwrap()
}

#[test]
fn a_bound_token_is_served_only_to_its_key() {
    let (_tmp, dir) = tempdir();
    let cache = FileCache::open(&dir).unwrap();
    let key = dpop_key();
    let first = cache
        .get_or_fetch(&key, DEFAULT_MIN_TTL, || {
            Ok::<_, ExchangeError>(dpop_token("our-jkt"))
        })
        .unwrap();
    assert_eq!(first.origin, Origin::Fetched);
    let entry = cache.entry_path(&key);
    let stored: Value = serde_json::from_slice(&fs::read(&entry).unwrap()).unwrap();
    assert_eq!(stored["dpop_jkt"], "our-jkt");
    assert_eq!(stored["token_type"], "DPoP");
    let hit = cache.get_or_fetch(&key, DEFAULT_MIN_TTL, no_fetch).unwrap();
    assert_eq!(hit.origin, Origin::Cached);
    assert!(hit.token.is_dpop());

    // The entry's metadata names another key: ignored, replaced.
    edit_entry(&entry, |v| v["dpop_jkt"] = "their-jkt".into());
    let fresh = cache
        .get_or_fetch(&key, DEFAULT_MIN_TTL, || {
            Ok::<_, ExchangeError>(dpop_token("our-jkt"))
        })
        .unwrap();
    assert_eq!(fresh.origin, Origin::Fetched);
    assert_eq!(
        warnings_about(&dir),
        [format!(
            "token cache: ignoring '{}': the token is bound to DPoP key their-jkt, not to our-jkt; fetching a new token",
            entry.display()
        )]
    );
    // The token itself is bound to another key (metadata says ours): ignored too.
    edit_entry(&entry, |v| {
        v["response"]["access_token"] = dpop_token("their-jkt").access_token.secret().into()
    });
    assert!(cache.get(&key, DEFAULT_MIN_TTL).is_none());
    assert_eq!(warnings_about(&dir).len(), 2);
    assert!(
        warnings_about(&dir)[1].ends_with(
            "the token is bound to DPoP key their-jkt, not to our-jkt; fetching a new token"
        ),
        "{:?}",
        warnings_about(&dir)
    );
}

#[test]
fn a_token_bound_to_another_key_is_returned_but_not_stored() {
    let (_tmp, dir) = tempdir();
    let cache = FileCache::open(&dir).unwrap();
    let got = cache
        .get_or_fetch(&dpop_key(), DEFAULT_MIN_TTL, || {
            Ok::<_, ExchangeError>(dpop_token("their-jkt"))
        })
        .unwrap();
    assert_eq!(got.origin, Origin::Uncached);
    assert!(!cache.entry_path(&dpop_key()).exists());
    let all = WARNINGS.lock().unwrap().clone();
    assert!(
        all.iter().any(|w| w
            == "token cache: not storing the new token: the token is bound to DPoP key their-jkt, not to our-jkt"),
        "{all:?}"
    );
}

#[test]
fn a_failed_fetch_stores_nothing() {
    let (_tmp, dir) = tempdir();
    let cache = FileCache::open(&dir).unwrap();
    let err = cache
        .get_or_fetch(&key(), DEFAULT_MIN_TTL, || {
            Err::<TokenResponse, _>(std::io::Error::other("no network"))
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "no network");
    assert!(!cache.entry_path(&key()).exists());
}

#[test]
fn list_shows_metadata_and_clear_removes() {
    let (_tmp, dir) = tempdir();
    let cache = FileCache::open(&dir).unwrap();
    let mut keys = Vec::new();
    for (i, label) in ["b", "a", "c"].into_iter().enumerate() {
        let mut k = key();
        k.label = Some(label.into());
        k.subject = format!("user-{i}");
        cache
            .get_or_fetch(&k, DEFAULT_MIN_TTL, || {
                Ok::<_, ExchangeError>(token(&format!("secret-token-{i}"), 300))
            })
            .unwrap();
        keys.push(k);
    }
    let listed = cache.list().unwrap();
    let summary: Vec<(Option<&str>, &str, &str, &str)> = listed
        .iter()
        .map(|e| {
            (
                e.label.as_deref(),
                e.subject.as_str(),
                e.issuer.as_str(),
                e.token_type.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Some("a"), "user-1", "https://idp.example.com", "Bearer"),
            (Some("b"), "user-0", "https://idp.example.com", "Bearer"),
            (Some("c"), "user-2", "https://idp.example.com", "Bearer"),
        ]
    );
    assert_eq!(listed[0].endpoint, key().endpoint);
    assert_eq!(listed[0].path, cache.entry_path(&keys[1]));
    let left = listed[0]
        .expires_at
        .duration_since(listed[0].created_at)
        .unwrap();
    // 300 s from the request, counted in whole seconds.
    assert!((299..=300).contains(&left.as_secs()), "{left:?}");
    let debug = format!("{listed:?} {cache:?}");
    assert!(!debug.contains("secret-token"), "{debug}");

    // Expire one, corrupt another: clear_expired removes both, keeps the valid one.
    edit_entry(&cache.entry_path(&keys[0]), |v| {
        v["expires_at"] = (unix_now() - 10).into()
    });
    fs::write(cache.entry_path(&keys[2]), "garbage").unwrap();
    assert_eq!(
        cache.list().unwrap().len(),
        2,
        "the corrupt one is left out"
    );
    assert_eq!(cache.clear_expired().unwrap(), 2);
    let listed = cache.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].label.as_deref(), Some("a"));

    assert!(cache.clear(&keys[1]).unwrap());
    assert!(!cache.clear(&keys[1]).unwrap());
    for k in &keys {
        cache
            .get_or_fetch(k, DEFAULT_MIN_TTL, || {
                Ok::<_, ExchangeError>(token("t", 300))
            })
            .unwrap();
    }
    fs::write(dir.join(".leftover.tmp"), "x").unwrap();
    assert_eq!(cache.clear_all().unwrap(), 3);
    assert!(cache.list().unwrap().is_empty());
    assert!(!dir.join(".leftover.tmp").exists());
}

// ---- Between processes ----

/// The shared files of one multi-process test.
struct Shared {
    dir: PathBuf,
}

impl Shared {
    fn cache(&self) -> PathBuf {
        self.dir.join("cache")
    }
    fn counter(&self) -> PathBuf {
        self.dir.join("grants")
    }
    fn go(&self) -> PathBuf {
        self.dir.join("go")
    }
    fn result(&self, n: usize) -> PathBuf {
        self.dir.join(format!("result-{n}"))
    }
}

/// Starts `n` children of this test binary in child mode against `shared`, each with its
/// own environment additions; releases them at once; returns their results.
fn run_children(shared: &Shared, n: usize, env: &[(&str, String)]) -> Vec<Value> {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..n)
        .map(|i| {
            let mut cmd = Command::new(&exe);
            cmd.args(["--exact", "child_mode", "--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, &shared.dir)
                .env("JWTGRANT_CACHE_TEST_N", i.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            for (k, v) in env {
                cmd.env(k, v);
            }
            cmd.spawn().unwrap()
        })
        .collect();
    // All started: let them race.
    fs::write(shared.go(), "").unwrap();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (0..n)
        .map(|i| serde_json::from_slice(&fs::read(shared.result(i)).unwrap()).unwrap())
        .collect()
}

/// Not a test of its own: the body of a child process (does nothing without `CHILD_ENV`).
/// Waits for the go file, then one `get_or_fetch` whose fetch appends a line to the counter
/// file and makes a real grant at the parent's stub; writes what it got.
#[test]
fn child_mode() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    record_warnings();
    let shared = Shared { dir: dir.into() };
    let n: usize = std::env::var("JWTGRANT_CACHE_TEST_N")
        .unwrap()
        .parse()
        .unwrap();
    let url = std::env::var("JWTGRANT_CACHE_TEST_URL").unwrap();
    let wait_ms: u64 = std::env::var("JWTGRANT_CACHE_TEST_WAIT_MS")
        .unwrap()
        .parse()
        .unwrap();
    for _ in 0..1000 {
        if shared.go().exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let cache = FileCache::open(shared.cache())
        .unwrap()
        .lock_wait(Duration::from_millis(wait_ms));
    let got = cache
        .get_or_fetch(&key(), DEFAULT_MIN_TTL, || {
            let mut counter = fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(shared.counter())
                .unwrap();
            writeln!(counter, "grant by child {n}").unwrap();
            Exchange::new(&url).unwrap().exchange("h.p.s")
        })
        .unwrap();
    let result = serde_json::json!({
        "origin": format!("{:?}", got.origin),
        "token": got.token.access_token.secret(),
        "warnings": WARNINGS.lock().unwrap().clone(),
    });
    fs::write(shared.result(n), serde_json::to_vec(&result).unwrap()).unwrap();
}

fn grants(shared: &Shared) -> Vec<String> {
    fs::read_to_string(shared.counter())
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn parallel_processes_make_exactly_one_grant() {
    const N: usize = 8;
    let tmp = tempfile::tempdir().unwrap();
    let shared = Shared {
        dir: tmp.path().to_owned(),
    };
    // A slow answer, so that the others pile up on the lock while the first one fetches.
    let stub = Stub::start(|_, i| {
        Reply::json(
            200,
            format!(r#"{{"access_token":"grant-{i}","expires_in":300}}"#),
        )
        .delay(Duration::from_millis(300))
    });
    let results = run_children(
        &shared,
        N,
        &[
            ("JWTGRANT_CACHE_TEST_URL", stub.url("/token")),
            ("JWTGRANT_CACHE_TEST_WAIT_MS", "20000".into()),
        ],
    );
    assert_eq!(grants(&shared).len(), 1, "{:?}", grants(&shared));
    assert_eq!(stub.count(), 1, "one request reached the token endpoint");
    let tokens: Vec<&str> = results
        .iter()
        .map(|r| r["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, ["grant-0"; N], "everyone got the one grant's token");
    let mut origins: Vec<&str> = results
        .iter()
        .map(|r| r["origin"].as_str().unwrap())
        .collect();
    origins.sort();
    let mut expected = vec!["Cached"; N - 1];
    expected.push("Fetched");
    assert_eq!(origins, expected);
    for r in &results {
        assert_eq!(r["warnings"], serde_json::json!([]));
    }
}

#[test]
fn the_lock_wait_is_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let shared = Shared {
        dir: tmp.path().to_owned(),
    };
    let stub = Stub::start(|_, _| Reply::json(200, r#"{"access_token":"own","expires_in":300}"#));
    // The parent holds the entry's lock, as a process stuck in its grant would.
    let cache = FileCache::open(shared.cache()).unwrap();
    let lock_path = PathBuf::from(format!("{}.lock", cache.entry_path(&key()).display()));
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    lock.lock().unwrap();
    let results = run_children(
        &shared,
        1,
        &[
            ("JWTGRANT_CACHE_TEST_URL", stub.url("/token")),
            ("JWTGRANT_CACHE_TEST_WAIT_MS", "200".into()),
        ],
    );
    drop(lock);
    assert_eq!(results[0]["origin"], "Uncached");
    assert_eq!(results[0]["token"], "own");
    assert_eq!(grants(&shared), ["grant by child 0"]);
    assert_eq!(
        results[0]["warnings"],
        serde_json::json!([format!(
            "token cache: another process has held the lock '{}' for over 0.2 s; fetching a token without the cache",
            lock_path.display()
        )])
    );
    assert!(
        !cache.entry_path(&key()).exists(),
        "nothing stored without the lock"
    );
}
