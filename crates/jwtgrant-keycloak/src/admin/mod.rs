//! Keycloak admin REST provisioning for the JWT Authorization Grant.
//!
//! An [`AdminSession`] logs in (admin user on `master`, or a service-account client)
//! and makes sure a realm holds what the grant needs: a [`JwtIdp`] identity provider
//! that trusts the issuer's key, a confidential [`JwtClient`] allowed to use it, and a
//! user linked to the assertion's `sub`. Every `ensure_*` call is idempotent: it
//! creates what is missing, updates only the fields it is asked to manage when they
//! differ (never what it was not told about), reads back what it wrote, and reports
//! which it did, field by field, as an [`Outcome`]. A [dry-run](AdminSession::dry_run)
//! session reports the same without writing.
//!
//! ```no_run
//! use jwtgrant_keycloak::admin::{AdminSession, ClientAuthenticator, IdpKey, JwtClient, JwtIdp, UserSpec};
//! # fn main() -> Result<(), jwtgrant_keycloak::admin::AdminError> {
//! # let public_pem = String::new();
//! let admin = AdminSession::password("http://127.0.0.1:8080", "admin", "admin")?;
//! admin.ensure_realm("acme")?;
//! let idp = JwtIdp::new(
//!     "jwt-authorization-grant",
//!     "http://localhost:3000",
//!     IdpKey::Static { public_key: public_pem, key_id: None },
//! );
//! admin.ensure_jwt_idp("acme", &idp)?;
//! let client = JwtClient::new("custom-client", ClientAuthenticator::Secret(None), ["jwt-authorization-grant"]);
//! let secret = admin.ensure_client("acme", &client)?.secret;
//! let user = admin.ensure_user("acme", "nodejsuser", &UserSpec::new().email("nodejsuser@example.com"))?;
//! admin.ensure_idp_link("acme", &user.id, "jwt-authorization-grant", "nodejsuser-1234", "nodejsuser")?;
//! # Ok(()) }
//! ```
//!
//! Passwords, client secrets and admin tokens never reach `Debug`, errors or logs.

mod client;
mod error;
mod http;
mod idp;
mod link;
mod realm;
mod server;
mod session;
mod spec;
mod user;

pub use client::EnsuredClient;
pub use error::AdminError;
pub use session::{AdminLogin, AdminSession, DEFAULT_ADMIN_TIMEOUT};
// Keycloak's attribute names are in `crate::settings`, written once.
pub use spec::{
    Change, ClientAuthenticator, FieldChange, IdpKey, IdpKind, JWT_IDP_PROVIDER_ID, JwtClient,
    JwtIdp, Outcome, REDACTED, Secret, UserSpec,
};
pub use user::EnsuredUser;
