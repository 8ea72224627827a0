//! `cargo xtask keycloak start|stop|status`: a real Keycloak on loopback, no Docker.
//!
//! The server distribution comes through Maven (`org.keycloak:keycloak-quarkus-dist:V:zip`,
//! cached in the local Maven repository), is unpacked under `target/keycloak/keycloak-V/`
//! and runs as `kc.sh start-dev` in its own process group, detached from us. What is
//! running is recorded per version in `target/keycloak/V/state.json` (and the bare pid in
//! `keycloak.pid` beside it), so several versions can run side by side (the e2e suite needs
//! the default line and 26.5) and `stop` ends exactly those process groups and nothing else.
//!
//! Ports, all on 127.0.0.1: HTTP on the port asked for (8080 by default; the 26.5 server
//! uses its own), HTTPS with the test CA of [`tls`] [`HTTPS_PORT_OFFSET`] above it, the
//! management interface [`MANAGEMENT_PORT_OFFSET`] above it.
//!
//! `KEYCLOAK_URL` (with `KEYCLOAK_ADMIN_USER` / `KEYCLOAK_ADMIN_PASSWORD`) points
//! [`ensure_running`] at an existing server instead; nothing is started then. For the 26.5
//! server of [`StartOptions::legacy`] that variable is `KEYCLOAK_URL_26_5` (same admin).
//!
//! The demo and e2e commands call [`ensure_running`] and, when done,
//! [`Server::stop_if_started`].

use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::{tls, util};

/// The Keycloak release started when `--version` is not given: the newest 26.6+ line
/// served by Maven Central (26.6.0 is the first with the grant supported and on by default).
pub const DEFAULT_VERSION: &str = "26.7.3";
/// The HTTP port used when `--port` is not given.
pub const DEFAULT_PORT: u16 = 8080;
/// The 26.5 release the e2e suite also runs the doctor's version-order tests against: the
/// newest 26.5 served by Maven Central, where the grant is a preview feature and the checks
/// run in the older order (time and audience before the signature).
pub const LEGACY_VERSION: &str = "26.5.6";
/// Where [`LEGACY_VERSION`] listens when the e2e suite starts it: beside the default port.
pub const LEGACY_PORT: u16 = DEFAULT_PORT + 100;
/// Names an existing 26.5 server for the e2e suite instead of starting one.
pub const LEGACY_URL_ENV: &str = "KEYCLOAK_URL_26_5";
/// How long `start` waits for readiness when `--timeout` is not given. The first start
/// of a fresh unpack builds (augments) the server, which takes tens of seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// The bootstrap admin of a server we start (dev only, bound to loopback).
pub const LOCAL_ADMIN_USER: &str = "admin";
/// See [`LOCAL_ADMIN_USER`].
pub const LOCAL_ADMIN_PASSWORD: &str = "admin";
/// HTTPS listens this far above the HTTP port (8080 -> 8443).
const HTTPS_PORT_OFFSET: u16 = 363;
/// The management interface (health, metrics) listens this far above the HTTP port, so
/// that two servers on different ports do not both claim Keycloak's default 9000.
pub(crate) const MANAGEMENT_PORT_OFFSET: u16 = 1000;

const USAGE: &str = "\
usage: cargo xtask keycloak <start|stop|status> [options]

  start [--version V] [--port P] [--timeout SECS] [--tls]
        with KEYCLOAK_URL set: check that server answers and print its URL; otherwise
        fetch Keycloak V (default 26.7.3) through Maven, unpack it under target/keycloak/,
        run `kc.sh start-dev` on 127.0.0.1:P (default 8080; management on P+1000) with
        admin/admin, and wait until the master realm answers. Every server started here
        also serves HTTPS on P+363 with the test CA of target/keycloak/tls (generated once)
        and asks for client certificates; --tls is accepted and changes nothing. Reuses a
        running server of the same version, port, features and test CA
  start --prod [--nodes N] [--version V]
        Keycloak as production runs it, under target/cluster/: `kc.sh build --db=postgres`
        once, N nodes (default 2) of `kc.sh start` on a private PostgreSQL (Debian's
        postgresql, installed when missing), clustered through the database (jdbc-ping),
        behind Debian's nginx terminating TLS on https://localhost:8643 (the nodes' hostname);
        every port on loopback; waits until the cache cluster has every node
  stop [--version V]
        end the server of version V recorded in target/keycloak/V/state.json (SIGTERM, then
        SIGKILL); without --version, every recorded server and the production cluster
  status
        say for each recorded server (and the cluster's proxy, nodes and database) whether
        it runs, answers, and where

environment: KEYCLOAK_URL, KEYCLOAK_ADMIN_USER, KEYCLOAK_ADMIN_PASSWORD point the demo and
e2e commands at an existing server instead of starting one; KEYCLOAK_URL_26_5 does the same
for the 26.5 server the e2e suite also needs (default: it starts 26.5.6 on port 8180)
";

/// What to start when no `KEYCLOAK_URL` is given.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// Keycloak release, e.g. `26.7.3`.
    pub version: String,
    /// HTTP port on 127.0.0.1.
    pub port: u16,
    /// How long to wait for readiness.
    pub timeout: Duration,
    /// The environment variable that names an existing server instead.
    pub url_env: &'static str,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            version: DEFAULT_VERSION.to_owned(),
            port: DEFAULT_PORT,
            timeout: DEFAULT_TIMEOUT,
            url_env: "KEYCLOAK_URL",
        }
    }
}

impl StartOptions {
    /// The 26.5 server the e2e suite runs the version-order tests against.
    pub fn legacy() -> Self {
        StartOptions {
            version: LEGACY_VERSION.to_owned(),
            port: LEGACY_PORT,
            url_env: LEGACY_URL_ENV,
            ..StartOptions::default()
        }
    }
}

/// A Keycloak server that answers, either started here or given by `KEYCLOAK_URL`.
pub struct Server {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// Admin user in the master realm.
    pub admin_user: String,
    /// That user's password.
    pub admin_password: String,
    /// Whether this call started the process (and [`Server::stop_if_started`] ends it).
    pub started_by_us: bool,
    /// The HTTPS URL (`https://localhost:P`), when known: always for a server started here;
    /// from `KEYCLOAK_HTTPS_URL` for an external one.
    pub https_url: Option<String>,
    /// The directory of the test CA and certificates the HTTPS side trusts
    /// ([`tls::Material`]): always for a server started here; `JWTGRANT_TLS_DIR` otherwise.
    pub tls_dir: Option<PathBuf>,
    /// The version asked for (the recorded one when started here).
    pub version: String,
    /// The process group of a server started (or reused) here, for the fault tests that
    /// pause it; `None` for an external server.
    pub pid: Option<u32>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.url)
            .field("admin_user", &self.admin_user)
            .field("admin_password", &"[redacted]")
            .field("started_by_us", &self.started_by_us)
            .field("https_url", &self.https_url)
            .field("version", &self.version)
            .finish()
    }
}

impl Server {
    /// Stops the server if [`ensure_running`] started it; leaves a reused or external
    /// server alone.
    pub fn stop_if_started(&self) -> Result<()> {
        if self.started_by_us {
            stop(&version_dir(&self.version))
        } else {
            Ok(())
        }
    }
}

/// Returns a ready server: the one `KEYCLOAK_URL` names (checked to answer), else the
/// recorded local one if it runs, else a freshly started local one.
pub fn ensure_running(opts: &StartOptions) -> Result<Server> {
    if let Some(url) = env_nonempty(opts.url_env) {
        let url = url.trim_end_matches('/').to_owned();
        let admin_user = env_nonempty("KEYCLOAK_ADMIN_USER").unwrap_or_else(|| "admin".into());
        let Some(admin_password) = env_nonempty("KEYCLOAK_ADMIN_PASSWORD") else {
            bail!(
                "{} is set ({url}) but KEYCLOAK_ADMIN_PASSWORD is not (set it, and \
                 KEYCLOAK_ADMIN_USER unless the admin is 'admin')",
                opts.url_env
            );
        };
        let agent = agent();
        if !is_ready(&agent, &url) {
            bail!(
                "Keycloak at {}={url} does not answer {}",
                opts.url_env,
                discovery_url(&url)
            );
        }
        eprintln!(
            "keycloak: using the existing server at {url} ({})",
            opts.url_env
        );
        return Ok(Server {
            url,
            admin_user,
            admin_password,
            started_by_us: false,
            https_url: env_nonempty("KEYCLOAK_HTTPS_URL"),
            tls_dir: env_nonempty("JWTGRANT_TLS_DIR").map(PathBuf::from),
            version: opts.version.clone(),
            pid: None,
        });
    }
    let (state, started_by_us) = start_local(opts)?;
    Ok(Server {
        url: state.url,
        admin_user: LOCAL_ADMIN_USER.into(),
        admin_password: LOCAL_ADMIN_PASSWORD.into(),
        started_by_us,
        https_url: Some(state.https_url),
        tls_dir: Some(tls_material()?.dir),
        version: state.version,
        pid: Some(state.pid),
    })
}

/// Entry point for `cargo xtask keycloak ...`.
pub fn run(args: &[String]) -> Result<()> {
    let Some((cmd, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        std::process::exit(2);
    };
    match cmd.as_str() {
        "start" if rest.iter().any(|a| a == "--prod") => {
            let (version, nodes) = parse_prod(rest)?;
            let (cluster, _) = crate::cluster::ensure_running(&version, nodes)?;
            println!("{}", cluster.proxy_url);
            Ok(())
        }
        "start" => {
            let opts = parse_start(rest)?;
            let server = ensure_running(&opts)?;
            println!("{}", server.url);
            Ok(())
        }
        "stop" => match parse_stop(rest)? {
            Some(version) => stop(&version_dir(&version)),
            None => {
                let dirs = recorded_dirs();
                if dirs.is_empty() && crate::cluster::recorded().is_none() {
                    eprintln!(
                        "keycloak: not running (nothing recorded under {})",
                        dir().display()
                    );
                }
                dirs.iter().try_for_each(|d| stop(d))?;
                if crate::cluster::recorded().is_some() {
                    crate::cluster::stop()?;
                }
                Ok(())
            }
        },
        "status" => {
            no_more_args(rest)?;
            status()?;
            if crate::cluster::recorded().is_some() {
                println!();
                crate::cluster::status();
            }
            Ok(())
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown keycloak command '{other}'\n\n{USAGE}"),
    }
}

/// `start --prod [--nodes N] [--version V]`.
fn parse_prod(args: &[String]) -> Result<(String, usize)> {
    let mut version = DEFAULT_VERSION.to_owned();
    let mut nodes = 2;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--prod" => {}
            "--nodes" => {
                let v = it
                    .next()
                    .with_context(|| format!("--nodes needs a value\n\n{USAGE}"))?;
                nodes = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=4).contains(n))
                    .with_context(|| format!("invalid --nodes '{v}' (1-4)"))?;
            }
            "--version" => {
                version = it
                    .next()
                    .cloned()
                    .with_context(|| format!("--version needs a value\n\n{USAGE}"))?;
            }
            other => bail!("unknown option '{other}' with --prod\n\n{USAGE}"),
        }
    }
    valid_version(&version)?;
    Ok((version, nodes))
}

fn parse_start(args: &[String]) -> Result<StartOptions> {
    let mut opts = StartOptions::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .with_context(|| format!("{flag} needs a value\n\n{USAGE}"))
        };
        match flag {
            // HTTPS is always on for a server started here (the TLS suite runs on every
            // e2e run); the flag exists so `start --tls` reads as it does in the docs.
            "--tls" if inline.is_none() => {}
            "--version" => opts.version = value()?,
            "--port" => {
                let v = value()?;
                opts.port = v
                    .parse()
                    .ok()
                    .filter(|p: &u16| *p != 0 && *p <= u16::MAX - MANAGEMENT_PORT_OFFSET)
                    .with_context(|| {
                        format!(
                            "invalid --port '{v}' (1-{}; the management port is P+{MANAGEMENT_PORT_OFFSET})",
                            u16::MAX - MANAGEMENT_PORT_OFFSET
                        )
                    })?;
            }
            "--timeout" => {
                let v = value()?;
                let secs: u64 = v
                    .parse()
                    .with_context(|| format!("invalid --timeout '{v}' (whole seconds)"))?;
                opts.timeout = Duration::from_secs(secs);
            }
            other => bail!("unknown option '{other}'\n\n{USAGE}"),
        }
    }
    valid_version(&opts.version)?;
    Ok(opts)
}

/// `stop [--version V]`: the version to stop, or `None` for every recorded server.
fn parse_stop(args: &[String]) -> Result<Option<String>> {
    match args {
        [] => Ok(None),
        [flag, v] if flag == "--version" => Ok(Some(valid_version(v)?)),
        [arg] if arg.starts_with("--version=") => {
            Ok(Some(valid_version(&arg["--version=".len()..])?))
        }
        [a, ..] => bail!("unexpected argument '{a}'\n\n{USAGE}"),
    }
}

fn valid_version(v: &str) -> Result<String> {
    if v.is_empty()
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        bail!("invalid --version '{v}' (e.g. {DEFAULT_VERSION})");
    }
    Ok(v.to_owned())
}

fn no_more_args(args: &[String]) -> Result<()> {
    match args.first() {
        Some(a) => bail!("unexpected argument '{a}'\n\n{USAGE}"),
        None => Ok(()),
    }
}

/// What `state.json` records about the server we started.
#[derive(Debug, Clone)]
struct State {
    pid: u32,
    port: u16,
    management_port: u16,
    version: String,
    url: String,
    /// The HTTPS URL, served with a certificate from the test CA of `target/keycloak/tls`.
    https_url: String,
    /// [`tls::ca_fingerprint`] of that CA when the server started.
    ca_fingerprint: String,
    /// The `--features` it was started with ([`features_for`]); a state from before this
    /// field has none, so it is never reused where a feature is needed.
    features: Vec<String>,
    log: PathBuf,
}

/// The server features every start of `version` enables: 26.5 has the JWT Authorization
/// Grant only as a preview feature; 26.7 and later get the experimental
/// `identity-assertion-jwt` (ID-JAG), which the end-to-end suite exercises. 26.6 has the
/// grant on by default and no ID-JAG.
pub fn features_for(version: &str) -> Vec<String> {
    let mut numbers = version.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    let features: &[&str] = match (major, minor) {
        (26, 5) => &["jwt-authorization-grant"],
        (26, 7..) | (27.., _) => &["identity-assertion-jwt"],
        _ => &[],
    };
    features.iter().map(|f| (*f).to_owned()).collect()
}

impl State {
    fn to_json(&self) -> String {
        let v = json!({
            "pid": self.pid,
            "port": self.port,
            "management_port": self.management_port,
            "version": self.version,
            "url": self.url,
            "https_url": self.https_url,
            "ca_fingerprint": self.ca_fingerprint,
            "features": self.features,
            "log": self.log,
        });
        // Serializing a `Value` built from plain strings and numbers cannot fail.
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }

    fn from_json(text: &str) -> Option<State> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        Some(State {
            pid: u32::try_from(v["pid"].as_u64()?).ok()?,
            port: u16::try_from(v["port"].as_u64()?).ok()?,
            management_port: u16::try_from(v["management_port"].as_u64()?).ok()?,
            version: v["version"].as_str()?.to_owned(),
            url: v["url"].as_str()?.to_owned(),
            // A state from before TLS: no HTTPS, so never reused for the TLS suite.
            https_url: v["https_url"].as_str().unwrap_or_default().to_owned(),
            ca_fingerprint: v["ca_fingerprint"].as_str().unwrap_or_default().to_owned(),
            features: v["features"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            log: PathBuf::from(v["log"].as_str()?),
        })
    }
}

fn dir() -> PathBuf {
    util::root().join("target").join("keycloak")
}

/// The test CA and certificates every server started here uses for HTTPS and client
/// certificates.
pub fn tls_material() -> Result<tls::Material> {
    tls::ensure(&dir().join("tls"))
}

/// The HTTPS port of a server whose HTTP port is `port` (8080 -> 8443).
pub(crate) fn https_port(port: u16) -> u16 {
    port + HTTPS_PORT_OFFSET
}

/// Where the server of `version` is recorded: `target/keycloak/V/`.
fn version_dir(version: &str) -> PathBuf {
    dir().join(version)
}

/// Every directory holding a recorded server: one per version, plus `target/keycloak/`
/// itself where this xtask recorded its single server before it kept one per version.
fn recorded_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("state.json").is_file())
        .collect();
    dirs.sort();
    if dir().join("state.json").is_file() {
        dirs.push(dir());
    }
    dirs
}

fn read_state(dir: &Path) -> Option<State> {
    let text = fs::read_to_string(dir.join("state.json")).ok()?;
    State::from_json(&text)
}

fn write_state(dir: &Path, state: &State) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (state_path, pid_path) = (dir.join("state.json"), dir.join("keycloak.pid"));
    fs::write(&state_path, state.to_json())
        .with_context(|| format!("cannot write {}", state_path.display()))?;
    fs::write(&pid_path, format!("{}\n", state.pid))
        .with_context(|| format!("cannot write {}", pid_path.display()))
}

fn remove_state(dir: &Path) {
    // Either file may already be gone; there is nothing to do about other errors.
    let _ = fs::remove_file(dir.join("state.json"));
    let _ = fs::remove_file(dir.join("keycloak.pid"));
}

/// Starts (or reuses) the local server; the bool says whether this call started it.
fn start_local(opts: &StartOptions) -> Result<(State, bool)> {
    let vdir = version_dir(&opts.version);
    fs::create_dir_all(&vdir).with_context(|| format!("cannot create {}", vdir.display()))?;
    let agent = agent();

    let material = tls_material()?;
    let ca_fingerprint = tls::ca_fingerprint(&material)?;
    if let Some(state) = read_state(&vdir) {
        if group_alive(state.pid) {
            if state.ca_fingerprint != ca_fingerprint {
                bail!(
                    "Keycloak {} on port {} (pid {}) was started with another test CA than the \
                     one in {} (or without HTTPS); stop it with 'cargo xtask keycloak stop'",
                    state.version,
                    state.port,
                    state.pid,
                    material.dir.display()
                );
            }
            let features = features_for(&opts.version);
            if state.features != features {
                bail!(
                    "Keycloak {} on port {} (pid {}) was started with features [{}], not [{}] \
                     (the ID-JAG tests need identity-assertion-jwt); stop it with \
                     'cargo xtask keycloak stop --version {}' and start it again",
                    state.version,
                    state.port,
                    state.pid,
                    state.features.join(","),
                    features.join(","),
                    state.version
                );
            }
            if state.version != opts.version || state.port != opts.port {
                bail!(
                    "Keycloak {} already runs on port {} (pid {}); stop it first with \
                     'cargo xtask keycloak stop --version {}' to start {} on port {}",
                    state.version,
                    state.port,
                    state.pid,
                    state.version,
                    opts.version,
                    opts.port
                );
            }
            if !is_ready(&agent, &state.url) {
                eprintln!(
                    "keycloak: pid {} is running but not ready yet, waiting",
                    state.pid
                );
                wait_ready(&agent, &state, opts.timeout, Instant::now())?;
            }
            eprintln!(
                "keycloak: reusing Keycloak {} at {} (pid {})",
                state.version, state.url, state.pid
            );
            return Ok((state, false));
        }
        eprintln!(
            "keycloak: recorded pid {} is gone, starting afresh",
            state.pid
        );
        remove_state(&vdir);
    }

    let management_port = opts.port + MANAGEMENT_PORT_OFFSET;
    for port in [opts.port, https_port(opts.port), management_port] {
        if port_in_use(port) {
            bail!(
                "127.0.0.1:{port} is already in use by something we did not start \
                 (pick another with --port, or point at that server with KEYCLOAK_URL)"
            );
        }
    }

    let t0 = Instant::now();
    let home = install(&opts.version)?;
    let java_home = find_jdk()?;
    let url = format!("http://127.0.0.1:{}", opts.port);
    let log = vdir.join(format!("keycloak-{}.log", opts.version));
    let log_file =
        fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let log_err = log_file.try_clone()?;

    let mut cmd = Command::new(home.join("bin").join("kc.sh"));
    cmd.arg("start-dev")
        .arg(format!("--http-port={}", opts.port))
        .arg("--http-host=127.0.0.1")
        .arg("--hostname-strict=false")
        .arg("--health-enabled=true")
        // The management interface inherits http-host (loopback) when not set itself.
        .arg(format!("--http-management-port={management_port}"))
        // HTTPS beside HTTP (dev mode keeps HTTP on anyway), with the test CA's certificate;
        // client certificates are asked for, and trusted when that CA signed them.
        .arg(format!("--https-port={}", https_port(opts.port)))
        .arg(path_arg(
            "--https-certificate-file",
            &material.server_cert(),
        ))
        .arg(path_arg(
            "--https-certificate-key-file",
            &material.server_key(),
        ))
        .arg("--https-client-auth=request")
        .arg(path_arg("--truststore-paths", &material.ca_cert()));
    let features = features_for(&opts.version);
    if !features.is_empty() {
        // 26.5 ships the grant as a preview feature (26.6+ has it on by default); 26.7+
        // gets the experimental ID-JAG validator. Recorded in the state, so a server started
        // without them is never silently reused.
        cmd.arg(format!("--features={}", features.join(",")));
    }
    cmd.current_dir(&home)
        .env("JAVA_HOME", &java_home.path)
        .env("KC_BOOTSTRAP_ADMIN_USERNAME", LOCAL_ADMIN_USER)
        .env("KC_BOOTSTRAP_ADMIN_PASSWORD", LOCAL_ADMIN_PASSWORD)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        // Its own process group: Ctrl-C on our terminal does not reach it, and `stop`
        // can signal kc.sh and the java it forks together.
        .process_group(0);
    eprintln!(
        "keycloak: starting Keycloak {} with {} (Java {}), log {}",
        opts.version,
        java_home.path.display(),
        java_home.version,
        log.display()
    );
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", home.join("bin/kc.sh").display()))?;
    let state = State {
        pid: child.id(),
        port: opts.port,
        management_port,
        version: opts.version.clone(),
        url,
        https_url: format!("https://localhost:{}", https_port(opts.port)),
        ca_fingerprint,
        features,
        log,
    };
    write_state(&vdir, &state)?;
    // The child is deliberately not waited for: it outlives this process.
    drop(child);

    if let Err(err) = wait_ready(&agent, &state, opts.timeout, t0) {
        eprintln!("--- last 40 lines of {} ---", state.log.display());
        eprintln!("{}", tail(&state.log, 40));
        eprintln!("---");
        if group_alive(state.pid) {
            eprintln!(
                "keycloak: still running as pid {}; 'cargo xtask keycloak stop --version {}' ends it",
                state.pid, state.version
            );
        } else {
            remove_state(&vdir);
        }
        return Err(err);
    }
    eprintln!(
        "keycloak: ready at {} after {:.1}s (pid {}, admin {LOCAL_ADMIN_USER}/{LOCAL_ADMIN_PASSWORD})",
        state.url,
        t0.elapsed().as_secs_f64(),
        state.pid
    );
    Ok((state, true))
}

/// Polls the master realm's discovery document until it answers 200, printing the
/// elapsed time every few seconds; fails early when the process exits.
fn wait_ready(agent: &ureq::Agent, state: &State, timeout: Duration, t0: Instant) -> Result<()> {
    let what = discovery_url(&state.url);
    eprint!(
        "keycloak: waiting for {what} (timeout {}s) ",
        timeout.as_secs()
    );
    let _ = std::io::stderr().flush();
    let start = Instant::now();
    let mut last_report = Instant::now();
    loop {
        if is_ready(agent, &state.url) {
            eprintln!();
            return Ok(());
        }
        if !group_alive(state.pid) {
            eprintln!();
            bail!(
                "Keycloak (pid {}) exited before it was ready; see {}",
                state.pid,
                state.log.display()
            );
        }
        if start.elapsed() >= timeout {
            eprintln!();
            bail!(
                "Keycloak was not ready after {}s (pass --timeout to wait longer)",
                timeout.as_secs()
            );
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            eprint!("{}s ", t0.elapsed().as_secs());
            let _ = std::io::stderr().flush();
            last_report = Instant::now();
        } else {
            eprint!(".");
            let _ = std::io::stderr().flush();
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Stops the server recorded in `dir` (a version's directory).
fn stop(dir: &Path) -> Result<()> {
    let Some(state) = read_state(dir) else {
        eprintln!(
            "keycloak: not running (no {})",
            dir.join("state.json").display()
        );
        return Ok(());
    };
    if !group_alive(state.pid) {
        eprintln!(
            "keycloak: recorded process group {} is not running; clearing the state",
            state.pid
        );
        remove_state(dir);
        return Ok(());
    }
    eprintln!(
        "keycloak: stopping Keycloak {} (process group {})",
        state.version, state.pid
    );
    signal_group(state.pid, "TERM")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while group_alive(state.pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    if group_alive(state.pid) {
        eprintln!("keycloak: still running after 20s, sending SIGKILL");
        signal_group(state.pid, "KILL")?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while group_alive(state.pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if group_alive(state.pid) {
            bail!("process {} survived SIGKILL", state.pid);
        }
    }
    remove_state(dir);
    eprintln!("keycloak: stopped Keycloak {}", state.version);
    Ok(())
}

fn status() -> Result<()> {
    let dirs = recorded_dirs();
    if dirs.is_empty() {
        println!("not running");
    }
    for (i, d) in dirs.iter().enumerate() {
        if i > 0 {
            println!();
        }
        status_of(d);
    }
    Ok(())
}

fn status_of(dir: &Path) {
    match read_state(dir) {
        None => println!("not running"),
        Some(state) if !group_alive(state.pid) => {
            println!(
                "not running (stale state: pid {} is gone; 'stop' clears it)",
                state.pid
            );
        }
        Some(state) => {
            let ready = is_ready(&agent(), &state.url);
            println!("running");
            println!("ready: {}", if ready { "yes" } else { "no" });
            println!("url: {}", state.url);
            println!(
                "https: {} (CA {})",
                state.https_url,
                self::dir().join("tls").join("ca.pem").display()
            );
            println!(
                "management: http://127.0.0.1:{}/health/ready",
                state.management_port
            );
            println!("pid: {}", state.pid);
            println!("version: {}", state.version);
            println!("admin: {LOCAL_ADMIN_USER}/{LOCAL_ADMIN_PASSWORD}");
            println!("log: {}", state.log.display());
        }
    }
}

fn path_arg(option: &str, path: &Path) -> String {
    format!("{option}={}", path.display())
}

/// Makes sure `target/keycloak/keycloak-V/` holds the unpacked distribution and
/// returns it. Skips Maven entirely once unpacked.
pub(crate) fn install(version: &str) -> Result<PathBuf> {
    let home = dir().join(format!("keycloak-{version}"));
    if home.join("bin").join("kc.sh").is_file() {
        return Ok(home);
    }
    let download = dir().join("download");
    let zip = download.join(format!("keycloak-quarkus-dist-{version}.zip"));
    if !zip.is_file() {
        eprintln!(
            "keycloak: fetching org.keycloak:keycloak-quarkus-dist:{version}:zip through Maven \
             (from the local Maven repository when cached; ~170 MB otherwise)"
        );
        let mut mvn = Command::new("mvn");
        mvn.current_dir(dir()).args([
            "-B",
            "-q",
            "dependency:copy",
            &format!("-Dartifact=org.keycloak:keycloak-quarkus-dist:{version}:zip"),
            &format!("-DoutputDirectory={}", download.display()),
        ]);
        util::run(&mut mvn).with_context(|| {
            format!(
                "cannot fetch Keycloak {version} through Maven (is 'mvn' installed, and is \
                 {version} a published release?)"
            )
        })?;
        if !zip.is_file() {
            bail!("Maven finished but {} is not there", zip.display());
        }
    }

    // Unpack into a scratch directory and rename, so an interrupted unpack never
    // looks like a finished one.
    let scratch = dir().join(format!("unpack-{version}.tmp"));
    if scratch.exists() {
        fs::remove_dir_all(&scratch)
            .with_context(|| format!("cannot remove {}", scratch.display()))?;
    }
    fs::create_dir_all(&scratch)?;
    eprintln!("keycloak: unpacking {}", zip.display());
    unzip(&zip, &scratch)?;
    let inner = scratch.join(format!("keycloak-{version}"));
    if !inner.join("bin").join("kc.sh").is_file() {
        bail!(
            "{} does not contain keycloak-{version}/bin/kc.sh",
            zip.display()
        );
    }
    // Not every unpacker keeps the executable bits.
    for entry in fs::read_dir(inner.join("bin"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "sh") {
            let mut perms = fs::metadata(&path)?.permissions();
            perms.set_mode(perms.mode() | 0o755);
            fs::set_permissions(&path, perms)?;
        }
    }
    fs::rename(&inner, &home)
        .with_context(|| format!("cannot move {} to {}", inner.display(), home.display()))?;
    let _ = fs::remove_dir_all(&scratch);
    // The zip is a copy of the local Maven repository's (170 MB); unpacked, it is not
    // needed again.
    let _ = fs::remove_file(&zip);
    Ok(home)
}

/// Unpacks with whatever this machine has: `unzip`, else Python's `zipfile`, else the
/// JDK's `jar`.
fn unzip(zip: &Path, into: &Path) -> Result<()> {
    if crate::packages::which("unzip").is_some() {
        return util::run(Command::new("unzip").arg("-q").arg(zip).arg("-d").arg(into));
    }
    if crate::packages::which("python3").is_some() {
        return util::run(
            Command::new("python3")
                .args([
                    "-c",
                    "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
                ])
                .arg(zip)
                .arg(into),
        );
    }
    if crate::packages::which("jar").is_some() {
        return util::run(Command::new("jar").arg("xf").arg(zip).current_dir(into));
    }
    bail!(
        "cannot unpack {}: none of 'unzip', 'python3', 'jar' is on PATH",
        zip.display()
    )
}

#[derive(Debug)]
pub(crate) struct Jdk {
    pub(crate) path: PathBuf,
    version: String,
    major: u32,
}

/// Finds a JDK 17+: `JAVA_HOME`, else the newest under `/usr/lib/jvm`, else the one
/// behind `java` on PATH.
pub(crate) fn find_jdk() -> Result<Jdk> {
    let mut looked = Vec::new();
    if let Some(home) = env_nonempty("JAVA_HOME") {
        let home = PathBuf::from(home);
        match jdk_at(&home) {
            Some(jdk) if jdk.major >= 17 => return Ok(jdk),
            Some(jdk) => looked.push(format!(
                "JAVA_HOME={} (Java {}, too old)",
                home.display(),
                jdk.version
            )),
            None => looked.push(format!(
                "JAVA_HOME={} (no bin/java there, or no version readable from it)",
                home.display()
            )),
        }
    } else {
        looked.push("JAVA_HOME (not set)".into());
    }

    let jvm = Path::new("/usr/lib/jvm");
    let mut best: Option<Jdk> = None;
    if let Ok(entries) = fs::read_dir(jvm) {
        for entry in entries.flatten() {
            if let Some(jdk) = jdk_at(&entry.path())
                && jdk.major >= 17
                && best.as_ref().is_none_or(|b| jdk.major > b.major)
            {
                best = Some(jdk);
            }
        }
    }
    match best {
        Some(jdk) => return Ok(jdk),
        None => looked.push(format!("{}/* (no JDK 17+)", jvm.display())),
    }

    if let Some(java) = crate::packages::which("java") {
        // Resolve alternatives symlinks: .../jdk/bin/java -> .../jdk.
        let real = fs::canonicalize(&java).unwrap_or(java.clone());
        if let Some(home) = real.parent().and_then(Path::parent)
            && let Some(jdk) = jdk_at(home)
        {
            if jdk.major >= 17 {
                return Ok(jdk);
            }
            looked.push(format!(
                "java on PATH ({}, Java {}, too old)",
                java.display(),
                jdk.version
            ));
        } else {
            looked.push(format!(
                "java on PATH ({}, version unknown)",
                java.display()
            ));
        }
    } else {
        looked.push("java on PATH (none)".into());
    }
    bail!(
        "no JDK 17 or newer found (Keycloak 26 needs 17, 21 or 25; 25 recommended); looked at: {}",
        looked.join("; ")
    )
}

/// Reads a JDK's `release` file (`JAVA_VERSION="25.0.3"`).
fn jdk_at(home: &Path) -> Option<Jdk> {
    if !home.join("bin").join("java").is_file() {
        return None;
    }
    let from_release = fs::read_to_string(home.join("release"))
        .ok()
        .and_then(|release| {
            release.lines().find_map(|l| {
                l.strip_prefix("JAVA_VERSION=")
                    .map(|v| v.trim().trim_matches('"').to_owned())
            })
        });
    // Some JDK packages ship no `release` file: ask the binary itself.
    let version = from_release.or_else(|| {
        let out = Command::new(home.join("bin").join("java"))
            .arg("-version")
            .output()
            .ok()?;
        version_from_banner(&String::from_utf8_lossy(&out.stderr))
    })?;
    Some(Jdk {
        path: home.to_owned(),
        major: java_major(&version)?,
        version,
    })
}

/// The quoted version in `java -version`'s first line: `openjdk version "17.0.15" 2025-04-15`.
fn version_from_banner(banner: &str) -> Option<String> {
    let line = banner.lines().next()?;
    let start = line.find('"')? + 1;
    let len = line[start..].find('"')?;
    Some(line[start..start + len].to_owned())
}

/// `"25.0.3"` -> 25, `"17"` -> 17, `"1.8.0_392"` -> 8.
fn java_major(version: &str) -> Option<u32> {
    let mut parts = version.split(['.', '_', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Whether `pid` is a live (not zombie) process that looks like our server: guards
/// against the pid having been reused by something else since we recorded it.
/// Whether any Keycloak process of process group `pgid` still runs: `kc.sh` may be gone
/// while the java it started lives on, and that java must be stopped too.
pub(crate) fn group_alive(pgid: u32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return keycloak_process(pgid).is_some();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .any(|pid| keycloak_process(pid).is_some_and(|pgrp| pgrp == pgid))
}

/// The process group of `pid` if it is a live (not zombie) Keycloak process (`kc.sh` or the
/// java running Keycloak), checked by its command line so a reused pid is never taken for ours.
fn keycloak_process(pid: u32) -> Option<u32> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let stat = fs::read_to_string(proc.join("stat")).ok()?;
    // The fields after the parenthesised command name (which may hold spaces):
    // state, ppid, pgrp, ...
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?;
    let pgrp = rest.nth(1)?.parse().ok()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let cmdline = fs::read(proc.join("cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline);
    (cmdline.contains("kc.sh") || cmdline.contains("keycloak")).then_some(pgrp)
}

pub(crate) fn signal_group(pgid: u32, signal: &str) -> Result<()> {
    // `kill -SIG -- -PGID` signals the whole group: kc.sh and the java it runs.
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .status()
        .context("cannot run 'kill'")?;
    if !status.success() && group_alive(pgid) {
        bail!("'kill -{signal} -- -{pgid}' failed ({status})");
    }
    Ok(())
}

pub(crate) fn port_in_use(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(3)))
        .build()
        .new_agent()
}

fn discovery_url(base: &str) -> String {
    format!("{base}/realms/master/.well-known/openid-configuration")
}

pub(crate) fn is_ready(agent: &ureq::Agent, base: &str) -> bool {
    agent
        .get(&discovery_url(base))
        .call()
        .is_ok_and(|r| r.status() == 200)
}

pub(crate) fn tail(path: &Path, n: usize) -> String {
    let Ok(file) = fs::File::open(path) else {
        return format!("(cannot read {})", path.display());
    };
    let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_major_versions() {
        for (input, expected) in [
            ("25.0.3", Some(25)),
            ("17", Some(17)),
            ("21.0.2", Some(21)),
            ("1.8.0_392", Some(8)),
            ("", None),
        ] {
            assert_eq!(java_major(input), expected, "{input}");
        }
    }

    #[test]
    fn java_version_banner() {
        let banner = "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6)\n";
        assert_eq!(version_from_banner(banner).as_deref(), Some("17.0.15"));
        assert_eq!(
            version_from_banner("java version \"1.8.0_392\"\n").as_deref(),
            Some("1.8.0_392")
        );
        assert_eq!(version_from_banner("no quotes here"), None);
        assert_eq!(version_from_banner(""), None);
    }

    #[test]
    fn state_round_trips() {
        let s = State {
            pid: 42,
            port: 8080,
            management_port: 9080,
            version: "26.7.3".into(),
            url: "http://127.0.0.1:8080".into(),
            https_url: "https://localhost:8443".into(),
            ca_fingerprint: "abc".into(),
            features: vec!["identity-assertion-jwt".into()],
            log: PathBuf::from("/x/keycloak-26.7.3.log"),
        };
        let back = State::from_json(&s.to_json()).expect("round trip");
        assert_eq!(back.features, s.features);
        assert_eq!(
            (back.https_url.as_str(), back.ca_fingerprint.as_str()),
            ("https://localhost:8443", "abc")
        );
        assert_eq!(
            (back.pid, back.port, back.management_port),
            (42, 8080, 9080)
        );
        assert_eq!(back.url, s.url);
        assert_eq!(back.version, s.version);
    }

    #[test]
    fn features_per_version() {
        let f = |v: &str| features_for(v).join(",");
        assert_eq!(f("26.5.6"), "jwt-authorization-grant");
        assert_eq!(f("26.6.1"), "");
        assert_eq!(f("26.7.3"), "identity-assertion-jwt");
        assert_eq!(f("27.0.0"), "identity-assertion-jwt");
        // A state written before features were recorded reads as none: never reused for 26.7.
        let old = r#"{"pid":1,"port":8080,"management_port":9080,"version":"26.7.3","url":"u","log":"l"}"#;
        assert_eq!(State::from_json(old).map(|s| s.features), Some(vec![]));
    }

    #[test]
    fn start_flags() {
        let args: Vec<String> = ["--version", "26.5.6", "--port=8181", "--timeout", "60"]
            .map(String::from)
            .into();
        let o = parse_start(&args).expect("valid");
        assert_eq!(
            (o.version.as_str(), o.port, o.timeout.as_secs()),
            ("26.5.6", 8181, 60)
        );
        assert!(parse_start(&["--port".into(), "0".into()]).is_err());
        assert!(parse_start(&["--version".into(), "1;rm".into()]).is_err());
        assert!(parse_start(&["--bogus".into()]).is_err());
    }

    #[test]
    fn stop_flags() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(parse_stop(&args(&[])).unwrap(), None);
        assert_eq!(
            parse_stop(&args(&["--version", "26.5.6"]))
                .unwrap()
                .as_deref(),
            Some("26.5.6")
        );
        assert_eq!(
            parse_stop(&args(&["--version=26.7.3"])).unwrap().as_deref(),
            Some("26.7.3")
        );
        assert!(parse_stop(&args(&["--version", "x;y"])).is_err());
        assert!(parse_stop(&args(&["--port", "1"])).is_err());
        assert_eq!(
            version_dir("26.5.6"),
            util::root().join("target/keycloak/26.5.6")
        );
    }
}
