//! Redacting newtypes for values that must never reach `Debug`, `Display`, errors or logs.

use std::fmt;
use std::sync::Arc;

macro_rules! secret_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// `Debug` prints `[redacted]`; there is deliberately no `Display`. Cloning is cheap
        /// (the text is shared behind an `Arc`).
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(Arc::from(value.into()))
            }

            /// The secret value itself. Everything that prints it is the caller's decision.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }
    };
}

secret_newtype!(
    /// An OAuth client secret, for `client_secret_post` and `client_secret_basic`.
    ClientSecret
);
secret_newtype!(
    /// An access token issued by the token endpoint.
    AccessToken
);
secret_newtype!(
    /// A refresh token issued by the token endpoint (Keycloak sends none for this grant).
    RefreshToken
);
secret_newtype!(
    /// An OpenID Connect ID token (Keycloak sends one when `scope` includes `openid`).
    IdToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts() {
        assert_eq!(
            format!("{:?}", ClientSecret::new("s3cr3t")),
            "ClientSecret([redacted])"
        );
        assert_eq!(
            format!("{:?}", AccessToken::from("eyJ")),
            "AccessToken([redacted])"
        );
        assert_eq!(AccessToken::from("eyJ").secret(), "eyJ");
    }
}
