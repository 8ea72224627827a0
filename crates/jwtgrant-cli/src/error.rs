//! Exit codes and how errors are printed.
//!
//! Errors travel as `anyhow::Error`; the exit code comes from marker types in the cause
//! chain (`Usage`, `Rejected`) or from the exchange crate's error, found by downcasting.

use std::fmt;

use jwtgrant_exchange::{ErrorKind, ExchangeError, text};
use jwtgrant_keycloak::admin::AdminError;

use crate::advice;

/// 0 success.
pub const OK: u8 = 0;
/// 1 any other failure.
pub const FAILURE: u8 = 1;
/// 2 usage error (what clap also uses).
pub const USAGE: u8 = 2;
/// 3 the server rejected the grant or the client.
pub const REJECTED: u8 = 3;
/// 4 the server could not be reached or answered nonsense.
pub const UNREACHABLE: u8 = 4;

/// A usage error found after parsing (a missing combination of options, a forbidden flag).
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Usage {}

/// Shorthand: `return Err(usage(format!(...)))`.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    Usage(msg.into()).into()
}

/// A failure with a fixed exit code and an optional hint (e.g. doctor's verdict).
#[derive(Debug)]
pub struct Coded {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
    /// The command's JSON output on stdout already carries this failure (`doctor --json`
    /// prints its report with the exit code): no second object.
    pub in_json_output: bool,
}

/// `err` marked as already shown in the command's JSON output (see [`Coded`]).
pub fn shown_in_json(mut err: anyhow::Error) -> anyhow::Error {
    if let Some(c) = err.downcast_mut::<Coded>() {
        c.in_json_output = true;
    }
    err
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for Coded {}

/// Stdout was closed by the reader (`jwtgrant token | head -c 5`): exit 0 quietly.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout closed")
    }
}
impl std::error::Error for StdoutClosed {}

/// What to print and which code to exit with.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    pub code: u8,
    /// Lines after the `jwtgrant: ` line (already indented), e.g. `  hint: ...`.
    pub extra: Vec<String>,
    /// Print nothing at all (closed stdout).
    pub quiet: bool,
    /// Keycloak answered with a rejection, which `jwtgrant keycloak doctor` can explain.
    pub doctor_explains: bool,
    /// The command's own JSON output already carries the failure.
    pub in_json_output: bool,
}

pub fn classify(err: &anyhow::Error) -> Verdict {
    let mut v = Verdict {
        code: FAILURE,
        extra: Vec::new(),
        quiet: false,
        doctor_explains: false,
        in_json_output: false,
    };
    for cause in err.chain() {
        if cause.is::<StdoutClosed>() {
            return Verdict {
                code: OK,
                quiet: true,
                ..v
            };
        }
        if cause.is::<Usage>() {
            v.code = USAGE;
            break;
        }
        if let Some(c) = cause.downcast_ref::<Coded>() {
            v.code = c.code;
            v.in_json_output = c.in_json_output;
            if let Some(h) = &c.hint {
                v.extra.push(format!("  hint: {h}"));
            }
            break;
        }
        if let Some(e) = cause.downcast_ref::<ExchangeError>() {
            classify_exchange_error(e, &mut v);
            v.doctor_explains = matches!(e, ExchangeError::Rejected(_));
            break;
        }
        if let Some(e) = cause.downcast_ref::<AdminError>() {
            classify_admin_error(e, &mut v);
            break;
        }
    }
    v
}

/// Exit code and hint for the exchange crate's errors: Keycloak's hint (`jwtgrant-keycloak`),
/// or the same advice phrased with this binary's flags.
fn classify_exchange_error(e: &ExchangeError, v: &mut Verdict) {
    v.code = match e.kind() {
        ErrorKind::Rejected => REJECTED,
        ErrorKind::Unreachable | ErrorKind::BadResponse => UNREACHABLE,
        ErrorKind::Config => match e {
            ExchangeError::InvalidUrl { .. } | ExchangeError::InsecureHttp { .. } => USAGE,
            _ => FAILURE,
        },
        _ => FAILURE,
    };
    let hint: Option<String> = match e {
        ExchangeError::InsecureHttp { .. } => Some(
            "use https, or pass --allow-insecure-http if you accept that secrets, passwords and tokens travel in clear text".into(),
        ),
        ExchangeError::Timeout { .. } => Some(
            "check that the host is reachable from here (firewall, HTTPS_PROXY/NO_PROXY), or raise --timeout".into(),
        ),
        ExchangeError::Tls { .. } => Some(
            "if the server's certificate comes from an internal CA, pass it with --ca-file PEM; check the host name matches the certificate".into(),
        ),
        ExchangeError::Discovery { .. } => Some(
            "pass the issuer URL (for Keycloak <base>/realms/<realm>), or --token-endpoint / --keycloak and --realm".into(),
        ),
        ExchangeError::ClientCertificate { .. } => Some(
            "pass --client-cert FILE (PEM, the client's certificate first) and --client-key FILE (its private key)".into(),
        ),
        // Keycloak's rejection: its table's hint, then how to do it with jwtgrant.
        ExchangeError::Rejected(r) => advice::for_rejection(r),
        ExchangeError::CertificateBinding { presented: None, .. } => Some(
            "the client requires certificate-bound tokens: pass --client-cert FILE and --client-key FILE".into(),
        ),
        ExchangeError::DpopBinding { presented: None, .. } => Some(
            "the token is bound to a DPoP key: pass the key it is bound to with --dpop-key FILE"
                .to_owned(),
        ),
        _ => jwtgrant_keycloak::hint(e).map(str::to_owned),
    };
    if let Some(h) = hint {
        v.extra.push(format!("  hint: {h}"));
    }
}

/// Exit codes and hints for admin API errors.
fn classify_admin_error(e: &AdminError, v: &mut Verdict) {
    match e {
        // Keycloak (or a proxy) in trouble, or an answer that is no token: not the password.
        AdminError::Login { status, .. } if *status == 0 || *status >= 500 => {
            v.code = UNREACHABLE;
            v.extra.push("  hint: the server did not log the admin in for a reason of its own (a 5xx, or an answer without a token): check --keycloak, that Keycloak is up, and any proxy in front of it".into());
        }
        // The login URL has no such realm or path: a URL mistake, not a password one.
        AdminError::Login { status: 404, .. } => {
            v.code = REJECTED;
            v.extra.push("  hint: check --keycloak (the base URL, without /auth on Keycloak 17+) and --admin-realm (the realm the admin is in, master by default)".into());
        }
        AdminError::Login { .. } => {
            v.code = REJECTED;
            v.extra.push("  hint: check --admin-user and the admin password (KEYCLOAK_ADMIN_PASSWORD or --admin-password-file), and --admin-realm (master unless the admin is a realm's own); a service account: --admin-client-id and its secret or key".into());
        }
        // What the transport said: refused before sending (plain http, a CA file), or no
        // answer; the exchange's advice applies as it is.
        AdminError::Transport { source, .. } => {
            classify_exchange_error(source, v);
            if source.kind() == ErrorKind::Unreachable {
                v.extra.push("  hint: check --keycloak (the base URL, e.g. http://localhost:8080) and that Keycloak is running".into());
            }
        }
        AdminError::InvalidResponse { .. } => v.code = UNREACHABLE,
        AdminError::Rejected { status: 403, .. } => {
            v.code = REJECTED;
            v.extra
                .push("  hint: the admin user lacks the realm-management roles for this".into());
        }
        AdminError::Rejected { .. } => v.code = REJECTED,
        // Part of a change failed: the failed write decides.
        AdminError::Incomplete { source, .. } => classify_admin_error(source, v),
        _ => {}
    }
}

/// How a command wants its failure reported, beyond the line on stderr.
#[derive(Debug, Default)]
pub struct Reporting {
    /// `--json`: one error object on stdout too.
    pub json: bool,
    /// The `jwtgrant keycloak doctor` command that explains a rejection of this command.
    pub doctor: Option<String>,
}

/// Print the error the way the CLI promises: one line with the cause chain, then the hint,
/// then (for a rejection `doctor` can explain) the doctor command to run. With `--json`, the
/// same as one object on stdout: `{"error": {"message", "exit_code", "hint", "doctor"}}`.
pub fn report(err: &anyhow::Error, how: &Reporting) -> u8 {
    let mut v = classify(err);
    if v.quiet {
        return v.code;
    }
    let doctor = how.doctor.as_deref().filter(|_| v.doctor_explains);
    if let Some(line) = doctor {
        v.extra.push(format!("  diagnose: {line}"));
    }
    // The chain carries Keycloak's own words (error_description, admin API messages).
    let line = text::terminal_safe(&format!("{err:#}").replace('\n', " "));
    eprintln!("jwtgrant: {line}");
    for extra in &v.extra {
        eprintln!("{}", text::terminal_safe(extra));
    }
    if how.json && !v.in_json_output {
        let hint = v
            .extra
            .iter()
            .find_map(|e| e.strip_prefix("  hint: "))
            .map(text::terminal_safe);
        let object = serde_json::json!({"error": {
            "message": line,
            "exit_code": v.code,
            "hint": hint,
            "doctor": doctor.map(text::terminal_safe),
        }});
        // A closed stdout cannot take the object either; the line on stderr stands.
        let _ = crate::files::println(&object.to_string());
    }
    v.code
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn codes_come_from_the_chain() {
        assert_eq!(classify(&anyhow::anyhow!("x")).code, FAILURE);
        assert_eq!(classify(&usage("bad").context("outer")).code, USAGE);
        let closed = Err::<(), _>(StdoutClosed).context("writing").unwrap_err();
        assert_eq!(
            classify(&closed),
            Verdict {
                code: OK,
                extra: vec![],
                quiet: true,
                doctor_explains: false,
                in_json_output: false,
            }
        );
        let coded = anyhow::Error::new(Coded {
            code: REJECTED,
            message: "m".into(),
            hint: Some("h".into()),
            in_json_output: false,
        });
        assert_eq!(classify(&coded).code, REJECTED);
        assert_eq!(classify(&coded).extra, vec!["  hint: h".to_owned()]);
    }
}
