//! Clients: the confidential client allowed to present assertions, and its secret.

use serde_json::Value;

use jwtgrant_exchange::Method;

use super::AdminSession;
use super::error::AdminError;
use super::http::location_id;
use super::spec::{
    Change, ClientAuthenticator, JwtClient, Outcome, Secret, client_create_body, client_fields,
    differing, with_fields,
};

/// A client after [`AdminSession::ensure_client`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EnsuredClient {
    /// What was done.
    pub outcome: Outcome,
    /// Keycloak's internal id (UUID) of the client.
    pub id: String,
    /// The client secret, for [`ClientAuthenticator::Secret`] clients.
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

    /// Makes sure the realm has this confidential client, allowed to present
    /// assertions from [`JwtClient::allowed_idps`]. Returns its secret for
    /// [`ClientAuthenticator::Secret`] clients.
    pub fn ensure_client(
        &self,
        realm: &str,
        client: &JwtClient,
    ) -> Result<EnsuredClient, AdminError> {
        let what = format!("client '{}' in realm '{realm}'", client.client_id);
        let fields = client_fields(client);
        let (change, changed, id) = match self.get_client(realm, &client.client_id)? {
            None => {
                let op = format!("creating {what}");
                let path = ["admin", "realms", realm, "clients"];
                let r = self.send(
                    &op,
                    Method::Post,
                    &path,
                    &[],
                    Some(&client_create_body(client)),
                )?;
                if r.status != 201 {
                    return Err(r.rejected(&op));
                }
                let id = match location_id(r.location.as_deref()) {
                    Some(id) => id,
                    None => self.client_uuid(realm, &client.client_id, &op)?,
                };
                (Change::Created, Vec::new(), id)
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
                let mut changed = differing(&existing, &fields);
                let mut body = with_fields(existing, &fields);
                if let ClientAuthenticator::Secret(Some(want)) = &client.auth {
                    let have = self.client_secret_by_id(realm, &id, &client.client_id)?;
                    if have.as_ref() != Some(want) {
                        changed.push("secret".into());
                        body["secret"] = Value::String(want.secret().to_owned());
                    }
                }
                if changed.is_empty() {
                    (Change::Unchanged, changed, id)
                } else {
                    let path = ["admin", "realms", realm, "clients", &id];
                    self.expect(&op, Method::Put, &path, Some(&body), 204)?;
                    (Change::Updated, changed, id)
                }
            }
        };
        let secret = match &client.auth {
            ClientAuthenticator::Secret(_) => {
                Some(self.ensure_secret(realm, &id, &client.client_id)?)
            }
            ClientAuthenticator::PrivateKeyJwt { .. } | ClientAuthenticator::X509 { .. } => None,
        };
        Ok(EnsuredClient {
            outcome: Outcome::new(change, &what, &changed),
            id,
            secret,
        })
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

    fn client_uuid(&self, realm: &str, client_id: &str, op: &str) -> Result<String, AdminError> {
        self.get_client(realm, client_id)?
            .and_then(|c| c["id"].as_str().map(str::to_owned))
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
