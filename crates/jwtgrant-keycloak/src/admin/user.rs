//! Users: the account an assertion's `sub` maps to.

use serde_json::Value;

use jwtgrant_exchange::Method;

use super::AdminSession;
use super::error::AdminError;
use super::http::location_id;
use super::spec::{
    Change, Outcome, UserSpec, differing, user_create_body, user_fields, with_fields,
};

/// A user after [`AdminSession::ensure_user`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EnsuredUser {
    /// What was done.
    pub outcome: Outcome,
    /// Keycloak's internal id (UUID) of the user.
    pub id: String,
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

    /// Makes sure an enabled user with this user name exists, without pending
    /// required actions (the grant refuses those: "Account is not fully set up").
    pub fn ensure_user(
        &self,
        realm: &str,
        username: &str,
        spec: &UserSpec,
    ) -> Result<EnsuredUser, AdminError> {
        let what = format!("user '{username}' in realm '{realm}'");
        let fields = user_fields(spec);
        match self.get_user(realm, username)? {
            None => {
                let op = format!("creating {what}");
                let path = ["admin", "realms", realm, "users"];
                let r = self.send(
                    &op,
                    Method::Post,
                    &path,
                    &[],
                    Some(&user_create_body(username, spec)),
                )?;
                if r.status != 201 {
                    return Err(r.rejected(&op));
                }
                let id = match location_id(r.location.as_deref()) {
                    Some(id) => id,
                    None => self
                        .get_user(realm, username)?
                        .and_then(|u| u["id"].as_str().map(str::to_owned))
                        .ok_or_else(|| AdminError::InvalidResponse {
                            operation: op.clone(),
                            detail: "created, but not found afterwards".into(),
                        })?,
                };
                Ok(EnsuredUser {
                    outcome: Outcome::new(Change::Created, &what, &[]),
                    id,
                })
            }
            Some(existing) => {
                let op = format!("updating {what}");
                let id = existing["id"]
                    .as_str()
                    .ok_or_else(|| AdminError::InvalidResponse {
                        operation: op.clone(),
                        detail: "the user has no 'id'".into(),
                    })?
                    .to_owned();
                let changed = differing(&existing, &fields);
                if !changed.is_empty() {
                    let path = ["admin", "realms", realm, "users", &id];
                    let body = with_fields(existing, &fields);
                    self.expect(&op, Method::Put, &path, Some(&body), 204)?;
                }
                let change = if changed.is_empty() {
                    Change::Unchanged
                } else {
                    Change::Updated
                };
                Ok(EnsuredUser {
                    outcome: Outcome::new(change, &what, &changed),
                    id,
                })
            }
        }
    }
}
