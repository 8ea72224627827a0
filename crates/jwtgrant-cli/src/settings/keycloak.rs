//! `keycloak setup` and `keycloak doctor`: the admin login, what setup provisions, what the
//! doctor diagnoses and the token client of its real exchange.

use std::path::PathBuf;

use anyhow::Result;
use jwtgrant_exchange::{ClientAuth as LibAuth, Transport};
use jwtgrant_keycloak::admin::{AdminLogin, ClientAuthenticator, DEFAULT_ADMIN_TIMEOUT, IdpKey};

use super::assertion::Assertions;
use super::client::{self, Endpoint, Route};
use super::secrets::{self, Given, Secret};
use crate::cli::{AdminArgs, ClientAuth, DoctorArgs, KeycloakArgs, SetupArgs, SetupClientAuth};
use crate::error::usage;
use crate::globals::Globals;
use crate::{files, keyfile};

/// The admin API login: who, and through which transport.
#[derive(Debug)]
pub struct Admin {
    /// Keycloak's base URL.
    pub base: String,
    /// Who logs in, for the log line: "admin user 'NAME'" or "service account of client
    /// 'ID'".
    pub user: String,
    pub login: AdminLogin,
    /// The command's transport policy (CA file, plain-http rule, proxy rule), with at least
    /// [`DEFAULT_ADMIN_TIMEOUT`] per request.
    pub transport: Transport,
}

impl Admin {
    /// The admin login the options name: a service account (`--admin-client-id`) or an
    /// admin user, in `--admin-realm`.
    fn new(base: &str, args: &AdminArgs, transport: &Transport, g: &Globals) -> Result<Self> {
        let timeout = transport.timeout_limit().max(DEFAULT_ADMIN_TIMEOUT);
        let realm = args.admin_realm.clone();
        let (user, login) = match &args.admin_client_id {
            Some(id) => {
                let auth = match (&args.admin_client_secret_file, &args.admin_client_key) {
                    (Some(path), _) => LibAuth::SecretPost {
                        client_id: id.clone(),
                        secret: files::read_secret_file(
                            path,
                            "admin client secret",
                            g.allow_insecure_key_permissions,
                        )?
                        .into(),
                    },
                    (None, Some(key)) => LibAuth::PrivateKeyJwt {
                        client_id: id.clone(),
                        signer: crate::keyfile::signer(key, g, None, None, false)?,
                    },
                    (None, None) => {
                        return Err(usage(
                            "--admin-client-id needs --admin-client-secret-file FILE or --admin-client-key FILE",
                        ));
                    }
                };
                let login = AdminLogin::ServiceAccount { realm, auth };
                (format!("service account of client '{id}'"), login)
            }
            None => {
                let password = secrets::admin_password(args, g)?;
                let user = format!("admin user '{}'", args.admin_user);
                (
                    user,
                    AdminLogin::password_in(realm, args.admin_user.clone(), password),
                )
            }
        };
        Ok(Self {
            base: base.to_owned(),
            user,
            login,
            transport: transport.clone().timeout(timeout),
        })
    }
}

/// What `keycloak setup` runs with.
#[derive(Debug)]
pub struct SetupSettings {
    pub admin: Admin,
    pub realm: String,
    /// How the provisioned client authenticates; `None` (no `--client-auth`): a secret
    /// on create, as it is on update.
    pub authenticator: Option<ClientAuthenticator>,
    /// The key Keycloak verifies assertions with.
    pub key: IdpKey,
    /// Where the client secret goes (`--secret-out`, else `CLIENT_ID.secret`).
    pub secret_out: PathBuf,
    pub client_id: String,
    pub idp_alias: String,
    pub issuer: String,
    /// `--link SUB=USERNAME`.
    pub links: Vec<(String, String)>,
    pub client_cert_dn: Option<String>,
    pub ca_dn: Option<String>,
    /// `--bound-tokens` / `--no-bound-tokens`; `None`: as it is.
    pub bound_tokens: Option<bool>,
    /// `--require-dpop` / `--no-require-dpop`; `None`: as it is.
    pub require_dpop: Option<bool>,
    pub dry_run: bool,
    pub force: bool,
    pub json: bool,
    pub json_include_secret: bool,
}

/// What `keycloak doctor` runs with.
#[derive(Debug)]
pub struct DoctorSettings {
    pub admin: Admin,
    pub realm: String,
    pub client_id: String,
    pub assertion: Assertion,
    /// `--spend-assertion`: the real exchange may spend a given assertion.
    pub spend_assertion: bool,
    /// `--json`: the report as one JSON object.
    pub json: bool,
    /// The token endpoint, for the JWKS fetch, the prediction and the real exchange.
    pub route: Route,
    /// The real exchange's client authentication; `None` with `--no-exchange`.
    pub exchange: Option<Credentials>,
}

/// The assertion to diagnose.
#[derive(Debug)]
pub enum Assertion {
    /// `--assertion`.
    Given(Secret),
    /// Signed from `--key`, `--iss`, `--sub` when the doctor runs.
    Sign(Box<Assertions>),
}

impl Assertion {
    /// The JWT: as given, or freshly signed.
    pub fn jwt(&self) -> Result<String> {
        match self {
            Self::Given(a) => Ok(a.secret().to_owned()),
            Self::Sign(a) => a.make(),
        }
    }
}

/// How the doctor's real exchange authenticates the client.
#[derive(Debug)]
pub struct Credentials {
    pub auth: Authentication,
    /// `--scope`.
    pub scope: Option<String>,
}

/// The client authentication, or what it waits for.
#[derive(Debug)]
pub enum Authentication {
    Ready(LibAuth),
    /// `post` or `basic` without a secret given: the doctor reads it through the admin API.
    SecretFromAdmin {
        client_id: String,
        basic: bool,
    },
}

impl Authentication {
    /// The client secret the exchange will send, when it was given (not read from Keycloak).
    pub fn sent_secret(&self) -> Option<&str> {
        match self {
            Self::Ready(
                LibAuth::SecretPost { secret, .. } | LibAuth::SecretBasic { secret, .. },
            ) => Some(secret.secret()),
            _ => None,
        }
    }

    /// The client authentication, with `secret` for [`Self::SecretFromAdmin`].
    pub fn with_secret(self, secret: impl FnOnce() -> Result<Option<Secret>>) -> Result<LibAuth> {
        match self {
            Self::Ready(auth) => Ok(auth),
            Self::SecretFromAdmin { client_id, basic } => {
                Ok(client::with_secret(basic, client_id, secret()?))
            }
        }
    }
}

fn base_and_realm(kc: &KeycloakArgs) -> Result<(String, String)> {
    match (&kc.keycloak, &kc.realm) {
        (Some(b), Some(r)) => Ok((b.clone(), r.clone())),
        _ => Err(usage(
            "missing --keycloak URL and --realm REALM (or JWTGRANT_KEYCLOAK and JWTGRANT_REALM)",
        )),
    }
}

pub fn setup(args: &SetupArgs, g: &Globals) -> Result<SetupSettings> {
    let (base, realm) = base_and_realm(&args.keycloak)?;
    let authenticator = setup_authenticator(args)?;
    // Everything local first: the key file and the admin password.
    let key = match (&args.public_key, &args.jwks_url) {
        (Some(path), _) => IdpKey::Static {
            public_key: keyfile::public_key(path, g)?.to_pem(),
            key_id: None,
        },
        (None, Some(url)) => IdpKey::JwksUrl(url.clone()),
        (None, None) => return Err(usage("pass --public-key FILE or --jwks-url URL")),
    };
    let secret_out = args
        .secret_out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.secret", args.client_id)));
    let transport = client::transport(&args.transport)?;
    Ok(SetupSettings {
        admin: Admin::new(&base, &args.admin, &transport, g)?,
        realm,
        authenticator,
        key,
        secret_out,
        client_id: args.client_id.clone(),
        idp_alias: args.idp_alias.clone(),
        issuer: args.issuer.clone(),
        links: args.links.clone(),
        client_cert_dn: args.client_cert_dn.clone(),
        ca_dn: args.ca_dn.clone(),
        bound_tokens: switch(args.bound_tokens, args.no_bound_tokens),
        require_dpop: switch(args.require_dpop, args.no_require_dpop),
        dry_run: args.dry_run,
        force: args.force,
        json: args.json,
        json_include_secret: args.json_include_secret,
    })
}

/// `--X` on, `--no-X` off, neither: leave it (clap refuses both).
fn switch(on: bool, off: bool) -> Option<bool> {
    (on || off).then_some(on)
}

/// The client's authenticator from the options (`None` without `--client-auth`);
/// combinations that make no sense are usage errors naming the fix.
fn setup_authenticator(args: &SetupArgs) -> Result<Option<ClientAuthenticator>> {
    let tls = args.client_auth == Some(SetupClientAuth::Tls);
    if args.client_auth == Some(SetupClientAuth::Federated) {
        if args.secret_out.is_some() {
            return Err(usage(
                "--secret-out has nothing to write: a federated client (--client-auth federated) has no secret; drop --secret-out",
            ));
        }
        if args.assertion_idp_alias == args.idp_alias {
            return Err(usage(format!(
                "--assertion-idp-alias must differ from --idp-alias ('{}'): a JWT Authorization Grant provider cannot verify client assertions, so the client assertions need a provider of their own",
                args.idp_alias
            )));
        }
    }
    match (&args.client_cert_dn, &args.ca_dn) {
        (Some(_), _) if !tls => Err(usage(
            "--client-cert-dn is for a certificate client: add --client-auth tls, or drop --client-cert-dn for a secret client",
        )),
        (None, Some(_)) if !tls => Err(usage(
            "--ca-dn is for a certificate client: add --client-auth tls and --client-cert-dn DN, or drop --ca-dn",
        )),
        (None, _) if tls => Err(usage(
            "--client-auth tls needs --client-cert-dn DN: the client certificate's subject, RFC 2253 with the most specific part first (e.g. 'CN=billing,O=Acme')",
        )),
        _ if tls && args.secret_out.is_some() => Err(usage(
            "--secret-out has nothing to write: a certificate client (--client-auth tls) has no secret; drop --secret-out",
        )),
        (Some(dn), ca) => Ok(Some(ClientAuthenticator::X509 {
            subject_dn: dn.trim().to_owned(),
            ca_subject_dn: ca.as_ref().map(|c| c.trim().to_owned()),
        })),
        (None, _) if args.client_auth == Some(SetupClientAuth::Federated) => {
            Ok(Some(ClientAuthenticator::Federated {
                idp_alias: args.assertion_idp_alias.clone(),
                subject: args.client_id.clone(),
            }))
        }
        (None, _) if args.client_auth.is_some() => Ok(Some(ClientAuthenticator::Secret(None))),
        (None, _) => Ok(None),
    }
}

pub fn doctor(args: &DoctorArgs, g: &Globals) -> Result<DoctorSettings> {
    let (base, realm) = base_and_realm(&args.keycloak)?;
    let client_id = args
        .client
        .client_id
        .clone()
        .ok_or_else(|| usage("missing --client-id ID"))?;
    let from_stdin = args.assertion.as_deref() == Some("-");
    let assertion = match &args.assertion {
        Some(a) => Assertion::Given(Secret::new(super::assertion::given(a)?)),
        None => Assertion::Sign(Box::new(Assertions::resolve(
            &args.sign,
            &args.keycloak,
            Some(&args.endpoint),
            Some(&client_id),
            g,
        )?)),
    };
    // A missing secret is no error yet: the doctor reads it through the admin API.
    let given_secret = if args.no_exchange {
        Given::NotUsed
    } else {
        secrets::client_secret(&args.client, from_stdin, g)?
    };
    // One transport for the admin API, the JWKS fetch and the exchange: the CA file is read
    // once.
    let transport = client::transport(&args.endpoint.transport)?;
    let admin = Admin::new(&base, &args.admin, &transport, g)?;
    let route = Route {
        transport: client::client_transport(transport, &args.client, g)?,
        endpoint: Endpoint::resolve(&args.endpoint, &args.keycloak)?,
        call_timeout: args.endpoint.transport.timeout,
        // DPoP: the doctor predicts with it, and the real exchange sends a proof.
        dpop: client::dpop(&args.dpop, g)?,
    };
    let exchange = match given_secret {
        _ if args.no_exchange => None,
        Given::Missing => Some(Authentication::SecretFromAdmin {
            client_id: client_id.clone(),
            basic: args.client.client_auth == ClientAuth::Basic,
        }),
        given => Some(Authentication::Ready(client::auth(
            &args.client,
            given.required()?,
            &client::FederatedDefaults::new(
                &args.endpoint,
                &args.keycloak,
                match &assertion {
                    Assertion::Sign(a) => Some(a),
                    Assertion::Given(_) => None,
                },
            ),
            g,
        )?)),
    }
    .map(|auth| Credentials {
        auth,
        scope: args.client.scope.clone(),
    });
    Ok(DoctorSettings {
        admin,
        realm,
        client_id,
        assertion,
        spend_assertion: args.spend_assertion,
        json: args.json,
        route,
        exchange,
    })
}
