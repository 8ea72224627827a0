//! [`AdminSession`]: who it logs in as, the login through [`Exchange`] and the renewal of
//! its short-lived token. The requests are in `http`, the operations one file per resource.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use url::Url;

use jwtgrant_exchange::{
    ClientAuth as Authentication, ErrorKind, Exchange, ExchangeError, Transport,
};

use super::error::AdminError;
use super::spec::{Outcome, Secret};

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
    pub(super) base: Url,
    pub(super) transport: Transport,
    pub(super) login: AdminLogin,
    /// Plan, do not write: see [`AdminSession::dry_run`].
    pub(super) dry_run: bool,
    token: Mutex<Option<AdminToken>>,
}

/// Who the session logs in as.
#[derive(Clone)]
#[non_exhaustive]
pub enum AdminLogin {
    /// An admin user, through the realm's `admin-cli` client (password grant): of the
    /// `master` realm for every realm, or of one realm (with its `realm-management` roles)
    /// for that realm only.
    Password {
        /// The realm the admin user is in (`master` by default).
        realm: String,
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
        Self::password_in("master", user, password)
    }

    /// An admin user of `realm`, who administers that realm only (through its
    /// `realm-management` roles).
    pub fn password_in(
        realm: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        Self::Password {
            realm: realm.into(),
            user: user.into(),
            password: password.into(),
        }
    }

    pub(super) fn realm(&self) -> &str {
        match self {
            Self::Password { realm, .. } => realm,
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
            Self::Password { realm, user, .. } => f
                .debug_struct("Password")
                .field("realm", realm)
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
            .field("dry_run", &self.dry_run)
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

    pub(super) fn new(
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
            dry_run: false,
            token: Mutex::new(None),
        })
    }

    /// A session that plans instead of writing: every `ensure_*` call reads what exists
    /// as usual and returns the [`Outcome`] it would have, field by field, and no
    /// request that writes is sent (the session refuses one with
    /// [`AdminError::DryRun`], a backstop should an operation forget). Reads of what
    /// does not exist yet (the clients of a realm to be created) find nothing.
    pub fn dry_run(mut self, on: bool) -> AdminSession {
        self.dry_run = on;
        self
    }

    /// Whether this session plans instead of writing.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// Logs in and stores a fresh token: one token request through [`Exchange`] on this
    /// session's transport (the same form, policy, echo scrubbing and reading of the
    /// answer as the grant itself), the password grant for `admin-cli` or the
    /// client-credentials grant for a service account.
    pub(super) fn login(&self) -> Result<Secret, AdminError> {
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
            AdminLogin::Password { user, password, .. } => exchange
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

    pub(super) fn current_token(&self) -> Result<Secret, AdminError> {
        if let Some(t) = self.lock().as_ref()
            && Instant::now() < t.renew_at
        {
            return Ok(t.value.clone());
        }
        self.login()
    }
}

/// When to log in again for a token that lives `expires_in` seconds: a quarter of
/// its life early (between 5 and 30 s), so a request never leaves with a token about
/// to expire.
fn renew_after(expires_in: u64) -> Duration {
    let margin = (expires_in / 4).clamp(5, 30);
    Duration::from_secs(expires_in.saturating_sub(margin))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
