//! The cost of `TokenSource::token()` when the cached token is valid (the hit path), next to
//! the cost of one exchange, for `cargo xtask bench`.
//!
//! ```text
//! cargo run --release -p jwtgrant-bench --bin bench_token_source -- [--seconds S] [--threads N]
//! ```
//!
//! The token endpoint is a loopback stub started here (`jwtgrant_test_support::Stub` on
//! 127.0.0.1:0, HTTP/1.1 keep-alive, one canned `{"access_token":...,"expires_in":300}`
//! answer). It is not Keycloak: its round trip is a floor on what a real exchange costs (no
//! Keycloak-side signature check, no database, no network), so the hit/exchange ratio it
//! gives is a lower bound.
//!
//! Output is one line of JSON on stdout, a [`jwtgrant_bench::TokenSourceReport`], for the
//! xtask.

use std::error::Error;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use jwtgrant_bench::{HitRate, TokenSourceReport, peak_rss_kib};
use jwtgrant_exchange::{Exchange, RetryPolicy, TokenSource};
use jwtgrant_signer::{Claims, Signer};
use jwtgrant_test_support::{Reply, Stub};

const RSA_2048: &str =
    include_str!("../../../crates/jwtgrant-signer/tests/fixtures/rsa2048-pkcs8.pem");

fn main() -> Result<(), Box<dyn Error>> {
    let opts = Options::parse()?;
    let stub = start_stub(&opts);
    let exchange = Exchange::new(&stub.url("/realms/acme/protocol/openid-connect/token"))?
        .client_secret_post("bench-client", "bench-secret")
        .proxy_from_env(false)
        // A failed request must show up as an error, not as a slower row.
        .retries(RetryPolicy::never());

    let signer = Arc::new(Signer::from_pem(RSA_2048.as_bytes())?);
    let claims = Claims::new(
        "http://localhost:3000",
        "nodejsuser-1234",
        "http://localhost:8080/realms/acme",
    )
    .issued_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    .jwt_id("0b6f2c4e-5d1a-4c8e-9a57-3f1e2d4c6b8a");
    let assertion = signer.sign(&claims)?;

    // 1. One exchange with an assertion signed beforehand: HTTP round trip, form encoding,
    //    response parsing. The stub answers from the same 2 cores, so its work is included.
    let per_exchange = mean_time(&opts, || exchange.exchange(&assertion).map(drop))?;

    // 2. A cache miss: a new source signs an RS256 assertion and exchanges it.
    let per_miss = mean_time(&opts, || {
        let (signer, claims) = (Arc::clone(&signer), claims.clone());
        TokenSource::new(exchange.clone(), move || signer.sign(&claims))
            .token()
            .map(drop)
    })?;

    // 3. The hit path: one source, filled once, then read for the rest of the run.
    let signed = Arc::new(AtomicU64::new(0));
    let source = {
        let (signer, claims, signed) = (Arc::clone(&signer), claims.clone(), Arc::clone(&signed));
        TokenSource::new(exchange.clone(), move || {
            signed.fetch_add(1, Ordering::Relaxed);
            signer.sign(&claims)
        })
    };
    let requests_before = stub.count();
    source.token()?; // the fill: the one exchange this source should ever make here

    let hit_1 = hit_rate(&source, 1, &opts)?;
    let hit_n = hit_rate(&source, opts.threads, &opts)?;
    let sent = stub.count() - requests_before;

    jwtgrant_bench::print(&TokenSourceReport {
        exchange_us: per_exchange.as_secs_f64() * 1e6,
        miss_us: per_miss.as_secs_f64() * 1e6,
        hit_1,
        threads: opts.threads,
        hit_n,
        hit_exchanges: sent as u64,
        hit_assertions: signed.load(Ordering::Relaxed),
        peak_rss_kib: peak_rss_kib(),
    })?;
    Ok(())
}

struct Options {
    warmup: Duration,
    seconds: Duration,
    threads: usize,
}

impl Options {
    fn parse() -> Result<Options, Box<dyn Error>> {
        let mut opts = Options {
            warmup: Duration::from_millis(300),
            seconds: Duration::from_secs(2),
            threads: thread::available_parallelism()
                .map_or(2, usize::from)
                .max(2),
        };
        let usage = "usage: bench_token_source [--seconds S] [--warmup S] [--threads N]";
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
            let secs = || -> Result<Duration, String> {
                value
                    .parse::<f64>()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .ok_or_else(|| format!("{arg} '{value}' is not a number of seconds"))
            };
            match arg.as_str() {
                "--warmup" => opts.warmup = secs()?,
                "--seconds" => opts.seconds = secs()?,
                "--threads" => {
                    opts.threads =
                        value.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                            format!("--threads '{value}' is not a positive number")
                        })?;
                }
                other => return Err(format!("unknown argument '{other}' ({usage})").into()),
            }
        }
        Ok(opts)
    }
}

/// Runs `op` for the warm-up period, then for the measured period; returns the mean time per call.
fn mean_time<E: Error + 'static>(
    opts: &Options,
    mut op: impl FnMut() -> Result<(), E>,
) -> Result<Duration, Box<dyn Error>> {
    for period in [opts.warmup, opts.seconds] {
        let start = Instant::now();
        let mut count = 0u32;
        loop {
            op()?;
            count += 1;
            let elapsed = start.elapsed();
            if elapsed >= period {
                if period == opts.seconds {
                    return Ok(elapsed / count);
                }
                break;
            }
        }
    }
    Err("the measured period ended before it started".into())
}

/// `threads` threads call `source.token()` in a loop for the measured period (after a
/// warm-up); each reads the clock once per batch, so the clock's cost stays out of the numbers.
fn hit_rate(
    source: &TokenSource,
    threads: usize,
    opts: &Options,
) -> Result<HitRate, Box<dyn Error>> {
    const BATCH: u64 = 1_000;
    let stop = AtomicBool::new(false);
    let start = Barrier::new(threads + 1);
    let results: Vec<(u64, Duration)> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (stop, start) = (&stop, &start);
                scope.spawn(move || {
                    let batch = || {
                        for _ in 0..BATCH {
                            black_box(source.token()?);
                        }
                        Ok::<(), jwtgrant_exchange::ExchangeError>(())
                    };
                    let warm_until = Instant::now() + opts.warmup;
                    while Instant::now() < warm_until {
                        batch()?;
                    }
                    start.wait();
                    let began = Instant::now();
                    let mut calls = 0;
                    while !stop.load(Ordering::Relaxed) {
                        batch()?;
                        calls += BATCH;
                    }
                    Ok::<_, jwtgrant_exchange::ExchangeError>((calls, began.elapsed()))
                })
            })
            .collect();
        start.wait();
        thread::sleep(opts.seconds);
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| "a benchmark thread panicked")?
                    .map_err(Into::into)
            })
            .collect::<Result<_, Box<dyn Error>>>()
    })?;
    let ns_per_call = results
        .iter()
        .map(|(calls, elapsed)| elapsed.as_secs_f64() * 1e9 / *calls as f64)
        .sum::<f64>()
        / results.len() as f64;
    let calls_per_s = results
        .iter()
        .map(|(calls, elapsed)| *calls as f64 / elapsed.as_secs_f64())
        .sum();
    Ok(HitRate {
        ns_per_call,
        calls_per_s,
    })
}

/// A loopback token endpoint (keep-alive) that answers every POST with the same token,
/// counting requests without keeping them: the run's peak memory is one of the results.
fn start_stub(opts: &Options) -> Stub {
    // About the size of a Keycloak access token (a signed JWT of 1-1.5 KB).
    let token = "x".repeat(1200);
    let reply = Reply::json(
        200,
        format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":300}}"#),
    );
    // Four measured phases of warm-up plus run each; the stub outlives them with room to spare
    // and still ends if the bench is stuck.
    let lifetime = (opts.warmup + opts.seconds) * 8 + Duration::from_secs(60);
    Stub::builder()
        .keep_alive(true)
        .record(false)
        .lifetime(lifetime)
        .start(move |_, _| reply.clone())
}
