//! Options that exclude each other, resolved after parsing: the command line beats the
//! environment, two values from the same place are a usage error naming both.

use super::{Cli, ClientArgs, ClientAuth, Command, DoctorArgs, KeycloakCmd, SignArgs};

/// Options that exclude each other, checked after parsing rather than by clap: clap counts
/// a value from an environment variable as given, so with `JWTGRANT_KEY` exported (as
/// `token` wants) `inspect --jwks FILE` or `keycloak doctor --assertion JWT` would be usage
/// errors. Here the command line beats the environment; two values from the same source
/// are still a usage error. Returns that error's message.
pub fn resolve_exclusive(cli: &mut Cli, matches: &clap::ArgMatches) -> Result<(), String> {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    if let Some(r) = cli.command.token_request_mut() {
        kid_or_thumbprint(&mut r.sign, m)?;
        return secret_file_or_stdin(&mut r.client, m);
    }
    match &mut cli.command {
        Command::Sign(c) => kid_or_thumbprint(&mut c.sign, m),
        Command::Exchange(c) => secret_file_or_stdin(&mut c.client, m),
        Command::Inspect(a) => {
            if exclusive(m, "key", "jwks")? == Some("key") {
                a.key = None;
            } else if a.key.is_some() {
                a.jwks = None;
            }
            Ok(())
        }
        Command::Keycloak(KeycloakCmd::Setup(a)) => {
            if exclusive(m, "public_key", "jwks_url")? == Some("public_key") {
                a.public_key = None;
            } else if a.public_key.is_some() {
                a.jwks_url = None;
            }
            Ok(())
        }
        Command::Keycloak(KeycloakCmd::Doctor(a)) => {
            assertion_or_signing(a, m)?;
            kid_or_thumbprint(&mut a.sign, m)?;
            secret_file_or_stdin(&mut a.client, m)
        }
        _ => Ok(()),
    }
}

/// `doctor --assertion JWT` against `--key/--iss/--sub` (which sign a fresh one).
fn assertion_or_signing(a: &mut DoctorArgs, m: &clap::ArgMatches) -> Result<(), String> {
    use clap::parser::ValueSource::{CommandLine, EnvVariable};
    let Some(assertion) = m.value_source("assertion") else {
        return Ok(());
    };
    let given: Vec<_> = ["key", "iss", "sub"]
        .into_iter()
        .filter_map(|id| m.value_source(id).map(|s| (id, s)))
        .collect();
    let from_cli = given.iter().find(|(_, s)| *s == CommandLine);
    match (assertion, from_cli, given.first()) {
        // Both on the command line, or both only in the environment: `exclusive` says so.
        (CommandLine, Some((id, _)), _) | (EnvVariable, None, Some((id, _))) => {
            exclusive(m, "assertion", id)?;
        }
        (EnvVariable, Some((id, _)), _) => {
            log::info!("JWTGRANT_ASSERTION ignored: --{id} is given");
            a.assertion = None;
        }
        _ => {}
    }
    if a.assertion.is_some() {
        for (id, _) in &given {
            log::info!(
                "JWTGRANT_{} ignored: --assertion is given",
                id.to_uppercase()
            );
        }
        (a.sign.key, a.sign.iss, a.sign.sub) = (None, None, None);
    }
    Ok(())
}

fn kid_or_thumbprint(sign: &mut SignArgs, m: &clap::ArgMatches) -> Result<(), String> {
    if exclusive(m, "kid", "kid_thumbprint")? == Some("kid") {
        sign.kid = None;
    }
    Ok(())
}

fn secret_file_or_stdin(client: &mut ClientArgs, m: &clap::ArgMatches) -> Result<(), String> {
    if exclusive(m, "client_secret_file", "client_secret_stdin")? == Some("client_secret_file") {
        client.client_secret_file = None;
    }
    let env_secret = std::env::var_os(crate::settings::secrets::CLIENT_SECRET_ENV)
        .is_some_and(|v| !v.is_empty());
    secret_against_its_variable(client, m, env_secret)
}

/// The third source of the client secret, `JWTGRANT_CLIENT_SECRET` (read by jwtgrant, not
/// clap), against the file or stdin option left: the command line wins over it, another
/// variable conflicts with it. Only for the methods that use a secret.
fn secret_against_its_variable(
    client: &ClientArgs,
    m: &clap::ArgMatches,
    env_secret: bool,
) -> Result<(), String> {
    use clap::parser::ValueSource::{CommandLine, EnvVariable};
    if !env_secret || !matches!(client.client_auth, ClientAuth::Post | ClientAuth::Basic) {
        return Ok(());
    }
    let given = if client.client_secret_file.is_some() {
        "client_secret_file"
    } else if client.client_secret_stdin {
        "client_secret_stdin"
    } else {
        return Ok(());
    };
    let flag = format!("--{}", given.replace('_', "-"));
    let var = crate::settings::secrets::CLIENT_SECRET_ENV;
    match m.value_source(given) {
        Some(EnvVariable) => Err(format!(
            "{flag} and {var} cannot be used together: both are set in the environment \
             (JWTGRANT_{} and {var}): unset one, or pass the one you want on the command line",
            given.to_uppercase()
        )),
        Some(CommandLine) => {
            log::info!("{var} ignored: {flag} is given");
            Ok(())
        }
        _ => Ok(()),
    }
}

/// When both options `a` and `b` are set: which one to drop (the one that came from the
/// environment), or an error when both came from the same source.
fn exclusive(
    m: &clap::ArgMatches,
    a: &'static str,
    b: &'static str,
) -> Result<Option<&'static str>, String> {
    use clap::parser::ValueSource;
    let source = |id: &str| match m.try_contains_id(id) {
        Ok(true) => m
            .value_source(id)
            .filter(|s| *s != ValueSource::DefaultValue),
        _ => None,
    };
    let flag = |id: &str| format!("--{}", id.replace('_', "-"));
    let env = |id: &str| format!("JWTGRANT_{}", id.to_uppercase());
    match (source(a), source(b)) {
        (Some(ValueSource::EnvVariable), Some(ValueSource::EnvVariable)) => Err(format!(
            "{} and {} cannot be used together: both are set in the environment ({} and {}): \
             unset one, or pass the one you want on the command line",
            flag(a),
            flag(b),
            env(a),
            env(b)
        )),
        (Some(ValueSource::EnvVariable), Some(_)) => Ok(Some(a)),
        (Some(_), Some(ValueSource::EnvVariable)) => Ok(Some(b)),
        (Some(_), Some(_)) => Err(format!(
            "{} and {} cannot be used together: pass one of them",
            flag(a),
            flag(b)
        )),
        _ => Ok(None),
    }
}
