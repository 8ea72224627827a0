//! Realms: read, ensure, tune and delete.

use std::time::Duration;

use serde_json::Value;

use jwtgrant_exchange::Method;

use super::AdminSession;
use super::error::AdminError;
use super::spec::{Change, FieldChange, Outcome};

impl AdminSession {
    /// The realm's representation, or `None` when it does not exist.
    pub fn get_realm(&self, realm: &str) -> Result<Option<Value>, AdminError> {
        let op = format!("reading realm '{realm}'");
        self.get_optional(&op, &["admin", "realms", realm], &[])
    }

    /// The names of the realms this admin can see.
    pub fn realm_names(&self) -> Result<Vec<String>, AdminError> {
        let list = self.get_list("listing the realms", &["admin", "realms"], &[])?;
        Ok(names(&list, "realm"))
    }

    /// Makes sure an enabled realm of this name exists.
    pub fn ensure_realm(&self, realm: &str) -> Result<Outcome, AdminError> {
        let what = format!("realm '{realm}'");
        let enabled = || vec![FieldChange::new("enabled", None, Some("true".into()))];
        match self.get_realm(realm)? {
            None if self.dry_run => Ok(Outcome::new(Change::Created, &what, enabled())),
            None => {
                let op = format!("creating {what}");
                let body = serde_json::json!({"realm": realm, "enabled": true});
                let r = self.send(&op, Method::Post, &["admin", "realms"], &[], Some(&body))?;
                match r.status {
                    201 => Ok(Outcome::new(Change::Created, &what, enabled())),
                    // Created meanwhile by someone else: it exists now, which is what we want.
                    409 => Ok(Outcome::new(Change::Unchanged, &what, Vec::new())),
                    _ => Err(r.rejected(&op)),
                }
            }
            Some(existing) if existing["enabled"] != Value::Bool(true) => {
                let old = existing["enabled"].as_bool().map(|b| b.to_string());
                let fields = vec![FieldChange::new("enabled", old, Some("true".into()))];
                if !self.dry_run {
                    let op = format!("enabling {what}");
                    // Realm updates are partial: only the fields sent change.
                    let body = serde_json::json!({"enabled": true});
                    let path = ["admin", "realms", realm];
                    self.expect(&op, Method::Put, &path, Some(&body), 204)?;
                }
                Ok(Outcome::new(Change::Updated, &what, fields))
            }
            Some(_) => Ok(Outcome::new(Change::Unchanged, &what, Vec::new())),
        }
    }

    /// Sets how long the realm's access tokens live (`accessTokenLifespan`). Keycloak's
    /// default is 5 minutes; a short one lets a benchmark or test see several refreshes.
    /// Clients with their own lifespan override it.
    pub fn set_access_token_lifespan(
        &self,
        realm: &str,
        lifespan: Duration,
    ) -> Result<(), AdminError> {
        let seconds = lifespan.as_secs();
        let op = format!("setting the access token lifespan of realm '{realm}' to {seconds} s");
        // Realm updates are partial: only the fields sent change.
        let body = serde_json::json!({"accessTokenLifespan": seconds});
        self.expect(
            &op,
            Method::Put,
            &["admin", "realms", realm],
            Some(&body),
            204,
        )?;
        Ok(())
    }

    /// Deletes the realm and everything in it. `false` when it did not exist.
    pub fn delete_realm(&self, realm: &str) -> Result<bool, AdminError> {
        let op = format!("deleting realm '{realm}'");
        let r = self.send(&op, Method::Delete, &["admin", "realms", realm], &[], None)?;
        match r.status {
            204 => Ok(true),
            404 => Ok(false),
            _ => Err(r.rejected(&op)),
        }
    }
}

/// The string `field` of every object in `list`.
pub(super) fn names(list: &[Value], field: &str) -> Vec<String> {
    list.iter()
        .filter_map(|v| v[field].as_str().map(str::to_owned))
        .collect()
}
