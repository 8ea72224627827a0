//! [`FileCache`]: access tokens kept on disk between processes, one file per [`CacheKey`], so
//! that a command run again (or many times in parallel, as by `kubectl` or a build) makes
//! one grant per token lifetime instead of one per run.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use jwtgrant_exchange::cache::{CacheKey, DEFAULT_MIN_TTL, FileCache, Origin};
//! # #[cfg(unix)] {
//! # let tmp = std::env::temp_dir().join(format!("jwtgrant-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&tmp);
//! // The CLI passes `FileCache::default_dir()?` ($XDG_CACHE_HOME/jwtgrant or ~/.cache/jwtgrant).
//! let cache = FileCache::open(&tmp)?; // created 0700, or refused when open to others
//! // Every field that changes the token; a struct literal, so none can be left out.
//! let key = CacheKey {
//!     label: Some("prod".into()),
//!     endpoint: "https://sso.example.com/realms/acme/protocol/openid-connect/token".into(),
//!     client_id: Some("custom-client".into()),
//!     client_auth: "client_secret_post".into(),
//!     issuer: "https://idp.example.com".into(),
//!     subject: "user-1".into(),
//!     audience: "https://sso.example.com/realms/acme".into(),
//!     scope: None,
//!     extra_claims: serde_json::Map::new(),
//!     extra_params: Vec::new(),
//!     signing_key: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into(),
//!     dpop_key: None,
//!     client_certificate: None,
//! };
//! # let fetch_a_token = || jwtgrant_exchange::fuzzing::token_response(
//! #     200, None, None, br#"{"access_token":"t","expires_in":300}"#, &[],
//! #     std::time::SystemTime::now());
//! // In real use the closure is `|| client.exchange_with(sign_new_assertion)`.
//! let first = cache.get_or_fetch(&key, DEFAULT_MIN_TTL, fetch_a_token)?;
//! assert_eq!(first.origin, Origin::Fetched);
//! let again = cache.get_or_fetch(&key, DEFAULT_MIN_TTL, || -> Result<_, std::io::Error> {
//!     unreachable!("served from the cache: no grant")
//! })?;
//! assert_eq!(again.origin, Origin::Cached);
//! assert_eq!(again.token.access_token, first.token.access_token);
//! assert_eq!(cache.list()?.len(), 1);
//! # std::fs::remove_dir_all(&tmp)?;
//! # }
//! # Ok(()) }
//! ```
//!
//! # Where entries live
//!
//! One directory ([`FileCache::default_dir`]), created with mode 0700. In it, per key:
//! the entry, named by the key's hex SHA-256 (a JSON object of non-secret metadata plus the
//! token response, mode 0600, written to an `O_EXCL` temporary file, synced and renamed into
//! place, so readers never see half an entry), and `<hash>.lock`, the `flock` that lets one
//! process fetch while parallel ones wait for its result. Lock files stay: removing one
//! while another process waits on it would let two processes hold "the" lock.
//!
//! # Trust rules
//!
//! The directory must be owned by the current user (or root) and have no group or other
//! permission bits, else [`FileCache::open`] refuses it. An entry is served only while it
//! has more than the caller's `min_ttl` left, and never when it is:
//! - not a regular file, owned by another user than the current one or root, or has group or
//!   other permission bits;
//! - corrupt: not JSON, another format version, not a valid token response, written under
//!   another key's name;
//! - created more than [`CLOCK_SKEW`] in the future;
//! - bound (RFC 9449 `cnf.jkt`, RFC 8705 `cnf.x5t#S256`, in the entry or in the token) to
//!   another DPoP key or client certificate than the key's: a sender-constrained token is
//!   served only to the key it is bound to.
//!
//! Such an entry is ignored with a one-line `log::warn!` naming the file and the reason,
//! and replaced by a fresh grant. The token text never appears in logs, errors or `Debug`.
//!
//! This module and [`FileCache::default_dir`] are the crate's only file system and
//! environment access besides the proxy settings. Unix only: elsewhere
//! [`FileCache::open`] says it is not supported.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ExchangeError;
use crate::response::{TokenResponse, from_stored_json};
use crate::source::{DEFAULT_LIFETIME, MAX_LIFETIME};

/// Served from the cache only while a token has more than this left (the default `min_ttl`).
pub const DEFAULT_MIN_TTL: Duration = Duration::from_secs(60);
/// How long [`FileCache::get_or_fetch`] waits for another process's grant by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(30);
/// An entry whose `created_at` is further in the future than this is not trusted.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// The entry format; another version is ignored (and replaced).
const ENTRY_VERSION: u32 = 1;
/// Hashed in front of the key's fields, so a change of the key's meaning changes every hash.
const KEY_DOMAIN: &str = "jwtgrant token cache key v1";
/// A larger file is not an entry of ours; not read.
const MAX_ENTRY_BYTES: u64 = 1 << 20;
/// The hex SHA-256 that names an entry.
const HASH_HEX_LEN: usize = 64;

/// Everything that changes the token a grant returns. Two grants with equal keys may share
/// one cached token; any difference (another scope, claim, key) gives another entry.
///
/// Deliberately a struct with public fields and no `Default` or `#[non_exhaustive]`: callers
/// write a struct literal, so a field added here is a compile error at every call site
/// rather than a field silently left out of the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// A name for people (a profile name), shown by [`FileCache::list`]. Not hashed: two
    /// profiles with the same settings share one entry.
    pub label: Option<String>,
    /// The token endpoint URL.
    pub endpoint: String,
    /// The client id, when the client authenticates or is named.
    pub client_id: Option<String>,
    /// The client authentication method ([`crate::ClientAuth::method`]).
    pub client_auth: String,
    /// The assertion's `iss`.
    pub issuer: String,
    /// The assertion's `sub`.
    pub subject: String,
    /// The assertion's `aud`.
    pub audience: String,
    /// The requested scope.
    pub scope: Option<String>,
    /// The assertion's other claims (hashed as canonical JSON: sorted keys, no spaces).
    pub extra_claims: Map<String, Value>,
    /// Extra form parameters of the token request (`resource`, `audience`, ...); their order
    /// does not matter.
    pub extra_params: Vec<(String, String)>,
    /// The RFC 7638 thumbprint of the key that signs the assertion.
    pub signing_key: String,
    /// The RFC 7638 thumbprint of the DPoP key ([`crate::Dpop::thumbprint`]), when DPoP is on.
    pub dpop_key: Option<String>,
    /// The `x5t#S256` thumbprint of the client certificate, when one is presented.
    pub client_certificate: Option<String>,
}

impl CacheKey {
    /// The key's hash as lowercase hex: the entry's file name. Stable across runs and
    /// platforms (SHA-256 of a canonical JSON object of the fields, `label` excluded).
    pub fn hash_hex(&self) -> String {
        let mut params: Vec<&(String, String)> = self.extra_params.iter().collect();
        params.sort();
        let fields = serde_json::json!({
            "domain": KEY_DOMAIN,
            "endpoint": self.endpoint,
            "client_id": self.client_id,
            "client_auth": self.client_auth,
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.audience,
            "scope": self.scope,
            "extra_claims": Value::Object(self.extra_claims.clone()),
            "extra_params": params,
            "signing_key": self.signing_key,
            "dpop_key": self.dpop_key,
            "client_certificate": self.client_certificate,
        });
        let mut canonical = String::new();
        write_canonical(&fields, &mut canonical);
        sha256_hex(canonical.as_bytes())
    }
}

/// How [`FileCache::get_or_fetch`] got the token it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// Served from the cache: no grant was made.
    Cached,
    /// Fetched and stored for the next caller.
    Fetched,
    /// Fetched without the cache: the wait for another process's lock ran out, the cache
    /// could not be written, or the token is bound to another key (logged with `log::warn!`).
    Uncached,
}

/// A token from [`FileCache::get_or_fetch`] and where it came from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Lookup {
    /// The token response. From the cache, `expires_in` is the number of seconds left and
    /// `expires_at` the stored expiry.
    pub token: TokenResponse,
    /// Whether it came from the cache.
    pub origin: Origin,
}

/// An entry's metadata, as [`FileCache::list`] shows it: never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryInfo {
    /// The entry's file.
    pub path: PathBuf,
    /// The key's label (a profile name), if it had one.
    pub label: Option<String>,
    /// The assertion's `sub`.
    pub subject: String,
    /// The assertion's `iss`.
    pub issuer: String,
    /// The token endpoint.
    pub endpoint: String,
    /// When the token was stored.
    pub created_at: SystemTime,
    /// When the token expires.
    pub expires_at: SystemTime,
    /// The token type (`Bearer`, `DPoP`).
    pub token_type: String,
    /// The DPoP key thumbprint the token is bound to, if any.
    pub dpop_jkt: Option<String>,
    /// The client certificate thumbprint the token is bound to, if any.
    pub cert_x5t: Option<String>,
}

/// Tokens on disk, shared by processes of the same user: see the [module docs](self).
///
/// Cheap to clone; every method takes `&self` and may run in many threads and processes at
/// once.
#[derive(Debug, Clone)]
pub struct FileCache {
    dir: Arc<Path>,
    lock_wait: Duration,
}

/// The entry as stored: metadata, then the token response.
#[derive(Serialize, Deserialize)]
struct StoredEntry {
    version: u32,
    /// The key's hash, which must equal the file name.
    key: String,
    label: Option<String>,
    sub: String,
    iss: String,
    endpoint: String,
    /// Unix seconds.
    created_at: u64,
    /// Unix seconds.
    expires_at: u64,
    token_type: String,
    dpop_jkt: Option<String>,
    cert_x5t: Option<String>,
    /// [`TokenResponse::to_json_including_tokens`].
    response: Value,
}

/// What reading an entry found.
enum Found {
    Missing,
    /// Present but not to be trusted: why (one line, never the token).
    Untrusted(String),
    Valid(TokenResponse),
}

impl FileCache {
    /// The directory the CLI uses: `$XDG_CACHE_HOME/jwtgrant` when `XDG_CACHE_HOME` is set
    /// to an absolute path, else `$HOME/.cache/jwtgrant`. Reads those two variables (and
    /// nothing else); fails when neither gives a directory.
    pub fn default_dir() -> Result<PathBuf, ExchangeError> {
        default_dir_from(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME")).ok_or_else(
            || ExchangeError::Cache {
                path: PathBuf::from("~/.cache/jwtgrant"),
                reason: "neither XDG_CACHE_HOME nor HOME is set: name a cache directory".into(),
                source: None,
            },
        )
    }

    /// The cache in `dir`, created (mode 0700, parents as needed) when missing. Refused when
    /// it is not a directory, is owned by another user than the current one or root, or has
    /// group or other permission bits.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, ExchangeError> {
        let dir: PathBuf = dir.into();
        platform::prepare_dir(&dir)?;
        Ok(Self {
            dir: Arc::from(dir),
            lock_wait: DEFAULT_LOCK_WAIT,
        })
    }

    /// How long [`FileCache::get_or_fetch`] waits for another process that is fetching the
    /// same key (default 30 s). After that it fetches without the cache and says so.
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds `key`'s entry (whether or not it exists).
    pub fn entry_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(key.hash_hex())
    }

    /// The cached token for `key` if one is there, trusted, and has more than `min_ttl`
    /// left; no lock, no grant. An untrusted entry is logged and treated as missing.
    pub fn get(&self, key: &CacheKey, min_ttl: Duration) -> Option<TokenResponse> {
        let hex = key.hash_hex();
        match self.read(key, &hex) {
            Found::Valid(token) if has_more_than(&token, min_ttl) => Some(token),
            Found::Untrusted(why) => {
                warn_untrusted(&self.dir.join(&hex), &why);
                None
            }
            _ => None,
        }
    }

    /// A token for `key`: the cached one while it has more than `min_ttl` left (use
    /// [`DEFAULT_MIN_TTL`] unless you know better), else one from `fetch`, stored for the
    /// next caller.
    ///
    /// Parallel callers, in this process or others, make one grant: the first takes the
    /// entry's lock and fetches, the others wait (at most [`FileCache::lock_wait`]) and
    /// then read what it stored. A caller whose wait runs out fetches on its own without
    /// the cache ([`Origin::Uncached`], with a `log::warn!`). Problems with the cache never
    /// fail the call: they are logged, and the token is fetched. `fetch`'s error is
    /// returned as it is, and nothing is stored.
    pub fn get_or_fetch<E>(
        &self,
        key: &CacheKey,
        min_ttl: Duration,
        fetch: impl FnOnce() -> Result<TokenResponse, E>,
    ) -> Result<Lookup, E> {
        let hex = key.hash_hex();
        let path = self.dir.join(&hex);
        // No lock for a hit: entries are replaced by rename, so a read sees a whole one.
        if let Found::Valid(token) = self.read(key, &hex)
            && has_more_than(&token, min_ttl)
        {
            log::debug!("token cache: serving '{}'", path.display());
            return Ok(cached(token));
        }
        let _lock = match self.lock(&hex) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                log::warn!(
                    "token cache: another process has held the lock '{}.lock' for over {} s; fetching a token without the cache",
                    path.display(),
                    self.lock_wait.as_secs_f64()
                );
                return fetch().map(uncached);
            }
            Err(e) => {
                log::warn!(
                    "token cache: cannot lock '{}.lock' ({e}); fetching a token without the cache",
                    path.display()
                );
                return fetch().map(uncached);
            }
        };
        // Under the lock, again: a parallel process may have stored a token meanwhile.
        match self.read(key, &hex) {
            Found::Valid(token) if has_more_than(&token, min_ttl) => {
                log::debug!("token cache: serving '{}'", path.display());
                return Ok(cached(token));
            }
            Found::Untrusted(why) => warn_untrusted(&path, &why),
            Found::Valid(_) | Found::Missing => {}
        }
        let token = fetch()?;
        if let Some(why) = binding_mismatch(key, token.confirmation().as_ref(), &token) {
            log::warn!("token cache: not storing the new token: {why}");
            return Ok(uncached(token));
        }
        match self.store(key, &hex, &token) {
            Ok(()) => {
                log::debug!("token cache: stored '{}'", path.display());
                Ok(Lookup {
                    token,
                    origin: Origin::Fetched,
                })
            }
            Err(e) => {
                log::warn!("token cache: cannot write '{}': {e}", path.display());
                Ok(uncached(token))
            }
        }
    }

    /// The metadata of every entry, sorted by label, then file name; never the tokens.
    /// Entries that would not be trusted are left out with a `log::warn!`.
    pub fn list(&self) -> Result<Vec<EntryInfo>, ExchangeError> {
        let mut out = Vec::new();
        for path in self.entry_files()? {
            match read_entry_file(&path, now()) {
                Ok(Some(entry)) => out.push(info(path, &entry)),
                Ok(None) => {}
                Err(why) => warn_untrusted(&path, &why),
            }
        }
        out.sort_by(|a, b| (&a.label, &a.path).cmp(&(&b.label, &b.path)));
        Ok(out)
    }

    /// Removes `key`'s entry; true when there was one.
    pub fn clear(&self, key: &CacheKey) -> Result<bool, ExchangeError> {
        let path = self.entry_path(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(&path, "cannot remove the entry", e)),
        }
    }

    /// Removes every entry (and leftover temporary files); returns how many entries.
    pub fn clear_all(&self) -> Result<usize, ExchangeError> {
        self.remove_where(|_| true)
    }

    /// Removes the entries that are expired or that would not be trusted (corrupt, too
    /// open, ...); returns how many.
    pub fn clear_expired(&self) -> Result<usize, ExchangeError> {
        let now = now();
        self.remove_where(|path| match read_entry_file(path, now) {
            Ok(Some(entry)) => entry.expires_at <= unix_secs(now),
            Ok(None) => false,
            Err(_) => true,
        })
    }
}

impl FileCache {
    /// Reads and checks `key`'s entry.
    fn read(&self, key: &CacheKey, hex: &str) -> Found {
        let path = self.dir.join(hex);
        let now = now();
        let entry = match read_entry_file(&path, now) {
            Ok(Some(entry)) => entry,
            Ok(None) => return Found::Missing,
            Err(why) => return Found::Untrusted(why),
        };
        let expires_at = UNIX_EPOCH + Duration::from_secs(entry.expires_at);
        let token = match from_stored_json(entry.response, expires_at, now) {
            Ok(token) => token,
            Err(why) => return Found::Untrusted(why),
        };
        let stored = crate::response::Confirmation {
            jkt: entry.dpop_jkt,
            x5t_s256: entry.cert_x5t,
        };
        for cnf in [Some(stored), token.confirmation()] {
            if let Some(why) = binding_mismatch(key, cnf.as_ref(), &token) {
                return Found::Untrusted(why);
            }
        }
        Found::Valid(token)
    }

    /// Writes `key`'s entry: a new 0600 file (`O_EXCL`) under a temporary name, synced,
    /// renamed over the old entry, the directory synced.
    fn store(&self, key: &CacheKey, hex: &str, token: &TokenResponse) -> io::Result<()> {
        let now = now();
        // The server's expiry (counted from the request), or the default lifetime; never
        // beyond the longest one: a wrong huge `expires_in` must not pin a token for days.
        let longest = now.checked_add(MAX_LIFETIME).unwrap_or(now);
        let expires_at = token
            .expires_at
            .unwrap_or_else(|| now.checked_add(DEFAULT_LIFETIME).unwrap_or(now))
            .min(longest);
        let cnf = token.confirmation().unwrap_or_default();
        let entry = StoredEntry {
            version: ENTRY_VERSION,
            key: hex.to_owned(),
            label: key.label.clone(),
            sub: key.subject.clone(),
            iss: key.issuer.clone(),
            endpoint: key.endpoint.clone(),
            created_at: unix_secs(now),
            expires_at: unix_secs(expires_at),
            token_type: token.token_type.clone(),
            dpop_jkt: cnf
                .jkt
                .or_else(|| token.is_dpop().then(|| key.dpop_key.clone()).flatten()),
            cert_x5t: cnf.x5t_s256,
            response: token.to_json_including_tokens(),
        };
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(&entry).map_err(io::Error::other)?);
        let tmp = self
            .dir
            .join(format!(".{hex}.{}.tmp", uuid::Uuid::new_v4().simple()));
        let written = (|| {
            let mut file = platform::create_private(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            drop(file);
            fs::rename(&tmp, self.dir.join(hex))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        File::open(&*self.dir)?.sync_all()
    }

    /// Takes `hex`'s lock, waiting at most `lock_wait`; `None` when the wait ran out.
    fn lock(&self, hex: &str) -> io::Result<Option<File>> {
        let file = platform::open_lock(&self.dir.join(format!("{hex}.lock")))?;
        let deadline = Instant::now().checked_add(self.lock_wait);
        let mut pause = Duration::from_millis(2);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(file)),
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => return Err(e),
            }
            let now = Instant::now();
            let left = match deadline {
                Some(deadline) if now >= deadline => return Ok(None),
                Some(deadline) => deadline - now,
                None => pause,
            };
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// The files named like entries.
    fn entry_files(&self) -> Result<Vec<PathBuf>, ExchangeError> {
        let mut out = Vec::new();
        for item in self.read_dir()? {
            let name = item.file_name();
            if name.to_str().is_some_and(is_entry_name) {
                out.push(item.path());
            }
        }
        Ok(out)
    }

    fn read_dir(&self) -> Result<Vec<fs::DirEntry>, ExchangeError> {
        let fail = |e| io_error(&self.dir, "cannot read the directory", e);
        fs::read_dir(&*self.dir)
            .map_err(fail)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)
    }

    /// Removes the entries `pick` chooses, and every leftover temporary file.
    fn remove_where(&self, pick: impl Fn(&Path) -> bool) -> Result<usize, ExchangeError> {
        let mut removed = 0;
        for item in self.read_dir()? {
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = item.path();
            let entry = is_entry_name(name);
            let temporary = name.starts_with('.') && name.ends_with(".tmp");
            if (entry && pick(&path)) || temporary {
                match fs::remove_file(&path) {
                    Ok(()) => removed += usize::from(entry),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error(&path, "cannot remove the entry", e)),
                }
            }
        }
        Ok(removed)
    }
}

/// Reads the entry file at `path` and checks what needs no key: a regular file of ours
/// with no group or other bits, JSON of this version, named by its key, not from the future.
/// `Ok(None)` when there is no file.
fn read_entry_file(path: &Path, now: SystemTime) -> Result<Option<StoredEntry>, String> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open it ({e})")),
    };
    // Checked on the open handle (fstat): what is checked is what is read.
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot stat it ({e})"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    platform::check_private(&meta)?;
    if meta.len() > MAX_ENTRY_BYTES {
        return Err(format!("it is larger than {MAX_ENTRY_BYTES} bytes"));
    }
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    file.read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it ({e})"))?;
    // serde's messages can quote values (a token in the wrong place): only its position.
    let entry: StoredEntry = serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            "it is corrupt (JSON, but a field is missing or of the wrong type)".to_owned()
        }
        _ => format!(
            "it is corrupt (not JSON: an error at line {} column {})",
            e.line(),
            e.column()
        ),
    })?;
    if entry.version != ENTRY_VERSION {
        return Err(format!(
            "it has format version {}, not {ENTRY_VERSION}",
            entry.version
        ));
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if entry.key != name {
        return Err("it was written for another key".into());
    }
    let created = UNIX_EPOCH + Duration::from_secs(entry.created_at);
    if created
        .duration_since(now)
        .is_ok_and(|ahead| ahead > CLOCK_SKEW)
    {
        return Err(format!(
            "its created_at is {} s in the future",
            unix_secs(created).saturating_sub(unix_secs(now))
        ));
    }
    Ok(Some(entry))
}

/// Why a token bound as `cnf` says may not be served for `key`, if it may not.
fn binding_mismatch(
    key: &CacheKey,
    cnf: Option<&crate::response::Confirmation>,
    token: &TokenResponse,
) -> Option<String> {
    if token.is_dpop() && key.dpop_key.is_none() {
        return Some("the token is DPoP-bound but the key has no DPoP key".into());
    }
    let cnf = cnf?;
    if let Some(jkt) = &cnf.jkt
        && key.dpop_key.as_ref() != Some(jkt)
    {
        return Some(format!(
            "the token is bound to DPoP key {jkt}, not to {}",
            key.dpop_key.as_deref().unwrap_or("none")
        ));
    }
    if let Some(x5t) = &cnf.x5t_s256
        && key.client_certificate.as_ref() != Some(x5t)
    {
        return Some(format!(
            "the token is bound to client certificate {x5t}, not to {}",
            key.client_certificate.as_deref().unwrap_or("none")
        ));
    }
    None
}

fn warn_untrusted(path: &Path, why: &str) {
    log::warn!(
        "token cache: ignoring '{}': {why}; fetching a new token",
        path.display()
    );
}

fn has_more_than(token: &TokenResponse, min_ttl: Duration) -> bool {
    token
        .expires_at
        .and_then(|at| at.duration_since(now()).ok())
        .is_some_and(|left| left > min_ttl)
}

fn cached(token: TokenResponse) -> Lookup {
    Lookup {
        token,
        origin: Origin::Cached,
    }
}

fn uncached(token: TokenResponse) -> Lookup {
    Lookup {
        token,
        origin: Origin::Uncached,
    }
}

fn info(path: PathBuf, entry: &StoredEntry) -> EntryInfo {
    EntryInfo {
        path,
        label: entry.label.clone(),
        subject: entry.sub.clone(),
        issuer: entry.iss.clone(),
        endpoint: entry.endpoint.clone(),
        created_at: UNIX_EPOCH + Duration::from_secs(entry.created_at),
        expires_at: UNIX_EPOCH + Duration::from_secs(entry.expires_at),
        token_type: entry.token_type.clone(),
        dpop_jkt: entry.dpop_jkt.clone(),
        cert_x5t: entry.cert_x5t.clone(),
    }
}

fn is_entry_name(name: &str) -> bool {
    name.len() == HASH_HEX_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn io_error(path: &Path, what: &str, e: io::Error) -> ExchangeError {
    ExchangeError::Cache {
        path: path.to_owned(),
        reason: format!("{what}: {e}"),
        source: Some(Arc::new(e)),
    }
}

/// The rule for the directory and its entries, as for key files: owned by the current user
/// (`me`) or root, no group or other bits (the owner first: a foreign file's mode does not
/// matter). `None` when `mode` and `owner` pass.
#[cfg_attr(not(unix), allow(dead_code, reason = "only Unix has modes and owners"))]
fn access_problem(mode: u32, owner: u32, me: u32) -> Option<String> {
    if owner != me && owner != 0 {
        Some(format!(
            "it is owned by uid {owner}, not by the current user (uid {me}) or root"
        ))
    } else if mode & 0o077 != 0 {
        Some(format!(
            "it is accessible by group or others (mode {mode:04o})"
        ))
    } else {
        None
    }
}

/// [`FileCache::default_dir`] on given values.
fn default_dir_from(xdg_cache_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    // The XDG base directory spec: a relative path in the variable is to be ignored.
    if let Some(xdg) = xdg_cache_home.map(PathBuf::from)
        && xdg.is_absolute()
    {
        return Some(xdg.join("jwtgrant"));
    }
    home.filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".cache").join("jwtgrant"))
}

/// Lowercase hex of the SHA-256 of `data`, through the signer's crypto backend (ring or
/// aws-lc-rs, whichever the build chose).
fn sha256_hex(data: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding as _};
    let digest = jwtgrant_signer::sha256_base64url(data);
    // The signer's own encoding: it always decodes.
    let bytes = Base64UrlUnpadded::decode_vec(&digest).unwrap_or_default();
    let mut hex = String::with_capacity(HASH_HEX_LEN);
    for b in bytes {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Canonical JSON: object keys sorted (by their UTF-8 bytes), no whitespace, strings and
/// numbers as serde_json writes them. Independent of serde_json's `preserve_order`.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(&Value::String(k.clone()), out);
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

mod platform;

/// Compile-time check: one cache, many threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FileCache>();
    assert_send_sync::<CacheKey>();
    assert_send_sync::<Lookup>();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CacheKey {
        CacheKey {
            label: Some("prod".into()),
            endpoint: "https://sso.example.com/realms/acme/protocol/openid-connect/token".into(),
            client_id: Some("custom-client".into()),
            client_auth: "client_secret_post".into(),
            issuer: "https://idp.example.com".into(),
            subject: "user-1".into(),
            audience: "https://sso.example.com/realms/acme".into(),
            scope: Some("profile".into()),
            extra_claims: serde_json::from_str(r#"{"tenant":"acme","n":{"b":1,"a":[2,"x"]}}"#)
                .unwrap(),
            extra_params: vec![("resource".into(), "https://api".into())],
            signing_key: "sig-thumb".into(),
            dpop_key: Some("dpop-thumb".into()),
            client_certificate: None,
        }
    }

    #[test]
    fn the_hash_is_stable_and_covers_every_field_but_the_label() {
        let base = key();
        // A known answer: the names of existing entries must not change by accident.
        assert_eq!(
            base.hash_hex(),
            "c590fe6286216db8d0352532442b3891e01d603d517acae737c2497a864d1269",
            "change the hashing only together with KEY_DOMAIN"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut labelled = base.clone();
        labelled.label = Some("other profile".into());
        assert_eq!(
            labelled.hash_hex(),
            base.hash_hex(),
            "the label is not hashed"
        );
        let mut reordered = base.clone();
        reordered
            .extra_params
            .insert(0, ("audience".into(), "x".into()));
        let mut appended = base.clone();
        appended.extra_params.push(("audience".into(), "x".into()));
        assert_eq!(
            reordered.hash_hex(),
            appended.hash_hex(),
            "params are a set"
        );
        // Every other field changes the hash, `None` and `Some("")` included.
        type Change = fn(&mut CacheKey);
        let changes: [(&str, Change); 13] = [
            ("endpoint", |k| k.endpoint.push('/')),
            ("client_id", |k| k.client_id = None),
            ("client_id empty", |k| k.client_id = Some(String::new())),
            ("client_auth", |k| k.client_auth = "private_key_jwt".into()),
            ("issuer", |k| k.issuer.push('x')),
            ("subject", |k| k.subject.push('x')),
            ("audience", |k| k.audience.push('x')),
            ("scope", |k| k.scope = None),
            ("extra_claims", |k| {
                k.extra_claims.insert("tenant".into(), "other".into());
            }),
            ("extra_params", |k| k.extra_params.clear()),
            ("signing_key", |k| k.signing_key.push('x')),
            ("dpop_key", |k| k.dpop_key = None),
            ("client_certificate", |k| {
                k.client_certificate = Some("c".into())
            }),
        ];
        let mut seen = std::collections::HashSet::from([base.hash_hex()]);
        for (field, change) in changes {
            let mut k = base.clone();
            change(&mut k);
            assert!(
                seen.insert(k.hash_hex()),
                "{field} does not change the hash"
            );
        }
        // Values cannot run into each other's fields.
        let mut a = base.clone();
        let mut b = base.clone();
        (a.issuer, a.subject) = ("ab".into(), "c".into());
        (b.issuer, b.subject) = ("a".into(), "bc".into());
        assert_ne!(a.hash_hex(), b.hash_hex());
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v: Value =
            serde_json::from_str(r#"{"b":{"z":1,"y":[{"d":1,"c":2}]},"a":"é\"","c":null}"#)
                .unwrap();
        let mut out = String::new();
        write_canonical(&v, &mut out);
        assert_eq!(
            out,
            r#"{"a":"é\"","b":{"y":[{"c":2,"d":1}],"z":1},"c":null}"#
        );
    }

    #[test]
    fn access_rule_is_the_key_files_rule() {
        let check = |mode, owner, me| access_problem(mode, owner, me);
        assert_eq!(check(0o600, 1000, 1000), None);
        assert_eq!(check(0o700, 0, 1000), None, "root may own it");
        assert_eq!(check(0o400, 1000, 1000), None);
        assert_eq!(
            check(0o644, 1000, 1000).as_deref(),
            Some("it is accessible by group or others (mode 0644)")
        );
        assert_eq!(
            check(0o600, 1001, 1000).as_deref(),
            Some("it is owned by uid 1001, not by the current user (uid 1000) or root")
        );
    }

    #[test]
    fn default_dir_prefers_an_absolute_xdg_cache_home() {
        let os = |s: &str| Some(OsString::from(s));
        assert_eq!(
            default_dir_from(os("/x/cache"), os("/home/u")),
            Some(PathBuf::from("/x/cache/jwtgrant"))
        );
        assert_eq!(
            default_dir_from(os("relative"), os("/home/u")),
            Some(PathBuf::from("/home/u/.cache/jwtgrant"))
        );
        assert_eq!(
            default_dir_from(os(""), os("/home/u")),
            Some(PathBuf::from("/home/u/.cache/jwtgrant"))
        );
        assert_eq!(
            default_dir_from(None, os("/home/u")),
            Some(PathBuf::from("/home/u/.cache/jwtgrant"))
        );
        assert_eq!(default_dir_from(None, os("")), None);
        assert_eq!(default_dir_from(None, None), None);
    }

    #[test]
    fn binding_is_checked_against_the_key() {
        let token = |body: &str| {
            crate::fuzzing::token_response(200, None, None, body.as_bytes(), &[], now()).unwrap()
        };
        let bearer = token(r#"{"access_token":"t"}"#);
        let dpop = token(r#"{"access_token":"t","token_type":"DPoP"}"#);
        let cnf = |jkt: Option<&str>, x5t: Option<&str>| crate::response::Confirmation {
            jkt: jkt.map(Into::into),
            x5t_s256: x5t.map(Into::into),
        };
        let mut k = key();
        assert_eq!(binding_mismatch(&k, None, &bearer), None);
        assert_eq!(
            binding_mismatch(&k, Some(&cnf(Some("dpop-thumb"), None)), &dpop),
            None
        );
        assert_eq!(
            binding_mismatch(&k, Some(&cnf(Some("other"), None)), &dpop).as_deref(),
            Some("the token is bound to DPoP key other, not to dpop-thumb")
        );
        assert_eq!(
            binding_mismatch(&k, Some(&cnf(None, Some("cert"))), &bearer).as_deref(),
            Some("the token is bound to client certificate cert, not to none")
        );
        k.client_certificate = Some("cert".into());
        assert_eq!(
            binding_mismatch(&k, Some(&cnf(None, Some("cert"))), &bearer),
            None
        );
        k.dpop_key = None;
        assert_eq!(
            binding_mismatch(&k, None, &dpop).as_deref(),
            Some("the token is DPoP-bound but the key has no DPoP key")
        );
    }

    #[test]
    fn entry_names_are_64_lowercase_hex() {
        assert!(is_entry_name(&key().hash_hex()));
        assert!(!is_entry_name(&format!("{}.lock", key().hash_hex())));
        assert!(!is_entry_name(&key().hash_hex().to_uppercase()));
        assert!(!is_entry_name("abc"));
    }
}
