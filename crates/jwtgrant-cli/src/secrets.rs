//! Where secrets come from. Never argv: a file, an environment variable or stdin.

use anyhow::Result;

use crate::cli::{AdminArgs, ClientArgs, ClientAuth};
use crate::cmd::Globals;
use crate::error::usage;
use crate::files;

/// Environment variable holding the client secret.
pub const CLIENT_SECRET_ENV: &str = "JWTGRANT_CLIENT_SECRET";
/// Environment variable holding the Keycloak admin password (the name Keycloak's docs use).
pub const ADMIN_PASSWORD_ENV: &str = "KEYCLOAK_ADMIN_PASSWORD";

pub use jwtgrant_exchange::Secret;

const FLAG_REFUSED: &str = "--client-secret is not accepted: a secret given as a flag value is visible to every local user through `ps` and stays in shell history; use --client-secret-file FILE, the JWTGRANT_CLIENT_SECRET environment variable, or --client-secret-stdin";

/// Reject the forbidden flag before anything else happens (even before reading stdin).
pub fn refuse_secret_flags(client: Option<&ClientArgs>, admin: Option<&AdminArgs>) -> Result<()> {
    if client.is_some_and(|c| c.client_secret.is_some()) {
        return Err(usage(FLAG_REFUSED));
    }
    if admin.is_some_and(|a| a.admin_password.is_some()) {
        return Err(usage(
            "--admin-password is not accepted: a password given as a flag value is visible to every local user through `ps`; use --admin-password-file FILE or the KEYCLOAK_ADMIN_PASSWORD environment variable",
        ));
    }
    Ok(())
}

/// The client secret for `post`/`basic` authentication; `None` for the other methods.
/// `stdin_taken` is true when stdin already carries the assertion. A secret-based method
/// without any secret given is a usage error.
pub fn client_secret(args: &ClientArgs, stdin_taken: bool, g: &Globals) -> Result<Option<Secret>> {
    match given_client_secret(args, stdin_taken, g)? {
        Given::Secret(s) => Ok(Some(s)),
        Given::NotUsed => Ok(None),
        Given::Missing => Err(usage(
            "missing client secret: pass --client-secret-file FILE, set JWTGRANT_CLIENT_SECRET, or use --client-secret-stdin (or --client-auth private-key-jwt with --client-key FILE)",
        )),
    }
}

/// What the options say about the client secret.
#[derive(Debug)]
pub enum Given {
    /// A secret was given.
    Secret(Secret),
    /// The client authentication method uses none.
    NotUsed,
    /// The method needs one and none was given (the doctor can read it through the admin API).
    Missing,
}

/// The client secret the options give, without deciding whether a missing one is an error.
/// A secret file must pass the same mode and owner checks as a private key.
pub fn given_client_secret(args: &ClientArgs, stdin_taken: bool, g: &Globals) -> Result<Given> {
    refuse_secret_flags(Some(args), None)?;
    if matches!(
        args.client_auth,
        ClientAuth::PrivateKeyJwt | ClientAuth::None | ClientAuth::Tls
    ) {
        if args.client_secret_file.is_some() || args.client_secret_stdin {
            log::warn!("a client secret was given but --client-auth does not use one; ignoring it");
        }
        return Ok(Given::NotUsed);
    }
    if let Some(path) = &args.client_secret_file {
        return Ok(Given::Secret(Secret::new(files::read_secret_file(
            path,
            "client secret",
            g.allow_insecure_key_permissions,
        )?)));
    }
    if args.client_secret_stdin {
        if stdin_taken {
            return Err(usage(
                "--client-secret-stdin and --assertion - both want stdin: pass the secret with --client-secret-file FILE or JWTGRANT_CLIENT_SECRET",
            ));
        }
        return Ok(Given::Secret(Secret::new(files::read_stdin_line(
            "client secret",
        )?)));
    }
    if let Some(s) = g.var(CLIENT_SECRET_ENV) {
        let s = s.trim_end().to_owned();
        if !s.is_empty() {
            return Ok(Given::Secret(Secret::new(s)));
        }
    }
    Ok(Given::Missing)
}

/// The Keycloak admin password: --admin-password-file (checked like a private key), else
/// KEYCLOAK_ADMIN_PASSWORD.
pub fn admin_password(args: &AdminArgs, g: &Globals) -> Result<Secret> {
    refuse_secret_flags(None, Some(args))?;
    if let Some(path) = &args.admin_password_file {
        return Ok(Secret::new(files::read_secret_file(
            path,
            "admin password",
            g.allow_insecure_key_permissions,
        )?));
    }
    match g.var(ADMIN_PASSWORD_ENV) {
        Some(s) if !s.is_empty() => Ok(Secret::new(s)),
        _ => Err(usage(
            "missing admin password: pass --admin-password-file FILE or set KEYCLOAK_ADMIN_PASSWORD",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser as _;

    /// The client options of `jwtgrant exchange ... extra`.
    fn client_args(extra: &[&str]) -> ClientArgs {
        let mut argv = vec!["jwtgrant", "exchange", "--assertion", "x.y.z"];
        argv.extend(extra);
        match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Command::Exchange(c)) => c.client,
            other => panic!("not an exchange: {other:?}"),
        }
    }

    fn secret_of(given: Given) -> String {
        match given {
            Given::Secret(s) => s.secret().to_owned(),
            other => panic!("no secret: {other:?}"),
        }
    }

    #[test]
    fn a_secret_file_beats_the_environment_and_the_environment_beats_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-file\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let g = Globals::default().with_env(&[(CLIENT_SECRET_ENV, "from-env \n")]);
        let with_file = client_args(&["--client-secret-file", file.to_str().unwrap()]);
        assert_eq!(
            secret_of(given_client_secret(&with_file, false, &g).unwrap()),
            "from-file"
        );
        let without = client_args(&[]);
        assert_eq!(
            secret_of(given_client_secret(&without, false, &g).unwrap()),
            "from-env"
        );
        let none = Globals::default().with_env(&[]);
        assert!(matches!(
            given_client_secret(&without, false, &none).unwrap(),
            Given::Missing
        ));
    }
}
