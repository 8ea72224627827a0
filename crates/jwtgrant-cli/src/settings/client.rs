//! The token client of `exchange`, `token` and `keycloak doctor`: where the token endpoint
//! is, how requests reach it, DPoP, and how the client authenticates. The flag spelling
//! (`--client-auth post`, ...) maps onto [`jwtgrant_exchange::ClientAuth`] here and nowhere
//! else.

use std::time::Duration;

use anyhow::{Context as _, Result};
use jwtgrant_exchange::{AssertionSource, ClientAuth as LibAuth, Dpop, Transport};

use super::assertion::Assertions;
use super::secrets::{self, Secret};
use crate::cli::{ClientArgs, ClientAuth, DpopArgs, EndpointArgs, KeycloakArgs, TransportArgs};
use crate::error::usage;
use crate::globals::Globals;
use crate::{files, keyfile};

/// Where the token endpoint is. Precedence: --token-endpoint, then --issuer-url (OpenID
/// discovery), then --keycloak and --realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The token endpoint's URL.
    Url(String),
    /// An issuer whose discovery document names the token endpoint.
    Discover(String),
    /// Keycloak's token endpoint of a realm.
    Keycloak { base: String, realm: String },
}

impl Endpoint {
    pub fn resolve(endpoint: &EndpointArgs, kc: &KeycloakArgs) -> Result<Self> {
        if let Some(url) = &endpoint.token_endpoint {
            Ok(Self::Url(url.clone()))
        } else if let Some(url) = &endpoint.issuer_url {
            Ok(Self::Discover(url.clone()))
        } else if let (Some(base), Some(realm)) = (&kc.keycloak, &kc.realm) {
            Ok(Self::Keycloak {
                base: base.clone(),
                realm: realm.clone(),
            })
        } else {
            Err(usage(
                "missing token endpoint: pass --token-endpoint URL, --issuer-url URL (discovery), or --keycloak URL and --realm REALM",
            ))
        }
    }
}

/// The token endpoint and how every request to it travels.
#[derive(Debug)]
pub struct Route {
    pub endpoint: Endpoint,
    /// The CA file, timeouts, the plain-http rule and the client certificate, if any.
    pub transport: Transport,
    /// `--timeout` bounds the whole call: every attempt and every wait between attempts.
    pub call_timeout: Duration,
    /// `--dpop-key`: a proof with every token request.
    pub dpop: Option<Dpop>,
}

/// A token client: the route, and who asks.
#[derive(Debug)]
pub struct Client {
    pub route: Route,
    /// The method, with its secret or key loaded.
    pub auth: LibAuth,
    /// `--scope`.
    pub scope: Option<String>,
}

/// The token client of `exchange` and `token`. `stdin_taken`: the assertion comes from
/// stdin; `grant`: the assertions `token` signs (their key and issuer are what
/// `--client-auth federated` signs with by default). Everything local is read here, before
/// any network traffic (discovery), so a missing secret or key file fails fast.
pub fn client(
    endpoint: &EndpointArgs,
    kc: &KeycloakArgs,
    client: &ClientArgs,
    dpop_args: &DpopArgs,
    stdin_taken: bool,
    grant: Option<&Assertions>,
    g: &Globals,
) -> Result<Client> {
    let secret = secrets::client_secret(client, stdin_taken, g)?.required()?;
    let defaults = FederatedDefaults::new(endpoint, kc, grant);
    let auth = auth(client, secret, &defaults, g)?;
    let transport = client_transport(transport(&endpoint.transport)?, client, g)?;
    let route = Route {
        endpoint: Endpoint::resolve(endpoint, kc)?,
        transport,
        call_timeout: endpoint.transport.timeout,
        dpop: dpop(dpop_args, g)?,
    };
    Ok(Client {
        route,
        auth,
        scope: client.scope.clone(),
    })
}

/// `--client-id`.
pub fn client_id(client: &ClientArgs) -> Result<String> {
    client
        .client_id
        .clone()
        .ok_or_else(|| usage("missing --client-id ID (the confidential Keycloak client)"))
}

/// What `--client-auth federated` falls back on when its own options are not given.
#[derive(Debug, Default)]
pub struct FederatedDefaults<'a> {
    /// The grant's assertions (`--key`, `--iss`), for the commands that sign one.
    pub grant: Option<&'a Assertions>,
    /// The audience and the options it came from: the realm URL of --keycloak/--realm,
    /// else --issuer-url.
    pub audience: Option<(String, &'static str)>,
}

impl<'a> FederatedDefaults<'a> {
    /// The defaults these options give.
    pub fn new(endpoint: &EndpointArgs, kc: &KeycloakArgs, grant: Option<&'a Assertions>) -> Self {
        // The realm URL first: Keycloak's federated validator expects exactly it.
        let audience = match (&kc.keycloak, &kc.realm, &endpoint.issuer_url) {
            (Some(base), Some(realm), _) => Some((
                jwtgrant_keycloak::realm_url(base, realm),
                "--keycloak and --realm",
            )),
            (_, _, Some(issuer)) => Some((issuer.trim_end_matches('/').to_owned(), "--issuer-url")),
            _ => None,
        };
        Self { grant, audience }
    }
}

/// The library's client authentication for these options, with the secret or key loaded.
pub fn auth(
    client: &ClientArgs,
    secret: Option<Secret>,
    defaults: &FederatedDefaults<'_>,
    g: &Globals,
) -> Result<LibAuth> {
    let client_id = client_id(client)?;
    let auth = match (client.client_auth, secret) {
        (ClientAuth::Post | ClientAuth::Basic, secret) => {
            with_secret(client.client_auth == ClientAuth::Basic, client_id, secret)
        }
        (ClientAuth::Tls, _) if client.client_cert.is_none() => {
            return Err(usage(
                "--client-auth tls needs --client-cert FILE and --client-key FILE (the certificate Keycloak matches by subject DN, and its key)",
            ));
        }
        (ClientAuth::Tls, _) => LibAuth::TlsClientAuth { client_id },
        (ClientAuth::PrivateKeyJwt, _) => {
            let key = client.client_key.as_ref().ok_or_else(|| {
                usage("--client-auth private-key-jwt needs --client-key FILE (the client's private key)")
            })?;
            let signer = keyfile::signer(key, g, None, None, false)?;
            LibAuth::PrivateKeyJwt { client_id, signer }
        }
        (ClientAuth::Federated, _) => {
            let source = assertion_source(client, &client_id, defaults, g)?;
            LibAuth::ClientAssertion { client_id, source }
        }
        (ClientAuth::None, _) => LibAuth::None { client_id },
    };
    Ok(auth)
}

/// Where `--client-auth federated` gets its client assertion: the file, or signed with
/// --client-assertion-key (else --key) as --client-assertion-issuer (else --iss), `sub` the
/// client id, `aud` --client-assertion-audience (else the realm URL, else --issuer-url).
fn assertion_source(
    client: &ClientArgs,
    client_id: &str,
    defaults: &FederatedDefaults<'_>,
    g: &Globals,
) -> Result<AssertionSource> {
    if let Some(path) = &client.client_assertion_file {
        log::info!(
            "client assertion from --client-assertion-file '{}', read for every attempt",
            path.display()
        );
        return Ok(AssertionSource::file(path));
    }
    let signer = match (&client.client_assertion_key, defaults.grant) {
        (Some(key), _) => keyfile::signer(key, g, None, None, false)
            .with_context(|| format!("cannot use client assertion key '{}'", key.display()))?,
        (None, Some(grant)) => grant.signer().clone(),
        (None, None) => {
            return Err(usage(
                "--client-auth federated needs --client-assertion-key FILE (the key of the issuer that vouches for the client) or --client-assertion-file FILE",
            ));
        }
    };
    let issuer = match (&client.client_assertion_issuer, defaults.grant) {
        (Some(issuer), _) => issuer.clone(),
        (None, Some(grant)) => grant.issuer().to_owned(),
        (None, None) => {
            return Err(usage(
                "--client-auth federated needs --client-assertion-issuer URL (the issuer of the identity provider that vouches for the client)",
            ));
        }
    };
    let (audience, from) = match (&client.client_assertion_audience, &defaults.audience) {
        (Some(aud), _) => (aud.clone(), "--client-assertion-audience"),
        (None, Some((aud, from))) => (aud.clone(), *from),
        (None, None) => {
            return Err(usage(
                "--client-auth federated needs the client assertion's audience: pass --keycloak URL and --realm REALM (audience <URL>/realms/<REALM>), --issuer-url URL, or --client-assertion-audience AUD",
            ));
        }
    };
    log::info!(
        "client assertion signed for every attempt: iss {issuer}, sub {client_id}, aud {audience} from {from}"
    );
    Ok(AssertionSource::signed(signer, issuer, client_id, audience))
}

/// `client_secret_basic` or `client_secret_post` with `secret`; only the client id
/// without one.
pub fn with_secret(basic: bool, client_id: String, secret: Option<Secret>) -> LibAuth {
    match secret {
        Some(secret) if basic => LibAuth::SecretBasic { client_id, secret },
        Some(secret) => LibAuth::SecretPost { client_id, secret },
        None => LibAuth::None { client_id },
    }
}

/// The one transport every request of a command goes through, from the options.
pub fn transport(args: &TransportArgs) -> Result<Transport> {
    let mut transport = Transport::new()
        .timeout(args.timeout)
        .connect_timeout(args.timeout)
        .allow_insecure_http(args.allow_insecure_http);
    if let Some(path) = &args.ca_file {
        let pem = files::read(path, "CA file")?;
        transport = transport
            .ca_bundle_pem(&pem)
            .with_context(|| format!("cannot use CA file '{}'", path.display()))?
            .webpki_roots(!args.ca_file_only);
    }
    Ok(transport)
}

/// `transport` presenting the client certificate of `client`, when it names one.
pub fn client_transport(
    transport: Transport,
    client: &ClientArgs,
    g: &Globals,
) -> Result<Transport> {
    let (Some(cert), Some(key)) = (&client.client_cert, &client.client_key) else {
        return Ok(transport);
    };
    let chain = files::read(cert, "client certificate")?;
    let key_file = files::PrivateFile::open(key, "client key")?;
    key_file.check(key, "client key", g.allow_insecure_key_permissions)?;
    transport
        .client_certificate_pem(&chain, key_file.bytes())
        .with_context(|| {
            format!(
                "cannot use client certificate '{}' with key '{}'",
                cert.display(),
                key.display()
            )
        })
}

/// The DPoP key of `--dpop-key`, if given (permissions checked like every private key).
pub fn dpop(args: &DpopArgs, g: &Globals) -> Result<Option<Dpop>> {
    let Some(path) = &args.dpop_key else {
        return Ok(None);
    };
    let signer = keyfile::signer(path, g, args.dpop_alg.as_ref(), None, false)
        .with_context(|| format!("cannot use DPoP key '{}'", path.display()))?;
    log::info!(
        "DPoP with {} key {} (thumbprint {})",
        signer.algorithm(),
        path.display(),
        signer.thumbprint()
    );
    Ok(Some(Dpop::new(signer)))
}
