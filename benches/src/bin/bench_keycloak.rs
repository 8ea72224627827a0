//! Exchanges against a real Keycloak, for `cargo xtask bench --keycloak`: the in-process rows
//! of the Keycloak section (the xtask times the rows that start a process per exchange).
//!
//! ```text
//! BENCH_CLIENT_SECRET=... bench_keycloak <mode> --token-endpoint URL --audience URL \
//!     --client-id ID --key PEM --issuer URL --subject SUB [options]
//!
//! sequential  [--seconds S]                      one Exchange kept alive; a new one per exchange
//! concurrency [--seconds S] [--threads 1,2,4] [--keycloak-pgid PID]
//!                                               N threads sharing one Exchange, CPU from /proc
//! fleet       [--seconds S] [--threads T] [--interval-us I] [--margin S]
//!                                               one refresh-ahead TokenSource, T callers
//! ```
//!
//! Every exchange carries a fresh assertion (Keycloak refuses a reused `jti`), signed outside
//! the timed part in `sequential`, inside it in `concurrency` (a grant needs one; the signing
//! cost is printed on its own so the reader can subtract it). The client secret comes from
//! the environment, never from argv. Output is one line of JSON on stdout, the mode's report:
//! [`jwtgrant_bench::SequentialReport`], [`jwtgrant_bench::ConcurrencyReport`] or
//! [`jwtgrant_bench::FleetReport`].

use std::error::Error;
use std::fs;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use jwtgrant_bench::{
    Bucket, ConcurrencyReport, ConcurrencyRun, FleetReport, Latencies, SequentialReport,
};
use jwtgrant_exchange::{Exchange, RetryPolicy, TokenSource};
use jwtgrant_signer::{Claims, Signer};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let opts = Options::parse(args)?;
    match mode.as_str() {
        "sequential" => sequential(&opts),
        "concurrency" => concurrency(&opts),
        "fleet" => fleet(&opts),
        other => Err(format!("unknown mode '{other}' (sequential, concurrency or fleet)").into()),
    }
}

struct Options {
    token_endpoint: String,
    audience: String,
    client_id: String,
    secret: String,
    key: String,
    issuer: String,
    subject: String,
    seconds: Duration,
    warmup: Duration,
    threads: Vec<usize>,
    keycloak_pgid: Option<u32>,
    interval: Duration,
    margin: Duration,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Res<Options> {
        let mut opts = Options {
            token_endpoint: String::new(),
            audience: String::new(),
            client_id: String::new(),
            secret: std::env::var("BENCH_CLIENT_SECRET")
                .map_err(|_| "BENCH_CLIENT_SECRET is not set (the client's secret)")?,
            key: String::new(),
            issuer: String::new(),
            subject: String::new(),
            seconds: Duration::from_secs(3),
            warmup: Duration::from_millis(500),
            threads: vec![1],
            keycloak_pgid: None,
            interval: Duration::from_millis(1),
            margin: Duration::from_secs(2),
        };
        while let Some(arg) = args.next() {
            let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
            let secs = || -> Res<Duration> {
                value
                    .parse::<f64>()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .ok_or_else(|| format!("{arg} '{value}' is not a number of seconds").into())
            };
            match arg.as_str() {
                "--token-endpoint" => opts.token_endpoint = value,
                "--audience" => opts.audience = value,
                "--client-id" => opts.client_id = value,
                "--key" => opts.key = value,
                "--issuer" => opts.issuer = value,
                "--subject" => opts.subject = value,
                "--seconds" => opts.seconds = secs()?,
                "--warmup" => opts.warmup = secs()?,
                "--margin" => opts.margin = secs()?,
                "--interval-us" => {
                    opts.interval = Duration::from_micros(
                        value
                            .parse()
                            .map_err(|_| format!("--interval-us '{value}' is not a number"))?,
                    );
                }
                "--threads" => {
                    opts.threads = value
                        .split(',')
                        .map(|n| n.trim().parse().ok().filter(|&n: &usize| n > 0))
                        .collect::<Option<_>>()
                        .ok_or_else(|| format!("--threads '{value}' is not a list like 1,2,4"))?;
                }
                "--keycloak-pgid" => {
                    opts.keycloak_pgid = Some(
                        value
                            .parse()
                            .map_err(|_| format!("--keycloak-pgid '{value}' is not a pid"))?,
                    );
                }
                other => return Err(format!("unknown argument '{other}'").into()),
            }
        }
        for (name, v) in [
            ("--token-endpoint", &opts.token_endpoint),
            ("--audience", &opts.audience),
            ("--client-id", &opts.client_id),
            ("--key", &opts.key),
            ("--issuer", &opts.issuer),
            ("--subject", &opts.subject),
        ] {
            if v.is_empty() {
                return Err(format!("{name} is required").into());
            }
        }
        Ok(opts)
    }

    /// A new client: its own transport, so its own connection pool.
    fn exchange(&self) -> Res<Exchange> {
        Ok(Exchange::new(&self.token_endpoint)?
            .client_secret_post(self.client_id.as_str(), self.secret.as_str())
            .proxy_from_env(false)
            // A failed request must show up as an error, not as a slower row.
            .retries(RetryPolicy::never())
            .timeout(Duration::from_secs(30)))
    }

    fn signer(&self) -> Res<(Signer, Claims)> {
        let pem = fs::read(&self.key).map_err(|e| format!("cannot read '{}': {e}", self.key))?;
        let signer = Signer::from_pem(&pem)?;
        let claims = Claims::new(
            self.issuer.as_str(),
            self.subject.as_str(),
            self.audience.as_str(),
        );
        Ok((signer, claims))
    }
}

/// One kept-alive `Exchange`, then a new `Exchange` (new transport, new connection) per
/// exchange. Only the exchange is timed; the assertion is signed just before, untimed.
fn sequential(opts: &Options) -> Res<()> {
    let (signer, claims) = opts.signer()?;
    let kept = opts.exchange()?;
    let time = |op: &ExchangeOnce| -> Res<Latencies> {
        let mut samples = Vec::new();
        for (period, keep) in [(opts.warmup, false), (opts.seconds, true)] {
            let mut busy = Duration::ZERO;
            samples.clear();
            while busy < period {
                let assertion = signer.sign(&claims)?;
                let t0 = Instant::now();
                op(&assertion)?;
                let took = t0.elapsed();
                busy += took;
                if keep {
                    samples.push(took);
                }
            }
        }
        Ok(Latencies::from_samples(&mut samples))
    };
    let keepalive = time(&|a| kept.exchange(a).map(drop).map_err(Into::into))?;
    let newconn = time(&|a| opts.exchange()?.exchange(a).map(drop).map_err(Into::into))?;
    jwtgrant_bench::print(&SequentialReport {
        keepalive,
        newconn,
        // What signing one assertion costs here, for the reader of the rows above.
        sign_us: sign_cost(&signer, &claims)? * 1e6,
    })?;
    Ok(())
}

/// One timed exchange of an assertion.
type ExchangeOnce<'a> = dyn Fn(&str) -> Res<()> + 'a;

/// `n` assertions with fresh `jti`s, signed on every core.
fn presign(signer: &Signer, claims: &Claims, n: usize) -> Res<Vec<String>> {
    let cores = thread::available_parallelism().map_or(1, usize::from);
    let per = n.div_ceil(cores);
    thread::scope(|scope| {
        let parts: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(move || {
                    (0..per)
                        .map(|_| signer.sign(claims))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(n);
        for part in parts {
            all.extend(part.join().map_err(|_| "a signing thread panicked")??);
        }
        Ok(all)
    })
}

/// Seconds of CPU per RS256 signature, from a short single-threaded loop (wall time of a
/// CPU-bound loop on one thread).
fn sign_cost(signer: &Signer, claims: &Claims) -> Res<f64> {
    let t0 = Instant::now();
    let mut n = 0u32;
    while t0.elapsed() < Duration::from_millis(300) {
        signer.sign(claims)?;
        n += 1;
    }
    Ok(t0.elapsed().as_secs_f64() / f64::from(n.max(1)))
}

/// For each thread count: N threads share one `Exchange`, each taking assertions signed
/// beforehand from a shared pool and exchanging them in a loop. Grants per second, latency,
/// and CPU per grant of this process (the exchange alone) and of Keycloak; signing is
/// measured on its own (`sign_us`), so the two can be added.
fn concurrency(opts: &Options) -> Res<()> {
    let (signer, claims) = opts.signer()?;
    // The pool is used up to `warmup + seconds` after it is signed: give the assertions
    // Keycloak's default maximum lifetime (300 s), less a margin.
    let claims = claims.lifetime(Duration::from_secs(280));
    let exchange = opts.exchange()?;
    let mut report = ConcurrencyReport {
        sign_us: sign_cost(&signer, &claims)? * 1e6,
        runs: Vec::new(),
    };
    // Grants per second the pool is sized for; raised to what each run reached.
    let mut rate_guess = 300.0f64;
    for &threads in &opts.threads {
        let period = (opts.warmup + opts.seconds).as_secs_f64();
        let size = (rate_guess * 1.5 * period) as usize + 50 * threads;
        let pool = Mutex::new(presign(&signer, &claims, size)?);
        let signed_inline = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let measuring = AtomicBool::new(false);
        let errors = AtomicU64::new(0);
        let first_error = Mutex::new(None::<String>);
        let start = Barrier::new(threads + 1);
        let mut before = ((0, 0), None);
        let mut after = ((0, 0), None);
        let mut wall = Duration::ZERO;
        let samples: Vec<Vec<Duration>> = thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let (signer, claims, exchange, pool) = (&signer, &claims, &exchange, &pool);
                    let (stop, measuring, start) = (&stop, &measuring, &start);
                    let (errors, first_error, signed_inline) =
                        (&errors, &first_error, &signed_inline);
                    scope.spawn(move || {
                        let mut samples = Vec::new();
                        let mut started = false;
                        while !stop.load(Ordering::Relaxed) {
                            if !started && measuring.load(Ordering::Relaxed) {
                                // Line up once the warm-up is over, so the CPU window is ours.
                                start.wait();
                                started = true;
                                samples.clear();
                            }
                            let pooled = pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
                            let assertion = match pooled {
                                Some(a) => Ok(a),
                                None => {
                                    // The pool ran dry: the row then includes some signing.
                                    signed_inline.fetch_add(1, Ordering::Relaxed);
                                    signer.sign(claims).map_err(|e| e.to_string())
                                }
                            };
                            let t0 = Instant::now();
                            let result = assertion
                                .and_then(|a| exchange.exchange(&a).map_err(|e| e.to_string()));
                            match result {
                                Ok(_) => samples.push(t0.elapsed()),
                                Err(e) => {
                                    errors.fetch_add(1, Ordering::Relaxed);
                                    let mut first =
                                        first_error.lock().unwrap_or_else(|p| p.into_inner());
                                    first.get_or_insert(e);
                                }
                            }
                        }
                        samples
                    })
                })
                .collect();
            thread::sleep(opts.warmup);
            measuring.store(true, Ordering::Relaxed);
            start.wait();
            let t0 = Instant::now();
            before = (self_cpu_ticks(), group_cpu_ticks(opts.keycloak_pgid));
            thread::sleep(opts.seconds);
            after = (self_cpu_ticks(), group_cpu_ticks(opts.keycloak_pgid));
            wall = t0.elapsed();
            stop.store(true, Ordering::Relaxed);
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_default())
                .collect()
        });
        rate_guess = rate_guess
            .max(samples.iter().map(Vec::len).sum::<usize>() as f64 / opts.seconds.as_secs_f64());
        // Grants finished inside the window: the few that straddle its end are counted in
        // the latency samples but not in the rate (they finished after `after` was read).
        let mut all: Vec<Duration> = samples.into_iter().flatten().collect();
        let grants = all.len().max(1) as f64;
        let grants_per_s = all.len() as f64 / wall.as_secs_f64();
        let tick_us = 1e6 / TICKS_PER_SEC;
        let (user, sys) = (after.0.0 - before.0.0, after.0.1 - before.0.1);
        report.runs.push(ConcurrencyRun {
            threads,
            grants_per_s,
            latencies: Latencies::from_samples(&mut all),
            client_cpu_us: (user + sys) as f64 * tick_us / grants,
            // Kernel time: on loopback the client's side of TCP (both directions' softirq
            // work is often charged to whoever is running) is part of the client's bill.
            client_sys_us: sys as f64 * tick_us / grants,
            keycloak_cpu_us: match (before.1, after.1) {
                (Some(b), Some(a)) => Some((a - b) as f64 * tick_us / grants),
                _ => None,
            },
            signed_inline: signed_inline.load(Ordering::Relaxed),
            errors: errors.load(Ordering::Relaxed),
        });
        if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            eprintln!("bench_keycloak: {threads} threads: first error: {e}");
        }
    }
    jwtgrant_bench::print(&report)?;
    Ok(())
}

/// `sysconf(_SC_CLK_TCK)`, the unit of `/proc/*/stat` CPU times: 100 on every Linux
/// architecture this runs on (the kernel's `USER_HZ`, fixed by its ABI).
const TICKS_PER_SEC: f64 = 100.0;

/// (utime, stime) of this process (all threads), in clock ticks.
fn self_cpu_ticks() -> (u64, u64) {
    fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat(&s))
        .map_or((0, 0), |(_, user, sys)| (user, sys))
}

/// utime + stime summed over every process of process group `pgid` (Keycloak's `kc.sh` and
/// its `java`), in clock ticks; `None` without a pgid.
fn group_cpu_ticks(pgid: Option<u32>) -> Option<u64> {
    let pgid = pgid?;
    let mut total = 0;
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue; // the process ended meanwhile
        };
        if let Some((group, user, sys)) = parse_stat(&stat)
            && group == pgid
        {
            total += user + sys;
        }
    }
    Some(total)
}

/// (pgrp, utime, stime) from a `/proc/PID/stat` line. The command name is in parentheses
/// and may hold spaces, so fields are counted from the last ')'.
fn parse_stat(stat: &str) -> Option<(u32, u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12).
    let pgrp = fields.get(2)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((pgrp, utime, stime))
}

/// One process of the fleet: one refresh-ahead `TokenSource`, filled once, then T threads
/// calling `token()` every `interval` for `seconds`. Reports the exchanges it sent, the time
/// of each after the fill, and every call's latency as a sparse log-linear histogram.
fn fleet(opts: &Options) -> Res<()> {
    let (signer, claims) = opts.signer()?;
    let threads = opts.threads.first().copied().unwrap_or(1);
    let origin = Instant::now();
    let sent = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let source = {
        let sent = Arc::clone(&sent);
        TokenSource::new(opts.exchange()?, move || {
            sent.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(origin.elapsed());
            signer.sign(&claims)
        })
        .refresh_margin(opts.margin)
        .refresh_ahead()
    };
    let t0 = Instant::now();
    source.token()?;
    let fill_us = t0.elapsed().as_secs_f64() * 1e6;
    let filled = origin.elapsed();

    let stop = AtomicBool::new(false);
    let errors = AtomicU64::new(0);
    let mut involuntary_switches = None;
    let mut voluntary_switches = None;
    let histograms: Vec<Histogram> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (source, stop, errors) = (&source, &stop, &errors);
                scope.spawn(move || {
                    let mut hist = Histogram::default();
                    while !stop.load(Ordering::Relaxed) {
                        let t0 = Instant::now();
                        let token = source.token();
                        hist.record(t0.elapsed());
                        if token.is_err() {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        drop(token);
                        thread::sleep(opts.interval);
                    }
                    hist
                })
            })
            .collect();
        thread::sleep(opts.seconds);
        // Preemptions: a caller descheduled inside token() is the slow tail, not the code.
        // Read while the callers (and the refresher) are still alive.
        involuntary_switches = threads_status_sum("nonvoluntary_ctxt_switches:");
        voluntary_switches = threads_status_sum("voluntary_ctxt_switches:");
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let ran = origin.elapsed() - filled;
    let sent = sent.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut total = Histogram::default();
    for h in &histograms {
        total.merge(h);
    }
    jwtgrant_bench::print(&FleetReport {
        fill_us,
        run_s: ran.as_secs_f64(),
        exchange_at_s: sent
            .iter()
            .map(|t| t.saturating_sub(filled).as_secs_f64())
            .collect(),
        calls: total.count,
        errors: errors.load(Ordering::Relaxed),
        max_ns: total.max_ns,
        hist: total.sparse(),
        involuntary_switches,
        voluntary_switches,
    })?;
    Ok(())
}

/// A numeric field of `/proc/self/task/*/status` (e.g. `voluntary_ctxt_switches:`) summed
/// over this process's live threads: the process-level file counts the main thread only.
/// Call it before the worker threads end.
fn threads_status_sum(field: &str) -> Option<u64> {
    let mut total = 0;
    for task in fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Ok(status) = fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        let line = status.lines().find(|l| l.starts_with(field))?;
        total += line.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Latencies in log-linear buckets: 16 per power of two (at most 1/16 = 6% too high), so a
/// thread can record millions of calls in a fixed 8 KiB.
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    max_ns: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: vec![0; 64 * 16],
            count: 0,
            max_ns: 0,
        }
    }
}

impl Histogram {
    fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket(ns)] += 1;
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// The non-empty buckets, smallest first: the xtask merges the processes' lists.
    fn sparse(&self) -> Vec<Bucket> {
        (0..self.buckets.len())
            .filter(|&i| self.buckets[i] > 0)
            .map(|i| Bucket {
                upper_ns: bucket_upper(i),
                count: self.buckets[i],
            })
            .collect()
    }
}

/// Values below 16 ns get a bucket each; above, 16 buckets per power of two.
fn bucket(ns: u64) -> usize {
    if ns < 16 {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros() as usize; // >= 4
    let sub = ((ns >> (exp - 4)) & 15) as usize;
    (exp - 3) * 16 + sub
}

/// The largest value in bucket `i`.
fn bucket_upper(i: usize) -> u64 {
    if i < 16 {
        return i as u64;
    }
    let exp = i / 16 + 3;
    let sub = (i % 16) as u64;
    ((16 + sub + 1) << (exp - 4)) - 1
}
