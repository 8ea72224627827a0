//! `exchange` and `token`: the token client from the settings, the exchange, the answer
//! printed.

use std::time::Instant;

use anyhow::{Context as _, Result};
use jwtgrant_exchange::{ClientAuth, Exchange, RetryPolicy, TokenResponse};
use serde_json::Value;

use jwtgrant_exchange::cache::{CacheKey, FileCache, Origin};

use crate::cli::{CacheCmd, Output, OutputArgs};
use crate::files;
use crate::settings::client::{Client, Endpoint, Route};
use crate::settings::token::{ExchangeSettings, ExecSettings, TokenSettings};

/// The token client of `client`, authenticating as it says, with its scope.
pub fn connect(client: Client) -> Result<Exchange> {
    let Client { route, auth, scope } = client;
    Ok(authenticated(endpoint_client(route)?, auth, scope))
}

/// `ex` authenticating with `auth`, asking for `scope`.
pub fn authenticated(ex: Exchange, auth: ClientAuth, scope: Option<String>) -> Exchange {
    let ex = ex.client_auth(auth);
    match scope {
        Some(scope) => ex.scope(scope),
        None => ex,
    }
}

/// The token endpoint of `route`, without client authentication: the first network
/// traffic (OpenID discovery, with `--issuer-url`) happens here.
pub fn endpoint_client(route: Route) -> Result<Exchange> {
    let Route {
        endpoint,
        transport,
        call_timeout,
        dpop,
    } = route;
    let ex = match &endpoint {
        Endpoint::Url(url) | Endpoint::Discover(url) => Exchange::new(url)?,
        Endpoint::Keycloak { base, realm } => jwtgrant_keycloak::exchange(base, realm)?,
    };
    let mut ex = ex.call_timeout(call_timeout).transport(transport);
    if let Endpoint::Discover(url) = &endpoint {
        ex = ex.discover_endpoint(url)?;
    }
    log::info!("token endpoint {}", ex.token_endpoint());
    Ok(match dpop {
        Some(d) => ex.dpop_with(d),
        None => ex,
    })
}

pub fn run_exchange(s: ExchangeSettings) -> Result<()> {
    let ex = connect(s.client)?;
    let started = Instant::now();
    let token = ex.exchange(s.assertion.secret())?;
    log::info!("token in {} ms", started.elapsed().as_millis());
    print_token(&token, &s.output)
}

pub fn run_token(s: TokenSettings) -> Result<()> {
    let output = s.output.clone();
    print_token(&obtain(s)?, &output)
}

/// The token of `s`: from the cache when `--cache` is on and it holds one with more than
/// `--min-ttl` left, else a fresh grant (stored for the next run).
fn obtain(mut s: TokenSettings) -> Result<TokenResponse> {
    let Some(cache) = s.cache.take() else {
        return fetch(s);
    };
    let key = cache_key(&s, cache.label);
    let store = FileCache::open(&cache.dir)?;
    let lookup = store.get_or_fetch(&key, cache.min_ttl, || fetch(s))?;
    let left = lookup.token.expires_in.unwrap_or_default();
    match lookup.origin {
        Origin::Cached => log::info!(
            "token from the cache ({}, {left} s left)",
            store.entry_path(&key).display()
        ),
        Origin::Fetched => log::info!("token cached in {}", store.entry_path(&key).display()),
        _ => {}
    }
    Ok(lookup.token)
}

/// Everything that changes the token `s` asks for, as the cache keys it.
fn cache_key(s: &TokenSettings, label: Option<String>) -> CacheKey {
    let (issuer, subject, audience, extra_claims, signing_key) = s.assertions.identity();
    let route = &s.client.route;
    let endpoint = match &route.endpoint {
        Endpoint::Url(url) => url.clone(),
        Endpoint::Discover(issuer) => format!("{issuer} (discovery)"),
        Endpoint::Keycloak { base, realm } => jwtgrant_keycloak::token_endpoint(base, realm),
    };
    CacheKey {
        label,
        endpoint,
        client_id: s.client.auth.client_id().map(str::to_owned),
        client_auth: s.client.auth.method().to_owned(),
        issuer,
        subject,
        audience,
        scope: s.client.scope.clone(),
        extra_claims,
        extra_params: Vec::new(),
        signing_key,
        dpop_key: route.dpop.as_ref().map(|d| d.thumbprint().to_owned()),
        client_certificate: route
            .transport
            .client_certificate_thumbprint()
            .map(str::to_owned),
    }
}

/// `cache list` and `cache clear`.
pub fn run_cache(cmd: &CacheCmd) -> Result<()> {
    use crate::cmd::inspect::{date, span};
    let dir = match cmd {
        CacheCmd::List(a) => a.cache_dir.as_deref(),
        CacheCmd::Clear(a) => a.dir.cache_dir.as_deref(),
    };
    let store = FileCache::open(crate::settings::token::cache_dir(dir)?)?;
    match cmd {
        CacheCmd::List(_) => {
            let now = super::sign::unix_now();
            let mut out = String::new();
            for e in store.list()? {
                let at = unix_seconds(Some(e.expires_at))
                    .and_then(|t| i64::try_from(t).ok())
                    .unwrap_or_default();
                let when = if at > now {
                    format!("expires {} (in {})", date(at), span(at - now))
                } else {
                    format!("expired {} ago", span(now - at))
                };
                out.push_str(&format!(
                    "{}  profile {}  sub {}  iss {}  {}  {when}{}\n",
                    e.path
                        .file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default(),
                    e.label.as_deref().unwrap_or("-"),
                    e.subject,
                    e.issuer,
                    e.endpoint,
                    match (&e.dpop_jkt, &e.cert_x5t) {
                        (Some(_), _) => "  DPoP-bound",
                        (None, Some(_)) => "  certificate-bound",
                        _ => "",
                    }
                ));
            }
            if out.is_empty() {
                out = format!("no cached tokens in {}\n", store.dir().display());
            }
            files::stdout(&out)
        }
        CacheCmd::Clear(a) => {
            let (n, what) = if a.all {
                (store.clear_all()?, "")
            } else {
                (store.clear_expired()?, "expired ")
            };
            files::println(&format!(
                "removed {n} {what}cached token{} from {}",
                if n == 1 { "" } else { "s" },
                store.dir().display()
            ))
        }
    }
}

/// Sign and exchange, retrying transient failures with a fresh assertion each time.
fn fetch(s: TokenSettings) -> Result<TokenResponse> {
    let ex = connect(s.client)?.retries(RetryPolicy::attempts(s.retries.saturating_add(1)));
    let started = Instant::now();
    let token = ex.exchange_with(|| {
        s.assertions
            .make()
            .map_err(|e| DisplayError(format!("{e:#}")))
    })?;
    log::info!("token in {} ms", started.elapsed().as_millis());
    Ok(token)
}

/// `exec`: a token as `token` gets it, then this process becomes the command, with the
/// token in its environment (never in its argv).
pub fn run_exec(s: ExecSettings) -> Result<()> {
    let ExecSettings {
        token: settings,
        env_var,
        command,
    } = s;
    let token = obtain(settings)?;
    let (program, args) = command
        .split_first()
        .ok_or_else(|| crate::error::usage("missing the command to run after --"))?;
    let mut child = std::process::Command::new(program);
    child
        .args(args)
        .env(&env_var, token.access_token.secret())
        .env(format!("{env_var}_TYPE"), &token.token_type);
    let shown = program.to_string_lossy().into_owned();
    log::info!("running {shown} with the token in {env_var}");
    become_or_run(child, &shown)
}

/// Replace this process with `cmd` (Unix `exec`: the command gets the signals and its exit
/// status is the one the caller sees).
#[cfg(unix)]
fn become_or_run(mut cmd: std::process::Command, shown: &str) -> Result<()> {
    use std::os::unix::process::CommandExt as _;
    let e = cmd.exec();
    Err(anyhow::Error::new(e).context(format!("cannot run '{shown}'")))
}

/// Elsewhere: run `cmd` and exit with its status.
#[cfg(not(unix))]
fn become_or_run(mut cmd: std::process::Command, shown: &str) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot run '{shown}'"))?;
    std::process::exit(status.code().unwrap_or(1))
}

/// Carries an anyhow message through the library's `Into<BoxError>` bound.
#[derive(Debug)]
pub(crate) struct DisplayError(pub String);
impl std::fmt::Display for DisplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DisplayError {}

/// Bare token, or one JSON object; `--decode` adds the access token's header and claims.
pub fn print_token(token: &TokenResponse, out: &OutputArgs) -> Result<()> {
    let decoded = if out.decode {
        Some(
            super::decode(token.access_token.secret())
                .context("cannot decode the access token (--decode needs a JWT access token)")?,
        )
    } else {
        None
    };
    let format = match out.output {
        Some(f) => f,
        None if out.json => Output::Json,
        None => Output::Token,
    };
    if decoded.is_some() && !matches!(format, Output::Token | Output::Json) {
        return Err(crate::error::usage(
            "--decode goes with --output token or json: the other formats are read by programs",
        ));
    }
    let secret = token.access_token.secret();
    match format {
        Output::Token | Output::Json => {}
        Output::Header => {
            return files::println(&format!("Authorization: {} {secret}", token.token_type));
        }
        Output::Env => {
            let name = &out.env_var;
            // Both quoted: the server chose these bytes, and the lines are meant for `eval`.
            let mut lines = format!(
                "export {name}={}\nexport {name}_TYPE={}\n",
                files::shell_word(secret),
                files::shell_word(&token.token_type)
            );
            if let Some(at) = unix_seconds(token.expires_at) {
                lines.push_str(&format!("export {name}_EXPIRES_AT={at}\n"));
            }
            return files::stdout(&lines);
        }
        Output::ExecCredential => {
            return files::println(&serde_json::to_string(&exec_credential(
                secret,
                unix_seconds(token.expires_at),
                std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref(),
            ))?);
        }
    }
    if format == Output::Json {
        let mut v = token.to_json_including_tokens();
        if let (Some((h, c)), Value::Object(map)) = (decoded, &mut v) {
            map.insert("access_token_header".into(), h);
            map.insert("access_token_claims".into(), c);
        }
        files::println(&serde_json::to_string(&v)?)
    } else {
        if let Some((h, c)) = decoded {
            eprintln!(
                "access token header: {}\naccess token claims: {}",
                serde_json::to_string_pretty(&h)?,
                serde_json::to_string_pretty(&c)?
            );
        }
        files::println(token.access_token.secret())
    }
}

/// kubectl's client-go credential plugin API versions jwtgrant speaks.
const EXEC_CREDENTIAL_V1: &str = "client.authentication.k8s.io/v1";
const EXEC_CREDENTIAL_V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// The `ExecCredential` for a kubeconfig `exec` plugin: `v1`, or `v1beta1` when kubectl's
/// `KUBERNETES_EXEC_INFO` names it; the token and, when known, its expiry in RFC 3339.
fn exec_credential(token: &str, expires_at: Option<u64>, exec_info: Option<&str>) -> Value {
    let asked = exec_info
        .and_then(|info| serde_json::from_str::<Value>(info).ok())
        .and_then(|v| v["apiVersion"].as_str().map(str::to_owned));
    let api_version = match asked.as_deref() {
        Some(EXEC_CREDENTIAL_V1BETA1) => EXEC_CREDENTIAL_V1BETA1,
        _ => EXEC_CREDENTIAL_V1,
    };
    let mut status = serde_json::json!({"token": token});
    if let Some(at) = expires_at.and_then(rfc3339) {
        status["expirationTimestamp"] = Value::String(at);
    }
    serde_json::json!({"apiVersion": api_version, "kind": "ExecCredential", "status": status})
}

fn unix_seconds(t: Option<std::time::SystemTime>) -> Option<u64> {
    t?.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// `2026-12-06T21:00:00Z`.
fn rfc3339(secs: u64) -> Option<String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).ok()?)
        .ok()?
        .format(&fmt)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_credentials_speak_the_version_kubectl_asks_for() {
        let v1 = exec_credential("a.b.c", Some(1_796_587_200), None);
        assert_eq!(
            v1,
            serde_json::json!({"apiVersion": EXEC_CREDENTIAL_V1, "kind": "ExecCredential",
                "status": {"token": "a.b.c", "expirationTimestamp": "2026-12-06T20:00:00Z"}})
        );
        let beta = exec_credential(
            "a.b.c",
            Some(1_796_587_200),
            Some(
                r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}"#,
            ),
        );
        assert_eq!(beta["apiVersion"], EXEC_CREDENTIAL_V1BETA1);
        // Nonsense in the variable: the current version.
        assert_eq!(exec_credential("a.b.c", Some(1_796_587_200), Some("{")), v1);
        // No expiry known: no timestamp (kubectl then asks again every time).
        assert_eq!(
            exec_credential("a.b.c", None, None)["status"],
            serde_json::json!({"token": "a.b.c"})
        );
        assert_eq!(
            rfc3339(1_796_587_200).as_deref(),
            Some("2026-12-06T20:00:00Z")
        );
    }
}
