//! Keys that never leave a PKCS#11 token (an HSM, a smart card, SoftHSM).
//!
//! [`Pkcs11Key`] is a [`SigningKey`]: the token signs, this process only ever
//! sees the public key. Hand it to [`Signer::from_key`](crate::Signer::from_key)
//! and every token, JWK and thumbprint is the same as for a key in a file.
//!
//! This module is the one place in the crate that does I/O, and it does it
//! only through the PKCS#11 module the caller names: it loads the module,
//! opens sessions and logs in. It still reads no environment and no files of
//! its own; the caller resolves the module path and the PIN (see
//! [`Pkcs11Uri::pin_source`]).
//!
//! Mechanisms: RS256/384/512 `CKM_SHA*_RSA_PKCS`, PS256/384/512
//! `CKM_SHA*_RSA_PKCS_PSS` (salt = hash length, MGF1 with the same hash),
//! ES256/ES384 `CKM_ECDSA` over a SHA-256/SHA-384 digest computed here (the
//! token returns the fixed-size `r || s` JWS wants).
//!
//! ```no_run
//! use jwtgrant_signer::{Claims, Signer};
//! use jwtgrant_signer::pkcs11::{Pin, Pkcs11Key};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let uri = "pkcs11:token=issuer;object=jwt-signing?module-path=/usr/lib/softhsm/libsofthsm2.so".parse()?;
//! let key = Pkcs11Key::open(&uri, None, Some(&Pin::new("1234")))?;
//! let signer = Signer::from_key(key).with_kid_thumbprint();
//! let claims = Claims::new("https://issuer.example", "user-1", "https://kc.example/realms/demo");
//! let assertion = signer.sign(&claims)?;
//! # Ok(())
//! # }
//! ```

mod error;
mod uri;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType as CkKeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki::types::{AuthPin, Ulong};
use zeroize::Zeroizing;

pub use error::{PinAttempts, Pkcs11Error};
pub use uri::Pkcs11Uri;

use crate::backend::crypto;
use crate::der;
use crate::{Algorithm, KeyType, PublicKey, SignError, SigningKey};
use crypto::rand::SecureRandom as _;

/// A token's user PIN. `Debug` shows `[redacted]`; the text is wiped on drop.
pub struct Pin(Zeroizing<String>);

impl Pin {
    /// Wraps a PIN. Callers strip a trailing newline read from a file or stdin.
    pub fn new(pin: impl Into<String>) -> Pin {
        Pin(Zeroizing::new(pin.into()))
    }

    fn auth(&self) -> AuthPin {
        AuthPin::from(self.0.as_str().to_owned())
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin([redacted])")
    }
}

/// A private key inside a PKCS#11 token, used through the token's module.
///
/// Signing borrows a session from a small pool (opening one when all are in
/// use), so one `Pkcs11Key` behind a [`Signer`](crate::Signer) signs from many
/// threads at once; PKCS#11 sessions are not shareable between concurrent
/// operations, the pool keeps each in one thread at a time. The login is the
/// token's, shared by every session of this process, and lasts as long as the key.
pub struct Pkcs11Key {
    ctx: Pkcs11,
    slot: Slot,
    token: String,
    handle: ObjectHandle,
    public: PublicKey,
    mechanisms: Vec<MechanismType>,
    sessions: Mutex<Vec<Session>>,
    uri: Pkcs11Uri,
}

impl Pkcs11Key {
    /// Finds the private key `uri` names and logs in with `pin`.
    ///
    /// The module is `uri`'s `module-path` if it has one, else `module`.
    /// Fails with a [`Pkcs11Error`] naming the cause: module not found, token
    /// not found, wrong PIN (with what the token says about attempts left), key
    /// not found, or a key or default algorithm the token cannot sign with.
    pub fn open(
        uri: &Pkcs11Uri,
        module: Option<&Path>,
        pin: Option<&Pin>,
    ) -> Result<Pkcs11Key, Pkcs11Error> {
        let ctx = load_module(module_path(uri, module)?)?;
        let (slot, info) = find_token(&ctx, uri)?;
        let session = ctx
            .open_ro_session(slot)
            .map_err(failed("opening a session"))?;
        login(&ctx, slot, &session, &info, pin)?;
        Pkcs11Key::from_session(ctx, slot, info.label().to_owned(), session, uri)
    }

    /// Generates a key pair inside the token: private part sensitive and
    /// never extractable, public part readable; labelled `uri`'s `object`,
    /// with `uri`'s `id` or a random 16-byte one.
    ///
    /// `key_type` is RSA (with `rsa_bits`, 2048 or more), EC P-256 or EC P-384.
    pub fn generate(
        uri: &Pkcs11Uri,
        module: Option<&Path>,
        pin: &Pin,
        key_type: KeyType,
        rsa_bits: usize,
    ) -> Result<Pkcs11Key, Pkcs11Error> {
        let label = uri.object().ok_or_else(|| Pkcs11Error::InvalidUri {
            reason: "generating a key needs object=LABEL in the URI".into(),
        })?;
        let ctx = load_module(module_path(uri, module)?)?;
        let (slot, info) = find_token(&ctx, uri)?;
        let token = info.label().to_owned();
        let session = ctx
            .open_rw_session(slot)
            .map_err(failed("opening a read-write session"))?;
        login(&ctx, slot, &session, &info, Some(pin))?;
        // One label (and id) per key: a second key with the same name would make the URI ambiguous.
        let by_label = Pkcs11Uri::default().with_object(label);
        if !find_keys(&session, ObjectClass::PRIVATE_KEY, &by_label)?.is_empty()
            || (uri.id().is_some()
                && !find_keys(&session, ObjectClass::PRIVATE_KEY, uri)?.is_empty())
        {
            return Err(Pkcs11Error::KeyExists {
                wanted: uri.describe_key(),
                token,
            });
        }
        let id = match uri.id() {
            Some(id) => id.to_vec(),
            None => {
                let mut id = vec![0; 16];
                crypto::rand::SystemRandom::new()
                    .fill(&mut id)
                    .map_err(|_| Pkcs11Error::Token {
                        operation: "making a key id",
                        source: "the system random generator failed".into(),
                    })?;
                id
            }
        };
        let common = |private: bool| {
            vec![
                Attribute::Token(true),
                Attribute::Private(private),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(id.clone()),
            ]
        };
        let mut public = common(false);
        public.push(Attribute::Verify(true));
        let mut private = common(true);
        private.extend([
            Attribute::Sign(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
        ]);
        let mechanism = match key_type {
            KeyType::Rsa => {
                if rsa_bits < 2048 {
                    return Err(Pkcs11Error::UnsupportedKey {
                        reason: format!("an RSA key of {rsa_bits} bits (use 2048 or more)"),
                    });
                }
                public.extend([
                    Attribute::ModulusBits(Ulong::from(rsa_bits as u64)),
                    Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                ]);
                Mechanism::RsaPkcsKeyPairGen
            }
            KeyType::EcP256 | KeyType::EcP384 => {
                let oid = if key_type == KeyType::EcP256 {
                    der::oid::P256
                } else {
                    der::oid::P384
                };
                public.push(Attribute::EcParams(der::tlv(der::OID, &[oid])));
                Mechanism::EccKeyPairGen
            }
            other => {
                return Err(Pkcs11Error::UnsupportedKey {
                    reason: format!("generating {other} keys (use RSA, EC P-256 or EC P-384)"),
                });
            }
        };
        session
            .generate_key_pair(&mechanism, &public, &private)
            .map_err(failed("generating the key pair"))?;
        let uri = uri.clone().with_id(id);
        Pkcs11Key::from_session(ctx, slot, token, session, &uri)
    }

    fn from_session(
        ctx: Pkcs11,
        slot: Slot,
        token: String,
        session: Session,
        uri: &Pkcs11Uri,
    ) -> Result<Pkcs11Key, Pkcs11Error> {
        let keys = find_keys(&session, ObjectClass::PRIVATE_KEY, uri)?;
        let handle = match keys[..] {
            [one] => one,
            [] => {
                return Err(Pkcs11Error::KeyNotFound {
                    wanted: uri.describe_key(),
                    token,
                });
            }
            _ => {
                return Err(Pkcs11Error::AmbiguousKey {
                    wanted: uri.describe_key(),
                    count: keys.len(),
                });
            }
        };
        let public = read_public_key(&session, handle, uri)?;
        // Asked one by one: C_GetMechanismList would also return vendor mechanisms,
        // which cryptoki logs as errors when it does not know them.
        let mechanisms = [
            MechanismType::SHA256_RSA_PKCS,
            MechanismType::SHA384_RSA_PKCS,
            MechanismType::SHA512_RSA_PKCS,
            MechanismType::SHA256_RSA_PKCS_PSS,
            MechanismType::SHA384_RSA_PKCS_PSS,
            MechanismType::SHA512_RSA_PKCS_PSS,
            MechanismType::ECDSA,
            MechanismType::EDDSA,
        ]
        .into_iter()
        .filter(|m| ctx.get_mechanism_info(slot, *m).is_ok())
        .collect();
        let key = Pkcs11Key {
            ctx,
            slot,
            token,
            handle,
            public,
            mechanisms,
            sessions: Mutex::new(vec![session]),
            uri: uri.clone(),
        };
        key.mechanism_for(key.public.key_type().default_algorithm())?;
        Ok(key)
    }

    /// The label of the token holding the key.
    pub fn token_label(&self) -> &str {
        &self.token
    }

    /// The URI that found the key (for a generated key, with the `id` it got).
    pub fn uri(&self) -> &Pkcs11Uri {
        &self.uri
    }

    fn mechanism_for(&self, algorithm: Algorithm) -> Result<Mechanism<'static>, Pkcs11Error> {
        let pss = |hash_alg, mgf, s_len: u64| PkcsPssParams {
            hash_alg,
            mgf,
            s_len: Ulong::from(s_len),
        };
        let (mechanism, name) = match algorithm {
            Algorithm::RS256 => (Mechanism::Sha256RsaPkcs, "CKM_SHA256_RSA_PKCS"),
            Algorithm::RS384 => (Mechanism::Sha384RsaPkcs, "CKM_SHA384_RSA_PKCS"),
            Algorithm::RS512 => (Mechanism::Sha512RsaPkcs, "CKM_SHA512_RSA_PKCS"),
            Algorithm::PS256 => (
                Mechanism::Sha256RsaPkcsPss(pss(
                    MechanismType::SHA256,
                    PkcsMgfType::MGF1_SHA256,
                    32,
                )),
                "CKM_SHA256_RSA_PKCS_PSS",
            ),
            Algorithm::PS384 => (
                Mechanism::Sha384RsaPkcsPss(pss(
                    MechanismType::SHA384,
                    PkcsMgfType::MGF1_SHA384,
                    48,
                )),
                "CKM_SHA384_RSA_PKCS_PSS",
            ),
            Algorithm::PS512 => (
                Mechanism::Sha512RsaPkcsPss(pss(
                    MechanismType::SHA512,
                    PkcsMgfType::MGF1_SHA512,
                    64,
                )),
                "CKM_SHA512_RSA_PKCS_PSS",
            ),
            Algorithm::ES256 | Algorithm::ES384 => (Mechanism::Ecdsa, "CKM_ECDSA"),
            Algorithm::EdDSA => (
                Mechanism::Eddsa(cryptoki::mechanism::eddsa::EddsaParams::new(
                    cryptoki::mechanism::eddsa::EddsaSignatureScheme::Pure,
                )),
                "CKM_EDDSA",
            ),
        };
        if self.mechanisms.contains(&mechanism.mechanism_type()) {
            Ok(mechanism)
        } else {
            Err(Pkcs11Error::UnsupportedMechanism {
                algorithm,
                mechanism: name,
            })
        }
    }

    /// Runs `op` on a pooled session; sessions are never used by two threads at once.
    fn with_session<T>(
        &self,
        op: impl FnOnce(&Session) -> cryptoki::error::Result<T>,
    ) -> Result<T, Pkcs11Error> {
        let pooled = lock(&self.sessions).pop();
        let session = match pooled {
            Some(session) => session,
            None => self
                .ctx
                .open_ro_session(self.slot)
                .map_err(failed("opening a session"))?,
        };
        let result = op(&session);
        lock(&self.sessions).push(session);
        result.map_err(failed("signing"))
    }
}

impl SigningKey for Pkcs11Key {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn check_algorithm(&self, algorithm: Algorithm) -> Result<(), SignError> {
        let key_type = self.public.key_type();
        if !algorithm.fits(key_type) {
            return Err(SignError::AlgorithmMismatch {
                algorithm,
                key_type,
            });
        }
        self.mechanism_for(algorithm)?;
        Ok(())
    }

    fn sign(&self, algorithm: Algorithm, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let mechanism = self.mechanism_for(algorithm)?;
        // CKM_ECDSA signs a digest; hashing here keeps to the one ECDSA mechanism every token has.
        let digest;
        let input = match algorithm {
            Algorithm::ES256 => {
                digest = crypto::digest::digest(&crypto::digest::SHA256, message);
                digest.as_ref()
            }
            Algorithm::ES384 => {
                digest = crypto::digest::digest(&crypto::digest::SHA384, message);
                digest.as_ref()
            }
            _ => message,
        };
        let signature = self.with_session(|s| s.sign(&mechanism, self.handle, input))?;
        let expected = match algorithm {
            Algorithm::ES256 => 64,
            Algorithm::ES384 => 96,
            Algorithm::EdDSA => 64,
            _ => self.public.rsa_bits().unwrap_or_default().div_ceil(8),
        };
        if signature.len() != expected {
            return Err(Pkcs11Error::Token {
                operation: "signing",
                source: format!(
                    "the token returned a {}-byte signature, {algorithm} needs {expected}",
                    signature.len()
                )
                .into(),
            }
            .into());
        }
        Ok(signature)
    }
}

impl fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("token", &self.token)
            .field("key", &self.uri.describe_key())
            .field("key_type", &self.public.key_type())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the pool leaves a Vec of sessions, still valid.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn failed(operation: &'static str) -> impl Fn(CkError) -> Pkcs11Error {
    move |err| Pkcs11Error::Token {
        operation,
        source: Box::new(err),
    }
}

fn module_path<'a>(uri: &'a Pkcs11Uri, module: Option<&'a Path>) -> Result<&'a Path, Pkcs11Error> {
    uri.module_path()
        .map(Path::new)
        .or(module)
        .ok_or(Pkcs11Error::NoModule)
}

/// Loads and initializes a module once per process: a second `C_Initialize` fails, and a
/// `C_Finalize` when one key is dropped would pull the module from under every other key.
fn load_module(path: &Path) -> Result<Pkcs11, Pkcs11Error> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    if !path.is_file() {
        return Err(Pkcs11Error::ModuleNotFound {
            path: path.to_owned(),
        });
    }
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let mut modules = lock(MODULES.get_or_init(Default::default));
    if let Some(ctx) = modules.get(&canonical) {
        return Ok(ctx.clone());
    }
    let load_error = |err: CkError| Pkcs11Error::ModuleLoad {
        path: path.to_owned(),
        source: Box::new(err),
    };
    let ctx = Pkcs11::new(&canonical).map_err(load_error)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(err) => return Err(load_error(err)),
    }
    modules.insert(canonical, ctx.clone());
    Ok(ctx)
}

fn find_token(ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<(Slot, TokenInfo), Pkcs11Error> {
    let slots = ctx
        .get_slots_with_initialized_token()
        .map_err(failed("listing the slots"))?;
    let mut present = Vec::new();
    let mut matching = Vec::new();
    for slot in slots {
        let info = ctx
            .get_token_info(slot)
            .map_err(failed("reading token information"))?;
        present.push(info.label().to_owned());
        let fits = |want: Option<&str>, have: &str| want.is_none_or(|w| w == have);
        if fits(uri.token(), info.label())
            && fits(uri.manufacturer(), info.manufacturer_id())
            && fits(uri.serial(), info.serial_number())
            && fits(uri.model(), info.model())
            && uri.slot_id().is_none_or(|id| id == slot.id())
        {
            matching.push((slot, info));
        }
    }
    let wanted = uri.describe_token();
    match matching.len() {
        1 => Ok(matching.remove(0)),
        0 => Err(Pkcs11Error::TokenNotFound { wanted, present }),
        count => Err(Pkcs11Error::AmbiguousToken { wanted, count }),
    }
}

fn login(
    ctx: &Pkcs11,
    slot: Slot,
    session: &Session,
    info: &TokenInfo,
    pin: Option<&Pin>,
) -> Result<(), Pkcs11Error> {
    let token = info.label().to_owned();
    if info.user_pin_locked() {
        return Err(Pkcs11Error::PinLocked { token });
    }
    let Some(pin) = pin else {
        if info.login_required() {
            return Err(Pkcs11Error::PinRequired { token });
        }
        return Ok(());
    };
    match session.login(UserType::User, Some(&pin.auth())) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
            // The flags change with the failure, so read them again.
            let attempts = match ctx.get_token_info(slot) {
                Ok(now) if now.user_pin_locked() => PinAttempts::Locked,
                Ok(now) if now.user_pin_final_try() => PinAttempts::FinalTry,
                Ok(now) if now.user_pin_count_low() => PinAttempts::Low,
                _ => PinAttempts::Unknown,
            };
            Err(Pkcs11Error::WrongPin { token, attempts })
        }
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(Pkcs11Error::PinLocked { token }),
        Err(err) => Err(failed("logging in")(err)),
    }
}

fn find_keys(
    session: &Session,
    class: ObjectClass,
    uri: &Pkcs11Uri,
) -> Result<Vec<ObjectHandle>, Pkcs11Error> {
    let mut template = vec![Attribute::Class(class)];
    if let Some(label) = uri.object() {
        template.push(Attribute::Label(label.as_bytes().to_vec()));
    }
    if let Some(id) = uri.id() {
        template.push(Attribute::Id(id.to_vec()));
    }
    session
        .find_objects(&template)
        .map_err(failed("searching for the key"))
}

fn attribute(
    session: &Session,
    object: ObjectHandle,
    kind: AttributeType,
) -> Result<Option<Attribute>, Pkcs11Error> {
    Ok(session
        .get_attributes(object, &[kind])
        .map_err(failed("reading the key's attributes"))?
        .into_iter()
        .next())
}

fn bytes(
    session: &Session,
    object: ObjectHandle,
    kind: AttributeType,
) -> Result<Option<Vec<u8>>, Pkcs11Error> {
    Ok(match attribute(session, object, kind)? {
        Some(
            Attribute::Modulus(v)
            | Attribute::PublicExponent(v)
            | Attribute::EcParams(v)
            | Attribute::EcPoint(v)
            | Attribute::Id(v)
            | Attribute::Label(v),
        ) => Some(v),
        _ => None,
    })
}

/// The fix for a key this crate cannot use.
const FIX: &str = "use an RSA (2048 bits or more), EC P-256 or EC P-384 key";

/// The public half: RSA from the private object's public attributes, EC from the
/// matching public object (PKCS#11 keeps `CKA_EC_POINT` there only).
fn read_public_key(
    session: &Session,
    private: ObjectHandle,
    uri: &Pkcs11Uri,
) -> Result<PublicKey, Pkcs11Error> {
    let unsupported = |reason: String| Pkcs11Error::UnsupportedKey { reason };
    let key_type = match attribute(session, private, AttributeType::KeyType)? {
        Some(Attribute::KeyType(kt)) => kt,
        _ => return Err(unsupported(format!("the key has no CKA_KEY_TYPE ({FIX})"))),
    };
    // The public object that pairs with the private one: same CKA_ID (or label when there is none).
    let public_object = || -> Result<ObjectHandle, Pkcs11Error> {
        let id = bytes(session, private, AttributeType::Id)?.unwrap_or_default();
        let pair = if id.is_empty() {
            uri.clone()
        } else {
            Pkcs11Uri::default().with_id(id)
        };
        find_keys(session, ObjectClass::PUBLIC_KEY, &pair)?
            .first()
            .copied()
            .ok_or_else(|| Pkcs11Error::KeyNotFound {
                wanted: format!("the public key of {}", uri.describe_key()),
                token: String::new(),
            })
    };
    if key_type == CkKeyType::RSA {
        let mut n = bytes(session, private, AttributeType::Modulus)?;
        let mut e = bytes(session, private, AttributeType::PublicExponent)?;
        if n.is_none() || e.is_none() {
            let public = public_object()?;
            n = bytes(session, public, AttributeType::Modulus)?;
            e = bytes(session, public, AttributeType::PublicExponent)?;
        }
        let (Some(n), Some(e)) = (n, e) else {
            return Err(unsupported(format!(
                "an RSA key without a readable modulus ({FIX})"
            )));
        };
        PublicKey::rsa(&n, &e).map_err(|err| unsupported(err.to_string()))
    } else if key_type == CkKeyType::EC {
        let public = public_object()?;
        let params = bytes(session, public, AttributeType::EcParams)?.unwrap_or_default();
        let curve = match params.split_first() {
            // OBJECT IDENTIFIER, a one-byte length, exactly that many bytes. (The token's
            // bytes are input: an empty rest must not underflow a length computation.)
            Some((&der::OID, rest)) if matches!(rest.split_first(), Some((&len, tail)) if usize::from(len) == tail.len()) => {
                &rest[1..]
            }
            _ => {
                return Err(unsupported(format!(
                    "an EC key without named-curve parameters ({FIX})"
                )));
            }
        };
        let key_type =
            crate::keys::curve_from_oid(curve).map_err(|err| unsupported(err.to_string()))?;
        let point = bytes(session, public, AttributeType::EcPoint)?.unwrap_or_default();
        PublicKey::ec(key_type, ec_point(&point)).map_err(|err| unsupported(err.to_string()))
    } else {
        Err(unsupported(format!("key type {key_type} ({FIX})")))
    }
}

/// `CKA_EC_POINT` is a DER OCTET STRING holding the point; a few tokens return the bare point.
fn ec_point(value: &[u8]) -> &[u8] {
    match value {
        [der::OCTET_STRING, len, rest @ ..] if *len as usize == rest.len() => rest,
        _ => value,
    }
}
