//! `exchange` and `token`: build the token client from the options and print the answer.

use std::time::Instant;

use anyhow::{Context as _, Result};
use jwtgrant_exchange::{ClientAuth as LibAuth, Exchange, RetryPolicy, TokenResponse, Transport};
use serde_json::Value;

use super::Globals;
use super::sign::Assertions;
use crate::cli::{
    ClientArgs, ClientAuth, EndpointArgs, ExchangeCmd, KeycloakArgs, OutputArgs, TokenCmd,
    TransportArgs,
};
use crate::error::usage;
use crate::files;
use crate::secrets::{self, Secret};

/// The token client for these options. `stdin_taken`: the assertion comes from stdin.
pub fn client(
    endpoint: &EndpointArgs,
    kc: &KeycloakArgs,
    client: &ClientArgs,
    g: &Globals,
    stdin_taken: bool,
) -> Result<Exchange> {
    secrets::refuse_secret_flags(Some(client), None)?;
    // Read everything local before any network traffic (discovery), so a missing secret
    // or key file fails fast.
    let secret = secrets::client_secret(client, stdin_taken, g)?;
    let auth = client_auth(client, secret, g)?;
    let transport = client_transport(&endpoint.transport, client, g)?;
    let ex = endpoint_client(endpoint, kc, transport)?;
    Ok(authenticated(ex, auth, client))
}

/// The library's client authentication for these options, with the secret or key loaded. The flag spelling (`--client-auth post`, ...) maps onto
/// [`jwtgrant_exchange::ClientAuth`] here and nowhere else.
pub fn client_auth(client: &ClientArgs, secret: Option<Secret>, g: &Globals) -> Result<LibAuth> {
    let client_id = client
        .client_id
        .clone()
        .ok_or_else(|| usage("missing --client-id ID (the confidential Keycloak client)"))?;
    let auth = match (client.client_auth, secret) {
        (ClientAuth::Post, Some(secret)) => LibAuth::SecretPost { client_id, secret },
        (ClientAuth::Basic, Some(secret)) => LibAuth::SecretBasic { client_id, secret },
        (ClientAuth::Tls, _) if client.client_cert.is_none() => {
            return Err(usage(
                "--client-auth tls needs --client-cert FILE and --client-key FILE (the certificate Keycloak matches by subject DN, and its key)",
            ));
        }
        (ClientAuth::Tls, _) => LibAuth::TlsClientAuth { client_id },
        (ClientAuth::PrivateKeyJwt, _) => {
            let key = client.client_key.as_ref().ok_or_else(|| {
                usage("--client-auth private-key-jwt needs --client-key FILE (the client's private key)")
            })?;
            let signer = super::keys::signer(key, g, None, None, false)?;
            LibAuth::PrivateKeyJwt { client_id, signer }
        }
        _ => LibAuth::None { client_id },
    };
    Ok(auth)
}

/// `ex` authenticating as these options say, with their scope.
pub fn authenticated(ex: Exchange, auth: LibAuth, client: &ClientArgs) -> Exchange {
    let ex = ex.client_auth(auth);
    match &client.scope {
        Some(scope) => ex.scope(scope.clone()),
        None => ex,
    }
}

/// The one transport every request of a command goes through, from the options.
pub fn transport(args: &TransportArgs) -> Result<Transport> {
    let mut transport = Transport::new()
        .timeout(args.timeout)
        .connect_timeout(args.timeout)
        .allow_insecure_http(args.allow_insecure_http);
    if let Some(path) = &args.ca_file {
        let pem = files::read(path, "CA file")?;
        transport = transport
            .ca_bundle_pem(&pem)
            .with_context(|| format!("cannot use CA file '{}'", path.display()))?;
    }
    Ok(transport)
}

/// [`transport`] presenting the client certificate of `client`, when it names one.
pub fn client_transport(
    args: &TransportArgs,
    client: &ClientArgs,
    g: &Globals,
) -> Result<Transport> {
    let transport = transport(args)?;
    let (Some(cert), Some(key)) = (&client.client_cert, &client.client_key) else {
        return Ok(transport);
    };
    let chain = files::read(cert, "client certificate")?;
    let key_file = files::PrivateFile::open(key, "client key")?;
    key_file.check(key, "client key", g.allow_insecure_key_permissions)?;
    transport
        .client_certificate_pem(&chain, key_file.bytes())
        .with_context(|| {
            format!(
                "cannot use client certificate '{}' with key '{}'",
                cert.display(),
                key.display()
            )
        })
}

/// The token endpoint on `transport`, without client authentication.
pub fn endpoint_client(
    endpoint: &EndpointArgs,
    kc: &KeycloakArgs,
    transport: Transport,
) -> Result<Exchange> {
    let ex = if let Some(url) = &endpoint.token_endpoint {
        Exchange::new(url)?
    } else if let Some(url) = &endpoint.issuer_url {
        Exchange::new(url)?
    } else if let (Some(base), Some(realm)) = (&kc.keycloak, &kc.realm) {
        jwtgrant_keycloak::exchange(base, realm)?
    } else {
        return Err(usage(
            "missing token endpoint: pass --token-endpoint URL, --issuer-url URL (discovery), or --keycloak URL and --realm REALM",
        ));
    };
    // --timeout bounds the whole call: every attempt and every wait between attempts.
    let mut ex = ex
        .call_timeout(endpoint.transport.timeout)
        .transport(transport);
    if let Some(url) = &endpoint.issuer_url
        && endpoint.token_endpoint.is_none()
    {
        ex = ex.discover_endpoint(url)?;
    }
    log::info!("token endpoint {}", ex.token_endpoint());
    Ok(ex)
}

pub fn run_exchange(cmd: &ExchangeCmd, g: &Globals) -> Result<()> {
    secrets::refuse_secret_flags(Some(&cmd.client), None)?;
    let from_stdin = cmd.assertion == "-";
    let ex = client(&cmd.endpoint, &cmd.keycloak, &cmd.client, g, from_stdin)?;
    let ex = super::dpop::with_dpop(ex, &cmd.dpop, g)?;
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

pub fn run_token(cmd: &TokenCmd, g: &Globals) -> Result<()> {
    secrets::refuse_secret_flags(Some(&cmd.client), None)?;
    let assertions =
        Assertions::from_args(&cmd.sign, &cmd.keycloak, cmd.client.client_id.as_deref(), g)?;
    let ex = client(&cmd.endpoint, &cmd.keycloak, &cmd.client, g, false)?
        .retries(RetryPolicy::attempts(cmd.retries.saturating_add(1)));
    let ex = super::dpop::with_dpop(ex, &cmd.dpop, g)?;
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
