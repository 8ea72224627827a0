//! `exchange` and `token`: an assertion (given, or signed on demand) and the token client.

use anyhow::Result;

use super::assertion::Assertions;
use super::client::{self, Client};
use super::secrets::Secret;
use crate::cli::{AgentCmd, ExchangeCmd, ExecCmd, OutputArgs, TokenRequest};
use crate::globals::Globals;

/// What `jwtgrant exchange` runs with.
#[derive(Debug)]
pub struct ExchangeSettings {
    pub client: Client,
    /// The assertion to exchange (a bearer credential until it expires).
    pub assertion: Secret,
    pub output: OutputArgs,
}

/// What `jwtgrant token` runs with.
#[derive(Debug)]
pub struct TokenSettings {
    /// Signs a fresh assertion for every attempt.
    pub assertions: Assertions,
    pub client: Client,
    /// `--retries`: attempts after the first one.
    pub retries: u32,
    pub output: OutputArgs,
    /// `--cache`: where, and how long a cached token must still be valid.
    pub cache: Option<CacheSettings>,
}

/// The cache `token --cache` uses.
#[derive(Debug)]
pub struct CacheSettings {
    pub dir: std::path::PathBuf,
    pub min_ttl: std::time::Duration,
    /// The profile's name, shown by `cache list`.
    pub label: Option<String>,
}

/// The cache directory: `--cache-dir`, else the library's default.
pub fn cache_dir(dir: Option<&std::path::Path>) -> Result<std::path::PathBuf> {
    match dir {
        Some(d) => Ok(d.to_owned()),
        None => Ok(jwtgrant_exchange::cache::FileCache::default_dir()?),
    }
}

pub fn exchange(cmd: &ExchangeCmd, g: &Globals) -> Result<ExchangeSettings> {
    let from_stdin = cmd.assertion == "-";
    let client = client::client(
        &cmd.endpoint,
        &cmd.keycloak,
        &cmd.client,
        &cmd.dpop,
        from_stdin,
        None,
        g,
    )?;
    let assertion = super::assertion::given(&cmd.assertion)?;
    Ok(ExchangeSettings {
        client,
        assertion: Secret::new(assertion),
        output: cmd.output.clone(),
    })
}

/// What `jwtgrant exec` runs with.
#[derive(Debug)]
pub struct ExecSettings {
    pub token: TokenSettings,
    /// The variable the token goes in.
    pub env_var: String,
    /// The program and its arguments.
    pub command: Vec<std::ffi::OsString>,
}

/// What `jwtgrant agent` runs with.
#[derive(Debug)]
pub struct AgentSettings {
    pub token: TokenSettings,
    pub sinks: Vec<std::path::PathBuf>,
    pub refresh_margin: std::time::Duration,
}

pub fn agent(cmd: &AgentCmd, g: &Globals) -> Result<AgentSettings> {
    let output = OutputArgs {
        json: false,
        output: None,
        env_var: "ACCESS_TOKEN".into(),
        decode: false,
    };
    let mut token = token(&cmd.request, &output, g)?;
    if token.cache.take().is_some() {
        log::info!("--cache does not apply to agent: it keeps its own token");
    }
    Ok(AgentSettings {
        token,
        sinks: cmd.sinks.clone(),
        refresh_margin: cmd.refresh_margin,
    })
}

pub fn exec(cmd: &ExecCmd, g: &Globals) -> Result<ExecSettings> {
    let output = OutputArgs {
        json: false,
        output: None,
        env_var: cmd.env_var.clone(),
        decode: false,
    };
    Ok(ExecSettings {
        token: token(&cmd.request, &output, g)?,
        env_var: cmd.env_var.clone(),
        command: cmd.command.clone(),
    })
}

pub fn token(cmd: &TokenRequest, output: &OutputArgs, g: &Globals) -> Result<TokenSettings> {
    let assertions = Assertions::resolve(
        &cmd.sign,
        &cmd.keycloak,
        Some(&cmd.endpoint),
        cmd.client.client_id.as_deref(),
        g,
    )?;
    let client = client::client(
        &cmd.endpoint,
        &cmd.keycloak,
        &cmd.client,
        &cmd.dpop,
        false,
        Some(&assertions),
        g,
    )?;
    Ok(TokenSettings {
        assertions,
        client,
        retries: cmd.retries,
        output: output.clone(),
        cache: match &cmd.cache {
            c if c.cache && !c.no_cache => Some(CacheSettings {
                dir: cache_dir(c.cache_dir.as_deref())?,
                min_ttl: c.min_ttl,
                label: g.profile.clone(),
            }),
            _ => None,
        },
    })
}
