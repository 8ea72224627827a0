//! [`AdminError`]: what can go wrong talking to Keycloak's admin REST API.

use std::error::Error as StdError;
use std::fmt;

use jwtgrant_exchange::text;

/// A failed admin operation. Messages name the operation and carry Keycloak's own
/// message; they never contain passwords, client secrets or tokens.
#[derive(Debug)]
#[non_exhaustive]
pub enum AdminError {
    /// Logging in to get an admin token failed: Keycloak refused the credentials or
    /// the token endpoint answered something else than a token.
    Login {
        /// The token endpoint that was asked.
        token_url: String,
        /// Who tried to log in: the admin user name or the service-account client id.
        principal: String,
        /// Keycloak's HTTP status (0 when the answer was not a usable token at all).
        status: u16,
        /// Keycloak's `error` / `error_description`, verbatim.
        message: Option<String>,
    },
    /// Keycloak answered an admin request with an unexpected HTTP status.
    Rejected {
        /// What we were doing, e.g. `creating client 'custom-client' in realm 'acme'`.
        operation: String,
        /// The HTTP status.
        status: u16,
        /// Keycloak's `errorMessage`, `error` or `error_description`, verbatim.
        message: Option<String>,
    },
    /// The request did not get an answer: connection refused, timeout, TLS, DNS ...
    Transport {
        /// What we were doing.
        operation: String,
        /// The transport's error: what the policy refused, or why no answer came.
        source: jwtgrant_exchange::ExchangeError,
    },
    /// Keycloak answered 2xx but the body was not what its API promises.
    InvalidResponse {
        /// What we were doing.
        operation: String,
        /// What was wrong with the answer.
        detail: String,
    },
    /// What exists in Keycloak cannot be brought to the wanted state without
    /// destroying something we do not own (e.g. an alias taken by another provider
    /// type, or a link held by another user).
    Conflict {
        /// What we were doing.
        operation: String,
        /// What is in the way, and what to do about it.
        detail: String,
    },
    /// A [dry-run](super::AdminSession::dry_run) session was asked to write.
    DryRun {
        /// What would have been written.
        operation: String,
    },
    /// Keycloak accepted a write, but reading the object back shows fields that do not
    /// hold what was sent (a server that ignores or rewrites them).
    NotApplied {
        /// What was written.
        operation: String,
        /// The fields that differ, with what Keycloak holds and what was sent.
        fields: Vec<super::spec::FieldChange>,
    },
    /// A change of several writes failed part way; `applied` says what stands now.
    Incomplete {
        /// The write that failed.
        source: Box<AdminError>,
        /// What was applied, and what was undone.
        applied: String,
    },
    /// An argument cannot work (e.g. a base URL that is not an http(s) URL).
    InvalidInput {
        /// What is wrong with it.
        detail: String,
    },
}

impl AdminError {
    /// The HTTP status Keycloak answered with, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            AdminError::Login { status, .. } | AdminError::Rejected { status, .. }
                if *status != 0 =>
            {
                Some(*status)
            }
            _ => None,
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Login {
                token_url,
                principal,
                status,
                message,
            } => {
                write!(
                    f,
                    "keycloak admin login as '{principal}' at {token_url} failed"
                )?;
                if *status != 0 {
                    write!(f, ": HTTP {status}")?;
                }
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                match (*status, message.as_deref()) {
                    (_, Some(m)) if m.contains("Invalid user credentials") => {
                        write!(f, " (wrong admin user name or password)")
                    }
                    // Keycloak 26.7 says this for a wrong client secret as
                    // `unauthorized_client`, for an unknown client as `invalid_client`.
                    (_, Some(m))
                        if m.contains("invalid_client") || m.contains("Invalid client") =>
                    {
                        write!(
                            f,
                            " (wrong client id or secret, or the client is not confidential)"
                        )
                    }
                    (_, Some(m)) if m.contains("service account") => {
                        write!(f, " (enable service accounts on the client)")
                    }
                    (404, _) => write!(f, " (is the realm right, and is this a Keycloak URL?)"),
                    _ => Ok(()),
                }
            }
            AdminError::Rejected {
                operation,
                status,
                message,
            } => {
                write!(f, "{operation}: keycloak answered HTTP {status}")?;
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                match status {
                    401 => write!(f, " (the admin token was not accepted)"),
                    403 => write!(
                        f,
                        " (the admin account lacks the permission: it needs realm management rights)"
                    ),
                    _ => Ok(()),
                }
            }
            // The transport error is the source; printing it here too would repeat it in
            // every cause chain.
            AdminError::Transport { operation, source }
                if source.kind() == jwtgrant_exchange::ErrorKind::Config =>
            {
                f.write_str(operation)
            }
            AdminError::Transport { operation, .. } => {
                write!(f, "{operation}: no answer from keycloak")
            }
            AdminError::InvalidResponse { operation, detail } => {
                write!(f, "{operation}: unexpected answer from keycloak: {detail}")
            }
            AdminError::Conflict { operation, detail } => write!(f, "{operation}: {detail}"),
            AdminError::DryRun { operation } => {
                write!(f, "{operation}: not sent, this is a dry run")
            }
            AdminError::NotApplied { operation, fields } => {
                write!(
                    f,
                    "{operation}: keycloak accepted it, but reading it back shows"
                )?;
                for (i, c) in fields.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    let shown = |v: &Option<String>| match v {
                        Some(v) => format!("'{}'", text::sanitize(v, 80)),
                        None => "nothing".to_owned(),
                    };
                    // `old` is what the server holds after the write, `new` what was sent.
                    write!(
                        f,
                        "{sep}{} = {} (sent {})",
                        c.field,
                        shown(&c.old),
                        shown(&c.new)
                    )?;
                }
                write!(f, " (a Keycloak version or policy that ignores the field?)")
            }
            AdminError::Incomplete { source, applied } => write!(f, "{source}; {applied}"),
            AdminError::InvalidInput { detail } => f.write_str(detail),
        }
    }
}

impl StdError for AdminError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            AdminError::Transport { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Pulls Keycloak's message out of an error body: admin endpoints answer
/// `{"errorMessage": ...}` or `{"error": ...}`, OAuth endpoints
/// `{"error": ..., "error_description": ...}`. A body that is not JSON is quoted, its first
/// line only (it may be an HTML page from a proxy). Either way the text goes through the
/// output gate ([`text::sanitize`]): no control character, cut short. The body has already
/// been scrubbed of what the request carried ([`text::scrub`], in `http.rs`).
pub(crate) fn keycloak_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(body) {
        let text = |k: &str| {
            map.get(k)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        let mut parts = Vec::new();
        if let Some(m) = text("errorMessage") {
            parts.push(m.to_owned());
        }
        match (text("error"), text("error_description")) {
            (Some(e), Some(d)) => parts.push(format!("{e}: {d}")),
            (Some(e), None) => parts.push(e.to_owned()),
            (None, Some(d)) => parts.push(d.to_owned()),
            (None, None) => {}
        }
        if let Some(params) = map.get("params").and_then(|p| p.as_array())
            && !params.is_empty()
        {
            let params: Vec<String> = params
                .iter()
                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                .collect();
            parts.push(format!("[{}]", params.join(", ")));
        }
        if !parts.is_empty() {
            return Some(text::sanitize(&parts.join(" "), MESSAGE_CHARS));
        }
    }
    let first_line = body.lines().next().unwrap_or_default();
    let cut = text::sanitize(first_line, text::SNIPPET_CHARS);
    if cut.len() < body.len() && !cut.ends_with("...") {
        Some(format!("'{cut}...'"))
    } else {
        Some(format!("'{cut}'"))
    }
}

/// How many characters of Keycloak's message an error keeps.
const MESSAGE_CHARS: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, expected: Option<&str>) {
        assert_eq!(keycloak_message(body).as_deref(), expected, "{body}");
    }

    #[test]
    fn messages_from_bodies() {
        check("", None);
        check(
            r#"{"errorMessage":"Identity Provider jwt already exists"}"#,
            Some("Identity Provider jwt already exists"),
        );
        check(
            r#"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#,
            Some("invalid_grant: Invalid user credentials"),
        );
        check(r#"{"error":"Realm not found."}"#, Some("Realm not found."));
        check(
            r#"{"field":"email","errorMessage":"error-invalid-email","params":["email","x"]}"#,
            Some("error-invalid-email [email, x]"),
        );
        check("<html>\nbad gateway", Some("'<html>...'"));
        check("plain", Some("'plain'"));
    }

    #[test]
    fn display_names_operation_status_and_hint() {
        let e = AdminError::Login {
            token_url: "http://kc/realms/master/protocol/openid-connect/token".into(),
            principal: "admin".into(),
            status: 401,
            message: Some("invalid_grant: Invalid user credentials".into()),
        };
        assert_eq!(
            e.to_string(),
            "keycloak admin login as 'admin' at http://kc/realms/master/protocol/openid-connect/token \
             failed: HTTP 401: invalid_grant: Invalid user credentials (wrong admin user name or password)"
        );
        assert_eq!(e.status(), Some(401));
        for (message, hint) in [
            (
                "unauthorized_client: Invalid client or Invalid client credentials",
                "(wrong client id or secret, or the client is not confidential)",
            ),
            (
                "unauthorized_client: Client not enabled to retrieve service account",
                "(enable service accounts on the client)",
            ),
        ] {
            let e = AdminError::Login {
                token_url: "t".into(),
                principal: "c".into(),
                status: 401,
                message: Some(message.into()),
            };
            assert!(e.to_string().ends_with(hint), "{e}");
        }
        let e = AdminError::Rejected {
            operation: "creating realm 'acme'".into(),
            status: 403,
            message: None,
        };
        assert!(
            e.to_string()
                .starts_with("creating realm 'acme': keycloak answered HTTP 403 (")
        );
    }
}
