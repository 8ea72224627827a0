//! Where secrets come from. Never argv: a file, an environment variable or stdin. Each is
//! read once, at resolution, into a redacting [`Secret`]; the flags that would put one in
//! argv are refused here, once per run, before anything is read.

use anyhow::Result;

use crate::cli::{AdminArgs, ClientArgs, ClientAuth, Command, DpopCmd, DpopProofArgs, KeycloakCmd};
use crate::error::usage;
use crate::files;
use crate::globals::Globals;

/// Environment variable holding the client secret.
pub const CLIENT_SECRET_ENV: &str = "JWTGRANT_CLIENT_SECRET";
/// Environment variable holding the Keycloak admin password (the name Keycloak's docs use).
pub const ADMIN_PASSWORD_ENV: &str = "KEYCLOAK_ADMIN_PASSWORD";
/// Environment variable `dpop proof` reads the access token from.
pub const ACCESS_TOKEN_ENV: &str = "JWTGRANT_ACCESS_TOKEN";

pub use jwtgrant_exchange::Secret;

const CLIENT_SECRET_REFUSED: &str = "--client-secret is not accepted: a secret given as a flag value is visible to every local user through `ps` and stays in shell history; use --client-secret-file FILE, the JWTGRANT_CLIENT_SECRET environment variable, or --client-secret-stdin";
const ADMIN_PASSWORD_REFUSED: &str = "--admin-password is not accepted: a password given as a flag value is visible to every local user through `ps`; use --admin-password-file FILE or the KEYCLOAK_ADMIN_PASSWORD environment variable";
const ACCESS_TOKEN_REFUSED: &str = "--access-token is not accepted: a token in argv is visible to every user through ps; use --access-token-file FILE, --access-token-stdin or JWTGRANT_ACCESS_TOKEN";

/// Reject a secret given as a flag value before anything else happens (even before reading
/// stdin). The one check for every command: the client secret first, then the admin
/// password, then the access token.
pub fn refuse_secret_flags(command: &Command) -> Result<()> {
    let (client, admin, access_token) = match command {
        _ if let Some(r) = command.token_request() => (Some(&r.client), None, false),
        Command::Exchange(c) => (Some(&c.client), None, false),
        Command::Keycloak(KeycloakCmd::Setup(a)) => (None, Some(&a.admin), false),
        Command::Keycloak(KeycloakCmd::Doctor(a)) => (Some(&a.client), Some(&a.admin), false),
        Command::Dpop(DpopCmd::Proof(a)) => (None, None, a.access_token.is_some()),
        _ => (None, None, false),
    };
    if client.is_some_and(|c| c.client_secret.is_some()) {
        return Err(usage(CLIENT_SECRET_REFUSED));
    }
    if admin.is_some_and(|a| a.admin_password.is_some()) {
        return Err(usage(ADMIN_PASSWORD_REFUSED));
    }
    if access_token {
        return Err(usage(ACCESS_TOKEN_REFUSED));
    }
    Ok(())
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

impl Given {
    /// The secret for `post`/`basic` authentication; `None` for the other methods. A
    /// secret-based method without any secret given is a usage error.
    pub fn required(self) -> Result<Option<Secret>> {
        match self {
            Given::Secret(s) => Ok(Some(s)),
            Given::NotUsed => Ok(None),
            Given::Missing => Err(usage(
                "missing client secret: pass --client-secret-file FILE, set JWTGRANT_CLIENT_SECRET, or use --client-secret-stdin (or --client-auth private-key-jwt with --client-key FILE)",
            )),
        }
    }
}

/// The client secret the options give, without deciding whether a missing one is an error.
/// Precedence: --client-secret-file, --client-secret-stdin, JWTGRANT_CLIENT_SECRET.
/// `stdin_taken` is true when stdin already carries the assertion. A secret file must pass
/// the same mode and owner checks as a private key.
pub fn client_secret(args: &ClientArgs, stdin_taken: bool, g: &Globals) -> Result<Given> {
    if matches!(
        args.client_auth,
        ClientAuth::PrivateKeyJwt | ClientAuth::None | ClientAuth::Tls | ClientAuth::Federated
    ) {
        if args.client_secret_file.is_some() || args.client_secret_stdin {
            log::warn!("a client secret was given but --client-auth does not use one; ignoring it");
        }
        return Ok(Given::NotUsed);
    }
    if let Some(path) = &args.client_secret_file {
        log::info!(
            "client secret from --client-secret-file '{}'",
            path.display()
        );
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
        log::info!("client secret from stdin (--client-secret-stdin)");
        return Ok(Given::Secret(Secret::new(files::read_stdin_line(
            "client secret",
        )?)));
    }
    if let Some(s) = g.var(CLIENT_SECRET_ENV) {
        let s = s.trim_end().to_owned();
        if !s.is_empty() {
            log::info!("client secret from {CLIENT_SECRET_ENV}");
            return Ok(Given::Secret(Secret::new(s)));
        }
    }
    Ok(Given::Missing)
}

/// The Keycloak admin password: --admin-password-file (checked like a private key), else
/// KEYCLOAK_ADMIN_PASSWORD.
pub fn admin_password(args: &AdminArgs, g: &Globals) -> Result<Secret> {
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

/// The access token a `dpop proof` covers (its `ath`): --access-token-file (checked like a
/// private key), --access-token-stdin or JWTGRANT_ACCESS_TOKEN; `None` for a proof without
/// one.
pub fn access_token(args: &DpopProofArgs, g: &Globals) -> Result<Option<Secret>> {
    let token = match (&args.access_token_file, args.access_token_stdin) {
        (Some(_), true) => {
            return Err(usage(
                "give the access token once: --access-token-file or --access-token-stdin",
            ));
        }
        (Some(path), false) => Some(files::read_secret_file(
            path,
            "access token file",
            g.allow_insecure_key_permissions,
        )?),
        (None, true) => Some(files::read_stdin_line("access token")?),
        (None, false) => g.var(ACCESS_TOKEN_ENV).map(|t| t.trim().to_owned()),
    };
    if token.as_deref() == Some("") {
        return Err(usage(
            "the access token is empty (give the token the request carries, or none for a token request)",
        ));
    }
    Ok(token.map(Secret::new))
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
            secret_of(client_secret(&with_file, false, &g).unwrap()),
            "from-file"
        );
        let without = client_args(&[]);
        assert_eq!(
            secret_of(client_secret(&without, false, &g).unwrap()),
            "from-env"
        );
        let none = Globals::default().with_env(&[]);
        assert!(matches!(
            client_secret(&without, false, &none).unwrap(),
            Given::Missing
        ));
    }
}
