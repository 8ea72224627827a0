//! The command line, as clap derive types. Parsing only: no I/O happens here.
//!
//! Every option that takes a value also reads `JWTGRANT_<NAME>` from the environment,
//! except secrets, which never pass through argv or clap (see `secrets.rs`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::parse;

mod exclusive;
mod keycloak;

pub use exclusive::resolve_exclusive;
pub use keycloak::{AdminArgs, DoctorArgs, KeycloakCmd, SetupArgs, SetupClientAuth};

/// The help heading of the options every command has.
const GLOBAL: &str = "Global options";
/// The help heading of the PKCS#11 options (global: any key may be a `pkcs11:` URI).
const PKCS11: &str = "PKCS#11 keys";

const TOP_AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  other failure (a file, a key, a local check)
  2  usage error (a bad or missing option)
  3  the server rejected the grant or the client (invalid_grant, invalid_client, ...),
     or `keycloak doctor` found a check that fails
  4  the server could not be reached or answered nonsense

Secrets (client secret, admin password) are never taken as flag values: use a file,
an environment variable or stdin. Nothing secret is printed on stderr, even with -vv.

Examples:
  jwtgrant keygen --out-dir keys
  jwtgrant sign --key keys/private.pem --iss http://localhost:3000 --sub nodejsuser-1234 \\
      --keycloak http://localhost:8080 --realm acme
  JWTGRANT_CLIENT_SECRET=... jwtgrant token --key keys/private.pem --iss http://localhost:3000 \\
      --sub nodejsuser-1234 --keycloak http://localhost:8080 --realm acme --client-id custom-client";

/// Turn a locally signed JWT into a Keycloak access token (RFC 7523 JWT Authorization Grant).
#[derive(Debug, Parser)]
#[command(name = "jwtgrant", version, about, after_help = TOP_AFTER_HELP)]
#[command(propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Log to stderr: -v shows endpoints, claims, timings and retries; -vv more detail.
    /// Secrets are never logged.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    pub verbose: u8,

    /// Accept key and secret files that group or others can read, or that another user owns
    /// (refused by default, as ssh does).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub allow_insecure_key_permissions: bool,

    /// PKCS#11 module (.so) for `pkcs11:` key URIs that have no module-path attribute.
    #[arg(
        long,
        env = "JWTGRANT_PKCS11_MODULE",
        value_name = "FILE",
        global = true,
        help_heading = PKCS11
    )]
    pub pkcs11_module: Option<PathBuf>,

    /// File holding the token PIN for `pkcs11:` key URIs (first line; `-` reads stdin).
    /// Else the URI's pin-source=file:PATH, else the JWTGRANT_PKCS11_PIN environment variable.
    #[arg(
        long,
        env = "JWTGRANT_PKCS11_PIN_FILE",
        value_name = "FILE",
        global = true,
        help_heading = PKCS11
    )]
    pub pkcs11_pin_file: Option<PathBuf>,

    /// Take option defaults from this profile of the config file (flags and JWTGRANT_*
    /// variables still win).
    #[arg(long, env = "JWTGRANT_PROFILE", value_name = "NAME", global = true, help_heading = GLOBAL)]
    pub profile: Option<String>,

    /// The config file with the profiles (default $XDG_CONFIG_HOME/jwtgrant/config.toml).
    #[arg(long, env = "JWTGRANT_CONFIG", value_name = "FILE", global = true, help_heading = GLOBAL)]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a key pair: private.pem (PKCS#8, mode 0600) and public.pem (SPKI).
    #[command(after_help = "\
Examples:
  jwtgrant keygen                          # RS256, 2048 bits, into the current directory
  jwtgrant keygen --alg ES256 --out-dir keys
  jwtgrant keygen --bits 4096 --force      # replace an existing pair")]
    Keygen(KeygenArgs),

    /// Sign an assertion (a JWT for the JWT Authorization Grant) and print it.
    #[command(after_help = "\
Examples:
  jwtgrant sign --key private.pem --iss http://localhost:3000 --sub nodejsuser-1234 \\
      --keycloak http://localhost:8080 --realm acme
  jwtgrant sign --key private.pem --iss https://issuer.example --sub alice \\
      --aud https://sso.example/realms/acme --lifetime 2m --kid-thumbprint \\
      --claim tenant=acme --claim 'roles=[\"a\",\"b\"]'")]
    Sign(SignCmd),

    /// Exchange an assertion for an access token and print the token.
    #[command(after_help = "\
Examples:
  jwtgrant sign ... | jwtgrant exchange --assertion - --keycloak http://localhost:8080 \\
      --realm acme --client-id custom-client --client-secret-file client-secret
  jwtgrant exchange --assertion \"$JWT\" --issuer-url https://sso.example/realms/acme \\
      --client-id custom-client --client-secret-stdin --json < secret.txt")]
    Exchange(Box<ExchangeCmd>),

    /// Sign an assertion and exchange it in one step (retries transient failures with a fresh assertion).
    #[command(after_help = "\
Examples:
  export JWTGRANT_CLIENT_SECRET=...   # or --client-secret-file FILE, or --client-secret-stdin
  jwtgrant token --key private.pem --iss http://localhost:3000 --sub nodejsuser-1234 \\
      --keycloak http://localhost:8080 --realm acme --client-id custom-client
  jwtgrant token ... --json --decode | jq .access_token_claims")]
    Token(Box<TokenCmd>),

    /// Run a command with a fresh access token in its environment (never in argv).
    #[command(after_help = "\
jwtgrant replaces itself with CMD (exec), so CMD gets stdin, stdout, stderr and signals
directly, and its exit status is the command's. The token is in ACCESS_TOKEN (or --env-var
NAME), its type in ACCESS_TOKEN_TYPE (Bearer or DPoP).

Examples:
  jwtgrant exec --key private.pem --iss http://localhost:3000 --sub nodejsuser-1234 \\
      --keycloak http://localhost:8080 --realm acme --client-id custom-client \\
      --client-secret-file custom-client.secret -- ./deploy.sh
  jwtgrant exec ... --env-var TOKEN -- sh -c 'curl -H \"Authorization: Bearer $TOKEN\" URL'")]
    Exec(Box<ExecCmd>),

    /// Keep a fresh token in files, for a sidecar or a systemd unit (runs until SIGTERM).
    #[command(after_help = "\
Each new token is written to every --sink (a temporary file renamed into place, mode 0600)
--refresh-margin before the previous one expires; an expired token is never written.
During an outage the current token stays while it is valid and the refresh is retried with
backoff; once it has expired, the sinks are removed (so a reader fails clearly rather than
with a stale token) and written again with the next token. Each refresh is logged on stderr,
never the token. SIGHUP re-reads the profile and the key; SIGTERM or SIGINT exits 0. A
rejection of the very first request (a wrong client, say) exits 3.

Examples:
  jwtgrant agent --profile prod --sink /run/jwtgrant/token
  jwtgrant agent --key private.pem --iss http://localhost:3000 --sub svc-1 \\
      --keycloak http://localhost:8080 --realm acme --client-id custom-client \\
      --client-secret-file custom-client.secret --sink /run/app/token --sink /run/other/token")]
    Agent(Box<AgentCmd>),

    /// Print the public key (SPKI PEM) of a private key.
    #[command(after_help = "\
Examples:
  jwtgrant pubkey --key private.pem > public.pem")]
    Pubkey(PubkeyArgs),

    /// Print the JWKS of keys' public parts, or serve it over HTTP (`jwks serve`).
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "\
Examples:
  jwtgrant jwks --key private.pem                    # kid = RFC 7638 thumbprint
  jwtgrant jwks --key old.pem --key new.pem --kid k1 --kid k2
  jwtgrant jwks serve --key public.pem --addr 127.0.0.1:3000"
    )]
    Jwks(JwksCmd),

    /// Show an assertion's header and claims, warn about what Keycloak will reject, check the signature.
    #[command(after_help = "\
Examples:
  jwtgrant sign ... | jwtgrant inspect
  jwtgrant inspect \"$JWT\" --key public.pem
  jwtgrant inspect - --jwks jwks.json < assertion.jwt")]
    Inspect(InspectArgs),

    /// Configure Keycloak (setup) or diagnose why it rejects an assertion (doctor).
    #[command(subcommand)]
    Keycloak(KeycloakCmd),

    /// DPoP (RFC 9449): make the proof a resource call with a DPoP-bound token needs.
    #[command(subcommand)]
    Dpop(DpopCmd),

    /// Profiles: show what a profile resolves to.
    #[command(subcommand)]
    Config(ConfigCmd),

    /// The cross-process token cache (`token --cache`): list or clear its entries.
    #[command(subcommand)]
    Cache(CacheCmd),

    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  jwtgrant completions bash > /etc/bash_completion.d/jwtgrant
  jwtgrant completions zsh > \"${fpath[1]}/_jwtgrant\"
  jwtgrant completions fish > ~/.config/fish/completions/jwtgrant.fish")]
    Completions(CompletionsArgs),
}

impl Command {
    /// The one token request of `token`, `exec` and `agent` (the commands that sign and
    /// exchange their own assertion), for the checks they share.
    pub fn token_request(&self) -> Option<&TokenRequest> {
        match self {
            Command::Token(c) => Some(&c.request),
            Command::Exec(c) => Some(&c.request),
            Command::Agent(c) => Some(&c.request),
            _ => None,
        }
    }

    /// [`Command::token_request`], to change.
    pub fn token_request_mut(&mut self) -> Option<&mut TokenRequest> {
        match self {
            Command::Token(c) => Some(&mut c.request),
            Command::Exec(c) => Some(&mut c.request),
            Command::Agent(c) => Some(&mut c.request),
            _ => None,
        }
    }
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Algorithm the key is for: RS256 | PS256 | ES256 | ES384 | EdDSA.
    #[arg(long, env = "JWTGRANT_ALG", default_value = "RS256", value_parser = parse::algorithm)]
    pub alg: crate::parse::Alg,

    /// RSA modulus size: 2048 (default), 3072 or 4096. RS*/PS* only: EC and Ed25519 keys
    /// have a fixed size, and --bits with them is an error.
    #[arg(long, env = "JWTGRANT_BITS", value_parser = parse::bits)]
    pub bits: Option<u32>,

    /// Directory to write private.pem and public.pem into (created if missing).
    #[arg(
        long,
        env = "JWTGRANT_OUT_DIR",
        value_name = "DIR",
        default_value = "."
    )]
    pub out_dir: PathBuf,

    /// Replace existing files (without it, existing files are never touched, even one
    /// created at the same moment).
    #[arg(long)]
    pub force: bool,

    /// Generate the key pair inside a PKCS#11 token instead (non-extractable, sensitive):
    /// a `pkcs11:` URI with token= and object= (the new key's label). Prints the public key
    /// PEM and the key's URI; writes no files. RS256/PS256 (RSA), ES256 or ES384.
    #[arg(long, value_name = "URI")]
    pub pkcs11: Option<String>,
}

/// How to reach Keycloak: base URL and realm. Shared by sign, exchange, token and keycloak *.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Keycloak")]
pub struct KeycloakArgs {
    /// Keycloak base URL, e.g. http://localhost:8080 (with --realm: audience and token endpoint).
    #[arg(long, env = "JWTGRANT_KEYCLOAK", value_name = "URL", value_parser = parse::http_url)]
    pub keycloak: Option<String>,

    /// Keycloak realm name (with --keycloak).
    #[arg(long, env = "JWTGRANT_REALM", value_name = "REALM")]
    pub realm: Option<String>,
}

/// What goes into the assertion.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Assertion")]
pub struct SignArgs {
    /// Private key file (PEM or DER: PKCS#8, PKCS#1 or SEC1); must not be readable by group or
    /// others. Or a key in an HSM: 'pkcs11:token=...;object=...' (RFC 7512, feature pkcs11).
    #[arg(long, env = "JWTGRANT_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Issuer (`iss`): must equal the Keycloak identity provider's issuer exactly.
    #[arg(long, env = "JWTGRANT_ISS", value_name = "URL")]
    pub iss: Option<String>,

    /// Subject (`sub`): the user id linked to the identity provider in Keycloak.
    #[arg(long, env = "JWTGRANT_SUB", value_name = "SUB")]
    pub sub: Option<String>,

    /// Audience (`aud`); defaults to KEYCLOAK/realms/REALM when --keycloak and --realm are given.
    #[arg(long, env = "JWTGRANT_AUD", value_name = "AUD")]
    pub aud: Option<String>,

    /// Signature algorithm (default: RS256 for RSA keys, ES256/ES384 for EC keys, EdDSA for Ed25519).
    #[arg(long, env = "JWTGRANT_ALG", value_name = "ALG", value_parser = parse::algorithm)]
    pub alg: Option<crate::parse::Alg>,

    /// Key id (`kid` header).
    #[arg(long, env = "JWTGRANT_KID", value_name = "ID")]
    pub kid: Option<String>,

    /// Set `kid` to the key's RFC 7638 thumbprint (what `jwtgrant jwks` publishes).
    #[arg(long, env = "JWTGRANT_KID_THUMBPRINT")]
    pub kid_thumbprint: bool,

    /// Assertion lifetime (exp - iat): 60s, 5m, 90 (seconds). Keycloak limits how old the
    /// assertion may be (iat), not how far ahead exp is: see `jwtgrant inspect`.
    #[arg(long, env = "JWTGRANT_LIFETIME", value_name = "DURATION", default_value = "60s",
          value_parser = parse::duration)]
    pub lifetime: Duration,

    /// Add `nbf` (not before) = now.
    #[arg(long, env = "JWTGRANT_NBF")]
    pub nbf: bool,

    /// Extra claim NAME=VALUE (repeatable); VALUE is JSON if it parses as JSON, else a string.
    #[arg(long = "claim", env = "JWTGRANT_CLAIM", value_name = "NAME=VALUE", value_parser = parse::claim)]
    pub claims: Vec<(String, serde_json::Value)>,

    /// JSON object file of extra claims (applied before --claim).
    #[arg(long, env = "JWTGRANT_CLAIMS_JSON", value_name = "FILE")]
    pub claims_json: Option<PathBuf>,

    /// Sign an ID-JAG (Identity Assertion JWT Authorization Grant): header typ
    /// oauth-id-jag+jwt and a client_id claim (--id-jag-client-id, else --client-id).
    /// Keycloak 26.7+ needs the experimental feature identity-assertion-jwt.
    #[arg(long, env = "JWTGRANT_ID_JAG")]
    pub id_jag: bool,

    /// The ID-JAG's client_id claim: the client that will exchange it (default: --client-id).
    #[arg(
        long,
        env = "JWTGRANT_ID_JAG_CLIENT_ID",
        value_name = "ID",
        requires = "id_jag"
    )]
    pub id_jag_client_id: Option<String>,
}

/// DPoP (RFC 9449) for the token request: the token gets bound to this key.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "DPoP")]
pub struct DpopArgs {
    /// Private key (PEM or DER, mode 0600) to sign a DPoP proof with on every token request:
    /// the token is then bound to it (token_type DPoP) and every use needs a proof from it
    /// (`jwtgrant dpop proof`). EC P-256 (ES256) is the usual choice; RSA and Ed25519 work too.
    #[arg(long, env = "JWTGRANT_DPOP_KEY", value_name = "FILE")]
    pub dpop_key: Option<PathBuf>,

    /// Algorithm of the DPoP proofs (default: the key's, e.g. ES256; PS256 for an RSA key).
    #[arg(long, env = "JWTGRANT_DPOP_ALG", value_name = "ALG", value_parser = parse::algorithm,
          requires = "dpop_key")]
    pub dpop_alg: Option<crate::parse::Alg>,
}

#[derive(Debug, Subcommand)]
pub enum DpopCmd {
    /// Print a fresh DPoP proof for one HTTP request (with ath when given the access token).
    #[command(after_help = "\
The access token comes from --access-token-file, --access-token-stdin or the environment
variable JWTGRANT_ACCESS_TOKEN (never a flag value). Each call prints a new proof: a proof is
single-use.

Examples:
  TOKEN=$(jwtgrant token ... --dpop-key dpop.pem)
  JWTGRANT_ACCESS_TOKEN=$TOKEN jwtgrant dpop proof --key dpop.pem --method GET \\
      --url http://localhost:8080/realms/acme/protocol/openid-connect/userinfo
  curl -H \"Authorization: DPoP $TOKEN\" -H \"DPoP: $(JWTGRANT_ACCESS_TOKEN=$TOKEN jwtgrant dpop proof ...)\" URL")]
    Proof(DpopProofArgs),
}

#[derive(Debug, Args)]
pub struct DpopProofArgs {
    /// The DPoP private key (the one the token is bound to).
    #[arg(long, env = "JWTGRANT_DPOP_KEY", value_name = "FILE")]
    pub key: PathBuf,

    /// Algorithm (default: the key's).
    #[arg(long, env = "JWTGRANT_DPOP_ALG", value_name = "ALG", value_parser = parse::algorithm)]
    pub alg: Option<crate::parse::Alg>,

    /// The request's HTTP method (htm).
    #[arg(long, env = "JWTGRANT_DPOP_METHOD", default_value = "GET", value_name = "METHOD",
          value_parser = parse::http_method)]
    pub method: String,

    /// The request's URL (htu; query and fragment are left out).
    #[arg(long, env = "JWTGRANT_DPOP_URL", value_name = "URL")]
    pub url: String,

    /// File holding the access token the request carries (adds ath).
    #[arg(long, env = "JWTGRANT_ACCESS_TOKEN_FILE", value_name = "FILE")]
    pub access_token_file: Option<PathBuf>,

    /// Read the access token from the first line of stdin.
    #[arg(long, env = "JWTGRANT_ACCESS_TOKEN_STDIN")]
    pub access_token_stdin: bool,

    /// Not accepted: a token in argv is visible to every user through `ps`.
    #[arg(long, hide = true, num_args = 0..=1, value_name = "TOKEN")]
    pub access_token: Option<Option<String>>,

    /// Nonce the server sent in DPoP-Nonce.
    #[arg(long, env = "JWTGRANT_DPOP_NONCE", value_name = "NONCE")]
    pub nonce: Option<String>,
}

#[derive(Debug, Args)]
pub struct SignCmd {
    #[command(flatten)]
    pub sign: SignArgs,
    #[command(flatten)]
    pub keycloak: KeycloakArgs,
}

/// Where the token endpoint is. Precedence: --token-endpoint, then --issuer-url, then --keycloak/--realm.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Token endpoint")]
pub struct EndpointArgs {
    /// Token endpoint URL.
    #[arg(long, env = "JWTGRANT_TOKEN_ENDPOINT", value_name = "URL", value_parser = parse::http_url)]
    pub token_endpoint: Option<String>,

    /// Issuer URL to discover the token endpoint from (URL/.well-known/openid-configuration).
    #[arg(long, env = "JWTGRANT_ISSUER_URL", value_name = "URL", value_parser = parse::http_url)]
    pub issuer_url: Option<String>,

    #[command(flatten)]
    pub transport: TransportArgs,
}

/// How every request reaches Keycloak: token endpoint, discovery, JWKS and admin API alike.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Transport")]
pub struct TransportArgs {
    /// PEM file of CA certificates to trust, in addition to the built-in roots (a Keycloak
    /// behind a company CA).
    #[arg(long, env = "JWTGRANT_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// Trust only the --ca-file certificates, not the built-in public roots: a server
    /// whose certificate a public CA issued is then refused.
    #[arg(long, env = "JWTGRANT_CA_FILE_ONLY", requires = "ca_file")]
    pub ca_file_only: bool,

    /// Time limit: 10s, 1m, 30 (seconds). For `token`/`exchange` it bounds the token request,
    /// every retry and wait included (OpenID discovery before it, with --issuer-url, gets its
    /// own); admin API requests get at least 30s each. At most 1h.
    #[arg(long, env = "JWTGRANT_TIMEOUT", value_name = "DURATION", default_value = "10s",
          value_parser = parse::timeout)]
    pub timeout: Duration,

    /// Allow plain http to a host that is not loopback (secrets, passwords and tokens travel in clear).
    #[arg(long)]
    pub allow_insecure_http: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientAuth {
    /// client_id and client_secret in the form body (client_secret_post).
    Post,
    /// HTTP Basic authentication (client_secret_basic).
    Basic,
    /// A client assertion signed with --client-key (private_key_jwt).
    PrivateKeyJwt,
    /// Mutual TLS: the certificate from --client-cert (key in --client-key) authenticates;
    /// no secret (tls_client_auth, RFC 8705).
    Tls,
    /// Only client_id (Keycloak refuses public clients for this grant; for other servers).
    None,
    /// No client secret: a client assertion another issuer vouches for (RFC 7523 section
    /// 2.2; Keycloak's federated-jwt clients). Signed for every attempt with
    /// --client-assertion-key (default: --key) as --client-assertion-issuer (default: --iss),
    /// or read from --client-assertion-file for every attempt.
    Federated,
}

/// How the client authenticates itself to the token endpoint.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Client authentication")]
pub struct ClientArgs {
    /// Client id of the confidential Keycloak client.
    #[arg(long, env = "JWTGRANT_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,

    /// File holding the client secret (trailing newline ignored).
    /// Alternatives: env JWTGRANT_CLIENT_SECRET, or --client-secret-stdin.
    #[arg(long, env = "JWTGRANT_CLIENT_SECRET_FILE", value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,

    /// Read the client secret from the first line of stdin.
    #[arg(long, env = "JWTGRANT_CLIENT_SECRET_STDIN")]
    pub client_secret_stdin: bool,

    /// Not accepted: a secret in argv is visible to every user through `ps` and in shell history.
    #[arg(long, hide = true, num_args = 0..=1, value_name = "SECRET")]
    pub client_secret: Option<Option<String>>,

    /// Client authentication method.
    #[arg(long, env = "JWTGRANT_CLIENT_AUTH", value_enum, default_value_t = ClientAuth::Post)]
    pub client_auth: ClientAuth,

    /// The client's private key (PEM, mode 0600): signs the client assertion for
    /// --client-auth private-key-jwt, and is the key of --client-cert.
    #[arg(long, env = "JWTGRANT_CLIENT_KEY", value_name = "FILE")]
    pub client_key: Option<PathBuf>,

    /// Client certificate chain (PEM, the client's certificate first) presented in every TLS
    /// handshake: mutual TLS for --client-auth tls and certificate-bound tokens (RFC 8705).
    /// Its key is --client-key.
    #[arg(
        long,
        env = "JWTGRANT_CLIENT_CERT",
        value_name = "FILE",
        requires = "client_key"
    )]
    pub client_cert: Option<PathBuf>,

    /// --client-auth federated: the private key (PEM, mode 0600) that signs the client
    /// assertion (default: --key, the grant's own key).
    #[arg(long, env = "JWTGRANT_CLIENT_ASSERTION_KEY", value_name = "FILE")]
    pub client_assertion_key: Option<PathBuf>,

    /// --client-auth federated: read the client assertion from this file for every attempt
    /// (a token another system writes and rotates: a Kubernetes projected service-account
    /// token, a SPIFFE JWT-SVID). Instead of signing one.
    #[arg(
        long,
        env = "JWTGRANT_CLIENT_ASSERTION_FILE",
        value_name = "FILE",
        conflicts_with = "client_assertion_key"
    )]
    pub client_assertion_file: Option<PathBuf>,

    /// --client-auth federated: the client assertion's `iss`, the issuer of the identity
    /// provider that vouches for the client (default: --iss). Its `sub` is --client-id.
    #[arg(long, env = "JWTGRANT_CLIENT_ASSERTION_ISSUER", value_name = "URL")]
    pub client_assertion_issuer: Option<String>,

    /// --client-auth federated: the client assertion's `aud` (default: KEYCLOAK/realms/REALM
    /// from --keycloak and --realm, else --issuer-url; Keycloak refuses its token endpoint
    /// URL here).
    #[arg(long, env = "JWTGRANT_CLIENT_ASSERTION_AUDIENCE", value_name = "AUD")]
    pub client_assertion_audience: Option<String>,

    /// Scope to request (space separated), e.g. "openid profile".
    #[arg(long, env = "JWTGRANT_SCOPE", value_name = "SCOPE")]
    pub scope: Option<String>,
}

/// What `token` and `exchange` print on success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// The bare access token and a newline.
    Token,
    /// The whole token response as one JSON object (as --json).
    Json,
    /// `Authorization: <type> <token>`, for `curl -H @-`.
    Header,
    /// `export NAME=<token>` (and its type and expiry) for `eval`; NAME from --env-var.
    Env,
    /// A kubectl ExecCredential (client.authentication.k8s.io/v1, or v1beta1 when
    /// KUBERNETES_EXEC_INFO asks for it) for a kubeconfig `exec` credential plugin.
    ExecCredential,
}

#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Print the whole token response as one JSON object instead of the bare access token
    /// (on failure: one error object, see docs/cli.md). Same as --output json.
    #[arg(long, env = "JWTGRANT_JSON", conflicts_with = "output")]
    pub json: bool,

    /// What to print: token (default), json, header, env or exec-credential.
    #[arg(long, env = "JWTGRANT_OUTPUT", value_enum, value_name = "FORMAT")]
    pub output: Option<Output>,

    /// The variable --output env exports (default ACCESS_TOKEN).
    #[arg(long, env = "JWTGRANT_ENV_VAR", value_name = "NAME", default_value = "ACCESS_TOKEN",
          value_parser = parse::env_var_name)]
    pub env_var: String,

    /// Decode the access token: header and claims to stderr, or inside the object with --json.
    #[arg(long, env = "JWTGRANT_DECODE")]
    pub decode: bool,
}

#[derive(Debug, Args)]
pub struct ExchangeCmd {
    /// The assertion, or - to read it from stdin.
    #[arg(
        long,
        env = "JWTGRANT_ASSERTION",
        hide_env_values = true,
        value_name = "JWT|-"
    )]
    pub assertion: String,
    #[command(flatten)]
    pub keycloak: KeycloakArgs,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub dpop: DpopArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// What `token` and `exec` ask the token endpoint for.
#[derive(Debug, Args)]
pub struct TokenCmd {
    #[command(flatten)]
    pub request: TokenRequest,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `jwtgrant exec`: a token for a child process, in its environment.
#[derive(Debug, Args)]
pub struct ExecCmd {
    #[command(flatten)]
    pub request: TokenRequest,

    /// The variable the token is put in (its type goes in NAME_TYPE).
    #[arg(long, env = "JWTGRANT_ENV_VAR", value_name = "NAME", default_value = "ACCESS_TOKEN",
          value_parser = parse::env_var_name)]
    pub env_var: String,

    /// The command to run, and its arguments (after --).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

/// `jwtgrant agent`: tokens kept fresh in files.
#[derive(Debug, Args)]
pub struct AgentCmd {
    #[command(flatten)]
    pub request: TokenRequest,

    /// A file to keep the current token in (repeatable): the bare token and a newline,
    /// mode 0600.
    #[arg(
        long = "sink",
        env = "JWTGRANT_SINK",
        value_name = "FILE",
        required = true
    )]
    pub sinks: Vec<PathBuf>,

    /// Write the next token this long before the current one expires (at most half the
    /// token's lifetime).
    #[arg(long, env = "JWTGRANT_REFRESH_MARGIN", value_name = "DURATION", default_value = "60s",
          value_parser = parse::duration)]
    pub refresh_margin: Duration,
}

/// A signed assertion, the token endpoint and the client: one token request.
#[derive(Debug, Args)]
pub struct TokenRequest {
    #[command(flatten)]
    pub sign: SignArgs,
    #[command(flatten)]
    pub keycloak: KeycloakArgs,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub dpop: DpopArgs,

    /// Retries after a transient failure (connection refused or reset, timeouts, HTTP 429,
    /// 502, 503, 504), each with a freshly signed assertion (at most 9; all within --timeout).
    #[arg(long, env = "JWTGRANT_RETRIES", value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(0..=9))]
    pub retries: u32,

    #[command(flatten)]
    pub cache: CacheArgs,
}

/// The cross-process token cache of `token` and `exec`.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Cache")]
pub struct CacheArgs {
    /// Keep the token in the cache shared by every jwtgrant process of this user and serve
    /// it while it has more than --min-ttl left: parallel and repeated runs make one grant
    /// per token lifetime.
    #[arg(long, env = "JWTGRANT_CACHE")]
    pub cache: bool,

    /// Do not use the cache, even when --cache, a profile or JWTGRANT_CACHE turns it on.
    #[arg(long, env = "JWTGRANT_NO_CACHE")]
    pub no_cache: bool,

    /// Serve a cached token only while it has more than this left: 60s, 2m.
    #[arg(long, env = "JWTGRANT_MIN_TTL", value_name = "DURATION", default_value = "60s",
          value_parser = parse::duration)]
    pub min_ttl: Duration,

    /// The cache directory (default $XDG_CACHE_HOME/jwtgrant, else ~/.cache/jwtgrant;
    /// mode 0700, owned by you).
    #[arg(long, env = "JWTGRANT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CacheCmd {
    /// List the cached tokens: profile, subject, issuer, endpoint, expiry (never the token).
    List(CacheDirArgs),
    /// Remove the expired entries, or every entry with --all.
    Clear(CacheClearArgs),
}

#[derive(Debug, Args)]
pub struct CacheDirArgs {
    /// The cache directory (default $XDG_CACHE_HOME/jwtgrant, else ~/.cache/jwtgrant).
    #[arg(long, env = "JWTGRANT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CacheClearArgs {
    #[command(flatten)]
    pub dir: CacheDirArgs,

    /// Remove every entry, not only the expired ones.
    #[arg(long, env = "JWTGRANT_CLEAR_ALL")]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct PubkeyArgs {
    /// Private key file.
    #[arg(long, env = "JWTGRANT_KEY", value_name = "FILE")]
    pub key: PathBuf,
}

#[derive(Debug, Args)]
pub struct JwksKeys {
    /// Key file, private or public PEM (repeatable); only public parts are published.
    #[arg(long = "key", env = "JWTGRANT_KEY", value_name = "FILE")]
    pub keys: Vec<PathBuf>,

    /// Key id for the key at the same position (default: its RFC 7638 thumbprint).
    #[arg(long = "kid", env = "JWTGRANT_KID", value_name = "ID")]
    pub kids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct JwksCmd {
    #[command(flatten)]
    pub keys: JwksKeys,
    #[command(subcommand)]
    pub serve: Option<JwksSub>,
}

#[derive(Debug, Subcommand)]
pub enum JwksSub {
    /// Serve the JWKS at /.well-known/jwks.json and /jwks; reload keys on SIGHUP or file change.
    #[command(after_help = "\
The key files are re-read when their modification time changes (checked every second) and
on SIGHUP, so keys rotate without a restart; if a reload fails the previous keys stay served.
Point the Keycloak identity provider at it with useJwksUrl=true and jwksUrl=http://HOST:PORT/jwks.
With --tls-cert and --tls-key it serves HTTPS only (jwksUrl=https://HOST:PORT/jwks); Keycloak must
trust the certificate's CA, e.g. 'kc.sh start --truststore-paths ca.pem'. The certificate is read
at start: restart to replace it.

Examples:
  jwtgrant jwks serve --key public.pem
  jwtgrant jwks serve --key current.pem --key next.pem --addr 0.0.0.0:3000
  jwtgrant jwks serve --key public.pem --tls-cert jwks.crt --tls-key jwks.key")]
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub keys: JwksKeys,

    /// Address to listen on (port 0 picks a free port; the URL is printed on stderr).
    #[arg(
        long,
        env = "JWTGRANT_ADDR",
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:3000"
    )]
    pub addr: String,

    /// Serve HTTPS only, with this certificate chain (PEM, the server's certificate first;
    /// its names must include the host in the JWKS URL). Its key is --tls-key.
    #[arg(
        long,
        env = "JWTGRANT_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// Private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1; mode 0600).
    #[arg(
        long,
        env = "JWTGRANT_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The JWT, or - (the default) to read it from stdin.
    #[arg(value_name = "JWT|-", default_value = "-")]
    pub token: String,

    /// Check the signature with this key (public or private PEM).
    #[arg(long, env = "JWTGRANT_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Check the signature with a key from this JWKS file (chosen by `kid`).
    #[arg(long, env = "JWTGRANT_JWKS", value_name = "FILE")]
    pub jwks: Option<PathBuf>,

    /// Exit 1 when there is any warning (for CI: an assertion Keycloak would refuse fails
    /// the build).
    #[arg(long, env = "JWTGRANT_STRICT")]
    pub strict: bool,

    /// Print the report as one JSON object: header, claims, times, warnings, signature.
    #[arg(long, env = "JWTGRANT_JSON")]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print the options `token` would run with (from flags, JWTGRANT_* variables, the
    /// profile and the defaults) and where each came from; secrets redacted.
    #[command(after_help = "\
Examples:
  jwtgrant config show --profile dev
  JWTGRANT_REALM=other jwtgrant config show --profile dev --config ./config.toml")]
    Show,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to generate the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Options without a `JWTGRANT_*` variable, on purpose; docs/cli.md says why for each.
    const NO_VARIABLE: &[&str] = &[
        "--verbose",
        "--allow-insecure-key-permissions",
        "--allow-insecure-http",
        "--force",
        "--no-bound-tokens",
        "--no-require-dpop",
        "--json-include-secret",
        "--pkcs11",
    ];

    /// Every option of every command, as `(command path, --long, env)`; positionals,
    /// help, version and the hidden refusals of secrets in argv left out.
    fn options() -> Vec<(String, String, Option<String>)> {
        fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String, Option<String>)>) {
            let path = format!("{path} {}", cmd.get_name());
            for arg in cmd.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if arg.is_hide_set() || ["help", "version"].contains(&long) {
                    continue;
                }
                let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                out.push((path.trim().to_owned(), format!("--{long}"), env));
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &path, out);
            }
        }
        let mut out = Vec::new();
        walk(&Cli::command(), "", &mut out);
        out
    }

    #[test]
    fn every_option_has_its_variable_or_a_documented_reason() {
        let options = options();
        assert!(options.len() > 100, "{}", options.len());
        let missing: Vec<String> = options
            .iter()
            .filter(|(_, long, env)| env.is_none() && !NO_VARIABLE.contains(&long.as_str()))
            .map(|(cmd, long, _)| format!("{cmd} {long}"))
            .collect();
        assert_eq!(missing, Vec::<String>::new(), "options without JWTGRANT_*");
        let odd: Vec<String> = options
            .iter()
            .filter_map(|(cmd, long, env)| {
                let env = env.as_deref()?;
                (!env.starts_with("JWTGRANT_")).then(|| format!("{cmd} {long}: {env}"))
            })
            .collect();
        assert_eq!(odd, Vec::<String>::new(), "variables not named JWTGRANT_*");
        // Each exception is real, and docs/cli.md gives its reason.
        let docs = include_str!("../../../docs/cli.md");
        let section = docs
            .split("### Options without a variable")
            .nth(1)
            .expect("docs/cli.md has a section 'Options without a variable'");
        let section = section.split("\n#").next().unwrap_or_default();
        for flag in NO_VARIABLE {
            assert!(
                options
                    .iter()
                    .any(|(_, long, env)| long == flag && env.is_none()),
                "{flag} is listed but has a variable or does not exist"
            );
            assert!(
                section.contains(&format!("`{flag}`")),
                "docs/cli.md does not say why {flag} has no variable"
            );
        }
    }

    #[test]
    fn options_sit_under_help_headings() {
        let mut cmd = Cli::command();
        cmd.build();
        let help = cmd
            .find_subcommand_mut("token")
            .unwrap()
            .render_long_help()
            .to_string();
        for heading in [
            "Global options:",
            "PKCS#11 keys:",
            "Assertion:",
            "Keycloak:",
            "Token endpoint:",
            "Transport:",
            "Client authentication:",
            "DPoP:",
            "Output:",
        ] {
            assert!(help.contains(heading), "token --help lacks '{heading}'");
        }
        // The global options are not mixed into the command's own.
        let (own, _) = help.split_once("Assertion:").unwrap();
        assert!(!own.contains("--pkcs11-module"), "{own}");
    }

    #[test]
    fn setup_usage_names_the_providers_key() {
        let err = Cli::try_parse_from([
            "jwtgrant",
            "keycloak",
            "setup",
            "--keycloak",
            "http://localhost:8080",
            "--realm",
            "acme",
            "--issuer",
            "http://localhost:3000",
            "--client-id",
            "c",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("<--public-key <FILE>|--jwks-url <URL>>"),
            "{err}"
        );
    }
}
