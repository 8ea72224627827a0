//! Resolution: a command's arguments, the environment and the local files they name, turned
//! once into one typed value before the command sends anything over the network.
//!
//! [`resolve`] is the one place that decides where each value comes from (today: flag, then
//! environment, then default, with clap doing most of it; a profile layer goes in here,
//! between environment and default) and where a secret given as a flag value is refused,
//! once, before anything is read. Each secret is read once, here, into a redacting
//! [`secrets::Secret`]; keys are loaded here too, so a missing file fails before any
//! traffic. The commands (`cmd/*`) then call the libraries with these values. Nothing in
//! this module imports a command module.

pub mod assertion;
pub mod client;
pub mod dpop;
pub mod keycloak;
pub mod secrets;
pub mod token;

use anyhow::Result;

use crate::cli::{
    Command, CompletionsArgs, DpopCmd, InspectArgs, JwksKeys, JwksSub, KeycloakCmd, KeygenArgs,
    PubkeyArgs, ServeArgs,
};
use crate::globals::Globals;

/// What a command runs with. The commands whose arguments are paths and switches, with
/// nothing to choose between sources and no secret, run on their parsed arguments.
#[derive(Debug)]
pub enum Settings<'a> {
    Keygen(&'a KeygenArgs),
    Sign(Box<assertion::Assertions>),
    Exchange(Box<token::ExchangeSettings>),
    Token(Box<token::TokenSettings>),
    Exec(Box<token::ExecSettings>),
    Agent(Box<token::AgentSettings>),
    Pubkey(&'a PubkeyArgs),
    Jwks(&'a JwksKeys),
    JwksServe(&'a ServeArgs),
    Inspect(&'a InspectArgs),
    KeycloakSetup(Box<keycloak::SetupSettings>),
    KeycloakDoctor(Box<keycloak::DoctorSettings>),
    DpopProof(Box<dpop::ProofSettings>),
    Completions(&'a CompletionsArgs),
    /// `config show`: reads the parser itself (`main`).
    ConfigShow,
    Cache(&'a crate::cli::CacheCmd),
}

/// The settings of `command`.
pub fn resolve<'a>(command: &'a Command, g: &Globals) -> Result<Settings<'a>> {
    secrets::refuse_secret_flags(command)?;
    one_reader_of_stdin(command, g)?;
    Ok(match command {
        Command::Keygen(a) => Settings::Keygen(a),
        Command::Sign(c) => Settings::Sign(Box::new(assertion::Assertions::resolve(
            &c.sign,
            &c.keycloak,
            None,
            None,
            g,
        )?)),
        Command::Exchange(c) => Settings::Exchange(Box::new(token::exchange(c, g)?)),
        Command::Token(c) => Settings::Token(Box::new(token::token(&c.request, &c.output, g)?)),
        Command::Exec(c) => Settings::Exec(Box::new(token::exec(c, g)?)),
        Command::Agent(c) => Settings::Agent(Box::new(token::agent(c, g)?)),
        Command::Pubkey(a) => Settings::Pubkey(a),
        Command::Jwks(a) => match &a.serve {
            None => Settings::Jwks(&a.keys),
            Some(JwksSub::Serve(s)) => Settings::JwksServe(s),
        },
        Command::Inspect(a) => Settings::Inspect(a),
        Command::Keycloak(KeycloakCmd::Setup(a)) => {
            Settings::KeycloakSetup(Box::new(keycloak::setup(a, g)?))
        }
        Command::Keycloak(KeycloakCmd::Doctor(a)) => {
            Settings::KeycloakDoctor(Box::new(keycloak::doctor(a, g)?))
        }
        Command::Dpop(DpopCmd::Proof(a)) => Settings::DpopProof(Box::new(dpop::proof(a, g)?)),
        Command::Completions(a) => Settings::Completions(a),
        Command::Config(_) => Settings::ConfigShow,
        Command::Cache(c) => Settings::Cache(c),
    })
}

/// The options of `command` that read stdin, in the order they appear in `--help`.
fn stdin_readers(command: &Command, g: &Globals) -> Vec<&'static str> {
    use std::path::Path;
    let dash = |p: Option<&std::path::PathBuf>| p.is_some_and(|p| p == Path::new("-"));
    let mut readers = Vec::new();
    let mut add = |on: bool, name: &'static str| {
        if on {
            readers.push(name);
        }
    };
    if let Some(r) = command.token_request() {
        add(dash(r.sign.key.as_ref()), "--key -");
        add(r.client.client_secret_stdin, "--client-secret-stdin");
    }
    match command {
        Command::Sign(c) => add(dash(c.sign.key.as_ref()), "--key -"),
        Command::Exchange(c) => add(c.assertion == "-", "--assertion -"),
        Command::Keycloak(KeycloakCmd::Doctor(a)) => {
            add(a.assertion.as_deref() == Some("-"), "--assertion -");
            add(dash(a.sign.key.as_ref()), "--key -");
        }
        Command::Pubkey(a) => add(dash(Some(&a.key)), "--key -"),
        Command::Jwks(a) => {
            let keys = match &a.serve {
                Some(JwksSub::Serve(s)) => &s.keys,
                None => &a.keys,
            };
            add(keys.keys.iter().any(|k| dash(Some(k))), "--key -");
        }
        Command::Inspect(a) => {
            add(a.token == "-", "inspect - (the JWT)");
            add(dash(a.key.as_ref()), "--key -");
            add(dash(a.jwks.as_ref()), "--jwks -");
        }
        Command::Dpop(DpopCmd::Proof(a)) => {
            add(dash(Some(&a.key)), "--key -");
            add(a.access_token_stdin, "--access-token-stdin");
        }
        _ => {}
    }
    add(dash(g.pkcs11_pin_file.as_ref()), "--pkcs11-pin-file -");
    readers
}

/// stdin can be read once: two options that both want it are a usage error naming both.
/// (`--client-secret-stdin` with `--assertion -` has its own message, in `secrets`.)
fn one_reader_of_stdin(command: &Command, g: &Globals) -> Result<()> {
    match stdin_readers(command, g).as_slice() {
        [first, second, ..] => Err(crate::error::usage(format!(
            "{first} and {second} both want stdin, which can be read once: give one of them as a file"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::client::Endpoint;
    use super::keycloak::Authentication;
    use super::*;
    use crate::cli::Cli;
    use crate::error::Usage;

    const SECRET: &str = "hunter2-client-secret";
    const PASSWORD: &str = "hunter2-admin-password";
    const ASSERTION: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

    /// Command lines, words split at spaces; `{secret}`, `{password}` and `{assertion}`
    /// stand for the constants above.
    const EXCHANGE: &str =
        "exchange --assertion {assertion} --token-endpoint http://127.0.0.1:9/t --client-id c";
    const TOKEN: &str = "token --key /nonexistent/key.pem --iss http://i --sub s --aud a --token-endpoint http://127.0.0.1:9/t --client-id c";
    const DOCTOR: &str = "keycloak doctor --keycloak http://127.0.0.1:9 --realm r --client-id c --assertion {assertion}";
    const SETUP: &str = "keycloak setup --keycloak http://127.0.0.1:9 --realm r --issuer http://i --public-key /nonexistent/public.pem --client-id c";

    fn cli(line: &str) -> Cli {
        let line = line
            .replace("{secret}", SECRET)
            .replace("{password}", PASSWORD)
            .replace("{assertion}", ASSERTION);
        Cli::try_parse_from(std::iter::once("jwtgrant").chain(line.split_whitespace()))
            .unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    /// The message of resolving `line`, which must fail with a usage error.
    fn usage_error(line: &str, g: &Globals) -> String {
        let cli = cli(line);
        let err = resolve(&cli.command, g).expect_err("a usage error");
        assert!(err.downcast_ref::<Usage>().is_some(), "{line}: {err:#}");
        format!("{err:#}")
    }

    #[test]
    fn a_secret_flag_is_refused_once_before_anything_is_read() {
        let g = Globals::default().with_env(&[("JWTGRANT_CLIENT_SECRET", SECRET)]);
        let client = "--client-secret is not accepted: a secret given as a flag value is visible to every local user through `ps` and stays in shell history; use --client-secret-file FILE, the JWTGRANT_CLIENT_SECRET environment variable, or --client-secret-stdin";
        let admin = "--admin-password is not accepted: a password given as a flag value is visible to every local user through `ps`; use --admin-password-file FILE or the KEYCLOAK_ADMIN_PASSWORD environment variable";
        let token = "--access-token is not accepted: a token in argv is visible to every user through ps; use --access-token-file FILE, --access-token-stdin or JWTGRANT_ACCESS_TOKEN";
        // Each line names a file that does not exist: reading anything before the refusal
        // would fail on it first.
        for (line, expected) in [
            (format!("{EXCHANGE} --client-secret {{secret}}"), client),
            (format!("{EXCHANGE} --client-secret"), client),
            (
                format!(
                    "{EXCHANGE} --client-secret-file /nonexistent/s --client-secret {{secret}}"
                ),
                client,
            ),
            (format!("{TOKEN} --client-secret {{secret}}"), client),
            (
                format!("{DOCTOR} --client-secret {{secret}} --admin-password {{password}}"),
                client,
            ),
            (
                format!("{DOCTOR} --admin-password {{password}} --key /nonexistent/k"),
                admin,
            ),
            (format!("{SETUP} --admin-password {{password}}"), admin),
            (
                "dpop proof --key /nonexistent/dpop.pem --url http://r --access-token {assertion}"
                    .to_owned(),
                token,
            ),
        ] {
            let message = usage_error(&line, &g);
            assert_eq!(message, expected, "{line}");
            for secret in [SECRET, PASSWORD, ASSERTION] {
                assert!(!message.contains(secret), "{line}: {message}");
            }
        }
    }

    #[test]
    fn a_missing_client_secret_is_a_usage_error_naming_every_source() {
        let g = Globals::default().with_env(&[]);
        assert_eq!(
            usage_error(EXCHANGE, &g),
            "missing client secret: pass --client-secret-file FILE, set JWTGRANT_CLIENT_SECRET, or use --client-secret-stdin (or --client-auth private-key-jwt with --client-key FILE)"
        );
        assert_eq!(
            usage_error(
                &EXCHANGE.replace("{assertion}", "- --client-secret-stdin"),
                &g
            ),
            "--client-secret-stdin and --assertion - both want stdin: pass the secret with --client-secret-file FILE or JWTGRANT_CLIENT_SECRET"
        );
    }

    #[test]
    fn only_one_option_reads_stdin() {
        let g = Globals::default().with_env(&[("JWTGRANT_CLIENT_SECRET", SECRET)]);
        for (line, first, second) in [
            (
                TOKEN.replace("/nonexistent/key.pem", "-") + " --client-secret-stdin",
                "--key -",
                "--client-secret-stdin",
            ),
            (
                format!("{DOCTOR} --key -").replace("{assertion}", "-"),
                "--assertion -",
                "--key -",
            ),
            (
                "inspect --key -".to_owned(),
                "inspect - (the JWT)",
                "--key -",
            ),
            (
                "sign --key - --iss i --sub s --aud a --pkcs11-pin-file -".to_owned(),
                "--key -",
                "--pkcs11-pin-file -",
            ),
        ] {
            let mut g = g.clone();
            g.pkcs11_pin_file = cli(&line).pkcs11_pin_file;
            assert_eq!(
                usage_error(&line, &g),
                format!(
                    "{first} and {second} both want stdin, which can be read once: give one of them as a file"
                ),
                "{line}"
            );
        }
    }

    #[test]
    fn settings_show_no_secret_in_debug() {
        let g = Globals::default().with_env(&[
            ("JWTGRANT_CLIENT_SECRET", SECRET),
            ("KEYCLOAK_ADMIN_PASSWORD", PASSWORD),
        ]);
        let exchange = cli(&format!("{EXCHANGE} --client-auth basic"));
        let doctor = cli(DOCTOR);
        let shown = format!(
            "{:?} {:?}",
            resolve(&exchange.command, &g).unwrap(),
            resolve(&doctor.command, &g).unwrap()
        );
        for expected in ["client_secret_basic", "http://127.0.0.1:9/t", "admin"] {
            assert!(shown.contains(expected), "{expected} not in {shown}");
        }
        for secret in [SECRET, PASSWORD, ASSERTION] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn the_doctor_waits_for_a_missing_secret_and_needs_none_without_an_exchange() {
        let g = Globals::default().with_env(&[("KEYCLOAK_ADMIN_PASSWORD", PASSWORD)]);
        let doctor = |extra: &str| match resolve(&cli(&format!("{DOCTOR} {extra}")).command, &g) {
            Ok(Settings::KeycloakDoctor(d)) => d,
            other => panic!("{other:?}"),
        };
        let d = doctor("--client-auth basic");
        assert_eq!(
            d.route.endpoint,
            Endpoint::Keycloak {
                base: "http://127.0.0.1:9".into(),
                realm: "r".into()
            }
        );
        match d.exchange.map(|c| c.auth) {
            Some(Authentication::SecretFromAdmin { client_id, basic }) => {
                assert_eq!((client_id.as_str(), basic), ("c", true));
            }
            other => panic!("{other:?}"),
        }
        // Without the exchange, nothing about the client's authentication is needed.
        let d = doctor("--no-exchange --client-auth private-key-jwt");
        assert!(d.exchange.is_none());
    }

    #[test]
    fn the_token_endpoint_comes_from_the_most_specific_option() {
        let endpoint = |options: &str| {
            let cli = cli(&format!("exchange --assertion x {options}"));
            let Command::Exchange(c) = &cli.command else {
                unreachable!()
            };
            Endpoint::resolve(&c.endpoint, &c.keycloak).map_err(|e| format!("{e:#}"))
        };
        let kc = "--keycloak http://kc:8080 --realm r";
        let issuer = "--issuer-url https://sso/realms/r";
        assert_eq!(
            endpoint(&format!("{kc} {issuer} --token-endpoint https://sso/token")),
            Ok(Endpoint::Url("https://sso/token".into()))
        );
        assert_eq!(
            endpoint(&format!("{kc} {issuer}")),
            Ok(Endpoint::Discover("https://sso/realms/r".into()))
        );
        assert_eq!(
            endpoint(kc),
            Ok(Endpoint::Keycloak {
                base: "http://kc:8080".into(),
                realm: "r".into()
            })
        );
        assert_eq!(
            endpoint("--realm r"),
            Err("missing token endpoint: pass --token-endpoint URL, --issuer-url URL (discovery), or --keycloak URL and --realm REALM".into())
        );
    }
}
