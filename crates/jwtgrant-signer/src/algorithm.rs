//! Signature algorithms and key types.

use std::fmt;
use std::str::FromStr;

use crate::SignError;

/// A JWS signature algorithm (RFC 7518 section 3, RFC 8037 for EdDSA).
///
/// Only asymmetric algorithms exist here: Keycloak's JWT authorization grant
/// rejects `none` and the HMAC family, and so does this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(
    clippy::upper_case_acronyms,
    reason = "the names are the JOSE registry's"
)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384 and MGF1 with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512 and MGF1 with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA; this crate supports the Ed25519 curve.
    EdDSA,
}

impl Algorithm {
    /// Every supported algorithm, in the order error messages list them.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The JOSE name, as it appears in a JWS header's `alg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Whether a key of type `key_type` can sign with this algorithm.
    pub fn fits(self, key_type: KeyType) -> bool {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => key_type == KeyType::Rsa,
            Algorithm::ES256 => key_type == KeyType::EcP256,
            Algorithm::ES384 => key_type == KeyType::EcP384,
            Algorithm::EdDSA => key_type == KeyType::Ed25519,
        }
    }

    /// The key type this algorithm needs.
    pub fn key_type(self) -> KeyType {
        match self {
            Algorithm::ES256 => KeyType::EcP256,
            Algorithm::ES384 => KeyType::EcP384,
            Algorithm::EdDSA => KeyType::Ed25519,
            _ => KeyType::Rsa,
        }
    }

    /// Whether this is one of the RSA algorithms (RS* or PS*).
    pub fn is_rsa(self) -> bool {
        self.key_type() == KeyType::Rsa
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a JOSE algorithm name, ignoring ASCII case (`rs256`, `EDDSA`, `EdDSA`).
///
/// Unknown names fail with [`SignError::UnknownAlgorithm`], whose message lists the choices.
impl FromStr for Algorithm {
    type Err = SignError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| SignError::UnknownAlgorithm {
                input: s.to_owned(),
            })
    }
}

/// The type of a key, which decides the algorithms it can sign with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// RSA, 2048 bits or more.
    Rsa,
    /// ECDSA on NIST P-256 (secp256r1, prime256v1).
    EcP256,
    /// ECDSA on NIST P-384 (secp384r1).
    EcP384,
    /// Ed25519.
    Ed25519,
}

impl KeyType {
    /// The algorithm a key of this type signs with unless told otherwise.
    pub fn default_algorithm(self) -> Algorithm {
        match self {
            KeyType::Rsa => Algorithm::RS256,
            KeyType::EcP256 => Algorithm::ES256,
            KeyType::EcP384 => Algorithm::ES384,
            KeyType::Ed25519 => Algorithm::EdDSA,
        }
    }

    /// Every algorithm a key of this type can sign with.
    pub fn algorithms(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL.into_iter().filter(move |alg| alg.fits(self))
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Rsa => "RSA",
            KeyType::EcP256 => "EC P-256",
            KeyType::EcP384 => "EC P-384",
            KeyType::Ed25519 => "Ed25519",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ignore_case() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>().ok(), Some(alg));
            assert_eq!(
                alg.as_str().to_lowercase().parse::<Algorithm>().ok(),
                Some(alg)
            );
            assert_eq!(alg.to_string(), alg.as_str());
            assert!(alg.fits(alg.key_type()));
        }
        assert_eq!("EDDSA".parse::<Algorithm>().ok(), Some(Algorithm::EdDSA));
    }

    #[test]
    fn default_algorithms_fit_their_keys() {
        for kt in [
            KeyType::Rsa,
            KeyType::EcP256,
            KeyType::EcP384,
            KeyType::Ed25519,
        ] {
            assert!(kt.default_algorithm().fits(kt));
        }
        assert_eq!(KeyType::Rsa.algorithms().count(), 6);
        assert_eq!(
            KeyType::Ed25519.algorithms().collect::<Vec<_>>(),
            [Algorithm::EdDSA]
        );
    }
}
