//! `exchange` and `token`: build the token client from the options and print the answer.

use std::time::Instant;

use anyhow::{Context as _, Result};
use jwtgrant_exchange::{ErrorKind, Exchange, ExchangeError, RetryPolicy, TokenResponse};
use serde_json::Value;

use super::Globals;
use super::sign::Assertions;
use crate::cli::{
    ClientArgs, ClientAuth, EndpointArgs, ExchangeCmd, KeycloakArgs, OutputArgs, TokenCmd,
};
use crate::error::{REJECTED, UNREACHABLE, USAGE, Verdict, usage};
use crate::secrets::{self, Secret};
use crate::{advice, files};

/// The token client for these options. `stdin_taken`: the assertion comes from stdin.
pub fn client(
    endpoint: &EndpointArgs,
    kc: &KeycloakArgs,
    client: &ClientArgs,
    g: Globals,
    stdin_taken: bool,
) -> Result<Exchange> {
    secrets::refuse_secret_flags(Some(client), None)?;
    // Read everything local before any network traffic (discovery), so a missing secret
    // or key file fails fast.
    let secret = secrets::client_secret(client, stdin_taken)?;
    let auth = Auth::from_args(client, secret, g)?;
    let ex = endpoint_client(endpoint, kc)?;
    Ok(auth.apply(ex))
}

/// How the client authenticates, with its secret or key loaded.
pub struct Auth {
    client_id: String,
    method: ClientAuth,
    secret: Option<Secret>,
    signer: Option<jwtgrant_signer::Signer>,
    scope: Option<String>,
}

impl Auth {
    pub fn from_args(client: &ClientArgs, secret: Option<Secret>, g: Globals) -> Result<Self> {
        let client_id = client
            .client_id
            .clone()
            .ok_or_else(|| usage("missing --client-id ID (the confidential Keycloak client)"))?;
        let signer = match client.client_auth {
            ClientAuth::PrivateKeyJwt => {
                let key = client.client_key.as_ref().ok_or_else(|| {
                    usage("--client-auth private-key-jwt needs --client-key FILE (the client's private key)")
                })?;
                Some(super::keys::signer(key, g, None, None, false)?)
            }
            _ => None,
        };
        Ok(Self {
            client_id,
            method: client.client_auth,
            secret,
            signer,
            scope: client.scope.clone(),
        })
    }

    pub fn apply(self, ex: Exchange) -> Exchange {
        let id = self.client_id;
        let ex = match (self.method, self.secret, self.signer) {
            (ClientAuth::Post, Some(s), _) => ex.client_secret_post(id, s.expose()),
            (ClientAuth::Basic, Some(s), _) => ex.client_secret_basic(id, s.expose()),
            (ClientAuth::PrivateKeyJwt, _, Some(signer)) => ex.private_key_jwt(id, signer),
            _ => ex.client_none(id),
        };
        match self.scope {
            Some(scope) => ex.scope(scope),
            None => ex,
        }
    }
}

/// The token endpoint and transport settings, without client authentication.
pub fn endpoint_client(endpoint: &EndpointArgs, kc: &KeycloakArgs) -> Result<Exchange> {
    let ca = match &endpoint.ca_file {
        Some(path) => Some((path, files::read(path, "CA file")?)),
        None => None,
    };
    let mut ex = if let Some(url) = &endpoint.token_endpoint {
        Exchange::new(url)?
    } else if let Some(url) = &endpoint.issuer_url {
        Exchange::new(url)?
    } else if let (Some(base), Some(realm)) = (&kc.keycloak, &kc.realm) {
        Exchange::keycloak(base, realm)?
    } else {
        return Err(usage(
            "missing token endpoint: pass --token-endpoint URL, --issuer-url URL (discovery), or --keycloak URL and --realm REALM",
        ));
    };
    ex = ex
        .timeout(endpoint.timeout)
        .connect_timeout(endpoint.timeout)
        .allow_insecure_http(endpoint.allow_insecure_http);
    if let Some((path, pem)) = ca {
        ex = ex
            .ca_bundle_pem(&pem)
            .with_context(|| format!("cannot use CA file '{}'", path.display()))?;
    }
    if let Some(url) = &endpoint.issuer_url
        && endpoint.token_endpoint.is_none()
    {
        ex = ex.discover_endpoint(url)?;
    }
    log::info!("token endpoint {}", ex.token_endpoint());
    Ok(ex)
}

pub fn run_exchange(cmd: &ExchangeCmd, g: Globals) -> Result<()> {
    secrets::refuse_secret_flags(Some(&cmd.client), None)?;
    let from_stdin = cmd.assertion == "-";
    let ex = client(&cmd.endpoint, &cmd.keycloak, &cmd.client, g, from_stdin)?;
    let assertion = if from_stdin {
        files::read_stdin_trimmed("assertion")?
    } else {
        cmd.assertion.trim().to_owned()
    };
    let started = Instant::now();
    let token = ex.exchange(&assertion)?;
    log::info!("token in {} ms", started.elapsed().as_millis());
    print_token(&token, &cmd.output)
}

pub fn run_token(cmd: &TokenCmd, g: Globals) -> Result<()> {
    secrets::refuse_secret_flags(Some(&cmd.client), None)?;
    let assertions = Assertions::from_args(&cmd.sign, &cmd.keycloak, g)?;
    let ex = client(&cmd.endpoint, &cmd.keycloak, &cmd.client, g, false)?
        .retries(RetryPolicy::attempts(cmd.retries.saturating_add(1)));
    let started = Instant::now();
    let token = ex.exchange_with(|| {
        assertions
            .make()
            .map_err(|e| DisplayError(format!("{e:#}")))
    })?;
    log::info!("token in {} ms", started.elapsed().as_millis());
    print_token(&token, &cmd.output)
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

/// Exit code and hint for the exchange crate's errors, phrased for the CLI's flags.
pub fn classify_exchange_error(e: &ExchangeError, v: &mut Verdict) {
    v.code = match e.kind() {
        ErrorKind::Rejected => REJECTED,
        ErrorKind::Unreachable | ErrorKind::BadResponse => UNREACHABLE,
        ErrorKind::Config => match e {
            ExchangeError::InvalidUrl { .. } | ExchangeError::InsecureHttp { .. } => USAGE,
            _ => crate::error::FAILURE,
        },
        _ => crate::error::FAILURE,
    };
    let hint: Option<String> = match e {
        ExchangeError::InsecureHttp { .. } => Some(
            "use https, or pass --allow-insecure-http if you accept that the client secret and tokens travel in clear text".into(),
        ),
        ExchangeError::Timeout { .. } => Some(
            "check that the host is reachable from here (firewall, HTTPS_PROXY/NO_PROXY), or raise --timeout".into(),
        ),
        ExchangeError::Tls { .. } => Some(
            "if the server's certificate comes from an internal CA, pass it with --ca-file PEM; check the host name matches the certificate".into(),
        ),
        ExchangeError::Discovery { .. } => Some(
            "pass the issuer URL (for Keycloak <base>/realms/<realm>), or --token-endpoint / --keycloak and --realm".into(),
        ),
        // Keycloak's rejection: the library's hint, then how to do it with jwtgrant.
        ExchangeError::Rejected(r) => match (r.hint(), r.check().and_then(advice::for_check)) {
            (Some(h), Some(a)) => Some(format!("{h}; with jwtgrant: {a}")),
            (h, a) => h.or(a).map(str::to_owned),
        },
        _ => e.hint().map(str::to_owned),
    };
    if let Some(h) = hint {
        v.extra.push(format!("  hint: {h}"));
    }
}
