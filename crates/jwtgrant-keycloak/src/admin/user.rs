//! Users: the account an assertion's `sub` maps to.

use serde_json::Value;

use jwtgrant_exchange::Method;

use super::AdminSession;
use super::error::AdminError;
use super::spec::{
    Change, Outcome, UserSpec, changes, user_create_body, user_create_fields, user_fields, verify,
    with_fields,
};
use crate::settings::user;
use jwtgrant_exchange::text;

/// A user after [`AdminSession::ensure_user`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EnsuredUser {
    /// What was done.
    pub outcome: Outcome,
    /// Keycloak's internal id (UUID) of the user; empty when a dry run plans its creation.
    pub id: String,
    /// Whether the user is enabled (the grant refuses a disabled one).
    pub enabled: bool,
    /// The user's pending required actions (the grant refuses a user with any: "Account
    /// is not fully set up"). Left as they are on an existing user.
    pub required_actions: Vec<String>,
}

impl AdminSession {
    /// The user with this user name (Keycloak stores user names in lower case), or `None`.
    pub fn get_user(&self, realm: &str, username: &str) -> Result<Option<Value>, AdminError> {
        let op = format!("looking up user '{username}' in realm '{realm}'");
        let path = ["admin", "realms", realm, "users"];
        let query = [
            ("username", username),
            ("exact", "true"),
            ("briefRepresentation", "false"),
        ];
        let list = self.get_list(&op, &path, &query)?;
        Ok(list.into_iter().find(|u| {
            u["username"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(username))
        }))
    }

    /// Makes sure a user with this user name exists. A new one is created enabled and
    /// without required actions; an existing one gets only the fields `spec` names: its
    /// `enabled`, required actions and attributes are left as an admin set them, and
    /// reported in [`EnsuredUser`].
    pub fn ensure_user(
        &self,
        realm: &str,
        username: &str,
        spec: &UserSpec,
    ) -> Result<EnsuredUser, AdminError> {
        let what = format!("user '{username}' in realm '{realm}'");
        let fields = user_fields(spec);
        let Some(existing) = self.get_user(realm, username)? else {
            let body = user_create_body(username, spec);
            let outcome = Outcome::new(
                Change::Created,
                &what,
                changes(None, &user_create_fields(spec)),
            );
            let id = if self.dry_run {
                String::new()
            } else {
                let op = format!("creating {what}");
                let path = ["admin", "realms", realm, "users"];
                self.create(&op, &path, &body, || {
                    Ok(self
                        .get_user(realm, username)?
                        .and_then(|u| u["id"].as_str().map(str::to_owned)))
                })?
            };
            return Ok(EnsuredUser {
                outcome,
                id,
                enabled: spec.enabled.unwrap_or(true),
                required_actions: Vec::new(),
            });
        };
        let op = format!("updating {what}");
        let id = existing["id"]
            .as_str()
            .ok_or_else(|| AdminError::InvalidResponse {
                operation: op.clone(),
                detail: "the user has no 'id'".into(),
            })?
            .to_owned();
        let outcome = Outcome::update(&what, changes(Some(&existing), &fields));
        let mut now = existing.clone();
        if outcome.change == Change::Updated && !self.dry_run {
            let path = ["admin", "realms", realm, "users", &id];
            let body = with_fields(existing, &fields);
            self.expect(&op, Method::Put, &path, Some(&body), 204)?;
            now = self
                .get_user(realm, username)?
                .ok_or_else(|| AdminError::InvalidResponse {
                    operation: op.clone(),
                    detail: "written, but not found when read back".into(),
                })?;
            verify(&op, &now, &fields)?;
        } else {
            now = with_fields(now, &fields);
        }
        Ok(EnsuredUser {
            outcome,
            id,
            enabled: now[user::ENABLED].as_bool().unwrap_or(false),
            required_actions: now[user::REQUIRED_ACTIONS]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(|s| text::sanitize(s, 100))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}
