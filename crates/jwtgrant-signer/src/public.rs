//! Public keys: SPKI PEM/DER and JWK in and out, RFC 7638 thumbprints, JWKS documents.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value, json};

use crate::backend::crypto;
use crate::der::{self, Reader, oid};
use crate::keys::{LabelKind, classify_label, curve_from_oid, rsa_public_from_der};
use crate::{Algorithm, KeyType, SignError, VerifyError};

/// A public key of one of the supported types: what verifies a token and what Keycloak is given.
///
/// Holds no secret, so `Debug` shows the key type and thumbprint.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    inner: Inner,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Inner {
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point `04 || x || y`.
    Ec { key_type: KeyType, point: Vec<u8> },
    /// The 32-byte public key.
    Ed25519 { x: Vec<u8> },
}

impl PublicKey {
    /// Reads a public key from PEM: `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo),
    /// `BEGIN RSA PUBLIC KEY` (PKCS#1) or `BEGIN CERTIFICATE` (the certificate's key).
    ///
    /// A private key is an error ([`SignError::NotAPublicKey`]): a verifier
    /// should never need one. Derive the public key with [`crate::Signer::public_key`].
    pub fn from_pem(input: &[u8]) -> Result<PublicKey, SignError> {
        let blocks = crate::keys::parse_pem_blocks(input)?;
        let mut first_unknown = None;
        for block in &blocks {
            match classify_label(block.tag()) {
                LabelKind::PublicKey => return PublicKey::from_der(block.contents()),
                LabelKind::RsaPublicKey => return PublicKey::from_rsa_public_der(block.contents()),
                LabelKind::Certificate => return PublicKey::from_certificate_der(block.contents()),
                LabelKind::Pkcs8 | LabelKind::Pkcs1 | LabelKind::Sec1 | LabelKind::Encrypted => {
                    return Err(SignError::NotAPublicKey);
                }
                LabelKind::Ignored => {}
                LabelKind::CertificateRequest | LabelKind::Dsa | LabelKind::Unknown => {
                    first_unknown.get_or_insert_with(|| block.tag().to_owned());
                }
            }
        }
        Err(match first_unknown {
            Some(label) => SignError::UnknownPemLabel { label },
            // Only blocks we skip, such as `EC PARAMETERS`.
            None => SignError::NotPem {
                looks_like_der: false,
            },
        })
    }

    /// Reads a DER SubjectPublicKeyInfo, or the key inside a DER X.509 certificate.
    pub fn from_der(input: &[u8]) -> Result<PublicKey, SignError> {
        if input.is_empty() {
            return Err(SignError::EmptyKey);
        }
        let malformed = |reason| SignError::MalformedKey {
            format: "SubjectPublicKeyInfo",
            reason,
        };
        let mut outer = Reader::new(input).sequence().map_err(malformed)?;
        if outer.peek_tag() == Some(der::INTEGER) {
            // Two INTEGERs are a PKCS#1 RSAPublicKey; a version INTEGER starts every private key format.
            if rsa_public_from_der(input).is_ok() {
                return PublicKey::from_rsa_public_der(input);
            }
            return Err(SignError::NotAPublicKey);
        }
        let mut first = outer.sequence().map_err(malformed)?;
        match first.peek_tag() {
            // An AlgorithmIdentifier starts with its OID: this is an SPKI.
            Some(der::OID) => PublicKey::from_spki(input),
            // A TBSCertificate starts with [0] version or the serial number.
            Some(der::CONTEXT_0 | der::INTEGER) if outer.peek_tag() == Some(der::SEQUENCE) => {
                PublicKey::from_certificate_der(input)
            }
            // A private key in DER starts with a version INTEGER at the outer level.
            _ => {
                let _ = first.read_any();
                Err(malformed("expected an algorithm identifier"))
            }
        }
    }

    /// Reads a JWK (RFC 7517) of `kty` `RSA`, `EC` (P-256, P-384) or `OKP` (Ed25519).
    ///
    /// Private members such as `d` are ignored. If the JWK names an `alg`, it must fit the key.
    pub fn from_jwk(jwk: &Value) -> Result<PublicKey, SignError> {
        let obj = jwk
            .as_object()
            .ok_or_else(|| invalid_jwk("expected a JSON object"))?;
        let kty = member_str(obj, "kty")?;
        let key = match kty {
            "RSA" => {
                let n = member_b64(obj, "n")?;
                let e = member_b64(obj, "e")?;
                PublicKey::rsa(&n, &e)?
            }
            "EC" => {
                let crv = member_str(obj, "crv")?;
                let key_type = match crv {
                    "P-256" => KeyType::EcP256,
                    "P-384" => KeyType::EcP384,
                    other => {
                        return Err(SignError::UnsupportedCurve {
                            curve: other.to_owned(),
                        });
                    }
                };
                let x = member_b64(obj, "x")?;
                let y = member_b64(obj, "y")?;
                let size = coordinate_len(key_type);
                if x.len() != size || y.len() != size {
                    return Err(invalid_jwk(format!(
                        "'x' and 'y' of a {crv} key must be {size} bytes each"
                    )));
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                PublicKey {
                    inner: Inner::Ec { key_type, point },
                }
            }
            "OKP" => match member_str(obj, "crv")? {
                "Ed25519" => PublicKey::ed25519(&member_b64(obj, "x")?)?,
                other => {
                    return Err(SignError::UnsupportedKeyType {
                        key_type: format!("OKP {other}"),
                    });
                }
            },
            "oct" => {
                return Err(invalid_jwk(
                    "'oct' keys are symmetric; use an RSA, EC or OKP key",
                ));
            }
            other => {
                return Err(invalid_jwk(format!(
                    "unsupported 'kty' '{other}' (expected RSA, EC or OKP)"
                )));
            }
        };
        if let Some(alg) = obj.get("alg") {
            let alg = alg
                .as_str()
                .ok_or_else(|| invalid_jwk("'alg' must be a string"))?;
            let alg: Algorithm = alg.parse()?;
            if !alg.fits(key.key_type()) {
                return Err(SignError::AlgorithmMismatch {
                    algorithm: alg,
                    key_type: key.key_type(),
                });
            }
        }
        Ok(key)
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        match &self.inner {
            Inner::Rsa { .. } => KeyType::Rsa,
            Inner::Ec { key_type, .. } => *key_type,
            Inner::Ed25519 { .. } => KeyType::Ed25519,
        }
    }

    /// The modulus size of an RSA key, in bits.
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.inner {
            Inner::Rsa { n, .. } => Some(der::bit_len(n)),
            _ => None,
        }
    }

    /// The key as DER SubjectPublicKeyInfo.
    pub fn to_der(&self) -> Vec<u8> {
        let (alg_id, key) = match &self.inner {
            Inner::Rsa { n, e } => {
                let alg_id = der::tlv(
                    der::SEQUENCE,
                    &[&der::tlv(der::OID, &[oid::RSA_ENCRYPTION]), &[der::NULL, 0]],
                );
                let key = der::tlv(der::SEQUENCE, &[&der::unsigned(n), &der::unsigned(e)]);
                (alg_id, key)
            }
            Inner::Ec { key_type, point } => {
                let curve = if *key_type == KeyType::EcP384 {
                    oid::P384
                } else {
                    oid::P256
                };
                let alg_id = der::tlv(
                    der::SEQUENCE,
                    &[
                        &der::tlv(der::OID, &[oid::EC_PUBLIC_KEY]),
                        &der::tlv(der::OID, &[curve]),
                    ],
                );
                (alg_id, point.clone())
            }
            Inner::Ed25519 { x } => (
                der::tlv(der::SEQUENCE, &[&der::tlv(der::OID, &[oid::ED25519])]),
                x.clone(),
            ),
        };
        der::tlv(
            der::SEQUENCE,
            &[&alg_id, &der::tlv(der::BIT_STRING, &[&[0], &key])],
        )
    }

    /// The key as PEM (`-----BEGIN PUBLIC KEY-----`, LF line endings), the form
    /// Keycloak's identity provider accepts as `publicKeySignatureVerifier`.
    pub fn to_pem(&self) -> String {
        let block = pem::Pem::new("PUBLIC KEY", self.to_der());
        pem::encode_config(
            &block,
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// The RFC 7638 JWK thumbprint: base64url SHA-256 of the required members in lexicographic order.
    pub fn thumbprint(&self) -> String {
        // Written out by hand rather than through serde_json: the member order is
        // part of the hash, and base64url values never need JSON escaping.
        let canonical = match &self.inner {
            Inner::Rsa { n, e } => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64(e), b64(n)),
            Inner::Ec { key_type, point } => {
                let (x, y) = ec_coordinates(*key_type, point);
                format!(
                    r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                    crv(*key_type),
                    b64(x),
                    b64(y)
                )
            }
            Inner::Ed25519 { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(x)),
        };
        b64(crypto::digest::digest(&crypto::digest::SHA256, canonical.as_bytes()).as_ref())
    }

    /// The key as a JWK with `use: sig`, plus `alg` and `kid` when given.
    pub fn to_jwk(&self, algorithm: Option<Algorithm>, kid: Option<&str>) -> Value {
        let mut jwk = match &self.inner {
            Inner::Rsa { n, e } => json!({ "kty": "RSA", "n": b64(n), "e": b64(e) }),
            Inner::Ec { key_type, point } => {
                let (x, y) = ec_coordinates(*key_type, point);
                json!({ "kty": "EC", "crv": crv(*key_type), "x": b64(x), "y": b64(y) })
            }
            Inner::Ed25519 { x } => json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(x) }),
        };
        if let Some(obj) = jwk.as_object_mut() {
            obj.insert("use".into(), "sig".into());
            if let Some(alg) = algorithm {
                obj.insert("alg".into(), alg.as_str().into());
            }
            if let Some(kid) = kid {
                obj.insert("kid".into(), kid.into());
            }
        }
        jwk
    }

    /// Checks `signature` over `message` with `algorithm`, which must fit the key.
    pub fn verify_signature(
        &self,
        algorithm: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        use crypto::signature::{self as sig, UnparsedPublicKey};
        if !algorithm.fits(self.key_type()) {
            return Err(VerifyError::AlgorithmMismatch {
                algorithm,
                key_type: self.key_type(),
            });
        }
        let result = match &self.inner {
            Inner::Rsa { n, e } => {
                let params: &sig::RsaParameters = match algorithm {
                    Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
                    _ => &sig::RSA_PSS_2048_8192_SHA512,
                };
                sig::RsaPublicKeyComponents {
                    n: &n[..],
                    e: &e[..],
                }
                .verify(params, message, signature)
            }
            Inner::Ec { key_type, point } => {
                let params = if *key_type == KeyType::EcP384 {
                    &sig::ECDSA_P384_SHA384_FIXED
                } else {
                    &sig::ECDSA_P256_SHA256_FIXED
                };
                UnparsedPublicKey::new(params, point).verify(message, signature)
            }
            Inner::Ed25519 { x } => {
                UnparsedPublicKey::new(&sig::ED25519, x).verify(message, signature)
            }
        };
        result.map_err(|_| VerifyError::InvalidSignature)
    }

    pub(crate) fn rsa(n: &[u8], e: &[u8]) -> Result<PublicKey, SignError> {
        let (n, e) = (der::strip_zeros(n), der::strip_zeros(e));
        if n.is_empty() || e.is_empty() {
            return Err(SignError::MalformedKey {
                format: "RSA public",
                reason: "the modulus or exponent is zero",
            });
        }
        let bits = der::bit_len(n);
        if bits < 2048 {
            return Err(SignError::RsaKeyTooSmall { bits });
        }
        Ok(PublicKey {
            inner: Inner::Rsa {
                n: n.to_vec(),
                e: e.to_vec(),
            },
        })
    }

    pub(crate) fn ec(key_type: KeyType, point: &[u8]) -> Result<PublicKey, SignError> {
        let size = coordinate_len(key_type);
        if point.first() != Some(&0x04) || point.len() != 1 + 2 * size {
            return Err(SignError::MalformedKey {
                format: "EC public",
                reason: "expected an uncompressed point (compressed points are not supported)",
            });
        }
        Ok(PublicKey {
            inner: Inner::Ec {
                key_type,
                point: point.to_vec(),
            },
        })
    }

    pub(crate) fn ed25519(x: &[u8]) -> Result<PublicKey, SignError> {
        if x.len() != 32 {
            return Err(SignError::MalformedKey {
                format: "Ed25519 public",
                reason: "expected 32 bytes",
            });
        }
        Ok(PublicKey {
            inner: Inner::Ed25519 { x: x.to_vec() },
        })
    }

    fn from_rsa_public_der(input: &[u8]) -> Result<PublicKey, SignError> {
        let (n, e) = rsa_public_from_der(input).map_err(|reason| SignError::MalformedKey {
            format: "PKCS#1 RSA public",
            reason,
        })?;
        PublicKey::rsa(n, e)
    }

    fn from_spki(input: &[u8]) -> Result<PublicKey, SignError> {
        let malformed = |reason| SignError::MalformedKey {
            format: "SubjectPublicKeyInfo",
            reason,
        };
        let mut outer = Reader::new(input).sequence().map_err(malformed)?;
        let mut alg_id = outer.sequence().map_err(malformed)?;
        let alg = alg_id.read(der::OID).map_err(malformed)?;
        let bits = outer.read(der::BIT_STRING).map_err(malformed)?;
        outer.finish().map_err(malformed)?;
        let key = match bits.split_first() {
            Some((0, key)) => key,
            _ => return Err(malformed("the key BIT STRING has unused bits")),
        };
        match alg {
            oid::RSA_ENCRYPTION => PublicKey::from_rsa_public_der(key),
            oid::EC_PUBLIC_KEY => {
                let curve = alg_id
                    .read(der::OID)
                    .map_err(|_| SignError::UnsupportedCurve {
                        curve: "with explicit parameters".into(),
                    })?;
                PublicKey::ec(curve_from_oid(curve)?, key)
            }
            oid::ED25519 => PublicKey::ed25519(key),
            other => Err(crate::keys::unsupported_algorithm_oid(other)),
        }
    }

    fn from_certificate_der(input: &[u8]) -> Result<PublicKey, SignError> {
        let malformed = |reason| SignError::MalformedKey {
            format: "X.509 certificate",
            reason,
        };
        let mut cert = Reader::new(input).sequence().map_err(malformed)?;
        let mut tbs = cert.sequence().map_err(malformed)?;
        tbs.read_optional(der::CONTEXT_0).map_err(malformed)?; // version
        tbs.read(der::INTEGER).map_err(malformed)?; // serialNumber
        for _ in 0..4 {
            // signature, issuer, validity, subject
            tbs.sequence().map_err(malformed)?;
        }
        let spki = tbs.read(der::SEQUENCE).map_err(malformed)?;
        PublicKey::from_spki(&der::tlv(der::SEQUENCE, &[spki]))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_type", &self.key_type())
            .field("thumbprint", &self.thumbprint())
            .finish()
    }
}

/// A parsed JWKS document (RFC 7517 section 5): the public keys a verifier may pick from.
#[derive(Clone, Debug)]
pub struct Jwks {
    keys: Vec<JwksKey>,
}

/// One usable key of a [`Jwks`].
#[derive(Clone, Debug)]
pub struct JwksKey {
    kid: Option<String>,
    algorithm: Option<Algorithm>,
    key: PublicKey,
}

impl JwksKey {
    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key's `alg`, if it names one.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.algorithm
    }

    /// The public key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
}

impl Jwks {
    /// Parses a JWKS document from JSON text.
    pub fn from_json(json: &str) -> Result<Jwks, SignError> {
        let value: Value = serde_json::from_str(json)
            .map_err(|err| invalid_jwk(format!("the JWKS is not valid JSON: {err}")))?;
        Jwks::from_value(&value)
    }

    /// Parses a JWKS document, `{"keys": [...]}`.
    ///
    /// Keys this crate cannot verify with are skipped rather than failing the
    /// whole set, as a JWKS often carries more than signing keys: entries with
    /// `use: enc`, symmetric (`oct`) keys, unsupported curves and unknown `alg`s.
    /// A supported key that is malformed is an error naming its index.
    pub fn from_value(value: &Value) -> Result<Jwks, SignError> {
        let entries = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid_jwk("a JWKS must be an object with a 'keys' array"))?;
        let mut keys = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            if skip_jwks_entry(entry) {
                continue;
            }
            let key = PublicKey::from_jwk(entry)
                .map_err(|err| invalid_jwk(format!("key {index} of the JWKS: {err}")))?;
            let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
            let algorithm = entry
                .get("alg")
                .and_then(Value::as_str)
                .and_then(|alg| alg.parse().ok());
            keys.push(JwksKey {
                kid,
                algorithm,
                key,
            });
        }
        Ok(Jwks { keys })
    }

    /// A JWKS holding the given keys, for example to serve or to test with.
    pub fn from_keys(
        keys: impl IntoIterator<Item = (Option<String>, Option<Algorithm>, PublicKey)>,
    ) -> Jwks {
        Jwks {
            keys: keys
                .into_iter()
                .map(|(kid, algorithm, key)| JwksKey {
                    kid,
                    algorithm,
                    key,
                })
                .collect(),
        }
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> &[JwksKey] {
        &self.keys
    }

    /// The first key whose `kid` equals `kid`.
    pub fn find(&self, kid: &str) -> Option<&JwksKey> {
        self.keys.iter().find(|key| key.kid.as_deref() == Some(kid))
    }

    /// Keys that could have signed a token with this `kid` (if any) and algorithm.
    pub fn candidates(
        &self,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> impl Iterator<Item = &JwksKey> {
        self.keys.iter().filter(move |key| {
            algorithm.fits(key.key.key_type())
                && key.algorithm.is_none_or(|alg| alg == algorithm)
                && kid.is_none_or(|kid| key.kid.as_deref() == Some(kid))
        })
    }

    /// The document as JSON, `{"keys": [...]}`.
    pub fn to_value(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| k.key.to_jwk(k.algorithm, k.kid.as_deref()))
            .collect();
        json!({ "keys": keys })
    }
}

/// Entries of a JWKS that are not meant for us; see [`Jwks::from_value`].
fn skip_jwks_entry(entry: &Value) -> bool {
    let get = |name| entry.get(name).and_then(Value::as_str);
    if get("use") == Some("enc") {
        return true;
    }
    if get("alg").is_some_and(|alg| alg.parse::<Algorithm>().is_err()) {
        return true;
    }
    !matches!(
        (get("kty"), get("crv")),
        (Some("RSA"), _) | (Some("EC"), Some("P-256" | "P-384")) | (Some("OKP"), Some("Ed25519"))
    )
}

fn invalid_jwk(reason: impl Into<String>) -> SignError {
    SignError::InvalidJwk {
        reason: reason.into(),
    }
}

fn member_str<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, SignError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(invalid_jwk(format!("'{name}' must be a string"))),
        None => Err(invalid_jwk(format!("missing '{name}'"))),
    }
}

fn member_b64(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, SignError> {
    let text = member_str(obj, name)?;
    Base64UrlUnpadded::decode_vec(text)
        .map_err(|_| invalid_jwk(format!("'{name}' is not unpadded base64url")))
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// `base64url(SHA-256(data))`, unpadded: the form of RFC 8705's `x5t#S256` certificate
/// thumbprint (over the certificate's DER) and of RFC 9449's `ath` (over an access token).
///
/// ```
/// assert_eq!(
///     jwtgrant_signer::sha256_base64url(b"abc"),
///     "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
/// );
/// ```
pub fn sha256_base64url(data: &[u8]) -> String {
    b64(crypto::digest::digest(&crypto::digest::SHA256, data).as_ref())
}

fn coordinate_len(key_type: KeyType) -> usize {
    if key_type == KeyType::EcP384 { 48 } else { 32 }
}

fn crv(key_type: KeyType) -> &'static str {
    if key_type == KeyType::EcP384 {
        "P-384"
    } else {
        "P-256"
    }
}

/// Splits an uncompressed point, whose length [`PublicKey::ec`] checked.
fn ec_coordinates(key_type: KeyType, point: &[u8]) -> (&[u8], &[u8]) {
    let size = coordinate_len(key_type);
    let coords = point.get(1..).unwrap_or_default();
    coords.split_at(size.min(coords.len()))
}
