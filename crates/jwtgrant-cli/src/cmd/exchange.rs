//! `exchange` and `token`: the token client from the settings, the exchange, the answer
//! printed.

use std::time::Instant;

use anyhow::{Context as _, Result};
use jwtgrant_exchange::{ClientAuth, Exchange, RetryPolicy, TokenResponse};
use serde_json::Value;

use crate::cli::OutputArgs;
use crate::files;
use crate::settings::client::{Client, Endpoint, Route};
use crate::settings::token::{ExchangeSettings, TokenSettings};

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
    let ex = connect(s.client)?.retries(RetryPolicy::attempts(s.retries.saturating_add(1)));
    let started = Instant::now();
    let token = ex.exchange_with(|| {
        s.assertions
            .make()
            .map_err(|e| DisplayError(format!("{e:#}")))
    })?;
    log::info!("token in {} ms", started.elapsed().as_millis());
    print_token(&token, &s.output)
}

/// Carries an anyhow message through the library's `Into<BoxError>` bound.
#[derive(Debug)]
struct DisplayError(String);
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
    if out.json {
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
