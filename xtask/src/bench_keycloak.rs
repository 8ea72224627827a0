//! `cargo xtask bench --keycloak`: exchanges against a real Keycloak, side by side in one run.
//!
//! 1. Sequential: one kept-alive `Exchange`, a new `Exchange` per exchange (both in the
//!    `bench_keycloak` program of `benches/`), `curl` per exchange with an assertion signed
//!    beforehand, and the seed's flow (`sh` running `node tests/node/issue.js`, then `curl`
//!    with its output).
//! 2. Whole process: `jwtgrant token` (release build) against the seed's flow.
//! 3. Concurrency: 1, 2, 4, 8, 16 threads sharing one `Exchange`; grants per second, and CPU
//!    per grant of the client and of Keycloak's process group, from `/proc`.
//! 4. Fleet: P processes of `bench_keycloak fleet`, each with one refresh-ahead
//!    `TokenSource` and T calling threads, in a realm whose access tokens live L seconds.
//!
//! The server is the one `keycloak::ensure_running` gives (`KEYCLOAK_URL`, or the local one
//! on `--port`); the realm `jwtgrant-bench` is provisioned through the admin API and deleted
//! at the end. Every request goes to loopback (or to `KEYCLOAK_URL`), bounded in time: each
//! row runs for `--seconds`, the fleet for `--fleet-seconds`. Nothing asserts on time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use jwtgrant_exchange::keycloak::admin::{
    AdminSession, ClientAuthenticator, IdpKey, JwtClient, JwtIdp, UserSpec,
};
use jwtgrant_exchange::keycloak::{realm_url, token_endpoint};
use jwtgrant_signer::{Claims, Signer};

use crate::keycloak::{self, StartOptions};
use crate::util::{cargo, root, run as run_cmd};

const REALM: &str = "jwtgrant-bench";
const IDP_ALIAS: &str = "jwt-authorization-grant";
const ISSUER: &str = "http://localhost:3000";
const CLIENT_ID: &str = "bench-client";
const SUB: &str = "nodejsuser-1234";
const USERNAME: &str = "nodejsuser";
const KEY_FIXTURE: &str = "crates/jwtgrant-signer/tests/fixtures/rsa2048-pkcs8.pem";
const THREADS: &str = "1,2,4,8,16";
const GRANT_TYPE: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";

/// What `--keycloak` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds per row.
    pub seconds: f64,
    /// The local server's port (when `KEYCLOAK_URL` is not set).
    pub port: u16,
    /// Fleet run length.
    pub fleet_seconds: f64,
    /// Fleet processes.
    pub processes: usize,
    /// Calling threads per fleet process.
    pub fleet_threads: usize,
    /// Pause of each fleet caller between `token()` calls, in µs (0: call back to back).
    pub fleet_interval_us: u64,
    /// Build the bench binaries first.
    pub build: bool,
}

/// Runs the Keycloak section; returns its markdown and writes `docs/benchmarks.md`'s
/// generated block and `docs/bench-keycloak.svg`.
pub fn run(opts: &Options, machine_header: &str) -> Result<String> {
    let root = root();
    let target = root.join("target/bench-ring");
    if opts.build {
        build(&target)?;
    }
    let example = target.join("release/bench_keycloak");
    let jwtgrant = target.join("release/jwtgrant");
    for program in [&example, &jwtgrant] {
        if !program.exists() {
            bail!(
                "'{}' is missing (run 'cargo xtask bench --keycloak' without --no-build)",
                program.display()
            );
        }
    }
    let server = keycloak::ensure_running(&StartOptions {
        port: opts.port,
        ..StartOptions::default()
    })?;
    let result = measure(opts, &root, &server, &example, &jwtgrant, machine_header);
    // Stop what we started even when a row failed; report the row's failure first.
    let stopped = server.stop_if_started();
    let report = result?;
    stopped?;
    Ok(report)
}

fn build(target: &Path) -> Result<()> {
    let dir = target.to_string_lossy().into_owned();
    run_cmd(cargo().args([
        "build",
        "--release",
        "-p",
        "jwtgrant-bench",
        "--bin",
        "bench_keycloak",
        // The exchange crate's own features, like bench_token_source (see benches/Cargo.toml).
        "--no-default-features",
        "--features",
        "exchange",
        "--target-dir",
        &dir,
    ]))?;
    run_cmd(cargo().args([
        "build",
        "--release",
        "-p",
        "jwtgrant-cli",
        "--bin",
        "jwtgrant",
        "--target-dir",
        &dir,
    ]))
}

/// Everything a row needs to reach the realm.
struct Bench {
    url: String,
    endpoint: String,
    audience: String,
    secret: String,
    key: PathBuf,
    signer: Signer,
    /// `grant_type=...&client_id=...&client_secret=...`, for curl's `-d @file` (the secret
    /// stays out of argv).
    form_file: PathBuf,
    example: PathBuf,
    pgid: Option<u32>,
}

fn measure(
    opts: &Options,
    root: &Path,
    server: &keycloak::Server,
    example: &Path,
    jwtgrant: &Path,
    machine_header: &str,
) -> Result<String> {
    let admin = AdminSession::password(&server.url, &server.admin_user, &server.admin_password)
        .with_context(|| format!("logging in to Keycloak at {}", server.url))?;
    let version = admin
        .server_version()
        .ok()
        .flatten()
        .unwrap_or_else(|| server.version.clone());
    let work = root.join("target/bench/keycloak");
    fs::create_dir_all(&work)?;
    let bench = provision(&admin, server, &work, example)?;
    let result = rows(opts, root, &admin, &bench, jwtgrant);
    let deleted = admin.delete_realm(REALM);
    let results = result?;
    deleted.with_context(|| format!("deleting realm '{REALM}'"))?;

    let report = Report {
        header: format!(
            "{machine_header}- Keycloak {version} (`start-dev`, H2) at {}, on the same machine\n",
            server.url
        ),
        results,
    };
    let markdown = report.markdown(opts);
    print!("{}", report.text());
    fs::write(work.join("report.md"), &markdown)?;
    update_docs(root, &markdown, &report.svg())?;
    Ok(markdown)
}

/// The seed's setup in realm `jwtgrant-bench`, with the fixture key's public half on the
/// identity provider and a 5-minute token lifespan (the fleet row shortens it later).
fn provision(
    admin: &AdminSession,
    server: &keycloak::Server,
    work: &Path,
    example: &Path,
) -> Result<Bench> {
    let root = root();
    let pem = fs::read(root.join(KEY_FIXTURE))?;
    let signer = Signer::from_pem(&pem)?;
    // `jwtgrant token` refuses a key others can read, as it should: a private copy.
    let key = work.join("key.pem");
    fs::write(&key, &pem)?;
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600))?;

    eprintln!("bench: provisioning realm '{REALM}' at {}", server.url);
    admin.ensure_realm(REALM)?;
    admin.set_access_token_lifespan(REALM, Duration::from_secs(300))?;
    let idp = JwtIdp::new(
        IDP_ALIAS,
        ISSUER,
        IdpKey::Static {
            public_key: signer.public_key_pem(),
            key_id: None,
        },
    );
    admin.ensure_jwt_idp(REALM, &idp)?;
    let client = admin.ensure_client(
        REALM,
        &JwtClient::new(CLIENT_ID, ClientAuthenticator::Secret(None), [IDP_ALIAS]),
    )?;
    let secret = client
        .secret
        .context("Keycloak returned no secret for the bench client")?
        .secret()
        .to_owned();
    let user = admin.ensure_user(
        REALM,
        USERNAME,
        &UserSpec::new()
            .email(format!("{USERNAME}@example.com"))
            .name("Node", "User"),
    )?;
    admin.ensure_idp_link(REALM, &user.id, IDP_ALIAS, SUB, USERNAME)?;

    let form_file = work.join("client.form");
    crate::keygen::write_private(
        &form_file,
        format!("grant_type={GRANT_TYPE}&client_id={CLIENT_ID}&client_secret={secret}").as_bytes(),
    )?;
    let pgid = server.pid.or_else(|| {
        std::env::var("KEYCLOAK_PID")
            .ok()
            .and_then(|p| p.parse().ok())
    });
    Ok(Bench {
        url: server.url.clone(),
        endpoint: token_endpoint(&server.url, REALM),
        audience: realm_url(&server.url, REALM),
        secret,
        key,
        signer,
        form_file,
        example: example.to_owned(),
        pgid,
    })
}

/// key -> value, from every program of the run.
type Results = BTreeMap<String, String>;

fn rows(
    opts: &Options,
    root: &Path,
    admin: &AdminSession,
    bench: &Bench,
    jwtgrant: &Path,
) -> Result<Results> {
    let secs = format!("{}", opts.seconds);
    let mut results = Results::new();

    // Keycloak compiles its hot paths as they run: the first row would otherwise pay for it.
    eprintln!("bench: warming Keycloak up ({secs} s of exchanges on 2 threads, not reported)");
    example(
        bench,
        "concurrency",
        &["--seconds", &secs, "--threads", "2"],
    )?;

    eprintln!("bench: sequential exchanges in one process ({secs} s per row)");
    results.extend(example(bench, "sequential", &["--seconds", &secs])?);

    eprintln!("bench: curl per exchange, assertion signed beforehand");
    match curl_version() {
        Ok(v) => {
            results.insert("curl.version".into(), v);
            let mut samples = time_processes(opts.seconds, || curl_once(bench))?;
            put_latencies(&mut results, "curl", &mut samples);
        }
        Err(why) => {
            results.insert("curl.missing".into(), why);
        }
    }

    eprintln!("bench: the seed's flow (node issue.js, then curl)");
    match seed_ready(root) {
        Ok(()) => {
            let mut samples = time_processes(opts.seconds, || seed_once(root, bench))?;
            put_latencies(&mut results, "seed", &mut samples);
        }
        Err(why) => {
            results.insert("seed.missing".into(), why);
        }
    }

    eprintln!("bench: jwtgrant token, whole process");
    let mut samples = time_processes(opts.seconds, || jwtgrant_once(bench, jwtgrant))?;
    put_latencies(&mut results, "cli", &mut samples);

    eprintln!("bench: concurrency {THREADS} threads, one Exchange ({secs} s each)");
    let mut args = vec!["--seconds", &secs, "--threads", THREADS];
    let pgid = bench.pgid.map(|p| p.to_string());
    if let Some(p) = &pgid {
        args.extend(["--keycloak-pgid", p]);
    }
    for (k, v) in example(bench, "concurrency", &args)? {
        results.insert(k, v);
    }

    fleet(opts, admin, bench, &mut results)?;
    Ok(results)
}

/// Runs the example in `mode`, returning its `key\tvalue\tunit` lines as key -> value.
fn example(bench: &Bench, mode: &str, extra: &[&str]) -> Result<Results> {
    let child = example_command(bench, mode, extra)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start '{}'", bench.example.display()))?;
    collect(child, mode)
}

fn example_command(bench: &Bench, mode: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(&bench.example);
    cmd.arg(mode)
        .args(["--token-endpoint", &bench.endpoint])
        .args(["--audience", &bench.audience])
        .args(["--client-id", CLIENT_ID])
        .arg("--key")
        .arg(&bench.key)
        .args(["--issuer", ISSUER, "--subject", SUB])
        .args(extra)
        .env("BENCH_CLIENT_SECRET", &bench.secret)
        .stderr(Stdio::inherit());
    cmd
}

fn collect(child: std::process::Child, what: &str) -> Result<Results> {
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("bench_keycloak {what} failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split('\t');
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .collect())
}

/// Calls `once` (which times its own process and returns its wall time) twice to warm up,
/// then until the timed calls add up to `seconds`; at least 5 timed calls.
fn time_processes(
    seconds: f64,
    mut once: impl FnMut() -> Result<Duration>,
) -> Result<Vec<Duration>> {
    once()?;
    once()?;
    let mut samples = Vec::new();
    let mut busy = Duration::ZERO;
    while busy.as_secs_f64() < seconds || samples.len() < 5 {
        let took = once()?;
        busy += took;
        samples.push(took);
    }
    Ok(samples)
}

/// Same keys as the example's `print_latencies`.
fn put_latencies(results: &mut Results, name: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let n = samples.len().max(1);
    let total: Duration = samples.iter().sum();
    let mean = total.as_secs_f64() / n as f64;
    let us = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e6);
    let mut put = |k: &str, v: String| {
        results.insert(format!("{name}.{k}"), v);
    };
    put("n", samples.len().to_string());
    put("rate", format!("{:.1}", 1.0 / mean.max(1e-9)));
    put("mean_us", format!("{:.1}", mean * 1e6));
    put("p50_us", format!("{:.1}", us(samples.get(n / 2))));
    put("p99_us", format!("{:.1}", us(samples.get(n * 99 / 100))));
    put("max_us", format!("{:.1}", us(samples.last())));
}

fn curl_version() -> std::result::Result<String, String> {
    let out = Command::new("curl")
        .arg("--version")
        .output()
        .map_err(|e| {
            format!("curl not found on PATH ({e}); install it with 'apt-get install curl'")
        })?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" "))
}

/// One `curl` POST of an assertion signed before the clock starts; fails unless 200.
fn curl_once(bench: &Bench) -> Result<Duration> {
    let assertion = bench
        .signer
        .sign(&Claims::new(ISSUER, SUB, bench.audience.as_str()))?;
    let mut form = std::ffi::OsString::from("@");
    form.push(&bench.form_file);
    let t0 = Instant::now();
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-d"])
        .arg(&form)
        .args(["-d", &format!("assertion={assertion}"), &bench.endpoint])
        .output()
        .context("cannot run curl")?;
    let took = t0.elapsed();
    let code = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || code != "200" {
        bail!(
            "curl got HTTP {code} ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(took)
}

/// Node and the seed issuer's packages, installed on demand.
fn seed_ready(root: &Path) -> std::result::Result<(), String> {
    Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node not found on PATH ({e})"))?;
    if Command::new("curl").arg("--version").output().is_err() {
        return Err("curl not found on PATH".into());
    }
    let _ = root;
    crate::e2e::npm_ci().map_err(|e| format!("{e:#}"))
}

/// The seed's flow as a shell runs it: `a=$(node issue.js ...)` then `curl -d assertion=$a`.
/// The values go in as positional parameters, so nothing is quoted into the script.
fn seed_once(root: &Path, bench: &Bench) -> Result<Duration> {
    let script = r#"a=$(node issue.js --key "$1" --iss "$2" --sub "$3" --aud "$4") && exec curl -sS -o /dev/null -w '%{http_code}' -d "@$5" -d "assertion=$a" "$6""#;
    let t0 = Instant::now();
    let out = Command::new("sh")
        .args(["-c", script, "seed"])
        .arg(&bench.key)
        .args([ISSUER, SUB, &bench.audience])
        .arg(&bench.form_file)
        .arg(&bench.endpoint)
        .current_dir(root.join("tests/node"))
        .output()
        .context("cannot run sh")?;
    let took = t0.elapsed();
    let code = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || code != "200" {
        bail!(
            "the seed's flow got HTTP {code} ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(took)
}

/// One whole `jwtgrant token` process: read the key, sign, exchange, print the token.
fn jwtgrant_once(bench: &Bench, jwtgrant: &Path) -> Result<Duration> {
    let t0 = Instant::now();
    let out = Command::new(jwtgrant)
        .arg("token")
        .arg("--key")
        .arg(&bench.key)
        .args(["--iss", ISSUER, "--sub", SUB, "--keycloak", &bench.url])
        .args(["--realm", REALM, "--client-id", CLIENT_ID])
        .env("JWTGRANT_CLIENT_SECRET", &bench.secret)
        .stdout(Stdio::null())
        .output()
        .context("cannot run jwtgrant")?;
    let took = t0.elapsed();
    if !out.status.success() {
        bail!(
            "jwtgrant token failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(took)
}

/// The token lifespan for a fleet run of `seconds`: four lifetimes fit, and never below
/// 10 s (the fleet's refresh margin must stay well inside it).
fn fleet_lifespan(seconds: f64) -> u64 {
    ((seconds / 4.0).floor() as u64).max(10)
}

/// Refresh this long before expiry in the fleet (short, so each token serves most of its life).
const FLEET_MARGIN_S: u64 = 2;

fn fleet(opts: &Options, admin: &AdminSession, bench: &Bench, results: &mut Results) -> Result<()> {
    let lifespan = fleet_lifespan(opts.fleet_seconds);
    eprintln!(
        "bench: fleet of {} processes x {} threads for {} s, tokens living {lifespan} s",
        opts.processes, opts.fleet_threads, opts.fleet_seconds
    );
    admin.set_access_token_lifespan(REALM, Duration::from_secs(lifespan))?;
    let secs = format!("{}", opts.fleet_seconds);
    let threads = opts.fleet_threads.to_string();
    let margin = FLEET_MARGIN_S.to_string();
    let interval = opts.fleet_interval_us.to_string();
    let args = [
        "--seconds",
        secs.as_str(),
        "--threads",
        threads.as_str(),
        "--margin",
        margin.as_str(),
        "--interval-us",
        interval.as_str(),
    ];
    let children = (0..opts.processes)
        .map(|_| {
            example_command(bench, "fleet", &args)
                .stdout(Stdio::piped())
                .spawn()
                .context("cannot start a fleet process")
        })
        .collect::<Result<Vec<_>>>()?;
    let outputs = children
        .into_iter()
        .map(|c| collect(c, "fleet"))
        .collect::<Result<Vec<_>>>();
    admin.set_access_token_lifespan(REALM, Duration::from_secs(300))?;
    let outputs = outputs?;

    let mut hist: BTreeMap<u64, u64> = BTreeMap::new();
    let (mut exchanges, mut calls, mut errors, mut max_ns, mut expected) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut run_s = 0.0f64;
    let mut switches = 0u64;
    let mut times = Vec::new();
    for out in &outputs {
        let get = |k: &str| {
            out.get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        exchanges += get("fleet.exchanges") as u64;
        calls += get("fleet.calls") as u64;
        errors += get("fleet.errors") as u64;
        switches += get("fleet.involuntary_switches") as u64;
        max_ns = max_ns.max(get("fleet.max_ns") as u64);
        let ran = get("fleet.run_s");
        run_s = run_s.max(ran);
        // The first fill, then one refresh every (lifespan - margin) while the process runs.
        expected += 1 + (ran / (lifespan - FLEET_MARGIN_S) as f64).floor() as u64;
        times.push(out.get("fleet.exchange_at_s").cloned().unwrap_or_default());
        for pair in out
            .get("fleet.hist")
            .map(String::as_str)
            .unwrap_or("")
            .split(',')
        {
            if let Some((ns, n)) = pair.split_once(':')
                && let (Ok(ns), Ok(n)) = (ns.parse(), n.parse::<u64>())
            {
                *hist.entry(ns).or_default() += n;
            }
        }
    }
    let quantile = |q: f64| -> u64 {
        let want = ((calls as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (&ns, &n) in &hist {
            seen += n;
            if seen >= want {
                return ns;
            }
        }
        max_ns
    };
    let mut put = |k: &str, v: String| {
        results.insert(format!("fleet.{k}"), v);
    };
    put("processes", opts.processes.to_string());
    put("threads", opts.fleet_threads.to_string());
    put("lifespan_s", lifespan.to_string());
    put("margin_s", FLEET_MARGIN_S.to_string());
    put("run_s", format!("{run_s:.1}"));
    put("exchanges", exchanges.to_string());
    put("expected", expected.to_string());
    put(
        "lifetimes",
        format!("{:.2}", opts.processes as f64 * run_s / lifespan as f64),
    );
    put("calls", calls.to_string());
    put("errors", errors.to_string());
    put("involuntary_switches", switches.to_string());
    put("interval_us", opts.fleet_interval_us.to_string());
    put("p50_ns", quantile(0.50).to_string());
    put("p99_ns", quantile(0.99).to_string());
    put("p999_ns", quantile(0.999).to_string());
    put("max_ns", max_ns.to_string());
    put("exchange_at_s", times.join(" | "));
    Ok(())
}

// ----- the report ------------------------------------------------------------------------

struct Report {
    header: String,
    results: Results,
}

/// A sequential row: key prefix and label.
const SEQUENTIAL: [(&str, &str); 4] = [
    ("keepalive", "one `Exchange`, kept-alive connection"),
    ("newconn", "new `Exchange` (new connection) per exchange"),
    ("curl", "`curl` per exchange, assertion signed beforehand"),
    ("seed", "seed's flow: `sh`, `node issue.js`, then `curl`"),
];

impl Report {
    fn num(&self, key: &str) -> Option<f64> {
        self.results.get(key)?.parse().ok()
    }

    fn ms(&self, key: &str) -> String {
        self.num(key)
            .map_or_else(|| "missing".into(), |us| format!("{:.2}", us / 1000.0))
    }

    fn ratio(&self, a: &str, b: &str) -> Option<f64> {
        match (self.num(a), self.num(b)) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        }
    }

    fn missing(&self, name: &str) -> Option<String> {
        self.results.get(&format!("{name}.missing")).cloned()
    }

    fn markdown(&self, opts: &Options) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.header);
        let _ = writeln!(
            out,
            "- {} s per row after a warm-up; fleet {} s\n",
            opts.seconds, opts.fleet_seconds
        );

        let _ = writeln!(out, "#### Sequential exchanges, one at a time\n");
        let _ = writeln!(
            out,
            "| row | exchanges/s | mean ms | p50 ms | p99 ms | samples | × curl (exchanges/s) |\n|---|---:|---:|---:|---:|---:|---|"
        );
        for (key, label) in SEQUENTIAL {
            if let Some(why) = self.missing(key) {
                let _ = writeln!(out, "| {label} | missing: {why} | | | | | |");
                continue;
            }
            let _ = writeln!(
                out,
                "| {label} | {:.0} | {} | {} | {} | {} | {} |",
                self.num(&format!("{key}.rate")).unwrap_or(0.0),
                self.ms(&format!("{key}.mean_us")),
                self.ms(&format!("{key}.p50_us")),
                self.ms(&format!("{key}.p99_us")),
                self.results
                    .get(&format!("{key}.n"))
                    .map_or("", String::as_str),
                self.ratio(&format!("{key}.rate"), "curl.rate")
                    .map_or_else(String::new, |r| format!("{r:.2}×")),
            );
        }
        if let Some(s) = self.num("sign_us") {
            let _ = writeln!(
                out,
                "\nSigning one RS256 assertion (ring) costs {:.2} ms here; the rows above sign outside the clock.",
                s / 1000.0
            );
        }

        let _ = writeln!(out, "\n#### Whole process: one token, from start to exit\n");
        let _ = writeln!(
            out,
            "| row | mean ms | p50 ms | p99 ms | samples | × seed's flow (mean) |\n|---|---:|---:|---:|---:|---|"
        );
        for (key, label) in [
            ("cli", "`jwtgrant token` (release build)"),
            ("seed", "seed's flow: `sh`, `node issue.js`, then `curl`"),
        ] {
            if let Some(why) = self.missing(key) {
                let _ = writeln!(out, "| {label} | missing: {why} | | | | |");
                continue;
            }
            let _ = writeln!(
                out,
                "| {label} | {} | {} | {} | {} | {} |",
                self.ms(&format!("{key}.mean_us")),
                self.ms(&format!("{key}.p50_us")),
                self.ms(&format!("{key}.p99_us")),
                self.results
                    .get(&format!("{key}.n"))
                    .map_or("", String::as_str),
                self.ratio(&format!("{key}.mean_us"), "seed.mean_us")
                    .map_or_else(String::new, |r| format!("{r:.3}×")),
            );
        }

        let _ = writeln!(
            out,
            "\n#### Concurrency: N threads sharing one `Exchange`, assertions signed beforehand\n"
        );
        let _ = writeln!(
            out,
            "| threads | grants/s | × 1 thread | p50 ms | p99 ms | client CPU µs/grant (kernel) | Keycloak CPU µs/grant | client / Keycloak | with signing | errors |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        let sign = self.num("sign_us").unwrap_or(0.0);
        let mut inline = Vec::new();
        for n in THREADS.split(',') {
            let k = |s: &str| format!("conc.{n}.{s}");
            let client = self.num(&k("client_cpu_us"));
            let kc = self.num(&k("keycloak_cpu_us"));
            let pct = |c: Option<f64>| match (c, kc) {
                (Some(c), Some(kc)) if kc > 0.0 => format!("{:.1}%", 100.0 * c / kc),
                _ => "missing".into(),
            };
            if self.num(&k("signed_inline")).is_some_and(|s| s > 0.0) {
                inline.push(n);
            }
            let _ = writeln!(
                out,
                "| {n} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
                self.num(&k("grants_per_s")).unwrap_or(0.0),
                self.ratio(&k("grants_per_s"), "conc.1.grants_per_s")
                    .map_or_else(String::new, |r| format!("{r:.2}×")),
                self.ms(&k("p50_us")),
                self.ms(&k("p99_us")),
                client.map_or_else(
                    || "missing".into(),
                    |c| format!(
                        "{c:.0} ({:.0})",
                        self.num(&k("client_sys_us")).unwrap_or(0.0)
                    )
                ),
                kc.map_or_else(
                    || "missing (pid unknown: set KEYCLOAK_PID)".into(),
                    |c| format!("{c:.0}")
                ),
                pct(client),
                pct(client.map(|c| c + sign)),
                self.results.get(&k("errors")).map_or("", String::as_str),
            );
        }
        let _ = writeln!(
            out,
            "\nCPU is utime + stime from `/proc` (10 ms ticks) over the measured window: the bench \
             process (all its threads) and every process in Keycloak's process group, divided by \
             the grants finished. The client's row is the exchange alone (form, HTTP on the shared \
             pool, response parsing), in parentheses the part spent in the kernel (stime: \
             loopback TCP); \"with signing\" adds {sign:.0} µs, one RS256 signature on \
             ring measured alone, which a real grant also needs.{}",
            if inline.is_empty() {
                String::new()
            } else {
                format!(
                    " The pool ran dry at {} threads: some of those grants signed inside the loop.",
                    inline.join(", ")
                )
            }
        );

        let g = |k: &str| {
            self.results
                .get(&format!("fleet.{k}"))
                .cloned()
                .unwrap_or_default()
        };
        let us = |k: &str| {
            self.num(&format!("fleet.{k}"))
                .map_or_else(|| "missing".into(), |ns| format!("{:.2}", ns / 1000.0))
        };
        let _ = writeln!(
            out,
            "\n#### Fleet: {} processes × {} threads, one refresh-ahead `TokenSource` per process\n",
            g("processes"),
            g("threads")
        );
        let _ = writeln!(
            out,
            "Access tokens live {} s (realm `accessTokenLifespan`), refresh margin {} s, each thread \
             calls `token()` then sleeps {} µs, for {} s after the first fill. The processes were \
             preempted {} times in all (involuntary context switches).\n",
            g("lifespan_s"),
            g("margin_s"),
            g("interval_us"),
            g("run_s"),
            g("involuntary_switches")
        );
        let _ = writeln!(
            out,
            "| exchanges sent | expected (fill + one per {} s, per process) | P × lifetimes in the run | token() calls | p50 µs | p99 µs | p99.9 µs | max µs | errors |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            self.num("fleet.lifespan_s").unwrap_or(0.0) - self.num("fleet.margin_s").unwrap_or(0.0)
        );
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            g("exchanges"),
            g("expected"),
            g("lifetimes"),
            g("calls"),
            us("p50_ns"),
            us("p99_ns"),
            us("p999_ns"),
            us("max_ns"),
            g("errors"),
        );
        let _ = writeln!(
            out,
            "\nExchanges per process, seconds after its fill: {}. Latencies are bucketed 16 per \
             power of two; a percentile is its bucket's upper end (at most 6% high).",
            g("exchange_at_s")
        );

        let _ = writeln!(out, "\n#### Targets (issue 13)\n");
        let _ = writeln!(out, "| target | measured | met |\n|---|---|---|");
        let best_pct = THREADS
            .split(',')
            .filter_map(|n| {
                let c = self.num(&format!("conc.{n}.client_cpu_us"))?;
                let k = self.num(&format!("conc.{n}.keycloak_cpu_us"))?;
                (k > 0.0).then(|| (n.to_owned(), 100.0 * c / k, 100.0 * (c + sign) / k))
            })
            .collect::<Vec<_>>();
        let cpu = best_pct
            .iter()
            .map(|(n, alone, signed)| format!("{n}: {alone:.1}% ({signed:.1}% with signing)"))
            .collect::<Vec<_>>()
            .join("; ");
        let met = |ok: Option<bool>| match ok {
            Some(true) => "yes",
            Some(false) => "no",
            None => "not measured",
        };
        let cpu_ok = (!best_pct.is_empty()).then(|| best_pct.iter().all(|(_, w, _)| *w <= 5.0));
        let _ = writeln!(
            out,
            "| client CPU per grant ≤ 5% of Keycloak's (exchange alone) | by threads, {} | {} |",
            if cpu.is_empty() {
                "missing".into()
            } else {
                cpu
            },
            met(cpu_ok)
        );
        let keep = self.ratio("keepalive.rate", "curl.rate");
        let _ = writeln!(
            out,
            "| kept-alive `Exchange` ≥ 1.5× `curl` per exchange | {} | {} |",
            keep.map_or_else(|| "missing".into(), |r| format!("{r:.2}×")),
            met(keep.map(|r| r >= 1.5))
        );
        let whole = self.ratio("cli.mean_us", "seed.mean_us");
        let _ = writeln!(
            out,
            "| `jwtgrant token` ≤ 1/5 of the seed's flow | {} | {} |",
            whole.map_or_else(
                || "missing".into(),
                |r| format!("{r:.3}× (1/{:.1})", 1.0 / r)
            ),
            met(whole.map(|r| r <= 0.2))
        );
        let exact = g("exchanges") == g("expected") && !g("exchanges").is_empty();
        let p99 = self.num("fleet.p99_ns");
        let _ = writeln!(
            out,
            "| fleet: P exchanges per lifetime, `token()` p99 < 1 µs | {} sent, {} expected; p99 {} µs | {} |",
            g("exchanges"),
            g("expected"),
            us("p99_ns"),
            met(p99.map(|p| exact && p < 1000.0))
        );
        out
    }

    fn text(&self) -> String {
        let mut out = String::from("\nKeycloak\n");
        for (k, v) in &self.results {
            if k != "fleet.exchange_at_s" {
                let _ = writeln!(out, "  {k:<32} {v}");
            }
        }
        out
    }

    /// Horizontal bars: median latency of each sequential and whole-process row (p99 as a
    /// thin mark), then grants per second by thread count. Plain SVG, no script, no fonts
    /// beyond the reader's sans-serif.
    fn svg(&self) -> String {
        let mut latency: Vec<(String, f64, f64)> = Vec::new();
        for (key, label) in [
            ("keepalive", "Exchange, kept alive"),
            ("newconn", "Exchange, new connection"),
            ("curl", "curl, pre-signed"),
            ("cli", "jwtgrant token process"),
            ("seed", "seed: node + curl"),
        ] {
            if let (Some(p50), Some(p99)) = (
                self.num(&format!("{key}.p50_us")),
                self.num(&format!("{key}.p99_us")),
            ) {
                latency.push((label.to_owned(), p50 / 1000.0, p99 / 1000.0));
            }
        }
        let grants: Vec<(String, f64)> = THREADS
            .split(',')
            .filter_map(|n| {
                Some((
                    format!("{n} thread{}", if n == "1" { "" } else { "s" }),
                    self.num(&format!("conc.{n}.grants_per_s"))?,
                ))
            })
            .collect();
        // The chart's caption: where and when, from the report header's first two lines.
        let caption = self
            .header
            .lines()
            .take(2)
            .map(|l| l.trim_start_matches("- "))
            .collect::<Vec<_>>()
            .join(", ");
        chart(&latency, &grants, &caption)
    }
}

/// The chart's markup; see [`Report::svg`].
fn chart(latency: &[(String, f64, f64)], grants: &[(String, f64)], caption: &str) -> String {
    const W: f64 = 720.0;
    const LABEL: f64 = 190.0;
    const BAR: f64 = 18.0;
    const GAP: f64 = 8.0;
    let plot = W - LABEL - 90.0;
    let rows = (latency.len() + grants.len()) as f64;
    let height = 40.0 + 2.0 * 34.0 + rows * (BAR + GAP) + 56.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height:.0}" viewBox="0 0 {W} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let mut y = 24.0;
    let _ = writeln!(
        s,
        r#"<text x="10" y="{y}" font-size="14" font-weight="bold">One token from Keycloak: median ms (bar), p99 (mark); log scale</text>"#
    );
    y += 16.0;
    // Latencies span two orders of magnitude: a log scale keeps the kept-alive row visible.
    let max = latency.iter().map(|r| r.2.max(r.1)).fold(1.0f64, f64::max);
    let lo = 0.1f64;
    let scale = |v: f64| plot * ((v.max(lo) / lo).ln() / (max * 1.2 / lo).ln());
    // Decade grid lines, so the log scale reads as one.
    let top = y - 4.0;
    let bottom = y + latency.len() as f64 * (BAR + GAP);
    for ms in [1.0, 10.0, 100.0, 1000.0] {
        if ms > max * 1.2 {
            break;
        }
        let x = LABEL + scale(ms);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{top:.0}" y2="{bottom:.0}" stroke="#cccccc"/><text x="{x:.1}" y="{:.0}" text-anchor="middle" fill="#666666" font-size="10">{ms} ms</text>"##,
            bottom + 10.0
        );
    }
    for (label, p50, p99) in latency {
        let w = scale(*p50);
        let m = LABEL + scale(*p99);
        let _ = writeln!(
            s,
            r##"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text><rect x="{LABEL}" y="{y:.0}" width="{w:.1}" height="{BAR}" fill="#4878a8"/><line x1="{m:.1}" x2="{m:.1}" y1="{:.0}" y2="{:.0}" stroke="#c04040" stroke-width="2"/><text x="{:.1}" y="{:.0}">{p50:.2} ms</text>"##,
            LABEL - 8.0,
            y + 13.0,
            escape(label),
            y - 2.0,
            y + BAR + 2.0,
            LABEL + w.max(scale(*p99)) + 6.0,
            y + 13.0,
        );
        y += BAR + GAP;
    }
    y += 40.0;
    let _ = writeln!(
        s,
        r#"<text x="10" y="{y}" font-size="14" font-weight="bold">Threads sharing one Exchange: grants per second</text>"#
    );
    y += 16.0;
    let max = grants.iter().map(|g| g.1).fold(1.0f64, f64::max);
    for (label, rate) in grants {
        let w = plot * rate / (max * 1.1);
        let _ = writeln!(
            s,
            r##"<text x="{:.0}" y="{:.0}" text-anchor="end">{label}</text><rect x="{LABEL}" y="{y:.0}" width="{w:.1}" height="{BAR}" fill="#58a058"/><text x="{:.1}" y="{:.0}">{rate:.0}/s</text>"##,
            LABEL - 8.0,
            y + 13.0,
            LABEL + w + 6.0,
            y + 13.0,
        );
        y += BAR + GAP;
    }
    let _ = writeln!(
        s,
        r##"<text x="10" y="{:.0}" fill="#666666" font-size="11">{}</text>"##,
        y + 16.0,
        escape(caption)
    );
    s.push_str("</svg>\n");
    s
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const BEGIN: &str = "<!-- bench-keycloak:begin (written by cargo xtask bench --keycloak) -->";
const END: &str = "<!-- bench-keycloak:end -->";

/// Replaces the generated block of `docs/benchmarks.md` (between the markers) with `block`,
/// and writes the chart beside it.
fn update_docs(root: &Path, block: &str, svg: &str) -> Result<()> {
    let path = root.join("docs/benchmarks.md");
    let doc =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let new = replace_block(&doc, block).with_context(|| {
        format!(
            "{} has no '{BEGIN}' ... '{END}' block to replace",
            path.display()
        )
    })?;
    fs::write(&path, new)?;
    fs::write(root.join("docs/bench-keycloak.svg"), svg)?;
    eprintln!("bench: updated docs/benchmarks.md and docs/bench-keycloak.svg");
    Ok(())
}

fn replace_block(doc: &str, block: &str) -> Option<String> {
    let start = doc.find(BEGIN)? + BEGIN.len();
    let end = start + doc[start..].find(END)?;
    Some(format!(
        "{}\n{}\n{}",
        &doc[..start],
        block.trim_end(),
        &doc[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_generated_block() {
        let doc = format!("intro\n{BEGIN}\nold\n{END}\noutro\n");
        let new = replace_block(&doc, "new table\n").expect("block");
        assert_eq!(new, format!("intro\n{BEGIN}\nnew table\n{END}\noutro\n"));
        assert!(replace_block("no markers", "x").is_none());
    }

    #[test]
    fn chart_has_a_bar_per_row_and_escapes_text() {
        let svg = chart(
            &[("a <b>".into(), 2.0, 9.0), ("c".into(), 150.0, 300.0)],
            &[("1 thread".into(), 300.0)],
            "date & place",
        );
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert_eq!(
            svg.matches("<rect ").count(),
            1 + 2 + 1,
            "background + bars"
        );
        assert!(svg.contains("a &lt;b&gt;") && svg.contains("date &amp; place"));
        assert!(
            svg.contains(">100 ms<"),
            "decade grid lines up to the largest value"
        );
    }

    #[test]
    fn fleet_lifespan_fits_four_lifetimes_and_stays_above_ten_seconds() {
        for (run, lifespan) in [(60.0, 15), (24.0, 10), (2.0, 10), (100.0, 25)] {
            assert_eq!(fleet_lifespan(run), lifespan, "run of {run} s");
        }
    }
}
