//! Signing and verification rates of the compiled-in crypto backend, for `cargo xtask bench`.
//!
//! ```text
//! cargo run --release -p jwtgrant-bench --bin bench_sign -- [--seconds S] [--warmup S]
//! ```
//!
//! Build it once with the default features (ring) and once with
//! `--no-default-features --features aws-lc-rs,keygen` to compare the backends. Each row
//! signs (or verifies) the same fixed claims over and over, so every iteration does the same
//! work: `iat` and `jti` are fixed, the key is parsed once. One warm-up period, then one
//! measured period; the rate is iterations divided by the measured wall time.
//!
//! Built with `--features pkcs11` and run with the environment `cargo xtask softhsm` prints,
//! it also signs through SoftHSM2 with keys generated in the token (`pkcs11` rates), in the
//! same run as the in-memory rates, on one thread and on four.
//!
//! Output is one line of JSON on stdout, a [`jwtgrant_bench::SignReport`], for the xtask.

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use jwtgrant_bench::{AlgRates, SignReport, peak_rss_kib};
use jwtgrant_signer::{Algorithm, Claims, Signer, backend, verify};

// The test keys of the signer's own suite (see its tests/fixtures/README.md): RSA is 2048 bits.
const RSA_2048: &str =
    include_str!("../../../crates/jwtgrant-signer/tests/fixtures/rsa2048-pkcs8.pem");
const P256: &str = include_str!("../../../crates/jwtgrant-signer/tests/fixtures/es256-pkcs8.pem");
const ED25519: &str =
    include_str!("../../../crates/jwtgrant-signer/tests/fixtures/ed25519-pkcs8.pem");

fn main() -> Result<(), Box<dyn Error>> {
    let opts = Options::parse()?;
    let mut report = SignReport {
        backend: backend().to_owned(),
        in_memory: Vec::new(),
        pkcs11: Vec::new(),
        peak_rss_kib: None,
    };

    // The same iss/sub/aud as the seed's Node issuer's `--bench` mode, so both sign payloads
    // of about the same size. A fixed iat (2023-11-14) and jti: the payload never changes.
    let claims = Claims::new(
        "http://localhost:3000",
        "nodejsuser-1234",
        "http://localhost:8080/realms/acme",
    )
    .issued_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    .jwt_id("0b6f2c4e-5d1a-4c8e-9a57-3f1e2d4c6b8a");

    for (alg, pem) in [
        (Algorithm::RS256, RSA_2048),
        (Algorithm::ES256, P256),
        (Algorithm::EdDSA, ED25519),
    ] {
        let signer = Signer::from_pem(pem.as_bytes())?.with_algorithm(alg)?;
        let public = signer.public_key();
        let token = signer.sign(&claims)?;
        // Checked once, outside the timed loops: a bench of a broken signer is worthless.
        let verified = verify(&token, &public)?;
        if verified.claims()["jti"] != "0b6f2c4e-5d1a-4c8e-9a57-3f1e2d4c6b8a" {
            return Err(format!("{alg:?}: the verified token lost its fixed jti").into());
        }

        let signs_per_s = measure(&opts, || {
            let token = signer.sign(black_box(&claims));
            black_box(token).map(drop)
        })?;
        let verifies_per_s = measure(&opts, || {
            let verified = verify(black_box(&token), black_box(&public));
            black_box(verified).map(drop)
        })?;
        report.in_memory.push(AlgRates {
            alg: alg.as_str().to_owned(),
            signs_per_s,
            verifies_per_s,
        });
    }

    #[cfg(feature = "pkcs11")]
    {
        report.pkcs11 = pkcs11::bench(&opts, &claims)?;
    }

    report.peak_rss_kib = peak_rss_kib();
    jwtgrant_bench::print(&report)?;
    Ok(())
}

struct Options {
    warmup: Duration,
    seconds: Duration,
}

impl Options {
    fn parse() -> Result<Options, Box<dyn Error>> {
        let mut opts = Options {
            warmup: Duration::from_millis(500),
            seconds: Duration::from_secs(2),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let value = args
                .next()
                .ok_or_else(|| format!("{arg} needs a value in seconds"))?;
            let secs: f64 = value
                .parse()
                .map_err(|_| format!("{arg} '{value}' is not a number of seconds"))?;
            let secs = Duration::try_from_secs_f64(secs)
                .map_err(|_| format!("{arg} '{value}' is not a number of seconds"))?;
            match arg.as_str() {
                "--warmup" => opts.warmup = secs,
                "--seconds" => opts.seconds = secs,
                other => {
                    return Err(format!(
                        "unknown argument '{other}' (usage: bench_sign [--seconds S] [--warmup S])"
                    )
                    .into());
                }
            }
        }
        Ok(opts)
    }
}

/// Runs `op` for the warm-up period, then for the measured period; returns operations per second.
fn measure<E: Error + 'static>(
    opts: &Options,
    mut op: impl FnMut() -> Result<(), E>,
) -> Result<f64, Box<dyn Error>> {
    run_for(opts.warmup, &mut op)?;
    let (count, elapsed) = run_for(opts.seconds, &mut op)?;
    Ok(count as f64 / elapsed.as_secs_f64())
}

/// Calls `op` until `period` has passed; returns the number of calls and the time they took.
/// One clock read per call is noise here: the cheapest operation (Ed25519) takes microseconds.
fn run_for<E: Error + 'static>(
    period: Duration,
    op: &mut impl FnMut() -> Result<(), E>,
) -> Result<(u64, Duration), Box<dyn Error>> {
    let start = Instant::now();
    let mut count = 0u64;
    loop {
        op()?;
        count += 1;
        let elapsed = start.elapsed();
        if elapsed >= period {
            return Ok((count, elapsed));
        }
    }
}

#[cfg(feature = "pkcs11")]
mod pkcs11 {
    use std::error::Error;
    use std::hint::black_box;

    use jwtgrant_bench::Pkcs11Rates;
    use jwtgrant_signer::pkcs11::{Pin, Pkcs11Key, Pkcs11Uri};
    use jwtgrant_signer::{Algorithm, Claims, KeyType, Signer, verify};

    use super::{Options, measure};

    /// Signing rates through the token; nothing when the SoftHSM environment is not set.
    pub fn bench(opts: &Options, claims: &Claims) -> Result<Vec<Pkcs11Rates>, Box<dyn Error>> {
        let (Ok(module), Ok(token), Ok(pin)) = (
            std::env::var("JWTGRANT_TEST_PKCS11_MODULE"),
            std::env::var("JWTGRANT_TEST_PKCS11_TOKEN"),
            std::env::var("JWTGRANT_TEST_PKCS11_PIN"),
        ) else {
            eprintln!("bench_sign: no SoftHSM environment (cargo xtask softhsm): no pkcs11 rows");
            return Ok(Vec::new());
        };
        let mut rates = Vec::new();
        for (alg, key_type) in [
            (Algorithm::RS256, KeyType::Rsa),
            (Algorithm::ES256, KeyType::EcP256),
        ] {
            let uri: Pkcs11Uri = format!(
                "pkcs11:token={token};object=bench-{alg}-{}",
                std::process::id()
            )
            .parse()?;
            let key = Pkcs11Key::generate(
                &uri,
                Some(module.as_ref()),
                &Pin::new(pin.as_str()),
                key_type,
                2048,
            )?;
            let signer = Signer::from_key(key).with_algorithm(alg)?;
            verify(&signer.sign(claims)?, &signer.public_key())?;
            let one = measure(opts, || signer.sign(black_box(claims)).map(drop))?;
            // Four threads through one Signer: the session pool at work.
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let signer = signer.clone();
                    let claims = claims.clone();
                    let opts = Options {
                        warmup: opts.warmup,
                        seconds: opts.seconds,
                    };
                    std::thread::spawn(move || {
                        measure(&opts, || signer.sign(black_box(&claims)).map(drop))
                            .map_err(|e| e.to_string())
                    })
                })
                .collect();
            let mut total = 0.0;
            for t in threads {
                total += t.join().map_err(|_| "a bench thread panicked")??;
            }
            rates.push(Pkcs11Rates {
                alg: alg.as_str().to_owned(),
                signs_per_s: one,
                signs_per_s_4_threads: total,
            });
        }
        Ok(rates)
    }
}
