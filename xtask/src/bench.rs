//! `cargo xtask bench [--seconds S] [--no-build]`: signing rates and the token cache's hit path,
//! as ratios measured in one run on this machine.
//!
//! What runs, in order:
//! 1. Release builds of two programs of the bench package (`benches/`, `jwtgrant-bench`):
//!    `bench_sign` twice (ring in `target/bench-ring`, aws-lc-rs in `target/bench-awslc`:
//!    separate target dirs, so the two feature sets never overwrite each other's binary),
//!    `bench_token_source` and `bench_tower` (ring).
//! 2. `bench_sign` on each backend: RS256 (2048-bit key), ES256 and EdDSA, sign and verify;
//!    the ring build (feature `pkcs11`) also signs RS256 and ES256 through a fresh SoftHSM2
//!    token (`softhsm::setup`), on one thread and on four sharing one `Signer`.
//! 3. `openssl speed -seconds S rsa2048`, the RS256 reference; skipped when openssl is missing.
//! 4. The seed's Node issuer, `node tests/node/issue.js --bench N` (after `npm ci` when
//!    `node_modules` is missing), N picked for about S seconds; skipped when node is missing.
//! 5. `bench_token_source`: `TokenSource::token()` hits on 1 and N threads against one
//!    exchange with a loopback stub token endpoint.
//! 6. `bench_tower`: the tower layer's overhead per request (Bearer, DPoP) over an
//!    in-process service, next to a bare loopback request and one ES256 signature.
//!
//! Each bench program prints its report as one line of JSON, a type of `jwtgrant_bench`
//! (`benches/src/lib.rs`), which [`report`] reads back into that type.
//!
//! The table goes to stdout and, as markdown, to `target/bench/report.md`. Nothing here
//! asserts on time: the numbers are for reading, and `docs/benchmarks.md` says how.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use jwtgrant_bench::{SignReport, TokenSourceReport, TowerReport};
use serde::de::DeserializeOwned;

use crate::bench_keycloak;
use crate::util::{cargo, root, run as run_cmd};

const USAGE: &str = "\
usage: cargo xtask bench [--seconds S] [--no-build] [--keycloak [--keycloak-only] [--port P]
                         [--fleet-seconds D] [--processes P] [--fleet-threads T]]

  --keycloak       also measure exchanges against a real Keycloak (KEYCLOAK_URL, or the local
                   server on --port, started when not running) and rewrite the Keycloak block of
                   docs/benchmarks.md and docs/bench-keycloak.svg
  --keycloak-only  skip the signing and stub benches
  --port P         the local Keycloak's HTTP port (default 8080)
  --fleet-seconds  length of the fleet run (default 60; tokens then live 15 s)
  --processes, --fleet-threads   fleet shape (default 4 x 8)
  --fleet-interval-us  each fleet caller's pause between token() calls (default 1000)";

pub fn run(args: &[String]) -> Result<()> {
    let mut seconds = 3.0f64;
    let mut build = true;
    let mut keycloak = false;
    let mut keycloak_only = false;
    let mut kc = bench_keycloak::Options {
        seconds,
        port: crate::keycloak::DEFAULT_PORT,
        fleet_seconds: 60.0,
        processes: 4,
        fleet_threads: 8,
        fleet_interval_us: 1000,
        build,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |what: &str| -> Result<f64> {
            let v = it
                .next()
                .with_context(|| format!("{arg} needs {what} ({USAGE})"))?;
            v.parse()
                .ok()
                .filter(|s: &f64| *s > 0.0 && s.is_finite())
                .with_context(|| format!("{arg} '{v}' is not a positive number"))
        };
        match arg.as_str() {
            "--keycloak" => keycloak = true,
            "--keycloak-only" => {
                keycloak = true;
                keycloak_only = true;
            }
            "--port" => kc.port = value("a port")? as u16,
            "--fleet-seconds" => kc.fleet_seconds = value("seconds")?,
            "--processes" => kc.processes = value("a count")? as usize,
            "--fleet-threads" => kc.fleet_threads = value("a count")? as usize,
            "--fleet-interval-us" => {
                // 0 is allowed: callers then ask back to back.
                let v = it
                    .next()
                    .with_context(|| format!("{arg} needs microseconds"))?;
                kc.fleet_interval_us = v
                    .parse()
                    .with_context(|| format!("{arg} '{v}' is not a whole number"))?;
            }
            "--seconds" => seconds = value("a value")?,
            "--no-build" => build = false,
            "help" | "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument '{other}' ({USAGE})"),
        }
    }

    if keycloak {
        kc.seconds = seconds;
        kc.build = build;
    }
    if !keycloak_only {
        signing(seconds, build)?;
    }
    if keycloak {
        let machine = Machine::probe();
        let started = Instant::now();
        bench_keycloak::run(&kc, &machine.header())?;
        eprintln!(
            "bench: Keycloak section done in {:.0} s; wrote target/bench/keycloak/report.md",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The signing and stub benches (everything but `--keycloak`).
fn signing(seconds: f64, build: bool) -> Result<()> {
    let root = root();
    let ring_dir = root.join("target/bench-ring");
    let awslc_dir = root.join("target/bench-awslc");
    if build {
        build_programs(&ring_dir, &awslc_dir)?;
    }
    let machine = Machine::probe();
    let started = Instant::now();
    let secs = format!("{seconds}");

    // In-memory and SoftHSM2 rows from one process, so their ratio is from the same run.
    let hsm = crate::softhsm::setup()?;
    eprintln!("bench: signing with ring, and through SoftHSM2 ({seconds} s per row, 10 rows)");
    let ring: Result<SignReport> = run_program(
        &ring_dir.join("release/bench_sign"),
        &["--seconds", &secs],
        |cmd| {
            hsm.env(cmd);
        },
    );
    crate::softhsm::cleanup(&hsm);
    let ring = ring?;
    expect_backend(&ring, "ring")?;
    eprintln!("bench: signing with aws-lc-rs ({seconds} s per row, 6 rows)");
    let awslc: SignReport = run_program(
        &awslc_dir.join("release/bench_sign"),
        &["--seconds", &secs],
        |_| {},
    )?;
    expect_backend(&awslc, "aws-lc-rs")?;
    eprintln!("bench: openssl speed rsa2048");
    let openssl = openssl_speed(seconds);
    eprintln!("bench: the seed's Node issuer");
    let node = node_issuer(&root, seconds);
    eprintln!("bench: TokenSource hit path against a loopback stub");
    let source: TokenSourceReport = run_program(
        &ring_dir.join("release/bench_token_source"),
        &["--seconds", &secs],
        |_| {},
    )?;
    eprintln!("bench: the tower layer's overhead per request");
    let tower: TowerReport = run_program(
        &ring_dir.join("release/bench_tower"),
        &["--seconds", &secs],
        |_| {},
    )?;
    let elapsed = started.elapsed();

    let mut rows = rows(&ring, &awslc, &openssl, &node, &source);
    rows.extend(tower_rows(&tower));
    let loadavg_after = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    print!("{}", text_table(&rows));
    let report = markdown(
        &machine,
        &rows,
        seconds,
        elapsed.as_secs_f64(),
        &loadavg_after,
    );
    let out = root.join("target/bench/report.md");
    fs::create_dir_all(out.parent().unwrap_or(&root))?;
    fs::write(&out, report).with_context(|| format!("cannot write '{}'", out.display()))?;
    eprintln!(
        "bench: done in {:.0} s (after the builds); wrote {}",
        elapsed.as_secs_f64(),
        out.display()
    );
    Ok(())
}

fn build_programs(ring_dir: &Path, awslc_dir: &Path) -> Result<()> {
    let target = |dir: &Path| dir.to_string_lossy().into_owned();
    // Each with the features its library would have on its own (see benches/Cargo.toml).
    run_cmd(cargo().args([
        "build",
        "--release",
        "-p",
        "jwtgrant-bench",
        "--bin",
        "bench_sign",
        "--no-default-features",
        // The signer's default features; the SoftHSM2 rates (`SignReport::pkcs11`) come from
        // this build.
        "--features",
        "ring,keygen,pkcs11",
        "--target-dir",
        &target(ring_dir),
    ]))?;
    run_cmd(cargo().args([
        "build",
        "--release",
        "-p",
        "jwtgrant-bench",
        "--bin",
        "bench_sign",
        "--no-default-features",
        "--features",
        "aws-lc-rs,keygen",
        "--target-dir",
        &target(awslc_dir),
    ]))?;
    run_cmd(cargo().args([
        "build",
        "--release",
        "-p",
        "jwtgrant-bench",
        "--bin",
        "bench_token_source",
        "--no-default-features",
        "--features",
        "exchange",
        "--target-dir",
        &target(ring_dir),
    ]))?;
    run_cmd(cargo().args([
        "build",
        "--release",
        "-p",
        "jwtgrant-bench",
        "--bin",
        "bench_tower",
        "--no-default-features",
        "--features",
        "tower",
        "--target-dir",
        &target(ring_dir),
    ]))
}

/// Runs a bench program and reads the report it prints.
fn run_program<T: DeserializeOwned>(
    program: &Path,
    args: &[&str],
    setup: impl FnOnce(&mut Command),
) -> Result<T> {
    if !program.exists() {
        bail!(
            "'{}' is missing (run 'cargo xtask bench' without --no-build)",
            program.display()
        );
    }
    let mut cmd = Command::new(program);
    setup(&mut cmd);
    let out = cmd
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot start '{}'", program.display()))?;
    report(&out, &program.display().to_string())
}

/// The report of a finished bench program (`what`): it must have succeeded and printed one
/// line of JSON, a `T` of `jwtgrant_bench`.
pub fn report<T: DeserializeOwned>(out: &Output, what: &str) -> Result<T> {
    if !out.status.success() {
        bail!("'{what}' failed ({})", out.status);
    }
    jwtgrant_bench::parse(&out.stdout).with_context(|| {
        format!(
            "'{what}' printed no report of the expected kind (a binary built from another \
             checkout? run without --no-build): {}",
            String::from_utf8_lossy(&out.stdout).trim()
        )
    })
}

fn expect_backend(report: &SignReport, expected: &str) -> Result<()> {
    if report.backend != expected {
        bail!(
            "bench_sign built for {expected} reports backend {:?}: the feature flags of the build are wrong",
            report.backend
        );
    }
    Ok(())
}

/// A measurement that did not happen says why.
pub type Measured<T> = std::result::Result<T, String>;

fn not_runnable(program: &str, err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::NotFound {
        format!("{program} not found on PATH")
    } else {
        format!("cannot run {program}: {err}")
    }
}

/// The ratio cell of a row that was not measured.
fn missing<T>(m: &Measured<T>) -> String {
    match m {
        Ok(_) => String::new(),
        Err(why) => format!("missing: {why}"),
    }
}

struct OpensslRsa {
    sign: f64,
    verify: f64,
}

/// `openssl speed -seconds S rsa2048`: the `rsa 2048 bits <s> <s> <sign/s> <verify/s>` line.
fn openssl_speed(seconds: f64) -> Measured<OpensslRsa> {
    let secs = (seconds.ceil() as u64).max(1).to_string();
    let out = Command::new("openssl")
        .args(["speed", "-seconds", &secs, "rsa2048"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| not_runnable("openssl", &e))?;
    if !out.status.success() {
        return Err(format!("openssl speed failed ({})", out.status));
    }
    parse_openssl_speed(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| "no 'rsa 2048 bits' line in openssl speed output".to_owned())
}

fn parse_openssl_speed(stdout: &str) -> Option<OpensslRsa> {
    let line = stdout.lines().find(|l| {
        let mut words = l.split_whitespace();
        words.next() == Some("rsa") && words.next() == Some("2048") && words.next() == Some("bits")
    })?;
    // The last two columns are sign/s and verify/s (newer versions may add more columns
    // to other lines, not to this one).
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [.., sign, verify] = fields.as_slice() else {
        return None;
    };
    Some(OpensslRsa {
        sign: sign.parse().ok()?,
        verify: verify.parse().ok()?,
    })
}

struct NodeIssuer {
    signs_per_sec: f64,
    peak_rss_kib: Option<f64>,
}

/// The seed's Node issuer: a short run to size N for about `seconds`, then the measured run.
fn node_issuer(root: &Path, seconds: f64) -> Measured<NodeIssuer> {
    Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| not_runnable("node", &e))?;
    let dir = root.join("tests/node");
    if !dir.join("node_modules").is_dir() {
        eprintln!("bench: tests/node/node_modules is missing, running npm ci");
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| not_runnable("npm", &e))?;
        if !status.success() {
            return Err(format!("npm ci in tests/node failed ({status})"));
        }
    }
    // A preload that reports the process's peak RSS, so issue.js itself stays untouched.
    let preload = root.join("target/bench/node-maxrss.js");
    let preload_ok = fs::create_dir_all(root.join("target/bench")).is_ok()
        && fs::write(
            &preload,
            "process.on('exit', () => process.stderr.write(\
             'maxrss_kib ' + process.resourceUsage().maxRSS + '\\n'));\n",
        )
        .is_ok();
    let key = root.join("crates/jwtgrant-signer/tests/fixtures/rsa2048-pkcs8.pem");
    let bench = |n: u64| -> Measured<(f64, Option<f64>)> {
        let mut cmd = Command::new("node");
        if preload_ok {
            cmd.arg("--require").arg(&preload);
        }
        let out = cmd
            .arg("issue.js")
            .arg("--key")
            .arg(&key)
            .args(["--bench", &n.to_string(), "--alg", "RS256"])
            .current_dir(&dir)
            .output()
            .map_err(|e| not_runnable("node", &e))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "node issue.js --bench failed ({}): {}",
                out.status,
                stderr.lines().last().unwrap_or_default()
            ));
        }
        let rate = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("signs_per_sec ")?.trim().parse().ok())
            .ok_or("no 'signs_per_sec' line from node issue.js")?;
        let rss = String::from_utf8_lossy(&out.stderr)
            .lines()
            .find_map(|l| l.strip_prefix("maxrss_kib ")?.trim().parse().ok());
        Ok((rate, rss))
    };
    let (rough, _) = bench(200)?;
    let n = ((rough * seconds) as u64).clamp(200, 10_000_000);
    let (signs_per_sec, peak_rss_kib) = bench(n)?;
    Ok(NodeIssuer {
        signs_per_sec,
        peak_rss_kib,
    })
}

struct Row {
    section: &'static str,
    name: String,
    /// `None`: not measured; `ratio` then says why.
    value: Option<f64>,
    unit: &'static str,
    ratio: String,
}

fn row(
    section: &'static str,
    name: &str,
    value: Option<f64>,
    unit: &'static str,
    ratio: String,
) -> Row {
    Row {
        section,
        name: name.to_owned(),
        value,
        unit,
        ratio,
    }
}

/// `a / b` as "1.23× what", or an empty string when either side is missing.
fn times(a: Option<f64>, b: Option<f64>, what: &str) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}× {what}", a / b),
        _ => String::new(),
    }
}

fn join(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

fn rows(
    ring: &SignReport,
    awslc: &SignReport,
    openssl: &Measured<OpensslRsa>,
    node: &Measured<NodeIssuer>,
    source: &TokenSourceReport,
) -> Vec<Row> {
    const SIGN: &str = "RS256 signing, 2048-bit key";
    const OTHER: &str = "ES256, EdDSA and verification";
    const CACHE: &str = "TokenSource (loopback stub token endpoint)";
    const MEMORY: &str = "Peak RSS (VmHWM) of each bench process";
    let mut rows = Vec::new();

    let ossl_sign = openssl.as_ref().ok().map(|o| o.sign);
    let ossl_verify = openssl.as_ref().ok().map(|o| o.verify);
    fn sign(r: &SignReport, alg: &str) -> Option<f64> {
        r.rates(alg).map(|r| r.signs_per_s)
    }
    fn verify(r: &SignReport, alg: &str) -> Option<f64> {
        r.rates(alg).map(|r| r.verifies_per_s)
    }

    let r = sign(ring, "RS256");
    let a = sign(awslc, "RS256");
    rows.push(row(
        SIGN,
        "jwtgrant sign, ring",
        r,
        "signs/s",
        times(r, ossl_sign, "openssl"),
    ));
    rows.push(row(
        SIGN,
        "jwtgrant sign, aws-lc-rs",
        a,
        "signs/s",
        join(&[times(a, ossl_sign, "openssl"), times(a, r, "ring")]),
    ));
    rows.push(row(
        SIGN,
        "openssl speed rsa2048, sign",
        ossl_sign,
        "signs/s",
        if ossl_sign.is_some() {
            "1.00 (baseline)".into()
        } else {
            missing(openssl)
        },
    ));
    let node_rate = node.as_ref().ok().map(|n| n.signs_per_sec);
    rows.push(row(
        SIGN,
        "seed's Node issuer (jsonwebtoken)",
        node_rate,
        "signs/s",
        match node {
            Ok(_) => join(&[
                times(node_rate, ossl_sign, "openssl"),
                times(node_rate, r, "ring"),
            ]),
            Err(_) => missing(node),
        },
    ));

    let r = verify(ring, "RS256");
    let a = verify(awslc, "RS256");
    rows.push(row(
        OTHER,
        "RS256 verify, ring",
        r,
        "verifies/s",
        times(r, ossl_verify, "openssl"),
    ));
    rows.push(row(
        OTHER,
        "RS256 verify, aws-lc-rs",
        a,
        "verifies/s",
        join(&[times(a, ossl_verify, "openssl"), times(a, r, "ring")]),
    ));
    rows.push(row(
        OTHER,
        "openssl speed rsa2048, verify",
        ossl_verify,
        "verifies/s",
        if ossl_verify.is_some() {
            "1.00 (baseline)".into()
        } else {
            missing(openssl)
        },
    ));
    for (op, unit) in [("sign", "signs/s"), ("verify", "verifies/s")] {
        let rate = |r, alg| {
            if op == "sign" {
                sign(r, alg)
            } else {
                verify(r, alg)
            }
        };
        for alg in ["ES256", "EdDSA"] {
            let r = rate(ring, alg);
            let a = rate(awslc, alg);
            rows.push(row(
                OTHER,
                &format!("{alg} {op}, ring"),
                r,
                unit,
                "baseline".into(),
            ));
            rows.push(row(
                OTHER,
                &format!("{alg} {op}, aws-lc-rs"),
                a,
                unit,
                times(a, r, "ring"),
            ));
        }
    }

    let exchange = Some(source.exchange_us);
    let miss = Some(source.miss_us);
    let hit1 = Some(source.hit_1.ns_per_call);
    let hitn = Some(source.hit_n.ns_per_call);
    let threads = source.threads;
    let exchange_ns = exchange.map(|us| us * 1000.0);
    rows.push(row(
        CACHE,
        "exchange() round trip, pre-signed assertion",
        exchange,
        "µs",
        "baseline".into(),
    ));
    rows.push(row(
        CACHE,
        "token() miss: sign RS256 (ring) + exchange",
        miss,
        "µs",
        times(miss, exchange, "exchange"),
    ));
    rows.push(row(
        CACHE,
        "token() hit, 1 thread",
        hit1,
        "ns/call",
        match (exchange_ns, hit1) {
            (Some(e), Some(h)) if h > 0.0 => format!("exchange costs {} hits", group(e / h)),
            _ => String::new(),
        },
    ));
    rows.push(row(
        CACHE,
        &format!("token() hit, {threads} threads, per call"),
        hitn,
        "ns/call",
        times(hitn, hit1, "1 thread"),
    ));
    let t1 = Some(source.hit_1.calls_per_s);
    let tn = Some(source.hit_n.calls_per_s);
    rows.push(row(
        CACHE,
        "token() hit, 1 thread, throughput",
        t1,
        "calls/s",
        "baseline".into(),
    ));
    rows.push(row(
        CACHE,
        &format!("token() hit, {threads} threads, throughput"),
        tn,
        "calls/s",
        times(tn, t1, "1 thread"),
    ));
    let sent = source.hit_exchanges;
    rows.push(row(
        CACHE,
        "exchanges sent over the whole hit-path run",
        Some(sent as f64),
        "requests",
        if sent == 1 {
            "ok (expected exactly 1: the first fill)".into()
        } else {
            "UNEXPECTED: expected exactly 1".into()
        },
    ));

    const HSM: &str = "Through PKCS#11: SoftHSM2, the key never leaves the token";
    for alg in ["RS256", "ES256"] {
        let memory = sign(ring, alg);
        let hsm = ring.pkcs11_rates(alg);
        let one = hsm.map(|r| r.signs_per_s);
        let four = hsm.map(|r| r.signs_per_s_4_threads);
        rows.push(row(
            HSM,
            &format!("{alg} sign, SoftHSM2, 1 thread"),
            one,
            "signs/s",
            times(one, memory, "in-memory ring, same run"),
        ));
        rows.push(row(
            HSM,
            &format!("{alg} sign, SoftHSM2, 4 threads, one Signer"),
            four,
            "signs/s",
            times(four, one, "1 thread"),
        ));
    }

    let mib = |kib: Option<f64>| kib.map(|k| k / 1024.0);
    let rss = |kib: Option<u64>| mib(kib.map(|k| k as f64));
    let ring_rss = rss(ring.peak_rss_kib);
    rows.push(row(
        MEMORY,
        "bench_sign, ring",
        ring_rss,
        "MiB",
        "baseline".into(),
    ));
    let a = rss(awslc.peak_rss_kib);
    rows.push(row(
        MEMORY,
        "bench_sign, aws-lc-rs",
        a,
        "MiB",
        times(a, ring_rss, "ring"),
    ));
    let s = rss(source.peak_rss_kib);
    rows.push(row(
        MEMORY,
        "bench_token_source (ring, ureq, stub)",
        s,
        "MiB",
        times(s, ring_rss, "bench_sign ring"),
    ));
    let n = node.as_ref().ok().and_then(|n| mib(n.peak_rss_kib));
    rows.push(row(
        MEMORY,
        "seed's Node issuer (--bench)",
        n,
        "MiB",
        match node {
            Ok(_) => times(n, ring_rss, "bench_sign ring"),
            Err(_) => missing(node),
        },
    ));
    rows
}

/// The tower layer's rows: its overhead per request, against the issue's targets (Bearer
/// under 2 µs; DPoP within 1.2× one ES256 signature), read as ratios of the same run.
fn tower_rows(t: &TowerReport) -> Vec<Row> {
    const TOWER: &str = "Tower layer (in-process service; loopback stub for the bare request)";
    let bare_ns = t.bare_request_us * 1000.0;
    let share = |ns: f64| {
        if bare_ns > 0.0 {
            format!("{:.1}% of a bare request", ns / bare_ns * 100.0)
        } else {
            String::new()
        }
    };
    let bearer = t.bearer_overhead_ns();
    let dpop = t.dpop_overhead_ns();
    let verdict = |ok: bool| if ok { "within target" } else { "OVER target" };
    vec![
        row(
            TOWER,
            "bare GET to a loopback stub (keep-alive)",
            Some(t.bare_request_us),
            "µs",
            "baseline".into(),
        ),
        row(
            TOWER,
            "request to the in-process service, no layer",
            Some(t.unlayered_ns),
            "ns",
            share(t.unlayered_ns),
        ),
        row(
            TOWER,
            "Bearer: the layer's overhead per request",
            Some(bearer),
            "ns",
            join(&[
                share(bearer),
                format!("{} (< 2 µs)", verdict(bearer < 2000.0)),
            ]),
        ),
        row(
            TOWER,
            "DPoP: the layer's overhead per request",
            Some(dpop),
            "ns",
            join(&[
                times(Some(dpop), Some(t.es256_sign_ns), "one ES256 signature"),
                format!("{} (≤ 1.2×)", verdict(dpop <= 1.2 * t.es256_sign_ns)),
            ]),
        ),
        row(
            TOWER,
            "one ES256 signature (proof-sized JWS)",
            Some(t.es256_sign_ns),
            "ns",
            "baseline".into(),
        ),
        row(
            TOWER,
            "grants over the whole run (two sources)",
            Some(t.grants as f64),
            "requests",
            if t.grants == 2 {
                "ok (expected exactly 2: one fill each)".into()
            } else {
                "UNEXPECTED: expected exactly 2".into()
            },
        ),
    ]
}

/// `12345.6` as `12,346`.
fn group(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn format_value(row: &Row) -> String {
    match row.value {
        None => "missing".into(),
        Some(v) if v >= 1000.0 => group(v),
        Some(v) if v == v.trunc() => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
    }
}

fn text_table(rows: &[Row]) -> String {
    let values: Vec<String> = rows.iter().map(format_value).collect();
    let w_name = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let w_value = values.iter().map(String::len).max().unwrap_or(5).max(5);
    let w_unit = rows
        .iter()
        .map(|r| r.unit.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = String::new();
    let mut section = "";
    for (row, value) in rows.iter().zip(&values) {
        if row.section != section {
            section = row.section;
            let _ = writeln!(out, "\n{section}");
            let _ = writeln!(
                out,
                "  {:<w_name$}  {:>w_value$}  {:<w_unit$}  ratio",
                "name", "value", "unit"
            );
        }
        let _ = writeln!(
            out,
            "  {:<w_name$}  {value:>w_value$}  {:<w_unit$}  {}",
            row.name, row.unit, row.ratio
        );
    }
    out
}

fn markdown(
    machine: &Machine,
    rows: &[Row],
    seconds: f64,
    elapsed: f64,
    loadavg_after: &str,
) -> String {
    let mut out = String::from("# jwtgrant bench report\n\n");
    let _ = writeln!(out, "- date: {}", machine.date);
    let _ = writeln!(out, "- machine: {} ({} cores)", machine.cpu, machine.cores);
    let _ = writeln!(out, "- {}", machine.rustc);
    let _ = writeln!(out, "- {}", machine.openssl);
    let _ = writeln!(out, "- {}", machine.node);
    let _ = writeln!(
        out,
        "- load average before / after: {} / {}",
        machine.loadavg,
        loadavg_after
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(
        out,
        "- {seconds} s per measurement after a warm-up; bench run took {elapsed:.0} s after the builds"
    );
    let mut section = "";
    for row in rows {
        if row.section != section {
            section = row.section;
            let _ = writeln!(
                out,
                "\n## {section}\n\n| name | value | unit | ratio |\n|---|---:|---|---|"
            );
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            row.name,
            format_value(row),
            row.unit,
            row.ratio
        );
    }
    out
}

/// What the report header says about where it ran.
struct Machine {
    date: String,
    cpu: String,
    cores: usize,
    rustc: String,
    openssl: String,
    node: String,
    loadavg: String,
}

impl Machine {
    /// The report header as markdown list items, one per line.
    fn header(&self) -> String {
        format!(
            "- date: {}\n- machine: {} ({} cores), load average before: {}\n- {}\n- {}\n- {}\n",
            self.date, self.cpu, self.cores, self.loadavg, self.rustc, self.openssl, self.node
        )
    }

    fn probe() -> Machine {
        let first_line = |program: &str, args: &[&str]| {
            Command::new(program)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .next()
                        .map(str::to_owned)
                })
        };
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        Machine {
            date: first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
                .unwrap_or_else(|| "unknown date".into()),
            cpu,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            rustc: first_line("rustc", &["--version"]).unwrap_or_else(|| "rustc: unknown".into()),
            openssl: first_line("openssl", &["version"])
                .unwrap_or_else(|| "openssl: not found".into()),
            node: first_line("node", &["--version"])
                .map_or_else(|| "node: not found".into(), |v| format!("node {v}")),
            loadavg: fs::read_to_string("/proc/loadavg")
                .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openssl_speed() {
        let out = "                  sign    verify    sign/s verify/s\n\
                   rsa 2048 bits 0.000265s 0.000017s   3769.0  60299.0\n";
        let rsa = parse_openssl_speed(out).expect("the rsa line");
        assert_eq!((rsa.sign, rsa.verify), (3769.0, 60299.0));
        assert!(parse_openssl_speed("rsa 4096 bits 0.1s 0.1s 10.0 100.0\n").is_none());
    }

    /// Reports as the bench programs print them.
    const RING: &str = r#"{"backend":"ring","in_memory":[{"alg":"RS256","signs_per_s":1337.0,"verifies_per_s":35170.5},{"alg":"ES256","signs_per_s":45763.2,"verifies_per_s":14913.0},{"alg":"EdDSA","signs_per_s":27472.1,"verifies_per_s":16498.0}],"pkcs11":[{"alg":"RS256","signs_per_s":1358.4,"signs_per_s_4_threads":1036.0},{"alg":"ES256","signs_per_s":13294.0,"signs_per_s_4_threads":7438.5}],"peak_rss_kib":2764}"#;
    const AWSLC: &str = r#"{"backend":"aws-lc-rs","in_memory":[{"alg":"RS256","signs_per_s":2585.0,"verifies_per_s":30404.0},{"alg":"ES256","signs_per_s":38426.0,"verifies_per_s":11472.0},{"alg":"EdDSA","signs_per_s":64676.0,"verifies_per_s":17103.0}],"pkcs11":[],"peak_rss_kib":3993}"#;
    const SOURCE: &str = r#"{"exchange_us":692.8,"miss_us":1794.0,"hit_1":{"ns_per_call":45.2,"calls_per_s":22108865.0},"threads":2,"hit_n":{"ns_per_call":166.7,"calls_per_s":12078331.0},"hit_exchanges":1,"hit_assertions":1,"peak_rss_kib":4710}"#;

    #[test]
    fn the_table_reads_the_programs_reports() {
        let ring: SignReport = jwtgrant_bench::parse(RING.as_bytes()).expect("bench_sign, ring");
        let awslc: SignReport =
            jwtgrant_bench::parse(AWSLC.as_bytes()).expect("bench_sign, aws-lc");
        let source: TokenSourceReport =
            jwtgrant_bench::parse(format!("{SOURCE}\n").as_bytes()).expect("bench_token_source");
        expect_backend(&ring, "ring").expect("ring");
        assert!(expect_backend(&awslc, "ring").is_err());
        let openssl = Ok(OpensslRsa {
            sign: 2506.0,
            verify: 40217.0,
        });
        let node: Measured<NodeIssuer> = Err("node not found on PATH".into());
        let cell = |rows: &[Row], name: &str| {
            let row = rows.iter().find(|r| r.name == name).expect(name);
            (format_value(row), row.ratio.clone())
        };
        let table = rows(&ring, &awslc, &openssl, &node, &source);
        for (name, value, ratio) in [
            (
                "jwtgrant sign, aws-lc-rs",
                "2,585",
                "1.03× openssl, 1.93× ring",
            ),
            ("EdDSA verify, aws-lc-rs", "17,103", "1.04× ring"),
            (
                "token() hit, 2 threads, per call",
                "166.7",
                "3.69× 1 thread",
            ),
            (
                "exchanges sent over the whole hit-path run",
                "1",
                "ok (expected exactly 1: the first fill)",
            ),
            (
                "ES256 sign, SoftHSM2, 4 threads, one Signer",
                "7,438",
                "0.56× 1 thread",
            ),
            (
                "bench_token_source (ring, ureq, stub)",
                "4.6",
                "1.70× bench_sign ring",
            ),
            (
                "seed's Node issuer (--bench)",
                "missing",
                "missing: node not found on PATH",
            ),
        ] {
            assert_eq!(cell(&table, name), (value.into(), ratio.into()), "{name}");
        }
        // Without SoftHSM2 the ring build has no pkcs11 rates: those rows say missing.
        let ring = SignReport {
            pkcs11: Vec::new(),
            ..ring
        };
        let table = rows(&ring, &awslc, &openssl, &node, &source);
        assert_eq!(
            cell(&table, "RS256 sign, SoftHSM2, 1 thread"),
            ("missing".into(), String::new())
        );
    }

    #[test]
    fn the_tower_rows_read_the_overheads_as_ratios() {
        let line = r#"{"bare_request_us":40.0,"unlayered_ns":100.0,"bearer_ns":900.0,"dpop_ns":26500.0,"es256_sign_ns":22000.0,"grants":2,"peak_rss_kib":9000}"#;
        let tower: TowerReport = jwtgrant_bench::parse(line.as_bytes()).expect("bench_tower");
        let table = tower_rows(&tower);
        let cells: Vec<(String, String, String)> = table
            .iter()
            .map(|r| (r.name.clone(), format_value(r), r.ratio.clone()))
            .collect();
        let want = [
            ("bare GET to a loopback stub (keep-alive)", "40", "baseline"),
            (
                "request to the in-process service, no layer",
                "100",
                "0.2% of a bare request",
            ),
            (
                "Bearer: the layer's overhead per request",
                "800",
                "2.0% of a bare request, within target (< 2 µs)",
            ),
            (
                "DPoP: the layer's overhead per request",
                "26,400",
                "1.20× one ES256 signature, within target (≤ 1.2×)",
            ),
            (
                "one ES256 signature (proof-sized JWS)",
                "22,000",
                "baseline",
            ),
            (
                "grants over the whole run (two sources)",
                "2",
                "ok (expected exactly 2: one fill each)",
            ),
        ];
        let want: Vec<(String, String, String)> = want
            .iter()
            .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
            .collect();
        assert_eq!(cells, want);
        let slow = TowerReport {
            bearer_ns: 2200.0,
            grants: 3,
            ..tower
        };
        let table = tower_rows(&slow);
        assert_eq!(
            table[2].ratio,
            "5.2% of a bare request, OVER target (< 2 µs)"
        );
        assert_eq!(table[5].ratio, "UNEXPECTED: expected exactly 2");
    }

    #[test]
    fn a_program_that_fails_or_prints_something_else_is_an_error() {
        use std::os::unix::process::ExitStatusExt;
        let out = |code: i32, stdout: &str| Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: stdout.into(),
            stderr: Vec::new(),
        };
        // The line as the program prints it, newline included, read into its fields.
        let ok: TokenSourceReport =
            report(&out(0, &format!("{SOURCE}\n")), "bench_token_source").expect("ok");
        assert_eq!((ok.exchange_us, ok.miss_us, ok.threads), (692.8, 1794.0, 2));
        assert_eq!(
            (ok.hit_1.ns_per_call, ok.hit_n.calls_per_s),
            (45.2, 12_078_331.0)
        );
        assert_eq!((ok.hit_exchanges, ok.hit_assertions), (1, 1));
        assert_eq!(ok.peak_rss_kib, Some(4710));
        let failed = report::<TokenSourceReport>(&out(1, SOURCE), "bench_token_source");
        let failed = format!("{:#}", failed.unwrap_err());
        assert!(failed.contains("'bench_token_source' failed"), "{failed}");
        // Another program's report, the old tab-separated lines, a cut-off line, a report
        // missing a field, nothing at all: each an error that names the program.
        let cut = &SOURCE[..SOURCE.len() / 2];
        let no_threads = SOURCE.replace(r#""threads":2,"#, "");
        for stdout in [RING, "exchange_stub\t692.8\tus\n", cut, &no_threads, ""] {
            let wrong = report::<TokenSourceReport>(&out(0, stdout), "bench_token_source");
            let wrong = format!("{:#}", wrong.unwrap_err());
            assert!(
                wrong.contains("'bench_token_source' printed no report of the expected kind"),
                "{stdout:?}: {wrong}"
            );
        }
        let missing = report::<TokenSourceReport>(&out(0, &no_threads), "bench_token_source");
        assert!(
            format!("{:#}", missing.unwrap_err()).contains("missing field `threads`"),
            "serde's reason comes along"
        );
    }

    #[test]
    fn groups_thousands() {
        for (v, s) in [
            (0.4, "0"),
            (999.0, "999"),
            (1000.0, "1,000"),
            (1234567.8, "1,234,568"),
        ] {
            assert_eq!(group(v), s);
        }
    }
}
