//! `keycloak setup` and `keycloak doctor`: their options.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand, ValueEnum};

use super::{ClientArgs, DpopArgs, EndpointArgs, KeycloakArgs, SignArgs, TransportArgs};
use crate::parse;

/// How a client `keycloak setup` provisions authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SetupClientAuth {
    /// A client secret (Keycloak's client-secret; use it with --client-auth post or basic).
    #[value(alias = "post", alias = "basic")]
    Secret,
    /// The TLS client certificate (Keycloak's client-x509, tls_client_auth); no secret.
    Tls,
    /// No secret: a client assertion signed by the issuer's key (Keycloak's federated-jwt,
    /// vouched for by an OIDC provider --assertion-idp-alias with the same issuer and key).
    Federated,
}

#[derive(Debug, Subcommand)]
pub enum KeycloakCmd {
    /// Create or update the identity provider, the client and user links (idempotent).
    #[command(after_help = "\
Runs the seed article's steps 2-4 through the admin REST API: a JWT Authorization Grant
identity provider for --issuer, a confidential client with the grant enabled and the provider
allowed, and federated-identity links from each --link SUB=USERNAME (the user is created if
missing). A second run prints \"nothing to change\". The client secret goes to --secret-out
(mode 0600; a file holding something else is replaced only with --force), never to stdout
unless --json-include-secret.

On what exists, setup changes only what it is told: a flag left out leaves its setting as
it is. The allow-list of providers only grows; the client's flows, its token bindings and
its authenticator change only when a flag names them; an existing user's enabled state,
required actions and attributes are never touched. Every write is read back and checked.
--dry-run prints the plan (each object, field, old and new value; secrets redacted) and
writes nothing.

Flags that weaken security on an existing client: --no-bound-tokens and --no-require-dpop
(tokens become bearer tokens), and --client-auth secret on a certificate or federated client.

--client-auth federated provisions a client with no secret at all: an OpenID Connect provider
--assertion-idp-alias beside the grant's provider (same issuer and key, client assertions on)
vouches for it, and `jwtgrant token --client-auth federated` signs its client assertion
with the grant's key. No secret file is written.

Examples:
  export KEYCLOAK_ADMIN_PASSWORD=admin
  jwtgrant keycloak setup --keycloak http://localhost:8080 --realm acme \\
      --issuer http://localhost:3000 --public-key public.pem --client-id custom-client \\
      --link nodejsuser-1234=alice@example.com
  jwtgrant keycloak setup ... --jwks-url http://localhost:3000/jwks
  jwtgrant keycloak setup ... --client-auth federated      # no client secret")]
    Setup(Box<SetupArgs>),

    /// Replay Keycloak's checks locally against the realm's real configuration and name the failing one.
    #[command(after_help = "\
Reads the realm's configuration through the admin API, runs the token endpoint's checks in
Keycloak's order (one line each, with the fix), then tries the real exchange (unless
--no-exchange) and shows Keycloak's answer next to the local verdict. Exit code: 0 when all
checks pass (and the exchange succeeds), 3 when a check fails or Keycloak rejects the grant.

Examples:
  export KEYCLOAK_ADMIN_PASSWORD=admin JWTGRANT_CLIENT_SECRET=...
  jwtgrant keycloak doctor --keycloak http://localhost:8080 --realm acme --client-id custom-client \\
      --key private.pem --iss http://localhost:3000 --sub nodejsuser-1234
  jwtgrant sign ... | jwtgrant keycloak doctor --keycloak http://localhost:8080 --realm acme \\
      --client-id custom-client --assertion - --no-exchange")]
    Doctor(Box<DoctorArgs>),
}

/// Admin API credentials: an admin user (password from a file or KEYCLOAK_ADMIN_PASSWORD),
/// or a service account (--admin-client-id with a secret file or a key).
#[derive(Debug, Args, Clone)]
pub struct AdminArgs {
    /// The realm the admin (user or client) is in: master administers every realm, another
    /// realm's admin only that realm.
    #[arg(
        long,
        env = "JWTGRANT_ADMIN_REALM",
        value_name = "REALM",
        default_value = "master",
        help_heading = "Admin login"
    )]
    pub admin_realm: String,

    /// Log in as this client's service account (client credentials grant) instead of an
    /// admin user; it needs realm-management roles. Its secret: --admin-client-secret-file,
    /// or its key: --admin-client-key (private_key_jwt).
    #[arg(
        long,
        env = "JWTGRANT_ADMIN_CLIENT_ID",
        value_name = "ID",
        help_heading = "Admin login"
    )]
    pub admin_client_id: Option<String>,

    /// File holding the --admin-client-id client's secret (client_secret_post).
    #[arg(
        long,
        env = "JWTGRANT_ADMIN_CLIENT_SECRET_FILE",
        value_name = "FILE",
        requires = "admin_client_id",
        conflicts_with = "admin_client_key",
        help_heading = "Admin login"
    )]
    pub admin_client_secret_file: Option<PathBuf>,

    /// Private key PEM of the --admin-client-id client (private_key_jwt).
    #[arg(
        long,
        env = "JWTGRANT_ADMIN_CLIENT_KEY",
        value_name = "FILE",
        requires = "admin_client_id",
        help_heading = "Admin login"
    )]
    pub admin_client_key: Option<PathBuf>,

    /// Admin user name (in --admin-realm).
    #[arg(
        long,
        env = "JWTGRANT_ADMIN_USER",
        value_name = "USER",
        default_value = "admin",
        help_heading = "Admin login"
    )]
    pub admin_user: String,

    /// File holding the admin password. Alternative: env KEYCLOAK_ADMIN_PASSWORD.
    #[arg(
        long,
        env = "JWTGRANT_ADMIN_PASSWORD_FILE",
        value_name = "FILE",
        help_heading = "Admin login"
    )]
    pub admin_password_file: Option<PathBuf>,

    /// Not accepted: a password in argv is visible to every user through `ps`.
    #[arg(long, hide = true, num_args = 0..=1, value_name = "PASSWORD")]
    pub admin_password: Option<Option<String>>,
}

#[derive(Debug, Args)]
#[command(group = ArgGroup::new("provider_key").args(["public_key", "jwks_url"]).required(true).multiple(true))]
pub struct SetupArgs {
    #[command(flatten)]
    pub keycloak: KeycloakArgs,
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub transport: TransportArgs,

    /// Issuer URL the assertions carry in `iss` (the identity provider's issuer).
    #[arg(long, env = "JWTGRANT_ISSUER", value_name = "URL", value_parser = parse::http_url)]
    pub issuer: String,

    /// Public key PEM file Keycloak verifies assertions with (a private key file works too).
    #[arg(long, env = "JWTGRANT_PUBLIC_KEY", value_name = "FILE")]
    pub public_key: Option<PathBuf>,

    /// JWKS URL Keycloak fetches the issuer's keys from (sets useJwksUrl=true): https, or http to loopback.
    #[arg(long, env = "JWTGRANT_JWKS_URL", value_name = "URL", value_parser = parse::http_url)]
    pub jwks_url: Option<String>,

    /// Client id of the confidential client to create or update.
    #[arg(long, env = "JWTGRANT_CLIENT_ID", value_name = "ID")]
    pub client_id: String,

    /// Identity provider alias.
    #[arg(
        long,
        env = "JWTGRANT_IDP_ALIAS",
        value_name = "ALIAS",
        default_value = "jwt-authorization-grant"
    )]
    pub idp_alias: String,

    /// --client-auth federated: alias of the OpenID Connect identity provider that verifies
    /// the client's assertions (same issuer and key as --idp-alias, which a client assertion
    /// cannot use).
    #[arg(
        long,
        env = "JWTGRANT_ASSERTION_IDP_ALIAS",
        value_name = "ALIAS",
        default_value = "jwt-client-assertions"
    )]
    pub assertion_idp_alias: String,

    /// Link external subject SUB to Keycloak user USERNAME (repeatable; the user is created if missing).
    #[arg(long = "link", env = "JWTGRANT_LINK", value_name = "SUB=USERNAME", value_parser = parse::link)]
    pub links: Vec<(String, String)>,

    /// Where to write the client secret (mode 0600, a new file); default CLIENT_ID.secret.
    #[arg(long, env = "JWTGRANT_SECRET_OUT", value_name = "FILE")]
    pub secret_out: Option<PathBuf>,

    /// How the client authenticates at the token endpoint: with a secret Keycloak generates
    /// (written to --secret-out), with its TLS client certificate (matched by
    /// --client-cert-dn; no secret), or federated: with a client assertion the issuer's key
    /// signs (no secret; an existing secret client's secret is removed). A new client
    /// defaults to secret; an existing one keeps its authenticator unless this is given
    /// (secret on a certificate or federated client weakens it).
    #[arg(long, env = "JWTGRANT_SETUP_CLIENT_AUTH", value_enum)]
    pub client_auth: Option<SetupClientAuth>,

    /// Subject DN of the client certificate, for --client-auth tls: RFC 2253, most specific
    /// part first, no spaces after commas, e.g. 'CN=billing,O=Acme' (values are
    /// case-sensitive).
    #[arg(long, env = "JWTGRANT_CLIENT_CERT_DN", value_name = "DN")]
    pub client_cert_dn: Option<String>,

    /// Subject DN of the CA that issues the client certificate, for --client-auth tls: only
    /// a certificate from that CA authenticates the client (the CA must also be in
    /// Keycloak's truststore).
    #[arg(long, env = "JWTGRANT_CA_DN", value_name = "DN")]
    pub ca_dn: Option<String>,

    /// Bind access tokens to the client certificate of the token request (RFC 8705, claim
    /// cnf.x5t#S256): every token request must then present a client certificate, and the
    /// token works only over connections presenting it. Works with secret clients too.
    #[arg(
        long,
        env = "JWTGRANT_BOUND_TOKENS",
        conflicts_with = "no_bound_tokens"
    )]
    pub bound_tokens: bool,

    /// Turn certificate-bound tokens off on an existing client. Weakens security: its
    /// tokens become bearer tokens. Without it or --bound-tokens the setting is kept.
    #[arg(long)]
    pub no_bound_tokens: bool,

    /// Replace a --secret-out file that holds something other than this client's secret.
    #[arg(long)]
    pub force: bool,

    /// Print the changes as one JSON object on stdout (with the secret file's path, not the
    /// secret: CI logs keep stdout).
    #[arg(long, env = "JWTGRANT_JSON")]
    pub json: bool,

    /// With --json, also put the client secret itself into the object.
    #[arg(long, requires = "json")]
    pub json_include_secret: bool,

    /// Require DPoP-bound tokens on the client (attribute dpop.bound.access.tokens): every
    /// token request must carry a DPoP proof (--dpop-key), and tokens are bound to its key.
    #[arg(
        long,
        env = "JWTGRANT_REQUIRE_DPOP",
        conflicts_with = "no_require_dpop"
    )]
    pub require_dpop: bool,

    /// Turn the DPoP requirement off on an existing client. Weakens security: its tokens
    /// become bearer tokens. Without it or --require-dpop the setting is kept.
    #[arg(long)]
    pub no_require_dpop: bool,

    /// Print the plan (each object, field, old value and new value; secrets redacted) and
    /// write nothing: no Keycloak change, no secret file. With --json the plan is data.
    #[arg(long, env = "JWTGRANT_DRY_RUN")]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub keycloak: KeycloakArgs,
    #[command(flatten)]
    pub admin: AdminArgs,

    /// The assertion to diagnose, or - for stdin (instead of signing one with --key/--iss/--sub).
    #[arg(
        long,
        env = "JWTGRANT_ASSERTION",
        hide_env_values = true,
        value_name = "JWT|-"
    )]
    pub assertion: Option<String>,

    #[command(flatten)]
    pub sign: SignArgs,

    #[command(flatten)]
    pub client: ClientArgs,

    #[command(flatten)]
    pub endpoint: EndpointArgs,

    #[command(flatten)]
    pub dpop: DpopArgs,

    /// Only run the local checks; do not call the token endpoint.
    #[arg(long, env = "JWTGRANT_NO_EXCHANGE")]
    pub no_exchange: bool,

    /// Print the report as one JSON object on stdout: every check, the verdict, Keycloak's
    /// answer and the agreement (the exit code is the same as without it).
    #[arg(long, env = "JWTGRANT_JSON")]
    pub json: bool,

    /// Send the --assertion given to the token endpoint too, spending its single-use jti
    /// (without it, a given assertion gets the local checks only).
    #[arg(
        long,
        env = "JWTGRANT_SPEND_ASSERTION",
        requires = "assertion",
        conflicts_with = "no_exchange"
    )]
    pub spend_assertion: bool,
}
