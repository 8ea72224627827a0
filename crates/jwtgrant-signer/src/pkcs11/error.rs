//! What can go wrong reaching a key in a PKCS#11 token, each with the fix.

use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;

use crate::{Algorithm, BoxError};

/// How many PIN attempts the token says are left, after a wrong PIN.
///
/// PKCS#11 gives no count, only flags: "low", "final try", "locked".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinAttempts {
    /// The token does not say.
    Unknown,
    /// The token says an attempt has failed and the count is low (`CKF_USER_PIN_COUNT_LOW`).
    Low,
    /// The next wrong PIN locks the token (`CKF_USER_PIN_FINAL_TRY`).
    FinalTry,
    /// The PIN is locked (`CKF_USER_PIN_LOCKED`).
    Locked,
}

/// Everything that can go wrong reaching or using a key in a PKCS#11 token.
///
/// Messages never contain the PIN.
#[derive(Debug)]
#[non_exhaustive]
pub enum Pkcs11Error {
    /// A `pkcs11:` URI that does not parse or that this crate refuses.
    InvalidUri {
        /// What is wrong, with the fix.
        reason: String,
    },
    /// No module path: not in the URI and not given otherwise.
    NoModule,
    /// The module file does not exist.
    ModuleNotFound {
        /// The path tried.
        path: PathBuf,
    },
    /// The file exists but is not a loadable PKCS#11 module (or it failed to initialize).
    ModuleLoad {
        /// The path tried.
        path: PathBuf,
        /// The loader's or the module's error.
        source: BoxError,
    },
    /// No token matches the URI.
    TokenNotFound {
        /// What the URI asks for, e.g. `token 'issuer'`.
        wanted: String,
        /// The labels of the tokens that are present.
        present: Vec<String>,
    },
    /// More than one token matches the URI.
    AmbiguousToken {
        /// What the URI asks for.
        wanted: String,
        /// How many tokens match.
        count: usize,
    },
    /// The token needs a login and no PIN was given.
    PinRequired {
        /// The token's label.
        token: String,
    },
    /// The token refused the PIN.
    WrongPin {
        /// The token's label.
        token: String,
        /// What the token says about the attempts left.
        attempts: PinAttempts,
    },
    /// The user PIN is locked.
    PinLocked {
        /// The token's label.
        token: String,
    },
    /// No private key matches the URI.
    KeyNotFound {
        /// What the URI asks for, e.g. `object 'signing'`.
        wanted: String,
        /// The token's label.
        token: String,
    },
    /// More than one private key matches the URI.
    AmbiguousKey {
        /// What the URI asks for.
        wanted: String,
        /// How many keys match.
        count: usize,
    },
    /// Key generation would add a second key with the same label or id.
    KeyExists {
        /// What the URI names.
        wanted: String,
        /// The token's label.
        token: String,
    },
    /// The key is of a type this crate does not sign with (DSA, Ed25519 through PKCS#11, P-521, ...).
    UnsupportedKey {
        /// What the key is, with the fix.
        reason: String,
    },
    /// The token does not offer the mechanism an algorithm needs.
    UnsupportedMechanism {
        /// The algorithm asked for.
        algorithm: Algorithm,
        /// The PKCS#11 mechanism it needs, e.g. `CKM_SHA256_RSA_PKCS_PSS`.
        mechanism: &'static str,
    },
    /// A PKCS#11 call failed for another reason.
    Token {
        /// What was being done, e.g. `signing` or `opening a session`.
        operation: &'static str,
        /// The module's error (a `CKR_*` code).
        source: BoxError,
    },
}

impl fmt::Display for Pkcs11Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pkcs11Error::InvalidUri { reason } => write!(f, "invalid pkcs11 URI: {reason}"),
            Pkcs11Error::NoModule => f.write_str(
                "no PKCS#11 module given (add ?module-path=/path/to/module.so to the URI, or name the module separately)",
            ),
            Pkcs11Error::ModuleNotFound { path } => write!(
                f,
                "PKCS#11 module '{}' not found (install the HSM's client package, e.g. 'apt-get install softhsm2', or correct the path)",
                path.display()
            ),
            Pkcs11Error::ModuleLoad { path, .. } => write!(
                f,
                "cannot load PKCS#11 module '{}' (is it a PKCS#11 library for this machine's architecture, and is its configuration readable?)",
                path.display()
            ),
            Pkcs11Error::TokenNotFound { wanted, present } if present.is_empty() => write!(
                f,
                "no token matches {wanted}: the module sees no token at all (initialize one, e.g. 'softhsm2-util --init-token --free --label NAME', or check the module's configuration such as SOFTHSM2_CONF)"
            ),
            Pkcs11Error::TokenNotFound { wanted, present } => write!(
                f,
                "no token matches {wanted} (present: {}; correct token= in the URI)",
                present.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ")
            ),
            Pkcs11Error::AmbiguousToken { wanted, count } => write!(
                f,
                "{count} tokens match {wanted} (add token=, serial= or slot-id= to the URI to pick one)"
            ),
            Pkcs11Error::PinRequired { token } => write!(
                f,
                "token '{token}' needs a PIN (give it through a file, the environment or stdin)"
            ),
            Pkcs11Error::WrongPin { token, attempts } => {
                write!(f, "wrong PIN for token '{token}' (")?;
                f.write_str(match attempts {
                    PinAttempts::Unknown => "the token does not say how many attempts are left; check the PIN source",
                    PinAttempts::Low => "the token says few attempts are left; check the PIN source before trying again",
                    PinAttempts::FinalTry => "one attempt is left before the token locks the PIN; check the PIN source before trying again",
                    PinAttempts::Locked => "no attempts are left: the PIN is now locked; the token's security officer must unlock it",
                })?;
                f.write_str(")")
            }
            Pkcs11Error::PinLocked { token } => write!(
                f,
                "the user PIN of token '{token}' is locked (the token's security officer must unlock or reset it)"
            ),
            Pkcs11Error::KeyNotFound { wanted, token } => write!(
                f,
                "no private key matches {wanted} in token '{token}' (list the keys with 'pkcs11-tool --module MODULE --list-objects --login', or generate one with 'jwtgrant keygen --pkcs11 URI')"
            ),
            Pkcs11Error::AmbiguousKey { wanted, count } => write!(
                f,
                "{count} private keys match {wanted} (add object= or id= to the URI to pick one)"
            ),
            Pkcs11Error::KeyExists { wanted, token } => write!(
                f,
                "token '{token}' already holds a key with {wanted} (choose another object= label, or use the existing key)"
            ),
            Pkcs11Error::UnsupportedKey { reason } => write!(f, "unsupported key in the token: {reason}"),
            Pkcs11Error::UnsupportedMechanism { algorithm, mechanism } => write!(
                f,
                "the token does not offer {mechanism}, which {algorithm} needs (choose another algorithm the key fits, or a token that has the mechanism)"
            ),
            Pkcs11Error::Token { operation, .. } => write!(f, "the PKCS#11 module failed while {operation}"),
        }
    }
}

impl StdError for Pkcs11Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Pkcs11Error::ModuleLoad { source, .. } | Pkcs11Error::Token { source, .. } => {
                Some(source.as_ref())
            }
            _ => None,
        }
    }
}

impl From<Pkcs11Error> for crate::SignError {
    fn from(err: Pkcs11Error) -> Self {
        crate::SignError::KeyBackend {
            source: Box::new(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(err: Pkcs11Error, expected: &str) {
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn messages_the_softhsm_tests_cannot_provoke() {
        let wrong = |attempts| Pkcs11Error::WrongPin {
            token: "hsm".into(),
            attempts,
        };
        check(
            wrong(PinAttempts::FinalTry),
            "wrong PIN for token 'hsm' (one attempt is left before the token locks the PIN; check the PIN source before trying again)",
        );
        check(
            wrong(PinAttempts::Locked),
            "wrong PIN for token 'hsm' (no attempts are left: the PIN is now locked; the token's security officer must unlock it)",
        );
        check(
            wrong(PinAttempts::Unknown),
            "wrong PIN for token 'hsm' (the token does not say how many attempts are left; check the PIN source)",
        );
        check(
            Pkcs11Error::PinLocked {
                token: "hsm".into(),
            },
            "the user PIN of token 'hsm' is locked (the token's security officer must unlock or reset it)",
        );
        check(
            Pkcs11Error::UnsupportedMechanism {
                algorithm: Algorithm::PS256,
                mechanism: "CKM_SHA256_RSA_PKCS_PSS",
            },
            "the token does not offer CKM_SHA256_RSA_PKCS_PSS, which PS256 needs (choose another algorithm the key fits, or a token that has the mechanism)",
        );
        check(
            Pkcs11Error::TokenNotFound {
                wanted: "token 'a'".into(),
                present: vec![],
            },
            "no token matches token 'a': the module sees no token at all (initialize one, e.g. 'softhsm2-util --init-token --free --label NAME', or check the module's configuration such as SOFTHSM2_CONF)",
        );
        check(
            Pkcs11Error::AmbiguousKey {
                wanted: "any private key".into(),
                count: 2,
            },
            "2 private keys match any private key (add object= or id= to the URI to pick one)",
        );
    }
}
