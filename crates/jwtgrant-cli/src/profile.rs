//! Profiles: named sets of option values in a TOML file, so a kubeconfig, a CI job or a
//! script says `--profile prod` instead of fifteen flags.
//!
//! ```toml
//! [profiles.dev]
//! keycloak = "http://localhost:8080"
//! realm = "acme"
//! client-id = "custom-client"
//! client-secret-file = "/home/me/.config/jwtgrant/custom-client.secret"
//! key = "/home/me/.config/jwtgrant/private.pem"
//! iss = "http://localhost:3000"
//! sub = "nodejsuser-1234"
//! ```
//!
//! The file is `--config FILE`, else `JWTGRANT_CONFIG`, else
//! `$XDG_CONFIG_HOME/jwtgrant/config.toml` (`~/.config/jwtgrant/config.toml`). A profile
//! applies only when selected (`--profile NAME` or `JWTGRANT_PROFILE`). Its keys are the long
//! names of the options of `sign`, `exchange`, `token`, `exec`, `agent` and `keycloak doctor` that
//! have a `JWTGRANT_*` variable; a profile value becomes the option's default, so the
//! precedence is flag, then variable, then profile, then the built-in default. Secrets never
//! sit in the file: the options that would hold one are refused, and so is a value that
//! looks like a private key.
//!
//! Loading happens before clap parses argv (the profile changes the parser's defaults), so
//! errors here are plain strings that `main` prints as usage errors.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The commands a profile applies to (paths of subcommand names).
pub const COMMANDS: &[&[&str]] = &[
    &["sign"],
    &["exchange"],
    &["token"],
    &["exec"],
    &["agent"],
    &["keycloak", "doctor"],
];

/// A selected profile: its values, each with the line it is on.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub path: PathBuf,
    pub entries: Vec<Entry>,
}

/// One `key = value` of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Value,
    /// 1-based line of the key in the file.
    pub line: usize,
}

/// A value as the option takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An option with a value (numbers are written as they would be on the command line).
    One(String),
    /// A repeatable option (`claim`, `link`, `key` of `jwks`).
    Many(Vec<String>),
    /// A switch.
    Switch(bool),
}

impl Profile {
    /// The entry for option `--key`, if the profile sets it.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// `profile 'dev' (/path/config.toml:3)`, for `-v` and `config show`.
    pub fn source(&self, entry: &Entry) -> String {
        format!(
            "profile '{}' ({}:{})",
            self.name,
            self.path.display(),
            entry.line
        )
    }
}

/// The profile and config file argv and the environment select: `--profile NAME`
/// (`--profile=NAME`), `JWTGRANT_PROFILE`; `--config FILE`, `JWTGRANT_CONFIG`. Arguments
/// after `--` (the command `exec` runs) are not looked at.
pub fn selection(
    args: &[OsString],
    var: impl Fn(&str) -> Option<String>,
) -> (Option<String>, Option<PathBuf>) {
    let mut profile = None;
    let mut config = None;
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        for (flag, slot) in [("--profile", &mut profile), ("--config", &mut config)] {
            if word == flag {
                *slot = words.next().map(|v| v.into_owned());
            } else if let Some(v) = word.strip_prefix(flag).and_then(|w| w.strip_prefix('=')) {
                *slot = Some(v.to_owned());
            }
        }
    }
    let profile = profile.or_else(|| var("JWTGRANT_PROFILE").filter(|p| !p.is_empty()));
    let config = config
        .or_else(|| var("JWTGRANT_CONFIG").filter(|c| !c.is_empty()))
        .map(PathBuf::from);
    (profile, config)
}

/// Whether argv runs a command a profile applies to ([`COMMANDS`]): only those load one, so
/// an exported `JWTGRANT_PROFILE` never breaks `--version`, `keygen` or `cache list`.
pub fn applies(args: &[OsString]) -> bool {
    // The first words that are no option (nor an option's value) name the command.
    const WITH_VALUE: &[&str] = &[
        "--profile",
        "--config",
        "--pkcs11-module",
        "--pkcs11-pin-file",
    ];
    let mut words = Vec::new();
    let mut skip = false;
    for arg in args.iter().skip(1).map(|a| a.to_string_lossy()) {
        if skip {
            skip = false;
        } else if arg == "--" {
            break;
        } else if WITH_VALUE.contains(&arg.as_ref()) {
            skip = true;
        } else if !arg.starts_with('-') {
            words.push(arg.into_owned());
            if words.len() == 2 {
                break;
            }
        }
    }
    // `config show` prints what the profile resolves to.
    let shown = [&["config", "show"][..]];
    COMMANDS.iter().chain(shown.iter()).any(|path| match path {
        [one] => words.first().map(String::as_str) == Some(*one),
        [a, b] => {
            words.first().map(String::as_str) == Some(*a)
                && words.get(1).map(String::as_str) == Some(*b)
        }
        _ => false,
    })
}

/// The default config file: `$XDG_CONFIG_HOME/jwtgrant/config.toml`, else
/// `$HOME/.config/jwtgrant/config.toml`.
pub fn default_path(var: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = var("XDG_CONFIG_HOME")
        .filter(|d| Path::new(d).is_absolute())
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("jwtgrant").join("config.toml"))
}

/// Profile `name` of the file at `path`, every key checked against the options of `cli`
/// (the parser the values are for).
pub fn load(path: &Path, name: &str, cli: &clap::Command) -> Result<Profile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the config file '{}' for --profile {name}: {e} (create it, or pass --config FILE)",
            path.display()
        )
    })?;
    parse(&text, path, name, cli)
}

/// [`load`] on the file's text.
pub fn parse(text: &str, path: &Path, name: &str, cli: &clap::Command) -> Result<Profile, String> {
    let at = |span: Option<std::ops::Range<usize>>| {
        let line = span
            .and_then(|s| text.get(..s.start))
            .map_or(1, |before| before.matches('\n').count() + 1);
        format!("{}:{line}", path.display())
    };
    let doc: toml::Spanned<toml::Table> = toml::from_str(text).map_err(|e: toml::de::Error| {
        format!("{}: not valid TOML: {}", at(e.span()), e.message())
    })?;
    let doc = doc.into_inner();
    let profiles = match doc.get("profiles") {
        Some(toml::Value::Table(t)) => t,
        Some(_) => return Err(format!("{}: 'profiles' must be a table", path.display())),
        None => {
            return Err(format!(
                "{}: no [profiles.{name}] table (the file has no profiles)",
                path.display()
            ));
        }
    };
    if let Some(other) = doc.keys().find(|k| *k != "profiles") {
        return Err(format!(
            "{}: unknown top-level key '{other}' (profiles go in [profiles.NAME] tables)",
            at(line_of(text, other, None))
        ));
    }
    let Some(toml::Value::Table(table)) = profiles.get(name) else {
        let names: Vec<&str> = profiles.keys().map(String::as_str).collect();
        return Err(format!(
            "{}: no profile '{name}' (it has: {})",
            path.display(),
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        ));
    };
    let options = options(cli);
    let mut entries = Vec::new();
    for (key, value) in table {
        let where_ = at(line_of(text, key, Some(name)));
        let line = where_
            .rsplit(':')
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or(1);
        let arg = check_key(key, &options).map_err(|why| format!("{where_}: {why}"))?;
        let value = typed(key, value, arg).map_err(|why| format!("{where_}: {why}"))?;
        entries.push(Entry {
            key: key.clone(),
            value,
            line,
        });
    }
    Ok(Profile {
        name: name.to_owned(),
        path: path.to_owned(),
        entries,
    })
}

/// The span of `key = ...` inside `[profiles.<profile>]` (or at the top for `None`), found
/// in the text: `toml::Table` keeps no spans of its own.
fn line_of(text: &str, key: &str, profile: Option<&str>) -> Option<std::ops::Range<usize>> {
    let mut offset = 0;
    let mut inside = profile.is_none();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let header = trimmed.trim_matches(|c| c == '[' || c == ']').trim();
            inside = profile.is_some_and(|p| {
                header == format!("profiles.{p}") || header == format!("profiles.\"{p}\"")
            });
        } else if inside {
            let name = trimmed
                .split('=')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"');
            if name == key {
                return Some(offset..offset + line.len());
            }
        }
        offset += line.len();
    }
    None
}

/// Every option of the profile commands, by long name (the first definition wins: the
/// same long name means the same thing in each).
fn options(cli: &clap::Command) -> Vec<clap::Arg> {
    let mut out: Vec<clap::Arg> = Vec::new();
    for path in COMMANDS {
        let mut cmd = cli;
        for name in *path {
            match cmd.find_subcommand(name) {
                Some(sub) => cmd = sub,
                None => break,
            }
        }
        for arg in cmd.get_arguments().chain(cli.get_arguments()) {
            if arg.get_long().is_some() && !out.iter().any(|a| a.get_long() == arg.get_long()) {
                out.push(arg.clone());
            }
        }
    }
    out
}

/// The option `key` names, if a profile may set it.
fn check_key<'a>(key: &str, options: &'a [clap::Arg]) -> Result<&'a clap::Arg, String> {
    let found = options.iter().find(|a| a.get_long() == Some(key));
    match found {
        Some(arg) if arg.is_hide_set() || arg.is_hide_env_values_set() => Err(format!(
            "'{key}' cannot be in a profile: secrets and assertions never sit in the file; give a path (e.g. client-secret-file) or use the environment"
        )),
        Some(arg) if arg.get_env().is_none() => Err(format!(
            "'{key}' cannot be in a profile: like its missing JWTGRANT_* variable, it must be asked for on the command line of each run (docs/cli.md, 'Options without a variable')"
        )),
        Some(arg) if ["profile", "config"].contains(&key) => {
            let _ = arg;
            Err(format!(
                "'{key}' cannot be in a profile: it selects the profile"
            ))
        }
        Some(arg) => Ok(arg),
        None => {
            let near = options
                .iter()
                .filter_map(clap::Arg::get_long)
                .filter(|long| strsim::osa_distance(long, key) <= 2)
                .min_by_key(|long| strsim::osa_distance(long, key));
            Err(match near {
                Some(n) => format!("unknown key '{key}' (did you mean '{n}'?)"),
                None => format!(
                    "unknown key '{key}': keys are the long option names of sign, exchange, token, exec, agent and keycloak doctor"
                ),
            })
        }
    }
}

/// `value` in the shape option `arg` takes.
fn typed(key: &str, value: &toml::Value, arg: &clap::Arg) -> Result<Value, String> {
    use clap::ArgAction;
    let text = |v: &toml::Value| match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        _ => None,
    };
    let value = match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => match value {
            toml::Value::Boolean(b) => Value::Switch(*b),
            _ => return Err(format!("'{key}' is a switch: write {key} = true or false")),
        },
        ArgAction::Append => match value {
            toml::Value::Array(items) => Value::Many(
                items
                    .iter()
                    .map(|v| text(v).ok_or_else(|| format!("'{key}' takes a list of strings")))
                    .collect::<Result<_, _>>()?,
            ),
            v => {
                Value::Many(vec![text(v).ok_or_else(|| {
                    format!("'{key}' takes a string or a list of strings")
                })?])
            }
        },
        _ => Value::One(text(value).ok_or_else(|| {
            format!("'{key}' takes a string (or a number), as on the command line")
        })?),
    };
    let looks_secret = match &value {
        Value::One(s) => s.contains("PRIVATE KEY-----"),
        Value::Many(v) => v.iter().any(|s| s.contains("PRIVATE KEY-----")),
        Value::Switch(_) => false,
    };
    if looks_secret {
        return Err(format!(
            "'{key}' holds a private key: a profile names the key's file (key = \"/path/private.pem\"), never its contents"
        ));
    }
    Ok(value)
}

/// `cli` with the profile's values as the defaults of the options they name, in each of
/// the profile commands.
pub fn apply(mut cli: clap::Command, profile: &Profile) -> clap::Command {
    for path in COMMANDS {
        cli = apply_at(cli, path, profile);
    }
    cli
}

fn apply_at(cmd: clap::Command, path: &[&str], profile: &Profile) -> clap::Command {
    match path.split_first() {
        Some((name, rest)) => cmd.mut_subcommand(*name, |sub| apply_at(sub, rest, profile)),
        None => {
            let ids: Vec<(String, String)> = cmd
                .get_arguments()
                .filter_map(|a| Some((a.get_id().to_string(), a.get_long()?.to_owned())))
                .collect();
            let mut cmd = cmd;
            for (id, long) in ids {
                let Some(entry) = profile.get(&long) else {
                    continue;
                };
                let value = entry.value.clone();
                cmd = cmd.mut_arg(id, move |a| match value {
                    Value::One(v) => a.default_value(v),
                    Value::Many(v) => a.default_values(v),
                    Value::Switch(b) => a.default_value(if b { "true" } else { "false" }),
                });
            }
            cmd
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn cli() -> clap::Command {
        crate::cli::Cli::command()
    }

    fn parsed(text: &str) -> Result<Profile, String> {
        parse(text, Path::new("/c/config.toml"), "dev", &cli())
    }

    #[test]
    fn a_profile_holds_option_values_with_their_lines() {
        let p = parsed(
            "# mine\n[profiles.dev]\nrealm = \"acme\"\nretries = 3\nkid-thumbprint = true\nclaim = [\"a=1\", \"b=2\"]\n\n[profiles.prod]\nrealm = \"x\"\n",
        )
        .unwrap();
        assert_eq!(
            p.entries,
            vec![
                Entry {
                    key: "claim".into(),
                    value: Value::Many(vec!["a=1".into(), "b=2".into()]),
                    line: 6
                },
                Entry {
                    key: "kid-thumbprint".into(),
                    value: Value::Switch(true),
                    line: 5
                },
                Entry {
                    key: "realm".into(),
                    value: Value::One("acme".into()),
                    line: 3
                },
                Entry {
                    key: "retries".into(),
                    value: Value::One("3".into()),
                    line: 4
                },
            ]
        );
        assert_eq!(
            p.source(p.get("realm").unwrap()),
            "profile 'dev' (/c/config.toml:3)"
        );
    }

    #[test]
    fn bad_profiles_name_the_file_line_and_key() {
        for (text, expected) in [
            (
                "[profiles.dev]\nrelam = \"acme\"\n",
                "/c/config.toml:2: unknown key 'relam' (did you mean 'realm'?)",
            ),
            (
                "[profiles.dev]\nrealm = \"a\"\nnbf = \"yes\"\n",
                "/c/config.toml:3: 'nbf' is a switch: write nbf = true or false",
            ),
            (
                "[profiles.dev]\nclient-secret = \"s3cr3t\"\n",
                "/c/config.toml:2: 'client-secret' cannot be in a profile: secrets and assertions never sit in the file; give a path (e.g. client-secret-file) or use the environment",
            ),
            (
                "[profiles.dev]\nassertion = \"a.b.c\"\n",
                "/c/config.toml:2: 'assertion' cannot be in a profile: secrets and assertions never sit in the file; give a path (e.g. client-secret-file) or use the environment",
            ),
            (
                "[profiles.dev]\nallow-insecure-http = true\n",
                "/c/config.toml:2: 'allow-insecure-http' cannot be in a profile: like its missing JWTGRANT_* variable, it must be asked for on the command line of each run (docs/cli.md, 'Options without a variable')",
            ),
            (
                "[profiles.dev]\nkey = \"-----BEGIN PRIVATE KEY-----\\nMII\"\n",
                "/c/config.toml:2: 'key' holds a private key: a profile names the key's file (key = \"/path/private.pem\"), never its contents",
            ),
            (
                "[profiles.prod]\nrealm = \"x\"\n",
                "/c/config.toml: no profile 'dev' (it has: prod)",
            ),
            (
                "[profiles.dev]\nrealm = \n",
                "/c/config.toml:2: not valid TOML: ",
            ),
            (
                "realm = \"x\"\n[profiles.dev]\n",
                "/c/config.toml:1: unknown top-level key 'realm' (profiles go in [profiles.NAME] tables)",
            ),
        ] {
            let err = parsed(text).unwrap_err();
            assert!(err.starts_with(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_selection_comes_from_argv_then_the_environment_and_stops_at_the_double_dash() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        let env = |name: &str| match name {
            "JWTGRANT_PROFILE" => Some("from-env".to_owned()),
            _ => None,
        };
        assert_eq!(
            selection(
                &args(&["jwtgrant", "token", "--profile", "dev", "--config=/c.toml"]),
                env
            ),
            (Some("dev".into()), Some(PathBuf::from("/c.toml")))
        );
        assert_eq!(
            selection(
                &args(&["jwtgrant", "exec", "--", "tool", "--profile", "x"]),
                env
            ),
            (Some("from-env".into()), None)
        );
        let home = |name: &str| (name == "HOME").then(|| "/home/me".to_owned());
        assert_eq!(
            default_path(home),
            Some(PathBuf::from("/home/me/.config/jwtgrant/config.toml"))
        );
    }

    #[test]
    fn profile_values_sit_below_flags_and_variables() {
        let p = parsed("[profiles.dev]\nrealm = \"acme\"\nclient-id = \"c\"\n").unwrap();
        let cli = apply(cli(), &p);
        let m = cli
            .clone()
            .try_get_matches_from(["jwtgrant", "sign", "--realm", "other"])
            .unwrap();
        let (_, sign) = m.subcommand().unwrap();
        assert_eq!(
            sign.get_one::<String>("realm").map(String::as_str),
            Some("other")
        );
        let m = cli.try_get_matches_from(["jwtgrant", "token"]).unwrap();
        let (_, token) = m.subcommand().unwrap();
        assert_eq!(
            token.get_one::<String>("realm").map(String::as_str),
            Some("acme")
        );
        assert_eq!(
            token.get_one::<String>("client_id").map(String::as_str),
            Some("c")
        );
        assert_eq!(
            token.value_source("realm"),
            Some(clap::parser::ValueSource::DefaultValue)
        );
    }
}
