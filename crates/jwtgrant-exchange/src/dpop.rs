//! DPoP (RFC 9449): proofs that the sender of a request holds a private key, and access
//! tokens bound to that key.
//!
//! A [`Dpop`] holds the key (a [`jwtgrant_signer::Signer`]) and the latest server nonce. It
//! makes a fresh proof for every request: a JWS with header `typ: dpop+jwt`, `alg` and the
//! public `jwk`, and claims `jti` (new each time), `htm` (the method), `htu` (the URL without
//! query and fragment), `iat`, plus `ath` (the access token's SHA-256) for resource calls and
//! `nonce` once a server asked for one. The exchange sends one with every token request when
//! [`crate::Exchange::dpop`] is set; [`Dpop::resource_proof`] makes the one a resource call
//! needs next to `Authorization: DPoP <token>`.
//!
//! Building the claims is a pure function ([`proof_claims`]); signing uses the signer.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use url::Url;

use crate::endpoint;
use crate::error::{ExchangeError, Source};
use crate::secret::Secret;

/// The JWS `typ` of a DPoP proof.
pub const DPOP_PROOF_TYPE: &str = "dpop+jwt";
/// The HTTP header that carries a proof (and, from the server, `DPoP-Nonce`).
pub const DPOP_HEADER: &str = "DPoP";
/// The error code of a server that wants a nonce in the proof (RFC 9449 section 8).
pub const USE_DPOP_NONCE: &str = "use_dpop_nonce";

/// A DPoP key and the latest nonce each server gave it. Nonces are kept per origin
/// (scheme, host and port; RFC 9449 section 8: a nonce is the server's, not the key's), so
/// the token endpoint's nonce never goes into a proof for a resource server. Clones share
/// the nonces, so an [`crate::Exchange`] and its clones (and a [`crate::TokenSource`]
/// around one) all answer a nonce challenge once. `Debug` shows the algorithm and the
/// public thumbprint only.
#[derive(Clone)]
pub struct Dpop {
    signer: jwtgrant_signer::Signer,
    /// The proofs' JWS header (`typ`, `alg`, the public key as a JWK without `kid`, `use`
    /// or `alg`: RFC 9449 needs only the key), serialized once: it is the same in every proof.
    header: Arc<str>,
    thumbprint: String,
    /// Origin (`https://host:port`) to its latest nonce; at most [`MAX_NONCE_ORIGINS`].
    nonces: Arc<Mutex<HashMap<String, String>>>,
}

/// How many servers' nonces a [`Dpop`] keeps; a new origin beyond it replaces one of the
/// others (a key used against that many servers is unusual, and memory stays bounded).
pub const MAX_NONCE_ORIGINS: usize = 64;

impl Dpop {
    /// DPoP with the key of `signer` (ES256 is the usual choice; RS256, PS256 and EdDSA work
    /// too). The signer's `kid` is not used: a proof carries the public key itself.
    pub fn new(signer: jwtgrant_signer::Signer) -> Self {
        let mut jwk = signer.public_key().to_jwk(None, None);
        if let Some(obj) = jwk.as_object_mut() {
            obj.remove("use");
        }
        let thumbprint = signer.thumbprint();
        let header = json!({
            "typ": DPOP_PROOF_TYPE,
            "alg": signer.algorithm().as_str(),
            "jwk": jwk,
        })
        .to_string()
        .into();
        Self {
            signer,
            header,
            thumbprint,
            nonces: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The RFC 7638 thumbprint of the public key: the `cnf.jkt` a bound token carries.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The signing algorithm of the proofs.
    pub fn algorithm(&self) -> jwtgrant_signer::Algorithm {
        self.signer.algorithm()
    }

    /// The latest nonce the server of `url` sent (`DPoP-Nonce`), put in every proof for
    /// that origin from then on. `None` for a URL that is not http(s).
    pub fn nonce_for(&self, url: &str) -> Option<String> {
        let origin = origin(url)?;
        self.nonces.lock().ok()?.get(&origin).cloned()
    }

    /// Remembers the nonce the server of `url` sent in a `DPoP-Nonce` header. Ignored for a
    /// URL that is not http(s).
    pub fn set_nonce_for(&self, url: &str, nonce: impl Into<String>) {
        let (Some(origin), Ok(mut nonces)) = (origin(url), self.nonces.lock()) else {
            return;
        };
        if nonces.len() >= MAX_NONCE_ORIGINS
            && !nonces.contains_key(&origin)
            && let Some(other) = nonces.keys().next().cloned()
        {
            nonces.remove(&other);
        }
        nonces.insert(origin, nonce.into());
    }

    /// A fresh proof for a request to a token endpoint: `htm` = `method`, `htu` = `url`
    /// without query and fragment, a new `jti`, `iat` = now, and the latest nonce of that
    /// origin if any.
    pub fn proof(&self, method: &str, url: &str) -> Result<Secret, ExchangeError> {
        self.sign(method, url, None).map(|(proof, _)| proof)
    }

    /// A fresh proof for a call to a resource server with `access_token`: like
    /// [`Dpop::proof`] plus `ath`, the base64url SHA-256 of the token. Send it as the `DPoP`
    /// header next to `Authorization: DPoP <access_token>`.
    pub fn resource_proof(
        &self,
        method: &str,
        url: &str,
        access_token: &str,
    ) -> Result<Secret, ExchangeError> {
        self.sign(method, url, Some(access_token))
            .map(|(proof, _)| proof)
    }

    /// [`Dpop::resource_proof`] and the nonce it carries, for the caller that must tell a
    /// new nonce from the one it sent ([`crate::Authorizer`]).
    pub(crate) fn resource_proof_and_nonce(
        &self,
        method: &str,
        url: &str,
        access_token: &str,
    ) -> Result<(Secret, Option<String>), ExchangeError> {
        self.sign(method, url, Some(access_token))
    }

    fn sign(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<(Secret, Option<String>), ExchangeError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let jti = uuid::Uuid::new_v4().to_string();
        let nonce = self.nonce_for(url);
        let claims = proof_claims(method, url, access_token, nonce.as_deref(), now, &jti)?;
        self.signer
            .sign_jws(self.header.as_bytes(), claims.to_string().as_bytes())
            .map(|proof| (Secret::new(proof), nonce))
            .map_err(|e| ExchangeError::DpopProof {
                source: Source::from(Box::new(e) as crate::BoxError),
            })
    }
}

/// `https://host:port` of an http(s) URL (userinfo, path and query dropped).
fn origin(url: &str) -> Option<String> {
    let u = Url::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.origin().ascii_serialization())
}

/// The claims of one proof (pure): `jti`, `htm`, `htu` (query and fragment removed), `iat`,
/// and `ath` / `nonce` when given. Fails when `url` is not an absolute http(s) URL or the
/// method is empty.
pub fn proof_claims(
    method: &str,
    url: &str,
    access_token: Option<&str>,
    nonce: Option<&str>,
    iat: u64,
    jti: &str,
) -> Result<Value, ExchangeError> {
    let mut htu = Url::parse(url).map_err(|e| ExchangeError::InvalidUrl {
        url: endpoint::shown_url(url),
        reason: format!("{e} (a DPoP proof needs the absolute URL of the request)"),
    })?;
    if !matches!(htu.scheme(), "http" | "https") {
        return Err(ExchangeError::InvalidUrl {
            url: endpoint::shown_url(url),
            reason: "a DPoP proof is for an http(s) request".into(),
        });
    }
    htu.set_query(None);
    htu.set_fragment(None);
    // No credentials in a proof that the server (and its logs) keep. Clearing them cannot
    // fail on an http(s) URL with a host, which is all that gets here.
    let _ = htu.set_username("");
    let _ = htu.set_password(None);
    let method = method.trim();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ExchangeError::InvalidUrl {
            url: endpoint::shown_url(url),
            reason: format!("'{method}' is not an HTTP method (use GET, POST, ...)"),
        });
    }
    let mut claims = Map::new();
    claims.insert("jti".into(), jti.into());
    claims.insert("htm".into(), method.to_ascii_uppercase().into());
    claims.insert("htu".into(), htu.as_str().into());
    claims.insert("iat".into(), iat.into());
    if let Some(token) = access_token {
        claims.insert(
            "ath".into(),
            jwtgrant_signer::sha256_base64url(token.as_bytes()).into(),
        );
    }
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    Ok(Value::Object(claims))
}

impl fmt::Debug for Dpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dpop")
            .field("algorithm", &self.signer.algorithm())
            .field("thumbprint", &self.thumbprint)
            .field("nonces", &self.nonces.lock().map_or(0, |n| n.len()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_kept_per_origin() {
        let signer = jwtgrant_signer::Signer::from_pem(KEY.as_bytes()).expect("key");
        let dpop = Dpop::new(signer.clone());
        let nonce_in = |url: &str| {
            let p = dpop.proof("POST", url).expect("proof");
            jwtgrant_signer::verify(p.secret(), &signer.public_key())
                .expect("verifies")
                .claims()
                .get("nonce")
                .cloned()
        };
        dpop.set_nonce_for("https://kc.example/realms/r/token", "kc-nonce");
        // The same origin, any path: the server's nonce.
        assert_eq!(
            nonce_in("https://kc.example/other"),
            Some("kc-nonce".into())
        );
        // Another port, scheme or host is another server: no nonce of the first.
        for other in [
            "https://kc.example:8443/t",
            "http://kc.example/t",
            "https://rs.example/api",
        ] {
            assert_eq!(nonce_in(other), None, "{other}");
        }
        dpop.set_nonce_for("https://rs.example/api", "rs-nonce");
        assert_eq!(nonce_in("https://rs.example/x"), Some("rs-nonce".into()));
        assert_eq!(nonce_in("https://kc.example/t"), Some("kc-nonce".into()));
        // Not http(s): nothing kept, nothing found.
        dpop.set_nonce_for("mailto:a@b", "x");
        assert_eq!(dpop.nonce_for("mailto:a@b"), None);
        // Bounded: many origins never grow it past the limit, and the newest is kept.
        for i in 0..(MAX_NONCE_ORIGINS + 10) {
            dpop.set_nonce_for(&format!("https://h{i}.example/"), format!("n{i}"));
        }
        let last = MAX_NONCE_ORIGINS + 9;
        assert_eq!(
            dpop.nonce_for(&format!("https://h{last}.example/t")),
            Some(format!("n{last}"))
        );
        assert_eq!(dpop.nonces.lock().expect("lock").len(), MAX_NONCE_ORIGINS);
    }

    const KEY: &str = include_str!("../../jwtgrant-signer/tests/fixtures/es256-pkcs8.pem");

    #[test]
    fn claims_of_a_proof() {
        let check =
            |method: &str, url: &str, token: Option<&str>, nonce: Option<&str>, want: Value| {
                let got = proof_claims(method, url, token, nonce, 1_800_000_000, "j-1").unwrap();
                assert_eq!(got, want, "{method} {url}");
            };
        check(
            "post",
            "https://kc.example/realms/a/token?x=1#frag",
            None,
            None,
            json!({"jti": "j-1", "htm": "POST", "htu": "https://kc.example/realms/a/token", "iat": 1_800_000_000u64}),
        );
        // ath is base64url(SHA-256(token)): RFC 9449 section 4.2's example token and hash.
        check(
            "GET",
            "https://resource.example.org/protectedresource",
            Some("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            Some("n-1"),
            json!({"jti": "j-1", "htm": "GET", "htu": "https://resource.example.org/protectedresource",
                   "iat": 1_800_000_000u64, "ath": "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo", "nonce": "n-1"}),
        );
        let err = |method: &str, url: &str| {
            proof_claims(method, url, None, None, 0, "j")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("GET", "/userinfo"),
            "invalid URL '/userinfo': relative URL without a base (a DPoP proof needs the absolute URL of the request)"
        );
        assert_eq!(
            err("", "https://a/b"),
            "invalid URL 'https://a/b': '' is not an HTTP method (use GET, POST, ...)"
        );
        assert_eq!(
            err("GET", "ftp://a/b"),
            "invalid URL 'ftp://a/b': a DPoP proof is for an http(s) request"
        );
        // Credentials in the URL: never in the proof (the server keeps it), never in errors.
        check(
            "GET",
            "https://u:hunter2@rs.example/x?q=1",
            None,
            None,
            json!({"jti": "j-1", "htm": "GET", "htu": "https://rs.example/x", "iat": 1_800_000_000u64}),
        );
        assert_eq!(
            err("GET", "https://u:hunter2@[bad/x"),
            "invalid URL 'https://[redacted]@[bad/x': invalid IPv6 address (a DPoP proof needs the absolute URL of the request)"
        );
        assert_eq!(
            err("", "https://u:hunter2@rs.example/x"),
            "invalid URL 'https://[redacted]@rs.example/x': '' is not an HTTP method (use GET, POST, ...)"
        );
    }

    #[test]
    fn proofs_are_fresh_signed_and_carry_the_public_key() {
        let signer = jwtgrant_signer::Signer::from_pem(KEY.as_bytes()).unwrap();
        let dpop = Dpop::new(signer.clone());
        assert_eq!(dpop.thumbprint(), signer.thumbprint());
        let a = dpop.proof("POST", "https://kc/t").unwrap();
        let b = dpop.proof("POST", "https://kc/t").unwrap();
        let a = jwtgrant_signer::verify(a.secret(), &signer.public_key()).unwrap();
        let b = jwtgrant_signer::verify(b.secret(), &signer.public_key()).unwrap();
        assert_ne!(a.claims()["jti"], b.claims()["jti"]);
        assert_eq!(a.header()["typ"], "dpop+jwt");
        assert_eq!(a.header()["alg"], "ES256");
        let jwk = jwtgrant_signer::PublicKey::from_jwk(&a.header()["jwk"]).unwrap();
        assert_eq!(jwk.thumbprint(), signer.thumbprint());
        assert!(a.header()["jwk"].get("d").is_none());
        assert!(a.claims().get("nonce").is_none());

        let shared = dpop.clone();
        shared.set_nonce_for("https://rs/other?q", "server-nonce");
        let c = dpop.resource_proof("GET", "https://rs/x", "tok").unwrap();
        let c = jwtgrant_signer::verify(c.secret(), &signer.public_key()).unwrap();
        assert_eq!(c.claims()["nonce"], "server-nonce");
        assert_eq!(c.claims()["ath"], jwtgrant_signer::sha256_base64url(b"tok"));
        let debug = format!("{dpop:?}");
        assert!(!debug.contains("server-nonce"), "{debug}");
        assert!(debug.contains(dpop.thumbprint()), "{debug}");
    }
}
