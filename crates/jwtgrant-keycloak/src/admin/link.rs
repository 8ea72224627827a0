//! Federated-identity links: which user an identity provider's `sub` is.

use serde_json::Value;

use jwtgrant_exchange::Method;

use super::AdminSession;
use super::error::AdminError;
use super::spec::{Change, Outcome, changes, link_body, link_fields, verify};
use jwtgrant_exchange::text;

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

    /// The subjects (`userId`s) linked at identity provider `alias`, of at most `max` users.
    pub fn linked_subjects(
        &self,
        realm: &str,
        alias: &str,
        max: usize,
    ) -> Result<Vec<String>, AdminError> {
        let op = format!("listing the users linked at '{alias}' in realm '{realm}'");
        let path = ["admin", "realms", realm, "users"];
        let max = max.to_string();
        let query = [
            ("idpAlias", alias),
            ("briefRepresentation", "true"),
            ("max", max.as_str()),
        ];
        let mut subjects = Vec::new();
        for user in self.get_list(&op, &path, &query)? {
            let Some(id) = user["id"].as_str() else {
                continue;
            };
            subjects.extend(
                self.get_idp_links(realm, id)?
                    .iter()
                    .filter(|l| l["identityProvider"].as_str() == Some(alias))
                    .filter_map(|l| l["userId"].as_str().map(str::to_owned)),
            );
        }
        Ok(subjects)
    }

    /// Makes sure user `user_id` (Keycloak's id) is linked to the account `sub` (the
    /// assertion's subject) at identity provider `alias`. A link to another account is
    /// replaced (`Updated`): Keycloak cannot edit a link, so the old one is removed and
    /// the new one made; when the new one cannot be made the old one is put back, and the
    /// error ([`AdminError::Incomplete`]) says whether that worked. The link is read back
    /// after the write. Fails with [`AdminError::Conflict`] when another user already
    /// holds `sub`.
    pub fn ensure_idp_link(
        &self,
        realm: &str,
        user_id: &str,
        alias: &str,
        sub: &str,
        user_name: &str,
    ) -> Result<Outcome, AdminError> {
        let what = format!("link of user '{user_name}' to '{sub}' at '{alias}' in realm '{realm}'");
        let create_op = format!("creating {what}");
        // A user a dry run plans to create has no id and no links yet.
        let links = if user_id.is_empty() {
            Vec::new()
        } else {
            self.get_idp_links(realm, user_id)?
        };
        let current = links
            .iter()
            .find(|l| l["identityProvider"].as_str() == Some(alias));
        let held = |l: &Value, k: &str| l[k].as_str().map(str::to_owned);
        let wanted = link_fields(sub, user_name);
        let fields = changes(current, &wanted);
        if current.is_some() && fields.is_empty() {
            return Ok(Outcome::new(Change::Unchanged, &what, fields));
        }
        if let Some(holder) = self.find_user_by_idp_link(realm, alias, sub)?
            && holder["id"].as_str() != Some(user_id)
        {
            return Err(AdminError::Conflict {
                operation: create_op.clone(),
                detail: format!(
                    "'{sub}' at '{alias}' is already linked to user '{}' ({}); unlink it there first",
                    text::sanitize(holder["username"].as_str().unwrap_or("?"), 100),
                    text::sanitize(holder["id"].as_str().unwrap_or("?"), 100),
                ),
            });
        }
        let change = if current.is_some() {
            Change::Updated
        } else {
            Change::Created
        };
        let outcome = Outcome::new(change, &what, fields);
        if self.dry_run {
            return Ok(outcome);
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
        let op = create_op;
        let new = link_body(alias, sub, user_name);
        match current {
            None => {
                self.expect(&op, Method::Post, &path, Some(&new), 204)?;
            }
            Some(old) => {
                let old_sub = held(old, "userId").unwrap_or_default();
                let old_name = held(old, "userName").unwrap_or_default();
                let remove = format!(
                    "removing the old link of user '{user_name}' at '{alias}' in realm '{realm}'"
                );
                self.expect(&remove, Method::Delete, &path, None, 204)?;
                if let Err(e) = self.expect(&op, Method::Post, &path, Some(&new), 204) {
                    // Put the old link back: a failed replacement must not leave the
                    // user unlinked.
                    let restore = format!("restoring the link to '{old_sub}' at '{alias}'");
                    let back = link_body(alias, &old_sub, &old_name);
                    let applied = match self.expect(&restore, Method::Post, &path, Some(&back), 204)
                    {
                        Ok(_) => format!(
                            "the old link to '{old_sub}' was removed and put back: nothing changed"
                        ),
                        Err(r) => format!(
                            "the old link to '{old_sub}' was removed and could not be put back ({r}): user '{user_name}' has no link at '{alias}' now"
                        ),
                    };
                    return Err(AdminError::Incomplete {
                        source: Box::new(e),
                        applied,
                    });
                }
            }
        }
        let now = self.get_idp_links(realm, user_id)?;
        let link = now
            .iter()
            .find(|l| l["identityProvider"].as_str() == Some(alias));
        verify(&op, link.unwrap_or(&Value::Null), &wanted)?;
        Ok(outcome)
    }
}
