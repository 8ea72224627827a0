//! The HTTP glue of [`AdminSession`]: URLs, the bearer token, one retry after a 401, and
//! reading Keycloak's answers.

use serde_json::Value;
use url::Url;
use zeroize::Zeroizing;

use jwtgrant_exchange::{Body, Method, text};

use super::AdminSession;
use super::error::{AdminError, keycloak_message};
use super::spec::Secret;
use crate::settings::client;

/// A Keycloak answer: status, body text, and the `Location` header (creates).
pub(super) struct Reply {
    pub(super) status: u16,
    body: String,
    pub(super) location: Option<String>,
}

impl Reply {
    pub(super) fn json(&self, operation: &str) -> Result<Value, AdminError> {
        serde_json::from_str(&self.body).map_err(|e| AdminError::InvalidResponse {
            operation: operation.to_owned(),
            detail: format!("body is not JSON ({e})"),
        })
    }

    pub(super) fn rejected(&self, operation: &str) -> AdminError {
        AdminError::Rejected {
            operation: operation.to_owned(),
            status: self.status,
            message: keycloak_message(&self.body),
        }
    }
}

impl AdminSession {
    fn url(&self, path: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            // Each element is one path segment, percent-encoded: an alias or user name
            // with '/' or '?' cannot escape its place.
            segments.pop_if_empty().extend(path);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one request with a valid admin token; logs in again and retries once
    /// when Keycloak says 401 (e.g. the token was revoked or the server restarted).
    pub(super) fn send(
        &self,
        operation: &str,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, AdminError> {
        let url = self.url(path, query);
        if self.dry_run && method != Method::Get {
            return Err(AdminError::DryRun {
                operation: operation.to_owned(),
            });
        }
        let token = self.current_token()?;
        let reply = self.send_once(operation, method, &url, body, &token)?;
        if reply.status != 401 {
            return Ok(reply);
        }
        log::debug!("keycloak admin: 401 on {method:?} {url}, logging in again");
        let token = self.login()?;
        self.send_once(operation, method, &url, body, &token)
    }

    fn send_once(
        &self,
        operation: &str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        token: &Secret,
    ) -> Result<Reply, AdminError> {
        log::debug!("keycloak admin: {method:?} {url}");
        let auth = format!("Bearer {}", token.secret());
        let json = body.map(Value::to_string);
        let reply = self
            .transport
            .send(
                method,
                url,
                &[("authorization", &auth), ("accept", "application/json")],
                json.as_deref().map(Body::Json),
            )
            .map_err(|source| AdminError::Transport {
                operation: operation.to_owned(),
                source,
            })?;
        log::debug!("keycloak admin: {method:?} {url} -> {}", reply.status);
        // What this request carried that an echo must not show: the admin token, and a
        // client secret the body pins. Taken out before the body is read, as on the token
        // path, so no error made from it can hold them.
        // The body is JSON, so an echo of it quotes the secret JSON-escaped once more than
        // the scrubber's own JSON forms: that form is listed too.
        let pinned = body
            .and_then(|b| b.get(client::SECRET))
            .and_then(Value::as_str);
        let pinned_in_json = pinned.map(|p| {
            let quoted = Zeroizing::new(Value::from(p).to_string());
            Zeroizing::new(quoted[1..quoted.len() - 1].to_owned())
        });
        let secrets: Vec<&str> = [Some(token.secret()), pinned]
            .into_iter()
            .flatten()
            .chain(pinned_in_json.as_ref().map(|p| p.as_str()))
            .collect();
        Ok(Reply {
            status: reply.status,
            location: reply.header("location").map(str::to_owned),
            body: String::from_utf8_lossy(&text::scrub(&reply.body, &secrets)).into_owned(),
        })
    }

    pub(super) fn expect(
        &self,
        operation: &str,
        method: Method,
        path: &[&str],
        body: Option<&Value>,
        status: u16,
    ) -> Result<Reply, AdminError> {
        let r = self.send(operation, method, path, &[], body)?;
        if r.status == status {
            Ok(r)
        } else {
            Err(r.rejected(operation))
        }
    }

    /// POSTs `body` to `path` expecting 201, and returns the new object's id: from the
    /// `Location` header, else through `lookup` (a proxy may drop the header).
    pub(super) fn create(
        &self,
        operation: &str,
        path: &[&str],
        body: &Value,
        lookup: impl FnOnce() -> Result<Option<String>, AdminError>,
    ) -> Result<String, AdminError> {
        let r = self.expect(operation, Method::Post, path, Some(body), 201)?;
        match location_id(r.location.as_deref()) {
            Some(id) => Ok(id),
            None => lookup()?.ok_or_else(|| AdminError::InvalidResponse {
                operation: operation.to_owned(),
                detail: "created, but not found afterwards".into(),
            }),
        }
    }

    pub(super) fn get_optional(
        &self,
        operation: &str,
        path: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Option<Value>, AdminError> {
        let r = self.send(operation, Method::Get, path, query, None)?;
        match r.status {
            200 => r.json(operation).map(Some),
            404 => Ok(None),
            _ => Err(r.rejected(operation)),
        }
    }

    pub(super) fn get_list(
        &self,
        operation: &str,
        path: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, AdminError> {
        let r = self.send(operation, Method::Get, path, query, None)?;
        // Planning inside a realm (or for a user) that is still to be created.
        if self.dry_run && r.status == 404 {
            return Ok(Vec::new());
        }
        if r.status != 200 {
            return Err(r.rejected(operation));
        }
        match r.json(operation)? {
            Value::Array(items) => Ok(items),
            other => Err(AdminError::InvalidResponse {
                operation: operation.to_owned(),
                detail: format!("expected a JSON array, got {}", kind(&other)),
            }),
        }
    }
}

/// The id at the end of a `Location` header (`.../clients/{id}`).
pub(super) fn location_id(location: Option<&str>) -> Option<String> {
    let last = location?.trim_end_matches('/').rsplit('/').next()?;
    (!last.is_empty()).then(|| last.to_owned())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use jwtgrant_exchange::Transport;

    use super::*;
    use crate::admin::AdminLogin;

    #[test]
    fn urls_encode_each_segment() {
        let s = AdminSession::new(
            "http://127.0.0.1:8080/auth/",
            AdminLogin::password("admin", "pw"),
            Transport::new(),
        )
        .expect("valid base");
        assert_eq!(
            s.url(
                &["admin", "realms", "a/b c", "users"],
                &[("username", "x&y")]
            )
            .as_str(),
            "http://127.0.0.1:8080/auth/admin/realms/a%2Fb%20c/users?username=x%26y"
        );
        assert_eq!(
            crate::token_endpoint(s.base.as_str(), s.login.realm()),
            "http://127.0.0.1:8080/auth/realms/master/protocol/openid-connect/token"
        );
        let debug = format!("{s:?}");
        assert!(debug.contains("admin") && !debug.contains("pw"), "{debug}");
    }

    #[test]
    fn ids_from_location() {
        for (loc, id) in [
            (
                Some("http://kc/admin/realms/r/clients/abc-1"),
                Some("abc-1"),
            ),
            (Some("http://kc/admin/realms/r/users/u1/"), Some("u1")),
            (None, None),
        ] {
            assert_eq!(location_id(loc).as_deref(), id, "{loc:?}");
        }
    }
}
