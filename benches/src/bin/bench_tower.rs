//! The tower layer's overhead per request, Bearer and DPoP, next to a bare request to a
//! loopback server and one ES256 signature, for `cargo xtask bench`.
//!
//! ```text
//! cargo run --release -p jwtgrant-bench --bin bench_tower -- [--seconds S] [--warmup S]
//! ```
//!
//! The downstream service is in-process and answers at once, so the difference between a
//! request through the layer and one without it is the layer's own cost: the token from the
//! cache, the headers, for DPoP the proof (an ES256 signature), the response check and the
//! boxed future. Both token sources are filled once from a loopback stub token endpoint
//! before the timed loops; `grants` in the report shows that no request refreshed.
//!
//! Output is one line of JSON on stdout, a [`jwtgrant_bench::TowerReport`], for the xtask.

use std::convert::Infallible;
use std::error::Error;
use std::future::{Ready, poll_fn, ready};
use std::hint::black_box;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding};
use http::{Request, Response};
use jwtgrant_bench::{TowerReport, peak_rss_kib};
use jwtgrant_exchange::{Exchange, Method, RetryPolicy, TokenSource, Transport};
use jwtgrant_signer::Signer;
use jwtgrant_test_support::{Reply, Stub, block_on};
use jwtgrant_tower::AuthorizeLayer;
use tower_layer::Layer;
use tower_service::Service;

const ES256: &str = include_str!("../../../crates/jwtgrant-signer/tests/fixtures/es256-pkcs8.pem");
const URL: &str = "https://api.example.com/v1/items?page=2";

fn main() -> Result<(), Box<dyn Error>> {
    let opts = Options::parse()?;
    let key = Signer::from_pem(ES256.as_bytes())?;
    let stub = start_stub(&opts, &key.thumbprint());

    // 1. A bare request: one GET to the loopback stub, keep-alive, through the one transport.
    let transport = Transport::new().proxy_from_env(false);
    let bare_url = transport.check_url(&stub.url("/resource"))?;
    let bare = mean_time(&opts, || {
        transport
            .send(Method::Get, &bare_url, &[], None)
            .map(|r| drop(black_box(r)))
    })?;

    // 2. The floor: the same in-process service without the layer.
    let mut plain = Answer;
    let unlayered = mean_time(&opts, || one(&mut plain))?;

    // 3. Through the layer, Bearer and DPoP; each source filled once beforehand.
    let exchange = |path: &str| -> Result<Exchange, Box<dyn Error>> {
        Ok(Exchange::new(&stub.url(path))?
            .client_secret_post("bench-client", "bench-secret")
            .proxy_from_env(false)
            .retries(RetryPolicy::never()))
    };
    let assertion = || Ok::<_, Infallible>("h.p.s".to_owned());
    let bearer_source = TokenSource::new(exchange("/bearer")?, assertion).refresh_ahead();
    let dpop_source =
        TokenSource::new(exchange("/dpop")?.dpop(key.clone()), assertion).refresh_ahead();
    bearer_source.token()?;
    dpop_source.token()?;
    let mut bearer = AuthorizeLayer::new(bearer_source.clone()).layer(Answer);
    let mut dpop = AuthorizeLayer::new(dpop_source.clone()).layer(Answer);
    let bearer_time = mean_time(&opts, || one(&mut bearer))?;
    let dpop_time = mean_time(&opts, || one(&mut dpop))?;

    // 4. One ES256 signature of a proof's size: the reference for the DPoP overhead.
    let header = format!(
        r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#,
        key.public_key().to_jwk(None, None)
    );
    let claims = r#"{"jti":"0b6f2c4e-5d1a-4c8e-9a57-3f1e2d4c6b8a","htm":"GET","htu":"https://api.example.com/v1/items","iat":1700000000,"ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"}"#;
    let sign = mean_time(&opts, || {
        key.sign_jws(header.as_bytes(), claims.as_bytes())
            .map(|s| drop(black_box(s)))
    })?;

    let grants = bearer_source.stats().grants + dpop_source.stats().grants;
    jwtgrant_bench::print(&TowerReport {
        bare_request_us: bare.as_secs_f64() * 1e6,
        unlayered_ns: unlayered.as_secs_f64() * 1e9,
        bearer_ns: bearer_time.as_secs_f64() * 1e9,
        dpop_ns: dpop_time.as_secs_f64() * 1e9,
        es256_sign_ns: sign.as_secs_f64() * 1e9,
        grants,
        peak_rss_kib: peak_rss_kib(),
    })?;
    Ok(())
}

/// An in-process API that answers every request at once.
#[derive(Clone, Copy)]
struct Answer;

impl Service<Request<()>> for Answer {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        black_box(&request);
        ready(Ok(Response::new(())))
    }
}

/// One request: build it, `poll_ready`, `call`, await the response; a non-200 is an error.
fn one<S>(service: &mut S) -> Result<(), Box<dyn Error>>
where
    S: Service<Request<()>, Response = Response<()>>,
    S::Error: Into<Box<dyn Error + Send + Sync>>,
{
    let request = Request::get(URL).body(())?;
    let (response, _) = block_on(async {
        poll_fn(|cx| service.poll_ready(cx)).await?;
        service.call(request).await
    });
    let response = response.map_err(|e| -> Box<dyn Error> { e.into() })?;
    if response.status() != 200 {
        return Err(format!("status {}", response.status()).into());
    }
    Ok(())
}

struct Options {
    warmup: Duration,
    seconds: Duration,
}

impl Options {
    fn parse() -> Result<Options, Box<dyn Error>> {
        let mut opts = Options {
            warmup: Duration::from_millis(300),
            seconds: Duration::from_secs(2),
        };
        let usage = "usage: bench_tower [--seconds S] [--warmup S]";
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
            let secs = value
                .parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| format!("{arg} '{value}' is not a number of seconds"));
            match arg.as_str() {
                "--warmup" => opts.warmup = secs?,
                "--seconds" => opts.seconds = secs?,
                other => return Err(format!("unknown argument '{other}' ({usage})").into()),
            }
        }
        Ok(opts)
    }
}

/// Runs `op` for the warm-up period, then for the measured period; the mean time per call.
fn mean_time<E: Into<Box<dyn Error>>>(
    opts: &Options,
    mut op: impl FnMut() -> Result<(), E>,
) -> Result<Duration, Box<dyn Error>> {
    for (period, measured) in [(opts.warmup, false), (opts.seconds, true)] {
        let start = Instant::now();
        let mut count = 0u32;
        loop {
            op().map_err(Into::into)?;
            count += 1;
            let elapsed = start.elapsed();
            if elapsed >= period {
                if measured {
                    return Ok(elapsed / count);
                }
                break;
            }
        }
    }
    Err("the measured period ended before it started".into())
}

/// The loopback stub: `/bearer` and `/dpop` are token endpoints (a Bearer token, a token
/// bound to `jkt`), anything else is a tiny resource answer. Keep-alive, nothing recorded.
fn start_stub(opts: &Options, jkt: &str) -> Stub {
    // About the size of a Keycloak access token (a signed JWT of 1-1.5 KB).
    let filler = "x".repeat(1100);
    let bearer = Reply::json(
        200,
        format!(
            r#"{{"access_token":"e30.{filler}.c2ln","token_type":"Bearer","expires_in":3600}}"#
        ),
    );
    let payload = Base64UrlUnpadded::encode_string(
        format!(r#"{{"cnf":{{"jkt":"{jkt}"}},"pad":"{filler}"}}"#).as_bytes(),
    );
    let dpop = Reply::json(
        200,
        format!(r#"{{"access_token":"e30.{payload}.c2ln","token_type":"DPoP","expires_in":3600}}"#),
    );
    let resource = Reply::json(200, r#"{"ok":true}"#);
    let lifetime = (opts.warmup + opts.seconds) * 8 + Duration::from_secs(60);
    Stub::builder()
        .keep_alive(true)
        .record(false)
        .lifetime(lifetime)
        .start(move |req, _| match req.path() {
            "/bearer" => bearer.clone(),
            "/dpop" => dpop.clone(),
            _ => resource.clone(),
        })
}
