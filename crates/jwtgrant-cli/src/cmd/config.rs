//! `config show`: the options `token` would run with, each with where it came from.

use anyhow::Result;
use clap::parser::ValueSource;

use crate::files;
use crate::profile::Profile;
use crate::settings::secrets::{ADMIN_PASSWORD_ENV, CLIENT_SECRET_ENV};

/// Prints one line per option of `token` that has a value: `--realm acme  (profile 'dev'
/// (/path:3))`. `cli` is the parser with the profile applied; the values of
/// hidden-value options and of the secrets' variables are redacted.
pub fn show(cli: &clap::Command, profile: Option<&Profile>) -> Result<()> {
    let matches = cli
        .clone()
        .try_get_matches_from(["jwtgrant", "token"])
        .map_err(|e| anyhow::anyhow!("cannot resolve the options of token: {e}"))?;
    let (_, token) = matches
        .subcommand()
        .ok_or_else(|| anyhow::anyhow!("no token command"))?;
    // The options in the order `token --help` shows them (applying a profile re-adds the
    // options it sets at the end of the parser's list).
    let pristine = <crate::cli::Cli as clap::CommandFactory>::command();
    let order: Vec<&str> = pristine
        .find_subcommand("token")
        .map(|t| t.get_arguments().filter_map(clap::Arg::get_long).collect())
        .unwrap_or_default();
    let command = cli
        .find_subcommand("token")
        .ok_or_else(|| anyhow::anyhow!("no token command"))?;
    let mut args: Vec<&clap::Arg> = command.get_arguments().collect();
    args.sort_by_key(|a| {
        a.get_long()
            .and_then(|l| order.iter().position(|o| *o == l))
            .unwrap_or(usize::MAX)
    });
    let mut out = String::new();
    match profile {
        Some(p) => out.push_str(&format!("profile '{}' from {}\n", p.name, p.path.display())),
        None => out.push_str("no profile selected (--profile NAME or JWTGRANT_PROFILE)\n"),
    }
    for arg in args {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        let Some(raw) = token.get_raw(id) else {
            continue;
        };
        let values: Vec<String> = raw.map(|v| v.to_string_lossy().into_owned()).collect();
        let source = match token.value_source(id) {
            Some(ValueSource::EnvVariable) => arg
                .get_env()
                .map_or_else(String::new, |e| e.to_string_lossy().into_owned()),
            Some(ValueSource::DefaultValue) => {
                match profile.and_then(|p| Some((p, p.get(long)?))) {
                    Some((p, e)) => p.source(e),
                    None if !arg.get_action().takes_values() => continue,
                    None => "default".to_owned(),
                }
            }
            _ => continue,
        };
        let shown = if arg.is_hide_env_values_set() {
            "(redacted)".to_owned()
        } else {
            values.join(" ")
        };
        out.push_str(&format!("--{long} {shown}  ({source})\n"));
    }
    for (var, what) in [
        (CLIENT_SECRET_ENV, "client secret"),
        (ADMIN_PASSWORD_ENV, "admin password"),
    ] {
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            out.push_str(&format!("{what}: (redacted)  ({var})\n"));
        }
    }
    files::stdout(&out)
}
