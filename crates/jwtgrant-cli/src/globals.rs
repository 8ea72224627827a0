//! The global flags, as every command's resolution and key loading read them.
//!
//! Depends on no command module: `settings`, the key loaders and `cmd/*` all take a
//! `&Globals`, none of them the other way round.

use std::path::PathBuf;

use crate::cli::Cli;

/// Global flags every command may need, and the environment jwtgrant reads itself (the
/// secrets' variables; clap reads the others). `Clone` for the reload thread of `jwks serve`;
/// clones share the PIN read once.
#[derive(Debug, Default, Clone)]
#[cfg_attr(
    not(feature = "pkcs11"),
    allow(
        dead_code,
        reason = "the pkcs11 fields are read by the feature's code only"
    )
)]
pub struct Globals {
    /// `--allow-insecure-key-permissions`.
    pub allow_insecure_key_permissions: bool,
    /// `--pkcs11-module`.
    pub pkcs11_module: Option<PathBuf>,
    /// `--pkcs11-pin-file` (`-` is stdin).
    pub pkcs11_pin_file: Option<PathBuf>,
    /// `--profile`: the profile whose values are the defaults (a label for cached tokens).
    pub profile: Option<String>,
    /// The PIN read from `--pkcs11-pin-file`, kept so that the file (or stdin, which can be
    /// read only once) is read once per run however many `pkcs11:` keys a command opens.
    #[cfg(feature = "pkcs11")]
    pub(crate) pin: std::sync::Arc<std::sync::OnceLock<jwtgrant_signer::pkcs11::Pin>>,
    env: Env,
}

/// Where environment variables come from: the process, or a test's own table (the process
/// environment cannot be changed safely from a threaded test).
#[derive(Debug, Default, Clone)]
enum Env {
    #[default]
    Process,
    #[cfg(test)]
    Fixed(Vec<(String, String)>),
}

impl Globals {
    /// The global flags of a parsed command line, reading the process environment.
    pub fn from_cli(cli: &Cli) -> Self {
        Self {
            allow_insecure_key_permissions: cli.allow_insecure_key_permissions,
            pkcs11_module: cli.pkcs11_module.clone(),
            pkcs11_pin_file: cli.pkcs11_pin_file.clone(),
            profile: cli.profile.clone(),
            ..Self::default()
        }
    }

    /// Environment variable `name`, when set to valid UTF-8.
    pub fn var(&self, name: &str) -> Option<String> {
        match &self.env {
            Env::Process => std::env::var(name).ok(),
            #[cfg(test)]
            Env::Fixed(vars) => vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()),
        }
    }

    /// These flags with `vars` as the whole environment.
    #[cfg(test)]
    pub fn with_env(mut self, vars: &[(&str, &str)]) -> Self {
        self.env = Env::Fixed(
            vars.iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        );
        self
    }
}
