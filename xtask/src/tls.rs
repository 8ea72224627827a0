//! Test TLS material for the local Keycloak: a CA, a server certificate for `localhost` and
//! `127.0.0.1`, a client certificate that CA signed, and a client certificate from another
//! CA (to show what Keycloak does with a stranger). Made in Rust with `rcgen`: no openssl,
//! no keytool; Keycloak reads the PEM files directly (`--truststore-paths`).
//!
//! Generated once into `target/keycloak/tls/` and reused, so a running server and the tests
//! agree on the CA; [`ca_fingerprint`] lets `keycloak start` refuse to reuse a server that
//! was started with another CA.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// Where the files are. All PEM; keys are mode 0600.
#[derive(Debug, Clone)]
pub struct Material {
    pub dir: PathBuf,
}

impl Material {
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    pub fn client_cert(&self) -> PathBuf {
        self.dir.join("client.pem")
    }
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client.key")
    }
    pub fn stranger_cert(&self) -> PathBuf {
        self.dir.join("stranger.pem")
    }
    pub fn stranger_key(&self) -> PathBuf {
        self.dir.join("stranger.key")
    }

    fn all(&self) -> [PathBuf; 7] {
        [
            self.ca_cert(),
            self.server_cert(),
            self.server_key(),
            self.client_cert(),
            self.client_key(),
            self.stranger_cert(),
            self.stranger_key(),
        ]
    }
}

/// The material in `dir`, generated when any file is missing.
pub fn ensure(dir: &Path) -> Result<Material> {
    let m = Material {
        dir: dir.to_owned(),
    };
    if m.all().iter().all(|p| p.is_file()) {
        return Ok(m);
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    eprintln!(
        "tls: generating a test CA and certificates in {}",
        dir.display()
    );
    let (ca_pem, ca) = make_ca("jwtgrant test CA")?;
    write(&m.ca_cert(), &ca_pem, false)?;

    let server_key = KeyPair::generate()?;
    let mut server = leaf("localhost", &[ExtendedKeyUsagePurpose::ServerAuth])?;
    server.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress([127, 0, 0, 1].into()),
    ];
    let cert = server.signed_by(&server_key, &ca)?;
    // The chain Keycloak serves: its certificate, then the CA's.
    write(&m.server_cert(), &format!("{}{ca_pem}", cert.pem()), false)?;
    write(&m.server_key(), &server_key.serialize_pem(), true)?;

    let client_key = KeyPair::generate()?;
    let client = leaf(
        "jwtgrant-e2e-client",
        &[ExtendedKeyUsagePurpose::ClientAuth],
    )?;
    write(
        &m.client_cert(),
        &client.signed_by(&client_key, &ca)?.pem(),
        false,
    )?;
    write(&m.client_key(), &client_key.serialize_pem(), true)?;

    // Same subject, another CA: only the chain tells them apart.
    let (_, other_ca) = make_ca("someone else's CA")?;
    let stranger_key = KeyPair::generate()?;
    let stranger = leaf(
        "jwtgrant-e2e-client",
        &[ExtendedKeyUsagePurpose::ClientAuth],
    )?;
    write(
        &m.stranger_cert(),
        &stranger.signed_by(&stranger_key, &other_ca)?.pem(),
        false,
    )?;
    write(&m.stranger_key(), &stranger_key.serialize_pem(), true)?;
    Ok(m)
}

/// The SHA-256 of the CA certificate file, hex: what a server was started with.
pub fn ca_fingerprint(m: &Material) -> Result<String> {
    let pem =
        fs::read(m.ca_cert()).with_context(|| format!("cannot read {}", m.ca_cert().display()))?;
    Ok(jwtgrant_signer::sha256_base64url(&pem))
}

fn make_ca(cn: &str) -> Result<(String, Issuer<'static, KeyPair>)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let pem = params.self_signed(&key)?.pem();
    Ok((pem, Issuer::new(params, key)))
}

fn leaf(cn: &str, usages: &[ExtendedKeyUsagePurpose]) -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = dn(cn);
    params.extended_key_usages = usages.to_vec();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    Ok(params)
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "jwtgrant test");
    dn.push(DnType::CommonName, cn);
    dn
}

/// Writes a file; a private one through `keygen::write_private` (mode 0600 from creation, so
/// the key is never readable by others, not even for a moment).
fn write(path: &Path, text: &str, private: bool) -> Result<()> {
    if private {
        return crate::keygen::write_private(path, text.as_bytes());
    }
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
