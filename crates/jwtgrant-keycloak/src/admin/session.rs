//! [`AdminSession`]: the HTTP glue around the pure bodies and diffs in `spec`.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use url::Url;

use jwtgrant_exchange::{
    Body, ClientAuth as Authentication, ErrorKind, Exchange, ExchangeError, Method, Transport,
};

use super::error::{AdminError, keycloak_message};
use super::spec::{
    Change, ClientAuthenticator, JWT_IDP_PROVIDER_ID, JwtClient, JwtIdp, Outcome, Secret, UserSpec,
    client_create_body, client_fields, differing, idp_create_body, idp_fields, link_body,
    user_create_body, user_fields, with_fields,
};

/// Default time limit for one admin request, connection included: creating a realm takes
/// Keycloak a few seconds, more on a loaded machine.
pub const DEFAULT_ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A logged-in connection to Keycloak's admin REST API.
///
/// Admin tokens are short-lived (`admin-cli` tokens last 60 seconds by default), so the
/// session logs in again, with the credentials it keeps, whenever the token is near
/// expiry or Keycloak answers 401. Safe to share between threads; requests are
/// blocking.
pub struct AdminSession {
    base: Url,
    transport: Transport,
    login: AdminLogin,
    token: Mutex<Option<AdminToken>>,
}

/// Who the session logs in as.
#[derive(Clone)]
#[non_exhaustive]
pub enum AdminLogin {
    /// An admin user of the `master` realm, through the `admin-cli` client (password grant).
    Password {
        /// The admin user name.
        user: String,
        /// The admin password.
        password: Secret,
    },
    /// A confidential client of `realm` with service accounts enabled (client-credentials
    /// grant), authenticating with any [`jwtgrant_exchange::ClientAuth`] method. Its service account
    /// needs the `realm-management` roles for what it will do.
    ServiceAccount {
        /// The realm the client is in.
        realm: String,
        /// How the client authenticates.
        auth: Authentication,
    },
}

impl AdminLogin {
    /// An admin user of the `master` realm.
    pub fn password(user: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::Password {
            user: user.into(),
            password: password.into(),
        }
    }

    fn realm(&self) -> &str {
        match self {
            Self::Password { .. } => "master",
            Self::ServiceAccount { realm, .. } => realm,
        }
    }

    fn principal(&self) -> &str {
        match self {
            Self::Password { user, .. } => user,
            Self::ServiceAccount { auth, .. } => auth.client_id().unwrap_or("-"),
        }
    }
}

impl fmt::Debug for AdminLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .finish_non_exhaustive(),
            Self::ServiceAccount { realm, auth } => f
                .debug_struct("ServiceAccount")
                .field("realm", realm)
                .field("auth", auth)
                .finish(),
        }
    }
}

struct AdminToken {
    value: Secret,
    /// When to log in again: a margin before the token's `expires_in`.
    renew_at: Instant,
}

impl fmt::Debug for AdminSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminSession")
            .field("base", &self.base.as_str())
            .field("login", &self.login)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

// The session is meant to be shared by threads (e.g. an e2e suite); keep it so.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<AdminSession>();
    assert_send_sync::<AdminError>();
    assert_send_sync::<Outcome>();
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

/// A user after [`AdminSession::ensure_user`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EnsuredUser {
    /// What was done.
    pub outcome: Outcome,
    /// Keycloak's internal id (UUID) of the user.
    pub id: String,
}

/// A Keycloak answer: status, body text, and the `Location` header (creates).
struct Reply {
    status: u16,
    body: String,
    location: Option<String>,
}

impl Reply {
    fn json(&self, operation: &str) -> Result<Value, AdminError> {
        serde_json::from_str(&self.body).map_err(|e| AdminError::InvalidResponse {
            operation: operation.to_owned(),
            detail: format!("body is not JSON ({e})"),
        })
    }

    fn rejected(&self, operation: &str) -> AdminError {
        AdminError::Rejected {
            operation: operation.to_owned(),
            status: self.status,
            message: keycloak_message(&self.body),
        }
    }
}

impl AdminSession {
    /// Logs in as an admin user of the `master` realm through the `admin-cli` client
    /// (password grant), with the default transport and a 30 s timeout. `base_url` is
    /// Keycloak's root, e.g. `http://127.0.0.1:8080`.
    pub fn password(
        base_url: &str,
        user: &str,
        password: &str,
    ) -> Result<AdminSession, AdminError> {
        let transport = Transport::new().timeout(DEFAULT_ADMIN_TIMEOUT);
        AdminSession::connect(base_url, AdminLogin::password(user, password), transport)
    }

    /// Logs in as a confidential client of `realm` with service accounts enabled
    /// (client-credentials grant, `client_secret_post`), with the default transport.
    pub fn client_credentials(
        base_url: &str,
        realm: &str,
        client_id: &str,
        secret: &str,
    ) -> Result<AdminSession, AdminError> {
        let login = AdminLogin::ServiceAccount {
            realm: realm.to_owned(),
            auth: Authentication::SecretPost {
                client_id: client_id.to_owned(),
                secret: Secret::new(secret),
            },
        };
        let transport = Transport::new().timeout(DEFAULT_ADMIN_TIMEOUT);
        AdminSession::connect(base_url, login, transport)
    }

    /// Logs in as `login` and keeps the session, sending every request through
    /// `transport`: the same policy as the token exchange (https off loopback unless
    /// allowed, loopback never proxied, CA bundle, timeouts, body cap), so the admin
    /// password never crosses the network in clear text.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use jwtgrant_exchange::Transport;
    /// use jwtgrant_keycloak::admin::{AdminLogin, AdminSession};
    /// # let company_ca = b"";
    /// let transport = Transport::new().ca_bundle_pem(company_ca)?;
    /// let admin = AdminSession::connect(
    ///     "https://sso.corp.example",
    ///     AdminLogin::password("admin", "from-a-file"),
    ///     transport,
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn connect(
        base_url: &str,
        login: AdminLogin,
        transport: Transport,
    ) -> Result<AdminSession, AdminError> {
        let session = AdminSession::new(base_url, login, transport)?;
        session.login()?;
        Ok(session)
    }

    /// Keycloak's base URL, as given.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The transport every request of this session goes through.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    fn new(
        base_url: &str,
        login: AdminLogin,
        transport: Transport,
    ) -> Result<AdminSession, AdminError> {
        let base =
            jwtgrant_exchange::parse_url(base_url).map_err(|e| AdminError::InvalidInput {
                detail: format!("invalid keycloak base url: {e} (e.g. http://127.0.0.1:8080)"),
            })?;
        if base.cannot_be_a_base() {
            return Err(AdminError::InvalidInput {
                detail: format!(
                    "invalid keycloak base url '{base}': not an http(s) url (e.g. http://127.0.0.1:8080)"
                ),
            });
        }
        Ok(AdminSession {
            base,
            transport,
            login,
            token: Mutex::new(None),
        })
    }

    // ----- realms -----------------------------------------------------------------

    /// The realm's representation, or `None` when it does not exist.
    pub fn get_realm(&self, realm: &str) -> Result<Option<Value>, AdminError> {
        let op = format!("reading realm '{realm}'");
        self.get_optional(&op, &["admin", "realms", realm], &[])
    }

    /// The server's release as `/admin/serverinfo` reports it (`systemInfo.version`, e.g.
    /// `26.7.3`); `None` when the answer carries no version.
    pub fn server_version(&self) -> Result<Option<String>, AdminError> {
        let info = self.get_optional(
            "reading the server's version",
            &["admin", "serverinfo"],
            &[],
        )?;
        Ok(info
            .as_ref()
            .and_then(|v| v.pointer("/systemInfo/version"))
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// The server's enabled features as `/admin/serverinfo` lists them, in the spelling of
    /// `kc.sh --features` (`IDENTITY_ASSERTION_JWT` becomes `identity-assertion-jwt`);
    /// `None` when the answer carries no feature list.
    pub fn server_features(&self) -> Result<Option<Vec<String>>, AdminError> {
        let info = self.get_optional(
            "reading the server's features",
            &["admin", "serverinfo"],
            &[],
        )?;
        Ok(info
            .as_ref()
            .and_then(|v| v.get("features"))
            .and_then(Value::as_array)
            .map(|features| enabled_features(features)))
    }

    /// Makes sure an enabled realm of this name exists.
    pub fn ensure_realm(&self, realm: &str) -> Result<Outcome, AdminError> {
        let what = format!("realm '{realm}'");
        match self.get_realm(realm)? {
            None => {
                let op = format!("creating {what}");
                let body = serde_json::json!({"realm": realm, "enabled": true});
                let r = self.send(&op, Method::Post, &["admin", "realms"], &[], Some(&body))?;
                match r.status {
                    201 => Ok(Outcome::new(Change::Created, &what, &[])),
                    // Created meanwhile by someone else: it exists now, which is what we want.
                    409 => Ok(Outcome::new(Change::Unchanged, &what, &[])),
                    _ => Err(r.rejected(&op)),
                }
            }
            Some(existing) if existing["enabled"] != Value::Bool(true) => {
                let op = format!("enabling {what}");
                // Realm updates are partial: only the fields sent change.
                let body = serde_json::json!({"enabled": true});
                let path = ["admin", "realms", realm];
                self.expect(&op, Method::Put, &path, Some(&body), 204)?;
                Ok(Outcome::new(
                    Change::Updated,
                    &what,
                    &["enabled".to_owned()],
                ))
            }
            Some(_) => Ok(Outcome::new(Change::Unchanged, &what, &[])),
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

    // ----- identity providers -----------------------------------------------------

    /// All identity providers of the realm (full representations, config included).
    pub fn get_idps(&self, realm: &str) -> Result<Vec<Value>, AdminError> {
        let op = format!("listing identity providers of realm '{realm}'");
        let path = ["admin", "realms", realm, "identity-provider", "instances"];
        // 26.x pages this list when `max` is given; ask for full representations, all of them.
        let query = [
            ("briefRepresentation", "false"),
            ("first", "0"),
            ("max", "10000"),
        ];
        self.get_list(&op, &path, &query)
    }

    /// One identity provider by alias, or `None`.
    pub fn get_idp(&self, realm: &str, alias: &str) -> Result<Option<Value>, AdminError> {
        let op = format!("reading identity provider '{alias}' of realm '{realm}'");
        let path = [
            "admin",
            "realms",
            realm,
            "identity-provider",
            "instances",
            alias,
        ];
        self.get_optional(&op, &path, &[])
    }

    /// Makes sure the realm has this JWT Authorization Grant identity provider.
    /// Only the fields [`JwtIdp`] describes are compared and changed; other config
    /// keys are kept.
    pub fn ensure_jwt_idp(&self, realm: &str, idp: &JwtIdp) -> Result<Outcome, AdminError> {
        let what = format!("identity provider '{}' in realm '{realm}'", idp.alias);
        let fields = idp_fields(idp);
        let Some(existing) = self.get_idp(realm, &idp.alias)? else {
            let op = format!("creating {what}");
            let path = ["admin", "realms", realm, "identity-provider", "instances"];
            self.expect(&op, Method::Post, &path, Some(&idp_create_body(idp)), 201)?;
            return Ok(Outcome::new(Change::Created, &what, &[]));
        };
        let provider = existing["providerId"].as_str().unwrap_or_default();
        if provider != JWT_IDP_PROVIDER_ID {
            return Err(AdminError::Conflict {
                operation: format!("updating {what}"),
                detail: format!(
                    "the alias is taken by a '{provider}' provider, not '{JWT_IDP_PROVIDER_ID}' \
                     (delete it or choose another alias)"
                ),
            });
        }
        let changed = differing(&existing, &fields);
        if changed.is_empty() {
            return Ok(Outcome::new(Change::Unchanged, &what, &[]));
        }
        let op = format!("updating {what}");
        let path = [
            "admin",
            "realms",
            realm,
            "identity-provider",
            "instances",
            &idp.alias,
        ];
        // The update replaces the whole representation: send what exists, changed.
        let body = with_fields(existing, &fields);
        self.expect(&op, Method::Put, &path, Some(&body), 204)?;
        Ok(Outcome::new(Change::Updated, &what, &changed))
    }

    // ----- clients ----------------------------------------------------------------

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

    // ----- users ------------------------------------------------------------------

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

    // ----- HTTP -------------------------------------------------------------------

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

    /// Logs in and stores a fresh token: one token request through [`Exchange`] on this
    /// session's transport (the same form, policy, echo scrubbing and reading of the
    /// answer as the grant itself), the password grant for `admin-cli` or the
    /// client-credentials grant for a service account.
    fn login(&self) -> Result<Secret, AdminError> {
        let token_url = crate::token_endpoint(self.base.as_str(), self.login.realm());
        let principal = self.login.principal();
        let operation = || format!("admin login as '{principal}' at {token_url}");
        let transport_failed = |source| AdminError::Transport {
            operation: operation(),
            source,
        };
        let exchange = Exchange::new(&token_url)
            .map_err(transport_failed)?
            .transport(self.transport.clone());
        log::debug!("keycloak admin: logging in as '{principal}' at {token_url}");
        let answer = match &self.login {
            AdminLogin::Password { user, password } => exchange
                .client_none("admin-cli")
                .password_grant(user, password),
            AdminLogin::ServiceAccount { auth, .. } => {
                exchange.client_auth(auth.clone()).client_credentials()
            }
        };
        let fail = |status: u16, message: Option<String>| AdminError::Login {
            token_url: token_url.clone(),
            principal: principal.to_owned(),
            status,
            message,
        };
        let token = match answer {
            Ok(token) => token,
            Err(ExchangeError::Rejected(r)) => {
                let message = match &r.error_description {
                    Some(d) => format!("{}: {d}", r.error),
                    None => r.error.clone(),
                };
                return Err(fail(r.status, Some(message)));
            }
            Err(ExchangeError::UnexpectedStatus {
                status, snippet, ..
            }) => return Err(fail(status, (!snippet.is_empty()).then_some(snippet))),
            Err(e) if e.kind() == ErrorKind::BadResponse => {
                return Err(fail(0, Some(format!("the answer is not a token: {e}"))));
            }
            Err(e) => return Err(transport_failed(e)),
        };
        let now = Instant::now();
        // Keycloak always sends expires_in; assume its 60 s default if it did not. A huge
        // expires_in from the network must not overflow the clock.
        let expires_in = token.expires_in.unwrap_or(60);
        *self.lock() = Some(AdminToken {
            value: token.access_token.clone(),
            renew_at: now.checked_add(renew_after(expires_in)).unwrap_or(now),
        });
        Ok(token.access_token)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<AdminToken>> {
        // A panic while holding the lock cannot leave the token half-written (it is
        // replaced whole), so a poisoned lock is still usable.
        self.token.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn current_token(&self) -> Result<Secret, AdminError> {
        if let Some(t) = self.lock().as_ref()
            && Instant::now() < t.renew_at
        {
            return Ok(t.value.clone());
        }
        self.login()
    }

    /// Sends one request with a valid admin token; logs in again and retries once
    /// when Keycloak says 401 (e.g. the token was revoked or the server restarted).
    fn send(
        &self,
        operation: &str,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, AdminError> {
        let url = self.url(path, query);
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
        Ok(Reply {
            status: reply.status,
            location: reply.header("location").map(str::to_owned),
            body: String::from_utf8_lossy(&reply.body).into_owned(),
        })
    }

    fn expect(
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

    fn get_optional(
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

    fn get_list(
        &self,
        operation: &str,
        path: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, AdminError> {
        let r = self.send(operation, Method::Get, path, query, None)?;
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

/// When to log in again for a token that lives `expires_in` seconds: a quarter of
/// its life early (between 5 and 30 s), so a request never leaves with a token about
/// to expire.
fn renew_after(expires_in: u64) -> Duration {
    let margin = (expires_in / 4).clamp(5, 30);
    Duration::from_secs(expires_in.saturating_sub(margin))
}

/// The id at the end of a `Location` header (`.../clients/{id}`).
fn location_id(location: Option<&str>) -> Option<String> {
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

/// The enabled features of a serverinfo `features` array, named as `--features` names them.
fn enabled_features(features: &[Value]) -> Vec<String> {
    features
        .iter()
        .filter(|f| f.get("enabled").and_then(Value::as_bool) == Some(true))
        .filter_map(|f| f.get("name").and_then(Value::as_str))
        .map(|name| name.to_ascii_lowercase().replace('_', "-"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn features_as_kc_sh_names_them() {
        let features = serde_json::json!([
            {"name": "IDENTITY_ASSERTION_JWT", "type": "EXPERIMENTAL", "enabled": true},
            {"name": "DPOP", "type": "DEFAULT", "enabled": true},
            {"name": "TOKEN_EXCHANGE", "type": "PREVIEW", "enabled": false},
        ]);
        assert_eq!(
            enabled_features(features.as_array().unwrap()),
            vec!["identity-assertion-jwt", "dpop"]
        );
    }

    #[test]
    fn bad_base_urls() {
        for base in ["127.0.0.1:8080", "ftp://x", "not a url", "mailto:a@b"] {
            let err =
                AdminSession::new(base, AdminLogin::password("admin", "pw"), Transport::new())
                    .expect_err(base);
            assert!(
                matches!(err, AdminError::InvalidInput { .. }),
                "{base}: {err}"
            );
            assert!(
                err.to_string().contains("invalid keycloak base url"),
                "{err}"
            );
        }
    }

    #[test]
    fn token_answers_and_renewal() {
        // The token answers themselves are read by the Exchange: tests/answers.rs.
        assert_eq!(renew_after(60), Duration::from_secs(45));
        assert_eq!(renew_after(300), Duration::from_secs(270));
        assert_eq!(renew_after(3600), Duration::from_secs(3570));
        assert_eq!(renew_after(4), Duration::ZERO);
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
