//! `cargo xtask demo`: the seed article's walkthrough as one command, on a local Keycloak.
//!
//! 1. start (or reuse) Keycloak; 2. generate an RS256 key pair (no openssl);
//! 3. provision realm `acme` exactly like the seed: the JWT Authorization Grant identity
//!    provider `jwt-authorization-grant` with issuer `http://localhost:3000` and the public
//!    key, the confidential client `custom-client` allowed to use it, and a user linked with
//!    userId `nodejsuser-1234`; 4. sign the seed's assertion; 5. exchange it; 6. print the
//!    claims on both sides and a `jwtgrant token ...` line to do it again by hand.
//!
//! The server is left running so that line works; `cargo xtask keycloak stop` ends it.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use jwtgrant_keycloak::admin::{
    AdminSession, ClientAuthenticator, IdpKey, JwtClient, JwtIdp, UserSpec,
};
use jwtgrant_keycloak::realm_url as keycloak_realm_url;
use jwtgrant_signer::{Algorithm, Claims, Signer, decode_unverified};
use serde_json::Value;

use crate::keycloak::{self, StartOptions};
use crate::keygen;
use crate::util::root;

const REALM: &str = "acme";
const IDP_ALIAS: &str = "jwt-authorization-grant";
const ISSUER: &str = "http://localhost:3000";
const CLIENT_ID: &str = "custom-client";
const SUB: &str = "nodejsuser-1234";
const USERNAME: &str = "nodejsuser";

pub fn run(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("unexpected argument '{arg}' (usage: cargo xtask demo)");
    }
    step(1, "Keycloak");
    let server = keycloak::ensure_running(&StartOptions::default())?;
    println!("   ready at {}", server.url);

    step(2, "keys (RS256, 2048 bits, generated in Rust: no openssl)");
    let dir = root().join("target/demo");
    let private = dir.join("private.pem");
    if private.exists() {
        println!("   reusing {}", rel(&private));
    } else {
        keygen::write_keys(&dir, Algorithm::RS256, None, false)?;
        println!(
            "   wrote {} (0600) and {}",
            rel(&private),
            rel(&dir.join("public.pem"))
        );
    }
    let pem = fs::read(&private).with_context(|| format!("cannot read {}", private.display()))?;
    let signer = Signer::from_pem(&pem)
        .with_context(|| format!("cannot load private key '{}'", private.display()))?;

    step(
        3,
        &format!("provision realm '{REALM}' like the seed (steps 2-4 of the article)"),
    );
    let admin = AdminSession::password(&server.url, &server.admin_user, &server.admin_password)?;
    let outcomes = [
        admin.ensure_realm(REALM)?,
        admin.ensure_jwt_idp(
            REALM,
            &JwtIdp::new(
                IDP_ALIAS,
                ISSUER,
                IdpKey::Static {
                    public_key: signer.public_key_pem(),
                    key_id: None,
                },
            ),
        )?,
    ];
    for o in &outcomes {
        println!("   {o}");
    }
    let client = admin.ensure_client(
        REALM,
        &JwtClient::new(CLIENT_ID, ClientAuthenticator::Secret(None), [IDP_ALIAS]),
    )?;
    println!("   {}", client.outcome);
    let secret = client
        .secret
        .context("Keycloak returned no secret for the confidential client")?;
    let secret_file = dir.join("client-secret");
    keygen::write_private(&secret_file, secret.secret().as_bytes())?;
    println!("   client secret written to {} (0600)", rel(&secret_file));
    let user = admin.ensure_user(
        REALM,
        USERNAME,
        &UserSpec::new()
            .email("nodejsuser@example.com")
            .name("Node", "User"),
    )?;
    println!("   {}", user.outcome);
    println!(
        "   {}",
        admin.ensure_idp_link(REALM, &user.id, IDP_ALIAS, SUB, USERNAME)?
    );

    step(
        4,
        "sign the assertion (the seed's Node.js program, in Rust)",
    );
    let audience = keycloak_realm_url(&server.url, REALM);
    let assertion = signer.sign(&Claims::new(ISSUER, SUB, audience))?;
    let decoded = decode_unverified(&assertion)?;
    println!("   header: {}", decoded.header());
    println!("   claims: {}", pretty(decoded.claims()));

    step(
        5,
        "exchange it at the token endpoint (grant_type=jwt-bearer)",
    );
    let exchange = jwtgrant_keycloak::exchange(&server.url, REALM)?
        .client_secret_post(CLIENT_ID, secret.secret());
    println!("   POST {}", exchange.token_endpoint());
    let token = exchange.exchange(&assertion).map_err(|e| {
        let hint = e
            .hint()
            .map(|h| format!("\n   hint: {h}"))
            .unwrap_or_default();
        anyhow::anyhow!("{e}{hint}")
    })?;
    let access = decode_unverified(token.access_token.secret())?;
    let claims = access.claims();
    println!(
        "   got a {} access token, expires in {} s, no refresh token: {}",
        token.token_type,
        token.expires_in.unwrap_or_default(),
        token.refresh_token.is_none()
    );
    for name in ["iss", "azp", "preferred_username", "sub", "exp", "scope"] {
        if let Some(v) = claims.get(name) {
            println!("   {name:<19} {v}");
        }
    }

    step(6, "do it again by hand");
    println!(
        "   cargo install --path crates/jwtgrant-cli   # once\n   \
         jwtgrant token --key {key} --iss {ISSUER} --sub {SUB} \\\n     \
         --keycloak {url} --realm {REALM} \\\n     \
         --client-id {CLIENT_ID} --client-secret-file {sf} --decode",
        key = rel(&private),
        url = server.url,
        sf = rel(&secret_file),
    );
    println!("\nKeycloak keeps running for that; stop it with: cargo xtask keycloak stop");
    Ok(())
}

fn step(n: u32, what: &str) {
    println!("\n{n}. {what}");
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v)
        .unwrap_or_default()
        .replace('\n', "\n   ")
}

/// `path` relative to the workspace root, for copyable command lines.
fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}
