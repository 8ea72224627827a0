//! Federated-identity links: which user an identity provider's `sub` is.

use serde_json::Value;

use jwtgrant_exchange::Method;

use super::AdminSession;
use super::error::AdminError;
use super::spec::{Change, Outcome, link_body};

impl AdminSession {
    /// The identity provider links of a user: `[{"identityProvider", "userId", "userName"}]`.
    pub fn get_idp_links(&self, realm: &str, user_id: &str) -> Result<Vec<Value>, AdminError> {
        let op = format!("listing identity provider links of user {user_id} in realm '{realm}'");
        let path = [
            "admin",
            "realms",
            realm,
            "users",
            user_id,
            "federated-identity",
        ];
        self.get_list(&op, &path, &[])
    }

    /// The user linked to `sub` at identity provider `alias`: the user an assertion
    /// with that `sub` maps to. `None` when nobody is linked.
    pub fn find_user_by_idp_link(
        &self,
        realm: &str,
        alias: &str,
        sub: &str,
    ) -> Result<Option<Value>, AdminError> {
        let op = format!("looking up the user linked to '{sub}' at '{alias}' in realm '{realm}'");
        let path = ["admin", "realms", realm, "users"];
        let query = [
            ("idpAlias", alias),
            ("idpUserId", sub),
            ("briefRepresentation", "false"),
        ];
        Ok(self.get_list(&op, &path, &query)?.into_iter().next())
    }

    /// Makes sure user `user_id` (Keycloak's id) is linked to the account `sub` (the
    /// assertion's subject) at identity provider `alias`. A link to another account is
    /// replaced (`Updated`). Fails with [`AdminError::Conflict`] when another user
    /// already holds `sub`.
    pub fn ensure_idp_link(
        &self,
        realm: &str,
        user_id: &str,
        alias: &str,
        sub: &str,
        user_name: &str,
    ) -> Result<Outcome, AdminError> {
        let what = format!("link of user {user_id} to '{sub}' at '{alias}' in realm '{realm}'");
        let create_op = format!("creating {what}");
        let links = self.get_idp_links(realm, user_id)?;
        let current = links
            .iter()
            .find(|l| l["identityProvider"].as_str() == Some(alias));
        let mut changed = Vec::new();
        if let Some(link) = current {
            if link["userId"].as_str() == Some(sub) && link["userName"].as_str() == Some(user_name)
            {
                return Ok(Outcome::new(Change::Unchanged, &what, &[]));
            }
            if link["userId"].as_str() != Some(sub) {
                changed.push("userId".to_owned());
            }
            if link["userName"].as_str() != Some(user_name) {
                changed.push("userName".to_owned());
            }
        }
        if let Some(holder) = self.find_user_by_idp_link(realm, alias, sub)?
            && holder["id"].as_str() != Some(user_id)
        {
            return Err(AdminError::Conflict {
                operation: create_op,
                detail: format!(
                    "'{sub}' at '{alias}' is already linked to user '{}' ({}); unlink it there first",
                    holder["username"].as_str().unwrap_or("?"),
                    holder["id"].as_str().unwrap_or("?"),
                ),
            });
        }
        let path = [
            "admin",
            "realms",
            realm,
            "users",
            user_id,
            "federated-identity",
            alias,
        ];
        if current.is_some() {
            // Keycloak cannot edit a link: remove it and link again.
            let op =
                format!("removing the old link of user {user_id} at '{alias}' in realm '{realm}'");
            self.expect(&op, Method::Delete, &path, None, 204)?;
        }
        let op = format!("linking {what}");
        self.expect(
            &op,
            Method::Post,
            &path,
            Some(&link_body(alias, sub, user_name)),
            204,
        )?;
        let change = if current.is_some() {
            Change::Updated
        } else {
            Change::Created
        };
        Ok(Outcome::new(change, &what, &changed))
    }
}
