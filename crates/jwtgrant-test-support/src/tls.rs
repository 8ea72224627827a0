//! HTTPS for the stub (feature `tls`): a throwaway CA generated per stub, a server
//! certificate for `localhost` and `127.0.0.1` signed by it, and optionally a required client
//! certificate (mTLS). rustls with the ring provider, as ureq uses. [`Ca`] is that CA on its
//! own, for a test whose TLS server is not a stub.
//!
//! ```
//! use jwtgrant_test_support::{Reply, Stub};
//!
//! let stub = Stub::builder().mtls().start(|req, _| {
//!     // The DER of the certificate the client presented.
//!     assert!(req.client_cert.is_some());
//!     Reply::json(200, r#"{"access_token":"t"}"#)
//! });
//! assert!(stub.base().starts_with("https://127.0.0.1:"));
//! // A client trusts `stub.ca_pem()` as its CA bundle and presents
//! // `stub.client_cert_pem()` with `stub.client_key_pem()`.
//! assert!(stub.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! ```

use std::io::Write as _;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

use crate::{Conn, Stub, StubBuilder};

/// Whether the stub asks for a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Server authentication only.
    Tls,
    /// A client certificate signed by the stub's CA is required.
    Mtls,
}

/// A certificate and its private key, PEM and DER.
#[derive(Clone)]
pub struct Identity {
    cert_pem: String,
    cert_der: Vec<u8>,
    key_pem: String,
    key_der: Vec<u8>,
}

impl Identity {
    /// The certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The certificate, DER (what [`crate::Request::client_cert`] holds when it is used).
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("cert_pem", &self.cert_pem)
            .field("key", &"[throwaway]")
            .finish()
    }
}

/// A client certificate and key from a CA of its own, which no stub trusts: for checking
/// that an mTLS stub refuses a certificate it did not issue.
pub fn foreign_client_identity() -> Identity {
    let ca = Ca::generate("foreign CA");
    ca.client_identity()
}

/// One stub's TLS material.
#[derive(Debug)]
pub(crate) struct Material {
    mode: Mode,
    ca_pem: String,
    ca_der: Vec<u8>,
    server: Identity,
    client: Identity,
}

impl Material {
    pub(crate) fn generate(mode: Mode) -> Material {
        let ca = Ca::generate("stub CA");
        Material {
            mode,
            ca_pem: ca.pem.clone(),
            ca_der: ca.der.clone(),
            server: ca.server_identity(),
            client: ca.client_identity(),
        }
    }

    pub(crate) fn server_config(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions");
        let builder = match self.mode {
            Mode::Tls => builder.with_no_client_auth(),
            Mode::Mtls => {
                let mut roots = RootCertStore::empty();
                roots
                    .add(CertificateDer::from(self.ca_der.clone()))
                    .expect("the stub's CA is a valid trust anchor");
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .expect("a client verifier over the stub's CA");
                builder.with_client_cert_verifier(verifier)
            }
        };
        let chain = vec![
            CertificateDer::from(self.server.cert_der.clone()),
            CertificateDer::from(self.ca_der.clone()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server.key_der.clone()));
        Arc::new(
            builder
                .with_single_cert(chain, key)
                .expect("the generated server certificate and key match"),
        )
    }
}

/// A throwaway CA, the one each TLS stub makes for itself: for a test that runs a TLS server
/// of its own (such as `jwtgrant jwks serve --tls-cert`) and needs a certificate for it and
/// a CA bundle for its client.
///
/// ```
/// let ca = jwtgrant_test_support::tls::Ca::generate("my test CA");
/// let server = ca.server_identity();
/// assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// assert!(server.key_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
/// ```
pub struct Ca {
    pem: String,
    der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("pem", &self.pem)
            .field("key", &"[throwaway]")
            .finish()
    }
}

impl Ca {
    /// A CA whose name (`what`, made unique in this run) keeps a client that trusts another
    /// CA from seeing a bad signature from a namesake: it reports an unknown issuer.
    pub fn generate(what: &str) -> Ca {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "jwtgrant-test-support {what} {}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        let key = KeyPair::generate().expect("generate a CA key");
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("self-sign the CA");
        Ca {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    fn issue(&self, params: CertificateParams) -> Identity {
        let key = KeyPair::generate().expect("generate a leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign a leaf certificate");
        Identity {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        }
    }

    /// The CA certificate, PEM: the CA bundle a client should trust.
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for `localhost` and `127.0.0.1` (subject CN `localhost`, server
    /// authentication only), issued by this CA, with its key.
    pub fn server_identity(&self) -> Identity {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned()]).expect("a DNS name SAN");
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate (subject CN `jwtgrant-test-support client`, client
    /// authentication only), issued by this CA, with its key.
    pub fn client_identity(&self) -> Identity {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "jwtgrant-test-support client");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }
}

impl StubBuilder {
    /// Serve HTTPS: the stub generates a CA and a certificate for `localhost` and
    /// `127.0.0.1` signed by it; clients trust [`Stub::ca_pem`]. The base URL is
    /// `https://127.0.0.1:PORT`.
    pub fn tls(mut self) -> Self {
        self.tls = Some(Mode::Tls);
        self
    }

    /// Serve HTTPS and require a client certificate signed by the stub's CA, such as
    /// [`Stub::client_cert_pem`]; each [`crate::Request::client_cert`] holds the one seen.
    pub fn mtls(mut self) -> Self {
        self.tls = Some(Mode::Mtls);
        self
    }
}

impl Stub {
    fn material(&self) -> &Material {
        self.tls
            .as_ref()
            .expect("a TLS stub: start it with Stub::builder().tls() or .mtls()")
    }

    /// The stub's throwaway CA certificate, PEM: the CA bundle a client should trust.
    ///
    /// # Panics
    /// If the stub serves plain HTTP.
    pub fn ca_pem(&self) -> &str {
        &self.material().ca_pem
    }

    /// A client certificate (PEM) issued by the stub's CA, which an mTLS stub accepts.
    ///
    /// # Panics
    /// If the stub serves plain HTTP.
    pub fn client_cert_pem(&self) -> &str {
        &self.material().client.cert_pem
    }

    /// The private key (PKCS#8 PEM) of [`Stub::client_cert_pem`].
    ///
    /// # Panics
    /// If the stub serves plain HTTP.
    pub fn client_key_pem(&self) -> &str {
        &self.material().client.key_pem
    }

    /// The DER of [`Stub::client_cert_pem`], to compare with [`crate::Request::client_cert`].
    ///
    /// # Panics
    /// If the stub serves plain HTTP.
    pub fn client_cert_der(&self) -> &[u8] {
        &self.material().client.cert_der
    }
}

/// Wraps an accepted connection in a server-side TLS session (the handshake happens on the
/// first read).
pub(crate) fn accept(
    config: &Arc<ServerConfig>,
    tcp: TcpStream,
) -> Option<StreamOwned<ServerConnection, TcpStream>> {
    let conn = ServerConnection::new(Arc::clone(config)).ok()?;
    Some(StreamOwned::new(conn, tcp))
}

impl Conn for StreamOwned<ServerConnection, TcpStream> {
    fn client_cert(&self) -> Option<Vec<u8>> {
        self.conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|c| c.to_vec())
    }

    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
        let _ = self.sock.shutdown(Shutdown::Write);
        crate::linger(&self.sock);
    }
}
