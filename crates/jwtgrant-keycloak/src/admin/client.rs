//! Clients: the confidential client allowed to present assertions, and its secret.

use serde_json::Value;

use jwtgrant_exchange::Method;

use super::AdminSession;
use super::error::AdminError;
use super::spec::{
    Change, ClientAuthenticator, Field, FieldChange, JwtClient, Outcome, Secret, changes,
    client_create_body, client_create_fields, client_fields, verify, with_fields,
};
use crate::settings::Authenticator;
use crate::settings::client::{AUTHENTICATOR, SECRET};

/// A client after [`AdminSession::ensure_client`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EnsuredClient {
    /// What was done.
    pub outcome: Outcome,
    /// Keycloak's internal id (UUID) of the client; empty when a dry run plans its
    /// creation.
    pub id: String,
    /// How the client authenticates now: as asked, or as it was when
    /// [`JwtClient::keep_existing_auth`] left it.
    pub authenticator: Authenticator,
    /// The client secret, for a `client-secret` client (`None` in a dry run that would
    /// create the client or generate its secret).
    pub secret: Option<Secret>,
}

impl AdminSession {
    /// The client with this `clientId`, or `None`.
    pub fn get_client(&self, realm: &str, client_id: &str) -> Result<Option<Value>, AdminError> {
        let op = format!("looking up client '{client_id}' in realm '{realm}'");
        let path = ["admin", "realms", realm, "clients"];
        // `clientId` is an exact match unless `search=true`.
        let list = self.get_list(&op, &path, &[("clientId", client_id)])?;
        Ok(list
            .into_iter()
            .find(|c| c["clientId"].as_str() == Some(client_id)))
    }

    /// The `clientId`s of the realm's clients (at most the first 1,000).
    pub fn client_ids(&self, realm: &str) -> Result<Vec<String>, AdminError> {
        let op = format!("listing the clients of realm '{realm}'");
        let path = ["admin", "realms", realm, "clients"];
        let list = self.get_list(&op, &path, &[("first", "0"), ("max", "1000")])?;
        Ok(super::realm::names(&list, "clientId"))
    }

    /// Makes sure the realm has this confidential client, allowed to present
    /// assertions from [`JwtClient::allowed_idps`]. An existing client keeps what
    /// [`JwtClient`] does not name (its flows, other allowed providers, its bindings and,
    /// with [`JwtClient::keep_existing_auth`], its authenticator). Returns the secret of a
    /// `client-secret` client, generating one when it has none. Every write is read back
    /// and checked ([`AdminError::NotApplied`]).
    pub fn ensure_client(
        &self,
        realm: &str,
        client: &JwtClient,
    ) -> Result<EnsuredClient, AdminError> {
        let what = format!("client '{}' in realm '{realm}'", client.client_id);
        let existing = self.get_client(realm, &client.client_id)?;
        let fields = client_fields(client, existing.as_ref());
        let (outcome, id, authenticator) = match existing {
            None => {
                let created = client_create_fields(client);
                let outcome = Outcome::new(Change::Created, &what, changes(None, &created));
                let id = if self.dry_run {
                    String::new()
                } else {
                    let op = format!("creating {what}");
                    let path = ["admin", "realms", realm, "clients"];
                    let body = client_create_body(client);
                    let id = self.create(&op, &path, &body, || {
                        self.find_client_uuid(realm, &client.client_id)
                    })?;
                    self.reread_client(realm, &id, &op, &created)?;
                    id
                };
                (outcome, id, client.auth.kind())
            }
            Some(existing) => {
                let op = format!("updating {what}");
                let id = existing["id"]
                    .as_str()
                    .ok_or_else(|| AdminError::InvalidResponse {
                        operation: op.clone(),
                        detail: "the client has no 'id'".into(),
                    })?
                    .to_owned();
                let mut changed = changes(Some(&existing), &fields);
                let authenticator = if client.keep_existing_auth {
                    Authenticator::from_name(existing[AUTHENTICATOR].as_str().unwrap_or_default())
                } else {
                    client.auth.kind()
                };
                let mut body = with_fields(existing, &fields);
                if let (false, ClientAuthenticator::Secret(Some(want))) =
                    (client.keep_existing_auth, &client.auth)
                {
                    let have = self.client_secret_by_id(realm, &id, &client.client_id)?;
                    if have.as_ref() != Some(want) {
                        changed.push(FieldChange::secret(SECRET));
                        body[SECRET] = Value::String(want.secret().to_owned());
                    }
                }
                let outcome = Outcome::update(&what, changed);
                if outcome.change == Change::Updated && !self.dry_run {
                    let path = ["admin", "realms", realm, "clients", &id];
                    self.expect(&op, Method::Put, &path, Some(&body), 204)?;
                    self.reread_client(realm, &id, &op, &fields)?;
                }
                (outcome, id, authenticator)
            }
        };
        let secret = match authenticator {
            Authenticator::Secret if id.is_empty() => None,
            Authenticator::Secret if self.dry_run => {
                self.client_secret_by_id(realm, &id, &client.client_id)?
            }
            Authenticator::Secret => Some(self.ensure_secret(realm, &id, &client.client_id)?),
            _ => None,
        };
        Ok(EnsuredClient {
            outcome,
            id,
            authenticator,
            secret,
        })
    }

    /// Reads the client back after `op` and checks it holds `fields`.
    fn reread_client(
        &self,
        realm: &str,
        id: &str,
        op: &str,
        fields: &[Field],
    ) -> Result<(), AdminError> {
        let path = ["admin", "realms", realm, "clients", id];
        let reread =
            self.get_optional(op, &path, &[])?
                .ok_or_else(|| AdminError::InvalidResponse {
                    operation: op.to_owned(),
                    detail: "written, but not found when read back".into(),
                })?;
        verify(op, &reread, fields)
    }

    /// The client's current secret, or `None` when it has none (e.g. a public client,
    /// or one that authenticated with keys until now).
    pub fn client_secret(
        &self,
        realm: &str,
        client_id: &str,
    ) -> Result<Option<Secret>, AdminError> {
        let op = format!("reading the secret of client '{client_id}' in realm '{realm}'");
        let id = self.client_uuid(realm, client_id, &op)?;
        self.client_secret_by_id(realm, &id, client_id)
    }

    fn find_client_uuid(&self, realm: &str, client_id: &str) -> Result<Option<String>, AdminError> {
        Ok(self
            .get_client(realm, client_id)?
            .and_then(|c| c["id"].as_str().map(str::to_owned)))
    }

    fn client_uuid(&self, realm: &str, client_id: &str, op: &str) -> Result<String, AdminError> {
        self.find_client_uuid(realm, client_id)?
            .ok_or_else(|| AdminError::InvalidResponse {
                operation: op.to_owned(),
                detail: format!("client '{client_id}' not found in realm '{realm}'"),
            })
    }

    fn client_secret_by_id(
        &self,
        realm: &str,
        id: &str,
        client_id: &str,
    ) -> Result<Option<Secret>, AdminError> {
        let op = format!("reading the secret of client '{client_id}' in realm '{realm}'");
        let path = ["admin", "realms", realm, "clients", id, "client-secret"];
        let r = self.send(&op, Method::Get, &path, &[], None)?;
        if r.status != 200 {
            return Err(r.rejected(&op));
        }
        Ok(r.json(&op)?["value"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(Secret::new))
    }

    /// The secret, generating one when the client has none (a client switched from
    /// key authentication).
    fn ensure_secret(&self, realm: &str, id: &str, client_id: &str) -> Result<Secret, AdminError> {
        if let Some(s) = self.client_secret_by_id(realm, id, client_id)? {
            return Ok(s);
        }
        let op = format!("generating a secret for client '{client_id}' in realm '{realm}'");
        let path = ["admin", "realms", realm, "clients", id, "client-secret"];
        let r = self.send(&op, Method::Post, &path, &[], None)?;
        if r.status != 200 {
            return Err(r.rejected(&op));
        }
        r.json(&op)?["value"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .ok_or_else(|| AdminError::InvalidResponse {
                operation: op,
                detail: "no 'value' in the answer".into(),
            })
    }
}
