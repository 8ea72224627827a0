//! [`Secret`]: the one type for every value that must never reach `Debug`, `Display`, errors
//! or logs (client secrets, admin passwords, access, refresh, ID and admin tokens).

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroize as _;

/// A secret value. `Debug` prints `Secret([redacted])`; there is deliberately no `Display`.
/// Cloning is cheap (the text is shared behind an `Arc`), and the last clone to go wipes the
/// text from memory.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

/// An OAuth client secret, for `client_secret_post` and `client_secret_basic`.
pub type ClientSecret = Secret;
/// An access token issued by the token endpoint.
pub type AccessToken = Secret;
/// A refresh token issued by the token endpoint (Keycloak sends none for this grant).
pub type RefreshToken = Secret;
/// An OpenID Connect ID token (Keycloak sends one when `scope` includes `openid`).
pub type IdToken = Secret;

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        let mut value: String = value.into();
        let shared = Arc::from(value.as_str());
        value.zeroize();
        Self(shared)
    }

    /// The secret value itself. Everything that prints it is the caller's decision.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        if let Some(text) = Arc::get_mut(&mut self.0) {
            text.zeroize();
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts() {
        assert_eq!(format!("{:?}", Secret::new("s3cr3t")), "Secret([redacted])");
        assert_eq!(
            format!("{:?}", Some(AccessToken::from("eyJ"))),
            "Some(Secret([redacted]))"
        );
        assert_eq!(AccessToken::from("eyJ").secret(), "eyJ");
        let a = Secret::new("x");
        let b = a.clone();
        drop(a);
        assert_eq!(b.secret(), "x", "a clone outlives the wipe of another");
    }
}
