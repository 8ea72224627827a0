//! The `jwtgrant` command: reads argv, environment and files, calls the signer and exchange
//! libraries, prints. See `jwtgrant --help`; exit codes are in `error.rs`.

mod advice;
mod cli;
mod cmd;
mod error;
mod files;
mod globals;
mod hsm;
mod keyfile;
mod logger;
mod parse;
mod profile;
mod serve;
mod settings;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let profile = match selected_profile(&args) {
        Ok(p) => p,
        Err(msg) => {
            // The file's own words (keys, profile names): through the output gate.
            let e = error::usage(msg);
            return ExitCode::from(error::report(&e, &error::Reporting::default()));
        }
    };
    let mut command = cli::Cli::command();
    if let Some(p) = &profile {
        command = profile::apply(command, p);
    }
    let parsed = command
        .clone()
        .try_get_matches_from(&args)
        .and_then(|m| cli::Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (mut cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2, with the
            // same `jwtgrant: ` prefix as every other error. A closed stdout while printing
            // help is not worth reporting.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::from(error::OK);
            }
            eprint!("jwtgrant: {}", usage_error(&e));
            return ExitCode::from(error::USAGE);
        }
    };
    logger::init(cli.verbose);
    if let Err(msg) = cli::resolve_exclusive(&mut cli, &matches) {
        let e = error::usage(msg);
        return ExitCode::from(error::report(&e, &reporting(&cli.command)));
    }
    warn_assertion_in_argv(&matches);
    log_sources(&matches, profile.as_ref());
    if matches!(cli.command, cli::Command::Config(_)) {
        return match cmd::config::show(&command, profile.as_ref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => ExitCode::from(error::report(&e, &error::Reporting::default())),
        };
    }
    match run(&cli, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(error::report(&e, &reporting(&cli.command))),
    }
}

/// The profile `--profile`/`JWTGRANT_PROFILE` selects, loaded from the config file.
fn selected_profile(args: &[std::ffi::OsString]) -> Result<Option<profile::Profile>, String> {
    let var = |name: &str| std::env::var(name).ok();
    let (Some(name), config) = profile::selection(args, var) else {
        return Ok(None);
    };
    if !profile::applies(args) {
        return Ok(None);
    }
    let path = config.or_else(|| profile::default_path(var)).ok_or_else(|| {
        format!("--profile {name}: no config file to read it from (set HOME or XDG_CONFIG_HOME, or pass --config FILE)")
    })?;
    profile::load(&path, &name, &cli::Cli::command()).map(Some)
}

/// `agent`'s settings resolved again from `args`, the config file and the key files, as a
/// new process would (SIGHUP).
fn agent_settings(args: &[std::ffi::OsString]) -> anyhow::Result<settings::token::AgentSettings> {
    let profile = selected_profile(args).map_err(error::usage)?;
    let mut command = cli::Cli::command();
    if let Some(p) = &profile {
        command = profile::apply(command, p);
    }
    let matches = command.try_get_matches_from(args)?;
    let mut cli = cli::Cli::from_arg_matches(&matches)?;
    cli::resolve_exclusive(&mut cli, &matches).map_err(error::usage)?;
    let g = globals::Globals::from_cli(&cli);
    match &cli.command {
        cli::Command::Agent(c) => settings::token::agent(c, &g),
        _ => Err(error::usage("not an agent command line")),
    }
}

/// How `command` wants a failure reported: `--json` commands add one error object on
/// stdout; `token` and `exchange` name the doctor command that explains a rejection.
fn reporting(command: &cli::Command) -> error::Reporting {
    use cli::{Command, KeycloakCmd};
    let json = match command {
        Command::Exchange(c) => c.output.json || c.output.output == Some(cli::Output::Json),
        Command::Token(c) => c.output.json || c.output.output == Some(cli::Output::Json),
        Command::Inspect(a) => a.json,
        Command::Keycloak(KeycloakCmd::Setup(a)) => a.json,
        Command::Keycloak(KeycloakCmd::Doctor(a)) => a.json,
        _ => false,
    };
    error::Reporting {
        json,
        doctor: advice::doctor_command(command),
    }
}

/// Resolve the command's settings, then run it.
fn run(cli: &cli::Cli, args: &[std::ffi::OsString]) -> anyhow::Result<()> {
    use settings::Settings;
    let g = &globals::Globals::from_cli(cli);
    match settings::resolve(&cli.command, g)? {
        Settings::Keygen(a) => cmd::keys::keygen(a, g),
        Settings::Sign(a) => cmd::sign::run(&a),
        Settings::Exchange(s) => cmd::exchange::run_exchange(*s),
        Settings::Token(s) => cmd::exchange::run_token(*s),
        Settings::Exec(s) => cmd::exchange::run_exec(*s),
        Settings::Agent(s) => cmd::agent::run(*s, &|| agent_settings(args)),
        Settings::Pubkey(a) => cmd::keys::pubkey(a, g),
        Settings::Jwks(a) => cmd::keys::jwks(a, g),
        Settings::JwksServe(a) => cmd::serve::run(a, g),
        Settings::Inspect(a) => cmd::inspect::run(a, g),
        Settings::KeycloakSetup(s) => cmd::keycloak::setup(*s, g),
        Settings::KeycloakDoctor(s) => cmd::keycloak::doctor(*s),
        Settings::DpopProof(s) => cmd::dpop::proof(&s),
        Settings::Completions(a) => cmd::completions::run(a),
        Settings::ConfigShow => unreachable!("config show runs before the settings"),
        Settings::Cache(c) => cmd::exchange::run_cache(c),
    }
}

/// `--assertion JWT` (and `inspect JWT`) on the command line works, but every local user
/// can read it through `ps` while the command runs (stdin and JWTGRANT_ASSERTION cannot be
/// read that way): say so, once. Assertions and tokens are bearer credentials; they are
/// warned about rather than refused like secrets because they expire within minutes and
/// pasting one into `inspect` is the common way to look at it (docs/security.md).
fn warn_assertion_in_argv(m: &clap::ArgMatches) {
    let (sub, arg, warning) = match m.subcommand() {
        Some(("exchange", s)) => (s, "assertion", ASSERTION_IN_ARGV),
        Some(("inspect", s)) => (s, "token", TOKEN_IN_ARGV),
        Some(("keycloak", k)) => match k.subcommand() {
            Some(("doctor", d)) => (d, "assertion", ASSERTION_IN_ARGV),
            _ => return,
        },
        _ => return,
    };
    let in_argv = sub.value_source(arg) == Some(clap::parser::ValueSource::CommandLine);
    if in_argv && sub.get_one::<String>(arg).is_some_and(|a| a != "-") {
        eprintln!("jwtgrant: {warning}");
    }
}

/// Where each option that is set got its value, never the value itself (it may be an
/// assertion): `-v` names the ones that came from a variable (the source a reader of the
/// command line cannot see), `-vv` also the command line's and the defaults.
fn log_sources(m: &clap::ArgMatches, profile: Option<&profile::Profile>) {
    use clap::parser::ValueSource;
    if !log::log_enabled!(log::Level::Info) {
        return;
    }
    let mut leaf = m;
    let mut cmd = cli::Cli::command();
    while let Some((name, sub)) = leaf.subcommand() {
        let Some(next) = cmd.find_subcommand(name).cloned() else {
            break;
        };
        (leaf, cmd) = (sub, next);
    }
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        let (Some(long), Ok(true)) = (arg.get_long(), leaf.try_contains_id(id)) else {
            continue;
        };
        match leaf.value_source(id) {
            Some(ValueSource::EnvVariable) => {
                let var = arg
                    .get_env()
                    .map_or_else(String::new, |e| e.to_string_lossy().into_owned());
                log::info!("--{long} from {var}");
            }
            Some(ValueSource::CommandLine) => log::debug!("--{long} from the command line"),
            Some(ValueSource::DefaultValue)
                if let Some((p, e)) = profile.and_then(|p| Some((p, p.get(long)?))) =>
            {
                log::info!("--{long} from {}", p.source(e));
            }
            // An unset switch is not worth a line.
            Some(ValueSource::DefaultValue) if arg.get_action().takes_values() => {
                log::debug!("--{long} from its default");
            }
            _ => {}
        }
    }
}

/// The warning for an assertion passed as a flag value.
const ASSERTION_IN_ARGV: &str = "warning: --assertion JWT puts the assertion on the command line, where every local user can read it through `ps` until it expires; pass --assertion - and the JWT on stdin, or set JWTGRANT_ASSERTION";
/// The warning for `inspect JWT`.
const TOKEN_IN_ARGV: &str = "warning: inspect JWT puts the token on the command line, where every local user can read it through `ps` while the command runs; a token is a bearer credential: pipe it in instead (jwtgrant inspect < FILE)";

/// A usage error's text without clap's `error: ` prefix. For a value our parser refused, the
/// parser's own message stands in for clap's `invalid value '<raw>'`: the raw value may hold
/// a password (`https://user:pass@host`), which the parser's message has redacted.
fn usage_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ErrorKind};
    if e.kind() == ErrorKind::ValueValidation
        && let (Some(arg), Some(source)) =
            (e.get(ContextKind::InvalidArg), std::error::Error::source(e))
    {
        return format!(
            "invalid value for '{arg}': {source}\n\nFor more information, try '--help'.\n"
        );
    }
    let text = e.render().to_string();
    text.strip_prefix("error: ").unwrap_or(&text).to_owned()
}
