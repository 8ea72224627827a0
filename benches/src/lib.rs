//! What the bench programs (`src/bin/`) report, and how it travels to `cargo xtask bench`.
//!
//! Each program prints its report on stdout as one line of JSON: a [`SignReport`], a
//! [`TokenSourceReport`], a [`TowerReport`], or for `bench_keycloak` one of [`SequentialReport`],
//! [`ConcurrencyReport`] and [`FleetReport`] by mode. The xtask reads it back with [`parse`]
//! into the same type, so a field renamed here is renamed on both sides or fails to build.
//!
//! The library is the one thing xtask depends on, with no features: serde and serde_json,
//! which xtask has anyway. Everything the programs need beyond it (the signer, the exchange
//! crate, the test stub) is an optional dependency behind the package's features.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Prints `report` on stdout as one line of JSON, for [`parse`] on the other side.
pub fn print<T: Serialize>(report: &T) -> serde_json::Result<()> {
    println!("{}", serde_json::to_string(report)?);
    Ok(())
}

/// A program's report from its whole stdout (one JSON value; surrounding whitespace is fine).
pub fn parse<T: DeserializeOwned>(stdout: &[u8]) -> serde_json::Result<T> {
    serde_json::from_slice(stdout)
}

/// `bench_sign`: signing and verification rates of one build of the signer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignReport {
    /// `jwtgrant_signer::backend()`: which crypto backend the build has.
    pub backend: String,
    /// Keys in memory: RS256 (2048-bit), ES256, EdDSA.
    pub in_memory: Vec<AlgRates>,
    /// Keys generated in SoftHSM2: RS256, ES256. Empty without the `pkcs11` feature or
    /// without the SoftHSM environment.
    pub pkcs11: Vec<Pkcs11Rates>,
    /// The process's peak resident set size; `None` off Linux.
    pub peak_rss_kib: Option<u64>,
}

impl SignReport {
    /// The in-memory rates of `alg` (`"RS256"`, ...), when it was measured.
    pub fn rates(&self, alg: &str) -> Option<&AlgRates> {
        self.in_memory.iter().find(|r| r.alg == alg)
    }

    /// The SoftHSM2 rates of `alg`, when they were measured.
    pub fn pkcs11_rates(&self, alg: &str) -> Option<&Pkcs11Rates> {
        self.pkcs11.iter().find(|r| r.alg == alg)
    }
}

/// One algorithm with an in-memory key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlgRates {
    /// The JOSE name: `RS256`, `ES256`, `EdDSA`.
    pub alg: String,
    pub signs_per_s: f64,
    pub verifies_per_s: f64,
}

/// One algorithm with a key inside SoftHSM2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pkcs11Rates {
    pub alg: String,
    /// One thread.
    pub signs_per_s: f64,
    /// Four threads sharing one `Signer`, all together.
    pub signs_per_s_4_threads: f64,
}

/// `bench_token_source`: `TokenSource::token()` against a loopback stub token endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenSourceReport {
    /// Mean time of one `exchange()` with an assertion signed beforehand.
    pub exchange_us: f64,
    /// Mean time of a cache miss: a new source signs an RS256 assertion and exchanges it.
    pub miss_us: f64,
    /// The hit path on one thread.
    pub hit_1: HitRate,
    /// The thread count of [`hit_n`](Self::hit_n).
    pub threads: usize,
    /// The hit path on `threads` threads sharing one source.
    pub hit_n: HitRate,
    /// Requests the stub saw from just before the first fill to the end of both hit runs:
    /// exactly 1 when the cache works.
    pub hit_exchanges: u64,
    /// Assertions the hit-path source signed (1 when the cache works).
    pub hit_assertions: u64,
    /// The process's peak resident set size; `None` off Linux.
    pub peak_rss_kib: Option<u64>,
}

/// `bench_tower`: the tower layer's overhead per request, next to a bare request to a
/// loopback server and one ES256 signature, all from one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TowerReport {
    /// One GET to a loopback stub (keep-alive) through the exchange crate's transport: what
    /// a cheap real request costs here.
    pub bare_request_us: f64,
    /// One request to an in-process service that answers at once, without the layer: the
    /// floor (request building, `poll_ready`, `call`, the executor's poll).
    pub unlayered_ns: f64,
    /// The same through the layer with a Bearer token.
    pub bearer_ns: f64,
    /// The same through the layer with a DPoP-bound token (ES256 proof per request).
    pub dpop_ns: f64,
    /// One ES256 JWS signature of a proof-sized header and payload, with the same key.
    pub es256_sign_ns: f64,
    /// Grants the two token sources made over the whole run: exactly 2 (one fill each).
    pub grants: u64,
    /// The process's peak resident set size; `None` off Linux.
    pub peak_rss_kib: Option<u64>,
}

impl TowerReport {
    /// The layer's own cost per Bearer request.
    pub fn bearer_overhead_ns(&self) -> f64 {
        self.bearer_ns - self.unlayered_ns
    }

    /// The layer's own cost per DPoP request.
    pub fn dpop_overhead_ns(&self) -> f64 {
        self.dpop_ns - self.unlayered_ns
    }
}

/// Cache hits on some number of threads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HitRate {
    /// Mean wall time of one `token()` call, as each thread sees it.
    pub ns_per_call: f64,
    /// Calls per second, all threads together.
    pub calls_per_s: f64,
}

/// Count, rate and percentiles of one row of timed calls (exchanges, processes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    /// Timed calls.
    pub n: usize,
    /// Calls per second: 1 / mean.
    pub rate: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl Latencies {
    /// Sorts `samples` and sums them up; all zeros but the rate (1e9) when there are none.
    pub fn from_samples(samples: &mut [Duration]) -> Latencies {
        samples.sort_unstable();
        let n = samples.len().max(1);
        let total: Duration = samples.iter().sum();
        let mean = total.as_secs_f64() / n as f64;
        let us = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e6);
        Latencies {
            n: samples.len(),
            rate: 1.0 / mean.max(1e-9),
            mean_us: mean * 1e6,
            p50_us: us(samples.get(n / 2)),
            p99_us: us(samples.get(n * 99 / 100)),
            max_us: us(samples.last()),
        }
    }
}

/// `bench_keycloak sequential`: one exchange at a time against a real Keycloak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialReport {
    /// One `Exchange`, so one kept-alive connection.
    pub keepalive: Latencies,
    /// A new `Exchange` (new connection) per exchange.
    pub newconn: Latencies,
    /// What signing one assertion costs here (untimed in the rows above).
    pub sign_us: f64,
}

/// `bench_keycloak concurrency`: threads sharing one `Exchange`, one run per thread count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConcurrencyReport {
    /// What signing one assertion costs, measured alone (the runs use pre-signed ones).
    pub sign_us: f64,
    pub runs: Vec<ConcurrencyRun>,
}

impl ConcurrencyReport {
    /// The run with `threads` threads, when there was one.
    pub fn run(&self, threads: usize) -> Option<&ConcurrencyRun> {
        self.runs.iter().find(|r| r.threads == threads)
    }
}

/// One thread count of [`ConcurrencyReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConcurrencyRun {
    pub threads: usize,
    /// Grants finished inside the measured window, per second.
    pub grants_per_s: f64,
    pub latencies: Latencies,
    /// CPU of this process (user + kernel) per grant.
    pub client_cpu_us: f64,
    /// The kernel's part of `client_cpu_us`.
    pub client_sys_us: f64,
    /// CPU of Keycloak's process group per grant; `None` without its pgid.
    pub keycloak_cpu_us: Option<f64>,
    /// Assertions signed inside the loop because the pre-signed pool ran dry.
    pub signed_inline: u64,
    pub errors: u64,
}

/// `bench_keycloak fleet`: one process of the fleet, one refresh-ahead `TokenSource`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetReport {
    /// The first fill's time.
    pub fill_us: f64,
    /// Seconds the callers ran after the fill.
    pub run_s: f64,
    /// When the source signed each exchange's assertion, in seconds after the fill; the
    /// fill itself is the first, at 0.
    pub exchange_at_s: Vec<f64>,
    /// `token()` calls, all threads.
    pub calls: u64,
    pub errors: u64,
    /// The slowest call.
    pub max_ns: u64,
    /// Every call's latency in log-linear buckets (16 per power of two), empty ones left out.
    pub hist: Vec<Bucket>,
    /// Preemptions of the process's threads (`nonvoluntary_ctxt_switches`); `None` off Linux.
    pub involuntary_switches: Option<u64>,
    pub voluntary_switches: Option<u64>,
}

impl FleetReport {
    /// Exchanges sent, the fill included.
    pub fn exchanges(&self) -> u64 {
        self.exchange_at_s.len() as u64
    }
}

/// One non-empty histogram bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// The largest latency the bucket holds.
    pub upper_ns: u64,
    pub count: u64,
}

/// The process's peak resident set size (`VmHWM`), in KiB; `None` off Linux.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_survives_its_line() {
        let report = SignReport {
            backend: "ring".into(),
            in_memory: vec![AlgRates {
                alg: "RS256".into(),
                signs_per_s: 1650.25,
                verifies_per_s: 35170.0,
            }],
            pkcs11: vec![],
            peak_rss_kib: Some(2764),
        };
        let line = serde_json::to_string(&report).expect("serializes");
        assert!(!line.contains('\n'), "one line: {line}");
        let back: SignReport = parse(format!("{line}\n").as_bytes()).expect("parses");
        assert_eq!(back, report);
        assert_eq!(back.rates("RS256").map(|r| r.signs_per_s), Some(1650.25));
        assert!(back.rates("ES256").is_none() && back.pkcs11_rates("RS256").is_none());
    }

    #[test]
    fn latencies_of_sorted_samples() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let l = Latencies::from_samples(&mut samples);
        assert_eq!(l.n, 100);
        assert!((l.mean_us - 50_500.0).abs() < 1e-6);
        assert!((l.rate - 1.0 / 0.0505).abs() < 1e-9);
        assert_eq!(
            (l.p50_us, l.p99_us, l.max_us),
            (51_000.0, 100_000.0, 100_000.0)
        );
        let none = Latencies::from_samples(&mut []);
        assert_eq!((none.n, none.mean_us, none.max_us), (0, 0.0, 0.0));
    }
}
