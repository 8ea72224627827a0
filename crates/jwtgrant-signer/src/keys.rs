//! Private keys: recognising PEM labels and DER structures, wrapping PKCS#1 and
//! SEC1 into PKCS#8 (the one format both backends read for every key type), and
//! handing the result to the backend.

use zeroize::Zeroizing;

use crate::backend::{self, crypto};
use crate::der::{self, Reader, oid};
use crate::{KeyType, PublicKey, SignError};
use crypto::rand::SystemRandom;
use crypto::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};

/// What a PEM label says the block holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LabelKind {
    Pkcs8,
    Pkcs1,
    Sec1,
    Encrypted,
    PublicKey,
    RsaPublicKey,
    Certificate,
    CertificateRequest,
    Dsa,
    /// Blocks that may accompany a key and carry nothing we need (`EC PARAMETERS`).
    Ignored,
    Unknown,
}

pub(crate) fn classify_label(label: &str) -> LabelKind {
    match label {
        "PRIVATE KEY" => LabelKind::Pkcs8,
        "RSA PRIVATE KEY" => LabelKind::Pkcs1,
        "EC PRIVATE KEY" => LabelKind::Sec1,
        "ENCRYPTED PRIVATE KEY" => LabelKind::Encrypted,
        "PUBLIC KEY" => LabelKind::PublicKey,
        "RSA PUBLIC KEY" => LabelKind::RsaPublicKey,
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => LabelKind::Certificate,
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => LabelKind::CertificateRequest,
        "DSA PRIVATE KEY" => LabelKind::Dsa,
        "EC PARAMETERS" => LabelKind::Ignored,
        _ => LabelKind::Unknown,
    }
}

/// Splits PEM input into blocks, with the crate's errors for empty and non-PEM input.
pub(crate) fn parse_pem_blocks(input: &[u8]) -> Result<Vec<pem::Pem>, SignError> {
    if input.iter().all(u8::is_ascii_whitespace) {
        return Err(SignError::EmptyKey);
    }
    if !input.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(SignError::NotPem {
            looks_like_der: input.first() == Some(&der::SEQUENCE),
        });
    }
    let blocks = pem::parse_many(input).map_err(|err| SignError::MalformedPem {
        source: Box::new(err),
    })?;
    if blocks.is_empty() {
        return Err(SignError::MalformedPem {
            source: "no complete BEGIN/END pair".into(),
        });
    }
    Ok(blocks)
}

/// A private key the backend has parsed, with its public half.
pub(crate) struct LoadedKey {
    pub(crate) pair: KeyPair,
    pub(crate) public: PublicKey,
}

/// The backend's key pair, one variant per key family.
pub(crate) enum KeyPair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// Loads the one private key in PEM input. See [`crate::Signer::from_pem`] for what is accepted.
pub(crate) fn load_pem(input: &[u8], rng: &SystemRandom) -> Result<LoadedKey, SignError> {
    let mut key: Option<(LabelKind, Zeroizing<Vec<u8>>)> = None;
    let mut private_blocks = 0;
    let mut encrypted = false;
    let mut other: Option<SignError> = None;
    for block in parse_pem_blocks(input)? {
        let kind = classify_label(block.tag());
        let proc_type_encrypted = block
            .headers()
            .get("Proc-Type")
            .is_some_and(|v| v.contains("ENCRYPTED"));
        match kind {
            LabelKind::Pkcs8 | LabelKind::Pkcs1 | LabelKind::Sec1 => {
                private_blocks += 1;
                encrypted |= proc_type_encrypted;
                key.get_or_insert_with(|| (kind, Zeroizing::new(block.into_contents())));
            }
            LabelKind::Encrypted => {
                private_blocks += 1;
                encrypted = true;
            }
            LabelKind::Dsa => {
                private_blocks += 1;
                other.get_or_insert(SignError::UnsupportedKeyType {
                    key_type: "DSA".into(),
                });
            }
            LabelKind::PublicKey | LabelKind::RsaPublicKey => {
                other.get_or_insert(SignError::NotAPrivateKey {
                    found: "a public key",
                });
            }
            LabelKind::Certificate => {
                other.get_or_insert(SignError::NotAPrivateKey {
                    found: "a certificate",
                });
            }
            LabelKind::CertificateRequest => {
                other.get_or_insert(SignError::NotAPrivateKey {
                    found: "a certificate request",
                });
            }
            LabelKind::Ignored => {}
            LabelKind::Unknown => {
                other.get_or_insert_with(|| SignError::UnknownPemLabel {
                    label: block.tag().to_owned(),
                });
            }
        }
    }
    if private_blocks > 1 {
        return Err(SignError::MultipleKeys {
            count: private_blocks,
        });
    }
    if encrypted {
        return Err(SignError::EncryptedKey);
    }
    match key {
        Some((LabelKind::Pkcs1, der)) => load_pkcs1(&der, rng),
        Some((LabelKind::Sec1, der)) => load_sec1(&der, rng),
        Some((_, der)) => load_pkcs8(&der, rng),
        // `other` is set whenever no key was found: parse_pem_blocks returned at least one block.
        None => Err(other.unwrap_or(SignError::NotPem {
            looks_like_der: false,
        })),
    }
}

/// Loads a DER private key, telling PKCS#8, PKCS#1 and SEC1 apart by their structure.
pub(crate) fn load_der(input: &[u8], rng: &SystemRandom) -> Result<LoadedKey, SignError> {
    if input.is_empty() {
        return Err(SignError::EmptyKey);
    }
    let malformed = |reason| SignError::MalformedKey {
        format: "DER private",
        reason,
    };
    let mut outer = Reader::new(input).sequence().map_err(malformed)?;
    match outer.peek_tag() {
        Some(der::INTEGER) => {
            let first = outer.unsigned().map_err(malformed)?;
            match (first, outer.peek_tag()) {
                ([] | [1], Some(der::SEQUENCE)) => load_pkcs8(input, rng),
                ([] | [1], Some(der::INTEGER)) => load_pkcs1(input, rng),
                ([1], Some(der::OCTET_STRING)) => load_sec1(input, rng),
                (_, Some(der::INTEGER)) => Err(SignError::NotAPrivateKey {
                    found: "a public key",
                }),
                _ => Err(malformed("not PKCS#8, PKCS#1 or SEC1")),
            }
        }
        Some(der::SEQUENCE) => {
            let _ = outer.read_any();
            match outer.peek_tag() {
                // EncryptedPrivateKeyInfo: an AlgorithmIdentifier, then the ciphertext.
                Some(der::OCTET_STRING) => Err(SignError::EncryptedKey),
                // SubjectPublicKeyInfo: an AlgorithmIdentifier, then the key.
                Some(der::BIT_STRING) => Err(SignError::NotAPrivateKey {
                    found: "a public key",
                }),
                // Certificate: TBSCertificate, signatureAlgorithm, signatureValue.
                Some(der::SEQUENCE) => Err(SignError::NotAPrivateKey {
                    found: "a certificate",
                }),
                _ => Err(malformed("not PKCS#8, PKCS#1 or SEC1")),
            }
        }
        _ => Err(malformed("not PKCS#8, PKCS#1 or SEC1")),
    }
}

/// Loads PEM or DER, whichever the input is.
pub(crate) fn load_any(input: &[u8], rng: &SystemRandom) -> Result<LoadedKey, SignError> {
    if input.first() == Some(&der::SEQUENCE) {
        load_der(input, rng)
    } else {
        load_pem(input, rng)
    }
}

/// PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5208, RFC 5958).
fn load_pkcs8(input: &[u8], rng: &SystemRandom) -> Result<LoadedKey, SignError> {
    let malformed = |reason| SignError::MalformedKey {
        format: "PKCS#8",
        reason,
    };
    let mut outer = Reader::new(input).sequence().map_err(malformed)?;
    let version = outer.small_unsigned().map_err(malformed)?;
    if version > 1 {
        return Err(malformed("unknown version"));
    }
    let mut alg_id = outer.sequence().map_err(malformed)?;
    let alg = alg_id.read(der::OID).map_err(malformed)?;
    let private = outer.read(der::OCTET_STRING).map_err(malformed)?;
    let rejected = |err: crypto::error::KeyRejected| SignError::KeyRejected {
        source: Box::new(crate::error::BackendError(err.to_string())),
    };
    match alg {
        oid::RSA_ENCRYPTION => {
            let bits = rsa_private_modulus_bits(private)?;
            if bits < 2048 {
                return Err(SignError::RsaKeyTooSmall { bits });
            }
            let pair = RsaKeyPair::from_pkcs8(input).map_err(rejected)?;
            let (n, e) = rsa_public_from_der(pair.public_key().as_ref()).map_err(|reason| {
                SignError::MalformedKey {
                    format: "RSA public",
                    reason,
                }
            })?;
            let public = PublicKey::rsa(n, e)?;
            Ok(LoadedKey {
                pair: KeyPair::Rsa(pair),
                public,
            })
        }
        oid::EC_PUBLIC_KEY => {
            let curve = match alg_id.peek_tag() {
                Some(der::OID) => alg_id.read(der::OID).map_err(malformed)?,
                _ => {
                    return Err(SignError::UnsupportedCurve {
                        curve: "with explicit parameters".into(),
                    });
                }
            };
            let key_type = curve_from_oid(curve)?;
            let signing = if key_type == KeyType::EcP384 {
                &sig::ECDSA_P384_SHA384_FIXED_SIGNING
            } else {
                &sig::ECDSA_P256_SHA256_FIXED_SIGNING
            };
            let pair = backend::ecdsa_from_pkcs8(signing, input, rng).map_err(rejected)?;
            let public = PublicKey::ec(key_type, pair.public_key().as_ref())?;
            Ok(LoadedKey {
                pair: KeyPair::Ecdsa(pair),
                public,
            })
        }
        oid::ED25519 => {
            // openssl writes PKCS#8 v1 (no public key inside), which ring's
            // `from_pkcs8` refuses; `maybe_unchecked` reads v1 and v2.
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(input).map_err(rejected)?;
            let public = PublicKey::ed25519(pair.public_key().as_ref())?;
            Ok(LoadedKey {
                pair: KeyPair::Ed25519(pair),
                public,
            })
        }
        other => Err(unsupported_algorithm_oid(other)),
    }
}

/// PKCS#1 RSAPrivateKey (`BEGIN RSA PRIVATE KEY`, `openssl genrsa -traditional`).
fn load_pkcs1(input: &[u8], rng: &SystemRandom) -> Result<LoadedKey, SignError> {
    let bits = rsa_private_modulus_bits(input)?;
    if bits < 2048 {
        return Err(SignError::RsaKeyTooSmall { bits });
    }
    let alg_id = der::tlv(
        der::SEQUENCE,
        &[&der::tlv(der::OID, &[oid::RSA_ENCRYPTION]), &[der::NULL, 0]],
    );
    let pkcs8 = Zeroizing::new(pkcs8_wrap(&alg_id, input));
    load_pkcs8(&pkcs8, rng)
}

/// SEC1 ECPrivateKey (`BEGIN EC PRIVATE KEY`, `openssl ecparam -genkey`).
fn load_sec1(input: &[u8], rng: &SystemRandom) -> Result<LoadedKey, SignError> {
    let malformed = |reason| SignError::MalformedKey {
        format: "SEC1",
        reason,
    };
    let mut outer = Reader::new(input).sequence().map_err(malformed)?;
    if outer.small_unsigned().map_err(malformed)? != 1 {
        return Err(malformed("unknown version"));
    }
    outer.read(der::OCTET_STRING).map_err(malformed)?;
    let params = outer
        .read_optional(der::CONTEXT_0)
        .map_err(malformed)?
        .ok_or(malformed("the key does not name its curve"))?;
    let mut params = Reader::new(params);
    let curve = match params.peek_tag() {
        Some(der::OID) => params.read(der::OID).map_err(malformed)?,
        _ => {
            return Err(SignError::UnsupportedCurve {
                curve: "with explicit parameters".into(),
            });
        }
    };
    curve_from_oid(curve)?;
    let alg_id = der::tlv(
        der::SEQUENCE,
        &[
            &der::tlv(der::OID, &[oid::EC_PUBLIC_KEY]),
            &der::tlv(der::OID, &[curve]),
        ],
    );
    let pkcs8 = Zeroizing::new(pkcs8_wrap(&alg_id, input));
    load_pkcs8(&pkcs8, rng)
}

/// PrivateKeyInfo v1 around an inner private key.
fn pkcs8_wrap(alg_id: &[u8], private: &[u8]) -> Vec<u8> {
    let octets = Zeroizing::new(der::tlv(der::OCTET_STRING, &[private]));
    der::tlv(der::SEQUENCE, &[&[der::INTEGER, 1, 0], alg_id, &octets])
}

/// The modulus size of a PKCS#1 RSAPrivateKey.
fn rsa_private_modulus_bits(input: &[u8]) -> Result<usize, SignError> {
    let malformed = |reason| SignError::MalformedKey {
        format: "PKCS#1 RSA",
        reason,
    };
    let mut key = Reader::new(input).sequence().map_err(malformed)?;
    key.small_unsigned().map_err(malformed)?;
    let n = key.unsigned().map_err(malformed)?;
    Ok(der::bit_len(n))
}

/// Modulus and exponent of a PKCS#1 RSAPublicKey.
pub(crate) fn rsa_public_from_der(input: &[u8]) -> Result<(&[u8], &[u8]), der::DerError> {
    let mut key = Reader::new(input).sequence()?;
    let n = key.unsigned()?;
    let e = key.unsigned()?;
    key.finish()?;
    Ok((n, e))
}

pub(crate) fn curve_from_oid(curve: &[u8]) -> Result<KeyType, SignError> {
    match curve {
        oid::P256 => Ok(KeyType::EcP256),
        oid::P384 => Ok(KeyType::EcP384),
        oid::P521 => Err(SignError::UnsupportedCurve {
            curve: "P-521".into(),
        }),
        oid::SECP256K1 => Err(SignError::UnsupportedCurve {
            curve: "secp256k1".into(),
        }),
        other => Err(SignError::UnsupportedCurve {
            curve: dotted(other),
        }),
    }
}

pub(crate) fn unsupported_algorithm_oid(alg: &[u8]) -> SignError {
    let key_type = match alg {
        oid::RSASSA_PSS => "RSASSA-PSS (a PSS-only RSA key; generate a plain RSA key)".to_owned(),
        oid::DSA => "DSA".to_owned(),
        oid::ED448 => "Ed448".to_owned(),
        oid::X25519 => "X25519 (a key-agreement key)".to_owned(),
        oid::X448 => "X448 (a key-agreement key)".to_owned(),
        other => format!("with OID {}", dotted(other)),
    };
    SignError::UnsupportedKeyType { key_type }
}

/// An OID in dotted form, for error messages.
fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &byte in oid {
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_oids() {
        assert_eq!(dotted(oid::P256), "1.2.840.10045.3.1.7");
        assert_eq!(dotted(oid::P521), "1.3.132.0.35");
        assert_eq!(dotted(oid::ED25519), "1.3.101.112");
    }
}
