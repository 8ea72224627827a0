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
use jwtgrant_bench::{ConcurrencyReport, FleetReport, Latencies, SequentialReport};
use jwtgrant_keycloak::admin::{
    AdminSession, ClientAuthenticator, IdpKey, JwtClient, JwtIdp, UserSpec,
};
use jwtgrant_keycloak::{realm_url, token_endpoint};
use jwtgrant_signer::{Claims, Signer};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bench::Measured;
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
    let program = target.join("release/bench_keycloak");
    let jwtgrant = target.join("release/jwtgrant");
    for path in [&program, &jwtgrant] {
        if !path.exists() {
            bail!(
                "'{}' is missing (run 'cargo xtask bench --keycloak' without --no-build)",
                path.display()
            );
        }
    }
    let server = keycloak::ensure_running(&StartOptions {
        port: opts.port,
        ..StartOptions::default()
    })?;
    let result = measure(opts, &root, &server, &program, &jwtgrant, machine_header);
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
    /// The `bench_keycloak` binary.
    program: PathBuf,
    pgid: Option<u32>,
}

fn measure(
    opts: &Options,
    root: &Path,
    server: &keycloak::Server,
    program: &Path,
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
    let bench = provision(&admin, server, &work, program)?;
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
    program: &Path,
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
        program: program.to_owned(),
        pgid,
    })
}

/// Everything the Keycloak section measured, from every program of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Results {
    sequential: SequentialReport,
    /// `curl --version`'s first two words, when curl is there.
    curl_version: Option<String>,
    curl: Measured<Latencies>,
    seed: Measured<Latencies>,
    cli: Latencies,
    concurrency: ConcurrencyReport,
    fleet: Fleet,
}

/// A row of [`Latencies`] in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    KeepAlive,
    NewConn,
    Curl,
    Seed,
    Cli,
}

impl Results {
    /// The latencies of `row`, or why it was not measured.
    fn latencies(&self, row: Row) -> std::result::Result<&Latencies, &str> {
        match row {
            Row::KeepAlive => Ok(&self.sequential.keepalive),
            Row::NewConn => Ok(&self.sequential.newconn),
            Row::Curl => self.curl.as_ref().map_err(String::as_str),
            Row::Seed => self.seed.as_ref().map_err(String::as_str),
            Row::Cli => Ok(&self.cli),
        }
    }

    /// `f` of `row` over `f` of `base`, when both were measured and `base`'s is not zero.
    fn ratio(&self, row: Row, base: Row, f: impl Fn(&Latencies) -> f64) -> Option<f64> {
        let (a, b) = (self.latencies(row).ok()?, self.latencies(base).ok()?);
        (f(b) > 0.0).then(|| f(a) / f(b))
    }
}

fn rows(
    opts: &Options,
    root: &Path,
    admin: &AdminSession,
    bench: &Bench,
    jwtgrant: &Path,
) -> Result<Results> {
    let secs = format!("{}", opts.seconds);

    // Keycloak compiles its hot paths as they run: the first row would otherwise pay for it.
    eprintln!("bench: warming Keycloak up ({secs} s of exchanges on 2 threads, not reported)");
    let _: ConcurrencyReport = program(
        bench,
        "concurrency",
        &["--seconds", &secs, "--threads", "2"],
    )?;

    eprintln!("bench: sequential exchanges in one process ({secs} s per row)");
    let sequential = program(bench, "sequential", &["--seconds", &secs])?;

    eprintln!("bench: curl per exchange, assertion signed beforehand");
    let (curl_version, curl) = match curl_version() {
        Ok(v) => {
            let mut samples = time_processes(opts.seconds, || curl_once(bench))?;
            (Some(v), Ok(Latencies::from_samples(&mut samples)))
        }
        Err(why) => (None, Err(why)),
    };

    eprintln!("bench: the seed's flow (node issue.js, then curl)");
    let seed = match seed_ready(root) {
        Ok(()) => {
            let mut samples = time_processes(opts.seconds, || seed_once(root, bench))?;
            Ok(Latencies::from_samples(&mut samples))
        }
        Err(why) => Err(why),
    };

    eprintln!("bench: jwtgrant token, whole process");
    let mut samples = time_processes(opts.seconds, || jwtgrant_once(bench, jwtgrant))?;
    let cli = Latencies::from_samples(&mut samples);

    eprintln!("bench: concurrency {THREADS} threads, one Exchange ({secs} s each)");
    let mut args = vec!["--seconds", &secs, "--threads", THREADS];
    let pgid = bench.pgid.map(|p| p.to_string());
    if let Some(p) = &pgid {
        args.extend(["--keycloak-pgid", p]);
    }
    let concurrency = program(bench, "concurrency", &args)?;

    let fleet = fleet(opts, admin, bench)?;
    Ok(Results {
        sequential,
        curl_version,
        curl,
        seed,
        cli,
        concurrency,
        fleet,
    })
}

/// Runs `bench_keycloak` in `mode` and reads its report.
fn program<T: DeserializeOwned>(bench: &Bench, mode: &str, extra: &[&str]) -> Result<T> {
    let child = program_command(bench, mode, extra)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start '{}'", bench.program.display()))?;
    collect(child, mode)
}

fn program_command(bench: &Bench, mode: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(&bench.program);
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

fn collect<T: DeserializeOwned>(child: std::process::Child, mode: &str) -> Result<T> {
    let out = child.wait_with_output()?;
    crate::bench::report(&out, &format!("bench_keycloak {mode}"))
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

fn fleet(opts: &Options, admin: &AdminSession, bench: &Bench) -> Result<Fleet> {
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
            program_command(bench, "fleet", &args)
                .stdout(Stdio::piped())
                .spawn()
                .context("cannot start a fleet process")
        })
        .collect::<Result<Vec<_>>>()?;
    let outputs = children
        .into_iter()
        .map(|c| collect(c, "fleet"))
        .collect::<Result<Vec<FleetReport>>>();
    admin.set_access_token_lifespan(REALM, Duration::from_secs(300))?;
    Ok(Fleet::merge(opts, lifespan, &outputs?))
}

/// The fleet's processes together.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Fleet {
    processes: usize,
    threads: usize,
    lifespan_s: u64,
    margin_s: u64,
    interval_us: u64,
    /// The longest run of a process after its fill.
    run_s: f64,
    exchanges: u64,
    /// Each process's fill, then one refresh every (lifespan - margin) while it runs.
    expected: u64,
    calls: u64,
    errors: u64,
    involuntary_switches: u64,
    p50_ns: u64,
    p99_ns: u64,
    p999_ns: u64,
    max_ns: u64,
    /// Per process: when each exchange was sent, in seconds after its fill.
    exchange_at_s: Vec<Vec<f64>>,
}

impl Fleet {
    /// Adds up the processes' reports and merges their histograms.
    fn merge(opts: &Options, lifespan: u64, reports: &[FleetReport]) -> Fleet {
        let mut hist: BTreeMap<u64, u64> = BTreeMap::new();
        let mut fleet = Fleet {
            processes: opts.processes,
            threads: opts.fleet_threads,
            lifespan_s: lifespan,
            margin_s: FLEET_MARGIN_S,
            interval_us: opts.fleet_interval_us,
            run_s: 0.0,
            exchanges: 0,
            expected: 0,
            calls: 0,
            errors: 0,
            involuntary_switches: 0,
            p50_ns: 0,
            p99_ns: 0,
            p999_ns: 0,
            max_ns: 0,
            exchange_at_s: Vec::new(),
        };
        for report in reports {
            fleet.exchanges += report.exchanges();
            fleet.calls += report.calls;
            fleet.errors += report.errors;
            fleet.involuntary_switches += report.involuntary_switches.unwrap_or(0);
            fleet.max_ns = fleet.max_ns.max(report.max_ns);
            fleet.run_s = fleet.run_s.max(report.run_s);
            fleet.expected +=
                1 + (report.run_s / (lifespan - FLEET_MARGIN_S) as f64).floor() as u64;
            fleet.exchange_at_s.push(report.exchange_at_s.clone());
            for bucket in &report.hist {
                *hist.entry(bucket.upper_ns).or_default() += bucket.count;
            }
        }
        let (calls, max_ns) = (fleet.calls, fleet.max_ns);
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
        (fleet.p50_ns, fleet.p99_ns, fleet.p999_ns) =
            (quantile(0.50), quantile(0.99), quantile(0.999));
        fleet
    }

    /// Token lifetimes the processes lived through, all together.
    fn lifetimes(&self) -> f64 {
        self.processes as f64 * self.run_s / self.lifespan_s as f64
    }
}

// ----- the report ------------------------------------------------------------------------

struct Report {
    header: String,
    results: Results,
}

/// A sequential row and its label.
const SEQUENTIAL: [(Row, &str); 4] = [
    (Row::KeepAlive, "one `Exchange`, kept-alive connection"),
    (Row::NewConn, "new `Exchange` (new connection) per exchange"),
    (
        Row::Curl,
        "`curl` per exchange, assertion signed beforehand",
    ),
    (Row::Seed, "seed's flow: `sh`, `node issue.js`, then `curl`"),
];

/// Microseconds as milliseconds, two decimals.
fn ms(us: f64) -> String {
    format!("{:.2}", us / 1000.0)
}

impl Report {
    fn markdown(&self, opts: &Options) -> String {
        let r = &self.results;
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
        for (row, label) in SEQUENTIAL {
            let l = match r.latencies(row) {
                Ok(l) => l,
                Err(why) => {
                    let _ = writeln!(out, "| {label} | missing: {why} | | | | | |");
                    continue;
                }
            };
            let _ = writeln!(
                out,
                "| {label} | {:.0} | {} | {} | {} | {} | {} |",
                l.rate,
                ms(l.mean_us),
                ms(l.p50_us),
                ms(l.p99_us),
                l.n,
                r.ratio(row, Row::Curl, |l| l.rate)
                    .map_or_else(String::new, |r| format!("{r:.2}×")),
            );
        }
        // One signature's cost, as the concurrency run measured it (the last of the run).
        let sign = r.concurrency.sign_us;
        let _ = writeln!(
            out,
            "\nSigning one RS256 assertion (ring) costs {:.2} ms here; the rows above sign outside the clock.",
            sign / 1000.0
        );

        let _ = writeln!(out, "\n#### Whole process: one token, from start to exit\n");
        let _ = writeln!(
            out,
            "| row | mean ms | p50 ms | p99 ms | samples | × seed's flow (mean) |\n|---|---:|---:|---:|---:|---|"
        );
        for (row, label) in [
            (Row::Cli, "`jwtgrant token` (release build)"),
            (Row::Seed, "seed's flow: `sh`, `node issue.js`, then `curl`"),
        ] {
            let l = match r.latencies(row) {
                Ok(l) => l,
                Err(why) => {
                    let _ = writeln!(out, "| {label} | missing: {why} | | | | |");
                    continue;
                }
            };
            let _ = writeln!(
                out,
                "| {label} | {} | {} | {} | {} | {} |",
                ms(l.mean_us),
                ms(l.p50_us),
                ms(l.p99_us),
                l.n,
                r.ratio(row, Row::Seed, |l| l.mean_us)
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
        let one = r
            .concurrency
            .run(1)
            .map(|run| run.grants_per_s)
            .filter(|g| *g > 0.0);
        let mut inline = Vec::new();
        for run in &r.concurrency.runs {
            let pct = |c: f64| match run.keycloak_cpu_us {
                Some(kc) if kc > 0.0 => format!("{:.1}%", 100.0 * c / kc),
                _ => "missing".into(),
            };
            if run.signed_inline > 0 {
                inline.push(run.threads.to_string());
            }
            let _ = writeln!(
                out,
                "| {} | {:.0} | {} | {} | {} | {:.0} ({:.0}) | {} | {} | {} | {} |",
                run.threads,
                run.grants_per_s,
                one.map_or_else(String::new, |one| format!("{:.2}×", run.grants_per_s / one)),
                ms(run.latencies.p50_us),
                ms(run.latencies.p99_us),
                run.client_cpu_us,
                run.client_sys_us,
                run.keycloak_cpu_us.map_or_else(
                    || "missing (pid unknown: set KEYCLOAK_PID)".into(),
                    |c| format!("{c:.0}")
                ),
                pct(run.client_cpu_us),
                pct(run.client_cpu_us + sign),
                run.errors,
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

        let f = &r.fleet;
        let us = |ns: u64| format!("{:.2}", ns as f64 / 1000.0);
        let _ = writeln!(
            out,
            "\n#### Fleet: {} processes × {} threads, one refresh-ahead `TokenSource` per process\n",
            f.processes, f.threads
        );
        let _ = writeln!(
            out,
            "Access tokens live {} s (realm `accessTokenLifespan`), refresh margin {} s, each thread \
             calls `token()` then sleeps {} µs, for {:.1} s after the first fill. The processes were \
             preempted {} times in all (involuntary context switches).\n",
            f.lifespan_s, f.margin_s, f.interval_us, f.run_s, f.involuntary_switches
        );
        let _ = writeln!(
            out,
            "| exchanges sent | expected (fill + one per {} s, per process) | P × lifetimes in the run | token() calls | p50 µs | p99 µs | p99.9 µs | max µs | errors |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f.lifespan_s.saturating_sub(f.margin_s)
        );
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {} | {} | {} | {} | {} | {} |",
            f.exchanges,
            f.expected,
            f.lifetimes(),
            f.calls,
            us(f.p50_ns),
            us(f.p99_ns),
            us(f.p999_ns),
            us(f.max_ns),
            f.errors,
        );
        let at: Vec<String> = f
            .exchange_at_s
            .iter()
            .map(|times| {
                let times: Vec<String> = times.iter().map(|t| format!("{t:.2}")).collect();
                times.join(",")
            })
            .collect();
        let _ = writeln!(
            out,
            "\nExchanges per process, seconds after its fill: {}. Latencies are bucketed 16 per \
             power of two; a percentile is its bucket's upper end (at most 6% high).",
            at.join(" | ")
        );

        let _ = writeln!(out, "\n#### Targets (issue 13)\n");
        let _ = writeln!(out, "| target | measured | met |\n|---|---|---|");
        let best_pct = r
            .concurrency
            .runs
            .iter()
            .filter_map(|run| {
                let (c, k) = (run.client_cpu_us, run.keycloak_cpu_us?);
                (k > 0.0).then(|| (run.threads, 100.0 * c / k, 100.0 * (c + sign) / k))
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
        let keep = r.ratio(Row::KeepAlive, Row::Curl, |l| l.rate);
        let _ = writeln!(
            out,
            "| kept-alive `Exchange` ≥ 1.5× `curl` per exchange | {} | {} |",
            keep.map_or_else(|| "missing".into(), |r| format!("{r:.2}×")),
            met(keep.map(|r| r >= 1.5))
        );
        let whole = r.ratio(Row::Cli, Row::Seed, |l| l.mean_us);
        let _ = writeln!(
            out,
            "| `jwtgrant token` ≤ 1/5 of the seed's flow | {} | {} |",
            whole.map_or_else(
                || "missing".into(),
                |r| format!("{r:.3}× (1/{:.1})", 1.0 / r)
            ),
            met(whole.map(|r| r <= 0.2))
        );
        let _ = writeln!(
            out,
            "| fleet: P exchanges per lifetime, `token()` p99 < 1 µs | {} sent, {} expected; p99 {} µs | {} |",
            f.exchanges,
            f.expected,
            us(f.p99_ns),
            met(Some(f.exchanges == f.expected && f.p99_ns < 1000))
        );
        out
    }

    /// Everything measured, for the terminal: one `name value` line per number, named by
    /// the fields of [`Results`] (the per-process exchange times are left out, they are in
    /// the markdown).
    fn text(&self) -> String {
        let mut out = String::from("\nKeycloak\n");
        match serde_json::to_value(&self.results) {
            Ok(value) => flatten(&mut out, "", &value),
            Err(e) => {
                let _ = writeln!(out, "  (cannot show the results: {e})");
            }
        }
        out
    }

    /// Horizontal bars: median latency of each sequential and whole-process row (p99 as a
    /// thin mark), then grants per second by thread count. Plain SVG, no script, no fonts
    /// beyond the reader's sans-serif.
    fn svg(&self) -> String {
        let latency: Vec<(String, f64, f64)> = [
            (Row::KeepAlive, "Exchange, kept alive"),
            (Row::NewConn, "Exchange, new connection"),
            (Row::Curl, "curl, pre-signed"),
            (Row::Cli, "jwtgrant token process"),
            (Row::Seed, "seed: node + curl"),
        ]
        .into_iter()
        .filter_map(|(row, label)| {
            let l = self.results.latencies(row).ok()?;
            Some((label.to_owned(), l.p50_us / 1000.0, l.p99_us / 1000.0))
        })
        .collect();
        let grants: Vec<(String, f64)> = self
            .results
            .concurrency
            .runs
            .iter()
            .map(|run| {
                let n = run.threads;
                (
                    format!("{n} thread{}", if n == 1 { "" } else { "s" }),
                    run.grants_per_s,
                )
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

/// The leaves of `value` as `  path value` lines under `path`: numbers with a fraction to one
/// decimal, a [`Measured`] row's `Ok` as the row itself and its `Err` as `path.missing`,
/// nothing for `null` (not measured) or for `fleet.exchange_at_s`.
fn flatten(out: &mut String, path: &str, value: &serde_json::Value) {
    use serde_json::Value;
    let child = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Null => {}
        _ if path == "fleet.exchange_at_s" => {}
        Value::Object(map) if map.len() == 1 && map.contains_key("Ok") => {
            flatten(out, path, &map["Ok"]);
        }
        Value::Object(map) if map.len() == 1 && map.contains_key("Err") => {
            flatten(out, &child("missing"), &map["Err"]);
        }
        Value::Object(map) => {
            for (key, v) in map {
                flatten(out, &child(key), v);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(out, &child(&i.to_string()), v);
            }
        }
        Value::String(s) => {
            let _ = writeln!(out, "  {path:<32} {s}");
        }
        Value::Number(n) => match n.as_f64().filter(|_| n.is_f64()) {
            Some(f) => {
                let _ = writeln!(out, "  {path:<32} {f:.1}");
            }
            None => {
                let _ = writeln!(out, "  {path:<32} {n}");
            }
        },
        Value::Bool(b) => {
            let _ = writeln!(out, "  {path:<32} {b}");
        }
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

    fn opts() -> Options {
        Options {
            seconds: 3.0,
            port: 8080,
            fleet_seconds: 60.0,
            processes: 4,
            fleet_threads: 8,
            fleet_interval_us: 1000,
            build: true,
        }
    }

    fn latencies(json: &str) -> Latencies {
        jwtgrant_bench::parse(json.as_bytes()).expect("latencies")
    }

    /// A run's results, from reports as `bench_keycloak` prints them; without Node and
    /// Keycloak's pgid when `missing`.
    fn sample(missing: bool) -> Results {
        let sequential: SequentialReport = jwtgrant_bench::parse(
            br#"{"keepalive":{"n":1000,"rate":400.0,"mean_us":2500.0,"p50_us":2400.0,"p99_us":4100.0,"max_us":9000.0},"newconn":{"n":500,"rate":200.0,"mean_us":5000.0,"p50_us":4900.0,"p99_us":8000.0,"max_us":12000.0},"sign_us":1100.0}
"#,
        )
        .expect("a sequential report");
        let runs: Vec<String> = [1, 2, 4, 8, 16]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let f = (i + 1) as f64;
                let keycloak = if missing {
                    "null".to_owned()
                } else {
                    format!("{}", 2500.0 + 10.0 * f)
                };
                format!(
                    r#"{{"threads":{n},"grants_per_s":{},"latencies":{{"n":900,"rate":300.0,"mean_us":3000.0,"p50_us":{},"p99_us":{},"max_us":20000.0}},"client_cpu_us":{},"client_sys_us":{},"keycloak_cpu_us":{keycloak},"signed_inline":{},"errors":0}}"#,
                    250.0 * f,
                    2900.0 + f,
                    6100.0 * f,
                    150.0 + f,
                    60.0 + f,
                    if *n == 16 { 5 } else { 0 },
                )
            })
            .collect();
        let concurrency: ConcurrencyReport = jwtgrant_bench::parse(
            format!(r#"{{"sign_us":1234.5,"runs":[{}]}}"#, runs.join(",")).as_bytes(),
        )
        .expect("a concurrency report");
        Results {
            sequential,
            curl_version: Some("curl 7.88.1".into()),
            curl: Ok(latencies(
                r#"{"n":40,"rate":25.0,"mean_us":40000.0,"p50_us":39000.0,"p99_us":52000.0,"max_us":53000.0}"#,
            )),
            seed: if missing {
                Err("node not found on PATH (x)".into())
            } else {
                Ok(latencies(
                    r#"{"n":20,"rate":8.0,"mean_us":125000.0,"p50_us":120000.0,"p99_us":150000.0,"max_us":150000.0}"#,
                ))
            },
            cli: latencies(
                r#"{"n":30,"rate":50.0,"mean_us":20000.0,"p50_us":19000.0,"p99_us":25000.0,"max_us":26000.0}"#,
            ),
            concurrency,
            fleet: Fleet {
                processes: 4,
                threads: 8,
                lifespan_s: 15,
                margin_s: 2,
                interval_us: 1000,
                run_s: 60.0,
                exchanges: 20,
                expected: 20,
                calls: 1_000_000,
                errors: 0,
                involuntary_switches: 42,
                p50_ns: 95,
                p99_ns: 479,
                p999_ns: 2047,
                max_ns: 100_000,
                exchange_at_s: vec![vec![0.0, 13.0, 26.0], vec![0.0, 13.01]],
            },
        }
    }

    #[test]
    fn the_report_reads_the_programs_results() {
        let report = Report {
            header: "- date: x\n- machine: y\n".into(),
            results: sample(false),
        };
        let md = report.markdown(&opts());
        for line in [
            "| one `Exchange`, kept-alive connection | 400 | 2.50 | 2.40 | 4.10 | 1000 | 16.00× |",
            "| `curl` per exchange, assertion signed beforehand | 25 | 40.00 | 39.00 | 52.00 | 40 | 1.00× |",
            "| `jwtgrant token` (release build) | 20.00 | 19.00 | 25.00 | 30 | 0.160× |",
            // The signature's cost is the concurrency run's, in the note and in the columns.
            "Signing one RS256 assertion (ring) costs 1.23 ms here",
            "| 2 | 500 | 2.00× | 2.90 | 12.20 | 152 (62) | 2520 | 6.0% | 55.0% | 0 |",
            "The pool ran dry at 16 threads",
            "| 20 | 20 | 16.00 | 1000000 | 0.10 | 0.48 | 2.05 | 100.00 | 0 |",
            "seconds after its fill: 0.00,13.00,26.00 | 0.00,13.01.",
            "| `jwtgrant token` ≤ 1/5 of the seed's flow | 0.160× (1/6.2) | yes |",
            "| fleet: P exchanges per lifetime, `token()` p99 < 1 µs | 20 sent, 20 expected; p99 0.48 µs | yes |",
        ] {
            assert!(md.contains(line), "no '{line}' in\n{md}");
        }
        let svg = report.svg();
        assert_eq!(
            svg.matches("<rect ").count(),
            1 + 5 + 5,
            "5 latency and 5 thread bars"
        );
        // The terminal dump: one `name value` line per number, as before the typed reports.
        let text = report.text();
        assert!(text.starts_with("\nKeycloak\n"), "{text}");
        for line in [
            format!("  {:<32} 400.0", "sequential.keepalive.rate"),
            format!("  {:<32} 5", "concurrency.runs.4.signed_inline"),
            format!("  {:<32} 2550.0", "concurrency.runs.4.keycloak_cpu_us"),
            format!("  {:<32} 25.0", "curl.rate"),
            format!("  {:<32} curl 7.88.1", "curl_version"),
            format!("  {:<32} 479", "fleet.p99_ns"),
        ] {
            assert!(text.lines().any(|l| l == line), "no '{line}' in\n{text}");
        }
        assert!(!text.contains("exchange_at_s"), "{text}");
    }

    #[test]
    fn the_report_says_what_is_missing() {
        let report = Report {
            header: String::new(),
            results: sample(true),
        };
        let md = report.markdown(&opts());
        for line in [
            "| seed's flow: `sh`, `node issue.js`, then `curl` | missing: node not found on PATH (x) | | | | | |",
            "| `jwtgrant token` (release build) | 20.00 | 19.00 | 25.00 | 30 |  |",
            "| 1 | 250 | 1.00× | 2.90 | 6.10 | 151 (61) | missing (pid unknown: set KEYCLOAK_PID) | missing | missing | 0 |",
            "| client CPU per grant ≤ 5% of Keycloak's (exchange alone) | by threads, missing | not measured |",
            "| `jwtgrant token` ≤ 1/5 of the seed's flow | missing | not measured |",
        ] {
            assert!(md.contains(line), "no '{line}' in\n{md}");
        }
        // In the terminal dump a missing row says why, and what was not measured is absent.
        let text = report.text();
        let seed = format!("  {:<32} node not found on PATH (x)", "seed.missing");
        assert!(text.lines().any(|l| l == seed), "no '{seed}' in\n{text}");
        assert!(!text.contains("keycloak_cpu_us"), "{text}");
        assert!(!text.contains("seed.rate"), "{text}");
    }

    #[test]
    fn the_fleet_adds_up_its_processes() {
        let reports: Vec<FleetReport> = [
            br#"{"fill_us":5100.5,"run_s":60.02,"exchange_at_s":[0.0,13.0,26.01,39.0,52.0],"calls":600,"errors":1,"max_ns":90000,"hist":[{"upper_ns":95,"count":300},{"upper_ns":479,"count":294},{"upper_ns":90111,"count":6}],"involuntary_switches":40,"voluntary_switches":1000}"#.as_slice(),
            br#"{"fill_us":4800.0,"run_s":25.5,"exchange_at_s":[0.0,13.02],"calls":400,"errors":0,"max_ns":200000,"hist":[{"upper_ns":79,"count":100},{"upper_ns":95,"count":299},{"upper_ns":204799,"count":1}],"involuntary_switches":null,"voluntary_switches":null}"#.as_slice(),
        ]
        .iter()
        .map(|line| jwtgrant_bench::parse(line).expect("a fleet report"))
        .collect();
        let fleet = Fleet::merge(&opts(), 15, &reports);
        assert_eq!((fleet.processes, fleet.threads), (4, 8));
        assert_eq!((fleet.exchanges, fleet.calls, fleet.errors), (7, 1000, 1));
        // 60.02 s: the fill and 4 refreshes 13 s apart; 25.5 s: the fill and 1.
        assert_eq!(fleet.expected, 5 + 2);
        assert_eq!((fleet.run_s, fleet.involuntary_switches), (60.02, 40));
        // 1,000 calls: 100 at 79 ns, 599 at 95, 294 at 479, 6 at 90,111, 1 at 204,799.
        assert_eq!(
            (fleet.p50_ns, fleet.p99_ns, fleet.p999_ns, fleet.max_ns),
            (95, 479, 90111, 200_000)
        );
        assert_eq!(fleet.exchange_at_s[1], vec![0.0, 13.02]);
    }
}
